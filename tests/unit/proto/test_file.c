/* SPDX-License-Identifier: Apache-2.0
 *
 * test_file.c - atomic writes (mode, replacement, no temp file left) and capped reads.
 */
#include "file.h"
#include "gf_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
    char dir[] = "/tmp/gf_file_test_XXXXXX";
    char path[128], nested[160];
    struct gf_buf b;
    struct stat st;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/a.key", dir);
    CHECK(gf_file_write_atomic(path, "first", 5, 0600) == GF_OK);
    CHECK(gf_file_write_atomic(path, "second", 6, 0600) == GF_OK);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    gf_buf_init(&b, 100);
    CHECK(gf_file_read(path, &b) == GF_OK);
    CHECK_STR(b.data, "second");
    gf_buf_free(&b);
    gf_buf_init(&b, 3);
    CHECK(gf_file_read(path, &b) == GF_ERR_TOOBIG);
    gf_buf_free(&b);
    gf_buf_init(&b, 3);
    snprintf(nested, sizeof(nested), "%s/missing", dir);
    CHECK(gf_file_read(nested, &b) == GF_ERR_NOTFOUND);
    gf_buf_free(&b);
    snprintf(nested, sizeof(nested), "%s/x/y/z", dir);
    CHECK(gf_file_mkdirs(nested, 0700) == GF_OK && stat(nested, &st) == 0);
    CHECK(gf_file_write_atomic("/nonexistent-dir/f", "x", 1, 0600) == GF_ERR_IO);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 2 && rm -rf %s", dir, dir);
    CHECK(system(cmd) == 0); /* a.key and x only: no temp files left behind */
    return gf_test_summary("test_file");
}
