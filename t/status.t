#!/usr/bin/perl

# inbotpay_status: GET /status answers the Prometheus text format. After a
# known set of webhook updates and API calls, spread over two workers, the
# counters hold exactly what was sent: updates by kind and code, API
# requests by endpoint and code, money operations by kind and outcome, the
# money moved, Bot API calls. The Redis latency histogram counts each
# command the workers sent (seen through MONITOR), its buckets never
# decrease; the connection gauge is 2 with two workers; a reload keeps
# every counter.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time sleep);
use InBotPay::Test;
use InBotPay::Wallet;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $J = 7000000001;    # Jordan
my $K = 1987654320;    # Kai

my $t = InBotPay::Test->new(api => 1, workers => 2);
my $w = InBotPay::Wallet->new($t, first_update_id => 732500000);

# metric NAME with LABELS, 0 when not printed
sub metric {
    my ($s, $name, %labels) = @_;
    return $s->{metrics}{ $t->metric_key($name, %labels) } // 0;
}

# the sum of every sample of NAME whose labels include LABELS
sub msum {
    my ($s, $name, %labels) = @_;
    my $sum = 0;
    KEY: for my $k (keys %{ $s->{metrics} }) {
        next unless $k =~ /^\Q$name\E(?:\{(.*)\})?$/;
        my $l = $1 // '';
        for my $want (keys %labels) {
            next KEY unless $l =~ /(?:^|,)\Q$want\E="\Q$labels{$want}\E"/;
        }
        $sum += $s->{metrics}{$k};
    }
    return $sum;
}

sub total { my $n = 0; $n += $_ for values %{ $_[0] }; return $n }

# The status once the counts of the requests sent are all in: a worker
# counts a request when it logs it, just after the answer has gone out.
sub status_when {
    my ($updates, $api) = @_;
    my $deadline = time + 3;
    while (1) {
        my $s = $t->status;
        return $s if (msum($s, 'inbotpay_updates_total') == $updates
                      && msum($s, 'inbotpay_api_requests_total') == $api)
                     || time > $deadline;
        sleep 0.05;
    }
}

#
# the format
#

my $s = $t->status;
is $s->{status}, 200, 'GET /status: 200';
like $s->{headers}{'content-type'} // '', qr{^text/plain(?:;\s*version=0\.0\.4)?$},
    'GET /status: text/plain (version 0.0.4)';

