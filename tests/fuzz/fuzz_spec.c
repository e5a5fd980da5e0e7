/* Fuzzes the config.json parser: any input must either parse or fail with
 * an error, never crash or leak. The same bytes also go through the
 * process.json and resources parsers, which share the section code. */
#include <stdint.h>
#include <stdlib.h>

#include "ctr/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct isola_err err = {0};
        struct spec *spec = NULL;
        struct spec_process *proc = NULL;
        struct spec_resources res;

        if (spec_parse((const char *)data, size, &spec, &err) == 0)
                spec_free(spec);
        if (spec_parse_process((const char *)data, size, &proc, &err) == 0)
                spec_process_free(proc);
        if (spec_parse_resources((const char *)data, size, &res, &err) == 0)
                spec_resources_clear(&res);
        return 0;
}
