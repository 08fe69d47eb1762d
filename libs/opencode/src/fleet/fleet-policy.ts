/**
 * The fleet's decisions, as plain functions over what the probes saw: where a run goes, when a
 * managed server is recycled, and the latency figures a server is judged by.
 */

/** STARTING: launched, not answering yet. READY: takes runs. DRAINING: no new runs, its own finish. UNHEALTHY: not answering. STOPPED: gone. */
export type FleetServerState = 'STARTING' | 'READY' | 'DRAINING' | 'UNHEALTHY' | 'STOPPED';

export interface ServerLoad {
  id: string;
  /**
   * What a directory is tied to: the same for every generation of a managed slot (`m0`), so a
   * replacement inherits its predecessor's directories; an external server's id.
   */
  affinityKey?: string;
  state: FleetServerState;
  sessionsRunning: number;
  maxSessions: number;
  /** Median health latency of the recent probes; null before any. */
  latencyP50Ms: number | null;
}

/**
 * How far above the fleet's average load (as a share of its turns) a directory's own server may
 * go before the directory's runs spill over to its next server: consistent hashing with bounded
 * loads (Mirrokni, Thorup, Zadimoghaddam 2018), c = 1.25.
 */
export const AFFINITY_LOAD_BOUND = 1.25;
/**
 * A server whose recent health answers are this many times slower than the fastest open one's (and
 * above SLOW_FLOOR_MS) takes no directory's runs by affinity. The floor is high on purpose: a server
 * that is loading a directory answers its probes in hundreds of milliseconds for a few seconds, and
 * passing it over then would send the directory's next runs exactly where it is not loaded.
 */
const SLOW_FACTOR = 4;
const SLOW_FLOOR_MS = 1_000;

/**
 * Where a new run goes: a READY server with room. With a `directory`, the directory's own server
 * (rendezvous hashing of the directory over the servers' affinity keys) while its load stays
 * within AFFINITY_LOAD_BOUND of the fleet's average, else its next one, and so on: OpenCode pays
 * for a directory once per server (seconds of CPU to load it, 50-100 MB kept), so a directory's
 * runs stay on one server unless it is busier than its share. Without a directory, or when no
 * server qualifies (all past the bound, or slow), the one with the most headroom: the largest
 * share of its turns still free, then the fastest recent health answers, then the id (stable).
 * Null when every READY server is full, or none is READY.
 */
export function placeRun(servers: readonly ServerLoad[], directory?: string): string | null {
  const open = servers.filter((s) => s.state === 'READY' && s.sessionsRunning < s.maxSessions);
  if (open.length === 0) return null;
  const latency = (s: ServerLoad) => s.latencyP50Ms ?? Number.MAX_SAFE_INTEGER;
  if (directory !== undefined && open.length > 1) {
    const fastest = Math.min(...open.map(latency));
    const slow = (s: ServerLoad) => s.latencyP50Ms !== null && s.latencyP50Ms > SLOW_FLOOR_MS && s.latencyP50Ms > SLOW_FACTOR * fastest;
    const running = open.reduce((sum, s) => sum + s.sessionsRunning, 0);
    const capacity = open.reduce((sum, s) => sum + s.maxSessions, 0);
    // The runs a server may have, this one counted in: its share of the fleet's, times the bound, rounded up.
    const allowed = (s: ServerLoad) => Math.ceil((AFFINITY_LOAD_BOUND * (running + 1) * s.maxSessions) / capacity);
    const ranked = [...open].sort((a, b) => rendezvous(b, directory) - rendezvous(a, directory) || a.id.localeCompare(b.id));
    const own = ranked.find((s) => !slow(s) && s.sessionsRunning + 1 <= allowed(s));
    if (own) return own.id;
  }
  const headroom = (s: ServerLoad) => (s.maxSessions - s.sessionsRunning) / s.maxSessions;
  return [...open].sort((a, b) => headroom(b) - headroom(a) || latency(a) - latency(b) || a.id.localeCompare(b.id))[0].id;
}

/** The rendezvous (highest random weight) score of `server` for `directory`: FNV-1a of both, 32 bits. */
function rendezvous(server: ServerLoad, directory: string): number {
  const text = `${server.affinityKey ?? server.id}\u0000${directory}`;
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // A final avalanche (murmur3's fmix32): FNV's low bits alone spread similar paths poorly.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

export interface RecycleLimits {
  /** 0: no such limit. */
  afterSessions: number;
  maxRssMb: number;
  maxAgeMinutes: number;
}

export interface ServerWear {
  sessionsServed: number;
  /** Null when unknown (an external server's process is not ours to read). */
  rssMb: number | null;
  startedAt: Date;
}

/** Why a managed server should be drained and replaced now, or null while it is within every limit. */
export function recycleReason(wear: ServerWear, limits: RecycleLimits, now: Date): string | null {
  if (limits.afterSessions > 0 && wear.sessionsServed >= limits.afterSessions) {
    return `served ${wear.sessionsServed} sessions (OPENCODE_RECYCLE_AFTER_SESSIONS=${limits.afterSessions})`;
  }
  if (limits.maxRssMb > 0 && wear.rssMb !== null && wear.rssMb >= limits.maxRssMb) {
    return `resident memory ${Math.round(wear.rssMb)} MB (OPENCODE_MAX_RSS_MB=${limits.maxRssMb})`;
  }
  const minutes = (now.getTime() - wear.startedAt.getTime()) / 60_000;
  if (limits.maxAgeMinutes > 0 && minutes >= limits.maxAgeMinutes) {
    return `up ${Math.floor(minutes)} minutes (OPENCODE_MAX_AGE_MINUTES=${limits.maxAgeMinutes})`;
  }
  return null;
}

/** The kind of a recycle reason, for a metric label: sessions, rss, age, drain, unhealthy, exited. */
export function recycleKind(reason: string): 'sessions' | 'rss' | 'age' | 'drain' | 'unhealthy' | 'exited' {
  if (reason.startsWith('its process exited')) return 'exited';
  if (reason.includes('OPENCODE_RECYCLE_AFTER_SESSIONS')) return 'sessions';
  if (reason.includes('OPENCODE_MAX_RSS_MB')) return 'rss';
  if (reason.includes('OPENCODE_MAX_AGE_MINUTES')) return 'age';
  if (reason.startsWith('unhealthy')) return 'unhealthy';
  return 'drain';
}

/** The last `size` samples; percentiles by nearest rank. */
export class LatencyWindow {
  private readonly samples: number[] = [];

  constructor(private readonly size = 60) {}

  add(ms: number): void {
    this.samples.push(ms);
    if (this.samples.length > this.size) this.samples.shift();
  }

  percentile(p: number): number | null {
    if (this.samples.length === 0) return null;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  }
}
