/**
 * Group commit for the sender's hot statements. Callers that arrive while a flush is being written wait
 * together and go in the next one: one statement (and one commit) for all of them. Under a low rate a
 * flush holds one item and costs what a direct call costs; with hundreds of requests in flight it holds
 * dozens (B4: each message's state still durable before its request leaves and after its answer, at a
 * fraction of the statements).
 */
export class GroupCommit<I, R> {
  private queue: Array<{ item: I; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private flushing = false;
  private readonly flushFn: (items: I[]) => Promise<R[]>;
  private readonly max: number;

  /** `flushFn` gets the items of one flush and returns one result per item, in order. */
  constructor(flushFn: (items: I[]) => Promise<R[]>, max = 500) {
    this.flushFn = flushFn;
    this.max = max;
  }

  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.flushing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.max);
        try {
          const results = await this.flushFn(batch.map((b) => b.item));
          batch.forEach((b, i) => b.resolve(results[i]!));
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
