/*
 * Harness for the per-encoding decoders (tc_encoding_ops: layout, out_size,
 * decode), shared by fuzz_dec_raw/ternary/binary/kbit/hybrid.c. No container,
 * no checksums: the fuzzer drives a decoder directly.
 *
 * Input: a 24-byte header that becomes a tc_tensor, then the streams.
 *
 *   0      dtype: raw: id % 17 (0 and 16 invalid); quantized: < 0xF0 picks f32, f16,
 *          bf16, f64, else the low 4 bits (mostly invalid)
 *   1      ndim = b % 5
 *   2..5   shape[d] = b % 65
 *   6      flags: bits 0-1 gran, 2 sym, 3 zp, 4 sparse, 5 bg, 6 "extra": keep the
 *          params the encoding does not use (else they are zeroed, as a writer does)
 *   7      axis = b % 5
 *   8..9   group = LE16 & 1023
 *   10     sdtype: table of f32/f16/bf16 and a few invalid ids
 *   11     bits = b % 10
 *   12     fdtype: table of f32/f16 and a few invalid ids
 *   13..14 nnz  (LE16)
 *   15..16 nter (LE16)
 *   17     mode: bit 0 "counts": nnz/nter are set from the mask/kinds bytes that
 *          follow; bit 1 "fix": padding bits are cleared and zero points masked to
 *          `bits`, so most inputs decode (bit clear: the validation paths)
 *   18..23 unused (room for later params)
 *
 * Streams follow in the order KINDS, MASK, then the other roles by number, each
 * exactly need_len[role] bytes (from ops->layout) and copied to its own malloc'd
 * block so ASan sees any read past it. Inputs too short are skipped.
 *
 * Checks: layout agrees with the spec's lengths (spec/FORMAT.md "Encodings") and
 * accepts every parameter set the spec allows; out_size is nelem x element size;
 * decode returns 0 or E_PAYLOAD, the same for every output form, writes every
 * output byte, twice the same; decoded values match a naive reference decoder
 * written from the spec (symbols, f32 values, raw bytes, original dtype).
 */
#ifndef TCODEC_FUZZ_DEC_H
#define TCODEC_FUZZ_DEC_H

#include "common/tc_internal.h"
#include "fuzz_common.h"

#define FZ_DEC_HDR 24u

typedef struct fz_dec {
  tc_tensor t;
  uint64_t shape[4];
  uint64_t need_len[TCODEC_ROLE_COUNT_];
  int need[TCODEC_ROLE_COUNT_];
  tc_bufs in;
  uint8_t *owned[TCODEC_ROLE_COUNT_];
  int counts, fix, extra;
  int params_ok;   /* 1: the spec allows these params, layout must accept them; 0: it
                    * forbids them, layout must refuse; -1: not stated, either is fine */
  uint64_t F, fsize; /* hybrid */
} fz_dec;

static char fz_dec_name[] = "fuzz";

static int fz_is_float(int dtype) {
  return dtype == TCODEC_F64 || dtype == TCODEC_F32 || dtype == TCODEC_F16 ||
         dtype == TCODEC_BF16;
}
static int fz_is_sdtype(int d) { return d == TCODEC_F32 || d == TCODEC_F16 || d == TCODEC_BF16; }

static uint64_t fz_pop(const uint8_t *s, uint64_t nbits) {
  uint64_t c = 0;
  for (uint64_t i = 0; i < nbits; i++) c += (s[i >> 3] >> (i & 7)) & 1;
  return c;
}
static int fz_bit(const uint8_t *s, uint64_t i) { return (s[i >> 3] >> (i & 7)) & 1; }
static uint64_t fz_bytes(uint64_t nbits) { return nbits / 8 + (nbits % 8 != 0); }

