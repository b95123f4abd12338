/* TCODEC_Q_KBIT: uniform k-bit quantization (2..8 bits) per scale unit (tensor,
 * channel or group), optionally after magnitude pruning (SQuantizer: prune to a
 * target sparsity, then quantize the survivors).
 *
 * Pruning (sparsity s > 0): the k = floor(s * n) weights of the TENSOR with the
 * smallest |w| are pruned, ties broken by the lower index first (a total order, so
 * the choice is deterministic); s * n is taken with a relative slack of 1e-12 so
 * that a decimal fraction such as 0.29 * 100 gives 29, not 28. Pruned weights are
 * masked out (MASK bit 0: decoded value exactly +0, no code). A mask is stored
 * whenever s > 0, even if k comes out 0. Scales are computed over the survivors.
 *
 * Per unit, over its coded (surviving) weights:
 *  - zero_point 0 (symmetric range): qmax = 2^(bits-1) - 1, scale = max|w| / qmax,
 *    code = clamp(round(w / scale) + 2^(bits-1), 0, 2^bits - 1). The zero point is
 *    implicit (2^(bits-1), no ZEROS stream); codes 1 .. 2^bits - 1 are used (code 0,
 *    i.e. -2^(bits-1) * scale, is never produced).
 *  - zero_point 1 (min/max range): lo = min(min w, 0), hi = max(max w, 0) (the range
 *    always holds 0, so the zero point fits in 0 .. 2^bits - 1 and 0 is exact);
 *    scale = (hi - lo) / (2^bits - 1), zp = clamp(round(-lo / scale), 0, 2^bits - 1),
 *    code = clamp(round(w / scale) + zp, 0, 2^bits - 1).
 * The scale is computed in double and rounded UPWARD to scale_dtype (f32, f16 or
 * bf16) before any code is computed, so the decoder's f32(scale) * (code - zp)
 * reproduces the values measured here and no coded weight is ever clamped: every
 * coded weight is within scale/2 of its decoded value (plus the final binary32
 * rounding of that product). round() is half away from zero, in double.
 * A unit whose coded weights are all zero (or that has none) gets scale 0, zero
 * point 2^(bits-1) (symmetric) or 0 (zero_point), and every code equal to its zero
 * point: it decodes to zeros. A scale that overflows scale_dtype is E_VALUE.
 * NaN or Inf anywhere is E_VALUE naming the first such index. k-bit is symmetric
 * only in format v1 (one scale per unit): req->symmetric == 0 is E_PARAMS. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tc_enc.h"

typedef struct kbit {
  unsigned ndim;
  const uint64_t *shape;
  uint64_t n;
  const float *src;
  tc_params p;
  unsigned bits;
  int zp_mode;
  uint8_t *mask;   /* NULL unless sparse: 1 = coded */
  uint8_t *codes;  /* n bytes */
  uint8_t *zeros;  /* units bytes, zp_mode only */
  uint8_t *scales; /* units values in sdtype */
  float *sc;       /* units rounded scales as f32 */
  double *lo, *hi; /* units: min/max (symmetric: hi = max|w|) of coded weights */
  char *err;
  size_t err_cap;
} kbit;

/* Runs of consecutive elements that share a unit: `inner` long, unit wraps at `wrap`. */
static void run_shape(const kbit *k, uint64_t *inner, uint64_t *wrap) {
  *inner = UINT64_MAX;
  *wrap = UINT64_MAX;
  if (k->p.gran == TCODEC_GRAN_CHANNEL) {
    *inner = tc_inner(k->ndim, k->shape, k->p.axis);
    *wrap = k->shape[k->p.axis];
  } else if (k->p.gran == TCODEC_GRAN_GROUP) {
    *inner = k->p.group;
  }
}

static int kbit_check(const tcodec_request *req, int dtype, kbit *k) {
  if (dtype != TCODEC_F64 && dtype != TCODEC_F32 && dtype != TCODEC_F16 && dtype != TCODEC_BF16)
    return tc_enc_say(k->err, k->err_cap, TCODEC_E_UNSUPPORTED_DTYPE,
                      "k-bit needs a float dtype, not %d", dtype);
  if (req->bits < 2 || req->bits > 8)
    return tc_enc_say(k->err, k->err_cap, TCODEC_E_PARAMS, "k-bit bits %u is not in 2..8",
                      req->bits);
  if (!(req->sparsity >= 0.0 && req->sparsity <= 1.0))
    return tc_enc_say(k->err, k->err_cap, TCODEC_E_PARAMS, "k-bit sparsity %g is not in [0, 1]",
                      req->sparsity);
  if (!req->symmetric)
    return tc_enc_say(k->err, k->err_cap, TCODEC_E_PARAMS,
                      "k-bit is symmetric only (one scale per unit); use zero_point for an "
                      "asymmetric range");
  if (req->scale_dtype != TCODEC_F32 && req->scale_dtype != TCODEC_F16 &&
      req->scale_dtype != TCODEC_BF16)
    return tc_enc_say(k->err, k->err_cap, TCODEC_E_PARAMS, "scale dtype %d is not f32, f16 or bf16",
                      req->scale_dtype);
  memset(&k->p, 0, sizeof k->p);
  k->p.gran = req->granularity;
  k->p.axis = req->axis;
  k->p.group = req->group_size;
  k->p.sym = 1;
  k->p.sdtype = req->scale_dtype;
  k->bits = req->bits;
  k->zp_mode = req->zero_point != 0;
  return tc_enc_units(k->ndim, k->shape, k->n, &k->p, k->err, k->err_cap);
}

