#!/usr/bin/perl

# The game endpoints of the casino backend API: balance, bet, win and
# rollback in every order they can arrive in (a win or a rollback of an
# open bet, a rollback before its bet, a second win, a win after a
# rollback, a rollback after a win, a win for an unknown bet, a second
# rollback), a bet over the balance, a win that pays a debt first. Each
# call repeated with the same tx gets the same bytes and moves nothing;
# the same tx with other parameters is a 409 conflict; a tx belongs to its
# player. The ledger holds one entry per move. Then the same bet sent 20
# times at once debits once, and different bets at once never take the
# balance below zero.

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

my $J = 7000000001;     # Jordan
my $K = 1987654320;     # Kai
my $M = 612345678;      # Mira
my $O = 5550001234;     # Ola
my $S = 6000000042;     # Sam, who never talks to the bot

my $t = InBotPay::Test->new(api => 1, workers => 2);
my $w = InBotPay::Wallet->new($t, first_update_id => 732200000);

# A call that must be answered 200; returns the response.
sub call {
    my ($ep, $body, $name) = @_;
    my $r = $t->api($ep, $body);
    is $r->{status}, 200, "$name: 200" or diag $r->{content};
    like $r->{headers}{'content-type'} // '', qr{^application/json\b},
        "$name: JSON";
    return $r;
}

# The call again, with the same tx and parameters: the first answer's
# bytes, and nothing moves.
sub again {
    my ($ep, $body, $first, $name) = @_;
    my $before = $w->snapshot;
    my $r = $t->api($ep, $body);
    is $r->{status}, 200, "$name again: 200";
    is $r->{content}, $first->{content}, "$name again: the same bytes";
    is $w->snapshot, $before, "$name again: nothing moves";
    return $r;
}

