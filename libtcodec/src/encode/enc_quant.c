/* Encodings 2..5 (ternary, binary, k-bit, hybrid) from already quantized data:
 * validate what the caller gave, then pack it into the streams of spec/FORMAT.md.
 * One small builder per encoding, found through enc_table. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tc_bitw.h"
#include "tc_enc.h"

typedef struct qctx {
  tc_mem *m;
  unsigned ndim;
  const uint64_t *shape;
  uint64_t n; /* elements */
  const tcodec_quantized *q;
  tc_encoded *out;
  char *err;
  size_t err_cap;
} qctx;

int tc_enc_say(char *err, size_t err_cap, int code, const char *fmt, ...) {
  if (err != NULL && err_cap > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_cap, fmt, ap);
    va_end(ap);
  }
  return code;
}

#define QFAIL(c, code, ...) tc_enc_say((c)->err, (c)->err_cap, (code), __VA_ARGS__)

static int is_scale_dtype(int d) { return d == TCODEC_F32 || d == TCODEC_F16 || d == TCODEC_BF16; }

int tc_enc_units(unsigned ndim, const uint64_t *shape, uint64_t nelem, tc_params *p, char *err,
                 size_t err_cap) {
  if (p->gran == TCODEC_GRAN_CHANNEL) {
    if (p->axis >= ndim)
      return tc_enc_say(err, err_cap, TCODEC_E_PARAMS, "channel axis %u is out of range for %u dims",
                 p->axis, ndim);
    p->group = 0;
  } else if (p->gran == TCODEC_GRAN_GROUP) {
    if (p->group == 0) return tc_enc_say(err, err_cap, TCODEC_E_PARAMS, "group size must be >= 1");
    p->axis = 0;
  } else if (p->gran == TCODEC_GRAN_TENSOR) {
    p->axis = 0;
    p->group = 0;
  } else {
    return tc_enc_say(err, err_cap, TCODEC_E_PARAMS, "unknown granularity %d", p->gran);
  }
  if (tc_units(ndim, shape, nelem, p, &p->units) != 0)
    return tc_enc_say(err, err_cap, TCODEC_E_PARAMS, "granularity %d does not fit the shape", p->gran);
  return 0;
}

/* Allocate stream `role` of `len` bytes (a 1-byte allocation when len is 0, so
 * buf is never NULL) and record it in the output. */
static int new_stream(qctx *c, int role, uint64_t len, uint8_t **buf) {
  if (len > SIZE_MAX) return QFAIL(c, TCODEC_E_OVERFLOW, "stream %d is too large", role);
  *buf = tc_malloc(c->m, (size_t)len);
  if (*buf == NULL) return QFAIL(c, TCODEC_E_NOMEM, "out of memory for stream %d", role);
  c->out->buf[role] = *buf;
  c->out->len[role] = len;
  c->out->present[role] = 1;
  return 0;
}

static int need(const qctx *c, const void *ptr, uint64_t count, const char *what) {
  if (ptr == NULL && count > 0) return QFAIL(c, TCODEC_E_ARG, "%s is NULL", what);
  return 0;
}

/* "sym" and "sdtype", common to every quantized encoding. */
static int scale_params(qctx *c) {
  if (!is_scale_dtype(c->q->scale_dtype))
    return QFAIL(c, TCODEC_E_PARAMS, "scale dtype %d is not f32, f16 or bf16", c->q->scale_dtype);
  c->out->p.sdtype = c->q->scale_dtype;
  c->out->p.sym = c->q->symmetric != 0;
  return 0;
}

/* Scale params plus "gran"/"axis"/"group" and the units they imply (encodings 2..4). */
static int unit_params(qctx *c) {
  int rc = scale_params(c);
  if (rc != 0) return rc;
  tc_params *p = &c->out->p;
  p->gran = c->q->granularity;
  p->axis = c->q->axis;
  p->group = c->q->group_size;
  return tc_enc_units(c->ndim, c->shape, c->n, p, c->err, c->err_cap);
}

