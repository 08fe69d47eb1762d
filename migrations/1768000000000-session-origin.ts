import { MigrationInterface, QueryRunner } from 'typeorm';

const UUID = `'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'`;

/**
 * Why a session exists, as typed columns instead of keys in its free-form metadata: a session a
 * plan made for one of its tasks has origin_plan_id and origin_task_key (and origin_retry_of, the
 * failed session a Debugger retry follows up); any other session has none. No foreign key: the
 * plans belong to another context. Existing task sessions are found by the metadata the scheduler
 * used to write ({planId, taskKey, retryOf}, planId naming an existing plan); their metadata is
 * left as it is.
 */
export class SessionOrigin1768000000000 implements MigrationInterface {
  name = 'SessionOrigin1768000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE sessions
        ADD COLUMN origin_plan_id uuid NULL,
        ADD COLUMN origin_task_key varchar(64) NULL,
        ADD COLUMN origin_retry_of uuid NULL,
        ADD CONSTRAINT ck_sessions_origin CHECK (
          (origin_plan_id IS NULL AND origin_task_key IS NULL AND origin_retry_of IS NULL)
          OR (origin_plan_id IS NOT NULL AND origin_task_key IS NOT NULL))`);
    await q.query(`
      UPDATE sessions s SET
        origin_plan_id = p.id,
        origin_task_key = s.metadata->>'taskKey',
        origin_retry_of = CASE WHEN lower(s.metadata->>'retryOf') ~ ${UUID} THEN (s.metadata->>'retryOf')::uuid END
      FROM plans p
      WHERE p.id::text = lower(s.metadata->>'planId')
        AND jsonb_typeof(s.metadata->'taskKey') = 'string'
        AND length(s.metadata->>'taskKey') BETWEEN 1 AND 64`);
    await q.query(`CREATE INDEX idx_sessions_origin_plan ON sessions (origin_plan_id) WHERE origin_plan_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX idx_sessions_origin_plan`);
    await q.query(`
      ALTER TABLE sessions
        DROP CONSTRAINT ck_sessions_origin,
        DROP COLUMN origin_retry_of,
        DROP COLUMN origin_task_key,
        DROP COLUMN origin_plan_id`);
  }
}
