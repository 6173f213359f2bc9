/* SPDX-License-Identifier: Apache-2.0
 *
 * test_server_config.c - the server's configuration table: defaults, cross-key rules
 * (tls_cert with tls_key, mqtt_url scheme), environment overrides, errors naming the key.
 */
#include "core/config.h"
#include "gf_test.h"

#include <stdlib.h>

static enum gf_err load(int argc, char **argv, struct gf_server_config *c, struct gf_diag *d)
{
    int argi = 1, print = 0;

    memset(c, 0, sizeof(*c));
    return gf_server_config_load(c, argc, argv, &argi, &print, d);
}

int main(void)
{
    struct gf_server_config c;
    struct gf_diag d;

    char *a1[] = {"gfs", NULL};
    CHECK(load(1, a1, &c, &d) == GF_OK);
    CHECK_STR(c.listen, "127.0.0.1:8080");
    CHECK(c.database_url == NULL && c.http_threads == 4 && c.max_body_bytes == 1024 * 1024);
    gf_server_config_free(&c);

    char *a2[] = {"gfs", "--tls_cert", "/x.pem", NULL};
    CHECK(load(3, a2, &c, &d) == GF_ERR_CONFIG);
    CHECK_STR(d.where, "tls_key");
    gf_server_config_free(&c);

    char *a3[] = {"gfs", "--mqtt_url", "http://x", NULL};
    CHECK(load(3, a3, &c, &d) == GF_ERR_CONFIG);
    CHECK_STR(d.where, "mqtt_url");
    gf_server_config_free(&c);

    char *a4[] = {"gfs", "--http_threads", "0", NULL};
    CHECK(load(3, a4, &c, &d) == GF_ERR_CONFIG);
    CHECK_STR(d.where, "http_threads");
    gf_server_config_free(&c);

    setenv("GATEFLEET_LISTEN", "127.0.0.1:0", 1);
    char *a5[] = {"gfs", "--log-level", "debug", NULL};
    CHECK(load(3, a5, &c, &d) == GF_OK);
    CHECK_STR(c.listen, "127.0.0.1:0");
    CHECK_STR(c.log_level, "debug");
    gf_server_config_free(&c);
    setenv("GATEFLEET_LISTEN_ADDR", "x", 1);
    CHECK(load(1, a1, &c, &d) == GF_ERR_CONFIG);
    CHECK(strstr(d.msg, "GATEFLEET_LISTEN_ADDR") != NULL);
    gf_server_config_free(&c);
    unsetenv("GATEFLEET_LISTEN_ADDR");
    unsetenv("GATEFLEET_LISTEN");
    return gf_test_summary("test_server_config");
}
