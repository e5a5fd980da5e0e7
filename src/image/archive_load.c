/* `load`: an oci-archive (OCI image layout in a tar: index.json) or a
 * docker-archive (manifest.json), told apart by content, optionally gzip or
 * zstd compressed. Every file of the archive is staged in tmp/load-*, hashed
 * on the way; nothing reaches blobs/ before the whole archive was read and
 * every blob matched its digest, and blobs this load added are removed again
 * when registering fails. A docker-archive has no manifest: one is written
 * (OCI, with layer media types from the layers' content). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/events.h"
#include "image/store_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define LOAD_MAX_ENTRIES 100000
#define LOAD_LINK_DEPTH  8

struct staged {
        char *name;
        char *link; /* symlink target (archive path), or NULL */
        char path[PATH_MAX];
        char digest[IMG_DIGEST_MAX];
        int64_t size;
};

struct loader {
        struct img_store *s;
        char dir[PATH_MAX];
        struct staged *files;
        size_t n_files;
        char *index_json, *manifest_json; /* small control files */
        size_t index_len, manifest_len;
        char **added; /* blobs this load put into the store */
        size_t n_added;
        char **names; /* what was loaded */
        size_t n_names;
        char buf[128 << 10];
};

/* Cleans an archive path ("./a//b" -> "a/b"); NULL for '..' or absolute. */
static char *clean_path(const char *in, const char *base_dir)
{
        char joined[PATH_MAX * 2], out[PATH_MAX];
        size_t len = 0;

        if (in[0] == '/')
                return NULL;
        snprintf(joined, sizeof(joined), "%s%s%s", base_dir ? base_dir : "",
                 base_dir && base_dir[0] ? "/" : "", in);
        out[0] = '\0';
        for (char *save = NULL, *c = strtok_r(joined, "/", &save); c;
             c = strtok_r(NULL, "/", &save)) {
                if (!strcmp(c, "."))
                        continue;
                if (!strcmp(c, "..")) {
                        char *slash = strrchr(out, '/');
                        if (!len)
                                return NULL;
                        len = slash ? (size_t)(slash - out) : 0;
                        out[len] = '\0';
                        continue;
                }
                if (len + strlen(c) + 2 > sizeof(out))
                        return NULL;
                len += (size_t)sprintf(out + len, "%s%s", len ? "/" : "", c);
        }
        return len ? strdup(out) : NULL;
}

static struct staged *find(struct loader *ld, const char *name)
{
        for (int depth = 0; depth < LOAD_LINK_DEPTH; depth++) {
                struct staged *hit = NULL;
                for (size_t i = 0; i < ld->n_files && !hit; i++) {
                        if (!strcmp(ld->files[i].name, name))
                                hit = &ld->files[i];
                }
                if (!hit || !hit->link)
                        return hit;
                name = hit->link;
        }
        return NULL;
}

static struct staged *add_staged(struct loader *ld, char *name, struct isola_err *err)
{
        struct staged *grown;

        if (ld->n_files >= LOAD_MAX_ENTRIES) {
                free(name);
                err_set(err, EFBIG, "more than %d files", LOAD_MAX_ENTRIES);
                return NULL;
        }
        grown = realloc(ld->files, (ld->n_files + 1) * sizeof(*grown));
        if (!grown) {
                free(name);
                err_set(err, ENOMEM, "out of memory");
                return NULL;
        }
        ld->files = grown;
        memset(&grown[ld->n_files], 0, sizeof(*grown));
        grown[ld->n_files].name = name;
        return &grown[ld->n_files++];
}

static int stage_file(struct loader *ld, struct archive *a, struct staged *f, struct isola_err *err)
{
        struct img_sha sha;

        snprintf(f->path, sizeof(f->path), "%s/%zu", ld->dir, ld->n_files);
        _cleanup_close_ int fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return err_sys(err, "'%s'", f->path);
        if (img_sha_init(&sha, err) < 0)
                return -1;
        for (;;) {
                la_ssize_t n = archive_read_data(a, ld->buf, sizeof(ld->buf));
                if (n < 0) {
                        img_sha_free(&sha);
                        return err_set(err, EIO, "'%s': %s", f->name, archive_error_string(a));
                }
                if (n == 0)
                        break;
                img_sha_update(&sha, ld->buf, (size_t)n);
                if (fs_write_all(fd, ld->buf, (size_t)n) < 0) {
                        img_sha_free(&sha);
                        return err_sys(err, "write '%s'", f->path);
                }
                f->size += n;
        }
        img_sha_final(&sha, f->digest);
        if (fsync(fd) < 0)
                return err_sys(err, "fsync '%s'", f->path);
        return 0;
}