/* Zero the params an encoding does not use (what the writer emits). */
static void fz_dec_drop_unused(tc_tensor *t) {
  tc_params *p = &t->p, keep = *p;
  memset(p, 0, sizeof(*p));
  switch (t->enc) {
    case TCODEC_ENC_RAW: p->bg = keep.bg; return;
    case TCODEC_ENC_HYBRID:
      p->sym = keep.sym;
      p->sdtype = keep.sdtype;
      p->fdtype = keep.fdtype;
      p->nter = keep.nter;
      p->nnz = keep.nnz;
      return;
    default: break;
  }
  p->gran = keep.gran;
  if (keep.gran == TCODEC_GRAN_CHANNEL) p->axis = keep.axis;
  if (keep.gran == TCODEC_GRAN_GROUP) p->group = keep.group;
  p->sym = keep.sym;
  p->sdtype = keep.sdtype;
  if (t->enc == TCODEC_ENC_TERNARY) p->nnz = keep.nnz;
  if (t->enc == TCODEC_ENC_KBIT) {
    p->bits = keep.bits;
    p->zp = keep.zp;
    p->sparse = keep.sparse;
    if (keep.sparse) p->nnz = keep.nnz;
  }
}

/* Header -> tensor (before layout). */
static void fz_dec_header(fz_dec *d, int enc, const uint8_t *h) {
  static const int sdt[8] = {TCODEC_F32, TCODEC_F16, TCODEC_BF16, TCODEC_F32,
                             TCODEC_F16, TCODEC_BF16, TCODEC_F64, 0};
  static const int fdt[8] = {TCODEC_F32, TCODEC_F16, TCODEC_F32, TCODEC_F16,
                             TCODEC_F32, TCODEC_F16, TCODEC_BF16, TCODEC_I8};
  static const int qdt[4] = {TCODEC_F32, TCODEC_F16, TCODEC_BF16, TCODEC_F64};
  tc_tensor *t = &d->t;
  t->name = fz_dec_name;
  t->enc = enc;
  if (enc == TCODEC_ENC_RAW) t->dtype = h[0] % 17;
  else t->dtype = h[0] < 0xF0 ? qdt[h[0] % 4] : (h[0] & 15);
  t->ndim = h[1] % 5u;
  t->shape = d->shape;
  t->nelem = 1;
  for (unsigned i = 0; i < t->ndim; i++) {
    d->shape[i] = h[2 + i] % 65u;
    t->nelem *= d->shape[i];
  }
  tc_params *p = &t->p;
  p->gran = h[6] & 3;
  p->sym = (h[6] >> 2) & 1;
  p->zp = (h[6] >> 3) & 1;
  p->sparse = (h[6] >> 4) & 1;
  p->bg = (h[6] >> 5) & 1;
  p->axis = h[7] % 5u;
  p->group = tc_le16(h + 8) & 1023u;
  p->sdtype = sdt[h[10] & 7];
  p->bits = h[11] % 10u;
  p->fdtype = fdt[h[12] & 7];
  p->nnz = tc_le16(h + 13);
  p->nter = tc_le16(h + 15);
  if (!((h[6] >> 6) & 1)) fz_dec_drop_unused(t);
  d->extra = (h[6] >> 6) & 1;
  d->counts = h[17] & 1;
  d->fix = (h[17] >> 1) & 1;
  d->F = t->ndim >= 1 ? d->shape[0] : 0;
  d->fsize = d->F ? t->nelem / d->F : 0;
}

/* Bits used by a bit stream of `role` (0: not a bit stream). Needs nnz/nter. */
static uint64_t fz_stream_bits(const fz_dec *d, int role) {
  const tc_tensor *t = &d->t;
  const tc_params *p = &t->p;
  switch (t->enc) {
    case TCODEC_ENC_TERNARY:
      return role == TCODEC_ROLE_MASK ? t->nelem : role == TCODEC_ROLE_SIGNS ? p->nnz : 0;
    case TCODEC_ENC_BINARY: return role == TCODEC_ROLE_SIGNS ? t->nelem : 0;
    case TCODEC_ENC_KBIT:
      if (role == TCODEC_ROLE_MASK) return t->nelem;
      if (role == TCODEC_ROLE_CODES) return (p->sparse ? p->nnz : t->nelem) * p->bits;
      return 0;
    case TCODEC_ENC_HYBRID:
      if (role == TCODEC_ROLE_KINDS) return d->F;
      if (role == TCODEC_ROLE_MASK) return p->nter * d->fsize;
      if (role == TCODEC_ROLE_SIGNS) return p->nnz;
      return 0;
    default: return 0;
  }
}

