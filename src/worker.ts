import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { PgBoss } from 'pg-boss';
import type pg from 'pg';
import type { Config } from './config.ts';
import type { Db } from './db/executor.ts';
import type { Logger } from './log.ts';
import { startBoss } from './boss.ts';
import { createHttpServer, listen } from './http/server.ts';
import { createClient } from './providers/registry.ts';
import { RateLimiter } from './send/limiter.ts';
import { Breaker } from './send/breaker.ts';
import { tierLimit, tierOfChannel } from './config.ts';
import type { SendChannel } from './send/sender.ts';
import type { WindowStore } from './send/window.ts';
import { PgWindowStore } from './send/window-pg.ts';
import { HEARTBEAT_EVERY_MS } from './send/maintenance.ts';
import { startSandbox, type Sandbox } from './sandbox/server.ts';
import { metrics } from './metrics.ts';
import { CAMPAIGN_SEND, enqueueCampaignSend, registerCampaignSend } from '../jobs/campaign-send.ts';
import { RECONCILE, enqueueReconcile, registerReconcile } from '../jobs/reconcile.ts';
import { MAINTENANCE, enqueueMaintenance, registerMaintenance } from '../jobs/maintenance.ts';
import { CAMPAIGN_INGEST, registerCampaignIngest } from '../jobs/campaign-ingest.ts';
import { SCHEDULE_FIRE, registerScheduleFire } from '../jobs/schedule-fire.ts';

/** The sandbox signs its webhooks with this when WA_APP_SECRET is unset (the server then does not check). */
export const SANDBOX_DEFAULT_SECRET = 'sandbox-app-secret';
/** SIGTERM: in-flight requests get this long to finish and be recorded (interface.md: at most 30 s). */
export const STOP_TIMEOUT_MS = 25_000;
const TICK_MS = 1_000;
/**
 * When stored callbacks get applied (see nudgeReconcile). B5, 10 statuses per POST: reconciling 200 ms after
 * each webhook: 1,986 POSTs/s, p99 58 ms; at most once a second: 2,348 POSTs/s, p99 44 ms.
 */
const RECONCILE_QUIET_MS = 300;
const RECONCILE_MAX_DELAY_MS = 5_000;

export interface WorkerOptions {
  config: Config;
  db: Db;
  pool: pg.Pool;
  databaseUrl: string;
  log: Logger;
  /** Run the HTTP server (webhooks, reports). */
  http: boolean;
  port?: number;
  /** Options for the built-in sandbox provider, when a channel uses it. */
  sandbox?: Partial<Parameters<typeof startSandbox>[0]>;
}

export interface WorkerHandle {
  id: string;
  port: number | null;
  sandbox: Sandbox | null;
  boss: PgBoss;
  stop(): Promise<void>;
}

/**
 * `campaign worker`: every job handler (ingest, send, reconcile, maintenance) and, unless told otherwise, the HTTP
 * server. Any number of workers may run against one database.
 */
