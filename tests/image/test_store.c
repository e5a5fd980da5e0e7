/* The store below the CLI: blobs verified on write and read-back, layers
 * that fail (digest mismatch, hostile entry) leave nothing behind, images
 * registered, looked up, extended (img_create_from_layers), removed and
 * pruned down to an empty store. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "layer_tar.h"
#include "tap.h"
#include "util/cleanup.h"

static char root[64];

static int count_entries(const char *sub)
{
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "find '%s/%s' -mindepth 1 -maxdepth 1 | wc -l", root, sub);
        FILE *p = popen(cmd, "r");
        int n = -1;
        if (p && fscanf(p, "%d", &n) != 1)
                n = -1;
        if (p)
                pclose(p);
        return n;
}

static int rows(sqlite3 *db, const char *table)
{
        char sql[128];
        sqlite3_stmt *st;
        int n = -1;

        snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
                n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return n;
}

static void blobs(struct img_store *s)
{
        char d[IMG_DIGEST_MAX], path[PATH_MAX], *buf = NULL;
        struct isola_err err = {0};
        struct img_blob_writer *w;
        size_t len;

        tap_ok(img_blob_put(s, "hello", 5, d, &err) == 0 && img_blob_exists(s, d), "blob put");
        tap_ok(img_blob_read(s, d, 100, &buf, &len, &err) == 0 && len == 5 &&
                   !memcmp(buf, "hello", 5),
               "blob read back");
        free(buf);
        tap_ok(img_blob_read(s, d, 4, &buf, &len, &err) < 0 && err.errnum == EFBIG,
               "blob read bounded by max");
        img_blob_path(s, d, path, sizeof(path));
        FILE *f = fopen(path, "w");
        fputs("HELLO", f);
        fclose(f);
        tap_ok(img_blob_read(s, d, 100, &buf, &len, &err) < 0 && strstr(err.msg, "does not match"),
               "corrupted blob detected on read-back (%s)", err.msg);
        unlink(path);

        char wrong[IMG_DIGEST_MAX];
        snprintf(wrong, sizeof(wrong), "sha256:%064d", 0);
        tap_ok(img_blob_writer_open(s, wrong, -1, &w, &err) == 0, "writer open");
        img_blob_writer_write(w, "abc", 3, &err);
        tap_ok(img_blob_writer_commit(w, d, &err) < 0 && strstr(err.msg, "digest mismatch") &&
                   !img_blob_exists(s, wrong),
               "writer refuses content that is not its digest");
        tap_ok(img_blob_writer_open(s, NULL, 2, &w, &err) == 0 &&
                   img_blob_writer_write(w, "abc", 3, &err) < 0 && err.errnum == EFBIG,
               "writer refuses more than the expected size");
        img_blob_writer_abort(w);
        TAP_EQ_INT(count_entries("tmp"), 0, "no temp files left by failed writers");
}

/* Puts a layer, config and manifest; returns the manifest digest. */
static int make_image(struct img_store *s, const struct tar_ent *e, size_t n, bool bad_diff,
                      char manifest_out[IMG_DIGEST_MAX], char layer_out[IMG_DIGEST_MAX])
{
        char *tar = NULL, *gz = NULL, plain_d[IMG_DIGEST_MAX], cfg_d[IMG_DIGEST_MAX], json[2048];
        size_t tlen = tar_build(e, n, TAR_PLAIN, &tar), glen = tar_build(e, n, TAR_GZIP, &gz);
        struct isola_err err = {0};
        int rc;

        rc = img_blob_put(s, tar, tlen, plain_d, &err); /* for its digest: the diff id */
        rc |= img_blob_put(s, gz, glen, layer_out, &err);
        free(tar);
        free(gz);
        snprintf(json, sizeof(json),
                 "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/bin/sh\"]},"
                 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                 bad_diff
                     ? "sha256:1111111111111111111111111111111111111111111111111111111111111111"
                     : plain_d);
        rc |= img_blob_put(s, json, strlen(json), cfg_d, &err);
        int clen = (int)strlen(json);
        snprintf(
            json, sizeof(json),
            "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
            "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
            "\"digest\":\"%s\",\"size\":%d},\"layers\":[{\"mediaType\":"
            "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":%zu}]}",
            cfg_d, clen, layer_out, glen);
        rc |= img_blob_put(s, json, strlen(json), manifest_out, &err);
        return rc;
}

