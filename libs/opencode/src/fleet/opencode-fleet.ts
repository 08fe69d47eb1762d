import { createHash } from 'node:crypto';
import { EventEmitter, setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { errorMessage } from '@app/shared';
import { OpencodeHttpClient, OpencodeRequestObserver } from '../client/opencode-http-client';
import { OpencodeEndpointSource, StaticOpencodeEndpoint } from '../opencode-endpoint';
import type { ManagedOpencodeServer } from '../server/managed-opencode-server';
import { OpencodeTurnRunner } from '../turn/opencode-turn-runner';
import { FleetServerState, LatencyWindow, placeRun, RecycleLimits, recycleKind, recycleReason } from './fleet-policy';
import { processTable, ProcessTable, processTreeRssMb } from '../server/process-tree';

/** What a worker publishes about each of its servers (GET /api/v1/servers lists them). */
export interface FleetServerView {
  id: string;
  url: string;
  managed: boolean;
  /** A managed server in the bubblewrap sandbox; null for an external one (not ours to tell). */
  sandboxed: boolean | null;
  pid: number | null;
  workerId: string;
  state: FleetServerState;
  rssMb: number | null;
  startedAt: string;
  sessionsRunning: number;
  sessionsServed: number;
  maxSessions: number;
  latencyMs: { p50: number | null; p95: number | null };
  lastError: string | null;
  /** Why it is DRAINING (a drain asked for, or the recycle limit it passed); null otherwise. */
  drainReason: string | null;
  /** Times the event streams of its turns had to reconnect. */
  reconnects: number;
}

/** One run's hold on a server, from placement to the end of its turn. */
export interface FleetLease {
  serverId: string;
  runner: OpencodeTurnRunner;
  /** Aborted when the server is lost under the run (killed, restarted, replaced): its turn cannot end there. */
  lost: AbortSignal;
  /** The turn is over (however it ended). Idempotent. */
  release(): void;
}

/** Emitted as 'recycled': a managed server drained and replaced (or replaced at once when it stopped answering). */
export interface FleetRecycle {
  id: string;
  replacement: string;
  reason: string;
  kind: ReturnType<typeof recycleKind>;
}

/** Where the fleet's views go and drain requests come from (Redis: every worker's servers in one listing). */
export interface FleetRegistry {
  publish(workerId: string, views: readonly FleetServerView[], ttlMs: number): Promise<void>;
  /** Drains asked for any of `ids` (by id, with why), removed as they are taken. */
  takeDrainRequests(ids: readonly string[]): Promise<Map<string, string>>;
}

export interface OpencodeFleetOptions {
  /** Unique per worker process, URL-safe: part of every server id. */
  workerId: string;
  managedServers: number;
  externalServers: ReadonlyArray<{ url: string; password?: string }>;
  maxSessionsPerServer: number;
  limits: RecycleLimits;
  /**
   * The managed server of slot `index`, generation `generation`, not started. `lane`: which of the
   * slot's two data directories it uses (a successor starts while its predecessor still runs; the
   * fleet never gives one lane to two live processes).
   */
  createManaged(index: number, generation: number, lane: DataLane): ManagedOpencodeServer;
  /** The model prompts get when a session names none (an external server's; managed ones have their own). */
  defaultModel?: string;
  /** How often every server is probed (health latency, RSS, recycle limits, drain requests). Default 2 s. */
  probeIntervalMs?: number;
  /** A health answer slower than this is a failure. Default 2 s. */
  probeTimeoutMs?: number;
  /** Consecutive failed probes after which a server is UNHEALTHY (no new runs). Default 3. */
  unhealthyAfterFailures?: number;
  /** A managed server UNHEALTHY this long is killed and replaced. Default 30 s. */
  replaceUnhealthyAfterMs?: number;
  registry?: FleetRegistry;
  logger?: Pick<Logger, 'log' | 'warn' | 'error'>;
}

/** One of a managed slot's two data directories. */
export type DataLane = 'a' | 'b';

/** Retired servers stay in the listing (STOPPED) this long. */
const RETIRED_LISTED_MS = 10 * 60_000;
/** A managed server that failed to start is tried again after this long. */
const START_RETRY_MS = 5_000;
/** A server that dies within this long of starting counts towards its slot's crash streak. */
const CRASH_STABLE_MS = 60_000;
/** The longest a slot whose servers keep dying waits before the next one starts. */
const CRASH_MAX_DELAY_MS = 30_000;

class FleetMember {
  state: FleetServerState = 'STARTING';
  startedAt = new Date();
  running = 0;
  served = 0;
  readonly latency = new LatencyWindow();
  rssMb: number | null = null;
  lastError: string | null = null;
  drainReason: string | null = null;
  failures = 0;
  unhealthySince: number | null = null;
  lost = lostSignal();
  retiredAt: number | null = null;
  /** The next generation of its slot, started to take its place (a recycle, a drain). */
  successor: FleetMember | null = null;
  readonly client: OpencodeHttpClient;
  readonly runner: OpencodeTurnRunner;

  constructor(
    readonly id: string,
    readonly index: number,
    readonly generation: number,
    readonly endpoint: OpencodeEndpointSource,
    readonly server: ManagedOpencodeServer | null,
    probeTimeoutMs: number,
    readonly lane: DataLane = 'a',
  ) {
    this.client = new OpencodeHttpClient(endpoint, { healthTimeoutMs: probeTimeoutMs });
    this.runner = new OpencodeTurnRunner(this.client);
  }

  get managed(): boolean {
    return this.server !== null;
  }
}

/**
 * The OpenCode servers of one worker process: its managed `opencode serve` processes and the
 * external servers it was given. Places each run by its directory (placeRun: the server that has
 * it loaded, unless busier than its share; else the READY server with the most headroom), probes every server (health latency, the managed process tree's RSS), takes a server that
 * stops answering out of placement (UNHEALTHY) and, managed, kills and replaces it when it stays
 * so; recycles a managed server that passes a limit (make before break: its successor, the next
 * generation of its slot in the slot's other data directory, starts first; then it drains and is
 * stopped once its runs have ended); drains a server on request (a managed one's successor
 * starting at once). A managed server whose process dies loses its runs at once and is replaced
 * by the next generation of its slot (a new id: a server id names one process). Publishes every
 * server to the registry.
 *
 * Events: 'recycled' (FleetRecycle), 'changed' (after each probe round).
 */
export class OpencodeFleet extends EventEmitter {
  private readonly members = new Map<string, FleetMember>();
  private readonly retired: FleetMember[] = [];
  /** Request observers, each with the undo of every client it watches. */
  private readonly observers = new Map<OpencodeRequestObserver, Set<() => void>>();
  private readonly logger: Pick<Logger, 'log' | 'warn' | 'error'>;
  private readonly probeIntervalMs: number;
  private readonly probeTimeoutMs: number;
  private readonly unhealthyAfterFailures: number;
  private readonly replaceUnhealthyAfterMs: number;
  private probeTimer?: NodeJS.Timeout;
  private probing = false;
  private stopping = false;
  private readonly capacity = new EventEmitter();
  /** Per managed slot: how many of its servers in a row died soon after starting. */
  private readonly crashStreaks = new Map<number, number>();
  /** Per managed slot: the last generation made. */
  private readonly generations = new Map<number, number>();
  /** `<slot>-<lane>` of the retired managed servers still stopping (their data directory in use). */
  private readonly stoppingLanes = new Set<string>();

  constructor(private readonly options: OpencodeFleetOptions) {
    super();
    this.logger = options.logger ?? new Logger(OpencodeFleet.name);
    this.probeIntervalMs = options.probeIntervalMs ?? 2_000;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 2_000;
    this.unhealthyAfterFailures = options.unhealthyAfterFailures ?? 3;
    this.replaceUnhealthyAfterMs = options.replaceUnhealthyAfterMs ?? 30_000;
    this.capacity.setMaxListeners(0);
  }

  get workerId(): string {
    return this.options.workerId;
  }

  /** Starts the managed servers (at once) and probes the external ones; fails when no server at all could start. */
  async start(): Promise<void> {
    this.stopping = false;
    const managed = Array.from({ length: this.options.managedServers }, (_, index) => this.newManaged(index, 'a'));
    this.options.externalServers.forEach((external, index) => {
      const endpoint = new StaticOpencodeEndpoint(external.url, external.password, this.options.defaultModel);
      // The same id in every worker that uses the server: a run resumed by another worker goes back to it.
      const id = `ext-${createHash('sha256').update(external.url).digest('hex').slice(0, 12)}`;
      this.add(new FleetMember(id, index, 1, endpoint, null, this.probeTimeoutMs));
    });
    const started = await Promise.allSettled(managed.map((member) => this.launch(member)));
    await this.probeAll();
    const failed = started.filter((s) => s.status === 'rejected');
    if (this.members.size === 0 || (failed.length === managed.length && managed.length > 0 && this.options.externalServers.length === 0)) {
      await this.stop();
      throw (failed[0] as PromiseRejectedResult | undefined)?.reason ?? new Error('no OpenCode server configured (OPENCODE_SERVERS=0 and no OPENCODE_HOST or OPENCODE_HOSTS)');
    }
    this.probeTimer = setInterval(() => void this.probeAll(), this.probeIntervalMs);
    this.probeTimer.unref();
  }

  /**
   * Stops every managed server, and stops using the external ones. Last in a worker's stop: a
   * planned stop has finished or handed over every run by then (see outlivesWorker); a run still
   * on a server (the application closed without draining, like a crash) ends as its server goes.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.probeTimer);
    const all = [...this.members.values()];
    const managed = all.filter((m) => m.managed).length;
    if (managed > 0) this.logger.log(`Stopping ${managed} managed OpenCode server(s)`);
    await Promise.allSettled(all.map((member) => this.retire(member)));
    this.capacity.emit('changed');
  }

  /**
   * Whether a turn on `serverId` goes on when this worker process stops: an external server
   * (someone else runs it, and its id is the same in every worker). A managed server stops with
   * the process, and an unknown one cannot be vouched for.
   */
  outlivesWorker(serverId: string): boolean {
    const member = this.members.get(serverId);
    return member !== undefined && !member.managed;
  }

  /**
   * A server for a new run (placeRun): for a run in `directory`, the directory's own server while
   * it is not busier than its share, else the READY one with the most headroom. While every
   * server is full or none is READY it waits, at most `waitMs` (null then) or until `signal` aborts.
   */
  async place(options: { waitMs: number; signal?: AbortSignal; directory?: string }): Promise<FleetLease | null> {
    const deadline = Date.now() + options.waitMs;
    for (;;) {
      const loads = [...this.members.values()].map((m) => ({
        id: m.id,
        // Every generation of a managed slot the same: a replacement takes over its predecessor's directories.
        affinityKey: m.managed ? `m${m.index}` : m.id,
        state: m.state,
        sessionsRunning: m.running,
        maxSessions: this.options.maxSessionsPerServer,
        latencyP50Ms: m.latency.percentile(50),
      }));
      const id = placeRun(loads, options.directory);
      if (id) return this.lease(this.members.get(id)!);
      const left = deadline - Date.now();
      if (left <= 0 || options.signal?.aborted || this.stopping) return null;
      await this.capacityChange(Math.min(left, this.probeIntervalMs), options.signal);
    }
  }

  /** The server a run was placed on, for the rest of its life (a resumed run); null when that server is gone. */
  rejoin(serverId: string): FleetLease | null {
    const member = this.members.get(serverId);
    // A managed one STARTING: a new generation under a known id never ran that turn. An external one
    // STARTING was not probed yet (a worker just started, its first probe slow): the turn may well be
    // there, and a server that does not answer fails the turn soon enough.
    const known = member && member.state !== 'STOPPED' && (member.state !== 'STARTING' || !member.managed);
    return known ? this.lease(member) : null;
  }

  /**
   * No new runs on `serverId` from now; a managed one's successor starts at once (or, while the
   * slot's previous server still drains, once its runs have ended), and the server is stopped
   * when its runs have ended. False: no such server here.
   */
  drain(serverId: string, reason: string): boolean {
    const member = this.members.get(serverId);
    if (!member || member.state === 'STOPPED') return false;
    if (member.drainReason !== null) return true;
    member.drainReason = reason;
    if (member.state !== 'UNHEALTHY') member.state = 'DRAINING';
    this.logger.log(`OpenCode server ${member.id} drains (${reason}); ${member.running} run(s) still on it`);
    this.capacity.emit('changed');
    if (member.server) this.startSuccessor(member, reason);
    if (member.running === 0) void this.replaceDrained(member);
    return true;
  }

  /**
   * A turn on `serverId` got no answer for its whole silence limit. A managed server whose probes
   * find it silent too (UNHEALTHY) is killed and replaced now, its runs lost at once, so that the
   * turn fails over like one whose server died. Waiting for the 30 s UNHEALTHY grace would not do:
   * it counts from the third failed probe, so it ends after the turn's own 30 s limit, and the turn
   * would end FAILED, not lost. True when the server was replaced.
   */
  replaceSilent(serverId: string, why: string): boolean {
    const member = this.members.get(serverId);
    if (!member?.server || member.state !== 'UNHEALTHY' || this.stopping) return false;
    this.logger.warn(`OpenCode server ${member.id} is UNHEALTHY and a turn on it got no answer (${why}): killing and replacing it`);
    member.unhealthySince = null; // the probes' own replacement, once, is this one
    void this.replace(member, `unhealthy, and a turn on it got no answer (${why})`);
    return true;
  }

  /** Every server of this worker, retired ones (STOPPED) included for a while. */
  list(): FleetServerView[] {
    const now = Date.now();
    while (this.retired.length > 0 && now - this.retired[0].retiredAt! > RETIRED_LISTED_MS) this.retired.shift();
    return [...this.members.values(), ...this.retired].map((m) => this.view(m));
  }

  /** Whether any server of this worker answers. */
  async isHealthy(): Promise<boolean> {
    const answers = await Promise.all([...this.members.values()].map((m) => m.client.health().then((h) => h.healthy === true, () => false)));
    return answers.some(Boolean);
  }

  /** Frees what every server keeps for `directory`; false when a server refused, rejects when none answered. */
  async releaseDirectory(directory: string): Promise<boolean> {
    const answers = await Promise.allSettled([...this.members.values()].map((m) => m.runner.releaseDirectory(directory)));
    const answered = answers.filter((a): a is PromiseFulfilledResult<boolean> => a.status === 'fulfilled');
    if (answered.length === 0 && answers.length > 0) throw (answers[0] as PromiseRejectedResult).reason;
    return answered.every((a) => a.value);
  }

  /** Watches the requests of every server's client, present and future (metrics). */
  observeRequests(observer: OpencodeRequestObserver): () => void {
    const off = new Set([...this.members.values()].map((m) => m.client.observe(observer)));
    this.observers.set(observer, off);
    return () => {
      this.observers.delete(observer);
      off.forEach((stop) => stop());
    };
  }

  /** One probe round: health, RSS, recycle limits, drain requests, then the registry. */
  async probeAll(): Promise<void> {
    if (this.probing || this.stopping) return;
    this.probing = true;
    try {
      const members = [...this.members.values()].filter((m) => m.state !== 'STOPPED');
      // One read of /proc for every managed server's process tree.
      const table = members.some((m) => m.server) ? processTable() : undefined;
      await Promise.all(members.map((m) => this.probe(m, table)));
      await this.takeDrainRequests();
      await this.options.registry
        ?.publish(this.workerId, this.list(), this.probeIntervalMs * 3)
        .catch((err) => this.logger.warn(`Could not publish the OpenCode servers: ${errorMessage(err)}`));
      this.emit('changed');
    } finally {
      this.probing = false;
    }
  }

  private async probe(member: FleetMember, table?: ProcessTable): Promise<void> {
    if (member.state === 'STARTING' && member.server) return; // launch() decides for a managed one
    const began = performance.now();
    const healthy = await member.client.health().then(
      (h) => h.healthy === true,
      (err) => {
        member.lastError = `health check: ${errorMessage(err)}`;
        return false;
      },
    );
    if (member.state === 'STOPPED') return; // retired while it was probed: it stays STOPPED
    if (member.server) member.rssMb = processTreeRssMb(member.server.pid, table);
    if (healthy) {
      member.latency.add(performance.now() - began);
      member.failures = 0;
      if (member.state === 'UNHEALTHY' || member.state === 'STARTING') {
        if (member.state === 'UNHEALTHY') this.logger.log(`OpenCode server ${member.id} answers again`);
        member.state = member.drainReason === null ? 'READY' : 'DRAINING';
        member.unhealthySince = null;
        this.capacity.emit('changed');
      }
      const reason =
        member.server && member.drainReason === null && member.successor === null
          ? recycleReason({ sessionsServed: member.served, rssMb: member.rssMb, startedAt: member.startedAt }, this.options.limits, new Date())
          : null;
      // Make before break: it takes runs until its successor is READY, then drains. Tried again
      // at the next probe while the slot's previous server still drains (two processes a slot at most).
      if (reason) this.startSuccessor(member, `recycle: ${reason}`, () => this.drain(member.id, `recycle: ${reason}`));
      // A drained one whose successor had to wait (the other data lane was still in use).
      else if (member.server && member.drainReason !== null) this.startSuccessor(member, member.drainReason);
      return;
    }
    member.failures++;
    if (member.failures >= this.unhealthyAfterFailures && member.state !== 'UNHEALTHY') {
      this.logger.warn(`OpenCode server ${member.id} is UNHEALTHY (${member.failures} failed probes: ${member.lastError}); no new runs go to it`);
      member.state = 'UNHEALTHY';
      member.unhealthySince = Date.now();
    }
    if (member.server && member.unhealthySince !== null && Date.now() - member.unhealthySince >= this.replaceUnhealthyAfterMs) {
      const seconds = Math.round((Date.now() - member.unhealthySince) / 1000);
      this.logger.warn(`OpenCode server ${member.id} stayed UNHEALTHY for ${seconds} s: killing and replacing it`);
      member.unhealthySince = null; // once
      void this.replace(member, `unhealthy for ${seconds} s (${member.lastError})`);
    }
  }

  private async takeDrainRequests(): Promise<void> {
    if (!this.options.registry) return;
    const requests = await this.options.registry
      .takeDrainRequests([...this.members.keys()])
      .catch((err) => (this.logger.warn(`Could not read drain requests: ${errorMessage(err)}`), new Map<string, string>()));
    for (const [id, why] of requests) this.drain(id, why);
  }

  private lease(member: FleetMember): FleetLease {
    member.running++;
    let released = false;
    return {
      serverId: member.id,
      runner: member.runner,
      lost: member.lost.signal,
      release: () => {
        if (released) return;
        released = true;
        member.running--;
        member.served++;
        this.capacity.emit('changed');
        if (member.drainReason !== null && member.running === 0) void this.replaceDrained(member);
      },
    };
  }

  /** The next generation of managed slot `index`, in data lane `lane`, not started. */
  private newManaged(index: number, lane: DataLane): FleetMember {
    const generation = (this.generations.get(index) ?? 0) + 1;
    this.generations.set(index, generation);
    const server = this.options.createManaged(index, generation, lane);
    const member = new FleetMember(`${this.workerId}-m${index}g${generation}`, index, generation, server, server, this.probeTimeoutMs, lane);
    // The process died: the turns that ran on it are lost, now, and a new generation (a new id, a new
    // process) takes the slot, so that no run is placed on, or resumed against, a process that never had its turn.
    server.on('exited', (why: string) => void this.replace(member, `its process ${why}`, this.crashDelayMs(member)));
    this.add(member);
    return member;
  }

  private add(member: FleetMember): void {
    this.members.set(member.id, member);
    for (const [observer, off] of this.observers) off.add(member.client.observe(observer));
  }

  private async launch(member: FleetMember): Promise<void> {
    try {
      await member.server!.start();
      member.startedAt = new Date();
      member.state = member.drainReason === null ? 'READY' : 'DRAINING';
      member.lastError = null;
      this.capacity.emit('changed');
    } catch (err) {
      if (member.state === 'STOPPED') return; // retired while it started (a drain, the worker stopping)
      member.lastError = `start: ${errorMessage(err)}`;
      member.state = 'UNHEALTHY';
      member.unhealthySince = Date.now();
      this.logger.error(`OpenCode server ${member.id} could not start: ${errorMessage(err)}`);
      // Tried again: a slot of the fleet is not given up.
      setTimeout(() => {
        if (!this.stopping && this.members.get(member.id) === member && member.state === 'UNHEALTHY') void this.replace(member, `could not start (${errorMessage(err)})`);
      }, START_RETRY_MS).unref();
      throw err;
    }
  }

  /** A drained managed server whose runs have all ended is stopped, and replaced unless its successor already runs; an external one stays drained. */
  private async replaceDrained(member: FleetMember): Promise<void> {
    if (!member.server || member.state === 'STOPPED' || this.stopping) return;
    await this.replace(member, member.drainReason ?? 'drained');
  }

  /**
   * The next generation of the member's slot, started beside it (make before break), in the
   * slot's other data lane; `then` runs once its start has succeeded or failed. Not when the
   * member has one already, or the other lane is still in use (the slot's previous server
   * draining or stopping): false then.
   */
  private startSuccessor(member: FleetMember, reason: string, then?: () => void): boolean {
    if (member.successor || this.stopping || this.members.get(member.id) !== member || this.slotServed(member)) return false;
    const lane: DataLane = member.lane === 'a' ? 'b' : 'a';
    if (this.lanesInUse(member.index, member).has(lane)) return false;
    const fresh = this.newManaged(member.index, lane);
    member.successor = fresh;
    this.logger.log(`OpenCode server ${member.id} is replaced by ${fresh.id} (${reason})`);
    this.emit('recycled', { id: member.id, replacement: fresh.id, reason, kind: recycleKind(reason) } satisfies FleetRecycle);
    // A successor that cannot start is retried by launch; the member drains all the same.
    void this.launch(fresh)
      .catch(() => undefined)
      .finally(() => then?.());
    return true;
  }

  /** Whether another live server of the member's slot takes runs in its place (not draining). */
  private slotServed(member: FleetMember): boolean {
    return [...this.members.values()].some((m) => m.server && m.index === member.index && m !== member && m.drainReason === null);
  }

  /** The data lanes of slot `index` that a live server other than `except`, or a stopping one, uses. */
  private lanesInUse(index: number, except?: FleetMember): Set<DataLane> {
    const live = [...this.members.values()].filter((m) => m.server && m.index === index && m !== except).map((m) => m.lane);
    const stopping = (['a', 'b'] as const).filter((lane) => this.stoppingLanes.has(`${index}-${lane}`));
    return new Set([...live, ...stopping]);
  }

  /**
   * The member is stopped, and a new generation of its slot (started after `delayMs`) takes its
   * place, unless its successor already has.
   */
  private async replace(member: FleetMember, reason: string, delayMs = 0): Promise<void> {
    if (!member.server || this.stopping || this.members.get(member.id) !== member) return;
    // Its successor (or the successor's replacement) already serves the slot: only stop it.
    if (this.slotServed(member)) return this.retire(member, reason);
    this.members.delete(member.id);
    // Its own data lane: free once it has stopped, which happens before the new one starts.
    const fresh = this.newManaged(member.index, member.lane);
    const after = delayMs > 0 ? `, starting in ${delayMs / 1000} s` : '';
    this.logger.log(`OpenCode server ${member.id} is replaced by ${fresh.id} (${reason}${after})`);
    this.emit('recycled', { id: member.id, replacement: fresh.id, reason, kind: recycleKind(reason) } satisfies FleetRecycle);
    await this.retire(member, reason);
    if (delayMs > 0) await sleep(delayMs, undefined, { ref: false });
    if (this.stopping || this.members.get(fresh.id) !== fresh) return; // the worker stopped meanwhile
    await this.launch(fresh).catch(() => undefined); // retried by launch
  }

  /**
   * How long the replacement of a server that died waits: at once the first time; a slot whose
   * servers keep dying within a minute of starting waits 1 s, 2 s, 4 s, ... up to 30 s, not hammered.
   */
  private crashDelayMs(member: FleetMember): number {
    const streak = Date.now() - member.startedAt.getTime() < CRASH_STABLE_MS ? (this.crashStreaks.get(member.index) ?? 0) + 1 : 0;
    this.crashStreaks.set(member.index, streak);
    return streak === 0 ? 0 : Math.min(CRASH_MAX_DELAY_MS, 500 * 2 ** streak);
  }

  private async retire(member: FleetMember, reason = 'the worker stops'): Promise<void> {
    this.loseRuns(member, `the server was stopped (${reason})`);
    member.state = 'STOPPED';
    member.retiredAt = Date.now();
    this.members.delete(member.id);
    if (member.server) {
      this.retired.push(member);
      const lane = `${member.index}-${member.lane}`;
      this.stoppingLanes.add(lane);
      try {
        await member.server.stop().catch((err) => this.logger.warn(`Stopping OpenCode server ${member.id}: ${errorMessage(err)}`));
      } finally {
        this.stoppingLanes.delete(lane);
      }
    }
  }

  /** The runs on `member` end now (their turns cannot finish there); new runs get a fresh signal. */
  private loseRuns(member: FleetMember, why: string): void {
    if (member.running > 0) this.logger.warn(`OpenCode server ${member.id}: ${member.running} run(s) lost (${why})`);
    member.lost.abort(new Error(`the OpenCode server ${member.id} was lost: ${why}`));
    member.lost = lostSignal();
  }

  private capacityChange(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.capacity.off('changed', done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.capacity.once('changed', done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private view(m: FleetMember): FleetServerView {
    return {
      id: m.id,
      url: m.endpoint.endpoint().baseUrl,
      managed: m.managed,
      sandboxed: m.server ? m.server.isSandboxed : null,
      pid: m.server?.pid ?? null,
      workerId: this.workerId,
      state: m.state,
      rssMb: m.rssMb === null ? null : Math.round(m.rssMb),
      startedAt: m.startedAt.toISOString(),
      sessionsRunning: m.running,
      sessionsServed: m.served,
      maxSessions: this.options.maxSessionsPerServer,
      latencyMs: { p50: round(m.latency.percentile(50)), p95: round(m.latency.percentile(95)) },
      lastError: m.lastError,
      drainReason: m.drainReason,
      reconnects: m.client.eventStreamReconnects,
    };
  }
}

function round(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 10) / 10;
}

/** Aborted when a server is lost: every run on it listens (up to OPENCODE_SERVER_MAX_SESSIONS, beyond Node's 10 before it warns). */
function lostSignal(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
