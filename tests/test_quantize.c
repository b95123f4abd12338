/* tcodec_writer_add_f32: the TWN quantizer and the lossless method.
 *
 * TWN (Li & Liu, "Ternary Weight Networks"), as the API states it, per scale
 * unit: delta = threshold * mean|w|; w > delta -> +1, w < -delta -> -1, else 0;
 * scale = mean |w| of the weights given a nonzero symbol (asymmetric: w_p = mean
 * of the +1 weights, w_n = mean |w| of the -1 weights). The test computes all of
 * this itself in long double and compares: symbols exactly, values within the
 * rounding of the scale dtype. Elements that lie so close to +-delta that the
 * rounding of the mean could flip them are left out of the symbol comparison
 * (none occur with these seeds, but the test should not depend on luck). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "support/reference.h"
#include "support/testutil.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct tspec {
  unsigned ndim;
  uint64_t shape[4];
  int gran;
  unsigned axis;
  uint64_t group;
  int sym;
  int sdtype;
  int dtype;
  double threshold;
} tspec;

static uint64_t unit_of(const tspec *s, uint64_t i) {
  if (s->gran == TCODEC_GRAN_GROUP) return i / s->group;
  if (s->gran != TCODEC_GRAN_CHANNEL) return 0;
  uint64_t rem = i, coord = 0;
  for (unsigned d = s->ndim; d-- > 0;) {
    if (d == s->axis) coord = rem % s->shape[d];
    rem /= s->shape[d];
  }
  return coord;
}

static uint64_t units_of(const tspec *s, uint64_t n) {
  if (s->gran == TCODEC_GRAN_GROUP) return n / s->group + (n % s->group != 0);
  if (s->gran == TCODEC_GRAN_CHANNEL) return s->shape[s->axis];
  return 1;
}

typedef struct twn_want {
  uint64_t units;
  int8_t *sym;
  uint8_t *ambiguous;   /* too close to +-delta to insist on a symbol */
  long double *wp, *wn; /* per unit: value of +1, magnitude of -1 */
} twn_want;

static void twn_compute(const tspec *s, const float *w, uint64_t n, twn_want *out) {
  uint64_t units = units_of(s, n);
  long double *abs_sum = calloc(units + 1, sizeof(long double));
  long double *ps = calloc(units + 1, sizeof(long double)),
              *ns = calloc(units + 1, sizeof(long double));
  uint64_t *cnt = calloc(units + 1, sizeof(uint64_t));
  uint64_t *pc = calloc(units + 1, sizeof(uint64_t)), *nc = calloc(units + 1, sizeof(uint64_t));
  long double *delta = calloc(units + 1, sizeof(long double));
  out->units = units;
  out->sym = malloc(n + 1);
  out->ambiguous = calloc(n + 1, 1);
  out->wp = calloc(units + 1, sizeof(long double));
  out->wn = calloc(units + 1, sizeof(long double));
  cr_assert(abs_sum && ps && ns && cnt && pc && nc && delta && out->sym && out->ambiguous &&
            out->wp && out->wn);
  for (uint64_t i = 0; i < n; i++) {
    uint64_t u = unit_of(s, i);
    abs_sum[u] += fabsl((long double)w[i]);
    cnt[u]++;
  }
  for (uint64_t u = 0; u < units; u++)
    delta[u] = cnt[u] ? (long double)s->threshold * (abs_sum[u] / cnt[u]) : 0;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t u = unit_of(s, i);
    long double x = w[i], dl = delta[u];
    out->sym[i] = x > dl ? 1 : x < -dl ? -1 : 0;
    out->ambiguous[i] = fabsl(fabsl(x) - dl) <= 1e-12L * dl;
    if (out->sym[i] > 0) {
      ps[u] += x;
      pc[u]++;
    } else if (out->sym[i] < 0) {
      ns[u] -= x;
      nc[u]++;
    }
  }
  for (uint64_t u = 0; u < units; u++) {
    if (s->sym) {
      out->wp[u] = pc[u] + nc[u] ? (ps[u] + ns[u]) / (pc[u] + nc[u]) : 0;
      out->wn[u] = out->wp[u];
    } else {
      out->wp[u] = pc[u] ? ps[u] / pc[u] : 0;
      out->wn[u] = nc[u] ? ns[u] / nc[u] : 0;
    }
  }
  free(abs_sum);
  free(ps);
  free(ns);
  free(cnt);
  free(pc);
  free(nc);
  free(delta);
}

