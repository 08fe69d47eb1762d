import { DynamicModule, RequestMethod, Type } from '@nestjs/common';
import { METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { PUBLIC_PATHS } from '@app/auth';
import { AppConfig, validateEnvironment } from '@app/config';
import { PUBLIC_ROUTE, REQUIRED_ROLE } from '@app/http';
import { ROLES } from '@app/shared';
import { AppModule } from '../app.module';

type ModuleRef = Type<unknown> | DynamicModule | Promise<DynamicModule> | { forwardRef: () => unknown } | undefined;

/** Every controller the application mounts: the module graph walked from AppModule, without starting anything. */
function controllersOf(root: DynamicModule): Set<Type<unknown>> {
  const seen = new Set<unknown>();
  const controllers = new Set<Type<unknown>>();
  const visit = (ref: ModuleRef): void => {
    if (!ref || ref instanceof Promise || 'forwardRef' in ref || seen.has(ref)) return;
    seen.add(ref);
    const dynamic = 'module' in ref ? (ref as DynamicModule) : undefined;
    const moduleClass = dynamic ? dynamic.module : (ref as Type<unknown>);
    const own = (key: string) => (Reflect.getMetadata(key, moduleClass) as unknown[] | undefined) ?? [];
    for (const c of [...own(MODULE_METADATA.CONTROLLERS), ...(dynamic?.controllers ?? [])]) controllers.add(c as Type<unknown>);
    for (const m of [...own(MODULE_METADATA.IMPORTS), ...(dynamic?.imports ?? [])]) visit(m as ModuleRef);
  };
  visit(root);
  return controllers;
}

interface Route {
  route: string;
  path: string;
  access: { public: boolean; role?: string };
}

function routesOf(controller: Type<unknown>): Route[] {
  const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
  const prototype = controller.prototype as Record<string, unknown>;
  return Object.getOwnPropertyNames(prototype)
    .filter((name) => name !== 'constructor' && Reflect.hasMetadata(METHOD_METADATA, prototype[name] as object))
    .map((name) => {
      const handler = prototype[name] as object;
      const declared = (target: object) => ({
        role: Reflect.getMetadata(REQUIRED_ROLE, target) as string | undefined,
        public: Reflect.getMetadata(PUBLIC_ROUTE, target) === true,
      });
      const own = declared(handler);
      const access = own.role || own.public ? own : declared(controller);
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
      const path = `/${[base, String(Reflect.getMetadata(PATH_METADATA, handler) ?? '')].join('/')}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
      return { route: `${method} ${path} (${controller.name}.${name})`, path, access };
    });
}

describe('every route of the application declares who may call it', () => {
  const app = AppModule.forRoot({ config: new AppConfig(validateEnvironment({})), withWorker: true });
  const routes = [...controllersOf(app)].flatMap(routesOf);

  it('finds the routes of every controller (so that the checks below check something)', () => {
    const names = routes.map((r) => r.route).join('\n');
    for (const expected of [
      'POST /api/v1/sessions (SessionsController.create)',
      'GET /api/v1/events (SessionEventsController.stream)',
      'POST /api/v1/agents/route (AgentsController.route)',
      'POST /api/v1/plans/:id/run (PlansController.run)',
      'GET /api/v1/locks (LocksController.list)',
      'DELETE /api/v1/keys/:id (KeysController.revoke)',
      'GET /api/v1/servers (ServersController.list)',
      'POST /api/v1/servers/:id/drain (ServersController.drain)',
      'GET /health/live (HealthController.live)',
      'GET /metrics (MetricsController.scrape)',
    ]) {
      expect(names).toContain(expected);
    }
    expect(routes.length).toBeGreaterThan(30);
  });

  it('mounts the OpenCode server routes in an API without a worker too (they read the registry the workers publish to)', () => {
    const apiOnly = [...controllersOf(AppModule.forRoot({ config: new AppConfig(validateEnvironment({})), withWorker: false }))].flatMap(routesOf);
    expect(apiOnly.map((r) => r.route)).toEqual(
      expect.arrayContaining(['GET /api/v1/servers (ServersController.list)', 'POST /api/v1/servers/:id/drain (ServersController.drain)']),
    );
  });

  it('each declares @Public() or @RequireRole() with a known role, itself or on its controller', () => {
    const undeclared = routes.filter((r) => !r.access.public && !ROLES.includes(r.access.role as never)).map((r) => r.route);
    expect(undeclared).toEqual([]);
  });

  it('a public route is on the public path list (which the middleware lets through without a key)', () => {
    const stray = routes.filter((r) => r.access.public && !PUBLIC_PATHS.includes(r.path)).map((r) => r.route);
    expect(stray).toEqual([]);
    expect(routes.filter((r) => r.access.public).map((r) => r.path).sort()).toEqual(['/health/live', '/health/ready', '/metrics']);
  });

  it('gives each route the role the README promises', () => {
    const roleOf = (route: string) => routes.find((r) => r.route.startsWith(`${route} (`))?.access.role;
    const expectations: Record<string, string> = {
      'GET /api/v1/sessions': 'viewer',
      'GET /api/v1/sessions/:id/stream': 'viewer',
      'POST /api/v1/sessions': 'operator',
      'POST /api/v1/sessions/:id/start': 'operator',
      'POST /api/v1/sessions/:id/cancel': 'operator',
      'POST /api/v1/sessions/:id/retry': 'operator',
      'PATCH /api/v1/sessions/:id': 'operator',
      'DELETE /api/v1/sessions/:id': 'operator',
      'GET /api/v1/events': 'viewer',
      'GET /api/v1/agents': 'viewer',
      'POST /api/v1/agents/route': 'viewer',
      'POST /api/v1/agents': 'admin',
      'PATCH /api/v1/agents/:id': 'admin',
      'DELETE /api/v1/agents/:id': 'admin',
      'GET /api/v1/plans/:id': 'viewer',
      'POST /api/v1/plans': 'operator',
      'POST /api/v1/plans/:id/run': 'operator',
      'POST /api/v1/plans/:id/cancel': 'operator',
      'DELETE /api/v1/plans/:id': 'operator',
      'GET /api/v1/locks': 'viewer',
      'GET /api/v1/keys': 'admin',
      'POST /api/v1/keys': 'admin',
      'DELETE /api/v1/keys/:id': 'admin',
      'GET /api/v1/servers': 'viewer',
      'POST /api/v1/servers/:id/drain': 'admin',
    };
    expect(Object.fromEntries(Object.keys(expectations).map((route) => [route, roleOf(route)]))).toEqual(expectations);
    // Every other write needs more than viewer.
    const writes = routes.filter((r) => /^(POST|PUT|PATCH|DELETE) /.test(r.route) && r.route !== 'POST /api/v1/agents/route (AgentsController.route)');
    expect(writes.filter((r) => r.access.public || r.access.role === 'viewer').map((r) => r.route)).toEqual([]);
  });
});
