/* SPDX-License-Identifier: Apache-2.0
 *
 * selector.c - label selector compiler and matcher (see selector.h). A hand-written
 * scanner over the text: requirements separated by commas outside parentheses, each one of
 * `key`, `!key`, `key=v`, `key==v`, `key!=v`, `key in (v,...)`, `key notin (v,...)`.
 */
#include "selector.h"

#include "gf_limits.h"

#include <string.h>

struct scan {
    const char *s;
    size_t pos;
    struct gf_diag *diag;
};

static int key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-' || c == '/';
}

static int value_char(char c)
{
    return key_char(c) && c != '/';
}

static int alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void skip_ws(struct scan *sc)
{
    while (sc->s[sc->pos] == ' ' || sc->s[sc->pos] == '\t') {
        sc->pos++;
    }
}

static enum gf_err fail(struct scan *sc, const char *what)
{
    return gf_diag_set(sc->diag, GF_ERR_INVAL, "selector", "selector: %s at position %zu (\"%.20s\")",
                       what, sc->pos + 1, sc->s + sc->pos);
}

/* Scan a token of key or value characters into out (cap bytes). */
static enum gf_err token(struct scan *sc, int is_key, char *out, size_t cap)
{
    size_t n = 0;

    skip_ws(sc);
    while (is_key ? key_char(sc->s[sc->pos]) : value_char(sc->s[sc->pos])) {
        if (n + 1 >= cap) {
            return fail(sc, is_key ? "label key longer than 63 characters"
                                   : "label value longer than 63 characters");
        }
        out[n++] = sc->s[sc->pos++];
    }
    out[n] = '\0';
    if (is_key && (n == 0 || !alnum(out[0]))) {
        return fail(sc, "expected a label key");
    }
    return GF_OK;
}

/* Is the word w (followed by a non-key character) at the scan position? */
static int word_at(const struct scan *sc, const char *w)
{
    size_t n = strlen(w);

    return strncmp(sc->s + sc->pos, w, n) == 0 && !key_char(sc->s[sc->pos + n]);
}

static enum gf_err value_set(struct scan *sc, json_t *values)
{
    char v[GF_LIMIT_LABEL_VALUE + 1];
    enum gf_err err;

    skip_ws(sc);
    if (sc->s[sc->pos] != '(') {
        return fail(sc, "expected '(' after in/notin");
    }
    sc->pos++;
    for (;;) {
        if ((err = token(sc, 0, v, sizeof(v))) != GF_OK) {
            return err;
        }
        if (v[0] == '\0') {
            return fail(sc, "expected a value");
        }
        if (json_array_append_new(values, json_string(v)) != 0) {
            return GF_ERR_NOMEM;
        }
        skip_ws(sc);
        if (sc->s[sc->pos] == ',') {
            sc->pos++;
            continue;
        }
        if (sc->s[sc->pos] == ')') {
            sc->pos++;
            return GF_OK;
        }
        return fail(sc, "expected ',' or ')' in a value set");
    }
}

static enum gf_err requirement(struct scan *sc, json_t *req)
{
    char key[GF_LIMIT_LABEL_KEY + 1], v[GF_LIMIT_LABEL_VALUE + 1];
    const char *op;
    json_t *values = json_array();
    enum gf_err err;
    int negate = 0;

    if (values == NULL) {
        return GF_ERR_NOMEM;
    }
    skip_ws(sc);
    if (sc->s[sc->pos] == '!') {
        negate = 1;
        sc->pos++;
    }
    if ((err = token(sc, 1, key, sizeof(key))) != GF_OK) {
        goto out;
    }
    skip_ws(sc);
    const char *c = sc->s + sc->pos;
    if (negate) {
        op = "notexists";
    } else if (c[0] == '=' || (c[0] == '!' && c[1] == '=')) {
        op = c[0] == '!' ? "ne" : "eq";
        sc->pos += (c[0] == '!' || c[1] == '=') ? 2 : 1;
        if ((err = token(sc, 0, v, sizeof(v))) != GF_OK) {
            goto out;
        }
        if (json_array_append_new(values, json_string(v)) != 0) {
            err = GF_ERR_NOMEM;
            goto out;
        }
    } else if (word_at(sc, "in") || word_at(sc, "notin")) {
        op = c[0] == 'i' ? "in" : "notin";
        sc->pos += c[0] == 'i' ? 2 : 5;
        if ((err = value_set(sc, values)) != GF_OK) {
            goto out;
        }
    } else {
        op = "exists";
    }
    if (json_object_set_new(req, "key", json_string(key)) != 0 ||
        json_object_set_new(req, "op", json_string(op)) != 0 ||
        json_object_set(req, "values", values) != 0) {
        err = GF_ERR_NOMEM;
    }
out:
    json_decref(values);
    return err;
}

