/* TCODEC_Q_EC2T: entropy-constrained ternarization, after EC2T ("Entropy-Constrained
 * Trained Ternarization": two masks and two scales per layer). Encoder only.
 *
 * Per scale unit u (tensor, channel or group as the request says):
 *  0. Start from TWN at req->threshold (same sums, same order, same rounding as
 *     enc_twn.c, so max_iter 0 gives TWN's bytes).
 *  Then, at most req->max_iter times:
 *  1. Rate: p(s) for s in {-1, 0, +1} over the WHOLE tensor (the entropy stage codes
 *     each stream of the tensor as one, so the code lengths are tensor-wide, not
 *     per unit); p clamped to >= 1/(n+1); L(s) = -log2 p(s).
 *  2. Assignment: each w gets the s minimising (w - v_s)^2 + lam_u * L(s), with
 *     v_{+1} = w_p, v_{-1} = -w_n, v_0 = 0 and lam_u = lambda * mean(w^2 over u), so
 *     lambda is scale-free (rate weight per bit relative to the unit's power). A
 *     symbol whose scale is 0 (an empty cluster) is not offered. Ties go to 0, then +1.
 *     If no symbol changed, stop.
 *  3. Scales: w_p = mean of the weights given +1, w_n = mean |w| of those given -1
 *     (symmetric: one scale = mean |w| over the nonzero ones), clamped at >= 0 and
 *     rounded to the scale dtype (the next assignment uses the stored values).
 *  With lambda = 0 this is Lloyd's algorithm started at TWN: the squared error never
 *  grows (up to the rounding of the scales). Sums are in double in index order:
 *  deterministic. NaN/Inf -> TCODEC_E_VALUE naming the index. All-zero tensor (or
 *  unit): all symbols 0, scales 0. Constant c != 0: TWN gives every weight sign(c),
 *  the rate term favours that symbol (p = 1, L = 0), so it stays: values exactly c
 *  when the scale dtype holds |c|. */
#include <math.h>
#include <string.h>

#include "tc_enc.h"

typedef struct ec_acc {
  double abs_sum, sq_sum, pos_sum, neg_sum;
  uint64_t count, pos_count, neg_count;
  double delta, lam;
} ec_acc;

/* double -> f32 rounded to odd (then RNE to f16/bf16 equals RNE of the double). */
static float f32_round_odd(double d) {
  float f = (float)d;
  if ((double)f == d || !isfinite(f)) return f;
  uint32_t b;
  memcpy(&b, &f, 4);
  if ((f < 0 ? -(double)f : (double)f) > (d < 0 ? -d : d)) b--;
  b |= 1;
  memcpy(&f, &b, 4);
  return f;
}

int tc_scale_round(int sdtype, double v, uint8_t *dst, double *rounded, char *err,
                   size_t err_cap) {
  float f = sdtype == TCODEC_F32 ? (float)v : f32_round_odd(v);
  uint32_t b;
  memcpy(&b, &f, 4);
  if (sdtype == TCODEC_F32) {
    if (dst != NULL) tc_put32(dst, b);
  } else {
    uint16_t h = sdtype == TCODEC_F16 ? tc_f32_to_f16(f) : tc_f32_to_bf16(f);
    if (dst != NULL) tc_put16(dst, h);
    f = sdtype == TCODEC_F16 ? tc_f16_to_f32(h) : tc_bf16_to_f32(h);
  }
  if (!isfinite(f))
    return tc_enc_say(err, err_cap, TCODEC_E_VALUE, "scale %g overflows the scale dtype", v);
  if (rounded != NULL) *rounded = (double)f;
  return 0;
}

