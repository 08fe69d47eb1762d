/**
 * npm run bench:dag — plan graph checks and scheduling: this project's analyseGraph against
 * graphology + graphology-dag and against a bare pass written here, on the same random DAGs.
 *
 * Input: SIZES tasks (10k and 100k) with string keys, listed in a shuffled order (not a
 * topological one), each depending on about DEPS earlier tasks (half nearby, half anywhere), and
 * estimates of 5-120 minutes. About 1M dependencies at 100k tasks.
 *
 * Timed, for all three, from the same keys / dependsOn (string[][]) / estimates to the result:
 *   validation (duplicate keys, missing dependencies, self-dependencies, a dependency listed twice,
 *   cycles) + topological order + critical path (earliest starts, the plan's duration) + slack
 *   (latest starts) for every task.
 *   - analyseGraph (@app/task): all of the above, plus the critical path's tasks, into typed
 *     arrays. Not timed in the ratio: levels, the per-task Record of analysePlan and the N-agent
 *     list schedule (the whole of analysePlan is timed on its own line, "full analysePlan").
 *   - graphology: build a DirectedGraph (addNode throws on a duplicate key, addDirectedEdge on a
 *     missing node, a self-loop or an edge listed twice), topologicalSort (throws on a cycle),
 *     then a forward pass over in-neighbours and a backward pass over out-neighbours, reading and
 *     writing node attributes.
 *   - bare reference: a key Map, typed-array adjacency, Kahn's order with the forward pass, the
 *     backward pass; it only checks missing keys and cycles (the least any validation must do).
 * Each subject runs a few times untimed (ours and bare: 20 at 10k, 3 at 100k; graphology: 2 at
 * 10k, none at 100k where one run takes seconds and its code is warm from the 10k runs), so that
 * every subject is measured with optimised code, then ROUNDS times in rotating order with a GC
 * before every run. The machine is small and shared, and other load only ever adds time, so the
 * ratios and verdicts use each subject's best run; the medians are printed next to them.
 * The three must agree on the duration and the total slack.
 *
 * Env: BENCH_SIZES (10000,100000), BENCH_DEPS (10), BENCH_ROUNDS (15 below 50k tasks, else 3),
 * BENCH_WARMUP (as above, for all), BENCH_AGENTS (25, as MAX_CONCURRENT_SESSIONS).
 */
import 'reflect-metadata'; // @app/task's index also exports its Nest module
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Graph from 'graphology';
import { topologicalSort } from 'graphology-dag';
import { analyseGraph, analysePlan, TaskError, TaskSpec } from '@app/task';
import { seededRandom } from './support/seeded-random';

const SIZES = (process.env.BENCH_SIZES ?? '10000,100000').split(',').map(Number);
const DEPS = Number(process.env.BENCH_DEPS ?? 10);
const AGENTS = Number(process.env.BENCH_AGENTS ?? 25);
const roundsFor = (n: number) => Number(process.env.BENCH_ROUNDS ?? (n < 50_000 ? 15 : 3));
/** Untimed runs first, so each subject is measured with its code optimised (runs of graphology cost seconds). */
const warmupFor = (n: number, subject: Subject) =>
  Number(process.env.BENCH_WARMUP ?? (subject === graphology ? (n < 50_000 ? 2 : 0) : n < 50_000 ? 20 : 3));

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Input {
  keys: string[];
  dependsOn: string[][];
  estimates: number[];
  edges: number;
}

/** What every subject must report, to check that they computed the same thing. */
interface Result {
  minimumMinutes: number;
  totalSlack: number;
}

interface Subject {
  name: string;
  run(input: Input): Result;
}


