import { createPool, poolDb, type Db } from '../src/db/executor.ts';
import { migrate } from '../src/db/migrate.ts';
import { sql } from '../src/db/queries.ts';
import { buildReport, buildReportByScan, type Report } from '../src/report/report.ts';
import { compactCounters } from '../src/report/counters.ts';
import { figure, fmt, fmtRows, now, parseJsonOut, runCli, type BenchContext, type Benchmark, type Figure } from './lib.ts';

/**
 * B6 — `campaign report` of a big campaign. A campaign of `--rows` accepted recipients (1,000,000 by
 * default) in every state, with 24 failure codes, ~1.1 attempts per sent recipient and 2 % invalid rows,
 * written straight into the fresh database with generate_series (through the counting triggers, as every
 * write is). Measured: buildReport in this process over a local connection, median of RUNS after a warm-up
 * (wall time, round trips included: an upper bound on the server's time), plus the server's own
 * execution + planning time of its queries (EXPLAIN ANALYZE). Baseline, same data, same run: the report
 * counted with the aggregate queries it used before 0007 (buildReportByScan). Also measured: the same with
 * a backlog of pending deltas (what a few seconds of sending leave before maintenance folds them), and
 * `campaign report ID --json` end to end through the CLI once, for information.
 */

const TARGET_MS = 50;
const RUNS = 20;
const BASELINE_RUNS = 5;
/** Single-row updates made (2 delta rows each) before the backlog measurement. */
const BACKLOG_UPDATES = 5_000;
const CHUNK = 100_000;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Build the data: template, campaign, recipients in every state, their attempts, ingest counters. */
async function populate(db: Db, n: number, log: (m: string) => void): Promise<string> {
  const tpl = (await db.raw(`INSERT INTO templates (name, language, category, body, parameter_format, slots)
    VALUES ('bench_b6', 'id', 'utility', 'Halo {{1}}', 'positional', '{1}') RETURNING id`)).rows[0].id;
  const id = (await db.raw(`INSERT INTO campaigns (name, template_id, channel, phone_column, param_map, state, started_at)
    VALUES ('b6', $1, 'default', 'phone', '{"body.1": "name"}', 'running', now()) RETURNING id`, [tpl])).rows[0].id as string;
  // Per 100 lines: 10 queued, 2 sending (claimed / in_flight / retry_wait / ambiguous), 5 accepted, 20 sent,
  // 40 delivered, 17 read, 6 failed (24 codes, skewed, a few titles each; some 'ambiguous', some unknown).
  const recipients = `
    INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, status, send_phase, claimed_by,
      retry_at, attempts, message_id, error_code, error_title, accepted_at, failed_at)
    SELECT $1, i, '0812' || i, '+62812' || i, '["Budi"]', 'accepted', s.status::recipient_status,
           s.phase::send_phase, CASE WHEN s.phase IN ('claimed', 'in_flight') THEN 'bench-worker' END,
           CASE WHEN s.phase IN ('retry_wait', 'ambiguous') THEN now() + interval '1 hour' END,
           CASE WHEN s.status = 'queued' OR s.phase = 'claimed' THEN 0 ELSE 1 + (i % 10 = 0)::int + (i % 33 = 0)::int END,
           CASE WHEN s.status IN ('accepted', 'sent', 'delivered', 'read') THEN 'wamid.' || i END,
           CASE WHEN s.status = 'failed' THEN s.code WHEN s.phase = 'ambiguous' THEN 'ambiguous' END,
           CASE WHEN s.status = 'failed' AND s.code IS NOT NULL THEN 'Error ' || s.code || ' variant ' || (i % 3) END,
           CASE WHEN s.status IN ('accepted', 'sent', 'delivered', 'read') THEN now() END,
           CASE WHEN s.status = 'failed' THEN now() END
    FROM generate_series($2::int, $3::int) i
    CROSS JOIN LATERAL (SELECT
      CASE WHEN i % 100 < 10 THEN 'queued' WHEN i % 100 < 12 THEN 'sending' WHEN i % 100 < 17 THEN 'accepted'
           WHEN i % 100 < 37 THEN 'sent' WHEN i % 100 < 77 THEN 'delivered' WHEN i % 100 < 94 THEN 'read' ELSE 'failed' END AS status,
      CASE WHEN i % 100 BETWEEN 10 AND 11 THEN (ARRAY['claimed', 'in_flight', 'retry_wait', 'ambiguous'])[1 + (i / 100) % 4] END AS phase,
      CASE WHEN (i / 100) % 50 = 0 THEN NULL WHEN (i / 100) % 50 = 1 THEN 'ambiguous'
           ELSE (ARRAY['131026', '131047', '131049', '130472', '131000', '131005', '131008', '131009', '131016', '131021',
                       '131031', '131042', '131045', '131051', '131052', '131053', '132000', '132001', '132005', '132007',
                       '132012', '133010', 'http_503', 'network'])[1 + floor(24 * power(((i / 100) % 997) / 997.0, 2))::int]
      END AS code) s`;
  for (let from = 1; from <= n; from += CHUNK) {
    await db.raw(recipients, [id, from, Math.min(n, from + CHUNK - 1)]);
    log(`B6: recipients ${Math.min(n, from + CHUNK - 1)}/${n}`);
  }
  const invalid = Math.round(n * 0.02);
  await db.raw(`INSERT INTO recipients (campaign_id, line, phone_input, outcome, reason)
    SELECT $1, i, 'x' || i, 'invalid', (ARRAY['invalid_phone', 'missing_param', 'invalid_param', 'malformed_row'])[1 + i % 4]
    FROM generate_series($2::int, $3::int) i`, [id, n + 1, n + invalid]);
  for (let from = 1; from <= n; from += CHUNK) {
    await db.raw(`INSERT INTO send_attempts (campaign_id, line, attempt, worker, started_at, finished_at, result, http_status)
      SELECT r.campaign_id, r.line, k, 'bench-worker', now(), CASE WHEN r.send_phase = 'in_flight' AND k = r.attempts THEN NULL ELSE now() END,
             CASE WHEN r.send_phase = 'in_flight' AND k = r.attempts THEN NULL WHEN k < r.attempts THEN 'retry' ELSE 'accepted' END, 200
      FROM recipients r CROSS JOIN LATERAL generate_series(1, r.attempts) k
      WHERE r.campaign_id = $1 AND r.line BETWEEN $2 AND $3 AND r.attempts > 0`, [id, from, Math.min(n, from + CHUNK - 1)]);
  }
  log('B6: attempts written');
  const counts = (await db.raw(`SELECT count(*) FILTER (WHERE reason = 'invalid_phone')::int AS p, count(*) FILTER (WHERE reason = 'missing_param')::int AS m,
      count(*) FILTER (WHERE reason = 'invalid_param')::int AS ip, count(*) FILTER (WHERE reason = 'malformed_row')::int AS mr
    FROM recipients WHERE campaign_id = $1 AND outcome = 'invalid'`, [id])).rows[0];
  await db.raw(`UPDATE campaigns SET ingest_state = 'done', ingest_rows = $2, ingest_accepted = $3, ingest_invalid = $4,
      invalid_reasons = jsonb_build_object('invalid_phone', $5::int, 'missing_param', $6::int, 'invalid_param', $7::int, 'malformed_row', $8::int)
    WHERE id = $1`, [id, n + invalid, n, invalid, counts.p, counts.m, counts.ip, counts.mr]);
  await db.raw('VACUUM ANALYZE recipients');
  await db.raw('VACUUM ANALYZE send_attempts');
  return id;
}

