#!/usr/bin/perl

# A body larger than client_body_buffer_size (16k) is written by nginx to
# a temporary file; the module reads it from there: a padded payment is
# credited exactly once, a padded /balance is answered.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use JSON::PP;
use InBotPay::Test;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $PID    = 7000000001;
my $CHARGE = 'stxn0y46EX9_lFUN76XbDBFQRjR9vbtNHbvlphB_Uel8COuwe_vIL1n-qRDjsP3b'
           . 'AuI3e0we3QZ_y5OromdKTe4Domw1BNw0DWzHjfsYnC_xF9';
my $JSON   = JSON::PP->new->utf8->canonical;

my $t = InBotPay::Test->new;

sub rlist {
    my @r = $t->redis(@_);
    return @r == 1 && ref $r[0] eq 'ARRAY' ? @{ $r[0] } : @r;
}

# Puts unknown fields before and inside the update, so the fields the
# module needs sit well past the first 16k, and multi-byte characters
# straddle buffer edges.
sub padded {
    my ($u) = @_;
    my $kind = (grep { $_ ne 'update_id' } keys %$u)[0];
    $u->{$kind}{zz_future_blob} = [ map { "⭐ $_ " . ('é' x 997) } 1 .. 40 ];
    my $json = $JSON->encode($u);
    my $pad = '{"aa_future_padding":"' . ('x' x 100_000) . '",'
            . '"ab_future_stars":"' . ('⭐' x 20_000) . '",';
    utf8::encode($pad);
    return $pad . substr($json, 1);
}

my $dep = $t->update($t->fixture('deposit_cmd.json'));
is $dep->{json}{method}, 'sendInvoice', 'an invoice';

my $pay = $t->fixture('successful_payment_xtr.json');
$pay->{message}{successful_payment}{invoice_payload} = $dep->{json}{payload};
my $body = padded($pay);
cmp_ok length $body, '>', 200_000, 'the padded payment is over 200 KB';
cmp_ok index($body, 'telegram_payment_charge_id'), '>', 150_000,
    'the charge id sits past 150 KB';

my $log0 = length $t->error_log;

my $r = $t->update($body);
is $r->{status}, 200, 'padded successful_payment: 200';
is $r->{json}{chat_id}, $PID, 'padded successful_payment: chat_id';
is $r->{json}{text}, 'Deposit of 100 ⭐ received. Your balance: 100 ⭐',
    'padded successful_payment: credited';

like substr($t->error_log, $log0),
    qr/a client request body is buffered to a temporary file/,
    'nginx did buffer the body to a file';

$r = $t->update($body);
is $r->{status}, 200, 'the padded payment again: 200';
is $r->{json}{text}, 'Deposit of 100 ⭐ received. Your balance: 100 ⭐',
    'the padded payment again: same answer';

is $t->redis('HGET', "ibp:{$PID}:wallet", 'balance'), '100', 'balance 100';
my @l = rlist('LRANGE', "ibp:{$PID}:ledger", 0, -1);
is scalar @l, 1, 'one ledger entry';
my $e = eval { decode_json($l[0]) } // {};
is $e->{ref}, $CHARGE, 'the ledger entry names the charge';
is $e->{amount}, 100, 'the ledger entry: amount 100';

# a padded /balance, and a padded /start whose name must come through

my $bal = $t->fixture('balance.json');
$bal->{update_id} = 731260001;
$r = $t->update(padded($bal));
is $r->{status}, 200, 'padded /balance: 200';
is $r->{json}{text}, 'Your balance: 100 ⭐', 'padded /balance: text';

my $start = $t->fixture('start.json');
$start->{update_id} = 731260002;
$start->{message}{from}{first_name} = 'Йордан ⭐';
$r = $t->update(padded($start));
is $r->{status}, 200, 'padded /start: 200';
is $r->{json}{text}, "Welcome, Йордан ⭐!\nYour balance: 100 ⭐",
    'padded /start: the name read from the file';

# just under and just over the 1m limit

my $near = $t->fixture('balance.json');
$near->{update_id} = 731260003;
my $json = $JSON->encode($near);
my $fill = 1024 * 1024 - length($json) - length('"zz":"",') - 1;
(my $under = $json) =~ s/^\{/'{"zz":"' . ('z' x $fill) . '",'/e;
is length $under, 1024 * 1024 - 1, 'a body of 1m - 1 bytes';
$r = $t->update($under);
is $r->{status}, 200, '1m - 1 bytes: 200';
is $r->{json}{text}, 'Your balance: 100 ⭐', '1m - 1 bytes: answered';

(my $over = $json) =~ s/^\{/'{"zz":"' . ('z' x ($fill + 2)) . '",'/e;
$r = $t->update($over);
is $r->{status}, 413, '1m + 1 bytes: 413';

$t->stop;

done_testing;
