/* tcodec_writer_add_f32 with TCODEC_Q_KBIT (uniform k-bit codes, SQuantizer-style
 * magnitude pruning first) and TCODEC_Q_HYBRID (per-filter TWN ternary or f16/f32,
 * after Ternary MobileNets).
 *
 * k-bit, as enc_kbit.c documents it: per unit, scale = max|w| / (2^(bits-1) - 1)
 * (zero point implicit 2^(bits-1)) or, with zero_point, (hi - lo) / (2^bits - 1)
 * over the range [min(w, 0), max(w, 0)]; the scale is rounded UP to the scale dtype
 * before the codes are computed, so every coded weight is within scale/2 of what
 * the decoder returns. The test checks that bound against the scales read back from
 * the file, and independently checks pruning (exactly floor(s*n) smallest |w|, ties
 * by index), exact recovery of grid inputs and monotonicity in bits.
 *
 * Hybrid: the test computes TWN for each filter itself (long double) and the
 * relative L2 error, chooses the filters the same way (budget or fraction, ties by
 * index) and compares kinds, ternary values and f16 full values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "support/reference.h"
#include "support/testutil.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---- */

typedef struct enc_result {
  int rc;
  char msg[256];
  tu_buf buf;
} enc_result;

/* Encode one tensor "t" (dtype f32) with req into a fresh container. */
static enc_result encode1(unsigned ndim, const uint64_t *shape, const float *w,
                          const tcodec_request *req) {
  enc_result r;
  memset(&r, 0, sizeof r);
  tcodec_writer *wr = tu_writer_begin(&r.buf);
  tcodec_tensor_desc d = tu_desc("t", TCODEC_F32, ndim, shape);
  r.rc = tcodec_writer_add_f32(wr, &d, w, (size_t)tu_nelem(ndim, shape), req);
  if (r.rc != 0) {
    snprintf(r.msg, sizeof r.msg, "%s", tcodec_writer_error_message(wr));
    tcodec_writer_free(wr);
    tu_buf_free(&r.buf);
    return r;
  }
  tu_writer_finish(wr);
  return r;
}

static enc_result encode_ok(unsigned ndim, const uint64_t *shape, const float *w,
                            const tcodec_request *req) {
  enc_result r = encode1(ndim, shape, w, req);
  cr_assert_eq(r.rc, 0, "encode failed: %d %s", r.rc, r.msg);
  return r;
}

static float *decode_f32(const tu_buf *b, tcodec_tensor_info *info) {
  tcodec_reader *r = tu_reader_open(b);
  if (info != NULL) *info = tu_info(r, 0);
  uint64_t size;
  float *v = tu_decode(r, 0, TCODEC_OUT_F32, &size);
  tcodec_reader_free(r);
  return v;
}

static void *get_stream(const tu_buf *b, int role, uint64_t *size) {
  tcodec_reader *r = tu_reader_open(b);
  void *s = tu_stream(r, 0, role, size);
  tcodec_reader_free(r);
  return s;
}

static float load_scale(int sdtype, const uint8_t *s, uint64_t u) {
  if (sdtype == TCODEC_F32) return tu_f32_from_bits(tu_get32(s + 4 * u));
  if (sdtype == TCODEC_F16) return ref_f16_to_f32(tu_get16(s + 2 * u));
  return ref_bf16_to_f32(tu_get16(s + 2 * u));
}

static void fill_normal(float *w, uint64_t n, uint64_t seed, double sigma) {
  tu_rng g;
  tu_rng_seed(&g, seed);
  for (uint64_t i = 0; i < n; i++) w[i] = (float)(sigma * tu_rng_normal(&g));
}

static tcodec_request kbit_req(unsigned bits) {
  tcodec_request q;
  tcodec_request_init(&q);
  q.method = TCODEC_Q_KBIT;
  q.bits = bits;
  return q;
}

typedef struct kspec {
  unsigned ndim;
  uint64_t shape[4];
  int gran;
  unsigned axis;
  uint64_t group;
} kspec;

static uint64_t unit_of(const kspec *s, uint64_t i) {
  if (s->gran == TCODEC_GRAN_GROUP) return i / s->group;
  if (s->gran != TCODEC_GRAN_CHANNEL) return 0;
  uint64_t rem = i, coord = 0;
  for (unsigned d = s->ndim; d-- > 0;) {
    if (d == s->axis) coord = rem % s->shape[d];
    rem /= s->shape[d];
  }
  return coord;
}

static double sq_err(const float *a, const float *b, uint64_t n) {
  double e = 0;
  for (uint64_t i = 0; i < n; i++) e += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
  return e;
}