static void twn_free(twn_want *t) {
  free(t->sym);
  free(t->ambiguous);
  free(t->wp);
  free(t->wn);
}

/* Relative tolerance of a scale rounded once to sdtype, plus slack for the
 * order of summation. */
static long double tolerance(int sdtype) {
  return sdtype == TCODEC_F32 ? 0x1p-22L : sdtype == TCODEC_F16 ? 0x1p-10L : 0x1p-7L;
}

static tcodec_request twn_request(const tspec *s) {
  tcodec_request req;
  tcodec_request_init(&req);
  req.method = TCODEC_Q_TWN;
  req.granularity = s->gran;
  req.axis = s->axis;
  req.group_size = s->group;
  req.symmetric = s->sym;
  req.scale_dtype = s->sdtype;
  req.threshold = s->threshold;
  return req;
}

/* Write `w` with TWN as `s` asks, read back, compare with twn_compute. */
static void twn_check(const tspec *s, const float *w, const char *what) {
  uint64_t n = tu_nelem(s->ndim, s->shape);
  tu_buf buf = {0};
  tcodec_writer *wr = tu_writer_begin(&buf);
  tcodec_tensor_desc d = tu_desc(what, s->dtype, s->ndim, s->shape);
  tcodec_request req = twn_request(s);
  int rc = tcodec_writer_add_f32(wr, &d, w, (size_t)n, &req);
  cr_assert_eq(rc, 0, "%s: add_f32 TWN: %s: %s", what, tcodec_strerror(rc),
               tcodec_writer_error_message(wr));
  tu_writer_finish(wr);
  tcodec_reader *r = tu_reader_open(&buf);
  tcodec_tensor_info t = tu_info(r, 0);
  cr_assert_eq(t.encoding, TCODEC_ENC_TERNARY, "%s: encoding %d", what, t.encoding);
  cr_assert_eq(t.dtype, s->dtype, "%s: dtype", what);
  cr_assert_eq(t.granularity, s->gran, "%s: granularity", what);
  cr_assert_eq(t.symmetric != 0, s->sym != 0, "%s: symmetric", what);
  cr_assert_eq(t.scale_dtype, s->sdtype, "%s: scale dtype", what);

  twn_want want;
  twn_compute(s, w, n, &want);
  cr_assert_eq(t.units, want.units, "%s: units", what);
  uint64_t sz;
  int8_t *sym = tu_decode(r, 0, TCODEC_OUT_SYMBOLS, &sz);
  float *f = tu_decode(r, 0, TCODEC_OUT_F32, &sz);
  uint64_t nnz = 0, ambiguous = 0;
  for (uint64_t i = 0; i < n; i++) {
    nnz += sym[i] != 0;
    ambiguous += want.ambiguous[i];
    if (!want.ambiguous[i])
      cr_assert_eq(sym[i], want.sym[i], "%s: element %llu (%.9g): symbol %d, TWN gives %d", what,
                   (unsigned long long)i, (double)w[i], sym[i], want.sym[i]);
    uint64_t u = unit_of(s, i);
    if (sym[i] == 0) {
      cr_assert_eq(tu_f32_bits(f[i]), 0u, "%s: element %llu: symbol 0 must decode to +0.0, got %g",
                   what, (unsigned long long)i, (double)f[i]);
      continue;
    }
    long double expect = sym[i] > 0 ? want.wp[u] : -want.wn[u];
    long double err = fabsl((long double)f[i] - expect), tol = tolerance(s->sdtype) * fabsl(expect);
    cr_assert(err <= tol, "%s: element %llu (unit %llu, symbol %d): value %.9g, TWN scale %.12Lg",
              what, (unsigned long long)i, (unsigned long long)u, sym[i], (double)f[i], expect);
  }
  cr_assert_eq(t.nnz, nnz, "%s: nnz", what);
  cr_assert(ambiguous * 100 <= n, "%s: %llu elements too close to delta to check", what,
            (unsigned long long)ambiguous);
  char why[256];
  rc = ref_check_library(r, 0, 0, 0, why, sizeof(why));
  cr_assert_eq(rc, 0, "%s: library vs reference decoder: %s", what, why);
  twn_free(&want);
  free(sym);
  free(f);
  tcodec_reader_free(r);
  tu_buf_free(&buf);
}

