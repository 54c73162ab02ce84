-- assign: offer one of the first waiting tickets of a queue to the best eligible agent.
-- Eligible: available, every required skill at the needed level, free capacity on the
-- ticket's channel, not cooling off from this ticket. Best: lowest score of the queue's policy.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] queue
-- ARGV[4] head window: how many waiting tickets, from the head, may be tried (a ticket nobody
--         can take does not block the ones behind it)
-- ARGV[5] candidate bound: how many agents of the most selective index are examined per ticket
-- Derived keys: waiting(queue), arrivals(queue), free/skilled(queue, channel, ...), and the
-- members/free/skilled keys of the chosen agent's queues (its load changed).
-- Cost: O(window x bound x log N) index reads in the worst case, O(log N) when the first
-- candidate fits; N = agents or waiting tickets. No scan.
-- Reply: {"ok": offer} or {"ok": false} when nothing can be offered; error not_found (queue).
local queue = ARGV[3]
local window, bound = tonumber(ARGV[4]), tonumber(ARGV[5])
local config = queue_config(queue)
if not config then
  return fail('not_found', 'queue ' .. queue .. ' does not exist', 'queue')
end

-- The smallest index that contains every eligible agent, plus the other skill indexes that a
-- candidate must also be in.
local function candidate_indexes(t)
  local indexes = {}
  for skill, level in pairs(t.skills) do
    local key = key_skilled(queue, t.channel, skill, level)
    indexes[#indexes + 1] = {key = key, size = redis.call('ZCARD', key)}
  end
  if #indexes == 0 then return key_free(queue, t.channel), {} end
  table.sort(indexes, function(x, y) return x.size < y.size end)
  local others = {}
  for i = 2, #indexes do others[#others + 1] = indexes[i].key end
  return indexes[1].key, others
end

local function best_agent(t)
  local index, others = candidate_indexes(t)
  local start = 0
  while start < bound do
    local batch = redis.call('ZRANGE', index, start, math.min(start + 15, bound - 1))
    if #batch == 0 then return nil end
    for _, agent_id in ipairs(batch) do
      local fits = not is_cooling_off(t, agent_id)
      for _, key in ipairs(others) do
        if fits and not redis.call('ZSCORE', key, agent_id) then fits = false end
      end
      if fits then
        local a = load_agent(agent_id)
        -- The index and the record change in the same scripts; checking again is cheap.
        if a and a.status == 'available' and has_room(a, t.channel) then return a end
      end
    end
    start = start + #batch
  end
  return nil
end

local heads = redis.call('ZRANGE', key_waiting(queue), 0, window - 1)
for _, member in ipairs(heads) do
  local t = load_ticket(ticket_id_of(member))
  local a = best_agent(t)
  if a then return ok(make_offer(t, a, config)) end
end
return ok(false)
