/* isola: the executable users run, a lean front. It runs the VM verbs
 * (`vm`, `disk`, also a managed VM's monitor `vm _monitor`) itself and, for
 * every other verb, loads isola-engine.so from its own directory and calls
 * the module's entry point with the same argv, in the same process.
 *
 * Why: the container, image, build and API verbs pull in libcurl,
 * libarchive, libnftables, libmicrohttpd and their dependencies, 57 shared
 * libraries in all, which the dynamic loader maps and relocates before
 * main() runs. Natively that is a few milliseconds; in the KVM sandbox
 * (QEMU's TCG, where every mmap and page fault is emulated) it was about
 * 1 s per exec, and the vm tests exec `isola vm ...` hundreds of times.
 * This front links the VMM's libraries only (json-c, sqlite3, OpenSSL, the
 * set isola-vmm has); the loader's work for the others is done by dlopen,
 * only for the verbs that need them, so natively they cost what they did.
 *
 * The module is found beside /proc/self/exe, not on PATH or
 * LD_LIBRARY_PATH: a build directory and an installation each carry their
 * own matching pair. Measurements: docs/vm.md (the KVM sandbox). */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/isola_main.h"

#define ENGINE_NAME  "isola-engine.so"
#define ENGINE_ENTRY "isola_engine_main"
/* the status a shell gives a command it cannot run */
#define EXIT_NO_ENGINE 127

static const struct cli_verb front_verbs[] = {
    {"vm", cli_vm},
    {"disk", cli_disk},
    {NULL, NULL},
};

/* path = the directory of /proc/self/exe + "/" ENGINE_NAME; -1 after
 * printing why not. */
static int engine_path(char *path, size_t size)
{
        ssize_t n = readlink("/proc/self/exe", path, size - 1);
        char *slash;

        if (n < 0) {
                fprintf(stderr, "isola: cannot load %s: readlink /proc/self/exe: %s\n", ENGINE_NAME,
                        strerror(errno));
                return -1;
        }
        path[n] = '\0';
        slash = strrchr(path, '/');
        if (!slash || (size_t)(slash - path) + sizeof("/" ENGINE_NAME) > size) {
                fprintf(stderr, "isola: cannot load %s beside '%s'\n", ENGINE_NAME, path);
                return -1;
        }
        memcpy(slash + 1, ENGINE_NAME, sizeof(ENGINE_NAME));
        return 0;
}

/* dlerror() names the file itself ("PATH: cannot open shared object file:
 * ..."); the message below names it once. */
static const char *load_error(const char *path)
{
        const char *e = dlerror();
        size_t n = strlen(path);

        if (!e)
                return "unknown error";
        if (!strncmp(e, path, n) && !strncmp(e + n, ": ", 2))
                return e + n + 2;
        return e;
}

/* Every verb but vm and disk: the engine module, same process, same argv.
 * The module is never closed: the verb's exit status is main's, and
 * destructors and leak checks at exit still see it mapped. */
static int run_engine(int argc, char **argv)
{
        char path[PATH_MAX];
        isola_main_other_fn entry;
        void *mod, *sym;

        if (engine_path(path, sizeof(path)) < 0)
                return EXIT_NO_ENGINE;
        /* The module has its own copies of util, db and vmm; they bind
         * inside it (isola-engine.map exports its entry point only) and the
         * front exports none, so the copies never mix. RTLD_LOCAL keeps
         * the module out of the global scope as well. RTLD_LAZY binds
         * functions on first call, as the loader did for the single
         * executable; RTLD_NOW binds those of all 57 libraries up front
         * (18,700 relocations instead of 14,400 for `isola ps`). */
        mod = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
        if (!mod) {
                fprintf(stderr, "isola: cannot load %s: %s\n", path, load_error(path));
                return EXIT_NO_ENGINE;
        }
        sym = dlsym(mod, ENGINE_ENTRY);
        if (!sym) {
                fprintf(stderr, "isola: cannot load %s: no %s in it\n", path, ENGINE_ENTRY);
                return EXIT_NO_ENGINE;
        }
        /* POSIX guarantees a function pointer from dlsym converts */
        memcpy(&entry, &sym, sizeof(entry));
        return entry(argc, argv);
}

int main(int argc, char **argv)
{
        return isola_main(argc, argv, front_verbs, run_engine);
}
