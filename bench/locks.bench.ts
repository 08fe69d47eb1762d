/**
 * npm run bench:locks — the fair lock queue (RedisFairLock) against redlock (one Redis) and
 * redis-semaphore's Mutex, in one run, against the same local Redis.
 *
 *  (1) Uncontended: one client, sequential acquire+release pairs on one resource.
 *  (2) Contended: CLIENTS clients (each with its own connections, as separate processes would
 *      have; RedisFairLock: one instance per client with its own command + subscriber
 *      connection) all take one resource, hold it HOLD (await setTimeout(1), the same for all
 *      locks) and release, for a fixed time. Every request's ask and grant times are recorded,
 *      so fairness is exact: a grant is out of order when another request that asked earlier
 *      was still waiting at the time of the grant.
 *
 * The machine is small and shared, so the locks take turns: uncontended in 250 ms slices
 * (rotating order, totals over all slices), contended in rounds with the order rotated
 * (throughput and p50 are the median over rounds, out-of-order grants/overlaps/timeouts are
 * summed, p99/max wait and the client spread are the worst round).
 *
 * Env: REDIS_URL (redis://127.0.0.1:6379), BENCH_ROUNDS (3), BENCH_UNCONTENDED_MS (3000 per lock),
 * BENCH_CONTENDED_MS (5000), BENCH_CLIENTS (50).
 */
import 'reflect-metadata';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import Redlock, { ExecutionError, ResourceLockedError } from 'redlock';
import { Mutex, TimeoutError as SemaphoreTimeoutError } from 'redis-semaphore';
import { LockError, LockErrorCode, RedisFairLock } from '@app/locking';
import { percentile } from './support/stats';

const FairLock = RedisFairLock;

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const UNCONTENDED_MS = Number(process.env.BENCH_UNCONTENDED_MS ?? 3000);
const CONTENDED_MS = Number(process.env.BENCH_CONTENDED_MS ?? 5000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const WARMUP_PAIRS = 500;
const SLICE_MS = 250;
const HOLD_MS = 1; // await setTimeout(1) while holding, for every lock
const TTL_MS = 10_000;
const WAIT_TIMEOUT_MS = 30_000;
const PREFIX = `bench-locks-${process.pid}-${Date.now().toString(36)}`;

type Release = () => Promise<unknown>;

interface LockClient {
  /** Resolves once granted, with the matching release. */
  acquire(resource: string, owner: string, signal?: AbortSignal): Promise<Release>;
  close(): Promise<void>;
}

interface Subject {
  name: string;
  settings: string;
  isTimeout(err: unknown): boolean;
  connect(): Promise<LockClient>;
  /** Not run uncontended when it would only repeat another subject's uncontended path. */
  uncontendedAs?: string;
}

let redisErrors = 0;
const connection = async (): Promise<Redis> => {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', (err: Error) => {
    if (redisErrors++ === 0) console.error(`Redis connection error (the figures of this run are not valid): ${err.message}`);
  });
  await redis.connect();
  return redis;
};

const fairLock: Subject = {
  name: 'RedisFairLock',
  settings: `this lock; defaults (recheckMs 1000, autoRenew on), ttlMs ${TTL_MS}, waitTimeoutMs ${WAIT_TIMEOUT_MS}; own command + subscriber connection per client`,
  isTimeout: (err) => err instanceof LockError && err.code === LockErrorCode.LOCK_TIMEOUT,
  async connect() {
    const [redis, subscriber] = await Promise.all([connection(), connection()]);
    const lock = new FairLock(redis, subscriber, { prefix: PREFIX });
    return {
      async acquire(resource, owner, signal) {
        const lease = await lock.acquire(resource, { owner, ttlMs: TTL_MS, waitTimeoutMs: WAIT_TIMEOUT_MS, signal });
        return () => lock.release(lease);
      },
      async close() {
        await lock.close();
        await Promise.all([redis.quit(), subscriber.quit()]);
      },
    };
  },
};

