-- set_agent_status: make an agent available, away or offline; away/offline hands its pending
-- offers back to the front of their queues at once (assignments stay with the agent).
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] agent id
-- ARGV[4] status: available | away | offline
-- Derived keys: members/free/skilled of the agent's queues, waiting/arrivals of the queues of
-- handed-back offers.
-- Reply: {"ok": {"agent": record, "handed_back": [offer]}}; error not_found (unknown agent).
local agent_id, status = ARGV[3], ARGV[4]
local a = load_agent(agent_id)
if not a then
  return fail('not_found', 'agent ' .. agent_id .. ' does not exist; create it with upsert_agent',
              'agent_id')
end
if a.status == status then
  return ok({agent = agent_reply(a), handed_back = {}})
end

local previous = a.status
a.status = status
a.status_since_ms = NOW
if status == 'available' and total_load(a) == 0 then a.idle_since_ms = NOW end
local handed_back = {}
if status ~= 'available' then handed_back = hand_back_offers(a, 'agent ' .. status) end
save_agent(a)
index_agent(a)
emit('agent_status', nil, nil, agent_id, {status = status, previous = previous})
return ok({agent = agent_reply(a), handed_back = handed_back})
