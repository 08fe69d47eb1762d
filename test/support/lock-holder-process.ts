import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { FairLockOptions } from '@app/locking';
import { onTestFileEnd, testFileEnvironment } from './test-file';

/**
 * A separate OS process that takes one lock with RedisFairLock (so that a test can SIGKILL,
 * SIGSTOP or SIGCONT a holder or a waiter). Run as a program, it reads its job from the
 * LOCK_HOLDER_JOB environment variable, reports what happens as marked JSON lines on stdout,
 * accepts "release" and "exit" lines on stdin, and exits when stdin closes (when the test
 * process goes away). It reaches Redis as the app would (REDIS_HOST, REDIS_PORT, REDIS_PASSWORD),
 * with this file's environment.
 */

const ROOT = join(__dirname, '..', '..');
const MARK = '@@lock-holder ';

export interface LockHolderJob {
  prefix: string;
  namespace?: string;
  options?: Omit<FairLockOptions, 'prefix' | 'namespace'>;
  resource: string;
  owner: string;
  ttlMs: number;
  waitTimeoutMs: number;
  autoRenew?: boolean;
}

export type LockHolderEventName = 'ready' | 'acquired' | 'failed' | 'lost' | 'released';

export interface LockHolderEvent {
  event: LockHolderEventName;
  /** ready: the channel on which this process hears its grants. */
  channel?: string;
  /** acquired, lost, released. */
  fence?: number;
  /** failed, lost: the LockError code. */
  code?: string;
  message?: string;
  /** released: what release() answered. */
  ok?: boolean;
}

export interface LockHolderProcess {
  child: ChildProcess;
  pid: number;
  events(): LockHolderEvent[];
  output(): string;
  /** The first event of this kind (already seen or still to come). */
  next(event: LockHolderEventName, timeoutMs?: number): Promise<LockHolderEvent>;
  send(command: 'release' | 'exit'): void;
  /** Sends a signal without waiting (SIGSTOP, SIGCONT). */
  signal(signal: NodeJS.Signals): void;
  /** Sends a signal (SIGKILL by default) and resolves when the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const running = new Set<LockHolderProcess>();

/** Starts this file as a separate process that takes (or waits for) one lock; killed when the test file ends. */
export function startLockHolder(job: LockHolderJob): LockHolderProcess {
  const child = spawn(process.execPath, ['-r', 'ts-node/register', '-r', 'tsconfig-paths/register', __filename], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...testFileEnvironment(),
      TS_NODE_TRANSPILE_ONLY: 'true',
      TS_NODE_SWC: 'true',
      LOCK_HOLDER_JOB: JSON.stringify(job),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let pending = '';
  const events: LockHolderEvent[] = [];
  const listeners = new Set<() => void>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith(MARK)) continue;
      events.push(JSON.parse(line.slice(MARK.length)) as LockHolderEvent);
      for (const listener of [...listeners]) listener();
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stdin?.on('error', () => undefined); // the child may be gone already
  child.once('exit', () => {
    running.delete(holder);
    for (const listener of [...listeners]) listener();
  });

  const holder: LockHolderProcess = {
    child,
    pid: child.pid ?? -1,
    events: () => [...events],
    output: () => out,
    next: (event, timeoutMs = 20_000) =>
      new Promise<LockHolderEvent>((resolve, reject) => {
        const check = () => {
          const found = events.find((e) => e.event === event);
          if (found) finish(() => resolve(found));
          else if (child.exitCode !== null || child.signalCode !== null) {
            finish(() => reject(new Error(`lock holder ${child.pid} exited before "${event}":\n${out}`)));
          }
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`lock holder ${child.pid}: no "${event}" within ${timeoutMs} ms:\n${out}`))),
          timeoutMs,
        );
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      }),
    send: (command) => {
      child.stdin?.write(`${command}\n`);
    },
    signal: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  running.add(holder);
  onTestFileEnd(() => holder.kill('SIGKILL'));
  return holder;
}

/** Kills every lock holder process still running (for afterAll). */
export async function killLockHolders(): Promise<void> {
  await Promise.all([...running].map((holder) => holder.kill('SIGKILL')));
}

// ---- the child program -------------------------------------------------------------------

async function runJob(job: LockHolderJob): Promise<void> {
  const [{ default: Redis }, { Logger }, { AppConfig }, { RedisFairLock }] = await Promise.all([
    import('ioredis'),
    import('@nestjs/common'),
    import('@app/config'),
    import('@app/locking'),
  ]);
  const { host, port, password } = AppConfig.fromEnvironment().redis;
  Logger.overrideLogger(false);
  const emit = (event: LockHolderEvent) => process.stdout.write(`${MARK}${JSON.stringify(event)}\n`);
  const connect = () => {
    const redis = new Redis({
      host,
      port,
      password,
      maxRetriesPerRequest: null,
      retryStrategy: (times) => Math.min(times * 50, 500),
    });
    redis.on('error', () => undefined);
    return redis;
  };
  const redis = connect();
  const subscriber = connect();
  const lock = new RedisFairLock(redis, subscriber, { prefix: job.prefix, namespace: job.namespace, ...job.options });
  const keepAlive = setInterval(() => undefined, 60_000);
  const exit = () => {
    clearInterval(keepAlive);
    redis.disconnect();
    subscriber.disconnect();
    process.exit(0);
  };
  let lease: Awaited<ReturnType<typeof lock.acquire>> | undefined;
  let input = '';
  process.stdin.on('data', (chunk: Buffer) => {
    input += chunk.toString();
    const lines = input.split('\n');
    input = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === 'exit') exit();
      if (line.trim() === 'release' && lease) {
        const released = lease;
        void lock.release(released).then((ok) => emit({ event: 'released', fence: released.fence, ok }));
      }
    }
  });
  process.stdin.on('end', exit);
  await redis.ping();
  await subscriber.ping();
  emit({ event: 'ready', channel: lock.channel });
  try {
    lease = await lock.acquire(job.resource, {
      owner: job.owner,
      ttlMs: job.ttlMs,
      waitTimeoutMs: job.waitTimeoutMs,
      autoRenew: job.autoRenew,
    });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    emit({ event: 'failed', code: e.code, message: e.message });
    return;
  }
  const held = lease;
  emit({ event: 'acquired', fence: held.fence });
  held.signal.addEventListener('abort', () => {
    const reason = held.signal.reason as { code?: string; message?: string };
    emit({ event: 'lost', fence: held.fence, code: reason?.code, message: reason?.message });
  });
}

if (require.main === module) {
  runJob(JSON.parse(process.env.LOCK_HOLDER_JOB ?? '{}') as LockHolderJob).catch((err) => {
    process.stderr.write(`lock holder failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
