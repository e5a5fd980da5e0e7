/* A growable string for the builder's text handling (internal). Sizes are
 * capped so hostile input cannot make a buffer grow without bound. */
#ifndef ISOLA_BUILD_STRBUF_H
#define ISOLA_BUILD_STRBUF_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct strbuf {
        char *s;
        size_t len, cap;
        bool oom; /* an append failed or passed the cap */
};

#define STRBUF_CAP (8u << 20)

static inline void sb_putn(struct strbuf *b, const char *p, size_t n)
{
        if (b->oom || !n)
                return;
        if (b->len + n + 1 > STRBUF_CAP) {
                b->oom = true;
                return;
        }
        if (!b->s || b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 64;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *s = realloc(b->s, cap);
                if (!s) {
                        b->oom = true;
                        return;
                }
                b->s = s;
                b->cap = cap;
        }
        memcpy(b->s + b->len, p, n);
        b->len += n;
        b->s[b->len] = '\0';
}

static inline void sb_puts(struct strbuf *b, const char *s)
{
        sb_putn(b, s, strlen(s));
}

static inline void sb_putc(struct strbuf *b, char c)
{
        sb_putn(b, &c, 1);
}

/* The string (heap, "" when nothing was added) or NULL after a failure;
 * the buffer is left empty either way. */
static inline char *sb_take(struct strbuf *b)
{
        char *s = b->s;
        if (b->oom) {
                free(s);
                s = NULL;
        } else if (!s) {
                s = strdup("");
        }
        b->s = NULL;
        b->len = b->cap = 0;
        b->oom = false;
        return s;
}

static inline void sb_free(struct strbuf *b)
{
        free(b->s);
        b->s = NULL;
        b->len = b->cap = 0;
}

#endif
