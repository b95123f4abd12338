/* TCODEC_Q_HYBRID: per-layer hybrid filter banks (after Ternary MobileNets, Gope et
 * al. 2019). The filters are the slices along axis 0 (F = shape[0], ndim >= 1).
 * Every filter is ternarized with TWN (tc_quant_twn with channel granularity on
 * axis 0, so each filter is one TWN unit with req->threshold, req->symmetric and
 * req->scale_dtype) and gets its relative L2 error ||w - t|| / ||w||, where t is
 * what the decoder returns for the ternary filter (scales rounded to scale_dtype);
 * an all-zero filter has error 0. Then:
 *  - ternary_fraction f > 0: the ceil(f * F) filters with the lowest error are
 *    ternary (ties: lower index first; f * F taken with a relative slack of 1e-12
 *    so that 0.3 * 10 gives 3);
 *  - otherwise: the filters with error <= error_budget are ternary (budget 0 keeps
 *    only filters TWN reproduces exactly; budget +inf ternarizes every filter).
 * The other filters are stored in full_dtype: F16 rounds to nearest even (a value
 * beyond the f16 range is E_VALUE), F32 is exact. The request's granularity must be
 * TENSOR or CHANNEL and its axis 0 (filters lie along axis 0). NaN or Inf anywhere
 * is E_VALUE naming the first such index. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tc_enc.h"

typedef struct hybrid {
  uint64_t n, nf, fsize;
  const float *src;
  int sym, sdtype, fdtype;
  tc_encoded tw;    /* TWN of every filter */
  int8_t *sym_vals; /* n symbols, unpacked from tw */
  double *ferr;     /* nf relative errors */
  uint64_t *order;  /* nf filter indices sorted by (error, index) */
  uint8_t *kind;    /* nf bytes: 1 = ternary */
  uint8_t *scales;  /* scales of the ternary filters, by rank */
  uint8_t *full;    /* n values in fdtype */
  char *err;
  size_t err_cap;
} hybrid;

static int hyb_check(const tcodec_request *req, int dtype, unsigned ndim, hybrid *h) {
  if (dtype != TCODEC_F64 && dtype != TCODEC_F32 && dtype != TCODEC_F16 && dtype != TCODEC_BF16)
    return tc_enc_say(h->err, h->err_cap, TCODEC_E_UNSUPPORTED_DTYPE,
                      "hybrid needs a float dtype, not %d", dtype);
  if (ndim == 0)
    return tc_enc_say(h->err, h->err_cap, TCODEC_E_PARAMS, "hybrid needs a tensor with ndim >= 1");
  if ((req->granularity != TCODEC_GRAN_TENSOR && req->granularity != TCODEC_GRAN_CHANNEL) ||
      req->axis != 0)
    return tc_enc_say(h->err, h->err_cap, TCODEC_E_PARAMS,
                      "hybrid filters lie along axis 0 (granularity %d, axis %u)", req->granularity,
                      req->axis);
  if (req->full_dtype != TCODEC_F16 && req->full_dtype != TCODEC_F32)
    return tc_enc_say(h->err, h->err_cap, TCODEC_E_PARAMS, "hybrid full dtype %d is not f16 or f32",
                      req->full_dtype);
  if (isnan(req->error_budget) || req->error_budget < 0.0)
    return tc_enc_say(h->err, h->err_cap, TCODEC_E_PARAMS, "hybrid error budget %g is not >= 0",
                      req->error_budget);
  if (!(req->ternary_fraction >= 0.0 && req->ternary_fraction <= 1.0))
    return tc_enc_say(h->err, h->err_cap, TCODEC_E_PARAMS,
                      "hybrid ternary fraction %g is not in [0, 1]", req->ternary_fraction);
  h->sym = req->symmetric != 0;
  h->sdtype = req->scale_dtype;
  h->fdtype = req->full_dtype;
  return 0;
}

static int hyb_finite(const hybrid *h) {
  for (uint64_t i = 0; i < h->n; i++) {
    if (!isfinite(h->src[i]))
      return tc_enc_say(h->err, h->err_cap, TCODEC_E_VALUE, "value at index %llu is not finite",
                        (unsigned long long)i);
  }
  return 0;
}

