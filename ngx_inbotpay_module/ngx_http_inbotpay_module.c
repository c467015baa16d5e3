
/*
 * Copyright (C) 2026 InBotPay contributors
 *
 * Directives, configuration, worker start and stop, and the webhook
 * handler: the secret check, the request body and the Update parser, after
 * which the bot (ngx_http_inbotpay_bot.c) takes over.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_inbotpay.h"


static ngx_int_t ngx_http_inbotpay_webhook_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_inbotpay_refuse(ngx_http_request_t *r,
    ngx_uint_t status);
static void ngx_http_inbotpay_webhook_body(ngx_http_request_t *r);
static void ngx_http_inbotpay_cleanup(void *data);

static ngx_int_t ngx_http_inbotpay_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_inbotpay_init_process(ngx_cycle_t *cycle);
static void ngx_http_inbotpay_exit_process(ngx_cycle_t *cycle);
static void *ngx_http_inbotpay_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_inbotpay_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_inbotpay_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_inbotpay_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_http_inbotpay_redis_t *ngx_http_inbotpay_redis_add(
    ngx_conf_t *cf, ngx_str_t *addr);
static char *ngx_http_inbotpay_read_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_inbotpay_ids(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_inbotpay_location(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_inbotpay_commands[] = {

    { ngx_string("inbotpay_redis"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_inbotpay_redis,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("inbotpay_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, redis_timeout),
      NULL },

    { ngx_string("inbotpay_bot_token_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_inbotpay_read_file,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, token),
      NULL },

    { ngx_string("inbotpay_webhook_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_inbotpay_read_file,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, secret),
      NULL },

    { ngx_string("inbotpay_invoice_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_inbotpay_read_file,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, invoice_key),
      NULL },

    { ngx_string("inbotpay_bot_api"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, bot_api),
      NULL },

    { ngx_string("inbotpay_bot_username"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, bot_username),
      NULL },

    { ngx_string("inbotpay_currency"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, currency),
      NULL },

    { ngx_string("inbotpay_deposit_max"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, deposit_max),
      NULL },

    { ngx_string("inbotpay_deposit_presets"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_1MORE,
      ngx_http_inbotpay_ids,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, deposit_presets),
      NULL },

    { ngx_string("inbotpay_ops_chat"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_inbotpay_ids,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, ops_chat),
      NULL },

    { ngx_string("inbotpay_admins"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_1MORE,
      ngx_http_inbotpay_ids,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, admins),
      NULL },

    { ngx_string("inbotpay_ops_threshold"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, ops_threshold),
      NULL },

    { ngx_string("inbotpay_withdraw_min"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, withdraw_min),
      NULL },

    { ngx_string("inbotpay_withdraw_max"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, withdraw_max),
      NULL },

    { ngx_string("inbotpay_withdraw_daily"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, withdraw_daily),
      NULL },

    { ngx_string("inbotpay_transfer_max"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, transfer_max),
      NULL },

    { ngx_string("inbotpay_transfer_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, transfer_ttl),
      NULL },

    { ngx_string("inbotpay_api_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_inbotpay_read_file,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, api_key),
      NULL },

    { ngx_string("inbotpay_api_window"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_inbotpay_srv_conf_t, api_window),
      NULL },

    { ngx_string("inbotpay_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_inbotpay_location,
      0,
      1,
      NULL },

    { ngx_string("inbotpay_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_inbotpay_location,
      0,
      2,
      NULL },

    { ngx_string("inbotpay_webhook"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_inbotpay_location,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_inbotpay_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_inbotpay_status_init,         /* postconfiguration */

    ngx_http_inbotpay_create_main_conf,    /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_inbotpay_create_srv_conf,     /* create server configuration */
    ngx_http_inbotpay_merge_srv_conf,      /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_inbotpay_module = {
    NGX_MODULE_V1,
    &ngx_http_inbotpay_module_ctx,         /* module context */
    ngx_http_inbotpay_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_inbotpay_init_module,         /* init module */
    ngx_http_inbotpay_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_inbotpay_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_inbotpay_default_redis =
    ngx_string("127.0.0.1:6379");

static ngx_str_t  ngx_http_inbotpay_secret_header =
    ngx_string("X-Telegram-Bot-Api-Secret-Token");


static ngx_int_t
ngx_http_inbotpay_webhook_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_table_elt_t          *h;
    ngx_http_inbotpay_ctx_t  *ctx;

    ctx = ngx_http_inbotpay_ctx_create(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->metric = NGX_HTTP_INBOTPAY_METRIC_UNAUTHORIZED;

    h = ngx_http_inbotpay_header(r, &ngx_http_inbotpay_secret_header);

    if (h == NULL
        || ngx_http_inbotpay_secret_check(ctx->conf->secret_hash,
                                          h->value.data, h->value.len)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "inbotpay: webhook secret missing or wrong");
        return ngx_http_inbotpay_refuse(r, NGX_HTTP_UNAUTHORIZED);
    }

    ctx->metric = NGX_HTTP_INBOTPAY_METRIC_INVALID;

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_inbotpay_refuse(r, NGX_HTTP_NOT_ALLOWED);
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_inbotpay_webhook_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * The context of every request the module serves: its configuration, its
 * Redis command, its metrics, and a log handler that masks the bot token
 * in error-log lines about its Bot API subrequests.
 */

ngx_http_inbotpay_ctx_t *
ngx_http_inbotpay_ctx_create(ngx_http_request_t *r)
{
    ngx_http_cleanup_t       *cln;
    ngx_http_inbotpay_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_inbotpay_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_inbotpay_cleanup;
    cln->data = ctx;

    ctx->request = r;
    ctx->conf = ngx_http_get_module_srv_conf(r, ngx_http_inbotpay_module);

    ngx_http_set_ctx(r, ctx, ngx_http_inbotpay_module);

    ctx->log_handler = r->log_handler;
    r->log_handler = ngx_http_inbotpay_tg_log_error;

    return ctx;
}


/* the first request header of that name */

ngx_table_elt_t *
ngx_http_inbotpay_header(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            return &h[i];
        }
    }
}


