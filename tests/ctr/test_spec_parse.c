/* config.json top level: ociVersion, root, hostname, mounts and their
 * decoded options, hooks, annotations, JSON syntax errors and spec_load. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_spec_util.h"
#include "util/fs.h"

static void test_top_level(void)
{
        struct spec *s = parse_ok(CFG(", \"hostname\": \"box\", \"domainname\": \"example.org\","
                                      " \"futureField\": {\"x\": [1, 2]}"),
                                  "top level with an unknown member");
        if (!s)
                return;
        TAP_EQ_STR(s->oci_version, "1.1.0", "ociVersion");
        TAP_EQ_STR(s->root_path, "rootfs", "root.path");
        TAP_EQ_INT(s->root_readonly, 0, "root.readonly defaults to false");
        TAP_EQ_STR(s->hostname, "box", "hostname");
        TAP_EQ_STR(s->domainname, "example.org", "domainname");
        tap_ok(s->process == NULL, "process is NULL when absent");
        TAP_EQ_INT(s->n_mounts, 0, "no mounts");
        tap_ok(s->linux.seccomp == NULL && !s->linux.has_resources, "no linux section");
        spec_free(s);

        s = parse_ok("{\"ociVersion\": \"1.0.2-dev\", \"root\": {\"path\": \"/r\", \"readonly\": "
                     "true}, \"hostname\": null}",
                     "1.0.2-dev with readonly root, null member");
        if (s) {
                TAP_EQ_INT(s->root_readonly, 1, "root.readonly");
                tap_ok(s->hostname == NULL, "null hostname counts as absent");
        }
        spec_free(s);
}

static void test_required_and_types(void)
{
        parse_fails("{\"root\": {\"path\": \"r\"}}", "ociVersion: required", "missing ociVersion");
        parse_fails("{\"ociVersion\": \"1.1.0\"}", "root.path: required", "missing root");
        parse_fails("{\"ociVersion\": \"1.1.0\", \"root\": {}}", "root.path: required",
                    "missing root.path");
        parse_fails("{\"ociVersion\": \"2.0.0\", \"root\": {\"path\": \"r\"}}",
                    "ociVersion: unsupported version '2.0.0'", "ociVersion 2.0.0");
        parse_fails("{\"ociVersion\": 1, \"root\": {\"path\": \"r\"}}",
                    "ociVersion: expected a string", "numeric ociVersion");
        parse_fails(CFG(", \"hostname\": 5"), "hostname: expected a string", "numeric hostname");
        parse_fails("{\"ociVersion\": \"1.1.0\", \"root\": {\"path\": \"r\", \"readonly\": 1}}",
                    "root.readonly: expected a boolean", "numeric root.readonly");
        parse_fails("{\"ociVersion\": \"1.1.0\", \"root\": \"r\"}", "root: expected an object",
                    "string root");
        parse_fails(CFG(", \"hostname\": \"a\\u0000b\""), "hostname: string contains a NUL",
                    "NUL inside a string");
        parse_fails(CFG(", \"mounts\": {}"), "mounts: expected an array", "object mounts");
        parse_fails("[1, 2]", "expected a JSON object", "top-level array");
}

static void test_syntax_errors(void)
{
        parse_fails("{\"ociVersion\": \"1.1.0\",\n  \"root\": {\"path\": \"r\",}}",
                    "invalid JSON at line 2, column", "trailing comma");
        parse_fails("{\"ociVersion\": \"1.1.0\"", "line 1, column 23: unexpected end of input",
                    "truncated");
        parse_fails(CFG("") " x", "invalid JSON at line 1, column", "garbage after the object");
        parse_fails("", "unexpected end of input", "empty input");
}

static void test_mounts(void)
{
        struct spec *s = parse_ok(
            CFG(", \"mounts\": ["
                "{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
                "{\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
                " \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},"
                "{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"/srv\","
                " \"options\": [\"rbind\", \"ro\", \"rslave\", \"tmpcopyup\"]},"
                "{\"destination\": \"/x\", \"source\": \"/y\","
                " \"options\": [\"bind\", \"ro\", \"rw\", \"dev\", \"exec\", \"suid\","
                " \"nodiratime\", \"noatime\", \"relatime\", \"sync\", \"dirsync\","
                " \"remount\", \"mand\", \"private\"]},"
                "{\"destination\": \"/z\", \"options\": [\"atime\", \"diratime\","
                " \"norelatime\", \"nostrictatime\", \"async\", \"nomand\", \"unbindable\","
                " \"runbindable\", \"shared\", \"rshared\", \"slave\", \"rprivate\","
                " \"exec\", \"noexec\", \"nodev\"]}]"),
            "mounts");
        if (!s)
                return;
        TAP_EQ_INT(s->n_mounts, 5, "five mounts");
        TAP_EQ_STR(s->mounts[0].type, "proc", "mounts[0].type");
        tap_ok(s->mounts[0].flags == 0 && s->mounts[0].data == NULL, "proc has no options");
        TAP_EQ_INT(s->mounts[1].flags, MS_NOSUID | MS_STRICTATIME, "tmpfs flags");
        TAP_EQ_STR(s->mounts[1].data, "mode=755,size=65536k", "unknown options become data");
        TAP_EQ_INT(s->mounts[1].n_options, 4, "raw options kept");
        TAP_EQ_STR(s->mounts[1].options[3], "size=65536k", "raw option text");
        tap_ok(s->mounts[1].options[4] == NULL, "options NULL-terminated");
        tap_ok(s->mounts[2].bind && s->mounts[2].recursive, "rbind sets bind + recursive");
        TAP_EQ_INT(s->mounts[2].flags, MS_BIND | MS_REC | MS_RDONLY, "rbind,ro flags");
        TAP_EQ_INT(s->mounts[2].propagation, MS_SLAVE | MS_REC, "rslave propagation");
        tap_ok(s->mounts[2].data == NULL, "tmpcopyup is ignored");
        tap_ok(s->mounts[3].type == NULL, "absent type is NULL");
        tap_ok(s->mounts[3].bind && !s->mounts[3].recursive, "bind is not recursive");
        TAP_EQ_INT(s->mounts[3].flags,
                   MS_BIND | MS_NODIRATIME | MS_NOATIME | MS_RELATIME | MS_SYNCHRONOUS |
                       MS_DIRSYNC | MS_REMOUNT | MS_MANDLOCK,
                   "flags set by name");
        TAP_EQ_INT(s->mounts[3].clear, MS_RDONLY | MS_NODEV | MS_NOEXEC | MS_NOSUID,
                   "\"rw\" after \"ro\" clears it; dev/exec/suid clear");
        TAP_EQ_INT(s->mounts[3].propagation, MS_PRIVATE, "private propagation");
        TAP_EQ_INT(s->mounts[4].clear,
                   MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME | MS_SYNCHRONOUS |
                       MS_MANDLOCK,
                   "the \"no\" forms clear");
        TAP_EQ_INT(s->mounts[4].flags, MS_NOEXEC | MS_NODEV, "later noexec wins over exec");
        TAP_EQ_INT(s->mounts[4].propagation, MS_PRIVATE | MS_REC, "last propagation wins");
        tap_ok(!s->mounts[4].bind, "no bind");
        spec_free(s);

        parse_fails(CFG(", \"mounts\": [{\"type\": \"tmpfs\"}]"), "mounts[0].destination: required",
                    "mount without destination");
        parse_fails(CFG(", \"mounts\": [{\"destination\": \"/a\"}, {\"destination\": \"/b\","
                        " \"options\": [\"ro\", \"idmap\"]}]"),
                    "mounts[1].options[1]: mount option 'idmap' is not supported", "idmap option");
        parse_fails(CFG(", \"mounts\": [{\"destination\": \"/a\", \"options\": \"ro\"}]"),
                    "mounts[0].options: expected an array of strings", "string options");
        parse_fails(CFG(", \"mounts\": [{\"destination\": \"/a\", \"options\": [\"ro\", 3]}]"),
                    "mounts[0].options[1]: expected a string", "numeric option");
        parse_fails(CFG(", \"mounts\": [{\"destination\": \"/a\", \"uidMappings\": []}]"),
                    "mounts[0].uidMappings: id-mapped mounts are not supported",
                    "mount uidMappings");
        parse_fails(CFG(", \"mounts\": [\"/a\"]"), "mounts[0]: expected an object", "string mount");
}

static void test_hooks(void)
{
        struct spec *s =
            parse_ok(CFG(", \"hooks\": {"
                         "\"prestart\": [{\"path\": \"/bin/p\"}],"
                         "\"createRuntime\": [{\"path\": \"/bin/a\", \"args\": [\"a\", \"1\"],"
                         " \"env\": [\"K=V\"], \"timeout\": 5}, {\"path\": \"/bin/b\"}],"
                         "\"createContainer\": [{\"path\": \"/c\"}],"
                         "\"startContainer\": [{\"path\": \"/s\"}],"
                         "\"poststart\": [{\"path\": \"/ps\"}],"
                         "\"poststop\": [{\"path\": \"/pt\"}], \"futureHook\": 7}"),
                     "hooks");
        if (!s)
                return;
        TAP_EQ_INT(s->n_hooks[HOOK_PRESTART], 1, "prestart count");
        TAP_EQ_INT(s->n_hooks[HOOK_CREATE_RUNTIME], 2, "createRuntime count");
        TAP_EQ_STR(s->hooks[HOOK_CREATE_RUNTIME][0].path, "/bin/a", "hook path");
        TAP_EQ_STR(s->hooks[HOOK_CREATE_RUNTIME][0].args[1], "1", "hook args");
        tap_ok(s->hooks[HOOK_CREATE_RUNTIME][0].args[2] == NULL, "hook args NULL-terminated");
        TAP_EQ_STR(s->hooks[HOOK_CREATE_RUNTIME][0].env[0], "K=V", "hook env");
        TAP_EQ_INT(s->hooks[HOOK_CREATE_RUNTIME][0].timeout, 5, "hook timeout");
        tap_ok(s->hooks[HOOK_CREATE_RUNTIME][1].args == NULL &&
                   s->hooks[HOOK_CREATE_RUNTIME][1].timeout == 0,
               "absent args and timeout");
        TAP_EQ_STR(s->hooks[HOOK_CREATE_CONTAINER][0].path, "/c", "createContainer");
        TAP_EQ_STR(s->hooks[HOOK_START_CONTAINER][0].path, "/s", "startContainer");
        TAP_EQ_STR(s->hooks[HOOK_POSTSTART][0].path, "/ps", "poststart");
        TAP_EQ_STR(s->hooks[HOOK_POSTSTOP][0].path, "/pt", "poststop");
        spec_free(s);

        parse_fails(CFG(", \"hooks\": {\"poststop\": [{\"args\": [\"x\"]}]}"),
                    "hooks.poststop[0].path: required", "hook without path");
        parse_fails(CFG(", \"hooks\": {\"poststart\": [{\"path\": \"/x\", \"timeout\": 0}]}"),
                    "hooks.poststart[0].timeout: integer 0 out of range", "zero timeout");
        parse_fails(CFG(", \"hooks\": {\"prestart\": {\"path\": \"/x\"}}"),
                    "hooks.prestart: expected an array", "hook list as object");
        parse_fails(CFG(", \"hooks\": {\"createRuntime\": [{\"path\": \"hook.sh\"}]}"),
                    "hooks.createRuntime[0].path: must be an absolute path, not 'hook.sh'",
                    "relative hook path");
        parse_fails(CFG(", \"hooks\": [1]"), "hooks: expected an object", "hooks as array");
}

static void test_annotations(void)
{
        struct spec *s =
            parse_ok(CFG(", \"annotations\": {\"org.a\": \"1\", \"b\": \"\"}"), "annotations");
        if (!s)
                return;
        TAP_EQ_INT(s->n_annotations, 2, "annotation count");
        TAP_EQ_STR(s->annotation_keys[0], "org.a", "annotation key");
        TAP_EQ_STR(s->annotation_values[0], "1", "annotation value");
        TAP_EQ_STR(s->annotation_values[1], "", "empty annotation value");
        tap_ok(s->annotation_keys[2] == NULL, "keys NULL-terminated");
        spec_free(s);
        parse_fails(CFG(", \"annotations\": {\"a\": 1}"), "annotations.a: expected a string",
                    "numeric annotation");
}

static void test_load(void)
{
        char dir[] = "/tmp/test-spec-XXXXXX", path[64];
        struct isola_err err = {0};
        struct spec *s = NULL;
        const char *bad = "{\n  \"ociVersion\": \"1.1.0\"\n  \"root\": {}\n}\n";

        if (!mkdtemp(dir)) {
                tap_skip("mkdtemp failed");
                return;
        }
        tap_ok(spec_load(dir, &s, &err) < 0 && strstr(err.msg, "config.json") &&
                   strstr(err.msg, dir),
               "missing config.json is named in the error");
        printf("#   %s\n", err.msg);
        snprintf(path, sizeof(path), "%s/config.json", dir);
        fs_write_file(path, bad, strlen(bad), O_CREAT, 0644, &err);
        tap_ok(spec_load(dir, &s, &err) < 0 && strstr(err.msg, path) &&
                   strstr(err.msg, "line 3, column 3"),
               "malformed config.json: file, line and column");
        printf("#   %s\n", err.msg);
        fs_write_file(path, CFG(""), strlen(CFG("")), O_CREAT, 0644, &err);
        tap_ok(spec_load(dir, &s, &err) == 0 && s && !strcmp(s->root_path, "rootfs"),
               "spec_load reads <bundle>/config.json");
        spec_free(s);
        unlink(path);
        rmdir(dir);
}

static void test_namespace_helpers(void)
{
        struct spec *s = parse_ok(CFG(", \"linux\": {\"namespaces\": [{\"type\": \"pid\"},"
                                      " {\"type\": \"network\", \"path\": \"/proc/1/ns/net\"}]}"),
                                  "namespaces for helpers");
        if (!s)
                return;
        tap_ok(spec_has_namespace(s, NS_PID) && !spec_has_namespace(s, NS_USER),
               "spec_has_namespace");
        TAP_EQ_STR(spec_namespace(s, NS_NET)->path, "/proc/1/ns/net", "spec_namespace path");
        TAP_EQ_STR(spec_ns_name(NS_MNT), "mount", "spec_ns_name");
        spec_free(s);
}

int main(void)
{
        test_top_level();
        test_required_and_types();
        test_syntax_errors();
        test_mounts();
        test_hooks();
        test_annotations();
        test_load();
        test_namespace_helpers();
        return tap_done();
}
