import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

/**
 * A fake Cloud API on 127.0.0.1 for tests that need to count: it accepts every template send after
 * `latencyMs`, and records how many times each number was accepted and when each request arrived.
 */
export interface FakeCloud {
  url: string;
  /** `to` digits → accepted sends. */
  accepted: Map<string, number>;
  /** performance.now() of every request's arrival. */
  arrivals: number[];
  /** Requests that arrived and are not answered yet (the ones in flight at the provider). */
  pending(): number;
  close(): Promise<void>;
}

export async function startFakeCloud(opts: { latencyMs?: number } = {}): Promise<FakeCloud> {
  const accepted = new Map<string, number>();
  const arrivals: number[] = [];
  let pending = 0;
  const server: Server = createServer((req, res) => {
    arrivals.push(performance.now());
    pending++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let to = '';
      try {
        to = String(JSON.parse(Buffer.concat(chunks).toString('utf8')).to ?? '');
      } catch { /* answered below */ }
      setTimeout(() => {
        pending--;
        if (!to) {
          res.writeHead(400, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ error: { code: 100, message: 'bad body' } }));
        }
        accepted.set(to, (accepted.get(to) ?? 0) + 1);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ messaging_product: 'whatsapp', contacts: [{ input: to, wa_id: to }], messages: [{ id: `wamid.${randomBytes(8).toString('hex')}` }] }));
      }, opts.latencyMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v23.0`,
    accepted,
    arrivals,
    pending: () => pending,
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}
