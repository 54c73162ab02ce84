-- set_queue_policy: create a queue or change its policy and timeouts.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] queue
-- ARGV[4] policy: least_loaded | round_robin | longest_idle
-- ARGV[5] offer timeout, ms
-- ARGV[6] cool-off after a reject or an expired offer, ms
-- Derived keys: members(queue) and, when the policy changes, the index keys of every member
-- agent (rescored: O(agents in the queue), an administrative operation).
-- Reply: {"ok": {"name": queue, "config": config, "created": bool}}.
local queue = ARGV[3]
local previous = queue_config(queue)
local config = {policy = ARGV[4], offer_timeout_ms = tonumber(ARGV[5]),
                cooloff_ms = tonumber(ARGV[6])}
redis.call('HSET', K_QUEUES, queue, cjson.encode(config))

if previous and previous.policy ~= config.policy then
  local members = redis.call('ZRANGE', key_members(queue), 0, -1)
  for _, agent_id in ipairs(members) do
    local a = load_agent(agent_id)
    if a then index_agent(a) end
  end
end
emit('queue_updated', nil, queue, nil, config)
return ok({name = queue, config = config, created = previous == nil})
