
/*
 * Copyright (C) 2026 InBotPay contributors
 *
 * Pure helpers that take outside input apart or sign what we hand out:
 * constant-time secret checks, signed invoice payloads, amounts and bot
 * commands.  They use nginx types but no nginx functions, so that the unit
 * tests link them without nginx.
 */


#ifndef _NGX_HTTP_INBOTPAY_CRYPTO_H_INCLUDED_
#define _NGX_HTTP_INBOTPAY_CRYPTO_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <stdint.h>


/* Telegram limits an invoice payload to 128 bytes */
#define NGX_HTTP_INBOTPAY_PAYLOAD_LEN  128


typedef struct {
    int64_t     player;
    int64_t     amount;
    int64_t     nonce;
} ngx_http_inbotpay_invoice_t;


void ngx_http_inbotpay_secret_hash(u_char *data, size_t len, u_char *hash);
ngx_int_t ngx_http_inbotpay_secret_check(u_char *hash, u_char *data,
    size_t len);
void ngx_http_inbotpay_derive_key(ngx_str_t *token, u_char *key);

size_t ngx_http_inbotpay_invoice_sign(u_char *out, ngx_str_t *key,
    ngx_str_t *currency, ngx_http_inbotpay_invoice_t *inv);
ngx_int_t ngx_http_inbotpay_invoice_verify(ngx_str_t *payload,
    ngx_str_t *key, ngx_str_t *currency, ngx_http_inbotpay_invoice_t *inv);

ngx_int_t ngx_http_inbotpay_api_verify(ngx_str_t *key, ngx_str_t *timestamp,
    u_char *body, size_t len, ngx_str_t *signature);

ngx_int_t ngx_http_inbotpay_json_check(u_char *p, size_t len,
    ngx_uint_t depth);

ngx_int_t ngx_http_inbotpay_parse_amount(u_char *p, size_t len, int64_t max,
    int64_t *amount);
ngx_int_t ngx_http_inbotpay_parse_command(ngx_str_t *text,
    ngx_str_t *username, ngx_str_t *command, ngx_str_t *args);


#endif /* _NGX_HTTP_INBOTPAY_CRYPTO_H_INCLUDED_ */