/* Normal weights; element scale per outer row so channels differ. */
static float *normal_weights(const tspec *s, uint64_t seed) {
  uint64_t n = tu_nelem(s->ndim, s->shape);
  float *w = malloc(n ? (size_t)n * sizeof(float) : 4);
  cr_assert_not_null(w);
  tu_rng g;
  tu_rng_seed(&g, seed);
  uint64_t row = s->ndim ? n / s->shape[0] : 1;
  for (uint64_t i = 0; i < n; i++)
    w[i] = (float)(tu_rng_normal(&g) * 0.02 * (1.0 + (double)(i / row)));
  return w;
}

static tspec spec(unsigned ndim, const uint64_t *shape, int gran, unsigned axis, uint64_t group) {
  tspec s;
  memset(&s, 0, sizeof(s));
  s.ndim = ndim;
  for (unsigned d = 0; d < ndim; d++) s.shape[d] = shape[d];
  s.gran = gran;
  s.axis = axis;
  s.group = group;
  s.sym = 1;
  s.sdtype = TCODEC_F32;
  s.dtype = TCODEC_F32;
  s.threshold = 0.7;
  return s;
}

Test(twn, per_tensor_symbols_and_scale_follow_the_twn_definition) {
  static const uint64_t shape[2] = {16, 40};
  tspec s = spec(2, shape, TCODEC_GRAN_TENSOR, 0, 0);
  float *w = normal_weights(&s, 1);
  twn_check(&s, w, "twn-tensor");
  s.threshold = 0.3;
  twn_check(&s, w, "twn-tensor-t0.3");
  free(w);
}

Test(twn, per_channel_on_axis_0_and_last_axis_follow_the_twn_definition) {
  static const uint64_t shape[3] = {8, 6, 5};
  tspec s = spec(3, shape, TCODEC_GRAN_CHANNEL, 0, 0);
  float *w = normal_weights(&s, 2);
  twn_check(&s, w, "twn-ch0");
  s.axis = 2;
  twn_check(&s, w, "twn-ch2");
  s.axis = 1;
  s.dtype = TCODEC_F64;
  twn_check(&s, w, "twn-ch1-f64");
  free(w);
}

Test(twn, per_group_and_asymmetric_scales_follow_the_twn_definition) {
  static const uint64_t shape[2] = {10, 33};
  tspec s = spec(2, shape, TCODEC_GRAN_GROUP, 0, 64);
  float *w = normal_weights(&s, 3);
  twn_check(&s, w, "twn-g64");
  s.sym = 0;
  twn_check(&s, w, "twn-g64-asym");
  s.gran = TCODEC_GRAN_CHANNEL;
  twn_check(&s, w, "twn-ch0-asym");
  s.gran = TCODEC_GRAN_GROUP; /* one group larger than the tensor */
  s.group = UINT64_MAX;
  twn_check(&s, w, "twn-gmax-asym");
  s.sym = 1;
  s.group = 331;
  twn_check(&s, w, "twn-g331");
  free(w);
}

Test(twn, f16_and_bf16_scales_and_original_dtypes_stay_within_rounding) {
  static const uint64_t shape[2] = {12, 21};
  static const int sd[3] = {TCODEC_F16, TCODEC_BF16, TCODEC_F32};
  static const int od[3] = {TCODEC_F16, TCODEC_BF16, TCODEC_BF16};
  tspec s = spec(2, shape, TCODEC_GRAN_CHANNEL, 0, 0);
  float *w = normal_weights(&s, 4);
  for (int k = 0; k < 3; k++) {
    s.sdtype = sd[k];
    s.dtype = od[k];
    s.sym = k != 1;
    char name[64];
    snprintf(name, sizeof(name), "twn-s%s-d%s", tcodec_dtype_name(sd[k]), tcodec_dtype_name(od[k]));
    twn_check(&s, w, name);
  }
  free(w);
}

/* An input already exactly {-a, 0, +a} (per unit): delta = 0.7 * (share of
 * nonzeros) * a lies in (0, a), so TWN finds the same symbols and the mean of
 * identical magnitudes is a itself: values come back bit for bit. */
