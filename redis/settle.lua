-- Settles a pending withdrawal, once: paid (the held money leaves the
-- wallet), or rejected or cancelled (it returns to the balance).
--
-- KEYS[1]  ibp:{PLAYER}:wallet
-- KEYS[2]  ibp:{PLAYER}:ledger
-- KEYS[3]  ibp:{PLAYER}:wd:UPDATE
-- KEYS[4]  ibp:{PLAYER}:daily
-- KEYS[5]  ibp:withdrawals:pending
-- ARGV[1]  "paid", "rejected" or "cancelled"
-- ARGV[2]  who settles it: an admin's or the player's id
-- ARGV[3]  the time, in Unix seconds
-- ARGV[4]  the payout provider's reference, or ""
--
-- Returns {"ok", id, amount, balance, status, destination}, {"repeat",
-- ...} the same for a settlement repeated with its reference, or
-- {"refused", "unknown"} or {"refused", status, id, amount} when the
-- withdrawal is not pending.  A rejected or cancelled amount no longer
-- counts against the day's limit.

local action, by, now, reference = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

ibp_check_time(now)

if action ~= 'paid' and action ~= 'rejected' and action ~= 'cancelled'
    or not string.match(by, '^[0-9]+$')
then
    return redis.error_reply('BAD_ARGUMENT settlement arguments')
end

local r = redis.call('HMGET', KEYS[3], 'id', 'amount', 'status',
                     'destination', 'update', 'day', 'player', 'reference')
local id, amount, status, dest, update, day = r[1], ibp_amount(r[2]),
                                              r[3], r[4], r[5], r[6]

if not id or amount == nil then
    return ibp_refuse('unknown')
end

local w = ibp_wallet(KEYS[1])

if status ~= 'pending' then
    if reference ~= '' and r[8] == reference and status == action then
        return {'repeat', id, r[2], ibp_fmt(w.balance), status, dest}
    end

    return ibp_refuse(status, id, r[2])
end

if w.held < amount then
    return redis.error_reply('CORRUPT held is less than a pending withdrawal')
end

w.held = w.held - amount

if action == 'paid' then
    ibp_commit(w, KEYS[2], 'withdrawal_paid', -amount,
               ',"withdrawal":' .. id .. ',"update":' .. update, now)
else
    w.balance = w.balance + amount
    ibp_commit(w, KEYS[2], 'withdrawal_released', 0,
               ',"hold":' .. ibp_fmt(-amount) .. ',"withdrawal":' .. id
               .. ',"update":' .. update, now)

    if day and redis.call('HEXISTS', KEYS[4], day) == 1 then
        redis.call('HINCRBY', KEYS[4], day, -amount)
    end
end

redis.call('HSET', KEYS[3], 'status', action, 'settled', now, 'by', by,
           'reference', reference)
redis.call('HDEL', KEYS[5], (r[7] or '') .. ':' .. update)

return {'ok', id, ibp_fmt(amount), ibp_fmt(w.balance), action, dest}
