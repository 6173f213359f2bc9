/* SPDX-License-Identifier: Apache-2.0
 *
 * broker.h - provisioning broker accounts, one implementation per broker kind. The fleet
 * manager (fleet.c) calls these from its own thread for the accounts in broker_accounts:
 * the server's service account (publish and subscribe under gf/v1/n/#) and one account per
 * accepted node (publish and subscribe under gf/v1/n/<node>/ only, client id = node id).
 * mosquitto is provisioned over its dynamic-security control topic (dynsec.c); EMQX will
 * authenticate and authorise through HTTP callbacks to the server instead, which needs no
 * provisioning calls (not built yet: accounts of emqx clusters stay pending with an error).
 */
#ifndef GF_SERVER_MQTT_BROKER_H
#define GF_SERVER_MQTT_BROKER_H

#include "err.h"

struct gf_broker;

struct gf_broker_ops {
    const char *kind;
    /* Admin session to the broker; NULL ops->open means the kind needs none. */
    enum gf_err (*open)(const char *url, const char *user, const char *password,
                        const char *client_id, struct gf_broker **out);
    void (*close)(struct gf_broker *b);
    int (*ready)(struct gf_broker *b);
    /* Create or update an account whose role allows pub/sub under topic_root + "#". */
    enum gf_err (*ensure)(struct gf_broker *b, const char *username, const char *password,
                          const char *client_id, const char *topic_root, struct gf_diag *diag);
    /* Delete the account and its role (absent is fine). Connected clients are dropped. */
    enum gf_err (*remove)(struct gf_broker *b, const char *username, struct gf_diag *diag);
};

/* The implementation for kind ("mosquitto"), NULL when there is none. */
const struct gf_broker_ops *gf_broker_ops_for(const char *kind);

#endif
