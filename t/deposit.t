#!/usr/bin/perl

# /deposit: the invoice, the amount checks, the configured maximum, presets
# and invoice key, then the whole flow from invoice to credited wallet.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use Digest::SHA qw(hmac_sha256_base64);
use File::Temp qw(tempdir);
use JSON::PP;
use InBotPay::Test;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $PID    = 7000000001;
my $CHARGE = 'stxn0y46EX9_lFUN76XbDBFQRjR9vbtNHbvlphB_Uel8COuwe_vIL1n-qRDjsP3b'
           . 'AuI3e0we3QZ_y5OromdKTe4Domw1BNw0DWzHjfsYnC_xF9';

my $t;
my $next = 731210000;

sub rlist {
    my @r = $t->redis(@_);
    return @r == 1 && ref $r[0] eq 'ARRAY' ? @{ $r[0] } : @r;
}

sub keyset { join ' ', sort(rlist('KEYS', '*')) }

sub deposit_cmd {
    my ($text, $id) = @_;
    my $u = $t->fixture('deposit_cmd.json');
    $u->{update_id} = 0 + ($id // $next++);
    $u->{message}{text} = $text;
    $u->{message}{entities}[0]{length} = length((split / /, $text)[0]);
    return $t->update($u);
}

sub check_invoice {
    my ($r, $amount, $update_id, $name) = @_;
    my $j = $r->{json} // {};

    is $r->{status}, 200, "$name: 200";
    is $j->{method}, 'sendInvoice', "$name: sendInvoice";
    is $j->{chat_id}, $PID, "$name: chat_id";
    is $j->{title}, 'Wallet top-up', "$name: title";
    is $j->{description}, "Add $amount ⭐ to your wallet.", "$name: description";
    is $j->{currency}, 'XTR', "$name: currency XTR";
    ok exists $j->{provider_token} && defined $j->{provider_token}
       && $j->{provider_token} eq '', "$name: provider_token is \"\"";
    is ref $j->{prices}, 'ARRAY', "$name: prices is an array";
    is_deeply $j->{prices}, [ { label => 'Top-up', amount => $amount } ],
        "$name: prices";
    my $p = $j->{payload} // '';
    my $bytes = do { my $c = $p; utf8::encode($c); length $c };
    ok $bytes >= 1 && $bytes <= 128, "$name: payload is 1-128 bytes";
    like $p, qr/^1\.$PID\.$amount\.$update_id\.[A-Za-z0-9_-]{43}$/,
        "$name: payload 1.player.amount.nonce.sig";
    return $p;
}

sub bad_amount {
    my ($arg, $max) = @_;
    my $before = keyset();
    my $r = deposit_cmd("/deposit $arg");
    is $r->{status}, 200, "/deposit $arg: 200";
    is $r->{json}{method}, 'sendMessage', "/deposit $arg: sendMessage, no invoice";
    is $r->{json}{chat_id}, $PID, "/deposit $arg: chat_id";
    is $r->{json}{text}, "The amount must be a whole number from 1 to $max."
                        . ' Example: /deposit 100', "/deposit $arg: error text";
    is keyset(), $before, "/deposit $arg: no Redis key";
}

#
# default settings
#

$t = InBotPay::Test->new;

my $r = $t->update($t->fixture('deposit_cmd.json'));
my $payload = check_invoice($r, 100, 731208404, '/deposit 100');

$r = deposit_cmd('/deposit 1');
check_invoice($r, 1, $next - 1, '/deposit 1');

$r = deposit_cmd('/deposit 100000');
check_invoice($r, 100000, $next - 1, '/deposit 100000 (the maximum)');

$r = deposit_cmd('/deposit@InBotPayDemoBot 250');
check_invoice($r, 250, $next - 1, '/deposit@InBotPayDemoBot 250');

bad_amount($_, 100000) for
    '0', '-5', '1.5', 'abc', '0100', '00', '+100', '100abc', '1e3',
    '100001', '99999999999999999999', '18446744073709551617',
    '9223372036854775808';

$r = deposit_cmd('/deposit');
is $r->{status}, 200, '/deposit alone: 200';
is $r->{json}{method}, 'sendMessage', '/deposit alone: sendMessage';
is $r->{json}{chat_id}, $PID, '/deposit alone: chat_id';
is $r->{json}{text}, 'Choose an amount to deposit:', '/deposit alone: text';
is_deeply $r->{json}{reply_markup}, { inline_keyboard => [ [
    { text => '100 ⭐',  callback_data => 'dep:100' },
    { text => '500 ⭐',  callback_data => 'dep:500' },
    { text => '1000 ⭐', callback_data => 'dep:1000' },
] ] }, '/deposit alone: the preset row, no Balance button';

# the whole flow: pre_checkout_query, then successful_payment

my $q = $t->fixture('pre_checkout_query_xtr.json');
$q->{pre_checkout_query}{invoice_payload} = $payload;
$r = $t->update($q);
is $r->{status}, 200, 'pre_checkout_query: 200';
is $r->{json}{method}, 'answerPreCheckoutQuery', 'answerPreCheckoutQuery';
is $r->{json}{pre_checkout_query_id}, '854140777148461114',
    'pre_checkout_query_id';
ok JSON::PP::is_bool($r->{json}{ok}) && $r->{json}{ok}, 'ok: true';
ok !exists $r->{json}{error_message}, 'no error_message';
is $t->redis('HGET', "ibp:{$PID}:wallet", 'balance') // '0', '0',
    'no credit at pre-checkout';

my $pay = $t->fixture('successful_payment_xtr.json');
$pay->{message}{successful_payment}{invoice_payload} = $payload;
my $t0 = time;
$r = $t->update($pay);
is $r->{status}, 200, 'successful_payment: 200';
is $r->{json}{method}, 'sendMessage', 'successful_payment: sendMessage';
is $r->{json}{chat_id}, $PID, 'successful_payment: chat_id';
is $r->{json}{text}, 'Deposit of 100 ⭐ received. Your balance: 100 ⭐',
    'successful_payment: text';

my %w = rlist('HGETALL', "ibp:{$PID}:wallet");
is $w{balance}, '100', 'wallet balance 100';
is $w{held} // '0', '0', 'wallet held 0';
is $w{debt} // '0', '0', 'wallet debt 0';
is $w{seq}, '1', 'wallet seq 1';

my @ledger = rlist('LRANGE', "ibp:{$PID}:ledger", 0, -1);
is scalar @ledger, 1, 'one ledger entry';
my $e = eval { decode_json($ledger[0] // '') } // {};
is $e->{id}, 1, 'ledger: id 1';
is $e->{type}, 'deposit', 'ledger: type deposit';
is $e->{amount}, 100, 'ledger: amount 100';
is $e->{balance}, 100, 'ledger: balance 100';
is $e->{ref}, $CHARGE, 'ledger: ref is the charge id';
is $e->{update}, 731208416, 'ledger: update';
like $e->{time} // '', qr/^\d+$/, 'ledger: time is an integer';

my %c = rlist('HGETALL', "ibp:{$PID}:charge:$CHARGE");
is $c{amount}, '100', 'charge: amount';
is $c{entry}, '1', 'charge: entry';
is $c{balance}, '100', 'charge: balance';
is $c{update}, '731208416', 'charge: update';

my $ttl = $t->redis('TTL', "ibp:{$PID}:update:731208416");
ok $ttl > 172800 - 60 && $ttl <= 172800, "update key TTL is 2 days ($ttl)";

$r = $t->update($t->fixture('balance.json'));
is $r->{json}{text}, 'Your balance: 100 ⭐', '/balance after the deposit';

$t->stop;

#
# inbotpay_deposit_max, presets and a known invoice key
#

my $tmp = tempdir(CLEANUP => 1);
my $key = 'k3y-for-tests-' . join '', map { ('a' .. 'z')[rand 26] } 1 .. 24;
open my $fh, '>', "$tmp/invoice.key" or die $!;
print $fh $key;
close $fh;

$t = InBotPay::Test->new(http => "inbotpay_deposit_max 500;\n"
                                 . "inbotpay_deposit_presets 50 250;\n"
                                 . "inbotpay_invoice_secret_file $tmp/invoice.key;");

$r = deposit_cmd('/deposit 500', 731210500);
my $p500 = check_invoice($r, 500, 731210500, 'max 500: /deposit 500');

sub sig {
    my ($k, $s) = @_;
    my $b = hmac_sha256_base64($s, $k);
    $b =~ tr{+/}{-_};
    return $b;
}

is $p500, "1.$PID.500.731210500." . sig($key, "1.$PID.500.731210500.XTR"),
    'the payload signature is HMAC-SHA256 under the configured key';

bad_amount($_, 500) for '501', '100000';

$r = deposit_cmd('/deposit');
is $r->{json}{text}, 'Choose an amount to deposit:', 'presets: text';
is_deeply $r->{json}{reply_markup}, { inline_keyboard => [ [
    { text => '50 ⭐',  callback_data => 'dep:50' },
    { text => '250 ⭐', callback_data => 'dep:250' },
] ] }, 'presets: 50 and 250';

# a payload we sign ourselves with the configured key is accepted ...

my $own = "1.$PID.77.42." . sig($key, "1.$PID.77.42.XTR");
$q = $t->fixture('pre_checkout_query_xtr.json');
$q->{pre_checkout_query}{invoice_payload} = $own;
$q->{pre_checkout_query}{total_amount} = 77;
$r = $t->update($q);
ok JSON::PP::is_bool($r->{json}{ok}) && $r->{json}{ok},
    'a payload signed with the configured key: ok';

$pay = $t->fixture('successful_payment_xtr.json');
$pay->{message}{successful_payment}{invoice_payload} = $own;
$pay->{message}{successful_payment}{total_amount} = 77;
$r = $t->update($pay);
is $r->{json}{text}, 'Deposit of 77 ⭐ received. Your balance: 77 ⭐',
    'credited 77';

# ... and one signed with another key is not

my $other = "1.$PID.77.43." . sig('another key', "1.$PID.77.43.XTR");
$q->{update_id} = 731210601;
$q->{pre_checkout_query}{invoice_payload} = $other;
$r = $t->update($q);
ok JSON::PP::is_bool($r->{json}{ok}) && !$r->{json}{ok},
    'a payload signed with another key: refused';
is $r->{json}{error_message}, 'This invoice is not valid.',
    'a payload signed with another key: message';

ok index($t->error_log, $key) < 0, 'the invoice key is not in error.log';

$t->stop;

done_testing;
