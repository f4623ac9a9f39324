/** Delivery states a status callback can report, in WhatsApp's vocabulary. */
export type CallbackStatus = 'accepted' | 'sent' | 'delivered' | 'read' | 'failed';

/** One status of one message, as parsed from a webhook (pure data; stored in `status_events`). */
export interface StatusEvent {
  provider: string;
  messageId: string;
  status: CallbackStatus;
  /** When the provider says it happened (unix seconds → Date); null when the payload has none. */
  occurredAt: Date | null;
  recipientId: string | null;
  errorCode: string | null;
  errorTitle: string | null;
  /** The status object exactly as received. */
  raw: unknown;
}

/** An inbound message: opens the 24-hour customer-service window for `from`. */
export interface InboundEvent {
  from: string;
  messageId: string;
  occurredAt: Date | null;
  raw: unknown;
}

export interface ParsedWebhook {
  statuses: StatusEvent[];
  inbound: InboundEvent[];
  /** `value.errors[]` system errors, kept raw. */
  errors: unknown[];
}
