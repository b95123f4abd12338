/* tcodec_writer_add_f32 with TCODEC_Q_EC2T, TCODEC_Q_BINARY and TCODEC_Q_ADAPTIVE_BT,
 * through the public API only: write, read back, and compute the metrics here
 * (order-0 entropy of the decoded symbols in bits/weight, SQNR in dB).
 *
 * The EC2T vs TWN comparison at matched bits logs its numbers (cr_log_info); run the
 * test binary with --verbose to see them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "support/reference.h"
#include "support/testutil.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct result {
  int rc;
  int encoding;
  uint64_t n;
  int8_t *sym;
  float *f;
  tu_buf buf; /* the container bytes */
} result;

/* Write w with req, read back symbols and f32 values (rc != 0: nothing read). */
static result run(const tcodec_request *req, unsigned ndim, const uint64_t *shape,
                  const float *w, int dtype, const char *what) {
  result res;
  memset(&res, 0, sizeof res);
  res.n = tu_nelem(ndim, shape);
  tcodec_writer *wr = tu_writer_begin(&res.buf);
  tcodec_tensor_desc d = tu_desc(what, dtype, ndim, shape);
  res.rc = tcodec_writer_add_f32(wr, &d, w, (size_t)res.n, req);
  if (res.rc != 0) {
    cr_log_info("%s: %s: %s", what, tcodec_strerror(res.rc), tcodec_writer_error_message(wr));
    tcodec_writer_free(wr);
    return res;
  }
  tu_writer_finish(wr);
  tcodec_reader *r = tu_reader_open(&res.buf);
  res.encoding = tu_info(r, 0).encoding;
  uint64_t sz;
  res.sym = tu_decode(r, 0, TCODEC_OUT_SYMBOLS, &sz);
  cr_assert_eq(sz, res.n, "%s: symbols size", what);
  res.f = tu_decode(r, 0, TCODEC_OUT_F32, &sz);
  cr_assert_eq(sz, res.n * 4, "%s: f32 size", what);
  char why[256];
  int rc = ref_check_library(r, 0, 0, 0, why, sizeof(why));
  cr_assert_eq(rc, 0, "%s: library vs reference decoder: %s", what, why);
  tcodec_reader_free(r);
  return res;
}

static void result_free(result *r) {
  free(r->sym);
  free(r->f);
  tu_buf_free(&r->buf);
}

static result run_ok(const tcodec_request *req, unsigned ndim, const uint64_t *shape,
                     const float *w, const char *what) {
  result r = run(req, ndim, shape, w, TCODEC_F32, what);
  cr_assert_eq(r.rc, 0, "%s: add_f32: %s", what, tcodec_strerror(r.rc));
  return r;
}

static double entropy(const int8_t *sym, uint64_t n) {
  uint64_t cnt[3] = {0, 0, 0};
  for (uint64_t i = 0; i < n; i++) cnt[sym[i] + 1]++;
  double h = 0;
  for (int s = 0; s < 3; s++)
    if (cnt[s]) {
      double p = (double)cnt[s] / (double)n;
      h -= p * log2(p);
    }
  return h;
}

static double sqnr(const float *w, const float *q, uint64_t n) {
  long double sig = 0, noise = 0;
  for (uint64_t i = 0; i < n; i++) {
    long double d = (long double)w[i] - q[i];
    sig += (long double)w[i] * w[i];
    noise += d * d;
  }
  return noise == 0 ? INFINITY : (double)(10.0L * log10l(sig / noise));
}

static tcodec_request request(int method, int gran, int sym) {
  tcodec_request req;
  tcodec_request_init(&req);
  req.method = method;
  req.granularity = gran;
  req.symmetric = sym;
  return req;
}

enum { DIST_GAUSS, DIST_LAPLACE };

/* n weights; per row of `row` elements a different spread, so channels differ. */
static float *weights(int dist, uint64_t n, uint64_t row, uint64_t seed) {
  float *w = malloc((size_t)n * sizeof(float) + 4);
  cr_assert_not_null(w);
  tu_rng g;
  tu_rng_seed(&g, seed);
  for (uint64_t i = 0; i < n; i++) {
    double x;
    if (dist == DIST_GAUSS) {
      x = tu_rng_normal(&g);
    } else {
      double u = tu_rng_unit(&g) - 0.5;
      x = (u < 0 ? 1 : -1) * log(1 - 2 * fabs(u)) / sqrt(2.0); /* unit variance */
    }
    w[i] = (float)(x * 0.02 * (1.0 + 0.1 * (double)(i / row % 7)));
  }
  return w;
}

