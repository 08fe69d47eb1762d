import type { GraphAnalysis } from './graph-analysis';
import { listSchedule } from './scheduling';
import { PlanProblems, TaskError } from './task.errors';
import {
  isTaskRole,
  MAX_COMPLEXITY,
  MAX_ESTIMATE_MINUTES,
  MAX_INSTRUCTIONS_LENGTH,
  MAX_SKILLS,
  MAX_TITLE_LENGTH,
  MIN_COMPLEXITY,
  TASK_KEY_PATTERN,
  TASK_ROLES,
  TASK_SKILL_PATTERN,
  TaskSpec,
} from './task-spec';

/** Where a task can run, by its estimate. */
export interface TaskSchedule {
  earliestStart: number;
  earliestFinish: number;
  latestStart: number;
  latestFinish: number;
  slack: number;
  level: number;
  critical: boolean;
}

export interface PlanAnalysis {
  /** Task keys in a topological order. */
  order: string[];
  /** Tasks by level (the longest chain of dependencies before them), each level in plan order. */
  levels: string[][];
  criticalPath: string[];
  /** With unlimited agents. */
  minimumMinutes: number;
  agents: number;
  /** With `agents` agents, by list scheduling: least slack first, ties by key (pickReady's rule). */
  minimumMinutesWithAgents: number;
  /** The sum of the estimates: the duration with one agent. */
  totalMinutes: number;
  /** The widest level. */
  maxParallelism: number;
  schedule: Record<string, TaskSchedule>;
}

/** A cycle longer than this is reported by its first keys and its length. */
const MAX_CYCLE_KEYS_REPORTED = 1000;

/**
 * Validates the graph (duplicate keys, missing and self dependencies, a dependency listed twice,
 * estimates > 0, cycles) and computes a topological order, earliest and latest starts, slack and
 * a critical path, in time linear in tasks + dependencies (levels: levelsOf). Throws TaskError
 * PLAN_INVALID naming the tasks of every problem found (the first MAX_REPORTED_PROBLEMS).
 * The fast path under validatePlan and analysePlan; it does not check the other task fields.
 */
export function analyseGraph(
  keys: readonly string[],
  dependsOn: readonly (readonly string[])[],
  estimates: ArrayLike<number>,
): GraphAnalysis {
  const problems = new PlanProblems();
  const analysis = analyseInto(keys, dependsOn, estimates, problems);
  problems.throwIfAny();
  return analysis!;
}

/** Checks every field of every task and the graph; throws TaskError PLAN_INVALID with all problems found. */
export function validatePlan(tasks: readonly TaskSpec[]): void {
  checkPlan(tasks);
}

/**
 * Validates the plan, then schedules it: by estimates with unlimited agents (critical path,
 * slack) and with `agents` agents (list scheduling, as the executor runs it).
 */
export function analysePlan(tasks: readonly TaskSpec[], options: { agents: number }): PlanAnalysis {
  const { agents } = options;
  if (!Number.isInteger(agents) || agents < 1) throw new RangeError(`agents must be an integer >= 1, not ${agents}`);
  const { keys, graph } = checkPlan(tasks);
  const n = graph.size;
  const { earliestStart, latestStart, slack, durations } = graph;
  const { level, levelCount } = levelsOf(graph);

  const order = new Array<string>(n);
  for (let k = 0; k < n; k++) order[k] = keys[graph.order[k]];
  const levelSizes = new Int32Array(levelCount);
  for (let i = 0; i < n; i++) levelSizes[level[i]]++;
  const levels = Array.from(levelSizes, () => [] as string[]);
  for (let i = 0; i < n; i++) levels[level[i]].push(keys[i]);

  const schedule: Record<string, TaskSchedule> = {};
  let totalMinutes = 0;
  for (let i = 0; i < n; i++) {
    const d = durations[i];
    totalMinutes += d;
    schedule[keys[i]] = {
      earliestStart: earliestStart[i],
      earliestFinish: earliestStart[i] + d,
      latestStart: latestStart[i],
      latestFinish: latestStart[i] + d,
      slack: slack[i],
      level: level[i],
      critical: slack[i] === 0,
    };
  }
  return {
    order,
    levels,
    criticalPath: Array.from(graph.criticalPath, (i) => keys[i]),
    minimumMinutes: graph.minimumMinutes,
    agents,
    minimumMinutesWithAgents: listSchedule(graph, keys, agents).minimumMinutes,
    totalMinutes,
    maxParallelism: levelSizes.reduce((a, b) => Math.max(a, b), 0),
    schedule,
  };
}

