import { LruMap } from './lru-map.js';

describe('LruMap', () => {
  test('evicts the least recently used entry beyond capacity and returns it', () => {
    const map = new LruMap<number, string>(2);
    expect(map.set(1, 'a')).toBeUndefined();
    expect(map.set(2, 'b')).toBeUndefined();
    expect(map.get(1)).toBe('a'); // 1 is now the most recent
    expect(map.set(3, 'c')).toEqual([2, 'b']);
    expect(map.size).toBe(2);
    expect([...map.keys()]).toEqual([1, 3]);
  });

  test('replacing a key does not evict and delete returns the value', () => {
    const map = new LruMap<number, string>(2);
    map.set(1, 'a');
    map.set(2, 'b');
    expect(map.set(1, 'z')).toBeUndefined();
    expect(map.delete(1)).toBe('z');
    expect(map.delete(1)).toBeUndefined();
    expect(map.has(2)).toBe(true);
  });

  test('the most recently used shortcut never returns a deleted or replaced entry', () => {
    const map = new LruMap<bigint, string>(3);
    map.set(1n, 'a');
    expect(map.get(1n)).toBe('a');
    expect(map.delete(1n)).toBe('a');
    expect(map.get(1n)).toBeUndefined();
    map.set(2n, 'b');
    map.set(2n, 'c');
    expect(map.get(2n)).toBe('c');
  });

  test('capacity must be a positive integer', () => {
    expect(() => new LruMap(0)).toThrow(RangeError);
  });
});
