-- expire_due: hand back every offer whose timeout has passed (up to a limit), each to the
-- front of its queue, its agent cooling off from that ticket. Any number of router processes
-- may run it at once: each offer is expired by exactly one call.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] the most offers to expire in this call
-- Derived keys: waiting/arrivals of the tickets' queues, the agents' index keys.
-- Reply: {"ok": [offer]} (the offers that expired).
local limit = tonumber(ARGV[3])
local due = redis.call('ZRANGEBYSCORE', K_OFFERS, '-inf', int(NOW), 'LIMIT', 0, limit)
local expired = {}
for _, ticket_id in ipairs(due) do
  local t = load_ticket(ticket_id)
  local a = t and t.agent and load_agent(t.agent)
  if t and a and t.status == 'offered' then
    expired[#expired + 1] = hand_back(t, a, 'offer_expired', cooloff_ms(t.queue), 'expired')
  else
    redis.call('ZREM', K_OFFERS, ticket_id)  -- defensive: never leave a stale due entry
  end
end
return ok(expired)
