import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseVerihubsCallback, parseWhatsAppWebhook, WebhookShapeError } from '../src/callbacks/parse.ts';

const metadata = { display_phone_number: '16505553333', phone_number_id: '27681414235104944' };

function envelope(...values: object[]): object {
  return {
    object: 'whatsapp_business_account',
    entry: values.map((value, i) => ({ id: `WABA${i}`, changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata, ...value } }] })),
  };
}

function status(id: string, s: string, timestamp = '1750263773', extra: object = {}): object {
  return { id, status: s, timestamp, recipient_id: '6281234567890', ...extra };
}

test('a multi-entry, multi-status Cloud envelope', () => {
  const body = {
    object: 'whatsapp_business_account',
    entry: [
      { id: 'A', changes: [
        { field: 'messages', value: { metadata, statuses: [status('wamid.1', 'sent'), status('wamid.2', 'delivered', '1750263774')] } },
        { field: 'messages', value: { metadata, statuses: [status('wamid.1', 'delivered')] } },
      ] },
      { id: 'B', changes: [{ field: 'messages', value: { metadata, statuses: [status('wamid.3', 'read', '1750263800')] } }] },
    ],
  };
  const parsed = parseWhatsAppWebhook(body);
  assert.deepEqual(parsed.statuses.map((s) => [s.messageId, s.status, s.occurredAt?.toISOString()]), [
    ['wamid.1', 'sent', '2025-06-18T16:22:53.000Z'],
    ['wamid.2', 'delivered', '2025-06-18T16:22:54.000Z'],
    ['wamid.1', 'delivered', '2025-06-18T16:22:53.000Z'],
    ['wamid.3', 'read', '2025-06-18T16:23:20.000Z'],
  ]);
  const first = parsed.statuses[0];
  assert.equal(first?.provider, 'cloud');
  assert.equal(first?.recipientId, '6281234567890');
  assert.equal(first?.errorCode, null);
  assert.deepEqual(first?.raw, status('wamid.1', 'sent'));
  assert.deepEqual(parsed.inbound, []);
  assert.deepEqual(parsed.errors, []);
});

test('read without delivered is passed on as it is', () => {
  const parsed = parseWhatsAppWebhook(envelope({ statuses: [status('wamid.9', 'read')] }), '360dialog');
  assert.equal(parsed.statuses.length, 1);
  assert.equal(parsed.statuses[0]?.status, 'read');
  assert.equal(parsed.statuses[0]?.provider, '360dialog');
});

test('a failed status carries its first error', () => {
  const failed = status('wamid.4', 'failed', '1750263773', {
    errors: [{ code: 131026, title: 'Message undeliverable', message: 'Message undeliverable', error_data: { details: 'x' } }],
  });
  const s = parseWhatsAppWebhook(envelope({ statuses: [failed] })).statuses[0];
  assert.equal(s?.status, 'failed');
  assert.equal(s?.errorCode, '131026');
  assert.equal(s?.errorTitle, 'Message undeliverable');
});

test('an inbound message opens the service window', () => {
  const message = { from: '6281234567890', id: 'wamid.in1', timestamp: '1750263900', type: 'text', text: { body: 'STOP' } };
  const parsed = parseWhatsAppWebhook(envelope({ contacts: [{ wa_id: '6281234567890', profile: { name: 'Budi' } }], messages: [message] }));
  assert.deepEqual(parsed.inbound, [{ from: '6281234567890', messageId: 'wamid.in1', occurredAt: new Date(1750263900_000), raw: message }]);
  assert.deepEqual(parsed.statuses, []);
});

test('system errors are kept raw', () => {
  const err = { code: 131000, title: 'Something went wrong', message: 'x' };
  const parsed = parseWhatsAppWebhook(envelope({ errors: [err] }));
  assert.deepEqual(parsed.errors, [err]);
});

