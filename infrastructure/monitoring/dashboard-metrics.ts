import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRIC_NAMES } from '@app/observability';

/**
 * What the Grafana dashboard and the Prometheus alert rules query, read from the files themselves:
 * monitoring.spec.ts checks the names against libs/observability/src/metric-names.ts, and a live
 * test can compare dashboardMetricNames() with a real /metrics scrape.
 */

export const MONITORING_DIR = __dirname;
export const DASHBOARD_FILE = join(MONITORING_DIR, 'grafana/dashboards/orchestrator.json');

/**
 * prom-client's default metrics (collectDefaultMetrics) that the dashboard queries; the only
 * names outside METRIC_NAMES a panel may use, besides Prometheus's own `up`. Each is exported by
 * the api and by every worker.
 */
export const PROM_CLIENT_DEFAULT_METRICS = [
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_eventloop_lag_seconds',
] as const;

/** Series Prometheus makes up for each target itself: never in a /metrics response. */
export const PROMETHEUS_SYNTHETIC_METRICS = ['up'] as const;

/** The series a histogram family exposes besides its own name (which has no series). */
export const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

export interface PromqlSelector {
  /** The metric name as written (a histogram's `_bucket`, `_sum` or `_count` included). */
  name: string;
  matchers: { label: string; op: '=' | '!=' | '=~' | '!~'; value: string }[];
}

export interface PromqlSummary {
  selectors: PromqlSelector[];
  /** Selectors without a metric name (`{job="api"}`, `{__name__=~"..."}`): never wanted here. */
  namelessSelectors: number;
  /** Labels named in by / without / on / ignoring / group_left / group_right. */
  groupingLabels: string[];
}

const GROUPING_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set([
  ...GROUPING_KEYWORDS,
  'and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan',
  // Aggregation operators: followed by `by (…)` or `(`, never selectors.
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile',
  'count_values', 'group', 'limitk', 'limit_ratio',
]);
const IDENTIFIER = /^[A-Za-z_:][A-Za-z0-9_:]*/;
// Numbers and durations (5m, 1h30m, 0.95, 1e3, 0x1f), and Grafana variables ($__rate_interval, ${x}).
const NUMBER = /^(?:0x[0-9a-f]+|(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?(?:(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*)?)/i;
const VARIABLE = /^\$(?:\{[^}]*\}|\w+)/;
const STRING = /^(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)/;
const MATCHER = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*,?/;

function unquote(literal: string): string {
  if (literal.startsWith('`')) return literal.slice(1, -1);
  return literal.slice(1, -1).replace(/\\(.)/g, '$1');
}

/**
 * A small PromQL scanner, enough for the expressions of this repository's alerts and dashboards:
 * the metric selectors with their label matchers, and the grouping labels. Function and
 * aggregation names, keywords, numbers, durations, strings and Grafana variables are skipped.
 */
export function parsePromql(expr: string): PromqlSummary {
  const selectors: PromqlSelector[] = [];
  const groupingLabels: string[] = [];
  let namelessSelectors = 0;
  let lastSelector: PromqlSelector | undefined;
  let i = 0;
  const rest = () => expr.slice(i);
  const fail = (what: string): never => {
    throw new Error(`cannot read PromQL at ${i} (${what}): ${expr}`);
  };

  while (i < expr.length) {
    const c = expr[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      const end = expr.indexOf('\n', i);
      i = end < 0 ? expr.length : end;
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = STRING.exec(rest()))) {
      i += m[0].length;
      lastSelector = undefined;
      continue;
    }
    if (c === '{') {
      // Label matchers: of the selector just read, or of a selector without a name.
      i++;
      const matchers: PromqlSelector['matchers'] = [];
      while (!/^\s*\}/.test(rest())) {
        if (!(m = MATCHER.exec(rest()))) fail('label matcher');
        const [, label, op, value] = m as RegExpExecArray;
        matchers.push({ label, op: op as PromqlSelector['matchers'][number]['op'], value: unquote(value) });
        i += (m as RegExpExecArray)[0].length;
      }
      i = expr.indexOf('}', i) + 1;
      if (lastSelector) lastSelector.matchers.push(...matchers);
      else namelessSelectors++;
      lastSelector = undefined;
      continue;
    }
    if (c === '[') {
      // Range or subquery: durations and Grafana variables only.
      const end = expr.indexOf(']', i);
      if (end < 0) fail('unclosed [');
      i = end + 1;
      continue;
    }
    if ((m = VARIABLE.exec(rest())) || (m = NUMBER.exec(rest()))) {
      i += m[0].length;
      lastSelector = undefined;
      continue;
    }
    if ((m = IDENTIFIER.exec(rest()))) {
      const word = m[0];
      i += word.length;
      lastSelector = undefined;
      const after = expr.slice(i).trimStart();
      if (GROUPING_KEYWORDS.has(word)) {
        // by (a, b) / on () / group_left (c): a label list, not an expression.
        if (after.startsWith('(')) {
          const open = expr.indexOf('(', i);
          const close = expr.indexOf(')', open);
          if (close < 0) fail('unclosed label list');
          groupingLabels.push(
            ...expr
              .slice(open + 1, close)
              .split(',')
              .map((label) => label.trim())
              .filter(Boolean),
          );
          i = close + 1;
        }
        continue;
      }
      if (KEYWORDS.has(word.toLowerCase()) || after.startsWith('(')) continue; // keyword or function
      lastSelector = { name: word, matchers: [] };
      selectors.push(lastSelector);
      continue;
    }
    // Operators, parentheses, commas, @.
    i++;
    lastSelector = undefined;
  }
  return { selectors, namelessSelectors, groupingLabels };
}

