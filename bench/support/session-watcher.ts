import { setTimeout as sleep } from 'node:timers/promises';
import type { AxiosInstance } from 'axios';

const FINAL = new Set(['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED']);

/**
 * Waits for sessions to end: one watcher reads the newest sessions every 200 ms for all waiters
 * (what a dashboard does), and reads on its own a waiter that page no longer shows. A session not
 * ended within `limitMs` rejects its waiter.
 */
export class SessionWatcher<S extends { id: string; status: string }> {
  private readonly waiting = new Map<string, { resolve: (s: S) => void; since: number }>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly api: AxiosInstance,
    private readonly limitMs: number,
  ) {
    this.loop = this.watch();
  }

  finished(id: string, what: string): Promise<S> {
    const done = new Promise<S>((resolve) => this.waiting.set(id, { resolve, since: Date.now() }));
    return withTimeout(done, this.limitMs, `${what}: session ${id} did not finish within ${this.limitMs / 1000} s`).finally(() => this.waiting.delete(id));
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async watch(): Promise<void> {
    while (this.running) {
      await sleep(200);
      if (this.waiting.size === 0) continue;
      try {
        const page = (await this.api.get('/api/v1/sessions', { params: { limit: 100 } })).data as { items: S[] };
        const seen = new Set<string>();
        for (const s of page.items) {
          seen.add(s.id);
          if (FINAL.has(s.status)) this.waiting.get(s.id)?.resolve(s);
        }
        for (const [id, waiter] of this.waiting) {
          if (seen.has(id) || Date.now() - waiter.since < 3_000) continue;
          const s = (await this.api.get(`/api/v1/sessions/${id}`)).data as S;
          if (FINAL.has(s.status)) waiter.resolve(s);
        }
      } catch (err) {
        console.warn(`[watcher] ${(err as Error).message}`);
      }
    }
  }
}

/** `work`, or a rejection naming `what` after `ms`. */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}
