/* TCODEC_Q_BINARY and TCODEC_Q_ADAPTIVE_BT (Smart Quantization: binary or ternary per
 * layer). Encoder only.
 *
 * Binary, per scale unit: w >= 0 (+0.0 and -0.0 included) -> +1, w < 0 -> -1.
 * Asymmetric: w_p = mean of the weights given +1 (zeros included: that is the least-
 * squares value of the +1 cluster), w_n = mean |w| of those given -1. Symmetric: one
 * scale = mean |w| over the unit. Scales are rounded to the scale dtype. A unit
 * holding two values a < 0 <= b comes back exactly as {a, b} (asymmetric, when the
 * scale dtype holds |a| and b); an all-zero unit gives +1 with scale 0 (values +0).
 * A constant c > 0 gives all +1 with w_p = c (w_n = 0); c < 0 all -1 with w_n = |c|.
 *
 * Adaptive: computes both the binary above and TWN ternary (req->threshold, the same
 * bytes TCODEC_Q_TWN writes) with the request's granularity/symmetry/scale dtype, and
 * keeps the one with the smaller
 *     J = rel_err^2 + size_weight * bits_per_weight,
 * rel_err^2 = sum (w - q)^2 / sum w^2 (0 when the tensor is all zero), q the values the
 * decoder gives (rounded scales); bits_per_weight = 1 for binary and, for ternary, the
 * order-0 entropy of its symbols over the tensor (what the entropy stage can reach;
 * the scales are not counted). Ties go to ternary. The reader shows the choice as
 * tcodec_tensor_info.encoding (TCODEC_ENC_TERNARY or TCODEC_ENC_BINARY). */
#include <math.h>
#include <string.h>

#include "tc_enc.h"

typedef struct bin_acc {
  double pos_sum, neg_sum;
  uint64_t pos_count, neg_count;
} bin_acc;

/* Symbols and rounded scales of the binary quantizer. */
static int binarize(tc_mem *m, unsigned ndim, const uint64_t *shape, uint64_t n,
                    const float *src, const tc_params *p, int8_t *sym, double *scales, char *err,
                    size_t err_cap) {
  if (p->units > SIZE_MAX / sizeof(bin_acc) - 1)
    return tc_enc_say(err, err_cap, TCODEC_E_OVERFLOW, "tensor is too large");
  bin_acc *acc = tc_calloc(m, (size_t)p->units + 1, sizeof(bin_acc));
  if (acc == NULL) return tc_enc_say(err, err_cap, TCODEC_E_NOMEM, "out of memory");
  uint64_t inner = UINT64_MAX, wrap = UINT64_MAX, u = 0, left;
  if (p->gran == TCODEC_GRAN_CHANNEL) {
    inner = tc_inner(ndim, shape, p->axis);
    wrap = shape[p->axis];
  } else if (p->gran == TCODEC_GRAN_GROUP) {
    inner = p->group;
  }
  left = inner;
  int rc = 0;
  for (uint64_t i = 0, end; rc == 0 && i < n; i = end) {
    end = left < n - i ? i + left : n;
    double psum = 0.0, nsum = 0.0;
    uint64_t pcount = 0, ncount = 0;
    for (uint64_t j = i; j < end; j++) {
      float w = src[j];
      if (!isfinite(w)) {
        rc = tc_enc_say(err, err_cap, TCODEC_E_VALUE, "value at index %llu is not finite",
                        (unsigned long long)j);
        break;
      }
      int neg = w < 0;
      sym[j] = (int8_t)(1 - 2 * neg);
      psum += neg ? 0.0 : (double)w;
      nsum -= neg ? (double)w : 0.0;
      pcount += (uint64_t)!neg;
      ncount += (uint64_t)neg;
    }
    acc[u].pos_sum += psum;
    acc[u].neg_sum += nsum;
    acc[u].pos_count += pcount;
    acc[u].neg_count += ncount;
    left -= end - i;
    if (left == 0) {
      left = inner;
      if (++u == wrap) u = 0;
    }
  }
  for (uint64_t k = 0; rc == 0 && k < p->units; k++) {
    const bin_acc *a = &acc[k];
    if (p->sym) {
      uint64_t c = a->pos_count + a->neg_count;
      double v = c ? (a->pos_sum + a->neg_sum) / (double)c : 0.0;
      rc = tc_scale_round(p->sdtype, v > 0 ? v : 0.0, NULL, &scales[k], err, err_cap);
      continue;
    }
    double vp = a->pos_count ? a->pos_sum / (double)a->pos_count : 0.0;
    double vn = a->neg_count ? a->neg_sum / (double)a->neg_count : 0.0;
    rc = tc_scale_round(p->sdtype, vp > 0 ? vp : 0.0, NULL, &scales[2 * k], err, err_cap);
    if (rc == 0)
      rc = tc_scale_round(p->sdtype, vn > 0 ? vn : 0.0, NULL, &scales[2 * k + 1], err, err_cap);
  }
  tc_free(m, acc);
  return rc;
}

