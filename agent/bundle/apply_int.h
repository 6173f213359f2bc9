/* SPDX-License-Identifier: Apache-2.0
 *
 * apply_int.h - internal to the bundle apply engine (apply.c, apply_recover.c, apply_state.c,
 * apply_fs.c); not installed, not included outside agent/bundle/.
 *
 * apply_state.c reads and writes the two JSON files of <bundles_dir>: installed.json (the
 * public struct gf_installed plus what a rollback needs to rerun the committed bundle's
 * actions) and journal (one record per step of an apply in progress). apply_fs.c owns the
 * tree under versions/: staging a manifest's files, removing trees without following
 * symlinks, switching the `current` symlink and pruning old versions. apply.c drives the
 * steps and apply_recover.c finishes or undoes them after a crash; both go through the
 * shared context below.
 */
#ifndef GF_AGENT_APPLY_INT_H
#define GF_AGENT_APPLY_INT_H

#include "apply.h"

#include <stddef.h>
#include <stdint.h>

#define GF_APPLY_DIR_MAX 128 /* "versions/<name>-<version>-<sha8>" with its NUL */
#define GF_APPLY_VERSIONS "versions/"
#define GF_APPLY_STATE_MAX (64u * 1024u) /* installed.json or journal, bytes */
#define GF_APPLY_REASON_MAX 32

/* The named actions, health check and timeout of one manifest. Plain value struct. */
struct gf_apply_acts {
    char names[GF_MANIFEST_MAX_ACTIONS][GF_MANIFEST_ACTION_MAX + 1];
    size_t n;
    char health_check[GF_MANIFEST_ACTION_MAX + 1]; /* "" when none */
    int health_timeout_s;                          /* 0 when nothing is installed */
};

/* installed.json in full: the public part and the committed bundle's actions. */
struct gf_apply_record {
    struct gf_installed in;
    struct gf_apply_acts acts;
};

/* The journal: everything recovery needs, without the manifest. Plain value struct. */
struct gf_apply_journal {
    char step[16]; /* staged | switching | actions | health | rolling_back */
    char name[GF_MANIFEST_NAME_MAX + 1];
    uint64_t version;
    char sha256[65];
    char bundle_id[40];
    char dir[GF_APPLY_DIR_MAX];      /* "versions/<...>" being applied */
    char prev_dir[GF_APPLY_DIR_MAX]; /* installed.dir when the apply began; "" if none */
    int attempts;                    /* starts of the actions + health phase */
    int64_t created_us;
    char reason[GF_APPLY_REASON_MAX]; /* rolling_back: why; "" otherwise */
    struct gf_apply_acts acts;
};

/* State shared by one apply or recovery. */
struct gf_apply_ctx {
    const struct gf_apply_opts *o;
    int bfd; /* bundles_dir */
    int vfd; /* bundles_dir/versions */
    struct gf_apply_record rec;
    struct gf_apply_journal j;
    char reason[GF_APPLY_REASON_MAX];
};

/* ---- apply_state.c ---- */

/* Read installed.json; absent gives a zeroed record. GF_ERR_PARSE if malformed, GF_ERR_IO. */
enum gf_err gf_apply_record_load(const char *bundles_dir, struct gf_apply_record *out);
/* Replace installed.json atomically. GF_ERR_IO, GF_ERR_NOMEM, GF_ERR_INVAL (path). */
enum gf_err gf_apply_record_save(const char *bundles_dir, const struct gf_apply_record *r);
/* Read the journal. GF_ERR_NOTFOUND if absent, GF_ERR_PARSE if unreadable (truncated, not
 * JSON, a member missing or out of range), GF_ERR_IO. */
enum gf_err gf_apply_journal_load(const char *bundles_dir, struct gf_apply_journal *out);
/* Replace the journal atomically. GF_ERR_IO, GF_ERR_NOMEM, GF_ERR_INVAL. */
enum gf_err gf_apply_journal_save(const char *bundles_dir, const struct gf_apply_journal *j);
/* Remove the journal (absent is fine) and fsync bundles_dir (bfd). GF_ERR_IO. */
enum gf_err gf_apply_journal_remove(int bfd);
/* 1 if s is "versions/<one component>" and fits GF_APPLY_DIR_MAX. */
int gf_apply_dir_ok(const char *s);
/* Record in r the committed state of journal j (name, version, sha, id, dir, hwm, floor). */
void gf_apply_record_commit(struct gf_apply_record *r, const struct gf_apply_journal *j);

/* ---- apply_fs.c ---- */

/* Stage m's files from blobs_dir into versions/<name>.staging, fsync every file and directory,
 * rename it to versions/<name> and fsync versions/. A leftover staging dir or versions/<name>
 * is removed first. On failure the staging dir is removed and reason says "disk_full"
 * (ENOSPC, EDQUOT, EFBIG) or "io"; returns GF_ERR_IO (or GF_ERR_NOMEM). */
enum gf_err gf_apply_stage(int vfd, const char *blobs_dir, const struct gf_manifest *m,
                           const char *name, char *reason, size_t reason_cap);
/* Remove name under dfd and everything below it, never following a symlink. Absent is
 * GF_OK. GF_ERR_IO. */
enum gf_err gf_apply_rmtree(int dfd, const char *name);
/* Point `current` at target ("versions/<...>") with a symlink current.new renamed over it, or
 * remove `current` when target is ""; fsync bfd. GF_ERR_IO. */
enum gf_err gf_apply_link(int bfd, const char *target);
/* Target of `current` into out ("" when absent). GF_ERR_IO (also when not a symlink),
 * GF_ERR_TOOBIG. */
enum gf_err gf_apply_link_read(int bfd, char *out, size_t cap);
/* Remove every entry of versions/ whose name is neither keep1 nor keep2 (base names, may be
 * ""); failures are logged. */
void gf_apply_prune(int vfd, const char *keep1, const char *keep2);

/* ---- apply.c ---- */

/* Monotonic milliseconds. */
int64_t gf_apply_now_ms(void);
/* Write reason into the context (bounded). */
void gf_apply_set_reason(struct gf_apply_ctx *c, const char *reason);
/* Run the journal's actions then health check until deadline_ms (monotonic), then commit or
 * roll back. *result is GF_APPLY_APPLIED or GF_APPLY_ROLLED_BACK (reason in c->reason). */
enum gf_err gf_apply_finish(struct gf_apply_ctx *c, int64_t deadline_ms,
                            enum gf_apply_result *result);
/* Commit the journal's apply: installed.json, fault point "committing", journal removed,
 * versions pruned. */
enum gf_err gf_apply_commit(struct gf_apply_ctx *c);
/* Roll the journal's apply back for reason: journal "rolling_back", current on prev_dir (or
 * removed), the committed bundle's actions again, failed_sha256 recorded, journal and the
 * failed tree removed. */
enum gf_err gf_apply_rollback(struct gf_apply_ctx *c, const char *reason);
/* Run the committed bundle's actions (c->rec) on its tree again; failures are logged. */
void gf_apply_rerun_committed(const struct gf_apply_ctx *c);
/* Open bundles_dir (created 0755 if missing) and its versions/ into c. GF_ERR_IO. */
enum gf_err gf_apply_open(struct gf_apply_ctx *c, const struct gf_apply_opts *o);
void gf_apply_close(struct gf_apply_ctx *c);

#endif
