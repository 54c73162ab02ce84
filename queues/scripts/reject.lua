-- reject: the agent holding a live offer declines it; the ticket goes back to the front of its
-- queue and this agent is not offered it again during the queue's cool-off.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] ticket id
-- ARGV[4] agent id
-- ARGV[5] the agent's note, why it declined ("" or none: none); `note` in the event's data
-- Derived keys: waiting/arrivals of the ticket's queue, the agent's index keys.
-- Reply: {"ok": ticket record}; errors not_found, offer_expired (the offer had already
-- expired: it is handed back all the same), not_offer_holder, agent_unavailable,
-- failed_precondition.
local ticket_id, agent_id, note = ARGV[3], ARGV[4], optional_text(ARGV[5])
local t = load_ticket(ticket_id)
if not t then return fail('not_found', 'ticket ' .. ticket_id .. ' does not exist', 'ticket_id') end
local a = load_agent(agent_id)
if not a then return fail('not_found', 'agent ' .. agent_id .. ' does not exist', 'agent_id') end

local refused = check_offer_holder(t, a, 'it was rejected')
if refused then return refused end
hand_back(t, a, 'rejected', cooloff_ms(t.queue), 'rejected', note)
return ok(t)
