/* dirlist — the folders plugins and specs are read from, in order. */
#ifndef LLMSVC_DIRLIST_H
#define LLMSVC_DIRLIST_H

#include <stddef.h>

typedef struct dirlist {
    char **dirs;
    int *missing_ok; /* a default folder may be absent; a named one may not */
    size_t n;
} dirlist;

int dirlist_add(dirlist *l, const char *dir, int missing_ok);
/* Each folder of a ':'-separated list (NULL: none). */
int dirlist_add_path(dirlist *l, const char *path);
void dirlist_free(dirlist *l);

/* The spec folders a runtime reads, in order: the default (unless
 * LLMSVC_OPT_NO_DEFAULT_SPECS), the operators' folder of an installation,
 * LLMSVC_SPEC_PATH (unless LLMSVC_OPT_NO_ENV), then spec_path. -1 on OOM. */
int dirlist_specs(dirlist *l, unsigned flags, const char *spec_path);
/* The plugin folders: plugin_path, LLMSVC_PLUGIN_PATH (unless NO_ENV), the
 * default (unless NO_DEFAULT_PLUGINS). -1 on OOM. */
int dirlist_plugins(dirlist *l, unsigned flags, const char *plugin_path);

#endif
