#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int fs_read_file(const char *path, size_t max, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    char *p = malloc(cap);
    if (!p) {
        fclose(f);
        errno = ENOMEM;
        return -1;
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > max + 1) {
                free(p);
                fclose(f);
                errno = EFBIG;
                return -1;
            }
            char *np = realloc(p, cap * 2);
            if (!np) {
                free(p);
                fclose(f);
                errno = ENOMEM;
                return -1;
            }
            p = np;
            cap *= 2;
        }
        size_t got = fread(p + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(p);
        errno = EIO;
        return -1;
    }
    if (n > max) {
        free(p);
        errno = EFBIG;
        return -1;
    }
    p[n] = '\0';
    *data = p;
    *len = n;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void fs_free_list(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int fs_list_dir(const char *dir, const char *suffix, char ***out, size_t *n)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return -1;
    size_t cap = 16, count = 0;
    char **v = malloc(cap * sizeof *v);
    if (!v) {
        closedir(dh);
        errno = ENOMEM;
        return -1;
    }
    size_t slen = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(dh))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= slen || strcmp(e->d_name + len - slen, suffix))
            continue;
        size_t plen = strlen(dir) + 1 + len + 1;
        char *path = malloc(plen);
        if (!path)
            goto nomem;
        snprintf(path, plen, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (count + 1 >= cap) {
            char **nv = realloc(v, cap * 2 * sizeof *v);
            if (!nv) {
                free(path);
                goto nomem;
            }
            v = nv;
            cap *= 2;
        }
        v[count++] = path;
    }
    closedir(dh);
    qsort(v, count, sizeof *v, cmp_str);
    v[count] = NULL;
    *out = v;
    *n = count;
    return 0;
nomem:
    closedir(dh);
    fs_free_list(v, count);
    errno = ENOMEM;
    return -1;
}

int fs_is_dir(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    return S_ISDIR(st.st_mode) ? 1 : 0;
}

int fs_split_path(const char *list, char ***out, size_t *n)
{
    size_t cap = 1;
    for (const char *p = list; *p; p++)
        cap += *p == ':';
    char **v = calloc(cap + 1, sizeof *v);
    if (!v)
        return -1;
    size_t count = 0;
    const char *s = list;
    while (*s) {
        const char *e = strchr(s, ':');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len) {
            v[count] = strndup(s, len);
            if (!v[count]) {
                fs_free_list(v, count);
                return -1;
            }
            count++;
        }
        if (!e)
            break;
        s = e + 1;
    }
    *out = v;
    *n = count;
    return 0;
}
