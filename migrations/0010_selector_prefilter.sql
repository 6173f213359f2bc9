-- SPDX-License-Identifier: Apache-2.0
-- 0010: label selectors without a call per row where the selector allows it.
--
-- gf_selector_match() cannot be inlined by the planner (it aggregates over the selector's
-- requirements), so PostgreSQL runs it as a function call per node: about 17 us, 0.17 s
-- for the 10,000 candidates of a rollout. The queries now test GF_SQL_SELECTOR
-- (server/store/q_sql.h):
--     labels @> (SELECT gf_selector_must(sel))
--     AND ((SELECT gf_selector_eq_only(sel)) OR gf_selector_match(labels, sel))
-- The two sub-selects do not depend on the row: PostgreSQL evaluates them once per query.
-- gf_selector_must() is the "key=value" requirements as one containment object (a
-- necessary condition, and one a GIN index on labels can answer); when they are all the
-- selector has, each key once, it is also sufficient and gf_selector_match() is skipped.
-- Labels are string-valued (gf_labels_check), so labels->>'k' = 'v' and
-- labels @> '{"k": "v"}' agree.

CREATE FUNCTION gf_selector_must(sel jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_object_agg(r->>'key', r->'values'->0)
                    FILTER (WHERE r->>'op' = 'eq'), '{}'::jsonb)
    FROM jsonb_array_elements(sel) r
$$;

CREATE FUNCTION gf_selector_eq_only(sel jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(bool_and(r->>'op' = 'eq'), true) AND count(DISTINCT r->>'key') = count(*)
    FROM jsonb_array_elements(sel) r
$$;
