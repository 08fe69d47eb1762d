import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateSessions1764000000000 implements MigrationInterface {
  name = 'CreateSessions1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sessions (
        id uuid PRIMARY KEY,
        title varchar(200) NOT NULL,
        prompt text NOT NULL,
        workspace text NOT NULL,
        agent varchar(100) NOT NULL,
        model varchar(200),
        timeout_seconds integer NOT NULL CHECK (timeout_seconds BETWEEN 1 AND 86400),
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        status varchar(20) NOT NULL CHECK (status IN
          ('PENDING','QUEUED','RUNNING','COMPLETED','FAILED','TIMED_OUT','CANCELLED')),
        attempt integer NOT NULL CHECK (attempt >= 1),
        opencode_session_id varchar(100),
        opencode_message_id varchar(100),
        result jsonb,
        usage jsonb,
        error jsonb,
        cancel_requested_at timestamptz,
        queued_at timestamptz,
        started_at timestamptz,
        finished_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz,
        version integer NOT NULL
      )`);
    await q.query(`CREATE INDEX idx_sessions_created ON sessions (created_at, id)`);
    await q.query(`CREATE INDEX idx_sessions_status_updated ON sessions (status, updated_at)`);
    await q.query(`
      CREATE TABLE session_events (
        id bigserial PRIMARY KEY,
        session_id uuid NOT NULL REFERENCES sessions (id),
        from_status varchar(20),
        to_status varchar(20) NOT NULL,
        reason text NOT NULL,
        attempt integer NOT NULL,
        at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX idx_session_events_session ON session_events (session_id, at)`);
    // Append-only: the history cannot be rewritten, even by a bug.
    await q.query(`
      CREATE FUNCTION session_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'session_events is append-only'; END $$`);
    await q.query(`
      CREATE TRIGGER session_events_no_change BEFORE UPDATE OR DELETE ON session_events
      FOR EACH ROW EXECUTE FUNCTION session_events_append_only()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE session_events`);
    await q.query(`DROP FUNCTION session_events_append_only`);
    await q.query(`DROP TABLE sessions`);
  }
}
