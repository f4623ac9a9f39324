import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from './db/executor.ts';

/** What /metrics reads of a channel's rate limiter (src/send/limiter.ts). */
export interface LimiterView {
  channel: string;
  limiter: { readonly waitedTotalMs: number };
}

/**
 * The process's metrics for GET /metrics (prom-client, Prometheus text format). Two kinds:
 *
 * - counted where things happen, in this process: sends by channel and outcome (the sender), status
 *   callbacks received (the webhook receiver), ingest rows by outcome (ingest), the time spent waiting for
 *   the rate limiter (read from each channel's RateLimiter when scraped);
 * - read from the database on each scrape, so they are the same whichever worker answers: recipients by
 *   state (the report's counters, not a scan), campaigns by state, the status-event queue's depth, and
 *   pg-boss's queued and active jobs.
 *
 * Counters are per process (each worker counts its own; Prometheus sums them across targets). Our names
 * start with `campaign_`; the default Node.js process metrics keep their standard names.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly sends: Counter<'channel' | 'outcome'>;
  private readonly callbacks: Counter<'provider' | 'status'>;
  private readonly ingest: Counter<'outcome'>;
  private readonly limiterSources = new Set<() => Iterable<LimiterView>>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.sends = new Counter({
      name: 'campaign_sends_total',
      help: 'Send requests answered, by channel and what the sender did with the answer (accepted, retry, delay_recipient, fail, pause, ambiguous).',
      labelNames: ['channel', 'outcome'], registers,
    });
    this.callbacks = new Counter({
      name: 'campaign_callbacks_received_total',
      help: 'Status callbacks stored, by provider and status.',
      labelNames: ['provider', 'status'], registers,
    });
    this.ingest = new Counter({
      name: 'campaign_ingest_rows_total',
      help: 'CSV data rows validated and stored, by outcome (accepted, invalid, duplicate, suppressed).',
      labelNames: ['outcome'], registers,
    });
    const sources = this.limiterSources;
    new Counter({
      name: 'campaign_rate_limiter_wait_seconds_total',
      help: 'Time sends spent waiting for a slot of the channel\'s rate limiter (summed over concurrent waits).',
      labelNames: ['channel'], registers,
      collect() {
        const total = new Map<string, number>();
        for (const source of sources) {
          for (const v of source()) total.set(v.channel, (total.get(v.channel) ?? 0) + v.limiter.waitedTotalMs / 1000);
        }
        this.reset();
        for (const [channel, s] of total) this.inc({ channel }, s);
      },
    });
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** One answered send request: `outcome` is the sender's action (classifyOutcome(...).action). */
  sendOutcome(channel: string, outcome: string): void {
    this.sends.inc({ channel, outcome });
  }

  /** Status callbacks stored (after the webhook's events are durable); `tallyCallbacks` counts them. */
  callbacksReceived(tally: CallbackTally): void {
    for (const c of tally) this.callbacks.inc({ provider: c.provider, status: c.status }, c.n);
  }

  /** Ingest rows stored, by outcome (counts of one committed chunk). */
  ingestRows(counts: Partial<Record<'accepted' | 'invalid' | 'duplicate' | 'suppressed', number>>): void {
    for (const [outcome, n] of Object.entries(counts)) if (n) this.ingest.inc({ outcome }, n);
  }

  /** Report the rate limiters a worker holds; returns the function that stops reporting them. */
  watchLimiters(source: () => Iterable<LimiterView>): () => void {
    this.limiterSources.add(source);
    return () => void this.limiterSources.delete(source);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * The text for one scrape: this process's metrics, then the gauges read from `db` now. When the database
   * does not answer, those gauges are left out and campaign_database_up is 0.
   */
  async render(db: Db): Promise<string> {
    const scrape = new Registry();
    const registers = [scrape];
    const up = new Gauge({ name: 'campaign_database_up', help: 'Whether the database answered this scrape.', registers });
    try {
      const [recipients, campaigns, queue] = await Promise.all([
        db.q<{ state: string; n: number }>('metrics_recipients_by_state'),
        db.q<{ state: string; n: number }>('metrics_campaigns_by_state'),
        db.q<{ depth: number }>('status_event_queue_depth'),
      ]);
      const byState = new Gauge({
        name: 'campaign_recipients', help: 'Accepted recipients of all campaigns, by status (from the report counters).',
        labelNames: ['state'], registers,
      });
      for (const s of ['queued', 'sending', 'accepted', 'sent', 'delivered', 'read', 'failed']) byState.set({ state: s }, 0);
      for (const r of recipients.rows) byState.set({ state: r.state }, Number(r.n));
      const camp = new Gauge({ name: 'campaign_campaigns', help: 'Campaigns by state.', labelNames: ['state'], registers });
      for (const s of ['draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled']) camp.set({ state: s }, 0);
      for (const r of campaigns.rows) camp.set({ state: r.state }, Number(r.n));
      new Gauge({
        name: 'campaign_status_event_queue_depth', help: 'Stored status events not yet applied to a recipient.', registers,
      }).set(queue.rows[0]?.depth ?? 0);
      // pg-boss's schema exists once a worker has started; a bare `serve` may run before that.
      const boss = await db.q<{ name: string; queued: number; active: number }>('metrics_boss_queues').catch(() => null);
      if (boss) {
        const jobs = new Gauge({
          name: 'campaign_jobs', help: 'pg-boss jobs by queue and state (queued: waiting, deferred included; active: being worked), as of pg-boss\'s last count.',
          labelNames: ['queue', 'state'], registers,
        });
        for (const r of boss.rows) {
          jobs.set({ queue: r.name, state: 'queued' }, Number(r.queued));
          jobs.set({ queue: r.name, state: 'active' }, Number(r.active));
        }
      }
      up.set(1);
    } catch {
      up.set(0);
    }
    return (await this.registry.metrics()) + '\n' + (await scrape.metrics());
  }
}

/** This process's metrics: the sender, the webhook receiver, ingest and the worker report here. */
export const metrics = new Metrics();

/** Statuses counted by (provider, status). */
export type CallbackTally = Array<{ provider: string; status: string; n: number }>;

/**
 * One entry per (provider, status) of a webhook, so the counter is incremented once per entry and not per
 * status: prom-client builds and hashes the label set on every call (2 % of the worker's CPU under B5 at
 * ten statuses per POST, CPU profile).
 */
export function tallyCallbacks(events: Iterable<{ provider: string; status: string }>): CallbackTally {
  const tally: CallbackTally = [];
  for (const e of events) {
    const c = tally.find((x) => x.status === e.status && x.provider === e.provider);
    if (c) c.n++;
    else tally.push({ provider: e.provider, status: e.status, n: 1 });
  }
  return tally;
}
