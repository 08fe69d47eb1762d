import { readdirSync, readFileSync } from 'node:fs';

/**
 * Resident memory (VmRSS) of a process and all its descendants, in MB, from Linux /proc; null
 * when it cannot be read (no /proc, the process gone). A sandboxed server is `bwrap` → `bwrap` →
 * `opencode`, so the supervised pid is not the one that holds the memory: the tree is summed.
 */
export function processTreeRssMb(pid: number | undefined): number | null {
  if (!pid) return null;
  const own = rssKb(pid);
  if (own === null) return null;
  let kb = own;
  for (const child of descendantsOf(pid)) kb += rssKb(child) ?? 0;
  return kb / 1024;
}

/** Every process below `pid` (children, their children, ...), from the parent ids in /proc. */
export function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
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
  const found: number[] = [];
  const pending = [...(children.get(pid) ?? [])];
  while (pending.length > 0) {
    const next = pending.pop()!;
    found.push(next);
    pending.push(...(children.get(next) ?? []));
  }
  return found;
}

function rssKb(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return null;
  }
}
