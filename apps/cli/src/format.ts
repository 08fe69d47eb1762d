import {
  AgentPerformance,
  AgentView,
  AwaitingApproval,
  Budget,
  CapacityView,
  isFinal,
  MergeResult,
  PerformanceSummary,
  PlanSpend,
  PlanSummary,
  PlanView,
  SessionPage,
  SessionView,
  StreamEnvelope,
  TransitionRecord,
  Usage,
} from './views';

/** ANSI styling, or none (not a terminal, NO_COLOR, --json). */
export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

export function makeStyle(enabled: boolean): Style {
  const wrap = (open: number, close: number) => (s: string) => (enabled ? `\u001b[${open}m${s}\u001b[${close}m` : s);
  return { bold: wrap(1, 22), dim: wrap(2, 22), green: wrap(32, 39), red: wrap(31, 39), yellow: wrap(33, 39), cyan: wrap(36, 39) };
}

const PLAIN: Style = makeStyle(false);

function colourStatus(status: string, style: Style): string {
  if (status === 'COMPLETED') return style.green(status);
  if (status === 'FAILED' || status === 'TIMED_OUT' || status === 'CONFLICTED') return style.red(status);
  if (status === 'CANCELLED' || status === 'PAUSED') return style.yellow(status);
  if (status === 'RUNNING' || status === 'MERGING' || status === 'RESOLVING') return style.cyan(status);
  return status;
}

// ---------- small helpers ----------

