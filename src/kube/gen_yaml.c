/* YAML scalars for kube generate (see gen_yaml.h). */
#include "kube/gen_yaml.h"

void kube_yq(FILE *f, const char *s)
{
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p == '\t')
                        fputs("\\t", f);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

void kube_ykv(FILE *f, int indent, const char *key, const char *val)
{
        fprintf(f, "%*s%s: ", indent, "", key);
        kube_yq(f, val);
        fputc('\n', f);
}

void kube_ylist(FILE *f, int indent, const char *key, char *const *v)
{
        if (!v || !v[0])
                return;
        fprintf(f, "%*s%s:\n", indent, "", key);
        for (; *v; v++) {
                fprintf(f, "%*s- ", indent, "");
                kube_yq(f, *v);
                fputc('\n', f);
        }
}
