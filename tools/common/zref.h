/* The zstd reference of tcpack's report: the size `zstd -LEVEL` gives for the
 * input files (each file its own frame with a checksum, as the zstd tool
 * writes it), computed with libzstd in the same run. */
#ifndef TT_ZREF_H
#define TT_ZREF_H

#include <stddef.h>
#include <stdint.h>

typedef struct tt_zref {
  void *cctx;             /* ZSTD_CCtx */
  int level;
  uint64_t in_total;      /* for the progress bar */
  uint64_t in_done;
  uint64_t out_bytes;
  int failed;
} tt_zref;

void tt_zref_init(tt_zref *z, int level, uint64_t in_total);
/* Compress one input file's bytes (a tt_bytes_fn). */
void tt_zref_add(void *user, const uint8_t *p, size_t n);
/* Compressed size, 0 when it failed. Releases the context. */
uint64_t tt_zref_finish(tt_zref *z);

#endif
