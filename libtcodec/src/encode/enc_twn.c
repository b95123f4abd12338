/* Quantizers for tcodec_writer_add_f32. TCODEC_Q_TWN: Ternary Weight Networks
 * (Li & Liu 2016). Per scale unit: delta = threshold * mean|w|; w > delta -> +1,
 * w < -delta -> -1, else 0; scale = mean |w| of the weights given a nonzero symbol
 * (symmetric), or w_p / w_n = mean of the positive / |negative| ones (asymmetric).
 * Sums are in double, in index order, so the result is deterministic. The streams
 * are then built by tc_encode_quantized. TCODEC_Q_LOSSLESS is the writer's job. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tc_enc.h"


/* Per-unit sums. */
typedef struct twn_acc {
  double abs_sum, pos_sum, neg_sum; /* |w| of all; w of +1; |w| of -1 */
  uint64_t count, pos_count, neg_count;
  double delta;
} twn_acc;

/* Elements in index order come in runs of consecutive ones sharing a unit (`inner`
 * long; one run for tensor granularity). Walking runs needs no division and lets
 * the passes keep their sums in registers. */
typedef struct twn {
  unsigned ndim;
  const uint64_t *shape;
  uint64_t n;
  const float *src;
  tc_params p; /* gran, axis, group, units, sym, sdtype */
  twn_acc *acc;
  int8_t *sym;
  uint8_t *scales;
  char *err;
  size_t err_cap;
} twn;

/* Pass 1: reject NaN/Inf, sum |w| per unit, then delta. */
static int twn_delta(twn *t, double threshold) {
  tc_unit_it it;
  tc_unit_it_init(&it, t->ndim, t->shape, &t->p);
  for (uint64_t i = 0, end; i < t->n; i = end) {
    double sum = 0.0;
    end = tc_unit_it_end(&it, i, t->n);
    for (uint64_t j = i; j < end; j++) {
      float w = t->src[j];
      if (!isfinite(w))
        return tc_enc_say(t->err, t->err_cap, TCODEC_E_VALUE, "value at index %llu is not finite",
                   (unsigned long long)j);
      sum += w < 0 ? -(double)w : (double)w;
    }
    t->acc[it.u].abs_sum += sum;
    t->acc[it.u].count += end - i;
    tc_unit_it_skip(&it, end - i);
  }
  for (uint64_t u = 0; u < t->p.units; u++) {
    twn_acc *a = &t->acc[u];
    a->delta = a->count ? threshold * (a->abs_sum / (double)a->count) : 0.0;
  }
  return 0;
}

/* Pass 2 over one run of unit a: symbols, and the sums their scales come from. */
static void twn_assign_run(twn_acc *a, const float *src, int8_t *sym, uint64_t len) {
  double delta = a->delta, psum = 0.0, nsum = 0.0;
  uint64_t pcount = 0, ncount = 0;
  for (uint64_t j = 0; j < len; j++) {
    double w = src[j];
    int pos = w > delta, neg = w < -delta; /* branch-free: signs look random */
    sym[j] = (int8_t)(pos - neg);
    psum += pos ? w : 0.0;
    nsum -= neg ? w : 0.0;
    pcount += (uint64_t)pos;
    ncount += (uint64_t)neg;
  }
  a->pos_sum += psum;
  a->neg_sum += nsum;
  a->pos_count += pcount;
  a->neg_count += ncount;
}

static void twn_assign(twn *t) {
  tc_unit_it it;
  tc_unit_it_init(&it, t->ndim, t->shape, &t->p);
  for (uint64_t i = 0, end; i < t->n; i = end) {
    end = tc_unit_it_end(&it, i, t->n);
    twn_assign_run(&t->acc[it.u], t->src + i, t->sym + i, end - i);
    tc_unit_it_skip(&it, end - i);
  }
}

/* double -> f32 rounded to odd: rounding that to f16/bf16 (RNE) then equals rounding
 * the double directly, avoiding double rounding. */
static float f32_round_odd(double d) {
  float f = (float)d;
  if ((double)f == d || !isfinite(f)) return f;
  uint32_t b;
  memcpy(&b, &f, 4);
  if ((f < 0 ? -(double)f : (double)f) > (d < 0 ? -d : d)) b--; /* toward zero */
  b |= 1;
  memcpy(&f, &b, 4);
  return f;
}

