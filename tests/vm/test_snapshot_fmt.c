/* The snapshot state file (src/vmm/snapshot_fmt.c) and the device state
 * buffers (src/devices/state.c): a round trip, and every way a file is
 * refused, each error naming the part. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vmm/snapshot.h"

static struct snap_file f;

/* A file with sections "alpha" (v1: u32 7, u64 9) and "beta" (v3: "xyz"). */
static void make(struct snap_writer *w)
{
        struct dstate_w a = {0}, b = {0};

        snap_writer_init(w);
        dstate_w_u32(&a, 7);
        dstate_w_u64(&a, 9);
        snap_writer_add(w, "alpha", 1, &a);
        dstate_w_bytes(&b, "xyz", 3);
        snap_writer_add(w, "beta", 3, &b);
        dstate_w_free(&a);
        dstate_w_free(&b);
        snap_writer_finish(w, NULL);
}

static void refused(const uint8_t *buf, size_t len, const char *want, const char *name)
{
        struct isola_err err = {0};
        int rc = snap_parse(buf, len, &f, &err);
        tap_ok(rc == -1 && strstr(err.msg, want) != NULL, "%s (%s)", name, err.msg);
}

/* Rewrites the trailer so only the part under test is wrong. */
static void reseal(uint8_t *buf, size_t len)
{
        uint32_t crc = snap_crc32c(0, buf, len - 4);
        memcpy(buf + len - 4, &crc, 4);
}

int main(void)
{
        struct snap_writer w;
        struct isola_err err = {0};
        struct dstate_r r;

        /* CRC-32C's check value (RFC 3720), whole and in unaligned pieces:
         * the SSE4.2 path and the bit loop must agree with it. */
        static const char nine[] = "123456789";
        tap_ok(snap_crc32c(0, nine, 9) == 0xe3069283u, "CRC-32C of \"123456789\" is e3069283");
        tap_ok(snap_crc32c(snap_crc32c(snap_crc32c(0, nine, 1), nine + 1, 3), nine + 4, 5) ==
                   0xe3069283u,
               "CRC-32C continued over unaligned pieces");

        make(&w);
        TAP_EQ_INT(snap_parse(w.out.buf, w.out.len, &f, &err), 0, "a written file parses");
        TAP_EQ_INT((int)f.n, 2, "two sections");
        TAP_EQ_INT(snap_open_section(&f, "alpha", 1, &r, &err), 0, "alpha v1 found");
        TAP_EQ_INT((int)dstate_r_u32(&r), 7, "alpha's u32");
        TAP_EQ_INT((int)dstate_r_u64(&r), 9, "alpha's u64");
        TAP_EQ_INT(dstate_r_end(&r, &err), 0, "alpha read to its end");
        TAP_EQ_INT(snap_open_section(&f, "beta", 1, &r, &err), -1, "beta v1 refused");
        tap_ok(strstr(err.msg, "section 'beta': version 3, this isola reads version 1") != NULL,
               "the version error names the section (%s)", err.msg);
        TAP_EQ_INT(snap_open_section(&f, "gamma", 1, &r, &err), -1, "a missing section");
        tap_ok(strstr(err.msg, "section 'gamma' is missing") != NULL, "named (%s)", err.msg);

        TAP_EQ_INT(snap_open_section(&f, "beta", 3, &r, &err), 0, "beta v3");
        (void)dstate_r_u32(&r); /* only 3 bytes there */
        TAP_EQ_INT(dstate_r_end(&r, &err), -1, "reading past a section's end fails");
        tap_ok(strstr(err.msg, "section 'beta': truncated") != NULL, "named (%s)", err.msg);
        TAP_EQ_INT(snap_open_section(&f, "alpha", 1, &r, &err), 0, "alpha again");
        (void)dstate_r_u32(&r);
        TAP_EQ_INT(dstate_r_end(&r, &err), -1, "a section not read to its end fails");
        tap_ok(strstr(err.msg, "trailing bytes") != NULL, "named (%s)", err.msg);
        dstate_r_init(&r, "range", "\x05\0\0\0", 4);
        (void)dstate_r_max(&r, 4);
        TAP_EQ_INT(dstate_r_end(&r, &err), -1, "a value over its bound fails");

        size_t len = w.out.len;
        uint8_t *b = malloc(len);
        memcpy(b, w.out.buf, len);
        b[44] ^= 1; /* in alpha's payload */
        refused(b, len, "checksum mismatch (corrupt)", "a flipped bit");
        reseal(b, len);
        refused(b, len, "section 'alpha' is corrupt (checksum)", "a flipped payload bit, resealed");
        memcpy(b, w.out.buf, len);
        refused(b, len - 1, "the header says", "one byte short");
        refused(b, 10, "too short", "ten bytes");
        b[0] = 'X';
        reseal(b, len);
        refused(b, len, "not an isola snapshot", "bad magic");
        memcpy(b, w.out.buf, len);
        b[8] = 2;
        reseal(b, len);
        refused(b, len, "format version 2, this isola reads version 1", "a newer format");
        memcpy(b, w.out.buf, len);
        b[12] = 3;
        reseal(b, len);
        refused(b, len, "truncated", "a section count beyond the file");
        memcpy(b, w.out.buf, len);
        b[24] = 0;
        reseal(b, len);
        refused(b, len, "section 0 has a bad name", "an empty section name");
        memcpy(b, w.out.buf, len);
        memcpy(b + 25 + 5 + 4, "\xff\xff\xff\xff\xff\xff\xff\x7f", 8);
        reseal(b, len);
        refused(b, len, "section 'alpha' is truncated", "a huge section length");
        free(b);
        snap_writer_free(&w);

        struct snap_writer d;
        struct dstate_w p = {0};
        snap_writer_init(&d);
        dstate_w_u8(&p, 1);
        snap_writer_add(&d, "same", 1, &p);
        snap_writer_add(&d, "same", 1, &p);
        dstate_w_free(&p);
        snap_writer_finish(&d, NULL);
        refused(d.out.buf, d.out.len, "section 'same' appears twice", "a duplicated section");
        snap_writer_free(&d);
        return tap_done();
}
