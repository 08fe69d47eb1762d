import { Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import type Redis from 'ioredis';
import { createRedisConnection } from './redis.module';

/** How long a first subscriber waits for Redis before its request fails. */
const SUBSCRIBE_TIMEOUT_MS = 5_000;

export interface RedisChannelSubscriberOptions {
  /** The channel (e.g. `<QUEUE_PREFIX>:session-events`). */
  channel: string;
  /** Names the connection (`<QUEUE_PREFIX>:<name>`). */
  connectionName: string;
  /** What is subscribed to, for log lines and errors ("session events"). */
  what: string;
  /** Each message of the channel, as sent. */
  onMessage(raw: string): void;
  /**
   * After the connection dropped and came back: called once the channel is subscribed again, so
   * that listeners re-read what they may have missed. Without it, a drop is only logged.
   */
  onResubscribed?(): void;
}

/**
 * ONE subscriber connection to ONE Redis channel for the whole process, opened by the first
 * subscriber (a process that never subscribes never opens it), with a deadline for its first
 * SUBSCRIBE, one warning per outage, and a clean close at shutdown. Publishing is not here: it
 * goes through the process's command connection, which keeps publish order.
 */
export class RedisChannelSubscriber {
  private readonly logger: Logger;
  private subscriber?: Redis;
  private subscribed?: Promise<void>;
  private closing = false;

  constructor(
    private readonly config: AppConfig,
    private readonly options: RedisChannelSubscriberOptions,
  ) {
    this.logger = new Logger(`RedisChannel ${options.what}`);
  }

  /**
   * Resolves once the channel is subscribed (at once after the first time). Rejects when the
   * process is shutting down or Redis did not answer in time; the next call tries again.
   */
  ensure(): Promise<void> {
    if (this.closing) return Promise.reject(new Error('the process is shutting down'));
    this.subscribed ??= this.open().catch((err: Error) => {
      const failed = this.subscriber;
      this.subscriber = undefined;
      this.subscribed = undefined;
      failed?.disconnect();
      throw new Error(`cannot subscribe to ${this.options.what} on Redis: ${err.message}`);
    });
    return this.subscribed;
  }

  async close(): Promise<void> {
    this.closing = true;
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.subscribed = undefined;
    await subscriber?.quit().catch(() => subscriber.disconnect());
  }

  private async open(): Promise<void> {
    const { channel, what, onMessage, onResubscribed } = this.options;
    const subscriber = createRedisConnection(this.config, this.options.connectionName);
    this.subscriber = subscriber;
    let dropped = false;
    let warned = false;
    subscriber.on('error', (err: Error) => {
      if (!warned) this.logger.warn(`The ${what} subscriber: ${err.message} (reconnecting)`);
      warned = true;
    });
    subscriber.on('message', (from: string, raw: string) => {
      if (from === channel) onMessage(raw);
    });
    subscriber.on('close', () => (dropped = true));
    subscriber.on('ready', () => {
      if (!dropped || this.closing) return;
      dropped = warned = false;
      if (!onResubscribed) return;
      // ioredis re-subscribes by itself; this SUBSCRIBE answers after that one, so the
      // listeners re-read their state only once nothing more can be missed.
      void subscriber.subscribe(channel).then(
        () => onResubscribed(),
        () => undefined,
      );
    });
    await withTimeout(subscriber.subscribe(channel), SUBSCRIBE_TIMEOUT_MS);
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
