import {
  clock,
  EventRenderer,
  formatCost,
  formatDuration,
  formatMergeResult,
  formatOutcome,
  formatPerformance,
  formatPlan,
  formatSession,
  formatSessionsTable,
  makeStyle,
  table,
  truncate,
} from './format';
import { AgentPerformance, PlanView, SessionView, StreamEnvelope } from './views';

const T0 = new Date(2025, 0, 31, 14, 3, 7).toISOString(); // local 14:03:07
const ev = (type: string, data: Record<string, unknown>, at = T0): StreamEnvelope => ({ sessionId: 's1', type, at, data });

const session = (over: Partial<SessionView> = {}): SessionView => ({
  id: '11111111-1111-4111-8111-111111111111',
  title: 'demo',
  status: 'COMPLETED',
  attempt: 1,
  version: 4,
  agentId: null,
  agent: 'build',
  result: { summary: 'Wrote a.txt', filesChanged: ['a.txt'] },
  usage: { inputTokens: 120, outputTokens: 30, costUsd: 0.0012 },
  error: null,
  queuedAt: T0,
  startedAt: T0,
  finishedAt: new Date(new Date(T0).getTime() + 2_345).toISOString(),
  createdAt: T0,
  ...over,
});

describe('small formatters', () => {
  it('formats durations, costs, clock times and truncation', () => {
    expect([formatDuration(null), formatDuration(250), formatDuration(2_345), formatDuration(125_000), formatDuration(2 * 3_600_000 + 5 * 60_000)]).toEqual([
      '-', '250ms', '2.3s', '2m05s', '2h05m',
    ]);
    expect([formatCost(null), formatCost(0), formatCost(0.0012), formatCost(1.5)]).toEqual(['-', '$0', '$0.0012', '$1.50']);
    expect(clock(T0)).toBe('14:03:07');
    expect(truncate('a  b\nc', 10)).toBe('a b c');
    expect(truncate('abcdefghijkl', 8)).toBe('abcde...');
  });

  it('pads table columns to the widest cell, ignoring colour codes, without trailing blanks', () => {
    const style = makeStyle(true);
    const out = table(['ID', 'STATUS', 'TITLE'], [['1', style.green('COMPLETED'), 'x'], ['22', 'QUEUED', 'longer title']]);
    expect(out.replace(/\u001b\[[0-9;]*m/g, '').split('\n')).toEqual([
      'ID  STATUS     TITLE',
      '1   COMPLETED  x',
      '22  QUEUED     longer title',
    ]);
  });

  it('has no colour codes unless asked', () => {
    expect(makeStyle(false).red('x')).toBe('x');
    expect(makeStyle(true).red('x')).toBe('\u001b[31mx\u001b[39m');
  });
});

describe('sessions', () => {
  it('lists sessions in a table with a cursor hint', () => {
    const out = formatSessionsTable({ items: [session(), session({ id: '2', status: 'RUNNING', finishedAt: null, title: 'second' })], nextCursor: 'abc' });
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+TRY\s+AGENT\s+CREATED\s+RAN\s+TITLE$/);
    expect(lines[1]).toMatch(/^11111111-1111-4111-8111-111111111111\s+COMPLETED\s+1\s+build\s+2025-01-31 14:03:07\s+2\.3s\s+demo$/);
    expect(lines[2]).toMatch(/^2\s+RUNNING\s+1\s+build\s+\S+ \S+\s+-\s+second$/);
    expect(lines[3]).toBe('more: --cursor abc');
    expect(formatSessionsTable({ items: [], nextCursor: null })).toBe('No sessions.');
  });

  it('sums up an outcome: duration, files, usage; the error on its own line', () => {
    expect(formatOutcome(session())).toBe('COMPLETED in 2.3s | files changed: a.txt | 120 in / 30 out tokens, $0.0012');
    const changes = { branch: 'orchestrator/1a2b3c4d-x', baseCommit: 'a'.repeat(40), headCommit: 'b'.repeat(40), files: ['a.txt'], insertions: 1, deletions: 0 };
    expect(formatOutcome({ ...session(), changes })).toBe(
      'COMPLETED in 2.3s | files changed: a.txt | on branch orchestrator/1a2b3c4d-x | 120 in / 30 out tokens, $0.0012',
    );
    expect(formatOutcome({ ...session(), changes: { ...changes, headCommit: changes.baseCommit } })).not.toContain('on branch');
    expect(formatOutcome(session({ status: 'FAILED', result: null, error: { code: 'PROVIDER_ERROR', message: 'boom' } }))).toBe(
      'FAILED in 2.3s | 120 in / 30 out tokens, $0.0012\nPROVIDER_ERROR: boom',
    );
  });
});

