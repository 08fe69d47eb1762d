import { analyseGraph } from './dag';
import { compareBySlackThenKey, listSchedule, pickReady } from './scheduling';

describe('pickReady', () => {
  it('takes the least slack first, ties by key, at most `free`', () => {
    const slack = { a: 5, b: 0, c: 5, d: 2 };
    expect(pickReady(['c', 'a', 'd', 'b'], slack, 3)).toEqual(['b', 'd', 'a']);
    expect(pickReady(['c', 'a', 'd', 'b'], new Map(Object.entries(slack)), 10)).toEqual(['b', 'd', 'a', 'c']);
  });

  it('starts nothing without a free agent, and puts keys without a slack last', () => {
    expect(pickReady(['a'], { a: 0 }, 0)).toEqual([]);
    expect(pickReady(['x', 'a', 'toString'], { a: 3 }, 3)).toEqual(['a', 'toString', 'x']);
  });

  it('orders keys by code unit, not by locale', () => {
    expect(compareBySlackThenKey(0, 'B', 0, 'a')).toBeLessThan(0);
    expect(compareBySlackThenKey(1, 'a', 0, 'b')).toBeGreaterThan(0);
  });
});

describe('listSchedule', () => {
  it('starts each task when an agent frees up, least slack first', () => {
    // a(5), b(5), c(1) → d(10); slack a=b=6, c=d=0.
    const keys = ['a', 'b', 'c', 'd'];
    const graph = analyseGraph(keys, [[], [], [], ['c']], [5, 5, 1, 10]);
    const two = listSchedule(graph, keys, 2);
    expect(Array.from(two.start)).toEqual([0, 5, 0, 1]);
    expect(two.minimumMinutes).toBe(11);
    const one = listSchedule(graph, keys, 1);
    // c (slack 0) first, then d (0), then a and b.
    expect(Array.from(one.start)).toEqual([11, 16, 0, 1]);
    expect(one.minimumMinutes).toBe(21);
    expect(listSchedule(graph, keys, 4).minimumMinutes).toBe(11);
  });
});
