/** Memory and CPU of processes, from Linux /proc. */
import { readFileSync } from 'node:fs';
import { descendantsOf, processTreeRssMb } from '@app/opencode';

export { descendantsOf };

/** Resident memory (VmRSS) of a process and all its descendants, in MB; 0 when it cannot be read. */
export function treeRssMb(pid: number | undefined): number {
  return processTreeRssMb(pid) ?? 0;
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
