/**
 * npm run bench:parallel — what git worktree slots buy and cost, in one run of the real app (HTTP
 * API + BullMQ worker + PostgreSQL + Redis) against one managed `opencode serve` on the rehearsal
 * provider (offline), MAX_CONCURRENT_SESSIONS = BENCH_CONCURRENCY. Each figure is printed with its
 * peer, measured in the same run, the ratio and the goal:
 *
 *  1. plan wall time: BENCH_PLAN_TASKS independent tasks (each writes its own file, `[[slow
 *     BENCH_PLAN_SLOW]]`) and a join task depending on all of them, in a git repository (a worktree
 *     per task, merged into the plan's integration branch) vs the same plan in a plain directory
 *     (the tasks take turns under its lock); ratio shared / worktrees, goal >= 3. Checks that both
 *     complete and that the integration branch holds every task's file.
 *  2. sessions/s at concurrency BENCH_CONCURRENCY, BENCH_SESSIONS per peer, each writing one file:
 *     one repository with worktrees vs one plain directory per lane (shared, but no session ever
 *     waits on another's lock: the peer without the worktree machinery); ratio worktrees / shared,
 *     goal >= 0.8. A third peer, one git repository per lane (isolation "shared"), separates what
 *     OpenCode itself costs more in a git directory from the orchestrator's slot work (BENCH_SESSIONS_GIT
 *     sessions, default half of BENCH_SESSIONS). All warmed up
 *     first (one session per lane); rounds rotate which peer goes first. CPU per session of the
 *     OpenCode server and of this process (API, worker and the git commands it ran).
 *  3. merges/s: BENCH_MERGES completed worktree sessions (one file each) merged at once through
 *     POST /sessions/:id/merge into the checked-out branch vs the same merges as `git merge --no-ff`
 *     run one after another in a scratch clone. Checks every answer is 200 merged and the branch
 *     holds every file. A work tree left dirty by sessions that ran in it (see below) would refuse
 *     every merge: it is reported, then cleaned, so that the merges are still measured.
 *  4. OpenCode's memory (VmRSS of the server's process tree) after BENCH_MEMORY_FIRST and after
 *     BENCH_MEMORY_SESSIONS worktree sessions on one repository; goal: the second <= 1.2x the first.
 *     Measured first, on a server that has seen no other directory.
 *  5. (a) median per-session time (created → COMPLETED, this client's clock) of BENCH_FRESH sessions
 *     one at a time, each in a new git repository (isolation "shared": a directory OpenCode never saw)
 *     vs BENCH_FRESH in a warm slot of the repository already used, alternating; (b) OpenCode's RSS
 *     before and after POST /instance/dispose?directory= for each of (a)'s new directories.
 *
 * Env: BENCH_CONCURRENCY (8), BENCH_PLAN_TASKS (8), BENCH_PLAN_SLOW (3), BENCH_SESSIONS (80),
 * BENCH_SESSIONS_GIT (BENCH_SESSIONS / 2), BENCH_MERGES (30), BENCH_MEMORY_FIRST (20),
 * BENCH_MEMORY_SESSIONS (300), BENCH_FRESH (8).
 * About 6-10 minutes on 2 cores. Uses the local PostgreSQL (database orchestrator_bench) and Redis.
 * Plan tasks are IMPLEMENTER sessions, routed to agents: the IMPLEMENTER agents' capacity
 * (maxConcurrentSessions, 5 for the seeded one) is raised to BENCH_PLAN_TASKS for the run and put
 * back at the end, so that the plan measures worktrees rather than the agent's capacity.
 * Every session's isolation is checked: "worktree" for one made on the repository without
 * `isolation`, "shared" for the others.
 * Exit code 1 when any session or plan did not complete or a check failed.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { INestApplication } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { ManagedOpencodeServer } from '@app/opencode';
import axios, { AxiosInstance } from 'axios';
import { startBenchApp } from './support/bench-app';
import { CountingLogger } from './support/counting-logger';
import { git, makeRepository } from './support/git-repo';
import { selfCpuWithChildrenSeconds, treeCpuSeconds, treeRssMb } from './support/process-stats';
import { percentile, runPool } from './support/stats';
import { SessionWatcher } from './support/session-watcher';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const PLAN_TASKS = Number(process.env.BENCH_PLAN_TASKS ?? 8);
const PLAN_SLOW = Number(process.env.BENCH_PLAN_SLOW ?? 3);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 80);
const SESSIONS_GIT = Number(process.env.BENCH_SESSIONS_GIT ?? Math.round(SESSIONS / 2));
const MERGES = Number(process.env.BENCH_MERGES ?? 30);
const MEMORY_FIRST = Number(process.env.BENCH_MEMORY_FIRST ?? 20);
const MEMORY_SESSIONS = Number(process.env.BENCH_MEMORY_SESSIONS ?? 300);
const FRESH = Number(process.env.BENCH_FRESH ?? 8);
const ROUNDS = 2;
const FINAL = new Set(['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED']);
const FINAL_PLAN = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);
const SESSION_LIMIT_MS = 180_000;
/**
 * A memory reading is the lowest RSS sampled every 500 ms over this time: OpenCode's garbage-collected
 * heap swings by 100 MB and more between samples, its floor much less.
 */
