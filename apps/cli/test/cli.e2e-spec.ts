import { spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { git, makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

const ROOT = join(__dirname, '..', '..', '..');
const LAUNCHER = join(ROOT, 'bin', 'orchestrator.js');
const REVIEWER_ID = '00000000-0000-4000-a000-000000000003';

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface RunningCli {
  /** Resolves when the process exits. */
  done: Promise<CliRun>;
  output(): string;
  kill(signal: NodeJS.Signals): void;
}

/**
 * The CLI as a user runs it: `bin/orchestrator.js` in its own process (from the TypeScript
 * source, whatever dist holds), asynchronously, so that the app in this process keeps serving.
 */
function startCli(args: string[], env: Record<string, string> = {}): RunningCli {
  const child = spawn(process.execPath, [LAUNCHER, ...args], {
    cwd: ROOT,
    env: { ...process.env, ORCHESTRATOR_CLI_FROM_SOURCE: '1', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { done, output: () => stdout + stderr, kill: (signal) => child.kill(signal) };
}

describe('orchestrator CLI against the real app (API + worker + rehearsal OpenCode)', () => {
  let t: TestApp;
  let url: string;
  const cli = (...args: string[]) => startCli(['--url', url, ...args]).done;

  beforeAll(async () => {
    t = await createTestApp();
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(() => t.close());

  it('runs a session that writes a file to COMPLETED, showing its progress', async () => {
    const workspace = makeTempWorkspace();
    const r = await cli('run', '--workspace', workspace, '--prompt', 'Write it. [[write a.txt]]x[[/write]]', '--title', 'cli write');
    expect(r.stderr).toMatch(/created session [0-9a-f-]{36}/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/QUEUED/);
    expect(r.stdout).toMatch(/RUNNING \(attempt 1\)/);
    expect(r.stdout).toMatch(/tool write a\.txt: completed/);
    expect(r.stdout).toMatch(/files changed: a\.txt/);
    expect(r.stdout).toMatch(/COMPLETED in [\d.]+m?s \| files changed: a\.txt \| \d+ in \/ \d+ out tokens/);
    // The answer text streams as it comes.
    expect(r.stdout).toMatch(/\| .*a\.txt/);
    expect(readFileSync(join(workspace, 'a.txt'), 'utf8')).toBe('x');
    // Order: transitions and progress as they happened.
    const at = (re: RegExp) => r.stdout.search(re);
    expect(at(/RUNNING/)).toBeLessThan(at(/tool write/));
    expect(at(/tool write/)).toBeLessThan(at(/COMPLETED/));
  });

  it('exits 1 with the error code and message when the session fails', async () => {
    const workspace = makeTempWorkspace();
    const r = await cli('run', '--workspace', workspace, '--prompt', '[[fail: boom]]');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAILED/);
    expect(r.stdout).toMatch(/PROVIDER_ERROR: .*boom/);
  });

  it('emits one JSON event per line with --json, ending with the final transition', async () => {
    const workspace = makeTempWorkspace();
    const r = await cli('--json', 'run', '--workspace', workspace, '--prompt', 'plain answer');
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ type: 'snapshot', data: { status: 'PENDING' } });
    const transitions = events.filter((e) => e.type === 'transition').map((e) => e.data.to);
    expect(transitions).toEqual(['QUEUED', 'RUNNING', 'COMPLETED']);
  });

  it('starts without following, then follows the running session (late join), lists and shows it', async () => {
    const workspace = makeTempWorkspace();
    const started = await cli('run', '--no-follow', '--workspace', workspace, '--prompt', '[[slow 2]][[write b.txt]]b[[/write]]', '--title', 'cli late join');
    expect(started.code).toBe(0);
    const id = /session ([0-9a-f-]{36}) started: (QUEUED|RUNNING)/.exec(started.stdout)?.[1];
    expect(id).toBeDefined();

    const followed = await cli('follow', id!);
    expect(followed.code).toBe(0);
    expect(followed.stdout).toMatch(new RegExp(`session ${id} "cli late join": (QUEUED|RUNNING)`));
    expect(followed.stdout).toMatch(/COMPLETED in .*files changed: b\.txt/);

    // A finished session: its snapshot and outcome at once.
    const again = await cli('follow', id!);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/: COMPLETED\n.*COMPLETED in/);

    const list = await cli('sessions', '--limit', '10');
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+TRY\s+AGENT\s+CREATED\s+RAN\s+TITLE$/);
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+COMPLETED\\s+1\\s+.*cli late join`));
    const completedOnly = await cli('sessions', '--status', 'completed', '--json');
    expect(JSON.parse(completedOnly.stdout).items.every((s: { status: string }) => s.status === 'COMPLETED')).toBe(true);

    const shown = await cli('show', id!);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/status\s+COMPLETED \(attempt 1, version \d+\)/);
    expect(shown.stdout).toMatch(/files\s+b\.txt/);
    expect(shown.stdout).toMatch(/RUNNING\s+-> COMPLETED/);
  });

  it('cancels its session on Ctrl-C and exits 130', async () => {
    const workspace = makeTempWorkspace();
    const running = startCli(['--url', url, 'run', '--workspace', workspace, '--prompt', 'Think slowly. [[slow 60]]']);
    await waitFor(async () => running.output(), (o) => /RUNNING/.test(o), { what: 'RUNNING in the output', timeoutMs: 30_000 });
    const id = /created session ([0-9a-f-]{36})/.exec(running.output())![1];
    running.kill('SIGINT');
    const r = await running.done;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/cancel requested: session .* is RUNNING/);
    await waitFor(async () => (await t.http.get(`/api/v1/sessions/${id}`)).body.status, (s) => s === 'CANCELLED', { what: 'CANCELLED', timeoutMs: 15_000 });
  });

  it('cancels a session with the cancel command, and reports API errors as code: message', async () => {
    const workspace = makeTempWorkspace();
    const created = await t.http.post('/api/v1/sessions').send({ title: 'to cancel', workspace, prompt: 'never runs' }).expect(201);
    const cancelled = await cli('cancel', created.body.id);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain(`session ${created.body.id} is CANCELLED`);

    const again = await cli('cancel', created.body.id);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^INVALID_TRANSITION: /);

    const unknown = await cli('show', '00000000-0000-4000-8000-000000000000');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^SESSION_NOT_FOUND: /);

    const badWorkspace = await cli('run', '--workspace', '/definitely/not/here', '--prompt', 'x');
    expect(badWorkspace.code).toBe(2);
    expect(badWorkspace.stderr).toMatch(/^WORKSPACE_INVALID: /);

    const badArgs = await cli('sessions', '--limit', 'many');
    expect(badArgs.code).toBe(2);
    expect(badArgs.stderr).toMatch(/^USAGE: --limit must be a whole number/);
  });

  it('shows the agents and an agent\'s performance with its tier', async () => {
    const agents = await cli('agents');
    expect(agents.code).toBe(0);
    expect(agents.stdout).toMatch(new RegExp(`${REVIEWER_ID}\\s+reviewer\\s+REVIEWER\\s+(PLATINUM|GOLD|SILVER|BRONZE)`));

    const perf = await cli('agent-performance', REVIEWER_ID, '--last', '10');
    expect(perf.code).toBe(0);
    expect(perf.stdout).toMatch(/^reviewer \(REVIEWER/);
    expect(perf.stdout).toMatch(/tier: (PLATINUM|GOLD|SILVER|BRONZE)/);
    expect(perf.stdout).toMatch(/LAST 10\s+ALL TIME/);
    expect(perf.stdout).toMatch(/success rate/);
    expect(perf.stdout).toMatch(/p95 duration/);

    const byName = await cli('--json', 'agent-performance', 'reviewer');
    expect(JSON.parse(byName.stdout)).toMatchObject({ agentId: REVIEWER_ID, name: 'reviewer', tier: expect.any(String) });
  });

  it('lists plans and shows one with its tasks', async () => {
    const workspace = makeTempWorkspace();
    const tasks = [
      { key: 'design', title: 'design it', instructions: 'design', role: 'ARCHITECT', dependsOn: [], estimateMinutes: 10 },
      { key: 'build', title: 'build it', instructions: 'build', role: 'IMPLEMENTER', dependsOn: ['design'], estimateMinutes: 10 },
    ];
    const created = await t.http.post('/api/v1/plans').send({ requirement: 'A CLI demo plan', workspace, tasks }).expect(201);

    const list = await cli('plans', '--limit', '5');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${created.body.id}\\s+DRAFT\\s+.*A CLI demo plan`));

    const shown = await cli('plan', created.body.id);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/progress\s+\[\.+\] 0% of 2 tasks/);
    expect(shown.stdout).toMatch(/TASK\s+STATUS\s+ROLE\s+AGENT\s+SESSION/);
    expect(shown.stdout).toMatch(/design\*?\s+\S+\s+ARCHITECT/);
    expect(shown.stdout).toMatch(/build\*?\s+\S+\s+IMPLEMENTER\s+-\s+-\s+design/);
  });

  describe('worktrees', () => {
    const repository = (files: Record<string, string>) => realpathSync(makeTempWorkspace({ git: true, files }));
    const sessionId = (stdout: string) => /session ([0-9a-f-]{36}) started/.exec(stdout)![1];
    const finished = (id: string) =>
      waitFor(async () => (await t.http.get(`/api/v1/sessions/${id}`)).body, (s) => ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'].includes(s.status), {
        what: `session ${id} finished`,
        timeoutMs: 45_000,
      });

    it('runs on a branch made from --base, shows its branch and changes, and prints its diff as text and JSON', async () => {
      const repo = repository({ 'shared.txt': 'base\n' });
      git(repo, 'branch', 'release');
      const releaseHead = git(repo, 'rev-parse', 'release');
      const ran = await cli('run', '--workspace', repo, '--isolation', 'worktree', '--base', 'release', '--title', 'cli branch', '--prompt', '[[write shared.txt]]one\n[[/write]][[write a.txt]]a\n[[/write]]');
      expect(ran.code).toBe(0);
      const id = /created session ([0-9a-f-]{36})/.exec(ran.stderr)![1];
      const s = (await t.http.get(`/api/v1/sessions/${id}`)).body;

      const shown = await cli('show', id);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(/^isolation\s+worktree$/m);
      expect(shown.stdout).toContain(`branch     ${s.changes.branch}`);
      expect(shown.stdout).toContain(`base       ${releaseHead.slice(0, 7)} (release)`);
      expect(shown.stdout).toContain(`head       ${s.changes.headCommit.slice(0, 7)}`);
      expect(shown.stdout).toMatch(/^changes\s+2 files, \+2 -1: a\.txt, shared\.txt$/m);
      expect(shown.stdout).toContain(`worktree   ACTIVE in ${repo}`);

      // Exactly the API's text; with --json its per-file JSON.
      const diff = await cli('diff', id);
      expect(diff.code).toBe(0);
      expect(diff.stdout).toBe((await t.http.get(`/api/v1/sessions/${id}/diff`)).text);
      expect(diff.stdout).toContain('diff --git a/shared.txt b/shared.txt');
      expect(diff.stdout).toContain('-base\n+one\n');
      const files = JSON.parse((await cli('diff', id, '--json')).stdout);
      expect(files.map((f: { path: string; status: string }) => `${f.path} ${f.status}`)).toEqual(['a.txt added', 'shared.txt modified']);
    });

    it('merges one branch, refuses a conflicting one naming its files (exit 1) or a bad target (exit 2), and discards it', async () => {
      const repo = repository({ 'shared.txt': 'base\n' });
      git(repo, 'branch', 'release');
      const current = git(repo, 'branch', '--show-current');
      const start = async (title: string, prompt: string) => {
        const { id } = (await t.http.post('/api/v1/sessions').send({ title, prompt, workspace: repo }).expect(201)).body;
        await t.http.post(`/api/v1/sessions/${id}/start`).expect(202);
        return id as string;
      };
      const one = await start('cli one side', '[[write shared.txt]]one\n[[/write]]');
      const other = await start('cli other side', '[[write shared.txt]]other\n[[/write]]');
      const [s1, s2] = await Promise.all([finished(one), finished(other)]);
      expect([s1.status, s2.status]).toEqual(['COMPLETED', 'COMPLETED']);

      // Into release, which is not checked out.
      const merged = await cli('merge', one, '--target', 'release', '--strategy', 'squash');
      expect(merged.code).toBe(0);
      const releaseNow = git(repo, 'rev-parse', 'release');
      expect(merged.stdout).toBe(`merged ${s1.changes.branch} into release (squash): ${releaseNow.slice(0, 7)}\n`);
      expect(git(repo, 'show', 'release:shared.txt')).toBe('one');
      const mergedShown = await cli('show', one);
      expect(mergedShown.stdout).toMatch(/^worktree\s+MERGED in /m);
      expect(mergedShown.stdout).toMatch(new RegExp(`^merged\\s+into release \\(squash\\): ${releaseNow.slice(0, 7)} at `, 'm'));

      const conflict = await cli('merge', other, '--target', 'release');
      expect(conflict.code).toBe(1);
      expect(conflict.stdout).toBe('');
      expect(conflict.stderr).toMatch(/^MERGE_CONFLICT: .*shared\.txt.*\n  shared\.txt\n$/);
      expect(git(repo, 'rev-parse', 'release')).toBe(releaseNow);

      const badTarget = await cli('merge', other, '--target', 'no/such/branch');
      expect(badTarget.code).toBe(2);
      expect(badTarget.stderr).toMatch(/^MERGE_TARGET_INVALID: /);

      const discarded = await cli('discard', other);
      expect(discarded.code).toBe(0);
      expect(discarded.stdout).toBe(`discarded ${s2.changes.branch} of session ${other}: worktree DISCARDED\n`);
      expect(git(repo, 'branch', '--list', s2.changes.branch)).toBe('');
      const again = await cli('discard', other);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/^WORKTREE_GONE: /);
      // The checked-out branch was never touched.
      expect(git(repo, 'branch', '--show-current')).toBe(current);
      expect(git(repo, 'status', '--porcelain')).toBe('');
    });

    it('runs a shared session when asked, which has no diff; refuses --base with it (exit 2)', async () => {
      const repo = repository({ 'README.md': 'hello\n' });
      const refused = await cli('run', '--workspace', repo, '--isolation', 'shared', '--base', 'HEAD', '--prompt', 'x');
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/^ISOLATION_INVALID: /);

      const id = sessionId((await cli('run', '--no-follow', '--workspace', repo, '--isolation', 'shared', '--prompt', 'plain answer')).stdout);
      await finished(id);
      const shown = await cli('show', id);
      expect(shown.stdout).toMatch(/^isolation\s+shared$/m);
      expect(shown.stdout).not.toMatch(/^branch /m);
      const diff = await cli('diff', id);
      expect(diff.code).toBe(1);
      expect(diff.stderr).toMatch(/^NO_WORKTREE: /);
      const merge = await cli('merge', id);
      expect(merge.code).toBe(1);
      expect(merge.stderr).toMatch(/^NO_WORKTREE: /);
    });

    it('shows a plan\'s integration branch and merges it with plan-merge', async () => {
      const repo = repository({ 'README.md': 'hello\n' });
      const tasks = [
        { key: 'one', title: 'write one', instructions: '[[write one.txt]]1\n[[/write]]', role: 'IMPLEMENTER', dependsOn: [], estimateMinutes: 10 },
        { key: 'two', title: 'write two', instructions: '[[write two.txt]]2\n[[/write]]', role: 'IMPLEMENTER', dependsOn: ['one'], estimateMinutes: 10 },
      ];
      const created = (await t.http.post('/api/v1/plans').send({ requirement: 'A CLI plan on a branch', workspace: repo, tasks }).expect(201)).body;
      const draft = await cli('plan', created.id);
      expect(draft.stdout).toMatch(/^branch\s+- \(made when the plan runs, in a git workspace\)$/m);

      const early = await cli('plan-merge', created.id);
      expect(early.code).toBe(1);
      expect(early.stderr).toMatch(/^PLAN_INVALID_STATE: /);

      await t.http.post(`/api/v1/plans/${created.id}/run`).expect(202);
      const plan = await waitFor(async () => (await t.http.get(`/api/v1/plans/${created.id}`)).body, (p) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(p.status), {
        what: 'plan finished',
        timeoutMs: 90_000,
        intervalMs: 500,
      });
      expect(plan.status).toBe('COMPLETED');
      const shown = await cli('plan', created.id);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toContain(`branch     ${plan.branch.name} in ${repo}`);
      expect(shown.stdout).toContain(`commits    ${plan.branch.baseCommit.slice(0, 7)}..${plan.branch.headCommit.slice(0, 7)}`);
      expect(shown.stdout).toContain('changes    2 files, +2 -0: one.txt, two.txt');
      expect(shown.stdout).toMatch(/^one\*?\s+COMPLETED\s+IMPLEMENTER/m);

      const merged = await cli('plan-merge', created.id, '--strategy', 'squash');
      expect(merged.code).toBe(0);
      expect(merged.stdout).toBe(`merged ${plan.branch.name} into ${git(repo, 'branch', '--show-current')} (squash): ${git(repo, 'rev-parse', '--short=7', 'HEAD')}\n`);
      expect(readFileSync(join(repo, 'two.txt'), 'utf8')).toBe('2\n');

      // Squashed again: the same tree, nothing to commit.
      const again = await cli('--json', 'plan-merge', created.id, '--strategy', 'squash');
      expect(again.code).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ status: 'up-to-date', commit: git(repo, 'rev-parse', 'HEAD') });
    });
  });
});
