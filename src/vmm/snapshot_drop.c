/* `isola vm rm` takes the VM's snapshots with it (vm_snap_drop_all): its
 * snapshots/ directory and the disk images isola made for it (a restore
 * under a new name records them in <data dir>/owned-disks). Images that
 * live on must not lose the frozen images they build on:
 *  - the VM's own disks (the user's paths) are flattened in place into a
 *    standalone image with the same content (the VM is stopped);
 *  - another VM's disk or snapshot image built directly on one of them gets
 *    a flattened copy of that base beside it (`<image>.base-<id12>`, owned
 *    by that VM) and its header is pointed at the copy; the image itself
 *    is not rewritten, so this also holds while that VM runs.
 * `isola vm snapshot rm` (vm_snap_release) does the second for every image
 * that builds on the one snapshot that goes, this VM's own included. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/block/bdev.h"
#include "util/cleanup.h"
#include "vmm/machine.h"
#include "vmm/mgr.h"
#include "vmm/snapshot_mgr.h"

#define DROP_MAX_FILES 1024
#define CHUNK          (64u * 1024)

struct drop_set {
        dev_t dev[DROP_MAX_FILES];
        ino_t ino[DROP_MAX_FILES];
        size_t n;
};

static void set_add(struct drop_set *s, const char *path)
{
        struct stat sb;
        if (s->n < DROP_MAX_FILES && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
                s->dev[s->n] = sb.st_dev;
                s->ino[s->n++] = sb.st_ino;
        }
}

static bool set_has(const struct drop_set *s, const char *path)
{
        struct stat sb;
        if (stat(path, &sb) < 0)
                return false;
        for (size_t i = 0; i < s->n; i++)
                if (s->dev[i] == sb.st_dev && s->ino[i] == sb.st_ino)
                        return true;
        return false;
}

static bool all_zero(const uint8_t *p, size_t n)
{
        return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Reads [off, off+len) of bd, zeros past its end. */
static int read_part(struct bdev *bd, uint8_t *buf, size_t len, uint64_t off, struct isola_err *err)
{
        memset(buf, 0, len);
        if (off >= bd->size)
                return 0;
        size_t n = bd->size - off < len ? (size_t)(bd->size - off) : len;
        return bdev_pread(bd, buf, n, off, err);
}

/* Copies into `out` every chunk where `top` reads differently from `keep`
 * (zeros when there is no kept base). */
static int copy_diff(struct bdev *top, struct bdev *keep, struct bdev *out, struct isola_err *err)
{
        uint8_t *a = malloc(CHUNK), *b = malloc(CHUNK);
        int rc = a && b ? 0 : err_set(err, ENOMEM, "out of memory");

        for (uint64_t off = 0; rc == 0 && off < top->size; off += CHUNK) {
                size_t len = top->size - off < CHUNK ? (size_t)(top->size - off) : CHUNK;
                rc = bdev_pread(top, a, len, off, err);
                if (rc == 0 && keep)
                        rc = read_part(keep, b, len, off, err);
                if (rc < 0)
                        break;
                if (keep ? memcmp(a, b, len) != 0 : !all_zero(a, len))
                        rc = bdev_pwrite(out, a, len, off, err);
        }
        free(a);
        free(b);
        return rc;
}

/* Writes image `top` as a qcow2 at dst (through a temporary name) whose
 * backing file is the first image below top outside `drop`, holding what
 * differs from it: same content, no link into what goes. */
static int flatten(const char *top, const char *dst, const struct drop_set *drop,
                   struct isola_err *err)
{
        char tmp[PATH_MAX], keep_path[PATH_MAX];
        struct bdev *bd = NULL, *out = NULL;

