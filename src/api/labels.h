/* Container labels and the container list's filters (labels.c). */
#ifndef ISOLA_API_LABELS_H
#define ISOLA_API_LABELS_H

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "util/err.h"

/* Labels from a create body: NULL/null or an object of strings, bounded. */
int api_labels_check(json_object *labels, struct isola_err *err);
int api_labels_set(sqlite3 *db, const char *id, const char *labels_json, struct isola_err *err);
/* The container's labels ({} when none); never NULL. */
json_object *api_labels_get(sqlite3 *db, const char *id);

/* Labels of a volume or network (kind "volume" | "network") made through
 * the API: set replaces (NULL clears), get never returns NULL. */
int api_obj_labels_set(sqlite3 *db, const char *kind, const char *name, const char *labels_json,
                       struct isola_err *err);
json_object *api_obj_labels_get(sqlite3 *db, const char *kind, const char *name);

/* Docker's filters for GET /containers/json -> {"key": ["v", ...]} (NULL
 * when none); keys label, name, id, status. */
int api_ctr_filter_parse(const char *text, json_object **out, struct isola_err *err);
bool api_ctr_filter_match(json_object *filters, const char *id, const char *name, const char *state,
                          json_object *labels);

#endif
