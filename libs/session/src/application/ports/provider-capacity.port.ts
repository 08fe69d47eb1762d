/** What a run needs from provider capacity control (adapter: ProviderCapacityAdapter over @app/capacity). */

export interface CapacityPermitRef {
  sessionId: string;
  model: string;
  rules: string[];
}

export type CapacityAdmission =
  | { admitted: true; permit: CapacityPermitRef }
  | {
      admitted: false;
      /** concurrency, rpm, tpm, cooldown, unavailable */
      reason: string;
      rule: string;
      retryInMs: number;
      until?: Date;
      message: string;
    };

export interface ProviderCapacityPort {
  /** One admission decision for a run on `model`; idempotent per session. */
  admit(request: { sessionId: string; model: string }): Promise<CapacityAdmission>;
  renew(permit: CapacityPermitRef): Promise<void>;
  release(permit: CapacityPermitRef): Promise<void>;
  /** A model step finished: counts toward rpm and tpm windows. */
  recordStep(model: string, tokens: number, options?: { firstStep?: boolean }): Promise<void>;
  /** The provider rate-limited a turn: the model cools down; returns how long the throttled run should wait. */
  rateLimited(model: string, retryAfterMs?: number): Promise<number>;
  /** The model's quota is exhausted: unavailable until the date returned. */
  quotaExhausted(model: string, until?: Date, why?: string): Promise<Date>;
  /** The models of the list that are neither unavailable nor cooling down, in order. */
  usable(models: string[]): Promise<string[]>;
}

export const PROVIDER_CAPACITY = Symbol('PROVIDER_CAPACITY');
