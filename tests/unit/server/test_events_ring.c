/* SPDX-License-Identifier: Apache-2.0
 *
 * test_events_ring.c - the event ring (events/ring.h) and the pieces of the feed that need
 * no database: order and de-duplication by seq, bounds in events and in bytes, the horizon
 * and where a cursor starts (resume inside the ring, before it, from now), wake-ups only for
 * the key that got events, a reader that fell behind told so (and one of a quiet key not),
 * reads bounded by the buffer, the event message format, and the kinds filter syntax.
 */
#include "events/bus.h"
#include "events/feed.h"
#include "events/ring.h"
#include "gf_test.h"

#include <stdio.h>

#define PA "11111111-1111-4111-8111-111111111111"
#define PB "22222222-2222-4222-8222-222222222222"

static int wakes_a, wakes_b;

static void wake_a(void *arg)
{
    (void)arg;
    wakes_a++;
}

static void wake_b(void *arg)
{
    (void)arg;
    wakes_b++;
}

static enum gf_err push(struct gf_ring *g, uint64_t seq, const char *key, const char *kind)
{
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "id: %llu\n\n", (unsigned long long)seq);
    return gf_ring_push(g, seq, key, kind, msg, (size_t)n);
}

/* Read everything the cursor has; the ids in order into ids (count returned). */
static int read_ids(struct gf_ring_cursor *c, uint64_t min, unsigned long long *ids, int cap,
                    enum gf_err *err)
{
    struct gf_buf b;
    uint64_t last = 0;
    int n = 0;

    gf_buf_init(&b, 1 << 16);
    *err = gf_ring_read(c, min, NULL, NULL, &b, &last);
    for (const char *p = b.data; p != NULL && n < cap && (p = strstr(p, "id: ")) != NULL; p += 4) {
        ids[n++] = strtoull(p + 4, NULL, 10);
    }
    gf_buf_free(&b);
    return n;
}

static void test_order_and_resume(void)
{
    struct gf_ring *g = NULL;
    struct gf_ring_cursor *now = NULL, *mid = NULL, *old = NULL;
    unsigned long long ids[16];
    enum gf_err err;
    int covered = -1;

    CHECK(gf_ring_new(4, 1 << 20, &g) == GF_OK);
    gf_ring_set_horizon(g, 10);
    CHECK(push(g, 10, PA, "x") == GF_ERR_EXISTS); /* at the horizon: already known */
    CHECK(gf_ring_open(g, PA, GF_RING_NOW, wake_a, NULL, &now, &covered) == GF_OK && covered);
    for (uint64_t s = 11; s <= 13; s++) {
        CHECK(push(g, s, PA, "x") == GF_OK);
    }
    CHECK(push(g, 12, PA, "x") == GF_ERR_EXISTS); /* a duplicate after a reconnect */
    CHECK(gf_ring_last(g) == 13);
    CHECK(read_ids(now, 0, ids, 16, &err) == 3 && err == GF_OK && ids[0] == 11 && ids[2] == 13);
    /* Resume after 11: inside the ring. */
    CHECK(gf_ring_open(g, PA, 11, wake_a, NULL, &mid, &covered) == GF_OK && covered == 1);
    CHECK(read_ids(mid, 11, ids, 16, &err) == 2 && ids[0] == 12 && ids[1] == 13);
    /* Resume after 5: older than the horizon, not covered; starts at the oldest held. */
    CHECK(gf_ring_open(g, PA, 5, wake_a, NULL, &old, &covered) == GF_OK && covered == 0);
    CHECK(read_ids(old, 12, ids, 16, &err) == 1 && ids[0] == 13); /* the table gave up to 12 */
    gf_ring_close(now);
    gf_ring_close(mid);
    gf_ring_close(old);
    gf_ring_free(g);
}

static void test_bounds_and_behind(void)
{
    struct gf_ring *g = NULL;
    struct gf_ring_cursor *a = NULL, *b = NULL;
    struct gf_ring_stats st;
    unsigned long long ids[16];
    enum gf_err err;
    int covered;

    CHECK(gf_ring_new(4, 1 << 20, &g) == GF_OK);
    CHECK(gf_ring_open(g, PA, GF_RING_NOW, wake_a, NULL, &a, &covered) == GF_OK);
    CHECK(gf_ring_open(g, PB, GF_RING_NOW, wake_b, NULL, &b, &covered) == GF_OK);
    CHECK(push(g, 1, PA, "x") == GF_OK);
    for (uint64_t s = 2; s <= 9; s++) {
        CHECK(push(g, s, PB, "x") == GF_OK);
    }
    gf_ring_stats(g, &st);
    CHECK(st.events == 4 && st.horizon == 5 && st.evicted == 5);
    /* A's only event went before A read it: A is told it fell behind. */
    CHECK(read_ids(a, 0, ids, 16, &err) == 0 && err == GF_ERR_TOOBIG);
    /* B lost 2..5 too. */
    CHECK(read_ids(b, 0, ids, 16, &err) == 0 && err == GF_ERR_TOOBIG);
    /* After a skip, A reads on. */
    CHECK(gf_ring_skip(a) == 9);
    CHECK(push(g, 10, PA, "x") == GF_OK);
    CHECK(read_ids(a, 0, ids, 16, &err) == 1 && err == GF_OK && ids[0] == 10);
    gf_ring_close(a);
    gf_ring_close(b);
    /* A quiet key's cursor is not behind because other keys were busy. */
    CHECK(gf_ring_open(g, PA, GF_RING_NOW, wake_a, NULL, &a, &covered) == GF_OK);
    for (uint64_t s = 11; s <= 30; s++) {
        CHECK(push(g, s, PB, "x") == GF_OK);
    }
    CHECK(push(g, 31, PA, "x") == GF_OK);
    CHECK(read_ids(a, 0, ids, 16, &err) == 1 && err == GF_OK && ids[0] == 31);
    gf_ring_close(a);
    gf_ring_free(g);

    /* The byte bound. */
    CHECK(gf_ring_new(100, 40, &g) == GF_OK);
    CHECK(gf_ring_push(g, 1, PA, "x", "0123456789abcdef0123456789abcdef0123456789", 42) ==
          GF_ERR_TOOBIG);
    for (uint64_t s = 1; s <= 10; s++) {
        CHECK(gf_ring_push(g, s, PA, "x", "0123456789", 10) == GF_OK);
    }
    gf_ring_stats(g, &st);
    CHECK(st.events == 4 && st.bytes == 40 && st.horizon == 6);
    gf_ring_free(g);
}

