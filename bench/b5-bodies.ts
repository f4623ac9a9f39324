import { createHmac } from 'node:crypto';

/**
 * B5's callbacks: the message ids of the seeded recipients and the Cloud API status webhooks about them,
 * shaped like Meta's (whatsapp.md: entry → changes → value with metadata, conversation, pricing), signed
 * like Meta signs them. Shared by the benchmark (which seeds the ids) and its load generator (which posts
 * the webhooks).
 */

export const B5_APP_SECRET = 'b5-bench-app-secret';

/** Message ids are ID_PREFIX + the index zero-padded to ID_DIGITS + ID_SUFFIX (the seed builds them in SQL). */
export const ID_PREFIX = 'wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABEYEjQ5QkE';
export const ID_DIGITS = 9;
export const ID_SUFFIX = 'AA';

/** The i-th seeded recipient's message id (0-based), about as long as a real wamid. */
export function messageId(i: number): string {
  return `${ID_PREFIX}${String(i).padStart(ID_DIGITS, '0')}${ID_SUFFIX}`;
}

/** The i-th recipient's number as WhatsApp writes it (wa_id: digits, no '+'). */
export function waId(i: number): string {
  return `62812${String(10_000_000 + i).slice(-8)}`;
}

const metadata = { display_phone_number: '6281100000000', phone_number_id: '100000000000001' };

function statusObject(i: number, status: 'sent' | 'delivered' | 'read', timestamp: number): object {
  return {
    id: messageId(i),
    status,
    timestamp: String(timestamp),
    recipient_id: waId(i),
    ...(status === 'sent' ? { conversation: { id: `CONV${String(i).padStart(10, '0')}`, expiration_timestamp: String(timestamp + 86_400), origin: { type: 'marketing' } } } : {}),
    pricing: { billable: true, pricing_model: 'PMP', category: 'marketing', type: 'regular' },
  };
}

/** One Cloud API webhook carrying `statuses` (message index, status) in one change of one entry. */
export function envelope(statuses: Array<[number, 'sent' | 'delivered' | 'read']>, timestamp: number): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{
      id: '102290129340398',
      changes: [{
        field: 'messages',
        value: { messaging_product: 'whatsapp', metadata, statuses: statuses.map(([i, s]) => statusObject(i, s, timestamp)) },
      }],
    }],
  });
}

export function sign(raw: Buffer, secret = B5_APP_SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
}

export type B5Mode = 'single' | 'batch10';

/**
 * The webhooks of one phase for `messages` recipients:
 * - `single`: one status per POST, `sent` for every message (messages POSTs);
 * - `batch10`: ten statuses per POST, `delivered` and `read` for five messages (messages / 5 POSTs).
 * After both phases every recipient has been sent, delivered and read: reconcile must end with all `read`.
 */
export function phaseBodies(mode: B5Mode, messages: number, timestamp = Math.floor(Date.now() / 1000)): Buffer[] {
  const out: Buffer[] = [];
  if (mode === 'single') {
    for (let i = 0; i < messages; i++) out.push(Buffer.from(envelope([[i, 'sent']], timestamp)));
  } else {
    for (let i = 0; i < messages; i += 5) {
      const group: Array<[number, 'sent' | 'delivered' | 'read']> = [];
      for (let j = i; j < Math.min(i + 5, messages); j++) group.push([j, 'delivered'], [j, 'read']);
      out.push(Buffer.from(envelope(group, timestamp + 5)));
    }
  }
  return out;
}

/** Statuses a phase carries in all. */
export function phaseStatuses(mode: B5Mode, messages: number): number {
  return mode === 'single' ? messages : 2 * messages;
}
