#!/usr/bin/perl

# /start registers the player and greets with the deposit keyboard;
# /balance reads the wallet; /help, unknown commands and plain text in a
# private chat get the command list.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use JSON::PP;
use InBotPay::Test;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $HELP = "Commands:\n/balance - your balance\n/deposit N - add N ⭐\n"
         . "/withdraw N DESTINATION - withdraw N ⭐\n"
         . "/send \@name N - send N ⭐ to another player\n"
         . "/history - your latest operations\n"
         . "/help - this list";

my $KEYBOARD = { inline_keyboard => [
    [ { text => '100 ⭐',  callback_data => 'dep:100' },
      { text => '500 ⭐',  callback_data => 'dep:500' },
      { text => '1000 ⭐', callback_data => 'dep:1000' } ],
    [ { text => 'Balance', callback_data => 'bal' } ],
] };

my $t = InBotPay::Test->new;

sub rlist {
    my @r = $t->redis(@_);
    return @r == 1 && ref $r[0] eq 'ARRAY' ? @{ $r[0] } : @r;
}

sub message {
    my ($fixture, $id, $text, $entity_len) = @_;
    my $u = $t->fixture($fixture);
    $u->{update_id} = $id;
    if (defined $text) {
        $u->{message}{text} = $text;
        if (defined $entity_len) {
            $u->{message}{entities} = [
                { offset => 0, length => $entity_len, type => 'bot_command' } ];
        } else {
            delete $u->{message}{entities};
        }
    }
    return $u;
}

sub reply_ok {
    my ($r, $chat, $text, $name) = @_;
    is $r->{status}, 200, "$name: 200";
    like $r->{headers}{'content-type'} // '', qr{^application/json\b},
        "$name: JSON";
    is $r->{json}{method}, 'sendMessage', "$name: sendMessage";
    is $r->{json}{chat_id}, $chat, "$name: chat_id";
    is $r->{json}{text}, $text, "$name: text";
}

# /balance before /start: zero, nothing invented

my $r = $t->update(message('balance.json', 731209001));
reply_ok($r, 7000000001, 'Your balance: 0 ⭐', '/balance of an unknown player');

# /start

my $now = time;
$r = $t->update($t->fixture('start.json'));
reply_ok($r, 7000000001, "Welcome, Jordan!\nYour balance: 0 ⭐", '/start');
is_deeply $r->{json}{reply_markup}, $KEYBOARD, '/start: the deposit keyboard';

my %p = rlist('HGETALL', 'ibp:{7000000001}:player');
is $p{first_name}, 'Jordan', 'player hash: first_name';
is $p{username}, 'jordan_tp_demo', 'player hash: username';
is $p{chat_id}, '7000000001', 'player hash: chat_id';
like $p{since} // '', qr/^\d+$/, 'player hash: since is a number';
cmp_ok abs(($p{since} // 0) - $now), '<', 120,
    'player hash: since is the time of /start';
my $since = $p{since};

# /start again keeps "since"

$r = $t->update(message('start.json', 731209002, '/start', 6));
reply_ok($r, 7000000001, "Welcome, Jordan!\nYour balance: 0 ⭐",
         '/start again');
is $t->redis('HGET', 'ibp:{7000000001}:player', 'since'), $since,
    '/start again: since unchanged';

# a deep-link /start, another player

$r = $t->update($t->fixture('start_deeplink.json'));
reply_ok($r, 1987654320, "Welcome, Kai!\nYour balance: 0 ⭐",
         '/start ref_abc');
is_deeply $r->{json}{reply_markup}, $KEYBOARD, '/start ref_abc: keyboard';
is $t->redis('HGET', 'ibp:{1987654320}:player', 'first_name'), 'Kai',
    '/start ref_abc: Kai registered';
is $t->redis('HGET', 'ibp:{1987654320}:player', 'chat_id'), '1987654320',
    '/start ref_abc: chat_id stored';

# /balance reads the wallet

$r = $t->update($t->fixture('balance.json'));
reply_ok($r, 7000000001, 'Your balance: 0 ⭐', '/balance after /start');

$t->redis('HSET', 'ibp:{7000000001}:wallet', 'balance', '2500');
$r = $t->update(message('balance.json', 731209003));
reply_ok($r, 7000000001, 'Your balance: 2500 ⭐',
         '/balance reads the wallet in Redis');

$r = $t->update(message('start.json', 731209004, '/start', 6));
reply_ok($r, 7000000001, "Welcome, Jordan!\nYour balance: 2500 ⭐",
         '/start shows the balance');

$t->redis('HSET', 'ibp:{7000000001}:wallet', 'balance', '9007199254740993');
$r = $t->update(message('balance.json', 731209005));
reply_ok($r, 7000000001, 'Your balance: 9007199254740993 ⭐',
         '/balance above 2^53 is exact');

is $t->redis('HGET', 'ibp:{1987654320}:wallet', 'balance') // '0', '0',
    'the other player is untouched';

# /help, unknown commands, plain text

$r = $t->update($t->fixture('help.json'));
reply_ok($r, 612345678, $HELP, '/help');

$r = $t->update(message('help.json', 731209006, '/frobnicate', 11));
reply_ok($r, 612345678, $HELP, 'unknown command');

$r = $t->update($t->fixture('plain_text.json'));
reply_ok($r, 612345678, $HELP, 'plain text in a private chat');

$r = $t->update(message('help.json', 731209007, '/help@InBotPayDemoBot', 21));
reply_ok($r, 612345678, $HELP, '/help@InBotPayDemoBot');

my $g = message('plain_text.json', 731209008);
$g->{message}{chat} = { id => -1001234567890, type => 'supergroup',
                        title => 'Demo Players Lounge' };
$r = $t->update($g);
is $r->{status}, 200, 'plain text in a supergroup: 200';
is $r->{content}, '', 'plain text in a supergroup: no reply';

$t->stop;

done_testing;
