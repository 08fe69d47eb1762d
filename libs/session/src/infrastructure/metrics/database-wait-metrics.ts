import { Injectable, OnModuleInit, Optional } from '@nestjs/common';
import { Metrics } from '@app/observability';
import type { DatabaseWaitMetricsPort, DatabaseWaitOutcome } from '../../application/ports/database-availability.port';

const OUTCOMES: DatabaseWaitOutcome[] = ['recovered', 'gave_up'];

/** Runs' waits for the database into Metrics (nothing without them, e.g. in a unit test module). */
@Injectable()
export class DatabaseWaitMetrics implements DatabaseWaitMetricsPort, OnModuleInit {
  constructor(@Optional() private readonly metrics?: Metrics) {}

  /** Every outcome at 0, so that increase() sees the first wait. */
  onModuleInit(): void {
    for (const outcome of OUTCOMES) this.metrics?.databaseWaits.labels(outcome).inc(0);
    this.metrics?.runsWaitingForDatabase.set(0);
  }

  waitStarted(): void {
    this.metrics?.runsWaitingForDatabase.inc();
  }

  waitEnded(outcome: DatabaseWaitOutcome): void {
    this.metrics?.runsWaitingForDatabase.dec();
    this.metrics?.databaseWaits.labels(outcome).inc();
  }
}
