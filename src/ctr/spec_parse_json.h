/* Private to the spec_parse*.c files: typed access to a json-c tree with
 * JSON-path error messages, and the table-driven object walker every section
 * parser uses. Paths are a chain of stack nodes rendered only on error, so the
 * success path never formats a string. */
#ifndef ISOLA_CTR_SPEC_PARSE_JSON_H
#define ISOLA_CTR_SPEC_PARSE_JSON_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctr/spec.h"
#include "util/err.h"

/* One step of a JSON path: an object key, or an array index when key is NULL.
 * A NULL `struct jp *` is the document root. */
struct jp {
        const struct jp *up;
        const char *key;
        size_t idx;
};

#define JP_KEY(parent, k) ((struct jp){.up = (parent), .key = (k)})
#define JP_IDX(parent, i) ((struct jp){.up = (parent), .key = NULL, .idx = (i)})

/* Records "<path>: <message>" (EINVAL). */
void sj_set_err(struct isola_err *err, const struct jp *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* sj_set_err, then -1; a macro for the same reason as err_set's (err.h). */
// clang-format off
#define sj_err(...) ({ sj_set_err(__VA_ARGS__); -1; })
// clang-format on

/* A string without embedded NULs, borrowed from val. */
int sj_plain_string(json_object *val, const struct jp *path, const char **out,
                    struct isola_err *err);
int sj_string(json_object *val, const struct jp *path, char **out, struct isola_err *err);
int sj_bool(json_object *val, const struct jp *path, bool *out, struct isola_err *err);
int sj_int64(json_object *val, const struct jp *path, int64_t min, int64_t max, int64_t *out,
             struct isola_err *err);
int sj_uint64(json_object *val, const struct jp *path, uint64_t max, uint64_t *out,
              struct isola_err *err);
int sj_uint32(json_object *val, const struct jp *path, uint32_t *out, struct isola_err *err);
/* An array of strings into a NULL-terminated vector and its count. */
int sj_strv(json_object *val, const struct jp *path, char ***out, size_t *n_out,
            struct isola_err *err);
/* An object of string values into two parallel NULL-terminated vectors. */
int sj_string_map(json_object *val, const struct jp *path, char ***keys_out, char ***values_out,
                  size_t *n_out, struct isola_err *err);
/* Checks val is an array and allocates a zeroed array of n elements of elem_size,
 * storing it and its count before any element is parsed so that the owner's
 * free function releases partially parsed elements on error. */
int sj_array_alloc(json_object *val, const struct jp *path, size_t elem_size, void **out,
                   size_t *n_out, struct isola_err *err);

typedef int (*sj_parse_fn)(json_object *val, const struct jp *path, void *target,
                           struct isola_err *err);

enum sj_kind {
        SJK_STR,  /* char * */
        SJK_BOOL, /* bool */
        SJK_U32,  /* uint32_t (uid_t, gid_t) */
        SJK_I64,  /* int64_t */
        SJK_U64,  /* uint64_t */
        SJK_STRV, /* char ** + size_t count at aux */
        SJK_FN,   /* custom: fn(val, path, target) */
};

/* A known member of a JSON object. For scalar kinds `aux` is the offset of a
 * has_* bool (or SJ_NONE); for SJK_STRV it is the offset of the count. */
struct sj_field {
        const char *name;
        enum sj_kind kind;
        size_t off;
        size_t aux;
        sj_parse_fn fn;
};

#define SJ_NONE ((size_t)-1)
#define SJ_F(n, k, T, m)                                                                           \
        {                                                                                          \
                (n), (k), offsetof(T, m), SJ_NONE, NULL                                            \
        }
#define SJ_FH(n, k, T, m, has)                                                                     \
        {                                                                                          \
                (n), (k), offsetof(T, m), offsetof(T, has), NULL                                   \
        }
#define SJ_STRV_F(n, T, m, cnt)                                                                    \
        {                                                                                          \
                (n), SJK_STRV, offsetof(T, m), offsetof(T, cnt), NULL                              \
        }
#define SJ_FN_F(n, f)                                                                              \
        {                                                                                          \
                (n), SJK_FN, 0, SJ_NONE, (f)                                                       \
        }

/* Walks the members of the object val once, handing each known one to its
 * field entry; unknown members are ignored (forward compatibility) and JSON
 * null counts as absent. */
int sj_object(json_object *val, const struct jp *path, const struct sj_field *fields,
              size_t n_fields, void *target, struct isola_err *err);

/* Parses text into a json-c tree whose top level must be an object. */
int sj_tokenize(const char *json, size_t len, json_object **out, struct isola_err *err);

void sj_strv_free(char **v);

/* Section parsers shared between the spec_parse*.c files. */
int spec_process_parse_obj(json_object *val, const struct jp *path, struct spec_process *proc,
                           struct isola_err *err);
int spec_linux_parse_obj(json_object *val, const struct jp *path, struct spec_linux *lnx,
                         struct isola_err *err);
int spec_resources_parse_obj(json_object *val, const struct jp *path, struct spec_resources *res,
                             struct isola_err *err);
int spec_seccomp_parse_obj(json_object *val, const struct jp *path, struct spec_seccomp *sc,
                           struct isola_err *err);
void spec_linux_clear(struct spec_linux *lnx);
void spec_seccomp_free(struct spec_seccomp *sc);
/* Maps a propagation name ("rshared", ...) to MS_* flags; 0 if unknown. */
unsigned long spec_propagation_flags(const char *name);

/* Names the parser accepts, for `features`; each returns NULL past the end. */
const char *spec_mount_option_name(size_t i);
const char *spec_hook_name(enum spec_hook_kind kind);
const char *spec_seccomp_action_name(size_t i);
const char *spec_seccomp_op_name(size_t i);
const char *spec_seccomp_flag_name(size_t i);

#endif
