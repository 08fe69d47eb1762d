import { MigrationInterface, QueryRunner } from 'typeorm';

/** Approvals: OpenCode permission requests that wait for a person (issue 11). */
export class CreateApprovals1767000000002 implements MigrationInterface {
  name = 'CreateApprovals1767000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE approvals (
        id uuid PRIMARY KEY,
        session_id uuid NOT NULL,
        attempt integer NOT NULL CHECK (attempt >= 1),
        opencode_request_id varchar(100) NOT NULL,
        permission varchar(100) NOT NULL,
        patterns jsonb NOT NULL DEFAULT '[]'::jsonb,
        title varchar(300) NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        status varchar(20) NOT NULL CHECK (status IN ('PENDING','ALLOWED','DENIED','EXPIRED','CANCELLED')),
        remember boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        answered_at timestamptz,
        answered_by_key_id text,
        decided_by varchar(20) CHECK (decided_by IN ('key','timeout','session-ended','opencode')),
        version integer NOT NULL,
        CONSTRAINT ux_approvals_session_request UNIQUE (session_id, opencode_request_id),
        CONSTRAINT ck_approvals_decided CHECK ((status = 'PENDING') = (decided_by IS NULL))
      )`);
    await q.query(`CREATE INDEX idx_approvals_session ON approvals (session_id, attempt)`);
    await q.query(`CREATE INDEX idx_approvals_created ON approvals (created_at, id)`);
    // What the recovery sweep looks for, and what a session's awaitingApproval reads.
    await q.query(`CREATE INDEX idx_approvals_pending ON approvals (expires_at) WHERE status = 'PENDING'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE approvals`);
  }
}
