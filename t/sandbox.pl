#!/usr/bin/perl

# The sandbox behind "make run": starts Redis, nginx with the module and a
# simulated Telegram on loopback, plays one player's session and prints it
# the way the player would see it, then measures how many updates per
# second one nginx worker answers. It exits non-zero when the bot does not
# behave as expected, so it doubles as a smoke test.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(EAGAIN EINTR);
use Time::HiRes qw(time);

use InBotPay::Test;

binmode STDOUT, ':encoding(UTF-8)';
binmode STDERR, ':encoding(UTF-8)';
$| = 1;

my $STAR = "\x{2B50}";
my $JSON = JSON::PP->new->utf8->canonical;

my $BENCH_UPDATES = $ENV{INBOTPAY_BENCH_UPDATES} // 2000;
my $BENCH_SECONDS = 4;
my $BENCH_CONNS   = 8;

my $failures = 0;
my $updates  = 0;

$SIG{INT} = $SIG{TERM} = sub {
    print "\nInterrupted. Stopping...\n";
    exit 130;
};

my $t = eval { InBotPay::Test->new(tap => 0, quiet => 1) };
if (!$t) {
    print STDERR "sandbox: could not start: $@";
    exit 1;
}

printf "== InBotPay sandbox: Redis :%d, nginx :%d, simulated Telegram :%d\n",
       $t->redis_port, $t->port, $t->sim_port;

my $player = {
    id            => 7000000001,
    is_bot        => JSON::PP::false,
    first_name    => 'Jordan',
    username      => 'jordan_tp_demo',
    language_code => 'en',
};
my $name = $player->{first_name};
my $message_id = 200;

my $started = time;

session();

my $elapsed = time - $started;
printf "== Session done in %.2f s: %d updates, %.0f per second.\n",
       $elapsed, $updates, $elapsed > 0 ? $updates / $elapsed : 0;

throughput() unless $failures;

print "== Stopping...\n";
my $clean = $t->stop;
if (!$clean) {
    print "== error.log has [alert] or [emerg] lines (see above).\n";
    $failures++;
}

if ($failures) {
    print "== $failures step(s) did not behave as expected.\n";
    print "   Files kept in ", $t->dir, "\n";
    exit 1;
}
exit 0;


# The player's session.

sub session {
    print "$name: /start\n";
    my $res = send_update(text_update('/start'));
    my $welcome = expect_reply($res, 'sendMessage',
        "Welcome, $name!\nYour balance: 0 $STAR") or return;
    show_calls();

    my $button = find_button($welcome, "500 $STAR") or return;
    print "$name presses [$button->{text}]\n";
    $res = send_update(callback_update($welcome, $button->{callback_data}));
    expect_reply($res, 'answerCallbackQuery') or return;

    my ($invoice) = $t->wait_calls(1, method => 'sendInvoice');
    show_calls();
    if (!$invoice || $invoice->{http_status} != 200) {
        return fail('the bot sent no invoice');
    }
    my $amount = $invoice->{params}{prices}[0]{amount} // 0;
    check($amount == 500, "invoice amount is 500 (got $amount)") or return;

    print "$name presses [Pay $amount $STAR]\n";
    my ($pre_checkout, $payment) = $t->pay($invoice, from => $player);

    print 'Telegram asks the bot to confirm the checkout... ';
    $res = send_update($pre_checkout);
    my $answer = expect_reply($res, 'answerPreCheckoutQuery') or return;
    if ($answer->{ok}) {
        print "bot says: ok\n";
    } else {
        print "bot says: no, \"", $answer->{error_message} // '', "\"\n";
        return fail('the bot refused its own invoice');
    }
    show_calls();

    print "Telegram: payment of $amount $STAR completed\n";
    $res = send_update($payment);
    expect_reply($res, 'sendMessage',
        "Deposit of $amount $STAR received. Your balance: $amount $STAR")
        or return;
    show_calls();

    my $balance = eval {
        $t->redis('HGET', "ibp:{$player->{id}}:wallet", 'balance')
    } // '(none)';
    check($balance eq $amount, "Redis wallet balance is $amount "
                               . "(got $balance)") or return;

    print "$name: /balance\n";
    $res = send_update(text_update('/balance'));
    expect_reply($res, 'sendMessage', "Your balance: $amount $STAR")
        or return;
    show_calls();

    return 1;
}