describe('EventRenderer', () => {
  it('renders a run compactly: transitions, tool calls once per status, files, streamed text by line', () => {
    const r = new EventRenderer();
    const lines = [
      ev('snapshot', { ...session({ status: 'PENDING', assignment: { agentName: 'implementer', role: 'IMPLEMENTER' } }) }),
      ev('transition', { from: 'PENDING', to: 'QUEUED', attempt: 1, session: { status: 'QUEUED' } }),
      ev('transition', { from: 'QUEUED', to: 'RUNNING', attempt: 1, session: { status: 'RUNNING', agentId: 'a1' } }),
      ev('activity', { state: 'busy' }),
      ev('tool', { callId: 'c1', tool: 'write', status: 'pending', input: 'a.txt' }),
      ev('tool', { callId: 'c1', tool: 'write', status: 'running', input: 'a.txt' }),
      ev('tool', { callId: 'c1', tool: 'write', status: 'running', input: 'a.txt' }),
      ev('tool', { callId: 'c1', tool: 'write', status: 'completed', input: 'a.txt' }),
      ev('files', { files: ['a.txt'], latest: ['a.txt'] }),
      ev('files', { files: ['a.txt'], latest: [] }),
      ev('text', { delta: 'Wrote ' }),
      ev('text', { delta: 'a.txt.\n\nAll ' }),
      ev('text', { delta: 'done' }),
      ev('activity', { state: 'retry', retryAttempt: 2, message: 'rate limited' }),
      ev('transition', { from: 'RUNNING', to: 'COMPLETED', attempt: 1, session: session() }),
      ev('end', { status: 'COMPLETED' }),
    ].flatMap((e) => r.render(e));
    expect([...lines, ...r.flush()]).toEqual([
      '14:03:07  session 11111111-1111-4111-8111-111111111111 "demo": PENDING',
      '14:03:07  QUEUED',
      '14:03:07  RUNNING (attempt 1, agent implementer)',
      '14:03:07    tool write a.txt: running',
      '14:03:07    tool write a.txt: completed',
      '14:03:07    files changed: a.txt',
      '14:03:07    | Wrote a.txt.',
      '14:03:07    | All done',
      '14:03:07    provider retry 2: rate limited',
      '14:03:07  COMPLETED in 2.3s | files changed: a.txt | 120 in / 30 out tokens, $0.0012',
    ]);
    expect(r.status).toBe('COMPLETED');
  });

  it('shows a tool error with its message', () => {
    const r = new EventRenderer();
    expect(r.render(ev('tool', { callId: 'c', tool: 'bash', status: 'error', input: 'npm test', error: 'exit 1' }))).toEqual([
      '14:03:07    tool bash npm test: error exit 1',
    ]);
  });

  it('a late join to a finished session prints its state and outcome; a repeated snapshot (reconnect) prints nothing', () => {
    const r = new EventRenderer();
    const failed = session({ status: 'FAILED', result: null, error: { code: 'PROVIDER_ERROR', message: 'boom' } });
    expect(r.render(ev('snapshot', failed as unknown as Record<string, unknown>))).toEqual([
      '14:03:07  session 11111111-1111-4111-8111-111111111111 "demo": FAILED',
      '14:03:07  FAILED in 2.3s | 120 in / 30 out tokens, $0.0012\nPROVIDER_ERROR: boom',
    ]);
    const running = new EventRenderer();
    running.render(ev('snapshot', { ...session({ status: 'RUNNING' }) }));
    expect(running.render(ev('snapshot', { ...session({ status: 'RUNNING' }) }))).toEqual([]);
  });
});