static void fz_clear_pad(uint8_t *s, uint64_t len, uint64_t nbits) {
  if (nbits % 8 != 0 && nbits / 8 < len) s[nbits / 8] &= (uint8_t)((1u << (nbits % 8)) - 1);
}

/* "counts" mode: nter from the kinds bytes and nnz from the mask bytes that start
 * the stream area (the order fz_dec_streams takes them in). */
static void fz_dec_counts(fz_dec *d, const uint8_t *s, size_t n) {
  tc_tensor *t = &d->t;
  size_t pos = 0;
  if (t->enc == TCODEC_ENC_HYBRID) {
    uint64_t kb = fz_bytes(d->F);
    if (kb > n) return;
    t->p.nter = fz_pop(s, d->F);
    pos = (size_t)kb;
  }
  if (t->enc == TCODEC_ENC_BINARY || (t->enc == TCODEC_ENC_KBIT && !t->p.sparse)) return;
  uint64_t mbits = t->enc == TCODEC_ENC_HYBRID ? t->p.nter * d->fsize : t->nelem;
  if (fz_bytes(mbits) > n - pos) return;
  t->p.nnz = fz_pop(s + pos, mbits);
}

/* What the spec says about lengths and about which params are valid. */
static void fz_dec_spec_(fz_dec *d, uint64_t len[TCODEC_ROLE_COUNT_], int has[TCODEC_ROLE_COUNT_],
                        uint64_t *units) {
  const tc_tensor *t = &d->t;
  const tc_params *p = &t->p;
  uint64_t n = t->nelem;
  memset(len, 0, sizeof(uint64_t) * TCODEC_ROLE_COUNT_);
  memset(has, 0, sizeof(int) * TCODEC_ROLE_COUNT_);
  *units = 0;
  d->params_ok = 1;
  size_t dsz = tcodec_dtype_size(t->dtype), sds = tcodec_dtype_size(p->sdtype);
  if (t->enc == TCODEC_ENC_RAW) {
    d->params_ok = dsz != 0 && (!p->bg || dsz > 1);
    has[TCODEC_ROLE_DATA] = 1;
    len[TCODEC_ROLE_DATA] = n * dsz;
    return;
  }
  d->params_ok = fz_is_float(t->dtype) && fz_is_sdtype(p->sdtype);
  uint64_t per_unit = (uint64_t)(p->sym ? 1 : 2) * sds;
  if (t->enc == TCODEC_ENC_HYBRID) {
    uint64_t fds = tcodec_dtype_size(p->fdtype);
    d->params_ok &= t->ndim >= 1 && (p->fdtype == TCODEC_F32 || p->fdtype == TCODEC_F16);
    if (p->nter > d->F || p->nnz > p->nter * d->fsize) d->params_ok = 0;
    if (p->nter > d->F) return; /* lengths below would wrap */
    has[TCODEC_ROLE_KINDS] = has[TCODEC_ROLE_FULL] = has[TCODEC_ROLE_MASK] = 1;
    has[TCODEC_ROLE_SIGNS] = has[TCODEC_ROLE_SCALES] = 1;
    len[TCODEC_ROLE_KINDS] = fz_bytes(d->F);
    len[TCODEC_ROLE_FULL] = (d->F - p->nter) * d->fsize * fds;
    len[TCODEC_ROLE_MASK] = fz_bytes(p->nter * d->fsize);
    len[TCODEC_ROLE_SIGNS] = fz_bytes(p->nnz);
    len[TCODEC_ROLE_SCALES] = p->nter * per_unit;
    *units = p->nter;
    return;
  }
  /* Scale units (spec "Scale units"). */
  if (p->gran == TCODEC_GRAN_TENSOR) *units = 1;
  else if (p->gran == TCODEC_GRAN_CHANNEL && p->axis < t->ndim) *units = t->shape[p->axis];
  else if (p->gran == TCODEC_GRAN_GROUP && p->group >= 1) *units = n / p->group + (n % p->group != 0);
  else d->params_ok = 0;
  has[TCODEC_ROLE_SCALES] = 1;
  len[TCODEC_ROLE_SCALES] = *units * per_unit;
  if (t->enc == TCODEC_ENC_TERNARY) {
    if (p->nnz > n) d->params_ok = 0;
    has[TCODEC_ROLE_MASK] = has[TCODEC_ROLE_SIGNS] = 1;
    len[TCODEC_ROLE_MASK] = fz_bytes(n);
    len[TCODEC_ROLE_SIGNS] = fz_bytes(p->nnz);
  } else if (t->enc == TCODEC_ENC_BINARY) {
    has[TCODEC_ROLE_SIGNS] = 1;
    len[TCODEC_ROLE_SIGNS] = fz_bytes(n);
  } else if (t->enc == TCODEC_ENC_KBIT) {
    d->params_ok &= p->sym && p->bits >= 2 && p->bits <= 8;
    if (p->sparse && p->nnz > n) d->params_ok = 0;
    uint64_t m = p->sparse ? p->nnz : n;
    has[TCODEC_ROLE_CODES] = 1;
    len[TCODEC_ROLE_CODES] = fz_bytes(m * p->bits);
    if (p->sparse) {
      has[TCODEC_ROLE_MASK] = 1;
      len[TCODEC_ROLE_MASK] = fz_bytes(n);
    }
    if (p->zp) {
      has[TCODEC_ROLE_ZEROS] = 1;
      len[TCODEC_ROLE_ZEROS] = *units;
    }
  }
}

