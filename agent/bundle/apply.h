/* SPDX-License-Identifier: Apache-2.0
 *
 * apply.h - installing a verified bundle atomically, with an apply journal and rollback.
 *
 * Layout under <state_dir>/bundles (docs/internals/agent-bundles.md):
 *
 *   versions/<name>-<version>-<sha8>/   one staged tree per installed version (sha8: first 8
 *                                        hex characters of the manifest's SHA-256)
 *   current -> versions/<...>            the active configuration (a symlink, switched with a
 *                                        rename so it is always the old or the new target)
 *   installed.json                       what is committed: name, version, manifest sha,
 *                                        bundle id, dir; the per-name high-water marks; the
 *                                        last failed manifest sha (never retried)
 *   journal                              the apply in progress (atomic writes): step, the
 *                                        target and previous dirs, attempts
 *
 * Steps: staged (tree written and fsynced under versions/<dir>) -> switching (journal says
 * so before the rename of current) -> actions (the named actions, mapped by the local
 * actions table to fixed command lines) -> health (the health check, retried until it passes
 * or the bundle's health timeout) -> committed (installed.json rewritten, journal removed).
 * A failure or timeout after the switch rolls back: current goes back to the previous dir,
 * the previous bundle's actions run again, installed.json records the failed sha and the
 * status is rolled_back with the reason.
 *
 * gf_apply_recover runs at start-up before anything else: with no journal nothing happens;
 * a journal before the switch removes the staged tree (the old configuration stays and the
 * retained desired message re-triggers the apply); a journal at or after the switch resumes
 * the actions and the health check (at most GF_APPLY_MAX_ATTEMPTS times, then rolls back);
 * a journal of a rollback finishes the rollback; an unreadable journal trusts installed.json
 * and puts current back on its dir. In every case the outcome is reported.
 * Not thread-safe: one bundle thread owns it.
 */
#ifndef GF_AGENT_APPLY_H
#define GF_AGENT_APPLY_H

#include "err.h"
#include "manifest.h"

#include <stddef.h>
#include <stdint.h>

#define GF_APPLY_MAX_ATTEMPTS 2
#define GF_APPLY_MAX_NAMES                                                                         \
    64 /* bundle names with a high-water mark; the bundle thread                                   \
          refuses a new name when the table is full */

struct gf_actions;

/* What is committed (installed.json). Plain value struct. */
struct gf_installed {
    char name[GF_MANIFEST_NAME_MAX + 1]; /* "" when nothing installed yet */
    uint64_t version;
    char sha256[65]; /* manifest sha */
    char bundle_id[40];
    char dir[128];          /* "versions/<...>", relative to bundles/ */
    char failed_sha256[65]; /* last manifest that failed or rolled back */
    struct {
        char name[GF_MANIFEST_NAME_MAX + 1];
        uint64_t version;
    } hwm[GF_APPLY_MAX_NAMES];
    size_t nhwm;
    int64_t floor_us; /* newest created_at ever accepted (clock floor) */
};

/* Outcome of an apply or a recovery. */
enum gf_apply_result {
    GF_APPLY_NOTHING,     /* recovery: no journal */
    GF_APPLY_APPLIED,     /* new configuration committed */
    GF_APPLY_KEPT_OLD,    /* recovery: interrupted before the switch, old config active */
    GF_APPLY_FAILED,      /* refused or failed before the switch; old config active */
    GF_APPLY_ROLLED_BACK, /* failed after the switch; old config active again */
};

/* Progress callback: step is "applying" (staging), "switching", "actions", "health";
 * called on the bundle thread. */
typedef void (*gf_apply_progress_fn)(void *arg, const char *step);

struct gf_apply_opts {
    const char *bundles_dir;          /* <state_dir>/bundles, created if missing */
    const char *blobs_dir;            /* verified blobs, named by their sha256 */
    const struct gf_actions *actions; /* local action map */
    gf_apply_progress_fn progress;
    void *progress_arg;
};

/* Read installed.json (zeroed struct when absent). GF_ERR_IO/GF_ERR_PARSE if unreadable. */
enum gf_err gf_installed_load(const char *bundles_dir, struct gf_installed *out);
/* High-water mark for name (0 if none). */
uint64_t gf_installed_hwm(const struct gf_installed *in, const char *name);

/* Apply verified manifest m (its blobs present in blobs_dir, already hash-checked) for bundle
 * bundle_id. Blocks while actions and the health check run. *result and reason (a stable
 * word such as "action_failed", "action_timeout", "health_failed", "health_timeout",
 * "disk_full", "io") say what happened; GF_OK means the call itself worked, whatever the
 * result. */
enum gf_err gf_apply(const struct gf_apply_opts *o, const struct gf_manifest *m,
                     const char *bundle_id, enum gf_apply_result *result, char *reason,
                     size_t reason_cap);

/* Finish or undo an apply interrupted by a crash or power cut (see the top of this file).
 * *result, reason as gf_apply; installed (may be NULL) receives the committed state after. */
enum gf_err gf_apply_recover(const struct gf_apply_opts *o, enum gf_apply_result *result,
                             char *reason, size_t reason_cap, struct gf_installed *installed);

/* Test-only fault injection: when the environment variable GF_AGENT_FAULT_AT names a
 * point ("staged", "switching", "switched", "actions", "health", "committing"), the agent
 * exits with status 99 there, without cleaning up, as a power cut would leave it. */
void gf_apply_fault_point(const char *point);

#endif
