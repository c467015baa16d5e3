
/*
 * Copyright (C) 2026 InBotPay contributors
 *
 * The signed JSON API for the casino backend and ops: balances, game money
 * (bet, win, rollback), adjustments, the cash desk (pending withdrawals and
 * their settlement) and ledger pages.  It moves money with the same
 * scripts as the bot.
 *
 * Every request is a POST whose body is signed with HMAC-SHA256 over
 * "TIMESTAMP.BODY" under the key of inbotpay_api_secret_file; refused
 * requests change nothing and get {"error":CODE,"message":TEXT}.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_inbotpay.h"


#define NGX_HTTP_INBOTPAY_TX_LEN         64
#define NGX_HTTP_INBOTPAY_REASON_LEN     200
#define NGX_HTTP_INBOTPAY_REFERENCE_LEN  128
#define NGX_HTTP_INBOTPAY_LEDGER_LIMIT   1000

/* requests are flat objects; anything deeper is not one of them */
#define NGX_HTTP_INBOTPAY_API_DEPTH      16


typedef ngx_int_t (*ngx_http_inbotpay_api_pt)(ngx_http_inbotpay_ctx_t *ctx,
    yajl_val root);

typedef struct {
    ngx_str_t                       name;
    ngx_http_inbotpay_api_pt        handler;
} ngx_http_inbotpay_api_endpoint_t;


typedef struct {
    int64_t                         created;
    int64_t                         update;
    ngx_str_t                       json;
} ngx_http_inbotpay_api_pending_t;


static void ngx_http_inbotpay_api_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_inbotpay_api_authorize(ngx_http_inbotpay_ctx_t *ctx,
    u_char *body, size_t len);

static ngx_int_t ngx_http_inbotpay_api_balance(ngx_http_inbotpay_ctx_t *ctx,
    yajl_val root);
