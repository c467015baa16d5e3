
/*
 * Copyright (C) 2026 InBotPay contributors
 *
 * Wallet operations beyond deposits: withdrawals and their settlement from
 * the ops chat, transfers between players with a confirmation step, the
 * history of a wallet, and refunds.  Each money step is one script in
 * redis/; the functions here choose the keys, read the script's answer and
 * tell the people concerned.
 *
 * Like the bot's functions, these return what ngx_http_finalize_request()
 * should get, or NGX_DONE while a Redis reply is awaited; the reply
 * handlers finish the request themselves.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_inbotpay.h"


#define NGX_HTTP_INBOTPAY_FIELDS     8
#define NGX_HTTP_INBOTPAY_PAGE       10
#define NGX_HTTP_INBOTPAY_ASK_TTL    "600"
#define NGX_HTTP_INBOTPAY_DEST_LEN   128
#define NGX_HTTP_INBOTPAY_NAME_LEN   64


static ngx_int_t ngx_http_inbotpay_wallet_question(
    ngx_http_inbotpay_ctx_t *ctx, int64_t amount);
static void ngx_http_inbotpay_wallet_asked(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_inbotpay_wallet_answered(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_inbotpay_wallet_withdraw_run(
    ngx_http_inbotpay_ctx_t *ctx, int64_t amount, ngx_str_t *dest);
static void ngx_http_inbotpay_wallet_withdrawn(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_inbotpay_wallet_settled(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_inbotpay_wallet_found(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_inbotpay_wallet_lookup(ngx_http_inbotpay_ctx_t *ctx,
    int64_t player);
static void ngx_http_inbotpay_wallet_looked_up(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_inbotpay_wallet_offered(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_inbotpay_wallet_offer_read(
    ngx_http_inbotpay_ctx_t *ctx, redisReply *reply);
static void ngx_http_inbotpay_wallet_transferred(
    ngx_http_inbotpay_ctx_t *ctx, redisReply *reply);
static void ngx_http_inbotpay_wallet_cancelled(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_inbotpay_wallet_page(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);
static u_char *ngx_http_inbotpay_wallet_entry(ngx_http_inbotpay_ctx_t *ctx,
    u_char *p, u_char *last, redisReply *entry);
static void ngx_http_inbotpay_wallet_refunded(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);

static ngx_int_t ngx_http_inbotpay_wallet_fields(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply, ngx_str_t *f, char *what, ngx_uint_t kind,
    ngx_uint_t amount);
static ngx_uint_t ngx_http_inbotpay_wallet_is(ngx_str_t *s, char *value);
static ngx_int_t ngx_http_inbotpay_wallet_dest(ngx_str_t *dest);
static ngx_int_t ngx_http_inbotpay_wallet_copy(ngx_http_inbotpay_ctx_t *ctx,
    ngx_str_t *dst, ngx_str_t *src, size_t max);
static void ngx_http_inbotpay_wallet_split(ngx_str_t *args, ngx_str_t *first,
    ngx_str_t *rest);
static void ngx_http_inbotpay_wallet_finish(ngx_http_inbotpay_ctx_t *ctx,
    ngx_int_t rc);
static ngx_int_t ngx_http_inbotpay_wallet_refuse(ngx_http_inbotpay_ctx_t *ctx,
    char *fmt, ...);


/*
 * /withdraw N DESTINATION.  Without a destination the bot asks for one and
 * takes the player's next message as the answer; without an amount it
 * offers the preset amounts as buttons.
 */

