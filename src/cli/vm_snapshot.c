/* `isola vm snapshot create|ls|rm`, `isola vm restore` and `isola vm
 * revert` over managed VMs: the work is in vmm/snapshot_mgr.h (shared with
 * `isola serve`); snapshots live in <root>/vms/<id12>/snapshots/<SNAP>. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/vm_cli.h"
#include "vmm/mgr.h"
#include "vmm/snapshot_mgr.h"

static int snapshot_create(struct vm_mgr *m, int argc, char **argv)
{
        struct isola_err err = {0};
        struct json_object *o = NULL, *v;
        bool live = argc == 4 && !strcmp(argv[3], "--live");

        if (argc != 3 && !live)
                return vm_cli_usage("snapshot create", "expected NAME SNAP [--live]");
        if (vm_snap_create(m, argv[1], argv[2], live, &o, &err) < 0)
                return vm_cli_fail("snapshot create", &err);
        if (!live) {
                printf("%s\n", argv[2]);
        } else {
                /* how long the guest stood still is the point of --live */
                printf("%s: live, %d rounds, paused %.1f ms\n", argv[2],
                       json_object_object_get_ex(o, "rounds", &v) ? json_object_get_int(v) : 0,
                       json_object_object_get_ex(o, "paused_ms", &v) ? json_object_get_double(v)
                                                                     : 0.0);
        }
        json_object_put(o);
        return 0;
}

static int snapshot_ls(struct vm_mgr *m, int argc, char **argv)
{
        struct isola_err err = {0};
        struct json_object *arr = NULL;
        char when[32];
        bool json = argc == 4 && !strcmp(argv[2], "--format") && !strcmp(argv[3], "json");

        if (argc != 2 && !json)
                return vm_cli_usage("snapshot ls", "expected NAME [--format json]");
        if (vm_snap_list(m, argv[1], &arr, &err) < 0)
                return vm_cli_fail("snapshot ls", &err);
        if (json) {
                printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY));
                json_object_put(arr);
                return 0;
        }
        printf("%-24s %-20s %12s\n", "NAME", "CREATED", "MEMORY");
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                struct json_object *o = json_object_array_get_idx(arr, i), *v;
                time_t t = json_object_object_get_ex(o, "created", &v)
                               ? (time_t)json_object_get_int64(v)
                               : 0;
                long long mem = json_object_object_get_ex(o, "memory_bytes", &v)
                                    ? (long long)json_object_get_int64(v)
                                    : 0;
                struct tm tm;
                localtime_r(&t, &tm);
                strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
                printf("%-24s %-20s %9lld MiB\n",
                       json_object_object_get_ex(o, "name", &v) ? json_object_get_string(v) : "",
                       when, mem >> 20);
        }
        json_object_put(arr);
        return 0;
}

static int snapshot_rm(struct vm_mgr *m, int argc, char **argv)
{
        struct isola_err err = {0};
        int rc = 0;

        if (argc < 3)
                return vm_cli_usage("snapshot rm", "expected NAME SNAP...");
        for (int i = 2; i < argc; i++) {
                if (vm_snap_rm(m, argv[1], argv[i], &err) < 0) {
                        rc = vm_cli_fail("snapshot rm", &err);
                        continue;
                }
                printf("%s\n", argv[i]);
        }
        return rc;
}

/* restore NAME SNAP [--name NEW]; revert NAME SNAP */
static int restore_cmd(const char *verb, int argc, char **argv, bool revert)
{
        struct isola_err err = {0};
        struct vm_mgr *m = NULL;
        const char *clone = NULL;

        if (!revert && argc == 5 && !strcmp(argv[3], "--name"))
                clone = argv[4];
        else if (argc != 3)
                return vm_cli_usage(verb, revert ? "expected NAME SNAP"
                                                 : "expected NAME SNAP [--name NEW]");
        if (vm_mgr_open(NULL, &m, &err) < 0)
                return vm_cli_fail(verb, &err);
        int rc = vm_snap_restore(m, argv[1], argv[2], clone, revert, &err);
        if (rc == 0)
                printf("%s\n", clone ? clone : argv[1]);
        vm_mgr_close(m);
        return rc == 0 ? 0 : vm_cli_fail(verb, &err);
}

int cli_vm_restore(int argc, char **argv)
{
        return restore_cmd("restore", argc, argv, false);
}

int cli_vm_revert(int argc, char **argv)
{
        return restore_cmd("revert", argc, argv, true);
}

int cli_vm_snapshot(int argc, char **argv)
{
        struct isola_err err = {0};
        struct vm_mgr *m = NULL;
        int rc;

        if (argc < 2)
                return vm_cli_usage("snapshot", "expected create, ls or rm");
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
                printf("usage: isola vm snapshot create NAME SNAP [--live]\n"
                       "       isola vm snapshot ls NAME [--format json]\n"
                       "       isola vm snapshot rm NAME SNAP...\n"
                       "       isola vm restore NAME SNAP [--name NEW]\n"
                       "       isola vm revert NAME SNAP\n"
                       "\n"
                       "  --live         copy memory while the guest runs (dirty log); the\n"
                       "                 guest pauses only for the last pages and the state\n"
                       "  --format json  snapshot ls as JSON\n"
                       "  --name NEW     restore into a new, independent VM NEW\n"
                       "Snapshots live in <root>/vms/<id>/snapshots/SNAP; `isola vm rm` removes\n"
                       "them with the VM.\n");
                return 0;
        }
        if (vm_mgr_open(NULL, &m, &err) < 0)
                return vm_cli_fail("snapshot", &err);
        if (!strcmp(argv[1], "create"))
                rc = snapshot_create(m, argc - 1, argv + 1);
        else if (!strcmp(argv[1], "ls"))
                rc = snapshot_ls(m, argc - 1, argv + 1);
        else if (!strcmp(argv[1], "rm"))
                rc = snapshot_rm(m, argc - 1, argv + 1);
        else
                rc = vm_cli_usage("snapshot", "expected create, ls or rm");
        vm_mgr_close(m);
        return rc;
}

int cli_vm_snap(int argc, char **argv)
{
        if (!strcmp(argv[0], "snapshot"))
                return cli_vm_snapshot(argc, argv);
        if (!strcmp(argv[0], "restore"))
                return cli_vm_restore(argc, argv);
        if (!strcmp(argv[0], "revert"))
                return cli_vm_revert(argc, argv);
        if (!strcmp(argv[0], "migrate"))
                return cli_vm_migrate(argc, argv);
        if (!strcmp(argv[0], "receive"))
                return cli_vm_receive(argc, argv);
        return -1;
}
