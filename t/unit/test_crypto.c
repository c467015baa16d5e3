/*
 * Unit tests for the secret check, the signed invoice payloads, amounts and
 * bot commands.
 *
 *     test_crypto [FIXTURE_DIR]
 *
 * The fixture directory is not used.  Every input is copied into a buffer
 * of its exact size, and the payload is signed into a buffer of exactly
 * 128 bytes, so that a sanitizer sees any read or write out of bounds.
 * Signatures are checked against HMAC-SHA256 computed here with OpenSSL
 * and encoded in base64url by the test itself.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "ngx_http_inbotpay_crypto.h"
#include "unit.h"


#define TEST_KEY       "0123456789abcdef0123456789abcdef"
#define TEST_TOKEN     "123456789:TEST-token"
#define TEST_SECRET    "s3cr3t-webhook-token_42"
#define TEST_PREFIX    "1.7000000001.100.731208404."
#define TEST_SIG_LEN   43

/* base64url(HMAC-SHA256(TEST_KEY, TEST_PREFIX "XTR")), from Python */
#define TEST_SIG       "4fBv6yPNM_Y6axTl0MOSy1nKy6qp0mxIigP6ZAknF40"

/* HMAC-SHA256("inbotpay invoice payload key", TEST_TOKEN), from Python */
#define TEST_TOKEN_KEY                                                        \
    "\x36\x6f\x86\xac\xd4\xee\xc7\xfb\xce\x40\x5a\x38\xb0\x88\x9b\xb4"        \
    "\x57\x06\x30\xf9\x97\x72\xb8\x3d\xe0\xd4\x9b\x51\x5d\xdb\x32\xd4"

/* what a single byte of a payload is changed to */
#define TEST_FLIPS                                                            \
    "0123456789.-_=+/ ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"   \
    "\x00\x80\xff"

#define test_s(s)  (u_char *) s, sizeof(s) - 1


typedef struct {
    u_char      *text;
    size_t       len;
    int64_t      max;
    ngx_int_t    rc;
    int64_t      value;
} test_amount_t;


typedef struct {
    u_char      *text;
    size_t       len;
    const char  *username;
    ngx_int_t    rc;
    const char  *command;
    const char  *args;
} test_command_t;


typedef struct {
    const char  *name;
    u_char      *payload;
    size_t       len;
} test_refused_t;


static u_char *test_copy(const void *data, size_t len);
static ngx_int_t test_verify(const void *payload, size_t len, ngx_str_t *key,
    const char *currency, ngx_http_inbotpay_invoice_t *inv);
static ngx_uint_t test_refuse(const char *name, const void *payload,
    size_t len, ngx_str_t *key, const char *currency);
static size_t test_sign(u_char *out, ngx_str_t *key, const char *currency,
    int64_t player, int64_t amount, int64_t nonce);
static const char *test_quote(const u_char *p, size_t len);
static size_t test_base64url(u_char *dst, u_char *src, size_t len);
static size_t test_forge(u_char *out, ngx_str_t *key, const char *fields,
    const char *currency);
static void test_secret(void);
static void test_derive_key(void);
static void test_invoice_sign(void);
static void test_invoice_round_trip(void);
static void test_invoice_refused(void);
static void test_invoice_mutated(void);
static void test_invoice_truncated(void);
static void test_parse_amount(void);
static void test_parse_command(void);


static ngx_str_t  test_key = ngx_string(TEST_KEY);


static void test_api_verify(void);
static void test_json_check(void);


int
main(int argc, char **argv)
{
    test_secret();
    test_derive_key();
    test_invoice_sign();
    test_invoice_round_trip();
    test_invoice_refused();
    test_invoice_mutated();
    test_invoice_truncated();
    test_parse_amount();
    test_parse_command();
    test_api_verify();
    test_json_check();

    return unit_done();
}


static u_char *
test_copy(const void *data, size_t len)
{
    u_char  *p;

    p = malloc(len ? len : 1);
    if (p == NULL) {
        perror("malloc");
        exit(2);
    }

    if (len) {
        ngx_memcpy(p, data, len);
    }

    return p;
}


/* verifies a copy of the payload of its exact size */

static ngx_int_t
test_verify(const void *payload, size_t len, ngx_str_t *key,
    const char *currency, ngx_http_inbotpay_invoice_t *inv)
{
    ngx_int_t   rc;
    ngx_str_t   p, cur;

    p.len = len;
    p.data = test_copy(payload, len);

    cur.len = ngx_strlen(currency);
    cur.data = test_copy(currency, cur.len);

    rc = ngx_http_inbotpay_invoice_verify(&p, key, &cur, inv);

    free(p.data);
    free(cur.data);

    return rc;
}


/* checks that a payload is refused and that the invoice is left alone */

