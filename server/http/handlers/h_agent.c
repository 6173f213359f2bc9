/* SPDX-License-Identifier: Apache-2.0
 *
 * h_agent.c - /api/v1/agent/...: what an enrolled agent downloads, each request signed with
 * its node key (nodeauth.h, X-GF-Node names the node):
 *   GET /agent/bundles/{bundle_id}/manifest  the signed envelope of the node's desired bundle
 *                                            (rendered for it when the bundle is templated)
 *   GET /agent/blobs/{sha256}                a blob of a published bundle of the node's
 *                                            project or of its own rendering; HTTP Range
 *                                            (one range) so a cut download resumes
 *   GET /agent/trust?since=N                 the signed trust statements after N, in order
 * Nodes that are not accepted get 403 like enrollment polls; an unknown node and a bad
 * signature get the same 401, so ids cannot be probed.
 */
#include "handlers.h"

#include "../../bundles/trustroot.h"
#include "../../store/q_bundles.h"
#include "../nodeauth.h"
#include "../respond.h"
#include "alloc.h"
#include "ids.h"
#include "manifest.h"
#include "sign.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Verify the request's node signature; project (cap 40) receives the node's project. */
static enum gf_err node_auth(struct gf_req *r, char *node, size_t ncap, char *project)
{
    const char *id = gf_req_header(r, "X-GF-Node");
    PGresult *res = NULL;
    struct gf_dbconn *db;
    enum gf_err err;

