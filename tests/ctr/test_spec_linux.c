/* config.json "linux": namespaces, id mappings, devices, sysctl, paths,
 * propagation, personality, resources (blockIO throttles and per-device
 * weights too; also `update --resources` files) and seccomp resolved to
 * libseccomp values. */
#include <errno.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/personality.h>

#include "test_spec_util.h"

#define LNX(body) CFG(", \"linux\": {" body "}")

static void test_namespaces(void)
{
        struct spec *s = parse_ok(
            LNX("\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\", \"path\":"
                " \"/run/netns/x\"}, {\"type\": \"mount\"}, {\"type\": \"ipc\"}, {\"type\":"
                " \"uts\"}, {\"type\": \"user\"}, {\"type\": \"cgroup\"}, {\"type\": \"time\"}],"
                " \"uidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}],"
                " \"gidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 1},"
                " {\"containerID\": 1, \"hostID\": 200000, \"size\": 10}]"),
            "namespaces and id mappings");
        static const enum spec_ns_kind order[] = {NS_PID, NS_NET,  NS_MNT,    NS_IPC,
                                                  NS_UTS, NS_USER, NS_CGROUP, NS_TIME};
        bool kinds_ok = true;

        if (!s)
                return;
        TAP_EQ_INT(s->linux.n_namespaces, 8, "eight namespaces");
        for (size_t i = 0; i < 8; i++)
                kinds_ok = kinds_ok && s->linux.namespaces[i].kind == order[i];
        tap_ok(kinds_ok, "namespace type names map to kinds");
        TAP_EQ_STR(s->linux.namespaces[1].path, "/run/netns/x", "namespace path");
        tap_ok(s->linux.namespaces[0].path == NULL, "new namespace has no path");
        tap_ok(s->linux.n_uid_mappings == 1 && s->linux.uid_mappings[0].host_id == 100000 &&
                   s->linux.uid_mappings[0].size == 65536,
               "uidMappings");
        tap_ok(s->linux.n_gid_mappings == 2 && s->linux.gid_mappings[1].container_id == 1 &&
                   s->linux.gid_mappings[1].host_id == 200000,
               "gidMappings");
        spec_free(s);

        parse_fails(LNX("\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"net\"}]"),
                    "linux.namespaces[1].type: unknown namespace type 'net'", "unknown namespace");
        parse_fails(LNX("\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"pid\"}]"),
                    "linux.namespaces[1].type: duplicate namespace 'pid'", "duplicate namespace");
        parse_fails(LNX("\"namespaces\": [{\"path\": \"/x\"}]"),
                    "linux.namespaces[0].type: required", "namespace without type");
        parse_fails(LNX("\"uidMappings\": [{\"containerID\": 0, \"hostID\": 1}]"),
                    "linux.uidMappings[0].size: required", "mapping without size");
        parse_fails(LNX("\"gidMappings\": [{\"containerID\": 0, \"hostID\": -1, \"size\": 1}]"),
                    "linux.gidMappings[0].hostID: expected a non-negative integer",
                    "negative hostID");
}

