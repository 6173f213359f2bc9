/* SPDX-License-Identifier: Apache-2.0
 *
 * manifest.h - the bundle manifest: decode and check the exact signed bytes, and build them.
 *
 * A manifest is one JSON object (docs/bundle-format.md):
 *
 *   {"schema":1,"type":"gatefleet.bundle","project":"<uuid>","name":"neuronex",
 *    "version":3,"created_at":"2026-11-23T08:00:00Z","expires_at":"2027-11-23T08:00:00Z",
 *    "node":"<uuid>",                                  (optional: per-node rendering)
 *    "target":{"selector":"site=gate","arch":["x86_64"]},           (optional)
 *    "files":[{"path":"etc/neuron.conf","sha256":"<64 hex>","size":123,"mode":"0644"}],
 *    "actions":["restart:neuronex"],"health_check":"check:neuronex",  (optional)
 *    "health_timeout_s":60}
 *
 * Decoding is strict: unknown members, duplicate members, wrong types, out-of-range numbers,
 * bad paths (absolute, "..", ".", empty components, backslashes, control characters, two
 * files with one path or one path a prefix directory of another) and bad action names are
 * errors with a typed reason. The decoder reads the bytes it is given and never
 * re-serialises them; signatures are over those same bytes (sign.h).
 * Thread-safe (no shared state).
 */
#ifndef GF_PROTO_MANIFEST_H
#define GF_PROTO_MANIFEST_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define GF_MANIFEST_SCHEMA 1
#define GF_MANIFEST_MAX_BYTES (256u * 1024u)   /* one manifest */
#define GF_MANIFEST_MAX_FILES 512u             /* files in one bundle */
#define GF_MANIFEST_MAX_ACTIONS 16u            /* apply actions */
#define GF_MANIFEST_PATH_MAX 255u              /* one relative path, bytes */
#define GF_MANIFEST_PATH_DEPTH 16u             /* components in one path */
#define GF_MANIFEST_NAME_MAX 63u               /* bundle name: [a-z0-9][a-z0-9._-]* */
#define GF_MANIFEST_ACTION_MAX 63u             /* action name: [a-z0-9][a-z0-9._:-]* */
#define GF_MANIFEST_FILE_MAX (16u * 1024u * 1024u)   /* one file */
#define GF_MANIFEST_TOTAL_MAX (64u * 1024u * 1024u)  /* all files of a bundle */
#define GF_MANIFEST_HEALTH_TIMEOUT_MAX 3600

/* Why a manifest, signature or trust statement was refused. Stable names (reason_str) go on
 * the wire in bundle/status and into the server's API errors. */
enum gf_reject {
    GF_REJECT_NONE = 0,
    GF_REJECT_MALFORMED,      /* not valid JSON / missing or ill-typed member */
    GF_REJECT_SCHEMA,         /* schema or type not supported */
    GF_REJECT_SIGNATURE,      /* signature does not verify over the bytes */
    GF_REJECT_UNKNOWN_KEY,    /* key id not in the trust root */
    GF_REJECT_PROJECT,        /* another project's bundle */
    GF_REJECT_NODE,           /* rendered for another node */
    GF_REJECT_EXPIRED,        /* expires_at passed (or before the clock floor) */
    GF_REJECT_ROLLBACK,       /* version not above the installed one */
    GF_REJECT_CONFLICT,       /* same version as installed, different content */
    GF_REJECT_PATH,           /* a path leaves the bundle root or is not canonical */
    GF_REJECT_HASH,           /* a blob's SHA-256 differs from the manifest */
    GF_REJECT_SIZE,           /* a blob is larger (or smaller) than declared, or over a cap */
    GF_REJECT_ACTION,         /* an action name is not in the agent's local map */
    GF_REJECT_TRUST,          /* trust statement not signed by a key of the previous set */
    GF_REJECT__COUNT
};

/* "malformed", "schema", "signature", ... Never NULL. */
const char *gf_reject_str(enum gf_reject r);

/* One file of a bundle. path is NUL-terminated and already checked. */
struct gf_manifest_file {
    char path[GF_MANIFEST_PATH_MAX + 1];
    char sha256[65]; /* lower-case hex */
    uint64_t size;
    unsigned mode;   /* permission bits only, 0..0777; setuid/setgid/sticky refused */
};

/* A decoded manifest. Owns its arrays; free with gf_manifest_free. */
struct gf_manifest {
    int schema;
    char project[37];
    char node[37];            /* "" when not rendered per node */
    char name[GF_MANIFEST_NAME_MAX + 1];
    uint64_t version;         /* >= 1 */
    int64_t created_us;       /* µs since the epoch */
    int64_t expires_us;
    char target_selector[1025]; /* "" when absent */
    char target_arch[8][32];
    size_t narch;
    struct gf_manifest_file *files;
    size_t nfiles;
    char actions[GF_MANIFEST_MAX_ACTIONS][GF_MANIFEST_ACTION_MAX + 1];
    size_t nactions;
    char health_check[GF_MANIFEST_ACTION_MAX + 1]; /* "" when absent */
    int health_timeout_s;     /* 1..3600 */
    uint64_t total_size;      /* sum of files[].size */
    char sha256[65];          /* SHA-256 of the exact manifest bytes */
};

/* Decode and check the exact bytes data[0..len). On error *reason says why and diag (may be
 * NULL) names the member ("/files/2/path"). GF_ERR_PARSE (malformed), GF_ERR_INVAL (any
 * other reason), GF_ERR_TOOBIG, GF_ERR_NOMEM. m is zeroed first; free it in every case. */
enum gf_err gf_manifest_decode(const char *data, size_t len, struct gf_manifest *m,
                               enum gf_reject *reason, struct gf_diag *diag);
void gf_manifest_free(struct gf_manifest *m);

/* 1 if path is a canonical relative bundle path (the checks gf_manifest_decode applies). */
int gf_manifest_path_ok(const char *path);
/* 1 if name is a valid action or health-check name. */
int gf_manifest_action_ok(const char *name);
/* 1 if name is a valid bundle name. */
int gf_manifest_name_ok(const char *name);

/* Build the canonical bytes of m (fixed member order, compact, files in the given order;
 * node and target and health_check omitted when empty). Caller frees *out (gf_free).
 * gf_manifest_decode of the result yields m again. GF_ERR_INVAL if m breaks a rule. */
enum gf_err gf_manifest_encode(const struct gf_manifest *m, char **out, size_t *outlen);

#endif
