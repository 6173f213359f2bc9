/* SPDX-License-Identifier: Apache-2.0
 *
 * replay.c - corpus replayer for compilers without libFuzzer: runs every regular file of the
 * directories (or the files) named on the command line through LLVMFuzzerTestOneInput once.
 * A crash, a sanitizer report or an abort in the target fails the CTest case; an empty corpus
 * fails too, so a wrong path cannot pass silently.
 */
#include "fuzz.h"

#include "buf.h"
#include "file.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_INPUT_MAX (1024u * 1024u)

static int run_file(const char *path)
{
    struct gf_buf b;
    enum gf_err err;

    gf_buf_init(&b, REPLAY_INPUT_MAX);
    err = gf_file_read(path, &b);
    if (err != GF_OK) {
        fprintf(stderr, "replay: %s: %s\n", path, gf_err_str(err));
        gf_buf_free(&b);
        return -1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)(b.data != NULL ? b.data : ""), b.len);
    gf_buf_free(&b);
    return 0;
}

static int run_dir(const char *dir, long *count)
{
    char path[4096];
    struct dirent *de;
    struct stat st;
    DIR *d = opendir(dir);
    int rc = 0;

    if (d == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", dir);
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' ||
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        if (run_file(path) != 0) {
            rc = -1;
        }
        (*count)++;
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    long count = 0;
    int rc = 0;
    struct stat st;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            rc |= run_dir(argv[i], &count);
        } else {
            rc |= run_file(argv[i]);
            count++;
        }
    }
    printf("replay: %ld inputs\n", count);
    return rc == 0 && count > 0 ? 0 : 1;
}
