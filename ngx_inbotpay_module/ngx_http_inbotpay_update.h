
/*
 * Telegram Update parsing: the few fields the bot acts on, read from a
 * webhook body with yajl's streaming parser.
 */


#ifndef _NGX_HTTP_INBOTPAY_UPDATE_H_INCLUDED_
#define _NGX_HTTP_INBOTPAY_UPDATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <stdint.h>


typedef enum {
    NGX_HTTP_INBOTPAY_UPDATE_OTHER = 0,
    NGX_HTTP_INBOTPAY_UPDATE_MESSAGE,
    NGX_HTTP_INBOTPAY_UPDATE_EDITED_MESSAGE,
    NGX_HTTP_INBOTPAY_UPDATE_CALLBACK_QUERY,
    NGX_HTTP_INBOTPAY_UPDATE_PRE_CHECKOUT_QUERY
} ngx_http_inbotpay_update_kind_e;


typedef struct {
    int64_t                          id;
    ngx_str_t                        first_name;
    ngx_str_t                        username;
    unsigned                         present:1;
    unsigned                         is_bot:1;
} ngx_http_inbotpay_user_t;


typedef struct {
    ngx_str_t                        currency;
    int64_t                          total_amount;
    ngx_str_t                        invoice_payload;
    ngx_str_t                        charge_id;
    unsigned                         present:1;
} ngx_http_inbotpay_payment_t;


typedef struct {
    int64_t                          update_id;
    ngx_http_inbotpay_update_kind_e  kind;

    /* message or edited_message, or callback_query.message */
    int64_t                          message_id;
    int64_t                          chat_id;
    ngx_str_t                        chat_type;
    unsigned                         has_chat:1;
    ngx_str_t                        text;

    /* message.from, callback_query.from or pre_checkout_query.from */
    ngx_http_inbotpay_user_t         from;

    /* charge_id is telegram_payment_charge_id */
    ngx_http_inbotpay_payment_t      successful_payment;
    ngx_http_inbotpay_payment_t      refunded_payment;

    /* callback_query.id or pre_checkout_query.id */
    ngx_str_t                        query_id;

    /* callback_query */
    ngx_str_t                        data;
    ngx_str_t                        inline_message_id;

    /* pre_checkout_query: currency, total_amount, invoice_payload */
    ngx_http_inbotpay_payment_t      checkout;

    /* why parsing failed, a static string */
    const char                      *error;
} ngx_http_inbotpay_update_t;


/*
 * Parses one Update from json/len.  Strings are decoded into "arena", which
 * the caller provides with at least len bytes (a decoded JSON string is never
 * longer than its encoding); ngx_str_t fields point into it.  Returns NGX_OK,
 * or NGX_DECLINED with u->error set when the body is not an Update, or
 * NGX_ERROR with u->error set when yajl could not allocate memory.
 */
ngx_int_t ngx_http_inbotpay_update_parse(ngx_http_inbotpay_update_t *u,
    u_char *json, size_t len, u_char *arena);


#endif /* _NGX_HTTP_INBOTPAY_UPDATE_H_INCLUDED_ */
