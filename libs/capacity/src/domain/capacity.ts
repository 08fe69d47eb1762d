/** Why a session was not let in now. */
export type ThrottleReason = 'concurrency' | 'rpm' | 'tpm' | 'cooldown' | 'unavailable';
export const THROTTLE_REASONS: readonly ThrottleReason[] = ['concurrency', 'rpm', 'tpm', 'cooldown', 'unavailable'];

/** What an admitted session holds until it releases (or stops renewing) it. */
export interface CapacityPermit {
  sessionId: string;
  model: string;
  /** patterns of the concurrency buckets held */
  rules: string[];
}

export type Admission =
  | { admitted: true; permit: CapacityPermit }
  | {
      admitted: false;
      reason: ThrottleReason;
      /** the rule pattern, or the model for cooldown/unavailable */
      rule: string;
      retryInMs: number;
      until?: Date;
      message: string;
    };

/** A model held back for every session: cooling down after a 429, or unavailable (quota exhausted). */
export type ModelMarkKind = 'cooldown' | 'unavailable';

export interface ModelMark {
  model: string;
  kind: ModelMarkKind;
  until: Date;
  why: string;
}

export interface ConcurrencyUsage {
  limit: number;
  inUse: number;
  /** sessionIds holding a slot now */
  holders: string[];
  /** sessions refused a slot lately, still asking */
  waiting: number;
}

export interface WindowUsage {
  limit: number;
  /** counted in the current one-minute window (at most the limit) */
  used: number;
  /** until the window resets; 0 when none is open */
  resetInMs: number;
}

export interface CapacityRuleStatus {
  pattern: string;
  concurrency?: ConcurrencyUsage;
  rpm?: WindowUsage;
  tpm?: WindowUsage;
}

export interface CapacityStatus {
  rules: CapacityRuleStatus[];
  marks: ModelMark[];
}

