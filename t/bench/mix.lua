-- wrk script for "make bench" (driven by t/bench/bench.pl, which sets the
-- environment below and writes the pools). Every request is a new, real-
-- shaped Telegram update or a signed backend API call; nothing repeats:
--
--   update_id   BENCH_UPDATE_BASE + n * threads + thread id
--   charge id   a fresh one per payment ("stxn" + pass tag + thread + n)
--
-- Kinds, chosen at random by weight (BENCH_MIX "pay=40,balance=25,..."):
--
--   pay       message.successful_payment of a signed invoice payload from
--             the thread's pool (pay.TID: "player amount payload", signed
--             in Perl with the inbotpay_invoice_secret_file key)
--   balance   /balance
--   transfer  /send @name N, and once that offer is old enough to have
--             been answered, the press on its Confirm button (txok:UPDATE)
--   game      the next line of api.TID: a signed POST /api/bet or
--             /api/win ("endpoint timestamp signature body"); each win
--             names a bet placed well before it in the same list
--   start     /start
--
-- Per-kind counters are thread globals, summed in done(), which prints
-- "BENCH key value" lines for bench.pl. BENCH_QUOTA (responses per
-- thread) stops a thread early, for the long memory pass.

local env = function(name, default)
    local v = os.getenv(name)
    if v == nil or v == '' then return default end
    return v
end

local threads = {}
local next_tid = 0

function setup(thread)
    thread:set('tid', next_tid)
    next_tid = next_tid + 1
    table.insert(threads, thread)
end

-- thread state --------------------------------------------------------------

local KINDS = { 'pay', 'balance', 'transfer', 'game', 'start' }

local secret, players, user_base, nthreads, base, tag, quota, gap
local weights, wsum = {}, 0
local pays, npays, pay_i = {}, 0, 0
local apis, napis, api_i = {}, 0, 0
local offers, offer_head, offer_tail = {}, 1, 0
local seq = 0
local charge_pad

-- counters (globals, read with thread:get)
sent = {}
resp, non2xx, pay_ok, pay_bad, balance_ok, send_ok, confirm_ok = 0, 0, 0, 0, 0, 0, 0
bet_ok, win_ok, api_refused, start_ok, other_ok, pay_wrapped, api_out = 0, 0, 0, 0, 0, 0, 0
status_counts = {}

local function read_lines(path, into)
    local f = io.open(path, 'r')
    if not f then return 0 end
    local n = 0
    for line in f:lines() do
        n = n + 1
        into[n] = line
    end
    f:close()
    return n
end

function init(args)
    local dir = env('BENCH_POOL_DIR', '.')
    secret = env('BENCH_WEBHOOK_SECRET', '')
    players = tonumber(env('BENCH_PLAYERS', '500'))
    user_base = tonumber(env('BENCH_USER_BASE', '7100000000'))
    nthreads = tonumber(env('BENCH_THREADS', '1'))
    base = tonumber(env('BENCH_UPDATE_BASE', '800000000'))
    tag = env('BENCH_TAG', 'x')
    quota = tonumber(env('BENCH_QUOTA', '0'))
    gap = tonumber(env('BENCH_GAP', '256'))

    for _, k in ipairs(KINDS) do sent[k] = 0 end
    for part in string.gmatch(env('BENCH_MIX', 'pay=1'), '[^,]+') do
        local k, w = string.match(part, '^%s*(%w+)=(%d+)%s*$')
        if k and tonumber(w) > 0 then
            wsum = wsum + tonumber(w)
            table.insert(weights, { k, wsum })
        end
    end

    npays = read_lines(dir .. '/pay.' .. tid, pays)
    napis = read_lines(dir .. '/api.' .. tid, apis)

    math.randomseed(tonumber(env('BENCH_SEED', '1')) * 1000 + tid)

    -- Telegram's charge ids are about 100 characters long
    charge_pad = string.rep('Q', 60)
end

-- updates -------------------------------------------------------------------

local function new_update_id()
    seq = seq + 1
    return string.format('%d', base + seq * nthreads + tid)
end

local function user(i)
    return string.format('%d', user_base + i), 'bench_u' .. i, 'Player' .. i
end

