
/*
 * Unit tests for the Telegram Update parser.
 *
 *     test_update [FIXTURE_DIR]
 *
 * FIXTURE_DIR defaults to t/fixtures/telegram.  Every fixture there must
 * parse; the ones listed below are checked field by field.  Each body is
 * copied into a buffer of its exact size, and the arena has exactly that
 * size too, so that a sanitizer sees any read or write out of bounds.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_inbotpay_update.h"
#include "unit.h"


#define TEST_DEFAULT_DIR  "t/fixtures/telegram"
#define TEST_MAX_FILES    256
#define TEST_MUTATIONS    400
#define TEST_DEPTH        100000

#define TEST_CHARGE_XTR                                                       \
    "stxn0y46EX9_lFUN76XbDBFQRjR9vbtNHbvlphB_Uel8COuwe_vIL1n-qRDjsP3bAuI3e0"  \
    "we3QZ_y5OromdKTe4Domw1BNw0DWzHjfsYnC_xF9"

/* "Настя 🦊", U+200F, "ليلى", NUL, U+1D538 */
#define TEST_UNICODE_NAME                                                     \
    "\xd0\x9d\xd0\xb0\xd1\x81\xd1\x82\xd1\x8f\x20\xf0\x9f\xa6\x8a"            \
    "\xe2\x80\x8f\xd9\x84\xd9\x8a\xd9\x84\xd9\x89\x00\xf0\x9d\x94\xb8"


typedef struct {
    const char  *name;
    int64_t      update_id;
    ngx_uint_t   kind;
    int64_t      message_id;
    int64_t      chat_id;
    const char  *chat_type;     /* NULL: no chat */
    const char  *text;
    int64_t      from_id;       /* 0: no from */
    const char  *first_name;    /* NULL: checked elsewhere */
    const char  *username;
} test_fixture_t;


typedef struct {
    const char  *json;
    const char  *error;         /* NULL: any error */
} test_bad_t;


static ngx_int_t test_parse(ngx_http_inbotpay_update_t *u, const void *json,
    size_t len);
static ngx_int_t test_parse_str(ngx_http_inbotpay_update_t *u,
    const char *json);
static ngx_uint_t test_in_arena(ngx_http_inbotpay_update_t *u);
static u_char *test_load(const char *dir, const char *name, size_t *len);
static void test_fixture(const char *dir, test_fixture_t *f);
static void test_fixture_details(const char *dir);
static void test_unicode(const char *dir);
static void test_truncated(const char *name, u_char *json, size_t len);
static void test_mutated(const char *name, u_char *json, size_t len);
static void test_all_fixtures(const char *dir);
static void test_bad(void);
static void test_good(void);
static void test_deep(void);
static int test_cmp_names(const void *a, const void *b);


static u_char  *test_arena;
static size_t   test_arena_len;


#define M  NGX_HTTP_INBOTPAY_UPDATE_MESSAGE
#define E  NGX_HTTP_INBOTPAY_UPDATE_EDITED_MESSAGE
#define C  NGX_HTTP_INBOTPAY_UPDATE_CALLBACK_QUERY
#define P  NGX_HTTP_INBOTPAY_UPDATE_PRE_CHECKOUT_QUERY
#define O  NGX_HTTP_INBOTPAY_UPDATE_OTHER