/** Wall ms of `fn`, RUNS times after `warm` warm-up calls. */
async function timed(fn: () => Promise<unknown>, runs: number, warm: number): Promise<number[]> {
  for (let i = 0; i < warm; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = now();
    await fn();
    out.push(now() - t0);
  }
  return out;
}

/** The server's execution + planning time of the named queries, one after the other (EXPLAIN ANALYZE). */
async function serverMs(db: Db, names: string[], id: string): Promise<number> {
  let total = 0;
  for (const name of names) {
    const plan = (await db.raw(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql(name)}`, [id])).rows[0]['QUERY PLAN'][0];
    total += plan['Execution Time'] + plan['Planning Time'];
  }
  return total;
}

const FAST_QUERIES = ['campaign_get', 'report_counts'];
const SCAN_QUERIES = ['campaign_get', 'report_scan_status_counts', 'report_scan_failures', 'report_scan_attempts', 'report_scan_ambiguous_count'];

export const b6: Benchmark = {
  id: 'B6',
  title: 'campaign report',
  async run(ctx: BenchContext) {
    const n = ctx.rows;
    const label = fmtRows(n);
    const pool = createPool(ctx.dbUrl, { max: 6, application_name: 'bench-b6' });
    const details: Record<string, unknown> = { recipients: n, runs: RUNS, baseline_runs: BASELINE_RUNS };
    const problems: string[] = [];
    try {
      await migrate(pool);
      const db = poolDb(pool);
      const t0 = now();
      const id = await populate(db, n, ctx.log);
      details.populate_s = (now() - t0) / 1000;
      details.folded_after_populate = await compactCounters(db, { maxBatches: 1_000 });
      details.counters = (await db.raw('SELECT count(*)::int AS n FROM campaign_counts WHERE campaign_id = $1', [id])).rows[0].n;
      ctx.log(`B6: ${n} recipients in ${fmt(details.populate_s as number, 1)} s; timing the report`);

      const same = (a: Report | null, b: Report | null, why: string) => {
        if (JSON.stringify(a) !== JSON.stringify(b)) problems.push(`${why}: the report from the counters differs from the aggregate one`);
      };
      const scanReport = await buildReportByScan(db, id);
      same(await buildReport(db, id), scanReport, 'compacted');

      const fastWall = await timed(() => buildReport(db, id), RUNS, 3);
      const fastServer: number[] = [];
      for (let i = 0; i < RUNS; i++) fastServer.push(await serverMs(db, FAST_QUERIES, id));
      const scanWall = await timed(() => buildReportByScan(db, id), BASELINE_RUNS, 1);
      const scanServer: number[] = [];
      for (let i = 0; i < BASELINE_RUNS; i++) scanServer.push(await serverMs(db, SCAN_QUERIES, id));
      details.report = { wall_ms: fastWall, server_ms: fastServer };
      details.baseline = { wall_ms: scanWall, server_ms: scanServer };

      // A backlog of pending deltas, as a few seconds of sending leave them between two maintenance ticks.
      await db.raw(`DO $$ DECLARE i int; BEGIN
        FOR i IN 1..${BACKLOG_UPDATES} LOOP
          UPDATE recipients SET status = 'sending', send_phase = 'claimed', claimed_by = 'bench-worker'
          WHERE campaign_id = '${id}' AND line = (SELECT min(line) FROM recipients WHERE campaign_id = '${id}' AND status = 'queued');
        END LOOP; END $$`);
      const backlog = (await db.raw('SELECT count(*)::int AS n FROM campaign_count_deltas WHERE campaign_id = $1', [id])).rows[0].n as number;
      same(await buildReport(db, id), await buildReportByScan(db, id), 'with a backlog');
      const backlogWall = await timed(() => buildReport(db, id), RUNS, 3);
      details.backlog = { deltas: backlog, wall_ms: backlogWall };

      // End to end through the CLI, once (node start-up, config, migration check, two queries, JSON out).
      const cli = await runCli('campaign report', ['report', id, '--json'], { env: ctx.env(), timeoutMs: ctx.timeoutMs, captureStdout: true });
      const printed = parseJsonOut<Report>('campaign report', cli.proc.stdout());
      const current = await buildReport(db, id);
      if (JSON.stringify(printed) !== JSON.stringify(current)) problems.push('campaign report --json printed another report than buildReport');
      details.cli_wall_s = cli.exit.wallS;

      const med = { wall: median(fastWall), server: median(fastServer), scanWall: median(scanWall), scanServer: median(scanServer), backlog: median(backlogWall) };
      details.medians_ms = med;
      const figures: Figure[] = [
        figure({
          key: 'report_ms', label: `report of ${label} recipients (in-process, local socket)`, value: med.wall, unit: 'ms',
          baseline: { label: 'aggregate queries', value: med.scanWall }, target: { on: 'value', max: TARGET_MS },
        }),
        figure({
          key: 'report_server_ms', label: 'report, server execution + planning', value: med.server, unit: 'ms',
          baseline: { label: 'aggregate queries', value: med.scanServer }, target: { on: 'value', max: TARGET_MS },
        }),
        figure({
          key: 'report_backlog_ms', label: `report with ${backlog} pending deltas`, value: med.backlog, unit: 'ms',
          target: { on: 'value', max: TARGET_MS },
        }),
        figure({ key: 'cli_report_s', label: 'campaign report --json (CLI, end to end)', value: cli.exit.wallS, unit: 's' }),
      ];
      const lines = [
        `B6 report of ${label} recipients: ${fmt(med.wall)} ms median of ${RUNS} (server ${fmt(med.server)} ms; target ≤ ${TARGET_MS});`
          + ` aggregate queries: ${fmt(med.scanWall)} ms (server ${fmt(med.scanServer)} ms)`,
        `B6 with ${backlog} pending deltas: ${fmt(med.backlog)} ms; CLI end to end: ${fmt(cli.exit.wallS)} s`,
      ];
      return { ok: problems.length === 0, ...(problems.length ? { error: problems.join('; ') } : {}), figures, lines, details };
    } finally {
      await pool.end().catch(() => {});
    }
  },
};
