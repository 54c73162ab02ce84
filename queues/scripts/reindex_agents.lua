-- reindex_agents: bring the tenant's agent indexes to the current layout, once. Layout 2 keeps
-- one index per skill (any level) where layout 1 kept one per skill level: the per-level
-- indexes are deleted and every agent is indexed anew from its record. Safe while other
-- processes route (each entry is rebuilt from the record it mirrors); later calls do nothing.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] the current layout version
-- Derived keys: index_layout; members/free/skilled/skilled_at_level of every agent's queues.
-- Cost: O(agents x queues x channels x skill levels), once per tenant and layout.
-- Reply: {"ok": agents re-indexed (0 when the tenant is already in this layout)}.
local layout = ARGV[3]
if redis.call('GET', key_index_layout()) == layout then return ok(0) end
local agent_ids = redis.call('HKEYS', K_AGENTS)
for _, agent_id in ipairs(agent_ids) do
  local a = load_agent(agent_id)
  for _, queue in ipairs(a.queues) do
    for channel, _ in pairs(a.capacity or {}) do
      for skill, level in pairs(a.skills or {}) do
        for l = 1, level do redis.call('DEL', key_skilled_at_level(queue, channel, skill, l)) end
      end
    end
  end
  index_agent(a)
end
redis.call('SET', key_index_layout(), layout)
return ok(#agent_ids)