/* ---- k-bit ---- */

Test(kbit, error_decreases_monotonically_with_bits_on_a_gaussian_tensor) {
  uint64_t shape[2] = {32, 256}, n = 32 * 256;
  float *w = malloc(n * sizeof(float));
  fill_normal(w, n, 11, 0.05);
  double sig = 0;
  for (uint64_t i = 0; i < n; i++) sig += (double)w[i] * w[i];
  for (int zp = 0; zp <= 1; zp++) {
    double prev = INFINITY;
    for (unsigned bits = 2; bits <= 8; bits++) {
      tcodec_request q = kbit_req(bits);
      q.zero_point = zp;
      enc_result r = encode_ok(2, shape, w, &q);
      tcodec_tensor_info info;
      float *v = decode_f32(&r.buf, &info);
      double e = sq_err(w, v, n);
      double sqnr = 10 * log10(sig / e);
      fprintf(stderr,
              "kbit gaussian 32x256 per-channel zp=%d bits=%u: stored %.3f bits/w, "
              "SQNR %.2f dB, rel err %.5f\n",
              zp, bits, 8.0 * (double)info.stored_bytes / n, sqnr, sqrt(e / sig));
      cr_assert_lt(e, prev, "zp=%d: error at %u bits (%g) is not below %u bits (%g)", zp, bits, e,
                   bits - 1, prev);
      prev = e;
      free(v);
      tu_buf_free(&r.buf);
    }
  }
  free(w);
}

/* Every coded weight lies within scale/2 of its decoded value (plus the final
 * binary32 rounding of scale * (code - zp)), for every granularity, scale dtype,
 * zero-point mode and bit width. */
Test(kbit, max_abs_error_is_at_most_half_a_scale_per_unit) {
  static const kspec specs[] = {
      {2, {12, 40}, TCODEC_GRAN_TENSOR, 0, 0},
      {2, {12, 40}, TCODEC_GRAN_CHANNEL, 0, 0},
      {3, {5, 6, 7}, TCODEC_GRAN_CHANNEL, 2, 0},
      {2, {12, 40}, TCODEC_GRAN_GROUP, 0, 64},
  };
  static const int sdtypes[] = {TCODEC_F32, TCODEC_F16, TCODEC_BF16};
  for (size_t si = 0; si < COUNT(specs); si++) {
    const kspec *s = &specs[si];
    uint64_t n = tu_nelem(s->ndim, s->shape);
    float *w = malloc(n * sizeof(float));
    fill_normal(w, n, 100 + si, 0.3);
    for (uint64_t i = 0; i < n; i += 7) w[i] += 0.5f; /* skew: ranges not symmetric */
    for (size_t di = 0; di < COUNT(sdtypes); di++)
      for (int zp = 0; zp <= 1; zp++)
        for (unsigned bits = 2; bits <= 8; bits++) {
          tcodec_request q = kbit_req(bits);
          q.granularity = s->gran;
          q.axis = s->axis;
          q.group_size = s->group;
          q.scale_dtype = sdtypes[di];
          q.zero_point = zp;
          enc_result r = encode_ok(s->ndim, s->shape, w, &q);
          tcodec_tensor_info info;
          float *v = decode_f32(&r.buf, &info);
          uint64_t ssize;
          uint8_t *sc = get_stream(&r.buf, TCODEC_ROLE_SCALES, &ssize);
          cr_assert_eq(info.encoding, TCODEC_ENC_KBIT);
          cr_assert_eq(info.bits, bits);
          cr_assert_eq(info.has_zero_point, zp);
          cr_assert_eq(info.has_mask, 0);
          for (uint64_t i = 0; i < n; i++) {
            double scale = load_scale(sdtypes[di], sc, unit_of(s, i));
            double bound = scale / 2 * (1 + 1e-6) + fabs((double)v[i]) * 0x1p-24;
            cr_assert_leq(fabs((double)w[i] - v[i]), bound,
                          "spec %zu sdtype %d zp %d bits %u: element %llu: %.9g -> %.9g, scale %g",
                          si, sdtypes[di], zp, bits, (unsigned long long)i, w[i], v[i], scale);
          }
          free(sc);
          free(v);
          tu_buf_free(&r.buf);
        }
    free(w);
  }
}

/* Values already on a per-channel k-bit grid (scale exact in the scale dtype, the
 * extreme codes present) come back bit for bit; the zero points too. */
