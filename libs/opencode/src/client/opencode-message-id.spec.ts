import { newOpencodeMessageId, OPENCODE_MESSAGE_ID_PATTERN } from './opencode-message-id';

describe('newOpencodeMessageId', () => {
  it('follows OpenCode shape: msg_ + 12 hex of (ms*4096+counter) + 14 base62', () => {
    const id = newOpencodeMessageId(1_795_510_579_062);
    expect(id).toMatch(OPENCODE_MESSAGE_ID_PATTERN);
    // 1795510579062 * 4096 + counter, low 48 bits, starts like the ids OpenCode created at that time.
    expect(id.slice(4, 14)).toBe((((1_795_510_579_062n * 4096n) & ((1n << 48n) - 1n)) >> 8n).toString(16).padStart(10, '0'));
  });

  it('is unique and sorts in creation order within a millisecond and across milliseconds', () => {
    const t = Date.now() + 10_000;
    const ids = [
      ...Array.from({ length: 500 }, () => newOpencodeMessageId(t)),
      ...Array.from({ length: 5 }, () => newOpencodeMessageId(t + 1)),
    ];
    expect(new Set(ids).size).toBe(ids.length);
    const prefixes = ids.map((id) => id.slice(0, 16));
    expect([...prefixes].sort()).toEqual(prefixes);
  });

  it('never goes backwards when the clock does', () => {
    const a = newOpencodeMessageId(Date.now() + 20_000);
    const b = newOpencodeMessageId(Date.now());
    expect(b.slice(0, 16) > a.slice(0, 16)).toBe(true);
  });
});
