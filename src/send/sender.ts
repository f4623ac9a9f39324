import pLimit from 'p-limit';
import type { Db } from '../db/executor.ts';
import type { Logger } from '../log.ts';
import type { ProviderClient } from '../providers/types.ts';
import type { TemplateDef, TemplateParams } from '../templates/types.ts';
import { getTemplateById } from '../templates/store.ts';
import { classifyOutcome } from './classify.ts';
import type { RateLimiter } from './limiter.ts';
import type { Breaker } from './breaker.ts';
import { recordOutcome, type AttemptRef } from './record.ts';
import { GroupCommit } from './group-commit.ts';
import { metrics } from '../metrics.ts';
import { reserveTier } from './tier.ts';

/** Everything the send stage needs from the process around it. */
export interface SendContext {
  db: Db;
  workerId: string;
  log: Logger;
  /** The client, limiter and breaker of a channel; one of each per channel per process. */
  channel(name: string): SendChannel;
  /** Aborted on shutdown: stop claiming and give back what was claimed but not sent. */
  stopping: AbortSignal;
  settleS: number;
  /** Called after each batch, so early status webhooks for the new message ids get applied. */
  onBatchRecorded?: () => void;
}

export interface SendChannel {
  client: ProviderClient;
  limiter: RateLimiter;
  breaker: Breaker;
  /** The channel's name (its shared rate window, tier budget and metrics are keyed by it). */
  name: string;
  /** Its messaging-tier budget: unique people per 24 h; null or absent: unlimited. */
  tier?: number | null;
}

export interface SendRunResult {
  requests: number;
  /** Whether this campaign still has work: queued rows, or rows waiting for a retry or a webhook. */
  state: 'done' | 'more' | 'stopped';
  /** When the earliest waiting row is due (a retry), if any. */
  nextAt: Date | null;
}

/**
 * How long one job keeps sending before it hands over to a fresh job (well under pg-boss's 300 s expiry).
 * Each handover leaves the channel idle while the next job is fetched (up to the 0.5 s polling interval):
 * 2 minutes keeps that under 0.5 % of the rate.
 */
export const SEND_RUN_MS = 120_000;
// While a file is still being validated, new rows appear every few hundred ms.
const IDLE_RECHECK_MS = 250;
/**
 * A lane that finds nothing to claim while the campaign's file is still being validated waits this long
 * and claims again, in the same job, instead of ending the run: a new job costs IDLE_RECHECK_MS plus up to
 * pg-boss's 0.5 s polling interval, which `create --start-at now` paid before its first send (B2) and
 * every time sending caught up with validation.
 */
const INGEST_WAIT_MS = 100;

/** The per-run group commits of attempt_start and of accepted answers. */
interface Batched {
  start: GroupCommit<number, number | undefined>;
  accepted: GroupCommit<{ ref: AttemptRef; messageId: string; http: number }, undefined>;
}

interface Claimed {
  line: number;
  phone_e164: string;
  params: TemplateParams;
}

/**
 * Send one campaign's recipients for up to `runMs`: claim a batch (SKIP LOCKED), send each through the
 * channel's limiter, record each answer, repeat. What decides whether a message is sent is the
 * recipient's row, never the job: a job that pg-boss re-runs finds nothing claimable that was sent.
 */