Test(kbit, input_on_a_k_bit_grid_is_recovered_exactly) {
  uint64_t shape[2] = {6, 50}, n = 300;
  float *w = malloc(n * sizeof(float));
  uint8_t want_zp[6];
  tu_rng g;
  tu_rng_seed(&g, 5);
  for (int zp = 0; zp <= 1; zp++)
    for (unsigned bits = 2; bits <= 8; bits++) {
      int qmax = (1 << (bits - 1)) - 1, levels = (1 << bits) - 1;
      for (uint64_t c = 0; c < 6; c++) {
        double s = ldexp(0.375, -(int)c);
        int z = zp ? (int)tu_rng_below(&g, (uint64_t)levels + 1) : 0;
        want_zp[c] = (uint8_t)z;
        for (uint64_t e = 0; e < 50; e++) {
          int k;
          if (!zp)
            k = e == 0 ? qmax : e == 1 ? -qmax : (int)tu_rng_below(&g, 2 * qmax + 1) - qmax;
          else
            k = (e == 0 ? 0 : e == 1 ? levels : (int)tu_rng_below(&g, levels + 1)) - z;
          w[c * 50 + e] = (float)(s * k);
        }
      }
      static const int sdtypes[] = {TCODEC_F32, TCODEC_F16, TCODEC_BF16};
      for (size_t di = 0; di < COUNT(sdtypes); di++) {
        tcodec_request q = kbit_req(bits);
        q.zero_point = zp;
        q.scale_dtype = sdtypes[di];
        enc_result r = encode_ok(2, shape, w, &q);
        float *v = decode_f32(&r.buf, NULL);
        tu_assert_f32_eq(v, w, n, "zp %d bits %u sdtype %d", zp, bits, sdtypes[di]);
        if (zp) {
          uint64_t zs;
          uint8_t *zb = get_stream(&r.buf, TCODEC_ROLE_ZEROS, &zs);
          cr_assert_eq(zs, 6);
          tu_assert_mem_eq(zb, want_zp, 6, "zero points, bits %u", bits);
          free(zb);
        }
        free(v);
        tu_buf_free(&r.buf);
      }
    }
  free(w);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* floor(s*n) smallest |w| of the tensor are masked out (exact zeros, no code), the
 * survivors' scales come from the survivors only, and the coded bits decrease. */
Test(kbit, sparsity_prunes_exactly_floor_s_n_smallest_and_coded_bits_decrease) {
  static const double sp[] = {0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.97};
  uint64_t shape[2] = {16, 256}, n = 4096;
  float *w = malloc(n * sizeof(float));
  double *mag = malloc(n * sizeof(double));
  fill_normal(w, n, 21, 1.0);
  double sig = 0;
  for (uint64_t i = 0; i < n; i++) {
    mag[i] = fabs((double)w[i]);
    sig += mag[i] * mag[i];
  }
  qsort(mag, n, sizeof(double), cmp_double);
  uint64_t prev_bits = UINT64_MAX, prev_stored = UINT64_MAX;
  for (size_t k = 0; k < COUNT(sp); k++) {
    tcodec_request q = kbit_req(4);
    q.sparsity = sp[k];
    uint64_t pruned = (uint64_t)floor(sp[k] * (double)n);
    enc_result r = encode_ok(2, shape, w, &q);
    tcodec_tensor_info info;
    float *v = decode_f32(&r.buf, &info);
    uint64_t clen = 0, mlen = 0;
    uint8_t *codes = get_stream(&r.buf, TCODEC_ROLE_CODES, &clen);
    uint8_t *mask = get_stream(&r.buf, TCODEC_ROLE_MASK, &mlen);
    cr_assert_eq(info.has_mask, sp[k] > 0);
    cr_assert_eq(info.nnz, n - pruned, "s=%g: nnz %llu, want %llu", sp[k],
                 (unsigned long long)info.nnz, (unsigned long long)(n - pruned));
    cr_assert_eq(clen, ((n - pruned) * 4 + 7) / 8);
    double cut = pruned ? mag[pruned - 1] : -1;
    uint64_t zeros = 0;
    for (uint64_t i = 0; i < n && mask != NULL; i++) {
      int coded = (mask[i / 8] >> (i % 8)) & 1;
      zeros += !coded;
      if (!coded) {
        cr_assert(fabs((double)w[i]) <= cut, "pruned %llu |w| %g above cut %g",
                  (unsigned long long)i, fabs((double)w[i]), cut);
        cr_assert_eq(tu_f32_bits(v[i]), 0u, "pruned element %llu decodes to %g",
                     (unsigned long long)i, v[i]);
      } else {
        cr_assert(fabs((double)w[i]) >= cut);
      }
    }
    cr_assert_eq(zeros, pruned);
    uint64_t bits = 8 * (clen + mlen);
    fprintf(stderr,
            "kbit 4-bit 16x256 sparsity %.2f: pruned %llu, codes+mask %.3f bits/w, "
            "stored (zstd auto) %.3f bits/w, rel err %.5f\n",
            sp[k], (unsigned long long)pruned, (double)bits / n,
            8.0 * (double)info.stored_bytes / n, sqrt(sq_err(w, v, n) / sig));
    if (sp[k] > 0) {
      cr_assert_lt(bits, prev_bits, "s=%g: %llu coded bits, not below %llu", sp[k],
                   (unsigned long long)bits, (unsigned long long)prev_bits);
      prev_bits = bits;
    }
    if (sp[k] >= 0.25) cr_assert_lt(info.stored_bytes, prev_stored);
    prev_stored = info.stored_bytes;
    free(codes);
    free(mask);
    free(v);
    tu_buf_free(&r.buf);
  }
  free(mag);
  free(w);
}

/* Equal magnitudes: the lower indices are pruned first. */
Test(kbit, pruning_ties_are_broken_by_index) {
  uint64_t shape[1] = {40}, n = 40;
  float w[40];
  for (uint64_t i = 0; i < n; i++) w[i] = (i % 2) ? -1.0f : 1.0f;
  tcodec_request q = kbit_req(3);
  q.sparsity = 0.25;
  enc_result r = encode_ok(1, shape, w, &q);
  uint64_t mlen;
  uint8_t *mask = get_stream(&r.buf, TCODEC_ROLE_MASK, &mlen);
  for (uint64_t i = 0; i < n; i++)
    cr_assert_eq((mask[i / 8] >> (i % 8)) & 1, i >= 10, "element %llu", (unsigned long long)i);
  float *v = decode_f32(&r.buf, NULL);
  for (uint64_t i = 10; i < n; i++) cr_assert_eq(v[i], w[i]);
  free(v);
  free(mask);
  tu_buf_free(&r.buf);
}

Test(kbit, same_input_gives_the_same_bytes) {
  uint64_t shape[2] = {8, 100}, n = 800;
  float *w = malloc(n * sizeof(float));
  fill_normal(w, n, 3, 1.0);
  for (int zp = 0; zp <= 1; zp++) {
    tcodec_request q = kbit_req(5);
    q.zero_point = zp;
    q.sparsity = 0.3;
    enc_result a = encode_ok(2, shape, w, &q), b = encode_ok(2, shape, w, &q);
    cr_assert_eq(a.buf.size, b.buf.size);
    tu_assert_mem_eq(a.buf.data, b.buf.data, a.buf.size, "zp %d", zp);
    tu_buf_free(&a.buf);
    tu_buf_free(&b.buf);
  }
  free(w);
}

Test(kbit, nan_or_infinite_input_is_rejected_with_E_VALUE_naming_the_index) {
  uint64_t shape[1] = {16};
  float w[16];
  const float bad[] = {NAN, INFINITY, -INFINITY};
  for (size_t k = 0; k < COUNT(bad); k++)
    for (int sp = 0; sp <= 1; sp++) {
      for (int i = 0; i < 16; i++) w[i] = (float)i * 0.1f;
      w[7] = bad[k];
      tcodec_request q = kbit_req(4);
      q.sparsity = sp ? 0.5 : 0.0;
      enc_result r = encode1(1, shape, w, &q);
      cr_assert_eq(r.rc, TCODEC_E_VALUE, "got %d", r.rc);
      cr_assert(strstr(r.msg, "index 7") != NULL, "message: %s", r.msg);
    }
}

/* All-zero units: scale 0, every code the zero point, values +0. Constant
 * tensors: within scale/2, and the scale is what the definition gives. */
Test(kbit, all_zero_and_constant_tensors) {
  uint64_t shape[2] = {3, 10}, n = 30;
  float w[30];
  for (int zp = 0; zp <= 1; zp++)
    for (unsigned bits = 2; bits <= 8; bits += 3) {
      memset(w, 0, sizeof w);
      tcodec_request q = kbit_req(bits);
      q.zero_point = zp;
      enc_result r = encode_ok(2, shape, w, &q);
      float *v = decode_f32(&r.buf, NULL);
      for (uint64_t i = 0; i < n; i++) cr_assert_eq(tu_f32_bits(v[i]), 0u);
      tcodec_reader *rd = tu_reader_open(&r.buf);
      uint64_t sz;
      uint8_t *codes = tu_decode(rd, 0, TCODEC_OUT_SYMBOLS, &sz);
      uint8_t *sc = tu_stream(rd, 0, TCODEC_ROLE_SCALES, &sz);
      for (uint64_t i = 0; i < n; i++) cr_assert_eq(codes[i], zp ? 0 : 1u << (bits - 1));
      for (uint64_t u = 0; u < 3; u++) cr_assert_eq(load_scale(TCODEC_F32, sc, u), 0.0f);
      free(codes);
      free(sc);
      tcodec_reader_free(rd);
      free(v);
      tu_buf_free(&r.buf);

      const float consts[] = {0.3f, -0.3f, 1e-30f, 1e30f};
      for (size_t c = 0; c < COUNT(consts); c++) {
        for (uint64_t i = 0; i < n; i++) w[i] = consts[c];
        r = encode_ok(2, shape, w, &q);
        v = decode_f32(&r.buf, NULL);
        double levels = zp ? (double)((1u << bits) - 1) : (double)((1u << (bits - 1)) - 1);
        double scale = fabs((double)consts[c]) / levels;
        for (uint64_t i = 0; i < n; i++)
          cr_assert_leq(fabs((double)v[i] - consts[c]), fabs((double)consts[c]) * 1e-6,
                        "zp %d bits %u constant %g -> %g", zp, bits, consts[c], v[i]);
        (void)scale;
        free(v);
        tu_buf_free(&r.buf);
      }
    }
}

Test(kbit, invalid_requests_are_rejected) {
  uint64_t shape[1] = {8};
  float w[8] = {1, 2, 3, 4, -1, -2, -3, -4};
  tcodec_request q = kbit_req(1);
  cr_assert_eq(encode1(1, shape, w, &q).rc, TCODEC_E_PARAMS);
  q = kbit_req(9);
  cr_assert_eq(encode1(1, shape, w, &q).rc, TCODEC_E_PARAMS);
  q = kbit_req(4);
  q.symmetric = 0;
  cr_assert_eq(encode1(1, shape, w, &q).rc, TCODEC_E_PARAMS);
  q = kbit_req(4);
  q.sparsity = 1.5;
  cr_assert_eq(encode1(1, shape, w, &q).rc, TCODEC_E_PARAMS);
  q.sparsity = NAN;
  cr_assert_eq(encode1(1, shape, w, &q).rc, TCODEC_E_PARAMS);
  q = kbit_req(4);
  q.scale_dtype = TCODEC_F16;
  float big[2] = {1e30f, -1e30f};
  uint64_t s2[1] = {2};
  cr_assert_eq(encode1(1, s2, big, &q).rc, TCODEC_E_VALUE); /* scale overflows f16 */
  q = kbit_req(4);
  q.sparsity = 1.0; /* everything pruned: all zeros, no codes */
  enc_result r = encode_ok(1, shape, w, &q);
  tcodec_tensor_info info;
  float *v = decode_f32(&r.buf, &info);
  cr_assert_eq(info.nnz, 0);
  for (int i = 0; i < 8; i++) cr_assert_eq(tu_f32_bits(v[i]), 0u);
  free(v);
  tu_buf_free(&r.buf);
}

/* ---- hybrid ---- */

typedef struct twn_ref {
  int8_t *sym;     /* n */
  double *wp, *wn; /* per filter, rounded to the scale dtype */
  double *err;     /* per filter relative L2 error */
} twn_ref;

static double round_sdtype(int sdtype, long double v) {
  if (sdtype == TCODEC_F32) return (double)(float)v;
  if (sdtype == TCODEC_F16) return ref_f16_to_f32(ref_f64_to_f16((double)v));
  return ref_bf16_to_f32(ref_f64_to_bf16((double)v));
}

/* TWN per filter, computed here from its definition. */
static void twn_ref_compute(const float *w, uint64_t nf, uint64_t fs, double thr, int sym,
                            int sdtype, twn_ref *t) {
  t->sym = malloc(nf * fs + 1);
  t->wp = calloc(nf + 1, sizeof(double));
  t->wn = calloc(nf + 1, sizeof(double));
  t->err = calloc(nf + 1, sizeof(double));
  for (uint64_t f = 0; f < nf; f++) {
    const float *x = w + f * fs;
    int8_t *s = t->sym + f * fs;
    long double a = 0, ps = 0, ns = 0;
    uint64_t pc = 0, nc = 0;
    for (uint64_t e = 0; e < fs; e++) a += fabsl((long double)x[e]);
    long double delta = fs ? thr * (a / fs) : 0;
    for (uint64_t e = 0; e < fs; e++) {
      s[e] = x[e] > delta ? 1 : x[e] < -delta ? -1 : 0;
      if (s[e] > 0) ps += x[e], pc++;
      if (s[e] < 0) ns -= x[e], nc++;
    }
    if (sym) {
      t->wp[f] = t->wn[f] = round_sdtype(sdtype, pc + nc ? (ps + ns) / (pc + nc) : 0);
    } else {
      t->wp[f] = round_sdtype(sdtype, pc ? ps / pc : 0);
      t->wn[f] = round_sdtype(sdtype, nc ? ns / nc : 0);
    }
    double e2 = 0, w2 = 0;
    for (uint64_t e = 0; e < fs; e++) {
      double v = s[e] > 0 ? t->wp[f] : s[e] < 0 ? -t->wn[f] : 0;
      e2 += (x[e] - v) * (x[e] - v);
      w2 += (double)x[e] * x[e];
    }
    t->err[f] = w2 > 0 ? sqrt(e2 / w2) : 0;
  }
}

static void twn_ref_free(twn_ref *t) {
  free(t->sym);
  free(t->wp);
  free(t->wn);
  free(t->err);
}

static tcodec_request hybrid_req(void) {
  tcodec_request q;
  tcodec_request_init(&q);
  q.method = TCODEC_Q_HYBRID;
  return q;
}

/* A conv weight [F, 3, 3, 8]: filters of different kinds (gaussian, laplacian-like
 * heavy tails, nearly ternary, exactly ternary). */
static float *hybrid_weights(uint64_t nf, uint64_t fs, uint64_t seed, int exact_every) {
  float *w = malloc(nf * fs * sizeof(float));
  tu_rng g;
  tu_rng_seed(&g, seed);
  for (uint64_t f = 0; f < nf; f++) {
    int kind = (int)(f % 4);
    double a = 0.02 * (1 + (double)(f % 5));
    for (uint64_t e = 0; e < fs; e++) {
      double x = tu_rng_normal(&g), v;
      if (exact_every && f % exact_every == 2) {
        v = x > 0.5 ? 0.25 : x < -0.5 ? -0.25 : 0.0; /* exactly ternary, exact scale */
      } else if (kind == 0) {
        v = a * x;
      } else if (kind == 1) {
        v = a * x * x * x; /* heavy tails: ternary fits poorly */
      } else if (kind == 2) {
        v = (x > 0.4 ? a : x < -0.4 ? -a : 0) + 0.05 * a * tu_rng_normal(&g); /* nearly */
      } else {
        v = a * (tu_rng_unit(&g) * 2 - 1);
      }
      w[f * fs + e] = (float)v;
    }
  }
  return w;
}

/* Check a hybrid encoding against the reference: kinds as given, ternary filters
 * equal per-filter TWN, full filters equal the input rounded to full_dtype. */
static void check_hybrid(const enc_result *r, const float *w, uint64_t nf, uint64_t fs,
                         const uint8_t *want_kind, const twn_ref *t, int fdtype) {
  tcodec_tensor_info info;
  float *v = decode_f32(&r->buf, &info);
  cr_assert_eq(info.encoding, TCODEC_ENC_HYBRID);
  cr_assert_eq(info.full_dtype, fdtype);
  uint64_t klen;
  uint8_t *kinds = get_stream(&r->buf, TCODEC_ROLE_KINDS, &klen);
  cr_assert_eq(klen, (nf + 7) / 8);
  for (uint64_t f = 0; f < nf; f++) {
    int ter = (kinds[f / 8] >> (f % 8)) & 1;
    cr_assert_eq(ter, want_kind[f], "filter %llu: kind %d, want %d (ref err %g)",
                 (unsigned long long)f, ter, want_kind[f], t->err[f]);
    for (uint64_t e = 0; e < fs; e++) {
      uint64_t i = f * fs + e;
      double want;
      if (ter) {
        int8_t s = t->sym[i];
        want = s > 0 ? t->wp[f] : s < 0 ? -t->wn[f] : 0;
        cr_assert_leq(fabs(v[i] - want), 1e-6 * fabs(want), "filter %llu elem %llu: %g, want %g",
                      (unsigned long long)f, (unsigned long long)e, v[i], want);
      } else {
        want = fdtype == TCODEC_F16 ? ref_f16_to_f32(ref_f64_to_f16(w[i])) : w[i];
        cr_assert_eq(tu_f32_bits(v[i]), tu_f32_bits((float)want),
                     "full filter %llu elem %llu: %g, want %g", (unsigned long long)f,
                     (unsigned long long)e, v[i], want);
      }
    }
  }
  free(kinds);
  free(v);
}

Test(hybrid, error_budget_zero_keeps_only_exactly_ternary_filters) {
  uint64_t shape[4] = {24, 3, 3, 8}, nf = 24, fs = 72;
  float *w = hybrid_weights(nf, fs, 7, 6);
  tcodec_request q = hybrid_req();
  q.error_budget = 0;
  twn_ref t;
  twn_ref_compute(w, nf, fs, q.threshold, 1, TCODEC_F32, &t);
  uint8_t kind[24];
  for (uint64_t f = 0; f < nf; f++) kind[f] = f % 6 == 2;
  for (uint64_t f = 0; f < nf; f++)
    if (kind[f]) cr_assert_eq(t.err[f], 0.0);
  enc_result r = encode_ok(4, shape, w, &q);
  check_hybrid(&r, w, nf, fs, kind, &t, TCODEC_F16);
  tu_buf_free(&r.buf);
  twn_ref_free(&t);
  free(w);
}

Test(hybrid, infinite_budget_ternarizes_every_filter_as_twn_does) {
  uint64_t shape[2] = {20, 33}, nf = 20, fs = 33;
  float *w = hybrid_weights(nf, fs, 8, 0);
  for (int sym = 0; sym <= 1; sym++) {
    tcodec_request q = hybrid_req();
    q.error_budget = INFINITY;
    q.symmetric = sym;
    twn_ref t;
    twn_ref_compute(w, nf, fs, q.threshold, sym, TCODEC_F32, &t);
    uint8_t kind[20];
    memset(kind, 1, sizeof kind);
    enc_result r = encode_ok(2, shape, w, &q);
    tcodec_tensor_info info;
    free(decode_f32(&r.buf, &info));
    cr_assert_eq(info.units, nf);
    cr_assert_eq(info.symmetric, sym);
    check_hybrid(&r, w, nf, fs, kind, &t, TCODEC_F16);
    tu_buf_free(&r.buf);
    twn_ref_free(&t);
  }
  free(w);
}

static int cmp_err_idx(const void *a, const void *b, const double *err) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  if (err[x] != err[y]) return err[x] < err[y] ? -1 : 1;
  return x < y ? -1 : x > y;
}

