/* Encoding 3, binary: SIGNS (1 bit per element: 1 = -w_n, 0 = +w_p) and SCALES.
 * A ternary tensor without zeros, so it reuses the ternary symbol machinery. */
#include "tc_dec.h"

static int tc_binary_layout(tc_tensor *t, uint64_t need_len[TCODEC_ROLE_COUNT_],
                            int need[TCODEC_ROLE_COUNT_]) {
  int rc = tc_dec_scaled_layout(t, t->p.sym ? 1 : 2, need_len, need);
  if (rc != 0) return rc;
  tc_dec_need(need_len, need, TCODEC_ROLE_SIGNS, tc_bits_bytes(t->nelem));
  return TCODEC_OK;
}

static int tc_binary_out_size(const tc_tensor *t, int output, uint64_t *size) {
  return tc_dec_out_size(t, output, 1, size);
}

static int tc_binary_decode(const tc_tensor *t, const tc_bufs *in, int output, uint8_t *dst) {
  const uint8_t *signs = in->b[TCODEC_ROLE_SIGNS];
  uint64_t n = t->nelem;
  if (!tc_pad_is_zero(signs, n)) return TCODEC_E_PAYLOAD;
  if (n == 0) return TCODEC_OK;
  tc_symsrc s = {NULL, 0, 0, signs, in->len[TCODEC_ROLE_SIGNS], 0};
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

const tc_encoding_ops tc_dec_binary_ops = {
    TCODEC_ENC_BINARY, "binary", tc_binary_layout, tc_binary_out_size, tc_binary_decode,
};
