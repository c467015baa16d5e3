#!/usr/bin/perl

# Redis down, never up, or up but silent: the webhook answers 503 at once
# (Telegram retries), acknowledges nothing, and recovers by itself; the
# retried payment credits exactly once.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);
use InBotPay::Test;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $PID    = 7000000001;
my $CHARGE = 'stxn0y46EX9_lFUN76XbDBFQRjR9vbtNHbvlphB_Uel8COuwe_vIL1n-qRDjsP3b'
           . 'AuI3e0we3QZ_y5OromdKTe4Domw1BNw0DWzHjfsYnC_xF9';

my $t;

sub rlist {
    my @r = $t->redis(@_);
    return @r == 1 && ref $r[0] eq 'ARRAY' ? @{ $r[0] } : @r;
}

sub timed {
    my ($u) = @_;
    my $t0 = time;
    my $r = $t->update($u);
    return ($r, time - $t0);
}

sub retry_until_200 {
    my ($u, $limit) = @_;
    my $deadline = time + $limit;
    my ($r, $n) = (undef, 0);
    while (time < $deadline) {
        $r = $t->update($u);
        $n++;
        last if $r->{status} == 200;
        sleep 0.2;
    }
    return ($r, $n);
}

#
# 1. Redis stops while nginx runs
#

$t = InBotPay::Test->new;

my $dep = $t->update($t->fixture('deposit_cmd.json'));
is $dep->{json}{method}, 'sendInvoice', 'an invoice while Redis is up';
my $pay = $t->fixture('successful_payment_xtr.json');
$pay->{message}{successful_payment}{invoice_payload} = $dep->{json}{payload};

my $r = $t->update($t->fixture('balance.json'));
is $r->{json}{text}, 'Your balance: 0 ⭐', 'Redis up: /balance';

$t->stop_redis;
$t->clear_calls;

my $dt;
($r, $dt) = timed($pay);
is $r->{status}, 503, 'Redis down: successful_payment 503';
cmp_ok $dt, '<', 3, sprintf('Redis down: answered in %.2fs', $dt);
ok !$r->{json} || !$r->{json}{method}, 'Redis down: no Bot API call in the body';

($r, $dt) = timed($pay);
is $r->{status}, 503, 'Redis down: the retry also 503';
cmp_ok $dt, '<', 3, sprintf('Redis down: retry answered in %.2fs', $dt);

my $bal = $t->fixture('balance.json');
$bal->{update_id} = 731250001;
($r, $dt) = timed($bal);
is $r->{status}, 503, 'Redis down: /balance 503';
cmp_ok $dt, '<', 3, sprintf('Redis down: /balance in %.2fs', $dt);

my $q = $t->fixture('pre_checkout_query_xtr.json');
$q->{pre_checkout_query}{invoice_payload} = $dep->{json}{payload};
($r, $dt) = timed($q);
ok $r->{status} == 503 || ($r->{status} == 200 && $r->{json}{ok}),
    "Redis down: pre_checkout_query 503 or ok ($r->{status})";
cmp_ok $dt, '<', 3, sprintf('Redis down: pre_checkout_query in %.2fs', $dt);

sleep 0.3;
is scalar($t->calls), 0, 'Redis down: no Bot API call made';

$t->start_redis;
is $t->redis('EXISTS', "ibp:{$PID}:charge:$CHARGE"), 0,
    'Redis back: the charge was not recorded while down';
is $t->redis('HGET', "ibp:{$PID}:wallet", 'balance') // '0', '0',
    'Redis back: nothing credited while down';

my $n;
($r, $n) = retry_until_200($pay, 10);
is $r->{status}, 200, "Redis back: the same update gets 200 (try $n)";
is $r->{json}{text}, 'Deposit of 100 ⭐ received. Your balance: 100 ⭐',
    'Redis back: credited';
$r = $t->update($pay);
is $r->{json}{text}, 'Deposit of 100 ⭐ received. Your balance: 100 ⭐',
    'Redis back: one more delivery, the same answer';
is $t->redis('HGET', "ibp:{$PID}:wallet", 'balance'), '100',
    'Redis back: balance 100';
is scalar(my @l = rlist('LRANGE', "ibp:{$PID}:ledger", 0, -1)), 1,
    'Redis back: one ledger entry';

# a second outage, to check the reconnect is not a one-off

$t->stop_redis;
($r, $dt) = timed($bal);
is $r->{status}, 503, 'second outage: 503';
cmp_ok $dt, '<', 3, 'second outage: fast';
$t->start_redis;
($r, $n) = retry_until_200($bal, 10);
is $r->{status}, 200, 'second outage: recovered';
is $r->{json}{text}, 'Your balance: 100 ⭐', 'second outage: the balance';

$t->stop;
undef $t;

#
# 2. nginx starts with no Redis at all
#

$t = InBotPay::Test->new(redis => 0);

($r, $dt) = timed($t->fixture('balance.json'));
is $r->{status}, 503, 'no Redis from the start: /balance 503';
cmp_ok $dt, '<', 3, 'no Redis from the start: fast';

$t->start_redis;
($r, $n) = retry_until_200($t->fixture('balance.json'), 10);
is $r->{status}, 200, "Redis started later: recovered by itself (try $n)";
is $r->{json}{text}, 'Your balance: 0 ⭐', 'Redis started later: /balance';

$t->stop;
undef $t;

#
# 3. a Redis that accepts and never answers
#

my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Listen => 16, ReuseAddr => 1)
    or die "listen: $!";
my $silent_port = $listen->sockport;

my $silent = fork // die "fork: $!";
if ($silent == 0) {
    $SIG{TERM} = sub { POSIX::_exit(0) };
    my $sel = IO::Select->new($listen);
    my $parent = getppid;
    while (getppid == $parent) {
        for my $fh ($sel->can_read(0.5)) {
            if ($fh == $listen) {
                my $c = $listen->accept or next;
                $sel->add($c);
                next;
            }
            my $n = sysread $fh, my $buf, 65536;
            if (!$n) {
                $sel->remove($fh);
                close $fh;
            }
        }
    }
    POSIX::_exit(0);
}
close $listen;

$t = InBotPay::Test->new(redis => 0, server => <<"EOF");
        inbotpay_redis         127.0.0.1:$silent_port;
        inbotpay_redis_timeout 300ms;
EOF

for my $i (1 .. 3) {
    my $u = $t->fixture('balance.json');
    $u->{update_id} = 731250100 + $i;
    ($r, $dt) = timed($u);
    is $r->{status}, 503, "silent Redis, request $i: 503";
    cmp_ok $dt, '<', 1.3, sprintf('silent Redis, request %d: %.2fs', $i, $dt);
}

# an invoice of this nginx (its key comes from its own bot token); signing
# needs no Redis
$dep = $t->update($t->fixture('deposit_cmd.json'));
is $dep->{json}{method}, 'sendInvoice', 'silent Redis: /deposit still signs';
$pay->{message}{successful_payment}{invoice_payload} = $dep->{json}{payload};

($r, $dt) = timed($pay);
is $r->{status}, 503, 'silent Redis: successful_payment 503';
cmp_ok $dt, '<', 1.3, sprintf('silent Redis: successful_payment %.2fs', $dt);

$t->stop;
undef $t;

kill 'TERM', $silent;
waitpid $silent, 0;

done_testing;
