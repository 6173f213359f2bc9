/* SPDX-License-Identifier: Apache-2.0
 *
 * actions.c - the local action map (actions.h): parsing the `name = /abs/command args` file
 * into fixed argv vectors, and running one action as a child process. The child gets its own
 * process group, stdin from /dev/null, stdout and stderr on one pipe, the parent's environment
 * plus GATEFLEET_BUNDLE_DIR (the vector is built before fork, so the child only calls
 * async-signal-safe functions before execve), and default signal dispositions. The parent
 * reads the pipe with poll() in short slices, keeping the first GF_ACTIONS_OUTPUT bytes and
 * draining the rest, and checks the child with waitpid(WNOHANG) so a background grandchild
 * holding the pipe open cannot stall it. At the deadline the whole group gets SIGTERM, then
 * SIGKILL 2 s later if any member is left, and the child is always reaped.
 */
#define GF_LOG_MODULE "actions"
#include "actions.h"

#include "alloc.h"
#include "buf.h"
#include "file.h"
#include "gf_limits.h"
#include "log.h"
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define SLICE_MS 50          /* poll / waitpid granularity */
#define KILL_GRACE_MS 2000   /* SIGTERM -> SIGKILL */
#define CLOSE_FDS_MAX 65536L /* child closes descriptors 3 .. min(OPEN_MAX, this) */
#define ENV_NAME "GATEFLEET_BUNDLE_DIR="

struct action {
    char name[GF_MANIFEST_ACTION_MAX + 1];
    char *line; /* owned: the command, blanks replaced by NULs; argv points into it */
    char *argv[GF_ACTIONS_ARGV + 1];
};

struct gf_actions {
    size_t n;
    struct action a[GF_ACTIONS_MAX];
};

/* ---- loading ---- */

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n > GF_MANIFEST_ACTION_MAX ||
        !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9'))) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._:-", c) != NULL)) {
            return 0;
        }
    }
    return 1;
}

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

static const struct action *find(const struct gf_actions *a, const char *name)
{
    for (size_t i = 0; a != NULL && i < a->n; i++) {
        if (strcmp(a->a[i].name, name) == 0) {
            return &a->a[i];
        }
    }
    return NULL;
}

/* Split cmd (owned by act) on blanks into act->argv. Returns an error sentence or NULL. */
static const char *split(struct action *act)
{
    size_t argc = 0;
    char *p = act->line;

    while (*p != '\0') {
        while (blank(*p)) {
            *p++ = '\0';
        }
        if (*p == '\0') {
            break;
        }
        if (argc == GF_ACTIONS_ARGV) {
            return "too many arguments";
        }
        act->argv[argc++] = p;
        while (*p != '\0' && !blank(*p)) {
            p++;
        }
    }
    act->argv[argc] = NULL;
    if (argc == 0) {
        return "empty command";
    }
    return act->argv[0][0] == '/' ? NULL : "the command must start with an absolute path";
}

/* One line s[0..n) (no newline). where is "file:line". */
static enum gf_err parse_line(struct gf_actions *map, const char *s, size_t n, const char *where,
                              struct gf_diag *diag)
{
    const char *eq, *name, *cmd, *why;
    size_t nlen, clen;
    struct action *act;

