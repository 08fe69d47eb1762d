import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { SESSION_EVENTS, SessionEventsPort, transitionEvents } from '../../application/ports/session-events.port';
import { SessionObservers } from '../../application/session-observers';
import type { SessionProps, SessionTransition } from '../../domain/session';

/**
 * Publishes every transition this process commits, right after the commit (the observer is
 * called synchronously by the repository, so the publish is queued before the code that made
 * the change goes on: a worker's final transition follows the progress it published before).
 */
@Injectable()
export class SessionTransitionPublisher implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SessionTransitionPublisher.name);
  private unregister?: () => void;

  constructor(
    private readonly observers: SessionObservers,
    @Inject(SESSION_EVENTS) private readonly events: SessionEventsPort,
  ) {}

  onModuleInit(): void {
    this.unregister = this.observers.register({ transitioned: (session, transitions) => this.publish(session, transitions) });
  }

  onModuleDestroy(): void {
    this.unregister?.();
  }

  private publish(session: Readonly<SessionProps>, transitions: readonly SessionTransition[]): void {
    for (const event of transitionEvents(session, transitions)) {
      this.events
        .publish(event)
        .catch((err: Error) => this.logger.warn(`Could not publish ${event.data.from ?? '∅'}→${event.data.to} of session ${event.sessionId}: ${err.message}`));
    }
  }
}
