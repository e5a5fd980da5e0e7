/* config.json "process" and `exec --process` files: user, args/env/cwd,
 * capabilities resolved to bits, rlimits resolved to RLIMIT_* numbers. */
#include <linux/capability.h>
#include <sys/resource.h>

#include "test_spec_util.h"

static void test_process(void)
{
        struct spec *s = parse_ok(
            CFG(", \"process\": {\"terminal\": true, \"consoleSize\": {\"height\": 24,"
                " \"width\": 80}, \"user\": {\"uid\": 1000, \"gid\": 100, \"umask\": 18,"
                " \"additionalGids\": [5, 4294967295], \"username\": \"me\"},"
                " \"args\": [\"sh\", \"-c\", \"echo hi\"], \"env\": [\"PATH=/bin\"],"
                " \"cwd\": \"/tmp\", \"noNewPrivileges\": true, \"oomScoreAdj\": -999,"
                " \"apparmorProfile\": \"p\", \"selinuxLabel\": \"l\", \"ioPriority\": {}}"),
            "full process");
        struct spec_process *p;

        if (!s)
                return;
        p = s->process;
        tap_ok(p->terminal && p->has_console_size, "terminal, consoleSize");
        tap_ok(p->console_height == 24 && p->console_width == 80, "console height/width");
        tap_ok(p->user.uid == 1000 && p->user.gid == 100, "uid/gid");
        tap_ok(p->user.has_umask && p->user.umask == 022, "umask");
        TAP_EQ_INT(p->user.n_additional_gids, 2, "additionalGids count");
        TAP_EQ_INT(p->user.additional_gids[1], 4294967295u, "largest gid");
        TAP_EQ_STR(p->user.username, "me", "username");
        TAP_EQ_INT(p->n_args, 3, "args count");
        TAP_EQ_STR(p->args[2], "echo hi", "args[2]");
        tap_ok(p->args[3] == NULL, "args NULL-terminated");
        TAP_EQ_STR(p->env[0], "PATH=/bin", "env");
        tap_ok(p->env[1] == NULL, "env NULL-terminated");
        TAP_EQ_STR(p->cwd, "/tmp", "cwd");
        tap_ok(p->no_new_privileges, "noNewPrivileges");
        tap_ok(p->has_oom_score_adj && p->oom_score_adj == -999, "oomScoreAdj");
        TAP_EQ_STR(p->apparmor_profile, "p", "apparmorProfile");
        TAP_EQ_STR(p->selinux_label, "l", "selinuxLabel");
        tap_ok(!p->caps.present && p->n_rlimits == 0, "no capabilities, no rlimits");
        spec_free(s);

        s = parse_ok(CFG(PROC("")), "minimal process");
        if (s) {
                p = s->process;
                tap_ok(!p->terminal && !p->has_console_size && !p->user.has_umask &&
                           p->user.uid == 0 && !p->has_oom_score_adj && p->env == NULL,
                       "defaults of a minimal process");
        }
        spec_free(s);
}

static void test_capabilities(void)
{
        struct spec *s = parse_ok(
            CFG(PROC(", \"capabilities\": {\"bounding\": [\"CAP_SYS_ADMIN\", \"CAP_KILL\"],"
                     " \"effective\": [\"CAP_CHOWN\"], \"inheritable\": [],"
                     " \"permitted\": [\"cap_net_raw\", \"NET_ADMIN\"],"
                     " \"ambient\": [\"CAP_CHECKPOINT_RESTORE\"]}")),
            "capabilities");
        struct spec_caps *c;

        if (!s)
                return;
        c = &s->process->caps;
        tap_ok(c->present, "capabilities present");
        TAP_EQ_INT(c->bounding, (1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_KILL), "bounding bits");
        TAP_EQ_INT(c->effective, 1ULL << CAP_CHOWN, "effective bits");
        TAP_EQ_INT(c->inheritable, 0, "empty inheritable");
        TAP_EQ_INT(c->permitted, (1ULL << CAP_NET_RAW) | (1ULL << CAP_NET_ADMIN),
                   "lower case and prefix-less names");
        TAP_EQ_INT(c->ambient, 1ULL << 40, "CAP_CHECKPOINT_RESTORE is bit 40");
        spec_free(s);

        parse_fails(CFG(PROC(", \"capabilities\": {\"effective\": [\"CAP_KILL\", \"CAP_FOO\"]}")),
                    "process.capabilities.effective[1]: unknown capability 'CAP_FOO'",
                    "unknown capability");
        parse_fails(CFG(PROC(", \"capabilities\": {\"bounding\": [\"12\"]}")),
                    "unknown capability '12'", "numeric capability");
        parse_fails(CFG(PROC(", \"capabilities\": {\"bounding\": [\"CAP_KILL,CAP_CHOWN\"]}")),
                    "unknown capability 'CAP_KILL,CAP_CHOWN'", "comma-joined capabilities");
        parse_fails(CFG(PROC(", \"capabilities\": {\"ambient\": \"CAP_KILL\"}")),
                    "process.capabilities.ambient: expected an array of strings",
                    "capability set as string");
        parse_fails(CFG(PROC(", \"capabilities\": [\"CAP_KILL\"]")),
                    "process.capabilities: expected an object", "capabilities as array");
}

