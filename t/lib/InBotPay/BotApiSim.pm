package InBotPay::BotApiSim;

# A simulated Telegram Bot API for the tests.
#
# It serves POST /bot<TOKEN>/<method> with a JSON body on a loopback socket
# and answers the way api.telegram.org does: {"ok":true,"result":...} or
# {"ok":false,"error_code":N,"description":"..."}. Every call is recorded as
# one JSON line in the log file. The harness (InBotPay::Test) runs it in a
# forked child; one process serves all connections through a select loop,
# HTTP/1.0 and HTTP/1.1, with or without keep-alive.
#
# The harness controls it through POST /__sim/fail and POST /__sim/clear,
# which need the header X-Sim-Control with the per-run control key. nginx
# cannot forward that header (proxy_pass_request_headers is off), so the
# module never reaches the control endpoint.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(EINTR EAGAIN EWOULDBLOCK);
use Time::HiRes qw(time);

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

my %METHODS = map { lc($_) => $_ } qw(
    getMe sendMessage sendInvoice answerCallbackQuery answerPreCheckoutQuery
    editMessageText editMessageReplyMarkup deleteMessage refundStarPayment
);

my %STATUS_TEXT = (
    200 => 'OK', 400 => 'Bad Request', 401 => 'Unauthorized',
    403 => 'Forbidden', 404 => 'Not Found', 413 => 'Payload Too Large',
    429 => 'Too Many Requests', 500 => 'Internal Server Error',
);


