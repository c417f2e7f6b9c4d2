#include "suggest.h"

#include <string.h>

#define MAXLEN 128

int suggest_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > MAXLEN)
        n = MAXLEN;
    if (m > MAXLEN)
        m = MAXLEN;
    /* three rolling rows: i-2, i-1, i */
    int rows[3][MAXLEN + 1];
    for (size_t j = 0; j <= m; j++)
        rows[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];
        cur[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (prev[j - 1] + cost < v)
                v = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < v)
                v = prev2[j - 2] + 1;
            cur[j] = v;
        }
    }
    return rows[n % 3][m];
}

int suggest_close(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la >= 3 && lb >= 3 && (strstr(a, b) || strstr(b, a)))
        return 1;
    size_t len = la > lb ? la : lb;
    int limit = (int)(len / 3);
    if (limit < 2)
        limit = 2;
    return suggest_distance(a, b) <= limit;
}

const char *suggest_best(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    int best_d = 1 << 30;
    for (size_t i = 0; i < n; i++) {
        if (!suggest_close(word, cands[i]))
            continue;
        int dist = suggest_distance(word, cands[i]);
        if (dist < best_d) {
            best_d = dist;
            best = cands[i];
        }
    }
    return best;
}
