import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { EnvironmentSchema, validateEnvironment } from '../libs/config/src/env.schema';

// No Docker engine runs where the tests run: this spec is what checks docker-compose.yml.
const ROOT = resolve(__dirname, '..');
const OPTIONAL_VARIABLES = ['OPENCODE_HOST', 'OPENCODE_PASSWORD', 'OPENCODE_MODEL', 'API_KEY'];
const ORCHESTRATOR_SERVICES = ['api', 'worker'];

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  ports?: unknown[];
  volumes?: string[];
  container_name?: string;
  deploy?: { replicas?: number };
}

function loadCompose(): { services: Record<string, Service>; volumes?: Record<string, unknown> } {
  // merge: the services share fragments through YAML merge keys (<<), as Compose reads them.
  return parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
}

/** Compose's `${VAR:-default}` / `${VAR-default}` / `${VAR}` with nothing set on the host. */
function withDefaults(value: string): string {
  return String(value).replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, fallback?: string) => fallback ?? '');
}

describe('docker-compose.yml', () => {
  const { services, volumes } = loadCompose();

  it('declares the whole stack', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['postgres', 'redis', 'opencode-server', 'api', 'worker']),
    );
  });

  it('gives every service but the worker a healthcheck', () => {
    for (const [name, service] of Object.entries(services)) {
      if (name === 'worker') continue;
      expect({ name, test: service.healthcheck?.test }).toEqual({ name, test: expect.anything() });
      expect({ name, disabled: service.healthcheck?.disable }).toEqual({ name, disabled: undefined });
    }
    expect(services.api.healthcheck?.test).toEqual(
      expect.arrayContaining([expect.stringContaining('http://127.0.0.1:3000/health/ready')]),
    );
  });

  it('runs the worker without a healthcheck because it serves nothing to probe and may scale', () => {
    const worker = services.worker;
    expect(worker.healthcheck).toBeUndefined();
    // The worker entry point starts no HTTP server: there is no endpoint to probe.
    expect(worker.command).toEqual(['node', 'dist/apps/worker/src/main.js']);
    expect(worker.ports).toBeUndefined();
    // Scalable with --scale: a fixed container name would clash.
    expect(worker.container_name).toBeUndefined();
    expect(worker.deploy?.replicas).toBe(1);
  });

  it('waits for healthy dependencies only, and starts workers after the api has migrated', () => {
    for (const [name, service] of Object.entries(services)) {
      if (!service.depends_on) continue;
      expect(Array.isArray(service.depends_on)).toBe(false);
      for (const [dependency, spec] of Object.entries(service.depends_on)) {
        expect({ name, dependency, condition: (spec as { condition?: string }).condition }).toEqual({
          name,
          dependency,
          condition: 'service_healthy',
        });
        expect(services[dependency]?.healthcheck).toBeDefined();
      }
    }
    expect(Object.keys(services.api.depends_on ?? {}).sort()).toEqual(['opencode-server', 'postgres', 'redis']);
    expect(Object.keys(services.worker.depends_on ?? {}).sort()).toEqual(['api', 'opencode-server', 'postgres', 'redis']);
  });

  it.each(ORCHESTRATOR_SERVICES)('sets every configuration variable, and nothing unknown, for the %s', (name) => {
    const expected = [...new Set([...Object.keys(new EnvironmentSchema()), ...OPTIONAL_VARIABLES])].sort();
    expect(Object.keys(services[name].environment ?? {}).sort()).toEqual(expected);
  });

  it.each(ORCHESTRATOR_SERVICES)('gives the %s a valid configuration that points at the other services', (name) => {
    const env = Object.fromEntries(
      Object.entries(services[name].environment ?? {}).map(([key, value]) => [key, withDefaults(value)]),
    );
    const config = validateEnvironment(env);
    expect(services[config.DB_HOST]).toBeDefined();
    expect(services[config.REDIS_HOST]).toBeDefined();
    expect(services[config.OPENCODE_HOST ?? '']).toBeDefined();
    expect(config.OPENCODE_PORT).toBe(4096);

    const postgres = services.postgres.environment ?? {};
    expect(env.DB_USER).toBe(postgres.POSTGRES_USER);
    expect(env.DB_NAME).toBe(postgres.POSTGRES_DB);
    expect(services[name].environment?.DB_PASSWORD).toBe(postgres.POSTGRES_PASSWORD);
    expect(services[name].environment?.OPENCODE_PASSWORD).toBe(
      services['opencode-server'].environment?.OPENCODE_SERVER_PASSWORD,
    );
  });

  it('mounts one workspaces volume at /workspaces in the api, the worker and the OpenCode server', () => {
    const sources = ['api', 'worker', 'opencode-server'].map((name) => {
      const mount = (services[name].volumes ?? []).find((v) => String(v).endsWith(':/workspaces'));
      expect({ name, mount }).toEqual({ name, mount: expect.any(String) });
      return String(mount).slice(0, -':/workspaces'.length);
    });
    expect(new Set(sources).size).toBe(1);
    // A plain name (the default) is a named volume, which must be declared.
    const source = withDefaults(sources[0]);
    if (!/^[./~]/.test(source)) expect(Object.keys(volumes ?? {})).toContain(source);
  });

  it('builds every image from a Dockerfile that exists', () => {
    const built = Object.entries(services).filter(([, service]) => service.build);
    expect(built.map(([name]) => name)).toEqual(expect.arrayContaining(['opencode-server', 'api', 'worker']));
    for (const [name, service] of built) {
      const build = typeof service.build === 'string' ? { context: service.build } : service.build ?? {};
      const dockerfile = resolve(ROOT, build.context ?? '.', build.dockerfile ?? 'Dockerfile');
      expect({ name, dockerfile, exists: existsSync(dockerfile) }).toEqual({ name, dockerfile, exists: true });
    }
    // One image for api and worker.
    expect(services.worker.image).toBe(services.api.image);
    expect(services.worker.build).toEqual(services.api.build);
  });

  it('installs in the OpenCode image the opencode-ai version the code is tested against', () => {
    const pinned = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies['opencode-ai'];
    const dockerfile = readFileSync(join(ROOT, 'infrastructure/opencode/Dockerfile'), 'utf8');
    expect(dockerfile).toContain(`ARG OPENCODE_VERSION=${pinned}\n`);
    expect(existsSync(join(ROOT, 'infrastructure/opencode/entrypoint.sh'))).toBe(true);
  });
});
