-- Reverses a deposit that Telegram refunded, once per charge.  The wallet
-- gives what it has; the rest becomes debt, which later credits pay first.
--
-- KEYS[1]  ibp:{PLAYER}:wallet
-- KEYS[2]  ibp:{PLAYER}:ledger
-- KEYS[3]  ibp:{PLAYER}:charge:CHARGE
-- KEYS[4]  ibp:{PLAYER}:update:UPDATE
-- ARGV[1]  telegram_payment_charge_id
-- ARGV[2]  update_id
-- ARGV[3]  the time, in Unix seconds
--
-- Returns {"ok", amount, balance, debt}, {"dup", amount, balance, debt}
-- with the figures of the first refund, or {"refused", "unknown"} for a
-- charge this wallet never received.

local charge, update, now = ARGV[1], ARGV[2], ARGV[3]

ibp_check_time(now)

if charge == '' or ibp_count(update) == nil then
    return redis.error_reply('BAD_ARGUMENT charge or update')
end

local c = redis.call('HMGET', KEYS[3], 'amount', 'refunded',
                     'refund_balance', 'refund_debt')
local amount = ibp_amount(c[1])

if amount == nil then
    return ibp_refuse('unknown')
end

if c[2] then
    redis.call('SET', KEYS[4], 'refund', 'EX', 172800)
    return {'dup', c[1], c[3], c[4]}
end

local w = ibp_wallet(KEYS[1])
local take = math.min(w.balance, amount)

w.balance = w.balance - take
w.debt = w.debt + amount - take

if not ibp_wallet_ok(w) then
    return redis.error_reply('OVERFLOW the debt would pass 2^53')
end

local entry = ibp_commit(w, KEYS[2], 'refund', -amount,
                         ',"ref":' .. cjson.encode(charge)
                         .. ',"update":' .. update, now)

redis.call('HSET', KEYS[3], 'refunded', now, 'refund_entry', entry,
           'refund_balance', ibp_fmt(w.balance),
           'refund_debt', ibp_fmt(w.debt))

redis.call('SET', KEYS[4], 'refund', 'EX', 172800)

return {'ok', c[1], ibp_fmt(w.balance), ibp_fmt(w.debt)}
