import { MigrationInterface, QueryRunner } from 'typeorm';

const FINAL_SESSION = `'COMPLETED','FAILED','TIMED_OUT','CANCELLED'`;
const FINAL_PLAN = `'COMPLETED','FAILED','CANCELLED'`;

/**
 * Retention (README, Retention): `sessions.pruned_at`, when the retention job emptied a finished
 * session's output text (NULL: not pruned), and the two indexes its batches walk, oldest first:
 * finished sessions not pruned yet, by finished_at; and plans that may be deleted (finished, or a
 * DRAFT deleted by its user), by when they ended. Existing rows are not pruned here: the job
 * does that in batches.
 */
export class Retention1771000000000 implements MigrationInterface {
  name = 'Retention1771000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sessions ADD COLUMN pruned_at timestamptz NULL`);
    await q.query(`CREATE INDEX idx_sessions_prunable ON sessions (finished_at, id) WHERE pruned_at IS NULL AND status IN (${FINAL_SESSION})`);
    await q.query(`
      CREATE INDEX idx_plans_prunable ON plans ((coalesce(finished_at, deleted_at)), id)
      WHERE status IN (${FINAL_PLAN}) OR (status = 'DRAFT' AND deleted_at IS NOT NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX idx_plans_prunable`);
    await q.query(`DROP INDEX idx_sessions_prunable`);
    await q.query(`ALTER TABLE sessions DROP COLUMN pruned_at`);
  }
}