    while (n > 0 && (blank(s[n - 1]) || s[n - 1] == '\r')) {
        n--;
    }
    while (n > 0 && blank(*s)) {
        s++;
        n--;
    }
    if (n == 0 || s[0] == '#') {
        return GF_OK;
    }
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f) {
            return gf_diag_set(diag, GF_ERR_CONFIG, where, "control character in line");
        }
    }
    eq = memchr(s, '=', n);
    if (eq == NULL) {
        return gf_diag_set(diag, GF_ERR_CONFIG, where, "expected: name = /path/to/command args");
    }
    name = s;
    for (nlen = (size_t)(eq - s); nlen > 0 && blank(name[nlen - 1]); nlen--) {
    }
    for (cmd = eq + 1; cmd < s + n && blank(*cmd); cmd++) {
    }
    clen = (size_t)(s + n - cmd);
    if (!name_ok(name, nlen)) {
        return gf_diag_set(diag, GF_ERR_CONFIG, where,
                           "bad action name (1-%u characters of a-z 0-9 . _ : -)",
                           GF_MANIFEST_ACTION_MAX);
    }
    if (map->n == GF_ACTIONS_MAX) {
        return gf_diag_set(diag, GF_ERR_CONFIG, where, "more than %d actions", GF_ACTIONS_MAX);
    }
    act = &map->a[map->n];
    memcpy(act->name, name, nlen);
    act->name[nlen] = '\0';
    if (find(map, act->name) != NULL) {
        return gf_diag_set(diag, GF_ERR_CONFIG, where, "action %s defined twice", act->name);
    }
    act->line = gf_malloc(clen + 1);
    if (act->line == NULL) {
        return GF_ERR_NOMEM;
    }
    memcpy(act->line, cmd, clen);
    act->line[clen] = '\0';
    map->n++; /* owned by the map from here, freed with it */
    why = split(act);
    if (why != NULL) {
        return gf_diag_set(diag, GF_ERR_CONFIG, where, "%s (at most %d arguments, no shell)", why,
                           GF_ACTIONS_ARGV);
    }
    return GF_OK;
}

static enum gf_err parse(struct gf_actions *map, const char *path, const struct gf_buf *b,
                         struct gf_diag *diag)
{
    const char *p = b->data != NULL ? b->data : "";
    const char *end = p + b->len;
    char where[128];
    unsigned line = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        enum gf_err err;
        line++;
        snprintf(where, sizeof(where), "%.100s:%u", path, line);
        if (n > GF_LIMIT_CONFIG_LINE) {
            return gf_diag_set(diag, GF_ERR_CONFIG, where, "line longer than %u bytes",
                               GF_LIMIT_CONFIG_LINE);
        }
        if (memchr(p, '\0', n) != NULL) {
            return gf_diag_set(diag, GF_ERR_CONFIG, where, "NUL byte in line");
        }
        err = parse_line(map, p, n, where, diag);
        if (err != GF_OK) {
            return err;
        }
        p += n + 1;
    }
    return GF_OK;
}

enum gf_err gf_actions_load(const char *path, struct gf_actions **out, struct gf_diag *diag)
{
    struct gf_actions *map = gf_calloc(1, sizeof(*map));
    struct gf_buf b;
    enum gf_err err = GF_OK;

    gf_buf_init(&b, GF_LIMIT_CONFIG_FILE);
    if (map == NULL) {
        return GF_ERR_NOMEM;
    }
    if (path != NULL && path[0] != '\0') {
        err = gf_file_read(path, &b);
        if (err == GF_ERR_NOTFOUND) {
            err = gf_diag_set(diag, err, "actions_file", "%s does not exist", path);
        } else if (err == GF_ERR_TOOBIG) {
            err = gf_diag_set(diag, GF_ERR_CONFIG, "actions_file", "%s is larger than %u bytes",
                              path, GF_LIMIT_CONFIG_FILE);
        } else if (err != GF_OK) {
            err = gf_diag_set(diag, err, "actions_file", "cannot read %s", path);
        } else {
            err = parse(map, path, &b, diag);
        }
    }
    gf_buf_free(&b);
    if (err != GF_OK) {
        gf_actions_free(map);
        return err;
    }
    *out = map;
    return GF_OK;
}

void gf_actions_free(struct gf_actions *a)
{
    if (a == NULL) {
        return;
    }
    for (size_t i = 0; i < a->n; i++) {
        gf_free(a->a[i].line);
    }
    gf_free(a);
}

int gf_actions_has(const struct gf_actions *a, const char *name)
{
    return find(a, name) != NULL;
}

/* ---- running ---- */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
    }
    return 0;
}

