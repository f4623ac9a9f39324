import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { createLogger } from '../src/log.ts';
import { addTemplate } from '../src/templates/store.ts';
import { createCampaign } from '../src/campaigns/service.ts';
import { processIngest } from '../src/ingest/process.ts';
import { generateCsv } from '../bench/gen-csv.ts';
import { HEAP_FLAGS, execEnv } from '../src/heap.ts';

const CHILD = fileURLToPath(new URL('./helpers/ingest-child.ts', import.meta.url));
const ROWS = 150_000;
let t: TestDb;
let file: string;
let expected: Awaited<ReturnType<typeof generateCsv>>['expected'];
const log = createLogger('warn', { pretty: false });

before(async () => {
  t = await createTestDb('ingest_crash');
  file = join(mkdtempSync(join(tmpdir(), 'crash-')), 'big.csv');
  expected = (await generateCsv(file, { rows: ROWS, seed: 11 })).expected;
  await addTemplate(t.db, { name: 'b', language: 'id', category: 'marketing', body: 'Halo {{1}}, pesanan {{2}} ke {{3}}', headerText: null, headerFormat: null, urlButton: false });
});
after(() => t.close());

async function upload(name: string): Promise<string> {
  const r = await createCampaign({ db: t.db, pool: t.pool, log }, {
    name, template: 'b', language: 'id', csv: file, channel: 'default', defaultCountry: 'ID',
    params: { 'body.1': 'name', 'body.2': 'order_id', 'body.3': 'city' },
  }, { wait: false });
  const s = (await t.db.raw('SELECT ingest_state, ingest_chunks FROM campaigns WHERE id = $1', [r.id])).rows[0];
  assert.equal(s.ingest_state, 'validating', 'the whole file is stored before validation');
  assert.ok(s.ingest_chunks > 3);
  return r.id;
}

function child(id: string) {
  // The same heap flags and malloc settings as every `campaign` process (bin/campaign.js).
  const p = spawn(process.execPath, [...HEAP_FLAGS, CHILD, t.url, id], { stdio: ['ignore', 'pipe', 'pipe'], env: execEnv(process.env) });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  return { p, exited, out: () => out };
}

const checkpoint = async (id: string): Promise<number> =>
  (await t.db.raw('SELECT ingest_next_seq AS n FROM campaigns WHERE id = $1', [id])).rows[0].n;

test('an ingest killed mid-way resumes at its checkpoint: every row once, the same outcomes as an uninterrupted run', async () => {
  const crashed = await upload('crashed');
  const run = child(crashed);
  const end = Date.now() + 60_000;
  while ((await checkpoint(crashed)) < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  run.p.kill('SIGKILL');
  await run.exited;
  const partial = (await t.db.raw('SELECT count(*)::int AS n FROM recipients WHERE campaign_id = $1', [crashed])).rows[0].n;
  assert.ok(partial > 0 && partial < ROWS, `killed mid-way (${partial} rows stored)`);

  const resumed = await processIngest(t.pool, crashed, log);
  assert.equal(resumed!.rows, ROWS);
  const dup = (await t.db.raw('SELECT count(*)::int AS n, count(DISTINCT line)::int AS d FROM recipients WHERE campaign_id = $1', [crashed])).rows[0];
  assert.deepEqual(dup, { n: ROWS, d: ROWS });
  assert.equal(resumed!.accepted, expected.accepted);
  assert.equal(resumed!.duplicate, expected.duplicate);
  assert.equal(resumed!.invalid, expected.invalid);

  // The same file, validated in one go, in a separate process: its peak memory is bounded too.
  const clean = await upload('clean');
  const whole = child(clean);
  assert.equal(await whole.exited, 0);
  const { rows, maxRssMb } = JSON.parse(whole.out());
  assert.equal(rows, ROWS);
  assert.ok(maxRssMb < 256, `peak RSS ${maxRssMb} MB`);
  const diff = (await t.db.raw(`
    SELECT count(*)::int AS n FROM (
      (SELECT line, outcome, reason, phone_e164 FROM recipients WHERE campaign_id = $1
       EXCEPT SELECT line, outcome, reason, phone_e164 FROM recipients WHERE campaign_id = $2)
      UNION ALL
      (SELECT line, outcome, reason, phone_e164 FROM recipients WHERE campaign_id = $2
       EXCEPT SELECT line, outcome, reason, phone_e164 FROM recipients WHERE campaign_id = $1)) d`, [crashed, clean])).rows[0].n;
  assert.equal(diff, 0, 'the resumed ingest decided every row as the uninterrupted one did');
  const chunksLeft = (await t.db.raw('SELECT count(*)::int AS n FROM ingest_chunks WHERE campaign_id IN ($1, $2)', [crashed, clean])).rows[0].n;
  assert.equal(chunksLeft, 0, 'the upload is removed once validated');
});
