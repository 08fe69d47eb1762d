import { inRetentionBatches, retentionCutoff } from './retention';

describe('retention batches', () => {
  it('puts the cutoff the given days before now', () => {
    expect(retentionCutoff(new Date('2026-03-31T12:00:00Z'), 30)).toEqual(new Date('2026-03-01T12:00:00Z'));
  });

  it('runs batches until one comes back short: complete', async () => {
    const sizes = [3, 3, 1, 3];
    const batch = jest.fn(async () => sizes.shift()!);
    expect(await inRetentionBatches(batch, { batchSize: 3, maxBatches: 10 })).toBe(true);
    expect(batch).toHaveBeenCalledTimes(3);
  });

  it('stops at the batch cap, or when the signal fired between two batches: not complete', async () => {
    const full = jest.fn(async () => 3);
    expect(await inRetentionBatches(full, { batchSize: 3, maxBatches: 4 })).toBe(false);
    expect(full).toHaveBeenCalledTimes(4);

    const stop = new AbortController();
    const stopping = jest.fn(async () => (stop.abort(), 3));
    expect(await inRetentionBatches(stopping, { batchSize: 3, maxBatches: 4, signal: stop.signal })).toBe(false);
    expect(stopping).toHaveBeenCalledTimes(1);
  });
});
