import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { createRedisConnection, REDIS_CLIENT } from '@app/platform';
import type Redis from 'ioredis';
import {
  SESSION_EVENT_TYPES,
  SessionEventFilter,
  SessionEventListener,
  SessionEventsPort,
  SessionEventsUnavailableError,
  SessionLiveEvent,
  SessionEventSubscribeOptions,
} from '../../application/ports/session-events.port';
import { EventFanOut } from './event-fan-out';

/** How long a first subscriber waits for Redis before its request fails. */
export const SUBSCRIBE_TIMEOUT_MS = 5_000;

/**
 * Session events over Redis pub/sub, one channel per deployment (`<QUEUE_PREFIX>:session-events`).
 *
 * Publishing uses the process's shared command connection: Redis runs one connection's
 * commands in order and delivers a channel's messages in the order it ran the PUBLISHes, so
 * the events one process publishes reach every subscriber in publish order.
 *
 * Subscribing: the first subscriber of the process opens ONE subscriber connection (a worker
 * that streams to nobody never opens it); every later subscriber is a listener in memory,
 * filtered here. When that connection drops and comes back, messages in between are lost:
 * listeners are told (onGap) once the channel is subscribed again.
 */
@Injectable()
export class RedisSessionEvents implements SessionEventsPort, OnApplicationShutdown {
  private readonly logger = new Logger(RedisSessionEvents.name);
  private readonly channel: string;
  private readonly fanOut = new EventFanOut((err) =>
    this.logger.warn(`A session event listener failed: ${err instanceof Error ? err.message : String(err)}`),
  );
  private subscriber?: Redis;
  private subscribed?: Promise<void>;
  private closing = false;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly config: AppConfig,
  ) {
    this.channel = `${config.queuePrefix}:session-events`;
  }

  async publish(event: SessionLiveEvent): Promise<void> {
    // Called synchronously up to here: the command is queued on the connection in call order.
    await this.redis.publish(this.channel, JSON.stringify(event));
  }

  async subscribe(filter: SessionEventFilter, listener: SessionEventListener, options?: SessionEventSubscribeOptions): Promise<() => void> {
    const remove = this.fanOut.add(filter, listener, options);
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
    if (this.closing) return Promise.reject(new SessionEventsUnavailableError('the process is shutting down'));
    this.subscribed ??= this.open().catch((err: Error) => {
      const failed = this.subscriber;
      this.subscriber = undefined;
      this.subscribed = undefined;
      failed?.disconnect();
      throw new SessionEventsUnavailableError(`cannot subscribe to session events on Redis: ${err.message}`);
    });
    return this.subscribed;
  }

  private async open(): Promise<void> {
    const subscriber = createRedisConnection(this.config, 'session-events');
    this.subscriber = subscriber;
    let dropped = false;
    let warned = false;
    subscriber.on('error', (err: Error) => {
      if (!warned) this.logger.warn(`Session events subscriber: ${err.message} (reconnecting)`);
      warned = true;
    });
    subscriber.on('message', (channel: string, raw: string) => {
      if (channel === this.channel) this.receive(raw);
    });
    subscriber.on('close', () => (dropped = true));
    subscriber.on('ready', () => {
      if (!dropped || this.closing) return;
      dropped = warned = false;
      // ioredis re-subscribes by itself; this SUBSCRIBE answers after that one, so the
      // listeners re-read their state only once nothing more can be missed.
      void subscriber.subscribe(this.channel).then(
        () => this.fanOut.gap(),
        () => undefined,
      );
    });
    await withTimeout(subscriber.subscribe(this.channel), SUBSCRIBE_TIMEOUT_MS);
  }

  private receive(raw: string): void {
    let event: SessionLiveEvent;
    try {
      event = JSON.parse(raw) as SessionLiveEvent;
    } catch {
      return;
    }
    if (typeof event?.sessionId !== 'string' || !SESSION_EVENT_TYPES.includes(event.type)) return;
    this.fanOut.dispatch(event);
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
