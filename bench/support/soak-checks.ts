import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import axios, { AxiosInstance, AxiosRequestConfig } from 'axios';
import type { ExpectedFile } from './soak-load';
import { percentile } from './stats';

export const FINAL_SESSION = new Set(['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED']);
export const FINAL_PLAN = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/**
 * The session lifecycle's one table of transitions (SESSION_TRANSITIONS,
 * libs/session/src/domain/session-status.ts) as the run's build has it: the histories are judged
 * by the table of the code under test. Loaded from the built file at run time: the domain is not
 * part of the session context's public entry, and a copy here would drift.
 */
export function loadSessionTransitions(appDir: string): Record<string, readonly string[]> {
  const file = join(appDir, 'dist/libs/session/src/domain/session-status.js');
  const table = (require(file) as { SESSION_TRANSITIONS?: Record<string, readonly string[]> }).SESSION_TRANSITIONS;
  const statuses = [...FINAL_SESSION, 'PENDING', 'QUEUED', 'RUNNING'];
  if (!table || !statuses.every((status) => Array.isArray(table[status]))) throw new Error(`no SESSION_TRANSITIONS table in ${file}`);
  return table;
}

export interface SessionView {
  id: string;
  title: string;
  prompt: string;
  workspace: string;
  status: string;
  attempt: number;
  isolation: 'shared' | 'worktree';
  opencodeSessionId: string | null;
  origin: { kind: 'api' | 'plan'; planId?: string; taskKey?: string; retryOf?: string | null };
  changes: { branch: string; headCommit: string; files: string[] } | null;
  worktree: { repository: string; subdirectory?: string } | null;
  error: { code: string; message: string } | null;
}

export interface SessionEvent {
  from: string | null;
  to: string;
  reason: string;
  attempt: number;
  at: string;
}

export interface PlanView {
  id: string;
  requirement: string;
  status: string;
  error: { code: string; message: string } | null;
  branch: { name: string; repository: string; headCommit: string | null } | null;
  tasks: Array<{ key: string; status: string; sessionIds: string[] }>;
}

/** A GET that is tried again for a while (the API may still be catching up after the last fault). */
export async function getWithRetries<T>(api: AxiosInstance, path: string, params?: Record<string, unknown>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await api.get(path, { params })).data as T;
    } catch (err) {
      if (attempt >= 5 || (axios.isAxiosError(err) && err.response && err.response.status < 500)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 1_000 * attempt));
    }
  }
}

/** Every session, newest first, through the cursor. */
export async function listSessions(api: AxiosInstance): Promise<SessionView[]> {
  const all: SessionView[] = [];
  let cursor: string | undefined;
  do {
    const page = await getWithRetries<{ items: SessionView[]; nextCursor: string | null }>(api, '/api/v1/sessions', { limit: 200, cursor });
    all.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return all;
}

/**
 * What is wrong with a history: a transition the lifecycle table forbids, a gap (an event whose
 * `from` is not the previous `to`), an attempt number that goes back or skips one, a history that
 * does not start with the creation or (for a final session) does not end in its status.
 */
export function historyProblems(events: SessionEvent[], status: string, transitions: Record<string, readonly string[]>): string[] {
  const problems: string[] = [];
  if (events.length === 0) return ['no history'];
  if (events[0].from !== null || events[0].to !== 'PENDING') problems.push(`begins ${events[0].from}→${events[0].to}, not with the creation (→ PENDING)`);
  for (let i = 1; i < events.length; i++) {
    const [prev, e] = [events[i - 1], events[i]];
    if (e.from !== prev.to) problems.push(`gap: ${prev.from}→${prev.to} then ${e.from}→${e.to}`);
    else if (e.from === null || !transitions[e.from]?.includes(e.to)) problems.push(`forbidden ${e.from}→${e.to} (${e.reason})`);
    if (e.attempt < prev.attempt) problems.push(`attempt ${prev.attempt} then ${e.attempt}`);
    if (e.attempt > prev.attempt + 1) problems.push(`attempt ${prev.attempt} then ${e.attempt} (skipped)`);
  }
  const last = events[events.length - 1];
  if (FINAL_SESSION.has(status) && last.to !== status) problems.push(`history ends in ${last.to}, the session is ${status}`);
  return problems;
}

/** The files a prompt asks the rehearsal model to write (its [[write path]]content[[/write]] blocks). */
export function expectedFiles(prompt: string): ExpectedFile[] {
  return [...prompt.matchAll(/\[\[write\s+([^\]\n]+?)\s*\]\]([\s\S]*?)\[\[\/write\]\]/g)].map((m) => ({ path: m[1], content: m[2] }));
}

