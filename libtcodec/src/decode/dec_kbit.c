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

/* ---- unpacking codes ----------------------------------------------------- */

/* Codes are read in order, a chunk at a time, into bytes. 8 codes of b bits fill
 * exactly b bytes, so from a code index that is a multiple of 8 on, groups of 8
 * are unpacked with constant shifts (one specialization per width). */
typedef struct tc_coderd {
  const uint8_t *p;
  uint64_t len;
  uint64_t next; /* index of the next code */
  unsigned bits;
} tc_coderd;

static inline unsigned tc_code_at(const tc_coderd *r, uint64_t j) {
  return (unsigned)tc_dec_bits_at(r->p, r->len, j * r->bits) & ((1u << r->bits) - 1);
}

static inline void tc_unpack8(const uint8_t *src, uint64_t avail, unsigned bits, uint8_t *dst) {
  uint64_t w = 0;
  if (avail >= 8) w = tc_dec_ld64(src);
  else
    for (unsigned k = 0; k < bits; k++) w |= (uint64_t)src[k] << (8 * k);
  uint64_t m = (1u << bits) - 1; /* written out: unrolled at any optimization level */
  dst[0] = (uint8_t)(w & m);
  dst[1] = (uint8_t)((w >> bits) & m);
  dst[2] = (uint8_t)((w >> 2 * bits) & m);
  dst[3] = (uint8_t)((w >> 3 * bits) & m);
  dst[4] = (uint8_t)((w >> 4 * bits) & m);
  dst[5] = (uint8_t)((w >> 5 * bits) & m);
  dst[6] = (uint8_t)((w >> 6 * bits) & m);
  dst[7] = (uint8_t)((w >> 7 * bits) & m);
}

/* Groups of 8 codes from group g0 on; g0 * bits bytes is where the group starts. */
static void tc_unpack_groups(const tc_coderd *r, uint64_t g0, uint64_t ngroups, uint8_t *dst) {
  const unsigned b = r->bits;
  for (uint64_t g = 0; g < ngroups; g++) {
    uint64_t at = (g0 + g) * b;
    const uint8_t *src = r->p + at;
    switch (b) { /* constant widths let the shifts fold */
      case 2: tc_unpack8(src, r->len - at, 2, dst + 8 * g); break;
      case 4: tc_unpack8(src, r->len - at, 4, dst + 8 * g); break;
      case 8: tc_unpack8(src, r->len - at, 8, dst + 8 * g); break;
      default: tc_unpack8(src, r->len - at, b, dst + 8 * g); break;
    }
  }
}

/* The next m codes into dst, one byte each. */
static void tc_codes_next(tc_coderd *r, uint64_t m, uint8_t *dst) {
  uint64_t j = 0;
  for (; j < m && (r->next + j) % 8 != 0; j++) dst[j] = (uint8_t)tc_code_at(r, r->next + j);
  uint64_t ngroups = (m - j) / 8;
  tc_unpack_groups(r, (r->next + j) / 8, ngroups, dst + j);
  for (j += 8 * ngroups; j < m; j++) dst[j] = (uint8_t)tc_code_at(r, r->next + j);
  r->next += m;
}

/* ---- decoding ------------------------------------------------------------ */

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
  tc_coderd cr = {in->b[TCODEC_ROLE_CODES], in->len[TCODEC_ROLE_CODES], 0, t->p.bits};
  k->codes = cr;
}

static int tc_kbit_zp(const tc_kbit *k, uint64_t unit) {
  return k->zeros != NULL ? k->zeros[unit] : 1 << (k->bits - 1);
}

/* Codes of the chunk of elements [e, e+cnt) (e a multiple of 8: the mask slice
 * starts on a byte). */
static void tc_kbit_chunk_codes(tc_kbit *k, uint64_t e, uint64_t cnt, uint8_t *codes) {
  uint64_t m = k->mask != NULL ? tc_popcount(k->mask + e / 8, cnt) : cnt;
  tc_codes_next(&k->codes, m, codes);
}

/* Symbols of elements [i, end) of the chunk at e; *j walks the chunk's codes. */
static void tc_kbit_syms_span(const tc_kbit *k, uint8_t zp, const uint8_t *codes, uint64_t *j,
                              uint64_t e, uint64_t i, uint64_t end, uint8_t *dst) {
  const uint8_t *mask = k->mask;
  uint64_t c = *j;
  for (; i < end; i++) dst[e + i] = tc_bit(mask, e + i) ? codes[c++] : zp;
  *j = c;
}

/* Dense symbols are the codes; sparse ones put the unit's zero point where the
 * mask is 0. */
static void tc_kbit_syms(tc_kbit *k, tc_uiter *it, uint64_t n, uint8_t *dst) {
  uint8_t codes[TC_DEC_CHUNK];
  if (k->mask == NULL) {
    tc_codes_next(&k->codes, n, dst);
    return;
  }
  for (uint64_t e = 0; e < n; e += TC_DEC_CHUNK) {
    uint64_t cnt = n - e < TC_DEC_CHUNK ? n - e : TC_DEC_CHUNK, j = 0;
    tc_kbit_chunk_codes(k, e, cnt, codes);
    for (uint64_t i = 0; i < cnt;) {
      uint64_t span = tc_uiter_span(it, cnt - i);
      tc_kbit_syms_span(k, (uint8_t)tc_kbit_zp(k, it->unit), codes, &j, e, i, i + span, dst);
      tc_uiter_skip(it, span);
      i += span;
    }
  }
}

/* f32 output (or an f32 original) is stored directly; other dtypes round once more. */
static inline void tc_kbit_store(int dtype, uint8_t *dst, uint64_t i, float v) {
  if (dtype == TCODEC_F32) tc_dec_st_f32(dst + 4 * i, v);
  else tc_store_f32(dtype, dst, i, v);
}

