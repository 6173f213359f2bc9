/* SPDX-License-Identifier: Apache-2.0
 *
 * test_agent_config.c - the agent's configuration table: defaults, GATEFLEET_AGENT_<KEY>
 * overrides, server_url scheme rule, errors naming the key.
 */
#include "config.h"
#include "gf_test.h"

#include <stdlib.h>

static enum gf_err load(int argc, char **argv, struct gf_agent_config *c, struct gf_diag *d)
{
    int argi = 1, print = 0;

    memset(c, 0, sizeof(*c));
    return gf_agent_config_load(c, argc, argv, &argi, &print, d);
}

int main(void)
{
    struct gf_agent_config c;
    struct gf_diag d;

    char *a1[] = {"gfa", NULL};
    CHECK(load(1, a1, &c, &d) == GF_OK);
    CHECK_STR(c.procfs_root, "/proc");
    CHECK_STR(c.sysfs_root, "/sys");
    CHECK(c.health_interval == 30 && c.spool_max_bytes == 64L * 1024 * 1024);
    gf_agent_config_free(&c);

    setenv("GATEFLEET_AGENT_PROCFS_ROOT", "/tmp/fixture/proc", 1);
    char *a2[] = {"gfa", "--health_interval", "5m", "--server_url", "https://gf.example", NULL};
    CHECK(load(5, a2, &c, &d) == GF_OK);
    CHECK_STR(c.procfs_root, "/tmp/fixture/proc");
    CHECK(c.health_interval == 300);
    gf_agent_config_free(&c);
    unsetenv("GATEFLEET_AGENT_PROCFS_ROOT");

    char *a3[] = {"gfa", "--server_url", "http://gf.example", NULL};
    CHECK(load(3, a3, &c, &d) == GF_ERR_CONFIG);
    CHECK_STR(d.where, "server_url");
    gf_agent_config_free(&c);
    char *a4[] = {"gfa", "--server_url", "http://127.0.0.1:8080", NULL};
    CHECK(load(3, a4, &c, &d) == GF_OK);
    gf_agent_config_free(&c);

    char *a5[] = {"gfa", "--spool_max_bytes", "1k", NULL};
    CHECK(load(3, a5, &c, &d) == GF_ERR_CONFIG);
    CHECK_STR(d.where, "spool_max_bytes");
    gf_agent_config_free(&c);

    setenv("GATEFLEET_AGENT_NOPE", "1", 1);
    CHECK(load(1, a1, &c, &d) == GF_ERR_CONFIG);
    CHECK(strstr(d.msg, "GATEFLEET_AGENT_NOPE") != NULL);
    gf_agent_config_free(&c);
    unsetenv("GATEFLEET_AGENT_NOPE");
    return gf_test_summary("test_agent_config");
}
