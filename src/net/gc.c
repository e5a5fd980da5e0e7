/* net_gc: after a crash, remove what the rows no longer explain. An
 * attachment whose network namespace file is gone belongs to a container that
 * died without net_detach_all: its rows go. Then the bridge of every network
 * of this database without attachments, every isv* veth on such a bridge
 * without an attachment row, every responder without attachments goes, and
 * the nft table is rebuilt. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "net/net_internal.h"

struct names {
        char (*v)[IFNAMSIZ];
        size_t n;
};

static void collect(const char *name, void *arg)
{
        struct names *ns = arg;
        char(*nv)[IFNAMSIZ] = realloc(ns->v, (ns->n + 1) * sizeof(*nv));
        if (!nv)
                return;
        ns->v = nv;
        snprintf(ns->v[ns->n++], IFNAMSIZ, "%s", name);
}

static bool row_has(struct net_ctx *c, const char *sql, const char *val)
{
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
                return true; /* unsure: keep */
        sqlite3_bind_text(st, 1, val, -1, SQLITE_STATIC);
        bool found = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        return found;
}

/* Container ids with attachments whose netns file no longer exists. */
static int stale_containers(struct net_ctx *c, char (**out)[128], size_t *n_out,
                            struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        char(*v)[128] = NULL;
        size_t n = 0;
        if (sqlite3_prepare_v2(c->db, "SELECT DISTINCT container_id FROM net_attachments", -1, &st,
                               NULL) != SQLITE_OK)
                return db_fail(c->db, "reading attachments", err);
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *id = (const char *)sqlite3_column_text(st, 0);
                char path[PATH_MAX];
                struct stat sb;
                if (snprintf(path, sizeof(path), "%s/netns/%s", c->paths.runroot, id) >=
                        (int)sizeof(path) ||
                    stat(path, &sb) == 0)
                        continue;
                char(*nv)[128] = realloc(v, (n + 1) * sizeof(*v));
                if (!nv)
                        break;
                v = nv;
                snprintf(v[n++], sizeof(v[0]), "%s", id);
        }
        sqlite3_finalize(st);
        *out = v;
        *n_out = n;
        return 0;
}

/* After a reboot the rows say "up" but the bridges are gone: the next
 * attach makes them again; until then no rules for them. */
static int mark_missing_down(struct net_ctx *c, struct net_nl *nl, struct isola_err *err)
{
        sqlite3_stmt *st = NULL;
        char names[256][NET_NAME_MAX + 1];
        size_t n = 0;
        if (sqlite3_prepare_v2(c->db, "SELECT name, bridge FROM networks WHERE up = 1", -1, &st,
                               NULL) != SQLITE_OK)
                return db_fail(c->db, "reading networks", err);
        while (n < 256 && sqlite3_step(st) == SQLITE_ROW) {
                if (!net_link_index(nl, (const char *)sqlite3_column_text(st, 1)))
                        snprintf(names[n++], sizeof(names[0]), "%s", sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
        for (size_t i = 0; i < n; i++) {
                net_dns_stop(c, names[i]);
                if (net_network_set_up(c, names[i], false, err) < 0)
                        return -1;
        }
        return 0;
}

int net_gc(struct net_ctx *c, struct isola_err *err)
{
        char(*stale)[128] = NULL;
        size_t n_stale = 0;
        struct names links = {0};
        struct net_nl *nl = NULL;
        int rc = -1;
        if (stale_containers(c, &stale, &n_stale, err) < 0)
                return -1;
        /* net_detach_all takes the lock itself. */
        for (size_t i = 0; i < n_stale; i++) {
                struct isola_err e;
                net_detach_all(c, stale[i], &e);
        }
        free(stale);
        int lk = net_lock(c, err);
        if (lk < 0)
                return -1;
        if (net_nl_open(&nl, err) < 0 ||
            net_links_each(nl, NET_BRIDGE_PREFIX, collect, &links, err) < 0 ||
            net_links_each(nl, NET_VETH_PREFIX, collect, &links, err) < 0)
                goto out;
        for (size_t i = 0; i < links.n; i++) {
                const char *name = links.v[i];
                size_t bl = strlen(NET_BRIDGE_PREFIX);
                bool bridge = !strncmp(name, NET_BRIDGE_PREFIX, bl) && name[bl] >= '0' &&
                              name[bl] <= '9' &&
                              strspn(name + bl, "0123456789") == strlen(name + bl);
                bool veth = !strncmp(name, NET_VETH_PREFIX, strlen(NET_VETH_PREFIX)) &&
                            strlen(name) == strlen(NET_VETH_PREFIX) + 10;
                struct isola_err e;
                char master[IFNAMSIZ];
                /* Only links of this database's networks: another isola root
                 * on the host keeps its own. */
                bool stale_bridge =
                    bridge && row_has(c, "SELECT 1 FROM networks WHERE bridge = ?", name) &&
                    !row_has(c, "SELECT 1 FROM networks WHERE bridge = ? AND up = 1", name);
                bool stale_veth =
                    veth &&
                    !row_has(c, "SELECT 1 FROM net_attachments WHERE host_ifname = ?", name) &&
                    net_link_master(nl, name, master) == 0 &&
                    row_has(c, "SELECT 1 FROM networks WHERE bridge = ?", master);
                if (stale_bridge || stale_veth)
                        net_link_delete(nl, name, &e);
        }
        if (mark_missing_down(c, nl, err) < 0)
                goto out;
        net_dns_gc(c);
        rc = net_nft_sync(c, err);
out:
        free(links.v);
        net_nl_close(nl);
        net_unlock(lk);
        return rc < 0 ? err_prefix(err, "network clean-up") : 0;
}

/* One SELECT and a stat per attached container: an attachment whose
 * namespace file is gone (a container that died without its clean-up, a
 * reboot) is the one case net_gc has work that nothing else does. */
static bool something_stale(struct net_ctx *c)
{
        sqlite3_stmt *st = NULL;
        bool stale = false;
        if (sqlite3_prepare_v2(c->db, "SELECT DISTINCT container_id FROM net_attachments", -1, &st,
                               NULL) != SQLITE_OK)
                return false;
        while (!stale && sqlite3_step(st) == SQLITE_ROW) {
                char path[PATH_MAX];
                struct stat sb;
                int n = snprintf(path, sizeof(path), "%s/netns/%s", c->paths.runroot,
                                 (const char *)sqlite3_column_text(st, 0));
                stale = n > 0 && (size_t)n < sizeof(path) && stat(path, &sb) < 0 && errno == ENOENT;
        }
        sqlite3_finalize(st);
        return stale;
}

int net_gc_if_stale(struct net_ctx *c, struct isola_err *err)
{
        return something_stale(c) ? net_gc(c, err) : 0;
}
