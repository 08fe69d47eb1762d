import { analyseGraph, analysePlan, validatePlan } from './dag';
import { pickReady } from './scheduling';
import { MAX_REPORTED_PROBLEMS, PlanProblem, TaskError, TaskErrorCode } from './task.errors';
import { TaskSpec } from './task-spec';

function task(key: string, estimateMinutes: number, dependsOn: string[] = [], extra: Partial<TaskSpec> = {}): TaskSpec {
  return {
    key,
    title: `Task ${key}`,
    instructions: `Do ${key}.`,
    role: 'IMPLEMENTER',
    skills: ['typescript'],
    complexity: 3,
    estimateMinutes,
    dependsOn,
    ...extra,
  };
}

function problemsOf(fn: () => unknown): { error: TaskError; problems: PlanProblem[] } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TaskError);
    const error = err as TaskError;
    expect(error.code).toBe(TaskErrorCode.PLAN_INVALID);
    return { error, problems: error.details!.problems as PlanProblem[] };
  }
  throw new Error('expected a TaskError');
}

/** mulberry32: seeded, so a failing case can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n tasks in a shuffled order, each depending on up to `deps` tasks of lower hidden rank. */
function randomDag(n: number, deps: number, seed: number): TaskSpec[] {
  const rand = random(seed);
  const rankOf = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [rankOf[i], rankOf[j]] = [rankOf[j], rankOf[i]];
  }
  const keyOfRank = (rank: number) => `k${(Math.imul(rank + 1, 2654435761) >>> 0).toString(36)}-${rank}`;
  return rankOf.map((rank) => {
    const chosen = new Set<number>();
    const want = Math.min(rank, Math.floor(rand() * (deps + 1)));
    while (chosen.size < want) chosen.add(rank - 1 - Math.floor(rand() * Math.min(rank, rand() < 0.5 ? 20 : rank)));
    return task(keyOfRank(rank), 1 + Math.floor(rand() * 60), [...chosen].map(keyOfRank));
  });
}

/** The simple reference: memoised recursion over the keys, no typed arrays, no Kahn. */
function reference(tasks: TaskSpec[]) {
  const byKey = new Map(tasks.map((t) => [t.key, t]));
  const dependents = new Map<string, string[]>(tasks.map((t) => [t.key, []]));
  for (const t of tasks) for (const d of t.dependsOn) dependents.get(d)!.push(t.key);
  const es = new Map<string, number>();
  const earliest = (key: string): number => {
    if (!es.has(key)) es.set(key, Math.max(0, ...byKey.get(key)!.dependsOn.map((d) => earliest(d) + byKey.get(d)!.estimateMinutes)));
    return es.get(key)!;
  };
  const total = Math.max(...tasks.map((t) => earliest(t.key) + t.estimateMinutes));
  const lf = new Map<string, number>();
  const latestFinish = (key: string): number => {
    if (!lf.has(key)) lf.set(key, Math.min(total, ...dependents.get(key)!.map((s) => latestFinish(s) - byKey.get(s)!.estimateMinutes)));
    return lf.get(key)!;
  };
  const level = new Map<string, number>();
  const levelOf = (key: string): number => {
    if (!level.has(key)) level.set(key, Math.max(-1, ...byKey.get(key)!.dependsOn.map(levelOf)) + 1);
    return level.get(key)!;
  };
  return { total, earliest, latestFinish, levelOf };
}

/** The reference executor: at every event, start pickReady's choice; O(n²), fine for small plans. */
function referenceWithAgents(tasks: TaskSpec[], slack: Record<string, number>, agents: number): number {
  const finished = new Set<string>();
  const running: { key: string; end: number }[] = [];
  const started = new Set<string>();
  let now = 0;
  while (finished.size < tasks.length) {
    const ready = tasks.filter((t) => !started.has(t.key) && t.dependsOn.every((d) => finished.has(d))).map((t) => t.key);
    for (const key of pickReady(ready, slack, agents - running.length)) {
      started.add(key);
      running.push({ key, end: now + tasks.find((t) => t.key === key)!.estimateMinutes });
    }
    now = Math.min(...running.map((r) => r.end));
    for (const r of running.filter((x) => x.end === now)) finished.add(r.key);
    running.splice(0, running.length, ...running.filter((x) => x.end !== now));
  }
  return now;
}