function randomDag(n: number, deps: number, seed: number): Input {
  const rand = seededRandom(seed);
  // position in the input → rank in a hidden topological order; dependencies point to lower ranks.
  const rankOf = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [rankOf[i], rankOf[j]] = [rankOf[j], rankOf[i]];
  }
  const positionOf = new Int32Array(n);
  rankOf.forEach((rank, position) => (positionOf[rank] = position));
  const keys = Array.from({ length: n }, (_, i) => `task-${(Math.imul(i + 1, 2654435761) >>> 0).toString(36)}-${i}`);
  const estimates = Array.from({ length: n }, () => 5 + Math.floor(rand() * 116));
  let edges = 0;
  const dependsOn = rankOf.map((rank) => {
    const chosen: number[] = [];
    const want = Math.min(deps, rank);
    while (chosen.length < want) {
      const near = chosen.length % 2 === 0;
      const span = near ? Math.min(rank, 200) : rank;
      const dep = rank - 1 - Math.floor(rand() * span);
      if (!chosen.includes(dep)) chosen.push(dep);
    }
    edges += chosen.length;
    return chosen.map((r) => keys[positionOf[r]]);
  });
  return { keys, dependsOn, estimates, edges };
}

const ours: Subject = {
  name: 'analyseGraph (@app/task)',
  run({ keys, dependsOn, estimates }) {
    const { size, slack, minimumMinutes } = analyseGraph(keys, dependsOn, estimates);
    let totalSlack = 0;
    for (let i = 0; i < size; i++) totalSlack += slack[i];
    return { minimumMinutes, totalSlack };
  },
};

interface NodeTimes {
  d: number;
  es: number;
  ls: number;
}

const graphology: Subject = {
  name: 'graphology + graphology-dag',
  run({ keys, dependsOn, estimates }) {
    const graph = new Graph<NodeTimes>({ type: 'directed', multi: false, allowSelfLoops: false });
    for (let i = 0; i < keys.length; i++) graph.addNode(keys[i], { d: estimates[i], es: 0, ls: 0 });
    for (let i = 0; i < keys.length; i++) for (const dep of dependsOn[i]) graph.addDirectedEdge(dep, keys[i]);
    const order = topologicalSort(graph);
    let minimumMinutes = 0;
    for (const node of order) {
      const times = graph.getNodeAttributes(node);
      let es = 0;
      graph.forEachInNeighbor(node, (_, dep) => {
        if (dep.es + dep.d > es) es = dep.es + dep.d;
      });
      times.es = es;
      if (es + times.d > minimumMinutes) minimumMinutes = es + times.d;
    }
    let totalSlack = 0;
    for (let k = order.length - 1; k >= 0; k--) {
      const times = graph.getNodeAttributes(order[k]);
      let latestFinish = minimumMinutes;
      graph.forEachOutNeighbor(order[k], (_, next) => {
        if (next.ls < latestFinish) latestFinish = next.ls;
      });
      times.ls = latestFinish - times.d;
      totalSlack += times.ls - times.es;
    }
    return { minimumMinutes, totalSlack };
  },
};

const bare: Subject = {
  name: 'bare reference pass',
  run({ keys, dependsOn, estimates }) {
    const n = keys.length;
    const index = new Map<string, number>();
    for (let i = 0; i < n; i++) index.set(keys[i], i);
    let m = 0;
    for (let i = 0; i < n; i++) m += dependsOn[i].length;
    const from = new Int32Array(m);
    const start = new Int32Array(n + 1);
    const indegree = new Int32Array(n);
    for (let i = 0, e = 0; i < n; i++) {
      const deps = dependsOn[i];
      for (let k = 0; k < deps.length; k++) {
        const j = index.get(deps[k]);
        if (j === undefined) throw new Error(`missing ${deps[k]}`);
        from[e++] = j;
        start[j + 1]++;
      }
      indegree[i] = deps.length;
    }
    for (let i = 0; i < n; i++) start[i + 1] += start[i];
    const next = new Int32Array(m);
    const fill = start.slice(0, n);
    for (let i = 0, e = 0; i < n; i++) for (let k = dependsOn[i].length; k > 0; k--) next[fill[from[e++]]++] = i;
    const order = new Int32Array(n);
    let tail = 0;
    for (let i = 0; i < n; i++) if (indegree[i] === 0) order[tail++] = i;
    const es = new Float64Array(n);
    let minimumMinutes = 0;
    for (let head = 0; head < tail; head++) {
      const u = order[head];
      const finish = es[u] + estimates[u];
      if (finish > minimumMinutes) minimumMinutes = finish;
      for (let p = start[u]; p < start[u + 1]; p++) {
        const v = next[p];
        if (es[v] < finish) es[v] = finish;
        if (--indegree[v] === 0) order[tail++] = v;
      }
    }
    if (tail < n) throw new Error('cycle');
    const ls = new Float64Array(n);
    let totalSlack = 0;
    for (let k = n - 1; k >= 0; k--) {
      const u = order[k];
      let latestFinish = minimumMinutes;
      for (let p = start[u]; p < start[u + 1]; p++) if (ls[next[p]] < latestFinish) latestFinish = ls[next[p]];
      ls[u] = latestFinish - estimates[u];
      totalSlack += ls[u] - es[u];
    }
    return { minimumMinutes, totalSlack };
  },
};

