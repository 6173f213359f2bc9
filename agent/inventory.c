/* SPDX-License-Identifier: Apache-2.0
 *
 * inventory.c - inventory, fingerprint and boot id (see inventory.h).
 */
#include "inventory.h"

#include "collectors/collector.h"
#include "collectors/parse.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef GF_VERSION
#define GF_VERSION "0.0.0"
#endif

/* First line of <root>/<rel> into out ("" when absent). */
static void first_line(const char *root, const char *rel, char *out, size_t cap)
{
    if (gf_coll_read_word(root, rel, out, cap) != 1) {
        out[0] = '\0';
    }
}

/* Value of key=... in an os-release style file. */
static void os_release(char *out, size_t cap)
{
    char line[256];
    FILE *f = fopen("/etc/os-release", "r");

    out[0] = '\0';
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "PRETTY_NAME=", 12) == 0) {
            char *v = line + 12;
            v[strcspn(v, "\n")] = '\0';
            if (v[0] == '"') {
                v++;
                v[strcspn(v, "\"")] = '\0';
            }
            size_t n = strlen(v) < cap ? strlen(v) : cap - 1; /* truncate long names */
            memcpy(out, v, n);
            out[n] = '\0';
        }
    }
    if (f != NULL) {
        fclose(f);
    }
}

/* "model name : X" of <procfs>/cpuinfo, or "" */
static void cpu_model(const char *procfs, char *out, size_t cap)
{
    struct gf_buf b;

    out[0] = '\0';
    gf_buf_init(&b, 1u << 20);
    if (gf_coll_read(procfs, "cpuinfo", &b) == GF_OK && b.data != NULL) {
        const char *m = strstr(b.data, "model name");
        if (m != NULL && (m = strchr(m, ':')) != NULL) {
            m++;
            while (*m == ' ' || *m == '\t') {
                m++;
            }
            snprintf(out, cap, "%.*s", (int)strcspn(m, "\n"), m);
        }
    }
    gf_buf_free(&b);
}

json_t *gf_inventory(const struct gf_collect_roots *roots, const json_t *sample)
{
    struct utsname u;
    char host[256] = "", os[128], model[160];
    json_t *inv = json_object(), *disks = json_array(), *ifaces = json_array();
    size_t i;
    json_t *e;

    if (inv == NULL || disks == NULL || ifaces == NULL) {
        json_decref(inv);
        json_decref(disks);
        json_decref(ifaces);
        return NULL;
    }
    gethostname(host, sizeof(host) - 1);
    os_release(os, sizeof(os));
    cpu_model(roots->procfs, model, sizeof(model));
    json_object_set_new(inv, "hostname", json_string(host));
    json_object_set_new(inv, "agent_version", json_string(GF_VERSION));
    if (uname(&u) == 0) {
        json_object_set_new(inv, "kernel", json_string(u.release));
        json_object_set_new(inv, "arch", json_string(u.machine));
    }
    if (os[0]) {
        json_object_set_new(inv, "os", json_string(os));
    }
    if (model[0]) {
        json_object_set_new(inv, "cpu_model", json_string(model));
    }
    const json_t *mem = json_object_get(json_object_get(sample, "memory"), "total_bytes");
    if (json_is_integer(mem)) {
        json_object_set(inv, "mem_total_bytes", (json_t *)mem);
    }
    json_array_foreach(json_object_get(json_object_get(sample, "disk"), "mounts"), i, e) {
        json_array_append_new(disks, json_pack("{s:O?, s:O?, s:O?}", "mount",
                                               json_object_get(e, "mount"), "fs",
                                               json_object_get(e, "fs"), "total_bytes",
                                               json_object_get(e, "total_bytes")));
    }
    json_array_foreach(json_object_get(json_object_get(sample, "link"), "interfaces"), i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        char rel[128], mac[32] = "";
        if (name == NULL) {
            continue;
        }
        snprintf(rel, sizeof(rel), "class/net/%s/address", name);
        first_line(roots->sysfs, rel, mac, sizeof(mac));
        json_array_append_new(ifaces, mac[0] ? json_pack("{s:s, s:s}", "name", name, "mac", mac)
                                             : json_pack("{s:s}", "name", name));
    }
    json_object_set_new(inv, "disks", disks);
    json_object_set_new(inv, "interfaces", ifaces);
    return inv;
}

json_t *gf_fingerprint(const struct gf_collect_roots *roots)
{
    char id[128] = "", serial[128] = "";
    json_t *fp = json_object();
    FILE *f = fopen("/etc/machine-id", "r");

    if (f != NULL) {
        if (fgets(id, sizeof(id), f) != NULL) {
            id[strcspn(id, "\n")] = '\0';
        }
        fclose(f);
    }
    first_line(roots->sysfs, "class/dmi/id/product_serial", serial, sizeof(serial));
    if (fp != NULL && id[0]) {
        json_object_set_new(fp, "machine_id", json_string(id));
    }
    if (fp != NULL && serial[0]) {
        json_object_set_new(fp, "dmi_serial", json_string(serial));
    }
    return fp;
}

void gf_boot_id(const struct gf_collect_roots *roots, char *out, size_t cap)
{
    first_line(roots->procfs, "sys/kernel/random/boot_id", out, cap);
    if (out[0] == '\0') {
        snprintf(out, cap, "unknown");
    }
}
