/* SPDX-License-Identifier: Apache-2.0
 *
 * limits.h - the fixed caps of the health collectors in one place.
 *
 * Every file a collector reads goes through a gf_buf capped at GF_COLL_READ_CAP, and every
 * list it walks (mounts, network interfaces, power supplies, thermal zones) stops at its cap,
 * so a strange or hostile /proc or /sys can cost bounded memory and time, never more.
 */
#ifndef GF_AGENT_COLLECTORS_LIMITS_H
#define GF_AGENT_COLLECTORS_LIMITS_H

#define GF_COLL_READ_CAP (64u * 1024u) /* one /proc or /sys file */
#define GF_COLL_PATH_MAX 512u          /* root + relative path */
#define GF_COLL_NAME_MAX 64u           /* interface, supply or zone name, fs type */
#define GF_COLL_WORD_MAX 64u           /* a one-word sysfs value (operstate, status) */
#define GF_COLL_MAX_MOUNTS 64u
#define GF_COLL_MAX_IFACES 64u
#define GF_COLL_MAX_SUPPLIES 64u
#define GF_COLL_MAX_ZONES 64u
#define GF_COLL_MAX_CPUS 4096u     /* "cpuN" lines counted in /proc/stat */
#define GF_COLL_MAX_COLLECTORS 16u /* size of a states array for gf_collect_all */

#endif
