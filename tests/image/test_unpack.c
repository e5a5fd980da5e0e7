/* Layer unpacking against crafted tars: plain/gzip/zstd give one diff id,
 * attributes survive, whiteouts become overlayfs ones, and hostile entries
 * ('..', absolute, symlink and hardlink escapes, devices, bombs) never write
 * outside the layer directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/image.h"
#include "util/cleanup.h"
#include "layer_tar.h"
#include "tap.h"

static char sandbox[64];  /* everything of this test lives here */
static char outside[128]; /* a directory next to the layer dir */
static int case_no;

static const struct img_unpack_limits big = {1u << 30, 100000};

static void rm_rf(const char *path)
{
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
        if (system(cmd) != 0)
                fprintf(stderr, "# rm failed\n");
}

/* Unpacks the tar into a fresh <sandbox>/layerN; returns the dir fd or -1
 * with err set; *dir gets the path. */
static int unpack(const struct tar_ent *ents, size_t n, enum tar_comp comp,
                  const struct img_unpack_limits *lim, char *dir, size_t dirlen,
                  char digest[IMG_DIGEST_MAX], struct isola_err *err)
{
        char *buf = NULL, file[160];
        size_t len = tar_build(ents, n, comp, &buf);
        int rc;

        snprintf(dir, dirlen, "%s/layer%d", sandbox, ++case_no);
        snprintf(file, sizeof(file), "%s/tar%d", sandbox, case_no);
        mkdir(dir, 0755);
        int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (write(fd, buf, len) != (ssize_t)len)
                fprintf(stderr, "# short write\n");
        lseek(fd, 0, SEEK_SET);
        free(buf);
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        rc = img_unpack_fd(fd, dfd, lim ? lim : &big, digest, NULL, err);
        close(fd);
        if (rc < 0) {
                close(dfd);
                return -1;
        }
        return dfd;
}

static bool outside_clean(void)
{
        char p[256];
        struct stat st;

        snprintf(p, sizeof(p), "%s/victim", outside);
        if (stat(p, &st) < 0 || st.st_size != 4 || st.st_nlink != 1)
                return false;
        snprintf(p, sizeof(p), "%s/pwned", outside);
        return stat(p, &st) < 0;
}

static void test_formats(void)
{
        const struct tar_ent e[] = {
            {.name = "bin/", .type = AE_IFDIR, .mode = 0755},
            {.name = "bin/tool", .type = AE_IFREG, .mode = 04755, .data = "#!/bin/sh\n"},
            {.name = "bin/sh", .type = AE_IFLNK, .data = "tool"},
            {.name = "bin/tool2", .hardlink = "bin/tool"},
            {.name = "./etc/conf", .type = AE_IFREG, .mode = 0600, .data = "x=1\n"},
            {.name = "fifo", .type = AE_IFIFO, .mode = 0644},
        };
        char d1[IMG_DIGEST_MAX], d2[IMG_DIGEST_MAX], d3[IMG_DIGEST_MAX], dir[128];
        struct isola_err err = {0};
        struct stat st;
        char link[64] = {0};

        int fd = unpack(e, ARRAY_SIZE(e), TAR_PLAIN, NULL, dir, sizeof(dir), d1, &err);
        tap_ok(fd >= 0, "plain tar unpacks (%s)", err.msg);
        if (fd < 0)
                return;
        tap_ok(fstatat(fd, "bin/tool", &st, 0) == 0 && (st.st_mode & 07777) == 04755,
               "setuid bit and mode kept");
        tap_ok(st.st_mtime == 1000000000, "mtime kept");
        tap_ok(st.st_nlink == 2, "hard link made");
        tap_ok(readlinkat(fd, "bin/sh", link, sizeof(link) - 1) == 4 && !strcmp(link, "tool"),
               "symlink made");
        tap_ok(fstatat(fd, "etc/conf", &st, 0) == 0 && (st.st_mode & 0777) == 0600,
               "missing parent made, ./ prefix cleaned");
        tap_ok(fstatat(fd, "fifo", &st, 0) == 0 && S_ISFIFO(st.st_mode), "fifo made");
        tap_ok(fstatat(fd, "bin", &st, 0) == 0 && st.st_mtime == 1000000000,
               "directory mtime set after its contents");
        close(fd);
        fd = unpack(e, ARRAY_SIZE(e), TAR_GZIP, NULL, dir, sizeof(dir), d2, &err);
        tap_ok(fd >= 0 && !strcmp(d1, d2), "gzip layer: same diff id as plain (%s)", err.msg);
        if (fd >= 0)
                close(fd);
        fd = unpack(e, ARRAY_SIZE(e), TAR_ZSTD, NULL, dir, sizeof(dir), d3, &err);
        tap_ok(fd >= 0 && !strcmp(d1, d3), "zstd layer: same diff id as plain (%s)", err.msg);
        if (fd >= 0)
                close(fd);
}

