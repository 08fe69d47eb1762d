import { parseEvent } from './opencode-event-stream';

describe('parseEvent', () => {
  it('reads a directory stream event', () => {
    expect(parseEvent('{"id":"evt_1","type":"session.idle","properties":{"sessionID":"ses_1"}}')).toEqual({
      id: 'evt_1',
      type: 'session.idle',
      properties: { sessionID: 'ses_1' },
      directory: undefined,
    });
  });

  it('unwraps a /global/event envelope and keeps its directory', () => {
    const data = '{"directory":"/ws","project":"global","payload":{"id":"evt_2","type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"busy"}}}}';
    expect(parseEvent(data)).toEqual({
      id: 'evt_2',
      type: 'session.status',
      properties: { sessionID: 'ses_1', status: { type: 'busy' } },
      directory: '/ws',
    });
  });

  it('ignores what is not an event', () => {
    expect(parseEvent('not json')).toBeUndefined();
    expect(parseEvent('{"foo":1}')).toBeUndefined();
    expect(parseEvent('42')).toBeUndefined();
  });
});
