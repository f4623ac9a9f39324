/**
 * The report page (GET /campaigns/:id) and its per-minute timeline (0010_timeline):
 * - the maintained minute counters equal the rows counted directly, before and after compaction, through
 *   inserts, status times that move, failed rows sent again and deletes;
 * - the window: a live campaign's last 24 h, a finished one's first 24 h of activity;
 * - the page: every value escaped, the funnel's numbers, a chart with one bar per active minute, nothing
 *   fetched from elsewhere, reloading only while the campaign runs or waits for its start;
 * - and in a real browser (Debian's headless Chromium): a screenshot of the page of a campaign with
 *   activity has the chart's bars in the chart's area, and the same check fails on a campaign with none.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { decodePng, type Image } from './helpers/png.ts';
import type { Db } from '../src/db/executor.ts';
import { createHttpServer, listen } from '../src/http/server.ts';
import { buildReport } from '../src/report/report.ts';
import { CHART_COLORS, renderReportHtml } from '../src/report/html.ts';
import { buildTimeline, TIMELINE_SERIES, type Timeline } from '../src/report/timeline.ts';
import { compactCounters } from '../src/report/counters.ts';
import { Metrics } from '../src/metrics.ts';

const run = promisify(execFile);

let t: TestDb;
let templateId: number;
let server: http.Server;
let base: string;

before(async () => {
  t = await createTestDb('report_html');
  templateId = (await t.db.raw(`INSERT INTO templates (name, language, category, body, parameter_format, slots)
    VALUES ('order_update', 'en', 'utility', 'Hi {{1}}', 'positional', '{1}') RETURNING id`)).rows[0].id;
  server = createHttpServer({ db: t.db, log: pino({ level: 'silent' }), metrics: new Metrics({ defaultMetrics: false }) });
  base = `http://127.0.0.1:${await listen(server, 0, '127.0.0.1')}`;
});
after(async () => {
  await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
  await t.close();
});

const MINUTE = 60_000;
const minuteOf = (ms: number) => Math.floor(ms / MINUTE) * MINUTE;

type State = 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';

async function newCampaign(db: Db, name: string, state: State, accepted: number, pauseReason: string | null = null): Promise<string> {
  return (await db.raw(`INSERT INTO campaigns (name, template_id, channel, phone_column, param_map, ingest_state, state,
      pause_reason, start_at, started_at, completed_at, cancelled_at,
      ingest_rows, ingest_accepted, ingest_invalid, ingest_duplicate, ingest_suppressed, invalid_reasons)
    VALUES ($1, $2, 'default', 'phone', '{}', 'done', $3::campaign_state, $4,
      CASE WHEN $3 = 'scheduled' THEN now() + interval '1 hour' END,
      CASE WHEN $3 NOT IN ('draft', 'scheduled') THEN now() - interval '2 hours' END,
      CASE WHEN $3 = 'completed' THEN now() END, CASE WHEN $3 = 'cancelled' THEN now() END,
      $5 + 9, $5, 5, 3, 1, '{"invalid_phone": 4, "malformed_row": 1}') RETURNING id`,
  [name, templateId, state, pauseReason, accepted])).rows[0].id;
}

/**
 * `n` accepted recipients of a campaign, sent over `spanMin` minutes ending `endAgoMin` minutes ago (one
 * attempt each, a retry for every 7th): every 10th failed, the rest accepted/sent/delivered/read in turn.
 */