const ANSI = /\u001b\[[0-9;]*m/g;
const visibleLength = (s: string) => s.replace(ANSI, '').length;

export function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, Math.max(0, max - 3))}...`;
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

function between(start: string | null | undefined, end: string | null | undefined): number | null {
  if (!start || !end) return null;
  return new Date(end).getTime() - new Date(start).getTime();
}

export function formatCost(usd: number | null | undefined): string {
  if (usd === null || usd === undefined) return '-';
  if (usd === 0) return '$0';
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

function formatPercent(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? '-' : `${(ratio * 100).toFixed(1)}%`;
}

/** A commit as git abbreviates it by default (7 hex digits). */
export function shortCommit(commit: string | null | undefined): string {
  return commit ? commit.slice(0, 7) : '-';
}

/** "2 files, +3 -1" */
function formatChangeTotals(c: { files: string[]; insertions: number; deletions: number }): string {
  return `${c.files.length} ${c.files.length === 1 ? 'file' : 'files'}, +${c.insertions} -${c.deletions}`;
}

function formatUsage(usage: Usage | null | undefined): string {
  if (!usage) return '-';
  return `${usage.inputTokens} in / ${usage.outputTokens} out tokens, ${formatCost(usage.costUsd)}`;
}

// ---------- budgets and stops ----------

const num = (n: number) => (Number.isInteger(n) ? String(n) : String(Number(n.toFixed(2))));

/** "$5.00, 200000 tokens, 30 min", or "none". */
export function formatBudget(budget: Budget | null | undefined): string {
  if (!budget) return 'none';
  const parts: string[] = [];
  if (typeof budget.maxCostUsd === 'number') parts.push(formatCost(budget.maxCostUsd));
  if (typeof budget.maxTokens === 'number') parts.push(`${budget.maxTokens} tokens`);
  if (typeof budget.maxMinutes === 'number') parts.push(`${num(budget.maxMinutes)} min`);
  return parts.length ? parts.join(', ') : 'none';
}

/** Every token a usage counts. */
function totalTokens(u: Usage & { totalTokens?: number }): number {
  return u.totalTokens ?? u.inputTokens + u.outputTokens + (u.reasoningTokens ?? 0) + (u.cacheReadTokens ?? 0) + (u.cacheWriteTokens ?? 0);
}

/** What the error codes of the cost and runaway guards mean, said plainly. */
const STOP_EXPLANATIONS: Record<string, string> = {
  BUDGET_EXCEEDED: 'stopped because a budget was reached (its own, its plan\'s, its agent\'s or its API key\'s)',
  STEP_LIMIT: 'stopped by the runaway guard: too many model steps in one turn',
  DOOM_LOOP: 'stopped by the runaway guard: the same tool call over and over',
  NO_PROGRESS: 'stopped by the runaway guard: nothing happened for too long',
  PROVIDER_QUOTA_EXHAUSTED: 'the model provider\'s quota is exhausted: the model is held back (see: orchestrator capacity)',
};

export function explainStop(code: string | null | undefined): string | undefined {
  return code ? STOP_EXPLANATIONS[code] : undefined;
}

/** "anthropic/x", or "anthropic/x, ran openai/y (fallback)" when another model ran. */
function modelText(s: Pick<SessionView, 'model' | 'modelUsed'>, style: Style): string {
  const requested = s.model ?? 'default';
  if (!s.modelUsed || s.modelUsed === s.model) return requested;
  return `${requested}, ran ${s.model ? style.yellow(s.modelUsed) : s.modelUsed}${s.model ? ' (fallback)' : ''}`;
}

/** A session's budget with what it used of each limit. */
function sessionBudgetText(s: SessionView): string {
  const b = s.budget;
  if (!b) return 'none';
  const used: string[] = [];
  if (typeof b.maxCostUsd === 'number' && s.usage) used.push(`${formatCost(s.usage.costUsd)} of ${formatCost(b.maxCostUsd)}`);
  if (typeof b.maxTokens === 'number' && s.usage) used.push(`${totalTokens(s.usage)} of ${b.maxTokens} tokens`);
  const ran = between(s.startedAt, s.finishedAt ?? (s.startedAt ? new Date().toISOString() : null));
  if (typeof b.maxMinutes === 'number' && ran !== null) used.push(`${num(ran / 60_000)} of ${num(b.maxMinutes)} min`);
  return `${formatBudget(b)}${used.length ? ` (used ${used.join(', ')})` : ''}`;
}

type Amount = 'costUsd' | 'tokens' | 'minutes';
const LIMIT_OF: Record<Amount, keyof Budget> = { costUsd: 'maxCostUsd', tokens: 'maxTokens', minutes: 'maxMinutes' };
const AMOUNT_TEXT: Record<Amount, (n: number) => string> = {
  costUsd: (n) => formatCost(n),
  tokens: (n) => `${Math.round(n)} tokens`,
  minutes: (n) => `${num(n)} min`,
};

/**
 * A plan's spend, one line per amount its budget limits (cost alone without a budget):
 * "spent $1.20 of $5.00 ($3.80 left), forecast $4.10".
 */
export function formatPlanSpend(spend: PlanSpend, budget: Budget | null | undefined, style: Style = PLAIN): string[] {
  const limited = (['costUsd', 'tokens', 'minutes'] as Amount[]).filter((a) => typeof budget?.[LIMIT_OF[a]] === 'number');
  const amounts: Amount[] = limited.length ? limited : ['costUsd'];
  return amounts.map((a) => {
    const show = AMOUNT_TEXT[a];
    const spent = spend.spent?.[a] ?? 0;
    const limit = budget?.[LIMIT_OF[a]];
    let line = `spent ${show(spent)}`;
    if (typeof limit === 'number') {
      const left = spend.remaining?.[LIMIT_OF[a]] ?? Math.max(0, limit - spent);
      const leftText = `${show(left)} left`;
      line += ` of ${show(limit)} (${left <= 0 ? style.red(leftText) : left < limit * 0.1 ? style.yellow(leftText) : leftText})`;
    }
    const forecast = spend.forecast?.[a];
    if (typeof forecast === 'number') {
      const over = typeof limit === 'number' && forecast > limit;
      line += `, forecast ${show(forecast)}${over ? style.yellow(' (over budget)') : ''}`;
    }
    return line;
  });
}

/** Local wall-clock time HH:MM:SS of an ISO instant. */
export function clock(at: string | Date | undefined): string {
  const d = at ? new Date(at) : new Date();
  if (Number.isNaN(d.getTime())) return '--:--:--';
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** Date and time, local, to the second: 2025-01-31 14:03:07. */
function dateTime(at: string | null | undefined): string {
  if (!at) return '-';
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return '-';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${clock(d)}`;
}

/** A plain-text table: columns padded to their widest cell, two spaces apart, no trailing blanks. */
export function table(headers: string[], rows: string[][], style: Style = PLAIN): string {
  const widths = headers.map((h, i) => Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i] - visibleLength(c))))
      .join('  ')
      .trimEnd();
  return [style.bold(line(headers)), ...rows.map(line)].join('\n');
}

