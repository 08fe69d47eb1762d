import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import axios, { AxiosInstance } from 'axios';

/** A file a prompt asks the rehearsal model to write ([[write path]]content[[/write]]). */
export interface ExpectedFile {
  path: string;
  content: string;
}

/** What the soak asked for, whatever the API answered. */
export interface Requested {
  /** Unique in the run: sessions and plans are found again by it (also one whose creation answer was lost). */
  title: string;
  at: number;
  workspace: string;
  /** shared (a plain directory, under the workspace lock) or worktree (a git repository). */
  isolation: 'shared' | 'worktree';
  id?: string;
  /** Why creating it failed (no id came back). */
  createError?: string;
  /** Whether a start (run, for a plan) was accepted; errors of the tries before. */
  started: boolean;
  startErrors: string[];
}

export interface RequestedPlan extends Requested {
  /** Each task's file, by task key. */
  files: Record<string, ExpectedFile>;
}

export interface LoadOptions {
  operator: AxiosInstance;
  random: () => number;
  runTag: string;
  sessionsPerMinute: number;
  plansPerMinute: number;
  /** Git repositories for worktree sessions, plain directories for shared ones, repositories for plans. */
  repositories: string[];
  plainDirectories: string[];
  planRepositories: string[];
  /** Share of sessions in a plain directory (the rest in a git repository). */
  sharedShare: number;
  /** Longest [[slow N]] of a prompt: its closing answer streams that long, so turns are in flight when a fault hits. */
  maxSlowSeconds: number;
  log: (message: string) => void;
}

/** The rehearsal markers of a prompt: one file with content unique to the run, and a closing answer over 0-N s. */
function writingPrompt(what: string, file: ExpectedFile, slowSeconds: number): string {
  return `${what}. [[write ${file.path}]]${file.content}[[/write]]${slowSeconds > 0 ? ` [[slow ${slowSeconds}]]` : ''}`;
}

/** An error in a line: `409 LOCK_TIMEOUT`, `ECONNREFUSED`, `timeout`. */
export function describeError(err: unknown): string {
  if (axios.isAxiosError(err)) {
    if (err.response) return `${err.response.status} ${(err.response.data as { code?: string })?.code ?? ''}`.trim();
    return err.code ?? err.message;
  }
  return (err as Error).message;
}

const retryableStart = (err: unknown) => !axios.isAxiosError(err) || !err.response || err.response.status >= 500 || (err.response.data as { code?: string })?.code === 'LOCK_TIMEOUT';

/**
 * Creates sessions and small plans at a steady rate, each on its schedule whatever the API
 * answers meanwhile (a request that hangs during an outage does not hold the next one back).
 * A session writes one file; a plan is three tasks (a and b, then c after both), each writing one.
 * A start (run) refused with a retryable answer is tried again for about 90 s, as a client would;
 * a create that failed is not (its answer may have been lost after the session was made: the
 * report finds such sessions by their title).
 */
export class SoakLoad {
  readonly sessions: Requested[] = [];
  readonly plans: RequestedPlan[] = [];
  private readonly pending = new Set<Promise<void>>();
  private n = 0;

  constructor(private readonly o: LoadOptions) {}

  async runSessions(until: number, signal: AbortSignal): Promise<void> {
    await this.steady(this.o.sessionsPerMinute, until, signal, () => this.createSession());
  }

  async runPlans(until: number, signal: AbortSignal): Promise<void> {
    await this.steady(this.o.plansPerMinute, until, signal, () => this.createPlan());
  }

