/* The cgroup's saved form (kept in the container's state dir so that a later
 * runtime process, even after a crash, removes exactly what create made) and
 * the memory/pids counters read for metering. */
#include "ctr/cgroup_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

/* Format: magic, mode, then per hierarchy controllers, created-level count and
 * directory, all tab-separated (cgroupsPath rejects control characters). */
#define SAVE_MAGIC "isola-cgroup/1"

static const char *const mode_names[] = {
    [CGROUP_V1] = "v1", [CGROUP_V2] = "v2", [CGROUP_HYBRID] = "hybrid"};

const char *cgroup_mode_name(enum cgroup_mode mode)
{
        return mode <= CGROUP_HYBRID ? mode_names[mode] : "?";
}

/* ---- persistence ------------------------------------------------------- */

char *cgroup_to_string(const struct cgroup *cg)
{
        size_t cap = strlen(SAVE_MAGIC) + 16;
        char *s, *p;

        for (size_t i = 0; i < cg->n_hiers; i++)
                cap += strlen(cg->hiers[i].controllers) + strlen(cg->hiers[i].path) + 16;
        if (!(s = malloc(cap)))
                return NULL;
        p = s + sprintf(s, "%s\t%s", SAVE_MAGIC, mode_names[cg->mode]);
        for (size_t i = 0; i < cg->n_hiers; i++)
                p += sprintf(p, "\t%s\t%u\t%s", cg->hiers[i].controllers, cg->hiers[i].n_created,
                             cg->hiers[i].path);
        return s;
}

static bool valid_saved_path(const char *path, unsigned n_created)
{
        unsigned depth = 0;

        if (path[0] != '/')
                return false;
        for (const char *p = path + 1; *p; p += strcspn(p, "/"), p += (*p == '/')) {
                size_t l = strcspn(p, "/");
                if (l == 0 || (l == 2 && !memcmp(p, "..", 2)) || (l == 1 && *p == '.'))
                        return false;
                depth++;
        }
        return n_created < depth;
}

static int parse_hier(char **save, struct cgroup_hier *h)
{
        char *ctl = strtok_r(NULL, "\t", save), *num = strtok_r(NULL, "\t", save);
        char *path = strtok_r(NULL, "\t", save), *end;

        if (!ctl || !num || !path)
                return -1;
        errno = 0;
        unsigned long created = strtoul(num, &end, 10);
        if (errno || *end || end == num || created > CGROUP_MAX_NESTING ||
            !valid_saved_path(path, created))
                return -1;
        h->unified = !strcmp(ctl, "unified");
        h->n_created = (unsigned)created;
        h->controllers = strdup(ctl);
        h->path = strdup(path);
        return h->controllers && h->path ? 0 : -1;
}

int cgroup_open(const char *saved, struct cgroup **cg_out, struct isola_err *err)
{
        _cleanup_free_ char *copy = strdup(saved ? saved : "");
        char *save = NULL, *tok;
        struct cgroup *cg = calloc(1, sizeof(*cg));
        size_t cap = 0;

        if (!copy || !cg) {
                /* _cleanup_free_ frees copy (clang 14's analyzer ignores cleanup). */
                // NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
                free(cg);
                return err_set(err, ENOMEM, "out of memory");
        }
        tok = strtok_r(copy, "\t", &save);
        if (!tok || strcmp(tok, SAVE_MAGIC) != 0)
                goto bad;
        tok = strtok_r(NULL, "\t", &save);
        for (cg->mode = CGROUP_V1; tok && cg->mode <= CGROUP_HYBRID; cg->mode++)
                if (!strcmp(tok, mode_names[cg->mode]))
                        break;
        if (!tok || cg->mode > CGROUP_HYBRID)
                goto bad;
        while (*save) {
                if (cg->n_hiers == cap) {
                        cap = cap ? cap * 2 : 8;
                        struct cgroup_hier *g = realloc(cg->hiers, cap * sizeof(*g));
                        if (!g)
                                goto bad;
                        cg->hiers = g;
                }
                cg->hiers[cg->n_hiers] = (struct cgroup_hier){0};
                cg->n_hiers++;
                if (parse_hier(&save, &cg->hiers[cg->n_hiers - 1]) < 0)
                        goto bad;
        }
        if (cg->n_hiers == 0)
                goto bad;
        *cg_out = cg;
        return 0;
bad:
        cgroup_free(cg);
        return err_set(err, EINVAL, "cgroup: invalid saved cgroup state '%.200s'",
                       saved ? saved : "");
}

/* ---- statistics -------------------------------------------------------- */

static uint64_t read_u64(const char *dir, const char *file, uint64_t dflt)
{
        char buf[64];
        struct isola_err ignored;

        if (!dir || cgroup_read(dir, file, buf, sizeof(buf), &ignored) < 0)
                return dflt;
        if (!strcmp(buf, "max"))
                return UINT64_MAX;
        return strtoull(buf, NULL, 10);
}

static uint64_t read_key(const char *dir, const char *file, const char *key)
{
        char buf[2048];
        struct isola_err ignored;
        size_t kl = strlen(key);

        if (!dir || cgroup_read(dir, file, buf, sizeof(buf), &ignored) < 0)
                return 0;
        for (char *p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (!strncmp(p, key, kl) && p[kl] == ' ')
                        return strtoull(p + kl + 1, NULL, 10);
        return 0;
}

int cgroup_stats(struct cgroup *cg, struct cgroup_stats *out, struct isola_err *err)
{
        struct cgroup_hier *mem = cgroup_find(cg, "memory"), *pids = cgroup_find(cg, "pids");
        struct cgroup_hier *u = cgroup_find(cg, NULL);

        *out = (struct cgroup_stats){.memory_limit = UINT64_MAX, .pids_limit = UINT64_MAX};
        if (cg->mode == CGROUP_V2 && u) {
                out->memory_current = read_u64(u->path, "memory.current", 0);
                out->memory_peak = read_u64(u->path, "memory.peak", 0);
                out->memory_limit = read_u64(u->path, "memory.max", UINT64_MAX);
                out->oom_kills = read_key(u->path, "memory.events", "oom_kill");
                out->pids_current = read_u64(u->path, "pids.current", 0);
                out->pids_limit = read_u64(u->path, "pids.max", UINT64_MAX);
                return 0;
        }
        if (mem) {
                char buf[64];
                if (cgroup_read(mem->path, "memory.usage_in_bytes", buf, sizeof(buf), err) < 0)
                        return -1;
                out->memory_current = strtoull(buf, NULL, 10);
                out->memory_peak = read_u64(mem->path, "memory.max_usage_in_bytes", 0);
                out->memory_limit = read_u64(mem->path, "memory.limit_in_bytes", UINT64_MAX);
                out->oom_kills = read_key(mem->path, "memory.oom_control", "oom_kill");
        }
        if (pids) {
                out->pids_current = read_u64(pids->path, "pids.current", 0);
                out->pids_limit = read_u64(pids->path, "pids.max", UINT64_MAX);
        }
        return 0;
}
