import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { OpencodeFleet } from '@app/opencode';
import { makeTempWorkspace, rehearsalRequests } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];
const READ_TOOLS = ['read', 'glob', 'grep', 'list'];

interface Finished {
  id: string;
  status: string;
  result: { summary: string } | null;
  assignment: { readOnly: boolean; permissions: Record<string, string> } | null;
}

/** Creates and starts a session, and waits for its end. */
async function runSession(t: TestApp, body: Record<string, unknown>, auth: Record<string, string> = {}): Promise<Finished> {
  const created = await t.http.post('/api/v1/sessions').set(auth).send({ title: 'confinement', ...body });
  expect(created.status).toBe(201);
  await t.http.post(`/api/v1/sessions/${created.body.id}/start`).set(auth).expect(202);
  return waitFor(
    async () => (await t.http.get(`/api/v1/sessions/${created.body.id}`).set(auth)).body as Finished,
    (s) => FINAL.includes(s.status),
    { timeoutMs: 45_000, what: `session ${created.body.id} to finish` },
  );
}

/**
 * OpenCode confinement through the real app and a real `opencode serve` on the rehearsal model:
 * first the session permission rules alone (the shared test server, reached through
 * OPENCODE_HOST, as a server the orchestrator does not manage), then the OS sandbox of a managed
 * server.
 */