/** Each task's level: the longest chain of dependencies before it (0 for a task without dependencies). */
function levelsOf(graph: GraphAnalysis): { level: Int32Array; levelCount: number } {
  const { order, dependencyStart, dependencies } = graph;
  const level = new Int32Array(graph.size);
  let levelCount = graph.size > 0 ? 1 : 0;
  for (let k = 0; k < order.length; k++) {
    const v = order[k];
    let top = -1;
    for (let p = dependencyStart[v], end = dependencyStart[v + 1]; p < end; p++) if (level[dependencies[p]] > top) top = level[dependencies[p]];
    level[v] = top + 1;
    if (top + 2 > levelCount) levelCount = top + 2;
  }
  return { level, levelCount };
}

function checkPlan(tasks: readonly TaskSpec[]): { keys: string[]; graph: GraphAnalysis } {
  const problems = new PlanProblems();
  if (!Array.isArray(tasks) || tasks.length === 0) {
    problems.add({ kind: 'INVALID_FIELD', tasks: [], field: 'tasks', message: 'a plan needs at least one task' });
    problems.throwIfAny();
  }
  const n = tasks.length;
  const keys = new Array<string>(n);
  const dependsOn = new Array<readonly string[]>(n);
  const estimates = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const task = tasks[i];
    keys[i] = String(task?.key);
    const keysOnly = checkFields(task, i, problems);
    // Invalid entries are reported by checkFields; the graph is still checked without them.
    dependsOn[i] = keysOnly ? task.dependsOn : Array.isArray(task?.dependsOn) ? task.dependsOn.filter((d) => typeof d === 'string') : [];
    estimates[i] = Number.isInteger(task?.estimateMinutes) && task.estimateMinutes > 0 ? task.estimateMinutes : 1;
  }
  const graph = analyseInto(keys, dependsOn, estimates, problems);
  problems.throwIfAny();
  return { keys, graph: graph! };
}