static test_fixture_t  test_fixtures[] = {

    { "balance.json", 731208403, M, 103, 7000000001LL, "private",
      "/balance", 7000000001LL, "Jordan", "jordan_tp_demo" },

    /* the bot's own message: its from and text are not ours */
    { "callback_query.json", 731208412, C, 111, 7000000001LL, "private",
      "", 7000000001LL, "Jordan", "jordan_tp_demo" },

    { "callback_query_inline.json", 731208413, C, 0, 0, NULL,
      "", 1987654320LL, "Kai", "kai_sample" },

    { "channel_post.json", 731208421, O, 0, 0, NULL,
      "", 0, "", "" },

    { "command_with_botname.json", 731208410, M, 20417, -1001234567890LL,
      "supergroup", "/balance@InBotPayDemoBot", 6000000042LL, "Riley",
      "riley_demo_42" },

    { "deposit_cmd.json", 731208404, M, 104, 7000000001LL, "private",
      "/deposit 100", 7000000001LL, "Jordan", "" },

    { "dice.json", 731208420, M, 48211, -1001987654321LL, "supergroup",
      "", 6000000042LL, "Riley", "riley_demo_42" },

    { "edited_message.json", 731208411, E, 110, 1987654320LL, "private",
      "/deposit 250", 1987654320LL, "Kai", "kai_sample" },

    { "help.json", 731208408, M, 108, 612345678, "private",
      "/help", 612345678, "Mira", "mira_demo_77" },

    { "history_cmd.json", 731208407, M, 107, 1987654320LL, "private",
      "/history", 1987654320LL, "Kai", "kai_sample" },

    { "my_chat_member_blocked.json", 731208419, O, 0, 0, NULL,
      "", 0, "", "" },

    { "plain_text.json", 731208409, M, 109, 612345678, "private",
      "hi, how do I top up my balance?", 612345678, "Mira",
      "mira_demo_77" },

    { "pre_checkout_query_fiat.json", 731208415, P, 0, 0, NULL,
      "", 612345678, "Mira", "mira_demo_77" },

    { "pre_checkout_query_xtr.json", 731208414, P, 0, 0, NULL,
      "", 7000000001LL, "Jordan", "" },

    { "refunded_payment_xtr.json", 731208418, M, 114, 7000000001LL,
      "private", "", 7000000001LL, "Jordan", "" },

    { "send_cmd.json", 731208406, M, 106, 7000000001LL, "private",
      "/send @some_user 25", 7000000001LL, "Jordan", "jordan_tp_demo" },

    { "start.json", 731208401, M, 101, 7000000001LL, "private",
      "/start", 7000000001LL, "Jordan", "jordan_tp_demo" },

    { "start_deeplink.json", 731208402, M, 102, 1987654320LL, "private",
      "/start ref_abc", 1987654320LL, "Kai", "kai_sample" },

    { "successful_payment_fiat.json", 731208417, M, 113, 612345678,
      "private", "", 612345678, "Mira", "mira_demo_77" },

    { "successful_payment_xtr.json", 731208416, M, 112, 7000000001LL,
      "private", "", 7000000001LL, "Jordan", "jordan_tp_demo" },

    { "unicode_names.json", 731208422, M, 115, 5550001234LL, "private",
      "/balance", 5550001234LL, NULL, "" },

    { "unknown_fields.json", 731208423, M, 116, 7000000001LL, "private",
      "/balance", 7000000001LL, "Jordan", "jordan_tp_demo" },

    { "withdraw_cmd.json", 731208405, M, 105, 7000000001LL, "private",
      "/withdraw 50", 7000000001LL, "Jordan", "jordan_tp_demo" },

    { NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL, NULL }
};

#undef M
#undef E
#undef C
#undef P
#undef O


static test_bad_t  test_bads[] = {

    { "[]", "body is not a JSON object" },
    { "null", "body is not a JSON object" },
    { "1", "body is not a JSON object" },
    { "\"update_id\"", "body is not a JSON object" },
    { "{}", "Update.update_id is missing" },
    { "{\"message\":{\"text\":\"/start\"}}", "Update.update_id is missing" },
    { "{\"update_id\":\"1\"}", "Update.update_id is not an integer" },
    { "{\"update_id\":1.5}", "Update.update_id is not an integer" },
    { "{\"update_id\":1.0}", "Update.update_id is not an integer" },
    { "{\"update_id\":1e3}", "Update.update_id is not an integer" },
    { "{\"update_id\":null}", "Update.update_id is not an integer" },
    { "{\"update_id\":true}", "Update.update_id is not an integer" },
    { "{\"update_id\":[1]}", "Update.update_id is not an integer" },
    { "{\"update_id\":{}}", "Update.update_id is not an integer" },
    { "{\"update_id\":-1}", "Update.update_id is negative" },
    { "{\"update_id\":99999999999999999999}", NULL },
    { "{\"update_id\":9223372036854775808}", NULL },
    { "{\"update_id\":-99999999999999999999}", NULL },
    { "{\"update_id\":1,\"x\":99999999999999999999}", NULL },
    { "{\"update_id\":1,\"x\":1e999}", NULL },

    { "{\"update_id\":1,\"message\":{\"text\":5}}",
      "Message.text is not a string" },
    { "{\"update_id\":1,\"edited_message\":{\"text\":null}}",
      "Message.text is not a string" },
    { "{\"update_id\":1,\"message\":5}", "Update.message is not an object" },
    { "{\"update_id\":1,\"message\":[]}", "Update.message is not an object" },
    { "{\"update_id\":1,\"message\":{\"from\":[]}}",
      "Message.from is not an object" },
    { "{\"update_id\":1,\"message\":{\"from\":{\"id\":\"x\"}}}",
      "User.id is not an integer" },
    { "{\"update_id\":1,\"message\":{\"from\":{\"is_bot\":\"false\"}}}",
      "User.is_bot is not a boolean" },
    { "{\"update_id\":1,\"message\":{\"chat\":{\"id\":1.0}}}",
      "Chat.id is not an integer" },
    { "{\"update_id\":1,\"message\":{\"chat\":{\"type\":1}}}",
      "Chat.type is not a string" },
    { "{\"update_id\":1,\"message\":{\"message_id\":\"1\"}}",
      "Message.message_id is not an integer" },
    { "{\"update_id\":1,\"message\":{\"successful_payment\":"
      "{\"total_amount\":1.0}}}",
      "SuccessfulPayment.total_amount is not an integer" },
    { "{\"update_id\":1,\"message\":{\"refunded_payment\":"
      "{\"telegram_payment_charge_id\":7}}}",
      "RefundedPayment.telegram_payment_charge_id is not a string" },
    { "{\"update_id\":1,\"callback_query\":{\"id\":5}}",
      "CallbackQuery.id is not a string" },
    { "{\"update_id\":1,\"callback_query\":{\"data\":{}}}",
      "CallbackQuery.data is not a string" },
    { "{\"update_id\":1,\"callback_query\":{\"message\":"
      "{\"chat\":{\"id\":\"1\"}}}}",
      "Chat.id is not an integer" },
    { "{\"update_id\":1,\"pre_checkout_query\":{\"total_amount\":\"100\"}}",
      "PreCheckoutQuery.total_amount is not an integer" },
    { "{\"update_id\":1,\"pre_checkout_query\":{\"from\":true}}",
      "PreCheckoutQuery.from is not an object" },

    { "{\"update_id\":1} x", "body is not valid JSON" },
    { "{\"update_id\":1}{}", "body is not valid JSON" },
    { "{\"update_id\":1},", "body is not valid JSON" },
    { "{\"update_id\":1,}", "body is not valid JSON" },
    { "{\"update_id\":1/* c */}", "body is not valid JSON" },
    { "{'update_id':1}", "body is not valid JSON" },
    { "{update_id:1}", "body is not valid JSON" },
    { "{\"update_id\":01}", "body is not valid JSON" },
    { "{\"update_id\":1,\"message\":{\"text\":\"\\x\"}}",
      "body is not valid JSON" },
    { "{\"update_id\":1,\"message\":{\"text\":\"a\x01\"}}",
      "body is not valid JSON" },
    { "\xef\xbb\xbf{\"update_id\":1}", "body is not valid JSON" },

    /* invalid UTF-8 in a field we read, in a key, in an unknown field */
    { "{\"update_id\":1,\"message\":{\"text\":\"\xff\"}}",
      "body is not valid JSON" },
    { "{\"update_id\":1,\"message\":{\"text\":\"a\x80z\"}}",
      "body is not valid JSON" },
    { "{\"update_id\":1,\"message\":{\"text\":\"\xe2\x82\"}}",
      "body is not valid JSON" },
    { "{\"update_id\":1,\"\xfe\":1}", "body is not valid JSON" },
    { "{\"update_id\":1,\"x\":[\"\xc3\"]}", "body is not valid JSON" },

    { NULL, NULL }
};


