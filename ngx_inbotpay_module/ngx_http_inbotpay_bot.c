
/*
 * Copyright (C) 2026 InBotPay contributors
 *
 * The bot: from a parsed Update to what the player sees and what happens
 * to their wallet.  Commands (/start, /balance, /deposit, /help), the
 * buttons that stand for them, the checkout of a Stars invoice and the
 * credit of a successful payment.
 *
 * Every function here returns what ngx_http_finalize_request() should get,
 * or NGX_DONE when a Redis reply will finish the request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_inbotpay.h"


/* "⭐", U+2B50 */
#define NGX_HTTP_INBOTPAY_STAR  "\xe2\xad\x90"

/* room for "Deposit of N ⭐ received. Your balance: N ⭐" and the like */
#define NGX_HTTP_INBOTPAY_TEXT_LEN  256


static ngx_int_t ngx_http_inbotpay_bot_message(ngx_http_inbotpay_ctx_t *ctx);
static ngx_int_t ngx_http_inbotpay_bot_callback(
    ngx_http_inbotpay_ctx_t *ctx);
static ngx_int_t ngx_http_inbotpay_bot_checkout(
    ngx_http_inbotpay_ctx_t *ctx);
static ngx_int_t ngx_http_inbotpay_bot_start(ngx_http_inbotpay_ctx_t *ctx);
static void ngx_http_inbotpay_bot_started(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_inbotpay_bot_balance(ngx_http_inbotpay_ctx_t *ctx);
static void ngx_http_inbotpay_bot_balance_done(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_inbotpay_bot_deposit(ngx_http_inbotpay_ctx_t *ctx,
    ngx_str_t *args);
static ngx_int_t ngx_http_inbotpay_bot_invoice(ngx_http_inbotpay_ctx_t *ctx,
    int64_t amount);
static ngx_int_t ngx_http_inbotpay_bot_payment(ngx_http_inbotpay_ctx_t *ctx);
static void ngx_http_inbotpay_bot_paid(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_inbotpay_bot_help(ngx_http_inbotpay_ctx_t *ctx);

static yajl_gen ngx_http_inbotpay_bot_begin(ngx_http_inbotpay_ctx_t *ctx,
    char *method);
static ngx_int_t ngx_http_inbotpay_bot_end(ngx_http_inbotpay_ctx_t *ctx,
    char *method, yajl_gen g);
static ngx_int_t ngx_http_inbotpay_bot_say(ngx_http_inbotpay_ctx_t *ctx,
    u_char *text, u_char *last, ngx_uint_t keyboard);
static ngx_int_t ngx_http_inbotpay_bot_answer(ngx_http_inbotpay_ctx_t *ctx,
    char *text);
static ngx_int_t ngx_http_inbotpay_bot_refuse_checkout(
    ngx_http_inbotpay_ctx_t *ctx, char *message);
static void ngx_http_inbotpay_bot_keyboard(ngx_http_inbotpay_ctx_t *ctx,
    yajl_gen g, ngx_uint_t balance);
static u_char *ngx_http_inbotpay_bot_money(ngx_http_inbotpay_ctx_t *ctx,
    u_char *p, ngx_str_t *amount);
static ngx_int_t ngx_http_inbotpay_bot_reply_str(redisReply *reply,
    ngx_str_t *value);
static ngx_int_t ngx_http_inbotpay_bot_key(ngx_http_inbotpay_ctx_t *ctx,
    ngx_str_t *key, char *name, ngx_str_t *suffix);
static ngx_int_t ngx_http_inbotpay_bot_int(ngx_http_inbotpay_ctx_t *ctx,
    ngx_str_t *value, int64_t n);


#define NGX_HTTP_INBOTPAY_KEYBOARD_NONE     0
#define NGX_HTTP_INBOTPAY_KEYBOARD_DEPOSIT  1
#define NGX_HTTP_INBOTPAY_KEYBOARD_MENU     2


static ngx_str_t  ngx_http_inbotpay_private = ngx_string("private");


ngx_int_t
ngx_http_inbotpay_bot_handle(ngx_http_inbotpay_ctx_t *ctx)
{
    switch (ctx->update.kind) {

    case NGX_HTTP_INBOTPAY_UPDATE_MESSAGE:
        return ngx_http_inbotpay_bot_message(ctx);

    case NGX_HTTP_INBOTPAY_UPDATE_CALLBACK_QUERY:
        return ngx_http_inbotpay_bot_callback(ctx);

    case NGX_HTTP_INBOTPAY_UPDATE_PRE_CHECKOUT_QUERY:
        return ngx_http_inbotpay_bot_checkout(ctx);

    default:

        /*
         * edited messages are not commands: a player who edits
         * "/deposit 100" into "/deposit 250" did not ask twice
         */

        return ngx_http_inbotpay_tg_reply(ctx, NULL);
    }
}


static ngx_int_t
ngx_http_inbotpay_bot_message(ngx_http_inbotpay_ctx_t *ctx)
{
    ngx_int_t                    rc;
    ngx_str_t                    command, args;
    ngx_uint_t                   private;
    ngx_http_inbotpay_update_t  *u;

    u = &ctx->update;

    if (!u->from.present || !u->has_chat || u->from.is_bot) {
        return ngx_http_inbotpay_tg_reply(ctx, NULL);
    }

    ctx->player = u->from.id;
    ctx->chat = u->chat_id;

    if (u->successful_payment.present) {
        return ngx_http_inbotpay_bot_payment(ctx);
    }

    if (u->refunded_payment.present) {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "inbotpay: refund of charge \"%V\" for player %L "
                      "is not applied to the wallet",
                      &u->refunded_payment.charge_id, ctx->player);
        return ngx_http_inbotpay_tg_reply(ctx, NULL);
    }

    private = (u->chat_type.len == ngx_http_inbotpay_private.len
               && ngx_strncmp(u->chat_type.data,
                              ngx_http_inbotpay_private.data,
                              u->chat_type.len)
                  == 0);

    rc = ngx_http_inbotpay_parse_command(&u->text, &ctx->conf->bot_username,
                                         &command, &args);

    if (rc == NGX_ABORT || (rc == NGX_DECLINED && !private)) {
        return ngx_http_inbotpay_tg_reply(ctx, NULL);
    }

    if (rc == NGX_DECLINED) {
        if (u->text.len == 0) {
            return ngx_http_inbotpay_tg_reply(ctx, NULL);
        }

        return ngx_http_inbotpay_bot_help(ctx);
    }

    if (command.len == 5
        && ngx_strncasecmp(command.data, (u_char *) "start", 5) == 0)
    {
        return ngx_http_inbotpay_bot_start(ctx);
    }

    if (command.len == 7
        && ngx_strncasecmp(command.data, (u_char *) "balance", 7) == 0)
    {
        return ngx_http_inbotpay_bot_balance(ctx);
    }

    if (command.len == 7
        && ngx_strncasecmp(command.data, (u_char *) "deposit", 7) == 0)
    {
        return ngx_http_inbotpay_bot_deposit(ctx, &args);
    }

    return ngx_http_inbotpay_bot_help(ctx);
}


/*
 * A button press works as the command it stands for; the answer to the
 * callback query goes in the webhook reply, and the message the command
 * makes goes out as a separate call.
 */

static ngx_int_t
ngx_http_inbotpay_bot_callback(ngx_http_inbotpay_ctx_t *ctx)
{
    int64_t                      amount;
    ngx_http_inbotpay_update_t  *u;

    u = &ctx->update;

    if (!u->from.present || u->query_id.len == 0) {
        return ngx_http_inbotpay_tg_reply(ctx, NULL);
    }

    ctx->player = u->from.id;
    ctx->chat = u->has_chat ? u->chat_id : u->from.id;

    if (u->data.len == 3 && ngx_strncmp(u->data.data, "bal", 3) == 0) {
        return ngx_http_inbotpay_bot_balance(ctx);
    }

    if (u->data.len > 4
        && ngx_strncmp(u->data.data, "dep:", 4) == 0
        && ngx_http_inbotpay_parse_amount(u->data.data + 4, u->data.len - 4,
                                          ctx->conf->deposit_max, &amount)
           == NGX_OK)
    {
        return ngx_http_inbotpay_bot_invoice(ctx, amount);
    }

    return ngx_http_inbotpay_bot_answer(ctx, "This button is no longer valid.");
}


/*
 * Telegram asks whether to take the player's money: yes only for an
 * invoice this module signed, paid by the player it was made for, in the
 * wallet's currency and for the invoice's amount.  It needs no Redis, so
 * the answer is never late.
 */

static ngx_int_t
ngx_http_inbotpay_bot_checkout(ngx_http_inbotpay_ctx_t *ctx)
{
    yajl_gen                      g;
    ngx_http_inbotpay_update_t   *u;
    ngx_http_inbotpay_invoice_t   inv;

    u = &ctx->update;

    if (u->query_id.len == 0 || !u->from.present) {
        return NGX_HTTP_BAD_REQUEST;
    }

    if (ngx_http_inbotpay_invoice_verify(&u->checkout.invoice_payload,
                                         &ctx->conf->invoice_key,
                                         &ctx->conf->currency, &inv)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "inbotpay: checkout by player %L refused: "
                      "forged or altered invoice", u->from.id);
        return ngx_http_inbotpay_bot_refuse_checkout(ctx,
                                               "This invoice is not valid.");
    }

    if (inv.player != u->from.id) {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "inbotpay: checkout by player %L refused: "
                      "invoice of player %L", u->from.id, inv.player);
        return ngx_http_inbotpay_bot_refuse_checkout(ctx,
                                "This invoice was issued to another player.");
    }

    if (u->checkout.currency.len != ctx->conf->currency.len
        || ngx_strncmp(u->checkout.currency.data, ctx->conf->currency.data,
                       ctx->conf->currency.len)
           != 0)
    {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "inbotpay: checkout by player %L refused: "
                      "currency \"%V\"", u->from.id, &u->checkout.currency);
        return ngx_http_inbotpay_bot_refuse_checkout(ctx,
                                     "This invoice is in the wrong currency.");
    }

    if (u->checkout.total_amount != inv.amount) {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "inbotpay: checkout by player %L refused: "
                      "amount %L, invoice %L",
                      u->from.id, u->checkout.total_amount, inv.amount);
        return ngx_http_inbotpay_bot_refuse_checkout(ctx,
                                    "The amount does not match the invoice.");
    }

    g = ngx_http_inbotpay_tg_begin(ctx, "answerPreCheckoutQuery");
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_inbotpay_tg_key_str(g, "pre_checkout_query_id", &u->query_id);
    ngx_http_inbotpay_tg_key(g, "ok");
    yajl_gen_bool(g, 1);

    return ngx_http_inbotpay_tg_reply(ctx, g);
}


