/* SPDX-License-Identifier: Apache-2.0
 *
 * test_httpc.c - the agent's HTTP client through httpc.h, without a network: URL and proxy
 * URL parsing (schemes, IPv6 literals, ports, user info, smuggling characters, bounds),
 * no_proxy matching (domains, addresses, CIDR) and the proxy environment, the HTTP date
 * parser, and the response parser fed whole and byte by byte from a table of answers (status
 * line, headers, Content-Length, chunked, read-to-close, 1xx, bounds, malformed framing, a
 * sink that aborts). Then whole requests against a tiny server on 127.0.0.1 in a thread:
 * the request head and body on the wire, a chunked answer, a refused connection, the overall
 * timeout, a header line that would smuggle another, both proxy forms (absolute-form GET
 * and a refused CONNECT), and every allocation of a request failing in turn.
 */
#include "alloc.h"
#include "gf_test.h"
#include "httpc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ URLs */

static void test_urls(void)
{
    struct gf_httpc_url u;

    CHECK(gf_httpc_url_parse("https://example.com", 0, &u) == GF_OK);
    CHECK(u.tls && u.port == 443 && !u.ip_literal && !u.ipv6);
    CHECK_STR(u.host, "example.com");
    CHECK_STR(u.path, "/");
    CHECK(gf_httpc_url_parse("http://127.0.0.1:8080/api/v1/x?y=1#frag", 0, &u) == GF_OK);
    CHECK(!u.tls && u.port == 8080 && u.ip_literal && !u.ipv6);
    CHECK_STR(u.path, "/api/v1/x?y=1");
    CHECK(gf_httpc_url_parse("https://[::1]:8443/p", 0, &u) == GF_OK);
    CHECK(u.ipv6 && u.ip_literal && u.port == 8443);
    CHECK_STR(u.host, "::1");
    CHECK(gf_httpc_url_parse("HTTPS://Gate_Fleet.example/", 0, &u) == GF_OK && u.tls);
    CHECK(gf_httpc_url_parse("http://h?q=1", 0, &u) == GF_OK);
    CHECK_STR(u.path, "/?q=1");
    CHECK(gf_httpc_url_parse("http://h:65535", 0, &u) == GF_OK && u.port == 65535);

    static const char *const bad[] = {
        "ftp://x",
        "https://",
        "//host/",
        "host/",
        "https://user@host/",
        "https://u:p@host",
        "https://host:0",
        "https://host:65536",
        "https://host:",
        "https://host:80a",
        "https://host:0000080",
        "https://[::1",
        "https://[zz]/",
        "https://[fe80::1%25eth0]/",
        "https://ho st/",
        "https://host/a b",
        "https://host/\r\nX: y",
        "https://host/\x7f",
        "https://host/\xc3\xa9",
        "https://ho%73t/",
        "https://host\\.example/",
        "https://[::1]x/",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        u.port = 7;
        enum gf_err err = gf_httpc_url_parse(bad[i], 0, &u);
        if (err != GF_ERR_INVAL) {
            fprintf(stderr, "accepted bad URL %zu: %s (%d)\n", i, bad[i], (int)err);
        }
        CHECK(err == GF_ERR_INVAL);
        CHECK(u.port == 7); /* not written */
    }

    char big[GF_LIMIT_URL_BYTES + 64];
    memset(big, 'a', sizeof(big));
    memcpy(big, "https://", 8);
    big[8 + GF_HTTPC_HOST_MAX + 1] = '\0';
    CHECK(gf_httpc_url_parse(big, 0, &u) == GF_ERR_TOOBIG);
    big[8 + GF_HTTPC_HOST_MAX] = '\0';
    CHECK(gf_httpc_url_parse(big, 0, &u) == GF_OK);
    memset(big, 'a', sizeof(big));
    memcpy(big, "https://h/", 10);
    big[9 + GF_LIMIT_URL_BYTES] = '\0';
    CHECK(gf_httpc_url_parse(big, 0, &u) == GF_OK && strlen(u.path) == GF_LIMIT_URL_BYTES);
    big[9 + GF_LIMIT_URL_BYTES] = 'a';
    big[10 + GF_LIMIT_URL_BYTES] = '\0';
    CHECK(gf_httpc_url_parse(big, 0, &u) == GF_ERR_TOOBIG);

    /* Proxies: scheme optional, user info decoded, port 1080 by default, path ignored. */
    CHECK(gf_httpc_url_parse("proxy.example:3128", GF_HTTPC_URL_PROXY, &u) == GF_OK);
    CHECK(u.port == 3128 && !u.tls && u.user[0] == '\0');
    CHECK_STR(u.host, "proxy.example");
    CHECK(gf_httpc_url_parse("http://u%40x:p%3Aw@10.0.0.1/ignored", GF_HTTPC_URL_PROXY, &u) ==
          GF_OK);
    CHECK(u.port == 1080 && u.ip_literal);
    CHECK_STR(u.user, "u@x");
    CHECK_STR(u.password, "p:w");
    CHECK(gf_httpc_url_parse("socks5://p:1", GF_HTTPC_URL_PROXY, &u) == GF_ERR_INVAL);
    CHECK(gf_httpc_url_parse("https://p:1", GF_HTTPC_URL_PROXY, &u) == GF_ERR_INVAL);
    CHECK(gf_httpc_url_parse("http://u%0a:p@p:1", GF_HTTPC_URL_PROXY, &u) == GF_ERR_INVAL);
    CHECK(gf_httpc_url_parse("http://u%4:p@p:1", GF_HTTPC_URL_PROXY, &u) == GF_ERR_INVAL);
}