enum gf_err gf_selector_compile(const char *text, json_t **out, struct gf_diag *diag)
{
    struct scan sc = {text, 0, diag};
    json_t *arr;
    enum gf_err err = GF_OK;

    *out = NULL;
    if (strlen(text) > GF_LIMIT_SELECTOR_CHARS) {
        return gf_diag_set(diag, GF_ERR_INVAL, "selector", "selector: longer than %u characters",
                           GF_LIMIT_SELECTOR_CHARS);
    }
    if ((arr = json_array()) == NULL) {
        return GF_ERR_NOMEM;
    }
    skip_ws(&sc);
    while (text[sc.pos] != '\0') {
        json_t *req = json_object();
        if (req == NULL || json_array_append_new(arr, req) != 0) {
            err = GF_ERR_NOMEM;
            break;
        }
        if (json_array_size(arr) > GF_LIMIT_SELECTOR_TERMS) {
            err = gf_diag_set(diag, GF_ERR_INVAL, "selector",
                              "selector: more than %u requirements", GF_LIMIT_SELECTOR_TERMS);
            break;
        }
        if ((err = requirement(&sc, req)) != GF_OK) {
            break;
        }
        skip_ws(&sc);
        if (text[sc.pos] == ',') {
            sc.pos++;
            skip_ws(&sc);
            if (text[sc.pos] == '\0') {
                err = fail(&sc, "expected a requirement after ','");
                break;
            }
        } else if (text[sc.pos] != '\0') {
            err = fail(&sc, "expected ',' between requirements");
            break;
        }
    }
    if (err != GF_OK) {
        json_decref(arr);
        return err;
    }
    *out = arr;
    return GF_OK;
}

static int in_values(const json_t *values, const char *v)
{
    size_t i;
    json_t *e;

    json_array_foreach(values, i, e) {
        if (v != NULL && strcmp(json_string_value(e), v) == 0) {
            return 1;
        }
    }
    return 0;
}

int gf_selector_match(const json_t *sel, const json_t *labels)
{
    size_t i;
    json_t *req;

    json_array_foreach(sel, i, req) {
        const char *op = json_string_value(json_object_get(req, "op"));
        const char *key = json_string_value(json_object_get(req, "key"));
        const json_t *values = json_object_get(req, "values");
        const char *v = json_string_value(json_object_get(labels, key));
        int ok;

        if (strcmp(op, "eq") == 0) {
            ok = in_values(values, v);
        } else if (strcmp(op, "ne") == 0 || strcmp(op, "notin") == 0) {
            ok = !in_values(values, v);
        } else if (strcmp(op, "in") == 0) {
            ok = in_values(values, v);
        } else if (strcmp(op, "exists") == 0) {
            ok = v != NULL;
        } else {
            ok = v == NULL;
        }
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

enum gf_err gf_labels_check(const json_t *labels, const char *where, struct gf_diag *diag)
{
    const char *k;
    json_t *v;

    if (!json_is_object(labels)) {
        return gf_diag_set(diag, GF_ERR_INVAL, where, "%s must be an object of strings", where);
    }
    if (json_object_size(labels) > GF_LIMIT_LABELS) {
        return gf_diag_set(diag, GF_ERR_INVAL, where, "%s: at most %u labels", where,
                           GF_LIMIT_LABELS);
    }
    json_object_foreach((json_t *)labels, k, v) {
        size_t kl = strlen(k);
        int ok = kl >= 1 && kl <= GF_LIMIT_LABEL_KEY && alnum(k[0]);
        for (size_t i = 0; ok && i < kl; i++) {
            ok = key_char(k[i]);
        }
        if (!ok) {
            return gf_diag_set(diag, GF_ERR_INVAL, where,
                               "%s: label key \"%.64s\" must be 1-63 of A-Z a-z 0-9 . _ - / "
                               "starting with a letter or digit", where, k);
        }
        const char *s = json_string_value(v);
        ok = s != NULL && strlen(s) <= GF_LIMIT_LABEL_VALUE;
        for (size_t i = 0; ok && s[i] != '\0'; i++) {
            ok = value_char(s[i]);
        }
        if (!ok) {
            return gf_diag_set(diag, GF_ERR_INVAL, where,
                               "%s/%.64s: label value must be a string of 0-63 of A-Z a-z 0-9 . _ -",
                               where, k);
        }
    }
    return GF_OK;
}
