/* llmsvc worker — runs jobs from a store on a thread pool until SIGTERM. */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage_text[] =
    "usage: llmsvc worker [--store URL] [--concurrency N] [--lease SECONDS]\n"
    "                     [--poll SECONDS] [--drain SECONDS]\n"
    "\n"
    "Claims jobs from the store and runs them, N at a time, until SIGTERM or\n"
    "SIGINT. Provider keys and base URLs come from this process's environment,\n"
    "never from the store. Every attempt writes a call record.\n"
    "\n"
    "  --store URL          sqlite:PATH or postgres://...; default $LLMSVC_STORE,\n"
    "                       else sqlite:~/.local/share/llmsvc/llmsvc.db\n"
    "  --concurrency N      jobs at once (default 4)\n"
    "  --lease SECONDS      a job whose worker stops renewing runs again elsewhere\n"
    "                       after this long (default 30; renewed every third of it)\n"
    "  --poll SECONDS       longest idle wait (default 1 for SQLite, 5 for PostgreSQL,\n"
    "                       which wakes workers at once with LISTEN/NOTIFY)\n"
    "  --drain SECONDS      on SIGTERM, how long running jobs may take to finish;\n"
    "                       the rest go back to the queue (default 30)\n" CLI_COMMON_HELP
    "\n"
    "SIGHUP reloads the specs: running jobs finish on the old ones, new jobs use the\n"
    "new ones; an edit with a problem is refused (file:line:col on stderr) and the\n"
    "old specs stay.\n"
    "\n"
    "A worker killed outright (SIGKILL) loses nothing: its jobs run again once\n"
    "their lease passes.\n";

static int seconds(const char *cmd, const char *opt, const char *arg, double min, double *out)
{
    if (cli_number(arg, out) < 0 || *out < min || *out > 86400)
        return cli_usage(cmd, "%s takes seconds (at least %g), not '%s'", opt, min, arg);
    return EXIT_OK;
}

int cmd_worker(int argc, char **argv)
{
    enum { O_STORE = OPT_FIRST_FREE, O_CONC, O_LEASE, O_POLL, O_DRAIN };
    static const struct option longopts[] = {{"store", required_argument, NULL, O_STORE},
                                             {"concurrency", required_argument, NULL, O_CONC},
                                             {"lease", required_argument, NULL, O_LEASE},
                                             {"poll", required_argument, NULL, O_POLL},
                                             {"drain", required_argument, NULL, O_DRAIN},
                                             CLI_COMMON_LONGOPTS,
                                             {NULL, 0, NULL, 0}};
    cli_common c = {0};
    const char *store = NULL;
    long concurrency = 4;
    double lease = 30, poll = 0, drain = 30;
    int opt, rc;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
        if (cli_common_opt(&c, opt, optarg))
            continue;
        switch (opt) {
        case O_STORE:
            store = optarg;
            break;
        case O_CONC:
            if (cli_int(optarg, &concurrency) < 0 || concurrency < 1 || concurrency > 1024)
                return cli_usage("worker", "--concurrency takes a whole number from 1 to 1024");
            break;
        case O_LEASE:
            if ((rc = seconds("worker", "--lease", optarg, 0.3, &lease)) != EXIT_OK)
                return rc;
            break;
        case O_POLL:
            if ((rc = seconds("worker", "--poll", optarg, 0.001, &poll)) != EXIT_OK)
                return rc;
            break;
        case O_DRAIN:
            if ((rc = seconds("worker", "--drain", optarg, 0, &drain)) != EXIT_OK)
                return rc;
            break;
        default:
            return cli_usage("worker", "unknown or incomplete option");
        }
    }
    if (optind < argc)
        return cli_usage("worker", "unexpected argument '%s'", argv[optind]);

    /* signals are taken by sigwait below, never by a worker thread */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    llmsvc_runtime *rt = NULL;
    llmsvc_store *st = NULL;
    llmsvc_worker *w = NULL;
    if ((rc = cli_open(&c, &rt)) != EXIT_OK || (rc = cli_open_store(&c, store, &st)) != EXIT_OK)
        goto out;
    llmsvc_worker_options o = LLMSVC_WORKER_OPTIONS_INIT;
    o.concurrency = (int)concurrency;
    o.lease_ms = (long)(lease * 1000);
    o.poll_ms = (long)(poll * 1000);
    llmsvc_error *err = NULL;
    if (llmsvc_worker_start(&w, rt, st, &o, &err) != LLMSVC_OK) {
        rc = cli_fail(&c, err);
        llmsvc_error_free(err);
        goto out;
    }
    if (!c.quiet)
        fprintf(stderr, "llmsvc worker %d: %ld threads, lease %gs; stop with SIGTERM\n",
                (int)getpid(), concurrency, lease);
    int sig;
    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            break;
        /* reload the specs: running jobs finish on the old ones; a bad edit
         * changes nothing and is reported with file:line:col */
        llmsvc_error *rerr = NULL;
        if (llmsvc_runtime_reload_specs(rt, &rerr) == LLMSVC_OK)
            fprintf(stderr, "llmsvc worker %d: SIGHUP: specs reloaded\n", (int)getpid());
        else
            fprintf(stderr, "llmsvc worker %d: SIGHUP: specs NOT reloaded, the old ones stay:\n%s\n",
                    (int)getpid(), llmsvc_error_message(rerr));
        llmsvc_error_free(rerr);
    }
    int released = llmsvc_worker_drain(w, (long)(drain * 1000));
    long ok, failed, requeued;
    llmsvc_worker_counts(w, &ok, &failed, &requeued);
    if (!c.quiet)
        fprintf(stderr,
                "llmsvc worker %d: %s: %ld succeeded, %ld failed, %ld retried later, %d released "
                "back to the queue\n",
                (int)getpid(), strsignal(sig), ok, failed, requeued, released);
    if (released) {
        /* calls still run in threads that cannot be interrupted safely: their
         * jobs are back in the queue, so leave now */
        fflush(NULL);
        _exit(EXIT_OK);
    }
    llmsvc_worker_stop(w, 0);
    rc = EXIT_OK;
out:
    llmsvc_store_close(st);
    llmsvc_runtime_close(rt);
    return rc;
}