static ngx_uint_t
test_refuse(const char *name, const void *payload, size_t len,
    ngx_str_t *key, const char *currency)
{
    ngx_int_t                    rc;
    ngx_uint_t                   pass;
    ngx_http_inbotpay_invoice_t  inv;

    inv.player = -1;
    inv.amount = -2;
    inv.nonce = -3;

    rc = test_verify(payload, len, key, currency, &inv);

    pass = (rc == NGX_DECLINED
            && inv.player == -1 && inv.amount == -2 && inv.nonce == -3);

    if (name == NULL) {
        return pass;
    }

    unit_ok(pass, "verify refuses %s", name);

    if (!pass) {
        printf("#   rc: %ld\n", (long) rc);
        unit_diag_bytes("payload", payload, len);
    }

    return pass;
}


/* signs into a buffer of exactly 128 bytes; out gets a copy */

static size_t
test_sign(u_char *out, ngx_str_t *key, const char *currency, int64_t player,
    int64_t amount, int64_t nonce)
{
    u_char                       *buf;
    size_t                        len;
    ngx_str_t                     cur;
    ngx_http_inbotpay_invoice_t   inv;

    buf = malloc(NGX_HTTP_INBOTPAY_PAYLOAD_LEN);
    if (buf == NULL) {
        perror("malloc");
        exit(2);
    }

    ngx_memset(buf, 0xa5, NGX_HTTP_INBOTPAY_PAYLOAD_LEN);

    cur.len = ngx_strlen(currency);
    cur.data = test_copy(currency, cur.len);

    inv.player = player;
    inv.amount = amount;
    inv.nonce = nonce;

    len = ngx_http_inbotpay_invoice_sign(buf, key, &cur, &inv);

    if (len <= NGX_HTTP_INBOTPAY_PAYLOAD_LEN) {
        ngx_memcpy(out, buf, len);
    }

    free(buf);
    free(cur.data);

    return len;
}


/* the bytes for a test description, with the unprintable ones escaped */

static const char *
test_quote(const u_char *p, size_t len)
{
    char          *d;
    size_t         i;
    static char    buf[256];

    d = buf;

    for (i = 0; i < len && d < buf + sizeof(buf) - 5; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
            *d++ = p[i];

        } else {
            d += snprintf(d, 5, "\\x%02x", p[i]);
        }
    }

    *d = '\0';

    return buf;
}


/* base64url without padding, written independently of the module */

static size_t
test_base64url(u_char *dst, u_char *src, size_t len)
{
    u_char         *d;
    size_t          i;
    uint32_t        v;
    static u_char   alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    d = dst;

    for (i = 0; i + 2 < len; i += 3) {
        v = (src[i] << 16) | (src[i + 1] << 8) | src[i + 2];
        *d++ = alphabet[(v >> 18) & 0x3f];
        *d++ = alphabet[(v >> 12) & 0x3f];
        *d++ = alphabet[(v >> 6) & 0x3f];
        *d++ = alphabet[v & 0x3f];
    }

    if (len - i == 1) {
        v = src[i] << 16;
        *d++ = alphabet[(v >> 18) & 0x3f];
        *d++ = alphabet[(v >> 12) & 0x3f];

    } else if (len - i == 2) {
        v = (src[i] << 16) | (src[i + 1] << 8);
        *d++ = alphabet[(v >> 18) & 0x3f];
        *d++ = alphabet[(v >> 12) & 0x3f];
        *d++ = alphabet[(v >> 6) & 0x3f];
    }

    return d - dst;
}


/*
 * Writes "fields" followed by a genuine signature over "fields" and the
 * currency: what an attacker holding the key could send, to show that the
 * numbers themselves are checked.
 */

static size_t
test_forge(u_char *out, ngx_str_t *key, const char *fields,
    const char *currency)
{
    size_t        len;
    unsigned int  mac_len;
    u_char        text[256], mac[EVP_MAX_MD_SIZE];

    len = ngx_strlen(fields);

    ngx_memcpy(text, fields, len);
    ngx_memcpy(text + len, currency, ngx_strlen(currency));

    HMAC(EVP_sha256(), key->data, (int) key->len, text,
         len + ngx_strlen(currency), mac, &mac_len);

    ngx_memcpy(out, fields, len);

    return len + test_base64url(out + len, mac, mac_len);
}