local function from_chat(i)
    local id, uname, first = user(i)
    return '"from":{"id":' .. id .. ',"is_bot":false,"first_name":"' .. first
        .. '","username":"' .. uname .. '","language_code":"en"},'
        .. '"chat":{"id":' .. id .. ',"first_name":"' .. first
        .. '","username":"' .. uname .. '","type":"private"}'
end

local HEADERS_TG

local function webhook(body)
    return wrk.format('POST', '/tg/webhook', HEADERS_TG, body)
end

local function message(upd, i, inner)
    return '{"update_id":' .. upd .. ',"message":{"message_id":'
        .. (seq % 1000000 + 100) .. ',' .. from_chat(i)
        .. ',"date":' .. os.time() .. ',' .. inner .. '}}'
end

local function command(i, text, entities)
    local upd = new_update_id()
    return upd, webhook(message(upd, i, '"text":"' .. text
        .. '","entities":[' .. entities .. ']'))
end

local function cmd_entity(len)
    return '{"offset":0,"length":' .. len .. ',"type":"bot_command"}'
end

local function req_pay()
    if npays == 0 then return nil end
    pay_i = pay_i + 1
    if pay_i > npays then
        pay_i = 1
        pay_wrapped = pay_wrapped + 1
    end
    local player, amount, payload =
        string.match(pays[pay_i], '^(%d+) (%d+) (%S+)$')
    local i = tonumber(player) - user_base
    local upd = new_update_id()
    local charge = 'stxn' .. tag .. 'T' .. tid .. 'N' .. seq .. charge_pad
    return webhook(message(upd, i, '"successful_payment":{"currency":"XTR",'
        .. '"total_amount":' .. amount .. ',"invoice_payload":"' .. payload
        .. '","telegram_payment_charge_id":"' .. charge
        .. '","provider_payment_charge_id":""}'))
end

local function req_balance()
    local _, r = command(math.random(0, players - 1), '/balance',
                         cmd_entity(8))
    return r
end

local function req_start()
    local _, r = command(math.random(0, players - 1), '/start',
                         cmd_entity(6))
    return r
end

