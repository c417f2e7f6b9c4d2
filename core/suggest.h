/* suggest — "did you mean" by edit distance. Internal. */
#ifndef LLMSVC_SUGGEST_H
#define LLMSVC_SUGGEST_H

#include <stddef.h>

/* Optimal-string-alignment distance (strings longer than 128 compare by their first 128 bytes). */
int suggest_distance(const char *a, const char *b);
/* True when b is close enough to a to suggest it (distance ≤ max(2, len/3),
 * or one contains the other). */
int suggest_close(const char *a, const char *b);
/* The closest of cands to word if it is close enough, else NULL. */
const char *suggest_best(const char *word, const char *const *cands, size_t n);

#endif