static void test_no_proxy(void)
{
    static const struct {
        const char *list, *host;
        int want;
    } cases[] = {
        {"*", "anything.example", 1},
        {"example.com", "example.com", 1},
        {"example.com", "a.b.EXAMPLE.com", 1},
        {".example.com", "example.com", 1},
        {".example.com", "x.example.com", 1},
        {"example.com", "badexample.com", 0},
        {"example.com", "example.com.evil", 0},
        {"localhost, 127.0.0.1", "127.0.0.1", 1},
        {"localhost 10.0.0.0/8", "10.1.2.3", 1},
        {"10.0.0.0/8", "11.0.0.1", 0},
        {"192.168.1.128/25", "192.168.1.200", 1},
        {"192.168.1.128/25", "192.168.1.100", 0},
        {"10.0.0.0/33", "10.0.0.1", 0},
        {"::1", "::1", 1},
        {"[::1]", "::1", 1},
        {"fd00::/8", "fd12::1", 1},
        {"fd00::/8", "fe80::1", 0},
        {"", "x", 0},
        {",,", "x", 0},
        {"*.example.com", "a.example.com", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = gf_httpc_no_proxy_match(cases[i].list, cases[i].host);
        if (got != cases[i].want) {
            fprintf(stderr, "no_proxy case %zu: \"%s\" vs %s\n", i, cases[i].list, cases[i].host);
        }
        CHECK(got == cases[i].want);
    }
    CHECK(gf_httpc_no_proxy_match(NULL, "x") == 0);
}

static void clear_proxy_env(void)
{
    static const char *const vars[] = {"https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY",
                                       "all_proxy",   "ALL_PROXY",   "no_proxy",   "NO_PROXY"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        unsetenv(vars[i]);
    }
}

static void test_proxy_env(void)
{
    struct gf_httpc_url https, http, p;
    int use = -1;

    clear_proxy_env();
    CHECK(gf_httpc_url_parse("https://gate.example/x", 0, &https) == GF_OK);
    CHECK(gf_httpc_url_parse("http://127.0.0.1:8080/x", 0, &http) == GF_OK);
    CHECK(gf_httpc_proxy_env(&https, &p, &use, NULL) == GF_OK && use == 0);
    setenv("HTTPS_PROXY", "http://proxy:3128", 1);
    CHECK(gf_httpc_proxy_env(&https, &p, &use, NULL) == GF_OK && use == 1 && p.port == 3128);
    CHECK(gf_httpc_proxy_env(&http, &p, &use, NULL) == GF_OK && use == 0);
    setenv("HTTP_PROXY", "http://upper:1", 1); /* ignored on purpose (httpoxy) */
    CHECK(gf_httpc_proxy_env(&http, &p, &use, NULL) == GF_OK && use == 0);
    setenv("http_proxy", "lower:2", 1);
    CHECK(gf_httpc_proxy_env(&http, &p, &use, NULL) == GF_OK && use == 1);
    CHECK_STR(p.host, "lower");
    setenv("NO_PROXY", "127.0.0.0/8,.example", 1);
    CHECK(gf_httpc_proxy_env(&http, &p, &use, NULL) == GF_OK && use == 0);
    CHECK(gf_httpc_proxy_env(&https, &p, &use, NULL) == GF_OK && use == 0);
    clear_proxy_env();
    setenv("all_proxy", "http://all:3", 1);
    CHECK(gf_httpc_proxy_env(&https, &p, &use, NULL) == GF_OK && use == 1);
    CHECK_STR(p.host, "all");
    setenv("https_proxy", "socks5://s:1080", 1);
    struct gf_diag d;
    gf_diag_clear(&d);
    CHECK(gf_httpc_proxy_env(&https, &p, &use, &d) == GF_ERR_CONFIG && use == 0);
    CHECK_STR(d.where, "https_proxy");
    clear_proxy_env();
}

static void test_dates(void)
{
    time_t t = 0;

    CHECK(gf_httpc_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t) == GF_OK && t == 784111777);
    CHECK(gf_httpc_date_parse("Mon, 23 Nov 2026 04:01:02 GMT", &t) == GF_OK && t == 1795406462);
    t = 5;
    CHECK(gf_httpc_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t) == GF_ERR_PARSE);
    CHECK(gf_httpc_date_parse("Sun Nov  6 08:49:37 1994", &t) == GF_ERR_PARSE);
    CHECK(gf_httpc_date_parse("Sun, 31 Feb 1994 08:49:37 GMT", &t) == GF_ERR_PARSE);
    CHECK(gf_httpc_date_parse("Sun, 06 Nov 1994 08:49:37 UTC", &t) == GF_ERR_PARSE);
    CHECK(gf_httpc_date_parse("Sun, 06 Nvv 1994 08:49:37 GMT", &t) == GF_ERR_PARSE);
    CHECK(gf_httpc_date_parse("Sun, 06 Nov 1994 24:49:37 GMT", &t) == GF_ERR_PARSE);
    CHECK(gf_httpc_date_parse("", &t) == GF_ERR_PARSE);
    CHECK(t == 5);
}

