/* Encoding 1, raw: DATA holds the elements' little-endian bytes, either in order
 * or byte-grouped ("bg": plane k holds byte k of every element, plane after
 * plane), which lets the entropy stage see the slowly varying exponent bytes
 * together. */
#include "tc_dec.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static int tc_raw_layout(tc_tensor *t, uint64_t need_len[TCODEC_ROLE_COUNT_],
                         int need[TCODEC_ROLE_COUNT_]) {
  size_t size = tcodec_dtype_size(t->dtype);
  uint64_t bytes;
  if (size == 0) return TCODEC_E_UNSUPPORTED_DTYPE;
  if (t->p.bg && size == 1) return TCODEC_E_PARAMS;
  int rc = tc_mul_u64(t->nelem, size, &bytes);
  if (rc != 0) return rc;
  t->p.units = 0;
  tc_dec_need(need_len, need, TCODEC_ROLE_DATA, bytes);
  return TCODEC_OK;
}

static int tc_raw_out_size(const tc_tensor *t, int output, uint64_t *size) {
  return tc_dec_out_size(t, output, 0, size);
}

#if defined(__SSE2__)
/* SSE2 is part of every x86-64 CPU; the scalar loops below finish what these
 * leave (fewer than 16 elements) and are the only path elsewhere. */
static inline __m128i tc_ld128(const uint8_t *p) {
  return _mm_loadu_si128((const __m128i *)(const void *)p);
}
static inline void tc_st128(uint8_t *p, __m128i v) { _mm_storeu_si128((__m128i *)(void *)p, v); }

/* Byte planes back to elements by interleaving 16 bytes of each plane. */
static uint64_t tc_ungroup2_sse2(const uint8_t *p0, const uint8_t *p1, uint64_t cnt, uint8_t *dst) {
  uint64_t i = 0;
  for (; cnt - i >= 16; i += 16, dst += 32) {
    __m128i a = tc_ld128(p0 + i), b = tc_ld128(p1 + i);
    tc_st128(dst, _mm_unpacklo_epi8(a, b));
    tc_st128(dst + 16, _mm_unpackhi_epi8(a, b));
  }
  return i;
}

static uint64_t tc_ungroup4_sse2(const uint8_t *src, uint64_t n, uint64_t cnt, uint8_t *dst) {
  uint64_t i = 0;
  for (; cnt - i >= 16; i += 16, dst += 64) {
    __m128i a = tc_ld128(src + i), b = tc_ld128(src + n + i);
    __m128i c = tc_ld128(src + 2 * n + i), d = tc_ld128(src + 3 * n + i);
    __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
    __m128i cd0 = _mm_unpacklo_epi8(c, d), cd1 = _mm_unpackhi_epi8(c, d);
    tc_st128(dst, _mm_unpacklo_epi16(ab0, cd0));
    tc_st128(dst + 16, _mm_unpackhi_epi16(ab0, cd0));
    tc_st128(dst + 32, _mm_unpacklo_epi16(ab1, cd1));
    tc_st128(dst + 48, _mm_unpackhi_epi16(ab1, cd1));
  }
  return i;
}

/* 4 halves (zero-extended to 32 bits) to f32 bits, exactly as tc_f16_to_f32:
 * normals by rebiasing, inf/NaN by a larger rebias (NaN quieted), subnormals as
 * (2^-14 + m 2^-24) - 2^-14 in f32, exact and with only normal operands, so the
 * result does not depend on FTZ/DAZ. */
