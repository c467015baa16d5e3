
/*
 * libFuzzer harness for ngx_http_inbotpay_parse_amount(): the first byte
 * picks the maximum (one of a few, or the next 8 bytes of the input), the
 * rest is the text.  The result is compared with a plain reference: digits
 * only, no leading zero, from 1 to max; *amount is left alone on failure.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_inbotpay_crypto.h"
#include "fuzz.h"


static const int64_t  fuzz_max[] = {
    INT64_MAX, INT64_MAX - 1, 1, 0, -1, INT64_MIN, 9, 10, 100, 10000,
    2500, 100000, 999999999, 1000000000, 9999999999999, 922337203685477580
};

#define FUZZ_NMAX  (sizeof(fuzz_max) / sizeof(fuzz_max[0]))
#define FUZZ_SENTINEL  ((int64_t) 0x5a5a5a5a5a5a5a5a)


static ngx_int_t
fuzz_reference(const u_char *p, size_t len, int64_t max, int64_t *value)
{
    size_t            i;
    unsigned __int128 v;

    if (len == 0 || p[0] == '0') {
        return NGX_DECLINED;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return NGX_DECLINED;
        }

        v = v * 10 + (p[i] - '0');

        if (v > (unsigned __int128) INT64_MAX) {
            return NGX_DECLINED;
        }
    }

    if (max < 1 || v > (unsigned __int128) max) {
        return NGX_DECLINED;
    }

    *value = (int64_t) v;

    return NGX_OK;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char     *text;
    int64_t     max, amount, expect;
    ngx_int_t   rc, ref;
    ngx_uint_t  pick;

    if (size == 0) {
        return 0;
    }

    pick = fuzz_take(&data, &size, 1);

    if (pick % (FUZZ_NMAX + 1) == FUZZ_NMAX) {
        max = (int64_t) fuzz_take(&data, &size, 8);

    } else {
        max = fuzz_max[pick % (FUZZ_NMAX + 1)];
    }

    text = fuzz_copy(data, size);

    amount = FUZZ_SENTINEL;
    expect = FUZZ_SENTINEL;

    rc = ngx_http_inbotpay_parse_amount(text, size, max, &amount);
    ref = fuzz_reference(text, size, max, &expect);

    if (rc != ref || amount != expect) {
        fprintf(stderr, "fuzz: parse_amount(\"%.*s\", max %lld) "
                "gave rc %ld value %lld, expected rc %ld value %lld\n",
                (int) size, text, (long long) max, (long) rc,
                (long long) amount, (long) ref, (long long) expect);
        abort();
    }

    free(text);

    return 0;
}
