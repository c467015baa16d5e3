#!/usr/bin/perl

# The webhook's status codes: 401, 405, 413, 400, 200 (empty or a method
# call), and that a refused request changes nothing in Redis.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use InBotPay::Test;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $t = InBotPay::Test->new;

my $url  = 'http://127.0.0.1:' . $t->port . '/tg/webhook';
my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
my $hdr  = 'X-Telegram-Bot-Api-Secret-Token';

sub raw {
    my ($method, $body, %h) = @_;

    return $http->request($method, $url, {
        headers => { 'Content-Type' => 'application/json', %h },
        defined $body ? (content => $body) : (),
    });
}

sub rlist {
    my @r = $t->redis(@_);
    return @r == 1 && ref $r[0] eq 'ARRAY' ? @{ $r[0] } : @r;
}

sub keyset { join ' ', sort(rlist('KEYS', '*')) }

my $start_json = encode_json($t->fixture('start.json'));
my $before     = keyset();
my $dbsize     = $t->redis('DBSIZE');

# 1. the secret

my $secret = $t->secret;
is length $secret, 32, 'the harness secret has 32 characters';

my $r = raw('POST', $start_json);
is $r->{status}, 401, 'no secret header: 401';
is $r->{content}, '', 'no secret header: empty body';

my $same_len = $secret;
substr($same_len, 17, 1) = substr($same_len, 17, 1) eq 'a' ? 'b' : 'a';
$r = raw('POST', $start_json, $hdr => $same_len);
is $r->{status}, 401, 'wrong secret of the same length: 401';
is $r->{content}, '', 'wrong secret of the same length: empty body';

$r = raw('POST', $start_json, $hdr => $secret . 'x');
is $r->{status}, 401, 'secret with one character more: 401';

$r = raw('POST', $start_json, $hdr => substr($secret, 0, 31));
is $r->{status}, 401, 'secret with one character less: 401';

$r = raw('POST', $start_json, $hdr => lc($secret) eq $secret
                                  ? uc $secret : lc $secret);
is $r->{status}, 401, 'secret in another letter case: 401';

$r = raw('POST', $start_json, $hdr => '');
is $r->{status}, 401, 'empty secret header: 401';

# 2. the method

$r = raw('GET', undef, $hdr => $secret);
is $r->{status}, 405, 'GET with the right secret: 405';

$r = raw('PUT', $start_json, $hdr => $secret);
is $r->{status}, 405, 'PUT with the right secret: 405';

# 3. body over client_max_body_size (1m): nginx answers from the header

{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port,
                                  Proto => 'tcp', Timeout => 5)
        or die "connect: $!";
    print $s "POST /tg/webhook HTTP/1.1\r\nHost: localhost\r\n"
           . "$hdr: $secret\r\nContent-Type: application/json\r\n"
           . "Content-Length: 2000000\r\nConnection: close\r\n\r\n"
           . '{"update_id":1,';
    local $/ = "\r\n";
    my $line = <$s> // '';
    like $line, qr{^HTTP/1\.1 413 }, 'Content-Length over 1m: 413';
    close $s;
}

$r = raw('POST', '{"update_id":731208499,"pad":"' . ('y' x 1_100_000) . '"}',
         $hdr => $secret);
is $r->{status}, 413, 'a real body over 1m: 413';

# 4. bad bodies: 400

my @bad = (
    [ 'not JSON'                 => 'not json' ],
    [ 'empty body'               => '' ],
    [ 'truncated JSON'           => substr($start_json, 0, 40) ],
    [ 'JSON then garbage'        => $start_json . ' x' ],
    [ 'JSON array'               => '[' . $start_json . ']' ],
    [ 'empty JSON array'         => '[]' ],
    [ 'JSON string'              => '"update_id"' ],
    [ 'JSON number'              => '731208401' ],
    [ 'JSON null'                => 'null' ],
    [ 'object without update_id' => '{"message":{"message_id":1}}' ],
    [ 'empty object'             => '{}' ],
);