/* ---- EC2T ----------------------------------------------------------------------------- */

Test(ec2t, larger_lambda_gives_fewer_coded_bits) {
  static const uint64_t shape[2] = {64, 1024};
  static const double lambdas[] = {0, 0.02, 0.05, 0.1, 0.2, 0.5};
  float *w = weights(DIST_GAUSS, 65536, 1024, 11);
  for (int cfg = 0; cfg < 3; cfg++) {
    int gran = cfg == 0 ? TCODEC_GRAN_TENSOR : TCODEC_GRAN_CHANNEL, sym = cfg != 2;
    double prev = INFINITY, first = 0;
    for (size_t k = 0; k < COUNT(lambdas); k++) {
      tcodec_request req = request(TCODEC_Q_EC2T, gran, sym);
      req.lambda = lambdas[k];
      char what[64];
      snprintf(what, sizeof what, "ec2t gran %d sym %d lambda %g", gran, sym, lambdas[k]);
      result r = run_ok(&req, 2, shape, w, what);
      cr_assert_eq(r.encoding, TCODEC_ENC_TERNARY, "%s: encoding", what);
      double h = entropy(r.sym, r.n), s = sqnr(w, r.f, r.n);
      cr_log_info("%s: %.4f bits/weight, SQNR %.3f dB", what, h, s);
      cr_assert(h <= prev, "%s: entropy %.6f > %.6f at the smaller lambda", what, h, prev);
      if (k == 0) first = h;
      prev = h;
      result_free(&r);
    }
    cr_assert(prev < first - 0.3, "gran %d sym %d: lambda 0.5 only went from %.4f to %.4f bits",
              gran, sym, first, prev);
  }
  free(w);
}

Test(ec2t, lambda_0_is_never_worse_than_its_twn_start) {
  static const uint64_t shape[2] = {32, 512};
  static const double thresholds[] = {0.2, 0.5, 0.7, 1.0, 1.5, 2.5};
  for (int dist = DIST_GAUSS; dist <= DIST_LAPLACE; dist++) {
    float *w = weights(dist, 16384, 512, 20 + (uint64_t)dist);
    for (int cfg = 0; cfg < 4; cfg++) {
      int gran = cfg < 2 ? TCODEC_GRAN_TENSOR : TCODEC_GRAN_CHANNEL, sym = cfg % 2;
      for (int sd = 0; sd < 2; sd++)
        for (size_t k = 0; k < COUNT(thresholds); k++) {
          tcodec_request req = request(TCODEC_Q_TWN, gran, sym);
          req.threshold = thresholds[k];
          req.scale_dtype = sd ? TCODEC_BF16 : TCODEC_F32;
          result t = run_ok(&req, 2, shape, w, "twn");
          req.method = TCODEC_Q_EC2T;
          req.lambda = 0;
          result e = run_ok(&req, 2, shape, w, "ec2t");
          double st = sqnr(w, t.f, t.n), se = sqnr(w, e.f, e.n);
          /* Lloyd descent from TWN: only the rounding of the scales may cost a little. */
          double tol = sd ? 0.05 : 1e-5;
          cr_assert(se >= st - tol,
                    "dist %d gran %d sym %d sdtype %s threshold %g: EC2T(lambda 0) %.6f dB < "
                    "TWN %.6f dB",
                    dist, gran, sym, sd ? "bf16" : "f32", thresholds[k], se, st);
          result_free(&t);
          result_free(&e);
        }
    }
    free(w);
  }
}

Test(ec2t, max_iter_0_gives_twn) {
  static const uint64_t shape[3] = {6, 10, 7};
  float *w = weights(DIST_LAPLACE, 420, 70, 3);
  for (int cfg = 0; cfg < 3; cfg++) {
    tcodec_request req = request(TCODEC_Q_TWN, cfg, cfg != 1);
    req.group_size = 32;
    result t = run_ok(&req, 3, shape, w, "twn");
    req.method = TCODEC_Q_EC2T;
    req.max_iter = 0;
    result e = run_ok(&req, 3, shape, w, "ec2t max_iter 0");
    tu_assert_mem_eq(e.sym, t.sym, (size_t)t.n, "gran %d symbols", cfg);
    tu_assert_f32_eq(e.f, t.f, (size_t)t.n, "gran %d values", cfg);
    result_free(&t);
    result_free(&e);
  }
  free(w);
}