export async function startWorker(opts: WorkerOptions): Promise<WorkerHandle> {
  const { config, db } = opts;
  const id = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const log = opts.log.child({ worker: id });
  const stopping = new AbortController();
  await db.q('worker_heartbeat', [id]);
  const heartbeat = setInterval(() => void db.q('worker_heartbeat', [id]).catch((err) => log.warn({ err }, 'heartbeat failed')), HEARTBEAT_EVERY_MS);

  const boss = await startBoss(opts.databaseUrl, log, [CAMPAIGN_SEND, CAMPAIGN_INGEST, RECONCILE, MAINTENANCE, SCHEDULE_FIRE]);
  // Reconcile once callbacks pause for RECONCILE_QUIET_MS, and at the latest RECONCILE_MAX_DELAY_MS after
  // the first one that waits: during a burst the database stores webhooks (each waits for its 200) instead
  // of applying them, then applies them in big batches.
  let firstWaiting = 0;
  let nudgeTimer: NodeJS.Timeout | null = null;
  // Set once the reconcile handler is registered (below): an idle one is woken for the job, not left to
  // find it at its next poll, up to 0.5 s later. B5 at ten statuses per POST, last 200 to all reconciled:
  // 4.34–4.69 s (four runs) against 4.50–5.53 s (three) before; a direct reconcile() took 3.92 s.
  let reconcileWorker: string | null = null;
  const nudgeReconcile = () => {
    if (stopping.signal.aborted) return;
    const now = Date.now();
    if (nudgeTimer) clearTimeout(nudgeTimer);
    else firstWaiting = now;
    const due = Math.min(now + RECONCILE_QUIET_MS, firstWaiting + RECONCILE_MAX_DELAY_MS);
    nudgeTimer = setTimeout(() => {
      nudgeTimer = null;
      enqueueReconcile(boss)
        .then(() => { if (reconcileWorker) boss.notifyWorker(reconcileWorker); })
        .catch((err) => log.warn({ err }, 'could not enqueue reconcile'));
    }, Math.max(0, due - now));
  };

  let server: Server | null = null;
  let port: number | null = null;
  if (opts.http) {
    server = createHttpServer({ db, log, appSecret: config.appSecret, verifyToken: config.verifyToken, tierOf: (name) => tierOfChannel(config, name), onEventsStored: nudgeReconcile });
    port = await listen(server, opts.port ?? config.port);
    log.info({ port }, 'HTTP server listening');
  }

  let sandbox: Sandbox | null = null;
  if (config.channels.some((c) => c.provider === 'sandbox')) {
    const webhookUrl = port !== null ? `http://127.0.0.1:${port}/webhooks/whatsapp` : config.publicUrl ? `${config.publicUrl}/webhooks/whatsapp` : null;
    sandbox = await startSandbox({ webhookUrl, appSecret: config.appSecret ?? SANDBOX_DEFAULT_SECRET, logger: log, ...opts.sandbox });
  }

  // Each channel's limit is shared by every worker: through Redis when REDIS_URL is set, else PostgreSQL.
  const window: WindowStore = config.redisUrl
    ? new (await import('./send/window-redis.ts')).RedisWindowStore(config.redisUrl)
    : new PgWindowStore(db);
  const channels = new Map<string, SendChannel>();
  const channel = (name: string) => {
    let ch = channels.get(name);
    if (!ch) {
      const def = config.channels.find((c) => c.name === name);
      if (!def) throw new Error(`channel ${name} is not configured in this worker`);
      ch = {
        client: createClient(def, sandbox ?? undefined, config.publicUrl ? { publicUrl: config.publicUrl } : {}),
        limiter: new RateLimiter(def.rateLimitRps, { store: window, channel: def.name }),
        breaker: new Breaker(),
        name: def.name,
        tier: tierLimit(def),
      };
      channels.set(name, ch);
    }
    return ch;
  };
  // GET /metrics reads each channel's time spent waiting for its rate limiter.
  const unwatchLimiters = metrics.watchLimiters(() => [...channels.values()].map((ch) => ({ channel: ch.name ?? 'default', limiter: ch.limiter })));

  const sendWorker = await registerCampaignSend(boss, {
    db, workerId: id, log, channel, stopping: stopping.signal, settleS: config.ambiguousSettleS, onBatchRecorded: nudgeReconcile,
  });
  await registerCampaignIngest(boss, opts.pool, log);
  await registerScheduleFire(boss, { db, pool: opts.pool, log });
  reconcileWorker = await registerReconcile(boss, db, log);
  await registerMaintenance(boss, db, log, config.ambiguousSettleS);
  const tick = setInterval(() => void enqueueMaintenance(boss).catch(() => {}), TICK_MS);
  // `campaign start` and `resume` NOTIFY campaign_wake: the campaign gets its send job now rather than at
  // the next scan (a second later), and a send worker fetches it now rather than at its next poll (up to
  // 0.5 s later; an idle one wakes, a busy one is left alone). The scan stays the guarantee; this is only
  // a shortcut.
  const listener = await opts.pool.connect();
  // A checked-out client that loses its server emits 'error'; unheard, that would crash the worker. The
  // shortcut is simply lost; the scan goes on.
  listener.on('error', (err) => log.warn({ err }, 'campaign_wake listener lost'));
  listener.on('notification', (n) => {
    if (n.payload && !stopping.signal.aborted) {
      void enqueueCampaignSend(boss, n.payload).then(() => boss.notifyWorker(sendWorker)).catch(() => {});
    }
  });
  await listener.query('LISTEN campaign_wake');
  await enqueueMaintenance(boss);
  log.info({ channels: config.channels.map((c) => `${c.name}:${c.provider}`), rate_window: window.kind }, 'worker started');

  let stopped: Promise<void> | null = null;
  return {
    id, port, sandbox, boss,
    stop() {
      stopped ??= (async () => {
        log.info('stopping: no new claims; in-flight requests finish and are recorded');
        stopping.abort(new Error('worker stopping'));
        clearInterval(tick);
        await listener.query('UNLISTEN campaign_wake').catch(() => {});
        listener.release();
        if (nudgeTimer) clearTimeout(nudgeTimer);
        await boss.stop({ graceful: true, close: true, timeout: STOP_TIMEOUT_MS });
        clearInterval(heartbeat);
        unwatchLimiters();
        for (const ch of channels.values()) {
          await ch.limiter.stop();
          await ch.client.close?.();
        }
        await window.close();
        await sandbox?.close();
        if (server) await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
        await db.q('worker_remove', [id]).catch(() => {});
        log.info('worker stopped');
      })();
      return stopped;
    },
  };
}
