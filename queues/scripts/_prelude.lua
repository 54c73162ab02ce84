-- Shared helpers, prepended to every script by queues/lua.py (not a script on its own).
--
-- KEYS[1] tickets  HASH   ticket id -> ticket record (JSON)
-- KEYS[2] agents   HASH   agent id -> agent record (JSON)
-- KEYS[3] queues   HASH   queue -> queue config (JSON)
-- KEYS[4] offers   ZSET   ticket id by offer expiry (ms)
-- KEYS[5] finished ZSET   ticket id by completion/cancel time (ms)
-- KEYS[6] events   STREAM the outbox
-- KEYS[7] holdings ZSET   "agent\0ticket" per open offer or assignment (lexicographic)
-- KEYS[8] sla_checks ZSET unanswered ticket id by when its SLA risk is next checked (ms)
-- ARGV[1] key prefix "tr:{tenant}:" (per-queue keys are derived from it by the key_* functions)
-- ARGV[2] approximate maximum length of the event stream
-- ARGV[3..] script arguments (see each script's header)
--
-- Replies are JSON: {"ok": value} or {"error": code, "message": text, "field": name}.
-- Checks come before writes: a script that refuses has changed nothing, except where its
-- header says so (an expired offer is handed back before OfferExpired is returned).

local PFX = ARGV[1]
local K_TICKETS, K_AGENTS, K_QUEUES = KEYS[1], KEYS[2], KEYS[3]
local K_OFFERS, K_FINISHED, K_EVENTS, K_HOLDINGS = KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local K_SLA_CHECKS = KEYS[8]
local STREAM_MAXLEN = ARGV[2]

--@KEY_FUNCTIONS@

local function server_now_ms()
  -- Redis server time, so that every router process agrees on offer expiry.
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local NOW = server_now_ms()

-- An optional text argument: nil when absent or "" (cjson then leaves its key out).
local function optional_text(value)
  if value == nil or value == '' then return nil end
  return value
end

-- Lua turns numbers into strings with 14 significant digits; scores and times need all of them.
local function int(n) return string.format('%d', n) end

local function ok(value)
  if value == nil then value = false end
  return cjson.encode({ok = value})
end

local function fail(code, message, field)
  return cjson.encode({error = code, message = message, field = field})
end

local function load_record(key, id)
  local raw = redis.call('HGET', key, id)
  if not raw then return nil end
  return cjson.decode(raw)
end

local function load_ticket(id)
  local t = load_record(K_TICKETS, id)
  if t then t.skip = t.skip or {} end
  return t
end

local function load_agent(id)
  local a = load_record(K_AGENTS, id)
  if a then
    a.queues = a.queues or {}
    a.load = a.load or {}
  end
  return a
end

local function save_ticket(t) redis.call('HSET', K_TICKETS, t.id, cjson.encode(t)) end
local function save_agent(a) redis.call('HSET', K_AGENTS, a.id, cjson.encode(a)) end
local function queue_config(name) return load_record(K_QUEUES, name) end

local function emit(kind, ticket_id, queue, agent_id, data)
  local fields = {'type', kind, 'ticket', ticket_id or '', 'queue', queue or '',
                  'agent', agent_id or '', 'ts_ms', int(NOW)}
  if data then
    fields[#fields + 1] = 'data'
    fields[#fields + 1] = cjson.encode(data)
  end
  redis.call('XADD', K_EVENTS, 'MAXLEN', '~', STREAM_MAXLEN, '*', unpack(fields))
end

-- Waiting order: priority (1 first), handed-back tickets first within a priority, then SLA
-- deadline, then arrival. A lexicographic member of a score-0 sorted set keeps all four exact.
local NO_DEADLINE = 9999999999999

local function waiting_member(t)
  return string.format('%02d|%d|%013d|%013d|%s', t.priority, t.front and 0 or 1,
                       math.min(t.deadline_ms or NO_DEADLINE, NO_DEADLINE), t.enqueued_ms, t.id)
end

local function ticket_id_of(member)
  return string.match(member, '^[^|]*|[^|]*|[^|]*|[^|]*|(.*)$')
end

local function add_waiting(t, front)
  t.status = 'waiting'
  t.agent = nil
  t.offered_ms = nil
  t.offer_expires_ms = nil
  t.assigned_ms = nil
  t.front = front or nil
  t.wkey = waiting_member(t)
  redis.call('ZADD', key_waiting(t.queue), 0, t.wkey)
  redis.call('ZADD', key_arrivals(t.queue), int(t.enqueued_ms), t.id)
end

local function remove_waiting(t)
  if t.wkey then redis.call('ZREM', key_waiting(t.queue), t.wkey) end
  redis.call('ZREM', key_arrivals(t.queue), t.id)
  t.wkey = nil
end

local function total_load(a)
  local load, capacity = 0, 0
  for channel, cap in pairs(a.capacity) do
    load = load + (a.load[channel] or 0)
    capacity = capacity + cap
  end
  return load, capacity
end

-- Policy scores (lower is better). Integers below 2^53, so a double holds them exactly.
local TWO_43 = 8796093022208           -- 2^43 ms is about 278 years
local BUSY_OFFSET = 4503599627370496    -- 2^52
local LOAD_STEPS = 512                  -- resolution of load/capacity for least_loaded

local function agent_score(a, policy)
  local load, capacity = total_load(a)
  local last_offer = a.last_offer_ms or 0
  local idle_since = a.idle_since_ms or 0
  if policy == 'round_robin' then
    return last_offer
  elseif policy == 'longest_idle' then
    if load > 0 then return BUSY_OFFSET + last_offer end
    return idle_since
  end
  -- least_loaded: lowest load/capacity, then longest idle (idle agents) or least recently
  -- offered work (busy ones).
  local ratio = 1
  if capacity > 0 then ratio = math.min(1, load / capacity) end
  local tie = last_offer
  if load == 0 then tie = idle_since end
  return math.floor(ratio * LOAD_STEPS) * TWO_43 + tie
end

local STATE_FREE, STATE_FULL, STATE_AWAY, STATE_OFFLINE = 0, 1, 2, 3

local function has_room(a, channel)
  return (a.load[channel] or 0) < (a.capacity[channel] or 0)
end

local function agent_state(a)
  if a.status == 'away' then return STATE_AWAY end
  if a.status ~= 'available' then return STATE_OFFLINE end
  for channel, _ in pairs(a.capacity) do
    if has_room(a, channel) then return STATE_FREE end
  end
  return STATE_FULL
end

local function queue_policies(queues)
  local policies = {}
  if #queues == 0 then return policies end
  local raw = redis.call('HMGET', K_QUEUES, unpack(queues))
  for i, value in ipairs(raw) do
    policies[i] = value and cjson.decode(value).policy or 'least_loaded'
  end
  return policies
end

-- The index keys of an agent on one queue and channel: the free index, then one per skill, at
-- the agent's level of it.
local function agent_index_keys(a, queue, channel)
  local keys = {key_free(queue, channel)}
  for skill, level in pairs(a.skills) do
    keys[#keys + 1] = key_skilled(queue, channel, skill, level)
  end
  return keys
end

-- Bring every index entry of the agent in line with its record: cost is
-- (its queues) x (its channels) x (1 + its skills) sorted-set updates.
local function index_agent(a)
  local policies = queue_policies(a.queues)
  local state = agent_state(a)
  for i, queue in ipairs(a.queues) do
    redis.call('ZADD', key_members(queue), state, a.id)
    local score = int(agent_score(a, policies[i]))
    for channel, _ in pairs(a.capacity) do
      local eligible = a.status == 'available' and has_room(a, channel)
      for _, key in ipairs(agent_index_keys(a, queue, channel)) do
        if eligible then
          redis.call('ZADD', key, score, a.id)
        else
          redis.call('ZREM', key, a.id)
        end
      end
    end
  end
end

local function unindex_agent(a)
  for _, queue in ipairs(a.queues) do
    redis.call('ZREM', key_members(queue), a.id)
    for channel, _ in pairs(a.capacity) do
      for _, key in ipairs(agent_index_keys(a, queue, channel)) do
        redis.call('ZREM', key, a.id)
      end
    end
  end
end

-- An agent's open offers and assignments: one lexicographic range of the holdings set.
-- Agent ids have no control characters, so "\0" cannot occur inside one.
local function holding(agent_id, ticket_id) return agent_id .. '\0' .. ticket_id end

local function held_ticket_ids(agent_id)
  local members = redis.call('ZRANGEBYLEX', K_HOLDINGS, '[' .. agent_id .. '\0',
                             '(' .. agent_id .. '\1')
  local ids = {}
  for i, member in ipairs(members) do ids[i] = string.sub(member, #agent_id + 2) end
  return ids
end

-- Free the agent's capacity held by a ticket (offer or assignment).
local function release(a, t)
  if redis.call('ZREM', K_HOLDINGS, holding(a.id, t.id)) == 0 then return end
  local channel = t.channel
  a.load[channel] = math.max(0, (a.load[channel] or 0) - 1)
  if a.load[channel] == 0 then a.load[channel] = nil end
  if total_load(a) == 0 then a.idle_since_ms = NOW end
end

-- Take a ticket out of wherever it is held before it moves or ends: the waiting index, or its
-- agent's offer or assignment (that capacity is freed). Returns the agent it left, or nil.
local function take_back(t)
  if t.status == 'waiting' then
    remove_waiting(t)
    return nil
  end
  redis.call('ZREM', K_OFFERS, t.id)
  local a = load_agent(t.agent)
  release(a, t)
  save_agent(a)
  index_agent(a)
  return t.agent
end

local function offer_view(t)
  return {ticket_id = t.id, agent_id = t.agent, queue = t.queue, channel = t.channel,
          priority = t.priority, offered_ms = t.offered_ms, expires_ms = t.offer_expires_ms}
end

-- Withdraw an open offer: the ticket goes back to the front of its queue. `cooloff_ms` keeps
-- that agent from being offered the same ticket again for a while (0: no cool-off). `reason`
-- is the machine reason of the event; `note`, the agent's own words (nil: none).
local function hand_back(t, a, kind, cooloff_ms, reason, note)
  local view = offer_view(t)
  redis.call('ZREM', K_OFFERS, t.id)
  release(a, t)
  t.skip[a.id] = NOW + cooloff_ms
  add_waiting(t, true)
  save_ticket(t)
  save_agent(a)
  index_agent(a)
  emit(kind, t.id, t.queue, a.id, {channel = t.channel, reason = reason, note = note,
                                   expires_ms = view.expires_ms})  -- names the offer withdrawn
  return view
end

local function cooloff_ms(queue)
  local config = queue_config(queue)
  return config and config.cooloff_ms or 0
end

local function is_cooling_off(t, agent_id)
  local untill = t.skip[agent_id]
  return untill ~= nil and untill > NOW
end

-- Give the ticket to the agent as an offer; the caller has checked eligibility.
local function make_offer(t, a, config)
  remove_waiting(t)
  t.status = 'offered'
  t.agent = a.id
  t.front = nil
  t.offered_ms = NOW
  t.offer_expires_ms = NOW + config.offer_timeout_ms
  t.offers_made = (t.offers_made or 0) + 1
  redis.call('ZADD', K_OFFERS, int(t.offer_expires_ms), t.id)
  a.load[t.channel] = (a.load[t.channel] or 0) + 1
  redis.call('ZADD', K_HOLDINGS, 0, holding(a.id, t.id))
  a.last_offer_ms = NOW
  save_ticket(t)
  save_agent(a)
  index_agent(a)
  emit('offered', t.id, t.queue, a.id, {
    channel = t.channel, priority = t.priority, expires_ms = t.offer_expires_ms,
    load = a.load[t.channel], capacity = a.capacity[t.channel]})
  return offer_view(t)
end

local function agent_missing_skill(a, t)
  for skill, level in pairs(t.skills) do
    if (a.skills[skill] or 0) < level then return skill end
  end
  return nil
end

-- Open offer checks shared by accept and reject. Returns nil when `agent_id` holds a live
-- offer of the ticket, else an error reply (after handing back an offer that has expired).
local function check_offer_holder(t, a, operation)
  if t.status == 'offered' and t.agent == a.id then
    if NOW >= t.offer_expires_ms then
      hand_back(t, a, 'offer_expired', cooloff_ms(t.queue), 'expired')
      return fail('offer_expired', 'the offer of ticket ' .. t.id .. ' to agent ' .. a.id ..
                  ' expired before ' .. operation .. '; the ticket went back to its queue')
    end
    return nil
  end
  if t.status == 'completed' or t.status == 'cancelled' then
    return fail('failed_precondition', 'ticket ' .. t.id .. ' is ' .. t.status, 'ticket_id')
  end
  if t.status == 'assigned' and t.agent == a.id then
    return fail('failed_precondition', 'agent ' .. a.id .. ' already accepted ticket ' .. t.id ..
                '; complete or transfer it instead', 'ticket_id')
  end
  if a.status ~= 'available' then
    return fail('agent_unavailable', 'agent ' .. a.id .. ' is ' .. a.status ..
                '; set it available and wait for a new offer', 'agent_id')
  end
  if t.skip[a.id] ~= nil then
    return fail('offer_expired', 'the offer of ticket ' .. t.id .. ' to agent ' .. a.id ..
                ' expired or was withdrawn; wait for a new offer')
  end
  return fail('not_offer_holder', 'agent ' .. a.id .. ' does not hold an offer of ticket ' ..
              t.id, 'agent_id')
end

-- Hand back every open offer of an agent who is going away or offline.
local function hand_back_offers(a, reason)
  local handed_back = {}
  for _, ticket_id in ipairs(held_ticket_ids(a.id)) do
    local t = load_ticket(ticket_id)
    if t and t.status == 'offered' and t.agent == a.id then
      handed_back[#handed_back + 1] = hand_back(t, a, 'offer_revoked', 0, reason)
    end
  end
  return handed_back
end

-- Hand back the open offers an agent's new profile no longer allows: from a queue it has
-- left, needing a skill level it lacks, or beyond its capacity on the channel (the newest
-- offers first, until the load fits). Accepted tickets stay with it.
local function hand_back_misfits(a)
  local serves = {}
  for _, queue in ipairs(a.queues) do serves[queue] = true end
  local offers = {}
  for _, ticket_id in ipairs(held_ticket_ids(a.id)) do
    local t = load_ticket(ticket_id)
    if t and t.status == 'offered' and t.agent == a.id then offers[#offers + 1] = t end
  end
  table.sort(offers, function(x, y)
    if x.offered_ms ~= y.offered_ms then return x.offered_ms > y.offered_ms end
    return x.id > y.id
  end)
  local handed_back = {}
  for _, t in ipairs(offers) do
    local reason = nil
    local skill = agent_missing_skill(a, t)
    if not serves[t.queue] then
      reason = 'agent no longer serves queue ' .. t.queue
    elseif skill then
      reason = 'agent no longer has skill ' .. skill .. ' at level ' .. t.skills[skill]
    elseif (a.load[t.channel] or 0) > (a.capacity[t.channel] or 0) then
      reason = 'agent capacity on ' .. t.channel .. ' lowered'
    end
    if reason then handed_back[#handed_back + 1] = hand_back(t, a, 'offer_revoked', 0, reason) end
  end
  return handed_back
end

-- The agent as replies show it: the record plus the ids it holds (never saved like this).
local function agent_reply(a)
  local offers, assigned = {}, {}
  for _, ticket_id in ipairs(held_ticket_ids(a.id)) do
    local t = load_ticket(ticket_id)
    if t and t.agent == a.id and t.status == 'offered' then offers[#offers + 1] = ticket_id end
    if t and t.agent == a.id and t.status == 'assigned' then assigned[#assigned + 1] = ticket_id end
  end
  a.offers, a.assigned = offers, assigned
  return a
end

-- SLA tracking of unanswered tickets: the due time of their next risk check (K_SLA_CHECKS)
-- and, when flagged at risk, membership of their queue's at-risk set, whose size the
-- tickets-at-risk gauge reads. `t.risk_queue` remembers which set holds the ticket.
local function set_at_risk(t, flag)
  if t.risk_queue and (not flag or t.risk_queue ~= t.queue) then
    redis.call('SREM', key_at_risk(t.risk_queue), t.id)
    t.risk_queue = nil
  end
  if flag then
    redis.call('SADD', key_at_risk(t.queue), t.id)
    t.risk_queue = t.queue
  end
  t.at_risk = flag or nil
end

-- The ticket was answered or finished: it leaves the SLA checks and the at-risk count.
local function stop_sla_checks(t)  -- the caller saves the ticket
  redis.call('ZREM', K_SLA_CHECKS, t.id)
  set_at_risk(t, false)
  t.sla_basis = nil  -- only checks re-score from it
end

-- Put a new ticket at its place in a queue (enqueue.lua, submit.lua). Returns the existing
-- record and false for a known id, the new record and true otherwise, or nil and an error reply
-- for an unknown queue. The arguments are enqueue.lua's ARGV[3..9], then optionally the SLA
-- risk the model gave the ticket just now (its first SLA check then need not score it again),
-- the delay of its first SLA check in ms ("" or none: at once), the live risk to store with
-- a delayed one (the caller found that a check now would change nothing) and the ticket's SLA
-- basis (its checks re-score from it without the text; "" or none: none); `unsaved`: leave
-- saving the new record to the caller (submit.lua, which may offer it at once).
local function enqueue_ticket(ticket_id, queue, priority, channel, skills, deadline, data,
                              model_risk, first_check_in_ms, live_risk, sla_basis, unsaved)
  local existing = load_ticket(ticket_id)
  if existing then return existing, false end
  if not queue_config(queue) then
    return nil, fail('not_found',
                     'queue ' .. queue .. ' does not exist; create it with set_queue_policy', 'queue')
  end
  local t = {id = ticket_id, queue = queue, priority = tonumber(priority), channel = channel,
             skills = cjson.decode(skills), enqueued_ms = NOW, skip = {}}
  if deadline ~= '' then t.deadline_ms = tonumber(deadline) end
  if data ~= '' then t.data = data end
  if model_risk and model_risk ~= '' then
    t.sla_model_risk, t.sla_scored_ms = tonumber(model_risk), NOW
  end
  local first_check = NOW
  if first_check_in_ms and first_check_in_ms ~= '' then
    first_check, t.sla_checked_ms = NOW + tonumber(first_check_in_ms), NOW
    if live_risk ~= '' then t.sla_risk = tonumber(live_risk) end
  end
  if sla_basis and sla_basis ~= '' then t.sla_basis = sla_basis end
  add_waiting(t, false)
  if not unsaved then save_ticket(t) end
  redis.call('ZADD', K_SLA_CHECKS, int(first_check), t.id)
  emit('enqueued', t.id, queue, nil, {priority = t.priority, channel = t.channel,
                                       skills = t.skills, deadline_ms = t.deadline_ms})
  return t, true
end

-- Offer one of the first `window` waiting tickets of a queue to the best eligible agent
-- (assign.lua, submit.lua). Eligible: available, every required skill at the needed level,
-- free capacity on the ticket's channel, not cooling off from this ticket. Best: lowest score
-- of the queue's policy; at most `bound` agents with the most selective required skill at the
-- needed level are examined per ticket (its indexes at that level and above, merged in score
-- order). `in_hand`: tickets by id the caller holds, newer than their records (submit.lua's new
-- ticket, not saved yet), used instead of loading them. Returns the offer view, false when
-- nothing can be offered, or nil and an error reply.
local function assign_from_queue(queue, window, bound, in_hand)
  local config = queue_config(queue)
  if not config then
    return nil, fail('not_found', 'queue ' .. queue .. ' does not exist', 'queue')
  end

  -- The indexes holding every agent with one required skill at the needed level or above: of
  -- the ticket's skills, the one with the fewest such agents. No skill: the free index.
  local function candidate_indexes(t)
    local best, best_size = {key_free(queue, t.channel)}, nil
    for skill, level in pairs(t.skills) do
      local keys, size = {}, 0
      for at = level, MAX_SKILL_LEVEL do
        local key = key_skilled(queue, t.channel, skill, at)
        local count = redis.call('ZCARD', key)
        if count > 0 then keys[#keys + 1], size = key, size + count end
      end
      if best_size == nil or size < best_size then best, best_size = keys, size end
    end
    return best
  end

  -- The agents of several indexes in one score order (then by id, as within one index),
  -- read 16 at a time from each.
  local function merged(keys)
    local streams = {}
    for _, key in ipairs(keys) do
      streams[#streams + 1] = {key = key, items = {}, at = 1, read = 0}
    end
    local function head(stream)
      if stream.at > #stream.items then
        local page = redis.call('ZRANGE', stream.key, stream.read, stream.read + 15, 'WITHSCORES')
        stream.items, stream.at, stream.read = {}, 1, stream.read + #page / 2
        for i = 1, #page, 2 do
          stream.items[#stream.items + 1] = {id = page[i], score = tonumber(page[i + 1])}
        end
      end
      return stream.items[stream.at]
    end
    return function()
      local best_stream, best_item = nil, nil
      for _, stream in ipairs(streams) do
        local item = head(stream)
        if item and (not best_item or item.score < best_item.score
                     or (item.score == best_item.score and item.id < best_item.id)) then
          best_stream, best_item = stream, item
        end
      end
      if best_stream then best_stream.at = best_stream.at + 1 end
      return best_item and best_item.id
    end
  end

  -- Every agent examined is at the needed level of one required skill; the others (a second
  -- skill, status, room, cool-off) are checked on its record.
  local function best_agent(t)
    local next_agent, seen = merged(candidate_indexes(t)), {}
    local examined = 0
    while examined < bound do
      local agent_id = next_agent()
      if not agent_id then return nil end
      if not seen[agent_id] then  -- an agent indexed in the previous layout is in several
        seen[agent_id] = true
        examined = examined + 1
        local a = load_agent(agent_id)
        -- The index and the record change in the same scripts; checking again is cheap.
        if a and a.status == 'available' and has_room(a, t.channel)
            and not agent_missing_skill(a, t) and not is_cooling_off(t, agent_id) then
          return a
        end
      end
    end
    return nil
  end

  local heads = redis.call('ZRANGE', key_waiting(queue), 0, window - 1)
  for _, member in ipairs(heads) do
    local id = ticket_id_of(member)
    local t = (in_hand and in_hand[id]) or load_ticket(id)
    local a = best_agent(t)
    if a then return make_offer(t, a, config) end
  end
  return false
end
