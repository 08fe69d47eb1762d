import { join } from 'node:path';
import { DEFAULT_AGENT_IDS } from '@app/agent';
import { makeTempWorkspace, rehearsalRequests } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];

/**
 * Sessions on orchestrator agents, with the real OpenCode server and the rehearsal provider:
 * routed by role, the agent's binding reaches the model, and finished runs feed performance.
 */
describe('Sessions run by agents', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const get = async (id: string) => (await t.http.get(`/api/v1/sessions/${id}`)).body;
  const performance = async (agentId: string) => (await t.http.get(`/api/v1/agents/${agentId}/performance`).expect(200)).body;
  const run = async (body: Record<string, unknown>) => {
    const created = (await t.http.post('/api/v1/sessions').send(body).expect(201)).body;
    await t.http.post(`/api/v1/sessions/${created.id}/start`).expect(202);
    const done = await waitFor(() => get(created.id), (s) => FINAL.includes(s.status), { timeoutMs: 45_000, what: `${body.title} finished` });
    return { created, done };
  };

  it('routes role REVIEWER to the reviewer, sends its instructions and read-only tools, and counts the run', async () => {
    const reviewer = DEFAULT_AGENT_IDS.reviewer;
    const before = await performance(reviewer);
    const workspace = makeTempWorkspace();
    const marker = `review-${Date.now()}`;
    const { created, done } = await run({
      title: 'a review',
      workspace,
      role: 'REVIEWER',
      skills: ['code-review'],
      // 400 from the model unless the reviewer's system instructions reached it.
      prompt: `${marker} [[expect-system VERDICT: APPROVE or VERDICT: REQUEST_CHANGES]] [[reply]]VERDICT: APPROVE\nQUALITY: 8/10\n- [minor] a.ts:1: fine[[/reply]]`,
    });
    expect(created).toMatchObject({
      agentId: reviewer,
      agent: 'plan',
      assignment: { agentName: 'reviewer', role: 'REVIEWER', routing: { requestedRole: 'REVIEWER', skills: ['code-review'], complexity: 5 } },
    });
    expect(created.assignment.routing.score).toBeGreaterThan(0);
    expect(done.status).toBe('COMPLETED');
    expect(done.result.summary).toContain('VERDICT: APPROVE');

    const requests = await rehearsalRequests(marker);
    expect(requests.length).toBeGreaterThan(0);
    const offered = requests[0].tools!.map((tool) => tool.function?.name);
    expect(offered).toEqual(expect.arrayContaining(['read']));
    for (const writing of ['write', 'edit', 'bash']) expect(offered).not.toContain(writing);

    const after = await waitFor(() => performance(reviewer), (p) => p.allTime.runs === before.allTime.runs + 1, { what: 'the run recorded' });
    expect(after.allTime.successes).toBe(before.allTime.successes + 1);
    expect(after.recent.p50DurationMs).toBeGreaterThan(0);
  });

  it("credits a review's quality score to the reviewed session's agent", async () => {
    const implementer = DEFAULT_AGENT_IDS.implementer;
    const workspace = makeTempWorkspace();
    // Named, not routed: other tests create implementers too.
    const work = await run({ title: 'implement', workspace, agentId: implementer, prompt: '[[write a.ts]]export const a = 1;[[/write]]' });
    expect(work.done).toMatchObject({ status: 'COMPLETED', agentId: implementer, agent: 'build' });
    const before = await waitFor(() => performance(implementer), (p) => p.allTime.runs > 0, { what: 'implementer run recorded' });

    const review = await run({
      title: 'review it',
      workspace,
      agentId: DEFAULT_AGENT_IDS.reviewer,
      reviewOf: work.created.id,
      prompt: '[[reply]]VERDICT: REQUEST_CHANGES\nQUALITY: 4/10[[/reply]]',
    });
    expect(review.done).toMatchObject({ status: 'COMPLETED', assignment: { role: 'REVIEWER', reviewOf: work.created.id } });
    const after = await waitFor(() => performance(implementer), (p) => p.allTime.scoredRuns === before.allTime.scoredRuns + 1, {
      what: 'quality credited',
    });
    expect(after.allTime.meanQuality).not.toBeNull();
  });

  it('refuses bad agent choices with clear 4xx errors', async () => {
    const workspace = makeTempWorkspace();
    const base = { title: 't', prompt: 'p', workspace };
    const unknownRole = await t.http.post('/api/v1/sessions').send({ ...base, role: 'WIZARD' }).expect(400);
    expect(unknownRole.body.message).toContain('role');
    await t.http.post('/api/v1/sessions').send({ ...base, agentId: DEFAULT_AGENT_IDS.reviewer, role: 'REVIEWER' }).expect(400);
    const missing = await t.http.post('/api/v1/sessions').send({ ...base, agentId: '00000000-0000-4000-8000-00000000dead' }).expect(404);
    expect(missing.body.code).toBe('AGENT_NOT_FOUND');
    const noOne = await t.http.post('/api/v1/sessions').send({ ...base, role: 'DEBUGGER', skills: ['cobol'] }).expect(409);
    expect(noOne.body.code).toBe('NO_ELIGIBLE_AGENT');
    expect(noOne.body.message).toContain('NO_SKILL_MATCH');
  });
});
