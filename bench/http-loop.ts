import http from 'node:http';
import { parseArgs } from 'node:util';
import { buildCloudMessage } from '../src/templates/payload.ts';
import type { TemplateDef } from '../src/templates/types.ts';

/**
 * B4's baseline: a bare HTTP client loop, run as its own process. It posts the body the cloud adapter
 * builds for the bench template (one JSON.stringify per request, a different `to` each time) with the
 * worker's HTTP settings — a keep-alive agent with 256 sockets, the same headers, `concurrency` requests in
 * flight (the sender's p-limit is min(256, rps)) — and nothing else: no database, no limiter, no parsing
 * of the answer beyond its status. Prints one JSON document: { requests, ok, failed, statuses, wall_ms }.
 *
 *   node bench/http-loop.ts --url URL --requests N [--concurrency 256] [--token T]
 */

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    requests: { type: 'string' },
    concurrency: { type: 'string', default: '256' },
    token: { type: 'string', default: 'bench-token' },
  },
  strict: true,
});
const total = Number(values.requests);
const concurrency = Number(values.concurrency);
if (!values.url || !Number.isInteger(total) || total < 1 || !Number.isInteger(concurrency) || concurrency < 1) {
  process.stderr.write('usage: node bench/http-loop.ts --url URL --requests N [--concurrency C] [--token T]\n');
  process.exit(2);
}
const target = new URL(values.url);

const template: TemplateDef = {
  name: 'bench_t', language: 'id', category: 'utility', body: 'Halo {{1}}, pesanan {{2}} ke {{3}}',
  headerText: null, headerFormat: null, urlButton: false, parameterFormat: 'positional', slots: ['body.1', 'body.2', 'body.3'],
};
const CITIES = ['Jakarta', 'Surabaya', 'Bandung', 'Medan', 'Semarang', 'Makassar', 'Palembang', 'Denpasar'];

// The HTTP client's settings (src/providers/http.ts): keep-alive, 256 sockets per host.
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const headers = { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${values.token}` };

function post(i: number): Promise<number> {
  const msg = buildCloudMessage({
    to: `+62812${String(10_000_000 + i).slice(-8)}`,
    template,
    params: { 'body.1': 'Budi Santoso', 'body.2': `INV-${100_000_000 + i}`, 'body.3': CITIES[i % CITIES.length]! },
  });
  const payload = Buffer.from(JSON.stringify(msg), 'utf8');
  return new Promise((resolve) => {
    const req = http.request(target, {
      method: 'POST', agent, headers: { ...headers, 'content-length': String(payload.length) },
    });
    const timer = setTimeout(() => req.destroy(new Error('timeout')), 15_000);
    req.on('error', () => { clearTimeout(timer); resolve(0); });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => { clearTimeout(timer); resolve(0); });
      res.on('end', () => {
        clearTimeout(timer);
        Buffer.concat(chunks).toString('utf8');
        resolve(res.statusCode ?? 0);
      });
    });
    req.end(payload);
  });
}

const statuses: Record<string, number> = {};
let next = 0;
const t0 = performance.now();
async function lane(): Promise<void> {
  while (next < total) {
    const status = await post(next++);
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
const wallMs = performance.now() - t0;
agent.destroy();
const ok = statuses['200'] ?? 0;
process.stdout.write(JSON.stringify({ requests: total, ok, failed: total - ok, statuses, wall_ms: wallMs, concurrency }) + '\n');