async function addActivity(db: Db, id: string, n: number, spanMin: number, endAgoMin = 6, firstLine = 1): Promise<void> {
  await db.raw(`
    WITH g AS (
      SELECT i, now() - make_interval(mins => $4) - make_interval(secs => (($2 - i)::float / $2) * $3 * 60) AS at,
             CASE WHEN i % 10 = 0 THEN 'failed' ELSE (ARRAY['accepted', 'sent', 'delivered', 'read'])[1 + i % 4] END AS s
      FROM generate_series(1, $2) i
    )
    INSERT INTO recipients (campaign_id, line, phone_input, phone_e164, params, outcome, status, message_id, attempts,
                            accepted_at, sent_at, delivered_at, read_at, failed_at, error_code, error_title)
    SELECT $1, $5 + i, 'p' || i, '+1555' || ($5 + i), '["x"]', 'accepted', s::recipient_status,
           CASE WHEN s <> 'failed' THEN 'wamid.' || $5 + i END, CASE WHEN i % 7 = 0 THEN 2 ELSE 1 END,
           CASE WHEN s <> 'failed' THEN at END,
           CASE WHEN s IN ('sent', 'delivered', 'read') THEN at + interval '3 s' END,
           CASE WHEN s IN ('delivered', 'read') THEN at + interval '20 s' END,
           CASE WHEN s = 'read' THEN at + interval '4 min' END,
           CASE WHEN s = 'failed' THEN at + interval '1 s' END,
           CASE WHEN s = 'failed' THEN '131026' END,
           CASE WHEN s = 'failed' THEN 'Message undeliverable <b>&amp;</b> "quoted"' END
    FROM g`, [id, n, spanMin, endAgoMin, firstLine - 1]);
  await db.raw(`INSERT INTO send_attempts (campaign_id, line, attempt, worker, started_at, finished_at, result)
    SELECT r.campaign_id, r.line, a, 'w1', coalesce(r.accepted_at, r.failed_at) - make_interval(secs => 30 * (r.attempts - a) + 0.2),
           coalesce(r.accepted_at, r.failed_at), CASE WHEN a < r.attempts THEN 'retry' WHEN r.status = 'failed' THEN 'failed' ELSE 'accepted' END
    FROM recipients r CROSS JOIN LATERAL generate_series(1, r.attempts) a
    WHERE r.campaign_id = $1 AND r.line >= $2`, [id, firstLine]);
}

/** The same window counted from the rows (timeline_scan), zero-filled like the timeline. */
async function scanned(db: Db, id: string, tl: Timeline): Promise<Timeline['series']> {
  const series = Object.fromEntries(TIMELINE_SERIES.map((k) => [k, new Array<number>(tl.minutes).fill(0)])) as Timeline['series'];
  if (!tl.from) return series;
  const from = Date.parse(tl.from);
  for (const r of (await db.q<{ minute: Date; kind: string; n: number }>('timeline_scan', [id])).rows) {
    const i = (r.minute.getTime() - from) / MINUTE;
    if (i >= 0 && i < tl.minutes) series[r.kind as keyof Timeline["series"]][i]! += Number(r.n);
  }
  return series;
}

/** Every minute counted: the scan's total per series (the window may cut some off; these tests keep within it). */
async function assertTimelineExact(db: Db, id: string, live: boolean, why: string): Promise<Timeline> {
  const tl = await buildTimeline(db, id, live);
  assert.deepEqual(tl.series, await scanned(db, id, tl), `${why}: timeline differs from the rows`);
  const totals = (await db.q<{ kind: string; n: number }>('timeline_scan', [id])).rows
    .reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.kind]: (acc[r.kind] ?? 0) + Number(r.n) }), {});
  for (const k of TIMELINE_SERIES) {
    assert.equal(tl.series[k].reduce((a, b) => a + b, 0), totals[k] ?? 0, `${why}: ${k} total`);
  }
  return tl;
}

// ----------------------------------------------------------------------------------------- timeline

