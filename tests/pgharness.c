/* pgharness — a throwaway PostgreSQL server for tests; see pgharness.h. */
#include "pgharness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_ATTEMPTS 5 /* another process may take the free port we found */

static int fail(pg_harness *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(pg_harness *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->error, sizeof h->error, fmt, ap);
    va_end(ap);
    fprintf(stderr, "pgharness: %s\n", h->error);
    return -1;
}

/* ---- finding the server ---- */

static int has_server(const char *dir)
{
    static const char *const tools[] = {"postgres", "initdb", "pg_ctl"};
    for (size_t i = 0; i < sizeof tools / sizeof *tools; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, tools[i]);
        if (access(path, X_OK) != 0)
            return 0;
    }
    return 1;
}

/* The newest PREFIX<version>/bin with a server, by the version's number. */
static int newest(const char *pattern, size_t prefix_len, char *out, size_t size)
{
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0)
        return 0;
    double best = -1;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", g.gl_pathv[i]);
        char *slash = strrchr(dir, '/');
        if (!slash || strlen(dir) <= prefix_len)
            continue;
        *slash = '\0';
        double v = strtod(dir + prefix_len, NULL);
        if (v > best && has_server(dir)) {
            best = v;
            snprintf(out, size, "%s", dir);
        }
    }
    globfree(&g);
    return best >= 0;
}

static int find_bindir(pg_harness *h)
{
    const char *env = getenv("LLMSVC_TEST_PG_BINDIR");
    if (env && *env) {
        if (has_server(env)) {
            snprintf(h->bindir, sizeof h->bindir, "%s", env);
            return 0;
        }
        return fail(h, "LLMSVC_TEST_PG_BINDIR=%s has no postgres, initdb and pg_ctl", env);
    }
    if (newest("/usr/lib/postgresql/*/bin/postgres", strlen("/usr/lib/postgresql/"), h->bindir,
               sizeof h->bindir) ||
        newest("/usr/pgsql-*/bin/postgres", strlen("/usr/pgsql-"), h->bindir, sizeof h->bindir))
        return 0;
    FILE *p = popen("pg_config --bindir 2>/dev/null", "r");
    if (p) {
        char line[512] = "";
        int got = fgets(line, sizeof line, p) != NULL;
        pclose(p);
        line[strcspn(line, "\r\n")] = '\0';
        if (got && *line && has_server(line)) {
            snprintf(h->bindir, sizeof h->bindir, "%s", line);
            return 0;
        }
    }
    return fail(h, "no PostgreSQL server found: the tests of the PostgreSQL store start a real "
                   "one, and found no postgres, initdb and pg_ctl in /usr/lib/postgresql/*/bin, "
                   "/usr/pgsql-*/bin or `pg_config --bindir`. Install the server (Debian and "
                   "Ubuntu: apt-get install postgresql, as packaging/install-build-deps does) or "
                   "point LLMSVC_TEST_PG_BINDIR at its bin folder");
}

/* PostgreSQL will not run as root: then it runs as nobody. */
static int pick_user(pg_harness *h)
{
    if (geteuid() != 0) {
        struct passwd *pw = getpwuid(geteuid());
        h->uid = geteuid();
        h->gid = getegid();
        h->drop = 0;
        snprintf(h->user, sizeof h->user, "%s", pw && pw->pw_name ? pw->pw_name : "llmsvc");
        return 0;
    }
    struct passwd *pw = getpwnam("nobody");
    if (!pw)
        return fail(h, "running as root, and there is no user 'nobody' to run PostgreSQL as "
                       "(it refuses to run as root)");
    h->uid = pw->pw_uid;
    h->gid = pw->pw_gid;
    h->drop = 1;
    snprintf(h->user, sizeof h->user, "nobody");
    return 0;
}

/* ---- processes ---- */

/* In a child between fork and exec: no descriptor of ours beyond 0, 1, 2, so
 * that the server does not hold ctest's pipes or the watchdog's pipe open. */
static void close_from_3(void)
{
    if (close_range(3, ~0U, 0) != 0) {
        long max = sysconf(_SC_OPEN_MAX);
        for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 4096); fd++)
            close(fd);
    }
}

/* Runs argv (argv[0] a full path) as the server's user in h->dir, stdin from
 * /dev/null, stdout and stderr appended to log. Its exit status, or -1. */
static int run_as(pg_harness *h, char *const argv[], const char *log)
{
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0)
        return -1;
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        close(out);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(126);
        close_from_3();
        if (h->drop && (setgroups(0, NULL) != 0 || setgid(h->gid) != 0 || setuid(h->uid) != 0))
            _exit(126);
        if (chdir(h->dir) != 0)
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    close(out);
    close(in);
    if (pid < 0)
        return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The watchdog: a shell in its own session, reading a pipe whose only writer
 * is this process (close-on-exec keeps it out of what we run). At EOF — we
 * ended, however — it stops the postmaster (SIGQUIT: immediate shutdown,
 * checking that the pid still is a server of this folder) and removes the
 * folder. pgh_stop kills it before doing the same itself. */
