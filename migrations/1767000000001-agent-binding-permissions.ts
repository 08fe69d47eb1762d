import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * agents.permissions: the binding's OpenCode permission name → allow | ask | deny, applied to
 * every session of the agent. Existing agents get none ({}): their sessions keep running as
 * before, under the orchestrator's own rules. Sessions snapshot it in agent_assignment (jsonb,
 * no schema change there).
 */
export class AgentBindingPermissions1767000000001 implements MigrationInterface {
  name = 'AgentBindingPermissions1767000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE agents ADD COLUMN permissions jsonb NOT NULL DEFAULT '{}'::jsonb
        CONSTRAINT ck_agents_permissions_object CHECK (jsonb_typeof(permissions) = 'object')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE agents DROP COLUMN permissions`);
  }
}