static void fz_dec_spec(fz_dec *d, uint64_t len[TCODEC_ROLE_COUNT_], int has[TCODEC_ROLE_COUNT_],
                        uint64_t *units) {
  fz_dec_spec_(d, len, has, units);
  /* Params the encoding does not use, kept on purpose: the spec does not say. */
  if (d->params_ok == 1 && d->extra) d->params_ok = -1;
}

/* Streams from the input, each in its own block of exactly its length. */
static int fz_dec_streams(fz_dec *d, const uint8_t *s, size_t n) {
  static const int order[TCODEC_ROLE_COUNT_] = {
      TCODEC_ROLE_KINDS, TCODEC_ROLE_MASK,  TCODEC_ROLE_DATA,  TCODEC_ROLE_SIGNS,
      TCODEC_ROLE_SCALES, TCODEC_ROLE_CODES, TCODEC_ROLE_ZEROS, TCODEC_ROLE_FULL};
  size_t pos = 0;
  for (int k = 0; k < TCODEC_ROLE_COUNT_; k++) {
    int role = order[k];
    if (!d->need[role]) continue;
    uint64_t len = d->need_len[role];
    if (len > n - pos) return -1;
    uint8_t *b = fz_malloc(len);
    if (len) memcpy(b, s + pos, (size_t)len);
    pos += (size_t)len;
    if (d->fix) {
      uint64_t nbits = fz_stream_bits(d, role);
      if (nbits) fz_clear_pad(b, len, nbits);
      if (role == TCODEC_ROLE_ZEROS)
        for (uint64_t i = 0; i < len; i++)
          b[i] &= d->t.p.bits >= 8 ? 0xFFu : (uint8_t)((1u << d->t.p.bits) - 1);
    }
    d->owned[role] = b;
    d->in.b[role] = b;
    d->in.len[role] = len;
    d->t.s[role].present = 1;
    d->t.s[role].role = (uint32_t)role;
    d->t.s[role].len = len;
    d->t.s[role].size = len;
  }
  return 0;
}

/* ---- reference decoder (spec/FORMAT.md, written for clarity, not speed) ---- */

static uint64_t fz_unit(const fz_dec *d, uint64_t i) {
  const tc_tensor *t = &d->t;
  if (t->p.gran == TCODEC_GRAN_GROUP) return i / t->p.group;
  if (t->p.gran != TCODEC_GRAN_CHANNEL) return 0;
  uint64_t inner = 1;
  for (unsigned k = t->p.axis + 1; k < t->ndim; k++) inner *= t->shape[k];
  return (i / inner) % t->shape[t->p.axis];
}

