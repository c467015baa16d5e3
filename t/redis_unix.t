#!/usr/bin/perl

# inbotpay_redis unix:/path: the wallets reached over a unix socket, with
# the same answers as over TCP.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use InBotPay::Test;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $t = InBotPay::Test->new();
my $sock = $t->dir . '/redis/redis.sock';

ok -S $sock, 'Redis listens on a unix socket too';

ok $t->reload(server => "inbotpay_redis unix:$sock;\n"),
    'nginx reloads with inbotpay_redis unix:PATH';

$t->redis('HSET', 'ibp:{7000000001}:wallet', 'balance', '4242');

my $u = $t->fixture('balance.json');
$u->{update_id} = $t->next_update_id;

my $r = $t->update($u);
is $r->{status}, 200, '/balance over the socket: 200';
is $r->{json}{text}, 'Your balance: 4242 ⭐',
    '/balance over the socket: the balance';

# the TCP port is not what answered: with the socket file gone, new
# workers cannot reach Redis, though its port still answers

unlink $sock;
$t->reload(server => "inbotpay_redis unix:$sock;\n");

$u->{update_id} = $t->next_update_id;
is $t->update($u)->{status}, 503, 'no socket: 503';

$t->stop;

done_testing;
