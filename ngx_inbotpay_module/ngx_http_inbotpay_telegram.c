
/*
 * Copyright (C) 2026 InBotPay contributors
 *
 * The Bot API client.  A webhook reply carries one method call in its body;
 * any further call goes out as a background subrequest to the internal
 * location named by inbotpay_bot_api, whose answer is checked and whose
 * failure is logged once, never retried.  Bodies are built with yajl_gen.
 *
 * The Bot API takes the token in the URL path, which nginx prints in
 * error-log lines about a subrequest; the requests served here get a log
 * handler that masks it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_inbotpay.h"


typedef struct {
    char                           *method;
    int64_t                         player;
    int64_t                         chat;
    unsigned                        done:1;
} ngx_http_inbotpay_tg_call_t;


static u_char *ngx_http_inbotpay_tg_finish(ngx_http_request_t *r,
    yajl_gen g, size_t *len);
static ngx_int_t ngx_http_inbotpay_tg_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);


yajl_gen
ngx_http_inbotpay_tg_begin(ngx_http_inbotpay_ctx_t *ctx, char *method)
{
    yajl_gen  g;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    yajl_gen_map_open(g);

    if (method) {
        ngx_http_inbotpay_tg_key_cstr(g, "method", method);
        ctx->reply_method = method;
    }

    return g;
}


void
ngx_http_inbotpay_tg_key(yajl_gen g, char *key)
{
    yajl_gen_string(g, (u_char *) key, ngx_strlen(key));
}


void
ngx_http_inbotpay_tg_key_str(yajl_gen g, char *key, ngx_str_t *value)
{
    ngx_http_inbotpay_tg_key(g, key);
    yajl_gen_string(g, value->data, value->len);
}


void
ngx_http_inbotpay_tg_key_cstr(yajl_gen g, char *key, char *value)
{
    ngx_http_inbotpay_tg_key(g, key);
    yajl_gen_string(g, (u_char *) value, ngx_strlen(value));
}


void
ngx_http_inbotpay_tg_key_int(yajl_gen g, char *key, int64_t value)
{
    ngx_http_inbotpay_tg_key(g, key);
    yajl_gen_integer(g, (long long) value);
}


/* closes the object, copies it to the request pool, frees the generator */

static u_char *
ngx_http_inbotpay_tg_finish(ngx_http_request_t *r, yajl_gen g, size_t *len)
{
    u_char               *p;
    size_t                n;
    const unsigned char  *buf;

    p = NULL;

    if (yajl_gen_map_close(g) == yajl_gen_status_ok
        && yajl_gen_get_buf(g, &buf, &n) == yajl_gen_status_ok)
    {
        p = ngx_pnalloc(r->pool, n);

        if (p) {
            ngx_memcpy(p, buf, n);
            *len = n;
        }

    } else {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "inbotpay: could not build a bot api call");
    }

    yajl_gen_free(g);

    return p;
}


/*
 * Answers the webhook with one Bot API call, or with an empty 200 when "g"
 * is NULL.  Returns what ngx_http_finalize_request() should get.
 */

ngx_int_t
ngx_http_inbotpay_tg_reply(ngx_http_inbotpay_ctx_t *ctx, yajl_gen g)
{
    u_char              *body;
    size_t               len;
    ngx_http_request_t  *r;

    r = ctx->request;

    r->headers_out.status = NGX_HTTP_OK;

    if (g == NULL) {
        r->headers_out.content_length_n = 0;
        r->header_only = 1;

        return ngx_http_send_header(r);
    }

    body = ngx_http_inbotpay_tg_finish(r, g, &len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->reply_method) {
        ngx_http_inbotpay_count_botapi(ctx->reply_method, 1, 1);
    }

    return ngx_http_inbotpay_send(r, NGX_HTTP_OK, "application/json", body,
                                  len);
}


/*
 * Makes a Bot API call in a background subrequest: the webhook reply does
 * not wait for it, and its answer is only logged when it is a failure.
 */

