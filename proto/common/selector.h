/* SPDX-License-Identifier: Apache-2.0
 *
 * selector.h - label selectors in the syntax operators know from Kubernetes, and label maps.
 *
 *   site=north,role in (gate,regulator),!decommissioned,tier!=test,zone notin (a,b),gps
 *
 * A selector compiles to a JSON array of requirements {"key", "op", "values"} (op: eq, ne,
 * in, notin, exists, notexists) that PostgreSQL evaluates with gf_selector_match()
 * (migrations/0002_nodes.sql) and C code with gf_selector_match(). Keys are 1..63 of
 * [A-Za-z0-9._/-] starting with an alphanumeric; values are 0..63 of [A-Za-z0-9._-].
 * Thread-safe (no state).
 */
#ifndef GF_COMMON_SELECTOR_H
#define GF_COMMON_SELECTOR_H

#include "err.h"

#include <jansson.h>

/* Compile text into *out (a new JSON array; caller owns). The empty string selects
 * everything ([]). GF_ERR_INVAL with diag->msg naming the offending position and text. */
enum gf_err gf_selector_compile(const char *text, json_t **out, struct gf_diag *diag);

/* 1 when labels (an object of string values) satisfy the compiled selector sel. */
int gf_selector_match(const json_t *sel, const json_t *labels);

/* Check a label map: an object of at most GF_LIMIT_LABELS string values with valid keys and
 * values. where is the JSON pointer reported ("/labels"). GF_ERR_INVAL with diag. */
enum gf_err gf_labels_check(const json_t *labels, const char *where, struct gf_diag *diag);

#endif