int
main(int argc, char **argv)
{
    const char      *dir;
    test_fixture_t  *f;

    dir = (argc > 1) ? argv[1] : TEST_DEFAULT_DIR;

    for (f = test_fixtures; f->name; f++) {
        test_fixture(dir, f);
    }

    test_fixture_details(dir);
    test_unicode(dir);
    test_all_fixtures(dir);
    test_bad();
    test_good();
    test_deep();

    free(test_arena);

    return unit_done();
}


/*
 * Parses a copy of json of its exact size; the strings stay valid in
 * test_arena until the next call.
 */

static ngx_int_t
test_parse(ngx_http_inbotpay_update_t *u, const void *json, size_t len)
{
    u_char     *copy;
    ngx_int_t   rc;

    free(test_arena);

    copy = malloc(len ? len : 1);
    test_arena = malloc(len ? len : 1);
    test_arena_len = len;

    if (copy == NULL || test_arena == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }

    ngx_memcpy(copy, json, len);

    rc = ngx_http_inbotpay_update_parse(u, copy, len, test_arena);

    free(copy);

    return rc;
}


static ngx_int_t
test_parse_str(ngx_http_inbotpay_update_t *u, const char *json)
{
    return test_parse(u, json, ngx_strlen(json));
}


static ngx_uint_t
test_in_arena(ngx_http_inbotpay_update_t *u)
{
    ngx_str_t   *s[16];
    ngx_uint_t   i, n;

    n = 0;
    s[n++] = &u->chat_type;
    s[n++] = &u->text;
    s[n++] = &u->from.first_name;
    s[n++] = &u->from.username;
    s[n++] = &u->successful_payment.currency;
    s[n++] = &u->successful_payment.invoice_payload;
    s[n++] = &u->successful_payment.charge_id;
    s[n++] = &u->refunded_payment.currency;
    s[n++] = &u->refunded_payment.invoice_payload;
    s[n++] = &u->refunded_payment.charge_id;
    s[n++] = &u->query_id;
    s[n++] = &u->data;
    s[n++] = &u->inline_message_id;
    s[n++] = &u->checkout.currency;
    s[n++] = &u->checkout.invoice_payload;

    for (i = 0; i < n; i++) {
        if (s[i]->len == 0) {
            continue;
        }

        if (s[i]->data < test_arena
            || s[i]->len > test_arena_len
            || s[i]->data + s[i]->len > test_arena + test_arena_len)
        {
            return 0;
        }
    }

    return 1;
}