# Updates, built like the fixtures.

sub text_update {
    my ($text) = @_;

    my $u = $t->fixture('start.json');
    my $m = $u->{message};

    $u->{update_id} = $t->next_update_id;
    $m->{message_id} = $message_id++;
    $m->{date} = int time;
    $m->{text} = $text;

    my ($command) = $text =~ m{^(/\S+)};
    if ($command) {
        $m->{entities} = [{ offset => 0, length => length $command,
                            type => 'bot_command' }];
    } else {
        delete $m->{entities};
    }
    return $u;
}


sub callback_update {
    my ($bot_message, $data) = @_;

    my $u = $t->fixture('callback_query.json');
    my $q = $u->{callback_query};

    $u->{update_id} = $t->next_update_id;
    $q->{id} = sprintf '%d', 1822470999231616589 + $u->{update_id};
    $q->{data} = $data;
    $q->{message}{message_id} = $message_id - 1;
    $q->{message}{text} = $bot_message->{text};
    $q->{message}{reply_markup} = $bot_message->{reply_markup};
    $q->{message}{date} = int time;
    return $u;
}


sub send_update {
    my ($update) = @_;

    $t->clear_calls;
    $updates++;
    return $t->update($update);
}


# What the player sees.

sub expect_reply {
    my ($res, $method, $text) = @_;

    if ($res->{status} != 200) {
        print "\n" if $method eq 'answerPreCheckoutQuery';
        return fail("the webhook answered $res->{status}"
                    . ($res->{status} == 599 ? ": $res->{content}" : ''));
    }

    my $call = $res->{json};
    if (!$call || ($call->{method} // '') ne $method) {
        print "\n" if $method eq 'answerPreCheckoutQuery';
        my $got = $call ? "\"$call->{method}\"" : 'an empty body';
        return fail("expected $method in the webhook reply, got $got");
    }

    show($call->{method}, $call);

    if (defined $text && ($call->{text} // '') ne $text) {
        return fail("expected the text \"" . escape($text) . "\", got \""
                    . escape($call->{text} // '') . '"');
    }
    return $call;
}


# Bot API calls the module made itself (subrequests to the simulated
# Telegram), since the last update.
sub show_calls {
    for my $call ($t->calls) {
        show($call->{method}, $call->{params} || {});
        if ($call->{http_status} != 200) {
            fail("Telegram answered $call->{method} with "
                 . "$call->{http_status}");
        }
    }
    return;
}


sub show {
    my ($method, $p) = @_;

    if ($method eq 'sendMessage') {
        my @lines = split /\n/, $p->{text} // '';
        push @lines, keyboard_lines($p->{reply_markup});
        print 'Bot:    ', shift(@lines) // '', "\n";
        print "        $_\n" for @lines;

    } elsif ($method eq 'sendInvoice') {
        my $amount = 0;
        $amount += $_->{amount} for @{ $p->{prices} || [] };
        my $unit = ($p->{currency} // '') eq 'XTR' ? $STAR : $p->{currency};
        print "Bot:    (invoice) $p->{title} \x{2014} $p->{description}"
            . "  [Pay $amount $unit]\n";

    } elsif ($method eq 'answerCallbackQuery') {
        print "Bot:    (pop-up) $p->{text}\n" if defined $p->{text};

    } elsif ($method ne 'answerPreCheckoutQuery') {
        print "Bot:    ($method) ", $JSON->encode($p), "\n";
    }
    return;
}


sub keyboard_lines {
    my ($markup) = @_;

    my $rows = ref $markup eq 'HASH' ? $markup->{inline_keyboard} : undef;
    return () unless ref $rows eq 'ARRAY';
    return map { join ' ', map { "[$_->{text}]" } @$_ } @$rows;
}


sub find_button {
    my ($message, $text) = @_;

    my $rows = $message->{reply_markup}{inline_keyboard} || [];
    for my $button (map {@$_} @$rows) {
        return $button if $button->{text} eq $text;
    }
    return fail("no button [$text] under the welcome message");
}


sub check {
    my ($ok, $what) = @_;

    return 1 if $ok;
    return fail($what);
}


sub fail {
    my ($what) = @_;

    $failures++;
    print "!! $what\n";

    my @log = grep { /\[(?:error|crit|alert|emerg)\]/ }
              split /\n/, $t->error_log;
    splice @log, 0, @log - 5 if @log > 5;
    print "!! error.log: $_\n" for @log;
    return undef;
}


sub escape {
    my ($s) = @_;

    $s =~ s/\n/\\n/g;
    return $s;
}


# The throughput pass: /balance updates with fresh update ids over a few
# keep-alive connections (Telegram delivers over up to 40 in parallel),
# one request in flight per connection, for at most $BENCH_SECONDS.

sub throughput {
    my $want = "Your balance: 500 $STAR";
    my @queue;

    for (1 .. $BENCH_UPDATES) {
        my $body = $JSON->encode(text_update('/balance'));
        push @queue, "POST /tg/webhook HTTP/1.1\r\n"
                   . "Host: 127.0.0.1\r\n"
                   . "Content-Type: application/json\r\n"
                   . 'X-Telegram-Bot-Api-Secret-Token: ' . $t->secret . "\r\n"
                   . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
    }

    my $sel = IO::Select->new;
    my %conns;

    for (1 .. $BENCH_CONNS) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $t->port)
            or return fail("throughput: connect: $!");
        $sel->add($s);
        $conns{ fileno $s } = { fh => $s, buf => '' };
    }

    my ($sent, $done, $bad, $first_bad) = (0, 0, 0, undef);
    my $start = time;
    my $deadline = $start + $BENCH_SECONDS;

    my $next = sub {
        my ($c) = @_;
        return 0 if !@queue || time > $deadline;
        my $req = shift @queue;
        syswrite($c->{fh}, $req) == length $req
            or return fail("throughput: write: $!");
        $sent++;
        return 1;
    };

    $next->($_) for values %conns;

    while ($done < $sent) {
        my @ready = $sel->can_read(5)
            or return fail("throughput: nginx stopped answering");

        for my $fh (@ready) {
            my $c = $conns{ fileno $fh };
            my $n = sysread $fh, $c->{buf}, 65536, length $c->{buf};
            if (!$n) {
                next if !defined $n && ($! == EAGAIN || $! == EINTR);
                return fail("throughput: nginx closed a connection after "
                            . "$done answers");
            }

            while (my $res = take_response(\$c->{buf})) {
                $done++;
                my $reply = eval { $JSON->decode($res->{body}) } || {};
                if ($res->{status} != 200 || ($reply->{text} // '') ne $want) {
                    $bad++;
                    $first_bad //= "$res->{status} $res->{body}";
                }
                $next->($c);
            }
        }
    }

    my $elapsed = time - $start;
    close $_->{fh} for values %conns;

    printf "== Throughput: %d /balance updates in %.2f s over %d keep-alive "
         . "connections: %.0f updates per second (1 worker)\n",
           $done, $elapsed, $BENCH_CONNS, $elapsed > 0 ? $done / $elapsed : 0;

    if ($bad) {
        my $body = $first_bad;
        utf8::decode($body);
        return fail("throughput: $bad of $done answers were wrong, "
                    . "the first: $body");
    }
    return 1;
}


sub take_response {
    my ($buf) = @_;

    my $end = index $$buf, "\r\n\r\n";
    return undef if $end < 0;

    my $head = substr $$buf, 0, $end;
    my ($status) = $head =~ m{^HTTP/1\.\d (\d+)};

    if ($head =~ /^Transfer-Encoding:\s*chunked/mi) {
        my ($pos, $body) = ($end + 4, '');
        while (1) {
            my $eol = index $$buf, "\r\n", $pos;
            return undef if $eol < 0;
            my $size = hex substr $$buf, $pos, $eol - $pos;
            return undef if length($$buf) < $eol + 2 + $size + 2;
            $body .= substr $$buf, $eol + 2, $size;
            $pos = $eol + 2 + $size + 2;
            last if $size == 0;
        }
        substr($$buf, 0, $pos) = '';
        return { status => $status // 0, body => $body };
    }

    my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
    $len //= 0;
    return undef if length($$buf) < $end + 4 + $len;

    my $body = substr $$buf, $end + 4, $len;
    substr($$buf, 0, $end + 4 + $len) = '';
    return { status => $status // 0, body => $body };
}
