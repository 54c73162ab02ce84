-- record_first_response: the assigned agent replied to the customer for the first time.
-- Recording it again returns the first time (safe retry); only the first call emits an event.
-- A ticket resolved before its first response was recorded (the helpdesk reported them out of
-- order) gets its resolution time: it cannot have been answered later than it was resolved.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] ticket id
-- ARGV[4] agent id
-- Reply: {"ok": {"at_ms": first response time, "new": true|false}}; errors not_found,
-- not_offer_holder (another agent's ticket), failed_precondition (not assigned to anyone yet).
local ticket_id, agent_id = ARGV[3], ARGV[4]
local t = load_ticket(ticket_id)
if not t then return fail('not_found', 'ticket ' .. ticket_id .. ' does not exist', 'ticket_id') end
if t.first_response_ms then return ok({at_ms = t.first_response_ms, new = false}) end
if t.status ~= 'assigned' and t.status ~= 'completed' then
  return fail('failed_precondition', 'ticket ' .. ticket_id .. ' is ' .. t.status ..
              '; accept it before recording a response', 'ticket_id')
end
if t.agent ~= agent_id then
  return fail('not_offer_holder', 'ticket ' .. ticket_id .. ' is assigned to another agent',
              'agent_id')
end
local at = NOW
if t.status == 'completed' and t.finished_ms then at = math.min(NOW, t.finished_ms) end
t.first_response_ms = at
stop_sla_checks(t)
save_ticket(t)
emit('first_response', ticket_id, t.queue, agent_id, {channel = t.channel, at_ms = at,
                                                      wait_ms = at - (t.enqueued_ms or at)})
return ok({at_ms = at, new = true})