/* ------------------------------------------------------------------ responses */

struct collect {
    char body[256];
    size_t len;
    size_t cap; /* abort past this */
    char date[64];
    int headers;
};

static void on_header(void *ud, const char *name, const char *value)
{
    struct collect *c = ud;

    c->headers++;
    if (strcmp(name, "Date") == 0) {
        snprintf(c->date, sizeof(c->date), "%s", value);
    }
}

static enum gf_err on_body(void *ud, long status, const char *p, size_t n)
{
    struct collect *c = ud;

    (void)status;
    if (c->len + n > c->cap || c->len + n >= sizeof(c->body)) {
        return GF_ERR_TOOBIG;
    }
    memcpy(c->body + c->len, p, n);
    c->len += n;
    c->body[c->len] = '\0';
    return GF_OK;
}

struct resp_case {
    const char *wire;
    enum gf_err feed; /* result of feeding everything */
    int eof;          /* then the peer closes: expect eof_err */
    enum gf_err eof_err;
    long status;
    const char *body;
};

#define OK_ GF_OK
static const struct resp_case resp_cases[] = {
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", OK_, 0, OK_, 200, "hello"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n"
     "0\r\nX-Trailer: a\r\n\r\n",
     OK_, 0, OK_, 200, "hello world"},
    {"HTTP/1.1 206 Partial\r\ntransfer-encoding: gzip, CHUNKED\r\n\r\nA "
     "\r\n0123456789\r\n0\r\n\r\n",
     OK_, 0, OK_, 206, "0123456789"},
    {"HTTP/1.1 100 Continue\r\nX: y\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
     OK_, 0, OK_, 201, "ok"},
    {"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n", OK_, 0, OK_, 204, ""},
    {"HTTP/1.0 200 OK\r\n\r\nuntil close", OK_, 1, OK_, 200, "until close"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw", OK_, 1, OK_, 200, "raw"},
    {"HTTP/1.1 200 OK\nContent-Length: 1\n\nx", OK_, 0, OK_, 200, "x"},
    {"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", OK_, 0, OK_, 200, ""},
    {"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nnope!", OK_, 0, OK_,
     404, "nope!"},
    {"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nTransfer-Encoding: "
     "chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
     OK_, 0, OK_, 200, "ab"},
    /* cut or empty answers */
    {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", OK_, 1, GF_ERR_UNAVAILABLE, 200, "abc"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", OK_, 1, GF_ERR_UNAVAILABLE,
     200, "ab"},
    {"HTTP/1.1 200 OK\r\nContent-Le", OK_, 1, GF_ERR_UNAVAILABLE, 200, ""},
    {"", OK_, 1, GF_ERR_UNAVAILABLE, 0, ""},
    /* malformed */
    {"HTTP/2 200 OK\r\n\r\n", GF_ERR_PARSE, 0, OK_, 0, ""},
    {"HTTP/1.1 20 OK\r\n\r\n", GF_ERR_PARSE, 0, OK_, 0, ""},
    {"HTTP/1.1 2000 OK\r\n\r\n", GF_ERR_PARSE, 0, OK_, 0, ""},
    {"HTTP/1.1 600 Weird\r\n\r\n", GF_ERR_PARSE, 0, OK_, 0, ""},
    {"ICY 200 OK\r\n\r\n", GF_ERR_PARSE, 0, OK_, 0, ""},
    {"HTTP/1.1 101 Switching\r\n\r\n", GF_ERR_INVAL, 0, OK_, 0, ""},
    {"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", GF_ERR_PARSE, 0, OK_, 200, ""},
    {"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", GF_ERR_PARSE, 0, OK_, 200, ""},
    {"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello", GF_ERR_PARSE, 0, OK_, 200, ""},
    {"HTTP/1.1 200 OK\r\n: empty\r\n\r\n", GF_ERR_PARSE, 0, OK_, 200, ""},
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", GF_ERR_PARSE, 0, OK_,
     200, ""},
    {"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello", GF_ERR_PARSE, 0, OK_, 200, ""},
    {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", GF_ERR_PARSE, 0, OK_, 200, ""},
    {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", GF_ERR_PARSE, 0, OK_, 200,
     ""},
    {"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", GF_ERR_PARSE, 0, OK_, 200, ""},
    {"HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n", GF_ERR_PARSE, 0, OK_, 200, ""},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", GF_ERR_PARSE, 0, OK_, 200, ""},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", GF_ERR_PARSE, 0, OK_, 200, ""},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", GF_ERR_PARSE, 0, OK_, 200, ""},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n", GF_ERR_PARSE, 0, OK_, 200, ""},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n", GF_ERR_PARSE, 0,
     OK_, 200, ""},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n", GF_ERR_PARSE,
     0, OK_, 200, "hello"},
    /* the sink stops it (cap 8 bytes in run_case) */
    {"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n0123456789ab", GF_ERR_TOOBIG, 0, OK_, 200, ""},
};