static int hyb_alloc(tc_mem *m, hybrid *h) {
  size_t fs = tcodec_dtype_size(h->fdtype), ss = tcodec_dtype_size(h->sdtype);
  if (h->n > SIZE_MAX / fs || h->nf > SIZE_MAX / 16 / ss)
    return tc_enc_say(h->err, h->err_cap, TCODEC_E_OVERFLOW, "tensor is too large");
  size_t nf = (size_t)h->nf;
  h->sym_vals = tc_malloc(m, (size_t)h->n + 1);
  h->ferr = tc_calloc(m, nf + 1, sizeof(double));
  h->order = tc_calloc(m, nf + 1, sizeof(uint64_t));
  h->kind = tc_calloc(m, nf + 1, 1);
  h->scales = tc_malloc(m, nf * 2 * ss + 1);
  h->full = tc_calloc(m, (size_t)h->n * fs + 1, 1);
  if (h->sym_vals == NULL || h->ferr == NULL || h->order == NULL || h->kind == NULL ||
      h->scales == NULL || h->full == NULL)
    return tc_enc_say(h->err, h->err_cap, TCODEC_E_NOMEM, "out of memory");
  return 0;
}

/* TWN of every filter (one unit per filter), then its symbols unpacked from the
 * MASK and SIGNS streams. */
static int hyb_twn(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape,
                   const tcodec_request *req, hybrid *h) {
  tcodec_request t = *req;
  t.method = TCODEC_Q_TWN;
  t.granularity = TCODEC_GRAN_CHANNEL;
  t.axis = 0;
  int rc = tc_quant_twn(m, dtype, ndim, shape, h->n, h->src, &t, &h->tw, h->err, h->err_cap);
  if (rc != 0) return rc;
  const uint8_t *mask = h->tw.buf[TCODEC_ROLE_MASK], *signs = h->tw.buf[TCODEC_ROLE_SIGNS];
  uint64_t j = 0;
  for (uint64_t i = 0; i < h->n; i++) {
    int nz = tc_bit(mask, i);
    h->sym_vals[i] = (int8_t)(nz ? (tc_bit(signs, j) ? -1 : 1) : 0);
    j += (uint64_t)nz;
  }
  return 0;
}

/* Relative L2 error of each filter's ternary form as the decoder returns it. */
static void hyb_errors(hybrid *h) {
  const uint8_t *sc = h->tw.buf[TCODEC_ROLE_SCALES];
  for (uint64_t f = 0; f < h->nf; f++) {
    float wp = tc_load_f32(h->sdtype, sc, h->sym ? f : 2 * f);
    float wn = h->sym ? wp : tc_load_f32(h->sdtype, sc, 2 * f + 1);
    double e2 = 0.0, w2 = 0.0;
    const float *w = h->src + f * h->fsize;
    const int8_t *s = h->sym_vals + f * h->fsize;
    for (uint64_t e = 0; e < h->fsize; e++) {
      double t = s[e] > 0 ? (double)wp : s[e] < 0 ? -(double)wn : 0.0;
      double d = (double)w[e] - t;
      e2 += d * d;
      w2 += (double)w[e] * (double)w[e];
    }
    h->ferr[f] = w2 > 0.0 ? sqrt(e2 / w2) : (e2 > 0.0 ? INFINITY : 0.0);
  }
}

/* Number of ternary filters for a fraction: ceil(f * F) with a relative slack. */
static uint64_t fraction_count(double f, uint64_t nf) {
  double x = f * (double)nf;
  double c = ceil(x - x * 1e-12);
  if (c <= 0) return 0;
  return c >= (double)nf ? nf : (uint64_t)c;
}

/* Sort filter indices by (error, index): bottom-up merge sort, deterministic and
 * reentrant (qsort has no context argument), O(F log F). */
static void sort_by_error(const double *err, uint64_t *idx, uint64_t *tmp, uint64_t n) {
  for (uint64_t width = 1; width < n; width *= 2) {
    for (uint64_t lo = 0; lo < n; lo += 2 * width) {
      uint64_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
      uint64_t a = lo, b = mid, o = lo;
      while (a < mid && b < hi) {
        uint64_t x = idx[a], y = idx[b];
        int take_b = err[y] < err[x] || (err[y] == err[x] && y < x);
        tmp[o++] = take_b ? idx[b++] : idx[a++];
      }
      while (a < mid) tmp[o++] = idx[a++];
      while (b < hi) tmp[o++] = idx[b++];
    }
    memcpy(idx, tmp, (size_t)n * sizeof(uint64_t));
  }
}

