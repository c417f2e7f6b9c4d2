/* json_util — JSON helpers the core uses and hands to plugins (plugin.h). */
#ifndef LLMSVC_JSON_UTIL_H
#define LLMSVC_JSON_UTIL_H

#include <json-c/json.h>

#include "llmsvc/plugin.h"

json_object *ju_get(const json_object *obj, const char *path);
const char *ju_get_string(const json_object *obj, const char *path);
int64_t ju_get_int(const json_object *obj, const char *path, int64_t def);
llmsvc_code ju_parse(const char *text, size_t len, json_object **out, llmsvc_error **err);
llmsvc_code ju_merge(json_object *dst, const json_object *src);
/* obj.a.b = value for "a.b", creating objects on the way; takes value. */
llmsvc_code ju_set_path(json_object *obj, const char *path, json_object *value);
/* A value that serializes as exactly text (JSON the caller vouches for). */
json_object *ju_raw(const char *text, size_t len);
/* The userdata of every ju_raw object (how json_write knows one). */
extern const char ju_raw_marker[];
/* A compact JSON text of obj, malloc'd. */
char *ju_to_string(const json_object *obj);

#endif
