-- The part every money script shares.  The Makefile puts this file in
-- front of each script it embeds in the module, so these functions are
-- defined before the script's own code runs.
--
-- Amounts and balances stay below 2^53, where a Lua number (a double) is
-- an exact integer; a change that would pass that limit is refused.  They
-- are written back with string.format('%d'), never tostring(), which would
-- print large numbers in exponent form.
--
-- A wallet is the hash ibp:{PLAYER}:wallet with balance, held, debt and
-- seq (the number of ledger entries).  Every change appends one entry to
-- the list ibp:{PLAYER}:ledger whose "amount" is the change of
-- balance + held - debt, so the entries of a wallet always add up to it.

local IBP_MAX = 9007199254740991

local function ibp_fmt(n)
    return string.format('%d', n)
end

-- a positive amount written with digits only, or nil
local function ibp_amount(s)
    if type(s) ~= 'string' or #s > 16 or not string.match(s, '^[1-9][0-9]*$')
    then
        return nil
    end

    local n = tonumber(s)

    if n > IBP_MAX then
        return nil
    end

    return n
end

-- a non-negative integer written with digits only, or nil
local function ibp_count(s)
    if s == '0' then
        return 0
    end

    return ibp_amount(s)
end

local function ibp_wallet(key)
    local w = redis.call('HMGET', key, 'balance', 'held', 'debt', 'seq')

    return {
        key = key,
        balance = tonumber(w[1] or '0'),
        held = tonumber(w[2] or '0'),
        debt = tonumber(w[3] or '0'),
        seq = tonumber(w[4] or '0'),
    }
end

-- true when every figure of the wallet is still a valid amount
local function ibp_wallet_ok(w)
    for _, f in ipairs({'balance', 'held', 'debt'}) do
        if w[f] < 0 or w[f] > IBP_MAX then
            return false
        end
    end

    return true
end

-- money coming in pays the debt first
local function ibp_credit(w, n)
    local pay = math.min(w.debt, n)

    w.debt = w.debt - pay
    w.balance = w.balance + n - pay
end

-- Writes the wallet and appends its ledger entry.  "extra" holds further
-- JSON members, already encoded, each starting with a comma.  Returns the
-- entry id.
local function ibp_commit(w, ledger, kind, amount, extra, now)
    w.seq = w.seq + 1

    redis.call('HSET', w.key, 'balance', ibp_fmt(w.balance),
               'held', ibp_fmt(w.held), 'debt', ibp_fmt(w.debt),
               'seq', ibp_fmt(w.seq))

    redis.call('RPUSH', ledger, '{"id":' .. ibp_fmt(w.seq)
               .. ',"type":"' .. kind .. '","amount":' .. ibp_fmt(amount)
               .. ',"balance":' .. ibp_fmt(w.balance)
               .. ',"held":' .. ibp_fmt(w.held)
               .. ',"debt":' .. ibp_fmt(w.debt)
               .. extra .. ',"time":' .. now .. '}')

    return w.seq
end

local function ibp_refuse(...)
    return {'refused', ...}
end

-- A refused command is remembered under its update for two days, like a
-- command carried out, so that a repeat gets the first answer.
local function ibp_refuse_once(key, ...)
    local answer = {'refused', ...}

    redis.call('SET', key, table.concat(answer, ' '), 'EX', 172800)

    return answer
end

local function ibp_refused(key)
    local seen = redis.call('GET', key)
    local answer = {}

    if not seen or string.sub(seen, 1, 8) ~= 'refused ' then
        return nil
    end

    for word in string.gmatch(seen, '%S+') do
        table.insert(answer, word)
    end

    return answer
end

-- checks the arguments every script gets the same way
local function ibp_check_time(now)
    if not string.match(now or '', '^[0-9]+$') then
        error({err = 'BAD_ARGUMENT time is not an integer'})
    end
end

