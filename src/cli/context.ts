import type pg from 'pg';
import { loadConfig, type Config } from '../config.ts';
import { createLogger, type Logger } from '../log.ts';
import { createPool, poolDb, type Db } from '../db/executor.ts';
import { acquireEmbedded, type EmbeddedHandle } from '../db/embedded.ts';
import { migrate } from '../db/migrate.ts';

/** What every command gets: the parsed config, a logger, and a migrated database. */
export interface Context {
  config: Config;
  log: Logger;
  db: Db;
  pool: pg.Pool;
  databaseUrl: string;
}

export interface GlobalFlags {
  databaseUrl?: string | undefined;
  port?: number | undefined;
}

/** Config and logger only: for commands (and errors) that need no database. */
export function baseContext(flags: GlobalFlags, env = process.env): { config: Config; log: Logger } {
  const config = loadConfig(env, flags);
  return { config, log: createLogger(config.logLevel) };
}

/**
 * Open the database (DATABASE_URL / --database-url, else the embedded server under CAMPAIGN_DATA_DIR),
 * apply pending migrations, run `fn`, and always clean up.
 */
export async function withContext<T>(flags: GlobalFlags, fn: (ctx: Context) => Promise<T>, opts: { poolMax?: number } = {}): Promise<T> {
  const { config, log } = baseContext(flags);
  let embedded: EmbeddedHandle | null = null;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await acquireEmbedded(config.dataDir, (msg) => log.info(msg));
    databaseUrl = embedded.url;
  }
  const pool = createPool(databaseUrl, { max: opts.poolMax ?? 10 });
  try {
    const applied = await migrate(pool);
    if (applied.length > 0) log.info({ applied }, 'migrations applied');
    return await fn({ config, log, db: poolDb(pool), pool, databaseUrl });
  } finally {
    await pool.end().catch(() => {});
    await embedded?.release().catch((err) => log.warn({ err }, 'could not stop embedded PostgreSQL'));
  }
}
