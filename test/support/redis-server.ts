import { ChildProcess, spawn } from 'node:child_process';
import { AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { onTestFileEnd } from './test-file';

/** The redis-server binary (REDIS_SERVER_BIN to use another). */
const REDIS_SERVER = process.env.REDIS_SERVER_BIN || '/usr/bin/redis-server';

/**
 * Starts the server in the background and kills it when its stdin closes: when stop() ends it,
 * or when the test process dies, however it dies. So no redis-server outlives its test file.
 */
export const WATCHDOG = '"$0" "$@" & server=$!; read _; kill -9 $server 2>/dev/null; wait $server';

/**
 * A private Redis for a fault test that restarts it, so that the machine's shared Redis (and
 * the other test files on it) never goes down. Keeps nothing on disk: a restart loses
 * everything, as a crash of a Redis without persistence would.
 */
export interface TestRedisServer {
  readonly host: string;
  readonly port: number;
  /** REDIS_HOST, REDIS_PORT and REDIS_PASSWORD for an app or worker (createTestApp's env) pointed at it. */
  env(): Record<string, string>;
  /** Kills the server (SIGKILL: nothing kept), waits downForMs, and starts it again on the same port. */
  restart(downForMs?: number): Promise<void>;
  /** Starts the server again if it is down (for afterAll: apps close cleanly only while their Redis answers). */
  ensureRunning(): Promise<void>;
  /** Kills the server; also done when the file ends. */
  stop(): Promise<void>;
}

/** Starts a redis-server on a free port of 127.0.0.1 and waits until it answers. */
export async function startRedisServer(): Promise<TestRedisServer> {
  const host = '127.0.0.1';
  const port = await freePort(host);
  let child: ChildProcess | undefined;
  let output = '';

  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.stdin?.end();
    await exited;
  };
  const start = async () => {
    output = '';
    const started = spawn(
      'sh',
      ['-c', WATCHDOG, REDIS_SERVER, '--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no', '--dir', tmpdir()],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    child = started;
    started.stdin?.on('error', () => undefined);
    started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    for (let i = 0; i < 100; i++) {
      if (await answers(host, port)) return;
      await sleep(100);
    }
    await stop();
    throw new Error(`redis-server on ${host}:${port} did not answer:\n${output}`);
  };

  const forget = onTestFileEnd(stop);
  await start();
  return {
    host,
    port,
    env: () => ({ REDIS_HOST: host, REDIS_PORT: String(port), REDIS_PASSWORD: '' }),
    restart: async (downForMs = 500) => {
      await stop();
      await sleep(downForMs);
      await start();
    },
    ensureRunning: async () => {
      if (!(await answers(host, port))) {
        await stop();
        await start();
      }
    },
    stop: async () => {
      forget();
      await stop();
    },
  };
}

/** Whether a Redis answers PING on host:port. */
function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    let reply = '';
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
