
/*
 * Shared by the libFuzzer harnesses in t/fuzz/: a check that aborts with a
 * message (so that libFuzzer records the input as a crash), and an exact
 * size copy of a part of the input, so that ASan sees any access past it.
 */


#ifndef _FUZZ_H_INCLUDED_
#define _FUZZ_H_INCLUDED_


#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define fuzz_assert(cond, msg)                                                \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz: %s:%d: %s (%s)\n", __FILE__, __LINE__,    \
                    msg, #cond);                                              \
            abort();                                                          \
        }                                                                     \
    } while (0)


/* a malloc()ed copy of exactly len bytes; never NULL, even for len 0 */

static inline u_char *
fuzz_copy(const uint8_t *data, size_t len)
{
    u_char  *p;

    p = malloc(len ? len : 1);
    if (p == NULL) {
        abort();
    }

    if (len) {
        memcpy(p, data, len);
    }

    return p;
}


/* takes n bytes from the front of the input, as a little-endian number */

static inline uint64_t
fuzz_take(const uint8_t **data, size_t *len, size_t n)
{
    uint64_t  v;
    size_t    i;

    v = 0;

    for (i = 0; i < n && *len; i++) {
        v |= (uint64_t) **data << (8 * i);
        (*data)++;
        (*len)--;
    }

    return v;
}


#endif /* _FUZZ_H_INCLUDED_ */
