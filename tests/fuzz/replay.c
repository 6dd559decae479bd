/*
 * A plain main() for the fuzz targets: feeds every file named on the command
 * line, or found in a directory named there, to LLVMFuzzerTestOneInput once,
 * so ctest replays the seed corpus without libFuzzer (gcc builds too). Fails
 * when an argument cannot be read or no input was found.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_FILE_MAX (1024 * 1024) /* Bytes read per input, at most. */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs one file through the target; 0 on success, 1 when unreadable. */
static int replay_file(const char *path, uint8_t *buf)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    size_t n = fread(buf, 1, REPLAY_FILE_MAX, f);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return 1;
    }
    /* Copy to an exact-size heap block so ASan sees reads past the end. */
    uint8_t *exact = malloc(n > 0 ? n : 1);
    if (exact == NULL) {
        return 1;
    }
    memcpy(exact, buf, n);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

/* Runs every regular file of dir; adds to *count. */
static int replay_dir(const char *dir, uint8_t *buf, int *count)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "replay: cannot open directory %s\n", dir);
        return 1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        rc = replay_file(path, buf);
        *count += rc == 0;
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    uint8_t *buf = malloc(REPLAY_FILE_MAX);
    int count = 0;
    int rc = buf == NULL;
    for (int i = 1; rc == 0 && i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            rc = replay_dir(argv[i], buf, &count);
        } else {
            rc = replay_file(argv[i], buf);
            count += rc == 0;
        }
    }
    free(buf);
    if (rc == 0 && count == 0) {
        fprintf(stderr, "replay: no inputs\n");
        rc = 1;
    }
    if (rc == 0) {
        printf("replay: %d inputs ok\n", count);
    }
    return rc;
}
