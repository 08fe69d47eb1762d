import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `opencode_server_id`: the OpenCode server (its fleet id) an attempt's turn runs on, so that a run
 * resumed after its worker was lost goes back to that server. Null before the turn, and on rows
 * from before the fleet (one server then).
 */
export class SessionOpencodeServer1769000000002 implements MigrationInterface {
  name = 'SessionOpencodeServer1769000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sessions ADD COLUMN opencode_server_id varchar(100) NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sessions DROP COLUMN opencode_server_id`);
  }
}
