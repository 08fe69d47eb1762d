import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { EnvironmentSchema, validateEnvironment } from '@app/config';
import { DEFAULT_WORKER_METRICS_PORT } from '@app/observability';

// No Docker engine runs where the tests run, and no `docker compose` either: this spec is what
// checks docker-compose.yml (monitoring/monitoring.spec.ts checks the monitoring services' files).
// Neither Debian's docker-compose 1.29 nor the compose-spec schema on npm (2021) knows the
// top-level `name`, so the structure is checked here against the Compose Specification's keys.
const ROOT = resolve(__dirname, '..');
const OPTIONAL_VARIABLES = ['OPENCODE_HOST', 'OPENCODE_HOSTS', 'OPENCODE_SERVERS', 'OPENCODE_PASSWORD', 'OPENCODE_MODEL', 'API_KEY', 'REDIS_PASSWORD', 'WORKSPACE_ROOTS', 'OPENCODE_PASS_ENV', 'WORKTREES_DIR', 'PROVIDER_LIMITS'];
// Set in compose ahead of the environment schema, which gains it with the metrics code; harmless
// once it is there (the expected list is a set).
const ORCHESTRATOR_SERVICES = ['api', 'worker'];
const MONITORING_SERVICES = ['prometheus', 'grafana'];

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean } & Record<string, unknown>;
  ports?: unknown[];
  expose?: unknown[];
  volumes?: unknown[];
  container_name?: string;
  restart?: string;
  deploy?: { replicas?: number };
  stop_grace_period?: string;
}

type Compose = { services: Record<string, Service>; volumes?: Record<string, unknown> } & Record<string, unknown>;

function loadCompose(): Compose {
  // merge: the services share fragments through YAML merge keys (<<), as Compose reads them.
  return parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
}

/** A value for each required variable (`${VAR:?message}`), as an operator would set it. */
const REQUIRED_SAMPLE = 'required-value-set-by-the-operator';

/** Compose's `${VAR:-default}` / `${VAR-default}` / `${VAR}` with nothing set on the host; `${VAR:?m}` set. */
function withDefaults(value: string): string {
  return String(value)
    .replace(/\$\{(\w+):\?[^}]*\}/g, REQUIRED_SAMPLE)
    .replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, fallback?: string) => fallback ?? '');
}

/** A Compose duration (`1m30s`, `90s`, `500ms`) in seconds. */
function seconds(duration: string): number {
  const unit: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  return [...duration.matchAll(/(\d+(?:\.\d+)?)(us|ms|s|m|h)/g)].reduce((sum, [, n, u]) => sum + Number(n) * unit[u], 0);
}

