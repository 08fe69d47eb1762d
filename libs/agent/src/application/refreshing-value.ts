/**
 * A value read from storage and reused for `ttlMs`. When it is older, the next reader gets it
 * at once while a refresh runs in the background (stale-while-revalidate), so no request waits
 * for a reload; only the first read, and a read after `clear()`, waits. A failed load is not kept.
 */
export class RefreshingValue<T> {
  private value?: { at: number; data: T };
  private loading?: Promise<T>;
  private generation = 0;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly ttlMs: number,
  ) {}

  get(): Promise<T> | T {
    const current = this.value;
    if (!current) return this.refresh();
    if (Date.now() - current.at >= this.ttlMs) void this.refresh().catch(() => undefined);
    return current.data;
  }

  /** The next read reloads in the background (figures changed; a slightly old value is fine). */
  markStale(): void {
    if (this.value) this.value.at = -Infinity;
  }

  /** The next read waits for a reload (the set of agents changed; an old value would be wrong). */
  clear(): void {
    this.value = undefined;
    this.loading = undefined;
    this.generation++;
  }

  private refresh(): Promise<T> {
    if (this.loading) return this.loading;
    const generation = this.generation;
    const startedAt = Date.now();
    const loading = this.load().then(
      (data) => {
        if (generation === this.generation) this.value = { at: startedAt, data };
        if (this.loading === loading) this.loading = undefined;
        return data;
      },
      (err: unknown) => {
        if (this.loading === loading) this.loading = undefined;
        throw err;
      },
    );
    this.loading = loading;
    return loading;
  }
}