/* SCALES: `units` units of 1 (sym) or 2 values, copied byte for byte: the caller's
 * values are the exact bit patterns stored (little-endian, as on the supported hosts). */
static int copy_scales(qctx *c, uint64_t units) {
  uint64_t count, bytes;
  uint8_t *dst;
  if (tc_mul_u64(units, c->out->p.sym ? 1 : 2, &count) != 0 ||
      tc_mul_u64(count, tcodec_dtype_size(c->out->p.sdtype), &bytes) != 0)
    return QFAIL(c, TCODEC_E_OVERFLOW, "too many scales");
  int rc = need(c, c->q->scales, bytes, "scales");
  if (rc == 0) rc = new_stream(c, TCODEC_ROLE_SCALES, bytes, &dst);
  if (rc == 0 && bytes > 0) memcpy(dst, c->q->scales, (size_t)bytes);
  return rc;
}

/* ---- ternary symbols (encodings 2 and 5) ---- */

/* Check symbols [off, off+count) are -1/0/+1 and add their nonzeros to *nnz. */
static int check_ternary(const qctx *c, uint64_t off, uint64_t count, uint64_t *nnz) {
  const int8_t *s = c->q->symbols + off;
  uint64_t k = 0;
  for (uint64_t i = 0; i < count; i++) {
    if (s[i] < -1 || s[i] > 1)
      return QFAIL(c, TCODEC_E_VALUE, "symbol %d at index %llu is not -1, 0 or +1", s[i],
                   (unsigned long long)(off + i));
    k += s[i] != 0;
  }
  *nnz += k;
  return 0;
}

/* MASK (nbits) and SIGNS (nnz bits) streams, returned as writers to fill. */
static int ternary_streams(qctx *c, uint64_t nbits, uint64_t nnz, tc_bitw *mw, tc_bitw *sw) {
  uint8_t *mask = NULL, *signs = NULL;
  int rc = new_stream(c, TCODEC_ROLE_MASK, tc_bits_bytes(nbits), &mask);
  if (rc == 0) rc = new_stream(c, TCODEC_ROLE_SIGNS, tc_bits_bytes(nnz), &signs);
  if (rc != 0) return rc;
  tc_bitw_init(mw, mask);
  tc_bitw_init(sw, signs);
  return 0;
}

static void pack_ternary(tc_bitw *mw, tc_bitw *sw, const int8_t *s, uint64_t count) {
  for (uint64_t i = 0; i < count; i++) { /* branch-free: a zero adds a sign of 0 bits */
    unsigned nz = s[i] != 0;
    tc_bitw_put(mw, nz, 1);
    tc_bitw_put(sw, s[i] < 0, nz);
  }
}

static int enc_ternary(qctx *c) {
  tc_bitw mw, sw;
  int rc = unit_params(c);
  if (rc == 0) rc = need(c, c->q->symbols, c->n, "symbols");
  if (rc == 0) rc = check_ternary(c, 0, c->n, &c->out->p.nnz);
  if (rc == 0) rc = ternary_streams(c, c->n, c->out->p.nnz, &mw, &sw);
  if (rc != 0) return rc;
  pack_ternary(&mw, &sw, c->q->symbols, c->n);
  tc_bitw_flush(&mw);
  tc_bitw_flush(&sw);
  return copy_scales(c, c->out->p.units);
}

/* ---- binary ---- */

static int check_binary(const qctx *c) {
  const int8_t *s = c->q->symbols;
  for (uint64_t i = 0; i < c->n; i++) {
    if (s[i] != 1 && s[i] != -1)
      return QFAIL(c, TCODEC_E_VALUE, "binary symbol %d at index %llu is not -1 or +1", s[i],
                   (unsigned long long)i);
  }
  return 0;
}

