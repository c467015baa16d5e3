package InBotPay::Test;

# The test harness: for one test it starts, on free loopback ports inside a
# temporary directory, a real redis-server, the simulated Bot API
# (InBotPay::BotApiSim) and a real nginx with the built module, and stops
# them all at the end. Core Perl only.
#
#   use InBotPay::Test;
#   my $t = InBotPay::Test->new(workers => 1, http => '...', server => '...');
#   my $res = $t->update($t->fixture('start.json'));
#   is $res->{json}{method}, 'sendMessage';
#
# Environment:
#   INBOTPAY_MODULE      the module .so (default REPO/build/...)
#   INBOTPAY_NGINX       the nginx binary (default /usr/sbin/nginx)
#   INBOTPAY_NGINX_ENV   extra environment for nginx, "K=V K=V"
#                        (e.g. LD_PRELOAD=... ASAN_OPTIONS=...)
#   INBOTPAY_REDIS       the redis-server binary (default redis-server)
#   INBOTPAY_KEEP        keep the temporary directory after the test
#
# With api => 1 the harness also writes DIR/api.secret, sets
# inbotpay_api_secret_file at http level and adds "location /api/" with
# inbotpay_api and "location = /status" with inbotpay_status to the server;
# $t->api('bet', {...}) then sends a signed request and $t->status reads
# the metrics.

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::SHA qw(hmac_sha256_hex);
use File::Basename qw(dirname);
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Scalar::Util qw(weaken);
use Socket qw(SOL_SOCKET SO_RCVTIMEO);
use Test::More ();
use Time::HiRes qw(time sleep);

use InBotPay::BotApiSim;

our $REPO = abs_path(dirname(__FILE__) . '/../../..');

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;
my @LIVE;


sub new {
    my ($class, %opt) = @_;

    my $self = bless {
        workers => $opt{workers} // 1,
        http_conf   => $opt{http} // '',
        server_conf => $opt{server} // '',
        conf    => $opt{conf},
        api     => $opt{api} // 0,
        with_redis => $opt{redis} // 1,
        with_nginx => $opt{nginx} // 1,
        tap     => $opt{tap} // 1,
        quiet   => $opt{quiet} // 0,
        module  => $opt{module} // $ENV{INBOTPAY_MODULE}
                   // "$REPO/build/ngx_http_inbotpay_module.so",
        nginx_bin => $ENV{INBOTPAY_NGINX} || '/usr/sbin/nginx',
        redis_bin => $ENV{INBOTPAY_REDIS} || 'redis-server',
        owner   => $$,
        pids    => {},
        calls_offset => 0,
        update_id    => $opt{first_update_id} // 731300001,
    }, $class;

    if ($self->{with_nginx} && !defined $self->{conf}
        && !-f $self->{module})
    {
        die "the module is not built: $self->{module} (run make)\n";
    }

    push @LIVE, $self;
    weaken $LIVE[-1];
    _install_signal_handlers();

    my $dir = tempdir('inbotpay-XXXXXXXX', TMPDIR => 1, CLEANUP => 0);
    chmod 0755, $dir;
    $self->{dir} = $dir;
    mkdir "$dir/$_" for qw(body proxy fcgi uwsgi scgi redis);

    $self->{token} = _random(9, '0'..'9') . ':'
                   . _random(35, 'A'..'Z', 'a'..'z', '0'..'9', '_', '-');
    $self->{token} =~ s/^0/1/;
    $self->{secret} = _random(32, 'A'..'Z', 'a'..'z', '0'..'9', '_', '-');
    $self->{control_key} = _random(24, 'a'..'z', '0'..'9');
    _write_file("$dir/bot.token", "$self->{token}\n");
    _write_file("$dir/webhook.secret", "$self->{secret}\n");
    if ($self->{api}) {
        $self->{api_secret} = _random(32, 'A'..'Z', 'a'..'z', '0'..'9');
        _write_file("$dir/api.secret", "$self->{api_secret}\n");
    }

    my %taken;
    $self->{redis_port} = _free_port(\%taken);
    $self->{port} = _free_port(\%taken);

    # One connection per update: HTTP::Tiny writes the header and the body
    # in two packets, and on a reused connection the second one waits for
    # a delayed ACK (Nagle), about 40 ms per update.
    $self->{http} = HTTP::Tiny->new(timeout => 10, keep_alive => 0,
                                    agent => 'InBotPay-Test/1');

    eval {
        $self->_start_sim;
        $self->start_redis if $self->{with_redis};
        $self->start_nginx if $self->{with_nginx};
        1;
    } or do {
        my $err = $@;
        $self->{keep} = 1;
        $self->{quiet} = 1;
        $self->stop(check => 0);
        die $err, "(test files kept in $dir)\n";
    };

    return $self;
}


