import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { GaugeCounts, Metrics, TokenKind } from '@app/observability';
import type { Queue } from 'bullmq';
import type { DataSource } from 'typeorm';
import type { TokenUsage } from '@app/shared';
import { SessionTransitionPublisher } from '../../application/session-transition-publisher';
import type { SessionTransitioned } from '../../domain/session-events';
import { isFinal, SESSION_TRANSITIONS, SessionStatus } from '../../domain/session-status';
import { SESSION_RUN_QUEUE } from '../jobs/session-run.queue';

/** The `from` of a session's first transition (created: null → PENDING). */
const CREATED_FROM = 'NONE';
/** Label values when a session has no orchestrator agent, or names no model. */
const NO_AGENT = 'none';
const DEFAULT_MODEL = 'default';
const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;

const TOKEN_KINDS: ReadonlyArray<[TokenKind, keyof TokenUsage]> = [
  ['input', 'inputTokens'],
  ['output', 'outputTokens'],
  ['reasoning', 'reasoningTokens'],
  ['cache_read', 'cacheReadTokens'],
  ['cache_write', 'cacheWriteTokens'],
];

/**
 * Turns committed session transitions into metrics. The publisher tells it in the process that
 * wrote them, once per transition: each transition is counted exactly once across the fleet.
 */
export class SessionMetricsObserver {
  constructor(private readonly metrics: Metrics) {}

  /** Every allowed from → to of the transition table (and creation) at 0, so increase() sees the first. */
  initialise(): void {
    this.metrics.sessionTransitions.labels(CREATED_FROM, SessionStatus.PENDING).inc(0);
    for (const [from, targets] of Object.entries(SESSION_TRANSITIONS)) {
      for (const to of targets) this.metrics.sessionTransitions.labels(from, to).inc(0);
    }
    for (const status of Object.values(SessionStatus)) {
      if (isFinal(status)) this.metrics.sessionDuration.zero({ status });
    }
  }

  transitioned({ from, to, at, session }: SessionTransitioned): void {
    this.metrics.sessionTransitions.labels(from ?? CREATED_FROM, to).inc();
    if (to === SessionStatus.RUNNING && session.queuedAt) {
      this.metrics.sessionQueueWait.observe(seconds(session.queuedAt, session.startedAt ?? at));
    }
    if (!isFinal(to)) return;
    const ran = from === SessionStatus.RUNNING;
    if (ran && session.startedAt) {
      this.metrics.sessionDuration.labels(to).observe(seconds(session.startedAt, session.finishedAt ?? at));
    }
    const agent = session.agent?.name ?? NO_AGENT;
    const role = session.agent?.role ?? NO_AGENT;
    const model = session.modelUsed ?? session.model ?? DEFAULT_MODEL;
    if (ran) this.metrics.agentRuns.labels(agent, role, to).inc();
    const usage = session.usage;
    if (!usage) return;
    for (const [kind, field] of TOKEN_KINDS) {
      const count = usage[field];
      if (count > 0) this.metrics.tokens.labels(agent, role, model, kind).inc(count);
    }
    if (usage.costUsd > 0) this.metrics.cost.labels(agent, role, model).inc(usage.costUsd);
  }
}

/** Between two instants in seconds; never negative (clocks of different processes). */
function seconds(from: Date, to: Date): number {
  return Math.max(0, (new Date(to).getTime() - new Date(from).getTime()) / 1000);
}

/**
 * Session metrics of this process: its transitions (observer), and the sources of two
 * deployment-wide gauges, read in the background (never at scrape time) by the processes that
 * refresh them: sessions by status (one GROUP BY on non-deleted rows) and run jobs by state
 * (BullMQ's counts). Nothing when the process has no Metrics.
 */
@Injectable()
export class SessionMetrics implements OnModuleInit, OnModuleDestroy {
  private readonly undo: Array<() => void> = [];

  constructor(
    private readonly transitions: SessionTransitionPublisher,
    @InjectDataSource() private readonly db: DataSource,
    @InjectQueue(SESSION_RUN_QUEUE) private readonly queue: Queue,
    @Optional() private readonly metrics?: Metrics,
  ) {}

  onModuleInit(): void {
    if (!this.metrics) return;
    const observer = new SessionMetricsObserver(this.metrics);
    observer.initialise();
    this.undo.push(
      this.transitions.observe((event) => observer.transitioned(event)),
      this.metrics.refreshInBackground('sessions', { read: () => this.sessionsByStatus(), known: Object.values(SessionStatus) }),
      this.metrics.refreshInBackground('queueJobs', { read: () => this.jobsByState(), known: QUEUE_STATES }),
    );
  }

  onModuleDestroy(): void {
    this.undo.splice(0).forEach((undo) => undo());
  }

  private async sessionsByStatus(): Promise<GaugeCounts> {
    const rows: Array<{ status: string; count: number }> = await this.db.query(
      'SELECT status, count(*)::int AS count FROM sessions WHERE deleted_at IS NULL GROUP BY status',
    );
    return Object.fromEntries(rows.map((row) => [row.status, Number(row.count)]));
  }

  /** Paused and prioritized jobs are waiting too, as an operator sees it. */
  private async jobsByState(): Promise<GaugeCounts> {
    const counts = await this.queue.getJobCounts('waiting', 'paused', 'prioritized', 'active', 'delayed', 'failed', 'completed');
    const count = (state: string) => counts[state] ?? 0;
    return {
      waiting: count('waiting') + count('paused') + count('prioritized'),
      active: count('active'),
      delayed: count('delayed'),
      failed: count('failed'),
      completed: count('completed'),
    };
  }
}
