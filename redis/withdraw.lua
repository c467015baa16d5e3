-- Opens a withdrawal: moves the amount from balance to held and records
-- the request, once per update.
--
-- KEYS[7] lies outside the player's hash slot: on Redis Cluster the cash
-- desk's list of pending withdrawals needs a home of its own.
--
-- KEYS[1]  ibp:{PLAYER}:wallet
-- KEYS[2]  ibp:{PLAYER}:ledger
-- KEYS[3]  ibp:{PLAYER}:wd:UPDATE   hash: id, player, amount, destination,
--                                   status, created, settled, update,
--                                   day, by
-- KEYS[4]  ibp:{PLAYER}:daily       hash: YYYYMMDD -> amount requested
-- KEYS[5]  ibp:{PLAYER}:ask         the question the bot is waiting on
-- KEYS[6]  ibp:{PLAYER}:update:UPDATE   a refusal, kept for repeats
-- KEYS[7]  ibp:withdrawals:pending  hash: "PLAYER:UPDATE" -> the pending
--                                   withdrawal as JSON, for the cash desk
-- ARGV[1]  amount
-- ARGV[2]  destination
-- ARGV[3]  update_id
-- ARGV[4]  the time, in Unix seconds
-- ARGV[5]  the day, YYYYMMDD (UTC)
-- ARGV[6]  smallest withdrawal
-- ARGV[7]  largest withdrawal
-- ARGV[8]  daily limit
-- ARGV[9]  player id
--
-- Returns {"ok", id, amount, balance, destination} for a new withdrawal,
-- {"dup", id, amount, balance, destination, status} for an update seen
-- before, or a refusal: {"refused", "amount"}, {"refused", "funds",
-- balance}, {"refused", "daily", limit, left}.  A refused update gets the
-- same refusal when it comes again, whatever the wallet holds by then.

local amount = ibp_amount(ARGV[1])
local dest, update, now, day = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local min, max, limit = ibp_amount(ARGV[6]), ibp_amount(ARGV[7]),
                        ibp_amount(ARGV[8])

ibp_check_time(now)

if dest == '' or ibp_count(update) == nil or min == nil or max == nil
    or limit == nil or not string.match(day, '^[0-9]+$')
then
    return redis.error_reply('BAD_ARGUMENT withdrawal arguments')
end

local w = ibp_wallet(KEYS[1])
local seen = redis.call('HMGET', KEYS[3], 'id', 'amount', 'destination',
                        'status')

if seen[1] then
    return {'dup', seen[1], seen[2], ibp_fmt(w.balance), seen[3], seen[4]}
end

local refused = ibp_refused(KEYS[6])

if refused then
    return refused
end

if amount == nil or amount < min or amount > max then
    return ibp_refuse_once(KEYS[6], 'amount')
end

if w.balance < amount then
    return ibp_refuse_once(KEYS[6], 'funds', ibp_fmt(w.balance))
end

local today = tonumber(redis.call('HGET', KEYS[4], day) or '0')

if today + amount > limit then
    return ibp_refuse_once(KEYS[6], 'daily', ibp_fmt(limit),
                           ibp_fmt(math.max(limit - today, 0)))
end

w.balance = w.balance - amount
w.held = w.held + amount

local id = ibp_fmt(redis.call('HINCRBY', KEYS[1], 'wseq', 1))

ibp_commit(w, KEYS[2], 'withdrawal_hold', 0,
           ',"hold":' .. ibp_fmt(amount) .. ',"withdrawal":' .. id
           .. ',"update":' .. update, now)

redis.call('HSET', KEYS[3], 'id', id, 'player', ARGV[9],
           'amount', ibp_fmt(amount), 'destination', dest,
           'status', 'pending', 'created', now,
           'update', update, 'day', day)

redis.call('HSET', KEYS[7], ARGV[9] .. ':' .. update,
           '{"player":' .. ARGV[9] .. ',"withdrawal":' .. update
           .. ',"id":' .. id .. ',"amount":' .. ibp_fmt(amount)
           .. ',"destination":' .. cjson.encode(dest)
           .. ',"created":' .. now .. '}')

redis.call('HINCRBY', KEYS[4], day, amount)
redis.call('EXPIRE', KEYS[4], 172800)
redis.call('DEL', KEYS[5])

return {'ok', id, ibp_fmt(amount), ibp_fmt(w.balance), dest}
