/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd_int.h - what the files of agent/cmd/ share and nothing else includes: the decoded
 * request (req.c), the built-in table (builtin.c), result encoding (result.c) and the
 * persisted record of recent ids (seen.c). The runner (run.c) ties them together; cmd.h is
 * the public face. Nothing here takes a lock: seen.c's store is guarded by the runner's mutex
 * except gf_cmd_seen_write, which serialises itself.
 */
#ifndef GF_AGENT_CMD_INT_H
#define GF_AGENT_CMD_INT_H

#include "cmd.h"

#include <stddef.h>
#include <stdint.h>

/* ---- req.c: one `cmd/req` payload ---- */

/* A decoded request. Plain value struct; args owned (json_decref via gf_cmd_req_clear). */
struct gf_cmd_req {
    char id[GF_CMD_ID_MAX + 1]; /* "" when the payload had no usable id */
    char name[GF_CMD_NAME_MAX + 1];
    json_t *args; /* an object, empty when absent */
    long timeout_ms;
};

/* Decode and check payload[0..len): JSON object, id, name, args, timeout_ms, nothing else.
 * req->id is filled as soon as a valid id is seen, so a later failure can still be answered
 * with it. GF_ERR_PARSE / GF_ERR_INVAL / GF_ERR_TOOBIG with diag; GF_ERR_NOMEM. */
enum gf_err gf_cmd_req_parse(const void *payload, size_t len, struct gf_cmd_req *req,
                             struct gf_diag *diag);
void gf_cmd_req_clear(struct gf_cmd_req *req);

/* 1 if s is a valid command name / request id. */
int gf_cmd_name_ok(const char *s, size_t n);
int gf_cmd_id_ok(const char *s, size_t n);

/* ---- builtin.c: the built-in commands ---- */

enum gf_cmd_kind {
    GF_CMD_PING,
    GF_CMD_HEALTH_NOW,
    GF_CMD_INVENTORY_REFRESH,
    GF_CMD_BUNDLE_STATUS,
    GF_CMD_LOGS_TAIL,
    GF_CMD_AGENT_RESTART,
    GF_CMD_SHELL,
    GF_CMD_EXEC /* not a built-in: an allowlist entry, run as a process */
};

/* The built-in of that name, or GF_CMD_EXEC. */
enum gf_cmd_kind gf_cmd_builtin_find(const char *name);

/* 1 when built-in k can run with these hooks and the shell option. */
int gf_cmd_builtin_available(enum gf_cmd_kind k, const struct gf_cmd_hooks *h, int allow_shell);

/* Check args for built-in k (GF_ERR_INVAL with diag "/args/..."). For GF_CMD_SHELL, *argv
 * receives /bin/sh -c cmdline (caller owns, gf_free); else it is left alone. */
enum gf_err gf_cmd_builtin_check(enum gf_cmd_kind k, const json_t *args, char ***argv,
                                 struct gf_diag *diag);

/* Run built-in k (not shell): *result receives its JSON (caller owns). Errors are the
 * hook's. uptime_s feeds ping. */
enum gf_err gf_cmd_builtin_call(enum gf_cmd_kind k, const struct gf_cmd_hooks *h,
                                const json_t *args, long long uptime_s, json_t **result);

/* ---- result.c: result messages ---- */

/* A final result. Plain value struct, all borrowed. */
struct gf_cmd_final {
    const char *status; /* succeeded | failed | timed_out | rejected */
    int exit_code;      /* -1: null */
    int signal;         /* 0: null */
    const char *output; /* raw bytes, cleaned to UTF-8 here */
    size_t output_len;
    size_t output_max; /* bytes of cleaned output at most */
    int truncated;
    long duration_ms;
    const char *error;    /* NULL: null */
    const json_t *result; /* built-ins, NULL for none */
};

/* {"id":..,"status":"running","started_at":..}. id NULL gives null. Caller owns the text
 * (free with gf_free); NULL on allocation failure. */
char *gf_cmd_result_running(const char *id, size_t *len);

/* The final result message for id (NULL gives null). Same ownership. */
char *gf_cmd_result_final(const char *id, const struct gf_cmd_final *f, size_t *len);

/* Copy in[0..n) to out (cap >= 1) as valid UTF-8 without NUL: each byte that does not start a
 * valid sequence becomes U+FFFD; stops before a character that would not fit (cap - 1 bytes
 * at most, NUL-terminated). Returns the bytes written; *cut set when input was left over. */
size_t gf_cmd_utf8_clean(const char *in, size_t n, char *out, size_t cap, int *cut);

/* ---- seen.c: recent ids, persisted ---- */

enum gf_cmd_state {
    GF_CMD_S_RUNNING,
    GF_CMD_S_INTERRUPTED, /* was running when the agent stopped: reported as failed */
    GF_CMD_S_SUCCEEDED,
    GF_CMD_S_FAILED,
    GF_CMD_S_TIMED_OUT,
    GF_CMD_S_REJECTED
};

#define GF_CMD_SEEN_ERROR_MAX 200 /* bytes of a final error kept in the file */

struct gf_cmd_seen;

/* Open <state_dir>/commands.seen (missing = empty; entries still running become
 * interrupted). GF_ERR_PARSE with diag for a malformed file; GF_ERR_IO; GF_ERR_NOMEM. */
enum gf_err gf_cmd_seen_open(const char *state_dir, struct gf_cmd_seen **out, struct gf_diag *diag);
void gf_cmd_seen_free(struct gf_cmd_seen *s);

/* How many ids were found running (now interrupted) when the file was read. */
size_t gf_cmd_seen_interrupted(const struct gf_cmd_seen *s);

/* 1 and *st if id is recorded. */
int gf_cmd_seen_state(const struct gf_cmd_seen *s, const char *id, enum gf_cmd_state *st);

/* Record id as running (evicting the oldest finished id when full). GF_ERR_EXISTS if known,
 * GF_ERR_RATELIMIT when every slot is running. */
enum gf_err gf_cmd_seen_add(struct gf_cmd_seen *s, const char *id);

/* Remove id (a command that could not be started after all). */
void gf_cmd_seen_forget(struct gf_cmd_seen *s, const char *id);

/* Record id's final state from f (exit code, signal, duration, error); a copy of text (may
 * be NULL), the published result, is kept in memory for duplicates within
 * GF_CMD_RESULTS_BYTES (when the copy cannot be made, a replay rebuilds a summary). */
void gf_cmd_seen_finish(struct gf_cmd_seen *s, const char *id, enum gf_cmd_state st,
                        const struct gf_cmd_final *f, const char *text, size_t len);

/* The result to publish again for a finished id: the kept text, or one rebuilt from the file
 * (no output). Caller owns *text (gf_free). GF_ERR_NOTFOUND, GF_ERR_NOMEM. */
enum gf_err gf_cmd_seen_replay(const struct gf_cmd_seen *s, const char *id, char **text,
                               size_t *len);

/* The file's next content and its generation (caller owns *text, gf_free); then
 * gf_cmd_seen_write (without the runner's lock) writes it atomically and fsynced unless a
 * newer generation was written already. GF_ERR_NOMEM / GF_ERR_IO. */
enum gf_err gf_cmd_seen_snapshot(struct gf_cmd_seen *s, char **text, size_t *len, uint64_t *gen);
enum gf_err gf_cmd_seen_write(struct gf_cmd_seen *s, const char *text, size_t len, uint64_t gen);

#endif