my $start = $t->fixture('start.json');

sub start_with {
    my ($id_text, $edit) = @_;
    my $u = JSON::PP->new->decode(encode_json($start));
    $edit->($u) if $edit;
    $u->{update_id} = 'UPDATE_ID';
    my $j = JSON::PP->new->canonical->encode($u);
    $j =~ s/"UPDATE_ID"/$id_text/ or die;
    return $j;
}

push @bad,
    [ 'update_id as a string'          => start_with('"731208401"') ],
    [ 'update_id as a float'           => start_with('731208401.5') ],
    [ 'update_id as 731208401.0'       => start_with('731208401.0') ],
    [ 'update_id with an exponent'     => start_with('7.31208401e8') ],
    [ 'update_id over 2^64'            => start_with('99999999999999999999') ],
    [ 'update_id 2^63'                 => start_with('9223372036854775808') ],
    [ 'update_id true'                 => start_with('true') ],
    [ 'update_id null'                 => start_with('null') ],
    [ 'update_id an object'            => start_with('{"id":1}') ],
    [ '"text": 5'
        => start_with('731208401', sub { $_[0]{message}{text} = 5 }) ],
    [ 'chat.id as a string'
        => start_with('731208401',
                      sub { $_[0]{message}{chat}{id} = '7000000001' }) ],
    [ 'message is an array'
        => start_with('731208401', sub { $_[0]{message} = [] }) ],
    [ 'invalid UTF-8 in text'
        => start_with('731208401',
                      sub { $_[0]{message}{text} = 'INVALID' })
           =~ s/INVALID/\/start \xff\xfe/r ],
    ;

for my $b (@bad) {
    my ($name, $body) = @$b;
    $r = raw('POST', $body, $hdr => $secret);
    is $r->{status}, 400, "$name: 400";
}

# nothing above may have reached Redis

is keyset(), $before, 'refused requests created no Redis key';
is $t->redis('DBSIZE'), $dbsize, 'refused requests: DBSIZE unchanged';
ok !$t->redis('EXISTS', 'ibp:{7000000001}:player'),
    'the refused /start did not register the player';

# 5. 200 with an empty body: update kinds we ignore

for my $f (qw(channel_post.json my_chat_member_blocked.json dice.json)) {
    $r = $t->update($t->fixture($f));
    is $r->{status}, 200, "$f: 200";
    is $r->{content}, '', "$f: empty body";
}

$r = $t->update('{"update_id":731208498}');
is $r->{status}, 200, 'an update with only update_id: 200';
is $r->{content}, '', 'an update with only update_id: empty body';

$r = $t->update('{"update_id":731208497,"inline_query":{"id":"1",'
                . '"from":{"id":7000000001,"is_bot":false,"first_name":"J"},'
                . '"query":"x","offset":""}}');
is $r->{status}, 200, 'an inline_query: 200';
is $r->{content}, '', 'an inline_query: empty body';

# 6. 200 with a method call; a repeated update answers the same

$r = $t->update($t->fixture('balance.json'));
is $r->{status}, 200, '/balance: 200';
like $r->{headers}{'content-type'} // '', qr{^application/json\b},
    '/balance: Content-Type application/json';
is $r->{json}{method}, 'sendMessage', '/balance: sendMessage';
is $r->{json}{chat_id}, 7000000001, '/balance: chat_id';
is $r->{json}{text}, 'Your balance: 0 ⭐', '/balance: text';

my $again = $t->update($t->fixture('balance.json'));
is $again->{status}, 200, 'the same /balance update again: 200';
is $again->{content}, $r->{content}, 'the same update again: same answer';

# the secret never shows up in the logs

my $log = $t->error_log;
ok index($log, $secret) < 0, 'the webhook secret is not in error.log';

$t->stop;

done_testing;