static void
test_secret(void)
{
    u_char  *p;
    size_t   i;
    u_char   hash[SHA256_DIGEST_LENGTH], expect[SHA256_DIGEST_LENGTH];
    static struct {
        const char  *name;
        u_char      *text;
        size_t       len;
    }  wrong[] = {
        { "a wrong secret of the same length",
          test_s("s3cr3t-webhook-token_43") },
        { "a wrong secret differing in the first byte",
          test_s("S3cr3t-webhook-token_42") },
        { "a shorter secret (a prefix)", test_s("s3cr3t-webhook-token_4") },
        { "a longer secret", test_s("s3cr3t-webhook-token_42x") },
        { "the secret with a NUL after it",
          test_s("s3cr3t-webhook-token_42\0") },
        { "an empty secret", test_s("") },
        { NULL, NULL, 0 }
    };

    p = test_copy(TEST_SECRET, sizeof(TEST_SECRET) - 1);
    ngx_http_inbotpay_secret_hash(p, sizeof(TEST_SECRET) - 1, hash);
    free(p);

    SHA256((u_char *) TEST_SECRET, sizeof(TEST_SECRET) - 1, expect);

    unit_ok(ngx_memcmp(hash, expect, SHA256_DIGEST_LENGTH) == 0,
            "secret_hash is SHA-256 of the secret");

    p = test_copy(TEST_SECRET, sizeof(TEST_SECRET) - 1);
    unit_is_int(ngx_http_inbotpay_secret_check(hash, p,
                                               sizeof(TEST_SECRET) - 1),
                NGX_OK, "secret_check accepts the secret");
    free(p);

    for (i = 0; wrong[i].name; i++) {
        p = test_copy(wrong[i].text, wrong[i].len);
        unit_is_int(ngx_http_inbotpay_secret_check(hash, p, wrong[i].len),
                    NGX_DECLINED, "secret_check refuses %s", wrong[i].name);
        free(p);
    }

    /* an empty configured secret is matched only by an empty one */

    SHA256((u_char *) "", 0, hash);

    p = test_copy("", 0);
    unit_is_int(ngx_http_inbotpay_secret_check(hash, p, 0), NGX_OK,
                "secret_check: empty matches empty");
    free(p);

    p = test_copy("x", 1);
    unit_is_int(ngx_http_inbotpay_secret_check(hash, p, 1), NGX_DECLINED,
                "secret_check: \"x\" does not match empty");
    free(p);
}


static void
test_derive_key(void)
{
    size_t     i;
    ngx_str_t  token, other;
    u_char     key1[SHA256_DIGEST_LENGTH + 8], key2[SHA256_DIGEST_LENGTH + 8],
               key3[SHA256_DIGEST_LENGTH + 8];
    u_char     expect[EVP_MAX_MD_SIZE];

    token.len = sizeof(TEST_TOKEN) - 1;
    token.data = test_copy(TEST_TOKEN, token.len);

    other.len = sizeof("123456789:TEST-tokeo") - 1;
    other.data = test_copy("123456789:TEST-tokeo", other.len);

    ngx_memset(key1, 0xa5, sizeof(key1));
    ngx_memset(key2, 0x5a, sizeof(key2));
    ngx_memset(key3, 0xa5, sizeof(key3));

    ngx_http_inbotpay_derive_key(&token, key1);
    ngx_http_inbotpay_derive_key(&token, key2);
    ngx_http_inbotpay_derive_key(&other, key3);

    unit_ok(ngx_memcmp(key1, TEST_TOKEN_KEY, SHA256_DIGEST_LENGTH) == 0,
            "derive_key gives the known HMAC-SHA256 of the token");

    HMAC(EVP_sha256(), "inbotpay invoice payload key",
         sizeof("inbotpay invoice payload key") - 1, token.data, token.len,
         expect, NULL);

    unit_ok(ngx_memcmp(key1, expect, SHA256_DIGEST_LENGTH) == 0,
            "derive_key agrees with HMAC() over the label");

    unit_ok(ngx_memcmp(key1, key2, SHA256_DIGEST_LENGTH) == 0,
            "derive_key is deterministic");

    unit_ok(ngx_memcmp(key1, key3, SHA256_DIGEST_LENGTH) != 0,
            "derive_key: tokens differing in one byte give different keys");

    for (i = SHA256_DIGEST_LENGTH; i < sizeof(key1); i++) {
        if (key1[i] != 0xa5 || key2[i] != 0x5a) {
            break;
        }
    }

    unit_ok(i == sizeof(key1), "derive_key writes exactly 32 bytes");

    free(token.data);
    free(other.data);
}


