/**
 * What a failed status asks for beyond the state (spec/whatsapp.md, "Error codes" and "Verihubs"). Pure:
 * reconcile applies the statuses, then looks up each newly failed recipient's error code here.
 *
 * - `resend`: the message never reached the person and sending again is right — Meta's 408 "message
 *   pending for too long", Verihubs 7 (Verihubs could not reach WhatsApp) and 8 (rejected, too many
 *   requests). Through the normal retry path, bounded by the recipient's attempt budget.
 * - `suppress`: the person opted out (131050 "user stopped marketing messages") or Verihubs blocked the
 *   number (9): the recipient stays failed and the number joins the opt-out list.
 * - `pause`: Verihubs 10, the messaging tier limit: the recipient goes back to the queue (its message was
 *   not sent) and the campaign pauses, with the reason shown by report and list.
 * 131049 (held back for ecosystem health) simply fails, with its reason kept on the recipient.
 */
export type FollowUp = 'resend' | 'suppress' | 'pause';

const TABLE: ReadonlyMap<string, FollowUp> = new Map([
  ['408', 'resend'],
  ['verihubs_7', 'resend'],
  ['verihubs_8', 'resend'],
  ['131050', 'suppress'],
  ['verihubs_9', 'suppress'],
  ['verihubs_10', 'pause'],
]);

export function followUpFor(errorCode: string | null | undefined): FollowUp | null {
  if (!errorCode) return null;
  return TABLE.get(errorCode.trim()) ?? null;
}

export const PAUSE_REASON_TIER = 'Verihubs status 10: Tier Limit Exceeded (the messaging tier is used up)';
