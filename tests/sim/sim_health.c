/* SPDX-License-Identifier: Apache-2.0
 *
 * sim_health.c - the agent's health protocol of docs/mqtt.md for a virtual node (see
 * sim.h): a sample every interval with a per-boot sequence number, the unacknowledged
 * samples sent as one `health` batch when none is in flight (at most max_batch records),
 * the server's `ack` advancing the node, and the same batch sent again after 10 s without
 * an ack. Acks for another boot id (an earlier run) are ignored. The counters of the
 * measured window (window_start … window_end) are what ingest and echo modes report.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESEND_US (10 * 1000000LL)

static int in_window(const struct gf_sim *s)
{
    int64_t t = gf_sim_now_us();

    return t >= s->window_start && t < s->window_end;
}

void gf_sim_health_init(struct gf_sim *s)
{
    snprintf(s->sample, sizeof(s->sample),
             "{\"cpu\":{\"cores\":4,\"usage_pct\":23.5,\"load1\":0.52,\"load5\":0.58,"
             "\"load15\":0.59},\"memory\":{\"total_bytes\":4102107136,\"available_bytes\":"
             "2563817472,\"used_pct\":37.5},\"disk\":{\"mounts\":[{\"mount\":\"/\",\"fs\":"
             "\"ext4\",\"read_only\":false,\"total_bytes\":31036686336,\"free_bytes\":"
             "18249662464,\"used_pct\":41.2}]},\"power\":{\"mains_online\":true,"
             "\"on_battery\":false},\"link\":{\"default_route\":true,\"interfaces\":[{\"name\":"
             "\"eth0\",\"operstate\":\"up\",\"carrier\":true,\"speed_mbps\":1000,\"rx_bytes\":"
             "123456789,\"tx_bytes\":98765432,\"rx_errors\":0,\"tx_errors\":0}]},\"thermal\":"
             "{\"zones\":[{\"zone\":\"thermal_zone0\",\"temp_c\":45.5}]},\"uptime\":{\"seconds\":"
             "86400}}");
}

static void send_batch(struct gf_sim *s, struct gf_sim_node *n)
{
    static char body[GF_SIM_BATCH_MAX];
    char topic[96], at[64];
    struct timespec ts;
    struct tm tm;
    uint64_t from = n->acked + 1, to = n->seq;

    if (to < from) {
        return;
    }
    if (to - from + 1 > (uint64_t)s->max_batch) {
        to = from + (uint64_t)s->max_batch - 1;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(at, sizeof(at), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long)(ts.tv_nsec / 1000000) % 1000);
    size_t l = (size_t)snprintf(body, sizeof(body),
                                "{\"boot_id\":\"%s\",\"session\":%llu,\"dropped\":0,\"records\":[",
                                s->boot, (unsigned long long)n->session);
    uint64_t last = from - 1;
    for (uint64_t q = from; q <= to && l + GF_SIM_SAMPLE_BYTES + 100 < sizeof(body); q++) {
        l += (size_t)snprintf(body + l, sizeof(body) - l,
                              "%s{\"seq\":%llu,\"at\":\"%s\",\"sample\":%s}", q == from ? "" : ",",
                              (unsigned long long)q, at, s->sample);
        last = q;
    }
    l += (size_t)snprintf(body + l, sizeof(body) - l, "]}");
    snprintf(topic, sizeof(topic), "gf/v1/n/%s/health", n->id);
    gf_sim_publish(s, n, topic, body, l, 1, 0);
    n->sent_upto = last;
    n->sent_at_us = gf_sim_now_us();
    s->batches_sent++;
}

void gf_sim_health_ack(struct gf_sim *s, struct gf_sim_node *n, const unsigned char *payload,
                       size_t len)
{
    char buf[256];
    const char *p;

    snprintf(buf, sizeof(buf), "%.*s", (int)(len < 255 ? len : 255), (const char *)payload);
    if ((p = strstr(buf, "\"seq\":")) == NULL || strstr(buf, s->boot) == NULL) {
        return;
    }
    uint64_t seq = strtoull(p + 6, NULL, 10);
    if (seq > n->acked) {
        uint64_t delta = seq - n->acked;
        s->acked_samples += delta;
        if (in_window(s)) {
            s->acked_w += delta;
        }
        n->acked = seq;
    }
    if (n->sent_upto != 0 && seq >= n->sent_upto) {
        n->sent_upto = 0;
        if (n->seq > n->acked) {
            send_batch(s, n);
        }
    }
}

void gf_sim_health_tick(struct gf_sim *s, struct gf_sim_node *n, int64_t t)
{
    if (n->sink || n->st != GF_SIM_READY || s->interval_ms <= 0) {
        return;
    }
    if (t >= n->next_sample_us) {
        n->next_sample_us += s->interval_ms * 1000;
        if (n->next_sample_us < t) {
            n->next_sample_us = t + s->interval_ms * 1000;
        }
        n->seq++;
        s->made++;
        if (in_window(s)) {
            s->made_w++;
        }
        if (n->sent_upto == 0) {
            send_batch(s, n);
        }
    }
    if (n->sent_upto != 0 && t - n->sent_at_us > RESEND_US) {
        s->resends++;
        n->sent_upto = 0;
        send_batch(s, n);
    }
    if (n->wlen) {
        gf_sim_flush(s, n);
    }
}
