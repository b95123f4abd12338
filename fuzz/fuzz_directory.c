/*
 * fuzz_directory: the CBOR directory, wrapped in a valid container.
 *
 * The fuzzer mutates only the directory; the harness builds the header, the
 * trailer and both checksums around it, so every input reaches the CBOR pre-scan
 * (tc_cbor_prescan), libcbor and the schema parser (tc_dir_parse) instead of
 * stopping at a checksum. If the file opens, everything is decoded as in
 * fuzz_container (fuzz_common.h).
 *
 * Input:
 *   - default: the whole input is the directory; the payload area is 4096 zero
 *     bytes (streams of zeros with the right xxh3 decode).
 *   - first byte 0xFF (a CBOR "break", never a valid directory): bytes 1..4 are the
 *     directory length L (LE, clamped to what is left), then L directory bytes, then
 *     the payload area as it is. scripts/make-fuzz-corpus.sh builds such seeds from
 *     real files (payload = bytes [64, dir_offset)), so stream checksums match and
 *     mutations of the directory reach the decoders.
 */
#include "common/tc_internal.h"
#include "fuzz_common.h"

#define FZ_ZERO_PAYLOAD 4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *dir = data, *payload = NULL;
  size_t dir_size = size, payload_size = FZ_ZERO_PAYLOAD;
  if (size >= 5 && data[0] == 0xFF) {
    size_t len = tc_le32(data + 1);
    if (len > size - 5) len = size - 5;
    dir = data + 5;
    dir_size = len;
    payload = data + 5 + len;
    payload_size = size - 5 - len;
  }
  if (dir_size > FZ_LIMIT_DIR) return 0;

  size_t dir_offset = TC_HEADER_SIZE + payload_size;
  size_t file_size = dir_offset + dir_size + TC_TRAILER_SIZE;
  uint8_t *f = fz_malloc(file_size);
  memset(f, 0, dir_offset);
  memcpy(f, tc_magic, 8);
  tc_put16(f + 8, TCODEC_FORMAT_MAJOR);
  tc_put16(f + 10, TCODEC_FORMAT_MINOR);
  tc_put64(f + 16, tc_xxh3(f, 16));
  if (payload != NULL && payload_size > 0) memcpy(f + TC_HEADER_SIZE, payload, payload_size);
  if (dir_size > 0) memcpy(f + dir_offset, dir, dir_size);
  uint8_t *t = f + dir_offset + dir_size;
  memset(t, 0, TC_TRAILER_SIZE);
  tc_put64(t, dir_offset);
  tc_put64(t + 8, dir_size);
  tc_put64(t + 16, tc_xxh3(f + dir_offset, dir_size));
  tc_put16(t + 24, TCODEC_FORMAT_MAJOR);
  tc_put16(t + 26, TCODEC_FORMAT_MINOR);
  tc_put64(t + 32, tc_xxh3(t, 32));
  memcpy(t + 40, tc_end_magic, 8);

  uint64_t err_off = 0;
  int rc = fz_open_and_exercise(f, file_size, &err_off);
  /* The frame is valid, so a failure must come from the directory or later. */
  FZ_CHECK(rc != TCODEC_E_MAGIC && rc != TCODEC_E_HEADER && rc != TCODEC_E_TRAILER &&
           rc != TCODEC_E_TRUNCATED && rc != TCODEC_E_DIR_CHECKSUM && rc != TCODEC_E_VERSION &&
           rc != TCODEC_E_RESERVED);
  /* Directory errors (spec steps 13-20) are reported at D = dir_offset; only the
   * stream checks S1-S4 report a stream's `off`. */
  switch (rc) {
    case TCODEC_E_DIR_CBOR:
    case TCODEC_E_DIR_SCHEMA:
    case TCODEC_E_UNSUPPORTED_FEATURE:
    case TCODEC_E_UNSUPPORTED_SECTION:
    case TCODEC_E_UNSUPPORTED_DTYPE:
    case TCODEC_E_LIMIT:
    case TCODEC_E_SHAPE:
    case TCODEC_E_PARAMS:
    case TCODEC_E_OVERFLOW:
    case TCODEC_E_DUPLICATE: FZ_CHECK(err_off == dir_offset); break;
    default: break;
  }
  free(f);
  return 0;
}
