
/*
 * Copyright (C) 2026 InBotPay contributors
 *
 * Redis from the event loop: hiredis's asynchronous context attached to an
 * nginx connection in each worker, with connect and command timeouts as
 * nginx timers, reconnection with backoff, and the money scripts sent as
 * EVALSHA with a fallback to EVAL.
 *
 * A request never hands itself to hiredis.  It hands over a small command
 * holder allocated outside the request pool; the request's cleanup detaches
 * the holder, and the reply callback frees it, so a reply arriving after
 * the request is gone finds nothing to touch.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/sha.h>

#include "ngx_http_inbotpay.h"


#define NGX_HTTP_INBOTPAY_BACKOFF_MIN  100
#define NGX_HTTP_INBOTPAY_BACKOFF_MAX  2000


typedef struct {
    ngx_str_t                      *text;
    u_char                          sha1[SHA_DIGEST_LENGTH * 2];
} ngx_http_inbotpay_script_t;


typedef struct {
    ngx_http_inbotpay_ctx_t        *ctx;
    ngx_http_inbotpay_redis_t      *redis;
    ngx_event_t                     timer;
    ngx_int_t                       script;
    int                             argc;
    const char                    **argv;
    size_t                         *argvlen;
    uint64_t                        start;
    unsigned                        resent:1;
} ngx_http_inbotpay_redis_cmd_t;


static void ngx_http_inbotpay_redis_connect(ngx_http_inbotpay_redis_t *rd);
static void ngx_http_inbotpay_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_inbotpay_redis_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_http_inbotpay_redis_drop(ngx_http_inbotpay_redis_t *rd);
static void ngx_http_inbotpay_redis_schedule(ngx_http_inbotpay_redis_t *rd);
static void ngx_http_inbotpay_redis_reconnect(ngx_event_t *ev);
static void ngx_http_inbotpay_redis_connect_timeout(ngx_event_t *ev);
static void ngx_http_inbotpay_redis_load_scripts(
    ngx_http_inbotpay_redis_t *rd);
static void ngx_http_inbotpay_redis_script_loaded(redisAsyncContext *ac,
    void *r, void *privdata);

static void ngx_http_inbotpay_redis_add_read(void *privdata);
static void ngx_http_inbotpay_redis_del_read(void *privdata);
static void ngx_http_inbotpay_redis_add_write(void *privdata);
static void ngx_http_inbotpay_redis_del_write(void *privdata);
static void ngx_http_inbotpay_redis_cleanup(void *privdata);
static void ngx_http_inbotpay_redis_read_handler(ngx_event_t *ev);
static void ngx_http_inbotpay_redis_write_handler(ngx_event_t *ev);

static void ngx_http_inbotpay_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_inbotpay_redis_timeout(ngx_event_t *ev);


extern ngx_str_t  ngx_http_inbotpay_script_start;
extern ngx_str_t  ngx_http_inbotpay_script_deposit;
extern ngx_str_t  ngx_http_inbotpay_script_withdraw;
extern ngx_str_t  ngx_http_inbotpay_script_settle;
extern ngx_str_t  ngx_http_inbotpay_script_offer;
extern ngx_str_t  ngx_http_inbotpay_script_transfer;
extern ngx_str_t  ngx_http_inbotpay_script_refund;
extern ngx_str_t  ngx_http_inbotpay_script_game;


/* in the order of the NGX_HTTP_INBOTPAY_SCRIPT_* numbers */

static ngx_http_inbotpay_script_t  ngx_http_inbotpay_scripts[] = {
    { &ngx_http_inbotpay_script_start, "" },
    { &ngx_http_inbotpay_script_deposit, "" },
    { &ngx_http_inbotpay_script_withdraw, "" },
    { &ngx_http_inbotpay_script_settle, "" },
    { &ngx_http_inbotpay_script_offer, "" },
    { &ngx_http_inbotpay_script_transfer, "" },
    { &ngx_http_inbotpay_script_refund, "" },
    { &ngx_http_inbotpay_script_game, "" },
};


ngx_int_t
ngx_http_inbotpay_redis_init_scripts(ngx_log_t *log)
{
    ngx_uint_t                   i;
    ngx_http_inbotpay_script_t  *s;
    u_char                       digest[SHA_DIGEST_LENGTH];

    if (sizeof(ngx_http_inbotpay_scripts)
        / sizeof(ngx_http_inbotpay_script_t) != NGX_HTTP_INBOTPAY_SCRIPT_N)
    {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "inbotpay: the script table is incomplete");
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_INBOTPAY_SCRIPT_N; i++) {
        s = &ngx_http_inbotpay_scripts[i];

        SHA1(s->text->data, s->text->len, digest);
        ngx_hex_dump(s->sha1, digest, SHA_DIGEST_LENGTH);
    }

    return NGX_OK;
}


