import { resolve } from 'node:path';
import { ApiClient, ApiError } from './api-client';
import { ApprovalPrompter, Terminal } from './approval-prompt';
import { GlobalOptions, OptionValue, UsageError } from './args';
import { FinalSession, followSession } from './follow';
import {
  EventRenderer,
  formatAgentsTable,
  formatCapacity,
  formatPlanBudget,
  formatMergeResult,
  formatPerformance,
  formatPlan,
  formatPlansTable,
  formatSession,
  formatSessionsTable,
  Style,
  truncate,
} from './format';
import {
  AgentPerformance,
  AgentView,
  ApprovalView,
  Budget,
  CapacityView,
  FileDiff,
  MergeResult,
  PlanSummary,
  PlanView,
  SessionPage,
  SessionView,
  StreamEnvelope,
  TransitionRecord,
} from './views';

/** Where a command writes, and how it learns of Ctrl-C. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Registers a Ctrl-C handler; returns the function that removes it. */
  onInterrupt(handler: () => void): () => void;
  readStdin(): Promise<string>;
  cwd: string;
  /** Set when standard input and output are both a terminal: run and follow may ask y/n questions. */
  terminal?: Terminal;
}

export interface CommandContext {
  api: ApiClient;
  global: GlobalOptions;
  style: Style;
  io: CliIo;
  positionals: Record<string, string>;
  options: Record<string, OptionValue>;
}

/** Exit codes: see helpText(). */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, INTERRUPTED: 130 } as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const enc = encodeURIComponent;

function requireUuid(value: string, what: string): string {
  if (!UUID.test(value)) throw new UsageError(`${what} must be a UUID, got "${value}"`);
  return value.toLowerCase();
}

function printJson(ctx: CommandContext, value: unknown): void {
  ctx.io.stdout(JSON.stringify(value, null, 2));
}

export const COMMAND_HANDLERS: Record<string, (ctx: CommandContext) => Promise<number>> = {
  run,
  follow,
  sessions,
  show,
  cancel,
  diff,
  merge,
  discard,
  plans,
  plan,
  'plan-merge': planMerge,
  'plan-budget': planBudget,
  agents,
  capacity,
  'agent-performance': agentPerformance,
};

async function run(ctx: CommandContext): Promise<number> {
  const o = ctx.options;
  let prompt = String(o.prompt);
  if (prompt === '-') prompt = await ctx.io.readStdin();
  if (!prompt.trim()) throw new UsageError('the prompt is empty');
  const body: Record<string, unknown> = {
    title: o.title ?? (truncate(prompt.split('\n').find((l) => l.trim()) ?? prompt, 80) || 'cli session'),
    prompt,
    // A relative path means one relative to where the command runs (the API wants an absolute one).
    workspace: resolve(ctx.io.cwd, String(o.workspace)),
    ...(o.role !== undefined && { role: o.role }),
    ...(o.skills !== undefined && { skills: o.skills }),
    ...(o.complexity !== undefined && { complexity: o.complexity }),
    ...(o['agent-id'] !== undefined && { agentId: requireUuid(String(o['agent-id']), '--agent-id') }),
    ...(o.model !== undefined && { model: o.model }),
    ...(o.timeout !== undefined && { timeoutSeconds: o.timeout }),
    ...(o.isolation !== undefined && { isolation: o.isolation }),
    ...(o.base !== undefined && { baseRef: o.base }),
    // Only when a limit is given: an older server knows no `budget`.
    ...(hasBudgetOptions(ctx) && { budget: budgetOptions(ctx) }),
  };
  const created = await ctx.api.post<SessionView>('/api/v1/sessions', body);
  const id = created.id;
  const start = async () => {
    await ctx.api.post<SessionView>(`/api/v1/sessions/${enc(id)}/start`);
  };

  if (o.follow === false) {
    await start();
    const started = await ctx.api.get<SessionView>(`/api/v1/sessions/${enc(id)}`);
    if (ctx.global.json) printJson(ctx, started);
    else {
      ctx.io.stdout(`session ${id} started: ${started.status}`);
      ctx.io.stdout(ctx.style.dim(`follow it with: orchestrator follow ${id}`));
    }
    return EXIT.OK;
  }

  if (!ctx.global.json) ctx.io.stderr(ctx.style.dim(`created session ${id}; Ctrl-C cancels it`));
  // Ctrl-C: stop following, cancel the session through the API, exit 130 (a second Ctrl-C: exit at once).
  return followWithInterrupt(ctx, id, start, async () => {
    try {
      const cancelled = await ctx.api.post<SessionView>(`/api/v1/sessions/${enc(id)}/cancel`);
      ctx.io.stderr(`cancel requested: session ${id} is ${cancelled.status}${cancelled.status === 'CANCELLED' ? '' : ' (it stops within seconds)'}`);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'INVALID_TRANSITION') ctx.io.stderr(`session ${id} had already finished`);
      else throw err;
    }
  });
}

