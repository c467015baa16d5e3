#!/usr/bin/perl

# Every shared fixture, sent byte for byte as stored, parses; the odd ones
# (a NUL in a name, surrogate pairs, unknown fields, a command addressed to
# a bot by name, an edited message) get the right answer.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use Encode ();
use JSON::PP;
use InBotPay::Test;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $dir = 't/fixtures/telegram';

sub slurp {
    my ($f) = @_;
    open my $fh, '<:raw', "$dir/$f" or die "$dir/$f: $!";
    local $/;
    return <$fh>;
}

sub rlist {
    my ($t, @cmd) = @_;
    my @r = $t->redis(@cmd);
    return @r == 1 && ref $r[0] eq 'ARRAY' ? @{ $r[0] } : @r;
}

my $t = InBotPay::Test->new;

# 1. no fixture is refused as malformed

opendir my $dh, $dir or die "$dir: $!";
my @files = sort grep { /\.json\z/ } readdir $dh;
closedir $dh;
cmp_ok scalar @files, '>=', 23, 'all the fixtures are there';

# the payment fixtures carry "PAYLOAD" and would be refused on purpose;
# they are sent too: a refusal is a 200 with a reply, never a 400
for my $f (@files) {
    my $r = $t->update(slurp($f));
    is $r->{status}, 200, "$f: 200";
}

# 2. the NUL and the 4-byte characters

my $uni = slurp('unicode_names.json');
$uni =~ s/"update_id": 731208422/"update_id": 731208522/ or die;
my $r = $t->update($uni);
is $r->{status}, 200, 'unicode_names.json: 200';
is $r->{json}{method}, 'sendMessage', 'unicode_names.json: sendMessage';
is $r->{json}{chat_id}, 5550001234, 'unicode_names.json: reply to 5550001234';
is $r->{json}{text}, 'Your balance: 0 ⭐', 'unicode_names.json: balance text';

my $name = "Настя 🦊\x{200F}ليلى";
my $start = slurp('unicode_names.json');
$start =~ s/"update_id": 731208422/"update_id": 731208523/ or die;
$start =~ s{"text": "/balance"}{"text": "/start"} or die;
$start =~ s{"length": 8}{"length": 6} or die;
$r = $t->update($start);
is $r->{status}, 200, '/start by the unicode name: 200';
is $r->{json}{chat_id}, 5550001234, '/start by the unicode name: chat_id';
like $r->{json}{text}, qr/\AWelcome, \Q$name\E/,
    '/start: the name survives past the emoji, the RTL mark and Arabic';
like $r->{json}{text}, qr/!\nYour balance: 0 ⭐\z/,
    '/start: the text goes on after the NUL';
my $stored = $t->redis('HGET', 'ibp:{5550001234}:player', 'first_name');
ok defined $stored
   && index($stored, Encode::encode_utf8($name)) == 0,
    'the player hash keeps the UTF-8 name';

# 3. unknown fields are ignored

$r = $t->update(slurp('unknown_fields.json'));
is $r->{status}, 200, 'unknown_fields.json: 200';
is $r->{json}{method}, 'sendMessage', 'unknown_fields.json: sendMessage';
is $r->{json}{chat_id}, 7000000001, 'unknown_fields.json: chat_id';
is $r->{json}{text}, 'Your balance: 0 ⭐', 'unknown_fields.json: balance text';

# 4. a command addressed to a bot by name, in a supergroup

my $cmd = $t->fixture('command_with_botname.json');
$cmd->{update_id} = 731208610;
$r = $t->update($cmd);
is $r->{status}, 200, '/balance@InBotPayDemoBot: 200';
is $r->{json}{method}, 'sendMessage', '/balance@InBotPayDemoBot: sendMessage';
is $r->{json}{chat_id}, -1001234567890,
    '/balance@InBotPayDemoBot: answered in the supergroup';
is $r->{json}{text}, 'Your balance: 0 ⭐', '/balance@InBotPayDemoBot: text';

$cmd->{update_id} = 731208611;
$cmd->{message}{text} = '/balance@OtherBot';
$cmd->{message}{entities}[0]{length} = 17;
$r = $t->update($cmd);
is $r->{status}, 200, '/balance@OtherBot: 200';
is $r->{content}, '', '/balance@OtherBot: ignored, empty body';

$cmd->{update_id} = 731208612;
$cmd->{message}{text} = 'hello everyone';
delete $cmd->{message}{entities};
$r = $t->update($cmd);
is $r->{status}, 200, 'plain text in a supergroup: 200';
is $r->{content}, '', 'plain text in a supergroup: ignored';

# 5. edited messages are ignored: editing a message into /deposit must not
# send an invoice

my @keys = sort(rlist($t, 'KEYS', '*'));
my $ed = $t->fixture('edited_message.json');
$ed->{update_id} = 731208711;
$r = $t->update($ed);
is $r->{status}, 200, 'edited_message /deposit 250: 200';
is $r->{content}, '', 'edited_message: ignored, empty body';
is_deeply [ sort(rlist($t, 'KEYS', '*')) ], \@keys,
    'edited_message: no Redis key created';

# 6. field order does not matter: update_id last

my $bal = slurp('balance.json');
like $bal, qr/"update_id": 731208403\s*}\s*\z/, 'balance.json has update_id last';
$bal =~ s/731208403/731208703/;
$r = $t->update($bal);
is $r->{json}{chat_id}, 7000000001, 'update_id last: answered';
is $r->{json}{text}, 'Your balance: 0 ⭐', 'update_id last: text';

$t->stop;

done_testing;
