import { Logger } from '@nestjs/common';
import { SessionObservers } from '../../application/session-observers';
import { Session } from '../../domain/session';
import { InMemorySessionEvents } from './in-memory-session-events';
import { SessionTransitionPublisher } from './session-transition-publisher';

describe('SessionTransitionPublisher', () => {
  it('publishes the transitions the repository reports once committed, until the module stops', () => {
    const observers = new SessionObservers();
    const events = new InMemorySessionEvents();
    const publisher = new SessionTransitionPublisher(observers, events);
    publisher.onModuleInit();

    const s = Session.create({ title: 't', prompt: 'p', workspace: '/w', agent: 'build', timeoutSeconds: 60 });
    observers.transitioned(s.snapshot(), s.pullTransitions());
    s.queue();
    s.persisted(2);
    observers.transitioned(s.snapshot(), s.pullTransitions());
    expect(events.published.map((e) => [e.type, e.seq, e.type === 'transition' && e.data.to])).toEqual([
      ['transition', 1, 'PENDING'],
      ['transition', 2, 'QUEUED'],
    ]);

    publisher.onModuleDestroy();
    s.markRunning();
    observers.transitioned(s.snapshot(), s.pullTransitions());
    expect(events.published).toHaveLength(2);
  });

  it('never lets a failed publish reach the writer: it logs it', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const observers = new SessionObservers();
    const publisher = new SessionTransitionPublisher(observers, {
      publish: () => Promise.reject(new Error('Redis is down')),
      subscribe: async () => () => undefined,
    });
    publisher.onModuleInit();
    const s = Session.create({ title: 't', prompt: 'p', workspace: '/w', agent: 'build', timeoutSeconds: 60 });
    expect(() => observers.transitioned(s.snapshot(), s.pullTransitions())).not.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('Redis is down'));
    warn.mockRestore();
  });
});
