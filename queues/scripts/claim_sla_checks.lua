-- claim_sla_checks: take up to a limit of unanswered tickets whose SLA check is due, moving
-- each one's next check an interval ahead, so that router processes sweeping at once share
-- the work (a due ticket goes to exactly one caller). A ticket is re-scored by the risk model
-- at most once per interval: the claim reserves the scoring (`rescore`) by stamping the
-- time; a check between two scorings reuses the last model risk.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] the most tickets to claim
-- ARGV[4] interval, ms: next check at the latest, and the least time between two scorings
-- Reply: {"ok": {"now_ms": server time, "claimed": [{"ticket": record, "rescore": bool}]}}.
-- Tickets answered, finished or gone meanwhile leave the checks instead.
local limit, interval = tonumber(ARGV[3]), tonumber(ARGV[4])
local due = redis.call('ZRANGEBYSCORE', K_SLA_CHECKS, '-inf', int(NOW), 'LIMIT', 0, limit)
local claimed = {}
for _, ticket_id in ipairs(due) do
  local t = load_ticket(ticket_id)
  if not t then
    redis.call('ZREM', K_SLA_CHECKS, ticket_id)
  elseif t.status == 'completed' or t.status == 'cancelled' or t.first_response_ms then
    stop_sla_checks(t)
    save_ticket(t)
  else
    redis.call('ZADD', K_SLA_CHECKS, int(NOW + interval), ticket_id)
    local rescore = not t.sla_scored_ms or NOW - t.sla_scored_ms >= interval
    if rescore then
      t.sla_scored_ms = NOW
      save_ticket(t)
    end
    claimed[#claimed + 1] = {ticket = t, rescore = rescore}
  end
end
return ok({now_ms = NOW, claimed = claimed})