int tc_quant_check_float(const tcodec_request *req, int dtype, const char *what, tc_params *p,
                         char *err, size_t err_cap) {
  if (dtype != TCODEC_F64 && dtype != TCODEC_F32 && dtype != TCODEC_F16 && dtype != TCODEC_BF16)
    return tc_enc_say(err, err_cap, TCODEC_E_UNSUPPORTED_DTYPE, "%s needs a float dtype, not %d",
                      what, dtype);
  if (req->scale_dtype != TCODEC_F32 && req->scale_dtype != TCODEC_F16 &&
      req->scale_dtype != TCODEC_BF16)
    return tc_enc_say(err, err_cap, TCODEC_E_PARAMS, "scale dtype %d is not f32, f16 or bf16",
                      req->scale_dtype);
  memset(p, 0, sizeof *p);
  p->gran = req->granularity;
  p->axis = req->axis;
  p->group = req->group_size;
  p->sym = req->symmetric != 0;
  p->sdtype = req->scale_dtype;
  return 0;
}

typedef struct ec {
  unsigned ndim;
  const uint64_t *shape;
  uint64_t n;
  const float *src;
  const tc_params *p;
  ec_acc *acc;
  int8_t *sym;
  double *scales; /* sym: units; else 2 * units (w_p, w_n) */
  char *err;
  size_t err_cap;
} ec;

/* Pass 1: reject NaN/Inf; per unit sum |w| (as TWN does) and sum w^2. */
static int ec_sums(ec *t, double threshold, double lambda) {
  tc_unit_it it;
  tc_unit_it_init(&it, t->ndim, t->shape, t->p);
  for (uint64_t i = 0, end; i < t->n; i = end) {
    double sum = 0.0, sq = 0.0;
    end = tc_unit_it_end(&it, i, t->n);
    for (uint64_t j = i; j < end; j++) {
      float w = t->src[j];
      if (!isfinite(w))
        return tc_enc_say(t->err, t->err_cap, TCODEC_E_VALUE,
                          "value at index %llu is not finite", (unsigned long long)j);
      sum += w < 0 ? -(double)w : (double)w;
      sq += (double)w * (double)w;
    }
    t->acc[it.u].abs_sum += sum;
    t->acc[it.u].sq_sum += sq;
    t->acc[it.u].count += end - i;
    tc_unit_it_skip(&it, end - i);
  }
  for (uint64_t u = 0; u < t->p->units; u++) {
    ec_acc *a = &t->acc[u];
    a->delta = a->count ? threshold * (a->abs_sum / (double)a->count) : 0.0;
    a->lam = a->count ? lambda * (a->sq_sum / (double)a->count) : 0.0;
  }
  return 0;
}

static void acc_clear(ec *t) {
  for (uint64_t u = 0; u < t->p->units; u++) {
    ec_acc *a = &t->acc[u];
    a->pos_sum = a->neg_sum = 0.0;
    a->pos_count = a->neg_count = 0;
  }
}

/* TWN assignment (identical to enc_twn.c's). */
static void ec_twn_assign(ec *t) {
  tc_unit_it it;
  tc_unit_it_init(&it, t->ndim, t->shape, t->p);
  for (uint64_t i = 0, end; i < t->n; i = end) {
    end = tc_unit_it_end(&it, i, t->n);
    ec_acc *a = &t->acc[it.u];
    double delta = a->delta, psum = 0.0, nsum = 0.0;
    uint64_t pcount = 0, ncount = 0;
    for (uint64_t j = i; j < end; j++) {
      double w = t->src[j];
      int pos = w > delta, neg = w < -delta;
      t->sym[j] = (int8_t)(pos - neg);
      psum += pos ? w : 0.0;
      nsum -= neg ? w : 0.0;
      pcount += (uint64_t)pos;
      ncount += (uint64_t)neg;
    }
    a->pos_sum += psum;
    a->neg_sum += nsum;
    a->pos_count += pcount;
    a->neg_count += ncount;
    tc_unit_it_skip(&it, end - i);
  }
}

static double mean(double sum, uint64_t count) { return count ? sum / (double)count : 0.0; }

