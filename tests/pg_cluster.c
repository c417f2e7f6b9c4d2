/* pg_cluster — a throwaway PostgreSQL server for scripts (the CLI's crash
 * tests, benchmarks): starts one with tests/pgharness.h, prints its URL
 *
 *   postgresql://USER@127.0.0.1:PORT/llmsvc_test
 *
 * as the only line on stdout, and runs until SIGTERM, SIGINT or SIGHUP, or
 * until its stdin closes when stdin is a pipe, a socket or a terminal (a
 * background job's /dev/null does not count). Then it stops the server and
 * removes its folder; if pg_cluster itself is killed, the harness's watchdog
 * does that. Messages go to stderr. Exit status 0, or 1 when the server could
 * not start (the reason on stderr).
 *
 *   coproc PG { build/bin/pg_cluster; }; read -r url <&"${PG[0]}"
 *   ... LLMSVC_STORE=$url ...; kill "$PG_PID"; wait "$PG_PID"
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgharness.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* Whether stdin closing is a request to stop: a pipe, a socket or a tty. */
static int watch_stdin(void)
{
    struct stat st;
    if (fstat(0, &st) != 0)
        return 0;
    return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(0);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr,
                "usage: %s\n(starts a throwaway PostgreSQL, prints its URL, stops it on "
                "SIGTERM or when stdin closes)\n",
                argv[0]);
        return strcmp(argv[1], "--help") && strcmp(argv[1], "-h") ? 2 : 0;
    }
    /* signals blocked except inside ppoll: none slips between check and wait */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &old);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    pg_harness h;
    if (pgh_start(&h) != 0)
        return 1; /* the reason is on stderr */
    printf("%s\n", h.url);
    fflush(stdout);

    int watch = watch_stdin();
    while (!stopping) {
        struct pollfd p = {watch ? 0 : -1, POLLIN, 0};
        int n = ppoll(&p, 1, NULL, &old);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
            char buf[256];
            ssize_t got = read(0, buf, sizeof buf);
            if (got <= 0 && !(got < 0 && errno == EINTR))
                break; /* closed */
        }
    }
    pgh_stop(&h);
    return 0;
}
