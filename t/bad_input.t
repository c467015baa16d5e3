#!/usr/bin/perl

# Bad input at the webhook and at the backend API: a valid update cut at
# every byte, deep nesting, huge numbers, the wrong type in every field the
# module reads, invalid UTF-8, duplicate keys, chunked bodies valid and
# broken, bodies that trickle in or stall (client_body_timeout 2s), and at
# the API truncated and garbage bodies under a good signature.
#
# Every answer is one of the README's (webhook: 200 400 401 405 408 413 503;
# API: 200 400 401 404 405 409 413 503, errors as a JSON object); no worker
# dies (no "exited on signal" in error.log, the same worker pids at the
# end); and Redis holds no key, and no changed value, after a refused input.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Socket qw(SHUT_WR);
use Time::HiRes qw(time sleep);
use InBotPay::Test;
use InBotPay::Wallet;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $J = 7000000001;    # Jordan, who has a wallet
my $N = 7600000001;    # a player who never came

my $t = InBotPay::Test->new(api => 1, workers => 2,
                            http => '    client_body_timeout 2s;');
my $w = InBotPay::Wallet->new($t, first_update_id => 733100000);
my $JS = JSON::PP->new->utf8->canonical;

my @workers = $t->nginx_workers;
is scalar @workers, 2, 'two workers';

$w->start($J);
my ($r) = $w->deposit($J, 500);
is $r->{status}, 200, 'Jordan deposits 500';

# A fresh invoice, paid only at the very end: until then, no cut, no type
# change and no duplicate may credit it.
$r = $t->update($w->message($J, '/deposit 40'));
my $PAYLOAD = $r->{json}{payload};
ok defined $PAYLOAD, 'an invoice for 40';
my $CHARGE = $w->fresh_charge('bad');

sub rlist {
    my @r = $t->redis(@_);
    return @r == 1 && ref $r[0] eq 'ARRAY' ? @{ $r[0] } : @r;
}

