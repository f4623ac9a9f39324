import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { phaseBodies, phaseStatuses, sign, type B5Mode } from './b5-bodies.ts';

/**
 * B5's load generator, run as its own process: `connections` keep-alive connections, each posting the
 * next webhook of the phase as soon as its previous one is answered (a closed loop, like a provider's
 * delivery workers), until every webhook of the phase has been answered. Bodies and signatures are built
 * before the clock starts, so the generator costs the same whoever answers. Prints one JSON document:
 * requests, statuses, answers by HTTP status, wall time, and latency percentiles (from writing the request
 * to the end of the answer).
 *
 *   node bench/b5-load.ts --url URL --mode single|batch10 --messages N [--connections 50] [--dump FILE]
 *
 * --dump writes one line per request, in the order they were sent: when it was sent (ms after the
 * start) and its latency (ms), to see where in a run the slow answers fall.
 */

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    mode: { type: 'string' },
    messages: { type: 'string' },
    connections: { type: 'string', default: '50' },
    dump: { type: 'string' },
  },
  strict: true,
});
const messages = Number(values.messages);
const connections = Number(values.connections);
const mode = values.mode as B5Mode;
if (!values.url || !['single', 'batch10'].includes(mode) || !Number.isInteger(messages) || messages < 1 || !Number.isInteger(connections) || connections < 1) {
  process.stderr.write('usage: node bench/b5-load.ts --url URL --mode single|batch10 --messages N [--connections 50] [--dump FILE]\n');
  process.exit(2);
}
const target = new URL(values.url);

const bodies = phaseBodies(mode, messages);
const signatures = bodies.map((b) => sign(b));
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
let sockets = 0;

function post(i: number): Promise<{ status: number; ms: number }> {
  const body = bodies[i]!;
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.request(target, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': String(body.length), 'x-hub-signature-256': signatures[i]!, 'user-agent': 'facebookexternalua' },
    });
    req.on('socket', (s) => {
      if (!(s as { b5Seen?: boolean }).b5Seen) {
        (s as { b5Seen?: boolean }).b5Seen = true;
        sockets++;
      }
    });
    const timer = setTimeout(() => req.destroy(new Error('timeout')), 30_000);
    req.on('error', () => { clearTimeout(timer); resolve({ status: 0, ms: performance.now() - t0 }); });
    req.on('response', (res) => {
      res.on('data', () => {});
      res.on('error', () => { clearTimeout(timer); resolve({ status: 0, ms: performance.now() - t0 }); });
      res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }); });
    });
    req.end(body);
  });
}

const latencies = new Float64Array(bodies.length);
const starts = new Float64Array(bodies.length);
const codes: Record<string, number> = {};
let next = 0;
const t0 = performance.now();
async function lane(): Promise<void> {
  while (next < bodies.length) {
    const i = next++;
    starts[i] = performance.now() - t0;
    const { status, ms } = await post(i);
    latencies[i] = ms;
    codes[status] = (codes[status] ?? 0) + 1;
  }
}
await Promise.all(Array.from({ length: Math.min(connections, bodies.length) }, lane));
const wallMs = performance.now() - t0;
agent.destroy();
if (values.dump) {
  writeFileSync(values.dump, Array.from(latencies, (ms, i) => `${starts[i]!.toFixed(2)} ${ms.toFixed(2)}`).join('\n') + '\n');
}

const sorted = latencies.slice().sort();
const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const ok = codes['200'] ?? 0;
const statuses = phaseStatuses(mode, messages);
process.stdout.write(JSON.stringify({
  mode, requests: bodies.length, statuses, ok, codes, connections, sockets, wall_ms: wallMs,
  requests_per_s: ok / (wallMs / 1000), statuses_per_s: ok === bodies.length ? statuses / (wallMs / 1000) : null,
  body_bytes: { first: bodies[0]!.length, mean: Math.round(bodies.reduce((a, b) => a + b.length, 0) / bodies.length) },
  latency_ms: { p50: pct(50), p90: pct(90), p99: pct(99), max: sorted[sorted.length - 1], mean: sorted.reduce((a, b) => a + b, 0) / sorted.length },
}) + '\n');