static void test_devices_and_misc(void)
{
        struct spec *s = parse_ok(
            LNX("\"devices\": [{\"path\": \"/dev/fuse\", \"type\": \"c\", \"major\": 10,"
                " \"minor\": 229, \"fileMode\": 438, \"uid\": 0, \"gid\": 5},"
                " {\"path\": \"/dev/fifo\", \"type\": \"p\"}],"
                " \"cgroupsPath\": \"/isola/c1\", \"sysctl\": {\"net.ipv4.ip_forward\": \"1\"},"
                " \"maskedPaths\": [\"/proc/kcore\"], \"readonlyPaths\": [\"/proc/sys\","
                " \"/proc/bus\"], \"rootfsPropagation\": \"rslave\", \"personality\":"
                " {\"domain\": \"LINUX32\", \"flags\": []}, \"mountLabel\": \"m\""),
            "devices, sysctl, paths, propagation, personality");
        struct spec_linux *l;

        if (!s)
                return;
        l = &s->linux;
        TAP_EQ_INT(l->n_devices, 2, "device count");
        tap_ok(l->devices[0].type == 'c' && l->devices[0].major == 10 && l->devices[0].minor == 229,
               "char device numbers");
        tap_ok(l->devices[0].has_file_mode && l->devices[0].file_mode == 0666, "fileMode");
        tap_ok(l->devices[0].has_uid && l->devices[0].has_gid && l->devices[0].gid == 5,
               "device uid/gid");
        tap_ok(l->devices[1].type == 'p' && !l->devices[1].has_file_mode && !l->devices[1].has_uid,
               "fifo without numbers");
        TAP_EQ_STR(l->cgroups_path, "/isola/c1", "cgroupsPath");
        tap_ok(l->n_sysctl == 1 && !strcmp(l->sysctl[0].key, "net.ipv4.ip_forward") &&
                   !strcmp(l->sysctl[0].value, "1"),
               "sysctl");
        tap_ok(l->n_masked_paths == 1 && l->n_readonly_paths == 2 &&
                   !strcmp(l->readonly_paths[1], "/proc/bus"),
               "maskedPaths, readonlyPaths");
        TAP_EQ_INT(l->rootfs_propagation, MS_SLAVE | MS_REC, "rootfsPropagation");
        tap_ok(l->has_personality && l->personality == PER_LINUX32, "personality LINUX32");
        TAP_EQ_STR(l->mount_label, "m", "mountLabel");
        spec_free(s);

        parse_fails(LNX("\"devices\": [{\"path\": \"/dev/x\", \"type\": \"c\", \"major\": 1}]"),
                    "linux.devices[0].minor: required for device type 'c'", "device without minor");
        parse_fails(LNX("\"devices\": [{\"path\": \"/dev/x\", \"type\": \"z\"}]"),
                    "linux.devices[0].type: unknown device type 'z'", "bad device type");
        parse_fails(LNX("\"devices\": [{\"type\": \"p\"}]"), "linux.devices[0].path: required",
                    "device without path");
        parse_fails(LNX("\"sysctl\": {\"a\": 1}"), "linux.sysctl.a: expected a string",
                    "numeric sysctl");
        parse_fails(LNX("\"rootfsPropagation\": \"sideways\""),
                    "linux.rootfsPropagation: unknown propagation 'sideways'", "bad propagation");
        parse_fails(LNX("\"personality\": {\"domain\": \"BSD\"}"),
                    "linux.personality.domain: unknown personality domain 'BSD'",
                    "bad personality");
        parse_fails(LNX("\"maskedPaths\": [\"/a\", null]"),
                    "linux.maskedPaths[1]: expected a string", "null masked path");
        parse_fails(LNX("\"cgroupsPath\": []"), "linux.cgroupsPath: expected a string",
                    "array cgroupsPath");
        parse_fails(CFG(", \"linux\": 1"), "linux: expected an object", "numeric linux");
}

