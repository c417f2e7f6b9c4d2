/* pgharness — a real, throwaway PostgreSQL server for tests and benchmarks.
 *
 * pgh_start creates a folder /tmp/llmsvc-pg-XXXXXX, runs initdb and
 * `pg_ctl start` in it, creates the database llmsvc_test and gives its URL:
 *
 *   postgresql://USER@127.0.0.1:PORT/llmsvc_test
 *
 * The server listens on a free TCP port of 127.0.0.1 (found by binding port 0)
 * and on a Unix socket in the folder, nowhere else; authentication is "trust".
 * PostgreSQL refuses to run as root, so when the caller is root (tests and CI
 * are) the server and its tools run as the user "nobody", who owns the folder;
 * USER is then "nobody". The folder is under /tmp, not $TMPDIR: the tests'
 * $TMPDIR is private to root, and a socket path must stay short.
 *
 * The cluster is throwaway: fsync=off, synchronous_commit=off and
 * full_page_writes=off. A crash of the machine loses it, which is fine for a
 * test and wrong for anything else.
 *
 * When the process that started the cluster ends without pgh_stop (a crash, a
 * test timeout, SIGKILL), a watchdog process that it left behind stops the
 * server and removes the folder.
 *
 * The server binaries are $LLMSVC_TEST_PG_BINDIR when set, else the newest
 * /usr/lib/postgresql/N/bin (Debian), /usr/pgsql-N/bin (RPM), or what
 * `pg_config --bindir` says. When none has a server, pgh_start fails saying
 * which package to install (Debian: postgresql).
 *
 * Not thread-safe; start and stop a cluster from one thread. */
#ifndef LLMSVC_PGHARNESS_H
#define LLMSVC_PGHARNESS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct pg_harness {
    char dir[256];    /* the cluster's folder: data/, the socket, server.log */
    char bindir[512]; /* where postgres, initdb and pg_ctl are */
    char user[64];    /* the database superuser (the system user running it) */
    int port;         /* TCP port on 127.0.0.1 */
    char url[512];    /* postgresql://USER@127.0.0.1:PORT/llmsvc_test */
    char error[2048]; /* why pgh_start or pgh_create_db failed */
    uid_t uid;        /* the server's user and group */
    gid_t gid;
    int drop;       /* 1: commands run as uid/gid (the caller is root) */
    pid_t watchdog; /* stops the server and removes dir if we die */
    int watch_fd;   /* our end of the watchdog's pipe */
    int running;
} pg_harness;

/* Starts a cluster as described above. 0, or -1 with the reason in h->error
 * (also printed on stderr) and nothing left behind. */
int pgh_start(pg_harness *h);

/* Stops the server at once (pg_ctl stop -m immediate), ends the watchdog and
 * removes the folder. Connections to it fail from then on. Safe to call twice
 * and on a harness whose start failed. */
void pgh_stop(pg_harness *h);

/* Creates an empty database named name ([a-z0-9_], at most 48 characters) on
 * the running cluster and writes its URL into url. 0, or -1 with h->error. */
int pgh_create_db(pg_harness *h, const char *name, char *url, size_t size);

/* pgh_start, failing the current check test with the reason when it fails. */
#define PGH_START_OR_FAIL(h) ck_assert_msg(pgh_start(h) == 0, "%s", (h)->error)

#endif
