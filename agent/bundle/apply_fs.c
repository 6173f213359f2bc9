/* SPDX-License-Identifier: Apache-2.0
 *
 * apply_fs.c - the version trees of the bundle apply engine (docs/internals/agent-bundles.md).
 * Everything below bundles/ is reached through directory descriptors with *at() calls and
 * O_NOFOLLOW, so a symlink planted anywhere in versions/ is never followed: staging creates
 * each directory with mkdirat and reopens it with O_DIRECTORY|O_NOFOLLOW, each file with
 * O_CREAT|O_EXCL|O_NOFOLLOW (the staged tree is new, nothing may pre-exist), and removal
 * looks at entries with fstatat(AT_SYMLINK_NOFOLLOW) and unlinks symlinks as names. Every
 * staged file and directory is fsynced before the tree is renamed to its final name, and
 * `current` is only ever replaced by rename(2) of a fresh symlink, so after a power cut it
 * points at the old or the new tree.
 */
#define GF_LOG_MODULE "bundle"
#include "apply_int.h"

#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TREE_DEPTH_MAX 32 /* rmtree / fsync recursion bound */
#define COPY_CHUNK (16u * 1024u)
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* ---- removal ---- */

static enum gf_err rm_at(int dfd, const char *name, int depth);

static enum gf_err rm_children(int fd, int depth)
{
    DIR *d = fdopendir(fd);
    struct dirent *e;
    enum gf_err err = GF_OK;

    if (d == NULL) {
        close(fd);
        return GF_ERR_IO;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (rm_at(dirfd(d), e->d_name, depth + 1) != GF_OK) {
            err = GF_ERR_IO;
        }
    }
    closedir(d); /* closes fd */
    return err;
}

static enum gf_err rm_at(int dfd, const char *name, int depth)
{
    struct stat st;
    int fd;

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return errno == ENOENT ? GF_OK : GF_ERR_IO;
    }
    if (!S_ISDIR(st.st_mode)) {
        return unlinkat(dfd, name, 0) == 0 || errno == ENOENT ? GF_OK : GF_ERR_IO;
    }
    if (depth > TREE_DEPTH_MAX) {
        return GF_ERR_IO;
    }
    fd = openat(dfd, name, DIR_FLAGS);
    if (fd < 0 || rm_children(fd, depth) != GF_OK) {
        return GF_ERR_IO;
    }
    return unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? GF_OK : GF_ERR_IO;
}

enum gf_err gf_apply_rmtree(int dfd, const char *name)
{
    enum gf_err err = rm_at(dfd, name, 0);

    if (err != GF_OK) {
        gf_log_error("cannot remove a version tree", "dir=%s errno=%d", name, errno);
    }
    return err;
}

/* ---- staging ---- */

/* fsync every directory below fd (not following symlinks), then fd itself. */
static int fsync_tree(int fd, int depth)
{
    int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* own offset */
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    struct dirent *e;
    struct stat st;
    int rc = 0;

    if (d == NULL) {
        if (dup_fd >= 0) {
            close(dup_fd);
        }
        return -1;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            int sub = depth < TREE_DEPTH_MAX ? openat(fd, e->d_name, DIR_FLAGS) : -1;
            rc = sub >= 0 ? fsync_tree(sub, depth + 1) : -1;
            if (sub >= 0) {
                close(sub);
            }
        }
    }
    closedir(d);
    return rc == 0 ? fsync(fd) : -1;
}

static int component_ok(const char *c, size_t n)
{
    return n > 0 && !(n == 1 && c[0] == '.') && !(n == 2 && c[0] == '.' && c[1] == '.');
}

