
/*
 * Copyright (C) 2026 InBotPay contributors
 *
 * Metrics: counters in a shared memory zone, so that they add up over all
 * workers and outlive a reload, and the inbotpay_status handler that
 * prints them in the Prometheus text format.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <time.h>

#include "ngx_http_inbotpay.h"


#define NGX_HTTP_INBOTPAY_CODES      10
#define NGX_HTTP_INBOTPAY_ENDPOINTS  9
#define NGX_HTTP_INBOTPAY_BUCKETS    12
#define NGX_HTTP_INBOTPAY_METHODS    5
#define NGX_HTTP_INBOTPAY_SHM_SIZE   (64 * 1024)


typedef struct {
    ngx_atomic_t    updates[NGX_HTTP_INBOTPAY_METRIC_KINDS]
                           [NGX_HTTP_INBOTPAY_CODES];
    ngx_atomic_t    api[NGX_HTTP_INBOTPAY_ENDPOINTS][NGX_HTTP_INBOTPAY_CODES];
    ngx_atomic_t    money[NGX_HTTP_INBOTPAY_MONEY_KINDS]
                         [NGX_HTTP_INBOTPAY_OUTCOMES];
    ngx_atomic_t    moved[NGX_HTTP_INBOTPAY_MONEY_KINDS];
    ngx_atomic_t    latency[NGX_HTTP_INBOTPAY_BUCKETS];
    ngx_atomic_t    latency_usec;
    ngx_atomic_t    latency_count;
    ngx_atomic_t    connections;
    ngx_atomic_t    redis_errors[3];
    ngx_atomic_t    botapi[NGX_HTTP_INBOTPAY_METHODS][3];
} ngx_http_inbotpay_metrics_t;


static ngx_int_t ngx_http_inbotpay_status_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_int_t ngx_http_inbotpay_status_log(ngx_http_request_t *r);
static ngx_uint_t ngx_http_inbotpay_status_code(ngx_uint_t status);


static ngx_http_inbotpay_metrics_t  *ngx_http_inbotpay_metrics;


static ngx_uint_t  ngx_http_inbotpay_codes[NGX_HTTP_INBOTPAY_CODES] = {
    200, 400, 401, 404, 405, 409, 413, 500, 503, 0
};

static char  *ngx_http_inbotpay_code_names[NGX_HTTP_INBOTPAY_CODES] = {
    "200", "400", "401", "404", "405", "409", "413", "500", "503", "other"
};

static char  *ngx_http_inbotpay_kinds[NGX_HTTP_INBOTPAY_METRIC_KINDS] = {
    "other", "message", "edited_message", "callback_query",
    "pre_checkout_query", "invalid", "unauthorized"
};

static char  *ngx_http_inbotpay_endpoints[NGX_HTTP_INBOTPAY_ENDPOINTS] = {
    "balance", "bet", "win", "rollback", "adjust", "withdrawals", "settle",
    "ledger", "unknown"
};

static char  *ngx_http_inbotpay_money[NGX_HTTP_INBOTPAY_MONEY_KINDS] = {
    "deposit", "withdrawal", "settle", "transfer", "refund", "bet", "win",
    "rollback", "adjust"
};

static char  *ngx_http_inbotpay_outcomes[NGX_HTTP_INBOTPAY_OUTCOMES] = {
    "ok", "repeat", "refused", "error"
};

static char  *ngx_http_inbotpay_redis_errors[3] = {
    "timeout", "disconnect", "connect"
};

static char  *ngx_http_inbotpay_methods[NGX_HTTP_INBOTPAY_METHODS] = {
    "sendMessage", "sendInvoice", "answerCallbackQuery",
    "answerPreCheckoutQuery", "other"
};

static char  *ngx_http_inbotpay_call_outcomes[3] = {
    "ok", "error", "reply"
};

/* upper bounds of the latency buckets, in microseconds and as printed */

static uint64_t  ngx_http_inbotpay_bucket_usec[NGX_HTTP_INBOTPAY_BUCKETS] = {
    250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
    1000000, (uint64_t) -1
};

