/* room — short strings kept in a fixed array inside the object that owns them
 * (a request's URL and headers, a response's id and model), so the usual call
 * makes no allocation for them; what does not fit goes to the heap. */
#ifndef LLMSVC_ROOM_H
#define LLMSVC_ROOM_H

#include <stdlib.h>
#include <string.h>

/* A copy of s in room[*used..cap), else strdup'd; NULL when memory runs out. */
static inline char *room_copy(char *room, size_t cap, size_t *used, const char *s)
{
    size_t n = strlen(s) + 1;
    if (n > cap - *used)
        return strdup(s);
    char *p = room + *used;
    memcpy(p, s, n);
    *used += n;
    return p;
}

/* Whether p points into room (else it came from the heap). */
static inline int room_holds(const char *room, size_t cap, const char *p)
{
    return p >= room && p < room + cap;
}

/* Frees a string from room_copy (nothing for one in the room). */
static inline void room_free(const char *room, size_t cap, char *p)
{
    if (!room_holds(room, cap, p))
        free(p);
}

#endif
