const DAY_MS = 24 * 3600_000;

/** What finished before this instant is due for retention `days` after `now`. */
export function retentionCutoff(now: Date, days: number): Date {
  return new Date(now.getTime() - days * DAY_MS);
}

/** Bounds of one retention run: batches of `batchSize`, at most `maxBatches`, stopped between two by `signal`. */
export interface RetentionBatches {
  batchSize: number;
  maxBatches: number;
  signal?: AbortSignal;
}

/**
 * Runs `batch` (which looks at up to `batchSize` items and says how many it looked at) until one
 * looks at fewer than `batchSize`, the batch cap is reached or `signal` fires between two. Whether
 * the run got through everything due (false: the cap or the signal left work for the next run).
 */
export async function inRetentionBatches(batch: () => Promise<number>, { batchSize, maxBatches, signal }: RetentionBatches): Promise<boolean> {
  for (let n = 0; n < maxBatches && !signal?.aborted; n++) {
    if ((await batch()) < batchSize) return true;
  }
  return false;
}