/*
 * hiredis 0.14 resolves host names with a blocking getaddrinfo(), so only
 * an IP address with a port, or "unix:/path", is accepted.
 */

ngx_int_t
ngx_http_inbotpay_redis_parse_addr(ngx_conf_t *cf,
    ngx_http_inbotpay_redis_t *rd)
{
    u_char     *colon;
    ngx_int_t   port;
    ngx_str_t  *addr;
    u_char      buf[NGX_INET6_ADDRSTRLEN + 1];

    addr = &rd->addr;

    if (addr->len > 5 && ngx_strncmp(addr->data, "unix:", 5) == 0) {
        rd->host = ngx_pnalloc(cf->pool, addr->len - 4);
        if (rd->host == NULL) {
            return NGX_ERROR;
        }

        ngx_cpystrn(rd->host, addr->data + 5, addr->len - 4);
        rd->port = 0;

        return NGX_OK;
    }

    colon = ngx_strlchr(addr->data, addr->data + addr->len, ':');

    if (colon == NULL || colon == addr->data
        || (size_t) (colon - addr->data) > NGX_INET6_ADDRSTRLEN)
    {
        return NGX_DECLINED;
    }

    ngx_cpystrn(buf, addr->data, colon - addr->data + 1);

    if (ngx_inet_addr(buf, colon - addr->data) == INADDR_NONE) {
        return NGX_DECLINED;
    }

    port = ngx_atoi(colon + 1, addr->data + addr->len - colon - 1);
    if (port < 1 || port > 65535) {
        return NGX_DECLINED;
    }

    rd->host = ngx_pnalloc(cf->pool, colon - addr->data + 1);
    if (rd->host == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn(rd->host, addr->data, colon - addr->data + 1);
    rd->port = (int) port;

    return NGX_OK;
}


void
ngx_http_inbotpay_redis_start(ngx_http_inbotpay_redis_t *rd, ngx_log_t *log)
{
    rd->log = log;

    rd->reconnect.handler = ngx_http_inbotpay_redis_reconnect;
    rd->reconnect.data = rd;
    rd->reconnect.log = log;
    rd->reconnect.cancelable = 1;

    rd->connect_timer.handler = ngx_http_inbotpay_redis_connect_timeout;
    rd->connect_timer.data = rd;
    rd->connect_timer.log = log;
    rd->connect_timer.cancelable = 1;

    ngx_http_inbotpay_redis_connect(rd);
}


void
ngx_http_inbotpay_redis_stop(ngx_http_inbotpay_redis_t *rd)
{
    redisAsyncContext  *ac;

    if (rd->reconnect.timer_set) {
        ngx_del_timer(&rd->reconnect);
    }

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    ac = rd->ac;

    if (ac) {
        if (rd->connected) {
            ngx_http_inbotpay_count_connection(-1);
        }

        rd->ac = NULL;
        rd->connected = 0;
        redisAsyncFree(ac);
    }
}


static void
ngx_http_inbotpay_redis_connect(ngx_http_inbotpay_redis_t *rd)
{
    ngx_connection_t   *c;
    redisAsyncContext  *ac;

    if (rd->port) {
        ac = redisAsyncConnect((char *) rd->host, rd->port);

    } else {
        ac = redisAsyncConnectUnix((char *) rd->host);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "inbotpay: cannot allocate a redis context");
        ngx_http_inbotpay_redis_schedule(rd);
        return;
    }

    if (ac->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "inbotpay: redis \"%V\" connect failed: %s",
                      &rd->addr, ac->errstr);
        redisAsyncFree(ac);
        ngx_http_inbotpay_redis_schedule(rd);
        return;
    }

    c = ngx_get_connection(ac->c.fd, rd->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_http_inbotpay_redis_schedule(rd);
        return;
    }

    c->data = rd;
    c->read->handler = ngx_http_inbotpay_redis_read_handler;
    c->write->handler = ngx_http_inbotpay_redis_write_handler;
    c->read->log = rd->log;
    c->write->log = rd->log;

    rd->ac = ac;
    rd->connection = c;

    ac->data = rd;
    ac->ev.data = rd;
    ac->ev.addRead = ngx_http_inbotpay_redis_add_read;
    ac->ev.delRead = ngx_http_inbotpay_redis_del_read;
    ac->ev.addWrite = ngx_http_inbotpay_redis_add_write;
    ac->ev.delWrite = ngx_http_inbotpay_redis_del_write;
    ac->ev.cleanup = ngx_http_inbotpay_redis_cleanup;

    /* setting the connect callback waits for the socket to be writable */

    redisAsyncSetConnectCallback(ac, ngx_http_inbotpay_redis_connected);
    redisAsyncSetDisconnectCallback(ac, ngx_http_inbotpay_redis_disconnected);

    ngx_add_timer(&rd->connect_timer, rd->connect_timeout);

    ngx_http_inbotpay_redis_load_scripts(rd);
}


