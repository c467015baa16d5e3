
/*
 * Telegram Update parsing with yajl's streaming parser.
 *
 * The parser keeps a small stack of the objects it knows (the Update, a
 * Message, a Chat...) and a table of the keys it reads in each of them.
 * A value under any other key is skipped: only its depth is counted, so an
 * unknown field may nest as deep as yajl allows.  This file uses nginx types
 * and macros only, never nginx functions, so that a unit test links it with
 * yajl alone.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <yajl/yajl_parse.h>

#include "ngx_http_inbotpay_update.h"


#define NGX_HTTP_INBOTPAY_UPDATE_DEPTH  8


typedef enum {
    NGX_HTTP_INBOTPAY_OBJ_NONE = 0,
    NGX_HTTP_INBOTPAY_OBJ_UPDATE,
    NGX_HTTP_INBOTPAY_OBJ_MESSAGE,
    NGX_HTTP_INBOTPAY_OBJ_CALLBACK_MESSAGE,
    NGX_HTTP_INBOTPAY_OBJ_CHAT,
    NGX_HTTP_INBOTPAY_OBJ_USER,
    NGX_HTTP_INBOTPAY_OBJ_SUCCESSFUL_PAYMENT,
    NGX_HTTP_INBOTPAY_OBJ_REFUNDED_PAYMENT,
    NGX_HTTP_INBOTPAY_OBJ_CALLBACK_QUERY,
    NGX_HTTP_INBOTPAY_OBJ_PRE_CHECKOUT_QUERY
} ngx_http_inbotpay_update_obj_e;


typedef enum {
    NGX_HTTP_INBOTPAY_JSON_NULL = 0,
    NGX_HTTP_INBOTPAY_JSON_BOOLEAN,
    NGX_HTTP_INBOTPAY_JSON_INTEGER,
    NGX_HTTP_INBOTPAY_JSON_DOUBLE,
    NGX_HTTP_INBOTPAY_JSON_STRING,
    NGX_HTTP_INBOTPAY_JSON_OBJECT,
    NGX_HTTP_INBOTPAY_JSON_ARRAY
} ngx_http_inbotpay_update_json_e;


typedef struct {
    ngx_uint_t                         parent;
    ngx_str_t                          key;
    ngx_uint_t                         type;
    ngx_uint_t                         object;
    ngx_uint_t                         kind;
    size_t                             offset;
    const char                        *error;
} ngx_http_inbotpay_update_field_t;


typedef struct {
    ngx_http_inbotpay_update_t        *update;
    ngx_http_inbotpay_update_field_t  *field;
    u_char                            *last;
    u_char                            *end;
    size_t                             skip;
    ngx_uint_t                         depth;
    ngx_uint_t                         stack[NGX_HTTP_INBOTPAY_UPDATE_DEPTH];
    unsigned                           has_update_id:1;
} ngx_http_inbotpay_update_parser_t;


static ngx_int_t ngx_http_inbotpay_update_value(
    ngx_http_inbotpay_update_parser_t *p, ngx_uint_t type,
    ngx_http_inbotpay_update_field_t **fieldp);
static void ngx_http_inbotpay_update_enter(
    ngx_http_inbotpay_update_parser_t *p,
    ngx_http_inbotpay_update_field_t *field);
static int ngx_http_inbotpay_update_null(void *ctx);
static int ngx_http_inbotpay_update_boolean(void *ctx, int value);
static int ngx_http_inbotpay_update_integer(void *ctx, long long value);
static int ngx_http_inbotpay_update_double(void *ctx, double value);
static int ngx_http_inbotpay_update_string(void *ctx,
    const unsigned char *value, size_t len);
static void ngx_http_inbotpay_update_utf8(ngx_str_t *s);
static int ngx_http_inbotpay_update_start_map(void *ctx);
static int ngx_http_inbotpay_update_map_key(void *ctx,
    const unsigned char *key, size_t len);
static int ngx_http_inbotpay_update_end_map(void *ctx);
static int ngx_http_inbotpay_update_start_array(void *ctx);
static int ngx_http_inbotpay_update_end_array(void *ctx);


/*
 * Table entries.  "name" is the Bot API type of the parent object, used in
 * the error message; "key" is the JSON key, written as a bare word.
 */

