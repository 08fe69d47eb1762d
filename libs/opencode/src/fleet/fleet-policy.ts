/**
 * The fleet's decisions, as plain functions over what the probes saw: where a run goes, when a
 * managed server is recycled, and the latency figures a server is judged by.
 */

/** STARTING: launched, not answering yet. READY: takes runs. DRAINING: no new runs, its own finish. UNHEALTHY: not answering. STOPPED: gone. */
export type FleetServerState = 'STARTING' | 'READY' | 'DRAINING' | 'UNHEALTHY' | 'STOPPED';

export interface ServerLoad {
  id: string;
  state: FleetServerState;
  sessionsRunning: number;
  maxSessions: number;
  /** Median health latency of the recent probes; null before any. */
  latencyP50Ms: number | null;
}

/**
 * The READY server with the most headroom: the largest share of its turns still free, then the
 * fastest recent health answers, then the id (stable). Null when every READY server is full, or none is READY.
 */
export function placeRun(servers: readonly ServerLoad[]): string | null {
  const open = servers.filter((s) => s.state === 'READY' && s.sessionsRunning < s.maxSessions);
  if (open.length === 0) return null;
  const headroom = (s: ServerLoad) => (s.maxSessions - s.sessionsRunning) / s.maxSessions;
  const latency = (s: ServerLoad) => s.latencyP50Ms ?? Number.MAX_SAFE_INTEGER;
  return [...open].sort((a, b) => headroom(b) - headroom(a) || latency(a) - latency(b) || a.id.localeCompare(b.id))[0].id;
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
