/* Encoding 2, ternary: MASK (1 bit per element: nonzero), SIGNS (1 bit per
 * nonzero: negative), SCALES. Also the symbol machinery binary and hybrid reuse:
 * mask/sign bits -> int8 symbols -> values.
 *
 * Speed: symbols are produced 8 at a time, one mask byte giving 8 output bytes
 * in one 64-bit store: the signs of its nonzeros are deposited at the set bits
 * (two 16x16 nibble tables instead of a per-bit loop), then each bit is spread
 * to a byte. All-zero mask words become 64 zero bytes at once. Values are then
 * looked up from a 4-entry table per unit, so no per-element branch or division. */
#include "tc_dec.h"

/* tc_dep4[m][s]: the low popcount(m) bits of s placed, in order, at the set bits
 * of the nibble m (a 4-bit "parallel deposit"). */
static const uint8_t tc_dep4[16][16] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1},
    {0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2},
    {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3},
    {0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4},
    {0, 1, 4, 5, 0, 1, 4, 5, 0, 1, 4, 5, 0, 1, 4, 5},
    {0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6},
    {0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7},
    {0, 8, 0, 8, 0, 8, 0, 8, 0, 8, 0, 8, 0, 8, 0, 8},
    {0, 1, 8, 9, 0, 1, 8, 9, 0, 1, 8, 9, 0, 1, 8, 9},
    {0, 2, 8, 10, 0, 2, 8, 10, 0, 2, 8, 10, 0, 2, 8, 10},
    {0, 1, 2, 3, 8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11},
    {0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12},
    {0, 1, 4, 5, 8, 9, 12, 13, 0, 1, 4, 5, 8, 9, 12, 13},
    {0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
};

static const uint8_t tc_pop4[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};

/* Bit j of m -> byte j (0 or 1) of the result. */
static inline uint64_t tc_spread8(unsigned m) {
  uint64_t x = m;
  x = (x | x << 28) & 0x0000000F0000000Full;
  x = (x | x << 14) & 0x0003000300030003ull;
  x = (x | x << 7) & 0x0101010101010101ull;
  return x;
}

/* 8 symbols (bytes 0x00 / 0x01 / 0xFF, little-endian order) for mask byte m whose
 * nonzeros take, in order, the low bits of s as signs. A sign byte 0/1 times
 * 0xFE stays within its byte, so 0x01 | 0xFE = 0xFF marks negatives. */
static inline uint64_t tc_tern8(unsigned m, unsigned s) {
  unsigned lo = m & 15u;
  unsigned neg = tc_dep4[lo][s & 15u] | (unsigned)tc_dep4[m >> 4][(s >> tc_pop4[lo]) & 15u] << 4;
  return tc_spread8(m) | tc_spread8(neg) * 0xFEu;
}

/* Reads sign bits through a 64-bit window refilled only when fewer than 8 remain. */
typedef struct tc_signrd {
  const uint8_t *p;
  uint64_t len, pos; /* pos: stream bit of buf's bit 0 */
  uint64_t buf;
  unsigned avail;
} tc_signrd;

/* The next (up to) 8 sign bits in the low bits, without consuming them. */
static inline unsigned tc_signrd_peek8(tc_signrd *r) {
  if (r->avail < 8) {
    r->buf = tc_dec_bits_at(r->p, r->len, r->pos);
    r->avail = 64u - (unsigned)(r->pos & 7);
  }
  return (unsigned)r->buf & 0xFFu;
}

static inline void tc_signrd_skip(tc_signrd *r, unsigned c) {
  r->buf >>= c;
  r->avail -= c;
  r->pos += c;
}

static inline uint64_t tc_tern_step(unsigned m, tc_signrd *sr) {
  if (m == 0) return 0;
  uint64_t v = tc_tern8(m, tc_signrd_peek8(sr));
  tc_signrd_skip(sr, tc_pop4[m & 15u] + tc_pop4[m >> 4]);
  return v;
}

/* Eight mask bytes from bit mpos (aligned: one load; hybrid filters may start
 * anywhere). Only called for bits inside the mask. */
static inline uint64_t tc_mask_word(const tc_symsrc *s, uint64_t mpos) {
  if ((mpos & 7) == 0) return tc_dec_ld64(s->mask + (mpos >> 3));
  uint64_t lo = tc_dec_bits_at(s->mask, s->mlen, mpos) & 0x00FFFFFFFFFFFFFFull;
  return lo | tc_dec_bits_at(s->mask, s->mlen, mpos + 56) << 56;
}