static void
ngx_http_inbotpay_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_inbotpay_redis_t  *rd;

    rd = ac->data;

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    if (status != REDIS_OK) {

        /* hiredis frees the context after this callback returns */

        ngx_http_inbotpay_count_redis_error(NGX_HTTP_INBOTPAY_REDIS_CONNECT);

        if (rd->backoff == 0) {
            ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                          "inbotpay: redis \"%V\" connect failed: %s",
                          &rd->addr, ac->errstr);
        }

        if (rd->ac == ac) {
            rd->ac = NULL;
            rd->connected = 0;
            ngx_http_inbotpay_redis_schedule(rd);
        }

        return;
    }

    if (rd->backoff) {
        ngx_log_error(NGX_LOG_NOTICE, rd->log, 0,
                      "inbotpay: redis \"%V\" connected again", &rd->addr);
    }

    rd->connected = 1;
    rd->backoff = 0;

    ngx_http_inbotpay_count_connection(1);
}


static void
ngx_http_inbotpay_redis_disconnected(const redisAsyncContext *ac,
    int status)
{
    ngx_http_inbotpay_redis_t  *rd;

    rd = ac->data;

    if (rd->ac != ac) {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                  "inbotpay: redis \"%V\" connection lost: %s",
                  &rd->addr, ac->err ? ac->errstr : "closed");

    ngx_http_inbotpay_count_redis_error(NGX_HTTP_INBOTPAY_REDIS_DISCONNECT);

    if (rd->connected) {
        ngx_http_inbotpay_count_connection(-1);
    }

    rd->ac = NULL;
    rd->connected = 0;

    ngx_http_inbotpay_redis_schedule(rd);
}


/*
 * Drops the connection at once: hiredis calls every pending callback with
 * no reply, so every request waiting on it is answered 503.
 */

static void
ngx_http_inbotpay_redis_drop(ngx_http_inbotpay_redis_t *rd)
{
    redisAsyncContext  *ac;

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    ac = rd->ac;

    if (ac == NULL) {
        return;
    }

    if (rd->connected) {
        ngx_http_inbotpay_count_connection(-1);
    }

    rd->ac = NULL;
    rd->connected = 0;

    redisAsyncFree(ac);

    ngx_http_inbotpay_redis_schedule(rd);
}


static void
ngx_http_inbotpay_redis_schedule(ngx_http_inbotpay_redis_t *rd)
{
    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (rd->reconnect.timer_set) {
        return;
    }

    if (rd->backoff == 0) {
        rd->backoff = NGX_HTTP_INBOTPAY_BACKOFF_MIN;

    } else {
        rd->backoff = ngx_min(rd->backoff * 2, NGX_HTTP_INBOTPAY_BACKOFF_MAX);
    }

    ngx_add_timer(&rd->reconnect, rd->backoff);
}


static void
ngx_http_inbotpay_redis_reconnect(ngx_event_t *ev)
{
    ngx_http_inbotpay_redis_t  *rd;

    rd = ev->data;

    if (rd->ac == NULL) {
        ngx_http_inbotpay_redis_connect(rd);
    }
}


static void
ngx_http_inbotpay_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_http_inbotpay_redis_t  *rd;

    rd = ev->data;

    ngx_log_error(NGX_LOG_ERR, rd->log, NGX_ETIMEDOUT,
                  "inbotpay: redis \"%V\" connect timed out", &rd->addr);

    ngx_http_inbotpay_redis_drop(rd);
}


/*
 * Each new connection loads the scripts first; commands are answered in
 * order, so an EVALSHA sent after them finds its script.  A SCRIPT FLUSH
 * later on is handled by the NOSCRIPT fallback.
 */

