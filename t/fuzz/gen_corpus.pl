#!/usr/bin/perl

# Writes the seed corpora of the fuzz harnesses that are not copies of the
# Telegram fixtures into t/fuzz/corpus/<name>/ (run from the repository
# root).  The invoice payloads are signed with the harness's fixed key,
# "0123456789abcdef0123456789abcdef", as the module signs them.
#
#     perl t/fuzz/gen_corpus.pl

use strict;
use warnings;
use Digest::SHA qw(hmac_sha256 hmac_sha256_hex);
use File::Path qw(make_path);
use MIME::Base64 qw(encode_base64);

my $KEY = '0123456789abcdef0123456789abcdef';
my $DIR = 't/fuzz/corpus';

sub put {
    my ($name, $file, $bytes) = @_;
    make_path("$DIR/$name");
    open my $fh, '>:raw', "$DIR/$name/$file" or die "$DIR/$name/$file: $!\n";
    print $fh $bytes;
    close $fh or die "$DIR/$name/$file: $!\n";
}

sub payload {
    my ($player, $amount, $nonce, $currency) = @_;
    my $p = "1.$player.$amount.$nonce.";
    my $sig = encode_base64(hmac_sha256($p . $currency, $KEY), '');
    $sig =~ tr{+/}{-_};
    $sig =~ s/=+$//;
    return $p . $sig;
}

# amounts: a byte that picks the maximum (0: INT64_MAX, 8: 100, 9: 10000,
# 16: the next 8 bytes), then the text

my %amounts = (
    one      => "\x00" . '1',
    hundred  => "\x08" . '100',
    over     => "\x08" . '101',
    int64max => "\x00" . '9223372036854775807',
    overflow => "\x00" . '9223372036854775808',
    twenty   => "\x00" . '99999999999999999999',
    zero     => "\x00" . '0',
    lead0    => "\x00" . '0100',
    sign     => "\x00" . '+5',
    neg      => "\x00" . '-5',
    space    => "\x09" . ' 50',
    frac     => "\x09" . '12.5',
    exp      => "\x09" . '1e3',
    own_max  => "\x10" . pack('q<', 5000) . '4999',
    neg_max  => "\x10" . pack('q<', -1) . '1',
    empty    => "\x00",
);
put('amount', $_, $amounts{$_}) for keys %amounts;

# commands: a byte that picks the username (0: none, 1: InBotPayBot), then
# the text

my %commands = (
    start      => "\x00/start",
    start_deep => "\x00/start ref_12345",
    at_bot     => "\x01/deposit\@InBotPayBot 100",
    at_lower   => "\x01/deposit\@inbotpaybot  100 \n",
    at_other   => "\x01/deposit\@OtherBot 100",
    at_empty   => "\x01/balance\@",
    at_noname  => "\x00/balance\@AnyBot",
    send       => "\x00/send 7000000002 250",
    tabs       => "\x00/help\t\targs\t",
    newline    => "\x00/withdraw\n500",
    not_cmd    => "\x00hello /start",
    slash      => "\x00/",
    long       => "\x00/" . ('a' x 32) . ' x',
    too_long   => "\x00/" . ('a' x 33),
    bad_char   => "\x00/st-art",
    unicode    => "\x00/start \xd0\x9d\xd0\xb0\xd1\x81\xd1\x82\xd1\x8f",
    cr         => "\x00/start\r\n",
);
put('command', $_, $commands{$_}) for keys %commands;

# payloads: mode 0 then a payload to verify, or mode 1 then the player,
# amount and nonce (8 bytes each), a currency byte and one change (kind,
# position, byte)

my %payloads = (
    xtr        => "\x00" . payload(7000000001, 100, 731208404, 'XTR'),
    xtr_nonce0 => "\x00" . payload(1, 1, 0, 'XTR'),
    big        => "\x00" . payload('9223372036854775807',
                                   '9223372036854775807',
                                   '9223372036854775807', 'XTR'),
    usd        => "\x00" . payload(42, 2500, 17, 'USD'),
    forged     => "\x00" . '1.7000000001.100.731208404.'
                         . ('A' x 43),
    short      => "\x00" . '1.',
    version2   => "\x00" . '2.1.1.1.' . ('A' x 43),
    rt_replace => "\x01" . pack('q<q<q<', 7000000001, 100, 731208404)
                         . "\x00\x00\x05x",
    rt_insert  => "\x01" . pack('q<q<q<', 1, 1, 0) . "\x01\x01\x02" . '0',
    rt_delete  => "\x01" . pack('q<q<q<', 42, 2500, 17) . "\x01\x02\x30\x00",
    rt_cut     => "\x01" . pack('q<q<q<', 9, 9, 9) . "\x02\x03\x20\x00",
    rt_neg     => "\x01" . pack('q<q<q<', -1, 100, 5) . "\x00\x00\x00\x00",
);
put('payload', $_, $payloads{$_}) for keys %payloads;