static char  *ngx_http_inbotpay_bucket_le[NGX_HTTP_INBOTPAY_BUCKETS] = {
    "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05", "0.1", "0.25", "1", "+Inf"
};


/*
 * The zone is created for every configuration that loads the module; a
 * reload finds the old one and keeps counting in it.
 */

ngx_int_t
ngx_http_inbotpay_status_init(ngx_conf_t *cf)
{
    ngx_str_t                   name;
    ngx_shm_zone_t             *zone;
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    ngx_str_set(&name, "inbotpay_metrics");

    zone = ngx_shared_memory_add(cf, &name, NGX_HTTP_INBOTPAY_SHM_SIZE,
                                 &ngx_http_inbotpay_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_inbotpay_status_zone;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_inbotpay_status_log;

    return NGX_OK;
}


static ngx_int_t
ngx_http_inbotpay_status_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    if (data) {
        zone->data = data;
        ngx_http_inbotpay_metrics = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    ngx_http_inbotpay_metrics = ngx_slab_calloc(shpool,
                                          sizeof(ngx_http_inbotpay_metrics_t));
    if (ngx_http_inbotpay_metrics == NULL) {
        return NGX_ERROR;
    }

    zone->data = ngx_http_inbotpay_metrics;

    return NGX_OK;
}


/* counts each webhook update and API request with the status it got */

static ngx_int_t
ngx_http_inbotpay_status_log(ngx_http_request_t *r)
{
    ngx_uint_t                code;
    ngx_http_inbotpay_ctx_t  *ctx;

    if (r != r->main || ngx_http_inbotpay_metrics == NULL) {
        return NGX_OK;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_inbotpay_module);
    if (ctx == NULL) {
        return NGX_OK;
    }

    code = ngx_http_inbotpay_status_code(r->headers_out.status);

    if (ctx->api) {
        if (ctx->metric < NGX_HTTP_INBOTPAY_ENDPOINTS) {
            (void) ngx_atomic_fetch_add(
                       &ngx_http_inbotpay_metrics->api[ctx->metric][code], 1);
        }

    } else if (ctx->metric < NGX_HTTP_INBOTPAY_METRIC_KINDS) {
        (void) ngx_atomic_fetch_add(
                   &ngx_http_inbotpay_metrics->updates[ctx->metric][code], 1);
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_inbotpay_status_code(ngx_uint_t status)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_INBOTPAY_CODES - 1; i++) {
        if (ngx_http_inbotpay_codes[i] == status) {
            return i;
        }
    }

    return NGX_HTTP_INBOTPAY_CODES - 1;
}


void
ngx_http_inbotpay_count_money(ngx_uint_t kind, ngx_uint_t outcome,
    int64_t amount)
{
    if (ngx_http_inbotpay_metrics == NULL
        || kind >= NGX_HTTP_INBOTPAY_MONEY_KINDS)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(
               &ngx_http_inbotpay_metrics->money[kind][outcome], 1);

    if (outcome == NGX_HTTP_INBOTPAY_OUTCOME_OK && amount) {
        (void) ngx_atomic_fetch_add(&ngx_http_inbotpay_metrics->moved[kind],
                                    (ngx_atomic_int_t) (amount < 0 ? -amount
                                                                   : amount));
    }
}


/* the same, from a script's outcome word and amount */

void
ngx_http_inbotpay_count_money_str(ngx_uint_t kind, ngx_str_t *outcome,
    ngx_str_t *amount)
{
    int64_t     n;
    ngx_uint_t  o;

    if (outcome->len == 2 && ngx_strncmp(outcome->data, "ok", 2) == 0) {
        o = NGX_HTTP_INBOTPAY_OUTCOME_OK;

    } else if (outcome->len == 7
               && ngx_strncmp(outcome->data, "refused", 7) == 0)
    {
        o = NGX_HTTP_INBOTPAY_OUTCOME_REFUSED;

    } else {
        o = NGX_HTTP_INBOTPAY_OUTCOME_REPEAT;
    }

    if (amount == NULL
        || ngx_http_inbotpay_parse_amount(amount->data, amount->len,
                                          NGX_HTTP_INBOTPAY_AMOUNT_MAX, &n)
           != NGX_OK)
    {
        n = 0;
    }

    ngx_http_inbotpay_count_money(kind, o, n);
}


void
ngx_http_inbotpay_count_redis(uint64_t usec)
{
    ngx_uint_t  i;

    if (ngx_http_inbotpay_metrics == NULL) {
        return;
    }

    for (i = 0; usec > ngx_http_inbotpay_bucket_usec[i]; i++) {
        /* void */
    }

    (void) ngx_atomic_fetch_add(&ngx_http_inbotpay_metrics->latency[i], 1);
    (void) ngx_atomic_fetch_add(&ngx_http_inbotpay_metrics->latency_usec,
                                (ngx_atomic_int_t) usec);
    (void) ngx_atomic_fetch_add(&ngx_http_inbotpay_metrics->latency_count, 1);
}


void
ngx_http_inbotpay_count_redis_error(ngx_uint_t kind)
{
    if (ngx_http_inbotpay_metrics) {
        (void) ngx_atomic_fetch_add(
                   &ngx_http_inbotpay_metrics->redis_errors[kind], 1);
    }
}


void
ngx_http_inbotpay_count_connection(ngx_int_t delta)
{
    if (ngx_http_inbotpay_metrics) {
        (void) ngx_atomic_fetch_add(&ngx_http_inbotpay_metrics->connections,
                                    (ngx_atomic_int_t) delta);
    }
}


/* "reply" counts a call made in the webhook reply, whose result is unknown */

void
ngx_http_inbotpay_count_botapi(char *method, ngx_uint_t ok, ngx_uint_t reply)
{
    ngx_uint_t  i;

    if (ngx_http_inbotpay_metrics == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_INBOTPAY_METHODS - 1; i++) {
        if (ngx_strcmp(method, ngx_http_inbotpay_methods[i]) == 0) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(
               &ngx_http_inbotpay_metrics->botapi[i][reply ? 2 : (ok ? 0 : 1)],
               1);
}


uint64_t
ngx_http_inbotpay_usec(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


ngx_int_t
ngx_http_inbotpay_status_handler(ngx_http_request_t *r)
{
    u_char                       *p, *last;
    size_t                        size;
    uint64_t                      sum;
    ngx_int_t                     rc;
    ngx_buf_t                    *b;
    ngx_uint_t                    i, j;
    ngx_http_inbotpay_metrics_t  *m;

    if (r->method != NGX_HTTP_GET && r->method != NGX_HTTP_HEAD) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    m = ngx_http_inbotpay_metrics;

    if (m == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    size = 64 * 1024;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->pos;
    last = b->end;

    p = ngx_slprintf(p, last,
            "# HELP inbotpay_updates_total Telegram updates by kind and "
            "HTTP status answered.\n"
            "# TYPE inbotpay_updates_total counter\n");

    for (i = 0; i < NGX_HTTP_INBOTPAY_METRIC_KINDS; i++) {
        for (j = 0; j < NGX_HTTP_INBOTPAY_CODES; j++) {
            if (m->updates[i][j]) {
                p = ngx_slprintf(p, last,
                        "inbotpay_updates_total{kind=\"%s\",code=\"%s\"} "
                        "%uA\n", ngx_http_inbotpay_kinds[i],
                        ngx_http_inbotpay_code_names[j], m->updates[i][j]);
            }
        }
    }

    p = ngx_slprintf(p, last,
            "# HELP inbotpay_api_requests_total Backend API requests by "
            "endpoint and HTTP status answered.\n"
            "# TYPE inbotpay_api_requests_total counter\n");

    for (i = 0; i < NGX_HTTP_INBOTPAY_ENDPOINTS; i++) {
        for (j = 0; j < NGX_HTTP_INBOTPAY_CODES; j++) {
            if (m->api[i][j]) {
                p = ngx_slprintf(p, last,
                        "inbotpay_api_requests_total{endpoint=\"%s\","
                        "code=\"%s\"} %uA\n", ngx_http_inbotpay_endpoints[i],
                        ngx_http_inbotpay_code_names[j], m->api[i][j]);
            }
        }
    }

    p = ngx_slprintf(p, last,
            "# HELP inbotpay_money_operations_total Money operations by "
            "kind and outcome.\n"
            "# TYPE inbotpay_money_operations_total counter\n");

    for (i = 0; i < NGX_HTTP_INBOTPAY_MONEY_KINDS; i++) {
        for (j = 0; j < NGX_HTTP_INBOTPAY_OUTCOMES; j++) {
            p = ngx_slprintf(p, last,
                    "inbotpay_money_operations_total{kind=\"%s\","
                    "outcome=\"%s\"} %uA\n", ngx_http_inbotpay_money[i],
                    ngx_http_inbotpay_outcomes[j], m->money[i][j]);
        }
    }

    p = ngx_slprintf(p, last,
            "# HELP inbotpay_money_moved_total Money moved by kind, in the "
            "currency's minor units.\n"
            "# TYPE inbotpay_money_moved_total counter\n");

    for (i = 0; i < NGX_HTTP_INBOTPAY_MONEY_KINDS; i++) {
        p = ngx_slprintf(p, last,
                         "inbotpay_money_moved_total{kind=\"%s\"} %uA\n",
                         ngx_http_inbotpay_money[i], m->moved[i]);
    }

    p = ngx_slprintf(p, last,
            "# HELP inbotpay_redis_latency_seconds Redis round trips.\n"
            "# TYPE inbotpay_redis_latency_seconds histogram\n");

    for (i = 0, sum = 0; i < NGX_HTTP_INBOTPAY_BUCKETS; i++) {
        sum += m->latency[i];
        p = ngx_slprintf(p, last,
                "inbotpay_redis_latency_seconds_bucket{le=\"%s\"} %uL\n",
                ngx_http_inbotpay_bucket_le[i], sum);
    }

    p = ngx_slprintf(p, last,
            "inbotpay_redis_latency_seconds_sum %uA.%06uA\n"
            "inbotpay_redis_latency_seconds_count %uA\n",
            m->latency_usec / 1000000, m->latency_usec % 1000000,
            m->latency_count);

    p = ngx_slprintf(p, last,
            "# HELP inbotpay_redis_connections Workers connected to Redis.\n"
            "# TYPE inbotpay_redis_connections gauge\n"
            "inbotpay_redis_connections %uA\n"
            "# HELP inbotpay_redis_errors_total Redis failures by kind.\n"
            "# TYPE inbotpay_redis_errors_total counter\n",
            m->connections);

    for (i = 0; i < 3; i++) {
        p = ngx_slprintf(p, last,
                         "inbotpay_redis_errors_total{kind=\"%s\"} %uA\n",
                         ngx_http_inbotpay_redis_errors[i],
                         m->redis_errors[i]);
    }

    p = ngx_slprintf(p, last,
            "# HELP inbotpay_botapi_calls_total Bot API calls by method and "
            "outcome (reply: carried by a webhook reply).\n"
            "# TYPE inbotpay_botapi_calls_total counter\n");

    for (i = 0; i < NGX_HTTP_INBOTPAY_METHODS; i++) {
        for (j = 0; j < 3; j++) {
            if (m->botapi[i][j]) {
                p = ngx_slprintf(p, last,
                        "inbotpay_botapi_calls_total{method=\"%s\","
                        "outcome=\"%s\"} %uA\n", ngx_http_inbotpay_methods[i],
                        ngx_http_inbotpay_call_outcomes[j], m->botapi[i][j]);
            }
        }
    }

    return ngx_http_inbotpay_send(r, NGX_HTTP_OK,
                                  "text/plain; version=0.0.4", b->pos,
                                  p - b->pos);
}
