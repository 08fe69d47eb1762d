/**
 * Every metric the orchestrator exports, by name: the one list that the metrics code, the
 * Prometheus alert rules and the Grafana dashboard share (tests check all three against it,
 * and the dashboard against a live /metrics).
 */
export const METRIC = {
  /** counter {from, to}: every session status change. */
  sessionTransitions: 'orchestrator_session_transitions_total',
  /** histogram {status}: RUNNING → final status, seconds (buckets up to 4 h). */
  sessionDuration: 'orchestrator_session_duration_seconds',
  /** histogram: QUEUED → RUNNING, seconds (buckets up to 4 h). */
  sessionQueueWait: 'orchestrator_session_queue_wait_seconds',
  /** gauge {status}: sessions by status (not deleted), refreshed in the background. */
  sessions: 'orchestrator_sessions',
  /** gauge {state}: run jobs waiting, active, delayed, failed, completed, refreshed in the background. */
  queueJobs: 'orchestrator_queue_jobs',
  /** histogram {route, method, status}: OpenCode HTTP requests, seconds. */
  opencodeRequestDuration: 'orchestrator_opencode_request_duration_seconds',
  /** counter {route, kind}: OpenCode requests that failed (kind: http, network, timeout). */
  opencodeRequestErrors: 'orchestrator_opencode_request_errors_total',
  /** counter: managed OpenCode servers whose process died (crash, OOM killer, SIGKILL) and that the fleet replaced by the next generation of their slot. */
  opencodeServerRestarts: 'orchestrator_opencode_server_restarts_total',
  /** gauge {server, state}: 1 for the state each OpenCode server of this worker is in, 0 for the others (state: STARTING, READY, DRAINING, UNHEALTHY, STOPPED). */
  opencodeServerState: 'orchestrator_opencode_server_state',
  /** gauge {server}: resident memory of a managed OpenCode server's process tree, bytes (none for an external server). */
  opencodeServerRss: 'orchestrator_opencode_server_rss_bytes',
  /** gauge {server, quantile}: health probe latency of an OpenCode server over its last 60 probes, seconds (quantile: 0.5, 0.95). */
  opencodeServerLatency: 'orchestrator_opencode_server_latency_seconds',
  /** gauge {server}: runs (turns) on an OpenCode server now. */
  opencodeServerSessionsRunning: 'orchestrator_opencode_server_sessions_running',
  /** counter {server}: runs that ended on an OpenCode server since it started. */
  opencodeServerSessionsServed: 'orchestrator_opencode_server_sessions_served_total',
  /** counter {reason}: managed OpenCode servers drained and replaced, by why (reason: sessions, rss, age, drain, unhealthy). */
  opencodeServerRecycles: 'orchestrator_opencode_server_recycles_total',
  /** gauge: 1 when the OpenCode server answers its health check, else 0. */
  opencodeUp: 'orchestrator_opencode_up',
  /** counter {agent, role, model, kind}: tokens of finished runs (kind: input, output, reasoning, cache_read, cache_write). */
  tokens: 'orchestrator_tokens_total',
  /** counter {agent, role, model}: cost of finished runs, USD. */
  cost: 'orchestrator_cost_usd_total',
  /** counter {agent, role, outcome}: finished runs per agent. */
  agentRuns: 'orchestrator_agent_runs_total',
  /** histogram {kind, outcome}: time from asking for a lock to the answer (kind: session, workspace, other; outcome: granted, timeout, deadlock, aborted, unavailable). */
  lockWait: 'orchestrator_lock_wait_seconds',
  /** counter {kind}: acquires that had to wait behind a holder. */
  lockContention: 'orchestrator_lock_contention_total',
  /** counter: waiters chosen as deadlock victims. */
  lockDeadlocks: 'orchestrator_lock_deadlocks_total',
  /** counter {kind}: held leases lost before release. */
  lockLost: 'orchestrator_lock_lost_total',
  /** gauge {status}: plans by status, refreshed in the background. */
  plans: 'orchestrator_plans',
  /** gauge {status}: tasks of unfinished plans by status, refreshed in the background. */
  planTasks: 'orchestrator_plan_tasks',
  /** counter {outcome}: approvals decided (outcome: allowed, denied, expired, cancelled). */
  approvals: 'orchestrator_approvals_total',
  /** gauge: bytes used by session worktrees (WORKTREES_DIR), measured by the worker's janitor. */
  worktreesDisk: 'orchestrator_worktrees_disk_bytes',
  /** counter {outcome}: merges of session branches (outcome: merged, up_to_date, conflict, dirty). */
  worktreeMerges: 'orchestrator_worktree_merges_total',
  /** counter {kind}: rows pruned by the retention job (kind: session_outputs, plans, plan_tasks): a finished session's output text, a finished plan and its tasks deleted. */
  retentionPruned: 'orchestrator_retention_pruned_total',
  /** counter {agent, role, model, key, plan}: cost of model steps as they finish (streamed, so also of runs that failed or were stopped), USD. */
  spendUsd: 'orchestrator_spend_usd_total',
  /** counter {agent, role, model, key, plan}: tokens of model steps as they finish (every kind), streamed. */
  spendTokens: 'orchestrator_spend_tokens_total',
  /** gauge {scope, id, limit}: share of a budget left, 0-1 (scope: plan, agent, key; limit: maxTokens, maxCostUsd, maxMinutes), as last seen by a run. */
  budgetRemaining: 'orchestrator_budget_remaining_ratio',
  /** counter {scope, event}: budgets passing 80% (event warning) or reached (event exceeded), by scope (session, plan, agent, key). */
  budgetEvents: 'orchestrator_budget_events_total',
  /** counter {model, reason}: runs that waited QUEUED for provider capacity (reason: concurrency, rpm, tpm, cooldown, unavailable, rate_limited). */
  sessionsThrottled: 'orchestrator_sessions_throttled_total',
  /** counter {model}: rate-limit or overloaded answers of a model provider (HTTP 429/529) seen in turns. */
  providerRateLimits: 'orchestrator_provider_rate_limits_total',
  /** counter {model}: models found with their quota exhausted (marked unavailable). */
  providerQuotaExhausted: 'orchestrator_provider_quota_exhausted_total',
  /** counter {from, to}: runs sent to a fallback model instead of their primary one. */
  modelFallbacks: 'orchestrator_model_fallbacks_total',
  /** counter {reason}: turns stopped by a runaway guard (reason: STEP_LIMIT, DOOM_LOOP, NO_PROGRESS). */
  runawayStops: 'orchestrator_runaway_stops_total',
  /** histogram {method, route, status}: HTTP requests served by the API, seconds. */
  httpRequestDuration: 'orchestrator_http_request_duration_seconds',
  /** gauge {metric}: seconds since each background-refreshed gauge was last read from PostgreSQL or Redis (metric: orchestrator_sessions, orchestrator_queue_jobs, orchestrator_plans, orchestrator_plan_tasks). */
  metricsAggregatesAge: 'orchestrator_metrics_aggregates_age_seconds',
  /** gauge: server-sent event streams open on this process now. */
  eventStreams: 'orchestrator_event_streams',
  /** counter {limit}: event streams refused with 503 TOO_MANY_STREAMS, by the limit reached (limit: process, key). */
  eventStreamsRefused: 'orchestrator_event_streams_refused_total',
  /** counter {outcome}: waits of runs for an unreachable PostgreSQL before writing what must not be lost (a turn's outcome), by how they ended (outcome: recovered, gave_up). */
  databaseWaits: 'orchestrator_database_waits_total',
  /** gauge: runs of this process waiting for PostgreSQL now. */
  runsWaitingForDatabase: 'orchestrator_runs_waiting_for_database',
} as const;

type MetricName = (typeof METRIC)[keyof typeof METRIC];
export const METRIC_NAMES: readonly MetricName[] = Object.values(METRIC);

/** Scrape ports: the API serves /metrics on its HTTP port; a worker on WORKER_METRICS_PORT. */
export const DEFAULT_WORKER_METRICS_PORT = 9465;
