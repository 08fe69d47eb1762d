/**
 * The capacity store's Redis side: one Lua script per operation that must be atomic, so each is
 * one round trip. Under `<prefix>:capacity`:
 *
 *   c:<pattern>   zset  a concurrency bucket's holders: member sessionId, score = hold expiry (ms)
 *   w:<pattern>   zset  sessions refused a slot in it lately: member sessionId, score = expiry
 *   mark:<model>  str   JSON {until, why, kind} of a cooling down / unavailable model; PX to until
 *   marks         set   models that may have a mark (status); pruned when read
 *   429:<model>   zset  the model's recent rate-limit answers, scored by time
 *
 * Time is Redis's (TIME), so that every worker judges expiry by one clock.
 */

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** Keeps a key alive at least `ms` from now (never shortens what another holder needs). */
const KEEP = `
local function keep(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
`;

/**
 * KEYS: mark, holders 1..n, waiters 1..n. ARGV: sessionId, holdMs, waitMs, limit 1..n.
 * → {'m', markJson} | {'f', bucketIndex, inUse, waiting} | {'g', alreadyHeld 0/1}
 * The mark first; then every bucket is checked before any is taken: all or none.
 */
export const ACQUIRE = `
local mark = redis.call('GET', KEYS[1])
if mark then return {'m', mark} end
local n = (#KEYS - 1) / 2
if n == 0 then return {'g', 0} end
local sid = ARGV[1]
local hold = tonumber(ARGV[2])
local wait = tonumber(ARGV[3])
${NOW}
${KEEP}
local held = 0
for i = 1, n do
  local hk = KEYS[1 + i]
  redis.call('ZREMRANGEBYSCORE', hk, '-inf', now)
  if redis.call('ZSCORE', hk, sid) then
    held = held + 1
  else
    local inUse = redis.call('ZCARD', hk)
    if inUse >= tonumber(ARGV[3 + i]) then
      local wk = KEYS[1 + n + i]
      redis.call('ZREMRANGEBYSCORE', wk, '-inf', now)
      redis.call('ZADD', wk, now + wait, sid)
      keep(wk, wait)
      return {'f', i, inUse, redis.call('ZCARD', wk)}
    end
  end
end
for i = 1, n do
  redis.call('ZADD', KEYS[1 + i], now + hold, sid)
  keep(KEYS[1 + i], hold)
  redis.call('ZREM', KEYS[1 + n + i], sid)
end
if held == n then return {'g', 1} end
return {'g', 0}
`;

/**
 * KEYS: holders. ARGV: sessionId, holdMs. Extends the session's live holds; a hold that expired
 * already is dropped rather than revived (its slot may be someone else's now). → holds renewed.
 */
export const RENEW = `
local sid = ARGV[1]
local hold = tonumber(ARGV[2])
${NOW}
${KEEP}
local renewed = 0
for i = 1, #KEYS do
  local score = redis.call('ZSCORE', KEYS[i], sid)
  if score and tonumber(score) > now then
    redis.call('ZADD', KEYS[i], 'XX', now + hold, sid)
    keep(KEYS[i], hold)
    renewed = renewed + 1
  elseif score then
    redis.call('ZREM', KEYS[i], sid)
  end
end
return renewed
`;

/**
 * KEYS: mark, marks index. ARGV: markJson, untilMs, model. A mark there that ends later stays.
 * → the mark in force (JSON).
 */
export const MARK = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and tonumber(decoded['until']) and tonumber(decoded['until']) >= tonumber(ARGV[2]) then return current end
end
${NOW}
local px = tonumber(ARGV[2]) - now
if px < 1 then px = 1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
redis.call('SADD', KEYS[2], ARGV[3])
return ARGV[1]
`;

/** KEYS: the model's 429 zset. ARGV: unique member, windowMs. → 429s within the window, this one included. */
export const COUNT_RATE_LIMIT = `
${NOW}
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], window)
return redis.call('ZCARD', KEYS[1])
`;
