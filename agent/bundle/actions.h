/* SPDX-License-Identifier: Apache-2.0
 *
 * actions.h - the agent's local map from action names to fixed command lines.
 *
 * A bundle names actions ("restart:neuronex"); only this map, read from the file named by
 * the `actions_file` setting, says what they run, so a bundle can never add a command. The
 * file has one action per line:
 *
 *   # comment
 *   restart:neuronex = /usr/bin/systemctl restart neuronex
 *   check:neuronex   = /usr/local/bin/neuronex-check --quick
 *
 * The command line is split on blanks into argv (no shell, no quoting, no expansion); argv[0]
 * must be an absolute path. A command runs in its own process group with stdin from
 * /dev/null, the environment variable GATEFLEET_BUNDLE_DIR set to the active tree, output
 * discarded beyond the first 4 KiB (kept for the status reason), and is killed (SIGTERM,
 * then SIGKILL after 2 s, whole group) when its deadline passes.
 * Not thread-safe per map; gf_actions_run may run on any one thread at a time.
 */
#ifndef GF_AGENT_ACTIONS_H
#define GF_AGENT_ACTIONS_H

#include "err.h"

#include <stddef.h>

#define GF_ACTIONS_MAX 64
#define GF_ACTIONS_ARGV 16
#define GF_ACTIONS_OUTPUT 4096

struct gf_actions;

/* Load the map from path; path NULL or "" gives an empty map. GF_ERR_CONFIG with diag naming
 * file:line for a bad line; GF_ERR_NOTFOUND if the file is missing. */
enum gf_err gf_actions_load(const char *path, struct gf_actions **out, struct gf_diag *diag);
void gf_actions_free(struct gf_actions *a);

/* 1 if name is in the map. */
int gf_actions_has(const struct gf_actions *a, const char *name);

enum gf_action_outcome { GF_ACTION_OK, GF_ACTION_FAILED, GF_ACTION_TIMEOUT, GF_ACTION_UNKNOWN };

/* Run name with bundle_dir in GATEFLEET_BUNDLE_DIR, waiting at most timeout_ms. out (may be
 * NULL) receives the first bytes of stdout+stderr, NUL-terminated. */
enum gf_action_outcome gf_actions_run(const struct gf_actions *a, const char *name,
                                      const char *bundle_dir, long timeout_ms, char *out,
                                      size_t cap);

#endif