static int start_watchdog(pg_harness *h)
{
    static const char script[] =
        "cat >/dev/null\n"
        "pid=$(head -n 1 \"$1/data/postmaster.pid\" 2>/dev/null)\n"
        "if [ -n \"$pid\" ] && [ \"$(readlink \"/proc/$pid/cwd\")\" = \"$1/data\" ]; then\n"
        "  kill -QUIT \"$pid\" 2>/dev/null\n"
        "  i=0\n"
        "  while kill -0 \"$pid\" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\n"
        "fi\n"
        "rm -rf \"$1\"\n";
    char *const argv[] = {"/bin/sh", "-c", (char *)script, "pgharness-watchdog", h->dir, NULL};
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return fail(h, "cannot make a pipe: %s", strerror(errno));
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) {
        close(fds[0]);
        close(fds[1]);
        return fail(h, "cannot open /dev/null: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid == 0) {
        setsid(); /* out of reach of a kill of our process group */
        if (dup2(fds[0], 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
            _exit(126);
        close_from_3();
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[0]);
    close(null);
    if (pid < 0) {
        close(fds[1]);
        return fail(h, "cannot fork: %s", strerror(errno));
    }
    h->watchdog = pid;
    h->watch_fd = fds[1];
    return 0;
}

/* ---- files ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* The last bytes of a file, on one line per line, for an error message. */
static void tail(const char *path, char *out, size_t size)
{
    out[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    long want = (long)size - 1;
    if (fseek(f, 0, SEEK_END) == 0) {
        long end = ftell(f);
        fseek(f, end > want ? end - want : 0, SEEK_SET);
    }
    size_t n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    fclose(f);
    for (char *p = out; *p; p++)
        if (*p == '\n' && p[1])
            *p = '|';
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(s);
    return port;
}

static int write_config(pg_harness *h)
{
    char path[512];
    snprintf(path, sizeof path, "%s/data/postgresql.conf", h->dir);
    FILE *f = fopen(path, "a");
    if (!f)
        return fail(h, "cannot write %s: %s", path, strerror(errno));
    fprintf(f,
            "\n# pgharness: a throwaway test cluster (durability off on purpose)\n"
            "listen_addresses = '127.0.0.1'\n"
            "unix_socket_directories = '%s'\n"
            "max_connections = 200\n"
            "shared_buffers = 32MB\n"
            "fsync = off\n"
            "synchronous_commit = off\n"
            "full_page_writes = off\n"
            "logging_collector = off\n",
            h->dir);
    return fclose(f) == 0 ? 0 : fail(h, "cannot write %s: %s", path, strerror(errno));
}

/* ---- starting and stopping ---- */

static void conninfo(const pg_harness *h, const char *db, char *out, size_t size)
{
    snprintf(out, size, "host=127.0.0.1 port=%d user=%s dbname=%s connect_timeout=10", h->port,
             h->user, db);
}

/* Everything pgh_stop does, keeping h->error. */
static void stop(pg_harness *h)
{
    if (h->watchdog > 0) {
        kill(-h->watchdog, SIGKILL);
        kill(h->watchdog, SIGKILL);
        while (waitpid(h->watchdog, NULL, 0) < 0 && errno == EINTR)
            ;
        h->watchdog = 0;
    }
    if (h->watch_fd > 0) {
        close(h->watch_fd);
        h->watch_fd = -1;
    }
    if (h->running) {
        char pg_ctl[600], data[300], log[300];
        snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", h->bindir);
        snprintf(data, sizeof data, "%s/data", h->dir);
        snprintf(log, sizeof log, "%s/pg_ctl.log", h->dir);
        char *const argv[] = {pg_ctl,      "stop", "-D", data, "-m",
                              "immediate", "-w",   "-t", "30", NULL};
        if (run_as(h, argv, log) != 0)
            fprintf(stderr, "pgharness: pg_ctl stop failed for %s\n", data);
        h->running = 0;
    }
    if (h->dir[0]) {
        nftw(h->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        h->dir[0] = '\0';
    }
}

void pgh_stop(pg_harness *h)
{
    if (h)
        stop(h);
}

/* pg_ctl start on a fresh free port; 0, 1 when the port was taken, -1. */
static int start_server(pg_harness *h)
{
    char pg_ctl[600], data[300], log[300], ctl_log[300], opts[64];
    snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", h->bindir);
    snprintf(data, sizeof data, "%s/data", h->dir);
    snprintf(log, sizeof log, "%s/server.log", h->dir);
    snprintf(ctl_log, sizeof ctl_log, "%s/pg_ctl.log", h->dir);
    if ((h->port = free_port()) < 0)
        return fail(h, "cannot find a free TCP port on 127.0.0.1: %s", strerror(errno));
    snprintf(opts, sizeof opts, "-p %d", h->port);
    unlink(log); /* this attempt's log only; pg_ctl creates it as the server's user */
    char *const argv[] = {pg_ctl, "start", "-D", data, "-l", log,
                          "-w",   "-t",    "60", "-o", opts, NULL};
    int rc = run_as(h, argv, ctl_log);
    if (rc == 0) {
        h->running = 1;
        return 0;
    }
    char why[1200];
    tail(log, why, sizeof why);
    if (strstr(why, "could not bind") || strstr(why, "already in use"))
        return 1;
    /* pg_ctl -w may give up while the server still starts: make sure it does not */
    char *const sargv[] = {pg_ctl, "stop", "-D", data, "-m", "immediate", "-w", NULL};
    run_as(h, sargv, ctl_log);
    return fail(h, "PostgreSQL did not start (pg_ctl start exited with %d) in %s: %s", rc, h->dir,
                *why ? why : "(its log is empty)");
}

int pgh_start(pg_harness *h)
{
    memset(h, 0, sizeof *h);
    h->watch_fd = -1;
    if (find_bindir(h) < 0 || pick_user(h) < 0)
        return -1;
    snprintf(h->dir, sizeof h->dir, "/tmp/llmsvc-pg-XXXXXX");
    if (!mkdtemp(h->dir)) {
        int e = errno;
        h->dir[0] = '\0';
        return fail(h, "cannot create a folder in /tmp: %s", strerror(e));
    }
    if (h->drop && chown(h->dir, h->uid, h->gid) != 0) {
        int e = errno;
        stop(h);
        return fail(h, "cannot give the cluster's folder to %s: %s", h->user, strerror(e));
    }
    if (start_watchdog(h) < 0) {
        stop(h);
        return -1;
    }

    char initdb[600], data[300], log[300], user[96];
    snprintf(initdb, sizeof initdb, "%s/initdb", h->bindir);
    snprintf(data, sizeof data, "%s/data", h->dir);
    snprintf(log, sizeof log, "%s/initdb.log", h->dir);
    snprintf(user, sizeof user, "--username=%s", h->user);
    char *const iargv[] = {initdb,       "-D",           data,
                           user,         "--auth=trust", "--encoding=UTF8",
                           "--locale=C", "--no-sync",    "--no-instructions",
                           NULL};
    int rc = run_as(h, iargv, log);
    if (rc != 0) {
        char why[1200];
        tail(log, why, sizeof why);
        stop(h);
        return fail(h, "initdb (%s) failed with exit status %d: %s", initdb, rc, why);
    }
    if (write_config(h) < 0) {
        stop(h);
        return -1;
    }
    for (int attempt = 1;; attempt++) {
        rc = start_server(h);
        if (rc == 0)
            break;
        if (rc < 0 || attempt == START_ATTEMPTS) {
            if (rc > 0)
                fail(h, "PostgreSQL could not bind a free port %d times", attempt);
            char keep[sizeof h->error];
            memcpy(keep, h->error, sizeof keep);
            stop(h);
            memcpy(h->error, keep, sizeof keep);
            return -1;
        }
    }
    /* pg_ctl -w saw it ready; a ping proves it takes connections over TCP */
    char ci[256];
    conninfo(h, "postgres", ci, sizeof ci);
    PGPing ping = PQPING_NO_RESPONSE;
    for (int i = 0; i < 300 && (ping = PQping(ci)) != PQPING_OK; i++) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (ping != PQPING_OK) {
        stop(h);
        return fail(h, "PostgreSQL started but does not answer on 127.0.0.1:%d", h->port);
    }
    char url[sizeof h->url];
    if (pgh_create_db(h, "llmsvc_test", url, sizeof url) < 0) {
        char keep[sizeof h->error];
        memcpy(keep, h->error, sizeof keep);
        stop(h);
        memcpy(h->error, keep, sizeof keep);
        return -1;
    }
    snprintf(h->url, sizeof h->url, "%s", url);
    return 0;
}

int pgh_create_db(pg_harness *h, const char *name, char *url, size_t size)
{
    size_t len = strlen(name);
    if (!h->running || len == 0 || len > 48 ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
        return fail(h, "pgh_create_db: no cluster running, or a bad name '%s'", name);
    char ci[256], q[96];
    conninfo(h, "postgres", ci, sizeof ci);
    PGconn *c = PQconnectdb(ci);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        fail(h, "cannot connect to the cluster (%s): %s", ci, c ? PQerrorMessage(c) : "no memory");
        PQfinish(c);
        return -1;
    }
    snprintf(q, sizeof q, "CREATE DATABASE %s", name);
    PGresult *r = PQexec(c, q);
    int good = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!good)
        fail(h, "%s: %s", q, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    if (!good)
        return -1;
    snprintf(url, size, "postgresql://%s@127.0.0.1:%d/%s", h->user, h->port, name);
    return 0;
}
