import { Inject, Injectable, Logger, OnModuleDestroy, Optional } from '@nestjs/common';
import type { SessionTransitioned } from '../domain/session-events';
import { SESSION_EVENTS, SessionEventsPort, transitionEvent } from './ports/session-events.port';
import { errorMessage } from '@app/shared';

/** Told, in the process that committed it, about each committed transition. Must be quick. */
export type SessionTransitionObserver = (event: SessionTransitioned) => void;

/**
 * Publishes the transitions the repository commits, right after the commit: as live events to
 * every process (SessionEventsPort), and to this process's observers (metrics, the plan
 * scheduler). Called synchronously by the repository, so a live event is queued before the code
 * that made the change goes on: a worker's final transition follows the progress it published
 * before. Nothing here may fail the write, which already happened: failures are logged.
 */
@Injectable()
export class SessionTransitionPublisher implements OnModuleDestroy {
  private readonly logger = new Logger(SessionTransitionPublisher.name);
  private readonly observers = new Set<SessionTransitionObserver>();
  private stopped = false;

  constructor(@Optional() @Inject(SESSION_EVENTS) private readonly live?: SessionEventsPort) {}

  /** The event transport closes on shutdown: writes committed after this are not published live. */
  onModuleDestroy(): void {
    this.stopped = true;
  }

  /** Returns the function that stops observing. */
  observe(observer: SessionTransitionObserver): () => void {
    this.observers.add(observer);
    return () => void this.observers.delete(observer);
  }

  publish(events: readonly SessionTransitioned[]): void {
    for (const event of events) {
      this.publishLive(event);
      for (const observer of this.observers) {
        try {
          observer(event);
        } catch (err) {
          this.logger.warn(`A session transition observer failed: ${errorMessage(err)}`);
        }
      }
    }
  }

  private publishLive(event: SessionTransitioned): void {
    if (!this.live || this.stopped) return;
    this.live
      .publish(transitionEvent(event))
      .catch((err: unknown) => this.logger.warn(`Could not publish ${event.from ?? '∅'}→${event.to} of session ${event.sessionId}: ${errorMessage(err)}`));
  }
}