const RSS_WINDOW_MS = 5_000;

interface SessionView {
  id: string;
  status: string;
  isolation: 'worktree' | 'shared';
  workspace: string;
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  error: { code: string; message: string } | null;
  changes: { branch: string; baseCommit: string; headCommit: string | null; files: string[] } | null;
}

interface PlanView {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
  branch: { name: string; files: string[] } | null;
  tasks: Array<{
    key: string;
    status: string;
    error: { code: string; message: string } | null;
    merge: { queuedAt: string | null; mergedAt: string | null } | null;
    sessions: Array<{ id: string; status: string; startedAt: string | null; finishedAt: string | null }>;
  }>;
}

const benchStart = performance.now();
const elapsed = () => `[${((performance.now() - benchStart) / 1000).toFixed(0)} s]`;

/** Everything that did not go as it should: printed at the end, and the exit code is 1. */
const problems: string[] = [];

interface Batch {
  tag: string;
  count: number;
  concurrency: number;
  workspace: (lane: number, i: number) => string;
  prompt: (i: number) => string;
  isolation?: 'worktree' | 'shared';
  /** The isolation every session must end up with (checked). */
  expect: 'worktree' | 'shared';
}

/** Creates, starts and waits for `count` sessions on `concurrency` lanes; every session must complete. */
async function runBatch(api: AxiosInstance, watcher: SessionWatcher<SessionView>, batch: Batch): Promise<{ seconds: number; sessions: SessionView[] }> {
  const sessions: SessionView[] = [];
  const started = performance.now();
  await runPool(batch.count, batch.concurrency, async (i, lane) => {
    const body = { title: `${batch.tag} ${i}`, prompt: batch.prompt(i), workspace: batch.workspace(lane, i), isolation: batch.isolation };
    const { id } = (await api.post('/api/v1/sessions', body)).data as { id: string };
    const finished = watcher.finished(id, batch.tag);
    await api.post(`/api/v1/sessions/${id}/start`);
    const s = await finished.catch((err: Error) => {
      problems.push(err.message);
      return null;
    });
    if (!s) return;
    sessions.push(s);
    if (s.status !== 'COMPLETED') problems.push(`${batch.tag}: session ${s.id} ended ${s.status}${s.error ? ` (${s.error.code}: ${s.error.message})` : ''}`);
    checkIsolation(batch.tag, s, batch.expect);
  });
  return { seconds: (performance.now() - started) / 1000, sessions };
}

/** Sessions that did not get the isolation their workspace and request call for (by expected isolation). */
const isolationMisses: SessionView[] = [];
const isolationChecked = { worktree: 0, shared: 0 };

function checkIsolation(tag: string, s: SessionView, expected: 'worktree' | 'shared'): void {
  isolationChecked[expected]++;
  if (s.isolation === expected) return;
  isolationMisses.push(s);
  problems.push(`${tag}: session ${s.id} in ${s.workspace} got isolation "${s.isolation}", expected "${expected}"`);
}

/** One session, created, started and polled every 100 ms: its time from creation to COMPLETED. */
async function timedSession(
  api: AxiosInstance,
  tag: string,
  body: Record<string, unknown>,
  expect: 'worktree' | 'shared',
): Promise<{ ms: number; serverMs: number }> {
  const t0 = performance.now();
  const { id } = (await api.post('/api/v1/sessions', body)).data as { id: string };
  await api.post(`/api/v1/sessions/${id}/start`);
  const deadline = Date.now() + SESSION_LIMIT_MS;
  for (;;) {
    const s = (await api.get(`/api/v1/sessions/${id}`)).data as SessionView;
    if (FINAL.has(s.status)) {
      const ms = performance.now() - t0;
      if (s.status !== 'COMPLETED') problems.push(`${tag}: session ${id} ended ${s.status}${s.error ? ` (${s.error.code}: ${s.error.message})` : ''}`);
      checkIsolation(tag, s, expect);
      return { ms, serverMs: Date.parse(s.finishedAt ?? '') - Date.parse(s.startedAt ?? '') };
    }
    if (Date.now() > deadline) {
      problems.push(`${tag}: session ${id} did not finish within ${SESSION_LIMIT_MS / 1000} s`);
      return { ms: performance.now() - t0, serverMs: NaN };
    }
    await sleep(100);
  }
}

