import { CallDeadlines } from './call-deadlines';

/** A call that settles only when the test says so. */
function pendingCall<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Where a bounded call stands, read without awaiting it. */
function watch<T>(promise: Promise<T>) {
  const state: { settled: 'no' | 'resolved' | 'rejected'; value?: T; error?: Error } = { settled: 'no' };
  promise.then(
    (value) => Object.assign(state, { settled: 'resolved', value }),
    (error: Error) => Object.assign(state, { settled: 'rejected', error }),
  );
  return state;
}

describe('CallDeadlines', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const make = () => new CallDeadlines('Redis', () => Date.now()); // jest fakes Date.now with the timers

  it('passes on the answer of a call that answers in time, and forgets it', async () => {
    const deadlines = make();
    const call = pendingCall<string>();
    const bounded = watch(deadlines.bound(call.promise, 100));
    call.resolve('OK');
    await jest.advanceTimersByTimeAsync(0);
    expect(bounded).toEqual({ settled: 'resolved', value: 'OK' });
    expect(deadlines.size).toBe(0);
    await jest.advanceTimersByTimeAsync(1000);
    expect(bounded.settled).toBe('resolved');
  });

  it("passes on a call's own failure", async () => {
    const deadlines = make();
    const call = pendingCall<string>();
    const bounded = watch(deadlines.bound(call.promise, 100));
    call.reject(new Error('NOSCRIPT or whatever'));
    await jest.advanceTimersByTimeAsync(0);
    expect(bounded.settled).toBe('rejected');
    expect(bounded.error?.message).toBe('NOSCRIPT or whatever');
    expect(deadlines.size).toBe(0);
  });

  it('fails a call that has not answered once its time is up, not before', async () => {
    const deadlines = make();
    const call = pendingCall<string>();
    const bounded = watch(deadlines.bound(call.promise, 100));
    await jest.advanceTimersByTimeAsync(99);
    expect(bounded.settled).toBe('no');
    await jest.advanceTimersByTimeAsync(1);
    expect(bounded.settled).toBe('rejected');
    expect(bounded.error?.message).toBe('Redis did not answer within 100 ms');
    expect(deadlines.size).toBe(0);
    call.resolve('too late'); // an answer after the timeout changes nothing
    await jest.advanceTimersByTimeAsync(0);
    expect(bounded.settled).toBe('rejected');
  });

  it('keeps one timer for any number of pending calls, and fails each at its own time', async () => {
    const deadlines = make();
    const long = pendingCall<string>();
    const longBounded = watch(deadlines.bound(long.promise, 5000));
    const answered = Array.from({ length: 100 }, () => pendingCall<string>());
    const answeredBounded = answered.map((call) => watch(deadlines.bound(call.promise, 5000)));
    expect(jest.getTimerCount()).toBe(1);

    // A shorter bound than the armed one takes the timer over.
    const short = pendingCall<string>();
    const shortBounded = watch(deadlines.bound(short.promise, 50));
    expect(jest.getTimerCount()).toBe(1);
    answered.forEach((call, i) => call.resolve(`answer ${i}`));
    await jest.advanceTimersByTimeAsync(50);
    expect(shortBounded.settled).toBe('rejected');
    expect(longBounded.settled).toBe('no');
    expect(answeredBounded.every((b, i) => b.settled === 'resolved' && b.value === `answer ${i}`)).toBe(true);
    expect(deadlines.size).toBe(1);
    expect(jest.getTimerCount()).toBe(1); // armed again, for the long call

    await jest.advanceTimersByTimeAsync(4949);
    expect(longBounded.settled).toBe('no');
    await jest.advanceTimersByTimeAsync(1);
    expect(longBounded.error?.message).toBe('Redis did not answer within 5000 ms');
    expect(deadlines.size).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('does not arm a new timer for a call due after the armed one', async () => {
    const deadlines = make();
    const first = pendingCall<string>();
    watch(deadlines.bound(first.promise, 100));
    const spy = jest.spyOn(global, 'setTimeout');
    const later = pendingCall<string>();
    const laterBounded = watch(deadlines.bound(later.promise, 200));
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
    first.resolve('OK');
    // The timer fires at 100 ms for nothing due, and is armed again for the later call.
    await jest.advanceTimersByTimeAsync(150);
    expect(laterBounded.settled).toBe('no');
    await jest.advanceTimersByTimeAsync(50);
    expect(laterBounded.settled).toBe('rejected');
  });
});
