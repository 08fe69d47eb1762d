import type { Metrics } from '@app/observability';
import type { FairLockObserver, LockAcquireOutcome } from '../redis-fair-lock/redis-fair-lock';

/** The `kind` label of a lock: the part of its resource name before the first ':'. */
const LOCK_KINDS = ['session', 'workspace', 'other'] as const;
type LockKind = (typeof LOCK_KINDS)[number];

/** `session:<id>` → session, `workspace:<path>` → workspace, anything else → other. */
export function lockKind(resource: string): LockKind {
  const colon = resource.indexOf(':');
  const prefix = colon < 0 ? resource : resource.slice(0, colon);
  return prefix === 'session' || prefix === 'workspace' ? prefix : 'other';
}

/**
 * The fair lock's observer (RedisFairLock's `observer` option), recording into Metrics: lock
 * waits by kind and outcome, contention, deadlock victims and lost leases.
 */
export class FairLockMetrics implements FairLockObserver {
  /** Children per (kind, outcome): the lock's hot path skips prom-client's label hashing. */
  private readonly waitChildren = new Map<string, { observe(seconds: number): void }>();

  constructor(private readonly metrics: Metrics) {
    // Known label values start at 0, so that increase() sees the first event.
    for (const kind of LOCK_KINDS) {
      metrics.lockLost.labels(kind).inc(0);
      metrics.lockContention.labels(kind).inc(0);
    }
  }

  acquired(resource: string, waitedMs: number, outcome: LockAcquireOutcome, contended: boolean): void {
    const kind = lockKind(resource);
    const key = `${kind}|${outcome}`;
    let child = this.waitChildren.get(key);
    if (!child) this.waitChildren.set(key, (child = this.metrics.lockWait.labels(kind, outcome)));
    child.observe(waitedMs / 1000);
    if (contended) this.metrics.lockContention.labels(kind).inc();
    if (outcome === 'deadlock') this.metrics.lockDeadlocks.inc();
  }

  lost(resource: string): void {
    this.metrics.lockLost.labels(lockKind(resource)).inc();
  }
}
