/* SPDX-License-Identifier: Apache-2.0
 *
 * seen.c - the recent command ids (cmd_int.h), kept in <state_dir>/commands.seen so that a
 * request delivered again (QoS 1 redelivery, the server retrying, a restart in between) never
 * runs twice. The file is one compact JSON object, oldest entry first:
 *
 *   {"version":1,"commands":[{"id":"..","status":"succeeded","exit_code":0,"signal":null,
 *                              "duration_ms":12,"error":null}, ...]}
 *
 * written whole with gf_file_write_atomic (temp file, fsync, rename, fsync of the directory)
 * and read strictly. At most GF_CMD_SEEN_MAX ids; the oldest finished one makes room. An id
 * still `running` when the file is read again belonged to a command the agent was running
 * when it stopped: it becomes `interrupted` and is answered as failed. The full published
 * result of the most recent commands is also kept in memory (GF_CMD_RESULTS_BYTES in all), so
 * a duplicate gets the same message again; after a restart only the summary is left (no
 * output). Snapshots are numbered so that a slower writer never overwrites a newer file.
 */
#define GF_LOG_MODULE "cmd"
#include "cmd_int.h"

#include "alloc.h"
#include "buf.h"
#include "file.h"
#include "json.h"
#include "log.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEEN_FILE "commands.seen"
#define SEEN_FILE_MAX (256u * 1024u)

struct entry {
    uint64_t seq; /* 0: free slot */
    char id[GF_CMD_ID_MAX + 1];
    enum gf_cmd_state st;
    int exit_code; /* -1: null */
    int signal;    /* 0: null */
    long duration_ms;
    char error[GF_CMD_SEEN_ERROR_MAX + 1]; /* "" : null */
    char *text;                            /* the published final result, or NULL */
    size_t len;
};

struct gf_cmd_seen {
    char path[PATH_MAX];
    struct entry e[GF_CMD_SEEN_MAX];
    uint64_t seq;
    size_t kept; /* bytes of text in all entries */
    uint64_t gen;
    size_t interrupted; /* entries found running when the file was read */
    pthread_mutex_t wmu;
    uint64_t written; /* newest generation on disk, under wmu */
};

static const char *const state_names[] = {
    [GF_CMD_S_RUNNING] = "running",     [GF_CMD_S_INTERRUPTED] = "interrupted",
    [GF_CMD_S_SUCCEEDED] = "succeeded", [GF_CMD_S_FAILED] = "failed",
    [GF_CMD_S_TIMED_OUT] = "timed_out", [GF_CMD_S_REJECTED] = "rejected",
};

static struct entry *find(const struct gf_cmd_seen *s, const char *id)
{
    for (size_t i = 0; i < GF_CMD_SEEN_MAX; i++) {
        if (s->e[i].seq != 0 && strcmp(s->e[i].id, id) == 0) {
            return (struct entry *)&s->e[i];
        }
    }
    return NULL;
}

static void drop_text(struct gf_cmd_seen *s, struct entry *e)
{
    if (e->text != NULL) {
        s->kept -= e->len;
        gf_free(e->text);
        e->text = NULL;
        e->len = 0;
    }
}

/* ---- loading ---- */

static int state_of(const char *name, enum gf_cmd_state *st)
{
    for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
        if (strcmp(state_names[i], name) == 0) {
            *st = (enum gf_cmd_state)i;
            return 1;
        }
    }
    return 0;
}

static enum gf_err load_entry(struct gf_cmd_seen *s, const json_t *o, size_t i,
                              struct gf_diag *diag)
{
    static const struct gf_json_field f[] = {
        {"id", GF_JSON_STRING, 1, 0, 1, GF_CMD_ID_MAX, 0, 0},
        {"status", GF_JSON_STRING, 1, 0, 1, 16, 0, 0},
        {"exit_code", GF_JSON_INT, 1, 1, 0, 0, 0, 255},
        {"signal", GF_JSON_INT, 1, 1, 0, 0, 1, 128},
        {"duration_ms", GF_JSON_INT, 1, 0, 0, 0, 0, LONG_MAX},
        {"error", GF_JSON_STRING, 1, 1, 0, GF_CMD_SEEN_ERROR_MAX, 0, 0},
    };
    char where[32];
    struct entry *e = &s->e[i];
    const char *id, *err;