static void ngx_http_inbotpay_api_balance_done(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_inbotpay_api_bet(ngx_http_inbotpay_ctx_t *ctx,
    yajl_val root);
static ngx_int_t ngx_http_inbotpay_api_win(ngx_http_inbotpay_ctx_t *ctx,
    yajl_val root);
static ngx_int_t ngx_http_inbotpay_api_rollback(ngx_http_inbotpay_ctx_t *ctx,
    yajl_val root);
static ngx_int_t ngx_http_inbotpay_api_adjust(ngx_http_inbotpay_ctx_t *ctx,
    yajl_val root);
static ngx_int_t ngx_http_inbotpay_api_game(ngx_http_inbotpay_ctx_t *ctx,
    yajl_val root, char *op, ngx_uint_t kind);
static void ngx_http_inbotpay_api_game_done(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_inbotpay_api_withdrawals(
    ngx_http_inbotpay_ctx_t *ctx, yajl_val root);
static void ngx_http_inbotpay_api_withdrawals_done(
    ngx_http_inbotpay_ctx_t *ctx, redisReply *reply);
static int ngx_libc_cdecl ngx_http_inbotpay_api_pending_cmp(const void *a,
    const void *b);
static ngx_int_t ngx_http_inbotpay_api_settle(ngx_http_inbotpay_ctx_t *ctx,
    yajl_val root);
static ngx_int_t ngx_http_inbotpay_api_ledger(ngx_http_inbotpay_ctx_t *ctx,
    yajl_val root);
static void ngx_http_inbotpay_api_ledger_counted(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_inbotpay_api_ledger_done(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);

static ngx_int_t ngx_http_inbotpay_api_int(ngx_http_inbotpay_ctx_t *ctx,
    yajl_val root, char *name, ngx_uint_t required, int64_t min, int64_t max,
    int64_t *value);
static ngx_int_t ngx_http_inbotpay_api_str(ngx_http_inbotpay_ctx_t *ctx,
    yajl_val root, char *name, size_t max, ngx_uint_t id, ngx_str_t *value);
static ngx_int_t ngx_http_inbotpay_api_field(ngx_http_inbotpay_ctx_t *ctx,
    char *code, char *name);
static ngx_int_t ngx_http_inbotpay_api_send(ngx_http_inbotpay_ctx_t *ctx,
    ngx_uint_t status, u_char *body, size_t len);


static ngx_http_inbotpay_api_endpoint_t  ngx_http_inbotpay_api_endpoints[] = {
    { ngx_string("balance"), ngx_http_inbotpay_api_balance },
    { ngx_string("bet"), ngx_http_inbotpay_api_bet },
    { ngx_string("win"), ngx_http_inbotpay_api_win },
    { ngx_string("rollback"), ngx_http_inbotpay_api_rollback },
    { ngx_string("adjust"), ngx_http_inbotpay_api_adjust },
    { ngx_string("withdrawals"), ngx_http_inbotpay_api_withdrawals },
    { ngx_string("settle"), ngx_http_inbotpay_api_settle },
    { ngx_string("ledger"), ngx_http_inbotpay_api_ledger },
    { ngx_null_string, NULL }
};


static ngx_str_t  ngx_http_inbotpay_api_timestamp =
    ngx_string("X-InBotPay-Timestamp");
static ngx_str_t  ngx_http_inbotpay_api_signature =
    ngx_string("X-InBotPay-Signature");


ngx_int_t
ngx_http_inbotpay_api_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_http_inbotpay_ctx_t  *ctx;

    ctx = ngx_http_inbotpay_ctx_create(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->api = 1;
    ctx->metric = sizeof(ngx_http_inbotpay_api_endpoints)
                  / sizeof(ngx_http_inbotpay_api_endpoint_t) - 1;

    if (r->method != NGX_HTTP_POST) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_inbotpay_api_error(ctx, NGX_HTTP_NOT_ALLOWED,
                                           "method_not_allowed",
                                           "use POST");
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_inbotpay_api_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_inbotpay_api_body(ngx_http_request_t *r)
{
    char                              *json;
    u_char                            *body, *name;
    size_t                             len;
    ngx_int_t                          rc;
    yajl_val                           root;
    ngx_uint_t                         i;
    ngx_http_inbotpay_ctx_t           *ctx;
    ngx_http_inbotpay_api_endpoint_t  *e;

    ctx = ngx_http_get_module_ctx(r, ngx_http_inbotpay_module);

    body = ngx_http_inbotpay_read_body(r, &len);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_inbotpay_api_authorize(ctx, body, len) != NGX_OK) {
        ngx_http_finalize_request(r,
            ngx_http_inbotpay_api_error(ctx, NGX_HTTP_UNAUTHORIZED,
                ctx->error,
                ngx_strcmp(ctx->error, "bad_timestamp") == 0
                ? "X-InBotPay-Timestamp is missing or outside the window"
                : "the request is not signed with the API key"));
        return;
    }

    /* the endpoint is the last part of the path */

    name = r->uri.data + r->uri.len;

    while (name > r->uri.data && name[-1] != '/') {
        name--;
    }

    e = ngx_http_inbotpay_api_endpoints;

    for (i = 0; e[i].handler; i++) {
        if ((size_t) (r->uri.data + r->uri.len - name) == e[i].name.len
            && ngx_strncmp(name, e[i].name.data, e[i].name.len) == 0)
        {
            break;
        }
    }

    ctx->metric = i;

    if (e[i].handler == NULL) {
        ngx_http_finalize_request(r,
            ngx_http_inbotpay_api_error(ctx, NGX_HTTP_NOT_FOUND,
                                        "unknown_endpoint",
                                        "no such endpoint"));
        return;
    }

    json = ngx_pnalloc(r->pool, len + 1);
    if (json == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memcpy(json, body, len);
    json[len] = '\0';

    root = (ngx_strlen(json) == len
            && ngx_http_inbotpay_json_check(body, len,
                                            NGX_HTTP_INBOTPAY_API_DEPTH)
               == NGX_OK)
           ? yajl_tree_parse(json, NULL, 0) : NULL;

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        ngx_http_finalize_request(r,
            ngx_http_inbotpay_api_error(ctx, NGX_HTTP_BAD_REQUEST,
                                        "bad_json",
                                        "the body is not a JSON object "
                                        "of the expected shape"));
        return;
    }

    rc = e[i].handler(ctx, root);

    yajl_tree_free(root);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_int_t
ngx_http_inbotpay_api_authorize(ngx_http_inbotpay_ctx_t *ctx, u_char *body,
    size_t len)
{
    time_t               ts;
    ngx_table_elt_t     *timestamp, *signature;
    ngx_http_request_t  *r;

    r = ctx->request;

    timestamp = ngx_http_inbotpay_header(r, &ngx_http_inbotpay_api_timestamp);
    signature = ngx_http_inbotpay_header(r, &ngx_http_inbotpay_api_signature);

    ts = timestamp ? ngx_atotm(timestamp->value.data, timestamp->value.len)
                   : NGX_ERROR;

    if (ts == NGX_ERROR
        || ts < ngx_time() - ctx->conf->api_window
        || ts > ngx_time() + ctx->conf->api_window)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "inbotpay: api request with a missing or stale "
                      "timestamp");
        ctx->error = "bad_timestamp";
        return NGX_DECLINED;
    }

    if (signature == NULL
        || ngx_http_inbotpay_api_verify(&ctx->conf->api_key,
                                        &timestamp->value, body, len,
                                        &signature->value)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "inbotpay: api request with a bad signature");
        ctx->error = "bad_signature";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_inbotpay_api_balance(ngx_http_inbotpay_ctx_t *ctx, yajl_val root)
{
    ngx_str_t  argv[5];

    if (ngx_http_inbotpay_api_int(ctx, root, "player", 1, 1, INT64_MAX,
                                  &ctx->player)
        != NGX_OK)
    {
        return ngx_http_inbotpay_api_field(ctx, NULL, "player");
    }

    ngx_str_set(&argv[0], "HMGET");
    ngx_str_set(&argv[2], "balance");
    ngx_str_set(&argv[3], "held");
    ngx_str_set(&argv[4], "debt");

    if (ngx_http_inbotpay_bot_key(ctx, &argv[1], ctx->player, "wallet", NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_inbotpay_bot_redis(ctx, -1, 0, 5, argv,
                                       ngx_http_inbotpay_api_balance_done);
}


static void
ngx_http_inbotpay_api_balance_done(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    u_char     *p;
    ngx_str_t   f[3];
    u_char      text[NGX_HTTP_INBOTPAY_TEXT_LEN];

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 3
        || ngx_http_inbotpay_bot_reply_str(reply->element[0], &f[0])
           != NGX_OK
        || ngx_http_inbotpay_bot_reply_str(reply->element[1], &f[1])
           != NGX_OK
        || ngx_http_inbotpay_bot_reply_str(reply->element[2], &f[2])
           != NGX_OK)
    {
        ngx_http_inbotpay_tg_finalize(ctx,
            ngx_http_inbotpay_api_error(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "unavailable",
                                        "the wallet store is unavailable"));
        return;
    }

    p = ngx_slprintf(text, text + NGX_HTTP_INBOTPAY_TEXT_LEN,
                     "{\"player\":%L,\"balance\":%V,\"held\":%V,"
                     "\"debt\":%V,\"currency\":\"%V\"}",
                     ctx->player, &f[0], &f[1], &f[2], &ctx->conf->currency);

    ngx_http_inbotpay_tg_finalize(ctx,
        ngx_http_inbotpay_api_send(ctx, NGX_HTTP_OK, text, p - text));
}


static ngx_int_t
ngx_http_inbotpay_api_bet(ngx_http_inbotpay_ctx_t *ctx, yajl_val root)
{
    return ngx_http_inbotpay_api_game(ctx, root, "bet",
                                      NGX_HTTP_INBOTPAY_MONEY_BET);
}


static ngx_int_t
ngx_http_inbotpay_api_win(ngx_http_inbotpay_ctx_t *ctx, yajl_val root)
{
    return ngx_http_inbotpay_api_game(ctx, root, "win",
                                      NGX_HTTP_INBOTPAY_MONEY_WIN);
}


static ngx_int_t
ngx_http_inbotpay_api_rollback(ngx_http_inbotpay_ctx_t *ctx, yajl_val root)
{
    return ngx_http_inbotpay_api_game(ctx, root, "rollback",
                                      NGX_HTTP_INBOTPAY_MONEY_ROLLBACK);
}


static ngx_int_t
ngx_http_inbotpay_api_adjust(ngx_http_inbotpay_ctx_t *ctx, yajl_val root)
{
    return ngx_http_inbotpay_api_game(ctx, root, "adjust",
                                      NGX_HTTP_INBOTPAY_MONEY_ADJUST);
}


/*
 * bet, win, rollback and adjust: one script, keyed by the transaction id
 * in the player's wallet.
 */

static ngx_int_t
ngx_http_inbotpay_api_game(ngx_http_inbotpay_ctx_t *ctx, yajl_val root,
    char *op, ngx_uint_t kind)
{
    ngx_str_t  tx, bet, reason, argv[11];

    ngx_str_null(&bet);
    ngx_str_null(&reason);
    ngx_str_null(&argv[7]);

    ctx->item = kind;

    if (ngx_http_inbotpay_api_int(ctx, root, "player", 1, 1, INT64_MAX,
                                  &ctx->player)
        != NGX_OK)
    {
        return ngx_http_inbotpay_api_field(ctx, NULL, "player");
    }

    if (ngx_http_inbotpay_api_str(ctx, root, "tx", NGX_HTTP_INBOTPAY_TX_LEN,
                                  1, &tx)
        != NGX_OK)
    {
        return ngx_http_inbotpay_api_field(ctx, NULL, "tx");
    }

    if (kind == NGX_HTTP_INBOTPAY_MONEY_ADJUST) {
        if (ngx_http_inbotpay_api_int(ctx, root, "amount", 1,
                                      -NGX_HTTP_INBOTPAY_AMOUNT_MAX,
                                      NGX_HTTP_INBOTPAY_AMOUNT_MAX,
                                      &ctx->amount)
            != NGX_OK
            || ctx->amount == 0)
        {
            return ngx_http_inbotpay_api_field(ctx, NULL, "amount");
        }

        if (ngx_http_inbotpay_api_str(ctx, root, "reason",
                                      NGX_HTTP_INBOTPAY_REASON_LEN, 0,
                                      &reason)
            != NGX_OK)
        {
            return ngx_http_inbotpay_api_field(ctx, NULL, "reason");
        }

    } else if (kind != NGX_HTTP_INBOTPAY_MONEY_ROLLBACK) {
        if (ngx_http_inbotpay_api_int(ctx, root, "amount", 1, 1,
                                      NGX_HTTP_INBOTPAY_AMOUNT_MAX,
                                      &ctx->amount)
            != NGX_OK)
        {
            return ngx_http_inbotpay_api_field(ctx, NULL, "amount");
        }
    }

    if (kind == NGX_HTTP_INBOTPAY_MONEY_WIN
        || kind == NGX_HTTP_INBOTPAY_MONEY_ROLLBACK)
    {
        if (ngx_http_inbotpay_api_str(ctx, root, "bet",
                                      NGX_HTTP_INBOTPAY_TX_LEN, 1, &bet)
            != NGX_OK)
        {
            return ngx_http_inbotpay_api_field(ctx, NULL, "bet");
        }

        if (bet.len == tx.len && ngx_strncmp(bet.data, tx.data, tx.len) == 0)
        {
            return ngx_http_inbotpay_api_error(ctx, NGX_HTTP_CONFLICT,
                       "conflict", "a transaction cannot refer to itself");
        }
    }

    ctx->reference = tx;
    ctx->text = reason;

    if (kind != NGX_HTTP_INBOTPAY_MONEY_ROLLBACK
        && ngx_http_inbotpay_bot_int(ctx, &argv[7], ctx->amount) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_inbotpay_bot_key(ctx, &argv[0], ctx->player, "wallet", NULL)
        != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[1], ctx->player, "ledger",
                                     NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[2], ctx->player, "tx:", &tx)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[3], ctx->player, "tx:",
                                     bet.len ? &bet : &tx)
           != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[5], ctx->player) != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[9], ngx_time()) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[4].data = (u_char *) op;
    argv[4].len = ngx_strlen(op);
    argv[6] = tx;
    argv[8] = bet;
    argv[10] = reason;

    return ngx_http_inbotpay_bot_redis(ctx, NGX_HTTP_INBOTPAY_SCRIPT_GAME, 4,
                                       11, argv,
                                       ngx_http_inbotpay_api_game_done);
}


static void
ngx_http_inbotpay_api_game_done(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    u_char      *p, *last;
    yajl_val     root, balance;
    ngx_str_t    outcome, answer, moved;
    ngx_uint_t   kind;
    u_char       text[NGX_HTTP_INBOTPAY_TEXT_LEN];

    static const char  *balance_path[] = { "balance", NULL };

    kind = (ngx_uint_t) ctx->item;

    if (reply == NULL) {
        ngx_http_inbotpay_count_money(kind, NGX_HTTP_INBOTPAY_OUTCOME_ERROR, 0);
        ngx_http_inbotpay_tg_finalize(ctx,
            ngx_http_inbotpay_api_error(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "unavailable",
                                        "the wallet store is unavailable"));
        return;
    }

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1
        && ngx_http_inbotpay_bot_reply_str(reply->element[0], &outcome)
           == NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "inbotpay: transaction \"%V\" of player %L reused "
                      "with other parameters", &ctx->reference, ctx->player);
        ngx_http_inbotpay_count_money(kind, NGX_HTTP_INBOTPAY_OUTCOME_REFUSED,
                                      0);
        ngx_http_inbotpay_tg_finalize(ctx,
            ngx_http_inbotpay_api_error(ctx, NGX_HTTP_CONFLICT, "conflict",
                "the transaction id was used with other parameters"));
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || ngx_http_inbotpay_bot_reply_str(reply->element[0], &outcome)
           != NGX_OK
        || reply->element[1]->type != REDIS_REPLY_STRING
        || ngx_http_inbotpay_bot_reply_str(reply->element[2], &moved)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "inbotpay: transaction \"%V\" of player %L failed: %s",
                      &ctx->reference, ctx->player,
                      reply->type == REDIS_REPLY_ERROR ? reply->str
                                                       : "unexpected reply");
        ngx_http_inbotpay_count_money(kind, NGX_HTTP_INBOTPAY_OUTCOME_ERROR, 0);
        ngx_http_inbotpay_tg_finalize(ctx,
            ngx_http_inbotpay_api_error(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "unavailable",
                                        "the transaction failed"));
        return;
    }

    answer.data = (u_char *) reply->element[1]->str;
    answer.len = reply->element[1]->len;

    ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                  "inbotpay: transaction \"%V\" of player %L: %V",
                  &ctx->reference, ctx->player, &answer);

    if (outcome.len == 2 && ngx_strncmp(outcome.data, "ok", 2) == 0) {
        ngx_http_inbotpay_count_money_str(kind, &outcome, &moved);

        if (kind == NGX_HTTP_INBOTPAY_MONEY_ADJUST) {

            /* the player hears of an adjustment, with the new balance */

            p = ngx_pnalloc(ctx->request->pool, answer.len + 1);
            if (p == NULL) {
                ngx_http_inbotpay_tg_finalize(ctx,
                                              NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            ngx_memcpy(p, answer.data, answer.len);
            p[answer.len] = '\0';

            root = yajl_tree_parse((char *) p, NULL, 0);
            balance = yajl_tree_get(root, balance_path, yajl_t_number);

            if (balance && YAJL_IS_INTEGER(balance)) {
                last = text + NGX_HTTP_INBOTPAY_TEXT_LEN;
                p = ngx_slprintf(text, last, "Your balance was adjusted by %s",
                                 ctx->amount > 0 ? "+" : "");
                p = ngx_http_inbotpay_bot_money_int(ctx, p, ctx->amount);
                p = ngx_slprintf(p, last, " (%V). Your balance: ", &ctx->text);
                p = ngx_http_inbotpay_bot_money_int(ctx, p,
                                                 YAJL_GET_INTEGER(balance));

                (void) ngx_http_inbotpay_bot_post(ctx, ctx->player, text, p,
                                                  NULL, 0);
            }

            yajl_tree_free(root);
        }

    } else {
        ngx_http_inbotpay_count_money(kind,
                                      outcome.data[0] == 'r'
                                      && outcome.len == 6
                                      ? NGX_HTTP_INBOTPAY_OUTCOME_REPEAT
                                      : NGX_HTTP_INBOTPAY_OUTCOME_REFUSED,
                                      0);
    }

    ngx_http_inbotpay_tg_finalize(ctx,
        ngx_http_inbotpay_api_send(ctx, NGX_HTTP_OK, answer.data, answer.len));
}


/* the cash desk: pending withdrawals, oldest first */

static ngx_int_t
ngx_http_inbotpay_api_withdrawals(ngx_http_inbotpay_ctx_t *ctx,
    yajl_val root)
{
    ngx_str_t  argv[2];

    ngx_str_set(&argv[0], "HGETALL");
    ngx_str_set(&argv[1], NGX_HTTP_INBOTPAY_PENDING_KEY);

    return ngx_http_inbotpay_bot_redis(ctx, -1, 0, 2, argv,
                                       ngx_http_inbotpay_api_withdrawals_done);
}


static void
ngx_http_inbotpay_api_withdrawals_done(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    u_char                           *body, *p;
    char                             *json;
    size_t                            i, n, len;
    yajl_val                          root, v;
    redisReply                       *e;
    ngx_http_inbotpay_api_pending_t  *w;

    static const char  *created_path[] = { "created", NULL };
    static const char  *update_path[] = { "withdrawal", NULL };

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        ngx_http_inbotpay_tg_finalize(ctx,
            ngx_http_inbotpay_api_error(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "unavailable",
                                        "the wallet store is unavailable"));
        return;
    }

    n = reply->elements / 2;
    len = sizeof("{\"withdrawals\":[]}");

    w = ngx_pcalloc(ctx->request->pool,
                    (n + 1) * sizeof(ngx_http_inbotpay_api_pending_t));
    if (w == NULL) {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (i = 0; i < n; i++) {
        e = reply->element[2 * i + 1];

        if (e->type != REDIS_REPLY_STRING) {
            continue;
        }

        json = ngx_pnalloc(ctx->request->pool, e->len + 1);
        if (json == NULL) {
            ngx_http_inbotpay_tg_finalize(ctx,
                                          NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_memcpy(json, e->str, e->len);
        json[e->len] = '\0';

        root = yajl_tree_parse(json, NULL, 0);

        v = yajl_tree_get(root, created_path, yajl_t_number);
        w[i].created = (v && YAJL_IS_INTEGER(v)) ? YAJL_GET_INTEGER(v) : 0;

        v = yajl_tree_get(root, update_path, yajl_t_number);
        w[i].update = (v && YAJL_IS_INTEGER(v)) ? YAJL_GET_INTEGER(v) : 0;

        yajl_tree_free(root);

        w[i].json.data = (u_char *) json;
        w[i].json.len = e->len;

        len += e->len + 1;
    }

    ngx_qsort(w, n, sizeof(ngx_http_inbotpay_api_pending_t),
              ngx_http_inbotpay_api_pending_cmp);

    body = ngx_pnalloc(ctx->request->pool, len);
    if (body == NULL) {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_cpymem(body, "{\"withdrawals\":[", 16);

    for (i = 0; i < n; i++) {
        if (w[i].json.len == 0) {
            continue;
        }

        if (p[-1] == '}') {
            *p++ = ',';
        }

        p = ngx_cpymem(p, w[i].json.data, w[i].json.len);
    }

    p = ngx_cpymem(p, "]}", 2);

    ngx_http_inbotpay_tg_finalize(ctx,
        ngx_http_inbotpay_api_send(ctx, NGX_HTTP_OK, body, p - body));
}


static int ngx_libc_cdecl
ngx_http_inbotpay_api_pending_cmp(const void *a, const void *b)
{
    const ngx_http_inbotpay_api_pending_t  *x = a, *y = b;

    if (x->created != y->created) {
        return x->created < y->created ? -1 : 1;
    }

    if (x->update != y->update) {
        return x->update < y->update ? -1 : 1;
    }

    return 0;
}


/*
 * A payout provider settles a withdrawal, once: the same reference again
 * gets the same answer.
 */

static ngx_int_t
ngx_http_inbotpay_api_settle(ngx_http_inbotpay_ctx_t *ctx, yajl_val root)
{
    char       *action;
    ngx_str_t   status;

    if (ngx_http_inbotpay_api_int(ctx, root, "player", 1, 1, INT64_MAX,
                                  &ctx->peer)
        != NGX_OK)
    {
        return ngx_http_inbotpay_api_field(ctx, NULL, "player");
    }

    if (ngx_http_inbotpay_api_int(ctx, root, "withdrawal", 1, 0, INT64_MAX,
                                  &ctx->item)
        != NGX_OK)
    {
        return ngx_http_inbotpay_api_field(ctx, NULL, "withdrawal");
    }

    if (ngx_http_inbotpay_api_str(ctx, root, "status", 16, 1, &status)
        != NGX_OK)
    {
        return ngx_http_inbotpay_api_field(ctx, NULL, "status");
    }

    if (status.len == 4 && ngx_strncmp(status.data, "paid", 4) == 0) {
        action = "paid";

    } else if (status.len == 8
               && ngx_strncmp(status.data, "rejected", 8) == 0)
    {
        action = "rejected";

    } else {
        return ngx_http_inbotpay_api_field(ctx, "bad_field", "status");
    }

    if (ngx_http_inbotpay_api_str(ctx, root, "reference",
                                  NGX_HTTP_INBOTPAY_REFERENCE_LEN, 1,
                                  &ctx->reference)
        != NGX_OK)
    {
        return ngx_http_inbotpay_api_field(ctx, NULL, "reference");
    }

    return ngx_http_inbotpay_wallet_settle(ctx, ctx->peer, ctx->item, action,
                                           &ctx->reference);
}


/*
 * The answer to a settlement, from the script's figures {outcome, id,
 * amount, balance, status, destination}, or its refusal.
 */

ngx_int_t
ngx_http_inbotpay_api_settled(ngx_http_inbotpay_ctx_t *ctx, ngx_str_t *f)
{
    u_char  *p;
    u_char   text[NGX_HTTP_INBOTPAY_TEXT_LEN], message[64];

    if (f[0].len == 7 && ngx_strncmp(f[0].data, "refused", 7) == 0) {

        if (f[1].len == 7 && ngx_strncmp(f[1].data, "unknown", 7) == 0) {
            return ngx_http_inbotpay_api_error(ctx, NGX_HTTP_NOT_FOUND,
                                               "unknown_withdrawal",
                                               "no such withdrawal");
        }

        p = ngx_slprintf(message, message + sizeof(message) - 1,
                         "withdrawal is already %V", &f[1]);
        *p = '\0';

        return ngx_http_inbotpay_api_error(ctx, NGX_HTTP_CONFLICT,
                                           "conflict", (char *) message);
    }

    p = ngx_slprintf(text, text + NGX_HTTP_INBOTPAY_TEXT_LEN,
                     "{\"status\":\"ok\",\"player\":%L,\"withdrawal\":%L,"
                     "\"id\":%V,\"amount\":%V,\"result\":\"%V\","
                     "\"reference\":\"%V\"}",
                     ctx->peer, ctx->item, &f[1], &f[2], &f[4],
                     &ctx->reference);

    return ngx_http_inbotpay_api_send(ctx, NGX_HTTP_OK, text, p - text);
}


/* a player's ledger page by page, oldest first, for reconciliation */

static ngx_int_t
ngx_http_inbotpay_api_ledger(ngx_http_inbotpay_ctx_t *ctx, yajl_val root)
{
    ngx_int_t  rc;
    ngx_str_t  argv[2];

    if (ngx_http_inbotpay_api_int(ctx, root, "player", 1, 1, INT64_MAX,
                                  &ctx->player)
        != NGX_OK)
    {
        return ngx_http_inbotpay_api_field(ctx, NULL, "player");
    }

    rc = ngx_http_inbotpay_api_int(ctx, root, "offset", 0, 0,
                                   NGX_HTTP_INBOTPAY_AMOUNT_MAX,
                                   &ctx->item);
    if (rc == NGX_DECLINED) {
        ctx->item = 0;

    } else if (rc != NGX_OK) {
        return ngx_http_inbotpay_api_field(ctx, NULL, "offset");
    }

    rc = ngx_http_inbotpay_api_int(ctx, root, "limit", 0, 1,
                                   NGX_HTTP_INBOTPAY_LEDGER_LIMIT,
                                   &ctx->amount);
    if (rc == NGX_DECLINED) {
        ctx->amount = 100;

    } else if (rc != NGX_OK) {
        return ngx_http_inbotpay_api_field(ctx, NULL, "limit");
    }

    ngx_str_set(&argv[0], "LLEN");

    if (ngx_http_inbotpay_bot_key(ctx, &argv[1], ctx->player, "ledger", NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_inbotpay_bot_redis(ctx, -1, 0, 2, argv,
                                       ngx_http_inbotpay_api_ledger_counted);
}


static void
ngx_http_inbotpay_api_ledger_counted(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    ngx_int_t  rc;
    ngx_str_t  argv[4];

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        ngx_http_inbotpay_tg_finalize(ctx,
            ngx_http_inbotpay_api_error(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "unavailable",
                                        "the wallet store is unavailable"));
        return;
    }

    ctx->peer = reply->integer;

    ngx_str_set(&argv[0], "LRANGE");

    if (ngx_http_inbotpay_bot_key(ctx, &argv[1], ctx->player, "ledger", NULL)
        != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[2], ctx->item) != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[3],
                                     ctx->item + ctx->amount - 1)
           != NGX_OK)
    {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_inbotpay_bot_redis(ctx, -1, 0, 4, argv,
                                     ngx_http_inbotpay_api_ledger_done);

    if (rc != NGX_DONE) {
        ngx_http_inbotpay_tg_finalize(ctx, rc);
    }
}


static void
ngx_http_inbotpay_api_ledger_done(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    u_char  *body, *p;
    size_t   i, len;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        ngx_http_inbotpay_tg_finalize(ctx,
            ngx_http_inbotpay_api_error(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "unavailable",
                                        "the wallet store is unavailable"));
        return;
    }

    len = sizeof("{\"player\":,\"total\":,\"entries\":[]}")
          + 2 * NGX_INT64_LEN;

    for (i = 0; i < reply->elements; i++) {
        len += reply->element[i]->len + 1;
    }

    body = ngx_pnalloc(ctx->request->pool, len);
    if (body == NULL) {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_sprintf(body, "{\"player\":%L,\"total\":%L,\"entries\":[",
                    ctx->player, ctx->peer);

    for (i = 0; i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            continue;
        }

        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, reply->element[i]->str, reply->element[i]->len);
    }

    p = ngx_cpymem(p, "]}", 2);

    ngx_http_inbotpay_tg_finalize(ctx,
        ngx_http_inbotpay_api_send(ctx, NGX_HTTP_OK, body, p - body));
}


/*
 * An integer member: NGX_OK, NGX_DECLINED when it is missing, or
 * NGX_ERROR when it is there but not an integer within min..max.
 */

static ngx_int_t
ngx_http_inbotpay_api_int(ngx_http_inbotpay_ctx_t *ctx, yajl_val root,
    char *name, ngx_uint_t required, int64_t min, int64_t max,
    int64_t *value)
{
    yajl_val     v;
    const char  *path[2];

    path[0] = name;
    path[1] = NULL;

    v = yajl_tree_get(root, path, yajl_t_any);

    if (v == NULL) {
        ctx->error = "missing_field";
        return NGX_DECLINED;
    }

    ctx->error = "bad_field";

    if (!YAJL_IS_INTEGER(v)
        || YAJL_GET_INTEGER(v) < min || YAJL_GET_INTEGER(v) > max)
    {
        return NGX_ERROR;
    }

    *value = YAJL_GET_INTEGER(v);

    return NGX_OK;
}


/*
 * A string member, copied into the request pool: 1 to "max" bytes, and
 * with "id" set only [A-Za-z0-9_.:-], so that it can stand in a key and
 * in JSON as it is.
 */

static ngx_int_t
ngx_http_inbotpay_api_str(ngx_http_inbotpay_ctx_t *ctx, yajl_val root,
    char *name, size_t max, ngx_uint_t id, ngx_str_t *value)
{
    u_char       c;
    size_t       i, len;
    yajl_val     v;
    const char  *path[2], *s;

    path[0] = name;
    path[1] = NULL;

    v = yajl_tree_get(root, path, yajl_t_any);

    if (v == NULL) {
        ctx->error = "missing_field";
        return NGX_DECLINED;
    }

    ctx->error = "bad_field";

    if (!YAJL_IS_STRING(v)) {
        return NGX_ERROR;
    }

    s = YAJL_GET_STRING(v);
    len = ngx_strlen(s);

    if (len == 0 || len > max) {
        return NGX_ERROR;
    }

    for (i = 0; id && i < len; i++) {
        c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':'
              || c == '-'))
        {
            return NGX_ERROR;
        }
    }

    value->data = ngx_pnalloc(ctx->request->pool, len);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(value->data, s, len);
    value->len = len;

    return NGX_OK;
}


