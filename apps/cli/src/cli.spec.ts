import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCli } from './cli';
import { CliIo } from './commands';

const ID = '11111111-1111-4111-8111-111111111111';
const PLAN = '22222222-2222-4222-8222-222222222222';
const COMMIT = 'abcdef0123456789abcdef0123456789abcdef01';
const BRANCH = 'orchestrator/11111111-demo';

/** A stand-in HTTP server (not the orchestrator): each test sets how it answers; every request is recorded. */
let handler: (req: IncomingMessage, body: string, res: ServerResponse) => void;
let requests: Array<{ method: string; url: string; accept: string; body: unknown }>;
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, accept: String(req.headers.accept), body: body ? JSON.parse(body) : undefined });
      handler(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  requests = [];
});

const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const error = (res: ServerResponse, statusCode: number, code: string, message: string, details?: unknown) => json(res, statusCode, { statusCode, code, message, details });

/** Runs one command line against the stand-in; what it printed, line by line, and its exit code. */
async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: (text) => out.push(`${text}\n`),
    stderr: (text) => err.push(`${text}\n`),
    onInterrupt: () => () => undefined,
    readStdin: async () => '',
    cwd: '/home/me',
  };
  const code = await runCli(['--url', url, ...argv], { NO_COLOR: '1' }, io, false);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const worktreeSession = (state = 'ACTIVE') => ({
  id: ID,
  title: 'demo',
  status: 'COMPLETED',
  isolation: 'worktree',
  changes: { branch: BRANCH, baseCommit: '1'.repeat(40), headCommit: '2'.repeat(40), files: ['a.txt'], insertions: 1, deletions: 0 },
  worktree: { state, repository: '/repo', subdirectory: '', baseRef: null, mergeIn: null, merge: null },
});

describe('run with worktree options', () => {
  it('sends isolation and baseRef with the new session', async () => {
    handler = (req, _body, res) => (req.url!.endsWith('/start') ? json(res, 202, {}) : json(res, req.method === 'POST' ? 201 : 200, { id: ID, status: 'QUEUED' }));
    const r = await cli('run', '--no-follow', '--workspace', 'repo', '--prompt', 'p', '--isolation', 'worktree', '--base', 'main');
    expect(r.code).toBe(0);
    expect(requests[0]).toMatchObject({ method: 'POST', url: '/api/v1/sessions', body: { workspace: '/home/me/repo', isolation: 'worktree', baseRef: 'main' } });
  });

  it('sends neither when not given (the server decides)', async () => {
    handler = (req, _body, res) => (req.url!.endsWith('/start') ? json(res, 202, {}) : json(res, req.method === 'POST' ? 201 : 200, { id: ID, status: 'QUEUED' }));
    await cli('run', '--no-follow', '--workspace', '/w', '--prompt', 'p');
    expect(requests[0].body).not.toHaveProperty('isolation');
    expect(requests[0].body).not.toHaveProperty('baseRef');
  });
});

