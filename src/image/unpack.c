/* Layer streams: the blob (tar, tar+gzip or tar+zstd, told apart by content)
 * runs through two libarchive readers. The outer one only decompresses
 * ("raw" format); the inner one reads tar from the outer's output. Hashing
 * the bytes as they pass gives the blob digest (compressed) and the diff id
 * (uncompressed) in the same single pass that writes the files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/store_internal.h"
#include "image/unpack_internal.h"

#define STREAM_BUF (128u << 10)
/* tar headers, pax records and padding on top of the file data */
#define STREAM_OVERHEAD_PER_ENTRY 4096ull
#define STREAM_OVERHEAD           (1ull << 20)

struct layer_stream {
        int fd;
        struct img_sha blob_sha, diff_sha;
        struct archive *outer;
        uint64_t raw_bytes, raw_max;
        char cbuf[STREAM_BUF]; /* compressed, from fd */
        char ubuf[STREAM_BUF]; /* uncompressed, from the outer reader */
        bool too_big;
};

static la_ssize_t outer_read(struct archive *a, void *data, const void **buf)
{
        struct layer_stream *st = data;

        for (;;) {
                ssize_t n = read(st->fd, st->cbuf, sizeof(st->cbuf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        archive_set_error(a, errno, "read: %s", strerror(errno));
                        return -1;
                }
                img_sha_update(&st->blob_sha, st->cbuf, (size_t)n);
                *buf = st->cbuf;
                return n;
        }
}

static la_ssize_t inner_read(struct archive *a, void *data, const void **buf)
{
        struct layer_stream *st = data;
        la_ssize_t n = archive_read_data(st->outer, st->ubuf, sizeof(st->ubuf));

        if (n < 0) {
                archive_set_error(a, EIO, "%s", archive_error_string(st->outer) ?: "read error");
                return -1;
        }
        st->raw_bytes += (uint64_t)n;
        if (st->raw_bytes > st->raw_max) {
                st->too_big = true;
                archive_set_error(a, EFBIG, "uncompressed stream larger than the limit");
                return -1;
        }
        img_sha_update(&st->diff_sha, st->ubuf, (size_t)n);
        *buf = st->ubuf;
        return n;
}

static int open_outer(struct layer_stream *st, struct isola_err *err)
{
        struct archive_entry *e;

        st->outer = archive_read_new();
        if (!st->outer)
                return err_set(err, ENOMEM, "out of memory");
        /* Only the compressions layers use; none of libarchive's filters that
         * would run an external program. */
        if (archive_read_support_filter_gzip(st->outer) != ARCHIVE_OK ||
            archive_read_support_filter_zstd(st->outer) < ARCHIVE_WARN ||
            archive_read_support_format_raw(st->outer) != ARCHIVE_OK ||
            archive_read_support_format_empty(st->outer) != ARCHIVE_OK)
                return err_set(err, EIO, "layer stream: %s", archive_error_string(st->outer));
        if (archive_read_open(st->outer, st, NULL, outer_read, NULL) != ARCHIVE_OK)
                return err_set(err, EIO, "layer stream: %s",
                               archive_error_string(st->outer) ?: "cannot open");
        int r = archive_read_next_header(st->outer, &e);
        if (r == ARCHIVE_EOF)
                return err_set(err, EINVAL, "layer stream: empty");
        if (r != ARCHIVE_OK)
                return err_set(err, EIO, "layer stream: %s",
                               archive_error_string(st->outer) ?: "cannot read");
        return 0;
}

static int run_entries(struct unpack_ctx *ctx, struct layer_stream *st, struct isola_err *err)
{
        struct archive *in = archive_read_new();
        struct archive_entry *e;
        int r, rc = -1;

        if (!in)
                return err_set(err, ENOMEM, "out of memory");
        if (archive_read_support_format_tar(in) != ARCHIVE_OK ||
            archive_read_open(in, st, NULL, inner_read, NULL) != ARCHIVE_OK) {
                err_set(err, st->too_big ? EFBIG : EIO, "layer: %s",
                        archive_error_string(in) ?: "not a tar archive");
                goto out;
        }
        while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                if (unpack_entry(ctx, in, e, err) < 0)
                        goto out;
        }
        if (r != ARCHIVE_EOF) {
                err_set(err, st->too_big ? EFBIG : EIO, "layer: %s",
                        archive_error_string(in) ?: "corrupt tar");
                goto out;
        }
        rc = 0;
out:
        archive_read_free(in);
        return rc;
}

/* The rest of both streams after the tar's end-of-archive blocks, so the
 * digests cover every byte. */
static int drain(struct layer_stream *st, struct isola_err *err)
{
        for (;;) {
                la_ssize_t n = archive_read_data(st->outer, st->ubuf, sizeof(st->ubuf));
                if (n < 0)
                        return err_set(err, EIO, "layer: %s",
                                       archive_error_string(st->outer) ?: "read error");
                if (n == 0)
                        break;
                st->raw_bytes += (uint64_t)n;
                if (st->raw_bytes > st->raw_max)
                        return err_set(err, EFBIG,
                                       "layer: uncompressed stream larger than the "
                                       "limit");
                img_sha_update(&st->diff_sha, st->ubuf, (size_t)n);
        }
        for (;;) {
                ssize_t n = read(st->fd, st->cbuf, sizeof(st->cbuf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return err_sys(err, "layer: read");
                if (n == 0)
                        return 0;
                img_sha_update(&st->blob_sha, st->cbuf, (size_t)n);
        }
}

int unpack_stream(int fd, int dest_dirfd, const struct img_unpack_limits *lim,
                  char diff_id_out[IMG_DIGEST_MAX], char blob_digest_out[IMG_DIGEST_MAX],
                  uint64_t *size_out, struct isola_err *err)
{
        struct unpack_ctx ctx = {
            .root = dest_dirfd,
            .lim = lim,
            .chown_ok = geteuid() == 0,
            .cached_fd = -1,
        };
        struct layer_stream *st = calloc(1, sizeof(*st));
        int rc = -1;

        if (!st)
                return err_set(err, ENOMEM, "out of memory");
        st->fd = fd;
        st->raw_max =
            lim->max_bytes + lim->max_entries * STREAM_OVERHEAD_PER_ENTRY + STREAM_OVERHEAD;
        if (st->raw_max < lim->max_bytes) /* overflow */
                st->raw_max = UINT64_MAX;
        if (img_sha_init(&st->blob_sha, err) < 0)
                goto out;
        if (img_sha_init(&st->diff_sha, err) < 0)
                goto out;
        if (open_outer(st, err) < 0 || run_entries(&ctx, st, err) < 0 || drain(st, err) < 0)
                goto out;
        unpack_finish_dirs(&ctx);
        img_sha_final(&st->diff_sha, diff_id_out);
        if (blob_digest_out)
                img_sha_final(&st->blob_sha, blob_digest_out);
        if (size_out)
                *size_out = ctx.bytes;
        rc = 0;
out:
        unpack_ctx_release(&ctx);
        if (st->outer)
                archive_read_free(st->outer);
        img_sha_free(&st->blob_sha);
        img_sha_free(&st->diff_sha);
        free(st);
        return rc;
}

int img_unpack_fd(int fd, int dest_dirfd, const struct img_unpack_limits *lim,
                  char diff_id_out[IMG_DIGEST_MAX], uint64_t *size_out, struct isola_err *err)
{
        return unpack_stream(fd, dest_dirfd, lim, diff_id_out, NULL, size_out, err);
}
