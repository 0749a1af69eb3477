/**
 * Hashes of `dlk_` keys the database did not know, remembered for a while so repeated guesses cost no
 * query. Bounded: past `maxEntries` the oldest entry goes first, so a flood of distinct guesses cannot
 * grow memory (those are stopped by the address throttle instead). A key is 256 random bits, so a hash
 * remembered here cannot belong to a key created meanwhile.
 */
export interface UnknownKeyCacheOptions {
  ttlMs?: number;
  maxEntries?: number;
  clock?: () => number;
}

export class UnknownKeyCache {
  private readonly until = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: UnknownKeyCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.clock ?? Date.now;
  }

  has(hash: string): boolean {
    const until = this.until.get(hash);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.until.delete(hash);
    return false;
  }

  add(hash: string): void {
    // Re-inserted at the end, so the Map's order stays oldest first.
    this.until.delete(hash);
    this.until.set(hash, this.now() + this.ttlMs);
    while (this.until.size > this.maxEntries) this.until.delete(this.until.keys().next().value!);
  }

  get size(): number {
    return this.until.size;
  }
}