# Accessors.

sub port        { $_[0]{port} }
sub redis_port  { $_[0]{redis_port} }
sub sim_port    { $_[0]{sim_port} }
sub dir         { $_[0]{dir} }
sub token       { $_[0]{token} }
sub secret      { $_[0]{secret} }
sub workers     { $_[0]{workers} }
sub nginx_pid   { $_[0]{pids}{nginx} }
sub webhook_url { "http://127.0.0.1:$_[0]{port}/tg/webhook" }
sub api_secret  { $_[0]{api_secret} }
sub api_url     { "http://127.0.0.1:$_[0]{port}/api/" . ($_[1] // '') }
sub status_url  { "http://127.0.0.1:$_[0]{port}/status" }


# Processes.

sub _install_signal_handlers {
    for my $sig (qw(INT TERM HUP)) {
        next if defined $SIG{$sig} && $SIG{$sig} ne 'DEFAULT';
        $SIG{$sig} = sub { exit 128 + ($sig eq 'INT' ? 2 : 15) };
    }
    return;
}


sub _spawn {
    my ($self, $name, $run) = @_;

    my $dir = $self->{dir};
    my $pid = fork // die "fork: $!\n";

    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP PIPE);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$dir/$name.out";
        open STDERR, '>&', \*STDOUT;
        eval { $run->() };
        print STDERR $@ if $@;
        POSIX::_exit(127);
    }

    POSIX::setpgid($pid, $pid);
    $self->{pids}{$name} = $pid;
    _write_file("$dir/$name.pgid", "$pid\n");
    return $pid;
}


sub _wait_port {
    my ($self, $name, $port, $timeout) = @_;

    my $pid = $self->{pids}{$name};
    my $deadline = time + ($timeout // 10);

    while (time < $deadline) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Timeout => 1);
        return 1 if $s;

        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pids}{$name};
            die "$name exited with status " . ($? >> 8) . " at start:\n"
                . $self->_tail("$name.out") . $self->_tail('error.log');
        }
        sleep 0.02;
    }
    die "$name does not accept connections on port $port\n"
        . $self->_tail("$name.out");
}


# Sends SIGNAL to the process, waits up to TIMEOUT seconds for it to
# exit, then kills what is left of its process group.
sub _stop_process {
    my ($self, $name, $signal, $timeout) = @_;

    my $pid = delete $self->{pids}{$name} or return;
    kill $signal, $pid;

    my $deadline = time + $timeout;
    my $done = 0;
    while (time < $deadline) {
        if (waitpid($pid, WNOHANG) != 0) {
            $done = 1;
            last;
        }
        sleep 0.02;
    }

    if (!$done) {
        $self->_note("$name did not exit after SIG$signal; killing it");
        kill 'KILL', -$pid;
        waitpid $pid, 0;
    }

    # Whatever remains of the group (workers of a killed nginx master).
    for (1 .. 50) {
        last unless kill 0, -$pid;
        kill 'KILL', -$pid if $_ > 25;
        sleep 0.02;
    }

    unlink "$self->{dir}/$name.pgid";
    return $done;
}


