/* SPDX-License-Identifier: Apache-2.0
 *
 * httpc_url.c - URLs for the agent's HTTP client (see httpc.h): a strict parser for http(s)
 * URLs and proxy URLs, and the proxy choice from the environment the way libcurl made it
 * (https_proxy / HTTPS_PROXY, http_proxy, all_proxy, no_proxy with domains and CIDR blocks).
 * Everything a URL may put on the wire is checked here: no spaces, control characters or
 * user info reach a request line or a Host header.
 */
#include "httpc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int host_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

/* Percent-decode s[0..n) into out (cap includes the NUL). */
static enum gf_err pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            char hex[3] = {0, 0, 0};
            if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
                !isxdigit((unsigned char)s[i + 2])) {
                return GF_ERR_INVAL;
            }
            hex[0] = s[i + 1];
            hex[1] = s[i + 2];
            c = (unsigned char)strtoul(hex, NULL, 16);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f || o + 1 >= cap) {
            return c < 0x20 || c == 0x7f ? GF_ERR_INVAL : GF_ERR_TOOBIG;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return GF_OK;
}

/* user[:password] of a proxy URL. */
static enum gf_err parse_userinfo(const char *s, size_t n, struct gf_httpc_url *u)
{
    const char *colon = memchr(s, ':', n);
    size_t ulen = colon ? (size_t)(colon - s) : n;
    enum gf_err err = pct_decode(s, ulen, u->user, sizeof(u->user));

    if (err == GF_OK && colon != NULL) {
        err = pct_decode(colon + 1, n - ulen - 1, u->password, sizeof(u->password));
    }
    return err;
}

/* host[:port] (authority without user info). */
static enum gf_err parse_hostport(const char *s, size_t n, struct gf_httpc_url *u)
{
    const char *end = s + n, *h = s, *hend;
    unsigned char addr[16];

    if (n > 0 && s[0] == '[') {
        hend = memchr(s, ']', n);
        if (hend == NULL) {
            return GF_ERR_INVAL;
        }
        h = s + 1;
        u->ipv6 = 1;
        s = hend + 1;
    } else {
        for (s = h; s < end && *s != ':'; s++) {
            if (!host_char(*s)) {
                return GF_ERR_INVAL;
            }
        }
        hend = s;
    }
    size_t hlen = (size_t)(hend - h);
    if (hlen == 0) {
        return GF_ERR_INVAL;
    }
    if (hlen > GF_HTTPC_HOST_MAX) {
        return GF_ERR_TOOBIG;
    }
    memcpy(u->host, h, hlen);
    u->host[hlen] = '\0';
    if (u->ipv6) {
        if (inet_pton(AF_INET6, u->host, addr) != 1) {
            return GF_ERR_INVAL; /* zone ids ("%25eth0") included */
        }
        u->ip_literal = 1;
    } else {
        u->ip_literal = inet_pton(AF_INET, u->host, addr) == 1;
    }
    if (s < end) {
        if (*s != ':' || s + 1 == end || end - s > 6) {
            return GF_ERR_INVAL;
        }
        unsigned long port = 0;
        for (s++; s < end; s++) {
            if (!isdigit((unsigned char)*s)) {
                return GF_ERR_INVAL;
            }
            port = port * 10 + (unsigned long)(*s - '0');
        }
        if (port == 0 || port > 65535) {
            return GF_ERR_INVAL;
        }
        u->port = (unsigned)port;
    }
    return GF_OK;
}

/* Path, query (fragment dropped): no spaces or control characters. */
static enum gf_err parse_path(const char *s, struct gf_httpc_url *u)
{
    size_t n = strcspn(s, "#"), o = 0;

    if (n == 0 || s[0] != '/') {
        u->path[o++] = '/';
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f) {
            return GF_ERR_INVAL;
        }
        if (o + 1 >= sizeof(u->path)) {
            return GF_ERR_TOOBIG;
        }
        u->path[o++] = (char)c;
    }
    u->path[o] = '\0';
    return GF_OK;
}

enum gf_err gf_httpc_url_parse(const char *url, int flags, struct gf_httpc_url *out)
{
    struct gf_httpc_url tmp, *u = &tmp;
    const char *p = url;
    enum gf_err err = GF_ERR_INVAL;
    int proxy = (flags & GF_HTTPC_URL_PROXY) != 0;

