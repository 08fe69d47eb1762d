import { setTimeout as sleep } from 'node:timers/promises';
import { descendantsOf } from '@app/opencode';
import type { SoakStack } from './soak-stack';

export const FAULT_KINDS = ['worker-sigkill', 'worker-sigterm', 'redis-restart', 'postgres-restart', 'opencode-sigkill', 'opencode-sigstop'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRecord {
  kind: FaultKind;
  /** What was hit: a worker's name and pid, a server. */
  target: string;
  /** From the first signal to everything back (replacement ready, server answering). */
  startedAt: number;
  endedAt: number;
  detail: string;
  /** The fault could not be brought back as planned (the run goes on). */
  error?: string;
}


export interface FaultInjectorOptions {
  kinds: readonly FaultKind[];
  /** A fault every minGapMs to maxGapMs, uniformly at random (after the previous one is over). */
  minGapMs: number;
  maxGapMs: number;
  random: () => number;
  /** How long a worker told SIGTERM may take to exit before it is SIGKILLed (its SHUTDOWN_GRACE_SECONDS plus a margin). */
  sigtermWaitMs: number;
  log: (message: string) => void;
}

/**
 * Every 30-60 s (by default) one fault, drawn from a shuffled bag of the kinds so that each kind
 * comes once before any comes twice: SIGKILL or SIGTERM a worker (a replacement is started), restart
 * Redis (SIGKILL: it keeps nothing) or PostgreSQL (immediate shutdown or SIGKILL), SIGKILL the
 * OpenCode server's process tree (its supervisor starts it again) or freeze it with SIGSTOP for
 * 5-20 s. A fault is over when what it hit is back; the next waits for that.
 */
export class FaultInjector {
  readonly records: FaultRecord[] = [];
  private bag: FaultKind[] = [];

  constructor(
    private readonly stack: SoakStack,
    private readonly o: FaultInjectorOptions,
  ) {}

  /** Injects faults until `until` (epoch ms) or abort; the fault under way is always finished. */
  async run(until: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const gap = this.o.minGapMs + this.o.random() * (this.o.maxGapMs - this.o.minGapMs);
      if (Date.now() + gap >= until) break;
      await sleep(gap, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) break;
      await this.inject(this.next());
    }
  }

  /** Whether a fault was in effect at `t` or within the `afterMs` before it. */
  inEffect(t: number, afterMs: number): boolean {
    return this.records.some((f) => t >= f.startedAt && t <= f.endedAt + afterMs);
  }

  private next(): FaultKind {
    if (this.bag.length === 0) {
      this.bag = [...this.o.kinds];
      for (let i = this.bag.length - 1; i > 0; i--) {
        const j = Math.floor(this.o.random() * (i + 1));
        [this.bag[i], this.bag[j]] = [this.bag[j], this.bag[i]];
      }
    }
    return this.bag.pop()!;
  }

  async inject(kind: FaultKind): Promise<FaultRecord> {
    const record: FaultRecord = { kind, target: '', startedAt: Date.now(), endedAt: 0, detail: '' };
    this.records.push(record);
    try {
      await this.apply(kind, record);
    } catch (err) {
      record.error = (err as Error).message.split('\n')[0];
    }
    record.endedAt = Date.now();
    const took = ((record.endedAt - record.startedAt) / 1000).toFixed(1);
    this.o.log(`fault ${kind} on ${record.target}: ${record.detail}; back after ${took} s${record.error ? `; ERROR ${record.error}` : ''}`);
    return record;
  }

  private async apply(kind: FaultKind, record: FaultRecord): Promise<void> {
    const { stack } = this;
    switch (kind) {
      case 'worker-sigkill':
      case 'worker-sigterm': {
        const live = stack.liveWorkers();
        if (live.length === 0) throw new Error('no live worker to hit');
        const victim = live[Math.floor(this.o.random() * live.length)];
        record.target = `${victim.name} (pid ${victim.pid})`;
        if (kind === 'worker-sigkill') {
          victim.signal('SIGKILL');
          const replacement = await stack.startWorker();
          record.detail = `SIGKILL; replacement ${replacement.name} ready`;
          return;
        }
        // A rolling restart: the replacement starts while the old one shuts down.
        const replacement = stack.startWorker();
        replacement.catch(() => undefined);
        const began = Date.now();
        const inTime = await victim.stop('SIGTERM', this.o.sigtermWaitMs);
        const exit = await victim.exited;
        record.detail =
          `SIGTERM; ${inTime ? `exited after ${((exit.at - began) / 1000).toFixed(1)} s (code ${exit.code}, signal ${exit.signal})` : `still running after ${this.o.sigtermWaitMs / 1000} s: SIGKILLed`}` +
          `; replacement ${(await replacement).name} ready`;
        if (!inTime) record.error = `did not exit within ${this.o.sigtermWaitMs / 1000} s of SIGTERM`;
        return;
      }
      case 'redis-restart': {
        const down = 1_000 + Math.round(this.o.random() * 4_000);
        record.target = `redis :${stack.redis.port}`;
        await stack.redis.restart(down);
        record.detail = `SIGKILL, down ${(down / 1000).toFixed(1)} s, restarted empty`;
        return;
      }
      case 'postgres-restart': {
        const down = 1_000 + Math.round(this.o.random() * 4_000);
        const mode = this.o.random() < 0.5 ? 'fast' : 'kill';
        record.target = `postgres :${stack.pg.port}`;
        await stack.pg.restart(down, mode);
        record.detail = `${mode === 'fast' ? 'immediate shutdown' : 'SIGKILL'}, down ${(down / 1000).toFixed(1)} s, restarted`;
        return;
      }
      case 'opencode-sigkill':
      case 'opencode-sigstop': {
        const pid = stack.opencode.pid;
        if (!pid) throw new Error('OpenCode is not running');
        // The whole tree: sandboxed, the server runs below bwrap, in a PID namespace of its own.
        const tree = [pid, ...descendantsOf(pid)];
        record.target = `opencode (pid ${pid}, ${tree.length} processes)`;
        const send = (sig: NodeJS.Signals) =>
          tree.forEach((p) => {
            try {
              process.kill(p, sig);
            } catch {
              // gone meanwhile
            }
          });
        if (kind === 'opencode-sigkill') {
          const restarts = stack.opencode.restarts;
          send('SIGKILL');
          // Its supervisor counts a restart once the new process answers its health check.
          await this.until(() => stack.opencode.restarts > restarts, 300_000, 'restart of OpenCode');
          record.detail = `SIGKILL; restarted as pid ${stack.opencode.pid} (${stack.opencode.endpoint().baseUrl})`;
          return;
        }
        const frozen = 5_000 + Math.round(this.o.random() * 15_000);
        send('SIGSTOP');
        try {
          await sleep(frozen);
        } finally {
          send('SIGCONT');
        }
        await this.until(() => stack.opencodeAnswers(), 60_000, 'OpenCode to answer');
        record.detail = `SIGSTOP for ${(frozen / 1000).toFixed(1)} s, then SIGCONT`;
        return;
      }
    }
  }

  private async until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs / 1000} s`);
      await sleep(250);
    }
  }
}
