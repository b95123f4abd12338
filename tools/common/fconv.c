/* Element conversions (see fconv.h). */
#include "fconv.h"

#include <math.h>
#include <string.h>

#include <tcodec/tcodec.h>

static uint64_t le(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;) v = v << 8 | p[i];
  return v;
}

static int host_le(void) {
  uint16_t one = 1;
  uint8_t b;
  memcpy(&b, &one, 1);
  return b == 1;
}

static float f32_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static double f64_bits(uint64_t u) {
  double d;
  memcpy(&d, &u, 8);
  return d;
}

/* A small float with `ebits` exponent bits and `mbits` mantissa bits (sign on
 * top), exact as double. `fn_nan`: e4m3fn style (no infinities; all-ones is NaN). */
static double small_float(uint32_t v, int ebits, int mbits, int fn_nan) {
  uint32_t sign = v >> (ebits + mbits), e = (v >> mbits) & ((1u << ebits) - 1);
  uint32_t m = v & ((1u << mbits) - 1);
  int bias = (1 << (ebits - 1)) - 1;
  double r;
  if (fn_nan && e == (1u << ebits) - 1 && m == (1u << mbits) - 1)
    r = NAN;
  else if (!fn_nan && e == (1u << ebits) - 1)
    r = m ? NAN : INFINITY;
  else if (e == 0)
    r = ldexp((double)m, 1 - bias - mbits);
  else
    r = ldexp((double)(m | 1u << mbits), (int)e - bias - mbits);
  return sign ? -r : r;
}

static double load(int dtype, const uint8_t *p) {
  switch ((tcodec_dtype)dtype) {
    case TCODEC_F64: return f64_bits(le(p, 8));
    case TCODEC_F32: return f32_bits((uint32_t)le(p, 4));
    case TCODEC_F16: return small_float((uint32_t)le(p, 2), 5, 10, 0);
    case TCODEC_BF16: return f32_bits((uint32_t)le(p, 2) << 16);
    case TCODEC_F8_E4M3: return small_float(p[0], 4, 3, 1);
    case TCODEC_F8_E5M2: return small_float(p[0], 5, 2, 0);
    case TCODEC_I8: return (int8_t)p[0];
    case TCODEC_I16: return (int16_t)(uint16_t)le(p, 2);
    case TCODEC_I32: return (int32_t)(uint32_t)le(p, 4);
    case TCODEC_I64: return (double)(int64_t)le(p, 8);
    case TCODEC_U8: return p[0];
    case TCODEC_U16: return (double)le(p, 2);
    case TCODEC_U32: return (double)le(p, 4);
    case TCODEC_U64: return (double)le(p, 8);
    case TCODEC_BOOL: return p[0] != 0;
    case TCODEC_DTYPE_INVALID:
    case TCODEC_DTYPE_COUNT_: break;
  }
  return 0.0;
}

int tt_dtype_is_float(int dtype) {
  return dtype == TCODEC_F64 || dtype == TCODEC_F32 || dtype == TCODEC_F16 ||
         dtype == TCODEC_BF16 || dtype == TCODEC_F8_E4M3 || dtype == TCODEC_F8_E5M2;
}

int tt_dtype_quantizable(int dtype) {
  return dtype == TCODEC_F64 || dtype == TCODEC_F32 || dtype == TCODEC_F16 || dtype == TCODEC_BF16;
}

void tt_to_f64(int dtype, const uint8_t *src, size_t n, double *dst) {
  size_t es = tcodec_dtype_size(dtype);
  if (es == 0) {
    memset(dst, 0, n * sizeof(*dst));
    return;
  }
  for (size_t i = 0; i < n; i++) dst[i] = load(dtype, src + i * es);
}

void tt_to_f32(int dtype, const uint8_t *src, size_t n, float *dst) {
  size_t es = tcodec_dtype_size(dtype);
  if (dtype == TCODEC_F32 && host_le()) {
    memcpy(dst, src, n * 4);
    return;
  }
  if (es == 0) {
    memset(dst, 0, n * sizeof(*dst));
    return;
  }
  for (size_t i = 0; i < n; i++) dst[i] = (float)load(dtype, src + i * es);
}

uint64_t tt_count_nonfinite(int dtype, const uint8_t *src, size_t n) {
  size_t es = tcodec_dtype_size(dtype);
  uint64_t bad = 0;
  if (!tt_dtype_is_float(dtype) || es == 0) return 0;
  for (size_t i = 0; i < n; i++) bad += !isfinite(load(dtype, src + i * es));
  return bad;
}
