import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of PostgreSQL, to take the database away from a process that uses it:
 * - `pass`: forward both ways;
 * - `refuse`: cut every open connection and every new one at once (the database is gone);
 * - `cut-on`: forward until the client sends bytes containing `cutOn` (a `COMMIT`, an `INSERT INTO x`),
 *   then cut the connection instead of forwarding them: PostgreSQL never gets that statement (a
 *   transaction is never committed, a statement never runs) and the client sees its connection die.
 */
export type ProxyMode = 'pass' | 'refuse' | 'cut-on';

export interface TcpProxy {
  port: number;
  /** `url` with its host and port replaced by the proxy's. */
  urlFor(url: string): string;
  mode: ProxyMode;
  /** What `cut-on` looks for (compared with each chunk the client sends). */
  cutOn: string;
  /** Connections cut by `cut-on` so far. */
  cuts: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<{ a: net.Socket; b: net.Socket }>();
  const state: TcpProxy = {
    port: 0,
    mode: 'pass',
    cutOn: 'COMMIT',
    cuts: 0,
    urlFor(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(state.port);
      return u.toString();
    },
    close: async () => {
      for (const p of pairs) cut(p);
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const cut = (p: { a: net.Socket; b: net.Socket }) => {
    p.a.destroy();
    p.b.destroy();
    pairs.delete(p);
  };
  const server = net.createServer((a) => {
    a.on('error', () => {});
    if (state.mode === 'refuse') return void a.destroy();
    const b = net.connect(target.port, target.host);
    b.on('error', () => {});
    const pair = { a, b };
    pairs.add(pair);
    a.on('data', (chunk: Buffer) => {
      if (state.mode === 'refuse') return cut(pair);
      if (state.mode === 'cut-on' && chunk.includes(state.cutOn)) {
        state.cuts++;
        return cut(pair);
      }
      b.write(chunk);
    });
    b.on('data', (chunk: Buffer) => a.write(chunk));
    a.on('close', () => cut(pair));
    b.on('close', () => cut(pair));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as AddressInfo).port;
  // `refuse` also cuts what is open now, not only what comes next.
  let mode: ProxyMode = 'pass';
  Object.defineProperty(state, 'mode', {
    get: () => mode,
    set: (m: ProxyMode) => {
      mode = m;
      if (m === 'refuse') for (const p of pairs) cut(p);
    },
  });
  return state;
}
