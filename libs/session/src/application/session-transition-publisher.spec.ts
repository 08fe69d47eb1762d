import { Logger } from '@nestjs/common';
import { InMemorySessionEvents } from '@app/session/testing';
import { Session } from '../domain/session';
import type { SessionTransitioned } from '../domain/session-events';
import { SessionTransitionPublisher } from './session-transition-publisher';

const newSession = () => Session.create({ title: 't', prompt: 'p', workspace: '/w', opencodeAgent: 'build', timeoutSeconds: 60 });

describe('SessionTransitionPublisher', () => {
  it('publishes committed transitions as live events, until the module stops', () => {
    const events = new InMemorySessionEvents();
    const publisher = new SessionTransitionPublisher(events);

    const s = newSession();
    publisher.publish(s.pullEvents());
    s.queue();
    publisher.publish(s.pullEvents(2));
    expect(events.published.map((e) => [e.type, e.seq, e.type === 'transition' && e.data.to])).toEqual([
      ['transition', 1, 'PENDING'],
      ['transition', 2, 'QUEUED'],
    ]);

    publisher.onModuleDestroy();
    s.markRunning();
    publisher.publish(s.pullEvents(3));
    expect(events.published).toHaveLength(2);
  });

  it('tells every observer each event, until it stops observing', () => {
    const publisher = new SessionTransitionPublisher();
    const seen: Array<[string | null, string]> = [];
    const stop = publisher.observe((e) => seen.push([e.from, e.to]));
    const s = newSession();
    s.queue();
    publisher.publish(s.pullEvents());
    stop();
    s.markRunning();
    publisher.publish(s.pullEvents());
    expect(seen).toEqual([
      [null, 'PENDING'],
      ['PENDING', 'QUEUED'],
    ]);
  });

  it('never lets a failed publish or a failing observer reach the writer: it logs them', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const publisher = new SessionTransitionPublisher({
      publish: () => Promise.reject(new Error('Redis is down')),
      subscribe: async () => () => undefined,
    });
    const after: SessionTransitioned[] = [];
    publisher.observe(() => {
      throw new Error('observer bug');
    });
    publisher.observe((e) => after.push(e));
    expect(() => publisher.publish(newSession().pullEvents())).not.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(after).toHaveLength(1);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('Redis is down'));
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('observer bug'));
    warn.mockRestore();
  });
});
