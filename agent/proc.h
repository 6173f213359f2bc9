/* SPDX-License-Identifier: Apache-2.0
 *
 * proc.h - run one program as a bounded child process: the one way the agent starts a
 * program (bundle apply actions in bundle/actions.c, operator commands in cmd/).
 *
 * The child gets a fixed argv (argv[0] an absolute path, executed with execve: no shell, no
 * PATH search), its own process group, stdin from /dev/null, stdout and stderr on one pipe,
 * the agent's environment plus the given NAME=value additions, default signal dispositions
 * and no other inherited descriptor. The parent keeps the first cap - 1 bytes of output and
 * drains the rest, and stops waiting when the child itself has exited (a background
 * grandchild holding the pipe open cannot stall it). When the deadline passes, or the
 * caller's cancel flag becomes non-zero, the whole group gets SIGTERM, then SIGKILL
 * GF_PROC_KILL_GRACE_MS later if any member is left; the child is always reaped.
 * Thread-safe: several threads may run children at the same time (each waits for its own
 * pid only). The process must not ignore SIGCHLD (exit statuses would be lost).
 */
#ifndef GF_AGENT_PROC_H
#define GF_AGENT_PROC_H

#include "err.h"

#include <stdatomic.h>
#include <stddef.h>

#define GF_PROC_KILL_GRACE_MS 2000 /* SIGTERM -> SIGKILL of the group */
#define GF_PROC_ENV_ADD_MAX 16     /* NAME=value additions to the environment */

/* How a child ended. Plain value struct. */
struct gf_proc_result {
    int exited;       /* 1: the child exited and exit_code is its status (0..255) */
    int exit_code;    /* -1 unless exited */
    int signal;       /* the signal that ended the child, 0 if none */
    int timed_out;    /* the group was killed because the deadline passed */
    int cancelled;    /* the group was killed because *cancel became non-zero */
    int exec_errno;   /* non-zero: execve failed in the child with this errno (exit_code 127) */
    int truncated;    /* output beyond the cap was read and discarded */
    size_t out_len;   /* bytes stored in out (out[out_len] is NUL) */
    long duration_ms; /* from fork to reap */
};

/* Run argv[0] (absolute path) with argv, the environment plus env_add (NULL-terminated
 * "NAME=value" strings replacing variables of the same name; NULL for none; at most
 * GF_PROC_ENV_ADD_MAX) for at most timeout_ms. cancel (may be NULL) is polled every 50 ms;
 * when it reads non-zero the group is killed as at the deadline. out (may be NULL with cap 0)
 * receives the first cap - 1 bytes of stdout+stderr, NUL-terminated (the output itself may
 * contain NUL bytes: use res->out_len).
 * Returns GF_OK once the child has been started and reaped, with *res filled (an execve
 * failure is GF_OK with res->exec_errno set); GF_ERR_INVAL for a relative or missing argv[0],
 * a bad env_add entry or timeout_ms <= 0; GF_ERR_NOMEM; GF_ERR_IO when the pipe or the fork
 * failed (nothing was started). argv, env_add and out are borrowed for the call. */
enum gf_err gf_proc_run(char *const argv[], char *const env_add[], long timeout_ms,
                        const atomic_int *cancel, char *out, size_t cap,
                        struct gf_proc_result *res);

#endif