const redlockSubject = (name: string, retryDelay: number, retryJitter: number, settings: string): Subject => ({
  name,
  settings: `${settings}: retryDelay ${retryDelay} ms, retryJitter ${retryJitter} ms, retryCount ${Math.ceil(WAIT_TIMEOUT_MS / retryDelay)} (~${WAIT_TIMEOUT_MS / 1000} s), duration ${TTL_MS} ms; one connection per client`,
  isTimeout: (err) => err instanceof ExecutionError,
  async connect() {
    const redis = await connection();
    const redlock = new Redlock([redis], { retryCount: Math.ceil(WAIT_TIMEOUT_MS / retryDelay), retryDelay, retryJitter });
    redlock.on('error', (err) => {
      if (!(err instanceof ResourceLockedError)) console.error(`${name}: ${String(err)}`);
    });
    return {
      async acquire(resource) {
        const lock = await redlock.acquire([`${PREFIX}:redlock:${resource}`], TTL_MS);
        return () => lock.release();
      },
      close: () => redis.quit().then(() => undefined),
    };
  },
});

const redlockDocs = redlockSubject('redlock', 200, 200, 'README settings');
const redlockFast = { ...redlockSubject('redlock-10ms', 10, 5, 'polling like redis-semaphore'), uncontendedAs: 'redlock' };

const semaphore: Subject = {
  name: 'redis-semaphore',
  settings: `Mutex, defaults: retryInterval 10 ms, lockTimeout ${TTL_MS} ms (refresh at 0.8x), acquireTimeout ${WAIT_TIMEOUT_MS} ms; a new Mutex per acquisition; one connection per client`,
  isTimeout: (err) => err instanceof SemaphoreTimeoutError,
  async connect() {
    const redis = await connection();
    return {
      async acquire(resource, _owner, signal) {
        const mutex = new Mutex(redis, `${PREFIX}:${resource}`, { lockTimeout: TTL_MS, acquireTimeout: WAIT_TIMEOUT_MS, retryInterval: 10 });
        await mutex.acquire(signal);
        return () => mutex.release();
      },
      close: () => redis.quit().then(() => undefined),
    };
  },
};

const SUBJECTS = [fairLock, redlockDocs, redlockFast, semaphore];

interface Uncontended {
  pairs: number;
  pairsPerSec: number;
  p50: number;
  p99: number;
}

/**
 * One client per lock, all connected at once; after a warm-up, the locks take turns in short
 * slices (rotating order), so that all of them see the same background load.
 */
