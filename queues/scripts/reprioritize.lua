-- reprioritize: change a ticket's priority and, optionally, its SLA deadline (escalation).
-- A waiting ticket moves to its new place in the queue at once.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] ticket id
-- ARGV[4] priority (1 = most urgent)
-- ARGV[5] SLA deadline, ms since the epoch, or "" to keep the current one
-- Derived keys: waiting/arrivals of its queue.
-- Reply: {"ok": ticket record}; errors not_found, failed_precondition (completed, cancelled).
local ticket_id = ARGV[3]
local t = load_ticket(ticket_id)
if not t then return fail('not_found', 'ticket ' .. ticket_id .. ' does not exist', 'ticket_id') end
if t.status == 'completed' or t.status == 'cancelled' then
  return fail('failed_precondition', 'ticket ' .. ticket_id .. ' is ' .. t.status, 'ticket_id')
end

local previous = t.priority
local waiting = t.status == 'waiting'
if waiting then remove_waiting(t) end
t.priority = tonumber(ARGV[4])
if ARGV[5] ~= '' then t.deadline_ms = tonumber(ARGV[5]) end
if waiting then add_waiting(t, t.front) end
save_ticket(t)
emit('reprioritized', ticket_id, t.queue, t.agent, {priority = t.priority, previous = previous,
                                                    deadline_ms = t.deadline_ms})
return ok(t)
