/* Encoding 1, raw: DATA holds the elements' little-endian bytes, either in order
 * or byte-grouped ("bg": plane k holds byte k of every element, plane after
 * plane), which lets the entropy stage see the slowly varying exponent bytes
 * together. */
#include "tc_dec.h"

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
  if (size == 2) tc_ungroup(src, n, 2, i0, cnt, dst);
  else if (size == 4) tc_ungroup(src, n, 4, i0, cnt, dst);
  else if (size == 8) tc_ungroup(src, n, 8, i0, cnt, dst);
  else tc_ungroup(src, n, size, i0, cnt, dst);
}

/* cnt elements of dtype (in element order) as f32. The common float formats get
 * their own loops; the rest go through the per-element loader. */
static void tc_raw_to_f32(int dtype, const uint8_t *src, uint64_t cnt, uint8_t *dst) {
  if (dtype == TCODEC_F32) {
    memcpy(dst, src, (size_t)cnt * 4);
  } else if (dtype == TCODEC_F16) {
    for (uint64_t i = 0; i < cnt; i++) tc_dec_st_f32(dst + 4 * i, tc_f16_to_f32(tc_le16(src + 2 * i)));
  } else if (dtype == TCODEC_BF16) {
    for (uint64_t i = 0; i < cnt; i++) tc_dec_st_f32(dst + 4 * i, tc_bf16_to_f32(tc_le16(src + 2 * i)));
  } else {
    for (uint64_t i = 0; i < cnt; i++) tc_dec_st_f32(dst + 4 * i, tc_load_f32(dtype, src, i));
  }
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
