-- Checks every wallet against its ledger and its withdrawals.  For
-- operators and the tests, not for the hot path: it is not embedded in the
-- module, and ledger.lua is not put in front of it.
--
--     redis-cli -h HOST -p PORT --raw --eval redis/audit.lua
--     make audit REDIS_HOST=HOST REDIS_PORT=PORT
--
-- No KEYS, no ARGV.  It SCANs once for every ibp:{PLAYER}:wd:* and once
-- for every ibp:{PLAYER}:wallet, and reads, for each wallet, the wallet
-- hash, the list ibp:{PLAYER}:ledger and its withdrawal hashes.  It
-- writes nothing.
--
-- For each wallet:
--   - balance, held and debt are integers >= 0 (a missing field is 0, as
--     the money scripts read it), and so are seq and each entry's own
--     balance, held and debt;
--   - the ledger's "amount"s sum to balance + held - debt;
--   - seq == LLEN of the ledger, and the entry ids run 1..seq in order;
--   - held == the sum of the "amount"s of its withdrawals whose status is
--     "pending".
--
-- Returns a list of lines: {"ok N wallets checked"} when all is well,
-- otherwise one line per problem, wallets in the order of their player
-- ids,
--     PLAYER: what is wrong (expected X, found Y)
-- and a last line "FAILED N mismatches".  Where a wallet figure disagrees
-- with its records, "expected" is what the records say (the ledger sum,
-- the ledger length, the pending withdrawals) and "found" is the wallet.
-- Of ids out of order only the first is named.
--
-- A script runs alone: the audit sees one moment of the data set, and
-- Redis serves nobody else meanwhile.  It takes time in proportion to the
-- number of keys and ledger entries (past lua-time-limit other clients get
-- BUSY until it ends): run it at a quiet time, or against a replica.  On
-- Redis Cluster, run it on each primary: SCAN sees only that node's keys,
-- and all the keys of one player live in one slot.
--
-- Amounts stay below 2^53, where a Lua number is an exact integer; they
-- are printed with string.format('%d').

local MAX = 9007199254740991

local problems = {}
local wallets = 0

local function fmt(n)
    return string.format('%d', n)
end

local function problem(player, what, expected, found)
    table.insert(problems, player .. ': ' .. what .. ' (expected '
                 .. expected .. ', found ' .. found .. ')')
end

-- a stored figure written as an integer (possibly negative), or nil
local function integer(s)
    if type(s) ~= 'string' or #s > 17 or not string.match(s, '^-?[0-9]+$')
    then
        return nil
    end

    local n = tonumber(s)

    if n > MAX or n < -MAX then
        return nil
    end

    return n
end

-- a number decoded from JSON that is an exact integer
local function whole(x)
    return type(x) == 'number' and x == math.floor(x) and x <= MAX
           and x >= -MAX
end

-- a value as a problem line shows it
local function shown(x)
    if x == nil then
        return 'nothing'
    elseif whole(x) then
        return fmt(x)
    elseif type(x) ~= 'string' then
        return tostring(x)
    elseif #x > 40 then
        x = string.sub(x, 1, 40) .. '...'
    end

    return '"' .. x .. '"'
end

-- calls each() once per key matching the pattern (SCAN may return a key
-- twice)
local function scan(pattern, each)
    local cursor = '0'
    local seen = {}

    repeat
        local r = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)

        cursor = r[1]

        for _, key in ipairs(r[2]) do
            if not seen[key] then
                seen[key] = true
                each(key)
            end
        end
    until cursor == '0'
end

-- the type of a key, when it is not the one expected
local function wrong_type(key, want)
    local t = redis.call('TYPE', key)

    t = type(t) == 'table' and t.ok or t

    if t ~= want and t ~= 'none' then
        return t
    end

    return nil
end

-- the withdrawal hashes, by the prefix of their player's keys
local withdrawals = {}

