/**
 * The analysis of a dependency graph by task index (the position in the input), in typed arrays.
 * Times are in minutes from the start of the plan.
 */
export interface GraphAnalysis {
  size: number;
  /** Task indices in a topological order: Kahn's, tasks without dependencies first, in input order. */
  order: Int32Array;
  durations: Float64Array;
  earliestStart: Float64Array;
  latestStart: Float64Array;
  /** latestStart - earliestStart: how long a task may slip without delaying the plan. */
  slack: Float64Array;
  /** Task indices from the first task to the last, all with slack 0. */
  criticalPath: Int32Array;
  /** The plan's duration with as many agents as tasks ready: the critical path's length. */
  minimumMinutes: number;
  /** Successors (dependents) of task i: successors[successorStart[i] .. successorStart[i + 1]). */
  successorStart: Int32Array;
  successors: Int32Array;
  /** Dependencies of task i: dependencies[dependencyStart[i] .. dependencyStart[i + 1]). */
  dependencyStart: Int32Array;
  dependencies: Int32Array;
}