/* Store scale v (>= 0) as value j of the SCALES bytes, in sdtype (RNE). */
static int store_scale(twn *t, uint64_t j, double v) {
  float f = t->p.sdtype == TCODEC_F32 ? (float)v : f32_round_odd(v);
  uint32_t b;
  memcpy(&b, &f, 4);
  if (t->p.sdtype == TCODEC_F32) {
    tc_put32(t->scales + 4 * j, b);
  } else {
    uint16_t h = t->p.sdtype == TCODEC_F16 ? tc_f32_to_f16(f) : tc_f32_to_bf16(f);
    tc_put16(t->scales + 2 * j, h);
    f = t->p.sdtype == TCODEC_F16 ? tc_f16_to_f32(h) : tc_bf16_to_f32(h);
  }
  if (!isfinite(f))
    return tc_enc_say(t->err, t->err_cap, TCODEC_E_VALUE, "scale %g overflows the scale dtype", v);
  return 0;
}

static double mean(double sum, uint64_t count) { return count ? sum / (double)count : 0.0; }

/* Pass 3: scales, in the order tcodec_quantized.scales expects. */
static int twn_scales(twn *t) {
  int rc = 0;
  for (uint64_t u = 0; rc == 0 && u < t->p.units; u++) {
    const twn_acc *a = &t->acc[u];
    if (t->p.sym) {
      rc = store_scale(t, u, mean(a->pos_sum + a->neg_sum, a->pos_count + a->neg_count));
      continue;
    }
    rc = store_scale(t, 2 * u, mean(a->pos_sum, a->pos_count));
    if (rc == 0) rc = store_scale(t, 2 * u + 1, mean(a->neg_sum, a->neg_count));
  }
  return rc;
}

static int twn_alloc(tc_mem *m, twn *t) {
  uint64_t nscales;
  size_t ssize = tcodec_dtype_size(t->p.sdtype);
  if (t->n > SIZE_MAX || t->p.units > SIZE_MAX / sizeof(twn_acc) ||
      tc_mul_u64(t->p.units, (t->p.sym ? 1u : 2u) * ssize, &nscales) != 0 || nscales > SIZE_MAX)
    return tc_enc_say(t->err, t->err_cap, TCODEC_E_OVERFLOW, "tensor is too large");
  t->acc = tc_calloc(m, (size_t)t->p.units + 1, sizeof(twn_acc));
  t->sym = tc_malloc(m, (size_t)t->n);
  t->scales = tc_malloc(m, (size_t)nscales);
  if (t->acc == NULL || t->sym == NULL || t->scales == NULL)
    return tc_enc_say(t->err, t->err_cap, TCODEC_E_NOMEM, "out of memory");
  return 0;
}

static int twn_check(const tcodec_request *req, int dtype, tc_params *p, char *err,
                     size_t err_cap) {
  int rc = tc_quant_check_float(req, dtype, "TWN", p, err, err_cap);
  if (rc != 0) return rc;
  if (!(req->threshold >= 0.0 && isfinite(req->threshold)))
    return tc_enc_say(err, err_cap, TCODEC_E_PARAMS, "TWN threshold %g is not finite and >= 0",
                      req->threshold);
  return 0;
}

static int twn_run(tc_mem *m, int dtype, twn *t, double threshold, tc_encoded *out) {
  int rc = twn_alloc(m, t);
  if (rc == 0) rc = twn_delta(t, threshold);
  if (rc != 0) return rc;
  twn_assign(t);
  rc = twn_scales(t);
  if (rc != 0) return rc;
  tcodec_quantized q;
  memset(&q, 0, sizeof q);
  q.encoding = TCODEC_ENC_TERNARY;
  q.granularity = t->p.gran;
  q.axis = t->p.axis;
  q.group_size = t->p.group;
  q.symmetric = t->p.sym;
  q.scale_dtype = t->p.sdtype;
  q.scales = t->scales;
  q.symbols = t->sym;
  return tc_encode_quantized(m, dtype, t->ndim, t->shape, t->n, &q, out, t->err, t->err_cap);
}

int tc_quant_twn(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                 const float *src, const tcodec_request *req, tc_encoded *out, char *err,
                 size_t err_cap) {
  twn t = {ndim, shape, nelem, src, {0}, NULL, NULL, NULL, err, err_cap};
  int rc = twn_check(req, dtype, &t.p, err, err_cap);
  if (rc == 0) rc = tc_enc_units(ndim, shape, nelem, &t.p, err, err_cap);
  if (rc == 0) rc = twn_run(m, dtype, &t, req->threshold, out);
  if (t.acc != NULL) tc_free(m, t.acc);
  if (t.sym != NULL) tc_free(m, t.sym);
  if (t.scales != NULL) tc_free(m, t.scales);
  return rc;
}
