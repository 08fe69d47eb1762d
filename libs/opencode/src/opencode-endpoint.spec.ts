import { StaticOpencodeEndpoint } from './opencode-endpoint';

describe('StaticOpencodeEndpoint.fromHost', () => {
  it('builds the base URL from host and port', () => {
    expect(StaticOpencodeEndpoint.fromHost('opencode.internal', 4096).endpoint()).toEqual({ baseUrl: 'http://opencode.internal:4096' });
    expect(StaticOpencodeEndpoint.fromHost('https://oc.example.com/', 4096, 'pw').endpoint()).toEqual({
      baseUrl: 'https://oc.example.com:4096',
      password: 'pw',
    });
    expect(StaticOpencodeEndpoint.fromHost('http://127.0.0.1:5000', 4096).endpoint().baseUrl).toBe('http://127.0.0.1:5000');
  });

  it('carries the default model', () => {
    expect(StaticOpencodeEndpoint.fromHost('h', 1, undefined, 'a/b').defaultModel).toBe('a/b');
  });
});