describe('analysePlan on a known graph', () => {
  // a(3) → b(2), c(4) → d(2) → e(1): b and c in parallel, c the longer one.
  const tasks = [task('a', 3), task('b', 2, ['a']), task('c', 4, ['a']), task('d', 2, ['b', 'c']), task('e', 1, ['d'])];

  it('computes earliest and latest starts, slack, levels and the critical path by hand', () => {
    const analysis = analysePlan(tasks, { agents: 10 });
    expect(analysis.minimumMinutes).toBe(10);
    expect(analysis.criticalPath).toEqual(['a', 'c', 'd', 'e']);
    expect(analysis.levels).toEqual([['a'], ['b', 'c'], ['d'], ['e']]);
    expect(analysis.order).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(analysis.schedule).toEqual({
      a: { earliestStart: 0, earliestFinish: 3, latestStart: 0, latestFinish: 3, slack: 0, level: 0, critical: true },
      b: { earliestStart: 3, earliestFinish: 5, latestStart: 5, latestFinish: 7, slack: 2, level: 1, critical: false },
      c: { earliestStart: 3, earliestFinish: 7, latestStart: 3, latestFinish: 7, slack: 0, level: 1, critical: true },
      d: { earliestStart: 7, earliestFinish: 9, latestStart: 7, latestFinish: 9, slack: 0, level: 2, critical: true },
      e: { earliestStart: 9, earliestFinish: 10, latestStart: 9, latestFinish: 10, slack: 0, level: 3, critical: true },
    });
    expect(analysis.totalMinutes).toBe(12);
    expect(analysis.maxParallelism).toBe(2);
  });

  it('schedules on N agents: one agent runs everything in turn, two suffice here', () => {
    expect(analysePlan(tasks, { agents: 1 }).minimumMinutesWithAgents).toBe(12);
    expect(analysePlan(tasks, { agents: 2 }).minimumMinutesWithAgents).toBe(10);
  });

  it('gives the least-slack task the free agent (taking ready tasks by key would take 16 minutes)', () => {
    // a and b (5 min each, slack 6) compete with c (1 min), which d (10 min) waits for.
    const plan = [task('a', 5), task('b', 5), task('c', 1), task('d', 10, ['c'])];
    const analysis = analysePlan(plan, { agents: 2 });
    expect(analysis.minimumMinutes).toBe(11);
    expect(analysis.schedule.a.slack).toBe(6);
    expect(analysis.schedule.c.slack).toBe(0);
    // t=0: c, then a (slack tie with b, by key); t=1: d; t=5: b → done at 11.
    expect(analysis.minimumMinutesWithAgents).toBe(11);
  });

  it('takes tasks without dependencies in input order, independent of keys', () => {
    const analysis = analysePlan([task('z', 1), task('y', 1), task('x', 1, ['z', 'y'])], { agents: 3 });
    expect(analysis.order).toEqual(['z', 'y', 'x']);
    expect(analysis.levels).toEqual([['z', 'y'], ['x']]);
  });

  it('analyses one task and refuses an agent count below 1', () => {
    expect(analysePlan([task('only', 7)], { agents: 1 })).toMatchObject({ minimumMinutes: 7, minimumMinutesWithAgents: 7, criticalPath: ['only'] });
    expect(() => analysePlan(tasks, { agents: 0 })).toThrow(RangeError);
  });
});

