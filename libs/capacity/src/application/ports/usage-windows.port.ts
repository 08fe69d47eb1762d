/** Requests (steps) per minute, or tokens per minute. */
export type WindowMetric = 'rpm' | 'tpm';

/** A rule's one-minute window of a metric: its pattern and its limit. */
export interface UsageWindow {
  pattern: string;
  limit: number;
}

export interface WindowState {
  pattern: string;
  limit: number;
  /** counted in the current window (may exceed the limit: what was recorded after the fact) */
  used: number;
  /** until the window resets; 0 when no window is open */
  resetInMs: number;
}

/**
 * One-minute fixed windows shared by every worker: a window opens with its first count and
 * resets 60 s later.
 */
export interface UsageWindowsPort {
  /**
   * Counts `amount` in every window unless one has no room for it: then nothing stays counted
   * and that window is answered.
   */
  take(metric: WindowMetric, windows: UsageWindow[], amount: number): Promise<WindowState | undefined>;
  /** Counts `amount` in every window, room or not (what happened already). */
  add(metric: WindowMetric, windows: UsageWindow[], amount: number): Promise<void>;
  /** Uncounts `amount` (a take undone). */
  giveBack(metric: WindowMetric, windows: UsageWindow[], amount: number): Promise<void>;
  /** The windows as they are now, in the given order. */
  read(metric: WindowMetric, windows: UsageWindow[]): Promise<WindowState[]>;
}

export const USAGE_WINDOWS = Symbol('USAGE_WINDOWS');