static u_char *
test_load(const char *dir, const char *name, size_t *len)
{
    FILE    *fp;
    long     size;
    u_char  *buf;
    char     path[1024];

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    fp = fopen(path, "rb");
    if (fp == NULL) {
        return NULL;
    }

    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0) {
        fclose(fp);
        return NULL;
    }

    rewind(fp);

    buf = malloc(size ? size : 1);
    if (buf == NULL || fread(buf, 1, size, fp) != (size_t) size) {
        free(buf);
        fclose(fp);
        return NULL;
    }

    fclose(fp);

    *len = size;

    return buf;
}


static void
test_fixture(const char *dir, test_fixture_t *f)
{
    size_t                      len;
    u_char                     *json;
    ngx_int_t                   rc;
    ngx_http_inbotpay_update_t  u;

    json = test_load(dir, f->name, &len);

    if (!unit_ok(json != NULL, "%s: read", f->name)) {
        return;
    }

    rc = test_parse(&u, json, len);
    free(json);

    if (!unit_is_int(rc, NGX_OK, "%s: parses", f->name)) {
        printf("#   error: %s\n", u.error ? u.error : "(none)");
        return;
    }

    unit_is_int(u.update_id, f->update_id, "%s: update_id", f->name);
    unit_is_int(u.kind, f->kind, "%s: kind", f->name);
    unit_is_int(u.message_id, f->message_id, "%s: message_id", f->name);
    unit_is_int(u.chat_id, f->chat_id, "%s: chat.id", f->name);
    unit_is_int(u.has_chat, f->chat_type != NULL, "%s: has_chat", f->name);
    unit_is_str(&u.chat_type, f->chat_type ? f->chat_type : "",
                "%s: chat.type", f->name);
    unit_is_str(&u.text, f->text, "%s: text", f->name);
    unit_is_int(u.from.present, f->from_id != 0, "%s: from present",
                f->name);
    unit_is_int(u.from.id, f->from_id, "%s: from.id", f->name);
    unit_is_int(u.from.is_bot, 0, "%s: from.is_bot", f->name);

    if (f->first_name) {
        unit_is_str(&u.from.first_name, f->first_name,
                    "%s: from.first_name", f->name);
    }

    unit_is_str(&u.from.username, f->username, "%s: from.username",
                f->name);
}