static ngx_int_t
ngx_http_inbotpay_bot_refuse_checkout(ngx_http_inbotpay_ctx_t *ctx,
    char *message)
{
    yajl_gen  g;

    g = ngx_http_inbotpay_tg_begin(ctx, "answerPreCheckoutQuery");
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_inbotpay_tg_key_str(g, "pre_checkout_query_id",
                                 &ctx->update.query_id);
    ngx_http_inbotpay_tg_key(g, "ok");
    yajl_gen_bool(g, 0);
    ngx_http_inbotpay_tg_key_cstr(g, "error_message", message);

    return ngx_http_inbotpay_tg_reply(ctx, g);
}


static ngx_int_t
ngx_http_inbotpay_bot_start(ngx_http_inbotpay_ctx_t *ctx)
{
    ngx_int_t                    rc;
    ngx_str_t                    argv[6];
    ngx_http_inbotpay_update_t  *u;

    u = &ctx->update;

    if (ngx_http_inbotpay_bot_key(ctx, &argv[0], "player", NULL) != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[1], "wallet", NULL) != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[4], ctx->chat) != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[5], ngx_time()) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[2] = u->from.first_name;
    argv[3] = u->from.username;

    rc = ngx_http_inbotpay_redis_send(ctx, NGX_HTTP_INBOTPAY_SCRIPT_START, 2,
                                      6, argv, ngx_http_inbotpay_bot_started);

    if (rc == NGX_OK) {
        return NGX_DONE;
    }

    return (rc == NGX_DECLINED) ? NGX_HTTP_SERVICE_UNAVAILABLE
                                : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_http_inbotpay_bot_started(ngx_http_inbotpay_ctx_t *ctx, redisReply *reply)
{
    u_char      *p, *text;
    size_t       len;
    ngx_str_t    balance, *name;

    if (ngx_http_inbotpay_bot_reply_str(reply, &balance) != NGX_OK) {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    name = &ctx->update.from.first_name;
    len = sizeof("Welcome, !\nYour balance: ") - 1 + name->len
          + NGX_HTTP_INBOTPAY_TEXT_LEN;

    text = ngx_pnalloc(ctx->request->pool, len);
    if (text == NULL) {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_sprintf(text, "Welcome, %V!\nYour balance: ", name);
    p = ngx_http_inbotpay_bot_money(ctx, p, &balance);

    ngx_http_inbotpay_tg_finalize(ctx,
        ngx_http_inbotpay_bot_say(ctx, text, p,
                                  NGX_HTTP_INBOTPAY_KEYBOARD_MENU));
}


static ngx_int_t
ngx_http_inbotpay_bot_balance(ngx_http_inbotpay_ctx_t *ctx)
{
    ngx_int_t  rc;
    ngx_str_t  argv[3];

    ngx_str_set(&argv[0], "HGET");
    ngx_str_set(&argv[2], "balance");

    if (ngx_http_inbotpay_bot_key(ctx, &argv[1], "wallet", NULL) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_inbotpay_redis_send(ctx, -1, 0, 3, argv,
                                      ngx_http_inbotpay_bot_balance_done);

    if (rc == NGX_OK) {
        return NGX_DONE;
    }

    return (rc == NGX_DECLINED) ? NGX_HTTP_SERVICE_UNAVAILABLE
                                : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_http_inbotpay_bot_balance_done(ngx_http_inbotpay_ctx_t *ctx,
    redisReply *reply)
{
    u_char     *p;
    ngx_str_t   balance;
    u_char      text[NGX_HTTP_INBOTPAY_TEXT_LEN];

    if (ngx_http_inbotpay_bot_reply_str(reply, &balance) != NGX_OK) {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    p = ngx_cpymem(text, "Your balance: ", sizeof("Your balance: ") - 1);
    p = ngx_http_inbotpay_bot_money(ctx, p, &balance);

    ngx_http_inbotpay_tg_finalize(ctx,
        ngx_http_inbotpay_bot_say(ctx, text, p,
                                  NGX_HTTP_INBOTPAY_KEYBOARD_NONE));
}


static ngx_int_t
ngx_http_inbotpay_bot_deposit(ngx_http_inbotpay_ctx_t *ctx, ngx_str_t *args)
{
    u_char   *p;
    int64_t   amount;
    u_char    text[NGX_HTTP_INBOTPAY_TEXT_LEN];

    if (args->len == 0) {
        p = ngx_cpymem(text, "Choose an amount to deposit:",
                       sizeof("Choose an amount to deposit:") - 1);

        return ngx_http_inbotpay_bot_say(ctx, text, p,
                                         NGX_HTTP_INBOTPAY_KEYBOARD_DEPOSIT);
    }

    if (ngx_http_inbotpay_parse_amount(args->data, args->len,
                                       ctx->conf->deposit_max, &amount)
        != NGX_OK)
    {
        p = ngx_sprintf(text, "The amount must be a whole number from 1 "
                        "to %i. Example: /deposit 100",
                        ctx->conf->deposit_max);

        return ngx_http_inbotpay_bot_say(ctx, text, p,
                                         NGX_HTTP_INBOTPAY_KEYBOARD_NONE);
    }

    return ngx_http_inbotpay_bot_invoice(ctx, amount);
}


/*
 * The payload binds the invoice to the player and the amount, and its
 * nonce is the update that asked for it, so a repeated update makes the
 * same invoice.
 */

static ngx_int_t
ngx_http_inbotpay_bot_invoice(ngx_http_inbotpay_ctx_t *ctx, int64_t amount)
{
    u_char                       *p;
    size_t                        len;
    yajl_gen                      g;
    ngx_str_t                     payload, *currency;
    ngx_http_inbotpay_invoice_t   inv;
    u_char                        text[NGX_HTTP_INBOTPAY_TEXT_LEN];
    u_char                        number[NGX_HTTP_INBOTPAY_INT64_LEN];

    currency = &ctx->conf->currency;

    inv.player = ctx->player;
    inv.amount = amount;
    inv.nonce = ctx->update.update_id;

    payload.data = ngx_pnalloc(ctx->request->pool,
                               NGX_HTTP_INBOTPAY_PAYLOAD_LEN);
    if (payload.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_http_inbotpay_invoice_sign(payload.data,
                                         &ctx->conf->invoice_key,
                                         currency, &inv);
    if (len == 0) {
        ngx_log_error(NGX_LOG_ALERT, ctx->request->connection->log, 0,
                      "inbotpay: could not sign an invoice");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    payload.len = len;

    g = ngx_http_inbotpay_bot_begin(ctx, "sendInvoice");
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_inbotpay_tg_key_int(g, "chat_id", ctx->chat);
    ngx_http_inbotpay_tg_key_cstr(g, "title", "Wallet top-up");

    p = ngx_sprintf(number, "%L", amount);
    len = p - number;

    p = ngx_cpymem(text, "Add ", 4);
    p = ngx_http_inbotpay_bot_money(ctx, p, &(ngx_str_t) { len, number });
    p = ngx_cpymem(p, " to your wallet.", sizeof(" to your wallet.") - 1);

    ngx_http_inbotpay_tg_key(g, "description");
    yajl_gen_string(g, text, p - text);

    ngx_http_inbotpay_tg_key_str(g, "payload", &payload);
    ngx_http_inbotpay_tg_key_cstr(g, "provider_token", "");
    ngx_http_inbotpay_tg_key_str(g, "currency", currency);

    ngx_http_inbotpay_tg_key(g, "prices");
    yajl_gen_array_open(g);
    yajl_gen_map_open(g);
    ngx_http_inbotpay_tg_key_cstr(g, "label", "Top-up");
    ngx_http_inbotpay_tg_key_int(g, "amount", amount);
    yajl_gen_map_close(g);
    yajl_gen_array_close(g);

    ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                  "inbotpay: invoice of %L for player %L, update %L",
                  amount, ctx->player, ctx->update.update_id);

    return ngx_http_inbotpay_bot_end(ctx, "sendInvoice", g);
}


/*
 * Credits a payment once per charge.  The invoice payload must be one the
 * module signed for this player, amount and currency; anything else is
 * logged for support and credits nothing.
 */

static ngx_int_t
ngx_http_inbotpay_bot_payment(ngx_http_inbotpay_ctx_t *ctx)
{
    u_char                       *p;
    char                         *why;
    ngx_int_t                     rc;
    ngx_str_t                     argv[8];
    ngx_http_inbotpay_payment_t  *sp;
    ngx_http_inbotpay_invoice_t   inv;

    sp = &ctx->update.successful_payment;
    why = NULL;

    if (sp->charge_id.len == 0 || sp->charge_id.len > 1024) {
        why = "no usable charge id";

    } else if (ngx_http_inbotpay_invoice_verify(&sp->invoice_payload,
                                                &ctx->conf->invoice_key,
                                                &ctx->conf->currency, &inv)
               != NGX_OK)
    {
        why = "forged or altered invoice";

    } else if (inv.player != ctx->player) {
        why = "invoice of another player";

    } else if (sp->currency.len != ctx->conf->currency.len
               || ngx_strncmp(sp->currency.data, ctx->conf->currency.data,
                              sp->currency.len)
                  != 0)
    {
        why = "wrong currency";

    } else if (sp->total_amount != inv.amount) {
        why = "amount differs from the invoice";
    }

    if (why) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "inbotpay: payment by player %L, charge \"%V\", "
                      "%L %V not credited: %s", ctx->player, &sp->charge_id,
                      sp->total_amount, &sp->currency, why);

        p = (u_char *) "This payment could not be matched to an invoice. "
                       "Support has been notified.";

        return ngx_http_inbotpay_bot_say(ctx, p, p + ngx_strlen(p),
                                         NGX_HTTP_INBOTPAY_KEYBOARD_NONE);
    }

    if (ngx_http_inbotpay_bot_key(ctx, &argv[0], "wallet", NULL) != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[1], "ledger", NULL) != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[2], "charge:", &sp->charge_id)
           != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[4], inv.amount) != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[6], ctx->update.update_id)
           != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[7], ngx_time()) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_inbotpay_bot_key(ctx, &argv[3], "update:", &argv[6])
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[5] = sp->charge_id;

    rc = ngx_http_inbotpay_redis_send(ctx, NGX_HTTP_INBOTPAY_SCRIPT_DEPOSIT,
                                      4, 8, argv, ngx_http_inbotpay_bot_paid);

    if (rc == NGX_OK) {
        return NGX_DONE;
    }

    return (rc == NGX_DECLINED) ? NGX_HTTP_SERVICE_UNAVAILABLE
                                : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_http_inbotpay_bot_paid(ngx_http_inbotpay_ctx_t *ctx, redisReply *reply)
{
    u_char                       *p;
    ngx_str_t                     status, amount, balance;
    ngx_http_inbotpay_payment_t  *sp;
    u_char                        text[NGX_HTTP_INBOTPAY_TEXT_LEN];

    sp = &ctx->update.successful_payment;

    if (reply == NULL) {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 3
        || ngx_http_inbotpay_bot_reply_str(reply->element[0], &status)
           != NGX_OK
        || ngx_http_inbotpay_bot_reply_str(reply->element[1], &amount)
           != NGX_OK
        || ngx_http_inbotpay_bot_reply_str(reply->element[2], &balance)
           != NGX_OK
        || amount.len > NGX_INT64_LEN
        || balance.len > NGX_INT64_LEN)
    {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "inbotpay: deposit for player %L, charge \"%V\" "
                      "failed: %s", ctx->player, &sp->charge_id,
                      reply->type == REDIS_REPLY_ERROR ? reply->str
                                                       : "unexpected reply");
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    if (status.len == 2 && ngx_strncmp(status.data, "ok", 2) == 0) {
        ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                      "inbotpay: deposit of %V credited to player %L, "
                      "charge \"%V\", update %L, balance %V",
                      &amount, ctx->player, &sp->charge_id,
                      ctx->update.update_id, &balance);

    } else {
        ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                      "inbotpay: repeated deposit of %V for player %L, "
                      "charge \"%V\", update %L, not credited again",
                      &amount, ctx->player, &sp->charge_id,
                      ctx->update.update_id);
    }

    p = ngx_cpymem(text, "Deposit of ", sizeof("Deposit of ") - 1);
    p = ngx_http_inbotpay_bot_money(ctx, p, &amount);
    p = ngx_cpymem(p, " received. Your balance: ",
                   sizeof(" received. Your balance: ") - 1);
    p = ngx_http_inbotpay_bot_money(ctx, p, &balance);

    ngx_http_inbotpay_tg_finalize(ctx,
        ngx_http_inbotpay_bot_say(ctx, text, p,
                                  NGX_HTTP_INBOTPAY_KEYBOARD_NONE));
}