describe('diff', () => {
  const DIFF = 'diff --git a/a.txt b/a.txt\nnew file mode 100644\n--- /dev/null\n+++ b/a.txt\n@@ -0,0 +1 @@\n+{"not": "json"}\n';

  it('prints the unified diff exactly as the API sends it', async () => {
    handler = (_req, _body, res) => res.writeHead(200, { 'content-type': 'text/x-diff; charset=utf-8' }).end(DIFF);
    const r = await cli('diff', ID);
    expect(r).toEqual({ code: 0, stdout: DIFF, stderr: '' });
    expect(requests[0]).toMatchObject({ method: 'GET', url: `/api/v1/sessions/${ID}/diff` });
    expect(requests[0].accept).toMatch(/^text\/x-diff/);
  });

  it('prints nothing when nothing changed', async () => {
    handler = (_req, _body, res) => res.writeHead(200, { 'content-type': 'text/x-diff; charset=utf-8' }).end('');
    expect(await cli('diff', ID)).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('prints the per-file JSON with --json', async () => {
    const files = [{ path: 'a.txt', oldPath: null, status: 'added', insertions: 1, deletions: 0, binary: false, hunks: [] }];
    handler = (_req, _body, res) => json(res, 200, files);
    const r = await cli('diff', ID, '--json');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${JSON.stringify(files, null, 2)}\n`);
    expect(requests[0].url).toBe(`/api/v1/sessions/${ID}/diff?format=json`);
  });

  it('reports the API error of a text request as CODE: message', async () => {
    handler = (_req, _body, res) => error(res, 409, 'NO_WORKTREE', `session ${ID} shares its workspace: it has no branch`);
    expect(await cli('diff', ID)).toEqual({ code: 1, stdout: '', stderr: `NO_WORKTREE: session ${ID} shares its workspace: it has no branch\n` });
  });

  it('wants a UUID', async () => {
    const r = await cli('diff', 'nope');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('USAGE: ID must be a UUID, got "nope"\nsee: orchestrator help diff\n');
    expect(requests).toEqual([]);
  });
});

describe('merge', () => {
  it('merges with the options given and prints one line', async () => {
    handler = (_req, _body, res) => json(res, 200, { status: 'merged', target: 'release', strategy: 'squash', commit: COMMIT, session: worktreeSession('MERGED') });
    const r = await cli('merge', ID, '--target', 'release', '--strategy', 'squash');
    expect(r).toEqual({ code: 0, stdout: `merged ${BRANCH} into release (squash): abcdef0\n`, stderr: '' });
    expect(requests[0]).toMatchObject({ method: 'POST', url: `/api/v1/sessions/${ID}/merge`, body: { target: 'release', strategy: 'squash' } });
  });

  it('sends an empty body without options, says when the target was up to date, and prints the JSON with --json', async () => {
    const answer = { status: 'up-to-date', target: 'main', strategy: 'merge', commit: COMMIT, session: worktreeSession('MERGED') };
    handler = (_req, _body, res) => json(res, 200, answer);
    const r = await cli('merge', ID);
    expect(r.stdout).toBe(`up to date: main already holds ${BRANCH}, nothing merged: abcdef0\n`);
    expect(requests[0].body).toEqual({});
    expect(JSON.parse((await cli('--json', 'merge', ID)).stdout)).toEqual(answer);
  });

  it.each([
    ['MERGE_CONFLICT', `merging ${BRANCH} into main conflicts in a.txt, src/b.ts; nothing was changed`],
    ['WORKSPACE_DIRTY', 'main is checked out in /repo, which has uncommitted changes (a.txt, src/b.ts); commit or stash them first'],
  ])('on %s prints CODE: message and the files, one per line, on stderr; exit 1', async (code, message) => {
    handler = (_req, _body, res) => error(res, 409, code, message, { files: ['a.txt', 'src/b.ts'], target: 'main' });
    expect(await cli('merge', ID)).toEqual({ code: 1, stdout: '', stderr: `${code}: ${message}\n  a.txt\n  src/b.ts\n` });
  });

  it('exits 2 on a 400 (MERGE_TARGET_INVALID) and 1 on another 409 (WORKTREE_GONE)', async () => {
    handler = (_req, _body, res) => error(res, 400, 'MERGE_TARGET_INVALID', '"nope" is not a branch of /repo');
    expect(await cli('merge', ID, '--target', 'nope')).toEqual({ code: 2, stdout: '', stderr: 'MERGE_TARGET_INVALID: "nope" is not a branch of /repo\n' });
    handler = (_req, _body, res) => error(res, 409, 'WORKTREE_GONE', 'its branch was merged');
    expect(await cli('merge', ID)).toEqual({ code: 1, stdout: '', stderr: 'WORKTREE_GONE: its branch was merged\n' });
  });

  it('refuses a strategy the API does not know before asking it', async () => {
    const r = await cli('merge', ID, '--strategy', 'octopus');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^USAGE: --strategy must be one of merge, squash, rebase, got "octopus"\nsee: orchestrator help merge\n$/);
    expect(requests).toEqual([]);
  });
});

describe('discard', () => {
  it('discards the branch and says so', async () => {
    handler = (_req, _body, res) => json(res, 200, worktreeSession('DISCARDED'));
    expect(await cli('discard', ID)).toEqual({ code: 0, stdout: `discarded ${BRANCH} of session ${ID}: worktree DISCARDED\n`, stderr: '' });
    expect(requests[0]).toMatchObject({ method: 'POST', url: `/api/v1/sessions/${ID}/discard` });
  });

  it('exits 1 on SESSION_RUNNING', async () => {
    handler = (_req, _body, res) => error(res, 409, 'SESSION_RUNNING', 'the session is RUNNING');
    expect(await cli('discard', ID)).toMatchObject({ code: 1, stderr: 'SESSION_RUNNING: the session is RUNNING\n' });
  });
});

describe('plan-merge', () => {
  it('merges the plan and names its integration branch', async () => {
    handler = (req, _body, res) =>
      req.method === 'POST'
        ? json(res, 200, { commit: COMMIT, target: 'main', strategy: 'rebase', status: 'merged' })
        : json(res, 200, { id: PLAN, branch: { name: 'orchestrator/plan-22222222' } });
    expect(await cli('plan-merge', PLAN, '--strategy', 'rebase')).toEqual({ code: 0, stdout: 'merged orchestrator/plan-22222222 into main (rebase): abcdef0\n', stderr: '' });
    expect(requests.map((q) => `${q.method} ${q.url}`)).toEqual([`POST /api/v1/plans/${PLAN}/merge`, `GET /api/v1/plans/${PLAN}`]);
    expect(requests[0].body).toEqual({ strategy: 'rebase' });
  });

  it('prints the files of a conflict, and exits 1', async () => {
    handler = (_req, _body, res) => error(res, 409, 'MERGE_CONFLICT', 'merging conflicts in a.txt; nothing was changed', { files: ['a.txt'] });
    expect(await cli('plan-merge', PLAN)).toEqual({ code: 1, stdout: '', stderr: 'MERGE_CONFLICT: merging conflicts in a.txt; nothing was changed\n  a.txt\n' });
  });

  it('prints the answer with --json, without reading the plan', async () => {
    const answer = { commit: COMMIT, target: 'main', strategy: 'merge', status: 'up-to-date' };
    handler = (_req, _body, res) => json(res, 200, answer);
    expect(JSON.parse((await cli('plan-merge', PLAN, '--json')).stdout)).toEqual(answer);
    expect(requests).toHaveLength(1);
  });
});

describe('capacity', () => {
  it('shows GET /api/v1/capacity readably, and as JSON with --json', async () => {
    const answer = {
      rules: [{ pattern: 'anthropic/*', concurrency: { limit: 8, inUse: 3, holders: [], waiting: 0 } }],
      marks: [{ model: 'openai/gpt-5', kind: 'cooldown', until: '2025-01-31T15:00:00.000Z', why: 'HTTP 429' }],
    };
    handler = (_req, _body, res) => json(res, 200, answer);
    const r = await cli('capacity');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('anthropic/*  concurrency 3/8');
    expect(r.stdout).toMatch(/openai\/gpt-5 {2}cooldown {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}HTTP 429/);
    expect(requests.map((q) => `${q.method} ${q.url}`)).toEqual(['GET /api/v1/capacity']);
    expect(JSON.parse((await cli('capacity', '--json')).stdout)).toEqual(answer);
  });

  it('exits 1 with the API error of a server without the route', async () => {
    handler = (_req, _body, res) => error(res, 404, 'NOT_FOUND', 'Cannot GET /api/v1/capacity');
    expect(await cli('capacity')).toEqual({ code: 1, stdout: '', stderr: 'NOT_FOUND: Cannot GET /api/v1/capacity\n' });
  });
});

describe('plan-budget', () => {
  const planAt = (version: number, budget: unknown) => ({ id: PLAN, version, status: 'PAUSED', pausedReason: 'BUDGET', budget });

  it('reads the version, sends the limits given on top of the budget it has, and prints the new budget', async () => {
    handler = (req, body, res) =>
      req.method === 'PATCH'
        ? json(res, 200, { ...planAt(8, JSON.parse(body).budget), spend: { spent: { tokens: 100, costUsd: 1, minutes: 2 }, forecast: null, remaining: { maxCostUsd: 4 } } })
        : json(res, 200, planAt(7, { maxCostUsd: 1, maxTokens: 50000 }));
    const r = await cli('plan-budget', PLAN, '--max-cost-usd', '5');
    expect(r.code).toBe(0);
    expect(requests.map((q) => `${q.method} ${q.url}`)).toEqual([`GET /api/v1/plans/${PLAN}`, `PATCH /api/v1/plans/${PLAN}`]);
    expect(requests[1].body).toEqual({ version: 7, budget: { maxCostUsd: 5, maxTokens: 50000 } });
    expect(r.stdout.split('\n')[0]).toBe(`plan ${PLAN}: budget $5.00, 50000 tokens`);
    expect(r.stdout).toContain('spent $1.00 of $5.00 ($4.00 left)');
    expect(r.stdout).toContain('run it again to resume');
  });

  it('--clear sends a null budget, or only the limits given after it', async () => {
    handler = (req, body, res) => json(res, 200, req.method === 'PATCH' ? planAt(2, JSON.parse(body).budget) : planAt(1, { maxCostUsd: 1 }));
    await cli('plan-budget', PLAN, '--clear');
    expect(requests[1].body).toEqual({ version: 1, budget: null });
    requests = [];
    await cli('plan-budget', PLAN, '--clear', '--max-minutes', '90.5');
    expect(requests[1].body).toEqual({ version: 1, budget: { maxMinutes: 90.5 } });
  });

  it('reads the plan again when it changed in between (VERSION_CONFLICT)', async () => {
    let reads = 0;
    handler = (req, body, res) => {
      if (req.method === 'GET') return json(res, 200, planAt(++reads, null));
      if (JSON.parse(body).version === 1) return error(res, 409, 'VERSION_CONFLICT', 'the plan changed since you read it');
      json(res, 200, planAt(3, JSON.parse(body).budget));
    };
    const r = await cli('plan-budget', PLAN, '--max-tokens', '1000');
    expect(r.code).toBe(0);
    expect(requests.map((q) => q.method)).toEqual(['GET', 'PATCH', 'GET', 'PATCH']);
    expect(requests[3].body).toEqual({ version: 2, budget: { maxTokens: 1000 } });
  });

  it('refuses a missing or bad limit before asking the API', async () => {
    handler = (_req, _body, res) => json(res, 200, {});
    const none = await cli('plan-budget', PLAN);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('USAGE: give --max-cost-usd, --max-tokens, --max-minutes or --clear');
    expect((await cli('plan-budget', PLAN, '--max-cost-usd', '0')).stderr).toContain('--max-cost-usd must be above 0');
    expect((await cli('plan-budget', PLAN, '--max-cost-usd', 'lots')).stderr).toContain('--max-cost-usd must be a number, got "lots"');
    expect((await cli('plan-budget', PLAN, '--max-tokens', '1.5')).stderr).toContain('--max-tokens must be a whole number');
    expect(requests).toEqual([]);
  });

  it('says so when the server is too old to say the plan\'s version', async () => {
    handler = (_req, _body, res) => json(res, 200, { id: PLAN, status: 'RUNNING' });
    const r = await cli('plan-budget', PLAN, '--max-cost-usd', '5');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('too old to set budgets');
    expect(requests).toHaveLength(1);
  });
});

describe('run with a budget', () => {
  it('sends the session\'s budget only when a limit is given', async () => {
    handler = (req, _body, res) => (req.url!.endsWith('/start') ? json(res, 202, {}) : json(res, req.method === 'POST' ? 201 : 200, { id: ID, status: 'QUEUED' }));
    await cli('run', '--no-follow', '--workspace', '/w', '--prompt', 'p', '--max-cost-usd', '0.5', '--max-tokens', '20000');
    expect(requests[0].body).toMatchObject({ budget: { maxCostUsd: 0.5, maxTokens: 20000 } });
    requests = [];
    await cli('run', '--no-follow', '--workspace', '/w', '--prompt', 'p');
    expect(requests[0].body).not.toHaveProperty('budget');
  });
});
