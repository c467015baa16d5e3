#!/usr/bin/perl

# The sandbox behind "make run": starts Redis, nginx with the module and a
# simulated Telegram on loopback, plays a session of two players and an
# admin and prints it the way they would see it: Jordan tops up his wallet,
# sends some of it to Kai and withdraws some, the ops chat is told and an
# admin approves the withdrawal, then Jordan reads his history. Then it
# measures how many /balance updates and how many payments per second one
# nginx worker answers. It exits non-zero when the bot does not behave as
# expected, so it doubles as a smoke test.

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

my $BENCH_UPDATES  = $ENV{INBOTPAY_BENCH_UPDATES} // 2000;
my $BENCH_PAYMENTS = $ENV{INBOTPAY_BENCH_PAYMENTS} // 2000;
my $BENCH_SECONDS  = 4;
my $BENCH_CONNS    = 8;

my $OPS_CHAT = -1001000000001;
my $ADMIN    = 42;

my $failures = 0;
my $updates  = 0;

$SIG{INT} = $SIG{TERM} = sub {
    print "\nInterrupted. Stopping...\n";
    exit 130;
};

my $t = eval {
    InBotPay::Test->new(tap => 0, quiet => 1, api => 1,
                        http => "    inbotpay_ops_chat $OPS_CHAT;\n"
                              . "    inbotpay_admins   $ADMIN;\n")
};
if (!$t) {
    print STDERR "sandbox: could not start: $@";
    exit 1;
}

printf "== InBotPay sandbox: Redis :%d, nginx :%d, simulated Telegram :%d\n",
       $t->redis_port, $t->port, $t->sim_port;
printf "== Ops chat %d, admin %d\n", $OPS_CHAT, $ADMIN;
printf "== Backend API %s, key in %s/api.secret\n", $t->api_url,
       $t->dir;

my $jordan = {
    id => 7000000001, first_name => 'Jordan', username => 'jordan_tp_demo',
};
my $kai = {
    id => 1987654320, first_name => 'Kai', username => 'kai_sample',
};
my $ops = { id => $ADMIN, first_name => 'Ops', label => "Ops ($ADMIN)" };

# who a message to a chat is shown as
my %CHAT_LABEL = (
    $jordan->{id} => 'Bot to Jordan',
    $kai->{id}    => 'Bot to Kai',
    $OPS_CHAT     => 'Ops chat',
);
my $LABEL_WIDTH = 17;

my $message_id = 200;
my $actor = $jordan;     # who sent the update being answered

my $started = time;

session();

my $elapsed = time - $started;
printf "== Session done in %.2f s: %d updates, %.0f per second.\n",
       $elapsed, $updates, $elapsed > 0 ? $updates / $elapsed : 0;

throughput() unless $failures;

# INBOTPAY_SANDBOX_WAIT=1 keeps everything running, for trying the API
if ($ENV{INBOTPAY_SANDBOX_WAIT} && !$failures) {
    print "== Still running (Redis, nginx, simulated Telegram); "
        . "press Enter to stop.\n";
    my $line = <STDIN>;
}

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


# The session.

sub session {
    deposit_part() or return;
    transfer_part() or return;
    withdrawal_part() or return;
    history_part() or return;
    return 1;
}


# Jordan registers and tops up 500 Stars; the ops chat sees the deposit.

