/* Naive reference decoder: see reference.h. Written from spec/FORMAT.md only;
 * speed is no goal, obviousness is. */
#include "support/reference.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int
fail(char *why, size_t why_cap, int code, const char *fmt, ...) {
  if (why != NULL && why_cap > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_cap, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* ---- little-endian helpers ---- */

static uint64_t get_le(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  for (size_t k = 0; k < n; k++) v |= (uint64_t)p[k] << (8 * k);
  return v;
}

static void put_le(uint8_t *p, uint64_t v, size_t n) {
  for (size_t k = 0; k < n; k++) p[k] = (uint8_t)(v >> (8 * k));
}

static float f32_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* ---- element formats ---- */

size_t ref_dtype_size(int dtype) {
  switch (dtype) {
  case TCODEC_F64:
  case TCODEC_I64:
  case TCODEC_U64:
    return 8;
  case TCODEC_F32:
  case TCODEC_I32:
  case TCODEC_U32:
    return 4;
  case TCODEC_F16:
  case TCODEC_BF16:
  case TCODEC_I16:
  case TCODEC_U16:
    return 2;
  case TCODEC_F8_E4M3:
  case TCODEC_F8_E5M2:
  case TCODEC_I8:
  case TCODEC_U8:
  case TCODEC_BOOL:
    return 1;
  default:
    return 0;
  }
}

int ref_is_float_dtype(int dtype) {
  return dtype == TCODEC_F64 || dtype == TCODEC_F32 || dtype == TCODEC_F16 ||
         dtype == TCODEC_BF16 || dtype == TCODEC_F8_E4M3 || dtype == TCODEC_F8_E5M2;
}

/* sign * 2^(exponent) * significand for the small formats. */
float ref_f16_to_f32(uint16_t h) {
  unsigned s = h >> 15, e = (h >> 10) & 31u, m = h & 1023u;
  if (e == 31) return f32_from_bits((uint32_t)s << 31 | 0x7F800000u | (uint32_t)m << 13);
  double v = e == 0 ? ldexp((double)m, -24) : ldexp(1024.0 + m, (int)e - 25);
  return (float)(s ? -v : v);
}

double ref_f16_to_f64(uint16_t h) {
  unsigned s = h >> 15, e = (h >> 10) & 31u, m = h & 1023u;
  double v;
  if (e == 31)
    v = m ? NAN : INFINITY;
  else
    v = e == 0 ? ldexp((double)m, -24) : ldexp(1024.0 + m, (int)e - 25);
  return s ? -v : v;
}

float ref_bf16_to_f32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

float ref_e4m3_to_f32(uint8_t b) {
  unsigned s = b >> 7, e = (b >> 3) & 15u, m = b & 7u;
  if (e == 15 && m == 7) return s ? -NAN : NAN;
  double v = e == 0 ? ldexp((double)m, -9) : ldexp(8.0 + m, (int)e - 10);
  return (float)(s ? -v : v);
}

float ref_e5m2_to_f32(uint8_t b) {
  unsigned s = b >> 7, e = (b >> 2) & 31u, m = b & 3u;
  double v;
  if (e == 31)
    v = m ? NAN : INFINITY;
  else
    v = e == 0 ? ldexp((double)m, -16) : ldexp(4.0 + m, (int)e - 17);
  return (float)(s ? -v : v);
}

/* Nearest value of a binary format with `mbits` stored mantissa bits and an
 * `ebits`-bit exponent field, ties to even, as its bit pattern: scale |x| so that
 * one unit in the last place is 1, round with rint (the default rounding mode is
 * to nearest even), and put the pieces together. A carry out of the mantissa
 * lands in the exponent field by the addition itself. */
static uint32_t round_small(double x, int mbits, int ebits) {
  int bias = (1 << (ebits - 1)) - 1;
  uint32_t sign = signbit(x) ? 1u << (ebits + mbits) : 0u;
  uint32_t inf = ((1u << ebits) - 1u) << mbits;
  double a = fabs(x);
  if (isnan(x)) return sign | inf | (1u << (mbits - 1));
  if (isinf(a)) return sign | inf;
  if (a == 0.0) return sign;
  int e2;
  frexp(a, &e2);
  int E = e2 - 1; /* a in [2^E, 2^(E+1)) */
  if (E < 1 - bias) E = 1 - bias;
  double q = rint(ldexp(a, mbits - E)); /* 0 .. 2^(mbits+1) */
  uint32_t code;
  if (q < ldexp(1.0, mbits))
    code = (uint32_t)q; /* subnormal (E was clamped) */
  else
    code = ((uint32_t)(E + bias) << mbits) + (uint32_t)(q - ldexp(1.0, mbits));
  if (code >= inf) return sign | inf;
  return sign | code;
}

uint16_t ref_f64_to_f16(double x) { return (uint16_t)round_small(x, 10, 5); }
uint16_t ref_f64_to_bf16(double x) { return (uint16_t)round_small(x, 7, 8); }

double ref_float_load(int dtype, const uint8_t *p) {
  uint64_t u;
  double d;
  switch (dtype) {
  case TCODEC_F64:
    u = get_le(p, 8);
    memcpy(&d, &u, 8);
    return d;
  case TCODEC_F32:
    return (double)f32_from_bits((uint32_t)get_le(p, 4));
  case TCODEC_F16:
    return ref_f16_to_f64((uint16_t)get_le(p, 2));
  case TCODEC_BF16:
    return (double)ref_bf16_to_f32((uint16_t)get_le(p, 2));
  default:
    return 0.0;
  }
}

void ref_float_store(int dtype, uint8_t *p, double v) {
  uint64_t u;
  switch (dtype) {
  case TCODEC_F64:
    memcpy(&u, &v, 8);
    put_le(p, u, 8);
    break;
  case TCODEC_F32:
    put_le(p, f32_bits((float)v), 4);
    break;
  case TCODEC_F16:
    put_le(p, ref_f64_to_f16(v), 2);
    break;
  case TCODEC_BF16:
    put_le(p, ref_f64_to_bf16(v), 2);
    break;
  default:
    break;
  }
}

float ref_load_f32(int dtype, const uint8_t *p) {
  switch (dtype) {
  case TCODEC_F64:
    return (float)ref_float_load(TCODEC_F64, p);
  case TCODEC_F32:
    return f32_from_bits((uint32_t)get_le(p, 4));
  case TCODEC_F16:
    return ref_f16_to_f32((uint16_t)get_le(p, 2));
  case TCODEC_BF16:
    return ref_bf16_to_f32((uint16_t)get_le(p, 2));
  case TCODEC_F8_E4M3:
    return ref_e4m3_to_f32(p[0]);
  case TCODEC_F8_E5M2:
    return ref_e5m2_to_f32(p[0]);
  case TCODEC_I8:
    return (float)(int8_t)p[0];
  case TCODEC_I16:
    return (float)(int16_t)(uint16_t)get_le(p, 2);
  case TCODEC_I32:
    return (float)(int32_t)(uint32_t)get_le(p, 4);
  case TCODEC_I64:
    return (float)(int64_t)get_le(p, 8);
  case TCODEC_U8:
    return (float)p[0];
  case TCODEC_U16:
    return (float)(uint16_t)get_le(p, 2);
  case TCODEC_U32:
    return (float)(uint32_t)get_le(p, 4);
  case TCODEC_U64:
    return (float)get_le(p, 8);
  case TCODEC_BOOL:
    return p[0] ? 1.0f : 0.0f;
  default:
    return 0.0f;
  }
}

/* ---- bits ---- */

int ref_bit(const uint8_t *b, uint64_t i) { return (b[i / 8] >> (i % 8)) & 1; }

void ref_set_bit(uint8_t *b, uint64_t i, int v) {
  if (v)
    b[i / 8] = (uint8_t)(b[i / 8] | (1u << (i % 8)));
  else
    b[i / 8] = (uint8_t)(b[i / 8] & ~(1u << (i % 8)));
}

static uint64_t bytes_for_bits(uint64_t nbits) { return (nbits + 7) / 8; }

static uint64_t count_bits(const uint8_t *b, uint64_t nbits) {
  uint64_t c = 0;
  for (uint64_t i = 0; i < nbits; i++) c += (uint64_t)ref_bit(b, i);
  return c;
}

/* The bits after nbits in the last byte are reserved: they must be zero. */
static int padding_is_zero(const uint8_t *b, uint64_t nbits) {
  for (uint64_t i = nbits; i < bytes_for_bits(nbits) * 8; i++)
    if (ref_bit(b, i)) return 0;
  return 1;
}

/* ---- units ---- */

int ref_units(int gran, unsigned axis, uint64_t group, unsigned ndim, const uint64_t *shape,
              uint64_t nelem, uint64_t *units) {
  if (gran == TCODEC_GRAN_TENSOR) {
    *units = 1;
    return 0;
  }
  if (gran == TCODEC_GRAN_CHANNEL) {
    if (axis >= ndim) return -1;
    *units = shape[axis];
    return 0;
  }
  if (gran == TCODEC_GRAN_GROUP) {
    if (group < 1) return -1;
    *units = nelem / group + (nelem % group != 0);
    return 0;
  }
  return -1;
}

uint64_t ref_unit_of(int gran, unsigned axis, uint64_t group, unsigned ndim, const uint64_t *shape,
                     uint64_t i) {
  if (gran == TCODEC_GRAN_GROUP) return i / group;
  if (gran != TCODEC_GRAN_CHANNEL) return 0;
  uint64_t inner = 1;
  for (unsigned d = axis + 1; d < ndim; d++) inner *= shape[d];
  return (i / inner) % shape[axis];
}

/* ---- streams ---- */

void ref_streams_free(ref_streams *s) {
  for (int r = 0; r < TCODEC_ROLE_COUNT_; r++) free(s->b[r]);
  memset(s, 0, sizeof(*s));
}

static int stream_new(ref_streams *s, int role, uint64_t len) {
  s->b[role] = calloc(1, len ? (size_t)len : 1);
  if (s->b[role] == NULL) return TCODEC_E_NOMEM;
  s->len[role] = len;
  s->present[role] = 1;
  return 0;
}

int ref_fetch_streams(tcodec_reader *r, size_t index, ref_streams *s) {
  memset(s, 0, sizeof(*s));
  for (int role = 0; role < TCODEC_ROLE_COUNT_; role++) {
    uint64_t len = 0;
    int rc = tcodec_reader_stream_size(r, index, role, &len);
    if (rc == TCODEC_E_NOT_FOUND) continue;
    if (rc == 0) rc = stream_new(s, role, len);
    if (rc == 0) rc = tcodec_reader_decode_stream(r, index, role, s->b[role], (size_t)len);
    if (rc != 0) {
      ref_streams_free(s);
      return rc;
    }
  }
  return 0;
}

int ref_streams_diff(const ref_streams *a, const ref_streams *b, uint64_t *byte_index) {
  *byte_index = UINT64_MAX;
  for (int role = 0; role < TCODEC_ROLE_COUNT_; role++) {
    if (a->present[role] != b->present[role] || a->len[role] != b->len[role]) return role;
    if (!a->present[role]) continue;
    for (uint64_t k = 0; k < a->len[role]; k++) {
      if (a->b[role][k] != b->b[role][k]) {
        *byte_index = k;
        return role;
      }
    }
  }
  return -1;
}

/* ---- expected streams (naive encoder) ---- */

static size_t scale_size(int sdtype) { return sdtype == TCODEC_F32 ? 4 : 2; }

static uint64_t product(unsigned ndim, const uint64_t *shape) {
  uint64_t n = 1;
  for (unsigned d = 0; d < ndim; d++) n *= shape[d];
  return n;
}

static int copy_scales(ref_streams *out, const tcodec_quantized *q, uint64_t units) {
  uint64_t bytes = units * (q->symmetric ? 1 : 2) * scale_size(q->scale_dtype);
  int rc = stream_new(out, TCODEC_ROLE_SCALES, bytes);
  if (rc == 0 && bytes) memcpy(out->b[TCODEC_ROLE_SCALES], q->scales, (size_t)bytes);
  return rc;
}

/* MASK and SIGNS of the ternary symbols sym[0..count) at mask bit `at`; signs
 * are appended at *j. */
static void put_ternary(ref_streams *out, const int8_t *sym, uint64_t count, uint64_t at,
                        uint64_t *j) {
  for (uint64_t k = 0; k < count; k++) {
    ref_set_bit(out->b[TCODEC_ROLE_MASK], at + k, sym[k] != 0);
    if (sym[k] != 0) ref_set_bit(out->b[TCODEC_ROLE_SIGNS], (*j)++, sym[k] < 0);
  }
}

static int enc_ternary(uint64_t n, uint64_t units, const tcodec_quantized *q, ref_streams *out) {
  uint64_t nnz = 0, j = 0;
  for (uint64_t i = 0; i < n; i++) nnz += q->symbols[i] != 0;
  int rc = stream_new(out, TCODEC_ROLE_MASK, bytes_for_bits(n));
  if (rc == 0) rc = stream_new(out, TCODEC_ROLE_SIGNS, bytes_for_bits(nnz));
  if (rc != 0) return rc;
  put_ternary(out, q->symbols, n, 0, &j);
  return copy_scales(out, q, units);
}

static int enc_binary(uint64_t n, uint64_t units, const tcodec_quantized *q, ref_streams *out) {
  int rc = stream_new(out, TCODEC_ROLE_SIGNS, bytes_for_bits(n));
  if (rc != 0) return rc;
  for (uint64_t i = 0; i < n; i++) ref_set_bit(out->b[TCODEC_ROLE_SIGNS], i, q->symbols[i] < 0);
  return copy_scales(out, q, units);
}

static int enc_kbit(uint64_t n, uint64_t units, const tcodec_quantized *q, ref_streams *out) {
  uint64_t m = 0, j = 0;
  for (uint64_t i = 0; i < n; i++) m += q->mask == NULL || q->mask[i];
  int rc = q->mask ? stream_new(out, TCODEC_ROLE_MASK, bytes_for_bits(n)) : 0;
  if (rc == 0) rc = stream_new(out, TCODEC_ROLE_CODES, bytes_for_bits(m * q->bits));
  if (rc == 0 && q->zero_points) rc = stream_new(out, TCODEC_ROLE_ZEROS, units);
  if (rc != 0) return rc;
  for (uint64_t i = 0; i < n; i++) {
    if (q->mask) ref_set_bit(out->b[TCODEC_ROLE_MASK], i, q->mask[i]);
    if (q->mask && !q->mask[i]) continue;
    for (unsigned b = 0; b < q->bits; b++)
      ref_set_bit(out->b[TCODEC_ROLE_CODES], j * q->bits + b, (q->codes[i] >> b) & 1);
    j++;
  }
  if (q->zero_points && units) memcpy(out->b[TCODEC_ROLE_ZEROS], q->zero_points, (size_t)units);
  return copy_scales(out, q, units);
}

static int enc_hybrid(unsigned ndim, const uint64_t *shape, const tcodec_quantized *q,
                      ref_streams *out) {
  uint64_t n = product(ndim, shape), nf = shape[0], fsize = nf ? n / nf : 0;
  size_t fd = q->full_dtype == TCODEC_F32 ? 4 : 2;
  uint64_t nter = 0, nnz = 0, j = 0, r = 0, full = 0;
  for (uint64_t f = 0; f < nf; f++) {
    if (!q->filter_ternary[f]) continue;
    nter++;
    for (uint64_t k = 0; k < fsize; k++) nnz += q->symbols[f * fsize + k] != 0;
  }
  int rc = stream_new(out, TCODEC_ROLE_KINDS, bytes_for_bits(nf));
  if (rc == 0) rc = stream_new(out, TCODEC_ROLE_FULL, (nf - nter) * fsize * fd);
  if (rc == 0) rc = stream_new(out, TCODEC_ROLE_MASK, bytes_for_bits(nter * fsize));
  if (rc == 0) rc = stream_new(out, TCODEC_ROLE_SIGNS, bytes_for_bits(nnz));
  if (rc != 0) return rc;
  for (uint64_t f = 0; f < nf; f++) {
    ref_set_bit(out->b[TCODEC_ROLE_KINDS], f, q->filter_ternary[f]);
    if (q->filter_ternary[f]) {
      put_ternary(out, q->symbols + f * fsize, fsize, r * fsize, &j);
      r++;
    } else {
      memcpy(out->b[TCODEC_ROLE_FULL] + full * fsize * fd,
             (const uint8_t *)q->full_values + f * fsize * fd, (size_t)(fsize * fd));
      full++;
    }
  }
  return copy_scales(out, q, nter);
}

int ref_encode_quantized(unsigned ndim, const uint64_t *shape, const tcodec_quantized *q,
                         ref_streams *out, char *why, size_t why_cap) {
  memset(out, 0, sizeof(*out));
  uint64_t n = product(ndim, shape), units = 0;
  int rc;
  if (q->encoding == TCODEC_ENC_HYBRID) {
    rc = ndim >= 1 ? enc_hybrid(ndim, shape, q, out)
                   : fail(why, why_cap, TCODEC_E_PARAMS, "hybrid needs ndim >= 1");
  } else if (ref_units(q->granularity, q->axis, q->group_size, ndim, shape, n, &units) != 0) {
    rc = fail(why, why_cap, TCODEC_E_PARAMS, "granularity does not fit the shape");
  } else if (q->encoding == TCODEC_ENC_TERNARY) {
    rc = enc_ternary(n, units, q, out);
  } else if (q->encoding == TCODEC_ENC_BINARY) {
    rc = enc_binary(n, units, q, out);
  } else if (q->encoding == TCODEC_ENC_KBIT) {
    rc = enc_kbit(n, units, q, out);
  } else {
    rc = fail(why, why_cap, TCODEC_E_ARG, "encoding %d is not quantized", q->encoding);
  }
  if (rc != 0) ref_streams_free(out);
  return rc;
}

int ref_encode_raw(int dtype, uint64_t nelem, const void *src, int bg, ref_streams *out) {
  memset(out, 0, sizeof(*out));
  size_t size = ref_dtype_size(dtype);
  const uint8_t *s = src;
  int rc = stream_new(out, TCODEC_ROLE_DATA, nelem * size);
  if (rc != 0) return rc;
  for (uint64_t i = 0; i < nelem; i++)
    for (size_t k = 0; k < size; k++) {
      uint64_t at = bg ? k * nelem + i : i * size + k;
      out->b[TCODEC_ROLE_DATA][at] = s[i * size + k];
    }
  return 0;
}

/* ---- decoding ---- */

void ref_output_free(ref_output *o) {
  free(o->f32);
  free(o->original);
  free(o->symbols);
  memset(o, 0, sizeof(*o));
}

typedef struct dec {
  const tcodec_tensor_info *t;
  const ref_streams *s;
  ref_output *o;
  size_t osize; /* bytes per element of the original dtype */
  char *why;
  size_t why_cap;
} dec;

/* Exactly the roles in `roles` (a bit set), each with its expected length. */
static int check_layout(const dec *d, unsigned roles, const uint64_t len[TCODEC_ROLE_COUNT_]) {
  for (int r = 0; r < TCODEC_ROLE_COUNT_; r++) {
    int want = (roles >> r) & 1u;
    if (d->s->present[r] != want)
      return fail(d->why, d->why_cap, TCODEC_E_DIR_SCHEMA, "stream %s is %s", tcodec_role_name(r),
                  want ? "missing" : "unexpected");
    if (want && d->s->len[r] != len[r])
      return fail(d->why, d->why_cap, TCODEC_E_STREAM_SIZE, "stream %s has %llu bytes, spec: %llu",
                  tcodec_role_name(r), (unsigned long long)d->s->len[r],
                  (unsigned long long)len[r]);
  }
  return 0;
}

static int check_bits(const dec *d, int role, uint64_t nbits, int64_t popcount) {
  if (!padding_is_zero(d->s->b[role], nbits))
    return fail(d->why, d->why_cap, TCODEC_E_PAYLOAD, "padding bits of %s are not zero",
                tcodec_role_name(role));
  if (popcount >= 0 && count_bits(d->s->b[role], nbits) != (uint64_t)popcount)
    return fail(d->why, d->why_cap, TCODEC_E_PAYLOAD, "popcount of %s is not %lld",
                tcodec_role_name(role), (long long)popcount);
  return 0;
}

static uint8_t *elem_out(const dec *d, uint64_t i) { return d->o->original + i * d->osize; }

/* The value of a nonzero ternary/binary symbol: scale value `idx` of SCALES,
 * sign bit flipped for a negative symbol (f32 output and original dtype alike,
 * the original converted from the scale value itself). */
static void put_scale_value(const dec *d, uint64_t i, uint64_t idx, int neg) {
  int sd = d->t->scale_dtype;
  const uint8_t *sp = d->s->b[TCODEC_ROLE_SCALES] + idx * scale_size(sd);
  float f = sd == TCODEC_F32   ? f32_from_bits((uint32_t)get_le(sp, 4))
            : sd == TCODEC_F16 ? ref_f16_to_f32((uint16_t)get_le(sp, 2))
                               : ref_bf16_to_f32((uint16_t)get_le(sp, 2));
  if (neg) f = f32_from_bits(f32_bits(f) ^ 0x80000000u);
  d->o->f32[i] = f;
  uint8_t *e = elem_out(d, i);
  if (sd == d->t->dtype)
    memcpy(e, sp, d->osize);
  else
    ref_float_store(d->t->dtype, e, ref_float_load(sd, sp));
  if (neg) e[d->osize - 1] ^= 0x80u;
  d->o->symbols[i] = (uint8_t)(int8_t)(neg ? -1 : 1);
}

/* Symbol 0 and masked-out elements: +0.0 (all zero bytes in every float dtype). */
static void put_zero(const dec *d, uint64_t i) {
  d->o->f32[i] = 0.0f;
  memset(elem_out(d, i), 0, d->osize);
  d->o->symbols[i] = 0;
}

static int scales_layout(const dec *d, uint64_t *units, uint64_t *scale_bytes) {
  const tcodec_tensor_info *t = d->t;
  if (t->scale_dtype != TCODEC_F32 && t->scale_dtype != TCODEC_F16 && t->scale_dtype != TCODEC_BF16)
    return fail(d->why, d->why_cap, TCODEC_E_PARAMS, "sdtype %d", t->scale_dtype);
  if (ref_units(t->granularity, t->axis, t->group_size, t->ndim, t->shape, t->nelem, units) != 0)
    return fail(d->why, d->why_cap, TCODEC_E_PARAMS, "granularity %d does not fit the shape",
                t->granularity);
  *scale_bytes = *units * (t->symmetric ? 1 : 2) * scale_size(t->scale_dtype);
  return 0;
}

static uint64_t unit_of(const dec *d, uint64_t i) {
  const tcodec_tensor_info *t = d->t;
  return ref_unit_of(t->granularity, t->axis, t->group_size, t->ndim, t->shape, i);
}

static uint64_t scale_index(const dec *d, uint64_t u, int neg) {
  return d->t->symmetric ? u : 2 * u + (uint64_t)(neg != 0);
}

static int dec_raw(const dec *d, int bg) {
  uint64_t n = d->t->nelem, len[TCODEC_ROLE_COUNT_] = {0};
  len[TCODEC_ROLE_DATA] = n * d->osize;
  int rc = check_layout(d, 1u << TCODEC_ROLE_DATA, len);
  if (rc != 0) return rc;
  const uint8_t *data = d->s->b[TCODEC_ROLE_DATA];
  for (uint64_t i = 0; i < n; i++) {
    uint8_t *e = elem_out(d, i);
    for (size_t k = 0; k < d->osize; k++) e[k] = bg ? data[k * n + i] : data[i * d->osize + k];
    d->o->f32[i] = ref_load_f32(d->t->dtype, e);
  }
  return 0;
}

static int dec_ternary(const dec *d) {
  uint64_t n = d->t->nelem, nnz = d->t->nnz, units, len[TCODEC_ROLE_COUNT_] = {0};
  int rc = scales_layout(d, &units, &len[TCODEC_ROLE_SCALES]);
  len[TCODEC_ROLE_MASK] = bytes_for_bits(n);
  len[TCODEC_ROLE_SIGNS] = bytes_for_bits(nnz);
  unsigned roles = 1u << TCODEC_ROLE_MASK | 1u << TCODEC_ROLE_SIGNS | 1u << TCODEC_ROLE_SCALES;
  if (rc == 0) rc = check_layout(d, roles, len);
  if (rc == 0) rc = check_bits(d, TCODEC_ROLE_MASK, n, (int64_t)nnz);
  if (rc == 0) rc = check_bits(d, TCODEC_ROLE_SIGNS, nnz, -1);
  if (rc != 0) return rc;
  uint64_t j = 0; /* index of the next nonzero */
  for (uint64_t i = 0; i < n; i++) {
    if (!ref_bit(d->s->b[TCODEC_ROLE_MASK], i)) {
      put_zero(d, i);
      continue;
    }
    int neg = ref_bit(d->s->b[TCODEC_ROLE_SIGNS], j++);
    put_scale_value(d, i, scale_index(d, unit_of(d, i), neg), neg);
  }
  return 0;
}

static int dec_binary(const dec *d) {
  uint64_t n = d->t->nelem, units, len[TCODEC_ROLE_COUNT_] = {0};
  int rc = scales_layout(d, &units, &len[TCODEC_ROLE_SCALES]);
  len[TCODEC_ROLE_SIGNS] = bytes_for_bits(n);
  if (rc == 0) rc = check_layout(d, 1u << TCODEC_ROLE_SIGNS | 1u << TCODEC_ROLE_SCALES, len);
  if (rc == 0) rc = check_bits(d, TCODEC_ROLE_SIGNS, n, -1);
  if (rc != 0) return rc;
  for (uint64_t i = 0; i < n; i++) {
    int neg = ref_bit(d->s->b[TCODEC_ROLE_SIGNS], i);
    put_scale_value(d, i, scale_index(d, unit_of(d, i), neg), neg);
  }
  return 0;
}

static int kbit_layout(const dec *d, uint64_t *units) {
  const tcodec_tensor_info *t = d->t;
  uint64_t n = t->nelem, len[TCODEC_ROLE_COUNT_] = {0};
  if (!t->symmetric || t->bits < 2 || t->bits > 8)
    return fail(d->why, d->why_cap, TCODEC_E_PARAMS, "k-bit: sym %d bits %u", t->symmetric,
                t->bits);
  int rc = scales_layout(d, units, &len[TCODEC_ROLE_SCALES]);
  uint64_t m = t->has_mask ? t->nnz : n;
  unsigned roles = 1u << TCODEC_ROLE_CODES | 1u << TCODEC_ROLE_SCALES;
  len[TCODEC_ROLE_CODES] = bytes_for_bits(m * t->bits);
  if (t->has_mask) {
    roles |= 1u << TCODEC_ROLE_MASK;
    len[TCODEC_ROLE_MASK] = bytes_for_bits(n);
  }
  if (t->has_zero_point) {
    roles |= 1u << TCODEC_ROLE_ZEROS;
    len[TCODEC_ROLE_ZEROS] = *units;
  }
  if (rc == 0) rc = check_layout(d, roles, len);
  if (rc == 0 && t->has_mask) rc = check_bits(d, TCODEC_ROLE_MASK, n, (int64_t)t->nnz);
  if (rc == 0) rc = check_bits(d, TCODEC_ROLE_CODES, m * t->bits, -1);
  for (uint64_t u = 0; rc == 0 && t->has_zero_point && u < *units; u++)
    if (d->s->b[TCODEC_ROLE_ZEROS][u] >= (1u << t->bits))
      rc = fail(d->why, d->why_cap, TCODEC_E_PAYLOAD, "zero point of unit %llu is too large",
                (unsigned long long)u);
  return rc;
}

static int dec_kbit(const dec *d) {
  const tcodec_tensor_info *t = d->t;
  uint64_t units;
  int rc = kbit_layout(d, &units);
  if (rc != 0) return rc;
  uint64_t j = 0; /* index of the next code */
  for (uint64_t i = 0; i < t->nelem; i++) {
    uint64_t u = unit_of(d, i);
    int zp = t->has_zero_point ? d->s->b[TCODEC_ROLE_ZEROS][u] : 1 << (t->bits - 1);
    if (t->has_mask && !ref_bit(d->s->b[TCODEC_ROLE_MASK], i)) {
      put_zero(d, i);
      d->o->symbols[i] = (uint8_t)zp;
      continue;
    }
    unsigned code = 0;
    for (unsigned b = 0; b < t->bits; b++)
      code |= (unsigned)ref_bit(d->s->b[TCODEC_ROLE_CODES], j * t->bits + b) << b;
    j++;
    const uint8_t *sp = d->s->b[TCODEC_ROLE_SCALES] + u * scale_size(t->scale_dtype);
    float scale = t->scale_dtype == TCODEC_F32   ? f32_from_bits((uint32_t)get_le(sp, 4))
                  : t->scale_dtype == TCODEC_F16 ? ref_f16_to_f32((uint16_t)get_le(sp, 2))
                                                 : ref_bf16_to_f32((uint16_t)get_le(sp, 2));
    volatile float v = scale * (float)((int)code - zp); /* binary32, one rounding */
    d->o->f32[i] = v;
    ref_float_store(t->dtype, elem_out(d, i), (double)v);
    d->o->symbols[i] = (uint8_t)code;
  }
  return 0;
}

static int hybrid_layout(const dec *d, uint64_t nf, uint64_t fsize, uint64_t *nter) {
  const tcodec_tensor_info *t = d->t;
  uint64_t len[TCODEC_ROLE_COUNT_] = {0};
  if (t->full_dtype != TCODEC_F32 && t->full_dtype != TCODEC_F16)
    return fail(d->why, d->why_cap, TCODEC_E_PARAMS, "fdtype %d", t->full_dtype);
  if (!d->s->present[TCODEC_ROLE_KINDS])
    return fail(d->why, d->why_cap, TCODEC_E_DIR_SCHEMA, "no kinds stream");
  if (d->s->len[TCODEC_ROLE_KINDS] != bytes_for_bits(nf))
    return fail(d->why, d->why_cap, TCODEC_E_STREAM_SIZE, "kinds stream length");
  *nter = count_bits(d->s->b[TCODEC_ROLE_KINDS], nf);
  len[TCODEC_ROLE_KINDS] = bytes_for_bits(nf);
  len[TCODEC_ROLE_FULL] = (nf - *nter) * fsize * scale_size(t->full_dtype);
  len[TCODEC_ROLE_MASK] = bytes_for_bits(*nter * fsize);
  len[TCODEC_ROLE_SIGNS] = bytes_for_bits(t->nnz);
  len[TCODEC_ROLE_SCALES] = *nter * (t->symmetric ? 1 : 2) * scale_size(t->scale_dtype);
  unsigned roles = 1u << TCODEC_ROLE_KINDS | 1u << TCODEC_ROLE_FULL | 1u << TCODEC_ROLE_MASK |
                   1u << TCODEC_ROLE_SIGNS | 1u << TCODEC_ROLE_SCALES;
  int rc = check_layout(d, roles, len);
  if (rc == 0) rc = check_bits(d, TCODEC_ROLE_KINDS, nf, -1);
  if (rc == 0) rc = check_bits(d, TCODEC_ROLE_MASK, *nter * fsize, (int64_t)t->nnz);
  if (rc == 0) rc = check_bits(d, TCODEC_ROLE_SIGNS, t->nnz, -1);
  return rc;
}

static int dec_hybrid(const dec *d) {
  const tcodec_tensor_info *t = d->t;
  if (t->ndim < 1) return fail(d->why, d->why_cap, TCODEC_E_PARAMS, "hybrid scalar");
  uint64_t nf = t->shape[0], fsize = nf ? t->nelem / nf : 0, nter;
  int rc = hybrid_layout(d, nf, fsize, &nter);
  if (rc != 0) return rc;
  size_t fd = scale_size(t->full_dtype);
  uint64_t j = 0; /* index of the next nonzero among ternary filters */
  uint64_t r = 0; /* ternary filters before filter f */
  for (uint64_t f = 0; f < nf; f++) {
    int ternary = ref_bit(d->s->b[TCODEC_ROLE_KINDS], f);
    for (uint64_t k = 0; k < fsize; k++) {
      uint64_t i = f * fsize + k;
      if (ternary && !ref_bit(d->s->b[TCODEC_ROLE_MASK], r * fsize + k)) {
        put_zero(d, i);
      } else if (ternary) {
        int neg = ref_bit(d->s->b[TCODEC_ROLE_SIGNS], j++);
        put_scale_value(d, i, scale_index(d, r, neg), neg);
      } else {
        const uint8_t *fp = d->s->b[TCODEC_ROLE_FULL] + ((f - r) * fsize + k) * fd;
        float v = t->full_dtype == TCODEC_F32 ? f32_from_bits((uint32_t)get_le(fp, 4))
                                              : ref_f16_to_f32((uint16_t)get_le(fp, 2));
        d->o->f32[i] = v;
        ref_float_store(t->dtype, elem_out(d, i), (double)v);
        d->o->symbols[i] = 0;
      }
    }
    r += (uint64_t)ternary;
  }
  return 0;
}

int ref_decode(const tcodec_tensor_info *info, const ref_streams *s, int raw_bg, ref_output *out,
               char *why, size_t why_cap) {
  memset(out, 0, sizeof(*out));
  if (why != NULL && why_cap > 0) why[0] = '\0';
  size_t osize = ref_dtype_size(info->dtype);
  if (osize == 0) return fail(why, why_cap, TCODEC_E_UNSUPPORTED_DTYPE, "dtype %d", info->dtype);
  if (product(info->ndim, info->shape) != info->nelem)
    return fail(why, why_cap, TCODEC_E_SHAPE, "nelem is not the product of the shape");
  if (info->encoding != TCODEC_ENC_RAW && info->dtype != TCODEC_F64 && info->dtype != TCODEC_F32 &&
      info->dtype != TCODEC_F16 && info->dtype != TCODEC_BF16)
    return fail(why, why_cap, TCODEC_E_UNSUPPORTED_DTYPE, "quantized needs a float dtype");
  size_t n = (size_t)info->nelem;
  out->nelem = info->nelem;
  out->f32 = calloc(n ? n : 1, sizeof(float));
  out->original = calloc(n ? n : 1, osize);
  if (info->encoding != TCODEC_ENC_RAW) out->symbols = calloc(n ? n : 1, 1);
  if (out->f32 == NULL || out->original == NULL ||
      (info->encoding != TCODEC_ENC_RAW && out->symbols == NULL)) {
    ref_output_free(out);
    return fail(why, why_cap, TCODEC_E_NOMEM, "out of memory");
  }
  dec d = {info, s, out, osize, why, why_cap};
  int rc;
  switch (info->encoding) {
  case TCODEC_ENC_RAW:
    rc = dec_raw(&d, raw_bg);
    break;
  case TCODEC_ENC_TERNARY:
    rc = dec_ternary(&d);
    break;
  case TCODEC_ENC_BINARY:
    rc = dec_binary(&d);
    break;
  case TCODEC_ENC_KBIT:
    rc = dec_kbit(&d);
    break;
  case TCODEC_ENC_HYBRID:
    rc = dec_hybrid(&d);
    break;
  default:
    rc = fail(why, why_cap, TCODEC_E_UNSUPPORTED_ENCODING, "encoding %d", info->encoding);
  }
  if (rc != 0) ref_output_free(out);
  return rc;
}

/* ---- comparison with the library ---- */

static void *lib_decode(tcodec_reader *r, size_t index, int output, uint64_t want, int *rc) {
  uint64_t size = 0;
  *rc = tcodec_reader_decoded_size(r, index, output, &size);
  if (*rc != 0) return NULL;
  if (size != want) {
    *rc = TCODEC_E_DST_SIZE;
    return NULL;
  }
  void *p = malloc(size ? (size_t)size : 1);
  if (p == NULL) {
    *rc = TCODEC_E_NOMEM;
    return NULL;
  }
  *rc = tcodec_reader_decode(r, index, output, p, (size_t)size);
  if (*rc != 0) {
    free(p);
    return NULL;
  }
  return p;
}

static int first_diff(const void *a, const void *b, size_t n, size_t *at) {
  const uint8_t *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) {
      *at = i;
      return 1;
    }
  return 0;
}

static int compare_outputs(const ref_output *ro, const float *f32, const uint8_t *orig,
                           const uint8_t *sym, size_t osize, int nan_tolerant, char *why,
                           size_t why_cap) {
  size_t n = (size_t)ro->nelem, at;
  if (first_diff(orig, ro->original, n * osize, &at))
    return fail(why, why_cap, TCODEC_E_GENERIC,
                "ORIGINAL byte %zu (element %zu): library 0x%02x, reference 0x%02x", at, at / osize,
                orig[at], ro->original[at]);
  if (sym != NULL && first_diff(sym, ro->symbols, n, &at))
    return fail(why, why_cap, TCODEC_E_GENERIC, "SYMBOLS element %zu: library %d, reference %d", at,
                (int)sym[at], (int)ro->symbols[at]);
  for (size_t i = 0; i < n; i++) {
    if (nan_tolerant && isnan(f32[i]) && isnan(ro->f32[i])) continue;
    if (f32_bits(f32[i]) != f32_bits(ro->f32[i]))
      return fail(why, why_cap, TCODEC_E_GENERIC,
                  "F32 element %zu: library %.9g (0x%08x), reference %.9g (0x%08x)", i,
                  (double)f32[i], (unsigned)f32_bits(f32[i]), (double)ro->f32[i],
                  (unsigned)f32_bits(ro->f32[i]));
  }
  return 0;
}

int ref_check_library(tcodec_reader *r, size_t index, int raw_bg, int nan_tolerant, char *why,
                      size_t why_cap) {
  tcodec_tensor_info t;
  ref_streams st;
  ref_output ro;
  int rc = tcodec_reader_tensor_info(r, index, &t);
  if (rc != 0) return fail(why, why_cap, rc, "tensor_info: %s", tcodec_strerror(rc));
  rc = ref_fetch_streams(r, index, &st);
  if (rc != 0) return fail(why, why_cap, rc, "fetching streams: %s", tcodec_strerror(rc));
  char rwhy[200] = "";
  rc = ref_decode(&t, &st, raw_bg, &ro, rwhy, sizeof(rwhy));
  ref_streams_free(&st);
  if (rc != 0) return fail(why, why_cap, rc, "reference decoder: %s", rwhy);
  size_t n = (size_t)t.nelem, osize = ref_dtype_size(t.dtype);
  float *f32 = lib_decode(r, index, TCODEC_OUT_F32, n * 4, &rc);
  uint8_t *orig = rc == 0 ? lib_decode(r, index, TCODEC_OUT_ORIGINAL, n * osize, &rc) : NULL;
  uint8_t *sym = NULL;
  if (rc == 0 && t.encoding != TCODEC_ENC_RAW)
    sym = lib_decode(r, index, TCODEC_OUT_SYMBOLS, n, &rc);
  if (rc != 0)
    rc = fail(why, why_cap, rc, "library decode: %s", tcodec_strerror(rc));
  else
    rc = compare_outputs(&ro, f32, orig, sym, osize, nan_tolerant, why, why_cap);
  free(f32);
  free(orig);
  free(sym);
  ref_output_free(&ro);
  return rc;
}
