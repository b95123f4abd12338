/* Lossless detection: a float tensor whose elements take at most the bit patterns
 * {+0.0, a, b} is stored as ternary, {a, b} as binary, with the patterns themselves
 * as scales (sdtype = dtype), so the reader reproduces every bit. Runs on every
 * float tensor the writer adds: one pass that stops at the first pattern that rules
 * detection out. Only bit patterns are compared, so -0.0 is a nonzero pattern of its
 * own and NaNs are ordinary values. f64 is never detected: scales are at most f32. */
#include <string.h>

#include "tc_bitw.h"
#include "tc_enc.h"

typedef struct det {
  unsigned size; /* bytes per element: 2 or 4 */
  uint32_t sign; /* sign bit of a pattern */
  int ternary;   /* +0.0 occurs */
  uint32_t pos;  /* pattern of the +1 symbol (= w_p); the other nonzero one is -1 */
  uint32_t wp, wn;
  int sym;
} det;

static inline uint32_t pat_at(const uint8_t *src, uint64_t i, unsigned size) {
  return size == 4 ? tc_le32(src + 4 * i) : tc_le16(src + 2 * i);
}

/* Distinct patterns of src into pat[0..*k); 0 as soon as a 4th one appears, or a
 * 3rd one while none of them is +0.0. Unused slots repeat pat[0], so the hot
 * comparison needs no count; it runs branch-free over blocks of 64 elements (the
 * compiler vectorizes it) and only a block holding a new pattern is walked again.
 * Inlined with a constant `size`. */
static inline int scan(const uint8_t *src, uint64_t n, unsigned size, uint32_t pat[3],
                       unsigned *k) {
  uint32_t a = pat_at(src, 0, size), b = a, c = a;
  unsigned cnt = 1;
  for (uint64_t i0 = 0; i0 < n; i0 += 64) {
    uint64_t end = n - i0 < 64 ? n : i0 + 64;
    unsigned miss = 0;
    for (uint64_t i = i0; i < end; i++) {
      uint32_t v = pat_at(src, i, size);
      miss |= (v != a) & (v != b) & (v != c);
    }
    for (uint64_t i = i0; miss && i < end; i++) {
      uint32_t v = pat_at(src, i, size);
      if (v == a || v == b || v == c) continue;
      if (cnt == 3 || (cnt == 2 && a != 0 && b != 0 && v != 0)) return 0;
      if (cnt == 1)
        b = v;
      else
        c = v;
      cnt++;
    }
  }
  pat[0] = a;
  pat[1] = b;
  pat[2] = c;
  *k = cnt;
  return 1;
}

/* Of two distinct nonzero patterns, the one that gets +1: the only one with the
 * sign bit clear, else the numerically larger. Same-sign patterns order by their
 * magnitude bits (reversed when negative), which also ranks NaNs deterministically. */
static uint32_t pick_positive(uint32_t x, uint32_t y, uint32_t sign) {
  int xneg = (x & sign) != 0, yneg = (y & sign) != 0;
  if (xneg != yneg) return xneg ? y : x;
  if (xneg) return x < y ? x : y;
  return x > y ? x : y;
}

static void classify(det *d, const uint32_t *pat, unsigned k) {
  uint32_t nz[3];
  unsigned m = 0;
  d->ternary = 0;
  for (unsigned i = 0; i < k; i++) {
    if (pat[i] == 0)
      d->ternary = 1;
    else
      nz[m++] = pat[i];
  }
  /* One nonzero pattern x (or none: all +0.0): the symmetric form with the single
   * scale |x| (sign bit cleared), x itself getting +1 or -1 by its sign bit, so the
   * symbols read naturally; -|x| flipped back is x, bit for bit. */
  d->pos = m > 0 ? nz[0] & ~d->sign : 0;
  d->wp = d->pos;
  d->wn = d->pos;
  if (m == 2) {
    d->pos = pick_positive(nz[0], nz[1], d->sign);
    d->wp = d->pos;
    d->wn = (d->pos == nz[0] ? nz[1] : nz[0]) ^ d->sign; /* reader flips it back */
  }
  d->sym = d->wp == d->wn;
}