static void exact_ternary(int gran, int dtype, uint64_t seed) {
  static const uint64_t shape[2] = {6, 50};
  tu_rng g;
  tu_rng_seed(&g, seed);
  float w[300];
  for (uint64_t i = 0; i < 300; i++) {
    float a = gran == TCODEC_GRAN_CHANNEL ? 0.25f * (float)(i / 50 + 1) : 0.375f;
    uint64_t r = tu_rng_below(&g, 3);
    w[i] = r == 0 ? 0.0f : r == 1 ? a : -a;
  }
  for (int row = 0; row < 6; row++) {
    float a = gran == TCODEC_GRAN_CHANNEL ? 0.25f * (float)(row + 1) : 0.375f;
    w[row * 50 + 1] = a;
    w[row * 50 + 2] = -a; /* every row has nonzeros of both signs */
  }
  tu_buf buf = {0};
  tcodec_writer *wr = tu_writer_begin(&buf);
  tcodec_tensor_desc d = tu_desc("exact", dtype, 2, shape);
  tcodec_request req;
  tcodec_request_init(&req);
  req.method = TCODEC_Q_TWN;
  req.granularity = gran;
  req.threshold = 0.7;
  int rc = tcodec_writer_add_f32(wr, &d, w, 300, &req);
  cr_assert_eq(rc, 0, "add_f32: %s: %s", tcodec_strerror(rc), tcodec_writer_error_message(wr));
  tu_writer_finish(wr);
  tcodec_reader *r = tu_reader_open(&buf);
  cr_assert_eq(tu_info(r, 0).encoding, TCODEC_ENC_TERNARY);
  uint64_t sz;
  float *f = tu_decode(r, 0, TCODEC_OUT_F32, &sz);
  int8_t *sym = tu_decode(r, 0, TCODEC_OUT_SYMBOLS, &sz);
  uint8_t *orig = tu_decode(r, 0, TCODEC_OUT_ORIGINAL, &sz);
  tu_assert_f32_eq(f, w, 300, "exactly ternary input (gran %d): F32", gran);
  size_t es = ref_dtype_size(dtype);
  uint8_t want[300 * 8];
  for (int i = 0; i < 300; i++) {
    cr_assert_eq(sym[i], w[i] > 0 ? 1 : w[i] < 0 ? -1 : 0, "symbol %d", i);
    ref_float_store(dtype, want + i * es, (double)w[i]); /* exact in every float dtype */
  }
  tu_assert_mem_eq(orig, want, 300 * es, "exactly ternary input (gran %d, %s): ORIGINAL", gran,
                   tcodec_dtype_name(dtype));
  free(f);
  free(sym);
  free(orig);
  tcodec_reader_free(r);
  tu_buf_free(&buf);
}

Test(twn, exactly_ternary_input_is_recovered_exactly) {
  exact_ternary(TCODEC_GRAN_TENSOR, TCODEC_F32, 5);
  exact_ternary(TCODEC_GRAN_CHANNEL, TCODEC_F32, 6);
  exact_ternary(TCODEC_GRAN_CHANNEL, TCODEC_F16, 7);
  exact_ternary(TCODEC_GRAN_TENSOR, TCODEC_BF16, 8);
}

Test(twn, nan_or_infinite_input_is_rejected_with_E_VALUE) {
  static const uint64_t shape[2] = {4, 8};
  const float bad[3] = {NAN, INFINITY, -INFINITY};
  float w[32];
  for (int i = 0; i < 32; i++) w[i] = (float)(i % 5) - 2.0f;
  tu_buf buf = {0};
  tcodec_writer *wr = tu_writer_begin(&buf);
  tcodec_request req;
  tcodec_request_init(&req);
  req.method = TCODEC_Q_TWN;
  for (int k = 0; k < 3; k++) {
    for (int gran = TCODEC_GRAN_TENSOR; gran <= TCODEC_GRAN_CHANNEL; gran++) {
      float x[32];
      memcpy(x, w, sizeof(x));
      x[17 + k] = bad[k];
      req.granularity = gran;
      tcodec_tensor_desc d = tu_desc("bad", TCODEC_F32, 2, shape);
      int rc = tcodec_writer_add_f32(wr, &d, x, 32, &req);
      cr_assert_eq(rc, TCODEC_E_VALUE, "%g in TWN input (gran %d): %s", (double)bad[k], gran,
                   tcodec_strerror(rc));
    }
  }
  tcodec_tensor_desc d = tu_desc("good", TCODEC_F32, 2, shape);
  int rc = tcodec_writer_add_f32(wr, &d, w, 32, &req);
  cr_assert_eq(rc, 0, "finite input after rejections: %s", tcodec_strerror(rc));
  tu_writer_finish(wr);
  tcodec_reader *r = tu_reader_open(&buf);
  cr_assert_eq(tu_reader_count(r), 1);
  tcodec_reader_free(r);
  tu_buf_free(&buf);
}

