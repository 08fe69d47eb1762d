import type { GraphAnalysis } from './graph-analysis';

/**
 * The one rule for choosing among ready tasks when there are more than free agents: least slack
 * first (a task on the critical path delays the plan the moment it waits), ties by key
 * (code-unit order, not locale), so the choice is the same on every run.
 */
export function compareBySlackThenKey(slackA: number, keyA: string, slackB: number, keyB: string): number {
  if (slackA !== slackB) return slackA < slackB ? -1 : 1;
  return keyA < keyB ? -1 : keyA > keyB ? 1 : 0;
}

/**
 * Which of the ready tasks to start on `free` agents, in the order to start them. A key without a
 * slack goes last (as if its slack were infinite).
 */
export function pickReady(
  ready: readonly string[],
  slack: Readonly<Record<string, number>> | ReadonlyMap<string, number>,
  free: number,
): string[] {
  if (!(free >= 1) || ready.length === 0) return [];
  const slackOf =
    slack instanceof Map
      ? (key: string) => slack.get(key) ?? Infinity
      : (key: string) => (Object.prototype.hasOwnProperty.call(slack, key) ? (slack as Record<string, number>)[key] : Infinity);
  const candidates = ready.map((key) => ({ key, slack: slackOf(key) }));
  candidates.sort((a, b) => compareBySlackThenKey(a.slack, a.key, b.slack, b.key));
  return candidates.slice(0, Math.floor(free)).map((c) => c.key);
}

export interface ListSchedule {
  /** When each task (by index) starts with the given agents. */
  start: Float64Array;
  minimumMinutes: number;
}

/**
 * Simulates the executor with `agents` agents and tasks that take exactly their estimate: whenever
 * agents are free, the ready tasks are started by pickReady's rule. O((tasks + dependencies) log tasks).
 */
export function listSchedule(graph: GraphAnalysis, keys: readonly string[], agents: number): ListSchedule {
  const n = graph.size;
  const { durations, slack, successorStart, successors, dependencyStart } = graph;
  // As many agents as tasks never makes a task wait: every task starts at its earliest start.
  if (agents >= n) return { start: graph.earliestStart.slice(), minimumMinutes: graph.minimumMinutes };

  const start = new Float64Array(n);
  const finish = new Float64Array(n);
  const waiting = new Int32Array(n);
  const ready = new IndexHeap(n, (a, b) => compareBySlackThenKey(slack[a], keys[a], slack[b], keys[b]) < 0);
  const running = new IndexHeap(Math.min(n, agents), (a, b) => finish[a] < finish[b]);
  for (let i = 0; i < n; i++) {
    waiting[i] = dependencyStart[i + 1] - dependencyStart[i];
    if (waiting[i] === 0) ready.push(i);
  }
  let now = 0;
  let end = 0;
  for (;;) {
    while (running.size < agents && ready.size > 0) {
      const u = ready.pop();
      start[u] = now;
      finish[u] = now + durations[u];
      if (finish[u] > end) end = finish[u];
      running.push(u);
    }
    if (running.size === 0) break;
    now = finish[running.peek()];
    // Every task finishing now frees its agent before the next choice.
    while (running.size > 0 && finish[running.peek()] === now) {
      const u = running.pop();
      for (let p = successorStart[u], stop = successorStart[u + 1]; p < stop; p++) {
        if (--waiting[successors[p]] === 0) ready.push(successors[p]);
      }
    }
  }
  return { start, minimumMinutes: end };
}

/** A binary min-heap of task indices under `less`. */
class IndexHeap {
  private readonly items: Int32Array;
  size = 0;

  constructor(
    capacity: number,
    private readonly less: (a: number, b: number) => boolean,
  ) {
    this.items = new Int32Array(Math.max(1, capacity));
  }

  peek(): number {
    return this.items[0];
  }

  push(value: number): void {
    const items = this.items;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(value, items[parent])) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = value;
  }

  pop(): number {
    const items = this.items;
    const top = items[0];
    const last = items[--this.size];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && this.less(items[child + 1], items[child])) child++;
      if (!this.less(items[child], last)) break;
      items[i] = items[child];
      i = child;
    }
    items[i] = last;
    return top;
  }
}
