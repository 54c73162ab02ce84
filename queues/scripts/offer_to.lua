-- offer_to: offer a waiting ticket to one named agent (a supervisor's choice), with the same
-- eligibility checks as assign except the cool-off.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] ticket id
-- ARGV[4] agent id
-- Derived keys: waiting/arrivals of the ticket's queue, members/free/skilled of the agent's.
-- Reply: {"ok": offer}; errors not_found (ticket, agent), failed_precondition (ticket not
-- waiting, missing skill), agent_unavailable, capacity_full.
local ticket_id, agent_id = ARGV[3], ARGV[4]
local t = load_ticket(ticket_id)
if not t then return fail('not_found', 'ticket ' .. ticket_id .. ' does not exist', 'ticket_id') end
local a = load_agent(agent_id)
if not a then return fail('not_found', 'agent ' .. agent_id .. ' does not exist', 'agent_id') end
if t.status ~= 'waiting' then
  return fail('failed_precondition', 'ticket ' .. ticket_id .. ' is ' .. t.status ..
              ', only a waiting ticket can be offered', 'ticket_id')
end
if a.status ~= 'available' then
  return fail('agent_unavailable', 'agent ' .. agent_id .. ' is ' .. a.status, 'agent_id')
end
local skill = agent_missing_skill(a, t)
if skill then
  return fail('failed_precondition', 'agent ' .. agent_id .. ' lacks skill ' .. skill ..
              ' at level ' .. t.skills[skill], 'agent_id')
end
if not has_room(a, t.channel) then
  return fail('capacity_full', 'agent ' .. agent_id .. ' has no free ' .. t.channel ..
              ' capacity (' .. (a.load[t.channel] or 0) .. '/' .. (a.capacity[t.channel] or 0) ..
              ')', 'agent_id')
end
return ok(make_offer(t, a, queue_config(t.queue)))
