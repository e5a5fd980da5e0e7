/* Registry client: the OCI distribution spec over libcurl (pull, push,
 * login/logout). Prefix reg_.
 *
 * Pull resolves a tag to a manifest (an index picks a platform), fetches the
 * config and layers in parallel into the store's blob writers (which verify
 * digests), resumes a cut transfer with HTTP Range, and registers the image.
 * Push HEADs each blob, mounts it from another repository of the same
 * registry when the image was pulled from there, uploads the rest and PUTs
 * the manifest bytes as stored. Authentication answers the registry's
 * challenge: Basic, or a Bearer token fetched from the realm it names.
 *
 * Everything a registry sends is hostile: bodies are bounded, JSON parsed
 * defensively, digests checked. See docs/registry.md. */
#ifndef ISOLA_IMAGE_REGISTRY_H
#define ISOLA_IMAGE_REGISTRY_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "image/image.h"
#include "util/err.h"

enum reg_tls { REG_TLS_DEFAULT, REG_TLS_VERIFY, REG_TLS_NO_VERIFY };

struct reg_opts {
        /* REG_TLS_DEFAULT: verify, except that localhost/127.0.0.0/8/::1
         * registries fall back to plain HTTP when they do not speak TLS.
         * REG_TLS_NO_VERIFY: no certificate checks, plain HTTP fallback. */
        enum reg_tls tls;
        const char *cert_dir; /* *.crt CAs, *.cert + *.key client pair; NULL:
                                 /etc/containers/certs.d/<registry> if present */
        const char *authfile; /* NULL: $REGISTRY_AUTH_FILE, else <root>/auth.json */
        const char *root;     /* the store root (for the default authfile) */
        const char *username; /* explicit credentials (--creds), override the file */
        const char *password;
        const char *platform; /* "os/arch[/variant]"; NULL: linux/<host> */
        FILE *progress;       /* per-layer progress lines (a terminal), or NULL */
        unsigned parallel;    /* concurrent blob transfers; 0 = default (6) */
        /* Set (by a signal handler) to stop a pull between two reads: the
         * transfers are aborted and their temp files removed (EINTR). */
        const volatile sig_atomic_t *cancel;
};

/* Pulls name ([registry/]repo[:tag][@digest]) into the store, tags it with
 * the normalised name and returns the image id. */
int reg_pull(struct img_store *s, const char *name, const struct reg_opts *o,
             char id_out[IMG_DIGEST_MAX], struct isola_err *err);

/* Pushes the local image src (name or id) to dest (NULL: src's own name). */
int reg_push(struct img_store *s, const char *src, const char *dest, const struct reg_opts *o,
             char digest_out[IMG_DIGEST_MAX], struct isola_err *err);

/* Checks username/password against the registry (a /v2/ request answering
 * its challenge) and only then stores them in the auth file (mode 0600). */
int reg_login(const char *registry, const char *username, const char *password,
              const struct reg_opts *o, struct isola_err *err);
/* Removes the registry's entry (ENOENT when there is none); registry NULL
 * removes every entry. */
int reg_logout(const char *registry, const struct reg_opts *o, struct isola_err *err);

/* The auth file reg_login writes, as the options resolve it. */
void reg_authfile_path(const struct reg_opts *o, char *buf, size_t len);

#endif
