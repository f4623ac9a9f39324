import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * B5's baseline: a bare node:http server that reads each request's body and answers 200 with the same
 * small JSON the webhook answers (`{"ok":true}`), and does nothing else — no signature, no parsing, no
 * database. Same server settings as src/http/server.ts. Prints `{"port":N}` on stdout once listening;
 * SIGTERM closes it.
 *
 *   node bench/b5-bare-server.ts
 */

const answer = JSON.stringify({ ok: true });
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    Buffer.concat(chunks);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
    res.end(answer);
  });
});
server.headersTimeout = 15_000;
server.requestTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n');
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
