/** Memory and CPU of processes, from Linux /proc. */
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Resident memory (VmRSS) of a process and all its descendants, in MB (Linux /proc). A sandboxed
 * OpenCode server is `bwrap` → `bwrap` → `opencode`, so the process a supervisor knows is not the one
 * that holds the memory: the whole tree is summed (shared pages are counted once per process).
 */
export function treeRssMb(pid: number | undefined): number {
  if (!pid) return 0;
  let kb = 0;
  for (const p of [pid, ...descendantsOf(pid)]) kb += rssKb(p);
  return kb / 1024;
}

/** The processes below `pid`, from the parent ids in /proc/<n>/stat. */
export function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
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

function rssKb(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds (user + system) used so far by a process and its descendants: for each live one its
 * own time and that of its children it has waited for (the git commands OpenCode runs for its
 * snapshots, ...). A live child is counted once: in its parent's figures only once it is reaped.
 */
export function treeCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  let ticks = 0;
  for (const p of [pid, ...descendantsOf(pid)]) {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8');
      const rest = fields.slice(fields.lastIndexOf(')') + 2).split(' ');
      ticks += Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]); // utime, stime, cutime, cstime (fields 14-17)
    } catch {
      // exited meanwhile
    }
  }
  return ticks / 100; // clock ticks of 1/100 s
}

/**
 * CPU seconds of this process, including its children that have exited and been waited for (the
 * git commands it ran), from /proc/self/stat: utime + stime + cutime + cstime. A child still
 * running (the OpenCode server) is not in it.
 */
export function selfCpuWithChildrenSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14])) / 100;
}