static int read_small(struct archive *a, const char *name, char **out, size_t *len,
                      struct isola_err *err)
{
        size_t cap = 0;
        char *buf = NULL;

        free(*out);
        *out = NULL;
        *len = 0;
        for (;;) {
                if (*len + 65536 + 1 > cap) {
                        if (cap > IMG_MANIFEST_MAX) {
                                free(buf);
                                return err_set(err, EFBIG, "'%s': larger than %u bytes", name,
                                               IMG_MANIFEST_MAX);
                        }
                        cap = cap ? cap * 2 : 65536 * 2;
                        char *grown = realloc(buf, cap);
                        if (!grown) {
                                free(buf);
                                return err_set(err, ENOMEM, "out of memory");
                        }
                        buf = grown;
                }
                la_ssize_t n = archive_read_data(a, buf + *len, 65536);
                if (n < 0) {
                        free(buf);
                        return err_set(err, EIO, "'%s': %s", name, archive_error_string(a));
                }
                if (n == 0)
                        break;
                *len += (size_t)n;
        }
        buf[*len] = '\0';
        *out = buf;
        return 0;
}

static int read_archive(struct loader *ld, const char *path, struct isola_err *err)
{
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        int r, rc = -1;

        if (!a)
                return err_set(err, ENOMEM, "out of memory");
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_zstd(a);
        archive_read_support_format_tar(a);
        if (archive_read_open_filename(a, path, sizeof(ld->buf)) != ARCHIVE_OK) {
                err_set(err, EINVAL, "not a tar archive: %s", archive_error_string(a));
                goto out;
        }
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                const char *raw = archive_entry_pathname(e);
                char *name = raw ? clean_path(raw, NULL) : NULL;
                unsigned type = archive_entry_filetype(e);
                if (!name)
                        continue;
                if (type == AE_IFREG && !archive_entry_hardlink(e) &&
                    (!strcmp(name, "index.json") || !strcmp(name, "manifest.json"))) {
                        bool idx = !strcmp(name, "index.json");
                        int k = read_small(a, name, idx ? &ld->index_json : &ld->manifest_json,
                                           idx ? &ld->index_len : &ld->manifest_len, err);
                        free(name);
                        if (k < 0)
                                goto out;
                        continue;
                }
                if (type == AE_IFLNK || archive_entry_hardlink(e)) {
                        const char *t = archive_entry_hardlink(e) ?: archive_entry_symlink(e);
                        char *dir = strdup(name), *slash = dir ? strrchr(dir, '/') : NULL;
                        if (slash)
                                *slash = '\0';
                        struct staged *f = add_staged(ld, name, err);
                        if (!f) {
                                free(dir);
                                goto out;
                        }
                        f->link =
                            t ? clean_path(t, archive_entry_hardlink(e) || !slash ? NULL : dir)
                              : NULL;
                        free(dir);
                        continue;
                }
                if (type != AE_IFREG) {
                        free(name);
                        continue;
                }
                struct staged *f = add_staged(ld, name, err);
                if (!f || stage_file(ld, a, f, err) < 0)
                        goto out;
        }
        if (r != ARCHIVE_EOF) {
                err_set(err, EINVAL, "corrupt archive: %s", archive_error_string(a));
                goto out;
        }
        rc = 0;
out:
        archive_read_free(a);
        return rc;
}

/* Moves a staged file into blobs/ (its digest already known). */
static int adopt(struct loader *ld, struct staged *f, struct isola_err *err)
{
        bool added = false;

        if (access(f->path, F_OK) != 0)
                return 0; /* adopted before (the same blob for two images) */
        if (store_blob_adopt(ld->s, f->path, f->digest, &added, err) < 0)
                return -1;
        if (added && img_strv_push(&ld->added, &ld->n_added, f->digest) < 0)
                return err_set(err, ENOMEM, "out of memory");
        return 0;
}

