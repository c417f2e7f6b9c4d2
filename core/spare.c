#include "spare.h"

#include <pthread.h>
#include <stdlib.h>

#include "buf.h"

typedef struct spares {
    void *p[SPARE_KINDS];
    size_t cap[SPARE_KINDS];
} spares;

/* The fast path reads the thread's own pointer; the key only frees the
 * spares at thread exit. */
static __thread spares *mine;
static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int key_ok;

static void free_spares(spares *s)
{
    for (int k = 0; k < SPARE_KINDS; k++)
        free(s->p[k]);
    free(s);
}

static void thread_exit(void *p)
{
    if (p == mine)
        mine = NULL;
    free_spares(p);
}

static void make_key(void)
{
    key_ok = pthread_key_create(&key, thread_exit) == 0;
}

/* A host that dlcloses the library must not have threads call thread_exit
 * after its code is gone: their spares are then left to the process. */
__attribute__((destructor)) static void unload(void)
{
    if (key_ok)
        pthread_key_delete(key);
    key_ok = 0;
}

void *spare_take(enum spare_kind kind, size_t min, size_t *cap)
{
    spares *s = mine;
    if (s && s->p[kind] && s->cap[kind] >= min) {
        void *p = s->p[kind];
        *cap = s->cap[kind];
        s->p[kind] = NULL;
        return p;
    }
    void *p = malloc(min);
    *cap = p ? min : 0;
    return p;
}

void spare_give(enum spare_kind kind, void *p, size_t cap)
{
    if (!p)
        return;
    spares *s = mine;
    if (!s && cap <= SPARE_MAX_BYTES) {
        pthread_once(&key_once, make_key);
        if (key_ok && (s = calloc(1, sizeof *s)) != NULL) {
            if (pthread_setspecific(key, s) != 0) {
                free(s);
                s = NULL;
            }
            mine = s;
        }
    }
    if (!s || cap > SPARE_MAX_BYTES || (s->p[kind] && s->cap[kind] >= cap)) {
        free(p);
        return;
    }
    free(s->p[kind]); /* keep the larger of the two */
    s->p[kind] = p;
    s->cap[kind] = cap;
}

int spare_buf(buf *b, enum spare_kind kind, size_t need)
{
    size_t cap;
    char *p = spare_take(kind, need, &cap);
    if (!p)
        return -1;
    *b = (buf){p, 0, cap};
    p[0] = '\0';
    return 0;
}

void spare_release_thread(void)
{
    spares *s = mine;
    if (!s)
        return;
    for (int k = 0; k < SPARE_KINDS; k++) {
        free(s->p[k]);
        s->p[k] = NULL;
        s->cap[k] = 0;
    }
}
