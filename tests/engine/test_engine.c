/* Unit tests of the engine library without containers: the config JSON
 * round trip, user and group resolution inside a root (a symlinked
 * /etc/passwd must not lead to the host's), the default seccomp profile's
 * shape, and the -v parsing errors. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine_internal.h"
#include "tap.h"
#include "util/fs.h"

static char *dupv[] = {"a", "b c", NULL};

static void test_config_roundtrip(void)
{
        struct eng_config in = {.name = "n1",
                                .image = "busybox",
                                .cmd = dupv,
                                .entrypoint_set = true,
                                .memory = 1 << 20,
                                .cpus = 1.5,
                                .pids_limit = -1,
                                .read_only = true,
                                .tty = true,
                                .restart = ENG_RESTART_ON_FAILURE,
                                .restart_max = 3,
                                .network = "host",
                                .stop_timeout = 7};
        struct eng_config out;
        struct isola_err err = {0};
        json_object *j = eng_config_to_json(&in);

        TAP_EQ_INT(eng_config_from_json(json_object_to_json_string(j), &out, &err), 0,
                   "config JSON parses back");
        TAP_EQ_STR(out.name, "n1", "name kept");
        TAP_EQ_STR(out.cmd ? out.cmd[1] : NULL, "b c", "cmd kept word by word");
        TAP_EQ_INT(out.cmd && !out.cmd[2], 1, "cmd stays NULL-terminated");
        TAP_EQ_INT(out.entrypoint_set && !out.entrypoint, 1, "empty --entrypoint kept as set");
        TAP_EQ_INT(out.memory, 1 << 20, "memory kept");
        TAP_EQ_INT((int)(out.cpus * 10), 15, "cpus kept");
        TAP_EQ_INT(out.pids_limit, -1, "pids limit kept");
        TAP_EQ_INT(out.read_only && out.tty, 1, "flags kept");
        TAP_EQ_INT(out.restart, ENG_RESTART_ON_FAILURE, "restart policy kept");
        TAP_EQ_INT(out.restart_max, 3, "restart count kept");
        TAP_EQ_STR(out.network, "host", "network kept");
        eng_config_free(&out);
        json_object_put(j);
        TAP_EQ_INT(eng_config_from_json("[1]", &out, &err), -1, "non-object config refused");
        eng_config_free(&out);
}

static void write_file(const char *dir, const char *name, const char *text)
{
        char path[4096];
        struct isola_err err = {0};

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fs_write_file(path, text, strlen(text), O_CREAT | O_TRUNC, 0644, &err);
}

static void test_user(void)
{
        char root[] = "/tmp/isola-eng-unit.XXXXXX", etc[4200], home[4096];
        struct isola_err err = {0};
        uid_t uid;
        gid_t gid, groups[8];
        size_t n;

        if (!mkdtemp(root)) {
                tap_skip("mkdtemp");
                return;
        }
        snprintf(etc, sizeof(etc), "%s/etc", root);
        mkdir(etc, 0755);
        write_file(etc, "passwd",
                   "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
        write_file(etc, "group", "root:x:0:\napp:x:1000:\nwheel:x:10:app,other\n");
        n = 8;
        TAP_EQ_INT(eng_user_resolve(root, "app", &uid, &gid, home, groups, &n, &err), 0,
                   "user by name");
        TAP_EQ_INT(uid * 10000 + gid, 1000 * 10000 + 1000, "uid and gid from passwd");
        TAP_EQ_STR(home, "/home/app", "home from passwd");
        TAP_EQ_INT(n == 2 && groups[0] == 1000 && groups[1] == 10, 1, "primary and member groups");
        n = 8;
        TAP_EQ_INT(eng_user_resolve(root, "1000:wheel", &uid, &gid, home, groups, &n, &err), 0,
                   "uid:group name");
        TAP_EQ_INT(gid, 10, "group name resolved");
        n = 8;
        TAP_EQ_INT(eng_user_resolve(root, "4242", &uid, &gid, home, groups, &n, &err), 0,
                   "unknown numeric uid is fine");
        TAP_EQ_STR(home, "/", "... with / as home");
        n = 8;
        TAP_EQ_INT(eng_user_resolve(root, "ghost", &uid, &gid, home, groups, &n, &err), -1,
                   "unknown user name refused");
        TAP_EQ_INT(strstr(err.msg, "ghost") != NULL, 1, "error names the user");
        /* a hostile image: /etc/passwd -> /etc/../../../etc/passwd of the host */
        char link[4300];
        snprintf(link, sizeof(link), "%s/passwd", etc);
        unlink(link);
        if (symlink("../../../../../../etc/passwd", link) == 0) {
                n = 8;
                err.msg[0] = '\0';
                /* the host has "daemon"; the root does not */
                TAP_EQ_INT(eng_user_resolve(root, "daemon", &uid, &gid, home, groups, &n, &err), -1,
                           "a symlinked /etc/passwd stays inside the root");
        } else {
                tap_skip("symlink");
        }
        char cmd[4200];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        if (system(cmd) != 0)
                printf("# could not remove %s\n", root);
}

static void test_seccomp(void)
{
        json_object *p = eng_seccomp_default(), *v, *sys;
        size_t allowed = 0;
        int refuses_vmsplice = 0;

        TAP_EQ_INT(json_object_object_get_ex(p, "defaultAction", &v) &&
                       !strcmp(json_object_get_string(v), "SCMP_ACT_ERRNO"),
                   1, "default action is ERRNO");
        TAP_EQ_INT(json_object_object_get_ex(p, "defaultErrnoRet", &v) &&
                       json_object_get_int(v) == ENOSYS,
                   1, "unknown syscalls get ENOSYS");
        json_object_object_get_ex(p, "syscalls", &sys);
        for (size_t i = 0; sys && i < json_object_array_length(sys); i++) {
                json_object *r = json_object_array_get_idx(sys, i), *names, *act;
                json_object_object_get_ex(r, "names", &names);
                json_object_object_get_ex(r, "action", &act);
                bool allow = !strcmp(json_object_get_string(act), "SCMP_ACT_ALLOW");
                for (size_t k = 0; k < json_object_array_length(names); k++) {
                        const char *n = json_object_get_string(json_object_array_get_idx(names, k));
                        allowed += allow;
                        if (!allow && !strcmp(n, "vmsplice"))
                                refuses_vmsplice = 1;
                }
        }
        TAP_EQ_INT(allowed > 300, 1, "hundreds of syscalls allowed");
        TAP_EQ_INT(refuses_vmsplice, 1, "vmsplice refused as podman does");
        json_object_put(p);
}

int main(void)
{
        test_config_roundtrip();
        test_user();
        test_seccomp();
        return tap_done();
}