async function follow(ctx: CommandContext): Promise<number> {
  const id = requireUuid(ctx.positionals.id, 'ID');
  // Ctrl-C detaches: the session is someone's run and goes on.
  return followWithInterrupt(ctx, id, undefined, async () => {
    ctx.io.stderr(`detached; session ${id} goes on (cancel it with: orchestrator cancel ${id})`);
  });
}

async function followWithInterrupt(
  ctx: CommandContext,
  id: string,
  onListening: (() => Promise<void>) | undefined,
  onInterrupt: () => Promise<void>,
): Promise<number> {
  const renderer = new EventRenderer(ctx.style);
  // In a terminal, approvals the session waits on are asked about; elsewhere they are only printed.
  const prompter =
    ctx.io.terminal && !ctx.global.json
      ? new ApprovalPrompter(
          ctx.io.terminal,
          (approvalId, decision) => ctx.api.post<ApprovalView>(`/api/v1/approvals/${enc(approvalId)}`, { decision }),
          (line) => ctx.io.stderr(line),
        )
      : undefined;
  const aborter = new AbortController();
  let interrupted = false;
  const remove = ctx.io.onInterrupt(() => {
    if (interrupted) process.exit(EXIT.INTERRUPTED);
    interrupted = true;
    aborter.abort(new Error('interrupted'));
  });
  const onEvent = (event: StreamEnvelope) => {
    prompter?.beforeShown(event);
    if (ctx.global.json) ctx.io.stdout(JSON.stringify(event));
    else for (const line of renderer.render(event)) ctx.io.stdout(line);
    prompter?.afterShown(event);
  };
  let final: FinalSession;
  try {
    final = await followSession(ctx.api, id, {
      onEvent,
      onListening,
      signal: aborter.signal,
      onFallback: (reason) => ctx.io.stderr(ctx.style.dim(reason)),
    });
  } catch (err) {
    if (!interrupted) throw err;
    for (const line of renderer.flush()) ctx.io.stdout(line);
    await onInterrupt();
    return EXIT.INTERRUPTED;
  } finally {
    remove();
    prompter?.close();
  }
  for (const line of renderer.flush()) ctx.io.stdout(line);
  return final.status === 'COMPLETED' ? EXIT.OK : EXIT.FAILED;
}

async function sessions(ctx: CommandContext): Promise<number> {
  const page = await ctx.api.get<SessionPage>('/api/v1/sessions', {
    status: ctx.options.status,
    limit: ctx.options.limit ?? 20,
    cursor: ctx.options.cursor,
  });
  if (ctx.global.json) printJson(ctx, page);
  else ctx.io.stdout(formatSessionsTable(page, ctx.style));
  return EXIT.OK;
}

async function show(ctx: CommandContext): Promise<number> {
  const id = requireUuid(ctx.positionals.id, 'ID');
  const [session, history] = await Promise.all([
    ctx.api.get<SessionView>(`/api/v1/sessions/${enc(id)}`),
    ctx.api.get<TransitionRecord[]>(`/api/v1/sessions/${enc(id)}/events`),
  ]);
  if (ctx.global.json) printJson(ctx, { ...session, history });
  else ctx.io.stdout(formatSession(session, history, ctx.style));
  return EXIT.OK;
}

