-- enqueue: put a new ticket in a queue; an existing ticket id is returned unchanged.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] ticket id
-- ARGV[4] queue
-- ARGV[5] priority (1 = most urgent)
-- ARGV[6] channel
-- ARGV[7] required skills, JSON object skill -> minimum level
-- ARGV[8] SLA deadline, ms since the epoch, or "" for none
-- ARGV[9] caller's data, a JSON text kept opaque, or "" for none
-- Derived keys: waiting(queue), arrivals(queue)
-- Reply: {"ok": {"ticket": record, "created": bool}}; error not_found (unknown queue).
local t, created = enqueue_ticket(ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
if not t then return created end
return ok({ticket = t, created = created})
