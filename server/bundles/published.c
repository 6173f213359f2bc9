/* SPDX-License-Identifier: Apache-2.0
 *
 * published.c - assignability and envelope of a bundle row (see published.h).
 */
#include "published.h"

#include "../store/db.h"
#include "../store/q_bundles.h"
#include "trustroot.h"

#include <string.h>

enum gf_err gf_bundle_usable(struct gf_dbconn *db, const PGresult *b, struct gf_diag *diag)
{
    PGresult *k = NULL;
    enum gf_err err;

    if (strcmp(PQgetvalue(b, 0, 0), "published") != 0) {
        return gf_diag_set(diag, GF_ERR_CONFLICT, "/bundle_id", "the bundle is not signed yet");
    }
    if (strcmp(PQgetvalue(b, 0, 6), "t") == 0) {
        return gf_diag_set(diag, GF_ERR_CONFLICT, "/bundle_id", "the bundle has expired");
    }
    if (strcmp(PQgetvalue(b, 0, 5), "t") == 0) {
        return GF_OK;
    }
    const char *kp[2] = {PQgetvalue(b, 0, 4), PQgetvalue(b, 0, 2)};
    if ((err = gf_db_exec(db, &gf_q_trust_key_pub, kp, &k)) != GF_OK) {
        return err;
    }
    int active = PQntuples(k) == 1;
    PQclear(k);
    return active ? GF_OK
                  : gf_diag_set(diag, GF_ERR_CONFLICT, "/bundle_id",
                                "the bundle is signed by a retired key that agents no longer "
                                "trust; publish it again");
}

enum gf_err gf_bundle_envelope(const PGresult *b, char **out, size_t *len)
{
    const char *manifest = PQgetvalue(b, 0, 1);

    return gf_trustroot_envelope(manifest, strlen(manifest), PQgetvalue(b, 0, 2),
                                 PQgetvalue(b, 0, 3), out, len);
}
