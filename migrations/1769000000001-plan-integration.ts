import { MigrationInterface, QueryRunner } from 'typeorm';

const TASK_STATUSES_BEFORE = `'PENDING','RUNNING','RETRYING','COMPLETED','FAILED','BLOCKED','CANCELLED'`;
const TASK_STATUSES = `'PENDING','RUNNING','RETRYING','MERGING','RESOLVING','COMPLETED','FAILED','CONFLICTED','BLOCKED','CANCELLED'`;

/**
 * Plans in a git workspace work on an integration branch of their own: `plans.branch` ({name,
 * repository, baseCommit}; NULL for a plan whose tasks share the workspace, as every plan before
 * this migration did) and, per task, `plan_tasks.merge` (its branch's way through the merge queue:
 * source session, queued at, conflicting files, merge commit). Task statuses gain MERGING,
 * RESOLVING and CONFLICTED. The status check keeps the name PostgreSQL gave it in 1766000000000.
 */
export class PlanIntegration1769000000001 implements MigrationInterface {
  name = 'PlanIntegration1769000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE plans ADD COLUMN branch jsonb NULL`);
    await q.query(`
      ALTER TABLE plan_tasks
        ADD COLUMN merge jsonb NULL,
        DROP CONSTRAINT plan_tasks_status_check,
        ADD CONSTRAINT plan_tasks_status_check CHECK (status IN (${TASK_STATUSES}))`);
  }

  async down(q: QueryRunner): Promise<void> {
    // A task in a status the old schema does not know ends as the nearest one it does.
    await q.query(`UPDATE plan_tasks SET status = 'RUNNING' WHERE status IN ('MERGING','RESOLVING')`);
    await q.query(`UPDATE plan_tasks SET status = 'FAILED' WHERE status = 'CONFLICTED'`);
    await q.query(`
      ALTER TABLE plan_tasks
        DROP CONSTRAINT plan_tasks_status_check,
        ADD CONSTRAINT plan_tasks_status_check CHECK (status IN (${TASK_STATUSES_BEFORE})),
        DROP COLUMN merge`);
    await q.query(`ALTER TABLE plans DROP COLUMN branch`);
  }
}
