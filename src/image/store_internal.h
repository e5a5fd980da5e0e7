/* Private to the image store files: sha256 streams, bounded JSON parsing,
 * the store lock, temp names and small row helpers. */
#ifndef ISOLA_IMAGE_STORE_INTERNAL_H
#define ISOLA_IMAGE_STORE_INTERNAL_H

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/image.h"
#include "util/err.h"

/* Media types the store knows. */
#define MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER       "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP  "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD  "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER    "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* Layer unpack limits the store applies (the fuzz target uses smaller ones). */
#define IMG_LAYER_MAX_BYTES   (64ull << 30)
#define IMG_LAYER_MAX_ENTRIES 1000000ull

/* ---- sha256 ---- */
struct img_sha {
        EVP_MD_CTX *ctx;
};
int img_sha_init(struct img_sha *h, struct isola_err *err);
void img_sha_update(struct img_sha *h, const void *buf, size_t len);
/* "sha256:<hex>" into out; frees the context. */
void img_sha_final(struct img_sha *h, char out[IMG_DIGEST_MAX]);
void img_sha_free(struct img_sha *h);
/* Digest of a buffer. */
int img_sha_buf(const void *buf, size_t len, char out[IMG_DIGEST_MAX], struct isola_err *err);

/* ---- JSON ---- */
/* Parses len bytes strictly (no trailing garbage, depth bounded). */
json_object *ijson_parse(const char *buf, size_t len, const char *what, struct isola_err *err);
/* The same for a top-level value of the given type. */
json_object *ijson_parse_type(const char *buf, size_t len, const char *what, json_type type,
                              struct isola_err *err);
/* String member or NULL when absent/not a string. */
const char *ijson_str(json_object *o, const char *key);
/* Copies an optional string member into a fixed buffer; error when too long
 * or not a string. */
int ijson_copy(json_object *o, const char *key, char *dst, size_t cap, const char *what,
               struct isola_err *err);
/* A descriptor object {mediaType, digest, size[, platform]}. */
int ijson_descriptor(json_object *o, struct img_descriptor *d, const char *what,
                     struct isola_err *err);
/* A descriptor as JSON (mediaType, digest, size). */
json_object *ijson_descriptor_new(const char *media_type, const char *digest, int64_t size);
/* Serialises o (plain, no escaping of '/') into a heap string. */
char *ijson_dump(json_object *o, size_t *len_out);

/* ---- store helpers ---- */
/* <root>/tmp/<prefix>-<random>; made as a directory when dir. */
int store_tmp_path(const struct img_store *s, const char *prefix, char *buf, size_t len,
                   struct isola_err *err);
/* rm -rf below an fd-relative name; silent best effort. */
void store_rm_tree_at(int dirfd, const char *name);
void store_rm_tree(const char *path);
/* Moves path into tmp/ (atomic disappearance) and deletes it there. */
void store_discard_dir(const struct img_store *s, const char *path);
int64_t store_now(void);
/* Deletes what no row reaches (layers, layer dirs, blobs, temp files);
 * the caller holds the store lock exclusive. */
int store_gc(struct img_store *s, uint64_t *freed, struct isola_err *err);
/* Whether any row references the blob (image manifest, config, layer). */
bool store_blob_referenced(struct img_store *s, const char *digest);
/* Renames a finished layer dir (tmp, on the store's file system) to
 * layers/<diff id> and adds its row in one write transaction; tmp is
 * discarded when the layer is already there or on failure. */
int store_layer_commit(struct img_store *s, const char *tmp, const char *diff_id, uint64_t size,
                       struct isola_err *err);
/* Commits a staged file (already hashed to digest) into blobs/. */
int store_blob_adopt(struct img_store *s, const char *tmp_path, const char *digest, bool *added_out,
                     struct isola_err *err);
/* img_unpack_fd that also hashes the compressed stream (the blob digest). */
int unpack_stream(int fd, int dest_dirfd, const struct img_unpack_limits *lim,
                  char diff_id_out[IMG_DIGEST_MAX], char blob_digest_out[IMG_DIGEST_MAX],
                  uint64_t *size_out, struct isola_err *err);
/* Unpacks blob into layers/<diff_id> (expected may be NULL: then computed). */
int layer_unpack_blob(struct img_store *s, const char *blob_digest, const char *expected_diff_id,
                      char diff_id_out[IMG_DIGEST_MAX], struct isola_err *err);
/* Layer media type from the first bytes of a blob. */
const char *layer_media_type_of(struct img_store *s, const char *blob_digest);
/* Resolves name_or_id to an image id. */
int store_resolve(struct img_store *s, const char *name_or_id, char id_out[IMG_DIGEST_MAX],
                  struct isola_err *err);
/* Whether a media type is a layer (tar, gzip, zstd; OCI or Docker). */
bool layer_media_type_ok(const char *mt);

/* A NULL-terminated string vector. */
void img_strv_free(char **v);
int img_strv_push(char ***v, size_t *n, const char *s);

#endif