static void tc_tern_syms(tc_symsrc *s, uint64_t cnt, uint8_t *dst) {
  tc_signrd sr = {s->signs, s->slen, s->spos, 0, 0};
  uint64_t nbytes = cnt / 8, j = 0, mp = s->mpos;
  for (; j + 8 <= nbytes; j += 8, mp += 64) {
    uint64_t w = tc_mask_word(s, mp);
    if (w == 0) {
      memset(dst + 8 * j, 0, 64);
      continue;
    }
    for (unsigned k = 0; k < 8; k++)
      tc_dec_st64(dst + 8 * (j + k), tc_tern_step((unsigned)(w >> (8 * k)) & 0xFFu, &sr));
  }
  for (; j < nbytes; j++, mp += 8)
    tc_dec_st64(dst + 8 * j, tc_tern_step((unsigned)tc_dec_bits_at(s->mask, s->mlen, mp) & 0xFFu, &sr));
  unsigned rest = (unsigned)(cnt % 8);
  if (rest != 0) { /* mask bits past cnt belong to the next filter or are padding */
    unsigned m = (unsigned)tc_dec_bits_at(s->mask, s->mlen, mp) & ((1u << rest) - 1);
    uint8_t tmp[8];
    tc_dec_st64(tmp, tc_tern_step(m, &sr));
    memcpy(dst + 8 * j, tmp, rest);
  }
  s->mpos += cnt;
  s->spos = sr.pos;
}

/* Binary: every element is nonzero, its sign bit picks 0x01 or 0xFF. */
static void tc_bin_syms(tc_symsrc *s, uint64_t cnt, uint8_t *dst) {
  uint64_t nbytes = cnt / 8, j = 0, sp = s->spos;
  for (; j < nbytes; j++, sp += 8) {
    unsigned b = (sp & 7) == 0 ? s->signs[sp >> 3] : (unsigned)tc_dec_bits_at(s->signs, s->slen, sp);
    tc_dec_st64(dst + 8 * j, 0x0101010101010101ull | tc_spread8(b & 0xFFu) * 0xFEu);
  }
  unsigned rest = (unsigned)(cnt % 8);
  if (rest != 0) {
    uint8_t tmp[8];
    unsigned b = (unsigned)tc_dec_bits_at(s->signs, s->slen, sp) & 0xFFu;
    tc_dec_st64(tmp, 0x0101010101010101ull | tc_spread8(b) * 0xFEu);
    memcpy(dst + 8 * j, tmp, rest);
  }
  s->spos += cnt;
}

void tc_dec_syms(tc_symsrc *s, uint64_t cnt, uint8_t *dst) {
  if (s->mask != NULL) tc_tern_syms(s, cnt, dst);
  else tc_bin_syms(s, cnt, dst);
}

/* ---- symbols -> values -------------------------------------------------- */

/* lut[sym & 3]: 0x00 -> 0 (+0), 0x01 -> 1 (w_p), 0xFF -> 3 (-w_n); entry 2 unused. */
typedef struct tc_vlut {
  uint8_t v[4][8];
} tc_vlut;

static void tc_vlut_build(const tc_scaleset *sc, uint64_t unit, tc_vlut *lut) {
  size_t ss = tcodec_dtype_size(sc->sdtype);
  const uint8_t *wp = sc->b + (sc->sym ? unit : 2 * unit) * ss;
  const uint8_t *wn = sc->sym ? wp : wp + ss;
  memset(lut, 0, sizeof(*lut));
  tc_convert_scalar(sc->sdtype, wp, sc->dtype, lut->v[1]);
  tc_convert_scalar(sc->sdtype, wn, sc->dtype, lut->v[3]);
  tc_flip_sign(sc->dtype, lut->v[3]);
}

/* One loop per element width so each store is a single fixed-size move. The
 * table is copied into typed locals: bytes in, same bytes out, any host order. */
