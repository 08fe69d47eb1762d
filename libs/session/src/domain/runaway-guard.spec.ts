import { RunawayGuard } from './runaway-guard';

const limits = { maxSteps: 3, doomLoopRepeats: 3, noProgressMs: 10_000 };

describe('RunawayGuard', () => {
  it('stops at the step limit, not before', () => {
    const guard = new RunawayGuard(limits, 0);
    expect(guard.observe({ kind: 'step', steps: 1 }, 1)).toBeNull();
    expect(guard.observe({ kind: 'step', steps: 2 }, 2)).toBeNull();
    expect(guard.observe({ kind: 'step', steps: 3 }, 3)).toEqual(expect.objectContaining({ code: 'STEP_LIMIT' }));
  });

  it('stops when the same call repeats, counting each call once whatever its status changes', () => {
    const guard = new RunawayGuard(limits, 0);
    expect(guard.observe({ kind: 'tool', callId: 'a', tool: 'bash', signature: 's1' })).toBeNull();
    expect(guard.observe({ kind: 'tool', callId: 'a', tool: 'bash', signature: 's1' })).toBeNull();
    expect(guard.observe({ kind: 'tool', callId: 'b', tool: 'bash', signature: 's2' })).toBeNull();
    expect(guard.observe({ kind: 'tool', callId: 'c', tool: 'bash', signature: 's1' })).toBeNull();
    const stop = guard.observe({ kind: 'tool', callId: 'd', tool: 'bash', signature: 's1' });
    expect(stop).toEqual(expect.objectContaining({ code: 'DOOM_LOOP' }));
    expect(stop?.message).toContain('bash');
  });

  it('ignores calls without a signature yet', () => {
    const guard = new RunawayGuard({ ...limits, doomLoopRepeats: 2 }, 0);
    expect(guard.observe({ kind: 'tool', callId: 'a', tool: 'bash' })).toBeNull();
    expect(guard.observe({ kind: 'tool', callId: 'b', tool: 'bash' })).toBeNull();
  });

  it('stops after the silence limit, and not while a person is asked', () => {
    const guard = new RunawayGuard(limits, 0);
    expect(guard.check(9_999)).toBeNull();
    expect(guard.check(10_000)).toEqual(expect.objectContaining({ code: 'NO_PROGRESS' }));
    guard.observe({ kind: 'other' }, 10_000);
    guard.pause(11_000);
    expect(guard.check(50_000)).toBeNull();
    guard.resume(50_000);
    expect(guard.check(59_999)).toBeNull();
    expect(guard.check(60_000)).toEqual(expect.objectContaining({ code: 'NO_PROGRESS' }));
  });
});
