/**
 * A channel's circuit breaker. `threshold` consecutive transient failures (5xx, 408, timeouts, refused
 * connections) open it: the provider is down, and hammering it would only burn every recipient's retry
 * budget. While open, at most one request per `probeIntervalMs` goes out as a probe; the first probe
 * that gets an answer other than a transient failure closes it. Rows waiting meanwhile stay claimed or
 * queued: nothing is lost, and transient failures while open do not use up retries (src/send/sender.ts).
 * In memory, per process: after a restart the breaker starts closed and re-learns within `threshold`
 * requests.
 */
export const BREAKER_THRESHOLD = 10;
export const BREAKER_PROBE_INTERVAL_MS = 1_000;
const POLL_MS = 50;

export class Breaker {
  private failures = 0;
  private openSince: number | null = null;
  private probing = false;
  private lastProbe = -Infinity;

  readonly threshold: number;
  readonly probeIntervalMs: number;
  private readonly now: () => number;

  constructor(threshold = BREAKER_THRESHOLD, probeIntervalMs = BREAKER_PROBE_INTERVAL_MS, now: () => number = () => performance.now()) {
    this.threshold = threshold;
    this.probeIntervalMs = probeIntervalMs;
    this.now = now;
  }

  get isOpen(): boolean {
    return this.openSince !== null;
  }

  /**
   * Resolves when a request may go: at once while closed (false); while open, when this caller becomes
   * the probe (true). Rejects with the signal's reason if aborted first.
   */
  async admit(signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      signal?.throwIfAborted();
      if (this.openSince === null) return false;
      const t = this.now();
      if (!this.probing && t - this.lastProbe >= this.probeIntervalMs) {
        this.probing = true;
        this.lastProbe = t;
        return true;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /**
   * Record one answer. `transient`: a 5xx, 408, timeout or refused connection; anything else (accepted,
   * a permanent error for one number, a 429) proves the provider is up and closes the breaker. Returns
   * whether the channel now counts as down (the breaker is open).
   */
  record(transient: boolean, probe: boolean): boolean {
    if (probe) this.probing = false;
    if (!transient) {
      this.failures = 0;
      this.openSince = null;
      return false;
    }
    this.failures++;
    if (this.openSince === null && this.failures >= this.threshold) this.openSince = this.now();
    return this.openSince !== null;
  }
}
