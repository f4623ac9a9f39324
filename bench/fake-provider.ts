import { execFileSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake Cloud API for the send benchmarks (B3, B4), on 127.0.0.1, in the harness process: it answers
 * every POST with 200 and a unique wamid, and timestamps each request's arrival (performance.now(), when
 * its headers are parsed). Zero latency unless asked: the answer is written as soon as the body has been
 * read, so the fake costs as little as a server can. With `recordTo` it also counts requests per `to`
 * (one JSON.parse per request), to show that nothing was sent twice, and keeps when each `to` first
 * arrived (to compare with when the worker wrote it).
 *
 * The harness process does nothing else while a benchmark measures (it only polls a counter), so the
 * timestamps are not delayed by other work on its event loop.
 */

export interface FakeProvider {
  /** The base URL to give the cloud provider as WA_BASE_URL, e.g. `http://127.0.0.1:PORT/v23.0`. */
  url: string;
  /** Where the cloud adapter posts for this phone number id: `{url}/{id}/messages`. */
  messagesUrl(phoneNumberId: string): string;
  /** performance.now() of every request's arrival since the last reset, in arrival order. */
  arrivals: number[];
  /** `to` → requests, when started with recordTo. */
  tos: Map<string, number> | null;
  /** `to` (as sent: E.164 digits without +) → performance.now() of its first arrival, with recordTo. */
  firstArrival: Map<string, number> | null;
  /** Answers that were not 200 (a body that was not a template send, with recordTo). */
  rejected: number;
  /** Sockets the server accepted since the last reset. */
  connections: number;
  /** The first request body seen since the last reset (to compare the baseline's bodies with the worker's). */
  sampleBody: string | null;
  /** Forget every arrival and count (between phases of a benchmark). */
  reset(): void;
  close(): Promise<void>;
}

export interface FakeProviderOptions {
  /** Answer this long after the body was read (default 0: at once, without a timer). */
  latencyMs?: number;
  /** Parse each body and count requests per `to`. */
  recordTo?: boolean;
}

export async function startFakeProvider(opts: FakeProviderOptions = {}): Promise<FakeProvider> {
  const latencyMs = opts.latencyMs ?? 0;
  let serial = 0;
  const fake: FakeProvider = {
    url: '',
    messagesUrl: (id) => `${fake.url}/${encodeURIComponent(id)}/messages`,
    arrivals: [],
    tos: opts.recordTo ? new Map() : null,
    firstArrival: opts.recordTo ? new Map() : null,
    rejected: 0,
    connections: 0,
    sampleBody: null,
    reset() {
      fake.arrivals = [];
      fake.tos = opts.recordTo ? new Map() : null;
      fake.firstArrival = opts.recordTo ? new Map() : null;
      fake.rejected = 0;
      fake.connections = 0;
      fake.sampleBody = null;
    },
    close: async () => {},
  };

  const answer = (res: ServerResponse, to: string | null) => {
    if (opts.recordTo && !to) {
      fake.rejected++;
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":{"code":100,"message":"(#100) Invalid parameter","type":"OAuthException"}}');
      return;
    }
    const id = `wamid.bench${(++serial).toString(36)}`;
    const body = to
      ? `{"messaging_product":"whatsapp","contacts":[{"input":${JSON.stringify(to)},"wa_id":${JSON.stringify(to)}}],"messages":[{"id":"${id}"}]}`
      : `{"messaging_product":"whatsapp","messages":[{"id":"${id}"}]}`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const at = performance.now();
    fake.arrivals.push(at);
    const keepBody = opts.recordTo || fake.sampleBody === null;
    const chunks: Buffer[] = [];
    if (keepBody) req.on('data', (c: Buffer) => chunks.push(c));
    else req.resume();
    req.on('end', () => {
      let to: string | null = null;
      if (keepBody) {
        const text = Buffer.concat(chunks).toString('utf8');
        fake.sampleBody ??= text;
        if (opts.recordTo) {
          try {
            const v = (JSON.parse(text) as { to?: unknown }).to;
            if (typeof v === 'string' && v !== '') to = v;
          } catch { /* answered 400 below */ }
          if (to && fake.tos) fake.tos.set(to, (fake.tos.get(to) ?? 0) + 1);
          if (to && fake.firstArrival && !fake.firstArrival.has(to)) fake.firstArrival.set(to, at);
        }
      }
      if (latencyMs > 0) setTimeout(() => answer(res, to), latencyMs);
      else answer(res, to);
    });
  });
  server.on('connection', () => { fake.connections++; });
  // Idle keep-alive sockets stay open longer than a benchmark's pauses, so no request races a server close.
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  fake.url = `http://127.0.0.1:${port}/v23.0`;
  fake.close = () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
  return fake;
}

