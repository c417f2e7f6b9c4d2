/* spare — one spare heap block of each kind per thread.
 *
 * The buffers every call needs (the response body, its header block, the JSON
 * document read from it and that document's strings) are taken from here and
 * given back when the call ends, so the next call on the thread reuses them
 * while they are still in its cache, without going back to malloc's arenas
 * (shared between threads, and locked). A block larger than SPARE_MAX_BYTES is
 * freed instead of kept: a thread holds at most SPARE_KINDS such blocks, a few
 * KB each for typical answers. A thread's spares are freed when it exits, and
 * the calling thread's when a runtime closes. */
#ifndef LLMSVC_SPARE_H
#define LLMSVC_SPARE_H

#include <stddef.h>

struct buf;

enum spare_kind { SPARE_BODY, SPARE_HEADERS, SPARE_JDOC, SPARE_ARENA, SPARE_JV, SPARE_KINDS };

#define SPARE_MAX_BYTES (256 * 1024)

/* A malloc'd block of at least min bytes, *cap set to its size (the thread's
 * spare when it is big enough); NULL when memory runs out. */
void *spare_take(enum spare_kind kind, size_t min, size_t *cap);
/* Gives back a malloc'd block of cap bytes (NULL is ignored): kept as the
 * thread's spare of that kind, or freed. */
void spare_give(enum spare_kind kind, void *p, size_t cap);
/* Gives the empty buffer b the thread's spare of that kind (or a new block)
 * of at least need bytes, for http_response_clear to give back; 0, or -1
 * when memory runs out. */
int spare_buf(struct buf *b, enum spare_kind kind, size_t need);
/* Frees the calling thread's spares. */
void spare_release_thread(void);

#endif
