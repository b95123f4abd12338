/* The encodings a reader knows, and the checks their layouts share. */
#include "tc_dec.h"

static const tc_encoding_ops *const tc_encodings[] = {
    &tc_dec_raw_ops, &tc_dec_ternary_ops, &tc_dec_binary_ops, &tc_dec_kbit_ops, &tc_dec_hybrid_ops,
};

/* NULL for an id this reader does not know (E_UNSUPPORTED_ENCODING for the caller). */
const tc_encoding_ops *tc_encoding_find(int enc) {
  for (size_t i = 0; i < sizeof(tc_encodings) / sizeof(tc_encodings[0]); i++)
    if (tc_encodings[i]->enc == enc) return tc_encodings[i];
  return NULL;
}

int tc_dec_check_quant_dtype(int dtype) {
  int ok = dtype == TCODEC_F64 || dtype == TCODEC_F32 || dtype == TCODEC_F16 || dtype == TCODEC_BF16;
  return ok ? TCODEC_OK : TCODEC_E_UNSUPPORTED_DTYPE;
}

int tc_dec_check_sdtype(int sdtype) {
  int ok = sdtype == TCODEC_F32 || sdtype == TCODEC_F16 || sdtype == TCODEC_BF16;
  return ok ? TCODEC_OK : TCODEC_E_PARAMS;
}

int tc_dec_scaled_layout(tc_tensor *t, uint64_t per_unit, uint64_t need_len[TCODEC_ROLE_COUNT_],
                         int need[TCODEC_ROLE_COUNT_]) {
  int rc;
  uint64_t units, bytes;
  if ((rc = tc_dec_check_quant_dtype(t->dtype)) != 0) return rc;
  if ((rc = tc_dec_check_sdtype(t->p.sdtype)) != 0) return rc;
  if ((rc = tc_units(t->ndim, t->shape, t->nelem, &t->p, &units)) != 0) return rc;
  t->p.units = units;
  if ((rc = tc_mul_u64(units, per_unit, &bytes)) != 0) return rc;
  if ((rc = tc_mul_u64(bytes, tcodec_dtype_size(t->p.sdtype), &bytes)) != 0) return rc;
  tc_dec_need(need_len, need, TCODEC_ROLE_SCALES, bytes);
  return TCODEC_OK;
}

/* TCODEC_OUT_STREAM and unknown forms are not decodable into a tensor here. */
int tc_dec_out_size(const tc_tensor *t, int output, int has_symbols, uint64_t *size) {
  if (output == TCODEC_OUT_ORIGINAL) return tc_mul_u64(t->nelem, tcodec_dtype_size(t->dtype), size);
  if (output == TCODEC_OUT_F32) return tc_mul_u64(t->nelem, sizeof(float), size);
  if (output == TCODEC_OUT_SYMBOLS && has_symbols) {
    *size = t->nelem;
    return TCODEC_OK;
  }
  return TCODEC_E_OUTPUT_FORMAT;
}
