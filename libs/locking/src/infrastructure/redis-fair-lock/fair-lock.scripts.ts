/**
 * The fair lock's Redis side: one Lua script per operation, so each is one round trip and
 * atomic. Every key of a namespace `ns` (e.g. `orchestrator:{locks}`) carries the same
 * Redis Cluster hash tag, so all of them live in one slot and the scripts may touch keys
 * they compute (a waiter's record, another resource's holder during the cycle search).
 *
 *   ns:l:<resource>  hash  the grant: o owner, f fence, w grant id, t ttl, at granted at (an
 *                          uncontended grant leaves it out, to spare a TIME call: it is t - PTTL
 *                          ago until the first renewal writes it down); PEXPIRE ttl
 *   ns:q:<resource>  zset  waiting grant ids, scored by arrival (ns:seq), the FIFO queue
 *   ns:w:<id>        hash  a waiter: o owner, r resource, s arrival, t ttl, c channel, at since,
 *                          v deadlock cycle when it was chosen as a victim; PEXPIRE liveness
 *   ns:ow:<owner>    set   the waiter ids of an owner (its out-edges in the wait-for graph)
 *   ns:fence         str   the last fence handed out (a counter seeded from Redis time in µs)
 *   ns:seq           str   arrival counter
 *
 * Listing (an operator's call) scans for ns:l:* and ns:q:* keys instead of keeping an index,
 * so that the uncontended acquire and release touch nothing but the lock's own keys.
 *
 * Expiry is judged by Redis alone: a grant is its hash key's PEXPIRE, a waiter's liveness
 * is its record's PEXPIRE, timestamps come from TIME.
 *
 * The uncontended path is one round trip each way and does no more work in Redis than it must:
 * ACQUIRE first checks, with nothing defined but the fence counter, that the lock is free and its
 * queue empty (a queue's key exists only while someone is in it) and takes it at once; RELEASE
 * deletes the grant and stops there when nobody waits. Only a call that finds a queue defines the
 * queue's helpers. These two scripts have the namespace (and the waiters' liveness) written into
 * their text instead of passed with every call, since each argument costs both ends on every call:
 * one pair of scripts per namespace and setting, not per process, so Redis's script cache stays
 * small.
 *
 * A grant is handed over inside the script that frees the lock (release, a waiter leaving,
 * or anyone noticing an expired holder): the head of the queue becomes the holder at once
 * and is told on its process's channel ns:ch:<channel> ("g|<id>|<fence>"); a process that
 * caused a grant to one of its own waiters learns it from the reply instead.
 */

/** What an uncontended grant needs, and nothing more (every function defined costs each call). */
const FENCING = `
-- Strictly increasing, and still so after a Redis restart that lost every key: a counter,
-- seeded from Redis time in microseconds whenever it is missing. The counter stays below the
-- clock (it would need a million grants a second to catch up), so a reseed after a loss
-- starts above every fence handed out before, as long as Redis's clock does not go back.
-- A number: Redis writes it (HSET) and replies it (an integer) with all its digits, while Lua's
-- own tostring and '..' would not; fence_text spells it for a message.
local function next_fence()
  local fk = ns .. ':fence'
  local f = redis.call('INCR', fk)
  if f == 1 then
    local t = redis.call('TIME')
    f = tonumber(t[1]) * 1000000 + tonumber(t[2])
    redis.call('SET', fk, string.format('%.0f', f))
  end
  return f
end
`;

/** The queue's helpers, for every caller that goes past the uncontended path. */
const QUEUEING = `
local function key(kind, name) return ns .. ':' .. kind .. ':' .. name end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function fence_text(f) return string.format('%.0f', f) end

-- Grants a lock whether or not its key exists (a takeover overwrites every field). Returns the fence.
local function grant(res, owner, id, ttl)
  local f = next_fence()
  local lk = key('l', res)
  redis.call('HSET', lk, 'o', owner, 'f', f, 'w', id, 't', ttl, 'at', now_ms())
  redis.call('PEXPIRE', lk, ttl)
  return f
end

local function forget_waiter(id, owner)
  redis.call('DEL', key('w', id))
  if owner then redis.call('SREM', key('ow', owner), id) end
end

-- Hands a free lock to the oldest live waiter. Returns {id, fence, channel} or nil.
-- Waiters whose record expired (their process died) are dropped on the way.
local function grant_next(res, caller_channel)
  local qk = key('q', res)
  while true do
    local head = redis.call('ZRANGE', qk, 0, 0)
    if #head == 0 then return nil end
    local id = head[1]
    redis.call('ZREM', qk, id)
    local w = redis.call('HMGET', key('w', id), 'o', 't', 'c', 'v')
    if w[1] and not w[4] then
      forget_waiter(id, w[1])
      local f = grant(res, w[1], id, tonumber(w[2]))
      if w[3] ~= caller_channel then redis.call('PUBLISH', key('ch', w[3]), 'g|' .. id .. '|' .. fence_text(f)) end
      return {id, f, w[3]}
    end
  end
end

local function settle(res, caller_channel)
  if redis.call('EXISTS', key('l', res)) == 1 then return nil end
  return grant_next(res, caller_channel)
end

local function with_grant(reply, g)
  if g then
    reply[#reply + 1] = g[1]
    reply[#reply + 1] = g[2]
    reply[#reply + 1] = g[3]
  end
  return reply
end
`;