/** Adds a problem per invalid field; true when dependsOn is a list of strings. */
function checkFields(task: TaskSpec, i: number, problems: PlanProblems): boolean {
  if (task === null || typeof task !== 'object') {
    problems.add({ kind: 'INVALID_FIELD', tasks: [], field: `tasks[${i}]`, message: `tasks[${i}] is not a task` });
    return false;
  }
  const { key } = task;
  const name = typeof key === 'string' ? key : `tasks[${i}]`;
  const invalid = (field: string, why: string) =>
    problems.add(() => ({ kind: 'INVALID_FIELD', tasks: typeof key === 'string' ? [key] : [], field, message: `task "${name}": ${field} ${why}` }));

  if (typeof key !== 'string' || !TASK_KEY_PATTERN.test(key)) {
    invalid('key', `${JSON.stringify(key)} is not a task key (letters, digits and . _ -, starting with a letter or digit, at most 64)`);
  }
  if (typeof task.title !== 'string' || task.title.trim() === '' || task.title.length > MAX_TITLE_LENGTH) {
    invalid('title', `must be text of 1 to ${MAX_TITLE_LENGTH} characters`);
  }
  if (typeof task.instructions !== 'string' || task.instructions.trim() === '' || task.instructions.length > MAX_INSTRUCTIONS_LENGTH) {
    invalid('instructions', `must be text of 1 to ${MAX_INSTRUCTIONS_LENGTH} characters`);
  }
  if (!isTaskRole(task.role)) invalid('role', `${JSON.stringify(task.role)} is not one of ${TASK_ROLES.join(', ')}`);
  checkSkills(task.skills, invalid);
  if (!Number.isInteger(task.complexity) || task.complexity < MIN_COMPLEXITY || task.complexity > MAX_COMPLEXITY) {
    invalid('complexity', `must be an integer from ${MIN_COMPLEXITY} to ${MAX_COMPLEXITY}, not ${JSON.stringify(task.complexity)}`);
  }
  if (!Number.isInteger(task.estimateMinutes) || task.estimateMinutes < 1 || task.estimateMinutes > MAX_ESTIMATE_MINUTES) {
    invalid('estimateMinutes', `must be a whole number of minutes from 1 to ${MAX_ESTIMATE_MINUTES}, not ${JSON.stringify(task.estimateMinutes)}`);
  }
  if (!Array.isArray(task.dependsOn)) {
    invalid('dependsOn', 'must be a list of task keys');
    return false;
  }
  let keysOnly = true;
  for (const dep of task.dependsOn) {
    if (typeof dep !== 'string') {
      invalid('dependsOn', `lists ${JSON.stringify(dep)}, which is not a task key`);
      keysOnly = false;
    }
  }
  return keysOnly;
}

function checkSkills(skills: unknown, invalid: (field: string, why: string) => void): void {
  if (!Array.isArray(skills)) return invalid('skills', 'must be a list of skill tags');
  if (skills.length > MAX_SKILLS) invalid('skills', `lists ${skills.length} skills; at most ${MAX_SKILLS}`);
  const seen = new Set<string>();
  for (const skill of skills) {
    if (typeof skill !== 'string' || !TASK_SKILL_PATTERN.test(skill)) {
      invalid('skills', `${JSON.stringify(skill)} is not a skill tag (lowercase letters, digits and + # . _ -, at most 40)`);
    } else if (seen.has(skill)) invalid('skills', `"${skill}" is listed twice`);
    seen.add(skill as string);
  }
}

/**
 * The graph checks and passes; problems are added to `problems`, and no analysis is returned when
 * the graph has any. The hot loops never read a property of `problems`: a full GC can drop the
 * type feedback of a short-lived object's class, and the optimised loops would then fall back to
 * the interpreter at every call (measured: 3x slower at 10k tasks in the benchmark).
 */
