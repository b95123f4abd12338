/* Element formats: conversions between the float formats (f64, f32, f16, bf16,
 * f8 e4m3fn, f8 e5m2) and loads/stores of any dtype as f32.
 *
 * Every narrowing conversion goes through one routine that rounds the bits of
 * an f64 or f32 to a smaller binary format (round to nearest, ties to even).
 * Every float format widens to f64 exactly, so each conversion rounds exactly
 * once. NaN stays NaN (quieted, top payload bits kept); the sign is always kept.
 * Float conversions work on bit patterns: no libm, and the results do not change
 * when a caller has set flush-to-zero / denormals-are-zero (common in ML code). */
#include <string.h>

#include "tc_internal.h"

/* Little-endian stores written out byte by byte: compilers merge these into one
 * store, which they do not do for the loops of tc_put32/tc_put64 at -O2, and
 * these run once per element. */
static inline void tc_wr16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

static inline void tc_wr32(uint8_t *p, uint32_t v) {
  tc_wr16(p, v);
  tc_wr16(p + 2, v >> 16);
}

static inline void tc_wr64(uint8_t *p, uint64_t v) {
  tc_wr32(p, (uint32_t)v);
  tc_wr32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t tc_f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof(u));
  return u;
}

static float tc_bits_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof(f));
  return f;
}

static uint64_t tc_f64_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof(u));
  return u;
}

static double tc_bits_f64(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof(d));
  return d;
}

/* ---- narrowing: f64 -> small binary formats ---------------------------- */

/* A binary float format no wider than 32 bits. Codes are magnitudes
 * (exponent << mbits | mantissa) without the sign. */
typedef struct tc_minifmt {
  unsigned width;  /* total bits (sign included) */
  unsigned mbits;  /* stored mantissa bits */
  int bias;
  uint32_t maxfin; /* largest finite code */
  uint32_t ovf;    /* code for overflow and for infinity (e4m3fn: NaN, it has no infinity) */
  uint32_t qnan;   /* quiet NaN code (top mantissa bits of the input are or-ed in) */
} tc_minifmt;

static const tc_minifmt tc_fmt_f32 = {32, 23, 127, 0x7F7FFFFF, 0x7F800000, 0x7FC00000};
static const tc_minifmt tc_fmt_f16 = {16, 10, 15, 0x7BFF, 0x7C00, 0x7E00};
static const tc_minifmt tc_fmt_bf16 = {16, 7, 127, 0x7F7F, 0x7F80, 0x7FC0};
static const tc_minifmt tc_fmt_e5m2 = {8, 2, 15, 0x7B, 0x7C, 0x7E};
static const tc_minifmt tc_fmt_e4m3 = {8, 3, 7, 0x7E, 0x7F, 0x7F};

/* Magnitude code of a finite magnitude `a` rounded to nearest even. `a` holds the
 * bits (sign cleared) of a source format with smbits mantissa bits and exponent
 * bias sbias (f64: 52/1023, f32: 23/127). The code is monotonic in the value and
 * a rounding carry moves into the exponent naturally, so the result may exceed
 * the largest finite code: callers replace that with their overflow code. */
static inline uint64_t tc_round_code(uint64_t a, int smbits, int sbias, int mbits, int bias) {
  int e = (int)(a >> smbits);
  uint64_t sig = a & ((1ull << smbits) - 1);
  int te = e - sbias + bias; /* biased exponent in the target format */
  uint64_t base = 0;
  int sh;
  if (e != 0 && te >= 1) { /* normal in the target: keep the top mbits mantissa bits */
    base = (uint64_t)te << mbits;
    sh = smbits - mbits;
  } else { /* subnormal (or zero) in the target: scale the full significand */
    if (e != 0) sig |= 1ull << smbits;
    else te = 1 - sbias + bias;
    sh = smbits + 1 - mbits - te;
    if (sh > smbits + 1) return 0; /* below half the smallest subnormal */
  }
  uint64_t q = sig >> sh, rem = sig & ((1ull << sh) - 1), half = 1ull << (sh - 1);
  q += base;
  q += (rem > half) | ((rem == half) & (q & 1));
  return q;
}

/* sign and magnitude `a` of a source format (as for tc_round_code) to format f. */
static inline uint32_t tc_narrow(uint32_t sign, uint64_t a, int smbits, int sbias,
                                 const tc_minifmt *f) {
  uint64_t inf = (uint64_t)(2 * sbias + 1) << smbits; /* all-ones exponent */
  uint32_t s = sign << (f->width - 1);
  if (a > inf) {
    uint32_t mmask = (1u << f->mbits) - 1;
    return s | f->qnan | ((uint32_t)(a >> (smbits - (int)f->mbits)) & mmask);
  }
  if (a == inf) return s | f->ovf;
  uint64_t q = tc_round_code(a, smbits, sbias, (int)f->mbits, f->bias);
  return s | (q > f->maxfin ? f->ovf : (uint32_t)q);
}

