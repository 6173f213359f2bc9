/* SPDX-License-Identifier: Apache-2.0
 *
 * dynsec.c - mosquitto's dynamic-security plugin as a gf_broker_ops (see broker.h). Commands
 * go as JSON to $CONTROL/dynamic-security/v1 over an admin session; answers come back on
 * .../response carrying our correlationData. One request is in flight at a time (the fleet
 * thread is the only caller), waited for up to GF_DYNSEC_TIMEOUT_MS. "Already exists" on
 * create and "not found" on delete are success: every call is idempotent, so a crash between
 * the broker change and the database update is repaired by simply calling again. An account
 * that exists is changed only when it is not as wanted (a fingerprint in its description):
 * the plugin disconnects every client of an account it changes.
 */
#define GF_LOG_MODULE "dynsec"

#include "broker.h"

#include "alloc.h"
#include "conn.h"
#include "ids.h"
#include "log.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GF_DYNSEC_TOPIC "$CONTROL/dynamic-security/v1"
#define GF_DYNSEC_TIMEOUT_MS 5000

struct gf_broker {
    struct gf_mconn *conn;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char want[40];     /* correlationData of the request in flight */
    json_t *responses; /* its answer */
    unsigned long seq;
};

static int on_response(void *ud, struct gf_mconn *c, const char *topic, const void *payload,
                       size_t len)
{
    struct gf_broker *b = ud;
    json_t *msg = json_loadb(payload, len, 0, NULL);
    json_t *resp = json_object_get(msg, "responses");

    (void)c;
    (void)topic;
    if (json_is_array(resp) && json_array_size(resp) > 0) {
        const char *corr = json_string_value(json_object_get(json_array_get(resp, 0),
                                                             "correlationData"));
        pthread_mutex_lock(&b->mu);
        if (corr != NULL && b->want[0] && strcmp(corr, b->want) == 0) {
            json_decref(b->responses);
            b->responses = json_incref(resp);
            pthread_cond_broadcast(&b->cv);
        }
        pthread_mutex_unlock(&b->mu);
    }
    json_decref(msg);
    return 1;
}