sub _start_sim {
    my ($self) = @_;

    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => 0, Listen => 128, ReuseAddr => 1)
        or die "sim listen: $!\n";
    $self->{sim_port} = $listen->sockport;

    my $parent = $$;
    my %args = (
        listen      => $listen,
        token       => $self->{token},
        log         => "$self->{dir}/botapi.log",
        control_key => $self->{control_key},
        watch_pid   => $parent,
        guard_dir   => $self->{dir},
    );

    $self->_spawn(sim => sub {
        InBotPay::BotApiSim->new(%args)->run;
        POSIX::_exit(0);
    });
    close $listen;

    return $self->_wait_port(sim => $self->{sim_port});
}


sub start_redis {
    my ($self) = @_;

    return if $self->{pids}{redis};

    my $dir = $self->{dir};
    my @cmd = ($self->{redis_bin});
    push @cmd, "$REPO/redis/redis.conf" if -f "$REPO/redis/redis.conf";
    push @cmd,
        '--port', $self->{redis_port}, '--bind', '127.0.0.1',
        '--dir', "$dir/redis", '--daemonize', 'no',
        '--appendonly', 'yes', '--appendfsync', 'always', '--save', '',
        '--logfile', "$dir/redis.log", '--pidfile', "$dir/redis/redis.pid",
        '--unixsocket', "$dir/redis/redis.sock";

    $self->_spawn(redis => sub { exec @cmd or die "exec @cmd: $!\n" });
    $self->_wait_port(redis => $self->{redis_port});

    # Wait until the data set is loaded (LOADING while the AOF replays).
    my $deadline = time + 10;
    while (1) {
        my $pong = eval { $self->redis('PING') } // '';
        last if $pong eq 'PONG';
        die "redis does not answer PING: $@" if time > $deadline;
        delete $self->{redis_sock};
        sleep 0.02;
    }
    return 1;
}


# Redis writes and fsyncs its AOF on SIGTERM; start_redis then reopens
# the same directory on the same port.
sub stop_redis {
    my ($self) = @_;

    delete $self->{redis_sock};
    return $self->_stop_process(redis => 'TERM', 10);
}


sub _nginx_conf {
    my ($self) = @_;

    my $dir = $self->{dir};
    my %v = (
        DIR => $dir, PORT => $self->{port}, SIM_PORT => $self->{sim_port},
        REDIS_PORT => $self->{redis_port}, MODULE => $self->{module},
        WORKERS => $self->{workers},
    );

    if (defined $self->{conf}) {
        (my $conf = $self->{conf}) =~ s/%%(\w+)%%/$v{$1} \/\/ "%%$1%%"/ge;
        return $conf;
    }

    my $user = $> == 0 ? "user  root;\n" : '';

    my ($api_http, $api_server) = ('', '');
    if ($self->{api}) {
        $api_http = "    inbotpay_api_secret_file     $dir/api.secret;\n";
        $api_server = "        location /api/ { inbotpay_api; }\n"
                    . "        location = /status { inbotpay_status; }\n";
    }

    return <<"EOF";
worker_processes  $self->{workers};
${user}daemon off;
master_process on;
pid  $dir/nginx.pid;
error_log  $dir/error.log info;
load_module  $self->{module};

events { worker_connections 1024; }

http {
    access_log $dir/access.log;
    client_body_temp_path $dir/body; proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fcgi; uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;

    inbotpay_redis               127.0.0.1:$self->{redis_port};
    inbotpay_redis_timeout       1s;
    inbotpay_bot_token_file      $dir/bot.token;
    inbotpay_webhook_secret_file $dir/webhook.secret;
    inbotpay_bot_api             /.telegram/;
    inbotpay_bot_username        InBotPayDemoBot;
$api_http
$self->{http_conf}

    server {
        listen 127.0.0.1:$self->{port};

        location = /tg/webhook {
            inbotpay_webhook;
            client_max_body_size    1m;
            client_body_buffer_size 16k;
        }

        location /.telegram/ {
            internal;
            proxy_pass http://127.0.0.1:$self->{sim_port}/;
            proxy_pass_request_headers off;
            proxy_set_header Host api.telegram.org;
            proxy_set_header Content-Type application/json;
            proxy_connect_timeout 2s;
            proxy_send_timeout 5s;
            proxy_read_timeout 5s;
            subrequest_output_buffer_size 64k;
        }
$api_server
$self->{server_conf}
    }
}
EOF
}


