#!/usr/bin/perl

# message.refunded_payment: reverses a credited charge once (refund entry),
# takes what is left of the balance when part of the money was spent and
# records the rest as debt, which later deposits and incoming transfers pay
# first; the ops chat hears of every refund with the debt; an unknown
# charge changes nothing.

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

my $J   = 7000000001;
my $K   = 1987654320;
my $OPS = -1009999999999;
my $CHARGE = 'stxn0y46EX9_lFUN76XbDBFQRjR9vbtNHbvlphB_Uel8COuwe_vIL1n-qRDjsP3b'
           . 'AuI3e0we3QZ_y5OromdKTe4Domw1BNw0DWzHjfsYnC_xF9';

my $t = InBotPay::Test->new(http => "inbotpay_ops_chat $OPS;\n"
                                  . "inbotpay_admins 111;");
my $w = InBotPay::Wallet->new($t, first_update_id => 731900000);

sub reply {
    my ($r, $chat, $text, $name) = @_;
    is $r->{status}, 200, "$name: 200";
    is $r->{json}{method}, 'sendMessage', "$name: sendMessage";
    is $r->{json}{chat_id}, $chat, "$name: chat_id";
    is $r->{json}{text}, $text, "$name: text";
}

$w->start($J);
$w->start($K);

#
# deposit, then its refund
#

my ($r, undef, $pay1) = $w->deposit($J, 100, charge => $CHARGE);
is $r->{json}{text}, 'Deposit of 100 ⭐ received. Your balance: 100 ⭐',
    'a deposit of 100 with the fixture\'s charge';

$t->clear_calls;
my $t0 = time;
my $ref = $t->fixture('refunded_payment_xtr.json');
$r = $t->update($ref);
reply($r, $J, 'Refund of 100 ⭐ processed. Your balance: 0 ⭐',
      'refunded_payment_xtr.json');
