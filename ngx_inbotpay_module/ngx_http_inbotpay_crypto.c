
/*
 * Copyright (C) 2026 InBotPay contributors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <stdio.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "ngx_http_inbotpay_crypto.h"


/* "1." + three numbers with their dots + the signature */
#define NGX_HTTP_INBOTPAY_SIG_LEN  43


static u_char *ngx_http_inbotpay_parse_field(u_char *p, u_char *last,
    int64_t *value);


void
ngx_http_inbotpay_secret_hash(u_char *data, size_t len, u_char *hash)
{
    SHA256(data, len, hash);
}


/*
 * Compares a presented secret with the configured one through their
 * SHA-256 digests, so that neither the bytes nor the length of the
 * configured secret show in the time the comparison takes.
 */

ngx_int_t
ngx_http_inbotpay_secret_check(u_char *hash, u_char *data, size_t len)
{
    u_char  digest[SHA256_DIGEST_LENGTH];

    SHA256(data, len, digest);

    if (CRYPTO_memcmp(hash, digest, SHA256_DIGEST_LENGTH) != 0) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


void
ngx_http_inbotpay_derive_key(ngx_str_t *token, u_char *key)
{
    static u_char  label[] = "inbotpay invoice payload key";

    HMAC(EVP_sha256(), label, sizeof(label) - 1, token->data, token->len,
         key, NULL);
}


/*
 * Builds "1.PLAYER.AMOUNT.NONCE.SIGNATURE", where the signature is
 * HMAC-SHA256 over "1.PLAYER.AMOUNT.NONCE.CURRENCY" in base64url without
 * padding.  The currency is signed but not sent: the invoice carries it.
 * Returns the length written to "out", at most 128 bytes, or 0.
 */

size_t
ngx_http_inbotpay_invoice_sign(u_char *out, ngx_str_t *key,
    ngx_str_t *currency, ngx_http_inbotpay_invoice_t *inv)
{
    int            n;
    u_char        *p;
    size_t         len;
    HMAC_CTX      *hmac;
    unsigned int   mac_len;
    u_char         mac[EVP_MAX_MD_SIZE], b64[64];

    n = snprintf((char *) out, NGX_HTTP_INBOTPAY_PAYLOAD_LEN,
                 "1.%" PRId64 ".%" PRId64 ".%" PRId64 ".",
                 inv->player, inv->amount, inv->nonce);

    if (n <= 0
        || n + NGX_HTTP_INBOTPAY_SIG_LEN > NGX_HTTP_INBOTPAY_PAYLOAD_LEN)
    {
        return 0;
    }

    len = (size_t) n;

    hmac = HMAC_CTX_new();
    if (hmac == NULL) {
        return 0;
    }

    if (HMAC_Init_ex(hmac, key->data, (int) key->len, EVP_sha256(), NULL)
        != 1
        || HMAC_Update(hmac, out, len) != 1
        || HMAC_Update(hmac, currency->data, currency->len) != 1
        || HMAC_Final(hmac, mac, &mac_len) != 1)
    {
        HMAC_CTX_free(hmac);
        return 0;
    }

    HMAC_CTX_free(hmac);

    EVP_EncodeBlock(b64, mac, (int) mac_len);

    for (p = b64; p < b64 + NGX_HTTP_INBOTPAY_SIG_LEN; p++) {
        if (*p == '+') {
            *p = '-';

        } else if (*p == '/') {
            *p = '_';
        }
    }

    ngx_memcpy(out + len, b64, NGX_HTTP_INBOTPAY_SIG_LEN);

    return len + NGX_HTTP_INBOTPAY_SIG_LEN;
}


/*
 * Takes a payload apart and accepts it only when signing its numbers again
 * gives exactly the same bytes: a forged, altered or non-canonical payload
 * is refused.
 */

ngx_int_t
ngx_http_inbotpay_invoice_verify(ngx_str_t *payload, ngx_str_t *key,
    ngx_str_t *currency, ngx_http_inbotpay_invoice_t *inv)
{
    u_char                       *p, *last;
    size_t                        len;
    ngx_http_inbotpay_invoice_t   parsed;
    u_char                        expect[NGX_HTTP_INBOTPAY_PAYLOAD_LEN];

    if (payload->len < 2 || payload->len > NGX_HTTP_INBOTPAY_PAYLOAD_LEN
        || payload->data[0] != '1' || payload->data[1] != '.')
    {
        return NGX_DECLINED;
    }

    p = payload->data + 2;
    last = payload->data + payload->len;

    p = ngx_http_inbotpay_parse_field(p, last, &parsed.player);
    if (p == NULL) {
        return NGX_DECLINED;
    }

    p = ngx_http_inbotpay_parse_field(p, last, &parsed.amount);
    if (p == NULL) {
        return NGX_DECLINED;
    }

    p = ngx_http_inbotpay_parse_field(p, last, &parsed.nonce);
    if (p == NULL) {
        return NGX_DECLINED;
    }

    if (parsed.player <= 0 || parsed.amount <= 0) {
        return NGX_DECLINED;
    }

    len = ngx_http_inbotpay_invoice_sign(expect, key, currency, &parsed);

    if (len != payload->len
        || CRYPTO_memcmp(expect, payload->data, len) != 0)
    {
        return NGX_DECLINED;
    }

    *inv = parsed;

    return NGX_OK;
}


/*
 * A backend API request is signed with HMAC-SHA256 over "TIMESTAMP.BODY",
 * sent as 64 hex digits (either case).
 */

ngx_int_t
ngx_http_inbotpay_api_verify(ngx_str_t *key, ngx_str_t *timestamp,
    u_char *body, size_t len, ngx_str_t *signature)
{
    size_t         i;
    u_char         c;
    HMAC_CTX      *hmac;
    unsigned int   mac_len;
    u_char         mac[EVP_MAX_MD_SIZE], expect[64], got[64];

    static u_char  hex[] = "0123456789abcdef";

    if (signature->len != 64) {
        return NGX_DECLINED;
    }

    hmac = HMAC_CTX_new();
    if (hmac == NULL) {
        return NGX_ERROR;
    }

    if (HMAC_Init_ex(hmac, key->data, (int) key->len, EVP_sha256(), NULL)
        != 1
        || HMAC_Update(hmac, timestamp->data, timestamp->len) != 1
        || HMAC_Update(hmac, (u_char *) ".", 1) != 1
        || HMAC_Update(hmac, body, len) != 1
        || HMAC_Final(hmac, mac, &mac_len) != 1
        || mac_len != 32)
    {
        HMAC_CTX_free(hmac);
        return NGX_ERROR;
    }

    HMAC_CTX_free(hmac);

    for (i = 0; i < 32; i++) {
        expect[2 * i] = hex[mac[i] >> 4];
        expect[2 * i + 1] = hex[mac[i] & 0xf];
    }

    for (i = 0; i < 64; i++) {
        c = signature->data[i];
        got[i] = (c >= 'A' && c <= 'F') ? (u_char) (c | 0x20) : c;
    }

    if (CRYPTO_memcmp(expect, got, 64) != 0) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * A look at raw JSON before a tree parser builds it: refuses nesting
 * deeper than "depth" (the tree and its freeing recurse once a level) and
 * strings holding "\u0000" (a tree hands strings out NUL-terminated, so
 * one would be cut short silently).  Validity is the parser's business.
 */

ngx_int_t
ngx_http_inbotpay_json_check(u_char *p, size_t len, ngx_uint_t depth)
{
    u_char      *last;
    ngx_uint_t   level, string;

    last = p + len;
    level = 0;
    string = 0;

    while (p < last) {

        if (string) {
            if (*p == '"') {
                string = 0;

            } else if (*p == '\\') {
                if (last - p >= 6 && p[1] == 'u' && p[2] == '0'
                    && p[3] == '0' && p[4] == '0' && p[5] == '0')
                {
                    return NGX_DECLINED;
                }

                p++;
            }

        } else if (*p == '"') {
            string = 1;

        } else if (*p == '{' || *p == '[') {
            if (++level > depth) {
                return NGX_DECLINED;
            }

        } else if ((*p == '}' || *p == ']') && level) {
            level--;
        }

        p++;
    }

    return NGX_OK;
}


/* a decimal number followed by a dot */

static u_char *
ngx_http_inbotpay_parse_field(u_char *p, u_char *last, int64_t *value)
{
    u_char  *start;

    start = p;

    while (p < last && *p != '.') {
        p++;
    }

    if (p == last) {
        return NULL;
    }

    /* a nonce may be 0, the first update_id a bot can see */

    if (p - start == 1 && *start == '0') {
        *value = 0;
        return p + 1;
    }

    if (ngx_http_inbotpay_parse_amount(start, p - start, INT64_MAX, value)
        != NGX_OK)
    {
        return NULL;
    }

    return p + 1;
}


/*
 * Amounts are whole numbers in minor units written with digits only: no
 * sign, no leading zero, no spaces, no fraction, from 1 to "max".
 */

ngx_int_t
ngx_http_inbotpay_parse_amount(u_char *p, size_t len, int64_t max,
    int64_t *amount)
{
    int64_t  value, digit;

    if (len == 0 || len > NGX_INT64_LEN || *p == '0') {
        return NGX_DECLINED;
    }

    value = 0;

    while (len--) {
        if (*p < '0' || *p > '9') {
            return NGX_DECLINED;
        }

        digit = *p++ - '0';

        if (value > (INT64_MAX - digit) / 10) {
            return NGX_DECLINED;
        }

        value = value * 10 + digit;
    }

    if (value > max) {
        return NGX_DECLINED;
    }

    *amount = value;

    return NGX_OK;
}


/*
 * Splits "/command@botname arguments".  Returns NGX_OK for a command meant
 * for this bot, NGX_DECLINED for text that is not a command, and NGX_ABORT
 * for a command addressed to another bot (as happens in groups).  With no
 * configured username any "@botname" is accepted.
 */

ngx_int_t
ngx_http_inbotpay_parse_command(ngx_str_t *text, ngx_str_t *username,
    ngx_str_t *command, ngx_str_t *args)
{
    u_char  *p, *last, *name;
    size_t   i, len;

    p = text->data;
    last = p + text->len;

    if (p == last || *p != '/') {
        return NGX_DECLINED;
    }

    command->data = ++p;

    while (p < last
           && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
               || (*p >= '0' && *p <= '9') || *p == '_'))
    {
        p++;
    }

    command->len = p - command->data;

    if (command->len == 0 || command->len > 32) {
        return NGX_DECLINED;
    }

    if (p < last && *p == '@') {
        name = ++p;

        while (p < last && *p != ' ' && *p != '\n' && *p != '\t') {
            p++;
        }

        len = p - name;

        if (username->len) {
            if (len != username->len) {
                return NGX_ABORT;
            }

            for (i = 0; i < len; i++) {
                if (ngx_tolower(name[i]) != ngx_tolower(username->data[i])) {
                    return NGX_ABORT;
                }
            }
        }
    }

    if (p < last && *p != ' ' && *p != '\n' && *p != '\t') {
        return NGX_DECLINED;
    }

    while (p < last && (*p == ' ' || *p == '\n' || *p == '\t')) {
        p++;
    }

    while (last > p
           && (last[-1] == ' ' || last[-1] == '\n' || last[-1] == '\t'))
    {
        last--;
    }

    args->data = p;
    args->len = last - p;

    return NGX_OK;
}
