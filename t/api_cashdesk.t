#!/usr/bin/perl

# The cash-desk endpoints of the casino backend API: the list of pending
# withdrawals (made through the bot), settling one as paid or rejected
# with the payout provider's reference (the player and the ops chat are
# told, as with the buttons; the same reference again gets the same
# answer, anything else once settled is a 409; an unknown withdrawal a
# 404), adjustments up and down (an "adjust" ledger entry with the reason,
# the player told, a debit over the balance refused, repeats answered the
# same), and the ledger read page by page.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use InBotPay::Test;
use InBotPay::Wallet;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $J   = 7000000001;       # Jordan
my $K   = 1987654320;       # Kai
my $O   = 5550001234;       # Ola, who never talks to the bot
my $OPS = -1009999999999;
my $ADMIN = 111;

my $t = InBotPay::Test->new(api => 1,
                            http => "inbotpay_ops_chat $OPS;\n"
                                  . "inbotpay_admins $ADMIN;");
my $w = InBotPay::Wallet->new($t, first_update_id => 732300000);

sub call {
    my ($ep, $body, $name) = @_;
    my $r = $t->api($ep, $body);
    is $r->{status}, 200, "$name: 200" or diag $r->{content};
    return $r;
}

sub again {
    my ($ep, $body, $first, $name) = @_;
    my $before = $w->snapshot;
    $t->clear_calls;
    my $r = $t->api($ep, $body);
    is $r->{status}, 200, "$name again: 200";
    is $r->{content}, $first->{content}, "$name again: the same answer";
    is $w->snapshot, $before, "$name again: nothing changes";
    is_deeply [ $w->texts_to($J), $w->texts_to($K, pause => 0),
                $w->texts_to($OPS, pause => 0) ], [],
        "$name again: nobody is told again";
    return $r;
}

sub refused {
    my ($ep, $body, $status, $want, $name) = @_;
    my $before = $w->snapshot;
    $t->clear_calls;
    my $r = $t->api($ep, $body);
    is $r->{status}, $status, "$name: $status";
    is_deeply $r->{json}, $want, "$name: the answer" or diag $r->{content};
    is $w->snapshot, $before, "$name: nothing changes";
    is scalar($t->calls(method => 'sendMessage')), 0,
        "$name: nobody is told";
    return $r;
}

sub settle {
    my ($pid, $wd, $status, $ref) = @_;
    return { player => 0 + $pid, withdrawal => 0 + $wd, status => $status,
             reference => $ref };
}

sub withdraw {
    my ($pid, $amount, $dest) = @_;
    my $u = $w->message($pid, "/withdraw $amount $dest");
    my $r = $t->update($u);
    like $r->{json}{text} // '', qr/^Withdrawal #\d+ of $amount ⭐ to \Q$dest\E is pending\./,
        "/withdraw $amount $dest by $pid: pending";
    return $u->{update_id};
}

# The list entry of a withdrawal, from its record in Redis.
sub listed {
    my ($pid, $update) = @_;
    my %h = $w->rlist('HGETALL', "ibp:{$pid}:wd:$update");
    return { player => 0 + $pid, withdrawal => 0 + $update, id => $h{id},
             amount => $h{amount}, destination => $h{destination},
             created => $h{created} };
}

$w->start($J);
$w->start($K);
$w->deposit($J, 1000);
$w->deposit($K, 500);

#
# the list of pending withdrawals
#

my $r = call('withdrawals', {}, 'withdrawals, none pending');
is $r->{content}, '{"withdrawals":[]}', 'no withdrawal pending: an empty list';

my $u1 = withdraw($J, 300, 'UQdest-J1');
sleep 1.1;
my $u2 = withdraw($K, 200, 'EQ/kai"1');
sleep 1.1;
my $u3 = withdraw($J, 100, 'UQdest-J2');
$t->update($w->callback($J, "wdc:$u3"));
is scalar($w->sent($J, 'Withdrawal #2 was cancelled. Your balance: 700 ⭐')), 1,
    'Jordan cancels his withdrawal #2';

$r = call('withdrawals', {}, 'withdrawals');
is_deeply $r->{json}, { withdrawals => [ listed($J, $u1), listed($K, $u2) ] },
    'the two pending withdrawals, oldest first, not the cancelled one'
    or diag $r->{content};
is_deeply $r->{json}{withdrawals}[0],
    { player => $J, withdrawal => $u1, id => 1, amount => 300,
      destination => 'UQdest-J1',
      created => $r->{json}{withdrawals}[0]{created} },
    'the first entry: player, withdrawal, id, amount, destination';