static void
test_fixture_details(const char *dir)
{
    size_t                      len;
    u_char                     *json;
    ngx_int_t                   rc;
    ngx_http_inbotpay_update_t  u;

    json = test_load(dir, "callback_query.json", &len);
    rc = json ? test_parse(&u, json, len) : NGX_ERROR;
    free(json);

    if (unit_is_int(rc, NGX_OK, "callback_query.json: details")) {
        unit_is_str(&u.query_id, "1822470999231616589",
                    "callback_query.json: query_id");
        unit_is_str(&u.data, "dep:100", "callback_query.json: data");
        unit_is_int(u.inline_message_id.len, 0,
                    "callback_query.json: no inline_message_id");
    }

    json = test_load(dir, "callback_query_inline.json", &len);
    rc = json ? test_parse(&u, json, len) : NGX_ERROR;
    free(json);

    if (unit_is_int(rc, NGX_OK, "callback_query_inline.json: details")) {
        unit_is_str(&u.query_id, "5937760149837500548",
                    "callback_query_inline.json: query_id");
        unit_is_str(&u.data, "dep:100", "callback_query_inline.json: data");
        unit_is_str(&u.inline_message_id, "BAAAAv3JRxdJ88FA7ppYtU64-Nn",
                    "callback_query_inline.json: inline_message_id");
    }

    json = test_load(dir, "pre_checkout_query_xtr.json", &len);
    rc = json ? test_parse(&u, json, len) : NGX_ERROR;
    free(json);

    if (unit_is_int(rc, NGX_OK, "pre_checkout_query_xtr.json: details")) {
        unit_is_str(&u.query_id, "854140777148461114",
                    "pre_checkout_query_xtr.json: query_id");
        unit_is_int(u.checkout.present, 1,
                    "pre_checkout_query_xtr.json: checkout present");
        unit_is_str(&u.checkout.currency, "XTR",
                    "pre_checkout_query_xtr.json: currency");
        unit_is_int(u.checkout.total_amount, 100,
                    "pre_checkout_query_xtr.json: total_amount");
        unit_is_str(&u.checkout.invoice_payload, "PAYLOAD",
                    "pre_checkout_query_xtr.json: invoice_payload");
        unit_is_int(u.data.len, 0, "pre_checkout_query_xtr.json: no data");
    }

    json = test_load(dir, "pre_checkout_query_fiat.json", &len);
    rc = json ? test_parse(&u, json, len) : NGX_ERROR;
    free(json);

    if (unit_is_int(rc, NGX_OK, "pre_checkout_query_fiat.json: details")) {
        unit_is_str(&u.query_id, "702168971190420560",
                    "pre_checkout_query_fiat.json: query_id");
        unit_is_str(&u.checkout.currency, "EUR",
                    "pre_checkout_query_fiat.json: currency");
        unit_is_int(u.checkout.total_amount, 2000,
                    "pre_checkout_query_fiat.json: total_amount");
    }

    json = test_load(dir, "successful_payment_xtr.json", &len);
    rc = json ? test_parse(&u, json, len) : NGX_ERROR;
    free(json);

    if (unit_is_int(rc, NGX_OK, "successful_payment_xtr.json: details")) {
        unit_is_int(u.successful_payment.present, 1,
                    "successful_payment_xtr.json: payment present");
        unit_is_str(&u.successful_payment.currency, "XTR",
                    "successful_payment_xtr.json: currency");
        unit_is_int(u.successful_payment.total_amount, 100,
                    "successful_payment_xtr.json: total_amount");
        unit_is_str(&u.successful_payment.invoice_payload, "PAYLOAD",
                    "successful_payment_xtr.json: invoice_payload");
        unit_is_str(&u.successful_payment.charge_id, TEST_CHARGE_XTR,
                    "successful_payment_xtr.json: charge id");
        unit_is_int(u.successful_payment.charge_id.len, 110,
                    "successful_payment_xtr.json: charge id is 110 bytes");
        unit_is_int(u.refunded_payment.present, 0,
                    "successful_payment_xtr.json: no refund");
    }

    json = test_load(dir, "successful_payment_fiat.json", &len);
    rc = json ? test_parse(&u, json, len) : NGX_ERROR;
    free(json);

    if (unit_is_int(rc, NGX_OK, "successful_payment_fiat.json: details")) {
        unit_is_str(&u.successful_payment.currency, "EUR",
                    "successful_payment_fiat.json: currency");
        unit_is_int(u.successful_payment.total_amount, 2000,
                    "successful_payment_fiat.json: total_amount");
        unit_is_str(&u.successful_payment.charge_id,
                    "8012345678_612345678_799429_8442505367316061318",
                    "successful_payment_fiat.json: charge id");
    }

    json = test_load(dir, "refunded_payment_xtr.json", &len);
    rc = json ? test_parse(&u, json, len) : NGX_ERROR;
    free(json);

    if (unit_is_int(rc, NGX_OK, "refunded_payment_xtr.json: details")) {
        unit_is_int(u.refunded_payment.present, 1,
                    "refunded_payment_xtr.json: refund present");
        unit_is_int(u.successful_payment.present, 0,
                    "refunded_payment_xtr.json: no payment");
        unit_is_str(&u.refunded_payment.currency, "XTR",
                    "refunded_payment_xtr.json: currency");
        unit_is_int(u.refunded_payment.total_amount, 100,
                    "refunded_payment_xtr.json: total_amount");
        unit_is_str(&u.refunded_payment.invoice_payload, "PAYLOAD",
                    "refunded_payment_xtr.json: invoice_payload");
        unit_is_str(&u.refunded_payment.charge_id, TEST_CHARGE_XTR,
                    "refunded_payment_xtr.json: charge id");
    }
}


/*
 * unicode_names.json spells one name twice: raw UTF-8 in from.first_name
 * and \u escapes with surrogate pairs in chat.first_name.  The parser does
 * not read chat.first_name, so the escaped form is moved into from.
 */

static void
test_unicode(const char *dir)
{
    size_t                      len, n;
    u_char                     *json, *p, *last, *start, *end;
    ngx_int_t                   rc;
    ngx_http_inbotpay_update_t  u;
    u_char                      buf[1024];

    json = test_load(dir, "unicode_names.json", &len);

    if (!unit_ok(json != NULL, "unicode_names.json: read")) {
        return;
    }

    rc = test_parse(&u, json, len);

    if (unit_is_int(rc, NGX_OK, "unicode_names.json: parses")) {
        unit_is_bytes(&u.from.first_name, TEST_UNICODE_NAME,
                      sizeof(TEST_UNICODE_NAME) - 1,
                      "unicode_names.json: raw from.first_name, with NUL");
    }

    /* the escaped value: the string after the second "first_name" */

    start = NULL;
    end = NULL;
    last = json + len;
    n = 0;

    for (p = json; p + sizeof("\"first_name\"") <= last; p++) {
        if (ngx_strncmp(p, "\"first_name\"", sizeof("\"first_name\"") - 1)
            == 0 && ++n == 2)
        {
            start = memchr(p + sizeof("\"first_name\""), '"',
                           last - p - sizeof("\"first_name\""));
            break;
        }
    }

    if (start) {
        for (p = start + 1; p < last; p++) {
            if (*p == '\\') {
                p++;

            } else if (*p == '"') {
                end = p + 1;
                break;
            }
        }
    }

    if (!unit_ok(end != NULL && (size_t) (end - start) < 900,
                 "unicode_names.json: escaped chat.first_name found"))
    {
        free(json);
        return;
    }

    p = ngx_cpymem(buf, "{\"update_id\":1,\"message\":{\"from\":"
                   "{\"id\":1,\"first_name\":",
                   sizeof("{\"update_id\":1,\"message\":{\"from\":"
                          "{\"id\":1,\"first_name\":") - 1);
    p = ngx_cpymem(p, start, end - start);
    p = ngx_cpymem(p, "}}}", 3);

    free(json);

    rc = test_parse(&u, buf, p - buf);

    if (unit_is_int(rc, NGX_OK, "unicode_names.json: escaped form parses")) {
        unit_is_bytes(&u.from.first_name, TEST_UNICODE_NAME,
                      sizeof(TEST_UNICODE_NAME) - 1,
                      "unicode_names.json: escaped name decodes to the "
                      "same bytes");
    }
}


