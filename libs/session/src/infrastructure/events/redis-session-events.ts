import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { REDIS_CLIENT, RedisChannelSubscriber } from '@app/platform';
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
import { LocalSubscribers } from './local-subscribers';
import { errorMessage } from '@app/shared';

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
  private readonly subscribers = new LocalSubscribers((err) =>
    this.logger.warn(`A session event listener failed: ${errorMessage(err)}`),
  );
  private readonly subscriber: RedisChannelSubscriber;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    config: AppConfig,
  ) {
    this.channel = `${config.queuePrefix}:session-events`;
    this.subscriber = new RedisChannelSubscriber(config, {
      channel: this.channel,
      connectionName: 'session-events',
      what: 'session events',
      onMessage: (raw) => this.receive(raw),
      onResubscribed: () => this.subscribers.gap(),
    });
  }

  async publish(event: SessionLiveEvent): Promise<void> {
    // Called synchronously up to here: the command is queued on the connection in call order.
    await this.redis.publish(this.channel, JSON.stringify(event));
  }

  async subscribe(filter: SessionEventFilter, listener: SessionEventListener, options?: SessionEventSubscribeOptions): Promise<() => void> {
    const remove = this.subscribers.add(filter, listener, options);
    try {
      await this.subscriber.ensure();
    } catch (err) {
      remove();
      throw new SessionEventsUnavailableError((err as Error).message);
    }
    return remove;
  }

  onApplicationShutdown(): Promise<void> {
    return this.subscriber.close();
  }

  private receive(raw: string): void {
    let event: SessionLiveEvent;
    try {
      event = JSON.parse(raw) as SessionLiveEvent;
    } catch {
      return;
    }
    if (typeof event?.sessionId !== 'string' || !SESSION_EVENT_TYPES.includes(event.type)) return;
    this.subscribers.dispatch(event);
  }
}