/** For the scripts that get the namespace as ARGV[1]. */
const COMMON = `local ns = ARGV[1]\n${FENCING}${QUEUEING}`;

/** A Lua string literal of `text`: bytes outside printable ASCII, quotes and backslashes escaped. */
function luaString(text: string): string {
  let literal = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const plain = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c;
    literal += plain ? String.fromCharCode(byte) : `\\${String(byte).padStart(3, '0')}`;
  }
  return `"${literal}"`;
}

/**
 * The namespace `ns` and the waiters' liveness (ms) are written into the script. KEYS: lock, queue.
 * ARGV: owner, ttl, id (<channel>.<n>), mode (two characters: enqueue 1/0, then reclaim 1/0); the
 * resource is the lock key's tail. With reclaim, an owner that already holds the lock (an earlier
 * run of it that died) takes the grant over at once with a new fence.
 * Reply: the fence (an integer, no table to build and parse) when granted now; {0, pttl} not
 * granted (and not queued when enqueue is 0); {2, pttl} queued; both followed by a grant
 * {id, fence, channel} when it handed the lock to an older waiter on the way.
 */
export function acquireScript(ns: string, livenessMs: number): string {
  return `local ns, liveness = ${luaString(ns)}, ${Math.round(livenessMs)}
${FENCING}
-- Uncontended: nobody holds it and nobody waits (reclaim included: there is nothing to take over).
if redis.call('EXISTS', KEYS[1], KEYS[2]) == 0 then
  local f = next_fence()
  redis.call('HSET', KEYS[1], 'o', ARGV[1], 'f', f, 'w', ARGV[3], 't', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return f
end
${QUEUEING}
local owner, ttl, id = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local res, channel = string.sub(KEYS[1], #ns + 4), string.match(id, '^(.*)%.')
local enqueue, reclaim = string.sub(ARGV[4], 1, 1) == '1', string.sub(ARGV[4], 2, 2) == '1'
local g = nil
if reclaim and redis.call('HGET', KEYS[1], 'o') == owner then return grant(res, owner, id, ttl) end
if redis.call('EXISTS', KEYS[1]) == 0 then
  -- Free, but a queue exists: no barging, older waiters go first (the holder expired and nobody
  -- noticed yet); waiters found dead on the way are dropped.
  g = grant_next(res, channel)
  if not g then return grant(res, owner, id, ttl) end
end
if not enqueue then return with_grant({0, redis.call('PTTL', KEYS[1])}, g) end
local seq = redis.call('INCR', ns .. ':seq')
redis.call('ZADD', KEYS[2], seq, id)
local wk = key('w', id)
redis.call('HSET', wk, 'o', owner, 'r', res, 's', seq, 't', ttl, 'c', channel, 'at', now_ms())
redis.call('PEXPIRE', wk, liveness)
redis.call('SADD', key('ow', owner), id)
redis.call('PEXPIRE', key('ow', owner), liveness)
return with_grant({2, redis.call('PTTL', KEYS[1])}, g)
`;
}

/**
 * A place kept in the queue for an owner that comes back later instead of waiting (a job that gave
 * its worker back). KEYS: lock, queue. ARGV: ns, resource, owner, ttl, id, channel, place, claim.
 * The lock held by this owner (handed to its place, or kept by an earlier run of it that died) is
 * taken over with a new fence. A free lock goes to the oldest live waiter or place first (no
 * barging), so to this owner only when nobody is queued ahead of it. Otherwise the place is kept
 * (made at the back when missing, its position kept when present) for `place` ms, and a grant
 * handed to it holds `claim` ms for its owner to come and take it.
 * Reply (three fields, then a grant it caused for another waiter, if any): {1, fence, 0} held;
 * {2, pttl, position} parked.
 */
