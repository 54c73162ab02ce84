-- reindex_agents: move one batch of the tenant's agents to the current index layout. Layout 2
-- keeps an agent in the index of each skill at its own level; layout 1 kept it in the indexes
-- of every level up to its own, so the entries below its level are removed (layout 1's entries
-- are a superset of layout 2's: assignments find every agent during the move). The caller
-- walks the agents batch by batch (HSCAN cursor), so no single call blocks Redis for long;
-- the last batch sets the layout marker, after which calls do nothing.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] the current layout version
-- ARGV[4] HSCAN cursor over the agents ("0" to start)
-- ARGV[5] agents per batch (a hint, as for HSCAN)
-- Derived keys: index_layout; members/free/skilled of the batch's agents' queues.
-- Cost: O(batch x queues x channels x skill levels).
-- Reply: {"ok": {"cursor": next cursor ("0": done), "agents": agents re-indexed}}.
local layout = ARGV[3]
if redis.call('GET', key_index_layout()) == layout then return ok({cursor = '0', agents = 0}) end
local scan = redis.call('HSCAN', K_AGENTS, ARGV[4], 'COUNT', tonumber(ARGV[5]))
local agents = 0
for i = 1, #scan[2], 2 do
  local a = load_agent(scan[2][i])
  for _, queue in ipairs(a.queues) do
    for channel, _ in pairs(a.capacity) do
      for skill, level in pairs(a.skills) do
        for below = 1, level - 1 do
          redis.call('ZREM', key_skilled(queue, channel, skill, below), a.id)
        end
      end
    end
  end
  index_agent(a)
  agents = agents + 1
end
if scan[1] == '0' then redis.call('SET', key_index_layout(), layout) end
return ok({cursor = scan[1], agents = agents})
