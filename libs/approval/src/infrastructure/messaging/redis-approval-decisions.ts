import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { REDIS_CLIENT, RedisChannelSubscriber } from '@app/platform';
import type Redis from 'ioredis';
import { ApprovalDecisionsPort } from '../../application/ports/approval-decisions.port';

/**
 * Approval decisions over Redis pub/sub, one channel per deployment (`<QUEUE_PREFIX>:approvals`),
 * the message being the approval id. Publishing uses the shared command connection; the first
 * subscriber of a process opens its one subscriber connection (only workers waiting for an
 * answer ever do). A message lost while that connection is down is made up for by the waiter's
 * periodic re-read.
 */
@Injectable()
export class RedisApprovalDecisions implements ApprovalDecisionsPort, OnApplicationShutdown {
  private readonly channel: string;
  private readonly listeners = new Map<string, Set<() => void>>();
  private readonly subscriber: RedisChannelSubscriber;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    config: AppConfig,
  ) {
    this.channel = `${config.queuePrefix}:approvals`;
    this.subscriber = new RedisChannelSubscriber(config, {
      channel: this.channel,
      connectionName: 'approvals',
      what: 'approval decisions',
      onMessage: (id) => this.wake(id),
    });
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
      await this.subscriber.ensure();
    } catch (err) {
      remove();
      throw err;
    }
    return remove;
  }

  onApplicationShutdown(): Promise<void> {
    return this.subscriber.close();
  }

  private wake(id: string): void {
    for (const listener of [...(this.listeners.get(id) ?? [])]) {
      try {
        listener();
      } catch {
        // A listener only wakes a waiter; it cannot fail in a way worth more than this.
      }
    }
  }
}
