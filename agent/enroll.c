/* SPDX-License-Identifier: Apache-2.0
 *
 * enroll.c - the agent's enrollment client (see enroll.h), over the agent's HTTP client
 * (httpc.h). Answers are capped at 64 KiB, requests time out after 30 s, TLS verifies the
 * server (ca_file or the system store).
 * The token and the broker password never reach the log.
 */
#define GF_LOG_MODULE "enroll"

#include "enroll.h"

#include "buf.h"
#include "config.h"
#include "file.h"
#include "http.h"
#include "identity.h"
#include "ids.h"
#include "json.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GF_ENROLL_ANSWER_MAX (64u * 1024u)

static enum gf_err on_body(void *ud, long status, const char *p, size_t n)
{
    (void)status;
    return gf_buf_append(ud, p, n);
}

static void copy_str(char *dst, size_t cap, const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));

    snprintf(dst, cap, "%s", v ? v : "");
}

enum gf_err gf_node_state_load(const char *state_dir, struct gf_node_state *st)
{
    char path[1024];
    struct gf_buf b;
    json_t *o = NULL;
    enum gf_err err;

    memset(st, 0, sizeof(*st));
    snprintf(path, sizeof(path), "%s/node.json", state_dir);
    gf_buf_init(&b, 16384);
    if ((err = gf_file_read(path, &b)) == GF_OK) {
        err = gf_json_parse_object(b.data, b.len, &o, NULL);
    }
    gf_buf_free(&b);
    if (err != GF_OK) {
        return err;
    }
    copy_str(st->node_id, sizeof(st->node_id), o, "node_id");
    copy_str(st->status, sizeof(st->status), o, "status");
    copy_str(st->url, sizeof(st->url), o, "url");
    copy_str(st->username, sizeof(st->username), o, "username");
    copy_str(st->password, sizeof(st->password), o, "password");
    copy_str(st->topic_root, sizeof(st->topic_root), o, "topic_root");
    json_decref(o);
    return st->node_id[0] ? GF_OK : GF_ERR_PARSE;
}

enum gf_err gf_node_state_save(const char *state_dir, const struct gf_node_state *st)
{
    char path[1024];
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "node_id", st->node_id, "status",
                          st->status, "url", st->url, "username", st->username, "password",
                          st->password, "topic_root", st->topic_root);
    char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    enum gf_err err = GF_ERR_NOMEM;

    json_decref(o);
    if (text != NULL) {
        snprintf(path, sizeof(path), "%s/node.json", state_dir);
        err = gf_file_write_atomic(path, text, strlen(text), 0600);
        memset(text, 0, strlen(text));
        free(text);
    }
    return err;
}

static void read_answer(const json_t *a, struct gf_node_state *st)
{
    const json_t *m = json_object_get(a, "mqtt");

    copy_str(st->node_id, sizeof(st->node_id), a, "node_id");
    copy_str(st->status, sizeof(st->status), a, "status");
    if (json_is_object(m)) {
        copy_str(st->url, sizeof(st->url), m, "url");
        copy_str(st->username, sizeof(st->username), m, "username");
        copy_str(st->password, sizeof(st->password), m, "password");
        copy_str(st->topic_root, sizeof(st->topic_root), m, "topic_root");
    }
}

/* The POST body: token, public key, fingerprint, inventory, name. Caller owns (free). */
static char *enroll_body(const struct gf_agent_config *cfg, const struct gf_identity *id,
                         const json_t *inventory, const json_t *fingerprint)
{
    char pk[GF_IDENTITY_PK_TEXT];

    gf_identity_public_text(id, pk, sizeof(pk));
    json_t *req = json_pack("{s:s, s:s, s:O, s:O}", "token",
                            cfg->enrollment_token ? cfg->enrollment_token : "", "public_key", pk,
                            "fingerprint", fingerprint, "inventory", inventory);
    if (req != NULL && cfg->node_name != NULL) {
        json_object_set_new(req, "name", json_string(cfg->node_name));
    }
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    return body;
}

/* What the answer (status code, parsed body or NULL) means. */
static void judge(long code, const json_t *a, int poll, long offset_before,
                  struct gf_node_state *st, enum gf_enroll_status *status, char *msg, size_t cap)
{
    if (code >= 400) {
        const char *detail = a ? json_string_value(json_object_get(a, "detail")) : NULL;
        snprintf(msg, cap, "HTTP %ld: %s", code, detail ? detail : "no detail");
    }
    if ((code == 200 || code == 202) && a != NULL) {
        read_answer(a, st);
        *status = code == 200 && strcmp(st->status, "accepted") == 0 && st->password[0]
                      ? GF_ENROLL_ACCEPTED
                      : GF_ENROLL_PENDING;
    } else if (code == 403) {
        *status = GF_ENROLL_REJECTED;
    } else if (code == 401 && labs(gf_http_offset() - offset_before) > 60) {
        /* Refused for our clock, which this answer's Date header has just corrected. */
        *status = GF_ENROLL_RETRY;
    } else if (code == 401 && !poll) {
        *status = GF_ENROLL_BAD_TOKEN;
    }
}

enum gf_err gf_enroll_call(const struct gf_agent_config *cfg, const struct gf_identity *id,
                           const json_t *inventory, const json_t *fingerprint,
                           struct gf_node_state *st, enum gf_enroll_status *status, char *msg,
                           size_t cap)
{
    char url[600], path[200];
    struct gf_http_headers h = {0};
    struct gf_httpc_req req;
    struct gf_httpc_result res;
    struct gf_buf answer;
    char *body = NULL;
    json_t *a = NULL;
    enum gf_err err = GF_OK;
    int poll = st->node_id[0] != '\0';
    long offset_before = gf_http_offset();

    *status = GF_ENROLL_RETRY;
    msg[0] = '\0';
    gf_buf_init(&answer, GF_ENROLL_ANSWER_MAX);
    if (poll) {
        snprintf(path, sizeof(path), "/api/v1/enroll/%s", st->node_id);
        err = gf_http_sign_headers(&h, id, st->node_id, "GET", path, "");
    } else {
        if ((body = enroll_body(cfg, id, inventory, fingerprint)) == NULL) {
            err = GF_ERR_NOMEM;
            goto out;
        }
        snprintf(path, sizeof(path), "/api/v1/enroll");
        err = gf_http_headers_add(&h, "Content-Type", "application/json");
        if (err == GF_OK) {
            err = gf_http_sign_headers(&h, id, NULL, "POST", path, body); /* possession */
        }
    }
    if (err != GF_OK) {
        snprintf(msg, cap, "cannot sign the request: %s", gf_err_str(err));
        goto out;
    }
    snprintf(url, sizeof(url), "%s%s", cfg->server_url, path);
    gf_http_request(&req, cfg, url, &h, 30L);
    if (body != NULL) {
        req.method = "POST";
        req.body = body;
        req.body_len = strlen(body);
    }
    req.sink.on_body = on_body;
    req.sink.ud = &answer;
    if (gf_httpc_perform(&req, &res) != GF_OK) {
        snprintf(msg, cap, "%s", res.error);
        goto out; /* RETRY */
    }
    if (answer.len > 0) {
        gf_json_parse_object(answer.data, answer.len, &a, NULL);
    }
    judge(res.status, a, poll, offset_before, st, status, msg, cap);
out:
    json_decref(a);
    gf_buf_free(&answer);
    if (body != NULL) {
        memset(body, 0, strlen(body));
        free(body);
    }
    return err;
}
