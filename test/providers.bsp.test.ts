/**
 * The Cloud-compatible BSP adapter against a local fake: the path with the phone number id and the BSP
 * key, the bearer token, the Cloud body (checked against Meta's OpenAPI file), the answers, and that
 * neither secret leaks into an outcome.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createBspClient } from '../src/providers/bsp.ts';
import { createClient } from '../src/providers/registry.ts';
import type { Channel } from '../src/config.ts';
import { closedPortUrl, cloudMessage, json, sendRefused, sendUnanswered, startRecordingServer, templateRequest } from './helpers/fake-provider.ts';
import { loadCloudSendValidator, schemaErrors } from './helpers/openapi.ts';

const TOKEN = 'bsp-bearer-token-123';
const BSP_KEY = 'bspkey-987654';

// A named template with a text header: parameter_name must reach the BSP as it reaches Meta.
const request = templateRequest(
  {
    name: 'promo',
    language: 'en',
    category: 'marketing',
    body: 'Hi {{first_name}}, use {{code}}.',
    headerText: 'News for {{city}}',
    headerFormat: 'text',
    parameterFormat: 'named',
    slots: ['header.1', 'body.first_name', 'body.code'],
  },
  { 'header.1': 'Bandung', 'body.first_name': 'Sari', 'body.code': 'X1' },
);

const fake = await startRecordingServer();
const base = fake.url;
const client = createBspClient({ baseUrl: `${base}/`, phoneNumberId: '1234567890', accessToken: TOKEN, bspKey: BSP_KEY, timeoutMs: 300 });
const validate = loadCloudSendValidator();

after(async () => {
  await client.close?.();
  await fake.close();
});

test('posts the Cloud template message to /api/v1.0/{phoneNumberId}/{bspKey}/messages with the bearer token', async () => {
  fake.requests.length = 0;
  fake.answer((_s, res) =>
    json(res, 200, {
      messaging_product: 'whatsapp',
      contacts: [{ input: '6281234567890', wa_id: '6281234567890' }],
      messages: [{ id: 'wamid.BSP' }],
    }));
  assert.deepEqual(await client.send(request), { kind: 'accepted', messageId: 'wamid.BSP', httpStatus: 200 });
  const s = fake.requests[0]!;
  assert.equal(s.method, 'POST');
  assert.equal(s.url, `/api/v1.0/1234567890/${BSP_KEY}/messages`);
  assert.equal(s.headers.authorization, `Bearer ${TOKEN}`);
  assert.match(String(s.headers['content-type']), /^application\/json/);
  const body = JSON.parse(s.body);
  assert.deepEqual(body, cloudMessage({
    name: 'promo',
    language: { code: 'en', policy: 'deterministic' },
    components: [
      { type: 'header', parameters: [{ type: 'text', text: 'Bandung', parameter_name: 'city' }] },
      {
        type: 'body',
        parameters: [
          { type: 'text', text: 'Sari', parameter_name: 'first_name' },
          { type: 'text', text: 'X1', parameter_name: 'code' },
        ],
      },
    ],
  }));
  assert.ok(validate(body), schemaErrors(validate));
});

test('a Cloud error body becomes code/title/details', async () => {
  fake.answer((_s, res) =>
    json(res, 429, { error: { message: '(#130429) Rate limit hit', type: 'OAuthException', code: 130429, error_data: { details: 'slow down' } } }));
  assert.deepEqual(await client.send(request), {
    kind: 'error',
    httpStatus: 429,
    code: '130429',
    title: '(#130429) Rate limit hit',
    details: 'slow down',
  });
});

test('neither the token nor the BSP key appears in an outcome, even when the BSP echoes them', async () => {
  fake.answer((s, res) =>
    json(res, 401, {
      error: {
        message: `Invalid ${String(s.headers.authorization)} for ${s.url}`,
        code: 190,
        error_data: { details: `key ${BSP_KEY}, token ${TOKEN}` },
      },
    }));
  const outcome = await client.send(request);
  assert.ok(outcome.kind === 'error');
  assert.equal(outcome.code, '190');
  const text = JSON.stringify(outcome);
  assert.ok(!text.includes(TOKEN), text);
  assert.ok(!text.includes(BSP_KEY), text);
  assert.match(text, /\[redacted\]/);
});

test('connection refused is before_write; no answer after the body is after_write', async () => {
  const refused = createBspClient({ baseUrl: await closedPortUrl(), phoneNumberId: '1', accessToken: TOKEN, bspKey: BSP_KEY });
  const early = await sendRefused(refused, request);
  assert.ok(!early.message.includes(BSP_KEY));

  await sendUnanswered(fake, client, request);
});

test('the registry builds it from the channel: baseUrl, phoneNumberId, accessToken, bspKey', async () => {
  const channel: Channel = {
    name: 'b', provider: 'bsp', baseUrl: base, phoneNumberId: '555', accessToken: TOKEN, bspKey: BSP_KEY, rateLimitRps: 50,
  };
  const viaRegistry = createClient(channel);
  assert.equal(viaRegistry.provider, 'bsp');
  fake.requests.length = 0;
  fake.answer((_s, res) => json(res, 200, { messages: [{ id: 'wamid.REG' }] }));
  assert.deepEqual(await viaRegistry.send(request), { kind: 'accepted', messageId: 'wamid.REG', httpStatus: 200 });
  await viaRegistry.close?.();
  assert.equal(fake.requests[0]!.url, `/api/v1.0/555/${BSP_KEY}/messages`);
  assert.equal(fake.requests[0]!.headers.authorization, `Bearer ${TOKEN}`);
  const { bspKey: _missing, ...withoutKey } = channel;
  assert.throws(() => createClient(withoutKey), /bsp needs bspKey/);
});