static inline __m128i tc_h2f4(__m128i h) {
  const __m128i emask = _mm_set1_epi32(0x7C00), infnan = _mm_set1_epi32(0x7C00);
  __m128i em = _mm_and_si128(h, _mm_set1_epi32(0x7FFF));
  __m128i sign = _mm_slli_epi32(_mm_xor_si128(h, em), 16);
  __m128i o = _mm_slli_epi32(em, 13), e = _mm_and_si128(em, emask);
  __m128i normal = _mm_add_epi32(o, _mm_set1_epi32(112 << 23));
  __m128i special = _mm_add_epi32(o, _mm_set1_epi32(224 << 23));
  special = _mm_or_si128(special, _mm_and_si128(_mm_cmpgt_epi32(em, infnan), _mm_set1_epi32(0x400000)));
  __m128 sub = _mm_sub_ps(_mm_castsi128_ps(_mm_add_epi32(o, _mm_set1_epi32(113 << 23))),
                          _mm_castsi128_ps(_mm_set1_epi32(113 << 23)));
  __m128i is_sub = _mm_cmpeq_epi32(e, _mm_setzero_si128()), is_spec = _mm_cmpeq_epi32(e, infnan);
  __m128i r = _mm_or_si128(_mm_and_si128(is_spec, special), _mm_andnot_si128(is_spec, normal));
  r = _mm_or_si128(_mm_and_si128(is_sub, _mm_castps_si128(sub)), _mm_andnot_si128(is_sub, r));
  return _mm_or_si128(r, sign);
}

static uint64_t tc_f16_to_f32_sse2(const uint8_t *src, uint64_t cnt, uint8_t *dst) {
  uint64_t i = 0;
  for (; cnt - i >= 8; i += 8) {
    __m128i x = tc_ld128(src + 2 * i), z = _mm_setzero_si128();
    tc_st128(dst + 4 * i, tc_h2f4(_mm_unpacklo_epi16(x, z)));
    tc_st128(dst + 4 * i + 16, tc_h2f4(_mm_unpackhi_epi16(x, z)));
  }
  return i;
}

/* bf16 is the top half of an f32: shift in zeros, quiet NaNs (as tc_bf16_to_f32). */
static inline __m128i tc_b2f4(__m128i u) {
  __m128i abs = _mm_and_si128(u, _mm_set1_epi32(0x7FFFFFFF));
  __m128i nan = _mm_cmpgt_epi32(abs, _mm_set1_epi32(0x7F800000));
  return _mm_or_si128(u, _mm_and_si128(nan, _mm_set1_epi32(0x400000)));
}

static uint64_t tc_bf16_to_f32_sse2(const uint8_t *src, uint64_t cnt, uint8_t *dst) {
  uint64_t i = 0;
  for (; cnt - i >= 8; i += 8) {
    __m128i x = tc_ld128(src + 2 * i), z = _mm_setzero_si128();
    tc_st128(dst + 4 * i, tc_b2f4(_mm_unpacklo_epi16(z, x)));
    tc_st128(dst + 4 * i + 16, tc_b2f4(_mm_unpackhi_epi16(z, x)));
  }
  return i;
}
#endif

/* Elements [i0, i0+cnt) of n byte-grouped elements of `size` bytes, back in
 * element order. Inline with a constant size, the loops become interleaves. */
static inline void tc_ungroup(const uint8_t *src, uint64_t n, size_t size, uint64_t i0,
                              uint64_t cnt, uint8_t *dst) {
  for (size_t k = 0; k < size; k++) {
    const uint8_t *plane = src + k * n + i0;
    for (uint64_t i = 0; i < cnt; i++) dst[i * size + k] = plane[i];
  }
}

/* Chunked so one chunk of the destination stays in cache across its planes. */
static void tc_ungroup_chunk(const uint8_t *src, uint64_t n, size_t size, uint64_t i0,
                             uint64_t cnt, uint8_t *dst) {
  uint64_t done = 0;
#if defined(__SSE2__)
  if (size == 2) done = tc_ungroup2_sse2(src + i0, src + n + i0, cnt, dst);
  else if (size == 4) done = tc_ungroup4_sse2(src + i0, n, cnt, dst);
#endif
  i0 += done;
  cnt -= done;
  dst += done * size;
  if (size == 2) tc_ungroup(src, n, 2, i0, cnt, dst);
  else if (size == 4) tc_ungroup(src, n, 4, i0, cnt, dst);
  else if (size == 8) tc_ungroup(src, n, 8, i0, cnt, dst);
  else tc_ungroup(src, n, size, i0, cnt, dst);
}

