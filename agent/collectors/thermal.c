/* SPDX-License-Identifier: Apache-2.0
 *
 * thermal.c - thermal collector: <sysfs>/class/thermal/thermal_zone*.
 *
 * For each zone (sorted, at most GF_COLL_MAX_ZONES) its type and temperature; the kernel
 * gives millidegrees Celsius, we report degrees. A zone whose temp cannot be read (some
 * firmware zones return an error) is listed without temp_c. Stateless. Output:
 *   {"zones": [{"zone": "thermal_zone0", "type": "x86_pkg_temp", "temp_c": 45.5}]}
 */
#include "builtin.h"
#include "parse.h"

#include <stdio.h>
#include <string.h>

#define THERMAL_DIR "class/thermal"

enum gf_err gf_thermal_init(void **state)
{
    return gf_coll_init_none(state);
}

void gf_thermal_free(void *state)
{
    gf_coll_free_none(state);
}

static enum gf_err zone(const struct gf_collect_roots *roots, const char *name, json_t *z)
{
    char rel[GF_COLL_PATH_MAX], type[GF_COLL_WORD_MAX];
    long long milli;
    int n, r;
    enum gf_err err = gf_coll_set_str(z, "zone", name);

    n = snprintf(rel, sizeof(rel), THERMAL_DIR "/%s/type", name);
    if (err == GF_OK && n > 0 && (size_t)n < sizeof(rel) &&
        (r = gf_coll_read_word(roots->sysfs, rel, type, sizeof(type))) != 0) {
        err = r < 0 ? GF_ERR_NOMEM : gf_coll_set_str(z, "type", type);
    }
    n = snprintf(rel, sizeof(rel), THERMAL_DIR "/%s/temp", name);
    if (err == GF_OK && n > 0 && (size_t)n < sizeof(rel) &&
        (r = gf_coll_read_ll(roots->sysfs, rel, &milli)) != 0) {
        err = r < 0 ? GF_ERR_NOMEM : gf_coll_set_real(z, "temp_c", (double)milli / 1000.0);
    }
    return err;
}

enum gf_err gf_thermal_sample(void *state, const struct gf_collect_roots *roots, json_t *out)
{
    char names[GF_COLL_MAX_ZONES][GF_COLL_NAME_MAX];
    json_t *arr = json_array(), *z;
    size_t n, i;
    enum gf_err err = GF_OK;

    (void)state;
    if (arr == NULL) {
        return GF_ERR_NOMEM;
    }
    n = gf_coll_list_dir(roots->sysfs, THERMAL_DIR, names, GF_COLL_MAX_ZONES);
    for (i = 0; i < n && err == GF_OK; i++) {
        if (strncmp(names[i], "thermal_zone", 12) != 0) {
            continue; /* cooling_device* live in the same directory */
        }
        if ((z = json_object()) == NULL) {
            err = GF_ERR_NOMEM;
            break;
        }
        err = zone(roots, names[i], z);
        if (err != GF_OK) {
            json_decref(z);
            break;
        }
        err = gf_coll_append_new(arr, z);
    }
    if (err != GF_OK) {
        json_decref(arr);
        return err;
    }
    return gf_coll_set_new(out, "zones", arr);
}