static void test_wakes_and_room(void)
{
    struct gf_ring *g = NULL;
    struct gf_ring_cursor *a = NULL, *b = NULL;
    struct gf_buf out;
    uint64_t last = 0;
    int covered;

    CHECK(gf_ring_new(64, 1 << 20, &g) == GF_OK);
    CHECK(gf_ring_open(g, PA, GF_RING_NOW, wake_a, NULL, &a, &covered) == GF_OK);
    CHECK(gf_ring_open(g, PB, GF_RING_NOW, wake_b, NULL, &b, &covered) == GF_OK);
    wakes_a = wakes_b = 0;
    CHECK(push(g, 1, PA, "x") == GF_OK && push(g, 2, PA, "x") == GF_OK);
    CHECK(wakes_a == 0); /* pushes do not wake */
    gf_ring_wake(g);
    CHECK(wakes_a == 1 && wakes_b == 0);
    gf_ring_wake(g);
    CHECK(wakes_a == 1); /* nothing new */
    /* A buffer with room for one message gets one, the next read the other. */
    gf_buf_init(&out, 10);
    CHECK(gf_ring_read(a, 0, NULL, NULL, &out, &last) == GF_OK && last == 1);
    CHECK(out.len == 7);
    out.len = 0;
    CHECK(gf_ring_read(a, 0, NULL, NULL, &out, &last) == GF_OK && last == 2);
    gf_buf_free(&out);
    gf_ring_close(a);
    gf_ring_close(b);
    CHECK(push(g, 3, PA, "x") == GF_OK);
    gf_ring_wake(g); /* no cursor left: nobody called */
    CHECK(wakes_a == 1);
    gf_ring_free(g);
}

static void test_message_and_kinds(void)
{
    struct gf_buf m;
    char project[48], kind[64];
    uint64_t seq = 0;
    struct gf_feed_kinds k;

    gf_buf_init(&m, GF_EVENT_MESSAGE_MAX);
    CHECK(gf_event_message("{\"id\" : 7, \"project_id\" : \"" PA "\", \"at\" : \"t\", "
                           "\"kind\" : \"node.online\\nevil: x\", \"data\" : {\"b\": 1}}",
                           &m, &seq, project, sizeof(project), kind, sizeof(kind)) == GF_OK);
    CHECK(seq == 7);
    CHECK_STR(project, PA);
    CHECK_STR(kind, "node.online_evil__x");
    CHECK_STR(m.data, "id: 7\nevent: node.online_evil__x\ndata: {\"id\":7,\"project_id\":\"" PA
                      "\",\"at\":\"t\",\"kind\":\"node.online\\nevil: x\",\"data\":{\"b\":1}}\n\n");
    m.len = 0;
    CHECK(gf_event_message("{\"id\": 0, \"project_id\": \"" PA "\", \"kind\": \"x\"}", &m, &seq,
                           project, sizeof(project), kind, sizeof(kind)) == GF_ERR_PARSE);
    CHECK(gf_event_message("not json", &m, &seq, project, sizeof(project), kind, sizeof(kind)) ==
          GF_ERR_PARSE);
    /* Data too large for one message: replaced by {"truncated": true}, the rest kept. */
    static char big[48 * 1024];
    int n = snprintf(big, sizeof(big),
                     "{\"id\": 9, \"project_id\": \"" PA "\", \"kind\": \"k\", \"data\": "
                     "{\"pad\": \"");
    memset(big + n, 'x', 40 * 1024);
    memcpy(big + n + 40 * 1024, "\"}}", 4);
    m.len = 0;
    CHECK(gf_event_message(big, &m, &seq, project, sizeof(project), kind, sizeof(kind)) == GF_OK);
    CHECK(seq == 9 && m.len < GF_EVENT_MESSAGE_MAX);
    CHECK(m.data != NULL && strstr(m.data, "\"data\":{\"truncated\":true}") != NULL);
    gf_buf_free(&m);

    CHECK(gf_feed_parse_kinds(NULL, &k) == GF_OK && k.n == 0);
    CHECK(gf_feed_parse_kinds("node.online,rollout.*", &k) == GF_OK && k.n == 2);
    CHECK_STR(k.k[1], "rollout.*");
    CHECK(gf_feed_parse_kinds("a,,b", &k) == GF_ERR_INVAL);
    CHECK(gf_feed_parse_kinds("a,", &k) == GF_ERR_INVAL);
    CHECK(gf_feed_parse_kinds("ro*llout", &k) == GF_ERR_INVAL);
    CHECK(gf_feed_parse_kinds("Node", &k) == GF_ERR_INVAL);
    CHECK(gf_feed_parse_kinds("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", &k) == GF_ERR_INVAL);
}

int main(void)
{
    test_order_and_resume();
    test_bounds_and_behind();
    test_wakes_and_room();
    test_message_and_kinds();
    return gf_test_summary("test_events_ring");
}