  /** Waits for the requests still under way (their start retries included). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async steady(perMinute: number, until: number, signal: AbortSignal, create: () => Promise<void>): Promise<void> {
    if (perMinute <= 0) return;
    const interval = 60_000 / perMinute;
    let next = Date.now() + this.o.random() * interval;
    while (!signal.aborted) {
      // ±30% around the rate, so that creations do not fall in step with the faults.
      await sleep(Math.max(0, next - Date.now()), undefined, { signal }).catch(() => undefined);
      if (signal.aborted || Date.now() >= until) return;
      const work = create().catch((err: Error) => this.o.log(`!! load: ${err.message}`));
      this.pending.add(work);
      void work.finally(() => this.pending.delete(work));
      next += interval * (0.7 + 0.6 * this.o.random());
    }
  }

  private pick<T>(items: T[]): T {
    return items[Math.floor(this.o.random() * items.length)];
  }

  private async createSession(): Promise<void> {
    const n = ++this.n;
    const shared = this.o.random() < this.o.sharedShare;
    const workspace = this.pick(shared ? this.o.plainDirectories : this.o.repositories);
    const title = `soak ${this.o.runTag} s${n}`;
    const file = { path: `soak/s${n}.txt`, content: `${title} ${randomBytes(6).toString('hex')}\n` };
    const slow = Math.round(this.o.random() * this.o.maxSlowSeconds);
    const entry: Requested = { title, at: Date.now(), workspace, isolation: shared ? 'shared' : 'worktree', started: false, startErrors: [] };
    this.sessions.push(entry);
    try {
      const body = { title, workspace, prompt: writingPrompt(`Soak session ${n}: write one file`, file, slow), isolation: entry.isolation };
      entry.id = ((await this.o.operator.post('/api/v1/sessions', body)).data as { id: string }).id;
    } catch (err) {
      entry.createError = describeError(err);
      return;
    }
    await this.startWithRetries(entry, `/api/v1/sessions/${entry.id}/start`, 'INVALID_TRANSITION');
  }

  private async createPlan(): Promise<void> {
    const n = ++this.n;
    const workspace = this.pick(this.o.planRepositories);
    const title = `soak ${this.o.runTag} p${n}`;
    const files: Record<string, ExpectedFile> = {};
    const tasks = (['a', 'b', 'c'] as const).map((key) => {
      files[key] = { path: `soak/p${n}-${key}.txt`, content: `${title} ${key} ${randomBytes(6).toString('hex')}\n` };
      const slow = Math.round(this.o.random() * this.o.maxSlowSeconds);
      return {
        key,
        title: `${title} ${key}`,
        role: 'IMPLEMENTER',
        instructions: writingPrompt(`Write the file of part ${key} of ${title}`, files[key], slow),
        dependsOn: key === 'c' ? ['a', 'b'] : [],
      };
    });
    const entry: RequestedPlan = { title, at: Date.now(), workspace, isolation: 'worktree', started: false, startErrors: [], files };
    this.plans.push(entry);
    try {
      const body = { requirement: `${title}: write three small files, one per task, the last after the other two.`, workspace, tasks };
      entry.id = ((await this.o.operator.post('/api/v1/plans', body)).data as { id: string }).id;
    } catch (err) {
      entry.createError = describeError(err);
      return;
    }
    await this.startWithRetries(entry, `/api/v1/plans/${entry.id}/run`, 'PLAN_INVALID_STATE');
  }

  /** POSTs `path` until accepted; `alreadyCode` (409) means an earlier try got through after all. */
  private async startWithRetries(entry: Requested, path: string, alreadyCode: string): Promise<void> {
    const deadline = Date.now() + 90_000;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.o.operator.post(path);
        entry.started = true;
        return;
      } catch (err) {
        const code = axios.isAxiosError(err) ? (err.response?.data as { code?: string })?.code : undefined;
        if (code === alreadyCode && entry.startErrors.length > 0) {
          entry.started = true;
          return;
        }
        entry.startErrors.push(describeError(err));
        if (!retryableStart(err) || Date.now() > deadline) return;
        await sleep(Math.min(10_000, 1_000 * 2 ** attempt));
      }
    }
  }
}

/** One answer of the latency probe. */
export interface ProbeSample {
  at: number;
  ms: number;
  /** HTTP status, or 0 when none came (refused, timed out). */
  status: number;
}

/**
 * A steady GET of one session every intervalMs, each on its schedule (a slow answer does not
 * delay the next probe, so a stall shows as the latency it is, not as fewer samples).
 */
export class LatencyProbe {
  readonly samples: ProbeSample[] = [];

  constructor(
    private readonly api: AxiosInstance,
    private readonly path: string,
    private readonly intervalMs: number,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    let next = Date.now();
    while (!signal.aborted) {
      const at = Date.now();
      const probe = this.api
        .get(this.path, { validateStatus: () => true })
        .then((res) => this.samples.push({ at, ms: Date.now() - at, status: res.status }))
        .catch(() => this.samples.push({ at, ms: Date.now() - at, status: 0 }))
        .then(() => undefined);
      inFlight.add(probe);
      void probe.finally(() => inFlight.delete(probe));
      next += this.intervalMs;
      await sleep(Math.max(0, next - Date.now()), undefined, { signal }).catch(() => undefined);
    }
    await Promise.all([...inFlight]);
  }
}