    snprintf(where, sizeof(where), "/commands/%zu", i);
    if (!json_is_object(o)) {
        return gf_diag_set(diag, GF_ERR_PARSE, where, "not an object");
    }
    if (gf_json_check(o, f, sizeof(f) / sizeof(f[0]), where, diag) != GF_OK) {
        return GF_ERR_PARSE;
    }
    id = gf_json_str(o, "id");
    if (!gf_cmd_id_ok(id, strlen(id)) || find(s, id) != NULL ||
        !state_of(gf_json_str(o, "status"), &e->st)) {
        return gf_diag_set(diag, GF_ERR_PARSE, where, "bad or repeated id, or bad status");
    }
    err = gf_json_str(o, "error");
    if (err != NULL && strlen(err) > GF_CMD_SEEN_ERROR_MAX) {
        return gf_diag_set(diag, GF_ERR_PARSE, where, "error too long");
    }
    memcpy(e->id, id, strlen(id) + 1);
    e->exit_code = (int)gf_json_int(o, "exit_code", -1);
    e->signal = (int)gf_json_int(o, "signal", 0);
    e->duration_ms = (long)gf_json_int(o, "duration_ms", 0);
    snprintf(e->error, sizeof(e->error), "%s", err != NULL ? err : "");
    if (e->st == GF_CMD_S_RUNNING) {
        e->st = GF_CMD_S_INTERRUPTED;
        s->interrupted++;
        gf_log_warn("command was running when the agent stopped", "id=%s", e->id);
    }
    e->seq = ++s->seq;
    return GF_OK;
}

static enum gf_err load(struct gf_cmd_seen *s, const struct gf_buf *b, struct gf_diag *diag)
{
    static const struct gf_json_field top[] = {
        {"version", GF_JSON_INT, 1, 0, 0, 0, 1, 1},
        {"commands", GF_JSON_ARRAY, 1, 0, 0, 0, 0, 0},
    };
    json_t *o = NULL;
    const json_t *list, *v;
    enum gf_err err = GF_ERR_PARSE;
    size_t i;

    if (gf_json_parse_object(b->data, b->len, &o, diag) != GF_OK ||
        gf_json_check(o, top, 2, "", diag) != GF_OK) {
        goto out;
    }
    list = json_object_get(o, "commands");
    if (json_array_size(list) > GF_CMD_SEEN_MAX) {
        gf_diag_set(diag, GF_ERR_PARSE, "/commands", "more than %d ids", GF_CMD_SEEN_MAX);
        goto out;
    }
    json_array_foreach(list, i, v) {
        if (load_entry(s, v, i, diag) != GF_OK) {
            goto out;
        }
    }
    err = GF_OK;
out:
    json_decref(o);
    return err;
}

enum gf_err gf_cmd_seen_open(const char *state_dir, struct gf_cmd_seen **out, struct gf_diag *diag)
{
    struct gf_cmd_seen *s = NULL;
    struct gf_buf b;
    enum gf_err err;

