#!/usr/bin/perl

# pre_checkout_query: the module's own invoice is accepted; forged or
# altered payloads, another payer, another currency and another amount are
# refused with their exact message, in the webhook reply, writing nothing.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use JSON::PP;
use Time::HiRes qw(time);
use InBotPay::Test;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $JORDAN = 7000000001;
my $MIRA   = 612345678;

my $t = InBotPay::Test->new;
my $next = 731220000;

sub rlist {
    my @r = $t->redis(@_);
    return @r == 1 && ref $r[0] eq 'ARRAY' ? @{ $r[0] } : @r;
}

sub snapshot {
    my %s;
    for my $k (rlist('KEYS', '*')) {
        my $type = $t->redis('TYPE', $k);
        $s{$k} = $type eq 'hash'   ? join(',', sort(rlist('HGETALL', $k)))
               : $type eq 'list'   ? join(',', rlist('LRANGE', $k, 0, -1))
               : $type eq 'string' ? $t->redis('GET', $k)
               :                     $type;
    }
    return \%s;
}

sub invoice {
    my ($pid, $name, $amount) = @_;
    my $u = $t->fixture('deposit_cmd.json');
    $u->{update_id} = 0 + $next++;
    $u->{message}{from}{id} = $u->{message}{chat}{id} = 0 + $pid;
    $u->{message}{from}{first_name} = $u->{message}{chat}{first_name} = $name;
    $u->{message}{text} = "/deposit $amount";
    my $r = $t->update($u);
    is $r->{json}{method}, 'sendInvoice', "invoice for $name, $amount";
    return $r->{json}{payload};
}

sub pcq {
    my (%o) = @_;
    my $u = $t->fixture($o{fixture} // 'pre_checkout_query_xtr.json');
    $u->{update_id} = 0 + $next++;
    my $q = $u->{pre_checkout_query};
    $q->{invoice_payload} = $o{payload};
    $q->{total_amount} = 0 + $o{amount} if defined $o{amount};
    $q->{from}{id} = 0 + $o{from} if defined $o{from};
    $q->{currency} = $o{currency} if defined $o{currency};
    return ($u, $q->{id});
}

sub answer {
    my ($name, $u, $qid, $error) = @_;
    my $before = snapshot();
    my $t0 = time;
    my $r = $t->update($u);
    my $dt = time - $t0;
    my $j = $r->{json} // {};

    is $r->{status}, 200, "$name: 200";
    is $j->{method}, 'answerPreCheckoutQuery', "$name: answerPreCheckoutQuery";
    is $j->{pre_checkout_query_id}, $qid, "$name: pre_checkout_query_id";
    ok JSON::PP::is_bool($j->{ok}), "$name: ok is a JSON boolean";
    if (defined $error) {
        ok !$j->{ok}, "$name: ok false";
        is $j->{error_message}, $error, "$name: error_message";
        is_deeply snapshot(), $before, "$name: nothing written to Redis";
    } else {
        ok $j->{ok}, "$name: ok true";
        ok !exists $j->{error_message}, "$name: no error_message";
    }
    cmp_ok $dt, '<', 2, "$name: answered at once";
}

my $NOT_VALID = 'This invoice is not valid.';

my $p100 = invoice($JORDAN, 'Jordan', 100);
like $p100, qr/^1\.7000000001\.100\.\d+\.[A-Za-z0-9_-]{43}$/,
    'the payload has the documented shape';
my ($v, $pid, $amount, $nonce, $sig) = split /\./, $p100;

# the module's own invoice

answer('own invoice', pcq(payload => $p100), undef);

# forged: the placeholder, empty, garbage, too long

answer('"PAYLOAD" as in the fixture', pcq(payload => 'PAYLOAD'), $NOT_VALID);
answer('empty payload', pcq(payload => ''), $NOT_VALID);
answer('payload without a signature',
       pcq(payload => "1.$pid.$amount.$nonce"), $NOT_VALID);
answer('payload with an empty signature',
       pcq(payload => "1.$pid.$amount.$nonce."), $NOT_VALID);
answer('payload with an extra field',
       pcq(payload => "$p100.x"), $NOT_VALID);
answer('payload of 200 bytes', pcq(payload => 'A' x 200), $NOT_VALID);

# altered: one character of the signature

(my $s1 = $sig) =~ s/^(.)/$1 eq 'A' ? 'B' : 'A'/e;
answer('first character of the signature changed',
       pcq(payload => "1.$pid.$amount.$nonce.$s1"), $NOT_VALID);

(my $s2 = $sig) =~ s/(.)$/$1 eq 'A' ? 'B' : 'A'/e;
answer('last character of the signature changed',
       pcq(payload => "1.$pid.$amount.$nonce.$s2"), $NOT_VALID);

my $mid = int(length($sig) / 2);
(my $s3 = $sig) =~ s/^(.{$mid})(.)/$1 . ($2 eq '-' ? '_' : '-')/e;
answer('a middle character of the signature changed',
       pcq(payload => "1.$pid.$amount.$nonce.$s3"), $NOT_VALID);

answer('signature in another base64 alphabet',
       pcq(payload => "1.$pid.$amount.$nonce." . ($sig =~ tr{-_}{+/}r)
                      . ($sig =~ /[-_]/ ? '' : '=')), $NOT_VALID);

# altered: the fields under the signature

answer('amount changed inside the payload',
       pcq(payload => "1.$pid.1000.$nonce.$sig", amount => 1000), $NOT_VALID);
answer('amount with a leading zero inside the payload',
       pcq(payload => "1.$pid.0100.$nonce.$sig", amount => 100), $NOT_VALID);
answer('nonce changed inside the payload',
       pcq(payload => "1.$pid.$amount." . ($nonce + 1) . ".$sig"), $NOT_VALID);
answer('version changed inside the payload',
       pcq(payload => "2.$pid.$amount.$nonce.$sig"), $NOT_VALID);
answer('player changed inside the payload (to the payer)',
       pcq(payload => "1.$MIRA.$amount.$nonce.$sig", from => $MIRA), $NOT_VALID);
answer('player 7000000001 + 2^32 inside the payload',
       pcq(payload => "1.11294967297.$amount.$nonce.$sig",
           from => 11294967297), $NOT_VALID);

# a valid invoice, but not for this query

answer('payer other than the invoice player',
       pcq(payload => $p100, from => $MIRA),
       'This invoice was issued to another player.');
answer('payer 7000000001 + 2^32',
       pcq(payload => $p100, from => 11294967297),
       'This invoice was issued to another player.');

answer('total_amount 200 for an invoice of 100',
       pcq(payload => $p100, amount => 200),
       'The amount does not match the invoice.');
answer('total_amount 99 for an invoice of 100',
       pcq(payload => $p100, amount => 99),
       'The amount does not match the invoice.');

my $p2000 = invoice($MIRA, 'Mira', 2000);
answer('EUR (pre_checkout_query_fiat.json)',
       pcq(fixture => 'pre_checkout_query_fiat.json', payload => $p2000),
       'This invoice is in the wrong currency.');
answer('the same invoice in XTR',
       pcq(payload => $p2000, from => $MIRA, amount => 2000), undef);

# nothing was credited by any of this

is $t->redis('HGET', 'ibp:{7000000001}:wallet', 'balance') // '0', '0',
   'Jordan has no credit';
is $t->redis('HGET', 'ibp:{612345678}:wallet', 'balance') // '0', '0',
   'Mira has no credit';

$t->stop;

done_testing;
