#!/usr/bin/perl

# callback_query: the webhook reply answers the query; the action (an
# invoice, a balance message) goes out through a subrequest to the Bot API.
# A failing Bot API call is logged once, not retried, and the bot token
# shows up in no log.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use InBotPay::Test;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $t = InBotPay::Test->new;
my $next = 731240000;

sub callback {
    my ($fixture, $data) = @_;
    my $u = $t->fixture($fixture);
    $u->{update_id} = 0 + $next++;
    $u->{callback_query}{data} = $data if defined $data;
    return $u;
}

sub answered {
    my ($r, $qid, $name) = @_;
    is $r->{status}, 200, "$name: 200";
    is $r->{json}{method}, 'answerCallbackQuery', "$name: answerCallbackQuery";
    is $r->{json}{callback_query_id}, $qid, "$name: callback_query_id";
}

sub check_invoice_call {
    my ($c, $chat, $amount, $update_id, $name) = @_;
    my $p = $c->{params} // {};
    is $c->{token}, $t->token, "$name: called with the bot token";
    is $p->{chat_id}, $chat, "$name: chat_id";
    is $p->{title}, 'Wallet top-up', "$name: title";
    is $p->{description}, "Add $amount ⭐ to your wallet.", "$name: description";
    is $p->{currency}, 'XTR', "$name: currency";
    is $p->{provider_token}, '', "$name: provider_token";
    is_deeply $p->{prices}, [ { label => 'Top-up', amount => $amount } ],
        "$name: prices";
    like $p->{payload} // '',
        qr/^1\.$chat\.$amount\.$update_id\.[A-Za-z0-9_-]{43}$/,
        "$name: payload";
    is $c->{http_status}, 200, "$name: the simulated Bot API accepted it";
}

# dep:100 from a chat message

$t->clear_calls;
my $u = $t->fixture('callback_query.json');
my $r = $t->update($u);
answered($r, '1822470999231616589', 'dep:100');
ok !exists $r->{json}{text} || $r->{json}{text} eq '', 'dep:100: no alert text';
my @c = $t->wait_calls(1, method => 'sendInvoice');
is scalar @c, 1, 'dep:100: one sendInvoice call';
check_invoice_call($c[0], 7000000001, 100, 731208412, 'dep:100');
sleep 0.3;
is scalar($t->calls), 1, 'dep:100: no other Bot API call';

# dep:500 from the /start keyboard

$t->clear_calls;
$r = $t->update(callback('callback_query.json', 'dep:500'));
answered($r, '1822470999231616589', 'dep:500');
@c = $t->wait_calls(1, method => 'sendInvoice');
check_invoice_call($c[0], 7000000001, 500, $next - 1, 'dep:500');

# bal

$t->clear_calls;
$t->redis('HSET', 'ibp:{7000000001}:wallet', 'balance', '350');
$r = $t->update(callback('callback_query.json', 'bal'));
answered($r, '1822470999231616589', 'bal');
@c = $t->wait_calls(1, method => 'sendMessage');
is scalar @c, 1, 'bal: one sendMessage call';
is $c[0]{params}{chat_id}, 7000000001, 'bal: chat_id';
is $c[0]{params}{text}, 'Your balance: 350 ⭐', 'bal: text';
sleep 0.3;
is scalar($t->calls(method => 'sendInvoice')), 0, 'bal: no invoice';

# dep:100 from an inline message: the invoice goes to the user

$t->clear_calls;
$r = $t->update($t->fixture('callback_query_inline.json'));
answered($r, '5937760149837500548', 'inline dep:100');
@c = $t->wait_calls(1, method => 'sendInvoice');
is scalar @c, 1, 'inline dep:100: one sendInvoice call';
check_invoice_call($c[0], 1987654320, 100, 731208413, 'inline dep:100');

# unknown data

for my $data ('zzz', '', 'dep:', 'dep:abc', 'bal:1', 'DEP:100') {
    $t->clear_calls;
    $r = $t->update(callback('callback_query.json', $data));
    answered($r, '1822470999231616589', "\"$data\"");
    is $r->{json}{text}, 'This button is no longer valid.', "\"$data\": text";
    sleep 0.3;
    is scalar($t->calls), 0, "\"$data\": no Bot API call";
}

# amounts no button of ours carries: no invoice, whatever the answer text

for my $data ('dep:0', 'dep:-5', 'dep:1.5', 'dep:0100', 'dep:100001',
              'dep:99999999999999999999') {
    $t->clear_calls;
    $r = $t->update(callback('callback_query.json', $data));
    answered($r, '1822470999231616589', "\"$data\"");
    sleep 0.3;
    is scalar($t->calls(method => 'sendInvoice')), 0, "\"$data\": no invoice";
}

# the Bot API fails: logged once, not retried, no token in the logs

my $token = $t->token;
my ($token_secret) = $token =~ /:(.+)$/;

for my $code (500, 403, 'close') {
    $t->sim_clear;
    $t->sim_fail(method => 'sendInvoice', code => $code);
    $t->clear_calls;
    my $log0 = length $t->error_log;

    $r = $t->update(callback('callback_query.json', 'dep:100'));
    answered($r, '1822470999231616589', "sendInvoice fails ($code)");

    @c = $t->wait_calls(1, method => 'sendInvoice');
    is scalar @c, 1, "sendInvoice fails ($code): called";

    # wait for the failure to be logged
    my $deadline = time + 5;
    my @lines;
    while (time < $deadline) {
        @lines = grep { /sendInvoice/ } split /\n/, substr($t->error_log, $log0);
        last if @lines;
        sleep 0.05;
    }
    sleep 1;    # room for a retry, if there were one
    @lines = grep { /sendInvoice/ } split /\n/, substr($t->error_log, $log0);

    my @ours = grep { !/upstream prematurely closed|while reading response/ }
               @lines;
    is scalar @ours, 1, "sendInvoice fails ($code): logged once"
        or diag join "\n", @lines;
    like $ours[0] // '', qr/\[(?:error|warn)\]/,
        "sendInvoice fails ($code): at error or warn level";
    like $ours[0] // '', qr/7000000001/,
        "sendInvoice fails ($code): the log line names the player";
    is scalar($t->calls(method => 'sendInvoice')), 1,
        "sendInvoice fails ($code): not retried";

    my $err = $t->error_log;
    my $acc = do {
        open my $fh, '<:raw', $t->dir . '/access.log' or die $!;
        local $/;
        <$fh> // '';
    };
    ok index($err, $token) < 0 && index($err, $token_secret) < 0,
        "sendInvoice fails ($code): no token in error.log"
        or diag join "\n", grep { /\Q$token_secret\E/ } split /\n/, $err;
    ok index($acc, $token) < 0 && index($acc, $token_secret) < 0,
        "sendInvoice fails ($code): no token in access.log";
}
$t->sim_clear;

# after the failures the bot works again

$t->clear_calls;
$r = $t->update(callback('callback_query.json', 'dep:1000'));
answered($r, '1822470999231616589', 'dep:1000 after the failures');
@c = $t->wait_calls(1, method => 'sendInvoice');
check_invoice_call($c[0], 7000000001, 1000, $next - 1,
                   'dep:1000 after the failures');

$t->stop;

done_testing;
