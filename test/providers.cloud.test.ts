/**
 * The Cloud API adapter against a local fake: what goes on the wire, and how every kind of answer (and
 * non-answer) becomes a SendOutcome.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createCloudClient } from '../src/providers/cloud.ts';
import { closedPortUrl, json, neverAnswer, sendRefused, sendUnanswered, startRecordingServer, templateRequest } from './helpers/fake-provider.ts';

const TOKEN = 'EAAG-secret-token-123';

const request = templateRequest({}, { 'body.1': 'Budi' });

/** A fake Cloud API whose answer each test sets; it records what it received. */
const fake = await startRecordingServer();
const base = `${fake.url}/v23.0`;
const client = createCloudClient({ baseUrl: `${base}/`, phoneNumberId: '1234567890', accessToken: TOKEN, timeoutMs: 300 });

after(async () => {
  await client.close?.();
  await fake.close();
});

test('posts the template message to /{phoneNumberId}/messages with the bearer token', async () => {
  fake.requests.length = 0;
  fake.answer((_s, res) =>
    json(res, 200, {
      messaging_product: 'whatsapp',
      contacts: [{ input: '6281234567890', wa_id: '6281234567890' }],
      messages: [{ id: 'wamid.ABC', message_status: 'accepted' }],
    }));
  const outcome = await client.send(request);
  assert.deepEqual(outcome, { kind: 'accepted', messageId: 'wamid.ABC', httpStatus: 200 });
  const s = fake.requests[0]!;
  assert.equal(s.method, 'POST');
  assert.equal(s.url, '/v23.0/1234567890/messages');
  assert.equal(s.headers.authorization, `Bearer ${TOKEN}`);
  assert.match(String(s.headers['content-type']), /^application\/json/);
  const body = JSON.parse(s.body);
  assert.equal(body.messaging_product, 'whatsapp');
  assert.equal(body.recipient_type, 'individual');
  assert.equal(body.to, '6281234567890');
  assert.equal(body.type, 'template');
  assert.equal(body.template.name, 'order_update');
  assert.deepEqual(body.template.language, { code: 'id', policy: 'deterministic' });
  assert.deepEqual(body.template.components, [{ type: 'body', parameters: [{ type: 'text', text: 'Budi' }] }]);
});

test('a Cloud error body becomes code/title/details, whatever the HTTP status', async () => {
  fake.answer((_s, res) =>
    json(res, 400, {
      error: {
        message: 'Message undeliverable',
        type: 'OAuthException',
        code: 131026,
        error_data: { messaging_product: 'whatsapp', details: 'Message Undeliverable.' },
        fbtrace_id: 'Az8',
      },
    }));
  assert.deepEqual(await client.send(request), {
    kind: 'error',
    httpStatus: 400,
    code: '131026',
    title: 'Message undeliverable',
    details: 'Message Undeliverable.',
  });
});

test('HTTP 408 without a body: code null, the status kept', async () => {
  fake.answer((_s, res) => {
    res.writeHead(408);
    res.end();
  });
  const outcome = await client.send(request);
  assert.equal(outcome.kind, 'error');
  assert.ok(outcome.kind === 'error');
  assert.equal(outcome.httpStatus, 408);
  assert.equal(outcome.code, null);
});

test('a non-JSON answer (a proxy page) or a 200 without an id is an error with code null', async () => {
  fake.answer((_s, res) => {
    res.writeHead(502, { 'content-type': 'text/html' });
    res.end('<html>Bad gateway</html>');
  });
  const proxy = await client.send(request);
  assert.ok(proxy.kind === 'error');
  assert.equal(proxy.httpStatus, 502);
  assert.equal(proxy.code, null);

  fake.answer((_s, res) => json(res, 200, { messaging_product: 'whatsapp', messages: [] }));
  const noId = await client.send(request);
  assert.ok(noId.kind === 'error');
  assert.equal(noId.httpStatus, 200);
  assert.equal(noId.code, null);
});

test('the token never appears in an outcome, even when the provider echoes it', async () => {
  fake.answer((s, res) =>
    json(res, 401, { error: { message: `Invalid token ${String(s.headers.authorization)}`, code: 190 } }));
  const outcome = await client.send(request);
  assert.ok(outcome.kind === 'error');
  assert.equal(outcome.code, '190');
  assert.ok(!JSON.stringify(outcome).includes(TOKEN));
});

test('connection refused: a network failure before the body was written', async () => {
  const refused = createCloudClient({ baseUrl: `${await closedPortUrl()}/v23.0`, phoneNumberId: '1', accessToken: TOKEN });
  const outcome = await sendRefused(refused, request);
  assert.ok(!outcome.message.includes(TOKEN));
});

test('a server that reads the body and never answers: after_write on timeout', async () => {
  const started = Date.now();
  const outcome = await sendUnanswered(fake, client, request);
  assert.match(outcome.message, /timeout/);
  assert.ok(Date.now() - started < 2_000);
});

test('an abort while waiting for the answer is after_write; an abort before sending is before_write', async () => {
  fake.answer(neverAnswer);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  const waiting = await client.send(request, ac.signal);
  assert.ok(waiting.kind === 'network');
  assert.equal(waiting.phase, 'after_write');

  const early = await client.send(request, AbortSignal.abort());
  assert.ok(early.kind === 'network');
  assert.equal(early.phase, 'before_write');
});
