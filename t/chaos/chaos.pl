#!/usr/bin/perl

# make chaos: deposits under fire.
#
# Several forked clients play Telegram: they send successful payments with
# fresh charge ids (payloads signed with the key of
# inbotpay_invoice_secret_file, or taken from invoices got with /deposit),
# replays of payments already acknowledged, and other updates (/start,
# /balance, a button, a pre-checkout), and retry every answer that is not
# 200, a bounded number of times, as Telegram does. Meanwhile this script,
# several times each, kills Redis with SIGKILL and starts it again (same
# port, same directory, AOF fsynced always: redis/redis.conf), reloads
# nginx with SIGHUP and kills a worker with SIGKILL.
#
# Afterwards every deposit a client saw answered 200 must be in its
# player's ledger exactly once (by the charge id, "ref"), the ledgers must
# hold no deposit nobody saw acknowledged, every balance must be the sum of
# its acknowledged deposits, and redis/audit.lua must say "ok".
#
# Then two outages at start: nginx started before Redis exists (updates
# 503 until Redis comes, then 200), and a Redis that accepts connections
# and never answers (503 within inbotpay_redis_timeout, nginx responsive).
#
# Prints a summary; exits non-zero on any failure. Run from the top of the
# repository: perl -It/lib t/chaos/chaos.pl

use strict;
use warnings;
use utf8;

use Digest::SHA qw(hmac_sha256_base64);
use File::Path ();
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use List::Util qw(shuffle sum0);
use POSIX ();
use Time::HiRes qw(time sleep);

use InBotPay::Test;

binmode STDOUT, ':encoding(UTF-8)';
binmode STDERR, ':encoding(UTF-8)';
$| = 1;

my $CLIENTS = $ENV{CHAOS_CLIENTS} // 6;
my $EACH    = $ENV{CHAOS_EACH} // 4;        # kills, reloads, worker kills
my $GAP     = $ENV{CHAOS_GAP} // 2.0;       # seconds between events
my $RETRY_FOR = 40;                         # seconds a client retries one update
my $T0 = time;

my $JSON = JSON::PP->new->utf8->canonical;
my @failures;
my %sum;                                    # summary counters

sub fail {
    my ($msg) = @_;
    push @failures, $msg;
    print "FAIL: $msg\n";
    return;
}

sub note { print "# @_\n" }

sub rlist {
    my ($t, @cmd) = @_;
    my @r = $t->redis(@cmd);
    return @r == 1 && ref $r[0] eq 'ARRAY' ? @{ $r[0] } : @r;
}

sub read_file {
    my ($path) = @_;
    open my $fh, '<:raw', $path or die "open $path: $!\n";
    local $/;
    return scalar <$fh>;
}

# [alert], [emerg] and [crit] lines of error.log, and every "exited on
# signal", except "worker process PID exited on signal 9" for the PIDS
# this script killed.
sub bad_log_lines {
    my ($t, %killed) = @_;

    my @bad;
    for my $line (split /\n/, $t->error_log) {
        if ($line =~ /worker process (\d+) exited on signal 9\b/
            && $killed{$1})
        {
            next;
        }
        push @bad, $line
            if $line =~ /\[(?:alert|emerg|crit)\]|exited on signal/;
    }
    return @bad;
}

sub error_kinds {
    my ($t) = @_;

    my %k;
    for (split /\n/, $t->error_log) {
        next unless /\[(error|warn|crit|alert)\]/;
        my $level = $1;
        s/^.*?\] \d+#\d+: (\*\d+ )?//;
        s/, client:.*//;
        s/\d+/N/g;
        $k{"[$level] $_"}++;
    }
    return \%k;
}


#
# Part 1: payments while Redis, nginx's workers and nginx's configuration
# are knocked over.
#

my $keydir = tempdir('inbotpay-chaos-key-XXXXXXXX', TMPDIR => 1,
                     CLEANUP => 1);
