import { MigrationInterface, QueryRunner } from 'typeorm';

/** Plans (a requirement decomposed into tasks, or the user's own graph) and their tasks. */
export class CreatePlans1766000000000 implements MigrationInterface {
  name = 'CreatePlans1766000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE plans (
        id uuid PRIMARY KEY,
        requirement text NOT NULL,
        workspace text NOT NULL,
        template varchar(20),
        chosen_because text NOT NULL,
        complexity jsonb NOT NULL,
        analysis jsonb NOT NULL,
        max_concurrent_sessions integer NOT NULL CHECK (max_concurrent_sessions >= 1),
        status varchar(20) NOT NULL CHECK (status IN ('DRAFT','RUNNING','COMPLETED','FAILED','CANCELLED')),
        error jsonb,
        started_at timestamptz,
        finished_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz,
        version integer NOT NULL
      )`);
    await q.query(`CREATE INDEX idx_plans_created ON plans (created_at, id)`);
    // What the scheduler looks for at every tick.
    await q.query(`CREATE INDEX idx_plans_active ON plans (status) WHERE deleted_at IS NULL AND status IN ('RUNNING','CANCELLED')`);

    await q.query(`
      CREATE TABLE plan_tasks (
        id uuid PRIMARY KEY,
        plan_id uuid NOT NULL REFERENCES plans (id),
        key varchar(64) NOT NULL,
        position integer NOT NULL,
        title varchar(200) NOT NULL,
        instructions text NOT NULL,
        role varchar(20) NOT NULL CHECK (role IN ('ARCHITECT','IMPLEMENTER','REVIEWER','DEBUGGER')),
        skills jsonb NOT NULL DEFAULT '[]'::jsonb,
        complexity integer NOT NULL CHECK (complexity BETWEEN 1 AND 10),
        estimate_minutes integer NOT NULL CHECK (estimate_minutes >= 1),
        depends_on jsonb NOT NULL DEFAULT '[]'::jsonb,
        status varchar(20) NOT NULL CHECK (status IN ('PENDING','RUNNING','RETRYING','COMPLETED','FAILED','BLOCKED','CANCELLED')),
        session_id uuid,
        sessions jsonb NOT NULL DEFAULT '[]'::jsonb,
        attempt integer NOT NULL DEFAULT 0,
        agent_id uuid,
        result jsonb,
        usage jsonb,
        error jsonb,
        started_at timestamptz,
        finished_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        version integer NOT NULL,
        CONSTRAINT ux_plan_tasks_plan_key UNIQUE (plan_id, key)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE plan_tasks`);
    await q.query(`DROP TABLE plans`);
  }
}