local function req_transfer()
    -- confirm the oldest offer once it is `gap` requests old
    local o = offers[offer_head]
    if o and seq - o.seq >= gap then
        offers[offer_head] = nil
        offer_head = offer_head + 1
        local upd = new_update_id()
        local id, uname, first = user(o.from)
        local body = '{"update_id":' .. upd .. ',"callback_query":{'
            .. '"id":"' .. string.format('%d', 4000000000000000000 + upd)
            .. '",' .. string.match(from_chat(o.from), '^("from":%b{})')
            .. ',"chat_instance":"-6639932280754626925",'
            .. '"message":{"message_id":' .. (seq % 1000000 + 100) .. ','
            .. '"from":{"id":8012345678,"is_bot":true,"first_name":"Bench",'
            .. '"username":"InBotPayDemoBot"},'
            .. '"chat":{"id":' .. id .. ',"first_name":"' .. first
            .. '","username":"' .. uname .. '","type":"private"},'
            .. '"date":' .. os.time() .. ',"text":"Send ' .. o.amount
            .. ' \226\173\144 to @' .. o.to .. '?",'
            .. '"reply_markup":{"inline_keyboard":[[{"text":"Confirm",'
            .. '"callback_data":"txok:' .. o.upd .. '"},{"text":"Cancel",'
            .. '"callback_data":"txno:' .. o.upd .. '"}]]}},'
            .. '"data":"txok:' .. o.upd .. '"}}'
        sent.confirm = (sent.confirm or 0) + 1
        return webhook(body)
    end

    local a = math.random(0, players - 1)
    local b = (a + math.random(1, players - 1)) % players
    local _, to = user(b)
    local amount = math.random(1, 9)
    local text = '/send @' .. to .. ' ' .. amount
    local upd, r = command(a, text, cmd_entity(5)
        .. ',{"offset":6,"length":' .. (#to + 1) .. ',"type":"mention"}')
    offer_tail = offer_tail + 1
    offers[offer_tail] = { seq = seq, upd = upd, from = a, to = to,
                           amount = amount }
    sent.send = (sent.send or 0) + 1
    return r
end

local function req_game()
    api_i = api_i + 1
    if api_i > napis then
        api_out = api_out + 1
        return nil
    end
    local endpoint, ts, sig, body =
        string.match(apis[api_i], '^(%S+) (%S+) (%S+) (.*)$')
    return wrk.format('POST', '/api/' .. endpoint, {
        ['Content-Type'] = 'application/json',
        ['X-InBotPay-Timestamp'] = ts,
        ['X-InBotPay-Signature'] = sig,
    }, body)
end

local MAKERS = { pay = req_pay, balance = req_balance,
                 transfer = req_transfer, game = req_game, start = req_start }

function request()
    if not HEADERS_TG then
        HEADERS_TG = { ['Content-Type'] = 'application/json',
                       ['X-Telegram-Bot-Api-Secret-Token'] = secret }
    end

    local r = math.random(1, wsum)
    local kind = weights[#weights][1]
    for _, w in ipairs(weights) do
        if r <= w[2] then kind = w[1]; break end
    end

    local req = MAKERS[kind]()
    if req == nil then          -- a pool ran out: send a /balance instead
        kind = 'balance'
        req = req_balance()
    end
    sent[kind] = sent[kind] + 1
    return req
end

function response(status, headers, body)
    resp = resp + 1
    status_counts[status] = (status_counts[status] or 0) + 1

    if status < 200 or status > 299 then
        non2xx = non2xx + 1
    elseif string.find(body, 'Deposit of ', 1, true) then
        pay_ok = pay_ok + 1
    elseif string.find(body, 'could not be matched', 1, true) then
        pay_bad = pay_bad + 1
    elseif string.find(body, '"text":"Your balance:', 1, true) then
        balance_ok = balance_ok + 1
    elseif string.find(body, '"text":"Send ', 1, true) then
        send_ok = send_ok + 1
    elseif string.find(body, '"method":"answerCallbackQuery"', 1, true)
           and not string.find(body, '"text":', 1, true) then
        -- a Confirm that moved the money: a silent answer to the press;
        -- "You sent ..." and "You received ..." go out as Bot API calls
        confirm_ok = confirm_ok + 1
    elseif string.find(body, '"status":"refused"', 1, true) then
        api_refused = api_refused + 1
    elseif string.find(body, '"status":"ok"', 1, true) then
        if string.find(body, '"bet":', 1, true) then
            win_ok = win_ok + 1
        else
            bet_ok = bet_ok + 1
        end
    elseif string.find(body, '"text":"Welcome', 1, true) then
        start_ok = start_ok + 1
    else
        other_ok = other_ok + 1
        if other_ok <= 3 then
            io.stderr:write('bench: unexpected answer: ', body, '\n')
        end
    end

    if quota > 0 and resp >= quota then
        wrk.thread:stop()
    end
end

-- summary -------------------------------------------------------------------

local COUNTERS = { 'resp', 'non2xx', 'pay_ok', 'pay_bad', 'balance_ok',
                   'send_ok', 'confirm_ok', 'bet_ok', 'win_ok',
                   'api_refused', 'start_ok', 'other_ok', 'pay_wrapped',
                   'api_out' }

function done(summary, latency, requests)
    local total = {}
    local statuses = {}
    local sent_total = {}

    for _, t in ipairs(threads) do
        for _, c in ipairs(COUNTERS) do
            total[c] = (total[c] or 0) + (t:get(c) or 0)
        end
        for k, v in pairs(t:get('sent') or {}) do
            sent_total[k] = (sent_total[k] or 0) + v
        end
        for k, v in pairs(t:get('status_counts') or {}) do
            statuses[k] = (statuses[k] or 0) + v
        end
    end

    local out = function(k, v) io.write(string.format('BENCH %s %s\n', k, v)) end

    out('requests', summary.requests)
    out('duration_us', summary.duration)
    out('bytes', summary.bytes)
    out('err_connect', summary.errors.connect)
    out('err_read', summary.errors.read)
    out('err_write', summary.errors.write)
    out('err_status', summary.errors.status)
    out('err_timeout', summary.errors.timeout)
    out('lat_p50_us', latency:percentile(50))
    out('lat_p99_us', latency:percentile(99))
    out('lat_p999_us', latency:percentile(99.9))
    out('lat_max_us', latency.max)
    for _, c in ipairs(COUNTERS) do out(c, total[c] or 0) end
    for k, v in pairs(sent_total) do out('sent_' .. k, v) end
    for k, v in pairs(statuses) do out('status_' .. k, v) end
end
