/* SPDX-License-Identifier: Apache-2.0
 *
 * test_mqtturl.c - broker URLs: what is accepted, and the paho URI each becomes.
 */
#include "gf_test.h"
#include "mqtturl.h"

int main(void)
{
    char out[64];

    CHECK(gf_mqtt_url_valid("mqtt://127.0.0.1:1883"));
    CHECK(gf_mqtt_url_valid("mqtts://broker.example"));
    CHECK(!gf_mqtt_url_valid("http://x:1"));
    CHECK(!gf_mqtt_url_valid("mqtt://"));
    CHECK(!gf_mqtt_url_valid("mqtt://h:99999"));
    CHECK(!gf_mqtt_url_valid("mqtt://h:1x"));
    CHECK(!gf_mqtt_url_valid("mqtt://h:"));
    CHECK(!gf_mqtt_url_valid("mqtt://user@h:1"));
    CHECK(!gf_mqtt_url_valid("mqtt://h:1/path"));
    CHECK(!gf_mqtt_url_valid(NULL));
    CHECK(gf_mqtt_url_tls("mqtts://h:8883") && !gf_mqtt_url_tls("mqtt://h:1883"));
    CHECK(gf_mqtt_paho_uri("mqtt://127.0.0.1:1883", out, sizeof(out)) == GF_OK);
    CHECK_STR(out, "tcp://127.0.0.1:1883");
    CHECK(gf_mqtt_paho_uri("mqtts://b.example:8883", out, sizeof(out)) == GF_OK);
    CHECK_STR(out, "ssl://b.example:8883");
    CHECK(gf_mqtt_paho_uri("ftp://x", out, sizeof(out)) == GF_ERR_CONFIG);
    CHECK(gf_mqtt_paho_uri("mqtt://127.0.0.1:1883", out, 8) == GF_ERR_TOOBIG);
    return gf_test_summary("test_mqtturl");
}
