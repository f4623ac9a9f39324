import { Redis } from 'ioredis';
import { GRANT_WINDOW_MS, PENDING_STALE_MS, type WindowStore } from './window.ts';

// Keys per channel: {ch}:d departed (score = departure ms), {ch}:p pending (score = grant ms),
// {ch}:b blocked-until ms, {ch}:t when the next grant is due on the channel's schedule (ms; see migration
// 0019). One hash tag, so a Redis Cluster keeps them on one node for the scripts.
const keys = (channel: string) => {
  const base = `campaign:rate:{${channel}}`;
  return [`${base}:d`, `${base}:p`, `${base}:b`, `${base}:t`];
};
// Keys of an idle channel expire; a minute is far longer than any window or pending grant.
const IDLE_TTL_MS = 60_000;

// TIME on the Redis server is the one clock every worker agrees on. Scores are ms with µs fraction.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local rps, window, stale, ttl = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local blocked = tonumber(redis.call('GET', KEYS[3]) or '0')
if blocked > now then return math.ceil(blocked - now) end
local spacing = 1000 / rps
local due = tonumber(redis.call('GET', KEYS[4]) or '0')
if due - 2 * spacing > now then return math.max(1, math.ceil(due - 2 * spacing - now)) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - stale))
if redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) < rps then
  redis.call('ZADD', KEYS[2], now, ARGV[2])
  redis.call('SET', KEYS[4], tostring(math.max(due, now) + spacing), 'PX', ttl)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if oldest[2] == nil then return 2 end
return math.max(1, math.ceil(tonumber(oldest[2]) + window - now))
`;

const DEPART = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
`;

const BLOCK = `
local t = redis.call('TIME')
local until_ms = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000 + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > cur then redis.call('SET', KEYS[1], tostring(until_ms), 'PX', math.ceil(tonumber(ARGV[1])) + 1000) end
return 1
`;

type Scripted = Redis & {
  rateAcquire(k1: string, k2: string, k3: string, k4: string, rps: number, id: string, window: number, stale: number, ttl: number): Promise<number>;
  rateDepart(k1: string, k2: string, id: string, ttl: number): Promise<number>;
  rateBlock(k: string, ms: number): Promise<number>;
};

/** The shared window in Redis (REDIS_URL): three Lua scripts, each one atomic round trip. */
export class RedisWindowStore implements WindowStore {
  readonly kind = 'redis' as const;
  private readonly redis: Scripted;

  constructor(url: string) {
    // Fail fast instead of queueing commands for ever while Redis is down: a send waits, retries the
    // acquire, and the limit is never exceeded because nothing is granted without the store.
    const redis = new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false });
    redis.defineCommand('rateAcquire', { numberOfKeys: 4, lua: ACQUIRE });
    redis.defineCommand('rateDepart', { numberOfKeys: 2, lua: DEPART });
    redis.defineCommand('rateBlock', { numberOfKeys: 1, lua: BLOCK });
    this.redis = redis as Scripted;
  }

  async acquire(channel: string, rps: number, id: string): Promise<number> {
    const [d, p, b, t] = keys(channel);
    return Number(await this.redis.rateAcquire(d!, p!, b!, t!, rps, id, GRANT_WINDOW_MS, PENDING_STALE_MS, IDLE_TTL_MS));
  }

  async depart(channel: string, id: string): Promise<void> {
    const [d, p] = keys(channel);
    await this.redis.rateDepart(d!, p!, id, IDLE_TTL_MS);
  }

  async cancel(channel: string, id: string): Promise<void> {
    await this.redis.zrem(keys(channel)[1]!, id);
  }

  async block(channel: string, ms: number): Promise<void> {
    await this.redis.rateBlock(keys(channel)[2]!, ms);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