static void test_rlimits(void)
{
        struct spec *s =
            parse_ok(CFG(PROC(", \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 1024,"
                              " \"hard\": 4096}, {\"type\": \"RLIMIT_CORE\", \"soft\": 0, \"hard\":"
                              " 18446744073709551615}, {\"type\": \"RLIMIT_RTTIME\"}]")),
                     "rlimits");
        struct spec_rlimit *r;

        if (!s)
                return;
        TAP_EQ_INT(s->process->n_rlimits, 3, "rlimit count");
        r = s->process->rlimits;
        tap_ok(r[0].resource == RLIMIT_NOFILE && r[0].soft == 1024 && r[0].hard == 4096,
               "RLIMIT_NOFILE soft/hard");
        tap_ok(r[1].resource == RLIMIT_CORE && r[1].hard == UINT64_MAX, "unlimited as 2^64-1");
        TAP_EQ_INT(r[2].resource, RLIMIT_RTTIME, "RLIMIT_RTTIME");
        spec_free(s);

        parse_fails(CFG(PROC(", \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\"},"
                             " {\"type\": \"RLIMIT_FOO\"}]")),
                    "process.rlimits[1].type: unknown rlimit 'RLIMIT_FOO'", "unknown rlimit");
        parse_fails(CFG(PROC(", \"rlimits\": [{\"type\": \"RLIMIT_AS\"}, {\"type\": "
                             "\"RLIMIT_AS\"}]")),
                    "process.rlimits[1].type: duplicate rlimit 'RLIMIT_AS'", "duplicate rlimit");
        parse_fails(CFG(PROC(", \"rlimits\": [{\"soft\": 1}]")),
                    "process.rlimits[0].type: required", "rlimit without type");
        parse_fails(CFG(PROC(", \"rlimits\": [{\"type\": \"RLIMIT_AS\", \"soft\": -1}]")),
                    "process.rlimits[0].soft: expected a non-negative integer", "negative rlimit");
        parse_fails(CFG(PROC(", \"rlimits\": [{\"type\": \"RLIMIT_AS\", \"hard\": \"1\"}]")),
                    "process.rlimits[0].hard: expected an integer", "string rlimit");
}

static void test_process_errors(void)
{
        parse_fails(CFG(", \"process\": {\"args\": \"sh\", \"cwd\": \"/\"}"),
                    "process.args: expected an array of strings", "string args");
        parse_fails(CFG(", \"process\": {\"args\": [\"sh\", 1], \"cwd\": \"/\"}"),
                    "process.args[1]: expected a string", "numeric arg");
        parse_fails(CFG(", \"process\": {\"args\": [], \"cwd\": \"/\"}"),
                    "process.args: required: at least one entry", "empty args");
        parse_fails(CFG(", \"process\": {\"args\": [\"sh\"]}"), "process.cwd: required",
                    "missing cwd");
        parse_fails(CFG(", \"process\": {\"args\": [\"sh\"], \"cwd\": \"tmp\"}"),
                    "process.cwd: must be an absolute path", "relative cwd");
        parse_fails(CFG(PROC(", \"terminal\": \"yes\"")), "process.terminal: expected a boolean",
                    "string terminal");
        parse_fails(CFG(PROC(", \"user\": {\"uid\": -1}")),
                    "process.user.uid: expected a non-negative integer", "negative uid");
        parse_fails(CFG(PROC(", \"user\": {\"gid\": 4294967296}")),
                    "process.user.gid: integer 4294967296 out of range", "gid over 32 bits");
        parse_fails(CFG(PROC(", \"user\": {\"uid\": 1.5}")),
                    "process.user.uid: expected an integer", "fractional uid");
        parse_fails(CFG(PROC(", \"user\": {\"umask\": 512}")), "process.user.umask: integer 512",
                    "umask over 0777");
        parse_fails(CFG(PROC(", \"user\": {\"additionalGids\": [1, \"2\"]}")),
                    "process.user.additionalGids[1]: expected an integer", "string gid");
        parse_fails(CFG(PROC(", \"oomScoreAdj\": 1001")), "process.oomScoreAdj: integer 1001",
                    "oomScoreAdj over 1000");
        parse_fails(CFG(PROC(", \"consoleSize\": {\"height\": true}")),
                    "process.consoleSize.height: expected an integer", "boolean console height");
        parse_fails(CFG(PROC(", \"env\": {}")), "process.env: expected an array of strings",
                    "object env");
        parse_fails(CFG(", \"process\": []"), "process: expected an object", "process as array");
}

static void test_exec_process(void)
{
        const char *json = "{\"args\": [\"ls\"], \"cwd\": \"/\", \"env\": [\"A=1\"], \"user\": "
                           "{\"uid\": 5}, \"capabilities\": {\"bounding\": [\"CAP_KILL\"]}}";
        struct isola_err err = {0};
        struct spec_process *p = NULL;

        tap_ok(spec_parse_process(json, strlen(json), &p, &err) == 0 && p,
               "spec_parse_process parses a process.json");
        if (p) {
                TAP_EQ_STR(p->args[0], "ls", "exec args");
                TAP_EQ_INT(p->user.uid, 5, "exec uid");
                TAP_EQ_INT(p->caps.bounding, 1ULL << CAP_KILL, "exec capabilities");
        }
        spec_process_free(p);
        p = NULL;
        json = "{\"args\": [\"ls\"], \"cwd\": 7}";
        tap_ok(spec_parse_process(json, strlen(json), &p, &err) < 0 && !p &&
                   !strcmp(err.msg, "cwd: expected a string"),
               "process.json errors name the member");
        printf("#   %s\n", err.msg);
        json = "{\"args\": [\"ls\"]";
        tap_ok(spec_parse_process(json, strlen(json), &p, &err) < 0 &&
                   strstr(err.msg, "invalid JSON"),
               "malformed process.json");
}

int main(void)
{
        test_process();
        test_capabilities();
        test_rlimits();
        test_process_errors();
        test_exec_process();
        return tap_done();
}
