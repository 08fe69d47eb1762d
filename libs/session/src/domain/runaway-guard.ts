import type { RunFailure } from '@app/shared';
import { RunFailureCode } from './session.errors';

/** The limits of one turn: its steps, identical tool calls, and time without progress. */
export interface RunawayLimits {
  /** Model steps the turn may take; the turn is stopped once it has taken this many and goes on. */
  maxSteps: number;
  /** The same tool call (tool and whole input) this many times stops the turn. */
  doomLoopRepeats: number;
  /** No text, tool call, step or server activity for this long stops the turn. */
  noProgressMs: number;
}

/** What the guard watches of a turn's progress. */
export type GuardedProgress =
  | { kind: 'step'; steps: number }
  | { kind: 'tool'; callId: string; tool: string; signature?: string }
  | { kind: 'other' };

/**
 * Watches one turn for runaway behaviour, each with its own code: too many model steps
 * (STEP_LIMIT), the same tool call over and over (DOOM_LOOP), nothing happening (NO_PROGRESS).
 * Time spent waiting for a person (an approval) is not counted as no progress.
 */
export class RunawayGuard {
  private lastProgressAt: number;
  private readonly signatureOfCall = new Map<string, string>();
  private readonly callsBySignature = new Map<string, number>();
  private pausedSince: number | null = null;

  constructor(
    private readonly limits: RunawayLimits,
    now = Date.now(),
  ) {
    this.lastProgressAt = now;
  }

  /** Notes a piece of progress; returns the stop it calls for, if any. */
  observe(progress: GuardedProgress, now = Date.now()): RunFailure | null {
    this.lastProgressAt = now;
    if (progress.kind === 'step' && progress.steps >= this.limits.maxSteps) {
      return {
        code: RunFailureCode.STEP_LIMIT,
        message: `the turn took ${progress.steps} model steps, its limit (maxSteps ${this.limits.maxSteps}); it was stopped`,
      };
    }
    if (progress.kind === 'tool' && progress.signature && !this.signatureOfCall.has(progress.callId)) {
      this.signatureOfCall.set(progress.callId, progress.signature);
      const count = (this.callsBySignature.get(progress.signature) ?? 0) + 1;
      this.callsBySignature.set(progress.signature, count);
      if (count >= this.limits.doomLoopRepeats) {
        return {
          code: RunFailureCode.DOOM_LOOP,
          message: `the turn called ${progress.tool} with the same input ${count} times (limit ${this.limits.doomLoopRepeats}); it was stopped as looping`,
        };
      }
    }
    return null;
  }

  /** While a person is asked (an approval), silence is not a lack of progress. */
  pause(now = Date.now()): void {
    this.pausedSince ??= now;
  }

  resume(now = Date.now()): void {
    if (this.pausedSince === null) return;
    this.lastProgressAt = Math.max(this.lastProgressAt, now);
    this.pausedSince = null;
  }

  /** NO_PROGRESS when nothing happened for the limit (not while paused). */
  check(now = Date.now()): RunFailure | null {
    if (this.pausedSince !== null) return null;
    const silentMs = now - this.lastProgressAt;
    if (silentMs < this.limits.noProgressMs) return null;
    return {
      code: RunFailureCode.NO_PROGRESS,
      message: `the turn showed no progress (no text, tool call or model step) for ${Math.round(silentMs / 1000)} s (limit ${Math.round(this.limits.noProgressMs / 1000)} s); it was stopped`,
    };
  }
}
