/**
 * The 360dialog (Cloud API hosting) adapter against a local fake: the URL, the D360-API-KEY header, the
 * Cloud body (checked against Meta's OpenAPI file), and how answers and non-answers become SendOutcomes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createD360Client } from '../src/providers/d360.ts';
import { createClient } from '../src/providers/registry.ts';
import type { Channel } from '../src/config.ts';
import { closedPortUrl, cloudMessage, json, sendRefused, sendUnanswered, startRecordingServer, templateRequest } from './helpers/fake-provider.ts';
import { loadCloudSendValidator, schemaErrors } from './helpers/openapi.ts';

const API_KEY = 'd360-secret-key-XYZ';

const request = templateRequest(
  { body: 'Hi {{1}}, order {{2}} is on its way.', headerFormat: 'image', urlButton: true, slots: ['header.1', 'body.1', 'body.2', 'button.0'] },
  { 'header.1': 'https://example.com/a.jpg', 'body.1': 'Budi', 'body.2': 'ORD-17', 'button.0': 'ORD-17' },
);

const fake = await startRecordingServer();
const base = fake.url;
const client = createD360Client({ baseUrl: `${base}/`, accessToken: API_KEY, timeoutMs: 300 });
const validate = loadCloudSendValidator();

after(async () => {
  await client.close?.();
  await fake.close();
});

test('posts the Cloud template message to /messages with D360-API-KEY and no bearer token', async () => {
  fake.requests.length = 0;
  fake.answer((_s, res) =>
    json(res, 200, {
      messaging_product: 'whatsapp',
      contacts: [{ input: '6281234567890', wa_id: '6281234567890' }],
      messages: [{ id: 'wamid.D360', message_status: 'accepted' }],
    }));
  assert.deepEqual(await client.send(request), { kind: 'accepted', messageId: 'wamid.D360', httpStatus: 200 });
  const s = fake.requests[0]!;
  assert.equal(s.method, 'POST');
  assert.equal(s.url, '/messages');
  assert.equal(s.headers['d360-api-key'], API_KEY);
  assert.equal(s.headers.authorization, undefined);
  assert.match(String(s.headers['content-type']), /^application\/json/);
  const body = JSON.parse(s.body);
  assert.deepEqual(body, cloudMessage({
    name: 'order_update',
    language: { code: 'id', policy: 'deterministic' },
    components: [
      { type: 'header', parameters: [{ type: 'image', image: { link: 'https://example.com/a.jpg' } }] },
      { type: 'body', parameters: [{ type: 'text', text: 'Budi' }, { type: 'text', text: 'ORD-17' }] },
      { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: 'ORD-17' }] },
    ],
  }));
  assert.ok(validate(body), schemaErrors(validate));
});

test("Meta's error object, relayed by 360dialog, becomes code/title/details", async () => {
  fake.answer((_s, res) =>
    json(res, 400, {
      error: {
        message: '(#132001) Template name does not exist in the translation',
        type: 'OAuthException',
        code: 132001,
        error_data: { messaging_product: 'whatsapp', details: 'template name (order_update) does not exist in id' },
        fbtrace_id: 'A1',
      },
    }));
  assert.deepEqual(await client.send(request), {
    kind: 'error',
    httpStatus: 400,
    code: '132001',
    title: '(#132001) Template name does not exist in the translation',
    details: 'template name (order_update) does not exist in id',
  });
});

test('the API key never appears in an outcome, even when echoed back', async () => {
  fake.answer((s, res) => json(res, 401, { error: { message: `Invalid key ${String(s.headers['d360-api-key'])}`, code: 0 } }));
  const outcome = await client.send(request);
  assert.ok(outcome.kind === 'error');
  assert.equal(outcome.code, '0');
  assert.ok(!JSON.stringify(outcome).includes(API_KEY));
});

test('connection refused is before_write; no answer after the body is after_write', async () => {
  await sendRefused(createD360Client({ baseUrl: await closedPortUrl(), accessToken: API_KEY }), request);

  const late = await sendUnanswered(fake, client, request);
  assert.match(late.message, /timeout/);
});

test('the registry builds it from the channel: baseUrl and accessToken', async () => {
  const channel: Channel = { name: 'd', provider: '360dialog', baseUrl: base, accessToken: API_KEY, rateLimitRps: 50 };
  const viaRegistry = createClient(channel);
  assert.equal(viaRegistry.provider, '360dialog');
  fake.requests.length = 0;
  fake.answer((_s, res) => json(res, 200, { messages: [{ id: 'wamid.REG' }] }));
  assert.deepEqual(await viaRegistry.send(request), { kind: 'accepted', messageId: 'wamid.REG', httpStatus: 200 });
  await viaRegistry.close?.();
  assert.equal(fake.requests[0]!.url, '/messages');
  assert.equal(fake.requests[0]!.headers['d360-api-key'], API_KEY);
});
