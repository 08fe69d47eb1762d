import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Daily budgets of agents and API keys (per UTC day, over every session the agent runs or the key
 * makes; the spending context enforces them), and two more fields of an agent's binding:
 * fallback_models ("provider/model"s tried in order when the primary is at quota, failing or
 * saturated) and max_steps (model steps per turn; NULL: TURN_MAX_STEPS). Existing agents get no
 * fallbacks, the default steps and no budget; existing keys no budget: nothing changes for them.
 */
export class AgentKeyBudgets1770000000001 implements MigrationInterface {
  name = 'AgentKeyBudgets1770000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE agents
        ADD COLUMN fallback_models jsonb NOT NULL DEFAULT '[]'::jsonb
          CONSTRAINT ck_agents_fallback_models_array CHECK (jsonb_typeof(fallback_models) = 'array' AND jsonb_array_length(fallback_models) <= 5),
        ADD COLUMN max_steps integer NULL
          CONSTRAINT ck_agents_max_steps CHECK (max_steps BETWEEN 1 AND 100000),
        ADD COLUMN budget jsonb NULL
          CONSTRAINT ck_agents_budget_object CHECK (budget IS NULL OR jsonb_typeof(budget) = 'object')`);
    await q.query(`
      ALTER TABLE api_keys
        ADD COLUMN budget jsonb NULL
          CONSTRAINT ck_api_keys_budget_object CHECK (budget IS NULL OR jsonb_typeof(budget) = 'object')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys DROP COLUMN budget`);
    await q.query(`ALTER TABLE agents DROP COLUMN budget, DROP COLUMN max_steps, DROP COLUMN fallback_models`);
  }
}
