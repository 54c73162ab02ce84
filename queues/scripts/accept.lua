-- accept: the agent holding a live offer takes the ticket (offer -> assignment). Accepting an
-- assignment one already holds returns it again, so a client may retry safely.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] ticket id
-- ARGV[4] agent id
-- Capacity stays reserved (the holding is kept), so the agent record is not rewritten.
-- Derived keys: only when the offer has expired: waiting/arrivals of the ticket's queue and
-- the agent's index keys (the expired offer is handed back before offer_expired is returned).
-- Reply: {"ok": ticket record}; errors not_found, offer_expired, not_offer_holder,
-- agent_unavailable, failed_precondition.
local ticket_id, agent_id = ARGV[3], ARGV[4]
local t = load_ticket(ticket_id)
if not t then return fail('not_found', 'ticket ' .. ticket_id .. ' does not exist', 'ticket_id') end
local a = load_agent(agent_id)
if not a then return fail('not_found', 'agent ' .. agent_id .. ' does not exist', 'agent_id') end
if t.status == 'assigned' and t.agent == agent_id then return ok(t) end

local refused = check_offer_holder(t, a, 'it was accepted')
if refused then return refused end

redis.call('ZREM', K_OFFERS, ticket_id)
t.status = 'assigned'
t.assigned_ms = NOW
t.offer_expires_ms = nil
save_ticket(t)
emit('accepted', ticket_id, t.queue, agent_id, {channel = t.channel,
                                                wait_ms = NOW - t.enqueued_ms})
return ok(t)
