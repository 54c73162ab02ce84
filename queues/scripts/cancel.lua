-- cancel: withdraw a ticket for good, whatever its state (its agent's capacity is freed).
-- Cancelling a cancelled ticket returns it again (safe retry, no second event).
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] ticket id
-- ARGV[4] the caller's note, why ("" or none: none); `note` in the event's data
-- Derived keys: waiting/arrivals of its queue, the agent's index keys.
-- Reply: {"ok": ticket record}; errors not_found, failed_precondition (completed).
local ticket_id, note = ARGV[3], optional_text(ARGV[4])
local t = load_ticket(ticket_id)
if not t then return fail('not_found', 'ticket ' .. ticket_id .. ' does not exist', 'ticket_id') end
if t.status == 'cancelled' then return ok(t) end
if t.status == 'completed' then
  return fail('failed_precondition', 'ticket ' .. ticket_id .. ' is completed', 'ticket_id')
end

local previous_agent = take_back(t)
t.status = 'cancelled'
t.offer_expires_ms = nil
t.finished_ms = NOW
redis.call('ZADD', K_FINISHED, int(NOW), ticket_id)
stop_sla_checks(t)
save_ticket(t)
emit('cancelled', ticket_id, t.queue, previous_agent, {channel = t.channel, note = note})
return ok(t)