/*
 * Refusals carry no body: whoever is refused learns nothing from a page,
 * and Telegram reads only the status.
 */

static ngx_int_t
ngx_http_inbotpay_refuse(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_int_t         rc;
    ngx_table_elt_t  *h;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (status == NGX_HTTP_NOT_ALLOWED) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Allow");
        ngx_str_set(&h->value, "POST");
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


static void
ngx_http_inbotpay_webhook_body(ngx_http_request_t *r)
{
    u_char                   *body, *arena;
    size_t                    len;
    ngx_int_t                 rc;
    ngx_http_inbotpay_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_inbotpay_module);

    body = ngx_http_inbotpay_read_body(r, &len);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    arena = ngx_pnalloc(r->pool, len + 1);
    if (arena == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_inbotpay_update_parse(&ctx->update, body, len, arena);

    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "inbotpay: not an update: %s", ctx->update.error);
        ngx_http_finalize_request(r, NGX_HTTP_BAD_REQUEST);
        return;
    }

    ctx->metric = ctx->update.kind;

    rc = ngx_http_inbotpay_bot_handle(ctx);

    if (rc == NGX_DONE) {
        return;
    }

    ngx_http_finalize_request(r, rc);
}


/* sends a whole answer whose body lives in the request pool */

ngx_int_t
ngx_http_inbotpay_send(ngx_http_request_t *r, ngx_uint_t status,
    char *type, u_char *body, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* the whole body in one piece, from memory buffers or the temporary file */

u_char *
ngx_http_inbotpay_read_body(ngx_http_request_t *r, size_t *len)
{
    u_char       *body, *p;
    size_t        size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    size = 0;

    if (r->request_body == NULL) {
        *len = 0;
        return (u_char *) "";
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        size += b->in_file ? (size_t) (b->file_last - b->file_pos)
                           : (size_t) (b->last - b->pos);
    }

    if (size == 0) {
        *len = 0;
        return (u_char *) "";
    }

    cl = r->request_body->bufs;

    if (cl && cl->next == NULL && !cl->buf->in_file) {
        *len = size;
        return cl->buf->pos;
    }

    body = ngx_pnalloc(r->pool, size + 1);
    if (body == NULL) {
        return NULL;
    }

    p = body;

    for ( /* void */ ; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {

            /* a chunked body can leave an empty buffer with no memory */

            if (b->last != b->pos) {
                p = ngx_cpymem(p, b->pos, b->last - b->pos);
            }

            continue;
        }

        n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                          b->file_pos);

        if (n != b->file_last - b->file_pos) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "inbotpay: could not read the request body "
                          "from \"%V\"", &b->file->name);
            return NULL;
        }

        p += n;
    }

    *len = p - body;

    return body;
}


