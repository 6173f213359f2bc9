/* SPDX-License-Identifier: Apache-2.0
 *
 * cmdout.c - the command outbox of one broker cluster (cmdout.h), run by the fleet thread.
 *
 * One transaction per round: take the publishers' advisory lock (one replica and cluster at
 * a time, so a batch's concurrency cap holds even when the batch spans clusters), lock the
 * due rows (SKIP LOCKED), publish each on the node's `cmd/req` as an MQTT 5 request -
 * response topic `cmd/res` under the node's root, the command id as correlation data,
 * message expiry up to the command's deadline - flush the session (every PUBACK in, one
 * wait for all), and mark the acknowledged rows sent and the others due again in 2 s. The
 * broker holds a request for an offline node in the node's persistent session and drops it
 * at its expiry, so a stale command never runs late; the sweep ends it as `expired`.
 */
#define GF_LOG_MODULE "commands"

#include "cmdout.h"

#include "../store/q_commands.h"
#include "conn.h"
#include "log.h"
#include "timefmt.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GF_CMDOUT_BATCH 500
#define GF_CMDOUT_WAIT_MS 5000
#define GF_CMDOUT_WINDOW 64
#define GF_CMDOUT_GRACE_MS 5000 /* the agent's own timed_out result may arrive late */
#define GF_LOGS_IDLE_MS 60000   /* a log stream nobody watched that long is stopped */
#define GF_LOGS_KEEP_MIN 60     /* log chunks are kept this long for reconnecting viewers */

int gf_cmdout_publish(struct gf_dbconn *db, const char *cluster, struct gf_mconn *pc)
{
    char limit[16], topic[96], resp[96];
    int tokens[GF_CMDOUT_BATCH];
    PGresult *res = NULL, *lk = NULL;
    enum gf_err err;
    int rows = 0;

    if (pc == NULL || !gf_mconn_connected(pc) || gf_db_begin(db) != GF_OK) {
        return 0;
    }
    if ((err = gf_db_exec(db, &gf_q_command_lock, NULL, &lk)) != GF_OK ||
        strcmp(PQgetvalue(lk, 0, 0), "t") != 0) {
        goto done; /* another replica is publishing commands */
    }
    snprintf(limit, sizeof(limit), "%d", GF_CMDOUT_BATCH);
    const char *p[2] = {cluster, limit};
    if ((err = gf_db_exec(db, &gf_q_command_due, p, &res)) != GF_OK) {
        goto done;
    }
    rows = PQntuples(res);
    unsigned window = gf_mconn_receive_max(pc) / 2;
    window = window < 1 ? 1 : window > GF_CMDOUT_WINDOW ? GF_CMDOUT_WINDOW : window;
    int64_t deadline = gf_time_mono_us() + GF_CMDOUT_WAIT_MS * 1000LL;
    unsigned epoch = gf_mconn_connects(pc);
    for (int r = 0; r < rows; r++) {
        const char *id = PQgetvalue(res, r, 0), *node = PQgetvalue(res, r, 1);
        const char *payload = PQgetvalue(res, r, 2);
        struct gf_mconn_req q = {(int)strtol(PQgetvalue(res, r, 3), NULL, 10), resp, id,
                                 strlen(id)};
        long left = (long)((deadline - gf_time_mono_us()) / 1000);

        snprintf(topic, sizeof(topic), "gf/v1/n/%s/cmd/req", node);
        snprintf(resp, sizeof(resp), "gf/v1/n/%s/cmd/res", node);
        tokens[r] = -1;
        if (left <= 0 || gf_mconn_window(pc, window, left) != GF_OK ||
            gf_mconn_publish_req(pc, topic, payload, strlen(payload), &q, &tokens[r]) != GF_OK) {
            tokens[r] = -1;
        }
    }
    /* Acknowledged: the session flushed without a reconnect, and the broker took this one. */
    long left = (long)((deadline - gf_time_mono_us()) / 1000);
    int flushed = rows > 0 && left > 0 && gf_mconn_flush(pc, left) == GF_OK &&
                  gf_mconn_connects(pc) == epoch;
    json_t *sent = json_array(), *unsent = json_array();
    for (int r = 0; r < rows; r++) {
        int ok = flushed && tokens[r] >= 0 && gf_mconn_outcome(pc, tokens[r]) == GF_OK;
        json_array_append_new(ok ? sent : unsent, json_string(PQgetvalue(res, r, 0)));
    }
    char *st = json_dumps(sent, JSON_COMPACT), *ut = json_dumps(unsent, JSON_COMPACT);
    const char *sp[1] = {st}, *up[1] = {ut};
    err = st == NULL || ut == NULL ? GF_ERR_NOMEM : GF_OK;
    if (err == GF_OK && json_array_size(sent) > 0) {
        err = gf_db_exec(db, &gf_q_command_sent, sp, NULL);
    }
    if (err == GF_OK && json_array_size(unsent) > 0) {
        gf_log_warn("commands not acknowledged by the broker; retrying", "cluster=%s count=%zu",
                    cluster, json_array_size(unsent));
        err = gf_db_exec(db, &gf_q_command_unsent, up, NULL);
    }
    free(st);
    free(ut);
    json_decref(sent);
    json_decref(unsent);
done:
    PQclear(lk);
    PQclear(res);
    if (err != GF_OK || gf_db_commit(db) != GF_OK) {
        gf_log_warn("command publish round failed", "cluster=%s error=%s", cluster,
                    gf_err_str(err));
        gf_db_rollback(db);
        return 0;
    }
    return rows;
}

void gf_cmdout_sweep(struct gf_dbconn *db)
{
    char grace[16], idle[16];
    PGresult *res = NULL;

    snprintf(grace, sizeof(grace), "%d", GF_CMDOUT_GRACE_MS);
    const char *p[1] = {grace};
    if (gf_db_exec(db, &gf_q_command_sweep, p, &res) == GF_OK &&
        strcmp(PQgetvalue(res, 0, 0), "0") != 0) {
        gf_log_info("commands ended at their deadline", "count=%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    res = NULL;
    snprintf(idle, sizeof(idle), "%d", GF_LOGS_IDLE_MS);
    const char *lp[1] = {idle};
    if (gf_db_exec(db, &gf_q_log_streams_idle, lp, &res) == GF_OK &&
        strcmp(PQgetvalue(res, 0, 0), "0") != 0) {
        gf_log_info("log streams stopped: nobody watched them", "count=%s",
                    PQgetvalue(res, 0, 0));
    }
    PQclear(res);
}

enum gf_err gf_cmdout_prune(struct gf_dbconn *db)
{
    char keep[16];
    PGresult *res = NULL;

    snprintf(keep, sizeof(keep), "%d", GF_LOGS_KEEP_MIN);
    const char *p[1] = {keep};
    enum gf_err err = gf_db_exec(db, &gf_q_log_chunks_prune, p, &res);
    if (err == GF_OK && strcmp(PQgetvalue(res, 0, 0), "0") != 0) {
        gf_log_info("old log chunks deleted", "count=%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return err;
}