describe('OpenCode confinement', () => {
  const base = realpathSync(makeTempWorkspace());
  /** A directory no session works in: nothing may ever appear in it. */
  const outside = join(base, 'outside');
  const tag = `confinement-${process.pid}-${Date.now().toString(36)}`;
  mkdirSync(outside);

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  describe('by the session permission rules', () => {
    let t: TestApp;
    const workspace = () => mkdtempSync(join(base, 'ws-'));
    const createAgent = async (name: string, body: Record<string, unknown>) => {
      const res = await t.http.post('/api/v1/agents').send({ name: `${tag}-${name}`, capabilities: [{ skill: 'code-review', level: 3 }], ...body });
      expect(res.status).toBe(201);
      return res.body as { id: string; readOnly: boolean; binding: { permissions: Record<string, string> } };
    };
    const offeredTools = async (marker: string) => {
      const requests = await rehearsalRequests(marker);
      expect(requests.length).toBeGreaterThan(0);
      return requests[0].tools?.map((tool) => tool.function?.name) ?? [];
    };

    beforeAll(async () => {
      t = await createTestApp();
    });
    afterAll(() => t?.close());

    it('refuses a write outside the workspace by the write tool; the session still completes, saying so', async () => {
      const ws = workspace();
      const done = await runSession(t, { workspace: ws, prompt: `[[write ${outside}/by-write.txt]]out[[/write]][[write in.txt]]in[[/write]]` });

      expect(done.status).toBe('COMPLETED');
      expect(done.result!.summary).toBe('Wrote in.txt\nRefused: write');
      expect(existsSync(join(outside, 'by-write.txt'))).toBe(false);
      expect(readFileSync(join(ws, 'in.txt'), 'utf8')).toBe('in');
    });

    it('refuses bash commands that name a path outside the workspace, and runs those inside it', async () => {
      const ws = workspace();
      const escaped = `escaped-${tag}`;
      const done = await runSession(t, {
        workspace: ws,
        prompt: [
          `[[bash]]touch ${outside}/by-bash[[/bash]]`,
          `[[bash]]cd .. && touch ${escaped}[[/bash]]`,
          '[[bash]]echo inside > by-bash.txt[[/bash]]',
        ].join('\n'),
      });

      expect(done.status).toBe('COMPLETED');
      expect(done.result!.summary).toBe('Ran 1 command\nRefused: bash, bash');
      expect(existsSync(join(outside, 'by-bash'))).toBe(false);
      expect(existsSync(join(base, escaped))).toBe(false);
      expect(readFileSync(join(ws, 'by-bash.txt'), 'utf8')).toBe('inside\n');
    });

    it('gives a REVIEWER bound to a writing OpenCode agent read and search tools only', async () => {
      const reviewer = await createAgent('reviewer', { role: 'REVIEWER', binding: { opencodeAgent: 'build' } });
      expect(reviewer.readOnly).toBe(true);
      const ws = workspace();
      const marker = `${tag}-review`;
      const done = await runSession(t, { workspace: ws, agentId: reviewer.id, prompt: `${marker} [[write review.txt]]x[[/write]]` });

      expect(done).toMatchObject({ status: 'COMPLETED', assignment: { readOnly: true, permissions: {} } });
      expect(done.result!.summary).toBe('The write tool is not available in this turn.');
      expect(existsSync(join(ws, 'review.txt'))).toBe(false);
      const offered = await offeredTools(marker);
      expect(offered).toEqual(expect.arrayContaining(['read', 'grep', 'glob']));
      // An allow-list: not only the writing tools the binding switches off (write, edit, bash, ...)
      // but every other tool the build agent has too.
      expect(offered.filter((tool) => !READ_TOOLS.includes(tool!))).toEqual([]);
    });

    it('applies binding.permissions to every session of the agent, subagents included', async () => {
      const agent = await createAgent('no-bash', { role: 'IMPLEMENTER', binding: { permissions: { bash: 'deny' } } });
      expect(agent.binding.permissions).toEqual({ bash: 'deny' });
      const ws = workspace();
      const marker = `${tag}-no-bash`;

      const direct = await runSession(t, { workspace: ws, agentId: agent.id, prompt: `${marker} [[bash]]touch direct.txt[[/bash]]` });
      expect(direct).toMatchObject({ status: 'COMPLETED', assignment: { readOnly: false, permissions: { bash: 'deny' } } });
      expect(direct.result!.summary).toBe('The bash tool is not available in this turn.');
      expect(await offeredTools(marker)).not.toContain('bash');

      // A subagent (task tool) inherits the deny: it cannot run the command for its parent.
      const delegated = await runSession(t, { workspace: ws, agentId: agent.id, prompt: '[[task]][[bash]]touch delegated.txt[[/bash]][[/task]]' });
      expect(delegated).toMatchObject({ status: 'COMPLETED', result: { summary: 'Delegated 1 subtask' } });
      expect(existsSync(join(ws, 'direct.txt'))).toBe(false);
      expect(existsSync(join(ws, 'delegated.txt'))).toBe(false);
    });
  });

  describe('by the OS sandbox of a managed server', () => {
    const apiKey = `confinement-key-${randomBytes(12).toString('hex')}`;
    const auth = { authorization: `Bearer ${apiKey}` };
    const roots = join(base, 'roots');
    let t: TestApp;
    /** Stands for any process of the orchestrator's user that holds its secrets in its environment. */
    let witness: ChildProcess;

    beforeAll(async () => {
      mkdirSync(roots);
      witness = spawn('sleep', ['600'], { env: { PATH: process.env.PATH, API_KEY: apiKey }, stdio: 'ignore' });
      t = await createTestApp({
        env: {
          OPENCODE_HOST: '',
          OPENCODE_PASSWORD: '',
          OPENCODE_MODEL: '',
          OPENCODE_SANDBOX: 'bwrap',
          DATA_DIR: join(base, 'data'),
          WORKSPACE_ROOTS: roots,
          API_KEY: apiKey,
        },
      });
    });
    afterAll(async () => {
      witness?.kill('SIGKILL');
      await t?.close();
      if (t) rmSync(join(t.config.orchestratorHome, '.confinement-probe'), { force: true });
    });

    it('runs the managed server in bubblewrap', () => {
      expect(t.app.get(OpencodeFleet).list()).toEqual([expect.objectContaining({ managed: true, sandboxed: true, state: 'READY' })]);
    });

    it('keeps what OpenCode\'s path check misses from writing outside the roots, and bash inside still works', async () => {
      const ws = mkdtempSync(join(roots, 'ws-'));
      const home = t.config.orchestratorHome;
      const done = await runSession(
        t,
        {
          workspace: ws,
          // Redirections and `sh -c` name no path OpenCode's bash check looks at: only the sandbox stops them.
          prompt: [
            `[[bash]]echo out > ${outside}/redirected; sh -c 'mkdir -p ${outside} && echo out > ${outside}/via-sh'; echo out > ${home}/.confinement-probe; echo inside > inside.txt[[/bash]]`,
          ].join('\n'),
        },
        auth,
      );

      expect(done).toMatchObject({ status: 'COMPLETED', result: { summary: 'Ran 1 command' } });
      expect(existsSync(join(outside, 'redirected'))).toBe(false);
      expect(existsSync(join(outside, 'via-sh'))).toBe(false);
      expect(existsSync(join(home, '.confinement-probe'))).toBe(false);
      expect(readFileSync(join(ws, 'inside.txt'), 'utf8')).toBe('inside\n');
    });

    it("lets the agent's shell find API_KEY in no /proc/*/environ", async () => {
      expect(readFileSync(`/proc/${witness.pid}/environ`, 'utf8')).toContain(apiKey);
      const ws = mkdtempSync(join(roots, 'ws-'));
      const control = `control-${randomBytes(6).toString('hex')}`;
      const done = await runSession(
        t,
        {
          workspace: ws,
          prompt: [
            // The probe itself works: a value in its own environment is found.
            `[[bash]]CONTROL=${control} sh -c 'grep -l -s ${control} /proc/*/environ' > control.txt; grep -l -s ${apiKey} /proc/*/environ > found.txt; true[[/bash]]`,
          ].join('\n'),
        },
        auth,
      );

      expect(done.status).toBe('COMPLETED');
      expect(readFileSync(join(ws, 'control.txt'), 'utf8')).toMatch(/\/proc\/(self|\d+)\/environ/);
      expect(readFileSync(join(ws, 'found.txt'), 'utf8')).toBe('');
    });
  });
});
