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

type Child = { observe(seconds: number): void };
type CounterChild = { inc(): void };

/**
 * The fair lock's observer (RedisFairLock's `observer` option), recording into Metrics: lock
 * waits by kind and outcome, contention, deadlock victims and lost leases.
 */
export class FairLockMetrics implements FairLockObserver {
  /**
   * Label children per kind (and outcome), made once: every acquire reports, and prom-client
   * would otherwise hash the label values of each observation.
   */
  private readonly waitChildren: Record<LockKind, Partial<Record<LockAcquireOutcome, Child>>> = { session: {}, workspace: {}, other: {} };
  private readonly contentionChildren: Record<LockKind, CounterChild>;

  constructor(private readonly metrics: Metrics) {
    // Known label values start at 0, so that increase() sees the first event.
    const contention = {} as Record<LockKind, CounterChild>;
    for (const kind of LOCK_KINDS) {
      metrics.lockLost.labels(kind).inc(0);
      (contention[kind] = metrics.lockContention.labels(kind)).inc(0);
    }
    this.contentionChildren = contention;
  }

  acquired(resource: string, waitedMs: number, outcome: LockAcquireOutcome, contended: boolean): void {
    const kind = lockKind(resource);
    const children = this.waitChildren[kind];
    (children[outcome] ??= this.metrics.lockWait.labels(kind, outcome)).observe(waitedMs / 1000);
    if (contended) this.contentionChildren[kind].inc();
    if (outcome === 'deadlock') this.metrics.lockDeadlocks.inc();
  }

  lost(resource: string): void {
    this.metrics.lockLost.labels(lockKind(resource)).inc();
  }
}
