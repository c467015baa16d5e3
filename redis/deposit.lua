-- Credits a paid invoice to a player's wallet, once per charge.
--
-- KEYS[1]  ibp:{PLAYER}:wallet
-- KEYS[2]  ibp:{PLAYER}:ledger
-- KEYS[3]  ibp:{PLAYER}:charge:CHARGE   hash: amount, entry, balance, debt,
--                                       update, time, refunded
-- KEYS[4]  ibp:{PLAYER}:update:UPDATE   the update, marked as processed
-- ARGV[1]  amount in minor units
-- ARGV[2]  telegram_payment_charge_id
-- ARGV[3]  update_id
-- ARGV[4]  the time, in Unix seconds
--
-- Returns {"ok", amount, balance, debt} for a new credit, or {"dup",
-- amount, balance, debt} with the figures of the first credit when the
-- charge has been seen before.  A debt left by a refund is paid first.

local amount = ibp_amount(ARGV[1])
local charge, update, now = ARGV[2], ARGV[3], ARGV[4]

if amount == nil then
    return redis.error_reply('BAD_AMOUNT amount is not a positive integer')
end

if charge == '' or ibp_count(update) == nil then
    return redis.error_reply('BAD_ARGUMENT charge or update')
end

ibp_check_time(now)

local seen = redis.call('HMGET', KEYS[3], 'amount', 'balance', 'debt')

if seen[1] then
    redis.call('SET', KEYS[4], 'deposit', 'EX', 172800)
    return {'dup', seen[1], seen[2], seen[3] or '0'}
end

local w = ibp_wallet(KEYS[1])

ibp_credit(w, amount)

if not ibp_wallet_ok(w) then
    return redis.error_reply('OVERFLOW the balance would pass 2^53')
end

local entry = ibp_commit(w, KEYS[2], 'deposit', amount,
                         ',"ref":' .. cjson.encode(charge)
                         .. ',"update":' .. update, now)

redis.call('HSET', KEYS[3], 'amount', ibp_fmt(amount), 'entry', entry,
           'balance', ibp_fmt(w.balance), 'debt', ibp_fmt(w.debt),
           'update', update, 'time', now)

redis.call('SET', KEYS[4], 'deposit', 'EX', 172800)

return {'ok', ibp_fmt(amount), ibp_fmt(w.balance), ibp_fmt(w.debt)}
