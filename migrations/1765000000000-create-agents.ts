import { MigrationInterface, QueryRunner } from 'typeorm';
import { Agent } from '../libs/agent/src/domain/agent';
import { DEFAULT_AGENTS } from '../libs/agent/src/domain/default-agents';

/**
 * Agents, their finished runs and the per-agent figures routing reads, plus sessions.agent_id.
 * Seeds the four default agents (libs/agent/src/domain/default-agents.ts), checked by the domain.
 */
export class CreateAgents1765000000000 implements MigrationInterface {
  name = 'CreateAgents1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE agents (
        id uuid PRIMARY KEY,
        name varchar(100) NOT NULL,
        role varchar(20) NOT NULL CHECK (role IN ('ARCHITECT','IMPLEMENTER','REVIEWER','DEBUGGER')),
        capabilities jsonb NOT NULL DEFAULT '[]'::jsonb,
        max_concurrent_sessions integer NOT NULL CHECK (max_concurrent_sessions BETWEEN 1 AND 1000),
        enabled boolean NOT NULL DEFAULT true,
        opencode_agent varchar(64) NOT NULL,
        model varchar(200),
        system_instructions text NOT NULL DEFAULT '',
        disabled_tools jsonb NOT NULL DEFAULT '[]'::jsonb,
        version integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      )`);
    // A deleted agent frees its name; "Reviewer" and "reviewer" are the same name.
    await q.query(`CREATE UNIQUE INDEX ux_agents_name_live ON agents (lower(name)) WHERE deleted_at IS NULL`);

    await q.query(`
      CREATE TABLE agent_runs (
        id bigserial PRIMARY KEY,
        agent_id uuid NOT NULL REFERENCES agents (id),
        session_id uuid NOT NULL,
        attempt integer NOT NULL CHECK (attempt >= 1),
        outcome varchar(20) NOT NULL CHECK (outcome IN ('COMPLETED','FAILED','TIMED_OUT','CANCELLED')),
        duration_ms integer NOT NULL CHECK (duration_ms >= 0),
        input_tokens bigint NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
        output_tokens bigint NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
        -- Unscaled numeric: stored exactly as reported, never rounded.
        cost_usd numeric NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
        quality_score numeric CHECK (quality_score BETWEEN 0 AND 10),
        finished_at timestamptz NOT NULL,
        -- One run per session attempt: recording the same attempt twice is a no-op.
        CONSTRAINT ux_agent_runs_session_attempt UNIQUE (session_id, attempt)
      )`);
    // The recent window: the last counted runs of one agent, newest first.
    await q.query(`CREATE INDEX idx_agent_runs_agent_finished ON agent_runs (agent_id, finished_at DESC, id DESC)`);

    // Maintained in the transaction of each run insert, so routing never scans agent_runs.
    await q.query(`
      CREATE TABLE agent_stats (
        agent_id uuid PRIMARY KEY REFERENCES agents (id),
        recent_runs integer NOT NULL DEFAULT 0,
        recent_successes integer NOT NULL DEFAULT 0,
        recent_scored_runs integer NOT NULL DEFAULT 0,
        recent_quality_sum double precision NOT NULL DEFAULT 0,
        recent_cost_sum_usd double precision NOT NULL DEFAULT 0,
        recent_p50_duration_ms double precision,
        recent_p95_duration_ms double precision,
        total_runs integer NOT NULL DEFAULT 0,
        total_successes integer NOT NULL DEFAULT 0,
        total_cancelled integer NOT NULL DEFAULT 0,
        total_scored_runs integer NOT NULL DEFAULT 0,
        total_quality_sum double precision NOT NULL DEFAULT 0,
        total_cost_sum_usd double precision NOT NULL DEFAULT 0,
        tier varchar(20) NOT NULL DEFAULT 'SILVER' CHECK (tier IN ('PLATINUM','GOLD','SILVER','BRONZE')),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);

    // Which agent a session runs as; the live ones are counted against maxConcurrentSessions.
    await q.query(`ALTER TABLE sessions ADD COLUMN agent_id uuid REFERENCES agents (id)`);
    await q.query(`
      CREATE INDEX idx_sessions_agent_active ON sessions (agent_id)
      WHERE status IN ('QUEUED','RUNNING') AND deleted_at IS NULL`);

    for (const d of DEFAULT_AGENTS) {
      const a = Agent.create(d).snapshot();
      await q.query(
        `INSERT INTO agents (id, name, role, capabilities, max_concurrent_sessions, enabled, opencode_agent, model,
                             system_instructions, disabled_tools, version)
         VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10::jsonb, 1)`,
        [
          a.id,
          a.name,
          a.role,
          JSON.stringify(a.capabilities),
          a.maxConcurrentSessions,
          a.enabled,
          a.binding.opencodeAgent,
          a.binding.model,
          a.binding.systemInstructions,
          JSON.stringify(a.binding.disabledTools),
        ],
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX idx_sessions_agent_active`);
    await q.query(`ALTER TABLE sessions DROP COLUMN agent_id`);
    await q.query(`DROP TABLE agent_stats`);
    await q.query(`DROP TABLE agent_runs`);
    await q.query(`DROP TABLE agents`);
  }
}