/* +w_p (sign > 0), -w_n (sign < 0, sign bit flipped), +0.0 (0) for unit u. */
static float fz_tern_value(const fz_dec *d, uint64_t u, int sign) {
  const tc_params *p = &d->t.p;
  const uint8_t *sc = d->in.b[TCODEC_ROLE_SCALES];
  if (sign == 0) return 0.0f;
  uint64_t idx = p->sym ? u : 2 * u + (sign < 0);
  float v = tc_load_f32(p->sdtype, sc, idx);
  if (sign < 0) {
    uint32_t b;
    memcpy(&b, &v, 4);
    b ^= 0x80000000u;
    memcpy(&v, &b, 4);
  }
  return v;
}

/* Reference symbols (int8/uint8 per element) and f32 values; 0 if the payload is
 * consistent, -1 if the spec says E_PAYLOAD. */
static int fz_reference(const fz_dec *d, uint8_t *sym, float *val) {
  const tc_tensor *t = &d->t;
  const tc_params *p = &t->p;
  const tc_bufs *in = &d->in;
  uint64_t n = t->nelem;
  const uint8_t *mask = in->b[TCODEC_ROLE_MASK], *signs = in->b[TCODEC_ROLE_SIGNS];
  switch (t->enc) {
    case TCODEC_ENC_RAW: {
      size_t es = tcodec_dtype_size(t->dtype);
      const uint8_t *src = in->b[TCODEC_ROLE_DATA];
      uint8_t elem[8];
      for (uint64_t i = 0; i < n; i++) {
        for (size_t k = 0; k < es; k++) elem[k] = p->bg ? src[k * n + i] : src[i * es + k];
        memcpy(sym + i * es, elem, es); /* sym holds the original bytes for raw */
        val[i] = tc_load_f32(t->dtype, elem, 0);
      }
      return 0;
    }
    case TCODEC_ENC_TERNARY: {
      if (fz_pop(mask, n) != p->nnz) return -1;
      if (!tc_pad_is_zero(mask, n) || !tc_pad_is_zero(signs, p->nnz)) return -1;
      uint64_t j = 0;
      for (uint64_t i = 0; i < n; i++) {
        int s = fz_bit(mask, i) ? (fz_bit(signs, j++) ? -1 : 1) : 0;
        sym[i] = (uint8_t)(int8_t)s;
        val[i] = fz_tern_value(d, fz_unit(d, i), s);
      }
      return 0;
    }
    case TCODEC_ENC_BINARY:
      if (!tc_pad_is_zero(signs, n)) return -1;
      for (uint64_t i = 0; i < n; i++) {
        int s = fz_bit(signs, i) ? -1 : 1;
        sym[i] = (uint8_t)(int8_t)s;
        val[i] = fz_tern_value(d, fz_unit(d, i), s);
      }
      return 0;
    case TCODEC_ENC_KBIT: {
      const uint8_t *codes = in->b[TCODEC_ROLE_CODES], *zeros = in->b[TCODEC_ROLE_ZEROS];
      uint64_t m = p->sparse ? p->nnz : n;
      if (p->sparse && (fz_pop(mask, n) != p->nnz || !tc_pad_is_zero(mask, n))) return -1;
      if (!tc_pad_is_zero(codes, m * p->bits)) return -1;
      if (p->zp)
        for (uint64_t u = 0; u < in->len[TCODEC_ROLE_ZEROS]; u++)
          if (zeros[u] >> p->bits) return -1;
      uint64_t j = 0;
      for (uint64_t i = 0; i < n; i++) {
        uint64_t u = fz_unit(d, i);
        int zp = p->zp ? zeros[u] : 1 << (p->bits - 1);
        if (p->sparse && !fz_bit(mask, i)) {
          sym[i] = (uint8_t)zp;
          val[i] = 0.0f;
          continue;
        }
        unsigned code = 0;
        for (unsigned b = 0; b < p->bits; b++) code |= (unsigned)fz_bit(codes, j * p->bits + b) << b;
        j++;
        sym[i] = (uint8_t)code;
        float s = tc_load_f32(p->sdtype, in->b[TCODEC_ROLE_SCALES], u);
        volatile float q = (float)((int)code - zp); /* exact: |code - zp| < 256 */
        val[i] = s * q;
      }
      return 0;
    }
    case TCODEC_ENC_HYBRID: {
      const uint8_t *kinds = in->b[TCODEC_ROLE_KINDS], *full = in->b[TCODEC_ROLE_FULL];
      if (fz_pop(kinds, d->F) != p->nter || !tc_pad_is_zero(kinds, d->F)) return -1;
      if (fz_pop(mask, p->nter * d->fsize) != p->nnz || !tc_pad_is_zero(mask, p->nter * d->fsize) ||
          !tc_pad_is_zero(signs, p->nnz))
        return -1;
      uint64_t tf = 0, ff = 0, j = 0;
      for (uint64_t f = 0; f < d->F; f++) {
        int ter = fz_bit(kinds, f);
        for (uint64_t e = 0; e < d->fsize; e++) {
          uint64_t i = f * d->fsize + e;
          if (!ter) {
            sym[i] = 0;
            val[i] = tc_load_f32(p->fdtype, full, ff * d->fsize + e);
            continue;
          }
          int s = fz_bit(mask, tf * d->fsize + e) ? (fz_bit(signs, j++) ? -1 : 1) : 0;
          sym[i] = (uint8_t)(int8_t)s;
          val[i] = fz_tern_value(d, tf, s);
        }
        if (ter) tf++;
        else ff++;
      }
      return 0;
    }
    default: return 0;
  }
}

