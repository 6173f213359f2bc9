/* SPDX-License-Identifier: Apache-2.0
 *
 * upload.h - turning a bundle upload (multipart/form-data: one "metadata" JSON part and one
 * "file" part per file, its filename the path inside the bundle; docs/bundle-format.md)
 * into a checked plan: the manifest fields, the files with their bytes, modes and template
 * flags, the value table and the signing mode. No database work here; h_bundles.c stores
 * the plan. Every refusal names the part or the JSON pointer it is about.
 * Thread-safe (no shared state).
 */
#ifndef GF_SERVER_UPLOAD_H
#define GF_SERVER_UPLOAD_H

#include "err.h"
#include "json.h"
#include "manifest.h"

#include <stddef.h>

struct gf_upload_file {
    const char *data; /* into the request body */
    size_t len;
    int is_template;
};

/* A checked upload. m.files[i] matches files[i]; the caller fills project, version and the
 * times. Free with gf_upload_free. */
struct gf_upload {
    struct gf_manifest m;
    struct gf_upload_file *files;
    json_t *meta;       /* the metadata object (owned) */
    json_t *target;     /* {"selector", "selector_json", "arch"} or NULL (owned) */
    json_t *parameters; /* {"default": {...}, "nodes": {...}} or NULL (borrowed from meta) */
    int offline;        /* "signing": "offline" */
    int templated;
    int64_t expires_us; /* 0: default */
    const char *description;
};

/* Parse and check an upload. GF_ERR_MEDIATYPE, GF_ERR_PARSE, GF_ERR_INVAL, GF_ERR_TOOBIG with
 * diag. u is zeroed first; free it in every case. */
enum gf_err gf_upload_parse(const char *content_type, const char *body, size_t len,
                            struct gf_upload *u, struct gf_diag *diag);
void gf_upload_free(struct gf_upload *u);

/* Mode text "0644" -> bits; -1 when not 3-4 octal digits within 0777. */
int gf_upload_mode(const char *text);

#endif