static uint32_t tc_to_mini(double x, const tc_minifmt *f) {
  uint64_t b = tc_f64_bits(x);
  return tc_narrow((uint32_t)(b >> 63), b & 0x7FFFFFFFFFFFFFFFull, 52, 1023, f);
}

/* Straight from the f32 bits (same result as through f64, which is exact).
 * Inline so that each caller's constant format folds into the rounding. */
static inline uint32_t tc_to_mini32(float x, const tc_minifmt *f) {
  uint32_t b = tc_f32_bits(x);
  return tc_narrow(b >> 31, b & 0x7FFFFFFFu, 23, 127, f);
}

uint16_t tc_f32_to_f16(float f) { return (uint16_t)tc_to_mini32(f, &tc_fmt_f16); }
uint16_t tc_f32_to_bf16(float f) { return (uint16_t)tc_to_mini32(f, &tc_fmt_bf16); }

/* ---- widening: small formats -> f32 (always exact) ---------------------- */

float tc_f16_to_f32(uint16_t h) {
  uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 31u, m = h & 0x3FFu;
  if (e == 31) return tc_bits_f32(s | 0x7F800000u | (m << 13) | (m ? 0x400000u : 0));
  if (e == 0) return tc_bits_f32(s | tc_f32_bits((float)m * 0x1p-24f)); /* exact: m < 2^10 */
  return tc_bits_f32(s | ((e + 112) << 23) | (m << 13));
}

float tc_bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) u |= 0x400000u; /* quiet a signalling NaN */
  return tc_bits_f32(u);
}

/* Exact, by bits: a (double) cast would read an f32 subnormal as 0 under DAZ. */
static double tc_f32_to_f64(float f) {
  uint32_t u = tc_f32_bits(f), e = (u >> 23) & 0xFFu, m = u & 0x7FFFFFu;
  uint64_t s = (uint64_t)(u >> 31) << 63, e64;
  if (e == 0xFF) { /* inf, NaN (quieted) */
    e64 = 0x7FF;
    if (m != 0) m |= 0x400000u;
  } else if (e != 0) {
    e64 = e - 127 + 1023;
  } else if (m == 0) {
    return tc_bits_f64(s);
  } else { /* subnormal: normalize */
    e64 = 1 - 127 + 1023;
    for (; (m & 0x800000u) == 0; m <<= 1) e64--;
    m &= 0x7FFFFFu;
  }
  return tc_bits_f64(s | e64 << 52 | (uint64_t)m << 29);
}

static float tc_f64_to_f32(double d) { return tc_bits_f32(tc_to_mini(d, &tc_fmt_f32)); }

/* e5m2 is the top byte of an f16 (same exponent field and bias). */
float tc_e5m2_to_f32(uint8_t v) { return tc_f16_to_f32((uint16_t)(v << 8)); }

float tc_e4m3_to_f32(uint8_t v) {
  uint32_t s = (uint32_t)(v & 0x80u) << 24, e = (v >> 3) & 15u, m = v & 7u;
  if (e == 15 && m == 7) return tc_bits_f32(s | 0x7FC00000u);
  if (e == 0) return tc_bits_f32(s | tc_f32_bits((float)m * 0x1p-9f));
  return tc_bits_f32(s | ((e + 120) << 23) | (m << 20));
}

/* ---- integers: round half to even, saturate ------------------------------ */

/* |v| rounded half to even, saturated at UINT64_MAX; `a` = f32 bits without sign,
 * finite. Done on bits so the result does not depend on the FPU rounding mode. */
static uint64_t tc_round_mag(uint32_t a) {
  int sh = (int)(a >> 23) - 150; /* value = sig * 2^sh */
  if (a < 0x00800000u) return 0; /* zero or subnormal */
  uint64_t sig = (a & 0x7FFFFFu) | 0x800000u;
  if (sh >= 0) return sh > 40 ? UINT64_MAX : sig << sh;
  if (sh < -24) return 0; /* < 0.5 */
  uint64_t q = sig >> -sh, rem = sig & ((1ull << -sh) - 1), half = 1ull << (-sh - 1);
  return q + ((rem > half) | ((rem == half) & (q & 1)));
}

/* v rounded half-even and clamped to [lo, hi] (as a two's complement value). */
static int64_t tc_round_signed(float v, int64_t lo, int64_t hi) {
  uint32_t b = tc_f32_bits(v);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return 0; /* NaN */
  uint64_t mag = tc_round_mag(b & 0x7FFFFFFFu);
  if (b >> 31) return mag >= (uint64_t)-(lo + 1) + 1 ? lo : -(int64_t)mag;
  return mag >= (uint64_t)hi ? hi : (int64_t)mag;
}