static void
ngx_http_inbotpay_redis_load_scripts(ngx_http_inbotpay_redis_t *rd)
{
    ngx_uint_t   i;
    const char  *argv[3];
    size_t       argvlen[3];

    for (i = 0; i < NGX_HTTP_INBOTPAY_SCRIPT_N; i++) {
        argv[0] = "SCRIPT";
        argvlen[0] = sizeof("SCRIPT") - 1;
        argv[1] = "LOAD";
        argvlen[1] = sizeof("LOAD") - 1;
        argv[2] = (const char *) ngx_http_inbotpay_scripts[i].text->data;
        argvlen[2] = ngx_http_inbotpay_scripts[i].text->len;

        if (redisAsyncCommandArgv(rd->ac,
                                  ngx_http_inbotpay_redis_script_loaded,
                                  rd, 3, argv, argvlen)
            != REDIS_OK)
        {
            return;
        }
    }
}


static void
ngx_http_inbotpay_redis_script_loaded(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                 *reply;
    ngx_http_inbotpay_redis_t  *rd;

    reply = r;
    rd = privdata;

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "inbotpay: redis \"%V\" refused a script: %s",
                      &rd->addr, reply->str);
    }
}


ngx_int_t
ngx_http_inbotpay_redis_send(ngx_http_inbotpay_ctx_t *ctx, ngx_int_t script,
    ngx_uint_t nkeys, ngx_uint_t argc, ngx_str_t *argv,
    ngx_http_inbotpay_redis_handler_pt handler)
{
    u_char                         *p;
    ngx_uint_t                      i, n, first;
    ngx_http_request_t             *r;
    ngx_http_inbotpay_redis_t      *rd;
    ngx_http_inbotpay_redis_cmd_t  *cmd;

    r = ctx->request;
    rd = ctx->conf->redis;

    if (rd->ac == NULL) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "inbotpay: redis \"%V\" is unavailable", &rd->addr);
        return NGX_DECLINED;
    }

    first = (script >= 0) ? 3 : 0;
    n = argc + first;

    cmd = ngx_alloc(sizeof(ngx_http_inbotpay_redis_cmd_t), r->connection->log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(cmd, sizeof(ngx_http_inbotpay_redis_cmd_t));

    cmd->argv = ngx_palloc(r->pool, n * sizeof(char *));
    cmd->argvlen = ngx_palloc(r->pool, n * sizeof(size_t));
    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);

    if (cmd->argv == NULL || cmd->argvlen == NULL || p == NULL) {
        ngx_free(cmd);
        return NGX_ERROR;
    }

    if (script >= 0) {
        cmd->argv[0] = "EVALSHA";
        cmd->argvlen[0] = sizeof("EVALSHA") - 1;
        cmd->argv[1] = (const char *) ngx_http_inbotpay_scripts[script].sha1;
        cmd->argvlen[1] = SHA_DIGEST_LENGTH * 2;
        cmd->argv[2] = (const char *) p;
        cmd->argvlen[2] = ngx_sprintf(p, "%ui", nkeys) - p;
    }

    for (i = 0; i < argc; i++) {
        cmd->argv[first + i] = (const char *) argv[i].data;
        cmd->argvlen[first + i] = argv[i].len;
    }

    cmd->ctx = ctx;
    cmd->redis = rd;
    cmd->script = script;
    cmd->argc = (int) n;

    /*
     * not cancelable: a worker that is shutting down waits for the reply,
     * or the timeout, before it exits
     */

    cmd->timer.handler = ngx_http_inbotpay_redis_timeout;
    cmd->timer.data = cmd;
    cmd->timer.log = rd->log;

    if (redisAsyncCommandArgv(rd->ac, ngx_http_inbotpay_redis_reply, cmd,
                              cmd->argc, cmd->argv, cmd->argvlen)
        != REDIS_OK)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "inbotpay: redis \"%V\" refused a command", &rd->addr);
        ngx_free(cmd);
        return NGX_DECLINED;
    }

    ngx_add_timer(&cmd->timer, ctx->conf->redis_timeout);

    cmd->start = ngx_http_inbotpay_usec();
    ctx->command = cmd;
    ctx->redis_handler = handler;

    return NGX_OK;
}


/* the request is going away: whatever comes back is no longer its business */

void
ngx_http_inbotpay_redis_cancel(ngx_http_inbotpay_ctx_t *ctx)
{
    ngx_http_inbotpay_redis_cmd_t  *cmd;

    cmd = ctx->command;

    if (cmd == NULL) {
        return;
    }

    ctx->command = NULL;
    cmd->ctx = NULL;

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }
}