cmp_ok abs($r->{json}{withdrawals}[0]{created} - time), '<', 60,
    'the first entry: created';
is $r->{json}{withdrawals}[1]{destination}, 'EQ/kai"1',
    'a destination with a slash and a quote comes back as it was';

#
# settle: paid
#

$t->clear_calls;
my $s1 = call('settle', settle($J, $u1, 'paid', 'PAY-0001'), 'settle #1 paid');
is $s1->{content},
    qq({"status":"ok","player":$J,"withdrawal":$u1,"id":1,"amount":300,)
  . qq("result":"paid","reference":"PAY-0001"}),
    'settle paid: the answer';
is $w->bhd($J), '700/0/0', 'settle paid: the held money is gone';
my $e = ($w->ledger($J))[-1];
is "$e->{type} $e->{amount} $e->{withdrawal}", 'withdrawal_paid -300 1',
    'settle paid: a withdrawal_paid entry';
my $rec = $w->withdrawal($J, 1);
is $rec->{status}, 'paid', 'settle paid: the withdrawal is paid';
is $rec->{reference}, 'PAY-0001', 'settle paid: the reference is kept';

is scalar($w->sent($J, 'Your withdrawal #1 of 300 ⭐ was paid.')), 1,
    'settle paid: the player is told';
is scalar($w->sent($OPS, "Withdrawal #1 of 300 ⭐ for player $J: paid"
                        . ' (reference PAY-0001).')), 1,
    'settle paid: the ops chat is told, with the reference'
    or diag explain [ $w->texts_to($OPS) ];

$r = call('withdrawals', {}, 'withdrawals after settling #1');
is_deeply $r->{json}, { withdrawals => [ listed($K, $u2) ] },
    'the paid withdrawal is no longer listed';

again('settle', settle($J, $u1, 'paid', 'PAY-0001'), $s1,
      'settle #1 with the same reference');

refused('settle', settle($J, $u1, 'paid', 'PAY-0002'), 409,
        { error => 'conflict', message => 'withdrawal is already paid' },
        'settle #1 with another reference');
refused('settle', settle($J, $u1, 'rejected', 'PAY-0001'), 409,
        { error => 'conflict', message => 'withdrawal is already paid' },
        'reject #1 once paid, same reference');

#
# settle: rejected
#

$t->clear_calls;
my $s2 = call('settle', settle($K, $u2, 'rejected', 'REJ-0001'),
              'settle Kai\'s #1 rejected');
is_deeply $s2->{json}, { status => 'ok', player => $K, withdrawal => $u2,
                         id => 1, amount => 200, result => 'rejected',
                         reference => 'REJ-0001' },
    'settle rejected: the answer, with the money back';
is $w->bhd($K), '500/0/0', 'settle rejected: the money is back';
$e = ($w->ledger($K))[-1];
is "$e->{type} $e->{amount} $e->{hold} $e->{withdrawal}",
    'withdrawal_released 0 -200 1', 'settle rejected: a withdrawal_released entry';
is scalar($w->sent($K, 'Your withdrawal #1 of 200 ⭐ was rejected. Your balance: 500 ⭐')),
    1, 'settle rejected: the player is told';
is scalar($w->sent($OPS, "Withdrawal #1 of 200 ⭐ for player $K: rejected"
                        . ' (reference REJ-0001).')), 1,
    'settle rejected: the ops chat is told, with the reference';

$r = call('withdrawals', {}, 'withdrawals after settling both');
is $r->{content}, '{"withdrawals":[]}', 'nothing is pending any more';

again('settle', settle($K, $u2, 'rejected', 'REJ-0001'), $s2,
      'reject Kai\'s #1 with the same reference');
refused('settle', settle($K, $u2, 'paid', 'REJ-0001'), 409,
        { error => 'conflict', message => 'withdrawal is already rejected' },
        'pay Kai\'s #1 once rejected');

refused('settle', settle($J, $u3, 'paid', 'PAY-0003'), 409,
        { error => 'conflict', message => 'withdrawal is already cancelled' },
        'pay a withdrawal its player cancelled');

# settled by an admin's button, then through the API
my $u4 = withdraw($J, 50, 'UQdest-J3');
$r = $t->update($w->callback($ADMIN, "wdok:$J:$u4", chat => $OPS));
is $r->{json}{text}, 'Withdrawal #3: paid.', 'an admin approves #3 in the ops chat';

# the messages go out after the answers: let them arrive (the ops chat's
# post of the new withdrawal, then the approval's to the player and the
# ops chat)
is $t->wait_calls(3, method => 'sendMessage'), 3,
    'the withdrawal and its approval are told';
