import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_WORKER_METRICS_PORT, METRIC_NAMES } from '@app/observability';
import { SessionStatus } from '@app/session';
import {
  DASHBOARD_FILE,
  HISTOGRAM_SUFFIXES,
  PROM_CLIENT_DEFAULT_METRICS,
  PROMETHEUS_SYNTHETIC_METRICS,
  dashboardMetricNames,
  dashboardPanels,
  dashboardQueries,
  loadDashboard,
  metricFamily,
  parsePromql,
} from './dashboard-metrics';

// The monitoring files against the one list of metric names (libs/observability/src/metric-names.ts)
// and against docker-compose.yml. promtool checks their syntax and the alerts' behaviour
// (check.sh); this spec checks what promtool cannot know: which metrics and labels exist.
const ROOT = resolve(__dirname, '../..');
const MONITORING = __dirname;
const read = (path: string) => readFileSync(join(MONITORING, path), 'utf8');
const yaml = <T>(path: string): T => parse(read(path)) as T;

interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  static_configs?: { targets: string[] }[];
  dns_sd_configs?: { names: string[]; type?: string; port?: number }[];
}
interface PrometheusConfig {
  global: { scrape_interval: string; scrape_timeout?: string; evaluation_interval: string };
  rule_files: string[];
  scrape_configs: ScrapeConfig[];
}
interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTests {
  rule_files: string[];
  tests: { name?: string; alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}
interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  expose?: string[];
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test?: string[] | string };
}

const prometheus = yaml<PrometheusConfig>('prometheus/prometheus.yml');
const alertGroups = yaml<{ groups: { name: string; rules: AlertRule[] }[] }>('prometheus/alerts.yml').groups;
const alerts = alertGroups.flatMap((group) => group.rules);
const ruleTests = yaml<RuleTests>('prometheus/alerts.test.yml');
const datasources = yaml<{ datasources: { name: string; uid: string; type: string; url: string }[] }>(
  'grafana/provisioning/datasources/prometheus.yml',
).datasources;
const dashboardProviders = yaml<{ providers: { type: string; options: { path: string } }[] }>(
  'grafana/provisioning/dashboards/dashboards.yml',
).providers;
const dashboard = loadDashboard();
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};

// ---------------------------------------------------------------- what may be queried
type MetricType = 'counter' | 'gauge' | 'histogram';
interface Declared {
  type: MetricType;
  labels: string[];
  /** Allowed values of some labels. */
  values: Record<string, string[]>;
}

/**
 * Type, labels and label values of each metric, from the doc comment above it in
 * metric-names.ts ("counter {from, to}: …", "(kind: http, network, timeout)").
 */
function declaredMetrics(): Map<string, Declared> {
  const source = readFileSync(join(ROOT, 'libs/observability/src/metric-names.ts'), 'utf8');
  const declared = new Map<string, Declared>();
  const entry = /\/\*\*\s*(counter|gauge|histogram)\b\s*(?:\{([^}]*)\})?([\s\S]*?)\*\/\s*\w+:\s*'([a-z_:]+)'/g;
  for (const [, type, labels = '', rest, name] of source.matchAll(entry)) {
    const values: Record<string, string[]> = {};
    for (const [, list] of rest.matchAll(/\(([^)]*)\)/g)) {
      for (const part of list.split(';')) {
        const m = /^\s*(\w+):\s*(.+?)\s*$/.exec(part);
        if (m) values[m[1]] = m[2].split(',').map((v) => v.trim());
      }
    }
    declared.set(name, {
      type: type as MetricType,
      labels: labels.split(',').map((l) => l.trim()).filter(Boolean),
      values,
    });
  }
  const statuses = Object.values(SessionStatus) as string[];
  const sessionLabels: Record<string, string[]> = {
    orchestrator_sessions: ['status'],
    orchestrator_session_duration_seconds: ['status'],
    orchestrator_session_transitions_total: ['from', 'to'],
  };
  for (const [name, labels] of Object.entries(sessionLabels)) {
    const metric = declared.get(name);
    for (const label of labels) if (metric) metric.values[label] = statuses;
  }
  for (const name of [...PROM_CLIENT_DEFAULT_METRICS, ...PROMETHEUS_SYNTHETIC_METRICS]) {
    declared.set(name, { type: 'gauge', labels: [], values: {} });
  }
  return declared;
}

