#!/usr/bin/perl

# The casino backend API's gate: every request the signature layer or the
# request checks refuse. Missing headers, a signature that is not 64
# lowercase hex digits, made with another key, over another body or
# another timestamp; a timestamp missing, not an integer, or outside
# inbotpay_api_window on either side; a method other than POST; an
# unknown endpoint; a body that is not a JSON object, lacks a field, or
# has one of the wrong type or out of range. Each answer is the exact
# status and error code in a JSON body, and Redis is left as it was.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use JSON::PP;
use InBotPay::Test;
use InBotPay::Wallet;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $J = 7000000001;    # Jordan

my $t = InBotPay::Test->new(api => 1, http => 'inbotpay_api_window 60s;');
my $w = InBotPay::Wallet->new($t, first_update_id => 732100000);

# Some money and a ledger, so that a change would show.
$w->start($J);
my ($r) = $w->deposit($J, 500);
is $r->{json}{text}, 'Deposit of 500 ⭐ received. Your balance: 500 ⭐',
    'Jordan deposits 500';

my $BAL = { player => 0 + $J };
my $BET = { player => 0 + $J, tx => 'auth-bet-1', amount => 10 };

# A request that passes: the key is the file's content without its newline.
$r = $t->api('balance', $BAL);
is $r->{status}, 200, 'a signed balance request: 200';
like $r->{headers}{'content-type'} // '', qr{^application/json\b},
    'a signed balance request: JSON';
is_deeply $r->{json}, { player => $J, balance => 500, held => 0, debt => 0,
                        currency => 'XTR' },
    'a signed balance request: the balance';

my $before = $w->snapshot;

sub refused {
    my ($r, $status, $code, $name, $message) = @_;

    is $r->{status}, $status, "$name: $status";
    like $r->{headers}{'content-type'} // '', qr{^application/json\b},
        "$name: a JSON answer";
    is ref $r->{json}, 'HASH', "$name: a JSON object"
        or diag $r->{content};
    is $r->{json}{error}, $code, "$name: error $code";
    my $m = $r->{json}{message};
    ok defined $m && !ref $m && length $m, "$name: a message";
    like $m // '', $message, "$name: the message names it" if $message;
    is $w->snapshot, $before, "$name: nothing changes";
}

#
# the signature
#

$r = $t->api('bet', $BET, headers => { 'X-InBotPay-Signature' => undef });
refused($r, 401, 'bad_signature', 'no signature header');

my $good = $t->api_sign(int time, JSON::PP->new->canonical->encode($BET));
for my $case (
    [ 'an empty signature',           '' ],
    [ 'a signature of 63 digits',     substr($good, 0, 63) ],
    [ 'a signature of 65 digits',     $good . '0' ],
    [ 'a signature of 64 non-hex',    'g' x 64 ],
    [ 'a signature with a space',     ' ' . substr($good, 1) ],
    [ 'a signature in base64',        'q2Vf3d7qkK3QW1lT0o0G4z0y9t3VqB0G8m3xkz0n5wU=' ],
    [ 'a signature of zeros',         '0' x 64 ],
    [ 'a sha256= prefix',             "sha256=$good" ],
) {
    my ($name, $sig) = @$case;
    $r = $t->api('bet', $BET, signature => $sig);
    refused($r, 401, 'bad_signature', $name);
}

$r = $t->api('bet', $BET, key => 'Zy' x 16);
refused($r, 401, 'bad_signature', 'signed with another key');

$r = $t->api('bet', $BET, key => $t->api_secret . "\n");
refused($r, 401, 'bad_signature', 'signed with the key and its newline');

$r = $t->api('bet', $BET, key => substr($t->api_secret, 0, 31));
refused($r, 401, 'bad_signature', 'signed with the key less one character');

$r = $t->api('bet', { %$BET, amount => 400 },
             sign_body => JSON::PP->new->canonical->encode($BET));
refused($r, 401, 'bad_signature', 'the signature of another body');

$r = $t->api('bet', JSON::PP->new->canonical->encode($BET) . ' ',
             sign_body => JSON::PP->new->canonical->encode($BET));
refused($r, 401, 'bad_signature', 'the body with one more space');

$r = $t->api('bet', $BET, sign_timestamp => int(time) - 1);
refused($r, 401, 'bad_signature', 'signed over another timestamp');

$r = $t->api('bet', $BET, sign_timestamp => '', sign_body => '.'
                        . JSON::PP->new->canonical->encode($BET));
refused($r, 401, 'bad_signature', 'signed over the body alone');

#
# the timestamp (the signature is right for the timestamp sent)
#

# missing: signed over "" "." BODY, which is all a server could check
$r = $t->api('bet', $BET, timestamp => undef, sign_timestamp => '');
refused($r, 401, 'bad_timestamp', 'no timestamp header');

