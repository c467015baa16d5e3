#!/usr/bin/perl

# The money scripts are sent as EVALSHA; when Redis has lost them (a
# restart without the cache, a failover, SCRIPT FLUSH) the module resends
# the script once as EVAL, and the update is handled as if nothing had
# happened.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use InBotPay::Test;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $PID = 7000000001;

my $t = InBotPay::Test->new();

my $u = $t->fixture('deposit_cmd.json');
$u->{update_id} = $t->next_update_id;
my $invoice = $t->update($u);
is $invoice->{json}{method}, 'sendInvoice', 'an invoice to pay';

my @loaded = @{ ($t->redis('SCRIPT', 'EXISTS', script_shas()))[0] };
is scalar(grep { $_ } @loaded), scalar(@loaded),
    'every script was loaded on connect';

is $t->redis('SCRIPT', 'FLUSH'), 'OK', 'SCRIPT FLUSH';

my ($pre, $pay) = $t->pay($invoice->{json},
                          charge_id => 'stx-scripts-flushed-1');
my $r = $t->update($pay);
is $r->{status}, 200, 'payment after SCRIPT FLUSH: 200';
is $r->{json}{text}, 'Deposit of 100 ⭐ received. Your balance: 100 ⭐',
    'payment after SCRIPT FLUSH: credited';
is $t->redis('HGET', "ibp:{$PID}:wallet", 'balance'), '100',
    'payment after SCRIPT FLUSH: balance 100';

$r = $t->update($pay);
is $r->{json}{text}, 'Deposit of 100 ⭐ received. Your balance: 100 ⭐',
    'the same payment again: the first answer';
is $t->redis('LLEN', "ibp:{$PID}:ledger"), 1, 'one ledger entry';

is $t->redis('SCRIPT', 'FLUSH'), 'OK', 'SCRIPT FLUSH again';

$u = $t->fixture('start.json');
$u->{update_id} = $t->next_update_id;
$r = $t->update($u);
is $r->{status}, 200, '/start after SCRIPT FLUSH: 200';
is $r->{json}{text}, "Welcome, Jordan!\nYour balance: 100 ⭐",
    '/start after SCRIPT FLUSH: welcome with the balance';

unlike $t->error_log, qr/NOSCRIPT|refused a script/,
    'no script error reached the log';

$t->stop;

done_testing;


# the SHA1 of each script as the module sends it: the shared part in
# redis/ledger.lua followed by the script's own file
sub script_shas {
    require Digest::SHA;

    my $read = sub {
        open my $fh, '<:raw', "redis/$_[0].lua" or die "redis/$_[0].lua: $!";
        local $/;
        return scalar <$fh>;
    };

    my $prelude = $read->('ledger');

    return map { Digest::SHA::sha1_hex($prelude . $read->($_)) }
        qw(start deposit withdraw settle offer transfer refund game);
}
