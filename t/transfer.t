#!/usr/bin/perl

# /send RECIPIENT N between players who used /start: the confirmation and
# its buttons, the move on Confirm (both wallets, both ledger entries, both
# players told), Cancel, and the refusals: to yourself, unknown recipient,
# bad amount, not enough balance at request and at confirm time, an
# expired confirmation, a repeated confirm, confirm after cancel, a forged
# confirmation id, and the same /send update twice.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use JSON::PP;
use InBotPay::Test;
use InBotPay::Wallet;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $J = 7000000001;    # Jordan, @jordan_tp_demo
my $K = 1987654320;    # Kai, @kai_sample

my $BAD = 'The amount must be a whole number from 1 to 100000.'
        . ' Example: /send @name 100';

my $t = InBotPay::Test->new;
my $w = InBotPay::Wallet->new($t, first_update_id => 731700000);

sub reply {
    my ($r, $chat, $text, $name) = @_;
    is $r->{status}, 200, "$name: 200";
    is $r->{json}{method}, 'sendMessage', "$name: sendMessage";
    is $r->{json}{chat_id}, $chat, "$name: chat_id";
    is $r->{json}{text}, $text, "$name: text";
}

sub confirmation {
    my ($r, $chat, $amount, $name, $c, $label) = @_;
    reply($r, $chat, "Send $amount ⭐ to $name?", $label);
    is_deeply $r->{json}{reply_markup}, { inline_keyboard => [ [
        { text => 'Confirm', callback_data => "txok:$c" },
        { text => 'Cancel',  callback_data => "txno:$c" },
    ] ] }, "$label: Confirm and Cancel buttons";
}

sub press {
    my ($who, $data, $qid) = @_;
    my $r = $t->update($w->callback($who, $data, query_id => $qid));
    is $r->{status}, 200, "$qid: 200";
    is $r->{json}{method}, 'answerCallbackQuery', "$qid: answerCallbackQuery";
    is $r->{json}{callback_query_id}, $qid, "$qid: callback_query_id";
    return $r;
}

sub send_cmd { $t->update($w->message($_[0], $_[1])) }

is $w->start($J)->{json}{text}, "Welcome, Jordan!\nYour balance: 0 ⭐",
    'Jordan starts';
is $w->start($K)->{json}{text}, "Welcome, Kai!\nYour balance: 0 ⭐",
    'Kai starts';
is $t->redis('HGET', 'ibp:usernames', 'kai_sample'), $K,
    'ibp:usernames: kai_sample';
is $t->redis('HGET', 'ibp:usernames', 'jordan_tp_demo'), $J,
    'ibp:usernames: jordan_tp_demo';

my ($r) = $w->deposit($J, 1000);
is $r->{json}{text}, 'Deposit of 1000 ⭐ received. Your balance: 1000 ⭐',
    'Jordan deposits 1000';

#
# /send @username N, confirm
#

my $t0 = time;
my $u = $w->message($J, '/send @kai_sample 100');
my $c1 = $u->{update_id};
$r = $t->update($u);
confirmation($r, $J, 100, '@kai_sample', $c1, '/send @kai_sample 100');
my %tr = $w->rlist('HGETALL', "ibp:{$J}:transfer:$c1");
is $tr{to}, $K, 'transfer record: to';
is $tr{amount}, '100', 'transfer record: amount';
is $tr{status}, 'pending', 'transfer record: pending';
ok $tr{expires} >= $t0 + 290 && $tr{expires} <= time + 301,
    "transfer record: expires in 5 minutes ($tr{expires})";
is $w->bhd($J), '1000/0/0', 'nothing moves before Confirm';
is $w->bhd($K), '0/0/0', 'Kai has nothing yet';

# the same update again: one confirmation record
my $before = $w->snapshot;
$r = $t->update($u);
confirmation($r, $J, 100, '@kai_sample', $c1, 'the same /send update again');
is $w->snapshot, $before, 'the same /send update again: nothing changes';
is scalar(my @k = $w->rlist('KEYS', "ibp:{$J}:transfer:*")), 1,
    'one transfer record';

$t->clear_calls;
$r = press($J, "txok:$c1", 'q-ok-1');
ok scalar $w->sent($J, 'You sent 100 ⭐ to @kai_sample. Your balance: 900 ⭐'),
    'Confirm: the sender is told';
