/* SPDX-License-Identifier: Apache-2.0
 *
 * apply.c - installing a verified bundle atomically (apply.h, docs/internals/
 * agent-bundles.md). gf_apply checks the manifest's action names against the local map,
 * stages the tree (apply_fs.c), then walks the journal through its steps: staged ->
 * switching (current renamed onto the new tree) -> actions -> health -> commit
 * (installed.json, journal removed, old versions pruned). After the switch every failure
 * rolls back to the committed tree and reruns its actions. From the switch on, everything
 * reads the journal rather than the manifest, so apply_recover.c can finish the same steps
 * after a crash with gf_apply_finish, gf_apply_commit and gf_apply_rollback below.
 */
#define GF_LOG_MODULE "bundle"
#include "apply_int.h"

#include "actions.h"
#include "file.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HEALTH_RETRY_MS 1000
#define PREV_ACTIONS_TIMEOUT_S 60 /* rerun of a committed bundle that recorded no timeout */
#define LOG_OUTPUT_CHARS 200      /* action output quoted in a log line */

int64_t gf_apply_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gf_apply_set_reason(struct gf_apply_ctx *c, const char *reason)
{
    snprintf(c->reason, sizeof(c->reason), "%s", reason);
}

void gf_apply_fault_point(const char *point)
{
    const char *want = getenv("GF_AGENT_FAULT_AT");

    if (want != NULL && strcmp(want, point) == 0) {
        gf_log_warn("fault injection: exiting", "point=%s", point);
        _exit(99);
    }
}

static void progress(const struct gf_apply_ctx *c, const char *step)
{
    if (c->o->progress != NULL) {
        c->o->progress(c->o->progress_arg, step);
    }
}

static const char *base_of(const char *dir)
{
    return dir[0] == '\0' ? "" : dir + strlen(GF_APPLY_VERSIONS);
}

