
/*
 * libFuzzer harness for ngx_http_inbotpay_parse_command(): the first byte
 * picks the configured bot username (none, or one of a few), the rest is
 * the message text.  Each input is also parsed with no username.
 *
 * Checked: the return code is one of the three documented ones; on NGX_OK
 * the command is 1 to 32 of [A-Za-z0-9_] right after the "/", the
 * arguments lie inside the text with no blank at either end; NGX_ABORT
 * only with a username and an "@" after the command; with no username a
 * command is never NGX_ABORT; and the result for a username does not
 * depend on the case of it.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_inbotpay_crypto.h"
#include "fuzz.h"


static const char  *fuzz_names[] = {
    "", "InBotPayBot", "inbotpaybot", "x",
    "a_very_long_bot_name_for_a_test_bot", "bot@name", "INBOTPAYBOT"
};

#define FUZZ_NNAMES  (sizeof(fuzz_names) / sizeof(fuzz_names[0]))


static ngx_uint_t
fuzz_blank(u_char c)
{
    return c == ' ' || c == '\n' || c == '\t';
}


static ngx_int_t
fuzz_parse(u_char *text, size_t len, const char *name)
{
    size_t      i;
    u_char     *uname;
    ngx_int_t   rc;
    ngx_str_t   t, username, command, args;

    t.data = text;
    t.len = len;

    username.len = strlen(name);
    uname = fuzz_copy((const uint8_t *) name, username.len);
    username.data = uname;

    ngx_str_null(&command);
    ngx_str_null(&args);

    rc = ngx_http_inbotpay_parse_command(&t, &username, &command, &args);

    fuzz_assert(rc == NGX_OK || rc == NGX_DECLINED || rc == NGX_ABORT,
                "unexpected return code");

    if (rc == NGX_OK || rc == NGX_ABORT) {
        fuzz_assert(len > 1 && text[0] == '/', "not a command");
    }

    if (rc == NGX_ABORT) {
        fuzz_assert(username.len > 0, "another bot's command with no name");
        fuzz_assert(memchr(text, '@', len) != NULL, "no @botname");
    }

    if (rc == NGX_OK) {
        fuzz_assert(command.data == text + 1, "command not after the /");
        fuzz_assert(command.len >= 1 && command.len <= 32,
                    "command length");

        for (i = 0; i < command.len; i++) {
            fuzz_assert(isalnum(command.data[i]) || command.data[i] == '_',
                        "command character");
        }

        fuzz_assert(args.data >= text + 1 + command.len
                    && args.data + args.len <= text + len,
                    "args outside the text");

        if (args.len) {
            fuzz_assert(!fuzz_blank(args.data[0])
                        && !fuzz_blank(args.data[args.len - 1]),
                        "args not trimmed");
        }

        /* what follows the command is "@name", a blank or nothing */

        if (1 + command.len < len) {
            fuzz_assert(text[1 + command.len] == '@'
                        || fuzz_blank(text[1 + command.len]),
                        "command followed by something else");
        }
    }

    free(uname);

    return rc;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      *text;
    size_t       i, n;
    ngx_int_t    rc, rc2, rc0;
    ngx_uint_t   pick;
    char         upper[64];
    const char  *name;

    if (size == 0) {
        return 0;
    }

    pick = fuzz_take(&data, &size, 1);
    name = fuzz_names[pick % FUZZ_NNAMES];

    text = fuzz_copy(data, size);

    rc = fuzz_parse(text, size, name);
    rc0 = fuzz_parse(text, size, "");

    /* a configured name only turns an accepted command into NGX_ABORT */

    fuzz_assert(rc == rc0 || (rc == NGX_ABORT && rc0 == NGX_OK),
                "a username changed more than the addressee");

    /* the name is compared without regard to case */

    n = strlen(name);

    for (i = 0; i < n && i < sizeof(upper) - 1; i++) {
        upper[i] = (char) toupper((unsigned char) name[i]);
    }

    upper[i] = '\0';

    rc2 = fuzz_parse(text, size, upper);

    fuzz_assert(rc == rc2, "username compared with case");

    free(text);

    return 0;
}