static void
test_truncated(const char *name, u_char *json, size_t len)
{
    size_t                      n, bad;
    ngx_http_inbotpay_update_t  u;

    while (len && (json[len - 1] == '\n' || json[len - 1] == ' '
                   || json[len - 1] == '\r' || json[len - 1] == '\t'))
    {
        len--;
    }

    bad = 0;

    for (n = 0; n < len; n++) {
        if (test_parse(&u, json, n) != NGX_DECLINED || u.error == NULL) {
            if (bad++ == 0) {
                printf("# first wrong answer at offset %lu\n",
                       (unsigned long) n);
            }
        }
    }

    unit_ok(bad == 0, "%s: declined when cut at each of %lu offsets",
            name, (unsigned long) len);
}


/* random bytes written over a fixture: any answer but a crash will do */

static void
test_mutated(const char *name, u_char *json, size_t len)
{
    u_char                      *copy;
    uint32_t                     seed;
    ngx_int_t                    rc;
    ngx_uint_t                   i, k, n, bad;
    ngx_http_inbotpay_update_t   u;
    static const u_char          special[] = "{}[]\",:\\0-.eu\x80\xff";

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }

    seed = 2463534242u;
    bad = 0;

    for (i = 0; i < TEST_MUTATIONS && len; i++) {
        ngx_memcpy(copy, json, len);

        n = 1 + i % 4;

        for (k = 0; k < n; k++) {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;

            copy[seed % len] = (seed & 0x100)
                               ? special[(seed >> 9) % (sizeof(special) - 1)]
                               : (u_char) (seed >> 24);
        }

        rc = test_parse(&u, copy, len);

        if ((rc == NGX_OK && !test_in_arena(&u))
            || (rc == NGX_DECLINED && u.error == NULL)
            || (rc != NGX_OK && rc != NGX_DECLINED))
        {
            bad++;
        }
    }

    free(copy);

    unit_ok(bad == 0, "%s: %d random corruptions handled", name,
            TEST_MUTATIONS);
}


static void
test_all_fixtures(const char *dir)
{
    DIR                         *d;
    size_t                       len, n;
    u_char                      *json;
    ngx_int_t                    rc;
    ngx_uint_t                   i, found, listed;
    struct dirent               *de;
    test_fixture_t              *f;
    ngx_http_inbotpay_update_t   u;
    char                        *names[TEST_MAX_FILES];

    d = opendir(dir);

    if (!unit_ok(d != NULL, "fixture directory %s opens", dir)) {
        return;
    }

    n = 0;

    while ((de = readdir(d)) != NULL && n < TEST_MAX_FILES) {
        len = ngx_strlen(de->d_name);

        if (len > 5 && ngx_strcmp(de->d_name + len - 5, ".json") == 0) {
            names[n++] = strdup(de->d_name);
        }
    }

    closedir(d);

    qsort(names, n, sizeof(char *), test_cmp_names);

    listed = 0;

    for (f = test_fixtures; f->name; f++) {
        listed++;
    }

    found = 0;

    for (i = 0; i < n; i++) {
        for (f = test_fixtures; f->name; f++) {
            if (ngx_strcmp(f->name, names[i]) == 0) {
                found++;
            }
        }

        json = test_load(dir, names[i], &len);

        if (!unit_ok(json != NULL, "%s: read", names[i])) {
            continue;
        }

        rc = test_parse(&u, json, len);

        if (!unit_is_int(rc, NGX_OK, "%s: parses", names[i])) {
            printf("#   error: %s\n", u.error ? u.error : "(none)");
        }

        unit_ok(rc != NGX_OK || test_in_arena(&u),
                "%s: strings lie in the arena", names[i]);

        test_truncated(names[i], json, len);
        test_mutated(names[i], json, len);

        free(json);
        free(names[i]);
    }

    unit_is_int(found, listed, "every listed fixture is in %s", dir);
}


static void
test_bad(void)
{
    ngx_int_t                   rc;
    test_bad_t                 *b;
    ngx_http_inbotpay_update_t  u;

    rc = test_parse(&u, "", 0);
    unit_ok(rc == NGX_DECLINED && u.error != NULL, "empty body declined");

    for (b = test_bads; b->json; b++) {
        rc = test_parse_str(&u, b->json);

        if (!unit_ok(rc == NGX_DECLINED && u.error != NULL,
                     "declined: %s", b->json))
        {
            continue;
        }

        if (b->error) {
            unit_ok(ngx_strcmp(u.error, b->error) == 0, "error \"%s\"",
                    b->error);

            if (ngx_strcmp(u.error, b->error) != 0) {
                printf("#   got: \"%s\"\n", u.error);
            }
        }
    }
}


