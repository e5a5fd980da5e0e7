/* Image store: content-addressed blobs, images (manifest + config + layers),
 * unpacked layers shared by every container of an image. Prefix img_.
 *
 * On disk (see docs/images.md), under the root of db/db.h:
 *   blobs/sha256/<hex>        manifests, configs, compressed layers, verbatim
 *   layers/<diffid hex>/      one unpacked layer, overlayfs-ready (whiteouts as
 *                             0/0 char devices, opaque dirs as trusted.overlay.opaque)
 *   tmp/                      partial downloads and unpacks; renamed into place
 * Rows (db/schema.c): images, image_names, image_layers, layers.
 *
 * Everything read from a manifest, config or layer is hostile: sizes are
 * bounded, digests verified on write and on read-back, layer paths confined. */
#ifndef ISOLA_IMAGE_IMAGE_H
#define ISOLA_IMAGE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "db/db.h"
#include "util/err.h"

#define IMG_DIGEST_MAX   72 /* "sha256:" + 64 hex + NUL */
#define IMG_MANIFEST_MAX (4u << 20)
#define IMG_CONFIG_MAX   (8u << 20)
#define IMG_MAX_LAYERS   128

/* ---- references: [registry/]repo[:tag][@digest] ---------------------- */
struct img_ref {
        char registry[256];          /* "docker.io" when none given; "localhost:5000" */
        char repo[256];              /* "library/busybox" for docker.io single names */
        char tag[130];               /* "latest" when neither tag nor digest is given */
        char digest[IMG_DIGEST_MAX]; /* "" or "sha256:..." */
};
/* Parses and normalises as docker/podman do; errors name the input. */
int img_ref_parse(const char *s, struct img_ref *out, struct isola_err *err);
/* "registry/repo:tag" (or "registry/repo@digest" when there is no tag). */
void img_ref_format(const struct img_ref *r, char *buf, size_t len);
/* Whether s is "sha256:<64 hex>". */
bool img_digest_valid(const char *s);

/* ---- parsed image metadata (manifest / index / config) --------------- */
struct img_descriptor {
        char media_type[128];
        char digest[IMG_DIGEST_MAX];
        int64_t size;
        char platform_os[32], platform_arch[32], platform_variant[32]; /* index entries */
};
struct img_manifest {
        char media_type[128]; /* OCI or Docker schema 2 manifest */
        struct img_descriptor config;
        struct img_descriptor *layers;
        size_t n_layers;
};
struct img_index { /* OCI index or Docker manifest list */
        char media_type[128];
        struct img_descriptor *manifests;
        size_t n_manifests;
};
struct img_config {        /* image config: the "config" object plus rootfs.diff_ids */
        char **env;        /* NULL-terminated, KEY=VALUE */
        char **entrypoint; /* NULL-terminated or NULL */
        char **cmd;        /* NULL-terminated or NULL */
        char *working_dir, *user, *stop_signal; /* NULL when unset */
        char **exposed_ports;                   /* "80/tcp", NULL-terminated */
        char **volumes;                         /* paths, NULL-terminated */
        char **label_keys, **label_values;      /* parallel, NULL-terminated */
        char **diff_ids;                        /* rootfs.diff_ids, NULL-terminated */
        size_t n_diff_ids;
        char os[32], arch[32];
        int64_t created; /* unix seconds, 0 when absent */
        char *raw;       /* the config JSON as stored (for inspect/history) */
};
/* Kind of a JSON blob by its mediaType (or shape when mediaType is absent). */
enum img_kind { IMG_KIND_UNKNOWN, IMG_KIND_MANIFEST, IMG_KIND_INDEX };
enum img_kind img_detect_kind(const char *json, size_t len, const char *content_type);
int img_manifest_parse(const char *json, size_t len, struct img_manifest *out,
                       struct isola_err *err);
int img_index_parse(const char *json, size_t len, struct img_index *out, struct isola_err *err);
/* Picks the entry for os/arch[/variant] (platform "linux/amd64" style);
 * NULL platform = linux/<host arch>. */
