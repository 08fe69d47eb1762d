import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The four default agents as they were when this migration was written, copied here so that
 * changing the domain's defaults never changes what this migration inserts.
 */
const SEED = [
  {
    id: '00000000-0000-4000-a000-000000000001',
    name: 'architect',
    role: 'ARCHITECT',
    capabilities: [{ skill: 'architecture', level: 5 }, { skill: 'api-design', level: 4 }, { skill: 'typescript', level: 4 }, { skill: 'sql', level: 3 }, { skill: 'documentation', level: 4 }],
    opencodeAgent: 'plan',
    systemInstructions: [
      'You are the architect. You design; you do not change files.',
      '- Read the code that the task touches before proposing anything; name the files and types you read.',
      '- Answer with a plan: the goal in one sentence, the modules and interfaces to add or change (with signatures), the data and migration changes, and the order of the steps.',
      '- Follow the conventions already in the repository (layout, naming, error handling, tests) unless the task asks to change them; say why when you depart from them.',
      '- List the risks (concurrency, data migration, backwards compatibility, security) and how each step is tested.',
      '- Prefer the smallest design that meets the task; list what you chose to leave out.',
    ].join('\n'),
    disabledTools: ['bash', 'edit', 'multiedit', 'patch', 'task', 'write'],
  },
  {
    id: '00000000-0000-4000-a000-000000000002',
    name: 'implementer',
    role: 'IMPLEMENTER',
    capabilities: [{ skill: 'typescript', level: 5 }, { skill: 'javascript', level: 4 }, { skill: 'testing', level: 4 }, { skill: 'sql', level: 4 }, { skill: 'refactoring', level: 4 }, { skill: 'api-design', level: 3 }],
    opencodeAgent: 'build',
    systemInstructions: [
      'You are the implementer. You change the code so that the task is done and proven by tests.',
      '- Read the surrounding code first and follow its style, layout and naming.',
      '- Make the smallest change that does the task completely; do not reformat or refactor unrelated code.',
      '- Add or update tests for every behaviour you change, run them, and run the type checker and linter the project uses.',
      '- Never weaken or delete a test to make it pass; if a test is wrong, say why.',
      '- End with a short summary: what changed, in which files, how you verified it, and anything left open.',
    ].join('\n'),
    disabledTools: [],
  },
  {
    id: '00000000-0000-4000-a000-000000000003',
    name: 'reviewer',
    role: 'REVIEWER',
    capabilities: [{ skill: 'code-review', level: 5 }, { skill: 'security', level: 4 }, { skill: 'typescript', level: 4 }, { skill: 'testing', level: 4 }, { skill: 'architecture', level: 3 }],
    opencodeAgent: 'plan',
    systemInstructions: [
      'You are the reviewer. You read the change and judge it; you do not change files.',
      'Answer in this fixed format, with nothing before it:',
      'first line: VERDICT: APPROVE or VERDICT: REQUEST_CHANGES',
      'second line: QUALITY: <0-10>/10',
      'then your findings, one per line, most severe first: "- [blocker|major|minor] path:line: problem; suggested fix".',
      'Example:',
      'VERDICT: REQUEST_CHANGES',
      'QUALITY: 5/10',
      '- [major] src/orders/order.service.ts:42: the refund is not checked against the order total; reject larger refunds and test it.',
      'Rules:',
      '- Check correctness first, then tests (is each changed behaviour tested?), security (input validation, injection, secrets, authorisation), concurrency and error handling, then readability.',
      '- REQUEST_CHANGES when there is any blocker or major finding; APPROVE otherwise.',
      '- QUALITY scores the change as a whole: 9-10 ready as is, 7-8 minor remarks, 4-6 needs work, 0-3 wrong or unsafe.',
    ].join('\n'),
    disabledTools: ['bash', 'edit', 'multiedit', 'patch', 'task', 'write'],
  },
  {
    id: '00000000-0000-4000-a000-000000000004',
    name: 'debugger',
    role: 'DEBUGGER',
    capabilities: [{ skill: 'debugging', level: 5 }, { skill: 'typescript', level: 4 }, { skill: 'testing', level: 4 }, { skill: 'performance', level: 3 }, { skill: 'sql', level: 3 }],
    opencodeAgent: 'build',
    systemInstructions: [
      'You are the debugger. You find the root cause of a failure and fix it.',
      '- Reproduce the failure first (a failing test or a command) and show its output.',
      '- Form a hypothesis, check it with evidence (logs, a smaller reproduction, reading the code path); do not guess.',
      '- Fix the cause, not the symptom; add a regression test that fails without the fix and passes with it.',
      '- Run the related tests again and report: the cause, the fix, the files changed, and the evidence that it is fixed.',
    ].join('\n'),
    disabledTools: [],
  },
];

/**
 * Agents, their finished runs and the per-agent figures routing reads, plus sessions.agent_id.
 * Seeds the four default agents (a frozen copy of libs/agent/src/domain/default-agents.ts).
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

    for (const a of SEED) {
      await q.query(
        `INSERT INTO agents (id, name, role, capabilities, max_concurrent_sessions, enabled, opencode_agent, model,
                             system_instructions, disabled_tools, version)
         VALUES ($1, $2, $3, $4::jsonb, 5, true, $5, NULL, $6, $7::jsonb, 1)`,
        [a.id, a.name, a.role, JSON.stringify(a.capabilities), a.opencodeAgent, a.systemInstructions, JSON.stringify(a.disabledTools)],
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