Test(ec2t, same_input_gives_same_bytes) {
  static const uint64_t shape[2] = {48, 300};
  float *w = weights(DIST_GAUSS, 14400, 300, 5);
  static const int methods[] = {TCODEC_Q_EC2T, TCODEC_Q_BINARY, TCODEC_Q_ADAPTIVE_BT};
  for (size_t k = 0; k < COUNT(methods); k++) {
    tcodec_request req = request(methods[k], TCODEC_GRAN_CHANNEL, 0);
    req.lambda = 0.1;
    result a = run_ok(&req, 2, shape, w, "same");
    result b = run_ok(&req, 2, shape, w, "same");
    cr_assert_eq(a.buf.size, b.buf.size, "method %d: container sizes differ", methods[k]);
    tu_assert_mem_eq(a.buf.data, b.buf.data, a.buf.size, "method %d: container bytes",
                     methods[k]);
    result_free(&a);
    result_free(&b);
  }
  free(w);
}

Test(ec2t, exactly_ternary_input_is_recovered_exactly) {
  static const uint64_t shape[2] = {16, 64};
  float w[1024];
  tu_rng g;
  tu_rng_seed(&g, 9);
  for (int i = 0; i < 1024; i++) {
    uint64_t k = tu_rng_below(&g, 3);
    w[i] = k == 0 ? -0.5f : k == 1 ? 0.0f : 0.75f;
  }
  for (int gran = TCODEC_GRAN_TENSOR; gran <= TCODEC_GRAN_CHANNEL; gran++)
    for (int sd = 0; sd < 3; sd++) {
      tcodec_request req = request(TCODEC_Q_EC2T, gran, 0);
      req.lambda = 0.001;
      req.scale_dtype = sd == 0 ? TCODEC_F32 : sd == 1 ? TCODEC_F16 : TCODEC_BF16;
      result r = run_ok(&req, 2, shape, w, "exact ternary");
      for (int i = 0; i < 1024; i++)
        cr_assert_eq(r.sym[i], w[i] > 0 ? 1 : w[i] < 0 ? -1 : 0, "gran %d sd %d symbol %d",
                     gran, sd, i);
      tu_assert_f32_eq(r.f, w, 1024, "gran %d sdtype %d values", gran, sd);
      result_free(&r);
    }
}

Test(ec2t, all_zero_and_constant_tensors) {
  static const uint64_t shape[2] = {4, 25};
  float z[100], c[100];
  for (int i = 0; i < 100; i++) {
    z[i] = i % 3 ? 0.0f : -0.0f;
    c[i] = 0.375f;
  }
  for (int sym = 0; sym <= 1; sym++)
    for (int sign = 0; sign <= 1; sign++) {
      tcodec_request req = request(TCODEC_Q_EC2T, TCODEC_GRAN_CHANNEL, sym);
      req.lambda = 0.5;
      result r = run_ok(&req, 2, shape, z, "zeros");
      for (int i = 0; i < 100; i++) {
        cr_assert_eq(r.sym[i], 0, "zeros: symbol %d", i);
        cr_assert_eq(tu_f32_bits(r.f[i]), 0u, "zeros: value %d = %g", i, (double)r.f[i]);
      }
      result_free(&r);
      /* Documented: a constant c keeps every weight at sign(c), value exactly c. */
      float v[100];
      for (int i = 0; i < 100; i++) v[i] = sign ? -c[i] : c[i];
      r = run_ok(&req, 2, shape, v, "constant");
      for (int i = 0; i < 100; i++) cr_assert_eq(r.sym[i], sign ? -1 : 1, "constant: symbol %d", i);
      tu_assert_f32_eq(r.f, v, 100, "constant sym %d sign %d", sym, sign);
      result_free(&r);
    }
}