static void fz_dec_free(fz_dec *d) {
  for (int role = 0; role < TCODEC_ROLE_COUNT_; role++) free(d->owned[role]);
}

/* Decode one form twice into exact-size blocks; returns the status, output in *out
 * (caller frees) when it is 0. */
static int fz_dec_form(const fz_dec *d, const tc_encoding_ops *ops, int form, uint8_t **out,
                       uint64_t *out_size) {
  *out = NULL;
  uint64_t need = 0;
  int rc = ops->out_size(&d->t, form, &need);
  if (rc == TCODEC_E_OUTPUT_FORMAT) return rc;
  FZ_CHECK(rc == TCODEC_OK);
  uint64_t per = form == TCODEC_OUT_ORIGINAL ? tcodec_dtype_size(d->t.dtype)
                 : form == TCODEC_OUT_F32    ? 4
                                             : 1;
  FZ_CHECK(need == d->t.nelem * per);
  uint8_t *b1 = fz_malloc(need), *b2 = fz_malloc(need);
  memset(b1, 0xA5, (size_t)need);
  memset(b2, 0x5A, (size_t)need);
  int rc1 = ops->decode(&d->t, &d->in, form, b1);
  int rc2 = ops->decode(&d->t, &d->in, form, b2);
  FZ_CHECK(rc1 == TCODEC_OK || rc1 == TCODEC_E_PAYLOAD);
  FZ_CHECK(rc1 == rc2);
  if (rc1 == TCODEC_OK) FZ_CHECK(need == 0 || memcmp(b1, b2, (size_t)need) == 0);
  free(b2);
  if (rc1 != TCODEC_OK) {
    free(b1);
    return rc1;
  }
  *out = b1;
  *out_size = need;
  return TCODEC_OK;
}

/* Compare f32 `got` with the reference value (NaN matches any NaN). */
static void fz_check_f32(const uint8_t *got, float want) {
  uint8_t w[4];
  memcpy(w, &want, 4);
  FZ_CHECK(fz_same_f32(got, w));
}

/* ORIGINAL of a quantized float tensor = the f32 value rounded once to the dtype. */
static void fz_check_original(const fz_dec *d, const uint8_t *orig, const float *val) {
  int dt = d->t.dtype;
  size_t es = tcodec_dtype_size(dt);
  uint8_t want[8];
  for (uint64_t i = 0; i < d->t.nelem; i++) {
    if (val[i] != val[i]) continue; /* NaN payloads may differ */
    tc_store_f32(dt, want, 0, val[i]);
    FZ_CHECK(memcmp(orig + i * es, want, es) == 0);
  }
}

