/* Function rows, invocation records, usage sums and the price table. */
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fn/fn.h"
#include "image/image.h"
#include "util/cleanup.h"
#include "util/fs.h"

void fn_config_defaults(struct fn_config *c)
{
        memset(c, 0, sizeof(*c));
        c->mode = FN_MODE_HTTP;
        c->port = 8080;
        c->memory_mib = 128;
        c->timeout_s = 30;
        c->concurrency = 1;
        c->min = 0;
        c->max = 10;
        c->idle_s = 30;
        c->queue = 100;
}

static void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

void fn_config_free(struct fn_config *c)
{
        strv_free(c->env);
        strv_free(c->args);
        c->env = c->args = NULL;
}

static bool name_ok(const char *n)
{
        size_t len = strlen(n);

        if (len == 0 || len >= 40 ||
            !((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= '0' && n[0] <= '9')))
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-'))
                        return false;
        return true;
}

int fn_config_validate(const struct fn_config *c, struct isola_err *err)
{
        if (!name_ok(c->name))
                return err_set(err, EINVAL,
                               "function name '%s': use 1-39 of a-z, 0-9 and '-', starting "
                               "with a letter or digit",
                               c->name);
        if (c->port < 1 || c->port > 65535)
                return err_set(err, EINVAL, "--port %d: must be 1-65535", c->port);
        if (c->memory_mib < 16 || c->memory_mib > (int)FN_MEMORY_MAX)
                return err_set(err, EINVAL, "--memory %d: must be 16-%u MiB", c->memory_mib,
                               FN_MEMORY_MAX);
        if (!(c->cpus >= 0 && c->cpus <= 64))
                return err_set(err, EINVAL, "--cpus %g: must be 0 (unlimited) to 64", c->cpus);
        if (c->timeout_s < 1 || c->timeout_s > 900)
                return err_set(err, EINVAL, "--timeout %d: must be 1-900 seconds", c->timeout_s);
        if (c->concurrency < 1 || c->concurrency > FN_LIMIT_MAX)
                return err_set(err, EINVAL, "--concurrency %d: must be 1-%d", c->concurrency,
                               FN_LIMIT_MAX);
        if (c->max < 1 || c->max > FN_LIMIT_MAX)
                return err_set(err, EINVAL, "--max %d: must be 1-%d", c->max, FN_LIMIT_MAX);
        if (c->min < 0 || c->min > c->max)
                return err_set(err, EINVAL, "--min %d: must be 0-%d (--max)", c->min, c->max);
        if (c->idle_s < 1 || c->idle_s > 86400)
                return err_set(err, EINVAL, "--idle %d: must be 1-86400 seconds", c->idle_s);
        if (c->queue < 0 || c->queue > 100000)
                return err_set(err, EINVAL, "--queue %d: must be 0-100000", c->queue);
        for (size_t i = 0; c->env && c->env[i]; i++)
                if (!strchr(c->env[i], '=') || c->env[i][0] == '=')
                        return err_set(err, EINVAL, "--env '%s': expected KEY=VALUE", c->env[i]);
        return 0;
}

static json_object *strv_json(char **v)
{
        json_object *a = json_object_new_array();

        for (size_t i = 0; v && v[i]; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static json_object *config_obj(const struct fn_config *c)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(c->name));
        json_object_object_add(o, "image", json_object_new_string(c->image));
        json_object_object_add(o, "image_id", json_object_new_string(c->image_id));
        json_object_object_add(o, "mode",
                               json_object_new_string(c->mode == FN_MODE_HTTP ? "http" : "stdio"));
        json_object_object_add(o, "port", json_object_new_int(c->port));
        json_object_object_add(o, "memory_mib", json_object_new_int(c->memory_mib));
        json_object_object_add(o, "cpus", json_object_new_double(c->cpus));
        json_object_object_add(o, "timeout_s", json_object_new_int(c->timeout_s));
        json_object_object_add(o, "concurrency", json_object_new_int(c->concurrency));
        json_object_object_add(o, "min", json_object_new_int(c->min));
        json_object_object_add(o, "max", json_object_new_int(c->max));
        json_object_object_add(o, "idle_s", json_object_new_int(c->idle_s));
        json_object_object_add(o, "queue", json_object_new_int(c->queue));
        json_object_object_add(o, "isolation", json_object_new_string("container"));
        json_object_object_add(o, "env", strv_json(c->env));
        json_object_object_add(o, "args", c->args ? strv_json(c->args) : NULL);
        json_object_object_add(o, "created", json_object_new_int64(c->created));
        return o;
}