static void test_whiteouts(void)
{
        const struct tar_ent e[] = {
            {.name = "etc/", .type = AE_IFDIR, .mode = 0755},
            {.name = "etc/.wh.passwd", .type = AE_IFREG, .data = ""},
            {.name = "opq/", .type = AE_IFDIR, .mode = 0755},
            {.name = "opq/.wh..wh..opq", .type = AE_IFREG, .data = ""},
            {.name = "opq/new", .type = AE_IFREG, .data = "n"},
        };
        char d[IMG_DIGEST_MAX], dir[128], val[4] = {0};
        struct isola_err err = {0};
        struct stat st;

        int fd = unpack(e, ARRAY_SIZE(e), TAR_PLAIN, NULL, dir, sizeof(dir), d, &err);
        tap_ok(fd >= 0, "whiteout layer unpacks (%s)", err.msg);
        if (fd < 0)
                return;
        tap_ok(fstatat(fd, "etc/passwd", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode) &&
                   st.st_rdev == makedev(0, 0),
               ".wh.passwd became a 0/0 character device");
        tap_ok(fstatat(fd, "etc/.wh.passwd", &st, AT_SYMLINK_NOFOLLOW) < 0, "no .wh. file left");
        char p[256];
        snprintf(p, sizeof(p), "%s/opq", dir);
        tap_ok(getxattr(p, "trusted.overlay.opaque", val, sizeof(val)) == 1 && val[0] == 'y',
               "opaque dir has trusted.overlay.opaque=y");
        tap_ok(fstatat(fd, "opq/new", &st, 0) == 0, "opaque dir keeps its new entries");
        close(fd);
}

/* Each hostile case: the unpack may fail or succeed, but nothing outside
 * changes; want_fail says whether it must be refused. */
static void hostile(const char *what, const struct tar_ent *e, size_t n, bool want_fail,
                    const char *want_msg)
{
        char d[IMG_DIGEST_MAX], dir[128];
        struct isola_err err = {0};
        int fd = unpack(e, n, TAR_PLAIN, NULL, dir, sizeof(dir), d, &err);

        if (want_fail) {
                tap_ok(fd < 0, "%s: refused", what);
                if (want_msg) {
                        tap_ok(strstr(err.msg, want_msg) != NULL, "%s: message names it", what);
                        if (!strstr(err.msg, want_msg))
                                printf("#   got '%s'\n", err.msg);
                }
        }
        tap_ok(outside_clean(), "%s: nothing written outside", what);
        if (fd >= 0)
                close(fd);
}

static void test_hostile(void)
{
        char abs_victim[200], rel_victim[200];
        snprintf(abs_victim, sizeof(abs_victim), "%s/victim", outside);
        snprintf(rel_victim, sizeof(rel_victim), "../outside/victim");

        const struct tar_ent dotdot[] = {
            {.name = "a/../../outside/pwned", .type = AE_IFREG, .data = "x"}};
        hostile("'..' entry", dotdot, 1, true, "entry 'a/../../outside/pwned': '..'");
        const struct tar_ent absolute[] = {
            {.name = abs_victim, .type = AE_IFREG, .data = "xxxxxxx"}};
        hostile("absolute entry", absolute, 1, true, "absolute path");
        const struct tar_ent sym_dir[] = {
            {.name = "esc", .type = AE_IFLNK, .data = outside},
            {.name = "esc/pwned", .type = AE_IFREG, .data = "x"},
        };
        hostile("file below a planted absolute symlink", sym_dir, 2, false, NULL);
        const struct tar_ent sym_rel[] = {
            {.name = "d/", .type = AE_IFDIR},
            {.name = "d/esc", .type = AE_IFLNK, .data = "../../outside"},
            {.name = "d/esc/pwned", .type = AE_IFREG, .data = "x"},
        };
        hostile("file below a planted relative symlink", sym_rel, 3, false, NULL);
        const struct tar_ent sym_file[] = {
            {.name = "victim", .type = AE_IFLNK, .data = abs_victim},
            {.name = "victim", .type = AE_IFREG, .data = "overwritten"},
        };
        hostile("file over a planted symlink", sym_file, 2, false, NULL);
        const struct tar_ent hard_rel[] = {{.name = "h", .hardlink = rel_victim}};
        hostile("hardlink with '..'", hard_rel, 1, true, "'..'");
        const struct tar_ent hard_abs[] = {{.name = "h", .hardlink = abs_victim}};
        hostile("hardlink to an absolute path", hard_abs, 1, true, "absolute");
        const struct tar_ent hard_sym[] = {
            {.name = "esc", .type = AE_IFLNK, .data = outside},
            {.name = "h", .hardlink = "esc/victim"},
        };
        hostile("hardlink through a planted symlink", hard_sym, 2, true, "entry 'h'");
        const struct tar_ent wh_sym[] = {
            {.name = "esc", .type = AE_IFLNK, .data = outside},
            {.name = "esc/.wh.victim", .type = AE_IFREG, .data = ""},
        };
        hostile("whiteout through a planted symlink", wh_sym, 2, false, NULL);
}