async function uncontended(subjects: Subject[]): Promise<Uncontended[]> {
  const clients = await Promise.all(subjects.map((s) => s.connect()));
  const resource = 'uncontended';
  try {
    for (const client of clients) for (let i = 0; i < WARMUP_PAIRS; i++) await (await client.acquire(resource, 'solo'))();
    const latencies = subjects.map(() => [] as number[]);
    const elapsed = subjects.map(() => 0);
    const slices = Math.max(1, Math.round(UNCONTENDED_MS / SLICE_MS));
    for (let k = 0; k < slices; k++) {
      for (let n = 0; n < clients.length; n++) {
        const j = (n + k) % clients.length;
        const started = performance.now();
        let now = started;
        while (now - started < SLICE_MS) {
          const release = await clients[j].acquire(resource, 'solo');
          await release();
          const done = performance.now();
          latencies[j].push(done - now);
          now = done;
        }
        elapsed[j] += now - started;
      }
    }
    return subjects.map((_, j) => ({
      pairs: latencies[j].length,
      pairsPerSec: latencies[j].length / (elapsed[j] / 1000),
      p50: percentile(latencies[j], 50),
      p99: percentile(latencies[j], 99),
    }));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

interface Request {
  client: number;
  ask: number;
  /** Granted or timed out at; Infinity while still waiting (or given up at the end of the run). */
  end: number;
  granted: boolean;
}

interface Contended {
  grants: number;
  grantsPerSec: number;
  p50Wait: number;
  p99Wait: number;
  maxWait: number;
  unfinished: number;
  timeouts: number;
  outOfOrder: number;
  fewest: number;
  most: number;
  spreadPct: number;
  overlaps: number;
  holdMs: number;
  cycleMs: number;
}

async function contended(subject: Subject, round: number): Promise<Contended> {
  const resource = `c${round}`;
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => subject.connect()));
  // Warm-up: every client loads the scripts and (RedisFairLock) subscribes once.
  for (const [i, client] of clients.entries()) await (await client.acquire(resource, `client-${i}`))();

  const requests: Request[] = [];
  const stop = new AbortController();
  setMaxListeners(CLIENTS + 10, stop.signal); // every client waits on it
  let inside = 0;
  let overlaps = 0;
  let holdTotal = 0;
  let holds = 0;

  const run = async (client: LockClient, i: number) => {
    while (!stop.signal.aborted) {
      const request: Request = { client: i, ask: performance.now(), end: Infinity, granted: false };
      requests.push(request);
      let release: Release;
      try {
        release = await client.acquire(resource, `client-${i}`, stop.signal);
      } catch (err) {
        if (subject.isTimeout(err)) request.end = performance.now();
        else if (!stop.signal.aborted) throw err;
        continue;
      }
      const granted = performance.now();
      request.end = granted;
      request.granted = true;
      if (inside > 0) overlaps++;
      inside++;
      await sleep(HOLD_MS);
      inside--;
      holdTotal += performance.now() - granted;
      holds++;
      await release();
    }
  };

  // Staggered start (1 ms apart), so that the first asks reach Redis in the order they are
  // recorded; after that, a client asks again only right after its own release. The measured
  // run starts once every client has asked (the ramp would favour the first clients).
  const loops: Promise<void>[] = [];
  for (const [i, client] of clients.entries()) {
    loops.push(run(client, i));
    await sleep(1);
  }
  const started = performance.now();
  const ended = started + CONTENDED_MS;
  const stopTimer = setTimeout(() => stop.abort(new Error('end of run')), CONTENDED_MS);
  await Promise.all(loops);
  clearTimeout(stopTimer);
  await Promise.all(clients.map((c) => c.close()));

  // Grants after the end of the run (peers without an abort finishing their last wait) do not
  // count; their requests count as still waiting at the end.
  const inRun = requests.filter((r) => r.granted && r.end >= started && r.end <= ended);
  const waits = inRun.map((r) => r.end - r.ask);
  const unfinished = requests.filter((r) => r.end > ended && r.ask < ended);
  const maxWait = Math.max(0, ...waits, ...unfinished.map((r) => ended - r.ask));

  // Exact fairness: sort by ask; a grant is out of order when some request asked earlier and
  // ended (granted or timed out) after this grant, or never did.
  const byAsk = [...requests].sort((a, b) => a.ask - b.ask);
  let outOfOrder = 0;
  let latestEndBefore = -Infinity;
  for (let i = 0; i < byAsk.length; ) {
    // Requests with the same ask time are not older than one another.
    let j = i;
    while (j < byAsk.length && byAsk[j].ask === byAsk[i].ask) j++;
    for (let k = i; k < j; k++) {
      const r = byAsk[k];
      if (r.granted && r.end >= started && r.end <= ended && latestEndBefore > r.end) outOfOrder++;
    }
    for (let k = i; k < j; k++) latestEndBefore = Math.max(latestEndBefore, byAsk[k].end);
    i = j;
  }

  const perClient = new Array<number>(CLIENTS).fill(0);
  for (const r of inRun) perClient[r.client]++;
  const fewest = Math.min(...perClient);
  const most = Math.max(...perClient);
  return {
    grants: inRun.length,
    grantsPerSec: inRun.length / (CONTENDED_MS / 1000),
    p50Wait: percentile(waits, 50),
    p99Wait: percentile(waits, 99),
    maxWait,
    unfinished: unfinished.length,
    timeouts: requests.filter((r) => !r.granted && Number.isFinite(r.end)).length,
    outOfOrder,
    fewest,
    most,
    spreadPct: most === 0 ? 0 : ((most - fewest) / most) * 100,
    overlaps,
    holdMs: holds ? holdTotal / holds : 0,
    cycleMs: inRun.length ? CONTENDED_MS / inRun.length : Infinity,
  };
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');
const f3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : '-');

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

async function cleanup(): Promise<number> {
  const redis = await connection();
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
  return deleted;
}