ok scalar $w->sent($K, 'You received 100 ⭐ from @jordan_tp_demo. Your balance: 100 ⭐'),
    'Confirm: the recipient is told';
is $w->bhd($J), '900/0/0', 'Confirm: Jordan 900';
is $w->bhd($K), '100/0/0', 'Confirm: Kai 100';
is $t->redis('HGET', "ibp:{$J}:transfer:$c1", 'status'), 'done',
    'transfer record: done';

my $e = ($w->ledger($J))[-1];
is $e->{type}, 'transfer_out', 'Jordan\'s ledger: transfer_out';
is $e->{amount}, -100, 'transfer_out: -100';
is $e->{peer}, $K, 'transfer_out: peer Kai';
is "$e->{balance}/$e->{held}/$e->{debt}", '900/0/0', 'transfer_out: figures';
my @kl = $w->ledger($K);
is scalar @kl, 1, 'Kai\'s ledger: one entry';
$e = $kl[0];
is $e->{id}, 1, 'transfer_in: id 1';
is $e->{type}, 'transfer_in', 'Kai\'s ledger: transfer_in';
is $e->{amount}, 100, 'transfer_in: +100';
is $e->{peer}, $J, 'transfer_in: peer Jordan';
is "$e->{balance}/$e->{held}/$e->{debt}", '100/0/0', 'transfer_in: figures';

# confirm again, by the sender, then the same callback update again
$before = $w->snapshot;
$t->clear_calls;
$r = press($J, "txok:$c1", 'q-ok-1-again');
is $r->{json}{text}, 'This transfer was already made.', 'Confirm again';
my $again = $w->callback($J, "txok:$c1", query_id => 'q-ok-1-third');
$t->update($again);
$t->update($again);
is $w->snapshot, $before, 'Confirm again: nothing moves';
is scalar($w->texts_to($K)), 0, 'Confirm again: Kai is told nothing';

#
# /send ID N, cancel, then confirm
#

$u = $w->message($J, "/send $K 50");
my $c2 = $u->{update_id};
confirmation($t->update($u), $J, 50, '@kai_sample', $c2, "/send $K 50");

