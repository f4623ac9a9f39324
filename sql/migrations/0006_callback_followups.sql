-- 0006_callback_followups: some failed statuses ask for more than a state (spec/whatsapp.md): 408
-- "pending too long" and Verihubs 7/8 re-send the message, 131050 and Verihubs 9 add the number to the
-- opt-out list, Verihubs 10 pauses the campaign (src/reconcile/follow-up.ts). A re-sent recipient drops
-- the message id of its failed attempt; statuses that still arrive for that id are recognised through
-- send_attempts (this index) and dropped from the reconcile queue instead of waiting there for ever.
CREATE INDEX send_attempts_message ON send_attempts (message_id) WHERE message_id IS NOT NULL;
