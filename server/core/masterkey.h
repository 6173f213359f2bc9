/* SPDX-License-Identifier: Apache-2.0
 *
 * masterkey.h - the 32-byte server master key that seals secrets at rest (signing keys,
 * broker admin passwords, webhook secrets). Read from master_key_file, or created there
 * (0600, atomically) on first start when it does not exist.
 */
#ifndef GF_SERVER_MASTERKEY_H
#define GF_SERVER_MASTERKEY_H

#include "err.h"

/* Load or create. GF_ERR_CONFIG (diag names master_key_file) when the file exists with the
 * wrong size or permissions readable by others. */
enum gf_err gf_masterkey_load(const char *path, unsigned char key[32], struct gf_diag *diag);

#endif
