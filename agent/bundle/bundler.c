/* SPDX-License-Identifier: Apache-2.0
 *
 * bundler.c - the bundle thread (see bundler.h). One desired message is handled at a time;
 * every refusal is decided before anything is staged, so the active configuration is only
 * ever touched by apply.c. Reports are QoS 1 publishes on bundle/status. The final report of
 * a desired message is kept and published again until the server acknowledges it (an `ack`
 * with status_gen, sent after its COMMIT): the broker's PUBACK is not enough, since the
 * server's MQTT client acknowledges a message when it reads it, before it is stored. It goes
 * again after the resend timeout (as health batches: twice the keep-alive, at least 10 s),
 * doubling up to RETRY_MAX_MS. A report of an assignment without gen (older servers) is only
 * kept until the broker takes it.
 */
#define GF_LOG_MODULE "bundle"

#include "bundler.h"

#include "actions.h"
#include "alloc.h"
#include "apply.h"
#include "config.h"
#include "file.h"
#include "http.h"
#include "ids.h"
#include "json.h"
#include "log.h"
#include "session.h"
#include "sign.h"
#include "timefmt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RETRY_MIN_MS 5000
#define RETRY_MAX_MS 300000
#define TRUST_ANSWER_MAX (1024u * 1024u)
#define TRUST_PAGE 100 /* statements per answer of GET /agent/trust (q_bundles.c) */
#define TRUST_MAX_PAGES 100

enum outcome { DONE, RETRY };

struct desired {
    char bundle_id[40];
    char name[GF_MANIFEST_NAME_MAX + 1];
    uint64_t version;
    char sha256[65];
    uint64_t trust_seq;
    uint64_t gen; /* the server's assignment generation (0: none): echoed in reports */
};

struct gf_bundler {
    const struct gf_agent_config *cfg;
    const struct gf_identity *id;
    char node_id[40];
    char bundles_dir[600], blobs_dir[700], trust_path[700];
    struct gf_actions *actions;
    struct gf_trust trust;
    int have_trust;
    pthread_t thread;
    /* mu guards the mailbox (pending, stop) and applied. It is taken by paho's callback
     * thread (gf_bundler_desired), so nothing calls into paho while holding it. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    char *pending; /* newest desired message not taken yet */
    size_t pending_len;
    char applied[512];
    /* pub_mu guards the session pointer while a report is published, and final*. */
    pthread_mutex_t pub_mu;
    struct gf_session *session;
    char final[1024];     /* final report not acknowledged yet ("": none) */
    uint64_t final_gen;   /* its assignment (0: none; kept until the broker takes it) */
    char final_state[16]; /* its state */
    int64_t final_sent;   /* when it was last published (0: not yet: at once) */
    long final_wait_ms;   /* until it goes again */
};

/* ------------------------------------------------------------------ reports */

/* Report state (reason may be NULL). final: keep until acknowledged (see the top). */
static void report(struct gf_bundler *b, const struct desired *d, const char *state,
                   const char *reason, int final)
{
    char at[40], text[1024];

    gf_time_format_rfc3339(gf_time_now_us(), at, sizeof(at));
    json_t *o =
        json_pack("{s:s?, s:s?, s:I, s:s?, s:s, s:s?, s:s}", "bundle_id",
                  d->bundle_id[0] ? d->bundle_id : NULL, "name", d->name[0] ? d->name : NULL,
                  "version", (json_int_t)d->version, "manifest_sha256",
                  d->sha256[0] ? d->sha256 : NULL, "state", state, "reason", reason, "at", at);
    if (o != NULL && d->gen > 0) {
        json_object_set_new(o, "gen", json_integer((json_int_t)d->gen));
    }
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (s == NULL || strlen(s) >= sizeof(text)) {
        free(s);
        return;
    }
    snprintf(text, sizeof(text), "%s", s);
    free(s);
    if (strcmp(state, "failed") == 0 || strcmp(state, "rolled_back") == 0) {
        gf_log_warn("bundle not applied", "bundle=%s version=%llu state=%s reason=%s", d->bundle_id,
                    (unsigned long long)d->version, state, reason ? reason : "-");
    } else {
        gf_log_info("bundle", "bundle=%s version=%llu state=%s", d->bundle_id,
                    (unsigned long long)d->version, state);
    }
    pthread_mutex_lock(&b->pub_mu);
    struct gf_session *ses = b->session;
    int ok = ses != NULL && gf_session_publish(ses, "bundle/status", text, strlen(text)) == GF_OK;
    if (final) {
        snprintf(b->final, sizeof(b->final), "%s", ok && d->gen == 0 ? "" : text);
        b->final_gen = d->gen;
        snprintf(b->final_state, sizeof(b->final_state), "%s", state);
        b->final_sent = ok ? gf_time_mono_us() : 0;
        b->final_wait_ms = gf_agent_resend_ms(b->cfg);
    }
    pthread_mutex_unlock(&b->pub_mu);
}

