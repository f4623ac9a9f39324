import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import pg from 'pg';
import { RateLimiterPostgres, RateLimiterQueue, RateLimiterRedis } from 'rate-limiter-flexible';
import { RateLimiter } from '../src/send/limiter.ts';
import { RedisWindowStore } from '../src/send/window-redis.ts';
import { PgWindowStore } from '../src/send/window-pg.ts';
import { createPool, poolDb } from '../src/db/executor.ts';
import { migrate } from '../src/db/migrate.ts';
import { acquireServer, createFreshDb } from './lib.ts';
import { maxInWindow } from './fake-provider.ts';

/**
 * `npm run bench:limiters [-- --seconds 10 --workers 3 --rps 50]`: how each way of sharing one channel's
 * limit between worker processes holds "never more than rps in any rolling second" while sustaining it.
 * Each candidate runs in `workers` separate processes, each driving 20 concurrent senders as fast as its
 * limiter lets them; every process stamps each departure on the machine's clock (timeOrigin + now) and the
 * parent merges the stamps. Candidates: Bottleneck in Redis cluster mode (minTime), rate-limiter-flexible
 * with its Redis and PostgreSQL stores (+ RateLimiterQueue), and this project's sliding window
 * (src/send/window-*.ts) in Redis and PostgreSQL.
 */

const SELF = fileURLToPath(import.meta.url);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CANDIDATES = ['bottleneck-redis', 'flexible-redis', 'flexible-postgres', 'window-redis', 'window-postgres'] as const;
type Candidate = (typeof CANDIDATES)[number];

// ------------------------------------------------------------------------------------------------ child

async function child(kind: Candidate, key: string, rps: number, seconds: number, dbUrl: string): Promise<void> {
  const stamps: number[] = [];
  const stamp = () => stamps.push(performance.timeOrigin + performance.now());
  const end = performance.now() + seconds * 1000;
  const senders = 20;
  const cleanup: Array<() => Promise<unknown>> = [];
  let send: () => Promise<void>;
  if (kind === 'bottleneck-redis') {
    const b = new Bottleneck({ id: key, datastore: 'ioredis', clientOptions: { host: new URL(REDIS_URL).hostname, port: Number(new URL(REDIS_URL).port || 6379) }, minTime: Math.floor(1000 / rps), Redis });
    await b.ready();
    cleanup.push(() => b.disconnect());
    send = () => b.schedule(async () => { stamp(); });
  } else if (kind === 'flexible-redis' || kind === 'flexible-postgres') {
    let store;
    if (kind === 'flexible-redis') {
      const redis = new Redis(REDIS_URL);
      cleanup.push(() => redis.quit());
      store = new RateLimiterRedis({ storeClient: redis, points: rps, duration: 1, keyPrefix: key });
    } else {
      const pool = new pg.Pool({ connectionString: dbUrl, max: 4 });
      cleanup.push(() => pool.end());
      store = await new Promise<RateLimiterPostgres>((resolve, reject) => {
        const l: RateLimiterPostgres = new RateLimiterPostgres({ storeClient: pool, points: rps, duration: 1, keyPrefix: key, tableName: 'rlf_bench' },
          (err?: Error) => (err ? reject(err) : resolve(l)));
      });
    }
    const queue = new RateLimiterQueue(store, { maxQueueSize: 10_000 });
    send = async () => { await queue.removeTokens(1, 'channel'); stamp(); };
  } else {
    let store;
    if (kind === 'window-redis') store = new RedisWindowStore(REDIS_URL);
    else {
      const pool = createPool(dbUrl, { max: 4, application_name: 'limiter-compare' });
      cleanup.push(() => pool.end());
      store = new PgWindowStore(poolDb(pool));
    }
    cleanup.unshift(() => store.close());
    const limiter = new RateLimiter(rps, { store, channel: key });
    cleanup.unshift(() => limiter.stop());
    send = async () => { const g = await limiter.acquire(); await g.ready(); stamp(); g.depart(); };
  }
  await Promise.all(Array.from({ length: senders }, async () => { while (performance.now() < end) await send(); }));
  for (const c of cleanup) await c().catch(() => {});
  process.stdout.write(JSON.stringify(stamps));
}

// ----------------------------------------------------------------------------------------------- parent

function runChild(kind: Candidate, key: string, rps: number, seconds: number, dbUrl: string): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [SELF, '--child', kind, '--key', key, '--rps', String(rps), '--seconds', String(seconds), '--db', dbUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${kind} child exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    child: { type: 'string' }, key: { type: 'string' }, db: { type: 'string' },
    rps: { type: 'string', default: '50' }, seconds: { type: 'string', default: '10' }, workers: { type: 'string', default: '3' },
    only: { type: 'string' },
  } });
  const rps = Number(values.rps);
  const seconds = Number(values.seconds);
  if (values.child) return child(values.child as Candidate, values.key!, rps, seconds, values.db!);

  const log = (m: string) => process.stderr.write(`[limiters] ${m}\n`);
  const server = await acquireServer(log);
  const fresh = await createFreshDb(server.adminUrl, 'limiters');
  const pool = createPool(fresh.url, { max: 2 });
  await migrate(pool);
  await pool.end();
  const workers = Number(values.workers);
  const chosen = values.only ? (values.only.split(',') as Candidate[]) : [...CANDIDATES];
  const rows: string[] = [];
  try {
    for (const kind of chosen) {
      const key = `cmp-${kind}-${randomBytes(3).toString('hex')}`;
      log(`${kind}: ${workers} processes, ${seconds} s at ${rps} rps`);
      const all = (await Promise.all(Array.from({ length: workers }, () => runChild(kind, key, rps, seconds, fresh.url)))).flat().sort((a, b) => a - b);
      // The steady part: from 1 s after the first departure to 1 s before the last.
      const steady = all.filter((t) => t >= all[0]! + 1000 && t <= all.at(-1)! - 1000);
      const rate = steady.length / ((steady.at(-1)! - steady[0]!) / 1000);
      const worst = maxInWindow(all, 1000).max;
      rows.push(`| ${kind} | ${all.length} | ${worst} | ${(rate / rps).toFixed(3)} | ${worst <= rps ? 'holds' : '**exceeds**'} |`);
    }
  } finally {
    await fresh.drop().catch(() => {});
    await server.release();
  }
  process.stdout.write([`${workers} processes × 20 senders, ${seconds} s, limit ${rps}/s`, '',
    '| candidate | requests | max in any rolling 1000 ms | achieved ÷ limit (steady) | limit |', '| --- | --- | --- | --- | --- |', ...rows, ''].join('\n'));
}

await main();