static int enc_binary(qctx *c) {
  uint8_t *signs = NULL;
  tc_bitw sw;
  int rc = unit_params(c);
  if (rc == 0) rc = need(c, c->q->symbols, c->n, "symbols");
  if (rc == 0) rc = check_binary(c);
  if (rc == 0) rc = new_stream(c, TCODEC_ROLE_SIGNS, tc_bits_bytes(c->n), &signs);
  if (rc != 0) return rc;
  tc_bitw_init(&sw, signs);
  for (uint64_t i = 0; i < c->n; i++) tc_bitw_put(&sw, c->q->symbols[i] < 0, 1);
  tc_bitw_flush(&sw);
  return copy_scales(c, c->out->p.units);
}

/* ---- k-bit ---- */

static int kbit_params(qctx *c) {
  int rc = unit_params(c);
  if (rc != 0) return rc;
  if (!c->out->p.sym)
    return QFAIL(c, TCODEC_E_PARAMS, "k-bit must be symmetric (asymmetric k-bit is not in v1)");
  if (c->q->bits < 2 || c->q->bits > 8)
    return QFAIL(c, TCODEC_E_PARAMS, "k-bit bits %u is not in 2..8", c->q->bits);
  c->out->p.bits = c->q->bits;
  c->out->p.zp = c->q->zero_points != NULL;
  c->out->p.sparse = c->q->mask != NULL;
  return need(c, c->q->codes, c->n, "codes");
}

/* Check mask bytes and the codes of coded elements; *m = number of coded elements. */
static int kbit_check_codes(const qctx *c, uint64_t *m) {
  const uint8_t *mask = c->q->mask, *codes = c->q->codes;
  unsigned bits = c->q->bits;
  uint64_t k = 0;
  for (uint64_t i = 0; i < c->n; i++) {
    if (mask != NULL && mask[i] > 1)
      return QFAIL(c, TCODEC_E_VALUE, "mask byte %u at index %llu is not 0 or 1", mask[i],
                   (unsigned long long)i);
    if (mask != NULL && mask[i] == 0) continue;
    if (codes[i] >> bits)
      return QFAIL(c, TCODEC_E_VALUE, "code %u at index %llu does not fit %u bits", codes[i],
                   (unsigned long long)i, bits);
    k++;
  }
  *m = k;
  return 0;
}

static int kbit_mask(qctx *c) {
  uint8_t *dst;
  tc_bitw w;
  int rc = new_stream(c, TCODEC_ROLE_MASK, tc_bits_bytes(c->n), &dst);
  if (rc != 0) return rc;
  tc_bitw_init(&w, dst);
  for (uint64_t i = 0; i < c->n; i++) tc_bitw_put(&w, c->q->mask[i], 1);
  tc_bitw_flush(&w);
  return 0;
}

static int kbit_codes(qctx *c, uint64_t m) {
  const uint8_t *mask = c->q->mask, *codes = c->q->codes;
  unsigned bits = c->q->bits;
  uint64_t nbits;
  uint8_t *dst;
  tc_bitw w;
  if (tc_mul_u64(m, bits, &nbits) != 0) return QFAIL(c, TCODEC_E_OVERFLOW, "too many codes");
  int rc = new_stream(c, TCODEC_ROLE_CODES, tc_bits_bytes(nbits), &dst);
  if (rc != 0) return rc;
  tc_bitw_init(&w, dst);
  for (uint64_t i = 0; i < c->n; i++) {
    if (mask == NULL || mask[i]) tc_bitw_put(&w, codes[i], bits);
  }
  tc_bitw_flush(&w);
  return 0;
}

/* ZEROS: one byte per unit, each < 2^bits. */
static int kbit_zeros(qctx *c) {
  const uint8_t *zp = c->q->zero_points;
  uint64_t units = c->out->p.units;
  uint8_t *dst;
  for (uint64_t u = 0; u < units; u++) {
    if (zp[u] >> c->q->bits)
      return QFAIL(c, TCODEC_E_VALUE, "zero point %u of unit %llu does not fit %u bits", zp[u],
                   (unsigned long long)u, c->q->bits);
  }
  int rc = new_stream(c, TCODEC_ROLE_ZEROS, units, &dst);
  if (rc == 0 && units > 0) memcpy(dst, zp, (size_t)units);
  return rc;
}

