/* SPDX-License-Identifier: Apache-2.0
 *
 * apply_recover.c - finishing or undoing a bundle apply after a crash or power cut
 * (gf_apply_recover in apply.h; the table of cases is in docs/internals/agent-bundles.md).
 * The journal names the step that was reached; installed.json is what is committed; the
 * `current` symlink says whether the switch happened. From those three, recovery either
 * finishes a commit that got as far as installed.json, finishes a rollback, resumes the
 * actions and health check on the new tree (bounded by GF_APPLY_MAX_ATTEMPTS, so a bundle
 * whose actions crash the box is rolled back in the end), or removes a tree that was never
 * switched to. An unreadable journal is not trusted at all: current goes back to
 * installed.json's dir. Every path leaves exactly the old or the new configuration.
 */
#define GF_LOG_MODULE "bundle"
#include "apply_int.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *base_of(const char *dir)
{
    return dir[0] == '\0' ? "" : dir + strlen(GF_APPLY_VERSIONS);
}

/* installed.json already names the journal's bundle: crash between the two writes of the
 * commit. Make sure current agrees, then drop the journal and prune. */
static enum gf_err finish_commit(struct gf_apply_ctx *c, const char *cur)
{
    enum gf_err err = GF_OK;

    if (strcmp(cur, c->rec.in.dir) != 0) {
        err = gf_apply_link(c->bfd, c->rec.in.dir);
    }
    if (err == GF_OK) {
        err = gf_apply_journal_remove(c->bfd);
    }
    if (err == GF_OK) {
        gf_apply_prune(c->vfd, base_of(c->j.dir), base_of(c->j.prev_dir));
        gf_log_info("recovery: commit finished", "bundle=%s version=%llu", c->j.name,
                    (unsigned long long)c->j.version);
    }
    return err;
}

/* Interrupted before the switch: the staged tree goes, current stays. */
static enum gf_err undo_staged(struct gf_apply_ctx *c)
{
    enum gf_err err = gf_apply_journal_remove(c->bfd);

    if (err == GF_OK && strcmp(c->j.dir, c->rec.in.dir) != 0) {
        gf_apply_rmtree(c->vfd, base_of(c->j.dir));
        fsync(c->vfd);
    }
    gf_log_info("recovery: apply interrupted before the switch, old configuration kept",
                "bundle=%s version=%llu", c->j.name, (unsigned long long)c->j.version);
    return err;
}

static int tree_present(int vfd, const char *name)
{
    struct stat st;

    return fstatat(vfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* At or after the switch: run the actions and the health check again, or give up. */
static enum gf_err resume(struct gf_apply_ctx *c, const char *cur, enum gf_apply_result *res)
{
    enum gf_err err;

    if (c->j.attempts > GF_APPLY_MAX_ATTEMPTS) {
        err = gf_apply_rollback(c, "too_many_attempts");
    } else if (!tree_present(c->vfd, base_of(c->j.dir))) {
        err = gf_apply_rollback(c, "io");
    } else {
        c->j.attempts++;
        gf_log_info("recovery: resuming actions and health check",
                    "bundle=%s version=%llu attempt=%d", c->j.name,
                    (unsigned long long)c->j.version, c->j.attempts);
        err = strcmp(cur, c->j.dir) != 0 ? gf_apply_link(c->bfd, c->j.dir) : GF_OK;
        if (err != GF_OK) {
            return err;
        }
        return gf_apply_finish(c, gf_apply_now_ms() + (int64_t)c->j.acts.health_timeout_s * 1000,
                               res);
    }
    if (err == GF_OK) {
        *res = GF_APPLY_ROLLED_BACK;
    }
    return err;
}

/* Unreadable journal: trust installed.json. */
static enum gf_err recover_corrupt(struct gf_apply_ctx *c, const char *cur,
                                   enum gf_apply_result *res)
{
    enum gf_err err = GF_OK;
    int moved = strcmp(cur, c->rec.in.dir) != 0;

    gf_log_warn("recovery: unreadable journal, restoring installed.json's configuration",
                "dir=%s current=%s", c->rec.in.dir[0] != '\0' ? c->rec.in.dir : "(nothing)",
                cur[0] != '\0' ? cur : "(none)");
    if (moved) {
        err = gf_apply_link(c->bfd, c->rec.in.dir);
        if (err != GF_OK) {
            return err;
        }
        /* The journal's bundle may have been switched to and its actions run: the
         * committed bundle's actions run again, as after any rollback. */
        gf_apply_rerun_committed(c);
    }
    err = gf_apply_journal_remove(c->bfd);
    if (err == GF_OK) {
        gf_apply_set_reason(c, "journal_corrupt");
        *res = moved ? GF_APPLY_ROLLED_BACK : GF_APPLY_KEPT_OLD;
    }
    return err;
}

static enum gf_err recover(struct gf_apply_ctx *c, enum gf_apply_result *res)
{
    char cur[GF_APPLY_DIR_MAX];
    enum gf_err err;

    if (gf_apply_link_read(c->bfd, cur, sizeof(cur)) != GF_OK) {
        snprintf(cur, sizeof(cur), "?"); /* not ours: matches no dir, so it is replaced */
    }
    if (unlinkat(c->bfd, "current.new", 0) != 0 && errno != ENOENT) {
        return GF_ERR_IO;
    }
    err = gf_apply_journal_load(c->o->bundles_dir, &c->j);
    if (err == GF_ERR_NOTFOUND) {
        *res = GF_APPLY_NOTHING;
        return GF_OK;
    }
    if (err == GF_ERR_PARSE) {
        return recover_corrupt(c, cur, res);
    }
    if (err != GF_OK) {
        return err;
    }
    if (strcmp(c->rec.in.sha256, c->j.sha256) == 0) {
        err = finish_commit(c, cur);
        *res = GF_APPLY_APPLIED;
    } else if (strcmp(c->j.step, "rolling_back") == 0) {
        err = gf_apply_rollback(c, c->j.reason[0] != '\0' ? c->j.reason : "interrupted");
        *res = GF_APPLY_ROLLED_BACK;
    } else if (strcmp(c->j.step, "staged") == 0 ||
               (strcmp(c->j.step, "switching") == 0 && strcmp(cur, c->j.dir) != 0)) {
        err = undo_staged(c);
        gf_apply_set_reason(c, "interrupted");
        *res = GF_APPLY_KEPT_OLD;
    } else {
        err = resume(c, cur, res);
    }
    return err;
}

enum gf_err gf_apply_recover(const struct gf_apply_opts *o, enum gf_apply_result *result,
                             char *reason, size_t reason_cap, struct gf_installed *installed)
{
    struct gf_apply_ctx c;
    enum gf_apply_result res = GF_APPLY_NOTHING;
    enum gf_err err;

    if (o == NULL || o->bundles_dir == NULL || result == NULL) {
        return GF_ERR_INVAL;
    }
    err = gf_apply_open(&c, o);
    if (err == GF_OK) {
        err = recover(&c, &res);
    }
    gf_apply_close(&c);
    if (err == GF_OK) {
        *result = res;
        if (reason != NULL && reason_cap > 0) {
            snprintf(reason, reason_cap, "%s", c.reason);
        }
        if (installed != NULL) {
            *installed = c.rec.in;
        }
    }
    return err;
}
