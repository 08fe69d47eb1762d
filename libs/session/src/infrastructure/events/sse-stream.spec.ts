import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { SseStream } from './sse-stream';

/** The parts of a ServerResponse the stream uses, recording what is written. */
class FakeResponse extends EventEmitter {
  status?: number;
  headers: Record<string, string> = {};
  body = '';
  ended = false;
  destroyed = false;
  writableLength = 0;
  socket = { destroyed: false, setNoDelay: () => undefined, setKeepAlive: () => undefined };
  writeHead(status: number, headers: Record<string, string>) {
    this.status = status;
    this.headers = headers;
    return this;
  }
  write(chunk: string) {
    this.body += chunk;
    return true;
  }
  end() {
    this.ended = true;
    this.emit('close');
  }
  destroy() {
    this.destroyed = true;
    this.emit('close');
  }
}

describe('SseStream', () => {
  const options = { heartbeatMs: 15_000, maxBufferedBytes: 1_000, retryMs: 3_000 };
  let res: FakeResponse;
  let stream: SseStream;
  beforeEach(() => {
    jest.useFakeTimers();
    res = new FakeResponse();
    stream = new SseStream(res as unknown as ServerResponse, options);
  });
  afterEach(() => jest.useRealTimers());

  it('writes nothing until the first event, then event-stream headers and framed events with ids', () => {
    expect(res.status).toBeUndefined();
    stream.send('transition', { type: 'transition', data: { reason: 'line\nbreak' } });
    stream.send('end', { type: 'end' }, 'end');
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' });
    expect(res.body).toBe(
      'retry: 3000\n\n' +
        'id: 1\nevent: transition\ndata: {"type":"transition","data":{"reason":"line\\nbreak"}}\n\n' +
        'id: end\nevent: end\ndata: {"type":"end"}\n\n',
    );
  });

  it('sends a heartbeat comment while open, and stops when the client leaves', () => {
    const closed = jest.fn();
    stream.onClose(closed);
    stream.open();
    jest.advanceTimersByTime(30_000);
    expect(res.body.match(/^: heartbeat$/gm)).toHaveLength(2);
    res.emit('close');
    jest.advanceTimersByTime(30_000);
    expect(res.body.match(/^: heartbeat$/gm)).toHaveLength(2);
    expect(closed).toHaveBeenCalledTimes(1);
    expect(stream.isOpen).toBe(false);
    stream.send('text', {}); // ignored
    expect(res.body).not.toContain('event: text');
  });

  it('cuts off a client that does not read', () => {
    stream.open();
    res.writableLength = 2_000;
    stream.send('text', { delta: 'x' });
    expect(res.destroyed).toBe(true);
    expect(stream.isOpen).toBe(false);
  });

  it('is closed from the start when the client left before it existed', () => {
    const gone = new FakeResponse();
    gone.socket.destroyed = true;
    const late = new SseStream(gone as unknown as ServerResponse, options);
    const closed = jest.fn();
    late.onClose(closed);
    late.send('snapshot', {});
    expect(late.isOpen).toBe(false);
    expect(closed).toHaveBeenCalled();
    expect(gone.body).toBe('');
  });

  it('ends the response once', () => {
    const closed = jest.fn();
    stream.onClose(closed);
    stream.end();
    stream.end();
    expect(res.ended).toBe(true);
    expect(closed).toHaveBeenCalledTimes(1);
  });
});