    gf_buf_init(&b, SEEN_FILE_MAX);
    if (state_dir == NULL || state_dir[0] == '\0') {
        return gf_diag_set(diag, GF_ERR_INVAL, "state_dir", "state_dir must be set");
    }
    err = gf_file_mkdirs(state_dir, 0700);
    if (err != GF_OK) {
        return gf_diag_set(diag, err, "state_dir", "cannot create %s", state_dir);
    }
    s = gf_calloc(1, sizeof(*s));
    if (s == NULL) {
        return GF_ERR_NOMEM;
    }
    pthread_mutex_init(&s->wmu, NULL);
    if (snprintf(s->path, sizeof(s->path), "%s/" SEEN_FILE, state_dir) >= (int)sizeof(s->path)) {
        err = gf_diag_set(diag, GF_ERR_INVAL, "state_dir", "state_dir too long");
        goto out;
    }
    err = gf_file_read(s->path, &b);
    if (err == GF_ERR_NOTFOUND) {
        err = GF_OK;
    } else if (err == GF_OK) {
        err = load(s, &b, diag);
        if (err != GF_OK) {
            char msg[sizeof(diag->msg)];
            snprintf(msg, sizeof(msg), "%s", diag != NULL ? diag->msg : "");
            gf_diag_set(diag, err, s->path, "unreadable (%s): move it away to start afresh", msg);
        }
    } else {
        err = gf_diag_set(diag, err, s->path, "cannot read (%s)", gf_err_str(err));
    }
out:
    gf_buf_free(&b);
    if (err != GF_OK) {
        gf_cmd_seen_free(s);
        return err;
    }
    *out = s;
    return GF_OK;
}

void gf_cmd_seen_free(struct gf_cmd_seen *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < GF_CMD_SEEN_MAX; i++) {
        drop_text(s, &s->e[i]);
    }
    pthread_mutex_destroy(&s->wmu);
    gf_free(s);
}

size_t gf_cmd_seen_interrupted(const struct gf_cmd_seen *s)
{
    return s->interrupted;
}

/* ---- changes ---- */

int gf_cmd_seen_state(const struct gf_cmd_seen *s, const char *id, enum gf_cmd_state *st)
{
    const struct entry *e = find(s, id);

    if (e == NULL) {
        return 0;
    }
    *st = e->st;
    return 1;
}

enum gf_err gf_cmd_seen_add(struct gf_cmd_seen *s, const char *id)
{
    struct entry *e = NULL;

