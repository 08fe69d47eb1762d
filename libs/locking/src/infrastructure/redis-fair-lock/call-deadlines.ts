import { AsyncResource } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';

interface Pending {
  due: number;
  ms: number;
  expire: (error: Error) => void;
}

/**
 * Bounds calls in time with one timer for all of them. A timer armed and cleared per call was a
 * fair share of the uncontended lock's cost (one call per acquire); here the timer is armed for
 * the earliest due call, armed again only when an earlier one comes, and when it fires it fails
 * the calls that are due and arms itself for the next. A call that settles is only forgotten (the
 * timer may then fire for nothing). The timer does not keep the process alive: a pending call's
 * connection does.
 */
export class CallDeadlines {
  private readonly pending = new Set<Pending>();
  private timer?: NodeJS.Timeout;
  private armedFor = Infinity;

  /**
   * @param what names the callee in the timeout error ("<what> did not answer within <ms> ms")
   * @param now a monotonic clock in ms (tests pass jest's)
   */
  constructor(
    private readonly what: string,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** `call`'s outcome, or a rejection once `ms` have passed without one. */
  bound<T>(call: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { due: this.now() + ms, ms, expire: reject };
      this.pending.add(entry);
      if (entry.due < this.armedFor) this.arm(entry.due);
      call.then(
        (value) => {
          this.pending.delete(entry);
          resolve(value);
        },
        (err: unknown) => {
          this.pending.delete(entry);
          reject(err);
        },
      );
    });
  }

  /** Calls not settled and not timed out. */
  get size(): number {
    return this.pending.size;
  }

  private arm(due: number): void {
    clearTimeout(this.timer);
    this.armedFor = due;
    // Shared by every caller: it must not carry the async context of whichever call armed it.
    this.timer = DETACHED.runInAsyncScope(() => setTimeout(this.fire, Math.max(0, Math.ceil(due - this.now()))));
    this.timer.unref();
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.now();
    let next = Infinity;
    for (const entry of this.pending) {
      if (entry.due <= now) {
        this.pending.delete(entry);
        entry.expire(new Error(`${this.what} did not answer within ${entry.ms} ms`));
      } else if (entry.due < next) {
        next = entry.due;
      }
    }
    if (next < Infinity) this.arm(next);
  };
}

/** Made at load time, outside any request. */
const DETACHED = new AsyncResource('CallDeadlines');
