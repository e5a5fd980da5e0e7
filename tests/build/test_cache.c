/* Cache keys over COPY sources (content, mode, owner count; times and
 * ignored files do not) and the build_cache rows (get, put, prune). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/cache.h"
#include "db/db.h"
#include "tap.h"

static char root[] = "/tmp/isola-bld-cache-XXXXXX";

static void put(const char *rel, const char *data)
{
        char p[512];
        snprintf(p, sizeof(p), "%s/ctx/%s", root, rel);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
                if (write(fd, data, strlen(data)) < 0)
                        perror("write");
                close(fd);
        }
}

static void key_of(const char *src, const struct bld_ignore *ig, char hex[BLD_KEY_HEX])
{
        struct isola_err err = {0};
        struct bld_key k;
        char p[512];
        snprintf(p, sizeof(p), "%s/ctx", root);
        int dfd = open(p, O_RDONLY | O_DIRECTORY);
        bld_key_init(&k, &err);
        bld_key_add_str(&k, "instr", "COPY src /dst");
        if (bld_key_add_tree(&k, dfd, src, src, ig, true, &err) < 0)
                printf("# %s\n", err.msg);
        bld_key_final(&k, hex);
        close(dfd);
}

static void test_keys(void)
{
        char p[512];
        snprintf(p, sizeof(p), "%s/ctx", root);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/ctx/src", root);
        mkdir(p, 0755);
        put("src/a", "a");
        put("src/b", "b");
        put("src/skip.log", "1");
        put("other", "o");
        struct bld_ignore ig;
        struct isola_err err = {0};
        bld_ignore_parse("**/*.log\n", 9, &ig, &err);

        char k1[BLD_KEY_HEX], k2[BLD_KEY_HEX];
        key_of("src", &ig, k1);
        key_of("src", &ig, k2);
        TAP_EQ_STR(k2, k1, "same tree, same key");
        sleep(1);
        snprintf(p, sizeof(p), "%s/ctx/src/a", root);
        utimensat(AT_FDCWD, p, NULL, 0);
        key_of("src", &ig, k2);
        TAP_EQ_STR(k2, k1, "touch keeps the key");
        put("src/skip.log", "2");
        key_of("src", &ig, k2);
        TAP_EQ_STR(k2, k1, "ignored file change keeps the key");
        put("other", "changed");
        key_of("src", &ig, k2);
        TAP_EQ_STR(k2, k1, "file outside the source keeps the key");
        key_of("src", NULL, k2);
        tap_ok(strcmp(k2, k1) != 0, "without the ignore list the .log counts");
        put("src/b", "B");
        key_of("src", &ig, k2);
        tap_ok(strcmp(k2, k1) != 0, "content change changes the key");
        put("src/b", "b");
        key_of("src", &ig, k2);
        TAP_EQ_STR(k2, k1, "content back, key back");
        chmod(p, 0600);
        key_of("src", &ig, k2);
        tap_ok(strcmp(k2, k1) != 0, "mode change changes the key");
        chmod(p, 0644);
        if (geteuid() == 0) {
                if (chown(p, 4321, 4321) < 0)
                        perror("chown");
                key_of("src", &ig, k2);
                tap_ok(strcmp(k2, k1) != 0, "owner change changes the key");
                if (chown(p, 0, 0) < 0)
                        perror("chown");
        } else {
                tap_skip("needs root to chown");
        }
        snprintf(p, sizeof(p), "%s/ctx/src/new", root);
        mkdir(p, 0755);
        key_of("src", &ig, k2);
        tap_ok(strcmp(k2, k1) != 0, "a new empty directory changes the key");
        key_of("src/a", &ig, k2);
        tap_ok(strcmp(k2, k1) != 0, "a single file hashes differently");
        bld_ignore_free(&ig);
}

static void test_rows(void)
{
        struct isola_err err = {0};
        struct db_paths paths;
        char r[600];
        snprintf(r, sizeof(r), "%s/root", root);
        sqlite3 *db = NULL;
        if (db_paths_resolve(r, &paths, &err) < 0 || db_open(&paths, &db, &err) < 0) {
                tap_ok(0, "db_open: %s", err.msg);
                return;
        }
        struct bld_cache_entry e = {.blob_size = 42, .created = 1000};
        memset(e.key, 'a', 64);
        strcpy(e.diff_id, "sha256:1111");
        strcpy(e.blob_digest, "sha256:2222");
        strcpy(e.media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
        TAP_EQ_INT(bld_cache_put(db, &e, &err), 0, "put");
        struct bld_cache_entry got;
        TAP_EQ_INT(bld_cache_get(db, e.key, &got, &err), 1, "get finds the row");
        TAP_EQ_STR(got.blob_digest, "sha256:2222", "blob digest");
        TAP_EQ_INT(got.blob_size, 42, "blob size");
        TAP_EQ_INT(bld_cache_get(db, "nope", &got, &err), 0, "unknown key");
        int64_t n = 0;
        TAP_EQ_INT(bld_cache_prune(db, false, 3600, &n, &err), 0, "prune older");
        TAP_EQ_INT(n, 0, "a row just used stays");
        TAP_EQ_INT(bld_cache_prune(db, true, 0, &n, &err), 0, "prune all");
        TAP_EQ_INT(n, 1, "one row removed");
        TAP_EQ_INT(bld_cache_get(db, e.key, &got, &err), 0, "gone after prune");
        db_close(db);
}

int main(void)
{
        if (!mkdtemp(root))
                return 1;
        test_keys();
        test_rows();
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
        if (system(cmd) != 0)
                perror("rm");
        return tap_done();
}