sub start_nginx {
    my ($self) = @_;

    return if $self->{pids}{nginx};

    my $dir = $self->{dir};

    _write_file("$dir/nginx.conf", $self->_nginx_conf);

    my %env = map { /^([^=]+)=(.*)$/ ? ($1 => $2) : () }
              split ' ', $ENV{INBOTPAY_NGINX_ENV} // '';
    my @cmd = ($self->{nginx_bin}, '-p', "$dir/", '-c', "$dir/nginx.conf",
               '-e', "$dir/error.log");

    $self->_spawn(nginx => sub {
        @ENV{ keys %env } = values %env;
        exec @cmd or die "exec @cmd: $!\n";
    });
    $self->_wait_port(nginx => $self->{port});
    $self->_wait_workers($self->{workers}, 10);
    return 1;
}


# Graceful stop (QUIT), like "nginx -s quit".
sub stop_nginx {
    my ($self) = @_;

    return $self->_stop_process(nginx => 'QUIT', 10);
}


# Worker pids of the running nginx master, from /proc.
sub nginx_workers {
    my ($self) = @_;

    my $master = $self->{pids}{nginx} or return;
    my @workers;

    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        my ($pid, $comm, $ppid) = $line =~ /^(\d+) \((.*)\) \S+ (\d+)/s
            or next;
        next unless $ppid == $master;

        open my $cmd, '<', "/proc/$pid/cmdline" or next;
        my $cmdline = <$cmd> // '';
        push @workers, $pid + 0 if $cmdline =~ /worker process/;
    }
    return sort { $a <=> $b } @workers;
}


sub _wait_workers {
    my ($self, $n, $timeout, @old) = @_;

    my %old = map { $_ => 1 } @old;
    my $deadline = time + $timeout;

    while (time < $deadline) {
        my @new = grep { !$old{$_} } $self->nginx_workers;
        my @left = grep { kill 0, $_ } @old;
        return 1 if @new >= $n && !@left;
        sleep 0.05;
    }
    return 0;
}


