-- submit: enqueue a new ticket and, in the same step, make the queue's first offer (as
-- assign.lua: usually of that ticket, else of another ticket near the head): enqueue.lua then
-- assign.lua in one round trip. A known id is returned unchanged and nothing is offered.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3..9] as in enqueue.lua (ticket id, queue, priority, channel, skills, deadline, data)
-- ARGV[10] head window, ARGV[11] candidate bound: as in assign.lua
-- ARGV[12] the SLA risk the model gave the ticket in its queue's state, or "" for none: kept as
--          the ticket's model risk, so its first SLA check does not score it again
-- ARGV[13] ms until the first SLA check, or "" for at once (the caller found that a check now
--          would change nothing); ARGV[14] the live SLA risk to store with it, or ""
-- ARGV[15] the ticket's SLA basis, or "" for none (its SLA checks re-score from it)
-- Derived keys: those of enqueue.lua and assign.lua.
-- Reply: {"ok": {"ticket": record, "created": bool, "offer": offer or false}}; the record of a
-- new ticket comes without its data and SLA basis (the caller has just sent them, and puts
-- them back); error not_found (queue).
-- The new ticket is saved once: by the offer that takes it, else after the search; until then
-- the search uses it as it is here instead of reading its record back.
local t, created = enqueue_ticket(ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9],
                                  ARGV[12], ARGV[13], ARGV[14], ARGV[15], true)
if not t then return created end
if not created then return ok({ticket = t, created = false, offer = false}) end
local offer = assign_from_queue(t.queue, tonumber(ARGV[10]), tonumber(ARGV[11]), {[t.id] = t})
if not (offer and offer.ticket_id == t.id) then save_ticket(t) end  -- else the offer saved it
t.data, t.sla_basis = nil, nil
return ok({ticket = t, created = true, offer = offer or false})
