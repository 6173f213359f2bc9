/* SPDX-License-Identifier: Apache-2.0
 *
 * masterkey.c - load or create the master key file.
 */
#define GF_LOG_MODULE "masterkey"
#include "masterkey.h"

#include "buf.h"
#include "file.h"
#include "log.h"

#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

enum gf_err gf_masterkey_load(const char *path, unsigned char key[32], struct gf_diag *diag)
{
    struct gf_buf b;
    struct stat st;
    enum gf_err err;

    gf_buf_init(&b, 64);
    err = gf_file_read(path, &b);
    if (err == GF_ERR_NOTFOUND) {
        unsigned char k[32];
        randombytes_buf(k, sizeof(k));
        err = gf_file_write_atomic(path, k, sizeof(k), 0600);
        if (err != GF_OK) {
            sodium_memzero(k, sizeof(k));
            return gf_diag_set(diag, GF_ERR_CONFIG, "master_key_file",
                               "cannot create master key file %s", path);
        }
        memcpy(key, k, sizeof(k));
        sodium_memzero(k, sizeof(k));
        gf_log_info("created master key", "path=%s", path);
        return GF_OK;
    }
    if (err != GF_OK || b.len != 32) {
        gf_buf_free(&b);
        return gf_diag_set(diag, GF_ERR_CONFIG, "master_key_file",
                           "master key file %s must hold exactly 32 bytes", path);
    }
    if (stat(path, &st) == 0 && (st.st_mode & 077) != 0) {
        sodium_memzero(b.data, b.len);
        gf_buf_free(&b);
        return gf_diag_set(diag, GF_ERR_CONFIG, "master_key_file",
                           "master key file %s must not be readable by group or others (chmod "
                           "600)",
                           path);
    }
    memcpy(key, b.data, 32);
    sodium_memzero(b.data, b.len);
    gf_buf_free(&b);
    return GF_OK;
}
