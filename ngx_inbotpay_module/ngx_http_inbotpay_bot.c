
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


static ngx_int_t ngx_http_inbotpay_bot_message(ngx_http_inbotpay_ctx_t *ctx);
static ngx_int_t ngx_http_inbotpay_bot_callback(
    ngx_http_inbotpay_ctx_t *ctx);
static ngx_int_t ngx_http_inbotpay_bot_settle_press(
    ngx_http_inbotpay_ctx_t *ctx, ngx_str_t *data, char *action);
static ngx_int_t ngx_http_inbotpay_bot_data_int(ngx_str_t *data,
    size_t skip, int64_t *n);
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

static yajl_gen ngx_http_inbotpay_bot_begin(ngx_http_inbotpay_ctx_t *ctx,
    char *method);
static ngx_int_t ngx_http_inbotpay_bot_end(ngx_http_inbotpay_ctx_t *ctx,
    char *method, yajl_gen g);
static void ngx_http_inbotpay_bot_message_body(ngx_http_inbotpay_ctx_t *ctx,
    yajl_gen g, int64_t chat, u_char *text, u_char *last,
    ngx_http_inbotpay_button_t *buttons, ngx_uint_t n);
static ngx_int_t ngx_http_inbotpay_bot_refuse_checkout(
    ngx_http_inbotpay_ctx_t *ctx, char *message);


static ngx_str_t  ngx_http_inbotpay_private = ngx_string("private");
static ngx_str_t  ngx_http_inbotpay_empty = ngx_string("");


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
        return ngx_http_inbotpay_wallet_refund(ctx);
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

        /* the answer to a question the bot asked, or help */

        return ngx_http_inbotpay_wallet_ask(ctx);
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

    if (command.len == 8
        && ngx_strncasecmp(command.data, (u_char *) "withdraw", 8) == 0)
    {
        return ngx_http_inbotpay_wallet_withdraw(ctx, &args);
    }

    if (command.len == 4
        && ngx_strncasecmp(command.data, (u_char *) "send", 4) == 0)
    {
        return ngx_http_inbotpay_wallet_send(ctx, &args);
    }

    if (command.len == 7
        && ngx_strncasecmp(command.data, (u_char *) "history", 7) == 0)
    {
        return ngx_http_inbotpay_wallet_history(ctx, 0);
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
    int64_t                      n;
    ngx_str_t                   *data;
    ngx_http_inbotpay_update_t  *u;

    u = &ctx->update;
    data = &u->data;

    if (!u->from.present || u->query_id.len == 0) {
        return ngx_http_inbotpay_tg_reply(ctx, NULL);
    }

    ctx->player = u->from.id;
    ctx->chat = u->has_chat ? u->chat_id : u->from.id;

    if (data->len == 3 && ngx_strncmp(data->data, "bal", 3) == 0) {
        return ngx_http_inbotpay_bot_balance(ctx);
    }

    if (data->len > 4 && ngx_strncmp(data->data, "dep:", 4) == 0
        && ngx_http_inbotpay_parse_amount(data->data + 4, data->len - 4,
                                          ctx->conf->deposit_max, &n)
           == NGX_OK)
    {
        return ngx_http_inbotpay_bot_invoice(ctx, n);
    }

    if (data->len > 3 && ngx_strncmp(data->data, "wd:", 3) == 0
        && ngx_http_inbotpay_bot_data_int(data, 3, &n) == NGX_OK)
    {
        return ngx_http_inbotpay_wallet_withdraw_button(ctx, n);
    }

    if (data->len > 4 && ngx_strncmp(data->data, "wdc:", 4) == 0
        && ngx_http_inbotpay_bot_data_int(data, 4, &n) == NGX_OK)
    {
        ctx->peer = ctx->player;
        return ngx_http_inbotpay_wallet_settle(ctx, ctx->player, n,
                                               "cancelled",
                                               &ngx_http_inbotpay_empty);
    }

    if (data->len > 5 && ngx_strncmp(data->data, "wdok:", 5) == 0) {
        return ngx_http_inbotpay_bot_settle_press(ctx, data, "paid");
    }

    if (data->len > 5 && ngx_strncmp(data->data, "wdno:", 5) == 0) {
        return ngx_http_inbotpay_bot_settle_press(ctx, data, "rejected");
    }

    if (data->len > 5 && ngx_strncmp(data->data, "txok:", 5) == 0
        && ngx_http_inbotpay_bot_data_int(data, 5, &n) == NGX_OK)
    {
        return ngx_http_inbotpay_wallet_confirm(ctx, n, 1);
    }

    if (data->len > 5 && ngx_strncmp(data->data, "txno:", 5) == 0
        && ngx_http_inbotpay_bot_data_int(data, 5, &n) == NGX_OK)
    {
        return ngx_http_inbotpay_wallet_confirm(ctx, n, 0);
    }

    if (data->len > 5 && ngx_strncmp(data->data, "hist:", 5) == 0
        && ngx_http_inbotpay_bot_data_int(data, 5, &n) == NGX_OK
        && n % 10 == 0)
    {
        return ngx_http_inbotpay_wallet_history(ctx, n);
    }

    return ngx_http_inbotpay_bot_answer(ctx, "This button is no longer valid.");
}