test('On-Premise flat bodies', async (t) => {
  await t.test('statuses', () => {
    const body = { statuses: [{ id: 'gBEGkY', recipient_id: '6281234567890', status: 'failed', timestamp: '1750263773', errors: [{ code: 470, title: 'Message failed to send because more than 24 hours have passed' }] }] };
    const s = parseWhatsAppWebhook(body).statuses[0];
    assert.equal(s?.provider, '360dialog-onprem');
    assert.equal(s?.errorCode, '470');
    assert.match(s?.errorTitle ?? '', /24 hours/);
  });
  await t.test('messages', () => {
    const parsed = parseWhatsAppWebhook({ contacts: [], messages: [{ from: '628111', id: 'ABGG', timestamp: 1750263773, type: 'text' }] });
    assert.equal(parsed.inbound[0]?.from, '628111');
    assert.deepEqual(parsed.inbound[0]?.occurredAt, new Date(1750263773_000));
  });
  await t.test('errors alone', () => {
    assert.equal(parseWhatsAppWebhook({ errors: [{ code: 1014, title: 'Internal error' }] }).errors.length, 1);
  });
});

test('valid webhooks that are not about our messages yield nothing', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['template review', { object: 'whatsapp_business_account', entry: [{ id: 'A', changes: [{ field: 'message_template_status_update', value: { event: 'APPROVED' } }] }] }],
    ['deleted and warning statuses', envelope({ statuses: [status('w1', 'deleted'), status('w2', 'warning')] })],
    ['empty entry', { object: 'whatsapp_business_account', entry: [] }],
    ['value without statuses', envelope({})],
  ];
  for (const [name, body] of cases) {
    await t.test(name, () => assert.deepEqual(parseWhatsAppWebhook(body), { statuses: [], inbound: [], errors: [] }));
  }
});

test('timestamps that are absent or nonsense become null', () => {
  const parsed = parseWhatsAppWebhook(envelope({ statuses: [status('a', 'sent', ''), status('b', 'sent', 'soon'), { id: 'c', status: 'sent' }] }));
  assert.deepEqual(parsed.statuses.map((s) => s.occurredAt), [null, null, null]);
});

test('bodies that are not webhooks are refused with WebhookShapeError', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['null', null, /not a JSON object/],
    ['array', [], /not a JSON object/],
    ['string', 'hello', /not a JSON object/],
    ['empty object', {}, /no entry, statuses or messages/],
    ['empty errors alone', { errors: [] }, /no entry, statuses or messages/],
    ['entry not an array', { entry: {} }, /entry.*not an array/],
    ['another product', { object: 'page', entry: [] }, /not a WhatsApp webhook/],
    ['entry without changes', { entry: [{ id: 'A' }] }, /changes is not an array/],
    ['value missing', { entry: [{ changes: [{ field: 'messages' }] }] }, /value is not an object/],
    ['statuses not an array', envelope({ statuses: {} }), /statuses is not an array/],
    ['status without id', envelope({ statuses: [{ status: 'sent' }] }), /no message id/],
    ['status without status', envelope({ statuses: [{ id: 'w' }] }), /no status/],
    ['unknown status', envelope({ statuses: [status('w', 'exploded')] }), /unknown status "exploded"/],
    ['status not an object', { statuses: [1] }, /not an object/],
    ['inbound without sender', { messages: [{ id: 'x' }] }, /no sender/],
  ];
  for (const [name, body, message] of cases) {
    await t.test(name, () => {
      assert.throws(() => parseWhatsAppWebhook(body), (err: unknown) => err instanceof WebhookShapeError && message.test(err.message));
    });
  }
});

