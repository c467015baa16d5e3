#!/usr/bin/perl

# A randomised run: six players, two workers, a few thousand mixed
# operations sent concurrently by several client processes (deposits,
# transfers, withdrawals approved, rejected or cancelled, refunds, and
# repeats of earlier updates). Afterwards every wallet must agree with its
# ledger and its withdrawals, and the money in all wallets must equal the
# deposits credited minus the refunds and the paid withdrawals.
#
#   IBP_SEED=N   replay a run's operations (the seed is printed at the
#                start; the interleaving of the clients is not replayed)
#   IBP_OPS=N    number of operations (default 2000)

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);
use InBotPay::Test;
use InBotPay::Wallet;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $seed = $ENV{IBP_SEED} // int time;
my $OPS_N = $ENV{IBP_OPS} // 2000;
my $CLIENTS = 6;
my $OPS = -1009999999999;
my @ADMINS = (111, 222);

diag("seed $seed");
srand $seed;

sub N { "$_[0] (seed $seed)" }

my @P = sort { $a <=> $b } keys %InBotPay::Wallet::PLAYERS;

my $t = InBotPay::Test->new(workers => 2,
                            http => "inbotpay_ops_chat $OPS;\n"
                                  . "inbotpay_admins @ADMINS;");
my $w = InBotPay::Wallet->new($t, first_update_id => 730000000);
my $JSON = JSON::PP->new->utf8->canonical;

for my $pid (@P) {
    my $r = $w->start($pid);
    is $r->{status}, 200, N("/start $pid");
}

#
# the operation lists, one per client, generated here from the seed
#

sub pick { $_[ int rand @_ ] }

my @lists;
for my $i (0 .. $OPS_N - 1) {
    my $c = $i % $CLIENTS;
    my $x = rand;
    my $op;

    if ($x < 0.30) {
        $op = { k => 'dep', pid => pick(@P), amount => 1 + int rand 500 };
    } elsif ($x < 0.50) {
        my $from = pick(@P);
        my $to = pick(grep { $_ != $from } @P);
        $op = { k => 'tx', pid => $from, to => $to,
                by_name => rand() < 0.5, amount => 1 + int rand 300,
                then => pick(qw(ok ok ok ok ok ok ok ok no no_ok ok_ok
                                ok|ok ok|no)) };
    } elsif ($x < 0.70) {
        $op = { k => 'wd', pid => pick(@P), amount => 1 + int rand 300,
                dest => 'UQ' . join('', map { pick('a'..'z', 0..9) } 1 .. 10),
                then => pick(qw(paid paid paid paid rejected rejected rejected
                                cancel cancel cancel pending
                                paid_cancel cancel_paid rejected_paid
                                paid|cancel paid|rejected paid|paid)),
                admin => pick(@ADMINS) };
    } elsif ($x < 0.80) {
        $op = { k => 'refund', r => rand, unknown => rand() < 0.05,
                twice => rand() < 0.2 };
    } else {
        $op = { k => 'repeat', r => rand };
    }
    push @{ $lists[$c] }, $op;
}

#
# the clients
#

my $dir = $t->dir;
my $url = $t->webhook_url;
my %hdr = ('Content-Type' => 'application/json',
           'X-Telegram-Bot-Api-Secret-Token' => $t->secret);

