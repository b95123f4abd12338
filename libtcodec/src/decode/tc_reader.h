/* Reader context internals (decode side). */
#ifndef TC_READER_H
#define TC_READER_H

#include <stdio.h>

#include "../common/tc_internal.h"

#define TC_NLIMITS 7

typedef struct tc_name_ix {
  const char *name;
  size_t index;
} tc_name_ix;

enum tc_rstate { TC_R_NEW = 0, TC_R_OPEN = 1, TC_R_FAILED = 2 };

struct tcodec_reader {
  tc_mem mem;
  uint64_t limits[TC_NLIMITS];
  int state;

  /* source: memory or file */
  const uint8_t *buf;
  FILE *fp;
  char *path;
  uint64_t file_size;

  /* container */
  unsigned major, minor;
  uint64_t dir_offset, dir_size, align, dir_checksum_;
  tc_tensor *tensors;
  size_t ntensors;
  struct tc_name_ix *by_name; /* tensor names sorted, for lookup */
  tc_kv *meta;
  size_t nmeta;
  uint64_t meta_bytes;
  tc_section *sections;
  size_t nsections;

  /* last error */
  uint64_t err_off;
  char err_msg[512];
};

/* Record an error: message "<file>: offset N: <reason>". Returns code. */
int tc_rfail(tcodec_reader *r, int code, uint64_t off, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Read `n` bytes at file offset `off` into dst (bounds checked by caller). */
int tc_rread(tcodec_reader *r, uint64_t off, void *dst, size_t n);

/* Parse and validate the directory bytes (already checksummed). */
int tc_dir_parse(tcodec_reader *r, const uint8_t *dir, size_t dir_size);

/* Well-formedness pre-scan of the CBOR: definite lengths only, declared counts
 * plausible for the bytes left, bounded nesting, one item with no trailing bytes.
 * On failure *bad_pos is the offset in `src`. */
int tc_cbor_prescan(const uint8_t *src, size_t src_size, size_t *bad_pos);

/* Fetch one stream's decoded bytes: verifies range, checksum and entropy stage.
 * *out points either into the memory source (zero copy, *owned = NULL) or to a
 * block allocated from r->mem returned in *owned (free with tc_free). */
int tc_stream_fetch(tcodec_reader *r, const tc_stream *s, const char *what,
                    const uint8_t **out, void **owned);

void tc_reader_clear(tcodec_reader *r);

#endif
