import pg from 'pg';
import { namedQuery } from './queries.ts';

/**
 * The narrow seam every stage talks to the database through: named queries from `sql/queries`, and a
 * transaction that hands the same seam to its callback. Core code never sees a pg.Pool.
 */
export interface Db {
  /** Run the named query from sql/queries. */
  q<R extends pg.QueryResultRow = any>(name: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** Run literal SQL (migrations, tests, one-off DDL). */
  raw<R extends pg.QueryResultRow = any>(text: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** Run `fn` in one transaction; nested calls reuse the outer transaction. */
  tx<T>(fn: (db: Db) => Promise<T>): Promise<T>;
}

interface Queryable {
  query<R extends pg.QueryResultRow>(text: string | pg.QueryConfig, params?: unknown[]): Promise<pg.QueryResult<R>>;
}

function bind(target: Queryable, txFn: Db['tx']): Db {
  return {
    q: (name, params) => {
      const { text, prepared } = namedQuery(name);
      // node-pg prepares a named statement once per connection and then only binds and executes it.
      return prepared ? target.query({ name, text, values: params ?? [] }) : target.query(text, params);
    },
    raw: (text, params) => target.query(text, params),
    tx: txFn,
  };
}

export function clientDb(client: pg.PoolClient): Db {
  const db: Db = bind(client, (fn) => fn(db));
  return db;
}

export function poolDb(pool: pg.Pool): Db {
  return bind(pool, async (fn) => {
    const client = await pool.connect();
    // A checked-out client has none of the pool's 'error' listeners. When its connection dies mid-query,
    // pg fails the query *and* emits 'error' on the client; unheard, that event crashes the process. The
    // failed query already carries the error, and release() drops the dead client: ignore the event.
    const onError = () => {};
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await fn(clientDb(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.off('error', onError);
      client.release();
    }
  });
}

/** int8 (counts, identities) as JS numbers: our counts stay far below 2^53. */
pg.types.setTypeParser(20, (v) => Number(v));

export function createPool(connectionString: string, opts: { max?: number; application_name?: string } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: opts.max ?? 10,
    // 0 would wait forever for a connection: fail loudly instead.
    connectionTimeoutMillis: 15_000,
    idleTimeoutMillis: 10_000,
    application_name: opts.application_name ?? 'campaign',
  });
  // An idle client that loses its server emits here; without a listener it would crash the process.
  pool.on('error', () => {});
  return pool;
}