describe('validatePlan', () => {
  it('accepts a valid plan', () => {
    expect(() => validatePlan([task('a', 1), task('b', 1, ['a'])])).not.toThrow();
  });

  it('refuses a cycle with its path, from the smallest key, each task depending on the next', () => {
    const { error, problems } = problemsOf(() => validatePlan([task('c', 1, ['b']), task('a', 1, ['c']), task('b', 1, ['a']), task('d', 1, ['c'])]));
    expect(problems).toEqual([
      { kind: 'CYCLE', tasks: ['a', 'c', 'b'], message: 'a cycle of 3 tasks, each depending on the next (its keys in order): a → c → b → a' },
    ]);
    expect(error.message).toBe('Invalid plan: a cycle of 3 tasks, each depending on the next (its keys in order): a → c → b → a');
    expect(error.details).toMatchObject({ problemCount: 1, truncated: false });
  });

  it('reports every problem at once: duplicate keys, missing and self dependencies, separate cycles', () => {
    const { problems, error } = problemsOf(() =>
      validatePlan([
        task('a', 1, ['ghost']),
        task('a', 1),
        task('s', 1, ['s']),
        task('x', 1, ['y']),
        task('y', 1, ['x']),
        task('p', 1, ['q']),
        task('q', 1, ['p']),
      ]),
    );
    expect(problems.map((p) => [p.kind, p.tasks])).toEqual([
      ['DUPLICATE_KEY', ['a']],
      ['MISSING_DEPENDENCY', ['a', 'ghost']],
      ['SELF_DEPENDENCY', ['s']],
      ['CYCLE', ['x', 'y']],
      ['CYCLE', ['p', 'q']],
    ]);
    expect(problems[1].message).toBe('task "a" depends on "ghost", which is not in the plan');
    expect(error.message).toContain('(and 4 more problems)');
  });

  it('refuses a dependency on a duplicated key from its own task as a self-dependency', () => {
    const { problems } = problemsOf(() => validatePlan([task('a', 1), task('a', 1, ['a'])]));
    expect(problems.map((p) => p.kind)).toEqual(['DUPLICATE_KEY', 'SELF_DEPENDENCY']);
  });

  it('checks every field and names the task and the field', () => {
    const bad = {
      key: 'bad key!',
      title: '',
      instructions: ' ',
      role: 'MANAGER',
      skills: ['TypeScript', 'sql', 'sql'],
      complexity: 11,
      estimateMinutes: 0,
      dependsOn: [42],
    } as unknown as TaskSpec;
    const { problems } = problemsOf(() => validatePlan([bad, task('ok', 1, ['ok2', 'ok2']), task('ok2', 2.5)]));
    expect(problems.map((p) => `${p.kind} ${p.field} [${p.tasks.join(',')}]`)).toEqual([
      'INVALID_FIELD key [bad key!]',
      'INVALID_FIELD title [bad key!]',
      'INVALID_FIELD instructions [bad key!]',
      'INVALID_FIELD role [bad key!]',
      'INVALID_FIELD skills [bad key!]',
      'INVALID_FIELD skills [bad key!]',
      'INVALID_FIELD complexity [bad key!]',
      'INVALID_FIELD estimateMinutes [bad key!]',
      'INVALID_FIELD dependsOn [bad key!]',
      'INVALID_FIELD estimateMinutes [ok2]',
      'INVALID_FIELD dependsOn [ok]',
    ]);
    expect(problems[3].message).toBe('task "bad key!": role "MANAGER" is not one of ARCHITECT, IMPLEMENTER, REVIEWER, DEBUGGER');
    expect(problems[8].message).toBe('task "bad key!": dependsOn lists 42, which is not a task key');
    expect(problems[10].message).toBe('task "ok": dependsOn lists "ok2" twice');
  });

  it('refuses an empty plan and something that is not a task', () => {
    expect(problemsOf(() => validatePlan([])).problems).toEqual([
      { kind: 'INVALID_FIELD', tasks: [], field: 'tasks', message: 'a plan needs at least one task' },
    ]);
    expect(problemsOf(() => validatePlan([null as unknown as TaskSpec])).problems[0]).toMatchObject({ field: 'tasks[0]' });
  });

  it(`keeps the first ${MAX_REPORTED_PROBLEMS} problems and counts them all`, () => {
    const tasks = Array.from({ length: 250 }, (_, i) => task(`t${i}`, 1, [`missing${i}`]));
    const { error, problems } = problemsOf(() => validatePlan(tasks));
    expect(problems).toHaveLength(MAX_REPORTED_PROBLEMS);
    expect(error.details).toMatchObject({ problemCount: 250, truncated: true });
    expect(error.message).toContain('(and 249 more problems)');
  });
});

describe('analyseGraph (the fast path)', () => {
  it('accepts fractional estimates and still finds the critical path exactly', () => {
    const graph = analyseGraph(['a', 'b', 'c'], [[], ['a'], ['a']], [0.1, 0.2, 0.3]);
    expect(Array.from(graph.criticalPath)).toEqual([0, 2]);
    expect(graph.minimumMinutes).toBeCloseTo(0.4, 12);
    expect(graph.slack[2]).toBe(0); // 0.1 + 0.3 - 0.3 is not 0.1 in floating point; within rounding counts as 0
  });

  it('refuses estimates that are not > 0', () => {
    const { problems } = problemsOf(() => analyseGraph(['a', 'b'], [[], []], [0, NaN]));
    expect(problems.map((p) => [p.kind, p.field, p.tasks])).toEqual([
      ['INVALID_FIELD', 'estimateMinutes', ['a']],
      ['INVALID_FIELD', 'estimateMinutes', ['b']],
    ]);
  });
});