const DECLARED = declaredMetrics();
const FAMILIES = [...DECLARED.keys()];
const SCRAPE_JOBS = prometheus.scrape_configs.map((config) => config.job_name);
/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ['job', 'instance'];

/** Every problem with the metrics, labels and label values of one PromQL expression. */
function problemsOf(expr: string, allowed: (family: string) => boolean): string[] {
  const problems: string[] = [];
  const { selectors, namelessSelectors, groupingLabels } = parsePromql(expr);
  if (namelessSelectors > 0) problems.push('a selector without a metric name');
  if (selectors.length === 0) problems.push('no metric at all');
  const labelsInScope = new Set(TARGET_LABELS);
  for (const selector of selectors) {
    const family = metricFamily(selector.name, FAMILIES);
    const declared = DECLARED.get(family);
    if (!declared || !allowed(family)) {
      problems.push(`unknown metric ${selector.name}`);
      continue;
    }
    const suffix = selector.name.slice(family.length);
    if (declared.type === 'histogram' && suffix === '') problems.push(`${family} is a histogram: query _bucket, _sum or _count`);
    if (declared.type !== 'histogram' && suffix !== '') problems.push(`${selector.name}: ${family} is a ${declared.type}`);
    if (suffix === '_bucket' && !expr.includes('histogram_quantile')) problems.push(`${selector.name} outside histogram_quantile`);
    const labels = [...declared.labels, ...TARGET_LABELS, ...(suffix === '_bucket' ? ['le'] : [])];
    labels.forEach((label) => labelsInScope.add(label));
    for (const { label, op, value } of selector.matchers) {
      if (!labels.includes(label)) {
        problems.push(`${selector.name} has no label ${label}`);
        continue;
      }
      const allowedValues = label === 'job' ? SCRAPE_JOBS : declared.values[label];
      if (!allowedValues) continue;
      // Plain alternatives (A|B|C) only; a real regular expression is not checked.
      const alternatives = op === '=' || op === '!=' ? [value] : /^[\w|/:-]+$/.test(value) ? value.split('|') : [];
      for (const alternative of alternatives) {
        if (!allowedValues.includes(alternative)) problems.push(`${selector.name}{${label}="${alternative}"}: no such ${label}`);
      }
    }
  }
  for (const label of groupingLabels) {
    if (!labelsInScope.has(label)) problems.push(`groups by ${label}, which none of its metrics has`);
  }
  return problems;
}

const inMetricNames = (family: string) => (METRIC_NAMES as readonly string[]).includes(family);
const forAlerts = (family: string) => inMetricNames(family) || family === 'up';
const forPanels = (family: string) =>
  forAlerts(family) || (PROM_CLIENT_DEFAULT_METRICS as readonly string[]).includes(family);

/** `host:port` → [host, port]. */
function hostPort(target: string): [string, number] {
  const [host, port] = target.split(':');
  return [host, Number(port)];
}

/** `source:target[:mode]` mounts of a compose service, sources resolved from the repository root. */
function mounts(service: ComposeService): { source: string; target: string }[] {
  return (service.volumes ?? []).map((volume) => {
    const [source, target] = volume.split(':');
    return { source: /^[./]/.test(source) ? resolve(ROOT, source) : source, target };
  });
}

function healthcheckText(service: ComposeService): string {
  const test = service.healthcheck?.test;
  return Array.isArray(test) ? test.join(' ') : String(test ?? '');
}