Test(ec2t, nan_inf_and_bad_parameters_are_rejected) {
  static const uint64_t shape[2] = {4, 8};
  const float bad[3] = {NAN, INFINITY, -INFINITY};
  static const int methods[] = {TCODEC_Q_EC2T, TCODEC_Q_BINARY, TCODEC_Q_ADAPTIVE_BT};
  for (size_t m = 0; m < COUNT(methods); m++)
    for (int k = 0; k < 3; k++) {
      float x[32];
      for (int i = 0; i < 32; i++) x[i] = (float)(i % 5) - 2.0f;
      x[17 + k] = bad[k];
      tcodec_request req = request(methods[m], TCODEC_GRAN_CHANNEL, 1);
      tu_buf buf = {0};
      tcodec_writer *wr = tu_writer_begin(&buf);
      tcodec_tensor_desc d = tu_desc("bad", TCODEC_F32, 2, shape);
      int rc = tcodec_writer_add_f32(wr, &d, x, 32, &req);
      cr_assert_eq(rc, TCODEC_E_VALUE, "method %d: %g: %s", methods[m], (double)bad[k],
                   tcodec_strerror(rc));
      char idx[16];
      snprintf(idx, sizeof idx, "%d", 17 + k);
      cr_assert_not_null(strstr(tcodec_writer_error_message(wr), idx),
                         "message names the index: %s", tcodec_writer_error_message(wr));
      tcodec_writer_free(wr);
      tu_buf_free(&buf);
    }
  float x[32] = {0};
  tcodec_request req = request(TCODEC_Q_EC2T, TCODEC_GRAN_TENSOR, 1);
  req.lambda = -1;
  result r = run(&req, 2, shape, x, TCODEC_F32, "negative lambda");
  cr_assert_eq(r.rc, TCODEC_E_PARAMS);
  tu_buf_free(&r.buf);
  req = request(TCODEC_Q_ADAPTIVE_BT, TCODEC_GRAN_TENSOR, 1);
  req.size_weight = NAN;
  r = run(&req, 2, shape, x, TCODEC_F32, "NaN size_weight");
  cr_assert_eq(r.rc, TCODEC_E_PARAMS);
  tu_buf_free(&r.buf);
  req = request(TCODEC_Q_BINARY, TCODEC_GRAN_TENSOR, 1);
  r = run(&req, 2, shape, x, TCODEC_I8, "integer dtype");
  cr_assert_eq(r.rc, TCODEC_E_UNSUPPORTED_DTYPE);
  tu_buf_free(&r.buf);
}

/* EC2T vs TWN at matched entropy: the TWN threshold sweep gives a curve (bits, SQNR);
 * each EC2T point inside its bit range must reach at least the TWN SQNR interpolated
 * at its bits, minus a small tolerance. */
static void matched_bits(int dist, int gran, int sym, const char *name) {
  static const uint64_t shape[2] = {64, 1024};
  static const double lambdas[] = {0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0};
  enum { NT = 45 };
  double th[NT], tb[NT], ts[NT];
  float *w = weights(dist, 65536, 1024, 100 + (uint64_t)dist);
  for (int k = 0; k < NT; k++) {
    tcodec_request req = request(TCODEC_Q_TWN, gran, sym);
    req.threshold = th[k] = 0.3 + 0.05 * k;
    result r = run_ok(&req, 2, shape, w, "twn sweep");
    tb[k] = entropy(r.sym, r.n);
    ts[k] = sqnr(w, r.f, r.n);
    cr_log_info("%s TWN threshold %.2f: %.4f bits/weight, SQNR %.3f dB", name, th[k], tb[k],
                ts[k]);
    result_free(&r);
  }
  double worst = INFINITY;
  int compared = 0;
  for (size_t k = 0; k < COUNT(lambdas); k++) {
    tcodec_request req = request(TCODEC_Q_EC2T, gran, sym);
    req.lambda = lambdas[k];
    result r = run_ok(&req, 2, shape, w, "ec2t sweep");
    double b = entropy(r.sym, r.n), s = sqnr(w, r.f, r.n);
    /* TWN at the same bits: interpolate between the two sweep points around b (the
     * sweep's entropy falls as the threshold grows from 0.55 on). */
    double twn = NAN;
    for (int j = 0; j + 1 < NT; j++) {
      double hi = tb[j], lo = tb[j + 1];
      if (hi >= b && b >= lo && hi > lo) {
        twn = ts[j + 1] + (ts[j] - ts[j + 1]) * (b - lo) / (hi - lo);
        break;
      }
    }
    if (isnan(twn)) {
      cr_log_info("%s EC2T lambda %.2f: %.4f bits/weight, SQNR %.3f dB (outside the TWN sweep)",
                  name, lambdas[k], b, s);
    } else {
      cr_log_info("%s EC2T lambda %.2f: %.4f bits/weight, SQNR %.3f dB; TWN at same bits %.3f "
                  "dB; gain %+.3f dB",
                  name, lambdas[k], b, s, twn, s - twn);
      if (s - twn < worst) worst = s - twn;
      compared++;
      cr_expect(s >= twn - 0.05, "%s: EC2T lambda %g at %.4f bits: %.3f dB < TWN %.3f dB", name,
                lambdas[k], b, s, twn);
    }
    result_free(&r);
  }
  cr_log_info("%s: %d EC2T points compared, worst gain %+.3f dB", name, compared, worst);
  cr_assert(compared >= 5, "%s: only %d EC2T points inside the TWN range", name, compared);
  free(w);
}

