import { assertRedisReachable } from '@app/platform';
import type Redis from 'ioredis';
import type { FleetRegistry, FleetServerView } from './opencode-fleet';

/** How long a server whose worker stopped publishing stays listed (as STOPPED) before it is forgotten. */
const FORGET_AFTER_MS = 10 * 60_000;
/**
 * A drain request stands this long: every worker listing the server takes it at its next probe (an
 * external server is listed by each worker that uses it; a drain is idempotent).
 */
const DRAIN_REQUEST_TTL_SECONDS = 120;

interface PublishedServer {
  view: FleetServerView;
  /** When the view goes stale unless its worker publishes again (epoch ms). */
  expiresAt: number;
}

/**
 * Every worker's OpenCode servers in one Redis hash (`<prefix>:opencode-fleet:servers`, `<worker
 * id>|<server id>` → its last view and when it goes stale), and drains asked for through the API
 * as one key per server id, read by the workers that list it. A server whose worker stopped
 * publishing (killed, stopped) is listed STOPPED, then forgotten.
 */
export class RedisFleetRegistry implements FleetRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private get serversKey(): string {
    return `${this.prefix}:opencode-fleet:servers`;
  }

  private drainKey(id: string): string {
    return `${this.prefix}:opencode-fleet:drain:${id}`;
  }

  async publish(workerId: string, views: readonly FleetServerView[], ttlMs: number): Promise<void> {
    if (views.length === 0) return;
    const expiresAt = Date.now() + ttlMs;
    const fields = views.flatMap((view) => [`${workerId}|${view.id}`, JSON.stringify({ view, expiresAt } satisfies PublishedServer)]);
    await this.redis.hset(this.serversKey, ...fields);
  }

  async takeDrainRequests(ids: readonly string[]): Promise<Map<string, string>> {
    const taken = new Map<string, string>();
    if (ids.length === 0) return taken;
    const reasons = await this.redis.mget(...ids.map((id) => this.drainKey(id)));
    ids.forEach((id, i) => reasons[i] !== null && taken.set(id, reasons[i]!));
    return taken;
  }

  /** Every server every worker published, those gone silent as STOPPED; sorted by worker, then id. */
  async list(now = Date.now()): Promise<FleetServerView[]> {
    assertRedisReachable(this.redis, 'the server list');
    const entries = await this.redis.hgetall(this.serversKey);
    const views: FleetServerView[] = [];
    const forgotten: string[] = [];
    for (const [field, raw] of Object.entries(entries)) {
      let published: PublishedServer;
      try {
        published = JSON.parse(raw) as PublishedServer;
      } catch {
        forgotten.push(field);
        continue;
      }
      if (published.expiresAt >= now) {
        views.push(published.view);
      } else if (now - published.expiresAt > FORGET_AFTER_MS) {
        forgotten.push(field);
      } else if (published.view.state !== 'STOPPED') {
        const since = new Date(published.expiresAt).toISOString();
        views.push({ ...published.view, state: 'STOPPED', sessionsRunning: 0, lastError: `its worker ${published.view.workerId} stopped reporting at ${since}` });
      } else {
        views.push(published.view);
      }
    }
    if (forgotten.length > 0) await this.redis.hdel(this.serversKey, ...forgotten);
    return views.sort((a, b) => a.workerId.localeCompare(b.workerId) || a.id.localeCompare(b.id));
  }

  /** Asks the workers that list the server to drain it; the server as listed, or null when no worker lists it (or it is STOPPED). */
  async requestDrain(id: string, reason: string): Promise<FleetServerView | null> {
    const server = (await this.list()).find((view) => view.id === id && view.state !== 'STOPPED');
    if (!server || server.state === 'STOPPED') return null;
    await this.redis.set(this.drainKey(id), reason, 'EX', DRAIN_REQUEST_TTL_SECONDS);
    return server;
  }
}
