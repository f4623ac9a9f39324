import pg from 'pg';
import { createPool } from '../src/db/executor.ts';
import { migrate } from '../src/db/migrate.ts';
import { acquireServer, createFreshDb } from './lib.ts';

/**
 * For the benchmarks that time statements on their own (bench/apply-drain.ts, bench/send-statements.ts):
 * a fresh, migrated database (DATABASE_URL's server, else the embedded one) and one connection to it for
 * `fn`; the database is dropped afterwards, whatever happens. Progress goes to stderr as `[tag] …`.
 */
export async function withScratchDb<T>(tag: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const server = await acquireServer((m) => process.stderr.write(`[${tag}] ${m}\n`));
  const db = await createFreshDb(server.adminUrl, tag);
  try {
    const pool = createPool(db.url, { max: 1 });
    await migrate(pool);
    await pool.end();
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  } finally {
    await db.drop();
    await server.release();
  }
}

/**
 * A campaign (of the one template 't', added by the first call), written straight into a scratch database:
 * `rows` accepted recipients on lines 2…rows+1, numbers +6281210000000 on, all at `status`. Accepted
 * ones carry message id `wamid.` + their index in 12 digits (what status webhooks would name). Returns
 * the campaign id; the tables are analyzed, as autovacuum would have done after such a load.
 */
export async function seedCampaign(
  c: pg.Client,
  opts: { name: string; rows: number; state: 'running' | 'completed'; status: 'queued' | 'accepted' },
): Promise<string> {
  await c.query(`INSERT INTO templates (name, language, category, body, parameter_format, slots)
    VALUES ('t', 'en', 'marketing', 'Hi {{1}}', 'positional', '{body.1}') ON CONFLICT DO NOTHING`);
  const campaign = (await c.query<{ id: string }>(`
    INSERT INTO campaigns (name, template_id, channel, state, phone_column, param_map, ingest_state, ingest_rows, ingest_accepted,
                           started_at, completed_at)
    SELECT $1, id, 'default', $2::campaign_state, 'phone', '{"body.1":"name"}', 'done', $3, $3, now(),
           CASE WHEN $2::campaign_state = 'completed' THEN now() END
    FROM templates WHERE name = 't' RETURNING id`, [opts.name, opts.state, opts.rows])).rows[0]!.id;
  const accepted = opts.status === 'accepted';
  await c.query(`
    INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, status, attempts, message_id, accepted_at)
    SELECT $1, g + 2, p, p, '{"body.1":"Budi"}', 'accepted', $3::recipient_status, CASE WHEN $4 THEN 1 ELSE 0 END,
           CASE WHEN $4 THEN 'wamid.' || lpad(g::text, 12, '0') END, CASE WHEN $4 THEN now() END
    FROM generate_series(0, $2 - 1) g, LATERAL (SELECT '+62812' || right((10000000 + g)::text, 8) AS p) x`,
  [campaign, opts.rows, opts.status, accepted]);
  await c.query('ANALYZE recipients');
  return campaign;
}