static int kbit_finite(const kbit *k) {
  for (uint64_t i = 0; i < k->n; i++) {
    if (!isfinite(k->src[i]))
      return tc_enc_say(k->err, k->err_cap, TCODEC_E_VALUE, "value at index %llu is not finite",
                        (unsigned long long)i);
  }
  return 0;
}

static int kbit_alloc(tc_mem *m, kbit *k, int sparse) {
  size_t ss = tcodec_dtype_size(k->p.sdtype);
  if (k->n > SIZE_MAX || k->p.units > SIZE_MAX / 8 / ss)
    return tc_enc_say(k->err, k->err_cap, TCODEC_E_OVERFLOW, "tensor is too large");
  size_t units = (size_t)k->p.units;
  k->codes = tc_malloc(m, (size_t)k->n + 1);
  k->scales = tc_malloc(m, units * ss + 1);
  k->sc = tc_calloc(m, units + 1, sizeof(float));
  k->lo = tc_calloc(m, units + 1, sizeof(double));
  k->hi = tc_calloc(m, units + 1, sizeof(double));
  if (sparse) k->mask = tc_malloc(m, (size_t)k->n + 1);
  if (k->zp_mode) k->zeros = tc_malloc(m, units + 1);
  if (k->codes == NULL || k->scales == NULL || k->sc == NULL || k->lo == NULL || k->hi == NULL ||
      (sparse && k->mask == NULL) || (k->zp_mode && k->zeros == NULL))
    return tc_enc_say(k->err, k->err_cap, TCODEC_E_NOMEM, "out of memory");
  return 0;
}

/* ---- magnitude pruning ---- */

typedef struct mag_idx {
  uint32_t mag; /* |w| as f32 bits: ordered like the magnitude for finite values */
  uint64_t idx;
} mag_idx;

