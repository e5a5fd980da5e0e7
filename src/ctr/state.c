/* State directory handling, container ids and the OCI state document. */
#include "ctr/state.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

static const char *const status_names[] = {"creating", "created", "running", "stopped", "paused"};

const char *ctr_status_name(enum ctr_status status)
{
        return status_names[status];
}

static int status_from_name(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(status_names); i++)
                if (!strcmp(name, status_names[i]))
                        return (int)i;
        return CTR_STOPPED;
}

int state_validate_id(const char *id, struct isola_err *err)
{
        size_t len = strlen(id);

        if (len == 0)
                return err_set(err, EINVAL, "invalid container id '': must not be empty");
        if (len > 1024)
                return err_set(err, EINVAL, "invalid container id '%.40s...': longer than 1024",
                               id);
        if (!strcmp(id, ".") || !strcmp(id, ".."))
                return err_set(err, EINVAL, "invalid container id '%s'", id);
        for (const char *p = id; *p; p++) {
                char c = *p;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '+' || c == '.' || c == '-')
                        continue;
                return err_set(err, EINVAL,
                               "invalid container id '%s': only [A-Za-z0-9_+.-] allowed", id);
        }
        return 0;
}

static int lock_dir(int fd, int lock, const char *id, struct isola_err *err)
{
        while (lock && flock(fd, lock) < 0) {
                if (errno != EINTR)
                        return err_sys(err, "lock state of container '%s'", id);
        }
        return 0;
}

