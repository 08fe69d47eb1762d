import { Injectable, Logger } from '@nestjs/common';
import { errorMessage } from '@app/shared';

/**
 * One part of the process in a planned stop: it stops taking work at once, lets what is under way
 * finish while `graceOver` is not aborted, hands the rest over once it is, and resolves when done.
 */
export type DrainStep = (graceOver: AbortSignal) => Promise<void>;

/**
 * This process's planned stop (SIGTERM: a deploy, a scale-down). Draining begins at once: every
 * registered step stops taking work (the session worker takes no new job, the API no new
 * connection, readiness says not ready) and lets its work in progress finish; the grace ends
 * SHUTDOWN_GRACE_SECONDS later, or earlier when a second signal says so, and each step then hands
 * over what it still has. Only after every step is done does the application close (and a
 * worker's managed OpenCode servers stop).
 */
@Injectable()
export class ProcessShutdown {
  private readonly logger = new Logger('Shutdown');
  private readonly steps = new Map<string, DrainStep>();
  private readonly grace = new AbortController();
  private drained?: Promise<void>;
  private timer?: NodeJS.Timeout;

  /** Whether a planned stop has begun. */
  get draining(): boolean {
    return this.drained !== undefined;
  }

  /** Aborted when the grace is over (its time ran out, or it was ended early). */
  get graceOver(): AbortSignal {
    return this.grace.signal;
  }

  /** Adds a step, run when draining begins (at once if it has); returns the function that removes it. */
  onDrain(name: string, step: DrainStep): () => void {
    this.steps.set(name, step);
    return () => void (this.steps.get(name) === step && this.steps.delete(name));
  }

  /**
   * Begins draining: runs every step at once, ends the grace after `graceMs`, and resolves once
   * every step is done (a step that fails is logged, not waited for twice). Idempotent: a later
   * call returns the first drain.
   */
  drain(graceMs: number): Promise<void> {
    this.drained ??= this.runSteps(graceMs);
    return this.drained;
  }

  /** Ends the grace now (a second signal): what still runs is handed over at once. */
  endGrace(reason: string): void {
    if (this.grace.signal.aborted) return;
    clearTimeout(this.timer);
    this.grace.abort(new Error(reason));
  }

  private async runSteps(graceMs: number): Promise<void> {
    this.timer = setTimeout(() => this.endGrace(`the grace of ${Math.round(graceMs / 1000)} s is over`), graceMs);
    this.timer.unref();
    const steps = [...this.steps.entries()];
    const results = await Promise.allSettled(steps.map(([, step]) => step(this.grace.signal)));
    clearTimeout(this.timer);
    results.forEach((result, i) => {
      if (result.status === 'rejected') this.logger.error(`Draining ${steps[i][0]} failed: ${errorMessage(result.reason)}`);
    });
  }
}
