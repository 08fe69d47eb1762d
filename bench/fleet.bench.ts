/**
 * npm run bench:fleet — what a pool of OpenCode servers with recycling buys over one server that is
 * never recycled, in one run of the real app (HTTP API + BullMQ worker + PostgreSQL + Redis, one
 * process) on the offline rehearsal provider (no OPENCODE_MODEL: every session writes one file, a
 * real tool call). Two peers, each its own Nest app with its own OpencodeFleet, queue prefix, data
 * directory and workspaces, started and closed one after the other (never both at once):
 *
 *  - "one":  OPENCODE_SERVERS=1, no recycling (OPENCODE_RECYCLE_AFTER_SESSIONS, OPENCODE_MAX_RSS_MB
 *            and OPENCODE_MAX_AGE_MINUTES all 0), OPENCODE_SERVER_MAX_SESSIONS = BENCH_CONCURRENCY;
 *  - "pool": OPENCODE_SERVERS=2, OPENCODE_RECYCLE_AFTER_SESSIONS = BENCH_RECYCLE_AFTER (default
 *            BENCH_SESSIONS / 5: each server slot serves about half the sessions, so it passes the
 *            limit at least twice in the run, with room for an uneven split and for the sessions a
 *            server takes between passing the limit and the next probe), the RSS and age limits at
 *            their defaults, OPENCODE_SERVER_MAX_SESSIONS = BENCH_CONCURRENCY (either server alone
 *            takes the whole load while the other is drained and replaced).
 *
 * Both: MAX_CONCURRENT_SESSIONS = BENCH_CONCURRENCY, API_KEY '', no OPENCODE_HOST(S). Each of the
 * BENCH_CONCURRENCY lanes works in its own plain directory (isolation "shared", no git: no
 * workspace lock serializes two lanes), warmed up with one session per lane first (not counted).
 * Then BENCH_SESSIONS sessions, created and started through the API (POST /api/v1/sessions, POST
 * /api/v1/sessions/:id/start); one watcher reads the newest sessions every 200 ms for all lanes.
 *
 * Figures, per peer: sessions/s over the first BENCH_WINDOW completed sessions (from the first POST
 * to the window's last finishedAt) and over the last ones (from the finishedAt before the window to
 * the last), by completion order (the worker's finishedAt: same process, same clock), and the
 * ratio last / first (goal for the pool >= 0.9: no ageing); sessions/s along the run, window by
 * window; total throughput (completed sessions / wall time from the first POST to the last
 * completion) and the ratio pool / one (goal >= 1.3); the sessions that did not complete, with
 * their error codes (goal 0); every server (each generation of a slot has its own id): its peak
 * RSS (process tree, the larger of the fleet's probe and this script's own /proc reading, sampled
 * every second), sessions served, its share of the measured sessions; the recycles (the fleet's
 * 'recycled' events, with when and why) and the ids that appeared and left the live listing;
 * QUEUED→RUNNING and RUNNING→done latencies; how loaded the machine was: the CPU the rest of the
 * machine used (cores, /proc/stat less this process and its servers' process trees, sampled every
 * second) over the whole batch, over each window and while each rate was measured, and the load
 * average, since another workload on a 2-core machine moves every figure.
 *
 * Env: BENCH_SESSIONS (2000), BENCH_CONCURRENCY (25), BENCH_RECYCLE_AFTER (BENCH_SESSIONS / 5),
 * BENCH_WINDOW (200, at most half of BENCH_SESSIONS so that the two windows never overlap).
 * About 15-20 minutes at the default size on 2 cores. Uses the local PostgreSQL (database
 * orchestrator_bench) and Redis.
 *
 * The goals are printed next to the figures, "met" or "MISSED"; they do not set the exit code.
 * Exit code 1 when any session did not complete (or needed a second attempt: a turn lost with its
 * server), or a check failed: a written file missing, the pool not recycled (when the limit is
 * within the run), the one server recycled, a recycle other than by a limit (an unhealthy server
 * replaced), GET /api/v1/servers not listing the peer's servers, a server process outliving its app.
 */
