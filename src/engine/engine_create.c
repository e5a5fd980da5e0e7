/* create: a new container id and name, its directory (upper, work, merged),
 * the overlay mount, the OCI config, and the row in state 'created' -- all
 * in one database transaction, so a killed command leaves no row pointing
 * at nothing (a leftover directory without a row is removed by
 * `system prune`). */
#include "engine/engine_internal.h"
#include "engine/events.h"
#include "engine/health.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

static const char *const adjectives[] = {
    "admiring",   "agitated",  "amazing",  "angry",    "awesome", "blissful",  "bold",
    "boring",     "brave",     "busy",     "charming", "clever",  "cool",      "dazzling",
    "determined", "eager",     "ecstatic", "elegant",  "epic",    "fervent",   "focused",
    "friendly",   "funny",     "gallant",  "gifted",   "happy",   "hardcore",  "hopeful",
    "hungry",     "inspiring", "jolly",    "keen",     "kind",    "laughing",  "loving",
    "lucid",      "modest",    "musing",   "nice",     "nifty",   "objective", "peaceful",
    "pensive",    "practical", "quirky",   "relaxed",  "serene",  "sharp",     "silly",
    "stoic",      "sweet",     "tender",   "trusting", "upbeat",  "vibrant",   "wizardly",
    "youthful",   "zealous",
};
static const char *const nouns[] = {
    "agnesi",     "albattani", "babbage",  "bardeen",   "bohr",     "booth",   "brahmagupta",
    "curie",      "darwin",    "dijkstra", "einstein",  "euclid",   "euler",   "fermat",
    "feynman",    "galileo",   "gauss",    "goldberg",  "hamilton", "hawking", "hertz",
    "hopper",     "hypatia",   "jepsen",   "kepler",    "knuth",    "lamarr",  "lovelace",
    "mcclintock", "meitner",   "mendel",   "newton",    "nobel",    "noether", "pascal",
    "payne",      "pike",      "poincare", "ramanujan", "ritchie",  "shannon", "stallman",
    "tesla",      "thompson",  "torvalds", "turing",    "wiles",    "wozniak", "wright",
    "yalow",
};

static int random_hex(char *out, size_t bytes, struct isola_err *err)
{
        unsigned char rnd[64];

        if (bytes > sizeof(rnd) || getentropy(rnd, bytes) < 0)
                return err_sys(err, "getentropy");
        for (size_t i = 0; i < bytes; i++)
                snprintf(out + 2 * i, 3, "%02x", rnd[i]);
        return 0;
}

static bool name_taken(struct eng_ctx *c, const char *name, char *who, size_t len)
{
        sqlite3_stmt *st = NULL;
        bool taken = false;

        if (sqlite3_prepare_v2(c->db, "SELECT id FROM containers WHERE name = ?1", -1, &st, NULL) !=
            SQLITE_OK)
                return false;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
                taken = true;
                snprintf(who, len, "%.12s", (const char *)sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
        return taken;
}

static int pick_name(struct eng_ctx *c, const struct eng_config *cfg, char name[ENG_NAME_MAX],
                     struct isola_err *err)
{
        char who[16];

        if (cfg->name) {
                size_t len = strlen(cfg->name);
                if (len == 0 || len >= ENG_NAME_MAX ||
                    strspn(cfg->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "0123456789_.-") != len ||
                    strchr("_.-", cfg->name[0]))
                        return err_set(err, EINVAL,
                                       "name '%s': must match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
                                       cfg->name);
                if (name_taken(c, cfg->name, who, sizeof(who)))
                        return err_set(err, EEXIST, "name '%s' is already in use by container %s",
                                       cfg->name, who);
                snprintf(name, ENG_NAME_MAX, "%s", cfg->name);
                return 0;
        }
        for (int tries = 0; tries < 64; tries++) {
                unsigned char r[2];
                if (getentropy(r, sizeof(r)) < 0)
                        return err_sys(err, "getentropy");
                snprintf(name, ENG_NAME_MAX, "%s_%s", adjectives[r[0] % ARRAY_SIZE(adjectives)],
                         nouns[r[1] % ARRAY_SIZE(nouns)]);
                if (tries >= 16)
                        snprintf(name + strlen(name), ENG_NAME_MAX - strlen(name), "%d", tries);
                if (!name_taken(c, name, who, sizeof(who)))
                        return 0;
        }
        return err_set(err, EEXIST, "could not pick a free container name");
}

static int make_dirs(struct eng_ctx *c, const char *id, struct isola_err *err)
{
        static const char *const sub[] = {"upper", "work", "merged"};
        char path[PATH_MAX];

        eng_ctr_path(c, id, NULL, path, sizeof(path));
        if (mkdir(path, 0700) < 0)
                return err_sys(err, "'%s'", path);
        for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
                eng_ctr_path(c, id, sub[i], path, sizeof(path));
                if (mkdir(path, 0755) < 0)
                        return err_sys(err, "'%s'", path);
        }
        return 0;
}