// ---------- sessions ----------

export function formatSessionsTable(page: SessionPage, style: Style = PLAIN): string {
  if (page.items.length === 0) return 'No sessions.';
  const rows = page.items.map((s) => [
    s.id,
    colourStatus(s.status, style),
    String(s.attempt),
    s.assignment?.agentName ?? s.agent ?? '-',
    dateTime(s.createdAt),
    formatDuration(between(s.startedAt, s.finishedAt)),
    truncate(s.title, 48),
  ]);
  const out = table(['ID', 'STATUS', 'TRY', 'AGENT', 'CREATED', 'RAN', 'TITLE'], rows, style);
  return page.nextCursor ? `${out}\n${style.dim(`more: --cursor ${page.nextCursor}`)}` : out;
}

export function formatSession(s: SessionView, history: TransitionRecord[], style: Style = PLAIN): string {
  const fields: Array<[string, string]> = [
    ['id', s.id],
    ['title', s.title],
    ['status', `${colourStatus(s.status, style)} (attempt ${s.attempt}, version ${s.version})`],
    ['workspace', s.workspace ?? '-'],
    ...worktreeFields(s, style),
    ['agent', s.assignment ? `${s.assignment.agentName} (${s.assignment.role}, ${s.agentId})` : `OpenCode agent ${s.agent ?? '-'}`],
    ['model', modelText(s, style)],
    ...(s.budget !== undefined ? [['budget', sessionBudgetText(s)] as [string, string]] : []),
    ['timeout', s.timeoutSeconds ? `${s.timeoutSeconds}s` : '-'],
    ['created', dateTime(s.createdAt)],
    ['started', dateTime(s.startedAt)],
    ['finished', dateTime(s.finishedAt)],
    ['ran for', formatDuration(between(s.startedAt, s.finishedAt))],
    ['usage', formatUsage(s.usage)],
  ];
  if (s.opencodeSessionId) fields.push(['opencode', s.opencodeSessionId]);
  for (const a of s.awaitingApproval ?? []) {
    fields.push(['waits on', `${style.yellow(a.title)} until ${dateTime(a.expiresAt)} (approval ${a.id})`]);
  }
  if (s.error) fields.push(['error', style.red(`${s.error.code}: ${s.error.message}`)]);
  const stop = explainStop(s.error?.code);
  if (stop) fields.push(['stopped', stop]);
  if (s.result) fields.push(['files', s.result.filesChanged.length ? s.result.filesChanged.join(', ') : '(none)']);
  const width = Math.max(...fields.map(([k]) => k.length));
  const lines = fields.map(([k, v]) => `${style.dim(k.padEnd(width))}  ${v}`);
  if (s.prompt !== undefined) lines.push('', style.bold('prompt'), indent(s.prompt.trimEnd()));
  if (s.result?.summary) lines.push('', style.bold('result'), indent(s.result.summary.trimEnd()));
  if (history.length) {
    lines.push('', style.bold('history'));
    for (const h of history) {
      const to = colourStatus(h.to, style) + ' '.repeat(Math.max(0, 9 - h.to.length));
      lines.push(`  ${dateTime(h.at)}  ${(h.from ?? '-').padEnd(9)} -> ${h.reason ? `${to}  ${style.dim(h.reason)}` : colourStatus(h.to, style)}`);
    }
  }
  return lines.join('\n');
}