my @lines = split /\n/, $s->{content};
my @odd = grep { !/^# (?:HELP|TYPE) / && !/^[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_]\w*="[^"\\]*",?)*\})? (?:-?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?|\+Inf|NaN)$/ } @lines;
is_deeply \@odd, [], 'every line is a comment or a sample';
like $s->{content}, qr/\n\z/, 'the text ends with a newline';

my %type = (
    inbotpay_updates_total           => 'counter',
    inbotpay_api_requests_total      => 'counter',
    inbotpay_money_operations_total  => 'counter',
    inbotpay_money_moved_total       => 'counter',
    inbotpay_redis_latency_seconds   => 'histogram',
    inbotpay_redis_connections       => 'gauge',
    inbotpay_redis_errors_total      => 'counter',
    inbotpay_botapi_calls_total      => 'counter',
);
for my $name (sort keys %type) {
    is $s->{types}{$name}, $type{$name}, "# TYPE $name $type{$name}";
}
my %family = map { (s/(?:_bucket|_sum|_count)$//r => 1) }
             map { /^([a-zA-Z_:][a-zA-Z0-9_:]*)/ ? $1 : () }
             grep { !/^#/ } @lines;
is_deeply [ grep { !$s->{types}{$_} } sort keys %family ], [],
    'every metric has its # TYPE line';

is msum($s, 'inbotpay_updates_total'), 0, 'a fresh start: no update counted';
is msum($s, 'inbotpay_api_requests_total'), 0, 'a fresh start: no API request';
is msum($s, 'inbotpay_money_operations_total'), 0,
    'a fresh start: no money operation';

#
# a known set of updates and API calls
#

my %upd;     # "kind code" => n
my %reply;   # method => n, Bot API calls made as a webhook reply

sub upd {
    my ($u, $kind, $code, %opt) = @_;
    my $r = $t->update($u, %opt, headers => { Connection => 'close',
                                               %{ $opt{headers} || {} } });
    is $r->{status}, $code, "$kind update: $code";
    $upd{"$kind $code"}++;
    if (ref $r->{json} eq 'HASH' && $r->{json}{method}) {
        my $m = $r->{json}{method};
        $reply{ $m =~ /^(?:sendMessage|sendInvoice|answerCallbackQuery|answerPreCheckoutQuery)$/
                ? $m : 'other' }++;
    }
    return $r;
}

# a /balance that counts whatever it is answered (a 503 under load too)
sub balance_update {
    my $r = $t->update($w->message($J, '/balance'),
                       headers => { Connection => 'close' });
    $upd{"message $r->{status}"}++;
    return $r->{status};
}

$t->clear_calls;

upd($w->message($J, '/start'), 'message', 200);
upd($w->message($K, '/start'), 'message', 200);
upd($w->message($J, '/balance'), 'message', 200) for 1 .. 10;

# a deposit of 500 the way Telegram does it, and its payment again
my $inv = upd($w->message($J, '/deposit 500'), 'message', 200);
my ($pcq, $paid) = $t->pay($inv, from => $w->from($J),
                           update_id => $w->next_id);
$w->next_id;
my $r = upd($pcq, 'pre_checkout_query', 200);
ok $r->{json}{ok}, 'the pre-checkout is approved';
$r = upd($paid, 'message', 200);
is $r->{json}{text}, 'Deposit of 500 ⭐ received. Your balance: 500 ⭐',
    'Jordan deposits 500';
$paid->{update_id} = $w->next_id;
upd($paid, 'message', 200);

# a transfer of 100
my $send = $w->message($J, "/send $K 100");
upd($send, 'message', 200);
upd($w->callback($J, "txok:$send->{update_id}"), 'callback_query', 200);
$w->sent($K, qr/^You received 100 ⭐/);

# a withdrawal of 50, one refused
my $wd = $w->message($J, '/withdraw 50 UQstatus');
$r = upd($wd, 'message', 200);
like $r->{json}{text}, qr/is pending/, 'Jordan withdraws 50';
$r = upd($w->message($J, '/withdraw 90000 UQstatus'), 'message', 200);
is $r->{json}{text}, 'Not enough balance: you have 350 ⭐.',
    'a withdrawal over the balance is refused';

# other kinds, bad input
my $ed = $t->fixture('edited_message.json');
$ed->{update_id} = $w->next_id;
upd($ed, 'edited_message', 200);
my $cp = $t->fixture('channel_post.json');
$cp->{update_id} = $w->next_id;
upd($cp, 'other', 200);
upd('this is not JSON', 'invalid', 400);
upd($w->message($J, '/balance'), 'unauthorized', 401, secret => 'wrong')
    for 1 .. 2;

# the API
my %api;     # "endpoint code" => n

sub api {
    my ($ep, $body, $code, %opt) = @_;
    my $r = $t->api($ep, $body, %opt,
                    headers => { Connection => 'close' });
    is $r->{status}, $code, "$ep: $code" or diag $r->{content};
    $api{"$ep $code"}++;
    return $r;
}

api('balance', { player => 0 + $J }, 200) for 1 .. 3;
api('bet', { player => 0 + $J, tx => 's-b1', amount => 100 }, 200);
api('bet', { player => 0 + $J, tx => 's-b1', amount => 100 }, 200);
$r = api('bet', { player => 0 + $J, tx => 's-b2', amount => 100000 }, 200);
is $r->{json}{reason}, 'insufficient_funds', 'a bet over the balance';
api('win', { player => 0 + $J, tx => 's-w1', bet => 's-b1', amount => 250 },
    200);
api('bet', { player => 0 + $J, tx => 's-b4', amount => 40 }, 200);
$r = api('rollback', { player => 0 + $J, tx => 's-r4', bet => 's-b4' }, 200);
is $r->{json}{amount}, 40, 'a rollback returns 40';
api('adjust', { player => 0 + $J, tx => 's-a1', amount => 30,
                reason => 'status' }, 200);
api('adjust', { player => 0 + $J, tx => 's-a2', amount => -10,
                reason => 'status' }, 200);
$r = api('withdrawals', {}, 200);
is scalar @{ $r->{json}{withdrawals} }, 1, 'one withdrawal pending';
$r = api('settle', { player => 0 + $J, withdrawal => 0 + $wd->{update_id},
                     status => 'paid', reference => 'S-1' }, 200);
is $r->{json}{result}, 'paid', 'the withdrawal is paid through the API';
api('ledger', { player => 0 + $J }, 200);
api('balance', { player => 0 + $J }, 401, key => 'x' x 32) for 1 .. 2;
api('balance', { player => 0 + $J }, 401, time_offset => -3600);
api('nosuch', { player => 0 + $J }, 404);
api('balance', '', 405, method => 'GET');
api('bet', '[1]', 400);
$w->sent($J, qr/adjusted/, n => 2);
$w->sent($J, qr/was paid/);
$s = status_when(total(\%upd), total(\%api));
is $s->{status}, 200, 'GET /status after the traffic: 200';

for my $k (sort keys %upd) {
    my ($kind, $code) = split ' ', $k;
    is metric($s, 'inbotpay_updates_total', kind => $kind, code => $code),
        $upd{$k}, qq(inbotpay_updates_total{kind="$kind",code="$code"} $upd{$k});
}
my $n_upd = total(\%upd);
is msum($s, 'inbotpay_updates_total'), $n_upd,
    "inbotpay_updates_total: $n_upd in all, nothing else";

for my $k (grep { !/ 40[145]$/ } sort keys %api) {
    my ($ep, $code) = split ' ', $k;
    is metric($s, 'inbotpay_api_requests_total', endpoint => $ep, code => $code),
        $api{$k}, qq(inbotpay_api_requests_total{endpoint="$ep",code="$code"} $api{$k});
}
is metric($s, 'inbotpay_api_requests_total', endpoint => 'unknown', code => 404),
    1, 'an unknown endpoint is counted as "unknown"';
is msum($s, 'inbotpay_api_requests_total', code => 401), 3,
    'inbotpay_api_requests_total: 3 answered 401';
is msum($s, 'inbotpay_api_requests_total', code => 405), 1,
    'inbotpay_api_requests_total: 1 answered 405';
my $n_api = total(\%api);
is msum($s, 'inbotpay_api_requests_total'), $n_api,
    "inbotpay_api_requests_total: $n_api in all";

my %money = (
    'deposit ok' => 1, 'deposit repeat' => 1,
    'transfer ok' => 1,
    'withdrawal ok' => 1, 'withdrawal refused' => 1,
    'settle ok' => 1,
    'bet ok' => 2, 'bet repeat' => 1, 'bet refused' => 1,
    'win ok' => 1, 'rollback ok' => 1, 'adjust ok' => 2,
);
for my $k (sort keys %money) {
    my ($kind, $outcome) = split ' ', $k;
    is metric($s, 'inbotpay_money_operations_total', kind => $kind,
         outcome => $outcome), $money{$k},
        qq(inbotpay_money_operations_total{kind="$kind",outcome="$outcome"} $money{$k});
}
my $n_money = 0;
$n_money += $_ for values %money;
is msum($s, 'inbotpay_money_operations_total'), $n_money,
    "inbotpay_money_operations_total: $n_money in all";

my %moved = (deposit => 500, transfer => 100, bet => 140, win => 250,
             rollback => 40, adjust => 40);    # a debit counts as moved
for my $kind (sort keys %moved) {
    is metric($s, 'inbotpay_money_moved_total', kind => $kind), $moved{$kind},
        qq(inbotpay_money_moved_total{kind="$kind"} $moved{$kind});
}
is metric($s, 'inbotpay_money_moved_total', kind => 'refund'), 0,
    'inbotpay_money_moved_total{kind="refund"} 0';

# Bot API calls: the sim's record against the counters
my %named = map { ($_ => 1) } qw(sendMessage sendInvoice answerCallbackQuery
                                  answerPreCheckoutQuery);
my %sim;
for my $c ($t->calls) {
    my $method = $named{ $c->{method} } ? $c->{method} : 'other';
    $sim{$method}{ $c->{http_status} == 200 ? 'ok' : 'error' }++;
}
for my $method (sort keys %sim) {
    for my $outcome (qw(ok error)) {
        is metric($s, 'inbotpay_botapi_calls_total', method => $method,
             outcome => $outcome), $sim{$method}{$outcome} // 0,
            qq(inbotpay_botapi_calls_total{method="$method",outcome="$outcome"} )
            . ($sim{$method}{$outcome} // 0);
    }
}
for my $method (sort keys %reply) {
    is metric($s, 'inbotpay_botapi_calls_total', method => $method,
         outcome => 'reply'), $reply{$method},
        qq(inbotpay_botapi_calls_total{method="$method",outcome="reply"} $reply{$method});
}
is msum($s, 'inbotpay_redis_errors_total'), 0, 'no Redis error';

#
# both workers, their Redis connections
#

sub module_clients {
    my $me = $t->redis('CLIENT', 'ID');
    return scalar grep { !/\bid=$me\b/ && !/cmd=monitor/ }
                  split /\n/, $t->redis('CLIENT', 'LIST');
}

my $deadline = time + 5;
while (module_clients() < 2 && time < $deadline) {
    balance_update();
}
is module_clients(), 2, 'both workers are connected to Redis';
$s = status_when(total(\%upd), total(\%api));
is metric($s, 'inbotpay_redis_connections'), 2, 'inbotpay_redis_connections 2';

# requests that both workers answered add up exactly
my %before = map { ($_ => metric($s, 'inbotpay_updates_total',
                                  kind => 'message', code => $_)) } 200, 503;
my %got;
$got{ balance_update() }++ for 1 .. 20;
$s = status_when(total(\%upd), total(\%api));
is_deeply { map { ($_ => metric($s, 'inbotpay_updates_total', kind => 'message',
                                code => $_) - $before{$_}) } 200, 503 },
          { 200 => $got{200} // 0, 503 => $got{503} // 0 },
          '20 more updates over two workers: each counted under its answer';

#
# the Redis latency histogram
#

sub histogram {
    my ($s) = @_;
    my @b;
    for my $k (keys %{ $s->{metrics} }) {
        next unless $k =~ /^inbotpay_redis_latency_seconds_bucket\{le="([^"]+)"\}$/;
        push @b, [ $1, $s->{metrics}{$k} ];
    }
    @b = sort { ($a->[0] eq '+Inf' ? 9e99 : $a->[0])
                <=> ($b->[0] eq '+Inf' ? 9e99 : $b->[0]) } @b;
    return @b;
}

my @b = histogram($s);
cmp_ok scalar @b, '>=', 2, 'the histogram has buckets';
is $b[-1][0], '+Inf', 'the last bucket is +Inf';
my @down = grep { $b[$_][1] < $b[$_ - 1][1] } 1 .. $#b;
is_deeply \@down, [], 'the buckets never decrease';
my $count = metric($s, 'inbotpay_redis_latency_seconds_count');
cmp_ok $count, '>', 0, "the histogram counted $count commands";
is $b[-1][1], $count, 'the +Inf bucket equals _count';
cmp_ok metric($s, 'inbotpay_redis_latency_seconds_sum'), '>', 0, '_sum > 0';

# every command the workers send is counted once: watch them with MONITOR
my $mon = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                PeerPort => $t->redis_port, Timeout => 5)
    or die "monitor: $!";
print {$mon} "MONITOR\r\n";
my $ok = <$mon>;
is $ok, "+OK\r\n", 'MONITOR';

my $me = $t->redis('CLIENT', 'INFO') =~ /\baddr=(\S+)/ ? $1 : '-';
my $c0 = metric($t->status, 'inbotpay_redis_latency_seconds_count');
$t->api('balance', { player => 0 + $J }, headers => { Connection => 'close' })
    for 1 .. 5;
$t->api('bet', { player => 0 + $J, tx => "s-m$_", amount => 1 },
        headers => { Connection => 'close' }) for 1 .. 5;
$api{'balance 200'} += 5;
$api{'bet 200'} += 5;
balance_update() for 1 .. 5;
sleep 0.3;
my $c1 = metric($t->status, 'inbotpay_redis_latency_seconds_count');

my ($buf, $sel) = ('', IO::Select->new($mon));
while ($sel->can_read(0.3)) {
    sysread($mon, $buf, 65536, length $buf) or last;
}
close $mon;
my @seen = grep { !/\[\d+ lua\]/ && !/\[\d+ \Q$me\E\]/ } grep {/^\+\d/}
           split /\r\n/, $buf;
note scalar(@seen) . ' commands from the workers, e.g. '
     . substr($seen[0] // '', 0, 80);
cmp_ok scalar @seen, '>=', 15, 'MONITOR saw the workers\' commands';
is $c1 - $c0, scalar @seen,
    'the histogram counted each command the workers sent, once';

#
# a reload keeps the counters
#

$s = status_when(total(\%upd), total(\%api));
ok $t->reload, 'reload';
my $s2 = $t->status;
for my $name (qw(inbotpay_updates_total inbotpay_api_requests_total
                 inbotpay_money_operations_total inbotpay_money_moved_total
                 inbotpay_botapi_calls_total))
{
    my @k = sort grep { /^\Q$name\E\{/ } keys %{ $s->{metrics} };
    is_deeply { map { ($_ => $s2->{metrics}{$_} // 0) } @k },
              { map { ($_ => $s->{metrics}{$_}) } @k },
              "$name: the same after the reload";
}
cmp_ok metric($s2, 'inbotpay_redis_latency_seconds_count'), '>=',
    metric($s, 'inbotpay_redis_latency_seconds_count'),
    'the histogram is not reset by the reload';

balance_update();
$s2 = status_when(total(\%upd), total(\%api));
is metric($s2, 'inbotpay_updates_total', kind => 'message', code => 200),
    $upd{'message 200'},
    "after the reload the count goes on: message 200 = $upd{'message 200'}";

$deadline = time + 5;
while (time < $deadline) {
    last if module_clients() == 2
         && metric($t->status, 'inbotpay_redis_connections') == 2;
    balance_update();
    sleep 0.05;
}
is module_clients(), 2, 'after the reload: two workers connected';
is metric($t->status, 'inbotpay_redis_connections'), 2,
    'after the reload: inbotpay_redis_connections 2 (the old workers\' are gone)';

$t->stop;

done_testing;
