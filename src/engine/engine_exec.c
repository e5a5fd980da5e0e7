/* exec: a process in a running container through the runtime library
 * (ctr_exec, in-process; it relays a pty for -t itself). The user is
 * resolved against the container's own /etc/passwd. */
#include "engine/engine_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctr/container.h"
#include "engine/events.h"

int eng_exec(struct eng_ctx *c, const char *ref, const struct eng_exec_opts *o, int *code_out,
             struct isola_err *err)
{
        struct eng_container *ct = NULL;
        struct ctr_opts opts = {.root = c->ctr_root};
        char user[64], rootfs[PATH_MAX], home[PATH_MAX];
        struct ctr_exec_args a = {
            .args = o->args, .tty = o->tty, .detach = o->detach, .cwd = o->workdir, .env = o->env};
        int rc = -1;

        if (!o->args || !o->args[0])
                return err_set(err, EINVAL, "exec: no command given");
        if (eng_get(c, ref, &ct, err) < 0)
                return -1;
        if (strcmp(ct->state, "running") != 0) {
                err_set(err, EINVAL, "container '%s' is not running (state: %s)", ref, ct->state);
                goto out;
        }
        if (o->user) {
                uid_t uid;
                gid_t gid, groups[1];
                size_t n = 0;
                eng_ctr_path(c, ct->id, "merged", rootfs, sizeof(rootfs));
                if (eng_user_resolve(rootfs, o->user, &uid, &gid, home, groups, &n, err) < 0) {
                        err_prefix(err, "exec -u '%s'", o->user);
                        goto out;
                }
                snprintf(user, sizeof(user), "%u:%u", (unsigned)uid, (unsigned)gid);
                a.user = user;
        }
        char what[256] = "";
        for (size_t i = 0; o->args[i] && strlen(what) < 200; i++)
                snprintf(what + strlen(what), sizeof(what) - strlen(what), "%s%s", i ? " " : "",
                         o->args[i]);
        char action[300];
        snprintf(action, sizeof(action), "exec_create: %s", what);
        eng_event_container(c->db, ct->id, action);
        snprintf(action, sizeof(action), "exec_start: %s", what);
        eng_event_container(c->db, ct->id, action);
        rc = ctr_exec(&opts, ct->id, &a, code_out, err);
        if (rc == 0 && !o->detach) {
                char code_s[16];
                snprintf(code_s, sizeof(code_s), "%d", *code_out);
                eng_event_container(c->db, ct->id, "exec_die", "exitCode", code_s);
        }
        if (rc < 0)
                err_prefix(err, "exec in '%s'", ref);
out:
        eng_container_free(ct);
        return rc;
}