static void
test_good(void)
{
    int64_t                     a;
    ngx_int_t                   rc;
    ngx_http_inbotpay_update_t  u;

    rc = test_parse_str(&u, "{\"update_id\":0}");
    unit_is_int(rc, NGX_OK, "update_id 0 parses");
    unit_is_int(u.kind, NGX_HTTP_INBOTPAY_UPDATE_OTHER, "no kind is OTHER");

    rc = test_parse_str(&u, " \t\r\n{\"update_id\":9223372036854775807} \n");
    unit_is_int(rc, NGX_OK, "largest update_id, whitespace around");
    unit_is_int(u.update_id, INT64_MAX, "update_id is INT64_MAX");

    /* two players whose ids differ by 2^32 */

    rc = test_parse_str(&u, "{\"update_id\":1,\"message\":{\"from\":"
                            "{\"id\":5},\"chat\":{\"id\":-5}}}");
    unit_is_int(rc, NGX_OK, "player 5 parses");
    a = u.from.id;
    unit_is_int(u.chat_id, -5, "chat -5");

    rc = test_parse_str(&u, "{\"update_id\":1,\"message\":{\"from\":"
                            "{\"id\":4294967301},"
                            "\"chat\":{\"id\":-4294967301}}}");
    unit_is_int(rc, NGX_OK, "player 4294967301 parses");
    unit_is_int(u.from.id, 4294967301LL, "from.id 4294967301");
    unit_is_int(u.chat_id, -4294967301LL, "chat -4294967301");
    unit_ok(a == 5 && u.from.id != a, "ids 2^32 apart stay apart");

    /* duplicate keys: the last one wins, an object replaces an object */

    rc = test_parse_str(&u, "{\"update_id\":1,\"update_id\":2,"
                            "\"message\":{\"text\":\"a\",\"text\":\"b\","
                            "\"from\":{\"id\":1,\"username\":\"x\"},"
                            "\"from\":{\"id\":2}}}");
    unit_is_int(rc, NGX_OK, "duplicate keys parse");
    unit_is_int(u.update_id, 2, "last update_id wins");
    unit_is_str(&u.text, "b", "last text wins");
    unit_is_int(u.from.id, 2, "last from wins");
    unit_is_int(u.from.username.len, 0, "last from replaces the first");

    rc = test_parse_str(&u, "{\"message\":{\"text\":\"a\",\"message_id\":3},"
                            "\"update_id\":4,\"message\":{\"text\":\"c\"}}");
    unit_is_int(rc, NGX_OK, "duplicate message parses");
    unit_is_int(u.update_id, 4, "update_id kept across messages");
    unit_is_str(&u.text, "c", "last message wins");
    unit_is_int(u.message_id, 0, "last message replaces the first");

    /* the first kind found wins; later kinds are not read at all */

    rc = test_parse_str(&u, "{\"update_id\":1,\"callback_query\":"
                            "{\"id\":\"q\"},\"message\":{\"text\":\"x\"},"
                            "\"pre_checkout_query\":5}");
    unit_is_int(rc, NGX_OK, "two kinds parse");
    unit_is_int(u.kind, NGX_HTTP_INBOTPAY_UPDATE_CALLBACK_QUERY,
                "first kind wins");
    unit_is_str(&u.query_id, "q", "query id of the first kind");
    unit_is_int(u.text.len, 0, "second kind not read");

    rc = test_parse_str(&u, "{\"edited_message\":{\"text\":\"e\"},"
                            "\"message\":{\"text\":5},\"update_id\":7}");
    unit_is_int(rc, NGX_OK, "edited_message before message");
    unit_is_int(u.kind, NGX_HTTP_INBOTPAY_UPDATE_EDITED_MESSAGE,
                "edited_message kind");
    unit_is_str(&u.text, "e", "edited text");

    /* wrong types in fields we do not read are ignored */

    rc = test_parse_str(&u, "{\"update_id\":1,\"channel_post\":"
                            "{\"text\":5,\"chat\":[]},\"message\":{\"date\":"
                            "\"x\",\"entities\":5,\"chat\":{\"title\":5,"
                            "\"id\":9},\"from\":{\"last_name\":[1]}},"
                            "\"edited_message\":null}");
    unit_is_int(rc, NGX_OK, "wrong types in unread fields ignored");
    unit_is_int(u.chat_id, 9, "chat.id read among them");

    rc = test_parse_str(&u, "{\"update_id\":1,\"callback_query\":"
                            "{\"message\":{\"text\":5,\"from\":[],"
                            "\"message_id\":8}}}");
    unit_is_int(rc, NGX_OK, "callback message text and from not read");
    unit_is_int(u.message_id, 8, "callback message_id");
    unit_is_int(u.from.present, 0, "callback message from ignored");

    rc = test_parse_str(&u, "{\"update_id\":1,\"channel_post\":{\"text\":5}}");
    unit_is_int(rc, NGX_OK, "channel_post with odd text parses");
    unit_is_int(u.kind, NGX_HTTP_INBOTPAY_UPDATE_OTHER, "channel_post OTHER");

    /* strings: NUL, escapes, escaped keys, lone surrogates */

    rc = test_parse_str(&u, "{\"update_id\":1,\"message\":"
                            "{\"t\\u0065xt\":\"a\\u0000b\\n\\\"\\/\"}}");
    unit_is_int(rc, NGX_OK, "escaped key and value parse");
    unit_is_bytes(&u.text, "a\0b\n\"/", 6, "text with NUL decoded");

    rc = test_parse_str(&u, "{\"update_id\":1,\"message\":"
                            "{\"text\":\"\\ud800\\udc00\\ud800\"}}");
    unit_is_int(rc, NGX_OK, "lone surrogate parses");
    unit_ok(u.text.len <= 18, "lone surrogate fits its encoding");

    /* a lone low surrogate decodes to bytes that are not UTF-8 */

    rc = test_parse_str(&u, "{\"update_id\":1,\"message\":{\"from\":"
                            "{\"id\":1,\"first_name\":\"a\\udc00b\"}}}");
    unit_is_int(rc, NGX_OK, "lone low surrogate in a name parses");
    unit_is_str(&u.from.first_name, "a???b",
                "lone low surrogate becomes one ? a byte");

    rc = test_parse_str(&u, "{\"update_id\":1,\"message\":{\"from\":"
                            "{\"id\":1,\"first_name\":"
                            "\"\\ud83e\\udd8a\\u00e9\"}}}");
    unit_is_int(rc, NGX_OK, "a pair and a two-byte character parse");
    unit_is_str(&u.from.first_name, "\xf0\x9f\xa6\x8a\xc3\xa9",
                "valid UTF-8 is kept as it is");

    rc = test_parse_str(&u, "{\"update_id\":1,\"message\":{\"text\":\"\"}}");
    unit_is_int(rc, NGX_OK, "empty text parses");
    unit_is_int(u.text.len, 0, "empty text");

    rc = test_parse_str(&u, "{\"update_id\":1,\"message\":{\"from\":"
                            "{\"is_bot\":true,\"id\":8012345678}}}");
    unit_is_int(rc, NGX_OK, "bot user parses");
    unit_is_int(u.from.is_bot, 1, "is_bot true");
}


