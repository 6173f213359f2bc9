/* SPDX-License-Identifier: Apache-2.0
 *
 * journal.c - the journalctl child of a journal log stream (logs_int.h).
 *
 * `journalctl -u UNIT -n N -o cat --no-pager [-f]` is started with posix_spawn (no fork of a
 * threaded agent, no shell) in its own process group, stdin from /dev/null, stdout and
 * stderr on two pipes whose read ends are non-blocking and close-on-exec. Its stdout is the
 * stream's source; the first bytes of its stderr are kept for the end reason. The unit name
 * was checked against log_units and a strict character set before (allow.c), and the past
 * line count is a number we format, so nothing of the request reaches the child unchecked.
 * The pipe is simply left unread while the stream waits (broker down, rate limit): then
 * journalctl blocks in write(2) and the journal on disk is the buffer. When the stream ends
 * the group gets SIGTERM, and SIGKILL one second later if the child is still there; the
 * child is always reaped (without blocking the streams thread, except in _close).
 */
#include "logs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define KILL_GRACE_MS 1000

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
    }
    *fd = -1;
}

static int cloexec(int fd, int nonblock)
{
    int fl = fcntl(fd, F_GETFD);

    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) != 0) {
        return -1;
    }
    if (nonblock) {
        fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
            return -1;
        }
    }
    return 0;
}

static int make_pipe(int p[2])
{
    if (pipe(p) != 0) {
        p[0] = p[1] = -1;
        return -1;
    }
    return cloexec(p[0], 1) == 0 && cloexec(p[1], 0) == 0 ? 0 : -1;
}

/* Spawn with the prepared attributes; returns posix_spawn's error number. */
static int spawn(pid_t *pid, const char *prog, char *const argv[], int out_w, int err_w)
{
    static const int sigs[] = {SIGPIPE, SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, def;
    int rc;

    sigemptyset(&none);
    sigemptyset(&def);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sigaddset(&def, sigs[i]);
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        return ENOMEM;
    }
    if (posix_spawnattr_init(&at) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return ENOMEM;
    }
    rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    rc = rc != 0 ? rc : posix_spawn_file_actions_adddup2(&fa, out_w, 1);
    rc = rc != 0 ? rc : posix_spawn_file_actions_adddup2(&fa, err_w, 2);
    rc = rc != 0 ? rc
                 : posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                     POSIX_SPAWN_SETSIGDEF);
    rc = rc != 0 ? rc : posix_spawnattr_setpgroup(&at, 0);
    rc = rc != 0 ? rc : posix_spawnattr_setsigmask(&at, &none);
    rc = rc != 0 ? rc : posix_spawnattr_setsigdefault(&at, &def);
    if (rc == 0) {
        rc = strchr(prog, '/') != NULL ? posix_spawn(pid, prog, &fa, &at, argv, environ)
                                       : posix_spawnp(pid, prog, &fa, &at, argv, environ);
    }
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

enum gf_err gf_logs_journal_spawn(struct gf_logs_journal *j, const char *prog, const char *unit,
                                  long past, int follow, struct gf_diag *diag)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    char n[24];
    char *argv[10];
    size_t k = 0;
    enum gf_err ret = GF_OK;
    int rc;

    memset(j, 0, sizeof(*j));
    j->pid = -1;
    j->out_fd = j->err_fd = -1;
    prog = prog != NULL && prog[0] != '\0' ? prog : "journalctl";
    snprintf(n, sizeof(n), "%ld", past);
    argv[k++] = (char *)prog;
    argv[k++] = (char *)"-u";
    argv[k++] = (char *)unit;
    argv[k++] = (char *)"-n";
    argv[k++] = n;
    argv[k++] = (char *)"-o";
    argv[k++] = (char *)"cat";
    argv[k++] = (char *)"--no-pager";
    if (follow) {
        argv[k++] = (char *)"-f";
    }
    argv[k] = NULL;
    if (make_pipe(out) != 0 || make_pipe(err) != 0) {
        ret = gf_diag_set(diag, GF_ERR_IO, "/unit", "pipe: %s", strerror(errno));
        goto out;
    }
    rc = spawn(&j->pid, prog, argv, out[1], err[1]);
    if (rc != 0) {
        j->pid = -1;
        ret = gf_diag_set(diag, rc == ENOMEM ? GF_ERR_NOMEM : GF_ERR_NOTFOUND, "/unit",
                          "cannot start %.100s: %s", prog, strerror(rc));
        goto out;
    }
    j->out_fd = out[0];
    j->err_fd = err[0];
    out[0] = err[0] = -1;