static int fz_dec_run(int enc, const uint8_t *data, size_t size) {
  if (size < FZ_DEC_HDR) return 0;
  const tc_encoding_ops *ops = tc_encoding_find(enc);
  FZ_CHECK(ops != NULL && ops->enc == enc);
  FZ_CHECK(tc_encoding_find(0) == NULL && tc_encoding_find(6) == NULL);
  fz_dec d;
  memset(&d, 0, sizeof(d));
  fz_dec_header(&d, enc, data);
  const uint8_t *s = data + FZ_DEC_HDR;
  size_t sn = size - FZ_DEC_HDR;
  if (d.counts) fz_dec_counts(&d, s, sn);

  uint64_t spec_len[TCODEC_ROLE_COUNT_], units;
  int spec_has[TCODEC_ROLE_COUNT_];
  fz_dec_spec(&d, spec_len, spec_has, &units);
  int rc = ops->layout(&d.t, d.need_len, d.need);
  if (rc != TCODEC_OK) {
    FZ_CHECK(rc == TCODEC_E_PARAMS || rc == TCODEC_E_UNSUPPORTED_DTYPE ||
             rc == TCODEC_E_OVERFLOW || rc == TCODEC_E_SHAPE);
    FZ_CHECK(d.params_ok != 1); /* the spec allows these params */
    return 0;
  }
  FZ_CHECK(d.params_ok != 0); /* the spec forbids these params */
  for (int role = 0; role < TCODEC_ROLE_COUNT_; role++) {
    FZ_CHECK(d.need[role] == 0 || d.need[role] == 1);
    FZ_CHECK(d.need[role] == spec_has[role]);
    if (d.need[role]) FZ_CHECK(d.need_len[role] == spec_len[role]);
  }
  if (enc != TCODEC_ENC_RAW && enc != TCODEC_ENC_HYBRID) FZ_CHECK(d.t.p.units == units);
  if (fz_dec_streams(&d, s, sn) != 0) {
    fz_dec_free(&d);
    return 0;
  }

  uint64_t n = d.t.nelem;
  uint8_t *ref_sym = fz_malloc(n * 8);
  float *ref_val = fz_malloc(n * sizeof(float));
  int ref_rc = fz_reference(&d, ref_sym, ref_val);

  uint8_t *out[FZ_NFORMS];
  uint64_t out_size[FZ_NFORMS];
  int frc[FZ_NFORMS];
  for (int form = 0; form < FZ_NFORMS; form++)
    frc[form] = fz_dec_form(&d, ops, form, &out[form], &out_size[form]);
  FZ_CHECK(frc[TCODEC_OUT_ORIGINAL] != TCODEC_E_OUTPUT_FORMAT);
  FZ_CHECK(frc[TCODEC_OUT_F32] != TCODEC_E_OUTPUT_FORMAT);
  FZ_CHECK((frc[TCODEC_OUT_SYMBOLS] == TCODEC_E_OUTPUT_FORMAT) == (enc == TCODEC_ENC_RAW));
  for (int form = 0; form < FZ_NFORMS; form++) {
    if (frc[form] == TCODEC_E_OUTPUT_FORMAT) continue;
    FZ_CHECK(frc[form] == (ref_rc == 0 ? TCODEC_OK : TCODEC_E_PAYLOAD));
  }
  if (ref_rc == 0) {
    if (enc == TCODEC_ENC_RAW) {
      FZ_CHECK(n == 0 || memcmp(out[TCODEC_OUT_ORIGINAL], ref_sym,
                                (size_t)(n * tcodec_dtype_size(d.t.dtype))) == 0);
      for (uint64_t i = 0; i < n; i++) fz_check_f32(out[TCODEC_OUT_F32] + 4 * i, ref_val[i]);
    } else {
      FZ_CHECK(n == 0 || memcmp(out[TCODEC_OUT_SYMBOLS], ref_sym, (size_t)n) == 0);
      for (uint64_t i = 0; i < n; i++) fz_check_f32(out[TCODEC_OUT_F32] + 4 * i, ref_val[i]);
      fz_check_original(&d, out[TCODEC_OUT_ORIGINAL], ref_val);
    }
  }
  for (int form = 0; form < FZ_NFORMS; form++) free(out[form]);
  free(ref_sym);
  free(ref_val);
  fz_dec_free(&d);
  return 0;
}

#endif /* TCODEC_FUZZ_DEC_H */
