/* SPDX-License-Identifier: Apache-2.0
 *
 * disk.c - disk collector: per mounted real filesystem, size, free space and read-only flag.
 *
 * Mounts come from <procfs>/mounts, filtered to filesystems that live on storage (ext4, xfs,
 * btrfs, vfat, ...: pseudo filesystems such as proc, tmpfs, overlay or cgroup are skipped),
 * at most GF_COLL_MAX_MOUNTS of them. Each mount point is passed to statvfs() under
 * roots->mounts_root ("" in production, a fixture directory in tests). read_only comes from
 * the "ro" mount option. When statvfs fails the mount is still listed, without sizes.
 * free_bytes is what an unprivileged user may still write (f_bavail); used_pct is computed
 * like df: used / (used + available). Stateless. Output:
 *   {"mounts": [{"mount": "/", "device": "/dev/sda2", "fs": "ext4", "read_only": false,
 *                "total_bytes": .., "free_bytes": .., "used_pct": 41.2}]}
 */
#include "builtin.h"
#include "parse.h"

#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

static const char *const real_fs[] = {"ext2",  "ext3", "ext4",     "xfs",    "btrfs",   "vfat",
                                      "exfat", "f2fs", "jffs2",    "ubifs",  "zfs",     "ntfs",
                                      "ntfs3", "jfs",  "reiserfs", "nilfs2", "bcachefs"};

enum gf_err gf_disk_init(void **state)
{
    return gf_coll_init_none(state);
}

void gf_disk_free(void *state)
{
    gf_coll_free_none(state);
}

static int is_real_fs(const char *fs)
{
    size_t i;

    for (i = 0; i < sizeof(real_fs) / sizeof(real_fs[0]); i++) {
        if (strcmp(fs, real_fs[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* One space-separated field of a mounts line into out[cap], decoding the kernel's \ooo
 * escapes. 0 on success (cursor after the field), -1 if empty, too long or at end of line. */
static int field(const char **cur, char *out, size_t cap)
{
    const char *p = *cur;
    size_t n = 0;

    gf_coll_skip_blank(&p);
    while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n') {
        char c = *p++;
        if (c == '\\' && p[0] >= '0' && p[0] <= '3' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' &&
            p[2] <= '7') {
            c = (char)((p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0'));
            p += 3;
        }
        if (n + 1 >= cap || c == '\0') {
            return -1;
        }
        out[n++] = c;
    }
    if (n == 0) {
        return -1;
    }
    out[n] = '\0';
    *cur = p;
    return 0;
}

/* 1 if the comma-separated options contain exactly "ro". */
static int has_ro(const char *opts)
{
    const char *p = opts;

    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        if (n == 2 && p[0] == 'r' && p[1] == 'o') {
            return 1;
        }
        p += n;
        p += *p == ',' ? 1 : 0;
    }
    return 0;
}

static enum gf_err add_sizes(const char *prefix, const char *mnt, json_t *m)
{
    char path[GF_COLL_PATH_MAX];
    struct statvfs st;
    unsigned long long frsize, used, avail;
    int n = snprintf(path, sizeof(path), "%s%s", prefix, mnt);
    enum gf_err err;

    if (n < 0 || (size_t)n >= sizeof(path) || statvfs(path, &st) != 0 || st.f_blocks == 0 ||
        st.f_bfree > st.f_blocks) {
        return GF_OK;
    }
    frsize = st.f_frsize != 0 ? st.f_frsize : st.f_bsize;
    used = (unsigned long long)(st.f_blocks - st.f_bfree);
    avail = (unsigned long long)st.f_bavail;
    err = gf_coll_set_int(m, "total_bytes", (long long)(st.f_blocks * frsize));
    if (err == GF_OK) {
        err = gf_coll_set_int(m, "free_bytes", (long long)(avail * frsize));
    }
    if (err == GF_OK && used + avail > 0) {
        err = gf_coll_set_real(m, "used_pct", gf_coll_pct((double)used, (double)(used + avail)));
    }
    return err;
}

/* One mounts line: appended to arr when it is a real filesystem. */
static enum gf_err mount_line(const char *cur, const struct gf_collect_roots *roots, json_t *arr)
{
    char dev[GF_COLL_PATH_MAX], mnt[GF_COLL_PATH_MAX], fs[GF_COLL_NAME_MAX];
    char opts[GF_COLL_PATH_MAX];
    json_t *m;
    enum gf_err err;

    if (field(&cur, dev, sizeof(dev)) != 0 || field(&cur, mnt, sizeof(mnt)) != 0 ||
        field(&cur, fs, sizeof(fs)) != 0 || field(&cur, opts, sizeof(opts)) != 0 || mnt[0] != '/' ||
        !is_real_fs(fs)) {
        return GF_OK;
    }
    if ((m = json_object()) == NULL) {
        return GF_ERR_NOMEM;
    }
    err = gf_coll_set_str(m, "mount", mnt);
    if (err == GF_OK) {
        err = gf_coll_set_str(m, "device", dev);
    }
    if (err == GF_OK) {
        err = gf_coll_set_str(m, "fs", fs);
    }
    if (err == GF_OK) {
        err = gf_coll_set_bool(m, "read_only", has_ro(opts));
    }
    if (err == GF_OK) {
        err = add_sizes(roots->mounts_root, mnt, m);
    }
    if (err != GF_OK) {
        json_decref(m);
        return err;
    }
    return gf_coll_append_new(arr, m);
}

enum gf_err gf_disk_sample(void *state, const struct gf_collect_roots *roots, json_t *out)
{
    struct gf_buf b;
    const char *cur;
    json_t *arr = NULL;
    enum gf_err err = gf_coll_read(roots->procfs, "mounts", &b);

    (void)state;
    if (err != GF_OK) {
        err = err == GF_ERR_NOMEM ? err : GF_OK; /* no mounts file: no "mounts" key */
        goto out;
    }
    if ((arr = json_array()) == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    for (cur = b.data != NULL ? b.data : ""; *cur != '\0' && err == GF_OK;
         gf_coll_next_line(&cur)) {
        if (json_array_size(arr) >= GF_COLL_MAX_MOUNTS) {
            break;
        }
        err = mount_line(cur, roots, arr);
    }
    if (err == GF_OK) {
        err = gf_coll_set_new(out, "mounts", arr);
        arr = NULL;
    }
out:
    json_decref(arr);
    gf_buf_free(&b);
    return err;
}