out:
    close_fd(&out[0]);
    close_fd(&out[1]);
    close_fd(&err[0]);
    close_fd(&err[1]);
    return ret;
}

/* Keep the first bytes of stderr (up to the first newline), drain the rest. */
static void drain_err(struct gf_logs_journal *j)
{
    char buf[512];

    for (int i = 0; j->err_fd >= 0 && i < 16; i++) {
        ssize_t r = read(j->err_fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            if (r == 0 || errno != EAGAIN) {
                close_fd(&j->err_fd);
            }
            return;
        }
        for (ssize_t x = 0; x < r && !j->err_line && j->errlen + 1 < sizeof(j->errbuf); x++) {
            j->err_line = buf[x] == '\n';
            if (!j->err_line) {
                j->errbuf[j->errlen++] = buf[x];
            }
        }
    }
}

static void reason(const struct gf_logs_journal *j, char *why, size_t whycap)
{
    int el = (int)j->errlen;

    if (WIFEXITED(j->status) && WEXITSTATUS(j->status) == 0) {
        snprintf(why, whycap, "done");
    } else if (WIFEXITED(j->status)) {
        snprintf(why, whycap, "error: journalctl exited with status %d%s%.*s",
                 WEXITSTATUS(j->status), el > 0 ? ": " : "", el, j->errbuf);
    } else {
        snprintf(why, whycap, "error: journalctl killed by signal %d",
                 WIFSIGNALED(j->status) ? WTERMSIG(j->status) : 0);
    }
}

ssize_t gf_logs_journal_read(struct gf_logs_journal *j, char *dst, size_t cap, char *why,
                             size_t whycap)
{
    drain_err(j);
    if (j->out_fd >= 0) {
        ssize_t r = read(j->out_fd, dst, cap);
        if (r > 0) {
            return r;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            return 0;
        }
        close_fd(&j->out_fd); /* end of output (or a broken pipe) */
    }
    if (!j->reaped) {
        pid_t w = waitpid(j->pid, &j->status, WNOHANG);
        if (w == 0) {
            return 0;
        }
        if (w < 0) {
            j->status = 0; /* ECHILD: SIGCHLD ignored by the agent, status lost */
        }
        j->reaped = 1;
        drain_err(j);
    }
    reason(j, why, whycap);
    return GF_LOGS_SRC_END;
}

int gf_logs_journal_reap(struct gf_logs_journal *j, int64_t now)
{
    pid_t w;

    if (j->pid < 0 || j->reaped) {
        gf_logs_journal_close(j);
        return 1;
    }
    if (j->kill_at == 0) {
        kill(-j->pid, SIGTERM);
        j->kill_at = now + KILL_GRACE_MS;
    } else if (now >= j->kill_at) {
        kill(-j->pid, SIGKILL);
        j->kill_at = INT64_MAX;
    }
    w = waitpid(j->pid, &j->status, WNOHANG);
    if (w == j->pid || (w < 0 && errno == ECHILD)) {
        j->reaped = 1;
        gf_logs_journal_close(j);
        return 1;
    }
    return 0;
}

void gf_logs_journal_close(struct gf_logs_journal *j)
{
    if (j->pid > 0 && !j->reaped) {
        kill(-j->pid, SIGKILL);
        while (waitpid(j->pid, &j->status, 0) < 0 && errno == EINTR) {
        }
        j->reaped = 1;
    }
    close_fd(&j->out_fd);
    close_fd(&j->err_fd);
}