/** The plan of the benchmark: PLAN_TASKS parts writing their own file (slowly), then a join writing one more. */
function planTasks(tag: string): { tasks: unknown[]; files: string[] } {
  const parts = Array.from({ length: PLAN_TASKS }, (_, i) => ({
    key: `part${i + 1}`,
    title: `Part ${i + 1}`,
    instructions: `Write part ${i + 1}. [[slow ${PLAN_SLOW}]][[write ${tag}-part-${i + 1}.txt]]part ${i + 1}\n[[/write]]`,
    role: 'IMPLEMENTER',
    dependsOn: [] as string[],
  }));
  const join = {
    key: 'join',
    title: 'Join the parts',
    instructions: `Join the parts. [[write ${tag}-join.txt]]joined\n[[/write]]`,
    role: 'IMPLEMENTER',
    dependsOn: parts.map((p) => p.key),
  };
  return { tasks: [...parts, join], files: [...parts.map((_, i) => `${tag}-part-${i + 1}.txt`), `${tag}-join.txt`] };
}

/** Runs a plan from POST /run to a final status; wall time on this client's clock (polled every 250 ms). */
async function runPlan(api: AxiosInstance, workspace: string, tag: string): Promise<{ seconds: number; plan: PlanView; files: string[]; runAt: number }> {
  const { tasks, files } = planTasks(tag);
  const requirement = `Benchmark plan ${tag}: write ${PLAN_TASKS} independent parts, each in its own file, then join them.`;
  const created = (await api.post('/api/v1/plans', { requirement, workspace, tasks })).data as PlanView;
  const t0 = performance.now();
  const runAt = Date.now();
  await api.post(`/api/v1/plans/${created.id}/run`);
  const deadline = Date.now() + 600_000;
  for (;;) {
    await sleep(250);
    const plan = (await api.get(`/api/v1/plans/${created.id}`)).data as PlanView;
    if (FINAL_PLAN.has(plan.status)) {
      const seconds = (performance.now() - t0) / 1000;
      if (plan.status !== 'COMPLETED') {
        const failed = plan.tasks.filter((t) => t.status !== 'COMPLETED').map((t) => `${t.key} ${t.status}${t.error ? ` (${t.error.code}: ${t.error.message})` : ''}`);
        problems.push(`plan ${tag} ended ${plan.status}${plan.error ? ` (${plan.error.code}: ${plan.error.message})` : ''}: ${failed.join('; ')}`);
      }
      return { seconds, plan, files, runAt };
    }
    if (Date.now() > deadline) {
      problems.push(`plan ${tag} did not finish within 600 s (${plan.status})`);
      return { seconds: (performance.now() - t0) / 1000, plan, files, runAt };
    }
  }
}

/**
 * When things happened in a plan, in seconds after POST /run (server timestamps, same machine): the
 * parts' sessions started and finished, their branches merged, the join's session.
 */
function planTimeline(plan: PlanView, runAt: number): string {
  const at = (iso: string | null | undefined) => (iso ? (Date.parse(iso) - runAt) / 1000 : NaN);
  const parts = plan.tasks.filter((t) => t.key !== 'join');
  const sessions = parts.flatMap((t) => t.sessions);
  const range = (xs: number[]) => {
    const ok = xs.filter(Number.isFinite);
    return ok.length === 0 ? '-' : `${Math.min(...ok).toFixed(1)}-${Math.max(...ok).toFixed(1)}`;
  };
  const join = plan.tasks.find((t) => t.key === 'join')?.sessions[0];
  const merged = parts.map((t) => at(t.merge?.mergedAt));
  return (
    `parts started ${range(sessions.map((s) => at(s.startedAt)))}, finished ${range(sessions.map((s) => at(s.finishedAt)))}` +
    (merged.some(Number.isFinite) ? `, merged ${range(merged)}` : '') +
    `, join ran ${join ? `${at(join.startedAt).toFixed(1)}-${at(join.finishedAt).toFixed(1)}` : '-'}`
  );
}

/** The most task sessions of a plan that ran at the same moment (from their startedAt/finishedAt). */
function mostAtOnce(plan: PlanView): number {
  const edges: Array<[number, number]> = [];
  for (const task of plan.tasks) {
    for (const s of task.sessions) {
      if (!s.startedAt || !s.finishedAt) continue;
      edges.push([Date.parse(s.startedAt), 1], [Date.parse(s.finishedAt), -1]);
    }
  }
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (now += d));
  return most;
}

