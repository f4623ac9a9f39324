/**
 * The 360dialog On-Premise adapter against a local fake: the legacy body (no messaging_product, the
 * template namespace, the language policy), the D360-API-KEY header, and the On-Premise answers.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createOnPremClient } from '../src/providers/onprem.ts';
import { createClient } from '../src/providers/registry.ts';
import type { Channel } from '../src/config.ts';
import { closedPortUrl, json, sendRefused, sendUnanswered, startRecordingServer, templateRequest } from './helpers/fake-provider.ts';

const API_KEY = 'onprem-secret-key-42';
const NAMESPACE = 'c8ae5f90_307a_ca4c_b8f6_d1e2a2573574';

const request = templateRequest(
  {
    body: 'Hi {{1}}, order {{2}} is on its way.',
    headerText: 'Order {{1}}',
    headerFormat: 'text',
    urlButton: true,
    slots: ['header.1', 'body.1', 'body.2', 'button.0'],
  },
  { 'header.1': 'ORD-17', 'body.1': 'Budi', 'body.2': 'ORD-17', 'button.0': 'track/17' },
);

const fake = await startRecordingServer();
const base = `${fake.url}/v1`;
const client = createOnPremClient({ baseUrl: base, accessToken: API_KEY, namespace: NAMESPACE, timeoutMs: 300 });

after(async () => {
  await client.close?.();
  await fake.close();
});

test('posts the On-Premise body to /messages with D360-API-KEY: namespace, no messaging_product', async () => {
  fake.requests.length = 0;
  fake.answer((_s, res) => json(res, 201, { messages: [{ id: 'gBEGkYiEB1VXAglK1ZEqA1YKPrU' }], meta: { api_status: 'stable' } }));
  assert.deepEqual(await client.send(request), { kind: 'accepted', messageId: 'gBEGkYiEB1VXAglK1ZEqA1YKPrU', httpStatus: 201 });
  const s = fake.requests[0]!;
  assert.equal(s.method, 'POST');
  assert.equal(s.url, '/v1/messages');
  assert.equal(s.headers['d360-api-key'], API_KEY);
  assert.equal(s.headers.authorization, undefined);
  const body = JSON.parse(s.body);
  assert.equal('messaging_product' in body, false);
  assert.equal('recipient_type' in body, false);
  assert.equal(body.template.namespace, NAMESPACE);
  assert.deepEqual(body, {
    to: '6281234567890',
    type: 'template',
    template: {
      namespace: NAMESPACE,
      name: 'order_update',
      language: { policy: 'deterministic', code: 'id' },
      components: [
        { type: 'header', parameters: [{ type: 'text', text: 'ORD-17' }] },
        { type: 'body', parameters: [{ type: 'text', text: 'Budi' }, { type: 'text', text: 'ORD-17' }] },
        { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: 'track/17' }] },
      ],
    },
  });
});

test('an On-Premise errors[] answer becomes code/title/details', async () => {
  fake.answer((_s, res) =>
    json(res, 404, {
      meta: { api_status: 'stable' },
      errors: [{ code: 1006, title: 'Resource not found', details: 'unknown contact' }],
    }));
  assert.deepEqual(await client.send(request), {
    kind: 'error',
    httpStatus: 404,
    code: '1006',
    title: 'Resource not found',
    details: 'unknown contact',
  });
});

test('an answer without messages or errors is an error with code null; the key is never echoed', async () => {
  fake.answer((s, res) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`bad gateway for key ${String(s.headers['d360-api-key'])}`);
  });
  const outcome = await client.send(request);
  assert.ok(outcome.kind === 'error');
  assert.equal(outcome.httpStatus, 502);
  assert.equal(outcome.code, null);
  assert.ok(!JSON.stringify(outcome).includes(API_KEY));

  fake.answer((_s, res) => json(res, 200, { messages: [] }));
  const noId = await client.send(request);
  assert.ok(noId.kind === 'error');
  assert.equal(noId.code, null);
});

test('connection refused is before_write; no answer after the body is after_write', async () => {
  await sendRefused(createOnPremClient({ baseUrl: `${await closedPortUrl()}/v1`, accessToken: API_KEY, namespace: NAMESPACE }), request);

  await sendUnanswered(fake, client, request);
});

test('the registry builds it from the channel: baseUrl, accessToken, templateNamespace', async () => {
  const channel: Channel = {
    name: 'o', provider: '360dialog-onprem', baseUrl: base, accessToken: API_KEY, templateNamespace: 'ns_from_channel', rateLimitRps: 50,
  };
  const viaRegistry = createClient(channel);
  assert.equal(viaRegistry.provider, '360dialog-onprem');
  fake.requests.length = 0;
  fake.answer((_s, res) => json(res, 201, { messages: [{ id: 'gBEGREG' }] }));
  assert.deepEqual(await viaRegistry.send(request), { kind: 'accepted', messageId: 'gBEGREG', httpStatus: 201 });
  await viaRegistry.close?.();
  assert.equal(fake.requests[0]!.url, '/v1/messages');
  assert.equal(fake.requests[0]!.headers['d360-api-key'], API_KEY);
  assert.equal(JSON.parse(fake.requests[0]!.body).template.namespace, 'ns_from_channel');
});