export const PARK = `${COMMON}
local res, owner, ttl, id, channel = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6]
local place, claim = tonumber(ARGV[7]), tonumber(ARGV[8])
local function take()
  redis.call('ZREM', KEYS[2], id)
  forget_waiter(id, owner)
  -- Not the place's id: giving the place up later (LEAVE) must not release the lease taken here.
  return {1, grant(res, owner, id .. '.held', ttl), 0}
end
if redis.call('HGET', KEYS[1], 'o') == owner then return take() end
local g = settle(res, channel)
if g and g[1] == id then return take() end
if redis.call('EXISTS', KEYS[1]) == 0 then return take() end
local wk = key('w', id)
local seq = redis.call('ZSCORE', KEYS[2], id)
if not seq then
  seq = redis.call('INCR', ns .. ':seq')
  redis.call('ZADD', KEYS[2], seq, id)
end
redis.call('HSET', wk, 'o', owner, 'r', res, 's', seq, 't', claim, 'c', channel)
redis.call('HSETNX', wk, 'at', now_ms())
redis.call('HDEL', wk, 'v')
redis.call('PEXPIRE', wk, place)
local ok = key('ow', owner)
redis.call('SADD', ok, id)
if redis.call('PTTL', ok) < place then redis.call('PEXPIRE', ok, place) end
return with_grant({2, redis.call('PTTL', KEYS[1]), redis.call('ZRANK', KEYS[2], id) + 1}, g)
`;

/**
 * A waiter's periodic check: keeps its place alive, hands over a lock whose holder expired,
 * and (when asked) searches the wait-for graph for a cycle through its owner.
 * KEYS: lock, queue. ARGV: ns, resource, id, channel, liveness, check deadlock (1/0), max nodes.
 * Reply (three fields, then a grant it caused, if any): {1, fence, 0} granted; {2, pttl, position}
 * still waiting; {3, 0, 0} its place is gone (it must queue again); {4, cycle, 0} it is a
 * deadlock victim (and out of the queue).
 */
export const RECHECK = `${COMMON}
local res, id, channel, liveness = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local check, max_nodes = ARGV[6] == '1', tonumber(ARGV[7])
local held = redis.call('HMGET', KEYS[1], 'w', 'f')
if held[1] == id then return {1, held[2], 0} end
local wk = key('w', id)
local me = redis.call('HMGET', wk, 'o', 'v', 's')
if not me[1] then return {3, 0, 0} end
if me[2] then
  redis.call('ZREM', KEYS[2], id)
  forget_waiter(id, me[1])
  return {4, me[2], 0}
end
redis.call('PEXPIRE', wk, liveness)
redis.call('PEXPIRE', key('ow', me[1]), liveness)
local g = settle(res, channel)
if g and g[1] == id then return {1, g[2], 0} end

local function position()
  local r = redis.call('ZRANK', KEYS[2], id)
  return r and (r + 1) or 0
end

if not check then return with_grant({2, redis.call('PTTL', KEYS[1]), position()}, g) end

-- Wait-for graph: an owner waiting in a queue waits for the live waiter just ahead of it
-- (strict FIFO: that one is served first) or, at the head, for the holder.
local function waits_of(owner)
  local edges = {}
  for _, wid in ipairs(redis.call('SMEMBERS', key('ow', owner))) do
    local w = redis.call('HMGET', key('w', wid), 'r', 's', 'v')
    if w[1] and not w[3] then
      local qk = key('q', w[1])
      local rank = redis.call('ZRANK', qk, wid)
      if rank then
        local target = nil
        local i = rank - 1
        while i >= 0 and not target do
          local ahead = redis.call('ZRANGE', qk, i, i)[1]
          local o = redis.call('HMGET', key('w', ahead), 'o', 'v')
          if o[1] and not o[2] then target = o[1] end
          i = i - 1
        end
        if not target then target = redis.call('HGET', key('l', w[1]), 'o') end
        if target then edges[#edges + 1] = {target, wid, tonumber(w[2]), w[1]} end
      end
    end
  end
  return edges
end

local start = me[1]
local visited, path, nodes = {}, {}, 0
local function dfs(owner)
  nodes = nodes + 1
  if nodes > max_nodes then return false end
  visited[owner] = true
  for _, e in ipairs(waits_of(owner)) do
    path[#path + 1] = {owner, e}
    if e[1] == start then return true end
    if not visited[e[1]] and dfs(e[1]) then return true end
    path[#path] = nil
  end
  return false
end

if not dfs(start) then return with_grant({2, redis.call('PTTL', KEYS[1]), position()}, g) end

-- A cycle: its youngest waiter (latest arrival) is the victim, so the older work proceeds.
local victim, describe = nil, {}
for _, step in ipairs(path) do
  local e = step[2]
  if not victim or e[3] > victim[3] then victim = e end
  describe[#describe + 1] = step[1] .. ' waits for ' .. e[4] .. ' (held or queued by ' .. e[1] .. ')'
end
local cycle = table.concat(describe, '; ')
if victim[2] == id then
  redis.call('ZREM', KEYS[2], id)
  forget_waiter(id, start)
  return with_grant({4, cycle, 0}, g)
end
local vk = key('w', victim[2])
redis.call('HSET', vk, 'v', cycle)
redis.call('ZREM', key('q', victim[4]), victim[2])
local vc = redis.call('HGET', vk, 'c')
-- Also when the victim waits in this caller's process: the reply does not carry it.
if vc then redis.call('PUBLISH', key('ch', vc), 'd|' .. victim[2]) end
return with_grant({2, redis.call('PTTL', KEYS[1]), position()}, g)
`;