void tc_dec_f16_to_f32(const uint8_t *src, uint64_t cnt, uint8_t *dst) {
  uint64_t i = 0;
#if defined(__SSE2__)
  i = tc_f16_to_f32_sse2(src, cnt, dst);
#endif
  for (; i < cnt; i++) tc_dec_st_f32(dst + 4 * i, tc_f16_to_f32(tc_le16(src + 2 * i)));
}

static void tc_bf16_block(const uint8_t *src, uint64_t cnt, uint8_t *dst) {
  uint64_t i = 0;
#if defined(__SSE2__)
  i = tc_bf16_to_f32_sse2(src, cnt, dst);
#endif
  for (; i < cnt; i++) tc_dec_st_f32(dst + 4 * i, tc_bf16_to_f32(tc_le16(src + 2 * i)));
}

/* cnt elements of dtype (in element order) as f32. The common float formats get
 * their own loops; the rest go through the per-element loader. */
static void tc_raw_to_f32(int dtype, const uint8_t *src, uint64_t cnt, uint8_t *dst) {
  if (dtype == TCODEC_F32) memcpy(dst, src, (size_t)cnt * 4);
  else if (dtype == TCODEC_F16) tc_dec_f16_to_f32(src, cnt, dst);
  else if (dtype == TCODEC_BF16) tc_bf16_block(src, cnt, dst);
  else
    for (uint64_t i = 0; i < cnt; i++) tc_dec_st_f32(dst + 4 * i, tc_load_f32(dtype, src, i));
}

static void tc_raw_original(const tc_tensor *t, const uint8_t *src, uint8_t *dst) {
  size_t size = tcodec_dtype_size(t->dtype);
  if (!t->p.bg) {
    memcpy(dst, src, (size_t)(t->nelem * size));
    return;
  }
  for (uint64_t i = 0; i < t->nelem; i += TC_DEC_CHUNK) {
    uint64_t cnt = t->nelem - i < TC_DEC_CHUNK ? t->nelem - i : TC_DEC_CHUNK;
    tc_ungroup_chunk(src, t->nelem, size, i, cnt, dst + i * size);
  }
}

static void tc_raw_f32(const tc_tensor *t, const uint8_t *src, uint8_t *dst) {
  size_t size = tcodec_dtype_size(t->dtype);
  if (!t->p.bg) {
    tc_raw_to_f32(t->dtype, src, t->nelem, dst);
    return;
  }
  uint8_t tmp[TC_DEC_CHUNK * 8];
  for (uint64_t i = 0; i < t->nelem; i += TC_DEC_CHUNK) {
    uint64_t cnt = t->nelem - i < TC_DEC_CHUNK ? t->nelem - i : TC_DEC_CHUNK;
    tc_ungroup_chunk(src, t->nelem, size, i, cnt, tmp);
    tc_raw_to_f32(t->dtype, tmp, cnt, dst + 4 * i);
  }
}

/* Raw data has no consistency rules beyond its length, which the caller checked. */
static int tc_raw_decode(const tc_tensor *t, const tc_bufs *in, int output, uint8_t *dst) {
  if (t->nelem == 0) return TCODEC_OK;
  if (output == TCODEC_OUT_ORIGINAL) tc_raw_original(t, in->b[TCODEC_ROLE_DATA], dst);
  else if (output == TCODEC_OUT_F32) tc_raw_f32(t, in->b[TCODEC_ROLE_DATA], dst);
  else return TCODEC_E_OUTPUT_FORMAT;
  return TCODEC_OK;
}

const tc_encoding_ops tc_dec_raw_ops = {
    TCODEC_ENC_RAW, "raw", tc_raw_layout, tc_raw_out_size, tc_raw_decode,
};