/** isolation, and for a worktree session its branch, commits, changes and what became of the branch. */
function worktreeFields(s: SessionView, style: Style): Array<[string, string]> {
  if (!s.isolation) return []; // a server from before worktrees
  const fields: Array<[string, string]> = [['isolation', s.isolation]];
  const c = s.changes;
  const w = s.worktree;
  if (!c || !w) return fields;
  fields.push(['branch', c.branch]);
  fields.push(['base', `${shortCommit(c.baseCommit)}${w.baseRef ? ` (${w.baseRef})` : ''}`]);
  fields.push(['head', `${shortCommit(c.headCommit)}${c.headCommit === c.baseCommit ? style.dim(' (nothing committed)') : ''}`]);
  fields.push(['changes', c.files.length ? `${formatChangeTotals(c)}: ${c.files.join(', ')}` : 'none']);
  if (w.mergeIn) fields.push(['merges in', w.mergeIn]);
  const state = w.state === 'ACTIVE' ? style.green(w.state) : w.state === 'MERGED' ? w.state : style.yellow(w.state);
  const where = `${w.repository}${w.subdirectory ? ` (subdirectory ${w.subdirectory})` : ''}`;
  fields.push(['worktree', `${state} ${style.dim(`in ${where}`)}`]);
  if (w.merge) fields.push(['merged', `into ${w.merge.target} (${w.merge.strategy}): ${shortCommit(w.merge.commit)} at ${dateTime(w.merge.at)}`]);
  return fields;
}

/**
 * The one line a merge answers with: `merged <branch> into <target> (<strategy>): <short commit>`,
 * or that the target held the work already.
 */
export function formatMergeResult(r: MergeResult, branch: string): string {
  if (r.status === 'up-to-date') return `up to date: ${r.target} already holds ${branch}, nothing merged: ${shortCommit(r.commit)}`;
  return `merged ${branch} into ${r.target} (${r.strategy}): ${shortCommit(r.commit)}`;
}

function indent(text: string, by = '  '): string {
  return text.split('\n').map((l) => `${by}${l}`).join('\n');
}

/** The one line that ends a followed run: its outcome, duration, files, usage or error. */
export function formatOutcome(
  s: Pick<SessionView, 'status' | 'startedAt' | 'finishedAt' | 'result' | 'usage' | 'error'> & Partial<Pick<SessionView, 'changes'>>,
  style: Style = PLAIN,
): string {
  const parts = [colourStatus(s.status, style)];
  const ran = between(s.startedAt, s.finishedAt);
  if (ran !== null) parts[0] += ` in ${formatDuration(ran)}`;
  if (s.status === 'COMPLETED') {
    const files = s.result?.filesChanged ?? [];
    parts.push(files.length ? `files changed: ${files.join(', ')}` : 'no files changed');
  }
  // A worktree session's files are on its branch, not in the working tree: say where (diff, merge).
  if (s.changes && s.changes.headCommit !== s.changes.baseCommit) parts.push(`on branch ${s.changes.branch}`);
  if (s.usage) parts.push(formatUsage(s.usage));
  const line = parts.join(' | ');
  if (!s.error || s.status === 'COMPLETED') return line;
  const stop = explainStop(s.error.code);
  return `${line}\n${style.red(`${s.error.code}: ${s.error.message}`)}${stop ? `\n${stop}` : ''}`;
}

// ---------- live events ----------

/**
 * Turns the live events of one session into compact terminal lines: transitions, tool calls
 * with their status, files changed, provider retries, and the answer text as it streams (whole
 * lines, the unfinished one when something else happens).
 */
export class EventRenderer {
  private partial = '';
  private partialAt = '';
  private lastStatus: string | undefined;
  private readonly toolStatus = new Map<string, string>();
  private lastFiles = '';
  private agentName: string | undefined;
  /** Approval id → the last status shown: a reconnect's snapshot or a repeated event says nothing new. */
  private readonly approvals = new Map<string, string>();

  constructor(private readonly style: Style = PLAIN) {}

  get status(): string | undefined {
    return this.lastStatus;
  }

