/* SPDX-License-Identifier: Apache-2.0
 *
 * link.c - link collector: network interfaces from <sysfs>/class/net and the default route
 * from <procfs>/net/route.
 *
 * Per interface (sorted, loopback skipped, at most GF_COLL_MAX_IFACES): operstate, carrier
 * (absent while the interface is administratively down: the kernel refuses the read), speed
 * in Mb/s (absent when unknown, -1), rx/tx bytes and errors, and for each counter its delta
 * since the previous sample of the same interface (absent on the first sample, for a new
 * interface, or when the counter went backwards: a driver reset is not traffic). The state
 * keeps the last counters by interface name. default_route (any up route with destination
 * and mask 0.0.0.0) and default_iface appear when the route table could be read. Round-trip
 * time to the broker belongs to the MQTT session, not here. Output:
 *   {"default_route": true, "default_iface": "eth0", "interfaces": [
 *     {"name": "eth0", "operstate": "up", "carrier": true, "speed_mbps": 1000,
 *      "rx_bytes": .., "tx_bytes": .., "rx_errors": .., "tx_errors": ..,
 *      "rx_bytes_delta": .., "tx_bytes_delta": .., "rx_errors_delta": .., "tx_errors_delta": ..}]}
 */
#include "builtin.h"
#include "parse.h"

#include "alloc.h"

#include <stdio.h>
#include <string.h>

#define NET_DIR "class/net"
#define NCOUNTERS 4

static const char *const counter_file[NCOUNTERS] = {"rx_bytes", "tx_bytes", "rx_errors",
                                                    "tx_errors"};
static const char *const delta_key[NCOUNTERS] = {"rx_bytes_delta", "tx_bytes_delta",
                                                 "rx_errors_delta", "tx_errors_delta"};

struct link_iface {
    char name[GF_COLL_NAME_MAX];
    long long counter[NCOUNTERS];
    int have[NCOUNTERS];
};

struct link_state {
    size_t n;
    struct link_iface iface[GF_COLL_MAX_IFACES];
};

enum gf_err gf_link_init(void **state)
{
    struct link_state *s = gf_calloc(1, sizeof(*s));

    if (s == NULL) {
        return GF_ERR_NOMEM;
    }
    *state = s;
    return GF_OK;
}

void gf_link_free(void *state)
{
    gf_free(state);
}

static int iface_rel(char *rel, size_t cap, const char *name, const char *file)
{
    int n = snprintf(rel, cap, NET_DIR "/%s/%s", name, file);

    return n >= 0 && (size_t)n < cap;
}

static const struct link_iface *find_prev(const struct link_state *s, const char *name)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        if (strcmp(s->iface[i].name, name) == 0) {
            return &s->iface[i];
        }
    }
    return NULL;
}

/* Counters of one interface into cur and obj, with deltas against prev (may be NULL). */
static enum gf_err counters(const struct gf_collect_roots *roots, struct link_iface *cur,
                            const struct link_iface *prev, json_t *obj)
{
    char rel[GF_COLL_PATH_MAX], file[GF_COLL_NAME_MAX];
    size_t i;
    int r;
    enum gf_err err = GF_OK;

    for (i = 0; i < NCOUNTERS && err == GF_OK; i++) {
        int n = snprintf(file, sizeof(file), "statistics/%s", counter_file[i]);
        if (n < 0 || !iface_rel(rel, sizeof(rel), cur->name, file)) {
            continue;
        }
        r = gf_coll_read_ll(roots->sysfs, rel, &cur->counter[i]);
        if (r < 0) {
            return GF_ERR_NOMEM;
        }
        cur->have[i] = r > 0 && cur->counter[i] >= 0;
        if (!cur->have[i]) {
            continue;
        }
        err = gf_coll_set_int(obj, counter_file[i], cur->counter[i]);
        if (err == GF_OK && prev != NULL && prev->have[i] && cur->counter[i] >= prev->counter[i]) {
            err = gf_coll_set_int(obj, delta_key[i], cur->counter[i] - prev->counter[i]);
        }
    }
    return err;
}

static enum gf_err iface(const struct gf_collect_roots *roots, const struct link_state *old,
                         struct link_iface *cur, json_t *obj)
{
    char rel[GF_COLL_PATH_MAX], word[GF_COLL_WORD_MAX];
    long long v;
    int r;
    enum gf_err err = gf_coll_set_str(obj, "name", cur->name);

