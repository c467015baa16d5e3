
/*
 * Copyright (C) 2026 InBotPay contributors
 *
 * Types shared by the files of ngx_http_inbotpay_module: the configuration,
 * the per-request context, and the interfaces between the Redis adapter,
 * the bot logic and the Bot API client.
 */


#ifndef _NGX_HTTP_INBOTPAY_H_INCLUDED_
#define _NGX_HTTP_INBOTPAY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <yajl/yajl_gen.h>

#include "ngx_http_inbotpay_update.h"
#include "ngx_http_inbotpay_crypto.h"


/* the longest amount we print or parse: 19 digits of an int64_t */
#define NGX_HTTP_INBOTPAY_INT64_LEN  (NGX_INT64_LEN + 1)

#define NGX_HTTP_INBOTPAY_SCRIPT_START     0
#define NGX_HTTP_INBOTPAY_SCRIPT_DEPOSIT   1
#define NGX_HTTP_INBOTPAY_SCRIPT_WITHDRAW  2
#define NGX_HTTP_INBOTPAY_SCRIPT_SETTLE    3
#define NGX_HTTP_INBOTPAY_SCRIPT_OFFER     4
#define NGX_HTTP_INBOTPAY_SCRIPT_TRANSFER  5
#define NGX_HTTP_INBOTPAY_SCRIPT_REFUND    6
#define NGX_HTTP_INBOTPAY_SCRIPT_GAME      7
#define NGX_HTTP_INBOTPAY_SCRIPT_N         8

/* the cash desk's list of pending withdrawals, one key for all players */
#define NGX_HTTP_INBOTPAY_PENDING_KEY  "ibp:withdrawals:pending"

/* "⭐", U+2B50 */
#define NGX_HTTP_INBOTPAY_STAR  "\xe2\xad\x90"

/* the scripts keep amounts below 2^53, where Lua counts exactly */
#define NGX_HTTP_INBOTPAY_AMOUNT_MAX  9007199254740991LL

/* for ngx_http_inbotpay_bot_say(): ask the client to reply, no buttons */
#define NGX_HTTP_INBOTPAY_FORCE_REPLY  ((ngx_uint_t) -1)

/* room for a line of text with a few amounts and a name */
#define NGX_HTTP_INBOTPAY_TEXT_LEN  1024


typedef struct ngx_http_inbotpay_redis_s  ngx_http_inbotpay_redis_t;


/* one Redis server; the fields below "addr" live in each worker */
struct ngx_http_inbotpay_redis_s {
    ngx_str_t                       addr;
    u_char                         *host;
    int                             port;

    redisAsyncContext              *ac;
    ngx_connection_t               *connection;
    ngx_event_t                     reconnect;
    ngx_event_t                     connect_timer;
    ngx_msec_t                      backoff;
    ngx_msec_t                      connect_timeout;
    ngx_log_t                      *log;

    unsigned                        connected:1;
};


typedef struct {
    ngx_array_t                     redis;  /* ngx_http_inbotpay_redis_t * */
} ngx_http_inbotpay_main_conf_t;


typedef struct {
    ngx_http_inbotpay_redis_t      *redis;
    ngx_msec_t                      redis_timeout;

    ngx_str_t                       token;
    ngx_str_t                       secret;
    u_char                          secret_hash[32];
    ngx_str_t                       invoice_key;
    ngx_str_t                       api_key;
    time_t                          api_window;
    ngx_str_t                       bot_api;
    ngx_str_t                       bot_username;
    ngx_str_t                       currency;

    ngx_int_t                       deposit_max;
    ngx_array_t                    *deposit_presets;  /* int64_t */

    int64_t                         ops_chat;
    ngx_array_t                    *admins;           /* int64_t */
    ngx_int_t                       ops_threshold;
    ngx_int_t                       withdraw_min;
    ngx_int_t                       withdraw_max;
    ngx_int_t                       withdraw_daily;
    ngx_int_t                       transfer_max;
    time_t                          transfer_ttl;

    unsigned                        webhook:1;
    unsigned                        api:1;
} ngx_http_inbotpay_srv_conf_t;