my $KEY = join '', map { ('a' .. 'z', 'A' .. 'Z', '0' .. '9')[rand 62] }
                   1 .. 40;
{
    open my $fh, '>', "$keydir/invoice.secret" or die "$!\n";
    print {$fh} "$KEY\n";
    close $fh;
}

my $t = InBotPay::Test->new(
    tap => 0, quiet => 1, workers => 2,
    http => "    inbotpay_invoice_secret_file $keydir/invoice.secret;\n"
          . "    inbotpay_ops_chat -1001234567890;\n",
);
my $DIR = $t->dir;
note "part 1: nginx on port ", $t->port, ", Redis on ", $t->redis_port,
     ", files in $DIR";

my @PLAYERS = map { 7100000000 + $_ } 1 .. 6;

sub from {
    my ($pid) = @_;
    return { id => 0 + $pid, is_bot => JSON::PP::false,
             first_name => "Chaos$pid", username => "chaos_$pid",
             language_code => 'en' };
}

sub chat {
    my ($pid) = @_;
    return { id => 0 + $pid, type => 'private', first_name => "Chaos$pid" };
}

# What the module signs: "1.PLAYER.AMOUNT.NONCE." and 43 characters of
# base64url of HMAC-SHA256 over "1.PLAYER.AMOUNT.NONCE.XTR".
sub payload {
    my ($pid, $amount, $nonce) = @_;
    my $base = "1.$pid.$amount.$nonce.";
    (my $mac = hmac_sha256_base64("${base}XTR", $KEY)) =~ tr{+/}{-_};
    return $base . substr($mac, 0, 43);
}

sub text_update {
    my ($id, $pid, $text) = @_;
    my %m = (message_id => 100 + $id % 100000, from => from($pid),
             chat => chat($pid), date => int time, text => $text);
    $m{entities} = [ { offset => 0, length => length $1,
                       type => 'bot_command' } ] if $text =~ m{^(/\S+)};
    return { update_id => 0 + $id, message => \%m };
}

sub payment_update {
    my ($id, $pid, $amount, $payload, $charge) = @_;
    return {
        update_id => 0 + $id,
        message   => {
            message_id => 112, from => from($pid), chat => chat($pid),
            date => int time,
            successful_payment => {
                currency => 'XTR', total_amount => 0 + $amount,
                invoice_payload => $payload,
                telegram_payment_charge_id => $charge,
                provider_payment_charge_id => '',
            },
        },
    };
}

sub pcq_update {
    my ($id, $pid, $amount, $payload) = @_;
    return {
        update_id => 0 + $id,
        pre_checkout_query => {
            id => "$id", from => from($pid), currency => 'XTR',
            total_amount => 0 + $amount, invoice_payload => $payload,
        },
    };
}

sub callback_update {
    my ($id, $pid, $data) = @_;
    return {
        update_id => 0 + $id,
        callback_query => {
            id => "cb$id", from => from($pid), chat_instance => '-1',
            data => $data,
            message => { message_id => 500, chat => chat($pid),
                         date => int time, text => 'button',
                         from => { id => 8012345678,
                                   is_bot => JSON::PP::true,
                                   first_name => 'Bot' } },
        },
    };
}