/* Choose the k lowest-error filters (ties by index) by a plain selection. */
static void lowest_k(const double *err, uint64_t nf, uint64_t k, uint8_t *kind) {
  uint64_t *idx = malloc(nf * sizeof(uint64_t));
  for (uint64_t f = 0; f < nf; f++) idx[f] = f;
  for (uint64_t a = 0; a < nf; a++)
    for (uint64_t b = a + 1; b < nf; b++)
      if (cmp_err_idx(&idx[b], &idx[a], err) < 0) {
        uint64_t tmp = idx[a];
        idx[a] = idx[b];
        idx[b] = tmp;
      }
  memset(kind, 0, nf);
  for (uint64_t r = 0; r < k; r++) kind[idx[r]] = 1;
  free(idx);
}

Test(hybrid, ternary_fraction_picks_the_lowest_error_filters) {
  uint64_t shape[2] = {30, 64}, nf = 30, fs = 64;
  float *w = hybrid_weights(nf, fs, 9, 0);
  memcpy(w + 5 * fs, w + 1 * fs, fs * sizeof(float)); /* a tie: filters 1 and 5 */
  static const struct {
    double f;
    uint64_t k;
  } fr[] = {{0.5, 15}, {0.1, 3}, {0.3, 9}, {0.01, 1}, {1.0, 30}};
  static const int fdt[] = {TCODEC_F16, TCODEC_F32};
  for (size_t k = 0; k < COUNT(fr); k++)
    for (size_t d = 0; d < COUNT(fdt); d++) {
      tcodec_request q = hybrid_req();
      q.ternary_fraction = fr[k].f;
      q.full_dtype = fdt[d];
      twn_ref t;
      twn_ref_compute(w, nf, fs, q.threshold, 1, TCODEC_F32, &t);
      uint8_t kind[30];
      lowest_k(t.err, nf, fr[k].k, kind);
      enc_result r = encode_ok(2, shape, w, &q);
      tcodec_tensor_info info;
      free(decode_f32(&r.buf, &info));
      cr_assert_eq(info.units, fr[k].k, "fraction %g: %llu ternary", fr[k].f,
                   (unsigned long long)info.units);
      check_hybrid(&r, w, nf, fs, kind, &t, fdt[d]);
      tu_buf_free(&r.buf);
      twn_ref_free(&t);
    }
  free(w);
}