// --------------------------------------------------------------------------------------------- timing

/**
 * Make the fake read requests when they arrive, as a provider on its own machine would: the harness's
 * main thread (which runs the fake's server) gets real-time scheduling, SCHED_FIFO priority 10, with
 * reset-on-fork so nothing it spawns inherits it. On the 2-core box the fake otherwise shares the cores
 * with the workers and PostgreSQL and reads some requests late: up to 10.7–13.8 ms after their write in
 * B3 (`nice -15`: 3.1–7.5 ms), which can put 51 arrivals in a rolling second the workers kept at 50. The
 * thread is idle but for the fake's few dozen requests a second. Needs root or CAP_SYS_NICE; without it
 * the fake runs as before and the note says so. `restore()` puts the thread back.
 */
export function promptReads(): { note: string; restore(): void } {
  const pid = String(process.pid);
  try {
    execFileSync('chrt', ['--fifo', '--reset-on-fork', '--pid', '10', pid], { stdio: 'pipe' });
  } catch (err) {
    const why = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
    return { note: `normal scheduling (chrt: ${why})`, restore: () => {} };
  }
  return {
    note: 'SCHED_FIFO 10, reset on fork (the harness thread that runs the fake)',
    restore: () => { try { execFileSync('chrt', ['--other', '--pid', '0', pid], { stdio: 'pipe' }); } catch { /* stays; the process ends soon */ } },
  };
}

/**
 * The largest number of timestamps in any half-open window [t, t + windowMs), exactly (two pointers over
 * the sorted times): for each request j, the requests i ≤ j with t_j - t_i < windowMs all fit in one such
 * window with j last, and every window's count is reached that way. `at` is the first timestamp of that
 * busiest window.
 */
export function maxInWindow(sorted: ArrayLike<number>, windowMs = 1000): { max: number; at: number | null; over: (limit: number) => number } {
  let max = 0;
  let at: number | null = null;
  let i = 0;
  const counts = new Uint32Array(sorted.length);
  for (let j = 0; j < sorted.length; j++) {
    while (sorted[j]! - sorted[i]! >= windowMs) i++;
    const n = j - i + 1;
    counts[j] = n;
    if (n > max) {
      max = n;
      at = sorted[i]!;
    }
  }
  return {
    max,
    at,
    /** How many requests were the (limit+1)-th or later within a second: the requests over the limit. */
    over: (limit: number) => counts.reduce((acc, n) => acc + (n > limit ? 1 : 0), 0),
  };
}

/** Ascending copy of arrival times (they arrive in order, but nothing else depends on that). */
export function sortedTimes(times: readonly number[]): Float64Array {
  return Float64Array.from(times).sort();
}

/** Requests per whole second after `t0` (for spotting stalls): [count in [t0, t0+1s), [t0+1s, t0+2s), …]. */
export function perSecond(sorted: ArrayLike<number>, t0: number, seconds: number): number[] {
  const out = new Array<number>(seconds).fill(0);
  for (let k = 0; k < sorted.length; k++) {
    const s = Math.floor((sorted[k]! - t0) / 1000);
    if (s >= 0 && s < seconds) out[s]!++;
  }
  return out;
}

/** The `n` longest silences between consecutive requests: { after_s (since t0), gap_ms }. */
export function longestGaps(sorted: ArrayLike<number>, t0: number, n = 5): Array<{ after_s: number; gap_ms: number }> {
  const gaps: Array<{ after_s: number; gap_ms: number }> = [];
  for (let k = 1; k < sorted.length; k++) gaps.push({ after_s: (sorted[k - 1]! - t0) / 1000, gap_ms: sorted[k]! - sorted[k - 1]! });
  return gaps.sort((a, b) => b.gap_ms - a.gap_ms).slice(0, n).map((g) => ({ after_s: round(g.after_s, 3), gap_ms: round(g.gap_ms, 1) }));
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