/* The values of one unit: every code's value as output element bytes when the
 * unit's span is long enough to pay for building it, else computed per element. */
typedef struct tc_kvals {
  int dtype;
  size_t esize;
  float scale;
  int zp;
  int table;      /* v[] holds all 2^bits values */
  uint8_t v[256][8];
} tc_kvals;

static void tc_kvals_set(const tc_kbit *k, uint64_t unit, int table, tc_kvals *kv) {
  kv->scale = tc_load_f32(k->sdtype, k->scales, unit);
  kv->zp = tc_kbit_zp(k, unit);
  kv->table = table;
  for (int c = 0; table && c < 1 << k->bits; c++)
    tc_kbit_store(kv->dtype, kv->v[c], 0, kv->scale * (float)(c - kv->zp));
}

/* Elements [i, end) from the table, one loop per element width (see tc_expand)
 * and separate dense / sparse loops. */
#define TC_KBIT_COPY(NAME, TYPE)                                                           \
  static void NAME(const tc_kbit *k, const tc_kvals *kv, const uint8_t *codes, uint64_t *j, \
                   uint64_t i, uint64_t end, uint8_t *dst) {                              \
    const uint8_t *mask = k->mask; /* a local: stores to dst may alias *k */              \
    uint64_t c = *j;                                                                      \
    if (mask == NULL) {                                                                   \
      for (; i < end; i++) memcpy(dst + i * sizeof(TYPE), kv->v[codes[c++]], sizeof(TYPE)); \
    } else {                                                                              \
      for (; i < end; i++) {                                                              \
        TYPE v = 0;                                                                       \
        if (tc_bit(mask, i)) memcpy(&v, kv->v[codes[c++]], sizeof(TYPE));                 \
        memcpy(dst + i * sizeof(TYPE), &v, sizeof(TYPE));                                 \
      }                                                                                   \
    }                                                                                     \
    *j = c;                                                                               \
  }
TC_KBIT_COPY(tc_kbit_copy2, uint16_t)
TC_KBIT_COPY(tc_kbit_copy4, uint32_t)
TC_KBIT_COPY(tc_kbit_copy8, uint64_t)
#undef TC_KBIT_COPY

/* Computed per element: value = f32(scale) * f32(code - zp), one rounding. */
static void tc_kbit_direct(const tc_kbit *k, const tc_kvals *kv, const uint8_t *codes,
                           uint64_t *j, uint64_t i, uint64_t end, uint8_t *dst) {
  const uint8_t *mask = k->mask;
  float scale = kv->scale;
  int zp = kv->zp, dtype = kv->dtype;
  uint64_t c = *j;
  for (; i < end; i++) {
    float v = 0.0f;
    if (mask == NULL || tc_bit(mask, i)) v = scale * (float)((int)codes[c++] - zp);
    tc_kbit_store(dtype, dst, i, v);
  }
  *j = c;
}

static void tc_kbit_span(const tc_kbit *k, const tc_kvals *kv, const uint8_t *codes, uint64_t *j,
                         uint64_t i, uint64_t end, uint8_t *dst) {
  if (!kv->table) tc_kbit_direct(k, kv, codes, j, i, end, dst);
  else if (kv->esize == 4) tc_kbit_copy4(k, kv, codes, j, i, end, dst);
  else if (kv->esize == 2) tc_kbit_copy2(k, kv, codes, j, i, end, dst);
  else tc_kbit_copy8(k, kv, codes, j, i, end, dst);
}

/* A table is built when the current run of the unit (not just the part inside
 * this chunk) has at least 2^bits elements, and kept across chunks. */
static void tc_kbit_values(tc_kbit *k, tc_uiter *it, uint64_t n, int dtype, uint8_t *dst) {
  uint8_t codes[TC_DEC_CHUNK];
  tc_kvals kv;
  uint64_t kv_unit = 0;
  int have = 0;
  kv.dtype = dtype;
  kv.esize = tcodec_dtype_size(dtype);
  for (uint64_t e = 0; e < n; e += TC_DEC_CHUNK) {
    uint64_t cnt = n - e < TC_DEC_CHUNK ? n - e : TC_DEC_CHUNK, j = 0;
    tc_kbit_chunk_codes(k, e, cnt, codes);
    for (uint64_t i = e; i < e + cnt;) {
      uint64_t span = tc_uiter_span(it, e + cnt - i);
      if (!have || it->unit != kv_unit) {
        tc_kvals_set(k, it->unit, it->left >= (1u << k->bits), &kv);
        kv_unit = it->unit;
        have = 1;
      }
      tc_kbit_span(k, &kv, codes, &j, i, i + span, dst);
      tc_uiter_skip(it, span);
      i += span;
    }
  }
}

static int tc_kbit_decode(const tc_tensor *t, const tc_bufs *in, int output, uint8_t *dst) {
  int rc = tc_kbit_check(t, in);
  if (rc != 0 || t->nelem == 0) return rc;
  tc_kbit k;
  tc_uiter it;
  tc_kbit_init(&k, t, in);
  tc_uiter_init(&it, t);
  if (output == TCODEC_OUT_SYMBOLS) tc_kbit_syms(&k, &it, t->nelem, dst);
  else tc_kbit_values(&k, &it, t->nelem, output == TCODEC_OUT_F32 ? TCODEC_F32 : t->dtype, dst);
  return TCODEC_OK;
}

const tc_encoding_ops tc_dec_kbit_ops = {
    TCODEC_ENC_KBIT, "kbit", tc_kbit_layout, tc_kbit_out_size, tc_kbit_decode,
};