int img_index_select(const struct img_index *idx, const char *platform,
                     const struct img_descriptor **out, struct isola_err *err);
int img_config_parse(const char *json, size_t len, struct img_config *out, struct isola_err *err);
void img_manifest_free(struct img_manifest *m);
void img_index_free(struct img_index *i);
void img_config_free(struct img_config *c);
/* The config's "history" entries, oldest first (empty when absent). */
struct img_history {
        int64_t created;            /* unix seconds, 0 when absent */
        char *created_by, *comment; /* "" when absent */
        bool empty_layer;
};
int img_config_history(const struct img_config *c, struct img_history **out, size_t *n_out,
                       struct isola_err *err);
void img_history_free(struct img_history *h, size_t n);

/* ---- the store ------------------------------------------------------- */
struct img_store {
        struct db_paths paths;
        sqlite3 *db; /* owned by the caller (engine), not closed by the store */
        /* store lock (<root>/image.lock), set by img_store_init; see img_store_lock */
        int lock_fd, lock_depth;
        bool lock_exclusive;
};
void img_store_init(struct img_store *s, const struct db_paths *paths, sqlite3 *db);
/* The store lock: content writers (pull, load, import, commit) hold it shared
 * from their first blob until img_register, so prune (exclusive) never
 * deletes a blob that is written but not yet referenced by a row. The store
 * functions take it themselves; a pull takes it around the whole download.
 * Nested calls on one img_store are counted. */
int img_store_lock(struct img_store *s, bool exclusive, struct isola_err *err);
void img_store_unlock(struct img_store *s);

/* Blobs. A writer streams into tmp/, hashes as it goes, and on commit checks
 * the digest (and size when expected_size >= 0), fsyncs and renames. */
struct img_blob_writer;
int img_blob_writer_open(struct img_store *s, const char *expected_digest, int64_t expected_size,
                         struct img_blob_writer **out, struct isola_err *err);
int img_blob_writer_write(struct img_blob_writer *w, const void *buf, size_t len,
                          struct isola_err *err);
/* Offset reached so far (for resumed downloads) */
int64_t img_blob_writer_size(const struct img_blob_writer *w);
/* Verifies and moves into place; digest_out (may be NULL) gets the digest.
 * Frees the writer (and removes its temp file) whether it succeeds or not. */
int img_blob_writer_commit(struct img_blob_writer *w, char digest_out[IMG_DIGEST_MAX],
                           struct isola_err *err);
void img_blob_writer_abort(struct img_blob_writer *w); /* removes the temp file */
int img_blob_put(struct img_store *s, const void *buf, size_t len, char digest_out[IMG_DIGEST_MAX],
                 struct isola_err *err);
bool img_blob_exists(struct img_store *s, const char *digest);
void img_blob_path(const struct img_store *s, const char *digest, char *buf, size_t len);
/* Reads a whole (small) blob, verifying its digest; max bounds the size. */
int img_blob_read(struct img_store *s, const char *digest, size_t max, char **buf_out,
                  size_t *len_out, struct isola_err *err);

/* Layers: unpacks blob `digest` (tar, tar+gzip or tar+zstd by content) into
 * layers/<diff_id hex> unless present; verifies the uncompressed digest is
 * diff_id. Hostile entries are refused with "layer <digest>: entry '<name>': …"
 * and nothing is left behind. */
int img_layer_unpack(struct img_store *s, const char *blob_digest, const char *diff_id,
                     struct isola_err *err);
/* Takes dir (on the store's file system; a build step's upper dir holding
 * exactly the tree of the layer whose uncompressed digest is diff_id) as
 * the layer directory instead of unpacking the blob: times are set to epoch
 * and overlayfs bookkeeping dropped as the unpacker would. *adopted is false
 * (and dir untouched but for times and xattrs) when dir has something the
 * unpacker treats differently; the caller then unpacks the blob. On success
 * dir is gone (moved or discarded). */
int img_layer_adopt(struct img_store *s, const char *dir, const char *diff_id, int64_t epoch,
                    bool *adopted, struct isola_err *err);
