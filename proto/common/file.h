/* SPDX-License-Identifier: Apache-2.0
 *
 * file.h - whole-file reads with a cap, and atomic writes (temp file in the same directory,
 * fsync, rename, fsync of the directory) so a power cut leaves the old or the new content,
 * never a torn file; `name = value` entry files (actions, commands) read entry by entry.
 */
#ifndef GF_COMMON_FILE_H
#define GF_COMMON_FILE_H

#include "buf.h"
#include "err.h"

#include <stddef.h>
#include <sys/types.h>

/* Read the whole file into b (initialised by the caller with its cap). GF_ERR_NOTFOUND if it
 * does not exist, GF_ERR_TOOBIG over the cap, GF_ERR_IO otherwise. */
enum gf_err gf_file_read(const char *path, struct gf_buf *b);

/* One `name = value` entry of an entry file: both trimmed of blanks, value possibly empty;
 * where is "path:line". */
typedef enum gf_err (*gf_file_entry_fn)(void *ud, const char *name, size_t nlen,
                                        const char *value, size_t vlen, const char *where,
                                        struct gf_diag *diag);

/* Read the entry file at path (at most GF_LIMIT_CONFIG_FILE bytes: `name = value` lines, blank
 * lines and `#` comments skipped, no quoting) and call fn for each entry, stopping at its
 * first error. A line longer than GF_LIMIT_CONFIG_LINE, holding a NUL or another control
 * character but tab, or without '=' is GF_ERR_CONFIG at "path:line" (expected names what a
 * line should look like); a file that is missing, too big or unreadable gets a diag naming
 * key (the setting that named the file). */
enum gf_err gf_file_entries(const char *path, const char *key, const char *expected,
                            gf_file_entry_fn fn, void *ud, struct gf_diag *diag);

/* Atomically replace path with data[0..n) and the given mode. GF_ERR_IO on failure, with
 * nothing changed at path. */
enum gf_err gf_file_write_atomic(const char *path, const void *data, size_t n, mode_t mode);

/* mkdir -p with mode for created components. GF_ERR_IO on failure. */
enum gf_err gf_file_mkdirs(const char *path, mode_t mode);

#endif
