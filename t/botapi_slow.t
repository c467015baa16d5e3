#!/usr/bin/perl

# A Bot API call made as a subrequest keeps the webhook's connection busy
# until the call ends.  The reply to such an update closes the connection,
# so a hung Bot API never holds back the next update Telegram sends.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use JSON::PP;
use Time::HiRes qw(time);
use InBotPay::Test;

my $t = InBotPay::Test->new();

$t->sim_fail(method => 'sendMessage', code => 'hang');

my $press = $t->fixture('callback_query.json');
$press->{callback_query}{data} = 'bal';

my $help = $t->fixture('help.json');

my $json = JSON::PP->new->utf8;

sub request {
    my ($update) = @_;
    my $body = $json->encode($update);

    return "POST /tg/webhook HTTP/1.1\r\nHost: localhost\r\n"
           . "Content-Type: application/json\r\n"
           . 'X-Telegram-Bot-Api-Secret-Token: ' . $t->secret . "\r\n"
           . 'Content-Length: ' . length($body) . "\r\n\r\n" . $body;
}

my $t0 = time;
my $raw = $t->raw_request(request($press), timeout => 3);
my $dt = time - $t0;

like $raw, qr{^HTTP/1\.1 200 }, 'the button press is answered';
like $raw, qr/^Connection: close\r$/mi,
    'the reply closes the connection the Bot API call holds';
like $raw, qr/"method":"answerCallbackQuery"/, 'the answer to the press';
cmp_ok $dt, '<', 1, sprintf('answered at once (%.2fs)', $dt);

is $t->wait_calls(1, method => 'sendMessage'), 1,
    'the balance message went to the (hanging) Bot API';

# an update with no Bot API call keeps its connection alive

$raw = $t->raw_request(request($help), timeout => 3);
like $raw, qr/^Connection: keep-alive\r$/mi,
    'a reply with no Bot API call keeps the connection';

$t0 = time;
my $r = $t->update($help);
is $r->{status}, 200, 'the next update is answered while the call hangs';
cmp_ok time - $t0, '<', 1, 'and at once';

$t->sim_clear;
$t->stop;

done_testing;