  render(e: StreamEnvelope): string[] {
    const out = e.type === 'text' ? [] : this.flush();
    const at = this.style.dim(clock(e.at));
    const d = e.data ?? {};
    switch (e.type) {
      case 'snapshot': {
        // A reconnect re-reads a snapshot: say nothing unless the state moved meanwhile.
        if (d.status === this.lastStatus) break;
        const first = this.lastStatus === undefined;
        this.lastStatus = d.status;
        this.agentName = d.assignment?.agentName ?? this.agentName;
        if (first) out.push(`${at}  session ${d.id} ${this.style.bold(JSON.stringify(truncate(String(d.title ?? ''), 60)))}: ${colourStatus(d.status, this.style)}${d.status === 'RUNNING' ? ` (attempt ${d.attempt})` : ''}`);
        else out.push(`${at}  ${colourStatus(d.status, this.style)}`);
        if (isFinal(d.status)) out.push(`${at}  ${formatOutcome(d as SessionView, this.style)}`);
        for (const a of (d.awaitingApproval as AwaitingApproval[] | undefined) ?? []) {
          out.push(...this.approval(at, { approvalId: a.id, title: a.title, permission: a.permission, status: 'PENDING', expiresAt: a.expiresAt }));
        }
        break;
      }
      case 'transition': {
        this.lastStatus = d.to;
        if (isFinal(d.to)) out.push(`${at}  ${formatOutcome(d.session ?? { status: d.to }, this.style)}`);
        else {
          const agent = d.session?.agentId ? `, agent ${this.agentName ?? d.session.agentId}` : '';
          out.push(`${at}  ${colourStatus(d.to, this.style)}${d.to === 'RUNNING' ? ` (attempt ${d.attempt}${agent})` : ''}`);
        }
        break;
      }
      case 'tool': {
        const key = String(d.callId ?? d.partId ?? '');
        // pending says nothing a running/completed line will not; repeated statuses are noise.
        if (d.status === 'pending' || this.toolStatus.get(key) === d.status) break;
        this.toolStatus.set(key, d.status);
        const what = d.input || d.title ? ` ${d.input ?? d.title}` : '';
        const status = d.status === 'completed' ? this.style.green('completed') : d.status === 'error' ? this.style.red('error') : d.status;
        out.push(`${at}    tool ${this.style.bold(String(d.tool))}${what}: ${status}${d.error ? ` ${truncate(String(d.error), 160)}` : ''}`);
        break;
      }
      case 'files': {
        const files = (d.files as string[] | undefined) ?? [];
        const key = files.join('\n');
        if (key === this.lastFiles || files.length === 0) break;
        this.lastFiles = key;
        out.push(`${at}    files changed: ${files.join(', ')}`);
        break;
      }
      case 'activity':
        if (d.state === 'retry') out.push(`${at}    ${this.style.yellow('provider retry')}${d.retryAttempt ? ` ${d.retryAttempt}` : ''}${d.message ? `: ${truncate(String(d.message), 160)}` : ''}`);
        break;
      case 'approval':
        out.push(...this.approval(at, d as ApprovalEventData));
        break;
      case 'text':
        return this.text(String(d.delta ?? ''), e.at);
      case 'gap':
        out.push(`${at}    ${this.style.yellow('(some events may have been lost)')}`);
        break;
      default:
        break; // end, and types this CLI does not know yet
    }
    return out;
  }

  private approval(at: string, a: ApprovalEventData): string[] {
    if (this.approvals.get(a.approvalId) === a.status) return [];
    this.approvals.set(a.approvalId, a.status);
    return [`${at}    ${formatApproval(a, this.style)}`];
  }

  /** The unfinished line of answer text, if any. */
  flush(): string[] {
    if (!this.partial.trim()) {
      this.partial = '';
      return [];
    }
    const line = this.textLine(this.partial, this.partialAt);
    this.partial = '';
    return [line];
  }

  private text(delta: string, at: string): string[] {
    if (!this.partial) this.partialAt = at;
    this.partial += delta;
    const pieces = this.partial.split(/\r?\n/);
    this.partial = pieces.pop() ?? '';
    const lines = pieces.filter((p) => p.trim()).map((p) => this.textLine(p, this.partialAt));
    if (pieces.length) this.partialAt = at;
    return lines;
  }

  private textLine(text: string, at: string): string {
    return `${this.style.dim(clock(at))}    ${this.style.dim('|')} ${text.trimEnd()}`;
  }
}

// ---------- approvals ----------

/** The data of an `approval` stream event (docs/streams.md). */
interface ApprovalEventData {
  approvalId: string;
  title: string;
  permission: string;
  patterns?: string[];
  status: string;
  expiresAt: string;
  decidedBy?: string;
  answeredByKeyId?: string | null;
}