/* Publish the kept final report again when it is due (pub_mu held). */
static void resend_final(struct gf_bundler *b)
{
    int64_t now = gf_time_mono_us();

    if (b->final[0] == '\0' || b->session == NULL ||
        (b->final_sent != 0 && now - b->final_sent < b->final_wait_ms * 1000LL)) {
        return;
    }
    if (gf_session_publish(b->session, "bundle/status", b->final, strlen(b->final)) != GF_OK) {
        return; /* not connected: tried again each time the thread wakes */
    }
    if (b->final_sent != 0) {
        gf_log_info("final bundle status not acknowledged; sent it again", "gen=%llu state=%s",
                    (unsigned long long)b->final_gen, b->final_state);
        b->final_wait_ms =
            b->final_wait_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : b->final_wait_ms * 2;
    }
    b->final_sent = now;
    if (b->final_gen == 0) {
        b->final[0] = '\0';
    }
}

static void set_applied(struct gf_bundler *b)
{
    struct gf_installed in;
    char text[512];

    if (gf_installed_load(b->bundles_dir, &in) != GF_OK || in.name[0] == '\0') {
        snprintf(text, sizeof(text), "null");
    } else {
        snprintf(text, sizeof(text),
                 "{\"bundle_id\":\"%s\",\"name\":\"%s\",\"version\":%llu,"
                 "\"manifest_sha256\":\"%s\"}",
                 in.bundle_id, in.name, (unsigned long long)in.version, in.sha256);
    }
    pthread_mutex_lock(&b->mu);
    snprintf(b->applied, sizeof(b->applied), "%s", text);
    pthread_mutex_unlock(&b->mu);
}

/* ------------------------------------------------------------------ trust root */

/* Decode an envelope holding a trust statement into t (no signature check). */
static enum gf_err decode_statement(const char *text, size_t len, struct gf_envelope *e,
                                    struct gf_trust *t, enum gf_reject *reason)
{
    enum gf_err err = gf_envelope_decode(text, len, e, reason, NULL);

    if (err == GF_OK && (err = gf_trust_decode(e->bytes, e->len, t, reason, NULL)) != GF_OK) {
        gf_free(e->bytes);
        e->bytes = NULL;
    }
    return err;
}

static enum gf_err trust_load(struct gf_bundler *b, struct gf_diag *diag)
{
    struct gf_buf buf;
    struct gf_envelope e = {0};
    enum gf_reject reason;
    const char *path = b->trust_path;
    enum gf_err err;

    gf_buf_init(&buf, GF_ENVELOPE_MAX_BYTES);
    err = gf_file_read(path, &buf);
    if (err == GF_ERR_NOTFOUND && b->cfg->trust_file != NULL) {
        path = b->cfg->trust_file;
        err = gf_file_read(path, &buf);
    }
    if (err == GF_ERR_NOTFOUND) {
        gf_buf_free(&buf);
        return GF_OK; /* trust on first use */
    }
    if (err != GF_OK || decode_statement(buf.data, buf.len, &e, &b->trust, &reason) != GF_OK) {
        gf_buf_free(&buf);
        return gf_diag_set(diag, GF_ERR_CONFIG, path == b->trust_path ? "trust.json" : "trust_file",
                           "%s is not a trust statement envelope", path);
    }
    if (path != b->trust_path) {
        gf_file_write_atomic(b->trust_path, buf.data, buf.len, 0600);
    }
    b->have_trust = 1;
    gf_free(e.bytes);
    gf_buf_free(&buf);
    return GF_OK;
}

/* Bring the trust root up to want. DONE with *reason set on refusal. */
/* Apply one page of statements (an array of envelopes) to the root. DONE, *reason on a
 * refused statement; *count receives how many the page held. */
static void trust_page(struct gf_bundler *b, const json_t *list, size_t *count,
                       enum gf_reject *reason)
{
    size_t i;
    json_t *env;