    if (err == GF_OK && iface_rel(rel, sizeof(rel), cur->name, "operstate") &&
        (r = gf_coll_read_word(roots->sysfs, rel, word, sizeof(word))) != 0) {
        err = r < 0 ? GF_ERR_NOMEM : gf_coll_set_str(obj, "operstate", word);
    }
    if (err == GF_OK && iface_rel(rel, sizeof(rel), cur->name, "carrier") &&
        (r = gf_coll_read_ll(roots->sysfs, rel, &v)) != 0) {
        err = r < 0                ? GF_ERR_NOMEM
              : (v == 0 || v == 1) ? gf_coll_set_bool(obj, "carrier", (int)v)
                                   : GF_OK;
    }
    if (err == GF_OK && iface_rel(rel, sizeof(rel), cur->name, "speed") &&
        (r = gf_coll_read_ll(roots->sysfs, rel, &v)) != 0) {
        err = r < 0 ? GF_ERR_NOMEM : v > 0 ? gf_coll_set_int(obj, "speed_mbps", v) : GF_OK;
    }
    return err != GF_OK ? err : counters(roots, cur, find_prev(old, cur->name), obj);
}

/* Up to 8 hex digits at *cur: 0 with the value, -1 when malformed. */
static int hex32(const char **cur, unsigned long *out)
{
    const char *p = *cur;
    unsigned long v = 0;
    size_t n = 0;

    gf_coll_skip_blank(&p);
    for (; n < 9; p++, n++) {
        char c = *p;
        unsigned d;
        if (c >= '0' && c <= '9') {
            d = (unsigned)(c - '0');
        } else if (c >= 'A' && c <= 'F') {
            d = (unsigned)(c - 'A' + 10);
        } else if (c >= 'a' && c <= 'f') {
            d = (unsigned)(c - 'a' + 10);
        } else {
            break;
        }
        v = v * 16 + d;
    }
    if (n == 0 || n > 8 || (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\0')) {
        return -1;
    }
    *out = v;
    *cur = p;
    return 0;
}

/* One route line: 1 and the interface name when it is an up default route. */
static int default_route_line(const char *cur, char *ifname, size_t cap)
{
    const char *name = cur;
    unsigned long dest, gw, flags, skip, mask;
    size_t n = strcspn(cur, " \t\n");
    int i;

    if (n == 0 || n >= cap) {
        return 0;
    }
    cur += n;
    if (hex32(&cur, &dest) != 0 || hex32(&cur, &gw) != 0 || hex32(&cur, &flags) != 0) {
        return 0;
    }
    for (i = 0; i < 3; i++) { /* RefCnt Use Metric (decimal, fits the hex grammar) */
        if (hex32(&cur, &skip) != 0) {
            return 0;
        }
    }
    if (hex32(&cur, &mask) != 0 || dest != 0 || mask != 0 || (flags & 1ul) == 0) {
        return 0;
    }
    memcpy(ifname, name, n);
    ifname[n] = '\0';
    return 1;
}

static enum gf_err route(const struct gf_collect_roots *roots, json_t *out)
{
    char ifname[GF_COLL_NAME_MAX];
    struct gf_buf b;
    const char *cur;
    int found = 0;
    enum gf_err err = gf_coll_read(roots->procfs, "net/route", &b);

    if (err != GF_OK) {
        err = err == GF_ERR_NOMEM ? err : GF_OK;
        goto out;
    }
    cur = b.data != NULL ? b.data : "";
    gf_coll_next_line(&cur); /* header */
    for (; *cur != '\0' && !found; gf_coll_next_line(&cur)) {
        found = default_route_line(cur, ifname, sizeof(ifname));
    }
    err = gf_coll_set_bool(out, "default_route", found);
    if (err == GF_OK && found) {
        err = gf_coll_set_str(out, "default_iface", ifname);
    }
out:
    gf_buf_free(&b);
    return err;
}

enum gf_err gf_link_sample(void *state, const struct gf_collect_roots *roots, json_t *out)
{
    struct link_state *s = state;
    struct link_state *next = NULL;
    char names[GF_COLL_MAX_IFACES][GF_COLL_NAME_MAX];
    json_t *arr = NULL, *obj;
    size_t n, i;
    enum gf_err err = GF_ERR_NOMEM;

    if ((next = gf_calloc(1, sizeof(*next))) == NULL || (arr = json_array()) == NULL) {
        goto out;
    }
    err = GF_OK;
    n = gf_coll_list_dir(roots->sysfs, NET_DIR, names, GF_COLL_MAX_IFACES);
    for (i = 0; i < n && err == GF_OK; i++) {
        struct link_iface *cur = &next->iface[next->n];
        if (strcmp(names[i], "lo") == 0) {
            continue;
        }
        memcpy(cur->name, names[i], sizeof(cur->name));
        if ((obj = json_object()) == NULL) {
            err = GF_ERR_NOMEM;
            break;
        }
        next->n++;
        err = iface(roots, s, cur, obj);
        if (err != GF_OK) {
            json_decref(obj);
            break;
        }
        err = gf_coll_append_new(arr, obj);
    }
    if (err == GF_OK) {
        err = route(roots, out);
    }
    if (err == GF_OK) {
        err = gf_coll_set_new(out, "interfaces", arr);
        arr = NULL;
    }
    if (err == GF_OK) {
        memcpy(s, next, sizeof(*s));
    }
out:
    json_decref(arr);
    gf_free(next);
    return err;
}