char *fn_config_json(const struct fn_config *c)
{
        json_object *o = config_obj(c);
        char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return s;
}

static int get_int(json_object *o, const char *k, int dflt)
{
        json_object *v;
        return json_object_object_get_ex(o, k, &v) ? json_object_get_int(v) : dflt;
}

static char **json_strv(json_object *o, const char *k)
{
        json_object *a;
        if (!json_object_object_get_ex(o, k, &a) || !json_object_is_type(a, json_type_array))
                return NULL;
        size_t n = json_object_array_length(a);
        char **v = calloc(n + 1, sizeof(*v));
        for (size_t i = 0; v && i < n; i++)
                v[i] = strdup(json_object_get_string(json_object_array_get_idx(a, i)));
        return v;
}

static int config_from_json(const char *text, struct fn_config *c, struct isola_err *err)
{
        json_object *o = json_tokener_parse(text), *v;
        char name[FN_NAME_MAX];

        if (!o)
                return err_set(err, EINVAL, "function '%s': stored config is not JSON", c->name);
        snprintf(name, sizeof(name), "%s", c->name);
        fn_config_defaults(c);
        snprintf(c->name, sizeof(c->name), "%s", name);
        if (json_object_object_get_ex(o, "mode", &v) && !strcmp(json_object_get_string(v), "stdio"))
                c->mode = FN_MODE_STDIO;
        c->port = get_int(o, "port", c->port);
        c->memory_mib = get_int(o, "memory_mib", c->memory_mib);
        if (json_object_object_get_ex(o, "cpus", &v))
                c->cpus = json_object_get_double(v);
        c->timeout_s = get_int(o, "timeout_s", c->timeout_s);
        c->concurrency = get_int(o, "concurrency", c->concurrency);
        c->min = get_int(o, "min", c->min);
        c->max = get_int(o, "max", c->max);
        c->idle_s = get_int(o, "idle_s", c->idle_s);
        c->queue = get_int(o, "queue", c->queue);
        c->env = json_strv(o, "env");
        c->args = json_strv(o, "args");
        json_object_put(o);
        return 0;
}

int fn_deploy(const struct db_paths *p, sqlite3 *db, struct fn_config *c, struct isola_err *err)
{
        struct img_store st;
        struct img_image *img = NULL;
        sqlite3_stmt *s = NULL;
        int rc;

        if (fn_config_validate(c, err) < 0)
                return -1;
        img_store_init(&st, p, db);
        if (img_lookup(&st, c->image, &img, err) < 0)
                return err_prefix(err, "function '%s'", c->name);
        snprintf(c->image_id, sizeof(c->image_id), "%s", img->id);
        if (!c->args && !img->config.entrypoint && !img->config.cmd) {
                img_image_free(img);
                return err_set(err, EINVAL,
                               "function '%s': image '%s' has no command; give one after --",
                               c->name, c->image);
        }
        img_image_free(img);
        c->created = time(NULL);
        char *json = fn_config_json(c);
        if (!json)
                return err_set(err, ENOMEM, "function '%s': out of memory", c->name);
        if (sqlite3_prepare_v2(db,
                               "INSERT INTO functions(name, image, image_id, config, created) "
                               "VALUES (?, ?, ?, ?, ?)",
                               -1, &s, NULL) != SQLITE_OK) {
                free(json);
                return db_fail(db, "deploy", err);
        }
        sqlite3_bind_text(s, 1, c->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, c->image, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, c->image_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 4, json, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 5, c->created);
        rc = sqlite3_step(s);
        sqlite3_finalize(s);
        free(json);
        if (rc == SQLITE_CONSTRAINT)
                return err_set(err, EEXIST, "function '%s': already deployed (fn rm it first)",
                               c->name);
        if (rc != SQLITE_DONE)
                return db_fail(db, "deploy", err);
        return 0;
}

static void row_to_config(sqlite3_stmt *s, struct fn_config *c, struct isola_err *err)
{
        snprintf(c->name, sizeof(c->name), "%s", (const char *)sqlite3_column_text(s, 0));
        config_from_json((const char *)sqlite3_column_text(s, 3), c, err);
        snprintf(c->image, sizeof(c->image), "%s", (const char *)sqlite3_column_text(s, 1));
        snprintf(c->image_id, sizeof(c->image_id), "%s", (const char *)sqlite3_column_text(s, 2));
        c->created = sqlite3_column_int64(s, 4);
}

