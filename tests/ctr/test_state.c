/* Unit tests for the container state directory: id rules, save/load round
 * trip, OCI state JSON, locking and removal. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctr/state.h"
#include "tap.h"

static void test_ids(void)
{
        struct isola_err err = {0};
        char long_id[1100];

        tap_ok(state_validate_id("abc-DEF_1.2+3", &err) == 0, "valid id accepted");
        tap_ok(state_validate_id("", &err) < 0, "empty id refused");
        tap_ok(state_validate_id("a/b", &err) < 0 && strstr(err.msg, "'a/b'"),
               "id with '/' refused naming it: %s", err.msg);
        tap_ok(state_validate_id("..", &err) < 0, "'..' refused");
        tap_ok(state_validate_id(".", &err) < 0, "'.' refused");
        tap_ok(state_validate_id("a b", &err) < 0, "space refused");
        tap_ok(state_validate_id("a\nb", &err) < 0, "newline refused");
        memset(long_id, 'a', sizeof(long_id) - 1);
        long_id[sizeof(long_id) - 1] = 0;
        tap_ok(state_validate_id(long_id, &err) < 0, "id longer than 1024 refused");
        long_id[1024] = 0;
        tap_ok(state_validate_id(long_id, &err) == 0, "id of 1024 accepted");
}

static void test_round_trip(const char *root)
{
        struct isola_err err = {0};
        char *keys[] = {"k1", NULL}, *vals[] = {"v\"1", NULL};
        struct ctr_state st = {.id = "c1",
                               .pid = 1234,
                               .pid_start = 99887766,
                               .bundle = "/b",
                               .rootfs = "/b/rootfs",
                               .created = "2026-01-01T00:00:00.000000000Z",
                               .status = CTR_CREATED,
                               .cgroup = "v1;/sys/fs/cgroup/x",
                               .owner = 0,
                               .hook_mask = 5,
                               .config = "{\"ociVersion\":\"1.1.0\"}",
                               .annotation_keys = keys,
                               .annotation_values = vals,
                               .n_annotations = 1};
        struct ctr_state *got = NULL;
        int fd, fd2;
        char *json;
        json_object *o, *v;

        fd = state_dir_create(root, "c1", &err);
        tap_ok(fd >= 0, "state dir created: %s", fd < 0 ? err.msg : "");
        if (fd < 0)
                return;
        tap_ok(state_dir_create(root, "c1", &err) < 0 && strstr(err.msg, "already exists"),
               "existing id refused: %s", err.msg);
        tap_ok(state_save(fd, &st, &err) == 0, "state saved");
        tap_ok(state_load(fd, &got, &err) == 0, "state loaded");
        if (got) {
                TAP_EQ_STR(got->id, "c1", "id round trip");
                TAP_EQ_INT(got->pid, 1234, "pid round trip");
                tap_ok(got->pid_start == 99887766ULL, "pid start time round trip");
                TAP_EQ_STR(got->cgroup, st.cgroup, "cgroup string round trip");
                TAP_EQ_STR(got->config, st.config, "config round trip");
                TAP_EQ_INT((int)got->hook_mask, 5, "hook mask round trip");
                tap_ok(got->n_annotations == 1 && !strcmp(got->annotation_values[0], "v\"1"),
                       "annotations round trip");
        }
        json = state_oci_json(&st, CTR_RUNNING, false);
        o = json_tokener_parse(json);
        tap_ok(o && json_object_object_get_ex(o, "status", &v) &&
                   !strcmp(json_object_get_string(v), "running"),
               "OCI state has the derived status");
        tap_ok(o && json_object_object_get_ex(o, "ociVersion", &v) &&
                   json_object_object_get_ex(o, "bundle", &v) &&
                   json_object_object_get_ex(o, "annotations", &v),
               "OCI state has ociVersion, bundle and annotations");
        json_object_put(o);
        free(json);
        json = state_oci_json(&st, CTR_STOPPED, false);
        tap_ok(strstr(json, "\"pid\":0") != NULL, "a stopped container reports pid 0");
        free(json);
        /* The exclusive lock of create is held: a second exclusive locker
         * would block, a non-blocking attempt fails. */
        fd2 = state_dir_open(root, "c1", 0, &err);
        tap_ok(fd2 >= 0 && flock(fd2, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK,
               "state dir lock is exclusive");
        if (fd2 >= 0)
                close(fd2);
        close(fd);
        state_free(got);
        tap_ok(state_dir_remove(root, "c1", &err) == 0, "state dir removed");
        tap_ok(state_dir_open(root, "c1", LOCK_SH, &err) < 0 &&
                   strstr(err.msg, "container 'c1' does not exist"),
               "missing container named: %s", err.msg);
}

static void test_proc(void)
{
        unsigned long long start;

        tap_ok(proc_start_time(getpid(), &start) == 0 && start > 0, "own start time read");
        tap_ok(proc_is_same(getpid(), start), "same process recognised");
        tap_ok(!proc_is_same(getpid(), start + 1), "different start time = pid reused");
        tap_ok(!proc_is_same(0, 0), "pid 0 is never alive");
}

int main(void)
{
        char root[] = "/tmp/isola-test-state.XXXXXX";

        if (!mkdtemp(root)) {
                tap_skip("mkdtemp failed");
                return tap_done();
        }
        test_ids();
        test_round_trip(root);
        test_proc();
        rmdir(root);
        return tap_done();
}
