#!/usr/bin/perl

# successful_payment credits once per telegram_payment_charge_id: repeated
# updates, the same charge under a new update_id, concurrent duplicates on
# two workers; different charges credit; forged payloads do not; players
# whose ids differ by 2^32 keep separate wallets.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use InBotPay::Test;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $JORDAN = 7000000001;
my $CHARGE = 'stxn0y46EX9_lFUN76XbDBFQRjR9vbtNHbvlphB_Uel8COuwe_vIL1n-qRDjsP3b'
           . 'AuI3e0we3QZ_y5OromdKTe4Domw1BNw0DWzHjfsYnC_xF9';

my $t = InBotPay::Test->new(workers => 2);
my $next = 731230000;

sub rlist {
    my @r = $t->redis(@_);
    return @r == 1 && ref $r[0] eq 'ARRAY' ? @{ $r[0] } : @r;
}

sub balance { $t->redis('HGET', "ibp:{$_[0]}:wallet", 'balance') // '0' }

sub ledger {
    return map { decode_json($_) } rlist('LRANGE', "ibp:{$_[0]}:ledger", 0, -1);
}

sub invoice {
    my ($pid, $amount) = @_;
    my $u = $t->fixture('deposit_cmd.json');
    $u->{update_id} = 0 + $next++;
    $u->{message}{from}{id} = $u->{message}{chat}{id} = 0 + $pid;
    $u->{message}{text} = "/deposit $amount";
    my $r = $t->update($u);
    is $r->{json}{method}, 'sendInvoice', "invoice for $pid, $amount";
    return $r->{json}{payload};
}

sub payment {
    my ($pid, $amount, $payload, $charge, $update_id) = @_;
    my $u = $t->fixture('successful_payment_xtr.json');
    $u->{update_id} = 0 + ($update_id // $next++);
    $u->{message}{from}{id} = $u->{message}{chat}{id} = 0 + $pid;
    my $sp = $u->{message}{successful_payment};
    $sp->{total_amount} = 0 + $amount;
    $sp->{invoice_payload} = $payload;
    $sp->{telegram_payment_charge_id} = $charge;
    return $u;
}

sub credited {
    my ($r, $pid, $amount, $balance, $name) = @_;
    is $r->{status}, 200, "$name: 200";
    is $r->{json}{method}, 'sendMessage', "$name: sendMessage";
    is $r->{json}{chat_id}, $pid, "$name: chat_id";
    is $r->{json}{text},
        "Deposit of $amount ⭐ received. Your balance: $balance ⭐",
        "$name: text";
}

# 1. the same update twice

my $p = invoice($JORDAN, 100);
my $pay = payment($JORDAN, 100, $p, $CHARGE, 731208416);

my $r1 = $t->update($pay);
credited($r1, $JORDAN, 100, 100, 'first delivery');
my $r2 = $t->update($pay);
credited($r2, $JORDAN, 100, 100, 'second delivery of the same update');
is $r2->{content}, $r1->{content}, 'second delivery: the same answer';
is balance($JORDAN), '100', 'one credit: balance 100';
is scalar(my @l = ledger($JORDAN)), 1, 'one ledger entry';

# 2. the same charge under a new update_id, after another deposit: the
# reply still carries the balance recorded at the first credit

my $p50 = invoice($JORDAN, 50);
credited($t->update(payment($JORDAN, 50, $p50, 'stxSECOND' . 'b' x 100)),
         $JORDAN, 50, 150, 'another charge');

my $r3 = $t->update(payment($JORDAN, 100, $p, $CHARGE));
credited($r3, $JORDAN, 100, 100,
         'the first charge under a new update_id: the first outcome');
is balance($JORDAN), '150', 'no second credit: balance 150';
is scalar(@l = ledger($JORDAN)), 2, 'two ledger entries';

# 3. one invoice paid twice: two charges, two credits

credited($t->update(payment($JORDAN, 100, $p, 'stxTHIRD' . 'c' x 100)),
         $JORDAN, 100, 250, 'the same invoice paid again with a new charge');
is balance($JORDAN), '250', 'balance 250';

@l = ledger($JORDAN);
is_deeply [ map { $_->{id} } @l ], [ 1, 2, 3 ], 'ledger ids 1, 2, 3';
is_deeply [ map { $_->{amount} } @l ], [ 100, 50, 100 ], 'ledger amounts';
is_deeply [ map { $_->{balance} } @l ], [ 100, 150, 250 ], 'ledger balances';
is_deeply [ map { $_->{type} } @l ], [ ('deposit') x 3 ], 'ledger types';
is $t->redis('HGET', "ibp:{$JORDAN}:wallet", 'seq'), '3', 'wallet seq 3';

# 4. forged payloads credit nothing

my $MISMATCH = 'This payment could not be matched to an invoice. '
             . 'Support has been notified.';
my $log0 = length $t->error_log;
my @keys = sort(rlist('KEYS', '*'));

my $forged = $t->fixture('successful_payment_xtr.json');
$forged->{update_id} = 0 + $next++;
$forged->{message}{successful_payment}{telegram_payment_charge_id} =
    'stxFORGED' . 'd' x 100;
my $r = $t->update($forged);
is $r->{status}, 200, '"PAYLOAD": 200';
is $r->{json}{method}, 'sendMessage', '"PAYLOAD": sendMessage';
is $r->{json}{chat_id}, $JORDAN, '"PAYLOAD": chat_id';
is $r->{json}{text}, $MISMATCH, '"PAYLOAD": the could-not-be-matched text';

(my $altered = $p) =~ s/\.100\./.1000./;
$r = $t->update(payment($JORDAN, 1000, $altered, 'stxALTERED' . 'e' x 100));
is $r->{json}{text}, $MISMATCH, 'amount altered in the payload: refused';

$r = $t->update(payment($JORDAN, 300, $p, 'stxAMOUNT' . 'f' x 100));
is $r->{json}{text}, $MISMATCH, 'total_amount other than the invoice: refused';

$r = $t->update(payment(612345678, 100, $p, 'stxPAYER' . 'g' x 100));
is $r->{json}{text}, $MISMATCH, 'payer other than the invoice player: refused';
is $r->{json}{chat_id}, 612345678, 'payer other: told in the payer\'s chat';

my $eur = payment($JORDAN, 100, $p, 'stxEUR' . 'h' x 100);
$eur->{message}{successful_payment}{currency} = 'EUR';
$r = $t->update($eur);
is $r->{json}{text}, $MISMATCH, 'currency EUR: refused';

is balance($JORDAN), '250', 'refused payments: balance still 250';
is scalar(@l = ledger($JORDAN)), 3, 'refused payments: no ledger entry';
is balance(612345678), '0', 'refused payments: the other payer has nothing';

my @after = grep { !/:update:/ } sort(rlist('KEYS', '*'));
is_deeply \@after, [ grep { !/:update:/ } @keys ],
    'refused payments: no charge or wallet key';

my $log = substr $t->error_log, $log0;
my @lines = grep { /\[(?:error|warn)\]/ && /7000000001/ } split /\n/, $log;
cmp_ok scalar @lines, '>=', 1,
    'the refused payments are in error.log with the player id';

# 5. concurrent duplicates on two workers

my $tmp = tempdir(CLEANUP => 1);
my $url = 'http://127.0.0.1:' . $t->port . '/tg/webhook';
my %hdr = ('Content-Type' => 'application/json',
           'X-Telegram-Bot-Api-Secret-Token' => $t->secret);

sub burst {
    my (@bodies) = @_;
    pipe my $rd, my $wr or die "pipe: $!";
    my @kids;
    for my $i (0 .. $#bodies) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $wr;
            my $go = <$rd>;
            my $res = HTTP::Tiny->new(timeout => 15)->request('POST', $url,
                { headers => \%hdr, content => $bodies[$i] });
            open my $fh, '>:raw', "$tmp/$$.res";
            print $fh "$res->{status}\n$res->{content}";
            close $fh;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    close $rd;
    close $wr;
    my @res;
    for my $pid (@kids) {
        waitpid $pid, 0;
        open my $fh, '<:raw', "$tmp/$pid.res" or do { push @res, [0, '']; next };
        local $/;
        my ($status, $content) = split /\n/, <$fh>, 2;
        push @res, [ $status, $content // '' ];
    }
    return @res;
}

my $JSON = JSON::PP->new->utf8->canonical;
my $K = 6000000042;

my $pk = invoice($K, 100);
my $dup = $JSON->encode(payment($K, 100, $pk, 'stxPARALLEL' . 'p' x 100));
my @res = burst(($dup) x 20);

is scalar(grep { $_->[0] == 200 } @res), 20, '20 concurrent duplicates: all 200';
my %answers = map { $_->[1] => 1 } @res;
is scalar(keys %answers), 1, '20 concurrent duplicates: one answer text';
my $ans = eval { decode_json((keys %answers)[0]) } // {};
is $ans->{text}, 'Deposit of 100 ⭐ received. Your balance: 100 ⭐',
    '20 concurrent duplicates: the text';
is balance($K), '100', '20 concurrent duplicates: one credit';
is scalar(@l = ledger($K)), 1, '20 concurrent duplicates: one ledger entry';

# the same charge under 10 different update_ids, concurrently
my $charge = 'stxPARALLEL2' . 'q' x 100;
@res = burst(map { $JSON->encode(payment($K, 100, $pk, $charge)) } 1 .. 10);
is scalar(grep { $_->[0] == 200 } @res), 10,
    'one charge under 10 update_ids: all 200';
is scalar(keys %{{ map { $_->[1] => 1 } @res }}), 1,
    'one charge under 10 update_ids: one answer';
is balance($K), '200', 'one charge under 10 update_ids: one credit';

# 10 different charges concurrently: all credited, ledger consistent
@res = burst(map { $JSON->encode(payment($K, 100, $pk, "stxMANY$_" . 'r' x 100)) }
             1 .. 10);
is scalar(grep { $_->[0] == 200 } @res), 10, '10 different charges: all 200';
is balance($K), '1200', '10 different charges: balance 1200';
@l = ledger($K);
is scalar @l, 12, '12 ledger entries';
is_deeply [ map { $_->{id} } @l ], [ 1 .. 12 ], 'ledger ids 1..12 in order';
is_deeply [ map { $_->{balance} } @l ], [ map { $_ * 100 } 1 .. 12 ],
    'ledger balances step by 100';
my $sum = 0;
$sum += $_->{amount} for @l;
is $sum, 1200, 'the ledger sums to the balance';
my %texts = map { (eval { decode_json($_->[1])->{text} } // '') => 1 } @res;
is_deeply [ sort { ($a =~ /(\d+) ⭐\z/)[0] <=> ($b =~ /(\d+) ⭐\z/)[0] }
            keys %texts ],
    [ map { 'Deposit of 100 ⭐ received. Your balance: ' . $_ * 100 . ' ⭐' }
      3 .. 12 ],
    '10 different charges: each answer carries its own balance';

# 6. ids that differ by 2^32

my %amount = (7000000001 => 1000, 11294967297 => 2000, 2705032705 => 4000);
my $base = balance(7000000001);
for my $pid (sort keys %amount) {
    my $pp = invoice($pid, $amount{$pid});
    like $pp, qr/^1\.$pid\.$amount{$pid}\./, "payload names player $pid";
    my $r = $t->update(payment($pid, $amount{$pid}, $pp, "stx2P32$pid" . 's' x 90));
    is $r->{json}{chat_id}, $pid, "player $pid: reply to its own chat";
}
is balance(7000000001), $base + 1000, '7000000001: its own deposit only';
is balance(11294967297), '2000', '11294967297: its own wallet';
is balance(2705032705), '4000', '2705032705: its own wallet';

$t->stop;

done_testing;
