import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Scoped API keys (only the SHA-256 of each secret is stored), and the key that made each session
 * and plan: `bootstrap` for API_KEY, NULL with authentication off and for rows made before.
 */
export class CreateApiKeys1767000000000 implements MigrationInterface {
  name = 'CreateApiKeys1767000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY,
        name varchar(100) NOT NULL CHECK (length(btrim(name)) > 0),
        role varchar(20) NOT NULL CHECK (role IN ('viewer','operator','admin')),
        workspace_roots jsonb,
        key_hash char(64) NOT NULL,
        prefix varchar(16) NOT NULL,
        expires_at timestamptz,
        revoked_at timestamptz,
        created_by_key_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        version integer NOT NULL
      )`);
    // Every request made with a stored key finds it by this index.
    await q.query(`CREATE UNIQUE INDEX ux_api_keys_key_hash ON api_keys (key_hash)`);
    await q.query(`CREATE INDEX idx_api_keys_created ON api_keys (created_at, id)`);
    await q.query(`ALTER TABLE sessions ADD COLUMN created_by_key_id text NULL`);
    await q.query(`ALTER TABLE plans ADD COLUMN created_by_key_id text NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE plans DROP COLUMN created_by_key_id`);
    await q.query(`ALTER TABLE sessions DROP COLUMN created_by_key_id`);
    await q.query(`DROP TABLE api_keys`);
  }
}