Test(ec2t, at_matched_bits_ec2t_reaches_twn_sqnr_gaussian) {
  matched_bits(DIST_GAUSS, TCODEC_GRAN_TENSOR, 0, "gauss/tensor/asym");
  matched_bits(DIST_GAUSS, TCODEC_GRAN_CHANNEL, 1, "gauss/channel/sym");
}

Test(ec2t, at_matched_bits_ec2t_reaches_twn_sqnr_laplacian) {
  matched_bits(DIST_LAPLACE, TCODEC_GRAN_TENSOR, 0, "laplace/tensor/asym");
  matched_bits(DIST_LAPLACE, TCODEC_GRAN_CHANNEL, 1, "laplace/channel/sym");
}

/* ---- binary --------------------------------------------------------------------------- */

Test(binary, two_valued_input_comes_back_exactly) {
  static const uint64_t shape[2] = {8, 40};
  float w[320];
  tu_rng g;
  tu_rng_seed(&g, 31);
  for (int i = 0; i < 320; i++) w[i] = tu_rng_below(&g, 2) ? 0.625f : -0.25f;
  for (int gran = TCODEC_GRAN_TENSOR; gran <= TCODEC_GRAN_GROUP; gran++)
    for (int sd = 0; sd < 3; sd++) {
      tcodec_request req = request(TCODEC_Q_BINARY, gran, 0);
      req.group_size = 16;
      req.scale_dtype = sd == 0 ? TCODEC_F32 : sd == 1 ? TCODEC_F16 : TCODEC_BF16;
      result r = run_ok(&req, 2, shape, w, "binary two values");
      cr_assert_eq(r.encoding, TCODEC_ENC_BINARY);
      for (int i = 0; i < 320; i++) cr_assert_eq(r.sym[i], w[i] > 0 ? 1 : -1, "symbol %d", i);
      tu_assert_f32_eq(r.f, w, 320, "gran %d sdtype %d", gran, sd);
      result_free(&r);
    }
  /* symmetric: {-a, +a} */
  for (int i = 0; i < 320; i++) w[i] = w[i] > 0 ? 0.375f : -0.375f;
  tcodec_request req = request(TCODEC_Q_BINARY, TCODEC_GRAN_CHANNEL, 1);
  result r = run_ok(&req, 2, shape, w, "binary +-a");
  tu_assert_f32_eq(r.f, w, 320, "symmetric");
  result_free(&r);
}

Test(binary, sign_convention_and_scales) {
  /* zero (either sign) -> +1; w_p = mean of the +1 weights (zeros included),
   * w_n = mean |w| of the -1 ones; symmetric: mean |w|. */
  static const uint64_t shape[1] = {6};
  const float w[6] = {0.0f, -0.0f, 1.0f, 2.0f, -1.0f, -3.0f};
  tcodec_request req = request(TCODEC_Q_BINARY, TCODEC_GRAN_TENSOR, 0);
  result r = run_ok(&req, 1, shape, w, "signs");
  const int8_t want_sym[6] = {1, 1, 1, 1, -1, -1};
  tu_assert_mem_eq(r.sym, want_sym, 6, "symbols");
  const float want_asym[6] = {0.75f, 0.75f, 0.75f, 0.75f, -2.0f, -2.0f};
  tu_assert_f32_eq(r.f, want_asym, 6, "asymmetric values");
  result_free(&r);
  req.symmetric = 1;
  r = run_ok(&req, 1, shape, w, "signs sym");
  const float want_sym_v[6] = {7.0f / 6, 7.0f / 6, 7.0f / 6, 7.0f / 6, -7.0f / 6, -7.0f / 6};
  tu_assert_f32_eq(r.f, want_sym_v, 6, "symmetric values");
  result_free(&r);
  /* all zero: +1 with scale 0, values +0 */
  const float z[6] = {0};
  r = run_ok(&req, 1, shape, z, "binary zeros");
  for (int i = 0; i < 6; i++) cr_assert_eq(tu_f32_bits(r.f[i]), 0u, "zero value %d", i);
  result_free(&r);
}

