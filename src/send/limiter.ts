import Bottleneck from 'bottleneck';
import { GRANT_WINDOW_MS, LEAD_MS, newGrantId, type WindowStore } from './window.ts';

/**
 * A slot to send one request. Call `depart()` once the request has been written (its last byte handed to
 * the OS), or `cancel()` if it never left. The first call wins; the other is then a no-op.
 */
export interface Grant {
  /** Resolves when the request may be written (LEAD_MS after the grant; see window.ts). */
  ready(): Promise<void>;
  depart(): void;
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
const FREE_GRANT: Grant = { ready: () => Promise.resolve(), depart: () => {}, cancel: () => {} };
/** Up to this rate Bottleneck paces the grants (one every 1000/rps ms); above it only the ring limits. */
export const PACED_MAX_RPS = 200;

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
  /** Requests per rolling second; Infinity for no limit (WA_RATE_LIMIT_RPS=unlimited). */
  readonly rps: number;
  /** Paces grants evenly at ordinary rates; null above PACED_MAX_RPS (see the constructor). */
  private readonly bottleneck: Bottleneck | null;
  /** Above PACED_MAX_RPS, takes are serialised by this promise chain instead. */
  private chain: Promise<unknown> = Promise.resolve();
  private readonly ring: Slot[];
  private next = 0;
  private waitedMs = 0;
  private blockedUntil = 0;
  private slowLevel = 0;

  /** The last error of the shared store, while it keeps failing (the worker logs it). */
  storeError: Error | null = null;

  private readonly shared: SharedWindow | undefined;

  constructor(rps: number, shared?: SharedWindow) {
    // No limit: every acquire is granted at once (FREE_GRANT); no ring, no pacer, nothing shared.
    const unlimited = rps === Number.POSITIVE_INFINITY;
    this.rps = unlimited ? rps : Math.max(1, Math.floor(rps));
    this.shared = unlimited ? undefined : shared;
    this.ring = unlimited ? [] : Array.from({ length: this.rps }, () => ({ at: -Infinity, settled: null }));
    // Bottleneck's scheduling costs ~2.9 ms per job (its yield loop: 344 jobs/s at most, measured), which
    // would cap a channel at ~340 sends/s whatever its limit; above PACED_MAX_RPS the ring alone keeps the
    // guarantee and a promise chain serialises the takes.
    this.bottleneck = this.rps <= PACED_MAX_RPS ? new Bottleneck({ maxConcurrent: 1, minTime: Math.floor(1000 / this.rps) }) : null;
  }

  get unlimited(): boolean {
    return this.rps === Number.POSITIVE_INFINITY;
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
    if (this.unlimited) return FREE_GRANT;
    const t0 = performance.now();
    let grant: Grant;
    if (this.bottleneck) grant = await this.bottleneck.schedule(() => this.take(signal));
    else {
      const next = this.chain.then(() => this.take(signal));
      this.chain = next.catch(() => {});
      grant = await next;
    }
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
      const wait = Math.max(slot.at + GRANT_WINDOW_MS, this.blockedUntil - LEAD_MS) - performance.now();
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
    // Local clock, read after the shared store answered: never earlier than the store's own grant time.
    const writeAt = performance.now() + LEAD_MS;
    return {
      ready: () => {
        const ms = writeAt - performance.now();
        return ms > 0 ? new Promise<void>((r) => setTimeout(r, Math.ceil(ms))) : Promise.resolve();
      },
      depart: () => {
        if (done) return;
        finish(performance.now());
        // Stamped by the store's clock when it gets this, after the write: never earlier than the request
        // left. Until then the grant counts as pending, so a late or lost stamp only holds the slot longer.
        if (shared && sharedId) {
          shared.store.depart(shared.channel, sharedId).catch((err: Error) => { this.storeError = err; });
        }
      },
      cancel: () => {
        if (done) return;
        finish(-Infinity);
        if (shared && sharedId) void shared.store.cancel(shared.channel, sharedId).catch(() => {});
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
    await this.bottleneck?.stop({ dropWaitingJobs: true }).catch(() => {});
  }
}
