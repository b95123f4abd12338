/* tcvectors: write the spec test vectors (spec/vectors/, described in its README.md).
 *
 * usage: tcvectors OUTDIR          write OUTDIR/README.md and OUTDIR/{valid,invalid}/NAME.*
 *        tcvectors --check OUTDIR  compare with the files in OUTDIR instead; exit 1 on a difference
 *
 * Where the bytes come from:
 *  - Most valid vectors are written by the library's writer (public API only) from inputs
 *    chosen here. Their NAME.json expectations are computed from those same inputs with
 *    the formulas of spec/FORMAT.md by the reference code below, never read back.
 *  - Invalid vectors and the hand-built valid ones are assembled byte by byte here (own
 *    CBOR encoder, own XXH3 calls, own bit packing), independent of the library, so that
 *    each invalid vector breaks exactly one rule of the spec.
 * Everything is deterministic: same bytes on every run (zstd-coded streams depend on the
 * zstd version, recorded in the NAME.txt dump of the vectors that use it).
 *
 * tests/test_vectors.c compiles this file with TCVECTORS_NO_MAIN to check that
 * regenerating gives the committed bytes. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>
#include <zstd.h>

#include <tcodec/tcodec.h>

/* ==== byte buffers ==================================================================== */

typedef struct tv_buf {
  uint8_t *p;
  size_t len, cap;
} tv_buf;

static void tv_put(tv_buf *b, const void *src, size_t n) {
  if (n == 0) return;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) {
      fprintf(stderr, "tcvectors: out of memory\n");
      exit(2);
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, src, n);
  b->len += n;
}