/* an inline keyboard button; one with no text starts a new row */

typedef struct {
    ngx_str_t                       text;
    ngx_str_t                       data;
} ngx_http_inbotpay_button_t;


typedef struct ngx_http_inbotpay_ctx_s  ngx_http_inbotpay_ctx_t;

typedef void (*ngx_http_inbotpay_redis_handler_pt)(
    ngx_http_inbotpay_ctx_t *ctx, redisReply *reply);


struct ngx_http_inbotpay_ctx_s {
    ngx_http_request_t             *request;
    ngx_http_inbotpay_srv_conf_t   *conf;
    ngx_http_inbotpay_update_t      update;

    /* the Redis command in flight, if any */
    void                           *command;
    ngx_http_inbotpay_redis_handler_pt  redis_handler;

    ngx_http_log_handler_pt         log_handler;

    int64_t                         player;
    int64_t                         chat;

    /* state carried from one Redis reply to the next command */
    int64_t                         peer;
    int64_t                         amount;
    int64_t                         item;
    ngx_str_t                       name;
    ngx_str_t                       text;
    ngx_str_t                       reference;

    /* what the request counts as in the metrics */
    ngx_uint_t                      metric;

    /* why a backend API request was refused */
    char                           *error;

    /* the Bot API method the webhook reply carries */
    char                           *reply_method;

    /* a request to the backend API rather than a Telegram update */
    unsigned                        api:1;
};


/* the module: ngx_http_inbotpay_module.c */

extern ngx_module_t  ngx_http_inbotpay_module;

ngx_http_inbotpay_ctx_t *ngx_http_inbotpay_ctx_create(ngx_http_request_t *r);
ngx_table_elt_t *ngx_http_inbotpay_header(ngx_http_request_t *r,
    ngx_str_t *name);
u_char *ngx_http_inbotpay_read_body(ngx_http_request_t *r, size_t *len);
ngx_int_t ngx_http_inbotpay_send(ngx_http_request_t *r, ngx_uint_t status,
    char *type, u_char *body, size_t len);


/* the backend API: ngx_http_inbotpay_api.c */

ngx_int_t ngx_http_inbotpay_api_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_inbotpay_api_settled(ngx_http_inbotpay_ctx_t *ctx,
    ngx_str_t *f);
ngx_int_t ngx_http_inbotpay_api_error(ngx_http_inbotpay_ctx_t *ctx,
    ngx_uint_t status, char *code, char *message);


/* metrics: ngx_http_inbotpay_status.c */

#define NGX_HTTP_INBOTPAY_METRIC_INVALID       5
#define NGX_HTTP_INBOTPAY_METRIC_UNAUTHORIZED  6
#define NGX_HTTP_INBOTPAY_METRIC_KINDS         7

#define NGX_HTTP_INBOTPAY_MONEY_DEPOSIT     0
#define NGX_HTTP_INBOTPAY_MONEY_WITHDRAWAL  1
#define NGX_HTTP_INBOTPAY_MONEY_SETTLE      2
#define NGX_HTTP_INBOTPAY_MONEY_TRANSFER    3
#define NGX_HTTP_INBOTPAY_MONEY_REFUND      4
#define NGX_HTTP_INBOTPAY_MONEY_BET         5
#define NGX_HTTP_INBOTPAY_MONEY_WIN         6
#define NGX_HTTP_INBOTPAY_MONEY_ROLLBACK    7
#define NGX_HTTP_INBOTPAY_MONEY_ADJUST      8
#define NGX_HTTP_INBOTPAY_MONEY_KINDS       9
#define NGX_HTTP_INBOTPAY_MONEY_NONE        NGX_HTTP_INBOTPAY_MONEY_KINDS