static int hyb_select(tc_mem *m, const tcodec_request *req, hybrid *h) {
  if (req->ternary_fraction > 0.0) {
    uint64_t *tmp = tc_calloc(m, (size_t)h->nf + 1, sizeof(uint64_t));
    if (tmp == NULL) return tc_enc_say(h->err, h->err_cap, TCODEC_E_NOMEM, "out of memory");
    for (uint64_t f = 0; f < h->nf; f++) h->order[f] = f;
    sort_by_error(h->ferr, h->order, tmp, h->nf);
    tc_free(m, tmp);
    uint64_t k = fraction_count(req->ternary_fraction, h->nf);
    for (uint64_t r = 0; r < k; r++) h->kind[h->order[r]] = 1;
  } else {
    for (uint64_t f = 0; f < h->nf; f++) h->kind[f] = h->ferr[f] <= req->error_budget;
  }
  return 0;
}

/* Scales of the ternary filters by rank, and the full filters in fdtype. */
static int hyb_pack(hybrid *h) {
  size_t per = tcodec_dtype_size(h->sdtype) * (h->sym ? 1u : 2u);
  uint64_t r = 0;
  for (uint64_t f = 0; f < h->nf; f++) {
    if (h->kind[f]) {
      memcpy(h->scales + r++ * per, h->tw.buf[TCODEC_ROLE_SCALES] + f * per, per);
      continue;
    }
    for (uint64_t e = f * h->fsize; e < (f + 1) * h->fsize; e++) {
      float w = h->src[e];
      if (h->fdtype == TCODEC_F32) {
        uint32_t b;
        memcpy(&b, &w, 4);
        tc_put32(h->full + 4 * e, b);
        continue;
      }
      uint16_t v = tc_f32_to_f16(w);
      if (!isfinite(tc_f16_to_f32(v)))
        return tc_enc_say(h->err, h->err_cap, TCODEC_E_VALUE,
                          "value %g at index %llu of full filter %llu overflows f16", (double)w,
                          (unsigned long long)e, (unsigned long long)f);
      tc_put16(h->full + 2 * e, v);
    }
  }
  return 0;
}

static int hyb_run(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape,
                   const tcodec_request *req, hybrid *h, tc_encoded *out) {
  int rc = hyb_finite(h);
  if (rc == 0) rc = hyb_alloc(m, h);
  if (rc == 0) rc = hyb_twn(m, dtype, ndim, shape, req, h);
  if (rc != 0) return rc;
  hyb_errors(h);
  rc = hyb_select(m, req, h);
  if (rc == 0) rc = hyb_pack(h);
  if (rc != 0) return rc;
  tcodec_quantized q;
  memset(&q, 0, sizeof q);
  q.encoding = TCODEC_ENC_HYBRID;
  q.granularity = TCODEC_GRAN_CHANNEL;
  q.axis = 0;
  q.symmetric = h->sym;
  q.scale_dtype = h->sdtype;
  q.scales = h->scales;
  q.symbols = h->sym_vals;
  q.filter_ternary = h->kind;
  q.full_dtype = h->fdtype;
  q.full_values = h->full;
  return tc_encode_quantized(m, dtype, ndim, shape, h->n, &q, out, h->err, h->err_cap);
}

int tc_quant_hybrid(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                    const float *src, const tcodec_request *req, tc_encoded *out, char *err,
                    size_t err_cap) {
  hybrid h;
  memset(&h, 0, sizeof h);
  h.n = nelem;
  h.src = src;
  h.err = err;
  h.err_cap = err_cap;
  int rc = hyb_check(req, dtype, ndim, &h);
  if (rc == 0) {
    h.nf = shape[0];
    h.fsize = h.nf ? nelem / h.nf : 0;
    rc = hyb_run(m, dtype, ndim, shape, req, &h, out);
  }
  tc_encoded_free(m, &h.tw);
  void *bufs[] = {h.sym_vals, h.ferr, h.order, h.kind, h.scales, h.full};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    if (bufs[i] != NULL) tc_free(m, bufs[i]);
  return rc;
}
