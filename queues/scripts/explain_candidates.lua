-- explain_candidates (read-only): for a ticket (or a hypothetical one), every member agent of
-- the queue with whether it is eligible and, if not, the first reason why; eligible agents
-- come first, best first, as assign would rank them. O(agents examined): a diagnostic, bounded.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] ticket id, or "" to describe a hypothetical ticket with ARGV[4..6]
-- ARGV[4] queue
-- ARGV[5] channel
-- ARGV[6] required skills, JSON object
-- ARGV[7] the most agents to examine
-- Derived keys: members(queue).
-- Reply: {"ok": {"queue": q, "candidates": [...]}}; error not_found (ticket, queue).
local t
if ARGV[3] ~= '' then
  t = load_ticket(ARGV[3])
  if not t then return fail('not_found', 'ticket ' .. ARGV[3] .. ' does not exist', 'ticket_id') end
else
  t = {queue = ARGV[4], channel = ARGV[5], skills = cjson.decode(ARGV[6]), skip = {}}
end
local config = queue_config(t.queue)
if not config then return fail('not_found', 'queue ' .. t.queue .. ' does not exist', 'queue') end

local candidates = {}
local members = redis.call('ZRANGE', key_members(t.queue), 0, tonumber(ARGV[7]) - 1)
for _, agent_id in ipairs(members) do
  local a = load_agent(agent_id)
  if a then
    local entry = {agent_id = agent_id, eligible = false, load = a.load,
                   capacity = a.capacity, score = agent_score(a, config.policy)}
    local skill = agent_missing_skill(a, t)
    if a.status ~= 'available' then
      entry.reason = a.status
    elseif skill then
      entry.reason = 'missing skill ' .. skill .. ' at level ' .. t.skills[skill] ..
                     ' (has ' .. (a.skills[skill] or 0) .. ')'
    elseif (a.capacity[t.channel] or 0) == 0 then
      entry.reason = 'no ' .. t.channel .. ' capacity'
    elseif not has_room(a, t.channel) then
      entry.reason = 'capacity full on ' .. t.channel .. ' (' .. (a.load[t.channel] or 0) ..
                     '/' .. a.capacity[t.channel] .. ')'
    elseif is_cooling_off(t, agent_id) then
      entry.reason = 'cooling off from this ticket until ' .. int(t.skip[agent_id]) .. ' ms'
    else
      entry.eligible = true
    end
    candidates[#candidates + 1] = entry
  end
end
table.sort(candidates, function(x, y)
  if x.eligible ~= y.eligible then return x.eligible end
  if x.score ~= y.score then return x.score < y.score end
  return x.agent_id < y.agent_id
end)
return ok({queue = t.queue, policy = config.policy, candidates = candidates})
