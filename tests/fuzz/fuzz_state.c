/* Fuzz target: container state.json (a crash or a full disk can leave it
 * damaged; it must never crash the runtime or yield a pid <= 0). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ctr/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct isola_err err = {0};
        struct ctr_state *st = NULL;
        char *json;

        if (state_parse((const char *)data, size, &st, &err) < 0)
                return 0;
        if (st->pid <= 0)
                abort();
        json = state_oci_json(st, CTR_RUNNING, true);
        free(json);
        state_free(st);
        return 0;
}