int fn_get(sqlite3 *db, const char *name, struct fn_config *out, struct isola_err *err)
{
        sqlite3_stmt *s = NULL;
        int rc;

        if (sqlite3_prepare_v2(db,
                               "SELECT name, image, image_id, config, created FROM functions "
                               "WHERE name = ?",
                               -1, &s, NULL) != SQLITE_OK)
                return db_fail(db, "function lookup", err);
        sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                memset(out, 0, sizeof(*out));
                row_to_config(s, out, err);
        }
        sqlite3_finalize(s);
        if (rc == SQLITE_DONE)
                return err_set(err, ENOENT, "function '%s': not found", name);
        return rc == SQLITE_ROW ? 0 : db_fail(db, "function lookup", err);
}

int fn_list(sqlite3 *db, struct fn_config **out, size_t *n_out, struct isola_err *err)
{
        sqlite3_stmt *s = NULL;
        struct fn_config *l = NULL;
        size_t n = 0;

        if (sqlite3_prepare_v2(db,
                               "SELECT name, image, image_id, config, created FROM functions "
                               "ORDER BY name",
                               -1, &s, NULL) != SQLITE_OK)
                return db_fail(db, "function list", err);
        while (sqlite3_step(s) == SQLITE_ROW) {
                struct fn_config *nl = realloc(l, (n + 1) * sizeof(*l));
                if (!nl)
                        break;
                l = nl;
                memset(&l[n], 0, sizeof(l[n]));
                row_to_config(s, &l[n++], err);
        }
        sqlite3_finalize(s);
        *out = l;
        *n_out = n;
        return 0;
}

void fn_list_free(struct fn_config *l, size_t n)
{
        for (size_t i = 0; i < n; i++)
                fn_config_free(&l[i]);
        free(l);
}

int fn_delete(sqlite3 *db, const char *name, struct isola_err *err)
{
        sqlite3_stmt *s = NULL;

        if (db_begin(db, err) < 0)
                return -1;
        if (sqlite3_prepare_v2(db, "DELETE FROM functions WHERE name = ?", -1, &s, NULL) !=
            SQLITE_OK)
                goto fail;
        sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) != SQLITE_DONE)
                goto fail;
        sqlite3_finalize(s);
        s = NULL;
        if (sqlite3_changes(db) == 0) {
                db_rollback(db);
                return err_set(err, ENOENT, "function '%s': not found", name);
        }
        if (sqlite3_prepare_v2(db, "DELETE FROM fn_invocations WHERE function = ?", -1, &s, NULL) !=
            SQLITE_OK)
                goto fail;
        sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) != SQLITE_DONE)
                goto fail;
        sqlite3_finalize(s);
        return db_commit(db, err);
fail:
        db_fail(db, "fn rm", err);
        sqlite3_finalize(s);
        db_rollback(db);
        return -1;
}

int fn_record(sqlite3 *db, const struct fn_invocation *inv, struct isola_err *err)
{
        return fn_record_batch(db, inv, 1, err);
}

/* One statement for the batch: preparing it per row was a quarter of the
 * gateway's CPU under load (bench/fn, perf). */
int fn_record_batch(sqlite3 *db, const struct fn_invocation *inv, size_t n, struct isola_err *err)
{
        sqlite3_stmt *s = NULL;
        int rc = SQLITE_DONE, fail = SQLITE_DONE;

        if (sqlite3_prepare_v2(db,
                               /* none for a function removed meanwhile */
                               "INSERT INTO fn_invocations(function, start_ms, wall_us, "
                               "billed_ms, memory_mib, cpu_us, peak_bytes, status, cold) "
                               "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE EXISTS "
                               "(SELECT 1 FROM functions WHERE name = ?1)",
                               -1, &s, NULL) != SQLITE_OK)
                return db_fail(db, "invocation record", err);
        /* a row that fails does not take the rest of the batch with it */
        for (size_t i = 0; i < n; i++) {
                sqlite3_reset(s);
                sqlite3_bind_text(s, 1, inv[i].function, -1, SQLITE_STATIC);
                sqlite3_bind_int64(s, 2, inv[i].start_ms);
                sqlite3_bind_int64(s, 3, inv[i].wall_us);
                sqlite3_bind_int64(s, 4, inv[i].billed_ms);
                sqlite3_bind_int(s, 5, inv[i].memory_mib);
                sqlite3_bind_int64(s, 6, inv[i].cpu_us);
                sqlite3_bind_int64(s, 7, inv[i].peak_bytes);
                sqlite3_bind_int(s, 8, inv[i].status);
                sqlite3_bind_int(s, 9, inv[i].cold);
                rc = sqlite3_step(s);
                if (rc != SQLITE_DONE)
                        fail = rc;
        }
        int ret = fail == SQLITE_DONE ? 0 : db_fail(db, "invocation record", err);
        sqlite3_finalize(s);
        return ret;
}

