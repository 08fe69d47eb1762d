/** Which limit refused a stream: the process's (MAX_EVENT_STREAMS) or the caller's (MAX_EVENT_STREAMS_PER_KEY). */
export type EventStreamLimit = 'process' | 'key';

export interface EventStreamLimits {
  /** Streams open at once on this process. */
  max: number;
  /** Streams open at once on this process for one caller (API key). */
  maxPerKey: number;
}

/** A slot taken: release it when the stream closes (once is enough; later calls do nothing). */
export interface EventStreamSlot {
  readonly granted: true;
  release(): void;
}

export interface EventStreamRefusal {
  readonly granted: false;
  readonly limit: EventStreamLimit;
  /** The limit's value, reached. */
  readonly max: number;
}

/**
 * The event streams open on this process, in all and per caller, against their limits: a stream
 * takes a slot before anything is written and gives it back when it closes, however it closes.
 * Plain counting, no I/O; `onChange` hears the number open after every change.
 */
export class EventStreamSlots {
  private openCount = 0;
  private readonly byKey = new Map<string, number>();

  constructor(
    private readonly limits: EventStreamLimits,
    private readonly onChange: (open: number) => void = () => undefined,
  ) {}

  get open(): number {
    return this.openCount;
  }

  openFor(key: string): number {
    return this.byKey.get(key) ?? 0;
  }

  /** A slot for one more stream of `key`, or the limit that refuses it (the process's first). */
  take(key: string): EventStreamSlot | EventStreamRefusal {
    if (this.openCount >= this.limits.max) return { granted: false, limit: 'process', max: this.limits.max };
    const ofKey = this.openFor(key);
    if (ofKey >= this.limits.maxPerKey) return { granted: false, limit: 'key', max: this.limits.maxPerKey };
    this.openCount++;
    this.byKey.set(key, ofKey + 1);
    this.onChange(this.openCount);
    let released = false;
    return {
      granted: true,
      release: () => {
        if (released) return;
        released = true;
        this.openCount--;
        const left = this.openFor(key) - 1;
        if (left > 0) this.byKey.set(key, left);
        else this.byKey.delete(key);
        this.onChange(this.openCount);
      },
    };
  }
}
