/* SPDX-License-Identifier: Apache-2.0
 *
 * h_events.c - GET /api/v1/projects/{project_id}/events: the project's live event feed as
 * Server-Sent Events (events/feed.h over http/sse.h). Any member of the project's tenant
 * (viewer and up) may watch; another tenant's project answers 404 like a missing one (the
 * dispatcher's scope check, before anything streams). Parameters: Last-Event-ID (header, as
 * EventSource sends it on reconnect) or ?last_event_id= to resume after an event,
 * ?recent=n to start with the n latest events, ?kinds= to filter ("node.*,rollout.failed").
 */
#include "handlers.h"

#include "../../core/app.h"
#include "../../events/bus.h"
#include "../../events/feed.h"
#include "../sse.h"

#include <stdlib.h>
#include <string.h>

static enum gf_err parse_opts(struct gf_req *r, struct gf_feed_opts *o)
{
    const char *recent = gf_req_query(r, "recent");
    uint64_t n = 0;
    enum gf_err err;

    memset(o, 0, sizeof(*o));
    o->project = gf_req_param(r, "project_id");
    if ((err = gf_sse_last_event_id(r, "an event id from this stream", &o->after,
                                    &o->resume)) != GF_OK) {
        return err;
    }
    if (recent != NULL) {
        if (gf_sse_parse_id(recent, &n) != 0 || n > GF_FEED_RECENT_MAX) {
            return gf_req_fail(r, GF_ERR_INVAL, "recent", "recent must be 0 to %d",
                               GF_FEED_RECENT_MAX);
        }
        o->recent = (long)n;
    }
    if (gf_feed_parse_kinds(gf_req_query(r, "kinds"), &o->kinds) != GF_OK) {
        return gf_req_fail(r, GF_ERR_INVAL, "kinds",
                           "kinds must be up to %d comma-separated event kinds of a-z 0-9 . _ "
                           "- (a trailing * matches a prefix)",
                           GF_FEED_KINDS_MAX);
    }
    return GF_OK;
}

enum gf_err gf_h_events(struct gf_req *r)
{
    struct gf_app *app = gf_req_app(r);
    struct gf_feed_opts o;
    struct gf_dbconn *db;
    struct gf_sse *s = NULL;
    struct gf_feed *feed = NULL;
    enum gf_err err;

    if ((err = parse_opts(r, &o)) != GF_OK) {
        return err;
    }
    if (app->events == NULL) {
        return gf_req_fail(r, GF_ERR_UNAVAILABLE, "", "the event feed is not running");
    }
    if ((err = gf_sse_open(r, &s)) != GF_OK || (err = gf_req_db(r, &db)) != GF_OK) {
        return err;
    }
    err = gf_feed_open(gf_event_bus_ring(app->events), db, &o, gf_sse_wake, s, &feed);
    if (err != GF_OK) {
        return gf_req_fail(r, err == GF_ERR_NOMEM ? err : GF_ERR_UNAVAILABLE, "",
                           "cannot read the project's events, try again");
    }
    return gf_sse_start(r, s, &gf_feed_source, feed);
}
