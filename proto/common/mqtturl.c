/* SPDX-License-Identifier: Apache-2.0
 *
 * mqtturl.c - broker URL checks and paho URIs (see mqtturl.h).
 */
#include "mqtturl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The part after the scheme, or NULL for another scheme. */
static const char *host_part(const char *url)
{
    return strncmp(url, "mqtt://", 7) == 0    ? url + 7
           : strncmp(url, "mqtts://", 8) == 0 ? url + 8
                                              : NULL;
}

int gf_mqtt_url_valid(const char *url)
{
    const char *host = url ? host_part(url) : NULL;
    const char *colon;

    if (host == NULL || host[0] == '\0' || strchr(host, '/') != NULL || strchr(host, '@')) {
        return 0;
    }
    colon = strrchr(host, ':');
    if (colon == NULL || colon == host || colon[1] == '\0') {
        return colon == NULL;
    }
    for (const char *c = colon + 1; *c; c++) {
        if (*c < '0' || *c > '9') {
            return 0;
        }
    }
    long port = strtol(colon + 1, NULL, 10);
    return port >= 1 && port <= 65535;
}

int gf_mqtt_url_tls(const char *url)
{
    return strncmp(url, "mqtts://", 8) == 0;
}

enum gf_err gf_mqtt_paho_uri(const char *url, char *out, size_t cap)
{
    if (!gf_mqtt_url_valid(url)) {
        return GF_ERR_CONFIG;
    }
    int n = snprintf(out, cap, "%s://%s", gf_mqtt_url_tls(url) ? "ssl" : "tcp", host_part(url));
    return n > 0 && (size_t)n < cap ? GF_OK : GF_ERR_TOOBIG;
}
