import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadConfig, pickChannel, DEFAULT_AMBIGUOUS_SETTLE_S, DEFAULT_DATA_DIR, DEFAULT_PORT, DEFAULT_RATE_LIMIT_RPS,
} from '../src/config.ts';
import { UsageError } from '../src/errors.ts';

// loadConfig is pure (environment + flags in, frozen Config out): no database is needed here.

const dir = mkdtempSync(join(tmpdir(), 'config-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Assert that `fn` throws a UsageError whose message contains every one of `words`. */
function throwsUsage(fn: () => unknown, ...words: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    for (const w of words) assert.ok(err.message.includes(w), `message ${JSON.stringify(err.message)} should name ${w}`);
    return true;
  });
}

function channelsFile(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

test('defaults: sandbox provider, 50 rps, port 8080, ./.campaign, settle 600 s', () => {
  const c = loadConfig({});
  assert.equal(c.channels.length, 1);
  const ch = c.channels[0]!;
  assert.equal(ch.name, 'default');
  assert.equal(ch.provider, 'sandbox');
  assert.equal(ch.rateLimitRps, 50);
  assert.equal(ch.baseUrl, undefined, 'the sandbox has no default base URL');
  assert.equal(c.port, 8080);
  assert.equal(c.dataDir, './.campaign');
  assert.equal(c.ambiguousSettleS, 600);
  assert.equal(c.logLevel, 'info');
  assert.equal(c.databaseUrl, undefined);
  assert.equal(c.publicUrl, undefined);
  // The exported constants are the same numbers the interface documents.
  assert.deepEqual([DEFAULT_RATE_LIMIT_RPS, DEFAULT_PORT, DEFAULT_DATA_DIR, DEFAULT_AMBIGUOUS_SETTLE_S], [50, 8080, './.campaign', 600]);
});

test('empty environment variables count as unset', () => {
  const c = loadConfig({ WA_PROVIDER: '', WA_RATE_LIMIT_RPS: '', PORT: '', CAMPAIGN_DATA_DIR: '', LOG_LEVEL: '' });
  assert.equal(c.channels[0]!.provider, 'sandbox');
  assert.equal(c.channels[0]!.rateLimitRps, 50);
  assert.equal(c.port, 8080);
  assert.equal(c.dataDir, './.campaign');
  assert.equal(c.logLevel, 'info');
});

test('an empty DATABASE_URL counts as unset (the embedded default), like every other variable', () => {
  // `DATABASE_URL= campaign demo`, or a compose file with `DATABASE_URL:` left blank, must not be exit 2.
  assert.equal(loadConfig({ DATABASE_URL: '' }).databaseUrl, undefined);
});

test('environment values override the defaults and are coerced to numbers', () => {
  const c = loadConfig({
    WA_RATE_LIMIT_RPS: '80', PORT: '9090', CAMPAIGN_DATA_DIR: '/var/lib/campaign', CAMPAIGN_AMBIGUOUS_SETTLE_S: '30',
    LOG_LEVEL: 'debug', DATABASE_URL: 'postgres://u@db/x', WA_APP_SECRET: 's3cret', WA_VERIFY_TOKEN: 'vt',
  });
  assert.equal(c.channels[0]!.rateLimitRps, 80);
  assert.equal(c.port, 9090);
  assert.equal(c.dataDir, '/var/lib/campaign');
  assert.equal(c.ambiguousSettleS, 30);
  assert.equal(c.logLevel, 'debug');
  assert.equal(c.databaseUrl, 'postgres://u@db/x');
  assert.equal(c.appSecret, 's3cret');
  assert.equal(c.verifyToken, 'vt');
});

test('bad values are usage errors that name the variable', () => {
  throwsUsage(() => loadConfig({ WA_RATE_LIMIT_RPS: 'fast' }), 'WA_RATE_LIMIT_RPS');
  throwsUsage(() => loadConfig({ WA_RATE_LIMIT_RPS: '0' }), 'WA_RATE_LIMIT_RPS');
  throwsUsage(() => loadConfig({ PORT: '70000' }), 'PORT');
  throwsUsage(() => loadConfig({ LOG_LEVEL: 'loud' }), 'LOG_LEVEL');
  throwsUsage(() => loadConfig({ CAMPAIGN_AMBIGUOUS_SETTLE_S: '-1' }), 'CAMPAIGN_AMBIGUOUS_SETTLE_S');
});

test('an unknown WA_PROVIDER is a UsageError naming WA_PROVIDER', () => {
  throwsUsage(() => loadConfig({ WA_PROVIDER: 'twilio' }), 'WA_PROVIDER');
});

test('cloud without WA_ACCESS_TOKEN names WA_ACCESS_TOKEN', () => {
  throwsUsage(() => loadConfig({ WA_PROVIDER: 'cloud', WA_PHONE_NUMBER_ID: '1234567890' }), 'WA_ACCESS_TOKEN', 'cloud');
  throwsUsage(() => loadConfig({ WA_PROVIDER: 'cloud', WA_ACCESS_TOKEN: 'tok' }), 'WA_PHONE_NUMBER_ID');
  const c = loadConfig({ WA_PROVIDER: 'cloud', WA_PHONE_NUMBER_ID: '1234567890', WA_ACCESS_TOKEN: 'tok' });
  assert.equal(c.channels[0]!.accessToken, 'tok');
  assert.equal(c.channels[0]!.phoneNumberId, '1234567890');
});

test('bsp without WA_BASE_URL names WA_BASE_URL (bsp has no default base URL)', () => {
  const bsp = { WA_PROVIDER: 'bsp', WA_PHONE_NUMBER_ID: '1', WA_ACCESS_TOKEN: 'tok', WA_BSP_KEY: 'key' };
  throwsUsage(() => loadConfig(bsp), 'WA_BASE_URL', 'bsp');
  throwsUsage(() => loadConfig({ ...bsp, WA_BASE_URL: 'https://bsp.example.com', WA_BSP_KEY: '' }), 'WA_BSP_KEY');
  throwsUsage(() => loadConfig({ ...bsp, WA_BASE_URL: 'not a url' }), 'WA_BASE_URL');
  const c = loadConfig({ ...bsp, WA_BASE_URL: 'https://bsp.example.com' });
  assert.equal(c.channels[0]!.baseUrl, 'https://bsp.example.com');
  assert.equal(c.channels[0]!.bspKey, 'key');
});

test('verihubs without PUBLIC_URL names PUBLIC_URL', () => {
  const vh = { WA_PROVIDER: 'verihubs', WA_APP_ID: 'app', WA_API_KEY: 'key' };
  throwsUsage(() => loadConfig(vh), 'PUBLIC_URL');
  throwsUsage(() => loadConfig({ ...vh, WA_API_KEY: '', PUBLIC_URL: 'https://me.example.com' }), 'WA_API_KEY');
  const c = loadConfig({ ...vh, PUBLIC_URL: 'https://me.example.com' });
  assert.equal(c.publicUrl, 'https://me.example.com');
  assert.equal(c.channels[0]!.appId, 'app');
});

test('each provider gets its default base URL; WA_BASE_URL overrides it', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ WA_PROVIDER: 'cloud', WA_PHONE_NUMBER_ID: '1', WA_ACCESS_TOKEN: 't' }, 'https://graph.facebook.com/v23.0'],
    [{ WA_PROVIDER: '360dialog', WA_ACCESS_TOKEN: 't' }, 'https://waba-v2.360dialog.io'],
    [{ WA_PROVIDER: '360dialog-onprem', WA_ACCESS_TOKEN: 't', WA_TEMPLATE_NAMESPACE: 'ns' }, 'https://waba.360dialog.io/v1'],
    [{ WA_PROVIDER: 'verihubs', WA_APP_ID: 'a', WA_API_KEY: 'k', PUBLIC_URL: 'https://me.example.com' }, 'https://api.verihubs.com'],
  ];
  for (const [env, url] of cases) {
    const c = loadConfig(env);
    assert.equal(c.channels[0]!.provider, env.WA_PROVIDER);
    assert.equal(c.channels[0]!.baseUrl, url, `${env.WA_PROVIDER} default base URL`);
    const over = loadConfig({ ...env, WA_BASE_URL: 'http://127.0.0.1:9999/mock' });
    assert.equal(over.channels[0]!.baseUrl, 'http://127.0.0.1:9999/mock', `${env.WA_PROVIDER} with WA_BASE_URL`);
  }
});