/* Scales from the sums, rounded to the scale dtype. */
static int ec_scales(ec *t) {
  int rc = 0;
  for (uint64_t u = 0; rc == 0 && u < t->p->units; u++) {
    const ec_acc *a = &t->acc[u];
    if (t->p->sym) {
      double v = mean(a->pos_sum + a->neg_sum, a->pos_count + a->neg_count);
      rc = tc_scale_round(t->p->sdtype, v > 0 ? v : 0.0, NULL, &t->scales[u], t->err, t->err_cap);
      continue;
    }
    double vp = mean(a->pos_sum, a->pos_count), vn = mean(a->neg_sum, a->neg_count);
    rc = tc_scale_round(t->p->sdtype, vp > 0 ? vp : 0.0, NULL, &t->scales[2 * u], t->err,
                        t->err_cap);
    if (rc == 0)
      rc = tc_scale_round(t->p->sdtype, vn > 0 ? vn : 0.0, NULL, &t->scales[2 * u + 1], t->err,
                          t->err_cap);
  }
  return rc;
}

/* One EC2T assignment over the tensor; returns the number of symbols that changed. */
static uint64_t ec_assign(ec *t) {
  uint64_t cnt[3] = {0, 0, 0};
  for (uint64_t j = 0; j < t->n; j++) cnt[t->sym[j] + 1]++;
  double len[3], floor_p = 1.0 / ((double)t->n + 1.0);
  for (int s = 0; s < 3; s++) {
    double pr = (double)cnt[s] / (double)t->n;
    len[s] = -log2(pr > floor_p ? pr : floor_p);
  }
  acc_clear(t);
  uint64_t changed = 0;
  tc_unit_it it;
  tc_unit_it_init(&it, t->ndim, t->shape, t->p);
  for (uint64_t i = 0, end; i < t->n; i = end) {
    end = tc_unit_it_end(&it, i, t->n);
    ec_acc *a = &t->acc[it.u];
    double vp = t->p->sym ? t->scales[it.u] : t->scales[2 * it.u];
    double vn = t->p->sym ? t->scales[it.u] : t->scales[2 * it.u + 1];
    double r0 = a->lam * len[1], rp = a->lam * len[2], rn = a->lam * len[0];
    double psum = 0.0, nsum = 0.0;
    uint64_t pcount = 0, ncount = 0;
    for (uint64_t j = i; j < end; j++) {
      double w = t->src[j], best = w * w + r0, c;
      int8_t s = 0;
      if (vp > 0 && (c = (w - vp) * (w - vp) + rp) < best) {
        best = c;
        s = 1;
      }
      if (vn > 0 && (c = (w + vn) * (w + vn) + rn) < best) s = -1;
      changed += s != t->sym[j];
      t->sym[j] = s;
      if (s > 0) {
        psum += w;
        pcount++;
      } else if (s < 0) {
        nsum -= w;
        ncount++;
      }
    }
    a->pos_sum += psum;
    a->neg_sum += nsum;
    a->pos_count += pcount;
    a->neg_count += ncount;
    tc_unit_it_skip(&it, end - i);
  }
  return changed;
}

int tc_ternarize(tc_mem *m, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                 const float *src, const tc_params *p, double threshold, double lambda,
                 unsigned max_iter, int8_t *sym, double *scales, char *err, size_t err_cap) {
  if (p->units > SIZE_MAX / sizeof(ec_acc) - 1)
    return tc_enc_say(err, err_cap, TCODEC_E_OVERFLOW, "tensor is too large");
  ec t = {ndim, shape, nelem, src, p, NULL, sym, scales, err, err_cap};
  t.acc = tc_calloc(m, (size_t)p->units + 1, sizeof(ec_acc));
  if (t.acc == NULL) return tc_enc_say(err, err_cap, TCODEC_E_NOMEM, "out of memory");
  int rc = ec_sums(&t, threshold, lambda);
  if (rc == 0) {
    ec_twn_assign(&t);
    rc = ec_scales(&t);
  }
  for (unsigned k = 0; rc == 0 && nelem > 0 && k < max_iter; k++) {
    if (ec_assign(&t) == 0) break; /* scales already fit this assignment */
    rc = ec_scales(&t);
  }
  tc_free(m, t.acc);
  return rc;
}

