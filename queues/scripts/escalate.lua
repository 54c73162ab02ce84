-- escalate: fire one escalation level of a ticket, exactly once across every router process:
-- the level is claimed in the ticket record and its actions applied in the same script.
-- Priority is only ever raised; a waiting ticket moves to its new place at once. Moving to
-- another queue works like transfer (an offered or assigned ticket is taken from its agent
-- and waits in the new queue). Deadlines are replaced when the priority or queue changes.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] ticket id
-- ARGV[4] level name (the claim: a level fires once per ticket)
-- ARGV[5] priority steps to raise by (0: none)
-- ARGV[6] priority to raise to at least (1 = most urgent), or "" for none
-- ARGV[7] queue to move to, or "" to stay
-- ARGV[8] optional skills no longer required, JSON array
-- ARGV[9] deadlines per priority for the queue it ends in, JSON {"<priority>": [first
--         response ms, resolution ms]}; a priority missing keeps the current deadlines
-- ARGV[10] "1" to append an `escalated` event, "0" for only the state-change events
-- ARGV[11] extra data of the escalated event, JSON object (e.g. sla_risk, time_left_s)
-- Derived keys: waiting/arrivals/at_risk of both queues, the previous agent's index keys.
-- Reply: {"ok": {"won": bool, "ticket": record}}: won is false when the level had fired
-- already (nothing changes); errors not_found (ticket, queue), failed_precondition
-- (completed, cancelled or answered).
local ticket_id, level, steps = ARGV[3], ARGV[4], tonumber(ARGV[5])
local raise_to, target = tonumber(ARGV[6]), ARGV[7]
local t = load_ticket(ticket_id)
if not t then return fail('not_found', 'ticket ' .. ticket_id .. ' does not exist', 'ticket_id') end
t.escalated = t.escalated or {}
if t.escalated[level] then return ok({won = false, ticket = t}) end
if t.status == 'completed' or t.status == 'cancelled' then
  return fail('failed_precondition', 'ticket ' .. ticket_id .. ' is ' .. t.status ..
              ' and cannot be escalated', 'ticket_id')
end
-- an answered ticket has left the SLA checks (claim_sla_checks): a sweep that decided on it
-- before the answer must not take it from the agent who answered
if t.first_response_ms then
  return fail('failed_precondition', 'ticket ' .. ticket_id .. ' has been answered and is no ' ..
              'longer escalated', 'ticket_id')
end
if target ~= '' and not queue_config(target) then
  return fail('not_found', 'escalation queue ' .. target .. ' does not exist; create it',
              'queue')
end

t.escalated[level] = NOW
local priority_from, from_queue = t.priority, t.queue
local priority = math.max(1, t.priority - steps)
if raise_to then priority = math.min(priority, raise_to) end
priority = math.min(priority, t.priority)
local moving = target ~= '' and target ~= t.queue
local waiting = t.status == 'waiting'
local previous_agent = nil
if waiting or moving then previous_agent = take_back(t) end
if moving then t.queue = target end
if priority ~= priority_from or moving then
  t.priority = priority
  local due = cjson.decode(ARGV[9])[tostring(priority)]
  if due then t.deadline_ms, t.resolve_deadline_ms = due[1], due[2] end
end
local relaxed = {}
for _, skill in ipairs(cjson.decode(ARGV[8])) do
  if t.skills[skill] then
    t.skills[skill] = nil
    relaxed[#relaxed + 1] = skill
  end
end
if waiting or moving then add_waiting(t, waiting and not moving and t.front) end
if t.at_risk then set_at_risk(t, true) end  -- counted in the queue it ends in
save_ticket(t)

local moved = {from_queue = from_queue, channel = t.channel, reason = 'escalation',
               level = level}
if previous_agent then emit('transferred', ticket_id, t.queue, previous_agent, moved) end
if ARGV[10] == '1' then
  local data = cjson.decode(ARGV[11])
  data.level, data.channel = level, t.channel
  data.priority_from, data.priority_to, data.priority = priority_from, t.priority, t.priority
  data.from_queue, data.deadline_ms = from_queue, t.deadline_ms
  if #relaxed > 0 then data.relaxed_skills = relaxed end  -- cjson would write {} for none
  emit('escalated', ticket_id, t.queue, t.agent, data)
else
  if t.priority ~= priority_from then
    emit('reprioritized', ticket_id, t.queue, t.agent, {priority = t.priority,
         previous = priority_from, deadline_ms = t.deadline_ms})
  end
  if moving and not previous_agent then emit('transferred', ticket_id, t.queue, nil, moved) end
end
return ok({won = true, ticket = t})
