import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { createRedisConnection, REDIS_CLIENT } from '@app/platform';
import type Redis from 'ioredis';
import { ApprovalDecisionsPort } from '../../application/ports/approval-decisions.port';

/** How long a first subscriber waits for Redis before it gives up (the waiter then polls only). */
const SUBSCRIBE_TIMEOUT_MS = 5_000;

/**
 * Approval decisions over Redis pub/sub, one channel per deployment (`<QUEUE_PREFIX>:approvals`),
 * the message being the approval id. Publishing uses the shared command connection; the first
 * subscriber of a process opens its one subscriber connection (only workers waiting for an
 * answer ever do). A message lost while that connection is down is made up for by the waiter's
 * periodic re-read.
 */
@Injectable()
export class RedisApprovalDecisions implements ApprovalDecisionsPort, OnApplicationShutdown {
  private readonly logger = new Logger(RedisApprovalDecisions.name);
  private readonly channel: string;
  private readonly listeners = new Map<string, Set<() => void>>();
  private subscriber?: Redis;
  private subscribed?: Promise<void>;
  private closing = false;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly config: AppConfig,
  ) {
    this.channel = `${config.queuePrefix}:approvals`;
  }

  async publish(id: string): Promise<void> {
    await this.redis.publish(this.channel, id);
  }

  async subscribe(id: string, listener: () => void): Promise<() => void> {
    let forId = this.listeners.get(id);
    if (!forId) this.listeners.set(id, (forId = new Set()));
    forId.add(listener);
    const remove = () => {
      forId.delete(listener);
      if (forId.size === 0 && this.listeners.get(id) === forId) this.listeners.delete(id);
    };
    try {
      await this.connect();
    } catch (err) {
      remove();
      throw err;
    }
    return remove;
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.subscribed = undefined;
    await subscriber?.quit().catch(() => subscriber.disconnect());
  }

  private connect(): Promise<void> {
    if (this.closing) return Promise.reject(new Error('the process is shutting down'));
    this.subscribed ??= this.open().catch((err: Error) => {
      const failed = this.subscriber;
      this.subscriber = undefined;
      this.subscribed = undefined;
      failed?.disconnect();
      throw new Error(`cannot subscribe to approval decisions on Redis: ${err.message}`);
    });
    return this.subscribed;
  }

  private async open(): Promise<void> {
    const subscriber = createRedisConnection(this.config, 'approvals');
    this.subscriber = subscriber;
    let warned = false;
    subscriber.on('error', (err: Error) => {
      if (!warned) this.logger.warn(`Approval decisions subscriber: ${err.message} (reconnecting)`);
      warned = true;
    });
    subscriber.on('ready', () => (warned = false));
    subscriber.on('message', (channel: string, id: string) => {
      if (channel !== this.channel) return;
      for (const listener of [...(this.listeners.get(id) ?? [])]) {
        try {
          listener();
        } catch {
          // A listener only wakes a waiter; it cannot fail in a way worth more than this.
        }
      }
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        subscriber.subscribe(this.channel),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${SUBSCRIBE_TIMEOUT_MS} ms`)), SUBSCRIBE_TIMEOUT_MS))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