static ngx_int_t
ngx_http_inbotpay_bot_help(ngx_http_inbotpay_ctx_t *ctx)
{
    u_char  *text;

    text = (u_char *) "Commands:\n"
                      "/balance - your balance\n"
                      "/deposit N - add N " NGX_HTTP_INBOTPAY_STAR "\n"
                      "/help - this list";

    return ngx_http_inbotpay_bot_say(ctx, text, text + ngx_strlen(text),
                                     NGX_HTTP_INBOTPAY_KEYBOARD_NONE);
}


/*
 * A message to the player: in the webhook reply when answering a message,
 * or as its own call when answering a button press, whose webhook reply
 * is the answer to the callback query.
 */

static yajl_gen
ngx_http_inbotpay_bot_begin(ngx_http_inbotpay_ctx_t *ctx, char *method)
{
    if (ctx->update.kind == NGX_HTTP_INBOTPAY_UPDATE_CALLBACK_QUERY) {
        return ngx_http_inbotpay_tg_begin(ctx, NULL);
    }

    return ngx_http_inbotpay_tg_begin(ctx, method);
}


static ngx_int_t
ngx_http_inbotpay_bot_end(ngx_http_inbotpay_ctx_t *ctx, char *method,
    yajl_gen g)
{
    if (ctx->update.kind != NGX_HTTP_INBOTPAY_UPDATE_CALLBACK_QUERY) {
        return ngx_http_inbotpay_tg_reply(ctx, g);
    }

    if (ngx_http_inbotpay_tg_call(ctx, method, g) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_inbotpay_bot_answer(ctx, NULL);
}


static ngx_int_t
ngx_http_inbotpay_bot_say(ngx_http_inbotpay_ctx_t *ctx, u_char *text,
    u_char *last, ngx_uint_t keyboard)
{
    yajl_gen  g;

    g = ngx_http_inbotpay_bot_begin(ctx, "sendMessage");
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_inbotpay_tg_key_int(g, "chat_id", ctx->chat);
    ngx_http_inbotpay_tg_key(g, "text");
    yajl_gen_string(g, text, last - text);

    if (keyboard != NGX_HTTP_INBOTPAY_KEYBOARD_NONE) {
        ngx_http_inbotpay_bot_keyboard(ctx, g,
                                   keyboard == NGX_HTTP_INBOTPAY_KEYBOARD_MENU);
    }

    return ngx_http_inbotpay_bot_end(ctx, "sendMessage", g);
}


/* every callback query is answered, with a short notice or without */

static ngx_int_t
ngx_http_inbotpay_bot_answer(ngx_http_inbotpay_ctx_t *ctx, char *text)
{
    yajl_gen  g;

    g = ngx_http_inbotpay_tg_begin(ctx, "answerCallbackQuery");
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_inbotpay_tg_key_str(g, "callback_query_id",
                                 &ctx->update.query_id);

    if (text) {
        ngx_http_inbotpay_tg_key_cstr(g, "text", text);
    }

    return ngx_http_inbotpay_tg_reply(ctx, g);
}


static void
ngx_http_inbotpay_bot_keyboard(ngx_http_inbotpay_ctx_t *ctx, yajl_gen g,
    ngx_uint_t balance)
{
    u_char      *p;
    int64_t     *preset;
    ngx_str_t    amount;
    ngx_uint_t   i;
    u_char       text[NGX_HTTP_INBOTPAY_TEXT_LEN];
    u_char       data[NGX_HTTP_INBOTPAY_INT64_LEN + 4];

    ngx_http_inbotpay_tg_key(g, "reply_markup");
    yajl_gen_map_open(g);
    ngx_http_inbotpay_tg_key(g, "inline_keyboard");
    yajl_gen_array_open(g);

    yajl_gen_array_open(g);

    preset = ctx->conf->deposit_presets->elts;

    for (i = 0; i < ctx->conf->deposit_presets->nelts; i++) {
        p = ngx_sprintf(data, "dep:%L", preset[i]);

        amount.data = data + 4;
        amount.len = p - amount.data;

        yajl_gen_map_open(g);
        ngx_http_inbotpay_tg_key(g, "text");
        p = ngx_http_inbotpay_bot_money(ctx, text, &amount);
        yajl_gen_string(g, text, p - text);
        ngx_http_inbotpay_tg_key(g, "callback_data");
        yajl_gen_string(g, data, amount.data + amount.len - data);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    if (balance) {
        yajl_gen_array_open(g);
        yajl_gen_map_open(g);
        ngx_http_inbotpay_tg_key_cstr(g, "text", "Balance");
        ngx_http_inbotpay_tg_key_cstr(g, "callback_data", "bal");
        yajl_gen_map_close(g);
        yajl_gen_array_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}


/* "100 ⭐" for Stars, "100 EUR" (in minor units) otherwise */

static u_char *
ngx_http_inbotpay_bot_money(ngx_http_inbotpay_ctx_t *ctx, u_char *p,
    ngx_str_t *amount)
{
    ngx_str_t  *currency;

    currency = &ctx->conf->currency;

    p = ngx_cpymem(p, amount->data, amount->len);

    if (currency->len == 3 && ngx_strncmp(currency->data, "XTR", 3) == 0) {
        return ngx_cpymem(p, " " NGX_HTTP_INBOTPAY_STAR,
                          sizeof(" " NGX_HTTP_INBOTPAY_STAR) - 1);
    }

    *p++ = ' ';

    return ngx_cpymem(p, currency->data, ngx_min(currency->len, 8));
}


/* a balance or an amount from Redis; a missing wallet holds nothing */

static ngx_int_t
ngx_http_inbotpay_bot_reply_str(redisReply *reply, ngx_str_t *value)
{
    if (reply == NULL) {
        return NGX_ERROR;
    }

    switch (reply->type) {

    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        if (reply->len > NGX_INT64_LEN + 1) {
            return NGX_ERROR;
        }

        value->data = (u_char *) reply->str;
        value->len = reply->len;
        return NGX_OK;

    case REDIS_REPLY_NIL:
        ngx_str_set(value, "0");
        return NGX_OK;

    default:
        return NGX_ERROR;
    }
}


/* "ibp:{PLAYER}:NAME" or "ibp:{PLAYER}:NAME" followed by "suffix" */

static ngx_int_t
ngx_http_inbotpay_bot_key(ngx_http_inbotpay_ctx_t *ctx, ngx_str_t *key,
    char *name, ngx_str_t *suffix)
{
    u_char  *p;
    size_t   len;

    len = sizeof("ibp:{}:") - 1 + NGX_INT64_LEN + ngx_strlen(name)
          + (suffix ? suffix->len : 0);

    key->data = ngx_pnalloc(ctx->request->pool, len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(key->data, "ibp:{%L}:%s", ctx->player, name);

    if (suffix) {
        p = ngx_cpymem(p, suffix->data, suffix->len);
    }

    key->len = p - key->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_inbotpay_bot_int(ngx_http_inbotpay_ctx_t *ctx, ngx_str_t *value,
    int64_t n)
{
    value->data = ngx_pnalloc(ctx->request->pool, NGX_INT64_LEN);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    value->len = ngx_sprintf(value->data, "%L", n) - value->data;

    return NGX_OK;
}
