#!/usr/bin/perl

# "make bench": the module under load, against what Redis alone can do.
#
# Starts (through InBotPay::Test, on loopback, in a temporary directory)
# Redis with redis/redis.conf (AOF, appendfsync always) and nginx with the
# module, whose /.telegram/ proxy points at a location of the same nginx
# that answers {"ok":true,"result":true}: a Bot API stand-in that costs
# next to nothing. Then:
#
#   1. registers and funds BENCH_PLAYERS players (/start and a payment);
#   2. baseline: redis-benchmark running the deposit script (ledger.lua +
#      deposit.lua, as the module embeds it) by EVALSHA, fresh keys on
#      every call, at the same concurrency as wrk; once before the passes
#      and once after, the ratios are against their mean (the two differ
#      when the host is busy with something else: then rerun);
#   3. for each worker count in BENCH_WORKERS, each pass in BENCH_PASSES
#      ("mix": BENCH_MIX of payments, /balance, /send + Confirm, signed
#      bet/win API calls; "pay": payments only), drives the webhook with
#      wrk and t/bench/mix.lua for BENCH_DURATION seconds;
#   4. checks the money: every payment answered 200 was credited (deposit
#      ledger entries written during the pass >= 200 answers, and no more
#      than payments sent), and redis/audit.lua says "ok".
#
# Environment (defaults in brackets):
#   BENCH_WORKERS    worker counts, one pass set each          ["1 2"]
#   BENCH_PASSES     "mix", "pay" or both                      ["mix pay"]
#   BENCH_DURATION   seconds per wrk pass                      [8]
#   BENCH_THREADS    wrk threads                               [2]
#   BENCH_CONNS      wrk connections = redis-benchmark clients [32]
#   BENCH_MIX        weights of pay, balance, transfer, game, start
#                    ["pay=40,balance=25,transfer=15,game=20"]
#   BENCH_PLAYERS    players (the audit's time grows with
#                    players x keys)                           [50]
#   BENCH_RATE_CAP   updates/s the signed pools are sized for  [30000]
#   BENCH_BASELINE_N redis-benchmark requests, each time      [100000]
#   BENCH_OPS_CHAT   1: inbotpay_ops_chat set (every deposit is posted,
#                    as in production); 0: unset                [1]
#   BENCH_LOG_LEVEL  error_log level                           [info]
#   BENCH_LONG       1: also a long memory pass                [0]
#   BENCH_LONG_UPDATES  updates in the long pass               [1000000]
#   BENCH_VERBOSE    1: print wrk's own output
#
# Exits non-zero when a check fails.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use Digest::SHA qw(hmac_sha256 hmac_sha256_hex);
use MIME::Base64 qw(encode_base64);
use POSIX qw(ceil WNOHANG);
use Time::HiRes qw(time sleep);

use InBotPay::Test;

$| = 1;

my $REPO = $InBotPay::Test::REPO;