    *count = json_array_size(list);
    json_array_foreach(list, i, env)
    {
        struct gf_envelope e = {0};
        struct gf_trust t;
        char *text = json_dumps(env, JSON_COMPACT);
        enum gf_err err =
            text ? decode_statement(text, strlen(text), &e, &t, reason) : GF_ERR_NOMEM;
        if (err == GF_OK && !b->have_trust) {
            /* First contact: statement 1, signed by one of its own keys. */
            err = t.seq == 1 ? gf_trust_check(&t, &e, reason) : GF_ERR_CRYPTO;
            if (err == GF_OK) {
                b->trust = t;
            } else if (*reason == GF_REJECT_NONE) {
                *reason = GF_REJECT_TRUST;
            }
        } else if (err == GF_OK) {
            err = gf_trust_advance(&b->trust, &e, reason, NULL);
        }
        if (err == GF_OK) {
            b->have_trust = 1;
            gf_file_write_atomic(b->trust_path, text, strlen(text), 0600);
            gf_log_info("trust root advanced", "seq=%llu keys=%zu",
                        (unsigned long long)b->trust.seq, b->trust.nkeys);
        }
        gf_free(e.bytes);
        free(text);
        if (err != GF_OK) {
            if (*reason == GF_REJECT_NONE) {
                *reason = GF_REJECT_MALFORMED;
            }
            return;
        }
    }
}

/* Bring the trust root up to date before any manifest is judged: always ask the server for
 * the statements after ours (the desired message's trust_seq is only a hint, and unsigned),
 * page by page. want: the seq the desired message names; less than that is refused. DONE
 * with *reason set on refusal; RETRY when the server could not be asked. */
static enum outcome trust_update(struct gf_bundler *b, uint64_t want, enum gf_reject *reason)
{
    *reason = GF_REJECT_NONE;
    for (int page = 0; page < TRUST_MAX_PAGES; page++) {
        char path[96];
        struct gf_buf buf;
        struct gf_http_get g = {0};
        json_t *ans = NULL;
        size_t count = 0;
        snprintf(path, sizeof(path), "/api/v1/agent/trust?since=%llu",
                 (unsigned long long)(b->have_trust ? b->trust.seq : 0));
        gf_buf_init(&buf, TRUST_ANSWER_MAX);
        g.path = path;
        g.fd = -1;
        g.buf = &buf;
        if (gf_http_signed_get(b->cfg, b->id, b->node_id, &g) != GF_OK || g.status != 200 ||
            gf_json_parse_object(buf.data, buf.len, &ans, NULL) != GF_OK) {
            gf_log_warn("cannot fetch trust statements", "status=%ld", g.status);
            gf_buf_free(&buf);
            return RETRY;
        }
        trust_page(b, json_object_get(ans, "statements"), &count, reason);
        json_decref(ans);
        gf_buf_free(&buf);
        if (*reason != GF_REJECT_NONE || count < TRUST_PAGE) {
            break;
        }
    }
    if (*reason == GF_REJECT_NONE && (!b->have_trust || b->trust.seq < want)) {
        *reason = GF_REJECT_TRUST;
    }
    return DONE;
}

/* ------------------------------------------------------------------ blobs */

static enum gf_err hash_file(const char *path, char hex[65], uint64_t *size)
{
    unsigned char buf[65536], h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ssize_t n;

    if (fd < 0) {
        return errno == ENOENT ? GF_ERR_NOTFOUND : GF_ERR_IO;
    }
    *size = 0;
    crypto_hash_sha256_init(&st);
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
        *size += (uint64_t)n;
    }
    close(fd);
    if (n < 0) {
        return GF_ERR_IO;
    }
    crypto_hash_sha256_final(&st, h);
    gf_hex_encode(hex, 65, h, sizeof(h));
    return GF_OK;
}

/* Make blobs/<sha> present and correct. DONE with *reason on refusal; RETRY when the link
 * or the disk failed (reason_word says which). */
static enum outcome fetch_blob(struct gf_bundler *b, const struct gf_manifest_file *f,
                               enum gf_reject *reason, const char **word)
{
    char final[800], part[810], path[128], hex[65];
    uint64_t size = 0;
    struct stat st;

