/* Encoding 4, k-bit: CODES (`bits` bits per coded element), MASK (sparse only:
 * which elements are coded), ZEROS (zp only: one zero point byte per unit) and
 * SCALES. Value = f32(scale) * f32(code - zp) in binary32, one rounding; elements
 * outside the mask are +0. */
#include "tc_dec.h"

static int tc_kbit_layout(tc_tensor *t, uint64_t need_len[TCODEC_ROLE_COUNT_],
                          int need[TCODEC_ROLE_COUNT_]) {
  int rc = tc_dec_scaled_layout(t, 1, need_len, need);
  if (rc != 0) return rc;
  if (!t->p.sym || t->p.bits < 2 || t->p.bits > 8) return TCODEC_E_PARAMS;
  uint64_t coded = t->nelem, nbits;
  if (t->p.sparse) {
    if (t->p.nnz > t->nelem) return TCODEC_E_PARAMS;
    coded = t->p.nnz;
    tc_dec_need(need_len, need, TCODEC_ROLE_MASK, tc_bits_bytes(t->nelem));
  }
  if ((rc = tc_mul_u64(coded, t->p.bits, &nbits)) != 0) return rc;
  tc_dec_need(need_len, need, TCODEC_ROLE_CODES, tc_bits_bytes(nbits));
  if (t->p.zp) tc_dec_need(need_len, need, TCODEC_ROLE_ZEROS, t->p.units);
  return TCODEC_OK;
}

static int tc_kbit_out_size(const tc_tensor *t, int output, uint64_t *size) {
  return tc_dec_out_size(t, output, 1, size);
}

/* Stream contents the layout could not check. */
static int tc_kbit_check(const tc_tensor *t, const tc_bufs *in) {
  uint64_t coded = t->p.sparse ? t->p.nnz : t->nelem;
  const uint8_t *mask = in->b[TCODEC_ROLE_MASK], *zeros = in->b[TCODEC_ROLE_ZEROS];
  if (t->p.sparse &&
      (!tc_pad_is_zero(mask, t->nelem) || tc_popcount(mask, t->nelem) != t->p.nnz))
    return TCODEC_E_PAYLOAD;
  if (!tc_pad_is_zero(in->b[TCODEC_ROLE_CODES], coded * t->p.bits)) return TCODEC_E_PAYLOAD;
  for (uint64_t u = 0; t->p.zp && u < t->p.units; u++)
    if (zeros[u] >> t->p.bits != 0) return TCODEC_E_PAYLOAD;
  return TCODEC_OK;
}

/* Codes in order through a 64-bit window refilled when it runs short. */
typedef struct tc_coderd {
  const uint8_t *p;
  uint64_t len, pos; /* pos: stream bit of buf's bit 0 */
  uint64_t buf;
  unsigned avail, bits;
} tc_coderd;

static inline unsigned tc_coderd_next(tc_coderd *r) {
  if (r->avail < r->bits) {
    r->buf = tc_dec_bits_at(r->p, r->len, r->pos);
    r->avail = 64u - (unsigned)(r->pos & 7);
  }
  unsigned c = (unsigned)r->buf & ((1u << r->bits) - 1);
  r->buf >>= r->bits;
  r->avail -= r->bits;
  r->pos += r->bits;
  return c;
}

/* What a decode walk needs, gathered once. */
typedef struct tc_kbit {
  const uint8_t *mask;   /* NULL when dense */
  const uint8_t *zeros;  /* NULL: zero point 2^(bits-1) */
  const uint8_t *scales;
  int sdtype;
  unsigned bits;
  tc_coderd codes;
} tc_kbit;

static void tc_kbit_init(tc_kbit *k, const tc_tensor *t, const tc_bufs *in) {
  k->mask = t->p.sparse ? in->b[TCODEC_ROLE_MASK] : NULL;
  k->zeros = t->p.zp ? in->b[TCODEC_ROLE_ZEROS] : NULL;
  k->scales = in->b[TCODEC_ROLE_SCALES];
  k->sdtype = t->p.sdtype;
  k->bits = t->p.bits;
  tc_coderd cr = {in->b[TCODEC_ROLE_CODES], in->len[TCODEC_ROLE_CODES], 0, 0, 0, t->p.bits};
  k->codes = cr;
}

static int tc_kbit_zp(const tc_kbit *k, uint64_t unit) {
  return k->zeros != NULL ? k->zeros[unit] : 1 << (k->bits - 1);
}

/* Dense symbols do not depend on units: a plain unpack. */
static void tc_kbit_syms_dense(tc_kbit *k, uint64_t n, uint8_t *dst) {
  if (k->bits == 8) {
    memcpy(dst, k->codes.p, (size_t)n);
    return;
  }
  for (uint64_t i = 0; i < n; i++) dst[i] = (uint8_t)tc_coderd_next(&k->codes);
}

static void tc_kbit_syms_sparse(tc_kbit *k, tc_uiter *it, uint64_t n, uint8_t *dst) {
  for (uint64_t i = 0; i < n;) {
    uint64_t span = tc_uiter_span(it, n - i);
    uint8_t zp = (uint8_t)tc_kbit_zp(k, it->unit);
    for (uint64_t end = i + span; i < end; i++)
      dst[i] = tc_bit(k->mask, i) ? (uint8_t)tc_coderd_next(&k->codes) : zp;
    tc_uiter_skip(it, span);
  }
}

/* f32 output (or an f32 original) is stored directly; other dtypes round once more. */
static inline void tc_kbit_store(int dtype, uint8_t *dst, uint64_t i, float v) {
  if (dtype == TCODEC_F32) tc_dec_st_f32(dst + 4 * i, v);
  else tc_store_f32(dtype, dst, i, v);
}

static void tc_kbit_values(tc_kbit *k, tc_uiter *it, uint64_t n, int dtype, uint8_t *dst) {
  for (uint64_t i = 0; i < n;) {
    uint64_t span = tc_uiter_span(it, n - i), end = i + span;
    float scale = tc_load_f32(k->sdtype, k->scales, it->unit);
    int zp = tc_kbit_zp(k, it->unit);
    for (; i < end; i++) {
      float v = 0.0f;
      if (k->mask == NULL || tc_bit(k->mask, i))
        v = scale * (float)((int)tc_coderd_next(&k->codes) - zp);
      tc_kbit_store(dtype, dst, i, v);
    }
    tc_uiter_skip(it, span);
  }
}

static int tc_kbit_decode(const tc_tensor *t, const tc_bufs *in, int output, uint8_t *dst) {
  int rc = tc_kbit_check(t, in);
  if (rc != 0 || t->nelem == 0) return rc;
  tc_kbit k;
  tc_uiter it;
  tc_kbit_init(&k, t, in);
  tc_uiter_init(&it, t);
  if (output == TCODEC_OUT_SYMBOLS && k.mask == NULL) tc_kbit_syms_dense(&k, t->nelem, dst);
  else if (output == TCODEC_OUT_SYMBOLS) tc_kbit_syms_sparse(&k, &it, t->nelem, dst);
  else tc_kbit_values(&k, &it, t->nelem, output == TCODEC_OUT_F32 ? TCODEC_F32 : t->dtype, dst);
  return TCODEC_OK;
}

const tc_encoding_ops tc_dec_kbit_ops = {
    TCODEC_ENC_KBIT, "kbit", tc_kbit_layout, tc_kbit_out_size, tc_kbit_decode,
};
