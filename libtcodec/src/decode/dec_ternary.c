/* Encoding 2, ternary: MASK (1 bit per element: nonzero), SIGNS (1 bit per
 * nonzero: negative), SCALES. Also the symbol machinery binary and hybrid reuse:
 * mask/sign bits -> int8 symbols -> values.
 *
 * Speed: the mask is read 64 bits at a time; an all-zero word becomes 64 zero
 * bytes at once. Otherwise each mask byte gives 8 symbol bytes in one 64-bit
 * store, from two lookups in a table indexed by (mask nibble, its sign bits),
 * instead of a branch per element. Values are then looked up from a 4-entry
 * table per unit, so there is no per-element branch or division. */
#include "tc_dec.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* tc_tern4[m][s]: the 4 symbol bytes (little-endian: element 0 in the low byte)
 * of mask nibble m, its nonzeros taking in order the low bits of s as signs:
 * 0x00 zero, 0x01 positive, 0xFF negative. Generated; entry [m][s] only depends
 * on the low popcount(m) bits of s. */
static const uint32_t tc_tern4[16][16] = {
    {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
     0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
    {0x00000001, 0x000000FF, 0x00000001, 0x000000FF, 0x00000001, 0x000000FF, 0x00000001, 0x000000FF,
     0x00000001, 0x000000FF, 0x00000001, 0x000000FF, 0x00000001, 0x000000FF, 0x00000001, 0x000000FF},
    {0x00000100, 0x0000FF00, 0x00000100, 0x0000FF00, 0x00000100, 0x0000FF00, 0x00000100, 0x0000FF00,
     0x00000100, 0x0000FF00, 0x00000100, 0x0000FF00, 0x00000100, 0x0000FF00, 0x00000100, 0x0000FF00},
    {0x00000101, 0x000001FF, 0x0000FF01, 0x0000FFFF, 0x00000101, 0x000001FF, 0x0000FF01, 0x0000FFFF,
     0x00000101, 0x000001FF, 0x0000FF01, 0x0000FFFF, 0x00000101, 0x000001FF, 0x0000FF01, 0x0000FFFF},
    {0x00010000, 0x00FF0000, 0x00010000, 0x00FF0000, 0x00010000, 0x00FF0000, 0x00010000, 0x00FF0000,
     0x00010000, 0x00FF0000, 0x00010000, 0x00FF0000, 0x00010000, 0x00FF0000, 0x00010000, 0x00FF0000},
    {0x00010001, 0x000100FF, 0x00FF0001, 0x00FF00FF, 0x00010001, 0x000100FF, 0x00FF0001, 0x00FF00FF,
     0x00010001, 0x000100FF, 0x00FF0001, 0x00FF00FF, 0x00010001, 0x000100FF, 0x00FF0001, 0x00FF00FF},
    {0x00010100, 0x0001FF00, 0x00FF0100, 0x00FFFF00, 0x00010100, 0x0001FF00, 0x00FF0100, 0x00FFFF00,
     0x00010100, 0x0001FF00, 0x00FF0100, 0x00FFFF00, 0x00010100, 0x0001FF00, 0x00FF0100, 0x00FFFF00},
    {0x00010101, 0x000101FF, 0x0001FF01, 0x0001FFFF, 0x00FF0101, 0x00FF01FF, 0x00FFFF01, 0x00FFFFFF,
     0x00010101, 0x000101FF, 0x0001FF01, 0x0001FFFF, 0x00FF0101, 0x00FF01FF, 0x00FFFF01, 0x00FFFFFF},
    {0x01000000, 0xFF000000, 0x01000000, 0xFF000000, 0x01000000, 0xFF000000, 0x01000000, 0xFF000000,
     0x01000000, 0xFF000000, 0x01000000, 0xFF000000, 0x01000000, 0xFF000000, 0x01000000, 0xFF000000},
    {0x01000001, 0x010000FF, 0xFF000001, 0xFF0000FF, 0x01000001, 0x010000FF, 0xFF000001, 0xFF0000FF,
     0x01000001, 0x010000FF, 0xFF000001, 0xFF0000FF, 0x01000001, 0x010000FF, 0xFF000001, 0xFF0000FF},
    {0x01000100, 0x0100FF00, 0xFF000100, 0xFF00FF00, 0x01000100, 0x0100FF00, 0xFF000100, 0xFF00FF00,
     0x01000100, 0x0100FF00, 0xFF000100, 0xFF00FF00, 0x01000100, 0x0100FF00, 0xFF000100, 0xFF00FF00},
    {0x01000101, 0x010001FF, 0x0100FF01, 0x0100FFFF, 0xFF000101, 0xFF0001FF, 0xFF00FF01, 0xFF00FFFF,
     0x01000101, 0x010001FF, 0x0100FF01, 0x0100FFFF, 0xFF000101, 0xFF0001FF, 0xFF00FF01, 0xFF00FFFF},
    {0x01010000, 0x01FF0000, 0xFF010000, 0xFFFF0000, 0x01010000, 0x01FF0000, 0xFF010000, 0xFFFF0000,
     0x01010000, 0x01FF0000, 0xFF010000, 0xFFFF0000, 0x01010000, 0x01FF0000, 0xFF010000, 0xFFFF0000},
    {0x01010001, 0x010100FF, 0x01FF0001, 0x01FF00FF, 0xFF010001, 0xFF0100FF, 0xFFFF0001, 0xFFFF00FF,
     0x01010001, 0x010100FF, 0x01FF0001, 0x01FF00FF, 0xFF010001, 0xFF0100FF, 0xFFFF0001, 0xFFFF00FF},
    {0x01010100, 0x0101FF00, 0x01FF0100, 0x01FFFF00, 0xFF010100, 0xFF01FF00, 0xFFFF0100, 0xFFFFFF00,
     0x01010100, 0x0101FF00, 0x01FF0100, 0x01FFFF00, 0xFF010100, 0xFF01FF00, 0xFFFF0100, 0xFFFFFF00},
    {0x01010101, 0x010101FF, 0x0101FF01, 0x0101FFFF, 0x01FF0101, 0x01FF01FF, 0x01FFFF01, 0x01FFFFFF,
     0xFF010101, 0xFF0101FF, 0xFF01FF01, 0xFF01FFFF, 0xFFFF0101, 0xFFFF01FF, 0xFFFFFF01, 0xFFFFFFFF},
};

static const uint8_t tc_pop4[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};

/* 8 symbols for mask byte m whose nonzeros take the low bits of s as signs. */
static inline uint64_t tc_tern8(unsigned m, uint64_t s) {
  unsigned lo = m & 15u;
  return tc_tern4[lo][s & 15u] | (uint64_t)tc_tern4[m >> 4][(s >> tc_pop4[lo]) & 15u] << 32;
}

/* Per byte of x, the number of its set bits. */
static inline uint32_t tc_bytepop(uint32_t x) {
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  return (x + (x >> 4)) & 0x0F0F0F0Fu;
}

/* 64 bits of a stream from bit pos; bits past the end read as 0. */
static inline uint64_t tc_word_at(const uint8_t *src, uint64_t len, uint64_t pos) {
  uint64_t lo = tc_dec_bits_at(src, len, pos) & 0x00FFFFFFFFFFFFFFull;
  return lo | tc_dec_bits_at(src, len, pos + 56) << 56;
}

/* 32 symbols for the 32 mask bits in w, given (at least) the next 32 sign bits;
 * returns the number of signs used. Each byte finds its first sign from a prefix
 * sum of byte popcounts, so the bytes do not wait on each other. */
static inline unsigned tc_tern_half(uint32_t w, uint64_t sg, uint8_t *dst) {
  uint32_t pre = tc_bytepop(w) * 0x01010101u; /* byte k: signs in bytes 0..k */
  uint32_t off = pre << 8;                     /* byte k: signs before byte k */
  for (unsigned k = 0; k < 4; k++, w >>= 8, off >>= 8)
    tc_dec_st64(dst + 8 * k, tc_tern8(w & 0xFFu, sg >> (off & 0xFFu)));
  return pre >> 24;
}

/* The sign bits from bit sp (at least 57 valid). */
static inline uint64_t tc_signs_at(const tc_symsrc *s, uint64_t sp) {
  uint64_t at = sp >> 3;
  if (at < s->slen && s->slen - at >= 8) return tc_dec_ld64(s->signs + at) >> (sp & 7);
  return tc_dec_bits_at(s->signs, s->slen, sp);
}

/* 64 symbols for the 64 mask bits in w, first sign at bit sp; returns the
 * number of signs used. */
static uint64_t tc_tern_word(const tc_symsrc *s, uint64_t w, uint64_t sp, uint8_t *dst) {
  unsigned lo = tc_tern_half((uint32_t)w, tc_signs_at(s, sp), dst);
  return lo + tc_tern_half((uint32_t)(w >> 32), tc_signs_at(s, sp + lo), dst + 32);
}

static void tc_tern_syms(tc_symsrc *s, uint64_t cnt, uint8_t *dst) {
  uint64_t e = 0, sp = s->spos;
  for (; cnt - e >= 64; e += 64) {
    uint64_t mp = s->mpos + e;
    uint64_t w = (mp & 7) == 0 ? tc_dec_ld64(s->mask + (mp >> 3)) : tc_word_at(s->mask, s->mlen, mp);
    if (w == 0) memset(dst + e, 0, 64);
    else sp += tc_tern_word(s, w, sp, dst + e);
  }
  if (e < cnt) { /* mask bits past cnt belong to the next filter or are padding */
    uint8_t tmp[64];
    uint64_t w = tc_word_at(s->mask, s->mlen, s->mpos + e) & ((1ull << (cnt - e)) - 1);
    sp += tc_tern_word(s, w, sp, tmp);
    memcpy(dst + e, tmp, (size_t)(cnt - e));
  }
  s->mpos += cnt;
  s->spos = sp;
}

/* Binary: every element is nonzero, its sign bit picks 0x01 or 0xFF. */
static void tc_bin_syms(tc_symsrc *s, uint64_t cnt, uint8_t *dst) {
  uint64_t e = 0, sp = s->spos;
  for (; cnt - e >= 8; e += 8, sp += 8) {
    uint64_t b = (sp & 7) == 0 ? s->signs[sp >> 3] : tc_dec_bits_at(s->signs, s->slen, sp);
    tc_dec_st64(dst + e, tc_tern8(0xFFu, b));
  }
  if (e < cnt) {
    uint8_t tmp[8];
    tc_dec_st64(tmp, tc_tern8(0xFFu, tc_dec_bits_at(s->signs, s->slen, sp)));
    memcpy(dst + e, tmp, (size_t)(cnt - e));
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
  if (sc->sdtype == sc->dtype) { /* the common case, rebuilt per unit: keep it cheap */
    memcpy(lut->v[1], wp, ss);
    memcpy(lut->v[3], wn, ss);
  } else {
    tc_convert_scalar(sc->sdtype, wp, sc->dtype, lut->v[1]);
    tc_convert_scalar(sc->sdtype, wn, sc->dtype, lut->v[3]);
  }
  lut->v[3][tcodec_dtype_size(sc->dtype) - 1] ^= 0x80u; /* -w_n: flip the sign bit (LE) */
}

/* One loop per element width so each store is a single fixed-size move. The
 * table is copied into typed locals: bytes in, same bytes out, any host order. */
#define TC_EXPAND(NAME, TYPE)                                                              \
  static void NAME(const uint8_t *sym, uint64_t cnt, const tc_vlut *lut, uint8_t *dst) {   \
    TYPE v[4];                                                                             \
    for (int k = 0; k < 4; k++) memcpy(&v[k], lut->v[k], sizeof(TYPE));                    \
    for (uint64_t i = 0; i < cnt; i++)                                                     \
      memcpy(dst + i * sizeof(TYPE), &v[sym[i] & 3u], sizeof(TYPE));                       \
  }
TC_EXPAND(tc_expand2, uint16_t)
TC_EXPAND(tc_expand4, uint32_t)
TC_EXPAND(tc_expand8, uint64_t)
#undef TC_EXPAND

#if defined(__SSE2__)
/* SSE2 is part of every x86-64 CPU: 16 symbols per step, compared against +1 and
 * -1 into byte masks, widened to the element size by unpacking each mask with
 * itself, then used to select w_p / -w_n (zero elsewhere). Returns the number of
 * elements done; the caller finishes the rest (< 16) with the scalar loop. */
static inline __m128i tc_sel(__m128i pm, __m128i nm, __m128i pv, __m128i nv) {
  return _mm_or_si128(_mm_and_si128(pm, pv), _mm_and_si128(nm, nv));
}

static inline void tc_st128(uint8_t *dst, __m128i v) { _mm_storeu_si128((__m128i *)(void *)dst, v); }

static uint64_t tc_expand4_sse2(const uint8_t *sym, uint64_t cnt, const tc_vlut *lut, uint8_t *dst) {
  uint32_t p, n;
  memcpy(&p, lut->v[1], 4);
  memcpy(&n, lut->v[3], 4);
  const __m128i one = _mm_set1_epi8(1), minus = _mm_set1_epi8(-1);
  const __m128i pv = _mm_set1_epi32((int)p), nv = _mm_set1_epi32((int)n);
  uint64_t i = 0;
  for (; cnt - i >= 16; i += 16, dst += 64) {
    __m128i s = _mm_loadu_si128((const __m128i *)(const void *)(sym + i));
    __m128i pm = _mm_cmpeq_epi8(s, one), nm = _mm_cmpeq_epi8(s, minus);
    __m128i pl = _mm_unpacklo_epi8(pm, pm), ph = _mm_unpackhi_epi8(pm, pm);
    __m128i nl = _mm_unpacklo_epi8(nm, nm), nh = _mm_unpackhi_epi8(nm, nm);
    tc_st128(dst, tc_sel(_mm_unpacklo_epi16(pl, pl), _mm_unpacklo_epi16(nl, nl), pv, nv));
    tc_st128(dst + 16, tc_sel(_mm_unpackhi_epi16(pl, pl), _mm_unpackhi_epi16(nl, nl), pv, nv));
    tc_st128(dst + 32, tc_sel(_mm_unpacklo_epi16(ph, ph), _mm_unpacklo_epi16(nh, nh), pv, nv));
    tc_st128(dst + 48, tc_sel(_mm_unpackhi_epi16(ph, ph), _mm_unpackhi_epi16(nh, nh), pv, nv));
  }
  return i;
}

static uint64_t tc_expand2_sse2(const uint8_t *sym, uint64_t cnt, const tc_vlut *lut, uint8_t *dst) {
  uint16_t p, n;
  memcpy(&p, lut->v[1], 2);
  memcpy(&n, lut->v[3], 2);
  const __m128i one = _mm_set1_epi8(1), minus = _mm_set1_epi8(-1);
  const __m128i pv = _mm_set1_epi16((short)p), nv = _mm_set1_epi16((short)n);
  uint64_t i = 0;
  for (; cnt - i >= 16; i += 16, dst += 32) {
    __m128i s = _mm_loadu_si128((const __m128i *)(const void *)(sym + i));
    __m128i pm = _mm_cmpeq_epi8(s, one), nm = _mm_cmpeq_epi8(s, minus);
    tc_st128(dst, tc_sel(_mm_unpacklo_epi8(pm, pm), _mm_unpacklo_epi8(nm, nm), pv, nv));
    tc_st128(dst + 16, tc_sel(_mm_unpackhi_epi8(pm, pm), _mm_unpackhi_epi8(nm, nm), pv, nv));
  }
  return i;
}
#endif

static void tc_expand(const uint8_t *sym, uint64_t cnt, const tc_vlut *lut, size_t esize,
                      uint8_t *dst) {
  uint64_t done = 0;
#if defined(__SSE2__)
  if (esize == 4) done = tc_expand4_sse2(sym, cnt, lut, dst);
  else if (esize == 2) done = tc_expand2_sse2(sym, cnt, lut, dst);
#endif
  sym += done;
  cnt -= done;
  dst += done * esize;
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
