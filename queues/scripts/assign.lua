-- assign: offer one of the first waiting tickets of a queue to the best eligible agent
-- (see assign_from_queue in _prelude.lua for who is eligible and who is best).
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] queue
-- ARGV[4] head window: how many waiting tickets, from the head, may be tried (a ticket nobody
--         can take does not block the ones behind it)
-- ARGV[5] candidate bound: how many agents of the most selective index are examined per ticket
-- Derived keys: waiting(queue), arrivals(queue), free/skilled(queue, channel, ...), and the
-- members/free/skilled keys of the chosen agent's queues (its load changed).
-- Cost: O(window x bound x log N) index reads in the worst case, O(log N) when the first
-- candidate fits; N = agents or waiting tickets. No scan.
-- Reply: {"ok": offer} or {"ok": false} when nothing can be offered; error not_found (queue).
local offer, err = assign_from_queue(ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]))
if offer == nil then return err end
return ok(offer)