/** A file at a commit of a repository; undefined when it is not there. */
function fileAtCommit(repository: string, commit: string, path: string): string | undefined {
  try {
    return execFileSync('git', ['-C', repository, 'cat-file', '-p', `${commit}:${path}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

export interface MissingFile {
  what: string;
  path: string;
  why: string;
}

/**
 * Files a COMPLETED session was asked to write that are not where they belong with the content
 * asked for: in the workspace (a shared session) or in the head commit of its branch (a worktree
 * session: the commit stays after a plan merged and deleted the branch).
 */
export function missingSessionFiles(s: SessionView): MissingFile[] {
  const missing: MissingFile[] = [];
  for (const file of expectedFiles(s.prompt)) {
    let found: string | undefined;
    let where: string;
    if (s.isolation === 'worktree') {
      where = s.changes ? `commit ${s.changes.headCommit.slice(0, 10)} of ${s.changes.branch}` : 'its branch (no changes recorded)';
      const inRepo = join(s.worktree?.subdirectory ?? '', file.path);
      if (s.changes && s.worktree) found = fileAtCommit(s.worktree.repository, s.changes.headCommit, inRepo);
    } else {
      where = 'the workspace';
      const path = join(s.workspace, file.path);
      found = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    }
    if (found !== file.content) missing.push({ what: `session ${s.id.slice(0, 8)} (${s.title})`, path: file.path, why: found === undefined ? `not in ${where}` : `different content in ${where}` });
  }
  return missing;
}

/** Files of a COMPLETED plan's tasks missing from the head of its integration branch. */
export function missingPlanFiles(plan: PlanView, files: Record<string, ExpectedFile>): MissingFile[] {
  const missing: MissingFile[] = [];
  for (const file of Object.values(files)) {
    const found = plan.branch?.headCommit ? fileAtCommit(plan.branch.repository, plan.branch.headCommit, file.path) : undefined;
    if (found !== file.content) {
      missing.push({ what: `plan ${plan.id.slice(0, 8)}`, path: file.path, why: found === undefined ? `not on ${plan.branch?.name ?? 'its branch (none)'}` : 'different content' });
    }
  }
  return missing;
}

interface OpencodeSessionInfo {
  id: string;
  title: string;
  directory: string;
  time: { created: number };
}

export interface PromptCheck {
  /** Orchestrator sessions whose turns were looked at (every one that reached RUNNING). */
  checked: number;
  /** OpenCode sessions found with a soak session's title. */
  opencodeSessions: number;
  /** User messages found in those OpenCode sessions. */
  prompts: number;
  /** One attempt of one session whose prompt reached OpenCode more than once. */
  duplicates: Array<{ sessionId: string; title: string; attempt: number; prompts: number }>;
  /** Sessions whose current OpenCode session was not found: their prompts could not be counted. */
  unverifiable: string[];
}

/**
 * Counts the prompts each attempt of each session sent to OpenCode, the way
 * apps/api/test/worker-loss.e2e-spec.ts checks "not re-sent": the user messages of its OpenCode
 * sessions. OpenCode sessions are found by title (the orchestrator names each after its session,
 * and every soak title is unique) over every directory the run used (the query lists one
 * directory's sessions, the header a whole project's), and assigned to the attempt under way when
 * they were made (the history's first event of each attempt).
 */
export async function countPrompts(
  endpoint: { baseUrl: string; password?: string },
  directories: string[],
  sessions: SessionView[],
  histories: Map<string, SessionEvent[]>,
): Promise<PromptCheck> {
  const http = axios.create({ baseURL: endpoint.baseUrl, timeout: 60_000, auth: endpoint.password ? { username: 'opencode', password: endpoint.password } : undefined });
  // OpenCode may be slow to answer on a loaded machine: each read is tried a few times.
  const get = async <T>(url: string, config: AxiosRequestConfig): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await http.get<T>(url, config)).data;
      } catch (err) {
        if (attempt >= 4) throw err;
        await new Promise((resolve) => setTimeout(resolve, 2_000 * attempt));
      }
    }
  };
  const byId = new Map<string, OpencodeSessionInfo>();
  for (const directory of directories) {
    for (const request of [{ params: { directory } }, { headers: { 'x-opencode-directory': directory } }]) {
      for (const info of await get<OpencodeSessionInfo[]>('/session', request)) byId.set(info.id, info);
    }
  }
  const byTitle = new Map<string, OpencodeSessionInfo[]>();
  for (const info of byId.values()) byTitle.set(info.title, [...(byTitle.get(info.title) ?? []), info]);

  const result: PromptCheck = { checked: 0, opencodeSessions: 0, prompts: 0, duplicates: [], unverifiable: [] };
  for (const s of sessions) {
    const events = histories.get(s.id) ?? [];
    if (!events.some((e) => e.to === 'RUNNING')) continue;
    result.checked++;
    const found = byTitle.get(s.title) ?? [];
    if (s.opencodeSessionId && !found.some((f) => f.id === s.opencodeSessionId)) {
      result.unverifiable.push(s.id);
      continue;
    }
    result.opencodeSessions += found.length;
    const prompts = new Map<number, number>();
    for (const info of found) {
      const messages = await get<Array<{ info: { role: string } }>>(`/session/${encodeURIComponent(info.id)}/message`, { params: { directory: info.directory } });
      const users = messages.filter((m) => m.info.role === 'user').length;
      const attempt = attemptAt(events, info.time.created);
      prompts.set(attempt, (prompts.get(attempt) ?? 0) + users);
      result.prompts += users;
    }
    for (const [attempt, count] of prompts) if (count > 1) result.duplicates.push({ sessionId: s.id, title: s.title, attempt, prompts: count });
  }
  return result;
}

/** The attempt under way at `time` (epoch ms): the last one whose first event is not later. */
export function attemptAt(events: SessionEvent[], time: number): number {
  let attempt = 1;
  for (const e of events) if (Date.parse(e.at) <= time && e.attempt > attempt) attempt = e.attempt;
  return attempt;
}

/** The directories OpenCode may have served: the workspaces, and every worktree slot below WORKTREES_DIR. */
export function servedDirectories(workspaces: string[], worktreesDir: string): string[] {
  const slots: string[] = [];
  if (existsSync(worktreesDir)) {
    for (const repo of readdirSync(worktreesDir)) {
      const dir = join(worktreesDir, repo);
      try {
        for (const slot of readdirSync(dir, { withFileTypes: true })) if (slot.isDirectory() && slot.name.startsWith('slot-')) slots.push(join(dir, slot.name));
      } catch {
        // not a directory
      }
    }
  }
  return [...new Set([...workspaces, ...slots])];
}

export interface LatencyFigures {
  probes: number;
  /** Answers other than 2xx, and no answer at all. */
  failed: number;
  p50: number;
  p99: number;
  max: number;
}

/** Latency figures of probes (failed ones counted at the time they took). */
export function latencyFigures(samples: Array<{ ms: number; status: number }>): LatencyFigures {
  const ms = samples.map((s) => s.ms);
  return {
    probes: samples.length,
    failed: samples.filter((s) => s.status < 200 || s.status >= 300).length,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: ms.length ? Math.max(...ms) : 0,
  };
}

/** Prints a table: a header row, then rows, columns padded to their widest cell. */
export function printTable(title: string, columns: string[], rows: string[][]): void {
  console.log(`\n${title}`);
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd()}`;
  console.log(line(columns));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));
}
