-- purge_finished: forget completed and cancelled tickets older than the retention. Their ids
-- may then be submitted again as new tickets; the event stream keeps their history.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] retention, ms
-- ARGV[4] the most tickets to forget in this call
-- Reply: {"ok": number forgotten}.
local cutoff = NOW - tonumber(ARGV[3])
local old = redis.call('ZRANGEBYSCORE', K_FINISHED, '-inf', int(cutoff), 'LIMIT', 0,
                       tonumber(ARGV[4]))
if #old > 0 then
  redis.call('HDEL', K_TICKETS, unpack(old))
  redis.call('ZREM', K_FINISHED, unpack(old))
end
return ok(#old)
