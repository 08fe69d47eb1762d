import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { StaticOpencodeEndpoint } from '../opencode-endpoint';
import { OpencodeHttpClient, OpencodeRequestRecord } from './opencode-http-client';

/**
 * What the client tells its observers (the metrics of every fleet server are made from it), against
 * a stand-in OpenCode on a real socket: the axios interceptors, real HTTP and timeouts.
 */
describe('OpencodeHttpClient request records (observe)', () => {
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path.endsWith('/slow')) return void setTimeout(() => res.end('{}'), 500);
      if (path.startsWith('/session/ses_missing')) {
        res.statusCode = 404;
        return res.end(JSON.stringify({ name: 'NotFoundError', data: { message: 'no such session' } }));
      }
      res.setHeader('content-type', 'application/json');
      res.end(path === '/session/status' ? '{}' : path.endsWith('/message') ? '[]' : '{"id":"ses_x"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const observed = (options: { requestTimeoutMs?: number } = {}) => {
    const client = new OpencodeHttpClient(new StaticOpencodeEndpoint(baseUrl), options);
    const records: OpencodeRequestRecord[] = [];
    const undo = client.observe({ finished: (record) => records.push(record) });
    return { client, records, undo };
  };
  const summary = (records: OpencodeRequestRecord[]) => records.map(({ method, route, status, error }) => ({ method, route, status, error }));

  it('names each request by its route template (ids replaced), method and status', async () => {
    const { client, records } = observed();
    await client.createSession('/w', { title: 't' });
    await client.getSession('/w', 'ses_4fZk2LmQp9Xa7Bn3Vt');
    await client.messages('/w', 'ses_4fZk2LmQp9Xa7Bn3Vt');
    await client.messages('/w', 'ses_other7');
    await client.sessionStatus('/w');
    await client.promptAsync('/w', 'ses_4fZk2LmQp9Xa7Bn3Vt', { parts: [] } as never);
    await client.diff('/w', 'ses_4fZk2LmQp9Xa7Bn3Vt', 'msg_0123456789abcdef');
    await expect(client.getSession('/w', 'ses_missing1')).rejects.toThrow(/no such session/);

    expect(summary(records)).toEqual([
      { method: 'POST', route: '/session', status: 200, error: undefined },
      { method: 'GET', route: '/session/:id', status: 200, error: undefined },
      { method: 'GET', route: '/session/:id/message', status: 200, error: undefined },
      { method: 'GET', route: '/session/:id/message', status: 200, error: undefined },
      { method: 'GET', route: '/session/status', status: 200, error: undefined },
      { method: 'POST', route: '/session/:id/prompt_async', status: 200, error: undefined },
      { method: 'GET', route: '/session/:id/diff', status: 200, error: undefined },
      { method: 'GET', route: '/session/:id', status: 404, error: 'http' },
    ]);
    expect(records.every((r) => r.durationMs >= 0)).toBe(true);
  });

  it('reports a timeout by kind, and nothing once undone', async () => {
    const { client, records, undo } = observed({ requestTimeoutMs: 100 });
    await expect(client.getSession('/w', 'slow')).rejects.toThrow();
    expect(summary(records)).toEqual([{ method: 'GET', route: '/session/:id', status: undefined, error: 'timeout' }]);
    undo();
    await client.sessionStatus('/w');
    expect(records).toHaveLength(1);
  });
});