/** The variables a file requires the operator to set (`${VAR:?message}`). */
function requiredVariables(value: unknown): string[] {
  return [...JSON.stringify(value).matchAll(/\$\{(\w+):\?/g)].map((m) => m[1]);
}

describe('docker-compose.yml', () => {
  const { services, volumes } = loadCompose();

  it('declares the whole stack and its monitoring', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['postgres', 'redis', 'opencode-server', 'api', 'worker', ...MONITORING_SERVICES]),
    );
  });

  it('gives every service a healthcheck', () => {
    for (const [name, service] of Object.entries(services)) {
      expect({ name, test: service.healthcheck?.test }).toEqual({ name, test: expect.anything() });
      expect({ name, disabled: service.healthcheck?.disable }).toEqual({ name, disabled: undefined });
    }
    expect(services.api.healthcheck?.test).toEqual(
      expect.arrayContaining([expect.stringContaining('http://127.0.0.1:3000/health/ready')]),
    );
    expect(services.prometheus.healthcheck?.test).toEqual(
      expect.arrayContaining([expect.stringContaining('http://127.0.0.1:9090/-/healthy')]),
    );
    expect(String(services.grafana.healthcheck?.test)).toContain('http://127.0.0.1:3000/api/health');
  });

  it('probes the worker on its metrics port, which it exposes on the compose network only, and lets it scale', () => {
    const worker = services.worker;
    expect(worker.command).toEqual(['node', 'dist/apps/worker/src/main.js']);
    const port = worker.environment?.WORKER_METRICS_PORT;
    expect(Number(port)).toBe(DEFAULT_WORKER_METRICS_PORT);
    expect(worker.expose).toEqual([port]);
    const probe = (worker.healthcheck?.test as string[]).join(' ');
    expect(probe).toContain("'http://127.0.0.1:' + (process.env.WORKER_METRICS_PORT || 9465) + '/metrics'");
    // Scalable with --scale: a published port or a fixed container name would clash.
    expect(worker.ports).toBeUndefined();
    expect(worker.container_name).toBeUndefined();
    expect(worker.deploy?.replicas).toBe(1);
  });

  it('waits for healthy dependencies, starts workers after the api has migrated, and monitoring regardless', () => {
    for (const [name, service] of Object.entries(services)) {
      if (!service.depends_on) continue;
      expect(Array.isArray(service.depends_on)).toBe(false);
      for (const [dependency, spec] of Object.entries(service.depends_on)) {
        const condition = (spec as { condition?: string }).condition;
        // Prometheus must come up to watch an api or worker that never gets healthy.
        const expected = name === 'prometheus' ? 'service_started' : 'service_healthy';
        expect({ name, dependency, condition }).toEqual({ name, dependency, condition: expected });
        expect(services[dependency]?.healthcheck).toBeDefined();
      }
    }
    expect(Object.keys(services.api.depends_on ?? {}).sort()).toEqual(['opencode-server', 'postgres', 'redis']);
    expect(Object.keys(services.worker.depends_on ?? {}).sort()).toEqual(['api', 'opencode-server', 'postgres', 'redis']);
    expect(Object.keys(services.prometheus.depends_on ?? {}).sort()).toEqual(['api', 'worker']);
    expect(Object.keys(services.grafana.depends_on ?? {}).sort()).toEqual(['prometheus']);
  });

  it.each(ORCHESTRATOR_SERVICES)('sets every configuration variable, and nothing unknown, for the %s', (name) => {
    const expected = [
      ...new Set([...Object.keys(new EnvironmentSchema()), ...OPTIONAL_VARIABLES]),
    ].sort();
    expect(Object.keys(services[name].environment ?? {}).sort()).toEqual(expected);
  });

  it.each(ORCHESTRATOR_SERVICES)('gives the %s a stop_grace_period at least 15 s longer than its SHUTDOWN_GRACE_SECONDS', (name) => {
    const grace = validateEnvironment(
      Object.fromEntries(Object.entries(services[name].environment ?? {}).map(([key, value]) => [key, withDefaults(value)])),
    ).SHUTDOWN_GRACE_SECONDS;
    const period = String(services[name].stop_grace_period ?? '');
    expect(period).toMatch(DURATION);
    // Docker's default (10 s) would SIGKILL a draining process before it handed its runs over.
    expect(seconds(period)).toBeGreaterThanOrEqual(grace + 15);
  });

  it.each(ORCHESTRATOR_SERVICES)('gives the %s a valid configuration that points at the other services', (name) => {
    const env = Object.fromEntries(
      Object.entries(services[name].environment ?? {}).map(([key, value]) => [key, withDefaults(value)]),
    );
    const config = validateEnvironment(env);
    if ('WORKER_METRICS_PORT' in config) {
      expect((config as unknown as Record<string, unknown>).WORKER_METRICS_PORT).toBe(DEFAULT_WORKER_METRICS_PORT);
    }
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

  it('has no default secrets: API_KEY, REDIS_PASSWORD and the Grafana admin password are required', () => {
    expect(requiredVariables(services.grafana.environment)).toEqual(['GRAFANA_ADMIN_PASSWORD']);
    for (const name of ORCHESTRATOR_SERVICES) {
      expect(requiredVariables(services[name].environment).sort()).toEqual(['API_KEY', 'REDIS_PASSWORD']);
      // Listening on every interface of its container is what publishing needs; the key guards it.
      expect(services[name].environment?.HOST).toBe('0.0.0.0');
    }
    expect(requiredVariables(services.redis.environment)).toEqual(['REDIS_PASSWORD']);
    expect(services.redis.command?.join(' ')).toContain('--requirepass "$$REDIS_PASSWORD"');
    expect(String(services.redis.healthcheck?.test)).toContain('REDISCLI_AUTH');
    expect(services.grafana.ports).toEqual(['3001:3000']);
    // Prometheus has no login: loopback only.
    expect(services.prometheus.ports).toEqual(['127.0.0.1:9090:9090']);
  });

  it('keeps the OpenCode server off the network of PostgreSQL and Redis', () => {
    const networksOf = (name: string) => (services[name] as { networks?: string[] }).networks ?? [];
    for (const name of ['postgres', 'redis']) expect(networksOf(name)).toEqual(['backend']);
    expect(networksOf('opencode-server')).toEqual(['agents']);
    for (const name of ORCHESTRATOR_SERVICES) expect(networksOf(name).sort()).toEqual(['agents', 'backend']);
    // Every service names its networks: none falls back to a default network shared with OpenCode.
    for (const [name, service] of Object.entries(services)) {
      expect({ name, networks: (service as { networks?: string[] }).networks?.length ?? 0 }).not.toEqual({ name, networks: 0 });
    }
  });

  it('confines sessions to the shared workspaces volume', () => {
    for (const name of ORCHESTRATOR_SERVICES) expect(services[name].environment?.WORKSPACE_ROOTS).toBe('/workspaces');
    const entrypoint = readFileSync(join(ROOT, 'infrastructure/opencode/entrypoint.sh'), 'utf8');
    expect(entrypoint).toContain('"external_directory":"deny"');
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

// The Compose Specification's keys (compose-spec.json of the spec's repository): a misspelt key
// such as `healtcheck` is otherwise ignored by nobody but silently by Compose's older readers.
const TOP_LEVEL_KEYS = ['name', 'version', 'services', 'networks', 'volumes', 'secrets', 'configs', 'include', 'models'];
const SERVICE_KEYS = [
  'annotations', 'attach', 'build', 'blkio_config', 'cap_add', 'cap_drop', 'cgroup', 'cgroup_parent', 'command',
  'configs', 'container_name', 'cpu_count', 'cpu_percent', 'cpu_period', 'cpu_quota', 'cpu_rt_period',
  'cpu_rt_runtime', 'cpu_shares', 'cpus', 'cpuset', 'credential_spec', 'depends_on', 'deploy', 'develop',
  'device_cgroup_rules', 'devices', 'dns', 'dns_opt', 'dns_search', 'domainname', 'entrypoint', 'env_file',
  'environment', 'expose', 'extends', 'external_links', 'extra_hosts', 'gpus', 'group_add', 'healthcheck',
  'hostname', 'image', 'init', 'ipc', 'isolation', 'label_file', 'labels', 'links', 'logging', 'mac_address',
  'mem_limit', 'mem_reservation', 'mem_swappiness', 'memswap_limit', 'models', 'network_mode', 'networks',
  'oom_kill_disable', 'oom_score_adj', 'pid', 'pids_limit', 'platform', 'ports', 'post_start', 'pre_stop',
  'privileged', 'profiles', 'provider', 'pull_policy', 'read_only', 'restart', 'runtime', 'scale', 'secrets',
  'security_opt', 'shm_size', 'stdin_open', 'stop_grace_period', 'stop_signal', 'storage_opt', 'sysctls',
  'tmpfs', 'tty', 'ulimits', 'use_api_socket', 'user', 'userns_mode', 'uts', 'volumes', 'volumes_from',
  'working_dir',
];
const HEALTHCHECK_KEYS = ['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable'];
const DURATION = /^(?:\d+(?:\.\d+)?(?:us|ms|s|m|h))+$/;
const PORT = /^(?:(?:\d{1,3}(?:\.\d{1,3}){3}|\[[\da-fA-F:]+\]):)?(?:(\d+)(?:-\d+)?:)?\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/;

describe('docker-compose.yml structure', () => {
  const compose = loadCompose();
  const { services } = compose;
  const declaredVolumes = Object.keys(compose.volumes ?? {});

  /** Every string of the file (keys of x- fragments included), to check interpolation. */
  function strings(value: unknown): string[] {
    if (typeof value === 'string') return [value];
    if (Array.isArray(value)) return value.flatMap(strings);
    if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
    return [];
  }

  it('uses only Compose keys, at the top level, in services and in healthchecks', () => {
    expect(Object.keys(compose).filter((key) => !key.startsWith('x-') && !TOP_LEVEL_KEYS.includes(key))).toEqual([]);
    for (const [name, service] of Object.entries(services)) {
      expect({ name, unknown: Object.keys(service).filter((key) => !SERVICE_KEYS.includes(key)) }).toEqual({ name, unknown: [] });
      const healthcheck = service.healthcheck ?? {};
      expect({ name, unknown: Object.keys(healthcheck).filter((key) => !HEALTHCHECK_KEYS.includes(key)) }).toEqual({
        name,
        unknown: [],
      });
    }
  });

  it('gives every service an image or a build, and pins pulled images to a version', () => {
    for (const [name, service] of Object.entries(services)) {
      expect({ name, source: Boolean(service.image || service.build) }).toEqual({ name, source: true });
      if (service.image && !service.build) {
        const tag = /:([^/:]+)$/.exec(service.image)?.[1];
        expect({ name, image: service.image, pinned: Boolean(tag && tag !== 'latest') }).toEqual({
          name,
          image: service.image,
          pinned: true,
        });
      }
    }
  });

  it('restarts every service on its own, and probes each with a valid healthcheck', () => {
    for (const [name, service] of Object.entries(services)) {
      expect({ name, restart: service.restart }).toEqual({ name, restart: 'unless-stopped' });
      const { test, interval, timeout, retries, start_period: startPeriod } = service.healthcheck ?? {};
      const valid =
        (Array.isArray(test) && ['CMD', 'CMD-SHELL'].includes(test[0]) && test.length > 1 &&
          test.every((part) => typeof part === 'string')) ||
        (typeof test === 'string' && test.length > 0);
      expect({ name, test, valid }).toEqual({ name, test, valid: true });
      for (const [key, duration] of Object.entries({ interval, timeout, startPeriod })) {
        if (duration !== undefined) expect({ name, key, duration, ok: DURATION.test(String(duration)) }).toEqual({ name, key, duration, ok: true });
      }
      if (retries !== undefined) expect({ name, retries: Number.isInteger(retries) }).toEqual({ name, retries: true });
    }
  });

  it('depends only on services that exist', () => {
    for (const [name, service] of Object.entries(services)) {
      const dependencies = Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {});
      for (const dependency of dependencies) {
        expect({ name, dependency, exists: dependency in services && dependency !== name }).toEqual({ name, dependency, exists: true });
      }
    }
  });

  it('writes ports as [ip:][host:]container[/protocol], never publishing one host port twice', () => {
    const published = new Map<string, string>();
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) {
        const value = withDefaults(String(port));
        const match = PORT.exec(value);
        expect({ name, port, valid: typeof port === 'string' && Boolean(match) }).toEqual({ name, port, valid: true });
        const host = match?.[1];
        if (host) {
          expect({ name, host, alsoBy: published.get(host) }).toEqual({ name, host, alsoBy: undefined });
          published.set(host, name);
        }
      }
      for (const port of service.expose ?? []) {
        expect({ name, port, valid: typeof port === 'string' && /^\d+(?:-\d+)?(?:\/(?:tcp|udp))?$/.test(port) }).toEqual({
          name,
          port,
          valid: true,
        });
      }
    }
  });

  it('mounts declared named volumes or paths of this repository that exist, at absolute targets', () => {
    const used = new Set<string>();
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        expect({ name, volume, short: typeof volume === 'string' }).toEqual({ name, volume, short: true });
        const [source, target, mode, ...extra] = withDefaults(String(volume)).split(':');
        expect({ name, volume, target: target?.startsWith('/'), mode: [undefined, 'ro', 'rw'].includes(mode), extra }).toEqual({
          name,
          volume,
          target: true,
          mode: true,
          extra: [],
        });
        if (/^[./~]/.test(source)) {
          expect({ name, source, exists: existsSync(resolve(ROOT, source)) }).toEqual({ name, source, exists: true });
        } else {
          expect({ name, source, declared: declaredVolumes.includes(source) }).toEqual({ name, source, declared: true });
          used.add(source);
        }
      }
    }
    expect(declaredVolumes.filter((volume) => !used.has(volume))).toEqual([]);
  });

  it('gives environment values as strings (no YAML booleans or numbers) and commands as lists', () => {
    for (const [name, service] of Object.entries(services)) {
      expect(Array.isArray(service.environment)).toBe(false);
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        expect({ name, key, type: typeof value }).toEqual({ name, key, type: 'string' });
      }
      if (service.command !== undefined) {
        expect({ name, command: Array.isArray(service.command) && service.command.every((c) => typeof c === 'string') }).toEqual({
          name,
          command: true,
        });
      }
    }
  });

  it('interpolates only ${VAR}, ${VAR:-default}, ${VAR-default} and ${VAR:?message}', () => {
    for (const text of strings(compose)) {
      const references = text.replace(/\$\$/g, '').match(/\$(\{[^}]*\}?|\w+|.?)/g) ?? [];
      for (const reference of references) {
        expect({ text, reference, valid: /^\$\{[A-Za-z_]\w*(?::?[-?][^}]*)?\}$/.test(reference) }).toEqual({
          text,
          reference,
          valid: true,
        });
      }
    }
  });
});
