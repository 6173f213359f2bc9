/* SPDX-License-Identifier: Apache-2.0
 *
 * h_audit.c - GET /api/v1/tenants/{tenant_id}/audit: the tenant's append-only audit trail,
 * newest first, with filters (actor, action — exact or a dotted prefix such as "project" —,
 * object_type, object_id, outcome, from, to) and cursor pagination.
 */
#include "handlers.h"

#include "../../store/q_tokens.h"
#include "../respond.h"
#include "ids.h"
#include "timefmt.h"

#include <string.h>

static enum gf_err check_time(struct gf_req *r, const char *name)
{
    const char *v = gf_req_query(r, name);
    int64_t t;

    if (v != NULL && gf_time_parse_rfc3339(v, &t) != GF_OK) {
        return gf_req_fail(r, GF_ERR_INVAL, name, "%s must be an RFC 3339 time", name);
    }
    return GF_OK;
}

enum gf_err gf_h_audit_list(struct gf_req *r)
{
    const char *actor = gf_req_query(r, "actor");
    const char *outcome = gf_req_query(r, "outcome");
    struct gf_page pg;
    enum gf_err err = gf_page_parse(r, &pg);

    if (err != GF_OK) {
        return err;
    }
    if (actor != NULL && !gf_uuid_valid(actor)) {
        return gf_req_fail(r, GF_ERR_INVAL, "actor", "actor must be a user id (UUID)");
    }
    if (outcome != NULL && strcmp(outcome, "success") != 0 && strcmp(outcome, "denied") != 0 &&
        strcmp(outcome, "failure") != 0) {
        return gf_req_fail(r, GF_ERR_INVAL, "outcome",
                           "outcome must be success, denied or failure");
    }
    if ((err = check_time(r, "from")) != GF_OK || (err = check_time(r, "to")) != GF_OK) {
        return err;
    }
    const char *p[11] = {gf_req_tenant(r),
                         actor,
                         gf_req_query(r, "action"),
                         gf_req_query(r, "object_type"),
                         gf_req_query(r, "object_id"),
                         outcome,
                         gf_req_query(r, "from"),
                         gf_req_query(r, "to"),
                         pg.cursor_us,
                         pg.cursor_id,
                         pg.fetch};
    return gf_reply_list(r, &gf_q_audit_list, p, &pg);
}
