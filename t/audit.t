#!/usr/bin/perl

# redis/audit.lua, the operators' check of every wallet against its ledger
# and its withdrawals, and "make audit": clean after real activity through
# the webhook (deposits, withdrawals pending and paid, transfers, a refund
# that leaves debt, a player with an empty wallet), then one line per
# problem and a FAILED line for each kind of damage done to Redis by hand
# (each undone before the next), and the exit code of make in both cases.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use InBotPay::Test;
use InBotPay::Wallet;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $J = 7000000001;    # Jordan
my $K = 1987654320;    # Kai, @kai_sample
my $M = 612345678;     # Mira
my $O = 5550001234;    # Ola: /start only
my $OPS = -1009999999999;
my $ADMIN = 111;

my $t = InBotPay::Test->new(http => "inbotpay_ops_chat $OPS;\n"
                                  . "inbotpay_admins $ADMIN;");
my $w = InBotPay::Wallet->new($t, first_update_id => 732100000);
my $port = $t->redis_port;
my $REPO = $InBotPay::Test::REPO;

# the lines of the audit, and whether redis-cli succeeded
sub audit {
    my @lines = `redis-cli -h 127.0.0.1 -p $port --raw --eval $REPO/redis/audit.lua 2>&1`;
    is $?, 0, 'redis-cli exits 0';
    chomp @lines;
    return \@lines;
}

# "make audit": its exit code and what it printed
sub make_audit {
    local @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL)};
    delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL)};
    my $out = `make -s --no-print-directory -C $REPO audit REDIS_PORT=$port 2>/dev/null`;
    return ($? >> 8, [ split /\n/, $out ]);
}

