/* Fuzzes the cgroup manager's text inputs: linux.cgroupsPath resolution
 * (cgroupfs and systemd forms) and the saved-state string cgroup_open parses.
 * First byte selects the parser; an opened state must serialise back to the
 * same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctr/cgroup.h"
#include "ctr/cgroup_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct isola_err err;
        char *text, out[4096];
        bool absolute;

        if (size < 1 || size > 8192)
                return 0;
        text = malloc(size);
        if (!text)
                return 0;
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        if (data[0] & 1) {
                struct cgroup *cg = NULL;
                if (cgroup_open(text, &cg, &err) == 0) {
                        char *again = cgroup_to_string(cg);
                        struct cgroup *cg2 = NULL;
                        if (!again || cgroup_open(again, &cg2, &err) < 0)
                                abort();
                        char *third = cgroup_to_string(cg2);
                        if (!third || strcmp(again, third))
                                abort();
                        free(third);
                        free(again);
                        cgroup_free(cg2);
                        cgroup_free(cg);
                }
        } else if (cgroup_resolve_path(text, "fuzz", out, sizeof(out), &absolute, &err) == 0) {
                /* A resolved path never climbs out of the hierarchy. */
                if (out[0] != '/' || strstr(out, "/../") || strstr(out, "//") ||
                    (strlen(out) >= 3 && !strcmp(out + strlen(out) - 3, "/..")))
                        abort();
        }
        free(text);
        return 0;
}