    snprintf(final, sizeof(final), "%s/%s", b->blobs_dir, f->sha256);
    snprintf(part, sizeof(part), "%s.part", final);
    if (hash_file(final, hex, &size) == GF_OK) {
        if (strcmp(hex, f->sha256) == 0 && size == f->size) {
            return DONE;
        }
        unlink(final); /* a damaged cache entry */
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        int fd = open(part, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 || fstat(fd, &st) != 0) {
            if (fd >= 0) {
                close(fd);
            }
            *word = "io";
            return RETRY;
        }
        if ((uint64_t)st.st_size > f->size && ftruncate(fd, 0) == 0) {
            st.st_size = 0;
        }
        struct gf_http_get g = {0};
        snprintf(path, sizeof(path), "/api/v1/agent/blobs/%s", f->sha256);
        g.path = path;
        g.fd = fd;
        g.offset = (uint64_t)st.st_size;
        g.max_bytes = f->size; /* never more than declared, empty files included */
        enum gf_err err = GF_OK;
        if (g.offset < f->size) {
            err = gf_http_signed_get(b->cfg, b->id, b->node_id, &g);
        } else {
            g.status = 206;
        }
        int sync_ok = fdatasync(fd) == 0;
        close(fd);
        if (err == GF_ERR_TOOBIG) {
            unlink(part);
            *reason = GF_REJECT_SIZE; /* the server sent more than the manifest declares */
            return DONE;
        }
        if (err == GF_ERR_IO || !sync_ok) {
            *word = g.write_errno == ENOSPC || g.write_errno == EFBIG ? "disk_full" : "io";
            unlink(part);
            return RETRY;
        }
        if (err != GF_OK) {
            *word = "download";
            return RETRY;
        }
        if (g.status == 416) {
            unlink(part); /* the server refused the range: start over */
            continue;
        }
        if (g.status != 200 && g.status != 206) {
            *word = "download";
            return RETRY;
        }
        if (hash_file(part, hex, &size) != GF_OK) {
            *word = "io";
            return RETRY;
        }
        if (size < f->size) {
            *word = "download"; /* cut short: resume next time */
            return RETRY;
        }
        if (size != f->size || strcmp(hex, f->sha256) != 0) {
            unlink(part);
            *reason = size != f->size ? GF_REJECT_SIZE : GF_REJECT_HASH;
            return DONE;
        }
        if (rename(part, final) != 0) {
            *word = "io";
            return RETRY;
        }
        return DONE;
    }
    *word = "download";
    return RETRY;
}

/* Remove cached blobs that m does not use (and stale .part files). */
static void prune_blobs(struct gf_bundler *b, const struct gf_manifest *m)
{
    DIR *d = opendir(b->blobs_dir);
    struct dirent *de;

    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        int keep = de->d_name[0] == '.';
        for (size_t i = 0; !keep && i < m->nfiles; i++) {
            keep = strcmp(de->d_name, m->files[i].sha256) == 0;
        }
        if (!keep) {
            unlinkat(dirfd(d), de->d_name, 0);
        }
    }
    closedir(d);
}

/* ------------------------------------------------------------------ one desired message */

static int parse_desired(const char *text, size_t len, struct desired *d)
{
    json_t *o = NULL;
    int ok = 0;

    memset(d, 0, sizeof(*d));
    if (gf_json_parse_object(text, len, &o, NULL) != GF_OK) {
        return 0;
    }
    const char *id = json_string_value(json_object_get(o, "bundle_id"));
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *sha = json_string_value(json_object_get(o, "manifest_sha256"));
    json_t *v = json_object_get(o, "version"), *ts = json_object_get(o, "trust_seq");
    json_t *gen = json_object_get(o, "gen");
    if (id != NULL && gf_uuid_valid(id) && name != NULL && gf_manifest_name_ok(name) &&
        sha != NULL && strlen(sha) == 64 && json_is_integer(v) && json_integer_value(v) > 0) {
        snprintf(d->bundle_id, sizeof(d->bundle_id), "%s", id);
        snprintf(d->name, sizeof(d->name), "%s", name);
        snprintf(d->sha256, sizeof(d->sha256), "%s", sha);
        d->version = (uint64_t)json_integer_value(v);
        d->trust_seq = json_is_integer(ts) && json_integer_value(ts) > 0
                           ? (uint64_t)json_integer_value(ts)
                           : 0;
        d->gen = json_is_integer(gen) && json_integer_value(gen) > 0
                     ? (uint64_t)json_integer_value(gen)
                     : 0;
        ok = 1;
    }
    json_decref(o);
    return ok;
}