my %C = (
    workers   => [split ' ', $ENV{BENCH_WORKERS} // '1 2'],
    passes    => [split ' ', $ENV{BENCH_PASSES} // 'mix pay'],
    duration  => $ENV{BENCH_DURATION} // 8,
    threads   => $ENV{BENCH_THREADS} // 2,
    conns     => $ENV{BENCH_CONNS} // 32,
    mix       => $ENV{BENCH_MIX} // 'pay=40,balance=25,transfer=15,game=20',
    players   => $ENV{BENCH_PLAYERS} // 50,
    rate_cap  => $ENV{BENCH_RATE_CAP} // 30000,
    base_n    => $ENV{BENCH_BASELINE_N} // 100000,
    ops_chat  => $ENV{BENCH_OPS_CHAT} // 1,
    log_level => $ENV{BENCH_LOG_LEVEL} // 'info',
    long      => $ENV{BENCH_LONG} // 0,
    long_n    => $ENV{BENCH_LONG_UPDATES} // 1_000_000,
    verbose   => $ENV{BENCH_VERBOSE} // 0,
);

my $USER_BASE = 7_100_000_000;
my $FUND      = 100_000;
my $OPS_CHAT  = -1001000000001;

my @failures;
my @children;       # pids of wrk / redis-benchmark still running

for my $tool (qw(wrk redis-benchmark redis-cli)) {
    next if grep { -x "$_/$tool" } split /:/, $ENV{PATH};
    die "bench: $tool is not installed (apt-get install -y "
        . ($tool eq 'wrk' ? 'wrk' : 'redis-tools') . ")\n";
}
my $module = "$REPO/build/ngx_http_inbotpay_module.so";
die "bench: the module is not built: $module (run make)\n" unless -f $module;

$SIG{INT} = $SIG{TERM} = sub { print "\nbench: interrupted, stopping\n";
                                exit 130 };
END { stop_children() }


# Start ----------------------------------------------------------------------

my $t = InBotPay::Test->new(tap => 0, quiet => 1, api => 1, nginx => 0,
                            workers => $C{workers}[0], conf => nginx_conf());
my $dir = $t->dir;

my $invoice_key = random_string(32);
write_file("$dir/invoice.secret", "$invoice_key\n");
$t->start_nginx;

printf "== InBotPay bench: Redis :%d, nginx :%d (module + Bot API stand-in), "
     . "%d CPUs\n", $t->redis_port, $t->port, cpu_count();
printf "== host load average before the run: %s (other work on the host "
     . "skews the figures; the ratios only partly make up for it)\n",
       join ' ', (split ' ', read_file('/proc/loadavg'))[0 .. 2];
printf "== wrk: %d threads, %d connections, %d s per pass; mix %s; "
     . "%d players; ops chat %s\n", $C{threads}, $C{conns}, $C{duration},
       $C{mix}, $C{players}, $C{ops_chat} ? 'on' : 'off';

my $t0 = time;
setup_players();
printf "== %d players registered and funded with %d each (%.1f s)\n",
       $C{players}, $FUND, time - $t0;

my @baselines = (baseline('before'));

my (@results, $update_base);
$update_base = 900_000_000;
my $pass_no = 0;

for my $w (@{ $C{workers} }) {
    if ($t->workers != $w) {
        $t->reload(workers => $w) or fail_now("nginx reload to $w workers");
    }
    for my $kind (@{ $C{passes} }) {
        my $mix = $kind eq 'pay' ? 'pay=100' : $C{mix};
        push @results, run_pass(name => "$kind, $w worker" . ($w > 1 ? 's' : ''),
                                kind => $kind, workers => $w, mix => $mix,
                                duration => $C{duration});
    }
}

if ($C{long}) {
    my $w = $C{workers}[0];
    $t->reload(workers => $w) if $t->workers != $w;
    push @results, run_pass(name => "long, $w worker" . ($w > 1 ? 's' : ''),
                            kind => 'long', workers => $w, mix => $C{mix},
                            quota => $C{long_n});
}

push @baselines, baseline('after');
my $baseline = { rps => ($baselines[0]{rps} + $baselines[1]{rps}) / 2 };
printf "== Baseline mean %s calls/s (before %s, after %s: %+.0f%%)\n",
       fmt_rate($baseline->{rps}), fmt_rate($baselines[0]{rps}),
       fmt_rate($baselines[1]{rps}),
       100 * ($baselines[1]{rps} / $baselines[0]{rps} - 1);

audit('end of run');

# Summary ----------------------------------------------------------------------

print "\n== Summary (ratio: updates/s over the baseline, redis-benchmark "
    . "EVALSHA deposit with $C{conns} clients, "
    . fmt_rate($baseline->{rps}) . " calls/s)\n";
printf "   %-16s %9s %6s %8s %6s %7s %7s %8s %6s  %s\n", 'pass',
       'updates/s', 'ratio', 'credits/s', 'ratio', 'p50 ms', 'p99 ms',
       'p99.9 ms', 'errors', 'worker RSS KiB before->after';
for my $r (@results) {
    printf "   %-16s %9.0f %6.3f %8.0f %6.3f %7.2f %7.2f %8.2f %6d  %s\n",
           $r->{name}, $r->{rate}, $r->{rate} / $baseline->{rps},
           $r->{pay_rate}, $r->{pay_rate} / $baseline->{rps},
           $r->{p50} / 1000, $r->{p99} / 1000, $r->{p999} / 1000,
           $r->{errors}, $r->{rss_text};
}
for my $kind ('mix', 'pay') {
    my @r = grep { $_->{kind} eq $kind } @results;
    next unless @r > 1;
    printf "   %s: %s\n", $kind, join ', ', map {
        sprintf '%d worker%s %.0f/s (%.3f of baseline)', $_->{workers},
                $_->{workers} > 1 ? 's' : '', $_->{rate},
                $_->{rate} / $baseline->{rps}
    } @r;
}

my @log_errors = grep { /\[(?:error|crit|alert|emerg)\]/ }
                 split /\n/, $t->error_log;
if (@log_errors) {
    printf "== error.log: %d [error] or worse lines; the first: %s\n",
           scalar @log_errors, $log_errors[0];
}

print "== Stopping\n";
$t->stop or push @failures, 'error.log has [alert] or [emerg] lines';

if (@failures) {
    print "== BENCH FAILED:\n", map { "   - $_\n" } @failures;
    exit 1;
}
print "== Bench OK: no money lost, audit clean.\n";
exit 0;


# nginx ----------------------------------------------------------------------

sub nginx_conf {
    my $user = $> == 0 ? "user root;\n" : '';
    my $ops = $C{ops_chat}
        ? "    inbotpay_ops_chat  $OPS_CHAT;\n    inbotpay_admins    42;\n" : '';

    return <<"EOF";
worker_processes  %%WORKERS%%;
${user}daemon off;
master_process on;
pid  %%DIR%%/nginx.pid;
error_log  %%DIR%%/error.log $C{log_level};
load_module  %%MODULE%%;

events { worker_connections 8192; }

http {
    access_log off;
    client_body_temp_path %%DIR%%/body; proxy_temp_path %%DIR%%/proxy;
    fastcgi_temp_path %%DIR%%/fcgi; uwsgi_temp_path %%DIR%%/uwsgi;
    scgi_temp_path %%DIR%%/scgi;

    inbotpay_redis               127.0.0.1:%%REDIS_PORT%%;
    inbotpay_redis_timeout       1s;
    inbotpay_bot_token_file      %%DIR%%/bot.token;
    inbotpay_webhook_secret_file %%DIR%%/webhook.secret;
    inbotpay_invoice_secret_file %%DIR%%/invoice.secret;
    inbotpay_api_secret_file     %%DIR%%/api.secret;
    # the signed API pools are made before a pass; the long pass may
    # outlast the default 300 s window
    inbotpay_api_window          3600s;
    inbotpay_bot_api             /.telegram/;
    inbotpay_bot_username        InBotPayDemoBot;
$ops
    # the Bot API stand-in, reached over kept-alive connections
    upstream bench_botapi {
        server 127.0.0.1:%%PORT%%;
        keepalive 64;
    }

    server {
        listen 127.0.0.1:%%PORT%% backlog=4096;

        location = /tg/webhook {
            inbotpay_webhook;
            client_max_body_size    1m;
            client_body_buffer_size 16k;
        }

        location /api/ { inbotpay_api; }
        location = /status { inbotpay_status; }

        location /.telegram/ {
            internal;
            proxy_pass http://bench_botapi/.botapi/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_headers off;
            proxy_set_header Host api.telegram.org;
            proxy_set_header Content-Type application/json;
            proxy_connect_timeout 2s;
            proxy_send_timeout 5s;
            proxy_read_timeout 5s;
            subrequest_output_buffer_size 64k;
        }

        location /.botapi/ {
            default_type application/json;
            return 200 '{"ok":true,"result":true}';
        }
    }
}
EOF
}


# Players ----------------------------------------------------------------------

sub player_id { $USER_BASE + $_[0] }

sub invoice_payload {
    my ($player, $amount, $nonce) = @_;

    my $head = "1.$player.$amount.$nonce.";
    my $sig = encode_base64(hmac_sha256($head . 'XTR', $invoice_key), '');
    $sig =~ tr{+/}{-_};
    $sig =~ s/=+\z//;
    return $head . $sig;
}

sub tg_user {
    my ($i) = @_;

    my $id = player_id($i);
    return (qq("from":{"id":$id,"is_bot":false,"first_name":"Player$i",)
            . qq("username":"bench_u$i","language_code":"en"},)
            . qq("chat":{"id":$id,"first_name":"Player$i",)
            . qq("username":"bench_u$i","type":"private"}));
}

# /start and a payment of $FUND for every player, over 8 processes.
sub setup_players {
    my $procs = 8;
    my @pids;

    for my $p (0 .. $procs - 1) {
        my $pid = fork // die "fork: $!\n";
        if ($pid == 0) {
            my $bad = 0;
            for (my $i = $p; $i < $C{players}; $i += $procs) {
                my $u = 800_000_000 + 2 * $i;
                my $now = int time;
                my $start = qq({"update_id":$u,"message":{"message_id":1,)
                    . tg_user($i) . qq(,"date":$now,"text":"/start",)
                    . qq("entities":[{"offset":0,"length":6,)
                    . qq("type":"bot_command"}]}});
                my $res = $t->update($start);
                $bad++ unless $res->{status} == 200
                    && ($res->{content} // '') =~ /Welcome/;

                my $payload = invoice_payload(player_id($i), $FUND, $u);
                my $pay = sprintf '{"update_id":%d,"message":{"message_id":2,'
                    . '%s,"date":%d,"successful_payment":{"currency":"XTR",'
                    . '"total_amount":%d,"invoice_payload":"%s",'
                    . '"telegram_payment_charge_id":"stxnBenchFund%d",'
                    . '"provider_payment_charge_id":""}}}',
                    $u + 1, tg_user($i), $now, $FUND, $payload, $i;
                $res = $t->update($pay);
                $bad++ unless $res->{status} == 200
                    && ($res->{content} // '') =~ /Deposit of/;
            }
            POSIX::_exit($bad ? 1 : 0);
        }
        push @pids, $pid;
    }

    my $bad = 0;
    for my $pid (@pids) {
        waitpid $pid, 0;
        $bad++ if $?;
    }
    fail_now("registering and funding the players failed\n"
             . join("\n", (split /\n/, $t->error_log)[-5 .. -1])) if $bad;
}


# Baseline -------------------------------------------------------------------

sub baseline {
    my ($when) = @_;

    my $script = read_file("$REPO/redis/ledger.lua")
               . read_file("$REPO/redis/deposit.lua");
    my $sha = $t->redis('SCRIPT', 'LOAD', $script);
    my $now = int time;

    # one call by hand: the arguments must be accepted (an error reply
    # would make the baseline meaningless)
    my $r = $t->redis('EVALSHA', $sha, 4, 'ibpb:{1}:wallet', 'ibpb:{1}:ledger',
                      'ibpb:{1}:charge:c1', 'ibpb:{1}:update:1',
                      5, 'stxnBaseline1', 1000000000001, $now);
    fail_now("the deposit script refused the baseline arguments")
        unless ref $r && $r->[0] eq 'ok';
    $t->redis('DEL', 'ibpb:{1}:wallet', 'ibpb:{1}:ledger',
              'ibpb:{1}:charge:c1', 'ibpb:{1}:update:1');

    # Fresh keys per call: every __rand_int__ is drawn anew (12 digits,
    # zero-padded, hence the "1" in front of the update id). They go to
    # database 1, under the prefix ibpb:, out of the audit's way (it SCANs
    # database 0 once per wallet: its time grows with the number of keys).
    my @cmd = ('redis-benchmark', '-p', $t->redis_port, '--dbnum', 1,
               '-c', $C{conns},
               '-n', $C{base_n}, '-r', 2_000_000_000, '--csv',
               'EVALSHA', $sha, 4,
               'ibpb:{__rand_int__}:wallet', 'ibpb:{__rand_int__}:ledger',
               'ibpb:{__rand_int__}:charge:stxnB__rand_int__',
               'ibpb:{__rand_int__}:update:1__rand_int__',
               5, 'stxnB__rand_int__' . ('Q' x 60), '1__rand_int__', $now);

    my $deposits = $t->redis('EVAL',
        "redis.call('SELECT', 1) "
        . "return #redis.call('KEYS', 'ibpb:*:charge:*')", 0);
    my $out = run_capture(@cmd);
    my ($line) = grep { /^"EVALSHA/ } split /\n/, $out;
    my @f = defined $line ? ($line =~ /"([^"]*)"/g) : ();
    fail_now("redis-benchmark gave no result:\n$out") unless @f >= 7;

    my $made = $t->redis('EVAL',
        "redis.call('SELECT', 1) "
        . "return #redis.call('KEYS', 'ibpb:*:charge:*')", 0) - $deposits;

    my %b = (rps => $f[1], p50 => $f[4], p99 => $f[6], made => $made);
    printf "\n== Baseline (%s): redis-benchmark, EVALSHA ledger.lua+deposit.lua, "
         . "%d clients, %d calls: %s calls/s, p50 %.2f ms, p99 %.2f ms; "
         . "%d new charge records\n", $when, $C{conns}, $C{base_n},
           fmt_rate($b{rps}), $b{p50}, $b{p99}, $made;
    # random keys may collide now and then (a "dup" answer), never often
    push @failures, "baseline: only $made of $C{base_n} calls credited"
        if $made < $C{base_n} * 0.99;
    return \%b;
}


# One wrk pass ---------------------------------------------------------------

sub run_pass {
    my (%p) = @_;

    $pass_no++;
    my $tag = "P$pass_no" . random_string(4);
    my $threads = $C{threads};
    my %w = map { /^(\w+)=(\d+)$/ ? ($1 => $2) : () } split /,/, $p{mix};
    my $wsum = 0;
    $wsum += $_ for values %w;

    # pools, sized for BENCH_RATE_CAP updates/s (or the quota)
    my $expect = $p{quota} // $C{rate_cap} * $p{duration};
    my $pays = ceil($expect * ($w{pay} // 0) / $wsum / $threads * 1.1) + 100;
    my $games = ceil($expect * ($w{game} // 0) / $wsum / $threads * 1.1);
    $games += 100 if $games;
    my $pool = "$dir/pool.$pass_no";
    mkdir $pool;
    my $tp = time;
    make_pools($pool, $tag, $threads, $pays, $games);
    my $pool_secs = time - $tp;

    # what the ledgers hold before
    my $before = ledger_lengths();
    my @workers = $t->nginx_workers;
    my %rss0 = map { $_ => rss($_) } @workers;
    my $redis_pid = $t->{pids}{redis};
    my ($cpu_w0, $cpu_r0) = (cpu_secs(@workers), cpu_secs($redis_pid));

    $update_base += 50_000_000;
    local $ENV{BENCH_POOL_DIR} = $pool;
    local $ENV{BENCH_WEBHOOK_SECRET} = $t->secret;
    local $ENV{BENCH_PLAYERS} = $C{players};
    local $ENV{BENCH_USER_BASE} = $USER_BASE;
    local $ENV{BENCH_THREADS} = $threads;
    local $ENV{BENCH_UPDATE_BASE} = $update_base;
    local $ENV{BENCH_TAG} = $tag;
    local $ENV{BENCH_MIX} = $p{mix};
    local $ENV{BENCH_SEED} = $pass_no;
    local $ENV{BENCH_QUOTA} = $p{quota} ? ceil($p{quota} / $threads) : 0;

    my $duration = $p{quota} ? 3600 : $p{duration};
    my @cmd = ('wrk', '-t', $threads, '-c', $C{conns}, '-d', "${duration}s",
               '--timeout', '5s', '--latency', '-s', "$FindBin::Bin/mix.lua",
               "http://127.0.0.1:" . $t->port);

    print "\n-- pass: $p{name} (mix $p{mix}"
        . ($p{quota} ? ", $p{quota} updates" : ", $p{duration} s")
        . sprintf(", pools made in %.1f s)\n", $pool_secs);

    # RSS samples while wrk runs
    my @samples;
    my $sample_every = $p{quota} ? 2 : 1;
    # wrk has no request count: with a quota each thread stops its own
    # loop once it has its share of answers, and wrk is told to finish
    # (SIGINT: it prints its results) when the module has counted them all
    my $served0 = $p{quota} ? served() : 0;
    my $out = run_capture_sampling(\@cmd, $sample_every, sub {
        return 'stop' if $p{quota} && served() - $served0 >= $p{quota};
        my $sum = 0;
        $sum += rss($_) // 0 for @workers;
        push @samples, [time, $sum];
        if ($p{quota} && @samples % 5 == 1) {
            printf "   %6.0f s  %8d answered  worker RSS %d KiB\n",
                   $samples[-1][0] - $samples[0][0], served() - $served0,
                   $sum;
        }
        return '';
    });
    print $out if $C{verbose};

    my %r = map { /^BENCH (\S+) (\S+)/ ? ($1 => $2) : () } split /\n/, $out;
    if (!defined $r{requests}) {
        push @failures, "$p{name}: wrk gave no result";
        print $out;
        return { name => $p{name}, kind => $p{kind}, workers => $p{workers},
                 rate => 0, pay_rate => 0, p50 => 0, p99 => 0, p999 => 0, errors => 0,
                 rss_text => '' };
    }

    sleep 0.3;      # let the updates wrk left in flight finish
    my %rss1 = map { $_ => rss($_) } @workers;
    my $cpu_w = cpu_secs(@workers) - $cpu_w0;
    my $cpu_r = cpu_secs($redis_pid) - $cpu_r0;
    my ($deposits, $transfers) = @{ count_entries($before) };

    my $secs = $r{duration_us} / 1e6;
    my $rate = $r{requests} / $secs;
    my $sock_err = 0;
    $sock_err += $r{"err_$_"} // 0 for qw(connect read write timeout);
    my $errors = ($r{non2xx} // 0) + $sock_err;
    my $sent_pay = $r{sent_pay} // 0;

    printf "   %d answers in %.1f s: %.0f updates/s, of which payments "
         . "credited %.0f/s\n", $r{requests}, $secs, $rate,
           $r{pay_ok} / $secs;
    printf "   latency p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
           map { $_ / 1000 } @r{qw(lat_p50_us lat_p99_us lat_p999_us
                                    lat_max_us)};
    printf "   errors: %d non-2xx, socket connect %d read %d write %d "
         . "timeout %d; status counts: %s\n",
           $r{non2xx}, map({ $r{"err_$_"} } qw(connect read write timeout)),
           join(' ', map { "$_=$r{$_}" } sort grep { /^status_/ } keys %r);
    printf "   sent: %s\n", join ' ', map { /^sent_(\w+)/; "$1=$r{$_}" }
                                     sort grep { /^sent_/ } keys %r;
    printf "   answered 200: pay=%d balance=%d send=%d confirm=%d bet=%d "
         . "win=%d refused=%d start=%d other=%d\n",
           @r{qw(pay_ok balance_ok send_ok confirm_ok bet_ok win_ok
                 api_refused start_ok other_ok)};

    printf "   CPU: nginx workers %.1f s (%.0f us per answer), redis %.1f s "
         . "(%.0f us per answer), of %d CPUs x %.1f s\n", $cpu_w,
           $cpu_w / $r{requests} * 1e6, $cpu_r, $cpu_r / $r{requests} * 1e6,
           cpu_count(), $secs;

    my @wk = sort { $a <=> $b } keys %rss0;
    my $rss_text = join ' ', map {
        sprintf '%d->%d', $rss0{$_} // 0, $rss1{$_} // 0
    } @wk;
    my ($sum0, $sum1) = (0, 0);
    $sum0 += $rss0{$_} // 0 for @wk;
    $sum1 += $rss1{$_} // 0 for @wk;
    my $peak = 0;
    $peak < $_->[1] and $peak = $_->[1] for @samples;
    printf "   worker RSS (VmRSS, KiB): before %s, after %s; total %d -> %d "
         . "(%+d), peak %d\n",
           join('+', map { $rss0{$_} // 0 } @wk),
           join('+', map { $rss1{$_} // 0 } @wk), $sum0, $sum1,
           $sum1 - $sum0, $peak;
    if ($p{quota} && @samples > 2) {
        # growth over the second half of the pass, where pools are warm
        my $mid = $samples[int(@samples / 2)];
        my $end = $samples[-1];
        printf "   RSS growth over the second half: %+d KiB in %.0f s "
             . "(%+.1f KiB per 100k updates)\n", $end->[1] - $mid->[1],
               $end->[0] - $mid->[0],
               ($end->[1] - $mid->[1]) / ($r{requests} / 2) * 100_000;
    }

    # the money checks
    printf "   deposit ledger entries written: %d; payments sent %d, "
         . "answered 200 with a credit %d\n", $deposits, $sent_pay,
           $r{pay_ok};
    push @failures, "$p{name}: $r{pay_bad} payments refused as unmatched "
        . "(bad invoice signature in the pool?)" if $r{pay_bad};
    push @failures, "$p{name}: $deposits deposit entries for $r{pay_ok} "
        . "payments answered 200: an acknowledged payment was not credited"
        if $deposits < $r{pay_ok};
    push @failures, "$p{name}: $deposits deposit entries for $sent_pay "
        . "payments sent: something was credited twice"
        if $deposits > $sent_pay;
    printf "   transfers made (transfer_out entries): %d; Confirm presses sent "
         . "%d, answered 200 as made %d\n", $transfers, $r{sent_confirm} // 0,
           $r{confirm_ok};
    push @failures, "$p{name}: $transfers transfers for $r{confirm_ok} "
        . "Confirm presses answered as made" if $transfers < $r{confirm_ok};
    push @failures, "$p{name}: $transfers transfers for "
        . ($r{sent_confirm} // 0) . " Confirm presses sent"
        if $transfers > ($r{sent_confirm} // 0);
    push @failures, "$p{name}: $r{other_ok} answers of an unexpected kind"
        if $r{other_ok};
    print "   warning: the payment pool wrapped $r{pay_wrapped} times "
        . "(raise BENCH_RATE_CAP)\n" if $r{pay_wrapped};
    print "   warning: the API pool ran out $r{api_out} times "
        . "(raise BENCH_RATE_CAP)\n" if $r{api_out};

    system 'rm', '-rf', $pool;

    return { name => $p{name}, kind => $p{kind}, workers => $p{workers},
             rate => $rate, pay_rate => $r{pay_ok} / $secs, p50 => $r{lat_p50_us}, p99 => $r{lat_p99_us},
             p999 => $r{lat_p999_us}, errors => $errors,
             rss_text => $rss_text };
}


# The pools wrk reads: per thread, "player amount payload" lines of signed
# invoices, and "endpoint timestamp signature body" lines of signed bets
# and wins (a win 256 lines after its bet: answered by then).
sub make_pools {
    my ($pool, $tag, $threads, $pays, $games) = @_;

    my $key = $t->api_secret;
    my $gap = 256;

    for my $tid (0 .. $threads - 1) {
        open my $fh, '>', "$pool/pay.$tid" or die "$pool/pay.$tid: $!\n";
        my $nonce = 1_000_000_000 * ($pass_no * 10 + $tid);
        for (1 .. $pays) {
            my $player = player_id(int rand $C{players});
            my $amount = 1 + int rand 500;
            print {$fh} "$player $amount ",
                invoice_payload($player, $amount, $nonce++), "\n";
        }
        close $fh;

        open $fh, '>', "$pool/api.$tid" or die "$pool/api.$tid: $!\n";
        my $ts = int time;
        my (@bets, $n);
        $n = 0;
        for (my $k = 0; $n < $games; $k++) {
            my $player = player_id(int rand $C{players});
            my $amount = 1 + int rand 20;
            my $tx = "b$tag.$tid.$k";
            push @bets, [$player, $amount, $tx];
            print {$fh} api_line('bet', $ts,
                qq({"amount":$amount,"player":$player,"tx":"$tx"}), $key);
            $n++;
            next if $k < $gap || rand() < 0.5;

            my ($bp, $ba, $btx) = @{ $bets[$k - $gap] };
            my $win = 2 * $ba;
            print {$fh} api_line('win', $ts,
                qq({"amount":$win,"bet":"$btx","player":$bp,)
                . qq("tx":"w$tag.$tid.$k"}), $key);
            $n++;
        }
        close $fh;
    }
}

sub api_line {
    my ($endpoint, $ts, $body, $key) = @_;

    return "$endpoint $ts " . hmac_sha256_hex("$ts.$body", $key)
         . " $body\n";
}


# Redis checks -----------------------------------------------------------------

sub ledger_keys {
    return map { 'ibp:{' . player_id($_) . '}:ledger' } 0 .. $C{players} - 1;
}

sub ledger_lengths {
    my @k = ledger_keys();
    my $lens = $t->redis('EVAL', <<'LUA', scalar @k, @k);
local n = {}
for i, k in ipairs(KEYS) do n[i] = redis.call('LLEN', k) end
return n
LUA
    return $lens;
}

# deposit and transfer_out entries appended since the lengths in BEFORE
sub count_entries {
    my ($before) = @_;

    my @k = ledger_keys();
    return $t->redis('EVAL', <<'LUA', scalar @k, @k, @$before);
local d, t = 0, 0
for i, k in ipairs(KEYS) do
    local entries = redis.call('LRANGE', k, tonumber(ARGV[i]), -1)
    for _, e in ipairs(entries) do
        if string.find(e, '"type":"deposit"', 1, true) then
            d = d + 1
        elseif string.find(e, '"type":"transfer_out"', 1, true) then
            t = t + 1
        end
    end
end
return {d, t}
LUA
}

sub audit {
    my ($when) = @_;

    my $t1 = time;
    my $out = run_capture('redis-cli', '-p', $t->redis_port, '--raw',
                          '--eval', "$REPO/redis/audit.lua");
    my $secs = time - $t1;
    my $keys = $t->redis('DBSIZE');
    my @lines = grep { /\S/ } split /\n/, $out;
    my $last = $lines[-1] // '';
    if ($last =~ /^ok /) {
        printf "== Audit (%s): %s (%.1f s over %d keys)\n", $when, $last,
               $secs, $keys;
    } else {
        print "== Audit ($when) FAILED:\n", map { "     $_\n" }
            @lines > 20 ? (@lines[0 .. 9], '...', @lines[-10 .. -1]) : @lines;
        push @failures, "audit after $when: $last";
    }
}


# Processes ------------------------------------------------------------------

sub run_capture {
    my (@cmd) = @_;
    return run_capture_sampling(\@cmd, 0, undef);
}

# Runs CMD with stdout and stderr to a file, calling SAMPLE every EVERY
# seconds while it runs; returns what it printed.
sub run_capture_sampling {
    my ($cmd, $every, $sample) = @_;

    my $file = "$dir/cmd.out";
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        open STDOUT, '>', $file or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT;
        exec @$cmd or POSIX::_exit(127);
    }
    push @children, $pid;

    $sample->() if $sample;
    my $next = time + $every;
    while (waitpid($pid, WNOHANG) == 0) {
        sleep 0.05;
        if ($sample && time >= $next) {
            kill 'INT', $pid if ($sample->() // '') eq 'stop';
            $next += $every;
        }
    }
    my $status = $?;
    @children = grep { $_ != $pid } @children;
    $sample->() if $sample;

    my $out = -f $file ? read_file($file) : '';
    unlink $file;
    if ($status) {
        push @failures, "$cmd->[0] exited with status " . ($status >> 8);
        print $out;
    }
    return $out;
}

sub stop_children {
    for my $pid (@children) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
    @children = ();
}

# the updates and API calls the module has answered, from /status
sub served {
    my $m = $t->status->{metrics};
    my $n = 0;
    for my $k (keys %$m) {
        $n += $m->{$k} if $k =~ /^inbotpay_(?:updates|api_requests)_total\{/;
    }
    return $n;
}

sub rss {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (my $line = <$fh>) {
        return $1 if $line =~ /^VmRSS:\s+(\d+)/;
    }
    return undef;
}

# user + system CPU seconds of the processes, from /proc/PID/stat
sub cpu_secs {
    my $ticks = 0;
    for my $pid (@_) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $line = <$fh> // next;
        $line =~ s/^.*\) //s;
        my @f = split ' ', $line;
        $ticks += $f[11] + $f[12];
    }
    return $ticks / (POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100);
}

sub cpu_count {
    open my $fh, '<', '/proc/cpuinfo' or return 0;
    return scalar grep { /^processor\s*:/ } <$fh>;
}


# Misc -------------------------------------------------------------------------

sub fmt_rate { sprintf '%.0f', $_[0] }

sub fail_now {
    my ($what) = @_;
    print "== BENCH FAILED: $what\n";
    exit 1;
}

sub random_string {
    my ($n) = @_;
    my @a = ('A' .. 'Z', 'a' .. 'z', '0' .. '9');
    return join '', map { $a[rand @a] } 1 .. $n;
}

sub read_file {
    my ($path) = @_;
    open my $fh, '<:raw', $path or die "open $path: $!\n";
    local $/;
    return scalar <$fh>;
}

sub write_file {
    my ($path, $data) = @_;
    open my $fh, '>:raw', $path or die "open $path: $!\n";
    print {$fh} $data;
    close $fh or die "write $path: $!\n";
}