        if (snprintf(tmp, sizeof(tmp), "%s.tmp-%d", dst, (int)getpid()) >= (int)sizeof(tmp))
                return err_set(err, ENAMETOOLONG, "'%s': path too long", dst);
        if (bdev_open(top, BDEV_FMT_AUTO, BDEV_RDONLY, &bd, err) < 0)
                return -1;
        struct bdev *keep = bd->backing;
        while (keep && set_has(drop, keep->path))
                keep = keep->backing;
        int rc = 0;
        if (keep && !realpath(keep->path, keep_path))
                rc = err_sys(err, "'%s'", keep->path);
        unlink(tmp);
        if (rc == 0)
                rc = bdev_qcow2_create(tmp, bd->size, keep ? keep_path : NULL,
                                       keep ? bdev_format_name(keep->fmt) : NULL, err);
        if (rc == 0)
                rc = bdev_open(tmp, BDEV_FMT_QCOW2, 0, &out, err);
        if (rc == 0)
                rc = copy_diff(bd, keep, out, err);
        if (rc == 0)
                rc = bdev_flush(out, err);
        if (out)
                bdev_close(out);
        bdev_close(bd);
        if (rc == 0) {
                _cleanup_close_ int fd = open(tmp, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || fsync(fd) < 0 || rename(tmp, dst) < 0)
                        rc = err_sys(err, "writing '%s'", dst);
        }
        if (rc < 0)
                unlink(tmp);
        return rc < 0 ? err_prefix(err, "flattening '%s'", top) : 0;
}

static uint64_t be(const uint8_t *p, int n)
{
        uint64_t v = 0;
        for (int i = 0; i < n; i++)
                v = v << 8 | p[i];
        return v;
}

/* Points qcow2 image `path` at backing file `base` (same content as the old
 * one, as `qemu-img rebase -u`): the name at the header's backing-name
 * offset (the last thing in qemu's and isola's header cluster), then its
 * length. */
static int rebase(const char *path, const char *base, struct isola_err *err)
{
        uint8_t h[24], lenb[4];
        size_t n = strlen(base);
        _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);

        if (fd < 0 || pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
                return err_sys(err, "'%s'", path);
        uint64_t off = be(h + 8, 8), cbits = be(h + 20, 4);
        if (memcmp(h, "QFI\xfb", 4) != 0 || off == 0 || cbits < 9 || cbits > 21 || n > 1023 ||
            off + n > (1ull << cbits))
                return err_set(err, EINVAL, "'%s': cannot point it at '%s'", path, base);
        for (int i = 0; i < 4; i++)
                lenb[i] = (uint8_t)(n >> (24 - 8 * i));
        if (pwrite(fd, base, n, (off_t)off) != (ssize_t)n || fdatasync(fd) < 0 ||
            pwrite(fd, lenb, 4, 16) != 4 || fdatasync(fd) < 0)
                return err_sys(err, "rewriting the header of '%s'", path);
        return 0;
}

/* An image that stays, built directly on one that goes. */
static bool builds_on_dropped(const char *img, const struct drop_set *drop, char *base, size_t len)
{
        struct bdev *bd = NULL;
        struct isola_err e = {0};

        if (set_has(drop, img) || bdev_open(img, BDEV_FMT_AUTO, BDEV_RDONLY, &bd, &e) < 0)
                return false;
        bool hit = bd->backing && set_has(drop, bd->backing->path);
        if (hit)
                snprintf(base, len, "%s", bd->backing->path);
        bdev_close(bd);
        return hit;
}

/* A name for a copy of img's base beside it, `<img>.base-<tag>`, with a
 * number added when that exists (an earlier copy may still be in use). */
static int copy_name(const char *img, const char *tag, char *out, size_t len, struct isola_err *err)
{
        struct stat sb;

        for (int i = 1; i <= 100; i++) {
                int n = i == 1 ? snprintf(out, len, "%s.base-%s", img, tag)
                               : snprintf(out, len, "%s.base-%s-%d", img, tag, i);
                if (n < 0 || (size_t)n >= len)
                        return err_set(err, ENAMETOOLONG, "'%s': path too long", img);
                if (lstat(out, &sb) < 0 && errno == ENOENT)
                        return 0;
        }
        return err_set(err, EEXIST, "'%s': no free name for a copy of its base", img);
}