/** "approval needed: edit a.txt (until 14:18:07, id …)" or how it was decided. */
function formatApproval(a: ApprovalEventData, style: Style = PLAIN): string {
  if (a.status === 'PENDING') {
    return `${style.yellow('approval needed')}: ${a.title} (until ${clock(a.expiresAt)}; answer with POST /api/v1/approvals/${a.approvalId})`;
  }
  const how =
    a.decidedBy === 'key'
      ? `by ${a.answeredByKeyId ? `key ${a.answeredByKeyId}` : 'an API caller'}`
      : a.decidedBy === 'timeout'
        ? 'nobody answered in time'
        : a.decidedBy === 'session-ended'
          ? 'the turn ended first'
          : a.decidedBy === 'opencode'
            ? 'settled by OpenCode (an earlier answer covered it)'
            : (a.decidedBy ?? '');
  const status = a.status === 'ALLOWED' ? style.green(a.status) : a.status === 'CANCELLED' ? a.status : style.red(a.status);
  return `approval ${a.title}: ${status}${how ? ` (${how})` : ''}`;
}

// ---------- plans ----------

export function formatPlansTable(items: PlanSummary[], style: Style = PLAIN): string {
  if (items.length === 0) return 'No plans.';
  const rows = items.map((p) => [p.id, colourStatus(p.status, style), dateTime(p.createdAt), formatDuration(between(p.startedAt, p.finishedAt)), truncate(p.requirement, 60)]);
  return table(['ID', 'STATUS', 'CREATED', 'RAN', 'REQUIREMENT'], rows, style);
}

export function formatPlan(plan: PlanView, agentNames: Map<string, string>, style: Style = PLAIN): string {
  const settled = Object.entries(plan.progress.byStatus)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  const width = 10;
  const bar = '#'.repeat(Math.round((plan.progress.percent / 100) * width)).padEnd(width, '.');
  const lines = [
    `${style.dim('plan'.padEnd(9))}  ${plan.id}`,
    `${style.dim('status'.padEnd(9))}  ${colourStatus(plan.status, style)}${pausedNote(plan, style)}${plan.error ? ` ${style.red(`${plan.error.code}: ${plan.error.message}`)}` : ''}`,
    `${style.dim('progress'.padEnd(9))}  [${bar}] ${plan.progress.percent}% of ${plan.progress.total} tasks${settled ? ` (${settled})` : ''}`,
    `${style.dim('totals'.padEnd(9))}  ${formatUsage(plan.totals)}`,
    ...planBudgetLines(plan, style),
    `${style.dim('workspace'.padEnd(9))}  ${plan.workspace}`,
    ...planBranchLines(plan, style),
    `${style.dim('critical'.padEnd(9))}  ${plan.criticalPath.length ? plan.criticalPath.join(' -> ') : '-'}`,
    `${style.dim('ran for'.padEnd(9))}  ${formatDuration(between(plan.startedAt, plan.finishedAt))}`,
    `${style.dim('asked'.padEnd(9))}  ${truncate(plan.requirement, 200)}`,
    '',
  ];
  if (plan.tasks.length === 0) return [...lines, 'No tasks.'].join('\n');
  const rows = plan.tasks.map((t) => [
    `${t.key}${t.critical ? '*' : ''}`,
    colourStatus(t.status, style),
    t.role,
    t.agentId ? (agentNames.get(t.agentId) ?? t.agentId) : '-',
    t.sessionId ? `${t.sessionId}${t.sessions?.find((x) => x.id === t.sessionId)?.kind === 'RESOLVER' ? ' (resolver)' : ''}` : '-',
    t.dependsOn.length ? t.dependsOn.join(',') : '-',
    t.usage ? formatCost(t.usage.costUsd) : '-',
    truncate(t.title, 40) + (t.error ? ` ${style.red(`[${t.error.code}]`)}` : '') + conflictNote(t, style),
  ]);
  lines.push(table(['TASK', 'STATUS', 'ROLE', 'AGENT', 'SESSION', 'AFTER', 'COST', 'TITLE'], rows, style));
  lines.push(style.dim('* on the critical path'));
  return lines.join('\n');
}

function pausedNote(plan: PlanSummary, style: Style): string {
  if (!plan.pausedReason) return '';
  const why = plan.pausedReason === 'BUDGET' ? 'its budget was reached; raise it (orchestrator plan-budget) and run it again' : plan.pausedReason;
  return ` ${style.yellow(`(paused: ${why})`)}`;
}