static uint64_t tc_round_unsigned(float v, uint64_t hi) {
  uint32_t b = tc_f32_bits(v);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u || (b >> 31)) return 0; /* NaN, negatives */
  uint64_t mag = tc_round_mag(b);
  return mag > hi ? hi : mag;
}

/* ---- per-dtype element access ------------------------------------------- */

typedef struct tc_elem_ops {
  unsigned size;
  float (*load)(const uint8_t *p);
  void (*store)(uint8_t *p, float v);
  double (*load64)(const uint8_t *p);    /* floats only: exact */
  void (*store64)(uint8_t *p, double v); /* floats only: one RNE rounding */
} tc_elem_ops;

static float ld_f64(const uint8_t *p) { return tc_f64_to_f32(tc_bits_f64(tc_le64(p))); }
static float ld_f32(const uint8_t *p) { return tc_bits_f32(tc_le32(p)); }
static float ld_f16(const uint8_t *p) { return tc_f16_to_f32(tc_le16(p)); }
static float ld_bf16(const uint8_t *p) { return tc_bf16_to_f32(tc_le16(p)); }
static float ld_e4m3(const uint8_t *p) { return tc_e4m3_to_f32(p[0]); }
static float ld_e5m2(const uint8_t *p) { return tc_e5m2_to_f32(p[0]); }
static float ld_i8(const uint8_t *p) { return (float)(int8_t)p[0]; }
static float ld_i16(const uint8_t *p) { return (float)(int16_t)tc_le16(p); }
static float ld_i32(const uint8_t *p) { return (float)(int32_t)tc_le32(p); }
static float ld_i64(const uint8_t *p) { return (float)(int64_t)tc_le64(p); }
static float ld_u8(const uint8_t *p) { return (float)p[0]; }
static float ld_u16(const uint8_t *p) { return (float)tc_le16(p); }
static float ld_u32(const uint8_t *p) { return (float)tc_le32(p); }
static float ld_u64(const uint8_t *p) { return (float)tc_le64(p); }
static float ld_bool(const uint8_t *p) { return p[0] != 0 ? 1.0f : 0.0f; }

static void st_f64(uint8_t *p, float v) { tc_wr64(p, tc_f64_bits(tc_f32_to_f64(v))); }
static void st_f32(uint8_t *p, float v) { tc_wr32(p, tc_f32_bits(v)); }
static void st_f16(uint8_t *p, float v) { tc_wr16(p, tc_f32_to_f16(v)); }
static void st_bf16(uint8_t *p, float v) { tc_wr16(p, tc_f32_to_bf16(v)); }
static void st_e4m3(uint8_t *p, float v) { p[0] = (uint8_t)tc_to_mini32(v, &tc_fmt_e4m3); }
static void st_e5m2(uint8_t *p, float v) { p[0] = (uint8_t)tc_to_mini32(v, &tc_fmt_e5m2); }
static void st_i8(uint8_t *p, float v) { p[0] = (uint8_t)tc_round_signed(v, INT8_MIN, INT8_MAX); }
static void st_i16(uint8_t *p, float v) {
  tc_wr16(p, (uint32_t)tc_round_signed(v, INT16_MIN, INT16_MAX));
}
static void st_i32(uint8_t *p, float v) {
  tc_wr32(p, (uint32_t)tc_round_signed(v, INT32_MIN, INT32_MAX));
}
static void st_i64(uint8_t *p, float v) {
  tc_wr64(p, (uint64_t)tc_round_signed(v, INT64_MIN, INT64_MAX));
}
static void st_u8(uint8_t *p, float v) { p[0] = (uint8_t)tc_round_unsigned(v, UINT8_MAX); }
static void st_u16(uint8_t *p, float v) { tc_wr16(p, (uint32_t)tc_round_unsigned(v, UINT16_MAX)); }
static void st_u32(uint8_t *p, float v) { tc_wr32(p, (uint32_t)tc_round_unsigned(v, UINT32_MAX)); }
static void st_u64(uint8_t *p, float v) { tc_wr64(p, tc_round_unsigned(v, UINT64_MAX)); }
static void st_bool(uint8_t *p, float v) { p[0] = v != 0.0f; } /* NaN != 0: true */

