/*
 * daemon.c - daemonize (fork, setsid, chdir /, stdio to /dev/null), the
 * pidfile, and the signal thread: SIGINT/SIGTERM stop the daemon, SIGHUP
 * reopens the log file, SIGUSR2 asks every stage to reload its maps.  The
 * signals are blocked in every thread (the mask is set before any thread
 * is created and inherited) and taken with sigwait by one thread.
 *
 * Shared between threads: the signal thread only calls pmd_request_stop,
 * pmd_request_reload and log_reopen, which are thread-safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pmd.h"

int pmd_daemonize(void)
{
    pid_t pid = fork();
    int fd;
    if (pid < 0)
        return -errno;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -errno;
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0)
        _exit(0);
    if (chdir("/") < 0)
        return -errno;
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    return 0;
}

int pmd_write_pidfile(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) != 0)
        return -errno;
    return 0;
}

void pmd_remove_pidfile(const char *path)
{
    if (path)
        unlink(path);
}

static pthread_t sig_th;
static int sig_started;
static sigset_t sig_set;

static void *sig_main(void *arg)
{
    struct pmd *d = arg;
    for (;;) {
        int sig = 0;
        if (sigwait(&sig_set, &sig) != 0)
            continue;
        switch (sig) {
        case SIGINT:
        case SIGTERM:
            log_core(PM_LOG_NOTICE, "%s received: shutting down",
                     sig == SIGINT ? "SIGINT" : "SIGTERM");
            pmd_request_stop(d);
            break;
        case SIGHUP:
            log_reopen();
            log_core(PM_LOG_INFO, "SIGHUP: log file reopened");
            break;
        case SIGUSR2:
            log_core(PM_LOG_INFO, "SIGUSR2: reloading maps");
            pmd_request_reload(d);
            break;
        case SIGUSR1: /* reserved (pmacct: statistics); ignored */
            break;
        default:
            break;
        }
    }
    return NULL;
}

int pmd_signals_start(struct pmd *d)
{
    int rc;
    sigemptyset(&sig_set);
    sigaddset(&sig_set, SIGINT);
    sigaddset(&sig_set, SIGTERM);
    sigaddset(&sig_set, SIGHUP);
    sigaddset(&sig_set, SIGUSR1);
    sigaddset(&sig_set, SIGUSR2);
    signal(SIGPIPE, SIG_IGN);
    if ((rc = pthread_sigmask(SIG_BLOCK, &sig_set, NULL)) != 0)
        return -rc;
    if ((rc = pthread_create(&sig_th, NULL, sig_main, d)) != 0)
        return -rc;
    sig_started = 1;
    return 0;
}

void pmd_signals_stop(void)
{
    if (!sig_started)
        return;
    pthread_cancel(sig_th);
    pthread_join(sig_th, NULL);
    sig_started = 0;
}