async function main(): Promise<void> {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'bench-parallel-')));
  const repos = join(root, 'repos');
  const plain = join(root, 'plain');
  const worktreesDir = join(root, 'worktrees');
  mkdirSync(repos, { recursive: true });
  mkdirSync(plain, { recursive: true });
  const password = randomBytes(12).toString('hex');
  const server = new ManagedOpencodeServer({
    dataDir: join(root, 'opencode'),
    parentEnv: process.env,
    // As the app starts its own: the workspace roots writable in the sandbox, this project read-only.
    writableRoots: [root],
    protectedDirs: [join(__dirname, '..')],
    password,
    stopGraceMs: 1000,
    logger: quietLogger,
  });
  let app: INestApplication | undefined;
  let restoreAgents: (() => Promise<void>) | undefined;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void server.stop().finally(() => process.exit(130)));
  }
  try {
    await server.start();
    const { baseUrl } = server.endpoint();
    const url = new URL(baseUrl);
    const config = AppConfig.with({
      PORT: '0',
      DB_NAME: 'orchestrator_bench',
      QUEUE_PREFIX: `bench-parallel-${process.pid}`,
      OPENCODE_HOST: url.hostname,
      OPENCODE_PORT: url.port,
      OPENCODE_PASSWORD: password,
      OPENCODE_MODEL: server.defaultModel ?? '',
      MAX_CONCURRENT_SESSIONS: String(CONCURRENCY),
      WORKSPACE_ROOTS: root,
      WORKTREES_DIR: worktreesDir,
      API_KEY: '',
      LOG_LEVEL: 'error',
    });
    // Errors and warnings of the app, as Nest prints them, and counted for the summary.
    const started = await startBenchApp(config, appLog, (made) => (app = made));
    const { api } = started;
    app = started.app;
    const opencode = axios.create({ baseURL: baseUrl, auth: { username: 'opencode', password }, timeout: 60_000 });
    const health = (await opencode.get('/global/health')).data as { version: string };
    restoreAgents = await raiseImplementerCapacity(api, PLAN_TASKS);
    const watcher = new SessionWatcher<SessionView>(api, SESSION_LIMIT_MS);
    const rss = async (windowMs = RSS_WINDOW_MS) => {
      let lowest = Infinity;
      for (const end = Date.now() + windowMs; Date.now() < end; await sleep(500)) lowest = Math.min(lowest, treeRssMb(server.pid));
      return lowest;
    };
    const writeOne = (tag: string) => (i: number) => `Benchmark ${tag} ${i}. [[write ${tag}-${i}.txt]]${tag} ${i}\n[[/write]]`;

    console.log(
      `parallel benchmark: opencode-ai ${health.version}, ${server.isSandboxed ? 'bubblewrap sandbox' : 'no sandbox'}, ` +
        `MAX_CONCURRENT_SESSIONS ${CONCURRENCY}, WORKTREE_SLOTS_PER_REPOSITORY ${config.worktrees.slotsPerRepository}`,
    );
    console.log(
      `sizes: plan ${PLAN_TASKS}+1 tasks ([[slow ${PLAN_SLOW}]]), ${SESSIONS} sessions per peer (${SESSIONS_GIT} in git lanes), ${MERGES} merges, ` +
        `memory after ${MEMORY_FIRST} and ${MEMORY_SESSIONS} sessions, ${FRESH} fresh vs ${FRESH} warm`,
    );

    // 4 first: the server has seen no other directory yet.
    const repo = makeRepository(join(repos, 'main-repo'));
    const rssIdle = await rss();
    console.log(`${elapsed()} [4] ${MEMORY_SESSIONS} worktree sessions on one repository, concurrency ${CONCURRENCY}...`);
    const memFirst = await runBatch(api, watcher, { tag: 'mem', count: MEMORY_FIRST, concurrency: CONCURRENCY, workspace: () => repo, prompt: writeOne('mem'), expect: 'worktree' });
    const rssFirst = await rss();
    const slotsAfterFirst = slotCount(worktreesDir);
    const memRest = await runBatch(api, watcher, {
      tag: 'mem2',
      count: MEMORY_SESSIONS - MEMORY_FIRST,
      concurrency: CONCURRENCY,
      workspace: () => repo,
      prompt: writeOne('mem2'),
      expect: 'worktree',
    });
    const rssAll = await rss();
    const memRate = MEMORY_SESSIONS / (memFirst.seconds + memRest.seconds);

    // 2. Warm-up: one session per lane for each peer (the repository's slots are warm already).
    console.log(`${elapsed()} [2] warming up (one session per lane and peer), then ${SESSIONS} sessions per peer in ${ROUNDS} rounds, order rotated...`);
    const lane = (n: number) => {
      const dir = join(plain, `lane-${n}`);
      mkdirSync(dir, { recursive: true });
      return dir;
    };
    const gitLanes = Array.from({ length: CONCURRENCY }, (_, n) => makeRepository(join(repos, `lane-${n}`)));
    type Peer = 'worktrees' | 'shared' | 'sharedGit';
    const peerBatch: Record<Peer, Omit<Batch, 'count' | 'prompt'>> = {
      worktrees: { tag: 'wt', concurrency: CONCURRENCY, workspace: () => repo, expect: 'worktree' },
      shared: { tag: 'sh', concurrency: CONCURRENCY, workspace: (l) => lane(l), expect: 'shared' },
      sharedGit: { tag: 'shg', concurrency: CONCURRENCY, workspace: (l) => gitLanes[l], isolation: 'shared', expect: 'shared' },
    };
    const order: Peer[] = ['worktrees', 'shared', 'sharedGit'];
    for (const peer of order) {
      const tag = `warm-${peerBatch[peer].tag}`;
      await runBatch(api, watcher, { ...peerBatch[peer], tag, count: CONCURRENCY, prompt: writeOne(tag) });
    }
    const peers: Record<Peer, { seconds: number; cpu: number; selfCpu: number; sessions: SessionView[] }> = {
      worktrees: { seconds: 0, cpu: 0, selfCpu: 0, sessions: [] },
      shared: { seconds: 0, cpu: 0, selfCpu: 0, sessions: [] },
      sharedGit: { seconds: 0, cpu: 0, selfCpu: 0, sessions: [] },
    };
    const sizeOf = (peer: Peer) => (peer === 'sharedGit' ? SESSIONS_GIT : SESSIONS);
    const measure = async (peer: Peer, round: number) => {
      const cpu = treeCpuSeconds(server.pid);
      const selfCpu = selfCpuWithChildrenSeconds();
      const perRound = Math.floor(sizeOf(peer) / ROUNDS);
      const count = round === ROUNDS - 1 ? sizeOf(peer) - perRound * (ROUNDS - 1) : perRound;
      const offset = round * perRound;
      const { tag } = peerBatch[peer];
      const r = await runBatch(api, watcher, { ...peerBatch[peer], count, prompt: (i) => writeOne(tag)(offset + i) });
      peers[peer].seconds += r.seconds;
      peers[peer].cpu += treeCpuSeconds(server.pid) - cpu;
      peers[peer].selfCpu += selfCpuWithChildrenSeconds() - selfCpu;
      peers[peer].sessions.push(...r.sessions);
    };
    // OpenCode slows down as it accumulates sessions: each round rotates which peer goes first.
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < order.length; k++) await measure(order[(round + k) % order.length], round);
    }

    // 3. Merges of BENCH_MERGES completed worktree sessions (one file each), at once.
    console.log(`${elapsed()} [3] merging ${MERGES} branches at once through the API, and the same merges with plain git...`);
    const mergeable = [...peers.worktrees.sessions, ...memRest.sessions].filter(
      (s) => s.status === 'COMPLETED' && s.changes?.headCommit && s.changes.files.length === 1,
    );
    const picked = mergeable.slice(0, MERGES);
    if (picked.length < MERGES) problems.push(`only ${picked.length} completed worktree sessions to merge, ${MERGES} wanted`);
    // Sessions that silently ran in the repository's own work tree (see the isolation check) leave
    // their files there, and a dirty target refuses every merge (409 WORKSPACE_DIRTY): reported,
    // then removed, so that the merges are still measured.
    const leftovers = git(repo, 'status', '--porcelain');
    if (leftovers) {
      problems.push(`the repository's work tree was dirty before the merges (${leftovers.split('\n').length} entries: ${leftovers.replace(/\n/g, '; ')}); cleaned to measure the merges`);
      git(repo, 'clean', '-fdq');
    }
    const clone = join(root, 'scratch-clone');
    git(root, 'clone', '-q', repo, clone);
    const plainStart = performance.now();
    for (const s of picked) git(clone, 'merge', '--no-ff', '-q', '-m', `Merge ${s.changes!.branch}`, s.changes!.headCommit!);
    const plainMergeSeconds = (performance.now() - plainStart) / 1000;
    const mergeStart = performance.now();
    const answers = await Promise.all(
      picked.map(async (s) => {
        const r = await api.post(`/api/v1/sessions/${s.id}/merge`, {}, { validateStatus: () => true, timeout: 300_000 });
        return { at: performance.now(), status: r.status, body: r.data as { status?: string; target?: string; code?: string; message?: string } };
      }),
    );
    const mergeSeconds = (performance.now() - mergeStart) / 1000;
    const mergedOk = answers.filter((a) => a.status === 200 && a.body.status === 'merged').length;
    for (const a of answers.filter((x) => !(x.status === 200 && x.body.status === 'merged'))) {
      problems.push(`merge answered ${a.status} ${a.body.status ?? a.body.code ?? ''}: ${a.body.message ?? ''}`);
    }
    const target = answers.find((a) => a.body.target)?.body.target ?? 'main';
    const missing = picked.flatMap((s) => s.changes!.files).filter((file) => !holds(repo, target, file));
    if (missing.length > 0) problems.push(`${target} lacks ${missing.length} merged file(s): ${missing.slice(0, 5).join(', ')}`);
    const dirty = git(repo, 'status', '--porcelain');
    if (dirty) problems.push(`the repository's work tree is not clean after the merges: ${dirty.split('\n').slice(0, 5).join('; ')}`);
    const mergeLatencies = answers.map((a) => a.at - mergeStart);

    // 1. The plan, with worktrees (warm slots of the repository) and in a plain directory (warm lane 0).
    console.log(`${elapsed()} [1] a plan of ${PLAN_TASKS} parallel tasks + a join, with worktrees and in a plain directory...`);
    const wtPlan = await runPlan(api, repo, 'wtplan');
    const shPlan = await runPlan(api, lane(0), 'shplan');
    const planBranch = wtPlan.plan.branch?.name;
    const notOnBranch = planBranch ? wtPlan.files.filter((file) => !holds(repo, planBranch, file)) : wtPlan.files;
    if (!planBranch) problems.push('the worktree plan has no integration branch');
    else if (notOnBranch.length > 0) problems.push(`${planBranch} lacks ${notOnBranch.join(', ')}`);
    const notInDir = shPlan.files.filter((file) => !existsSync(join(lane(0), file)));
    if (notInDir.length > 0) problems.push(`the plain directory lacks ${notInDir.join(', ')}`);

    // 5. New directories vs warm slots, one session at a time, alternating; then disposing the new ones.
    console.log(`${elapsed()} [5] ${FRESH} sessions in new git directories vs ${FRESH} in a warm slot, one at a time, alternating...`);
    const rssBeforeFresh = await rss();
    const fresh: Array<{ ms: number; serverMs: number }> = [];
    const warm: Array<{ ms: number; serverMs: number }> = [];
    const freshDirs: string[] = [];
    for (let i = 0; i < FRESH; i++) {
      const dir = makeRepository(join(repos, `fresh-${i}`));
      freshDirs.push(dir);
      const body = (workspace: string, tag: string, isolation?: string) => ({ title: `${tag} ${i}`, prompt: writeOne(tag)(i), workspace, isolation });
      const runFresh = async () => fresh.push(await timedSession(api, 'fresh', body(dir, 'fresh', 'shared'), 'shared'));
      const runWarm = async () => warm.push(await timedSession(api, 'warm', body(repo, 'warm'), 'worktree'));
      if (i % 2 === 0) await runFresh().then(runWarm);
      else await runWarm().then(runFresh);
    }
    const rssAfterFresh = await rss();
    let disposed = 0;
    for (const dir of freshDirs) {
      const answer = await opencode.post('/instance/dispose', undefined, { params: { directory: dir }, validateStatus: () => true });
      if (answer.status === 200 && answer.data === true) disposed++;
      else problems.push(`POST /instance/dispose?directory=${dir} answered ${answer.status} ${JSON.stringify(answer.data)}`);
    }
    const rssAfterDispose = treeRssMb(server.pid);
    const rssLater = await rss(10_000);
    await watcher.stop();

    // Results.
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    const mb = (n: number) => `${n.toFixed(0)} MB`;
    const signed = (n: number) => `${n >= 0 ? '+' : '-'}${Math.abs(n).toFixed(0)} MB`;
    console.log('');
    console.log(`1. plan of ${PLAN_TASKS} independent tasks ([[slow ${PLAN_SLOW}]] each) + 1 join, wall time from run to final status:`);
    console.log(
      `   worktrees (git repository)  : ${wtPlan.seconds.toFixed(1)} s, ${wtPlan.plan.status}, at most ${mostAtOnce(wtPlan.plan)} task sessions at once, ` +
        `${planBranch ?? '(no branch)'} holds ${wtPlan.files.length - notOnBranch.length}/${wtPlan.files.length} files`,
    );
    console.log(
      `   shared (plain directory)    : ${shPlan.seconds.toFixed(1)} s, ${shPlan.plan.status}, at most ${mostAtOnce(shPlan.plan)} task sessions at once, ` +
        `directory holds ${shPlan.files.length - notInDir.length}/${shPlan.files.length} files`,
    );
    console.log(`   ratio shared / worktrees: ${ratio(shPlan.seconds, wtPlan.seconds)}x (goal >= 3)`);
    console.log(`   worktrees timeline (s after run): ${planTimeline(wtPlan.plan, wtPlan.runAt)}`);
    console.log(`   shared timeline (s after run)   : ${planTimeline(shPlan.plan, shPlan.runAt)}`);

    const rateOf = (p: Peer) => peers[p].sessions.length / peers[p].seconds;
    const p50 = (xs: number[]) => percentile(xs.filter(Number.isFinite), 50).toFixed(0);
    const p90 = (xs: number[]) => percentile(xs.filter(Number.isFinite), 90).toFixed(0);
    const between = (a: string | null, b: string | null) => Date.parse(b ?? '') - Date.parse(a ?? '');
    const describe = (p: Peer) => {
      const { seconds, cpu, selfCpu, sessions } = peers[p];
      const perSession = (x: number) => `${((x / Math.max(1, sessions.length)) * 1000).toFixed(0)} ms`;
      return (
        `${rateOf(p).toFixed(2)} sessions/s (${seconds.toFixed(1)} s), ${countCompleted(sessions)}/${sizeOf(p)} COMPLETED, ` +
        `QUEUED→RUNNING p50 ${p50(sessions.map((s) => between(s.queuedAt, s.startedAt)))} / p90 ${p90(sessions.map((s) => between(s.queuedAt, s.startedAt)))} ms, ` +
        `RUNNING→done ${p50(sessions.map((s) => between(s.startedAt, s.finishedAt)))} ms, ` +
        `CPU/session: OpenCode ${perSession(cpu)}, this process with its git commands ${perSession(selfCpu)}`
      );
    };
    console.log(`2. sessions/s at concurrency ${CONCURRENCY}, ${SESSIONS} sessions per peer (${SESSIONS_GIT} for git repositories; each writes one file), warmed up:`);
    console.log(`   worktrees (one repository)               : ${describe('worktrees')}`);
    console.log(`   shared (${CONCURRENCY} plain directories, no wait)    : ${describe('shared')}`);
    console.log(`   shared (${CONCURRENCY} git repositories, no wait)     : ${describe('sharedGit')}`);
    console.log(`   ratio worktrees / shared plain directories: ${ratio(rateOf('worktrees'), rateOf('shared'))}x (goal >= 0.8)`);
    console.log(`   ratio worktrees / shared git repositories : ${ratio(rateOf('worktrees'), rateOf('sharedGit'))}x (the orchestrator's worktree machinery alone)`);

    const plainMergeRate = picked.length / plainMergeSeconds;
    const mergeRate = picked.length / mergeSeconds;
    console.log(`3. merging ${picked.length} non-conflicting branches into ${target}:`);
    console.log(
      `   orchestrator, all POSTed at once : ${mergeRate.toFixed(2)} merges/s (${mergeSeconds.toFixed(1)} s; answers p50 ${(percentile(mergeLatencies, 50) / 1000).toFixed(1)} s, ` +
        `last ${(Math.max(0, ...mergeLatencies) / 1000).toFixed(1)} s), ${mergedOk}/${picked.length} answered 200 merged, ${target} holds ${picked.length - missing.length}/${picked.length} files`,
    );
    console.log(`   plain git merge loop (a clone)   : ${plainMergeRate.toFixed(2)} merges/s (${plainMergeSeconds.toFixed(1)} s)`);
    console.log(`   ratio orchestrator / plain git merge loop: ${ratio(mergeRate, plainMergeRate)}x`);

    console.log(`4. OpenCode server RSS (process tree, lowest over ${RSS_WINDOW_MS / 1000} s), worktree sessions on one repository (${memRate.toFixed(2)} sessions/s):`);
    console.log(`   idle, before any session     : ${mb(rssIdle)}`);
    console.log(`   after ${String(MEMORY_FIRST).padEnd(4)} sessions        : ${mb(rssFirst)} (${slotsAfterFirst} slots made)`);
    console.log(`   after ${String(MEMORY_SESSIONS).padEnd(4)} sessions        : ${mb(rssAll)} (${slotCount(worktreesDir)} slots made)`);
    console.log(`   ratio ${MEMORY_SESSIONS} / ${MEMORY_FIRST}: ${ratio(rssAll, rssFirst)}x (goal <= 1.2)`);

    const med = (xs: Array<{ ms: number }>) => percentile(xs.map((x) => x.ms), 50);
    const medServer = (xs: Array<{ serverMs: number }>) => percentile(xs.map((x) => x.serverMs).filter(Number.isFinite), 50);
    console.log(`5a. one session at a time, created → COMPLETED (median of ${FRESH} each; startedAt → finishedAt in brackets):`);
    console.log(`   new git directory per session (shared): ${med(fresh).toFixed(0)} ms (${medServer(fresh).toFixed(0)} ms)`);
    console.log(`   warm slot of a used repository        : ${med(warm).toFixed(0)} ms (${medServer(warm).toFixed(0)} ms)`);
    console.log(`   ratio new directory / warm slot: ${ratio(med(fresh), med(warm))}x`);
    console.log(`5b. POST /instance/dispose for the ${FRESH} new directories (${disposed}/${FRESH} answered true):`);
    console.log(`   RSS before their sessions: ${mb(rssBeforeFresh)}, after: ${mb(rssAfterFresh)} (${signed(rssAfterFresh - rssBeforeFresh)})`);
    console.log(
      `   RSS right after dispose: ${mb(rssAfterDispose)}; lowest over the next 10 s: ${mb(rssLater)} (freed ${signed(rssAfterFresh - rssLater)})`,
    );

    const wrong = (expected: string) => isolationMisses.filter((m) => m.isolation !== expected).length;
    console.log(
      `isolation: ${wrong('worktree')}/${isolationChecked.worktree} sessions made on a git repository without "isolation" did not get a worktree; ` +
        `${wrong('shared')}/${isolationChecked.shared} shared ones got one`,
    );
    console.log(`whole run: ${elapsed()}`);
    appLog.report();
    if (problems.length > 0) {
      console.log(`PROBLEMS (${problems.length}):`);
      for (const p of problems.slice(0, 50)) console.log(`  - ${p}`);
      process.exitCode = 1;
    }
  } finally {
    await restoreAgents?.().catch((err: Error) => console.warn(`Could not restore the agents' capacity: ${err.message}`));
    await app?.close();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Plan tasks are routed to an IMPLEMENTER agent, which takes at most its maxConcurrentSessions
 * (5 for the seeded one): raised to `wanted` for the run. Returns what puts them back.
 */
async function raiseImplementerCapacity(api: AxiosInstance, wanted: number): Promise<() => Promise<void>> {
  type Agent = { id: string; name: string; version: number; enabled: boolean; maxConcurrentSessions: number };
  const agents = (await api.get('/api/v1/agents', { params: { role: 'IMPLEMENTER' } })).data as Agent[];
  const raised: Array<{ id: string; was: number }> = [];
  for (const agent of agents.filter((a) => a.enabled && a.maxConcurrentSessions < wanted)) {
    await api.patch(`/api/v1/agents/${agent.id}`, { version: agent.version, maxConcurrentSessions: wanted });
    raised.push({ id: agent.id, was: agent.maxConcurrentSessions });
    console.log(`(agent ${agent.name}: maxConcurrentSessions ${agent.maxConcurrentSessions} → ${wanted} for this run)`);
  }
  return async () => {
    for (const { id, was } of raised) {
      const now = (await api.get(`/api/v1/agents/${id}`)).data as Agent;
      await api.patch(`/api/v1/agents/${id}`, { version: now.version, maxConcurrentSessions: was });
    }
  };
}

function holds(repo: string, ref: string, file: string): boolean {
  try {
    git(repo, 'cat-file', '-e', `${ref}:${file}`);
    return true;
  } catch {
    return false;
  }
}

/** Slot directories made under WORKTREES_DIR (all repositories). */
function slotCount(worktreesDir: string): number {
  if (!existsSync(worktreesDir)) return 0;
  return readdirSync(worktreesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .reduce((n, d) => n + readdirSync(join(worktreesDir, d.name), { withFileTypes: true }).filter((e) => e.isDirectory() && /^slot-\d+$/.test(e.name)).length, 0);
}

function countCompleted(sessions: SessionView[]): number {
  return sessions.filter((s) => s.status === 'COMPLETED').length;
}

const appLog = new CountingLogger({ root: /bench-parallel-[A-Za-z0-9]+/g });

const quietLogger = { log: () => undefined, warn: (m: string) => !m.startsWith('No real model') && console.warn(`[opencode] ${m}`), error: (m: string) => console.error(`[opencode] ${m}`) };

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
