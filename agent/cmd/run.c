/* SPDX-License-Identifier: Apache-2.0
 *
 * run.c - the command runner (cmd.h). gf_cmd_submit runs on the MQTT client's thread and only
 * decides: it decodes the request (req.c), answers a duplicate id from the record (seen.c),
 * resolves the name to a built-in (builtin.c) or an allowlist entry (allow.c) with checked
 * args, and either publishes a `rejected` result or hands the command to a worker thread in
 * one of max_running slots. The worker first makes the id durable in commands.seen, then
 * publishes `running`, runs the built-in's hook or the process (proc.h, bounded output, the
 * group killed at the deadline = receipt + min(timeout_ms, message expiry)), records the
 * final state and publishes the final result; for agent.restart it then calls the restart
 * hook. Slots are joinable threads: a finished one is joined when its slot is reused, and
 * gf_cmd_stop cancels and joins them all. One mutex guards the slots and the record; the
 * file write happens outside it (seen.c orders the snapshots).
 */
#define GF_LOG_MODULE "cmd"
#include "cmd_int.h"

#include "alloc.h"
#include "log.h"
#include "proc.h"
#include "timefmt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define ENV_ID "GATEFLEET_COMMAND_ID="

struct job {
    struct gf_cmd *c;
    int used; /* a thread was started for this slot and not joined yet */
    int done; /* that thread has finished (join it before reuse) */
    pthread_t thread;
    atomic_int cancel;
    char id[GF_CMD_ID_MAX + 1];
    char name[GF_CMD_NAME_MAX + 1];
    enum gf_cmd_kind kind;
    json_t *args;        /* owned */
    char **argv;         /* owned (gf_free), processes only */
    int64_t deadline_ms; /* monotonic */
    long limit_ms;
    int by_expiry; /* the message expiry, not timeout_ms, set the deadline */
};

struct gf_cmd {
    struct gf_cmd_hooks hooks;
    struct gf_cmd_allow *allow;
    struct gf_cmd_seen *seen;
    int allow_shell;
    size_t max_running, output_max;
    int64_t born_ms;
    pthread_mutex_t mu;
    int stopping;
    size_t running;
    struct job *jobs; /* max_running slots */
};

static int64_t mono_ms(void)
{
    return gf_time_mono_us() / 1000;
}

static void publish(struct gf_cmd *c, const char *id, const char *text, size_t len, int final)
{
    enum gf_err err;

    if (text == NULL) {
        gf_log_error("cannot encode a command result", "id=%s", id != NULL ? id : "-");
        return;
    }
    err = c->hooks.publish(c->hooks.ud, id, text, len, final);
    if (err != GF_OK) {
        gf_log_warn("cannot publish a command result", "id=%s err=\"%s\"", id != NULL ? id : "-",
                    gf_err_str(err));
    }
}

/* Write the record as it is now (the caller changed it under the lock). */
static enum gf_err save(struct gf_cmd *c)
{
    char *text = NULL;
    size_t len = 0;
    uint64_t gen = 0;
    enum gf_err err;

    pthread_mutex_lock(&c->mu);
    err = gf_cmd_seen_snapshot(c->seen, &text, &len, &gen);
    pthread_mutex_unlock(&c->mu);
    if (err == GF_OK) {
        err = gf_cmd_seen_write(c->seen, text, len, gen);
    }
    gf_free(text);
    return err;
}

/* Publish a rejection (recorded under id when there is one and it is new); returns why. */
static enum gf_err reject(struct gf_cmd *c, const char *id, const char *name, enum gf_err why,
                          const char *msg)
{
    struct gf_cmd_final f = {"rejected", -1, 0, NULL, 0, 1, 0, 0, msg, NULL};
    size_t len = 0;
    char *text = gf_cmd_result_final(id, &f, &len);
    int recorded = 0;

    gf_log_info("command rejected", "id=%s name=%s err=\"%s\"", id != NULL ? id : "-",
                name != NULL ? name : "-", gf_err_str(why));
    if (id != NULL) {
        pthread_mutex_lock(&c->mu);
        if (gf_cmd_seen_add(c->seen, id) == GF_OK) {
            gf_cmd_seen_finish(c->seen, id, GF_CMD_S_REJECTED, &f, text, len);
            recorded = 1;
        }
        pthread_mutex_unlock(&c->mu);
        if (recorded) {
            save(c);
        }
    }
    publish(c, id, text, len, 1);
    gf_free(text);
    return why;
}

