/* `isola vm compare`: full vs para virtualization vs the host on the same
 * kernel, initramfs and workloads; one table (or --format json). */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/vm_cli.h"
#include "vmm/compare.h"

#define EXIT_USAGE 2

static void usage(FILE *out)
{
        fprintf(out, "usage: isola vm compare --kernel BZIMAGE --initrd INITRAMFS [options]\n"
                     "\n"
                     "Boots the kernel twice, full (IDE, 8250, no PV CPUID) and para (virtio-blk,\n"
                     "PV CPUID, kvm-clock); the initramfs's /init runs /workloads.sh (see\n"
                     "tests/vm/linux/compare-init) and powers off. The para machine also\n"
                     "gets virtio-net on a TAP in a network namespace of its own and sends\n"
                     "to a receiver there (net-send; the full machine has no emulated NIC).\n"
                     "\n"
                     "  --kernel-pv FILE   another kernel for the para machine (e.g. its vmlinux)\n"
                     "  --workloads FILE   the same script, run on the host as the baseline\n"
                     "  --busybox FILE     runs it there (default: busybox from PATH)\n"
                     "  --scale N          workload size (1 = tiny, default 8)\n"
                     "  --cpus N --memory MIB   both machines (1, 256)\n"
                     "  --timeout SEC      per machine (600)\n"
                     "  --dir DIR          scratch disks and console logs, kept (default: a\n"
                     "                     temporary directory under /var/tmp, removed)\n"
                     "  --format json\n"
                     "  --from FILE.json   print the table of an earlier --format json run\n");
}

static const struct option options[] = {
    {"kernel", required_argument, NULL, 'k'},  {"kernel-pv", required_argument, NULL, 'K'},
    {"initrd", required_argument, NULL, 'i'},  {"workloads", required_argument, NULL, 'w'},
    {"busybox", required_argument, NULL, 'b'}, {"scale", required_argument, NULL, 's'},
    {"cpus", required_argument, NULL, 'c'},    {"memory", required_argument, NULL, 'm'},
    {"timeout", required_argument, NULL, 't'}, {"dir", required_argument, NULL, 'd'},
    {"format", required_argument, NULL, 'f'},  {"help", no_argument, NULL, 'h'},
    {"from", required_argument, NULL, 'F'},    {NULL, 0, NULL, 0},
};

static int number(const char *flag, const char *s, unsigned long max, unsigned long *out)
{
        char *end;
        unsigned long v = strtoul(s, &end, 10);

        if (!*s || *end || s[0] == '-' || v < 1 || v > max) {
                fprintf(stderr, "isola vm compare: %s '%s': expected 1 to %lu\n", flag, s, max);
                return -1;
        }
        *out = v;
        return 0;
}

static double num(struct json_object *o, const char *a, const char *b)
{
        struct json_object *x, *y;

        if (!json_object_object_get_ex(o, a, &x) || !json_object_object_get_ex(x, b, &y))
                return -1;
        return json_object_get_double(y);
}

/* Why WHO did not run workload W ("no emulated NIC"), or NULL. */
static const char *not_run(struct json_object *w, const char *who)
{
        struct json_object *x, *y;

        if (!json_object_object_get_ex(w, who, &x) || !json_object_object_get_ex(x, "na", &y))
                return NULL;
        return json_object_get_string(y);
}

static void cell(char *buf, size_t len, struct json_object *w, const char *who, const char *unit)
{
        double ms = num(w, who, "ms"), rate = num(w, who, "rate"),
               ovh = num(w, who, "overhead_pct");
        const char *na = not_run(w, who);
        char o[32] = "";

        if (na) {
                snprintf(buf, len, "n/a (%s)", na);
                return;
        }
        if (ms < 0) {
                snprintf(buf, len, "-");
                return;
        }
        if (strcmp(who, "host") != 0 && ovh > -100)
                snprintf(o, sizeof(o), " (%+.0f%%)", ovh);
        if (!strcmp(unit, "bytes") && rate < 1048576)
                snprintf(buf, len, "%.0f KiB/s%s", rate / 1024, o);
        else if (!strcmp(unit, "bytes"))
                snprintf(buf, len, "%.1f MiB/s%s", rate / 1048576, o);
        else
                snprintf(buf, len, "%.0f ms%s", ms, o);
}

static unsigned long long exits(struct json_object *w, const char *who, const char *key)
{
        struct json_object *x, *e, *v;

        if (!json_object_object_get_ex(w, who, &x) || !json_object_object_get_ex(x, "exits", &e) ||
            !json_object_object_get_ex(e, key, &v))
                return 0;
        return (unsigned long long)json_object_get_uint64(v);
}

static bool has_net(struct json_object *arr)
{
        struct json_object *v;

        for (size_t i = 0; i < json_object_array_length(arr); i++)
                if (json_object_object_get_ex(json_object_array_get_idx(arr, i), "name", &v) &&
                    !strcmp(json_object_get_string(v), "net-send"))
                        return true;
        return false;
}

