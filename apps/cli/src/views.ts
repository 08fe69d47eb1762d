/** The shapes of the API's answers the CLI reads (a subset; see Swagger at /docs). */

const FINAL_STATUSES = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'] as const;
export const isFinal = (status: string): boolean => (FINAL_STATUSES as readonly string[]).includes(status);

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  reasoningTokens?: number;
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
  costUsd: number;
}

/** A limit on what a session or plan may spend; an absent limit is no limit. */
export interface Budget {
  maxTokens?: number;
  maxCostUsd?: number;
  maxMinutes?: number;
}

export interface SessionView {
  id: string;
  title: string;
  prompt?: string;
  workspace?: string;
  agent?: string;
  model?: string | null;
  /** The model that actually ran (a fallback's when the requested one had no capacity); absent from older servers. */
  modelUsed?: string | null;
  /** Its own budget (null: none); absent from older servers. */
  budget?: Budget | null;
  status: string;
  attempt: number;
  version: number;
  agentId: string | null;
  assignment?: { agentName: string; role: string; routing?: { score: number | null } } | null;
  timeoutSeconds?: number;
  opencodeSessionId?: string | null;
  result: { summary: string; filesChanged: string[] } | null;
  usage: Usage | null;
  error: { code: string; message: string } | null;
  cancelRequestedAt?: string | null;
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  createdAt?: string;
  updatedAt?: string;
  /** What the running session waits for (answer with POST /api/v1/approvals/:id). */
  awaitingApproval?: AwaitingApproval[];
  /** worktree: its own branch in a git worktree; shared: the workspace itself (absent from older servers). */
  isolation?: 'worktree' | 'shared';
  /** Worktree sessions: the branch and what its commits changed since baseCommit. */
  changes?: SessionChanges | null;
  /** Worktree sessions: where it works and what became of its branch. */
  worktree?: SessionWorktree | null;
}

export interface SessionChanges {
  branch: string;
  baseCommit: string;
  headCommit: string;
  files: string[];
  insertions: number;
  deletions: number;
}

export interface SessionWorktree {
  /** ACTIVE: the branch holds the work; MERGED, DISCARDED, EXPIRED: the branch is gone. */
  state: string;
  repository: string;
  subdirectory: string;
  baseRef: string | null;
  mergeIn: string | null;
  merge: { target: string; strategy: string; commit: string; at: string } | null;
}

/** POST /api/v1/sessions/:id/merge (the session's) and POST /api/v1/plans/:id/merge (without `session`). */
export interface MergeResult {
  status: 'merged' | 'up-to-date';
  target: string;
  strategy: string;
  commit: string;
  session?: SessionView;
}

/** One file of GET /api/v1/sessions/:id/diff?format=json. */
export interface FileDiff {
  path: string;
  oldPath: string | null;
  status: string;
  insertions: number;
  deletions: number;
  binary: boolean;
  hunks: Array<{ header: string; oldStart: number; oldLines: number; newStart: number; newLines: number; lines: string[] }>;
}

export interface AwaitingApproval {
  id: string;
  permission: string;
  patterns: string[];
  title: string;
  expiresAt: string;
}

/** An approval as POST /api/v1/approvals/:id answers it (a subset). */
export interface ApprovalView {
  id: string;
  status: string;
  decidedBy: string | null;
  answeredByKeyId: string | null;
}

export interface SessionPage {
  items: SessionView[];
  nextCursor: string | null;
}

export interface TransitionRecord {
  from: string | null;
  to: string;
  reason: string;
  attempt: number;
  at: string;
}

/** One live event (the `data:` JSON of the session and fleet streams, docs/streams.md). */
export interface StreamEnvelope {
  sessionId: string;
  type: string;
  seq?: number;
  at: string;
  data: Record<string, any>;
}

export interface AgentView {
  id: string;
  name: string;
  role: string;
  capabilities: Array<{ skill: string; level: number }>;
  maxConcurrentSessions: number;
  enabled: boolean;
  binding?: { opencodeAgent: string; model: string | null };
}

export interface PerformanceSummary {
  runs: number;
  successes: number;
  successRate: number | null;
  meanQuality: number | null;
  scoredRuns: number;
  meanCostUsd: number | null;
  costPerSuccessUsd: number | null;
  p50DurationMs: number | null;
  p95DurationMs: number | null;
}

export interface AgentPerformance {
  agentId: string;
  tier: string;
  lastN: number;
  recent: PerformanceSummary;
  allTime: PerformanceSummary;
  thresholds?: Array<{ tier: string; minRuns: number; minSuccessRate: number; minQuality: number }>;
}

export interface PlanSummary {
  id: string;
  /** For PATCH (absent from older servers). */
  version?: number;
  /** Its budget (null: none); absent from older servers. */
  budget?: Budget | null;
  /** Why a PAUSED plan is paused: BUDGET (its budget was reached), or null. */
  pausedReason?: string | null;
  requirement: string;
  workspace: string;
  template: string | null;
  status: string;
  error: { code: string; message: string } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface PlanTask {
  key: string;
  title: string;
  role: string;
  status: string;
  attempt: number;
  sessionId: string | null;
  agentId: string | null;
  dependsOn: string[];
  critical: boolean;
  usage: Usage & { totalTokens?: number };
  error: { code: string; message: string } | null;
  /** Its sessions, oldest first: its own (TASK), a Debugger retry (DEBUG_RETRY), merge-conflict resolvers (RESOLVER). */
  sessions?: Array<{ id: string; kind: string; status: string; changes: SessionChanges | null }>;
  /** Its branch's way into the plan's integration branch (git workspaces). */
  merge?: { source: string; queuedAt: string; conflicts: string[]; commit: string | null; mergedAt: string | null } | null;
}

/** A plan's integration branch (git workspaces); null until it runs, and in a shared workspace. */
export interface PlanBranch {
  name: string;
  repository: string;
  baseCommit: string;
  /** null: the branch no longer exists. */
  headCommit: string | null;
  files: string[];
  insertions: number;
  deletions: number;
}

export interface PlanView extends PlanSummary {
  branch?: PlanBranch | null;
  progress: { total: number; byStatus: Record<string, number>; percent: number };
  totals: Usage & { totalTokens?: number };
  criticalPath: string[];
  tasks: PlanTask[];
  /** What the plan spent, what it is expected to spend in all, and what its budget has left (absent from older servers). */
  spend?: PlanSpend | null;
}

export interface SpendAmounts {
  tokens: number;
  costUsd: number;
  minutes: number;
}

export interface PlanSpend {
  spent: SpendAmounts;
  forecast?: SpendAmounts | null;
  /** null: no budget. */
  remaining?: Budget | null;
}

/** GET /api/v1/capacity: provider limits with what is in use, and models held back. Read loosely: the shape may grow. */
export interface CapacityView {
  rules?: CapacityRule[];
  marks?: ModelMark[];
  [field: string]: unknown;
}

export interface CapacityRule {
  pattern: string;
  /** concurrency {limit, inUse, holders, waiting}, rpm and tpm {limit, used, resetInMs}, or what a newer server adds. */
  [limit: string]: unknown;
}

export interface ModelMark {
  model: string;
  /** cooldown (after a 429) or unavailable (quota exhausted). */
  kind?: string;
  until?: string;
  why?: string;
  [field: string]: unknown;
}