/* Everything verify can say before any blob is fetched. GF_REJECT_NONE when acceptable;
 * *same when this exact manifest is already installed. */
static enum gf_reject check_manifest(struct gf_bundler *b, const struct gf_manifest *m,
                                     const struct gf_installed *in, int *same)
{
    int64_t now = gf_time_now_us();
    uint64_t hwm = gf_installed_hwm(in, m->name);

    *same = 0;
    if (strcmp(m->project, b->trust.project) != 0) {
        return GF_REJECT_PROJECT;
    }
    if (m->node[0] != '\0' && strcmp(m->node, b->node_id) != 0) {
        return GF_REJECT_NODE;
    }
    if (m->expires_us <= now || m->expires_us <= in->floor_us) {
        return GF_REJECT_EXPIRED;
    }
    if (m->version < hwm) {
        return GF_REJECT_ROLLBACK;
    }
    if (hwm == 0 && in->nhwm >= GF_APPLY_MAX_NAMES) {
        /* Forgetting a name's high-water mark would let an old manifest of it back in. */
        gf_log_warn("too many bundle names on this station", "max=%d", GF_APPLY_MAX_NAMES);
        return GF_REJECT_ROLLBACK;
    }
    if (m->version == hwm) {
        if (strcmp(in->name, m->name) == 0 && strcmp(in->sha256, m->sha256) == 0) {
            *same = 1;
            return GF_REJECT_NONE;
        }
        return GF_REJECT_CONFLICT;
    }
    if (m->total_size > (uint64_t)b->cfg->bundle_max_bytes) {
        return GF_REJECT_SIZE;
    }
    for (size_t i = 0; i < m->nactions; i++) {
        if (!gf_actions_has(b->actions, m->actions[i])) {
            return GF_REJECT_ACTION;
        }
    }
    if (m->health_check[0] != '\0' && !gf_actions_has(b->actions, m->health_check)) {
        return GF_REJECT_ACTION;
    }
    return GF_REJECT_NONE;
}

static void on_progress(void *arg, const char *step)
{
    (void)arg;
    gf_log_debug("apply step", "step=%s", step);
}

static enum outcome process(struct gf_bundler *b, const struct desired *d)
{
    char path[128];
    struct gf_installed in;
    struct gf_buf buf;
    struct gf_http_get g = {0};
    struct gf_envelope e = {0};
    struct gf_manifest m = {0};
    enum gf_reject reason = GF_REJECT_NONE;
    const char *word = NULL;
    enum outcome out = DONE;
    int same = 0;