static void layers_fail_cleanly(struct img_store *s)
{
        const struct tar_ent good[] = {{.name = "hello", .type = AE_IFREG, .data = "hi"}};
        const struct tar_ent evil[] = {{.name = "ok", .type = AE_IFREG, .data = "1"},
                                       {.name = "../evil", .type = AE_IFREG, .data = "x"}};
        char man[IMG_DIGEST_MAX], layer[IMG_DIGEST_MAX], id[IMG_DIGEST_MAX];
        struct isola_err err = {0};

        make_image(s, good, 1, true, man, layer);
        tap_ok(img_register(s, man, "localhost/bad:diff", id, &err) < 0 &&
                   strstr(err.msg, "image localhost/bad:diff: layer sha256:") &&
                   strstr(err.msg, "the config says"),
               "diff id mismatch refused (%s)", err.msg);
        TAP_EQ_INT(count_entries("layers"), 0, "  no layer dir left");
        TAP_EQ_INT(count_entries("tmp"), 0, "  no temp dir left");
        TAP_EQ_INT(rows(s->db, "layers") + rows(s->db, "images"), 0, "  no rows");
        make_image(s, evil, 2, false, man, layer);
        tap_ok(img_register(s, man, "localhost/bad:evil", id, &err) < 0 &&
                   strstr(err.msg, "entry '../evil': '..' in path refused"),
               "hostile entry refused (%s)", err.msg);
        TAP_EQ_INT(count_entries("layers"), 0, "  no half-unpacked layer left");
        TAP_EQ_INT(count_entries("tmp"), 0, "  no temp dir left");
}

