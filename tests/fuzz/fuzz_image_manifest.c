/* Fuzz target: manifests, indexes and image configs from registries and
 * archives (hostile JSON), kind detection and platform choice, and image
 * references. A parse that succeeds must give bounded, consistent output. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

static void manifest(const char *buf, size_t len)
{
        struct img_manifest m;

        if (img_manifest_parse(buf, len, &m, NULL) < 0)
                return;
        if (m.n_layers > IMG_MAX_LAYERS || !img_digest_valid(m.config.digest))
                abort();
        for (size_t i = 0; i < m.n_layers; i++) {
                if (!img_digest_valid(m.layers[i].digest) || m.layers[i].size < 0)
                        abort();
        }
        img_manifest_free(&m);
}

static void index_(const char *buf, size_t len)
{
        struct img_index idx;
        const struct img_descriptor *d;

        if (img_index_parse(buf, len, &idx, NULL) < 0)
                return;
        if (img_index_select(&idx, NULL, &d, NULL) == 0 && !img_digest_valid(d->digest))
                abort();
        img_index_select(&idx, "linux/arm/v7", &d, NULL);
        img_index_free(&idx);
}

static void config(const char *buf, size_t len)
{
        struct img_config c;
        struct img_history *h;
        size_t n;

        if (img_config_parse(buf, len, &c, NULL) < 0)
                return;
        if (c.n_diff_ids > IMG_MAX_LAYERS || !c.env || !c.raw)
                abort();
        for (size_t i = 0; i < c.n_diff_ids; i++) {
                if (!img_digest_valid(c.diff_ids[i]))
                        abort();
        }
        if (img_config_history(&c, &h, &n, NULL) == 0)
                img_history_free(h, n);
        img_config_free(&c);
}

static void reference(const char *buf, size_t len)
{
        char s[600], out[700];
        struct img_ref r;

        if (len >= sizeof(s))
                len = sizeof(s) - 1;
        memcpy(s, buf, len);
        s[len] = '\0';
        if (img_ref_parse(s, &r, NULL) < 0)
                return;
        img_ref_format(&r, out, sizeof(out));
        /* a formatted reference parses to itself (the digest is dropped
         * when there is a tag) */
        struct img_ref again;
        if (img_ref_parse(out, &again, NULL) < 0 || strcmp(r.registry, again.registry) ||
            strcmp(r.repo, again.repo) || strcmp(r.tag, again.tag))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *buf = (const char *)data;

        img_detect_kind(buf, size, NULL);
        img_detect_kind(buf, size, "application/vnd.oci.image.index.v1+json");
        manifest(buf, size);
        index_(buf, size);
        config(buf, size);
        reference(buf, size);
        return 0;
}
