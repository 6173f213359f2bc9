/* SPDX-License-Identifier: Apache-2.0
 *
 * req.c - decoding one `cmd/req` payload (cmd_int.h): a strict JSON object with id, name,
 * optional args (an object) and optional timeout_ms, and no other member. The id is taken
 * first, when it is valid, so that a request failing a later check is still answered under
 * its id; a request without a usable id is answered with "id": null.
 */
#include "cmd_int.h"

#include "gf_limits.h"
#include "json.h"

#include <string.h>

static const struct gf_json_field fields[] = {
    {"id", GF_JSON_STRING, 1, 0, 1, GF_CMD_ID_MAX, 0, 0},
    {"name", GF_JSON_STRING, 1, 0, 1, GF_CMD_NAME_MAX, 0, 0},
    {"args", GF_JSON_OBJECT, 0, 1, 0, 0, 0, 0},
    {"timeout_ms", GF_JSON_INT, 0, 0, 0, 0, 1, GF_CMD_TIMEOUT_MAX_MS},
};

int gf_cmd_id_ok(const char *s, size_t n)
{
    if (n == 0 || n > GF_CMD_ID_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-')) {
            return 0;
        }
    }
    return 1;
}

int gf_cmd_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > GF_CMD_NAME_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == ':' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

enum gf_err gf_cmd_req_parse(const void *payload, size_t len, struct gf_cmd_req *req,
                             struct gf_diag *diag)
{
    json_t *o = NULL, *args;
    const json_t *id;
    const char *name;
    enum gf_err err;

    req->id[0] = '\0';
    if (len > GF_LIMIT_MQTT_PAYLOAD) {
        return gf_diag_set(diag, GF_ERR_TOOBIG, "", "request larger than %u bytes",
                           GF_LIMIT_MQTT_PAYLOAD);
    }
    err = gf_json_parse_object(payload, len, &o, diag);
    if (err != GF_OK) {
        return err;
    }
    id = json_object_get(o, "id");
    if (json_is_string(id) && gf_cmd_id_ok(json_string_value(id), json_string_length(id))) {
        memcpy(req->id, json_string_value(id), json_string_length(id) + 1);
    }
    err = gf_json_check(o, fields, sizeof(fields) / sizeof(fields[0]), "", diag);
    if (err != GF_OK) {
        goto out;
    }
    if (req->id[0] == '\0') {
        err = gf_diag_set(diag, GF_ERR_INVAL, "/id", "/id must be 1-%d characters of A-Z a-z 0-9 -",
                          GF_CMD_ID_MAX);
        goto out;
    }
    name = gf_json_str(o, "name");
    if (!gf_cmd_name_ok(name, strlen(name))) {
        err = gf_diag_set(diag, GF_ERR_INVAL, "/name",
                          "/name must be 1-%d characters of a-z 0-9 . _ : -", GF_CMD_NAME_MAX);
        goto out;
    }
    args = json_object_get(o, "args");
    args = json_is_object(args) ? json_incref(args) : json_object();
    if (args == NULL) {
        err = GF_ERR_NOMEM;
        goto out;
    }
    memcpy(req->name, name, strlen(name) + 1);
    req->args = args;
    req->timeout_ms = (long)gf_json_int(o, "timeout_ms", GF_CMD_TIMEOUT_DEFAULT_MS);
out:
    json_decref(o);
    return err;
}

void gf_cmd_req_clear(struct gf_cmd_req *req)
{
    json_decref(req->args);
    req->args = NULL;
}
