#include "dirlist.h"

#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "llmsvc/llmsvc.h"
#include "runtime.h"

int dirlist_add(dirlist *l, const char *dir, int missing_ok)
{
    char **nd = realloc(l->dirs, (l->n + 1) * sizeof *nd);
    if (!nd)
        return -1;
    l->dirs = nd;
    int *nm = realloc(l->missing_ok, (l->n + 1) * sizeof *nm);
    if (!nm)
        return -1;
    l->missing_ok = nm;
    if (!(l->dirs[l->n] = strdup(dir)))
        return -1;
    l->missing_ok[l->n++] = missing_ok;
    return 0;
}

int dirlist_add_path(dirlist *l, const char *path)
{
    if (!path)
        return 0;
    char **v;
    size_t n;
    if (fs_split_path(path, &v, &n) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = dirlist_add(l, v[i], 0);
    fs_free_list(v, n);
    return rc;
}

void dirlist_free(dirlist *l)
{
    fs_free_list(l->dirs, l->n);
    free(l->missing_ok);
    l->dirs = NULL;
    l->missing_ok = NULL;
    l->n = 0;
}

int dirlist_specs(dirlist *l, unsigned flags, const char *spec_path)
{
    const char *defs, *sysconf;
    rt_default_dirs(NULL, &defs, &sysconf);
    int rc = 0;
    if (!(flags & LLMSVC_OPT_NO_DEFAULT_SPECS)) {
        rc = dirlist_add(l, defs, 1);
        if (!rc && sysconf)
            rc = dirlist_add(l, sysconf, 1);
    }
    if (!rc && !(flags & LLMSVC_OPT_NO_ENV))
        rc = dirlist_add_path(l, getenv("LLMSVC_SPEC_PATH"));
    if (!rc)
        rc = dirlist_add_path(l, spec_path);
    return rc;
}

int dirlist_plugins(dirlist *l, unsigned flags, const char *plugin_path)
{
    const char *defp;
    rt_default_dirs(&defp, NULL, NULL);
    int rc = dirlist_add_path(l, plugin_path);
    if (!rc && !(flags & LLMSVC_OPT_NO_ENV))
        rc = dirlist_add_path(l, getenv("LLMSVC_PLUGIN_PATH"));
    if (!rc && !(flags & LLMSVC_OPT_NO_DEFAULT_PLUGINS))
        rc = dirlist_add(l, defp, 1);
    return rc;
}