test('CAMPAIGN_CHANNELS_FILE: two channels, lower-case env keys plus name; pickChannel by name', () => {
  const file = channelsFile('channels.json', [
    { name: 'indonesia', wa_provider: 'cloud', wa_phone_number_id: '111', wa_access_token: 'tok-id', wa_rate_limit_rps: 80 },
    { name: 'singapore', wa_provider: '360dialog', wa_access_token: 'key-sg', wa_rate_limit_rps: '20' },
  ]);
  // The file replaces the environment's channel: WA_PROVIDER in the env is not a third channel.
  const c = loadConfig({ CAMPAIGN_CHANNELS_FILE: file, WA_PROVIDER: 'bsp' });
  assert.deepEqual(c.channels.map((ch) => ch.name), ['indonesia', 'singapore']);

  const id = pickChannel(c, 'indonesia');
  assert.equal(id.provider, 'cloud');
  assert.equal(id.phoneNumberId, '111');
  assert.equal(id.accessToken, 'tok-id');
  assert.equal(id.rateLimitRps, 80);
  assert.equal(id.baseUrl, 'https://graph.facebook.com/v23.0');

  const sg = pickChannel(c, 'singapore');
  assert.equal(sg.provider, '360dialog');
  assert.equal(sg.accessToken, 'key-sg');
  assert.equal(sg.rateLimitRps, 20);
  assert.equal(sg.baseUrl, 'https://waba-v2.360dialog.io');

  assert.equal(pickChannel(c), id, 'no --channel: the first');
  assert.equal(pickChannel(c, ''), id);
  throwsUsage(() => pickChannel(c, 'malaysia'), 'malaysia', 'indonesia', 'singapore');
});