describe('monitoring: the metric names', () => {
  it('reads the type and labels of every metric of metric-names.ts from its doc comment', () => {
    for (const name of METRIC_NAMES) {
      expect({ name, declared: DECLARED.has(name) }).toEqual({ name, declared: true });
    }
    expect(DECLARED.get('orchestrator_session_transitions_total')).toMatchObject({ type: 'counter', labels: ['from', 'to'] });
    expect(DECLARED.get('orchestrator_lock_wait_seconds')?.values.outcome).toContain('deadlock');
  });

  it('scans PromQL for selectors, matchers and grouping labels', () => {
    const summary = parsePromql(
      'histogram_quantile(0.95, sum by (le, route) (rate(a_bucket{x="1", y=~"p|q"}[$__rate_interval]))) ' +
        '/ on () group_left b offset 5m and bool sum without (z) (c{s!="}"}) > 1e3 or absent(up{job="api"})',
    );
    expect(summary.selectors).toEqual([
      { name: 'a_bucket', matchers: [{ label: 'x', op: '=', value: '1' }, { label: 'y', op: '=~', value: 'p|q' }] },
      { name: 'b', matchers: [] },
      { name: 'c', matchers: [{ label: 's', op: '!=', value: '}' }] },
      { name: 'up', matchers: [{ label: 'job', op: '=', value: 'api' }] },
    ]);
    expect(summary.groupingLabels).toEqual(['le', 'route', 'z']);
    expect(summary.namelessSelectors).toBe(0);
    expect(parsePromql('{__name__="x"}').namelessSelectors).toBe(1);
    expect(metricFamily('orchestrator_lock_wait_seconds_bucket', FAMILIES)).toBe('orchestrator_lock_wait_seconds');
    expect(HISTOGRAM_SUFFIXES).toContain('_count');
  });

  it('finds the mistakes it is there for', () => {
    expect(problemsOf('rate(orchestrator_sessions_total[5m])', forAlerts)).toEqual(['unknown metric orchestrator_sessions_total']);
    expect(problemsOf('orchestrator_session_transitions_total{status="QUEUED"}', forAlerts)).toEqual([
      'orchestrator_session_transitions_total has no label status',
    ]);
    expect(problemsOf('orchestrator_sessions{status=~"QUEUED|STARTED"}', forAlerts)).toEqual([
      'orchestrator_sessions{status="STARTED"}: no such status',
    ]);
    expect(problemsOf('sum by (route) (orchestrator_sessions)', forAlerts)).toEqual([
      'groups by route, which none of its metrics has',
    ]);
    expect(problemsOf('orchestrator_lock_wait_seconds', forAlerts)).toEqual([
      'orchestrator_lock_wait_seconds is a histogram: query _bucket, _sum or _count',
    ]);
    expect(problemsOf('process_cpu_seconds_total', forAlerts)).toEqual(['unknown metric process_cpu_seconds_total']);
    expect(problemsOf('up{job="workers"}', forAlerts)).toEqual(['up{job="workers"}: no such job']);
  });
});

