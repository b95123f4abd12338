/* Files for the tools: whole-file reads with a size limit, and outputs that are
 * written to a temporary file in the destination folder (mkstemp) and renamed
 * only on success. Every temporary file is registered: an error path, exit()
 * or SIGINT/SIGTERM/SIGHUP/SIGPIPE removes it (the signal handler unlinks the
 * registered files, then re-raises the signal with its default action), so a
 * failed or interrupted run leaves nothing behind. */
#ifndef TT_IO_H
#define TT_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Install the signal handlers and the exit hook; call once at start-up. */
void tt_cleanup_install(void);

/* Register / unregister a path to remove on failure (files: unlink; folders made
 * by the tool: rmdir). Returns 0, or -1 when out of memory. */
int tt_cleanup_add(const char *path, int is_dir);
void tt_cleanup_forget(const char *path);
/* Remove every registered path now (used before exiting with an error). */
void tt_cleanup_run(void);

/* Read all of `path` ("-" = stdin) into malloc'd memory (*data is never NULL on
 * success, even for an empty file). Refuses more than `max` bytes. Prints the
 * error ("PROG: FILE: reason") and returns TT_EXIT_ERROR, or 0. */
int tt_read_file(const char *path, const char *shown, uint64_t max, uint8_t **data,
                 size_t *size);

/* 1 if path names an existing file system object (symlinks not followed). */
int tt_exists(const char *path);
/* 1 if path is a folder. */
int tt_is_dir(const char *path);

/* An output being written. */
typedef struct tt_out {
  char *final;       /* destination (NULL: stdout) */
  char *tmp;         /* temporary file next to it */
  FILE *f;           /* temp file or stdout */
  int to_stdout;
  int buffered;      /* stdout: collect in memory, written by tt_out_commit */
  uint8_t *mem;      /* buffered bytes */
  size_t mem_size, mem_cap;
  int failed;        /* a write failed (errno kept in err) */
  int err;
  uint64_t written;
} tt_out;

/* Start an output. `path` "-" is stdout: refused when stdout is a terminal
 * unless `force` (binary data, as zstd does); `buffer_stdout` keeps the bytes in
 * memory until tt_out_commit. Otherwise refuses an existing `path` unless
 * `force`, and opens a temp file ".NAME.XXXXXX" in its folder. Errors are
 * printed; returns 0 or TT_EXIT_ERROR. */
int tt_out_open(tt_out *o, const char *path, int force, int buffer_stdout);
/* tcodec_write_fn over a tt_out. */
int tt_out_write(void *user, const void *src, size_t n);
/* Flush and close the temp file (it stays on disk, e.g. for re-reading). */
int tt_out_close_tmp(tt_out *o);
/* Make the output final: rename the temp file over the destination (without
 * `force`, never replace a file that appeared meanwhile), or write the buffered
 * bytes to stdout. Prints errors; returns 0 or TT_EXIT_ERROR. */
int tt_out_commit(tt_out *o, int force);
/* Drop the output: close and remove the temp file. Safe after commit (no-op). */
void tt_out_abort(tt_out *o);
/* Name to show in messages: the destination, or "-" for stdout. */
const char *tt_out_name(const tt_out *o);

/* malloc'd strings (NULL when out of memory): path + suffix; path without
 * `suffix` (NULL if path does not end with it or would become empty);
 * dir + "/" + name; the folder part of path ("." if none); the last component. */
char *tt_path_add(const char *path, const char *suffix);
char *tt_path_strip(const char *path, const char *suffix);
char *tt_path_join(const char *dir, const char *name);
char *tt_path_dir(const char *path);
const char *tt_path_base(const char *path);

#endif