ngx_int_t
ngx_http_inbotpay_wallet_withdraw(ngx_http_inbotpay_ctx_t *ctx,
    ngx_str_t *args)
{
    u_char                      *text;
    int64_t                      amount;
    ngx_str_t                    number, dest;
    ngx_uint_t                   n;
    ngx_http_inbotpay_button_t  *buttons;

    if (args->len == 0) {
        buttons = ngx_http_inbotpay_bot_presets(ctx, "wd:%L", 0, &n);
        if (buttons == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        text = (u_char *) "How much do you want to withdraw?";

        return ngx_http_inbotpay_bot_say(ctx, text, text + ngx_strlen(text),
                                         buttons, n);
    }

    ngx_http_inbotpay_wallet_split(args, &number, &dest);

    if (ngx_http_inbotpay_parse_amount(number.data, number.len,
                                       ctx->conf->withdraw_max, &amount)
        != NGX_OK
        || amount < ctx->conf->withdraw_min)
    {
        return ngx_http_inbotpay_wallet_refuse(ctx,
                   "The amount must be a whole number from %i to %i. "
                   "Example: /withdraw 100 DEST",
                   ctx->conf->withdraw_min, ctx->conf->withdraw_max);
    }

    if (dest.len == 0) {
        return ngx_http_inbotpay_wallet_question(ctx, amount);
    }

    if (ngx_http_inbotpay_wallet_dest(&dest) != NGX_OK) {
        return ngx_http_inbotpay_wallet_refuse(ctx,
                   "The destination must be 1 to 128 characters "
                   "with no spaces.");
    }

    return ngx_http_inbotpay_wallet_withdraw_run(ctx, amount, &dest);
}


/* a preset amount pressed after a bare /withdraw */

ngx_int_t
ngx_http_inbotpay_wallet_withdraw_button(ngx_http_inbotpay_ctx_t *ctx,
    int64_t amount)
{
    if (amount < ctx->conf->withdraw_min
        || amount > ctx->conf->withdraw_max)
    {
        return ngx_http_inbotpay_bot_answer(ctx,
                                         "This button is no longer valid.");
    }

    return ngx_http_inbotpay_wallet_question(ctx, amount);
}


static ngx_int_t
ngx_http_inbotpay_wallet_question(ngx_http_inbotpay_ctx_t *ctx,
    int64_t amount)
{
    ngx_str_t  argv[5];

    ctx->amount = amount;

    ngx_str_set(&argv[0], "SET");
    ngx_str_set(&argv[3], "EX");
    ngx_str_set(&argv[4], NGX_HTTP_INBOTPAY_ASK_TTL);

    argv[2].data = ngx_pnalloc(ctx->request->pool,
                               sizeof("withdraw:") + NGX_INT64_LEN);
    if (argv[2].data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[2].len = ngx_sprintf(argv[2].data, "withdraw:%L", amount)
                  - argv[2].data;

    if (ngx_http_inbotpay_bot_key(ctx, &argv[1], ctx->player, "ask", NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_inbotpay_bot_redis(ctx, -1, 0, 5, argv,
                                       ngx_http_inbotpay_wallet_asked);
}


static void
ngx_http_inbotpay_wallet_asked(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    u_char  *p, *last;
    u_char   text[NGX_HTTP_INBOTPAY_TEXT_LEN];

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    last = text + NGX_HTTP_INBOTPAY_TEXT_LEN;

    p = ngx_slprintf(text, last,
                     "Reply with the destination for your withdrawal of ");
    p = ngx_http_inbotpay_bot_money_int(ctx, p, ctx->amount);
    *p++ = '.';

    ngx_http_inbotpay_tg_finalize(ctx,
        ngx_http_inbotpay_bot_say(ctx, text, p, NULL,
                                  NGX_HTTP_INBOTPAY_FORCE_REPLY));
}


/* plain text in a private chat: the answer to a question, or help */

ngx_int_t
ngx_http_inbotpay_wallet_ask(ngx_http_inbotpay_ctx_t *ctx)
{
    ngx_str_t  argv[2];

    ngx_str_set(&argv[0], "GET");

    if (ngx_http_inbotpay_bot_key(ctx, &argv[1], ctx->player, "ask", NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_inbotpay_bot_redis(ctx, -1, 0, 2, argv,
                                       ngx_http_inbotpay_wallet_answered);
}


static void
ngx_http_inbotpay_wallet_answered(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    int64_t    amount;
    ngx_str_t  dest, rest;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    if (reply->type != REDIS_REPLY_STRING
        || reply->len <= sizeof("withdraw:") - 1
        || ngx_strncmp(reply->str, "withdraw:", 9) != 0
        || ngx_http_inbotpay_parse_amount((u_char *) reply->str + 9,
                                          reply->len - 9, INT64_MAX,
                                          &amount)
           != NGX_OK)
    {
        ngx_http_inbotpay_wallet_finish(ctx, ngx_http_inbotpay_bot_help(ctx));
        return;
    }

    ngx_http_inbotpay_wallet_split(&ctx->update.text, &dest, &rest);

    if (rest.len || ngx_http_inbotpay_wallet_dest(&dest) != NGX_OK) {
        ngx_http_inbotpay_wallet_finish(ctx,
            ngx_http_inbotpay_wallet_refuse(ctx,
                "The destination must be 1 to 128 characters "
                "with no spaces."));
        return;
    }

    ngx_http_inbotpay_wallet_finish(ctx,
        ngx_http_inbotpay_wallet_withdraw_run(ctx, amount, &dest));
}


static ngx_int_t
ngx_http_inbotpay_wallet_withdraw_run(ngx_http_inbotpay_ctx_t *ctx,
    int64_t amount, ngx_str_t *dest)
{
    int64_t                        p;
    ngx_tm_t                       tm;
    ngx_str_t                      argv[16], *a;
    ngx_http_inbotpay_srv_conf_t  *iscf;

    iscf = ctx->conf;
    p = ctx->player;

    ngx_gmtime(ngx_time(), &tm);

    /* keys first, then the script's arguments */

    a = &argv[7];

    if (ngx_http_inbotpay_bot_int(ctx, &a[0], amount) != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &a[2], ctx->update.update_id)
           != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &a[3], ngx_time()) != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &a[4],
                                     tm.ngx_tm_year * 10000
                                     + tm.ngx_tm_mon * 100 + tm.ngx_tm_mday)
           != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &a[5], iscf->withdraw_min)
           != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &a[6], iscf->withdraw_max)
           != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &a[7], iscf->withdraw_daily)
           != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &a[8], p) != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[0], p, "wallet", NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[1], p, "ledger", NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[2], p, "wd:", &a[2])
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[3], p, "daily", NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[4], p, "ask", NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[5], p, "update:", &a[2])
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&argv[6], NGX_HTTP_INBOTPAY_PENDING_KEY);
    a[1] = *dest;

    return ngx_http_inbotpay_bot_redis(ctx, NGX_HTTP_INBOTPAY_SCRIPT_WITHDRAW,
                                       7, 16, argv,
                                       ngx_http_inbotpay_wallet_withdrawn);
}


