/* SPDX-License-Identifier: Apache-2.0
 *
 * file.c - bounded reads and crash-safe writes.
 */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum gf_err gf_file_read(const char *path, struct gf_buf *b)
{
    char chunk[8192];
    enum gf_err err = GF_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return errno == ENOENT ? GF_ERR_NOTFOUND : GF_ERR_IO;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            err = GF_ERR_IO;
            break;
        }
        if (n == 0) {
            break;
        }
        err = gf_buf_append(b, chunk, (size_t)n);
        if (err != GF_OK) {
            break;
        }
    }
    close(fd);
    return err;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

enum gf_err gf_file_write_atomic(const char *path, const void *data, size_t n, mode_t mode)
{
    char tmp[PATH_MAX];
    char dir[PATH_MAX];
    int fd = -1;
    int dfd = -1;
    enum gf_err err = GF_ERR_IO;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp) ||
        snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
        return GF_ERR_INVAL;
    }
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        *slash = '\0';
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        goto out;
    }
    if (fchmod(fd, mode) != 0 || write_all(fd, data, n) != 0 || fsync(fd) != 0) {
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        goto out;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
    }
    err = GF_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (dfd >= 0) {
        close(dfd);
    }
    if (err != GF_OK) {
        unlink(tmp);
    }
    return err;
}

enum gf_err gf_file_mkdirs(const char *path, mode_t mode)
{
    char p[PATH_MAX];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(p)) {
        return GF_ERR_INVAL;
    }
    memcpy(p, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (mkdir(p, mode) != 0 && errno != EEXIST) {
                return GF_ERR_IO;
            }
            p[i] = c;
        }
    }
    return GF_OK;
}
