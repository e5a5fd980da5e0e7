/* Images: registering a manifest whose blobs are in the store (unpacking its
 * layers, then one transaction for the rows), and looking images up by name,
 * id or id prefix. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/store_internal.h"

/* Reads the manifest (choosing from an index for the host platform). */
static int read_manifest(struct img_store *s, const char *digest, char chosen[IMG_DIGEST_MAX],
                         struct img_manifest *m, struct isola_err *err)
{
        char *buf = NULL;
        size_t len = 0;
        int rc;

        snprintf(chosen, IMG_DIGEST_MAX, "%s", digest);
        if (img_blob_read(s, digest, IMG_MANIFEST_MAX, &buf, &len, err) < 0)
                return err_prefix(err, "manifest");
        if (img_detect_kind(buf, len, NULL) == IMG_KIND_INDEX) {
                struct img_index idx;
                const struct img_descriptor *d;
                rc = img_index_parse(buf, len, &idx, err);
                free(buf);
                if (rc < 0)
                        return -1;
                rc = img_index_select(&idx, NULL, &d, err);
                if (rc == 0)
                        snprintf(chosen, IMG_DIGEST_MAX, "%s", d->digest);
                img_index_free(&idx);
                if (rc < 0)
                        return -1;
                if (img_blob_read(s, chosen, IMG_MANIFEST_MAX, &buf, &len, err) < 0)
                        return err_prefix(err, "manifest");
        }
        rc = img_manifest_parse(buf, len, m, err);
        free(buf);
        return rc;
}

static int read_config(struct img_store *s, const struct img_manifest *m, struct img_config *c,
                       struct isola_err *err)
{
        char *buf = NULL;
        size_t len = 0;
        int rc;

        if (img_blob_read(s, m->config.digest, IMG_CONFIG_MAX, &buf, &len, err) < 0)
                return err_prefix(err, "config");
        rc = img_config_parse(buf, len, c, err);
        free(buf);
        return rc;
}

