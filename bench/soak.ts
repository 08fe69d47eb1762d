/**
 * npm run soak — about SOAK_MINUTES (10) of steady work under random faults, then a report.
 *
 * What runs, each a separate process as deployed (see bench/support/soak-stack.ts): the app built
 * once into a snapshot of the run's own (tsc + tsc-alias, as `npm run build`), the API
 * (`node dist/apps/api/src/main.js`) and two workers (`node dist/apps/worker/src/main.js`); a
 * PostgreSQL and a Redis of the run's own on free ports (test/support; the machine's shared ones are
 * never touched); one `opencode serve` on the offline rehearsal provider that both workers use as
 * their external OPENCODE_HOST (started and supervised by this process: restarted when it dies).
 * The API requires keys (API_KEY, the bootstrap admin key); the load uses an operator key and the
 * latency probe a viewer key, both made through POST /api/v1/keys.
 *
 * Load, on a steady schedule whatever the API answers: SOAK_SESSIONS_PER_MINUTE (6) sessions, a
 * third in plain directories (shared, under the workspace lock) and the rest in git repositories
 * (a worktree and a branch each), and SOAK_PLANS_PER_MINUTE (2) plans of three tasks (a, b, then c)
 * in git repositories. Every prompt writes one file with content unique to the run, and streams its
 * closing answer over 0-SOAK_MAX_SLOW_SECONDS (6) s, so turns are in flight when a fault hits.
 * A GET of one session every 250 ms measures the API's latency throughout.
 *
 * Faults, every SOAK_FAULT_MIN_SECONDS-SOAK_FAULT_MAX_SECONDS (30-60) s at random, each kind once
 * before any twice (SOAK_FAULTS: a comma-separated subset, or `none`): SIGKILL a worker, SIGTERM a
 * worker (a replacement is started at once in both cases), restart Redis (it keeps nothing),
 * restart PostgreSQL (immediate shutdown or SIGKILL), SIGKILL the OpenCode server, SIGSTOP it for
 * 5-20 s then SIGCONT. A process that dies on its own is started again (and reported).
 *
 * The end: creation stops (plans one lease earlier: three tasks in a row need the time), faults
 * stop, the rest gets two leases (2 × SOAK_LEASE_SECONDS, WORKER_LEASE_SECONDS of the workers, 30) to
 * finish. Report: sessions by final state and error code; plans by state; and the goals, each 0:
 * stuck (not final two leases after the end), illegal histories (a transition the lifecycle
 * table forbids, a gap, an attempt number going back or skipping), prompts sent twice for one
 * attempt (user messages in OpenCode, as worker-loss.e2e-spec.ts checks), files of COMPLETED
 * sessions and plans missing from their workspace or branch; and the probe's p50/p99 with and
 * without a fault in effect within the 15 s before. Exit code 1 when a goal is missed.
 *
 * Everything (processes, servers, directories) is removed at the end, also on Ctrl-C;
 * SOAK_KEEP=1 keeps the run's directory (logs of every process). SOAK_SEED replays a run's random
 * choices; SOAK_BUILD_DIR reuses a snapshot built before (its directory is then left alone).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runTestFileCleanups } from '../test/support/test-file';
import { makeRepository } from './support/git-repo';
import {
  countPrompts,
  FINAL_PLAN,
  FINAL_SESSION,
  getWithRetries,
  historyProblems,
  latencyFigures,
  listSessions,
  loadSessionTransitions,
  MissingFile,
  missingPlanFiles,
  missingSessionFiles,
  PlanView,
  printTable,
  PromptCheck,
  servedDirectories,
  SessionEvent,
  SessionView,
} from './support/soak-checks';
import { FAULT_KINDS, FaultInjector, FaultKind } from './support/soak-faults';
import { seededRandom } from './support/seeded-random';
import { describeError, LatencyProbe, SoakLoad } from './support/soak-load';
import { API_MAIN, buildSnapshot } from './support/soak-processes';
import { SoakStack } from './support/soak-stack';

const env = process.env;
const MINUTES = Number(env.SOAK_MINUTES ?? 10);
const SESSIONS_PER_MINUTE = Number(env.SOAK_SESSIONS_PER_MINUTE ?? 6);
const PLANS_PER_MINUTE = Number(env.SOAK_PLANS_PER_MINUTE ?? 2);
const LEASE_SECONDS = Number(env.SOAK_LEASE_SECONDS ?? 30);
const FAULT_MIN_SECONDS = Number(env.SOAK_FAULT_MIN_SECONDS ?? 30);
const FAULT_MAX_SECONDS = Number(env.SOAK_FAULT_MAX_SECONDS ?? 60);
const MAX_SLOW_SECONDS = Number(env.SOAK_MAX_SLOW_SECONDS ?? 6);
const WORKERS = 2;
const SEED = Number(env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const KEEP = env.SOAK_KEEP === '1';
/** SIGTERMed workers get their SHUTDOWN_GRACE_SECONDS (passed through when set; else its default, 60) plus 30 s for the hand-over, as compose's stop_grace_period. */
const SIGTERM_WAIT_MS = (Number(env.SHUTDOWN_GRACE_SECONDS ?? 60) + 30) * 1000;
const PROBE_INTERVAL_MS = 250;
/** A probe counts as "with faults" when a fault was in effect at its time or within this long before. */
const FAULT_SHADOW_MS = 15_000;