static int enc_kbit(qctx *c) {
  uint64_t m = 0;
  int rc = kbit_params(c);
  if (rc == 0) rc = kbit_check_codes(c, &m);
  if (rc == 0 && c->out->p.sparse) {
    c->out->p.nnz = m;
    rc = kbit_mask(c);
  }
  if (rc == 0) rc = kbit_codes(c, m);
  if (rc == 0 && c->out->p.zp) rc = kbit_zeros(c);
  if (rc == 0) rc = copy_scales(c, c->out->p.units);
  return rc;
}

/* ---- hybrid ----
 * Filters are the slices along axis 0. q->granularity may be left at TENSOR (the
 * zero default) or set to CHANNEL; either way axis must be 0. The SCALES stream has
 * one unit per ternary filter in filter order: unit r is q->scales[r] (sym) or
 * q->scales[2r], q->scales[2r+1] (asym), where r is the filter's rank among the
 * ternary filters (0 for the first ternary filter), not its index along axis 0. */

typedef struct hyb {
  uint64_t nf;    /* filters, shape[0] */
  uint64_t fsize; /* elements per filter */
  size_t fbytes;  /* bytes per full filter in fdtype */
} hyb;

static int hybrid_params(qctx *c, hyb *h) {
  const tcodec_quantized *q = c->q;
  if (c->ndim == 0) return QFAIL(c, TCODEC_E_PARAMS, "hybrid needs a tensor with ndim >= 1");
  if ((q->granularity != TCODEC_GRAN_TENSOR && q->granularity != TCODEC_GRAN_CHANNEL) ||
      q->axis != 0)
    return QFAIL(c, TCODEC_E_PARAMS, "hybrid filters lie along axis 0 (granularity %d, axis %u)",
                 q->granularity, q->axis);
  if (q->full_dtype != TCODEC_F32 && q->full_dtype != TCODEC_F16)
    return QFAIL(c, TCODEC_E_PARAMS, "hybrid full dtype %d is not f32 or f16", q->full_dtype);
  h->nf = c->shape[0];
  h->fsize = h->nf ? c->n / h->nf : 0;
  uint64_t fb;
  if (tc_mul_u64(h->fsize, tcodec_dtype_size(q->full_dtype), &fb) != 0 || fb > SIZE_MAX)
    return QFAIL(c, TCODEC_E_OVERFLOW, "hybrid filters are too large");
  h->fbytes = (size_t)fb;
  c->out->p.gran = TCODEC_GRAN_TENSOR; /* hybrid params have no "gran": as the reader sees it */
  c->out->p.fdtype = q->full_dtype;
  return scale_params(c);
}

/* Check filter kinds and the symbols of ternary filters; fills nter, nnz, units. */
static int hybrid_check(qctx *c, const hyb *h) {
  const uint8_t *kind = c->q->filter_ternary;
  tc_params *p = &c->out->p;
  int rc = need(c, kind, h->nf, "filter_ternary");
  for (uint64_t f = 0; rc == 0 && f < h->nf; f++) {
    if (kind[f] > 1)
      return QFAIL(c, TCODEC_E_PARAMS, "filter_ternary[%llu] = %u is not 0 or 1",
                   (unsigned long long)f, kind[f]);
    if (!kind[f]) continue;
    p->nter++;
    rc = need(c, c->q->symbols, h->fsize, "symbols");
    if (rc == 0) rc = check_ternary(c, f * h->fsize, h->fsize, &p->nnz);
  }
  p->units = p->nter;
  return rc;
}

