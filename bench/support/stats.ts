/** Runs task(0..count-1) on `concurrency` lanes; each call also gets its lane number. */
export async function runPool(
  count: number,
  concurrency: number,
  task: (i: number, lane: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async (_, lane) => {
    while (next < count) {
      const i = next++;
      await task(i, lane);
    }
  });
  await Promise.all(lanes);
}

/** Nearest-rank percentile of the values (0 for none). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}