static int64_t layers_size(struct img_store *s, const struct img_config *c)
{
        sqlite3_stmt *st = NULL;
        int64_t total = 0;

        if (sqlite3_prepare_v2(s->db, "SELECT size FROM layers WHERE diff_id = ?", -1, &st, NULL) !=
            SQLITE_OK)
                return 0;
        for (size_t i = 0; i < c->n_diff_ids; i++) {
                sqlite3_reset(st);
                sqlite3_bind_text(st, 1, c->diff_ids[i], -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW)
                        total += sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        return total;
}

static int exec_bound(struct img_store *s, const char *sql, const char *const *texts, size_t n,
                      const int64_t *ints, size_t n_ints, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        int rc;

        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
                return db_fail(s->db, "database", err);
        for (size_t i = 0; i < n; i++)
                sqlite3_bind_text(st, (int)i + 1, texts[i], -1, SQLITE_STATIC);
        for (size_t i = 0; i < n_ints; i++)
                sqlite3_bind_int64(st, (int)(n + i) + 1, ints[i]);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return db_fail(s->db, "database", err);
        return 0;
}

static int write_rows(struct img_store *s, const char *manifest_digest,
                      const struct img_manifest *m, const struct img_config *c, const char *name,
                      struct isola_err *err)
{
        const char *id = m->config.digest;
        int64_t ints[3] = {c->created, store_now(), layers_size(s, c)};

        if (db_begin(s->db, err) < 0)
                return -1;
        const char *t[] = {id, manifest_digest, m->media_type};
        if (exec_bound(s,
                       "INSERT OR IGNORE INTO images (id, manifest_digest, manifest_media_type,"
                       " created, added, size) VALUES (?, ?, ?, ?, ?, ?)",
                       t, 3, ints, 3, err) < 0)
                goto fail;
        if (sqlite3_changes(s->db) == 1) {
                for (size_t i = 0; i < m->n_layers; i++) {
                        const char *lt[] = {id, c->diff_ids[i], m->layers[i].digest,
                                            m->layers[i].media_type};
                        int64_t li[] = {(int64_t)i, m->layers[i].size};
                        if (exec_bound(s,
                                       "INSERT INTO image_layers (image_id, diff_id, blob_digest,"
                                       " media_type, idx, blob_size) VALUES (?, ?, ?, ?, ?, ?)",
                                       lt, 4, li, 2, err) < 0)
                                goto fail;
                }
        }
        if (name) {
                const char *nt[] = {name, id};
                if (exec_bound(s,
                               "INSERT OR REPLACE INTO image_names (name, image_id) VALUES (?, ?)",
                               nt, 2, NULL, 0, err) < 0)
                        goto fail;
        }
        return db_commit(s->db, err);
fail:
        db_rollback(s->db);
        return -1;
}

static int register_locked(struct img_store *s, const char *manifest_digest, const char *name,
                           char id_out[IMG_DIGEST_MAX], struct isola_err *err)
{
        struct img_manifest m;
        struct img_config c;
        char chosen[IMG_DIGEST_MAX], norm[600];
        int rc = -1;

        if (name) {
                struct img_ref ref;
                if (img_ref_parse(name, &ref, err) < 0)
                        return -1;
                img_ref_format(&ref, norm, sizeof(norm));
                name = norm;
        }
        if (read_manifest(s, manifest_digest, chosen, &m, err) < 0)
                return -1;
        if (read_config(s, &m, &c, err) < 0) {
                img_manifest_free(&m);
                return -1;
        }
        if (m.n_layers != c.n_diff_ids) {
                err_set(err, EINVAL, "manifest has %zu layers, config %zu diff ids", m.n_layers,
                        c.n_diff_ids);
                goto out;
        }
        for (size_t i = 0; i < m.n_layers; i++) {
                if (img_layer_unpack(s, m.layers[i].digest, c.diff_ids[i], err) < 0)
                        goto out;
        }
        if (write_rows(s, chosen, &m, &c, name, err) < 0)
                goto out;
        if (id_out)
                snprintf(id_out, IMG_DIGEST_MAX, "%s", m.config.digest);
        rc = 0;
out:
        img_manifest_free(&m);
        img_config_free(&c);
        return rc;
}

int img_register(struct img_store *s, const char *manifest_digest, const char *name,
                 char id_out[IMG_DIGEST_MAX], struct isola_err *err)
{
        int rc;

        if (img_store_lock(s, false, err) < 0)
                return -1;
        rc = register_locked(s, manifest_digest, name, id_out, err);
        img_store_unlock(s);
        if (rc < 0)
                return err_prefix(err, "image %s", name ? name : manifest_digest);
        return 0;
}

/* ---- lookup ---------------------------------------------------------- */

static int id_by_sql(struct img_store *s, const char *sql, const char *arg,
                     char id_out[IMG_DIGEST_MAX], int *count)
{
        sqlite3_stmt *st = NULL;

        *count = 0;
        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
                return -1;
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(st) == SQLITE_ROW) {
                if (++*count == 1)
                        snprintf(id_out, IMG_DIGEST_MAX, "%s", sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
        return 0;
}

static bool hex_prefix(const char *s, size_t min)
{
        size_t n = strlen(s);

        if (n < min || n > 64)
                return false;
        for (; *s; s++) {
                if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
                        return false;
        }
        return true;
}

static int by_name(struct img_store *s, const char *in, char id_out[IMG_DIGEST_MAX], int *count,
                   struct isola_err *err)
{
        struct img_ref ref;
        char norm[600];

        if (img_ref_parse(in, &ref, err) < 0)
                return -1;
        if (!ref.tag[0] && ref.digest[0])
                return id_by_sql(s, "SELECT id FROM images WHERE manifest_digest = ?", ref.digest,
                                 id_out, count);
        img_ref_format(&ref, norm, sizeof(norm));
        id_by_sql(s, "SELECT image_id FROM image_names WHERE name = ?", norm, id_out, count);
        /* A short name also matches a local image named localhost/NAME, as
         * podman's short-name lookup does. */
        if (*count == 0 && !strchr(in, '/') && !strncmp(ref.repo, "library/", 8)) {
                snprintf(norm, sizeof(norm), "localhost/%s:%s", ref.repo + 8, ref.tag);
                id_by_sql(s, "SELECT image_id FROM image_names WHERE name = ?", norm, id_out,
                          count);
        }
        return 0;
}

int store_resolve(struct img_store *s, const char *name_or_id, char id_out[IMG_DIGEST_MAX],
                  struct isola_err *err)
{
        const char *hex = name_or_id;
        char pattern[80];
        int count = 0;
        struct isola_err name_err = {0};
        int name_rc = -1;

        if (!strncmp(hex, "sha256:", 7))
                hex += 7;
        else
                name_rc = by_name(s, name_or_id, id_out, &count, &name_err);
        if (count > 0)
                return 0;
        if (hex_prefix(hex, 4)) {
                snprintf(pattern, sizeof(pattern), "sha256:%s*", hex);
                id_by_sql(s, "SELECT id FROM images WHERE id GLOB ?", pattern, id_out, &count);
                if (count == 1)
                        return 0;
                if (count > 1)
                        return err_set(err, EINVAL, "image '%s': id prefix is ambiguous",
                                       name_or_id);
        }
        if (name_rc < 0 && hex == name_or_id && !hex_prefix(hex, 4)) {
                *err = name_err;
                return -1;
        }
        return err_set(err, ENOENT, "image '%s': not known", name_or_id);
}

static int load_names(struct img_store *s, struct img_image *img, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        size_t n = 0;

        if (sqlite3_prepare_v2(s->db,
                               "SELECT name FROM image_names WHERE image_id = ? ORDER BY name", -1,
                               &st, NULL) != SQLITE_OK)
                return db_fail(s->db, "image names", err);
        sqlite3_bind_text(st, 1, img->id, -1, SQLITE_STATIC);
        img->names = calloc(1, sizeof(char *));
        while (img->names && sqlite3_step(st) == SQLITE_ROW) {
                if (img_strv_push(&img->names, &n, (const char *)sqlite3_column_text(st, 0)) < 0)
                        break;
        }
        sqlite3_finalize(st);
        return img->names ? 0 : err_set(err, ENOMEM, "out of memory");
}

static int load_row(struct img_store *s, const char *id, struct img_image *img,
                    struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        int rc;

        if (sqlite3_prepare_v2(s->db,
                               "SELECT manifest_digest, manifest_media_type, created, added, size"
                               " FROM images WHERE id = ?",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(s->db, "images", err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                snprintf(img->id, sizeof(img->id), "%s", id);
                snprintf(img->manifest_digest, sizeof(img->manifest_digest), "%s",
                         sqlite3_column_text(st, 0));
                snprintf(img->manifest_media_type, sizeof(img->manifest_media_type), "%s",
                         sqlite3_column_text(st, 1));
                img->created = sqlite3_column_int64(st, 2);
                img->added = sqlite3_column_int64(st, 3);
                img->size = sqlite3_column_int64(st, 4);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW)
                return err_set(err, ENOENT, "image %s: not known", id);
        return load_names(s, img, err);
}

static int load_layers(struct img_store *s, struct img_image *img, struct isola_err *err)
{
        size_t n = img->config.n_diff_ids;

        img->layer_dirs = calloc(n + 1, sizeof(char *));
        if (!img->layer_dirs)
                return err_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                char dir[PATH_MAX];
                img_layer_dir(s, img->config.diff_ids[i], dir, sizeof(dir));
                img->layer_dirs[i] = strdup(dir);
                if (!img->layer_dirs[i])
                        return err_set(err, ENOMEM, "out of memory");
        }
        img->n_layers = n;
        return 0;
}

int img_lookup(struct img_store *s, const char *name_or_id, struct img_image **out,
               struct isola_err *err)
{
        char id[IMG_DIGEST_MAX], chosen[IMG_DIGEST_MAX];
        struct img_image *img;

        if (store_resolve(s, name_or_id, id, err) < 0)
                return -1;
        img = calloc(1, sizeof(*img));
        if (!img)
                return err_set(err, ENOMEM, "out of memory");
        if (load_row(s, id, img, err) < 0 ||
            read_manifest(s, img->manifest_digest, chosen, &img->manifest, err) < 0 ||
            read_config(s, &img->manifest, &img->config, err) < 0 || load_layers(s, img, err) < 0) {
                img_image_free(img);
                return err_prefix(err, "image '%s'", name_or_id);
        }
        *out = img;
        return 0;
}

void img_image_free(struct img_image *img)
{
        if (!img)
                return;
        img_strv_free(img->names);
        img_strv_free(img->layer_dirs);
        img_manifest_free(&img->manifest);
        img_config_free(&img->config);
        free(img);
}

int img_list(struct img_store *s, struct img_image ***out, size_t *n_out, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        struct img_image **v = NULL;
        size_t n = 0;
        int rc = 0;

        *out = NULL;
        *n_out = 0;
        if (sqlite3_prepare_v2(s->db, "SELECT id FROM images ORDER BY added DESC, id", -1, &st,
                               NULL) != SQLITE_OK)
                return db_fail(s->db, "images", err);
        while (sqlite3_step(st) == SQLITE_ROW) {
                struct img_image **grown = realloc(v, (n + 1) * sizeof(struct img_image *));
                if (!grown) {
                        rc = err_set(err, ENOMEM, "out of memory");
                        break;
                }
                v = grown;
                v[n] = calloc(1, sizeof(**v));
                if (!v[n]) {
                        rc = err_set(err, ENOMEM, "out of memory");
                        break;
                }
                n++;
                if (load_row(s, (const char *)sqlite3_column_text(st, 0), v[n - 1], err) < 0) {
                        rc = -1;
                        break;
                }
        }
        sqlite3_finalize(st);
        if (rc < 0) {
                for (size_t i = 0; i < n; i++)
                        img_image_free(v[i]);
                free(v);
                return -1;
        }
        *out = v;
        *n_out = n;
        return 0;
}
