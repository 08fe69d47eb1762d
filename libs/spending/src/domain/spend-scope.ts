/** What a budget is kept for: one run attempt's session, a plan, an agent (per UTC day), an API key (per UTC day). */
export type SpendScope = 'SESSION' | 'PLAN' | 'AGENT' | 'KEY';
export const SPEND_SCOPES: readonly SpendScope[] = ['SESSION', 'PLAN', 'AGENT', 'KEY'];

/** The scopes whose budgets are stored on their own entities and copied here through setLimit. */
export type LimitScope = Exclude<SpendScope, 'SESSION'>;
export const LIMIT_SCOPES: readonly LimitScope[] = ['PLAN', 'AGENT', 'KEY'];

/** The ledger's day of the rows kept for all time (SESSION, PLAN). */
export const ALL_TIME_DAY = '1970-01-01';

/** The UTC calendar day of an instant, 'YYYY-MM-DD'. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** True for a real calendar day written 'YYYY-MM-DD'. */
export function isUtcDay(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const parsed = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && utcDay(parsed) === value;
}

/** Whether a scope's spending is counted per UTC day (AGENT, KEY) rather than for all time. */
export function isDaily(scope: SpendScope): boolean {
  return scope === 'AGENT' || scope === 'KEY';
}

/** The ledger row's day for a scope: today's (or the given) UTC day for daily scopes, ALL_TIME_DAY for the others. */
export function ledgerDayOf(scope: SpendScope, day: string): string {
  return isDaily(scope) ? day : ALL_TIME_DAY;
}

/** One row of the ledger: a scope's spending on a day. */
export interface LedgerKey {
  scope: SpendScope;
  scopeId: string;
  day: string;
}

/** What a run of these scopes adds to, on this instant's UTC day (absent scopes have no row). */
export interface RunLedgerIds {
  sessionId: string;
  planId: string | null;
  agentId: string | null;
  keyId: string | null;
}

/**
 * The ledger rows one increase of a run goes to, in one fixed order (scope, then id), so that
 * concurrent transactions lock shared rows (a plan's) in the same order and cannot deadlock.
 */
export function ledgerKeysOf(ids: RunLedgerIds, at: Date): LedgerKey[] {
  const today = utcDay(at);
  const candidates: Array<[SpendScope, string | null]> = [
    ['SESSION', ids.sessionId],
    ['PLAN', ids.planId],
    ['AGENT', ids.agentId],
    ['KEY', ids.keyId],
  ];
  return candidates
    .filter((c): c is [SpendScope, string] => c[1] !== null && c[1] !== '')
    .map(([scope, scopeId]) => ({ scope, scopeId, day: ledgerDayOf(scope, today) }))
    .sort(compareLedgerKeys);
}

export function compareLedgerKeys(a: LedgerKey, b: LedgerKey): number {
  return a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : a.scopeId < b.scopeId ? -1 : a.scopeId > b.scopeId ? 1 : a.day < b.day ? -1 : a.day > b.day ? 1 : 0;
}
