/* Layer diffs from an overlay upper dir: whiteouts and opaque dirs become
 * OCI markers, entries are sorted, times are the epoch, and the same tree
 * gives the same digests (also after a touch), in gzip, zstd and plain. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "build/layer.h"
#include "tap.h"

struct mem {
        unsigned char *p;
        size_t len;
};

static int mem_sink(void *ctx, const void *buf, size_t len, struct isola_err *err)
{
        struct mem *m = ctx;
        unsigned char *p = realloc(m->p, m->len + len);
        if (!p)
                return err_set(err, 12, "oom");
        memcpy(p + m->len, buf, len);
        m->p = p;
        m->len += len;
        return 0;
}

static char root[] = "/tmp/isola-bld-layer-XXXXXX";

static void put(const char *rel, const char *data, mode_t mode)
{
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
        if (fd >= 0) {
                if (write(fd, data, strlen(data)) < 0)
                        perror("write");
                fchmod(fd, mode);
                close(fd);
        }
}

static int layer(enum bld_compression c, int64_t epoch, struct bld_layer_info *info, struct mem *m)
{
        struct isola_err err = {0};
        int dfd = open(root, O_RDONLY | O_DIRECTORY);
        free(m->p);
        m->p = NULL;
        m->len = 0;
        int rc = bld_layer_write(dfd, c, epoch, mem_sink, m, info, &err);
        close(dfd);
        if (rc < 0)
                printf("# %s\n", err.msg);
        return rc;
}

/* "name type mtime uid;" for each entry, read back with libarchive. */
static char *listing(const struct mem *m)
{
        static char out[4096];
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        out[0] = '\0';
        if (archive_read_open_memory(a, m->p, m->len) != ARCHIVE_OK)
                return out;
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                size_t l = strlen(out);
                const char *h = archive_entry_hardlink(e);
                snprintf(out + l, sizeof(out) - l, "%s %o %lld %lld%s%s;",
                         archive_entry_pathname(e), archive_entry_mode(e),
                         (long long)archive_entry_mtime(e), (long long)archive_entry_uid(e),
                         h ? " =>" : "", h ? h : "");
        }
        archive_read_free(a);
        return out;
}

int main(void)
{
        if (!mkdtemp(root))
                return 1;
        char p[512];
        snprintf(p, sizeof(p), "%s/dir", root);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/opq", root);
        mkdir(p, 0700);
        put("b.txt", "bee", 0644);
        put("a.txt", "ay", 0600);
        put("dir/z", "zed", 0755);
        put("opq/in", "x", 0644);
        snprintf(p, sizeof(p), "%s/dir/link", root);
        if (symlink("../a.txt", p) < 0)
                perror("symlink");
        char q[512];
        snprintf(q, sizeof(q), "%s/dir/hard", root);
        snprintf(p, sizeof(p), "%s/b.txt", root);
        if (link(p, q) < 0)
                perror("link");
        bool priv = geteuid() == 0;
        if (priv) {
                snprintf(p, sizeof(p), "%s/gone", root);
                mknod(p, S_IFCHR | 0, makedev(0, 0));
                snprintf(p, sizeof(p), "%s/opq", root);
                setxattr(p, "trusted.overlay.opaque", "y", 1, 0);
                snprintf(p, sizeof(p), "%s/a.txt", root);
                if (chown(p, 1234, 5678) < 0)
                        perror("chown");
        }

        struct bld_layer_info i1, i2;
        struct mem m = {0};
        TAP_EQ_INT(layer(BLD_COMP_NONE, 0, &i1, &m), 0, "plain tar written");
        TAP_EQ_STR(i1.digest, i1.diff_id, "plain: digest is diff_id");
        const char *l = listing(&m);
        printf("# %s\n", l);
        tap_ok(strstr(l, "a.txt 100600 0") == l, "sorted: a.txt first, mtime 0");
        tap_ok(strstr(l, "dir/ 40755") || strstr(l, "dir 40755"), "directory entry");
        tap_ok(strstr(l, "dir/hard 644 0 0 =>b.txt;") != NULL, "hard link to the first path");
        tap_ok(strstr(l, "dir/link 120777") != NULL, "symlink entry");
        if (priv) {
                tap_ok(strstr(l, ".wh.gone 100000 0 0;") != NULL, "whiteout becomes .wh.gone");
                tap_ok(strstr(l, "opq/.wh..wh..opq") != NULL, "opaque dir marker");
                tap_ok(strstr(l, "a.txt 100600 0 1234;") != NULL, "uid kept");
                tap_ok(strstr(l, "opq/in") > strstr(l, "opq/.wh..wh..opq"),
                       "opaque marker before the dir's children");
        } else {
                for (int k = 0; k < 4; k++)
                        tap_skip("needs root for whiteouts, trusted xattrs and chown");
        }

        TAP_EQ_INT(layer(BLD_COMP_GZIP, 0, &i1, &m), 0, "gzip written");
        tap_ok(m.len > 2 && m.p[0] == 0x1f && m.p[1] == 0x8b, "gzip magic");
        tap_ok(m.len > 8 && !m.p[4] && !m.p[5] && !m.p[6] && !m.p[7], "gzip header mtime 0");
        sleep(1);
        snprintf(p, sizeof(p), "%s/b.txt", root);
        utimensat(AT_FDCWD, p, NULL, 0); /* touch */
        layer(BLD_COMP_GZIP, 0, &i2, &m);
        TAP_EQ_STR(i2.digest, i1.digest, "touch: same digest");
        TAP_EQ_STR(i2.diff_id, i1.diff_id, "touch: same diff_id");
        chmod(p, 0640);
        layer(BLD_COMP_GZIP, 0, &i2, &m);
        tap_ok(strcmp(i2.diff_id, i1.diff_id) != 0, "chmod: another diff_id");
        chmod(p, 0644);
        layer(BLD_COMP_GZIP, 0, &i2, &m);
        TAP_EQ_STR(i2.diff_id, i1.diff_id, "chmod back: the first diff_id again");
        put("b.txt", "BEE", 0644);
        layer(BLD_COMP_GZIP, 0, &i2, &m);
        tap_ok(strcmp(i2.diff_id, i1.diff_id) != 0, "content change: another diff_id");
        put("b.txt", "bee", 0644);

        layer(BLD_COMP_ZSTD, 0, &i2, &m);
        tap_ok(m.len > 4 && m.p[0] == 0x28 && m.p[1] == 0xb5, "zstd magic");
        TAP_EQ_STR(i2.diff_id, i1.diff_id, "zstd: same diff_id as gzip");
        TAP_EQ_STR(i2.media_type, "application/vnd.oci.image.layer.v1.tar+zstd", "zstd media type");
        struct bld_layer_info i3;
        layer(BLD_COMP_ZSTD, 0, &i3, &m);
        TAP_EQ_STR(i3.digest, i2.digest, "zstd reproducible");
        layer(BLD_COMP_NONE, 1700000000, &i3, &m);
        tap_ok(strstr(listing(&m), "a.txt 100600 1700000000") != NULL, "epoch sets mtimes");

        free(m.p);
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
        if (system(cmd) != 0)
                perror("rm");
        return tap_done();
}