/* ---- adaptive binary/ternary ----------------------------------------------------------- */

Test(adaptive, picks_by_error_and_size_and_matches_the_chosen_quantizer) {
  static const uint64_t shape[2] = {32, 256};
  float *w = weights(DIST_GAUSS, 8192, 256, 41);
  for (int sym = 0; sym <= 1; sym++) {
    tcodec_request twn = request(TCODEC_Q_TWN, TCODEC_GRAN_CHANNEL, sym);
    tcodec_request bin = request(TCODEC_Q_BINARY, TCODEC_GRAN_CHANNEL, sym);
    result t = run_ok(&twn, 2, shape, w, "twn");
    result b = run_ok(&bin, 2, shape, w, "binary");
    double rt = pow(10, -sqnr(w, t.f, t.n) / 10), rb = pow(10, -sqnr(w, b.f, b.n) / 10);
    double ht = entropy(t.sym, t.n);
    /* Crossover: rt + sw * ht = rb + sw * 1. */
    double cross = (rb - rt) / (ht - 1);
    cr_log_info("sym %d: ternary rel_err^2 %.4f at %.4f bits, binary %.4f at 1 bit; "
                "binary wins for size_weight > %.4f",
                sym, rt, ht, rb, cross);
    cr_assert(cross > 0, "ternary has more bits and less error on a Gaussian");
    const double sws[] = {0, 0.01, cross * 0.9, cross * 1.1, 1.0};
    for (size_t k = 0; k < COUNT(sws); k++) {
      tcodec_request req = request(TCODEC_Q_ADAPTIVE_BT, TCODEC_GRAN_CHANNEL, sym);
      req.size_weight = sws[k];
      result a = run_ok(&req, 2, shape, w, "adaptive");
      int want_bin = sws[k] > cross;
      cr_assert_eq(a.encoding, want_bin ? TCODEC_ENC_BINARY : TCODEC_ENC_TERNARY,
                   "sym %d size_weight %g: encoding %d", sym, sws[k], a.encoding);
      const result *same = want_bin ? &b : &t;
      tu_assert_mem_eq(a.sym, same->sym, (size_t)a.n, "size_weight %g symbols", sws[k]);
      tu_assert_f32_eq(a.f, same->f, (size_t)a.n, "size_weight %g values", sws[k]);
      result_free(&a);
    }
    result_free(&t);
    result_free(&b);
  }
  free(w);
}

Test(adaptive, two_valued_and_all_zero_inputs) {
  static const uint64_t shape[1] = {200};
  float w[200];
  for (int i = 0; i < 200; i++) w[i] = i % 3 ? 0.5f : -1.5f;
  tcodec_request req = request(TCODEC_Q_ADAPTIVE_BT, TCODEC_GRAN_TENSOR, 0);
  req.size_weight = 0.01;
  result r = run_ok(&req, 1, shape, w, "adaptive two values");
  /* TWN at 0.7: delta = 0.7 * mean|w| = 0.583 > 0.5, so ternary zeroes the 0.5s
   * (rel_err^2 = 0.18); binary is exact (error 0, 1 bit): binary wins. */
  cr_assert_eq(r.encoding, TCODEC_ENC_BINARY, "encoding %d", r.encoding);
  tu_assert_f32_eq(r.f, w, 200, "two values");
  result_free(&r);
  float z[200] = {0};
  r = run_ok(&req, 1, shape, z, "adaptive zeros");
  cr_assert_eq(r.encoding, TCODEC_ENC_TERNARY, "all zero: ternary (0 bits, 0 error)");
  for (int i = 0; i < 200; i++) cr_assert_eq(tu_f32_bits(r.f[i]), 0u, "zero value %d", i);
  result_free(&r);
}
