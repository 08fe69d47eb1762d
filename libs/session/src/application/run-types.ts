import type { TurnAbortReason } from '../domain/turn-outcome';
import type { CodingTurnOutcome } from './ports/coding-turns.port';
import type { CapacityPermitRef } from './ports/provider-capacity.port';
import type { TurnControl } from './turn-control';

/**
 * How a run of a job ended: done (whatever the session's status), or to be run again after a wait
 * (QUEUED, waiting for provider capacity, or for its place: its workspace or a worktree slot).
 */
export interface RunEnd {
  waitMs?: number;
  /** What the wait is for: its place ('place'; the job may be woken early), else provider capacity. */
  waitingFor?: 'place';
  /**
   * A planned stop of this worker gave the run up (handOverRuns). follow: the session stays
   * RUNNING and its OpenCode turn goes on (its server outlives this worker); the job goes back to
   * the queue as it is, and the next worker follows the turn. new-attempt: the turn stopped with
   * this worker's server; the session was queued again as a new attempt (its own job).
   */
  handedOver?: 'follow' | 'new-attempt';
}

export const DONE: RunEnd = {};

/** The model a run was admitted on, and the capacity it holds there (none without provider limits). */
export interface Admitted {
  model: string;
  /** The model of the session, or the server's default: what a fallback stands in for. */
  primary: string;
  candidates: string[];
  permit: CapacityPermitRef | null;
}

/** How a followed turn ended, with what the worker knows about why. */
export interface FollowedTurn {
  outcome: CodingTurnOutcome;
  abortReason?: TurnAbortReason;
  lockLostReason?: string;
  /** The turn ran a tool (it may have changed the workspace): a shared session is then not re-run on its own. */
  toolsRan: boolean;
  /** What the turn's control decided (a budget, runaway, quota or throttle stop), if anything. */
  control: TurnControl;
}
