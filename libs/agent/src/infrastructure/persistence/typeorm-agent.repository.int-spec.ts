import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { openTestDataSource } from '../../../../../test/support/database';
import { Agent, WRITING_TOOLS } from '../../domain/agent';
import { AgentRole } from '../../domain/agent-role';
import { AgentError, AgentErrorCode } from '../../domain/agent.errors';
import { DEFAULT_AGENTS, REVIEWER_INSTRUCTIONS } from '../../domain/default-agents';
import { TypeormAgentRepository } from './typeorm-agent.repository';

describe('TypeormAgentRepository (real PostgreSQL)', () => {
  let dataSource: DataSource;
  let repo: TypeormAgentRepository;
  const tag = `repo-int-${Date.now()}-${process.pid}`;
  const newAgent = (name: string, role = AgentRole.IMPLEMENTER) =>
    Agent.create({
      name: `${tag}-${name}`,
      role,
      capabilities: [{ skill: 'typescript', level: 4 }],
      maxConcurrentSessions: 2,
      binding: { opencodeAgent: 'build', model: null, systemInstructions: 'be brief', disabledTools: ['webfetch'] },
    });

  beforeAll(async () => {
    dataSource = await openTestDataSource();
    repo = new TypeormAgentRepository(dataSource);
  });
  afterAll(() => dataSource?.destroy());

  it('has the four default agents from the migration, the reviewer asking for the verdict format', async () => {
    for (const d of DEFAULT_AGENTS) {
      const stored = await repo.findById(d.id);
      expect(stored?.snapshot()).toMatchObject({ name: d.name, role: d.role, capabilities: d.capabilities, maxConcurrentSessions: 5 });
      expect(stored?.binding).toEqual(d.binding);
    }
    const reviewer = (await repo.findById('00000000-0000-4000-a000-000000000003'))!;
    expect(reviewer.binding.systemInstructions).toBe(REVIEWER_INSTRUCTIONS);
    expect(reviewer.binding.systemInstructions).toMatch(/first line: VERDICT: APPROVE or VERDICT: REQUEST_CHANGES\nsecond line: QUALITY: <0-10>\/10/);
    expect(reviewer.binding.disabledTools).toEqual([...WRITING_TOOLS].sort());
    expect((await repo.findById('00000000-0000-4000-a000-000000000002'))!.binding).toMatchObject({ opencodeAgent: 'build', disabledTools: [] });
  });

  it('stores and reads an agent with its binding; lists by role and enabled, by name', async () => {
    const a = newAgent('b-impl');
    const r = newAgent('a-rev', AgentRole.REVIEWER);
    await repo.insert(a);
    await repo.insert(r);
    expect((await repo.findById(a.id))?.snapshot()).toEqual({ ...a.snapshot(), createdAt: expect.any(Date), updatedAt: expect.any(Date) });
    const ours = (agents: Agent[]) => agents.filter((x) => x.name.startsWith(tag)).map((x) => x.name);
    expect(ours(await repo.list())).toEqual([r.name, a.name]);
    expect(ours(await repo.list({ role: AgentRole.REVIEWER }))).toEqual([r.name]);
    expect(ours(await repo.list({ enabled: false }))).toEqual([]);
  });

  it('stores the binding permissions, and an update that replaces them', async () => {
    const a = newAgent('perms');
    a.update({ binding: { permissions: { webfetch: 'deny', bash: 'ask' } } });
    await repo.insert(a);
    expect((await repo.findById(a.id))!.binding.permissions).toEqual({ bash: 'ask', webfetch: 'deny' });
    a.update({ binding: { permissions: { edit: 'deny' } } });
    await repo.update(a);
    expect((await repo.findById(a.id))!.binding.permissions).toEqual({ edit: 'deny' });
  });

  it('stores fallback models, max steps and the budget, and an update that changes or clears them', async () => {
    const a = Agent.create({
      name: `${tag}-budgeted`,
      role: AgentRole.IMPLEMENTER,
      capabilities: [],
      maxConcurrentSessions: 1,
      binding: { opencodeAgent: 'build', model: 'anthropic/claude', systemInstructions: '', disabledTools: [], fallbackModels: ['openai/gpt-5', 'google/gemini'], maxSteps: 25 },
      budget: { maxTokens: 1_000_000, maxCostUsd: 12.5, maxMinutes: 90 },
    });
    await repo.insert(a);
    const stored = (await repo.findById(a.id))!;
    expect(stored.snapshot()).toEqual({ ...a.snapshot(), createdAt: expect.any(Date), updatedAt: expect.any(Date) });
    expect(stored.binding).toMatchObject({ fallbackModels: ['openai/gpt-5', 'google/gemini'], maxSteps: 25 });
    expect(stored.budget).toEqual({ maxTokens: 1_000_000, maxCostUsd: 12.5, maxMinutes: 90 });
    stored.update({ binding: { fallbackModels: [], maxSteps: null }, budget: null });
    await repo.update(stored);
    const cleared = (await repo.findById(a.id))!;
    expect(cleared.binding).toMatchObject({ fallbackModels: [], maxSteps: null });
    expect(cleared.budget).toBeNull();
    expect(cleared.version).toBe(2);
  });

  it('reads a row written before fallback models, max steps and budgets with none, the default and no limit', async () => {
    const id = randomUUID();
    // The columns as the migration leaves them for an existing row: the defaults it gives.
    await dataSource.query(
      `INSERT INTO agents (id, name, role, capabilities, max_concurrent_sessions, opencode_agent, model, system_instructions, disabled_tools, version)
       VALUES ($1, $2, 'IMPLEMENTER', '[]'::jsonb, 1, 'build', NULL, '', '[]'::jsonb, 1)`,
      [id, `${tag}-old-row`],
    );
    const [row] = await dataSource.query(`SELECT fallback_models, max_steps, budget FROM agents WHERE id = $1`, [id]);
    expect(row).toEqual({ fallback_models: [], max_steps: null, budget: null });
    const old = (await repo.findById(id))!;
    expect(old.binding).toMatchObject({ fallbackModels: [], maxSteps: null });
    expect(old.budget).toBeNull();
  });

  it('refuses through constraints what the domain never writes: a seventh fallback list entry, zero steps, a budget that is not an object', async () => {
    const a = newAgent('constrained');
    await repo.insert(a);
    const refused = (sql: string) => expect(dataSource.query(`UPDATE agents SET ${sql} WHERE id = $1`, [a.id])).rejects.toThrow(/ck_agents_/);
    await refused(`fallback_models = '["a/1","a/2","a/3","a/4","a/5","a/6"]'::jsonb`);
    await refused(`fallback_models = '{}'::jsonb`);
    await refused(`max_steps = 0`);
    await refused(`budget = '[1]'::jsonb`);
  });

  it('refuses a live name twice, whatever the case', async () => {
    const a = newAgent('unique');
    await repo.insert(a);
    const twin = Agent.create({ ...a.snapshot(), id: undefined, name: a.name.toUpperCase() });
    await expect(repo.insert(twin)).rejects.toMatchObject({ code: AgentErrorCode.AGENT_NAME_TAKEN });
    const other = newAgent('other');
    await repo.insert(other);
    other.update({ name: a.name });
    await expect(repo.update(other)).rejects.toMatchObject({ code: AgentErrorCode.AGENT_NAME_TAKEN });
  });

  it('lets exactly one of two writers of the same version win, and bumps the version', async () => {
    const a = newAgent('race');
    await repo.insert(a);
    const first = (await repo.findById(a.id))!;
    const second = (await repo.findById(a.id))!;
    first.update({ maxConcurrentSessions: 7 });
    second.update({ enabled: false });
    const results = await Promise.allSettled([repo.update(first), repo.update(second)]);
    const lost = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
    expect(lost).toHaveLength(1);
    expect(lost[0].reason).toBeInstanceOf(AgentError);
    expect(lost[0].reason).toMatchObject({ code: AgentErrorCode.AGENT_VERSION_CONFLICT });
    const stored = (await repo.findById(a.id))!;
    expect(stored.version).toBe(2);
    const winner = results[0].status === 'fulfilled' ? first : second;
    expect(winner.version).toBe(2);
    expect(stored.snapshot()).toMatchObject({ maxConcurrentSessions: winner.maxConcurrentSessions, enabled: winner.enabled });
  });

  it('soft-deletes: hidden from reads and lists, the row stays, the name is free, no more writes', async () => {
    const a = newAgent('gone');
    await repo.insert(a);
    expect(await repo.softDelete(a.id)).toBe(true);
    expect(await repo.softDelete(a.id)).toBe(false);
    expect(await repo.findById(a.id)).toBeNull();
    expect((await repo.findById(a.id, { includeDeleted: true }))?.id).toBe(a.id);
    expect((await repo.list()).map((x) => x.id)).not.toContain(a.id);
    const [row] = await dataSource.query('SELECT deleted_at FROM agents WHERE id = $1', [a.id]);
    expect(row.deleted_at).toBeInstanceOf(Date);
    a.update({ enabled: false });
    await expect(repo.update(a)).rejects.toMatchObject({ code: AgentErrorCode.AGENT_VERSION_CONFLICT });
    await expect(repo.insert(Agent.create({ ...a.snapshot(), id: randomUUID() }))).resolves.toBeUndefined();
  });
});
