/* SPDX-License-Identifier: Apache-2.0
 *
 * collector.h - the agent's health collectors: a small vtable per collector in one static
 * array (cpu, memory, disk, power, link, thermal, uptime, self), and gf_collect_all() which
 * runs them all into one JSON object with a key per collector.
 *
 * Collectors read only under the roots they are given (the real /proc and /sys in production,
 * fixture trees in tests). A missing file or directory means "not present": the key is left
 * out (or reported as present:false), never a crash and never a made-up value; malformed
 * content skips that one value. Collectors that compute rates (cpu usage, link deltas, the
 * agent's own cpu) keep the previous reading in their opaque state, so the first sample after
 * init reports counters only. A collector's state is used by one thread at a time.
 */
#ifndef GF_AGENT_COLLECTORS_COLLECTOR_H
#define GF_AGENT_COLLECTORS_COLLECTOR_H

#include "err.h"
#include "limits.h"

#include <jansson.h>
#include <stddef.h>

/* Where to read. Plain value struct; strings borrowed (valid for the call). */
struct gf_collect_roots {
    const char *procfs;      /* "/proc" in production */
    const char *sysfs;       /* "/sys" in production */
    const char *mounts_root; /* prefix for statvfs paths, "" in production */
};

/* One collector. init: *state receives the collector's state, caller owns it (free with the
 * collector's free; NULL is accepted); GF_ERR_NOMEM. sample: adds this collector's keys to
 * out (an object, borrowed); GF_OK or GF_ERR_NOMEM only - missing or malformed input is not
 * an error. */
struct gf_collector {
    const char *name;
    enum gf_err (*init)(void **state);
    enum gf_err (*sample)(void *state, const struct gf_collect_roots *roots, json_t *out);
    void (*free)(void *state);
};

/* The collectors in reporting order, and their count (<= GF_COLL_MAX_COLLECTORS). */
extern const struct gf_collector gf_collectors[];
extern const size_t gf_ncollectors;

/* Initialise states[0..gf_ncollectors) (an array of at least gf_ncollectors pointers).
 * GF_ERR_NOMEM, with every state already made released and set to NULL. Caller owns the
 * states (free with gf_collect_free_all). */
enum gf_err gf_collect_init_all(void **states);

/* Release every state made by gf_collect_init_all and set it to NULL. */
void gf_collect_free_all(void **states);

/* Run every collector: sample (an object, borrowed) receives one key per collector name whose
 * value is that collector's object. GF_ERR_NOMEM (sample may then hold some keys already).
 * Not thread-safe for the same states. */
enum gf_err gf_collect_all(void **states, const struct gf_collect_roots *roots, json_t *sample);

#endif
