-- queue_stats (read-only): depth, oldest wait and agent counts of a queue, in O(log N).
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] queue
-- Derived keys: waiting(queue), arrivals(queue), members(queue), at_risk(queue).
-- Reply: {"ok": {...counts, "oldest_enqueued_ms", "now_ms", "config"}}; error not_found.
local queue = ARGV[3]
local config = queue_config(queue)
if not config then return fail('not_found', 'queue ' .. queue .. ' does not exist', 'queue') end
local oldest = redis.call('ZRANGE', key_arrivals(queue), 0, 0, 'WITHSCORES')
local members = key_members(queue)
return ok({
  config = config,
  depth = redis.call('ZCARD', key_waiting(queue)),
  oldest_enqueued_ms = oldest[2] and tonumber(oldest[2]) or false,
  agents_available = redis.call('ZCOUNT', members, STATE_FREE, STATE_FREE),
  agents_busy = redis.call('ZCOUNT', members, STATE_FULL, STATE_FULL),
  agents_away = redis.call('ZCOUNT', members, STATE_AWAY, STATE_AWAY),
  agents_offline = redis.call('ZCOUNT', members, STATE_OFFLINE, STATE_OFFLINE),
  at_risk = redis.call('SCARD', key_at_risk(queue)),
  now_ms = NOW,
})
