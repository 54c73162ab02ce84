-- ensure_group: create a consumer group on the event stream unless it exists.
-- KEYS[1..8] the tenant keys (see _prelude.lua); ARGV[1..2] as in _prelude.lua
-- ARGV[3] group name
-- ARGV[4] id to start after ("0": the whole stream, "$": only new events)
-- Reply: {"ok": true} when created, {"ok": false} when it existed.
local created = redis.pcall('XGROUP', 'CREATE', K_EVENTS, ARGV[3], ARGV[4], 'MKSTREAM')
if type(created) == 'table' and created.err then
  if string.find(created.err, 'BUSYGROUP', 1, true) then return ok(false) end
  return redis.error_reply(created.err)
end
return ok(true)