$t->clear_calls;
$r = press($J, "txno:$c2", 'q-no-2');
my @said = grep { $_ eq 'Transfer cancelled.' }
           ($r->{json}{text} // ''), $w->texts_to($J);
is scalar @said, 1, 'Cancel: "Transfer cancelled."';
is $t->redis('HGET', "ibp:{$J}:transfer:$c2", 'status'), 'cancelled',
    'transfer record: cancelled';
$before = $w->snapshot;
$r = press($J, "txok:$c2", 'q-ok-2');
is $r->{json}{text}, 'This transfer was cancelled.', 'Confirm after Cancel';
is $w->snapshot, $before, 'Confirm after Cancel: nothing moves';

#
# refusals at the request
#

my @refused;

for my $case (
    [ '/send @jordan_tp_demo 5', 'You cannot send to yourself.' ],
    [ "/send $J 5", 'You cannot send to yourself.' ],
    [ '/send @nobody_here 5', 'No player @nobody_here has used this bot.' ],
    [ '/send 123456789 5', 'No player 123456789 has used this bot.' ],
    (map { [ "/send \@kai_sample $_", $BAD ] }
         '0', '-1', '1.5', 'abc', '0100', '100001', '99999999999999999999'),
    [ '/send @kai_sample 901', 'Not enough balance: you have 900 ⭐.' ],
) {
    my ($text, $want) = @$case;
    my $u = $w->message($J, $text);
    push @refused, $u;
    $r = $t->update($u);
    reply($r, $J, $want, $text);
    ok !$r->{json}{reply_markup}, "$text: no buttons";
    is $w->snapshot, $before, "$text: nothing changes";
}

#
# not enough balance at confirm time
#

$u = $w->message($J, '/send @kai_sample 500');
my $c3 = $u->{update_id};
confirmation($t->update($u), $J, 500, '@kai_sample', $c3, '/send 500');
$u = $w->message($J, '/send @Kai_Sample 800');
my $c4 = $u->{update_id};
confirmation($t->update($u), $J, 800, '@kai_sample', $c4, '/send @Kai_Sample 800');

press($J, "txok:$c3", 'q-ok-3');
ok scalar $w->sent($J, 'You sent 500 ⭐ to @kai_sample. Your balance: 400 ⭐'),
    'the 500 is sent';
$before = $w->snapshot;
$t->clear_calls;
$r = press($J, "txok:$c4", 'q-ok-4');
is $r->{json}{text}, 'Not enough balance: you have 400 ⭐.',
    'the 800: not enough balance at confirm time';
is $w->snapshot, $before, 'not enough at confirm time: nothing moves';
is scalar($w->texts_to($K)), 0, 'not enough at confirm time: Kai told nothing';

#
# forged confirmations
#

for my $case ([ $J, 'txok:731799999' ], [ $J, 'txok:0' ], [ $J, 'txok:abc' ],
              [ $J, 'txok:' ], [ $K, "txok:$c4" ], [ $K, "txno:$c4" ])
{
    my ($who, $data) = @$case;
    $t->clear_calls;
    $r = press($who, $data, "q-forged-$who-$data");
    unlike $r->{json}{text} // '', qr/^You sent/, "$data by $who: not sent";
    is $w->snapshot, $before, "$data by $who: nothing moves";
    is scalar($w->texts_to($K)) + scalar($w->texts_to($J, pause => 0)), 0,
        "$data by $who: nobody is told of a transfer";
}

#
# the refused /send updates delivered again, after a deposit: still refused
#

my ($rd) = $w->deposit($J, 1000);
is $rd->{json}{text}, 'Deposit of 1000 ⭐ received. Your balance: 1400 ⭐',
    'Jordan deposits 1000';
$before = $w->snapshot;
for my $u (@refused) {
    $r = $t->update($u);
    ok !$r->{json}{reply_markup},
        "\"$u->{message}{text}\" again: still no confirmation"
        or diag $r->{json}{text};
}
is $w->snapshot, $before, 'the refused /send updates again: nothing changes';

#
# the way back, by id
#

$u = $w->message($K, "/send $J 250");
confirmation($t->update($u), $K, 250, '@jordan_tp_demo', $u->{update_id}, 'Kai sends 250');
press($K, "txok:$u->{update_id}", 'q-kai');
ok scalar $w->sent($J, 'You received 250 ⭐ from @kai_sample. Your balance: 1650 ⭐'),
    'Jordan receives 250';
is $w->bhd($J), '1650/0/0', 'Jordan 1650';
is $w->bhd($K), '350/0/0', 'Kai 350';
is_deeply [ $w->audit($_) ], [], "wallet $_ audits" for $J, $K;

my @types = map { "$_->{type} $_->{amount} " . ($_->{peer} // '') }
            $w->ledger($K);
is_deeply \@types, [ "transfer_in 100 $J", "transfer_in 500 $J",
                     "transfer_out -250 $J" ], 'Kai\'s ledger';

# a recipient with no username is named by first name
my $N = 5550009999;
is $w->start($N)->{json}{text}, "Welcome, User$N!\nYour balance: 0 ⭐",
    'a player with no username starts';
$u = $w->message($J, "/send $N 5");
confirmation($t->update($u), $J, 5, "User$N", $u->{update_id},
             'to a player with no username');
press($J, "txok:$u->{update_id}", 'q-no-username');
ok scalar $w->sent($J, "You sent 5 ⭐ to User$N. Your balance: 1645 ⭐"),
    'the sender is told the first name';
ok scalar $w->sent($N, 'You received 5 ⭐ from @jordan_tp_demo. Your balance: 5 ⭐'),
    'the recipient is told';

$t->stop;

#
# an expired confirmation
#

$t = InBotPay::Test->new(http => 'inbotpay_transfer_ttl 1s;');
$w = InBotPay::Wallet->new($t, first_update_id => 731710000);
$w->start($J);
$w->start($K);
$w->deposit($J, 100);

$u = $w->message($J, '/send @kai_sample 10');
confirmation($t->update($u), $J, 10, '@kai_sample', $u->{update_id}, 'ttl 1s: /send');
$before = $w->snapshot;
sleep 2;
$r = press($J, "txok:$u->{update_id}", 'q-expired');
is $r->{json}{text}, 'This confirmation has expired.', 'expired';
is $w->bhd($J), '100/0/0', 'expired: Jordan keeps 100';
is $w->bhd($K), '0/0/0', 'expired: Kai gets nothing';
is scalar(() = $w->ledger($K)), 0, 'expired: no ledger entry for Kai';

$t->stop;

done_testing;