sub text_of { ($_[0]{json} // {})->{text} // '' }

#
# activity
#

$w->start($_) for $J, $K, $M, $O;

my ($r) = $w->deposit($J, 1000);
is text_of($r), 'Deposit of 1000 ⭐ received. Your balance: 1000 ⭐',
    'Jordan deposits 1000';

# Kai pays an invoice the way Telegram does: pre-checkout, then payment
my $inv = $t->update($w->message($K, '/deposit 500'));
is $inv->{json}{method}, 'sendInvoice', 'Kai gets an invoice for 500';
my ($pcq, $paid) = $t->pay($inv, from => $w->from($K));
$r = $t->update($pcq);
is $r->{json}{method}, 'answerPreCheckoutQuery', 'pre-checkout answered';
ok $r->{json}{ok}, 'pre-checkout approved';
$r = $t->update($paid);
is text_of($r), 'Deposit of 500 ⭐ received. Your balance: 500 ⭐',
    'Kai deposits 500';

# Jordan: a withdrawal left pending, another one paid
$r = $t->update($w->message($J, '/withdraw 100 UQaudit-one'));
like text_of($r), qr/^Withdrawal #1 of 100 ⭐ to UQaudit-one is pending\./,
    'Jordan withdraws 100 (pending)';
my $wd2 = $w->message($J, '/withdraw 50 UQaudit-two');
$r = $t->update($wd2);
like text_of($r), qr/^Withdrawal #2 of 50 ⭐ to UQaudit-two is pending\./,
    'Jordan withdraws 50';
$r = $t->update($w->callback($ADMIN, "wdok:$J:$wd2->{update_id}",
                             chat => $OPS));
is text_of($r), 'Withdrawal #2: paid.', 'the admin approves #2';

# transfers: Jordan to Kai, Mira to Kai
sub transfer {
    my ($from, $to, $amount) = @_;
    my $u = $w->message($from, "/send $to $amount");
    my $r = $t->update($u);
    like text_of($r), qr/^Send $amount ⭐ to /, "/send $to $amount";
    $r = $t->update($w->callback($from, "txok:$u->{update_id}"));
    is $r->{status}, 200, "confirm /send $to $amount";
}
transfer($J, '@kai_sample', 200);

# Mira deposits 300, sends 250, and the deposit is refunded: debt 250
my $charge;
($r, $charge) = $w->deposit($M, 300);
is text_of($r), 'Deposit of 300 ⭐ received. Your balance: 300 ⭐',
    'Mira deposits 300';
transfer($M, $K, 250);
$r = $t->update($w->refund_update($M, 300, $charge));
like text_of($r), qr/^Refund of 300 ⭐ processed\./, 'the deposit is refunded';

is $w->bhd($J), '650/100/0', 'Jordan: 650 / held 100';
is $w->bhd($K), '950/0/0', 'Kai: 950';
is $w->bhd($M), '0/0/250', 'Mira: debt 250';
is $w->bhd($O), '0/0/0', 'Ola: empty';
is_deeply [ map { [ $w->audit($_) ] } $J, $K, $M, $O ], [ [], [], [], [] ],
    'the Perl audit agrees';

#
# clean
#

my $OK = [ 'ok 4 wallets checked' ];
is_deeply audit(), $OK, 'clean: ok 4 wallets checked';

my ($rc, $out) = make_audit();
is $rc, 0, 'make audit: exit 0 when clean';
is_deeply $out, $OK, 'make audit: prints the line';

#
# damage, one kind at a time, each undone
#

sub damaged {
    my ($name, $want, $do, $undo) = @_;
    $do->();
    is_deeply audit(), $want, "$name: the audit names it"
        or diag explain audit();
    $undo->();
    is_deeply audit(), $OK, "$name undone: ok again";
}

my $wJ = "ibp:{$J}:wallet";
my $wK = "ibp:{$K}:wallet";
my $wM = "ibp:{$M}:wallet";

damaged('balance + 1', [
    "$J: balance + held - debt is not the ledger sum (expected 750, found 751)",
    'FAILED 1 mismatches',
], sub { $t->redis('HINCRBY', $wJ, 'balance', 1) },
   sub { $t->redis('HINCRBY', $wJ, 'balance', -1) });

my $popped;
damaged('the first ledger entry popped', [
    "$K: ledger ids do not run 1..seq at entry 1 (expected 1, found 2)",
    "$K: balance + held - debt is not the ledger sum (expected 450, found 950)",
    "$K: seq is not the ledger length (expected 2, found 3)",
    'FAILED 3 mismatches',
], sub { $popped = $t->redis('LPOP', "ibp:{$K}:ledger") },
   sub { $t->redis('LPUSH', "ibp:{$K}:ledger", $popped) });

damaged('the last ledger entry popped', [
    "$K: balance + held - debt is not the ledger sum (expected 700, found 950)",
    "$K: seq is not the ledger length (expected 2, found 3)",
    'FAILED 2 mismatches',
], sub { $popped = $t->redis('RPOP', "ibp:{$K}:ledger") },
   sub { $t->redis('RPUSH', "ibp:{$K}:ledger", $popped) });

damaged('held set wrong', [
    "$J: balance + held - debt is not the ledger sum (expected 750, found 800)",
    "$J: held is not the sum of pending withdrawals (expected 100, found 150)",
    'FAILED 2 mismatches',
], sub { $t->redis('HSET', $wJ, 'held', 150) },
   sub { $t->redis('HSET', $wJ, 'held', 100) });

damaged('a pending withdrawal added by hand', [
    "$K: held is not the sum of pending withdrawals (expected 40, found 0)",
    'FAILED 1 mismatches',
], sub { $t->redis('HSET', "ibp:{$K}:wd:999", 'id', 1, 'player', $K,
                   'amount', 40, 'destination', 'UQforged',
                   'status', 'pending', 'update', 999) },
   sub { $t->redis('DEL', "ibp:{$K}:wd:999") });

damaged('a paid withdrawal marked pending again', [
    "$J: held is not the sum of pending withdrawals (expected 150, found 100)",
    'FAILED 1 mismatches',
], sub { $t->redis('HSET', "ibp:{$J}:wd:$wd2->{update_id}", 'status',
                   'pending') },
   sub { $t->redis('HSET', "ibp:{$J}:wd:$wd2->{update_id}", 'status',
                   'paid') });

damaged('a negative debt', [
    "$M: debt is negative (expected >= 0, found -250)",
    "$M: balance + held - debt is not the ledger sum (expected -250, found 250)",
    'FAILED 2 mismatches',
], sub { $t->redis('HSET', $wM, 'debt', -250) },
   sub { $t->redis('HSET', $wM, 'debt', 250) });

damaged('seq bumped', [
    "$M: seq is not the ledger length (expected 3, found 4)",
    'FAILED 1 mismatches',
], sub { $t->redis('HINCRBY', $wM, 'seq', 1) },
   sub { $t->redis('HINCRBY', $wM, 'seq', -1) });

# an entry whose own figures went negative (its amount unchanged)
my $e1;
damaged('a ledger entry with a negative balance', [
    "$K: ledger entry 2 balance is negative (expected >= 0, found -1)",
    'FAILED 1 mismatches',
], sub {
    $e1 = $t->redis('LINDEX', "ibp:{$K}:ledger", 1);
    (my $bad = $e1) =~ s/"balance":\d+/"balance":-1/ or die "no balance";
    $t->redis('LSET', "ibp:{$K}:ledger", 1, $bad);
}, sub { $t->redis('LSET', "ibp:{$K}:ledger", 1, $e1) });

# two entries swapped: same sum, same length, ids out of order
my @two;
damaged('two ledger entries swapped', [
    "$J: ledger ids do not run 1..seq at entry 2 (expected 2, found 3)",
    'FAILED 1 mismatches',
], sub {
    @two = map { scalar $t->redis('LINDEX', "ibp:{$J}:ledger", $_) } 1, 2;
    $t->redis('LSET', "ibp:{$J}:ledger", 1, $two[1]);
    $t->redis('LSET', "ibp:{$J}:ledger", 2, $two[0]);
}, sub {
    $t->redis('LSET', "ibp:{$J}:ledger", 1, $two[0]);
    $t->redis('LSET', "ibp:{$J}:ledger", 2, $two[1]);
});

#
# several problems at once: wallets in the order of their player ids,
# and "make audit" fails
#

$t->redis('HINCRBY', $wJ, 'balance', 1);
$t->redis('HSET', $wM, 'debt', -250);
$t->redis('HSET', 'ibp:{42}:wallet', 'balance', 'abc', 'seq', 0);

my $WANT = [
    "42: balance is not an integer (expected an integer, found \"abc\")",
    "$M: debt is negative (expected >= 0, found -250)",
    "$M: balance + held - debt is not the ledger sum (expected -250, found 250)",
    "$J: balance + held - debt is not the ledger sum (expected 750, found 751)",
    'FAILED 4 mismatches',
];
is_deeply audit(), $WANT, 'three damaged wallets: four lines and FAILED 4'
    or diag explain audit();

($rc, $out) = make_audit();
isnt $rc, 0, 'make audit: non-zero exit on mismatches';
is_deeply $out, $WANT, 'make audit: prints the lines';

$t->redis('HINCRBY', $wJ, 'balance', -1);
$t->redis('HSET', $wM, 'debt', 250);
$t->redis('DEL', 'ibp:{42}:wallet');
is_deeply audit(), $OK, 'all undone: ok 4 wallets checked';

#
# the audit writes nothing, and make fails when Redis is unreachable
#

my $before = $w->snapshot;
audit();
is $w->snapshot, $before, 'the audit changed nothing';

$t->stop_redis;
($rc, $out) = make_audit();
isnt $rc, 0, 'make audit: non-zero exit when Redis is unreachable';

$t->stop;

done_testing;