export async function sendCampaign(ctx: SendContext, campaignId: string, runMs = SEND_RUN_MS): Promise<SendRunResult> {
  const { db, workerId } = ctx;
  const log = ctx.log.child({ campaign: campaignId });
  const campaign = (await db.q('campaign_get', [campaignId])).rows[0];
  if (!campaign || campaign.state !== 'running') return { requests: 0, state: 'done', nextAt: null };
  const template = await getTemplateById(db, campaign.template_id);
  let channel: SendChannel;
  try {
    channel = ctx.channel(campaign.channel);
  } catch (err) {
    await db.q('campaign_pause', [campaignId, (err as Error).message]);
    log.error({ err }, 'campaign paused: channel unusable');
    return { requests: 0, state: 'done', nextAt: null };
  }
  const rps = channel.limiter.rps;
  const batchSize = Math.max(5, Math.min(500, rps));
  const concurrency = pLimit(Math.max(4, Math.min(256, rps)));
  const deadline = Date.now() + runMs;
  let requests = 0;
  let paused: string | undefined;
  let tierUntil: Date | null = null;
  // Group commit of the two statements every message makes (see group-commit.ts).
  const batched: Batched = {
    start: new GroupCommit(async (lines: number[]) => {
      const rows = (await db.q<{ line: number; attempt: number }>('attempt_start_many', [campaignId, lines, workerId])).rows;
      const byLine = new Map(rows.map((r) => [r.line, r.attempt]));
      return lines.map((l) => byLine.get(l));
    }),
    accepted: new GroupCommit(async (items: Array<{ ref: AttemptRef; messageId: string; http: number }>) => {
      await db.q('attempt_finish_accepted_many', [campaignId, items.map((i) => i.ref.line), items.map((i) => i.ref.attempt), items.map((i) => i.messageId), items.map((i) => i.http), items.map((i) => i.ref.writtenAt)]);
      return items.map(() => undefined);
    }),
  };

  // Two lanes, each claiming its own batch: while one waits for the last answers of its batch (and records
  // them), the other's rows keep the limiter busy. With one lane the channel idled at every batch end:
  // B3 measured 0.93–0.96 of the limit with a 100 ms provider, 120–170 ms gaps every 2 s.
  const lane = async (): Promise<void> => {
    while (!ctx.stopping.aborted && !paused && !tierUntil && Date.now() < deadline) {
      const claimed = (await db.q<Claimed>('recipient_claim_batch', [campaignId, workerId, batchSize])).rows;
      if (claimed.length === 0) {
        if (!(await stillValidating(db, campaignId))) break;
        await new Promise((r) => setTimeout(r, INGEST_WAIT_MS));
        continue;
      }
      const unsent: number[] = [];
      await Promise.all(
        claimed.map((row) =>
          concurrency(async () => {
            if (ctx.stopping.aborted || paused || tierUntil) return void unsent.push(row.line);
            try {
              const sent = await sendOne(ctx, channel, campaignId, template, row, batched);
              if (sent === 'not_started') return void unsent.push(row.line);
              if (sent instanceof Date) {
                tierUntil = sent;
                return void unsent.push(row.line);
              }
              requests++;
              if (sent.paused) paused = sent.paused;
            } catch (err) {
              // A database error around one send: that row stays as it was (claimed rows are given back
              // below; a row in flight is settled by the rescuer) and the batch goes on.
              log.error({ err, line: row.line }, 'send bookkeeping failed');
              unsent.push(row.line);
            }
          }),
        ),
      );
      if (unsent.length > 0) await db.q('recipient_release_claimed', [campaignId, unsent, workerId]);
      ctx.onBatchRecorded?.();
    }
  };
  await Promise.all([lane(), lane()]);
  if (paused) log.warn({ reason: paused }, 'campaign paused by a provider answer');
  if (tierUntil) log.warn({ until: (tierUntil as Date).toISOString() }, 'messaging-tier budget used up: waiting for it to free up');
  if (ctx.stopping.aborted) return { requests, state: 'stopped', nextAt: null };
  const done = (await db.q('campaign_complete_if_done', [campaignId])).rowCount! > 0;
  if (done) {
    log.info('campaign completed');
    return { requests, state: 'done', nextAt: null };
  }
  let next = (await db.q<{ at: Date | null }>('recipient_next_retry_at', [campaignId])).rows[0]?.at ?? null;
  // Nothing to send now (rows still being validated, or waiting for retries): look again in a second
  // rather than spin.
  if (requests === 0) next = new Date(Math.max(next?.getTime() ?? 0, Date.now() + IDLE_RECHECK_MS));
  // Budget used up: nothing new may go before it frees (rows that wait for a retry are re-checked too).
  if (tierUntil) next = new Date(Math.max((tierUntil as Date).getTime(), Date.now() + IDLE_RECHECK_MS));
  return { requests, state: paused ? 'done' : 'more', nextAt: next };
}

/** Whether the campaign is running and its file is still being validated (more rows may come). */
async function stillValidating(db: SendContext['db'], campaignId: string): Promise<boolean> {
  const c = (await db.q<{ state: string; ingest_state: string }>('campaign_states_get', [campaignId])).rows[0];
  return c !== undefined && c.state === 'running' && c.ingest_state !== 'done';
}

async function sendOne(
  ctx: SendContext,
  channel: SendChannel,
  campaignId: string,
  template: TemplateDef,
  row: Claimed,
  batched: Batched,
): Promise<'not_started' | Date | { paused?: string }> {
  // The messaging tier first: a person not yet counted in the rolling 24 h uses one unit of it.
  if (channel.tier != null) {
    const until = await reserveTier(ctx.db, channel.name, row.phone_e164, channel.tier);
    if (until) return until;
  }
  let probe: boolean;
  let grant;
  try {
    // An open breaker holds everyone but one probe a second; then the rate limit. The breaker is asked
    // again once the slot is granted: it may have opened while this request waited for the limiter.
    for (;;) {
      probe = await channel.breaker.admit(ctx.stopping);
      grant = await channel.limiter.acquire(ctx.stopping);
      if (probe || !channel.breaker.isOpen) break;
      grant.cancel();
    }
  } catch {
    return 'not_started';
  }
  // The attempt is on record before the request leaves; if the campaign was paused or the claim taken
  // back meanwhile, nothing is sent.
  const attempt = await batched.start.add(row.line).catch((err) => {
    grant.cancel();
    throw err;
  });
  if (attempt === undefined) {
    grant.cancel();
    if (probe) channel.breaker.record(false, true);
    return 'not_started';
  }
  // No abort signal here: a request that left is allowed to finish, so its answer is recorded. The rate
  // limit counts it from the moment it is written, and that moment is stored with the outcome.
  // The slot is exact at the write: wait out the grant's lead (the attempt was recorded meanwhile).
  await grant.ready();
  let writtenAt: number | null = null;
  const departed = () => {
    writtenAt ??= performance.timeOrigin + performance.now();
    grant.depart();
  };
  const outcome = await channel.client.send({ to: row.phone_e164, template, params: row.params, onWritten: departed });
  // An answer means it was written (an adapter without the hook); a failure before the write never left.
  if (outcome.kind === 'network' && outcome.phase === 'before_write') grant.cancel();
  else departed();
  const ref: AttemptRef = { campaignId, line: row.line, attempt, to: row.phone_e164, writtenAt };
  const action = classifyOutcome(outcome);
  metrics.sendOutcome(channel.name, action.action);
  const transient = action.action === 'ambiguous' || (action.action === 'retry' && !action.slowChannel);
  const channelDown = channel.breaker.record(transient, probe);
  if (action.action === 'retry' && action.slowChannel) await channel.limiter.slowDown().catch(() => {});
  else if (action.action === 'accepted') channel.limiter.recovered();
  return recordOutcome(ctx.db, ref, outcome, action, {
    settleS: ctx.settleS, channelDown,
    recordAccepted: (r, messageId, http) => batched.accepted.add({ ref: r, messageId, http }),
  });
}
