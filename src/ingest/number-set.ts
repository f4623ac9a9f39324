/**
 * A set of E.164 numbers (their digits as a double: 15 digits < 2^53, so exact), for duplicate detection
 * over a whole file. An open-addressing table in a Float64Array costs 16 bytes a number at most; a JS
 * Set<number> of the same million numbers costs about 50 MB of heap (a boxed double plus an entry each).
 * 0 marks an empty slot: no phone number is 0.
 */
export class NumberSet {
  private table: Float64Array;
  private mask: number;
  private count = 0;

  constructor(capacity = 1 << 16) {
    let size = 16;
    while (size < capacity * 2) size <<= 1;
    this.table = new Float64Array(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  private slot(key: number): number {
    // Mix the high and low halves of the integer (Fibonacci hashing) to spread numbers that share a prefix.
    const lo = key % 4294967296;
    const hi = Math.floor(key / 4294967296);
    let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    let i = h & this.mask;
    const t = this.table;
    while (t[i] !== 0 && t[i] !== key) i = (i + 1) & this.mask;
    return i;
  }

  has(key: number): boolean {
    return this.table[this.slot(key)] === key;
  }

  /** Adds `key`; returns false when it was already there. */
  add(key: number): boolean {
    const i = this.slot(key);
    if (this.table[i] === key) return false;
    this.table[i] = key;
    if (++this.count * 2 > this.table.length) this.grow();
    return true;
  }

  /** Removes `key` (for rolling back a chunk whose transaction failed). */
  delete(key: number): void {
    let i = this.slot(key);
    if (this.table[i] !== key) return;
    // Backward-shift deletion keeps every probe chain intact without tombstones.
    const t = this.table;
    t[i] = 0;
    this.count--;
    let j = (i + 1) & this.mask;
    while (t[j] !== 0) {
      const k = t[j]!;
      t[j] = 0;
      this.count--;
      this.add(k);
      j = (j + 1) & this.mask;
    }
  }

  private grow(): void {
    const old = this.table;
    this.table = new Float64Array(old.length * 2);
    this.mask = this.table.length - 1;
    this.count = 0;
    for (const k of old) if (k !== 0) this.add(k);
  }
}