static void test_devices_and_bombs(void)
{
        char d[IMG_DIGEST_MAX], dir[128];
        struct isola_err err = {0};
        struct stat st;

        const struct tar_ent dev[] = {
            {.name = "null", .type = AE_IFCHR, .mode = 0666},
            {.name = "sda", .type = AE_IFBLK, .mode = 0660},
            {.name = "ok", .type = AE_IFREG, .data = "ok"},
        };
        int fd = unpack(dev, 3, TAR_PLAIN, NULL, dir, sizeof(dir), d, &err);
        tap_ok(fd >= 0 && fstatat(fd, "null", &st, 0) < 0 && fstatat(fd, "sda", &st, 0) < 0 &&
                   fstatat(fd, "ok", &st, 0) == 0,
               "device nodes skipped, the rest unpacked");
        if (fd >= 0)
                close(fd);

        struct tar_ent many[60];
        char names[60][16];
        for (int i = 0; i < 60; i++) {
                snprintf(names[i], sizeof(names[i]), "f%d", i);
                many[i] = (struct tar_ent){.name = names[i], .type = AE_IFREG, .data = "x"};
        }
        const struct img_unpack_limits small = {1 << 20, 50};
        fd = unpack(many, 60, TAR_GZIP, &small, dir, sizeof(dir), d, &err);
        tap_ok(fd < 0 && err.errnum == EFBIG && strstr(err.msg, "more entries"),
               "entry-count bomb refused (%s)", err.msg);

        static char huge[300000];
        memset(huge, 'z', sizeof(huge) - 1);
        const struct tar_ent big_file[] = {{.name = "big", .type = AE_IFREG, .data = huge}};
        const struct img_unpack_limits tiny = {100000, 100};
        fd = unpack(big_file, 1, TAR_GZIP, &tiny, dir, sizeof(dir), d, &err);
        tap_ok(fd < 0 && err.errnum == EFBIG && strstr(err.msg, "entry 'big'"),
               "size bomb refused (%s)", err.msg);

        /* Not a tar at all, and a truncated gzip stream. */
        char *buf = NULL;
        size_t len = tar_build(dev, 3, TAR_GZIP, &buf);
        char file[160];
        snprintf(file, sizeof(file), "%s/trunc", sandbox);
        int tfd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (write(tfd, buf, len / 2) < 0)
                fprintf(stderr, "# write\n");
        lseek(tfd, 0, SEEK_SET);
        free(buf);
        snprintf(dir, sizeof(dir), "%s/trunc-dir", sandbox);
        mkdir(dir, 0755);
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        tap_ok(img_unpack_fd(tfd, dfd, &big, d, NULL, &err) < 0, "truncated gzip refused (%s)",
               err.msg);
        close(dfd);
        close(tfd);
}

int main(void)
{
        char p[200];

        if (geteuid() != 0) {
                printf("1..0 # SKIP needs root (owners, whiteout devices, trusted xattrs)\n");
                return 0;
        }
        snprintf(sandbox, sizeof(sandbox), "/tmp/isola-img-unpack-XXXXXX");
        if (!mkdtemp(sandbox))
                return 1;
        snprintf(outside, sizeof(outside), "%s/outside", sandbox);
        mkdir(outside, 0755);
        snprintf(p, sizeof(p), "%s/victim", outside);
        FILE *f = fopen(p, "w");
        fputs("safe", f);
        fclose(f);

        test_formats();
        test_whiteouts();
        test_hostile();
        test_devices_and_bombs();
        rm_rf(sandbox);
        return tap_done();
}