enum gf_err gf_apply_open(struct gf_apply_ctx *c, const struct gf_apply_opts *o)
{
    memset(c, 0, sizeof(*c));
    c->o = o;
    c->bfd = -1;
    c->vfd = -1;
    if (gf_file_mkdirs(o->bundles_dir, 0755) != GF_OK ||
        (c->bfd = open(o->bundles_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        (mkdirat(c->bfd, "versions", 0755) != 0 && errno != EEXIST) ||
        (c->vfd = openat(c->bfd, "versions", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
            0) {
        gf_log_error("cannot open the bundles directory", "dir=%s errno=%d", o->bundles_dir, errno);
        return GF_ERR_IO;
    }
    return gf_apply_record_load(o->bundles_dir, &c->rec);
}

void gf_apply_close(struct gf_apply_ctx *c)
{
    if (c->vfd >= 0) {
        close(c->vfd);
    }
    if (c->bfd >= 0) {
        close(c->bfd);
    }
    c->vfd = c->bfd = -1;
}

/* ---- actions and health check ---- */

/* Run one action or check with the time left; logs a failure with its first output. */
static enum gf_action_outcome run_one(const struct gf_apply_ctx *c, const char *name,
                                      const char *dir, int64_t deadline_ms)
{
    char absdir[PATH_MAX], out[LOG_OUTPUT_CHARS + 1], quoted[2 * LOG_OUTPUT_CHARS + 8];
    int64_t left = deadline_ms - gf_apply_now_ms();
    enum gf_action_outcome oc;

    if (left <= 0) {
        return GF_ACTION_TIMEOUT;
    }
    if (snprintf(absdir, sizeof(absdir), "%s/%s", c->o->bundles_dir, dir) >= (int)sizeof(absdir)) {
        return GF_ACTION_FAILED;
    }
    oc = gf_actions_run(c->o->actions, name, absdir, (long)left, out, sizeof(out));
    if (oc != GF_ACTION_OK) {
        quoted[0] = '\0';
        gf_log_quote(quoted, sizeof(quoted), out);
        gf_log_warn("action did not succeed", "action=%s outcome=%s output=%s", name,
                    oc == GF_ACTION_TIMEOUT   ? "timeout"
                    : oc == GF_ACTION_UNKNOWN ? "unknown"
                                              : "failed",
                    quoted);
    }
    return oc;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Health check until it passes or the deadline: NULL when it passed, else the reason. */
static const char *run_health(const struct gf_apply_ctx *c, int64_t deadline_ms)
{
    const char *check = c->j.acts.health_check;

    if (check[0] == '\0') {
        return NULL;
    }
    for (;;) {
        switch (run_one(c, check, c->j.dir, deadline_ms)) {
        case GF_ACTION_OK:
            return NULL;
        case GF_ACTION_TIMEOUT:
            return "health_timeout";
        case GF_ACTION_UNKNOWN:
            return "health_failed";
        case GF_ACTION_FAILED:
            break;
        }
        int64_t left = deadline_ms - gf_apply_now_ms();
        if (left <= 0) {
            return "health_timeout";
        }
        sleep_ms(left < HEALTH_RETRY_MS ? left : HEALTH_RETRY_MS);
    }
}

/* The actions then the health check of the journal: NULL on success, else the reason. */
static const char *run_phase(struct gf_apply_ctx *c, int64_t deadline_ms)
{
    static const char *const reasons[] = {
        [GF_ACTION_FAILED] = "action_failed",
        [GF_ACTION_TIMEOUT] = "action_timeout",
        [GF_ACTION_UNKNOWN] = "unknown_action",
    };

    snprintf(c->j.step, sizeof(c->j.step), "actions");
    if (gf_apply_journal_save(c->o->bundles_dir, &c->j) != GF_OK) {
        return "io";
    }
    progress(c, "actions");
    for (size_t i = 0; i < c->j.acts.n; i++) {
        enum gf_action_outcome oc = run_one(c, c->j.acts.names[i], c->j.dir, deadline_ms);
        if (oc != GF_ACTION_OK) {
            return reasons[oc];
        }
    }
    gf_apply_fault_point("actions");
    snprintf(c->j.step, sizeof(c->j.step), "health");
    if (gf_apply_journal_save(c->o->bundles_dir, &c->j) != GF_OK) {
        return "io";
    }
    progress(c, "health");
    const char *why = run_health(c, deadline_ms);
    if (why == NULL) {
        gf_apply_fault_point("health");
    }
    return why;
}

/* The committed bundle's actions again, after a rollback put its tree back. */
void gf_apply_rerun_committed(const struct gf_apply_ctx *c)
{
    const struct gf_apply_acts *a = &c->rec.acts;
    int timeout_s = a->health_timeout_s > 0 ? a->health_timeout_s : PREV_ACTIONS_TIMEOUT_S;
    int64_t deadline = gf_apply_now_ms() + (int64_t)timeout_s * 1000;

    for (size_t i = 0; c->rec.in.dir[0] != '\0' && i < a->n; i++) {
        if (run_one(c, a->names[i], c->rec.in.dir, deadline) != GF_ACTION_OK) {
            gf_log_error("action of the restored bundle failed", "bundle=%s action=%s",
                         c->rec.in.name, a->names[i]);
        }
    }
}

/* ---- commit and rollback ---- */

enum gf_err gf_apply_commit(struct gf_apply_ctx *c)
{
    struct gf_apply_record r = c->rec;
    enum gf_err err;

    gf_apply_record_commit(&r, &c->j);
    err = gf_apply_record_save(c->o->bundles_dir, &r);
    if (err != GF_OK) {
        gf_log_error("cannot write installed.json", "err=%s", gf_err_str(err));
        return err;
    }
    c->rec = r;
    gf_apply_fault_point("committing");
    err = gf_apply_journal_remove(c->bfd);
    if (err != GF_OK) {
        return err;
    }
    gf_apply_prune(c->vfd, base_of(c->j.dir), base_of(c->j.prev_dir));
    gf_log_info("bundle applied", "bundle=%s version=%llu sha256=%s id=%s", c->j.name,
                (unsigned long long)c->j.version, c->j.sha256, c->j.bundle_id);
    return GF_OK;
}

enum gf_err gf_apply_rollback(struct gf_apply_ctx *c, const char *why)
{
    struct gf_apply_record r = c->rec;
    char reason[GF_APPLY_REASON_MAX];
    enum gf_err err;

    snprintf(reason, sizeof(reason), "%s", why); /* why may be c->j.reason */
    gf_apply_set_reason(c, reason);
    gf_log_warn("rolling back", "bundle=%s version=%llu reason=%s to=%s", c->j.name,
                (unsigned long long)c->j.version, reason,
                c->rec.in.dir[0] != '\0' ? c->rec.in.dir : "(nothing)");
    snprintf(c->j.step, sizeof(c->j.step), "rolling_back");
    snprintf(c->j.reason, sizeof(c->j.reason), "%s", reason);
    if (gf_apply_journal_save(c->o->bundles_dir, &c->j) != GF_OK) {
        gf_log_error("cannot write the journal before the rollback", "bundle=%s", c->j.name);
    }
    err = gf_apply_link(c->bfd, c->rec.in.dir);
    if (err != GF_OK) {
        return err;
    }
    gf_apply_rerun_committed(c);
    snprintf(r.in.failed_sha256, sizeof(r.in.failed_sha256), "%s", c->j.sha256);
    err = gf_apply_record_save(c->o->bundles_dir, &r);
    if (err != GF_OK) {
        return err;
    }
    c->rec = r;
    err = gf_apply_journal_remove(c->bfd);
    if (err != GF_OK) {
        return err;
    }
    if (strcmp(c->j.dir, c->rec.in.dir) != 0) {
        gf_apply_rmtree(c->vfd, base_of(c->j.dir));
        fsync(c->vfd);
    }
    gf_log_warn("bundle rolled back", "bundle=%s version=%llu reason=%s", c->j.name,
                (unsigned long long)c->j.version, reason);
    return GF_OK;
}

enum gf_err gf_apply_finish(struct gf_apply_ctx *c, int64_t deadline_ms,
                            enum gf_apply_result *result)
{
    const char *why = run_phase(c, deadline_ms);
    enum gf_err err;

    if (why == NULL) {
        err = gf_apply_commit(c);
        if (err == GF_OK) {
            gf_apply_set_reason(c, "");
            *result = GF_APPLY_APPLIED;
        }
        return err;
    }
    err = gf_apply_rollback(c, why);
    if (err == GF_OK) {
        *result = GF_APPLY_ROLLED_BACK;
    }
    return err;
}

/* ---- gf_apply ---- */

static int manifest_ok(const struct gf_manifest *m, const char *bundle_id)
{
    return m->name[0] != '\0' && strchr(m->name, '/') == NULL && m->version >= 1 &&
           strlen(m->sha256) == 64 && strspn(m->sha256, "0123456789abcdef") == 64 &&
           strlen(bundle_id) < sizeof(((struct gf_installed *)0)->bundle_id) &&
           m->nactions <= GF_MANIFEST_MAX_ACTIONS && (m->nfiles == 0 || m->files != NULL) &&
           m->health_timeout_s >= 1 && m->health_timeout_s <= GF_MANIFEST_HEALTH_TIMEOUT_MAX;
}

/* The action names of m not in the local map: NULL when all are known. */
static const char *unknown_action(const struct gf_actions *a, const struct gf_manifest *m)
{
    for (size_t i = 0; i < m->nactions; i++) {
        if (!gf_actions_has(a, m->actions[i])) {
            return m->actions[i];
        }
    }
    if (m->health_check[0] != '\0' && !gf_actions_has(a, m->health_check)) {
        return m->health_check;
    }
    return NULL;
}

static enum gf_err journal_from(struct gf_apply_ctx *c, const struct gf_manifest *m,
                                const char *bundle_id)
{
    struct gf_apply_journal *j = &c->j;

    memset(j, 0, sizeof(*j));
    snprintf(j->step, sizeof(j->step), "staged");
    snprintf(j->name, sizeof(j->name), "%s", m->name);
    j->version = m->version;
    snprintf(j->sha256, sizeof(j->sha256), "%s", m->sha256);
    snprintf(j->bundle_id, sizeof(j->bundle_id), "%s", bundle_id);
    if (snprintf(j->dir, sizeof(j->dir), GF_APPLY_VERSIONS "%s-%llu-%.8s", m->name,
                 (unsigned long long)m->version, m->sha256) >= (int)sizeof(j->dir) ||
        !gf_apply_dir_ok(j->dir)) {
        return GF_ERR_INVAL;
    }
    snprintf(j->prev_dir, sizeof(j->prev_dir), "%s", c->rec.in.dir);
    j->created_us = m->created_us;
    for (size_t i = 0; i < m->nactions; i++) {
        snprintf(j->acts.names[i], sizeof(j->acts.names[i]), "%s", m->actions[i]);
    }
    j->acts.n = m->nactions;
    snprintf(j->acts.health_check, sizeof(j->acts.health_check), "%s", m->health_check);
    j->acts.health_timeout_s = m->health_timeout_s;
    return GF_OK;
}

/* Refusals before anything is written; *decided stays 0 when m may go ahead. */
static enum gf_err refuse(struct gf_apply_ctx *c, const struct gf_manifest *m,
                          enum gf_apply_result *res, int *decided)
{
    const char *bad;

    if (strcmp(c->rec.in.sha256, m->sha256) == 0) {
        gf_apply_set_reason(c, "already_installed");
        *res = GF_APPLY_APPLIED;
        *decided = 1;
    } else if (strcmp(c->rec.in.failed_sha256, m->sha256) == 0) {
        gf_apply_set_reason(c, "failed_before");
        *res = GF_APPLY_FAILED;
        *decided = 1;
    } else if ((bad = unknown_action(c->o->actions, m)) != NULL) {
        gf_log_warn("bundle names an action not in the local map", "bundle=%s action=%s", m->name,
                    bad);
        gf_apply_set_reason(c, "unknown_action");
        *res = GF_APPLY_FAILED;
        *decided = 1;
        snprintf(c->rec.in.failed_sha256, sizeof(c->rec.in.failed_sha256), "%s", m->sha256);
        return gf_apply_record_save(c->o->bundles_dir, &c->rec);
    } else if (strcmp(c->j.dir, c->rec.in.dir) == 0) {
        gf_apply_set_reason(c, "conflict"); /* same name, version and sha8 as installed */
        *res = GF_APPLY_FAILED;
        *decided = 1;
    }
    return GF_OK;
}

/* Staging through the switch. GF_OK with *switched = 1 once current names the new tree. */
static enum gf_err stage_and_switch(struct gf_apply_ctx *c, const struct gf_manifest *m,
                                    int *switched)
{
    char cur[GF_APPLY_DIR_MAX];
    const char *name = base_of(c->j.dir);

    progress(c, "applying");
    if (gf_apply_stage(c->vfd, c->o->blobs_dir, m, name, c->reason, sizeof(c->reason)) != GF_OK) {
        return GF_OK;
    }
    if (gf_apply_journal_save(c->o->bundles_dir, &c->j) != GF_OK) {
        goto undo;
    }
    gf_apply_fault_point("staged");
    progress(c, "switching");
    snprintf(c->j.step, sizeof(c->j.step), "switching");
    c->j.attempts = 1;
    if (gf_apply_journal_save(c->o->bundles_dir, &c->j) != GF_OK) {
        goto undo;
    }
    gf_apply_fault_point("switching");
    if (gf_apply_link(c->bfd, c->j.dir) != GF_OK &&
        (gf_apply_link_read(c->bfd, cur, sizeof(cur)) != GF_OK || strcmp(cur, c->j.dir) != 0)) {
        goto undo;
    }
    gf_apply_fault_point("switched");
    *switched = 1;
    return GF_OK;
undo:
    gf_apply_set_reason(c, "io");
    if (gf_apply_journal_remove(c->bfd) != GF_OK) {
        return GF_ERR_IO; /* the journal stays: recovery removes the tree */
    }
    gf_apply_rmtree(c->vfd, name);
    return GF_OK;
}

enum gf_err gf_apply(const struct gf_apply_opts *o, const struct gf_manifest *m,
                     const char *bundle_id, enum gf_apply_result *result, char *reason,
                     size_t reason_cap)
{
    struct gf_apply_ctx c;
    struct gf_apply_journal pending;
    enum gf_apply_result res = GF_APPLY_FAILED;
    int switched = 0, decided = 0;
    enum gf_err err;

    if (o == NULL || o->bundles_dir == NULL || o->blobs_dir == NULL || m == NULL ||
        bundle_id == NULL || result == NULL || !manifest_ok(m, bundle_id)) {
        return GF_ERR_INVAL;
    }
    err = gf_apply_open(&c, o);
    if (err != GF_OK) {
        goto out;
    }
    err = gf_apply_journal_load(o->bundles_dir, &pending);
    if (err != GF_ERR_NOTFOUND) {
        err = err == GF_OK || err == GF_ERR_PARSE ? GF_ERR_CONFLICT : err; /* recover first */
        goto out;
    }
    err = journal_from(&c, m, bundle_id);
    if (err == GF_OK) {
        err = refuse(&c, m, &res, &decided);
    }
    if (err != GF_OK || decided) {
        goto out;
    }
    gf_log_info("applying bundle", "bundle=%s version=%llu sha256=%s id=%s", m->name,
                (unsigned long long)m->version, m->sha256, bundle_id);
    err = stage_and_switch(&c, m, &switched);
    if (err != GF_OK || !switched) {
        res = GF_APPLY_FAILED;
        goto out;
    }
    err = gf_apply_finish(&c, gf_apply_now_ms() + (int64_t)m->health_timeout_s * 1000, &res);
out:
    gf_apply_close(&c);
    if (err == GF_OK) {
        *result = res;
        if (reason != NULL && reason_cap > 0) {
            snprintf(reason, reason_cap, "%s", c.reason);
        }
    }
    return err;
}