/**
 * A waiter leaves (timeout, abort): out of the queue; if it was granted meanwhile, the grant
 * is released and handed on, never leaked. KEYS: lock, queue. ARGV: ns, resource, id, channel.
 * Reply: {1} it had been granted and was released; {0} it left the queue; then a grant.
 */
export const LEAVE = `${COMMON}
local res, id, channel = ARGV[2], ARGV[3], ARGV[4]
if redis.call('HGET', KEYS[1], 'w') == id then
  redis.call('DEL', KEYS[1])
  return with_grant({1}, settle(res, channel))
end
redis.call('ZREM', KEYS[2], id)
forget_waiter(id, redis.call('HGET', key('w', id), 'o'))
return with_grant({0}, settle(res, channel))
`;

/**
 * The namespace `ns` is written into the script. KEYS: lock, queue. ARGV: fence, channel; the
 * resource is the lock key's tail.
 * Reply: 1 released, nobody waiting; 0 not the current grant; {1} released with a queue, then
 * the grant to the next waiter, if a live one was found.
 */
export function releaseScript(ns: string): string {
  return `
if redis.call('HGET', KEYS[1], 'f') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 0 then return 1 end
local ns = ${luaString(ns)}
${FENCING}${QUEUEING}
return with_grant({1}, grant_next(string.sub(KEYS[1], #ns + 4), ARGV[2]))
`;
}

/**
 * The watchdog's batch: KEYS are lock keys; ARGV: ns, then fence, ttl and owner per key.
 * Reply per key: 1 renewed; 0 lost; 2 lost to a newer grant of the same owner (reclaimed).
 * The first renewal of an uncontended grant writes down when it was granted (ttl - PTTL ago),
 * before the new expiry hides it.
 */
export const RENEW = `
local out = {}
local now = nil
for i, lk in ipairs(KEYS) do
  local fence, ttl, owner = ARGV[3 * i - 1], ARGV[3 * i], ARGV[3 * i + 1]
  local held = redis.call('HMGET', lk, 'f', 'o', 'at', 't')
  if held[1] == fence then
    if not held[3] and held[4] then
      if not now then
        local t = redis.call('TIME')
        now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      end
      redis.call('HSET', lk, 'at', now - (tonumber(held[4]) - math.max(redis.call('PTTL', lk), 0)))
    end
    redis.call('PEXPIRE', lk, ttl)
    out[i] = 1
  elseif held[2] == owner then
    out[i] = 2
  else
    out[i] = 0
  end
end
return out
`;

/**
 * ARGV: ns, then the resources to report (found by the client's SCAN). Reply: JSON
 * {now, locks: [{resource, holder, waiters}]}. Tidies on the way: drops dead waiters and hands
 * over locks whose holder expired.
 */
export const LIST = `${COMMON}
local now = now_ms()
local locks = {}
for i = 2, #ARGV do
  local res = ARGV[i]
  settle(res, '')
  local lk = key('l', res)
  local h = redis.call('HMGET', lk, 'o', 'f', 'at', 't')
  local holder = cjson.null
  if h[1] then
    local ttl = redis.call('PTTL', lk)
    local since = tonumber(h[3])
    -- Granted uncontended and not renewed yet: t - PTTL ago.
    if not since then since = now - math.max((tonumber(h[4]) or 0) - math.max(ttl, 0), 0) end
    holder = {owner = h[1], fence = h[2], since = since, ttl = ttl}
  end
  local waiters = {}
  for _, id in ipairs(redis.call('ZRANGE', key('q', res), 0, -1)) do
    local w = redis.call('HMGET', key('w', id), 'o', 'at', 'v')
    if w[1] and not w[3] then
      waiters[#waiters + 1] = {owner = w[1], since = tonumber(w[2])}
    else
      redis.call('ZREM', key('q', res), id)
    end
  end
  if holder ~= cjson.null or #waiters > 0 then
    locks[#locks + 1] = {resource = res, holder = holder, waiters = waiters}
  end
end
return cjson.encode({now = now, locks = locks})
`;