/*
 * "wdok:PLAYER:WITHDRAWAL" and "wdno:...": only an admin settles a
 * withdrawal, and the button names the player whose wallet it is.
 */

static ngx_int_t
ngx_http_inbotpay_bot_settle_press(ngx_http_inbotpay_ctx_t *ctx,
    ngx_str_t *data, char *action)
{
    u_char      *colon;
    int64_t      player, withdrawal, *admin;
    ngx_str_t    part;
    ngx_uint_t   i;

    admin = ctx->conf->admins ? ctx->conf->admins->elts : NULL;

    for (i = 0; admin && i < ctx->conf->admins->nelts; i++) {
        if (admin[i] == ctx->player) {
            break;
        }
    }

    if (admin == NULL || i == ctx->conf->admins->nelts) {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "inbotpay: user %L is not an admin and may not "
                      "settle a withdrawal", ctx->player);
        return ngx_http_inbotpay_bot_answer(ctx,
                                     "Only admins can settle withdrawals.");
    }

    colon = ngx_strlchr(data->data + 5, data->data + data->len, ':');

    if (colon == NULL) {
        return ngx_http_inbotpay_bot_answer(ctx,
                                         "This button is no longer valid.");
    }

    part.data = data->data + 5;
    part.len = colon - part.data;

    if (ngx_http_inbotpay_parse_amount(part.data, part.len, INT64_MAX,
                                       &player)
        != NGX_OK)
    {
        return ngx_http_inbotpay_bot_answer(ctx,
                                         "This button is no longer valid.");
    }

    part.data = colon + 1;
    part.len = data->data + data->len - part.data;

    if (ngx_http_inbotpay_bot_data_int(&part, 0, &withdrawal) != NGX_OK) {
        return ngx_http_inbotpay_bot_answer(ctx,
                                         "This button is no longer valid.");
    }

    ctx->peer = player;

    return ngx_http_inbotpay_wallet_settle(ctx, player, withdrawal, action,
                                           &ngx_http_inbotpay_empty);
}


/* a number in callback data: "0" or digits with no leading zero */

static ngx_int_t
ngx_http_inbotpay_bot_data_int(ngx_str_t *data, size_t skip, int64_t *n)
{
    if (data->len == skip + 1 && data->data[skip] == '0') {
        *n = 0;
        return NGX_OK;
    }

    return ngx_http_inbotpay_parse_amount(data->data + skip,
                                          data->len - skip, INT64_MAX, n);
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
    ngx_str_t                    argv[9], lower;
    ngx_http_inbotpay_update_t  *u;

    u = &ctx->update;

    lower.len = ngx_min(u->from.username.len, 64);
    lower.data = ngx_pnalloc(ctx->request->pool, lower.len + 1);
    if (lower.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_strlow(lower.data, u->from.username.data, lower.len);

    if (ngx_http_inbotpay_bot_key(ctx, &argv[0], ctx->player, "player", NULL)
        != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[1], ctx->player, "wallet",
                                     NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[6], ctx->player) != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[7], ctx->chat) != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[8], ngx_time()) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&argv[2], "ibp:usernames");
    argv[3].data = u->from.first_name.data;
    argv[3].len = ngx_min(u->from.first_name.len, 256);
    argv[4].data = u->from.username.data;
    argv[4].len = lower.len;
    argv[5] = lower;

    return ngx_http_inbotpay_bot_redis(ctx, NGX_HTTP_INBOTPAY_SCRIPT_START, 3,
                                       9, argv, ngx_http_inbotpay_bot_started);
}


