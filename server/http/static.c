/* SPDX-License-Identifier: Apache-2.0
 *
 * static.c - the web dashboard's files from web_root. Paths are checked character by
 * character (no "..", no hidden files, no backslashes) before touching the file system;
 * "/" serves index.html; files are read with a size cap.
 */
#include "req_impl.h"

#include "../core/app.h"
#include "file.h"
#include "gf_limits.h"

#include <limits.h>
#include <string.h>

static const char *mime(const char *path)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},  {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},    {".json", "application/json"},
        {".svg", "image/svg+xml"},              {".png", "image/png"},
        {".ico", "image/x-icon"},               {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(path, '.');

    for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(dot, types[i].ext) == 0) {
            return types[i].type;
        }
    }
    return "application/octet-stream";
}

static int safe_path(const char *p)
{
    if (p[0] != '/') {
        return 0;
    }
    for (const char *s = p; *s; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '/' || c == '-' || c == '_' || c == '.';
        if (!ok || (c == '.' && s[-1] == '/') || (c == '/' && s[1] == '/')) {
            return 0; /* no hidden files, no "..", no "//" */
        }
    }
    return 1;
}

void gf_static_serve(struct gf_req *r)
{
    const char *root = r->app->cfg.web_root;
    const char *p = strcmp(r->path, "/") == 0 ? "/index.html" : r->path;
    char full[PATH_MAX];
    struct gf_buf b;

    if (root == NULL || !safe_path(p) ||
        snprintf(full, sizeof(full), "%s%s", root, p) >= (int)sizeof(full)) {
        gf_req_fail(r, GF_ERR_NOTFOUND, "", "no such file");
        gf_problem_reply(r, GF_ERR_NOTFOUND);
        return;
    }
    gf_buf_init(&b, GF_LIMIT_STATIC_FILE);
    enum gf_err err = gf_file_read(full, &b);
    if (err != GF_OK) {
        gf_buf_free(&b);
        gf_req_fail(r, GF_ERR_NOTFOUND, "", "no such file");
        gf_problem_reply(r, GF_ERR_NOTFOUND);
        return;
    }
    size_t len = b.len;
    char *data = gf_buf_steal(&b, NULL);
    gf_req_reply_owned(r, 200, mime(p), data, len);
    r->matched = 0; /* security headers as for unmatched */
}
