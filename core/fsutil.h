/* fsutil — small file-system helpers. Internal. */
#ifndef LLMSVC_FSUTIL_H
#define LLMSVC_FSUTIL_H

#include <stddef.h>

/* Reads a whole file of at most max bytes. 0 and a malloc'd NUL-terminated
 * *data; -1 with errno set (EFBIG when larger than max). */
int fs_read_file(const char *path, size_t max, char **data, size_t *len);
/* The regular files in dir whose names end with suffix, sorted, as full paths
 * ("dir/name"); a NULL-terminated malloc'd array. -1 with errno on failure. */
int fs_list_dir(const char *dir, const char *suffix, char ***out, size_t *n);
void fs_free_list(char **v, size_t n);
/* 1 for a directory, 0 for anything else that exists, -1 (errno) if it does not. */
int fs_is_dir(const char *path);
/* Splits a ':'-separated path list, skipping empty entries. */
int fs_split_path(const char *list, char ***out, size_t *n);

#endif
