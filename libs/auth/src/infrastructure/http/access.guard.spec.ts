import { ExecutionContext, HttpException, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppConfig, validateEnvironment } from '@app/config';
import { Public, RequireRole } from '@app/http';
import { ANONYMOUS_PRINCIPAL, Principal } from '@app/shared';
import type { WorkspacePort } from '@app/workspace';
import { ApiKeyService } from '../../application/api-key.service';
import { InMemoryApiKeyRepository, InMemoryKeySpendLimits } from '@app/auth/testing';
import { AccessGuard } from './access.guard';
import { RequestAuthenticator } from './request-authenticator';

@RequireRole('viewer')
class SessionsLike {
  list() {}
  @RequireRole('operator') create() {}
  @Public() open() {}
}

@Public()
class HealthLike {
  live() {}
  @RequireRole('admin') secret() {}
}

class Undeclared {
  route() {}
}

const API_KEY = 'bootstrap-secret-123';

async function setup(apiKey: string | null = API_KEY) {
  const repo = new InMemoryApiKeyRepository();
  const keys = new ApiKeyService(repo, {} as WorkspacePort, new AppConfig(validateEnvironment(apiKey ? { API_KEY: apiKey } : {})), new InMemoryKeySpendLimits());
  const guard = new AccessGuard(new Reflector(), new RequestAuthenticator(keys));
  const viewer = await keys.create({ name: 'looker', role: 'viewer' }, ANONYMOUS_PRINCIPAL);
  const call = async (controller: { prototype: object }, handler: string, token?: string) => {
    const req = { method: 'GET', url: '/x', originalUrl: '/x', query: {}, headers: token ? { authorization: `Bearer ${token}` } : {} } as {
      principal?: Principal;
    };
    const headers: Record<string, string> = {};
    const res = { setHeader: (name: string, value: string) => (headers[name] = value) };
    const context = {
      getType: () => 'http',
      getClass: () => controller,
      getHandler: () => (controller.prototype as Record<string, unknown>)[handler],
      switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }),
    } as unknown as ExecutionContext;
    try {
      return { allowed: await guard.canActivate(context), principal: req.principal, headers };
    } catch (err) {
      if (!(err instanceof HttpException)) throw err;
      return { status: err.getStatus(), body: err.getResponse() as Record<string, unknown>, headers };
    }
  };
  return { call, viewer: viewer.secret };
}

describe('AccessGuard', () => {
  beforeAll(() => Logger.overrideLogger(false)); // the refusal of an undeclared route logs an error
  it('lets a key through whose role is at least the route’s, the handler’s declaration winning over the controller’s', async () => {
    const { call, viewer } = await setup();
    expect(await call(SessionsLike, 'list', viewer)).toMatchObject({ allowed: true, principal: { name: 'looker', role: 'viewer' } });
    expect(await call(SessionsLike, 'list', API_KEY)).toMatchObject({ allowed: true, principal: { keyId: 'bootstrap', role: 'admin' } });
    expect(await call(SessionsLike, 'open')).toMatchObject({ allowed: true });
    expect(await call(HealthLike, 'live')).toMatchObject({ allowed: true });
  });

  it('answers 403 FORBIDDEN naming the role needed', async () => {
    const { call, viewer } = await setup();
    expect(await call(SessionsLike, 'create', viewer)).toEqual({
      status: 403,
      headers: {},
      body: {
        code: 'FORBIDDEN',
        message: 'This needs the operator role; the key "looker" is viewer',
        details: { requiredRole: 'operator', role: 'viewer' },
      },
    });
    expect(await call(HealthLike, 'secret', viewer)).toMatchObject({ status: 403, body: { details: { requiredRole: 'admin' } } });
  });

  it('answers 401 UNAUTHORIZED with WWW-Authenticate: Bearer for no key or a wrong one', async () => {
    const { call } = await setup();
    expect(await call(SessionsLike, 'list')).toEqual({
      status: 401,
      headers: { 'WWW-Authenticate': 'Bearer' },
      body: { code: 'UNAUTHORIZED', message: expect.stringMatching(/Authorization: Bearer/) },
    });
    expect(await call(HealthLike, 'secret', 'wrong-key-123')).toMatchObject({ status: 401 });
  });

  it('refuses a route that declares no access rule, with a key or not, even with authentication off', async () => {
    const { call } = await setup(null);
    expect(await call(SessionsLike, 'create')).toMatchObject({ allowed: true, principal: ANONYMOUS_PRINCIPAL });
    expect(await call(Undeclared, 'route')).toMatchObject({ status: 403, body: { code: 'FORBIDDEN', message: expect.stringMatching(/Undeclared\.route declares no access rule/) } });
    const on = await setup();
    expect(await on.call(Undeclared, 'route', API_KEY)).toMatchObject({ status: 403 });
  });
});
