import { readdirSync, readFileSync } from 'node:fs';

/** OS processes, from Linux /proc and signals: whether one lives, what runs below it, its memory. */

/** Whether process `pid` exists (one of another user's, which cannot be signalled, counts). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Resident memory (VmRSS) of a process and all its descendants, in MB, from Linux /proc; null
 * when it cannot be read (no /proc, the process gone). A sandboxed server is `bwrap` → `bwrap` →
 * `opencode`, so the supervised pid is not the one that holds the memory: the tree is summed.
 */
export function processTreeRssMb(pid: number | undefined, table?: ProcessTable): number | null {
  if (!pid) return null;
  const own = rssKb(pid);
  if (own === null) return null;
  let kb = own;
  for (const child of descendantsOf(pid, table)) kb += rssKb(child) ?? 0;
  return kb / 1024;
}

/** The children of every process, by parent id: one read of /proc, for several trees. */
export type ProcessTable = ReadonlyMap<number, readonly number[]>;

/** Every process below `pid` (children, their children, ...), from the parent ids in /proc (or in `table`, read before). */
export function descendantsOf(pid: number, table: ProcessTable = processTable()): number[] {
  const found: number[] = [];
  const pending = [...(table.get(pid) ?? [])];
  while (pending.length > 0) {
    const next = pending.pop()!;
    found.push(next);
    pending.push(...(table.get(next) ?? []));
  }
  return found;
}

/** Every process's children, by parent id, from /proc; empty without /proc. */
export function processTable(): ProcessTable {
  const children = new Map<number, number[]>();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return children;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  return children;
}

function rssKb(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return null;
  }
}