# new(listen => $socket, token => $token, log => $path, control_key => $key,
#     watch_pid => $pid, pid_file_dir => $dir)
sub new {
    my ($class, %args) = @_;

    my $self = bless {
        listen      => $args{listen},
        token       => $args{token},
        log         => $args{log},
        control_key => $args{control_key} // '',
        watch_pid   => $args{watch_pid},
        guard_dir   => $args{guard_dir},
        next_msg_id => 1000,
        rules       => [],
        conns       => {},
        pending     => [],
    }, $class;

    my ($bot_id) = $self->{token} =~ /^(\d+):/;
    $self->{bot} = {
        id         => ($bot_id // 8012345678) + 0,
        is_bot     => JSON::PP::true,
        first_name => 'InBotPay Demo',
        username   => 'InBotPayDemoBot',
    };

    open my $fh, '>>', $self->{log} or die "open $self->{log}: $!\n";
    $fh->autoflush(1);
    $self->{log_fh} = $fh;

    return $self;
}


# Serve until SIGTERM, or until the harness that started us is gone. In the
# second case, also stop the servers the harness listed in its guard file,
# so that a killed test leaves no processes behind.
sub run {
    my ($self) = @_;

    my $stop = 0;
    local $SIG{TERM} = sub { $stop = 1 };
    local $SIG{INT}  = sub { $stop = 1 };
    local $SIG{PIPE} = 'IGNORE';

    my $sel = IO::Select->new($self->{listen});
    $self->{sel} = $sel;

    while (!$stop) {
        if ($self->{watch_pid} && getppid() != $self->{watch_pid}) {
            $self->_guard_kill;
            last;
        }

        my $timeout = 0.5;
        if (@{ $self->{pending} }) {
            my $due = $self->{pending}[0]{due} - time;
            $timeout = $due < 0 ? 0 : $due < $timeout ? $due : $timeout;
        }

        for my $fh ($sel->can_read($timeout)) {
            if ($fh == $self->{listen}) {
                my $c = $self->{listen}->accept or next;
                $c->autoflush(1);
                $sel->add($c);
                $self->{conns}{ fileno $c } = { fh => $c, buf => '' };
                next;
            }
            $self->_read($fh);
        }

        $self->_flush_pending;
    }

    for my $conn (values %{ $self->{conns} }) {
        close $conn->{fh};
    }
    return;
}


sub _guard_kill {
    my ($self) = @_;

    my $dir = $self->{guard_dir} or return;
    my @pgids;

    for my $file (glob "$dir/*.pgid") {
        open my $fh, '<', $file or next;
        my $pgid = <$fh>;
        push @pgids, $1 if defined $pgid && $pgid =~ /^(\d+)/;
    }

    kill 'TERM', map { -$_ } @pgids;
    for (1 .. 20) {
        last unless grep { kill 0, -$_ } @pgids;
        select undef, undef, undef, 0.1;
    }
    kill 'KILL', map { -$_ } @pgids;
    return;
}


sub _close {
    my ($self, $fh) = @_;

    $self->{sel}->remove($fh);
    delete $self->{conns}{ fileno $fh };
    close $fh;
    return;
}


sub _read {
    my ($self, $fh) = @_;

    my $conn = $self->{conns}{ fileno $fh } or return;
    my $n = sysread $fh, my $chunk, 65536;

    if (!defined $n) {
        return if $! == EINTR || $! == EAGAIN || $! == EWOULDBLOCK;
        return $self->_close($fh);
    }
    if ($n == 0) {
        return $self->_close($fh);
    }

    $conn->{buf} .= $chunk;
    return $self->_process($conn);
}


# Answers the complete requests in the connection's buffer. A connection
# waiting for a delayed answer, or one we hang on purpose, reads on but
# parses nothing until that answer is out.
sub _process {
    my ($self, $conn) = @_;

    my $fd = fileno $conn->{fh};

    while (!$conn->{busy}) {
        my $req = _parse_request(\$conn->{buf});
        last unless $req;

        if ($req->{error}) {
            return $self->_send($conn,
                _error(400, "Bad Request: $req->{error}"), close => 1);
        }

        $self->_handle($conn, $req);
        return unless $self->{conns}{$fd};
    }
    return;
}


# Takes one complete request off the front of the buffer. Returns undef
# while the request is incomplete.
sub _parse_request {
    my ($buf) = @_;

    my $end = index $$buf, "\r\n\r\n";
    return undef if $end < 0;

    my $head = substr $$buf, 0, $end;
    my ($line, @lines) = split /\r\n/, $head;
    my ($method, $target, $version) =
        $line =~ m{^([A-Z]+) (\S+) HTTP/(1\.[01])$}
        or do { $$buf = ''; return { error => 'invalid request line' } };

    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        $h{ lc $k } = $v;
    }

    if (defined $h{'transfer-encoding'}) {
        $$buf = '';
        return { error => 'chunked bodies are not supported here' };
    }

    my $len = $h{'content-length'} // 0;
    return undef if length($$buf) < $end + 4 + $len;

    my $body = substr $$buf, $end + 4, $len;
    substr($$buf, 0, $end + 4 + $len) = '';

    my $conn_hdr = lc($h{connection} // '');
    my $keep = $version eq '1.1' ? $conn_hdr ne 'close'
                                 : $conn_hdr eq 'keep-alive';

    return { method => $method, target => $target, headers => \%h,
             body => $body, keep => $keep };
}


sub _handle {
    my ($self, $conn, $req) = @_;

    my $close = !$req->{keep};

    if ($req->{target} =~ m{^/__sim/(\w+)$}) {
        return $self->_control($conn, $1, $req, $close);
    }

    my ($token, $api_method) = $req->{target} =~ m{^/bot([^/]*)/([^/?]*)};
    my $params = {};
    my $body_error;

    if ($req->{body} ne '') {
        $params = eval { $JSON->decode($req->{body}) };
        if (!defined $params || ref $params ne 'HASH') {
            $body_error = "can't parse JSON object";
            $params = undef;
        }
    }

    my $record = {
        time   => time,
        method => $api_method,
        token  => $token,
        params => $params,
    };
    $record->{body} = substr($req->{body}, 0, 1024) if $body_error;

    my ($status, $answer);

    if (!defined $token || $token ne $self->{token}) {
        ($status, $answer) = _error(401, 'Unauthorized');

    } elsif (!defined $api_method || !$METHODS{ lc $api_method }) {
        ($status, $answer) = _error(404, 'Not Found');

    } elsif ($body_error) {
        ($status, $answer) = _error(400, "Bad Request: $body_error");

    } elsif (my $rule = $self->_take_rule($api_method, $params)) {
        $record->{injected} = $rule->{code};

        if ($rule->{code} eq 'close') {
            $self->_log($record, 0);
            return $self->_close($conn->{fh});
        }
        if ($rule->{code} eq 'hang') {
            $self->_log($record, 0);
            $conn->{busy} = 1;
            return;
        }

        ($status, $answer) = _injected($rule);
        if (!defined $status) {
            ($status, $answer) = $self->_call($api_method, $params);
        }
        if ($rule->{delay}) {
            $self->_log($record, $status);
            $conn->{busy} = 1;
            push @{ $self->{pending} }, {
                due => time + $rule->{delay}, conn => $conn,
                status => $status, answer => $answer, close => $close,
            };
            @{ $self->{pending} } =
                sort { $a->{due} <=> $b->{due} } @{ $self->{pending} };
            return;
        }

    } else {
        ($status, $answer) = $self->_call($api_method, $params);
    }

    $self->_log($record, $status);
    return $self->_send($conn, $status, $answer, close => $close);
}


sub _flush_pending {
    my ($self) = @_;

    my $now = time;
    while (@{ $self->{pending} } && $self->{pending}[0]{due} <= $now) {
        my $p = shift @{ $self->{pending} };
        next unless $self->{conns}{ fileno($p->{conn}{fh}) // -1 };
        $p->{conn}{busy} = 0;
        $self->_send($p->{conn}, $p->{status}, $p->{answer},
                     close => $p->{close});
        $self->_process($p->{conn})
            if $self->{conns}{ fileno($p->{conn}{fh}) // -1 };
    }
    return;
}


sub _log {
    my ($self, $record, $status) = @_;

    $record->{http_status} = $status;
    syswrite $self->{log_fh}, $JSON->encode($record) . "\n";
    return;
}


sub _send {
    my ($self, $conn, $status, $answer, %opt) = @_;

    my $body = $JSON->encode($answer);
    my $head = sprintf "HTTP/1.1 %d %s\r\n", $status,
                       $STATUS_TEXT{$status} // 'Unknown';
    $head .= "Server: nginx/1.18.0\r\n"
           . "Content-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . ($opt{close} ? "Connection: close\r\n" : '')
           . "\r\n";

    my $data = $head . $body;
    my $fh = $conn->{fh};

    while (length $data) {
        my $n = syswrite $fh, $data;
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN;
            return $self->_close($fh);
        }
        substr($data, 0, $n) = '';
    }

    $self->_close($fh) if $opt{close};
    return;
}


sub _error {
    my ($code, $description, %extra) = @_;

    return ($code, { ok => JSON::PP::false, error_code => $code,
                     description => $description, %extra });
}


sub _ok {
    my ($result) = @_;

    return (200, { ok => JSON::PP::true, result => $result });
}


# Failure injection.

sub _control {
    my ($self, $conn, $action, $req, $close) = @_;

    if (($req->{headers}{'x-sim-control'} // '') ne $self->{control_key}) {
        return $self->_send($conn, _error(404, 'Not Found'), close => $close);
    }

    my $args = eval { $JSON->decode($req->{body} || '{}') } || {};

    if ($action eq 'fail') {
        push @{ $self->{rules} }, {
            method      => $args->{method} // '*',
            code        => $args->{code} // 500,
            times       => $args->{times},
            retry_after => $args->{retry_after} // 5,
            delay       => $args->{delay},
            chat_id     => $args->{chat_id},
            description => $args->{description},
        };
    } elsif ($action eq 'clear') {
        $self->{rules} = [];
    } elsif ($action ne 'state') {
        return $self->_send($conn, _error(404, 'Not Found'), close => $close);
    }

    return $self->_send($conn, _ok({ rules => $self->{rules} }),
                        close => $close);
}


sub _take_rule {
    my ($self, $method, $params) = @_;

    for my $rule (@{ $self->{rules} }) {
        next if $rule->{method} ne '*' && lc $rule->{method} ne lc $method;
        next if defined $rule->{chat_id}
             && ($params->{chat_id} // '') ne $rule->{chat_id};
        next if defined $rule->{times} && $rule->{times} <= 0;

        $rule->{times}-- if defined $rule->{times};
        return {%$rule};
    }
    return undef;
}


# Returns (status, answer) for an injected error, or nothing when the rule
# only delays a normal answer (code 200).
sub _injected {
    my ($rule) = @_;

    my $code = $rule->{code};

    if ($code == 403) {
        return _error(403, $rule->{description}
                           // 'Forbidden: bot was blocked by the user');
    }
    if ($code == 429) {
        my $after = $rule->{retry_after};
        return _error(429, "Too Many Requests: retry after $after",
                      parameters => { retry_after => $after + 0 });
    }
    if ($code == 200) {
        return;
    }
    return _error($code, $rule->{description}
                         // ($code >= 500 ? 'Internal Server Error'
                                          : 'Bad Request: injected'));
}


# The Bot API methods.

sub _call {
    my ($self, $method, $p) = @_;

    $method = $METHODS{ lc $method };

    return _ok($self->{bot}) if $method eq 'getMe';

    if ($method eq 'sendMessage') {
        my @err = _check_chat($p);
        return @err if @err;

        my $text = $p->{text};
        return _error(400, 'Bad Request: message text is empty')
            if !defined $text || ref $text || $text !~ /\S/;
        return _error(400, 'Bad Request: message is too long')
            if length $text > 4096;

        @err = _check_markup($p->{reply_markup});
        return @err if @err;

        my $msg = $self->_message($p);
        $msg->{text} = $text;
        $msg->{reply_markup} = $p->{reply_markup} if $p->{reply_markup};
        return _ok($msg);
    }

    if ($method eq 'sendInvoice') {
        my @err = _check_chat($p);
        return @err if @err;
        @err = _check_invoice($p);
        return @err if @err;
        @err = _check_markup($p->{reply_markup});
        return @err if @err;

        my $total = 0;
        $total += $_->{amount} for @{ $p->{prices} };

        my $msg = $self->_message($p);
        $msg->{invoice} = {
            title           => $p->{title},
            description     => $p->{description},
            start_parameter => $p->{start_parameter} // '',
            currency        => $p->{currency},
            total_amount    => $total,
        };
        $msg->{reply_markup} = $p->{reply_markup} // { inline_keyboard => [[
            { text => "Pay \x{2B50}\x{FE0F}$total", pay => JSON::PP::true },
        ]] };
        return _ok($msg);
    }

    if ($method eq 'answerCallbackQuery') {
        return _missing('callback_query_id')
            if !defined $p->{callback_query_id}
               || $p->{callback_query_id} eq '';
        return _error(400, 'Bad Request: MESSAGE_TOO_LONG')
            if defined $p->{text} && length $p->{text} > 200;
        return _ok(JSON::PP::true);
    }

    if ($method eq 'answerPreCheckoutQuery') {
        return _missing('pre_checkout_query_id')
            if !defined $p->{pre_checkout_query_id}
               || $p->{pre_checkout_query_id} eq '';
        return _missing('ok') if !defined $p->{ok};
        if (!$p->{ok} && (!defined $p->{error_message}
                          || $p->{error_message} eq '')) {
            return _error(400,
                'Bad Request: error_message must be non-empty');
        }
        return _ok(JSON::PP::true);
    }

    if ($method eq 'editMessageText') {
        return _error(400, 'Bad Request: message text is empty')
            if !defined $p->{text} || $p->{text} !~ /\S/;
        return _ok(JSON::PP::true) if defined $p->{inline_message_id};
        my @err = _check_chat($p);
        return @err if @err;
        my $msg = $self->_message($p);
        $msg->{message_id} = $p->{message_id} + 0;
        $msg->{text} = $p->{text};
        return _ok($msg);
    }

    if ($method eq 'refundStarPayment') {
        return _missing('user_id') unless defined $p->{user_id};
        return _missing('telegram_payment_charge_id')
            unless defined $p->{telegram_payment_charge_id};
        return _ok(JSON::PP::true);
    }

    # editMessageReplyMarkup, deleteMessage
    return _ok(JSON::PP::true);
}


sub _missing {
    my ($name) = @_;

    return _error(400, "Bad Request: parameter \"$name\" is required");
}


sub _check_chat {
    my ($p) = @_;

    my $id = $p->{chat_id};

    return _error(400, 'Bad Request: chat_id is empty')
        if !defined $id || ref $id || $id eq '';
    return _error(400, 'Bad Request: chat not found')
        if $id !~ /^-?[1-9][0-9]{0,15}$/ && $id !~ /^\@\w{4,}$/;
    return;
}


sub _check_invoice {
    my ($p) = @_;

    for my $name (qw(title description payload currency prices)) {
        return _missing($name) unless defined $p->{$name};
    }

    my $title = $p->{title};
    return _error(400, 'Bad Request: INVOICE_TITLE_INVALID')
        if ref $title || length $title < 1 || length $title > 32;

    my $descr = $p->{description};
    return _error(400, 'Bad Request: INVOICE_DESCRIPTION_INVALID')
        if ref $descr || length $descr < 1 || length $descr > 255;

    my $payload = $p->{payload};
    my $bytes = ref $payload ? 0 : do {
        my $copy = $payload;
        utf8::encode($copy);
        length $copy;
    };
    return _error(400, 'Bad Request: INVOICE_PAYLOAD_INVALID')
        if $bytes < 1 || $bytes > 128;

    my $prices = $p->{prices};
    return _error(400, "Bad Request: can't parse prices JSON object")
        if ref $prices ne 'ARRAY';
    for my $price (@$prices) {
        return _error(400, "Bad Request: can't parse prices JSON object")
            if ref $price ne 'HASH' || !defined $price->{label}
               || !defined $price->{amount}
               || $price->{amount} !~ /^-?\d+$/;
        return _error(400, 'Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID')
            if $price->{amount} <= 0;
    }

    my $currency = $p->{currency};
    return _error(400, 'Bad Request: CURRENCY_INVALID')
        if ref $currency || $currency !~ /^[A-Z]{3}$/;

    if ($currency eq 'XTR') {
        return _error(400, 'Bad Request: STARS_INVOICE_INVALID')
            if @$prices != 1;
        return _error(400, 'Bad Request: PROVIDER_TOKEN_INVALID')
            if defined $p->{provider_token} && $p->{provider_token} ne '';
        return _error(400, 'Bad Request: STARS_INVOICE_INVALID')
            if $p->{max_tip_amount};
    } else {
        return _error(400, 'Bad Request: PAYMENT_PROVIDER_INVALID')
            if !defined $p->{provider_token} || $p->{provider_token} eq '';
        return _error(400, 'Bad Request: prices must be non-empty')
            if !@$prices;
    }
    return;
}


sub _check_markup {
    my ($markup) = @_;

    return unless defined $markup;
    return _error(400, "Bad Request: can't parse reply keyboard markup JSON "
                       . 'object')
        if ref $markup ne 'HASH';
    return unless defined $markup->{inline_keyboard};

    my $rows = $markup->{inline_keyboard};
    return _error(400, "Bad Request: can't parse inline keyboard button: "
                       . 'InlineKeyboardMarkup must be an Array of Arrays')
        if ref $rows ne 'ARRAY' || grep { ref $_ ne 'ARRAY' } @$rows;

    for my $button (map {@$_} @$rows) {
        return _error(400, 'Bad Request: BUTTON_TEXT_INVALID')
            if ref $button ne 'HASH' || !defined $button->{text}
               || $button->{text} eq '';
        next unless exists $button->{callback_data};

        my $data = $button->{callback_data};
        my $bytes = ref $data ? 0 : do {
            my $copy = $data;
            utf8::encode($copy);
            length $copy;
        };
        return _error(400, 'Bad Request: BUTTON_DATA_INVALID')
            if $bytes < 1 || $bytes > 64;
    }
    return;
}


sub _message {
    my ($self, $p) = @_;

    my $id = $p->{chat_id};
    my $chat;

    if ($id =~ /^\@/) {
        $chat = { id => -1001000000001, type => 'channel',
                  username => substr($id, 1) };
    } elsif ($id > 0) {
        $chat = { id => $id + 0, type => 'private' };
    } elsif ($id =~ /^-100/) {
        $chat = { id => $id + 0, type => 'supergroup' };
    } else {
        $chat = { id => $id + 0, type => 'group' };
    }

    return {
        message_id => $self->{next_msg_id}++,
        from       => $self->{bot},
        chat       => $chat,
        date       => int time,
    };
}


1;