static void
ngx_http_inbotpay_wallet_withdrawn(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    u_char                      *p, *last;
    ngx_int_t                    rc;
    ngx_str_t                    f[NGX_HTTP_INBOTPAY_FIELDS];
    ngx_uint_t                   n;
    ngx_http_inbotpay_button_t   b[3];
    u_char                       text[NGX_HTTP_INBOTPAY_TEXT_LEN];

    rc = ngx_http_inbotpay_wallet_fields(ctx, reply, f, "withdrawal",
                                         NGX_HTTP_INBOTPAY_MONEY_WITHDRAWAL,
                                         2);
    if (rc != NGX_OK) {
        ngx_http_inbotpay_tg_finalize(ctx, rc);
        return;
    }

    if (ngx_http_inbotpay_wallet_is(&f[0], "refused")) {

        if (ngx_http_inbotpay_wallet_is(&f[1], "funds")) {
            rc = ngx_http_inbotpay_wallet_refuse(ctx, "Not enough balance: "
                     "you have %V " NGX_HTTP_INBOTPAY_STAR ".", &f[2]);

        } else if (ngx_http_inbotpay_wallet_is(&f[1], "daily")) {
            rc = ngx_http_inbotpay_wallet_refuse(ctx,
                     "This would pass your daily withdrawal limit of %V "
                     NGX_HTTP_INBOTPAY_STAR " (%V " NGX_HTTP_INBOTPAY_STAR
                     " left today).", &f[2], &f[3]);

        } else {
            rc = ngx_http_inbotpay_wallet_refuse(ctx,
                     "The amount must be a whole number from %i to %i. "
                     "Example: /withdraw 100 DEST",
                     ctx->conf->withdraw_min, ctx->conf->withdraw_max);
        }

        ngx_http_inbotpay_tg_finalize(ctx, rc);
        return;
    }

    /* {"ok" or "dup", id, amount, balance, destination[, status]} */

    last = text + NGX_HTTP_INBOTPAY_TEXT_LEN;
    n = 0;

    if (ngx_http_inbotpay_wallet_is(&f[0], "ok")) {
        ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                      "inbotpay: withdrawal #%V of %V for player %L to "
                      "\"%V\" pending, update %L", &f[1], &f[2],
                      ctx->player, &f[4], ctx->update.update_id);

        p = ngx_slprintf(text, last, "Withdrawal #%V: ", &f[1]);
        p = ngx_http_inbotpay_bot_money(ctx, p, &f[2]);
        p = ngx_slprintf(p, last, " for player %L (%V) to %V.", ctx->player,
                         &ctx->update.from.first_name, &f[4]);

        if (ngx_http_inbotpay_bot_button(ctx, &b[0], "Approve", "wdok:%L:%L",
                                         ctx->player, ctx->update.update_id)
            != NGX_OK
            || ngx_http_inbotpay_bot_button(ctx, &b[1], "Reject",
                                            "wdno:%L:%L", ctx->player,
                                            ctx->update.update_id)
               != NGX_OK)
        {
            ngx_http_inbotpay_tg_finalize(ctx,
                                          NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        (void) ngx_http_inbotpay_wallet_ops(ctx, text, p, b, 2);
    }

    p = ngx_slprintf(text, last, "Withdrawal #%V of ", &f[1]);
    p = ngx_http_inbotpay_bot_money(ctx, p, &f[2]);

    if (f[5].len && !ngx_http_inbotpay_wallet_is(&f[5], "pending")) {
        p = ngx_slprintf(p, last, " to %V is %V.\nYour balance: ",
                         &f[4], &f[5]);

    } else {
        p = ngx_slprintf(p, last, " to %V is pending.\nYour balance: ",
                         &f[4]);

        if (ngx_http_inbotpay_bot_button(ctx, &b[0], "Cancel", "wdc:%L",
                                         ctx->update.update_id, 0)
            != NGX_OK)
        {
            ngx_http_inbotpay_tg_finalize(ctx,
                                          NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        n = 1;
    }

    p = ngx_http_inbotpay_bot_money(ctx, p, &f[3]);

    ngx_http_inbotpay_tg_finalize(ctx,
        ngx_http_inbotpay_bot_say(ctx, text, p, b, n));
}


/*
 * Settles the withdrawal that "update" created in the wallet of "player":
 * paid or rejected by an admin from the ops chat, cancelled by the player.
 */

ngx_int_t
ngx_http_inbotpay_wallet_settle(ngx_http_inbotpay_ctx_t *ctx, int64_t player,
    int64_t update, char *action, ngx_str_t *reference)
{
    ngx_str_t  argv[9], number;

    ctx->peer = player;
    ctx->text.data = (u_char *) action;
    ctx->text.len = ngx_strlen(action);

    if (ngx_http_inbotpay_bot_int(ctx, &number, update) != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[0], player, "wallet", NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[1], player, "ledger", NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[2], player, "wd:", &number)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[3], player, "daily", NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[6], ctx->player) != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[7], ngx_time()) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&argv[4], NGX_HTTP_INBOTPAY_PENDING_KEY);
    argv[5] = ctx->text;
    argv[8] = *reference;

    return ngx_http_inbotpay_bot_redis(ctx, NGX_HTTP_INBOTPAY_SCRIPT_SETTLE,
                                       5, 9, argv,
                                       ngx_http_inbotpay_wallet_settled);
}


static void
ngx_http_inbotpay_wallet_settled(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    u_char     *p, *last;
    ngx_int_t   rc;
    ngx_str_t   f[NGX_HTTP_INBOTPAY_FIELDS];
    u_char      text[NGX_HTTP_INBOTPAY_TEXT_LEN];

    rc = ngx_http_inbotpay_wallet_fields(ctx, reply, f, "settlement",
                                         NGX_HTTP_INBOTPAY_MONEY_SETTLE, 2);
    if (rc != NGX_OK) {
        ngx_http_inbotpay_tg_finalize(ctx, ctx->api
            ? ngx_http_inbotpay_api_error(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "unavailable",
                                          "the wallet store is unavailable")
            : rc);
        return;
    }

    last = text + NGX_HTTP_INBOTPAY_TEXT_LEN;

    if (ngx_http_inbotpay_wallet_is(&f[0], "refused")) {

        if (ctx->api) {
            rc = ngx_http_inbotpay_api_settled(ctx, f);

        } else if (ngx_http_inbotpay_wallet_is(&f[1], "unknown")) {
            rc = ngx_http_inbotpay_bot_answer(ctx,
                                          "This button is no longer valid.");

        } else {
            p = ngx_slprintf(text, last, "Withdrawal #%V is already %V.",
                             &f[2], &f[1]);
            rc = ngx_http_inbotpay_bot_answer_text(ctx, text, p);
        }

        ngx_http_inbotpay_tg_finalize(ctx, rc);
        return;
    }

    /* {"ok" or "repeat", id, amount, balance, status, destination} */

    if (ngx_http_inbotpay_wallet_is(&f[0], "repeat")) {
        ngx_http_inbotpay_tg_finalize(ctx,
                                      ngx_http_inbotpay_api_settled(ctx, f));
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                  "inbotpay: withdrawal #%V of %V for player %L %V by %L%s%V",
                  &f[1], &f[2], ctx->peer, &f[4], ctx->player,
                  ctx->reference.len ? ", reference " : "", &ctx->reference);

    if (ngx_http_inbotpay_wallet_is(&f[4], "cancelled")) {
        p = ngx_slprintf(text, last, "Withdrawal #%V of ", &f[1]);
        p = ngx_http_inbotpay_bot_money(ctx, p, &f[2]);
        p = ngx_slprintf(p, last, " for player %L: cancelled by the player.",
                         ctx->peer);

        (void) ngx_http_inbotpay_wallet_ops(ctx, text, p, NULL, 0);

        p = ngx_slprintf(text, last, "Withdrawal #%V was cancelled. "
                         "Your balance: ", &f[1]);
        p = ngx_http_inbotpay_bot_money(ctx, p, &f[3]);

        ngx_http_inbotpay_tg_finalize(ctx,
            ngx_http_inbotpay_bot_say(ctx, text, p, NULL, 0));
        return;
    }

    p = ngx_slprintf(text, last, "Withdrawal #%V of ", &f[1]);
    p = ngx_http_inbotpay_bot_money(ctx, p, &f[2]);

    if (ctx->api) {
        p = ngx_slprintf(p, last, " for player %L: %V (reference %V).",
                         ctx->peer, &f[4], &ctx->reference);

    } else {
        p = ngx_slprintf(p, last, " for player %L: %V (by %L).", ctx->peer,
                         &f[4], ctx->player);
    }

    (void) ngx_http_inbotpay_wallet_ops(ctx, text, p, NULL, 0);

    p = ngx_slprintf(text, last, "Your withdrawal #%V of ", &f[1]);
    p = ngx_http_inbotpay_bot_money(ctx, p, &f[2]);
    p = ngx_slprintf(p, last, " was %V.", &f[4]);

    if (ngx_http_inbotpay_wallet_is(&f[4], "rejected")) {
        p = ngx_slprintf(p, last, " Your balance: ");
        p = ngx_http_inbotpay_bot_money(ctx, p, &f[3]);
    }

    (void) ngx_http_inbotpay_bot_post(ctx, ctx->peer, text, p, NULL, 0);

    if (ctx->api) {
        ngx_http_inbotpay_tg_finalize(ctx,
                                      ngx_http_inbotpay_api_settled(ctx, f));
        return;
    }

    p = ngx_slprintf(text, last, "Withdrawal #%V: %V.", &f[1], &f[4]);

    ngx_http_inbotpay_tg_finalize(ctx,
        ngx_http_inbotpay_bot_answer_text(ctx, text, p));
}