test('timeline: the minute counters equal the rows, through moves, re-sends and deletes, before and after compaction', async () => {
  const id = await newCampaign(t.db, 'timeline exact', 'running', 600);
  await addActivity(t.db, id, 600, 45);
  const tl = await assertTimelineExact(t.db, id, true, 'after insert');
  assert.ok(tl.series.requests.filter((v) => v > 0).length >= 40, 'requests spread over the minutes');
  assert.equal(tl.series.requests.reduce((a, b) => a + b, 0), 600 + Math.floor(600 / 7));

  // A late status with an earlier provider time moves a time back (as status_events_apply_batch does).
  await t.db.raw(`UPDATE recipients SET delivered_at = least(delivered_at, sent_at - interval '30 min'), read_at = least(read_at, sent_at)
    WHERE campaign_id = $1 AND status = 'read' AND line % 3 = 0`, [id]);
  await assertTimelineExact(t.db, id, true, 'after times moved');
  // A failed row sent again: no longer failed, no failed time (campaign retry / a 408 re-send).
  await t.db.raw(`UPDATE recipients SET status = 'queued', failed_at = NULL, error_code = NULL, error_title = NULL
    WHERE campaign_id = $1 AND status = 'failed' AND line % 20 = 0`, [id]);
  // A failed time on a row that is not failed does not count (delivered after failing).
  await t.db.raw(`UPDATE recipients SET failed_at = delivered_at WHERE campaign_id = $1 AND status = 'delivered' AND line % 5 = 1`, [id]);
  await assertTimelineExact(t.db, id, true, 'after re-send');
  // A rolled-back statement leaves nothing behind.
  await t.db.tx(async (tx) => {
    await tx.raw(`UPDATE recipients SET sent_at = now() WHERE campaign_id = $1`, [id]);
    await tx.raw(`INSERT INTO send_attempts (campaign_id, line, attempt, worker) VALUES ($1, 1, 99, 'w')`, [id]);
    throw new Error('roll back');
  }).catch(() => {});
  await assertTimelineExact(t.db, id, true, 'after rollback');
  await t.db.raw(`DELETE FROM recipients WHERE campaign_id = $1 AND line > 550`, [id]);
  const before = await assertTimelineExact(t.db, id, true, 'after delete');

  const pending = async () => (await t.db.raw<{ n: number }>('SELECT count(*)::int AS n FROM campaign_minute_deltas')).rows[0]!.n;
  assert.ok((await pending()) > 0);
  await compactCounters(t.db, { batch: 50, maxBatches: 1_000 });
  assert.equal(await pending(), 0, 'compaction folds every minute delta');
  const after = await assertTimelineExact(t.db, id, true, 'after compaction');
  assert.deepEqual(after, before);
  // A deleted campaign's counters go with it; its pending deltas are dropped by compaction.
  await t.db.raw(`UPDATE recipients SET read_at = now() WHERE campaign_id = $1 AND line < 10`, [id]);
  await t.db.raw('DELETE FROM campaigns WHERE id = $1', [id]);
  await compactCounters(t.db, { maxBatches: 1_000 });
  const left = await t.db.raw(`SELECT (SELECT count(*) FROM campaign_minute_counts WHERE campaign_id = $1)::int AS counts,
    (SELECT count(*) FROM campaign_minute_deltas WHERE campaign_id = $1)::int AS deltas`, [id]);
  assert.deepEqual(left.rows[0], { counts: 0, deltas: 0 });
});

test('timeline: a live campaign shows up to now, a finished one its first 24 h; at most 1,440 minutes', async () => {
  const now = Date.now();
  // No activity: no window.
  const empty = await newCampaign(t.db, 'timeline empty', 'running', 0);
  assert.deepEqual(await buildTimeline(t.db, empty, true), { from: null, minutes: 0, series: { requests: [], sent: [], delivered: [], read: [], failed: [] } });

  // 20 minutes of sending that ended 30 minutes ago.
  const id = await newCampaign(t.db, 'timeline window', 'running', 100);
  await addActivity(t.db, id, 100, 20, 30);
  const live = await buildTimeline(t.db, id, true);
  const finished = await buildTimeline(t.db, id, false);
  assert.equal(live.from, finished.from, 'both start at the first activity');
  const end = (tl: Timeline) => Date.parse(tl.from!) + (tl.minutes - 1) * MINUTE;
  assert.ok(Math.abs(end(live) - minuteOf(now)) <= MINUTE, 'the live window ends now');
  // Finished: ends at the last activity (a read 4 minutes after the last send, 30 minutes ago).
  assert.ok(end(finished) < now - 20 * MINUTE && end(finished) > now - 30 * MINUTE, `finished window ends at its last activity: ${new Date(end(finished)).toISOString()}`);
  assert.deepEqual(live.series.requests.slice(0, finished.minutes), finished.series.requests);

  // Activity over 30 hours: a live window keeps the last 1,440 minutes, a finished one the first 1,440.
  const long = await newCampaign(t.db, 'timeline long', 'running', 200);
  await addActivity(t.db, long, 200, 30 * 60);
  const liveLong = await buildTimeline(t.db, long, true);
  const doneLong = await buildTimeline(t.db, long, false);
  assert.equal(liveLong.minutes, 1440);
  assert.equal(doneLong.minutes, 1440);
  assert.ok(Math.abs(end(liveLong) - minuteOf(now)) <= MINUTE);
  assert.ok(Date.parse(doneLong.from!) < now - 29 * 60 * MINUTE, 'the finished window starts at the first send');
  const scan = (await t.db.q<{ minute: Date; kind: string; n: number }>('timeline_scan', [long])).rows;
  const first = Math.min(...scan.map((r) => r.minute.getTime()));
  assert.equal(Date.parse(doneLong.from!), first);
});

