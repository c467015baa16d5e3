
/*
 * Checks for the C unit tests.  Each check prints "ok N - description" or
 * "not ok N - description" with what was got and what was expected;
 * unit_done() prints "N passed, M failed" and gives the exit status.
 * Include it after ngx_config.h and ngx_core.h.
 */


#ifndef _UNIT_H_INCLUDED_
#define _UNIT_H_INCLUDED_


#include <stdarg.h>
#include <stdio.h>


static ngx_uint_t  unit_passed;
static ngx_uint_t  unit_failed;


static ngx_inline ngx_uint_t
unit_vok(ngx_uint_t pass, const char *fmt, va_list args)
{
    printf("%sok %lu - ", pass ? "" : "not ",
           (unsigned long) (unit_passed + unit_failed + 1));
    vprintf(fmt, args);
    printf("\n");

    if (pass) {
        unit_passed++;

    } else {
        unit_failed++;
    }

    return pass;
}


static ngx_inline ngx_uint_t
unit_ok(ngx_uint_t pass, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    pass = unit_vok(pass, fmt, args);
    va_end(args);

    return pass;
}


static ngx_inline void
unit_diag_bytes(const char *what, const u_char *p, size_t len)
{
    size_t  i;

    printf("#   %s: \"", what);

    for (i = 0; i < len; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
            putchar(p[i]);

        } else {
            printf("\\x%02x", p[i]);
        }
    }

    printf("\" (%lu bytes)\n", (unsigned long) len);
}


static ngx_inline ngx_uint_t
unit_is_int(int64_t got, int64_t expected, const char *fmt, ...)
{
    va_list     args;
    ngx_uint_t  pass;

    va_start(args, fmt);
    pass = unit_vok(got == expected, fmt, args);
    va_end(args);

    if (!pass) {
        printf("#   got: %lld\n#   expected: %lld\n",
               (long long) got, (long long) expected);
    }

    return pass;
}


/* compares exact bytes: "expected" may hold NUL bytes, len gives its size */

static ngx_inline ngx_uint_t
unit_is_bytes(ngx_str_t *got, const char *expected, size_t len,
    const char *fmt, ...)
{
    va_list     args;
    ngx_uint_t  pass;

    pass = (got->len == len
            && (len == 0 || ngx_memcmp(got->data, expected, len) == 0));

    va_start(args, fmt);
    pass = unit_vok(pass, fmt, args);
    va_end(args);

    if (!pass) {
        unit_diag_bytes("got", got->data, got->len);
        unit_diag_bytes("expected", (u_char *) expected, len);
    }

    return pass;
}


#define unit_is_str(got, expected, ...)                                       \
    unit_is_bytes(got, expected, ngx_strlen(expected), __VA_ARGS__)


static ngx_inline int
unit_done(void)
{
    printf("%lu passed, %lu failed\n",
           (unsigned long) unit_passed, (unsigned long) unit_failed);

    return unit_failed ? 1 : 0;
}


#endif /* _UNIT_H_INCLUDED_ */
