import Bottleneck from 'bottleneck';
import { newGrantId, type WindowStore } from './window.ts';

/** A slot to send one request. Await `depart()` right before the request is written, or call `cancel()`. */
export interface Grant {
  depart(): Promise<void>;
  cancel(): void;
}

interface Slot {
  /** When the request left (performance.now() ms); -Infinity for a slot never used or cancelled. */
  at: number;
  /** Set while granted but not yet departed: the next user of this slot waits for it. */
  settled: Promise<void> | null;
}

/** Where the limit is shared with other workers (a channel's window in Redis or PostgreSQL). */
export interface SharedWindow {
  store: WindowStore;
  channel: string;
}

/** After a 429/130429 the channel pauses for 1 s, doubling on each further one up to 30 s. */
export const SLOWDOWN_BASE_MS = 1_000;
export const SLOWDOWN_CAP_MS = 30_000;
const STORE_RETRY_MS = 500;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(timer); reject(signal!.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Never more than `rps` requests in ANY rolling 1,000 ms window, counted when a request leaves.
 *
 * In this process: Bottleneck's `minTime` spaces *scheduled* start times; a timer that fires late
 * (event-loop lag) lets the next ones go back to back, and `minTime: 20` was measured to let 51 through
 * in a rolling second (shared/notes/libraries.md §2.1). So Bottleneck paces the stream evenly, and a ring
 * of the last `rps` departure times makes the guarantee exact: slot i+rps is granted only once request i
 * has left (or was cancelled) and at least 1,000 ms have passed since.
 *
 * Across workers: with a `shared` window, every grant is also taken from the channel's sliding log in
 * Redis or PostgreSQL (src/send/window.ts), one acquire at a time per process (Bottleneck's
 * maxConcurrent: 1), and stamped there when the request leaves.
 */
export class RateLimiter {
  readonly rps: number;
  private readonly bottleneck: Bottleneck;
  private readonly ring: Slot[];
  private next = 0;
  private waitedMs = 0;
  private blockedUntil = 0;
  private slowLevel = 0;

  /** The last error of the shared store, while it keeps failing (the worker logs it). */
  storeError: Error | null = null;

  private readonly shared: SharedWindow | undefined;

  constructor(rps: number, shared?: SharedWindow) {
    this.shared = shared;
    this.rps = Math.max(1, Math.floor(rps));
    this.ring = Array.from({ length: this.rps }, () => ({ at: -Infinity, settled: null }));
    this.bottleneck = new Bottleneck({ maxConcurrent: 1, minTime: Math.floor(1000 / this.rps) });
  }

  /** Total time callers spent waiting for a slot (for metrics). */
  get waitedTotalMs(): number {
    return this.waitedMs;
  }

  /** Whether the channel is slowed down after a throughput error. */
  get slowed(): boolean {
    return this.slowLevel > 0;
  }

  /** Resolves with a grant when one request may leave; rejects with the signal's reason if aborted first. */
  async acquire(signal?: AbortSignal): Promise<Grant> {
    signal?.throwIfAborted();
    const t0 = performance.now();
    const grant = await this.bottleneck.schedule(() => this.take(signal));
    this.waitedMs += performance.now() - t0;
    return grant;
  }

  /**
   * The provider said the channel is over its throughput (429, 130429): back off for everyone using it
   * (every worker, through the shared window), longer each time it happens again.
   */
  async slowDown(): Promise<number> {
    const ms = Math.min(SLOWDOWN_CAP_MS, SLOWDOWN_BASE_MS * 2 ** this.slowLevel);
    this.slowLevel = Math.min(this.slowLevel + 1, 16);
    this.blockedUntil = Math.max(this.blockedUntil, performance.now() + ms);
    await this.shared?.store.block(this.shared.channel, ms);
    return ms;
  }

  /** A request went through: the next throughput error starts from the shortest pause again. */
  recovered(): void {
    this.slowLevel = 0;
  }

  private async take(signal?: AbortSignal): Promise<Grant> {
    const slot = this.ring[this.next]!;
    while (slot.settled) await slot.settled;
    for (;;) {
      signal?.throwIfAborted();
      const wait = Math.max(slot.at + 1000, this.blockedUntil) - performance.now();
      if (wait <= 0) break;
      await sleep(Math.ceil(wait), signal);
    }
    const sharedId = this.shared ? await this.takeShared(signal) : null;
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
    const shared = this.shared;
    return {
      depart: async () => {
        if (done) return;
        if (shared && sharedId) {
          try {
            await shared.store.depart(shared.channel, sharedId);
          } catch (err) {
            finish(-Infinity);
            throw err;
          }
        }
        finish(performance.now());
      },
      cancel: () => {
        if (shared && sharedId) void shared.store.cancel(shared.channel, sharedId).catch(() => {});
        finish(-Infinity);
      },
    };
  }

  /** Ask the shared window until it grants; its answer says how long to wait before asking again. */
  private async takeShared(signal?: AbortSignal): Promise<string> {
    const { store, channel } = this.shared!;
    for (;;) {
      signal?.throwIfAborted();
      const id = newGrantId();
      let wait: number;
      try {
        wait = await store.acquire(channel, this.rps, id);
        this.storeError = null;
      } catch (err) {
        // Without the store nothing is granted (the limit cannot be checked): wait and ask again, the
        // rows stay claimed and nothing is lost.
        this.storeError = err as Error;
        wait = STORE_RETRY_MS;
      }
      if (wait === 0) return id;
      await sleep(wait, signal);
    }
  }

  async stop(): Promise<void> {
    await this.bottleneck.stop({ dropWaitingJobs: true }).catch(() => {});
  }
}
