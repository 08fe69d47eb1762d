import { Injectable } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { FleetLease, OpencodeFleet, REHEARSAL_MODEL } from '@app/opencode';
import { ZERO_USAGE } from '@app/shared';
import type {
  CodingTurnsPort,
  CodingTurnOutcome,
  CodingTurnRef,
  CodingTurnRequest,
  RunTurnOptions,
} from '../../application/ports/coding-turns.port';

/** How long a placed turn may wait to be run before its place on the server is given back. */
const UNRUN_TURN_RELEASE_MS = 5 * 60_000;
/** How long a new turn waits for a server with room (every one full, or none READY) before it fails OPENCODE_UNAVAILABLE. */
const PLACEMENT_WAIT_MS = 60_000;

/**
 * The coding-turns port on the worker's OpenCode fleet: a turn is placed by its directory (the
 * server that already has it loaded, unless busier than its share; else the READY server with the
 * most headroom) and stays there for its life (the server's id is in its ref, so a resumed run
 * goes back to it). A turn whose server is lost under it (killed, restarted, replaced) ends `lost`
 * with OPENCODE_UNAVAILABLE. The turn logic lives in @app/opencode.
 */
@Injectable()
export class OpencodeCodingTurnsAdapter implements CodingTurnsPort {
  /** Placed turns between openTurn and runTurn, by OpenCode session id. */
  private readonly placed = new Map<string, FleetLease>();

  constructor(
    private readonly fleet: OpencodeFleet,
    private readonly config: AppConfig,
  ) {}

  async openTurn(request: CodingTurnRequest): Promise<CodingTurnRef> {
    const lease = await this.fleet.place({ waitMs: PLACEMENT_WAIT_MS, directory: request.workspace });
    if (!lease) throw new Error(`no OpenCode server was READY with room for another turn within ${PLACEMENT_WAIT_MS / 1000} s (${this.describeFleet()})`);
    try {
      const ref = await lease.runner.openTurn(request);
      this.placed.set(ref.opencodeSessionId, lease);
      // A turn opened but never run (its session was cancelled or deleted meanwhile) gives its place back.
      setTimeout(() => {
        if (this.placed.get(ref.opencodeSessionId) !== lease) return;
        this.placed.delete(ref.opencodeSessionId);
        lease.release();
      }, UNRUN_TURN_RELEASE_MS).unref();
      return { ...ref, serverId: lease.serverId };
    } catch (err) {
      lease.release();
      throw err;
    }
  }

  async runTurn(ref: CodingTurnRef, request: CodingTurnRequest, options: RunTurnOptions): Promise<CodingTurnOutcome> {
    let lease = this.placed.get(ref.opencodeSessionId) ?? null;
    this.placed.delete(ref.opencodeSessionId);
    // A resumed run: its own server, or (a ref from before the fleet) any server with room.
    lease ??= ref.serverId ? this.fleet.rejoin(ref.serverId) : await this.fleet.place({ waitMs: PLACEMENT_WAIT_MS, signal: options.signal, directory: request.workspace });
    if (!lease) return serverLost(`the OpenCode server ${ref.serverId ?? '(none)'} this turn ran on is gone (replaced or stopped)`);
    const turn = new AbortController();
    const onAbort = () => turn.abort(options.signal.reason);
    const onLost = () => turn.abort(lease!.lost.reason);
    if (options.signal.aborted) onAbort();
    options.signal.addEventListener('abort', onAbort, { once: true });
    lease.lost.addEventListener('abort', onLost, { once: true });
    try {
      const outcome = await lease.runner.runTurn(ref, request, { ...options, signal: turn.signal });
      // Silent past the turn's limit, and to the fleet's probes too (UNHEALTHY): a managed server is
      // replaced now, so that the turn is lost with it (and fails over) rather than FAILED.
      if (outcome.status === 'failed' && outcome.error?.code === 'OPENCODE_UNAVAILABLE' && !options.signal.aborted && !lease.lost.aborted) {
        this.fleet.replaceSilent(lease.serverId, outcome.error.message);
      }
      // Stopped because its server went, not by the worker: the turn is lost, not aborted.
      if (lease.lost.aborted && !options.signal.aborted && outcome.status !== 'completed') {
        return { ...outcome, status: 'lost', error: { code: 'OPENCODE_UNAVAILABLE', message: errorText(lease.lost.reason) } };
      }
      return outcome;
    } finally {
      options.signal.removeEventListener('abort', onAbort);
      lease.lost.removeEventListener('abort', onLost);
      lease.release();
    }
  }

  /** OPENCODE_MODEL, else the rehearsal model managed servers run without one; unknown for external servers without it. */
  defaultModel(): string | null {
    return this.config.opencode.model ?? (this.config.opencodeFleet.managedServers > 0 ? REHEARSAL_MODEL : null);
  }

  /** An external server's turn goes on without this worker (its id is the same in every worker); a managed server's stops with it. */
  outlivesWorker(ref: CodingTurnRef): boolean {
    return ref.serverId !== undefined && this.fleet.outlivesWorker(ref.serverId);
  }

  isHealthy(): Promise<boolean> {
    return this.fleet.isHealthy();
  }

  releaseDirectory(directory: string): Promise<boolean> {
    return this.fleet.releaseDirectory(directory);
  }

  private describeFleet(): string {
    return this.fleet.list().map((s) => `${s.id} ${s.state} ${s.sessionsRunning}/${s.maxSessions}`).join(', ') || 'no server';
  }
}

function serverLost(message: string): CodingTurnOutcome {
  return { status: 'lost', summary: '', filesChanged: [], usage: { ...ZERO_USAGE }, error: { code: 'OPENCODE_UNAVAILABLE', message } };
}

function errorText(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason ?? 'the OpenCode server was lost');
}