/** budget and spend lines of a plan (nothing from a server that knows neither). */
function planBudgetLines(plan: PlanView, style: Style): string[] {
  const label = (k: string) => style.dim(k.padEnd(9));
  const lines: string[] = [];
  if (plan.budget !== undefined) lines.push(`${label('budget')}  ${formatBudget(plan.budget)}`);
  if (plan.spend) formatPlanSpend(plan.spend, plan.budget, style).forEach((l, i) => lines.push(`${label(i === 0 ? 'spend' : '')}  ${l}`));
  return lines;
}

/** What plan-budget answers: the plan's new budget and where its spend stands. */
export function formatPlanBudget(plan: PlanView, style: Style = PLAIN): string {
  const lines = [`plan ${plan.id}: budget ${formatBudget(plan.budget)}`];
  if (plan.spend) lines.push(...formatPlanSpend(plan.spend, plan.budget, style).map((l) => `  ${l}`));
  if (plan.status === 'PAUSED') lines.push(style.dim(`the plan is PAUSED${plan.pausedReason ? ` (${plan.pausedReason})` : ''}: run it again to resume (POST /api/v1/plans/${plan.id}/run)`));
  return lines.join('\n');
}

/** The plan's integration branch: its name, commits and what it changed. */
function planBranchLines(plan: PlanView, style: Style): string[] {
  if (plan.branch === undefined) return []; // a server from before worktrees
  const label = (k: string) => style.dim(k.padEnd(9));
  const b = plan.branch;
  if (!b) return [`${label('branch')}  - ${style.dim(plan.status === 'DRAFT' ? '(made when the plan runs, in a git workspace)' : '(its tasks share the workspace)')}`];
  const head = b.headCommit ? shortCommit(b.headCommit) : style.yellow('deleted');
  return [
    `${label('branch')}  ${b.name} ${style.dim(`in ${b.repository}`)}`,
    `${label('commits')}  ${shortCommit(b.baseCommit)}..${head}`,
    `${label('changes')}  ${b.files.length ? `${formatChangeTotals(b)}: ${truncate(b.files.join(', '), 200)}` : 'none'}`,
  ];
}

/** The files a RESOLVING or CONFLICTED task's branch conflicts on. */
function conflictNote(t: PlanView['tasks'][number], style: Style): string {
  const files = t.merge?.conflicts ?? [];
  if (!files.length || (t.status !== 'RESOLVING' && t.status !== 'CONFLICTED')) return '';
  const note = `[conflicts: ${truncate(files.join(', '), 60)}]`;
  return ` ${t.status === 'CONFLICTED' ? style.red(note) : style.yellow(note)}`;
}

// ---------- capacity ----------

/** A value of an unknown field, short. */
function compact(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.length <= 3 ? value.map(compact).join(',') : `${value.length} items`;
  return truncate(JSON.stringify(value), 80);
}

/** One limit of a rule: "concurrency 3/8 (2 waiting)", "rpm 12/50 (resets in 41s)", or its fields for a limit this CLI does not know. */
function formatLimit(name: string, value: unknown, style: Style): string {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return `${name} ${compact(value)}`;
  const v = value as Record<string, unknown>;
  const used = typeof v.inUse === 'number' ? v.inUse : typeof v.used === 'number' ? v.used : undefined;
  if (typeof v.limit !== 'number' || used === undefined) {
    return `${name} ${Object.entries(v).map(([k, x]) => `${k}=${compact(x)}`).join(' ')}`;
  }
  const ratio = `${used}/${v.limit}`;
  const extras: string[] = [];
  if (typeof v.waiting === 'number' && v.waiting > 0) extras.push(`${v.waiting} waiting`);
  if (typeof v.resetInMs === 'number' && v.resetInMs > 0) extras.push(`resets in ${formatDuration(v.resetInMs)}`);
  for (const [k, x] of Object.entries(v)) {
    if (!['limit', 'inUse', 'used', 'waiting', 'resetInMs', 'holders'].includes(k)) extras.push(`${k}=${compact(x)}`);
  }
  const full = used >= v.limit ? style.yellow(ratio) : ratio;
  return `${name} ${full}${extras.length ? ` (${extras.join(', ')})` : ''}`;
}