# Rewrites nginx.conf (optionally with new http/server/workers settings),
# sends HUP and waits until the old workers have exited and the new ones
# run. Returns true on success.
sub reload {
    my ($self, %opt) = @_;

    $self->{http_conf} = $opt{http} if defined $opt{http};
    $self->{server_conf} = $opt{server} if defined $opt{server};
    $self->{workers} = $opt{workers} if defined $opt{workers};
    _write_file("$self->{dir}/nginx.conf", $self->_nginx_conf);

    my @old = $self->nginx_workers;
    my $master = $self->{pids}{nginx} or return 0;

    kill 'HUP', $master;
    return $self->_wait_workers($self->{workers}, $opt{timeout} // 10, @old);
}


# Stops everything and checks error.log. Returns true when error.log has
# no [alert] and no [emerg] line. Called on its own at DESTROY and END.
sub stop {
    my ($self, %opt) = @_;

    return 1 if $self->{stopped} || $$ != $self->{owner} || !$self->{dir};
    $self->{stopped} = 1;

    delete $self->{redis_sock};
    $self->_stop_process(nginx => 'QUIT', 10);
    $self->_stop_process(sim => 'TERM', 5);
    $self->_stop_process(redis => 'TERM', 10);

    my @bad = grep { /\[(?:alert|emerg)\]/ } split /\n/, $self->error_log;
    $self->{problems} = \@bad;

    if (@bad && ($opt{check} // 1)) {
        $self->{keep} = 1;
        if ($self->{tap}) {
            Test::More::ok(0, 'no [alert] or [emerg] in error.log');
            Test::More::diag(join "\n", @bad);
        } else {
            warn "error.log:\n", map { "$_\n" } @bad;
        }
    }

    if ($self->{keep} || $ENV{INBOTPAY_KEEP}) {
        $self->_note("test files kept in $self->{dir}");
    } else {
        remove_tree($self->{dir});
    }

    return !@bad;
}


sub DESTROY {
    my ($self) = @_;

    local ($?, $@, $!);
    $self->stop;
    return;
}


END {
    local $?;
    for my $t (grep {defined} @LIVE) {
        $t->stop;
    }
}


# Talking to nginx.

sub update {
    my ($self, $update, %opt) = @_;

    my $body = ref $update ? $JSON->encode($update) : $update;
    utf8::encode($body) if utf8::is_utf8($body);
    my $secret = exists $opt{secret} ? $opt{secret} : $self->{secret};

    my %headers = ('Content-Type' => 'application/json');
    $headers{'X-Telegram-Bot-Api-Secret-Token'} = $secret if defined $secret;

    while (my ($k, $v) = each %{ $opt{headers} || {} }) {
        my ($old) = grep { lc eq lc $k } keys %headers;
        delete $headers{$old} if defined $old;
        $headers{$k} = $v if defined $v;
    }

    my $res = $self->{http}->request($opt{method} // 'POST',
        $self->webhook_url, { headers => \%headers, content => $body });

    if (defined $res->{content} && $res->{content} =~ /^\s*[\{\[]/) {
        my $json = eval { $JSON->decode($res->{content}) };
        $res->{json} = $json if defined $json;
    }
    return $res;
}


# Sends raw bytes to nginx and returns what comes back: one response when
# it has a Content-Length, else everything until nginx closes or TIMEOUT.
sub raw_request {
    my ($self, $bytes, %opt) = @_;

    my $timeout = $opt{timeout} // 5;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $self->{port}, Timeout => $timeout)
        or die "connect to nginx: $!\n";

    my $sent = 0;
    while ($sent < length $bytes) {
        my $n = syswrite $s, $bytes, 65536, $sent;
        last unless defined $n;
        $sent += $n;
        sleep $opt{pause} if $opt{pause};
    }

    my $sel = IO::Select->new($s);
    my $deadline = time + $timeout;
    my $buf = '';

    while (time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread $s, $buf, 65536, length $buf;
        last unless $n;

        my $end = index $buf, "\r\n\r\n";
        next if $end < 0;
        my ($len) = substr($buf, 0, $end) =~ /^Content-Length:\s*(\d+)/mi;
        last if defined $len && length($buf) >= $end + 4 + $len;
    }

    close $s;
    return $buf;
}


# The casino backend API (api => 1).

# The signature of a request: lowercase hex HMAC-SHA256 under KEY (the
# API secret by default) of TIMESTAMP "." BODY.
sub api_sign {
    my ($self, $timestamp, $body, $key) = @_;

    utf8::encode($body) if utf8::is_utf8($body);
    return hmac_sha256_hex("$timestamp.$body", $key // $self->{api_secret});
}


# Sends a signed request to ENDPOINT and returns the HTTP::Tiny response,
# with {json} when the body is JSON. BODY: a hash ref (encoded as
# canonical JSON) or the raw bytes. Options, to send what a broken client
# would:
#   method => 'GET'            (default POST)
#   timestamp => '...'         sent and signed (default: now)
#   time_offset => SECONDS     added to now
#   key => '...'               sign with another key
#   sign_body => '...'         sign these bytes instead of the body
#   sign_timestamp => '...'    sign this timestamp instead of the one sent
#   signature => '...'         send this signature as it is
#   headers => { NAME => VALUE or undef to leave the header out }
#   path => '/api/...'         the URI instead of /api/ENDPOINT
sub api {
    my ($self, $endpoint, $body, %opt) = @_;

    $body = ref $body ? $JSON->encode($body) : $body // '';
    utf8::encode($body) if utf8::is_utf8($body);

    my $ts = exists $opt{timestamp} ? $opt{timestamp}
           : int(time) + ($opt{time_offset} // 0);
    my $sig = exists $opt{signature} ? $opt{signature}
            : $self->api_sign($opt{sign_timestamp} // $ts // '',
                              $opt{sign_body} // $body, $opt{key});

    my %headers = ('Content-Type' => 'application/json');
    $headers{'X-InBotPay-Timestamp'} = $ts if defined $ts;
    $headers{'X-InBotPay-Signature'} = $sig if defined $sig;

    while (my ($k, $v) = each %{ $opt{headers} || {} }) {
        my ($old) = grep { lc eq lc $k } keys %headers;
        delete $headers{$old} if defined $old;
        $headers{$k} = $v if defined $v;
    }

    my $url = defined $opt{path}
        ? "http://127.0.0.1:$self->{port}$opt{path}"
        : $self->api_url($endpoint);
    my $http = $opt{http} // $self->{http};
    my $res = $http->request($opt{method} // 'POST', $url,
        { headers => \%headers, length $body ? (content => $body) : () });

    if (defined $res->{content} && $res->{content} =~ /^\s*[\{\[]/) {
        my $json = eval { $JSON->decode($res->{content}) };
        $res->{json} = $json if defined $json;
    }
    return $res;
}


# GET /status: the response, with {metrics}: "name{label="v",...}" (labels
# sorted by name) => value, and {types}: name => counter|gauge|histogram.
sub status {
    my ($self) = @_;

    my $res = $self->{http}->get($self->status_url);
    my (%m, %types);
    for my $line (split /\n/, $res->{content} // '') {
        if ($line =~ /^# TYPE (\S+) (\S+)/) {
            $types{$1} = $2;
            next;
        }
        next if $line =~ /^#/ || $line !~ /\S/;
        my ($name, $labels, $value) =
            $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)\s*$/
            or next;
        $m{ metric_key($name, _labels($labels // '')) } = $value;
    }
    $res->{metrics} = \%m;
    $res->{types} = \%types;
    return $res;
}

sub _labels {
    my ($s) = @_;

    my %l;
    while ($s =~ /\G\s*([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"\s*,?/gc) {
        $l{$1} = $2;
    }
    return %l;
}

# The key of a metric in status()->{metrics}: $t->metric_key('x_total',
# kind => 'bet') is 'x_total{kind="bet"}'.
sub metric_key {
    shift if ref $_[0];
    my ($name, %labels) = @_;

    return $name unless %labels;
    return $name . '{' . join(',', map { qq($_="$labels{$_}") }
                                   sort keys %labels) . '}';
}


# Redis, through a tiny RESP client. Replies: simple string, integer and
# bulk string as scalars (bulk strings as bytes), nil as undef, arrays as
# array refs; an error reply dies with "redis: MESSAGE".

sub redis {
    my ($self, @cmd) = @_;

    my $s = $self->{redis_sock} //= do {
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
            PeerPort => $self->{redis_port}, Timeout => 5)
            or die "redis: cannot connect to port $self->{redis_port}: $!\n";
        setsockopt $sock, SOL_SOCKET, SO_RCVTIMEO, pack('l!l!', 5, 0);
        $sock;
    };

    my $req = '*' . @cmd . "\r\n";
    for my $arg (@cmd) {
        my $copy = $arg // '';
        utf8::encode($copy) if utf8::is_utf8($copy);
        $req .= '$' . length($copy) . "\r\n$copy\r\n";
    }

    my ($reply, $err);
    eval {
        print {$s} $req or die "redis: write: $!\n";
        ($reply, $err) = _resp_read($s);
        1;
    } or do {
        delete $self->{redis_sock};
        die $@;
    };

    die "redis: $err\n" if defined $err;
    return $reply;
}


sub _resp_read {
    my ($s) = @_;

    my $line = <$s>;
    die "redis: connection closed\n" unless defined $line;
    $line =~ s/\r\n\z//;

    my ($type, $rest) = (substr($line, 0, 1), substr($line, 1));

    return ($rest) if $type eq '+';
    return (undef, $rest) if $type eq '-';
    return ($rest + 0) if $type eq ':';

    if ($type eq '$') {
        return (undef) if $rest < 0;
        my $data = '';
        while (length $data < $rest + 2) {
            my $n = read $s, $data, $rest + 2 - length $data, length $data;
            die "redis: connection closed\n" unless $n;
        }
        return (substr $data, 0, $rest);
    }

    if ($type eq '*') {
        return (undef) if $rest < 0;
        my (@items, $first_err);
        for (1 .. $rest) {
            my ($item, $err) = _resp_read($s);
            $first_err //= $err;
            push @items, defined $err ? "-$err" : $item;
        }
        return (\@items, $first_err);
    }

    die "redis: bad reply line \"$line\"\n";
}


# The simulated Bot API.

sub _sim_control {
    my ($self, $action, $args) = @_;

    my $res = HTTP::Tiny->new(timeout => 5)->post(
        "http://127.0.0.1:$self->{sim_port}/__sim/$action",
        { headers => { 'X-Sim-Control' => $self->{control_key},
                       'Content-Type' => 'application/json' },
          content => $JSON->encode($args // {}) });
    die "sim $action: $res->{status} $res->{content}\n"
        unless $res->{success};
    return $JSON->decode($res->{content})->{result};
}


# sim_fail(method => 'sendInvoice' | '*', code => 403 | 429 | 500 | 'close'
#          | 'hang' | 200, times => N, retry_after => S, delay => SECONDS,
#          chat_id => ID, description => TEXT)
sub sim_fail {
    my ($self, %args) = @_;

    return $self->sim_clear if $args{clear};
    return $self->_sim_control(fail => \%args);
}


sub sim_clear {
    my ($self) = @_;

    return $self->_sim_control(clear => {});
}


# Recorded calls since the last clear_calls, each
# { method, token, params, http_status, time[, injected][, body] }.
# Filters: method (any case), token, http_status, and any other key is
# compared to the param of that name.
sub calls {
    my ($self, %filter) = @_;

    my @calls;
    my $log = "$self->{dir}/botapi.log";

    if (open my $fh, '<', $log) {
        seek $fh, $self->{calls_offset}, 0;
        while (my $line = <$fh>) {
            last unless $line =~ /\n\z/;
            push @calls, $JSON->decode($line);
        }
    }

    for my $key (sort keys %filter) {
        my $want = $filter{$key};
        if ($key eq 'method') {
            @calls = grep { lc($_->{method} // '') eq lc $want } @calls;
        } elsif ($key eq 'token' || $key eq 'http_status') {
            @calls = grep { ($_->{$key} // '') eq $want } @calls;
        } else {
            @calls = grep {
                ref $_->{params} eq 'HASH'
                    && ($_->{params}{$key} // '') eq $want
            } @calls;
        }
    }

    return wantarray ? @calls : scalar @calls;
}


# Waits (up to timeout => 5 s) until at least N calls match the filter.
sub wait_calls {
    my ($self, $n, %filter) = @_;

    my $deadline = time + (delete $filter{timeout} // 5);
    my @calls;

    while (1) {
        @calls = $self->calls(%filter);
        last if @calls >= $n || time > $deadline;
        sleep 0.01;
    }
    return wantarray ? @calls : scalar @calls;
}


sub clear_calls {
    my ($self) = @_;

    $self->{calls_offset} = -s "$self->{dir}/botapi.log" // 0;
    return;
}


# Updates.

sub fixture {
    my ($self, $name) = @_;

    $name .= '.json' unless $name =~ /\.json\z/;
    my $path = "$REPO/t/fixtures/telegram/$name";
    return $JSON->decode(_read_file($path));
}


sub next_update_id {
    my ($self) = @_;

    return $self->{update_id}++;
}


# The invoice parameters of a sendInvoice, given a recorded call
# ({method, params}) or a webhook reply ({method => 'sendInvoice', ...}).
sub invoice_params {
    my ($self, $call) = @_;

    return $call->{params} if ref $call->{params} eq 'HASH';
    return $call->{json} if ref $call->{json} eq 'HASH';
    return $call;
}


sub invoice_payload_from_call {
    my ($self, $call) = @_;

    return $self->invoice_params($call)->{payload};
}


# Builds what Telegram sends after the player pays an invoice: a
# pre_checkout_query update and a message.successful_payment update.
#
#   my ($pcq, $paid) = $t->pay($call, from => {...}, charge_id => '...');
#   my ($pcq, $paid) = $t->pay(call => $call, update_id => N, amount => 5);
#
# Overrides: from, update_id (of the first; the second gets the next id),
# charge_id, amount, currency, payload, query_id, message_id, date.
sub pay {
    my $self = shift;
    my $call = ref $_[0] ? shift : undef;
    my %o = @_;

    $call //= delete $o{call} // die "pay: no invoice call\n";
    my $inv = $self->invoice_params($call);

    my $amount = $o{amount} // do {
        my $sum = 0;
        $sum += $_->{amount} for @{ $inv->{prices} || [] };
        $sum;
    };
    my $currency = $o{currency} // $inv->{currency};
    my $payload = exists $o{payload} ? $o{payload} : $inv->{payload};
    my $chat_id = $inv->{chat_id};

    my $from = $o{from} // {
        id => $chat_id + 0, is_bot => JSON::PP::false,
        first_name => 'Jordan', username => 'jordan_tp_demo',
        language_code => 'en',
    };
    my $chat = { id => ($chat_id // $from->{id}) + 0,
                 type => 'private', first_name => $from->{first_name} };
    $chat->{username} = $from->{username} if defined $from->{username};

    my $first_id = $o{update_id} // $self->next_update_id;
    my $second_id = defined $o{update_id} ? $o{update_id} + 1
                                          : $self->next_update_id;
    $self->{update_id} = $second_id + 1 if $self->{update_id} <= $second_id;

    my $charge_id = $o{charge_id} // 'stxn' . _random(100,
        'A'..'Z', 'a'..'z', '0'..'9', '_', '-');
    my $date = $o{date} // int time;

    my $pcq = {
        update_id => $first_id + 0,
        pre_checkout_query => {
            id              => $o{query_id} // _random(18, '0'..'9'),
            from            => $from,
            currency        => $currency,
            total_amount    => $amount + 0,
            invoice_payload => $payload,
        },
    };

    my $paid = {
        update_id => $second_id + 0,
        message => {
            message_id => $o{message_id} // 112,
            from       => $from,
            chat       => $chat,
            date       => $date,
            successful_payment => {
                currency                   => $currency,
                total_amount               => $amount + 0,
                invoice_payload            => $payload,
                telegram_payment_charge_id => $charge_id,
                provider_payment_charge_id => '',
            },
        },
    };

    return ($pcq, $paid);
}


# Files.

sub error_log {
    my ($self) = @_;

    my $path = "$self->{dir}/error.log";
    return -f $path ? _read_file($path) : '';
}


sub _tail {
    my ($self, $name) = @_;

    my $path = "$self->{dir}/$name";
    return '' unless -f $path;
    my @lines = split /\n/, _read_file($path);
    splice @lines, 0, @lines - 20 if @lines > 20;
    return join '', map { "  $name: $_\n" } @lines;
}


sub _note {
    my ($self, $msg) = @_;

    return if $self->{quiet};
    if ($self->{tap}) {
        Test::More::diag($msg);
    } else {
        print STDERR "$msg\n";
    }
    return;
}


sub _read_file {
    my ($path) = @_;

    open my $fh, '<:raw', $path or die "open $path: $!\n";
    local $/;
    return scalar <$fh>;
}


sub _write_file {
    my ($path, $data) = @_;

    open my $fh, '>:raw', "$path.tmp" or die "open $path.tmp: $!\n";
    utf8::encode($data) if utf8::is_utf8($data);
    print {$fh} $data;
    close $fh or die "write $path: $!\n";
    rename "$path.tmp", $path or die "rename $path: $!\n";
    return;
}


sub _free_port {
    my ($taken) = @_;

    for (1 .. 50) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
            LocalPort => 0, Listen => 1, ReuseAddr => 1)
            or die "bind: $!\n";
        my $port = $s->sockport;
        close $s;
        next if $taken->{$port}++;
        return $port;
    }
    die "no free port\n";
}


my $urandom;

sub _random {
    my ($n, @alphabet) = @_;

    if (!$urandom) {
        open $urandom, '<:raw', '/dev/urandom' or die "/dev/urandom: $!\n";
    }
    my $bytes;
    read $urandom, $bytes, $n;
    return join '', map { $alphabet[ord($_) % @alphabet] } split //, $bytes;
}


1;
