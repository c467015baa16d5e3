#!/usr/bin/perl

# /withdraw N DEST: the pending withdrawal (balance to held, ledger entry,
# withdrawal record), the refusals (amount outside the configured minimum
# and maximum, not enough balance, the daily limit over several
# withdrawals), the destination asked with force_reply, /withdraw alone
# with its amount buttons, one withdrawal per update, and the Cancel
# button: by the owner, twice, and pressed by another player.

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

my $J = 7000000001;    # Jordan
my $K = 1987654320;    # Kai

my $t = InBotPay::Test->new(http => "inbotpay_withdraw_min 10;\n"
                                  . "inbotpay_withdraw_max 600;\n"
                                  . "inbotpay_withdraw_daily 1000;");
my $w = InBotPay::Wallet->new($t, first_update_id => 731500000);

my $BAD = 'The amount must be a whole number from 10 to 600.'
        . ' Example: /withdraw 100 DEST';

sub reply {
    my ($r, $chat, $text, $name) = @_;
    is $r->{status}, 200, "$name: 200";
    is $r->{json}{method}, 'sendMessage', "$name: sendMessage";
    is $r->{json}{chat_id}, $chat, "$name: chat_id";
    is $r->{json}{text}, $text, "$name: text";
}

# The Cancel buttons' callback data, by player and withdrawal number.
my %cancel;

