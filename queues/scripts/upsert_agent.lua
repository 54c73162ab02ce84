-- upsert_agent: create an agent or replace its queues, skills, capacity and status. Its load
-- and assignments are kept; going away/offline hands its offers back at once, and so does a
-- profile that no longer fits an offer (queue left, skill lost, capacity below the load).
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] agent id
-- ARGV[4] queues, JSON array
-- ARGV[5] skills, JSON object skill -> level
-- ARGV[6] capacity, JSON object channel -> number of tickets at once
-- ARGV[7] status: available | away | offline, or "" to keep it (a new agent: available)
-- Derived keys: members/free/skilled of the old and new queues, waiting/arrivals of the queues
-- of handed-back offers.
-- Reply: {"ok": {"agent": record, "handed_back": [offer], "created": bool}};
-- error not_found (unknown queue).
local agent_id = ARGV[3]
local queues = cjson.decode(ARGV[4])
for _, queue in ipairs(queues) do
  if not queue_config(queue) then
    return fail('not_found', 'queue ' .. queue .. ' does not exist; create it with ' ..
                'set_queue_policy first', 'queues')
  end
end

local a = load_agent(agent_id)
local created = a == nil
if a then
  unindex_agent(a)
else
  a = {id = agent_id, load = {}, idle_since_ms = NOW}
end
local previous_status = a.status
a.queues = queues
a.skills = cjson.decode(ARGV[5])
a.capacity = cjson.decode(ARGV[6])
a.status = ARGV[7] ~= '' and ARGV[7] or previous_status or 'available'
if a.status ~= previous_status then
  a.status_since_ms = NOW
  if a.status == 'available' and total_load(a) == 0 then a.idle_since_ms = NOW end
end

local handed_back = {}
if a.status ~= 'available' then
  handed_back = hand_back_offers(a, 'agent ' .. a.status)
else
  handed_back = hand_back_misfits(a)
end
save_agent(a)
index_agent(a)
emit('agent_updated', nil, nil, agent_id, {queues = a.queues, skills = a.skills,
                                           capacity = a.capacity, status = a.status})
return ok({agent = agent_reply(a), handed_back = handed_back, created = created})
