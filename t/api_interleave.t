#!/usr/bin/perl

# The bot and the casino backend API on the same wallets at the same
# time: several client processes, two workers, for a few seconds (or a
# bounded number of operations), mix deposits, transfers and withdrawals
# through the webhook (settled with the ops chat's buttons, by the player,
# or through the API) with bets, wins, rollbacks and adjustments through
# the API, plus repeats of earlier API calls. Afterwards every wallet
# agrees with its ledger (Wallet.pm's audit and redis/audit.lua), every
# repeat got the first answer's bytes, and the API moves the players were
# told of are exactly the game and adjust entries in the ledgers.
#
#   IBP_SEED=N      replay a run's operations (not their interleaving)
#   IBP_SECONDS=S   how long the clients run (default 4)
#   IBP_OPS=N       at most N operations per client (default 400)

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);
use InBotPay::Test;
use InBotPay::Wallet;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $seed = $ENV{IBP_SEED} // int time;
my $SECONDS = $ENV{IBP_SECONDS} // 4;
my $OPS_N = $ENV{IBP_OPS} // 400;
my $CLIENTS = 4;
my $OPS = -1009999999999;
my @ADMINS = (111, 222);

diag("seed $seed");

sub N { "$_[0] (seed $seed)" }

my @P = (7000000001, 1987654320, 612345678, 5550001234);

my $t = InBotPay::Test->new(api => 1, workers => 2,
                            http => "inbotpay_ops_chat $OPS;\n"
                                  . "inbotpay_admins @ADMINS;");
my $w = InBotPay::Wallet->new($t, first_update_id => 732400000);
my $JSON = JSON::PP->new->utf8->canonical;
my $dir = $t->dir;

for my $pid (@P) {
    $w->start($pid);
    my ($r) = $w->deposit($pid, 2000);
    is $r->{json}{text}, 'Deposit of 2000 ⭐ received. Your balance: 2000 ⭐',
        "player $pid deposits 2000";
}

