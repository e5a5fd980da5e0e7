/* State buffers for snapshots (see state.h). */
#include "devices/state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void dstate_w_bytes(struct dstate_w *w, const void *p, size_t n)
{
        if (w->oom)
                return;
        if (n > w->cap - w->len) {
                size_t cap = w->cap ? w->cap : 256;
                while (cap - w->len < n) {
                        if (cap > SIZE_MAX / 2) {
                                w->oom = true;
                                return;
                        }
                        cap *= 2;
                }
                uint8_t *b = realloc(w->buf, cap);
                if (!b) {
                        w->oom = true;
                        return;
                }
                w->buf = b;
                w->cap = cap;
        }
        if (n)
                memcpy(w->buf + w->len, p, n);
        w->len += n;
}

/* x86 only: the host is little-endian, so fields are copied as they are. */
void dstate_w_u8(struct dstate_w *w, uint8_t v)
{
        dstate_w_bytes(w, &v, 1);
}

void dstate_w_u16(struct dstate_w *w, uint16_t v)
{
        dstate_w_bytes(w, &v, 2);
}

void dstate_w_u32(struct dstate_w *w, uint32_t v)
{
        dstate_w_bytes(w, &v, 4);
}

void dstate_w_u64(struct dstate_w *w, uint64_t v)
{
        dstate_w_bytes(w, &v, 8);
}

void dstate_w_free(struct dstate_w *w)
{
        free(w->buf);
        *w = (struct dstate_w){0};
}

void dstate_r_init(struct dstate_r *r, const char *name, const void *p, size_t len)
{
        *r = (struct dstate_r){.p = p, .len = len, .name = name};
}

void dstate_r_bytes(struct dstate_r *r, void *p, size_t n)
{
        if (r->bad || n > r->len - r->pos) {
                r->bad = true;
                memset(p, 0, n);
                return;
        }
        memcpy(p, r->p + r->pos, n);
        r->pos += n;
}

uint8_t dstate_r_u8(struct dstate_r *r)
{
        uint8_t v;
        dstate_r_bytes(r, &v, 1);
        return v;
}

uint16_t dstate_r_u16(struct dstate_r *r)
{
        uint16_t v;
        dstate_r_bytes(r, &v, 2);
        return v;
}

uint32_t dstate_r_u32(struct dstate_r *r)
{
        uint32_t v;
        dstate_r_bytes(r, &v, 4);
        return v;
}

uint64_t dstate_r_u64(struct dstate_r *r)
{
        uint64_t v;
        dstate_r_bytes(r, &v, 8);
        return v;
}

bool dstate_r_bool(struct dstate_r *r)
{
        return dstate_r_max(r, 1) != 0;
}

uint32_t dstate_r_max(struct dstate_r *r, uint32_t max)
{
        uint32_t v = dstate_r_u32(r);
        if (v > max) {
                r->bad = true;
                return 0;
        }
        return v;
}

int dstate_r_end(struct dstate_r *r, struct isola_err *err)
{
        if (r->bad)
                return err_set(err, EINVAL, "snapshot section '%s': truncated or out of range",
                               r->name);
        if (r->pos != r->len)
                return err_set(err, EINVAL, "snapshot section '%s': %zu unexpected trailing bytes",
                               r->name, r->len - r->pos);
        return 0;
}

void dstate_w_bool(struct dstate_w *w, bool v)
{
        dstate_w_u32(w, v ? 1 : 0);
}