sub pending {
    my ($r, $chat, $id, $amount, $dest, $balance, $name) = @_;
    reply($r, $chat, "Withdrawal #$id of $amount ⭐ to $dest is pending.\n"
                     . "Your balance: $balance ⭐", $name);
    my $kb = ($r->{json}{reply_markup} // {})->{inline_keyboard} // [];
    is scalar(map {@$_} @$kb), 1, "$name: one button";
    is $kb->[0][0]{text}, 'Cancel', "$name: the Cancel button";
    my $data = $kb->[0][0]{callback_data} // '';
    like $data, qr/^wdc:\d+$/, "$name: Cancel is wdc:N";
    $cancel{$chat}{$id} = $data;
    return $data;
}

sub answered {
    my ($r, $qid, $name) = @_;
    is $r->{status}, 200, "$name: 200";
    is $r->{json}{method}, 'answerCallbackQuery', "$name: answerCallbackQuery";
    is $r->{json}{callback_query_id}, $qid, "$name: callback_query_id";
}

sub withdraw { $t->update($w->message($_[0], $_[1])) }

$w->start($J);
$w->start($K);
my ($r) = $w->deposit($J, 2000);
is $r->{json}{text}, 'Deposit of 2000 ⭐ received. Your balance: 2000 ⭐',
    'Jordan deposits 2000';
($r) = $w->deposit($K, 550);
is $r->{json}{text}, 'Deposit of 550 ⭐ received. Your balance: 550 ⭐',
    'Kai deposits 550';

#
# a withdrawal
#

my $t0 = time;
my $u1 = $w->message($J, '/withdraw 100 UQAbc-dest_1');
$r = $t->update($u1);
my $data = pending($r, $J, 1, 100, 'UQAbc-dest_1', 1900,
                   '/withdraw 100 UQAbc-dest_1');
is $data, "wdc:$u1->{update_id}",
    'the Cancel button names the update that asked for the withdrawal';

my $wa = $w->wallet($J);
is $wa->{balance}, '1900', 'wallet: balance 1900';
is $wa->{held}, '100', 'wallet: held 100';
is $wa->{debt}, '0', 'wallet: debt 0';
is $wa->{seq}, '2', 'wallet: seq 2';
is $wa->{wseq}, '1', 'wallet: wseq 1';

my @l = $w->ledger($J);
is scalar @l, 2, 'ledger: two entries';
my $e = $l[-1];
is $e->{id}, 2, 'ledger: id 2';
is $e->{type}, 'withdrawal_hold', 'ledger: type withdrawal_hold';
ok defined $e->{amount} && $e->{amount} == 0, 'ledger: amount 0';
is $e->{hold}, 100, 'ledger: hold 100';
is $e->{balance}, 1900, 'ledger: balance 1900';
is $e->{held}, 100, 'ledger: held 100';
is $e->{debt}, 0, 'ledger: debt 0';
is $e->{withdrawal}, 1, 'ledger: withdrawal 1';
is $e->{update}, $u1->{update_id}, 'ledger: update';
cmp_ok abs(($e->{time} // 0) - $t0), '<', 60, 'ledger: time';
is $w->ledger_sum($J), 2000, 'ledger sums to balance + held - debt';

my $wd = $w->withdrawal($J, 1) // {};
is $wd->{id}, '1', 'withdrawal: id 1';
is $wd->{player}, $J, 'withdrawal: player';
is $wd->{amount}, '100', 'withdrawal: amount 100';
is $wd->{destination}, 'UQAbc-dest_1', 'withdrawal: destination';
is $wd->{status}, 'pending', 'withdrawal: pending';
is $wd->{update}, $u1->{update_id}, 'withdrawal: update';
cmp_ok abs(($wd->{created} // 0) - $t0), '<', 60, 'withdrawal: created';
ok !($wd->{settled} // ''), 'withdrawal: not settled';

# the same update again: one withdrawal

my $before = $w->snapshot;
$r = $t->update($u1);
is $r->{status}, 200, 'the same /withdraw update again: 200';
like $r->{json}{text} // '', qr/^Withdrawal #1 of 100 ⭐ to UQAbc-dest_1 /,
    'the same update again: the first withdrawal\'s text';
is $w->snapshot, $before, 'the same update again: nothing changes';
is scalar(keys %{ $w->withdrawals($J) }), 1, 'still one withdrawal';

#
# refusals: nothing changes
#

for my $arg ('0', '-5', '1.5', 'abc', '9', '601', '0100', '+50', '1e2',
             '99999999999999999999', '18446744073709551617')
{
    $r = withdraw($J, "/withdraw $arg UQAbc-dest_1");
    reply($r, $J, $BAD, "/withdraw $arg");
    is $w->snapshot, $before, "/withdraw $arg: nothing changes";
}

$r = withdraw($J, '/withdraw 50 ' . ('d' x 129));
is $r->{status}, 200, 'a 129-character destination: 200';
unlike $r->{json}{text} // '', qr/pending/, 'a 129-character destination: refused';
is $w->snapshot, $before, 'a 129-character destination: nothing changes';

my $u_poor = $w->message($K, '/withdraw 600 UQkai');
$r = $t->update($u_poor);
reply($r, $K, 'Not enough balance: you have 550 ⭐.', 'not enough balance');
is $w->bhd($K), '550/0/0', 'not enough balance: Kai\'s wallet unchanged';
is scalar(keys %{ $w->withdrawals($K) }), 0, 'not enough: no withdrawal';

#
# cancel by the owner, then again
#

$t->clear_calls;
$r = $t->update($w->callback($J, $cancel{$J}{1}, query_id => 'q-cancel-1'));
answered($r, 'q-cancel-1', 'Cancel #1');
my @m = $w->sent($J, 'Withdrawal #1 was cancelled. Your balance: 2000 ⭐');
is scalar @m, 1, 'Cancel #1: the player is told'
    or diag explain [ $r->{json}, $w->texts_to($J) ];
is $w->bhd($J), '2000/0/0', 'Cancel #1: the money is back';
$e = ($w->ledger($J))[-1];
is $e->{type}, 'withdrawal_released', 'Cancel #1: withdrawal_released';
ok defined $e->{amount} && $e->{amount} == 0, 'Cancel #1: amount 0';
is $e->{hold}, -100, 'Cancel #1: hold -100';
is $e->{withdrawal}, 1, 'Cancel #1: withdrawal 1';
is "$e->{balance}/$e->{held}/$e->{debt}", '2000/0/0', 'Cancel #1: figures';
$wd = $w->withdrawal($J, 1);
is $wd->{status}, 'cancelled', 'Cancel #1: status cancelled';
like $wd->{settled} // '', qr/^\d+$/, 'Cancel #1: settled time';
is_deeply [ $w->audit($J) ], [], 'Cancel #1: the wallet audits';

$before = $w->snapshot;
$t->clear_calls;
$r = $t->update($w->callback($J, $cancel{$J}{1}, query_id => 'q-cancel-2'));
answered($r, 'q-cancel-2', 'Cancel #1 again');
is $r->{json}{text}, 'Withdrawal #1 is already cancelled.',
    'Cancel #1 again: already cancelled';
is $w->snapshot, $before, 'Cancel #1 again: nothing changes';
is scalar($w->texts_to($J)), 0, 'Cancel #1 again: no message';

#
# the daily limit over several withdrawals (cancelled ones count back)
#

$r = withdraw($J, '/withdraw 600 dest-2');
pending($r, $J, 2, 600, 'dest-2', 1400, '#2 600');
$r = withdraw($J, '/withdraw 300 dest-3');
pending($r, $J, 3, 300, 'dest-3', 1100, '#3 300 (900 today)');

$before = $w->snapshot;
$r = withdraw($J, '/withdraw 200 dest-x');
reply($r, $J, 'This would pass your daily withdrawal limit of 1000 ⭐'
              . ' (100 ⭐ left today).', '200 more: over the daily limit');
is $w->snapshot, $before, 'over the daily limit: nothing changes';

$r = withdraw($J, '/withdraw 100 dest-4');
pending($r, $J, 4, 100, 'dest-4', 1000, '#4 100 (1000 today)');

$r = withdraw($J, '/withdraw 10 dest-x');
reply($r, $J, 'This would pass your daily withdrawal limit of 1000 ⭐'
              . ' (0 ⭐ left today).', 'the limit reached');

$r = $t->update($w->callback($J, $cancel{$J}{3}));
is $r->{json}{method}, 'answerCallbackQuery', 'Cancel #3';
ok scalar $w->sent($J, 'Withdrawal #3 was cancelled. Your balance: 1300 ⭐'),
    'Cancel #3: told, balance 1300';

$r = withdraw($J, '/withdraw 400 dest-x');
reply($r, $J, 'This would pass your daily withdrawal limit of 1000 ⭐'
              . ' (300 ⭐ left today).', 'after cancelling #3: 300 left');
$r = withdraw($J, '/withdraw 300 dest-5');
pending($r, $J, 5, 300, 'dest-5', 1000, '#5 300 after the cancel');

is $w->bhd($J), '1000/1000/0', 'Jordan: 1000 balance, 1000 held';
is_deeply { map { $_->{id} => "$_->{amount} $_->{status}" }
            values %{ $w->withdrawals($J) } },
    { 1 => '100 cancelled', 2 => '600 pending', 3 => '300 cancelled',
      4 => '100 pending', 5 => '300 pending' }, 'Jordan\'s withdrawals';
is_deeply [ $w->audit($J) ], [], 'Jordan\'s wallet audits';

#
# Cancel pressed by another player: wdc:W means the presser's own #W
#

$r = withdraw($K, '/withdraw 20 UQkai');
pending($r, $K, 1, 20, 'UQkai', 530, 'Kai #1 20');

my $jordan = $w->snapshot($J);
my $kai = $w->bhd($K);

my %seen;
for my $d (grep { !$seen{$_}++ } 'wdc:2', $cancel{$J}{2}, $cancel{$J}{4}) {
    $t->clear_calls;
    $r = $t->update($w->callback($K, $d, query_id => "q-kai-$d"));
    answered($r, "q-kai-$d", "Kai presses $d (Jordan's button)");
    unlike $r->{json}{text} // '', qr/cancelled\. Your balance/,
        "$d by Kai: not a cancellation";
    is scalar($w->texts_to($J)), 0, "$d by Kai: Jordan is told nothing";
    is scalar($w->texts_to($K, pause => 0)), 0, "$d by Kai: Kai gets no message";
    is $w->withdrawal($J, 2)->{status}, 'pending', 'Jordan\'s #2 is still pending';
    is $w->withdrawal($J, 4)->{status}, 'pending', 'Jordan\'s #4 is still pending';
    is $w->bhd($K), $kai, "$d by Kai: Kai's wallet unchanged";
}

$r = $t->update($w->callback($K, $cancel{$K}{1}, query_id => 'q-kai-1'));
answered($r, 'q-kai-1', 'Kai presses his own Cancel');
ok scalar $w->sent($K, 'Withdrawal #1 was cancelled. Your balance: 550 ⭐'),
    'Kai\'s Cancel cancels Kai\'s #1';
is $w->withdrawal($K, 1)->{status}, 'cancelled', 'Kai\'s #1 cancelled';
is $w->snapshot($J), $jordan, 'nothing of Jordan\'s changed';

#
# no destination: force_reply, then a plain text completes it
#

$r = withdraw($K, '/withdraw 15');
reply($r, $K, 'Reply with the destination for your withdrawal of 15 ⭐.',
      '/withdraw 15');
is_deeply $r->{json}{reply_markup}, { force_reply => JSON::PP::true },
    '/withdraw 15: force_reply';
ok JSON::PP::is_bool($r->{json}{reply_markup}{force_reply}),
    '/withdraw 15: force_reply is a JSON true';
is $t->redis('GET', "ibp:{$K}:ask"), 'withdraw:15', 'ask: withdraw:15';
my $ttl = $t->redis('TTL', "ibp:{$K}:ask");
ok $ttl > 540 && $ttl <= 600, "ask: TTL 10 minutes ($ttl)";
is $w->bhd($K), '550/0/0', '/withdraw 15: nothing held yet';

$r = withdraw($K, 'UQkai-via-reply');
pending($r, $K, 2, 15, 'UQkai-via-reply', 535, 'the destination as text');
is $t->redis('GET', "ibp:{$K}:ask"), undef, 'ask: gone';
is $w->withdrawal($K, 2)->{destination}, 'UQkai-via-reply',
    'the withdrawal has the destination';

$before = $w->snapshot;
$r = withdraw($K, 'UQkai-again');
unlike $r->{json}{text} // '', qr/pending/, 'a second text: no withdrawal';
is $w->snapshot, $before, 'a second text: nothing changes';

#
# /withdraw alone: amount buttons, then the destination
#

$r = withdraw($K, '/withdraw');
reply($r, $K, 'How much do you want to withdraw?', '/withdraw alone');
is_deeply $r->{json}{reply_markup}, { inline_keyboard => [ [
    { text => '100 ⭐',  callback_data => 'wd:100' },
    { text => '500 ⭐',  callback_data => 'wd:500' },
    { text => '1000 ⭐', callback_data => 'wd:1000' },
] ] }, '/withdraw alone: the preset amounts as wd:N buttons';
is $w->snapshot, $before, '/withdraw alone: nothing changes';

$t->clear_calls;
$r = $t->update($w->callback($K, 'wd:100', query_id => 'q-wd-100'));
answered($r, 'q-wd-100', 'wd:100');
@m = $w->sent($K, 'Reply with the destination for your withdrawal of 100 ⭐.');
is scalar @m, 1, 'wd:100: the destination is asked';
is_deeply $m[0]{params}{reply_markup}, { force_reply => JSON::PP::true },
    'wd:100: force_reply';
is $t->redis('GET', "ibp:{$K}:ask"), 'withdraw:100', 'ask: withdraw:100';

$r = withdraw($K, 'UQkai-button');
pending($r, $K, 3, 100, 'UQkai-button', 435, 'wd:100 completed');
is $w->bhd($K), '435/115/0', 'Kai: 435 balance, 115 held';
is_deeply [ $w->audit($K) ], [], 'Kai\'s wallet audits';
is_deeply [ $w->audit($J) ], [], 'Jordan\'s wallet audits';

#
# a refused /withdraw delivered again, once the money is there, keeps its
# first outcome: the update_id is the key of the command
#

($r) = $w->deposit($K, 1000);
is $r->{json}{text}, 'Deposit of 1000 ⭐ received. Your balance: 1435 ⭐',
    'Kai deposits 1000';
$before = $w->snapshot;
$r = $t->update($u_poor);
is $r->{status}, 200, 'the refused /withdraw update again: 200';
unlike $r->{json}{text} // '', qr/pending/,
    'the refused /withdraw update again: still no withdrawal'
    or diag $r->{json}{text};
is $w->snapshot, $before, 'the refused /withdraw update again: nothing changes';

$t->stop;

done_testing;
