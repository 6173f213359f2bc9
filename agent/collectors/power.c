/* SPDX-License-Identifier: Apache-2.0
 *
 * power.c - power collector: mains and UPS/battery state from <sysfs>/class/power_supply.
 *
 * Each supply directory (at most GF_COLL_MAX_SUPPLIES, sorted by name) is reported with what
 * its files say and nothing else. Mains/USB supplies: online. Battery/UPS supplies: present,
 * capacity_pct, status (lower-cased kernel word: charging, discharging, full, not charging,
 * unknown) and time_left_s: time_to_empty_now when the kernel gives it, otherwise while
 * discharging energy_now/power_now (uWh/uW) or charge_now/current_now (uAh/uA), in seconds.
 * The summary keys only appear when some supply backs them: mains_online (any Mains online)
 * and on_battery (a Battery/UPS discharging). A box without the directory reports
 * {"supplies": []}. Stateless. Output:
 *   {"mains_online": false, "on_battery": true, "supplies": [
 *     {"name": "AC", "type": "Mains", "online": false},
 *     {"name": "BAT0", "type": "UPS", "present": true, "capacity_pct": 42,
 *      "status": "discharging", "time_left_s": 1800}]}
 */
#include "builtin.h"
#include "parse.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define SUPPLY_DIR "class/power_supply"

struct power_summary {
    int have_mains, mains_online, have_battery, on_battery;
};

enum gf_err gf_power_init(void **state)
{
    return gf_coll_init_none(state);
}

void gf_power_free(void *state)
{
    gf_coll_free_none(state);
}

/* Integer file <supply>/<file>: 1 present, 0 absent, -1 NOMEM. */
static int supply_ll(const struct gf_collect_roots *roots, const char *name, const char *file,
                     long long *v)
{
    char rel[GF_COLL_PATH_MAX];
    int n = snprintf(rel, sizeof(rel), SUPPLY_DIR "/%s/%s", name, file);

    return (n < 0 || (size_t)n >= sizeof(rel)) ? 0 : gf_coll_read_ll(roots->sysfs, rel, v);
}

static int supply_word(const struct gf_collect_roots *roots, const char *name, const char *file,
                       char *out, size_t cap)
{
    char rel[GF_COLL_PATH_MAX];
    int n = snprintf(rel, sizeof(rel), SUPPLY_DIR "/%s/%s", name, file);

    return (n < 0 || (size_t)n >= sizeof(rel)) ? 0 : gf_coll_read_word(roots->sysfs, rel, out, cap);
}

/* Seconds left on battery, or -1 when the kernel does not say. */
static long long time_left(const struct gf_collect_roots *roots, const char *name, int discharging,
                           int *nomem)
{
    long long t, num, den;
    int r;

    if ((r = supply_ll(roots, name, "time_to_empty_now", &t)) != 0) {
        *nomem |= r < 0;
        return r > 0 && t >= 0 ? t : -1;
    }
    if (!discharging) {
        return -1;
    }
    if ((r = supply_ll(roots, name, "energy_now", &num)) > 0 &&
        (r = supply_ll(roots, name, "power_now", &den)) > 0 && num >= 0 &&
        num <= LLONG_MAX / 3600 && den > 0) {
        return num * 3600 / den;
    }
    *nomem |= r < 0;
    if ((r = supply_ll(roots, name, "charge_now", &num)) > 0 &&
        (r = supply_ll(roots, name, "current_now", &den)) > 0 && num >= 0 &&
        num <= LLONG_MAX / 3600 && den > 0) {
        return num * 3600 / den;
    }
    *nomem |= r < 0;
    return -1;
}

static enum gf_err battery(const struct gf_collect_roots *roots, const char *name, json_t *s,
                           struct power_summary *sum)
{
    char status[GF_COLL_WORD_MAX];
    long long v;
    int r, nomem = 0, discharging = 0;
    size_t i;
    enum gf_err err = GF_OK;