function analyseInto(
  keys: readonly string[],
  dependsOn: readonly (readonly string[])[],
  estimates: ArrayLike<number>,
  problems: PlanProblems,
): GraphAnalysis | undefined {
  const n = keys.length;
  const index = indexKeys(keys, problems);
  const hasDuplicateKeys = index.size < n;
  let invalid = hasDuplicateKeys;

  // Dependencies as index lists (CSR), dropping the invalid ones after reporting them.
  let edgeCount = 0;
  for (let i = 0; i < n; i++) edgeCount += dependsOn[i].length;
  const dependencyStart = new Int32Array(n + 1);
  const dependencies = new Int32Array(edgeCount);
  const successorStart = new Int32Array(n + 1);
  const listedBy = new Int32Array(n); // the last task (index + 1) that listed each task
  let e = 0;
  for (let i = 0; i < n; i++) {
    dependencyStart[i] = e;
    const deps = dependsOn[i];
    const mark = i + 1;
    for (let k = 0; k < deps.length; k++) {
      const dep = deps[k];
      const j = index.get(dep);
      if (j === undefined) invalid = reportMissing(keys[i], dep, problems);
      else if (j === i || (hasDuplicateKeys && dep === keys[i])) invalid = reportSelf(keys[i], problems);
      else if (listedBy[j] === mark) invalid = reportListedTwice(keys[i], dep, problems);
      else {
        listedBy[j] = mark;
        dependencies[e++] = j;
        successorStart[j + 1]++;
      }
    }
  }
  dependencyStart[n] = e;
  for (let i = 0; i < n; i++) successorStart[i + 1] += successorStart[i];
  const successors = new Int32Array(e);
  const fill = successorStart.slice(0, n);
  for (let i = 0; i < n; i++) {
    for (let p = dependencyStart[i], end = dependencyStart[i + 1]; p < end; p++) successors[fill[dependencies[p]]++] = i;
  }

  const durations = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = estimates[i];
    if (d > 0 && d < Infinity) durations[i] = d;
    else {
      durations[i] = 1;
      invalid = reportEstimate(keys[i], d, problems);
    }
  }

  // Kahn's order with the forward pass: a task is taken once all its dependencies are, so its
  // earliest start is final then and can be pushed to its successors.
  const waiting = new Int32Array(n);
  const order = new Int32Array(n);
  let tail = 0;
  for (let i = 0; i < n; i++) {
    waiting[i] = dependencyStart[i + 1] - dependencyStart[i];
    if (waiting[i] === 0) order[tail++] = i;
  }
  const earliestStart = new Float64Array(n);
  let minimumMinutes = 0;
  for (let head = 0; head < tail; head++) {
    const u = order[head];
    const finish = earliestStart[u] + durations[u];
    if (finish > minimumMinutes) minimumMinutes = finish;
    for (let p = successorStart[u], end = successorStart[u + 1]; p < end; p++) {
      const v = successors[p];
      if (earliestStart[v] < finish) earliestStart[v] = finish;
      if (--waiting[v] === 0) order[tail++] = v;
    }
  }
  if (tail < n) invalid = reportCycles(keys, waiting, dependencyStart, dependencies, problems);
  if (invalid) return undefined;

  // Backward pass, in reverse order: a task must finish before its earliest-needed successor starts.
  const latestStart = new Float64Array(n);
  const slack = new Float64Array(n);
  const tolerance = minimumMinutes * 1e-12;
  for (let k = n - 1; k >= 0; k--) {
    const u = order[k];
    let latestFinish = minimumMinutes;
    for (let p = successorStart[u], end = successorStart[u + 1]; p < end; p++) {
      const s = latestStart[successors[p]];
      if (s < latestFinish) latestFinish = s;
    }
    latestStart[u] = latestFinish - durations[u];
    // Fractional estimates can round differently on the way back: what is within rounding is 0.
    const spare = latestStart[u] - earliestStart[u];
    slack[u] = spare > tolerance ? spare : 0;
  }

  return {
    size: n,
    order,
    durations,
    earliestStart,
    latestStart,
    slack,
    criticalPath: criticalPath(order, earliestStart, durations, dependencyStart, dependencies, minimumMinutes),
    minimumMinutes,
    successorStart,
    successors,
    dependencyStart,
    dependencies,
  };
}

function indexKeys(keys: readonly string[], problems: PlanProblems): Map<string, number> {
  const index = new Map<string, number>();
  let reported: Set<string> | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (index.get(key) === undefined) index.set(key, i);
    else if (!(reported ??= new Set()).has(key)) {
      reported.add(key);
      problems.add(() => ({ kind: 'DUPLICATE_KEY', tasks: [key], message: `the key "${key}" is used by more than one task` }));
    }
  }
  return index;
}

/**
 * Every task Kahn's order could not take waits for another such task, so following those
 * dependencies from any of them must come back to a task already seen: a cycle. Each walk stops
 * at a task seen before, so the cycles reported are disjoint and the whole search is linear.
 */