static void
ngx_http_inbotpay_cleanup(void *data)
{
    ngx_http_inbotpay_ctx_t  *ctx = data;

    ngx_http_inbotpay_redis_cancel(ctx);
}


static ngx_int_t
ngx_http_inbotpay_init_module(ngx_cycle_t *cycle)
{
    return ngx_http_inbotpay_redis_init_scripts(cycle->log);
}


static ngx_int_t
ngx_http_inbotpay_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i;
    ngx_http_inbotpay_redis_t     **rd;
    ngx_http_inbotpay_main_conf_t  *imcf;

    imcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_inbotpay_module);
    if (imcf == NULL) {
        return NGX_OK;
    }

    rd = imcf->redis.elts;

    for (i = 0; i < imcf->redis.nelts; i++) {
        ngx_http_inbotpay_redis_start(rd[i], cycle->log);
    }

    return NGX_OK;
}


static void
ngx_http_inbotpay_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i;
    ngx_http_inbotpay_redis_t     **rd;
    ngx_http_inbotpay_main_conf_t  *imcf;

    imcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_inbotpay_module);
    if (imcf == NULL) {
        return;
    }

    rd = imcf->redis.elts;

    for (i = 0; i < imcf->redis.nelts; i++) {
        ngx_http_inbotpay_redis_stop(rd[i]);
    }
}


static void *
ngx_http_inbotpay_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_inbotpay_main_conf_t  *imcf;

    imcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_inbotpay_main_conf_t));
    if (imcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&imcf->redis, cf->pool, 1,
                       sizeof(ngx_http_inbotpay_redis_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return imcf;
}


static void *
ngx_http_inbotpay_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_inbotpay_srv_conf_t  *iscf;

    iscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_inbotpay_srv_conf_t));
    if (iscf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     iscf->redis = NULL;
     *     iscf->token = { 0, NULL };
     *     iscf->secret = { 0, NULL };
     *     iscf->invoice_key = { 0, NULL };
     *     iscf->api_key = { 0, NULL };
     *     iscf->bot_api = { 0, NULL };
     *     iscf->bot_username = { 0, NULL };
     *     iscf->currency = { 0, NULL };
     *     iscf->deposit_presets = NULL;
     *     iscf->admins = NULL;
     */

    iscf->redis_timeout = NGX_CONF_UNSET_MSEC;
    iscf->deposit_max = NGX_CONF_UNSET;
    iscf->ops_chat = NGX_CONF_UNSET;
    iscf->ops_threshold = NGX_CONF_UNSET;
    iscf->withdraw_min = NGX_CONF_UNSET;
    iscf->withdraw_max = NGX_CONF_UNSET;
    iscf->withdraw_daily = NGX_CONF_UNSET;
    iscf->transfer_max = NGX_CONF_UNSET;
    iscf->transfer_ttl = NGX_CONF_UNSET;
    iscf->api_window = NGX_CONF_UNSET;

    return iscf;
}