#define ngx_http_inbotpay_int(parent, name, key, member)                      \
    { NGX_HTTP_INBOTPAY_OBJ_##parent, ngx_string(#key),                       \
      NGX_HTTP_INBOTPAY_JSON_INTEGER, NGX_HTTP_INBOTPAY_OBJ_NONE,             \
      NGX_HTTP_INBOTPAY_UPDATE_OTHER,                                         \
      offsetof(ngx_http_inbotpay_update_t, member),                           \
      name "." #key " is not an integer" }

#define ngx_http_inbotpay_str(parent, name, key, member)                      \
    { NGX_HTTP_INBOTPAY_OBJ_##parent, ngx_string(#key),                       \
      NGX_HTTP_INBOTPAY_JSON_STRING, NGX_HTTP_INBOTPAY_OBJ_NONE,              \
      NGX_HTTP_INBOTPAY_UPDATE_OTHER,                                         \
      offsetof(ngx_http_inbotpay_update_t, member),                           \
      name "." #key " is not a string" }

#define ngx_http_inbotpay_bool(parent, name, key)                             \
    { NGX_HTTP_INBOTPAY_OBJ_##parent, ngx_string(#key),                       \
      NGX_HTTP_INBOTPAY_JSON_BOOLEAN, NGX_HTTP_INBOTPAY_OBJ_NONE,             \
      NGX_HTTP_INBOTPAY_UPDATE_OTHER, 0,                                      \
      name "." #key " is not a boolean" }

#define ngx_http_inbotpay_obj(parent, name, key, object)                      \
    { NGX_HTTP_INBOTPAY_OBJ_##parent, ngx_string(#key),                       \
      NGX_HTTP_INBOTPAY_JSON_OBJECT, NGX_HTTP_INBOTPAY_OBJ_##object,          \
      NGX_HTTP_INBOTPAY_UPDATE_OTHER, 0,                                      \
      name "." #key " is not an object" }

#define ngx_http_inbotpay_kind(key, object, kind)                             \
    { NGX_HTTP_INBOTPAY_OBJ_UPDATE, ngx_string(#key),                         \
      NGX_HTTP_INBOTPAY_JSON_OBJECT, NGX_HTTP_INBOTPAY_OBJ_##object,          \
      NGX_HTTP_INBOTPAY_UPDATE_##kind, 0,                                     \
      "Update." #key " is not an object" }


static ngx_http_inbotpay_update_field_t  ngx_http_inbotpay_update_fields[] = {

    ngx_http_inbotpay_int(UPDATE, "Update", update_id, update_id),
    ngx_http_inbotpay_kind(message, MESSAGE, MESSAGE),
    ngx_http_inbotpay_kind(edited_message, MESSAGE, EDITED_MESSAGE),
    ngx_http_inbotpay_kind(callback_query, CALLBACK_QUERY, CALLBACK_QUERY),
    ngx_http_inbotpay_kind(pre_checkout_query, PRE_CHECKOUT_QUERY,
                           PRE_CHECKOUT_QUERY),

    ngx_http_inbotpay_int(MESSAGE, "Message", message_id, message_id),
    ngx_http_inbotpay_obj(MESSAGE, "Message", chat, CHAT),
    ngx_http_inbotpay_str(MESSAGE, "Message", text, text),
    ngx_http_inbotpay_obj(MESSAGE, "Message", from, USER),
    ngx_http_inbotpay_obj(MESSAGE, "Message", successful_payment,
                          SUCCESSFUL_PAYMENT),
    ngx_http_inbotpay_obj(MESSAGE, "Message", refunded_payment,
                          REFUNDED_PAYMENT),

    ngx_http_inbotpay_int(CALLBACK_MESSAGE, "Message", message_id,
                          message_id),
    ngx_http_inbotpay_obj(CALLBACK_MESSAGE, "Message", chat, CHAT),

    ngx_http_inbotpay_int(CHAT, "Chat", id, chat_id),
    ngx_http_inbotpay_str(CHAT, "Chat", type, chat_type),

    ngx_http_inbotpay_int(USER, "User", id, from.id),
    ngx_http_inbotpay_str(USER, "User", first_name, from.first_name),
    ngx_http_inbotpay_str(USER, "User", username, from.username),
    ngx_http_inbotpay_bool(USER, "User", is_bot),

    ngx_http_inbotpay_str(SUCCESSFUL_PAYMENT, "SuccessfulPayment", currency,
                          successful_payment.currency),
    ngx_http_inbotpay_int(SUCCESSFUL_PAYMENT, "SuccessfulPayment",
                          total_amount, successful_payment.total_amount),
    ngx_http_inbotpay_str(SUCCESSFUL_PAYMENT, "SuccessfulPayment",
                          invoice_payload,
                          successful_payment.invoice_payload),
    ngx_http_inbotpay_str(SUCCESSFUL_PAYMENT, "SuccessfulPayment",
                          telegram_payment_charge_id,
                          successful_payment.charge_id),

    ngx_http_inbotpay_str(REFUNDED_PAYMENT, "RefundedPayment", currency,
                          refunded_payment.currency),
    ngx_http_inbotpay_int(REFUNDED_PAYMENT, "RefundedPayment",
                          total_amount, refunded_payment.total_amount),
    ngx_http_inbotpay_str(REFUNDED_PAYMENT, "RefundedPayment",
                          invoice_payload, refunded_payment.invoice_payload),
    ngx_http_inbotpay_str(REFUNDED_PAYMENT, "RefundedPayment",
                          telegram_payment_charge_id,
                          refunded_payment.charge_id),

    ngx_http_inbotpay_str(CALLBACK_QUERY, "CallbackQuery", id, query_id),
    ngx_http_inbotpay_obj(CALLBACK_QUERY, "CallbackQuery", from, USER),
    ngx_http_inbotpay_str(CALLBACK_QUERY, "CallbackQuery", data, data),
    ngx_http_inbotpay_str(CALLBACK_QUERY, "CallbackQuery", inline_message_id,
                          inline_message_id),
    ngx_http_inbotpay_obj(CALLBACK_QUERY, "CallbackQuery", message,
                          CALLBACK_MESSAGE),

    ngx_http_inbotpay_str(PRE_CHECKOUT_QUERY, "PreCheckoutQuery", id,
                          query_id),
    ngx_http_inbotpay_obj(PRE_CHECKOUT_QUERY, "PreCheckoutQuery", from, USER),
    ngx_http_inbotpay_str(PRE_CHECKOUT_QUERY, "PreCheckoutQuery", currency,
                          checkout.currency),
    ngx_http_inbotpay_int(PRE_CHECKOUT_QUERY, "PreCheckoutQuery",
                          total_amount, checkout.total_amount),
    ngx_http_inbotpay_str(PRE_CHECKOUT_QUERY, "PreCheckoutQuery",
                          invoice_payload, checkout.invoice_payload),

    { NGX_HTTP_INBOTPAY_OBJ_NONE, ngx_null_string, 0, 0, 0, 0, NULL }
};


#undef ngx_http_inbotpay_int
#undef ngx_http_inbotpay_str
#undef ngx_http_inbotpay_bool
#undef ngx_http_inbotpay_obj
#undef ngx_http_inbotpay_kind


/* the top-level value, expected before any key is read */

static ngx_http_inbotpay_update_field_t  ngx_http_inbotpay_update_body = {
    NGX_HTTP_INBOTPAY_OBJ_NONE, ngx_null_string,
    NGX_HTTP_INBOTPAY_JSON_OBJECT, NGX_HTTP_INBOTPAY_OBJ_UPDATE,
    NGX_HTTP_INBOTPAY_UPDATE_OTHER, 0,
    "body is not a JSON object"
};


static yajl_callbacks  ngx_http_inbotpay_update_callbacks = {
    ngx_http_inbotpay_update_null,
    ngx_http_inbotpay_update_boolean,
    ngx_http_inbotpay_update_integer,
    ngx_http_inbotpay_update_double,
    NULL,
    ngx_http_inbotpay_update_string,
    ngx_http_inbotpay_update_start_map,
    ngx_http_inbotpay_update_map_key,
    ngx_http_inbotpay_update_end_map,
    ngx_http_inbotpay_update_start_array,
    ngx_http_inbotpay_update_end_array
};


ngx_int_t
ngx_http_inbotpay_update_parse(ngx_http_inbotpay_update_t *u, u_char *json,
    size_t len, u_char *arena)
{
    yajl_handle                        h;
    yajl_status                        rc;
    ngx_http_inbotpay_update_parser_t  p;

    ngx_memzero(u, sizeof(ngx_http_inbotpay_update_t));

    if (len == 0) {
        u->error = "body is empty";
        return NGX_DECLINED;
    }

    ngx_memzero(&p, sizeof(ngx_http_inbotpay_update_parser_t));

    p.update = u;
    p.field = &ngx_http_inbotpay_update_body;
    p.last = arena;
    p.end = arena + len;

    /*
     * yajl's defaults are what a webhook needs: strings are checked to be
     * UTF-8; comments, trailing data, several top-level values and a body
     * that ends early are errors; an integer out of the range of long long
     * is an error once an integer callback is set.
     */

    h = yajl_alloc(&ngx_http_inbotpay_update_callbacks, NULL, &p);
    if (h == NULL) {
        u->error = "yajl_alloc() failed";
        return NGX_ERROR;
    }

    rc = yajl_parse(h, json, len);

    if (rc == yajl_status_ok) {
        rc = yajl_complete_parse(h);
    }

    yajl_free(h);

    if (rc != yajl_status_ok) {
        if (u->error == NULL) {
            u->error = "body is not valid JSON";
        }

        return NGX_DECLINED;
    }

    if (!p.has_update_id) {
        u->error = "Update.update_id is missing";
        return NGX_DECLINED;
    }

    if (u->update_id < 0) {
        u->error = "Update.update_id is negative";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * Decides what to do with a value of the given type: NGX_OK and *fieldp set
 * to store it, NGX_DECLINED to skip it, NGX_ERROR (with update->error set)
 * when a field we use has another type.
 */

static ngx_int_t
ngx_http_inbotpay_update_value(ngx_http_inbotpay_update_parser_t *p,
    ngx_uint_t type, ngx_http_inbotpay_update_field_t **fieldp)
{
    ngx_http_inbotpay_update_field_t  *field;

    if (p->skip) {
        return NGX_DECLINED;
    }

    field = p->field;
    p->field = NULL;

    if (field == NULL) {
        return NGX_DECLINED;
    }

    if (field->type != type) {
        p->update->error = field->error;
        return NGX_ERROR;
    }

    *fieldp = field;

    return NGX_OK;
}


/*
 * An object replaces what an earlier object under the same key had set,
 * so that the last of duplicate keys wins.
 */

static void
ngx_http_inbotpay_update_enter(ngx_http_inbotpay_update_parser_t *p,
    ngx_http_inbotpay_update_field_t *field)
{
    int64_t                      update_id;
    ngx_http_inbotpay_update_t  *u;

    u = p->update;

    switch (field->object) {

    case NGX_HTTP_INBOTPAY_OBJ_MESSAGE:
    case NGX_HTTP_INBOTPAY_OBJ_CALLBACK_QUERY:
    case NGX_HTTP_INBOTPAY_OBJ_PRE_CHECKOUT_QUERY:
        update_id = u->update_id;
        ngx_memzero(u, sizeof(ngx_http_inbotpay_update_t));
        u->update_id = update_id;
        u->kind = field->kind;

        if (field->object == NGX_HTTP_INBOTPAY_OBJ_PRE_CHECKOUT_QUERY) {
            u->checkout.present = 1;
        }

        break;

    case NGX_HTTP_INBOTPAY_OBJ_CALLBACK_MESSAGE:
        u->message_id = 0;
        u->chat_id = 0;
        ngx_str_null(&u->chat_type);
        u->has_chat = 0;
        break;

    case NGX_HTTP_INBOTPAY_OBJ_CHAT:
        u->chat_id = 0;
        ngx_str_null(&u->chat_type);
        u->has_chat = 1;
        break;

    case NGX_HTTP_INBOTPAY_OBJ_USER:
        ngx_memzero(&u->from, sizeof(ngx_http_inbotpay_user_t));
        u->from.present = 1;
        break;

    case NGX_HTTP_INBOTPAY_OBJ_SUCCESSFUL_PAYMENT:
        ngx_memzero(&u->successful_payment,
                    sizeof(ngx_http_inbotpay_payment_t));
        u->successful_payment.present = 1;
        break;

    case NGX_HTTP_INBOTPAY_OBJ_REFUNDED_PAYMENT:
        ngx_memzero(&u->refunded_payment,
                    sizeof(ngx_http_inbotpay_payment_t));
        u->refunded_payment.present = 1;
        break;

    default: /* NGX_HTTP_INBOTPAY_OBJ_UPDATE */
        break;
    }
}


static int
ngx_http_inbotpay_update_null(void *ctx)
{
    ngx_http_inbotpay_update_field_t  *field;

    if (ngx_http_inbotpay_update_value(ctx, NGX_HTTP_INBOTPAY_JSON_NULL,
                                       &field)
        == NGX_ERROR)
    {
        return 0;
    }

    return 1;
}


static int
ngx_http_inbotpay_update_boolean(void *ctx, int value)
{
    ngx_int_t                           rc;
    ngx_http_inbotpay_update_field_t   *field;
    ngx_http_inbotpay_update_parser_t  *p;

    p = ctx;

    rc = ngx_http_inbotpay_update_value(p, NGX_HTTP_INBOTPAY_JSON_BOOLEAN,
                                        &field);
    if (rc == NGX_ERROR) {
        return 0;
    }

    if (rc == NGX_OK) {
        /* User.is_bot is the only boolean we read */
        p->update->from.is_bot = value ? 1 : 0;
    }

    return 1;
}


static int
ngx_http_inbotpay_update_integer(void *ctx, long long value)
{
    ngx_int_t                           rc;
    ngx_http_inbotpay_update_field_t   *field;
    ngx_http_inbotpay_update_parser_t  *p;

    p = ctx;

    rc = ngx_http_inbotpay_update_value(p, NGX_HTTP_INBOTPAY_JSON_INTEGER,
                                        &field);
    if (rc == NGX_ERROR) {
        return 0;
    }

    if (rc == NGX_OK) {
        *(int64_t *) ((u_char *) p->update + field->offset) = value;

        if (field->offset == offsetof(ngx_http_inbotpay_update_t, update_id))
        {
            p->has_update_id = 1;
        }
    }

    return 1;
}


static int
ngx_http_inbotpay_update_double(void *ctx, double value)
{
    ngx_http_inbotpay_update_field_t  *field;

    if (ngx_http_inbotpay_update_value(ctx, NGX_HTTP_INBOTPAY_JSON_DOUBLE,
                                       &field)
        == NGX_ERROR)
    {
        return 0;
    }

    return 1;
}


static int
ngx_http_inbotpay_update_string(void *ctx, const unsigned char *value,
    size_t len)
{
    ngx_int_t                           rc;
    ngx_str_t                          *s;
    ngx_http_inbotpay_update_field_t   *field;
    ngx_http_inbotpay_update_parser_t  *p;

    p = ctx;

    rc = ngx_http_inbotpay_update_value(p, NGX_HTTP_INBOTPAY_JSON_STRING,
                                        &field);
    if (rc == NGX_ERROR) {
        return 0;
    }

    if (rc == NGX_DECLINED) {
        return 1;
    }

    /* cannot happen: a decoded string is never longer than its encoding */

    if ((size_t) (p->end - p->last) < len) {
        p->update->error = "string arena is too small";
        return 0;
    }

    s = (ngx_str_t *) ((u_char *) p->update + field->offset);

    s->len = len;
    s->data = p->last;

    p->last = ngx_cpymem(p->last, value, len);

    ngx_http_inbotpay_update_utf8(s);

    return 1;
}


/*
 * yajl checks the UTF-8 it reads, but decodes a lone surrogate escape
 * such as "\udc00" into bytes that are not UTF-8.  Each byte of such a
 * sequence becomes "?", so that a name echoed back to Telegram is valid.
 */

static void
ngx_http_inbotpay_update_utf8(ngx_str_t *s)
{
    u_char      *p, *last;
    uint32_t     c, min;
    ngx_uint_t   i, n;

    p = s->data;
    last = p + s->len;

    while (p < last) {

        if (*p < 0x80) {
            p++;
            continue;
        }

        if ((*p & 0xe0) == 0xc0) {
            n = 1;
            c = *p & 0x1f;
            min = 0x80;

        } else if ((*p & 0xf0) == 0xe0) {
            n = 2;
            c = *p & 0x0f;
            min = 0x800;

        } else if ((*p & 0xf8) == 0xf0) {
            n = 3;
            c = *p & 0x07;
            min = 0x10000;

        } else {
            *p++ = '?';
            continue;
        }

        for (i = 1; i <= n; i++) {
            if (p + i >= last || (p[i] & 0xc0) != 0x80) {
                break;
            }

            c = (c << 6) | (p[i] & 0x3f);
        }

        if (i <= n || c < min || c > 0x10ffff
            || (c >= 0xd800 && c <= 0xdfff))
        {
            *p++ = '?';
            continue;
        }

        p += n + 1;
    }
}


static int
ngx_http_inbotpay_update_start_map(void *ctx)
{
    ngx_int_t                           rc;
    ngx_http_inbotpay_update_field_t   *field;
    ngx_http_inbotpay_update_parser_t  *p;

    p = ctx;

    rc = ngx_http_inbotpay_update_value(p, NGX_HTTP_INBOTPAY_JSON_OBJECT,
                                        &field);
    if (rc == NGX_ERROR) {
        return 0;
    }

    if (rc == NGX_DECLINED || p->depth == NGX_HTTP_INBOTPAY_UPDATE_DEPTH) {
        p->skip++;
        return 1;
    }

    ngx_http_inbotpay_update_enter(p, field);

    p->stack[p->depth++] = field->object;

    return 1;
}


static int
ngx_http_inbotpay_update_map_key(void *ctx, const unsigned char *key,
    size_t len)
{
    ngx_uint_t                          parent;
    ngx_http_inbotpay_update_field_t   *field;
    ngx_http_inbotpay_update_parser_t  *p;

    p = ctx;

    if (p->skip) {
        return 1;
    }

    parent = p->stack[p->depth - 1];

    for (field = ngx_http_inbotpay_update_fields; field->parent; field++) {

        if (field->parent == parent
            && field->key.len == len
            && ngx_memcmp(field->key.data, key, len) == 0)
        {
            break;
        }
    }

    if (field->parent == NGX_HTTP_INBOTPAY_OBJ_NONE) {
        p->field = NULL;
        return 1;
    }

    /* the first kind of update found wins, later kinds are unknown fields */

    if (field->kind != NGX_HTTP_INBOTPAY_UPDATE_OTHER
        && p->update->kind != NGX_HTTP_INBOTPAY_UPDATE_OTHER
        && p->update->kind != field->kind)
    {
        p->field = NULL;
        return 1;
    }

    p->field = field;

    return 1;
}


static int
ngx_http_inbotpay_update_end_map(void *ctx)
{
    ngx_http_inbotpay_update_parser_t  *p;

    p = ctx;

    if (p->skip) {
        p->skip--;
        return 1;
    }

    p->depth--;

    return 1;
}


static int
ngx_http_inbotpay_update_start_array(void *ctx)
{
    ngx_http_inbotpay_update_field_t   *field;
    ngx_http_inbotpay_update_parser_t  *p;

    p = ctx;

    /* no field we read is an array */

    if (ngx_http_inbotpay_update_value(p, NGX_HTTP_INBOTPAY_JSON_ARRAY,
                                       &field)
        == NGX_ERROR)
    {
        return 0;
    }

    p->skip++;

    return 1;
}


static int
ngx_http_inbotpay_update_end_array(void *ctx)
{
    ngx_http_inbotpay_update_parser_t  *p;

    p = ctx;

    p->skip--;

    return 1;
}