for my $case (
    [ 'an empty timestamp',           '' ],
    [ 'a timestamp of letters',       'now' ],
    [ 'a fractional timestamp',       int(time) . '.5' ],
    [ 'a timestamp in exponent form', sprintf('%.9e', int time) ],
    [ 'a timestamp with a suffix',    int(time) . 's' ],
    [ 'a hexadecimal timestamp',      sprintf('0x%x', int time) ],
    [ 'a negative timestamp',         '-' . int(time) ],
    [ 'a timestamp past 64 bits',     '99999999999999999999999' ],
    [ 'a timestamp of 0',             '0' ],
    [ 'the timestamp 63 s ago',       int(time) - 63 ],
    [ 'the timestamp 63 s ahead',     int(time) + 63 ],
    [ 'the timestamp 10 min ago',     int(time) - 600 ],
    [ 'the timestamp 10 min ahead',   int(time) + 600 ],
) {
    my ($name, $ts) = @$case;
    $r = $t->api('bet', $BET, timestamp => $ts);
    refused($r, 401, 'bad_timestamp', $name, qr/Timestamp/);
}

# inside the window on both sides: accepted (balance changes nothing)
for my $off (-55, 55) {
    $r = $t->api('balance', $BAL, time_offset => $off);
    is $r->{status}, 200, "a timestamp $off s off: accepted";
    is $r->{json}{balance}, 500, "a timestamp $off s off: the balance";
}
is $w->snapshot, $before, 'balance requests change nothing';

#
# the method and the endpoint (properly signed)
#

for my $m (qw(GET PUT DELETE)) {
    $r = $t->api('balance', $m eq 'GET' ? '' : $BAL, method => $m);
    refused($r, 405, 'method_not_allowed', "$m /api/balance");
}

for my $path ('/api/nosuch', '/api/Balance', '/api/bet/1', '/api/bets',
              '/api/', '/api/balance.json')
{
    $r = $t->api('', $BAL, path => $path);
    refused($r, 404, 'unknown_endpoint', "POST $path");
}

#
# bodies that are not a JSON object
#

for my $case (
    [ 'an empty body',          '' ],
    [ 'not JSON',               'player=7000000001' ],
    [ 'a cut object',           '{"player":7000000001' ],
    [ 'a trailing comma',       '{"player":7000000001,}' ],
    [ 'a second value',         '{"player":7000000001} {}' ],
    [ 'trailing bytes',         '{"player":7000000001}x' ],
    [ 'an array',               '[{"player":7000000001}]' ],
    [ 'a number',               '7000000001' ],
    [ 'a string',               '"7000000001"' ],
    [ 'null',                   'null' ],
    [ 'single quotes',          "{'player':7000000001}" ],
) {
    my ($name, $body) = @$case;
    $r = $t->api('balance', $body);
    refused($r, 400, 'bad_json', "balance: $name");
}

$r = $t->api('bet', '[]');
refused($r, 400, 'bad_json', 'bet: an array');
$r = $t->api('withdrawals', '[]');
refused($r, 400, 'bad_json', 'withdrawals: an array');

#
# missing fields: the message names the field
#

my %full = (
    balance  => { player => 0 + $J },
    bet      => { player => 0 + $J, tx => 'auth-bet-2', amount => 10 },
    win      => { player => 0 + $J, tx => 'auth-win-2', bet => 'auth-bet-2',
                  amount => 10 },
    rollback => { player => 0 + $J, tx => 'auth-rb-2', bet => 'auth-bet-2' },
    adjust   => { player => 0 + $J, tx => 'auth-adj-2', amount => 10,
                  reason => 'goodwill' },
    settle   => { player => 0 + $J, withdrawal => 731400001,
                  status => 'paid', reference => 'REF-1' },
    ledger   => { player => 0 + $J },
);

for my $ep (sort keys %full) {
    my @fields = sort keys %{ $full{$ep} };
    for my $f (@fields) {
        my %body = %{ $full{$ep} };
        delete $body{$f};
        $r = $t->api($ep, \%body);
        refused($r, 400, 'missing_field', "$ep without $f", qr/\b\Q$f\E\b/);
    }
}

$r = $t->api('bet', {});
refused($r, 400, 'missing_field', 'bet: {}');

#
# fields of the wrong type or out of range
#

my $TWO53 = '9007199254740992';

