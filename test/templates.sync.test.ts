import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDb, type TestDb } from './helpers/db.ts';
import { runCli } from './helpers/cli.ts';
import { closedPortUrl, json, neverAnswer, startRecordingServer, type RecordingServer } from './helpers/fake-provider.ts';
import { convertTemplate, fetchProviderTemplates, registerTemplates, type ProviderTemplate } from '../src/templates/sync.ts';
import { getTemplate } from '../src/templates/store.ts';

const TOKEN = 'EAAG-secret-token-123';

/** Templates as Meta lists them (GET /{WABA-ID}/message_templates), one of each kind the tests need. */
const positional: ProviderTemplate = {
  name: 'order_update', language: 'id', status: 'APPROVED', category: 'UTILITY', parameter_format: 'POSITIONAL',
  components: [
    { type: 'HEADER', format: 'TEXT', text: 'Pesanan {{1}}', example: { header_text: ['ORD-1'] } },
    { type: 'BODY', text: 'Halo {{1}}, pesanan {{2}} sudah dikirim.', example: { body_text: [['Budi', 'ORD-1']] } },
    { type: 'FOOTER', text: 'Balas STOP untuk berhenti' },
    { type: 'BUTTONS', buttons: [
      { type: 'URL', text: 'Lacak', url: 'https://shop.example/track/{{1}}', example: ['ORD-1'] },
      { type: 'QUICK_REPLY', text: 'Stop' },
    ] },
  ],
};
const named: ProviderTemplate = {
  name: 'promo_named', language: 'en_US', status: 'APPROVED', category: 'MARKETING', parameter_format: 'NAMED',
  components: [
    { type: 'HEADER', format: 'IMAGE', example: { header_handle: ['4::aW1h'] } },
    { type: 'BODY', text: 'Hi {{first_name}}, use {{code}} today. Bye {{first_name}}!' },
    { type: 'BUTTONS', buttons: [{ type: 'URL', text: 'Shop', url: 'https://shop.example/' }, { type: 'PHONE_NUMBER', text: 'Call', phone_number: '16467043595' }] },
  ],
};
const staticText: ProviderTemplate = {
  name: 'hello_world', language: 'en_US', status: 'APPROVED', category: 'MARKETING',
  components: [
    { type: 'HEADER', format: 'TEXT', text: 'Hello World' },
    { type: 'BODY', text: 'Welcome and congratulations!!' },
    { type: 'FOOTER', text: 'WhatsApp Business API Team' },
  ],
};
const pending: ProviderTemplate = { ...staticText, name: 'new_promo', status: 'PENDING' };
const carousel: ProviderTemplate = {
  name: 'carousel_promo', language: 'en', status: 'APPROVED', category: 'MARKETING',
  components: [{ type: 'BODY', text: 'Look at these {{1}}' }, { type: 'CAROUSEL', cards: [] }],
};
const location: ProviderTemplate = {
  name: 'delivery_location', language: 'en_US', status: 'APPROVED', category: 'UTILITY',
  components: [{ type: 'HEADER', format: 'LOCATION' }, { type: 'BODY', text: 'Good news {{1}}! Order #{{2}} is on its way.' }],
};

