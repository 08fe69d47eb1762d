import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The orchestrator agent a session was assigned, as a snapshot of its binding and the routing
 * decision (sessions.agent_id itself comes with the agents table, in 1765000000000).
 */
export class SessionAgentAssignment1765000000001 implements MigrationInterface {
  name = 'SessionAgentAssignment1765000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sessions ADD COLUMN agent_assignment jsonb NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sessions DROP COLUMN agent_assignment`);
  }
}
