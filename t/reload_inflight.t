#!/usr/bin/perl

# A graceful reload while updates wait on Redis: the old worker finishes
# them before it exits, so none is answered 503 and no socket is left open.

use strict;
use warnings;
use utf8;

use lib 't/lib';
use Test::More;
use POSIX ();
use Time::HiRes qw(sleep);
use InBotPay::Test;

binmode(Test::More->builder->$_, ":encoding(UTF-8)")
    for qw(output failure_output todo_output);

my $t = InBotPay::Test->new(server => "inbotpay_redis_timeout 10s;\n");

my $u = $t->fixture('start.json');
$u->{update_id} = $t->next_update_id;
is $t->update($u)->{status}, 200, 'Redis answers before the test';

# with Redis stopped, the commands of three updates stay in flight

my $redis = $t->{pids}{redis};
kill 'STOP', $redis;

my $out = $t->dir . '/inflight';
my @kids;

for my $i (1 .. 3) {
    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        my $u = $t->fixture('start.json');
        $u->{update_id} = 731400000 + $i;
        my $r = $t->update($u);
        open my $fh, '>:encoding(UTF-8)', "$out.$i" or POSIX::_exit(1);
        print $fh $r->{status}, "\n", $r->{json}{text} // '';
        close $fh;
        POSIX::_exit(0);
    }

    push @kids, $pid;
}

sleep 0.5;

my @old = $t->nginx_workers;
kill 'HUP', $t->nginx_pid;

# the old worker must still be there, waiting for the replies

sleep 1;
ok scalar(grep { kill 0, $_ } @old), 'the old worker waits for Redis';

kill 'CONT', $redis;
waitpid $_, 0 for @kids;

for my $i (1 .. 3) {
    open my $fh, '<:encoding(UTF-8)', "$out.$i" or die "$out.$i: $!";
    my ($status, @text) = <$fh>;
    chomp $status;
    is $status, 200, "update $i in flight during the reload: 200";
    is join('', @text), "Welcome, Jordan!\nYour balance: 0 ⭐",
        "update $i: the welcome";
}

my $deadline = time + 5;
sleep 0.1 while grep({ kill 0, $_ } @old) && time < $deadline;
ok !grep({ kill 0, $_ } @old), 'the old worker exits once it is done';

unlike $t->error_log, qr/open socket .* left/, 'no socket left open';

$t->stop;

done_testing;