    memset(u, 0, sizeof(*u));
    if (strncasecmp(p, "https://", 8) == 0) {
        u->tls = 1;
        p += 8;
    } else if (strncasecmp(p, "http://", 7) == 0) {
        p += 7;
    } else if (!proxy || strstr(p, "://") != NULL) {
        goto out; /* another scheme; only proxies may omit it */
    }
    if (proxy && u->tls) {
        goto out; /* TLS to the proxy itself: not supported */
    }
    u->port = proxy ? 1080 : u->tls ? 443 : 80;
    size_t alen = strcspn(p, "/?#");
    const char *at = memchr(p, '@', alen);
    if (at != NULL) {
        if (!proxy) {
            goto out;
        }
        if ((err = parse_userinfo(p, (size_t)(at - p), u)) != GF_OK) {
            goto out;
        }
        alen -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if ((err = parse_hostport(p, alen, u)) != GF_OK) {
        goto out;
    }
    if (!proxy && (err = parse_path(p + alen, u)) != GF_OK) {
        goto out;
    }
    if (proxy) {
        u->path[0] = '/';
    }
    *out = *u;
out:
    return err;
}

/* ------------------------------------------------------------------ no_proxy */

/* entry "addr/bits" (or a plain address) against host. */
static int cidr_match(const char *entry, size_t n, const char *host)
{
    char buf[64];
    unsigned char net[16], addr[16];
    const char *slash = memchr(entry, '/', n);
    size_t alen = slash ? (size_t)(slash - entry) : n;
    int family = memchr(entry, ':', alen) ? AF_INET6 : AF_INET;
    unsigned long bits = family == AF_INET6 ? 128 : 32, max = bits;

    if (alen >= sizeof(buf)) {
        return 0;
    }
    memcpy(buf, entry, alen);
    buf[alen] = '\0';
    if (inet_pton(family, buf, net) != 1 || inet_pton(family, host, addr) != 1) {
        return 0;
    }
    if (slash != NULL) {
        char *end;
        size_t blen = n - alen - 1;
        if (blen == 0 || blen > 3 || !isdigit((unsigned char)slash[1])) {
            return 0;
        }
        memcpy(buf, slash + 1, blen);
        buf[blen] = '\0';
        bits = strtoul(buf, &end, 10);
        if (*end != '\0' || bits > max) {
            return 0;
        }
    }
    size_t whole = bits / 8;
    if (memcmp(net, addr, whole) != 0) {
        return 0;
    }
    unsigned rest = (unsigned)(bits % 8);
    unsigned char mask = (unsigned char)(0xffu << (8 - rest));
    return rest == 0 || (net[whole] & mask) == (addr[whole] & mask);
}

static int entry_match(const char *e, size_t n, const char *host)
{
    size_t hlen = strlen(host);

    if (n >= 2 && e[0] == '[' && e[n - 1] == ']') {
        e++;
        n -= 2;
    }
    if (n == 0) {
        return 0;
    }
    if (cidr_match(e, n, host)) {
        return 1;
    }
    if (e[0] == '.') {
        e++;
        n--;
    }
    if (n == 0 || n > hlen || strncasecmp(host + hlen - n, e, n) != 0) {
        return 0;
    }
    return n == hlen || host[hlen - n - 1] == '.';
}

int gf_httpc_no_proxy_match(const char *list, const char *host)
{
    const char *p = list;

    if (list == NULL) {
        return 0;
    }
    while (*p) {
        p += strspn(p, ", \t");
        size_t n = strcspn(p, ", \t");
        if (n == 1 && p[0] == '*') {
            return 1;
        }
        if (n > 0 && entry_match(p, n, host)) {
            return 1;
        }
        p += n;
    }
    return 0;
}

static const char *env_first(const char *const *names, const char **which)
{
    for (size_t i = 0; names[i] != NULL; i++) {
        const char *v = getenv(names[i]);
        if (v != NULL && v[0] != '\0') {
            *which = names[i];
            return v;
        }
    }
    return NULL;
}

enum gf_err gf_httpc_proxy_env(const struct gf_httpc_url *target, struct gf_httpc_url *proxy,
                               int *use, struct gf_diag *diag)
{
    /* libcurl's order; HTTP_PROXY in capitals is ignored on purpose (httpoxy, CGI). */
    static const char *const https_vars[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                                             NULL};
    static const char *const http_vars[] = {"http_proxy", "all_proxy", "ALL_PROXY", NULL};
    static const char *const no_vars[] = {"no_proxy", "NO_PROXY", NULL};
    const char *which = NULL, *nowhich = NULL;
    const char *v = env_first(target->tls ? https_vars : http_vars, &which);

    *use = 0;
    if (v == NULL || gf_httpc_no_proxy_match(env_first(no_vars, &nowhich), target->host)) {
        return GF_OK;
    }
    enum gf_err err = gf_httpc_url_parse(v, GF_HTTPC_URL_PROXY, proxy);
    if (err != GF_OK) {
        return gf_diag_set(diag, GF_ERR_CONFIG, which,
                           "%s: expected http://[user:password@]host[:port]", which);
    }
    *use = 1;
    return GF_OK;
}
