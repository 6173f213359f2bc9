/* SPDX-License-Identifier: Apache-2.0
 *
 * cmd.h - the agent's command runner: requests from `cmd/req` run only when their name is on
 * the station's local allowlist, with bounded output and runtime, and at most once per id.
 *
 * Names are either built-ins (ping, health.now, inventory.refresh, bundle.status, logs.tail,
 * agent.restart; and shell when the local option allows it), executed through hooks the
 * agent supplies, or entries of the allowlist file (`commands_file`), each a fixed command
 * line with optional `{param:REGEX}` arguments:
 *
 *   # comment
 *   service.restart:neuronex = /usr/bin/systemctl restart neuronex
 *   net.ping = /bin/ping -c 3 -W 2 {host:^[A-Za-z0-9.:-]{1,253}$}
 *
 * A request is `{"id":"<id>","name":"<name>","args":{...},"timeout_ms":N}`; results go back
 * through hooks->publish: `running` when it starts, then one final result (succeeded, failed,
 * timed_out or rejected). Every id is recorded in <state_dir>/commands.seen before its
 * command starts, so a redelivered request never runs twice, across restarts too.
 * docs/internals/agent-commands.md has the formats and the state machine.
 */
#ifndef GF_AGENT_CMD_H
#define GF_AGENT_CMD_H

#include "err.h"

#include <jansson.h>
#include <stddef.h>

#define GF_CMD_ID_MAX 64                    /* request id: 1..64 of [A-Za-z0-9-] */
#define GF_CMD_NAME_MAX 64                  /* command name: 1..64 of [a-z0-9._:-] */
#define GF_CMD_ALLOW_MAX 128                /* entries in the allowlist file */
#define GF_CMD_ARGV_MAX 32                  /* argv elements of one entry, argv[0] included */
#define GF_CMD_PARAM_MAX 32                 /* parameter name: 1..32 of [a-z0-9_] */
#define GF_CMD_ARG_MAX 1024                 /* bytes of one argument value */
#define GF_CMD_SHELL_MAX 4096               /* bytes of shell's cmdline */
#define GF_CMD_TIMEOUT_MAX_MS 3600000L      /* timeout_ms upper bound */
#define GF_CMD_TIMEOUT_DEFAULT_MS 60000L    /* timeout_ms when the request has none */
#define GF_CMD_SEEN_MAX 256                 /* ids remembered in commands.seen */
#define GF_CMD_RESULTS_BYTES (512u * 1024u) /* final results kept in memory for duplicates */
#define GF_CMD_RUNNING_MAX 64               /* commands_max_running upper bound */
#define GF_CMD_OUTPUT_MIN 256               /* commands_output_max bounds: the worst case, */
#define GF_CMD_OUTPUT_MAX 32768             /* every byte escaped as \uXXXX, fits one message */
#define GF_CMD_LOG_LINES_MAX 1000           /* logs.tail lines */

/* ---- the allowlist file ---- */

struct gf_cmd_allow;

/* Load the allowlist from path; path NULL or "" gives an empty list. GF_ERR_CONFIG with diag
 * naming file:line for a bad line (syntax, name, relative command, too many arguments or
 * entries, a bad parameter or regex, a name defined twice or shadowing a built-in);
 * GF_ERR_NOTFOUND if the file is missing; GF_ERR_NOMEM. Caller owns *out (free with
 * gf_cmd_allow_free). */
enum gf_err gf_cmd_allow_load(const char *path, struct gf_cmd_allow **out, struct gf_diag *diag);
void gf_cmd_allow_free(struct gf_cmd_allow *a);

/* 1 if name is an entry of the file. */
int gf_cmd_allow_has(const struct gf_cmd_allow *a, const char *name);

/* The argv for entry name called with args (a JSON object, or NULL for none): each
 * {param:REGEX} element replaced by the string args.param, which must match the whole regex,
 * be at most GF_CMD_ARG_MAX bytes and hold no control character. Every declared parameter is
 * required and no other key is accepted. GF_ERR_NOTFOUND for an unknown name; GF_ERR_INVAL
 * with diag naming the argument ("/args/host") and the reason; GF_ERR_NOMEM. Caller owns
 * *argv, a NULL-terminated vector in one allocation (free with gf_free). Thread-safe. */