/* The budget sweep: ternary share and size against the error of the tensor. */
Test(hybrid, budget_sweep_matches_the_reference_and_is_deterministic) {
  uint64_t shape[4] = {64, 3, 3, 16}, nf = 64, fs = 144, n = nf * fs;
  float *w = hybrid_weights(nf, fs, 10, 0);
  static const double budgets[] = {0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0};
  static const int sdt[] = {TCODEC_F32, TCODEC_F16, TCODEC_BF16};
  double sig = 0;
  for (uint64_t i = 0; i < n; i++) sig += (double)w[i] * w[i];
  for (size_t s = 0; s < COUNT(sdt); s++) {
    twn_ref t;
    twn_ref_compute(w, nf, fs, 0.7, 1, sdt[s], &t);
    uint64_t prev_nter = 0;
    for (size_t b = 0; b < COUNT(budgets); b++) {
      tcodec_request q = hybrid_req();
      q.error_budget = budgets[b];
      q.scale_dtype = sdt[s];
      uint8_t kind[64];
      uint64_t nter = 0;
      for (uint64_t f = 0; f < nf; f++) nter += kind[f] = t.err[f] <= budgets[b];
      enc_result r = encode_ok(4, shape, w, &q), r2 = encode_ok(4, shape, w, &q);
      cr_assert_eq(r.buf.size, r2.buf.size);
      tu_assert_mem_eq(r.buf.data, r2.buf.data, r.buf.size, "budget %g", budgets[b]);
      check_hybrid(&r, w, nf, fs, kind, &t, TCODEC_F16);
      tcodec_tensor_info info;
      float *v = decode_f32(&r.buf, &info);
      cr_assert_geq(nter, prev_nter);
      prev_nter = nter;
      if (sdt[s] == TCODEC_F32)
        fprintf(stderr,
                "hybrid 64x3x3x16 budget %.1f: %llu/64 ternary, stored %.3f bits/w, "
                "rel err %.4f\n",
                budgets[b], (unsigned long long)nter, 8.0 * (double)info.stored_bytes / n,
                sqrt(sq_err(w, v, n) / sig));
      free(v);
      tu_buf_free(&r.buf);
      tu_buf_free(&r2.buf);
    }
    twn_ref_free(&t);
  }
  free(w);
}

