import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { acquireEmbedded, type EmbeddedHandle } from '../../src/db/embedded.ts';
import { createPool, poolDb, type Db } from '../../src/db/executor.ts';
import { migrate } from '../../src/db/migrate.ts';
import { sql } from '../../src/db/queries.ts';

/**
 * Each test file gets its own database, created fresh and migrated, on the server named by DATABASE_URL
 * or, when unset, on an embedded PostgreSQL shared by the test processes of this run (its data under the
 * system temp dir). Real PostgreSQL, never a mock; isolation by database, as graphile-worker does.
 */
export interface TestDb {
  url: string;
  pool: pg.Pool;
  db: Db;
  close(): Promise<void>;
}

export const TEST_PG_DIR = join(tmpdir(), 'campaign-test-pg');

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function createTestDb(label = 'test'): Promise<TestDb> {
  let embedded: EmbeddedHandle | null = null;
  let admin = process.env.DATABASE_URL;
  if (!admin) {
    embedded = await acquireEmbedded(TEST_PG_DIR);
    admin = embedded.url;
  }
  const name = `t_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase().slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = withDatabase(admin, name);
  const pool = createPool(url, { max: 20 });
  await migrate(pool);
  return {
    url,
    pool,
    db: poolDb(pool),
    async close() {
      await pool.end().catch(() => {});
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      await c.end();
      await embedded?.release();
    },
  };
}

/**
 * campaign_insert with the seven columns every version of the query takes (name, template, channel, phone
 * column, param map, default country, source file); any later optional parameters are passed as null.
 */
export async function campaignInsert(db: Db, values: unknown[]): Promise<any> {
  const n = Math.max(0, ...[...sql('campaign_insert').matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  return (await db.q('campaign_insert', [...values, ...Array(Math.max(0, n - values.length)).fill(null)])).rows[0];
}