static void test_resources(void)
{
        struct spec *s =
            parse_ok(LNX("\"resources\": {\"memory\": {\"limit\": 536870912, \"reservation\": -1,"
                         " \"swap\": 1073741824, \"swappiness\": 10, \"disableOOMKiller\": true,"
                         " \"kernel\": 1}, \"cpu\": {\"shares\": 512, \"quota\": 50000, \"period\":"
                         " 100000, \"cpus\": \"0-1\", \"mems\": \"0\", \"realtimeRuntime\": 5},"
                         " \"pids\": {\"limit\": 64}, \"blockIO\": {\"weight\": 300},"
                         " \"devices\": [{\"allow\": false, \"access\": \"rwm\"}, {\"allow\": true,"
                         " \"type\": \"c\", \"major\": 1, \"minor\": 3, \"access\": \"rw\"}],"
                         " \"unified\": {\"memory.high\": \"1G\"}, \"hugepageLimits\": []}"),
                     "resources");
        struct spec_resources *r;

        if (!s)
                return;
        r = &s->linux.resources;
        tap_ok(s->linux.has_resources, "has_resources");
        tap_ok(r->has_memory_limit && r->memory_limit == 536870912, "memory.limit");
        tap_ok(r->has_memory_reservation && r->memory_reservation == -1, "reservation -1");
        tap_ok(r->has_memory_swap && r->memory_swap == 1073741824, "memory.swap");
        tap_ok(r->has_memory_swappiness && r->memory_swappiness == 10, "swappiness");
        tap_ok(r->disable_oom_killer, "disableOOMKiller");
        tap_ok(r->has_cpu_shares && r->cpu_shares == 512, "cpu.shares");
        tap_ok(r->has_cpu_quota && r->cpu_quota == 50000, "cpu.quota");
        tap_ok(r->has_cpu_period && r->cpu_period == 100000, "cpu.period");
        TAP_EQ_STR(r->cpuset_cpus, "0-1", "cpu.cpus");
        TAP_EQ_STR(r->cpuset_mems, "0", "cpu.mems");
        tap_ok(r->has_pids_limit && r->pids_limit == 64, "pids.limit");
        tap_ok(r->has_blkio_weight && r->blkio_weight == 300, "blockIO.weight");
        TAP_EQ_INT(r->n_device_rules, 2, "device rule count");
        tap_ok(!r->device_rules[0].allow && r->device_rules[0].type == 'a' &&
                   r->device_rules[0].major == -1 && r->device_rules[0].minor == -1,
               "deny-all rule defaults to type a, wildcard numbers");
        tap_ok(r->device_rules[1].allow && r->device_rules[1].type == 'c' &&
                   r->device_rules[1].major == 1 && r->device_rules[1].minor == 3 &&
                   !strcmp(r->device_rules[1].access, "rw"),
               "allow rule");
        tap_ok(r->n_unified == 1 && !strcmp(r->unified_keys[0], "memory.high") &&
                   !strcmp(r->unified_values[0], "1G"),
               "unified");
        spec_free(s);

        parse_fails(LNX("\"resources\": {\"memory\": {\"limit\": \"1G\"}}"),
                    "linux.resources.memory.limit: expected an integer", "string memory limit");
        parse_fails(LNX("\"resources\": {\"memory\": {\"limit\": -2}}"),
                    "linux.resources.memory.limit: integer -2 out of range", "limit below -1");
        parse_fails(LNX("\"resources\": {\"memory\": {\"limit\": 9223372036854775808}}"),
                    "linux.resources.memory.limit: integer out of range", "limit over int64");
        parse_fails(LNX("\"resources\": {\"memory\": {\"swappiness\": 101}}"),
                    "linux.resources.memory.swappiness: integer 101", "swappiness over 100");
        parse_fails(LNX("\"resources\": {\"cpu\": {\"shares\": -5}}"),
                    "linux.resources.cpu.shares: expected a non-negative integer",
                    "negative shares");
        parse_fails(LNX("\"resources\": {\"pids\": {\"limit\": true}}"),
                    "linux.resources.pids.limit: expected an integer", "boolean pids limit");
        parse_fails(LNX("\"resources\": {\"blockIO\": {\"weight\": 1001}}"),
                    "linux.resources.blockIO.weight: integer 1001", "blkio weight over 1000");
        parse_fails(LNX("\"resources\": {\"devices\": [{\"access\": \"r\"}]}"),
                    "linux.resources.devices[0].allow: required", "device rule without allow");
        parse_fails(LNX("\"resources\": {\"devices\": [{\"allow\": true, \"access\": \"rx\"}]}"),
                    "linux.resources.devices[0].access: invalid access 'rx'", "bad access");
        parse_fails(LNX("\"resources\": {\"devices\": [{\"allow\": true, \"type\": \"p\"}]}"),
                    "linux.resources.devices[0].type: unknown device type 'p'", "bad rule type");
        parse_fails(LNX("\"resources\": {\"unified\": {\"cpu.max\": 5}}"),
                    "linux.resources.unified.cpu.max: expected a string", "numeric unified value");
        parse_fails(LNX("\"resources\": []"), "linux.resources: expected an object",
                    "resources as array");
}

