/* Element conversions for the tools: the public API quantizes float32, so f16,
 * bf16 and f64 tensors are widened (or, for f64, rounded) to f32 here; metrics
 * read any dtype as double. Input bytes are little-endian and may be unaligned. */
#ifndef TT_FCONV_H
#define TT_FCONV_H

#include <stddef.h>
#include <stdint.h>

/* 1 for f64, f32, f16, bf16, f8 (e4m3, e5m2). */
int tt_dtype_is_float(int dtype);
/* 1 for the dtypes tcpack can quantize: f64, f32, f16, bf16. */
int tt_dtype_quantizable(int dtype);

/* n elements of `dtype` at src into dst. Unknown dtypes give zeros. */
void tt_to_f32(int dtype, const uint8_t *src, size_t n, float *dst);
void tt_to_f64(int dtype, const uint8_t *src, size_t n, double *dst);

/* Number of elements of src (n elements) that are NaN or infinite. */
uint64_t tt_count_nonfinite(int dtype, const uint8_t *src, size_t n);

#endif