async function cancel(ctx: CommandContext): Promise<number> {
  const id = requireUuid(ctx.positionals.id, 'ID');
  const s = await ctx.api.post<SessionView>(`/api/v1/sessions/${enc(id)}/cancel`);
  if (ctx.global.json) printJson(ctx, s);
  else if (s.status === 'CANCELLED') ctx.io.stdout(`session ${id} is CANCELLED`);
  else ctx.io.stdout(`cancel requested: session ${id} is ${s.status} and stops within seconds`);
  return EXIT.OK;
}

async function diff(ctx: CommandContext): Promise<number> {
  const id = requireUuid(ctx.positionals.id, 'ID');
  if (ctx.global.json) {
    printJson(ctx, await ctx.api.get<FileDiff[]>(`/api/v1/sessions/${enc(id)}/diff`, { format: 'json' }));
    return EXIT.OK;
  }
  // Exactly the API's text: git's diff ends with a newline, which stdout() adds back; nothing changed prints nothing.
  const text = await ctx.api.getText(`/api/v1/sessions/${enc(id)}/diff`, 'text/x-diff, application/json;q=0.5');
  if (text) ctx.io.stdout(text.endsWith('\n') ? text.slice(0, -1) : text);
  return EXIT.OK;
}

/** {target?, strategy?} of the merge commands: only what was given, so that the server's defaults apply. */
function mergeBody(ctx: CommandContext): Record<string, unknown> {
  return {
    ...(ctx.options.target !== undefined && { target: ctx.options.target }),
    ...(ctx.options.strategy !== undefined && { strategy: ctx.options.strategy }),
  };
}

async function merge(ctx: CommandContext): Promise<number> {
  const id = requireUuid(ctx.positionals.id, 'ID');
  // A conflict or a dirty target is an API error (409) whose files cli.ts prints under it.
  const result = await ctx.api.post<MergeResult>(`/api/v1/sessions/${enc(id)}/merge`, mergeBody(ctx));
  if (ctx.global.json) printJson(ctx, result);
  else ctx.io.stdout(formatMergeResult(result, result.session?.changes?.branch ?? `the branch of session ${id}`));
  return EXIT.OK;
}

async function discard(ctx: CommandContext): Promise<number> {
  const id = requireUuid(ctx.positionals.id, 'ID');
  const s = await ctx.api.post<SessionView>(`/api/v1/sessions/${enc(id)}/discard`);
  if (ctx.global.json) printJson(ctx, s);
  else ctx.io.stdout(`discarded ${s.changes?.branch ?? 'the branch'} of session ${id}: worktree ${s.worktree?.state ?? 'DISCARDED'}`);
  return EXIT.OK;
}

async function plans(ctx: CommandContext): Promise<number> {
  const page = await ctx.api.get<{ items: PlanSummary[] }>('/api/v1/plans', { status: ctx.options.status, limit: ctx.options.limit ?? 20 });
  if (ctx.global.json) printJson(ctx, page);
  else ctx.io.stdout(formatPlansTable(page.items, ctx.style));
  return EXIT.OK;
}

async function plan(ctx: CommandContext): Promise<number> {
  const id = requireUuid(ctx.positionals.id, 'ID');
  const [detail, agentList] = await Promise.all([
    ctx.api.get<PlanView>(`/api/v1/plans/${enc(id)}`),
    // Names make the task table readable; without them it shows agent ids.
    ctx.api.get<AgentView[]>('/api/v1/agents').catch(() => [] as AgentView[]),
  ]);
  if (ctx.global.json) printJson(ctx, detail);
  else ctx.io.stdout(formatPlan(detail, new Map(agentList.map((a) => [a.id, a.name])), ctx.style));
  return EXIT.OK;
}

async function planMerge(ctx: CommandContext): Promise<number> {
  const id = requireUuid(ctx.positionals.id, 'ID');
  const result = await ctx.api.post<MergeResult>(`/api/v1/plans/${enc(id)}/merge`, mergeBody(ctx));
  if (ctx.global.json) printJson(ctx, result);
  else {
    // The answer does not name the branch; the plan does (the merge is done whether or not this read works).
    const detail = await ctx.api.get<PlanView>(`/api/v1/plans/${enc(id)}`).catch(() => undefined);
    ctx.io.stdout(formatMergeResult(result, detail?.branch?.name ?? `the branch of plan ${id}`));
  }
  return EXIT.OK;
}

