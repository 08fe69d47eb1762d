import { EventStreamSlot, EventStreamSlots } from './event-stream-slots';

function granted(answer: ReturnType<EventStreamSlots['take']>): EventStreamSlot {
  if (!answer.granted) throw new Error(`refused by the ${answer.limit} limit`);
  return answer;
}

describe('EventStreamSlots', () => {
  it('grants up to the per-key limit for one key, then refuses that key but not another', () => {
    const slots = new EventStreamSlots({ max: 10, maxPerKey: 2 });
    granted(slots.take('key-a'));
    granted(slots.take('key-a'));
    expect(slots.take('key-a')).toEqual({ granted: false, limit: 'key', max: 2 });
    granted(slots.take('key-b'));
    expect(slots.open).toBe(3);
    expect(slots.openFor('key-a')).toBe(2);
  });

  it('refuses every key once the process limit is reached, naming the process limit first', () => {
    const slots = new EventStreamSlots({ max: 3, maxPerKey: 2 });
    granted(slots.take('a'));
    granted(slots.take('a'));
    granted(slots.take('b'));
    expect(slots.take('c')).toEqual({ granted: false, limit: 'process', max: 3 });
    expect(slots.take('a')).toEqual({ granted: false, limit: 'process', max: 3 });
  });

  it('frees a slot on release, once however often it is released, for the key and the process', () => {
    const changes: number[] = [];
    const slots = new EventStreamSlots({ max: 2, maxPerKey: 1 }, (open) => changes.push(open));
    const a = granted(slots.take('a'));
    granted(slots.take('b'));
    expect(slots.take('c').granted).toBe(false);
    a.release();
    a.release();
    expect(slots.open).toBe(1);
    expect(slots.openFor('a')).toBe(0);
    granted(slots.take('a'));
    expect(slots.take('a')).toEqual({ granted: false, limit: 'process', max: 2 });
    expect(changes).toEqual([1, 2, 1, 2]);
  });

  it('never counts a refused take', () => {
    const changes: number[] = [];
    const slots = new EventStreamSlots({ max: 1, maxPerKey: 1 }, (open) => changes.push(open));
    const first = granted(slots.take('a'));
    for (let i = 0; i < 5; i++) expect(slots.take(i % 2 ? 'a' : 'b').granted).toBe(false);
    first.release();
    expect(slots.open).toBe(0);
    expect(changes).toEqual([1, 0]);
  });
});