# The same tx with other parameters: 409 conflict, nothing moves.
sub conflict {
    my ($ep, $body, $name) = @_;
    my $before = $w->snapshot;
    my $r = $t->api($ep, $body);
    is $r->{status}, 409, "$name: 409";
    is $r->{json}{error}, 'conflict', "$name: conflict";
    ok length($r->{json}{message} // ''), "$name: a message";
    is $w->snapshot, $before, "$name: nothing moves";
    return $r;
}

sub bet { { player => 0 + $_[0], tx => $_[1], amount => 0 + $_[2] } }
sub win { { player => 0 + $_[0], tx => $_[1], bet => $_[2],
            amount => 0 + $_[3] } }
sub rollback { { player => 0 + $_[0], tx => $_[1], bet => $_[2] } }

#
# balance
#

my $before = $w->snapshot;
my $r = call('balance', { player => 0 + $S }, 'balance of a stranger');
is $r->{content},
    qq({"player":$S,"balance":0,"held":0,"debt":0,"currency":"XTR"}),
    'balance of a player who never used the bot: all 0';
is $w->snapshot, $before, 'balance of a stranger: nothing written';

$w->start($J);
($r) = $w->deposit($J, 1000);
is $r->{json}{text}, 'Deposit of 1000 ⭐ received. Your balance: 1000 ⭐',
    'Jordan deposits 1000';
$t->update($w->message($J, '/withdraw 100 UQgame'));
is $w->bhd($J), '900/100/0', 'Jordan holds 100 for a withdrawal';

$r = call('balance', { player => 0 + $J }, 'balance');
is_deeply $r->{json}, { player => $J, balance => 900, held => 100,
                        debt => 0, currency => 'XTR' },
    'balance: balance, held, debt and currency';

#
# bet -> win
#

my $b1 = call('bet', bet($J, 'g-b1', 100), 'bet g-b1 100');
is $b1->{content},
    qq({"status":"ok","tx":"g-b1","player":$J,"amount":100,"balance":800}),
    'bet g-b1: ok, balance 800';
is $w->bhd($J), '800/100/0', 'bet g-b1: the wallet';
again('bet', bet($J, 'g-b1', 100), $b1, 'bet g-b1');
conflict('bet', bet($J, 'g-b1', 101), 'bet g-b1 with another amount');
conflict('rollback', rollback($J, 'g-b1', 'g-b1'),
         'the tx of bet g-b1 reused by a rollback');
conflict('win', win($J, 'g-b1', 'g-b1', 100),
         'the tx of bet g-b1 reused by a win');

my $w1 = call('win', win($J, 'g-w1', 'g-b1', 250), 'win g-w1 of g-b1');
is_deeply $w1->{json}, { status => 'ok', tx => 'g-w1', player => $J,
                         bet => 'g-b1', amount => 250, balance => 1050 },
    'win g-w1: ok, balance 1050';
is $w->bhd($J), '1050/100/0', 'win g-w1: the wallet';
again('win', win($J, 'g-w1', 'g-b1', 250), $w1, 'win g-w1');
conflict('win', win($J, 'g-w1', 'g-b1', 251), 'win g-w1 with another amount');
conflict('win', win($J, 'g-w1', 'g-b9', 250), 'win g-w1 for another bet');
conflict('bet', bet($J, 'g-w1', 250), 'the tx of win g-w1 reused by a bet');

# a second win for the same bet
$before = $w->snapshot;
my $w1b = call('win', win($J, 'g-w1b', 'g-b1', 30), 'a second win of g-b1');
is_deeply $w1b->{json}, { status => 'refused', reason => 'bet_settled',
                          tx => 'g-w1b', player => $J, bet => 'g-b1',
                          amount => 30, balance => 1050 },
    'a second win for the same bet: refused bet_settled';
is $w->bhd($J), '1050/100/0', 'a second win: the wallet unchanged';
again('win', win($J, 'g-w1b', 'g-b1', 30), $w1b, 'the second win');

# bet -> win -> rollback
my $r1 = call('rollback', rollback($J, 'g-r1', 'g-b1'),
              'a rollback of the won g-b1');
is_deeply $r1->{json}, { status => 'refused', reason => 'bet_settled',
                         tx => 'g-r1', player => $J, bet => 'g-b1',
                         amount => 0, balance => 1050 },
    'bet -> win -> rollback: refused bet_settled';
is $w->bhd($J), '1050/100/0', 'the rollback of a won bet: nothing moves';
again('rollback', rollback($J, 'g-r1', 'g-b1'), $r1, 'the refused rollback');

#
# bet -> rollback -> win; a second rollback
#

my $b2 = call('bet', bet($J, 'g-b2', 200), 'bet g-b2 200');
is_deeply $b2->{json}, { status => 'ok', tx => 'g-b2', player => $J,
                         amount => 200, balance => 850 },
    'bet g-b2: ok, balance 850';

my $r2 = call('rollback', rollback($J, 'g-r2', 'g-b2'), 'rollback of g-b2');
is $r2->{content}, qq({"status":"ok","tx":"g-r2","player":$J,"bet":"g-b2",)
                 . qq("amount":200,"balance":1050}),
    'bet -> rollback: ok, 200 returned, balance 1050';
is $w->bhd($J), '1050/100/0', 'rollback g-r2: the wallet';
again('rollback', rollback($J, 'g-r2', 'g-b2'), $r2, 'rollback g-r2');
conflict('rollback', rollback($J, 'g-r2', 'g-b1'),
         'rollback g-r2 for another bet');

# the bet repeated after its rollback: its first answer, nothing moves
again('bet', bet($J, 'g-b2', 200), $b2, 'bet g-b2 after its rollback');

my $r2b = call('rollback', rollback($J, 'g-r2b', 'g-b2'),
               'a second rollback of g-b2, new tx');
is_deeply $r2b->{json}, { status => 'ok', tx => 'g-r2b', player => $J,
                          bet => 'g-b2', amount => 0, balance => 1050 },
    'a second rollback: ok, amount 0';
is $w->bhd($J), '1050/100/0', 'a second rollback: nothing moves';
again('rollback', rollback($J, 'g-r2b', 'g-b2'), $r2b, 'the second rollback');

my $w2 = call('win', win($J, 'g-w2', 'g-b2', 50), 'a win of rolled back g-b2');
is_deeply $w2->{json}, { status => 'refused', reason => 'bet_rolled_back',
                         tx => 'g-w2', player => $J, bet => 'g-b2',
                         amount => 50, balance => 1050 },
    'bet -> rollback -> win: refused bet_rolled_back';
is $w->bhd($J), '1050/100/0', 'the win of a rolled back bet: nothing moves';
again('win', win($J, 'g-w2', 'g-b2', 50), $w2, 'the refused win');

#
# rollback (unknown bet) -> bet
#

my $r3 = call('rollback', rollback($J, 'g-r3', 'g-b3'),
              'a rollback of the unknown g-b3');
is_deeply $r3->{json}, { status => 'ok', tx => 'g-r3', player => $J,
                         bet => 'g-b3', amount => 0, balance => 1050 },
    'a rollback of an unknown bet: ok, amount 0';
is $w->bhd($J), '1050/100/0', 'a rollback of an unknown bet: nothing moves';
again('rollback', rollback($J, 'g-r3', 'g-b3'), $r3,
      'the rollback of the unknown bet');

my $b3 = call('bet', bet($J, 'g-b3', 100), 'bet g-b3 after its rollback');
is_deeply $b3->{json}, { status => 'refused', reason => 'rolled_back',
                         tx => 'g-b3', player => $J, amount => 100,
                         balance => 1050 },
    'rollback -> bet: the bet is refused rolled_back';
is $w->bhd($J), '1050/100/0', 'the refused bet: nothing moves';
again('bet', bet($J, 'g-b3', 100), $b3, 'the refused bet g-b3');

#
# a win for an unknown bet
#

my $w5 = call('win', win($J, 'g-w5', 'g-nosuch', 10), 'a win of an unknown bet');
is_deeply $w5->{json}, { status => 'refused', reason => 'unknown_bet',
                         tx => 'g-w5', player => $J, bet => 'g-nosuch',
                         amount => 10, balance => 1050 },
    'a win for an unknown bet: refused unknown_bet';
is $w->bhd($J), '1050/100/0', 'the win of an unknown bet: nothing moves';
again('win', win($J, 'g-w5', 'g-nosuch', 10), $w5, 'the unknown-bet win');

#
# a bet over the balance
#

my $b4 = call('bet', bet($J, 'g-b4', 5000), 'bet g-b4 of 5000');
is_deeply $b4->{json}, { status => 'refused', reason => 'insufficient_funds',
                         tx => 'g-b4', player => $J, amount => 5000,
                         balance => 1050 },
    'a bet over the balance: refused insufficient_funds, with the balance';
is $w->bhd($J), '1050/100/0', 'a bet over the balance: nothing moves';
again('bet', bet($J, 'g-b4', 5000), $b4, 'the refused bet g-b4');

my $b4h = call('bet', bet($J, 'g-b4h', 1051), 'bet of balance + 1');
is $b4h->{json}{reason}, 'insufficient_funds',
    'a bet of the balance + 1 (held money does not count): refused';

($r) = $w->deposit($J, 5000);
is $r->{json}{text}, 'Deposit of 5000 ⭐ received. Your balance: 6050 ⭐',
    'Jordan deposits 5000 more';
again('bet', bet($J, 'g-b4', 5000), $b4,
      'the refused bet g-b4 once the money is there');
is $w->bhd($J), '6050/100/0', 'the refused bet stays refused';

my $b5 = call('bet', bet($J, 'g-b5', 6050), 'a bet of the whole balance');
is_deeply $b5->{json}, { status => 'ok', tx => 'g-b5', player => $J,
                         amount => 6050, balance => 0 },
    'a bet of the whole balance: ok, balance 0';
is $w->bhd($J), '0/100/0', 'the held money is untouched';

#
# a tx belongs to its player; a win pays a debt first
#

$w->start($K);
my (undef, $charge) = $w->deposit($K, 100);
my $kb1 = call('bet', bet($K, 'g-b1', 100), 'Kai bets with the tx g-b1');
is_deeply $kb1->{json}, { status => 'ok', tx => 'g-b1', player => $K,
                          amount => 100, balance => 0 },
    'the same tx for another player is another transaction';
is $w->bhd($K), '0/0/0', 'Kai: balance 0';

$r = $t->update($w->refund_update($K, 100, $charge));
is $r->{json}{text}, "Refund of 100 ⭐ processed. Your balance: 0 ⭐\nDebt: 100 ⭐",
    'Telegram refunds Kai\'s deposit: debt 100';

my $kw1 = call('win', win($K, 'k-w1', 'g-b1', 150), 'Kai wins 150 in debt');
is_deeply $kw1->{json}, { status => 'ok', tx => 'k-w1', player => $K,
                          bet => 'g-b1', amount => 150, balance => 50 },
    'a win pays the debt first: balance 50';
is $w->bhd($K), '50/0/0', 'Kai: debt 0, balance 50';

$r = call('balance', { player => 0 + $K }, 'Kai\'s balance');
is $r->{json}{debt}, 0, 'Kai\'s balance: debt 0';

# another player's bet is unknown
my $kb2 = call('bet', bet($K, 'k-b2', 10), 'Kai bets k-b2');
is $kb2->{json}{balance}, 40, 'Kai bets k-b2: balance 40';
my $jw = call('win', win($J, 'g-w6', 'k-b2', 10), 'Jordan wins on k-b2');
is_deeply $jw->{json}, { status => 'refused', reason => 'unknown_bet',
                         tx => 'g-w6', player => $J, bet => 'k-b2',
                         amount => 10, balance => 0 },
    'a win naming a bet of another player: unknown_bet';
is $w->bhd($K), '40/0/0', 'Kai\'s wallet unchanged by it';

#
# the ledgers
#

# "TYPE AMOUNT REF BET BALANCE HELD DEBT" of each entry (REF only for the
# game's entries: a deposit's is its charge)
sub entries {
    my ($pid) = @_;
    return [ map { my %e = %$_;
                   delete $e{ref} unless $e{type} =~ /^(?:bet|win|rollback)$/;
                   join ' ', map { $_ // '-' }
                   @e{qw(type amount ref bet balance held debt)} }
             $w->ledger($pid) ];
}

my @jl = $w->ledger($J);
is_deeply entries($J), [
    'deposit 1000 - - 1000 0 0',
    'withdrawal_hold 0 - - 900 100 0',
    'bet -100 g-b1 - 800 100 0',
    'win 250 g-w1 g-b1 1050 100 0',
    'bet -200 g-b2 - 850 100 0',
    'rollback 200 g-r2 g-b2 1050 100 0',
    'deposit 5000 - - 6050 100 0',
    'bet -6050 g-b5 - 0 100 0',
], 'Jordan\'s ledger: one entry per move, none for refusals and repeats'
    or diag explain \@jl;
is_deeply [ map { ($_->{ref} // '') =~ /^g-/ ? $_->{id} : () } @jl ],
          [ 3, 4, 5, 6, 8 ], 'the game entries have the next ids';
ok !(grep { !defined $_->{time} || abs($_->{time} - time) > 300 } @jl),
    'every entry has its time';

is_deeply entries($K), [
    'deposit 100 - - 100 0 0',
    'bet -100 g-b1 - 0 0 0',
    'refund -100 - - 0 0 100',
    'win 150 k-w1 g-b1 50 0 0',
    'bet -10 k-b2 - 40 0 0',
], 'Kai\'s ledger';

is_deeply [ $w->audit($J) ], [], 'Jordan\'s wallet agrees with its ledger';
is_deeply [ $w->audit($K) ], [], 'Kai\'s wallet agrees with its ledger';

#
# the same bet 20 times at once
#

my $dir = $t->dir;

# Runs each job in a process of its own, all starting at the same moment;
# returns what each returned.
sub parallel {
    my (@jobs) = @_;
    my $at = time + 0.5;
    my @kids;
    for my $i (0 .. $#jobs) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            sleep $at - time if $at > time;
            my $out = eval { $jobs[$i]->() } // "died: $@";
            open my $fh, '>:raw', "$dir/parallel$i.out" or POSIX::_exit(1);
            print {$fh} $out;
            close $fh;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    waitpid $_, 0 for @kids;
    my @out;
    for my $i (0 .. $#jobs) {
        open my $fh, '<:raw', "$dir/parallel$i.out" or die "parallel$i: $!";
        local $/;
        push @out, scalar <$fh>;
        unlink "$dir/parallel$i.out";
    }
    return @out;
}

sub api_job {
    my ($ep, $body) = @_;
    return sub {
        my $r = $t->api($ep, $body);
        return "$r->{status}\n$r->{content}";
    };
}

$w->start($M);
$w->deposit($M, 1000);
is $w->bhd($M), '1000/0/0', 'Mira deposits 1000';

my @out = parallel(map { api_job('bet', bet($M, 'm-same', 10)) } 1 .. 20);
is scalar(grep { /^200\n/ } @out), 20, 'the same bet 20 times at once: all 200'
    or diag explain \@out;
my %bodies = map { (s/^\d+\n//r => 1) } @out;
is_deeply [ keys %bodies ],
    [ qq({"status":"ok","tx":"m-same","player":$M,"amount":10,"balance":990}) ],
    'the same bet 20 times at once: 20 identical answers, ok 990';
is $w->bhd($M), '990/0/0', 'the same bet 20 times at once: one debit';
is scalar(grep { $_->{type} eq 'bet' } $w->ledger($M)), 1,
    'the same bet 20 times at once: one ledger entry';

# a win and a rollback of it at once: exactly one of them takes effect
@out = parallel(api_job('win', win($M, 'm-win', 'm-same', 40)),
                api_job('rollback', rollback($M, 'm-rb', 'm-same')));
my ($wj, $rj) = map { decode_json(s/^\d+\n//r) } @out;
my $took = ($wj->{status} eq 'ok' ? 1 : 0)
         + ($rj->{status} eq 'ok' && $rj->{amount} == 10 ? 1 : 0);
is $took, 1, 'a win and a rollback of one bet at once: one takes effect'
    or diag explain \@out;
is $w->bhd($M), $wj->{status} eq 'ok' ? '1030/0/0' : '1000/0/0',
    'a win and a rollback at once: the wallet follows the one that won';
is_deeply [ $w->audit($M) ], [], 'Mira\'s wallet agrees with its ledger';

#
# different bets at once that together pass the balance
#

$w->start($O);
$w->deposit($O, 1000);
is $w->bhd($O), '1000/0/0', 'Ola deposits 1000';

my @amounts = map { 40 + 13 * $_ } 0 .. 24;    # 40 .. 352, 4900 in all
@out = parallel(map { api_job('bet', bet($O, "o-$_", $amounts[$_])) }
                0 .. $#amounts);
my ($ok_sum, $n_ok, @bad, %ok_tx) = (0, 0);
for my $i (0 .. $#out) {
    my ($st, $body) = split /\n/, $out[$i], 2;
    my $j = eval { decode_json($body) } // {};
    if ($st != 200 || !defined $j->{balance} || $j->{balance} < 0
        || $j->{amount} != $amounts[$i] || $j->{tx} ne "o-$i")
    {
        push @bad, $out[$i];
    } elsif ($j->{status} eq 'ok') {
        $ok_sum += $amounts[$i];
        $n_ok++;
        $ok_tx{"o-$i"} = 1;
    } elsif (($j->{reason} // '') ne 'insufficient_funds'
             || $j->{balance} >= $amounts[$i])
    {
        push @bad, $out[$i];
    }
}
is_deeply \@bad, [], 'bets at once: each ok, or refused insufficient_funds'
                   . ' for more than the balance it saw';
cmp_ok $ok_sum, '<=', 1000, "bets at once: the accepted ones sum to $ok_sum";
cmp_ok $n_ok, '>=', 1, "bets at once: $n_ok accepted";
my $wo = $w->wallet($O);
is $wo->{balance}, 1000 - $ok_sum, 'bets at once: balance = 1000 - accepted';
is_deeply [ sort map { $_->{ref} } grep { $_->{type} eq 'bet' } $w->ledger($O) ],
          [ sort keys %ok_tx ],
    'bets at once: one ledger entry per accepted bet';
is_deeply [ $w->audit($O) ], [], 'Ola\'s wallet agrees with its ledger';
ok !(grep { $_->{balance} < 0 } $w->ledger($O)),
    'bets at once: no entry shows a negative balance';

$t->stop;

done_testing;
