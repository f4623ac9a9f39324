import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { runCli } from './helpers/cli.ts';

let t: TestDb;
let env: Record<string, string>;
const dir = mkdtempSync(join(tmpdir(), 'cli-'));
before(async () => {
  t = await createTestDb('cli');
  env = { DATABASE_URL: t.url };
});
after(() => t.close());

function csv(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

// As root the embedded PostgreSQL runs as `postgres`; a data dir inside a folder closed to it used to end in
// "initdb exited 1: could not open file …/.pwfile: Permission denied".
test('as root, a CAMPAIGN_DATA_DIR the postgres user cannot reach exits 2 and names the closed folder',
  { skip: process.getuid?.() === 0 ? false : 'only root runs the embedded server as another user' }, async () => {
    const closed = mkdtempSync(join(tmpdir(), 'cli-closed-'));
    chmodSync(closed, 0o700);
    const dataDir = join(closed, 'project', '.campaign');
    const r = await runCli(['template', 'list'], { CAMPAIGN_DATA_DIR: dataDir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /CAMPAIGN_DATA_DIR .*cannot reach this folder/);
    assert.ok(r.stderr.includes(`(${closed} is closed to it)`), r.stderr);
    assert.equal(existsSync(join(dataDir, 'pg', 'PG_VERSION')), false, 'no database was initialised');
  });

test('configuration errors exit 2 and name the variable', async () => {
  const bad = await runCli(['list'], { ...env, WA_PROVIDER: 'telegram' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /WA_PROVIDER/);
  const missing = await runCli(['list'], { ...env, WA_PROVIDER: 'cloud', WA_PHONE_NUMBER_ID: '1' });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /WA_ACCESS_TOKEN is required for provider cloud/);
  const flag = await runCli(['list', '--bogus'], env);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /Unknown argument: bogus/);
});

test('template add and list --json', async () => {
  const add = await runCli(['template', 'add', '--name', 'order_update', '--language', 'id', '--body', 'Halo {{1}}, pesanan {{2}}', '--header-text', 'Pesanan {{1}}'], env);
  assert.equal(add.code, 0, add.stderr);
  const list = await runCli(['template', 'list', '--json'], env);
  assert.equal(list.code, 0, list.stderr);
  const templates = JSON.parse(list.stdout);
  const t0 = templates.find((x: { name: string }) => x.name === 'order_update');
  assert.deepEqual(t0.slots, ['header.1', 'body.1', 'body.2']);
});

test('create --json prints exactly one JSON document with the ingest summary; report --json follows the schema', async () => {
  const file = csv('ok.csv', 'Phone,name,order,title\n0812 3456 7890,Budi,ORD-1,Baju\n12,Siti,ORD-2,Celana\n+62 812-3456-7890,Agus,ORD-3,Topi\n');
  const r = await runCli(['create', '--name', 'Black Friday', '--template', 'order_update', '--language', 'id', '--csv', file,
    '--param', 'body.1=name', '--param', 'body.2=order', '--param', 'header.1=title', '--default-country', 'ID', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.state, 'draft');
  assert.deepEqual({ ...out.ingest, errors_sample: undefined }, { rows: 3, accepted: 1, invalid: 1, duplicate: 1, suppressed: 0, errors_sample: undefined });
  assert.equal(out.ingest.errors_sample[0].line, 3);
  assert.equal(out.ingest.errors_sample[0].reason, 'invalid_phone');
  assert.ok(out.ingest.errors_sample[0].detail.length > 0);

  const rep = await runCli(['report', out.id, '--json'], env);
  assert.equal(rep.code, 0, rep.stderr);
  const report = JSON.parse(rep.stdout);
  assert.deepEqual(Object.keys(report).sort(), ['ambiguous', 'attempts', 'channel', 'completed_at', 'created_at', 'failures', 'id', 'ingest', 'name', 'pause_reason', 'rates', 'started_at', 'state', 'status', 'template'].sort());
  assert.deepEqual(report.status, { queued: 1, sending: 0, accepted: 0, sent: 0, delivered: 0, read: 0, failed: 0 });
  assert.deepEqual(report.ingest.invalid_reasons, { invalid_phone: 1, missing_param: 0, invalid_param: 0, malformed_row: 0 });
  assert.deepEqual(report.template, { name: 'order_update', language: 'id' });
  const table = await runCli(['report', out.id], env);
  assert.equal(table.code, 0);
  assert.match(table.stdout, /queued\s+1/);

  const list = await runCli(['list', '--json'], env);
  const campaigns = JSON.parse(list.stdout);
  assert.equal(campaigns[0].id, out.id);
  assert.equal(campaigns[0].status.queued, 1);
});

test('input errors exit 2 with what to fix, and leave no campaign behind', async () => {
  const before = (await t.db.raw('SELECT count(*)::int AS n FROM campaigns')).rows[0].n;
  const unknownColumn = await runCli(['create', '--name', 'x', '--template', 'order_update', '--language', 'id',
    '--csv', csv('cols.csv', 'msisdn,nama\n0812,a\n'), '--param', 'body.1=name'], env);
  assert.equal(unknownColumn.code, 2);
  assert.match(unknownColumn.stderr, /no such column; the file has "msisdn", "nama"/);
  const noPhone = await runCli(['create', '--name', 'x', '--template', 'order_update', '--language', 'id', '--csv', csv('nophone.csv', 'a,b\n1,2\n')], env);
  assert.equal(noPhone.code, 2);
  assert.match(noPhone.stderr, /no phone column/);
  const binary = await runCli(['create', '--name', 'x', '--template', 'order_update', '--language', 'id', '--csv', csv('bin.csv', 'phone\u0000\u0001\u0002')], env);
  assert.equal(binary.code, 2);
  assert.match(binary.stderr, /not a CSV/);
  const headerOnly = await runCli(['create', '--name', 'x', '--template', 'order_update', '--language', 'id',
    '--csv', csv('header.csv', 'phone,name,order,title\n'), '--param', 'body.1=name', '--param', 'body.2=order', '--param', 'header.1=title'], env);
  assert.equal(headerOnly.code, 2);
  assert.match(headerOnly.stderr, /no data rows/);
  const unknownTemplate = await runCli(['create', '--name', 'x', '--template', 'nope', '--language', 'id', '--csv', csv('t.csv', 'phone\n1\n')], env);
  assert.equal(unknownTemplate.code, 2);
  assert.match(unknownTemplate.stderr, /unknown template nope/);
  const missingFile = await runCli(['create', '--name', 'x', '--template', 'order_update', '--language', 'id', '--csv', join(dir, 'absent.csv')], env);
  assert.equal(missingFile.code, 2);
  assert.match(missingFile.stderr, /cannot read/);
  const after = (await t.db.raw('SELECT count(*)::int AS n FROM campaigns')).rows[0].n;
  assert.equal(after, before);
  const badId = await runCli(['report', 'not-a-uuid'], env);
  assert.equal(badId.code, 2);
  const unknownId = await runCli(['report', '00000000-0000-0000-0000-000000000000', '--json'], env);
  assert.equal(unknownId.code, 2);
  assert.equal(unknownId.stdout, '');
});

test('start, pause, resume and cancel are guarded transitions', async () => {
  const file = csv('s.csv', 'phone,name,order,title\n+6281234567891,A,1,T\n');
  const created = JSON.parse((await runCli(['create', '--name', 's', '--template', 'order_update', '--language', 'id', '--csv', file,
    '--param', 'body.1=name', '--param', 'body.2=order', '--param', 'header.1=title', '--json'], env)).stdout);
  const resumeDraft = await runCli(['resume', created.id], env);
  assert.equal(resumeDraft.code, 2);
  assert.match(resumeDraft.stderr, /is draft/);
  const at = new Date(Date.now() + 3_600_000).toISOString();
  const sched = await runCli(['start', created.id, '--at', at, '--json'], env);
  assert.equal(sched.code, 0, sched.stderr);
  assert.equal(JSON.parse(sched.stdout).state, 'scheduled');
  const badAt = await runCli(['start', created.id, '--at', '2026-12-01 09:00'], env);
  assert.equal(badAt.code, 2);
  assert.equal((await runCli(['pause', created.id], env)).code, 0);
  const report = JSON.parse((await runCli(['report', created.id, '--json'], env)).stdout);
  assert.equal(report.state, 'paused');
  assert.equal(report.pause_reason, 'paused by the operator');
  assert.equal((await runCli(['resume', created.id], env)).code, 0);
  assert.equal((await runCli(['cancel', created.id], env)).code, 0);
  const again = await runCli(['cancel', created.id], env);
  assert.equal(again.code, 2);
});
