-- Credits a paid invoice to a player's wallet, once per charge.
--
-- KEYS[1]  ibp:{PLAYER}:wallet           hash: balance, held, debt, seq
-- KEYS[2]  ibp:{PLAYER}:ledger           list of ledger entries (JSON)
-- KEYS[3]  ibp:{PLAYER}:charge:CHARGE    hash: amount, entry, balance,
--                                        update, time
-- KEYS[4]  ibp:{PLAYER}:update:UPDATE    the update, marked as processed
-- ARGV[1]  amount in minor units, digits only
-- ARGV[2]  telegram_payment_charge_id
-- ARGV[3]  update_id
-- ARGV[4]  the time, in Unix seconds
--
-- Returns {"ok", amount, balance} for a new credit, or {"dup", amount,
-- balance} with the figures of the first credit when the charge has been
-- seen before.  Every check comes before the first write; the balance is
-- changed with HINCRBY, which refuses to overflow a 64-bit integer.

local amount, charge, update, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

if not string.match(amount, '^[1-9][0-9]*$') or #amount > 18 then
    return redis.error_reply('BAD_AMOUNT amount is not a positive integer')
end

if charge == '' or not string.match(update, '^[0-9]+$')
    or not string.match(now, '^[0-9]+$')
then
    return redis.error_reply('BAD_ARGUMENT charge, update or time')
end

local seen = redis.call('HMGET', KEYS[3], 'amount', 'balance')

if seen[1] then
    redis.call('SET', KEYS[4], 'deposit', 'EX', 172800)
    return {'dup', seen[1], seen[2]}
end

redis.call('HINCRBY', KEYS[1], 'balance', amount)
redis.call('HINCRBY', KEYS[1], 'seq', 1)

for _, field in ipairs({'held', 'debt'}) do
    redis.call('HSETNX', KEYS[1], field, '0')
end

local wallet = redis.call('HMGET', KEYS[1], 'balance', 'seq')
local balance, entry = wallet[1], wallet[2]

redis.call('RPUSH', KEYS[2], '{"id":' .. entry .. ',"type":"deposit"'
           .. ',"amount":' .. amount .. ',"balance":' .. balance
           .. ',"ref":' .. cjson.encode(charge) .. ',"update":' .. update
           .. ',"time":' .. now .. '}')

redis.call('HSET', KEYS[3], 'amount', amount, 'entry', entry,
           'balance', balance, 'update', update, 'time', now)

redis.call('SET', KEYS[4], 'deposit', 'EX', 172800)

return {'ok', amount, balance}