test('fuzz: whatever the input, only WebhookShapeError escapes', () => {
  const check = (body: unknown): void => {
    try {
      parseWhatsAppWebhook(body);
    } catch (err) {
      if (!(err instanceof WebhookShapeError)) throw err;
    }
  };
  fc.assert(fc.property(fc.jsonValue(), check), { numRuns: 2000 });
  fc.assert(fc.property(fc.anything(), check), { numRuns: 1000 });
  // Webhook-shaped bodies with arbitrary leaves, so the deeper paths are reached too.
  const leaf = fc.jsonValue({ maxDepth: 2 });
  const statusArb = fc.record({ id: fc.oneof(fc.string(), leaf), status: fc.oneof(fc.constantFrom('sent', 'delivered', 'read', 'failed', 'deleted'), leaf), timestamp: leaf, recipient_id: leaf, errors: fc.oneof(fc.array(fc.record({ code: leaf, title: leaf })), leaf) }, { requiredKeys: [] });
  const valueArb = fc.record({ statuses: fc.oneof(fc.array(statusArb), leaf), messages: fc.oneof(fc.array(fc.record({ from: leaf, id: leaf, timestamp: leaf }, { requiredKeys: [] })), leaf), errors: leaf }, { requiredKeys: [] });
  const bodyArb = fc.oneof(
    fc.record({ object: fc.oneof(fc.constant('whatsapp_business_account'), leaf), entry: fc.oneof(fc.array(fc.record({ changes: fc.oneof(fc.array(fc.record({ field: fc.oneof(fc.constant('messages'), leaf), value: fc.oneof(valueArb, leaf) }, { requiredKeys: [] })), leaf) }, { requiredKeys: [] })), leaf) }, { requiredKeys: [] }),
    valueArb,
  );
  fc.assert(fc.property(bodyArb, check), { numRuns: 3000 });
});

test('Verihubs callbacks map 0..11 per the table', async (t) => {
  const cases: Array<[n: number, status: string | null, action: string, errorCode: string | null]> = [
    [0, 'accepted', 'apply', null],
    [1, 'sent', 'apply', null],
    [2, 'delivered', 'apply', null],
    [3, 'read', 'apply', null],
    [4, 'read', 'apply', null],
    [5, null, 'ignore', null],
    [6, 'failed', 'apply', 'verihubs_6'],
    [7, 'failed', 'retry', 'verihubs_7'],
    [8, 'failed', 'retry', 'verihubs_8'],
    [9, 'failed', 'suppress', 'verihubs_9'],
    [10, 'failed', 'pause', 'verihubs_10'],
    [11, 'failed', 'apply', 'verihubs_11'],
  ];
  for (const [n, status, action, errorCode] of cases) {
    await t.test(`status ${n}`, () => {
      const id = '3f1c2a9e-0b7d-4c1e-9a43-5d2f8e6b7c10';
      const r = parseVerihubsCallback(new URLSearchParams({ session_id: id, status: String(n) }));
      assert.equal(r.action, action);
      assert.equal(r.messageId, id);
      assert.equal(r.code, n);
      assert.equal(r.event?.status ?? null, status);
      if (r.event) {
        assert.equal(r.event.provider, 'verihubs');
        assert.equal(r.event.messageId, id);
        assert.equal(r.event.errorCode, errorCode);
        assert.deepEqual(r.event.raw, { session_id: id, status: String(n) });
      }
    });
  }
});

test('Verihubs callbacks from a plain object', () => {
  const r = parseVerihubsCallback({ session_id: 'abc', status: ' 2 ' });
  assert.equal(r.event?.status, 'delivered');
});

test('Verihubs callbacks without a usable session_id or status are refused', async (t) => {
  const cases: Array<[string, URLSearchParams | Record<string, string>]> = [
    ['nothing', new URLSearchParams()],
    ['no status', new URLSearchParams({ session_id: 'a' })],
    ['no session', new URLSearchParams({ status: '1' })],
    ['empty session', { session_id: ' ', status: '1' }],
    ['status 12', { session_id: 'a', status: '12' }],
    ['status -1', { session_id: 'a', status: '-1' }],
    ['status text', { session_id: 'a', status: 'sent' }],
    ['status as an array', { session_id: 'a', status: ['1'] } as unknown as Record<string, string>],
  ];
  for (const [name, q] of cases) {
    await t.test(name, () => assert.throws(() => parseVerihubsCallback(q), WebhookShapeError));
  }
});
