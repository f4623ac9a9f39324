/**
 * Child process of http.webhooks.test.ts: a transaction through poolDb whose connection is cut at COMMIT
 * (by a TCP proxy) must reject, and the process must live on. Prints what happened; exits 0 when it lives.
 *
 *   node test/helpers/tx-connection-loss.ts DATABASE_URL
 */
import { createPool, poolDb } from '../../src/db/executor.ts';
import { startTcpProxy } from './tcp-proxy.ts';

const url = new URL(process.argv[2] ?? '');
const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
const pool = createPool(proxy.urlFor(url.toString()), { max: 2 });
const db = poolDb(pool);
await db.tx((tx) => tx.raw('SELECT 1'));
proxy.cutOn = 'COMMIT';
proxy.mode = 'cut-on';
try {
  await db.tx((tx) => tx.raw('SELECT 1'));
  console.log('tx committed?');
} catch (err) {
  console.log(`tx rejected: ${(err as Error).message}`);
}
await new Promise((r) => setTimeout(r, 200));
console.log('still alive');
await pool.end();
await proxy.close();