static void test_blkio(void)
{
        struct spec *s = parse_ok(
            LNX("\"resources\": {\"blockIO\": {\"weight\": 10, \"weightDevice\": [{\"major\": 8,"
                " \"minor\": 0, \"weight\": 500, \"leafWeight\": 300}, {\"major\": 8, \"minor\":"
                " 16}], \"throttleReadBpsDevice\": [{\"major\": 8, \"minor\": 0, \"rate\":"
                " 1048576}, {\"major\": 253, \"minor\": 1, \"rate\": 0}],"
                " \"throttleWriteBpsDevice\": [{\"major\": 8, \"minor\": 0, \"rate\": 2097152}],"
                " \"throttleReadIOPSDevice\": [{\"major\": 7, \"minor\": 3, \"rate\": 100}],"
                " \"throttleWriteIOPSDevice\": [{\"major\": 4294967295, \"minor\": 0, \"rate\":"
                " 18446744073709551615}]}}"),
            "blockIO throttles and weightDevice");
        struct spec_resources *r;

        if (!s)
                return;
        r = &s->linux.resources;
        TAP_EQ_INT(r->n_blkio_throttle[SPEC_THROTTLE_READ_BPS], 2, "two read bps entries");
        tap_ok(r->blkio_throttle[SPEC_THROTTLE_READ_BPS][0].major == 8 &&
                   r->blkio_throttle[SPEC_THROTTLE_READ_BPS][0].minor == 0 &&
                   r->blkio_throttle[SPEC_THROTTLE_READ_BPS][0].rate == 1048576,
               "throttleReadBpsDevice[0]");
        tap_ok(r->blkio_throttle[SPEC_THROTTLE_READ_BPS][1].major == 253 &&
                   r->blkio_throttle[SPEC_THROTTLE_READ_BPS][1].minor == 1 &&
                   r->blkio_throttle[SPEC_THROTTLE_READ_BPS][1].rate == 0,
               "throttleReadBpsDevice[1] with rate 0");
        tap_ok(r->n_blkio_throttle[SPEC_THROTTLE_WRITE_BPS] == 1 &&
                   r->blkio_throttle[SPEC_THROTTLE_WRITE_BPS][0].rate == 2097152,
               "throttleWriteBpsDevice");
        tap_ok(r->n_blkio_throttle[SPEC_THROTTLE_READ_IOPS] == 1 &&
                   r->blkio_throttle[SPEC_THROTTLE_READ_IOPS][0].major == 7 &&
                   r->blkio_throttle[SPEC_THROTTLE_READ_IOPS][0].minor == 3 &&
                   r->blkio_throttle[SPEC_THROTTLE_READ_IOPS][0].rate == 100,
               "throttleReadIOPSDevice");
        tap_ok(r->n_blkio_throttle[SPEC_THROTTLE_WRITE_IOPS] == 1 &&
                   r->blkio_throttle[SPEC_THROTTLE_WRITE_IOPS][0].major == 4294967295 &&
                   r->blkio_throttle[SPEC_THROTTLE_WRITE_IOPS][0].rate == UINT64_MAX,
               "throttleWriteIOPSDevice at the limits");
        TAP_EQ_INT(r->n_blkio_weight_devices, 2, "two weightDevice entries");
        tap_ok(r->blkio_weight_devices[0].major == 8 && r->blkio_weight_devices[0].minor == 0 &&
                   r->blkio_weight_devices[0].has_weight &&
                   r->blkio_weight_devices[0].weight == 500 &&
                   r->blkio_weight_devices[0].has_leaf_weight &&
                   r->blkio_weight_devices[0].leaf_weight == 300,
               "weightDevice[0] weight and leafWeight");
        tap_ok(r->blkio_weight_devices[1].minor == 16 && !r->blkio_weight_devices[1].has_weight &&
                   !r->blkio_weight_devices[1].has_leaf_weight,
               "weightDevice[1] without weights");
        spec_free(s);

        parse_fails(LNX("\"resources\": {\"blockIO\": {\"throttleReadBpsDevice\": [{\"major\":"
                        " 8, \"minor\": 0, \"rate\": \"1M\"}]}}"),
                    "linux.resources.blockIO.throttleReadBpsDevice[0].rate: expected an integer",
                    "string throttle rate");
        parse_fails(LNX("\"resources\": {\"blockIO\": {\"throttleWriteIOPSDevice\": [{\"major\":"
                        " 8, \"minor\": 0, \"rate\": 1}, {\"major\": 8, \"rate\": 1}]}}"),
                    "linux.resources.blockIO.throttleWriteIOPSDevice[1].minor: required",
                    "throttle entry without minor");
        parse_fails(LNX("\"resources\": {\"blockIO\": {\"throttleReadIOPSDevice\": [{\"major\":"
                        " -1, \"minor\": 0, \"rate\": 1}]}}"),
                    "linux.resources.blockIO.throttleReadIOPSDevice[0].major: integer -1 out of "
                    "range",
                    "negative throttle major");
        parse_fails(LNX("\"resources\": {\"blockIO\": {\"throttleWriteBpsDevice\": [{\"major\":"
                        " 8, \"minor\": 0}]}}"),
                    "linux.resources.blockIO.throttleWriteBpsDevice[0].rate: required",
                    "throttle entry without rate");
        parse_fails(LNX("\"resources\": {\"blockIO\": {\"throttleReadBpsDevice\": {}}}"),
                    "linux.resources.blockIO.throttleReadBpsDevice: expected an array",
                    "throttle list as object");
        parse_fails(LNX("\"resources\": {\"blockIO\": {\"weightDevice\": [{\"major\": 8,"
                        " \"minor\": 0, \"weight\": 1001}]}}"),
                    "linux.resources.blockIO.weightDevice[0].weight: integer 1001",
                    "weightDevice weight over 1000");
        parse_fails(LNX("\"resources\": {\"blockIO\": {\"weightDevice\": [{\"minor\": 0,"
                        " \"leafWeight\": 10}]}}"),
                    "linux.resources.blockIO.weightDevice[0].major: required",
                    "weightDevice without major");
}