static int hybrid_kinds(qctx *c, const hyb *h) {
  uint8_t *dst;
  tc_bitw w;
  int rc = new_stream(c, TCODEC_ROLE_KINDS, tc_bits_bytes(h->nf), &dst);
  if (rc != 0) return rc;
  tc_bitw_init(&w, dst);
  for (uint64_t f = 0; f < h->nf; f++) tc_bitw_put(&w, c->q->filter_ternary[f], 1);
  tc_bitw_flush(&w);
  return 0;
}

static int hybrid_full(qctx *c, const hyb *h) {
  uint64_t bytes;
  uint8_t *dst;
  const uint8_t *src = c->q->full_values;
  if (tc_mul_u64(h->nf - c->out->p.nter, h->fbytes, &bytes) != 0)
    return QFAIL(c, TCODEC_E_OVERFLOW, "hybrid full filters are too large");
  int rc = need(c, src, bytes, "full_values");
  if (rc == 0) rc = new_stream(c, TCODEC_ROLE_FULL, bytes, &dst);
  if (rc != 0 || bytes == 0) return rc;
  for (uint64_t f = 0; f < h->nf; f++) {
    if (c->q->filter_ternary[f]) continue;
    memcpy(dst, src + f * h->fbytes, h->fbytes);
    dst += h->fbytes;
  }
  return 0;
}

static int hybrid_ternary(qctx *c, const hyb *h) {
  tc_bitw mw, sw;
  uint64_t nbits = c->out->p.nter * h->fsize; /* <= nelem: no overflow */
  int rc = ternary_streams(c, nbits, c->out->p.nnz, &mw, &sw);
  if (rc != 0) return rc;
  for (uint64_t f = 0; f < h->nf; f++) {
    if (c->q->filter_ternary[f]) pack_ternary(&mw, &sw, c->q->symbols + f * h->fsize, h->fsize);
  }
  tc_bitw_flush(&mw);
  tc_bitw_flush(&sw);
  return 0;
}

static int enc_hybrid(qctx *c) {
  hyb h = {0, 0, 0};
  int rc = hybrid_params(c, &h);
  if (rc == 0) rc = hybrid_check(c, &h);
  if (rc == 0) rc = hybrid_kinds(c, &h);
  if (rc == 0) rc = hybrid_full(c, &h);
  if (rc == 0) rc = hybrid_ternary(c, &h);
  if (rc == 0) rc = copy_scales(c, c->out->p.nter);
  return rc;
}

/* ---- dispatch ---- */

static const struct {
  int enc;
  int (*build)(qctx *c);
} enc_table[] = {
    {TCODEC_ENC_TERNARY, enc_ternary},
    {TCODEC_ENC_BINARY, enc_binary},
    {TCODEC_ENC_KBIT, enc_kbit},
    {TCODEC_ENC_HYBRID, enc_hybrid},
};

int tc_encode_quantized(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                        const tcodec_quantized *q, tc_encoded *out, char *err, size_t err_cap) {
  if (out == NULL) return tc_enc_say(err, err_cap, TCODEC_E_ARG, "no output");
  memset(out, 0, sizeof *out);
  if (q == NULL || (ndim > 0 && shape == NULL))
    return tc_enc_say(err, err_cap, TCODEC_E_ARG, "quantized tensor or shape is NULL");
  if (dtype != TCODEC_F64 && dtype != TCODEC_F32 && dtype != TCODEC_F16 && dtype != TCODEC_BF16)
    return tc_enc_say(err, err_cap, TCODEC_E_UNSUPPORTED_DTYPE,
               "quantized encodings need a float dtype (f64, f32, f16, bf16), not %d", dtype);
  qctx c = {m, ndim, shape, nelem, q, out, err, err_cap};
  for (size_t i = 0; i < sizeof enc_table / sizeof enc_table[0]; i++) {
    if (enc_table[i].enc != q->encoding) continue;
    out->enc = q->encoding;
    int rc = enc_table[i].build(&c);
    if (rc != 0) tc_encoded_free(m, out);
    return rc;
  }
  return tc_enc_say(err, err_cap, TCODEC_E_ARG, "encoding %d is not a quantized encoding", q->encoding);
}
