/* SPDX-License-Identifier: Apache-2.0
 *
 * test_rollout_spec.c - a rollout's request checked and normalised (rollout/spec.h):
 * defaults, wave sizes from cumulative shares, the rate limit with its exponential ramp,
 * every refusal naming its field, and the normalised JSON reading back to the same spec.
 */
#include "gf_test.h"
#include "rollout/spec.h"

#include <limits.h>
#include <string.h>

static enum gf_err parse(const char *text, struct gf_rollout_spec *s, json_t **norm,
                         struct gf_diag *d)
{
    json_t *body = json_loads(text, 0, NULL);
    enum gf_err err = body ? gf_rollout_spec_parse(body, s, norm, d) : GF_ERR_PARSE;

    json_decref(body);
    return err;
}

static void defaults_and_waves(void)
{
    struct gf_rollout_spec s, again;
    struct gf_diag d;
    json_t *norm = NULL;

    CHECK(parse("{\"target\": {\"selector\": \"site=north\"}}", &s, NULL, &d) == GF_OK);
    CHECK(s.nwaves == 1 && s.waves[0].percent == 100 && s.waves[0].success_percent == 100);
    CHECK(s.abort_percent < 0 && s.rate_per_min == 0 && s.node_timeout_s == 3600);
    CHECK(!s.offline_skipped && s.retries_failed == 0 && s.backoff_s == 60 && s.nwindows == 0);
    CHECK(gf_rollout_wave_end(&s, 0, 37) == 37);

    CHECK(parse("{\"target\": {\"node_ids\": [\"1b4e28ba-2fa1-11d2-883f-0016d3cca427\"]},"
                " \"waves\": [{\"nodes\": 1}, {\"percent\": 5}, {\"percent\": 25, \"then\":"
                " \"pause\"}, {\"percent\": 100, \"success_percent\": 90}],"
                " \"abort\": {\"failure_percent\": 20, \"min_finished\": 10},"
                " \"offline\": \"skipped\", \"retries\": {\"timed_out\": 2, \"backoff_s\": 5},"
                " \"windows\": [{\"cron\": \"0 2 * * 1-5\", \"duration_minutes\": 120,"
                " \"timezone\": \"Europe/Moscow\"}]}",
                &s, &norm, &d) == GF_OK);
    CHECK(s.nwaves == 4 && s.waves[2].pause_after && s.waves[3].success_percent == 90);
    /* Cumulative ends of 1000 targets: 1, 50, 250, then the rest. */
    CHECK(gf_rollout_wave_end(&s, 0, 1000) == 1);
    CHECK(gf_rollout_wave_end(&s, 1, 1000) == 50);
    CHECK(gf_rollout_wave_end(&s, 2, 1000) == 250);
    CHECK(gf_rollout_wave_end(&s, 3, 1000) == 1000);
    /* Few targets: shares round up, never past the total. */
    CHECK(gf_rollout_wave_end(&s, 1, 3) == 1);
    CHECK(gf_rollout_wave_end(&s, 2, 3) == 1);
    CHECK(gf_rollout_wave_end(&s, 0, 0) == 0);
    CHECK(s.abort_percent == 20 && s.abort_min == 10 && s.offline_skipped);
    CHECK(s.retries_timed_out == 2 && s.backoff_s == 5 && s.nwindows == 1);
    CHECK_STR(s.windows[0].timezone, "Europe/Moscow");
    /* The normalised form reads back to the same spec (what the engine does). */
    CHECK(norm != NULL && gf_rollout_spec_parse(norm, &again, NULL, &d) == GF_OK);
    CHECK(again.nwaves == 4 && again.waves[1].percent == 5 && again.abort_min == 10 &&
          again.retries_timed_out == 2 && again.nwindows == 1 &&
          again.windows[0].duration_min == 120);
    json_decref(norm);
}