/*
 * /send RECIPIENT N: finds the recipient, then records an offer the sender
 * confirms with a button.
 */

ngx_int_t
ngx_http_inbotpay_wallet_send(ngx_http_inbotpay_ctx_t *ctx, ngx_str_t *args)
{
    int64_t    player;
    ngx_str_t  who, number, rest, argv[3];

    ngx_http_inbotpay_wallet_split(args, &who, &rest);
    ngx_http_inbotpay_wallet_split(&rest, &number, &rest);

    if (ngx_http_inbotpay_parse_amount(number.data, number.len,
                                       ctx->conf->transfer_max,
                                       &ctx->amount)
        != NGX_OK
        || rest.len)
    {
        return ngx_http_inbotpay_wallet_refuse(ctx,
                   "The amount must be a whole number from 1 to %i. "
                   "Example: /send @name 100", ctx->conf->transfer_max);
    }

    if (ngx_http_inbotpay_wallet_copy(ctx, &ctx->name, &who,
                                      NGX_HTTP_INBOTPAY_NAME_LEN)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (who.len > 1 && who.data[0] == '@'
        && who.len <= NGX_HTTP_INBOTPAY_NAME_LEN)
    {
        ngx_str_set(&argv[0], "HGET");
        ngx_str_set(&argv[1], "ibp:usernames");

        argv[2].len = who.len - 1;
        argv[2].data = ngx_pnalloc(ctx->request->pool, argv[2].len);
        if (argv[2].data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_strlow(argv[2].data, who.data + 1, argv[2].len);

        return ngx_http_inbotpay_bot_redis(ctx, -1, 0, 3, argv,
                                           ngx_http_inbotpay_wallet_found);
    }

    if (ngx_http_inbotpay_parse_amount(who.data, who.len, INT64_MAX, &player)
        != NGX_OK)
    {
        return ngx_http_inbotpay_wallet_refuse(ctx,
                   "No player %V has used this bot.", &ctx->name);
    }

    return ngx_http_inbotpay_wallet_lookup(ctx, player);
}


static void
ngx_http_inbotpay_wallet_found(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    int64_t  player;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    if (ngx_http_inbotpay_bot_reply_int(reply, &player) != NGX_OK
        || player <= 0)
    {
        ngx_http_inbotpay_tg_finalize(ctx,
            ngx_http_inbotpay_wallet_refuse(ctx,
                "No player %V has used this bot.", &ctx->name));
        return;
    }

    ngx_http_inbotpay_wallet_finish(ctx,
        ngx_http_inbotpay_wallet_lookup(ctx, player));
}


static ngx_int_t
ngx_http_inbotpay_wallet_lookup(ngx_http_inbotpay_ctx_t *ctx, int64_t player)
{
    ngx_str_t  argv[4];

    if (player == ctx->player) {
        return ngx_http_inbotpay_wallet_refuse(ctx,
                   "You cannot send to yourself.");
    }

    ctx->peer = player;

    ngx_str_set(&argv[0], "HMGET");
    ngx_str_set(&argv[2], "first_name");
    ngx_str_set(&argv[3], "username");

    if (ngx_http_inbotpay_bot_key(ctx, &argv[1], player, "player", NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_inbotpay_bot_redis(ctx, -1, 0, 4, argv,
                                       ngx_http_inbotpay_wallet_looked_up);
}


static void
ngx_http_inbotpay_wallet_looked_up(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    int64_t     expires;
    ngx_str_t   argv[9], name, offer;
    redisReply  *first, *user;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2)
    {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    first = reply->element[0];
    user = reply->element[1];

    if (first->type != REDIS_REPLY_STRING) {
        ngx_http_inbotpay_tg_finalize(ctx,
            ngx_http_inbotpay_wallet_refuse(ctx,
                "No player %V has used this bot.", &ctx->name));
        return;
    }

    /* the recipient as the sender will see them: @username or first name */

    if (user->type == REDIS_REPLY_STRING && user->len) {
        name.len = ngx_min(user->len, NGX_HTTP_INBOTPAY_NAME_LEN) + 1;
        name.data = ngx_pnalloc(ctx->request->pool, name.len);
        if (name.data == NULL) {
            ngx_http_inbotpay_tg_finalize(ctx,
                                          NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        name.data[0] = '@';
        ngx_memcpy(name.data + 1, user->str, name.len - 1);

    } else if (ngx_http_inbotpay_wallet_copy(ctx, &name,
                   &(ngx_str_t) { first->len, (u_char *) first->str },
                   NGX_HTTP_INBOTPAY_NAME_LEN)
               != NGX_OK)
    {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->name = name;
    expires = ngx_time() + ctx->conf->transfer_ttl;

    if (ngx_http_inbotpay_bot_int(ctx, &offer, ctx->update.update_id)
        != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[0], ctx->player, "wallet",
                                     NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[1], ctx->player, "transfer:",
                                     &offer)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[2], ctx->player, "update:",
                                     &offer)
           != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[4], ctx->peer) != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[5], ctx->amount) != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[6], expires) != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[7], ctx->conf->transfer_max)
           != NGX_OK)
    {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_str_set(&argv[3], "create");
    argv[8] = name;

    ngx_http_inbotpay_wallet_finish(ctx,
        ngx_http_inbotpay_bot_redis(ctx, NGX_HTTP_INBOTPAY_SCRIPT_OFFER, 3, 9,
                                    argv, ngx_http_inbotpay_wallet_offered));
}


static void
ngx_http_inbotpay_wallet_offered(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    u_char                      *p, *last;
    ngx_int_t                    rc;
    ngx_str_t                    f[NGX_HTTP_INBOTPAY_FIELDS];
    ngx_http_inbotpay_button_t   b[2];
    u_char                       text[NGX_HTTP_INBOTPAY_TEXT_LEN];

    rc = ngx_http_inbotpay_wallet_fields(ctx, reply, f, "transfer offer",
                                         NGX_HTTP_INBOTPAY_MONEY_NONE, 0);
    if (rc != NGX_OK) {
        ngx_http_inbotpay_tg_finalize(ctx, rc);
        return;
    }

    if (ngx_http_inbotpay_wallet_is(&f[0], "refused")) {

        if (ngx_http_inbotpay_wallet_is(&f[1], "funds")) {
            rc = ngx_http_inbotpay_wallet_refuse(ctx, "Not enough balance: "
                     "you have %V " NGX_HTTP_INBOTPAY_STAR ".", &f[2]);

        } else {
            rc = ngx_http_inbotpay_wallet_refuse(ctx,
                     "The amount must be a whole number from 1 to %i. "
                     "Example: /send @name 100", ctx->conf->transfer_max);
        }

        ngx_http_inbotpay_tg_finalize(ctx, rc);
        return;
    }

    /* {"ok" or "dup", to, amount, name[, status]} */

    if (ngx_http_inbotpay_bot_button(ctx, &b[0], "Confirm", "txok:%L",
                                     ctx->update.update_id, 0)
        != NGX_OK
        || ngx_http_inbotpay_bot_button(ctx, &b[1], "Cancel", "txno:%L",
                                        ctx->update.update_id, 0)
           != NGX_OK)
    {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    last = text + NGX_HTTP_INBOTPAY_TEXT_LEN;

    p = ngx_slprintf(text, last, "Send ");
    p = ngx_http_inbotpay_bot_money(ctx, p, &f[2]);
    p = ngx_slprintf(p, last, " to %V?", &f[3]);

    ngx_http_inbotpay_tg_finalize(ctx,
        ngx_http_inbotpay_bot_say(ctx, text, p, b, 2));
}


/*
 * Confirm or Cancel on a transfer offer.  The button names only the
 * offer, which lives in the presser's own wallet: pressing a button of
 * someone else's finds nothing.
 */

ngx_int_t
ngx_http_inbotpay_wallet_confirm(ngx_http_inbotpay_ctx_t *ctx, int64_t offer,
    ngx_uint_t yes)
{
    ngx_str_t  argv[6], number;

    if (ngx_http_inbotpay_bot_int(ctx, &number, offer) != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[1], ctx->player, "transfer:",
                                     &number)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->text = number;

    if (!yes) {
        if (ngx_http_inbotpay_bot_key(ctx, &argv[0], ctx->player, "wallet",
                                      NULL)
            != NGX_OK
            || ngx_http_inbotpay_bot_key(ctx, &argv[2], ctx->player,
                                         "update:", &number)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_str_set(&argv[3], "cancel");

        return ngx_http_inbotpay_bot_redis(ctx, NGX_HTTP_INBOTPAY_SCRIPT_OFFER,
                                           3, 4, argv,
                                           ngx_http_inbotpay_wallet_cancelled);
    }

    ngx_str_set(&argv[0], "HMGET");
    ngx_str_set(&argv[2], "to");
    ngx_str_set(&argv[3], "name");
    ngx_str_set(&argv[4], "amount");

    return ngx_http_inbotpay_bot_redis(ctx, -1, 0, 5, argv,
                                       ngx_http_inbotpay_wallet_offer_read);
}


static void
ngx_http_inbotpay_wallet_offer_read(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    ngx_str_t   argv[9];
    redisReply  *to, *name;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 3)
    {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    to = reply->element[0];
    name = reply->element[1];

    if (ngx_http_inbotpay_bot_reply_int(to, &ctx->peer) != NGX_OK
        || ctx->peer <= 0 || name->type != REDIS_REPLY_STRING)
    {
        ngx_http_inbotpay_tg_finalize(ctx,
            ngx_http_inbotpay_bot_answer(ctx,
                                         "This button is no longer valid."));
        return;
    }

    if (ngx_http_inbotpay_wallet_copy(ctx, &ctx->name,
                            &(ngx_str_t) { name->len, (u_char *) name->str },
                            NGX_HTTP_INBOTPAY_NAME_LEN + 1)
        != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[0], ctx->player, "wallet",
                                     NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[1], ctx->player, "ledger",
                                     NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[2], ctx->peer, "wallet", NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[3], ctx->peer, "ledger", NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[4], ctx->player, "transfer:",
                                     &ctx->text)
           != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[5], ctx->player) != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[6], ctx->peer) != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[8], ngx_time()) != NGX_OK)
    {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    argv[7] = ctx->text;

    ngx_http_inbotpay_wallet_finish(ctx,
        ngx_http_inbotpay_bot_redis(ctx, NGX_HTTP_INBOTPAY_SCRIPT_TRANSFER,
                                    5, 9, argv,
                                    ngx_http_inbotpay_wallet_transferred));
}


static void
ngx_http_inbotpay_wallet_transferred(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    u_char                      *p, *last;
    int64_t                      amount;
    ngx_int_t                    rc;
    ngx_str_t                    f[NGX_HTTP_INBOTPAY_FIELDS], sender;
    ngx_http_inbotpay_user_t    *from;
    u_char                       text[NGX_HTTP_INBOTPAY_TEXT_LEN];

    rc = ngx_http_inbotpay_wallet_fields(ctx, reply, f, "transfer",
                                         NGX_HTTP_INBOTPAY_MONEY_TRANSFER, 1);
    if (rc != NGX_OK) {
        ngx_http_inbotpay_tg_finalize(ctx, rc);
        return;
    }

    if (ngx_http_inbotpay_wallet_is(&f[0], "refused")) {

        if (ngx_http_inbotpay_wallet_is(&f[1], "expired")) {
            rc = ngx_http_inbotpay_bot_answer(ctx,
                                          "This confirmation has expired.");

        } else if (ngx_http_inbotpay_wallet_is(&f[1], "done")) {
            rc = ngx_http_inbotpay_bot_answer(ctx,
                                          "This transfer was already made.");

        } else if (ngx_http_inbotpay_wallet_is(&f[1], "cancelled")) {
            rc = ngx_http_inbotpay_bot_answer(ctx,
                                          "This transfer was cancelled.");

        } else if (ngx_http_inbotpay_wallet_is(&f[1], "funds")) {
            last = text + NGX_HTTP_INBOTPAY_TEXT_LEN;
            p = ngx_slprintf(text, last, "Not enough balance: you have ");
            p = ngx_http_inbotpay_bot_money(ctx, p, &f[2]);
            *p++ = '.';
            rc = ngx_http_inbotpay_bot_answer_text(ctx, text, p);

        } else {
            rc = ngx_http_inbotpay_bot_answer(ctx,
                                          "This button is no longer valid.");
        }

        ngx_http_inbotpay_tg_finalize(ctx, rc);
        return;
    }

    /* {"ok", amount, sender's balance, recipient's balance} */

    ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                  "inbotpay: transfer of %V from player %L to player %L, "
                  "offer %V", &f[1], ctx->player, ctx->peer, &ctx->text);

    last = text + NGX_HTTP_INBOTPAY_TEXT_LEN;

    from = &ctx->update.from;

    if (from->username.len) {
        sender.len = ngx_min(from->username.len, NGX_HTTP_INBOTPAY_NAME_LEN)
                     + 1;
        sender.data = ngx_pnalloc(ctx->request->pool, sender.len);
        if (sender.data == NULL) {
            ngx_http_inbotpay_tg_finalize(ctx,
                                          NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        sender.data[0] = '@';
        ngx_memcpy(sender.data + 1, from->username.data, sender.len - 1);

    } else {
        sender.data = from->first_name.data;
        sender.len = ngx_min(from->first_name.len,
                             NGX_HTTP_INBOTPAY_NAME_LEN);
    }

    p = ngx_slprintf(text, last, "You received ");
    p = ngx_http_inbotpay_bot_money(ctx, p, &f[1]);
    p = ngx_slprintf(p, last, " from %V. Your balance: ", &sender);
    p = ngx_http_inbotpay_bot_money(ctx, p, &f[3]);

    (void) ngx_http_inbotpay_bot_post(ctx, ctx->peer, text, p, NULL, 0);

    if (ngx_http_inbotpay_bot_reply_int(reply->element[1], &amount) == NGX_OK
        && amount >= ctx->conf->ops_threshold)
    {
        p = ngx_slprintf(text, last, "Transfer: ");
        p = ngx_http_inbotpay_bot_money(ctx, p, &f[1]);
        p = ngx_slprintf(p, last, " from %L to %L.", ctx->player, ctx->peer);

        (void) ngx_http_inbotpay_wallet_ops(ctx, text, p, NULL, 0);
    }

    p = ngx_slprintf(text, last, "You sent ");
    p = ngx_http_inbotpay_bot_money(ctx, p, &f[1]);
    p = ngx_slprintf(p, last, " to %V. Your balance: ", &ctx->name);
    p = ngx_http_inbotpay_bot_money(ctx, p, &f[2]);

    ngx_http_inbotpay_tg_finalize(ctx,
        ngx_http_inbotpay_bot_say(ctx, text, p, NULL, 0));
}


static void
ngx_http_inbotpay_wallet_cancelled(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    ngx_int_t  rc;
    ngx_str_t  f[NGX_HTTP_INBOTPAY_FIELDS];

    rc = ngx_http_inbotpay_wallet_fields(ctx, reply, f, "transfer cancel",
                                         NGX_HTTP_INBOTPAY_MONEY_NONE, 0);
    if (rc != NGX_OK) {
        ngx_http_inbotpay_tg_finalize(ctx, rc);
        return;
    }

    if (ngx_http_inbotpay_wallet_is(&f[0], "ok")) {
        rc = ngx_http_inbotpay_bot_answer(ctx, "Transfer cancelled.");

    } else if (ngx_http_inbotpay_wallet_is(&f[1], "done")) {
        rc = ngx_http_inbotpay_bot_answer(ctx,
                                          "This transfer was already made.");

    } else if (ngx_http_inbotpay_wallet_is(&f[1], "cancelled")) {
        rc = ngx_http_inbotpay_bot_answer(ctx, "This transfer was cancelled.");

    } else {
        rc = ngx_http_inbotpay_bot_answer(ctx,
                                          "This button is no longer valid.");
    }

    ngx_http_inbotpay_tg_finalize(ctx, rc);
}


/* /history: ten ledger entries a page, newest first */

ngx_int_t
ngx_http_inbotpay_wallet_history(ngx_http_inbotpay_ctx_t *ctx,
    int64_t offset)
{
    ngx_str_t  argv[4];

    ctx->amount = offset;

    ngx_str_set(&argv[0], "LRANGE");

    if (ngx_http_inbotpay_bot_key(ctx, &argv[1], ctx->player, "ledger", NULL)
        != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[2],
                                     -(offset + NGX_HTTP_INBOTPAY_PAGE + 1))
           != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[3], -(offset + 1)) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_inbotpay_bot_redis(ctx, -1, 0, 4, argv,
                                       ngx_http_inbotpay_wallet_page);
}


static void
ngx_http_inbotpay_wallet_page(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    u_char                      *p, *last;
    size_t                       i, count, oldest;
    ngx_uint_t                   n;
    ngx_http_inbotpay_button_t   b[2];
    u_char                       text[NGX_HTTP_INBOTPAY_TEXT_LEN * 2];

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    last = text + sizeof(text);
    count = reply->elements;
    n = 0;

    if (count == 0) {
        p = ngx_slprintf(text, last, ctx->amount ? "No older entries."
                                                 : "No history yet.");

        ngx_http_inbotpay_tg_finalize(ctx,
            ngx_http_inbotpay_bot_say(ctx, text, p, NULL, 0));
        return;
    }

    /* one entry more than a page was asked for: it tells if older ones are */

    oldest = (count > NGX_HTTP_INBOTPAY_PAGE) ? count - NGX_HTTP_INBOTPAY_PAGE
                                              : 0;

    p = ngx_slprintf(text, last, "Your history (page %L):",
                     ctx->amount / NGX_HTTP_INBOTPAY_PAGE + 1);

    for (i = count; i > oldest; i--) {
        p = ngx_http_inbotpay_wallet_entry(ctx, p, last,
                                           reply->element[i - 1]);
    }

    if (oldest
        && ngx_http_inbotpay_bot_button(ctx, &b[n++], "Older", "hist:%L",
                                        ctx->amount + NGX_HTTP_INBOTPAY_PAGE,
                                        0)
           != NGX_OK)
    {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ctx->amount
        && ngx_http_inbotpay_bot_button(ctx, &b[n++], "Newer", "hist:%L",
                                        ctx->amount - NGX_HTTP_INBOTPAY_PAGE,
                                        0)
           != NGX_OK)
    {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_inbotpay_tg_finalize(ctx,
        ngx_http_inbotpay_bot_say(ctx, text, p, b, n));
}


/* "\n#ID TYPE ±AMOUNT ⭐ -> BALANCE ⭐ YYYY-MM-DD HH:MM[ peer ID][ #W]" */

static u_char *
ngx_http_inbotpay_wallet_entry(ngx_http_inbotpay_ctx_t *ctx, u_char *p,
    u_char *last, redisReply *entry)
{
    char                *json;
    int64_t              amount;
    ngx_tm_t             tm;
    yajl_val             root, id, type, value, balance, time, peer, wd;
    static const char   *id_path[] = { "id", NULL };
    static const char   *type_path[] = { "type", NULL };
    static const char   *amount_path[] = { "amount", NULL };
    static const char   *balance_path[] = { "balance", NULL };
    static const char   *time_path[] = { "time", NULL };
    static const char   *peer_path[] = { "peer", NULL };
    static const char   *wd_path[] = { "withdrawal", NULL };

    if (entry->type != REDIS_REPLY_STRING || last - p < 160) {
        return p;
    }

    json = ngx_pnalloc(ctx->request->pool, entry->len + 1);
    if (json == NULL) {
        return p;
    }

    ngx_memcpy(json, entry->str, entry->len);
    json[entry->len] = '\0';

    root = yajl_tree_parse(json, NULL, 0);

    id = yajl_tree_get(root, id_path, yajl_t_number);
    type = yajl_tree_get(root, type_path, yajl_t_string);
    value = yajl_tree_get(root, amount_path, yajl_t_number);
    balance = yajl_tree_get(root, balance_path, yajl_t_number);
    time = yajl_tree_get(root, time_path, yajl_t_number);
    peer = yajl_tree_get(root, peer_path, yajl_t_number);
    wd = yajl_tree_get(root, wd_path, yajl_t_number);

    if (id == NULL || type == NULL || value == NULL || balance == NULL
        || time == NULL || !YAJL_IS_INTEGER(value)
        || !YAJL_IS_INTEGER(balance) || !YAJL_IS_INTEGER(time))
    {
        yajl_tree_free(root);
        return p;
    }

    amount = YAJL_GET_INTEGER(value);

    p = ngx_slprintf(p, last, "\n#%L %s %s", (int64_t) YAJL_GET_INTEGER(id),
                     YAJL_GET_STRING(type), amount > 0 ? "+" : "");
    p = ngx_http_inbotpay_bot_money_int(ctx, p, amount);
    p = ngx_slprintf(p, last, " -> ");
    p = ngx_http_inbotpay_bot_money_int(ctx, p,
                                        YAJL_GET_INTEGER(balance));

    ngx_gmtime((time_t) YAJL_GET_INTEGER(time), &tm);

    p = ngx_slprintf(p, last, " %4d-%02d-%02d %02d:%02d",
                     tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                     tm.ngx_tm_hour, tm.ngx_tm_min);

    if (peer && YAJL_IS_INTEGER(peer)) {
        p = ngx_slprintf(p, last, " peer %L",
                         (int64_t) YAJL_GET_INTEGER(peer));
    }

    if (wd && YAJL_IS_INTEGER(wd)) {
        p = ngx_slprintf(p, last, " #%L", (int64_t) YAJL_GET_INTEGER(wd));
    }

    yajl_tree_free(root);

    return p;
}


/*
 * message.refunded_payment: Telegram gave the player their Stars back, so
 * the deposit of that charge is reversed, once.
 */

ngx_int_t
ngx_http_inbotpay_wallet_refund(ngx_http_inbotpay_ctx_t *ctx)
{
    ngx_str_t                     argv[7];
    ngx_http_inbotpay_payment_t  *rp;

    rp = &ctx->update.refunded_payment;

    if (rp->charge_id.len == 0 || rp->charge_id.len > 1024) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "inbotpay: refund for player %L has no usable "
                      "charge id", ctx->player);
        return ngx_http_inbotpay_tg_reply(ctx, NULL);
    }

    if (ngx_http_inbotpay_bot_int(ctx, &argv[5], ctx->update.update_id)
        != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[6], ngx_time()) != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[0], ctx->player, "wallet",
                                     NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[1], ctx->player, "ledger",
                                     NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[2], ctx->player, "charge:",
                                     &rp->charge_id)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[3], ctx->player, "update:",
                                     &argv[5])
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[4] = rp->charge_id;

    return ngx_http_inbotpay_bot_redis(ctx, NGX_HTTP_INBOTPAY_SCRIPT_REFUND,
                                       4, 7, argv,
                                       ngx_http_inbotpay_wallet_refunded);
}


