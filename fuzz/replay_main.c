/*
 * A plain main() for fuzz targets (as lz4's ossfuzz/standaloneengine.c): runs
 * LLVMFuzzerTestOneInput over the files named on the command line, so a build
 * without libFuzzer replays the seed corpus and every saved crash as a test.
 *
 *   replay_NAME PATH...
 *
 * A directory stands for its regular files in sorted name order (not recursive).
 * Each input goes to the target in a buffer of exactly its size, so sanitizers
 * see any read past the end.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Reads all of `path` into a fresh malloc'd buffer of exactly its size. */
static int read_file(const char *path, uint8_t **out, size_t *out_size) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t cap = 0, size = 0;
  uint8_t *buf = NULL;
  int failed = 0;
  for (;;) {
    if (size == cap) {
      size_t ncap = cap ? cap * 2 : 4096;
      uint8_t *nbuf = realloc(buf, ncap);
      if (!nbuf) {
        failed = 1;
        break;
      }
      buf = nbuf;
      cap = ncap;
    }
    size_t want = cap - size;
    size_t n = fread(buf + size, 1, want, f);
    size += n;
    if (n < want) break; /* end of file or error */
  }
  if (ferror(f)) failed = 1;
  fclose(f);
  if (failed) {
    free(buf);
    return -1;
  }
  /* Exact-size copy; malloc(0) may return NULL, so empty input gets 1 byte. */
  uint8_t *exact = malloc(size ? size : 1);
  if (!exact) {
    free(buf);
    return -1;
  }
  if (size) memcpy(exact, buf, size);
  free(buf);
  *out = exact;
  *out_size = size;
  return 0;
}

static int run_file(const char *path, unsigned long *count) {
  uint8_t *data;
  size_t size;
  if (read_file(path, &data, &size) != 0) {
    fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
    return -1;
  }
  fprintf(stderr, "Running: %s (%zu bytes)\n", path, size);
  LLVMFuzzerTestOneInput(data, size);
  free(data);
  (*count)++;
  return 0;
}

static int is_regular(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int run_dir(const char *dir, unsigned long *count) {
  struct dirent **names;
  int n = scandir(dir, &names, NULL, alphasort);
  if (n < 0) {
    fprintf(stderr, "replay: cannot list %s: %s\n", dir, strerror(errno));
    return -1;
  }
  int rc = 0;
  for (int i = 0; i < n; i++) {
    size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;
    char *path = malloc(len);
    if (!path) {
      rc = -1;
    } else {
      snprintf(path, len, "%s/%s", dir, names[i]->d_name);
      if (is_regular(path) && run_file(path, count) != 0) rc = -1;
      free(path);
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  unsigned long count = 0;
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
      rc = 1;
    } else if (S_ISDIR(st.st_mode)) {
      if (run_dir(argv[i], &count) != 0) rc = 1;
    } else if (run_file(argv[i], &count) != 0) {
      rc = 1;
    }
  }
  printf("replayed %lu inputs\n", count);
  return rc;
}