static void images(struct img_store *s)
{
        const struct tar_ent e[] = {{.name = "etc/", .type = AE_IFDIR, .mode = 0755},
                                    {.name = "etc/os", .type = AE_IFREG, .data = "isola"}};
        char man[IMG_DIGEST_MAX], layer[IMG_DIGEST_MAX], id[IMG_DIGEST_MAX], id2[IMG_DIGEST_MAX];
        struct isola_err err = {0};
        struct img_image *img = NULL;

        make_image(s, e, 2, false, man, layer);
        tap_ok(img_register(s, man, "busybox", id, &err) == 0, "register (%s)", err.msg);
        tap_ok(img_lookup(s, "docker.io/library/busybox:latest", &img, &err) == 0 &&
                   !strcmp(img->id, id) &&
                   !strcmp(img->names[0], "docker.io/library/busybox:latest"),
               "lookup by normalised name");
        tap_ok(img && img->n_layers == 1 && img->layer_dirs[0] &&
                   access(img->layer_dirs[0], F_OK) == 0 && !strcmp(img->config.cmd[0], "/bin/sh"),
               "image has its layer dir and config");
        char p[PATH_MAX + 16];
        snprintf(p, sizeof(p), "%s/etc/os", img ? img->layer_dirs[0] : "");
        tap_ok(access(p, F_OK) == 0, "layer content unpacked");
        img_image_free(img);
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "%.10s", id + 7);
        tap_ok(img_lookup(s, prefix, &img, &err) == 0, "lookup by id prefix");
        img_image_free(img);
        tap_ok(img_lookup(s, id, &img, &err) == 0, "lookup by full id");
        img_image_free(img);
        tap_ok(img_lookup(s, "nope", &img, &err) < 0 && err.errnum == ENOENT &&
                   !strcmp(err.msg, "image 'nope': not known"),
               "unknown image: ENOENT, named");
        tap_ok(img_tag(s, "busybox", "localhost/mine:1", &err) == 0, "tag");

        /* one more layer on top, with config overrides (commit/build) */
        const struct tar_ent top[] = {{.name = "etc/.wh.os", .type = AE_IFREG, .data = ""},
                                      {.name = "new", .type = AE_IFREG, .data = "n"}};
        char *tar = NULL, plain[IMG_DIGEST_MAX];
        size_t tlen = tar_build(top, 2, TAR_PLAIN, &tar);
        img_blob_put(s, tar, tlen, plain, &err);
        free(tar);
        struct img_image *base = NULL;
        img_lookup(s, "busybox", &base, &err);
        struct img_new_layer nl = {
            .blob_digest = plain, .diff_id = plain, .blob_size = -1, .created_by = "isola commit"};
        err.msg[0] = '\0';
        tap_ok(img_create_from_layers(s, base, &nl, 1, "{\"Cmd\":[\"/new\"],\"comment\":\"c\"}",
                                      "localhost/derived:1", id2, &err) == 0,
               "create from layers (%s)", err.msg);
        img_image_free(base);
        tap_ok(img_lookup(s, "localhost/derived:1", &img, &err) == 0 && img->n_layers == 2 &&
                   !strcmp(img->config.cmd[0], "/new") && !strcmp(img->config.diff_ids[1], plain),
               "derived image: two layers, Cmd overridden");
        struct img_history *h = NULL;
        size_t n = 0;
        img_config_history(&img->config, &h, &n, &err);
        tap_ok(n >= 1 && !strcmp(h[n - 1].created_by, "isola commit"), "derived image history");
        img_history_free(h, n);
        img_image_free(img);

        /* in use by a container: refused, then untagged with force */
        char sql[512];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO containers (id, name, image_id, config, state, created) VALUES "
                 "('c1', 'user', '%s', '{}', 'exited', 0)",
                 id2);
        db_exec(s->db, sql, &err);
        tap_ok(img_remove(s, "localhost/derived:1", false, &err) < 0 && err.errnum == EBUSY,
               "remove refused while a container uses it");
        tap_ok(img_remove(s, "localhost/derived:1", true, &err) == 0 &&
                   img_lookup(s, id2, &img, &err) == 0 && !img->names[0],
               "forced: names gone, the image stays for the container");
        img_image_free(img);
        db_exec(s->db, "DELETE FROM containers", &err);

        tap_ok(img_remove(s, "localhost/mine:1", false, &err) == 0 &&
                   img_lookup(s, "busybox", &img, &err) == 0,
               "remove of one of two names untags");
        img_image_free(img);
        tap_ok(img_remove(s, "busybox", false, &err) == 0 && img_lookup(s, id, &img, &err) < 0,
               "remove of the last name deletes");
        uint64_t freed = 0;
        tap_ok(img_prune(s, &freed, &err) == 0 && freed > 0, "prune frees the dangling image");
        TAP_EQ_INT(rows(s->db, "images") + rows(s->db, "layers") + rows(s->db, "image_names") +
                       rows(s->db, "image_layers"),
                   0, "no rows left");
        TAP_EQ_INT(count_entries("blobs/sha256"), 0, "no blobs left");
        TAP_EQ_INT(count_entries("layers"), 0, "no layer dirs left");
}

int main(void)
{
        struct db_paths paths;
        struct img_store s;
        struct isola_err err = {0};
        sqlite3 *db = NULL;

        if (geteuid() != 0) {
                printf("1..0 # SKIP needs root (layer owners, whiteouts)\n");
                return 0;
        }
        snprintf(root, sizeof(root), "/tmp/isola-img-store-XXXXXX");
        if (!mkdtemp(root) || db_paths_resolve(root, &paths, &err) < 0 ||
            db_open(&paths, &db, &err) < 0) {
                printf("Bail out! %s\n", err.msg);
                return 1;
        }
        img_store_init(&s, &paths, db);
        blobs(&s);
        layers_fail_cleanly(&s);
        images(&s);
        db_close(db);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        if (system(cmd) != 0)
                printf("# cleanup failed\n");
        return tap_done();
}