describe('plans and agents', () => {
  it('shows a plan\'s progress and task table with agent names', () => {
    const plan: PlanView = {
      id: 'p1',
      requirement: 'Add a health endpoint',
      workspace: '/w',
      template: null,
      status: 'RUNNING',
      error: null,
      createdAt: T0,
      startedAt: T0,
      finishedAt: null,
      progress: { total: 2, byStatus: { COMPLETED: 1, RUNNING: 1, PENDING: 0 }, percent: 50 },
      totals: { inputTokens: 10, outputTokens: 5, costUsd: 0.5 },
      criticalPath: ['design', 'build'],
      tasks: [
        { key: 'design', title: 'Design', role: 'ARCHITECT', status: 'COMPLETED', attempt: 1, sessionId: 's1', agentId: 'a1', dependsOn: [], critical: true, usage: { inputTokens: 1, outputTokens: 1, costUsd: 0.25 }, error: null },
        { key: 'build', title: 'Build', role: 'IMPLEMENTER', status: 'RUNNING', attempt: 1, sessionId: 's2', agentId: 'a2', dependsOn: ['design'], critical: true, usage: { inputTokens: 1, outputTokens: 1, costUsd: 0.25 }, error: null },
      ],
    };
    const out = formatPlan(plan, new Map([['a1', 'architect']]));
    expect(out).toContain('progress   [#####.....] 50% of 2 tasks (1 COMPLETED, 1 RUNNING)');
    expect(out).toContain('critical   design -> build');
    expect(out).toMatch(/TASK\s+STATUS\s+ROLE\s+AGENT\s+SESSION\s+AFTER\s+COST\s+TITLE/);
    expect(out).toMatch(/design\*\s+COMPLETED\s+ARCHITECT\s+architect\s+s1\s+-\s+\$0\.25\s+Design/);
    expect(out).toMatch(/build\*\s+RUNNING\s+IMPLEMENTER\s+a2\s+s2\s+design\s+\$0\.25\s+Build/);
  });

  it('shows an agent\'s performance: recent against all time, and its tier', () => {
    const summary = { runs: 10, successes: 9, successRate: 0.9, meanQuality: 7.5, scoredRuns: 4, meanCostUsd: 0.02, costPerSuccessUsd: 0.0222, p50DurationMs: 1200, p95DurationMs: 65_000 };
    const perf: AgentPerformance = { agentId: 'a1', tier: 'GOLD', lastN: 10, recent: summary, allTime: { ...summary, runs: 12 } };
    const out = formatPerformance(perf, { id: 'a1', name: 'implementer', role: 'IMPLEMENTER', capabilities: [], maxConcurrentSessions: 5, enabled: true });
    expect(out.split('\n').slice(0, 2)).toEqual(['implementer (IMPLEMENTER, a1)', 'tier: GOLD (from the last 50 counted runs)']);
    expect(out).toMatch(/LAST 10\s+ALL TIME/);
    expect(out).toMatch(/runs\s+10\s+12/);
    expect(out).toMatch(/success rate\s+90\.0%\s+90\.0%/);
    expect(out).toMatch(/mean quality\s+7\.5\/10 \(4 scored\)/);
    expect(out).toMatch(/cost\/success\s+\$0\.02/);
    expect(out).toMatch(/p50 duration\s+1\.2s/);
    expect(out).toMatch(/p95 duration\s+1m05s/);
  });
});

