/**
 * Why a session exists: a caller asked for it (`api`), or a plan's scheduler made it for one of
 * the plan's tasks (`plan`; `retryOf` is the failed session a Debugger retry follows up). Set at
 * creation, never changed.
 */
export type SessionOrigin = ApiOrigin | PlanOrigin;

export interface ApiOrigin {
  kind: 'api';
}

export interface PlanOrigin {
  kind: 'plan';
  planId: string;
  taskKey: string;
  retryOf: string | null;
}

export const API_ORIGIN: ApiOrigin = Object.freeze({ kind: 'api' });
