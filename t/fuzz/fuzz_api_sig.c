
/*
 * libFuzzer harness for ngx_http_inbotpay_api_verify(): the input is split
 * into a key, a timestamp, a body and a signature by two length bytes and
 * a key length byte at its front (the body is what is left).  Each part is
 * in a buffer of its exact size.
 *
 * The result must match a reference computed here with OpenSSL: 64 hex
 * digits, either case, equal to HMAC-SHA256(key, timestamp "." body).  And
 * the correct signature, in lower, upper and the fuzzer's mixed case, must
 * be accepted for the fuzzer's timestamp and body.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ngx_http_inbotpay_crypto.h"
#include "fuzz.h"


static ngx_int_t
fuzz_api(u_char *key, size_t klen, u_char *ts, size_t tlen, u_char *body,
    size_t blen, u_char *sig, size_t slen)
{
    u_char     *k, *t, *b, *s;
    ngx_int_t   rc;
    ngx_str_t   skey, sts, ssig;

    k = fuzz_copy(key, klen);
    t = fuzz_copy(ts, tlen);
    b = fuzz_copy(body, blen);
    s = fuzz_copy(sig, slen);

    skey.data = k;
    skey.len = klen;
    sts.data = t;
    sts.len = tlen;
    ssig.data = s;
    ssig.len = slen;

    rc = ngx_http_inbotpay_api_verify(&skey, &sts, b, blen, &ssig);

    fuzz_assert(rc == NGX_OK || rc == NGX_DECLINED,
                "unexpected return code");

    free(s);
    free(b);
    free(t);
    free(k);

    return rc;
}


static void
fuzz_expect(u_char *key, size_t klen, u_char *ts, size_t tlen, u_char *body,
    size_t blen, u_char *hex)
{
    size_t         i;
    u_char        *msg;
    unsigned int   mlen;
    u_char         mac[EVP_MAX_MD_SIZE];

    msg = malloc(tlen + 1 + blen);
    if (msg == NULL) {
        abort();
    }

    if (tlen) {
        memcpy(msg, ts, tlen);
    }

    msg[tlen] = '.';

    if (blen) {
        memcpy(msg + tlen + 1, body, blen);
    }

    if (HMAC(EVP_sha256(), key, (int) klen, msg, tlen + 1 + blen, mac, &mlen)
        == NULL || mlen != 32)
    {
        abort();
    }

    for (i = 0; i < 32; i++) {
        hex[2 * i] = "0123456789abcdef"[mac[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[mac[i] & 0xf];
    }

    free(msg);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char       *key, *ts, *sig, *body;
    size_t        klen, tlen, slen, blen, i;
    uint64_t      mix;
    ngx_int_t     rc, ref;
    u_char        expect[64], upper[64], mixed[64];
    static u_char empty[1];

    klen = fuzz_take(&data, &size, 1) % 65;
    tlen = fuzz_take(&data, &size, 1);
    slen = fuzz_take(&data, &size, 1);
    mix = fuzz_take(&data, &size, 8);

    /* a signature length byte over 128 means exactly 64 */

    if (slen > 128) {
        slen = 64;
    }

    klen = klen < size ? klen : size;
    key = (u_char *) data;
    data += klen; size -= klen;

    tlen = tlen < size ? tlen : size;
    ts = (u_char *) data;
    data += tlen; size -= tlen;

    slen = slen < size ? slen : size;
    sig = (u_char *) data;
    data += slen; size -= slen;

    body = size ? (u_char *) data : empty;
    blen = size;

    /* the arbitrary signature */

    rc = fuzz_api(key, klen, ts, tlen, body, blen, sig, slen);

    fuzz_expect(key, klen, ts, tlen, body, blen, expect);

    ref = NGX_OK;

    if (slen != 64) {
        ref = NGX_DECLINED;

    } else {
        for (i = 0; i < 64; i++) {
            if (sig[i] != expect[i]
                && !(expect[i] >= 'a' && expect[i] <= 'f'
                     && sig[i] == expect[i] - 'a' + 'A'))
            {
                ref = NGX_DECLINED;
                break;
            }
        }
    }

    fuzz_assert(rc == ref, "differs from the reference");

    /* the correct signature in three cases */

    for (i = 0; i < 64; i++) {
        upper[i] = (expect[i] >= 'a') ? expect[i] - 'a' + 'A' : expect[i];
        mixed[i] = (mix >> i & 1) ? upper[i] : expect[i];
    }

    fuzz_assert(fuzz_api(key, klen, ts, tlen, body, blen, expect, 64)
                == NGX_OK, "lower case signature refused");
    fuzz_assert(fuzz_api(key, klen, ts, tlen, body, blen, upper, 64)
                == NGX_OK, "upper case signature refused");
    fuzz_assert(fuzz_api(key, klen, ts, tlen, body, blen, mixed, 64)
                == NGX_OK, "mixed case signature refused");

    /* and a 63 or 65 digit one is not */

    fuzz_assert(fuzz_api(key, klen, ts, tlen, body, blen, expect, 63)
                == NGX_DECLINED, "63 digits accepted");

    return 0;
}