static void
test_deep(void)
{
    size_t                       n;
    u_char                      *buf, *p;
    ngx_int_t                    rc;
    ngx_http_inbotpay_update_t   u;
    static const char            head[] = "{\"update_id\":1,\"message\":"
                                          "{\"x\":";
    static const char            tail[] = ",\"text\":\"deep\"}}";

    buf = malloc(sizeof(head) + 6 * TEST_DEPTH + sizeof(tail));
    if (buf == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }

    /* arrays under an unknown key */

    p = ngx_cpymem(buf, head, sizeof(head) - 1);
    ngx_memset(p, '[', TEST_DEPTH);
    p += TEST_DEPTH;
    ngx_memset(p, ']', TEST_DEPTH);
    p += TEST_DEPTH;
    p = ngx_cpymem(p, tail, sizeof(tail) - 1);

    rc = test_parse(&u, buf, p - buf);
    unit_is_int(rc, NGX_OK, "%d nested arrays under an unknown key",
                TEST_DEPTH);
    unit_is_str(&u.text, "deep", "text after the nested arrays");

    rc = test_parse(&u, buf, sizeof(head) - 1 + TEST_DEPTH);
    unit_is_int(rc, NGX_DECLINED, "%d unclosed arrays declined",
                TEST_DEPTH);

    /* objects under an unknown key */

    p = ngx_cpymem(buf, head, sizeof(head) - 1);

    for (n = 0; n < TEST_DEPTH; n++) {
        p = ngx_cpymem(p, "{\"a\":", 5);
    }

    *p++ = '1';
    ngx_memset(p, '}', TEST_DEPTH);
    p += TEST_DEPTH;
    p = ngx_cpymem(p, tail, sizeof(tail) - 1);

    rc = test_parse(&u, buf, p - buf);
    unit_is_int(rc, NGX_OK, "%d nested objects under an unknown key",
                TEST_DEPTH);
    unit_is_str(&u.text, "deep", "text after the nested objects");

    /* nesting where the body should be */

    ngx_memset(buf, '[', TEST_DEPTH);
    rc = test_parse(&u, buf, TEST_DEPTH);
    unit_is_int(rc, NGX_DECLINED, "%d nested arrays as the body declined",
                TEST_DEPTH);

    free(buf);
}


static int
test_cmp_names(const void *a, const void *b)
{
    return ngx_strcmp(*(char **) a, *(char **) b);
}