static void test_update_resources(void)
{
        const char *json = "{\"memory\": {\"limit\": 1048576}, \"pids\": {\"limit\": -1}}";
        struct spec_resources r;
        struct isola_err err = {0};

        tap_ok(spec_parse_resources(json, strlen(json), &r, &err) == 0,
               "spec_parse_resources parses an update file");
        tap_ok(r.has_memory_limit && r.memory_limit == 1048576 && r.has_pids_limit &&
                   r.pids_limit == -1 && !r.has_cpu_shares,
               "update values, absent ones unset");
        spec_resources_clear(&r);
        json = "{\"cpu\": {\"cpus\": \"0\"}, \"memory\": {\"swap\": []}}";
        tap_ok(spec_parse_resources(json, strlen(json), &r, &err) < 0 &&
                   !strcmp(err.msg, "memory.swap: expected an integer") && !r.cpuset_cpus,
               "update errors name the member and leave nothing behind");
        printf("#   %s\n", err.msg);
        json = "{\"blockIO\": {\"throttleReadBpsDevice\": [{\"major\": 8, \"minor\": 0,"
               " \"rate\": 5}], \"throttleWriteBpsDevice\": [{\"major\": 8, \"minor\": 0,"
               " \"rate\": 5}, {\"major\": 8, \"minor\": 0, \"rate\": -5}]}}";
        tap_ok(spec_parse_resources(json, strlen(json), &r, &err) < 0 &&
                   !strcmp(err.msg, "blockIO.throttleWriteBpsDevice[1].rate: expected a "
                                    "non-negative integer") &&
                   !r.blkio_throttle[SPEC_THROTTLE_READ_BPS] &&
                   !r.n_blkio_throttle[SPEC_THROTTLE_WRITE_BPS],
               "a bad throttle in an update file frees the lists parsed before it");
        printf("#   %s\n", err.msg);
}

