import { ALL_TIME_DAY, isUtcDay, ledgerDayOf, ledgerKeysOf, utcDay } from './spend-scope';

describe('spend scopes', () => {
  it('keys a day by UTC, whatever the local offset of the instant written', () => {
    expect(utcDay(new Date('2026-03-01T23:59:59.999Z'))).toBe('2026-03-01');
    expect(utcDay(new Date('2026-03-02T00:30:00+02:00'))).toBe('2026-03-01');
  });

  it('accepts only real days written YYYY-MM-DD', () => {
    expect(isUtcDay('2026-02-28')).toBe(true);
    expect(isUtcDay('2026-02-30')).toBe(false);
    expect(isUtcDay('2026-2-3')).toBe(false);
    expect(isUtcDay('today')).toBe(false);
  });

  it('counts agents and keys per day, sessions and plans for all time', () => {
    expect(ledgerDayOf('AGENT', '2026-01-02')).toBe('2026-01-02');
    expect(ledgerDayOf('KEY', '2026-01-02')).toBe('2026-01-02');
    expect(ledgerDayOf('PLAN', '2026-01-02')).toBe(ALL_TIME_DAY);
    expect(ledgerDayOf('SESSION', '2026-01-02')).toBe(ALL_TIME_DAY);
  });

  it('lists the rows of a run in one fixed order, without the scopes it has not', () => {
    const at = new Date('2026-01-02T10:00:00Z');
    expect(ledgerKeysOf({ sessionId: 's', planId: 'p', agentId: 'a', keyId: 'k' }, at)).toEqual([
      { scope: 'AGENT', scopeId: 'a', day: '2026-01-02' },
      { scope: 'KEY', scopeId: 'k', day: '2026-01-02' },
      { scope: 'PLAN', scopeId: 'p', day: ALL_TIME_DAY },
      { scope: 'SESSION', scopeId: 's', day: ALL_TIME_DAY },
    ]);
    expect(ledgerKeysOf({ sessionId: 's', planId: null, agentId: null, keyId: null }, at)).toEqual([
      { scope: 'SESSION', scopeId: 's', day: ALL_TIME_DAY },
    ]);
  });
});
