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
 * Seeds: the .tc files in spec/vectors/valid and spec/vectors/invalid and files written by the library
 * (scripts/make-fuzz-corpus.sh).
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)fz_open_and_exercise(data, size);
  return 0;
}
