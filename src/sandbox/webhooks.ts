/**
 * The sandbox's status-webhook side: signs and posts Cloud API status webhooks the way Meta does, and
 * retries a POST that did not get a 2xx, the way providers do (with a much shorter schedule: the
 * sandbox serves demos and dry runs, not a 24-hour outage).
 *
 * Each status is its own POST, scheduled relative to the previous status of the same message, so two
 * messages' statuses interleave and a retried status can arrive after a later one — as in production.
 */
import { createHmac } from 'node:crypto';
import { createHttpClient } from '../providers/http.ts';

export type SandboxStatus = 'sent' | 'delivered' | 'read' | 'failed';

export interface SandboxLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface WebhookRetry {
  /** Total tries per webhook, the first included. */
  attempts: number;
  /** Delay before the second try; doubles for each further try. */
  baseDelayMs: number;
}

export interface StatusWebhookInput {
  messageId: string;
  recipientId: string;
  phoneNumberId: string;
  status: SandboxStatus;
}

/** The error Meta puts on a failed status when the person cannot be reached. */
export const UNDELIVERABLE_ERROR = {
  code: 131026,
  title: 'Message undeliverable',
  message: 'Message undeliverable',
  error_data: { details: 'Message Undeliverable. (sandbox: simulated failure)' },
};

/** `sha256=<hex>` of the raw body, the value of `X-Hub-Signature-256`. */
export function signWebhook(rawBody: string, appSecret: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody, 'utf8').digest('hex')}`;
}

/** A Cloud API status webhook envelope carrying one status. */
export function statusEnvelope(input: StatusWebhookInput, now: Date): object {
  const status: Record<string, unknown> = {
    id: input.messageId,
    status: input.status,
    timestamp: String(Math.floor(now.getTime() / 1000)),
    recipient_id: input.recipientId,
  };
  if (input.status === 'failed') status.errors = [UNDELIVERABLE_ERROR];
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: 'sandbox-waba',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550000000', phone_number_id: input.phoneNumberId },
              statuses: [status],
            },
          },
        ],
      },
    ],
  };
}

export interface WebhookDispatcherOptions {
  appSecret: string;
  webhookUrl: string | null;
  retry: WebhookRetry;
  logger?: SandboxLogger | undefined;
}

export interface WebhookDispatcher {
  /** Post `input` after `delayMs`. Returns at once; the webhook counts as pending until done. */
  schedule(input: StatusWebhookInput, delayMs: number): void;
  setWebhookUrl(url: string | null): void;
  pending(): number;
  /** Webhooks given up on after every retry failed. */
  failed(): number;
  idle(): Promise<void>;
  /** Stop: pending webhooks are dropped, in-flight POSTs aborted. */
  close(): void;
}

export function createWebhookDispatcher(opts: WebhookDispatcherOptions): WebhookDispatcher {
  const http = createHttpClient({ timeoutMs: 5_000 });
  const timers = new Set<NodeJS.Timeout>();
  const abort = new AbortController();
  let webhookUrl = opts.webhookUrl;
  let pending = 0;
  let failed = 0;
  let closed = false;
  let idleWaiters: Array<() => void> = [];

  const settleOne = (): void => {
    pending -= 1;
    if (pending === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  };

  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const giveUp = (input: StatusWebhookInput, reason: string): void => {
    failed += 1;
    // One line for the first give-up and then every hundredth: never a line per message.
    if (failed === 1 || failed % 100 === 0) {
      opts.logger?.warn({ failedWebhooks: failed, lastStatus: input.status, reason }, 'sandbox: webhook given up after retries');
    }
    settleOne();
  };

  const attempt = async (input: StatusWebhookInput, tryNo: number): Promise<void> => {
    if (closed) return;
    // Read the URL at send time: the worker may learn its own port after the sandbox started.
    const url = webhookUrl;
    if (url === null) {
      settleOne();
      return;
    }
    const raw = JSON.stringify(statusEnvelope(input, new Date()));
    const result = await http.postJson(url, raw, {
      headers: { 'x-hub-signature-256': signWebhook(raw, opts.appSecret) },
      signal: abort.signal,
    });
    if (closed) return;
    if (result.ok && result.status >= 200 && result.status < 300) {
      settleOne();
      return;
    }
    if (tryNo >= opts.retry.attempts) {
      giveUp(input, result.ok ? `HTTP ${result.status}` : result.message);
      return;
    }
    later(opts.retry.baseDelayMs * 2 ** (tryNo - 1), () => void attempt(input, tryNo + 1));
  };

  return {
    schedule(input, delayMs) {
      if (closed) return;
      pending += 1;
      later(delayMs, () => void attempt(input, 1));
    },
    setWebhookUrl(url) {
      webhookUrl = url;
    },
    pending: () => pending,
    failed: () => failed,
    idle() {
      return pending === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      abort.abort();
      http.close();
      pending = 0;
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    },
  };
}