static void
test_invoice_sign(void)
{
    u_char        *p;
    size_t         len, len2, plen;
    unsigned int   mac_len;
    ngx_str_t      got;
    u_char         out[NGX_HTTP_INBOTPAY_PAYLOAD_LEN],
                   out2[NGX_HTTP_INBOTPAY_PAYLOAD_LEN];
    u_char         mac[EVP_MAX_MD_SIZE], expect[64];

    plen = sizeof(TEST_PREFIX) - 1;

    len = test_sign(out, &test_key, "XTR", 7000000001LL, 100, 731208404);

    unit_is_int(len, plen + TEST_SIG_LEN, "sign: length is prefix + 43");

    if (len != plen + TEST_SIG_LEN) {
        return;
    }

    got.data = out;
    got.len = plen;
    unit_is_str(&got, TEST_PREFIX, "sign: payload starts with the numbers");

    for (p = out + plen; p < out + len; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
        {
            break;
        }
    }

    unit_ok(p == out + len, "sign: the signature is base64url only");

    HMAC(EVP_sha256(), test_key.data, (int) test_key.len,
         (u_char *) TEST_PREFIX "XTR", sizeof(TEST_PREFIX "XTR") - 1,
         mac, &mac_len);

    unit_is_int(mac_len, 32, "HMAC-SHA256 is 32 bytes");
    unit_is_int(test_base64url(expect, mac, mac_len), TEST_SIG_LEN,
                "base64url of 32 bytes is 43 characters");

    got.data = out + plen;
    got.len = TEST_SIG_LEN;

    unit_is_bytes(&got, (char *) expect, TEST_SIG_LEN,
                  "sign: signature is HMAC() over the numbers and \"XTR\"");
    unit_is_str(&got, TEST_SIG, "sign: signature matches the known answer");

    len2 = test_sign(out2, &test_key, "XTR", 7000000001LL, 100, 731208404);
    unit_ok(len2 == len && ngx_memcmp(out, out2, len) == 0,
            "sign is deterministic");

    len2 = test_sign(out2, &test_key, "EUR", 7000000001LL, 100, 731208404);
    unit_ok(len2 == len && ngx_memcmp(out, out2, plen) == 0
            && ngx_memcmp(out + plen, out2 + plen, TEST_SIG_LEN) != 0,
            "sign: the currency changes the signature only");

    /* the largest numbers still fit in 128 bytes */

    len = test_sign(out, &test_key, "XTR", INT64_MAX, 100, INT64_MAX);
    got.data = out;
    got.len = len > TEST_SIG_LEN ? len - TEST_SIG_LEN : 0;

    unit_is_int(len, sizeof("1.9223372036854775807.100.9223372036854775807.")
                     - 1 + TEST_SIG_LEN,
                "sign: player and nonce at INT64_MAX");
    unit_is_str(&got, "1.9223372036854775807.100.9223372036854775807.",
                "sign: INT64_MAX numbers written in full");

    len = test_sign(out, &test_key, "XTR", INT64_MAX, INT64_MAX, INT64_MAX);
    unit_ok(len > 0 && len <= NGX_HTTP_INBOTPAY_PAYLOAD_LEN,
            "sign: three INT64_MAX fit in 128 bytes (%lu)",
            (unsigned long) len);

    len = test_sign(out, &test_key, "XTR", INT64_MIN, INT64_MIN, INT64_MIN);
    unit_ok(len > 0 && len <= NGX_HTTP_INBOTPAY_PAYLOAD_LEN,
            "sign: three INT64_MIN fit in 128 bytes (%lu)",
            (unsigned long) len);
}


static void
test_invoice_round_trip(void)
{
    size_t                        len, i;
    ngx_int_t                     rc;
    u_char                        out[NGX_HTTP_INBOTPAY_PAYLOAD_LEN];
    ngx_http_inbotpay_invoice_t   inv;
    static int64_t                cases[][3] = {
        { 7000000001LL, 100, 731208404 },
        { 1, 1, 1 },
        { 612345678, 100000, 9 },
        { INT64_MAX, 100, INT64_MAX },
        { INT64_MAX, INT64_MAX, INT64_MAX }
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        len = test_sign(out, &test_key, "XTR", cases[i][0], cases[i][1],
                        cases[i][2]);

        ngx_memzero(&inv, sizeof(ngx_http_inbotpay_invoice_t));

        rc = test_verify(out, len, &test_key, "XTR", &inv);

        unit_is_int(rc, NGX_OK, "verify accepts %.*s", (int) len, out);
        unit_is_int(inv.player, cases[i][0], "round trip: player");
        unit_is_int(inv.amount, cases[i][1], "round trip: amount");
        unit_is_int(inv.nonce, cases[i][2], "round trip: nonce");
    }
}