static void print_table(struct json_object *r)
{
        struct json_object *arr, *v;

        json_object_object_get_ex(r, "workloads", &arr);
        printf("%-16s  %-22s  %-22s  %-22s\n", "WORKLOAD", "HOST", "FULL (time vs host)",
               "PARA (time vs host)");
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                struct json_object *w = json_object_array_get_idx(arr, i);
                char h[48], f[48], p[48];
                json_object_object_get_ex(w, "unit", &v);
                const char *unit = json_object_get_string(v);
                cell(h, sizeof(h), w, "host", unit);
                cell(f, sizeof(f), w, "full", unit);
                cell(p, sizeof(p), w, "para", unit);
                json_object_object_get_ex(w, "name", &v);
                printf("%-16s  %-22s  %-22s  %-22s\n", json_object_get_string(v), h, f, p);
        }
        printf("\nVM exits per workload (KVM statistics; user space = reached isola)\n");
        printf("%-16s  %-5s  %9s  %9s  %9s  %9s  %9s  %9s\n", "WORKLOAD", "MODE", "exits", "io",
               "mmio", "halt", "irq", "user");
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                struct json_object *w = json_object_array_get_idx(arr, i);
                json_object_object_get_ex(w, "name", &v);
                for (int m = 0; m < 2; m++) {
                        const char *who = m ? "para" : "full", *na = not_run(w, who);
                        if (na) {
                                printf("%-16s  %-5s  n/a (%s)\n",
                                       m ? "" : json_object_get_string(v), who, na);
                                continue;
                        }
                        printf("%-16s  %-5s  %9llu  %9llu  %9llu  %9llu  %9llu  %9llu\n",
                               m ? "" : json_object_get_string(v), who, exits(w, who, "exits"),
                               exits(w, who, "io_exits"), exits(w, who, "mmio_exits"),
                               exits(w, who, "halt_exits"), exits(w, who, "irq_exits"),
                               exits(w, who, "user_space_exits"));
                }
        }
        json_object_object_get_ex(r, "source_note", &v);
        printf("\nFigures from %s.\n", json_object_get_string(v));
        if (has_net(arr))
                printf("net-send: the para guest sends to a receiver in isola over virtio-net\n"
                       "and a TAP in a network namespace of its own; the host sends over the\n"
                       "loopback of another such namespace.\n");
        if (json_object_object_get_ex(r, "net_note", &v))
                printf("No network transfer in the para machine: %s.\n", json_object_get_string(v));
        printf("Boot to the first workload: full %.0f ms, para %.0f ms.\n",
               num(r, "boot_ms", "full"), num(r, "boot_ms", "para"));
}

static int from_file(const char *path)
{
        struct json_object *r = json_object_from_file(path), *v;

        if (!r || !json_object_object_get_ex(r, "workloads", &v) ||
            !json_object_is_type(v, json_type_array)) {
                fprintf(stderr, "isola vm compare: --from '%s': not the JSON of vm compare\n",
                        path);
                json_object_put(r);
                return 1;
        }
        print_table(r);
        json_object_put(r);
        return 0;
}

static int parse(int argc, char **argv, struct compare_opts *o, const char **dir, bool *json)
{
        unsigned long n;
        int c;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
                switch (c) {
                case 'k':
                        o->kernel = optarg;
                        break;
                case 'K':
                        o->kernel_pv = optarg;
                        break;
                case 'i':
                        o->initrd = optarg;
                        break;
                case 'w':
                        o->workloads = optarg;
                        break;
                case 'b':
                        o->busybox = optarg;
                        break;
                case 'd':
                        *dir = optarg;
                        break;
                case 's':
                        if (number("--scale", optarg, 1000, &n) < 0)
                                return EXIT_USAGE;
                        o->scale = (unsigned)n;
                        break;
                case 'c':
                        if (number("--cpus", optarg, 64, &n) < 0)
                                return EXIT_USAGE;
                        o->cpus = (unsigned)n;
                        break;
                case 'm':
                        if (number("--memory", optarg, 1 << 20, &n) < 0)
                                return EXIT_USAGE;
                        o->memory_mib = n;
                        break;
                case 't':
                        if (number("--timeout", optarg, 86400, &n) < 0)
                                return EXIT_USAGE;
                        o->timeout_s = (unsigned)n;
                        break;
                case 'f':
                        if (strcmp(optarg, "json") != 0) {
                                fprintf(stderr, "isola vm compare: --format: only json\n");
                                return EXIT_USAGE;
                        }
                        *json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case 'F':
                        return from_file(optarg);
                default:
                        fprintf(stderr, "isola vm compare: unknown or incomplete option '%s'\n",
                                argv[optind - 1]);
                        return EXIT_USAGE;
                }
        }
        if (!o->kernel || !o->initrd || optind < argc) {
                fprintf(stderr, "isola vm compare: --kernel and --initrd are required "
                                "(try --help)\n");
                return EXIT_USAGE;
        }
        return -1;
}

int vm_cli_compare(int argc, char **argv)
{
        struct compare_opts o = {.scale = 8, .cpus = 1, .memory_mib = 256, .timeout_s = 600};
        struct isola_err err = {0};
        struct json_object *r = NULL;
        const char *dir = NULL;
        char tmp[] = "/var/tmp/isola-compare-XXXXXX";
        bool json = false;

        int rc = parse(argc, argv, &o, &dir, &json);
        if (rc >= 0)
                return rc;
        if (!dir && !(dir = mkdtemp(tmp))) {
                fprintf(stderr, "isola vm compare: %s: %s\n", tmp, strerror(errno));
                return 1;
        }
        o.scratch_dir = dir;
        rc = vm_compare(&o, &r, &err);
        if (dir == tmp) {
                static const char *const files[] = {"disk-full.img", "disk-para.img",
                                                    "disk-host.img", "full.log", "para.log"};
                char p[sizeof(tmp) + 32];
                for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                        snprintf(p, sizeof(p), "%s/%s", tmp, files[i]);
                        (void)unlink(p);
                }
                (void)rmdir(tmp);
        }
        if (rc < 0) {
                fprintf(stderr, "isola vm compare: %s\n", err.msg);
                return 1;
        }
        if (json)
                printf("%s\n", json_object_to_json_string_ext(
                                   r, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        else
                print_table(r);
        json_object_put(r);
        return 0;
}