/* An image that stays, `img`, on a dropped base: a flattened copy of the
 * base beside it, owned by img's VM (owned: its owned-disks file, or NULL
 * for a snapshot image, whose directory goes with the snapshot). */
static int adopt_base(const char *img, const char *tag, const char *owned,
                      const struct drop_set *drop, struct isola_err *err)
{
        char base[PATH_MAX], copy[PATH_MAX];

        if (!builds_on_dropped(img, drop, base, sizeof(base)))
                return 0;
        if (copy_name(img, tag, copy, sizeof(copy), err) < 0 ||
            flatten(base, copy, drop, err) < 0 || rebase(img, copy, err) < 0)
                return -1;
        if (owned) {
                FILE *f = fopen(owned, "ae");
                if (!f || fprintf(f, "%s\n", copy) < 0 || fclose(f) != 0)
                        return err_sys(err, "'%s'", owned);
        }
        return 0;
}

/* Calls fn for every file in <dir>/snapshots/<snap>/ (names only). */
static int for_snap_files(const char *dir, int (*fn)(const char *path, void *arg), void *arg)
{
        char sdir[PATH_MAX], p[PATH_MAX * 2];
        struct dirent *s, *f;
        int rc = 0;

        snprintf(sdir, sizeof(sdir), "%s/snapshots", dir);
        DIR *d = opendir(sdir);
        while (d && rc == 0 && (s = readdir(d))) {
                if (s->d_name[0] == '.')
                        continue;
                snprintf(p, sizeof(p), "%s/%s", sdir, s->d_name);
                DIR *d2 = opendir(p);
                while (d2 && rc == 0 && (f = readdir(d2))) {
                        if (f->d_name[0] == '.')
                                continue;
                        snprintf(p, sizeof(p), "%s/%s/%s", sdir, s->d_name, f->d_name);
                        rc = fn(p, arg);
                        snprintf(p, sizeof(p), "%s/%s", sdir, s->d_name);
                }
                if (d2)
                        closedir(d2);
        }
        if (d)
                closedir(d);
        return rc;
}

struct other_ctx {
        const char *tag;
        const struct drop_set *drop;
        struct isola_err *err;
};

static int adopt_snap_file(const char *path, void *arg)
{
        struct other_ctx *c = arg;
        const char *name = strrchr(path, '/') + 1;

        /* disk<N>.qcow2 and the base copies beside it (disk<N>.qcow2.base-*) */
        if (strncmp(name, "disk", 4) != 0 || !strstr(name, ".qcow2"))
                return 0;
        return adopt_base(path, c->tag, NULL, c->drop, c->err);
}

static int add_drop_file(const char *path, void *arg)
{
        set_add(arg, path);
        return 0;
}

/* A VM's data directory, disks (array) and id from vm_mgr_inspect. */
static int vm_info(struct vm_mgr *m, const char *ref, char *dir, size_t len, struct json_object **o,
                   struct json_object **disks, struct isola_err *err)
{
        struct json_object *paths, *log, *cfg;

        if (vm_mgr_inspect(m, ref, o, err) < 0)
                return -1;
        if (!json_object_object_get_ex(*o, "paths", &paths) ||
            !json_object_object_get_ex(paths, "console_log", &log))
                return err_set(err, EINVAL, "VM '%s': no data directory", ref);
        snprintf(dir, len, "%s", json_object_get_string(log));
        char *slash = strrchr(dir, '/');
        if (slash)
                *slash = 0;
        *disks = NULL;
        if (json_object_object_get_ex(*o, "config", &cfg))
                json_object_object_get_ex(cfg, "disks", disks);
        return 0;
}

static const char *disk_path(struct json_object *disks, size_t i)
{
        struct json_object *p;
        return json_object_object_get_ex(json_object_array_get_idx(disks, i), "path", &p)
                   ? json_object_get_string(p)
                   : "";
}

