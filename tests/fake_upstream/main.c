/* main.c - run fake_upstream as a standalone process for CLI scripts and
 * out-of-process tests. Drive it over HTTP: see README.md. */
#define _POSIX_C_SOURCE 200809L

#include "fake_upstream.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FAKE_UPSTREAM_FIXTURES_DIR
#define FAKE_UPSTREAM_FIXTURES_DIR "tests/fixtures"
#endif

static void usage(FILE *out, const char *argv0)
{
    fprintf(out,
            "usage: %s [--port N] [--fixtures DIR] [--port-file FILE]\n"
            "\n"
            "Serve fake provider endpoints on 127.0.0.1 until SIGINT or SIGTERM.\n"
            "\n"
            "  --port N          port to listen on (default 0: any free port)\n"
            "  --fixtures DIR    folder holding routes.json and the fixtures\n"
            "                    (default %s)\n"
            "  --port-file FILE  write the bound port to FILE once listening\n"
            "                    (written atomically; removed on exit)\n"
            "  --help            show this help\n"
            "\n"
            "Control endpoints: GET /_fake/health, GET /_fake/requests,\n"
            "POST /_fake/script (body: entry or array of entries), POST /_fake/reset.\n",
            argv0, FAKE_UPSTREAM_FIXTURES_DIR);
}

static int parse_port(const char *s, unsigned short *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v > 65535 || s[0] == '-')
        return -1;
    *out = (unsigned short)v;
    return 0;
}

/* Write the port to a temporary name, then rename: readers never see a
 * partial file. */
static int write_port_file(const char *file, unsigned short port)
{
    size_t len = strlen(file) + 32;
    char *tmp = malloc(len);
    FILE *f;
    int rc = -1;

    if (tmp == NULL)
        return -1;
    snprintf(tmp, len, "%s.tmp.%ld", file, (long)getpid());
    f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "fake_upstream: cannot write %s: %s\n", tmp, strerror(errno));
        goto out;
    }
    if (fprintf(f, "%u\n", (unsigned)port) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fprintf(stderr, "fake_upstream: cannot write %s: %s\n", tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        goto out;
    }
    if (fclose(f) != 0 || rename(tmp, file) != 0) {
        fprintf(stderr, "fake_upstream: cannot create %s: %s\n", file, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    return rc;
}

int main(int argc, char **argv)
{
    const char *fixtures = FAKE_UPSTREAM_FIXTURES_DIR;
    const char *port_file = NULL;
    unsigned short port = 0;
    fake_upstream *fu;
    sigset_t set;
    int sig = 0;
    int i;

    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const char **dest = NULL;
        const char *port_arg = NULL;
        const char *val;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout, argv[0]);
            return 0;
        }
        if (name_len == strlen("--port") && strncmp(arg, "--port", name_len) == 0)
            dest = &port_arg;
        else if (name_len == strlen("--fixtures") && strncmp(arg, "--fixtures", name_len) == 0)
            dest = &fixtures;
        else if (name_len == strlen("--port-file") && strncmp(arg, "--port-file", name_len) == 0)
            dest = &port_file;
        if (dest == NULL) {
            fprintf(stderr, "fake_upstream: unknown option %s\n", arg);
            usage(stderr, argv[0]);
            return 2;
        }
        if (eq != NULL) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            fprintf(stderr, "fake_upstream: %s needs a value\n", arg);
            return 2;
        }
        *dest = val;
        if (dest == &port_arg && parse_port(val, &port) < 0) {
            fprintf(stderr, "fake_upstream: bad port \"%s\"\n", val);
            return 2;
        }
    }

    /* Block the stop signals before any thread starts, so every thread
     * inherits the mask and sigwait below receives them. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    fu = fake_upstream_start(fixtures, port);
    if (fu == NULL)
        return 1;
    printf("fake_upstream listening on %s\n", fake_upstream_url(fu));
    fflush(stdout);
    if (port_file != NULL && write_port_file(port_file, fake_upstream_port(fu)) < 0) {
        fake_upstream_stop(fu);
        return 1;
    }
    while (sigwait(&set, &sig) != 0)
        ;
    fake_upstream_stop(fu);
    if (port_file != NULL)
        unlink(port_file);
    return 0;
}
