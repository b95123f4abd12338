/*
 * fuzz_dec_raw: the raw decoder (tc_encoding_find(TCODEC_ENC_RAW)) driven directly:
 * layout, out_size and decode on a tensor and streams taken from the input,
 * checked against the spec's lengths and a reference decoder (fuzz_dec.h
 * documents the input format and the checks).
 */
#include "fuzz_dec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fz_dec_run(TCODEC_ENC_RAW, data, size);
}
