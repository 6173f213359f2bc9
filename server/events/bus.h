/* SPDX-License-Identifier: Apache-2.0
 *
 * bus.h - the project event bus of one server process: NOTIFY gf_event (sent at commit by
 * migrations/0006_events.sql) into the event ring that every project stream reads.
 *
 * Start-up takes the highest event seq as the ring's horizon: a stream that resumes from an
 * older event reads the gap from project_events. The listener (listen.h) feeds the ring in
 * commit order (the order of notifications, the same on every replica); after a reconnect it
 * reads from the table every event above the last one it holds, so nothing committed while
 * nobody listened is missing or duplicated. Events whose JSON does not fit a notification
 * arrive as a stub and are read from the table by seq.
 *
 * Each ring entry is the event's complete SSE message:
 *   id: <seq>\nevent: <kind>\ndata: {"id":..,"project_id":..,"at":..,"kind":..,"data":{..}}\n\n
 * Thread-safe: the ring is; start and stop from the main thread.
 */
#ifndef GF_SERVER_EVENTS_BUS_H
#define GF_SERVER_EVENTS_BUS_H

#include "buf.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

struct gf_app;
struct gf_ring;
struct gf_event_bus;

/* Largest SSE message of one event; an event whose JSON is larger is sent with its data
 * replaced by {"truncated": true} (the full row stays in project_events). */
#define GF_EVENT_MESSAGE_MAX (32u * 1024u)

/* Read the highest seq (pool connection), build the ring (cfg.events_ring,
 * cfg.events_ring_bytes) and start listening. Caller owns *out (gf_event_bus_stop).
 * GF_ERR_UNAVAILABLE (database), GF_ERR_NOMEM, GF_ERR_IO. */
enum gf_err gf_event_bus_start(struct gf_app *app, struct gf_event_bus **out);

/* Stop listening and free (every ring cursor must be closed). NULL is a no-op. */
void gf_event_bus_stop(struct gf_event_bus *b);

/* The ring. Borrowed: valid until gf_event_bus_stop. */
struct gf_ring *gf_event_bus_ring(struct gf_event_bus *b);

/* Append the bus's Prometheus metrics. NULL appends nothing. GF_ERR_TOOBIG, GF_ERR_NOMEM. */
enum gf_err gf_event_bus_metrics(struct gf_event_bus *b, struct gf_buf *out);

/* The SSE message of one event from its feed JSON (gf_event_json, or a NOTIFY payload):
 * appended to msg (compact JSON, kind reduced to [A-Za-z0-9._-]), with its seq, project id
 * and kind. GF_ERR_PARSE (not an event), GF_ERR_TOOBIG (msg's cap), GF_ERR_NOMEM. */
enum gf_err gf_event_message(const char *json, struct gf_buf *msg, uint64_t *seq, char *project,
                             size_t pcap, char *kind, size_t kcap);

#endif
