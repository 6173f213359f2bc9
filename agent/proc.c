/* SPDX-License-Identifier: Apache-2.0
 *
 * proc.c - the bounded child-process runner (proc.h), factored out of the bundle action map.
 * Everything the child needs (environment vector, descriptors) is built before fork, so the
 * child only calls async-signal-safe functions before execve. A third pipe, close-on-exec,
 * tells the parent whether execve failed (the child writes its errno there) or succeeded
 * (the pipe closes). The parent reads the output pipe with poll() in short slices, keeping
 * the first cap - 1 bytes and draining the rest, and checks the child with waitpid(WNOHANG),
 * so a background grandchild holding the pipe open cannot stall it. At the deadline, or on
 * cancel, the whole group gets SIGTERM, then SIGKILL after the grace period if any member is
 * left, and the child is always reaped.
 */
#define GF_LOG_MODULE "proc"
#include "proc.h"

#include "alloc.h"
#include "log.h"
#include "timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define SLICE_MS 50          /* poll / waitpid / cancel granularity */
#define CLOSE_FDS_MAX 65536L /* child closes descriptors 3 .. min(OPEN_MAX, this) */

static int64_t now_ms(void)
{
    return gf_time_mono_us() / 1000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The output being collected: out[0..kept) of keep bytes at most. */
struct sink {
    char *out;
    size_t kept, keep;
    int truncated;
};

/* Read what rfd has now (non-blocking); returns 1 at end of file. Bounded per call. */
static int drain(int rfd, struct sink *s)
{
    char buf[4096];

    for (int i = 0; i < 64; i++) {
        ssize_t n = read(rfd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n == 0 || errno != EAGAIN;
        }
        size_t take = (size_t)n < s->keep - s->kept ? (size_t)n : s->keep - s->kept;
        if (take > 0) {
            memcpy(s->out + s->kept, buf, take);
            s->kept += take;
            s->out[s->kept] = '\0';
        }
        if (take < (size_t)n) {
            s->truncated = 1;
        }
    }
    return 0;
}

/* SIGTERM to the group, SIGKILL after the grace period if any member is left; reaps pid into
 * *st (left as it was when the status could not be had). */
static void kill_group(pid_t pid, int rfd, struct sink *s, int *st)
{
    int64_t until = now_ms() + GF_PROC_KILL_GRACE_MS;
    int reaped = 0, alive = 1;

    kill(-pid, SIGTERM);
    while (now_ms() < until) {
        if (!reaped && waitpid(pid, st, WNOHANG) != 0) {
            reaped = 1; /* pid, or -1 (ECHILD): nothing left to reap */
        }
        if (reaped && kill(-pid, 0) != 0) {
            alive = 0;
            break;
        }
        drain(rfd, s);
        sleep_ms(SLICE_MS / 2);
    }
    if (alive) {
        kill(-pid, SIGKILL);
    }
    while (!reaped && waitpid(pid, st, 0) < 0 && errno == EINTR) {
    }
}

static int cancelled(const atomic_int *cancel)
{
    return cancel != NULL && atomic_load(cancel) != 0;
}

/* Collect output and wait for pid until deadline or cancel; fills the ending into res. */
static void wait_child(pid_t pid, int rfd, int64_t deadline, const atomic_int *cancel,
                       struct sink *s, struct gf_proc_result *res)
{
    int eof = 0, st = -1;

    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0 || cancelled(cancel)) {
            res->timed_out = left <= 0;
            res->cancelled = !res->timed_out;
            kill_group(pid, rfd, s, &st);
            break;
        }
        int slice = left < SLICE_MS ? (int)left : SLICE_MS;
        if (!eof) {
            struct pollfd pfd = {rfd, POLLIN, 0};
            if (poll(&pfd, 1, slice) > 0) {
                eof = drain(rfd, s);
            }
        } else {
            sleep_ms(slice);
        }
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            drain(rfd, s); /* what is left in the pipe; a grandchild may still hold it */
            break;
        }
        if (r < 0 && errno != EINTR) {
            st = -1; /* ECHILD: SIGCHLD ignored, status lost */
            break;
        }
    }
    if (st != -1 && WIFEXITED(st)) {
        res->exited = 1;
        res->exit_code = WEXITSTATUS(st);
    } else if (st != -1 && WIFSIGNALED(st)) {
        res->signal = WTERMSIG(st);
    }
}

/* In the child: only async-signal-safe calls. errfd reports an execve failure. */
static void child_exec(char *const argv[], char *const envp[], int wfd, int devnull, int errfd,
                       long maxfd)
{
    static const int sigs[] = {SIGPIPE, SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGXFSZ};
    sigset_t none;
    int e;

    setpgid(0, 0);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        signal(sigs[i], SIG_DFL);
    }
    if (dup2(devnull, 0) < 0 || dup2(wfd, 1) < 0 || dup2(wfd, 2) < 0) {
        _exit(126);
    }
    for (long fd = 3; fd < maxfd; fd++) {
        if (fd != errfd) {
            close((int)fd);
        }
    }
    execve(argv[0], argv, envp);
    e = errno;
    if (write(errfd, &e, sizeof(e)) < 0) {
        _exit(127);
    }
    _exit(127);
}