describe('convertTemplate', () => {
  test('a positional template with a text header, a footer and a dynamic URL button', () => {
    const c = convertTemplate(positional);
    assert.ok(c.ok, JSON.stringify(c));
    assert.deepEqual(c.input, {
      name: 'order_update', language: 'id', category: 'utility', body: 'Halo {{1}}, pesanan {{2}} sudah dikirim.',
      headerText: 'Pesanan {{1}}', headerFormat: 'text', urlButton: true,
    });
    assert.equal(c.def.parameterFormat, 'positional');
    assert.deepEqual(c.def.slots, ['header.1', 'body.1', 'body.2', 'button.0']);
  });

  test('a named template with an image header; a static URL button and a phone button need no slot', () => {
    const c = convertTemplate(named);
    assert.ok(c.ok, JSON.stringify(c));
    assert.equal(c.def.category, 'marketing');
    assert.equal(c.def.parameterFormat, 'named');
    assert.equal(c.def.headerFormat, 'image');
    assert.equal(c.def.headerText, null);
    assert.equal(c.def.urlButton, false);
    assert.deepEqual(c.def.slots, ['header.1', 'body.first_name', 'body.code']);
  });

  test('a template without placeholders has no slots; lower-case statuses (360dialog) are accepted', () => {
    const c = convertTemplate({ ...staticText, status: 'approved' });
    assert.ok(c.ok, JSON.stringify(c));
    assert.equal(c.def.headerText, 'Hello World');
    assert.deepEqual(c.def.slots, []);
  });

  test('an authentication template: the one-time-password button is the button.0 slot', () => {
    const c = convertTemplate({
      name: 'otp', language: 'en_US', status: 'APPROVED', category: 'AUTHENTICATION',
      components: [
        { type: 'BODY', text: '*{{1}}* is your verification code.', add_security_recommendation: true },
        { type: 'FOOTER', text: 'This code expires in 10 minutes.' },
        { type: 'BUTTONS', buttons: [{ type: 'OTP', otp_type: 'COPY_CODE', text: 'Copy code' }] },
      ],
    });
    assert.ok(c.ok, JSON.stringify(c));
    assert.equal(c.def.category, 'authentication');
    assert.deepEqual(c.def.slots, ['body.1', 'button.0']);
  });

  test('templates that are not approved or that the tool cannot send are skipped with a reason', () => {
    const reason = (t: ProviderTemplate): string => {
      const c = convertTemplate(t);
      assert.ok(!c.ok, `${String(t.name)} should be skipped`);
      assert.equal(c.name, t.name);
      return c.reason;
    };
    assert.match(reason(pending), /status PENDING: only APPROVED/);
    assert.match(reason({ ...staticText, name: 'rej', status: 'REJECTED' }), /status REJECTED/);
    assert.match(reason(carousel), /CAROUSEL component/);
    assert.match(reason(location), /LOCATION header/);
    assert.match(reason({ ...staticText, name: 'flow', components: [{ type: 'BODY', text: 'Book' }, { type: 'BUTTONS', buttons: [{ type: 'FLOW', text: 'Book', flow_id: '1' }] }] }), /FLOW button/);
    assert.match(reason({ ...staticText, name: 'coupon', components: [{ type: 'BODY', text: 'Code' }, { type: 'BUTTONS', buttons: [{ type: 'COPY_CODE', example: 'SAVE' }] }] }), /COPY_CODE button/);
    // The tool sends its one button parameter as index "0": a dynamic URL in second place cannot be filled.
    assert.match(reason({ ...staticText, name: 'second_url', components: [
      { type: 'BODY', text: 'Hi {{1}}' },
      { type: 'BUTTONS', buttons: [{ type: 'PHONE_NUMBER', text: 'Call', phone_number: '1' }, { type: 'URL', text: 'Go', url: 'https://x.example/{{1}}' }] },
    ] }), /button 2 takes a parameter/);
    assert.match(reason({ ...staticText, name: 'mismatch', parameter_format: 'NAMED', components: [{ type: 'BODY', text: 'Hi {{1}}' }] }), /parameter_format is NAMED but its placeholders are positional/);
    assert.match(reason({ ...staticText, name: 'gap', components: [{ type: 'BODY', text: 'Hi {{1}} {{3}}' }] }), /none skipped/);
    assert.match(reason({ ...staticText, name: 'cat', category: 'SERVICE' }), /unknown category SERVICE/);
    assert.match(reason({ ...staticText, name: 'nobody', components: [{ type: 'HEADER', format: 'TEXT', text: 'x' }] }), /no BODY/);
  });
});

