-- complete: the assigned agent finished the ticket; its capacity is freed. Completing a ticket
-- one already completed returns it again (safe retry, no second event).
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] ticket id
-- ARGV[4] agent id
-- ARGV[5] the agent's resolution, e.g. "refunded" ("" or none: none); `resolution` in the
--         event's data
-- Derived keys: the agent's index keys.
-- Reply: {"ok": ticket record}; errors not_found, not_offer_holder (assigned to someone
-- else), failed_precondition (not assigned: waiting, offered or cancelled).
local ticket_id, agent_id, resolution = ARGV[3], ARGV[4], optional_text(ARGV[5])
local t = load_ticket(ticket_id)
if not t then return fail('not_found', 'ticket ' .. ticket_id .. ' does not exist', 'ticket_id') end
local a = load_agent(agent_id)
if not a then return fail('not_found', 'agent ' .. agent_id .. ' does not exist', 'agent_id') end
if t.status == 'completed' and t.agent == agent_id then return ok(t) end
if t.status ~= 'assigned' then
  local hint = ''
  if t.status == 'offered' and t.agent == agent_id then hint = '; accept the offer first' end
  return fail('failed_precondition', 'ticket ' .. ticket_id .. ' is ' .. t.status ..
              ', only an assigned ticket can be completed' .. hint, 'ticket_id')
end
if t.agent ~= agent_id then
  return fail('not_offer_holder', 'ticket ' .. ticket_id .. ' is assigned to another agent',
              'agent_id')
end

release(a, t)
t.status = 'completed'
t.finished_ms = NOW
redis.call('ZADD', K_FINISHED, int(NOW), ticket_id)
stop_sla_checks(t)
save_ticket(t)
save_agent(a)
index_agent(a)
emit('completed', ticket_id, t.queue, agent_id, {channel = t.channel,
                                                 handle_ms = NOW - (t.assigned_ms or NOW),
                                                 resolution = resolution})
return ok(t)