static int add_stream(tc_mem *m, tc_encoded *out, int role, uint64_t cap, uint64_t len) {
  if (cap > SIZE_MAX) return TCODEC_E_OVERFLOW;
  out->buf[role] = tc_malloc(m, (size_t)cap);
  if (out->buf[role] == NULL) return TCODEC_E_NOMEM;
  out->len[role] = len;
  out->present[role] = 1;
  return 0;
}

/* MASK (ternary only) and SIGNS. SIGNS is allocated for n bits because nnz is
 * only known after the pass; its len is set to the nnz bits actually written. */
static inline int pack(tc_mem *m, const uint8_t *src, uint64_t n, unsigned size, const det *d,
                       tc_encoded *out) {
  tc_bitw mw, sw;
  uint64_t nnz = 0, nbytes = tc_bits_bytes(n);
  int rc = add_stream(m, out, TCODEC_ROLE_SIGNS, nbytes, nbytes);
  if (rc == 0 && d->ternary) rc = add_stream(m, out, TCODEC_ROLE_MASK, nbytes, nbytes);
  if (rc != 0) return rc;
  tc_bitw_init(&sw, out->buf[TCODEC_ROLE_SIGNS]);
  tc_bitw_init(&mw, out->buf[TCODEC_ROLE_MASK]);
  if (d->ternary) {
    /* Branch-free: a zero element adds a 0 mask bit and a sign of 0 bits. */
    for (uint64_t i = 0; i < n; i++) {
      uint32_t v = pat_at(src, i, size);
      unsigned nz = v != 0;
      tc_bitw_put(&mw, nz, 1);
      tc_bitw_put(&sw, v != d->pos, nz);
      nnz += nz;
    }
    tc_bitw_flush(&mw);
    out->len[TCODEC_ROLE_SIGNS] = tc_bits_bytes(nnz);
    out->p.nnz = nnz;
  } else {
    for (uint64_t i = 0; i < n; i++) tc_bitw_put(&sw, pat_at(src, i, size) != d->pos, 1);
  }
  tc_bitw_flush(&sw);
  return 0;
}

static void put_pattern(uint8_t *dst, uint32_t v, unsigned size) {
  if (size == 4)
    tc_put32(dst, v);
  else
    tc_put16(dst, (uint16_t)v);
}

static int scales(tc_mem *m, const det *d, tc_encoded *out) {
  uint64_t bytes = (uint64_t)d->size * (d->sym ? 1 : 2);
  int rc = add_stream(m, out, TCODEC_ROLE_SCALES, bytes, bytes);
  if (rc != 0) return rc;
  put_pattern(out->buf[TCODEC_ROLE_SCALES], d->wp, d->size);
  if (!d->sym) put_pattern(out->buf[TCODEC_ROLE_SCALES] + d->size, d->wn, d->size);
  return 0;
}

static int build(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                 const uint8_t *src, const det *d, tc_encoded *out) {
  out->enc = d->ternary ? TCODEC_ENC_TERNARY : TCODEC_ENC_BINARY;
  out->p.gran = TCODEC_GRAN_TENSOR;
  out->p.sym = d->sym;
  out->p.sdtype = dtype;
  int rc = tc_enc_units(ndim, shape, nelem, &out->p, NULL, 0);
  if (rc == 0) {
    rc = d->size == 4 ? pack(m, src, nelem, 4, d, out) : pack(m, src, nelem, 2, d, out);
  }
  if (rc == 0) rc = scales(m, d, out);
  return rc;
}

int tc_detect_exact(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                    const uint8_t *src, tc_encoded *out) {
  if (out == NULL) return TCODEC_E_ARG;
  memset(out, 0, sizeof *out);
  if (nelem == 0 || (dtype != TCODEC_F32 && dtype != TCODEC_F16 && dtype != TCODEC_BF16)) return 0;
  if (src == NULL || (ndim > 0 && shape == NULL)) return TCODEC_E_ARG;
  det d;
  uint32_t pat[3];
  unsigned k;
  d.size = (unsigned)tcodec_dtype_size(dtype);
  d.sign = (uint32_t)1 << (8 * d.size - 1);
  int found = d.size == 4 ? scan(src, nelem, 4, pat, &k) : scan(src, nelem, 2, pat, &k);
  if (!found) return 0;
  classify(&d, pat, k);
  int rc = build(m, dtype, ndim, shape, nelem, src, &d, out);
  if (rc != 0) {
    tc_encoded_free(m, out);
    return rc;
  }
  return 1;
}
