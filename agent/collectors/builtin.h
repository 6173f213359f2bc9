/* SPDX-License-Identifier: Apache-2.0
 *
 * builtin.h - the entry points of each built-in collector (internal to agent/collectors).
 *
 * One collector per file (cpu.c, memory.c, ...); each exports its init, sample and free here
 * so collector.c can list them in the gf_collectors table. Callers outside this directory go
 * through the table, never through these names. Contracts: see struct gf_collector.
 */
#ifndef GF_AGENT_COLLECTORS_BUILTIN_H
#define GF_AGENT_COLLECTORS_BUILTIN_H

#include "collector.h"

#define GF_COLL_DECLARE(n)                                                                         \
    enum gf_err gf_##n##_init(void **state);                                                       \
    enum gf_err gf_##n##_sample(void *state, const struct gf_collect_roots *roots, json_t *out);   \
    void gf_##n##_free(void *state);

GF_COLL_DECLARE(cpu)
GF_COLL_DECLARE(memory)
GF_COLL_DECLARE(disk)
GF_COLL_DECLARE(power)
GF_COLL_DECLARE(link)
GF_COLL_DECLARE(thermal)
GF_COLL_DECLARE(uptime)
GF_COLL_DECLARE(self)

/* init/free for collectors without state: *state = NULL, and a no-op. */
enum gf_err gf_coll_init_none(void **state);
void gf_coll_free_none(void *state);

#endif
