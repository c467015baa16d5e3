#!/usr/bin/perl

# The ops chat: each new withdrawal is posted there with Approve and Reject
# buttons that only the configured admins may press; approval pays the
# withdrawal, rejection returns the money, and a settled or cancelled
# withdrawal cannot be settled again. Deposits are posted too, and
# transfers at or over inbotpay_ops_threshold.

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

my $J   = 7000000001;         # Jordan
my $K   = 1987654320;         # Kai
my $OPS = -1009999999999;

my $t = InBotPay::Test->new(http => "inbotpay_ops_chat $OPS;\n"
                                  . "inbotpay_admins 111 222;");
my $w = InBotPay::Wallet->new($t, first_update_id => 731600000);

sub press {
    my ($who, $data, $qid) = @_;
    my $r = $t->update($w->callback($who, $data, chat => $OPS,
                                    query_id => $qid,
                                    message_text => 'Withdrawal'));
    is $r->{status}, 200, "$qid: 200";
    is $r->{json}{method}, 'answerCallbackQuery', "$qid: answerCallbackQuery";
    is $r->{json}{callback_query_id}, $qid, "$qid: callback_query_id";
    return $r;
}

# The Approve and Reject buttons of the ops chat's message about
# withdrawal #ID of player PID.
sub ops_buttons {
    my ($pid, $id) = @_;
    my ($m) = $w->sent($OPS, qr/^Withdrawal #$id: .* for player $pid /);
    my $kb = $m ? $m->{params}{reply_markup}{inline_keyboard} : [[]];
    return map { $_->{callback_data} } @{ $kb->[0] };
}

$w->start($J);
$w->start($K);

#
# deposits are posted
#

$t->clear_calls;
my ($r, $charge) = $w->deposit($J, 3000);
is $r->{json}{text}, 'Deposit of 3000 ⭐ received. Your balance: 3000 ⭐',
    'Jordan deposits 3000';
my @m = $w->sent($OPS, "Deposit: 3000 ⭐ from player $J, charge $charge.");
is scalar @m, 1, 'the deposit is posted to the ops chat';
is $m[0]{token}, $t->token, 'posted with the bot token';

# a repeat of the payment is not posted again
my ($rr, $c2, $pay) = $w->deposit($K, 40);
ok scalar $w->sent($OPS, "Deposit: 40 ⭐ from player $K, charge $c2."),
    'Kai\'s deposit of 40 is posted';
$t->clear_calls;
$t->update($pay);
is scalar(grep { /^Deposit:/ } $w->texts_to($OPS)), 0,
    'a repeated payment is not posted again';

#
# a new withdrawal is posted with Approve and Reject
#

$t->clear_calls;
my $wd_update = $w->message($J, '/withdraw 500 UQops-dest');
my $r1 = $r = $t->update($wd_update);
is $r->{json}{text},
    "Withdrawal #1 of 500 ⭐ to UQops-dest is pending.\nYour balance: 2500 ⭐",
    'Jordan asks for a withdrawal of 500';
@m = $w->sent($OPS, "Withdrawal #1: 500 ⭐ for player $J (Jordan) to UQops-dest.");
is scalar @m, 1, 'the withdrawal is posted to the ops chat'
    or diag explain [ $w->texts_to($OPS) ];
my $kb = $m[0]{params}{reply_markup}{inline_keyboard};
is_deeply [ map { $_->{text} } @{ $kb->[0] } ], [ 'Approve', 'Reject' ],
    'the ops message has Approve and Reject';
my ($ok1, $no1) = map { $_->{callback_data} } @{ $kb->[0] };
like $ok1, qr/^wdok:$J:\d+$/, 'Approve is wdok:PID:N';
like $no1, qr/^wdno:$J:\d+$/, 'Reject is wdno:PID:N';
is_deeply [ $ok1, $no1 ],
    [ "wdok:$J:$wd_update->{update_id}", "wdno:$J:$wd_update->{update_id}" ],
    'Approve and Reject name the player and the update that asked';

# the same update again is not posted again
$t->clear_calls;
$t->update($w->message($J, '/withdraw 500 UQops-dest',
                       update_id => $w->last_id));
is scalar(grep { /^Withdrawal/ } $w->texts_to($OPS)), 0,
    'the same /withdraw update again: not posted again';

#
# presses by ids that are not admins
#

my $before = $w->snapshot;
for my $who (333, $J, 1110, 11) {
    for my $data ($ok1, $no1) {
        $t->clear_calls;
        $r = press($who, $data, "q-$who-$data");
        is $r->{json}{text}, 'Only admins can settle withdrawals.',
            "$data by $who: only admins";
        is $w->snapshot, $before, "$data by $who: nothing changes";
        is scalar($w->texts_to($J, pause => 0.1)), 0,
            "$data by $who: the player is told nothing";
    }
}

#
# approve
#

$t->clear_calls;
my $t0 = time;
$r = press(111, $ok1, 'q-approve-1');
ok scalar $w->sent($J, 'Your withdrawal #1 of 500 ⭐ was paid.'),
    'approve: the player is told';
ok scalar $w->sent($OPS, "Withdrawal #1 of 500 ⭐ for player $J: paid (by 111)."),
    'approve: the ops chat is told'
    or diag explain [ $w->texts_to($OPS) ];

is $w->bhd($J), '2500/0/0', 'approve: held drops to 0, balance stays';
my $wd = $w->withdrawal($J, 1);
is $wd->{status}, 'paid', 'approve: status paid';
is $wd->{by}, '111', 'approve: by 111';
cmp_ok abs(($wd->{settled} // 0) - $t0), '<', 60, 'approve: settled time';
my $e = ($w->ledger($J))[-1];
is $e->{type}, 'withdrawal_paid', 'approve: ledger withdrawal_paid';
is $e->{amount}, -500, 'approve: amount -500';
is $e->{withdrawal}, 1, 'approve: withdrawal 1';
is "$e->{balance}/$e->{held}/$e->{debt}", '2500/0/0', 'approve: figures';
is $w->ledger_sum($J), 2500, 'the ledger sums to 2500';

# second press, and a reject after the approval
$before = $w->snapshot;
for my $p ([ 222, $ok1 ], [ 111, $ok1 ], [ 222, $no1 ]) {
    $t->clear_calls;
    $r = press($p->[0], $p->[1], "q-again-$p->[0]-$p->[1]");
    is $r->{json}{text}, 'Withdrawal #1 is already paid.',
        "$p->[1] by $p->[0] again: already paid";
    is $w->snapshot, $before, "$p->[1] by $p->[0] again: nothing changes";
    is scalar($w->texts_to($J, pause => 0.1)), 0,
        "$p->[1] by $p->[0] again: the player is told nothing";
}

# the owner's Cancel after payment
my ($cancel1) = map { $_->{callback_data} }
                @{ $r1->{json}{reply_markup}{inline_keyboard}[0] // [] };
$r = $t->update($w->callback($J, $cancel1, query_id => 'q-cancel-paid'));
is $r->{json}{text}, 'Withdrawal #1 is already paid.', 'Cancel after paid';
is $w->snapshot, $before, 'Cancel after paid: nothing changes';

#
# reject
#

$r = $t->update($w->message($J, '/withdraw 300 UQops-2'));
like $r->{json}{text} // '', qr/^Withdrawal #2 of 300 ⭐/, 'withdrawal #2';
is $w->bhd($J), '2200/300/0', '#2: 300 held';

my ($ok2, $no2) = ops_buttons($J, 2);
$t->clear_calls;
$r = press(222, $no2, 'q-reject-2');
ok scalar $w->sent($J, 'Your withdrawal #2 of 300 ⭐ was rejected.'
                       . ' Your balance: 2500 ⭐'), 'reject: the player is told';
ok scalar $w->sent($OPS, "Withdrawal #2 of 300 ⭐ for player $J: rejected (by 222)."),
    'reject: the ops chat is told';
is $w->bhd($J), '2500/0/0', 'reject: the money is back';
$wd = $w->withdrawal($J, 2);
is $wd->{status}, 'rejected', 'reject: status rejected';
is $wd->{by}, '222', 'reject: by 222';
$e = ($w->ledger($J))[-1];
is $e->{type}, 'withdrawal_released', 'reject: withdrawal_released';
is $e->{amount}, 0, 'reject: amount 0';
is $e->{hold}, -300, 'reject: hold -300';

$before = $w->snapshot;
$r = press(111, $ok2, 'q-approve-rejected');
is $r->{json}{text}, 'Withdrawal #2 is already rejected.',
    'approve after reject: already rejected';
is $w->snapshot, $before, 'approve after reject: nothing changes';

#
# approve after the player cancelled
#

$r = $t->update($w->message($J, '/withdraw 200 UQops-3'));
like $r->{json}{text} // '', qr/^Withdrawal #3 of 200 ⭐/, 'withdrawal #3';
my ($cancel3) = map { $_->{callback_data} }
                @{ $r->{json}{reply_markup}{inline_keyboard}[0] // [] };
my ($ok3) = ops_buttons($J, 3);
$r = $t->update($w->callback($J, $cancel3));
ok scalar $w->sent($J, 'Withdrawal #3 was cancelled. Your balance: 2500 ⭐'),
    'the player cancels #3';

$before = $w->snapshot;
$t->clear_calls;
$r = press(111, $ok3, 'q-approve-cancelled');
is $r->{json}{text}, 'Withdrawal #3 is already cancelled.',
    'approve after cancel: refused';
is $w->snapshot, $before, 'approve after cancel: nothing changes';
is scalar($w->texts_to($J)), 0, 'approve after cancel: no message to the player';
is $w->withdrawal($J, 3)->{status}, 'cancelled', '#3 stays cancelled';

#
# buttons naming a withdrawal or player that does not exist
#

for my $data ("wdok:$J:99", "wdno:$J:0", "wdok:$K:1", "wdok:12345:1",
              'wdok:abc:1', "wdok:$J:", 'wdok:')
{
    $t->clear_calls;
    $r = press(111, $data, "q-forged-$data");
    unlike $r->{json}{text} // '', qr/paid|rejected \(by/, "$data: not settled";
    is $w->snapshot, $before, "$data: nothing changes";
}

#
# transfers: posted at or over the threshold (1000), not under it
#

$t->clear_calls;
$r = $t->update($w->message($J, '/send @kai_sample 999'));
my $c = $w->last_id;
is $r->{json}{text}, 'Send 999 ⭐ to @kai_sample?', '/send 999';
$t->update($w->callback($J, "txok:$c"));
ok scalar $w->sent($K, 'You received 999 ⭐ from @jordan_tp_demo. Your balance: 1039 ⭐'),
    '999 received';
is scalar(grep { /^Transfer:/ } $w->texts_to($OPS)), 0,
    'a transfer of 999 is not posted';

$t->clear_calls;
$r = $t->update($w->message($J, '/send @kai_sample 1000'));
$c = $w->last_id;
is $r->{json}{text}, 'Send 1000 ⭐ to @kai_sample?', '/send 1000';
$t->update($w->callback($J, "txok:$c"));
ok scalar $w->sent($OPS, "Transfer: 1000 ⭐ from $J to $K."),
    'a transfer of 1000 is posted';

$t->clear_calls;
$r = $t->update($w->message($K, "/send $J 1039"));
$c = $w->last_id;
$t->update($w->callback($K, "txok:$c"));
ok scalar $w->sent($OPS, "Transfer: 1039 ⭐ from $K to $J."),
    'a transfer of 1039 the other way is posted';
is $w->bhd($J), '1540/0/0', 'Jordan: 1540';
is $w->bhd($K), '1000/0/0', 'Kai: 1000';

is_deeply [ $w->audit($_) ], [], "wallet $_ audits" for $J, $K;

$t->stop;

done_testing;