is $w->bhd($J), '0/0/0', 'refund: balance back to 0';
my $e = ($w->ledger($J))[-1];
is $e->{id}, 2, 'refund entry: id 2';
is $e->{type}, 'refund', 'refund entry: type refund';
is $e->{amount}, -100, 'refund entry: amount -100';
is $e->{ref}, $CHARGE, 'refund entry: ref is the charge';
is $e->{update}, 731208418, 'refund entry: update';
is "$e->{balance}/$e->{held}/$e->{debt}", '0/0/0', 'refund entry: figures';
cmp_ok abs(($e->{time} // 0) - $t0), '<', 60, 'refund entry: time';
ok scalar $w->sent($OPS, "Refund: 100 ⭐ from player $J, charge $CHARGE;"
                         . ' debt now 0 ⭐.'), 'refund: posted to the ops chat';

# repeats: the same update, the same charge under another update_id
my $before = $w->snapshot;
$t->clear_calls;
$r = $t->update($ref);
reply($r, $J, 'Refund of 100 ⭐ processed. Your balance: 0 ⭐',
      'the same refund update again');
$ref->{update_id} = 731208499;
$r = $t->update($ref);
reply($r, $J, 'Refund of 100 ⭐ processed. Your balance: 0 ⭐',
      'the same charge refunded under another update_id');
is $w->snapshot, $before, 'repeated refunds: nothing changes';
is scalar(grep { /^Refund:/ } $w->texts_to($OPS)), 0,
    'repeated refunds: not posted again';

# the refunded charge's payment delivered again credits nothing
$r = $t->update($pay1);
is $r->{status}, 200, 'the refunded charge\'s payment again: 200';
is $w->snapshot, $before, 'the refunded charge\'s payment again: no credit';

#
# part spent first: balance to 0, the rest as debt
#

my ($r2, $c2) = $w->deposit($J, 300);
is $r2->{json}{text}, 'Deposit of 300 ⭐ received. Your balance: 300 ⭐',
    'a deposit of 300';
my $u = $w->message($J, '/send @kai_sample 120');
$t->update($u);
$t->update($w->callback($J, "txok:$u->{update_id}"));
ok scalar $w->sent($K, 'You received 120 ⭐ from @jordan_tp_demo. Your balance: 120 ⭐'),
    '120 sent to Kai';
$r = $t->update($w->message($J, '/withdraw 50 UQrefund'));
like $r->{json}{text} // '', qr/^Withdrawal #1 of 50 ⭐/, '50 held for a withdrawal';
is $w->bhd($J), '130/50/0', 'Jordan: 130 balance, 50 held';

$t->clear_calls;
$r = $t->update($w->refund_update($J, 300, $c2));
reply($r, $J, "Refund of 300 ⭐ processed. Your balance: 0 ⭐\nDebt: 170 ⭐",
      'refund of the 300');
is $w->bhd($J), '0/50/170', 'refund: balance 0, held untouched, debt 170';
$e = ($w->ledger($J))[-1];
is $e->{type}, 'refund', 'refund entry';
is $e->{amount}, -300, 'refund entry: -300';
is "$e->{balance}/$e->{held}/$e->{debt}", '0/50/170', 'refund entry: figures';
is $w->ledger_sum($J), 0 + 50 - 170, 'the ledger sums to balance + held - debt';
ok scalar $w->sent($OPS, "Refund: 300 ⭐ from player $J, charge $c2;"
                         . ' debt now 170 ⭐.'), 'the ops chat is told the debt';
is $w->bhd($K), '120/0/0', 'Kai keeps the 120';

# a repeat of this refund
$before = $w->snapshot;
$r = $t->update($w->refund_update($J, 300, $c2));
is $r->{json}{text}, "Refund of 300 ⭐ processed. Your balance: 0 ⭐\nDebt: 170 ⭐",
    'the second refund again: the same text';
is $w->snapshot, $before, 'the second refund again: nothing changes';

#
# later money pays the debt first
#

($r) = $w->deposit($J, 100);
like $r->{json}{text} // '', qr/^Deposit of 100 ⭐ received\. Your balance: 0 ⭐/,
    'a deposit of 100 pays debt: balance stays 0';
is $w->bhd($J), '0/50/70', 'debt 70 left';
$e = ($w->ledger($J))[-1];
is "$e->{type} $e->{amount} $e->{balance}/$e->{held}/$e->{debt}",
    'deposit 100 0/50/70', 'the deposit entry';

$u = $w->message($K, "/send $J 100");
$t->update($u);
$t->update($w->callback($K, "txok:$u->{update_id}"));
is $w->bhd($J), '30/50/0', 'a transfer in of 100 pays the 70 and leaves 30';
$e = ($w->ledger($J))[-1];
is "$e->{type} $e->{amount} $e->{balance}/$e->{held}/$e->{debt}",
    'transfer_in 100 30/50/0', 'the transfer_in entry';

($r) = $w->deposit($J, 200);
is $r->{json}{text}, 'Deposit of 200 ⭐ received. Your balance: 230 ⭐',
    'no debt left: a deposit credits the balance';

# a refund the balance covers
my ($r5, $c5) = $w->deposit($J, 40);
$r = $t->update($w->refund_update($J, 40, $c5));
is $r->{json}{text}, 'Refund of 40 ⭐ processed. Your balance: 230 ⭐',
    'a refund covered by the balance: no debt line';

#
# unknown charges: 200, nothing changes, nothing said
#

$before = $w->snapshot;
my $log0 = length $t->error_log;
$t->clear_calls;
$r = $t->update($w->refund_update($J, 100, 'stxUNKNOWN' . 'u' x 100));
is $r->{status}, 200, 'unknown charge: 200';
is $r->{content} // '', '', 'unknown charge: empty body';
$r = $t->update($w->refund_update($K, 300, $c2));
is $r->{status}, 200, 'another player\'s charge: 200';
is $r->{content} // '', '', 'another player\'s charge: empty body';
is $w->snapshot, $before, 'unknown charges: nothing changes';
is scalar($w->texts_to($J)) + scalar($w->texts_to($K, pause => 0))
   + scalar($w->texts_to($OPS, pause => 0)), 0, 'unknown charges: no message';
my @lines = grep { /\[error\]/ && /stxUNKNOWN/ }
            split /\n/, substr($t->error_log, $log0);
is scalar @lines, 1, 'unknown charge: one error-log line';

is_deeply [ $w->audit($_) ], [], "wallet $_ audits" for $J, $K;

$t->stop;

done_testing;
