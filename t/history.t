#!/usr/bin/perl

# /history: "No history yet." for an empty wallet; then the ledger, newest
# first, ten lines a page, with the peer of transfers and the number of
# withdrawals, and Older/Newer buttons (hist:OFFSET) across three pages.

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

my $J = 7000000001;
my $K = 1987654320;

my $t = InBotPay::Test->new;
my $w = InBotPay::Wallet->new($t, first_update_id => 731800000);

# the line of one ledger entry
sub line {
    my ($e) = @_;
    my $s = sprintf '#%d %s %s%d ⭐ -> %d ⭐ %s', $e->{id}, $e->{type},
        ($e->{amount} < 0 ? '-' : $e->{amount} > 0 ? '+' : ''),
        abs $e->{amount}, $e->{balance},
        $w->ymdhm($e->{time});
    $s .= " peer $e->{peer}" if $e->{type} =~ /^transfer_/;
    $s .= " #$e->{withdrawal}" if $e->{type} =~ /^withdrawal_/;
    return $s;
}

sub page_text {
    my ($pid, $page) = @_;
    my @l = reverse $w->ledger($pid);
    my @lines = grep {defined} @l[ ($page - 1) * 10 .. $page * 10 - 1 ];
    return join "\n", "Your history (page $page):", map { line($_) } @lines;
}

