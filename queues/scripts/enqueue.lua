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
local ticket_id, queue = ARGV[3], ARGV[4]

local existing = load_ticket(ticket_id)
if existing then
  return ok({ticket = existing, created = false})
end
if not queue_config(queue) then
  return fail('not_found', 'queue ' .. queue .. ' does not exist; create it with set_queue_policy',
              'queue')
end

local t = {id = ticket_id, queue = queue, priority = tonumber(ARGV[5]), channel = ARGV[6],
           skills = cjson.decode(ARGV[7]), enqueued_ms = NOW, skip = {}}
if ARGV[8] ~= '' then t.deadline_ms = tonumber(ARGV[8]) end
if ARGV[9] ~= '' then t.data = ARGV[9] end
add_waiting(t, false)
save_ticket(t)
redis.call('ZADD', K_SLA_CHECKS, int(NOW), t.id)  -- first SLA check: at once
emit('enqueued', t.id, queue, nil, {priority = t.priority, channel = t.channel,
                                     skills = t.skills, deadline_ms = t.deadline_ms})
return ok({ticket = t, created = true})
