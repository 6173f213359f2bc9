/* SPDX-License-Identifier: Apache-2.0
 *
 * mqtturl.h - the broker URLs gatefleet accepts (mqtt://host[:port], mqtts://host[:port];
 * no user info, no path) and their translation to the URI form paho.mqtt.c wants
 * (tcp://, ssl://). Shared by the server (clusters, its sessions) and the agent.
 * Thread-safe (no state).
 */
#ifndef GF_COMMON_MQTTURL_H
#define GF_COMMON_MQTTURL_H

#include "err.h"

#include <stddef.h>

/* 1 when url is mqtt:// or mqtts:// with a host and an optional port 1..65535. */
int gf_mqtt_url_valid(const char *url);

/* 1 for mqtts://. */
int gf_mqtt_url_tls(const char *url);

/* tcp://host:port or ssl://host:port into out. GF_ERR_CONFIG when url is not valid,
 * GF_ERR_TOOBIG when out is too small. */
enum gf_err gf_mqtt_paho_uri(const char *url, char *out, size_t cap);

#endif