/* 1 when id is known: a finished command's result is published again, a running one's
 * duplicate is dropped. */
static int duplicate(struct gf_cmd *c, const char *id)
{
    enum gf_cmd_state st;
    char *text = NULL;
    size_t len = 0;
    int known;

    pthread_mutex_lock(&c->mu);
    known = gf_cmd_seen_state(c->seen, id, &st);
    if (known && st != GF_CMD_S_RUNNING && gf_cmd_seen_replay(c->seen, id, &text, &len) != GF_OK) {
        text = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (!known) {
        return 0;
    }
    gf_log_info("duplicate command id", "id=%s state=%s", id,
                st == GF_CMD_S_RUNNING ? "running" : "finished");
    if (st != GF_CMD_S_RUNNING) {
        publish(c, id, text, len, 1);
    }
    gf_free(text);
    return 1;
}

/* ---- the worker ---- */

/* What a process run ended as: status into f, the sentence into error. */
static enum gf_cmd_state process_end(const struct job *j, const struct gf_proc_result *r,
                                     struct gf_cmd_final *f, char *error, size_t cap)
{
    char why[128] = "";

    f->exit_code = r->exited ? r->exit_code : -1;
    f->signal = r->signal;
    f->duration_ms = r->duration_ms;
    f->truncated = r->truncated;
    f->error = error;
    if (r->exec_errno != 0) {
        strerror_r(r->exec_errno, why, sizeof(why));
        snprintf(error, cap, "cannot execute %.200s: %s", j->argv[0], why);
        f->exit_code = -1;
        return GF_CMD_S_FAILED;
    }
    if (r->timed_out) {
        snprintf(error, cap, "timed out after %ld ms (%s); process group killed", j->limit_ms,
                 j->by_expiry ? "message expiry" : "timeout_ms");
        return GF_CMD_S_TIMED_OUT;
    }
    if (r->cancelled) {
        snprintf(error, cap, "agent stopping; process group killed");
        return GF_CMD_S_FAILED;
    }
    if (r->exited && r->exit_code == 0) {
        f->error = NULL;
        return GF_CMD_S_SUCCEEDED;
    }
    if (r->exited) {
        snprintf(error, cap, "exit status %d", r->exit_code);
    } else {
        snprintf(error, cap, "killed by signal %d", r->signal);
    }
    return GF_CMD_S_FAILED;
}

static enum gf_cmd_state run_process(struct job *j, char *out, struct gf_cmd_final *f, char *error,
                                     size_t cap)
{
    struct gf_cmd *c = j->c;
    char var[sizeof(ENV_ID) + GF_CMD_ID_MAX];
    char *env[] = {var, NULL};
    struct gf_proc_result r;
    long left = (long)(j->deadline_ms - mono_ms());
    enum gf_err err;

    snprintf(var, sizeof(var), ENV_ID "%s", j->id);
    f->error = error;
    if (left <= 0) {
        snprintf(error, cap, "timed out after %ld ms before it could start", j->limit_ms);
        return GF_CMD_S_TIMED_OUT;
    }
    err = gf_proc_run(j->argv, env, left, &j->cancel, out, c->output_max + 1, &r);
    if (err != GF_OK) {
        snprintf(error, cap, "cannot start %.200s: %s", j->argv[0], gf_err_str(err));
        return GF_CMD_S_FAILED;
    }
    f->output = out;
    f->output_len = r.out_len;
    return process_end(j, &r, f, error, cap);
}

static enum gf_cmd_state run_builtin(struct job *j, json_t **result, struct gf_cmd_final *f)
{
    struct gf_cmd *c = j->c;
    int64_t t0 = mono_ms();
    enum gf_err err = gf_cmd_builtin_call(j->kind, &c->hooks, j->args,
                                          (long long)((t0 - c->born_ms) / 1000), result);

    f->duration_ms = (long)(mono_ms() - t0);
    if (err != GF_OK) {
        f->error = gf_err_str(err);
        return GF_CMD_S_FAILED;
    }
    f->result = *result;
    return GF_CMD_S_SUCCEEDED;
}

static const char *status_word(enum gf_cmd_state st)
{
    switch (st) {
    case GF_CMD_S_SUCCEEDED:
        return "succeeded";
    case GF_CMD_S_TIMED_OUT:
        return "timed_out";
    case GF_CMD_S_REJECTED:
        return "rejected";
    default:
        return "failed";
    }
}

/* Record and publish the final result; for a succeeded agent.restart, then ask to restart. */
static void finish(struct job *j, enum gf_cmd_state st, struct gf_cmd_final *f)
{
    struct gf_cmd *c = j->c;
    size_t len = 0;
    char *text;

    f->status = status_word(st);
    f->output_max = c->output_max;
    text = gf_cmd_result_final(j->id, f, &len);
    if (text == NULL) { /* out of memory: try without output and result */
        f->output_len = 0;
        f->result = NULL;
        text = gf_cmd_result_final(j->id, f, &len);
    }
    pthread_mutex_lock(&c->mu);
    gf_cmd_seen_finish(c->seen, j->id, st, f, text, len);
    pthread_mutex_unlock(&c->mu);
    save(c);
    gf_log_info("command finished", "id=%s name=%s status=%s duration_ms=%ld", j->id, j->name,
                f->status, f->duration_ms);
    publish(c, j->id, text, len, 1);
    gf_free(text);
    if (j->kind == GF_CMD_AGENT_RESTART && st == GF_CMD_S_SUCCEEDED) {
        c->hooks.restart(c->hooks.ud);
    }
}

static void *worker(void *arg)
{
    struct job *j = arg;
    struct gf_cmd *c = j->c;
    struct gf_cmd_final f = {NULL, -1, 0, NULL, 0, 0, 0, 0, NULL, NULL};
    char error[sizeof(((struct gf_diag *)0)->msg) + 300];
    enum gf_cmd_state st;
    json_t *result = NULL;
    char *out = NULL;
    size_t len = 0;
    char *text;

    if (save(c) != GF_OK) { /* not durable: running it could run it twice */
        snprintf(error, sizeof(error), "cannot record the command id in state_dir; not run");
        f.error = error;
        st = GF_CMD_S_FAILED;
    } else {
        gf_log_info("command started", "id=%s name=%s limit_ms=%ld", j->id, j->name, j->limit_ms);
        text = gf_cmd_result_running(j->id, &len);
        publish(c, j->id, text, len, 0);
        gf_free(text);
        if (j->kind == GF_CMD_EXEC || j->kind == GF_CMD_SHELL) {
            out = gf_malloc(c->output_max + 1);
            if (out == NULL) {
                f.error = gf_err_str(GF_ERR_NOMEM);
                st = GF_CMD_S_FAILED;
            } else {
                st = run_process(j, out, &f, error, sizeof(error));
            }
        } else {
            st = run_builtin(j, &result, &f);
        }
    }
    finish(j, st, &f);
    json_decref(result);
    gf_free(out);
    pthread_mutex_lock(&c->mu);
    json_decref(j->args);
    j->args = NULL;
    gf_free(j->argv);
    j->argv = NULL;
    c->running--;
    j->done = 1;
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* ---- submit ---- */

/* A free slot, joining a finished thread first. Call with the lock held, running < max. */
static struct job *free_slot(struct gf_cmd *c)
{
    for (size_t i = 0; i < c->max_running; i++) {
        struct job *j = &c->jobs[i];
        if (j->used && j->done) {
            pthread_join(j->thread, NULL);
            j->used = 0;
        }
        if (!j->used) {
            return j;
        }
    }
    return NULL;
}

/* Hand the checked request to a worker. Takes ownership of *argv. */
static enum gf_err start(struct gf_cmd *c, const struct gf_cmd_req *req, enum gf_cmd_kind kind,
                         char **argv, int64_t now, long limit_ms, int by_expiry)
{
    struct job *j = NULL;
    char msg[96];
    enum gf_err err = GF_OK;

    pthread_mutex_lock(&c->mu);
    if (c->stopping) {
        err = GF_ERR_UNAVAILABLE;
    } else if (gf_cmd_seen_state(c->seen, req->id, &(enum gf_cmd_state){0})) {
        err = GF_ERR_EXISTS; /* the same id was submitted meanwhile */
    } else if (c->running >= c->max_running || (j = free_slot(c)) == NULL) {
        err = GF_ERR_RATELIMIT;
    } else if ((err = gf_cmd_seen_add(c->seen, req->id)) == GF_OK) {
        j->c = c;
        j->done = 0;
        atomic_store(&j->cancel, 0);
        snprintf(j->id, sizeof(j->id), "%s", req->id);
        snprintf(j->name, sizeof(j->name), "%s", req->name);
        j->kind = kind;
        j->args = json_incref(req->args);
        j->argv = argv;
        argv = NULL;
        j->deadline_ms = now + limit_ms;
        j->limit_ms = limit_ms;
        j->by_expiry = by_expiry;
        c->running++;
        j->used = 1;
        if (pthread_create(&j->thread, NULL, worker, j) != 0) {
            c->running--;
            j->used = 0;
            json_decref(j->args);
            j->args = NULL;
            argv = j->argv;
            j->argv = NULL;
            gf_cmd_seen_forget(c->seen, req->id); /* the rejection below records it */
            err = GF_ERR_IO;
        }
    }
    snprintf(msg, sizeof(msg), "busy: %zu commands running", c->running);
    pthread_mutex_unlock(&c->mu);
    gf_free(argv);
    switch (err) {
    case GF_OK:
    case GF_ERR_EXISTS:
        return GF_OK;
    case GF_ERR_RATELIMIT:
        return reject(c, req->id, req->name, err, msg);
    case GF_ERR_IO:
        return reject(c, req->id, req->name, err, "cannot start a worker thread");
    default:
        return err;
    }
}

/* The argv (processes) or nothing (other built-ins) for a decoded request. */
static enum gf_err resolve(struct gf_cmd *c, const struct gf_cmd_req *req, enum gf_cmd_kind *kind,
                           char ***argv, struct gf_diag *d)
{
    *kind = gf_cmd_builtin_find(req->name);
    if (*kind == GF_CMD_EXEC) {
        return gf_cmd_allow_argv(c->allow, req->name, req->args, argv, d);
    }
    if (!gf_cmd_builtin_available(*kind, &c->hooks, c->allow_shell)) {
        return gf_diag_set(d, GF_ERR_NOTFOUND, "/name", "unknown command %s", req->name);
    }
    return gf_cmd_builtin_check(*kind, req->args, argv, d);
}

enum gf_err gf_cmd_submit(struct gf_cmd *c, const void *payload, size_t len, long expiry_ms)
{
    struct gf_cmd_req req = {"", "", NULL, 0};
    int64_t now = mono_ms();
    enum gf_cmd_kind kind;
    char **argv = NULL;
    struct gf_diag d;
    long limit;
    int stopping;
    enum gf_err err;

    gf_diag_clear(&d);
    pthread_mutex_lock(&c->mu);
    stopping = c->stopping;
    pthread_mutex_unlock(&c->mu);
    if (stopping) {
        return GF_ERR_UNAVAILABLE;
    }
    err = gf_cmd_req_parse(payload, len, &req, &d);
    if (req.id[0] != '\0' && duplicate(c, req.id)) {
        err = GF_OK;
        goto out;
    }
    if (err != GF_OK) {
        err = reject(c, req.id[0] != '\0' ? req.id : NULL, NULL, err, d.msg);
        goto out;
    }
    err = resolve(c, &req, &kind, &argv, &d);
    if (err != GF_OK) {
        err = reject(c, req.id, req.name, err, d.msg);
        goto out;
    }
    if (expiry_ms == 0) {
        gf_free(argv);
        err = reject(c, req.id, req.name, GF_ERR_TIMEOUT, "the request expired before it started");
        goto out;
    }
    limit = expiry_ms > 0 && expiry_ms < req.timeout_ms ? expiry_ms : req.timeout_ms;
    err = start(c, &req, kind, argv, now, limit, limit != req.timeout_ms);
out:
    gf_cmd_req_clear(&req);
    return err;
}

/* ---- life cycle ---- */

static enum gf_err check_opts(const struct gf_cmd_opts *o, const struct gf_cmd_hooks *h,
                              struct gf_diag *diag)
{
    if (h == NULL || h->publish == NULL) {
        return gf_diag_set(diag, GF_ERR_INVAL, "hooks", "a publish hook is required");
    }
    if (o->max_running < 1 || o->max_running > GF_CMD_RUNNING_MAX) {
        return gf_diag_set(diag, GF_ERR_INVAL, "commands_max_running", "must be 1..%d",
                           GF_CMD_RUNNING_MAX);
    }
    if (o->output_max < GF_CMD_OUTPUT_MIN || o->output_max > GF_CMD_OUTPUT_MAX) {
        return gf_diag_set(diag, GF_ERR_INVAL, "commands_output_max", "must be %d..%d",
                           GF_CMD_OUTPUT_MIN, GF_CMD_OUTPUT_MAX);
    }
    return GF_OK;
}

enum gf_err gf_cmd_new(const struct gf_cmd_opts *opts, const struct gf_cmd_hooks *hooks,
                       struct gf_cmd **out, struct gf_diag *diag)
{
    struct gf_cmd *c = NULL;
    enum gf_err err = check_opts(opts, hooks, diag);

    if (err != GF_OK) {
        return err;
    }
    c = gf_calloc(1, sizeof(*c));
    if (c == NULL || (c->jobs = gf_calloc((size_t)opts->max_running, sizeof(*c->jobs))) == NULL) {
        gf_free(c);
        return GF_ERR_NOMEM;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->hooks = *hooks;
    c->allow_shell = opts->allow_shell != 0;
    c->max_running = (size_t)opts->max_running;
    c->output_max = (size_t)opts->output_max;
    c->born_ms = mono_ms();
    err = gf_cmd_allow_load(opts->allow_file, &c->allow, diag);
    if (err == GF_OK) {
        err = gf_cmd_seen_open(opts->state_dir, &c->seen, diag);
    }
    if (err != GF_OK) {
        gf_cmd_free(c);
        return err;
    }
    if (gf_cmd_seen_interrupted(c->seen) > 0) {
        save(c); /* write `interrupted` down once; a failure here is retried with the next */
    }
    if (c->allow_shell) {
        gf_log_warn("the shell command is enabled", "commands_allow_shell=true");
    }
    *out = c;
    return GF_OK;
}

size_t gf_cmd_running(struct gf_cmd *c)
{
    size_t n;

    pthread_mutex_lock(&c->mu);
    n = c->running;
    pthread_mutex_unlock(&c->mu);
    return n;
}

void gf_cmd_stop(struct gf_cmd *c)
{
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    for (size_t i = 0; i < c->max_running; i++) {
        atomic_store(&c->jobs[i].cancel, 1);
    }
    pthread_mutex_unlock(&c->mu);
    /* no slot is taken once stopping is set: the used flags are ours to read now */
    for (size_t i = 0; i < c->max_running; i++) {
        struct job *j = &c->jobs[i];
        if (j->used) {
            pthread_join(j->thread, NULL);
            j->used = 0;
        }
    }
}

void gf_cmd_free(struct gf_cmd *c)
{
    if (c == NULL) {
        return;
    }
    if (c->jobs != NULL) {
        gf_cmd_stop(c);
    }
    gf_cmd_seen_free(c->seen);
    gf_cmd_allow_free(c->allow);
    pthread_mutex_destroy(&c->mu);
    gf_free(c->jobs);
    gf_free(c);
}