Test(hybrid, invalid_input_and_requests_are_rejected) {
  uint64_t shape[2] = {4, 4};
  float w[16];
  for (int i = 0; i < 16; i++) w[i] = (float)(i - 8) * 0.1f;
  tcodec_request q = hybrid_req();
  w[9] = NAN;
  enc_result r = encode1(2, shape, w, &q);
  cr_assert_eq(r.rc, TCODEC_E_VALUE);
  cr_assert(strstr(r.msg, "index 9") != NULL, "message: %s", r.msg);
  w[9] = -INFINITY;
  cr_assert_eq(encode1(2, shape, w, &q).rc, TCODEC_E_VALUE);
  w[9] = 0.1f;
  cr_assert_eq(encode1(0, NULL, w, &q).rc, TCODEC_E_PARAMS); /* a scalar has no filters */
  q.axis = 1;
  cr_assert_eq(encode1(2, shape, w, &q).rc, TCODEC_E_PARAMS);
  q = hybrid_req();
  q.full_dtype = TCODEC_BF16;
  cr_assert_eq(encode1(2, shape, w, &q).rc, TCODEC_E_PARAMS);
  q = hybrid_req();
  q.error_budget = NAN;
  cr_assert_eq(encode1(2, shape, w, &q).rc, TCODEC_E_PARAMS);
  q = hybrid_req();
  q.ternary_fraction = 1.5;
  cr_assert_eq(encode1(2, shape, w, &q).rc, TCODEC_E_PARAMS);
  q = hybrid_req();
  q.error_budget = 0; /* filter 1 stays full and 1e6 does not fit f16 */
  w[5] = 1e6f;
  cr_assert_eq(encode1(2, shape, w, &q).rc, TCODEC_E_VALUE);
}

Test(hybrid, all_zero_and_constant_filters_are_ternary_with_zero_error) {
  uint64_t shape[2] = {3, 5};
  float w[15] = {0, 0, 0, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.1f, -0.2f, 0.3f, 0.9f, -1.1f};
  tcodec_request q = hybrid_req();
  q.error_budget = 0;
  enc_result r = encode_ok(2, shape, w, &q);
  tcodec_tensor_info info;
  float *v = decode_f32(&r.buf, &info);
  cr_assert_eq(info.units, 2);
  for (int i = 0; i < 10; i++) cr_assert_eq(v[i], w[i]);
  for (int i = 10; i < 15; i++) cr_assert_eq(v[i], ref_f16_to_f32(ref_f64_to_f16(w[i])));
  free(v);
  tu_buf_free(&r.buf);
}
