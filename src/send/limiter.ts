import Bottleneck from 'bottleneck';

/** A slot to send one request. Call `depart()` right before the request is written, or `cancel()`. */
export interface Grant {
  depart(): void;
  cancel(): void;
}

interface Slot {
  /** When the request left (performance.now() ms); -Infinity for a slot never used or cancelled. */
  at: number;
  /** Set while granted but not yet departed: the next user of this slot waits for it. */
  settled: Promise<void> | null;
}

/**
 * Never more than `rps` requests in ANY rolling 1,000 ms window, counted when a request leaves.
 *
 * Bottleneck's `minTime` spaces *scheduled* start times; a timer that fires late (event-loop lag) lets the
 * next ones go back to back, and `minTime: 20` was measured to let 51 through in a rolling second
 * (shared/notes/libraries.md §2.1). So Bottleneck paces the stream evenly, and a ring of the last `rps`
 * departure times makes the guarantee exact: slot i+rps is granted only once request i has left (or was
 * cancelled) and at least 1,000 ms have passed since. Recording the departure, not the grant, keeps the
 * guarantee when the work between grant and write (recording the attempt) takes a variable time.
 */
export class RateLimiter {
  readonly rps: number;
  private readonly bottleneck: Bottleneck;
  private readonly ring: Slot[];
  private next = 0;
  private waitedMs = 0;

  constructor(rps: number) {
    this.rps = Math.max(1, Math.floor(rps));
    this.ring = Array.from({ length: this.rps }, () => ({ at: -Infinity, settled: null }));
    this.bottleneck = new Bottleneck({ maxConcurrent: 1, minTime: Math.floor(1000 / this.rps) });
  }

  /** Total time callers spent waiting for a slot (for metrics). */
  get waitedTotalMs(): number {
    return this.waitedMs;
  }

  /** Resolves with a grant when one request may leave; rejects with the signal's reason if aborted first. */
  async acquire(signal?: AbortSignal): Promise<Grant> {
    signal?.throwIfAborted();
    const t0 = performance.now();
    const grant = await this.bottleneck.schedule(() => this.take(signal));
    this.waitedMs += performance.now() - t0;
    return grant;
  }

  private async take(signal?: AbortSignal): Promise<Grant> {
    const slot = this.ring[this.next]!;
    while (slot.settled) await slot.settled;
    for (;;) {
      signal?.throwIfAborted();
      const wait = slot.at + 1000 - performance.now();
      if (wait <= 0) break;
      await new Promise((r) => setTimeout(r, Math.ceil(wait)));
    }
    let settle!: () => void;
    slot.settled = new Promise<void>((r) => (settle = r));
    this.next = (this.next + 1) % this.rps;
    let done = false;
    const finish = (at: number) => {
      if (done) return;
      done = true;
      slot.at = at;
      slot.settled = null;
      settle();
    };
    return { depart: () => finish(performance.now()), cancel: () => finish(-Infinity) };
  }

  async stop(): Promise<void> {
    await this.bottleneck.stop({ dropWaitingJobs: true }).catch(() => {});
  }
}