static void tv_put8(tv_buf *b, uint8_t v) { tv_put(b, &v, 1); }

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
tv_printf(tv_buf *b, const char *fmt, ...) {
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof(tmp)) {
    tv_put(b, tmp, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (big == NULL) exit(2);
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  tv_put(b, big, (size_t)n);
  free(big);
}

static void tv_free(tv_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

static void tv_hex(tv_buf *b, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) tv_printf(b, "%02x", p[i]);
}

/* ==== little-endian, checksums ======================================================= */

static void le_put(uint8_t *p, uint64_t v, unsigned n) {
  for (unsigned i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le_get(const uint8_t *p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static uint64_t xxh3(const void *p, size_t n) { return XXH3_64bits(p, n); }

static const uint8_t tv_magic[8] = {0x89, 'T', 'C', 'M', 0x0D, 0x0A, 0x1A, 0x0A};
static const uint8_t tv_end_magic[8] = {0x0A, 0x1A, 0x0A, 0x0D, 'M', 'C', 'T', 0x89};

/* ==== reference floating-point conversions (spec "Data types", "Output forms") ======== */

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float f32_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static float f32_flip(float f) { return f32_from_bits(f32_bits(f) ^ 0x80000000u); }

/* Value of a small binary float with `ebits` exponent and `mbits` fraction bits.
 * e4m3fn (fn = 1) has no infinities and only S.1111.111 as NaN. */
static double small_float_value(uint32_t bits, unsigned ebits, unsigned mbits, int fn) {
  uint32_t emask = (1u << ebits) - 1, mmask = (1u << mbits) - 1;
  uint32_t e = (bits >> mbits) & emask, m = bits & mmask;
  int neg = (bits >> (ebits + mbits)) & 1;
  int bias = (1 << (ebits - 1)) - 1;
  double v;
  if (!fn && e == emask)
    v = m ? NAN : INFINITY;
  else if (fn && e == emask && m == mmask)
    v = NAN;
  else if (e == 0)
    v = ldexp((double)m, 1 - bias - (int)mbits);
  else
    v = ldexp((double)(m | (1u << mbits)), (int)e - bias - (int)mbits);
  return neg ? -v : v;
}

/* Round a finite or infinite double (holding an f32 value) to an IEEE-like binary format
 * with `ebits`/`mbits`, round to nearest even, overflow to infinity. NaN becomes the quiet
 * NaN with the sign kept. Computed with exact double arithmetic (frexp/ldexp/rint),
 * independently of any bit trick the library may use. */
static uint32_t small_float_round(double v, unsigned ebits, unsigned mbits) {
  uint32_t sign = signbit(v) ? 1u << (ebits + mbits) : 0;
  uint32_t inf = ((1u << ebits) - 1) << mbits;
  int bias = (1 << (ebits - 1)) - 1, emin = 1 - bias, emax = bias;
  double a = fabs(v);
  if (isnan(v)) return sign | inf | (1u << (mbits - 1));
  if (isinf(v)) return sign | inf;
  if (a == 0.0) return sign;
  int e2;
  (void)frexp(a, &e2);
  int E = e2 - 1; /* a = 1.f * 2^E */
  if (E < emin) { /* subnormal: units of 2^(emin - mbits); q = 2^mbits rolls to the min normal */
    double q = rint(ldexp(a, (int)mbits - emin));
    return sign | (uint32_t)q;
  }
  double q = rint(ldexp(a, (int)mbits - E));
  if (q == ldexp(1.0, (int)mbits + 1)) {
    q /= 2;
    E++;
  }
  if (E > emax) return sign | inf;
  return sign | ((uint32_t)(E + bias) << mbits) | ((uint32_t)q - (1u << mbits));
}

static float f16_to_f32(uint16_t h) { return (float)small_float_value(h, 5, 10, 0); }
static float bf16_to_f32(uint16_t h) { return (float)small_float_value(h, 8, 7, 0); }
static uint16_t f32_to_f16(float f) { return (uint16_t)small_float_round(f, 5, 10); }
static uint16_t f32_to_bf16(float f) { return (uint16_t)small_float_round(f, 8, 7); }

/* Element i of a little-endian array of `dtype` as f32, as the reader's F32 output defines
 * it: floats converted (round to nearest even), integers to the nearest f32, bool 0/1. */
static float dtype_load_f32(int dtype, const uint8_t *src, uint64_t i) {
  size_t es = tcodec_dtype_size(dtype);
  const uint8_t *p = src + i * es;
  uint64_t u = le_get(p, (unsigned)es);
  switch ((tcodec_dtype)dtype) {
  case TCODEC_F64: {
    double d;
    memcpy(&d, &u, 8);
    return (float)d;
  }
  case TCODEC_F32:
    return f32_from_bits((uint32_t)u);
  case TCODEC_F16:
    return f16_to_f32((uint16_t)u);
  case TCODEC_BF16:
    return bf16_to_f32((uint16_t)u);
  case TCODEC_F8_E4M3:
    return (float)small_float_value((uint32_t)u, 4, 3, 1);
  case TCODEC_F8_E5M2:
    return (float)small_float_value((uint32_t)u, 5, 2, 0);
  case TCODEC_I8:
    return (float)(int8_t)u;
  case TCODEC_I16:
    return (float)(int16_t)u;
  case TCODEC_I32:
    return (float)(int32_t)u;
  case TCODEC_I64:
    return (float)(int64_t)u;
  case TCODEC_U8:
  case TCODEC_U16:
  case TCODEC_U32:
  case TCODEC_U64:
    return (float)u;
  case TCODEC_BOOL:
    return u != 0 ? 1.0f : 0.0f;
  case TCODEC_DTYPE_INVALID:
  case TCODEC_DTYPE_COUNT_:
    break;
  }
  return 0.0f;
}

/* f32 value v as element i of a float `dtype` (f64 exact, others round to nearest even). */
static void dtype_store_f32(int dtype, uint8_t *dst, uint64_t i, float v) {
  switch (dtype) {
  case TCODEC_F64: {
    double d = v;
    uint64_t u;
    memcpy(&u, &d, 8);
    le_put(dst + 8 * i, u, 8);
    break;
  }
  case TCODEC_F32:
    le_put(dst + 4 * i, f32_bits(v), 4);
    break;
  case TCODEC_F16:
    le_put(dst + 2 * i, f32_to_f16(v), 2);
    break;
  case TCODEC_BF16:
    le_put(dst + 2 * i, f32_to_bf16(v), 2);
    break;
  default:
    break;
  }
}

/* ==== reference dequantization (spec "Scale units", "Encodings") ===================== */

typedef struct tv_shape {
  unsigned ndim;
  uint64_t dim[8];
} tv_shape;

static uint64_t shape_nelem(const tv_shape *s) {
  uint64_t n = 1;
  for (unsigned i = 0; i < s->ndim; i++) n *= s->dim[i];
  return n;
}

static uint64_t ref_units(const tv_shape *s, int gran, unsigned axis, uint64_t group) {
  if (gran == TCODEC_GRAN_CHANNEL) return s->dim[axis];
  if (gran == TCODEC_GRAN_GROUP) return (shape_nelem(s) + group - 1) / group;
  return 1;
}

static uint64_t ref_unit(const tv_shape *s, int gran, unsigned axis, uint64_t group, uint64_t i) {
  if (gran == TCODEC_GRAN_GROUP) return i / group;
  if (gran != TCODEC_GRAN_CHANNEL) return 0;
  uint64_t inner = 1;
  for (unsigned d = axis + 1; d < s->ndim; d++) inner *= s->dim[d];
  return (i / inner) % s->dim[axis];
}

/* k-th value of a scale array in sdtype (f32, f16, bf16) as f32 (exact). */
static float scale_at(int sdtype, const void *scales, uint64_t k) {
  const uint8_t *p = scales;
  if (sdtype == TCODEC_F32) return f32_from_bits((uint32_t)le_get(p + 4 * k, 4));
  if (sdtype == TCODEC_F16) return f16_to_f32((uint16_t)le_get(p + 2 * k, 2));
  return bf16_to_f32((uint16_t)le_get(p + 2 * k, 2));
}

/* +w_p, -w_n (sign bit flipped, no arithmetic) or +0.0 for a ternary/binary symbol. */
static float ref_symbol_value(const tcodec_quantized *q, uint64_t unit, int s) {
  uint64_t kp = q->symmetric ? unit : 2 * unit, kn = q->symmetric ? unit : 2 * unit + 1;
  if (s > 0) return scale_at(q->scale_dtype, q->scales, kp);
  if (s < 0) return f32_flip(scale_at(q->scale_dtype, q->scales, kn));
  return 0.0f;
}

/* F32 output and SYMBOLS output of a quantized tensor given as the writer's input. */
static void ref_dequant(const tv_shape *sh, const tcodec_quantized *q, float *f32, int *sym) {
  uint64_t n = shape_nelem(sh);
  if (q->encoding == TCODEC_ENC_HYBRID) {
    uint64_t nf = sh->dim[0], fsize = nf ? n / nf : 0, rank = 0;
    for (uint64_t f = 0; f < nf; f++) {
      for (uint64_t j = 0; j < fsize; j++) {
        uint64_t i = f * fsize + j;
        if (q->filter_ternary[f]) {
          f32[i] = ref_symbol_value(q, rank, q->symbols[i]);
          sym[i] = q->symbols[i];
        } else {
          f32[i] = dtype_load_f32(q->full_dtype, q->full_values, i);
          sym[i] = 0;
        }
      }
      rank += q->filter_ternary[f] != 0;
    }
    return;
  }
  for (uint64_t i = 0; i < n; i++) {
    uint64_t u = ref_unit(sh, q->granularity, q->axis, q->group_size, i);
    if (q->encoding == TCODEC_ENC_KBIT) {
      int zp = q->zero_points ? q->zero_points[u] : 1 << (q->bits - 1);
      if (q->mask != NULL && q->mask[i] == 0) {
        f32[i] = 0.0f;
        sym[i] = zp;
      } else {
        float scale = scale_at(q->scale_dtype, q->scales, u);
        float code = (float)((int)q->codes[i] - zp);
        f32[i] = scale * code; /* one binary32 rounding */
        sym[i] = q->codes[i];
      }
    } else {
      f32[i] = ref_symbol_value(q, u, q->symbols[i]);
      sym[i] = q->symbols[i];
    }
  }
}

/* ---- reference stream layout (spec "Encodings"), for the STREAM output form ---- */

static const char *const spec_roles[8] = {"data",  "mask",  "signs", "scales",
                                          "codes", "zeros", "kinds", "full"};

typedef struct ref_streams {
  tv_buf b[8];
  int present[8];
} ref_streams;

/* Bits packed LSB-first: value v (nbits bits) at bit i of dst. */
static void pack_bits(uint8_t *dst, uint64_t i, unsigned v, unsigned nbits) {
  for (unsigned k = 0; k < nbits; k++, i++)
    if ((v >> k) & 1) dst[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* Start stream `role` as `len` zero bytes. */
static uint8_t *rs_new(ref_streams *s, int role, uint64_t len) {
  tv_buf *b = &s->b[role];
  s->present[role] = 1;
  tv_put8(b, 0); /* allocated even when len is 0 */
  b->len = 0;
  for (uint64_t k = 0; k < len; k++) tv_put8(b, 0);
  return b->p;
}

static void rs_free(ref_streams *s) {
  for (int r = 0; r < 8; r++) tv_free(&s->b[r]);
}

static void rs_scales(ref_streams *s, const tcodec_quantized *q, uint64_t count) {
  uint64_t bytes = count * tcodec_dtype_size(q->scale_dtype);
  uint8_t *p = rs_new(s, TCODEC_ROLE_SCALES, bytes);
  if (bytes) memcpy(p, q->scales, (size_t)bytes);
}

/* MASK over `count` symbols and SIGNS over their nonzeros, appended at bit *mi, *si. */
static void rs_ternary_bits(uint8_t *mask, uint8_t *signs, const int8_t *sym, uint64_t count,
                            uint64_t *mi, uint64_t *si) {
  for (uint64_t i = 0; i < count; i++, (*mi)++) {
    if (sym[i] == 0) continue;
    pack_bits(mask, *mi, 1, 1);
    pack_bits(signs, (*si)++, sym[i] < 0, 1);
  }
}

static uint64_t count_nonzero(const int8_t *sym, uint64_t n) {
  uint64_t k = 0;
  for (uint64_t i = 0; i < n; i++) k += sym[i] != 0;
  return k;
}

static void ref_streams_quant(const tv_shape *sh, const tcodec_quantized *q, ref_streams *s) {
  uint64_t n = shape_nelem(sh), units = ref_units(sh, q->granularity, q->axis, q->group_size);
  unsigned per = q->symmetric ? 1 : 2;
  memset(s, 0, sizeof(*s));
  if (q->encoding == TCODEC_ENC_TERNARY) {
    uint64_t nnz = count_nonzero(q->symbols, n), mi = 0, si = 0;
    uint8_t *mask = rs_new(s, TCODEC_ROLE_MASK, (n + 7) / 8);
    uint8_t *signs = rs_new(s, TCODEC_ROLE_SIGNS, (nnz + 7) / 8);
    rs_ternary_bits(mask, signs, q->symbols, n, &mi, &si);
    rs_scales(s, q, units * per);
  } else if (q->encoding == TCODEC_ENC_BINARY) {
    uint8_t *signs = rs_new(s, TCODEC_ROLE_SIGNS, (n + 7) / 8);
    for (uint64_t i = 0; i < n; i++) pack_bits(signs, i, q->symbols[i] < 0, 1);
    rs_scales(s, q, units * per);
  } else if (q->encoding == TCODEC_ENC_KBIT) {
    uint64_t m = 0;
    for (uint64_t i = 0; i < n; i++) m += q->mask == NULL || q->mask[i] != 0;
    if (q->mask != NULL) {
      uint8_t *mask = rs_new(s, TCODEC_ROLE_MASK, (n + 7) / 8);
      for (uint64_t i = 0; i < n; i++) pack_bits(mask, i, q->mask[i] != 0, 1);
    }
    uint8_t *codes = rs_new(s, TCODEC_ROLE_CODES, (m * q->bits + 7) / 8);
    for (uint64_t i = 0, j = 0; i < n; i++)
      if (q->mask == NULL || q->mask[i] != 0) pack_bits(codes, q->bits * j++, q->codes[i], q->bits);
    if (q->zero_points != NULL) {
      uint8_t *z = rs_new(s, TCODEC_ROLE_ZEROS, units);
      memcpy(z, q->zero_points, (size_t)units);
    }
    rs_scales(s, q, units);
  } else { /* hybrid */
    uint64_t nf = sh->dim[0], fsize = nf ? n / nf : 0, nter = 0, nnz = 0;
    size_t fb = (size_t)fsize * tcodec_dtype_size(q->full_dtype);
    for (uint64_t f = 0; f < nf; f++) {
      if (!q->filter_ternary[f]) continue;
      nter++;
      nnz += count_nonzero(q->symbols + f * fsize, fsize);
    }
    uint8_t *kinds = rs_new(s, TCODEC_ROLE_KINDS, (nf + 7) / 8);
    uint8_t *full = rs_new(s, TCODEC_ROLE_FULL, (nf - nter) * fb);
    uint8_t *mask = rs_new(s, TCODEC_ROLE_MASK, (nter * fsize + 7) / 8);
    uint8_t *signs = rs_new(s, TCODEC_ROLE_SIGNS, (nnz + 7) / 8);
    uint64_t mi = 0, si = 0, r = 0;
    for (uint64_t f = 0; f < nf; f++) {
      pack_bits(kinds, f, q->filter_ternary[f] != 0, 1);
      if (q->filter_ternary[f])
        rs_ternary_bits(mask, signs, q->symbols + f * fsize, fsize, &mi, &si);
      else
        memcpy(full + fb * r++, (const uint8_t *)q->full_values + fb * f, fb);
    }
    rs_scales(s, q, nter * per);
  }
}

static void ref_streams_raw(int dtype, uint64_t n, const uint8_t *src, int bg, ref_streams *s) {
  size_t es = tcodec_dtype_size(dtype);
  memset(s, 0, sizeof(*s));
  uint8_t *d = rs_new(s, TCODEC_ROLE_DATA, n * es);
  for (uint64_t i = 0; i < n; i++)
    for (size_t k = 0; k < es; k++) d[bg ? k * n + i : i * es + k] = src[i * es + k];
}

/* ==== deterministic inputs ============================================================ */

typedef struct tv_rng {
  uint32_t s;
} tv_rng;

static uint32_t rng_next(tv_rng *r) { /* xorshift32: same sequence on every platform */
  uint32_t x = r->s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  r->s = x;
  return x;
}

static int8_t rng_ternary(tv_rng *r) { return (int8_t)((int)(rng_next(r) % 3u) - 1); }

/* An exact f32: integer m (< 2^24) times 2^e. Inputs are made only this way (no rounded
 * arithmetic), so every compiler and FP mode generates the same bytes. */
static float exact_f32(int32_t m, int e) { return ldexpf((float)m, e); }

/* Scale number k of a tensor, stored in sdtype: positive values of 17 significant bits
 * spread over a few octaves, so that f16/bf16 originals need rounding. */
static void make_scales(uint8_t *dst, int sdtype, uint64_t count, uint32_t seed) {
  for (uint64_t k = 0; k < count; k++) {
    int32_t m = 100003 + 7919 * (int32_t)((k * 7 + seed) % 13);
    float v = exact_f32(m, (int)(k % 3) - 20);
    if (sdtype == TCODEC_F32)
      le_put(dst + 4 * k, f32_bits(v), 4);
    else if (sdtype == TCODEC_F16)
      le_put(dst + 2 * k, f32_to_f16(v), 2);
    else
      le_put(dst + 2 * k, f32_to_bf16(v), 2);
  }
}

/* ==== CBOR encoder (RFC 8949 preferred serialization, definite lengths) ============== */

static void cb_head(tv_buf *b, unsigned major, uint64_t v) {
  uint8_t h[9];
  unsigned mt = major << 5;
  if (v < 24) {
    tv_put8(b, (uint8_t)(mt | v));
    return;
  }
  unsigned n = v <= 0xFF ? 1 : v <= 0xFFFF ? 2 : v <= 0xFFFFFFFFu ? 4 : 8;
  h[0] = (uint8_t)(mt | (n == 1 ? 24 : n == 2 ? 25 : n == 4 ? 26 : 27));
  for (unsigned i = 0; i < n; i++) h[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
  tv_put(b, h, 1 + n);
}

static void cb_uint(tv_buf *b, uint64_t v) { cb_head(b, 0, v); }
static void cb_text(tv_buf *b, const char *s) {
  cb_head(b, 3, strlen(s));
  tv_put(b, s, strlen(s));
}
static void cb_bytes(tv_buf *b, const void *p, size_t n) {
  cb_head(b, 2, n);
  tv_put(b, p, n);
}
static void cb_bool(tv_buf *b, int v) { tv_put8(b, v ? 0xF5 : 0xF4); }

/* ==== output sink, vector bookkeeping ================================================= */

/* Receives one generated file: path relative to the vectors folder ("valid/x.tc"). */
typedef int (*tv_out_fn)(void *user, const char *relpath, const uint8_t *data, size_t size);

typedef struct tv_gen {
  tv_out_fn out;
  void *user;
  int failed;
  tv_buf readme_valid, readme_invalid;
} tv_gen;

static void gen_emit(tv_gen *g, const char *dir, const char *name, const char *ext,
                     const tv_buf *b) {
  char path[256];
  snprintf(path, sizeof(path), "%s%s%s%s", dir, dir[0] ? "/" : "", name, ext);
  if (g->out(g->user, path, b->p, b->len) != 0) g->failed = 1;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
gen_fail(tv_gen *g, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "tcvectors: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  g->failed = 1;
}

/* ==== JSON expectations =============================================================== */

static void js_str(tv_buf *b, const char *s, size_t n) {
  tv_put8(b, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      tv_printf(b, "\\%c", c);
    else if (c < 0x20)
      tv_printf(b, "\\u%04x", c);
    else
      tv_put8(b, c);
  }
  tv_put8(b, '"');
}

static void js_cstr(tv_buf *b, const char *s) { js_str(b, s, strlen(s)); }

/* One valid vector in the making: the container bytes and its expectations. */
typedef struct tv_vec {
  tv_gen *g;
  const char *name;
  tv_buf file;
  tv_buf jt, jm, js; /* JSON: tensors, meta, sections (entries, comma separated) */
  size_t nt, nm, ns;
  tcodec_writer *w;
  uint64_t align;
  unsigned minor;
  int zstd; /* some stream is zstd-coded */
} tv_vec;

static void js_sep(tv_buf *b, size_t *count) {
  tv_printf(b, "%s\n    ", *count ? "," : "");
  (*count)++;
}

static void js_shape(tv_buf *b, const tv_shape *s) {
  tv_printf(b, "[");
  for (unsigned i = 0; i < s->ndim; i++)
    tv_printf(b, "%s%llu", i ? ", " : "", (unsigned long long)s->dim[i]);
  tv_printf(b, "]");
}

/* The tensor's F32 output as hex bit patterns ("nan" for any NaN), its ORIGINAL
 * output as hex bytes, and (if sym != NULL) its SYMBOLS output. */
static void js_values(tv_buf *b, uint64_t n, const float *f32, const uint8_t *orig,
                      size_t orig_size, const int *sym) {
  tv_printf(b, ",\n      \"f32\": [");
  for (uint64_t i = 0; i < n; i++) {
    if (isnan(f32[i]))
      tv_printf(b, "%s\"nan\"", i ? ", " : "");
    else
      tv_printf(b, "%s\"0x%08x\"", i ? ", " : "", (unsigned)f32_bits(f32[i]));
  }
  tv_printf(b, "],\n      \"original\": \"");
  tv_hex(b, orig, orig_size);
  tv_printf(b, "\"");
  if (sym != NULL) {
    tv_printf(b, ",\n      \"symbols\": [");
    for (uint64_t i = 0; i < n; i++) tv_printf(b, "%s%d", i ? ", " : "", sym[i]);
    tv_printf(b, "]");
  }
}

static void js_tensor_head(tv_vec *v, const char *name, int dtype, const tv_shape *sh, int enc,
                           const char *const *mk, const char *const *mv, size_t nmeta) {
  tv_buf *b = &v->jt;
  js_sep(b, &v->nt);
  tv_printf(b, "{\n      \"name\": ");
  js_cstr(b, name);
  tv_printf(b, ",\n      \"dtype\": \"%s\",\n      \"shape\": ", tcodec_dtype_name(dtype));
  js_shape(b, sh);
  tv_printf(b, ",\n      \"encoding\": \"%s\",\n      \"meta\": [", tcodec_encoding_name(enc));
  for (size_t i = 0; i < nmeta; i++) {
    tv_printf(b, "%s{\"key\": ", i ? ", " : "");
    js_cstr(b, mk[i]);
    tv_printf(b, ", \"text\": ");
    js_cstr(b, mv[i]);
    tv_printf(b, "}");
  }
  tv_printf(b, "]");
}

/* Params as the directory holds them (spec key names), plus the derived unit count
 * and nnz as tcodec_tensor_info reports it. */
static void js_quant_params(tv_buf *b, const tv_shape *sh, const tcodec_quantized *q) {
  uint64_t n = shape_nelem(sh), nnz = 0, units;
  int hybrid = q->encoding == TCODEC_ENC_HYBRID;
  tv_printf(b, ",\n      \"params\": {");
  if (!hybrid) {
    tv_printf(b, "\"gran\": %d", q->granularity);
    if (q->granularity == TCODEC_GRAN_CHANNEL) tv_printf(b, ", \"axis\": %u", q->axis);
    if (q->granularity == TCODEC_GRAN_GROUP)
      tv_printf(b, ", \"group\": %llu", (unsigned long long)q->group_size);
    tv_printf(b, ", ");
  }
  tv_printf(b, "\"sym\": %s, \"sdtype\": \"%s\"", q->symmetric ? "true" : "false",
            tcodec_dtype_name(q->scale_dtype));
  int has_mask = 1;
  if (q->encoding == TCODEC_ENC_TERNARY) {
    for (uint64_t i = 0; i < n; i++) nnz += q->symbols[i] != 0;
    tv_printf(b, ", \"nnz\": %llu", (unsigned long long)nnz);
    units = ref_units(sh, q->granularity, q->axis, q->group_size);
  } else if (q->encoding == TCODEC_ENC_BINARY) {
    has_mask = 0;
    nnz = n;
    units = ref_units(sh, q->granularity, q->axis, q->group_size);
  } else if (q->encoding == TCODEC_ENC_KBIT) {
    has_mask = q->mask != NULL;
    for (uint64_t i = 0; i < n; i++) nnz += q->mask == NULL || q->mask[i] != 0;
    if (has_mask) tv_printf(b, ", \"nnz\": %llu", (unsigned long long)nnz);
    tv_printf(b, ", \"bits\": %u, \"zp\": %s, \"sparse\": %s", q->bits,
              q->zero_points ? "true" : "false", has_mask ? "true" : "false");
    units = ref_units(sh, q->granularity, q->axis, q->group_size);
  } else {
    uint64_t nf = sh->dim[0], fsize = nf ? n / nf : 0, nter = 0;
    for (uint64_t f = 0; f < nf; f++) {
      if (!q->filter_ternary[f]) continue;
      nter++;
      for (uint64_t j = 0; j < fsize; j++) nnz += q->symbols[f * fsize + j] != 0;
    }
    tv_printf(b, ", \"nnz\": %llu, \"fdtype\": \"%s\", \"nter\": %llu", (unsigned long long)nnz,
              tcodec_dtype_name(q->full_dtype), (unsigned long long)nter);
    units = nter;
  }
  tv_printf(b, "},\n      \"units\": %llu, \"has_mask\": %s, \"nnz\": %llu",
            (unsigned long long)units, has_mask ? "true" : "false", (unsigned long long)nnz);
}

/* The STREAM output form: stream bytes (after the entropy stage) per role name. */
static void js_streams(tv_buf *b, ref_streams *s) {
  int first = 1;
  tv_printf(b, ",\n      \"streams\": {");
  for (int r = 0; r < 8; r++) {
    if (!s->present[r]) continue;
    tv_printf(b, "%s\n        \"%s\": \"", first ? "" : ",", spec_roles[r]);
    tv_hex(b, s->b[r].p, s->b[r].len);
    tv_printf(b, "\"");
    first = 0;
  }
  tv_printf(b, "\n      }");
  rs_free(s);
}

/* Expectations of a quantized tensor, from the writer's inputs. */
static void js_quant_tensor(tv_vec *v, const char *name, int dtype, const tv_shape *sh,
                            const tcodec_quantized *q, const char *const *mk, const char *const *mv,
                            size_t nmeta) {
  uint64_t n = shape_nelem(sh);
  size_t es = tcodec_dtype_size(dtype);
  float *f32 = calloc(n ? n : 1, sizeof(float));
  int *sym = calloc(n ? n : 1, sizeof(int));
  uint8_t *orig = calloc(n ? n * es : 1, 1);
  if (f32 == NULL || sym == NULL || orig == NULL) exit(2);
  ref_dequant(sh, q, f32, sym);
  for (uint64_t i = 0; i < n; i++) dtype_store_f32(dtype, orig, i, f32[i]);
  js_tensor_head(v, name, dtype, sh, q->encoding, mk, mv, nmeta);
  js_quant_params(&v->jt, sh, q);
  js_values(&v->jt, n, f32, orig, (size_t)(n * es), sym);
  ref_streams rs;
  ref_streams_quant(sh, q, &rs);
  js_streams(&v->jt, &rs);
  tv_printf(&v->jt, "\n    }");
  free(f32);
  free(sym);
  free(orig);
}

static void js_raw_tensor(tv_vec *v, const char *name, int dtype, const tv_shape *sh,
                          const void *src, int bg) {
  uint64_t n = shape_nelem(sh);
  float *f32 = calloc(n ? n : 1, sizeof(float));
  if (f32 == NULL) exit(2);
  for (uint64_t i = 0; i < n; i++) f32[i] = dtype_load_f32(dtype, src, i);
  js_tensor_head(v, name, dtype, sh, TCODEC_ENC_RAW, NULL, NULL, 0);
  tv_printf(&v->jt, ",\n      \"params\": {\"bg\": %s}", bg ? "true" : "false");
  js_values(&v->jt, n, f32, src, (size_t)(n * tcodec_dtype_size(dtype)), NULL);
  ref_streams rs;
  ref_streams_raw(dtype, n, src, bg, &rs);
  js_streams(&v->jt, &rs);
  tv_printf(&v->jt, "\n    }");
  free(f32);
}

/* ==== NAME.txt: readable dump ========================================================== */

/* A small CBOR tree, enough for the directories written here. */
typedef struct cn {
  unsigned major;
  uint64_t v; /* value, length or count */
  const uint8_t *p;
  struct cn *kids; /* arrays: v items; maps: 2v items (key, value...) */
} cn;

static int cn_parse(const uint8_t *s, size_t n, size_t *pos, cn *out, int depth) {
  if (*pos >= n || depth > 32) return -1;
  uint8_t h = s[(*pos)++];
  unsigned ai = h & 31;
  out->major = h >> 5;
  out->kids = NULL;
  out->p = NULL;
  if (ai < 24) {
    out->v = ai;
  } else if (ai <= 27) {
    unsigned len = 1u << (ai - 24);
    if (n - *pos < len) return -1;
    out->v = 0;
    for (unsigned i = 0; i < len; i++) out->v = (out->v << 8) | s[(*pos)++];
  } else {
    return -1;
  }
  if (out->major == 2 || out->major == 3) {
    if (n - *pos < out->v) return -1;
    out->p = s + *pos;
    *pos += (size_t)out->v;
  } else if (out->major == 4 || out->major == 5) {
    uint64_t k = out->major == 4 ? out->v : 2 * out->v;
    if (k > n) return -1;
    out->kids = calloc(k ? k : 1, sizeof(cn));
    if (out->kids == NULL) exit(2);
    for (uint64_t i = 0; i < k; i++)
      if (cn_parse(s, n, pos, &out->kids[i], depth + 1) != 0) return -1;
  } else if (out->major == 6) {
    return -1;
  }
  return 0;
}

static void cn_free(cn *c) {
  if (c->kids == NULL) return;
  uint64_t k = c->major == 4 ? c->v : 2 * c->v;
  for (uint64_t i = 0; i < k; i++) cn_free(&c->kids[i]);
  free(c->kids);
  c->kids = NULL;
}

static void cn_indent(tv_buf *b, int depth) {
  for (int i = 0; i < depth; i++) tv_printf(b, "  ");
}

/* CBOR diagnostic notation (RFC 8949 section 8), one map entry per line. */
static void cn_diag(tv_buf *b, const cn *c, int depth) {
  switch (c->major) {
  case 0:
    tv_printf(b, "%llu", (unsigned long long)c->v);
    break;
  case 1:
    tv_printf(b, "-%llu", (unsigned long long)c->v + 1);
    break;
  case 2:
    tv_printf(b, "h'");
    tv_hex(b, c->p, (size_t)c->v);
    tv_printf(b, "'");
    break;
  case 3:
    js_str(b, (const char *)c->p, (size_t)c->v);
    break;
  case 4: {
    int flat = 1; /* arrays of numbers on one line */
    for (uint64_t i = 0; i < c->v; i++) flat &= c->kids[i].major == 0 || c->kids[i].major == 3;
    tv_printf(b, "[");
    for (uint64_t i = 0; i < c->v; i++) {
      if (flat) {
        tv_printf(b, "%s", i ? ", " : "");
      } else {
        tv_printf(b, "%s\n", i ? "," : "");
        cn_indent(b, depth + 1);
      }
      cn_diag(b, &c->kids[i], depth + 1);
    }
    if (!flat && c->v) {
      tv_printf(b, "\n");
      cn_indent(b, depth);
    }
    tv_printf(b, "]");
    break;
  }
  case 5:
    tv_printf(b, "{");
    for (uint64_t i = 0; i < c->v; i++) {
      tv_printf(b, "%s\n", i ? "," : "");
      cn_indent(b, depth + 1);
      cn_diag(b, &c->kids[2 * i], depth + 1);
      tv_printf(b, ": ");
      cn_diag(b, &c->kids[2 * i + 1], depth + 1);
    }
    if (c->v) {
      tv_printf(b, "\n");
      cn_indent(b, depth);
    }
    tv_printf(b, "}");
    break;
  default:
    if (c->v == 20 || c->v == 21)
      tv_printf(b, "%s", c->v == 21 ? "true" : "false");
    else if (c->v == 22)
      tv_printf(b, "null");
    else
      tv_printf(b, "simple(%llu)", (unsigned long long)c->v);
    break;
  }
}

static const cn *cn_get(const cn *map, const char *key) {
  if (map == NULL || map->major != 5) return NULL;
  for (uint64_t i = 0; i < map->v; i++) {
    const cn *k = &map->kids[2 * i];
    if (k->major == 3 && k->v == strlen(key) && memcmp(k->p, key, (size_t)k->v) == 0)
      return &map->kids[2 * i + 1];
  }
  return NULL;
}

static uint64_t cn_uint(const cn *c) { return c != NULL && c->major == 0 ? c->v : 0; }

/* One stream's keys and its stream bytes (after the entropy stage), in hex. */
static void dump_stream(tv_buf *b, const tv_buf *f, const cn *s, const char *owner) {
  uint64_t off = cn_uint(cn_get(s, "off")), size = cn_uint(cn_get(s, "size"));
  uint64_t role = cn_uint(cn_get(s, "role")), coder = cn_uint(cn_get(s, "coder"));
  uint64_t len = cn_uint(cn_get(s, "len"));
  tv_printf(b, "%s %s: off %llu size %llu len %llu coder %llu xxh3 0x%016llx\n", owner,
            role < 8 ? spec_roles[role] : "?", (unsigned long long)off, (unsigned long long)size,
            (unsigned long long)len, (unsigned long long)coder,
            (unsigned long long)cn_uint(cn_get(s, "xxh3")));
  if (off > f->len || size > f->len - off) return;
  const uint8_t *p = f->p + off;
  uint8_t *dec = NULL;
  if (coder == 1) {
    dec = malloc(len ? (size_t)len : 1);
    if (dec == NULL || ZSTD_decompress(dec, (size_t)len, p, (size_t)size) != len) {
      tv_printf(b, "  (zstd frame does not decode to len bytes)\n");
      free(dec);
      return;
    }
    p = dec;
    size = len;
  }
  for (uint64_t i = 0; i < size && i < 512; i += 32) {
    tv_printf(b, "  %5llu:", (unsigned long long)i);
    for (uint64_t j = i; j < size && j < i + 32; j++) tv_printf(b, " %02x", p[j]);
    tv_printf(b, "\n");
  }
  if (size > 512) tv_printf(b, "  ... (%llu bytes)\n", (unsigned long long)size);
  free(dec);
}

static void dump_file(tv_buf *b, const char *name, const tv_buf *f, int zstd) {
  const uint8_t *p = f->p;
  size_t n = f->len;
  const uint8_t *t = p + n - 48;
  tv_printf(b, "%s.tc: %zu bytes (generated by tools/tcvectors.c; read spec/FORMAT.md)\n", name, n);
  if (zstd) tv_printf(b, "zstd_version %u\n", ZSTD_versionNumber());
  tv_printf(b, "\nheader (offset 0, 64 bytes)\n  magic       ");
  for (int i = 0; i < 8; i++) tv_printf(b, "%02x%s", p[i], i < 7 ? " " : "\n");
  tv_printf(b, "  major       %u\n  minor       %u\n  flags       0x%08x\n",
            (unsigned)le_get(p + 8, 2), (unsigned)le_get(p + 10, 2), (unsigned)le_get(p + 12, 4));
  tv_printf(b, "  xxh3(0..15) 0x%016llx\n", (unsigned long long)le_get(p + 16, 8));
  tv_printf(b, "  unused      ");
  tv_hex(b, p + 24, 40);
  uint64_t dir_off = le_get(t, 8), dir_size = le_get(t + 8, 8);
  tv_printf(b, "\n\ntrailer (offset %zu, 48 bytes)\n", n - 48);
  tv_printf(b, "  dir_offset  %llu\n  dir_size    %llu\n  dir_xxh3    0x%016llx\n",
            (unsigned long long)dir_off, (unsigned long long)dir_size,
            (unsigned long long)le_get(t + 16, 8));
  tv_printf(b, "  major       %u\n  minor       %u\n  flags       0x%08x\n",
            (unsigned)le_get(t + 24, 2), (unsigned)le_get(t + 26, 2), (unsigned)le_get(t + 28, 4));
  tv_printf(b, "  xxh3(0..31) 0x%016llx\n  end magic   ", (unsigned long long)le_get(t + 32, 8));
  for (int i = 0; i < 8; i++) tv_printf(b, "%02x%s", t[40 + i], i < 7 ? " " : "\n");
  tv_printf(b, "\ndirectory (offset %llu, %llu bytes of CBOR; diagnostic notation)\n",
            (unsigned long long)dir_off, (unsigned long long)dir_size);
  cn top;
  size_t pos = 0;
  if (dir_off > n || dir_size > n - dir_off ||
      cn_parse(p + dir_off, (size_t)dir_size, &pos, &top, 0) != 0) {
    tv_printf(b, "  (not parsable)\n");
    return;
  }
  cn_diag(b, &top, 0);
  tv_printf(b, "\n\nstreams: keys, then the stream bytes after the entropy stage (hex, by "
               "position in the stream)\n");
  const cn *secs = cn_get(&top, "sections");
  for (uint64_t i = 0; secs != NULL && secs->major == 4 && i < secs->v; i++) {
    char owner[64];
    snprintf(owner, sizeof(owner), "section %llu", (unsigned long long)i);
    dump_stream(b, f, cn_get(&secs->kids[i], "stream"), owner);
  }
  const cn *ts = cn_get(&top, "tensors");
  for (uint64_t i = 0; ts != NULL && ts->major == 4 && i < ts->v; i++) {
    const cn *nm = cn_get(&ts->kids[i], "name"), *st = cn_get(&ts->kids[i], "streams");
    char owner[160];
    snprintf(owner, sizeof(owner), "tensor %llu '%.*s'", (unsigned long long)i,
             nm != NULL && nm->major == 3 ? (int)nm->v : 0,
             nm != NULL && nm->major == 3 ? (const char *)nm->p : "");
    for (uint64_t j = 0; st != NULL && st->major == 4 && j < st->v; j++)
      dump_stream(b, f, &st->kids[j], owner);
  }
  cn_free(&top);
}

/* ==== valid vectors through the library's writer ====================================== */

static int sink_buf(void *user, const void *src, size_t n) {
  tv_put(user, src, n);
  return 0;
}

static void readme_line(tv_buf *b, const char *name, const char *what) {
  tv_printf(b, "| `%s` | %s |\n", name, what);
}

static int vec_begin(tv_gen *g, tv_vec *v, const char *name, const char *what, int coder,
                     uint64_t align) {
  memset(v, 0, sizeof(*v));
  v->g = g;
  v->name = name;
  v->align = align;
  readme_line(&g->readme_valid, name, what);
  if (tcodec_writer_create(&v->w, NULL) != 0 ||
      tcodec_writer_set_param(v->w, TCODEC_WP_CODER, coder) != 0 ||
      tcodec_writer_set_param(v->w, TCODEC_WP_DETECT, 0) != 0 ||
      tcodec_writer_set_param(v->w, TCODEC_WP_BYTE_GROUP, 0) != 0 ||
      tcodec_writer_set_param(v->w, TCODEC_WP_ZSTD_LEVEL, 19) != 0 ||
      tcodec_writer_set_param(v->w, TCODEC_WP_ALIGNMENT, (int)align) != 0 ||
      tcodec_writer_begin(v->w, sink_buf, &v->file) != 0) {
    gen_fail(g, "%s: cannot start the writer", name);
    return -1;
  }
  v->zstd = coder == TCODEC_CODER_ZSTD;
  return 0;
}

static int vec_check(tv_vec *v, int rc, const char *what) {
  if (rc != 0)
    gen_fail(v->g, "%s: %s: %s (%s)", v->name, what, tcodec_strerror(rc),
             tcodec_writer_error_message(v->w));
  return rc;
}

static void vec_raw_bg(tv_vec *v, const char *name, int dtype, const tv_shape *sh, const void *src,
                       int bg) {
  tcodec_tensor_desc d = {name, dtype, sh->ndim, sh->dim, NULL, NULL, 0};
  uint64_t n = shape_nelem(sh);
  if (vec_check(v, tcodec_writer_set_param(v->w, TCODEC_WP_BYTE_GROUP, bg), "byte group") != 0)
    return;
  if (vec_check(v, tcodec_writer_add_raw(v->w, &d, src, (size_t)(n * tcodec_dtype_size(dtype))),
                name) != 0)
    return;
  js_raw_tensor(v, name, dtype, sh, src, bg && tcodec_dtype_size(dtype) > 1);
}

static void vec_raw(tv_vec *v, const char *name, int dtype, const tv_shape *sh, const void *src) {
  vec_raw_bg(v, name, dtype, sh, src, 0);
}

static void vec_quant_meta(tv_vec *v, const char *name, int dtype, const tv_shape *sh,
                           const tcodec_quantized *q, const char *const *mk, const char *const *mv,
                           size_t nmeta) {
  tcodec_tensor_desc d = {name, dtype, sh->ndim, sh->dim, mk, mv, nmeta};
  if (vec_check(v, tcodec_writer_add_quantized(v->w, &d, q), name) != 0) return;
  js_quant_tensor(v, name, dtype, sh, q, mk, mv, nmeta);
}

static void vec_quant(tv_vec *v, const char *name, int dtype, const tv_shape *sh,
                      const tcodec_quantized *q) {
  vec_quant_meta(v, name, dtype, sh, q, NULL, NULL, 0);
}

static void vec_meta_text(tv_vec *v, const char *key, const char *value) {
  if (vec_check(v, tcodec_writer_set_meta(v->w, key, value), key) != 0) return;
  js_sep(&v->jm, &v->nm);
  tv_printf(&v->jm, "{\"key\": ");
  js_cstr(&v->jm, key);
  tv_printf(&v->jm, ", \"text\": ");
  js_cstr(&v->jm, value);
  tv_printf(&v->jm, "}");
}

static void vec_meta_bytes(tv_vec *v, const char *key, const void *value, size_t n) {
  if (vec_check(v, tcodec_writer_set_meta_bytes(v->w, key, value, n), key) != 0) return;
  js_sep(&v->jm, &v->nm);
  tv_printf(&v->jm, "{\"key\": ");
  js_cstr(&v->jm, key);
  tv_printf(&v->jm, ", \"bytes\": \"");
  tv_hex(&v->jm, value, n);
  tv_printf(&v->jm, "\"}");
}

static void js_section(tv_vec *v, const char *type, int critical, const void *src, size_t n) {
  js_sep(&v->js, &v->ns);
  tv_printf(&v->js, "{\"type\": ");
  js_cstr(&v->js, type);
  tv_printf(&v->js, ", \"critical\": %s, \"size\": %zu, \"bytes\": \"", critical ? "true" : "false",
            n);
  tv_hex(&v->js, src, n);
  tv_printf(&v->js, "\"}");
}

static void vec_section(tv_vec *v, const char *type, const void *src, size_t n) {
  if (vec_check(v, tcodec_writer_add_section(v->w, type, 0, src, n), type) != 0) return;
  js_section(v, type, 0, src, n);
}

/* Write NAME.tc, NAME.json, NAME.txt and release the vector. */
static void vec_emit(tv_vec *v) {
  tv_buf j = {0}, t = {0};
  tv_printf(&j, "{\n  \"vector\": \"%s\",\n  \"format\": {\"major\": 1, \"minor\": %u},\n", v->name,
            v->minor);
  tv_printf(&j, "  \"align\": %llu,\n  \"meta\": [", (unsigned long long)v->align);
  tv_put(&j, v->jm.p, v->jm.len);
  tv_printf(&j, "%s],\n  \"sections\": [", v->nm ? "\n  " : "");
  tv_put(&j, v->js.p, v->js.len);
  tv_printf(&j, "%s],\n  \"tensors\": [", v->ns ? "\n  " : "");
  tv_put(&j, v->jt.p, v->jt.len);
  tv_printf(&j, "%s]\n}\n", v->nt ? "\n  " : "");
  dump_file(&t, v->name, &v->file, v->zstd);
  gen_emit(v->g, "valid", v->name, ".tc", &v->file);
  gen_emit(v->g, "valid", v->name, ".json", &j);
  gen_emit(v->g, "valid", v->name, ".txt", &t);
  tv_free(&j);
  tv_free(&t);
}

static void vec_end(tv_vec *v) {
  if (v->w != NULL && !v->g->failed) {
    if (vec_check(v, tcodec_writer_finish(v->w), "finish") == 0) vec_emit(v);
  }
  tcodec_writer_free(v->w);
  tv_free(&v->file);
  tv_free(&v->jt);
  tv_free(&v->jm);
  tv_free(&v->js);
}

/* ---- the vectors ---- */

static const tv_shape SH_2x5 = {2, {2, 5}};

/* A quantized tensor description with storage for its inputs. */
typedef struct tv_qt {
  tcodec_quantized q;
  tv_shape sh;
  int8_t sym[64];
  uint8_t codes[64], mask[64], zp[16], kinds[8];
  uint8_t scales[64 * 4];
  uint8_t full[64 * 4];
} tv_qt;

/* Symbols (ternary/binary) or codes, mask, zero points (k-bit) and scales for
 * granularity gran / axis / group. Seeded by `seed` so each tensor differs. */
static void qt_fill(tv_qt *t, int enc, const tv_shape *sh, int gran, unsigned axis, uint64_t group,
                    int sym, int sdtype, uint32_t seed) {
  memset(t, 0, sizeof(*t));
  t->sh = *sh;
  tcodec_quantized *q = &t->q;
  q->encoding = enc;
  q->granularity = gran;
  q->axis = axis;
  q->group_size = group;
  q->symmetric = sym;
  q->scale_dtype = sdtype;
  tv_rng r = {seed * 2654435761u + 1};
  uint64_t n = shape_nelem(sh), units = ref_units(sh, gran, axis, group);
  for (uint64_t i = 0; i < n; i++) {
    int8_t s = rng_ternary(&r);
    if (enc == TCODEC_ENC_BINARY) s = (rng_next(&r) & 1) ? 1 : -1;
    t->sym[i] = s;
  }
  make_scales(t->scales, sdtype, units * (sym ? 1 : 2), seed);
  q->scales = t->scales;
  q->symbols = t->sym;
}

static void qt_kbit(tv_qt *t, const tv_shape *sh, int gran, unsigned axis, uint64_t group,
                    int sdtype, unsigned bits, int zp, int sparse, uint32_t seed) {
  qt_fill(t, TCODEC_ENC_KBIT, sh, gran, axis, group, 1, sdtype, seed);
  tcodec_quantized *q = &t->q;
  tv_rng r = {seed * 40503u + 7};
  uint64_t n = shape_nelem(sh), units = ref_units(sh, gran, axis, group);
  q->symbols = NULL;
  q->bits = bits;
  for (uint64_t i = 0; i < n; i++) {
    t->codes[i] = (uint8_t)(rng_next(&r) & ((1u << bits) - 1));
    t->mask[i] = (uint8_t)(rng_next(&r) % 3 != 0);
  }
  if (n > 0) t->codes[0] = (uint8_t)((1u << bits) - 1); /* the largest code appears */
  for (uint64_t u = 0; u < units; u++) t->zp[u] = (uint8_t)((u * 5 + seed) % (1u << bits));
  q->codes = t->codes;
  q->mask = sparse ? t->mask : NULL;
  q->zero_points = zp ? t->zp : NULL;
}

static const int tv_sdtypes[3] = {TCODEC_F32, TCODEC_F16, TCODEC_BF16};

/* Encodings 2 and 3: every granularity x scale dtype for one symmetry. Channel
 * granularity uses axis 0 and 1 of a 2x5 tensor and axis 1 of a 2x3x2 tensor; the
 * original dtype rotates over the float dtypes. */
static void vec_symbols(tv_gen *g, const char *name, const char *what, int enc, int sym) {
  static const int dtypes[4] = {TCODEC_F32, TCODEC_F16, TCODEC_BF16, TCODEC_F64};
  static const char *const gname[3] = {"tensor", "channel", "group"};
  tv_vec v;
  if (vec_begin(g, &v, name, what, TCODEC_CODER_NONE, 64) != 0) goto done;
  int k = 0;
  for (int gran = 0; gran < 3; gran++) {
    for (int si = 0; si < 3; si++, k++) {
      tv_qt t;
      tv_shape sh = SH_2x5;
      unsigned axis = 0;
      if (gran == TCODEC_GRAN_CHANNEL) {
        axis = si == 0 ? 0 : 1;
        if (si == 2) sh = (tv_shape){3, {2, 3, 2}};
      }
      qt_fill(&t, enc, &sh, gran, axis, gran == TCODEC_GRAN_GROUP ? 3 : 0, sym, tv_sdtypes[si],
              (uint32_t)(k + 1 + 10 * enc + 100 * sym));
      char tn[64];
      snprintf(tn, sizeof(tn), "%s.%s.%s", gname[gran], tcodec_dtype_name(tv_sdtypes[si]),
               tcodec_dtype_name(dtypes[k % 4]));
      vec_quant(&v, tn, dtypes[k % 4], &t.sh, &t.q);
    }
  }
done:
  vec_end(&v);
}

static void vec_kbit_gran(tv_gen *g) {
  static const char *const gname[3] = {"tensor", "channel", "group"};
  static const int dtypes[3] = {TCODEC_F32, TCODEC_BF16, TCODEC_F16};
  tv_vec v;
  if (vec_begin(g, &v, "kbit_gran",
                "k-bit 4 bits, dense, no zero points: every granularity x scale dtype "
                "(default zero point 8); one negative scale (code == zp gives -0.0)",
                TCODEC_CODER_NONE, 64) != 0)
    goto done;
  for (int gran = 0; gran < 3; gran++) {
    for (int si = 0; si < 3; si++) {
      tv_qt t;
      unsigned axis = gran == TCODEC_GRAN_CHANNEL && si == 1 ? 1 : 0;
      qt_kbit(&t, &SH_2x5, gran, axis, gran == TCODEC_GRAN_GROUP ? 4 : 0, tv_sdtypes[si], 4, 0, 0,
              (uint32_t)(gran * 3 + si + 3));
      if (gran == TCODEC_GRAN_CHANNEL && si == 0) { /* negative scale for unit 1, code 8 = zp */
        le_put(t.scales + 4, f32_bits(-0.375f), 4);
        t.codes[5] = 8;
      }
      char tn[64];
      snprintf(tn, sizeof(tn), "%s.%s", gname[gran], tcodec_dtype_name(tv_sdtypes[si]));
      vec_quant(&v, tn, dtypes[si], &t.sh, &t.q);
    }
  }
done:
  vec_end(&v);
}

/* bits 2, 3, 4, 8 x zero points without/with, for dense or sparse codes. */
static void vec_kbit_bits(tv_gen *g, int sparse) {
  static const unsigned bits[4] = {2, 3, 4, 8};
  tv_vec v;
  const char *name = sparse ? "kbit_sparse" : "kbit_dense";
  const char *what = sparse ? "k-bit with a mask (sparse): bits 2, 3, 4, 8 x zero points "
                              "absent/present; masked-out elements are +0.0, symbol = zero point"
                            : "k-bit dense: bits 2, 3, 4, 8 x zero points absent/present; "
                              "3-bit codes cross byte boundaries";
  if (vec_begin(g, &v, name, what, TCODEC_CODER_NONE, 64) != 0) goto done;
  for (int b = 0; b < 4; b++) {
    for (int zp = 0; zp < 2; zp++) {
      tv_qt t;
      int gran = zp ? TCODEC_GRAN_CHANNEL : TCODEC_GRAN_GROUP;
      qt_kbit(&t, &SH_2x5, gran, 0, 6, b == 2 ? TCODEC_F16 : TCODEC_F32, bits[b], zp, sparse,
              (uint32_t)(20 + b * 2 + zp + 10 * sparse));
      char tn[64];
      snprintf(tn, sizeof(tn), "k%u.%s", bits[b], zp ? "zp" : "nozp");
      vec_quant(&v, tn, b == 3 ? TCODEC_F16 : TCODEC_F32, &t.sh, &t.q);
    }
  }
done:
  vec_end(&v);
}

/* Hybrid: filters along axis 0, full filters in f16 or f32. */
static void qt_hybrid(tv_qt *t, const tv_shape *sh, const uint8_t *kinds, int sym, int sdtype,
                      int fdtype, uint32_t seed) {
  uint64_t nf = sh->dim[0], n = shape_nelem(sh), nter = 0;
  for (uint64_t f = 0; f < nf; f++) nter += kinds[f] != 0;
  qt_fill(t, TCODEC_ENC_TERNARY, sh, TCODEC_GRAN_TENSOR, 0, 0, sym, sdtype, seed);
  tcodec_quantized *q = &t->q;
  q->encoding = TCODEC_ENC_HYBRID;
  memcpy(t->kinds, kinds, (size_t)nf);
  q->filter_ternary = t->kinds;
  q->full_dtype = fdtype;
  make_scales(t->scales, sdtype, nter * (sym ? 1 : 2), seed + 5);
  for (uint64_t i = 0; i < n; i++) {
    float x = exact_f32(((int32_t)(i % 7) - 3) * 21871 + (int32_t)seed * 655, -16);
    if (fdtype == TCODEC_F32)
      le_put(t->full + 4 * i, f32_bits(x), 4);
    else
      le_put(t->full + 2 * i, f32_to_f16(x), 2);
  }
  q->full_values = t->full;
}

static void vec_hybrid(tv_gen *g) {
  static const uint8_t k_mixed[4] = {1, 0, 1, 0}, k_first[3] = {0, 1, 1}, k_none[4] = {0},
                       k_all[3] = {1, 1, 1};
  static const tv_shape s43 = {2, {4, 3}}, s322 = {3, {3, 2, 2}}, s4x2 = {2, {4, 2}},
                        s23 = {2, {2, 3}};
  tv_vec v;
  if (vec_begin(g, &v, "hybrid_filters",
                "hybrid: full filters in f16 and f32, symmetric and asymmetric ternary "
                "filters x scale dtypes f32/f16/bf16, originals f32/bf16/f64/f16; no ternary "
                "filter; only ternary filters",
                TCODEC_CODER_NONE, 64) != 0)
    goto done;
  tv_qt t;
  qt_hybrid(&t, &s43, k_mixed, 1, TCODEC_F32, TCODEC_F16, 1);
  vec_quant(&v, "f16full.sym.f32", TCODEC_F32, &t.sh, &t.q);
  qt_hybrid(&t, &s322, k_first, 0, TCODEC_F16, TCODEC_F32, 2);
  vec_quant(&v, "f32full.asym.f16", TCODEC_F32, &t.sh, &t.q);
  qt_hybrid(&t, &s43, k_mixed, 0, TCODEC_BF16, TCODEC_F16, 3);
  vec_quant(&v, "f16full.asym.bf16.orig_bf16", TCODEC_BF16, &t.sh, &t.q);
  qt_hybrid(&t, &s4x2, k_none, 1, TCODEC_F32, TCODEC_F32, 4);
  vec_quant(&v, "no_ternary_filter", TCODEC_F16, &t.sh, &t.q);
  qt_hybrid(&t, &s322, k_all, 1, TCODEC_F16, TCODEC_F16, 5);
  vec_quant(&v, "only_ternary_filters", TCODEC_F32, &t.sh, &t.q);
  qt_hybrid(&t, &s23, k_mixed, 1, TCODEC_BF16, TCODEC_F32, 6);
  vec_quant(&v, "f32full.sym.bf16.orig_f64", TCODEC_F64, &t.sh, &t.q);
  qt_hybrid(&t, &s23, k_first, 0, TCODEC_F32, TCODEC_F16, 7);
  vec_quant(&v, "f16full.asym.f32.orig_f16", TCODEC_F16, &t.sh, &t.q);
done:
  vec_end(&v);
}

/* Raw: one tensor per dtype, with the edge values of each (NaN, infinities, subnormals,
 * extremes, integers that round when converted to f32). */
static void vec_raw_dtypes(tv_gen *g) {
  static const tv_shape s4 = {1, {4}};
  tv_vec v;
  if (vec_begin(g, &v, "raw_dtypes",
                "raw, every dtype (ids 1..15), no byte grouping: NaN, infinities, "
                "subnormals, extremes, integers rounding to nearest f32",
                TCODEC_CODER_NONE, 64) != 0)
    goto done;
  double f64[4] = {1.0, -0.1, 1e300, 4.9406564584124654e-324};
  uint32_t f32[4] = {0x3fc00000u, 0x80000000u, 0x7f800000u, 0x7fc00001u};
  uint16_t f16[4] = {0x3c00, 0xc100, 0x7bff, 0x0001};
  uint16_t bf16[4] = {0x3f80, 0xc2f7, 0x0001, 0xff80};
  uint8_t e4m3[4] = {0x38, 0xb8, 0x7f, 0x7e}, e5m2[4] = {0x3c, 0x7c, 0x01, 0xfb};
  int8_t i8[4] = {-128, 0, 127, -1};
  int16_t i16[4] = {-32768, 1, 32767, -300};
  int32_t i32[4] = {16777217, INT32_MIN, INT32_MAX, -16777219};
  int64_t i64[4] = {INT64_MIN, 9007199254740993LL, -1, INT64_MAX};
  uint8_t u8[4] = {0, 255, 7, 128}, bools[4] = {0, 1, 1, 0};
  uint16_t u16[4] = {65535, 0, 1, 4097};
  uint32_t u32[4] = {UINT32_MAX, 16777219u, 0, 33554435u};
  uint64_t u64[4] = {UINT64_MAX, 9007199254740993ull, 0, 1ull << 63};
  /* the arrays above are in host order; the file is little-endian */
  uint8_t buf[15][32];
  const void *src[15] = {f64, f32, f16, bf16, e4m3, e5m2, i8,   i16,
                         i32, i64, u8,  u16,  u32,  u64,  bools};
  for (int d = 1; d <= 15; d++) {
    size_t es = tcodec_dtype_size(d);
    const uint8_t *s = src[d - 1];
    for (size_t i = 0; i < 4; i++) {
      uint64_t u = 0;
      if (es == 8) {
        memcpy(&u, s + 8 * i, 8);
      } else if (es == 4) {
        uint32_t x;
        memcpy(&x, s + 4 * i, 4);
        u = x;
      } else if (es == 2) {
        uint16_t x;
        memcpy(&x, s + 2 * i, 2);
        u = x;
      } else {
        u = s[i];
      }
      le_put(buf[d - 1] + es * i, u, (unsigned)es);
    }
    vec_raw(&v, tcodec_dtype_name(d), d, &s4, buf[d - 1]);
  }
done:
  vec_end(&v);
}

static void vec_raw_bytegroup(tv_gen *g) {
  static const tv_shape s23 = {2, {2, 3}};
  tv_vec v;
  if (vec_begin(g, &v, "raw_bytegroup",
                "raw with byte grouping (\"bg\": plane k = byte k of every element) for "
                "f64, f32, f16, bf16, next to the same f32 data without grouping",
                TCODEC_CODER_NONE, 64) != 0)
    goto done;
  uint8_t b64[48], b32[24], b16[12], bb16[12];
  for (int i = 0; i < 6; i++) {
    double d = ldexp((double)(2 * i - 5) * 1025.0, i - 11); /* exact */
    uint64_t u;
    memcpy(&u, &d, 8);
    le_put(b64 + 8 * i, u, 8);
    float f = exact_f32((2 * i - 5) * 789013, i - 21);
    le_put(b32 + 4 * i, f32_bits(f), 4);
    le_put(b16 + 2 * i, f32_to_f16(f), 2);
    le_put(bb16 + 2 * i, f32_to_bf16(f), 2);
  }
  vec_raw_bg(&v, "f64.bg", TCODEC_F64, &s23, b64, 1);
  vec_raw_bg(&v, "f32.bg", TCODEC_F32, &s23, b32, 1);
  vec_raw_bg(&v, "f16.bg", TCODEC_F16, &s23, b16, 1);
  vec_raw_bg(&v, "bf16.bg", TCODEC_BF16, &s23, bb16, 1);
  vec_raw_bg(&v, "f32.plain", TCODEC_F32, &s23, b32, 0);
done:
  vec_end(&v);
}

/* Scalars, zero-element tensors, many dimensions. */
static void vec_shapes(tv_gen *g) {
  static const tv_shape scalar = {0, {0}}, z05 = {2, {0, 5}}, z30 = {2, {3, 0}},
                        s5d = {5, {1, 2, 1, 2, 1}}, s1 = {1, {1}};
  tv_vec v;
  if (vec_begin(g, &v, "dir_shapes",
                "scalars (ndim 0) raw, ternary (tensor granularity), k-bit (group "
                "granularity), binary; zero-element tensors [0,5] raw and [3,0] ternary per "
                "channel; a 5-dimensional and a 1-element tensor",
                TCODEC_CODER_NONE, 64) != 0)
    goto done;
  uint8_t f[64];
  le_put(f, f32_bits(-2.75f), 4);
  vec_raw(&v, "scalar.raw", TCODEC_F32, &scalar, f);
  tv_qt t;
  qt_fill(&t, TCODEC_ENC_TERNARY, &scalar, TCODEC_GRAN_TENSOR, 0, 0, 0, TCODEC_F16, 61);
  t.sym[0] = -1;
  vec_quant(&v, "scalar.ternary", TCODEC_F32, &t.sh, &t.q);
  qt_kbit(&t, &scalar, TCODEC_GRAN_GROUP, 0, 1, TCODEC_F32, 3, 1, 0, 62);
  vec_quant(&v, "scalar.kbit", TCODEC_F16, &t.sh, &t.q);
  qt_fill(&t, TCODEC_ENC_BINARY, &scalar, TCODEC_GRAN_GROUP, 0, 5, 1, TCODEC_BF16, 63);
  vec_quant(&v, "scalar.binary", TCODEC_BF16, &t.sh, &t.q);
  vec_raw(&v, "empty.raw", TCODEC_F32, &z05, f);
  qt_fill(&t, TCODEC_ENC_TERNARY, &z30, TCODEC_GRAN_CHANNEL, 0, 0, 1, TCODEC_F32, 64);
  vec_quant(&v, "empty.ternary", TCODEC_F32, &t.sh, &t.q);
  uint16_t h[4] = {0x3c00, 0xbc00, 0x3555, 0x0400};
  for (int i = 0; i < 4; i++) le_put(f + 2 * i, h[i], 2);
  vec_raw(&v, "rank5", TCODEC_F16, &s5d, f);
  le_put(f, 0xdeadbeefu, 4);
  vec_raw(&v, "one", TCODEC_U32, &s1, f);
done:
  vec_end(&v);
}

/* Every encoding with the zstd coder forced on every non-empty stream. */
static void vec_zstd(tv_gen *g) {
  static const tv_shape s8x8 = {2, {8, 8}}, s4x16 = {2, {4, 16}};
  tv_vec v;
  if (vec_begin(g, &v, "stream_zstd",
                "zstd coder (1) on every non-empty stream: raw f32 with byte grouping, raw "
                "i16, ternary, binary, sparse k-bit, hybrid",
                TCODEC_CODER_ZSTD, 64) != 0)
    goto done;
  uint8_t raw[256];
  for (int i = 0; i < 64; i++) le_put(raw + 4 * i, f32_bits(exact_f32(i % 9 - 4, -3)), 4);
  vec_raw_bg(&v, "raw.f32", TCODEC_F32, &s8x8, raw, 1);
  for (int i = 0; i < 64; i++) le_put(raw + 2 * i, (uint64_t)(int16_t)(i * i - 700), 2);
  vec_raw(&v, "raw.i16", TCODEC_I16, &s8x8, raw);
  tv_qt t;
  qt_fill(&t, TCODEC_ENC_TERNARY, &s8x8, TCODEC_GRAN_CHANNEL, 0, 0, 1, TCODEC_F16, 71);
  vec_quant(&v, "ternary", TCODEC_F32, &t.sh, &t.q);
  qt_fill(&t, TCODEC_ENC_BINARY, &s4x16, TCODEC_GRAN_GROUP, 0, 16, 0, TCODEC_F32, 72);
  vec_quant(&v, "binary", TCODEC_F16, &t.sh, &t.q);
  qt_kbit(&t, &s8x8, TCODEC_GRAN_CHANNEL, 1, 0, TCODEC_BF16, 4, 1, 1, 73);
  vec_quant(&v, "kbit", TCODEC_F32, &t.sh, &t.q);
  static const uint8_t kinds[4] = {0, 1, 1, 0};
  qt_hybrid(&t, &s4x16, kinds, 1, TCODEC_F32, TCODEC_F16, 74);
  vec_quant(&v, "hybrid", TCODEC_F32, &t.sh, &t.q);
done:
  vec_end(&v);
}

static void vec_meta(tv_gen *g) {
  static const tv_shape s3 = {1, {3}};
  tv_vec v;
  if (vec_begin(g, &v, "dir_meta_sections",
                "model metadata (text incl. UTF-8, and a byte string with NUL and 0xFF), "
                "per-tensor metadata, two optional sections (one empty), alignment 128",
                TCODEC_CODER_NONE, 128) != 0)
    goto done;
  vec_meta_text(&v, "producer", "tcvectors");
  vec_meta_text(&v, "source_format", "safetensors");
  vec_meta_text(&v, "x.note", "caf\xc3\xa9 \xe2\x86\x92 \"quoted\"\ttab");
  static const uint8_t blob[6] = {0x00, 0xff, 0x10, 0x00, 0x7f, 0x80};
  vec_meta_bytes(&v, "x.blob", blob, sizeof(blob));
  static const char sec[] = "{\"graph\": \"conv -> relu\"}";
  vec_section(&v, "x.skeleton", sec, sizeof(sec) - 1);
  vec_section(&v, "x.empty", NULL, 0);
  static const char *const mk[2] = {"layout", "x.origin"};
  static const char *const mv[2] = {"OIHW", "layer 0"};
  tv_qt t;
  qt_fill(&t, TCODEC_ENC_TERNARY, &s3, TCODEC_GRAN_TENSOR, 0, 0, 1, TCODEC_F32, 81);
  vec_quant_meta(&v, "conv.weight", TCODEC_F32, &t.sh, &t.q, mk, mv, 2);
  uint8_t f[12];
  for (int i = 0; i < 3; i++) le_put(f + 4 * i, f32_bits(exact_f32(2 * i - 1, -2)), 4);
  vec_raw(&v, "conv.bias", TCODEC_F32, &s3, f);
done:
  vec_end(&v);
}

/* ==== hand-built files: own CBOR directory, own layout ================================= */

typedef struct hst {
  unsigned role;
  uint64_t off, size, len, coder, xxh3;
} hst;

typedef struct hkv {
  const char *key;
  int is_bool;
  uint64_t v;
} hkv;

typedef struct hten {
  const char *name;
  uint64_t dtype, enc;
  tv_shape sh;
  hkv par[12];
  unsigned npar;
  hst st[8];
  unsigned nst;
} hten;

typedef struct hdir {
  uint64_t align;
  hten t[3];
  unsigned nt;
  int has_section, sec_critical;
  const char *sec_type;
  hst sec;
  const char *requires;
  const char *drop;                /* omit this key from every map */
  int shape_text;                  /* "shape" is a text string */
  int extra_keys;                  /* forward compatibility: unknown keys in every map */
  int dup_dtype;                   /* tensor maps hold "dtype" twice */
  const char *meta_key, *meta_val; /* one model-level metadata entry */
} hdir;

/* Map under construction: entries go to a buffer and are counted, then the head. */
typedef struct hmap {
  tv_buf b;
  uint64_t n;
  const hdir *d;
} hmap;

static int hm_key(hmap *m, const char *key) {
  if (m->d->drop != NULL && strcmp(m->d->drop, key) == 0) return 0;
  m->n++;
  cb_text(&m->b, key);
  return 1;
}

static void hm_uint(hmap *m, const char *key, uint64_t v) {
  if (hm_key(m, key)) cb_uint(&m->b, v);
}

static void hm_extra(hmap *m) { /* unknown keys a v1.0 reader must ignore */
  if (!m->d->extra_keys) return;
  hm_uint(m, "x.future", 7);
  if (hm_key(m, "x.future.map")) {
    cb_head(&m->b, 5, 1);
    cb_text(&m->b, "k");
    cb_head(&m->b, 4, 2);
    cb_bytes(&m->b, "\x01\x02", 2);
    cb_head(&m->b, 1, 41); /* -42 */
  }
}

static void hm_close(tv_buf *out, hmap *m) {
  cb_head(out, 5, m->n);
  tv_put(out, m->b.p, m->b.len);
  tv_free(&m->b);
}

static void h_stream(tv_buf *out, const hdir *d, const hst *s) {
  hmap m = {{0}, 0, d};
  hm_uint(&m, "role", s->role);
  hm_uint(&m, "off", s->off);
  hm_uint(&m, "size", s->size);
  hm_uint(&m, "len", s->len);
  hm_uint(&m, "coder", s->coder);
  hm_uint(&m, "xxh3", s->xxh3);
  hm_extra(&m);
  hm_close(out, &m);
}

static void h_tensor(tv_buf *out, const hdir *d, const hten *t) {
  hmap m = {{0}, 0, d};
  if (hm_key(&m, "name")) cb_text(&m.b, t->name);
  hm_uint(&m, "dtype", t->dtype);
  if (d->dup_dtype) hm_uint(&m, "dtype", t->dtype);
  if (hm_key(&m, "shape")) {
    if (d->shape_text) {
      cb_text(&m.b, "2x5");
    } else {
      cb_head(&m.b, 4, t->sh.ndim);
      for (unsigned i = 0; i < t->sh.ndim; i++) cb_uint(&m.b, t->sh.dim[i]);
    }
  }
  hm_uint(&m, "enc", t->enc);
  if (t->npar > 0 && hm_key(&m, "params")) {
    hmap p = {{0}, 0, d};
    for (unsigned i = 0; i < t->npar; i++) {
      if (!hm_key(&p, t->par[i].key)) continue;
      if (t->par[i].is_bool)
        cb_bool(&p.b, (int)t->par[i].v);
      else
        cb_uint(&p.b, t->par[i].v);
    }
    hm_extra(&p);
    hm_close(&m.b, &p);
  }
  if (hm_key(&m, "streams")) {
    cb_head(&m.b, 4, t->nst);
    for (unsigned i = 0; i < t->nst; i++) h_stream(&m.b, d, &t->st[i]);
  }
  hm_extra(&m);
  hm_close(out, &m);
}

/* Key order as the library's writer uses (align, meta, sections, requires, tensors):
 * not required by the spec, but it lets the base files match the writer's bytes. */
static void h_directory(tv_buf *out, const hdir *d) {
  hmap m = {{0}, 0, d};
  hm_uint(&m, "align", d->align);
  if (d->meta_key != NULL && hm_key(&m, "meta")) {
    cb_head(&m.b, 5, 1);
    cb_text(&m.b, d->meta_key);
    cb_text(&m.b, d->meta_val);
  }
  if (d->has_section && hm_key(&m, "sections")) {
    cb_head(&m.b, 4, 1);
    hmap s = {{0}, 0, d};
    if (hm_key(&s, "type")) cb_text(&s.b, d->sec_type);
    if (hm_key(&s, "critical")) cb_bool(&s.b, d->sec_critical);
    if (hm_key(&s, "stream")) h_stream(&s.b, d, &d->sec);
    hm_extra(&s);
    hm_close(&m.b, &s);
  }
  if (d->requires != NULL && hm_key(&m, "requires")) {
    cb_head(&m.b, 4, 1);
    cb_text(&m.b, d->requires);
  }
  hm_extra(&m);
  if (hm_key(&m, "tensors")) {
    cb_head(&m.b, 4, d->nt);
    for (unsigned i = 0; i < d->nt; i++) h_tensor(&m.b, d, &d->t[i]);
  }
  hm_close(out, &m);
}

/* Payload area under construction: pay[0] is file offset 64. */
typedef struct hfile {
  tv_buf pay;
  uint8_t gap_fill; /* value of unused bytes between streams */
} hfile;

static uint64_t hf_at(hfile *h, uint64_t off, const void *src, size_t n) {
  while (64 + h->pay.len < off) tv_put8(&h->pay, h->gap_fill);
  if (64 + h->pay.len > off) { /* overwrite (overlapping streams) */
    size_t at = (size_t)(off - 64);
    size_t keep = h->pay.len - at < n ? h->pay.len - at : n;
    memcpy(h->pay.p + at, src, keep);
    tv_put(&h->pay, (const uint8_t *)src + keep, n - keep);
    return off;
  }
  tv_put(&h->pay, src, n);
  return off;
}

static uint64_t hf_next(const hfile *h, uint64_t align) {
  uint64_t pos = 64 + h->pay.len;
  return (pos + align - 1) / align * align;
}

/* Append a stream aligned to `align` and describe it (coder 0). */
static hst hf_stream(hfile *h, unsigned role, const void *src, size_t n, uint64_t align) {
  hst s = {role, hf_next(h, align), n, n, 0, xxh3(src, n)};
  hf_at(h, s.off, src, n);
  return s;
}

static void fix_header(tv_buf *f) { le_put(f->p + 16, xxh3(f->p, 16), 8); }
static void fix_trailer(tv_buf *f) {
  uint8_t *t = f->p + f->len - 48;
  le_put(t + 32, xxh3(t, 32), 8);
}

/* header + payload + directory + trailer. */
static void hf_assemble(tv_buf *out, const hfile *h, const tv_buf *dir, unsigned minor) {
  uint8_t hd[64] = {0}, tr[48] = {0};
  memcpy(hd, tv_magic, 8);
  le_put(hd + 8, 1, 2);
  le_put(hd + 10, minor, 2);
  le_put(hd + 16, xxh3(hd, 16), 8);
  out->len = 0;
  tv_put(out, hd, 64);
  tv_put(out, h->pay.p, h->pay.len);
  le_put(tr, out->len, 8);
  le_put(tr + 8, dir->len, 8);
  le_put(tr + 16, xxh3(dir->p, dir->len), 8);
  le_put(tr + 24, 1, 2);
  le_put(tr + 26, minor, 2);
  le_put(tr + 32, xxh3(tr, 32), 8);
  memcpy(tr + 40, tv_end_magic, 8);
  tv_put(out, dir->p, dir->len);
  tv_put(out, tr, 48);
}

static void hk(hten *t, const char *key, int is_bool, uint64_t v) {
  t->par[t->npar++] = (hkv){key, is_bool, v};
}

/* Ternary tensor, tensor granularity, given scale dtype and scales; streams mask,
 * signs, scales in that order. */
static void ht_ternary(hfile *h, hten *t, const char *name, const tv_shape *sh, const int8_t *sym,
                       int symmetric, int sdtype, const uint8_t *scales, uint64_t align) {
  uint8_t mask[64] = {0}, signs[64] = {0};
  uint64_t n = shape_nelem(sh), nnz = 0;
  for (uint64_t i = 0; i < n; i++) {
    if (sym[i] == 0) continue;
    pack_bits(mask, i, 1, 1);
    pack_bits(signs, nnz++, sym[i] < 0, 1);
  }
  memset(t, 0, sizeof(*t));
  t->name = name;
  t->dtype = TCODEC_F32;
  t->enc = TCODEC_ENC_TERNARY;
  t->sh = *sh;
  hk(t, "gran", 0, 0);
  hk(t, "sym", 1, (uint64_t)symmetric);
  hk(t, "sdtype", 0, (uint64_t)sdtype);
  hk(t, "nnz", 0, nnz);
  t->st[0] = hf_stream(h, TCODEC_ROLE_MASK, mask, (size_t)((n + 7) / 8), align);
  t->st[1] = hf_stream(h, TCODEC_ROLE_SIGNS, signs, (size_t)((nnz + 7) / 8), align);
  t->st[2] = hf_stream(h, TCODEC_ROLE_SCALES, scales,
                       (symmetric ? 1 : 2) * tcodec_dtype_size(sdtype), align);
  t->nst = 3;
}

static void ht_raw(hfile *h, hten *t, const char *name, int dtype, const tv_shape *sh,
                   const void *src, uint64_t align) {
  memset(t, 0, sizeof(*t));
  t->name = name;
  t->dtype = (uint64_t)dtype;
  t->enc = TCODEC_ENC_RAW;
  t->sh = *sh;
  hk(t, "bg", 1, 0);
  t->st[0] = hf_stream(h, TCODEC_ROLE_DATA, src,
                       (size_t)(shape_nelem(sh) * tcodec_dtype_size(dtype)), align);
  t->nst = 1;
}

/* The base of most invalid vectors: tensor "w", ternary f32 [2,5], symbols below
 * (nnz 5), scale 0.5 f32; mask at 64, signs at 128, scales at 192, directory at 196. */
static const int8_t base_sym[10] = {1, 0, -1, 0, 0, -1, 1, 0, 0, 1};
static const uint8_t base_scale[4] = {0x00, 0x00, 0x00, 0x3f};

/* A second, healthy tensor "ok" (raw f32 [2]) for vectors whose error shows on decode:
 * the reader must still decode it. */
static const uint8_t ok_data[8] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0};
static const tv_shape SH_2 = {1, {2}};

typedef struct hbase {
  hfile h;
  hdir d;
} hbase;

static void base_init(hbase *b, int with_ok) {
  memset(b, 0, sizeof(*b));
  b->d.align = 64;
  ht_ternary(&b->h, &b->d.t[0], "w", &SH_2x5, base_sym, 1, TCODEC_F32, base_scale, 64);
  b->d.nt = 1;
  if (with_ok) ht_raw(&b->h, &b->d.t[b->d.nt++], "ok", TCODEC_F32, &SH_2, ok_data, 64);
}

static void base_file(tv_buf *out, const hbase *b, unsigned minor) {
  tv_buf dir = {0};
  h_directory(&dir, &b->d);
  hf_assemble(out, &b->h, &dir, minor);
  tv_free(&dir);
}

static void base_release(hbase *b) { tv_free(&b->h.pay); }

static uint64_t dir_offset_of(const tv_buf *f) { return le_get(f->p + f->len - 48, 8); }

/* Replace the directory of an assembled file by `dir` (sizes and checksums follow). */
static void set_directory(tv_buf *f, const tv_buf *dir) {
  uint64_t off = dir_offset_of(f);
  tv_buf out = {0};
  tv_put(&out, f->p, (size_t)off);
  tv_put(&out, dir->p, dir->len);
  uint8_t tr[48];
  memcpy(tr, f->p + f->len - 48, 48);
  le_put(tr + 8, dir->len, 8);
  le_put(tr + 16, xxh3(dir->p, dir->len), 8);
  le_put(tr + 32, xxh3(tr, 32), 8);
  tv_put(&out, tr, 48);
  tv_free(f);
  *f = out;
}

/* Position of `pat` (n bytes) in buf, which must occur exactly once. */
static size_t find_once(tv_gen *g, const tv_buf *b, const void *pat, size_t n) {
  size_t found = SIZE_MAX, count = 0;
  for (size_t i = 0; i + n <= b->len; i++)
    if (memcmp(b->p + i, pat, n) == 0) {
      found = i;
      count++;
    }
  if (count != 1) gen_fail(g, "pattern occurs %zu times in the directory", count);
  return found;
}

/* ---- invalid vectors ---- */

typedef struct tv_inv {
  tv_gen *g;
  const char *name;
  tv_buf f;
  char limits[160]; /* further .expect lines: "limit NAME VALUE\n" */
} tv_inv;

/* Emit NAME.tc and NAME.expect (spec Appendix A: "CODE OFFSET", then the limit lines) and
 * a README row naming the step of the harness that must fail. */
static void inv_emit(tv_inv *v, const char *code, uint64_t off, const char *stage,
                     const char *what) {
  tv_buf e = {0};
  tv_printf(&e, "%s %llu\n%s", code, (unsigned long long)off, v->limits);
  gen_emit(v->g, "invalid", v->name, ".tc", &v->f);
  gen_emit(v->g, "invalid", v->name, ".expect", &e);
  tv_buf *r = &v->g->readme_invalid;
  tv_printf(r, "| `%s` | %s | %s | `%s %llu`", v->name, what, stage, code, (unsigned long long)off);
  if (v->limits[0] != '\0') {
    tv_printf(r, ", `%.*s`", (int)strcspn(v->limits, "\n"), v->limits);
  }
  tv_printf(r, " |\n");
  tv_free(&e);
  tv_free(&v->f);
}

static void inv_from_base(tv_gen *g, tv_inv *v, const char *name, const hbase *b) {
  memset(v, 0, sizeof(*v));
  v->g = g;
  v->name = name;
  base_file(&v->f, b, 0);
}

/* Header, trailer and truncation: patches of the base file. T = F - 48. */
static void inv_container(tv_gen *g) {
  hbase b;
  base_init(&b, 0);
  tv_inv v;
  size_t T;

  inv_from_base(g, &v, "header_magic", &b);
  v.f.p[1] = 't';
  inv_emit(&v, "TCODEC_E_MAGIC", 0, "open (step 2)", "magic byte 1 changed ('T' -> 't')");

  inv_from_base(g, &v, "header_checksum", &b);
  v.f.p[16] ^= 0x01;
  inv_emit(&v, "TCODEC_E_HEADER", 16, "open (step 3)", "header_xxh3 off by one bit");

  inv_from_base(g, &v, "header_major", &b);
  le_put(v.f.p + 8, 2, 2);
  fix_header(&v.f);
  le_put(v.f.p + v.f.len - 48 + 24, 2, 2);
  fix_trailer(&v.f);
  inv_emit(&v, "TCODEC_E_VERSION", 8, "open (step 4)",
           "major 2 in header and trailer, both checksums valid");

  inv_from_base(g, &v, "header_flags", &b);
  le_put(v.f.p + 12, 1, 4);
  fix_header(&v.f);
  inv_emit(&v, "TCODEC_E_RESERVED", 12, "open (step 5)", "header flags = 1, checksum valid");

  inv_from_base(g, &v, "file_truncated_0", &b);
  v.f.len = 0;
  inv_emit(&v, "TCODEC_E_TRUNCATED", 0, "open (step 1)", "empty file");

  inv_from_base(g, &v, "file_truncated_111", &b);
  v.f.len = 111;
  inv_emit(&v, "TCODEC_E_TRUNCATED", 111, "open (step 1)",
           "the first 111 bytes (one less than the smallest file)");

  inv_from_base(g, &v, "file_truncated_half", &b);
  v.f.len /= 2;
  inv_emit(&v, "TCODEC_E_TRAILER", v.f.len - 8, "open (step 6)",
           "the first half of the file: no end magic");

  inv_from_base(g, &v, "file_truncated_1", &b);
  v.f.len -= 1;
  inv_emit(&v, "TCODEC_E_TRAILER", v.f.len - 8, "open (step 6)", "the last byte missing");

  inv_from_base(g, &v, "trailer_end_magic", &b);
  T = v.f.len - 48;
  v.f.p[T + 47] ^= 0xff;
  inv_emit(&v, "TCODEC_E_TRAILER", T + 40, "open (step 6)", "last byte of end_magic changed");

  inv_from_base(g, &v, "trailer_checksum", &b);
  T = v.f.len - 48;
  v.f.p[T + 32] ^= 0x80;
  inv_emit(&v, "TCODEC_E_TRAILER", T + 32, "open (step 7)", "trailer_xxh3 off by one bit");

  inv_from_base(g, &v, "trailer_version", &b);
  T = v.f.len - 48;
  le_put(v.f.p + T + 24, 2, 2);
  fix_trailer(&v.f);
  inv_emit(&v, "TCODEC_E_TRAILER", T + 24, "open (step 8)",
           "trailer major 2, header major 1; trailer checksum valid");

  inv_from_base(g, &v, "trailer_flags", &b);
  T = v.f.len - 48;
  le_put(v.f.p + T + 28, 1, 4);
  fix_trailer(&v.f);
  inv_emit(&v, "TCODEC_E_RESERVED", T + 28, "open (step 9)", "trailer flags = 1, checksum valid");

  inv_from_base(g, &v, "trailer_dir_low", &b);
  T = v.f.len - 48;
  le_put(v.f.p + T, 32, 8);
  le_put(v.f.p + T + 8, T - 32, 8);
  fix_trailer(&v.f);
  inv_emit(&v, "TCODEC_E_TRAILER", T, "open (step 10)",
           "dir_offset 32 (inside the header), dir_offset + dir_size = T");

  inv_from_base(g, &v, "trailer_dir_wrap", &b);
  T = v.f.len - 48;
  le_put(v.f.p + T, UINT64_MAX - 15, 8);
  le_put(v.f.p + T + 8, T + 16, 8);
  fix_trailer(&v.f);
  inv_emit(&v, "TCODEC_E_TRAILER", T, "open (step 10)",
           "dir_offset 2^64 - 16 and dir_size T + 16: the 64-bit sum wraps to T");

  inv_from_base(g, &v, "limit_dir_bytes", &b);
  T = v.f.len - 48;
  snprintf(v.limits, sizeof(v.limits), "limit DIR_BYTES %llu\n",
           (unsigned long long)(le_get(v.f.p + T + 8, 8) - 1));
  inv_emit(&v, "TCODEC_E_LIMIT", T + 8, "open (step 11)",
           "valid file, limit DIR_BYTES one less than its dir_size");

  inv_from_base(g, &v, "dir_checksum", &b);
  v.f.p[dir_offset_of(&v.f) + 3] ^= 0x20;
  inv_emit(&v, "TCODEC_E_DIR_CHECKSUM", dir_offset_of(&v.f), "open (step 12)",
           "one directory byte changed");
  base_release(&b);
}

/* The base file with its directory re-encoded from a modified description. */
static void inv_dir(tv_gen *g, const char *name, const hbase *b, const char *code,
                    const char *stage, const char *what) {
  tv_inv v;
  inv_from_base(g, &v, name, b);
  inv_emit(&v, code, dir_offset_of(&v.f), stage, what);
}

/* CBOR well-formedness: byte patches of the re-encoded directory. */
static void inv_cbor(tv_gen *g) {
  hbase b;
  tv_inv v;
  tv_buf dir = {0};
  base_init(&b, 0);

  inv_from_base(g, &v, "dir_cbor_reserved_ai", &b);
  h_directory(&dir, &b.d);
  size_t at = find_once(g, &dir,
                        "\x65"
                        "align\x18\x40",
                        8) +
              6;
  memmove(dir.p + at + 1, dir.p + at + 2, dir.len - at - 2);
  dir.len--;
  dir.p[at] = 0x1c; /* major type 0 with additional information 28: reserved */
  set_directory(&v.f, &dir);
  inv_emit(&v, "TCODEC_E_DIR_CBOR", dir_offset_of(&v.f), "open (step 13)",
           "the value of \"align\" has additional information 28 (not well-formed)");

  inv_from_base(g, &v, "dir_cbor_indefinite", &b);
  dir.len = 0;
  h_directory(&dir, &b.d);
  at = find_once(g, &dir,
                 "\x67"
                 "tensors\x81",
                 9) +
       8;
  dir.p[at] = 0x9f;    /* indefinite-length array ... */
  tv_put8(&dir, 0xff); /* ... closed by a break: well-formed, but forbidden */
  set_directory(&v.f, &dir);
  inv_emit(&v, "TCODEC_E_DIR_CBOR", dir_offset_of(&v.f), "open (step 13)",
           "\"tensors\" is an indefinite-length array");

  inv_from_base(g, &v, "dir_cbor_trailing", &b);
  dir.len = 0;
  h_directory(&dir, &b.d);
  tv_put8(&dir, 0x00);
  set_directory(&v.f, &dir);
  inv_emit(&v, "TCODEC_E_DIR_CBOR", dir_offset_of(&v.f), "open (step 13)",
           "a byte 0x00 after the top-level map, inside dir_size");
  tv_free(&dir);
  base_release(&b);
}

static void inv_schema(tv_gen *g) {
  hbase b;
  base_init(&b, 0);
  b.d.dup_dtype = 1;
  inv_dir(g, "dir_duplicate_key", &b, "TCODEC_E_DIR_SCHEMA", "open (step 14)",
          "the tensor map holds \"dtype\" twice");
  b.d.dup_dtype = 0;
  b.d.requires = "x.future";
  inv_dir(g, "dir_requires", &b, "TCODEC_E_UNSUPPORTED_FEATURE", "open (step 15)",
          "\"requires\": [\"x.future\"]");
  b.d.requires = NULL;
  b.d.align = 32;
  inv_dir(g, "dir_align_small", &b, "TCODEC_E_DIR_SCHEMA", "open (step 16)",
          "\"align\" 32: a power of two below 64 (the streams are multiples of it)");
  b.d.align = 64;
  b.d.drop = "tensors";
  inv_dir(g, "dir_missing_tensors", &b, "TCODEC_E_DIR_SCHEMA", "open (step 19)",
          "no \"tensors\" key");
  b.d.drop = "xxh3";
  inv_dir(g, "dir_missing_stream_key", &b, "TCODEC_E_DIR_SCHEMA", "open (step 19e)",
          "stream maps without \"xxh3\"");
  b.d.drop = "nnz";
  inv_dir(g, "dir_missing_param", &b, "TCODEC_E_PARAMS", "open (step 19d)",
          "ternary params without \"nnz\"");
  b.d.drop = NULL;
  b.d.shape_text = 1;
  inv_dir(g, "dir_wrong_type", &b, "TCODEC_E_DIR_SCHEMA", "open (step 19c)",
          "\"shape\" is the text \"2x5\"");
  b.d.shape_text = 0;
  b.d.t[0].enc = 0;
  inv_dir(g, "dir_enc_zero", &b, "TCODEC_E_DIR_SCHEMA", "open (step 19b)", "\"enc\" 0");
  b.d.t[0].enc = TCODEC_ENC_TERNARY;
  b.d.t[0].dtype = 16;
  inv_dir(g, "dir_unknown_dtype", &b, "TCODEC_E_UNSUPPORTED_DTYPE", "open (step 19f)",
          "dtype id 16");
  b.d.t[0].dtype = TCODEC_I8;
  inv_dir(g, "dir_quant_int_dtype", &b, "TCODEC_E_UNSUPPORTED_DTYPE", "open (step 19f)",
          "ternary tensor of original dtype i8");
  b.d.t[0].dtype = TCODEC_F32;
  b.d.t[0].st[2].coder = 128;
  inv_dir(g, "dir_coder_invalid", &b, "TCODEC_E_DIR_SCHEMA", "open (step 19e)",
          "scales stream with coder 128");
  b.d.t[0].st[2].coder = 0;
  b.d.t[0].name = "w\xff";
  inv_dir(g, "dir_name_not_utf8", &b, "TCODEC_E_DIR_SCHEMA", "open (step 19a)",
          "tensor name \"w\" followed by byte 0xFF (not UTF-8)");
  base_release(&b);

  base_init(&b, 0); /* raw f32 [2^32, 2^32]: 2^64 elements */
  b.d.t[0].enc = TCODEC_ENC_RAW;
  b.d.t[0].npar = 0;
  b.d.t[0].sh = (tv_shape){2, {1ull << 32, 1ull << 32}};
  b.d.t[0].nst = 1;
  b.d.t[0].st[0].role = TCODEC_ROLE_DATA;
  inv_dir(g, "dir_shape_overflow", &b, "TCODEC_E_SHAPE", "open (step 19c)",
          "raw tensor of shape [2^32, 2^32]: the product is 2^64");
  base_release(&b);

  base_init(&b, 0);
  ht_ternary(&b.h, &b.d.t[1], "w", &SH_2x5, base_sym, 1, TCODEC_F32, base_scale, 64);
  b.d.nt = 2;
  inv_dir(g, "dir_duplicate_name", &b, "TCODEC_E_DUPLICATE", "open (step 20)",
          "two tensors named \"w\", each with its own streams");
  base_release(&b);

  base_init(&b, 0);
  b.d.has_section = 1;
  b.d.sec_critical = 1;
  b.d.sec_type = "x.future";
  b.d.sec = hf_stream(&b.h, 0, "needed", 6, 64);
  inv_dir(g, "section_critical", &b, "TCODEC_E_UNSUPPORTED_SECTION", "open (step 18)",
          "a critical section of type \"x.future\"");
  base_release(&b);
}

/* Limits set by the .expect file (open, offset D). */
static void inv_limits(tv_gen *g) {
  hbase b;
  tv_inv v;
  base_init(&b, 1);
  inv_from_base(g, &v, "limit_tensors", &b);
  snprintf(v.limits, sizeof(v.limits), "limit TENSORS 1\n");
  inv_emit(&v, "TCODEC_E_LIMIT", dir_offset_of(&v.f), "open (step 19)",
           "valid file of 2 tensors, limit TENSORS 1");
  inv_from_base(g, &v, "limit_tensor_elems", &b);
  snprintf(v.limits, sizeof(v.limits), "limit TENSOR_ELEMS 9\n");
  inv_emit(&v, "TCODEC_E_LIMIT", dir_offset_of(&v.f), "open (step 19c)",
           "valid file with a tensor of 10 elements, limit TENSOR_ELEMS 9");
  b.d.meta_key = "producer";
  b.d.meta_val = "tcvectors";
  inv_from_base(g, &v, "limit_meta_bytes", &b);
  snprintf(v.limits, sizeof(v.limits), "limit META_BYTES 16\n");
  inv_emit(&v, "TCODEC_E_LIMIT", dir_offset_of(&v.f), "open (step 17)",
           "valid file with metadata of 8 + 9 bytes, limit META_BYTES 16");
  b.d.meta_key = NULL;
  b.d.has_section = 1;
  b.d.sec_type = "x.note";
  b.d.sec = hf_stream(&b.h, 0, "sixsix", 6, 64);
  inv_from_base(g, &v, "limit_section_bytes", &b);
  snprintf(v.limits, sizeof(v.limits), "limit SECTION_BYTES 5\n");
  inv_emit(&v, "TCODEC_E_LIMIT", dir_offset_of(&v.f), "open (step 18)",
           "valid file with an optional section of 6 bytes, limit SECTION_BYTES 5");
  base_release(&b);
}

/* Stream placement and declared sizes: offset = the stream's off. */
static void inv_streams(tv_gen *g) {
  hbase b;
  tv_inv v;

  base_init(&b, 0);
  b.d.t[0].st[1].off = 96; /* signs stored at 96 instead of 128 */
  hf_at(&b.h, 96, "\x06", 1);
  inv_from_base(g, &v, "stream_misaligned", &b);
  inv_emit(&v, "TCODEC_E_STREAM_RANGE", 96, "open (S1)", "signs stream at 96 with align 64");
  base_release(&b);

  base_init(&b, 0);
  b.d.t[0].st[0].off = 0;
  inv_from_base(g, &v, "stream_in_header", &b);
  inv_emit(&v, "TCODEC_E_STREAM_RANGE", 0, "open (S1)",
           "mask stream at offset 0 (aligned, inside the header)");
  base_release(&b);

  base_init(&b, 0);
  b.d.t[0].st[2].off = 1u << 20;
  inv_from_base(g, &v, "stream_outside", &b);
  inv_emit(&v, "TCODEC_E_STREAM_RANGE", 1u << 20, "open (S1)",
           "scales stream at 2^20, past the directory and the file");
  base_release(&b);

  memset(&b, 0, sizeof(b)); /* raw f32 [20] at 64 (80 bytes), directory at 104 */
  b.d.align = 64;
  {
    uint8_t data[80];
    for (int i = 0; i < 80; i++) data[i] = (uint8_t)i;
    tv_shape s20 = {1, {20}};
    ht_raw(&b.h, &b.d.t[0], "r", TCODEC_F32, &s20, data, 64);
    b.d.nt = 1;
    b.h.pay.len = 40;
  }
  inv_from_base(g, &v, "stream_past_payload", &b);
  inv_emit(&v, "TCODEC_E_STREAM_RANGE", 64, "open (S1)",
           "raw stream [64, 144) while the directory starts at 104");
  base_release(&b);

  memset(&b, 0, sizeof(b)); /* raw "a" f32 [20] at [64, 144), raw "b" f32 [2] at [128, 136) */
  b.d.align = 64;
  {
    uint8_t data[80];
    for (int i = 0; i < 80; i++) data[i] = (uint8_t)(i * 3);
    tv_shape s20 = {1, {20}};
    ht_raw(&b.h, &b.d.t[0], "a", TCODEC_F32, &s20, data, 64);
    ht_raw(&b.h, &b.d.t[1], "b", TCODEC_F32, &SH_2, data + 64, 64);
    b.d.t[1].st[0].off = 128;
    b.h.pay.len = 80; /* drop the copy the second ht_raw appended */
    b.d.nt = 2;
  }
  inv_from_base(g, &v, "stream_overlap", &b);
  inv_emit(&v, "TCODEC_E_STREAM_RANGE", 128, "open (S4)",
           "tensor b's stream [128, 136) lies inside tensor a's [64, 144)");
  base_release(&b);

  base_init(&b, 0); /* signs: size 2, len 1, coder 0 */
  b.d.t[0].st[1].size = 2;
  hf_at(&b.h, 128, "\x06\x00", 2);
  b.d.t[0].st[1].xxh3 = xxh3("\x06\x00", 2);
  inv_from_base(g, &v, "stream_size_len", &b);
  inv_emit(&v, "TCODEC_E_STREAM_SIZE", 128, "open (S2)",
           "signs stream with coder 0, size 2 and len 1");
  base_release(&b);

  base_init(&b, 0); /* mask: len 3 (and size 3) where n = 10 implies 2 */
  {
    static const uint8_t mask3[3] = {0x65, 0x02, 0x00};
    b.d.t[0].st[0].size = b.d.t[0].st[0].len = 3;
    b.d.t[0].st[0].xxh3 = xxh3(mask3, 3);
    hf_at(&b.h, 64, mask3, 3);
  }
  inv_from_base(g, &v, "stream_len", &b);
  inv_emit(&v, "TCODEC_E_STREAM_SIZE", 64, "open (S3)",
           "mask stream of len 3 where 10 elements imply 2");
  base_release(&b);
}

/* A minimal zstd frame (RFC 8878): single segment, 1-byte content size, one block. */
static size_t zstd_raw_frame(uint8_t *dst, const uint8_t *src, size_t n, unsigned fcs,
                             unsigned block_type) {
  static const uint8_t head[6] = {0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00};
  memcpy(dst, head, 6);
  dst[5] = (uint8_t)fcs; /* FHD 0x20: Single_Segment, FCS_flag 0: 1-byte content size */
  uint32_t bh = 1u | (block_type << 1) | ((uint32_t)n << 3); /* last block */
  le_put(dst + 6, bh, 3);
  memcpy(dst + 9, src, n);
  return 9 + n;
}

/* Replace the stored bytes of stream *s by `src` (coder, size and checksum follow). */
static void restore_stream(hbase *b, hst *s, unsigned coder, const uint8_t *src, size_t n) {
  s->coder = coder;
  s->size = n;
  s->xxh3 = xxh3(src, n);
  hf_at(&b->h, s->off, src, n);
}

/* Errors that show when tensor 0 is decoded (tensor 1, "ok", stays readable) or when
 * the section is read. mask at 64, signs at 128, scales at 192. */
static void inv_payload(tv_gen *g) {
  hbase b;
  tv_inv v;
  hst *signs, *scales;

  base_init(&b, 1);
  scales = &b.d.t[0].st[2];
  inv_from_base(g, &v, "stream_checksum", &b);
  v.f.p[scales->off + 3] ^= 0x01;
  inv_emit(&v, "TCODEC_E_STREAM_CHECKSUM", scales->off, "decode w (T2)",
           "one bit of the scales stream flipped, directory intact");
  base_release(&b);

  base_init(&b, 1);
  b.d.t[0].st[2].coder = 2;
  inv_from_base(g, &v, "stream_coder_unknown", &b);
  inv_emit(&v, "TCODEC_E_UNSUPPORTED_CODER", b.d.t[0].st[2].off, "decode w (T2)",
           "scales stream with the reserved coder 2 (open succeeds)");
  base_release(&b);

  base_init(&b, 1);
  b.d.t[0].enc = 6;
  b.d.t[0].npar = 0;
  inv_from_base(g, &v, "dir_encoding_unknown", &b);
  inv_emit(&v, "TCODEC_E_UNSUPPORTED_ENCODING", dir_offset_of(&v.f), "decode w (T1)",
           "tensor with encoding id 6, streams in range (open succeeds)");
  base_release(&b);

  uint8_t frame[32];
  static const uint8_t sb[2] = {0x06, 0x00};
  base_init(&b, 1);
  signs = &b.d.t[0].st[1];
  restore_stream(&b, signs, 1, frame, zstd_raw_frame(frame, sb, 1, 1, 3));
  inv_from_base(g, &v, "stream_zstd_corrupt", &b);
  inv_emit(&v, "TCODEC_E_STREAM_CODER", signs->off, "decode w (T2)",
           "signs stream as a zstd frame whose block has the reserved Block_Type 3");
  base_release(&b);

  base_init(&b, 1);
  signs = &b.d.t[0].st[1];
  restore_stream(&b, signs, 1, frame, zstd_raw_frame(frame, sb, 2, 2, 0));
  inv_from_base(g, &v, "stream_zstd_content_size", &b);
  inv_emit(&v, "TCODEC_E_STREAM_CODER", signs->off, "decode w (T2)",
           "signs stream as a valid zstd frame of 2 bytes where len is 1");
  base_release(&b);

  base_init(&b, 1);
  b.d.t[0].par[3].v = 4; /* "nnz" 4; the mask has 5 ones; SIGNS stays 1 byte, padding 0 */
  inv_from_base(g, &v, "ternary_mask_popcount", &b);
  inv_emit(&v, "TCODEC_E_PAYLOAD", 64, "decode w (T3)",
           "ternary \"nnz\" 4 while the mask holds 5 ones");
  base_release(&b);

  base_init(&b, 1);
  signs = &b.d.t[0].st[1];
  restore_stream(&b, signs, 0, (const uint8_t *)"\x86", 1); /* bit 7: padding (nnz 5) */
  inv_from_base(g, &v, "ternary_signs_padding", &b);
  inv_emit(&v, "TCODEC_E_PAYLOAD", signs->off, "decode w (T3)",
           "bit 7 of the signs stream set (5 sign bits); checksum valid");
  base_release(&b);

  base_init(&b, 1); /* T2 runs on every stream before T3 */
  signs = &b.d.t[0].st[1];
  restore_stream(&b, signs, 0, (const uint8_t *)"\x86", 1);
  inv_from_base(g, &v, "ternary_checksum_before_payload", &b);
  v.f.p[b.d.t[0].st[2].off] ^= 0x01;
  inv_emit(&v, "TCODEC_E_STREAM_CHECKSUM", b.d.t[0].st[2].off, "decode w (T2 before T3)",
           "nonzero signs padding (role 2) and a bad scales checksum (role 3)");
  base_release(&b);

  memset(&b, 0, sizeof(b)); /* k-bit, 2 bits, zero point 4 */
  b.d.align = 64;
  {
    hten *t = &b.d.t[0];
    static const uint8_t codes[3] = {0xe4, 0x1b, 0x09}, zeros[1] = {4};
    uint8_t scale[4];
    le_put(scale, f32_bits(0.25f), 4);
    t->name = "k";
    t->dtype = TCODEC_F32;
    t->enc = TCODEC_ENC_KBIT;
    t->sh = SH_2x5;
    hk(t, "gran", 0, 0);
    hk(t, "sym", 1, 1);
    hk(t, "sdtype", 0, TCODEC_F32);
    hk(t, "bits", 0, 2);
    hk(t, "zp", 1, 1);
    hk(t, "sparse", 1, 0);
    t->st[0] = hf_stream(&b.h, TCODEC_ROLE_SCALES, scale, 4, 64);
    t->st[1] = hf_stream(&b.h, TCODEC_ROLE_CODES, codes, 3, 64);
    t->st[2] = hf_stream(&b.h, TCODEC_ROLE_ZEROS, zeros, 1, 64);
    t->nst = 3;
    ht_raw(&b.h, &b.d.t[1], "ok", TCODEC_F32, &SH_2, ok_data, 64);
    b.d.nt = 2;
  }
  inv_from_base(g, &v, "kbit_zero_point_range", &b);
  inv_emit(&v, "TCODEC_E_PAYLOAD", b.d.t[0].st[2].off, "decode k (T3)",
           "2-bit k-bit tensor whose zero point is 4");
  base_release(&b);

  base_init(&b, 1);
  b.d.has_section = 1;
  b.d.sec_type = "x.note";
  b.d.sec = hf_stream(&b.h, 0, "sixsix", 6, 64);
  inv_from_base(g, &v, "section_checksum", &b);
  v.f.p[b.d.sec.off] ^= 0x04;
  inv_emit(&v, "TCODEC_E_STREAM_CHECKSUM", b.d.sec.off, "read section 0 (T2)",
           "one bit of an optional section's stream flipped; the tensors decode");
  base_release(&b);
}

/* ---- hand-built valid vectors ---- */

/* Newer minor version and everything a v1.0 reader must ignore: unknown keys in every
 * map, an optional section of an unknown type, garbage in unused header bytes and in the
 * gaps between streams, streams stored out of directory order. */
static void valid_forward(tv_gen *g) {
  hbase b;
  memset(&b, 0, sizeof(b));
  b.d.align = 64;
  b.d.extra_keys = 1;
  b.h.gap_fill = 0xa5;
  /* streams in reverse directory order: raw data first, then the ternary scales... */
  static const uint8_t scales2[4] = {0x00, 0x3c, 0x00, 0xb8}; /* f16 1.0 and -0.5 (asym) */
  uint8_t raw[12];
  for (int i = 0; i < 3; i++) le_put(raw + 4 * i, f32_bits(1.5f * (float)(i + 1)), 4);
  tv_shape s3 = {1, {3}};
  hfile *h = &b.h;
  hst data = hf_stream(h, TCODEC_ROLE_DATA, raw, 12, 64);
  hfile tmp = {{0}, 0};
  hten t0;
  ht_ternary(&tmp, &t0, "w", &SH_2x5, base_sym, 0, TCODEC_F16, scales2, 64);
  tv_free(&tmp.pay);
  hst sc = hf_stream(h, TCODEC_ROLE_SCALES, scales2, 4, 64);
  uint8_t mask[2] = {0x65, 0x02}, signs[1] = {0x06};
  hst sg = hf_stream(h, TCODEC_ROLE_SIGNS, signs, 1, 64);
  hst mk = hf_stream(h, TCODEC_ROLE_MASK, mask, 2, 64);
  static const char note[] = "ignored by v1.0 readers";
  b.d.has_section = 1;
  b.d.sec_critical = 0;
  b.d.sec_type = "x.unknown-optional";
  b.d.sec = hf_stream(h, 0, note, sizeof(note) - 1, 64);
  tv_put8(&h->pay, 0xa5); /* a gap byte before the directory too */
  t0.st[0] = sc;          /* directory lists scales, mask, signs: any order is allowed */
  t0.st[1] = mk;
  t0.st[2] = sg;
  b.d.t[0] = t0;
  memset(&b.d.t[1], 0, sizeof(hten));
  b.d.t[1].name = "bias";
  b.d.t[1].dtype = TCODEC_F32;
  b.d.t[1].enc = TCODEC_ENC_RAW;
  b.d.t[1].sh = s3;
  b.d.t[1].st[0] = data;
  b.d.t[1].nst = 1; /* no "params" entries: "bg" is optional */
  b.d.nt = 2;

  tv_vec v;
  memset(&v, 0, sizeof(v));
  v.g = g;
  v.name = "dir_forward_compat";
  v.align = 64;
  v.minor = 3;
  readme_line(&g->readme_valid, v.name,
              "hand-built: format 1.3 (newer minor), unknown keys in every map, an optional "
              "section of unknown type, nonzero unused header bytes and gaps, streams stored "
              "in another order than listed, raw tensor without \"params\"");
  base_file(&v.file, &b, 3);
  for (int i = 24; i < 64; i++) v.file.p[i] = (uint8_t)(0xc0 + i); /* unused: ignored */
  tcodec_quantized q;
  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_TERNARY;
  q.granularity = TCODEC_GRAN_TENSOR;
  q.symmetric = 0;
  q.scale_dtype = TCODEC_F16;
  q.scales = scales2;
  q.symbols = base_sym;
  js_quant_tensor(&v, "w", TCODEC_F32, &SH_2x5, &q, NULL, NULL, 0);
  js_raw_tensor(&v, "bias", TCODEC_F32, &s3, raw, 0);
  js_section(&v, b.d.sec_type, 0, note, sizeof(note) - 1);
  vec_emit(&v);
  tv_free(&v.file);
  tv_free(&v.jt);
  tv_free(&v.js);
  tv_free(&v.jm);
  base_release(&b);
}

/* The base of the invalid vectors, unmodified: must open and decode. */
static void valid_base(tv_gen *g) {
  hbase b;
  base_init(&b, 1);
  tv_vec v;
  memset(&v, 0, sizeof(v));
  v.g = g;
  v.name = "dir_base";
  v.align = 64;
  readme_line(&g->readme_valid, v.name,
              "hand-built: the file every invalid vector is derived from, unmodified "
              "(ternary \"w\" with mask at 64, signs at 128, scales at 192; raw \"ok\")");
  base_file(&v.file, &b, 0);
  tcodec_quantized q;
  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_TERNARY;
  q.symmetric = 1;
  q.scale_dtype = TCODEC_F32;
  q.scales = base_scale;
  q.symbols = base_sym;
  js_quant_tensor(&v, "w", TCODEC_F32, &SH_2x5, &q, NULL, NULL, 0);
  js_raw_tensor(&v, "ok", TCODEC_F32, &SH_2, ok_data, 0);
  vec_emit(&v);
  tv_free(&v.file);
  tv_free(&v.jt);
  base_release(&b);
}

/* ==== README ============================================================================ */

static void emit_readme(tv_gen *g) {
  tv_buf r = {0};
  tv_printf(
      &r, "%s",
      "# Test vectors for the .tc container (format 1.0)\n"
      "\n"
      "Generated by `tools/tcvectors.c` (`scripts/gen-vectors.sh`); do not edit by hand. Layout "
      "and\n"
      "harness: [FORMAT.md, Appendix A](../FORMAT.md#appendix-a-test-vectors).\n"
      "`tests/test_vectors.c` checks that every valid vector decodes to its expectation, that "
      "every\n"
      "invalid vector fails exactly as its `.expect` says, and that regenerating gives these "
      "bytes.\n"
      "\n"
      "## valid/\n"
      "\n"
      "`NAME.tc` must open with default limits; every tensor decodes and every section reads.\n"
      "Most are written by libtcodec's writer from inputs chosen by the generator (coder and byte\n"
      "grouping set explicitly, detection off); `dir_forward_compat` and `dir_base` are assembled\n"
      "byte by byte by the generator. Vectors with zstd-coded streams record the zstd version in\n"
      "their `.txt` (zstd's output may change between versions, the decoded values may not).\n"
      "\n"
      "`NAME.json` holds the expected results, computed by the generator from the inputs it gave\n"
      "the writer with the formulas of `spec/FORMAT.md` (never read back from a file):\n"
      "\n"
      "```\n"
      "{\n"
      "  \"vector\": NAME,\n"
      "  \"format\": {\"major\": 1, \"minor\": M},\n"
      "  \"align\": A,\n"
      "  \"meta\": [{\"key\": K, \"text\": V} or {\"key\": K, \"bytes\": HEX}, ...],  model "
      "metadata, file order\n"
      "  \"sections\": [{\"type\": T, \"critical\": B, \"size\": N, \"bytes\": HEX}, ...],\n"
      "  \"tensors\": [                                                   directory order\n"
      "    {\"name\": S, \"dtype\": \"f32\", \"shape\": [..], \"encoding\": \"ternary\",\n"
      "     \"meta\": [{\"key\": K, \"text\": V}, ...],                        per-tensor "
      "metadata\n"
      "     \"params\": {...},          as the directory holds them: spec key names; dtypes by "
      "name\n"
      "     \"units\": U, \"has_mask\": B, \"nnz\": K,   quantized only: scale units; a MASK "
      "stream\n"
      "                                          exists; nonzero/coded elements (n if no mask)\n"
      "     \"f32\": [\"0x3f800000\", ...],      F32 output: binary32 bit patterns (\"nan\": any "
      "NaN)\n"
      "     \"original\": HEX,                 ORIGINAL output: little-endian bytes of the dtype\n"
      "     \"symbols\": [-1, 0, 1, ...],      SYMBOLS output (quantized only; k-bit: codes)\n"
      "     \"streams\": {\"mask\": HEX, ...}}   STREAM output: stream bytes per role name\n"
      "  ]\n"
      "}\n"
      "```\n"
      "\n"
      "The output forms are those of FORMAT.md, \"Output forms\": raw F32 converts floats (f64\n"
      "round-to-nearest-even), integers to the nearest binary32, bool to 0.0/1.0; quantized "
      "values\n"
      "follow the decoding formulas; ORIGINAL converts the binary32 value to the dtype (f64 "
      "exact,\n"
      "f16/bf16 round-to-nearest-even). Role names: data, mask, signs, scales, codes, zeros, "
      "kinds,\n"
      "full (ids 0..7).\n"
      "\n"
      "`NAME.txt` is a readable dump: header and trailer fields, the directory in CBOR diagnostic\n"
      "notation, and per stream its keys and its stream bytes in hex.\n"
      "\n"
      "| vector | what it covers |\n"
      "|---|---|\n");
  tv_put(&r, g->readme_valid.p, g->readme_valid.len);
  tv_printf(
      &r, "%s",
      "\n"
      "## invalid/\n"
      "\n"
      "Each `NAME.tc` breaks one rule. `NAME.expect` is, as FORMAT.md Appendix A defines it, the\n"
      "expected error and offset on the first line (`TCODEC_E_TRAILER 122`), then optional\n"
      "`limit NAME VALUE` lines to set before opening. The harness opens the file, then decodes\n"
      "every tensor in index order to the original form, then reads every section; the first\n"
      "failure must have that error and `tcodec_reader_error_offset()`. The \"fails at\" column\n"
      "says which step that is (tests/test_vectors.c also checks that the other tensors still\n"
      "decode after a decode failure).\n"
      "\n"
      "Most are derived from `valid/dir_base.tc` (ternary `w` [2, 5], f32 scale 0.5: MASK at 64,\n"
      "SIGNS at 128, SCALES at 192; decode-time vectors add a raw f32 tensor `ok` at 256), with\n"
      "every checksum recomputed except the one under test, so that only the named rule is "
      "broken.\n"
      "Offsets are those of FORMAT.md, \"Reader validation order\": steps 1-12 the field at "
      "fault,\n"
      "directory steps 13-21 `D` = dir_offset, stream checks S1-S4 and decode steps T2-T3 the\n"
      "stream's `off`, T1 (unknown encoding) `D`.\n"
      "\n"
      "| vector | what is wrong | fails at | `.expect` |\n"
      "|---|---|---|---|\n");
  tv_put(&r, g->readme_invalid.p, g->readme_invalid.len);
  gen_emit(g, "", "README", ".md", &r);
  tv_free(&r);
}

/* ==== driver ============================================================================ */

/* Generate every file through `out`. Returns 0, or 1 if anything failed. */
static int tcv_generate(tv_out_fn out, void *user) {
  tv_gen g;
  memset(&g, 0, sizeof(g));
  g.out = out;
  g.user = user;
  vec_raw_dtypes(&g);
  vec_raw_bytegroup(&g);
  vec_symbols(&g, "ternary_sym",
              "ternary, symmetric: granularity tensor / channel (axis 0, "
              "axis 1, axis 1 of 2x3x2) / group of 3 x scale dtype f32/f16/bf16; originals "
              "f32/f16/bf16/f64",
              TCODEC_ENC_TERNARY, 1);
  vec_symbols(&g, "ternary_asym", "ternary, asymmetric (w_p, w_n per unit): same grid",
              TCODEC_ENC_TERNARY, 0);
  vec_symbols(&g, "binary_sym", "binary, symmetric: same grid", TCODEC_ENC_BINARY, 1);
  vec_symbols(&g, "binary_asym", "binary, asymmetric: same grid", TCODEC_ENC_BINARY, 0);
  vec_kbit_gran(&g);
  vec_kbit_bits(&g, 0);
  vec_kbit_bits(&g, 1);
  vec_hybrid(&g);
  vec_shapes(&g);
  vec_zstd(&g);
  vec_meta(&g);
  valid_forward(&g);
  valid_base(&g);
  inv_container(&g);
  inv_cbor(&g);
  inv_schema(&g);
  inv_limits(&g);
  inv_streams(&g);
  inv_payload(&g);
  emit_readme(&g);
  tv_free(&g.readme_valid);
  tv_free(&g.readme_invalid);
  return g.failed;
}

#ifndef TCVECTORS_NO_MAIN
#include <sys/stat.h>

typedef struct tv_disk {
  const char *root;
  int check;
  int differ;
} tv_disk;

static int disk_out(void *user, const char *rel, const uint8_t *data, size_t size) {
  tv_disk *d = user;
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s", d->root, rel);
  if (d->check) {
    FILE *f = fopen(path, "rb");
    int same = f != NULL;
    for (size_t i = 0; same && i < size; i++) same = fgetc(f) == data[i];
    if (same) same = fgetc(f) == EOF;
    if (f != NULL) fclose(f);
    if (!same) {
      fprintf(stderr, "tcvectors: %s differs\n", path);
      d->differ = 1;
    }
    return 0;
  }
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(data, 1, size, f) != size) {
    fprintf(stderr, "tcvectors: cannot write %s: %s\n", path, strerror(errno));
    if (f != NULL) fclose(f);
    return -1;
  }
  return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  tv_disk d = {NULL, 0, 0};
  if (argc == 3 && strcmp(argv[1], "--check") == 0) {
    d.check = 1;
    d.root = argv[2];
  } else if (argc == 2 && argv[1][0] != '-') {
    d.root = argv[1];
  } else {
    fprintf(stderr, "usage: tcvectors [--check] OUTDIR\n");
    return 2;
  }
  if (!d.check) {
    char path[1024];
    const char *sub[2] = {"valid", "invalid"};
    mkdir(d.root, 0777);
    for (int i = 0; i < 2; i++) {
      snprintf(path, sizeof(path), "%s/%s", d.root, sub[i]);
      if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "tcvectors: cannot create %s: %s\n", path, strerror(errno));
        return 1;
      }
    }
  }
  int rc = tcv_generate(disk_out, &d);
  if (rc == 0 && d.differ) rc = 1;
  if (rc == 0) printf("tcvectors: %s %s\n", d.check ? "vectors match in" : "wrote", d.root);
  return rc;
}
#endif