static int mag_cmp(const void *a, const void *b) {
  const mag_idx *x = a, *y = b;
  if (x->mag != y->mag) return x->mag < y->mag ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Number of weights to prune: floor(s * n) with a relative slack of 1e-12. */
static uint64_t prune_count(double s, uint64_t n) {
  double x = s * (double)n;
  double c = floor(x + x * 1e-12);
  if (c <= 0) return 0;
  return c >= (double)n ? n : (uint64_t)c;
}

static int kbit_prune(tc_mem *m, kbit *k, double sparsity) {
  uint64_t kill = prune_count(sparsity, k->n);
  memset(k->mask, 1, (size_t)k->n);
  if (kill == 0) return 0;
  if (kill == k->n) {
    memset(k->mask, 0, (size_t)k->n);
    return 0;
  }
  if (k->n > SIZE_MAX / sizeof(mag_idx))
    return tc_enc_say(k->err, k->err_cap, TCODEC_E_OVERFLOW, "tensor is too large");
  mag_idx *v = tc_malloc(m, (size_t)k->n * sizeof(mag_idx));
  if (v == NULL) return tc_enc_say(k->err, k->err_cap, TCODEC_E_NOMEM, "out of memory");
  for (uint64_t i = 0; i < k->n; i++) {
    uint32_t b;
    memcpy(&b, &k->src[i], 4);
    v[i].mag = b & 0x7FFFFFFFu;
    v[i].idx = i;
  }
  qsort(v, (size_t)k->n, sizeof(mag_idx), mag_cmp);
  for (uint64_t j = 0; j < kill; j++) k->mask[v[j].idx] = 0;
  tc_free(m, v);
  return 0;
}

/* ---- ranges, scales, codes ---- */

static void kbit_ranges(kbit *k) {
  uint64_t inner, wrap, u = 0;
  run_shape(k, &inner, &wrap);
  for (uint64_t i = 0; i < k->n;) {
    uint64_t end = inner < k->n - i ? i + inner : k->n;
    double lo = k->lo[u], hi = k->hi[u];
    for (uint64_t j = i; j < end; j++) {
      if (k->mask != NULL && !k->mask[j]) continue;
      double w = k->src[j];
      if (k->zp_mode) {
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
      } else {
        double a = fabs(w);
        hi = a > hi ? a : hi;
      }
    }
    k->lo[u] = lo;
    k->hi[u] = hi;
    i = end;
    if (++u == wrap) u = 0;
  }
}

/* Smallest f32 >= v (v >= 0 finite). */
static float f32_round_up(double v) {
  float f = (float)v;
  if ((double)f < v) f = nextafterf(f, INFINITY);
  return f;
}

/* Round v >= 0 upward to sdtype; store it as unit u's scale. */
static int kbit_store_scale(kbit *k, uint64_t u, double v) {
  float f = f32_round_up(v);
  if (k->p.sdtype == TCODEC_F32) {
    uint32_t b;
    memcpy(&b, &f, 4);
    tc_put32(k->scales + 4 * u, b);
  } else {
    int half = k->p.sdtype == TCODEC_F16;
    uint16_t h = isfinite(f) ? (half ? tc_f32_to_f16(f) : tc_f32_to_bf16(f)) : 0x7F80u;
    float back = half ? tc_f16_to_f32(h) : tc_bf16_to_f32(h);
    if (isfinite(back) && back < f) { /* RNE went down: next representable value up */
      h++;
      back = half ? tc_f16_to_f32(h) : tc_bf16_to_f32(h);
    }
    tc_put16(k->scales + 2 * u, h);
    f = back;
  }
  if (!isfinite(f))
    return tc_enc_say(k->err, k->err_cap, TCODEC_E_VALUE,
                      "scale %g of unit %llu overflows the scale dtype", v, (unsigned long long)u);
  k->sc[u] = f;
  return 0;
}

static int kbit_scales(kbit *k) {
  double levels = (double)((1u << k->bits) - 1u), qmax = (double)((1u << (k->bits - 1)) - 1u);
  for (uint64_t u = 0; u < k->p.units; u++) {
    double range = k->zp_mode ? k->hi[u] - k->lo[u] : k->hi[u];
    int rc = kbit_store_scale(k, u, range / (k->zp_mode ? levels : qmax));
    if (rc != 0) return rc;
    if (!k->zp_mode) continue;
    double z = k->sc[u] > 0 ? round(-k->lo[u] / (double)k->sc[u]) : 0.0;
    k->zeros[u] = (uint8_t)(z < 0 ? 0 : z > levels ? levels : z);
  }
  return 0;
}

static void kbit_codes(kbit *k) {
  uint64_t inner, wrap, u = 0;
  int cmax = (1 << k->bits) - 1, zdef = 1 << (k->bits - 1);
  run_shape(k, &inner, &wrap);
  for (uint64_t i = 0; i < k->n;) {
    uint64_t end = inner < k->n - i ? i + inner : k->n;
    double s = k->sc[u];
    int zp = k->zp_mode ? k->zeros[u] : zdef;
    for (uint64_t j = i; j < end; j++) {
      if (s == 0.0 || (k->mask != NULL && !k->mask[j])) {
        k->codes[j] = (uint8_t)zp;
        continue;
      }
      double c = round((double)k->src[j] / s) + zp;
      k->codes[j] = (uint8_t)(c < 0 ? 0 : c > cmax ? cmax : c);
    }
    i = end;
    if (++u == wrap) u = 0;
  }
}

static int kbit_run(tc_mem *m, int dtype, kbit *k, double sparsity, tc_encoded *out) {
  int rc = kbit_finite(k);
  if (rc == 0) rc = kbit_alloc(m, k, sparsity > 0.0);
  if (rc == 0 && k->mask != NULL) rc = kbit_prune(m, k, sparsity);
  if (rc != 0) return rc;
  kbit_ranges(k);
  rc = kbit_scales(k);
  if (rc != 0) return rc;
  kbit_codes(k);
  tcodec_quantized q;
  memset(&q, 0, sizeof q);
  q.encoding = TCODEC_ENC_KBIT;
  q.granularity = k->p.gran;
  q.axis = k->p.axis;
  q.group_size = k->p.group;
  q.symmetric = 1;
  q.scale_dtype = k->p.sdtype;
  q.scales = k->scales;
  q.bits = k->bits;
  q.codes = k->codes;
  q.zero_points = k->zeros;
  q.mask = k->mask;
  return tc_encode_quantized(m, dtype, k->ndim, k->shape, k->n, &q, out, k->err, k->err_cap);
}

int tc_quant_kbit(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                  const float *src, const tcodec_request *req, tc_encoded *out, char *err,
                  size_t err_cap) {
  kbit k;
  memset(&k, 0, sizeof k);
  k.ndim = ndim;
  k.shape = shape;
  k.n = nelem;
  k.src = src;
  k.err = err;
  k.err_cap = err_cap;
  int rc = kbit_check(req, dtype, &k);
  if (rc == 0) rc = kbit_run(m, dtype, &k, req->sparsity, out);
  void *bufs[] = {k.mask, k.codes, k.zeros, k.scales, k.sc, k.lo, k.hi};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    if (bufs[i] != NULL) tc_free(m, bufs[i]);
  return rc;
}
