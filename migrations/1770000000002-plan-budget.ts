import { MigrationInterface, QueryRunner } from 'typeorm';

/** A plan's budget and why it is paused. */
export class PlanBudget1770000000002 implements MigrationInterface {
  name = 'PlanBudget1770000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE plans
        ADD COLUMN budget jsonb,
        ADD COLUMN paused_reason varchar(20) CHECK (paused_reason IN ('BUDGET')),
        ADD COLUMN paused_message text`);
    await q.query(`ALTER TABLE plans DROP CONSTRAINT plans_status_check`);
    await q.query(`ALTER TABLE plans ADD CONSTRAINT plans_status_check CHECK (status IN ('DRAFT','RUNNING','PAUSED','COMPLETED','FAILED','CANCELLED'))`);
    // A paused plan says why; no other plan does.
    await q.query(`ALTER TABLE plans ADD CONSTRAINT ck_plans_paused_reason CHECK ((status = 'PAUSED') = (paused_reason IS NOT NULL))`);
    // The scheduler ticks PAUSED plans too (their running tasks are settled and merged).
    await q.query(`DROP INDEX idx_plans_active`);
    await q.query(`CREATE INDEX idx_plans_active ON plans (status) WHERE deleted_at IS NULL AND status IN ('RUNNING','PAUSED','CANCELLED')`);
    // A task's forecast reads the mean complexity of its agent's recent plan tasks.
    await q.query(`CREATE INDEX idx_plan_tasks_agent_started ON plan_tasks (agent_id, started_at DESC) WHERE agent_id IS NOT NULL AND started_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX idx_plan_tasks_agent_started`);
    await q.query(`DROP INDEX idx_plans_active`);
    await q.query(`CREATE INDEX idx_plans_active ON plans (status) WHERE deleted_at IS NULL AND status IN ('RUNNING','CANCELLED')`);
    // A paused plan cannot be kept in the older schema: it is cancelled (its running tasks finish unwatched).
    await q.query(`UPDATE plans SET status = 'CANCELLED', finished_at = coalesce(finished_at, now()) WHERE status = 'PAUSED'`);
    await q.query(`ALTER TABLE plans DROP CONSTRAINT ck_plans_paused_reason`);
    await q.query(`ALTER TABLE plans DROP CONSTRAINT plans_status_check`);
    await q.query(`ALTER TABLE plans ADD CONSTRAINT plans_status_check CHECK (status IN ('DRAFT','RUNNING','COMPLETED','FAILED','CANCELLED'))`);
    await q.query(`ALTER TABLE plans DROP COLUMN paused_message, DROP COLUMN paused_reason, DROP COLUMN budget`);
  }
}