sub client {
    my ($c) = @_;

    srand $seed * 31 + $c;
    my $cw = InBotPay::Wallet->new($t,
                                   first_update_id => 741000000 + $c * 1000000);
    open my $out, '>:raw', "$dir/client$c.jsonl" or die $!;
    $out->autoflush(1);
    my $rec = sub { print {$out} $JSON->encode({ c => $c, @_ }), "\n" };

    my $pick = sub { $_[ int rand @_ ] };
    my $n = 0;
    my (@bets, @calls, @wds, $n503);

    my $upd = sub {
        my ($u) = @_;
        my $r;
        for (1 .. 200) {
            $r = $t->update($u);
            last unless $r->{status} == 503;
            $n503++;
            sleep 0.02;
        }
        $rec->(k => 'bad_status', status => $r->{status},
               content => substr($r->{content} // '', 0, 300))
            if $r->{status} != 200;
        return $r->{json} // {};
    };

    my $api = sub {
        my ($ep, $body) = @_;
        my $r;
        for (1 .. 200) {
            $r = $t->api($ep, $body);
            last unless $r->{status} == 503;
            $n503++;
            sleep 0.02;
        }
        $rec->(k => 'api', ep => $ep, body => $body, status => $r->{status},
               content => $r->{content});
        push @calls, [ $ep, $body, $r->{content} ] if $r->{status} == 200;
        return $r;
    };

    my $t_end = time + $SECONDS;
    while ($n < $OPS_N && time < $t_end) {
        $n++;
        my $pid = $pick->(@P);
        my $x = rand;

        if ($x < 0.10) {
            my $amount = 1 + int rand 300;
            my $inv = $upd->($cw->message($pid, "/deposit $amount"));
            next unless defined $inv->{payload};
            $upd->($cw->payment($pid, $amount, $inv->{payload},
                                $cw->fresh_charge("i${c}s")));

        } elsif ($x < 0.18) {
            my $to = $pick->(grep { $_ != $pid } @P);
            my $u = $cw->message($pid, "/send $to " . (1 + int rand 200));
            my $j = $upd->($u);
            $upd->($cw->callback($pid, "txok:$u->{update_id}"))
                if ($j->{text} // '') =~ /^Send /;

        } elsif ($x < 0.28) {
            my $u = $cw->message($pid, '/withdraw ' . (1 + int rand 200)
                                       . " UQi$c-$n");
            my $j = $upd->($u);
            next unless ($j->{text} // '') =~ /is pending/;
            my $then = $pick->(qw(ok no cancel api api later later));
            if ($then eq 'ok' || $then eq 'no') {
                $upd->($cw->callback($pick->(@ADMINS),
                       "wd$then:$pid:$u->{update_id}", chat => $OPS));
            } elsif ($then eq 'cancel') {
                $upd->($cw->callback($pid, "wdc:$u->{update_id}"));
            } elsif ($then eq 'api') {
                $api->('settle', { player => 0 + $pid,
                                   withdrawal => 0 + $u->{update_id},
                                   status => $pick->(qw(paid rejected)),
                                   reference => "R$c-$n" });
            } else {
                push @wds, [ $pid, $u->{update_id} ];
            }

        } elsif ($x < 0.30 && @wds) {
            my ($wpid, $wu) = @{ splice @wds, int(rand @wds), 1 };
            $api->('settle', { player => 0 + $wpid, withdrawal => 0 + $wu,
                               status => $pick->(qw(paid rejected)),
                               reference => "L$c-$n" });

        } elsif ($x < 0.55) {
            my $tx = "c$c-b$n";
            my $r = $api->('bet', { player => 0 + $pid, tx => $tx,
                                    amount => 1 + int rand 200 });
            push @bets, [ $pid, $tx ] if ($r->{json}{status} // '') eq 'ok';

        } elsif ($x < 0.70) {
            my ($bp, $bt) = @bets && rand() < 0.9
                ? @{ $pick->(@bets) } : ($pid, "c$c-nosuch$n");
            $api->('win', { player => 0 + $bp, tx => "c$c-w$n", bet => $bt,
                            amount => 1 + int rand 400 });

        } elsif ($x < 0.80) {
            my ($bp, $bt) = @bets && rand() < 0.85
                ? @{ $pick->(@bets) } : ($pid, "c$c-early$n");
            $api->('rollback', { player => 0 + $bp, tx => "c$c-r$n",
                                 bet => $bt });
            # a rollback that came first: its bet now arrives
            $api->('bet', { player => 0 + $bp, tx => $bt, amount => 5 })
                if $bt =~ /early/;

        } elsif ($x < 0.88) {
            my $a = (1 + int rand 100) * (rand() < 0.5 ? -1 : 1);
            $api->('adjust', { player => 0 + $pid, tx => "c$c-a$n",
                               amount => $a, reason => "interleave $c/$n" });

        } elsif (@calls) {
            my ($ep, $body, $first) = @{ $pick->(@calls) };
            my $r = $t->api($ep, $body);
            $rec->(k => 'repeat', ep => $ep, body => $body,
                   status => $r->{status}, content => $r->{content},
                   first => $first);
        }
    }

    $rec->(k => 'done', ops => $n, n503 => $n503 // 0);
    close $out;
}

my $t0 = time;
my @kids;
for my $c (0 .. $CLIENTS - 1) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        eval { client($c); 1 } or do {
            open my $fh, '>>', "$dir/client$c.jsonl";
            print {$fh} $JSON->encode({ c => $c, k => 'died', err => "$@" }),
                        "\n";
        };
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
waitpid $_, 0 for @kids;
my $elapsed = time - $t0;
sleep 0.5;    # the last notices

my @recs;
for my $c (0 .. $CLIENTS - 1) {
    open my $fh, '<:raw', "$dir/client$c.jsonl" or die "client$c: $!";
    push @recs, map { $JSON->decode($_) } <$fh>;
}

my @done = grep { $_->{k} eq 'done' } @recs;
my ($ops, $n503) = (0, 0);
$ops += $_->{ops} for @done;
$n503 += $_->{n503} for @done;
my @api = grep { $_->{k} eq 'api' } @recs;
my @rep = grep { $_->{k} eq 'repeat' } @recs;
note sprintf 'seed %s: %d operations (%d API calls, %d repeats) in %.1f s,'
           . ' %d answers 503', $seed, $ops, scalar @api, scalar @rep,
             $elapsed, $n503;

is scalar @done, $CLIENTS, N('every client finished')
    or diag explain [ grep { $_->{k} eq 'died' } @recs ];
my @bad = grep { $_->{k} eq 'bad_status' } @recs;
is_deeply \@bad, [], N('every update answered 200');

# settlements may meet a withdrawal already settled by a button: 409
my @bad_api = grep {
    !($_->{status} == 200
      || ($_->{ep} eq 'settle' && $_->{status} == 409
          && ($_->{content} // '') =~ /"error":"conflict"/))
} @api;
is_deeply \@bad_api, [], N('every API call answered 200 (or 409 for a settled withdrawal)');

my @diff = grep { $_->{status} != 200 || $_->{content} ne $_->{first} } @rep;
is_deeply \@diff, [], N('every repeat got the first answer byte for byte');
cmp_ok scalar @rep, '>', 0, N('some calls were repeated');

my @neg = grep { ($_->{content} // '') =~ /"balance":-/ } @api;
is_deeply \@neg, [], N('no answer shows a negative balance');

#
# the wallets
#

for my $pid (@P) {
    is_deeply [ $w->audit($pid) ], [], N("wallet $pid agrees with its ledger");
}

my $lua = "$InBotPay::Test::REPO/redis/audit.lua";
SKIP: {
    skip 'no redis/audit.lua', 1 unless -f $lua;
    my $port = $t->redis_port;
    my @audit = `redis-cli -h 127.0.0.1 -p $port --raw --eval $lua 2>&1`;
    chomp @audit;
    is_deeply \@audit, [ 'ok ' . @P . ' wallets checked' ],
        N('redis/audit.lua: every wallet checked, no mismatch');
}

# The API moves the answers reported, against the ledgers' game and adjust
# entries: "PLAYER TYPE REF AMOUNT".
my @told;
for my $a (@api) {
    next unless $a->{status} == 200 && $a->{ep} =~ /^(?:bet|win|rollback|adjust)$/;
    my $j = decode_json($a->{content});
    next unless $j->{status} eq 'ok';
    my $amount = $a->{ep} eq 'bet' ? -$j->{amount} : $j->{amount};
    next if $a->{ep} eq 'rollback' && $amount == 0;
    push @told, "$j->{player} $a->{ep} $j->{tx} $amount";
}
my @entries;
for my $pid (@P) {
    push @entries, map { "$pid $_->{type} $_->{ref} $_->{amount}" }
                   grep { $_->{type} =~ /^(?:bet|win|rollback|adjust)$/ }
                   $w->ledger($pid);
}
is_deeply [ sort @entries ], [ sort @told ],
    N('the ledgers hold exactly the API moves answered ok');
note scalar(@told) . ' API moves';

# settlements through the API: the withdrawal records agree
my @wrong;
for my $a (grep { $_->{ep} eq 'settle' && $_->{status} == 200 } @api) {
    my $j = decode_json($a->{content});
    my %h = $w->rlist('HGETALL', "ibp:{$j->{player}}:wd:$j->{withdrawal}");
    $h{$_} //= '' for qw(status reference);
    push @wrong, "$j->{player}:$j->{withdrawal} $h{status} $h{reference}"
        unless $h{status} eq $j->{result} && $h{reference} eq $j->{reference}
               && $j->{result} eq $a->{body}{status};
}
is_deeply \@wrong, [], N('each settlement answered ok is in its withdrawal');

$t->stop;

done_testing;
