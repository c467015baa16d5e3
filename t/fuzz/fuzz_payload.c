
/*
 * libFuzzer harness for the signed invoice payloads.  The first byte picks
 * the mode:
 *
 *   even: the rest is a payload, verified with a fixed key; anything it
 *         accepts must be exactly what signing its numbers gives, with a
 *         positive player and amount and a nonce of at least 0;
 *
 *   odd:  the next 24 bytes are the player, amount and nonce, one byte
 *         picks the currency; they are signed into a buffer of exactly 128
 *         bytes.  For valid numbers the payload must verify to the same
 *         numbers, and fail with another currency or key; the remaining
 *         bytes then describe one change (replace, insert or delete a byte,
 *         or cut the payload), after which verification must fail.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_inbotpay_crypto.h"
#include "fuzz.h"


#define FUZZ_KEY    "0123456789abcdef0123456789abcdef"
#define FUZZ_KEY2   "0123456789abcdef0123456789abcdeF"

static const char  *fuzz_currencies[] = { "XTR", "USD", "EUR", "", "xtr" };

#define FUZZ_NCUR  (sizeof(fuzz_currencies) / sizeof(fuzz_currencies[0]))


static ngx_int_t
fuzz_verify(u_char *p, size_t len, const char *key, const char *currency,
    ngx_http_inbotpay_invoice_t *inv)
{
    u_char     *copy, *k, *c;
    ngx_int_t   rc;
    ngx_str_t   payload, skey, scur;

    copy = fuzz_copy(p, len);
    k = fuzz_copy((const uint8_t *) key, strlen(key));
    c = fuzz_copy((const uint8_t *) currency, strlen(currency));

    payload.data = copy;
    payload.len = len;
    skey.data = k;
    skey.len = strlen(key);
    scur.data = c;
    scur.len = strlen(currency);

    rc = ngx_http_inbotpay_invoice_verify(&payload, &skey, &scur, inv);

    fuzz_assert(rc == NGX_OK || rc == NGX_DECLINED, "unexpected rc");

    free(c);
    free(k);
    free(copy);

    return rc;
}


static size_t
fuzz_sign(u_char *out, const char *key, const char *currency,
    ngx_http_inbotpay_invoice_t *inv)
{
    u_char     *k, *c;
    size_t      n;
    ngx_str_t   skey, scur;

    k = fuzz_copy((const uint8_t *) key, strlen(key));
    c = fuzz_copy((const uint8_t *) currency, strlen(currency));

    skey.data = k;
    skey.len = strlen(key);
    scur.data = c;
    scur.len = strlen(currency);

    n = ngx_http_inbotpay_invoice_sign(out, &skey, &scur, inv);

    fuzz_assert(n <= NGX_HTTP_INBOTPAY_PAYLOAD_LEN, "payload too long");

    free(c);
    free(k);

    return n;
}


static void
fuzz_arbitrary(const uint8_t *data, size_t size)
{
    size_t                        n;
    u_char                       *again;
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    ngx_http_inbotpay_invoice_t   inv;

    for (i = 0; i < FUZZ_NCUR; i++) {
        memset(&inv, 0x5a, sizeof(inv));

        rc = fuzz_verify((u_char *) data, size, FUZZ_KEY, fuzz_currencies[i],
                         &inv);

        if (rc != NGX_OK) {
            continue;
        }

        fuzz_assert(inv.player > 0 && inv.amount > 0 && inv.nonce >= 0,
                    "accepted invalid numbers");

        again = malloc(NGX_HTTP_INBOTPAY_PAYLOAD_LEN);
        if (again == NULL) {
            abort();
        }

        n = fuzz_sign(again, FUZZ_KEY, fuzz_currencies[i], &inv);

        fuzz_assert(n == size && memcmp(again, data, n) == 0,
                    "accepted a payload that signing does not give");

        free(again);
    }
}


static void
fuzz_round_trip(const uint8_t *data, size_t size)
{
    u_char                       *out, *mut;
    size_t                        n, m, pos;
    ngx_int_t                     rc;
    ngx_uint_t                    op, c, cur, other;
    const char                   *currency;
    ngx_http_inbotpay_invoice_t   inv, got;

    inv.player = (int64_t) fuzz_take(&data, &size, 8);
    inv.amount = (int64_t) fuzz_take(&data, &size, 8);
    inv.nonce = (int64_t) fuzz_take(&data, &size, 8);
    cur = fuzz_take(&data, &size, 1) % FUZZ_NCUR;
    currency = fuzz_currencies[cur];

    out = malloc(NGX_HTTP_INBOTPAY_PAYLOAD_LEN);
    if (out == NULL) {
        abort();
    }

    n = fuzz_sign(out, FUZZ_KEY, currency, &inv);

    if (inv.player <= 0 || inv.amount <= 0 || inv.nonce < 0) {

        /* not an invoice we hand out: it must not verify either */

        if (n) {
            fuzz_assert(fuzz_verify(out, n, FUZZ_KEY, currency, &got)
                        == NGX_DECLINED, "invalid numbers verified");
        }

        free(out);
        return;
    }

    fuzz_assert(n > 0, "could not sign valid numbers");

    memset(&got, 0, sizeof(got));
    rc = fuzz_verify(out, n, FUZZ_KEY, currency, &got);

    fuzz_assert(rc == NGX_OK, "round trip failed");
    fuzz_assert(got.player == inv.player && got.amount == inv.amount
                && got.nonce == inv.nonce, "round trip changed the numbers");

    other = (cur + 1) % FUZZ_NCUR;
    fuzz_assert(fuzz_verify(out, n, FUZZ_KEY, fuzz_currencies[other], &got)
                == NGX_DECLINED, "verified with another currency");
    fuzz_assert(fuzz_verify(out, n, FUZZ_KEY2, currency, &got)
                == NGX_DECLINED, "verified with another key");

    /* one change */

    op = fuzz_take(&data, &size, 1) % 4;
    pos = fuzz_take(&data, &size, 1);
    c = fuzz_take(&data, &size, 1);

    mut = malloc(n + 1);
    if (mut == NULL) {
        abort();
    }

    switch (op) {

    case 0: /* replace a byte with another one */
        pos %= n;
        memcpy(mut, out, n);
        if (mut[pos] == (u_char) c) {
            c ^= 1;
        }
        mut[pos] = (u_char) c;
        m = n;
        break;

    case 1: /* insert a byte */
        pos %= n + 1;
        memcpy(mut, out, pos);
        mut[pos] = (u_char) c;
        memcpy(mut + pos + 1, out + pos, n - pos);
        m = n + 1;
        break;

    case 2: /* delete a byte */
        pos %= n;
        memcpy(mut, out, pos);
        memcpy(mut + pos, out + pos + 1, n - pos - 1);
        m = n - 1;
        break;

    default: /* cut the payload */
        m = pos % n;
        memcpy(mut, out, m);
        break;
    }

    rc = fuzz_verify(mut, m, FUZZ_KEY, currency, &got);

    if (rc != NGX_DECLINED) {
        fprintf(stderr, "fuzz: changed payload verified, op %lu at %lu: "
                "\"%.*s\" -> \"%.*s\"\n", (unsigned long) op,
                (unsigned long) pos, (int) n, out, (int) m, mut);
        abort();
    }

    free(mut);
    free(out);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_uint_t  mode;

    if (size == 0) {
        return 0;
    }

    mode = fuzz_take(&data, &size, 1);

    if (mode & 1) {
        fuzz_round_trip(data, size);

    } else {
        fuzz_arbitrary(data, size);
    }

    return 0;
}
