import { acceptsQueryToken, isJobDashboardPath, isMutatingMethod, isPublicPath, jobDashboardRole, parseRequestPath, pathnameOf } from './request-path';

describe('request paths as the access rules read them', () => {
  it.each([
    '/api/v1/sessions',
    '/API/v1/sessions',
    '/Api/v1/sessions',
    '//api//v1/sessions',
    '/api/v1/sessions/',
    '/api/v1/sessions//',
    '/%61pi/v1/sessions',
    '/%41PI/v1/%73essions',
    '/docs/../api/v1/sessions',
    '/docs/%2e%2e/api/v1/sessions',
    '/./api/v1/./sessions',
    '/api/v1/sessions?limit=1',
    '/api/v1/sessions#x',
    'http://evil.example/api/v1/sessions',
    'HTTPS://h:1//api/v1/sessions/?a=b',
  ])('%s is /api/v1/sessions, and not public', (url) => {
    const path = parseRequestPath(url);
    expect(path.normalised).toBe('/api/v1/sessions');
    expect(isPublicPath(path)).toBe(false);
    expect(isJobDashboardPath(path)).toBe(false);
  });

  it('keeps a decoded slash inside its segment, as Express does', () => {
    expect(parseRequestPath('/api/v1/sessions/a%2Fb/stream').normalised).toBe('/api/v1/sessions/a%2fb/stream');
    expect(parseRequestPath('/docs/..%2F..%2Fapi').normalised).toBe('/docs/..%2f..%2fapi');
  });

  it('leaves a malformed escape as it is', () => {
    expect(parseRequestPath('/api/%E0%A4%A/x').normalised).toBe('/api/%e0%a4%a/x');
  });

  it('takes the path of an absolute-form target and ignores the query', () => {
    expect(pathnameOf('http://host:3000/queues?x=1')).toBe('/queues');
    expect(pathnameOf('http://host')).toBe('/');
    expect(pathnameOf('/a/b?c#d')).toBe('/a/b');
  });

  it.each(['/health/live', '/HEALTH/Live/', '//health//ready', '/docs', '/Docs/', '/docs/swagger-ui.css', '/docs/swagger-ui-init.js', '/docs-json', '/metrics', '/%6Detrics'])(
    '%s is public',
    (url) => expect(isPublicPath(parseRequestPath(url))).toBe(true),
  );

  it.each([
    '/health',
    '/health/live/x',
    '/docs-yaml',
    '/metricsx',
    '/',
    '/favicon.ico',
    '/api/v1/sessions/../../health/live',
    '/queues/../health/live',
    '/queues/%2e%2e/metrics',
    '/health/./live',
    '/docs/../queues',
  ])('%s is not public', (url) => expect(isPublicPath(parseRequestPath(url))).toBe(false));

  it.each(['/queues', '/QUEUES', '/Queues/', '//queues', '/%71ueues', '/queues/api/queues/x/pause', '/docs/../queues', '/queues/../metrics', '/queues/%2e%2e/health/live', 'http://h/QUEUES/api'])(
    '%s is the job dashboard',
    (url) => expect(isJobDashboardPath(parseRequestPath(url))).toBe(true),
  );

  it.each(['/queuesx', '/api/queues', '/docs/queues'])('%s is not the job dashboard', (url) =>
    expect(isJobDashboardPath(parseRequestPath(url))).toBe(false),
  );

  it('lets every role look at the job dashboard and only admin act on it', () => {
    expect(jobDashboardRole('GET')).toBe('viewer');
    expect(jobDashboardRole('head')).toBe('viewer');
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) expect(jobDashboardRole(method)).toBe('admin');
  });

  it('takes ?access_token= for a GET of the two event streams only, however spelt', () => {
    const q = (method: string, url: string) => acceptsQueryToken(method, parseRequestPath(url));
    expect(q('GET', '/api/v1/events?access_token=k')).toBe(true);
    expect(q('GET', '/API/v1/Events/')).toBe(true);
    expect(q('GET', '/api/v1/sessions/0c1d/stream')).toBe(true);
    expect(q('GET', '//api/v1/sessions/0c1d/stream/')).toBe(true);
    expect(q('POST', '/api/v1/events')).toBe(false);
    expect(q('GET', '/api/v1/sessions/0c1d')).toBe(false);
    expect(q('GET', '/api/v1/sessions')).toBe(false);
    expect(q('GET', '/api/v1/sessions/a/b/stream')).toBe(false);
    expect(q('GET', '/api/v1/keys/../events')).toBe(false);
  });

  it('calls POST, PUT, PATCH and DELETE mutations', () => {
    expect(['POST', 'put', 'PATCH', 'DELETE'].every(isMutatingMethod)).toBe(true);
    expect(['GET', 'HEAD', 'OPTIONS'].some(isMutatingMethod)).toBe(false);
  });
});