describe('monitoring: prometheus.yml', () => {
  const job = (name: string) => prometheus.scrape_configs.find((config) => config.job_name === name);

  it('scrapes the api at api:3000/metrics, the port the api listens on', () => {
    const api = job('api');
    expect(api?.metrics_path ?? '/metrics').toBe('/metrics');
    expect(api?.static_configs?.flatMap((c) => c.targets)).toEqual(['api:3000']);
    const [host, port] = hostPort(api!.static_configs![0].targets[0]);
    expect(compose.services[host]).toBeDefined();
    expect(Number(compose.services[host].environment?.PORT)).toBe(port);
    expect(compose.services[host].ports).toContain(`${port}:${port}`);
  });

  it('scrapes every worker replica at worker:9465/metrics, the port the worker serves its metrics on', () => {
    const worker = job('worker');
    expect(worker?.metrics_path ?? '/metrics').toBe('/metrics');
    // DNS discovery: one target per replica of `docker compose up --scale worker=N`.
    expect(worker?.dns_sd_configs).toEqual([{ names: ['worker'], type: 'A', port: 9465, refresh_interval: '30s' }]);
    const service = compose.services.worker;
    expect(service).toBeDefined();
    expect(DEFAULT_WORKER_METRICS_PORT).toBe(9465);
    expect(Number(service.environment?.WORKER_METRICS_PORT)).toBe(9465);
    expect(service.expose).toContain('9465');
    expect(healthcheckText(service)).toContain('WORKER_METRICS_PORT');
  });

  it('scrapes only compose services (and itself)', () => {
    for (const config of prometheus.scrape_configs) {
      const hosts = [
        ...(config.static_configs ?? []).flatMap((c) => c.targets.map((t) => hostPort(t)[0])),
        ...(config.dns_sd_configs ?? []).flatMap((c) => c.names),
      ];
      for (const host of hosts) {
        expect({ job: config.job_name, host, known: host === 'localhost' || host in compose.services }).toEqual({
          job: config.job_name,
          host,
          known: true,
        });
      }
    }
    expect(SCRAPE_JOBS.sort()).toEqual(['api', 'prometheus', 'worker']);
  });

  it('loads alerts.yml, with a scrape timeout below the interval and the evaluation interval Grafana assumes', () => {
    expect(prometheus.rule_files).toEqual(['alerts.yml']);
    expect(prometheus.global.scrape_interval).toBe('15s');
    expect(prometheus.global.scrape_timeout).toBe('10s');
    expect(prometheus.global.evaluation_interval).toBe('15s');
    const grafanaDatasource = parse(read('grafana/provisioning/datasources/prometheus.yml')).datasources[0];
    expect(grafanaDatasource.jsonData.timeInterval).toBe(prometheus.global.scrape_interval);
  });
});

describe('monitoring: alerts.yml', () => {
  it('has alerts, each with a unique name', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    expect(new Set(alerts.map((a) => a.alert)).size).toBe(alerts.length);
  });

  it.each(alerts.map((a) => [a.alert, a] as const))('%s queries only metric-names.ts metrics (and up), with their labels', (_, rule) => {
    expect(problemsOf(rule.expr, forAlerts)).toEqual([]);
  });

  it.each(alerts.map((a) => [a.alert, a] as const))('%s has a severity, a summary, a description and a runbook', (_, rule) => {
    expect(['critical', 'warning']).toContain(rule.labels?.severity);
    expect(rule.annotations?.summary?.length).toBeGreaterThan(10);
    expect(rule.annotations?.description?.length).toBeGreaterThan(60);
    const readme = readFileSync(join(ROOT, 'infrastructure/README.md'), 'utf8');
    const anchors = [...readme.matchAll(/^#+\s+(.+)$/gm)].map(([, heading]) =>
      heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-'),
    );
    expect(rule.annotations?.runbook).toBe(`infrastructure/README.md#${rule.alert.toLowerCase()}`);
    expect(anchors).toContain(rule.alert.toLowerCase());
  });

  it('covers every alert in alerts.test.yml with a case where it fires and one where it stays silent', () => {
    expect(ruleTests.rule_files).toEqual(['alerts.yml']);
    const cases = ruleTests.tests.flatMap((test) => test.alert_rule_test ?? []);
    for (const { alert } of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect({ alert, fires: mine.some((c) => (c.exp_alerts ?? []).length > 0) }).toEqual({ alert, fires: true });
      expect({ alert, silent: mine.some((c) => (c.exp_alerts ?? []).length === 0) }).toEqual({ alert, silent: true });
    }
    const known = new Set(alerts.map((a) => a.alert));
    expect(cases.filter((c) => !known.has(c.alertname))).toEqual([]);
  });
});

