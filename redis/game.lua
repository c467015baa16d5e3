-- Game money for the casino backend: bet, win, rollback, and adjustments
-- by ops, each once per transaction id.
--
-- KEYS[1]  ibp:{PLAYER}:wallet
-- KEYS[2]  ibp:{PLAYER}:ledger
-- KEYS[3]  ibp:{PLAYER}:tx:TX    hash: kind, params, answer, state, amount
-- KEYS[4]  ibp:{PLAYER}:tx:BET   the bet a win or rollback refers to; for
--                                a bet or an adjustment, KEYS[3] again
-- ARGV[1]  "bet", "win", "rollback" or "adjust"
-- ARGV[2]  player id
-- ARGV[3]  transaction id (checked by the caller: [A-Za-z0-9_.:-]{1,64})
-- ARGV[4]  amount; signed for "adjust", "" for "rollback"
-- ARGV[5]  the bet's transaction id, or ""
-- ARGV[6]  the time, in Unix seconds
-- ARGV[7]  the reason of an adjustment, or ""
--
-- Returns {outcome, answer, moved}: outcome is "ok", "refused" or
-- "repeat", answer the JSON text to send, kept with the transaction so
-- that a repeat gets the same bytes, and moved the amount that changed
-- hands (0 unless "ok"); or {"conflict"} when the id was used with other
-- parameters.
--
-- A bet is open, won, rolled back or refused.  A rollback that comes
-- before its bet leaves a "void" mark under the bet's id, so the bet is
-- refused when it arrives.

local op, player, tx, amount_s = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local bet, now, reason = ARGV[5], ARGV[6], ARGV[7]

ibp_check_time(now)

if ibp_amount(player) == nil or tx == '' then
    return redis.error_reply('BAD_ARGUMENT player or transaction')
end

local params = op .. '|' .. amount_s .. '|' .. bet .. '|' .. reason
local rec = redis.call('HMGET', KEYS[3], 'kind', 'params', 'answer')

if rec[2] then
    if rec[2] == params then
        return {'repeat', rec[3], '0'}
    end

    return {'conflict'}
end

local w = ibp_wallet(KEYS[1])

-- the answer, in a fixed order of members
local function answer(outcome, why, extra)
    local s = '{"status":"' .. outcome .. '"'

    if why then
        s = s .. ',"reason":"' .. why .. '"'
    end

    return s .. ',"tx":"' .. tx .. '","player":' .. player .. extra
           .. ',"balance":' .. ibp_fmt(w.balance) .. '}'
end

local function finish(outcome, text, state, amount, moved)
    redis.call('HSET', KEYS[3], 'kind', op, 'params', params,
               'answer', text, 'time', now)

    if state then
        redis.call('HSET', KEYS[3], 'state', state, 'amount', amount)
    end

    return {outcome, text, moved or '0'}
end

if op == 'bet' then
    local amount = ibp_amount(amount_s)

    if amount == nil then
        return redis.error_reply('BAD_ARGUMENT amount')
    end

    local extra = ',"amount":' .. amount_s

    if rec[1] == 'void' then
        return finish('refused', answer('refused', 'rolled_back', extra),
                      'rolled_back', amount_s)
    end

    if w.balance < amount then
        return finish('refused', answer('refused', 'insufficient_funds',
                                        extra), 'refused', amount_s)
    end

    w.balance = w.balance - amount
    ibp_commit(w, KEYS[2], 'bet', -amount, ',"ref":"' .. tx .. '"', now)

    return finish('ok', answer('ok', nil, extra), 'open', amount_s,
                  amount_s)
end

if op == 'adjust' then
    local sign, digits = string.match(amount_s, '^(-?)([1-9][0-9]*)$')
    local amount = ibp_amount(digits)

    if amount == nil or reason == '' then
        return redis.error_reply('BAD_ARGUMENT amount or reason')
    end

    local extra = ',"amount":' .. amount_s

    if sign == '-' then
        if w.balance < amount then
            return finish('refused', answer('refused', 'insufficient_funds',
                                            extra))
        end

        w.balance = w.balance - amount
        amount = -amount

    else
        ibp_credit(w, amount)

        if not ibp_wallet_ok(w) then
            return redis.error_reply('OVERFLOW the balance would pass 2^53')
        end
    end

    ibp_commit(w, KEYS[2], 'adjust', amount,
               ',"ref":"' .. tx .. '","reason":' .. cjson.encode(reason), now)

    return finish('ok', string.sub(answer('ok', nil, extra), 1, -2)
                        .. ',"debt":' .. ibp_fmt(w.debt) .. '}',
                  nil, nil, digits)
end

if (op ~= 'win' and op ~= 'rollback') or bet == '' then
    return redis.error_reply('BAD_ARGUMENT operation')
end

local b = redis.call('HMGET', KEYS[4], 'kind', 'state', 'amount')
local state, staked = b[2], ibp_amount(b[3] or '')

if b[1] == 'void' then
    state = 'rolled_back'
end

local extra = ',"bet":"' .. bet .. '"'

if op == 'win' then
    local amount = ibp_amount(amount_s)

    if amount == nil then
        return redis.error_reply('BAD_ARGUMENT amount')
    end

    extra = extra .. ',"amount":' .. amount_s

    if b[1] ~= 'void' and (b[1] ~= 'bet' or state == 'refused') then
        return finish('refused', answer('refused', 'unknown_bet', extra))
    end

    if state == 'rolled_back' then
        return finish('refused', answer('refused', 'bet_rolled_back', extra))
    end

    if state == 'won' then
        return finish('refused', answer('refused', 'bet_settled', extra))
    end

    ibp_credit(w, amount)

    if not ibp_wallet_ok(w) then
        return redis.error_reply('OVERFLOW the balance would pass 2^53')
    end

    ibp_commit(w, KEYS[2], 'win', amount,
               ',"ref":"' .. tx .. '","bet":"' .. bet .. '"', now)
    redis.call('HSET', KEYS[4], 'state', 'won')

    return finish('ok', answer('ok', nil, extra), nil, nil, amount_s)
end

-- a rollback

if state == 'won' then
    return finish('refused', answer('refused', 'bet_settled',
                                    extra .. ',"amount":0'))
end

if not b[1] then
    redis.call('HSET', KEYS[4], 'kind', 'void', 'time', now)
end

if state ~= 'open' or staked == nil then
    return finish('ok', answer('ok', nil, extra .. ',"amount":0'))
end

ibp_credit(w, staked)
ibp_commit(w, KEYS[2], 'rollback', staked,
           ',"ref":"' .. tx .. '","bet":"' .. bet .. '"', now)
redis.call('HSET', KEYS[4], 'state', 'rolled_back')

return finish('ok', answer('ok', nil, extra .. ',"amount":' .. b[3]), nil, nil,
              b[3])