/* Image Volumes and -v DST: anonymous volumes, unless -v names the path. */
static char **anon_volumes(const struct eng_config *cfg, const struct eng_image_info *img)
{
        size_t n = 0;
        char **out = calloc(1, sizeof(*out));

        for (int pass = 0; pass < 2 && out; pass++) {
                char **list = pass ? cfg->volumes : img->volumes;
                for (char **p = list; p && *p; p++) {
                        if (pass == 1 && strchr(*p, ':'))
                                continue;
                        bool given = false;
                        for (char **v = cfg->volumes; pass == 0 && v && *v; v++) {
                                const char *d = strchr(*v, ':');
                                d = d ? d + 1 : *v;
                                if (!strncmp(d, *p, strlen(*p)) &&
                                    (d[strlen(*p)] == '\0' || d[strlen(*p)] == ':'))
                                        given = true;
                        }
                        if (given)
                                continue;
                        char **t = realloc(out, (n + 2) * sizeof(*t));
                        if (!t)
                                break;
                        out = t;
                        out[n++] = strdup(*p);
                        out[n] = NULL;
                }
        }
        return out;
}

static int insert_row(struct eng_ctx *c, const char *id, const char *name, const char *image_id,
                      const char *image_name, const char *config, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        int rc;

        if (sqlite3_prepare_v2(c->db,
                               "INSERT INTO containers (id, name, image_id, image_name, config, "
                               "state, created) VALUES (?1, ?2, ?3, ?4, ?5, 'created', ?6)",
                               -1, &st, NULL) != SQLITE_OK)
                return db_fail(c->db, "create container", err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        if (image_id)
                sqlite3_bind_text(st, 3, image_id, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, 3);
        sqlite3_bind_text(st, 4, image_name ? image_name : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, config, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, eng_now_ns());
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
                if (sqlite3_extended_errcode(c->db) == SQLITE_CONSTRAINT_UNIQUE)
                        return err_set(err, EEXIST, "name '%s' is already in use", name);
                return db_fail(c->db, "create container", err);
        }
        return 0;
}

struct create_state {
        char id[ENG_ID_LEN + 1];
        char name[ENG_NAME_MAX];
        char *image_id, *image_name;
        struct eng_image_info img;
        struct eng_config cfg; /* a copy with name, rootfs and stop signal settled */
};

static int prepare(struct eng_ctx *c, const struct eng_config *in, struct create_state *s,
                   struct isola_err *err)
{
        json_object *j;

