/* Fuzz target: a hostile Kubernetes manifest through kube_parse (libyaml,
 * every document, anchors/aliases, the typed model, cross-document
 * references), then every string of the model through generate's YAML
 * quoting and back through the parser, which must give the same text. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/gen_yaml.h"
#include "kube/kube.h"

/* The quoted form of s, read back as a ConfigMap value, equals s. */
static void roundtrip(const char *s)
{
        struct kube_manifest *m = NULL;
        struct isola_err err = {0};
        char *text = NULL;
        size_t len = 0;
        FILE *f;

        if (!s)
                return;
        f = open_memstream(&text, &len);
        if (!f)
                return;
        fputs("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  k: ", f);
        kube_yq(f, s);
        fputc('\n', f);
        fclose(f);
        if (kube_parse("rt", text, len, &m, &err) == 0) {
                if (m->n_data != 1 || m->data[0].n_items != 1 ||
                    strcmp(m->data[0].items[0].val, s) != 0)
                        abort();
                kube_manifest_free(m);
        } else if (strstr(err.msg, "NUL") == NULL && strstr(err.msg, "invalid") == NULL &&
                   strstr(err.msg, "control") == NULL) {
                /* only text libyaml refuses as a document (bad UTF-8) may fail */
                if (!strstr(err.msg, "UTF-8") && !strstr(err.msg, "character"))
                        abort();
        }
        free(text);
}

static void walk(const struct kube_manifest *m)
{
        char name[256];

        for (size_t i = 0; i < m->n_pods; i++) {
                const struct kube_pod *p = &m->pods[i];

                kube_pod_name(p, p->replicas ? p->replicas - 1 : 0, name, sizeof(name));
                roundtrip(name);
                for (size_t k = 0; k < p->n_ctrs; k++) {
                        const struct kube_container *c = &p->ctrs[k];

                        roundtrip(c->image);
                        for (size_t e = 0; e < c->n_env; e++)
                                roundtrip(c->env[e].value);
                        for (size_t a = 0; c->args && c->args[a]; a++)
                                roundtrip(c->args[a]);
                }
        }
        for (size_t i = 0; i < m->n_data; i++)
                for (size_t k = 0; k < m->data[i].n_items; k++)
                        roundtrip(m->data[i].items[k].val);
        for (size_t i = 0; i < m->n_warnings; i++)
                (void)strlen(m->warnings[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct kube_manifest *m = NULL;
        struct isola_err err = {0};

        if (kube_parse("fuzz.yaml", (const char *)data, size, &m, &err) < 0) {
                if (!err.msg[0])
                        abort(); /* every failure names its cause */
                return 0;
        }
        walk(m);
        kube_manifest_free(m);
        return 0;
}
