/* Names of images: tag (another name for an image) and remove (a name, or
 * the image with its names, refused while a container uses it). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine/events.h"
#include "image/store_internal.h"

int img_tag(struct img_store *s, const char *src, const char *new_name, struct isola_err *err)
{
        char id[IMG_DIGEST_MAX], norm[600];
        struct img_ref ref;
        sqlite3_stmt *st = NULL;
        int rc;

        if (img_ref_parse(new_name, &ref, err) < 0)
                return -1;
        if (!ref.tag[0])
                return err_set(err, EINVAL, "image name '%s': a tag name needs a tag, not a digest",
                               new_name);
        img_ref_format(&ref, norm, sizeof(norm));
        if (store_resolve(s, src, id, err) < 0)
                return -1;
        if (sqlite3_prepare_v2(s->db,
                               "INSERT OR REPLACE INTO image_names (name, image_id) VALUES (?, ?)",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(s->db, "image names", err);
        sqlite3_bind_text(st, 1, norm, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return db_fail(s->db, "image names", err);
        eng_event(s->db, "image", "tag", id, "name", norm);
        return 0;
}

static int64_t count_rows(struct img_store *s, const char *sql, const char *arg)
{
        sqlite3_stmt *st = NULL;
        int64_t n = -1;

        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW)
                        n = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        return n;
}

static int exec1(struct img_store *s, const char *sql, const char *arg, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        int rc;

        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
                return db_fail(s->db, "database", err);
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : db_fail(s->db, "database", err);
}

/* The name as stored when name_or_id is a name with a row, else "". */
static void stored_name(struct img_store *s, const char *name_or_id, const char *id, char *buf,
                        size_t len)
{
        struct img_ref ref;

        buf[0] = '\0';
        if (!strncmp(name_or_id, "sha256:", 7) || img_ref_parse(name_or_id, &ref, NULL) < 0)
                return;
        img_ref_format(&ref, buf, len);
        sqlite3_stmt *st = NULL;
        bool found = false;
        if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM image_names WHERE name = ? AND image_id = ?",
                               -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, buf, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
                found = sqlite3_step(st) == SQLITE_ROW;
        }
        sqlite3_finalize(st);
        if (!found && !strncmp(ref.repo, "library/", 8) && !strchr(name_or_id, '/')) {
                snprintf(buf, len, "localhost/%s:%s", ref.repo + 8, ref.tag);
                return; /* the short-name fallback of store_resolve */
        }
        if (!found)
                buf[0] = '\0';
}

static int remove_locked(struct img_store *s, const char *name_or_id, bool force,
                         struct isola_err *err)
{
        char id[IMG_DIGEST_MAX], name[600];
        uint64_t freed = 0;

        if (store_resolve(s, name_or_id, id, err) < 0)
                return -1;
        stored_name(s, name_or_id, id, name, sizeof(name));
        if (db_begin(s->db, err) < 0)
                return -1;
        int64_t names = count_rows(s, "SELECT COUNT(*) FROM image_names WHERE image_id = ?", id);
        int64_t users = count_rows(s, "SELECT COUNT(*) FROM containers WHERE image_id = ?", id);
        if (name[0] && names > 1) {
                /* another name keeps the image: untag only */
                if (exec1(s, "DELETE FROM image_names WHERE name = ?", name, err) < 0)
                        goto fail;
                eng_event(s->db, "image", "untag", id, "name", name);
                return db_commit(s->db, err);
        }
        if (!name[0] && names > 1 && !force) {
                err_set(err, EBUSY, "image %s: has %lld names (remove them, or use --force)", id,
                        (long long)names);
                goto fail;
        }
        if (users != 0) {
                if (!force) {
                        err_set(err, EBUSY, "image '%s': in use by %lld container(s)", name_or_id,
                                (long long)users);
                        goto fail;
                }
                /* As docker does: the image stays (a container needs its
                 * layers) without names; prune removes it once unused. */
                if (exec1(s, "DELETE FROM image_names WHERE image_id = ?", id, err) < 0)
                        goto fail;
                eng_event(s->db, "image", "untag", id, "name", name);
                return db_commit(s->db, err);
        }
        if (exec1(s, "DELETE FROM images WHERE id = ?", id, err) < 0)
                goto fail;
        if (name[0])
                eng_event(s->db, "image", "untag", id, "name", name);
        eng_event(s->db, "image", "delete", id, "name", name);
        if (db_commit(s->db, err) < 0)
                return -1;
        return store_gc(s, &freed, err);
fail:
        db_rollback(s->db);
        return -1;
}

int img_remove(struct img_store *s, const char *name_or_id, bool force, struct isola_err *err)
{
        int rc;

        if (img_store_lock(s, true, err) < 0)
                return -1;
        rc = remove_locked(s, name_or_id, force, err);
        img_store_unlock(s);
        return rc;
}
