/* SPDX-License-Identifier: Apache-2.0
 *
 * render.h - template parameters of bundle files. A template file may contain ${name}
 * placeholders (name: 1..253 of [A-Za-z0-9_./-], so label keys such as
 * "site.example.com/zone" work); "$${" is a literal "${". A node's value for name is, in
 * order: its row of the bundle's value table, its label of that name, the table's default
 * row. Rendering is all or nothing: a placeholder without a value is an error naming it.
 * Thread-safe (no shared state).
 */
#ifndef GF_SERVER_RENDER_H
#define GF_SERVER_RENDER_H

#include "buf.h"
#include "err.h"
#include "json.h"

#include <stddef.h>

#define GF_RENDER_NAME_MAX 253

/* Check tpl[0..len) is a well-formed template (every "${" closed by "}" around a valid name)
 * and count its placeholders into *count (may be NULL). GF_ERR_INVAL with diag (the byte
 * offset) otherwise. */
enum gf_err gf_render_check(const char *tpl, size_t len, size_t *count, struct gf_diag *diag);

/* Render tpl into out with the node's values: node_row and labels and defaults are JSON
 * objects of strings (any may be NULL). GF_ERR_INVAL with diag naming the parameter without
 * a value, GF_ERR_TOOBIG past out's cap. */
enum gf_err gf_render(const char *tpl, size_t len, const json_t *node_row, const json_t *labels,
                      const json_t *defaults, struct gf_buf *out, struct gf_diag *diag);

#endif