/* Feed wire whole (step 0) or step bytes at a time; check the outcome. */
static void run_case(size_t i, const struct resp_case *c, size_t step)
{
    struct collect col = {.cap = strstr(c->wire, "0123456789ab") != NULL ? 8 : 200};
    struct gf_httpc_sink sink = {on_header, on_body, &col};
    struct gf_httpc_resp *r = NULL;
    size_t n = strlen(c->wire), off = 0, used = 0;
    enum gf_err err = GF_OK;

    CHECK(gf_httpc_resp_new(0, &sink, &r) == GF_OK);
    while (off < n && err == GF_OK && !gf_httpc_resp_done(r)) {
        size_t k = step == 0 || n - off < step ? n - off : step;
        err = gf_httpc_resp_feed(r, c->wire + off, k, &used);
        off += used;
    }
    int ok = err == c->feed;
    if (ok && err == GF_OK && c->eof) {
        ok = gf_httpc_resp_eof(r) == c->eof_err;
    }
    if (ok && err == GF_OK && c->eof_err == GF_OK) {
        ok = gf_httpc_resp_done(r) && gf_httpc_resp_status(r) == c->status &&
             strcmp(col.body, c->body) == 0;
    }
    if (!ok) {
        fprintf(stderr, "response case %zu (step %zu): err %d status %ld body \"%s\"\n", i, step,
                (int)err, gf_httpc_resp_status(r), col.body);
    }
    CHECK(ok);
    gf_httpc_resp_free(r);
}

static void test_responses(void)
{
    for (size_t i = 0; i < sizeof(resp_cases) / sizeof(resp_cases[0]); i++) {
        run_case(i, &resp_cases[i], 0);
        run_case(i, &resp_cases[i], 1);
        run_case(i, &resp_cases[i], 7);
    }
}

