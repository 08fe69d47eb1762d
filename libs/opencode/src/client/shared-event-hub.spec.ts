import { PassThrough } from 'node:stream';
import { SharedEventHub } from './shared-event-hub';
import type { OpencodeEvent } from './opencode.types';

const sse = (payload: object) => `data: ${JSON.stringify({ directory: '/ws', payload })}\n\n`;

describe('SharedEventHub', () => {
  it('serves every subscriber from one stream and closes it after the last one leaves', async () => {
    const opened: Array<{ body: PassThrough; signal: AbortSignal }> = [];
    const hub = new SharedEventHub(async (_directory, signal) => {
      const body = new PassThrough();
      opened.push({ body, signal });
      setImmediate(() => body.write(sse({ type: 'server.connected', properties: {} })));
      return body;
    });
    const seenA: OpencodeEvent[] = [];
    const seenB: OpencodeEvent[] = [];
    const a = await hub.subscribe({ directory: '/ws', onEvent: (e) => seenA.push(e) });
    const b = await hub.subscribe({ directory: '/other', onEvent: (e) => seenB.push(e) });
    expect(opened).toHaveLength(1);

    opened[0].body.write(sse({ type: 'session.idle', properties: { sessionID: 'ses_1' } }));
    await new Promise((r) => setImmediate(r));
    expect(seenA.map((e) => e.type)).toEqual(['session.idle']);
    expect(seenB.map((e) => e.type)).toEqual(['session.idle']);

    a.close();
    expect(opened[0].signal.aborted).toBe(false);
    b.close();
    await new Promise((r) => setImmediate(r));
    expect(opened[0].signal.aborted).toBe(true);

    // A later subscriber opens a fresh stream.
    const c = await hub.subscribe({ directory: '/ws', onEvent: () => undefined });
    expect(opened).toHaveLength(2);
    c.close();
  });

  it('keeps delivering to the others when one subscriber throws', async () => {
    let body!: PassThrough;
    const hub = new SharedEventHub(async () => {
      body = new PassThrough();
      setImmediate(() => body.write(sse({ type: 'server.connected', properties: {} })));
      return body;
    });
    const seen: string[] = [];
    const bad = await hub.subscribe({ onEvent: () => { throw new Error('bug'); } });
    const good = await hub.subscribe({ onEvent: (e) => seen.push(e.type) });
    body.write(sse({ type: 'session.status', properties: { sessionID: 'ses_1', status: { type: 'busy' } } }));
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['session.status']);
    bad.close();
    good.close();
  });
});
