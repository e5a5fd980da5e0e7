/* `exec [flags] <id> [command args...]` with runc's flags. */
#include "cli/runtime_args.h"

int rt_cmd_exec(struct rt_ctx *ctx, int argc, char **argv)
{
        struct ctr_exec_args a = {0};
        struct rt_list env = {0}, caps = {0};
        struct isola_err err = {0};
        const char *apparmor = NULL, *label = NULL, *cgroup = NULL;
        bool ignore_paused = false;
        const struct rt_opt opts[] = {
            {"process", 'p', RT_STR, &a.process_file},
            {"tty", 't', RT_BOOL, &a.tty},
            {"detach", 'd', RT_BOOL, &a.detach},
            {"pid-file", 0, RT_STR, &a.pid_file},
            {"console-socket", 0, RT_STR, &a.console_socket},
            {"cwd", 0, RT_STR, &a.cwd},
            {"env", 'e', RT_LIST, &env},
            {"user", 'u', RT_STR, &a.user},
            {"cap", 'c', RT_LIST, &caps},
            {"preserve-fds", 0, RT_INT, &a.preserve_fds},
            {"no-new-privs", 0, RT_BOOL, &a.no_new_privs},
            {"apparmor", 0, RT_STR, &apparmor},
            {"process-label", 0, RT_STR, &label},
            {"cgroup", 0, RT_STR, &cgroup},
            {"ignore-paused", 0, RT_BOOL, &ignore_paused},
            {NULL, 0, 0, NULL},
        };
        int next, status = 0, rc;

        if (rt_parse(argv[0], argc, argv, opts, &next) < 0)
                return 1;
        if (next >= argc)
                return rt_usage(ctx, argv[0], "expects <container-id> [command...]");
        if (!a.process_file && next + 1 >= argc)
                return rt_usage(ctx, argv[0], "expects a command or --process");
        a.args = argv + next + 1;
        a.env = env.items;
        a.caps = caps.items;
        rc = ctr_exec(&ctx->opts, argv[next], &a, &status, &err);
        rt_list_free(&env);
        rt_list_free(&caps);
        if (rc < 0)
                return rt_fail(ctx, &err);
        return status;
}