describe('EventRenderer: approvals', () => {
  const ID = '22222222-2222-4222-8222-222222222222';
  const T1 = new Date(new Date(T0).getTime() + 900_000).toISOString(); // 14:18:07
  const approval = (data: Record<string, unknown>) => ev('approval', { approvalId: ID, title: 'edit a.txt', permission: 'edit', patterns: ['a.txt'], expiresAt: T1, attempt: 1, ...data });

  it('says what the session waits on and how to answer, then how it was decided, each once', () => {
    const r = new EventRenderer();
    expect(r.render(approval({ status: 'PENDING' }))).toEqual([
      `14:03:07    approval needed: edit a.txt (until 14:18:07; answer with POST /api/v1/approvals/${ID})`,
    ]);
    // A late join's snapshot lists it again: nothing new.
    expect(r.render(ev('snapshot', { ...session({ status: 'RUNNING' }), awaitingApproval: [{ id: ID, title: 'edit a.txt', permission: 'edit', patterns: ['a.txt'], expiresAt: T1 }] }))).toEqual([
      '14:03:07  session 11111111-1111-4111-8111-111111111111 "demo": RUNNING (attempt 1)',
    ]);
    expect(r.render(approval({ status: 'ALLOWED', decidedBy: 'key', answeredByKeyId: 'k-1' }))).toEqual(['14:03:07    approval edit a.txt: ALLOWED (by key k-1)']);
    expect(r.render(approval({ status: 'ALLOWED', decidedBy: 'key', answeredByKeyId: 'k-1' }))).toEqual([]);
  });

  it('names each way of being decided', () => {
    const line = (data: Record<string, unknown>) => new EventRenderer().render(approval(data))[0].replace(/^\S+\s+/, '');
    expect(line({ status: 'DENIED', decidedBy: 'key', answeredByKeyId: null })).toBe('approval edit a.txt: DENIED (by an API caller)');
    expect(line({ status: 'EXPIRED', decidedBy: 'timeout' })).toBe('approval edit a.txt: EXPIRED (nobody answered in time)');
    expect(line({ status: 'CANCELLED', decidedBy: 'session-ended' })).toBe('approval edit a.txt: CANCELLED (the turn ended first)');
    expect(line({ status: 'ALLOWED', decidedBy: 'opencode' })).toBe('approval edit a.txt: ALLOWED (settled by OpenCode (an earlier answer covered it))');
  });

  it('shows in `show` what a running session waits on', () => {
    const out = formatSession({ ...session({ status: 'RUNNING', finishedAt: null }), awaitingApproval: [{ id: ID, title: 'edit a.txt', permission: 'edit', patterns: ['a.txt'], expiresAt: T1 }] }, []);
    expect(out).toMatch(new RegExp(`waits on\\s+edit a\\.txt until .+ \\(approval ${ID}\\)`));
  });

  it('shows the pending approvals of a session it joins late', () => {
    const r = new EventRenderer();
    const lines = r.render(ev('snapshot', { ...session({ status: 'RUNNING' }), awaitingApproval: [{ id: ID, title: 'bash npm test', permission: 'bash', patterns: ['npm test'], expiresAt: T1 }] }));
    expect(lines[1]).toBe(`14:03:07    approval needed: bash npm test (until 14:18:07; answer with POST /api/v1/approvals/${ID})`);
  });
});