/* Pack rounded scales (exact in sdtype) to bytes and build the ternary/binary streams. */
int tc_encode_sym_scales(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape,
                         uint64_t nelem, const tc_params *p, int encoding, const int8_t *sym,
                         const double *scales, tc_encoded *out, char *err, size_t err_cap) {
  uint64_t count = p->units * (p->sym ? 1u : 2u);
  size_t ssize = tcodec_dtype_size(p->sdtype);
  uint8_t *bytes = tc_malloc(m, (size_t)count * ssize + 1);
  if (bytes == NULL) return tc_enc_say(err, err_cap, TCODEC_E_NOMEM, "out of memory");
  int rc = 0;
  for (uint64_t j = 0; rc == 0 && j < count; j++)
    rc = tc_scale_round(p->sdtype, scales[j], bytes + j * ssize, NULL, err, err_cap);
  if (rc == 0) {
    tcodec_quantized q;
    memset(&q, 0, sizeof q);
    q.encoding = encoding;
    q.granularity = p->gran;
    q.axis = p->axis;
    q.group_size = p->group;
    q.symmetric = p->sym;
    q.scale_dtype = p->sdtype;
    q.scales = bytes;
    q.symbols = sym;
    rc = tc_encode_quantized(m, dtype, ndim, shape, nelem, &q, out, err, err_cap);
  }
  tc_free(m, bytes);
  return rc;
}

/* Allocate symbols and scales for p (units filled). */
int tc_quant_alloc(tc_mem *m, uint64_t nelem, const tc_params *p, int8_t **sym, double **scales,
                   char *err, size_t err_cap) {
  uint64_t count;
  *sym = NULL;
  *scales = NULL;
  if (nelem > SIZE_MAX - 1 || tc_mul_u64(p->units, 2u * sizeof(double), &count) != 0 ||
      count > SIZE_MAX - 8)
    return tc_enc_say(err, err_cap, TCODEC_E_OVERFLOW, "tensor is too large");
  *sym = tc_malloc(m, (size_t)nelem + 1);
  *scales = tc_calloc(m, (size_t)p->units * 2 + 1, sizeof(double));
  if (*sym == NULL || *scales == NULL)
    return tc_enc_say(err, err_cap, TCODEC_E_NOMEM, "out of memory");
  return 0;
}

int tc_quant_ec2t(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                  const float *src, const tcodec_request *req, tc_encoded *out, char *err,
                  size_t err_cap) {
  tc_params p;
  int8_t *sym = NULL;
  double *scales = NULL;
  int rc = tc_quant_check_float(req, dtype, "EC2T", &p, err, err_cap);
  if (rc == 0 && !(req->threshold >= 0.0 && isfinite(req->threshold)))
    rc = tc_enc_say(err, err_cap, TCODEC_E_PARAMS, "EC2T threshold %g is not finite and >= 0",
                    req->threshold);
  if (rc == 0 && !(req->lambda >= 0.0 && isfinite(req->lambda)))
    rc = tc_enc_say(err, err_cap, TCODEC_E_PARAMS, "EC2T lambda %g is not finite and >= 0",
                    req->lambda);
  if (rc == 0) rc = tc_enc_units(ndim, shape, nelem, &p, err, err_cap);
  if (rc == 0) rc = tc_quant_alloc(m, nelem, &p, &sym, &scales, err, err_cap);
  if (rc == 0)
    rc = tc_ternarize(m, ndim, shape, nelem, src, &p, req->threshold, req->lambda, req->max_iter,
                      sym, scales, err, err_cap);
  if (rc == 0)
    rc = tc_encode_sym_scales(m, dtype, ndim, shape, nelem, &p, TCODEC_ENC_TERNARY, sym, scales,
                              out, err, err_cap);
  if (sym != NULL) tc_free(m, sym);
  if (scales != NULL) tc_free(m, scales);
  return rc;
}