static void
ngx_http_inbotpay_bot_started(ngx_http_inbotpay_ctx_t *ctx, redisReply *reply)
{
    u_char                      *p, *text;
    size_t                       len;
    ngx_str_t                    balance, *name;
    ngx_uint_t                   n;
    ngx_http_inbotpay_button_t  *buttons;

    if (ngx_http_inbotpay_bot_reply_str(reply, &balance) != NGX_OK) {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    name = &ctx->update.from.first_name;
    len = sizeof("Welcome, !\nYour balance: ") - 1 + name->len
          + NGX_HTTP_INBOTPAY_INT64_LEN + sizeof(NGX_HTTP_INBOTPAY_STAR);

    text = ngx_pnalloc(ctx->request->pool, len);
    if (text == NULL) {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_sprintf(text, "Welcome, %V!\nYour balance: ", name);
    p = ngx_http_inbotpay_bot_money(ctx, p, &balance);

    buttons = ngx_http_inbotpay_bot_presets(ctx, "dep:%L", 1, &n);
    if (buttons == NULL) {
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_inbotpay_tg_finalize(ctx,
        ngx_http_inbotpay_bot_say(ctx, text, p, buttons, n));
}


static ngx_int_t
ngx_http_inbotpay_bot_balance(ngx_http_inbotpay_ctx_t *ctx)
{
    ngx_str_t  argv[3];

    ngx_str_set(&argv[0], "HGET");
    ngx_str_set(&argv[2], "balance");

    if (ngx_http_inbotpay_bot_key(ctx, &argv[1], ctx->player, "wallet", NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_inbotpay_bot_redis(ctx, -1, 0, 3, argv,
                                       ngx_http_inbotpay_bot_balance_done);
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
        ngx_http_inbotpay_bot_say(ctx, text, p, NULL, 0));
}


static ngx_int_t
ngx_http_inbotpay_bot_deposit(ngx_http_inbotpay_ctx_t *ctx, ngx_str_t *args)
{
    u_char                      *p;
    int64_t                      amount;
    ngx_uint_t                   n;
    ngx_http_inbotpay_button_t  *buttons;
    u_char                       text[NGX_HTTP_INBOTPAY_TEXT_LEN];

    if (args->len == 0) {
        p = ngx_cpymem(text, "Choose an amount to deposit:",
                       sizeof("Choose an amount to deposit:") - 1);

        buttons = ngx_http_inbotpay_bot_presets(ctx, "dep:%L", 0, &n);
        if (buttons == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_inbotpay_bot_say(ctx, text, p, buttons, n);
    }

    if (ngx_http_inbotpay_parse_amount(args->data, args->len,
                                       ctx->conf->deposit_max, &amount)
        != NGX_OK)
    {
        p = ngx_sprintf(text, "The amount must be a whole number from 1 "
                        "to %i. Example: /deposit 100",
                        ctx->conf->deposit_max);

        return ngx_http_inbotpay_bot_say(ctx, text, p, NULL, 0);
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
        ngx_http_inbotpay_count_money(NGX_HTTP_INBOTPAY_MONEY_DEPOSIT,
                                      NGX_HTTP_INBOTPAY_OUTCOME_REFUSED, 0);

        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "inbotpay: payment by player %L, charge \"%V\", "
                      "%L %V not credited: %s", ctx->player, &sp->charge_id,
                      sp->total_amount, &sp->currency, why);

        p = (u_char *) "This payment could not be matched to an invoice. "
                       "Support has been notified.";

        return ngx_http_inbotpay_bot_say(ctx, p, p + ngx_strlen(p), NULL, 0);
    }

    if (ngx_http_inbotpay_bot_key(ctx, &argv[0], ctx->player, "wallet", NULL)
        != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[1], ctx->player, "ledger",
                                     NULL)
           != NGX_OK
        || ngx_http_inbotpay_bot_key(ctx, &argv[2], ctx->player, "charge:",
                                     &sp->charge_id)
           != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[4], inv.amount) != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[6], ctx->update.update_id)
           != NGX_OK
        || ngx_http_inbotpay_bot_int(ctx, &argv[7], ngx_time()) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_inbotpay_bot_key(ctx, &argv[3], ctx->player, "update:",
                                  &argv[6])
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[5] = sp->charge_id;

    return ngx_http_inbotpay_bot_redis(ctx, NGX_HTTP_INBOTPAY_SCRIPT_DEPOSIT,
                                       4, 8, argv, ngx_http_inbotpay_bot_paid);
}


static void
ngx_http_inbotpay_bot_paid(ngx_http_inbotpay_ctx_t *ctx, redisReply *reply)
{
    u_char                       *p, *last;
    ngx_str_t                     status, amount, balance, debt;
    ngx_http_inbotpay_payment_t  *sp;
    u_char                        text[NGX_HTTP_INBOTPAY_TEXT_LEN];

    sp = &ctx->update.successful_payment;

    if (reply == NULL) {
        ngx_http_inbotpay_count_money(NGX_HTTP_INBOTPAY_MONEY_DEPOSIT,
                                      NGX_HTTP_INBOTPAY_OUTCOME_ERROR, 0);
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 4
        || ngx_http_inbotpay_bot_reply_str(reply->element[0], &status)
           != NGX_OK
        || ngx_http_inbotpay_bot_reply_str(reply->element[1], &amount)
           != NGX_OK
        || ngx_http_inbotpay_bot_reply_str(reply->element[2], &balance)
           != NGX_OK
        || ngx_http_inbotpay_bot_reply_str(reply->element[3], &debt)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "inbotpay: deposit for player %L, charge \"%V\" "
                      "failed: %s", ctx->player, &sp->charge_id,
                      reply->type == REDIS_REPLY_ERROR ? reply->str
                                                       : "unexpected reply");
        ngx_http_inbotpay_count_money(NGX_HTTP_INBOTPAY_MONEY_DEPOSIT,
                                      NGX_HTTP_INBOTPAY_OUTCOME_ERROR, 0);
        ngx_http_inbotpay_tg_finalize(ctx, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    ngx_http_inbotpay_count_money_str(NGX_HTTP_INBOTPAY_MONEY_DEPOSIT,
                                      &status, &amount);

    if (status.len == 2 && ngx_strncmp(status.data, "ok", 2) == 0) {
        ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                      "inbotpay: deposit of %V credited to player %L, "
                      "charge \"%V\", update %L, balance %V, debt %V",
                      &amount, ctx->player, &sp->charge_id,
                      ctx->update.update_id, &balance, &debt);

        last = text + NGX_HTTP_INBOTPAY_TEXT_LEN;
        p = ngx_slprintf(text, last, "Deposit: ");
        p = ngx_http_inbotpay_bot_money(ctx, p, &amount);
        p = ngx_slprintf(p, last, " from player %L, charge %V.",
                         ctx->player, &sp->charge_id);

        (void) ngx_http_inbotpay_wallet_ops(ctx, text, p, NULL, 0);

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
        ngx_http_inbotpay_bot_say(ctx, text, p, NULL, 0));
}


ngx_int_t
ngx_http_inbotpay_bot_help(ngx_http_inbotpay_ctx_t *ctx)
{
    u_char  *text;

    text = (u_char *) "Commands:\n"
                      "/balance - your balance\n"
                      "/deposit N - add N " NGX_HTTP_INBOTPAY_STAR "\n"
                      "/withdraw N DESTINATION - withdraw N "
                      NGX_HTTP_INBOTPAY_STAR "\n"
                      "/send @name N - send N " NGX_HTTP_INBOTPAY_STAR
                      " to another player\n"
                      "/history - your latest operations\n"
                      "/help - this list";

    return ngx_http_inbotpay_bot_say(ctx, text, text + ngx_strlen(text),
                                     NULL, 0);
}


/* sends a Redis command; what it returns suits ngx_http_finalize_request() */

ngx_int_t
ngx_http_inbotpay_bot_redis(ngx_http_inbotpay_ctx_t *ctx, ngx_int_t script,
    ngx_uint_t nkeys, ngx_uint_t argc, ngx_str_t *argv,
    ngx_http_inbotpay_redis_handler_pt handler)
{
    switch (ngx_http_inbotpay_redis_send(ctx, script, nkeys, argc, argv,
                                         handler))
    {
    case NGX_OK:
        return NGX_DONE;

    case NGX_DECLINED:
        return NGX_HTTP_SERVICE_UNAVAILABLE;

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
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


/*
 * "n" buttons, or NGX_HTTP_INBOTPAY_FORCE_REPLY to have the player's
 * client open a reply to this message.
 */

ngx_int_t
ngx_http_inbotpay_bot_say(ngx_http_inbotpay_ctx_t *ctx, u_char *text,
    u_char *last, ngx_http_inbotpay_button_t *buttons, ngx_uint_t n)
{
    yajl_gen  g;

    g = ngx_http_inbotpay_bot_begin(ctx, "sendMessage");
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_inbotpay_bot_message_body(ctx, g, ctx->chat, text, last,
                                       buttons, n);

    return ngx_http_inbotpay_bot_end(ctx, "sendMessage", g);
}


/*
 * A message to any chat, always as its own call: to the other player of
 * a transfer, or to the ops chat.  A failure is logged and does not undo
 * what the message reports.
 */

ngx_int_t
ngx_http_inbotpay_bot_post(ngx_http_inbotpay_ctx_t *ctx, int64_t chat,
    u_char *text, u_char *last, ngx_http_inbotpay_button_t *buttons,
    ngx_uint_t n)
{
    yajl_gen  g;

    g = ngx_http_inbotpay_tg_begin(ctx, NULL);
    if (g == NULL) {
        return NGX_ERROR;
    }

    ngx_http_inbotpay_bot_message_body(ctx, g, chat, text, last, buttons, n);

    if (ngx_http_inbotpay_tg_call(ctx, "sendMessage", g) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "inbotpay: could not send a message to chat %L", chat);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_inbotpay_bot_message_body(ngx_http_inbotpay_ctx_t *ctx, yajl_gen g,
    int64_t chat, u_char *text, u_char *last,
    ngx_http_inbotpay_button_t *buttons, ngx_uint_t n)
{
    ngx_uint_t  i;

    ngx_http_inbotpay_tg_key_int(g, "chat_id", chat);
    ngx_http_inbotpay_tg_key(g, "text");
    yajl_gen_string(g, text, last - text);

    if (n == NGX_HTTP_INBOTPAY_FORCE_REPLY) {
        ngx_http_inbotpay_tg_key(g, "reply_markup");
        yajl_gen_map_open(g);
        ngx_http_inbotpay_tg_key(g, "force_reply");
        yajl_gen_bool(g, 1);
        yajl_gen_map_close(g);
        return;
    }

    if (n == 0) {
        return;
    }

    ngx_http_inbotpay_tg_key(g, "reply_markup");
    yajl_gen_map_open(g);
    ngx_http_inbotpay_tg_key(g, "inline_keyboard");
    yajl_gen_array_open(g);
    yajl_gen_array_open(g);

    for (i = 0; i < n; i++) {

        if (buttons[i].text.len == 0) {
            yajl_gen_array_close(g);
            yajl_gen_array_open(g);
            continue;
        }

        yajl_gen_map_open(g);
        ngx_http_inbotpay_tg_key_str(g, "text", &buttons[i].text);
        ngx_http_inbotpay_tg_key_str(g, "callback_data", &buttons[i].data);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}


/* every callback query is answered, with a short notice or without */

ngx_int_t
ngx_http_inbotpay_bot_answer(ngx_http_inbotpay_ctx_t *ctx, char *text)
{
    u_char  *p;

    p = (u_char *) text;

    return ngx_http_inbotpay_bot_answer_text(ctx, p,
                                             p ? p + ngx_strlen(p) : NULL);
}


ngx_int_t
ngx_http_inbotpay_bot_answer_text(ngx_http_inbotpay_ctx_t *ctx, u_char *text,
    u_char *last)
{
    yajl_gen  g;

    g = ngx_http_inbotpay_tg_begin(ctx, "answerCallbackQuery");
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_inbotpay_tg_key_str(g, "callback_query_id",
                                 &ctx->update.query_id);

    if (text) {
        ngx_http_inbotpay_tg_key(g, "text");
        yajl_gen_string(g, text, last - text);
    }

    return ngx_http_inbotpay_tg_reply(ctx, g);
}


/*
 * A button whose callback data is "fmt" printed with one or two numbers;
 * the data always fits Telegram's 64 bytes.
 */

ngx_int_t
ngx_http_inbotpay_bot_button(ngx_http_inbotpay_ctx_t *ctx,
    ngx_http_inbotpay_button_t *b, char *text, char *fmt, int64_t a,
    int64_t c)
{
    u_char  *p;

    p = ngx_pnalloc(ctx->request->pool, 64);
    if (p == NULL) {
        return NGX_ERROR;
    }

    b->text.data = (u_char *) text;
    b->text.len = ngx_strlen(text);
    b->data.data = p;
    b->data.len = ngx_snprintf(p, 64, fmt, a, c) - p;

    return NGX_OK;
}


/* the preset amounts as buttons, and a Balance button below them */

ngx_http_inbotpay_button_t *
ngx_http_inbotpay_bot_presets(ngx_http_inbotpay_ctx_t *ctx, char *fmt,
    ngx_uint_t balance, ngx_uint_t *n)
{
    u_char                      *p;
    int64_t                     *preset;
    ngx_uint_t                   i, count;
    ngx_http_inbotpay_button_t  *b;

    preset = ctx->conf->deposit_presets->elts;
    count = ctx->conf->deposit_presets->nelts;

    b = ngx_pcalloc(ctx->request->pool,
                    (count + 2) * sizeof(ngx_http_inbotpay_button_t));
    if (b == NULL) {
        return NULL;
    }

    for (i = 0; i < count; i++) {
        p = ngx_pnalloc(ctx->request->pool, NGX_HTTP_INBOTPAY_INT64_LEN
                                            + sizeof(NGX_HTTP_INBOTPAY_STAR));
        if (p == NULL) {
            return NULL;
        }

        if (ngx_http_inbotpay_bot_button(ctx, &b[i], "", fmt, preset[i], 0)
            != NGX_OK)
        {
            return NULL;
        }

        b[i].text.data = p;
        b[i].text.len = ngx_http_inbotpay_bot_money_int(ctx, p, preset[i])
                        - p;
    }

    *n = count;

    if (balance) {
        ngx_str_set(&b[count + 1].text, "Balance");
        ngx_str_set(&b[count + 1].data, "bal");
        *n = count + 2;
    }

    return b;
}


/* "100 ⭐" for Stars, "100 EUR" (in minor units) otherwise */

u_char *
ngx_http_inbotpay_bot_money(ngx_http_inbotpay_ctx_t *ctx, u_char *p,
    ngx_str_t *amount)
{
    ngx_str_t  *currency;

    currency = &ctx->conf->currency;

    p = ngx_cpymem(p, amount->data, ngx_min(amount->len, NGX_INT64_LEN));

    if (currency->len == 3 && ngx_strncmp(currency->data, "XTR", 3) == 0) {
        return ngx_cpymem(p, " " NGX_HTTP_INBOTPAY_STAR,
                          sizeof(" " NGX_HTTP_INBOTPAY_STAR) - 1);
    }

    *p++ = ' ';

    return ngx_cpymem(p, currency->data, ngx_min(currency->len, 3));
}


u_char *
ngx_http_inbotpay_bot_money_int(ngx_http_inbotpay_ctx_t *ctx, u_char *p,
    int64_t amount)
{
    ngx_str_t  s;
    u_char     number[NGX_HTTP_INBOTPAY_INT64_LEN];

    s.data = number;
    s.len = ngx_sprintf(number, "%L", amount) - number;

    return ngx_http_inbotpay_bot_money(ctx, p, &s);
}


/*
 * A figure from Redis as text (the scripts return every figure as a
 * string); a missing value counts as 0, as in a wallet that does not
 * exist yet.
 */

ngx_int_t
ngx_http_inbotpay_bot_reply_str(redisReply *reply, ngx_str_t *value)
{
    if (reply == NULL) {
        return NGX_ERROR;
    }

    switch (reply->type) {

    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        if (reply->len > NGX_HTTP_INBOTPAY_TEXT_LEN) {
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


ngx_int_t
ngx_http_inbotpay_bot_reply_int(redisReply *reply, int64_t *n)
{
    u_char     *p;
    int64_t     sign;
    ngx_str_t   s;

    if (ngx_http_inbotpay_bot_reply_str(reply, &s) != NGX_OK || s.len == 0) {
        return NGX_ERROR;
    }

    p = s.data;
    sign = 1;

    if (*p == '-') {
        sign = -1;
        p++;
        s.len--;
    }

    if (ngx_http_inbotpay_bot_data_int(&(ngx_str_t) { s.len, p }, 0, n)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    *n *= sign;

    return NGX_OK;
}


/* "ibp:{PLAYER}:NAME", followed by "suffix" when there is one */

ngx_int_t
ngx_http_inbotpay_bot_key(ngx_http_inbotpay_ctx_t *ctx, ngx_str_t *key,
    int64_t player, char *name, ngx_str_t *suffix)
{
    u_char  *p;
    size_t   len;

    len = sizeof("ibp:{}:") - 1 + NGX_INT64_LEN + ngx_strlen(name)
          + (suffix ? suffix->len : 0);

    key->data = ngx_pnalloc(ctx->request->pool, len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(key->data, "ibp:{%L}:%s", player, name);

    if (suffix) {
        p = ngx_cpymem(p, suffix->data, suffix->len);
    }

    key->len = p - key->data;

    return NGX_OK;
}


ngx_int_t
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