refused('settle', settle($J, $u4, 'paid', 'PAY-0004'), 409,
        { error => 'conflict', message => 'withdrawal is already paid' },
        'pay through the API a withdrawal paid with the button');

# unknown withdrawals
for my $case ([ $J, 12345, 'an unknown withdrawal' ],
              [ $K, $u1, 'a withdrawal of another player' ],
              [ $O, $u1, 'a player who never used the bot' ])
{
    my ($pid, $wd, $name) = @$case;
    my $before = $w->snapshot;
    $r = $t->api('settle', settle($pid, $wd, 'paid', 'PAY-0009'));
    is $r->{status}, 404, "$name: 404";
    is $r->{json}{error}, 'unknown_withdrawal', "$name: unknown_withdrawal";
    is $w->snapshot, $before, "$name: nothing changes";
}

#
# adjust
#

is $w->bhd($J), '650/0/0', 'Jordan has 650';

$t->clear_calls;
my $a1b = { player => 0 + $J, tx => 'adj-1', amount => 50,
            reason => 'goodwill' };
my $a1 = call('adjust', $a1b, 'adjust +50');
is $a1->{content},
    qq({"status":"ok","tx":"adj-1","player":$J,"amount":50,"balance":700,"debt":0}),
    'adjust +50: the answer';
is $w->bhd($J), '700/0/0', 'adjust +50: the wallet';
$e = ($w->ledger($J))[-1];
is_deeply [ @$e{qw(type amount ref reason balance held debt)} ],
    [ 'adjust', 50, 'adj-1', 'goodwill', 700, 0, 0 ],
    'adjust +50: an adjust entry with the reason';
is_deeply [ map { $_->{params}{text} } $w->sent($J, qr/adjusted/) ],
    [ 'Your balance was adjusted by +50 ⭐ (goodwill). Your balance: 700 ⭐' ],
    'adjust +50: the player is told';
again('adjust', $a1b, $a1, 'adjust +50');

for my $other ([ amount => 51 ], [ reason => 'good will' ], [ amount => -50 ]) {
    my $body = { %$a1b, @$other };
    my $before = $w->snapshot;
    $r = $t->api('adjust', $body);
    is $r->{status}, 409, "adj-1 with $other->[0] $other->[1]: 409";
    is $r->{json}{error}, 'conflict', "adj-1 with $other->[0] $other->[1]: conflict";
    is $w->snapshot, $before, "adj-1 with $other->[0] $other->[1]: nothing changes";
}

my $REASON = 'chargeback "VIP" ⭐ #7';
$t->clear_calls;
my $a2b = { player => 0 + $J, tx => 'adj-2', amount => -30,
            reason => $REASON };
my $a2 = call('adjust', $a2b, 'adjust -30');
is_deeply $a2->{json}, { status => 'ok', tx => 'adj-2', player => $J,
                         amount => -30, balance => 670, debt => 0 },
    'adjust -30: the answer';
is $w->bhd($J), '670/0/0', 'adjust -30: the wallet';
$e = ($w->ledger($J))[-1];
is_deeply [ @$e{qw(type amount ref reason balance)} ],
    [ 'adjust', -30, 'adj-2', $REASON, 670 ],
    'adjust -30: an adjust entry with the reason as it was sent';
is_deeply [ map { $_->{params}{text} } $w->sent($J, qr/adjusted/) ],
    [ "Your balance was adjusted by -30 ⭐ ($REASON). Your balance: 670 ⭐" ],
    'adjust -30: the player is told';
again('adjust', $a2b, $a2, 'adjust -30');

my $a3b = { player => 0 + $J, tx => 'adj-3', amount => -671,
            reason => 'too much' };
my $before = $w->snapshot;
$t->clear_calls;
my $a3 = call('adjust', $a3b, 'adjust -671');
is $a3->{json}{status}, 'refused', 'a debit over the balance: refused';
is $a3->{json}{reason}, 'insufficient_funds',
    'a debit over the balance: insufficient_funds';
is_deeply [ @{ $a3->{json} }{qw(tx player amount balance)} ],
    [ 'adj-3', $J, -671, 670 ], 'a debit over the balance: tx, player, amount, balance';
is $w->bhd($J), '670/0/0', 'a debit over the balance: the wallet unchanged';
is scalar(grep { $_->{type} eq 'adjust' } $w->ledger($J)), 2,
    'a debit over the balance: no ledger entry';
is scalar($w->texts_to($J)), 0, 'a debit over the balance: the player is told nothing';
again('adjust', $a3b, $a3, 'the refused debit');

