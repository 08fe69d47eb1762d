import { AppConfig } from './app-config';
import { ConfigValidationError } from './env.schema';

describe('AppConfig', () => {
  it('applies the documented defaults', () => {
    const c = AppConfig.fromEnvironment({});
    expect(c).toMatchObject({
      port: 3000,
      database: { host: '127.0.0.1', port: 5432, user: 'postgres', password: '', name: 'orchestrator', statementTimeoutMs: 30_000, connectTimeoutMs: 5_000, keepAliveSeconds: 30 },
      redis: { host: '127.0.0.1', port: 6379 },
      queuePrefix: 'orchestrator',
      opencode: { host: undefined, port: 4096, password: undefined, model: undefined },
      maxConcurrentSessions: 25,
      sessionTimeoutSeconds: 3600,
      apiKey: undefined,
      workerLeaseSeconds: 30,
      workerMetricsPort: 9465,
    });
  });

  it('runs no managed OpenCode server in a process without the worker, whatever OPENCODE_SERVERS says, and keeps the rest', () => {
    const c = AppConfig.fromEnvironment({ OPENCODE_SERVERS: '3', OPENCODE_HOSTS: 'http://:pw@oc-1:4096', PORT: '3100' });
    const api = c.withoutManagedServers();
    expect(api).toBeInstanceOf(AppConfig);
    expect(api.opencodeFleet).toEqual({ ...c.opencodeFleet, managedServers: 0 });
    expect(api.opencodeFleet.externalServers).toEqual([{ url: 'http://oc-1:4096', password: 'pw' }]);
    expect(api.port).toBe(3100);
    expect(c.opencodeFleet.managedServers).toBe(3); // the original unchanged
  });

  it('reads WORKER_METRICS_PORT, 0 turning the worker metrics server off', () => {
    expect(AppConfig.fromEnvironment({ WORKER_METRICS_PORT: '9100' }).workerMetricsPort).toBe(9100);
    expect(AppConfig.fromEnvironment({ WORKER_METRICS_PORT: '0' }).workerMetricsPort).toBe(0);
  });

  it('reads METRICS_REFRESH_SECONDS, MAX_EVENT_STREAMS and MAX_EVENT_STREAMS_PER_KEY, with their defaults', () => {
    expect(AppConfig.fromEnvironment({})).toMatchObject({ metricsRefreshSeconds: 15, eventStreams: { max: 200, maxPerKey: 20 } });
    const c = AppConfig.fromEnvironment({ METRICS_REFRESH_SECONDS: '60', MAX_EVENT_STREAMS: '1000', MAX_EVENT_STREAMS_PER_KEY: '5' });
    expect(c).toMatchObject({ metricsRefreshSeconds: 60, eventStreams: { max: 1000, maxPerKey: 5 } });
  });

  it('reads SHUTDOWN_GRACE_SECONDS (default 60; 0: hand over at once) and refuses a negative, fractional or too long grace', () => {
    expect(AppConfig.fromEnvironment({}).shutdownGraceSeconds).toBe(60);
    expect(AppConfig.fromEnvironment({ SHUTDOWN_GRACE_SECONDS: '0' }).shutdownGraceSeconds).toBe(0);
    expect(AppConfig.fromEnvironment({ SHUTDOWN_GRACE_SECONDS: '300' }).shutdownGraceSeconds).toBe(300);
    for (const bad of ['-1', '1.5', '3601', 'soon']) {
      expect(() => AppConfig.fromEnvironment({ SHUTDOWN_GRACE_SECONDS: bad })).toThrow(new RegExp(`SHUTDOWN_GRACE_SECONDS="?${bad.replace('.', '\\.')}`));
    }
  });

  it('reads LOG_FORMAT, unset (or empty) leaving the choice to the terminal, and names the values it accepts', () => {
    expect(AppConfig.fromEnvironment({}).logFormat).toBeUndefined();
    expect(AppConfig.fromEnvironment({ LOG_FORMAT: '' }).logFormat).toBeUndefined();
    expect(AppConfig.fromEnvironment({ LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(AppConfig.fromEnvironment({ LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(() => AppConfig.fromEnvironment({ LOG_FORMAT: 'text' })).toThrow(/LOG_FORMAT="text": LOG_FORMAT must be pretty or json/);
  });

  it('parses numbers and treats empty optional values as unset', () => {
    const c = AppConfig.fromEnvironment({ PORT: '8080', MAX_CONCURRENT_SESSIONS: '4', OPENCODE_HOST: '', OPENCODE_MODEL: 'anthropic/claude' });
    expect(c.port).toBe(8080);
    expect(c.maxConcurrentSessions).toBe(4);
    expect(c.opencode.host).toBeUndefined();
    expect(c.opencode.model).toBe('anthropic/claude');
  });

  it.each([
    ['PORT', 'abc'],
    ['MAX_CONCURRENT_SESSIONS', '0'],
    ['SESSION_TIMEOUT_SECONDS', '90000'],
    ['DB_NAME', 'bad-name;drop'],
    ['OPENCODE_MODEL', 'no-slash'],
    ['API_KEY', 'short'],
    ['QUEUE_PREFIX', 'has:colon'],
    ['WORKER_METRICS_PORT', '70000'],
    ['METRICS_REFRESH_SECONDS', '0'],
    ['METRICS_REFRESH_SECONDS', '3601'],
    ['METRICS_REFRESH_SECONDS', '1.5'],
    ['MAX_EVENT_STREAMS', '0'],
    ['MAX_EVENT_STREAMS', 'many'],
    ['MAX_EVENT_STREAMS_PER_KEY', '0'],
    ['MAX_EVENT_STREAMS_PER_KEY', '-3'],
  ])('stops with a message naming %s=%s', (name, value) => {
    expect(() => AppConfig.fromEnvironment({ [name]: value })).toThrow(ConfigValidationError);
    expect(() => AppConfig.fromEnvironment({ [name]: value })).toThrow(new RegExp(`${name}=`));
  });

  it('keeps the whole environment for child processes (provider credentials)', () => {
    const c = AppConfig.fromEnvironment({ ANTHROPIC_API_KEY: 'sk-test', PORT: '3001' });
    expect(c.processEnvironment).toMatchObject({ ANTHROPIC_API_KEY: 'sk-test', PORT: '3001' });
    expect(Object.isFrozen(c.processEnvironment)).toBe(true);
  });

  it('names every bad variable at once', () => {
    expect(() => AppConfig.fromEnvironment({ PORT: 'x', REDIS_PORT: 'y' })).toThrow(/PORT=.*\n.*REDIS_PORT=/s);
  });
});
