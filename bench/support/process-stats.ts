/** Memory and CPU of processes, from Linux /proc. */
import { readFileSync } from 'node:fs';
import { descendantsOf, ProcessTable, processTreeRssMb } from '@app/opencode';

/** Resident memory (VmRSS) of a process and all its descendants, in MB; 0 when it cannot be read. */
export function treeRssMb(pid: number | undefined, table?: ProcessTable): number {
  return processTreeRssMb(pid, table) ?? 0;
}

/**
 * CPU seconds (user + system) used so far by a process and its descendants: for each live one its
 * own time and that of its children it has waited for (the git commands OpenCode runs for its
 * snapshots, ...). A live child is counted once: in its parent's figures only once it is reaped.
 */
export function treeCpuSeconds(pid: number | undefined, table?: ProcessTable): number {
  if (!pid) return 0;
  let ticks = 0;
  for (const p of [pid, ...descendantsOf(pid, table)]) {
    try {
      ticks += cpuTicks(`/proc/${p}/stat`);
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
  return cpuTicks('/proc/self/stat') / 100;
}

/** utime + stime + cutime + cstime (fields 14-17) of a /proc/<pid>/stat file, in clock ticks of 1/100 s. */
function cpuTicks(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  // "pid (comm) state ...": comm may hold spaces and parentheses.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]);
}
