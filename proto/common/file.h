/* SPDX-License-Identifier: Apache-2.0
 *
 * file.h - whole-file reads with a cap, and atomic writes (temp file in the same directory,
 * fsync, rename, fsync of the directory) so a power cut leaves the old or the new content,
 * never a torn file; line-oriented configuration files read line by line.
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

/* One line s[0..n) of a line file, without its newline; where is "path:line". */
typedef enum gf_err (*gf_file_line_fn)(void *ud, const char *s, size_t n, const char *where,
                                       struct gf_diag *diag);

/* Read the line-oriented configuration file at path (at most GF_LIMIT_CONFIG_FILE bytes)
 * and call fn for each line, stopping at its first error. A line longer than
 * GF_LIMIT_CONFIG_LINE or holding a NUL byte is GF_ERR_CONFIG at "path:line"; a file that is
 * missing, too big or unreadable gets a diag naming key (the setting that named the file). */
enum gf_err gf_file_lines(const char *path, const char *key, gf_file_line_fn fn, void *ud,
                          struct gf_diag *diag);

/* Atomically replace path with data[0..n) and the given mode. GF_ERR_IO on failure, with
 * nothing changed at path. */
enum gf_err gf_file_write_atomic(const char *path, const void *data, size_t n, mode_t mode);

/* mkdir -p with mode for created components. GF_ERR_IO on failure. */
enum gf_err gf_file_mkdirs(const char *path, mode_t mode);

#endif