        if (!in->image == !in->rootfs)
                return err_set(err, EINVAL, "give either an image or --rootfs");
        if (in->auto_remove && in->restart != ENG_RESTART_NO)
                return err_set(err, EINVAL, "--rm and --restart cannot be combined");
        if (in->image &&
            eng_image_resolve(c, in->image, &s->image_id, &s->image_name, &s->img, err) < 0)
                return -1;
        if (pick_name(c, in, s->name, err) < 0 || random_hex(s->id, ENG_ID_LEN / 2, err) < 0)
                return -1;
        /* a deep copy through JSON, then the settled fields */
        j = eng_config_to_json(in);
        if (eng_config_from_json(json_object_to_json_string(j), &s->cfg, err) < 0) {
                json_object_put(j);
                return -1;
        }
        json_object_put(j);
        free(s->cfg.name);
        s->cfg.name = strdup(s->name);
        if (in->rootfs) {
                char real[PATH_MAX];
                struct stat sb;
                if (!realpath(in->rootfs, real) || stat(real, &sb) < 0)
                        return err_sys(err, "--rootfs '%s'", in->rootfs);
                if (!S_ISDIR(sb.st_mode))
                        return err_set(err, ENOTDIR, "--rootfs '%s': not a directory", in->rootfs);
                free(s->cfg.rootfs);
                s->cfg.rootfs = strdup(real);
        }
        if (!s->cfg.network)
                s->cfg.network = strdup(eng_net_default());
        if (!s->cfg.stop_signal)
                s->cfg.stop_signal = strdup(s->img.stop_signal ? s->img.stop_signal : "SIGTERM");
        if (!s->cfg.stop_timeout)
                s->cfg.stop_timeout = 10;
        eng_healthcheck_settle(&s->cfg.health, &s->img.health);
        return 0;
}

static int build(struct eng_ctx *c, struct create_state *s, struct isola_err *err)
{
        char **anon = anon_volumes(&s->cfg, &s->img);
        json_object *j = eng_config_to_json(&s->cfg);
        int rc = -1;

        if (db_begin(c->db, err) < 0)
                goto out;
        if (insert_row(c, s->id, s->name, s->image_id, s->image_name,
                       json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN), err) < 0 ||
            (s->img.layer_dirs ? eng_rootfs_mount_lowers(c, s->id, s->img.layer_dirs,
                                                         s->img.n_layers, s->cfg.auto_remove, err)
                               : eng_rootfs_mount(c, s->id, err)) < 0 ||
            eng_spec_write(c, s->id, &s->cfg, &s->img, anon, err) < 0 ||
            db_commit(c->db, err) < 0) {
                db_rollback(c->db);
                goto out;
        }
        rc = 0;
out:
        for (char **p = anon; p && *p; p++)
                free(*p);
        free(anon);
        json_object_put(j);
        return rc;
}

int eng_create(struct eng_ctx *c, const struct eng_config *cfg, char id_out[ENG_ID_LEN + 1],
               struct isola_err *err)
{
        struct create_state s = {0};
        bool made = false;
        int rc = -1;

        if (prepare(c, cfg, &s, err) < 0)
                goto out;
        if (make_dirs(c, s.id, err) < 0)
                goto undo;
        made = true;
        if (build(c, &s, err) < 0)
                goto undo;
        char host[16];
        snprintf(host, sizeof(host), "%.12s", s.id);
        if (eng_net_attach(c, s.id, &s.cfg, s.cfg.hostname ? s.cfg.hostname : host, s.img.exposed,
                           err) < 0) {
                struct isola_err ignore = {0};
                eng_destroy(c, s.id, true, &ignore);
                goto out;
        }
        snprintf(id_out, ENG_ID_LEN + 1, "%s", s.id);
        eng_event_container(c->db, s.id, "create");
        rc = 0;
        goto out;
undo:
        if (made) {
                struct isola_err ignore = {0};
                char path[PATH_MAX];
                eng_net_release(c, s.id, &ignore);
                eng_rootfs_umount(c, s.id, &ignore);
                eng_ctr_path(c, s.id, NULL, path, sizeof(path));
                eng_rmtree(path, &ignore);
        }
out:
        free(s.image_id);
        free(s.image_name);
        eng_image_info_free(&s.img);
        eng_config_free(&s.cfg);
        return rc;
}
