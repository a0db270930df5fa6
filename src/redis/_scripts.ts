/**
 * The Lua scripts of the Redis store (internal to `ssekit/redis`). Each runs
 * atomically on the shard that holds its topic, so looking at a stream and
 * changing it cannot be split by another client's command.
 *
 * A topic has two keys with one hash tag, so they share a cluster slot:
 * its stream (`KEYS[1]`), whose name is also the shard channel its new
 * entries are published on, and a hash (`KEYS[2]`) holding `f`, the id of
 * the newest entry trimmed away (the floor), `e`, the id of the entry that
 * ended the topic, and the recent publish tokens (`p:<store>:<slot>` → `<n>
 * <id>`) that make a resent append harmless.
 *
 * Positions: a client may resume after an entry that is kept, after the
 * floor, after the last id the stream generated, or after the position a
 * read of an absent topic gave: `<Redis time - 1 ms>-18446744073709551615`,
 * the largest id of the millisecond before, which no entry can have and
 * which every later entry follows. Redis's own `max-deleted-entry-id` is no
 * floor: MAXLEN trimming leaves it at `0-0` (Redis 7.0).
 *
 * (Over ~150 lines: the scripts share the helpers below and the key layout
 * above, and each is read against them; most of the length is Lua.)
 *
 * @module
 */

// Shared helpers: Redis's clock (the one its ids come from) and trimming
// that records the floor. Exact trimming, so the floor is exact.
const COMMON = `
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ms(id)
  return tonumber(string.match(id, '^(%d+)-'))
end
local function trim(stream, meta, max, ttl)
  local length = redis.call('XLEN', stream)
  if length > max then
    local gone = redis.call('XRANGE', stream, '-', '+', 'COUNT', length - max)
    redis.call('HSET', meta, 'f', gone[#gone][1])
    redis.call('XTRIM', stream, 'MAXLEN', max)
  end
  if ttl ~= '' then
    local cutoff = now() - tonumber(ttl)
    local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
    if first and ms(first[1]) < cutoff then
      local newest = redis.call('XREVRANGE', stream, '(' .. cutoff .. '-0', '-', 'COUNT', 1)[1]
      redis.call('HSET', meta, 'f', newest[1])
      redis.call('XTRIM', stream, 'MINID', cutoff)
    end
  end
end
local EMPTY = '-18446744073709551615'
local function empty(id)
  return string.sub(id, -#EMPTY) == EMPTY
end
local function lastId(stream)
  local info = redis.call('XINFO', 'STREAM', stream)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then return info[i + 1] end
  end
end
`;

/**
 * KEYS: stream, meta. ARGV: max, ttl ms ("" for none), the token's slot
 * ("" for none), the token's count, "1" when the record ends the topic,
 * "1" to append only if the topic's relay lease has expired (a reap), then
 * field, value…. Returns the entry's id, or the id the same token got the
 * first time (a resent append); an error starting with ENDED when the topic
 * has ended, LEASED when a reap finds the lease alive.
 */
export const APPEND_SCRIPT: string = COMMON + `
local stream, meta = KEYS[1], KEYS[2]
local max, ttl, slot, count = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
if slot ~= '' then
  local earlier = redis.call('HGET', meta, 'p:' .. slot)
  if earlier then
    local n, id = string.match(earlier, '^(%d+) (.+)$')
    if n == count then return id end
  end
end
if redis.call('HEXISTS', meta, 'e') == 1 then
  return redis.error_reply('ENDED the topic has ended')
end
if ARGV[6] == '1' then
  local lease = redis.call('HGET', meta, 'l')
  if not lease or tonumber(lease) > now() then
    return redis.error_reply('LEASED the topic has no expired lease')
  end
end
local id = redis.call('XADD', stream, '*', unpack(ARGV, 7))
if ARGV[5] == '1' then redis.call('HSET', meta, 'e', id) end
trim(stream, meta, max, ttl)
if slot ~= '' then redis.call('HSET', meta, 'p:' .. slot, count .. ' ' .. id) end
if ttl ~= '' then
  redis.call('PEXPIRE', stream, ttl)
  redis.call('PEXPIRE', meta, ttl)
end
local entry = {id}
for i = 7, #ARGV do entry[#entry + 1] = ARGV[i] end
redis.call('SPUBLISH', stream, cjson.encode(entry))
return id
`;