int fn_usage_query(sqlite3 *db, const char *name, int64_t since_ms, struct fn_usage **out,
                   size_t *n_out, struct isola_err *err)
{
        /* GB = 1024 MiB as Lambda bills (128 MB = 0.125 GB) */
        static const char sql[] =
            "SELECT function, COUNT(*), SUM(status >= 500 OR status = 429), SUM(cold),"
            " SUM(memory_mib / 1024.0 * billed_ms / 1000.0), SUM(cpu_us) / 1e6,"
            " SUM(peak_bytes / 1073741824.0 * billed_ms / 1000.0), SUM(billed_ms),"
            " SUM(wall_us) FROM fn_invocations WHERE start_ms >= ?1 AND"
            " (?2 IS NULL OR function = ?2) GROUP BY function ORDER BY function";
        sqlite3_stmt *s = NULL;
        struct fn_usage *u = NULL;
        size_t n = 0;

        if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
                return db_fail(db, "usage", err);
        sqlite3_bind_int64(s, 1, since_ms);
        if (name)
                sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(s) == SQLITE_ROW) {
                struct fn_usage *nu = realloc(u, (n + 1) * sizeof(*u));
                if (!nu)
                        break;
                u = nu;
                struct fn_usage *x = &u[n++];
                memset(x, 0, sizeof(*x));
                snprintf(x->function, sizeof(x->function), "%s",
                         (const char *)sqlite3_column_text(s, 0));
                x->invocations = sqlite3_column_int64(s, 1);
                x->errors = sqlite3_column_int64(s, 2);
                x->cold_starts = sqlite3_column_int64(s, 3);
                x->billed_gb_s = sqlite3_column_double(s, 4);
                x->cpu_s = sqlite3_column_double(s, 5);
                x->used_gb_s = sqlite3_column_double(s, 6);
                x->billed_ms = sqlite3_column_int64(s, 7);
                x->wall_us = sqlite3_column_int64(s, 8);
        }
        sqlite3_finalize(s);
        *out = u;
        *n_out = n;
        return 0;
}

int fn_prices_load(struct fn_prices *out, struct isola_err *err)
{
        /* AWS Lambda x86 public rates (us-east-1): $0.20 per 1M requests,
         * $0.0000166667 per GB-second. The usage model charges CPU time at
         * the GB-second rate of 1769 MB (one full vCPU in Lambda) and memory
         * actually used at the same GB-second rate. */
        const char *path = getenv("ISOLA_PRICES");
        char *text = NULL;
        size_t len;
        json_object *o, *v;

        out->per_request = 0.20 / 1e6;
        out->per_gb_second = 0.0000166667;
        out->per_cpu_second = 0.0000166667 * 1769.0 / 1024.0;
        out->per_used_gb_second = 0.0000166667;
        if (!path)
                path = "/etc/isola/prices.json";
        if (fs_read_file(path, &text, &len, err) < 0) {
                if (err->errnum == ENOENT) {
                        err_clear(err);
                        return 0;
                }
                return -1;
        }
        o = json_tokener_parse(text);
        free(text);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return err_set(err, EINVAL, "%s: not a JSON object", path);
        }
        static const char *const keys[] = {"per_request", "per_gb_second", "per_cpu_second",
                                           "per_used_gb_second"};
        double *dst[] = {&out->per_request, &out->per_gb_second, &out->per_cpu_second,
                         &out->per_used_gb_second};
        for (size_t i = 0; i < 4; i++)
                if (json_object_object_get_ex(o, keys[i], &v)) {
                        double d = json_object_get_double(v);
                        if (!(d >= 0 && d < 1e6)) {
                                json_object_put(o);
                                return err_set(err, EINVAL, "%s: %s: not a price", path, keys[i]);
                        }
                        *dst[i] = d;
                }
        json_object_put(o);
        return 0;
}