    gf_buf_init(&buf, GF_ENVELOPE_MAX_BYTES);
    if (gf_installed_load(b->bundles_dir, &in) != GF_OK) {
        memset(&in, 0, sizeof(in));
    }
    if (strcmp(in.sha256, d->sha256) == 0) {
        report(b, d, "applied", NULL, 1); /* redelivered: say it again */
        goto done;
    }
    if (strcmp(in.failed_sha256, d->sha256) == 0) {
        report(b, d, "failed", "failed_before", 1);
        goto done;
    }
    if ((out = trust_update(b, d->trust_seq, &reason)) == RETRY || reason != GF_REJECT_NONE) {
        word = out == RETRY ? "download" : NULL;
        goto done;
    }
    report(b, d, "downloading", NULL, 0);
    snprintf(path, sizeof(path), "/api/v1/agent/bundles/%s/manifest", d->bundle_id);
    g.path = path;
    g.fd = -1;
    g.buf = &buf;
    enum gf_err err = gf_http_signed_get(b->cfg, b->id, b->node_id, &g);
    if (err == GF_ERR_TOOBIG) {
        reason = GF_REJECT_SIZE;
        goto done;
    }
    if (err != GF_OK || g.status != 200) {
        word = "download";
        out = g.status == 404 ? DONE : RETRY; /* 404: no longer our desired bundle */
        goto done;
    }
    if (gf_envelope_decode(buf.data, buf.len, &e, &reason, NULL) != GF_OK ||
        gf_trust_check(&b->trust, &e, &reason) != GF_OK) {
        goto done;
    }
    if (gf_manifest_decode(e.bytes, e.len, &m, &reason, NULL) != GF_OK) {
        goto done;
    }
    if ((reason = check_manifest(b, &m, &in, &same)) != GF_REJECT_NONE) {
        goto done;
    }
    if (same) {
        report(b, d, "applied", NULL, 1);
        goto done;
    }
    for (size_t i = 0; i < m.nfiles && reason == GF_REJECT_NONE; i++) {
        if ((out = fetch_blob(b, &m.files[i], &reason, &word)) == RETRY) {
            goto done;
        }
    }
    if (reason != GF_REJECT_NONE) {
        goto done;
    }
    gf_apply_fault_point("downloaded");
    report(b, d, "verifying", NULL, 0);
    for (size_t i = 0; i < m.nfiles; i++) {
        char p2[800], hex[65];
        uint64_t size = 0;
        snprintf(p2, sizeof(p2), "%s/%s", b->blobs_dir, m.files[i].sha256);
        if (hash_file(p2, hex, &size) != GF_OK || strcmp(hex, m.files[i].sha256) != 0 ||
            size != m.files[i].size) {
            unlink(p2);
            reason = size != m.files[i].size ? GF_REJECT_SIZE : GF_REJECT_HASH;
            goto done;
        }
    }
    gf_apply_fault_point("verified");
    report(b, d, "applying", NULL, 0);
    struct gf_apply_opts ao = {b->bundles_dir, b->blobs_dir, b->actions, on_progress, b};
    enum gf_apply_result result;
    char why[64] = "";
    if (gf_apply(&ao, &m, d->bundle_id, &result, why, sizeof(why)) != GF_OK) {
        word = "io";
        out = RETRY;
        goto done;
    }
    set_applied(b);
    switch (result) {
    case GF_APPLY_APPLIED:
        report(b, d, "applied", NULL, 1);
        prune_blobs(b, &m);
        break;
    case GF_APPLY_ROLLED_BACK:
        report(b, d, "rolled_back", why, 1);
        break;
    default:
        if (strcmp(why, "disk_full") == 0 || strcmp(why, "io") == 0) {
            word = why[0] == 'd' ? "disk_full" : "io";
            out = RETRY;
        } else {
            report(b, d, "failed", why[0] ? why : "apply", 1);
        }
        break;
    }
done:
    if (reason != GF_REJECT_NONE) {
        report(b, d, "failed", gf_reject_str(reason), 1);
        out = DONE;
    } else if (word != NULL) {
        /* Transient (link, disk): still on the way, retried with backoff. */
        report(b, d, out == DONE ? "failed" : "downloading", word, out == DONE);
    }
    gf_manifest_free(&m);
    gf_free(e.bytes);
    gf_buf_free(&buf);
    return out;
}

/* ------------------------------------------------------------------ the thread */

static void *bundler_main(void *arg)
{
    struct gf_bundler *b = arg;
    struct desired d = {0};
    int have = 0;
    long backoff = RETRY_MIN_MS;

    for (;;) {
        char *msg = NULL;
        size_t len = 0;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long wait = have ? backoff : 1000;
        until.tv_sec += wait / 1000;
        until.tv_nsec += (wait % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&b->mu);
        if (!b->stop && b->pending == NULL) {
            pthread_cond_timedwait(&b->cv, &b->mu, &until);
        }
        if (b->stop) {
            pthread_mutex_unlock(&b->mu);
            break;
        }
        msg = b->pending;
        len = b->pending_len;
        b->pending = NULL;
        pthread_mutex_unlock(&b->mu);
        pthread_mutex_lock(&b->pub_mu);
        resend_final(b);
        pthread_mutex_unlock(&b->pub_mu);
        if (msg != NULL) {
            struct desired nd;
            if (parse_desired(msg, len, &nd)) {
                d = nd;
                have = 1;
                backoff = RETRY_MIN_MS;
            } else {
                gf_log_warn("malformed desired message ignored", "bytes=%zu", len);
            }
            gf_free(msg);
        } else if (!have) {
            continue;
        }
        if (process(b, &d) == DONE) {
            have = 0;
        } else {
            backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
        }
    }
    return NULL;
}

enum gf_err gf_bundler_start(const struct gf_bundler_opts *o, struct gf_bundler **out,
                             struct gf_diag *diag)
{
    struct gf_bundler *b = gf_calloc(1, sizeof(*b));
    enum gf_apply_result result;
    char why[64] = "";
    enum gf_err err;