# The computed payloads are the module's: a pre-checkout approves one and
# a payment with one is credited.
{
    my $pay = payload($PLAYERS[0], 7, 4242);
    my $r = $t->update(pcq_update(700000001, $PLAYERS[0], 7, $pay));
    fail("pre-checkout of a computed payload: $r->{status} "
         . ($r->{content} // ''))
        unless $r->{status} == 200 && ($r->{json}{ok} // 0);

    $r = $t->update(text_update(700000002, $PLAYERS[0], '/deposit 7'));
    my $inv = ($r->{json} // {})->{payload} // '';
    fail("/deposit 7 gave no invoice: $r->{status}") unless length $inv;
    my ($n) = $inv =~ /^1\.\d+\.\d+\.(\d+)\./;
    fail("the invoice payload $inv is not the computed one")
        unless defined $n && payload($PLAYERS[0], 7, $n) eq $inv;
}

my $OUT = "$DIR/chaos";
mkdir $OUT or die "mkdir $OUT: $!\n";
my $STOP = "$OUT/STOP";

# One client: a loop of updates until STOP, each retried until 200 or
# $RETRY_FOR seconds. Writes one line per update:
#   KIND \t FINAL_STATUS \t TRIES \t STATUS:N,... \t PLAYER \t CHARGE \t AMOUNT \t TEXT
sub client {
    my ($c) = @_;

    srand($$ ^ int(time * 1000));
    open my $log, '>:raw', "$OUT/client$c" or die "$!\n";
    select((select($log), $| = 1)[0]);

    my $uid = 800000000 + $c * 10000000;
    my $n = 0;
    my @acked;                       # [update, player, charge, amount]
    my %invoice;                     # player => [payload, amount] from /deposit

    my $send = sub {
        my ($kind, $u, @rec) = @_;
        my ($r, %seen, $tries);
        my $deadline = time + $RETRY_FOR;
        my $pause = 0.05;
        while (1) {
            $r = eval { $t->update($u) }
                 // { status => 'EXC', content => $@ };
            $tries++;
            $seen{ $r->{status} }++;
            last if $r->{status} eq '200' || time > $deadline;
            sleep $pause;
            $pause *= 2;
            $pause = 1 if $pause > 1;
        }
        my $text = ref $r->{json} eq 'HASH' ? $r->{json}{text} // '' : '';
        $text =~ s/[\t\n]/ /g;
        utf8::encode($text) if utf8::is_utf8($text);
        print {$log} join("\t", $kind, $r->{status}, $tries,
            join(',', map {"$_:$seen{$_}"} sort keys %seen),
            @rec, $text), "\n";
        return $r;
    };

    while (!-e $STOP) {
        $n++;
        my $pid = $PLAYERS[rand @PLAYERS];
        my $roll = rand;

        if ($roll < 0.55) {
            # a fresh payment: computed payload, or an invoice's
            my ($pay, $amount);
            if ($invoice{$pid} && rand() < 0.5) {
                ($pay, $amount) = @{ delete $invoice{$pid} };
            } else {
                $amount = 1 + int rand 50;
                $pay = payload($pid, $amount, int rand 1e12);
            }
            my $charge = "chaos${c}x${n}x" . join '',
                map { ('A' .. 'Z', 'a' .. 'z', '0' .. '9')[rand 62] } 1 .. 24;
            my $u = payment_update($uid++, $pid, $amount, $pay, $charge);
            my $r = $send->('pay', $u, $pid, $charge, $amount);
            push @acked, [$u, $pid, $charge, $amount]
                if $r->{status} eq '200';
        } elsif ($roll < 0.65 && @acked) {
            # Telegram delivers an acknowledged payment again: the same
            # update, or the same charge under another update_id
            my ($u, $pid2, $charge, $amount) = @{ $acked[rand @acked] };
            if (rand() < 0.5) {
                $send->('replay', $u, $pid2, $charge, $amount);
            } else {
                my $u2 = $JSON->decode($JSON->encode($u));
                $u2->{update_id} = 0 + $uid++;
                $send->('recharge', $u2, $pid2, $charge, $amount);
            }
        } elsif ($roll < 0.72) {
            my $amount = 1 + int rand 50;
            my $r = $send->('deposit_cmd',
                text_update($uid++, $pid, "/deposit $amount"), $pid, '', 0);
            my $pay = ref $r->{json} eq 'HASH' ? $r->{json}{payload} : undef;
            $invoice{$pid} = [$pay, $amount] if defined $pay;
        } elsif ($roll < 0.80) {
            $send->('start', text_update($uid++, $pid, '/start'),
                    $pid, '', 0);
        } elsif ($roll < 0.88) {
            $send->('balance', text_update($uid++, $pid, '/balance'),
                    $pid, '', 0);
        } elsif ($roll < 0.94) {
            $send->('button', callback_update($uid++, $pid,
                    rand() < 0.5 ? 'bal' : 'dep:100'), $pid, '', 0);
        } else {
            my $amount = 1 + int rand 50;
            $send->('pcq', pcq_update($uid++, $pid, $amount,
                    payload($pid, $amount, int rand 1e12)), $pid, '', 0);
        }
    }
    close $log;
    return;
}

my @kids;
for my $c (1 .. $CLIENTS) {
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        eval { client($c); 1 } or print STDERR "client $c: $@";
        POSIX::_exit(0);
    }
    push @kids, $pid;
}

sleep 1.5;

my (%killed_workers, @events);
push @events, ('redis') x $EACH, ('hup') x $EACH, ('worker') x $EACH;
@events = shuffle @events;
note "events: @events";

for my $e (@events) {
    if ($e eq 'redis') {
        $t->_stop_process(redis => 'KILL', 5);
        $sum{redis_kills}++;
        sleep 0.3 + rand 1.2;            # updates meet a Redis that is gone
        my $ok = eval { $t->start_redis };
        fail("Redis did not start again: $@") unless $ok;
    } elsif ($e eq 'hup') {
        my $ok = $t->reload(timeout => 20);
        $sum{reloads}++;
        fail("reload $sum{reloads}: the old workers did not exit or the new"
             . " ones did not start within 20 s") unless $ok;
    } else {
        my @w = $t->nginx_workers;
        if (!@w) {
            fail('no nginx worker to kill');
            next;
        }
        my $w = $w[rand @w];
        $killed_workers{$w} = 1;
        kill 'KILL', $w;
        $sum{worker_kills}++;
        my $deadline = time + 10;
        sleep 0.05 while time < $deadline
            && ((grep { $_ == $w } $t->nginx_workers)
                || (my @now = $t->nginx_workers) < $t->workers);
        fail("worker $w was not replaced within 10 s")
            if time >= $deadline;
    }
    sleep $GAP * (0.5 + rand);
}

sleep 1;
open my $stop, '>', $STOP or die "$!\n";
close $stop;
my $wait_deadline = time + $RETRY_FOR + 15;
while (@kids && time < $wait_deadline) {
    @kids = grep { waitpid($_, POSIX::WNOHANG()) == 0 } @kids;
    sleep 0.1;
}
if (@kids) {
    fail("clients @kids did not finish");
    kill 'KILL', @kids;
    waitpid $_, 0 for @kids;
}
my $load_time = time - $T0;

# What the clients saw.
my (%acked, %final, %attempts, %kinds, @gave_up, @bad_text, %first_text,
    @replays);
for my $f (glob "$OUT/client*") {
    open my $fh, '<:raw', $f or die "$!\n";
    while (my $line = <$fh>) {
        chomp $line;
        my ($kind, $status, $tries, $seen, $pid, $charge, $amount, $text)
            = split /\t/, $line, -1;
        $kinds{$kind}++;
        $final{$status}++;
        $sum{updates}++;
        $sum{retries} += $tries - 1;
        for (split /,/, $seen) {
            my ($s, $k) = /^(.*):(\d+)$/ or next;
            $attempts{$s} += $k;
        }
        if ($status ne '200') {
            push @gave_up, "$kind $pid $charge: $seen";
            next;
        }
        next unless $kind eq 'pay' || $kind eq 'replay'
                    || $kind eq 'recharge';
        $text //= '';
        utf8::decode($text);
        if ($text !~ /^Deposit of \Q$amount\E ⭐ received\. Your balance: \d+ ⭐$/) {
            push @bad_text, "$kind $pid $charge $amount: \"$text\"";
        }
        if ($kind eq 'pay') {
            $sum{deliveries}++;
            $acked{$pid}{$charge} = $amount;
            $first_text{$charge} = $text;
        } else {
            push @replays, [$kind, $charge, $text];
        }
    }
}

# a repeat gets the first answer, balance included
for my $rep (@replays) {
    my ($kind, $charge, $text) = @$rep;
    next unless defined $first_text{$charge};
    push @bad_text, "$kind $charge: \"$text\", first \"$first_text{$charge}\""
        if $text ne $first_text{$charge};
}
$sum{repeats} = @replays;

fail(scalar(@gave_up) . " updates never answered 200 within $RETRY_FOR s:"
     . join('', map {"\n    $_"} @gave_up[0 .. ($#gave_up < 9 ? $#gave_up : 9)]))
    if @gave_up;
fail(scalar(@bad_text) . ' payments answered 200 without the deposit message'
     . ' (or a repeat not with the first answer):' . join('', map {"\n    $_"}
                          @bad_text[0 .. ($#bad_text < 9 ? $#bad_text : 9)]))
    if @bad_text;

# What Redis holds.
my $ok_ledger = eval {
    for my $pid (@PLAYERS) {
        my %want = %{ $acked{$pid} || {} };
        my @ledger = map { decode_json($_) }
                     rlist($t, 'LRANGE', "ibp:{$pid}:ledger", 0, -1);
        my (%count, $other);
        for my $e (@ledger) {
            if (($e->{type} // '') ne 'deposit') {
                $other++;
                next;
            }
            $count{ $e->{ref} // '' }++;
        }
        my @dup = grep { $count{$_} > 1 } sort keys %count;
        my @missing = grep { !$count{$_} } sort keys %want;
        my @extra = grep { !exists $want{$_} } sort keys %count;
        my $bal = $t->redis('HGET', "ibp:{$pid}:wallet", 'balance') // 0;
        my $expect = sum0 values %want;

        fail("player $pid: charges credited more than once: @dup") if @dup;
        fail("player $pid: acknowledged deposits missing from the ledger: "
             . "@missing") if @missing;
        fail("player $pid: deposits in the ledger nobody saw acknowledged: "
             . "@extra") if @extra;
        fail("player $pid: $other ledger entries that are not deposits")
            if $other;
        fail("player $pid: balance $bal, acknowledged deposits sum to "
             . $expect) if $bal != $expect;
        for my $charge (sort keys %want) {
            my $amount = $t->redis('HGET', "ibp:{$pid}:charge:$charge",
                                   'amount');
            fail("player $pid: charge $charge: record says "
                 . ($amount // 'nothing') . ", acknowledged $want{$charge}")
                if ($amount // -1) != $want{$charge};
        }
        $sum{ledger_entries} += @ledger;
        $sum{players}++ if @ledger;
    }
    1;
};
fail("reading Redis: $@") unless $ok_ledger;

my $audit = eval {
    $t->redis('EVAL', read_file("$InBotPay::Test::REPO/redis/audit.lua"), 0);
};
my @audit = ref $audit eq 'ARRAY' ? @$audit : ($audit // "error: $@");
fail("audit.lua: " . join("\n    ", @audit))
    unless @audit == 1 && $audit[0] =~ /^ok \d+ wallets checked$/;

# nginx still answers, and its error log has no alert but the workers this
# script killed.
{
    my $r = $t->update(text_update(799999999, $PLAYERS[0], '/balance'));
    fail("after the chaos, /balance: $r->{status}") unless $r->{status} == 200;
}
$t->{keep} = 1;
$t->stop(check => 0);
my $kinds1 = error_kinds($t);
my @bad = bad_log_lines($t, %killed_workers);
fail(scalar(@bad) . " unexpected [alert]/[crit]/[emerg] or signal lines in"
     . " error.log:" . join('', map {"\n    $_"}
                            @bad[0 .. ($#bad < 19 ? $#bad : 19)]))
    if @bad;

print "\n== part 1: payments under fire (", sprintf('%.1f s', $load_time),
      ")\n";
printf "  clients %d; updates %d (%s)\n", $CLIENTS, $sum{updates} // 0,
    join(', ', map {"$_ $kinds{$_}"} sort keys %kinds);
printf "  deliveries (fresh payments acknowledged): %d, repeats %d, ledger"
     . " entries %d in %d wallets\n", $sum{deliveries} // 0,
     $sum{repeats} // 0, $sum{ledger_entries} // 0, $sum{players} // 0;
printf "  Redis SIGKILLs %d, reloads %d, worker SIGKILLs %d\n",
    $sum{redis_kills} // 0, $sum{reloads} // 0, $sum{worker_kills} // 0;
printf "  attempts by answer: %s; retries %d; 503s %d; final answers: %s\n",
    join(' ', map {"$_=$attempts{$_}"} sort keys %attempts),
    $sum{retries} // 0, $attempts{503} // 0,
    join(' ', map {"$_=$final{$_}"} sort keys %final);
print "  audit: @audit\n";
my @kinds1 = sort { $kinds1->{$b} <=> $kinds1->{$a} } keys %$kinds1;
splice @kinds1, 12 if @kinds1 > 12;
print "  error.log [warn] and worse, by kind:\n",
    map { "    $kinds1->{$_} x $_\n" } @kinds1;
$sum{'503'} += $attempts{503} // 0;


#
# Part 2: nginx starts before Redis exists.
#

{
    my $t2 = InBotPay::Test->new(tap => 0, quiet => 1, workers => 2,
                                 redis => 0);
    my $u = text_update(810000001, $PLAYERS[0], '/balance');
    my @codes;
    for (1 .. 3) {
        my $t0 = time;
        my $r = $t2->update($u);
        push @codes, $r->{status};
        fail(sprintf 'no Redis yet: /balance answered in %.2f s', time - $t0)
            if time - $t0 > 3;
    }
    fail("no Redis yet: /balance answered @codes, not 503 503 503")
        if grep { $_ != 503 } @codes;
    $sum{'503'} += grep { $_ == 503 } @codes;

    $t2->start_redis;
    my $t0 = time;
    my ($r, $n) = (undef, 0);
    while (time < $t0 + 10) {
        $r = $t2->update($u);
        $n++;
        last if $r->{status} == 200;
        $sum{'503'}++ if $r->{status} == 503;
        sleep 0.1;
    }
    my $after = time - $t0;
    fail("Redis started: /balance still $r->{status} after 10 s")
        unless $r->{status} == 200;

    # a deposit then goes through, once
    $r = $t2->update(text_update(810000002, $PLAYERS[0], '/deposit 5'));
    my $inv = ref $r->{json} eq 'HASH' ? $r->{json}{payload} // '' : '';
    my $pay = payment_update(810000003, $PLAYERS[0], 5, $inv, 'chaos-late');
    my @pay = map { $t2->update($pay)->{status} } 1 .. 2;
    my $bal = $t2->redis('HGET', "ibp:{$PLAYERS[0]}:wallet", 'balance')
              // 'none';
    my $len = $t2->redis('LLEN', "ibp:{$PLAYERS[0]}:ledger");
    fail("Redis started: a deposit of 5 answered @pay, balance $bal,"
         . " $len ledger entries")
        unless "@pay" eq '200 200' && $bal eq '5' && $len == 1;

    $t2->stop_nginx;
    my @b = bad_log_lines($t2);
    fail("part 2 error.log: @b") if @b;
    $t2->stop(check => 0);
    printf "\n== part 2: nginx before Redis\n  before Redis: %s; Redis"
         . " started: 200 after %.2f s (%d tries)\n", join(' ', @codes),
         $after, $n;
}


#
# Part 3: a Redis that accepts connections and never answers.
#

{
    my $t3 = InBotPay::Test->new(tap => 0, quiet => 1, workers => 1,
                                 redis => 0);
    my $port = $t3->redis_port;
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => $port, Listen => 128, ReuseAddr => 1)
        or die "listen on $port: $!\n";
    my $fake = fork // die "fork: $!\n";
    if ($fake == 0) {
        my $sel = IO::Select->new($listen);
        my $end = time + 60;
        while (time < $end && getppid() > 1) {
            for my $s ($sel->can_read(0.2)) {
                if ($s == $listen) {
                    my $c = $listen->accept or next;
                    $sel->add($c);
                    next;
                }
                my $n = sysread $s, my $buf, 65536;
                if (!$n) { $sel->remove($s); close $s }
            }
        }
        POSIX::_exit(0);
    }
    close $listen;

    sleep 2.5;    # past the module's reconnect back-off

    my $u = text_update(820000001, $PLAYERS[0], '/balance');
    my @kids3;
    pipe my $rd, my $wr or die "$!\n";
    for my $c (1 .. 10) {
        my $k = fork // die "fork: $!\n";
        if ($k == 0) {
            close $rd;
            my $t0 = time;
            my $r = $t3->update($u);
            printf {$wr} "%s %.3f\n", $r->{status}, time - $t0;
            close $wr;
            POSIX::_exit(0);
        }
        push @kids3, $k;
    }
    close $wr;
    sleep 0.2;

    # while ten updates wait on the silent Redis, nginx answers at once
    my $t0 = time;
    my $g = $t3->update($u, method => 'GET');
    my $get_time = time - $t0;
    $t0 = time;
    my $nosecret = $t3->update($u, secret => undef);
    my $ns_time = time - $t0;

    waitpid $_, 0 for @kids3;
    my @res = map { [split] } grep {/\S/} <$rd>;
    close $rd;

    fail("silent Redis: only " . @res . " of 10 updates answered")
        if @res != 10;
    my @not503 = grep { $_->[0] != 503 } @res;
    my @slow = grep { $_->[1] > 2.5 } @res;
    fail("silent Redis: answers " . join(' ', map { $_->[0] } @not503)
         . " instead of 503") if @not503;
    fail("silent Redis: answers after "
         . join(' ', map { $_->[1] } @slow) . " s (timeout 1 s)") if @slow;
    fail("silent Redis: GET answered $g->{status} in $get_time s")
        unless $g->{status} == 405 && $get_time < 0.5;
    fail("silent Redis: no secret answered $nosecret->{status} in"
         . " $ns_time s")
        unless $nosecret->{status} == 401 && $ns_time < 0.5;
    $sum{'503'} += grep { $_->[0] == 503 } @res;

    my @times = sort { $a <=> $b } map { $_->[1] } @res;
    kill 'KILL', $fake;
    waitpid $fake, 0;
    $t3->stop_nginx;
    my @b = bad_log_lines($t3);
    fail("part 3 error.log: @b") if @b;
    $t3->stop(check => 0);
    printf "\n== part 3: silent Redis\n  10 updates: %s in %.2f..%.2f s;"
         . " meanwhile GET %s in %.3f s, no secret %s in %.3f s\n",
         join(' ', map { $_->[0] } @res), $times[0] // 0, $times[-1] // 0,
         $g->{status}, $get_time, $nosecret->{status}, $ns_time;
}

printf "\n== summary: deliveries %d, Redis kills %d, reloads %d, worker"
     . " kills %d, 503s %d, retries %d, %.1f s\n",
     $sum{deliveries} // 0, $sum{redis_kills} // 0, $sum{reloads} // 0,
     $sum{worker_kills} // 0, $sum{'503'} // 0, $sum{retries} // 0,
     time - $T0;

if (@failures) {
    print scalar(@failures), " FAILURES (part 1 files in $DIR)\n";
    $t->{keep} = 1;
    exit 1;
}
File::Path::remove_tree($DIR);
print "chaos: ok\n";
exit 0;
