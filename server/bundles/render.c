/* SPDX-License-Identifier: Apache-2.0
 *
 * render.c - ${name} substitution for bundle templates (see render.h). One pass over the
 * bytes; values are copied verbatim (they are the operator's text, not re-scanned).
 */
#include "render.h"

#include <string.h>

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '/' || c == '-';
}

/* At tpl[i] == '$': 0 plain '$', 1 escaped "$${" (2 bytes consumed for "$"), 2 placeholder
 * with name [*ns, *ns + *nl) ending at *end (past '}'), -1 malformed. */
static int scan(const char *tpl, size_t len, size_t i, size_t *ns, size_t *nl, size_t *end)
{
    if (i + 2 < len && tpl[i + 1] == '$' && tpl[i + 2] == '{') {
        return 1;
    }
    if (i + 1 >= len || tpl[i + 1] != '{') {
        return 0;
    }
    size_t j = i + 2;
    while (j < len && name_char(tpl[j]) && j - (i + 2) <= GF_RENDER_NAME_MAX) {
        j++;
    }
    if (j >= len || tpl[j] != '}' || j == i + 2 || j - (i + 2) > GF_RENDER_NAME_MAX) {
        return -1;
    }
    *ns = i + 2;
    *nl = j - (i + 2);
    *end = j + 1;
    return 2;
}

enum gf_err gf_render_check(const char *tpl, size_t len, size_t *count, struct gf_diag *diag)
{
    size_t n = 0, ns, nl, end;

    for (size_t i = 0; i < len; i++) {
        if (tpl[i] != '$') {
            continue;
        }
        switch (scan(tpl, len, i, &ns, &nl, &end)) {
        case 1:
            i += 2;
            break;
        case 2:
            n++;
            i = end - 1;
            break;
        case -1:
            return gf_diag_set(diag, GF_ERR_INVAL, "",
                               "malformed placeholder at byte %zu: "
                               "expected ${name} with name of [A-Za-z0-9_./-]",
                               i);
        default:
            break;
        }
    }
    if (count != NULL) {
        *count = n;
    }
    return GF_OK;
}

static const char *value_of(const json_t *obj, const char *name)
{
    const json_t *v = obj ? json_object_get(obj, name) : NULL;

    return json_is_string(v) ? json_string_value(v) : NULL;
}

enum gf_err gf_render(const char *tpl, size_t len, const json_t *node_row, const json_t *labels,
                      const json_t *defaults, struct gf_buf *out, struct gf_diag *diag)
{
    char name[GF_RENDER_NAME_MAX + 1];
    size_t ns, nl, end, from = 0;
    enum gf_err err;

    for (size_t i = 0; i < len; i++) {
        if (tpl[i] != '$') {
            continue;
        }
        int k = scan(tpl, len, i, &ns, &nl, &end);
        if (k == 0) {
            continue;
        }
        if (k < 0) {
            return gf_diag_set(diag, GF_ERR_INVAL, "", "malformed placeholder at byte %zu", i);
        }
        if ((err = gf_buf_append(out, tpl + from, i - from)) != GF_OK) {
            return err;
        }
        if (k == 1) {
            if ((err = gf_buf_append(out, "${", 2)) != GF_OK) {
                return err;
            }
            from = i + 3;
            i += 2;
            continue;
        }
        memcpy(name, tpl + ns, nl);
        name[nl] = '\0';
        const char *v = value_of(node_row, name);
        v = v ? v : value_of(labels, name);
        v = v ? v : value_of(defaults, name);
        if (v == NULL) {
            return gf_diag_set(diag, GF_ERR_INVAL, name,
                               "no value for ${%s}: not in the node's row, its labels or the "
                               "default row",
                               name);
        }
        if ((err = gf_buf_puts(out, v)) != GF_OK) {
            return err;
        }
        from = end;
        i = end - 1;
    }
    return gf_buf_append(out, tpl + from, len - from);
}