describe('fetching', () => {
  let fake: RecordingServer;
  before(async () => {
    fake = await startRecordingServer();
  });
  after(() => fake.close());

  test('cloud: GET /{WABA-ID}/message_templates with the bearer token, following paging.cursors.after while paging.next is set', async () => {
    fake.requests.length = 0;
    fake.answer((seen, res) => {
      const url = new URL(seen.url, 'http://x');
      if (!url.searchParams.has('after')) {
        return json(res, 200, { data: [positional, named], paging: { cursors: { before: 'B1', after: 'A1' }, next: `${fake.url}/v23.0/999/message_templates?after=A1` } });
      }
      // The last page still carries cursors, but no `next`.
      json(res, 200, { data: [staticText], paging: { cursors: { before: 'B2', after: 'A2' } } });
    });
    const list = await fetchProviderTemplates({ provider: 'cloud', baseUrl: `${fake.url}/v23.0/`, accessToken: TOKEN, wabaId: '999' });
    assert.deepEqual(list.map((t) => t.name), ['order_update', 'promo_named', 'hello_world']);
    assert.equal(fake.requests.length, 2);
    for (const r of fake.requests) {
      assert.equal(r.method, 'GET');
      assert.equal(r.headers.authorization, `Bearer ${TOKEN}`);
      const url = new URL(r.url, 'http://x');
      assert.equal(url.pathname, '/v23.0/999/message_templates');
      assert.equal(url.searchParams.get('fields'), 'name,language,status,category,parameter_format,components');
      // The token travels in the header only, never in the URL.
      assert.ok(!r.url.includes(TOKEN));
    }
    assert.equal(new URL(fake.requests[0]!.url, 'http://x').searchParams.get('after'), null);
    assert.equal(new URL(fake.requests[1]!.url, 'http://x').searchParams.get('after'), 'A1');
  });

  test('360dialog: GET /v1/configs/templates with D360-API-KEY, paged by offset and limit until total', async () => {
    fake.requests.length = 0;
    const all = [positional, named, staticText];
    fake.answer((seen, res) => {
      const url = new URL(seen.url, 'http://x');
      const offset = Number(url.searchParams.get('offset'));
      // A page of two, whatever the limit asked, to make the client page.
      const page = all.slice(offset, offset + 2);
      json(res, 200, { count: page.length, total: all.length, offset, limit: Number(url.searchParams.get('limit')), waba_templates: page });
    });
    const list = await fetchProviderTemplates({ provider: '360dialog', baseUrl: fake.url, accessToken: TOKEN });
    assert.deepEqual(list.map((t) => t.name), ['order_update', 'promo_named', 'hello_world']);
    assert.equal(fake.requests.length, 2);
    const urls = fake.requests.map((r) => new URL(r.url, 'http://x'));
    assert.deepEqual(urls.map((u) => u.pathname), ['/v1/configs/templates', '/v1/configs/templates']);
    assert.deepEqual(urls.map((u) => u.searchParams.get('offset')), ['0', '2']);
    assert.ok(urls.every((u) => Number(u.searchParams.get('limit')) > 0));
    for (const r of fake.requests) {
      assert.equal(r.headers['d360-api-key'], TOKEN);
      assert.equal(r.headers.authorization, undefined);
    }
  });

  test('360dialog without a total: stops at a short page', async () => {
    fake.requests.length = 0;
    fake.answer((_seen, res) => json(res, 200, { waba_templates: [positional] }));
    const list = await fetchProviderTemplates({ provider: '360dialog', baseUrl: fake.url, accessToken: TOKEN });
    assert.equal(list.length, 1);
    assert.equal(fake.requests.length, 1);
  });

  test('HTTP errors and silence become one-line errors without the token', async () => {
    fake.answer((_seen, res) => json(res, 401, { error: { message: `Invalid OAuth access token - Cannot parse access token ${TOKEN}`, type: 'OAuthException', code: 190 } }));
    const target = { provider: 'cloud' as const, baseUrl: fake.url, accessToken: TOKEN, wabaId: '999' };
    await assert.rejects(fetchProviderTemplates(target), (err: Error) => {
      assert.match(err.message, /HTTP 401 \(check WA_ACCESS_TOKEN\) to GET .*\/999\/message_templates: Invalid OAuth access token/);
      assert.match(err.message, /code 190/);
      assert.ok(!err.message.includes(TOKEN), err.message);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
    fake.answer((_seen, res) => json(res, 200, { data: 'nope' }));
    await assert.rejects(fetchProviderTemplates(target), /without a "data" array/);
    fake.answer(neverAnswer);
    await assert.rejects(fetchProviderTemplates({ ...target, timeoutMs: 200 }), /could not be reached .*no answer within 200 ms/);
  });
});

describe('registering', () => {
  let t: TestDb;
  before(async () => {
    t = await createTestDb('tsync');
  });
  after(() => t.close());

  test('registers approved templates, skips the rest, and a re-sync changes nothing', async () => {
    const first = await registerTemplates(t.db, [positional, named, pending, carousel, location]);
    assert.deepEqual(first.registered.map((x) => `${x.name}/${x.language}`), ['order_update/id', 'promo_named/en_US']);
    assert.deepEqual(first.registered[0]!.slots, ['header.1', 'body.1', 'body.2', 'button.0']);
    assert.deepEqual(first.updated, []);
    assert.deepEqual(first.skipped.map((s) => s.name), ['new_promo', 'carousel_promo', 'delivery_location']);
    assert.ok(first.skipped.every((s) => s.reason.length > 0 && s.language.length > 0));

    const stored = await getTemplate(t.db, 'promo_named', 'en_US');
    assert.equal(stored.parameterFormat, 'named');
    assert.equal(stored.headerFormat, 'image');
    assert.deepEqual(stored.slots, ['header.1', 'body.first_name', 'body.code']);

    const stamp = async (): Promise<string> =>
      String((await t.db.raw("SELECT updated_at FROM templates WHERE name = 'order_update' AND language = 'id'")).rows[0].updated_at.toISOString());
    const before = await stamp();
    const again = await registerTemplates(t.db, [positional, named, pending, carousel, location]);
    assert.deepEqual(again.registered, []);
    assert.deepEqual(again.updated, []);
    assert.deepEqual(again.unchanged.map((x) => x.name), ['order_update', 'promo_named']);
    assert.equal(await stamp(), before, 'an identical template is not rewritten');
    const count = (await t.db.raw('SELECT count(*)::int AS n FROM templates')).rows[0].n;
    assert.equal(count, 2);
  });

  test('a template whose copy changed at the provider is updated in place (same id)', async () => {
    const old = await getTemplate(t.db, 'order_update', 'id');
    const edited: ProviderTemplate = {
      ...positional,
      components: [{ type: 'BODY', text: 'Halo {{1}}, pesanan {{2}} tiba {{3}}.' }],
    };
    const r = await registerTemplates(t.db, [edited]);
    assert.deepEqual(r.updated.map((x) => x.name), ['order_update']);
    assert.deepEqual(r.registered, []);
    const now = await getTemplate(t.db, 'order_update', 'id');
    assert.equal(now.id, old.id);
    assert.equal(now.body, 'Halo {{1}}, pesanan {{2}} tiba {{3}}.');
    assert.equal(now.headerFormat, null);
    assert.equal(now.urlButton, false);
    assert.deepEqual(now.slots, ['body.1', 'body.2', 'body.3']);
  });

  test('a template a user added by hand with the same copy counts as unchanged', async () => {
    const add = await runCli(['template', 'add', '--name', 'hello_world', '--language', 'en_US', '--category', 'marketing',
      '--body', 'Welcome and congratulations!!', '--header-text', 'Hello World'], { DATABASE_URL: t.url });
    assert.equal(add.code, 0, add.stderr);
    const r = await registerTemplates(t.db, [staticText]);
    assert.deepEqual(r.unchanged.map((x) => x.name), ['hello_world']);
    assert.deepEqual(r.registered, []);
  });
});

describe('the CLI', () => {
  let t: TestDb;
  let fake: RecordingServer;
  before(async () => {
    t = await createTestDb('tsynccli');
    fake = await startRecordingServer();
  });
  after(async () => {
    await fake.close();
    await t.close();
  });
  const cloudEnv = (): Record<string, string> => ({
    DATABASE_URL: t.url, WA_PROVIDER: 'cloud', WA_BASE_URL: `${fake.url}/v23.0`, WA_PHONE_NUMBER_ID: '111',
    WA_ACCESS_TOKEN: TOKEN, WA_WABA_ID: '999',
  });

  test('cloud: sync --json registers, then a second sync reports them unchanged', async () => {
    fake.requests.length = 0;
    fake.answer((_seen, res) => json(res, 200, { data: [positional, named, pending, carousel], paging: { cursors: { after: 'A' } } }));
    const r = await runCli(['template', 'sync', '--json'], cloudEnv());
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(out).sort(), ['registered', 'skipped', 'unchanged', 'updated']);
    assert.deepEqual(out.registered.map((x: { name: string }) => x.name), ['order_update', 'promo_named']);
    assert.deepEqual(out.skipped, [
      { name: 'new_promo', language: 'en_US', reason: 'status PENDING: only APPROVED templates are registered' },
      { name: 'carousel_promo', language: 'en', reason: 'a CAROUSEL component cannot be sent by this tool' },
    ]);
    assert.equal(fake.requests.length, 1);
    assert.equal(new URL(fake.requests[0]!.url, 'http://x').pathname, '/v23.0/999/message_templates');
    assert.equal(fake.requests[0]!.headers.authorization, `Bearer ${TOKEN}`);

    const list = JSON.parse((await runCli(['template', 'list', '--json'], { DATABASE_URL: t.url })).stdout);
    const order = list.find((x: { name: string }) => x.name === 'order_update');
    assert.deepEqual(order.slots, ['header.1', 'body.1', 'body.2', 'button.0']);

    const text = await runCli(['template', 'sync'], cloudEnv());
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /4 templates fetched; registered 0, updated 0, unchanged 2, skipped 2/);
    assert.match(text.stdout, /carousel_promo \(en\): a CAROUSEL component/);
  });

  test('360dialog: sync uses D360-API-KEY and /v1/configs/templates', async () => {
    fake.requests.length = 0;
    fake.answer((_seen, res) => json(res, 200, { count: 1, total: 1, waba_templates: [{ ...staticText, language: 'id', status: 'approved' }] }));
    const r = await runCli(['template', 'sync'], { DATABASE_URL: t.url, WA_PROVIDER: '360dialog', WA_BASE_URL: fake.url, WA_ACCESS_TOKEN: TOKEN });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /registered 1, updated 0, unchanged 0, skipped 0/);
    assert.match(r.stdout, /registered: hello_world \(id\)/);
    assert.equal(fake.requests[0]!.headers['d360-api-key'], TOKEN);
    assert.equal(new URL(fake.requests[0]!.url, 'http://x').pathname, '/v1/configs/templates');
  });

  test('other providers, and cloud without WA_WABA_ID, exit 2 before any request', async () => {
    fake.requests.length = 0;
    const sandbox = await runCli(['template', 'sync'], { DATABASE_URL: t.url });
    assert.equal(sandbox.code, 2);
    assert.match(sandbox.stderr, /template sync works for the cloud and 360dialog providers; channel default uses sandbox: register its templates with "campaign template add"/);
    const onprem = await runCli(['template', 'sync'], { DATABASE_URL: t.url, WA_PROVIDER: '360dialog-onprem', WA_ACCESS_TOKEN: TOKEN, WA_TEMPLATE_NAMESPACE: 'ns', WA_BASE_URL: fake.url });
    assert.equal(onprem.code, 2);
    assert.match(onprem.stderr, /uses 360dialog-onprem/);
    const { WA_WABA_ID: _omit, ...noWaba } = cloudEnv();
    const missing = await runCli(['template', 'sync'], noWaba);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /WA_WABA_ID is required for template sync with provider cloud/);
    assert.equal(fake.requests.length, 0);
  });

  test('401, 5xx and an unreachable provider exit 1 with one line that does not contain the token', async () => {
    fake.answer((_seen, res) => json(res, 401, { error: { message: `Invalid access token ${TOKEN}`, code: 190 } }));
    const unauthorized = await runCli(['template', 'sync'], cloudEnv());
    assert.equal(unauthorized.code, 1);
    assert.match(unauthorized.stderr, /^campaign: template sync: cloud answered HTTP 401 \(check WA_ACCESS_TOKEN\)/);
    assert.equal(unauthorized.stderr.trim().split('\n').length, 1, unauthorized.stderr);
    assert.ok(!unauthorized.stderr.includes(TOKEN) && !unauthorized.stdout.includes(TOKEN));

    fake.answer((_seen, res) => {
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<html>Service Unavailable</html>');
    });
    const down = await runCli(['template', 'sync', '--json'], cloudEnv());
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cloud answered HTTP 503 to GET http:\/\/127\.0\.0\.1:\d+\/v23\.0\/999\/message_templates/);
    assert.equal(down.stdout, '', 'nothing on stdout when it fails');

    const refused = await runCli(['template', 'sync'], { ...cloudEnv(), WA_BASE_URL: await closedPortUrl() });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cloud could not be reached .*ECONNREFUSED/);
    assert.ok(!refused.stderr.includes(TOKEN));
  });
});