describe('monitoring: Grafana', () => {
  const uid = datasources[0]?.uid;
  const grafana = compose.services.grafana;

  it('provisions one Prometheus datasource pointing at the prometheus service', () => {
    expect(datasources).toHaveLength(1);
    expect(datasources[0]).toMatchObject({ type: 'prometheus', uid: 'prometheus', url: 'http://prometheus:9090' });
    expect(compose.services.prometheus).toBeDefined();
  });

  it('mounts the provisioning and loads the dashboards from where compose mounts them', () => {
    const grafanaMounts = mounts(grafana);
    expect(grafanaMounts).toEqual(
      expect.arrayContaining([
        { source: join(MONITORING, 'grafana/provisioning/datasources'), target: '/etc/grafana/provisioning/datasources' },
        { source: join(MONITORING, 'grafana/provisioning/dashboards'), target: '/etc/grafana/provisioning/dashboards' },
        { source: join(MONITORING, 'grafana/dashboards'), target: dashboardProviders[0].options.path },
      ]),
    );
    expect(dashboardProviders).toHaveLength(1);
    expect(dashboardProviders[0].type).toBe('file');
    const home = grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    expect(home).toBe(`${dashboardProviders[0].options.path}/orchestrator.json`);
    expect(existsSync(DASHBOARD_FILE)).toBe(true);
  });

  it('mounts prometheus.yml and its rules where the prometheus command reads them', () => {
    const service = compose.services.prometheus;
    const config = (service.command ?? []).find((arg) => arg.startsWith('--config.file='))?.split('=')[1];
    const mount = mounts(service).find((m) => m.source === join(MONITORING, 'prometheus'));
    expect(mount).toBeDefined();
    expect(config).toBe(`${mount!.target}/prometheus.yml`);
  });

  it('refers every panel and query to the provisioned datasource', () => {
    for (const panel of dashboardPanels(dashboard)) {
      expect({ panel: panel.title, uid: panel.datasource?.uid }).toEqual({ panel: panel.title, uid });
      for (const target of panel.targets ?? []) {
        expect({ panel: panel.title, uid: target.datasource?.uid ?? uid }).toEqual({ panel: panel.title, uid });
      }
    }
    for (const variable of dashboard.templating?.list ?? []) {
      if (variable.datasource) expect(variable.datasource.uid).toBe(uid);
    }
  });

  it('has panels with unique ids, queries with unique refIds, inside 24 columns without overlap', () => {
    const all = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
    expect(new Set(all.map((p) => p.id)).size).toBe(all.length);
    const cells = new Map<string, string>();
    for (const panel of dashboardPanels(dashboard)) {
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      expect({ panel: panel.title, queries: refIds.length > 0, unique: new Set(refIds).size === refIds.length }).toEqual({
        panel: panel.title,
        queries: true,
        unique: true,
      });
    }
    for (const panel of dashboard.panels) {
      const { x, y, w, h } = panel.gridPos;
      expect({ panel: panel.title, fits: x >= 0 && w > 0 && x + w <= 24 }).toEqual({ panel: panel.title, fits: true });
      for (let row = y; row < y + h; row++) {
        for (let col = x; col < x + w; col++) {
          const key = `${row},${col}`;
          expect({ cell: key, taken: cells.get(key) }).toEqual({ cell: key, taken: undefined });
          cells.set(key, panel.title);
        }
      }
    }
  });

  it.each(dashboardQueries(dashboard).map((q) => [`${q.panel} (${q.refId})`, q.expr] as const))(
    'panel %s queries only metric-names.ts metrics, up and the listed prom-client defaults, with their labels',
    (_, expr) => {
      expect(problemsOf(expr, forPanels)).toEqual([]);
    },
  );

  it('shows every metric of metric-names.ts and every listed prom-client default in some panel', () => {
    expect(dashboardMetricNames()).toEqual([...METRIC_NAMES, ...PROM_CLIENT_DEFAULT_METRICS].sort());
  });
});

describe('monitoring: check.sh', () => {
  it('runs the three promtool checks', () => {
    const text = read('check.sh');
    expect(text).toContain('promtool check config');
    expect(text).toContain('promtool check rules');
    expect(text).toContain('promtool test rules');
  });
});
