/* SPDX-License-Identifier: Apache-2.0
 *
 * parse.h - helpers shared by the collectors (internal to agent/collectors): bounded reads of
 * a file under a root, sorted directory listings with a cap, cursor-based number parsing
 * (strtoull/strtoll/strtod, never sscanf or atoi) and JSON setters that map every jansson
 * failure to GF_ERR_NOMEM.
 *
 * Reads report "absent" for anything that is not a readable file within the cap: the
 * collectors treat missing, unreadable and oversized files alike, as "not present".
 */
#ifndef GF_AGENT_COLLECTORS_PARSE_H
#define GF_AGENT_COLLECTORS_PARSE_H

#include "buf.h"
#include "err.h"
#include "limits.h"

#include <jansson.h>
#include <stddef.h>

/* Read root/rel into b (initialised here with GF_COLL_READ_CAP; caller frees it with
 * gf_buf_free whatever the result). Returns GF_OK, GF_ERR_NOMEM, or GF_ERR_NOTFOUND for a
 * missing, unreadable or oversized file. A file read as empty has b->data == NULL. */
enum gf_err gf_coll_read(const char *root, const char *rel, struct gf_buf *b);

/* root/rel as one path into out[cap]. 0 on success, -1 when it does not fit. */
int gf_coll_path(char *out, size_t cap, const char *root, const char *rel);

/* First line of root/rel with surrounding whitespace trimmed, into out[cap]. 1 when present
 * and non-empty, 0 when absent or too long, -1 on GF_ERR_NOMEM. */
int gf_coll_read_word(const char *root, const char *rel, char *out, size_t cap);

/* root/rel holding one integer (sysfs style). 1 when present and well-formed, 0 when absent
 * or malformed, -1 on GF_ERR_NOMEM. */
int gf_coll_read_ll(const char *root, const char *rel, long long *out);

/* Directory entries of root/rel (no dot entries), names of at most GF_COLL_NAME_MAX - 1
 * characters only, sorted, at most max of them, into names[max][GF_COLL_NAME_MAX]. Returns
 * the count (0 when the directory is missing). */
size_t gf_coll_list_dir(const char *root, const char *rel, char (*names)[GF_COLL_NAME_MAX],
                        size_t max);

/* Skip spaces and tabs (not newlines) at *cur. */
void gf_coll_skip_blank(const char **cur);

/* Advance *cur past the end of the current line (after the '\n', or to the NUL). */
void gf_coll_next_line(const char **cur);

/* Unsigned decimal at *cur (after blanks): digits only, no sign, no overflow, followed by
 * a blank, newline or NUL. 0 and *cur advanced on success, -1 otherwise (*cur unchanged). */
int gf_coll_u64(const char **cur, unsigned long long *out);

/* Signed decimal, same rules. */
int gf_coll_i64(const char **cur, long long *out);

/* Finite non-negative decimal ("0.52", "12345.67"), same rules. */
int gf_coll_double(const char **cur, double *out);

/* Set key of obj to a new integer / real / bool / string. GF_ERR_NOMEM on any failure. A
 * string that is not valid UTF-8 is skipped (GF_OK, key not set). */
enum gf_err gf_coll_set_int(json_t *obj, const char *key, long long v);
enum gf_err gf_coll_set_real(json_t *obj, const char *key, double v);
enum gf_err gf_coll_set_bool(json_t *obj, const char *key, int v);
enum gf_err gf_coll_set_str(json_t *obj, const char *key, const char *v);

/* Set key of obj to v (takes ownership, also on failure; NULL v is GF_ERR_NOMEM). */
enum gf_err gf_coll_set_new(json_t *obj, const char *key, json_t *v);

/* Append v to array arr (takes ownership, also on failure; NULL v is GF_ERR_NOMEM). */
enum gf_err gf_coll_append_new(json_t *arr, json_t *v);

/* 100 * part / whole rounded to 2 decimals; whole must be > 0. */
double gf_coll_pct(double part, double whole);

#endif
