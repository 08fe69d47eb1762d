import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet, IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import { makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

const ADMIN_KEY = 'approvals-e2e-admin-key-0123456789';
const ADMIN = { authorization: `Bearer ${ADMIN_KEY}` };
/** Short, so that the expiry test waits seconds; the allow and deny tests answer within it. */
const APPROVAL_TIMEOUT_SECONDS = 4;
const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];

interface Envelope {
  sessionId: string;
  type: string;
  at: string;
  data: Record<string, any>;
}

/** Reads a server-sent event stream into `events` until closed. */
async function openStream(base: string, path: string): Promise<{ events: Envelope[]; ended: Promise<void>; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(`${base}${path}`, { headers: { accept: 'text/event-stream', ...ADMIN } }, (res: IncomingMessage) => {
      if (res.statusCode !== 200) return reject(new Error(`stream ${path} answered ${res.statusCode}`));
      const events: Envelope[] = [];
      const parser = createParser({ onEvent: (e) => events.push(JSON.parse(e.data) as Envelope) });
      res.setEncoding('utf8').on('data', (chunk: string) => parser.feed(chunk));
      const ended = new Promise<void>((done) => res.on('close', done));
      resolve({ events, ended, close: () => res.destroy() });
    });
    req.on('error', reject);
  });
}

/**
 * Approvals through the real app (API and worker in one process), the shared `opencode serve`
 * on the rehearsal provider, PostgreSQL and Redis: a workspace whose opencode.json says
 * `{"permission": {"edit": "ask"}}` makes OpenCode ask before the write tool writes a.txt.
 */
