-- read_agent (read-only): an agent's record and its pending offers, read at one instant.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] agent id
-- Reply: {"ok": {"agent": record with offer and assignment ids, "offers": [offer],
-- "now_ms": server time}} or {"ok": false}.
local a = load_agent(ARGV[3])
if not a then return ok(false) end
agent_reply(a)
local offers = {}
for i, ticket_id in ipairs(a.offers) do offers[i] = offer_view(load_ticket(ticket_id)) end
table.sort(offers, function(x, y) return x.offered_ms < y.offered_ms end)
return ok({agent = a, offers = offers, now_ms = NOW})