#define TC_EXPAND(NAME, TYPE)                                                          \
  static void NAME(const uint8_t *sym, uint64_t cnt, const tc_vlut *lut, uint8_t *dst) { \
    TYPE v[4];                                                                         \
    for (int k = 0; k < 4; k++) memcpy(&v[k], lut->v[k], sizeof(TYPE));                   \
    for (uint64_t i = 0; i < cnt; i++) memcpy(dst + i * sizeof(TYPE), &v[sym[i] & 3u], sizeof(TYPE)); \
  }
TC_EXPAND(tc_expand2, uint16_t)
TC_EXPAND(tc_expand4, uint32_t)
TC_EXPAND(tc_expand8, uint64_t)
#undef TC_EXPAND

static void tc_expand(const uint8_t *sym, uint64_t cnt, const tc_vlut *lut, size_t esize,
                      uint8_t *dst) {
  if (esize == 4) tc_expand4(sym, cnt, lut, dst);
  else if (esize == 2) tc_expand2(sym, cnt, lut, dst);
  else tc_expand8(sym, cnt, lut, dst);
}

void tc_dec_sym_values(tc_symsrc *s, tc_uiter *it, const tc_scaleset *sc, uint64_t cnt,
                       uint8_t *dst) {
  uint8_t sym[TC_DEC_CHUNK];
  tc_vlut lut;
  int have_lut = 0;
  uint64_t lut_unit = 0;
  size_t esize = tcodec_dtype_size(sc->dtype);
  for (uint64_t e = 0; e < cnt;) {
    uint64_t n = cnt - e < TC_DEC_CHUNK ? cnt - e : TC_DEC_CHUNK;
    tc_dec_syms(s, n, sym);
    for (uint64_t k = 0; k < n;) {
      uint64_t span = tc_uiter_span(it, n - k);
      if (!have_lut || it->unit != lut_unit) { /* built lazily: never for a unit past the end */
        tc_vlut_build(sc, it->unit, &lut);
        lut_unit = it->unit;
        have_lut = 1;
      }
      tc_expand(sym + k, span, &lut, esize, dst + (e + k) * esize);
      tc_uiter_skip(it, span);
      k += span;
    }
    e += n;
  }
}

/* ---- the ternary encoding ------------------------------------------------ */

static int tc_ternary_layout(tc_tensor *t, uint64_t need_len[TCODEC_ROLE_COUNT_],
                             int need[TCODEC_ROLE_COUNT_]) {
  int rc = tc_dec_scaled_layout(t, t->p.sym ? 1 : 2, need_len, need);
  if (rc != 0) return rc;
  if (t->p.nnz > t->nelem) return TCODEC_E_PARAMS;
  tc_dec_need(need_len, need, TCODEC_ROLE_MASK, tc_bits_bytes(t->nelem));
  tc_dec_need(need_len, need, TCODEC_ROLE_SIGNS, tc_bits_bytes(t->p.nnz));
  return TCODEC_OK;
}

static int tc_ternary_out_size(const tc_tensor *t, int output, uint64_t *size) {
  return tc_dec_out_size(t, output, 1, size);
}

static int tc_ternary_decode(const tc_tensor *t, const tc_bufs *in, int output, uint8_t *dst) {
  const uint8_t *mask = in->b[TCODEC_ROLE_MASK], *signs = in->b[TCODEC_ROLE_SIGNS];
  uint64_t n = t->nelem;
  if (!tc_pad_is_zero(mask, n) || !tc_pad_is_zero(signs, t->p.nnz) ||
      tc_popcount(mask, n) != t->p.nnz)
    return TCODEC_E_PAYLOAD;
  if (n == 0) return TCODEC_OK;
  tc_symsrc s = {mask, in->len[TCODEC_ROLE_MASK], 0, signs, in->len[TCODEC_ROLE_SIGNS], 0};
  if (output == TCODEC_OUT_SYMBOLS) {
    tc_dec_syms(&s, n, dst);
    return TCODEC_OK;
  }
  tc_scaleset sc = {in->b[TCODEC_ROLE_SCALES], t->p.sdtype, t->p.sym,
                    output == TCODEC_OUT_F32 ? TCODEC_F32 : t->dtype};
  tc_uiter it;
  tc_uiter_init(&it, t);
  tc_dec_sym_values(&s, &it, &sc, n, dst);
  return TCODEC_OK;
}

const tc_encoding_ops tc_dec_ternary_ops = {
    TCODEC_ENC_TERNARY, "ternary", tc_ternary_layout, tc_ternary_out_size, tc_ternary_decode,
};
