#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""scripts/bootstrap-local.py - first-run set-up of the local system scripts/run starts.

Signs in as the first admin, creates the tenant "Local" with the project "Local site",
registers the local mosquitto as the project's broker cluster (with its dynamic-security
admin account) and creates an auto-accept enrollment token for the local agent. Prints the
token (and nothing else) on stdout. Python standard library only.

usage: bootstrap-local.py BASE_URL EMAIL BROKER_URL BROKER_ADMIN_USER
       (admin password and broker admin password on stdin, one per line)
"""
import http.cookiejar
import json
import sys
import urllib.request


def main():
    base, email, broker_url, broker_user = sys.argv[1:5]
    password = sys.stdin.readline().rstrip("\n")
    broker_password = sys.stdin.readline().rstrip("\n")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    csrf = {}

    def call(method, path, body=None):
        req = urllib.request.Request(base + "/api/v1" + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", **csrf})
        with opener.open(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    call("POST", "/auth/login", {"email": email, "password": password})
    csrf["X-CSRF-Token"] = call("GET", "/auth/me")["csrf_token"]
    tenant = call("POST", "/tenants", {"name": "Local", "slug": "local"})
    project = call("POST", f"/tenants/{tenant['id']}/projects", {"name": "Local site"})
    call("POST", f"/projects/{project['id']}/clusters", {
        "name": "local mosquitto", "kind": "mosquitto", "agent_url": broker_url,
        "admin_username": broker_user, "admin_password": broker_password})
    token = call("POST", f"/projects/{project['id']}/enrollment-tokens", {
        "name": "local agent", "auto_accept": True, "default_labels": {"site": "local"}})
    print(token["secret"])


if __name__ == "__main__":
    main()