import 'reflect-metadata';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { FleetRecycle, FleetServerView, isProcessAlive, OpencodeFleet, processTable, ProcessTable } from '@app/opencode';
import type { AxiosInstance } from 'axios';
import { startBenchApp } from './support/bench-app';
import { CountingLogger } from './support/counting-logger';
import { treeCpuSeconds, treeRssMb } from './support/process-stats';
import { percentile, runPool } from './support/stats';
import { SessionWatcher } from './support/session-watcher';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 25);
const RECYCLE_AFTER = Number(process.env.BENCH_RECYCLE_AFTER ?? Math.max(1, Math.floor(SESSIONS / 5)));
const WINDOW = Math.max(1, Math.min(Number(process.env.BENCH_WINDOW ?? 200), Math.floor(SESSIONS / 2)));
const SESSION_LIMIT_MS = 180_000;
const GOAL_NO_AGEING = 0.9;
const GOAL_RATIO = 1.3;

interface SessionView {
  id: string;
  status: string;
  isolation: 'worktree' | 'shared';
  attempt: number;
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  opencodeServerId?: string | null;
  error: { code: string; message: string } | null;
}

const benchStart = performance.now();
const elapsed = () => `[${((performance.now() - benchStart) / 1000).toFixed(0)} s]`;

/**
 * Everything that did not go as it should, by kind (a session's message with its numbers taken
 * out), with the first few examples: printed at the end, and the exit code is 1.
 */
const problems = new Map<string, { count: number; examples: string[] }>();

function problem(kind: string, example?: string): void {
  const seen = problems.get(kind) ?? { count: 0, examples: [] };
  seen.count++;
  if (example && seen.examples.length < 3) seen.examples.push(example);
  problems.set(kind, seen);
}

/** A session that did not end as it should, counted by status and error (numbers out of its message). */
function sessionProblem(what: string, s: SessionView): void {
  problem(`${what}: ${s.status}${s.error ? ` (${s.error.code}: ${s.error.message.replace(/\d+/g, 'N')})` : ''}`, s.id);
}

/** One ended session of a measured batch: when it finished (epoch ms, the worker's clock) and where it ran. */
interface Ended {
  session: SessionView;
  at: number;
}

/**
 * Creates, starts and waits for `count` sessions on CONCURRENCY lanes, each writing `<tag>-<i>.txt`
 * in its lane; pushes each ended session to `ended` as it ends (watched while the batch runs).
 */
async function runBatch(api: AxiosInstance, watcher: SessionWatcher<SessionView>, tag: string, count: number, lane: (n: number) => string, ended: Ended[] = []): Promise<Ended[]> {
  await runPool(count, CONCURRENCY, async (i, n) => {
    const workspace = lane(n);
    const file = `${tag}-${i}.txt`;
    const body = { title: `${tag} ${i}`, prompt: `Fleet benchmark ${tag} ${i}. [[write ${file}]]${tag} ${i}\n[[/write]]`, workspace };
    const { id } = (await api.post('/api/v1/sessions', body)).data as { id: string };
    const finished = watcher.finished(id, tag);
    await api.post(`/api/v1/sessions/${id}/start`);
    const s = await finished.catch((err: Error) => {
      problem(`${tag}: a session did not finish within ${SESSION_LIMIT_MS / 1000} s`, err.message.replace(/.*session (\S+).*/, '$1'));
      return null;
    });
    if (!s) return;
    ended.push({ session: s, at: Number.isFinite(Date.parse(s.finishedAt ?? '')) ? Date.parse(s.finishedAt!) : Date.now() });
    if (s.status !== 'COMPLETED') return;
    if (!existsSync(join(workspace, file))) problem(`${tag}: a COMPLETED session's file is missing`, join(workspace, file));
    if (s.isolation !== 'shared') problem(`${tag}: a session in a plain directory got isolation "${s.isolation}"`, s.id);
  });
  return ended;
}

type PeerName = 'one' | 'pool';