/* a 400 naming the member that is missing or wrong */

static ngx_int_t
ngx_http_inbotpay_api_field(ngx_http_inbotpay_ctx_t *ctx, char *code,
    char *name)
{
    u_char  *p;
    u_char   message[64];

    if (code == NULL) {
        code = ctx->error;
    }

    p = ngx_slprintf(message, message + sizeof(message) - 1, "%s field %s",
                     code[0] == 'm' ? "missing" : "invalid", name);
    *p = '\0';

    ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                  "inbotpay: api request refused: %s", message);

    return ngx_http_inbotpay_api_error(ctx, NGX_HTTP_BAD_REQUEST, code,
                                       (char *) message);
}


ngx_int_t
ngx_http_inbotpay_api_error(ngx_http_inbotpay_ctx_t *ctx, ngx_uint_t status,
    char *code, char *message)
{
    u_char  *p;
    u_char   body[256];

    p = ngx_slprintf(body, body + sizeof(body),
                     "{\"error\":\"%s\",\"message\":\"%s\"}", code, message);

    return ngx_http_inbotpay_api_send(ctx, status, body, p - body);
}


static ngx_int_t
ngx_http_inbotpay_api_send(ngx_http_inbotpay_ctx_t *ctx, ngx_uint_t status,
    u_char *body, size_t len)
{
    u_char  *p;

    p = ngx_pnalloc(ctx->request->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(p, body, len);

    return ngx_http_inbotpay_send(ctx->request, status, "application/json",
                                  p, len);
}