static void
test_invoice_refused(void)
{
    size_t                        len, n, i;
    ngx_str_t                     token, other;
    test_refused_t               *r;
    ngx_http_inbotpay_invoice_t   inv;
    u_char                        good[NGX_HTTP_INBOTPAY_PAYLOAD_LEN],
                                  p[NGX_HTTP_INBOTPAY_PAYLOAD_LEN * 2];
    u_char                        key2[SHA256_DIGEST_LENGTH];
    char                          name[128];
    static test_refused_t  refused[] = {
        { "\"PAYLOAD\"", test_s("PAYLOAD") },
        { "an empty payload", test_s("") },
        { "\"1\"", test_s("1") },
        { "\"1.\"", test_s("1.") },
        { "\"1...\"", test_s("1...") },
        { "\"1.7000000001.100.731208404.\"", test_s(TEST_PREFIX) },
        { "version 2", test_s("2.7000000001.100.731208404." TEST_SIG) },
        { "version 01",
          test_s("01.7000000001.100.731208404." TEST_SIG) },
        { "a non-canonical player with a valid signature",
          test_s("1.07000000001.100.731208404." TEST_SIG) },
        { "a non-canonical amount with a valid signature",
          test_s("1.7000000001.0100.731208404." TEST_SIG) },
        { "a non-canonical nonce with a valid signature",
          test_s("1.7000000001.100.0731208404." TEST_SIG) },
        { "a player with \"+\"",
          test_s("1.+7000000001.100.731208404." TEST_SIG) },
        { "a padded signature",
          test_s("1.7000000001.100.731208404." TEST_SIG "=") },
        { "trailing garbage", test_s(TEST_PREFIX TEST_SIG "x") },
        { "a trailing dot", test_s(TEST_PREFIX TEST_SIG ".") },
        { "a trailing NUL", test_s(TEST_PREFIX TEST_SIG "\0") },
        { "a trailing newline", test_s(TEST_PREFIX TEST_SIG "\n") },
        { "a leading space", test_s(" " TEST_PREFIX TEST_SIG) },
        { "an extra field",
          test_s("1.7000000001.100.731208404.1." TEST_SIG) },
        { "a missing field", test_s("1.7000000001.100." TEST_SIG) },
        { "a short signature", test_s(TEST_PREFIX "4fBv6yPNM") },
        { NULL, NULL, 0 }
    };
    static const char  *forged[] = {
        "1.07000000001.100.731208404.",
        "1.7000000001.0100.731208404.",
        "1.7000000001.100.0731208404.",
        "1.7000000001.0.731208404.",
        "1.7000000001.-100.731208404.",
        "1.0.100.731208404.",
        "1.-7000000001.100.731208404.",
        "1.7000000001.100.-1.",
        "1.7000000001.1e2.731208404.",
        "1.7000000001. 100.731208404.",
        "1.7000000001.100 .731208404.",
        "1.9223372036854775808.100.731208404.",
        "1.7000000001.100.731208404.1.",
        "1.7000000001.100.",
        "2.7000000001.100.731208404.",
        NULL
    };

    /* the one accepted payload every refusal below is a variation of */

    ngx_memcpy(good, TEST_PREFIX TEST_SIG, sizeof(TEST_PREFIX TEST_SIG) - 1);
    len = sizeof(TEST_PREFIX TEST_SIG) - 1;

    unit_is_int(test_verify(good, len, &test_key, "XTR", &inv), NGX_OK,
                "verify accepts the known-answer payload");

    for (r = refused; r->name; r++) {
        test_refuse(r->name, r->payload, r->len, &test_key, "XTR");
    }

    /* genuine signatures over numbers the module must not accept */

    for (i = 0; forged[i]; i++) {
        n = test_forge(p, &test_key, forged[i], "XTR");
        snprintf(name, sizeof(name), "\"%sSIG\" signed with the key",
                 forged[i]);
        test_refuse(name, p, n, &test_key, "XTR");
    }

    /* an update_id of 0 is a valid nonce: its invoice must verify */

    n = test_forge(p, &test_key, "1.7000000001.100.0.", "XTR");
    unit_is_int(test_verify(p, n, &test_key, "XTR", &inv), NGX_OK,
                "a nonce of 0 is accepted");
    unit_is_int(inv.nonce, 0, "a nonce of 0 comes back as 0");

    /* the same check shows test_forge() does make valid payloads */

    n = test_forge(p, &test_key, TEST_PREFIX, "XTR");
    unit_ok(n == len && ngx_memcmp(p, good, len) == 0,
            "test_forge() of the canonical numbers gives the good payload");

    /* amounts the module signs but must not accept */

    n = test_sign(p, &test_key, "XTR", 7000000001LL, 0, 731208404);
    test_refuse("a signed amount 0", p, n, &test_key, "XTR");

    n = test_sign(p, &test_key, "XTR", 7000000001LL, -5, 731208404);
    test_refuse("a signed negative amount", p, n, &test_key, "XTR");

    n = test_sign(p, &test_key, "XTR", 0, 100, 731208404);
    test_refuse("a signed player 0", p, n, &test_key, "XTR");

    n = test_sign(p, &test_key, "XTR", -7000000001LL, 100, 731208404);
    test_refuse("a signed negative player", p, n, &test_key, "XTR");

    n = test_sign(p, &test_key, "XTR", INT64_MIN, INT64_MIN, INT64_MIN);
    test_refuse("signed INT64_MIN numbers", p, n, &test_key, "XTR");

    /* another key, another currency */

    token.len = sizeof(TEST_TOKEN) - 1;
    token.data = (u_char *) TEST_TOKEN;

    ngx_http_inbotpay_derive_key(&token, key2);

    other.len = SHA256_DIGEST_LENGTH;
    other.data = key2;

    test_refuse("a payload signed under another key", good, len, &other,
                "XTR");

    n = test_sign(p, &other, "XTR", 7000000001LL, 100, 731208404);
    test_refuse("another key's payload under ours", p, n, &test_key, "XTR");

    test_refuse("a payload signed for XTR under EUR", good, len, &test_key,
                "EUR");
    test_refuse("a payload signed for XTR under xtr", good, len, &test_key,
                "xtr");
    test_refuse("a payload signed for XTR with no currency", good, len,
                &test_key, "");

    /* 129 bytes: a valid payload followed by padding, and one of digits */

    ngx_memcpy(p, good, len);
    ngx_memset(p + len, 'A', NGX_HTTP_INBOTPAY_PAYLOAD_LEN + 1 - len);
    test_refuse("a 129-byte payload", p, NGX_HTTP_INBOTPAY_PAYLOAD_LEN + 1,
                &test_key, "XTR");

    ngx_memset(p, '1', NGX_HTTP_INBOTPAY_PAYLOAD_LEN + 1);
    p[1] = '.';
    test_refuse("129 bytes of digits", p, NGX_HTTP_INBOTPAY_PAYLOAD_LEN + 1,
                &test_key, "XTR");

    test_refuse("128 bytes of digits", p, NGX_HTTP_INBOTPAY_PAYLOAD_LEN,
                &test_key, "XTR");
}