Test(twn, all_zero_tensor_gives_zero_symbols_and_zero_values) {
  static const uint64_t shape[2] = {5, 13};
  float w[65];
  for (int i = 0; i < 65; i++) w[i] = i % 7 == 3 ? -0.0f : 0.0f;
  for (int gran = TCODEC_GRAN_TENSOR; gran <= TCODEC_GRAN_GROUP; gran++) {
    tu_buf buf = {0};
    tcodec_writer *wr = tu_writer_begin(&buf);
    tcodec_request req;
    tcodec_request_init(&req);
    req.method = TCODEC_Q_TWN;
    req.granularity = gran;
    req.group_size = 4;
    req.symmetric = gran != TCODEC_GRAN_GROUP;
    tcodec_tensor_desc d = tu_desc("zeros", TCODEC_F32, 2, shape);
    int rc = tcodec_writer_add_f32(wr, &d, w, 65, &req);
    cr_assert_eq(rc, 0, "all-zero TWN (gran %d): %s: %s", gran, tcodec_strerror(rc),
                 tcodec_writer_error_message(wr));
    tu_writer_finish(wr);
    tcodec_reader *r = tu_reader_open(&buf);
    cr_assert_eq(tu_info(r, 0).nnz, 0);
    uint64_t sz;
    int8_t *sym = tu_decode(r, 0, TCODEC_OUT_SYMBOLS, &sz);
    float *f = tu_decode(r, 0, TCODEC_OUT_F32, &sz);
    uint8_t *orig = tu_decode(r, 0, TCODEC_OUT_ORIGINAL, &sz);
    for (int i = 0; i < 65; i++) {
      cr_assert_eq(sym[i], 0, "gran %d: symbol %d = %d", gran, i, sym[i]);
      cr_assert_eq(tu_f32_bits(f[i]), 0u, "gran %d: value %d = %g", gran, i, (double)f[i]);
      cr_assert_eq(tu_get32(orig + 4 * i), 0u, "gran %d: original %d", gran, i);
    }
    char why[256];
    rc = ref_check_library(r, 0, 0, 0, why, sizeof(why));
    cr_assert_eq(rc, 0, "library vs reference: %s", why);
    free(sym);
    free(f);
    free(orig);
    tcodec_reader_free(r);
    tu_buf_free(&buf);
  }
}

/* ---- lossless ----------------------------------------------------------------------- */

/* f32 values exact in `dtype`: stored, read back bit for bit in the original
 * dtype (bits computed by the test) and as the same f32 values. */
static void lossless_exact(int dtype, const float *v, uint64_t n, int with_request) {
  uint64_t shape[1] = {n};
  tu_buf buf = {0};
  tcodec_writer *wr = tu_writer_begin(&buf);
  tcodec_tensor_desc d = tu_desc("lossless", dtype, 1, shape);
  tcodec_request req;
  tcodec_request_init(&req); /* method LOSSLESS */
  int rc = tcodec_writer_add_f32(wr, &d, v, (size_t)n, with_request ? &req : NULL);
  cr_assert_eq(rc, 0, "lossless f32 -> %s: %s: %s", tcodec_dtype_name(dtype), tcodec_strerror(rc),
               tcodec_writer_error_message(wr));
  tu_writer_finish(wr);
  tcodec_reader *r = tu_reader_open(&buf);
  tcodec_tensor_info t = tu_info(r, 0);
  cr_assert_eq(t.dtype, dtype);
  size_t es = ref_dtype_size(dtype);
  uint8_t *want = malloc((size_t)n * es + 1);
  cr_assert_not_null(want);
  for (uint64_t i = 0; i < n; i++) {
    uint8_t *e = want + i * es;
    switch (dtype) {
    case TCODEC_I8:
      e[0] = (uint8_t)(int8_t)v[i];
      break;
    case TCODEC_I32:
      tu_put32(e, (uint32_t)(int32_t)v[i]);
      break;
    default:
      ref_float_store(dtype, e, (double)v[i]);
      break;
    }
  }
  uint64_t sz;
  uint8_t *orig = tu_decode(r, 0, TCODEC_OUT_ORIGINAL, &sz);
  cr_assert_eq(sz, n * es);
  tu_assert_mem_eq(orig, want, (size_t)(n * es), "lossless f32 -> %s: ORIGINAL",
                   tcodec_dtype_name(dtype));
  float *f = tu_decode(r, 0, TCODEC_OUT_F32, &sz);
  tu_assert_f32_eq(f, v, (size_t)n, "lossless f32 -> %s: F32", tcodec_dtype_name(dtype));
  free(want);
  free(orig);
  free(f);
  tcodec_reader_free(r);
  tu_buf_free(&buf);
}

