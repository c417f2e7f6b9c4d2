/* json_write — a json-c tree as compact JSON text, appended to a buf.
 *
 * The same text json_object_to_json_string_ext gives with
 * JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, written into a
 * buffer the caller keeps and reuses (the transport keeps one per thread), so
 * a request body costs no allocation and no printbuf. Nodes json-c prints
 * through a serializer of their own (doubles, text kept verbatim) are printed
 * by json-c; json_raw's text is copied as it is. */
#ifndef LLMSVC_JSON_WRITE_H
#define LLMSVC_JSON_WRITE_H

#include <json-c/json.h>

#include "buf.h"

/* 0, or -1 when memory runs out (out then holds a partial text). */
int json_write(buf *out, json_object *o);
/* s[0..n) as a JSON string, quoted and escaped as json-c does; 0 or -1. */
int json_write_string(buf *out, const char *s, size_t n);

#endif
