/**
 * The Verihubs V2 adapter against a local fake: the path, the App-ID/API-Key headers, the flat body
 * (body_params in slot order, header_params, button_param, callback_url), the message id wherever
 * Verihubs puts it, and the HTTP-status errors as `verihubs_…` codes the classifier understands.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createVerihubsClient } from '../src/providers/verihubs.ts';
import { createClient } from '../src/providers/registry.ts';
import { classifyOutcome } from '../src/send/classify.ts';
import type { Channel } from '../src/config.ts';
import { closedPortUrl, json, sendRefused, sendUnanswered, startRecordingServer, templateRequest } from './helpers/fake-provider.ts';

const APP_ID = 'app-123';
const API_KEY = 'vh-secret-api-key-456';
const PUBLIC_URL = 'https://campaign.example.com/';

// Body placeholders mentioned out of order: positional parameters go by number, {{1}} first.
const request = templateRequest(
  {
    body: 'Order {{2}} for {{1}} arrives {{3}}.',
    headerText: 'Hi {{1}}',
    headerFormat: 'text',
    urlButton: true,
    slots: ['header.1', 'body.1', 'body.2', 'body.3', 'button.0'],
  },
  { 'header.1': 'Budi', 'body.1': 'Budi', 'body.2': 'ORD-17', 'body.3': 'tomorrow', 'button.0': 'track/17' },
);

const fake = await startRecordingServer();
const base = fake.url;
const client = createVerihubsClient({ baseUrl: `${base}/`, appId: APP_ID, apiKey: API_KEY, publicUrl: PUBLIC_URL, timeoutMs: 300 });

after(async () => {
  await client.close?.();
  await fake.close();
});

test('posts the V2 template body to /v2/whatsapp/message/send with App-ID and API-Key', async () => {
  fake.requests.length = 0;
  fake.answer((_s, res) => json(res, 201, { message: 'Message sent', session_id: '7f0c1c1e-1111-4c1a-9d5e-aaaaaaaaaaaa' }));
  assert.deepEqual(await client.send(request), {
    kind: 'accepted',
    messageId: '7f0c1c1e-1111-4c1a-9d5e-aaaaaaaaaaaa',
    httpStatus: 201,
  });
  const s = fake.requests[0]!;
  assert.equal(s.method, 'POST');
  assert.equal(s.url, '/v2/whatsapp/message/send');
  assert.equal(s.headers['app-id'], APP_ID);
  assert.equal(s.headers['api-key'], API_KEY);
  assert.equal(s.headers.authorization, undefined);
  assert.match(String(s.headers['content-type']), /^application\/json/);
  assert.deepEqual(JSON.parse(s.body), {
    msisdn: '6281234567890',
    template_name: 'order_update',
    lang_code: 'id',
    content: {
      body_params: ['Budi', 'ORD-17', 'tomorrow'],
      header_params: ['Budi'],
      button_param: { url_param: 'track/17' },
    },
    callback_url: 'https://campaign.example.com/callbacks/verihubs',
  });
});

test('no button_param without a URL button; empty header_params without a header parameter', async () => {
  fake.requests.length = 0;
  fake.answer((_s, res) => json(res, 201, { session_id: 's-1' }));
  await client.send({
    to: '+628111',
    template: { ...request.template, headerText: null, headerFormat: null, urlButton: false, slots: ['body.1'] },
    params: { 'body.1': 'Sari' },
  });
  const body = JSON.parse(fake.requests[0]!.body);
  assert.deepEqual(body.content, { body_params: ['Sari'], header_params: [] });
  assert.equal(body.msisdn, '628111');
});

test('the message id: session_id or id, at the top level or under data; HTTP 200 too', async (t) => {
  const cases: Array<[status: number, body: unknown, id: string]> = [
    [201, { session_id: 'sess-top' }, 'sess-top'],
    [201, { id: 'id-top' }, 'id-top'],
    [200, { data: { session_id: 'sess-data' } }, 'sess-data'],
    [201, { code: 201, data: { id: 'id-data' } }, 'id-data'],
    // The callbacks name the message by session_id, so it wins when both are present.
    [201, { id: 'other', session_id: 'sess-wins' }, 'sess-wins'],
    [201, { data: { id: 12345 } }, '12345'],
  ];
  for (const [status, body, id] of cases) {
    await t.test(JSON.stringify(body), async () => {
      fake.answer((_s, res) => json(res, status, body));
      assert.deepEqual(await client.send(request), { kind: 'accepted', messageId: id, httpStatus: status });
    });
  }
});

test('a 2xx without an id is an error with code null (ambiguous to the classifier)', async () => {
  fake.answer((_s, res) => json(res, 201, { message: 'ok' }));
  const outcome = await client.send(request);
  assert.ok(outcome.kind === 'error');
  assert.equal(outcome.code, null);
  assert.equal(outcome.httpStatus, 201);
  assert.deepEqual(classifyOutcome(outcome), { action: 'ambiguous' });
});

test('error statuses become verihubs_http_<status> codes with the body message as title', async (t) => {
  const cases: Array<[status: number, message: string, action: string, extra?: object]> = [
    [400, 'msisdn is invalid', 'fail'],
    [401, 'Unauthorized', 'pause'],
    [403, 'Quota exceeded', 'pause'],
    [409, 'msisdn is blocked', 'fail', { suppress: true }],
    [429, 'Too many requests', 'retry', { slowChannel: true }],
  ];
  for (const [status, message, action, extra] of cases) {
    await t.test(`HTTP ${status}`, async () => {
      fake.answer((_s, res) => json(res, status, { message }));
      const outcome = await client.send(request);
      assert.ok(outcome.kind === 'error', JSON.stringify(outcome));
      assert.equal(outcome.httpStatus, status);
      assert.equal(outcome.code, `verihubs_http_${status}`);
      assert.equal(outcome.title, message);
      const got = classifyOutcome(outcome);
      assert.equal(got.action, action);
      if (extra) assert.deepEqual({ ...got, ...extra }, got);
      if (status === 403) assert.match(got.action === 'pause' ? got.reason : '', /Verihubs quota exhausted/);
    });
  }
});

test("the body's own code is kept, namespaced so it is never read as a Meta code", async () => {
  fake.answer((_s, res) => json(res, 403, { code: 10, message: 'Insufficient balance' }));
  const outcome = await client.send(request);
  assert.ok(outcome.kind === 'error');
  assert.equal(outcome.code, 'verihubs_10');
  assert.equal(outcome.title, 'Insufficient balance');
  const action = classifyOutcome(outcome);
  assert.ok(action.action === 'pause');
  assert.match(action.reason, /^Verihubs quota exhausted/);

  fake.answer((_s, res) => {
    res.writeHead(502, { 'content-type': 'text/html' });
    res.end('<html>Bad gateway</html>');
  });
  const proxy = await client.send(request);
  assert.ok(proxy.kind === 'error');
  assert.equal(proxy.code, 'verihubs_http_502');
  assert.equal(proxy.title, null);
});

test('the API key never appears in an outcome, even when echoed back', async () => {
  fake.answer((s, res) => json(res, 401, { message: `bad API-Key ${String(s.headers['api-key'])}` }));
  const outcome = await client.send(request);
  assert.ok(outcome.kind === 'error');
  assert.ok(!JSON.stringify(outcome).includes(API_KEY));
});

test('connection refused is before_write; no answer after the body is after_write', async () => {
  const refused = createVerihubsClient({ baseUrl: await closedPortUrl(), appId: APP_ID, apiKey: API_KEY, publicUrl: PUBLIC_URL });
  await sendRefused(refused, request);

  await sendUnanswered(fake, client, request);
});

test('the registry builds it from the channel, and refuses without PUBLIC_URL', async () => {
  const channel: Channel = { name: 'vh', provider: 'verihubs', baseUrl: base, appId: APP_ID, apiKey: API_KEY, rateLimitRps: 50 };
  assert.throws(() => createClient(channel), /verihubs needs PUBLIC_URL/);
  const viaRegistry = createClient(channel, undefined, { publicUrl: 'https://hooks.example.com' });
  assert.equal(viaRegistry.provider, 'verihubs');
  fake.requests.length = 0;
  fake.answer((_s, res) => json(res, 201, { session_id: 'reg-1' }));
  assert.deepEqual(await viaRegistry.send(request), { kind: 'accepted', messageId: 'reg-1', httpStatus: 201 });
  await viaRegistry.close?.();
  assert.equal(fake.requests[0]!.url, '/v2/whatsapp/message/send');
  assert.equal(fake.requests[0]!.headers['app-id'], APP_ID);
  assert.equal(JSON.parse(fake.requests[0]!.body).callback_url, 'https://hooks.example.com/callbacks/verihubs');
});
