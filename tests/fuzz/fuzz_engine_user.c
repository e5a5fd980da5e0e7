/* Fuzz target: user and group names in an image's /etc/passwd and
 * /etc/group (hostile image content). Input: passwd NUL group NUL spec. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *buf = malloc(size + 3), *passwd, *group, *spec, home[PATH_MAX];
        struct isola_err err = {0};
        gid_t groups[16];
        size_t n = 16;
        uid_t uid;
        gid_t gid;

        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = buf[size + 1] = buf[size + 2] = '\0';
        passwd = buf;
        group = passwd + strlen(passwd) + 1;
        spec = group + strlen(group) + 1;
        if ((size_t)(spec - buf) > size)
                spec = "app:wheel";
        if (eng_user_lookup(passwd, group, *spec ? spec : "app", &uid, &gid, home, groups, &n,
                            &err) == 0 &&
            (n > 16 || home[0] != '/'))
                abort();
        free(buf);
        return 0;
}
