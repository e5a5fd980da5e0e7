/* Writing YAML for kube generate: every string double-quoted and escaped,
 * so any container value reads back as the same string. Internal. */
#ifndef ISOLA_KUBE_GEN_YAML_H
#define ISOLA_KUBE_GEN_YAML_H

#include <stdio.h>

/* "text" with YAML double-quoted escapes. */
void kube_yq(FILE *f, const char *s);
/* INDENT"key: "value"\n" */
void kube_ykv(FILE *f, int indent, const char *key, const char *val);
/* INDENT"key:\n" then INDENT"- "item"\n" per item (nothing for an empty list). */
void kube_ylist(FILE *f, int indent, const char *key, char *const *v);

#endif