static char *
ngx_http_inbotpay_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_inbotpay_srv_conf_t *prev = parent;
    ngx_http_inbotpay_srv_conf_t *conf = child;

    int64_t     *preset;
    ngx_uint_t   i;

    if (conf->redis == NULL) {
        conf->redis = prev->redis;
    }

    if (conf->redis == NULL && (conf->webhook || conf->api)) {
        conf->redis = ngx_http_inbotpay_redis_add(cf,
                                            &ngx_http_inbotpay_default_redis);
        if (conf->redis == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    ngx_conf_merge_msec_value(conf->redis_timeout, prev->redis_timeout, 1000);

    /* a connection is given the longest timeout of the servers using it */

    if (conf->redis && conf->redis->connect_timeout < conf->redis_timeout) {
        conf->redis->connect_timeout = conf->redis_timeout;
    }
    ngx_conf_merge_str_value(conf->token, prev->token, "");
    ngx_conf_merge_str_value(conf->secret, prev->secret, "");
    ngx_conf_merge_str_value(conf->invoice_key, prev->invoice_key, "");
    ngx_conf_merge_str_value(conf->bot_api, prev->bot_api, "");
    ngx_conf_merge_str_value(conf->bot_username, prev->bot_username, "");
    ngx_conf_merge_str_value(conf->currency, prev->currency, "XTR");
    ngx_conf_merge_value(conf->deposit_max, prev->deposit_max, 100000);
    ngx_conf_merge_value(conf->ops_chat, prev->ops_chat, 0);
    ngx_conf_merge_value(conf->ops_threshold, prev->ops_threshold, 1000);
    ngx_conf_merge_value(conf->withdraw_min, prev->withdraw_min, 1);
    ngx_conf_merge_value(conf->withdraw_max, prev->withdraw_max, 100000);
    ngx_conf_merge_value(conf->withdraw_daily, prev->withdraw_daily,
                         1000000);
    ngx_conf_merge_value(conf->transfer_max, prev->transfer_max, 100000);
    ngx_conf_merge_sec_value(conf->transfer_ttl, prev->transfer_ttl, 300);
    ngx_conf_merge_sec_value(conf->api_window, prev->api_window, 300);
    ngx_conf_merge_str_value(conf->api_key, prev->api_key, "");

    if (conf->api && conf->api_key.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "inbotpay_api needs inbotpay_api_secret_file");
        return NGX_CONF_ERROR;
    }

    if (conf->admins == NULL) {
        conf->admins = prev->admins;
    }

    if (conf->withdraw_min < 1 || conf->withdraw_max < conf->withdraw_min
        || conf->withdraw_daily < 1 || conf->transfer_max < 1
        || conf->transfer_ttl < 1
        || conf->deposit_max > NGX_HTTP_INBOTPAY_AMOUNT_MAX
        || conf->withdraw_max > NGX_HTTP_INBOTPAY_AMOUNT_MAX
        || conf->withdraw_daily > NGX_HTTP_INBOTPAY_AMOUNT_MAX
        || conf->transfer_max > NGX_HTTP_INBOTPAY_AMOUNT_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "inbotpay amounts must be from 1 to 2^53 - 1, "
                           "inbotpay_withdraw_min at most "
                           "inbotpay_withdraw_max, and "
                           "inbotpay_transfer_ttl positive");
        return NGX_CONF_ERROR;
    }

    if (conf->webhook
        && (conf->token.len == 0 || conf->secret.len == 0
            || conf->bot_api.len == 0))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "inbotpay_webhook needs inbotpay_bot_token_file, "
                           "inbotpay_webhook_secret_file and "
                           "inbotpay_bot_api");
        return NGX_CONF_ERROR;
    }

    if (conf->deposit_presets == NULL) {
        conf->deposit_presets = prev->deposit_presets;
    }

    if (conf->deposit_presets == NULL) {
        conf->deposit_presets = ngx_array_create(cf->pool, 3,
                                                 sizeof(int64_t));
        if (conf->deposit_presets == NULL) {
            return NGX_CONF_ERROR;
        }

        preset = ngx_array_push_n(conf->deposit_presets, 3);
        if (preset == NULL) {
            return NGX_CONF_ERROR;
        }

        preset[0] = 100;
        preset[1] = 500;
        preset[2] = 1000;
    }

    if (conf->deposit_max < 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "inbotpay_deposit_max must be at least 1");
        return NGX_CONF_ERROR;
    }

    if (conf->deposit_presets->nelts > 8) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "inbotpay_deposit_presets takes at most 8 "
                           "amounts");
        return NGX_CONF_ERROR;
    }

    preset = conf->deposit_presets->elts;

    for (i = 0; i < conf->deposit_presets->nelts; i++) {
        if (preset[i] > conf->deposit_max) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "inbotpay_deposit_presets: %L is over "
                               "inbotpay_deposit_max %i",
                               preset[i], conf->deposit_max);
            return NGX_CONF_ERROR;
        }
    }

    ngx_http_inbotpay_secret_hash(conf->secret.data, conf->secret.len,
                                  conf->secret_hash);

    if (conf->invoice_key.len == 0 && conf->token.len) {
        conf->invoice_key.data = ngx_pnalloc(cf->pool, 32);
        if (conf->invoice_key.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_http_inbotpay_derive_key(&conf->token, conf->invoice_key.data);
        conf->invoice_key.len = 32;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_inbotpay_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_inbotpay_srv_conf_t *iscf = conf;

    ngx_str_t  *value;

    if (iscf->redis) {
        return "is duplicate";
    }

    value = cf->args->elts;

    iscf->redis = ngx_http_inbotpay_redis_add(cf, &value[1]);
    if (iscf->redis == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* servers that name the same Redis share one connection per worker */

static ngx_http_inbotpay_redis_t *
ngx_http_inbotpay_redis_add(ngx_conf_t *cf, ngx_str_t *addr)
{
    ngx_uint_t                      i;
    ngx_http_inbotpay_redis_t      *rd, **rdp;
    ngx_http_inbotpay_main_conf_t  *imcf;

    imcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_inbotpay_module);

    rdp = imcf->redis.elts;

    for (i = 0; i < imcf->redis.nelts; i++) {
        if (rdp[i]->addr.len == addr->len
            && ngx_strncmp(rdp[i]->addr.data, addr->data, addr->len) == 0)
        {
            return rdp[i];
        }
    }

    rd = ngx_pcalloc(cf->pool, sizeof(ngx_http_inbotpay_redis_t));
    if (rd == NULL) {
        return NULL;
    }

    rd->addr = *addr;

    switch (ngx_http_inbotpay_redis_parse_addr(cf, rd)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid redis address \"%V\": "
                           "expected IP:PORT or unix:/path", addr);
        return NULL;

    default:
        return NULL;
    }

    rdp = ngx_array_push(&imcf->redis);
    if (rdp == NULL) {
        return NULL;
    }

    *rdp = rd;

    return rd;
}


/*
 * Reads a token or secret from a file when the configuration is loaded, as
 * root, so the file may be readable by root alone.  Surrounding white space
 * is dropped.  The contents are never logged.
 */

static char *
ngx_http_inbotpay_read_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char           *start, *end;
    ssize_t           n;
    ngx_str_t        *field, *value, name;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));

    file.name = name;
    file.log = cf->log;

    file.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &name);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > 4096)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is not a file of at most 4096 bytes",
                           &name);
        ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }

    start = ngx_pnalloc(cf->pool, ngx_file_size(&fi) + 1);
    if (start == NULL) {
        ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_file(&file, start, ngx_file_size(&fi), 0);

    ngx_close_file(file.fd);

    if (n == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    end = start + n;

    while (start < end && (*start == ' ' || *start == '\t'
                           || *start == '\r' || *start == '\n'))
    {
        start++;
    }

    while (end > start && (end[-1] == ' ' || end[-1] == '\t'
                           || end[-1] == '\r' || end[-1] == '\n'))
    {
        end--;
    }

    if (start == end) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" is empty", &name);
        return NGX_CONF_ERROR;
    }

    field->data = start;
    field->len = end - start;

    return NGX_CONF_OK;
}