static int read_owned(const char *dir, char ***out, size_t *n)
{
        char p[PATH_MAX + 16], line[PATH_MAX + 2];

        *out = NULL;
        *n = 0;
        snprintf(p, sizeof(p), "%s/owned-disks", dir);
        FILE *f = fopen(p, "re");
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                char **more = realloc(*out, (*n + 1) * sizeof(char *));
                if (!more)
                        break;
                *out = more;
                if (line[0] == '/' && ((*out)[*n] = strdup(line)))
                        (*n)++;
        }
        fclose(f);
        return 0;
}

/* The images VM data directory `dir` owns (owned-disks: restored disks,
 * base copies) that build on what goes get copies in turn. */
static int adopt_owned(const char *dir, const char *tag, const struct drop_set *drop,
                       struct isola_err *err)
{
        char owned_file[PATH_MAX + 16], **owned = NULL;
        size_t n = 0;
        int rc = 0;

        snprintf(owned_file, sizeof(owned_file), "%s/owned-disks", dir);
        read_owned(dir, &owned, &n);
        for (size_t i = 0; i < n; i++) {
                if (rc == 0)
                        rc = adopt_base(owned[i], tag, owned_file, drop, err);
                free(owned[i]);
        }
        free(owned);
        return rc;
}

/* Every VM's disks, snapshot images and owned images that build on what
 * goes, but VM `skip`'s (NULL: none); tag names the copies. */
static int save_users(struct vm_mgr *m, const char *skip, const char *tag,
                      const struct drop_set *drop, struct isola_err *err)
{
        struct json_object *arr = NULL, *v;
        int rc = 0;

        if (vm_mgr_list(m, &arr, err) < 0)
                return -1;
        for (size_t i = 0; rc == 0 && i < json_object_array_length(arr); i++) {
                struct json_object *o = NULL, *disks = NULL;
                char dir[PATH_MAX], owned[PATH_MAX + 16];
                if (!json_object_object_get_ex(json_object_array_get_idx(arr, i), "id", &v) ||
                    (skip && !strcmp(json_object_get_string(v), skip)))
                        continue;
                if (vm_info(m, json_object_get_string(v), dir, sizeof(dir), &o, &disks, err) < 0) {
                        rc = -1;
                        break;
                }
                snprintf(owned, sizeof(owned), "%s/owned-disks", dir);
                for (size_t k = 0; rc == 0 && k < json_object_array_length(disks); k++)
                        rc = adopt_base(disk_path(disks, k), tag, owned, drop, err);
                struct other_ctx c = {tag, drop, err};
                if (rc == 0)
                        rc = for_snap_files(dir, adopt_snap_file, &c);
                if (rc == 0)
                        rc = adopt_owned(dir, tag, drop, err);
                json_object_put(o);
        }
        json_object_put(arr);
        return rc;
}

static bool is_owned(char **owned, size_t n, const char *path)
{
        for (size_t i = 0; i < n; i++)
                if (!strcmp(owned[i], path))
                        return true;
        return false;
}

static int unlink_file(const char *path, void *arg)
{
        (void)arg;
        (void)unlink(path);
        return 0;
}

static void remove_all(const char *dir, char **owned, size_t n)
{
        char p[PATH_MAX + 16];
        struct dirent *s;

        for_snap_files(dir, unlink_file, NULL);
        snprintf(p, sizeof(p), "%s/snapshots", dir);
        DIR *d = opendir(p);
        while (d && (s = readdir(d))) {
                char sub[PATH_MAX * 2];
                snprintf(sub, sizeof(sub), "%s/%s", p, s->d_name);
                if (s->d_name[0] != '.')
                        (void)rmdir(sub);
        }
        if (d)
                closedir(d);
        (void)rmdir(p);
        for (size_t i = 0; i < n; i++)
                (void)unlink(owned[i]);
        snprintf(p, sizeof(p), "%s/owned-disks", dir);
        (void)unlink(p);
        snprintf(p, sizeof(p), "%s/restore-request", dir);
        (void)unlink(p);
}

