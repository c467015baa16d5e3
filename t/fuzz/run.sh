#!/bin/bash
#
# Builds the libFuzzer harnesses t/fuzz/fuzz_*.c into build/fuzz/ and runs
# each for FUZZ_SECONDS (default 60).  Run from anywhere; needs clang with
# its fuzzer runtime (Debian: clang, libclang-rt-dev), libyajl-dev,
# libssl-dev, and the configured nginx tree in build/ (made if missing).
#
#     t/fuzz/run.sh [NAME...]        NAME: update amount command payload api_sig
#
# Environment:
#     FUZZ_SECONDS   seconds per harness (default 60); 0 runs the corpus once
#     FUZZ_JOBS      harnesses run at the same time (default 1)
#     FUZZ_CC        compiler (default clang)
#     FUZZ_FLAGS     extra libFuzzer flags
#
# The seeds are t/fuzz/corpus/NAME/ (and t/fixtures/telegram/ for update);
# what the fuzzer adds goes to build/fuzz/corpus/NAME/, crashes, timeouts
# and out-of-memory inputs to build/fuzz/crashes/NAME/, logs to
# build/fuzz/logs/NAME.log.  Exits 1 if any harness found anything.

set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-1}
FUZZ_CC=${FUZZ_CC:-clang}
FUZZ_FLAGS=${FUZZ_FLAGS:-}
NGX_SRC=${NGX_SRC:-/usr/share/nginx/src}
OUT=$ROOT/build/fuzz

ALL=(update amount command payload api_sig)
NAMES=("${@:-${ALL[@]}}")

declare -A MAX_LEN=([update]=65536 [amount]=64 [command]=512
                    [payload]=512 [api_sig]=4096)

PURE="ngx_inbotpay_module/ngx_http_inbotpay_update.c
      ngx_inbotpay_module/ngx_http_inbotpay_crypto.c"

CFLAGS="-std=gnu99 -Wall -Wextra -Werror -Wno-unused-parameter -g -O1
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
        -I$ROOT/build -I$NGX_SRC/src/core -I$NGX_SRC/src/event
        -I$NGX_SRC/src/event/modules -I$NGX_SRC/src/os/unix
        -I$ROOT/ngx_inbotpay_module -I$ROOT/t/fuzz"

for n in "${NAMES[@]}"; do
    if [ ! -f "t/fuzz/fuzz_$n.c" ]; then
        echo "run.sh: no harness t/fuzz/fuzz_$n.c" >&2
        exit 2
    fi
done

# ngx_auto_config.h and ngx_auto_headers.h come from nginx's configure

if [ ! -f build/ngx_auto_config.h ]; then
    make "$ROOT/build/Makefile" || exit 2
fi

mkdir -p "$OUT/logs"

for n in "${NAMES[@]}"; do
    echo "# building build/fuzz/fuzz_$n"
    # shellcheck disable=SC2086
    $FUZZ_CC $CFLAGS "t/fuzz/fuzz_$n.c" $PURE -lyajl -lcrypto \
        -o "$OUT/fuzz_$n" || exit 2
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
    local n=$1 corpus=$OUT/corpus/$1 crashes=$OUT/crashes/$1
    local log=$OUT/logs/$1.log
    local seeds=("t/fuzz/corpus/$n") args=() rc

    [ "$n" = update ] && seeds+=(t/fixtures/telegram)
    [ -f "t/fuzz/$n.dict" ] && args+=("-dict=t/fuzz/$n.dict")

    mkdir -p "$corpus" "$crashes"

    if [ "$FUZZ_SECONDS" -gt 0 ]; then
        args+=("-max_total_time=$FUZZ_SECONDS")
    else
        args+=(-runs=0)
    fi

    # shellcheck disable=SC2086
    "$OUT/fuzz_$n" "${args[@]}" -max_len="${MAX_LEN[$n]:-4096}" \
        -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$crashes/" $FUZZ_FLAGS \
        "$corpus" "${seeds[@]}" > "$log" 2>&1
    rc=$?

    local execs cov
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+' "$log" \
          | tail -n 1)

    if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$crashes")" ]; then
        echo "not ok - fuzz_$n: exit $rc, ${execs:-?} runs, $cov"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz:)|runtime error' "$log" \
            | head -n 10 | sed 's/^/#   /'
        ls "$crashes" | sed "s|^|#   crash: build/fuzz/crashes/$n/|"
        echo "#   log: build/fuzz/logs/$n.log"
        return 1
    fi

    echo "ok - fuzz_$n: ${execs:-?} runs in ${FUZZ_SECONDS}s, $cov"
}

failed=0
pids=()

for n in "${NAMES[@]}"; do
    run_one "$n" > "$OUT/logs/$n.result" &
    pids+=($!)

    while [ "$(jobs -rp | wc -l)" -ge "$FUZZ_JOBS" ]; do
        wait -n
    done
done

for pid in "${pids[@]}"; do
    wait "$pid"
done

for n in "${NAMES[@]}"; do
    cat "$OUT/logs/$n.result"
    grep -q '^ok' "$OUT/logs/$n.result" || failed=1
done

exit $failed
