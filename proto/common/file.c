/* SPDX-License-Identifier: Apache-2.0
 *
 * file.c - bounded reads and crash-safe writes.
 */
#include "file.h"

#include "gf_limits.h"

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

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

/* One line s[0..n): trimmed, skipped when blank or a comment, split at its first '='. */
static enum gf_err one_entry(const char *s, size_t n, const char *where, const char *expected,
                             gf_file_entry_fn fn, void *ud, struct gf_diag *diag)
{
    const char *eq, *value;
    size_t nlen;

    while (n > 0 && (blank(s[n - 1]) || s[n - 1] == '\r')) {
        n--;
    }
    while (n > 0 && blank(*s)) {
        s++;
        n--;
    }
    if (n == 0 || s[0] == '#') {
        return GF_OK;
    }
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f) {
            return gf_diag_set(diag, GF_ERR_CONFIG, where, "control character in line");
        }
    }
    if ((eq = memchr(s, '=', n)) == NULL) {
        return gf_diag_set(diag, GF_ERR_CONFIG, where, "expected: %s", expected);
    }
    for (nlen = (size_t)(eq - s); nlen > 0 && blank(s[nlen - 1]); nlen--) {
    }
    for (value = eq + 1; value < s + n && blank(*value); value++) {
    }
    return fn(ud, s, nlen, value, (size_t)(s + n - value), where, diag);
}

static enum gf_err each_entry(const char *path, const struct gf_buf *b, const char *expected,
                              gf_file_entry_fn fn, void *ud, struct gf_diag *diag)
{
    const char *p = b->data != NULL ? b->data : "";
    const char *end = p + b->len;
    char where[128];
    unsigned line = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        enum gf_err err;
        line++;
        snprintf(where, sizeof(where), "%.100s:%u", path, line);
        if (n > GF_LIMIT_CONFIG_LINE) {
            return gf_diag_set(diag, GF_ERR_CONFIG, where, "line longer than %u bytes",
                               GF_LIMIT_CONFIG_LINE);
        }
        if (memchr(p, '\0', n) != NULL) {
            return gf_diag_set(diag, GF_ERR_CONFIG, where, "NUL byte in line");
        }
        if ((err = one_entry(p, n, where, expected, fn, ud, diag)) != GF_OK) {
            return err;
        }
        p += n + 1;
    }
    return GF_OK;
}

enum gf_err gf_file_entries(const char *path, const char *key, const char *expected,
                            gf_file_entry_fn fn, void *ud, struct gf_diag *diag)
{
    struct gf_buf b;
    enum gf_err err;

    gf_buf_init(&b, GF_LIMIT_CONFIG_FILE);
    err = gf_file_read(path, &b);
    if (err == GF_ERR_NOTFOUND) {
        err = gf_diag_set(diag, err, key, "%s does not exist", path);
    } else if (err == GF_ERR_TOOBIG) {
        err = gf_diag_set(diag, GF_ERR_CONFIG, key, "%s is larger than %u bytes", path,
                          GF_LIMIT_CONFIG_FILE);
    } else if (err != GF_OK) {
        err = gf_diag_set(diag, err, key, "cannot read %s", path);
    } else {
        err = each_entry(path, &b, expected, fn, ud, diag);
    }
    gf_buf_free(&b);
    return err;
}