const began = Date.now();
const clock = (t = Date.now()) => {
  const s = Math.max(0, Math.round((t - began) / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};
const log = (message: string) => console.log(`[${clock()}] ${message}`);

function faultKinds(): FaultKind[] {
  if (!env.SOAK_FAULTS) return [...FAULT_KINDS];
  if (env.SOAK_FAULTS === 'none') return [];
  const kinds = env.SOAK_FAULTS.split(',').map((k) => k.trim()) as FaultKind[];
  const unknown = kinds.filter((k) => !FAULT_KINDS.includes(k));
  if (unknown.length) throw new Error(`SOAK_FAULTS: unknown ${unknown.join(', ')} (known: ${FAULT_KINDS.join(', ')}, or none)`);
  return kinds;
}

// ---- cleanup, also on Ctrl-C ----------------------------------------------------------------

let root: string | undefined;
let stack: SoakStack | undefined;
const abort = new AbortController();
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    abort.abort();
    await stack?.stop().catch((err: Error) => console.error(`cleanup: ${err.message}`));
    await runTestFileCleanups().catch((err: Error) => console.error(`cleanup: ${err.message}`));
    if (root && existsSync(root)) {
      if (KEEP) console.log(`kept the run's directory (SOAK_KEEP=1): ${root}`);
      else rmSync(root, { recursive: true, force: true });
    }
  })();
  return cleaning;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130); // a second Ctrl-C: now (the children die with this process)
    interrupted = true;
    console.log(`\n${signal}: stopping every process of the run and removing its files...`);
    void cleanup().finally(() => process.exit(130));
  });
}

// ---- the run ----------------------------------------------------------------------------------