sub deposit_part {
    section('Jordan joins and tops up his wallet');

    my $res = say_text($jordan, '/start');
    my $welcome = expect_reply($res, 'sendMessage',
        "Welcome, Jordan!\nYour balance: 0 $STAR") or return;
    show_calls();

    my $button = find_button($welcome, "500 $STAR") or return;
    $res = press($jordan, $welcome, $button);
    expect_reply($res, 'answerCallbackQuery') or return;

    my ($invoice) = $t->wait_calls(1, method => 'sendInvoice');
    show_calls();
    if (!$invoice || $invoice->{http_status} != 200) {
        return fail('the bot sent no invoice');
    }
    my $amount = $invoice->{params}{prices}[0]{amount} // 0;
    check($amount == 500, "invoice amount is 500 (got $amount)") or return;

    line('Jordan', "presses [Pay $amount $STAR]");
    my $charge = 'stxnSandboxDemoCharge0001';
    my ($pre_checkout, $payment) = $t->pay($invoice, from => from($jordan),
                                           charge_id => $charge);

    $actor = $jordan;
    $res = send_update($pre_checkout);
    my $answer = expect_reply($res, 'answerPreCheckoutQuery', undef, 1)
        or return;
    if ($answer->{ok}) {
        line('Telegram', 'asks the bot to confirm the checkout: bot says ok');
    } else {
        line('Telegram', 'asks the bot to confirm the checkout: bot says no, "'
                         . ($answer->{error_message} // '') . '"');
        return fail('the bot refused its own invoice');
    }
    show_calls();

    line('Telegram', "payment of $amount $STAR completed");
    $res = send_update($payment);
    expect_reply($res, 'sendMessage',
        "Deposit of $amount $STAR received. Your balance: $amount $STAR")
        or return;
    expect_posts([$OPS_CHAT,
                  "Deposit: $amount $STAR from player $jordan->{id}, "
                  . "charge $charge."]) or return;

    my $balance = wallet($jordan, 'balance');
    check($balance eq $amount, "Redis wallet balance is $amount "
                               . "(got $balance)") or return;

    $res = say_text($jordan, '/balance');
    expect_reply($res, 'sendMessage', "Your balance: $amount $STAR")
        or return;
    show_calls();

    return 1;
}


# Kai registers; Jordan sends him 200 Stars and confirms.

sub transfer_part {
    section("Kai joins; Jordan sends him 200 $STAR");

    my $res = say_text($kai, '/start');
    expect_reply($res, 'sendMessage',
        "Welcome, Kai!\nYour balance: 0 $STAR") or return;
    show_calls();

    $res = say_text($jordan, '/send @kai_sample 200');
    my $offer = expect_reply($res, 'sendMessage',
        "Send 200 $STAR to \@kai_sample?", ['Confirm', 'Cancel']) or return;
    show_calls();

    my $confirm = find_button($offer, 'Confirm') or return;
    $res = press($jordan, $offer, $confirm);
    expect_reply($res, 'answerCallbackQuery') or return;
    expect_posts(
        [$kai->{id}, "You received 200 $STAR from \@jordan_tp_demo. "
                     . "Your balance: 200 $STAR"],
        [$jordan->{id}, "You sent 200 $STAR to \@kai_sample. "
                        . "Your balance: 300 $STAR"]) or return;

    return 1;
}


# Jordan withdraws 100 Stars; the ops chat gets the request and an admin
# approves it.

sub withdrawal_part {
    section("Jordan withdraws 100 $STAR; an admin approves it");

    my $dest = 'TON-UQ-demo-wallet';
    my $res = say_text($jordan, "/withdraw 100 $dest");
    expect_reply($res, 'sendMessage',
        "Withdrawal #1 of 100 $STAR to $dest is pending.\n"
        . "Your balance: 200 $STAR", ['Cancel']) or return;
    my ($post) = expect_posts(
        [$OPS_CHAT, "Withdrawal #1: 100 $STAR for player $jordan->{id} "
                    . "(Jordan) to $dest.", ['Approve', 'Reject']])
        or return;

    check(wallet($jordan, 'held') eq '100', 'Redis wallet holds 100 '
          . '(got ' . wallet($jordan, 'held') . ')') or return;

    my $approve = find_button($post->{params}, 'Approve') or return;
    $res = press($ops, $post->{params}, $approve, $OPS_CHAT);
    expect_reply($res, 'answerCallbackQuery', 'Withdrawal #1: paid.')
        or return;
    expect_posts(
        [$OPS_CHAT, "Withdrawal #1 of 100 $STAR for player $jordan->{id}: "
                    . "paid (by $ADMIN)."],
        [$jordan->{id}, "Your withdrawal #1 of 100 $STAR was paid."])
        or return;

    check(wallet($jordan, 'held') eq '0', 'Redis wallet holds nothing '
          . '(got ' . wallet($jordan, 'held') . ')') or return;

    return 1;
}


# Jordan's history, both balances, and the ledgers checked against the
# wallets.

sub history_part {
    section('Jordan reads his history; both check their balance');

    my $res = say_text($jordan, '/history');
    my $history = expect_reply($res, 'sendMessage') or return;
    show_calls();

    my $when = qr/ \d{4}-\d\d-\d\d \d\d:\d\d/;
    my @want = (
        qr/^Your history \(page 1\):\z/,
        qr/^#4 withdrawal_paid -100 $STAR -> 200 $STAR$when #1\z/,
        qr/^#3 withdrawal_hold 0 $STAR -> 200 $STAR$when #1\z/,
        qr/^#2 transfer_out -200 $STAR -> 300 $STAR$when peer $kai->{id}\z/,
        qr/^#1 deposit \+500 $STAR -> 500 $STAR$when\z/,
    );
    my @got = split /\n/, $history->{text} // '', -1;
    check(@got == @want, 'the history has ' . @want . ' lines (got '
          . @got . ')') or return;
    for my $i (0 .. $#want) {
        check($got[$i] =~ $want[$i], "history line " . ($i + 1)
              . " is as expected (got \"$got[$i]\")") or return;
    }

    $res = say_text($jordan, '/balance');
    expect_reply($res, 'sendMessage', "Your balance: 200 $STAR") or return;
    show_calls();

    $res = say_text($kai, '/balance');
    expect_reply($res, 'sendMessage', "Your balance: 200 $STAR") or return;
    show_calls();

    check_ledger($jordan, 4) or return;
    check_ledger($kai, 1) or return;
    print "== Ledgers add up: the entries of each wallet sum to balance "
        . "+ held - debt.\n";

    return 1;
}


# Updates, built like the fixtures.

sub from {
    my ($user) = @_;

    my $from = { id => $user->{id}, is_bot => JSON::PP::false,
                 first_name => $user->{first_name}, language_code => 'en' };
    $from->{username} = $user->{username} if defined $user->{username};
    return $from;
}


sub private_chat {
    my ($user) = @_;

    my $chat = { id => $user->{id}, type => 'private',
                 first_name => $user->{first_name} };
    $chat->{username} = $user->{username} if defined $user->{username};
    return $chat;
}


sub text_update {
    my ($user, $text) = @_;

    my $u = $t->fixture('start.json');
    my $m = $u->{message};

    $u->{update_id} = $t->next_update_id;
    $m->{message_id} = $message_id++;
    $m->{date} = int time;
    $m->{from} = from($user);
    $m->{chat} = private_chat($user);
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


# A press on a button of a bot message (a webhook reply or the params of
# a recorded sendMessage), in the user's private chat or in CHAT.
sub callback_update {
    my ($user, $bot_message, $data, $chat) = @_;

    my $u = $t->fixture('callback_query.json');
    my $q = $u->{callback_query};

    $u->{update_id} = $t->next_update_id;
    $q->{id} = sprintf '%d', 1822470999231616589 + $u->{update_id};
    $q->{from} = from($user);
    $q->{data} = $data;
    $q->{message}{message_id} = $message_id++;
    $q->{message}{chat} = defined $chat
        ? { id => $chat, type => 'supergroup', title => 'InBotPay ops' }
        : private_chat($user);
    $q->{message}{text} = $bot_message->{text};
    $q->{message}{reply_markup} = $bot_message->{reply_markup};
    $q->{message}{date} = int time;
    return $u;
}


sub say_text {
    my ($user, $text) = @_;

    line(label($user), $text);
    $actor = $user;
    return send_update(text_update($user, $text));
}


sub press {
    my ($user, $bot_message, $button, $chat) = @_;

    line(label($user), "presses [$button->{text}]");
    $actor = $user;
    return send_update(callback_update($user, $bot_message,
                                       $button->{callback_data}, $chat));
}


sub send_update {
    my ($update) = @_;

    $t->clear_calls;
    $updates++;
    return $t->update($update);
}


sub wallet {
    my ($user, $field) = @_;

    return eval { $t->redis('HGET', "ibp:{$user->{id}}:wallet", $field) }
        // '(none)';
}


# The sum of a wallet's ledger amounts is its balance + held - debt.
sub check_ledger {
    my ($user, $entries) = @_;

    my $key = "ibp:{$user->{id}}";
    my $ledger = eval { $t->redis('LRANGE', "$key:ledger", 0, -1) } || [];
    my $w = eval { $t->redis('HMGET', "$key:wallet", qw(balance held debt)) }
            || [];
    my ($balance, $held, $debt) = map { $_ // 0 } @$w;

    my $sum = 0;
    $sum += (eval { $JSON->decode($_)->{amount} } // 0) for @$ledger;

    check(!defined $entries || @$ledger == $entries,
          "$user->{first_name}'s ledger has $entries entries (got "
          . @$ledger . ')') or return;
    return check($sum == $balance + $held - $debt,
                 "$user->{first_name}'s ledger sums to $sum, the wallet "
                 . "has balance $balance, held $held, debt $debt");
}


# What the players and the ops chat see.

sub expect_reply {
    my ($res, $method, $text, $buttons, $quiet) = @_;

    ($buttons, $quiet) = (undef, $buttons) if !ref $buttons;

    if ($res->{status} != 200) {
        return fail("the webhook answered $res->{status}"
                    . ($res->{status} == 599 ? ": $res->{content}" : ''));
    }

    my $call = $res->{json};
    if (!$call || ($call->{method} // '') ne $method) {
        my $got = $call ? "\"$call->{method}\"" : 'an empty body';
        return fail("expected $method in the webhook reply, got $got");
    }

    show($call->{method}, $call) unless $quiet;

    if (defined $text && ($call->{text} // '') ne $text) {
        return fail("expected the text \"" . escape($text) . "\", got \""
                    . escape($call->{text} // '') . '"');
    }
    if ($buttons) {
        check_buttons($call, $buttons) or return;
    }
    return $call;
}


# The messages the module sent itself (subrequests to the simulated
# Telegram) after an update: waits for them, shows them, and checks that
# each [chat, text, buttons] expected is among them. Returns the calls that
# matched, in the order asked.
sub expect_posts {
    my (@want) = @_;

    $t->wait_calls(scalar @want, method => 'sendMessage');
    my @calls = $t->calls(method => 'sendMessage');
    show_calls();

    my @found;
    for my $w (@want) {
        my ($chat, $text, $buttons) = @$w;
        my ($call) = grep {
            ($_->{params}{chat_id} // 0) == $chat
                && ($_->{params}{text} // '') eq $text
        } @calls;

        $call or return fail('expected the message "' . chat_label($chat)
                             . ': ' . escape($text) . '"');
        if ($buttons) {
            check_buttons($call->{params}, $buttons) or return;
        }
        push @found, $call;
    }

    check(@calls == @want, 'expected ' . @want . ' message(s), got '
          . @calls) or return;
    return @found;
}


# Bot API calls the module made itself since the last update.
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
        line(chat_label($p->{chat_id}), $p->{text} // '',
             keyboard_lines($p->{reply_markup}));

    } elsif ($method eq 'sendInvoice') {
        my $amount = 0;
        $amount += $_->{amount} for @{ $p->{prices} || [] };
        my $unit = ($p->{currency} // '') eq 'XTR' ? $STAR : $p->{currency};
        line(chat_label($p->{chat_id}), "(invoice) $p->{title} \x{2014} "
             . "$p->{description}  [Pay $amount $unit]");

    } elsif ($method eq 'answerCallbackQuery') {
        line('Bot to ' . label($actor), "(pop-up) $p->{text}")
            if defined $p->{text};

    } elsif ($method ne 'answerPreCheckoutQuery') {
        line("Bot ($method)", $JSON->encode($p));
    }
    return;
}


# One entry of the conversation: "Label:   first line", the other lines
# under the first.
sub line {
    my ($label, $text, @more) = @_;

    my @lines = (split(/\n/, $text), @more);
    my $head = "$label:";
    $head .= ' ' x ($LABEL_WIDTH > length $head ? $LABEL_WIDTH - length $head
                                                 : 1);
    print $head, shift(@lines) // '', "\n";
    print ' ' x $LABEL_WIDTH, "$_\n" for @lines;
    return;
}


sub section {
    my ($title) = @_;

    print "\n-- $title\n";
    return;
}


sub label {
    my ($user) = @_;

    return $user->{label} // $user->{first_name};
}


sub chat_label {
    my ($chat) = @_;

    return $CHAT_LABEL{ $chat // '' } // "Bot to chat $chat";
}


sub keyboard_lines {
    my ($markup) = @_;

    my $rows = ref $markup eq 'HASH' ? $markup->{inline_keyboard} : undef;
    return () unless ref $rows eq 'ARRAY';
    return map { join ' ', map { "[$_->{text}]" } @$_ } @$rows;
}


sub check_buttons {
    my ($message, $want) = @_;

    my $rows = $message->{reply_markup}{inline_keyboard} || [];
    my $got = join ' ', map { "[$_->{text}]" } map {@$_} @$rows;
    my $expected = join ' ', map {"[$_]"} @$want;
    return check($got eq $expected, "expected the buttons $expected, got "
                                    . ($got eq '' ? 'none' : $got));
}


sub find_button {
    my ($message, $text) = @_;

    my $rows = $message->{reply_markup}{inline_keyboard} || [];
    for my $button (map {@$_} @$rows) {
        return $button if $button->{text} eq $text;
    }
    return fail("no button [$text] under \"" . escape($message->{text} // '')
                . '"');
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
    return;
}


sub escape {
    my ($s) = @_;

    $s =~ s/\n/\\n/g;
    return $s;
}


# The throughput passes, each over a few connections (Telegram delivers
# over up to 40 in parallel), one request in flight per connection, for at
# most $BENCH_SECONDS: /balance updates with fresh update ids, then
# payments with fresh charge ids, each a real credit (a Lua script that
# updates the wallet, records the charge and appends a ledger entry,
# fsynced by Redis) and a post to the ops chat. The connections are kept
# alive, except that nginx closes one after a reply that left a Bot API
# call running (the ops chat post): the pass then opens a new one, as
# Telegram does.

sub throughput {
    my $balance = wallet($jordan, 'balance');

    my @balances = map { $JSON->encode(text_update($jordan, '/balance')) }
                   1 .. $BENCH_UPDATES;
    my $want = "Your balance: $balance $STAR";

    my ($done, $elapsed) = bench(\@balances, sub {
        my ($reply) = @_;
        return ($reply->{text} // '') eq $want;
    }) or return;

    printf "== Throughput: %d /balance updates in %.2f s over %d keep-alive "
         . "connections: %.0f updates per second (1 worker)\n",
           $done, $elapsed, $BENCH_CONNS, $elapsed > 0 ? $done / $elapsed : 0;

    # one invoice of 5 Stars, paid again and again under new charge ids

    my $price = 5;
    my $res = send_update(text_update($jordan, "/deposit $price"));
    my $invoice = $res->{json};
    if (($invoice->{method} // '') ne 'sendInvoice') {
        return fail('no invoice for the payment pass');
    }

    my $entries = eval { $t->redis('LLEN', "ibp:{$jordan->{id}}:ledger") }
                  // 0;
    my @payments;
    for my $i (1 .. $BENCH_PAYMENTS) {
        my (undef, $paid) = $t->pay($invoice, from => from($jordan),
                                    charge_id => sprintf('stxnBench%06d', $i));
        push @payments, $JSON->encode($paid);
    }

    my %seen;
    ($done, $elapsed) = bench(\@payments, sub {
        my ($reply) = @_;
        my ($new) = ($reply->{text} // '') =~
            /^Deposit of $price $STAR received\. Your balance: (\d+) $STAR\z/
            or return 0;
        return !$seen{$new}++;
    }) or return;

    printf "== Throughput: %d payments with fresh charge ids (each credited "
         . "and posted to the ops chat) in %.2f s over %d connections: "
         . "%.0f payments per second (1 worker)\n",
           $done, $elapsed, $BENCH_CONNS, $elapsed > 0 ? $done / $elapsed : 0;

    my $now = wallet($jordan, 'balance');
    check($now == $balance + $done * $price, "after $done payments of "
          . "$price the balance is " . ($balance + $done * $price)
          . " (got $now)") or return;
    return check_ledger($jordan, $entries + $done);
}


# Sends the requests made of BODIES over $BENCH_CONNS connections and
# checks each reply with CHECK (given the decoded JSON reply). Returns
# (answers, seconds), or nothing after a failure.
sub bench {
    my ($bodies, $check) = @_;

    my @queue = map {
        "POST /tg/webhook HTTP/1.1\r\n"
        . "Host: 127.0.0.1\r\n"
        . "Content-Type: application/json\r\n"
        . 'X-Telegram-Bot-Api-Secret-Token: ' . $t->secret . "\r\n"
        . 'Content-Length: ' . length($_) . "\r\n\r\n$_"
    } @$bodies;

    my $sel = IO::Select->new;
    my %conns;

    my $connect = sub {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $t->port)
            or return fail("throughput: connect: $!");
        $sel->add($s);
        return $conns{ fileno $s } = { fh => $s, buf => '' };
    };

    for (1 .. $BENCH_CONNS) {
        $connect->() or return;
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
                if ($res->{status} != 200 || !$check->($reply)) {
                    $bad++;
                    $first_bad //= "$res->{status} $res->{body}";
                }

                if ($res->{close}) {
                    $sel->remove($fh);
                    delete $conns{ fileno $fh };
                    close $fh;
                    $c = $connect->() or return;
                }
                $next->($c);
                last if $res->{close};
            }
        }
    }

    my $elapsed = time - $start;
    close $_->{fh} for values %conns;

    if ($bad) {
        my $body = $first_bad;
        utf8::decode($body);
        return fail("throughput: $bad of $done answers were wrong, "
                    . "the first: $body");
    }
    return ($done, $elapsed);
}


sub take_response {
    my ($buf) = @_;

    my $end = index $$buf, "\r\n\r\n";
    return undef if $end < 0;

    my $head = substr $$buf, 0, $end;
    my ($status) = $head =~ m{^HTTP/1\.\d (\d+)};
    my $close = $head =~ /^Connection:\s*close/mi ? 1 : 0;

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
        return { status => $status // 0, body => $body, close => $close };
    }

    my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
    $len //= 0;
    return undef if length($$buf) < $end + 4 + $len;

    my $body = substr $$buf, $end + 4, $len;
    substr($$buf, 0, $end + 4 + $len) = '';
    return { status => $status // 0, body => $body, close => $close };
}