/* every single-byte change of a valid payload is refused */

static void
test_invoice_mutated(void)
{
    u_char   c;
    size_t   len, i, j, tried, accepted;
    u_char   p[NGX_HTTP_INBOTPAY_PAYLOAD_LEN],
             first[NGX_HTTP_INBOTPAY_PAYLOAD_LEN];
    static u_char  flips[] = TEST_FLIPS;

    len = test_sign(p, &test_key, "XTR", 7000000001LL, 100, 731208404);

    tried = 0;
    accepted = 0;

    for (i = 0; i < len; i++) {
        c = p[i];

        for (j = 0; j < sizeof(flips) - 1; j++) {
            if (flips[j] == c) {
                continue;
            }

            p[i] = flips[j];
            tried++;

            if (!test_refuse(NULL, p, len, &test_key, "XTR")) {
                if (accepted++ == 0) {
                    ngx_memcpy(first, p, len);
                }
            }
        }

        p[i] = c;
    }

    unit_ok(accepted == 0, "verify refuses all %lu single-byte changes",
            (unsigned long) tried);

    if (accepted) {
        printf("#   %lu accepted\n", (unsigned long) accepted);
        unit_diag_bytes("first accepted", first, len);
    }

    /* the last character holds 2 unused bits: other values are refused */

    len = sizeof(TEST_PREFIX TEST_SIG) - 1;
    ngx_memcpy(p, TEST_PREFIX TEST_SIG, len);

    unit_ok(p[len - 1] == '0', "the known signature ends in '0'");

    p[len - 1] = '1';
    test_refuse("a signature with its unused low bits set", p, len,
                &test_key, "XTR");

    p[len - 1] = '3';
    test_refuse("a signature with both unused low bits set", p, len,
                &test_key, "XTR");
}


/* every truncation of a valid payload is refused */

static void
test_invoice_truncated(void)
{
    u_char  p[NGX_HTTP_INBOTPAY_PAYLOAD_LEN];
    size_t  len, n, accepted;

    len = test_sign(p, &test_key, "XTR", 7000000001LL, 100, 731208404);

    accepted = 0;

    for (n = 0; n < len; n++) {
        if (!test_refuse(NULL, p, n, &test_key, "XTR")) {
            printf("#   accepted at length %lu\n", (unsigned long) n);
            accepted++;
        }
    }

    unit_ok(accepted == 0, "verify refuses every truncation (0 to %lu)",
            (unsigned long) len - 1);
}


static void
test_parse_amount(void)
{
    u_char         *p;
    int64_t         value;
    ngx_int_t       rc;
    test_amount_t  *a;
    static test_amount_t  amounts[] = {
        { test_s("1"), 100000, NGX_OK, 1 },
        { test_s("100"), 100000, NGX_OK, 100 },
        { test_s("100000"), 100000, NGX_OK, 100000 },
        { test_s("100001"), 100000, NGX_DECLINED, 0 },
        { test_s("0"), 100000, NGX_DECLINED, 0 },
        { test_s("00"), 100000, NGX_DECLINED, 0 },
        { test_s("0100"), 100000, NGX_DECLINED, 0 },
        { test_s("-5"), 100000, NGX_DECLINED, 0 },
        { test_s("+5"), 100000, NGX_DECLINED, 0 },
        { test_s("1.5"), 100000, NGX_DECLINED, 0 },
        { test_s("1e3"), 100000, NGX_DECLINED, 0 },
        { test_s(" 1"), 100000, NGX_DECLINED, 0 },
        { test_s("1 "), 100000, NGX_DECLINED, 0 },
        { test_s("abc"), 100000, NGX_DECLINED, 0 },
        { test_s(""), 100000, NGX_DECLINED, 0 },
        { test_s("\xd9\xa1"), 100000, NGX_DECLINED, 0 },
        { test_s("9223372036854775807"), INT64_MAX, NGX_OK, INT64_MAX },
        { test_s("9223372036854775806"), INT64_MAX, NGX_OK, INT64_MAX - 1 },
        { test_s("9223372036854775807"), INT64_MAX - 1, NGX_DECLINED, 0 },
        { test_s("9223372036854775808"), INT64_MAX, NGX_DECLINED, 0 },
        { test_s("9223372036854775810"), INT64_MAX, NGX_DECLINED, 0 },
        { test_s("18446744073709551616"), INT64_MAX, NGX_DECLINED, 0 },
        { test_s("99999999999999999999"), INT64_MAX, NGX_DECLINED, 0 },
        { test_s("100000000000000000000"), INT64_MAX, NGX_DECLINED, 0 },
        { test_s("1\0"), 100000, NGX_DECLINED, 0 },
        { test_s("1\0" "0"), 100000, NGX_DECLINED, 0 },
        { test_s("\0" "1"), 100000, NGX_DECLINED, 0 },
        { test_s("1"), 0, NGX_DECLINED, 0 },
        { NULL, 0, 0, 0, 0 }
    };

    for (a = amounts; a->text; a++) {
        p = test_copy(a->text, a->len);
        value = -1;

        rc = ngx_http_inbotpay_parse_amount(p, a->len, a->max, &value);

        unit_is_int(rc, a->rc, "parse_amount %s \"%s\" (max %lld)",
                    a->rc == NGX_OK ? "accepts" : "refuses",
                    test_quote(a->text, a->len), (long long) a->max);

        if (a->rc == NGX_OK) {
            unit_is_int(value, a->value, "parse_amount value");

        } else {
            unit_is_int(value, -1, "parse_amount leaves the value alone");
        }

        free(p);
    }
}


