// A Map with a capacity that evicts its least recently used entry. Used to bound the receiver's key set
// (and the replay windows it keeps for evicted keys) so a stream of KIDs cannot grow memory without end.
// JavaScript Maps iterate in insertion order, so re-inserting on use keeps the oldest entry first.

export class LruMap<K, V> {
  readonly capacity: number;
  readonly #entries = new Map<K, V>();
  /** The most recently used entry, so repeated use of one key (every frame of a stream) skips the
   * delete-and-reinsert. */
  #newestKey: K | undefined;
  #newestValue: V | undefined;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('LRU capacity must be a positive integer');
    this.capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** The value, marking the entry most recently used. */
  get(key: K): V | undefined {
    if (this.#newestValue !== undefined && key === this.#newestKey) return this.#newestValue;
    const value = this.#entries.get(key);
    if (value === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    this.#newestKey = key;
    this.#newestValue = value;
    return value;
  }

  /** Inserts or replaces as most recently used; returns the entry evicted to stay within capacity, if any. */
  set(key: K, value: V): [K, V] | undefined {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    this.#newestKey = key;
    this.#newestValue = value;
    if (this.#entries.size <= this.capacity) return undefined;
    const oldest = this.#entries.entries().next();
    if (oldest.done) return undefined;
    const [oldestKey, oldestValue] = oldest.value;
    this.#entries.delete(oldestKey);
    return [oldestKey, oldestValue];
  }

  /** Removes and returns the value, if present. */
  delete(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) this.#entries.delete(key);
    if (key === this.#newestKey) {
      this.#newestKey = undefined;
      this.#newestValue = undefined;
    }
    return value;
  }

  keys(): IterableIterator<K> {
    return this.#entries.keys();
  }
}