const BUDGET_FLAGS: Array<[string, keyof Budget]> = [
  ['max-cost-usd', 'maxCostUsd'],
  ['max-tokens', 'maxTokens'],
  ['max-minutes', 'maxMinutes'],
];

function hasBudgetOptions(ctx: CommandContext): boolean {
  return BUDGET_FLAGS.some(([flag]) => ctx.options[flag] !== undefined);
}

/** The limits given on the command line, on top of `base`. */
function budgetOptions(ctx: CommandContext, base: Budget = {}): Budget {
  const budget: Budget = { ...base };
  for (const [flag, key] of BUDGET_FLAGS) if (ctx.options[flag] !== undefined) budget[key] = Number(ctx.options[flag]);
  return budget;
}

/** PATCH needs the version just read; the plan moves while it runs, so a VERSION_CONFLICT is read again (a few times). */
async function planBudget(ctx: CommandContext): Promise<number> {
  const id = requireUuid(ctx.positionals.id, 'ID');
  const clear = ctx.options.clear === true;
  if (!clear && !hasBudgetOptions(ctx)) throw new UsageError('give --max-cost-usd, --max-tokens, --max-minutes or --clear', 'plan-budget');
  for (let attempt = 1; ; attempt++) {
    const current = await ctx.api.get<PlanView>(`/api/v1/plans/${enc(id)}`);
    if (current.version === undefined) throw new ApiError(0, 'UNSUPPORTED', 'this server does not say the plan\'s version: it is too old to set budgets');
    const merged = budgetOptions(ctx, clear ? {} : (current.budget ?? {}));
    const budget = Object.keys(merged).length ? merged : null;
    try {
      const updated = await ctx.api.patch<PlanView>(`/api/v1/plans/${enc(id)}`, { version: current.version, budget });
      if (ctx.global.json) printJson(ctx, updated);
      else ctx.io.stdout(formatPlanBudget(updated, ctx.style));
      return EXIT.OK;
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'VERSION_CONFLICT' && attempt < 3)) throw err;
    }
  }
}

async function capacity(ctx: CommandContext): Promise<number> {
  const status = await ctx.api.get<CapacityView>('/api/v1/capacity');
  if (ctx.global.json) printJson(ctx, status);
  else ctx.io.stdout(formatCapacity(status, ctx.style));
  return EXIT.OK;
}

async function agents(ctx: CommandContext): Promise<number> {
  const list = await ctx.api.get<AgentView[]>('/api/v1/agents');
  const tiers = new Map<string, string>();
  // The tier is in each agent's performance; a few requests at a time.
  const queue = [...list];
  await Promise.all(
    Array.from({ length: Math.min(8, queue.length) }, async () => {
      for (let a = queue.shift(); a; a = queue.shift()) {
        const perf = await ctx.api.get<AgentPerformance>(`/api/v1/agents/${enc(a.id)}/performance`).catch(() => undefined);
        if (perf) tiers.set(a.id, perf.tier);
      }
    }),
  );
  if (ctx.global.json) printJson(ctx, list.map((a) => ({ ...a, tier: tiers.get(a.id) ?? null })));
  else ctx.io.stdout(formatAgentsTable(list, tiers, ctx.style));
  return EXIT.OK;
}

async function agentPerformance(ctx: CommandContext): Promise<number> {
  const wanted = ctx.positionals.id;
  let agent: AgentView | undefined;
  if (UUID.test(wanted)) {
    agent = await ctx.api.get<AgentView>(`/api/v1/agents/${enc(wanted)}`);
  } else {
    const list = await ctx.api.get<AgentView[]>('/api/v1/agents');
    agent = list.find((a) => a.name.toLowerCase() === wanted.toLowerCase());
    if (!agent) throw new ApiError(404, 'AGENT_NOT_FOUND', `no agent named "${wanted}"; agents: ${list.map((a) => a.name).join(', ') || 'none'}`);
  }
  const perf = await ctx.api.get<AgentPerformance>(`/api/v1/agents/${enc(agent.id)}/performance`, { lastN: ctx.options.last });
  if (ctx.global.json) printJson(ctx, { ...perf, name: agent.name, role: agent.role });
  else ctx.io.stdout(formatPerformance(perf, agent, ctx.style));
  return EXIT.OK;
}