    if (b == NULL) {
        return GF_ERR_NOMEM;
    }
    b->cfg = o->cfg;
    b->id = o->id;
    b->session = o->session;
    snprintf(b->node_id, sizeof(b->node_id), "%s", o->node_id);
    snprintf(b->bundles_dir, sizeof(b->bundles_dir), "%s/bundles", o->cfg->state_dir);
    snprintf(b->blobs_dir, sizeof(b->blobs_dir), "%s/blobs", b->bundles_dir);
    snprintf(b->trust_path, sizeof(b->trust_path), "%s/trust.json", b->bundles_dir);
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->pub_mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    if ((err = gf_file_mkdirs(b->blobs_dir, 0700)) != GF_OK) {
        gf_diag_set(diag, GF_ERR_CONFIG, "state_dir", "cannot create %s", b->blobs_dir);
        goto fail;
    }
    if ((err = gf_actions_load(o->cfg->actions_file, &b->actions, diag)) != GF_OK) {
        err = GF_ERR_CONFIG;
        goto fail;
    }
    if ((err = trust_load(b, diag)) != GF_OK) {
        goto fail;
    }
    struct gf_apply_opts ao = {b->bundles_dir, b->blobs_dir, b->actions, on_progress, b};
    struct gf_installed in;
    if (gf_apply_recover(&ao, &result, why, sizeof(why), &in) == GF_OK &&
        result != GF_APPLY_NOTHING) {
        struct desired d = {0};
        snprintf(d.bundle_id, sizeof(d.bundle_id), "%s", in.bundle_id);
        snprintf(d.name, sizeof(d.name), "%s", in.name);
        snprintf(d.sha256, sizeof(d.sha256), "%s", in.sha256);
        d.version = in.version;
        gf_log_warn("recovered an interrupted bundle apply", "result=%d reason=%s installed=%s",
                    (int)result, why[0] ? why : "-", in.sha256[0] ? in.sha256 : "none");
        /* What is active now; the retained desired message decides what comes next. */
        report(b, &d,
               result == GF_APPLY_APPLIED       ? "applied"
               : result == GF_APPLY_ROLLED_BACK ? "rolled_back"
                                                : "failed",
               result == GF_APPLY_APPLIED ? NULL : (why[0] ? why : "interrupted"), 1);
    }
    set_applied(b);
    if (pthread_create(&b->thread, NULL, bundler_main, b) != 0) {
        err = GF_ERR_NOMEM;
        goto fail;
    }
    *out = b;
    return GF_OK;
fail:
    gf_actions_free(b->actions);
    pthread_mutex_destroy(&b->mu);
    pthread_mutex_destroy(&b->pub_mu);
    pthread_cond_destroy(&b->cv);
    gf_free(b);
    return err;
}

void gf_bundler_desired(struct gf_bundler *b, const void *payload, size_t len)
{
    char *copy = len <= 8192 ? gf_malloc(len + 1) : NULL;

    if (copy == NULL) {
        gf_log_warn("desired message dropped", "bytes=%zu", len);
        return;
    }
    memcpy(copy, payload, len);
    copy[len] = '\0';
    pthread_mutex_lock(&b->mu);
    gf_free(b->pending);
    b->pending = copy;
    b->pending_len = len;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

void gf_bundler_session(struct gf_bundler *b, struct gf_session *s)
{
    pthread_mutex_lock(&b->pub_mu);
    b->session = s;
    b->final_sent = 0; /* a kept final report goes on the new session at once */
    pthread_mutex_unlock(&b->pub_mu);
}

void gf_bundler_status_acked(struct gf_bundler *b, uint64_t gen, const char *state)
{
    pthread_mutex_lock(&b->pub_mu);
    if (b->final[0] != '\0' && b->final_gen == gen && strcmp(b->final_state, state) == 0) {
        b->final[0] = '\0';
    }
    pthread_mutex_unlock(&b->pub_mu);
}

void gf_bundler_applied(struct gf_bundler *b, char *out, size_t cap)
{
    pthread_mutex_lock(&b->mu);
    snprintf(out, cap, "%s", b->applied);
    pthread_mutex_unlock(&b->mu);
}

void gf_bundler_stop(struct gf_bundler *b)
{
    if (b == NULL) {
        return;
    }
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    gf_free(b->pending);
    gf_actions_free(b->actions);
    pthread_mutex_destroy(&b->mu);
    pthread_mutex_destroy(&b->pub_mu);
    pthread_cond_destroy(&b->cv);
    gf_free(b);
}