    if (find(s, id) != NULL) {
        return GF_ERR_EXISTS;
    }
    for (size_t i = 0; i < GF_CMD_SEEN_MAX; i++) {
        struct entry *c = &s->e[i];
        if (c->seq == 0) {
            e = c;
            break;
        }
        if (c->st != GF_CMD_S_RUNNING && (e == NULL || c->seq < e->seq)) {
            e = c;
        }
    }
    if (e == NULL) {
        return GF_ERR_RATELIMIT;
    }
    drop_text(s, e);
    memset(e, 0, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->st = GF_CMD_S_RUNNING;
    e->exit_code = -1;
    e->seq = ++s->seq;
    return GF_OK;
}

void gf_cmd_seen_forget(struct gf_cmd_seen *s, const char *id)
{
    struct entry *e = find(s, id);

    if (e != NULL) {
        drop_text(s, e);
        memset(e, 0, sizeof(*e));
    }
}

/* Drop the oldest kept texts until the total fits. */
static void trim_texts(struct gf_cmd_seen *s)
{
    while (s->kept > GF_CMD_RESULTS_BYTES) {
        struct entry *old = NULL;
        for (size_t i = 0; i < GF_CMD_SEEN_MAX; i++) {
            if (s->e[i].text != NULL && (old == NULL || s->e[i].seq < old->seq)) {
                old = &s->e[i];
            }
        }
        if (old == NULL) {
            break;
        }
        drop_text(s, old);
    }
}

void gf_cmd_seen_finish(struct gf_cmd_seen *s, const char *id, enum gf_cmd_state st,
                        const struct gf_cmd_final *f, const char *text, size_t len)
{
    struct entry *e = find(s, id);
    int cut;

    if (e == NULL) {
        return;
    }
    e->st = st;
    e->exit_code = f->exit_code;
    e->signal = f->signal;
    e->duration_ms = f->duration_ms;
    gf_cmd_utf8_clean(f->error != NULL ? f->error : "", f->error != NULL ? strlen(f->error) : 0,
                      e->error, sizeof(e->error), &cut);
    drop_text(s, e);
    if (text != NULL && len <= GF_CMD_RESULTS_BYTES && (e->text = gf_malloc(len + 1)) != NULL) {
        memcpy(e->text, text, len);
        e->text[len] = '\0';
        e->len = len;
        s->kept += len;
        trim_texts(s);
    }
}

enum gf_err gf_cmd_seen_replay(const struct gf_cmd_seen *s, const char *id, char **text,
                               size_t *len)
{
    const struct entry *e = find(s, id);
    struct gf_cmd_final f = {0};
    char *t;

    if (e == NULL || e->st == GF_CMD_S_RUNNING) {
        return GF_ERR_NOTFOUND;
    }
    if (e->text != NULL) {
        t = gf_malloc(e->len + 1);
        if (t == NULL) {
            return GF_ERR_NOMEM;
        }
        memcpy(t, e->text, e->len + 1);
        *text = t;
        *len = e->len;
        return GF_OK;
    }
    f.status = e->st == GF_CMD_S_INTERRUPTED ? "failed" : state_names[e->st];
    f.exit_code = e->exit_code;
    f.signal = e->signal;
    f.output_max = 1;
    f.duration_ms = e->duration_ms;
    f.error = e->st == GF_CMD_S_INTERRUPTED ? "agent restarted while running"
              : e->error[0] != '\0'         ? e->error
                                            : NULL;
    t = gf_cmd_result_final(e->id, &f, len);
    if (t == NULL) {
        return GF_ERR_NOMEM;
    }
    *text = t;
    return GF_OK;
}

/* ---- the file ---- */

static int by_seq(const void *a, const void *b)
{
    const struct entry *x = *(const struct entry *const *)a, *y = *(const struct entry *const *)b;

    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static json_t *entry_json(const struct entry *e)
{
    return json_pack("{s:s, s:s, s:o, s:o, s:I, s:o}", "id", e->id, "status", state_names[e->st],
                     "exit_code", e->exit_code >= 0 ? json_integer(e->exit_code) : json_null(),
                     "signal", e->signal > 0 ? json_integer(e->signal) : json_null(), "duration_ms",
                     (json_int_t)e->duration_ms, "error",
                     e->error[0] != '\0' ? json_string(e->error) : json_null());
}

enum gf_err gf_cmd_seen_snapshot(struct gf_cmd_seen *s, char **text, size_t *len, uint64_t *gen)
{
    const struct entry *order[GF_CMD_SEEN_MAX];
    json_t *list = json_array(), *o = NULL;
    char *dumped = NULL, *t = NULL;
    size_t n = 0;

    for (size_t i = 0; i < GF_CMD_SEEN_MAX; i++) {
        if (s->e[i].seq != 0) {
            order[n++] = &s->e[i];
        }
    }
    qsort(order, n, sizeof(order[0]), by_seq);
    for (size_t i = 0; i < n && list != NULL; i++) {
        if (json_array_append_new(list, entry_json(order[i])) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    o = list != NULL ? json_pack("{s:i, s:o}", "version", 1, "commands", list) : NULL;
    dumped = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (dumped != NULL) {
        n = strlen(dumped);
        t = gf_malloc(n + 1);
        if (t != NULL) {
            memcpy(t, dumped, n + 1);
        }
    }
    free(dumped); /* jansson's allocator */
    if (t == NULL) {
        return GF_ERR_NOMEM;
    }
    *text = t;
    *len = n;
    *gen = ++s->gen;
    return GF_OK;
}

enum gf_err gf_cmd_seen_write(struct gf_cmd_seen *s, const char *text, size_t len, uint64_t gen)
{
    enum gf_err err = GF_OK;

    pthread_mutex_lock(&s->wmu);
    if (gen > s->written) {
        err = gf_file_write_atomic(s->path, text, len, 0600);
        if (err == GF_OK) {
            s->written = gen;
        } else {
            gf_log_error("cannot write the command ids", "path=%s", s->path);
        }
    }
    pthread_mutex_unlock(&s->wmu);
    return err;
}
