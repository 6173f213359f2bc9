/* SPDX-License-Identifier: Apache-2.0
 *
 * file.h - whole-file reads with a cap, and atomic writes (temp file in the same directory,
 * fsync, rename, fsync of the directory) so a power cut leaves the old or the new content,
 * never a torn file.
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

/* Atomically replace path with data[0..n) and the given mode. GF_ERR_IO on failure, with
 * nothing changed at path. */
enum gf_err gf_file_write_atomic(const char *path, const void *data, size_t n, mode_t mode);

/* mkdir -p with mode for created components. GF_ERR_IO on failure. */
enum gf_err gf_file_mkdirs(const char *path, mode_t mode);

#endif