sub client {
    my ($c, $ops) = @_;

    my $cw = InBotPay::Wallet->new($t, first_update_id => 740000000 + $c * 1000000);
    my $http = HTTP::Tiny->new(timeout => 15, keep_alive => 0);
    open my $out, '>:raw', "$dir/client$c.jsonl" or die $!;
    $out->autoflush(1);

    my (@sent, @deposits, $n503);
    my $rec = sub { print {$out} $JSON->encode({ c => $c, @_ }), "\n" };

    my $post = sub {
        my ($u) = @_;
        my $body = ref $u ? $JSON->encode($u) : $u;
        push @sent, $body;
        my $res;
        for my $try (1 .. 200) {
            $res = $http->request('POST', $url,
                                  { headers => \%hdr, content => $body });
            last unless $res->{status} == 503;
            $n503++;
            sleep 0.02 * ($try < 20 ? 1 : 5);
        }
        my $json = ($res->{content} // '') =~ /^\s*\{/
            ? eval { $JSON->decode($res->{content}) } : undef;
        $rec->(k => 'bad_status', status => $res->{status},
               content => substr($res->{content} // '', 0, 300),
               body => substr($body, 0, 300))
            if $res->{status} != 200;
        return ($res->{status}, $json // {});
    };

    # "a|b": the two presses at the same time, from two processes
    my $race = sub {
        my ($u1, $u2) = @_;
        my $kid = fork // die "fork: $!";
        if ($kid == 0) {
            $post->($u2);
            POSIX::_exit(0);
        }
        $post->($u1);
        waitpid $kid, 0;
    };

    for my $op (@$ops) {
        my $k = $op->{k};
        my $pid = $op->{pid};

        if ($k eq 'dep') {
            my ($st, $j) = $post->($cw->message($pid, "/deposit $op->{amount}"));
            my $payload = $j->{payload};
            if (!defined $payload) {
                $rec->(k => 'no_invoice', pid => $pid, status => $st,
                       reply => $j);
                next;
            }
            my $charge = $cw->fresh_charge("c${c}s");
            ($st, $j) = $post->($cw->payment($pid, $op->{amount}, $payload,
                                             $charge));
            $rec->(k => 'dep', pid => $pid, charge => $charge,
                   amount => $op->{amount}, status => $st,
                   text => $j->{text});
            push @deposits, [ $pid, $charge, $op->{amount} ] if $st == 200;

        } elsif ($k eq 'tx') {
            my $to = $op->{by_name} ? '@' . $cw->username($op->{to})
                                    : $op->{to};
            my $u = $cw->message($pid, "/send $to $op->{amount}");
            my ($st, $j) = $post->($u);
            my $cid = $u->{update_id};
            my $asked = ($j->{reply_markup}{inline_keyboard}[0][0]
                         {callback_data} // '') eq "txok:$cid";
            $rec->(k => 'tx', pid => $pid, to => $op->{to},
                   amount => $op->{amount}, id => $cid, asked => $asked,
                   text => $j->{text});
            next unless $asked;
            if ($op->{then} =~ /^(\w+)\|(\w+)$/) {
                $race->($cw->callback($pid, "tx$1:$cid"),
                        $cw->callback($pid, "tx$2:$cid"));
                next;
            }
            for my $a (split /_/, $op->{then}) {
                my ($st2, $j2) = $post->($cw->callback($pid, "tx$a:$cid"));
                $rec->(k => 'txcb', pid => $pid, id => $cid, action => $a,
                       answer => $j2->{text});
            }

        } elsif ($k eq 'wd') {
            my ($st, $j) = $post->($cw->message($pid,
                "/withdraw $op->{amount} $op->{dest}"));
            my ($wid) = ($j->{text} // '') =~ /^Withdrawal #(\d+) of /;
            # the Cancel button names the withdrawal as the ops buttons do:
            # wdc:X, wdok:PID:X, wdno:PID:X
            my ($x) = ($j->{reply_markup}{inline_keyboard}[0][0]
                       {callback_data} // '') =~ /^wdc:(\d+)$/;
            $rec->(k => 'wd', pid => $pid, amount => $op->{amount},
                   w => $wid, x => $x, text => $j->{text});
            next unless $wid && $x;
            my $press = sub {
                my ($a, $admin) = @_;
                return $a eq 'cancel'
                    ? $cw->callback($pid, "wdc:$x")
                    : $cw->callback($admin,
                          ($a eq 'paid' ? 'wdok' : 'wdno') . ":$pid:$x",
                          chat => $OPS);
            };
            if ($op->{then} =~ /^(\w+)\|(\w+)$/) {
                $race->($press->($1, $ADMINS[0]), $press->($2, $ADMINS[1]));
                next;
            }
            for my $a (split /_/, $op->{then}) {
                next if $a eq 'pending';
                my $u = $press->($a, $op->{admin});
                my ($st2, $j2) = $post->($u);
                $rec->(k => 'wdcb', pid => $pid, w => $wid, action => $a,
                       answer => $j2->{text});
            }

        } elsif ($k eq 'refund') {
            my ($rpid, $charge, $amount);
            if ($op->{unknown} || !@deposits) {
                ($rpid, $charge, $amount) =
                    (pick(@P), $cw->fresh_charge("u${c}s"), 100);
            } else {
                ($rpid, $charge, $amount) =
                    @{ $deposits[ int($op->{r} * @deposits) ] };
            }
            for (1 .. ($op->{twice} ? 2 : 1)) {
                my ($st, $j) = $post->($cw->refund_update($rpid, $amount,
                                                         $charge));
                $rec->(k => 'refund', pid => $rpid, charge => $charge,
                       amount => $amount, status => $st, text => $j->{text});
            }

        } elsif ($k eq 'repeat') {
            next unless @sent;
            $post->($sent[ int($op->{r} * @sent) ]);
        }
    }

    $rec->(k => 'done', n503 => $n503 // 0, requests => scalar @sent);
    close $out;
}

my $t0 = time;
my @kids;
for my $c (0 .. $CLIENTS - 1) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        eval { client($c, $lists[$c]); 1 } or do {
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

# let the last subrequests (ops chat, notices) finish
sleep 1;

my @recs;
for my $c (0 .. $CLIENTS - 1) {
    open my $fh, '<:raw', "$dir/client$c.jsonl" or die "client$c: $!";
    push @recs, map { $JSON->decode($_) } <$fh>;
}

my @done = grep { $_->{k} eq 'done' } @recs;
my ($requests, $n503) = (0, 0);
$requests += $_->{requests} for @done;
$n503 += $_->{n503} for @done;
note sprintf 'seed %s: %d operations, %d requests in %.1f s, %d answers 503',
    $seed, $OPS_N, $requests, $elapsed, $n503;

is scalar @done, $CLIENTS, N('every client finished')
    or diag explain [ grep { $_->{k} eq 'died' } @recs ];
my @bad = grep { $_->{k} =~ /^(?:bad_status|no_invoice|died)$/ } @recs;
is scalar @bad, 0, N('every request answered 200')
    or diag explain [ @bad[ 0 .. ($#bad < 9 ? $#bad : 9) ] ];

#
# each wallet
#

my (%ledger, %wds);
for my $pid (@P) {
    my @problems = $w->audit($pid);
    is_deeply \@problems, [], N("wallet $pid agrees with its ledger and withdrawals");
    $ledger{$pid} = [ $w->ledger($pid) ];
    $wds{$pid} = $w->withdrawals($pid);

    my %n;
    for my $e (@{ $ledger{$pid} }) {
        next unless defined $e->{withdrawal};
        $n{ $e->{withdrawal} }{ $e->{type} }++;
    }
    my @wrong;
    for my $id (sort { $a <=> $b } keys %{ $wds{$pid} }) {
        my $wd = $wds{$pid}{$id};
        my $s = $wd->{status} // '';
        my $h = $n{$id} // {};
        my $want = $s eq 'pending' ? '1/0/0'
                 : $s eq 'paid' ? '1/1/0'
                 : $s =~ /^(?:rejected|cancelled)$/ ? '1/0/1' : 'bad status';
        my $got = join '/', map { $h->{$_} // 0 }
                  qw(withdrawal_hold withdrawal_paid withdrawal_released);
        push @wrong, "#$id $s: hold/paid/released entries $got" if $got ne $want;
    }
    push @wrong, "ledger names withdrawal #$_ that has no record"
        for grep { !$wds{$pid}{$_} } keys %n;
    is_deeply \@wrong, [], N("wallet $pid: each withdrawal's ledger entries match its status");
}

#
# all wallets together
#

my ($total, $dep, $refunded, $paid, $tout, $tin) = (0) x 6;
my (%dep_ref, %ref_ref, @outs, @ins);
for my $pid (@P) {
    my $wa = $w->wallet($pid);
    $total += $wa->{balance} + $wa->{held} - $wa->{debt};
    for my $e (@{ $ledger{$pid} }) {
        my $ty = $e->{type};
        if ($ty eq 'deposit') {
            $dep += $e->{amount};
            $dep_ref{"$pid $e->{ref}"}++;
        } elsif ($ty eq 'refund') {
            $refunded -= $e->{amount};
            $ref_ref{"$pid $e->{ref}"} += -$e->{amount};
        } elsif ($ty eq 'withdrawal_paid') {
            $paid -= $e->{amount};
        } elsif ($ty eq 'transfer_out') {
            $tout -= $e->{amount};
            push @outs, "$pid>$e->{peer} " . -$e->{amount};
        } elsif ($ty eq 'transfer_in') {
            $tin += $e->{amount};
            push @ins, "$e->{peer}>$pid $e->{amount}";
        }
    }
}

note "seed $seed: deposits $dep, refunds $refunded, paid $paid, "
   . "transfers $tout, wallets $total";

is $total, $dep - $refunded - $paid,
    N('all wallets == deposits - refunds - paid withdrawals');
is $tin, $tout, N('transfers out == transfers in');
is_deeply [ sort @ins ], [ sort @outs ],
    N('each transfer_out has its transfer_in with the peers swapped');

# deposits: exactly the charges that got a 200, once each
my %charge_amount;
my $rec_dep = 0;
for my $r (grep { $_->{k} eq 'dep' && $_->{status} == 200 } @recs) {
    $charge_amount{"$r->{pid} $r->{charge}"} = $r->{amount};
    $rec_dep += $r->{amount};
}
is_deeply [ sort keys %dep_ref ], [ sort keys %charge_amount ],
    N('the ledgers hold one deposit for each charge answered 200');
is_deeply [ grep { $dep_ref{$_} != 1 } sort keys %dep_ref ], [],
    N('no charge credited twice');
is $dep, $rec_dep, N('credited deposits == the amounts of the charges answered 200');

my @dep_texts = grep { ($_->{text} // '') !~ /^Deposit of $_->{amount} ⭐ received\./ }
                grep { $_->{k} eq 'dep' } @recs;
is scalar @dep_texts, 0, N('every payment answered "Deposit of N ⭐ received."')
    or diag explain [ @dep_texts[ 0 .. ($#dep_texts < 4 ? $#dep_texts : 4) ] ];

# refunds: only of credited charges, once, for the charge's amount
my @bad_ref = grep { !defined $charge_amount{$_}
                     || $ref_ref{$_} != $charge_amount{$_} } sort keys %ref_ref;
is_deeply \@bad_ref, [], N('each refund reverses one credited charge once, in full');
my %told_refund = map { ("$_->{pid} $_->{charge}" => 1) }
                  grep { $_->{k} eq 'refund'
                         && ($_->{text} // '') =~ /^Refund of \d+ ⭐ processed/ }
                  @recs;
is_deeply [ sort keys %told_refund ], [ sort keys %ref_ref ],
    N('the refunds the players were told of are the refund entries');
my @unknown = grep { $_->{k} eq 'refund' && !$charge_amount{"$_->{pid} $_->{charge}"} }
              @recs;
is scalar(grep { defined $_->{text} } @unknown), 0,
    N('refunds of unknown charges: no message');

# withdrawals: paid ones sum to the paid entries; ops chat told once each
my ($wd_paid, $n_paid, %n_status) = (0, 0);
for my $pid (@P) {
    for my $wd (values %{ $wds{$pid} }) {
        $n_status{ $wd->{status} }++;
        next unless $wd->{status} eq 'paid';
        $wd_paid += $wd->{amount};
        $n_paid++;
    }
}
note "seed $seed: withdrawals " . join ', ',
    map { "$_ $n_status{$_}" } sort keys %n_status;
is $wd_paid, $paid, N('paid withdrawal records == withdrawal_paid entries');

my @ops_paid = grep { ($_->{params}{text} // '') =~ /^Withdrawal #\d+ of \d+ ⭐ for player \d+: paid \(by (?:111|222)\)\.$/ }
               $t->calls(method => 'sendMessage', chat_id => $OPS);
is scalar @ops_paid, $n_paid, N('the ops chat heard of each payment once');

my $n_wd = grep { $_->{k} eq 'wd' && $_->{w} } @recs;
my $n_wd_records = 0;
$n_wd_records += keys %{ $wds{$_} } for @P;
my %accepted = map { ("$_->{pid} #$_->{w}" => 1) }
               grep { $_->{k} eq 'wd' && $_->{w} } @recs;
my @extra;
for my $pid (@P) {
    for my $wd (values %{ $wds{$pid} }) {
        push @extra, "$pid #$wd->{id} ($wd->{amount} to $wd->{destination},"
                   . " update $wd->{update})"
            unless $accepted{"$pid #$wd->{id}"};
    }
}
is $n_wd_records, $n_wd, N('one withdrawal record per accepted /withdraw')
    or diag 'withdrawals whose /withdraw was not answered "pending": '
            . join '; ', sort @extra;


# transfers: done records == the moves in the ledgers
my @done_tx;
for my $pid (@P) {
    for my $key ($w->rlist('KEYS', "ibp:{$pid}:transfer:*")) {
        my %h = $w->rlist('HGETALL', $key);
        push @done_tx, "$pid>$h{to} $h{amount}" if ($h{status} // '') eq 'done';
    }
}
is_deeply [ sort @done_tx ], [ sort @outs ],
    N('the transfers marked done are the transfer_out entries');

# the operators' audit (redis/audit.lua) agrees
my ($rport, $lua) = ($t->redis_port, "$InBotPay::Test::REPO/redis/audit.lua");
my @audit = `redis-cli -h 127.0.0.1 -p $rport --raw --eval $lua 2>&1`;
chomp @audit;
is_deeply \@audit, [ 'ok ' . @P . ' wallets checked' ],
    N('redis/audit.lua: every wallet checked, no mismatch');

$t->stop;

done_testing;