/* Open (creating 0755 if missing) directory name under dfd without following a symlink. */
static int subdir(int dfd, const char *name)
{
    int created = mkdirat(dfd, name, 0755) == 0;
    int fd;

    if (!created && errno != EEXIST) {
        return -1;
    }
    fd = openat(dfd, name, DIR_FLAGS);
    if (fd >= 0 && created && fchmod(fd, 0755) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Copy src into dst; returns the bytes copied or -1 (errno set). */
static long long copy_fd(int src, int dst)
{
    char buf[COPY_CHUNK];
    long long total = 0;

    for (;;) {
        ssize_t n = read(src, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -1 : total;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(dst, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                if (w == 0) {
                    errno = EIO;
                }
                return -1;
            }
            off += w;
        }
        total += n;
    }
}

/* Write the file base under dir from blob, with mode, fsynced. errno set on failure. */
static int write_file(int dir, const char *base, const char *blobs_dir,
                      const struct gf_manifest_file *f)
{
    char blob[PATH_MAX];
    int src = -1, dst = -1, rc = -1;
    long long n;

    if (strlen(f->sha256) != 64 || strspn(f->sha256, "0123456789abcdef") != 64 ||
        snprintf(blob, sizeof(blob), "%s/%s", blobs_dir, f->sha256) >= (int)sizeof(blob)) {
        errno = EINVAL;
        return -1;
    }
    src = open(blob, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    dst = src >= 0 ? openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)
                   : -1;
    if (dst < 0) {
        goto out;
    }
    n = copy_fd(src, dst);
    if (n >= 0 && (unsigned long long)n != f->size) {
        errno = EINVAL; /* the blob changed after it was checked */
        n = -1;
    }
    if (n < 0 || fchmod(dst, (mode_t)(f->mode & 0777)) != 0 || fsync(dst) != 0) {
        goto out;
    }
    rc = close(dst);
    dst = -1;
out:
    if (dst >= 0) {
        int keep = errno;
        close(dst);
        errno = keep;
    }
    if (src >= 0) {
        int keep = errno;
        close(src);
        errno = keep;
    }
    return rc;
}

/* Create f->path under root: parent dirs (0755), then the file. errno set on failure. */
static int put_file(int root, const char *blobs_dir, const struct gf_manifest_file *f)
{
    char comp[GF_MANIFEST_PATH_MAX + 1];
    const char *p = f->path;
    int cur = root, rc = -1;

    if (p[0] == '/' || strlen(p) > GF_MANIFEST_PATH_MAX) {
        errno = EINVAL;
        return -1;
    }
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (!component_ok(p, n)) {
            errno = EINVAL;
            break;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        if (slash == NULL) {
            rc = write_file(cur, comp, blobs_dir, f);
            break;
        }
        int next = subdir(cur, comp);
        if (next < 0) {
            break;
        }
        if (cur != root) {
            close(cur);
        }
        cur = next;
        p = slash + 1;
    }
    if (cur != root) {
        int keep = errno;
        close(cur);
        errno = keep;
    }
    return rc;
}

static void fail_reason(char *reason, size_t cap, int eno)
{
    int full = eno == ENOSPC || eno == EDQUOT || eno == EFBIG;

    snprintf(reason, cap, "%s", full ? "disk_full" : "io");
}

enum gf_err gf_apply_stage(int vfd, const char *blobs_dir, const struct gf_manifest *m,
                           const char *name, char *reason, size_t reason_cap)
{
    char staging[GF_APPLY_DIR_MAX + 16];
    int sfd = -1, eno = 0;
    enum gf_err err = GF_ERR_IO;

    if (snprintf(staging, sizeof(staging), "%s.staging", name) >= (int)sizeof(staging)) {
        fail_reason(reason, reason_cap, EINVAL);
        return GF_ERR_IO;
    }
    if (gf_apply_rmtree(vfd, staging) != GF_OK || gf_apply_rmtree(vfd, name) != GF_OK) {
        eno = errno;
        goto out;
    }
    if (mkdirat(vfd, staging, 0755) != 0 || (sfd = openat(vfd, staging, DIR_FLAGS)) < 0 ||
        fchmod(sfd, 0755) != 0) {
        eno = errno;
        goto out;
    }
    for (size_t i = 0; i < m->nfiles; i++) {
        if (put_file(sfd, blobs_dir, &m->files[i]) != 0) {
            eno = errno;
            gf_log_error("cannot stage a bundle file", "bundle=%s file=%s errno=%d", m->name,
                         m->files[i].path, eno);
            goto out;
        }
    }
    if (fsync_tree(sfd, 0) != 0 || renameat(vfd, staging, vfd, name) != 0 || fsync(vfd) != 0) {
        eno = errno;
        goto out;
    }
    err = GF_OK;
out:
    if (sfd >= 0) {
        close(sfd);
    }
    if (err != GF_OK) {
        fail_reason(reason, reason_cap, eno);
        gf_apply_rmtree(vfd, staging);
        gf_log_error("staging failed", "bundle=%s dir=%s reason=%s errno=%d", m->name, name, reason,
                     eno);
    }
    return err;
}

/* ---- the current symlink ---- */

enum gf_err gf_apply_link(int bfd, const char *target)
{
    if (target[0] == '\0') {
        if (unlinkat(bfd, "current", 0) != 0 && errno != ENOENT) {
            goto fail;
        }
    } else if ((unlinkat(bfd, "current.new", 0) != 0 && errno != ENOENT) ||
               symlinkat(target, bfd, "current.new") != 0 ||
               renameat(bfd, "current.new", bfd, "current") != 0) {
        goto fail;
    }
    if (fsync(bfd) != 0) {
        goto fail;
    }
    return GF_OK;
fail:
    gf_log_error("cannot switch current", "target=%s errno=%d", target, errno);
    return GF_ERR_IO;
}

enum gf_err gf_apply_link_read(int bfd, char *out, size_t cap)
{
    ssize_t n;

    if (cap == 0) {
        return GF_ERR_TOOBIG;
    }
    n = readlinkat(bfd, "current", out, cap - 1);
    if (n < 0) {
        if (errno == ENOENT) {
            out[0] = '\0';
            return GF_OK;
        }
        return GF_ERR_IO;
    }
    if ((size_t)n >= cap - 1) {
        return GF_ERR_TOOBIG;
    }
    out[n] = '\0';
    return GF_OK;
}

void gf_apply_prune(int vfd, const char *keep1, const char *keep2)
{
    int fd = openat(vfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* own offset */
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;

    if (d == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        gf_log_warn("cannot list versions to prune", "errno=%d", errno);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, keep1) == 0 || strcmp(e->d_name, keep2) == 0) {
            continue;
        }
        if (gf_apply_rmtree(vfd, e->d_name) == GF_OK) {
            gf_log_info("pruned an old version", "dir=%s", e->d_name);
        }
    }
    closedir(d);
    if (fsync(vfd) != 0) {
        gf_log_warn("cannot fsync versions/", "errno=%d", errno);
    }
}
