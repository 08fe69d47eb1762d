import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `sessions.waiting_since`: when a QUEUED attempt first found where it works busy (its workspace,
 * or every worktree slot of its repository). Its run gives its worker back between tries, so the
 * start of its wait (its timeout counts from it) is kept on the row. NULL: not waiting for a place.
 */
export class SessionWaitingSince1771000000100 implements MigrationInterface {
  name = 'SessionWaitingSince1771000000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sessions ADD COLUMN waiting_since timestamptz NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sessions DROP COLUMN waiting_since`);
  }
}