static void
ngx_http_inbotpay_wallet_refunded(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    u_char                       *p, *last;
    ngx_int_t                     rc;
    ngx_str_t                     f[NGX_HTTP_INBOTPAY_FIELDS];
    ngx_http_inbotpay_payment_t  *rp;
    u_char                        text[NGX_HTTP_INBOTPAY_TEXT_LEN];

    rp = &ctx->update.refunded_payment;

    rc = ngx_http_inbotpay_wallet_fields(ctx, reply, f, "refund",
                                         NGX_HTTP_INBOTPAY_MONEY_REFUND, 1);
    if (rc != NGX_OK) {
        ngx_http_inbotpay_tg_finalize(ctx, rc);
        return;
    }

    if (ngx_http_inbotpay_wallet_is(&f[0], "refused")) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "inbotpay: refund of unknown charge \"%V\" for "
                      "player %L, update %L, not applied", &rp->charge_id,
                      ctx->player, ctx->update.update_id);

        ngx_http_inbotpay_tg_finalize(ctx,
                                      ngx_http_inbotpay_tg_reply(ctx, NULL));
        return;
    }

    /* {"ok" or "dup", amount, balance, debt} */

    last = text + NGX_HTTP_INBOTPAY_TEXT_LEN;

    if (ngx_http_inbotpay_wallet_is(&f[0], "ok")) {
        ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                      "inbotpay: refund of %V for player %L, charge \"%V\", "
                      "update %L, balance %V, debt %V", &f[1], ctx->player,
                      &rp->charge_id, ctx->update.update_id, &f[2], &f[3]);

        p = ngx_slprintf(text, last, "Refund: ");
        p = ngx_http_inbotpay_bot_money(ctx, p, &f[1]);
        p = ngx_slprintf(p, last, " from player %L, charge %V; debt now ",
                         ctx->player, &rp->charge_id);
        p = ngx_http_inbotpay_bot_money(ctx, p, &f[3]);
        *p++ = '.';

        (void) ngx_http_inbotpay_wallet_ops(ctx, text, p, NULL, 0);
    }

    p = ngx_slprintf(text, last, "Refund of ");
    p = ngx_http_inbotpay_bot_money(ctx, p, &f[1]);
    p = ngx_slprintf(p, last, " processed. Your balance: ");
    p = ngx_http_inbotpay_bot_money(ctx, p, &f[2]);

    if (!ngx_http_inbotpay_wallet_is(&f[3], "0")) {
        p = ngx_slprintf(p, last, "\nDebt: ");
        p = ngx_http_inbotpay_bot_money(ctx, p, &f[3]);
    }

    ngx_http_inbotpay_tg_finalize(ctx,
        ngx_http_inbotpay_bot_say(ctx, text, p, NULL, 0));
}


