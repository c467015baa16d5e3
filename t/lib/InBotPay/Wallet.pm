package InBotPay::Wallet;

# Helpers for the wallet-operation tests (withdrawals, transfers, history,
# refunds, the ops chat): builds updates for a few known players, runs a
# deposit end to end, and reads wallets, ledgers and withdrawals back from
# Redis. Core Perl only.
#
#   my $t = InBotPay::Test->new(...);
#   my $w = InBotPay::Wallet->new($t);
#   $w->start($JORDAN);
#   $w->deposit($JORDAN, 500);
#   my $r = $t->update($w->message($JORDAN, '/withdraw 100 addr'));
#   is $w->wallet($JORDAN)->{held}, 100;

use strict;
use warnings;
use utf8;

use JSON::PP;
use Time::HiRes qw(time sleep);

our %PLAYERS = (
    7000000001 => { first_name => 'Jordan', username => 'jordan_tp_demo' },
    1987654320 => { first_name => 'Kai', last_name => 'Sample',
                    username => 'kai_sample' },
    612345678  => { first_name => 'Mira', username => 'mira_demo_77' },
    5550001234 => { first_name => 'Ola', username => 'ola_demo' },
    6000000042 => { first_name => 'Sam', username => 'sam_demo_42' },
    11294967297 => { first_name => 'Lee', username => 'lee_2p32' },
);

my $JSON = JSON::PP->new->utf8->canonical;


sub new {
    my ($class, $t, %opt) = @_;

    return bless {
        t      => $t,
        next   => $opt{first_update_id} // 731400000,
        charge => 0,
    }, $class;
}

sub t { $_[0]{t} }

sub next_id { $_[0]{next}++ }

sub last_id { $_[0]{next} - 1 }


# The "from" object of a player (an admin or any id gets a generic one).
sub from {
    my ($self, $pid) = @_;

    my $p = $PLAYERS{$pid} // { first_name => "User$pid" };
    my %from = (id => 0 + $pid, is_bot => JSON::PP::false, %$p,
                language_code => 'en');
    return \%from;
}