int state_dir_create(const char *root, const char *id, struct isola_err *err)
{
        _cleanup_close_ int rootfd = -1;
        int fd;

        rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0) {
                if (errno != ENOENT)
                        return err_sys(err, "open state root '%s'", root);
                if (fs_mkdir_p(root, 0700, err) < 0)
                        return err_prefix(err, "create state root");
                rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (rootfd < 0)
                        return err_sys(err, "open state root '%s'", root);
        }
        if (mkdirat(rootfd, id, 0700) < 0) {
                if (errno == EEXIST)
                        return err_set(err, EEXIST, "container '%s' already exists", id);
                return err_sys(err, "create state directory '%s/%s'", root, id);
        }
        fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return err_sys(err, "open state directory '%s/%s'", root, id);
        if (lock_dir(fd, LOCK_EX, id, err) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

int state_dir_open(const char *root, const char *id, int lock, struct isola_err *err)
{
        char path[4096];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", root, id);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        return err_set(err, ENOENT, "container '%s' does not exist", id);
                return err_sys(err, "open state directory '%s'", path);
        }
        if (lock_dir(fd, lock, id, err) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

int state_dir_remove(const char *root, const char *id, struct isola_err *err)
{
        char path[4096];
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        snprintf(path, sizeof(path), "%s/%s", root, id);
        d = opendir(path);
        if (!d)
                return errno == ENOENT ? 0 : err_sys(err, "open state directory '%s'", path);
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
                        return err_sys(err, "remove '%s/%s'", path, de->d_name);
        }
        if (rmdir(path) < 0 && errno != ENOENT)
                return err_sys(err, "remove state directory '%s'", path);
        return 0;
}

static json_object *annotations_json(const struct ctr_state *st)
{
        json_object *a = json_object_new_object();

        for (size_t i = 0; i < st->n_annotations; i++)
                json_object_object_add(a, st->annotation_keys[i],
                                       json_object_new_string(st->annotation_values[i]));
        return a;
}

static void add_str(json_object *o, const char *key, const char *val)
{
        if (val)
                json_object_object_add(o, key, json_object_new_string(val));
}

int state_save(int dirfd, const struct ctr_state *st, struct isola_err *err)
{
        json_object *o = json_object_new_object();
        const char *text;
        int fd, rc = 0;

        add_str(o, "id", st->id);
        json_object_object_add(o, "pid", json_object_new_int(st->pid));
        json_object_object_add(o, "pid_start", json_object_new_uint64(st->pid_start));
        add_str(o, "bundle", st->bundle);
        add_str(o, "rootfs", st->rootfs);
        add_str(o, "created", st->created);
        add_str(o, "status", ctr_status_name(st->status));
        add_str(o, "cgroup", st->cgroup);
        json_object_object_add(o, "owner", json_object_new_int64(st->owner));
        json_object_object_add(o, "hooks", json_object_new_int64(st->hook_mask));
        add_str(o, "config", st->config);
        json_object_object_add(o, "annotations", annotations_json(st));
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        fd = openat(dirfd, STATE_FILE ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
                rc = err_sys(err, "write container state");
        } else {
                if (fs_write_all(fd, text, strlen(text)) < 0)
                        rc = err_sys(err, "write container state");
                close(fd);
                if (rc == 0 && renameat(dirfd, STATE_FILE ".tmp", dirfd, STATE_FILE) < 0)
                        rc = err_sys(err, "write container state");
        }
        json_object_put(o);
        return rc;
}

static char *dup_field(json_object *o, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return strdup(json_object_get_string(v));
}

static int64_t int_field(json_object *o, const char *key)
{
        json_object *v;

        return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static void load_annotations(json_object *o, struct ctr_state *st)
{
        json_object *a;
        size_t n, i = 0;

        if (!json_object_object_get_ex(o, "annotations", &a) ||
            !json_object_is_type(a, json_type_object))
                return;
        n = (size_t)json_object_object_length(a);
        st->annotation_keys = calloc(n + 1, sizeof(char *));
        st->annotation_values = calloc(n + 1, sizeof(char *));
        if (!st->annotation_keys || !st->annotation_values)
                return;
        json_object_object_foreach(a, key, val)
        {
                const char *v = val ? json_object_get_string(val) : "";
                st->annotation_keys[i] = strdup(key);
                st->annotation_values[i] = strdup(v ? v : "");
                if (!st->annotation_keys[i] || !st->annotation_values[i]) {
                        free(st->annotation_keys[i]);
                        free(st->annotation_values[i]);
                        break;
                }
                i++;
        }
        st->n_annotations = i;
}

int state_parse(const char *text, size_t len, struct ctr_state **st_out, struct isola_err *err)
{
        json_tokener *tok = json_tokener_new();
        json_object *o;
        struct ctr_state *st;
        char *status;
        int64_t pid;

        if (!tok)
                return err_set(err, ENOMEM, "out of memory");
        o = json_tokener_parse_ex(tok, text, (int)len);
        json_tokener_free(tok);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return err_set(err, EINVAL, "container state file is corrupt");
        }
        st = calloc(1, sizeof(*st));
        if (!st) {
                json_object_put(o);
                return err_set(err, ENOMEM, "out of memory");
        }
        st->id = dup_field(o, "id");
        pid = int_field(o, "pid");
        st->pid = (pid > 0 && pid <= INT_MAX) ? (pid_t)pid : 0;
        st->pid_start = (unsigned long long)int_field(o, "pid_start");
        st->bundle = dup_field(o, "bundle");
        st->rootfs = dup_field(o, "rootfs");
        st->created = dup_field(o, "created");
        status = dup_field(o, "status");
        st->status = status ? (enum ctr_status)status_from_name(status) : CTR_STOPPED;
        free(status);
        st->cgroup = dup_field(o, "cgroup");
        st->owner = (uid_t)int_field(o, "owner");
        st->hook_mask = (unsigned)int_field(o, "hooks");
        st->config = dup_field(o, "config");
        load_annotations(o, st);
        json_object_put(o);
        /* A pid <= 0 would make kill(2) signal a process group or every
         * process: never trust it. */
        if (!st->id || st->pid <= 0) {
                state_free(st);
                return err_set(err, EINVAL, "container state file is corrupt (id or pid)");
        }
        *st_out = st;
        return 0;
}

int state_load(int dirfd, struct ctr_state **st_out, struct isola_err *err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *text = NULL;
        size_t len;

        fd = openat(dirfd, STATE_FILE, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return err_sys(err, "read container state");
        if (fs_read_fd(fd, 16 << 20, &text, &len, err) < 0)
                return err_prefix(err, "read container state");
        return state_parse(text, len, st_out, err);
}

void state_free(struct ctr_state *st)
{
        if (!st)
                return;
        free(st->id);
        free(st->bundle);
        free(st->rootfs);
        free(st->created);
        free(st->cgroup);
        free(st->config);
        for (size_t i = 0; i < st->n_annotations; i++) {
                free(st->annotation_keys[i]);
                free(st->annotation_values[i]);
        }
        free(st->annotation_keys);
        free(st->annotation_values);
        free(st);
}

char *state_oci_json(const struct ctr_state *st, enum ctr_status status, bool pretty)
{
        json_object *o = json_object_new_object();
        char *out;
        int pid = (status == CTR_STOPPED) ? 0 : st->pid;

        add_str(o, "ociVersion", "1.1.0");
        add_str(o, "id", st->id);
        add_str(o, "status", ctr_status_name(status));
        json_object_object_add(o, "pid", json_object_new_int(pid));
        add_str(o, "bundle", st->bundle);
        add_str(o, "rootfs", st->rootfs);
        add_str(o, "created", st->created);
        add_str(o, "owner", "");
        json_object_object_add(o, "annotations", annotations_json(st));
        out = strdup(json_object_to_json_string_ext(
            o,
            (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN) |
                JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return out;
}

int proc_start_time(pid_t pid, unsigned long long *start_out)
{
        char path[64], buf[1024], *p;
        _cleanup_close_ int fd = -1;
        ssize_t n;
        int field;

        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return -1;
        buf[n] = 0;
        /* comm may contain spaces and ')': fields start after the last ')'. */
        p = strrchr(buf, ')');
        if (!p || p[1] != ' ')
                return -1;
        p += 2;
        if (*p == 'Z' || *p == 'X')
                return -1;
        for (field = 3; field < 22 && p; field++) {
                p = strchr(p, ' ');
                if (p)
                        p++;
        }
        if (!p)
                return -1;
        *start_out = strtoull(p, NULL, 10);
        return 0;
}

bool proc_is_same(pid_t pid, unsigned long long start)
{
        unsigned long long now;

        if (pid <= 0 || proc_start_time(pid, &now) < 0)
                return false;
        return now == start;
}

void state_now_rfc3339(char *buf, size_t len)
{
        struct timespec ts;
        struct tm tm;
        size_t n;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, len - n, ".%09ldZ", ts.tv_nsec);
}