async function main(): Promise<void> {
  const started = performance.now();
  console.log(`Locks benchmark against ${REDIS_URL} (key prefix ${PREFIX})`);
  console.log(
    `Uncontended ${UNCONTENDED_MS} ms per lock after ${WARMUP_PAIRS} warm-up pairs; contended ${ROUNDS} rounds (order rotated) of ` +
      `${CLIENTS} clients x ${CONTENDED_MS} ms, hold = await setTimeout(${HOLD_MS}) (the same for all), wait timeout ${WAIT_TIMEOUT_MS} ms`,
  );
  console.log('Settings:');
  for (const s of SUBJECTS) console.log(`  ${s.name.padEnd(16)} ${s.settings}`);

  const con = new Map<string, Contended[]>(SUBJECTS.map((s) => [s.name, []]));
  const unc = new Map<string, Uncontended>();
  try {
    const measured = SUBJECTS.filter((s) => !s.uncontendedAs);
    console.log(`\nUncontended: ${measured.map((s) => s.name).join(', ')} in turns of ${SLICE_MS} ms`);
    const results = await uncontended(measured);
    measured.forEach((s, j) => {
      unc.set(s.name, results[j]);
      console.log(`  ${s.name.padEnd(16)} ${f0(results[j].pairsPerSec)} pairs/s (${results[j].pairs} pairs, p50 ${f3(results[j].p50)} ms, p99 ${f3(results[j].p99)} ms)`);
    });
    for (let round = 0; round < ROUNDS; round++) {
      const order = SUBJECTS.map((_, i) => SUBJECTS[(i + round) % SUBJECTS.length]);
      console.log(`\nContended round ${round + 1}/${ROUNDS}`);
      for (const subject of order) {
        const c = await contended(subject, round);
        con.get(subject.name)!.push(c);
        console.log(
          `  ${subject.name.padEnd(16)} ${f0(c.grantsPerSec)} grants/s, wait p50 ${f1(c.p50Wait)} / p99 ${f1(c.p99Wait)} / max ${f0(c.maxWait)} ms, ` +
            `out of order ${c.outOfOrder}/${c.grants}, grants per client ${c.fewest}..${c.most}, overlaps ${c.overlaps}, timeouts ${c.timeouts}, ` +
            `hold ${f2(c.holdMs)} ms, cycle ${f2(c.cycleMs)} ms`,
        );
      }
    }
  } finally {
    const deleted = await cleanup();
    console.log(`\nDeleted ${deleted} keys under ${PREFIX}.`);
  }

  for (const s of SUBJECTS) if (s.uncontendedAs) unc.set(s.name, unc.get(s.uncontendedAs)!);
  const summary = SUBJECTS.map((s) => {
    const u = unc.get(s.name)!;
    const c = con.get(s.name)!;
    const worst = (pick: (x: Contended) => number) => Math.max(...c.map(pick));
    const sum = (pick: (x: Contended) => number) => c.reduce((acc, x) => acc + pick(x), 0);
    return {
      subject: s,
      pairsPerSec: u.pairsPerSec,
      pairP50: u.p50,
      pairP99: u.p99,
      grantsPerSec: median(c.map((x) => x.grantsPerSec)),
      p50Wait: median(c.map((x) => x.p50Wait)),
      p99Wait: worst((x) => x.p99Wait),
      maxWait: worst((x) => x.maxWait),
      unfinished: sum((x) => x.unfinished),
      timeouts: sum((x) => x.timeouts),
      outOfOrder: sum((x) => x.outOfOrder),
      grants: sum((x) => x.grants),
      // The round with the widest spread, with its own fewest and most.
      ...(({ fewest, most, spreadPct }) => ({ fewest, most, spreadPct }))(c.reduce((a, b) => (b.spreadPct > a.spreadPct ? b : a))),
      overlaps: sum((x) => x.overlaps),
      holdMs: median(c.map((x) => x.holdMs)),
      cycleMs: median(c.map((x) => x.cycleMs)),
    };
  });

  console.log('\nUncontended (one client, sequential acquire+release pairs on one resource; all slices)');
  console.log(
    table(
      ['lock', 'pairs/s', 'pair p50 ms', 'pair p99 ms'],
      summary.map((r) => [r.subject.name + (r.subject.uncontendedAs ? ` (= ${r.subject.uncontendedAs})` : ''), f0(r.pairsPerSec), f3(r.pairP50), f3(r.pairP99)]),
    ),
  );
  console.log(
    `\nContended (${CLIENTS} clients, one resource, hold setTimeout(${HOLD_MS}); grants/s, p50 and hold/cycle: median of rounds; ` +
      'p99/max wait and spread: worst round; counts: all rounds)',
  );
  console.log(
    table(
      ['lock', 'grants/s', 'wait p50', 'p99', 'max ms', 'unfinished', 'timeouts', 'out of order', 'fewest', 'most', 'spread', 'overlaps', 'hold ms', 'cycle ms'],
      summary.map((r) => [
        r.subject.name,
        f0(r.grantsPerSec),
        f1(r.p50Wait),
        f1(r.p99Wait),
        f0(r.maxWait),
        String(r.unfinished),
        String(r.timeouts),
        `${r.outOfOrder}/${r.grants} (${f1((100 * r.outOfOrder) / Math.max(1, r.grants))}%)`,
        String(r.fewest),
        String(r.most),
        `${f1(r.spreadPct)}%`,
        String(r.overlaps),
        f2(r.holdMs),
        f2(r.cycleMs),
      ]),
    ),
  );
  console.log('  max wait includes requests still waiting at the end (unfinished); spread = (most - fewest) / most; cycle = run time / grants');

  const me = summary[0];
  const peers = summary.slice(1);
  console.log(`\nRatios (${me.subject.name} / peer)`);
  console.log(
    table(
      ['peer', 'uncontended pairs/s', 'contended grants/s'],
      peers.map((p) => [p.subject.name, `${f2(me.pairsPerSec / p.pairsPerSec)}x`, `${f2(me.grantsPerSec / p.grantsPerSec)}x`]),
    ),
  );

  const overlapsTotal = summary.reduce((acc, r) => acc + r.overlaps, 0);
  const cycleBound = 2 * CLIENTS * me.cycleMs;
  const holdBound = 2 * CLIENTS * me.holdMs;
  const verdict = (ok: boolean, text: string) => console.log(`  ${ok ? 'PASS' : 'FAIL'}  ${text}`);
  console.log('\nVerdict');
  const uncMin = Math.min(...peers.map((p) => me.pairsPerSec / p.pairsPerSec));
  verdict(uncMin >= 0.9, `uncontended >= 0.9x each peer (${peers.map((p) => `${p.subject.name} ${f2(me.pairsPerSec / p.pairsPerSec)}x`).join(', ')})`);
  const conMin = Math.min(...peers.map((p) => me.grantsPerSec / p.grantsPerSec));
  verdict(conMin >= 0.8, `contended throughput >= 0.8x each peer (${peers.map((p) => `${p.subject.name} ${f2(me.grantsPerSec / p.grantsPerSec)}x`).join(', ')})`);
  verdict(me.outOfOrder === 0, `0 out-of-order grants for ${me.subject.name} (${me.outOfOrder} of ${me.grants})`);
  verdict(
    me.maxWait <= cycleBound,
    `max wait <= 2 x clients x cycle time: ${f0(me.maxWait)} ms vs 2 x ${CLIENTS} x ${f2(me.cycleMs)} ms = ${f0(cycleBound)} ms ` +
      `(with the measured hold ${f2(me.holdMs)} ms instead of the cycle: ${f0(holdBound)} ms; nominal 1 ms: ${2 * CLIENTS} ms)`,
  );
  verdict(me.spreadPct <= 10, `every client within 10% of the same grant count (${me.fewest}..${me.most} grants/client, spread ${f1(me.spreadPct)}%)`);
  verdict(overlapsTotal === 0, `mutual exclusion: 0 overlaps for every lock (${summary.map((r) => `${r.subject.name} ${r.overlaps}`).join(', ')})`);
  console.log(`\nTotal time ${f1((performance.now() - started) / 1000)} s`);
}

// No process.exit on success: every connection is closed, so the process ends by itself.
main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