sub first_name {
    my ($self, $pid) = @_;
    return ($PLAYERS{$pid} // { first_name => "User$pid" })->{first_name};
}

sub username { $PLAYERS{ $_[1] }{username} }

# How the bot names a player to another one: @username, or the first name
# when there is no username.
sub display_name {
    my ($self, $pid) = @_;
    my $u = $self->username($pid);
    return defined $u ? "\@$u" : $self->first_name($pid);
}


# A private-chat text message from PID. A leading /command gets its
# bot_command entity, each @name a mention entity.
sub message {
    my ($self, $pid, $text, %opt) = @_;

    my $from = $self->from($pid);
    my $chat_id = $opt{chat} // $pid;
    my $chat = $chat_id > 0
        ? { id => 0 + $chat_id, type => 'private',
            first_name => $from->{first_name},
            ($from->{username} ? (username => $from->{username}) : ()) }
        : { id => 0 + $chat_id, type => 'supergroup', title => 'Ops' };

    my @entities;
    if ($text =~ m{^(/\S+)}) {
        push @entities, { offset => 0, length => length $1,
                          type => 'bot_command' };
    }
    while ($text =~ /(?:^|\s)(\@\w+)/g) {
        push @entities, { offset => pos($text) - length $1,
                          length => length $1, type => 'mention' };
    }

    my %msg = (
        message_id => 100 + ($self->{next} % 100000),
        from       => $from,
        chat       => $chat,
        date       => int time,
        text       => $text,
    );
    $msg{entities} = \@entities if @entities;
    $msg{reply_to_message} = $opt{reply_to} if $opt{reply_to};

    return { update_id => 0 + ($opt{update_id} // $self->next_id),
             message => \%msg };
}


# A button press by PID on a message of the bot in chat CHAT (default: the
# player's private chat).
sub callback {
    my ($self, $pid, $data, %opt) = @_;

    my $chat_id = $opt{chat} // $pid;
    my $chat = $chat_id > 0
        ? { id => 0 + $chat_id, type => 'private',
            first_name => $self->first_name($pid) }
        : { id => 0 + $chat_id, type => 'supergroup', title => 'Ops' };

    my $id = $opt{update_id} // $self->next_id;

    return {
        update_id      => 0 + $id,
        callback_query => {
            id            => $opt{query_id} // "48$id",
            from          => $self->from($pid),
            chat_instance => '-6639932280754626925',
            data          => $data,
            message       => {
                message_id => $opt{message_id} // 500,
                from => { id => 8012345678, is_bot => JSON::PP::true,
                          first_name => 'InBotPay Demo',
                          username => 'InBotPayDemoBot' },
                chat => $chat,
                date => int time,
                text => $opt{message_text} // 'button',
            },
        },
    };
}


sub start {
    my ($self, $pid) = @_;

    return $self->{t}->update($self->message($pid, '/start'));
}


sub fresh_charge {
    my ($self, $tag) = @_;

    my $n = ++$self->{charge};
    my $charge = 'stxT' . ($tag // '') . $$ . 'x' . $n . 'y';
    $charge .= join '', map { ('A' .. 'Z', 'a' .. 'z', '0' .. '9')[rand 62] }
                        1 .. 110 - length $charge;
    return $charge;
}


# /deposit N, then the successful_payment for its invoice. Returns the
# webhook response to the payment, the charge id and the payment update.
sub deposit {
    my ($self, $pid, $amount, %opt) = @_;

    my $t = $self->{t};
    my $inv = $t->update($self->message($pid, "/deposit $amount"));
    my $payload = ($inv->{json} // {})->{payload}
        // die "no invoice for /deposit $amount of $pid: "
               . ($inv->{content} // '') . "\n";

    my $charge = $opt{charge} // $self->fresh_charge;
    my $u = $self->payment($pid, $amount, $payload, $charge);
    return ($t->update($u), $charge, $u);
}

sub payment {
    my ($self, $pid, $amount, $payload, $charge, %opt) = @_;

    my $from = $self->from($pid);
    return {
        update_id => 0 + ($opt{update_id} // $self->next_id),
        message   => {
            message_id => 112,
            from       => $from,
            chat       => { id => 0 + $pid, type => 'private',
                            first_name => $from->{first_name} },
            date       => int time,
            successful_payment => {
                currency                   => 'XTR',
                total_amount               => 0 + $amount,
                invoice_payload            => $payload,
                telegram_payment_charge_id => $charge,
                provider_payment_charge_id => '',
            },
        },
    };
}

sub refund_update {
    my ($self, $pid, $amount, $charge, %opt) = @_;

    my $from = $self->from($pid);
    return {
        update_id => 0 + ($opt{update_id} // $self->next_id),
        message   => {
            message_id => 114,
            from       => $from,
            chat       => { id => 0 + $pid, type => 'private',
                            first_name => $from->{first_name} },
            date       => int time,
            refunded_payment => {
                currency                   => 'XTR',
                total_amount               => 0 + $amount,
                invoice_payload            => $opt{payload} // 'PAYLOAD',
                telegram_payment_charge_id => $charge,
            },
        },
    };
}


# Redis.

sub rlist {
    my ($self, @cmd) = @_;

    my @r = $self->{t}->redis(@cmd);
    return @r == 1 && ref $r[0] eq 'ARRAY' ? @{ $r[0] } : @r;
}

# The wallet hash with balance, held, debt, seq and wseq defaulting to 0.
sub wallet {
    my ($self, $pid) = @_;

    my %w = $self->rlist('HGETALL', "ibp:{$pid}:wallet");
    $w{$_} //= '0' for qw(balance held debt seq wseq);
    return \%w;
}

# "balance/held/debt", handy in one is().
sub bhd {
    my ($self, $pid) = @_;

    my $w = $self->wallet($pid);
    return "$w->{balance}/$w->{held}/$w->{debt}";
}

sub ledger {
    my ($self, $pid) = @_;

    return map { decode_json($_) }
           $self->rlist('LRANGE', "ibp:{$pid}:ledger", 0, -1);
}

sub ledger_sum {
    my ($self, $pid) = @_;

    my $sum = 0;
    $sum += $_->{amount} for $self->ledger($pid);
    return $sum;
}

# All withdrawal hashes of a player, by withdrawal id. Found by the "id"
# field, whatever the key suffix.
sub withdrawals {
    my ($self, $pid) = @_;

    my %wd;
    for my $key ($self->rlist('KEYS', "ibp:{$pid}:wd:*")) {
        my %h = $self->rlist('HGETALL', $key);
        next unless defined $h{id};
        $h{_key} = $key;
        $wd{ $h{id} } = \%h;
    }
    return \%wd;
}

sub withdrawal {
    my ($self, $pid, $id) = @_;

    return $self->withdrawals($pid)->{$id};
}

# Every key of the data set (or only those of the players PIDS) but the
# update markers, as one string: a before/after comparison shows that
# nothing changed.
sub snapshot {
    my ($self, @pids) = @_;

    my %only = map { ("{$_}" => 1) } @pids;
    my @out;
    for my $key (sort $self->rlist('KEYS', '*')) {
        next if $key =~ /:update:/;
        next if @pids && !($key =~ /(\{[^}]*\})/ && $only{$1});
        my $type = $self->{t}->redis('TYPE', $key);
        my $v;
        if ($type eq 'hash') {
            my %h = $self->rlist('HGETALL', $key);
            $v = join ',', map {"$_=$h{$_}"} sort keys %h;
        } elsif ($type eq 'list') {
            $v = join "\n", $self->rlist('LRANGE', $key, 0, -1);
        } elsif ($type eq 'string') {
            $v = $self->{t}->redis('GET', $key);
        } else {
            $v = $type;
        }
        push @out, "$key => $v";
    }
    return join "\n", @out;
}


# Bot API calls.

# sendMessage calls to CHAT whose text matches (string: equal; regexp:
# like), waiting up to TIMEOUT (default 3 s) for at least one.
sub sent {
    my ($self, $chat, $text, %opt) = @_;

    my $t = $self->{t};
    my $deadline = time + ($opt{timeout} // 3);
    my @m;

    while (1) {
        @m = grep {
            my $x = $_->{params}{text} // '';
            ref $text eq 'Regexp' ? $x =~ $text : $x eq $text
        } $t->calls(method => 'sendMessage', chat_id => $chat);
        last if @m >= ($opt{n} // 1) || time > $deadline;
        sleep 0.02;
    }
    return @m;
}

# The texts of every sendMessage to CHAT recorded since the last
# clear_calls, after a short pause for late subrequests.
sub texts_to {
    my ($self, $chat, %opt) = @_;

    sleep $opt{pause} // 0.3;
    return map { $_->{params}{text} }
           $self->{t}->calls(method => 'sendMessage', chat_id => $chat);
}


# UTC "YYYY-MM-DD HH:MM" of a Unix time.
sub ymdhm {
    my ($self, $time) = @_;

    my @g = gmtime $time;
    return sprintf '%04d-%02d-%02d %02d:%02d', $g[5] + 1900, $g[4] + 1,
                   $g[3], $g[2], $g[1];
}

sub ymd {
    my ($self, $time) = @_;

    my @g = gmtime($time // time);
    return sprintf '%04d%02d%02d', $g[5] + 1900, $g[4] + 1, $g[3];
}


# Checks one wallet against its ledger. Returns a list of problems (empty
# when consistent): sum(amount) == balance + held - debt; no negative
# figure; ids 1..seq; each entry's balance/held/debt chain; the last
# entry's figures equal the wallet; held == sum of pending withdrawals.
sub audit {
    my ($self, $pid) = @_;

    my @bad;
    my $w = $self->wallet($pid);
    my @l = $self->ledger($pid);

    for my $f (qw(balance held debt)) {
        push @bad, "$f is $w->{$f}" if $w->{$f} !~ /^\d+$/;
    }

    my $sum = 0;
    my ($b, $h, $d) = (0, 0, 0);
    for my $i (0 .. $#l) {
        my $e = $l[$i];
        $sum += $e->{amount};
        push @bad, "entry $i has id $e->{id}" if $e->{id} != $i + 1;
        my $delta = ($e->{balance} + ($e->{held} // 0) - ($e->{debt} // 0))
                  - ($b + $h - $d);
        push @bad, "entry $e->{id} ($e->{type}) amount $e->{amount}"
                   . " but balance+held-debt moved by $delta"
            if $delta != $e->{amount};
        for my $f (qw(balance held debt)) {
            push @bad, "entry $e->{id}: $f is negative"
                if ($e->{$f} // 0) < 0;
        }
        ($b, $h, $d) = ($e->{balance}, $e->{held} // 0, $e->{debt} // 0);
    }

    my $total = $w->{balance} + $w->{held} - $w->{debt};
    push @bad, "ledger sums to $sum, wallet $w->{balance}+$w->{held}"
               . "-$w->{debt}=$total" if $sum != $total;
    push @bad, "seq $w->{seq} but " . @l . ' ledger entries'
        if $w->{seq} != @l;
    push @bad, "last entry $b/$h/$d, wallet $w->{balance}/$w->{held}"
               . "/$w->{debt}"
        if @l && ($b != $w->{balance} || $h != $w->{held}
                  || $d != $w->{debt});

    my $pending = 0;
    my $wds = $self->withdrawals($pid);
    for my $wd (values %$wds) {
        $pending += $wd->{amount} if ($wd->{status} // '') eq 'pending';
    }
    push @bad, "held $w->{held} but pending withdrawals sum to $pending"
        if $pending != $w->{held};

    return @bad;
}


1;
