
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

#define NGX_HTTP_INBOTPAY_SCRIPT_START    0
#define NGX_HTTP_INBOTPAY_SCRIPT_DEPOSIT  1
#define NGX_HTTP_INBOTPAY_SCRIPT_N        2


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
    ngx_str_t                       bot_api;
    ngx_str_t                       bot_username;
    ngx_str_t                       currency;

    ngx_int_t                       deposit_max;
    ngx_array_t                    *deposit_presets;  /* int64_t */

    unsigned                        webhook:1;
} ngx_http_inbotpay_srv_conf_t;


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
};


/* the module */

extern ngx_module_t  ngx_http_inbotpay_module;


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