/**
 * KEYS: stream, meta. ARGV: a well-formed id or "", the limit, ttl ms (""
 * for none). Returns {gap, cursor, entries, end, absent}: the entries
 * after the id, or from the oldest kept when the id is not a position (gap
 * = 1); the cursor is where a read with no entries leaves the client; end
 * is the id of the entry that ended the topic, or false; absent is 1 when
 * neither of the topic's keys exists.
 */
export const READ_SCRIPT: string = COMMON + `
local stream, meta = KEYS[1], KEYS[2]
local after, limit, ttl = ARGV[1], ARGV[2], ARGV[3]
local exists = redis.call('EXISTS', stream) == 1
if exists then trim(stream, meta, math.huge, ttl) end
local function fresh(t, since)
  return ttl == '' or since - t < tonumber(ttl)
end
local gap = true
local cursor
if exists then
  cursor = lastId(stream)
  local floor = redis.call('HGET', meta, 'f')
  if after == cursor or after == floor or
    (after ~= '' and #redis.call('XRANGE', stream, after, after) > 0) then
    gap = false
  elseif empty(after) and not floor then
    -- The position of a topic that was absent: good if this stream began
    -- after it and no older one can have come and gone in between (it
    -- would have had to expire, ttl after its last entry).
    local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
    if first then
      local born = ms(first[1])
      gap = not (ms(after) < born and fresh(ms(after), born))
    end
  end
else
  cursor = (now() - 1) .. EMPTY
  -- Good unless a stream can have come and gone since.
  gap = not (empty(after) and fresh(ms(after), now()))
end
local ended = redis.call('HGET', meta, 'e')
local absent = (not exists and redis.call('EXISTS', meta) == 0) and 1 or 0
if gap then
  return {1, cursor, redis.call('XRANGE', stream, '-', '+', 'COUNT', limit), ended, absent}
end
return {0, after, redis.call('XRANGE', stream, '(' .. after, '+', 'COUNT', limit), ended, absent}
`;

/**
 * KEYS: stream. Returns the position after everything appended so far.
 * It writes nothing, so it runs where writes are refused (out of memory).
 */
export const LAST_SCRIPT: string = "#!lua flags=no-writes\n" + COMMON + `
if redis.call('EXISTS', KEYS[1]) == 1 then return lastId(KEYS[1]) end
return (now() - 1) .. EMPTY
`;

/**
 * Leases of `hub.relay` runs live in the topic's hash: `h` the holder, `l`
 * when its lease expires (Redis's clock), `a` a stop asked for. KEYS:
 * stream, meta. ARGV: holder, ms. Returns {state, expiry}: "ok" (held
 * until expiry), "abort" (a stop was asked: the lease is let go), "lost"
 * (the topic ended, or another holder's lease is alive).
 */
export const LEASE_SCRIPT: string = COMMON + `
local meta, holder, ms = KEYS[2], ARGV[1], tonumber(ARGV[2])
if redis.call('HEXISTS', meta, 'e') == 1 then return {'lost', 0} end
local t = now()
local current = redis.call('HGET', meta, 'h')
if current and current ~= holder and
  tonumber(redis.call('HGET', meta, 'l') or '0') > t then
  return {'lost', 0}
end
if current == holder and redis.call('HGET', meta, 'a') == '1' then
  redis.call('HDEL', meta, 'h', 'l', 'a')
  return {'abort', 0}
end
if current ~= holder then redis.call('HDEL', meta, 'a') end
redis.call('HSET', meta, 'h', holder, 'l', t + ms)
return {'ok', t + ms}
`;

/** KEYS: stream, meta. ARGV: holder. Lets the holder's lease go. */
export const RELEASE_SCRIPT: string = `
if redis.call('HGET', KEYS[2], 'h') == ARGV[1] then
  redis.call('HDEL', KEYS[2], 'h', 'l', 'a')
end
return 1
`;

/** KEYS: stream, meta. Asks a live lease's holder to stop; 1 if there is one. */
export const ABORT_SCRIPT: string = COMMON + `
local meta = KEYS[2]
if redis.call('HEXISTS', meta, 'e') == 1 then return 0 end
local lease = redis.call('HGET', meta, 'l')
if not lease or tonumber(lease) <= now() then return 0 end
redis.call('HSET', meta, 'a', '1')
return 1
`;

/** KEYS: the registry of leased topics. Returns up to 100 whose lease is due. */
export const DUE_SCRIPT: string = "#!lua flags=no-writes\n" + COMMON + `
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now(), 'LIMIT', 0, 100)
`;
