/* SPDX-License-Identifier: Apache-2.0
 *
 * inventory.h - what the agent tells the server about its box at enrollment and in every
 * birth message (hostname, OS, kernel, architecture, agent version, CPU model, memory, disks,
 * network interfaces), and the hardware fingerprint (machine-id, DMI serial). Read under
 * the configured procfs/sysfs roots; a missing file leaves its member out.
 */
#ifndef GF_AGENT_INVENTORY_H
#define GF_AGENT_INVENTORY_H

#include <jansson.h>

struct gf_collect_roots;

/* New objects (caller owns); sample (optional) is a health sample to take disks and
 * interfaces from. NULL only when out of memory. */
json_t *gf_inventory(const struct gf_collect_roots *roots, const json_t *sample);
json_t *gf_fingerprint(const struct gf_collect_roots *roots);

/* The kernel's boot id (<procfs>/sys/kernel/random/boot_id) into out, or "unknown". */
void gf_boot_id(const struct gf_collect_roots *roots, char *out, size_t cap);

#endif
