-- Registers a player (or refreshes their name) and opens their wallet.
--
-- KEYS[1]  ibp:{PLAYER}:player   hash: first_name, username, chat_id, since
-- KEYS[2]  ibp:{PLAYER}:wallet   hash: balance, held, debt, seq
-- ARGV[1]  first name
-- ARGV[2]  username, or "" when the player has none
-- ARGV[3]  private chat id
-- ARGV[4]  the time, in Unix seconds
--
-- Returns the balance as a string.

if not string.match(ARGV[3], '^-?[0-9]+$')
    or not string.match(ARGV[4], '^[0-9]+$')
then
    return redis.error_reply('BAD_ARGUMENT chat id and time are integers')
end

redis.call('HSETNX', KEYS[1], 'since', ARGV[4])
redis.call('HSET', KEYS[1], 'first_name', ARGV[1], 'username', ARGV[2],
           'chat_id', ARGV[3])

for _, field in ipairs({'balance', 'held', 'debt', 'seq'}) do
    redis.call('HSETNX', KEYS[2], field, '0')
end

return redis.call('HGET', KEYS[2], 'balance')
