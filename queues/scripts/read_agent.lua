-- read_agent (read-only): an agent's record and its pending offers, read at one instant.
-- KEYS[1..6] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] agent id
-- Reply: {"ok": {"agent": record, "offers": [offer], "now_ms": server time}} or {"ok": false}.
local a = load_agent(ARGV[3])
if not a then return ok(false) end
local offers = {}
for ticket_id, _ in pairs(a.offers) do
  local t = load_ticket(ticket_id)
  if t and t.status == 'offered' and t.agent == a.id then offers[#offers + 1] = offer_view(t) end
end
table.sort(offers, function(x, y) return x.offered_ms < y.offered_ms end)
return ok({agent = a, offers = offers, now_ms = NOW})