static int put_tracked(struct loader *ld, const char *buf, size_t len, char digest[IMG_DIGEST_MAX],
                       struct isola_err *err)
{
        bool existed;

        if (img_sha_buf(buf, len, digest, err) < 0)
                return -1;
        existed = img_blob_exists(ld->s, digest);
        if (img_blob_put(ld->s, buf, len, digest, err) < 0)
                return -1;
        if (!existed && img_strv_push(&ld->added, &ld->n_added, digest) < 0)
                return err_set(err, ENOMEM, "out of memory");
        return 0;
}

static int register_named(struct loader *ld, const char *manifest_digest, char **names,
                          struct isola_err *err)
{
        char id[IMG_DIGEST_MAX];

        if (!names || !names[0]) {
                if (img_register(ld->s, manifest_digest, NULL, id, err) < 0)
                        return -1;
                return img_strv_push(&ld->names, &ld->n_names, id) < 0
                           ? err_set(err, ENOMEM, "out of memory")
                           : 0;
        }
        for (size_t i = 0; names[i]; i++) {
                struct img_ref ref;
                char norm[600];
                if (img_ref_parse(names[i], &ref, err) < 0 ||
                    img_register(ld->s, manifest_digest, names[i], id, err) < 0)
                        return -1;
                img_ref_format(&ref, norm, sizeof(norm));
                if (img_strv_push(&ld->names, &ld->n_names, norm) < 0)
                        return err_set(err, ENOMEM, "out of memory");
        }
        return 0;
}

/* Puts blob `digest` from the archive into the store, checking the staged
 * bytes hash to it (a truncated or altered blob is refused here). */
static int adopt_digest(struct loader *ld, const char *digest, struct isola_err *err)
{
        char name[100];
        struct staged *f;

        if (!img_digest_valid(digest))
                return err_set(err, EINVAL, "blob '%s': not a sha256 digest", digest);
        snprintf(name, sizeof(name), "blobs/sha256/%s", digest + 7);
        f = find(ld, name);
        if (!f)
                return img_blob_exists(ld->s, digest)
                           ? 0
                           : err_set(err, ENOENT, "blob %s: missing from the archive", digest);
        if (strcmp(f->digest, digest) != 0)
                return err_set(err, EIO, "blob %s: content does not match its digest (is %s)",
                               digest, f->digest);
        return adopt(ld, f, err);
}

/* The names an index entry carries: containerd's full name, else the OCI
 * ref name when it is a full reference (a bare tag names nothing). */
static int entry_names(json_object *entry, char ***names, size_t *n, struct isola_err *err)
{
        json_object *ann;
        const char *name = NULL;
        struct img_ref ref;

        if (!json_object_object_get_ex(entry, "annotations", &ann))
                return 0;
        name = ijson_str(ann, "io.containerd.image.name");
        if (!name) {
                name = ijson_str(ann, "org.opencontainers.image.ref.name");
                if (name && !strchr(name, '/') && !strchr(name, ':'))
                        name = NULL;
        }
        if (!name || img_ref_parse(name, &ref, NULL) < 0)
                return 0;
        return img_strv_push(names, n, name) < 0 ? err_set(err, ENOMEM, "out of memory") : 0;
}

static int read_staged_blob(struct loader *ld, const char *digest, size_t max, char **buf,
                            size_t *len, struct isola_err *err)
{
        if (adopt_digest(ld, digest, err) < 0)
                return -1;
        return img_blob_read(ld->s, digest, max, buf, len, err);
}

