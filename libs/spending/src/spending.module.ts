import { Module } from '@nestjs/common';
import { SPENDING_LEDGER } from './application/ports/spending-ledger.port';
import { SPENDING_METRICS } from './application/ports/spending-metrics.port';
import { SpendingService } from './application/spending.service';
import { SpendingMetrics } from './infrastructure/metrics/spending-metrics';
import { SqlSpendingLedger } from './infrastructure/persistence/sql-spending-ledger';

const ports = [
  { provide: SPENDING_LEDGER, useClass: SqlSpendingLedger },
  { provide: SPENDING_METRICS, useClass: SpendingMetrics },
];

/**
 * Spending: the ledger of what sessions, plans, agents (per UTC day) and API keys (per UTC day)
 * spent, and the budgets judged against it as runs stream their usage. The ledger is raw SQL on
 * the DataSource of PlatformModule (no TypeORM entities: every write is an upsert with arithmetic).
 */
@Module({
  providers: [...ports, SpendingService],
  exports: [SpendingService],
})
export class SpendingModule {}