describe('worktrees', () => {
  const BASE = '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d';
  const HEAD = '9f8e7d6c5b4a392817f6e5d4c3b2a19081726354';
  const MERGE = 'abcdef0123456789abcdef0123456789abcdef01';
  const worktreeSession = (over: Partial<NonNullable<SessionView['worktree']>> = {}): SessionView =>
    session({
      isolation: 'worktree',
      changes: { branch: 'orchestrator/11111111-demo', baseCommit: BASE, headCommit: HEAD, files: ['a.txt', 'src/b.ts'], insertions: 3, deletions: 1 },
      worktree: { state: 'ACTIVE', repository: '/repo', subdirectory: '', baseRef: null, mergeIn: null, merge: null, ...over },
    });
  const field = (out: string, name: string) => out.split('\n').find((l) => l.startsWith(`${name} `))?.replace(/^\S+(?: \S+)?\s{2,}/, '');

  it('shows a worktree session\'s isolation, branch, short commits, changes and worktree state', () => {
    const out = formatSession(worktreeSession(), []);
    expect(field(out, 'isolation')).toBe('worktree');
    expect(field(out, 'branch')).toBe('orchestrator/11111111-demo');
    expect(field(out, 'base')).toBe('1a2b3c4');
    expect(field(out, 'head')).toBe('9f8e7d6');
    expect(field(out, 'changes')).toBe('2 files, +3 -1: a.txt, src/b.ts');
    expect(field(out, 'worktree')).toBe('ACTIVE in /repo');
    expect(out).not.toMatch(/^merged /m);
    // In the order of the fields: right after the workspace.
    expect(out.split('\n').map((l) => l.split(/\s+/)[0]).slice(3, 10)).toEqual(['workspace', 'isolation', 'branch', 'base', 'head', 'changes', 'worktree']);
  });

  it('shows the base ref asked for, a branch with nothing committed, a subdirectory, and the merge once merged', () => {
    const fresh = session({
      isolation: 'worktree',
      changes: { branch: 'orchestrator/x', baseCommit: BASE, headCommit: BASE, files: [], insertions: 0, deletions: 0 },
      worktree: { state: 'ACTIVE', repository: '/repo', subdirectory: 'pkg/api', baseRef: 'release', mergeIn: 'orchestrator/plan-1', merge: null },
    });
    const out = formatSession(fresh, []);
    expect(field(out, 'base')).toBe('1a2b3c4 (release)');
    expect(field(out, 'head')).toBe('1a2b3c4 (nothing committed)');
    expect(field(out, 'changes')).toBe('none');
    expect(field(out, 'merges in')).toBe('orchestrator/plan-1');
    expect(field(out, 'worktree')).toBe('ACTIVE in /repo (subdirectory pkg/api)');

    const merged = formatSession(worktreeSession({ state: 'MERGED', merge: { target: 'main', strategy: 'squash', commit: MERGE, at: T0 } }), []);
    expect(field(merged, 'worktree')).toBe('MERGED in /repo');
    expect(field(merged, 'merged')).toBe('into main (squash): abcdef0 at 2025-01-31 14:03:07');
    expect(field(formatSession(worktreeSession({ state: 'DISCARDED' }), []), 'worktree')).toBe('DISCARDED in /repo');
  });

  it('shows a shared session\'s isolation only, and nothing for a server without worktrees', () => {
    const shared = formatSession(session({ isolation: 'shared', changes: null, worktree: null }), []);
    expect(field(shared, 'isolation')).toBe('shared');
    expect(shared).not.toMatch(/^(branch|base|head|changes|worktree) /m);
    expect(formatSession(session(), [])).not.toMatch(/^isolation /m);
  });

  it('says what a merge did in one line', () => {
    expect(formatMergeResult({ status: 'merged', target: 'main', strategy: 'rebase', commit: MERGE }, 'orchestrator/x')).toBe('merged orchestrator/x into main (rebase): abcdef0');
    expect(formatMergeResult({ status: 'up-to-date', target: 'main', strategy: 'merge', commit: MERGE }, 'orchestrator/x')).toBe(
      'up to date: main already holds orchestrator/x, nothing merged: abcdef0',
    );
  });

  const plan = (over: Partial<PlanView> = {}): PlanView => ({
    id: 'p1',
    requirement: 'Add a health endpoint',
    workspace: '/repo',
    template: null,
    status: 'RUNNING',
    error: null,
    createdAt: T0,
    startedAt: T0,
    finishedAt: null,
    progress: { total: 3, byStatus: { COMPLETED: 1, MERGING: 0, RESOLVING: 1, CONFLICTED: 1 }, percent: 66 },
    totals: { inputTokens: 10, outputTokens: 5, costUsd: 0.5 },
    criticalPath: ['a'],
    tasks: [],
    ...over,
  });
  const usage = { inputTokens: 1, outputTokens: 1, costUsd: 0.1 };

  it('shows a plan\'s integration branch with its commits and totals, and the merge statuses of its tasks', () => {
    const out = formatPlan(
      plan({
        branch: { name: 'orchestrator/plan-1a2b3c4d', repository: '/repo', baseCommit: BASE, headCommit: HEAD, files: ['a.txt', 'b.txt'], insertions: 2, deletions: 0 },
        tasks: [
          { key: 'a', title: 'A', role: 'IMPLEMENTER', status: 'MERGING', attempt: 1, sessionId: 's-a', agentId: null, dependsOn: [], critical: true, usage, error: null,
            sessions: [{ id: 's-a', kind: 'TASK', status: 'COMPLETED', changes: null }], merge: { source: 's-a', queuedAt: T0, conflicts: [], commit: null, mergedAt: null } },
          { key: 'b', title: 'B', role: 'IMPLEMENTER', status: 'RESOLVING', attempt: 1, sessionId: 's-r', agentId: null, dependsOn: [], critical: false, usage, error: null,
            sessions: [{ id: 's-b', kind: 'TASK', status: 'COMPLETED', changes: null }, { id: 's-r', kind: 'RESOLVER', status: 'RUNNING', changes: null }],
            merge: { source: 's-b', queuedAt: T0, conflicts: ['shared.txt'], commit: null, mergedAt: null } },
          { key: 'c', title: 'C', role: 'IMPLEMENTER', status: 'CONFLICTED', attempt: 1, sessionId: 's-c', agentId: null, dependsOn: [], critical: false, usage,
            error: { code: 'MERGE_CONFLICT', message: 'still conflicting' }, merge: { source: 's-c', queuedAt: T0, conflicts: ['x.txt', 'y.txt'], commit: null, mergedAt: null } },
        ],
      }),
      new Map(),
    );
    expect(out).toContain('branch     orchestrator/plan-1a2b3c4d in /repo');
    expect(out).toContain('commits    1a2b3c4..9f8e7d6');
    expect(out).toContain('changes    2 files, +2 -0: a.txt, b.txt');
    expect(out).toContain('(1 COMPLETED, 1 RESOLVING, 1 CONFLICTED)');
    expect(out).toMatch(/^a\*\s+MERGING\s+IMPLEMENTER\s+-\s+s-a\s+-\s+\$0\.10\s+A$/m);
    expect(out).toMatch(/^b\s+RESOLVING\s+IMPLEMENTER\s+-\s+s-r \(resolver\)\s+-\s+\$0\.10\s+B \[conflicts: shared\.txt\]$/m);
    expect(out).toMatch(/^c\s+CONFLICTED\s+IMPLEMENTER\s+-\s+s-c\s+-\s+\$0\.10\s+C \[MERGE_CONFLICT\] \[conflicts: x\.txt, y\.txt\]$/m);
  });

  it('colours the new task statuses: merging and resolving as active, conflicted as failed', () => {
    const style = makeStyle(true);
    const t = (status: string) => ({ key: status, title: 't', role: 'IMPLEMENTER', status, attempt: 1, sessionId: null, agentId: null, dependsOn: [], critical: false, usage, error: null });
    const out = formatPlan(plan({ branch: null, tasks: ['MERGING', 'RESOLVING', 'CONFLICTED'].map(t) }), new Map(), style);
    expect(out).toContain(style.cyan('MERGING'));
    expect(out).toContain(style.cyan('RESOLVING'));
    expect(out).toContain(style.red('CONFLICTED'));
  });

  it('says why a plan has no branch: not run yet, or a shared workspace; nothing from a server without worktrees', () => {
    expect(formatPlan(plan({ status: 'DRAFT', branch: null }), new Map())).toContain('branch     - (made when the plan runs, in a git workspace)');
    expect(formatPlan(plan({ branch: null }), new Map())).toContain('branch     - (its tasks share the workspace)');
    const deleted = formatPlan(plan({ branch: { name: 'orchestrator/plan-1', repository: '/repo', baseCommit: BASE, headCommit: null, files: [], insertions: 0, deletions: 0 } }), new Map());
    expect(deleted).toContain('commits    1a2b3c4..deleted');
    expect(deleted).toContain('changes    none');
    expect(formatPlan(plan(), new Map())).not.toMatch(/^branch /m);
  });
});