enum gf_err gf_cmd_allow_argv(const struct gf_cmd_allow *a, const char *name, const json_t *args,
                              char ***argv, struct gf_diag *diag);

/* 1 if name is a built-in command name (shell included, whether enabled or not). */
int gf_cmd_is_builtin(const char *name);

/* ---- the runner ---- */

/* What the runner needs from the agent. The result hooks fill *result with a new JSON value
 * (the runner takes ownership) or return an error, which fails the command with
 * gf_err_str(err). A NULL result hook makes its built-in unknown (rejected). Hooks are
 * called on the runner's worker threads, several at a time: they must be thread-safe. */
struct gf_cmd_hooks {
    void *ud;
    enum gf_err (*health_now)(void *ud, json_t **result);
    enum gf_err (*inventory_refresh)(void *ud, json_t **result);
    enum gf_err (*bundle_status)(void *ud, json_t **result);
    /* args: {"path":"/abs"} or {"unit":"name.service"}, and "lines" (1..1000, default 100) */
    enum gf_err (*logs_tail)(void *ud, const json_t *args, json_t **result);
    /* agent.restart: ask the main loop to exit for a restart; called after the final result
     * was recorded as succeeded and published. May be NULL (agent.restart unknown). */
    void (*restart)(void *ud);
    /* Publish one result (required). id is NULL when the request had no usable id. json is
     * borrowed for the call. final: 0 for `running`, 1 for the command's last word (its
     * result, a rejection, or a finished result published again for a duplicate request).
     * An error is logged; the result stays recorded. */
    enum gf_err (*publish)(void *ud, const char *id, const char *json, size_t len, int final);
};

/* Settings (the commands_* keys of the agent config). Borrowed for gf_cmd_new only. */
struct gf_cmd_opts {
    const char *allow_file; /* NULL or "" = built-ins only */
    int allow_shell;        /* the shell built-in: /bin/sh -c args.cmdline */
    long max_running;       /* 1..GF_CMD_RUNNING_MAX commands at a time */
    long output_max;        /* GF_CMD_OUTPUT_MIN..GF_CMD_OUTPUT_MAX bytes of output */
    const char *state_dir;  /* holds commands.seen (created if missing) */
};

struct gf_cmd;

/* Load the allowlist and <state_dir>/commands.seen (ids recorded as running there become
 * failed: "agent restarted while running"). GF_ERR_INVAL for bad opts or a NULL publish hook;
 * GF_ERR_CONFIG / GF_ERR_NOTFOUND from the allowlist (diag file:line); GF_ERR_PARSE with diag
 * for an unreadable commands.seen (the agent must not forget ids: move the file away to
 * start afresh); GF_ERR_IO; GF_ERR_NOMEM. Caller owns *out (free with gf_cmd_free). */
enum gf_err gf_cmd_new(const struct gf_cmd_opts *opts, const struct gf_cmd_hooks *hooks,
                       struct gf_cmd **out, struct gf_diag *diag);

/* Handle one request payload; expiry_ms is the message's remaining expiry in ms, or -1 when
 * it has none. Returns fast: validates the request, answers a duplicate id from what is
 * recorded (its final result again; nothing while it still runs), or hands the command to a
 * worker thread, whose deadline is min(timeout_ms, expiry_ms) from now. A rejected request
 * gets its `rejected` result published before this returns.
 * GF_OK: started, or a duplicate answered. GF_ERR_PARSE / GF_ERR_INVAL / GF_ERR_NOTFOUND
 * (unknown name) / GF_ERR_TIMEOUT (already expired) / GF_ERR_RATELIMIT (max_running are
 * running): rejected. GF_ERR_UNAVAILABLE after gf_cmd_stop (nothing published or recorded).
 * Thread-safe. */
enum gf_err gf_cmd_submit(struct gf_cmd *c, const void *payload, size_t len, long expiry_ms);

/* Number of commands running now. Thread-safe. */
size_t gf_cmd_running(struct gf_cmd *c);

/* Refuse new requests, kill the process groups of running commands (they end `failed`,
 * "agent stopping", published and recorded) and join the workers; waits for built-in hooks
 * to return. Idempotent; not to be called from a hook. */
void gf_cmd_stop(struct gf_cmd *c);

/* Stop (if not stopped) and free. NULL is fine. */
void gf_cmd_free(struct gf_cmd *c);

#endif
