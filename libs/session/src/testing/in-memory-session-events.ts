import {
  SessionEventFilter,
  SessionEventListener,
  SessionEventsPort,
  SessionLiveEvent,
  SessionEventSubscribeOptions,
} from '../application/ports/session-events.port';
import { LocalSubscribers } from '../infrastructure/events/local-subscribers';

/**
 * Session events within one process (unit tests; a single-process setup could use it too).
 * Delivery is asynchronous, like the Redis adapter's, and in publish order.
 */
export class InMemorySessionEvents implements SessionEventsPort {
  readonly published: SessionLiveEvent[] = [];
  private readonly subscribers = new LocalSubscribers();

  async publish(event: SessionLiveEvent): Promise<void> {
    this.published.push(event);
    queueMicrotask(() => this.subscribers.dispatch(structuredClone(event)));
  }

  async subscribe(filter: SessionEventFilter, listener: SessionEventListener, options?: SessionEventSubscribeOptions): Promise<() => void> {
    return this.subscribers.add(filter, listener, options);
  }

  /** Simulates a lost connection: listeners are told events may be missing. */
  simulateGap(): void {
    this.subscribers.gap();
  }
}
