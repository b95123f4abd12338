/*
 * Fuzz targets: each fuzz/fuzz_NAME.c includes this header and defines
 * LLVMFuzzerTestOneInput. The build links it either with libFuzzer (fuzz_NAME,
 * clang, TCODEC_BUILD_FUZZERS=ON) or with replay_main.c (replay_NAME, every
 * build with tests), which ctest runs over fuzz/corpus/NAME/.
 */
#ifndef TCODEC_FUZZ_H
#define TCODEC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Runs the target on one input; must return 0. Crashes, sanitizer reports and
 * failed asserts are the findings (asserts stay on: fuzz builds undefine NDEBUG). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* TCODEC_FUZZ_H */
