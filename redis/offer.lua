-- Creates or cancels a transfer offer: what the sender is asked to
-- confirm.  The confirmation button names only the offer, so a client
-- cannot change the recipient or the amount.
--
-- KEYS[1]  ibp:{SENDER}:wallet
-- KEYS[2]  ibp:{SENDER}:transfer:UPDATE   hash: to, name, amount, expires,
--                                         status
-- KEYS[3]  ibp:{SENDER}:update:UPDATE     a refusal, kept for repeats
-- ARGV[1]  "create" or "cancel"
-- ARGV[2]  recipient id                   (create)
-- ARGV[3]  amount                         (create)
-- ARGV[4]  expiry, in Unix seconds        (create)
-- ARGV[5]  largest transfer               (create)
-- ARGV[6]  the recipient's name as shown  (create)
--
-- create returns {"ok", to, amount, name}, {"dup", to, amount, name,
-- status} for an update seen before, or {"refused", "amount"} or
-- {"refused", "funds", balance}.  cancel returns {"ok"}, {"refused",
-- "unknown"} or {"refused", status}.

local offer = redis.call('HMGET', KEYS[2], 'to', 'amount', 'name', 'status')

if ARGV[1] == 'cancel' then
    if not offer[4] then
        return ibp_refuse('unknown')
    end

    if offer[4] ~= 'pending' then
        return ibp_refuse(offer[4])
    end

    redis.call('HSET', KEYS[2], 'status', 'cancelled')
    return {'ok'}
end

if ARGV[1] ~= 'create' or ibp_amount(ARGV[2]) == nil
    or ibp_amount(ARGV[5]) == nil or not string.match(ARGV[4], '^[0-9]+$')
then
    return redis.error_reply('BAD_ARGUMENT offer arguments')
end

if offer[4] then
    return {'dup', offer[1], offer[2], offer[3], offer[4]}
end

local refused = ibp_refused(KEYS[3])

if refused then
    return refused
end

local amount = ibp_amount(ARGV[3])

if amount == nil or amount > ibp_amount(ARGV[5]) then
    return ibp_refuse_once(KEYS[3], 'amount')
end

local w = ibp_wallet(KEYS[1])

if w.balance < amount then
    return ibp_refuse_once(KEYS[3], 'funds', ibp_fmt(w.balance))
end

redis.call('HSET', KEYS[2], 'to', ARGV[2], 'name', ARGV[6],
           'amount', ibp_fmt(amount), 'expires', ARGV[4],
           'status', 'pending')

-- kept a day past its expiry, so that a late press is told what happened
redis.call('EXPIREAT', KEYS[2], tonumber(ARGV[4]) + 86400)

return {'ok', ARGV[2], ibp_fmt(amount), ARGV[6]}
