#!/bin/bash
#
# Runs the whole Perl suite (prove -r t/) against the module built with
# AddressSanitizer and UndefinedBehaviorSanitizer, and fails if the suite
# fails or if any sanitizer wrote a report.
#
#     t/asan.sh [PROVE ARGS...]      default: -r t/
#
# The module is built in build-asan/ from nginx's sources configured as for
# build/, plus the sanitizer flags.  It is loaded into Debian's nginx, which
# is not instrumented, so the sanitizer runtimes are preloaded into nginx
# (INBOTPAY_NGINX_ENV, read by t/lib/InBotPay/Test.pm).  Reports are written
# to build-asan/logs/asan.PID and ubsan.PID.
#
# UBSan: with gcc's runtimes, a UBSan report ignores log_path and goes to
# stderr, which nginx sends to its error log.  So the test directories are
# kept (INBOTPAY_KEEP=1, under build-asan/tmp/) and their error.log and
# *.out files are searched for sanitizer reports too.
#
# Leaks: LeakSanitizer runs when an nginx process exits.  A worker's
# connection and event arrays (ngx_event_process_init) are never freed; at
# exit the worker destroys the cycle pool that pointed to them, so LSan may
# report them as an "Indirect leak" from ngx_alloc.  Debian's nginx is
# stripped, so an LSan suppression cannot name that function, and a
# suppression by module (/usr/sbin/nginx) would hide every leak.  Instead a
# leak report is ignored (and counted) only when each of its leaks is
# indirect and allocated by nginx alone: every frame of its stack is in
# /usr/sbin/nginx, libc or the sanitizer.  A frame in the module, hiredis,
# yajl or OpenSSL, or any direct leak, fails the run.
#
# Environment: NGX_SRC (default /usr/share/nginx/src), CC (default gcc),
# ASAN_KEEP_LOGS=1 keeps the logs of an earlier run.

set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2

NGX_SRC=${NGX_SRC:-/usr/share/nginx/src}
CC=${CC:-gcc}
B=$ROOT/build-asan
LOGS=$B/logs
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer"
SAN="$SAN -fno-sanitize-recover=all"

# the Lua scripts embedded into the module, where config expects them

make "$ROOT/build/gen/ngx_http_inbotpay_scripts.c" || exit 2

if [ ! -f "$B/Makefile" ] || [ "$ROOT/config" -nt "$B/Makefile" ] \
    || [ "$0" -nt "$B/Makefile" ]
then
    mkdir -p "$B"
    echo "# configuring nginx into build-asan/"
    (
        cd "$NGX_SRC" && . ./conf_flags \
        && ./configure "${NGX_CONF_FLAGS[@]}" \
            --with-cc="$CC" --with-cc-opt="$SAN" \
            --with-ld-opt="-fsanitize=address,undefined" \
            --add-dynamic-module="$ROOT" --builddir="$B"
    ) > "$B/configure.log" 2>&1 \
    || { tail -n 20 "$B/configure.log"; exit 2; }
fi

echo "# building build-asan/ngx_http_inbotpay_module.so"
make -f "$B/Makefile" -C "$NGX_SRC" -j"$(nproc)" modules \
    > "$B/make.log" 2>&1 \
|| { tail -n 30 "$B/make.log"; exit 2; }

MODULE=$B/ngx_http_inbotpay_module.so

LIBASAN=$(readlink -f "$($CC -print-file-name=libasan.so)")
LIBUBSAN=$(readlink -f "$($CC -print-file-name=libubsan.so)")

for lib in "$LIBASAN" "$LIBUBSAN"; do
    if [ ! -f "$lib" ]; then
        echo "asan.sh: no sanitizer runtime $lib" >&2
        exit 2
    fi
done

# the workers run as root in the tests, but keep the directory writable
# in case they do not

if [ -z "${ASAN_KEEP_LOGS:-}" ]; then
    rm -rf "$LOGS" "$B/tmp"
fi

mkdir -p "$LOGS" "$B/tmp"
chmod 1777 "$LOGS"

export TMPDIR=$B/tmp
export INBOTPAY_KEEP=1

ASAN="detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0"
ASAN="$ASAN:log_path=$LOGS/asan"
UBSAN="print_stacktrace=1:log_path=$LOGS/ubsan"

export INBOTPAY_MODULE=$MODULE
export INBOTPAY_NGINX_ENV="LD_PRELOAD=$LIBASAN:$LIBUBSAN ASAN_OPTIONS=$ASAN UBSAN_OPTIONS=$UBSAN"

echo "# INBOTPAY_MODULE=$INBOTPAY_MODULE"
echo "# INBOTPAY_NGINX_ENV=$INBOTPAY_NGINX_ENV"

if [ $# -eq 0 ]; then
    set -- -r t/
fi

prove "$@"
rc=$?

# the reports: sanitizer log files, and UBSan's in the test directories

bad=0
benign=0

for f in $(find "$LOGS" -type f -name '*san.*' | sort); do
    if perl -e '
        local $/;
        my $r = <>;
        exit 1 unless $r =~ /ERROR: LeakSanitizer/
                    && $r !~ /ERROR: (?:AddressSanitizer|UndefinedBehavior)/
                    && $r !~ /runtime error:/;
        for my $leak (split /\n(?=(?:Direct|Indirect) leak of )/, $r) {
            next unless $leak =~ /^(Direct|Indirect) leak of/;
            exit 1 if $1 eq "Direct";
            for (grep /^\s+#\d+ /, split /\n/, $leak) {
                next if m{\(/usr/sbin/nginx\+0x|libsanitizer/|\.\./sysdeps/|\.\./csu/};
                exit 1;
            }
        }
        exit 0;' "$f"
    then
        benign=$((benign + 1))
        continue
    fi

    echo "#### ${f#"$ROOT"/}"
    cat "$f"
    bad=$((bad + 1))
done

for f in $(grep -l -E 'runtime error:|(Address|Leak|UndefinedBehavior)Sanitizer' \
               "$B"/tmp/*/error.log "$B"/tmp/*/*.out 2>/dev/null | sort)
do
    echo "#### ${f#"$ROOT"/}"
    grep -E -A 12 'runtime error:|Sanitizer' "$f" | head -n 60
    bad=$((bad + 1))
done

if [ "$benign" -gt 0 ]; then
    echo "# $benign exit report(s) of nginx's own event arrays ignored"
fi

if [ "$bad" -gt 0 ]; then
    echo "asan.sh: $bad file(s) with sanitizer reports" >&2
    exit 1
fi

if [ "$rc" -ne 0 ]; then
    echo "asan.sh: prove failed (no sanitizer report)" >&2
    exit "$rc"
fi

echo "asan.sh: no sanitizer report"
rm -rf "$B/tmp"