/* Unpacks a layer from an open archive fd into a directory (the primitive the
 * above uses; the fuzz target drives it). *diff_id_out gets the sha256 of the
 * uncompressed stream, *size_out the bytes written. */
struct img_unpack_limits {
        uint64_t max_bytes;   /* total unpacked bytes */
        uint64_t max_entries; /* entries in the archive */
};
int img_unpack_fd(int fd, int dest_dirfd, const struct img_unpack_limits *lim,
                  char diff_id_out[IMG_DIGEST_MAX], uint64_t *size_out, struct isola_err *err);
void img_layer_dir(const struct img_store *s, const char *diff_id, char *buf, size_t len);

/* Images. img_register records an image whose manifest, config and layer
 * blobs are in the store: unpacks missing layers, writes the rows in one
 * transaction, points `name` (may be NULL) at it. id_out gets sha256:<config>. */
int img_register(struct img_store *s, const char *manifest_digest, const char *name,
                 char id_out[IMG_DIGEST_MAX], struct isola_err *err);

struct img_image {
        char id[IMG_DIGEST_MAX];
        char manifest_digest[IMG_DIGEST_MAX];
        char manifest_media_type[128];
        char **names; /* NULL-terminated */
        int64_t created, added, size;
        struct img_manifest manifest;
        struct img_config config;
        char **layer_dirs; /* unpacked layer dirs, bottom first, NULL-terminated */
        size_t n_layers;
};
/* By name (normalised like img_ref_parse), full id, or unique id prefix
 * (>= 4 hex). ENOENT when unknown: "image 'x': not known". */
int img_lookup(struct img_store *s, const char *name_or_id, struct img_image **out,
               struct isola_err *err);
void img_image_free(struct img_image *img);
/* All images (for `images`), newest first; caller frees each and the array.
 * Only the row fields are filled (id, digests, names, created, added, size):
 * no manifest, config or layer_dirs (img_lookup an id for those). */
int img_list(struct img_store *s, struct img_image ***out, size_t *n_out, struct isola_err *err);
/* `image inspect` JSON (podman's fields) for images from img_lookup: a
 * pretty-printed array, heap string. */
char *img_inspect_json(struct img_image *const *imgs, size_t n, struct isola_err *err);
int img_tag(struct img_store *s, const char *src, const char *new_name, struct isola_err *err);
/* Removes a name, or the image when given by id or its last name. Refuses
 * (EBUSY) an image a container uses unless force. */
int img_remove(struct img_store *s, const char *name_or_id, bool force, struct isola_err *err);
/* Deletes blobs and layer dirs no image or container references; reports bytes. */
int img_prune(struct img_store *s, uint64_t *freed_out, struct isola_err *err);

/* Builds a single-layer image (or one more layer on top of base, may be
 * NULL) from a layer tar blob and config overrides: import, commit, build. */
struct img_new_layer {
        const char *blob_digest; /* compressed or plain tar already in the store */
        const char *diff_id;
        const char *media_type;
        int64_t blob_size;
        const char *created_by; /* history entry */
};
int img_create_from_layers(struct img_store *s, const struct img_image *base,
                           const struct img_new_layer *layers, size_t n,
                           const char *config_overrides_json, const char *name,
                           char id_out[IMG_DIGEST_MAX], struct isola_err *err);

/* Archives: save (oci-archive | docker-archive) and load (both, detected). */
enum img_archive_format { IMG_ARCHIVE_OCI, IMG_ARCHIVE_DOCKER };
int img_save(struct img_store *s, const char *const *names, size_t n, enum img_archive_format f,
             const char *path, struct isola_err *err);
/* Loads every image in the archive; names_out gets the names tagged. */
int img_load(struct img_store *s, const char *path, char ***names_out, struct isola_err *err);
/* A root file system tarball as a single-layer image. */
int img_import(struct img_store *s, const char *tar_path, const char *name,
               char id_out[IMG_DIGEST_MAX], struct isola_err *err);

#endif