#define NGX_HTTP_INBOTPAY_OUTCOME_OK        0
#define NGX_HTTP_INBOTPAY_OUTCOME_REPEAT    1
#define NGX_HTTP_INBOTPAY_OUTCOME_REFUSED   2
#define NGX_HTTP_INBOTPAY_OUTCOME_ERROR     3
#define NGX_HTTP_INBOTPAY_OUTCOMES          4

#define NGX_HTTP_INBOTPAY_REDIS_TIMEOUT     0
#define NGX_HTTP_INBOTPAY_REDIS_DISCONNECT  1
#define NGX_HTTP_INBOTPAY_REDIS_CONNECT     2

ngx_int_t ngx_http_inbotpay_status_init(ngx_conf_t *cf);
ngx_int_t ngx_http_inbotpay_status_handler(ngx_http_request_t *r);
void ngx_http_inbotpay_count_money(ngx_uint_t kind, ngx_uint_t outcome,
    int64_t amount);
void ngx_http_inbotpay_count_money_str(ngx_uint_t kind, ngx_str_t *outcome,
    ngx_str_t *amount);
void ngx_http_inbotpay_count_redis(uint64_t usec);
void ngx_http_inbotpay_count_redis_error(ngx_uint_t kind);
void ngx_http_inbotpay_count_connection(ngx_int_t delta);
void ngx_http_inbotpay_count_botapi(char *method, ngx_uint_t ok,
    ngx_uint_t reply);
uint64_t ngx_http_inbotpay_usec(void);


/* Redis: ngx_http_inbotpay_redis.c */

ngx_int_t ngx_http_inbotpay_redis_init_scripts(ngx_log_t *log);
ngx_int_t ngx_http_inbotpay_redis_parse_addr(ngx_conf_t *cf,
    ngx_http_inbotpay_redis_t *rd);
void ngx_http_inbotpay_redis_start(ngx_http_inbotpay_redis_t *rd,
    ngx_log_t *log);
void ngx_http_inbotpay_redis_stop(ngx_http_inbotpay_redis_t *rd);
ngx_int_t ngx_http_inbotpay_redis_send(ngx_http_inbotpay_ctx_t *ctx,
    ngx_int_t script, ngx_uint_t nkeys, ngx_uint_t argc, ngx_str_t *argv,
    ngx_http_inbotpay_redis_handler_pt handler);
void ngx_http_inbotpay_redis_cancel(ngx_http_inbotpay_ctx_t *ctx);


/* the bot: ngx_http_inbotpay_bot.c */

ngx_int_t ngx_http_inbotpay_bot_handle(ngx_http_inbotpay_ctx_t *ctx);
ngx_int_t ngx_http_inbotpay_bot_help(ngx_http_inbotpay_ctx_t *ctx);
ngx_int_t ngx_http_inbotpay_bot_redis(ngx_http_inbotpay_ctx_t *ctx,
    ngx_int_t script, ngx_uint_t nkeys, ngx_uint_t argc, ngx_str_t *argv,
    ngx_http_inbotpay_redis_handler_pt handler);
ngx_int_t ngx_http_inbotpay_bot_say(ngx_http_inbotpay_ctx_t *ctx,
    u_char *text, u_char *last, ngx_http_inbotpay_button_t *buttons,
    ngx_uint_t n);
ngx_int_t ngx_http_inbotpay_bot_post(ngx_http_inbotpay_ctx_t *ctx,
    int64_t chat, u_char *text, u_char *last,
    ngx_http_inbotpay_button_t *buttons, ngx_uint_t n);
ngx_int_t ngx_http_inbotpay_bot_answer(ngx_http_inbotpay_ctx_t *ctx,
    char *text);
ngx_int_t ngx_http_inbotpay_bot_answer_text(ngx_http_inbotpay_ctx_t *ctx,
    u_char *text, u_char *last);
u_char *ngx_http_inbotpay_bot_money(ngx_http_inbotpay_ctx_t *ctx, u_char *p,
    ngx_str_t *amount);