const SUBJECTS = [ours, graphology, bare];

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function timed<T>(fn: () => T): { value: T; ms: number } {
  gc();
  const started = performance.now();
  const value = fn();
  return { value, ms: performance.now() - started };
}

interface SizeResult {
  n: number;
  edges: number;
  best: Map<string, number>;
  medians: Map<string, number>;
  fullMs: number;
  errorMs: number;
}

function measure(n: number, seed: number): SizeResult {
  const input = randomDag(n, DEPS, seed);
  const rounds = roundsFor(n);
  const warmup = SUBJECTS.map((s) => `${s.name.split(' ')[0]} ${warmupFor(n, s)}`).join(', ');
  console.log(`\n${f0(n)} tasks, ${f0(input.edges)} dependencies (seed ${seed}); untimed runs: ${warmup}; then ${rounds} timed runs each, in ms`);
  let expected: Result | undefined;
  const check = (name: string, result: Result) => {
    expected ??= result;
    if (result.minimumMinutes !== expected.minimumMinutes || result.totalSlack !== expected.totalSlack) {
      throw new Error(`${name} disagrees: ${JSON.stringify(result)} vs ${JSON.stringify(expected)}`);
    }
  };
  for (const subject of SUBJECTS) for (let w = 0; w < warmupFor(n, subject); w++) check(subject.name, subject.run(input));
  const times = new Map<string, number[]>(SUBJECTS.map((s) => [s.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < SUBJECTS.length; k++) {
      const subject = SUBJECTS[(k + round) % SUBJECTS.length];
      const { value, ms: took } = timed(() => subject.run(input));
      check(subject.name, value);
      times.get(subject.name)!.push(took);
    }
  }
  for (const s of SUBJECTS) console.log(`  ${s.name.padEnd(28)} ${times.get(s.name)!.map(ms).join(' / ')} ms`);
  console.log(`  all agree: plan duration ${f0(expected!.minimumMinutes)} min, total slack ${f0(expected!.totalSlack)} min`);

  // The whole API once, for information: field validation, the per-task Record, the N-agent schedule.
  const tasks: TaskSpec[] = input.keys.map((key, i) => ({
    key,
    title: `Task ${i}`,
    instructions: `Do task ${i}.`,
    role: 'IMPLEMENTER',
    skills: ['typescript'],
    complexity: 3,
    estimateMinutes: input.estimates[i],
    dependsOn: input.dependsOn[i],
  }));
  const fullRuns = Array.from({ length: 3 }, () => timed(() => analysePlan(tasks, { agents: AGENTS })));
  const full = fullRuns.reduce((a, b) => (b.ms < a.ms ? b : a));
  console.log(
    `  full analysePlan (fields + graph + levels + Record of ${f0(n)} + list schedule on ${AGENTS} agents), best of 3: ${ms(full.ms)} ms; ` +
      `critical path ${full.value.criticalPath.length} tasks, ${full.value.levels.length} levels, ` +
      `${f0(full.value.minimumMinutes)} min unlimited, ${f0(full.value.minimumMinutesWithAgents)} min on ${AGENTS} agents, ${f0(full.value.totalMinutes)} min on one`,
  );

  // An invalid graph of the same size: one dependency turned around closes a cycle.
  const broken = { ...input, dependsOn: input.dependsOn.map((d) => d) };
  const last = input.dependsOn.findIndex((d) => d.length > 0);
  const target = input.keys.indexOf(input.dependsOn[last][0]);
  broken.dependsOn[target] = [...input.dependsOn[target], input.keys[last]];
  const errorRuns = Array.from({ length: 3 }, () =>
    timed(() => {
      try {
        analyseGraph(broken.keys, broken.dependsOn, broken.estimates);
        return undefined;
      } catch (err) {
        return err as TaskError;
      }
    }),
  );
  const error = errorRuns.reduce((a, b) => (b.ms < a.ms ? b : a));
  const problems = (error.value?.details?.problems ?? []) as { kind: string; tasks: string[] }[];
  console.log(
    `  with one cycle added, best of 3: ${error.value?.code ?? 'NO ERROR'} in ${ms(error.ms)} ms, ` +
      `${problems.map((p) => `${p.kind} [${p.tasks.slice(0, 6).join(', ')}${p.tasks.length > 6 ? ', ...' : ''}] (${p.tasks.length} tasks)`).join('; ')}`,
  );
  return {
    n,
    edges: input.edges,
    best: new Map(SUBJECTS.map((s) => [s.name, Math.min(...times.get(s.name)!)])),
    medians: new Map(SUBJECTS.map((s) => [s.name, median(times.get(s.name)!)])),
    fullMs: full.ms,
    errorMs: error.ms,
  };
}

function main(): void {
  const started = performance.now();
  console.log(`DAG benchmark: validation + critical path + slack, from string keys and dependsOn lists (${process.version}, ${process.arch})`);
  const results = SIZES.map((n, i) => measure(n, 42 + i));

  const summary = (title: string, pick: (r: SizeResult) => Map<string, number>) => {
    console.log(`\n${title} (validation + topological order + critical path + slack)`);
    console.log(
      table(
        ['tasks', 'dependencies', ...SUBJECTS.map((s) => `${s.name} ms`), 'ours vs graphology', 'ours / bare'],
        results.map((r) => {
          const times = pick(r);
          const mine = times.get(ours.name)!;
          return [
            f0(r.n),
            f0(r.edges),
            ...SUBJECTS.map((s) => ms(times.get(s.name)!)),
            `${f1(times.get(graphology.name)! / mine)}x faster`,
            `${f2(mine / times.get(bare.name)!)}x`,
          ];
        }),
      ),
    );
  };
  summary('Best run', (r) => r.best);
  summary('Median run', (r) => r.medians);

  console.log('\nVerdict (best runs)');
  const verdict = (ok: boolean, text: string) => console.log(`  ${ok ? 'PASS' : 'FAIL'}  ${text}`);
  for (const r of results) {
    const mine = r.best.get(ours.name)!;
    const speedup = r.best.get(graphology.name)! / mine;
    const overBare = mine / r.best.get(bare.name)!;
    verdict(speedup >= 20, `${f0(r.n)} tasks: at least 20x faster than graphology (${f1(speedup)}x)`);
    verdict(overBare <= 2, `${f0(r.n)} tasks: within 2x of the bare reference (${f2(overBare)}x)`);
    verdict(r.fullMs < 1000, `${f0(r.n)} tasks: full analysePlan under a second (${ms(r.fullMs)} ms); a cycle reported in ${ms(r.errorMs)} ms`);
  }
  console.log(`\nTotal time ${f1((performance.now() - started) / 1000)} s`);
}

main();