static size_t name_len(const char *var)
{
    const char *eq = strchr(var, '=');

    return eq != NULL ? (size_t)(eq - var) : 0;
}

/* environ without the names in add, then add. Caller frees with gf_free. */
static char **make_env(char *const add[], size_t nadd)
{
    size_t n = 0, k = 0;
    char **envp;

    while (environ != NULL && environ[n] != NULL) {
        n++;
    }
    envp = gf_calloc(n + nadd + 1, sizeof(*envp));
    if (envp == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        int replaced = 0;
        for (size_t j = 0; j < nadd && !replaced; j++) {
            size_t len = name_len(add[j]);
            replaced = strncmp(environ[i], add[j], len + 1) == 0;
        }
        if (!replaced) {
            envp[k++] = environ[i];
        }
    }
    for (size_t j = 0; j < nadd; j++) {
        envp[k++] = add[j];
    }
    return envp;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static int cloexec_pipe(int p[2])
{
    return pipe(p) == 0 && fcntl(p[0], F_SETFD, FD_CLOEXEC) == 0 &&
                   fcntl(p[1], F_SETFD, FD_CLOEXEC) == 0
               ? 0
               : -1;
}

/* Wait for the child's execve: 0 when it happened, else the child's errno. */
static int exec_result(int efd)
{
    int e = 0;
    ssize_t n;

    while ((n = read(efd, &e, sizeof(e))) < 0 && errno == EINTR) {
    }
    return n == (ssize_t)sizeof(e) ? (e != 0 ? e : EIO) : 0;
}

static enum gf_err check_args(char *const argv[], char *const env_add[], long timeout_ms,
                              size_t *nadd)
{
    size_t n = 0;

    if (argv == NULL || argv[0] == NULL || argv[0][0] != '/' || timeout_ms <= 0) {
        return GF_ERR_INVAL;
    }
    while (env_add != NULL && env_add[n] != NULL) {
        if (n == GF_PROC_ENV_ADD_MAX || name_len(env_add[n]) == 0) {
            return GF_ERR_INVAL;
        }
        n++;
    }
    *nadd = n;
    return GF_OK;
}

enum gf_err gf_proc_run(char *const argv[], char *const env_add[], long timeout_ms,
                        const atomic_int *cancel, char *out, size_t cap, struct gf_proc_result *res)
{
    struct gf_proc_result r = {0, -1, 0, 0, 0, 0, 0, 0, 0};
    struct sink s = {out, 0, 0, 0};
    char **envp = NULL;
    int p[2] = {-1, -1}, e[2] = {-1, -1}, devnull = -1;
    long maxfd = sysconf(_SC_OPEN_MAX);
    int64_t t0 = now_ms();
    size_t nadd = 0;
    enum gf_err err;
    pid_t pid;

    if (out != NULL && cap > 0) {
        out[0] = '\0';
        s.keep = cap - 1;
    }
    err = check_args(argv, env_add, timeout_ms, &nadd);
    if (err != GF_OK) {
        return err;
    }
    if (maxfd < 0 || maxfd > CLOSE_FDS_MAX) {
        maxfd = CLOSE_FDS_MAX;
    }
    envp = make_env(env_add, nadd);
    if (envp == NULL) {
        return GF_ERR_NOMEM;
    }
    err = GF_ERR_IO;
    if (cloexec_pipe(p) != 0 || cloexec_pipe(e) != 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) != 0 ||
        (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        gf_log_error("cannot prepare a child process", "path=%s errno=%d", argv[0], errno);
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        gf_log_error("cannot fork", "path=%s errno=%d", argv[0], errno);
        goto out;
    }
    if (pid == 0) {
        child_exec(argv, envp, p[1], devnull, e[1], maxfd);
    }
    setpgid(pid, pid); /* also done by the child: the group exists before any kill */
    close_fd(&p[1]);
    close_fd(&e[1]);
    r.exec_errno = exec_result(e[0]);
    gf_log_debug("child started", "path=%s pid=%ld timeout_ms=%ld", argv[0], (long)pid, timeout_ms);
    wait_child(pid, p[0], t0 + timeout_ms, cancel, &s, &r);
    r.truncated = s.truncated;
    r.out_len = s.kept;
    r.duration_ms = (long)(now_ms() - t0);
    *res = r;
    err = GF_OK;
out:
    close_fd(&devnull);
    close_fd(&e[0]);
    close_fd(&e[1]);
    close_fd(&p[0]);
    close_fd(&p[1]);
    gf_free(envp);
    return err;
}