interface ServerSeen {
  id: string;
  pids: Set<number>;
  peakRssMb: number;
  served: number;
  sandboxed: boolean | null;
  /** When it was first and last listed live (epoch ms). */
  firstLive: number;
  lastLive: number;
}

interface PeerResult {
  name: PeerName;
  settings: string;
  managedServers: number;
  /** Measured sessions in completion order. */
  ended: Ended[];
  startAt: number;
  wallSeconds: number;
  servers: Map<string, ServerSeen>;
  recycles: Array<FleetRecycle & { at: number; completedBefore: number }>;
  /** Ids that joined (+) or left (-) the live (non-STOPPED) listing, and when (epoch ms). */
  listingChanges: Array<{ at: number; change: string }>;
  /** Every second: CPU seconds so far of the whole machine and of this benchmark (this process and its servers' trees). */
  cpu: Array<{ at: number; machine: number; ours: number; servers: number }>;
  load: { before: number[]; after: number[] };
}

/** Busy CPU time of the whole machine so far, in seconds (all cores; /proc/stat: everything but idle and iowait). */
function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return (user + nice + system + irq + softirq + (steal ?? 0)) / 100;
}

async function runPeer(name: PeerName, root: string, fleetEnv: Record<string, string>, managedServers: number): Promise<PeerResult> {
  const dir = join(root, name);
  const lanes = join(dir, 'lanes');
  mkdirSync(lanes, { recursive: true });
  const lane = (n: number) => {
    const path = join(lanes, `lane-${n}`);
    mkdirSync(path, { recursive: true });
    return path;
  };
  const config = AppConfig.with({
    PORT: '0',
    DB_NAME: 'orchestrator_bench',
    QUEUE_PREFIX: `bench-fleet-${process.pid}-${name}`,
    DATA_DIR: join(dir, 'data'),
    OPENCODE_HOST: '',
    OPENCODE_HOSTS: '',
    OPENCODE_MODEL: '',
    MAX_CONCURRENT_SESSIONS: String(CONCURRENCY),
    WORKSPACE_ROOTS: lanes,
    API_KEY: '',
    LOG_LEVEL: 'error',
    ...fleetEnv,
  });
  const f = config.opencodeFleet;
  const settings =
    `OPENCODE_SERVERS=${f.managedServers}, OPENCODE_SERVER_MAX_SESSIONS=${f.maxSessionsPerServer}, ` +
    `OPENCODE_RECYCLE_AFTER_SESSIONS=${f.recycleAfterSessions}, OPENCODE_MAX_RSS_MB=${f.maxRssMb}, OPENCODE_MAX_AGE_MINUTES=${f.maxAgeMinutes}`;
  console.log(`${elapsed()} peer "${name}": ${settings}`);

  const loadBefore = loadavg();
  // A server's CPU is read from /proc while it runs (a stopped one's is lost once it is gone): the last reading of each counts.
  const serverCpu = new Map<string, number>();
  const cpu: PeerResult['cpu'] = [];
  const sampleCpu = () => {
    const self = process.cpuUsage();
    const servers = [...serverCpu.values()].reduce((a, b) => a + b, 0);
    cpu.push({ at: Date.now(), machine: machineBusySeconds(), ours: (self.user + self.system) / 1e6 + servers, servers });
  };
  sampleCpu();
  let app: INestApplication | undefined;
  const onSignal = () => void (app?.close() ?? Promise.resolve()).finally(() => process.exit(130));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, onSignal);

  const servers = new Map<string, ServerSeen>();
  const recycles: PeerResult['recycles'] = [];
  const listingChanges: PeerResult['listingChanges'] = [];
  const ended: Ended[] = [];
  let startAt = Date.now();
  let wallSeconds = NaN;
  let sampler: NodeJS.Timeout | undefined;
  try {
    const started = await startBenchApp(config, appLog, (made) => (app = made));
    const { api } = started;
    app = started.app;
    const fleet = app.get(OpencodeFleet);
    fleet.on('recycled', (r: FleetRecycle) => recycles.push({ ...r, at: Date.now(), completedBefore: ended.length }));

    // Every second: each server's RSS (the fleet's last probe, and /proc now), sessions served, live ids.
    let live = new Set<string>();
    const sample = (views: FleetServerView[]) => {
      const now = new Set<string>();
      let table: ProcessTable | undefined;
      for (const v of views) {
        const seen = servers.get(v.id) ?? { id: v.id, pids: new Set<number>(), peakRssMb: 0, served: 0, sandboxed: v.sandboxed, firstLive: Date.now(), lastLive: Date.now() };
        servers.set(v.id, seen);
        seen.served = Math.max(seen.served, v.sessionsServed);
        if (v.state === 'STOPPED') continue;
        now.add(v.id);
        seen.lastLive = Date.now();
        if (v.pid) {
          table ??= processTable(); // one read of /proc for every server's tree
          serverCpu.set(v.id, Math.max(serverCpu.get(v.id) ?? 0, treeCpuSeconds(v.pid, table)));
          seen.pids.add(v.pid);
          seen.peakRssMb = Math.max(seen.peakRssMb, v.rssMb ?? 0, treeRssMb(v.pid, table));
        }
      }
      for (const id of now) if (!live.has(id)) listingChanges.push({ at: Date.now(), change: `+${id}` });
      for (const id of live) if (!now.has(id)) listingChanges.push({ at: Date.now(), change: `-${id}` });
      live = now;
      sampleCpu();
    };
    sample(fleet.list());
    sampler = setInterval(() => sample(fleet.list()), 1_000);

    const listed = ((await api.get('/api/v1/servers')).data as { items: FleetServerView[] }).items.filter((s) => s.workerId === fleet.workerId && s.managed && s.state !== 'STOPPED');
    if (listed.length !== managedServers) problem(`${name}: GET /api/v1/servers lists ${listed.length} live managed server(s) of worker ${fleet.workerId}, ${managedServers} expected`);
    const sandboxed = fleet.list().map((s) => s.sandboxed);
    console.log(`${elapsed()}   ${fleet.list().length} server(s) up (${sandboxed.every(Boolean) ? 'bubblewrap sandbox' : sandboxed.some(Boolean) ? 'partly sandboxed' : 'no sandbox'}); warming up, one session per lane...`);

    const watcher = new SessionWatcher<SessionView>(api, SESSION_LIMIT_MS);
    const warm = await runBatch(api, watcher, `${name}-warm`, CONCURRENCY, lane);
    for (const { session: s } of warm.filter((e) => e.session.status !== 'COMPLETED')) sessionProblem(`${name} warm-up: a session ended`, s);
    console.log(`${elapsed()}   ${SESSIONS} sessions at concurrency ${CONCURRENCY}...`);
    startAt = Date.now();
    const t0 = performance.now();
    let progress = 0;
    const progressTimer = setInterval(() => {
      const done = ended.length;
      if (done - progress >= Math.max(WINDOW, SESSIONS / 10)) {
        progress = done;
        console.log(`${elapsed()}   ${done}/${SESSIONS} ended`);
      }
    }, 1_000);
    await runBatch(api, watcher, name, SESSIONS, lane, ended).finally(() => clearInterval(progressTimer));
    wallSeconds = (performance.now() - t0) / 1000;
    await watcher.stop();
    sample(fleet.list());
    clearInterval(sampler);
    for (const e of ended) {
      const s = e.session;
      if (s.status !== 'COMPLETED') sessionProblem(`${name}: a session ended`, s);
      else if (s.attempt > 1) problem(`${name}: a session COMPLETED only on a later attempt (a turn was lost with its server)`, s.id);
    }
  } finally {
    clearInterval(sampler);
    await app?.close();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.off(signal, onSignal);
  }
  // Every server's process tree ends with the app (the fleet stops them last).
  for (const s of servers.values()) {
    for (const pid of s.pids) {
      if (!isProcessAlive(pid)) continue;
      problem(`${name}: a server process still ran after its app closed (killed)`, `${s.id} pid ${pid}`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
  sampleCpu();
  ended.sort((a, b) => a.at - b.at);
  return { name, settings, managedServers, ended, startAt, wallSeconds, servers, recycles, listingChanges, cpu, load: { before: loadBefore, after: loadavg() } };
}


/** Sessions/s over a span of time (epoch ms), and the other work the machine did meanwhile (cores). */
interface Span {
  from: number;
  to: number;
  rate: number;
  otherCores: number;
}

interface Rates {
  completed: number;
  first: Span;
  last: Span;
  total: number;
  /** Window after window of WINDOW completed sessions. */
  timeline: Span[];
  /** Over the whole measured batch: the machine's busy cores, this benchmark's, the others'. */
  busyCores: number;
  oursCores: number;
  /** Of oursCores: the OpenCode servers' process trees (the rest is the app's process). */
  serverCores: number;
  otherCores: number;
}

/**
 * CPU used over [from, to] (epoch ms), in cores: by the whole machine and by this benchmark, from
 * the per-second samples nearest outside the span.
 */
function cpuOver(p: PeerResult, from: number, to: number): { busy: number; ours: number; servers: number; other: number } {
  const a = [...p.cpu].reverse().find((c) => c.at <= from) ?? p.cpu[0];
  const b = p.cpu.find((c) => c.at >= to) ?? p.cpu[p.cpu.length - 1];
  const seconds = Math.max(0.001, (b.at - a.at) / 1000);
  const busy = (b.machine - a.machine) / seconds;
  const ours = (b.ours - a.ours) / seconds;
  return { busy, ours, servers: (b.servers - a.servers) / seconds, other: Math.max(0, busy - ours) };
}

/** Sessions/s of the completed sessions: first and last WINDOW (by finishedAt), window by window, and over the wall time. */
function ratesOf(p: PeerResult): Rates {
  const at = p.ended.filter((e) => e.session.status === 'COMPLETED').map((e) => e.at);
  const n = at.length;
  const span = (from: number, to: number, count: number): Span => ({ from, to, rate: count / Math.max(0.001, (to - from) / 1000), otherCores: cpuOver(p, from, to).other });
  const w = Math.min(WINDOW, n);
  const none: Span = { from: p.startAt, to: p.startAt, rate: 0, otherCores: 0 };
  const first = n === 0 ? none : span(p.startAt, at[w - 1], w);
  const last = n === 0 ? none : span(n > w ? at[n - w - 1] : p.startAt, at[n - 1], w);
  const timeline: Span[] = [];
  for (let end = WINDOW; end <= n; end += WINDOW) timeline.push(span(end === WINDOW ? p.startAt : at[end - WINDOW - 1], at[end - 1], WINDOW));
  const whole = cpuOver(p, p.startAt, p.startAt + p.wallSeconds * 1000);
  return { completed: n, first, last, total: n / p.wallSeconds, timeline, busyCores: whole.busy, oursCores: whole.ours, serverCores: whole.servers, otherCores: whole.other };
}

function report(p: PeerResult, r: Rates): void {
  const f2 = (x: number) => x.toFixed(2);
  const between = (a: string | null, b: string | null) => Date.parse(b ?? '') - Date.parse(a ?? '');
  const done = p.ended.filter((e) => e.session.status === 'COMPLETED').map((e) => e.session);
  const ms = (xs: number[]) => {
    const ok = xs.filter(Number.isFinite);
    return `p50 ${percentile(ok, 50).toFixed(0)} / p90 ${percentile(ok, 90).toFixed(0)} ms`;
  };
  const ageing = r.last.rate / r.first.rate;
  const other = (x: Span) => `other work ${x.otherCores.toFixed(2)} cores`;
  // Seconds after the measured start: negative during the warm-up.
  const sec = (at: number) => ((at - p.startAt) / 1000).toFixed(0);
  console.log(`peer "${p.name}" (${p.settings}):`);
  console.log(`  sessions/s, first ${WINDOW} completed : ${f2(r.first.rate)} (${other(r.first)})`);
  console.log(
    `  sessions/s, last ${WINDOW} completed  : ${f2(r.last.rate)} (${other(r.last)})  → last / first ${f2(ageing)}x` +
      (p.name === 'pool' ? ` (goal >= ${GOAL_NO_AGEING}: ${ageing >= GOAL_NO_AGEING ? 'met' : 'MISSED'})` : ' (no goal: the server that ages)'),
  );
  console.log(`  sessions/s by ${WINDOW} completed      : ${r.timeline.map((x) => f2(x.rate)).join(' ')}`);
  console.log(`  other work meanwhile (cores)      : ${r.timeline.map((x) => f2(x.otherCores)).join(' ')}`);
  console.log(`  total: ${f2(r.total)} sessions/s (${r.completed}/${SESSIONS} COMPLETED in ${p.wallSeconds.toFixed(1)} s)`);
  console.log(`  QUEUED→RUNNING ${ms(done.map((s) => between(s.queuedAt, s.startedAt)))}, RUNNING→done ${ms(done.map((s) => between(s.startedAt, s.finishedAt)))}`);
  const failed = p.ended.filter((e) => e.session.status !== 'COMPLETED').map((e) => e.session);
  const lost = SESSIONS - p.ended.length;
  const codes = new Map<string, number>();
  for (const s of failed) codes.set(`${s.status} ${s.error?.code ?? '-'}`, (codes.get(`${s.status} ${s.error?.code ?? '-'}`) ?? 0) + 1);
  if (lost > 0) codes.set('no final status within the limit', lost);
  const retried = done.filter((s) => s.attempt > 1).length;
  console.log(
    `  not completed: ${failed.length + lost}${codes.size > 0 ? ` (${[...codes].map(([k, v]) => `${v} x ${k}`).join(', ')})` : ''} (goal 0: ${failed.length + lost === 0 ? 'met' : 'MISSED'}); ` +
      `completed on a second attempt: ${retried}`,
  );
  const share = new Map<string, number>();
  for (const s of done) share.set(s.opencodeServerId ?? '(none)', (share.get(s.opencodeServerId ?? '(none)') ?? 0) + 1);
  console.log(`  servers (peak RSS of the process tree, sessions served in all, measured sessions it ran, listed live from → to in s after the measured start):`);
  for (const s of [...p.servers.values()].sort((a, b) => a.firstLive - b.firstLive || a.id.localeCompare(b.id))) {
    console.log(
      `    ${s.id.padEnd(36)} peak ${s.peakRssMb.toFixed(0).padStart(5)} MB, served ${String(s.served).padStart(5)}, measured ${String(share.get(s.id) ?? 0).padStart(5)}, ` +
        `live ${sec(s.firstLive)} → ${sec(s.lastLive)}`,
    );
  }
  const peak = Math.max(0, ...[...p.servers.values()].map((s) => s.peakRssMb));
  console.log(`  peak RSS of any one server: ${peak.toFixed(0)} MB`);
  console.log(`  recycles (the fleet's 'recycled' events): ${p.recycles.length}`);
  for (const r of p.recycles) {
    console.log(`    ${sec(r.at).padStart(5)} s, after ${String(r.completedBefore).padStart(5)} completed: ${r.id} → ${r.replacement} (${r.kind}: ${r.reason})`);
  }
  console.log(`  live listing changes (s after the measured start): ${p.listingChanges.map((c) => `${sec(c.at)} ${c.change}`).join(', ') || '-'}`);
  console.log(
    `  machine during the measured sessions: ${f2(r.busyCores)} of ${cores()} cores busy on average, ${f2(r.oursCores)} of them this benchmark ` +
      `(its process and its servers' process trees: ${f2((r.oursCores * p.wallSeconds) / Math.max(1, r.completed))} s of CPU per completed session; ` +
      `the app ${f2(r.oursCores - r.serverCores)} cores, ${f2(((r.oursCores - r.serverCores) * p.wallSeconds) / Math.max(1, r.completed))} s a session, ` +
      `the OpenCode servers ${f2(r.serverCores)} cores, ${f2((r.serverCores * p.wallSeconds) / Math.max(1, r.completed))} s a session), ${f2(r.otherCores)} other work; load average ${p.load.before.map(f2).join(' ')} before the peer, ` +
      `${p.load.after.map(f2).join(' ')} after`,
  );
}

function cores(): number {
  return readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length;
}

async function main(): Promise<void> {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'bench-fleet-')));
  const opencodeVersion = (JSON.parse(readFileSync(join(__dirname, '..', 'node_modules', 'opencode-ai', 'package.json'), 'utf8')) as { version: string }).version;
  console.log(
    `fleet benchmark: opencode-ai ${opencodeVersion}, rehearsal provider, ${SESSIONS} sessions per peer at concurrency ${CONCURRENCY} ` +
      `(+${CONCURRENCY} warm-up), windows of ${WINDOW}, pool recycles after ${RECYCLE_AFTER} sessions, ${cores()} cores, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
  );
  try {
    const one = await runPeer(
      'one',
      root,
      {
        OPENCODE_SERVERS: '1',
        OPENCODE_SERVER_MAX_SESSIONS: String(CONCURRENCY),
        OPENCODE_RECYCLE_AFTER_SESSIONS: '0',
        OPENCODE_MAX_RSS_MB: '0',
        OPENCODE_MAX_AGE_MINUTES: '0',
      },
      1,
    );
    const pool = await runPeer('pool', root, { OPENCODE_SERVERS: '2', OPENCODE_SERVER_MAX_SESSIONS: String(CONCURRENCY), OPENCODE_RECYCLE_AFTER_SESSIONS: String(RECYCLE_AFTER) }, 2);

    for (const r of one.recycles) problem('one: a server was recycled with recycling off', `${r.id} (${r.reason})`);
    if (RECYCLE_AFTER * 2 <= SESSIONS && pool.recycles.length === 0) problem(`pool: no recycle, although each server should pass ${RECYCLE_AFTER} sessions`);
    for (const r of [...one.recycles, ...pool.recycles].filter((x) => !['sessions', 'rss', 'age'].includes(x.kind))) {
      problem(`a server was replaced for another reason than a limit (${r.kind})`, `${r.id}: ${r.reason}`);
    }

    const rOne = ratesOf(one);
    const rPool = ratesOf(pool);
    console.log('');
    report(one, rOne);
    report(pool, rPool);
    const ratio = rPool.total / rOne.total;
    console.log(
      `total throughput pool / one: ${ratio.toFixed(2)}x (goal >= ${GOAL_RATIO}: ${ratio >= GOAL_RATIO ? 'met' : 'MISSED'}); ` +
        `other work on the machine meanwhile: ${rOne.otherCores.toFixed(2)} cores (one), ${rPool.otherCores.toFixed(2)} cores (pool)`,
    );
    const perSlot = (RECYCLE_AFTER > 0 ? Math.floor((SESSIONS + CONCURRENCY) / 2 / RECYCLE_AFTER) : 0) * 2;
    console.log(`pool recycles: ${pool.recycles.length} (about ${perSlot} expected: ${SESSIONS + CONCURRENCY} sessions over 2 slots, one recycle per ${RECYCLE_AFTER} served)`);
    console.log(`whole run: ${elapsed()}`);
    appLog.report();
    if (problems.size > 0) {
      console.log(`PROBLEMS (${[...problems.values()].reduce((n, p) => n + p.count, 0)}, by kind):`);
      for (const [kind, { count, examples }] of problems) console.log(`  - ${count} x ${kind}${examples.length > 0 ? `; e.g. ${examples.join(', ')}` : ''}`);
      process.exitCode = 1;
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

// The rehearsal provider's notice, once per server started: expected here.
const appLog = new CountingLogger({ root: /bench-fleet-[A-Za-z0-9]+/g, ignore: ['No real model configured'] });

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