my $a4 = call('adjust', { player => 0 + $J, tx => 'adj-4', amount => -670,
                          reason => 'all of it' }, 'adjust -670');
is $a4->{json}{balance}, 0, 'a debit of the whole balance: ok, balance 0';
is $w->bhd($J), '0/0/0', 'a debit of the whole balance: the wallet';

# a player who never used the bot
my $a5 = call('adjust', { player => 0 + $O, tx => 'adj-5', amount => 25,
                          reason => 'welcome bonus' }, 'adjust a stranger');
is $a5->{content},
    qq({"status":"ok","tx":"adj-5","player":$O,"amount":25,"balance":25,"debt":0}),
    'a credit to a player who never used the bot';
is $w->bhd($O), '25/0/0', 'the stranger\'s wallet';

# the settlement again after the balance moved: still the first answer
again('settle', settle($J, $u1, 'paid', 'PAY-0001'), $s1,
      'settle #1 with the same reference after the balance moved');

#
# the ledger, page by page
#

my @raw = $w->rlist('LRANGE', "ibp:{$J}:ledger", 0, -1);
my @all = map { decode_json($_) } @raw;
my $n = @all;
cmp_ok $n, '>=', 10, "Jordan's ledger has $n entries";

$r = call('ledger', { player => 0 + $J }, 'ledger');
is_deeply $r->{json}, { player => $J, total => $n, entries => \@all },
    'ledger: every entry, oldest first, with the total';
ok index($r->{content}, join(',', @raw)) > 0,
    'ledger: the entries as stored, byte for byte';

$r = call('ledger', { player => 0 + $J, offset => 2, limit => 3 },
          'ledger offset 2 limit 3');
is_deeply $r->{json}, { player => $J, total => $n, entries => [ @all[2 .. 4] ] },
    'ledger offset 2 limit 3: entries 3 to 5';

$r = call('ledger', { player => 0 + $J, offset => $n - 1, limit => 100 },
          'ledger, the last page');
is_deeply $r->{json}{entries}, [ $all[-1] ], 'ledger, the last page: one entry';

$r = call('ledger', { player => 0 + $J, offset => 0, limit => 1 },
          'ledger limit 1');
is_deeply $r->{json}{entries}, [ $all[0] ], 'ledger limit 1: the first entry';

$r = call('ledger', { player => 0 + $J, offset => $n }, 'ledger past the end');
is_deeply $r->{json}, { player => $J, total => $n, entries => [] },
    'ledger past the end: no entries, the total';

$r = call('ledger', { player => 0 + $J, offset => 1000000 }, 'ledger far past');
is_deeply $r->{json}{entries}, [], 'ledger far past the end: no entries';

$r = call('ledger', { player => 6000000042 }, 'ledger of nobody');
is $r->{content}, '{"player":6000000042,"total":0,"entries":[]}',
    'ledger of a player without a wallet: empty';

# more than one default page
for my $i (1 .. 105) {
    $t->api('adjust', { player => 0 + $O, tx => "page-$i", amount => 1,
                        reason => 'page' });
}
my @o = $w->ledger($O);
is scalar @o, 106, 'Ola has 106 entries';
$r = call('ledger', { player => 0 + $O }, 'ledger of 106 entries');
is $r->{json}{total}, 106, 'ledger of 106: total 106';
is_deeply $r->{json}{entries}, [ @o[0 .. 99] ],
    'ledger of 106: the default limit is 100';
$r = call('ledger', { player => 0 + $O, offset => 100 }, 'ledger of 106, page 2');
is_deeply $r->{json}{entries}, [ @o[100 .. 105] ], 'ledger of 106: page 2';

#
# without an ops chat: the player is told, the ops chat is not
#

ok $t->reload(http => "inbotpay_admins $ADMIN;"), 'reload without the ops chat';
$w->deposit($J, 100);
my $u5 = withdraw($J, 40, 'UQdest-J4');
$t->clear_calls;
$r = call('settle', settle($J, $u5, 'paid', 'PAY-0005'), 'settle without an ops chat');
is $r->{json}{result}, 'paid', 'settle without an ops chat: paid';
is scalar($w->sent($J, 'Your withdrawal #4 of 40 ⭐ was paid.')), 1,
    'settle without an ops chat: the player is told';
is scalar($t->calls(method => 'sendMessage', chat_id => $OPS)), 0,
    'settle without an ops chat: nothing is posted to it';

for my $pid ($J, $K, $O) {
    is_deeply [ $w->audit($pid) ], [], "wallet $pid agrees with its ledger";
}

$t->stop;

done_testing;
