-- Registers a player (or refreshes their names) and opens their wallet.
--
-- KEYS[1]  ibp:{PLAYER}:player   hash: first_name, username, chat_id, since
-- KEYS[2]  ibp:{PLAYER}:wallet
-- KEYS[3]  ibp:usernames         hash: lowercase username -> player id
-- ARGV[1]  first name
-- ARGV[2]  username, or "" when the player has none
-- ARGV[3]  the username in lower case, or ""
-- ARGV[4]  player id
-- ARGV[5]  private chat id
-- ARGV[6]  the time, in Unix seconds
--
-- Returns the balance as a string.
--
-- ibp:usernames lies outside the player's hash slot: on Redis Cluster this
-- script needs the index moved to a lookup of its own.

if ibp_count(ARGV[4]) == nil or not string.match(ARGV[5], '^-?[0-9]+$') then
    return redis.error_reply('BAD_ARGUMENT player and chat ids are integers')
end

ibp_check_time(ARGV[6])

local old = redis.call('HGET', KEYS[1], 'username')

if old and old ~= '' and string.lower(old) ~= ARGV[3]
    and redis.call('HGET', KEYS[3], string.lower(old)) == ARGV[4]
then
    redis.call('HDEL', KEYS[3], string.lower(old))
end

if ARGV[3] ~= '' then
    redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
end

redis.call('HSETNX', KEYS[1], 'since', ARGV[6])
redis.call('HSET', KEYS[1], 'first_name', ARGV[1], 'username', ARGV[2],
           'chat_id', ARGV[5])

for _, field in ipairs({'balance', 'held', 'debt', 'seq'}) do
    redis.call('HSETNX', KEYS[2], field, '0')
end

return redis.call('HGET', KEYS[2], 'balance')