static void
ngx_http_inbotpay_redis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                     *reply;
    ngx_connection_t               *c;
    ngx_http_inbotpay_ctx_t        *ctx;
    ngx_http_inbotpay_redis_cmd_t  *cmd;

    reply = r;
    cmd = privdata;
    ctx = cmd->ctx;

    if (ctx == NULL) {
        ngx_free(cmd);
        return;
    }

    if (reply
        && reply->type == REDIS_REPLY_ERROR
        && cmd->script >= 0
        && !cmd->resent
        && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0)
    {
        cmd->resent = 1;
        cmd->argv[0] = "EVAL";
        cmd->argvlen[0] = sizeof("EVAL") - 1;
        cmd->argv[1] = (const char *)
                       ngx_http_inbotpay_scripts[cmd->script].text->data;
        cmd->argvlen[1] = ngx_http_inbotpay_scripts[cmd->script].text->len;

        if (redisAsyncCommandArgv(ac, ngx_http_inbotpay_redis_reply, cmd,
                                  cmd->argc, cmd->argv, cmd->argvlen)
            == REDIS_OK)
        {
            return;
        }

        reply = NULL;
    }

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }

    if (reply) {
        ngx_http_inbotpay_count_redis(ngx_http_inbotpay_usec() - cmd->start);
    }

    ctx->command = NULL;
    ngx_free(cmd);

    c = ctx->request->connection;

    ctx->redis_handler(ctx, reply);

    ngx_http_run_posted_requests(c);
}


/*
 * A command that takes too long is answered 503 and the connection is
 * dropped: every later reply on it would queue behind the late one.
 */

static void
ngx_http_inbotpay_redis_timeout(ngx_event_t *ev)
{
    ngx_connection_t               *c;
    ngx_http_inbotpay_ctx_t        *ctx;
    ngx_http_inbotpay_redis_t      *rd;
    ngx_http_inbotpay_redis_cmd_t  *cmd;

    cmd = ev->data;
    ctx = cmd->ctx;
    rd = cmd->redis;

    cmd->ctx = NULL;

    ngx_http_inbotpay_count_redis_error(NGX_HTTP_INBOTPAY_REDIS_TIMEOUT);

    if (ctx) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log,
                      NGX_ETIMEDOUT, "inbotpay: redis \"%V\" timed out",
                      &rd->addr);

        ctx->command = NULL;
        c = ctx->request->connection;

        ctx->redis_handler(ctx, NULL);

        ngx_http_run_posted_requests(c);
    }

    ngx_http_inbotpay_redis_drop(rd);
}


static void
ngx_http_inbotpay_redis_add_read(void *privdata)
{
    ngx_connection_t           *c;
    ngx_http_inbotpay_redis_t  *rd;

    rd = privdata;
    c = rd->connection;

    if (c && !c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_inbotpay_redis_del_read(void *privdata)
{
    ngx_connection_t           *c;
    ngx_http_inbotpay_redis_t  *rd;

    rd = privdata;
    c = rd->connection;

    if (c && c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_inbotpay_redis_add_write(void *privdata)
{
    ngx_connection_t           *c;
    ngx_http_inbotpay_redis_t  *rd;

    rd = privdata;
    c = rd->connection;

    if (c && !c->write->active) {
        (void) ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_inbotpay_redis_del_write(void *privdata)
{
    ngx_connection_t           *c;
    ngx_http_inbotpay_redis_t  *rd;

    rd = privdata;
    c = rd->connection;

    if (c && c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


/*
 * hiredis owns the socket and closes it after this hook: release the nginx
 * connection without closing the descriptor.
 */

static void
ngx_http_inbotpay_redis_cleanup(void *privdata)
{
    ngx_connection_t           *c;
    ngx_http_inbotpay_redis_t  *rd;

    rd = privdata;
    c = rd->connection;

    if (c == NULL) {
        return;
    }

    rd->connection = NULL;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);

    c->fd = (ngx_socket_t) -1;
}


static void
ngx_http_inbotpay_redis_read_handler(ngx_event_t *ev)
{
    ngx_connection_t           *c;
    ngx_http_inbotpay_redis_t  *rd;

    c = ev->data;
    rd = c->data;

    if (rd->ac) {
        redisAsyncHandleRead(rd->ac);
    }
}


static void
ngx_http_inbotpay_redis_write_handler(ngx_event_t *ev)
{
    ngx_connection_t           *c;
    ngx_http_inbotpay_redis_t  *rd;

    c = ev->data;
    rd = c->data;

    if (rd->ac) {
        redisAsyncHandleWrite(rd->ac);
    }
}
