/* Fuzz target: the layer unpacker over arbitrary (tar, gzip, zstd) bytes,
 * with small limits, into a scratch directory. Whatever the input, nothing
 * may appear outside that directory; it is emptied after every input. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/store_internal.h"

/* The scratch area: <sandbox>/layer is unpacked into, <sandbox> must hold
 * nothing else afterwards. Made once per process. */
static char sandbox[64];

static void remove_sandbox(void)
{
        store_rm_tree(sandbox);
}

static size_t entries_of(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        if (!d)
                abort();
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        n++;
        }
        closedir(d);
        return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const struct img_unpack_limits lim = {1u << 20, 256};
        char layer[96], diff[IMG_DIGEST_MAX];
        uint64_t bytes = 0;

        if (!sandbox[0]) {
                snprintf(sandbox, sizeof(sandbox), "/tmp/isola-fuzz-layer-XXXXXX");
                if (!mkdtemp(sandbox))
                        abort();
                atexit(remove_sandbox);
        }
        snprintf(layer, sizeof(layer), "%s/layer", sandbox);
        if (mkdir(layer, 0755) < 0)
                abort();
        int fd = memfd_create("layer", MFD_CLOEXEC);
        if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0)
                abort();
        int dfd = open(layer, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (img_unpack_fd(fd, dfd, &lim, diff, &bytes, NULL) == 0 && bytes > lim.max_bytes)
                abort();
        close(dfd);
        close(fd);
        if (entries_of(sandbox) != 1)
                abort(); /* something was written next to the layer */
        store_rm_tree(layer);
        return 0;
}