static void test_response_details(void)
{
    struct collect col = {.cap = 200};
    struct gf_httpc_sink sink = {on_header, on_body, &col};
    struct gf_httpc_resp *r = NULL;
    size_t used = 0;

    /* Header values come trimmed; 1xx headers are not delivered; bytes after the answer are
     * not consumed. */
    const char *w = "HTTP/1.1 103 Early\r\nLink: x\r\n\r\nHTTP/1.1 200 OK\r\n"
                    "Date: \t Sun, 06 Nov 1994 08:49:37 GMT  \r\nContent-Length: 2\r\n\r\nokEXTRA";
    CHECK(gf_httpc_resp_new(0, &sink, &r) == GF_OK);
    CHECK(gf_httpc_resp_feed(r, w, strlen(w), &used) == GF_OK);
    CHECK(used == strlen(w) - 5 && gf_httpc_resp_done(r));
    CHECK_STR(col.date, "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(col.headers == 2);
    CHECK(gf_httpc_resp_feed(r, "x", 1, &used) == GF_OK && used == 0);
    gf_httpc_resp_free(r);

    /* After an error, nothing more is accepted. */
    CHECK(gf_httpc_resp_new(0, NULL, &r) == GF_OK);
    CHECK(gf_httpc_resp_feed(r, "HTTP/9", 6, &used) == GF_OK);
    CHECK(gf_httpc_resp_feed(r, "\r\n", 2, &used) == GF_ERR_PARSE);
    CHECK(gf_httpc_resp_feed(r, "HTTP/1.1 200 OK\r\n", 17, &used) == GF_ERR_INVAL);
    gf_httpc_resp_free(r);

    /* CONNECT and HEAD answers end with their header section. */
    w = "HTTP/1.1 200 Connection established\r\nX: y\r\n\r\n\x16\x03\x01";
    CHECK(gf_httpc_resp_new(GF_HTTPC_RESP_CONNECT, NULL, &r) == GF_OK);
    CHECK(gf_httpc_resp_feed(r, w, strlen(w), &used) == GF_OK && used == strlen(w) - 3);
    CHECK(gf_httpc_resp_done(r) && gf_httpc_resp_status(r) == 200);
    gf_httpc_resp_free(r);
    w = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    CHECK(gf_httpc_resp_new(GF_HTTPC_RESP_HEAD, NULL, &r) == GF_OK);
    CHECK(gf_httpc_resp_feed(r, w, strlen(w), &used) == GF_OK && gf_httpc_resp_done(r));
    gf_httpc_resp_free(r);
}

/* The header section is capped at GF_HTTPC_HEADER_MAX, trailers and chunk lines too. */
static void test_response_bounds(void)
{
    static char w[GF_HTTPC_HEADER_MAX + 512];
    struct gf_httpc_resp *r = NULL;
    size_t used = 0;

    for (int over = 0; over <= 1; over++) {
        size_t n = (size_t)snprintf(w, sizeof(w), "HTTP/1.1 200 OK\r\n");
        size_t filler = GF_HTTPC_HEADER_MAX - n - strlen("X: \r\n") - 2 + (size_t)over;
        memcpy(w + n, "X: ", 3);
        memset(w + n + 3, 'a', filler);
        n += 3 + filler;
        memcpy(w + n, "\r\n\r\n", 5);
        n += 4;
        CHECK(gf_httpc_resp_new(0, NULL, &r) == GF_OK);
        enum gf_err err = gf_httpc_resp_feed(r, w, n, &used);
        CHECK(over ? err == GF_ERR_TOOBIG : err == GF_OK);
        gf_httpc_resp_free(r);
    }

    /* Many small headers add up too. */
    size_t n = (size_t)snprintf(w, sizeof(w), "HTTP/1.1 200 OK\r\n");
    CHECK(gf_httpc_resp_new(0, NULL, &r) == GF_OK);
    enum gf_err err = gf_httpc_resp_feed(r, w, n, &used);
    for (int i = 0; i < 2000 && err == GF_OK; i++) {
        err = gf_httpc_resp_feed(r, "X-Many: 12345678\r\n", 18, &used);
    }
    CHECK(err == GF_ERR_TOOBIG);
    gf_httpc_resp_free(r);

    /* A chunk-size line of extensions past GF_HTTPC_CHUNK_LINE_MAX. */
    n = (size_t)snprintf(w, sizeof(w), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;");
    memset(w + n, 'e', GF_HTTPC_CHUNK_LINE_MAX);
    n += GF_HTTPC_CHUNK_LINE_MAX;
    CHECK(gf_httpc_resp_new(0, NULL, &r) == GF_OK);
    CHECK(gf_httpc_resp_feed(r, w, n, &used) == GF_ERR_TOOBIG);
    gf_httpc_resp_free(r);

    /* Endless trailers. */
    n = (size_t)snprintf(w, sizeof(w),
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n");
    CHECK(gf_httpc_resp_new(0, NULL, &r) == GF_OK);
    err = gf_httpc_resp_feed(r, w, n, &used);
    for (int i = 0; i < 2000 && err == GF_OK; i++) {
        err = gf_httpc_resp_feed(r, "T: 1234567890\r\n", 15, &used);
    }
    CHECK(err == GF_ERR_TOOBIG);
    gf_httpc_resp_free(r);
}

/* ------------------------------------------------------------------ requests on loopback */

struct server {
    int fd;
    unsigned port;
    int many;           /* answer connections until stopped, not just one */
    const char *answer; /* NULL: read the request, then say nothing until closed */
    char request[4096];
    pthread_t thread;
};

/* One connection: read the request (head and Content-Length body), answer, close. */
static void serve_one(struct server *s, int c)
{
    size_t len = 0;

    for (;;) {
        ssize_t n = recv(c, s->request + len, sizeof(s->request) - 1 - len, 0);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        s->request[len] = '\0';
        char *end = strstr(s->request, "\r\n\r\n");
        const char *cl = strstr(s->request, "Content-Length: ");
        if (end != NULL && (cl == NULL || strlen(end + 4) >= strtoul(cl + 16, NULL, 10))) {
            break;
        }
    }
    if (s->answer != NULL) {
        for (const char *p = s->answer; *p; p += 3) { /* in small pieces */
            size_t k = strlen(p) < 3 ? strlen(p) : 3;
            send(c, p, k, MSG_NOSIGNAL);
            if (k < 3) {
                break;
            }
        }
    } else {
        char sink[64];
        while (recv(c, sink, sizeof(sink), 0) > 0) {
        }
    }
    close(c);
}

static void *serve(void *arg)
{
    struct server *s = arg;

    do {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) {
            break;
        }
        serve_one(s, c);
    } while (s->many);
    return NULL;
}

static void server_start(struct server *s, const char *answer, int many)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);

    memset(s, 0, sizeof(*s));
    s->answer = answer;
    s->many = many;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(s->fd >= 0 && bind(s->fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
          listen(s->fd, 4) == 0 && getsockname(s->fd, (struct sockaddr *)&a, &len) == 0);
    s->port = ntohs(a.sin_port);
    CHECK(pthread_create(&s->thread, NULL, serve, s) == 0);
}

static void server_stop(struct server *s)
{
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

static void test_requests(void)
{
    char url[128];
    struct collect col = {.cap = 200};
    struct gf_httpc_req req = {.method = "POST",
                               .url = url,
                               .body = "ping",
                               .body_len = 4,
                               .timeout_s = 10,
                               .headers = "X-GF-Test: 1\r\n"};
    struct gf_httpc_result res;
    struct server s;

    clear_proxy_env();
    req.sink = (struct gf_httpc_sink){on_header, on_body, &col};
    server_start(&s,
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "4\r\npong\r\n3\r\n!!!\r\n0\r\n\r\n",
                 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1/x?y=1", s.port);
    CHECK(gf_httpc_perform(&req, &res) == GF_OK && res.status == 200);
    server_stop(&s);
    CHECK_STR(col.body, "pong!!!");
    CHECK(strncmp(s.request, "POST /api/v1/x?y=1 HTTP/1.1\r\n", 29) == 0);
    char host[64];
    snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%u\r\n", s.port);
    CHECK(strstr(s.request, host) != NULL);
    CHECK(strstr(s.request, "\r\nConnection: close\r\n") != NULL);
    CHECK(strstr(s.request, "\r\nContent-Length: 4\r\n") != NULL);
    CHECK(strstr(s.request, "\r\nX-GF-Test: 1\r\n\r\nping") != NULL);

    /* Nobody listening: refused, and the error says where. */
    CHECK(gf_httpc_perform(&req, &res) == GF_ERR_UNAVAILABLE && res.status == 0);
    CHECK(strstr(res.error, "connect to 127.0.0.1 port") != NULL);

    /* A server that never answers: the overall timeout. */
    server_start(&s, NULL, 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", s.port);
    req.timeout_s = 1;
    time_t t0 = time(NULL);
    CHECK(gf_httpc_perform(&req, &res) == GF_ERR_TIMEOUT);
    CHECK(time(NULL) - t0 <= 3);
    CHECK(strstr(res.error, "timed out") != NULL);
    server_stop(&s);
    req.timeout_s = 10;

    /* Refused before connecting: a header line that smuggles another, a bad URL or method. */
    req.headers = "X-A: 1\r\nX-B: 2\nEvil: 1\r\n";
    CHECK(gf_httpc_perform(&req, &res) == GF_ERR_INVAL);
    req.headers = "X-A 1\r\n";
    CHECK(gf_httpc_perform(&req, &res) == GF_ERR_INVAL);
    req.headers = NULL;
    req.url = "gopher://x/";
    CHECK(gf_httpc_perform(&req, &res) == GF_ERR_INVAL);
    req.url = url;
    req.method = "DELETE";
    CHECK(gf_httpc_perform(&req, &res) == GF_ERR_INVAL);
    req.method = "GET";
    req.body = NULL;

    /* http:// through a proxy: absolute form, Basic credentials. */
    char proxy[64];
    server_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nvi", 0);
    snprintf(proxy, sizeof(proxy), "http://al%%20ice:s3cret@127.0.0.1:%u", s.port);
    setenv("http_proxy", proxy, 1);
    req.url = "http://gate.invalid:8080/api?x=1";
    col.len = 0;
    CHECK(gf_httpc_perform(&req, &res) == GF_OK && res.status == 200);
    server_stop(&s);
    CHECK(strncmp(s.request, "GET http://gate.invalid:8080/api?x=1 HTTP/1.1\r\n", 47) == 0);
    CHECK(strstr(s.request, "\r\nHost: gate.invalid:8080\r\n") != NULL);
    CHECK(strstr(s.request, "\r\nProxy-Authorization: Basic YWwgaWNlOnMzY3JldA==\r\n") != NULL);
    CHECK(strstr(s.request, "\r\nContent-Length:") == NULL);

    /* https:// through a proxy: a CONNECT tunnel, here refused. */
    server_start(&s, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", 0);
    snprintf(proxy, sizeof(proxy), "127.0.0.1:%u", s.port);
    setenv("https_proxy", proxy, 1);
    req.url = "https://gate.invalid/api";
    CHECK(gf_httpc_perform(&req, &res) == GF_ERR_UNAVAILABLE);
    server_stop(&s);
    CHECK(strncmp(s.request, "CONNECT gate.invalid:443 HTTP/1.1\r\nHost: gate.invalid:443\r\n",
                  59) == 0);
    CHECK(strstr(res.error, "refused the tunnel") != NULL && strstr(res.error, "403") != NULL);
    setenv("NO_PROXY", "gate.invalid,127.0.0.0/8", 1);
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/api", s.port);
    req.url = url; /* direct now, and nobody listens there any more */
    CHECK(gf_httpc_perform(&req, &res) == GF_ERR_UNAVAILABLE);
    CHECK(strstr(res.error, "connect to 127.0.0.1 port") != NULL);
    clear_proxy_env();
}

/* Every allocation of a request fails in turn: GF_ERR_NOMEM, nothing leaks (ASan), and the
 * request works once there is enough memory. */
static void test_request_nomem(void)
{
    char url[64];
    struct collect col = {.cap = 200};
    struct gf_httpc_req req = {.method = "GET", .url = url, .timeout_s = 10};
    struct gf_httpc_result res;
    struct server s;
    enum gf_err err = GF_ERR_NOMEM;
    long n = 0;

    req.sink = (struct gf_httpc_sink){on_header, on_body, &col};
    server_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes", 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", s.port);
    for (; n < 100 && err == GF_ERR_NOMEM; n++) {
        col.len = 0;
        gf_alloc_fail_after(n);
        err = gf_httpc_perform(&req, &res);
        gf_alloc_fail_after(-1);
        CHECK(err == GF_OK || err == GF_ERR_NOMEM);
    }
    server_stop(&s);
    CHECK(err == GF_OK && n > 1 && res.status == 200);
    CHECK_STR(col.body, "yes");
}

int main(void)
{
    test_urls();
    test_no_proxy();
    test_proxy_env();
    test_dates();
    test_responses();
    test_response_details();
    test_response_bounds();
    test_requests();
    test_request_nomem();
    return gf_test_summary("test_httpc");
}