/* Squared error sum (w - q)^2 of symbols + scales. */
static double sq_error(unsigned ndim, const uint64_t *shape, uint64_t n, const float *src,
                       const tc_params *p, const int8_t *sym, const double *scales) {
  uint64_t inner = UINT64_MAX, wrap = UINT64_MAX, u = 0, left;
  if (p->gran == TCODEC_GRAN_CHANNEL) {
    inner = tc_inner(ndim, shape, p->axis);
    wrap = shape[p->axis];
  } else if (p->gran == TCODEC_GRAN_GROUP) {
    inner = p->group;
  }
  left = inner;
  double total = 0.0;
  for (uint64_t i = 0, end; i < n; i = end) {
    end = left < n - i ? i + left : n;
    double vp = p->sym ? scales[u] : scales[2 * u], vn = p->sym ? scales[u] : scales[2 * u + 1];
    for (uint64_t j = i; j < end; j++) {
      double q = sym[j] > 0 ? vp : sym[j] < 0 ? -vn : 0.0, d = (double)src[j] - q;
      total += d * d;
    }
    left -= end - i;
    if (left == 0) {
      left = inner;
      if (++u == wrap) u = 0;
    }
  }
  return total;
}

static int bin_prepare(const tcodec_request *req, int dtype, const char *what, unsigned ndim,
                       const uint64_t *shape, uint64_t nelem, tc_params *p, char *err,
                       size_t err_cap) {
  int rc = tc_quant_check_float(req, dtype, what, p, err, err_cap);
  if (rc == 0) rc = tc_enc_units(ndim, shape, nelem, p, err, err_cap);
  return rc;
}

int tc_quant_binary(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                    const float *src, const tcodec_request *req, tc_encoded *out, char *err,
                    size_t err_cap) {
  tc_params p;
  int8_t *sym = NULL;
  double *scales = NULL;
  int rc = bin_prepare(req, dtype, "binary", ndim, shape, nelem, &p, err, err_cap);
  if (rc == 0) rc = tc_quant_alloc(m, nelem, &p, &sym, &scales, err, err_cap);
  if (rc == 0) rc = binarize(m, ndim, shape, nelem, src, &p, sym, scales, err, err_cap);
  if (rc == 0)
    rc = tc_encode_sym_scales(m, dtype, ndim, shape, nelem, &p, TCODEC_ENC_BINARY, sym, scales,
                              out, err, err_cap);
  if (sym != NULL) tc_free(m, sym);
  if (scales != NULL) tc_free(m, scales);
  return rc;
}

/* Order-0 entropy of ternary symbols, bits per symbol. */
static double sym_entropy(const int8_t *sym, uint64_t n) {
  uint64_t cnt[3] = {0, 0, 0};
  for (uint64_t j = 0; j < n; j++) cnt[sym[j] + 1]++;
  double h = 0.0;
  for (int s = 0; s < 3; s++)
    if (cnt[s] != 0) {
      double pr = (double)cnt[s] / (double)n;
      h -= pr * log2(pr);
    }
  return h;
}

int tc_quant_adaptive_bt(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape,
                         uint64_t nelem, const float *src, const tcodec_request *req,
                         tc_encoded *out, char *err, size_t err_cap) {
  tc_params p;
  int8_t *tsym = NULL, *bsym = NULL;
  double *tsc = NULL, *bsc = NULL;
  int rc = bin_prepare(req, dtype, "adaptive binary/ternary", ndim, shape, nelem, &p, err,
                       err_cap);
  if (rc == 0 && !(req->threshold >= 0.0 && isfinite(req->threshold)))
    rc = tc_enc_say(err, err_cap, TCODEC_E_PARAMS, "TWN threshold %g is not finite and >= 0",
                    req->threshold);
  if (rc == 0 && !(req->size_weight >= 0.0 && isfinite(req->size_weight)))
    rc = tc_enc_say(err, err_cap, TCODEC_E_PARAMS, "size_weight %g is not finite and >= 0",
                    req->size_weight);
  if (rc == 0) rc = tc_quant_alloc(m, nelem, &p, &tsym, &tsc, err, err_cap);
  if (rc == 0) rc = tc_quant_alloc(m, nelem, &p, &bsym, &bsc, err, err_cap);
  if (rc == 0) /* max_iter 0: plain TWN */
    rc = tc_ternarize(m, ndim, shape, nelem, src, &p, req->threshold, 0.0, 0, tsym, tsc, err,
                      err_cap);
  if (rc == 0) rc = binarize(m, ndim, shape, nelem, src, &p, bsym, bsc, err, err_cap);
  if (rc == 0) {
    double power = 0.0;
    for (uint64_t j = 0; j < nelem; j++) power += (double)src[j] * (double)src[j];
    double et = sq_error(ndim, shape, nelem, src, &p, tsym, tsc);
    double eb = sq_error(ndim, shape, nelem, src, &p, bsym, bsc);
    double rt = power > 0 ? et / power : 0.0, rb = power > 0 ? eb / power : 0.0;
    double jt = rt + req->size_weight * (nelem ? sym_entropy(tsym, nelem) : 0.0);
    double jb = rb + req->size_weight * 1.0;
    int bin = jb < jt;
    rc = tc_encode_sym_scales(m, dtype, ndim, shape, nelem, &p,
                              bin ? TCODEC_ENC_BINARY : TCODEC_ENC_TERNARY, bin ? bsym : tsym,
                              bin ? bsc : tsc, out, err, err_cap);
  }
  if (tsym != NULL) tc_free(m, tsym);
  if (tsc != NULL) tc_free(m, tsc);
  if (bsym != NULL) tc_free(m, bsym);
  if (bsc != NULL) tc_free(m, bsc);
  return rc;
}