static void rate(void)
{
    struct gf_rollout_spec s;
    struct gf_diag d;

    CHECK(parse("{\"target\": {\"selector\": \"a=b\"}}", &s, NULL, &d) == GF_OK);
    CHECK(gf_rollout_allowance(&s, 0, 0) == LONG_MAX);
    CHECK(parse("{\"target\": {\"selector\": \"a=b\"}, \"rate\": {\"per_minute\": 100}}", &s, NULL,
                &d) == GF_OK);
    CHECK(gf_rollout_allowance(&s, 0, 0) == 100);
    CHECK(gf_rollout_allowance(&s, 500, 60) == 40);
    CHECK(gf_rollout_allowance(&s, 500, 100) == 0);
    CHECK(gf_rollout_allowance(&s, 500, 150) == 0);
    /* Ramp: 10/min, doubling every 50 notifications, capped at 100. */
    CHECK(parse("{\"target\": {\"selector\": \"a=b\"}, \"rate\": {\"per_minute\": 100,"
                " \"ramp\": {\"start_per_minute\": 10, \"factor\": 2, \"every_notified\": 50}}}",
                &s, NULL, &d) == GF_OK);
    CHECK(gf_rollout_allowance(&s, 0, 0) == 10);
    CHECK(gf_rollout_allowance(&s, 49, 5) == 5);
    CHECK(gf_rollout_allowance(&s, 50, 0) == 20);
    CHECK(gf_rollout_allowance(&s, 100, 0) == 40);
    CHECK(gf_rollout_allowance(&s, 150, 0) == 80);
    CHECK(gf_rollout_allowance(&s, 200, 0) == 100);
    CHECK(gf_rollout_allowance(&s, 100000, 0) == 100);
}

static void refusals(void)
{
    static const struct {
        const char *body, *where, *words;
    } bad[] = {
        {"{}", "/target", "required"},
        {"{\"target\": {}}", "/target", "selector, node_ids"},
        {"{\"target\": {\"selector\": \"a=b\", \"site\": 1}}", "/target", "/target/site"},
        {"{\"target\": {\"node_ids\": [\"x\"]}}", "/target/node_ids", "/target/node_ids/0"},
        {"{\"target\": {\"selector\": \"a=b\", \"continuous\": 1}}", "/target/continuous", ""},
        {"{\"target\": {\"selector\": \"a=b\"}, \"waves\": []}", "/waves", "1 to 16"},
        {"{\"target\": {\"selector\": \"a=b\"}, \"waves\": [{\"percent\": 50},"
         " {\"percent\": 50}]}",
         "/waves/1/percent", "cumulative"},
        {"{\"target\": {\"selector\": \"a=b\"}, \"waves\": [{\"nodes\": 0}]}", "/waves/0/nodes",
         "from 1"},
        {"{\"target\": {\"selector\": \"a=b\"}, \"waves\": [{\"percent\": 101}]}",
         "/waves/0/percent", ""},
        {"{\"target\": {\"selector\": \"a=b\"}, \"waves\": [{}]}", "/waves/0", "exactly one"},
        {"{\"target\": {\"selector\": \"a=b\"}, \"waves\": [{\"percent\": 9, \"size\": 1}]}",
         "/waves/0", "/waves/0/size"},
        {"{\"target\": {\"selector\": \"a=b\"}, \"abort\": {\"failure_percent\": -1}}",
         "/abort/failure_percent", ""},
        {"{\"target\": {\"selector\": \"a=b\"}, \"rate\": {\"per_minute\": 10, \"ramp\":"
         " {\"start_per_minute\": 20}}}",
         "/rate/ramp/start_per_minute", "from 1 to 10"},
        {"{\"target\": {\"selector\": \"a=b\"}, \"offline\": \"gone\"}", "/offline", ""},
        {"{\"target\": {\"selector\": \"a=b\"}, \"node_timeout_s\": 9}", "/node_timeout_s", ""},
        {"{\"target\": {\"selector\": \"a=b\"}, \"windows\": [{\"cron\": \"0 2 * *\","
         " \"duration_minutes\": 5}]}",
         "/windows/0/cron", "5 fields"},
        {"{\"target\": {\"selector\": \"a=b\"}, \"windows\": [{\"cron\": \"0 2 * * *\"}]}",
         "/windows/0/duration_minutes", "required"},
    };
    struct gf_rollout_spec s;
    struct gf_diag d;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        gf_diag_clear(&d);
        CHECK(parse(bad[i].body, &s, NULL, &d) == GF_ERR_INVAL);
        CHECK_STR(d.where, bad[i].where);
        if (strstr(d.msg, bad[i].words) == NULL) {
            fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, d.msg, bad[i].words);
        }
        CHECK(strstr(d.msg, bad[i].words) != NULL);
    }
}

int main(void)
{
    defaults_and_waves();
    rate();
    refusals();
    return gf_test_summary("test_rollout_spec");
}
