/* Writer context internals (encode side). */
#ifndef TC_WRITER_H
#define TC_WRITER_H

#include "tc_enc.h"

enum tc_wstate { TC_W_NEW = 0, TC_W_BEGUN = 1, TC_W_DONE = 2, TC_W_FAILED = 3 };

/* Growable byte buffer from a tc_mem. */
typedef struct tc_wbuf {
  tc_mem *mem;
  uint8_t *p;
  size_t len, cap;
  int failed; /* allocation failed at some point */
} tc_wbuf;

struct tcodec_writer {
  tc_mem mem;
  int coder, zstd_level, byte_group, detect;
  uint64_t align;
  int state;
  tcodec_write_fn fn;
  void *user;
  uint64_t pos; /* bytes emitted so far */

  tc_tensor *tensors;
  size_t ntensors, cap_tensors;
  char **name_set; /* open-addressing hash set of tensor names */
  size_t name_cap;
  tc_kv *meta;
  size_t nmeta, cap_meta;
  tc_section *sections;
  size_t nsections, cap_sections;

  void *zctx; /* ZSTD_CCtx, created on first use */
  char err[512];
};

/* Serialise the directory (deterministic key order) into b. */
int tc_dir_write(const tcodec_writer *w, tc_wbuf *b);

void tc_wbuf_put(tc_wbuf *b, const void *src, size_t n);

#endif
