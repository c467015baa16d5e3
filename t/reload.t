#!/usr/bin/perl

# A reload (HUP) while idle: the old workers, which hold open Redis
# connections, exit promptly; the new workers serve the webhook, reach
# Redis and the Bot API.

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

my $PID = 7000000001;

my $t = InBotPay::Test->new(workers => 2);

sub alive { grep { kill 0, $_ } @_ }

sub redis_clients {
    my $list = $t->redis('CLIENT', 'LIST');
    return scalar grep { !/cmd=client/ } split /\n/, $list;
}

# warm up: every worker talks to Redis (several requests, two workers)

for my $i (1 .. 6) {
    my $u = $t->fixture('balance.json');
    $u->{update_id} = 731270000 + $i;
    my $r = $t->update($u, headers => { Connection => 'close' });
    is $r->{json}{text}, 'Your balance: 0 ⭐', "before the reload: /balance $i";
}

my @old = $t->nginx_workers;
is scalar @old, 2, 'two workers before the reload';
cmp_ok redis_clients(), '>=', 1, 'the workers hold Redis connections';

# reload while idle

my $t0 = time;
ok $t->reload, 'reload: new workers up, old workers gone';
my $dt = time - $t0;
cmp_ok $dt, '<', 5, sprintf('the old workers exited in %.2fs', $dt);
is scalar(alive(@old)), 0, 'no old worker is left';

my @new = $t->nginx_workers;
is scalar @new, 2, 'two new workers';
is scalar(grep { my $n = $_; grep { $_ == $n } @old } @new), 0,
    'the new workers are new processes';

# the old workers' Redis connections are gone (no leak per reload)

my $deadline = time + 3;
my $clients;
while (time < $deadline) {
    $clients = redis_clients();
    last if $clients <= 2;
    sleep 0.1;
}
cmp_ok $clients, '<=', 2, "at most one Redis connection per new worker ($clients)";

# the webhook works after the reload: Redis and the Bot API

my $u = $t->fixture('balance.json');
$u->{update_id} = 731270100;
my $r = $t->update($u);
is $r->{status}, 200, 'after the reload: /balance 200';
is $r->{json}{text}, 'Your balance: 0 ⭐', 'after the reload: /balance text';

my $dep = $t->update($t->fixture('deposit_cmd.json'));
is $dep->{json}{method}, 'sendInvoice', 'after the reload: invoice';
my $pay = $t->fixture('successful_payment_xtr.json');
$pay->{message}{successful_payment}{invoice_payload} = $dep->{json}{payload};
$r = $t->update($pay);
is $r->{json}{text}, 'Deposit of 100 ⭐ received. Your balance: 100 ⭐',
    'after the reload: a payment is credited';

$t->clear_calls;
$r = $t->update($t->fixture('callback_query.json'));
is $r->{json}{method}, 'answerCallbackQuery', 'after the reload: callback';
my @c = $t->wait_calls(1, method => 'sendInvoice');
is scalar @c, 1, 'after the reload: the subrequest reaches the Bot API';

# a payload signed before the reload is still valid after a second one
# (the invoice key does not change on reload)

ok $t->reload, 'second reload';
my $q = $t->fixture('pre_checkout_query_xtr.json');
$q->{pre_checkout_query}{invoice_payload} = $dep->{json}{payload};
$r = $t->update($q);
ok JSON::PP::is_bool($r->{json}{ok}) && $r->{json}{ok},
    'an invoice from before the reloads is accepted';

$r = $t->update($pay);
is $r->{json}{text}, 'Deposit of 100 ⭐ received. Your balance: 100 ⭐',
    'the payment again after two reloads: no second credit';
is $t->redis('HGET', "ibp:{$PID}:wallet", 'balance'), '100', 'balance 100';

$t->stop;

done_testing;
