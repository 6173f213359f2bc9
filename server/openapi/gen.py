#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""server/openapi/gen.py - writes server/openapi.json, the OpenAPI 3.1 document the server
embeds and serves at /api/v1/openapi.json. Edit the routes here, run
`python3 server/openapi/gen.py`, commit both. integration.ops fails when a router route is
missing from the document."""
import os
import json
S = lambda **k: dict(type="string", **k)
TS = S(format="date-time")
UUID = S(format="uuid")
ROLE = S(enum=["viewer", "operator", "admin", "owner"])
def obj(props, req=(), extra=False):
    o = {"type": "object", "properties": props, "additionalProperties": extra}
    if req: o["required"] = list(req)
    return o
def nullable(s): return {"oneOf": [s, {"type": "null"}]}
schemas = {
 "Problem": obj({"type": S(), "title": S(), "status": {"type": "integer"}, "detail": S(),
   "errors": {"type": "array", "items": obj({"field": S(description="JSON pointer, parameter or header"), "message": S()}, ["field", "message"])}},
   ["type", "title", "status"]),
 "User": obj({"id": UUID, "email": S(), "name": S(), "is_admin": {"type": "boolean"}, "disabled": {"type": "boolean"},
   "created_at": TS, "updated_at": TS, "version": {"type": "integer"}}, ["id", "email", "is_admin", "disabled"]),
 "Token": obj({"id": UUID, "name": S(), "prefix": S(), "tenant_id": UUID, "role": ROLE, "created_at": TS,
   "expires_at": TS, "last_used_at": nullable(TS), "revoked_at": nullable(TS)}, ["id", "name", "prefix", "tenant_id", "role"]),
 "Tenant": obj({"id": UUID, "name": S(), "slug": S(), "created_at": TS, "updated_at": TS, "version": {"type": "integer"}}, ["id", "name", "slug"]),
 "Member": obj({"tenant_id": UUID, "user_id": UUID, "email": S(), "name": S(), "role": ROLE, "created_at": TS}, ["tenant_id", "user_id", "role"]),
 "Project": obj({"id": UUID, "tenant_id": UUID, "name": S(), "description": S(), "created_at": TS, "updated_at": TS, "version": {"type": "integer"}}, ["id", "tenant_id", "name"]),
 "AuditEvent": obj({"id": UUID, "at": TS, "tenant_id": nullable(UUID), "actor_type": S(enum=["user", "token", "system", "anonymous", "node"]),
   "actor_id": nullable(UUID), "actor_label": S(), "action": S(), "object_type": S(), "object_id": S(),
   "outcome": S(enum=["success", "denied", "failure"]), "source": S(), "detail": {"type": "object"}}, ["id", "at", "action", "outcome"]),
 "Me": obj({"user": {"$ref": "#/components/schemas/User"}, "auth": S(enum=["session", "token"]), "csrf_token": S(description="send as X-CSRF-Token on mutations (sessions only)"),
   "token": obj({"id": UUID, "tenant_id": UUID, "role": ROLE}), "memberships": {"type": "array", "items": obj({"tenant_id": UUID, "tenant_name": S(), "tenant_slug": S(), "role": ROLE})}}, ["user", "auth", "memberships"]),
}
schemas["UserCreated"] = {"allOf": [{"$ref": "#/components/schemas/User"}, obj({"password": S(description="generated password, shown once")}, extra=True)]}
schemas["TokenCreated"] = {"allOf": [{"$ref": "#/components/schemas/Token"}, obj({"secret": S(description="gft_..., shown once")}, ["secret"], extra=True)]}
for n in ["User", "Token", "Tenant", "Member", "Project", "AuditEvent"]:
    schemas["ListOf" + n] = obj({"items": {"type": "array", "items": {"$ref": f"#/components/schemas/{n}"}}, "next_cursor": nullable(S())}, ["items", "next_cursor"])
ref = lambda n: {"$ref": f"#/components/schemas/{n}"}
def body(props, req=()):
    return {"required": True, "content": {"application/json": {"schema": obj(props, req)}}}
def ok(status, schema=None, desc="OK", etag=False, headers=None):
    r = {"description": desc}
    if schema: r["content"] = {"application/json": {"schema": schema}}
    h = dict(headers or {})
    if etag: h["ETag"] = {"schema": S(), "description": "version, for If-Match"}
    if h: r["headers"] = h
    return {str(status): r}
ERR = {c: {"$ref": f"#/components/responses/E{c}"} for c in (400, 401, 403, 404, 409, 412, 413, 415, 422, 429, 503)}
def errs(*codes): return {str(c): ERR[c] for c in codes}
P = lambda name, desc: {"name": name, "in": "path", "required": True, "schema": UUID, "description": desc}
Q = lambda name, desc, schema=None: {"name": name, "in": "query", "required": False, "schema": schema or S(), "description": desc}
PAGE = [Q("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}), Q("cursor", "next_cursor of the previous page")]
IDEM = {"name": "Idempotency-Key", "in": "header", "required": False, "schema": S(maxLength=200), "description": "replay returns the stored response; same key, different body: 422"}
IFM = {"name": "If-Match", "in": "header", "required": False, "schema": S(), "description": "ETag from a read; stale: 412"}
def op(opid, summary, role, params=(), req=None, responses=None, security=True):
    o = {"operationId": opid, "summary": summary, "x-gatefleet-role": role,
         "description": f"{summary}. Minimum role: {role}.", "parameters": list(params), "responses": responses}
    if req: o["requestBody"] = req
    if not security: o["security"] = []
    return o
MUT = (400, 401, 403, 404, 413, 415, 503)
name = S(minLength=1, maxLength=200)
paths = {}
def add(path, method, o): paths.setdefault(path, {})[method] = o
add("/auth/login", "post", op("login", "Sign in with e-mail and password", "none", [], body({"email": S(maxLength=254), "password": S(maxLength=1024)}, ["email", "password"]),
    {**ok(200, obj({"user": ref("User"), "auth": S(), "csrf_token": S(), "memberships": {"type": "array"}}, extra=True), headers={"Set-Cookie": {"schema": S(), "description": "gf_session; HttpOnly; SameSite=Strict; Secure under TLS"}}),
     **errs(400, 401, 413, 415), "429": {"$ref": "#/components/responses/E429"}}, security=False))
add("/auth/logout", "post", op("logout", "End the session", "session", [], None, {**ok(204, desc="signed out"), **errs(401, 403)}))
add("/auth/me", "get", op("me", "The caller, its memberships and CSRF token", "any", [], None, {**ok(200, ref("Me")), **errs(401)}))
add("/users", "get", op("listUsers", "List users", "server_admin", PAGE, None, {**ok(200, ref("ListOfUser")), **errs(400, 401, 403)}))
add("/users", "post", op("createUser", "Create a user (password generated and shown once when absent)", "server_admin", [IDEM],
    body({"email": S(maxLength=254), "name": nullable(S(maxLength=200)), "password": nullable(S(minLength=12, maxLength=1024)), "is_admin": nullable({"type": "boolean"})}, ["email"]),
    {**ok(201, ref("UserCreated")), **errs(*MUT, 409, 422)}))
add("/users/{user_id}", "get", op("getUser", "Read a user", "server_admin", [P("user_id", "user")], None, {**ok(200, ref("User"), etag=True), **errs(400, 401, 403, 404)}))
add("/users/{user_id}", "patch", op("updateUser", "Change name, password, admin flag or disable (ends sessions on password change or disable)", "server_admin", [P("user_id", "user"), IFM],
    body({"name": S(maxLength=200), "password": S(minLength=12, maxLength=1024), "is_admin": {"type": "boolean"}, "disabled": {"type": "boolean"}}),
    {**ok(200, ref("User"), etag=True), **errs(*MUT, 409, 412)}))
add("/users/{user_id}", "delete", op("deleteUser", "Delete a user (not oneself, not a tenant's last owner: 409)", "server_admin", [P("user_id", "user")], None, {**ok(204, desc="deleted"), **errs(400, 401, 403, 404, 409)}))
add("/tokens", "get", op("listTokens", "The caller's API tokens (never the secret)", "session", PAGE, None, {**ok(200, ref("ListOfToken")), **errs(400, 401, 403)}))
add("/tokens", "post", op("createToken", "Create an API token scoped to a tenant and a role no higher than the caller's", "session", [IDEM],
    body({"name": name, "tenant_id": UUID, "role": ROLE, "expires_at": nullable(TS)}, ["name", "tenant_id", "role"]),
    {**ok(201, ref("TokenCreated")), **errs(*MUT, 422)}))
add("/tokens/{token_id}", "delete", op("revokeToken", "Revoke one of your tokens (server admins: any)", "session", [P("token_id", "token")], None, {**ok(204, desc="revoked"), **errs(400, 401, 403, 404)}))
add("/tenants", "get", op("listTenants", "Tenants the caller can see", "any", PAGE, None, {**ok(200, ref("ListOfTenant")), **errs(400, 401)}))
add("/tenants", "post", op("createTenant", "Create a tenant; the creator becomes owner", "server_admin", [IDEM],
    body({"name": name, "slug": S(pattern="^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")}, ["name", "slug"]), {**ok(201, ref("Tenant"), etag=True), **errs(*MUT, 409, 422)}))
T = P("tenant_id", "tenant")
add("/tenants/{tenant_id}", "get", op("getTenant", "Read a tenant", "viewer", [T], None, {**ok(200, ref("Tenant"), etag=True), **errs(400, 401, 404)}))
add("/tenants/{tenant_id}", "patch", op("updateTenant", "Rename a tenant", "admin", [T, IFM], body({"name": name}), {**ok(200, ref("Tenant"), etag=True), **errs(*MUT, 412)}))
add("/tenants/{tenant_id}", "delete", op("deleteTenant", "Delete a tenant and everything in it", "owner", [T], None, {**ok(204, desc="deleted"), **errs(400, 401, 403, 404)}))
add("/tenants/{tenant_id}/members", "get", op("listMembers", "Members of a tenant", "viewer", [T] + PAGE, None, {**ok(200, ref("ListOfMember")), **errs(400, 401, 404)}))
add("/tenants/{tenant_id}/members", "post", op("addMember", "Add a user by e-mail or id (only owners grant owner)", "admin", [T, IDEM],
    body({"email": S(maxLength=254), "user_id": UUID, "role": ROLE}, ["role"]), {**ok(201, ref("Member")), **errs(*MUT, 409, 422)}))
M = P("user_id", "member's user id")
add("/tenants/{tenant_id}/members/{user_id}", "patch", op("updateMember", "Change a member's role (owners only for owners; the last owner stays)", "admin", [T, M],
    body({"role": ROLE}, ["role"]), {**ok(200, ref("Member")), **errs(*MUT, 409)}))
add("/tenants/{tenant_id}/members/{user_id}", "delete", op("removeMember", "Remove a member and revoke their tokens for the tenant", "admin", [T, M], None, {**ok(204, desc="removed"), **errs(400, 401, 403, 404, 409)}))
add("/tenants/{tenant_id}/projects", "get", op("listProjects", "Projects of a tenant", "viewer", [T] + PAGE, None, {**ok(200, ref("ListOfProject")), **errs(400, 401, 404)}))
add("/tenants/{tenant_id}/projects", "post", op("createProject", "Create a project", "admin", [T, IDEM],
    body({"name": name, "description": nullable(S(maxLength=2000))}, ["name"]), {**ok(201, ref("Project"), etag=True), **errs(*MUT, 409, 422)}))
PR = P("project_id", "project")
add("/projects/{project_id}", "get", op("getProject", "Read a project", "viewer", [PR], None, {**ok(200, ref("Project"), etag=True), **errs(400, 401, 404)}))
add("/projects/{project_id}", "patch", op("updateProject", "Rename or describe a project", "admin", [PR, IFM],
    body({"name": name, "description": nullable(S(maxLength=2000))}), {**ok(200, ref("Project"), etag=True), **errs(*MUT, 409, 412)}))
add("/projects/{project_id}", "delete", op("deleteProject", "Delete a project", "admin", [PR], None, {**ok(204, desc="deleted"), **errs(400, 401, 403, 404)}))
add("/tenants/{tenant_id}/audit", "get", op("listAudit", "The tenant's audit trail, newest first", "admin",
    [T, Q("actor", "user id", UUID), Q("action", "exact action or dotted prefix (e.g. project)"), Q("object_type", "object type"), Q("object_id", "object id"),
     Q("outcome", "success | denied | failure", S(enum=["success", "denied", "failure"])), Q("from", "at or after (RFC 3339)", TS), Q("to", "before (RFC 3339)", TS)] + PAGE,
    None, {**ok(200, ref("ListOfAuditEvent")), **errs(400, 401, 403, 404)}))
add("/openapi.json", "get", op("openapi", "This document", "none", [], None, ok(200, {"type": "object"}), security=False))

# ---------------------------------------------------------------- fleet (issue 3)
LABELS = {"type": "object", "additionalProperties": S(maxLength=63, pattern="^[A-Za-z0-9._-]*$"), "maxProperties": 64,
          "description": "label keys: 1-63 of A-Z a-z 0-9 . _ - / starting with a letter or digit"}
schemas["Cluster"] = obj({"id": UUID, "project_id": UUID, "name": S(), "kind": S(enum=["mosquitto", "emqx"]), "agent_url": S(), "server_url": nullable(S()),
    "admin_username": S(), "has_admin_password": {"type": "boolean"}, "probe": {"type": "object"}, "created_at": TS, "updated_at": TS, "version": {"type": "integer"}},
    ["id", "project_id", "name", "kind", "agent_url"])
schemas["EnrollmentToken"] = obj({"id": UUID, "project_id": UUID, "name": S(), "prefix": S(), "default_labels": LABELS, "auto_accept": {"type": "boolean"},
    "max_uses": nullable({"type": "integer"}), "uses": {"type": "integer"}, "expires_at": nullable(TS), "revoked_at": nullable(TS), "created_at": TS},
    ["id", "project_id", "prefix", "auto_accept", "uses"])
schemas["EnrollmentTokenCreated"] = {"allOf": [ref("EnrollmentToken"), obj({"secret": S(description="gfe_..., shown once")}, ["secret"], extra=True)]}
schemas["Node"] = obj({"id": UUID, "project_id": UUID, "name": S(), "status": S(enum=["pending", "accepted", "rejected", "decommissioned"]),
    "public_key": S(description="Ed25519, base64url"), "labels": LABELS, "inventory": {"type": "object"}, "online": {"type": "boolean"},
    "offline_reason": nullable(S(enum=["will", "shutdown", "overdue", "rejected", "deleted"])), "last_seen_at": nullable(TS), "session": {"type": "integer"},
    "boot_id": nullable(S()), "agent_version": nullable(S()), "health": nullable({"type": "object", "description": "latest sample, see docs/mqtt.md"}),
    "health_at": nullable(TS), "health_dropped": {"type": "integer", "description": "samples the agent's spool dropped (full)"},
    "clock_offset_ms": nullable({"type": "integer"}), "broker_cluster_id": nullable(UUID), "desired_bundle_id": nullable(UUID), "applied_bundle_id": nullable(UUID),
    "enrolled_at": nullable(TS), "created_at": TS, "updated_at": TS, "version": {"type": "integer"}}, ["id", "project_id", "status", "online"])
schemas["Presence"] = {"type": "array", "items": obj({"at": TS, "online": {"type": "boolean"}, "reason": S(), "session": {"type": "integer"}, "boot_id": nullable(S())})}
NUMN = nullable({"type": "number"})
schemas["HealthSeries"] = obj({"node_id": UUID, "from": TS, "to": TS, "step": {"type": "integer", "description": "bucket seconds"},
    "points": {"type": "array", "items": obj({"at": TS, "samples": {"type": "integer"}, "cpu_pct": NUMN, "cpu_pct_max": NUMN, "load1": NUMN, "mem_pct": NUMN,
        "disk_pct_max": NUMN, "temp_c_max": NUMN, "battery_pct_min": NUMN, "on_battery": nullable({"type": "boolean"}), "link_down": nullable({"type": "boolean"})})}})
schemas["HealthSummary"] = obj({k: ({"type": "integer"} if k != "project_id" else UUID) for k in
    ["project_id", "nodes", "pending", "accepted", "rejected", "online", "offline", "on_battery", "link_down", "cpu_high", "spool_dropped"]})
for n in ["Cluster", "EnrollmentToken", "Node"]:
    schemas["ListOf" + n] = obj({"items": {"type": "array", "items": ref(n)}, "next_cursor": nullable(S())}, ["items", "next_cursor"])
schemas["EnrollRequest"] = obj({"token": S(maxLength=200), "public_key": S(minLength=43, maxLength=43), "fingerprint": obj({"machine_id": S(maxLength=128), "dmi_serial": S(maxLength=128)}),
    "inventory": {"type": "object", "description": "hostname, os, kernel, arch, agent_version, cpu_model, mem_total_bytes, disks, interfaces (at most 64 KiB)"},
    "name": S(maxLength=200)}, ["token", "public_key"])
schemas["EnrollAccepted"] = obj({"node_id": UUID, "status": S(enum=["accepted"]), "mqtt": obj({"url": S(), "client_id": S(), "username": S(), "password": S(),
    "topic_root": S(), "keepalive": {"type": "integer"}}), "signing_keys": {"type": "array"}}, ["node_id", "status", "mqtt"])
schemas["EnrollPending"] = obj({"node_id": UUID, "status": S(enum=["pending"]), "poll_after": {"type": "integer"}}, ["node_id", "status"])
NODE = P("node_id", "node")
CL = P("cluster_id", "broker cluster")
add("/projects/{project_id}/clusters", "get", op("listClusters", "Broker clusters of a project", "viewer", [PR] + PAGE, None, {**ok(200, ref("ListOfCluster")), **errs(400, 401, 404)}))
add("/projects/{project_id}/clusters", "post", op("createCluster", "Register a broker cluster (admin password sealed at rest, never returned)", "admin", [PR, IDEM],
    body({"name": name, "kind": S(enum=["mosquitto", "emqx"]), "agent_url": S(description="mqtt://host:port or mqtts://host:port"), "server_url": S(description="URL the server uses, when different"),
          "admin_username": S(maxLength=128), "admin_password": S(maxLength=256)}, ["name", "kind", "agent_url", "admin_username", "admin_password"]),
    {**ok(201, ref("Cluster"), etag=True), **errs(*MUT, 409)}))
add("/clusters/{cluster_id}", "get", op("getCluster", "Read a broker cluster", "viewer", [CL], None, {**ok(200, ref("Cluster"), etag=True), **errs(400, 401, 404)}))
add("/clusters/{cluster_id}", "delete", op("deleteCluster", "Remove a broker cluster registration", "admin", [CL], None, {**ok(204, desc="deleted"), **errs(400, 401, 403, 404)}))
add("/projects/{project_id}/enrollment-tokens", "get", op("listEnrollmentTokens", "Enrollment tokens of a project (never the secret)", "admin", [PR] + PAGE, None, {**ok(200, ref("ListOfEnrollmentToken")), **errs(400, 401, 403, 404)}))
add("/projects/{project_id}/enrollment-tokens", "post", op("createEnrollmentToken", "Create an enrollment token (secret shown once)", "admin", [PR, IDEM],
    body({"name": name, "default_labels": LABELS, "auto_accept": {"type": "boolean", "default": False}, "max_uses": {"type": "integer", "minimum": 1, "maximum": 1000000},
          "expires_at": TS}), {**ok(201, ref("EnrollmentTokenCreated")), **errs(*MUT)}))
add("/enrollment-tokens/{enrollment_token_id}", "delete", op("revokeEnrollmentToken", "Revoke an enrollment token", "admin", [P("enrollment_token_id", "enrollment token")], None,
    {**ok(204, desc="revoked"), **errs(400, 401, 403, 404, 409)}))
SIGH = [{"name": "X-GF-Timestamp", "in": "header", "required": True, "schema": S(), "description": "unix seconds, within 300 s of the server's clock"},
        {"name": "X-GF-Signature", "in": "header", "required": True, "schema": S(), "description": "base64url Ed25519 signature by the enrolled key over GF1\\nMETHOD\\npath\\ntimestamp\\nhex SHA-256 of the body"}]
add("/enroll", "post", op("enroll", "Agent enrollment with a project enrollment token, signed by the enrolled key (proof of possession; protocol: docs/mqtt.md)", "none", SIGH,
    {"required": True, "content": {"application/json": {"schema": ref("EnrollRequest")}}},
    {**ok(200, ref("EnrollAccepted"), desc="accepted"), **ok(202, ref("EnrollPending"), desc="pending an operator's decision"), **errs(400, 401, 403, 409, 413, 415, 503)}, security=False))
add("/enroll/{node_id}", "get", op("enrollPoll", "Enrollment status, signed by the node's key (X-GF-Node, X-GF-Timestamp, X-GF-Signature)", "node",
    [NODE, {"name": "X-GF-Node", "in": "header", "required": True, "schema": UUID, "description": "the node id of the path"}] + SIGH, None,
    {**ok(200, ref("EnrollAccepted"), desc="accepted"), **ok(202, ref("EnrollPending"), desc="pending"), **errs(400, 401, 403, 503)}, security=False))
add("/projects/{project_id}/nodes", "get", op("listNodes", "Nodes of a project", "viewer",
    [PR, Q("status", "pending | accepted | rejected | decommissioned"), Q("online", "true | false (accepted nodes)"),
     Q("selector", "label selector, Kubernetes syntax: site=north,role in (gate,regulator),!decommissioned"), Q("q", "text in name or hostname")] + PAGE,
    None, {**ok(200, ref("ListOfNode")), **errs(400, 401, 404)}))
add("/projects/{project_id}/nodes", "post", op("preauthorizeNode", "Pre-authorise a public key: that node is accepted on first contact", "admin", [PR, IDEM],
    body({"public_key": S(minLength=43, maxLength=43), "name": name, "labels": LABELS}, ["public_key"]), {**ok(201, ref("Node"), etag=True), **errs(*MUT, 409)}))
add("/nodes/{node_id}", "get", op("getNode", "Read a node (with its latest health)", "viewer", [NODE], None, {**ok(200, ref("Node"), etag=True), **errs(400, 401, 404)}))
add("/nodes/{node_id}", "patch", op("updateNode", "Rename or relabel a node", "operator", [NODE, IFM], body({"name": S(maxLength=200), "labels": LABELS}),
    {**ok(200, ref("Node"), etag=True), **errs(*MUT, 412)}))
add("/nodes/{node_id}", "delete", op("deleteNode", "Delete a node and remove its broker account", "admin", [NODE], None, {**ok(204, desc="deleted"), **errs(400, 401, 403, 404)}))
add("/nodes/{node_id}/accept", "post", op("acceptNode", "Accept a pending (or rejected) node; provisions its broker account", "admin", [NODE, IDEM], None,
    {**ok(200, ref("Node"), etag=True), **errs(400, 401, 403, 404, 409, 503)}))
add("/nodes/{node_id}/reject", "post", op("rejectNode", "Reject a node; removes its broker account", "admin", [NODE, IDEM], None,
    {**ok(200, ref("Node"), etag=True), **errs(400, 401, 403, 404, 409, 503)}))
add("/nodes/{node_id}/presence", "get", op("nodePresence", "Online/offline history, newest first", "viewer",
    [NODE, Q("limit", "entries", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50})], None, {**ok(200, ref("Presence")), **errs(400, 401, 404)}))
add("/nodes/{node_id}/health", "get", op("nodeHealth", "Downsampled health series (buckets computed in the database, at most 1000 points)", "viewer",
    [NODE, Q("from", "start (RFC 3339), default to minus one hour", TS), Q("to", "end (RFC 3339), default now", TS),
     Q("step", "bucket seconds; default and minimum: range / 1000", {"type": "integer", "minimum": 1})], None, {**ok(200, ref("HealthSeries")), **errs(400, 401, 404)}))
add("/projects/{project_id}/health/summary", "get", op("healthSummary", "Counts: online, offline, pending, on battery, link down, CPU above 90 %", "viewer", [PR], None,
    {**ok(200, ref("HealthSummary")), **errs(400, 401, 404)}))
# ---- signing keys, trust root, bundles, desired state (docs/bundle-format.md)
HEX = lambda n: S(pattern=f"^[0-9a-f]{{{n}}}$")
schemas["SigningKey"] = obj({"id": UUID, "project_id": UUID, "name": S(), "key_id": HEX(32), "public_key": HEX(64), "kind": S(enum=["server", "offline"]),
    "state": S(enum=["pending", "active", "retired"]), "created_at": TS, "retired_at": nullable(TS),
    "trust_seq": {"type": "integer"}, "trust_pending": {"type": "boolean", "description": "true: the trust statement adding or retiring this key waits for an offline signature"}},
    ["id", "key_id", "public_key", "kind", "state"])
ENV = obj({"signed": S(description="standard base64 of the exact signed bytes"), "key_id": HEX(32), "signature": HEX(128)}, ["signed", "key_id", "signature"])
schemas["Envelope"] = ENV
schemas["Trust"] = obj({"seq": nullable({"type": "integer"}), "statement": nullable(ref("Envelope")),
    "pending": nullable(obj({"seq": {"type": "integer"}, "statement": S(description="base64 of the statement bytes to sign offline")}))}, ["seq", "statement", "pending"])
schemas["BundleFile"] = obj({"path": S(), "sha256": HEX(64), "size": {"type": "integer"}, "mode": S(pattern="^0[0-7]{3}$"), "template": {"type": "boolean"}}, ["path", "sha256", "size", "mode"])
schemas["Bundle"] = obj({"id": UUID, "project_id": UUID, "name": S(), "version": {"type": "integer"}, "status": S(enum=["unsigned", "published"]),
    "manifest_sha256": HEX(64), "key_id": nullable(HEX(32)), "templated": {"type": "boolean"}, "description": S(), "target": nullable({"type": "object"}),
    "parameters": {"type": "object"}, "created_at": TS, "expires_at": TS, "signed_at": nullable(TS),
    "unsigned_manifest": nullable(S(description="base64 of the manifest bytes to sign offline (unsigned bundles only)")),
    "files": {"type": "array", "items": ref("BundleFile")}}, ["id", "name", "version", "status", "manifest_sha256", "files"])
schemas["NodeBundle"] = obj({"node_id": UUID, "bundle_id": UUID, "version": {"type": "integer"}, "manifest_sha256": HEX(64), "assigned_at": TS,
    "published": {"type": "boolean", "description": "the retained desired message was acknowledged by the broker"}, "publish_error": nullable(S()),
    "state": S(enum=["pending", "downloading", "verifying", "applying", "applied", "failed", "rolled_back"]), "reason": nullable(S()), "state_at": nullable(TS),
    "applied_bundle_id": nullable(UUID), "applied_version": nullable({"type": "integer"}), "applied_sha256": nullable(S()), "applied_at": nullable(TS),
    "drift": {"type": "boolean"}, "events": {"type": "array", "items": {"type": "object"}}}, ["node_id", "bundle_id", "state", "drift"])
for n in ["SigningKey", "Bundle", "NodeBundle"]:
    schemas["ListOf" + n] = obj({"items": {"type": "array", "items": ref(n)}, "next_cursor": nullable(S())}, ["items", "next_cursor"])
SK = P("signing_key_id", "signing key")
BU = P("bundle_id", "bundle")
SIG_BODY = body({"key_id": HEX(32), "signature": HEX(128)}, ["key_id", "signature"])
add("/projects/{project_id}/signing-keys", "get", op("listSigningKeys", "Bundle-signing keys of a project (never a secret)", "viewer",
    [PR, Q("state", "pending | active | retired")] + PAGE, None, {**ok(200, ref("ListOfSigningKey")), **errs(400, 401, 404)}))
add("/projects/{project_id}/signing-keys", "post", op("createSigningKey", "Add a server-held key (no public_key) or register an operator's offline key; the next trust statement adds it", "admin", [PR, IDEM],
    body({"name": name, "public_key": HEX(64)}, ["name"]), {**ok(201, ref("SigningKey"), desc="key active"), **ok(202, ref("SigningKey"), desc="key pending: sign the trust statement offline"), **errs(*MUT, 409)}))
add("/signing-keys/{signing_key_id}/retire", "post", op("retireSigningKey", "Retire a key: the next trust statement, signed by the old root, drops it", "admin", [SK, IDEM], None,
    {**ok(200, ref("SigningKey")), **ok(202, ref("SigningKey"), desc="waits for an offline signature"), **errs(400, 401, 403, 404, 409)}))
add("/projects/{project_id}/trust", "get", op("getTrust", "The project's trust root: newest signed statement and the one waiting for a signature", "viewer", [PR], None,
    {**ok(200, ref("Trust")), **errs(400, 401, 404)}))
add("/projects/{project_id}/trust/signature", "post", op("signTrust", "Complete the pending trust statement with an offline signature by a key of the current root", "admin", [PR, IDEM], SIG_BODY,
    {**ok(200, ref("Trust")), **errs(*MUT, 409, 422)}))
UPLOAD = {"required": True, "content": {"multipart/form-data": {"schema": obj({
    "metadata": obj({"name": S(pattern="^[a-z0-9][a-z0-9._-]{0,62}$"), "description": S(), "expires_at": TS, "actions": {"type": "array", "items": S()},
        "health_check": S(), "health_timeout_s": {"type": "integer", "minimum": 1, "maximum": 3600, "default": 60},
        "target": obj({"selector": S(), "arch": {"type": "array", "items": S()}}), "signing": S(enum=["server", "offline"], default="server"),
        "files": {"type": "object", "additionalProperties": obj({"mode": S(), "template": {"type": "boolean"}})},
        "parameters": obj({"default": {"type": "object"}, "nodes": {"type": "object"}})}, ["name"]),
    "file": {"type": "array", "items": S(format="binary"), "description": "one part per file; its filename is the path inside the bundle"}}, ["metadata", "file"])}}}
add("/projects/{project_id}/bundles", "get", op("listBundles", "Bundles of a project", "viewer", [PR, Q("name", "bundle name"), Q("status", "unsigned | published")] + PAGE, None,
    {**ok(200, ref("ListOfBundle")), **errs(400, 401, 404)}))
add("/projects/{project_id}/bundles", "post", op("publishBundle", "Upload a bundle (multipart, at most max_upload_bytes): next version, blobs stored once by hash, signed by the project's server key or left unsigned for an offline signature", "operator", [PR, IDEM],
    UPLOAD, {**ok(201, ref("Bundle")), **errs(*MUT, 409)}))
add("/bundles/{bundle_id}", "get", op("getBundle", "Read a bundle", "viewer", [BU], None, {**ok(200, ref("Bundle")), **errs(400, 401, 404)}))
add("/bundles/{bundle_id}/manifest", "get", op("getBundleManifest", "The signed manifest envelope (exact bytes, key id, signature)", "viewer", [BU], None,
    {**ok(200, ref("Envelope")), **errs(400, 401, 404, 409)}))
add("/bundles/{bundle_id}/signature", "post", op("signBundle", "Publish an unsigned bundle with an offline signature over its unsigned_manifest bytes", "admin", [BU, IDEM], SIG_BODY,
    {**ok(200, ref("Bundle")), **errs(*MUT, 409, 422)}))
add("/nodes/{node_id}/bundle", "get", op("getNodeBundle", "Desired and applied bundle of a node, its last reported state and recent steps", "viewer", [NODE], None,
    {**ok(200, ref("NodeBundle")), **errs(400, 401, 404)}))
add("/nodes/{node_id}/bundle", "put", op("assignBundle", "Set the node's desired bundle (rendered per node when templated); the retained desired message follows", "operator", [NODE, IDEM],
    body({"bundle_id": UUID}, ["bundle_id"]), {**ok(200, ref("NodeBundle")), **errs(*MUT, 409, 422)}))
add("/projects/{project_id}/drift", "get", op("listDrift", "Nodes whose applied manifest differs from the desired one", "viewer", [PR] + PAGE, None,
    {**ok(200, ref("ListOfNodeBundle")), **errs(400, 401, 404)}))
NSIG = [{"name": "X-GF-Node", "in": "header", "required": True, "schema": UUID, "description": "the calling node"}] + SIGH
add("/agent/bundles/{bundle_id}/manifest", "get", op("agentManifest", "The signed manifest envelope of the node's desired bundle (node-signed)", "node", [BU] + NSIG, None,
    {**ok(200, ref("Envelope")), **errs(400, 401, 403, 404)}, security=False))
add("/agent/blobs/{sha256}", "get", op("agentBlob", "A blob of the node's project or rendering; one HTTP Range (bytes=N- or bytes=N-M) resumes a cut download (node-signed)", "node",
    [{"name": "sha256", "in": "path", "required": True, "schema": HEX(64)}, {"name": "Range", "in": "header", "required": False, "schema": S()}] + NSIG, None,
    {"200": {"description": "the blob", "content": {"application/octet-stream": {"schema": S(format="binary")}}},
     "206": {"description": "the requested range", "content": {"application/octet-stream": {"schema": S(format="binary")}}},
     "416": {"description": "range beyond the blob"}, **errs(400, 401, 403, 404)}, security=False))
add("/agent/trust", "get", op("agentTrust", "Signed trust statements after since, in order (node-signed)", "node",
    [Q("since", "last statement the agent holds", {"type": "integer", "minimum": 0})] + NSIG, None,
    {**ok(200, obj({"statements": {"type": "array", "items": ref("Envelope")}}, ["statements"])), **errs(400, 401, 403)}, security=False))
# ---- rollouts (docs/rollouts.md, docs/internals/rollout.md)
WAVE = obj({"nodes": {"type": "integer", "minimum": 1}, "percent": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
    "success_percent": {"type": "number", "minimum": 0, "maximum": 100, "default": 100}, "then": S(enum=["continue", "pause"], default="continue")})
RSPEC = {"target": obj({"selector": S(description="label selector"), "node_ids": {"type": "array", "maxItems": 10000, "items": UUID},
        "continuous": {"type": "boolean", "default": False}}),
    "waves": {"type": "array", "minItems": 1, "maxItems": 16, "items": WAVE, "description": "cumulative shares; the last wave takes the rest"},
    "abort": obj({"failure_percent": {"type": "number", "minimum": 0, "maximum": 100}, "min_finished": {"type": "integer", "minimum": 1, "default": 1}}, ["failure_percent"]),
    "rate": obj({"per_minute": {"type": "integer", "minimum": 1}, "ramp": obj({"start_per_minute": {"type": "integer", "minimum": 1},
        "factor": {"type": "number", "minimum": 1.01, "maximum": 5}, "every_notified": {"type": "integer", "minimum": 1}})}, ["per_minute"]),
    "node_timeout_s": {"type": "integer", "minimum": 10, "maximum": 2592000, "default": 3600},
    "offline": S(enum=["timed_out", "skipped"], default="timed_out"),
    "retries": obj({k: {"type": "integer", "minimum": 0, "maximum": 10, "default": 0} for k in ("failed", "rolled_back", "timed_out")} | {"backoff_s": {"type": "integer", "minimum": 0, "maximum": 86400, "default": 60}}),
    "windows": {"type": "array", "maxItems": 8, "items": obj({"cron": S(description="5-field cron"), "duration_minutes": {"type": "integer", "minimum": 1, "maximum": 10080},
        "timezone": S(default="UTC")}, ["cron", "duration_minutes"])}}
TSTATES = ["pending", "notified", "downloading", "applying", "applied", "failed", "rolled_back", "timed_out", "skipped", "cancelled"]
schemas["Rollout"] = obj({"id": UUID, "project_id": UUID, "bundle_id": UUID, "name": S(),
    "state": S(enum=["draft", "scheduled", "running", "paused", "succeeded", "failed", "cancelled"]),
    "pause_reason": nullable(S(enum=["operator", "threshold", "window", "wave"])), "reason": nullable(S()),
    "current_wave": {"type": "integer", "minimum": 1}, "wave_count": {"type": "integer"}, "start_at": nullable(TS), "created_at": TS,
    "started_at": nullable(TS), "finished_at": nullable(TS), "updated_at": TS, "spec": {"type": "object"},
    "waves": {"type": "array", "items": obj({"wave": {"type": "integer"}, "targets": {"type": "integer"}, "states": {"type": "object"}})},
    "counts": {"type": "object", "description": "targets per state"}, "targets": {"type": "integer"},
    "eta_s": nullable({"type": "integer", "description": "what is left at the pace of the last 5 minutes"})}, ["id", "state", "bundle_id"])
schemas["RolloutTarget"] = obj({"node_id": UUID, "name": S(), "wave": {"type": "integer"}, "state": S(enum=TSTATES), "error": nullable(S()),
    "attempts": {"type": "integer"}, "online": {"type": "boolean"}, "notified_at": nullable(TS), "deadline_at": nullable(TS),
    "finished_at": nullable(TS), "next_attempt_at": nullable(TS)}, ["node_id", "wave", "state", "attempts"])
for n in ["Rollout", "RolloutTarget"]:
    schemas["ListOf" + n] = obj({"items": {"type": "array", "items": ref(n)}, "next_cursor": nullable(S())}, ["items", "next_cursor"])
RO = P("rollout_id", "rollout")
add("/projects/{project_id}/rollouts", "get", op("listRollouts", "Rollouts of a project, oldest first", "viewer",
    [PR, Q("state", "draft | scheduled | running | paused | succeeded | failed | cancelled")] + PAGE, None, {**ok(200, ref("ListOfRollout")), **errs(400, 401, 404)}))
add("/projects/{project_id}/rollouts", "post", op("createRollout", "Start (or schedule, or draft) a rollout of a bundle in waves; a node held by another active rollout refuses it", "operator", [PR, IDEM],
    body(dict({"bundle_id": UUID, "name": S(maxLength=200), "draft": {"type": "boolean"}, "start_at": TS}, **RSPEC), ["bundle_id", "target"]),
    {**ok(201, ref("Rollout")), **errs(*MUT, 409, 422)}))
add("/rollouts/{rollout_id}", "get", op("getRollout", "A rollout with counts per wave and state, and an ETA", "viewer", [RO], None, {**ok(200, ref("Rollout")), **errs(400, 401, 404)}))
add("/rollouts/{rollout_id}/targets", "get", op("listRolloutTargets", "The rollout's targets by node", "viewer",
    [RO, Q("state", "target state", S(enum=TSTATES)), Q("wave", "wave number from 1", {"type": "integer", "minimum": 1}), Q("error", "text in the error")] + PAGE, None,
    {**ok(200, ref("ListOfRolloutTarget")), **errs(400, 401, 404)}))
for verb, what in (("start", "Start a draft: take its targets"), ("pause", "Pause: no new notifications"),
                   ("resume", "Resume a paused rollout (after a wave's pause or a missed success condition: the next wave)"),
                   ("cancel", "Cancel: pending targets cancelled, notified ones get their previous desired state back")):
    add(f"/rollouts/{{rollout_id}}/{verb}", "post", op(verb + "Rollout", what, "operator", [RO, IDEM], None, {**ok(200, ref("Rollout")), **errs(400, 401, 403, 404, 409)}))
# ---- the project event feed (docs/api.md "Event feed", docs/internals/events.md)
schemas["ProjectEvent"] = obj({"id": {"type": "integer", "description": "commit-ordered; the SSE id"}, "project_id": UUID, "at": TS,
    "kind": S(description="node.online, node.offline, node.enrollment_requested, node.accepted, node.rejected, node.decommissioned, rollout.<change>, reset"),
    "data": {"type": "object"}}, ["id", "project_id", "at", "kind", "data"])
add("/projects/{project_id}/events", "get", op("streamProjectEvents", "The project's live event feed as Server-Sent Events (resume with Last-Event-ID)", "viewer",
    [PR, {"name": "Last-Event-ID", "in": "header", "required": False, "schema": S(pattern="^[0-9]{1,19}$"), "description": "resume after this event (EventSource sends it when it reconnects)"},
     Q("last_event_id", "resume after this event (when the header cannot be set)", S(pattern="^[0-9]{1,19}$")),
     Q("recent", "without a resume point: start with this many latest events", {"type": "integer", "minimum": 0, "maximum": 1000, "default": 0}),
     Q("kinds", "comma-separated kinds; a trailing * matches a prefix (node.*,rollout.failed)")], None,
    {"200": {"description": "text/event-stream: `id: <event id>`, `event: <kind>`, `data: <ProjectEvent JSON>` per event; `: keepalive` comments when idle; an event `reset` (data {reason, after}) when too much was missed to resume: reload, then continue",
             "content": {"text/event-stream": {"schema": S()}}},
     **errs(400, 401, 404, 503)}))
# ---- remote commands and log streams (docs/commands.md, docs/internals/commands.md)
CSTATES = ["queued", "sent", "running", "succeeded", "failed", "timed_out", "expired", "rejected"]
INT = {"type": "integer"}
schemas["Command"] = obj({"id": UUID, "project_id": UUID, "node_id": UUID, "batch_id": nullable(UUID),
    "name": S(), "args": {"type": "object"}, "timeout_ms": INT, "state": S(enum=CSTATES),
    "exit_code": nullable(INT), "signal": nullable(INT), "output": nullable(S(description="bounded by the agent's commands_output_max")),
    "output_truncated": nullable({"type": "boolean"}), "result": nullable({"type": "object"}), "error": nullable(S()),
    "duration_ms": nullable(INT), "requested_by": nullable(UUID), "requested_label": nullable(S()), "created_at": TS,
    "deadline_at": TS, "sent_at": nullable(TS), "started_at": nullable(TS), "finished_at": nullable(TS)}, ["id", "node_id", "name", "state"])
schemas["CommandBatch"] = obj({"id": UUID, "project_id": UUID, "selector": S(), "name": S(), "args": {"type": "object"},
    "timeout_ms": INT, "concurrency": INT, "total": INT, "requested_by": nullable(UUID), "requested_label": nullable(S()),
    "created_at": TS, "counts": {"type": "object", "description": "commands per state"}, "done": INT}, ["id", "total", "counts", "done"])
schemas["LogStream"] = obj({"id": UUID, "project_id": UUID, "node_id": UUID, "source": {"type": "object"},
    "state": S(enum=["requested", "streaming", "ended", "failed"]), "reason": nullable(S()), "command_id": nullable(UUID),
    "last_seq": INT, "lines": INT, "dropped": INT, "requested_by": nullable(UUID), "created_at": TS, "ends_at": TS,
    "ended_at": nullable(TS)}, ["id", "node_id", "state"])
schemas["ListOfCommand"] = obj({"items": {"type": "array", "items": ref("Command")}, "next_cursor": nullable(S())}, ["items", "next_cursor"])
CMDBODY = {"name": S(pattern="^[a-z0-9._:-]{1,64}$", description="ping, health.now, inventory.refresh, bundle.status, logs.tail, agent.restart or a name of the station's allowlist"),
    "args": {"type": "object", "description": "at most 16 KiB as JSON; validated by the station"},
    "timeout_s": {"type": "integer", "minimum": 1, "maximum": 3600, "default": 30, "description": "deadline from now; also the MQTT message expiry"}}
CM, BA, LS = P("command_id", "command"), P("batch_id", "command batch"), P("stream_id", "log stream")
CSTATE_Q = Q("state", "command state", S(enum=CSTATES))
add("/nodes/{node_id}/commands", "post", op("createCommand", "Run an allowlisted command on a node (202: queued; follow it with GET /commands/{id})", "operator", [NODE, IDEM],
    body(CMDBODY, ["name"]), {**ok(202, ref("Command")), **errs(*MUT, 409, 422)}))
add("/nodes/{node_id}/commands", "get", op("listNodeCommands", "Commands of a node, oldest first", "viewer", [NODE, CSTATE_Q] + PAGE, None,
    {**ok(200, ref("ListOfCommand")), **errs(400, 401, 404)}))
add("/projects/{project_id}/commands", "post", op("createCommandBatch", "Run a command on every accepted node a label selector matches, at most `concurrency` at once", "operator", [PR, IDEM],
    body(dict(CMDBODY, selector=S(minLength=1, maxLength=1024, description="label selector"), concurrency={"type": "integer", "minimum": 1, "maximum": 1000, "default": 10}), ["name", "selector"]),
    {**ok(202, ref("CommandBatch")), **errs(*MUT, 409, 422)}))
add("/commands/{command_id}", "get", op("getCommand", "A command: state, exit code, bounded output, result", "viewer", [CM], None, {**ok(200, ref("Command")), **errs(400, 401, 404)}))
add("/command-batches/{batch_id}", "get", op("getCommandBatch", "A batch with its commands counted per state", "viewer", [BA], None, {**ok(200, ref("CommandBatch")), **errs(400, 401, 404)}))
add("/command-batches/{batch_id}/commands", "get", op("listBatchCommands", "The batch's commands, one per node", "viewer", [BA, CSTATE_Q] + PAGE, None,
    {**ok(200, ref("ListOfCommand")), **errs(400, 401, 404)}))
add("/nodes/{node_id}/log-streams", "post", op("createLogStream", "Stream a log of a node: an allowlisted file or a systemd unit's journal", "operator", [NODE, IDEM],
    body({"path": S(description="absolute path on the station, in its log_files allowlist"), "unit": S(maxLength=128, description="systemd unit, in its log_units allowlist"),
          "lines": {"type": "integer", "minimum": 0, "maximum": 10000, "default": 100, "description": "past lines first"},
          "follow": {"type": "boolean", "default": True}, "filter": S(maxLength=256, description="only lines containing this text"),
          "max_duration_s": {"type": "integer", "minimum": 1, "description": "the stream ends by itself after this long"}}),
    {**ok(201, ref("LogStream")), **errs(*MUT, 409)}))
add("/log-streams/{stream_id}", "get", op("getLogStream", "A log stream: state, lines and gaps so far", "viewer", [LS], None, {**ok(200, ref("LogStream")), **errs(400, 401, 404)}))
add("/log-streams/{stream_id}", "delete", op("stopLogStream", "Stop a log stream (viewers get an end event)", "operator", [LS], None, {**ok(204, desc="stopped"), **errs(400, 401, 403, 404)}))
add("/log-streams/{stream_id}/events", "get", op("streamLogStream", "The stream's chunks as Server-Sent Events, in order (resume with Last-Event-ID)", "viewer",
    [LS, {"name": "Last-Event-ID", "in": "header", "required": False, "schema": S(pattern="^[0-9]{1,19}$"), "description": "resume after this chunk sequence number"},
     Q("last_event_id", "resume after this chunk (when the header cannot be set)", S(pattern="^[0-9]{1,19}$"))], None,
    {"200": {"description": "text/event-stream: `id: <seq>`, `event: chunk`, `data: {stream, seq, lines[], dropped?}`; `event: end` (data {state, reason}) when the stream ended",
             "content": {"text/event-stream": {"schema": S()}}},
     **errs(400, 401, 404, 503)}))
ROOT = [{"url": "/", "description": "outside /api/v1"}]
txt = lambda d: {"200": {"description": d, "content": {"text/plain": {"schema": S()}}}}
paths["/healthz"] = {"servers": ROOT, "get": op("healthz", "Liveness", "none", [], None, txt("ok"), security=False)}
paths["/readyz"] = {"servers": ROOT, "get": op("readyz", "Readiness: database reachable and schema current", "none", [], None,
    {**txt("ready"), "503": {"description": "not ready", "content": {"text/plain": {"schema": S()}}}}, security=False)}
paths["/metrics"] = {"servers": ROOT, "get": op("metrics", "Prometheus metrics (requests by route and status, latency histogram, database pool)", "none", [], None, txt("Prometheus text format 0.0.4"), security=False)}
titles = {400: "invalid request", 401: "not authenticated, or the credentials are wrong, expired or revoked", 403: "role too low, CSRF token missing or wrong, or a session-only/admin-only route",
          404: "no such object, or not visible to the caller (identical answers)", 409: "conflict (already exists, last owner, concurrent change)", 412: "If-Match does not match",
          413: "body larger than max_body_bytes", 415: "body is not application/json", 422: "Idempotency-Key reused with another body, or a referenced object does not exist", 429: "too many failed sign-ins", 503: "database unavailable"}
responses = {}
for c, d in titles.items():
    responses[f"E{c}"] = {"description": d, "content": {"application/problem+json": {"schema": ref("Problem")}}}
responses["E429"]["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
doc = {"openapi": "3.1.0",
       "info": {"title": "gatefleet API", "version": "0.1.0", "description": "Fleet manager for industrial edge sites. Rules (pagination, errors, idempotency, ETags, authentication, tenant isolation): docs/api.md."},
       "servers": [{"url": "/api/v1"}],
       "security": [{"session": []}, {"bearer": []}],
       "paths": paths,
       "components": {"schemas": schemas, "responses": responses,
          "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "gf_session", "description": "from POST /auth/login; mutations also need X-CSRF-Token"},
                              "bearer": {"type": "http", "scheme": "bearer", "description": "API token gft_..."}}}}
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "openapi.json")
with open(OUT, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
print(len(paths))