/* SIGTERM to the group, SIGKILL after the grace period if any member is left; reaps pid. */
static void kill_group(pid_t pid, int rfd, struct sink *s)
{
    int64_t until = now_ms() + KILL_GRACE_MS;
    int reaped = 0, alive = 1, st;

    kill(-pid, SIGTERM);
    while (now_ms() < until) {
        if (!reaped && waitpid(pid, &st, WNOHANG) != 0) {
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
    while (!reaped && waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
}

/* Collect output and wait for pid until deadline. */
static enum gf_action_outcome wait_child(pid_t pid, int rfd, int64_t deadline, struct sink *s)
{
    int eof = 0, st = 0;

    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            kill_group(pid, rfd, s);
            return GF_ACTION_TIMEOUT;
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
            return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? GF_ACTION_OK : GF_ACTION_FAILED;
        }
        if (r < 0 && errno != EINTR) {
            return GF_ACTION_FAILED; /* ECHILD: SIGCHLD ignored, status lost */
        }
    }
}

/* In the child: only async-signal-safe calls. */
static void child_exec(const struct action *act, char *const envp[], int wfd, int devnull,
                       long maxfd)
{
    static const int sigs[] = {SIGPIPE, SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGXFSZ};
    sigset_t none;

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
        close((int)fd);
    }
    execve(act->argv[0], act->argv, envp);
    _exit(127);
}

/* environ plus GATEFLEET_BUNDLE_DIR=dir (replacing any). Caller frees with gf_free. */
static char **make_env(char *var)
{
    size_t n = 0, k = 0;
    char **envp;

    while (environ != NULL && environ[n] != NULL) {
        n++;
    }
    envp = gf_calloc(n + 2, sizeof(*envp));
    if (envp == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], ENV_NAME, strlen(ENV_NAME)) != 0) {
            envp[k++] = environ[i];
        }
    }
    envp[k] = var;
    return envp;
}

static const char *outcome_word(enum gf_action_outcome oc)
{
    static const char *const words[] = {"ok", "failed", "timeout", "unknown"};

    return words[oc];
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

enum gf_action_outcome gf_actions_run(const struct gf_actions *a, const char *name,
                                      const char *bundle_dir, long timeout_ms, char *out,
                                      size_t cap)
{
    const struct action *act = find(a, name);
    char var[PATH_MAX + sizeof(ENV_NAME)];
    struct sink s = {out, 0, 0};
    char **envp = NULL;
    int p[2] = {-1, -1}, devnull = -1;
    long maxfd = sysconf(_SC_OPEN_MAX);
    enum gf_action_outcome oc = GF_ACTION_FAILED;
    int64_t deadline = now_ms() + timeout_ms;
    pid_t pid;

    if (out != NULL && cap > 0) {
        out[0] = '\0';
        s.keep = cap - 1 < GF_ACTIONS_OUTPUT ? cap - 1 : GF_ACTIONS_OUTPUT;
    }
    if (act == NULL) {
        return GF_ACTION_UNKNOWN;
    }
    if (timeout_ms <= 0) {
        return GF_ACTION_TIMEOUT;
    }
    if (maxfd < 0 || maxfd > CLOSE_FDS_MAX) {
        maxfd = CLOSE_FDS_MAX;
    }
    if (snprintf(var, sizeof(var), ENV_NAME "%s", bundle_dir != NULL ? bundle_dir : "") >=
            (int)sizeof(var) ||
        (envp = make_env(var)) == NULL || pipe(p) != 0 || fcntl(p[0], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(p[1], F_SETFD, FD_CLOEXEC) != 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) != 0 ||
        (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        gf_log_error("cannot prepare an action", "action=%s errno=%d", name, errno);
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        gf_log_error("cannot fork an action", "action=%s errno=%d", name, errno);
        goto out;
    }
    if (pid == 0) {
        child_exec(act, envp, p[1], devnull, maxfd);
    }
    setpgid(pid, pid); /* also done by the child: the group exists before any kill */
    close_fd(&p[1]);
    gf_log_info("running action", "action=%s pid=%ld timeout_ms=%ld", name, (long)pid, timeout_ms);
    oc = wait_child(pid, p[0], deadline, &s);
    gf_log_info("action finished", "action=%s outcome=%s", name, outcome_word(oc));
out:
    close_fd(&devnull);
    close_fd(&p[0]);
    close_fd(&p[1]);
    gf_free(envp);
    return oc;
}
