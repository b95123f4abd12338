/* Well-formedness pre-scan of the directory CBOR before libcbor builds a tree.
 *
 * libcbor 0.8 allocates with malloc (no per-context hook) and preallocates
 * definite arrays and maps from their declared counts. Scanning the item heads
 * first lets us refuse, with an exact offset, anything whose counts cannot be
 * backed by the bytes that remain, indefinite lengths (the spec forbids them),
 * deep nesting (TCODEC_E_LIMIT) and trailing bytes, so that cbor_load's allocation stays
 * proportional to the (already size-limited) directory. */
#include <cbor.h>

#include "tc_reader.h"

#define TC_CBOR_MAX_DEPTH 16

typedef struct tc_scan {
  uint64_t pending[TC_CBOR_MAX_DEPTH + 1]; /* items still expected per open container */
  int depth;
  int bad;           /* indefinite-length item or break */
  uint64_t declared; /* items announced by the last head (array/map) */
  int is_container;
  int is_tag;
} tc_scan;

static void tc_scan_flag(void *ctx) { ((tc_scan *)ctx)->bad = 1; }

/* A tag is a prefix of the item that follows: it fills no slot of its own. The
 * schema has no tags, but ignored values may carry them. */
static void tc_scan_tag(void *ctx, uint64_t v) {
  (void)v;
  ((tc_scan *)ctx)->is_tag = 1;
}

static void tc_scan_array(void *ctx, size_t n) {
  tc_scan *s = ctx;
  s->declared = n;
  s->is_container = 1;
}

static void tc_scan_map(void *ctx, size_t n) {
  tc_scan *s = ctx;
  /* A map of n pairs holds 2n items; n is at most SIZE_MAX so this can overflow:
   * saturate, the plausibility check below then refuses it. */
  s->declared = n > UINT64_MAX / 2 ? UINT64_MAX : (uint64_t)n * 2;
  s->is_container = 1;
}

static struct cbor_callbacks tc_scan_callbacks(void) {
  struct cbor_callbacks cb = cbor_empty_callbacks;
  cb.byte_string_start = tc_scan_flag; /* indefinite byte string */
  cb.string_start = tc_scan_flag;      /* indefinite text string */
  cb.indef_array_start = tc_scan_flag;
  cb.indef_map_start = tc_scan_flag;
  cb.indef_break = tc_scan_flag;
  cb.tag = tc_scan_tag;
  cb.array_start = tc_scan_array;
  cb.map_start = tc_scan_map;
  return cb;
}

/* One item has been read at the current depth: close finished containers. */
static void tc_scan_consume(tc_scan *s) {
  while (s->depth > 0) {
    s->pending[s->depth]--;
    if (s->pending[s->depth] != 0) return;
    s->depth--;
  }
}

int tc_cbor_prescan(const uint8_t *src, size_t src_size, size_t *bad_pos) {
  struct cbor_callbacks cb = tc_scan_callbacks();
  tc_scan s = {{0}, 0, 0, 0, 0, 0};
  size_t pos = 0;
  int complete = 0; /* the top-level item has been read entirely */
  while (pos < src_size && !complete) {
    s.is_container = 0;
    s.is_tag = 0;
    struct cbor_decoder_result res = cbor_stream_decode(src + pos, src_size - pos, &cb, &s);
    *bad_pos = pos;
    if (res.status != CBOR_DECODER_FINISHED || s.bad) return TCODEC_E_DIR_CBOR;
    pos += res.read;
    if (s.is_tag) continue;
    if (s.is_container && s.declared > 0) {
      /* every item takes at least one byte */
      if (s.declared > src_size - pos) return TCODEC_E_DIR_CBOR;
      if (s.depth >= TC_CBOR_MAX_DEPTH) return TCODEC_E_LIMIT;
      s.depth++;
      s.pending[s.depth] = s.declared;
      continue;
    }
    tc_scan_consume(&s);
    complete = s.depth == 0;
  }
  *bad_pos = pos;
  return complete && pos == src_size ? TCODEC_OK : TCODEC_E_DIR_CBOR;
}