my @bad = (
    # the player
    (map { [ $_->[0], 'player', $_->[1] ] }
     [ 'balance', '"7000000001"' ], [ 'balance', '0' ], [ 'balance', '-1' ],
     [ 'balance', '1.5' ], [ 'balance', 'true' ],
     [ 'balance', '[7000000001]' ], [ 'balance', '{}' ],
     [ 'balance', '-7000000001' ], [ 'bet', '"x"' ], [ 'ledger', '0' ]),

    # the transaction id
    (map { [ 'bet', 'tx', $_ ] }
     '""', '"' . ('a' x 65) . '"', '"bet 1"', '"bet/1"', '"bet{1}"',
     '"ставка"', '"bet\\n"', '"bet*"', '123', 'true', '["b"]'),
    [ 'win', 'tx', '""' ], [ 'rollback', 'tx', '"a b"' ],
    [ 'adjust', 'tx', '"' . ('z' x 65) . '"' ],

    # the bet a win or a rollback refers to
    [ 'win', 'bet', '""' ], [ 'win', 'bet', '"b b"' ],
    [ 'win', 'bet', '"' . ('b' x 65) . '"' ], [ 'win', 'bet', '17' ],
    [ 'rollback', 'bet', '""' ], [ 'rollback', 'bet', '"b/1"' ],

    # amounts
    (map { my $ep = $_; map { [ $ep, 'amount', $_ ] }
           '0', '-1', '1.5', '"10"', $TWO53, '18446744073709551616',
           '1e400', 'true', '[10]' } qw(bet win)),
    (map { [ 'adjust', 'amount', $_ ] }
     '0', '1.5', '-1.5', '"10"', '"-10"', $TWO53, "-$TWO53"),

    # the reason of an adjustment
    [ 'adjust', 'reason', '""' ], [ 'adjust', 'reason', '"' . ('r' x 201) . '"' ],
    [ 'adjust', 'reason', '17' ],

    # a settlement
    [ 'settle', 'withdrawal', '-1' ],
    [ 'settle', 'withdrawal', '"731400001"' ],
    [ 'settle', 'withdrawal', '1.5' ],
    [ 'settle', 'status', '"pending"' ], [ 'settle', 'status', '"cancelled"' ],
    [ 'settle', 'status', '"PAID"' ], [ 'settle', 'status', '""' ],
    [ 'settle', 'status', 'true' ],
    [ 'settle', 'reference', '""' ],
    [ 'settle', 'reference', '"' . ('r' x 129) . '"' ],
    [ 'settle', 'reference', '42' ], [ 'settle', 'reference', '"ref 1"' ],
    [ 'settle', 'reference', '"ref\"1"' ],

    # ledger paging
    [ 'ledger', 'offset', '-1' ], [ 'ledger', 'offset', '1.5' ],
    [ 'ledger', 'offset', '"0"' ],
    [ 'ledger', 'limit', '0' ], [ 'ledger', 'limit', '1001' ],
    [ 'ledger', 'limit', '-1' ], [ 'ledger', 'limit', '"10"' ],
);

my $enc = JSON::PP->new->canonical;
for my $case (@bad) {
    my ($ep, $field, $raw) = @$case;
    my %body = %{ $full{$ep} };
    delete $body{$field};
    # the field as raw JSON text after the others
    my $text = $enc->encode(\%body);
    $text =~ s/\}\z/(%body ? ',' : '') . qq("$field":$raw\})/e;
    (my $shown = $raw) =~ s/(.{40}).+/$1.../;
    $r = $t->api($ep, $text);
    refused($r, 400, 'bad_field', "$ep with $field $shown", qr/\b\Q$field\E\b/);
}

# the limits themselves are accepted
$r = $t->api('bet', { %$BET, tx => 'a' x 64, amount => 9007199254740991 });
is $r->{status}, 200, 'a bet of 2^53-1 with a 64-character tx: 200';
is $r->{json}{status}, 'refused', '... refused';
is $r->{json}{reason}, 'insufficient_funds', '... insufficient_funds';
is $w->bhd($J), '500/0/0', '... the wallet unchanged';

$r = $t->api('ledger', { player => 0 + $J, offset => 0, limit => 1000 });
is $r->{status}, 200, 'ledger with limit 1000: 200';
$r = $t->api('ledger', { player => 0 + $J, offset => 0, limit => 1 });
is $r->{status}, 200, 'ledger with limit 1: 200';

$r = $t->api('bet', { player => 0 + $J, tx => 'Az09_.:-', amount => 1 });
is $r->{status}, 200, 'a tx of every allowed kind of character: 200';
is $r->{json}{status}, 'ok', '... the bet is taken';
is $r->{json}{tx}, 'Az09_.:-', '... the tx comes back';
is $w->bhd($J), '499/0/0', '... one debited';

# nothing refused was ever written: no transaction key but the two above
my @tx = sort grep { /:tx:/ } $w->rlist('KEYS', '*');
is_deeply \@tx, [ sort "ibp:{$J}:tx:" . ('a' x 64), "ibp:{$J}:tx:Az09_.:-" ],
    'only the two accepted calls left transaction records';

$t->stop;

done_testing;