test('pickChannel on the environment channel: "default"', () => {
  const c = loadConfig({});
  assert.equal(pickChannel(c, 'default').name, 'default');
  throwsUsage(() => pickChannel(c, 'other'), 'other');
});

test('CAMPAIGN_CHANNELS_FILE problems are usage errors', () => {
  throwsUsage(() => loadConfig({ CAMPAIGN_CHANNELS_FILE: join(dir, 'missing.json') }), 'CAMPAIGN_CHANNELS_FILE');
  throwsUsage(() => loadConfig({ CAMPAIGN_CHANNELS_FILE: channelsFile('bad.json', '{not json') }), 'CAMPAIGN_CHANNELS_FILE');
  throwsUsage(() => loadConfig({ CAMPAIGN_CHANNELS_FILE: channelsFile('empty.json', []) }), 'CAMPAIGN_CHANNELS_FILE');
  throwsUsage(() => loadConfig({ CAMPAIGN_CHANNELS_FILE: channelsFile('obj.json', { name: 'x' }) }), 'CAMPAIGN_CHANNELS_FILE');
  throwsUsage(
    () => loadConfig({ CAMPAIGN_CHANNELS_FILE: channelsFile('twice.json', [{ name: 'a' }, { name: 'a' }]) }),
    'unique', 'a',
  );
  throwsUsage(
    () => loadConfig({ CAMPAIGN_CHANNELS_FILE: channelsFile('notoken.json', [{ name: 'a' }, { name: 'b', wa_provider: 'cloud', wa_phone_number_id: '1' }]) }),
    'wa_access_token', 'b',
  );
  throwsUsage(
    () => loadConfig({ CAMPAIGN_CHANNELS_FILE: channelsFile('badprov.json', [{ name: 'a', wa_provider: 'carrier-pigeon' }]) }),
    'wa_provider',
  );
  // A verihubs channel in the file still needs PUBLIC_URL from the environment.
  const vh = channelsFile('vh.json', [{ name: 'v', wa_provider: 'verihubs', wa_app_id: 'a', wa_api_key: 'k' }]);
  throwsUsage(() => loadConfig({ CAMPAIGN_CHANNELS_FILE: vh }), 'PUBLIC_URL');
  assert.equal(loadConfig({ CAMPAIGN_CHANNELS_FILE: vh, PUBLIC_URL: 'https://me.example.com' }).channels[0]!.name, 'v');
});

test('--database-url wins over DATABASE_URL; --port wins over PORT', () => {
  const env = { DATABASE_URL: 'postgres://env@db/envdb', PORT: '9000' };
  assert.equal(loadConfig(env).databaseUrl, 'postgres://env@db/envdb');
  const c = loadConfig(env, { databaseUrl: 'postgres://flag@db/flagdb', port: 7000 });
  assert.equal(c.databaseUrl, 'postgres://flag@db/flagdb');
  assert.equal(c.port, 7000);
  assert.equal(loadConfig({}, { databaseUrl: 'postgres://flag@db/only' }).databaseUrl, 'postgres://flag@db/only');
  assert.equal(loadConfig(env, { databaseUrl: undefined }).databaseUrl, 'postgres://env@db/envdb');
});

test('the result is frozen', () => {
  const c = loadConfig({ PORT: '8081' });
  assert.ok(Object.isFrozen(c));
  assert.throws(() => { (c as { port: number }).port = 1; }, TypeError);
  assert.throws(() => { (c as Record<string, unknown>).extra = 1; }, TypeError);
  assert.equal(c.port, 8081);
});
