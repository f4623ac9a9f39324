import type { TemplateDef, TemplateParams } from '../templates/types.ts';

/** One template message to one person. */
export interface SendRequest {
  /** E.164 with the leading '+'; adapters strip it where the wire format wants digits only. */
  to: string;
  template: TemplateDef;
  params: TemplateParams;
  /**
   * Told when the request has been written (its last byte handed to the OS): the moment the rate limit
   * counts it from. Not called when the request never left (connection refused, DNS).
   */
  onWritten?: () => void;
}

/**
 * What came back from one request. Adapters never throw for a provider's answer: every HTTP status and
 * every network failure becomes one of these, so the classifier (pure) decides what happens next.
 */
export type SendOutcome =
  | { kind: 'accepted'; messageId: string; httpStatus: number }
  | {
      kind: 'error';
      httpStatus: number;
      /** The provider's error code (`error.code` for the Cloud API), as a string; null when absent. */
      code: string | null;
      title: string | null;
      details?: string | undefined;
    }
  | {
      kind: 'network';
      /**
       * 'before_write': the request body never left (connection refused, DNS, reset before the body was
       * flushed) — safe to retry. 'after_write': the body was sent and no answer came (timeout, reset):
       * the message may have gone out — ambiguous.
       */
      phase: 'before_write' | 'after_write';
      message: string;
    };

/** The seam between the sender and a provider's wire format. One adapter per provider. */
export interface ProviderClient {
  readonly provider: string;
  send(req: SendRequest, signal?: AbortSignal): Promise<SendOutcome>;
  close?(): Promise<void>;
}
