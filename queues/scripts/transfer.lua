-- transfer: move a ticket to another queue. A waiting ticket keeps its arrival time; an offered
-- or assigned one is taken from its agent (capacity freed) and waits in the new queue. A
-- waiting ticket moved to its own queue is returned as it is (safe retry, no event).
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] ticket id
-- ARGV[4] target queue
-- ARGV[5] the caller's note, why ("" or none: none); `note` in the event's data
-- ARGV[6] the agent that must hold the ticket (offered or assigned), or "" for anyone
-- Derived keys: waiting/arrivals of both queues, the previous agent's index keys.
-- Reply: {"ok": ticket record}; errors not_found (ticket, queue), failed_precondition
-- (completed or cancelled), not_offer_holder (not held by the agent named in ARGV[6]).
local ticket_id, target, note = ARGV[3], ARGV[4], optional_text(ARGV[5])
local holder = ARGV[6] or ''

local t = load_ticket(ticket_id)
if not t then return fail('not_found', 'ticket ' .. ticket_id .. ' does not exist', 'ticket_id') end
if not queue_config(target) then
  return fail('not_found', 'queue ' .. target .. ' does not exist', 'queue')
end
if t.status == 'completed' or t.status == 'cancelled' then
  return fail('failed_precondition', 'ticket ' .. ticket_id .. ' is ' .. t.status ..
              ' and cannot be transferred', 'ticket_id')
end
if holder ~= '' and (t.agent ~= holder or (t.status ~= 'offered' and t.status ~= 'assigned')) then
  return fail('not_offer_holder', 'agent ' .. holder .. ' may transfer only tickets offered or ' ..
              'assigned to it; ticket ' .. ticket_id .. ' is not', 'agent_id')
end
if t.status == 'waiting' and t.queue == target then return ok(t) end

local source = t.queue
local previous_agent = take_back(t)
t.queue = target
if t.at_risk then set_at_risk(t, true) end  -- counted in its new queue
add_waiting(t, false)
save_ticket(t)
emit('transferred', ticket_id, target, previous_agent, {from_queue = source,
                                                        channel = t.channel, note = note})
return ok(t)