int vm_snap_drop_all(struct vm_mgr *m, const char *id, struct isola_err *err)
{
        struct json_object *o = NULL, *disks = NULL;
        char dir[PATH_MAX], **owned = NULL;
        size_t n_owned = 0;
        struct drop_set *drop = calloc(1, sizeof(*drop));

        if (!drop)
                return err_set(err, ENOMEM, "out of memory");
        int rc = vm_info(m, id, dir, sizeof(dir), &o, &disks, err);
        if (rc == 0) {
                read_owned(dir, &owned, &n_owned);
                for_snap_files(dir, add_drop_file, drop);
                for (size_t i = 0; i < n_owned; i++)
                        set_add(drop, owned[i]);
                char id12[13];
                snprintf(id12, sizeof(id12), "%s", id);
                rc = save_users(m, id, id12, drop, err);
        }
        /* The VM's own (user's) disks keep their content, standalone. */
        for (size_t k = 0; rc == 0 && k < json_object_array_length(disks); k++) {
                const char *p = disk_path(disks, k);
                char base[PATH_MAX];
                if (!is_owned(owned, n_owned, p) && builds_on_dropped(p, drop, base, sizeof(base)))
                        rc = flatten(p, p, drop, err);
        }
        if (rc == 0)
                remove_all(dir, owned, n_owned);
        for (size_t i = 0; i < n_owned; i++)
                free(owned[i]);
        free(owned);
        free(drop);
        json_object_put(o);
        return rc;
}

/* Adds every file of directory `dir` to the set. */
static void add_dir_files(struct drop_set *drop, const char *dir)
{
        char p[PATH_MAX * 2];
        struct dirent *e;
        DIR *d = opendir(dir);

        while (d && (e = readdir(d)))
                if (e->d_name[0] != '.') {
                        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
                        set_add(drop, p);
                }
        if (d)
                closedir(d);
}

int vm_snap_release(struct vm_mgr *m, const char *ref, const char *snap_dir, const char *snap,
                    struct isola_err *err)
{
        struct json_object *o = NULL, *idj;
        char tag[96];
        struct drop_set *drop = calloc(1, sizeof(*drop));

        if (!drop)
                return err_set(err, ENOMEM, "out of memory");
        int rc = vm_mgr_inspect(m, ref, &o, err);
        if (rc == 0 && !json_object_object_get_ex(o, "id", &idj))
                rc = err_set(err, EINVAL, "VM '%s': no id", ref);
        if (rc == 0) {
                snprintf(tag, sizeof(tag), "%.12s-%s", json_object_get_string(idj), snap);
                add_dir_files(drop, snap_dir);
                /* This VM's own images too (its disks running or not: only
                 * their headers change). */
                rc = save_users(m, NULL, tag, drop, err);
        }
        free(drop);
        json_object_put(o);
        return rc;
}

int vm_snap_own_disks(struct vm_mgr *m, const char *ref, const struct machine_config *cfg,
                      struct isola_err *err)
{
        char p[PATH_MAX];

        if (vm_mgr_path(m, ref, "log", p, sizeof(p), err) < 0)
                return -1;
        char *slash = strrchr(p, '/');
        if (!slash)
                return err_set(err, EINVAL, "VM '%s': unexpected data path '%s'", ref, p);
        *slash = 0;
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
                return err_sys(err, "'%s'", p);
        snprintf(slash, sizeof(p) - (size_t)(slash - p), "/owned-disks");
        FILE *f = fopen(p, "ae");
        if (!f)
                return err_sys(err, "'%s'", p);
        for (unsigned i = 0; i < cfg->n_disks; i++)
                if (!cfg->disks[i].readonly)
                        fprintf(f, "%s\n", cfg->disks[i].path);
        if (fclose(f) != 0)
                return err_sys(err, "'%s'", p);
        return 0;
}