static double ld64_f64(const uint8_t *p) { return tc_bits_f64(tc_le64(p)); }
static double ld64_f32(const uint8_t *p) { return tc_f32_to_f64(ld_f32(p)); }
static double ld64_f16(const uint8_t *p) { return tc_f32_to_f64(ld_f16(p)); }
static double ld64_bf16(const uint8_t *p) { return tc_f32_to_f64(ld_bf16(p)); }
static double ld64_e4m3(const uint8_t *p) { return tc_f32_to_f64(ld_e4m3(p)); }
static double ld64_e5m2(const uint8_t *p) { return tc_f32_to_f64(ld_e5m2(p)); }

static void st64_f64(uint8_t *p, double v) { tc_wr64(p, tc_f64_bits(v)); }
static void st64_f32(uint8_t *p, double v) { tc_wr32(p, tc_f32_bits(tc_f64_to_f32(v))); }
static void st64_f16(uint8_t *p, double v) { tc_wr16(p, tc_to_mini(v, &tc_fmt_f16)); }
static void st64_bf16(uint8_t *p, double v) {
  tc_wr16(p, tc_to_mini(v, &tc_fmt_bf16));
}
static void st64_e4m3(uint8_t *p, double v) { p[0] = (uint8_t)tc_to_mini(v, &tc_fmt_e4m3); }
static void st64_e5m2(uint8_t *p, double v) { p[0] = (uint8_t)tc_to_mini(v, &tc_fmt_e5m2); }

/* Indexed by tcodec_dtype id; entry 0 (invalid) has size 0. */
static const tc_elem_ops tc_elem[TCODEC_DTYPE_COUNT_] = {
    [TCODEC_F64] = {8, ld_f64, st_f64, ld64_f64, st64_f64},
    [TCODEC_F32] = {4, ld_f32, st_f32, ld64_f32, st64_f32},
    [TCODEC_F16] = {2, ld_f16, st_f16, ld64_f16, st64_f16},
    [TCODEC_BF16] = {2, ld_bf16, st_bf16, ld64_bf16, st64_bf16},
    [TCODEC_F8_E4M3] = {1, ld_e4m3, st_e4m3, ld64_e4m3, st64_e4m3},
    [TCODEC_F8_E5M2] = {1, ld_e5m2, st_e5m2, ld64_e5m2, st64_e5m2},
    [TCODEC_I8] = {1, ld_i8, st_i8, NULL, NULL},
    [TCODEC_I16] = {2, ld_i16, st_i16, NULL, NULL},
    [TCODEC_I32] = {4, ld_i32, st_i32, NULL, NULL},
    [TCODEC_I64] = {8, ld_i64, st_i64, NULL, NULL},
    [TCODEC_U8] = {1, ld_u8, st_u8, NULL, NULL},
    [TCODEC_U16] = {2, ld_u16, st_u16, NULL, NULL},
    [TCODEC_U32] = {4, ld_u32, st_u32, NULL, NULL},
    [TCODEC_U64] = {8, ld_u64, st_u64, NULL, NULL},
    [TCODEC_BOOL] = {1, ld_bool, st_bool, NULL, NULL},
};

static const tc_elem_ops *tc_elem_of(int dtype) {
  return dtype > 0 && dtype < TCODEC_DTYPE_COUNT_ ? &tc_elem[dtype] : NULL;
}

int tc_is_float_dtype(int dtype) {
  const tc_elem_ops *o = tc_elem_of(dtype);
  return o != NULL && o->load64 != NULL;
}

/* Unknown dtypes load as 0 and store nothing: callers validate dtypes first, this
 * only keeps a bad id from becoming an out-of-bounds access. */
float tc_load_f32(int dtype, const uint8_t *src, uint64_t i) {
  const tc_elem_ops *o = tc_elem_of(dtype);
  return o != NULL ? o->load(src + i * o->size) : 0.0f;
}

void tc_store_f32(int dtype, uint8_t *dst, uint64_t i, float v) {
  const tc_elem_ops *o = tc_elem_of(dtype);
  if (o != NULL) o->store(dst + i * o->size, v);
}

/* Through f64, which holds every value of every float format exactly, so the only
 * rounding is the final store. Same dtype copies the bytes (keeps signalling NaNs). */
void tc_convert_scalar(int sdtype, const uint8_t *src, int dtype, uint8_t *dst) {
  const tc_elem_ops *s = tc_elem_of(sdtype), *d = tc_elem_of(dtype);
  if (s == NULL || d == NULL) return;
  if (sdtype == dtype) {
    memcpy(dst, src, d->size);
  } else if (s->load64 != NULL && d->store64 != NULL) {
    d->store64(dst, s->load64(src));
  } else {
    d->store(dst, s->load(src));
  }
}

/* Little-endian: the sign bit is the top bit of the last byte. */
void tc_flip_sign(int dtype, uint8_t *elem) {
  const tc_elem_ops *o = tc_elem_of(dtype);
  if (o != NULL) elem[o->size - 1] ^= 0x80u;
}