describe('Approvals: OpenCode permission requests answered through the API', () => {
  let t: TestApp;
  let base: string;
  let operator: { id: string; auth: Record<string, string> };
  let viewer: Record<string, string>;

  const createKey = async (role: string) => {
    const res = await t.http.post('/api/v1/keys').set(ADMIN).send({ name: `approvals-${role}`, role }).expect(201);
    return { id: res.body.id as string, auth: { authorization: `Bearer ${res.body.key}` } };
  };
  const askingWorkspace = () => {
    const workspace = makeTempWorkspace();
    writeFileSync(join(workspace, 'opencode.json'), JSON.stringify({ permission: { edit: 'ask' } }));
    return workspace;
  };
  /** A session whose turn writes a.txt, which OpenCode asks about; created, not started. */
  const createAsking = async () => {
    const workspace = askingWorkspace();
    const res = await t.http
      .post('/api/v1/sessions')
      .set(ADMIN)
      .send({ title: 'approval e2e', workspace, prompt: '[[write a.txt]]hi[[/write]]', timeoutSeconds: 120 })
      .expect(201);
    return { id: res.body.id as string, workspace };
  };
  const start = (id: string) => t.http.post(`/api/v1/sessions/${id}/start`).set(ADMIN).expect(202);
  const getSession = async (id: string) => (await t.http.get(`/api/v1/sessions/${id}`).set(ADMIN).expect(200)).body;
  /** The session's pending approvals, once OpenCode asked; fails at once if the turn ended unasked. */
  const pendingOf = async (sessionId: string): Promise<Array<Record<string, any>>> => {
    const { items, session } = await waitFor(
      async () => ({
        items: (await t.http.get('/api/v1/approvals').query({ status: 'PENDING', sessionId }).set(ADMIN).expect(200)).body.items,
        session: await getSession(sessionId),
      }),
      ({ items, session }) => items.length > 0 || FINAL.includes(session.status),
      { timeoutMs: 30_000, intervalMs: 50, what: `a pending approval of session ${sessionId}` },
    );
    if (items.length === 0) {
      throw new Error(
        `session ${sessionId} ended ${session.status} without OpenCode asking (${JSON.stringify(session.result ?? session.error)}): ` +
          `the workspace's opencode.json "edit": "ask" was overridden (e.g. by "*": "allow" in the server's inline config)`,
      );
    }
    return items;
  };
  const finalOf = (id: string) => waitFor(() => getSession(id), (s) => FINAL.includes(s.status), { timeoutMs: 30_000, intervalMs: 100, what: `${id} final` });
  const answer = (id: string, body: Record<string, unknown>, auth: Record<string, string>) =>
    t.http.post(`/api/v1/approvals/${id}`).set(auth).send(body);

  beforeAll(async () => {
    t = await createTestApp({ env: { API_KEY: ADMIN_KEY, APPROVAL_TIMEOUT_SECONDS: String(APPROVAL_TIMEOUT_SECONDS) } });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    operator = await createKey('operator');
    viewer = (await createKey('viewer')).auth;
  });
  afterAll(() => t.close());

  it('allow: the session waits, shows awaitingApproval and approval events, then completes with the file written', async () => {
    const { id, workspace } = await createAsking();
    const stream = await openStream(base, `/api/v1/sessions/${id}/stream`);
    const fleet = await openStream(base, `/api/v1/events?types=approval&sessionId=${id}`);
    await start(id);

    const [pending] = await pendingOf(id);
    expect(pending).toMatchObject({
      sessionId: id,
      attempt: 1,
      permission: 'edit',
      title: 'edit a.txt',
      status: 'PENDING',
      answeredAt: null,
      answeredByKeyId: null,
      decidedBy: null,
      remember: false,
    });
    expect(pending.patterns).toEqual([expect.stringMatching(/a\.txt$/)]);
    expect(new Date(pending.expiresAt).getTime() - new Date(pending.createdAt).getTime()).toBe(APPROVAL_TIMEOUT_SECONDS * 1000);

    const waiting = await getSession(id);
    expect(waiting.status).toBe('RUNNING');
    expect(waiting.awaitingApproval).toEqual([
      { id: pending.id, permission: 'edit', patterns: pending.patterns, title: 'edit a.txt', expiresAt: pending.expiresAt },
    ]);
    const listed = (await t.http.get('/api/v1/sessions').set(ADMIN).expect(200)).body.items.find((s: { id: string }) => s.id === id);
    expect(listed.awaitingApproval.map((a: { id: string }) => a.id)).toEqual([pending.id]);
    const detail = (await t.http.get(`/api/v1/approvals/${pending.id}`).set(viewer).expect(200)).body;
    expect(detail.metadata.filepath).toBe(join(workspace, 'a.txt'));
    expect(existsSync(join(workspace, 'a.txt'))).toBe(false);

    // A viewer may read but not answer.
    const refused = await answer(pending.id, { decision: 'allow' }, viewer);
    expect(refused.status).toBe(403);

    const answered = await answer(pending.id, { decision: 'allow' }, operator.auth).expect(200);
    expect(answered.body).toMatchObject({ id: pending.id, status: 'ALLOWED', decidedBy: 'key', answeredByKeyId: operator.id, remember: false });
    expect(answered.body.answeredAt).toEqual(expect.any(String));

    const twice = await answer(pending.id, { decision: 'deny' }, operator.auth);
    expect(twice.status).toBe(409);
    expect(twice.body).toMatchObject({ code: 'APPROVAL_ALREADY_DECIDED', message: expect.stringContaining('ALLOWED') });

    const done = await finalOf(id);
    expect(done.status).toBe('COMPLETED');
    expect(done.awaitingApproval).toEqual([]);
    expect(readFileSync(join(workspace, 'a.txt'), 'utf8')).toBe('hi');

    // The session stream carries the approval as it opened and as it was decided, before the end.
    await stream.ended;
    const types = stream.events.map((e) => (e.type === 'approval' ? `approval:${e.data.status}` : e.type));
    expect(types.indexOf('approval:PENDING')).toBeGreaterThan(-1);
    expect(types.indexOf('approval:ALLOWED')).toBeGreaterThan(types.indexOf('approval:PENDING'));
    expect(types.lastIndexOf('approval:ALLOWED')).toBeLessThan(types.lastIndexOf('transition'));
    expect(stream.events.find((e) => e.type === 'approval' && e.data.status === 'ALLOWED')?.data).toEqual({
      attempt: 1,
      approvalId: pending.id,
      permission: 'edit',
      patterns: pending.patterns,
      title: 'edit a.txt',
      status: 'ALLOWED',
      expiresAt: pending.expiresAt,
      decidedBy: 'key',
      answeredByKeyId: operator.id,
    });
    // The fleet stream, filtered to approvals, carries the same two and nothing else.
    await waitFor(async () => fleet.events.length, (n) => n >= 2, { timeoutMs: 5_000, intervalMs: 20, what: 'the fleet approval events' });
    fleet.close();
    expect(fleet.events.map((e) => `${e.type}:${e.data.status}`)).toEqual(['approval:PENDING', 'approval:ALLOWED']);
  });

  it('deny: nothing is written, and the session ends FAILED saying which approval was denied by whom', async () => {
    const { id, workspace } = await createAsking();
    await start(id);
    const [pending] = await pendingOf(id);
    const denied = await answer(pending.id, { decision: 'deny', remember: true }, ADMIN).expect(200);
    expect(denied.body).toMatchObject({ status: 'DENIED', decidedBy: 'key', answeredByKeyId: 'bootstrap', remember: false });

    const done = await finalOf(id);
    expect(done.status).toBe('FAILED');
    expect(done.error.code).toBe('PERMISSION_DENIED');
    expect(done.error.message).toContain(pending.id);
    expect(done.error.message).toContain('denied by key bootstrap');
    expect(existsSync(join(workspace, 'a.txt'))).toBe(false);
    expect(done.awaitingApproval).toEqual([]);
  });

  it('timeout: unanswered, the approval expires (denied and recorded) and the session ends instead of hanging', async () => {
    const { id, workspace } = await createAsking();
    await start(id);
    const [pending] = await pendingOf(id);

    const done = await finalOf(id);
    expect(done.status).toBe('FAILED');
    expect(done.error).toEqual({ code: 'PERMISSION_DENIED', message: expect.stringContaining(`nobody answered it within ${APPROVAL_TIMEOUT_SECONDS} s`) });
    expect(existsSync(join(workspace, 'a.txt'))).toBe(false);
    const ranFor = new Date(done.finishedAt).getTime() - new Date(done.startedAt).getTime();
    expect(ranFor).toBeLessThan((APPROVAL_TIMEOUT_SECONDS + 15) * 1000);

    const expired = (await t.http.get(`/api/v1/approvals/${pending.id}`).set(ADMIN).expect(200)).body;
    expect(expired).toMatchObject({ status: 'EXPIRED', decidedBy: 'timeout', answeredByKeyId: null });
    expect(new Date(expired.answeredAt).getTime()).toBeGreaterThanOrEqual(new Date(expired.expiresAt).getTime());
    const late = await answer(pending.id, { decision: 'allow' }, operator.auth);
    expect(late.status).toBe(409);
    expect(late.body.message).toContain('EXPIRED');
  });

  it('cancel: cancelling the waiting session cancels its approval', async () => {
    const { id } = await createAsking();
    await start(id);
    const [pending] = await pendingOf(id);
    await t.http.post(`/api/v1/sessions/${id}/cancel`).set(operator.auth).expect(202);
    expect((await finalOf(id)).status).toBe('CANCELLED');
    const cancelled = await waitFor(
      async () => (await t.http.get(`/api/v1/approvals/${pending.id}`).set(ADMIN).expect(200)).body,
      (a) => a.status !== 'PENDING',
      { timeoutMs: 10_000, intervalMs: 50, what: 'the approval to be cancelled' },
    );
    expect(cancelled).toMatchObject({ status: 'CANCELLED', decidedBy: 'session-ended', answeredByKeyId: null });
  });

  it('answers 404 for an unknown approval and 400 naming the field for bad input', async () => {
    const unknown = await answer('00000000-0000-4000-8000-00000000beef', { decision: 'allow' }, ADMIN);
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('APPROVAL_NOT_FOUND');
    expect((await t.http.get('/api/v1/approvals/00000000-0000-4000-8000-00000000beef').set(ADMIN)).status).toBe(404);
    expect((await t.http.get('/api/v1/approvals/not-a-uuid').set(ADMIN)).status).toBe(400);

    const badDecision = await answer('00000000-0000-4000-8000-00000000beef', { decision: 'maybe' }, ADMIN);
    expect(badDecision.status).toBe(400);
    expect(badDecision.body).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('decision') });
    const badFilter = await t.http.get('/api/v1/approvals').query({ status: 'LATER', sessionId: 'x' }).set(ADMIN);
    expect(badFilter.status).toBe(400);
    expect(Object.keys(badFilter.body.details.fields).sort()).toEqual(['sessionId', 'status']);
  });

  it('counts approvals by outcome in the metrics', async () => {
    const text = (await t.http.get('/metrics').expect(200)).text;
    const count = (outcome: string) => Number(new RegExp(`^orchestrator_approvals_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
    expect({ allowed: count('allowed'), denied: count('denied'), expired: count('expired'), cancelled: count('cancelled') }).toEqual({
      allowed: 1,
      denied: 1,
      expired: 1,
      cancelled: 1,
    });
  });
});
