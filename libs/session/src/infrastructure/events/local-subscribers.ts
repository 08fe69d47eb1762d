import {
  matchesFilter,
  SessionEventFilter,
  SessionEventListener,
  SessionLiveEvent,
  SessionEventSubscribeOptions,
} from '../../application/ports/session-events.port';

interface Subscriber {
  filter: SessionEventFilter;
  listener: SessionEventListener;
  onGap?: () => void;
}

/**
 * The live-event subscribers of this process, and the delivery of each event to those whose
 * filter it matches: what a SessionEventsPort adapter hands the events it receives to.
 */
export class LocalSubscribers {
  private readonly subscribers = new Set<Subscriber>();

  constructor(private readonly onListenerError: (err: unknown) => void = () => undefined) {}

  get size(): number {
    return this.subscribers.size;
  }

  add(filter: SessionEventFilter, listener: SessionEventListener, options: SessionEventSubscribeOptions = {}): () => void {
    const subscriber: Subscriber = { filter, listener, onGap: options.onGap };
    this.subscribers.add(subscriber);
    return () => void this.subscribers.delete(subscriber);
  }

  dispatch(event: SessionLiveEvent): void {
    for (const s of [...this.subscribers]) {
      if (!matchesFilter(event, s.filter)) continue;
      this.safely(() => s.listener(event));
    }
  }

  /** Events may have been lost: tell every listener. */
  gap(): void {
    for (const s of [...this.subscribers]) if (s.onGap) this.safely(s.onGap);
  }

  private safely(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.onListenerError(err); // one client's failure must not starve the others
    }
  }
}