/*
 * One Telegram chat id (negative for groups) into an int64_t, or several
 * positive numbers, user ids or amounts, into an array of int64_t.
 */

static char *
ngx_http_inbotpay_ids(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    int64_t      *id, sign;
    ngx_str_t    *value, v;
    ngx_uint_t    i;
    ngx_array_t  **list;

    value = cf->args->elts;
    list = NULL;

    if (cmd->type & NGX_CONF_1MORE) {
        list = (ngx_array_t **) (p + cmd->offset);

        if (*list) {
            return "is duplicate";
        }

        *list = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                 sizeof(int64_t));
        if (*list == NULL) {
            return NGX_CONF_ERROR;
        }

    } else if (*(int64_t *) (p + cmd->offset) != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (list) {
            id = ngx_array_push(*list);
            if (id == NULL) {
                return NGX_CONF_ERROR;
            }

        } else {
            id = (int64_t *) (p + cmd->offset);
        }

        v = value[i];
        sign = 1;

        if (v.len > 1 && v.data[0] == '-' && list == NULL) {
            sign = -1;
            v.data++;
            v.len--;
        }

        if (ngx_http_inbotpay_parse_amount(v.data, v.len, INT64_MAX, id)
            != NGX_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid number \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        *id *= sign;
    }

    return NGX_CONF_OK;
}


/* inbotpay_webhook, inbotpay_api and inbotpay_status: the location's handler */

static char *
ngx_http_inbotpay_location(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_inbotpay_srv_conf_t  *iscf;

    iscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_inbotpay_module);
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    switch (cmd->offset) {

    case 0:
        iscf->webhook = 1;
        clcf->handler = ngx_http_inbotpay_webhook_handler;
        break;

    case 1:
        iscf->api = 1;
        clcf->handler = ngx_http_inbotpay_api_handler;
        break;

    default:
        clcf->handler = ngx_http_inbotpay_status_handler;
    }

    return NGX_CONF_OK;
}