static int load_oci_entry(struct loader *ld, json_object *entry, struct isola_err *err)
{
        struct img_descriptor d;
        struct img_manifest m;
        char digest[IMG_DIGEST_MAX], **names = NULL;
        size_t n_names = 0, len;
        char *buf = NULL;
        int rc = -1;

        if (ijson_descriptor(entry, &d, "index.json", err) < 0)
                return -1;
        snprintf(digest, sizeof(digest), "%s", d.digest);
        if (read_staged_blob(ld, digest, IMG_MANIFEST_MAX, &buf, &len, err) < 0)
                return -1;
        if (img_detect_kind(buf, len, d.media_type) == IMG_KIND_INDEX) {
                struct img_index idx;
                const struct img_descriptor *pick;
                int k = img_index_parse(buf, len, &idx, err);
                free(buf);
                buf = NULL;
                if (k < 0)
                        return -1;
                k = img_index_select(&idx, NULL, &pick, err);
                if (k == 0)
                        snprintf(digest, sizeof(digest), "%s", pick->digest);
                img_index_free(&idx);
                if (k < 0 || read_staged_blob(ld, digest, IMG_MANIFEST_MAX, &buf, &len, err) < 0)
                        return -1;
        }
        if (img_manifest_parse(buf, len, &m, err) < 0) {
                free(buf);
                return -1;
        }
        free(buf);
        if (adopt_digest(ld, m.config.digest, err) < 0)
                goto out;
        for (size_t i = 0; i < m.n_layers; i++) {
                if (adopt_digest(ld, m.layers[i].digest, err) < 0)
                        goto out;
        }
        if (entry_names(entry, &names, &n_names, err) < 0)
                goto out;
        rc = register_named(ld, digest, names, err);
out:
        img_strv_free(names);
        img_manifest_free(&m);
        return rc;
}

static int load_oci(struct loader *ld, struct isola_err *err)
{
        json_object *idx = ijson_parse(ld->index_json, ld->index_len, "index.json", err), *list;
        int rc = -1;

        if (!idx)
                return -1;
        if (!json_object_object_get_ex(idx, "manifests", &list) ||
            !json_object_is_type(list, json_type_array) || !json_object_array_length(list) ||
            json_object_array_length(list) > 1024) {
                err_set(err, EINVAL, "index.json: 'manifests' missing, empty or too long");
                goto out;
        }
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                if (load_oci_entry(ld, json_object_array_get_idx(list, i), err) < 0)
                        goto out;
        }
        rc = 0;
out:
        json_object_put(idx);
        return rc;
}

/* A docker-archive file (config or layer) into the store by its content. */
static struct staged *adopt_path(struct loader *ld, json_object *v, const char *what,
                                 struct isola_err *err)
{
        const char *p = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
        char *clean = p ? clean_path(p, NULL) : NULL;
        struct staged *f = clean ? find(ld, clean) : NULL;

        free(clean);
        if (!f) {
                err_set(err, ENOENT, "manifest.json: %s '%s' not in the archive", what,
                        p ? p : "?");
                return NULL;
        }
        return adopt(ld, f, err) < 0 ? NULL : f;
}

static int docker_manifest(struct loader *ld, json_object *entry, const struct staged *cfg,
                           char digest[IMG_DIGEST_MAX], struct isola_err *err)
{
        json_object *layers, *man = json_object_new_object(), *ml = json_object_new_array();
        _cleanup_free_ char *text = NULL;
        size_t len;
        int rc = -1;

        json_object_object_add(man, "schemaVersion", json_object_new_int(2));
        json_object_object_add(man, "mediaType", json_object_new_string(MT_OCI_MANIFEST));
        json_object_object_add(man, "config",
                               ijson_descriptor_new(MT_OCI_CONFIG, cfg->digest, cfg->size));
        json_object_object_add(man, "layers", ml);
        if (!json_object_object_get_ex(entry, "Layers", &layers) ||
            !json_object_is_type(layers, json_type_array) ||
            json_object_array_length(layers) > IMG_MAX_LAYERS) {
                err_set(err, EINVAL, "manifest.json: 'Layers' missing or too long");
                goto out;
        }
        for (size_t i = 0; i < json_object_array_length(layers); i++) {
                struct staged *f =
                    adopt_path(ld, json_object_array_get_idx(layers, i), "layer", err);
                if (!f)
                        goto out;
                json_object_array_add(ml,
                                      ijson_descriptor_new(layer_media_type_of(ld->s, f->digest),
                                                           f->digest, f->size));
        }
        text = ijson_dump(man, &len);
        if (!text) {
                err_set(err, ENOMEM, "out of memory");
                goto out;
        }
        rc = put_tracked(ld, text, len, digest, err);
out:
        json_object_put(man);
        return rc;
}

