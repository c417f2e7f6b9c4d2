#include "specset.h"

#include <sched.h>
#include <stdlib.h>

spec_set *specset_load(const dirlist *dirs)
{
    spec_set *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    registry_init(&s->reg);
    atomic_init(&s->refs, 1);
    int rc = 0;
    for (size_t i = 0; i < dirs->n && rc == 0; i++)
        rc = registry_add_path(&s->reg, dirs->dirs[i], dirs->missing_ok[i]);
    if (rc == 0)
        rc = registry_finish(&s->reg);
    if (rc < 0) {
        specset_release(s);
        return NULL;
    }
    return s;
}

spec_set *specset_acquire(spec_slot *slot)
{
    unsigned e = atomic_load(&slot->epoch) & 1;
    atomic_fetch_add(&slot->announce[e], 1);
    spec_set *s = atomic_load(&slot->current);
    atomic_fetch_add(&s->refs, 1);
    atomic_fetch_sub(&slot->announce[e], 1);
    return s;
}

void specset_release(spec_set *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
        registry_free(&s->reg);
        free(s);
    }
}

/* Waits until no reader that may have loaded the old pointer is still
 * between loading it and counting its reference: flip the epoch and drain
 * the slot readers used before the flip, twice, so both slots are covered. */
static void grace(spec_slot *slot)
{
    for (int phase = 0; phase < 2; phase++) {
        unsigned old = atomic_fetch_add(&slot->epoch, 1) & 1;
        while (atomic_load(&slot->announce[old]) != 0)
            sched_yield();
    }
}

void specset_install(spec_slot *slot, spec_set *s)
{
    spec_set *old = atomic_exchange(&slot->current, s);
    if (!old)
        return;
    grace(slot);
    specset_release(old);
}
