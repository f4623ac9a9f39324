/**
 * The sandbox provider, driven through the real Cloud adapter, with a local webhook receiver that checks
 * every signature itself. A seeded random makes the sandbox's choices (408s, failures, reads, delays)
 * the same on every run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { startSandbox } from '../src/sandbox/server.ts';
import type { Sandbox, SandboxOptions } from '../src/sandbox/server.ts';
import { createCloudClient } from '../src/providers/cloud.ts';
import type { SendOutcome, SendRequest } from '../src/providers/types.ts';
import { startRecordingServer, templateRequest } from './helpers/fake-provider.ts';
import { prng } from '../src/demo/sample.ts';

const SECRET = 'sandbox-app-secret';

const seeded = prng;

function sendRequest(to: string, name = 'Budi'): SendRequest {
  return templateRequest({ name: 'promo', category: 'marketing' }, { 'body.1': name }, to);
}

interface ReceivedStatus {
  id: string;
  status: string;
  timestamp: string;
  recipient_id: string;
  errors?: Array<{ code: number; title: string }>;
}

/** A webhook receiver that verifies signatures; `failEvery` answers 500 to every n-th POST. */
async function startReceiver(failEvery = 0) {
  const statuses: ReceivedStatus[] = [];
  let badSignatures = 0;
  // Every n-th webhook fails once (its first POST only), so each failure is followed by a retry that
  // succeeds. Counting raw POSTs instead let one webhook's retries land on multiples of n again under
  // load, and the sandbox rightly gave it up.
  let posts = 0;
  const failedOnce = new Set<string>();
  const fake = await startRecordingServer(({ headers, raw }, res) => {
    const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`);
    const got = Buffer.from(String(headers['x-hub-signature-256'] ?? ''));
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      badSignatures += 1;
      res.writeHead(401).end();
      return;
    }
    const key = raw.toString('utf8').replace(/"timestamp":"\d+"/g, '');
    if (failEvery > 0 && !failedOnce.has(key) && ++posts % failEvery === 0) {
      failedOnce.add(key);
      res.writeHead(500).end();
      return;
    }
    const body = JSON.parse(raw.toString('utf8'));
    assert.equal(body.object, 'whatsapp_business_account');
    for (const entry of body.entry) {
      for (const change of entry.changes) {
        assert.equal(change.field, 'messages');
        statuses.push(...(change.value.statuses as ReceivedStatus[]));
      }
    }
    res.writeHead(200).end('ok');
  });
  return {
    url: `${fake.url}/webhooks/whatsapp`,
    statuses,
    posts: () => fake.requests.length,
    badSignatures: () => badSignatures,
    close: fake.close,
  };
}

function sandboxOptions(over: Partial<SandboxOptions>): SandboxOptions {
  return {
    webhookUrl: null,
    appSecret: SECRET,
    delayMs: [2, 15],
    webhookRetry: { attempts: 4, baseDelayMs: 5 },
    ...over,
  };
}

async function sendAll(sandbox: Sandbox, count: number): Promise<SendOutcome[]> {
  const client = createCloudClient({ baseUrl: sandbox.url, phoneNumberId: sandbox.phoneNumberId, accessToken: 'any-token' });
  const outcomes: SendOutcome[] = [];
  // Sequential, so the seeded random is consumed in the same order on every run.
  for (let i = 0; i < count; i++) outcomes.push(await client.send(sendRequest(`+62812000${String(i % 25).padStart(4, '0')}`)));
  await client.close?.();
  return outcomes;
}

test('accepted sends get signed status webhooks that end in the status the sandbox decided', async () => {
  const receiver = await startReceiver(7); // every 7th webhook POST fails once: the sandbox must retry it
  const sandbox = await startSandbox(
    sandboxOptions({ random: seeded(42), rate408: 0.1, rateFailed: 0.2, readRatio: 0.5 }),
  );
  sandbox.setWebhookUrl(receiver.url); // learnt after start, as the worker does
  try {
    const outcomes = await sendAll(sandbox, 60);
    await sandbox.idle();

    assert.equal(sandbox.requests, 60);
    assert.equal(sandbox.pendingWebhooks(), 0);
    assert.equal(sandbox.failedWebhooks(), 0);
    assert.equal(receiver.badSignatures(), 0);

    const accepted = outcomes.filter((o) => o.kind === 'accepted');
    const timedOut = outcomes.filter((o) => o.kind === 'error');
    assert.equal(accepted.length + timedOut.length, 60);
    assert.ok(timedOut.length > 0 && accepted.length > 40, `${timedOut.length} 408s`);
    for (const o of timedOut) {
      assert.ok(o.kind === 'error');
      assert.equal(o.httpStatus, 408);
      assert.equal(o.code, '131000');
    }
    assert.equal([...sandbox.accepted.values()].reduce((a, b) => a + b, 0), accepted.length);

    const decided = new Map(sandbox.sentMessages().map((m) => [m.messageId, m]));
    assert.equal(decided.size, accepted.length);
    const finals = new Set([...decided.values()].map((m) => m.finalStatus));
    assert.deepEqual([...finals].sort(), ['delivered', 'failed', 'read']);

    for (const o of accepted) {
      assert.ok(o.kind === 'accepted');
      const message = decided.get(o.messageId);
      assert.ok(message, `sandbox recorded ${o.messageId}`);
      const got = receiver.statuses.filter((s) => s.id === o.messageId);
      // Retries can reorder arrival, so compare the set of statuses, then check the latest by timestamp order.
      const expected =
        message.finalStatus === 'failed' ? ['failed', 'sent'] : message.finalStatus === 'read' ? ['delivered', 'read', 'sent'] : ['delivered', 'sent'];
      assert.deepEqual(got.map((s) => s.status).sort(), expected, o.messageId);
      for (const s of got) {
        assert.equal(s.recipient_id, message.to);
        assert.match(s.timestamp, /^\d{10}$/);
      }
      if (message.finalStatus === 'failed') {
        const failed = got.find((s) => s.status === 'failed');
        assert.equal(failed?.errors?.[0]?.code, 131026);
        assert.equal(failed?.errors?.[0]?.title, 'Message undeliverable');
      }
    }
    // Every status arrived exactly once, even those whose first POST got a 500.
    assert.equal(receiver.statuses.length, [...decided.values()].reduce((n, m) => n + (m.finalStatus === 'read' ? 3 : 2), 0));
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

test('the same seed makes the same decisions', async () => {
  const run = async () => {
    const sandbox = await startSandbox(sandboxOptions({ random: seeded(7), rate408: 0.2, rateFailed: 0.3 }));
    try {
      const outcomes = await sendAll(sandbox, 20);
      return { kinds: outcomes.map((o) => o.kind), finals: sandbox.sentMessages().map((m) => [m.to, m.finalStatus]) };
    } finally {
      await sandbox.close();
    }
  };
  assert.deepEqual(await run(), await run());
});

test('rate408 = 1: every send is an HTTP 408 and nothing is recorded', async () => {
  const receiver = await startReceiver();
  const sandbox = await startSandbox(sandboxOptions({ webhookUrl: receiver.url, random: seeded(1), rate408: 1 }));
  try {
    const outcomes = await sendAll(sandbox, 10);
    for (const o of outcomes) {
      assert.ok(o.kind === 'error');
      assert.equal(o.httpStatus, 408);
    }
    assert.equal(sandbox.accepted.size, 0);
    assert.deepEqual(sandbox.sentMessages(), []);
    assert.equal(sandbox.pendingWebhooks(), 0);
    await sandbox.idle();
    assert.equal(receiver.posts(), 0);
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

test('answers like Meta to a missing token and to bad bodies', async () => {
  const sandbox = await startSandbox(sandboxOptions({ random: seeded(3), rate408: 0 }));
  const post = async (body: unknown, token: string | null = 'tok') => {
    const res = await fetch(`${sandbox.url}/${sandbox.phoneNumberId}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { error?: { code: number } } };
  };
  try {
    const good = { messaging_product: 'whatsapp', to: '6281200001111', type: 'template', template: { name: 't', language: { code: 'id' } } };
    assert.equal((await post(good, null)).status, 401);
    assert.equal((await post(good, null)).body.error?.code, 190);
    const bad = await post({ ...good, to: '+62 812' });
    assert.deepEqual([bad.status, bad.body.error?.code], [400, 100]);
    assert.equal((await post('{not json')).body.error?.code, 100);
    const newline = await post({
      ...good,
      template: { ...good.template, components: [{ type: 'body', parameters: [{ type: 'text', text: 'a\nb' }] }] },
    });
    assert.deepEqual([newline.status, newline.body.error?.code], [400, 132018]);
    // No webhook URL yet: the message is accepted and its statuses are simply not posted.
    const ok = await post(good);
    assert.equal(ok.status, 200);
    assert.match((ok.body as { messages: Array<{ id: string }> }).messages[0]!.id, /^wamid\./);
    assert.equal(sandbox.requests, 6);
    assert.equal(sandbox.accepted.get('6281200001111'), 1);
    await sandbox.idle();
  } finally {
    await sandbox.close();
  }
});

