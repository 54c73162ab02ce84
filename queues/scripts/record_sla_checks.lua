-- record_sla_checks: store what a sweep found for the tickets it claimed: the live SLA risk
-- (and the model's, when re-scored), the at-risk flag (membership of the queue's at-risk set)
-- and when to check next. Tickets answered or finished meanwhile are left alone.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] JSON array of {"id", "at_risk": bool, "next_ms", optional "risk", "model_risk",
--   "basis" (a string kept as the ticket's sla_basis, for re-scoring it without its text)}
-- Derived keys: at_risk of the tickets' queues.
-- Reply: {"ok": number of tickets updated}.
local updated = 0
for _, check in ipairs(cjson.decode(ARGV[3])) do
  local t = load_ticket(check.id)
  if t and t.status ~= 'completed' and t.status ~= 'cancelled' and not t.first_response_ms then
    t.sla_risk = check.risk
    if check.model_risk then t.sla_model_risk = check.model_risk end
    if check.basis then t.sla_basis = check.basis end
    t.sla_checked_ms = NOW
    set_at_risk(t, check.at_risk)
    save_ticket(t)
    redis.call('ZADD', K_SLA_CHECKS, 'XX', int(check.next_ms), t.id)
    updated = updated + 1
  end
end
return ok(updated)