Test(lossless, f32_values_exact_in_f16_and_bf16_are_stored_exactly) {
  float v[200];
  for (int i = 0; i < 200; i++) v[i] = (float)(i - 100) / 8.0f; /* exact in f16 and bf16 */
  v[7] = 65504.0f;                                              /* f16 max */
  v[8] = 0x1p-24f;                                              /* smallest f16 subnormal */
  v[9] = -0x1p-14f;                                             /* smallest normal, negative */
  v[10] = -0.0f;
  lossless_exact(TCODEC_F16, v, 200, 0);
  lossless_exact(TCODEC_F16, v, 200, 1);
  v[7] = 0x1p100f;  /* fine in bf16 */
  v[8] = 0x1p-133f; /* bf16 subnormal */
  lossless_exact(TCODEC_BF16, v, 200, 1);
  lossless_exact(TCODEC_F64, v, 200, 1);
  lossless_exact(TCODEC_F32, v, 200, 1);
}

Test(lossless, f32_integers_into_integer_dtypes_are_stored_exactly) {
  float v[64];
  for (int i = 0; i < 64; i++) v[i] = (float)(i * 4 - 128);
  v[63] = 127.0f;
  lossless_exact(TCODEC_I8, v, 64, 1);
  v[0] = -2147483648.0f;
  v[1] = 16777216.0f;
  lossless_exact(TCODEC_I32, v, 64, 1);
}

Test(lossless, f32_values_not_exact_in_the_dtype_are_rejected_with_E_VALUE) {
  static const struct {
    int dtype;
    float bad;
  } cases[] = {
      {TCODEC_F16, 0.1f},
      {TCODEC_F16, 70000.0f}, /* beyond the f16 range */
      {TCODEC_F16, 1e-8f},    /* below half the smallest subnormal */
      {TCODEC_F16, 1.0f + 0x1p-11f},
      {TCODEC_BF16, 1.0f + 0x1p-8f},
      {TCODEC_BF16, 3.0e-39f},
      {TCODEC_I8, 0.5f},
      {TCODEC_I8, 200.0f},
      {TCODEC_I32, 2.5f},
  };
  static const uint64_t shape[1] = {16};
  tu_buf buf = {0};
  tcodec_writer *wr = tu_writer_begin(&buf);
  for (size_t k = 0; k < COUNT(cases); k++) {
    float v[16];
    for (int i = 0; i < 16; i++) v[i] = (float)i;
    v[11] = cases[k].bad;
    tcodec_tensor_desc d = tu_desc("inexact", cases[k].dtype, 1, shape);
    int rc = tcodec_writer_add_f32(wr, &d, v, 16, NULL);
    cr_assert_eq(rc, TCODEC_E_VALUE, "%.9g into %s: %s", (double)cases[k].bad,
                 tcodec_dtype_name(cases[k].dtype), tcodec_strerror(rc));
  }
  float ok[16];
  for (int i = 0; i < 16; i++) ok[i] = (float)i;
  tcodec_tensor_desc d = tu_desc("exact", TCODEC_F16, 1, shape);
  int rc = tcodec_writer_add_f32(wr, &d, ok, 16, NULL);
  cr_assert_eq(rc, 0, "exact values after rejections: %s", tcodec_strerror(rc));
  tu_writer_finish(wr);
  tcodec_reader *r = tu_reader_open(&buf);
  cr_assert_eq(tu_reader_count(r), 1);
  tcodec_reader_free(r);
  tu_buf_free(&buf);
}