static void
test_parse_command(void)
{
    u_char          *p;
    ngx_int_t        rc;
    ngx_str_t        text, username, command, args;
    test_command_t  *c;
    static u_char    long_ok[] = "/" "abcdefghijklmnopqrstuvwxyz_01234";
    static u_char    long_bad[] = "/" "abcdefghijklmnopqrstuvwxyz_012345";
    static test_command_t  commands[] = {
        { test_s("/start"), "", NGX_OK, "start", "" },
        { test_s("/deposit 100"), "", NGX_OK, "deposit", "100" },
        { test_s("/deposit   100  "), "", NGX_OK, "deposit", "100" },
        { test_s("/deposit 100 200"), "", NGX_OK, "deposit", "100 200" },
        { test_s("/deposit\t100\n"), "", NGX_OK, "deposit", "100" },
        { test_s("/balance@InBotPayDemoBot"), "InBotPayDemoBot", NGX_OK,
          "balance", "" },
        { test_s("/balance@InBotPayDemoBot"), "inbotpaydemobot", NGX_OK,
          "balance", "" },
        { test_s("/balance@inbotpaydemobot"), "InBotPayDemoBot", NGX_OK,
          "balance", "" },
        { test_s("/balance@InBotPayDemoBot"), "OtherBot", NGX_ABORT,
          NULL, NULL },
        { test_s("/balance@InBotPayDemoBo"), "InBotPayDemoBot", NGX_ABORT,
          NULL, NULL },
        { test_s("/balance@InBotPayDemoBotX"), "InBotPayDemoBot", NGX_ABORT,
          NULL, NULL },
        { test_s("/balance@"), "InBotPayDemoBot", NGX_ABORT, NULL, NULL },
        { test_s("/balance@InBotPayDemoBot"), "", NGX_OK, "balance", "" },
        { test_s("/deposit@InBotPayDemoBot 100"), "InBotPayDemoBot", NGX_OK,
          "deposit", "100" },
        { test_s("/deposit@OtherBot 100"), "InBotPayDemoBot", NGX_ABORT,
          NULL, NULL },
        { test_s("/Start"), "", NGX_OK, "Start", "" },
        { test_s("/start\nline2"), "", NGX_OK, "start", "line2" },
        { test_s("/start "), "", NGX_OK, "start", "" },
        { test_s("hello"), "", NGX_DECLINED, NULL, NULL },
        { test_s(" /start"), "", NGX_DECLINED, NULL, NULL },
        { test_s(""), "", NGX_DECLINED, NULL, NULL },
        { test_s("/"), "", NGX_DECLINED, NULL, NULL },
        { test_s("/ start"), "", NGX_DECLINED, NULL, NULL },
        { test_s("/st\xc3\xa4rt"), "", NGX_DECLINED, NULL, NULL },
        { test_s("/start-now"), "", NGX_DECLINED, NULL, NULL },
        { test_s("/start/x"), "", NGX_DECLINED, NULL, NULL },
        { test_s("/start\0"), "", NGX_DECLINED, NULL, NULL },
        { test_s("//start"), "", NGX_DECLINED, NULL, NULL },
        { NULL, 0, NULL, 0, NULL, NULL }
    };

    for (c = commands; c->text; c++) {
        p = test_copy(c->text, c->len);

        text.data = p;
        text.len = c->len;

        username.len = ngx_strlen(c->username);
        username.data = test_copy(c->username, username.len);

        ngx_str_null(&command);
        ngx_str_null(&args);

        rc = ngx_http_inbotpay_parse_command(&text, &username, &command,
                                             &args);

        unit_is_int(rc, c->rc, "parse_command \"%s\" with username \"%s\"",
                    test_quote(c->text, c->len), c->username);

        if (c->rc == NGX_OK && rc == NGX_OK) {
            unit_is_str(&command, c->command, "command \"%s\"", c->command);
            unit_is_str(&args, c->args, "args \"%s\"", c->args);
        }

        free(username.data);
        free(p);
    }

    /* a command is at most 32 characters */

    username.len = 0;
    username.data = (u_char *) "";

    p = test_copy(long_ok, sizeof(long_ok) - 1);
    text.data = p;
    text.len = sizeof(long_ok) - 1;

    rc = ngx_http_inbotpay_parse_command(&text, &username, &command, &args);
    unit_is_int(rc, NGX_OK, "parse_command accepts a 32-character command");

    if (rc == NGX_OK) {
        unit_is_int(command.len, 32, "32-character command length");
    }

    free(p);

    p = test_copy(long_bad, sizeof(long_bad) - 1);
    text.data = p;
    text.len = sizeof(long_bad) - 1;

    rc = ngx_http_inbotpay_parse_command(&text, &username, &command, &args);
    unit_is_int(rc, NGX_DECLINED,
                "parse_command refuses a 33-character command");

    free(p);
}