/* a notice to the ops chat, when one is configured */

ngx_int_t
ngx_http_inbotpay_wallet_ops(ngx_http_inbotpay_ctx_t *ctx, u_char *text,
    u_char *last, ngx_http_inbotpay_button_t *buttons, ngx_uint_t n)
{
    if (ctx->conf->ops_chat == 0) {
        return NGX_OK;
    }

    return ngx_http_inbotpay_bot_post(ctx, ctx->conf->ops_chat, text, last,
                                      buttons, n);
}


/*
 * The figures a script answered with, as strings.  A missing reply is
 * Redis being unavailable; an error reply is logged once.  The outcome is
 * counted as a money operation of "kind", moving the figure at "amount".
 */

static ngx_int_t
ngx_http_inbotpay_wallet_fields(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply, ngx_str_t *f, char *what, ngx_uint_t kind,
    ngx_uint_t amount)
{
    size_t  i;

    if (reply == NULL) {
        ngx_http_inbotpay_count_money(kind, NGX_HTTP_INBOTPAY_OUTCOME_ERROR,
                                      0);
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    for (i = 0; i < NGX_HTTP_INBOTPAY_FIELDS; i++) {
        ngx_str_null(&f[i]);
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0
        || reply->elements > NGX_HTTP_INBOTPAY_FIELDS)
    {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "inbotpay: %s for player %L, update %L failed: %s",
                      what, ctx->player, ctx->update.update_id,
                      reply->type == REDIS_REPLY_ERROR ? reply->str
                                                       : "unexpected reply");
        ngx_http_inbotpay_count_money(kind, NGX_HTTP_INBOTPAY_OUTCOME_ERROR,
                                      0);
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    for (i = 0; i < reply->elements; i++) {
        if (ngx_http_inbotpay_bot_reply_str(reply->element[i], &f[i])
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                          "inbotpay: %s for player %L: unexpected reply",
                          what, ctx->player);
            ngx_http_inbotpay_count_money(kind,
                                          NGX_HTTP_INBOTPAY_OUTCOME_ERROR, 0);
            return NGX_HTTP_SERVICE_UNAVAILABLE;
        }
    }

    ngx_http_inbotpay_count_money_str(kind, &f[0], &f[amount]);

    return NGX_OK;
}