describe('analysePlan against a simple reference on random DAGs', () => {
  const cases = Array.from({ length: 30 }, (_, i) => ({ seed: 1000 + i, n: 5 + ((i * 37) % 200), deps: 1 + (i % 6) }));

  it.each(cases)('seed $seed: $n tasks, up to $deps dependencies each', ({ seed, n, deps }) => {
    const tasks = randomDag(n, deps, seed);
    const agents = 1 + (seed % 4);
    const analysis = analysePlan(tasks, { agents });
    const ref = reference(tasks);
    expect(analysis.minimumMinutes).toBe(ref.total);
    const slack: Record<string, number> = {};
    for (const t of tasks) {
      const s = analysis.schedule[t.key];
      expect([s.earliestStart, s.latestFinish, s.level]).toEqual([ref.earliest(t.key), ref.latestFinish(t.key), ref.levelOf(t.key)]);
      expect(s.slack).toBe(ref.latestFinish(t.key) - t.estimateMinutes - ref.earliest(t.key));
      slack[t.key] = s.slack;
    }
    // The order is topological, and the critical path is a chain of zero-slack tasks spanning the plan.
    const position = new Map(analysis.order.map((k, i) => [k, i]));
    for (const t of tasks) for (const d of t.dependsOn) expect(position.get(d)!).toBeLessThan(position.get(t.key)!);
    const path = analysis.criticalPath;
    expect(analysis.schedule[path[0]].earliestStart).toBe(0);
    expect(analysis.schedule[path[path.length - 1]].earliestFinish).toBe(ref.total);
    path.forEach((key, i) => {
      expect(analysis.schedule[key].slack).toBe(0);
      if (i > 0) expect(tasks.find((t) => t.key === key)!.dependsOn).toContain(path[i - 1]);
    });
    expect(analysis.minimumMinutesWithAgents).toBe(referenceWithAgents(tasks, slack, agents));
  });

  it('finds real cycles after random back edges, and every cycle named is one', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const tasks = randomDag(150, 4, seed);
      const rand = random(seed * 7);
      for (let k = 0; k < 1 + (seed % 4); k++) {
        // A dependency turned around: its target then depends on a task that (transitively) depends on it.
        const withDeps = tasks.filter((t) => t.dependsOn.length > 0);
        const from = withDeps[Math.floor(rand() * withDeps.length)];
        const to = tasks.find((t) => t.key === from.dependsOn[0])!;
        if (!to.dependsOn.includes(from.key)) to.dependsOn = [...to.dependsOn, from.key];
      }
      const { problems } = problemsOf(() => validatePlan(tasks));
      const byKey = new Map(tasks.map((t) => [t.key, t]));
      expect(problems.length).toBeGreaterThan(0);
      for (const p of problems) {
        expect(p.kind).toBe('CYCLE');
        p.tasks.forEach((key, i) => expect(byKey.get(key)!.dependsOn).toContain(p.tasks[(i + 1) % p.tasks.length]));
        expect(new Set(p.tasks).size).toBe(p.tasks.length);
      }
    }
  });
});

describe('100,000 tasks and about 1,000,000 dependencies', () => {
  const tasks = randomDag(100_000, 20, 7);
  const edges = tasks.reduce((sum, t) => sum + t.dependsOn.length, 0);

  // Correctness at scale only: speed is measured by `npm run bench:dag` (about 0.2 s here on a
  // quiet machine), never asserted in a test. The timeout covers a machine busy with other tests.
  it('validates and analyses it, and names a cycle in it', () => {
    expect(edges).toBeGreaterThan(900_000);
    const analysis = analysePlan(tasks, { agents: 25 });
    const { schedule } = analysis;
    let violations = 0;
    for (const t of tasks) {
      const s = schedule[t.key];
      for (const d of t.dependsOn) if (s.earliestStart < schedule[d].earliestFinish || schedule[d].latestFinish > s.latestStart) violations++;
    }
    expect(violations).toBe(0);
    expect(analysis.minimumMinutesWithAgents).toBeGreaterThanOrEqual(Math.max(analysis.minimumMinutes, analysis.totalMinutes / 25));

    // One dependency turned around: every cycle then goes through it.
    const last = tasks.filter((t) => t.dependsOn.length > 0).pop()!;
    const first = tasks.find((t) => t.key === last.dependsOn[0])!;
    const cyclic = tasks.map((t) => (t === first ? { ...t, dependsOn: [...t.dependsOn, last.key] } : t));
    const byKey = new Map(cyclic.map((t) => [t.key, t]));
    const { problems } = problemsOf(() => validatePlan(cyclic));
    expect(problems).toHaveLength(1);
    expect(problems[0].kind).toBe('CYCLE');
    const cycle = problems[0].tasks;
    expect(cycle).toEqual(expect.arrayContaining([first.key, last.key]));
    cycle.forEach((key, i) => expect(byKey.get(key)!.dependsOn).toContain(cycle[(i + 1) % cycle.length]));
  }, 60_000);
});