/* the backend API's signature: HMAC-SHA256 over "TIMESTAMP.BODY", in hex */

static void
test_api_verify(void)
{
    size_t      i;
    ngx_str_t   key, ts, sig;
    u_char      body[] = "{\"player\":1}";
    u_char      good[] = "0211ddec58a3d9ea9f9dacb0d145892a"
                         "d0e40629062eb95461730b29bf59d991";
    u_char      upper[65], bad[65];

    ngx_str_set(&key, "k3y");
    ngx_str_set(&ts, "1700000000");

    sig.data = good;
    sig.len = 64;

    unit_is_int(ngx_http_inbotpay_api_verify(&key, &ts, body,
                                             sizeof(body) - 1, &sig),
                NGX_OK, "api signature: the known answer passes");

    for (i = 0; i < 64; i++) {
        upper[i] = (good[i] >= 'a' && good[i] <= 'f') ? good[i] - 32
                                                      : good[i];
    }

    sig.data = upper;

    unit_is_int(ngx_http_inbotpay_api_verify(&key, &ts, body,
                                             sizeof(body) - 1, &sig),
                NGX_OK, "api signature: upper-case hex passes");

    sig.data = good;
    sig.len = 63;

    unit_is_int(ngx_http_inbotpay_api_verify(&key, &ts, body,
                                             sizeof(body) - 1, &sig),
                NGX_DECLINED, "api signature: 63 digits refused");

    sig.len = 64;

    unit_is_int(ngx_http_inbotpay_api_verify(&key, &ts, body,
                                             sizeof(body) - 2, &sig),
                NGX_DECLINED, "api signature: another body refused");

    ngx_str_set(&ts, "1700000001");

    unit_is_int(ngx_http_inbotpay_api_verify(&key, &ts, body,
                                             sizeof(body) - 1, &sig),
                NGX_DECLINED, "api signature: another timestamp refused");

    ngx_str_set(&ts, "1700000000");
    ngx_str_set(&key, "k3Y");

    unit_is_int(ngx_http_inbotpay_api_verify(&key, &ts, body,
                                             sizeof(body) - 1, &sig),
                NGX_DECLINED, "api signature: another key refused");

    ngx_str_set(&key, "k3y");

    for (i = 0; i < 64; i++) {
        ngx_memcpy(bad, good, 64);
        bad[i] = (bad[i] == '0') ? '1' : '0';
        sig.data = bad;

        if (ngx_http_inbotpay_api_verify(&key, &ts, body, sizeof(body) - 1,
                                         &sig)
            != NGX_DECLINED)
        {
            break;
        }
    }

    unit_is_int(i, 64, "api signature: every one-digit change refused");
}


/* the look at API bodies before they are parsed into a tree */

static void
test_json_check(void)
{
    size_t       i;
    ngx_uint_t   n;
    u_char       deep[40];

    static const struct {
        const char  *json;
        ngx_int_t    rc;
        const char  *name;
    } cases[] = {
        { "{\"a\":1}", NGX_OK, "a flat object" },
        { "{\"a\":\"x\\u0000y\"}", NGX_DECLINED, "an escaped NUL" },
        { "{\"a\":\"x\\\\u0000y\"}", NGX_OK,
          "an escaped backslash before u0000" },
        { "{\"a\":\"\\u00001\"}", NGX_DECLINED, "a NUL then a digit" },
        { "{\"a\":\"\\u0001\"}", NGX_OK, "another control character" },
        { "{\"a\":\"[[[[\"}", NGX_OK, "brackets inside a string" },
        { "{\"a\":\"\\\"[[\"}", NGX_OK, "an escaped quote, then brackets" },
        { "]]]]{", NGX_OK, "closing brackets first do not underflow" },
        { "{\"a\":\"\\u000", NGX_OK, "a cut escape" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unit_is_int(ngx_http_inbotpay_json_check((u_char *) cases[i].json,
                                                 ngx_strlen(cases[i].json),
                                                 4),
                    cases[i].rc, "json check: %s", cases[i].name);
    }

    for (n = 1; n <= 8; n++) {
        for (i = 0; i < n; i++) {
            deep[i] = (i % 2) ? '{' : '[';
        }

        unit_is_int(ngx_http_inbotpay_json_check(deep, n, 4),
                    n <= 4 ? NGX_OK : NGX_DECLINED,
                    "json check: %u levels against a limit of 4",
                    (unsigned) n);
    }
}
