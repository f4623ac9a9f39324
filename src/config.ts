import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { UsageError } from './errors.ts';

/** Defaults as named constants, so docs, code and tests agree on one number. */
export const DEFAULT_RATE_LIMIT_RPS = 50;
export const DEFAULT_PORT = 8080;
export const DEFAULT_DATA_DIR = './.campaign';
export const DEFAULT_AMBIGUOUS_SETTLE_S = 600;
export const DEFAULT_PROVIDER = 'sandbox';
export const PROVIDERS = ['cloud', '360dialog', '360dialog-onprem', 'bsp', 'verihubs', 'sandbox'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export const DEFAULT_BASE_URLS: Partial<Record<ProviderName, string>> = {
  cloud: 'https://graph.facebook.com/v23.0',
  '360dialog': 'https://waba-v2.360dialog.io',
  '360dialog-onprem': 'https://waba.360dialog.io/v1',
  verihubs: 'https://api.verihubs.com',
};

/** Which channel keys each provider cannot send without (interface.md, Channels). */
const REQUIRED: Record<ProviderName, Array<keyof Channel>> = {
  cloud: ['phoneNumberId', 'accessToken'],
  '360dialog': ['accessToken'],
  '360dialog-onprem': ['accessToken', 'templateNamespace'],
  bsp: ['baseUrl', 'phoneNumberId', 'accessToken', 'bspKey'],
  verihubs: ['appId', 'apiKey'],
  sandbox: [],
};

/** channel key → the environment variable (and, lower-cased, the channels-file key) it comes from. */
const CHANNEL_VARS = {
  provider: 'WA_PROVIDER',
  baseUrl: 'WA_BASE_URL',
  phoneNumberId: 'WA_PHONE_NUMBER_ID',
  accessToken: 'WA_ACCESS_TOKEN',
  bspKey: 'WA_BSP_KEY',
  appId: 'WA_APP_ID',
  apiKey: 'WA_API_KEY',
  wabaId: 'WA_WABA_ID',
  templateNamespace: 'WA_TEMPLATE_NAMESPACE',
  rateLimitRps: 'WA_RATE_LIMIT_RPS',
  messagingTier: 'WA_MESSAGING_TIER',
} as const;

/** WhatsApp's messaging tiers: unique people a business may start conversations with per rolling 24 h. */
export const MESSAGING_TIERS = ['250', '2000', '10000', '100000', 'unlimited'] as const;

/** The messaging tier of a configured channel by name (null: unlimited, or not configured here). */
export function tierOfChannel(config: { channels: Array<{ name: string; messagingTier?: string | undefined }> }, name: string): number | null {
  const ch = config.channels.find((c) => c.name === name);
  return ch ? tierLimit(ch) : null;
}

/** The 24-hour budget of unique people of a channel, or null when unlimited (the default). */
export function tierLimit(ch: { messagingTier?: string | undefined }): number | null {
  return ch.messagingTier === undefined || ch.messagingTier === 'unlimited' ? null : Number(ch.messagingTier);
}

const optionalText = z.string().trim().min(1).optional();
// `unlimited` lifts the limit (a provider that enforces its own, the sandbox, benchmarks): no limiter and
// no shared window at all; represented as Infinity.
const rps = z.union([z.literal('unlimited').transform(() => Number.POSITIVE_INFINITY), z.coerce.number().positive().max(10_000)]);

const channelSchema = z.object({
  name: z.string().min(1),
  provider: z.enum(PROVIDERS),
  baseUrl: z.url().optional(),
  phoneNumberId: optionalText,
  accessToken: optionalText,
  bspKey: optionalText,
  appId: optionalText,
  apiKey: optionalText,
  wabaId: optionalText,
  templateNamespace: optionalText,
  rateLimitRps: rps.default(DEFAULT_RATE_LIMIT_RPS),
  messagingTier: z.enum(MESSAGING_TIERS, { error: `expected one of ${MESSAGING_TIERS.join(', ')}` }).optional(),
});
export type Channel = z.infer<typeof channelSchema>;

const configSchema = z.object({
  databaseUrl: optionalText,
  dataDir: z.string().min(1).default(DEFAULT_DATA_DIR),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  port: z.coerce.number().int().min(0).max(65535).default(DEFAULT_PORT),
  appSecret: optionalText,
  verifyToken: optionalText,
  publicUrl: z.url().optional(),
  redisUrl: optionalText,
  ambiguousSettleS: z.coerce.number().int().min(0).default(DEFAULT_AMBIGUOUS_SETTLE_S),
  channels: z.array(channelSchema).min(1),
});
export type Config = z.infer<typeof configSchema>;

type Env = Record<string, string | undefined>;

/** The env-defined channel, named `default`; empty strings count as unset. */
function channelFromEnv(env: Env): Record<string, unknown> {
  const ch: Record<string, unknown> = { name: 'default' };
  for (const [key, variable] of Object.entries(CHANNEL_VARS)) {
    const v = env[variable];
    if (v !== undefined && v !== '') ch[key] = v;
  }
  ch.provider ??= DEFAULT_PROVIDER;
  return ch;
}

/** A channels-file entry uses the env names in lower case (`wa_provider`) plus `name`. */
function channelFromFile(entry: unknown, index: number, file: string): Record<string, unknown> {
  if (typeof entry !== 'object' || entry === null) {
    throw new UsageError(`${file}: entry ${index} is not an object`);
  }
  const src = entry as Record<string, unknown>;
  const ch: Record<string, unknown> = { name: src.name };
  for (const [key, variable] of Object.entries(CHANNEL_VARS)) {
    const v = src[variable.toLowerCase()];
    if (v !== undefined && v !== '' && v !== null) ch[key] = typeof v === 'number' ? v : String(v);
  }
  ch.provider ??= DEFAULT_PROVIDER;
  return ch;
}

function issueVariable(path: PropertyKey[], channelPrefix: string): string {
  const [head, index, key] = path;
  if (head === 'channels' && typeof key === 'string' && key in CHANNEL_VARS) {
    const v = CHANNEL_VARS[key as keyof typeof CHANNEL_VARS];
    return index === 0 && channelPrefix === '' ? v : `${channelPrefix}channel ${String(index)} ${v.toLowerCase()}`;
  }
  const names: Record<string, string> = {
    databaseUrl: 'DATABASE_URL', dataDir: 'CAMPAIGN_DATA_DIR', logLevel: 'LOG_LEVEL', port: 'PORT',
    appSecret: 'WA_APP_SECRET', verifyToken: 'WA_VERIFY_TOKEN', publicUrl: 'PUBLIC_URL', redisUrl: 'REDIS_URL',
    ambiguousSettleS: 'CAMPAIGN_AMBIGUOUS_SETTLE_S',
  };
  return names[String(head)] ?? path.join('.');
}

/**
 * Parse every setting once, from the environment and the command's flags (flags win), into a frozen,
 * typed Config. Throws UsageError (exit 2) naming the variable to fix.
 */
export function loadConfig(env: Env = process.env, flags: { databaseUrl?: string | undefined; port?: number | undefined } = {}): Config {
  const channelsFile = env.CAMPAIGN_CHANNELS_FILE;
  let channels: Array<Record<string, unknown>> = [];
  if (channelsFile) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(channelsFile, 'utf8'));
    } catch (err) {
      throw new UsageError(`CAMPAIGN_CHANNELS_FILE ${channelsFile}: ${(err as Error).message}`);
    }
    if (!Array.isArray(parsed) || parsed.length === 0) {
      throw new UsageError(`CAMPAIGN_CHANNELS_FILE ${channelsFile}: expected a non-empty JSON array of channels`);
    }
    channels = parsed.map((e, i) => channelFromFile(e, i, channelsFile));
  } else {
    channels = [channelFromEnv(env)];
  }
  const raw = {
    databaseUrl: flags.databaseUrl ?? (env.DATABASE_URL || undefined),
    dataDir: env.CAMPAIGN_DATA_DIR || undefined,
    logLevel: env.LOG_LEVEL || undefined,
    port: flags.port ?? (env.PORT || undefined),
    appSecret: env.WA_APP_SECRET || undefined,
    verifyToken: env.WA_VERIFY_TOKEN || undefined,
    publicUrl: env.PUBLIC_URL || undefined,
    redisUrl: env.REDIS_URL || undefined,
    ambiguousSettleS: env.CAMPAIGN_AMBIGUOUS_SETTLE_S || undefined,
    channels,
  };
  const prefix = channelsFile ? `CAMPAIGN_CHANNELS_FILE ` : '';
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const variable = issueVariable(issue.path, prefix);
    throw new UsageError(`${variable}: ${issue.message}`);
  }
  const config = result.data;
  const names = new Set<string>();
  config.channels.forEach((ch, i) => {
    if (names.has(ch.name)) throw new UsageError(`${prefix}channel names must be unique: ${ch.name} appears twice`);
    names.add(ch.name);
    for (const key of REQUIRED[ch.provider]) {
      if (ch[key] === undefined) {
        const v = CHANNEL_VARS[key as keyof typeof CHANNEL_VARS];
        const where = channelsFile ? `${prefix}channel ${ch.name} (${i}) ${v.toLowerCase()}` : v;
        throw new UsageError(`${where} is required for provider ${ch.provider}`);
      }
    }
    ch.baseUrl ??= DEFAULT_BASE_URLS[ch.provider];
  });
  if (config.channels.some((c) => c.provider === 'verihubs') && !config.publicUrl) {
    throw new UsageError('PUBLIC_URL is required for provider verihubs (its callback_url is built from it)');
  }
  return Object.freeze(config);
}

/** `--channel NAME`, default the first. */
export function pickChannel(config: Config, name?: string): Channel {
  if (!name) return config.channels[0]!;
  const ch = config.channels.find((c) => c.name === name);
  if (!ch) throw new UsageError(`unknown channel ${name}; configured: ${config.channels.map((c) => c.name).join(', ')}`);
  return ch;
}