static int load_docker_entry(struct loader *ld, json_object *entry, struct isola_err *err)
{
        json_object *cfg_v, *tags;
        char digest[IMG_DIGEST_MAX], **names = NULL;
        size_t n_names = 0;
        int rc = -1;

        if (!json_object_is_type(entry, json_type_object) ||
            !json_object_object_get_ex(entry, "Config", &cfg_v))
                return err_set(err, EINVAL, "manifest.json: entry without 'Config'");
        struct staged *cfg = adopt_path(ld, cfg_v, "config", err);
        if (!cfg || docker_manifest(ld, entry, cfg, digest, err) < 0)
                return -1;
        if (json_object_object_get_ex(entry, "RepoTags", &tags) &&
            json_object_is_type(tags, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(tags) && i < 1024; i++) {
                        json_object *t = json_object_array_get_idx(tags, i);
                        if (json_object_is_type(t, json_type_string) &&
                            img_strv_push(&names, &n_names, json_object_get_string(t)) < 0) {
                                img_strv_free(names);
                                return err_set(err, ENOMEM, "out of memory");
                        }
                }
        }
        rc = register_named(ld, digest, names, err);
        img_strv_free(names);
        return rc;
}

static int load_docker(struct loader *ld, struct isola_err *err)
{
        json_object *list = ijson_parse_type(ld->manifest_json, ld->manifest_len, "manifest.json",
                                             json_type_array, err);
        int rc = -1;

        if (!list)
                return -1;
        if (!json_object_array_length(list) || json_object_array_length(list) > 1024) {
                err_set(err, EINVAL, "manifest.json: no images or too many");
                goto out;
        }
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                if (load_docker_entry(ld, json_object_array_get_idx(list, i), err) < 0)
                        goto out;
        }
        rc = 0;
out:
        json_object_put(list);
        return rc;
}

static void loader_free(struct loader *ld, bool failed)
{
        if (failed) {
                for (size_t i = 0; i < ld->n_added; i++) {
                        if (!store_blob_referenced(ld->s, ld->added[i])) {
                                char p[PATH_MAX];
                                img_blob_path(ld->s, ld->added[i], p, sizeof(p));
                                unlink(p);
                        }
                }
        }
        for (size_t i = 0; i < ld->n_files; i++) {
                free(ld->files[i].name);
                free(ld->files[i].link);
        }
        free(ld->files);
        free(ld->index_json);
        free(ld->manifest_json);
        img_strv_free(ld->added);
        if (ld->dir[0])
                store_rm_tree(ld->dir);
}

int img_load(struct img_store *s, const char *path, char ***names_out, struct isola_err *err)
{
        struct loader *ld = calloc(1, sizeof(*ld));
        int rc = -1;

        if (names_out)
                *names_out = NULL;
        if (!ld)
                return err_set(err, ENOMEM, "out of memory");
        ld->s = s;
        if (access(path, R_OK) < 0) {
                err_sys(err, "load '%s'", path);
                free(ld);
                return -1;
        }
        if (img_store_lock(s, false, err) < 0) {
                free(ld);
                return -1;
        }
        if (store_tmp_path(s, "load", ld->dir, sizeof(ld->dir), err) < 0)
                goto out;
        if (mkdir(ld->dir, 0700) < 0) {
                err_sys(err, "'%s'", ld->dir);
                ld->dir[0] = '\0';
                goto out;
        }
        if (read_archive(ld, path, err) < 0)
                goto out;
        if (ld->index_json)
                rc = load_oci(ld, err);
        else if (ld->manifest_json)
                rc = load_docker(ld, err);
        else
                rc = err_set(err, EINVAL,
                             "neither an oci-archive (index.json) nor a "
                             "docker-archive (manifest.json)");
out:
        loader_free(ld, rc < 0);
        img_store_unlock(s);
        for (size_t i = 0; rc == 0 && ld->names && ld->names[i]; i++)
                eng_event(s->db, "image", "load", ld->names[i], "name", ld->names[i]);
        if (rc == 0 && names_out)
                *names_out = steal_ptr(&ld->names);
        img_strv_free(ld->names);
        free(ld);
        return rc < 0 ? err_prefix(err, "load '%s'", path) : 0;
}