function reportCycles(
  keys: readonly string[],
  waiting: Int32Array,
  dependencyStart: Int32Array,
  dependencies: Int32Array,
  problems: PlanProblems,
): true {
  const n = keys.length;
  const walkOf = new Int32Array(n);
  const position = new Int32Array(n);
  const path: number[] = [];
  let walk = 0;
  for (let start = 0; start < n; start++) {
    if (waiting[start] === 0 || walkOf[start] !== 0) continue;
    walk++;
    path.length = 0;
    let v = start;
    while (walkOf[v] === 0) {
      walkOf[v] = walk;
      position[v] = path.length;
      path.push(v);
      let next = -1;
      for (let p = dependencyStart[v], end = dependencyStart[v + 1]; p < end; p++) {
        if (waiting[dependencies[p]] > 0) {
          next = dependencies[p];
          break;
        }
      }
      v = next;
    }
    if (walkOf[v] === walk) reportCycle(path.slice(position[v]).map((i) => keys[i]), problems);
  }
  return true;
}

function reportCycle(cycle: string[], problems: PlanProblems): void {
  // Start at the smallest key, so that the same cycle reads the same whichever task it was found from.
  let first = 0;
  for (let i = 1; i < cycle.length; i++) if (cycle[i] < cycle[first]) first = i;
  const rotated = [...cycle.slice(first), ...cycle.slice(0, first)];
  problems.add(() => {
    const shown = rotated.length <= 20 ? rotated : [...rotated.slice(0, 10), `... (${rotated.length - 12} more)`, ...rotated.slice(-2)];
    const listed = rotated.length <= MAX_CYCLE_KEYS_REPORTED ? 'its keys' : `its first ${MAX_CYCLE_KEYS_REPORTED} keys`;
    return {
      kind: 'CYCLE',
      tasks: rotated.slice(0, MAX_CYCLE_KEYS_REPORTED),
      message: `a cycle of ${rotated.length} task${rotated.length > 1 ? 's' : ''}, each depending on the next (${listed} in order): ${[...shown, rotated[0]].join(' → ')}`,
    };
  });
}

// The reporters return true, the graph's new validity, so the hot loop only assigns a local.
function reportMissing(key: string, dep: string, problems: PlanProblems): true {
  problems.add(() => ({
    kind: 'MISSING_DEPENDENCY',
    tasks: [key, String(dep)],
    message: `task "${key}" depends on "${String(dep)}", which is not in the plan`,
  }));
  return true;
}

function reportSelf(key: string, problems: PlanProblems): true {
  problems.add(() => ({ kind: 'SELF_DEPENDENCY', tasks: [key], message: `task "${key}" depends on itself` }));
  return true;
}

function reportListedTwice(key: string, dep: string, problems: PlanProblems): true {
  problems.add(() => ({ kind: 'INVALID_FIELD', tasks: [key], field: 'dependsOn', message: `task "${key}": dependsOn lists "${dep}" twice` }));
  return true;
}

function reportEstimate(key: string, value: number, problems: PlanProblems): true {
  problems.add(() => ({
    kind: 'INVALID_FIELD',
    tasks: [key],
    field: 'estimateMinutes',
    message: `task "${key}": estimateMinutes must be a number of minutes > 0, not ${String(value)}`,
  }));
  return true;
}

/**
 * Back from the first task that ends with the plan, through a dependency that finishes the moment
 * it may start. Earliest starts are maxima of exactly these sums, so the comparison is exact even
 * for fractional estimates.
 */
function criticalPath(
  order: Int32Array,
  earliestStart: Float64Array,
  durations: Float64Array,
  dependencyStart: Int32Array,
  dependencies: Int32Array,
  minimumMinutes: number,
): Int32Array {
  const path: number[] = [];
  let v = -1;
  for (let k = 0; k < order.length && v < 0; k++) if (earliestStart[order[k]] + durations[order[k]] === minimumMinutes) v = order[k];
  while (v >= 0) {
    path.push(v);
    let previous = -1;
    for (let p = dependencyStart[v], end = dependencyStart[v + 1]; p < end && previous < 0; p++) {
      const u = dependencies[p];
      if (earliestStart[u] + durations[u] === earliestStart[v]) previous = u;
    }
    v = previous;
  }
  return Int32Array.from(path.reverse());
}