static void test_seccomp(void)
{
        struct spec *s = parse_ok(
            LNX("\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38,"
                " \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\","
                " \"SCMP_ARCH_AARCH64\"], \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"],"
                " \"listenerPath\": \"/x\", \"syscalls\": ["
                "{\"names\": [\"read\", \"write\"], \"action\": \"SCMP_ACT_ALLOW\"},"
                "{\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\":"
                " [{\"index\": 0, \"value\": 8, \"op\": \"SCMP_CMP_EQ\"}, {\"index\": 5,"
                " \"value\": 18446744073709551615, \"valueTwo\": 4, \"op\":"
                " \"SCMP_CMP_MASKED_EQ\"}]},"
                "{\"names\": [\"mount\"], \"action\": \"SCMP_ACT_ERRNO\"},"
                "{\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1},"
                "{\"names\": [\"a\"], \"action\": \"SCMP_ACT_KILL\"},"
                "{\"names\": [\"b\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"},"
                "{\"names\": [\"c\"], \"action\": \"SCMP_ACT_KILL_THREAD\"},"
                "{\"names\": [\"d\"], \"action\": \"SCMP_ACT_TRAP\"},"
                "{\"names\": [\"e\"], \"action\": \"SCMP_ACT_TRACE\", \"errnoRet\": 7},"
                "{\"names\": [\"f\"], \"action\": \"SCMP_ACT_LOG\"},"
                "{\"names\": [\"g\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}"),
            "seccomp");
        struct spec_seccomp *sc;
        static const uint32_t actions[] = {
            SCMP_ACT_ALLOW,       SCMP_ACT_ALLOW,        SCMP_ACT_ERRNO(EPERM), SCMP_ACT_ERRNO(1),
            SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD,  SCMP_ACT_TRAP,
            SCMP_ACT_TRACE(7),    SCMP_ACT_LOG,          SCMP_ACT_NOTIFY};
        bool actions_ok = true;

        if (!s)
                return;
        sc = s->linux.seccomp;
        tap_ok(sc != NULL, "seccomp present");
        if (!sc) {
                spec_free(s);
                return;
        }
        TAP_EQ_INT(sc->default_action, SCMP_ACT_ERRNO(38), "defaultAction with defaultErrnoRet");
        tap_ok(sc->n_architectures == 3 && sc->architectures[0] == SCMP_ARCH_X86_64 &&
                   sc->architectures[1] == SCMP_ARCH_X86 &&
                   sc->architectures[2] == SCMP_ARCH_AARCH64,
               "architectures resolve to SCMP_ARCH_* tokens");
        tap_ok(sc->n_flags == 1 && !strcmp(sc->flags[0], "SECCOMP_FILTER_FLAG_LOG"), "flags");
        TAP_EQ_INT(sc->n_rules, 11, "rule count");
        for (size_t i = 0; i < 11 && sc->n_rules == 11; i++)
                actions_ok = actions_ok && sc->rules[i].action == actions[i];
        tap_ok(actions_ok, "every action maps to its libseccomp value");
        tap_ok(sc->rules[0].n_names == 2 && !strcmp(sc->rules[0].names[1], "write") &&
                   sc->rules[0].names[2] == NULL,
               "syscall names");
        tap_ok(sc->rules[1].n_args == 2 && sc->rules[1].args[0].index == 0 &&
                   sc->rules[1].args[0].value == 8 && sc->rules[1].args[0].op == SCMP_CMP_EQ,
               "argument comparison");
        tap_ok(sc->rules[1].args[1].index == 5 && sc->rules[1].args[1].value == UINT64_MAX &&
                   sc->rules[1].args[1].value_two == 4 &&
                   sc->rules[1].args[1].op == SCMP_CMP_MASKED_EQ,
               "masked comparison with a 64-bit value");
        tap_ok(sc->rules[3].has_errno_ret && sc->rules[3].errno_ret == 1 &&
                   !sc->rules[2].has_errno_ret,
               "errnoRet recorded");
        spec_free(s);

        parse_fails(LNX("\"seccomp\": {\"syscalls\": []}"), "linux.seccomp.defaultAction: required",
                    "seccomp without defaultAction");
        parse_fails(LNX("\"seccomp\": {\"defaultAction\": \"SCMP_ACT_MAYBE\"}"),
                    "linux.seccomp.defaultAction: unknown seccomp action 'SCMP_ACT_MAYBE'",
                    "unknown action");
        parse_fails(LNX("\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\":"
                        " [\"SCMP_ARCH_VAX\"]}"),
                    "linux.seccomp.architectures[0]: unknown architecture 'SCMP_ARCH_VAX'",
                    "unknown architecture");
        parse_fails(LNX("\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\":"
                        " [\"SECCOMP_FILTER_FLAG_FAST\"]}"),
                    "linux.seccomp.flags[0]: unknown seccomp flag", "unknown flag");
        parse_fails(LNX("\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\":"
                        " [{\"names\": [\"x\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\":"
                        " [{\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}"),
                    "linux.seccomp.syscalls[0].args[0].index: integer 6", "argument index 6");
        parse_fails(LNX("\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\":"
                        " [{\"names\": [\"x\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\":"
                        " [{\"index\": 1, \"value\": 1, \"op\": \"SCMP_CMP_LIKE\"}]}]}"),
                    "linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator",
                    "unknown operator");
        parse_fails(LNX("\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\":"
                        " [{\"names\": [\"x\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\":"
                        " [{\"index\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}"),
                    "linux.seccomp.syscalls[0].args[0].value: required", "argument without value");
        parse_fails(LNX("\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\":"
                        " [{\"names\": [], \"action\": \"SCMP_ACT_ALLOW\"}]}"),
                    "linux.seccomp.syscalls[0].names: required", "rule without names");
        parse_fails(LNX("\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\":"
                        " [{\"names\": [\"x\"]}]}"),
                    "linux.seccomp.syscalls[0].action: required", "rule without action");
        parse_fails(LNX("\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\":"
                        " 65536}"),
                    "linux.seccomp.defaultErrnoRet: integer 65536", "errno over 16 bits");
}

int main(void)
{
        test_namespaces();
        test_devices_and_misc();
        test_resources();
        test_blkio();
        test_update_resources();
        test_seccomp();
        return tap_done();
}