local function audit(key)
    local player = string.sub(key, 6, -9)
    local prefix = 'ibp:{' .. player .. '}:'

    wallets = wallets + 1

    -- the wallet

    local t = wrong_type(key, 'hash')

    if t then
        problem(player, 'the wallet is not a hash', 'hash', t)
        return
    end

    local w = redis.call('HMGET', key, 'balance', 'held', 'debt', 'seq')

    local fig = {}

    for i, f in ipairs({'balance', 'held', 'debt', 'seq'}) do
        local s = w[i] or '0'
        local n = integer(s)

        if n == nil then
            problem(player, f .. ' is not an integer', 'an integer',
                    shown(s))
        elseif n < 0 then
            problem(player, f .. ' is negative', '>= 0', fmt(n))
        end

        fig[f] = n
    end

    -- the ledger, a thousand entries at a time

    local ledger = prefix .. 'ledger'
    t = wrong_type(ledger, 'list')

    if t then
        problem(player, 'the ledger is not a list', 'list', t)
        return
    end

    local len = redis.call('LLEN', ledger)

    local sum, sum_ok, ids_ok = 0, true, true
    local pos = 0

    while pos < len do
        local chunk = redis.call('LRANGE', ledger, pos, pos + 999)

        if #chunk == 0 then
            break
        end

        for _, raw in ipairs(chunk) do
            pos = pos + 1

            local ok, e = pcall(cjson.decode, raw)

            if not ok or type(e) ~= 'table' then
                problem(player, 'ledger entry ' .. fmt(pos) .. ' is not JSON',
                        'an object', shown(raw))
                sum_ok, ids_ok = false, false
            else
                if whole(e.amount) then
                    sum = sum + e.amount
                else
                    problem(player, 'ledger entry ' .. fmt(pos)
                            .. ' has no integer amount', 'an integer',
                            shown(e.amount))
                    sum_ok = false
                end

                if ids_ok and e.id ~= pos then
                    problem(player, 'ledger ids do not run 1..seq at entry '
                            .. fmt(pos), fmt(pos),
                            shown(e.id))
                    ids_ok = false
                end

                for _, f in ipairs({'balance', 'held', 'debt'}) do
                    local x = e[f]

                    if x ~= nil and not whole(x) then
                        problem(player, 'ledger entry ' .. fmt(pos) .. ' '
                                .. f .. ' is not an integer', 'an integer',
                                shown(x))
                    elseif x ~= nil and x < 0 then
                        problem(player, 'ledger entry ' .. fmt(pos) .. ' '
                                .. f .. ' is negative', '>= 0', fmt(x))
                    end
                end
            end
        end
    end

    if sum_ok and fig.balance and fig.held and fig.debt then
        local total = fig.balance + fig.held - fig.debt

        if sum ~= total then
            problem(player, 'balance + held - debt is not the ledger sum',
                    fmt(sum), fmt(total))
        end
    end

    if fig.seq and fig.seq ~= len then
        problem(player, 'seq is not the ledger length', fmt(len),
                fmt(fig.seq))
    end

    -- its withdrawals

    local pending, pending_ok = 0, true

    for _, wd in ipairs(withdrawals[prefix] or {}) do
        local wt = wrong_type(wd, 'hash')
        local r = wt == nil and redis.call('HMGET', wd, 'status', 'amount')

        if wt then
            problem(player, string.sub(wd, #prefix + 1) .. ' is not a hash',
                    'hash', wt)
            pending_ok = false
        elseif r[1] == 'pending' then
            local n = integer(r[2] or '')

            if n == nil or n <= 0 then
                problem(player, 'pending ' .. string.sub(wd, #prefix + 1)
                        .. ' has no positive amount', 'an amount',
                        shown(r[2]))
                pending_ok = false
            else
                pending = pending + n
            end
        end
    end

    if pending_ok and fig.held and fig.held ~= pending then
        problem(player, 'held is not the sum of pending withdrawals',
                fmt(pending), fmt(fig.held))
    end
end

-- one pass over the keys for every withdrawal, not one per wallet
scan('ibp:\\{*\\}:wd:*', function(wd)
    local prefix = string.match(wd, '^(ibp:{[^}]*}:)wd:')

    if prefix then
        withdrawals[prefix] = withdrawals[prefix] or {}
        table.insert(withdrawals[prefix], wd)
    end
end)

-- the wallets in the order of their player ids (digits: shorter first)
local keys = {}

scan('ibp:\\{*\\}:wallet', function(key)
    table.insert(keys, key)
end)

table.sort(keys, function(a, b)
    if #a ~= #b then
        return #a < #b
    end

    return a < b
end)

for _, key in ipairs(keys) do
    audit(key)
end

if #problems == 0 then
    return {'ok ' .. fmt(wallets) .. ' wallets checked'}
end

table.insert(problems, 'FAILED ' .. fmt(#problems) .. ' mismatches')

return problems