async function main(): Promise<number> {
  const kinds = faultKinds();
  const random = seededRandom(SEED);
  root = mkdtempSync(join(tmpdir(), 'soak-'));
  // The private PostgreSQL runs as user postgres (this process may be root): it must reach its files below.
  chmodSync(root, 0o755);
  const tag = randomBytes(3).toString('hex');
  log(`soak ${tag}: ${MINUTES} min, seed ${SEED}, faults ${kinds.join(', ') || 'none'} every ${FAULT_MIN_SECONDS}-${FAULT_MAX_SECONDS} s, ${SESSIONS_PER_MINUTE} sessions/min, ${PLANS_PER_MINUTE} plans/min, lease ${LEASE_SECONDS} s; files in ${root}`);

  const appDir = env.SOAK_BUILD_DIR && existsSync(join(env.SOAK_BUILD_DIR, API_MAIN)) ? env.SOAK_BUILD_DIR : await buildSnapshot(join(root, 'app'), log);
  log(appDir === env.SOAK_BUILD_DIR ? `reusing the build in ${appDir}` : `built the app into ${appDir}`);
  const transitions = loadSessionTransitions(appDir);

  const ws = join(root, 'ws');
  mkdirSync(join(root, 'logs'), { recursive: true });
  const repositories = [1, 2, 3].map((i) => makeRepository(join(ws, 'repos', `r${i}`)));
  const planRepositories = [1, 2].map((i) => makeRepository(join(ws, 'plan-repos', `p${i}`)));
  const plainDirectories = [1, 2, 3].map((i) => join(ws, 'plain', `d${i}`));
  const probeDirectory = join(ws, 'probe');
  for (const dir of [...plainDirectories, probeDirectory]) mkdirSync(dir, { recursive: true });

  const apiKey = `soak-admin-${randomBytes(16).toString('hex')}`;
  stack = new SoakStack({ root, appDir, wsRoot: ws, queuePrefix: `soak-${tag}`, apiKey, workers: WORKERS, leaseSeconds: LEASE_SECONDS, log });
  await stack.start();
  const admin = stack.client(apiKey);
  const makeKey = async (role: string) =>
    ((await admin.post('/api/v1/keys', { name: `soak ${role}`, role, workspaceRoots: [ws] })).data as { key: string }).key;
  const operator = stack.client(await makeKey('operator'));
  const viewer = stack.client(await makeKey('viewer'), 10_000);
  const probeSession = ((await operator.post('/api/v1/sessions', { title: `soak ${tag} probe`, workspace: probeDirectory, prompt: 'never started' })).data as { id: string }).id;

  // ---- load and faults ----
  const until = Date.now() + MINUTES * 60_000;
  const probe = new LatencyProbe(viewer, `/api/v1/sessions/${probeSession}`, PROBE_INTERVAL_MS);
  const probeStop = new AbortController();
  abort.signal.addEventListener('abort', () => probeStop.abort());
  const probing = probe.run(probeStop.signal);
  const load = new SoakLoad({
    operator,
    random,
    runTag: tag,
    sessionsPerMinute: SESSIONS_PER_MINUTE,
    plansPerMinute: PLANS_PER_MINUTE,
    repositories,
    plainDirectories,
    planRepositories,
    sharedShare: 1 / 3,
    maxSlowSeconds: MAX_SLOW_SECONDS,
    log,
  });
  const faults = new FaultInjector(stack, { kinds, minGapMs: FAULT_MIN_SECONDS * 1000, maxGapMs: FAULT_MAX_SECONDS * 1000, random, sigtermWaitMs: SIGTERM_WAIT_MS, log });
  log(`load and faults until ${clock(until)}`);
  const progress = setInterval(() => {
    const last = probe.samples.slice(-40);
    log(`${load.sessions.length} sessions and ${load.plans.length} plans requested, ${faults.records.length} faults; probe p50 ${latencyFigures(last).p50} ms over the last 10 s; workers ${stack!.liveWorkers().map((w) => w.name).join(', ')}`);
  }, 60_000);
  await Promise.all([
    load.runSessions(until, abort.signal),
    load.runPlans(until - LEASE_SECONDS * 1000, abort.signal),
    kinds.length ? faults.run(until, abort.signal) : Promise.resolve(),
  ]);
  clearInterval(progress);
  const ended = Date.now();
  log('creation and faults stopped; waiting for the last requests');
  await load.settle();

  // ---- the rest gets two leases ----
  const deadline = Math.max(ended, Date.now()) + 2 * LEASE_SECONDS * 1000;
  log(`waiting up to two leases (until ${clock(deadline)}) for every session and plan to finish`);
  const planIds = () => load.plans.filter((p) => p.id && p.started).map((p) => p.id!);
  for (;;) {
    const open = await unfinished(planIds(), probeSession).catch((err: Error) => `? (${err.message})`);
    if (open === '' || Date.now() >= deadline) {
      log(open === '' ? 'everything finished' : `two leases after the end: still open: ${open}`);
      break;
    }
    await sleep(2_000);
  }
  const finishedAt = Date.now();
  probeStop.abort();
  await probing;

  // ---- what happened ----
  log('reading every session, its history, its OpenCode turns and its files...');
  const sessions = (await listSessions(admin)).filter((s) => s.id !== probeSession);
  const histories = new Map<string, SessionEvent[]>();
  for (const s of sessions) histories.set(s.id, await getWithRetries<SessionEvent[]>(admin, `/api/v1/sessions/${s.id}/events`));
  const plans = new Map<string, PlanView>();
  for (const id of load.plans.filter((p) => p.id).map((p) => p.id!)) plans.set(id, await getWithRetries<PlanView>(admin, `/api/v1/plans/${id}`));
  // Plans whose creation answer was lost: found by their requirement, which starts with the title.
  const listed = (await getWithRetries<{ items: PlanView[] }>(admin, '/api/v1/plans', { limit: 100 })).items;
  for (const p of listed) if (!plans.has(p.id) && p.requirement.startsWith(`soak ${tag} `)) plans.set(p.id, await getWithRetries<PlanView>(admin, `/api/v1/plans/${p.id}`));

  const requestedByTitle = new Map(load.sessions.map((r) => [r.title, r]));
  const planSessionIds = new Set([...plans.values()].flatMap((p) => p.tasks.flatMap((t) => t.sessionIds)));
  const stuck: SessionView[] = [];
  const unstarted: SessionView[] = [];
  const abandoned: SessionView[] = [];
  for (const s of sessions) {
    if (FINAL_SESSION.has(s.status)) continue;
    const requested = requestedByTitle.get(s.title);
    if (s.status === 'PENDING' && s.origin.kind === 'api' && !requested?.started) unstarted.push(s);
    else if (s.status === 'PENDING' && s.origin.kind === 'plan' && !planSessionIds.has(s.id)) abandoned.push(s);
    else stuck.push(s);
  }
  const stuckPlans = [...plans.values()].filter((p) => !FINAL_PLAN.has(p.status) && p.status !== 'DRAFT');
  const illegal = sessions.map((s) => ({ s, problems: historyProblems(histories.get(s.id) ?? [], s.status, transitions) })).filter((x) => x.problems.length > 0);
  const directories = servedDirectories([...repositories, ...planRepositories, ...plainDirectories], join(ws, '.worktrees'));
  const prompts = await countPrompts(stack.opencode.endpoint(), directories, sessions, histories).catch((err: unknown): PromptCheck => {
    log(`!! could not read OpenCode's sessions: ${describeError(err)}`);
    const ran = sessions.filter((s) => (histories.get(s.id) ?? []).some((e) => e.to === 'RUNNING'));
    return { checked: ran.length, opencodeSessions: 0, prompts: 0, duplicates: [], unverifiable: ran.map((s) => s.id) };
  });
  const missing: MissingFile[] = [];
  for (const s of sessions) if (s.status === 'COMPLETED') missing.push(...missingSessionFiles(s));
  const planFiles = new Map(load.plans.map((p) => [p.title, p.files]));
  for (const p of plans.values()) {
    const files = planFiles.get(p.requirement.split(':')[0]);
    if (p.status === 'COMPLETED' && files) missing.push(...missingPlanFiles(p, files));
  }

  // Whether the stuck ones were slow rather than stuck: read again once the checks above are done.
  const laterFinal = new Map<string, string>();
  for (const s of stuck) {
    const now = await getWithRetries<SessionView>(admin, `/api/v1/sessions/${s.id}`).catch(() => undefined);
    if (now && FINAL_SESSION.has(now.status)) laterFinal.set(s.id, `${now.status}${now.error ? ` ${now.error.code}` : ''}`);
  }
  const laterAt = Date.now();

  // ---- the report ----
  const runMinutes = (finishedAt - began) / 60_000;
  console.log(`\n=== soak ${tag}: ${runMinutes.toFixed(1)} min in all (load and faults ${((ended - (until - MINUTES * 60_000)) / 60_000).toFixed(1)} min), seed ${SEED}, ${WORKERS} workers, lease ${LEASE_SECONDS} s; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} ===`);

  printTable(
    `Faults (${faults.records.length})`,
    ['at', 'kind', 'target', 'back after', 'what happened'],
    faults.records.map((f) => [clock(f.startedAt), f.kind, f.target, `${((f.endedAt - f.startedAt) / 1000).toFixed(1)} s`, `${f.detail}${f.error ? ` ERROR: ${f.error}` : ''}`]),
  );

  const surprises = stack.exits.filter((e) => !e.expected);
  printTable(
    'Processes',
    ['process', 'pid', 'ended', 'error lines', 'most frequent error messages'],
    stack.processes.map((p) => {
      const exit = stack!.exits.find((e) => e.pid === p.pid);
      const ended = exit ? `${clock(exit.at)} ${exit.expected ? 'asked' : 'ON ITS OWN'} (${exit.signal ?? `code ${exit.code}`})` : 'ran to the end';
      const top = [...p.errors.samples].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([m, c]) => `${c}x ${m}`).join(' | ');
      return [p.name, String(p.pid), ended, String(p.errors.count), top];
    }),
  );

  const byState = new Map<string, { api: number; plan: number; example: string }>();
  for (const s of sessions) {
    const key = `${s.status}\t${s.error?.code ?? ''}`;
    const row = byState.get(key) ?? { api: 0, plan: 0, example: (s.error?.message ?? '').replace(/\s+/g, ' ').slice(0, 110) };
    row[s.origin.kind === 'plan' ? 'plan' : 'api']++;
    byState.set(key, row);
  }
  printTable(
    `Sessions by final state and error code (${sessions.length}: ${sessions.filter((s) => s.origin.kind !== 'plan').length} made through the API, of ${load.sessions.length} requested; the rest by plans, Debugger retries included)`,
    ['status', 'error code', 'API sessions', 'plan sessions', 'total', 'an error message'],
    [...byState]
      .sort((a, b) => b[1].api + b[1].plan - (a[1].api + a[1].plan))
      .map(([key, c]) => [...key.split('\t'), String(c.api), String(c.plan), String(c.api + c.plan), c.example]),
  );
  const attempts = new Map<number, number>();
  for (const s of sessions) attempts.set(s.attempt, (attempts.get(s.attempt) ?? 0) + 1);
  console.log(`  attempts: ${[...attempts].sort((a, b) => a[0] - b[0]).map(([a, c]) => `${c} with ${a}`).join(', ')}`);

  const planStates = new Map<string, number>();
  for (const p of plans.values()) planStates.set(`${p.status}\t${p.error?.code ?? ''}`, (planStates.get(`${p.status}\t${p.error?.code ?? ''}`) ?? 0) + 1);
  printTable(`Plans by state (${plans.size})`, ['status', 'error code', 'plans'], [...planStates].map(([k, c]) => [...k.split('\t'), String(c)]));

  const createErrors = (items: Array<{ createError?: string }>) => countBy(items.filter((r) => r.createError).map((r) => r.createError!));
  const startRefused = (items: Array<{ id?: string; started: boolean }>) => items.filter((r) => r.id && !r.started).length;
  const startRetried = (items: Array<{ startErrors: string[]; started: boolean }>) => items.filter((r) => r.started && r.startErrors.length > 0).length;
  printTable('Requests of the load', ['what', 'requested', 'create failed (no id)', 'start/run retried, then accepted', 'start/run never accepted'], [
    ['sessions', String(load.sessions.length), fmtCounts(createErrors(load.sessions)), String(startRetried(load.sessions)), String(startRefused(load.sessions))],
    ['plans', String(load.plans.length), fmtCounts(createErrors(load.plans)), String(startRetried(load.plans)), String(startRefused(load.plans))],
  ]);

  const quiet = probe.samples.filter((s) => !faults.inEffect(s.at, FAULT_SHADOW_MS));
  const faulted = probe.samples.filter((s) => faults.inEffect(s.at, FAULT_SHADOW_MS));
  printTable(
    `API latency: GET /api/v1/sessions/:id every ${PROBE_INTERVAL_MS} ms (viewer key); "with faults": a fault in effect at the time or within ${FAULT_SHADOW_MS / 1000} s before`,
    ['window', 'probes', 'not 2xx / no answer', 'p50 ms', 'p99 ms', 'max ms'],
    [
      ['without faults', quiet],
      ['with faults', faulted],
      ['all', probe.samples],
    ].map(([name, samples]) => {
      const f = latencyFigures(samples as typeof probe.samples);
      return [name as string, String(f.probes), String(f.failed), String(f.p50), String(f.p99), String(f.max)];
    }),
  );

  const goals: Array<[string, number, string]> = [
    ['stuck: sessions not final two leases after the end', stuck.length, ''],
    ['stuck: plans not final two leases after the end', stuckPlans.length, ''],
    ['illegal histories (forbidden transition, gap, attempt order)', illegal.length, `of ${sessions.length} sessions`],
    ['prompts sent twice for one attempt', prompts.duplicates.length, `${prompts.checked - prompts.unverifiable.length} sessions that ran: ${prompts.opencodeSessions} OpenCode sessions, ${prompts.prompts} prompts`],
    ['sessions that ran whose OpenCode turns were not found (prompts uncounted)', prompts.unverifiable.length, `of ${prompts.checked}`],
    ['files of COMPLETED sessions and plans missing', missing.length, `${sessions.filter((s) => s.status === 'COMPLETED').length} sessions, ${[...plans.values()].filter((p) => p.status === 'COMPLETED').length} plans checked`],
  ];
  printTable('Goals', ['goal', 'found', 'target', 'verdict', 'checked'], goals.map(([g, n, note]) => [g, String(n), '0', n === 0 ? 'met' : 'MISSED', note]));
  if (unstarted.length) console.log(`  not counted as stuck: ${unstarted.length} PENDING sessions whose start the API never accepted (see Requests)`);
  if (abandoned.length) console.log(`  not counted as stuck: ${abandoned.length} PENDING plan sessions no task holds (a crash between creating a task's session and storing it; documented in Plans, Restarts)`);
  if (surprises.length) console.log(`  processes that exited on their own (started again): ${surprises.map((e) => `${e.name} at ${clock(e.at)} (${e.signal ?? `code ${e.code}`})`).join(', ')}`);

  const details = (title: string, lines: string[]) => {
    if (lines.length === 0) return;
    console.log(`\n${title}${lines.length > 20 ? ` (first 20 of ${lines.length})` : ''}`);
    for (const line of lines.slice(0, 20)) console.log(`  ${line}`);
  };
  if (stuck.length) console.log(`  of the stuck sessions, ${laterFinal.size} were final when read again at ${clock(laterAt)} (${fmtCounts(countBy([...laterFinal.values()]))}): slow rather than stuck`);
  details('Stuck', [...stuck.map((s) => `session ${s.id} ${s.status} attempt ${s.attempt} (${s.title}): ${lastEvent(histories.get(s.id))}${laterFinal.has(s.id) ? `; ${laterFinal.get(s.id)} at ${clock(laterAt)}` : ''}`), ...stuckPlans.map((p) => `plan ${p.id} ${p.status}: ${p.tasks.map((t) => `${t.key} ${t.status}`).join(', ')}`)]);
  details('Illegal histories', illegal.map(({ s, problems }) => `${s.id} (${s.title}): ${problems.join('; ')}`));
  details('Prompts sent twice', prompts.duplicates.map((d) => `${d.sessionId} (${d.title}) attempt ${d.attempt}: ${d.prompts} prompts`));
  details('Missing files', missing.map((m) => `${m.what}: ${m.path} ${m.why}`));
  details('Sessions whose OpenCode turns were not found', prompts.unverifiable.map((id) => id));

  return goals.some(([, n]) => n > 0) ? 1 : 0;

  /** '' when every session (but the probe) and every run plan is final, else a summary of what is open. */
  async function unfinished(planIds: string[], skip: string): Promise<string> {
    const open = (await listSessions(admin)).filter((s) => s.id !== skip && !FINAL_SESSION.has(s.status) && !(s.status === 'PENDING' && !requestedByTitleNow(s.title)?.started && s.origin.kind === 'api'));
    const openPlans: string[] = [];
    for (const id of planIds) {
      const p = await getWithRetries<PlanView>(admin, `/api/v1/plans/${id}`);
      if (!FINAL_PLAN.has(p.status)) openPlans.push(p.id);
    }
    if (open.length === 0 && openPlans.length === 0) return '';
    return `${open.length} sessions (${fmtCounts(countBy(open.map((s) => s.status)))}), ${openPlans.length} plans`;
  }
  function requestedByTitleNow(title: string) {
    return load.sessions.find((r) => r.title === title);
  }
}

function countBy(values: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const v of values) out.set(v, (out.get(v) ?? 0) + 1);
  return out;
}

function fmtCounts(counts: Map<string, number>): string {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  return total === 0 ? '0' : `${total} (${[...counts].map(([k, v]) => `${k} x${v}`).join(', ')})`;
}

function lastEvent(events: SessionEvent[] | undefined): string {
  const e = events?.[events.length - 1];
  return e ? `last ${e.from}→${e.to} at ${e.at} (${e.reason})` : 'no history';
}

main()
  .then(async (code) => {
    if (interrupted) return;
    await cleanup();
    process.exit(code);
  })
  .catch(async (err: unknown) => {
    if (interrupted) return; // what failed was stopped by the cleanup under way, which exits
    console.error(`soak failed: ${describeError(err)}`);
    if (err instanceof Error && err.stack) console.error(err.stack);
    await cleanup();
    process.exit(2);
  });
