/* SPDX-License-Identifier: Apache-2.0
 *
 * collector.c - the static table of health collectors and the loop that runs them.
 *
 * Each collector lives in its own file (builtin.h lists their entry points); this file puts
 * them in reporting order and gives each one its own object under its name in the sample.
 */
#include "builtin.h"
#include "parse.h"

#define ENTRY(n)                                                                                   \
    {                                                                                              \
#n, gf_##n##_init, gf_##n##_sample, gf_##n##_free                                          \
    }

const struct gf_collector gf_collectors[] = {
    ENTRY(cpu),  ENTRY(memory),  ENTRY(disk),   ENTRY(power),
    ENTRY(link), ENTRY(thermal), ENTRY(uptime), ENTRY(self),
};
const size_t gf_ncollectors = sizeof(gf_collectors) / sizeof(gf_collectors[0]);

_Static_assert(sizeof(gf_collectors) / sizeof(gf_collectors[0]) <= GF_COLL_MAX_COLLECTORS,
               "raise GF_COLL_MAX_COLLECTORS");

enum gf_err gf_coll_init_none(void **state)
{
    *state = NULL;
    return GF_OK;
}

void gf_coll_free_none(void *state)
{
    (void)state;
}

enum gf_err gf_collect_init_all(void **states)
{
    size_t i;

    for (i = 0; i < gf_ncollectors; i++) {
        states[i] = NULL;
    }
    for (i = 0; i < gf_ncollectors; i++) {
        if (gf_collectors[i].init(&states[i]) != GF_OK) {
            gf_collect_free_all(states);
            return GF_ERR_NOMEM;
        }
    }
    return GF_OK;
}

void gf_collect_free_all(void **states)
{
    size_t i;

    for (i = 0; i < gf_ncollectors; i++) {
        gf_collectors[i].free(states[i]);
        states[i] = NULL;
    }
}

enum gf_err gf_collect_all(void **states, const struct gf_collect_roots *roots, json_t *sample)
{
    size_t i;
    enum gf_err err;

    for (i = 0; i < gf_ncollectors; i++) {
        json_t *obj = json_object();
        if (obj == NULL) {
            return GF_ERR_NOMEM;
        }
        err = gf_collectors[i].sample(states[i], roots, obj);
        if (err != GF_OK) {
            json_decref(obj);
            return err;
        }
        err = gf_coll_set_new(sample, gf_collectors[i].name, obj);
        if (err != GF_OK) {
            return err;
        }
    }
    return GF_OK;
}
