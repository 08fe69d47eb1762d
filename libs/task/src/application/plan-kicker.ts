import { Injectable } from '@nestjs/common';

/**
 * Asks this process's scheduler loop (when it runs one) to look at a plan now rather than at
 * its next tick. Without a loop in the process a kick does nothing: the worker's loop sees the
 * change at its next tick.
 */
@Injectable()
export class PlanKicker {
  private readonly listeners = new Set<(planId: string) => void>();

  onKick(listener: (planId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  kick(planId: string): void {
    for (const listener of this.listeners) listener(planId);
  }
}
