/*
 * fuzz_container: the whole .tc container from memory.
 *
 * The input is a file. It is opened with conservative limits (1<<22 elements per
 * tensor, 256 MiB held, 1 MiB directory); if that succeeds every public query
 * and decode runs on it (fuzz_common.h: exact-size output buffers, one byte
 * short must give TCODEC_E_DST_SIZE, decoding twice gives the same bytes, find
 * by name gives the same index, verify agrees with the decodes, nothing stays
 * allocated). Then the same input runs again with one allocation refused.
 *
 * The header and trailer checks (spec "Reader validation order", steps 1-12) are
 * recomputed here: when one fails, the reader must report exactly that error at
 * exactly that offset; when all pass, it must not report a frame error.
 *
 * Seeds: the .tc files in spec/vectors/valid and spec/vectors/invalid and files
 * written by the library (scripts/make-fuzz-corpus.sh).
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "fuzz_common.h"

static uint64_t le(const uint8_t *p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = n; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

/* Steps 1-12; 0 if the frame is valid, else the error and *off. */
static int frame_check(const uint8_t *f, uint64_t F, uint64_t *off) {
  static const uint8_t magic[8] = {0x89, 'T', 'C', 'M', 0x0D, 0x0A, 0x1A, 0x0A};
  static const uint8_t end_magic[8] = {0x0A, 0x1A, 0x0A, 0x0D, 'M', 'C', 'T', 0x89};
  if (F < 112) return *off = F, TCODEC_E_TRUNCATED;
  if (memcmp(f, magic, 8) != 0) return *off = 0, TCODEC_E_MAGIC;
  if (le(f + 16, 8) != XXH3_64bits(f, 16)) return *off = 16, TCODEC_E_HEADER;
  if (le(f + 8, 2) != 1) return *off = 8, TCODEC_E_VERSION;
  if (le(f + 12, 4) != 0) return *off = 12, TCODEC_E_RESERVED;
  uint64_t T = F - 48;
  const uint8_t *t = f + T;
  if (memcmp(t + 40, end_magic, 8) != 0) return *off = T + 40, TCODEC_E_TRAILER;
  if (le(t + 32, 8) != XXH3_64bits(t, 32)) return *off = T + 32, TCODEC_E_TRAILER;
  if (le(t + 24, 4) != le(f + 8, 4)) return *off = T + 24, TCODEC_E_TRAILER;
  if (le(t + 28, 4) != 0) return *off = T + 28, TCODEC_E_RESERVED;
  uint64_t D = le(t, 8), dir_size = le(t + 8, 8);
  if (D < 64 || D > T || dir_size != T - D) return *off = T, TCODEC_E_TRAILER;
  if (dir_size > FZ_LIMIT_DIR) return *off = T + 8, TCODEC_E_LIMIT;
  if (le(t + 16, 8) != XXH3_64bits(f + D, (size_t)dir_size)) return *off = D, TCODEC_E_DIR_CHECKSUM;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t want_off = 0, got_off = 0;
  int want = frame_check(data, size, &want_off);
  int rc = fz_open_and_exercise(data, size, &got_off);
  if (want != 0) {
    FZ_CHECK(rc == want && got_off == want_off);
  } else {
    FZ_CHECK(rc != TCODEC_E_TRUNCATED && rc != TCODEC_E_MAGIC && rc != TCODEC_E_HEADER &&
             rc != TCODEC_E_VERSION && rc != TCODEC_E_TRAILER && rc != TCODEC_E_DIR_CHECKSUM);
  }
  return 0;
}