export function formatCapacity(c: CapacityView, style: Style = PLAIN): string {
  const rules = Array.isArray(c.rules) ? c.rules : [];
  const marks = Array.isArray(c.marks) ? c.marks : [];
  const lines: string[] = [style.bold('provider limits')];
  if (rules.length === 0) lines.push('  none (PROVIDER_LIMITS is not set: no limit on any model)');
  else {
    const rows = rules.map((r) => {
      const limits = Object.entries(r)
        .filter(([k]) => k !== 'pattern')
        .map(([k, v]) => formatLimit(k, v, style));
      return [String(r.pattern ?? '?'), limits.length ? limits.join('; ') : '-'];
    });
    lines.push(...table(['PATTERN', 'IN USE / LIMIT'], rows, style).split('\n').map((l) => `  ${l}`));
  }
  lines.push('', style.bold('models held back'));
  if (marks.length === 0) lines.push('  none');
  else {
    const rows = marks.map((m) => {
      const known = ['model', 'kind', 'until', 'why'];
      const extra = Object.entries(m).filter(([k]) => !known.includes(k)).map(([k, v]) => `${k}=${compact(v)}`);
      const kind = m.kind === 'unavailable' ? style.red(m.kind) : m.kind ? style.yellow(m.kind) : '-';
      return [String(m.model ?? '?'), kind, dateTime(m.until ?? null), [m.why ?? '', ...extra].filter(Boolean).join('; ') || '-'];
    });
    lines.push(...table(['MODEL', 'KIND', 'UNTIL', 'WHY'], rows, style).split('\n').map((l) => `  ${l}`));
  }
  const other = Object.keys(c).filter((k) => k !== 'rules' && k !== 'marks');
  if (other.length) lines.push('', ...other.map((k) => `${style.dim(k)}  ${compact(c[k])}`));
  return lines.join('\n');
}

// ---------- agents ----------

export function formatAgentsTable(agents: AgentView[], tiers: Map<string, string>, style: Style = PLAIN): string {
  if (agents.length === 0) return 'No agents.';
  const rows = agents.map((a) => [
    a.id,
    a.name,
    a.role,
    tiers.get(a.id) ?? '-',
    a.enabled ? 'yes' : style.yellow('no'),
    String(a.maxConcurrentSessions),
    truncate(a.capabilities.map((c) => `${c.skill}:${c.level}`).join(' '), 60),
  ]);
  return table(['ID', 'NAME', 'ROLE', 'TIER', 'ENABLED', 'MAX', 'SKILLS'], rows, style);
}

export function formatPerformance(perf: AgentPerformance, agent: AgentView | undefined, style: Style = PLAIN): string {
  const header = agent ? `${style.bold(agent.name)} (${agent.role}, ${perf.agentId})` : perf.agentId;
  const row = (label: string, f: (s: PerformanceSummary) => string) => [label, f(perf.recent), f(perf.allTime)];
  const rows = [
    row('runs', (s) => String(s.runs)),
    row('successes', (s) => String(s.successes)),
    row('success rate', (s) => formatPercent(s.successRate)),
    row('mean quality', (s) => (s.meanQuality === null ? '-' : `${s.meanQuality.toFixed(1)}/10 (${s.scoredRuns} scored)`)),
    row('mean cost', (s) => formatCost(s.meanCostUsd)),
    row('cost/success', (s) => formatCost(s.costPerSuccessUsd)),
    row('p50 duration', (s) => formatDuration(s.p50DurationMs)),
    row('p95 duration', (s) => formatDuration(s.p95DurationMs)),
  ];
  const lines = [
    header,
    `tier: ${style.bold(perf.tier)} ${style.dim('(from the last 50 counted runs)')}`,
    '',
    table(['', `LAST ${perf.lastN}`, 'ALL TIME'], rows, style),
  ];
  if (perf.thresholds?.length) {
    lines.push('', style.dim(`tiers: ${perf.thresholds.map((t) => `${t.tier} >= ${t.minRuns} runs, ${formatPercent(t.minSuccessRate)}, quality ${t.minQuality}`).join('; ')}; BRONZE otherwise (SILVER under 5 runs)`));
  }
  return lines.join('\n');
}
