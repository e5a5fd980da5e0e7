/* Test driver for devices/block, used by qcow2_interop.sh:
 *   bdev_tool read FILE OFF LEN          image bytes to stdout
 *   bdev_tool write FILE OFF LEN BYTE    fill a range with BYTE (hex or dec)
 *   bdev_tool random FILE REF SEED N     N pseudo-random writes (sizes from
 *                                        512 B to 200 KiB, unaligned, with
 *                                        iovecs) to FILE and the raw REF
 *   bdev_tool compare FILE REF           the image reads equal to REF
 * Exit 0 on success, 1 with one line on stderr otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/block/bdev.h"

static uint64_t rng_next(uint64_t *s)
{
        /* xorshift64*: deterministic across runs, no libc state */
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        return *s * 2685821657736338717ull;
}

static int fail(const char *what, struct isola_err *err)
{
        fprintf(stderr, "bdev_tool %s: %s\n", what, err ? err->msg : strerror(errno));
        return 1;
}

static int do_random(struct bdev *bd, const char *ref, uint64_t seed, long n)
{
        struct isola_err err = {0};
        int fd = open(ref, O_RDWR);
        if (fd < 0)
                return fail("open ref", NULL);
        const size_t max = 200 * 1024;
        unsigned char *buf = malloc(max);
        uint64_t s = seed ? seed : 1;
        int rc = 0;
        for (long i = 0; i < n && rc == 0; i++) {
                size_t len = 512 + rng_next(&s) % (max - 512);
                uint64_t off = rng_next(&s) % (bd->size - len);
                if (i % 3 == 0) /* some sector-aligned, like a guest */
                        off &= ~511ull, len &= ~(size_t)511;
                for (size_t k = 0; k < len; k++)
                        buf[k] = (unsigned char)(rng_next(&s) >> 56);
                size_t cut = len / 3;
                struct iovec iov[2] = {{buf, cut}, {buf + cut, len - cut}};
                if (bdev_pwritev(bd, iov, 2, off, &err) < 0)
                        rc = fail("write", &err);
                else if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
                        rc = fail("write ref", NULL);
        }
        if (rc == 0 && bdev_flush(bd, &err) < 0)
                rc = fail("flush", &err);
        free(buf);
        close(fd);
        return rc;
}

static int do_compare(struct bdev *bd, const char *ref)
{
        struct isola_err err = {0};
        FILE *f = fopen(ref, "rb");
        if (!f)
                return fail("open ref", NULL);
        const size_t chunk = 1 << 20;
        unsigned char *a = malloc(chunk), *b = malloc(chunk);
        int rc = 0;
        for (uint64_t off = 0; off < bd->size && rc == 0; off += chunk) {
                size_t len = bd->size - off < chunk ? (size_t)(bd->size - off) : chunk;
                memset(b, 0, len);
                size_t got = fread(b, 1, len, f);
                (void)got; /* a short reference reads as zeros */
                if (bdev_pread(bd, a, len, off, &err) < 0)
                        rc = fail("read", &err);
                else if (memcmp(a, b, len)) {
                        size_t k = 0;
                        while (a[k] == b[k])
                                k++;
                        fprintf(stderr, "bdev_tool compare: differ at %llu\n",
                                (unsigned long long)(off + k));
                        rc = 1;
                }
        }
        free(a);
        free(b);
        fclose(f);
        return rc;
}

int main(int argc, char **argv)
{
        if (argc < 3) {
                fprintf(stderr, "usage: bdev_tool read|write|random|compare FILE ...\n");
                return 2;
        }
        const char *cmd = argv[1];
        struct isola_err err = {0};
        struct bdev *bd;
        int ro = !strcmp(cmd, "read") || !strcmp(cmd, "compare");
        if (bdev_open(argv[2], BDEV_FMT_AUTO, ro ? BDEV_RDONLY : 0, &bd, &err) < 0)
                return fail("open", &err);
        int rc = 2;
        if (!strcmp(cmd, "read") && argc == 5) {
                size_t len = strtoull(argv[4], NULL, 0);
                char *buf = malloc(len ? len : 1);
                rc = bdev_pread(bd, buf, len, strtoull(argv[3], NULL, 0), &err) < 0
                         ? fail("read", &err)
                         : (fwrite(buf, 1, len, stdout) == len ? 0 : 1);
                free(buf);
        } else if (!strcmp(cmd, "write") && argc == 6) {
                size_t len = strtoull(argv[4], NULL, 0);
                char *buf = malloc(len ? len : 1);
                memset(buf, (int)strtol(argv[5], NULL, 0), len);
                rc = bdev_pwrite(bd, buf, len, strtoull(argv[3], NULL, 0), &err) < 0 ||
                             bdev_flush(bd, &err) < 0
                         ? fail("write", &err)
                         : 0;
                free(buf);
        } else if (!strcmp(cmd, "random") && argc == 6) {
                rc = do_random(bd, argv[3], strtoull(argv[4], NULL, 0), strtol(argv[5], NULL, 0));
        } else if (!strcmp(cmd, "compare") && argc == 4) {
                rc = do_compare(bd, argv[3]);
        } else {
                fprintf(stderr, "bdev_tool: bad arguments\n");
        }
        bdev_close(bd);
        return rc;
}