static enum gf_err ds_open(const char *url, const char *user, const char *password,
                           const char *client_id, struct gf_broker **out)
{
    struct gf_broker *b = gf_calloc(1, sizeof(*b));
    struct gf_mconn_opts o = {0};
    enum gf_err err;

    *out = NULL;
    if (b == NULL) {
        return GF_ERR_NOMEM;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    o.url = url;
    o.client_id = client_id;
    o.username = user;
    o.password = password;
    o.clean_start = 1;
    o.keepalive = 30;
    o.subs[0] = GF_DYNSEC_TOPIC "/response";
    o.nsubs = 1;
    o.on_msg = on_response;
    o.ud = b;
    o.label = "dynsec-admin";
    if ((err = gf_mconn_start(&o, &b->conn)) != GF_OK) {
        pthread_cond_destroy(&b->cv);
        pthread_mutex_destroy(&b->mu);
        gf_free(b);
        return err;
    }
    *out = b;
    return GF_OK;
}

static void ds_close(struct gf_broker *b)
{
    if (b == NULL) {
        return;
    }
    gf_mconn_stop(b->conn);
    json_decref(b->responses);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    gf_free(b);
}

static int ds_ready(struct gf_broker *b)
{
    return gf_mconn_connected(b->conn);
}

/* Send commands (array, stolen) and wait for the answers (caller owns *out). */
static enum gf_err call(struct gf_broker *b, json_t *commands, json_t **out,
                        struct gf_diag *diag)
{
    struct timespec until;
    size_t i;
    json_t *cmd, *req;
    char *text;
    enum gf_err err = GF_OK;

    *out = NULL;
    pthread_mutex_lock(&b->mu);
    snprintf(b->want, sizeof(b->want), "gf-%lu-%08x", ++b->seq, (unsigned)rand());
    json_decref(b->responses);
    b->responses = NULL;
    pthread_mutex_unlock(&b->mu);
    json_array_foreach(commands, i, cmd) {
        json_object_set_new(cmd, "correlationData", json_string(b->want));
    }
    req = json_pack("{s:o}", "commands", commands);
    text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (text == NULL) {
        return GF_ERR_NOMEM;
    }
    err = gf_mconn_publish(b->conn, GF_DYNSEC_TOPIC, text, strlen(text), 1, 0);
    free(text);
    if (err != GF_OK) {
        return gf_diag_set(diag, err, "broker", "cannot reach the broker's control topic");
    }
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += GF_DYNSEC_TIMEOUT_MS / 1000;
    pthread_mutex_lock(&b->mu);
    while (b->responses == NULL) {
        if (pthread_cond_timedwait(&b->cv, &b->mu, &until) != 0) {
            break;
        }
    }
    *out = b->responses;
    b->responses = NULL;
    b->want[0] = '\0';
    pthread_mutex_unlock(&b->mu);
    if (*out == NULL) {
        return gf_diag_set(diag, GF_ERR_TIMEOUT, "broker",
                           "no answer from the dynamic-security plugin (is it loaded?)");
    }
    return GF_OK;
}

/* First real error among the responses, ignoring the ones in ok_errors. */
static const char *first_error(const json_t *responses, const char *const *ok_errors)
{
    size_t i;
    json_t *r;

    json_array_foreach(responses, i, r) {
        const char *e = json_string_value(json_object_get(r, "error"));
        int fine = e == NULL;
        for (size_t k = 0; !fine && ok_errors[k] != NULL; k++) {
            fine = strstr(e, ok_errors[k]) != NULL;
        }
        if (!fine) {
            return e;
        }
    }
    return NULL;
}

/* Send cmds (stolen), wait for the answers, and fail with diag on the first error that is
 * not one of ok. resp (optional) receives the answers (caller decrefs). */
static enum gf_err run_commands(struct gf_broker *b, json_t *cmds, const char *const *ok,
                                json_t **resp, struct gf_diag *diag)
{
    json_t *answers = NULL;
    enum gf_err err = call(b, cmds, &answers, diag);
    const char *e;

    if (err == GF_OK && (e = first_error(answers, ok)) != NULL) {
        err = gf_diag_set(diag, GF_ERR_UNAVAILABLE, "broker", "dynamic security: %s", e);
    }
    if (resp != NULL && err == GF_OK) {
        *resp = answers;
    } else {
        json_decref(answers);
    }
    return err;
}

static json_t *acl(const char *type, const char *topic)
{
    return json_pack("{s:s, s:s, s:i, s:b}", "acltype", type, "topic", topic, "priority", 0,
                     "allow", 1);
}

/* What the account should be, as a fingerprint kept in its textdescription: "gatefleet " and
 * the SHA-256 (hex) of the password, client id, role and topic root, one per line (none has a
 * newline). The password is a 24-byte derived secret, so its hash gives nothing away to
 * whoever can read the broker's client list. cap >= 75. */
static void fingerprint(const char *password, const char *client_id, const char *role,
                        const char *topic_root, char *out, size_t cap)
{
    char text[400];

    snprintf(text, sizeof(text), "%s\n%s\n%s\n%s", password, client_id ? client_id : "", role,
             topic_root);
    snprintf(out, cap, "gatefleet ");
    gf_sha256_hex(out + strlen(out), cap - strlen(out), text, strlen(text));
    sodium_memzero(text, sizeof(text));
}

/* Is the getClient answer in resp[2] the account as wanted (fingerprint and role)? */
static int account_current(const json_t *resp, const char *desc, const char *role)
{
    const json_t *client =
        json_object_get(json_object_get(json_array_get(resp, 2), "data"), "client");
    const char *have = json_string_value(json_object_get(client, "textdescription"));
    json_t *r;
    size_t i;

    if (have == NULL || strcmp(have, desc) != 0) {
        return 0;
    }
    json_array_foreach(json_object_get(client, "roles"), i, r)
    {
        const char *name = json_string_value(json_object_get(r, "rolename"));
        if (name != NULL && strcmp(name, role) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Create the account, or bring an existing one up to date. An account already as wanted is
 * left alone: dynamic security disconnects every client of an account it changes, so
 * rewriting an unchanged one (each replica starting up did, for the service account) would
 * drop every other replica's sessions. */
static enum gf_err ds_ensure(struct gf_broker *b, const char *username, const char *password,
                             const char *client_id, const char *topic_root, struct gf_diag *diag)
{
    static const char *const ok_create[] = {"already exists", "already has", NULL};
    char role[96], pattern[128], shared[160], desc[80];
    json_t *resp = NULL;
    enum gf_err err;

    snprintf(role, sizeof(role), "gf-%s", username);
    snprintf(pattern, sizeof(pattern), "%s#", topic_root);
    snprintf(shared, sizeof(shared), "$share/+/%s#", topic_root);
    fingerprint(password, client_id, role, topic_root, desc, sizeof(desc));
    json_t *create = json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:i}]}", "command", "createClient",
                               "username", username, "password", password, "textdescription", desc,
                               "roles", "rolename", role, "priority", 0);
    json_t *set_id = json_pack("{s:s, s:s}", "command", "setClientId", "username", username);
    if (create == NULL || set_id == NULL) {
        json_decref(create);
        json_decref(set_id);
        return GF_ERR_NOMEM;
    }
    if (client_id != NULL) {
        json_object_set_new(create, "clientid", json_string(client_id));
        json_object_set_new(set_id, "clientid", json_string(client_id));
    }
    json_t *cmds = json_pack("[{s:s, s:s, s:[o, o, o, o]}, o, {s:s, s:s}]", "command", "createRole",
                             "rolename", role, "acls", acl("publishClientSend", pattern),
                             acl("publishClientReceive", pattern), acl("subscribePattern", pattern),
                             acl("subscribePattern", shared), create, "command", "getClient",
                             "username", username);
    if (cmds == NULL) {
        json_decref(set_id);
        return GF_ERR_NOMEM;
    }
    if ((err = run_commands(b, cmds, ok_create, &resp, diag)) != GF_OK) {
        json_decref(set_id);
        return err;
    }
    int existed = json_string_value(json_object_get(json_array_get(resp, 1), "error")) != NULL;
    int current = !existed || account_current(resp, desc, role);
    json_decref(resp);
    if (current) {
        json_decref(set_id);
        return GF_OK;
    }
    /* The account existed otherwise: bring its password, client id, role and fingerprint up
     * to date. mosquitto 2.0 answers "Internal error" to addClientRole when the client has the
     * role already. */
    static const char *const ok_update[] = {"Internal error", NULL};
    cmds = json_pack("[{s:s, s:s, s:s}, o, {s:s, s:s, s:s, s:i}, {s:s, s:s, s:s}]", "command",
                     "setClientPassword", "username", username, "password", password, set_id,
                     "command", "addClientRole", "username", username, "rolename", role, "priority",
                     0, "command", "modifyClient", "username", username, "textdescription", desc);
    return cmds ? run_commands(b, cmds, ok_update, NULL, diag) : GF_ERR_NOMEM;
}

static enum gf_err ds_remove(struct gf_broker *b, const char *username, struct gf_diag *diag)
{
    static const char *const ok_delete[] = {"not found", NULL};
    char role[96];

    snprintf(role, sizeof(role), "gf-%s", username);
    json_t *cmds = json_pack("[{s:s, s:s}, {s:s, s:s}]", "command", "deleteClient", "username",
                             username, "command", "deleteRole", "rolename", role);
    return cmds ? run_commands(b, cmds, ok_delete, NULL, diag) : GF_ERR_NOMEM;
}

static const struct gf_broker_ops mosquitto_ops = {"mosquitto", ds_open,   ds_close,
                                                   ds_ready,    ds_ensure, ds_remove};

const struct gf_broker_ops *gf_broker_ops_for(const char *kind)
{
    return strcmp(kind, "mosquitto") == 0 ? &mosquitto_ops : NULL;
}
