-- assign_for_agent: offer an agent who has free capacity the best ticket it can take across
-- its queues (priority, hand-backs first, deadline, arrival: the waiting order).
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] agent id
-- ARGV[4] head window: how many waiting tickets per queue, from the head, may be tried
-- Derived keys: waiting/arrivals of the agent's queues, members/free/skilled of its queues.
-- Cost: O(queues x window x log N).
-- Reply: {"ok": offer} or {"ok": false} when the agent is not available, is full or nothing
-- fits; error not_found (unknown agent).
local agent_id, window = ARGV[3], tonumber(ARGV[4])
local a = load_agent(agent_id)
if not a then
  return fail('not_found', 'agent ' .. agent_id .. ' does not exist', 'agent_id')
end
if a.status ~= 'available' then return ok(false) end

local best, best_member = nil, nil
for _, queue in ipairs(a.queues) do
  local heads = redis.call('ZRANGE', key_waiting(queue), 0, window - 1)
  for _, member in ipairs(heads) do
    -- Members sort in waiting order across queues too, so the rest of this queue is worse.
    if best_member and member >= best_member then break end
    local t = load_ticket(ticket_id_of(member))
    if has_room(a, t.channel) and not agent_missing_skill(a, t)
        and not is_cooling_off(t, agent_id) then
      best, best_member = t, member
      break
    end
  end
end
if not best then return ok(false) end
return ok(make_offer(best, a, queue_config(best.queue)))
