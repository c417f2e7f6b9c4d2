/* specset — the registry a runtime calls with, swapped whole on reload.
 *
 * A call takes a reference on the current set and drops it when it ends, so
 * calls in flight finish on the set they started with while new calls see the
 * new one. Taking the reference is made safe against a concurrent swap by a
 * two-slot grace period (as RCU does): a reader announces itself in the slot
 * of the current epoch for the few instructions between loading the pointer
 * and counting its reference; the swapper waits, slot by slot, for those
 * announcements to clear before dropping the runtime's own reference. No lock
 * is taken on the call path, and a reload never waits for a call to end. */
#ifndef LLMSVC_SPECSET_H
#define LLMSVC_SPECSET_H

#include <stdatomic.h>

#include "dirlist.h"
#include "registry.h"

typedef struct spec_set {
    registry reg;
    atomic_long refs;
} spec_set;

typedef struct spec_slot {
    _Atomic(spec_set *) current;
    atomic_uint epoch;
    atomic_long announce[2];
} spec_slot;

/* Reads every spec file of dirs into a new set (refs 1). NULL on OOM; the
 * set's reg.probs lists any problem met. */
spec_set *specset_load(const dirlist *dirs);
/* The current set, with a reference the caller drops with specset_release. */
spec_set *specset_acquire(spec_slot *slot);
void specset_release(spec_set *s);
/* Installs s (taking its reference) and drops the slot's reference on the
 * previous set once no reader can still be taking one. */
void specset_install(spec_slot *slot, spec_set *s);

#endif