    if (id == NULL || !gf_uuid_valid(id)) {
        return gf_nodeauth_verify(r, id ? id : "", NULL);
    }
    snprintf(node, ncap, "%s", id);
    const char *p[1] = {node};
    if ((err = gf_req_db(r, &db)) != GF_OK ||
        (err = gf_db_exec(db, &gf_q_agent_node, p, &res)) != GF_OK) {
        return err;
    }
    err = gf_nodeauth_verify(r, node, PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : NULL);
    if (err == GF_OK && strcmp(PQgetvalue(res, 0, 1), "accepted") != 0) {
        err = gf_req_fail(r, GF_ERR_PERM, "", "this node is %s; it gets no bundles",
                          PQgetvalue(res, 0, 1));
    }
    if (err == GF_OK) {
        snprintf(project, 40, "%s", PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return err;
}

enum gf_err gf_h_agent_manifest(struct gf_req *r)
{
    char node[40], project[40];
    struct gf_dbconn *db;
    PGresult *res = NULL;
    enum gf_err err = node_auth(r, node, sizeof(node), project);

    if (err != GF_OK) {
        return err;
    }
    const char *p[2] = {node, gf_req_param(r, "bundle_id")};
    if ((err = gf_req_db(r, &db)) != GF_OK ||
        (err = gf_db_exec(db, &gf_q_agent_manifest, p, &res)) != GF_OK) {
        return err;
    }
    if (PQntuples(res) != 1) {
        err = gf_req_fail(r, GF_ERR_NOTFOUND, "", "this bundle is not the node's desired bundle");
    } else {
        err = gf_req_reply_text(r, 200, "application/json", PQgetvalue(res, 0, 0),
                                (size_t)PQgetlength(res, 0, 0));
    }
    PQclear(res);
    return err;
}

/* "bytes=START-" or "bytes=START-END" -> offset, last (-1 open). 0 ok, -1 malformed. */
static int parse_range(const char *h, long long *start, long long *last)
{
    char *end;

    if (strncmp(h, "bytes=", 6) != 0 || !isdigit((unsigned char)h[6])) {
        return -1;
    }
    *start = strtoll(h + 6, &end, 10);
    if (*end != '-') {
        return -1;
    }
    *last = -1;
    if (end[1] != '\0') {
        char *e2;
        *last = strtoll(end + 1, &e2, 10);
        if (*e2 != '\0' || *last < *start) {
            return -1;
        }
    }
    return 0;
}

enum gf_err gf_h_agent_blob(struct gf_req *r)
{
    const char *sha = gf_req_param(r, "sha256"), *range = gf_req_header(r, "Range");
    char node[40], project[40], off[24], cnt[24], hdr[96];
    long long start = 0, last = -1;
    struct gf_dbconn *db;
    PGresult *res = NULL;
    enum gf_err err = node_auth(r, node, sizeof(node), project);

    if (err != GF_OK) {
        return err;
    }
    if (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64) {
        return gf_req_fail(r, GF_ERR_INVAL, "sha256", "a blob is named by 64 lower-case hex");
    }
    if (range != NULL && parse_range(range, &start, &last) != 0) {
        return gf_req_fail(r, GF_ERR_INVAL, "Range",
                           "Range must be bytes=START- or "
                           "bytes=START-END (one range)");
    }
    /* No blob is larger than a manifest file may be: clamp before the numbers reach SQL. */
    if (start > (long long)GF_MANIFEST_FILE_MAX) {
        start = GF_MANIFEST_FILE_MAX;
    }
    if (last > (long long)GF_MANIFEST_FILE_MAX) {
        last = GF_MANIFEST_FILE_MAX;
    }
    snprintf(off, sizeof(off), "%lld", start);
    snprintf(cnt, sizeof(cnt), "%lld",
             last < 0 ? (long long)GF_MANIFEST_FILE_MAX : last - start + 1);
    const char *p[4] = {node, sha, off, cnt};
    if ((err = gf_req_db(r, &db)) != GF_OK ||
        (err = gf_db_exec(db, &gf_q_agent_blob, p, &res)) != GF_OK) {
        return err;
    }
    if (PQntuples(res) != 1) {
        err = gf_req_fail(r, GF_ERR_NOTFOUND, "", "no such blob for this node");
        goto out;
    }
    long long size = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    if (size == 0) {
        range = NULL; /* nothing to range over: the whole (empty) blob */
    }
    if (range != NULL && start >= size) {
        snprintf(hdr, sizeof(hdr), "bytes */%lld", size);
        gf_req_add_header(r, "Content-Range", hdr);
        err = gf_req_reply_text(r, 416, "text/plain", "range not satisfiable\n", 22);
        goto out;
    }
    const char *hex = PQgetvalue(res, 0, 1);
    size_t hexlen = (size_t)PQgetlength(res, 0, 1), n = 0;
    char *data = gf_malloc(hexlen / 2 + 1);
    if (data == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    if (hexlen < 2 || sodium_hex2bin((unsigned char *)data, hexlen / 2 + 1, hex + 2, hexlen - 2,
                                     NULL, &n, NULL) != 0) {
        gf_free(data);
        err = GF_ERR_INTERNAL;
        goto out;
    }
    gf_req_add_header(r, "Accept-Ranges", "bytes");
    snprintf(hdr, sizeof(hdr), "\"%s\"", sha);
    gf_req_add_header(r, "ETag", hdr);
    if (range != NULL) {
        snprintf(hdr, sizeof(hdr), "bytes %lld-%lld/%lld", start, start + (long long)n - 1, size);
        gf_req_add_header(r, "Content-Range", hdr);
    }
    err = gf_req_reply_owned(r, range != NULL ? 206 : 200, "application/octet-stream", data, n);
out:
    PQclear(res);
    return err;
}

enum gf_err gf_h_agent_trust(struct gf_req *r)
{
    const char *since = gf_req_query(r, "since");
    char node[40], project[40];
    struct gf_dbconn *db;
    PGresult *res = NULL;
    json_t *list = NULL;
    char *end = NULL;
    enum gf_err err = node_auth(r, node, sizeof(node), project);

    if (err != GF_OK) {
        return err;
    }
    if (since != NULL &&
        (strtoll(since, &end, 10) < 0 || *end != '\0' || end == since || strlen(since) > 18)) {
        return gf_req_fail(r, GF_ERR_INVAL, "since", "since must be a statement number");
    }
    const char *p[2] = {project, since ? since : "0"};
    if ((err = gf_req_db(r, &db)) != GF_OK ||
        (err = gf_db_exec(db, &gf_q_trust_after, p, &res)) != GF_OK) {
        return err;
    }
    if ((list = json_array()) == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        const char *text = PQgetvalue(res, i, 1);
        char *env = NULL;
        size_t len = 0;
        if (gf_trustroot_envelope(text, strlen(text), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
                                  &env, &len) != GF_OK) {
            err = GF_ERR_INTERNAL;
            goto out;
        }
        json_array_append_new(list, json_loadb(env, len, 0, NULL));
        gf_free(env);
    }
    err = gf_req_reply_json(r, 200, json_pack("{s:o}", "statements", list));
    list = NULL;
out:
    json_decref(list);
    PQclear(res);
    return err;
}