static ngx_uint_t
ngx_http_inbotpay_wallet_is(ngx_str_t *s, char *value)
{
    size_t  len;

    len = ngx_strlen(value);

    return s->len == len && ngx_strncmp(s->data, value, len) == 0;
}


/* a destination: 1 to 128 bytes, no spaces or control characters */

static ngx_int_t
ngx_http_inbotpay_wallet_dest(ngx_str_t *dest)
{
    size_t  i;

    if (dest->len == 0 || dest->len > NGX_HTTP_INBOTPAY_DEST_LEN) {
        return NGX_DECLINED;
    }

    for (i = 0; i < dest->len; i++) {
        if (dest->data[i] <= ' ' || dest->data[i] == 0x7f) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* a copy in the request pool, cut to "max" bytes */

static ngx_int_t
ngx_http_inbotpay_wallet_copy(ngx_http_inbotpay_ctx_t *ctx, ngx_str_t *dst,
    ngx_str_t *src, size_t max)
{
    dst->len = ngx_min(src->len, max);

    dst->data = ngx_pnalloc(ctx->request->pool, dst->len + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, dst->len);

    return NGX_OK;
}


/* the first word of "args", and what follows it without leading spaces */

static void
ngx_http_inbotpay_wallet_split(ngx_str_t *args, ngx_str_t *first,
    ngx_str_t *rest)
{
    u_char  *p, *last;

    p = args->data;
    last = p + args->len;

    while (p < last && (*p == ' ' || *p == '\t' || *p == '\n')) {
        p++;
    }

    first->data = p;

    while (p < last && *p != ' ' && *p != '\t' && *p != '\n') {
        p++;
    }

    first->len = p - first->data;

    while (p < last && (*p == ' ' || *p == '\t' || *p == '\n')) {
        p++;
    }

    while (last > p
           && (last[-1] == ' ' || last[-1] == '\t' || last[-1] == '\n'))
    {
        last--;
    }

    rest->data = p;
    rest->len = last - p;
}


/* called from a reply handler: finishes unless another command was sent */

static void
ngx_http_inbotpay_wallet_finish(ngx_http_inbotpay_ctx_t *ctx, ngx_int_t rc)
{
    if (rc != NGX_DONE) {
        ngx_http_inbotpay_tg_finalize(ctx, rc);
    }
}


/* a refusal the player sees as a message; nothing has changed */

static ngx_int_t
ngx_http_inbotpay_wallet_refuse(ngx_http_inbotpay_ctx_t *ctx, char *fmt, ...)
{
    u_char   *p;
    va_list   args;
    u_char    text[NGX_HTTP_INBOTPAY_TEXT_LEN];

    va_start(args, fmt);
    p = ngx_vslprintf(text, text + NGX_HTTP_INBOTPAY_TEXT_LEN, fmt, args);
    va_end(args);

    if (ctx->update.kind == NGX_HTTP_INBOTPAY_UPDATE_CALLBACK_QUERY) {
        return ngx_http_inbotpay_bot_answer_text(ctx, text, p);
    }

    return ngx_http_inbotpay_bot_say(ctx, text, p, NULL, 0);
}