sub buttons {
    my ($markup) = @_;
    return [ map { "$_->{text}=$_->{callback_data}" }
             map {@$_} @{ ($markup // {})->{inline_keyboard} // [] } ];
}

# the page a hist:OFFSET button brings, as a sendMessage or an edit
sub page_call {
    my ($page) = @_;
    my $want = "Your history (page $page):";
    my $deadline = time + 3;
    while (1) {
        my @c = grep { index($_->{params}{text} // '', $want) == 0 }
                grep { $_->{method} =~ /^(?:sendMessage|editMessageText)$/ }
                $t->calls;
        return $c[0] if @c || time > $deadline;
        select undef, undef, undef, 0.02;
    }
}

$w->start($J);
$w->start($K);

# empty

my $r = $t->update($w->message($J, '/history'));
is $r->{status}, 200, 'empty: 200';
is $r->{json}{method}, 'sendMessage', 'empty: sendMessage';
is $r->{json}{chat_id}, $J, 'empty: chat_id';
is $r->{json}{text}, 'No history yet.', 'empty: "No history yet."';
is_deeply buttons($r->{json}{reply_markup}), [], 'empty: no buttons';

# the fixture: Kai, who has no entries yet
$r = $t->update($t->fixture('history_cmd.json'));
is $r->{json}{chat_id}, $K, 'history_cmd.json: to Kai';
is $r->{json}{text}, 'No history yet.', 'history_cmd.json: no history';

# a few operations

$w->deposit($J, 500);                                           # 1
$r = $t->update($w->message($J, '/withdraw 100 UQhist'));       # 2
like $r->{json}{text} // '', qr/^Withdrawal #1 of 100/, 'withdrawal #1';
my $cancel = $r->{json}{reply_markup}{inline_keyboard}[0][0]{callback_data};
$t->update($w->callback($J, $cancel));                          # 3
my $u = $w->message($J, '/send @kai_sample 50');
$t->update($u);
$t->update($w->callback($J, "txok:$u->{update_id}"));           # 4
$u = $w->message($K, "/send $J 20");
$t->update($u);
$t->update($w->callback($K, "txok:$u->{update_id}"));           # 5
$r = $t->update($w->message($J, '/withdraw 30 UQhist2'));       # 6

my @l = $w->ledger($J);
is_deeply [ map { "$_->{type} $_->{amount}" } @l ],
    [ 'deposit 500', 'withdrawal_hold 0', 'withdrawal_released 0',
      'transfer_out -50', 'transfer_in 20', 'withdrawal_hold 0' ],
    'Jordan\'s ledger';

my $want = join "\n", 'Your history (page 1):',
    sprintf('#6 withdrawal_hold 0 ⭐ -> 440 ⭐ %s #2', $w->ymdhm($l[5]{time})),
    sprintf('#5 transfer_in +20 ⭐ -> 470 ⭐ %s peer %s', $w->ymdhm($l[4]{time}), $K),
    sprintf('#4 transfer_out -50 ⭐ -> 450 ⭐ %s peer %s', $w->ymdhm($l[3]{time}), $K),
    sprintf('#3 withdrawal_released 0 ⭐ -> 500 ⭐ %s #1', $w->ymdhm($l[2]{time})),
    sprintf('#2 withdrawal_hold 0 ⭐ -> 400 ⭐ %s #1', $w->ymdhm($l[1]{time})),
    sprintf('#1 deposit +500 ⭐ -> 500 ⭐ %s', $w->ymdhm($l[0]{time}));
is page_text($J, 1), $want, '(the expected text, built two ways, agrees)';

$r = $t->update($w->message($J, '/history'));
is $r->{status}, 200, '/history: 200';
is $r->{json}{method}, 'sendMessage', '/history: sendMessage';
is $r->{json}{chat_id}, $J, '/history: chat_id';
is $r->{json}{text}, $want, '/history: six lines, newest first';
is_deeply buttons($r->{json}{reply_markup}), [], '/history: one page, no buttons';

$r = $t->update($w->message($K, '/history'));
is $r->{json}{text}, page_text($K, 1), 'Kai\'s history';
like $r->{json}{text}, qr/^#1 transfer_in \+50 ⭐ -> 50 ⭐ \S+ \S+ peer $J$/m,
    'Kai\'s history: transfer_in from Jordan';

# 25 entries: three pages

$w->deposit($J, $_) for 1 .. 19;
is scalar(@l = $w->ledger($J)), 25, '25 ledger entries';

$r = $t->update($w->message($J, '/history'));
is $r->{json}{text}, page_text($J, 1), 'page 1: entries 25 to 16';
my @lines = split /\n/, $r->{json}{text};
is scalar @lines, 11, 'page 1: a title and ten lines';
like $lines[1], qr/^#25 deposit \+19 ⭐ -> 630 ⭐ /, 'page 1: #25 first';
like $lines[10], qr/^#16 deposit \+10 ⭐ -> 495 ⭐ /, 'page 1: #16 last';
is_deeply buttons($r->{json}{reply_markup}), [ 'Older=hist:10' ],
    'page 1: Older only';

$t->clear_calls;
$r = $t->update($w->callback($J, 'hist:10', query_id => 'q-hist-10'));
is $r->{json}{method}, 'answerCallbackQuery', 'hist:10: answerCallbackQuery';
is $r->{json}{callback_query_id}, 'q-hist-10', 'hist:10: callback_query_id';
my $c = page_call(2) // {};
is $c->{params}{chat_id}, $J, 'page 2: to Jordan';
is $c->{params}{text}, page_text($J, 2), 'page 2: entries 15 to 6';
like $c->{params}{text} // '', qr/\n#15 deposit .*\n#6 withdrawal_hold [^\n]*\z/s,
    'page 2: #15 to #6';
is_deeply [ sort @{ buttons($c->{params}{reply_markup}) } ],
    [ 'Newer=hist:0', 'Older=hist:20' ], 'page 2: Newer and Older';

$t->clear_calls;
$r = $t->update($w->callback($J, 'hist:20', query_id => 'q-hist-20'));
is $r->{json}{method}, 'answerCallbackQuery', 'hist:20: answerCallbackQuery';
$c = page_call(3) // {};
is $c->{params}{text}, page_text($J, 3), 'page 3: entries 5 to 1';
is scalar(split /\n/, $c->{params}{text} // ''), 6, 'page 3: five lines';
is_deeply buttons($c->{params}{reply_markup}), [ 'Newer=hist:10' ],
    'page 3: Newer only';

$t->clear_calls;
$t->update($w->callback($J, 'hist:0', query_id => 'q-hist-0'));
$c = page_call(1) // {};
is $c->{params}{text}, page_text($J, 1), 'hist:0: page 1 again';

# history reads, it does not write
my $before = $w->snapshot;
$t->update($w->message($J, '/history'));
$t->update($w->callback($J, 'hist:10'));
page_call(2);
is $w->snapshot, $before, '/history changes nothing';

$t->stop;

done_testing;