# API signatures: key length, timestamp length, signature length, 8 bytes
# of case mixing, then the key, the timestamp, the signature and the body

sub api {
    my ($key, $ts, $sig, $body) = @_;
    return pack('CCC', length $key, length $ts, length $sig)
         . "\x55" x 8 . $key . $ts . $sig . $body;
}

my $akey = 'K' x 32;
my $ts = '1780300444';
my $body = '{"player":7000000001,"amount":100}';
my $good = hmac_sha256_hex("$ts.$body", $akey);

my %sigs = (
    good      => api($akey, $ts, $good, $body),
    upper     => api($akey, $ts, uc $good, $body),
    bad       => api($akey, $ts, '0' x 64, $body),
    short     => api($akey, $ts, substr($good, 0, 63), $body),
    empty     => api('', '', hmac_sha256_hex('.', ''), ''),
    long_body => api($akey, $ts, hmac_sha256_hex("$ts." . ('x' x 300), $akey),
                     'x' x 300),
);
put('api_sig', $_, $sigs{$_}) for keys %sigs;

# odd Telegram bodies, next to the fixtures copied by run.sh

my %updates = (
    empty_obj     => '{}',
    not_obj       => '[1,2,3]',
    number        => '42',
    neg_id        => '{"update_id":-1}',
    big_id        => '{"update_id":92233720368547758070}',
    float_id      => '{"update_id":1.5}',
    str_id        => '{"update_id":"1"}',
    dup_message   => '{"update_id":1,"message":{"text":"a"},'
                   . '"message":{"text":"b","chat":{"id":1,"type":"x"}}}',
    two_kinds     => '{"update_id":1,"callback_query":{"id":"q","data":"bal"},'
                   . '"message":{"text":"/start"}}',
    surrogate     => '{"update_id":1,"message":{"text":"\udc00\ud800x",'
                   . '"from":{"id":1,"first_name":"\ud83e\udd8a"}}}',
    escapes       => '{"update_id":1,"message":{"text":"\u0000\n\"\\\\\/"}}',
    deep_unknown  => '{"update_id":1,"x":' . ('[' x 50) . ('{"a":' x 20)
                   . '1' . ('}' x 20) . (']' x 50) . '}',
    truncated     => '{"update_id":1,"message":{"text":"abc',
    trailing      => '{"update_id":1} {}',
    comment       => '{"update_id":1 /* x */}',
    bad_utf8      => qq({"update_id":1,"message":{"text":"\xc0\xaf\xff"}}),
    null_fields   => '{"update_id":1,"message":null,"callback_query":null}',
    wrong_types   => '{"update_id":1,"message":{"chat":[],"text":5}}',
    checkout      => '{"update_id":3,"pre_checkout_query":{"id":"1",'
                   . '"from":{"id":7,"is_bot":false,"first_name":"A"},'
                   . '"currency":"XTR","total_amount":100,"invoice_payload":"'
                   . payload(7, 100, 3, 'XTR') . '"}}',
);
put('update', $_, $updates{$_}) for keys %updates;

# fixtures cut short, in the middle and just before the end

for my $f (qw(successful_payment_xtr callback_query pre_checkout_query_xtr
              unicode_names)) {
    open my $fh, '<:raw', "t/fixtures/telegram/$f.json"
        or die "t/fixtures/telegram/$f.json: $!\n";
    my $json = do { local $/; <$fh> };
    close $fh;
    $json =~ s/\s+\z//;
    put('update', "${f}_half", substr($json, 0, int(length($json) / 2)));
    put('update', "${f}_cut", substr($json, 0, length($json) - 1));
}
