/* `state <id>`, `list [--format table|json] [-q]`, `ps [--format table|json] <id>`. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cli/runtime_args.h"

int rt_cmd_state(struct rt_ctx *ctx, int argc, char **argv)
{
        struct isola_err err = {0};
        const struct rt_opt opts[] = {{NULL, 0, 0, NULL}};
        char *json;
        int next;

        if (rt_parse(argv[0], argc, argv, opts, &next) < 0)
                return 1;
        if (next != argc - 1)
                return rt_usage(ctx, argv[0], "expects exactly one argument: <container-id>");
        if (ctr_state(&ctx->opts, argv[next], &json, &err) < 0)
                return rt_fail(ctx, &err);
        puts(json);
        free(json);
        return 0;
}

static json_object *list_entry_json(const struct ctr_list_entry *e)
{
        json_object *o = json_object_new_object(), *a = json_object_new_object();
        const struct ctr_state *st = e->state;

        json_object_object_add(o, "ociVersion", json_object_new_string("1.1.0"));
        json_object_object_add(o, "id", json_object_new_string(st->id ? st->id : ""));
        json_object_object_add(o, "pid",
                               json_object_new_int(e->status == CTR_STOPPED ? 0 : st->pid));
        json_object_object_add(o, "status", json_object_new_string(ctr_status_name(e->status)));
        json_object_object_add(o, "bundle", json_object_new_string(st->bundle ? st->bundle : ""));
        json_object_object_add(o, "rootfs", json_object_new_string(st->rootfs ? st->rootfs : ""));
        json_object_object_add(o, "created",
                               json_object_new_string(st->created ? st->created : ""));
        for (size_t i = 0; i < st->n_annotations; i++)
                json_object_object_add(a, st->annotation_keys[i],
                                       json_object_new_string(st->annotation_values[i]));
        json_object_object_add(o, "annotations", a);
        json_object_object_add(o, "owner", json_object_new_string(""));
        return o;
}

int rt_cmd_list(struct rt_ctx *ctx, int argc, char **argv)
{
        struct isola_err err = {0};
        const char *format = "table";
        bool quiet = false;
        const struct rt_opt opts[] = {
            {"format", 'f', RT_STR, &format}, {"quiet", 'q', RT_BOOL, &quiet}, {NULL, 0, 0, NULL}};
        struct ctr_list_entry *l;
        size_t n;
        int next;

        if (rt_parse(argv[0], argc, argv, opts, &next) < 0)
                return 1;
        if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
                return rt_usage(ctx, argv[0], "--format must be table or json");
        if (ctr_list(&ctx->opts, &l, &n, &err) < 0)
                return rt_fail(ctx, &err);
        if (quiet) {
                for (size_t i = 0; i < n; i++)
                        puts(l[i].state->id);
        } else if (!strcmp(format, "json")) {
                json_object *arr = json_object_new_array();
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(arr, list_entry_json(&l[i]));
                puts(n ? json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE)
                       : "null");
                json_object_put(arr);
        } else {
                printf("%-20s %-8s %-8s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE",
                       "CREATED", "OWNER");
                for (size_t i = 0; i < n; i++) {
                        const struct ctr_state *st = l[i].state;
                        printf("%-20s %-8d %-8s %-40s %-32s %u\n", st->id,
                               l[i].status == CTR_STOPPED ? 0 : st->pid,
                               ctr_status_name(l[i].status), st->bundle ? st->bundle : "",
                               st->created ? st->created : "", st->owner);
                }
        }
        ctr_list_free(l, n);
        return 0;
}

static bool has_pid(const pid_t *pids, size_t n, long pid)
{
        for (size_t i = 0; i < n; i++)
                if (pids[i] == pid)
                        return true;
        return false;
}

/* As runc: run ps(1) with the caller's ps options (default -ef) and keep
 * the header and the container's lines; the PID column is found by name. */
static int ps_table(const pid_t *pids, size_t n, int argc, char **argv)
{
        static const char allowed[] = "abcdefghijklmnopqrstuvwxyz"
                                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-=,:_";
        char cmd[4096] = "ps", line[4096];
        size_t used = 2;
        bool header = true;
        int pid_col = -1;
        FILE *p;

        for (int i = 0; i < argc; i++) {
                /* Options only: nothing a shell would interpret. */
                if (strspn(argv[i], allowed) != strlen(argv[i]) ||
                    used + strlen(argv[i]) + 2 >= sizeof(cmd))
                        return -1;
                used += (size_t)snprintf(cmd + used, sizeof(cmd) - used, " %s", argv[i]);
        }
        if (argc == 0)
                snprintf(cmd + used, sizeof(cmd) - used, " -ef");
        p = popen(cmd, "r");
        if (!p)
                return -1;
        while (fgets(line, sizeof(line), p)) {
                char copy[4096], *tok, *save;
                long pid = -1;
                int col = 0;

                snprintf(copy, sizeof(copy), "%s", line);
                for (tok = strtok_r(copy, " \t\n", &save); tok;
                     tok = strtok_r(NULL, " \t\n", &save), col++) {
                        if (header && !strcmp(tok, "PID"))
                                pid_col = col;
                        else if (!header && col == pid_col)
                                pid = strtol(tok, NULL, 10);
                }
                if (header || has_pid(pids, n, pid))
                        fputs(line, stdout);
                header = false;
        }
        return pclose(p) == 0 ? 0 : -1;
}

int rt_cmd_ps(struct rt_ctx *ctx, int argc, char **argv)
{
        struct isola_err err = {0};
        const char *format = "table";
        const struct rt_opt opts[] = {{"format", 'f', RT_STR, &format}, {NULL, 0, 0, NULL}};
        pid_t *pids;
        size_t n;
        int next, rc = 0;

        if (rt_parse(argv[0], argc, argv, opts, &next) < 0)
                return 1;
        if (next >= argc)
                return rt_usage(ctx, argv[0], "expects <container-id>");
        if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
                return rt_usage(ctx, argv[0], "--format must be table or json");
        if (ctr_ps(&ctx->opts, argv[next], &pids, &n, &err) < 0)
                return rt_fail(ctx, &err);
        if (!strcmp(format, "json")) {
                printf("[");
                for (size_t i = 0; i < n; i++)
                        printf("%s%d", i ? "," : "", pids[i]);
                printf("]\n");
        } else if (ps_table(pids, n, argc - next - 1, argv + next + 1) < 0) {
                err_set(&err, 0, "running ps(1) failed");
                rc = rt_fail(ctx, &err);
        }
        free(pids);
        return rc;
}
