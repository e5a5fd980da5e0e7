/* Device and vCPU state for snapshots and migration: a growable byte buffer
 * that state savers append little-endian fields to, and a bounded reader that
 * loaders take them back from. Every device saves field by field (no struct
 * dumps), so padding and layout changes cannot leak into the format; each
 * section carries its own version (docs/snapshots.md).
 *
 * The reader never reads past its end: a short or garbled section sets `bad`
 * and returns zeros, and dstate_r_end() turns that into an error naming the
 * section, which is what a corrupt file is refused with. */
#ifndef ISOLA_DEVICES_STATE_H
#define ISOLA_DEVICES_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct dstate_w {
        uint8_t *buf;
        size_t len, cap;
        bool oom;
};

void dstate_w_u8(struct dstate_w *w, uint8_t v);
void dstate_w_u16(struct dstate_w *w, uint16_t v);
void dstate_w_u32(struct dstate_w *w, uint32_t v);
void dstate_w_u64(struct dstate_w *w, uint64_t v);
void dstate_w_bytes(struct dstate_w *w, const void *p, size_t n);
void dstate_w_bool(struct dstate_w *w, bool v);
void dstate_w_free(struct dstate_w *w);

struct dstate_r {
        const uint8_t *p;
        size_t len, pos;
        bool bad;
        const char *name; /* the section, for errors */
};

void dstate_r_init(struct dstate_r *r, const char *name, const void *p, size_t len);
uint8_t dstate_r_u8(struct dstate_r *r);
uint16_t dstate_r_u16(struct dstate_r *r);
uint32_t dstate_r_u32(struct dstate_r *r);
uint64_t dstate_r_u64(struct dstate_r *r);
bool dstate_r_bool(struct dstate_r *r);
void dstate_r_bytes(struct dstate_r *r, void *p, size_t n);
/* A value that must lie in [0, max]: out of range marks the section bad. */
uint32_t dstate_r_max(struct dstate_r *r, uint32_t max);
/* 0 when the section was read exactly to its end; else -1 naming it. */
int dstate_r_end(struct dstate_r *r, struct isola_err *err);

#endif