ngx_int_t
ngx_http_inbotpay_tg_call(ngx_http_inbotpay_ctx_t *ctx, char *method,
    yajl_gen g)
{
    u_char                        *body;
    size_t                         len;
    ngx_str_t                      uri;
    ngx_buf_t                     *b;
    ngx_chain_t                   *cl;
    ngx_http_request_t            *r, *sr;
    ngx_http_request_body_t       *rb;
    ngx_http_post_subrequest_t    *ps;
    ngx_http_inbotpay_tg_call_t   *call;
    ngx_http_inbotpay_srv_conf_t  *iscf;

    r = ctx->request;
    iscf = ctx->conf;

    body = ngx_http_inbotpay_tg_finish(r, g, &len);
    if (body == NULL) {
        return NGX_ERROR;
    }

    uri.len = iscf->bot_api.len + sizeof("bot") - 1 + iscf->token.len + 1
              + ngx_strlen(method);
    uri.data = ngx_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(uri.data, "%Vbot%V/%s", &iscf->bot_api, &iscf->token, method);

    call = ngx_pcalloc(r->pool, sizeof(ngx_http_inbotpay_tg_call_t));
    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    b = ngx_calloc_buf(r->pool);
    cl = ngx_alloc_chain_link(r->pool);

    if (call == NULL || ps == NULL || rb == NULL || b == NULL || cl == NULL) {
        return NGX_ERROR;
    }

    call->method = method;
    call->player = ctx->player;
    call->chat = ctx->chat;
    ps->handler = ngx_http_inbotpay_tg_done;
    ps->data = call;

    if (ngx_http_subrequest(r, &uri, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_IN_MEMORY
                            |NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    cl->buf = b;
    cl->next = NULL;
    rb->bufs = cl;

    /*
     * the webhook's connection stays busy until the subrequest ends: close
     * it after the reply, so that a slow Bot API does not hold back the
     * next update Telegram would send on it
     */

    r->keepalive = 0;

    sr->method = NGX_HTTP_POST;
    ngx_str_set(&sr->method_name, "POST");
    sr->request_body = rb;
    sr->headers_in.content_length_n = len;
    sr->headers_in.content_length = NULL;
    sr->headers_in.transfer_encoding = NULL;
    sr->headers_in.chunked = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_inbotpay_tg_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    char                         *copy, *action;
    size_t                        len;
    ngx_int_t                     status;
    yajl_val                      root, ok, desc;
    ngx_buf_t                    *b;
    ngx_http_inbotpay_tg_call_t  *call;
    static const char            *ok_path[] = { "ok", NULL };
    static const char            *desc_path[] = { "description", NULL };

    call = data;

    if (call->done) {
        return rc;
    }

    call->done = 1;

    status = sr->headers_out.status;

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE || rc == NGX_ERROR) {
        status = (rc == NGX_ERROR) ? NGX_HTTP_BAD_GATEWAY : rc;
    }

    b = sr->out ? sr->out->buf : NULL;
    root = NULL;

    if (b && b->last > b->pos) {
        len = b->last - b->pos;
        copy = ngx_pnalloc(sr->pool, len + 1);

        if (copy) {
            ngx_memcpy(copy, b->pos, len);
            copy[len] = '\0';
            root = yajl_tree_parse(copy, NULL, 0);
        }
    }

    ok = yajl_tree_get(root, ok_path, yajl_t_true);

    if (status == NGX_HTTP_OK && ok != NULL) {
        ngx_http_inbotpay_count_botapi(call->method, 1, 0);
        yajl_tree_free(root);
        return rc;
    }

    ngx_http_inbotpay_count_botapi(call->method, 0, 0);

    desc = yajl_tree_get(root, desc_path, yajl_t_string);

    action = sr->connection->log->action;
    sr->connection->log->action = NULL;

    ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                  "inbotpay: bot api \"%s\" for player %L, chat %L "
                  "failed: HTTP %i, \"%s\"",
                  call->method, call->player, call->chat, status,
                  desc ? YAJL_GET_STRING(desc) : "no description");

    sr->connection->log->action = action;

    yajl_tree_free(root);

    return rc;
}


void
ngx_http_inbotpay_tg_finalize(ngx_http_inbotpay_ctx_t *ctx, ngx_int_t rc)
{
    ngx_http_finalize_request(ctx->request, rc);
}


u_char *
ngx_http_inbotpay_tg_log_error(ngx_http_request_t *r, ngx_http_request_t *sr,
    u_char *buf, size_t len)
{
    u_char                   *p, *s;
    ngx_str_t                *token;
    ngx_http_inbotpay_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_inbotpay_module);

    if (ctx == NULL || ctx->log_handler == NULL) {
        return buf;
    }

    p = ctx->log_handler(r, sr, buf, len);

    token = &ctx->conf->token;

    if (token->len == 0) {
        return p;
    }

    for (s = buf; s + token->len <= p; s++) {
        if (*s == token->data[0]
            && ngx_memcmp(s, token->data, token->len) == 0)
        {
            ngx_memset(s, '*', token->len);
            s += token->len - 1;
        }
    }

    return p;
}
