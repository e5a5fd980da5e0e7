/* devices/block unit tests: raw and qcow2 read/write, copy-on-write over a
 * backing chain, and hostile headers and tables refused with an error that
 * names the file and the part. */
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/block/bdev.h"
#include "tap.h"

static char dir[] = "/tmp/isola-bdev-test-XXXXXX";

static char *tpath(const char *name)
{
        static char buf[4][256];
        static int k;
        k = (k + 1) % 4;
        snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
        return buf[k];
}

static void poke64(const char *path, off_t off, uint64_t v)
{
        int fd = open(path, O_WRONLY);
        v = htobe64(v);
        if (fd < 0 || pwrite(fd, &v, 8, off) != 8)
                perror(path);
        close(fd);
}

static void poke32(const char *path, off_t off, uint32_t v)
{
        int fd = open(path, O_WRONLY);
        v = htobe32(v);
        if (fd < 0 || pwrite(fd, &v, 4, off) != 4)
                perror(path);
        close(fd);
}

static int all_eq(const unsigned char *p, size_t n, unsigned char v)
{
        for (size_t i = 0; i < n; i++)
                if (p[i] != v)
                        return 0;
        return 1;
}

static void test_rw_chain(void)
{
        struct isola_err err = {0};
        struct bdev *bd;
        static unsigned char buf[200000];
        /* raw base with 0x11, overlay 1 writes 0x22 in the middle of a cluster */
        int fd = open(tpath("base.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
        memset(buf, 0x11, sizeof(buf));
        tap_ok(fd >= 0 && pwrite(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf) &&
                   ftruncate(fd, 1 << 20) == 0,
               "raw base written");
        close(fd);
        tap_ok(bdev_qcow2_create(tpath("o1.qcow2"), 0, "base.raw", "raw", &err) == 0,
               "overlay on raw base created (size from base): %s", err.msg);
        tap_ok(bdev_qcow2_create(tpath("o2.qcow2"), 0, "o1.qcow2", NULL, &err) == 0,
               "second overlay, backing format detected");
        tap_ok(bdev_qcow2_create(tpath("o3.qcow2"), 0, tpath("o2.qcow2"), "qcow2", &err) == 0,
               "third overlay with an absolute backing path");
        tap_ok(bdev_open(tpath("o1.qcow2"), BDEV_FMT_AUTO, 0, &bd, &err) == 0, "open o1");
        memset(buf, 0x22, 1000);
        tap_ok(bdev_pwrite(bd, buf, 1000, 70000, &err) == 0, "partial-cluster write in o1");
        bdev_close(bd);
        tap_ok(bdev_open(tpath("o3.qcow2"), BDEV_FMT_AUTO, 0, &bd, &err) == 0, "open o3: %s",
               err.msg);
        TAP_EQ_INT(bd->size, 1 << 20, "o3 size inherited through the chain");
        tap_ok(bd->backing && bd->backing->backing && bd->backing->backing->backing &&
                   bd->backing->backing->backing->fmt == BDEV_FMT_RAW,
               "chain o3 -> o2 -> o1 -> raw");
        memset(buf, 0, sizeof(buf));
        tap_ok(bdev_pread(bd, buf, 140000, 0, &err) == 0, "read across clusters");
        tap_ok(all_eq(buf, 70000, 0x11) && all_eq(buf + 70000, 1000, 0x22) &&
                   all_eq(buf + 71000, 140000 - 71000, 0x11),
               "base data, o1's write, base data again (copy-on-write kept the rest)");
        tap_ok(bdev_pread(bd, buf, 1000, 900000, &err) == 0 && all_eq(buf, 1000, 0),
               "beyond the base's data reads zeros");
        memset(buf, 0x33, 10);
        tap_ok(bdev_pwrite(bd, buf, 10, 69995, &err) == 0, "write straddling clusters in o3");
        tap_ok(bdev_pread(bd, buf, 30, 69990, &err) == 0 && all_eq(buf, 5, 0x11) &&
                   all_eq(buf + 5, 10, 0x33) && all_eq(buf + 15, 15, 0x22),
               "straddling write reads back over the chain");
        tap_ok(bdev_pread(bd, buf, 10, (1 << 20) - 5, &err) < 0 && strstr(err.msg, "beyond size"),
               "read past the end refused");
        bdev_close(bd);
        tap_ok(bdev_open(tpath("o2.qcow2"), BDEV_FMT_AUTO, BDEV_RDONLY, &bd, &err) == 0 &&
                   bdev_pread(bd, buf, 10, 69995, &err) == 0 && all_eq(buf, 5, 0x11),
               "o2 unchanged by writes to o3");
        tap_ok(bdev_pwrite(bd, buf, 1, 0, &err) < 0 && strstr(err.msg, "read-only"),
               "write to a read-only open refused");
        bdev_close(bd);
}

/* Opens `name` expecting failure whose message contains both the file name
 * and `part`. */
static void expect_refused(const char *name, const char *part, const char *what)
{
        struct isola_err err = {0};
        struct bdev *bd = NULL;
        int rc = bdev_open(tpath(name), BDEV_FMT_QCOW2, 0, &bd, &err);
        tap_ok(rc < 0 && strstr(err.msg, name) && strstr(err.msg, part), "%s refused", what);
        if (rc == 0)
                bdev_close(bd);
        else if (!strstr(err.msg, part))
                printf("#   message: %s\n", err.msg);
}

static void fresh(const char *name)
{
        struct isola_err err = {0};
        unlink(tpath(name));
        if (bdev_qcow2_create(tpath(name), 1 << 20, NULL, NULL, &err) < 0)
                printf("# create %s: %s\n", name, err.msg);
}

static void test_hostile(void)
{
        const uint64_t cs = 65536;
        fresh("h.qcow2");
        poke32(tpath("h.qcow2"), 20, 30);
        expect_refused("h.qcow2", "cluster_bits", "cluster_bits 30");
        fresh("h.qcow2");
        poke64(tpath("h.qcow2"), 40, 1ull << 40);
        expect_refused("h.qcow2", "L1 table", "L1 table beyond the file");
        fresh("h.qcow2");
        poke64(tpath("h.qcow2"), 40, 3 * cs + 8);
        expect_refused("h.qcow2", "L1 table", "misaligned L1 table");
        fresh("h.qcow2");
        poke64(tpath("h.qcow2"), 48, 3 * cs);
        expect_refused("h.qcow2", "overlaps", "refcount table on the L1 table");
        fresh("h.qcow2");
        poke32(tpath("h.qcow2"), 36, 0xffffffffu);
        expect_refused("h.qcow2", "L1 table", "huge L1 size");
        fresh("h.qcow2");
        poke32(tpath("h.qcow2"), 32, 1);
        expect_refused("h.qcow2", "encrypted", "encryption");
        fresh("h.qcow2");
        poke32(tpath("h.qcow2"), 96, 1);
        expect_refused("h.qcow2", "refcount_order", "refcount_order 1");
        fresh("h.qcow2");
        poke64(tpath("h.qcow2"), 72, 1ull << 4);
        expect_refused("h.qcow2", "incompatible features", "extended L2 feature");
        fresh("h.qcow2");
        poke64(tpath("h.qcow2"), 3 * cs, 0 | (1ull << 63));
        poke64(tpath("h.qcow2"), 3 * cs, cs | (1ull << 63));
        expect_refused("h.qcow2", "overlaps", "L2 table on the refcount table");
        fresh("h.qcow2");
        poke64(tpath("h.qcow2"), 8, 200000);
        poke32(tpath("h.qcow2"), 16, 10);
        expect_refused("h.qcow2", "backing file name", "backing name outside the header");

        /* an image that is its own backing file */
        struct isola_err err = {0};
        unlink(tpath("loop.qcow2"));
        fresh("looq.qcow2");
        tap_ok(bdev_qcow2_create(tpath("loop.qcow2"), 0, "looq.qcow2", "qcow2", &err) == 0,
               "image for the loop test");
        int fd = open(tpath("loop.qcow2"), O_WRONLY);
        /* "looq.qcow2" and "loop.qcow2" have the same length: point it at itself */
        char hdr[512];
        int rfd = open(tpath("loop.qcow2"), O_RDONLY);
        ssize_t n = pread(rfd, hdr, sizeof(hdr), 0);
        close(rfd);
        char *p = n > 0 ? memmem(hdr, (size_t)n, "looq.qcow2", 10) : NULL;
        tap_ok(p && pwrite(fd, "loop.qcow2", 10, p - hdr) == 10, "backing name rewritten");
        close(fd);
        struct bdev *bd = NULL;
        int rc = bdev_open(tpath("loop.qcow2"), BDEV_FMT_AUTO, BDEV_RDONLY, &bd, &err);
        tap_ok(rc < 0 && strstr(err.msg, "loops back"), "backing loop refused");
        if (rc == 0 || !strstr(err.msg, "loops back"))
                printf("#   %s\n", rc < 0 ? err.msg : "opened");
        if (rc == 0)
                bdev_close(bd);

        /* a legitimate chain longer than BDEV_MAX_CHAIN */
        char name[32], prev[32];
        fresh("deep0.qcow2");
        int made = 1;
        for (int i = 1; i <= BDEV_MAX_CHAIN; i++) {
                snprintf(name, sizeof(name), "deep%d.qcow2", i);
                snprintf(prev, sizeof(prev), "deep%d.qcow2", i - 1);
                made &= bdev_qcow2_create(tpath(name), 0, prev, "qcow2", &err) == 0;
        }
        tap_ok(made, "a chain of %d overlays created", BDEV_MAX_CHAIN);
        rc = bdev_open(tpath(name), BDEV_FMT_AUTO, BDEV_RDONLY, &bd, &err);
        tap_ok(rc < 0 && strstr(err.msg, "deeper than"), "a chain deeper than %d refused",
               BDEV_MAX_CHAIN);
        if (rc == 0)
                bdev_close(bd);
        rc = bdev_open(tpath("deep15.qcow2"), BDEV_FMT_AUTO, BDEV_RDONLY, &bd, &err);
        tap_ok(rc == 0, "a chain of exactly %d images opens", BDEV_MAX_CHAIN);
        if (rc == 0)
                bdev_close(bd);

        /* a data cluster pointing at the header: refused at use, not open */
        fresh("d.qcow2");
        tap_ok(bdev_open(tpath("d.qcow2"), BDEV_FMT_QCOW2, 0, &bd, &err) == 0, "open d");
        unsigned char b[16] = {1};
        tap_ok(bdev_pwrite(bd, b, 16, 0, &err) == 0, "first write allocates L2 + data");
        bdev_close(bd);
        /* L2 table is the first cluster allocated after the L1 table */
        poke64(tpath("d.qcow2"), 4 * cs, 0 | (1ull << 63) | cs);
        tap_ok(bdev_open(tpath("d.qcow2"), BDEV_FMT_QCOW2, 0, &bd, &err) == 0, "reopen d");
        rc = bdev_pwrite(bd, b, 16, 0, &err);
        tap_ok(rc < 0 && strstr(err.msg, "points at metadata"),
               "guest write onto the refcount table refused: %s", err.msg);
        bdev_close(bd);
}

int main(void)
{
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        test_rw_chain();
        test_hostile();
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                printf("# cleanup of %s failed\n", dir);
        return tap_done();
}