// ------------------------------------------------------------------------------------------- page

/** The values of every URL-carrying attribute of every tag (text between tags is not looked at). */
const attrUrls = (html: string) => [...html.matchAll(/<[a-z][^>]*>/gi)].flatMap(([tag]) =>
  [...tag.matchAll(/\s(?:src|href|xlink:href|action|poster|data|srcset)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)].map((m) => m[1] ?? m[2] ?? m[3] ?? ''));

async function get(path: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(base + path);
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

test('page: values escaped, the funnel, one bar per active minute, nothing external, reload only while running', async () => {
  const evil = `<script>alert("x")</script> & 'Black' "Friday" <img src=//evil.example/x.png>`;
  const id = await newCampaign(t.db, evil, 'running', 300);
  await addActivity(t.db, id, 300, 30);
  const page = await get(`/campaigns/${id}`);
  assert.equal(page.status, 200);
  assert.match(page.type, /^text\/html; charset=utf-8/);
  const html = page.body;

  // Escaping: the name and the provider's failure title appear only escaped.
  assert.ok(!html.includes('<script'), 'no script element at all');
  assert.ok(!html.includes('<img'), 'the name cannot inject markup');
  assert.ok(html.includes('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;Black&#39; &#34;Friday&#34;'), 'the name, escaped');
  assert.ok(html.includes('Message undeliverable &#60;b&#62;&#38;amp;&#60;/b&#62; &#34;quoted&#34;'), 'the failure title, escaped');

  // Nothing from elsewhere: no absolute or protocol-relative URL in any src/href, no stylesheet or font
  // links, no CSS url(); only the relative link to the JSON.
  const urls = attrUrls(html);
  assert.deepEqual(urls, [`/api/campaigns/${id}/report`]);
  for (const u of urls) assert.ok(!/^\s*(?:[a-z][a-z0-9+.-]*:|\/\/)/i.test(u), `external URL ${u}`);
  assert.ok(!/https?:\/\//i.test(html), 'no http(s):// anywhere in the page');
  assert.ok(!/url\(|@import|<link|<iframe|<object|<embed/i.test(html));

  // The funnel: 300 recipients; statuses in turn (accepted/sent/delivered/read) except every 10th failed.
  const report = (await buildReport(t.db, id))!;
  assert.deepEqual(report.status, { queued: 0, sending: 0, accepted: 60, sent: 75, delivered: 60, read: 75, failed: 30 });
  const row = (cls: string) => new RegExp(`<tr class="${cls}"><th>[^<]*</th><td class="n">([\\d,]+)</td>`).exec(html)?.[1];
  assert.equal(row('stage-0'), '300');
  assert.equal(row('stage-1'), String(60 + 75 + 60 + 75));
  assert.equal(row('stage-2'), String(75 + 60 + 75));
  assert.equal(row('stage-3'), String(60 + 75));
  assert.equal(row('stage-4'), '75');
  assert.equal(row('stage-5'), '30');
  assert.match(html, /ambiguous <span class="ambiguous">0<\/span>/);
  assert.match(html, /<td>131026<\/td>/);

  // The chart: one bar per minute with requests, a line per status.
  const tl = await buildTimeline(t.db, id, true);
  const active = tl.series.requests.filter((v) => v > 0).length;
  assert.ok(active >= 25, `requests over ${active} minutes`);
  const bars = /<path class="bars" d="([^"]*)"/.exec(html);
  assert.ok(bars, 'the chart has bars');
  assert.equal(bars[1]!.split('M').length - 1, active, 'one bar per active minute');
  for (const k of ['sent', 'delivered', 'read', 'failed']) assert.match(html, new RegExp(`<polyline class="line-${k}" points="[^"]+"`));

  // Reloads while running (and scheduled), not once ended or paused.
  assert.match(html, /<meta http-equiv="refresh" content="5">/);
  for (const [state, reload] of [['scheduled', true], ['paused', false], ['completed', false], ['cancelled', false], ['draft', false]] as const) {
    const other = await newCampaign(t.db, `state ${state}`, state, 0, state === 'paused' ? 'operator <pause>' : null);
    const body = (await get(`/campaigns/${other}`)).body;
    assert.equal(/http-equiv="refresh"/.test(body), reload, `${state}: reload ${reload}`);
    if (state === 'paused') assert.match(body, /paused: operator &#60;pause&#62;/);
    assert.match(body, /no activity yet/);
    assert.ok(!/<path class="bars"/.test(body), 'no bars without activity');
  }

  // The JSON next to it; unknown or malformed ids.
  const json = await get(`/api/campaigns/${id}/report`);
  assert.equal(json.status, 200);
  assert.equal(JSON.parse(json.body).name, evil);
  assert.equal((await get('/campaigns/00000000-0000-0000-0000-000000000000')).status, 404);
  assert.equal((await get('/campaigns/not-a-uuid')).status, 404);
});

test('page: renders from the report and timeline alone (ingest, reasons, pause, tier)', () => {
  const tl: Timeline = { from: '2026-01-01T00:00:00.000Z', minutes: 3, series: { requests: [5, 0, 2], sent: [1, 2, 0], delivered: [0, 1, 1], read: [0, 0, 1], failed: [0, 1, 0] } };
  const html = renderReportHtml({
    id: 'x', name: 'n', state: 'paused', template: { name: 't', language: 'en' }, channel: 'c<1>', created_at: 'now', started_at: null, completed_at: null,
    ingest: { rows: 12, accepted: 9, invalid: 2, duplicate: 1, suppressed: 0, invalid_reasons: { invalid_phone: 2, missing_param: 0, invalid_param: 0, malformed_row: 0 } },
    status: { queued: 1, sending: 1, accepted: 1, sent: 2, delivered: 2, read: 1, failed: 1 }, failures: [], attempts: { requests: 7, retries: 0 },
    ambiguous: 1, pause_reason: 'provider said <no>', rates: { delivered: 0.333, read: 0.111, failed: 0.111 },
    tier: { limit: 250, used: 250, remaining: 0, frees_at: '2026-01-02T00:00:00.000Z' },
  }, tl);
  assert.match(html, /channel c&#60;1&#62;/);
  assert.match(html, /paused: provider said &#60;no&#62;/);
  assert.match(html, /<tr><td class="n">12<\/td><td class="n">9<\/td><td class="n">2<\/td><td class="n">1<\/td><td class="n">0<\/td><\/tr>/);
  assert.match(html, /messaging tier 250: 250 people in the last 24 h, 0 left/);
  assert.match(html, /no failures/);
  assert.equal(/<path class="bars" d="([^"]*)"/.exec(html)![1]!.split('M').length - 1, 2);
  assert.ok(!/http-equiv="refresh"/.test(html));
});

// --------------------------------------------------------------------------------------- Chromium

function findChromium(): string | null {
  for (const name of ['chromium', 'chromium-browser']) {
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (dir && existsSync(join(dir, name))) return join(dir, name);
    }
  }
  return existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : null;
}

/** A full-window screenshot of `url` by headless Chromium, decoded. */
async function screenshot(chromium: string, url: string): Promise<Image> {
  const dir = mkdtempSync(join(tmpdir(), 'report-shot-'));
  try {
    const file = join(dir, 'shot.png');
    // The flags keep Chromium off the network (this machine's is closed) and away from any profile.
    await run(chromium, [
      '--headless', '--disable-gpu', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--hide-scrollbars', '--force-device-scale-factor=1',
      `--user-data-dir=${join(dir, 'profile')}`, `--screenshot=${file}`, '--window-size=1200,900', url,
    ], { timeout: 30_000 });
    return decodePng(readFileSync(file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const hex = (c: string): [number, number, number] => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) as [number, number, number];
const near = (img: Image, i: number, [r, g, b]: [number, number, number], tol: number) =>
  Math.abs(img.rgba[i]! - r) <= tol && Math.abs(img.rgba[i + 1]! - g) <= tol && Math.abs(img.rgba[i + 2]! - b) <= tol;

/**
 * The check: find the chart's plot by its background colour, then count the pixels of the request bars'
 * colour inside it. `ink` is their share of the plot; a chart with bars has plenty, an empty one none.
 */
function chartInk(img: Image): { plot: { x0: number; y0: number; x1: number; y1: number } | null; barPixels: number; ink: number } {
  const bg = hex(CHART_COLORS.background);
  const bar = hex(CHART_COLORS.requests);
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (near(img, (y * img.width + x) * 4, bg, 1)) {
        x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) return { plot: null, barPixels: 0, ink: 0 };
  let barPixels = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) if (near(img, (y * img.width + x) * 4, bar, 6)) barPixels++;
  }
  return { plot: { x0, y0, x1, y1 }, barPixels, ink: barPixels / ((x1 - x0 + 1) * (y1 - y0 + 1)) };
}

/** Bars must cover at least this share of the plot for the chart to count as drawn. */
const MIN_INK = 0.02;

test('page in headless Chromium: the chart of a campaign with activity is drawn; the same check fails on an empty chart', async (ctx) => {
  const chromium = findChromium();
  if (!chromium) {
    const why = 'Chromium is not installed (Debian: apt-get install -y chromium; .ci/run installs it)';
    if (process.env.CI) assert.fail(`${why}: the screenshot test cannot run, and CI must not pass without it`);
    ctx.skip(why);
    return;
  }
  const busy = await newCampaign(t.db, 'screenshot busy', 'completed', 2000);
  await addActivity(t.db, busy, 2000, 40);
  const idle = await newCampaign(t.db, 'screenshot idle', 'completed', 0);
  const [a, b] = await Promise.all([screenshot(chromium, `${base}/campaigns/${busy}`), screenshot(chromium, `${base}/campaigns/${idle}`)]);
  assert.equal(a.width, 1200);
  const withBars = chartInk(a);
  const empty = chartInk(b);
  assert.ok(withBars.plot && withBars.plot.x1 - withBars.plot.x0 > 600 && withBars.plot.y1 - withBars.plot.y0 > 150, `the chart's plot is on screen: ${JSON.stringify(withBars.plot)}`);
  assert.ok(empty.plot && empty.plot.x1 - empty.plot.x0 > 600, `the empty chart's frame is on screen too: ${JSON.stringify(empty.plot)}`);
  assert.ok(withBars.ink >= MIN_INK, `bars cover ${(withBars.ink * 100).toFixed(1)}% of the plot (${withBars.barPixels} px), want ≥ ${MIN_INK * 100}%`);
  assert.ok(empty.ink < MIN_INK, `the check must fail on an empty chart: ${(empty.ink * 100).toFixed(2)}% (${empty.barPixels} px)`);
  assert.equal(empty.barPixels, 0);
});
