/* Encoding 1 (raw): the element bytes, optionally split into byte planes. */
#include <string.h>

#include "tc_enc.h"

void tc_encoded_free(tc_mem *m, tc_encoded *e) {
  if (e == NULL) return;
  for (int r = 0; r < TCODEC_ROLE_COUNT_; r++) {
    if (e->buf[r] != NULL && !e->borrowed[r]) tc_free(m, e->buf[r]);
  }
  memset(e, 0, sizeof *e);
}

/* Plane k holds byte k of every element: similar bytes (exponents, high
 * mantissa bits) end up next to each other, which the entropy stage likes. */
static void byte_planes(uint8_t *dst, const uint8_t *src, uint64_t nelem, size_t size) {
  for (size_t k = 0; k < size; k++) {
    uint8_t *plane = dst + k * nelem;
    const uint8_t *s = src + k;
    for (uint64_t i = 0; i < nelem; i++) plane[i] = s[i * size];
  }
}

int tc_encode_raw(tc_mem *m, int dtype, uint64_t nelem, const uint8_t *src, int bg,
                  tc_encoded *out) {
  if (out == NULL) return TCODEC_E_ARG;
  memset(out, 0, sizeof *out);
  size_t size = tcodec_dtype_size(dtype);
  if (size == 0) return TCODEC_E_UNSUPPORTED_DTYPE;
  uint64_t len;
  if (tc_mul_u64(nelem, size, &len) != 0 || len > SIZE_MAX) return TCODEC_E_OVERFLOW;
  if (len != 0 && src == NULL) return TCODEC_E_ARG;
  out->enc = TCODEC_ENC_RAW;
  out->p.bg = (bg != 0 && size > 1);
  out->present[TCODEC_ROLE_DATA] = 1;
  out->len[TCODEC_ROLE_DATA] = len;
  if (!out->p.bg && len != 0) {
    /* The caller's bytes outlive the encoded tensor: borrow them instead of copying.
     * The round trip through uintptr_t drops const; borrowed buffers are never written. */
    out->buf[TCODEC_ROLE_DATA] = (uint8_t *)(uintptr_t)src;
    out->borrowed[TCODEC_ROLE_DATA] = 1;
    return 0;
  }
  uint8_t *dst = tc_malloc(m, (size_t)len);
  if (dst == NULL) {
    memset(out, 0, sizeof *out);
    return TCODEC_E_NOMEM;
  }
  if (len != 0) byte_planes(dst, src, nelem, size);
  out->buf[TCODEC_ROLE_DATA] = dst;
  return 0;
}
