import { Injectable, Logger } from '@nestjs/common';
import { SessionProps, SessionTransition } from '../domain/session';

/**
 * Something that wants to know, in the process that made them, about session changes once they
 * are committed: metrics count transitions, the event stream publishes them. An observer must
 * be quick and must not throw (a failure is logged and ignored: the write already happened).
 */
export interface SessionObserver {
  transitioned?(session: Readonly<SessionProps>, transitions: readonly SessionTransition[]): void;
}

/** The registry the repository tells after every committed write that recorded transitions. */
@Injectable()
export class SessionObservers {
  private readonly logger = new Logger(SessionObservers.name);
  private readonly observers = new Set<SessionObserver>();

  register(observer: SessionObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  transitioned(session: Readonly<SessionProps>, transitions: readonly SessionTransition[]): void {
    if (transitions.length === 0) return;
    for (const observer of this.observers) {
      try {
        observer.transitioned?.(session, transitions);
      } catch (err) {
        this.logger.warn(`A session observer failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