/**
 * The metric family a series name belongs to: a histogram's `_bucket`, `_sum` and `_count`
 * series map to the histogram's name when that name is one of `families`.
 */
export function metricFamily(series: string, families: readonly string[]): string {
  if (families.includes(series)) return series;
  for (const suffix of HISTOGRAM_SUFFIXES) {
    if (series.endsWith(suffix) && families.includes(series.slice(0, -suffix.length))) {
      return series.slice(0, -suffix.length);
    }
  }
  return series;
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { refId: string; expr: string; datasource?: { type?: string; uid?: string } }[];
  panels?: DashboardPanel[];
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: DashboardPanel[];
  templating?: { list: { name: string; query?: unknown; datasource?: { uid?: string } }[] };
}

export function loadDashboard(file = DASHBOARD_FILE): Dashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
}

/** Every panel, those inside collapsed rows included; rows themselves excluded. */
export function dashboardPanels(dashboard = loadDashboard()): DashboardPanel[] {
  return dashboard.panels.flatMap((panel) =>
    panel.type === 'row' ? (panel.panels ?? []) : [panel],
  );
}

export interface DashboardQuery {
  panel: string;
  refId: string;
  expr: string;
}

export function dashboardQueries(dashboard = loadDashboard()): DashboardQuery[] {
  return dashboardPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ panel: panel.title, refId: target.refId, expr: target.expr })),
  );
}

/**
 * The metric families the dashboard queries, as a /metrics response names them in its `# TYPE`
 * lines (a histogram by its own name, not `_bucket`): METRIC_NAMES entries and the prom-client
 * defaults of PROM_CLIENT_DEFAULT_METRICS. Prometheus's own `up` is left out. Sorted, no duplicates.
 * The api and the workers export different subsets: compare with the union of their scrapes.
 */
export function dashboardMetricNames(dashboard = loadDashboard()): string[] {
  const families: string[] = [...METRIC_NAMES, ...PROM_CLIENT_DEFAULT_METRICS];
  const synthetic: readonly string[] = PROMETHEUS_SYNTHETIC_METRICS;
  const names = dashboardQueries(dashboard)
    .flatMap((query) => parsePromql(query.expr).selectors)
    .map((selector) => metricFamily(selector.name, families))
    .filter((name) => !synthetic.includes(name));
  return [...new Set(names)].sort();
}
