/* SPDX-License-Identifier: Apache-2.0
 *
 * problem.c - the one mapping from enum gf_err to HTTP status, and RFC 9457
 * application/problem+json bodies: type, title, status, detail, errors[{field, message}].
 */
#include "req_impl.h"

#include <string.h>

struct problem_kind {
    unsigned status;
    const char *slug;
    const char *title;
};

static const struct problem_kind kinds[GF_ERR__COUNT] = {
    [GF_OK] = {200, "ok", "OK"},
    [GF_ERR_NOMEM] = {500, "internal", "Internal error"},
    [GF_ERR_INVAL] = {400, "validation", "Invalid request"},
    [GF_ERR_PARSE] = {400, "malformed", "Malformed request"},
    [GF_ERR_NOTFOUND] = {404, "not-found", "Not found"},
    [GF_ERR_EXISTS] = {409, "exists", "Already exists"},
    [GF_ERR_CONFLICT] = {409, "conflict", "Conflict"},
    [GF_ERR_AUTH] = {401, "unauthenticated", "Authentication required"},
    [GF_ERR_PERM] = {403, "forbidden", "Forbidden"},
    [GF_ERR_CSRF] = {403, "csrf", "CSRF token missing or wrong"},
    [GF_ERR_TOOBIG] = {413, "too-large", "Request too large"},
    [GF_ERR_PRECONDITION] = {412, "precondition-failed", "Precondition failed"},
    [GF_ERR_UNPROCESSABLE] = {422, "unprocessable", "Unprocessable request"},
    [GF_ERR_RATELIMIT] = {429, "rate-limited", "Too many requests"},
    [GF_ERR_MEDIATYPE] = {415, "unsupported-media-type", "Unsupported media type"},
    [GF_ERR_METHOD] = {405, "method-not-allowed", "Method not allowed"},
    [GF_ERR_IO] = {500, "internal", "Internal error"},
    [GF_ERR_DB] = {500, "internal", "Internal error"},
    [GF_ERR_UNAVAILABLE] = {503, "unavailable", "Service unavailable"},
    [GF_ERR_TIMEOUT] = {504, "timeout", "Timed out"},
    [GF_ERR_CRYPTO] = {500, "internal", "Internal error"},
    [GF_ERR_CONFIG] = {500, "internal", "Internal error"},
    [GF_ERR_INTERNAL] = {500, "internal", "Internal error"},
};

unsigned gf_problem_status(enum gf_err err)
{
    if ((unsigned)err >= GF_ERR__COUNT || kinds[err].status == 0) {
        return 500;
    }
    return kinds[err].status;
}

void gf_problem_reply(struct gf_req *r, enum gf_err err)
{
    const struct problem_kind *k =
        ((unsigned)err < GF_ERR__COUNT && kinds[err].slug) ? &kinds[err] : &kinds[GF_ERR_INTERNAL];
    char type[96];
    json_t *body;
    int internal = k->status >= 500 && err != GF_ERR_UNAVAILABLE;
    /* Internal details never reach the client. */
    const char *detail = (!internal && r->diag.msg[0]) ? r->diag.msg : k->title;

    snprintf(type, sizeof(type), "urn:gatefleet:problem:%s", k->slug);
    body = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", k->title, "status",
                     (int)k->status, "detail", detail);
    if (body != NULL && !internal && r->diag.where[0] != '\0') {
        json_t *e = json_pack("[{s:s, s:s}]", "field", r->diag.where, "message", detail);
        if (e != NULL) {
            json_object_set_new(body, "errors", e);
        }
    }
    if (body == NULL || gf_req_reply_json(r, k->status, body) != GF_OK) {
        gf_req_reply_empty(r, k->status);
        return;
    }
    r->resp_type = "application/problem+json";
}