u_char *ngx_http_inbotpay_bot_money_int(ngx_http_inbotpay_ctx_t *ctx,
    u_char *p, int64_t amount);
ngx_int_t ngx_http_inbotpay_bot_reply_str(redisReply *reply,
    ngx_str_t *value);
ngx_int_t ngx_http_inbotpay_bot_reply_int(redisReply *reply, int64_t *n);
ngx_int_t ngx_http_inbotpay_bot_key(ngx_http_inbotpay_ctx_t *ctx,
    ngx_str_t *key, int64_t player, char *name, ngx_str_t *suffix);
ngx_int_t ngx_http_inbotpay_bot_int(ngx_http_inbotpay_ctx_t *ctx,
    ngx_str_t *value, int64_t n);
ngx_http_inbotpay_button_t *ngx_http_inbotpay_bot_presets(
    ngx_http_inbotpay_ctx_t *ctx, char *fmt, ngx_uint_t balance,
    ngx_uint_t *n);
ngx_int_t ngx_http_inbotpay_bot_button(ngx_http_inbotpay_ctx_t *ctx,
    ngx_http_inbotpay_button_t *b, char *text, char *fmt, int64_t a,
    int64_t c);


/* wallet operations: ngx_http_inbotpay_wallet.c */

ngx_int_t ngx_http_inbotpay_wallet_withdraw(ngx_http_inbotpay_ctx_t *ctx,
    ngx_str_t *args);
ngx_int_t ngx_http_inbotpay_wallet_ask(ngx_http_inbotpay_ctx_t *ctx);
ngx_int_t ngx_http_inbotpay_wallet_withdraw_button(
    ngx_http_inbotpay_ctx_t *ctx, int64_t amount);
ngx_int_t ngx_http_inbotpay_wallet_settle(ngx_http_inbotpay_ctx_t *ctx,
    int64_t player, int64_t withdrawal, char *action, ngx_str_t *reference);
ngx_int_t ngx_http_inbotpay_wallet_send(ngx_http_inbotpay_ctx_t *ctx,
    ngx_str_t *args);
ngx_int_t ngx_http_inbotpay_wallet_confirm(ngx_http_inbotpay_ctx_t *ctx,
    int64_t offer, ngx_uint_t yes);
ngx_int_t ngx_http_inbotpay_wallet_history(ngx_http_inbotpay_ctx_t *ctx,
    int64_t offset);
ngx_int_t ngx_http_inbotpay_wallet_refund(ngx_http_inbotpay_ctx_t *ctx);
ngx_int_t ngx_http_inbotpay_wallet_ops(ngx_http_inbotpay_ctx_t *ctx,
    u_char *text, u_char *last, ngx_http_inbotpay_button_t *buttons,
    ngx_uint_t n);


/* the Bot API: ngx_http_inbotpay_telegram.c */

yajl_gen ngx_http_inbotpay_tg_begin(ngx_http_inbotpay_ctx_t *ctx,
    char *method);
void ngx_http_inbotpay_tg_key_str(yajl_gen g, char *key, ngx_str_t *value);
void ngx_http_inbotpay_tg_key_cstr(yajl_gen g, char *key, char *value);
void ngx_http_inbotpay_tg_key_int(yajl_gen g, char *key, int64_t value);
void ngx_http_inbotpay_tg_key(yajl_gen g, char *key);
ngx_int_t ngx_http_inbotpay_tg_reply(ngx_http_inbotpay_ctx_t *ctx,
    yajl_gen g);
ngx_int_t ngx_http_inbotpay_tg_call(ngx_http_inbotpay_ctx_t *ctx,
    char *method, yajl_gen g);
void ngx_http_inbotpay_tg_finalize(ngx_http_inbotpay_ctx_t *ctx,
    ngx_int_t rc);
u_char *ngx_http_inbotpay_tg_log_error(ngx_http_request_t *r,
    ngx_http_request_t *sr, u_char *buf, size_t len);


#endif /* _NGX_HTTP_INBOTPAY_H_INCLUDED_ */