# Every key and its value, update markers included.
sub redis_state {
    return join "\n", $w->snapshot,
           map { "$_ => " . ($t->redis('GET', $_) // '') }
           sort grep {/:update:/} rlist('KEYS', '*');
}

my $STATE = redis_state();


#
# Sending. Each request on its own connection; returns the status (or
# "closed" when nginx closed without an answer) and the raw answer.
#

sub raw {
    my ($bytes, %o) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $t->port, Timeout => 5) or die "connect: $!\n";
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite $s, $bytes, 65536, $off;
        last unless defined $n;
        $off += $n;
    }
    shutdown $s, SHUT_WR if $o{shutdown};

    my $sel = IO::Select->new($s);
    my $deadline = time + ($o{timeout} // 5);
    my $buf = '';
    while (time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread $s, $buf, 65536, length $buf;
        last unless $n;
    }
    close $s;
    my ($status) = $buf =~ m{^HTTP/1\.[01] (\d{3})};
    return ($status // 'closed', $buf);
}

sub body_of {
    my ($answer) = @_;
    my $i = index $answer, "\r\n\r\n";
    return $i < 0 ? '' : substr $answer, $i + 4;
}

sub chunked {
    my ($body, $size) = @_;
    my $out = '';
    for (my $i = 0; $i < length $body; $i += $size) {
        my $c = substr $body, $i, $size;
        $out .= sprintf "%x\r\n%s\r\n", length $c, $c;
    }
    return $out . "0\r\n\r\n";
}

sub webhook_request {
    my ($body, %o) = @_;

    my $h = ($o{method} // 'POST') . " /tg/webhook HTTP/1.1\r\nHost: t\r\n"
          . "Content-Type: application/json\r\n"
          . 'X-Telegram-Bot-Api-Secret-Token: ' . $t->secret . "\r\n"
          . "Connection: close\r\n";
    return $h . "Transfer-Encoding: chunked\r\n\r\n" . $o{chunked_raw}
        if defined $o{chunked_raw};
    return $h . "Transfer-Encoding: chunked\r\n\r\n"
              . chunked($body, $o{chunked}) if $o{chunked};
    return $h . 'Content-Length: ' . length($body) . "\r\n\r\n" . $body;
}

sub webhook {
    my ($body, %o) = @_;
    utf8::encode($body) if utf8::is_utf8($body);
    return raw(webhook_request($body, %o), %o);
}

sub api_request {
    my ($endpoint, $body, %o) = @_;

    my $ts = int time;
    my $sig = $o{unsigned} ? 'f' x 64 : $t->api_sign($ts, $body);
    my $h = "POST /api/$endpoint HTTP/1.1\r\nHost: t\r\n"
          . "Content-Type: application/json\r\n"
          . "X-InBotPay-Timestamp: $ts\r\nX-InBotPay-Signature: $sig\r\n"
          . "Connection: close\r\n";
    return $h . "Transfer-Encoding: chunked\r\n\r\n" . $o{chunked_raw}
        if defined $o{chunked_raw};
    return $h . "Transfer-Encoding: chunked\r\n\r\n"
              . chunked($body, $o{chunked}) if $o{chunked};
    return $h . 'Content-Length: ' . length($body) . "\r\n\r\n" . $body;
}

sub api {
    my ($endpoint, $body, %o) = @_;
    $body = $JS->encode($body) if ref $body;
    utf8::encode($body) if utf8::is_utf8($body);
    return raw(api_request($endpoint, $body, %o), %o);
}

my %WEBHOOK_CODES = map { $_ => 1 } qw(200 400 401 405 408 413 503);
my %API_CODES = map { $_ => 1 } qw(200 400 401 404 405 409 413 503);

# Runs CASES ([name, code ref returning (status, answer)]) and checks each
# answer against WANT (a status, or a code ref given status and answer
# returning an error text or undef). One test per group, with the cases
# that went wrong in the diagnostics.
sub group {
    my ($name, $want, @cases) = @_;

    my @bad;
    for my $c (@cases) {
        my ($cname, $run) = @$c;
        my ($status, $answer) = $run->();
        my $err = ref $want ? $want->($status, $answer)
                : $status eq $want ? undef
                : "answered $status, not $want";
        push @bad, "$cname: $err" if defined $err;
    }
    ok !@bad, sprintf '%s: %d cases', $name, scalar @cases
        or diag join "\n", @bad[0 .. ($#bad < 14 ? $#bad : 14)],
                 @bad > 15 ? ('... ' . (@bad - 15) . ' more') : ();
    return;
}

sub unchanged {
    my ($name) = @_;
    my $now = redis_state();
    is $now, $STATE, "$name: Redis unchanged" or do {
        $STATE = $now;
    };
    return;
}

# A refused API request: 400 with {"error":CODE,"message":...}.
sub api_refused {
    my @codes = @_;
    my %ok = map { $_ => 1 } @codes;
    return sub {
        my ($status, $answer) = @_;
        return "answered $status" unless $status eq '400';
        my $body = body_of($answer);
        my $j = eval { decode_json($body) };
        return "not a JSON object: $body" unless ref $j eq 'HASH';
        return "error \"" . ($j->{error} // '') . '"'
            unless $ok{ $j->{error} // '' };
        return 'no message' unless defined $j->{message}
                                   && length $j->{message};
        return undef;
    };
}


#
# The updates cut at every byte
#

my %BASE = (
    payment  => $w->payment($J, 40, $PAYLOAD, $CHARGE),
    start    => $w->message($N, '/start'),
    withdraw => $w->message($J, '/withdraw 10 addr1'),
    button   => $w->callback($J, 'dep:100'),
    refund   => $w->refund_update($J, 500, 'stxNOSUCHCHARGE'),
);
{
    my %pcq = (pre_checkout_query => {
        id => '854140777148461114', from => $w->from($J), currency => 'XTR',
        total_amount => 40, invoice_payload => $PAYLOAD });
    $BASE{pcq} = { update_id => 0 + $w->next_id, %pcq };
}

for my $kind (sort keys %BASE) {
    my $body = $JS->encode($BASE{$kind});
    group("$kind cut at each of its " . length($body) . ' bytes', 400,
          map { my $cut = substr $body, 0, $_;
                [ "cut at $_", sub { webhook($cut) } ] }
          0 .. length($body) - 1);
}
unchanged('the cut updates');


#
# Deep nesting, huge numbers
#

my $deep_a = sub { ('[' x $_[0]) . (']' x $_[0]) };
my $deep_o = sub { ('{"a":' x $_[0]) . '1' . ('}' x $_[0]) };

group('deep nesting under unknown keys', 200,
    [ '100000 arrays', sub {
        webhook('{"update_id":1,"x":' . $deep_a->(100000) . '}') } ],
    [ '100000 objects', sub {
        webhook('{"update_id":2,"x":' . $deep_o->(100000) . '}') } ],
    [ '100000 objects in a message', sub {
        webhook('{"update_id":3,"message":{"message_id":1,"x":'
                . $deep_o->(100000) . '}}') } ],
    [ '100000 objects in a chat', sub {
        webhook('{"update_id":4,"message":{"message_id":1,"chat":{"id":1,'
                . '"type":"channel","x":' . $deep_o->(100000) . '}}}') } ],
    [ '500000 arrays (1 MB)', sub {
        webhook('{"update_id":5,"x":' . $deep_a->(500000) . '}') } ],
);
group('deep nesting left open or broken', 400,
    [ '100000 arrays open', sub {
        webhook('{"update_id":1,"x":' . ('[' x 100000)) } ],
    [ '100000 objects, one brace short', sub {
        webhook('{"update_id":2,"x":' . substr($deep_o->(100000), 0, -1)
                . '}') } ],
    [ '100000 arrays as the body', sub { webhook($deep_a->(100000)) } ],
    [ 'arrays closed by braces', sub {
        webhook('{"update_id":1,"x":' . ('[' x 1000) . ('}' x 1000)) } ],
);

my @huge = ('9223372036854775808', '-9223372036854775809',
            '99999999999999999999999999999', '1e400', '-1e400',
            '9223372036854775807.5', '1E2', '0x10', '01', '+1', '-', 'NaN',
            'Infinity', '1.', '.5');

sub with_value {
    my ($body, $path, $raw) = @_;

    # the update as JSON with the value at PATH replaced by RAW text
    my $marker = "\x{1}MARK\x{1}";
    my $copy = $JS->decode($JS->encode($body));
    my $node = $copy;
    my @p = @$path;
    my $last = pop @p;
    $node = $node->{$_} for @p;
    $node->{$last} = $marker;
    my $json = $JS->encode($copy);
    my $m = $JS->encode($marker);
    $json =~ s/\Q$m\E/$raw/;
    return $json;
}

# every integer field the module reads, in the updates where it is read
my @INT_FIELDS = (
    [ payment  => [qw(update_id)] ],
    [ payment  => [qw(message message_id)] ],
    [ payment  => [qw(message chat id)] ],
    [ payment  => [qw(message from id)] ],
    [ payment  => [qw(message successful_payment total_amount)] ],
    [ refund   => [qw(message refunded_payment total_amount)] ],
    [ button   => [qw(callback_query from id)] ],
    [ button   => [qw(callback_query message message_id)] ],
    [ button   => [qw(callback_query message chat id)] ],
    [ pcq      => [qw(pre_checkout_query from id)] ],
    [ pcq      => [qw(pre_checkout_query total_amount)] ],
);
my @STR_FIELDS = (
    [ withdraw => [qw(message text)] ],
    [ withdraw => [qw(message chat type)] ],
    [ start    => [qw(message from first_name)] ],
    [ start    => [qw(message from username)] ],
    [ payment  => [qw(message successful_payment currency)] ],
    [ payment  => [qw(message successful_payment invoice_payload)] ],
    [ payment  => [qw(message successful_payment telegram_payment_charge_id)] ],
    [ refund   => [qw(message refunded_payment currency)] ],
    [ refund   => [qw(message refunded_payment invoice_payload)] ],
    [ refund   => [qw(message refunded_payment telegram_payment_charge_id)] ],
    [ button   => [qw(callback_query id)] ],
    [ button   => [qw(callback_query data)] ],
    [ button   => [qw(callback_query inline_message_id)] ],
    [ pcq      => [qw(pre_checkout_query id)] ],
    [ pcq      => [qw(pre_checkout_query currency)] ],
    [ pcq      => [qw(pre_checkout_query invoice_payload)] ],
);
my @OBJ_FIELDS = (
    [ payment  => [qw(message)] ],
    [ payment  => [qw(edited_message)] ],
    [ payment  => [qw(message chat)] ],
    [ payment  => [qw(message from)] ],
    [ payment  => [qw(message successful_payment)] ],
    [ refund   => [qw(message refunded_payment)] ],
    [ button   => [qw(callback_query)] ],
    [ button   => [qw(callback_query from)] ],
    [ button   => [qw(callback_query message)] ],
    [ button   => [qw(callback_query message chat)] ],
    [ pcq      => [qw(pre_checkout_query)] ],
    [ pcq      => [qw(pre_checkout_query from)] ],
);
my @BOOL_FIELDS = (
    [ start    => [qw(message from is_bot)] ],
);

sub field_cases {
    my ($fields, @values) = @_;
    my @cases;
    for my $f (@$fields) {
        my ($kind, $path) = @$f;
        for my $v (@values) {
            my $body = with_value($BASE{$kind}, $path, $v);
            push @cases, [ "$kind " . join('.', @$path) . " = $v",
                           sub { webhook($body) } ];
        }
    }
    return @cases;
}

group('huge and malformed numbers in the integer fields', 400,
      field_cases(\@INT_FIELDS, @huge));

# In range for yajl but not for money: answered (200), nothing credited.
group('extreme integers in the integer fields', sub {
          my ($s) = @_;
          return $WEBHOOK_CODES{$s} ? undef : "answered $s";
      },
      field_cases([ grep { $_->[0] ne 'payment'
                           || $_->[1][-1] =~ /^(total_amount|id)$/
                              && $_->[1][-2] ne 'chat' }
                    grep { $_->[1][-1] ne 'update_id' } @INT_FIELDS ],
                  '9223372036854775807', '-9223372036854775808',
                  '9007199254740992', '0', '-1'));
is $w->bhd($J), '500/0/0', 'extreme integers: no money moved';
is scalar(my @l = $w->ledger($J)), 1, 'extreme integers: the ledger has'
                                      . ' its one entry';
# let later groups compare with what the extreme ids may have registered
$STATE = redis_state();

group('update_id out of range', 400,
    map { my $v = $_;
          [ "update_id $v", sub { webhook(qq({"update_id":$v})) } ] }
    '-1', '-9223372036854775808', @huge);


#
# Wrong types
#

my @not_int = ('"1"', '1.5', '1.0', 'true', 'false', 'null', '{}', '[]',
               '[1]', '{"a":1}', '""');
my @not_str = ('1', '1.5', 'true', 'null', '{}', '[]', '["x"]',
               '{"a":"x"}');
my @not_obj = ('1', '"x"', 'true', 'null', '[]', '[{}]', '1.5');
my @not_bool = ('"true"', '1', '0', 'null', '{}', '[]');

group('the wrong type in each integer field', 400,
      field_cases(\@INT_FIELDS, @not_int));
group('the wrong type in each string field', 400,
      field_cases(\@STR_FIELDS, @not_str));
group('the wrong type in each object field', 400,
      field_cases(\@OBJ_FIELDS, @not_obj));
group('the wrong type in is_bot', 400,
      field_cases(\@BOOL_FIELDS, @not_bool));
group('not an object at the top', 400,
    map { my $b = $_; [ "body $b", sub { webhook($b) } ] }
    '[]', '[{"update_id":1}]', '1', '"x"', 'null', 'true', '{}',
    '{"update_id":1}{"update_id":2}', '{"update_id":1} x',
    '{"update_id":1,}', "{'update_id':1}", '{update_id:1}',
    '{"update_id":1 /* c */}', "\x{feff}{\"update_id\":1}",
    "{\"update_id\":1}\0", "\0{\"update_id\":1}", ' ', "\n");
unchanged('wrong types');


#
# Invalid UTF-8
#

my @bad_utf8 = ("\xff", "\xfe", "\x80", "\xbf", "\xc3", "\xe2\x82",
                "\xf0\x9f\x98", "\xc3\x28", "\xe2\x28\xa1", "\xf8\x88\x80\x80\x80");

sub utf8_cases {
    my @cases;
    for my $f (@STR_FIELDS) {
        my ($kind, $path) = @$f;
        for my $b (@bad_utf8) {
            my $body = with_value($BASE{$kind}, $path, qq("a${b}b"));
            push @cases, [ "$kind " . join('.', @$path) . ' with '
                           . unpack('H*', $b), sub { webhook($body) } ];
        }
    }
    for my $b (@bad_utf8) {
        my $body = $JS->encode($BASE{payment});
        my $k = $body;
        $k =~ s/^\{/{"x$b":1,/;
        $body =~ s/^\{/{"x":"$b",/;
        push @cases, [ 'an unknown field with ' . unpack('H*', $b),
                       sub { webhook($body) } ],
                     [ 'a key with ' . unpack('H*', $b),
                       sub { webhook($k) } ];
    }
    return @cases;
}
group('invalid UTF-8 in each string', 400, utf8_cases());
unchanged('invalid UTF-8');

# Well-formed bytes that are not characters (an encoded surrogate, an
# overlong form, past U+10FFFF) and escapes of lone surrogates: whatever
# the answer, it is valid UTF-8 JSON.
group('surrogates and overlong forms', sub {
        my ($s, $answer) = @_;
        return "answered $s" unless $s eq '200' || $s eq '400';
        my $body = body_of($answer);
        return undef if $s eq '400' || $body eq '';
        return "the answer is not UTF-8 JSON: $body"
            unless eval { decode_json($body); 1 };
        return undef;
    },
    map { my $v = $_;
          my $body = with_value($w->message($J, '/balance'),
                                [qw(message from first_name)], qq("A${v}B"));
          my $b2 = with_value($w->message($J, '/help'),
                              [qw(message text)], qq("/help${v}"));
          ([ 'first_name ' . unpack('H*', $v), sub { webhook($body) } ],
           [ 'text ' . unpack('H*', $v), sub { webhook($b2) } ]) }
    "\xed\xa0\x80", "\xed\xbf\xbf", "\xc0\xaf", "\xe0\x80\xaf",
    "\xf4\x90\x80\x80", '\ud800', '\udfff', '\ud800\u0041', '\u0000');


#
# Duplicate keys: the last wins, the first kind of update wins
#

{
    my $dup = $JS->encode($w->message($J, '/deposit 5'));
    $dup =~ s/("text":"\/deposit 5")/$1,"text":"\/deposit 7"/ or die;
    my ($s, $a) = webhook($dup);
    my $j = eval { decode_json(body_of($a)) } // {};
    is "$s $j->{method} $j->{prices}[0]{amount}", '200 sendInvoice 7',
        'two "text": the last one counts';

    $dup = $JS->encode($w->message($J, '/balance'));
    $dup =~ s/^\{/{"update_id":"x",/;
    ($s) = webhook($dup);
    is $s, 400, 'two update_id, the first a string: 400';

    $dup = $JS->encode($w->message($J, '/balance'));
    $dup =~ s/^\{/{"update_id":5,/;
    ($s, $a) = webhook($dup);
    is $s, 200, 'two update_id: 200';

    my $inner = '"callback_query":'
              . $JS->encode($w->callback($J, 'bal')->{callback_query});
    $dup = $JS->encode($w->message($J, '/help'));
    $dup =~ s/\}$/,$inner}/;
    ($s, $a) = webhook($dup);
    $j = eval { decode_json(body_of($a)) } // {};
    is "$s " . ($j->{method} // ''), '200 sendMessage',
        'a message and then a callback_query: the message is answered';
    like $j->{text} // '', qr{/balance}, '... with the help text';

    $dup = $JS->encode($w->message($J, '/balance'));
    $dup =~ s/"from":\{/"from":{"id":"x","id":$J,/;
    ($s) = webhook($dup);
    is $s, 400, 'two from.id, the first a string: 400';
    unchanged('duplicate keys');
}


#
# Chunked bodies
#

{
    my $help = $JS->encode($w->message($J, '/help'));
    my ($s0, $a0) = webhook($help);
    my $want = body_of($a0);
    group('valid chunked bodies', sub {
              my ($s, $a) = @_;
              return "answered $s" unless $s eq '200';
              return 'another answer' unless body_of($a) eq $want;
              return undef;
          },
          map { my $n = $_;
                [ "chunks of $n", sub { webhook($help, chunked => $n) } ] }
          1, 2, 7, 100, 10000);

    my $pay = $JS->encode($BASE{payment});
    my $hex = sprintf '%x', length $pay;
    group('broken chunked bodies', sub {
              my ($s) = @_;
              return $s eq '400' || $s eq 'closed' ? undef : "answered $s";
          },
          [ 'a size that is not hex', sub {
              webhook('', chunked_raw => "zz\r\n$pay\r\n0\r\n\r\n") } ],
          [ 'a size past 64 bits', sub {
              webhook('', chunked_raw =>
                      "fffffffffffffffffffff\r\n$pay\r\n0\r\n\r\n") } ],
          [ 'a negative size', sub {
              webhook('', chunked_raw => "-5\r\n$pay\r\n0\r\n\r\n") } ],
          [ 'no CRLF after the data', sub {
              webhook('', chunked_raw => "$hex\r\n${pay}XX0\r\n\r\n") } ],
          [ 'a chunk longer than its size', sub {
              webhook('', chunked_raw => "5\r\n$pay\r\n0\r\n\r\n") } ],
          [ 'no last chunk, the client closes', sub {
              webhook('', chunked_raw => "$hex\r\n$pay\r\n",
                      shutdown => 1) } ],
          [ 'cut in a chunk, the client closes', sub {
              webhook('', chunked_raw => "$hex\r\n" . substr($pay, 0, 20),
                      shutdown => 1) } ],
          [ 'valid framing, half the JSON', sub {
              webhook(substr($pay, 0, length($pay) / 2), chunked => 9) } ],
          [ 'valid framing, an empty body', sub {
              webhook('', chunked_raw => "0\r\n\r\n") } ],
          [ 'Content-Length and chunked', sub {
              my $req = webhook_request($help, chunked => 10);
              $req =~ s/\r\n\r\n/\r\nContent-Length: 10\r\n\r\n/;
              raw($req) } ],
          [ 'chunked twice', sub {
              my $req = webhook_request($help, chunked => 10);
              $req =~ s/\r\n\r\n/\r\nTransfer-Encoding: chunked\r\n\r\n/;
              raw($req) } ],
          # nginx itself answers 501 to a transfer coding it does not
          # know, before the module sees the request (not in the README)
          [ 'Transfer-Encoding gzip, chunked', sub {
              my $req = webhook_request($help, chunked => 10);
              $req =~ s/Transfer-Encoding: chunked/Transfer-Encoding: gzip, chunked/;
              my ($s, $a) = raw($req);
              return ($s eq '501' ? 400 : $s, $a) } ],
    );
    my ($s, $a) = webhook('{"update_id":1,"x":"' . ('a' x (1024 * 1024))
                          . '"}', chunked => 4096);
    is $s, 413, 'a chunked body over client_max_body_size: 413';
    ($s) = webhook('{"update_id":1,"x":"' . ('a' x (1024 * 1024)) . '"}');
    is $s, 413, 'a body over client_max_body_size: 413';
    unchanged('chunked bodies');
}


#
# Slow bodies: client_body_timeout 2s
#

{
    my $port = $t->port;
    my $pay = $JS->encode($BASE{payment});
    my @conns;

    # stalled: the headers and a few bytes, then nothing
    for my $i (1 .. 8) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port) or die "$!\n";
        my $req = $i % 2 ? webhook_request($pay)
                         : webhook_request($pay, chunked => 5);
        my $head = index($req, "\r\n\r\n") + 4;
        syswrite $s, substr($req, 0, $head + 3 * $i);
        push @conns, [ "stalled after " . (3 * $i) . ' body bytes'
                       . ($i % 2 ? '' : ' (chunked)'), $s ];
    }

    # a trickle: a byte every 0.2 s (under the timeout), then complete
    my $trickle = IO::Select->new;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port) or POSIX::_exit(1);
        my $req = webhook_request('{"update_id":7}');
        my $head = index($req, "\r\n\r\n") + 4;
        syswrite $s, substr($req, 0, $head);
        for my $c (split //, substr $req, $head) {
            sleep 0.2;
            syswrite $s, $c;
        }
        my $buf = '';
        my $sel = IO::Select->new($s);
        while ($sel->can_read(5)) {
            last unless sysread $s, $buf, 4096, length $buf;
        }
        my ($st) = $buf =~ m{^HTTP/1\.1 (\d+)};
        POSIX::_exit(($st // 0) == 200 ? 0 : 1);
    }

    # meanwhile nginx answers others at once
    my $t0 = time;
    my ($s) = webhook($JS->encode($w->message($J, '/help')));
    my $dt = time - $t0;
    ok $s eq '200' && $dt < 1,
        sprintf 'while bodies stall, /help: %s in %.3f s', $s, $dt;

    # each stalled request: 408 or closed, within the timeout and a bit
    my @bad;
    for my $c (@conns) {
        my ($name, $sock) = @$c;
        my $sel = IO::Select->new($sock);
        my $buf = '';
        my $deadline = time + 6;
        while (time < $deadline) {
            last unless $sel->can_read($deadline - time);
            last unless sysread $sock, $buf, 4096, length $buf;
        }
        my ($st) = $buf =~ m{^HTTP/1\.1 (\d+)};
        push @bad, "$name: " . ($st // 'no answer') . ' and still open'
            if time >= $deadline;
        push @bad, "$name: answered $st"
            if defined $st && $st ne '408';
        close $sock;
    }
    my $all = time - $t0;
    ok !@bad, sprintf('8 stalled bodies: 408 or closed, all within %.1f s',
                      $all) or diag join "\n", @bad;

    waitpid $pid, 0;
    is $? >> 8, 0, 'a body sent a byte every 0.2 s: 200';
    unchanged('slow bodies');
}


#
# The API: signed bodies that are not requests
#

{
    my $bet = $JS->encode({ player => 0 + $J, tx => 'bad-input-bet-1',
                            amount => 10 });
    group('a signed bet cut at each of its ' . length($bet) . ' bytes',
          api_refused('bad_json'),
          map { my $cut = substr $bet, 0, $_;
                [ "cut at $_", sub { api('bet', $cut) } ] }
          0 .. length($bet) - 1);

    srand 20261203;
    my @garbage = ('[]', '[{"player":1}]', '1', '"x"', 'null', 'true',
        '{"player":1}{"player":1}', '{"player":1} x', '{"player":1,}',
        "{'player':1}", '{player:1}', "\x{feff}{\"player\":1}",
        "{\"player\":1}\0", "{\"player\":1,\"x\":\"a\0b\"}",
        "{\"player\":1,\"x\":\"\xff\"}", "{\"player\":1,\"x\xc3\":1}",
        "{\"player\":1,\"x\":\"\xe2\x82\"}",
        '{"player":' . ('[' x 100000),
        '{"player":1,"x":' . ('[' x 1000) . ('}' x 1000),
        map { my $n = 1 + int rand 300;
              join '', map { chr int rand 256 } 1 .. $n } 1 .. 40);
    my $i = 0;
    group('signed garbage at each endpoint', api_refused('bad_json'),
          map { my $b = $_; $i++;
                map { my $e = $_; [ "$e body $i", sub { api($e, $b) } ] }
                qw(balance bet win rollback adjust withdrawals settle ledger)
              } @garbage);

    group('unsigned garbage', sub {
              my ($s, $a) = @_;
              return "answered $s" unless $s eq '401';
              my $j = eval { decode_json(body_of($a)) };
              return 'not bad_signature'
                  unless ref $j eq 'HASH' && ($j->{error} // '') eq
                                             'bad_signature';
              return undef;
          },
          map { my $b = $_; [ 'unsigned', sub { api('bet', $b,
                                                    unsigned => 1) } ] }
          @garbage[0 .. 19]);

    # every field of every endpoint with a wrong type or out of range
    my %valid = (
        balance  => { player => 0 + $J },
        bet      => { player => 0 + $J, tx => 'bi-1', amount => 10 },
        win      => { player => 0 + $J, tx => 'bi-2', bet => 'bi-1',
                      amount => 10 },
        rollback => { player => 0 + $J, tx => 'bi-3', bet => 'bi-1' },
        adjust   => { player => 0 + $J, tx => 'bi-4', amount => 10,
                      reason => 'goodwill' },
        settle   => { player => 0 + $J, withdrawal => 1, status => 'paid',
                      reference => 'ref-1' },
        ledger   => { player => 0 + $J, offset => 0, limit => 10 },
    );
    my $INT = ['"1"', '1.5', '1.0', '1e3', 'true', 'null', '{}', '[]', '""',
               '9223372036854775808', '-9223372036854775809',
               '99999999999999999999999'];
    my $ID = ['1', 'true', 'null', '{}', '[]', '["x"]', '""',
              '"' . ('x' x 65) . '"', '"a b"', '"a/b"', '"ü"',
              '"a\nb"'];
    my %wrong = (
        player     => [ @$INT, '0', '-1', '-9223372036854775808' ],
        amount     => [ @$INT, '0', '-1', '9007199254740992' ],
        tx         => $ID,
        bet        => $ID,
        reason     => ['1', 'null', '[]', '{}', '""',
                       '"' . ('r' x 201) . '"'],
        withdrawal => [ @$INT, '-1' ],
        status     => ['1', 'null', '[]', '"x"', '"PAID"', '""',
                       '"pending"'],
        reference  => ['1', 'null', '[]', '""', '"' . ('r' x 129) . '"',
                       '"a b"'],
        offset     => [ @$INT, '-1' ],
        limit      => [ @$INT, '0', '-1', '1001' ],
    );
    my %adjust_amount = (amount => [ @$INT, '0', '9007199254740992',
                                     '-9007199254740992' ]);
    my @cases;
    for my $e (sort keys %valid) {
        for my $f (sort keys %{ $valid{$e} }) {
            my $list = $e eq 'adjust' && $f eq 'amount'
                       ? $adjust_amount{amount} : $wrong{$f};
            for my $v (@$list) {
                my $body = with_value($valid{$e}, [$f], $v);
                push @cases, [ "$e $f = $v", sub { api($e, $body) } ];
            }
            my %missing = %{ $valid{$e} };
            delete $missing{$f};
            next if $e eq 'ledger' && $f ne 'player';   # optional
            my $body = $JS->encode(\%missing);
            push @cases, [ "$e without $f", sub { api($e, $body) } ];
        }
    }
    group('a wrong, missing or out-of-range field at each endpoint',
          api_refused(qw(bad_field missing_field)), @cases);

    # API requests are flat objects: deep nesting is refused before the
    # body is parsed into a tree
    group('deep nesting in a signed balance',
          api_refused(qw(bad_json)),
          [ '100000 arrays', sub {
              api('balance', '{"player":' . $J . ',"x":'
                  . $deep_a->(100000) . '}') } ],
          [ '100000 objects', sub {
              api('balance', '{"player":' . $J . ',"x":'
                  . $deep_o->(100000) . '}') } ],
          [ '17 levels', sub {
              api('balance', '{"player":' . $J . ',"x":'
                  . $deep_a->(16) . '}') } ],
    );
    group('shallow nesting and chunks in a signed balance', sub {
              my ($s, $a) = @_;
              return "answered $s" unless $s eq '200';
              my $j = eval { decode_json(body_of($a)) } // {};
              return 'not the balance' unless ($j->{balance} // '') eq '500';
              return undef;
          },
          [ '16 levels', sub {
              api('balance', '{"player":' . $J . ',"x":'
                  . $deep_a->(15) . '}') } ],
          [ 'chunked by 3', sub {
              api('balance', '{"player":' . $J . '}', chunked => 3) } ],
    );
    {
        my ($s, $a) = api('balance', '{"player":' . $J . ',"player":"x"}');
        my $j = eval { decode_json(body_of($a)) } // {};
        ok $s eq '200' && ($j->{balance} // '') eq '500'
           || $s eq '400' && ($j->{error} // '') eq 'bad_field',
           "two \"player\", the last a string: $s " . body_of($a);
    }

    group('broken chunked signed bodies', sub {
              my ($s) = @_;
              return $s eq '400' || $s eq 'closed' ? undef : "answered $s";
          },
          [ 'a size that is not hex', sub {
              api('bet', $bet, chunked_raw => "zz\r\n$bet\r\n0\r\n\r\n") } ],
          [ 'a chunk longer than its size', sub {
              api('bet', $bet, chunked_raw => "5\r\n$bet\r\n0\r\n\r\n") } ],
          [ 'no last chunk, the client closes', sub {
              api('bet', $bet, shutdown => 1, chunked_raw =>
                  sprintf("%x\r\n%s\r\n", length $bet, $bet)) } ],
    );
    unchanged('the API refusals');
    is $t->redis('EXISTS', "ibp:{$J}:tx:bad-input-bet-1"), 0,
        'no transaction recorded';
}


#
# Nothing died, and the payment that was never credited still can be.
#

is $w->bhd($J), '500/0/0', "Jordan's wallet as it was";
my ($s, $a) = webhook($JS->encode($BASE{payment}));
my $j = eval { decode_json(body_of($a)) } // {};
is "$s " . ($j->{text} // ''),
    '200 Deposit of 40 ⭐ received. Your balance: 540 ⭐',
    'the uncut payment: credited';
is $w->bhd($J), '540/0/0', 'Jordan has 540';

is_deeply [ $t->nginx_workers ], \@workers, 'the same two workers';
my @died = grep { /exited on signal/ } split /\n/, $t->error_log;
ok !@died, 'no worker exited on a signal' or diag join "\n", @died;

$t->stop;


#
# Two API bugs this sweep found, on a Redis and nginx of their own.
#

{
    my $t2 = InBotPay::Test->new(api => 1, workers => 1, tap => 0,
                                 quiet => 1);
    my $P = 7000000001;

    # An escaped NUL in a string member: yajl_tree hands the module a C
    # string, so "n\u0000x" would pass as the transaction id "n" (or a
    # reason cut short); such a body is refused.
    {
        my @bad;
        for my $c (
            [ adjust => { player => $P, tx => "n\0a", amount => 10,
                          reason => 'goodwill' } ],
            [ bet => { player => $P, tx => "n\0b", amount => 1 } ],
            [ win => { player => $P, tx => 'w-1', bet => "n\0c",
                       amount => 1 } ],
            [ rollback => { player => $P, tx => 'r-1', bet => "n\0d" } ],
            [ adjust => { player => $P, tx => 'n-2', amount => 10,
                          reason => "good\0will" } ],
        ) {
            my ($e, $body) = @$c;
            my $r2 = $t2->api($e, $body);
            push @bad, "$e " . JSON::PP->new->canonical->encode($body)
                       . ": $r2->{status} $r2->{content}"
                if $r2->{status} != 400;
        }
        my @keys = @{ $t2->redis('KEYS', '*') };
        ok !@bad && !@keys,
            'API: a string member with \u0000 is refused, nothing stored'
            or diag join "\n", @bad, "keys: @keys";
    }

    # A signed body nested as deep as client_max_body_size allows: yajl's
    # tree is built and freed recursively, one C frame per level, so deep
    # bodies are refused before they are parsed.
    {
        my @w0 = $t2->nginx_workers;
        my $body = '{"player":1,"x":' . $deep_a->(500000) . '}';
        my $r2 = $t2->api('balance', $body);
        my @w1 = $t2->nginx_workers;
        $t2->stop_nginx;
        my @sig = grep { /exited on signal/ } split /\n/, $t2->error_log;
        ok $r2->{status} =~ /^(200|400)$/ && !@sig && "@w0" eq "@w1",
            "API: 500000 nested arrays in a signed balance (1 MB):"
            . " $r2->{status}" or diag join "\n", @sig;
    }
    $t2->stop(check => 0);
}

done_testing;
