/* Shared by src/engine/engine_net*.c only. */
#ifndef ISOLA_ENGINE_ENGINE_NET_H
#define ISOLA_ENGINE_ENGINE_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/engine.h"
#include "util/err.h"

/* One --network value: NAME[:alias=A,alias=B,ip=IP] (podman's syntax). */
struct eng_net_entry {
        char buf[512];
        const char *name;
        const char *aliases[17]; /* NULL-terminated */
        size_t n_aliases;
        const char *ip; /* NULL = from IPAM */
};
int eng_net_entry_parse(const char *text, struct eng_net_entry *e, struct isola_err *err);

/* cfg->network or the default; bridge = not none/host/container:REF/rootless. */
const char *eng_net_mode(const struct eng_config *cfg);
bool eng_net_is_bridge(const struct eng_config *cfg);
/* pasta | slirp4netns: a private namespace with a user-space back end */
bool eng_net_is_rootless(const struct eng_config *cfg);

struct net_ctx;
void eng_net_ctx(struct eng_ctx *c, struct net_ctx *n);

#endif
