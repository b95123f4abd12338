/* Helpers shared by the Criterion tests: a deterministic RNG, an in-memory
 * sink for the writer, writer/reader shortcuts that fail the current test on
 * error, byte comparison with a useful message, and file access relative to
 * the source tree. Helpers named tu_* that "assert" call cr_assert: use them
 * from inside a Test() only. */
#ifndef TCODEC_TEST_TESTUTIL_H
#define TCODEC_TEST_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "tcodec/tcodec.h"

#if defined(__GNUC__)
#define TU_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TU_PRINTF(f, a)
#endif

/* ---- RNG: splitmix64, same sequence on every platform ---- */
typedef struct tu_rng {
  uint64_t s;
} tu_rng;

void tu_rng_seed(tu_rng *r, uint64_t seed);
uint64_t tu_rng_next(tu_rng *r);
uint64_t tu_rng_below(tu_rng *r, uint64_t n); /* uniform in [0, n); 0 if n == 0 */
double tu_rng_unit(tu_rng *r);                /* uniform in [0, 1) */
double tu_rng_normal(tu_rng *r);              /* standard normal (Box-Muller) */
void tu_rng_bytes(tu_rng *r, void *dst, size_t n);

/* ---- growable memory buffer, usable as a tcodec_write_fn sink ---- */
typedef struct tu_buf {
  uint8_t *data;
  size_t size, cap;
  size_t fail_at; /* a write that would go past this many bytes fails (0: never) */
} tu_buf;

int tu_buf_write(void *user, const void *src, size_t src_size); /* tcodec_write_fn */
void tu_buf_free(tu_buf *b);

/* ---- writer / reader shortcuts (cr_assert on failure) ---- */

/* Create a writer and begin a container into `sink` (which is reset). */
tcodec_writer *tu_writer_begin(tu_buf *sink);
void tu_writer_param(tcodec_writer *w, int param, int value);
/* Finish the container and free the writer. */
void tu_writer_finish(tcodec_writer *w);

tcodec_tensor_desc tu_desc(const char *name, int dtype, unsigned ndim, const uint64_t *shape);
uint64_t tu_nelem(unsigned ndim, const uint64_t *shape);

/* Open a reader over `b` (which must outlive the reader). */
tcodec_reader *tu_reader_open(const tu_buf *b);
size_t tu_reader_count(const tcodec_reader *r);
tcodec_tensor_info tu_info(const tcodec_reader *r, size_t index);
size_t tu_find(const tcodec_reader *r, const char *name);
/* Decode tensor `index` to `output` into a malloc'd buffer (never NULL); size in *size. */
void *tu_decode(tcodec_reader *r, size_t index, int output, uint64_t *size);
/* One stream after the entropy stage, malloc'd; NULL (and *size 0) if absent. */
void *tu_stream(tcodec_reader *r, size_t index, int role, uint64_t *size);

/* ---- comparisons ---- */

/* Index of the first differing byte, or SIZE_MAX if equal. */
size_t tu_first_diff(const void *a, const void *b, size_t n);
/* cr_assert that got[0..n) == want[0..n); message names the context, the first
 * differing byte and the bytes around it. */
void tu_assert_mem_eq(const void *got, const void *want, size_t n, const char *fmt, ...)
    TU_PRINTF(4, 5);
/* Same for f32 arrays, bit for bit; the message shows the element as float and hex. */
void tu_assert_f32_eq(const float *got, const float *want, size_t n, const char *fmt, ...)
    TU_PRINTF(4, 5);

/* ---- bit patterns, little-endian ---- */
uint32_t tu_f32_bits(float f);
float tu_f32_from_bits(uint32_t u);
uint64_t tu_f64_bits(double d);
double tu_f64_from_bits(uint64_t u);
void tu_put16(uint8_t *p, uint16_t v);
void tu_put32(uint8_t *p, uint32_t v);
void tu_put64(uint8_t *p, uint64_t v);
uint16_t tu_get16(const uint8_t *p);
uint32_t tu_get32(const uint8_t *p);
uint64_t tu_get64(const uint8_t *p);

/* ---- files ---- */

/* $TCODEC_SOURCE_DIR/rel (or the source dir compiled in); malloc'd. */
char *tu_source_path(const char *rel);
/* Whole file into a malloc'd buffer; NULL if it cannot be read. */
void *tu_read_file(const char *path, size_t *size);

#endif /* TCODEC_TEST_TESTUTIL_H */
