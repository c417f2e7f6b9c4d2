/* jdoc's private layout, shared by its parser (jdoc_parse.c) and its readers
 * (jdoc.c): the token array a document is, and the inlining hints both use. */
#ifndef LLMSVC_JDOC_TOK_H
#define LLMSVC_JDOC_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "jdoc.h"

/* One token: an object, array, string (start/end exclude the quotes) or
 * primitive. size counts an object's keys, an array's items, and is a key's
 * length (-1 when it has escapes: jdoc_get compares lengths first); next is
 * the index just past the subtree of a container or key (a value's is its
 * index + 1); str is the arena offset of a string's unescaped text (-1 not
 * yet, -2 a bad escape); esc is set when a string holds a backslash. A token
 * stores only the fields read for its kind (fewer stores a token):
 *   object, array: start end parent next size type
 *   key:           start end parent next size str type esc
 *   string value:  start end parent str type esc
 *   primitive:     start end parent type
 * All are 32 bits: a token is 32 bytes, indexed with a shift. */
enum { J_OBJECT = 1, J_ARRAY = 2, J_STRING = 3, J_PRIMITIVE = 4 };

typedef struct jtok {
    int32_t start, end;
    int32_t parent, next;
    int32_t size, str;
    int32_t type, esc;
} jtok;

struct llmsvc_jdoc {
    const char *text; /* borrowed: the caller keeps it alive */
    size_t len;
    jtok *tok; /* inline_tok until the document outgrows it */
    int n, cap;
    int esc_keys; /* some key holds an escape (jdoc_get unescapes those to compare) */
    char *arena; /* unescaped strings; taken at the first string read */
    size_t arena_used, arena_cap;
    size_t size; /* of this block (a spare, spare.h) */
    jtok inline_tok[]; /* allocated with the document: one malloc for most bodies */
};

#if defined(__GNUC__)
#define HOT static inline __attribute__((always_inline))
#define COLD static __attribute__((noinline))
#else
#define HOT static inline
#define COLD static
#endif

#endif
