/* SPDX-License-Identifier: Apache-2.0
 *
 * q_sql.h - SQL fragments shared by the q_*.c files: the JSON shape of each object (built by
 * PostgreSQL so the server never re-serialises rows), and keyset pagination.
 */
#ifndef GF_SERVER_Q_SQL_H
#define GF_SERVER_Q_SQL_H

/* Cursor text of row alias t: "<created_at in microseconds>.<id>". */
#define GF_SQL_CURSOR(t)                                                                        \
    "((extract(epoch from " t ".created_at) * 1000000)::bigint || '.' || " t ".id)"

/* Rows after the cursor ($us, $id) in (created_at, id) order; NULL $us = first page. */
#define GF_SQL_AFTER(t, us, id)                                                                 \
    "(" us "::bigint IS NULL OR (" t ".created_at, " t ".id) > ('epoch'::timestamptz + " us     \
    "::bigint * interval '1 microsecond', " id "::uuid))"

#define GF_SQL_TENANT_JSON(t)                                                                   \
    "json_build_object('id', " t ".id, 'name', " t ".name, 'slug', " t ".slug,"                 \
    " 'created_at', gf_ts(" t ".created_at), 'updated_at', gf_ts(" t ".updated_at),"            \
    " 'version', " t ".version)::text"

#define GF_SQL_PROJECT_JSON(t)                                                                  \
    "json_build_object('id', " t ".id, 'tenant_id', " t ".tenant_id, 'name', " t ".name,"       \
    " 'description', " t ".description, 'created_at', gf_ts(" t ".created_at),"                 \
    " 'updated_at', gf_ts(" t ".updated_at), 'version', " t ".version)::text"

#define GF_SQL_USER_JSON(t)                                                                     \
    "json_build_object('id', " t ".id, 'email', " t ".email, 'name', " t ".name,"               \
    " 'is_admin', " t ".is_admin, 'disabled', " t ".disabled,"                                  \
    " 'created_at', gf_ts(" t ".created_at), 'updated_at', gf_ts(" t ".updated_at),"            \
    " 'version', " t ".version)::text"

#define GF_SQL_TOKEN_JSON(t)                                                                    \
    "json_build_object('id', " t ".id, 'name', " t ".name, 'prefix', " t ".prefix,"             \
    " 'tenant_id', " t ".tenant_id, 'role', " t ".role, 'created_at', gf_ts(" t ".created_at)," \
    " 'expires_at', gf_ts(" t ".expires_at), 'last_used_at', gf_ts(" t ".last_used_at),"        \
    " 'revoked_at', gf_ts(" t ".revoked_at))::text"

#define GF_SQL_MEMBER_JSON(m, u)                                                                \
    "json_build_object('tenant_id', " m ".tenant_id, 'user_id', " m ".user_id,"                 \
    " 'email', " u ".email, 'name', " u ".name, 'role', " m ".role,"                            \
    " 'created_at', gf_ts(" m ".created_at))::text"

/* Whether labels (jsonb) match the compiled selector sel (jsonb, not NULL): the "key=value"
 * requirements as one containment test (evaluated once per query, answerable from a GIN
 * index), gf_selector_match() per row only when the selector has more than that
 * (migrations/0010_selector_prefilter.sql). */
#define GF_SQL_SELECTOR(labels, sel)                                                            \
    "(" labels " @> (SELECT gf_selector_must(" sel ")) AND ((SELECT gf_selector_eq_only(" sel   \
    ")) OR gf_selector_match(" labels ", " sel ")))"

/* Ed25519 public key bytea as base64url text (no padding). */
#define GF_SQL_B64URL(x) "rtrim(translate(encode(" x ", 'base64'), E'+/\\n', '-_'), '=')"

#define GF_SQL_ENROLL_TOKEN_JSON(t)                                                             \
    "json_build_object('id', " t ".id, 'project_id', " t ".project_id, 'name', " t ".name,"     \
    " 'prefix', " t ".prefix, 'default_labels', " t ".default_labels,"                          \
    " 'auto_accept', " t ".auto_accept, 'max_uses', " t ".max_uses, 'uses', " t ".uses,"        \
    " 'expires_at', gf_ts(" t ".expires_at), 'revoked_at', gf_ts(" t ".revoked_at),"            \
    " 'created_at', gf_ts(" t ".created_at))::text"

#define GF_SQL_NODE_JSON(n)                                                                     \
    "json_build_object('id', " n ".id, 'project_id', " n ".project_id, 'name', " n ".name,"     \
    " 'status', " n ".status, 'public_key', " GF_SQL_B64URL(n ".public_key") ","                \
    " 'labels', " n ".labels, 'inventory', " n ".inventory, 'online', " n ".online,"            \
    " 'offline_reason', " n ".offline_reason, 'last_seen_at', gf_ts(" n ".last_seen_at),"       \
    " 'session', " n ".session_seq, 'boot_id', " n ".boot_id,"                                  \
    " 'agent_version', " n ".agent_version, 'health', " n ".latest_health,"                     \
    " 'health_at', gf_ts(" n ".latest_health_at), 'health_dropped', " n ".health_dropped,"      \
    " 'clock_offset_ms', " n ".clock_offset_ms, 'broker_cluster_id', " n ".broker_cluster_id,"  \
    " 'desired_bundle_id', (SELECT CASE WHEN NOT x.cleared THEN x.bundle_id END"                \
    " FROM node_bundles x WHERE x.node_id = " n ".id),"                                         \
    " 'applied_bundle_id', (SELECT x.applied_bundle_id FROM node_bundles x"                     \
    " WHERE x.node_id = " n ".id), 'enrolled_at', gf_ts(" n ".enrolled_at),"                    \
    " 'created_at', gf_ts(" n ".created_at), 'updated_at', gf_ts(" n ".updated_at),"            \
    " 'version', " n ".version)::text"

#define GF_SQL_CLUSTER_JSON(c)                                                                  \
    "json_build_object('id', " c ".id, 'project_id', " c ".project_id, 'name', " c ".name,"     \
    " 'kind', " c ".kind, 'agent_url', " c ".agent_url, 'server_url', " c ".server_url,"        \
    " 'admin_username', " c ".admin_username,"                                                  \
    " 'has_admin_password', " c ".admin_secret IS NOT NULL, 'probe', " c ".probe,"              \
    " 'created_at', gf_ts(" c ".created_at), 'updated_at', gf_ts(" c ".updated_at),"            \
    " 'version', " c ".version)::text"

#endif