test('a receiver that never answers 2xx: retries, then gives up and counts it', async () => {
  const down = await startRecordingServer((_s, res) => res.writeHead(503).end());
  const sandbox = await startSandbox(
    sandboxOptions({
      webhookUrl: `${down.url}/hook`,
      random: seeded(9),
      rate408: 0,
      rateFailed: 0,
      readRatio: 0,
      webhookRetry: { attempts: 3, baseDelayMs: 5 },
    }),
  );
  try {
    await sendAll(sandbox, 2);
    assert.ok(sandbox.pendingWebhooks() > 0);
    await sandbox.idle();
    assert.equal(sandbox.failedWebhooks(), 4); // 2 messages × (sent, delivered)
  } finally {
    await sandbox.close();
    await down.close();
  }
});

test('close drops pending webhooks and releases idle()', async () => {
  const receiver = await startReceiver();
  const sandbox = await startSandbox(
    sandboxOptions({ webhookUrl: receiver.url, random: seeded(5), rate408: 0, delayMs: [5_000, 5_000] }),
  );
  await sendAll(sandbox, 3);
  assert.equal(sandbox.pendingWebhooks() >= 6, true);
  const idle = sandbox.idle();
  await sandbox.close();
  await idle;
  assert.equal(sandbox.pendingWebhooks(), 0);
  assert.equal(receiver.posts(), 0);
  await receiver.close();
});
