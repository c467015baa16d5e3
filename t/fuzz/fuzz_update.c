
/*
 * libFuzzer harness for the Telegram Update parser: any bytes as a webhook
 * body, parsed with an arena of exactly len bytes (as the module does, less
 * its one spare byte), so that ASan sees a string written past it.
 *
 * Besides memory errors it checks what the parser promises: an error
 * message with every failure and none with success, a non-negative
 * update_id, a known kind, strings inside the arena and valid UTF-8, and
 * the same result for the same body.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_inbotpay_update.h"
#include "fuzz.h"


static void fuzz_check_str(ngx_str_t *s, u_char *arena, size_t len,
    const char *name);
static ngx_uint_t fuzz_utf8(u_char *p, size_t len);
static void fuzz_strings(ngx_http_inbotpay_update_t *u, ngx_str_t **s);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                      *json, *arena, *arena2;
    ngx_int_t                    rc, rc2;
    ngx_uint_t                   i;
    ngx_str_t                   *s[16], *s2[16];
    ngx_http_inbotpay_update_t   u, u2;

    json = fuzz_copy(data, size);
    arena = malloc(size ? size : 1);
    arena2 = malloc(size ? size : 1);

    if (arena == NULL || arena2 == NULL) {
        abort();
    }

    rc = ngx_http_inbotpay_update_parse(&u, json, size, arena);

    fuzz_assert(rc == NGX_OK || rc == NGX_DECLINED || rc == NGX_ERROR,
                "unexpected return code");

    if (rc == NGX_OK) {
        fuzz_assert(u.error == NULL, "error set on success");
        fuzz_assert(u.update_id >= 0, "negative update_id accepted");
        fuzz_assert(u.kind <= NGX_HTTP_INBOTPAY_UPDATE_PRE_CHECKOUT_QUERY,
                    "unknown kind");

    } else {
        fuzz_assert(u.error != NULL, "failure without an error message");
    }

    fuzz_strings(&u, s);

    for (i = 0; s[i]; i++) {
        fuzz_check_str(s[i], arena, size, "string field");
    }

    /* the input must not have been touched */

    fuzz_assert(size == 0 || memcmp(json, data, size) == 0,
                "the body was modified");

    /* the same body gives the same Update */

    rc2 = ngx_http_inbotpay_update_parse(&u2, json, size, arena2);

    fuzz_assert(rc == rc2, "not deterministic: return code");
    fuzz_assert(u.error == u2.error, "not deterministic: error");
    fuzz_assert(u.update_id == u2.update_id
                && u.kind == u2.kind
                && u.message_id == u2.message_id
                && u.chat_id == u2.chat_id
                && u.has_chat == u2.has_chat
                && u.from.id == u2.from.id
                && u.from.present == u2.from.present
                && u.from.is_bot == u2.from.is_bot
                && u.successful_payment.present
                   == u2.successful_payment.present
                && u.successful_payment.total_amount
                   == u2.successful_payment.total_amount
                && u.refunded_payment.present == u2.refunded_payment.present
                && u.refunded_payment.total_amount
                   == u2.refunded_payment.total_amount
                && u.checkout.present == u2.checkout.present
                && u.checkout.total_amount == u2.checkout.total_amount,
                "not deterministic: fields");

    fuzz_strings(&u2, s2);

    for (i = 0; s[i]; i++) {
        fuzz_assert(s[i]->len == s2[i]->len
                    && (s[i]->data == NULL) == (s2[i]->data == NULL)
                    && (s[i]->len == 0
                        || memcmp(s[i]->data, s2[i]->data, s[i]->len) == 0),
                    "not deterministic: strings");
    }

    free(arena2);
    free(arena);
    free(json);

    return 0;
}


static void
fuzz_strings(ngx_http_inbotpay_update_t *u, ngx_str_t **s)
{
    ngx_uint_t  n;

    n = 0;
    s[n++] = &u->chat_type;
    s[n++] = &u->text;
    s[n++] = &u->from.first_name;
    s[n++] = &u->from.username;
    s[n++] = &u->successful_payment.currency;
    s[n++] = &u->successful_payment.invoice_payload;
    s[n++] = &u->successful_payment.charge_id;
    s[n++] = &u->refunded_payment.currency;
    s[n++] = &u->refunded_payment.invoice_payload;
    s[n++] = &u->refunded_payment.charge_id;
    s[n++] = &u->query_id;
    s[n++] = &u->data;
    s[n++] = &u->inline_message_id;
    s[n++] = &u->checkout.currency;
    s[n++] = &u->checkout.invoice_payload;
    s[n] = NULL;
}


static void
fuzz_check_str(ngx_str_t *s, u_char *arena, size_t len, const char *name)
{
    if (s->data == NULL) {
        fuzz_assert(s->len == 0, "NULL string with a length");
        return;
    }

    fuzz_assert(s->data >= arena && s->len <= len
                && (size_t) (s->data - arena) <= len - s->len,
                "string outside the arena");

    fuzz_assert(fuzz_utf8(s->data, s->len), "string is not valid UTF-8");
}


/* strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF */

static ngx_uint_t
fuzz_utf8(u_char *p, size_t len)
{
    size_t    i, n, k;
    uint32_t  c, min;

    for (i = 0; i < len; /* void */) {

        if (p[i] < 0x80) {
            i++;
            continue;
        }

        if ((p[i] & 0xe0) == 0xc0) {
            n = 1; c = p[i] & 0x1f; min = 0x80;

        } else if ((p[i] & 0xf0) == 0xe0) {
            n = 2; c = p[i] & 0x0f; min = 0x800;

        } else if ((p[i] & 0xf8) == 0xf0) {
            n = 3; c = p[i] & 0x07; min = 0x10000;

        } else {
            return 0;
        }

        if (len - i <= n) {
            return 0;
        }

        for (k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            c = (c << 6) | (p[i + k] & 0x3f);
        }

        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
            return 0;
        }

        i += n + 1;
    }

    return 1;
}
