-- Makes a confirmed transfer: both wallets and both ledger entries in one
-- step, once per offer.
--
-- KEYS[1]  ibp:{SENDER}:wallet
-- KEYS[2]  ibp:{SENDER}:ledger
-- KEYS[3]  ibp:{RECIPIENT}:wallet
-- KEYS[4]  ibp:{RECIPIENT}:ledger
-- KEYS[5]  ibp:{SENDER}:transfer:OFFER
-- ARGV[1]  sender id
-- ARGV[2]  recipient id, as the offer names it
-- ARGV[3]  offer id (the update_id of the /send command)
-- ARGV[4]  the time, in Unix seconds
--
-- Returns {"ok", amount, sender balance, recipient balance}, or a refusal:
-- {"refused", "unknown"}, {"refused", "expired"}, {"refused", status}
-- ("done", "cancelled"), {"refused", "funds", balance}.
--
-- The two wallets lie in different Redis Cluster slots; this is the one
-- script that needs both, and on a cluster it must run where both players'
-- keys are (for example with a shared hash tag for the pair).

local sender, recipient, offer_id, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

ibp_check_time(now)

if ibp_amount(sender) == nil or ibp_amount(recipient) == nil
    or ibp_count(offer_id) == nil
then
    return redis.error_reply('BAD_ARGUMENT transfer arguments')
end

local offer = redis.call('HMGET', KEYS[5], 'to', 'amount', 'expires',
                         'status')
local amount = ibp_amount(offer[2])

if not offer[4] or offer[1] ~= recipient or amount == nil
    or sender == recipient
then
    return ibp_refuse('unknown')
end

if offer[4] ~= 'pending' then
    return ibp_refuse(offer[4])
end

if tonumber(now) > tonumber(offer[3]) then
    return ibp_refuse('expired')
end

local s = ibp_wallet(KEYS[1])
local r = ibp_wallet(KEYS[3])

if s.balance < amount then
    return ibp_refuse('funds', ibp_fmt(s.balance))
end

s.balance = s.balance - amount
ibp_credit(r, amount)

if not ibp_wallet_ok(r) then
    return redis.error_reply('OVERFLOW the balance would pass 2^53')
end

ibp_commit(s, KEYS[2], 'transfer_out', -amount,
           ',"peer":' .. recipient .. ',"ref":"' .. offer_id .. '"', now)
ibp_commit(r, KEYS[4], 'transfer_in', amount,
           ',"peer":' .. sender .. ',"ref":"' .. offer_id .. '"', now)

redis.call('HSET', KEYS[5], 'status', 'done')

return {'ok', ibp_fmt(amount), ibp_fmt(s.balance), ibp_fmt(r.balance)}