    sum->have_battery = 1;
    if ((r = supply_ll(roots, name, "present", &v)) > 0 && (v == 0 || v == 1)) {
        err = gf_coll_set_bool(s, "present", (int)v);
    }
    nomem |= r < 0;
    if (err == GF_OK && (r = supply_ll(roots, name, "capacity", &v)) > 0 && v >= 0 && v <= 100) {
        err = gf_coll_set_int(s, "capacity_pct", v);
    }
    nomem |= r < 0;
    if (err == GF_OK && (r = supply_word(roots, name, "status", status, sizeof(status))) > 0) {
        for (i = 0; status[i] != '\0'; i++) {
            status[i] = (char)tolower((unsigned char)status[i]);
        }
        discharging = strcmp(status, "discharging") == 0;
        sum->on_battery |= discharging;
        err = gf_coll_set_str(s, "status", status);
    }
    nomem |= r < 0;
    if (err == GF_OK && (v = time_left(roots, name, discharging, &nomem)) >= 0) {
        err = gf_coll_set_int(s, "time_left_s", v);
    }
    return err != GF_OK ? err : nomem ? GF_ERR_NOMEM : GF_OK;
}

static enum gf_err supply(const struct gf_collect_roots *roots, const char *name, json_t *arr,
                          struct power_summary *sum)
{
    char type[GF_COLL_WORD_MAX];
    long long v;
    json_t *s = json_object();
    int r;
    enum gf_err err;

    if (s == NULL) {
        return GF_ERR_NOMEM;
    }
    err = gf_coll_set_str(s, "name", name);
    r = supply_word(roots, name, "type", type, sizeof(type));
    if (err == GF_OK && r > 0) {
        err = gf_coll_set_str(s, "type", type);
    }
    if (err == GF_OK && r < 0) {
        err = GF_ERR_NOMEM;
    }
    if (err == GF_OK && r > 0 && (strcmp(type, "Mains") == 0 || strcmp(type, "USB") == 0)) {
        if ((r = supply_ll(roots, name, "online", &v)) > 0 && (v == 0 || v == 1)) {
            sum->have_mains |= strcmp(type, "Mains") == 0;
            sum->mains_online |= strcmp(type, "Mains") == 0 && v == 1;
            err = gf_coll_set_bool(s, "online", (int)v);
        }
        err = r < 0 ? GF_ERR_NOMEM : err;
    } else if (err == GF_OK && r > 0 &&
               (strcmp(type, "Battery") == 0 || strcmp(type, "UPS") == 0)) {
        err = battery(roots, name, s, sum);
    }
    if (err != GF_OK) {
        json_decref(s);
        return err;
    }
    return gf_coll_append_new(arr, s);
}

enum gf_err gf_power_sample(void *state, const struct gf_collect_roots *roots, json_t *out)
{
    char names[GF_COLL_MAX_SUPPLIES][GF_COLL_NAME_MAX];
    struct power_summary sum = {0, 0, 0, 0};
    json_t *arr = json_array();
    size_t n, i;
    enum gf_err err = GF_OK;

    (void)state;
    if (arr == NULL) {
        return GF_ERR_NOMEM;
    }
    n = gf_coll_list_dir(roots->sysfs, SUPPLY_DIR, names, GF_COLL_MAX_SUPPLIES);
    for (i = 0; i < n && err == GF_OK; i++) {
        err = supply(roots, names[i], arr, &sum);
    }
    if (err == GF_OK && sum.have_mains) {
        err = gf_coll_set_bool(out, "mains_online", sum.mains_online);
    }
    if (err == GF_OK && sum.have_battery) {
        err = gf_coll_set_bool(out, "on_battery", sum.on_battery);
    }
    if (err != GF_OK) {
        json_decref(arr);
        return err;
    }
    return gf_coll_set_new(out, "supplies", arr);
}
