import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Where a session works: `isolation` ('worktree': its own git worktree and branch; 'shared': the
 * workspace itself under its lock, as every session before this migration did) and, for a
 * worktree session, `worktree` (its repository, branch, base and head commits, change totals, slot,
 * and the branch's state). The partial index serves the retention sweep, which looks for finished
 * sessions whose branch is still ACTIVE.
 */
export class SessionWorktree1769000000000 implements MigrationInterface {
  name = 'SessionWorktree1769000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE sessions
        ADD COLUMN isolation varchar(10) NOT NULL DEFAULT 'shared',
        ADD COLUMN worktree jsonb NULL,
        ADD CONSTRAINT ck_sessions_isolation CHECK (
          (isolation = 'shared' AND worktree IS NULL) OR (isolation = 'worktree' AND worktree IS NOT NULL))`);
    await q.query(`CREATE INDEX idx_sessions_worktree_active ON sessions (finished_at) WHERE (worktree->>'state') = 'ACTIVE'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX idx_sessions_worktree_active`);
    await q.query(`ALTER TABLE sessions DROP CONSTRAINT ck_sessions_isolation, DROP COLUMN worktree, DROP COLUMN isolation`);
  }
}
