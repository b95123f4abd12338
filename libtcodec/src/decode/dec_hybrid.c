/* Encoding 5, hybrid: filters are slices along axis 0, each either full
 * precision or ternary. KINDS (1 bit per filter: ternary), FULL (full filters'
 * values in fdtype, in filter order), and for the ternary filters concatenated:
 * MASK, SIGNS, and SCALES with one unit per ternary filter. */
#include "tc_dec.h"

/* Elements per filter; 0 when there are no filters (then there are no elements). */
static uint64_t tc_fsize(const tc_tensor *t) {
  return t->shape[0] != 0 ? t->nelem / t->shape[0] : 0;
}

static int tc_hybrid_params(const tc_tensor *t) {
  int rc = tc_dec_check_quant_dtype(t->dtype);
  if (rc != 0) return rc;
  if (t->ndim < 1 || tc_dec_check_sdtype(t->p.sdtype) != 0) return TCODEC_E_PARAMS;
  if (t->p.fdtype != TCODEC_F32 && t->p.fdtype != TCODEC_F16) return TCODEC_E_PARAMS;
  if (t->p.nter > t->shape[0]) return TCODEC_E_PARAMS;
  /* nter <= F, so nter * fsize <= nelem: no overflow */
  if (t->p.nnz > t->p.nter * tc_fsize(t)) return TCODEC_E_PARAMS;
  return TCODEC_OK;
}

static int tc_hybrid_layout(tc_tensor *t, uint64_t need_len[TCODEC_ROLE_COUNT_],
                            int need[TCODEC_ROLE_COUNT_]) {
  int rc = tc_hybrid_params(t);
  if (rc != 0) return rc;
  uint64_t nfilt = t->shape[0], fsize = tc_fsize(t), full, scales;
  t->p.units = t->p.nter;
  if ((rc = tc_mul_u64((nfilt - t->p.nter) * fsize, tcodec_dtype_size(t->p.fdtype), &full)) != 0 ||
      (rc = tc_mul_u64(t->p.nter, t->p.sym ? 1 : 2, &scales)) != 0 ||
      (rc = tc_mul_u64(scales, tcodec_dtype_size(t->p.sdtype), &scales)) != 0)
    return rc;
  tc_dec_need(need_len, need, TCODEC_ROLE_KINDS, tc_bits_bytes(nfilt));
  tc_dec_need(need_len, need, TCODEC_ROLE_FULL, full);
  tc_dec_need(need_len, need, TCODEC_ROLE_MASK, tc_bits_bytes(t->p.nter * fsize));
  tc_dec_need(need_len, need, TCODEC_ROLE_SIGNS, tc_bits_bytes(t->p.nnz));
  tc_dec_need(need_len, need, TCODEC_ROLE_SCALES, scales);
  return TCODEC_OK;
}

static int tc_hybrid_out_size(const tc_tensor *t, int output, uint64_t *size) {
  return tc_dec_out_size(t, output, 1, size);
}

static int tc_hybrid_check(const tc_tensor *t, const tc_bufs *in) {
  const uint8_t *kinds = in->b[TCODEC_ROLE_KINDS], *mask = in->b[TCODEC_ROLE_MASK];
  uint64_t nmask = t->p.nter * tc_fsize(t);
  if (!tc_pad_is_zero(kinds, t->shape[0]) || tc_popcount(kinds, t->shape[0]) != t->p.nter ||
      !tc_pad_is_zero(mask, nmask) || tc_popcount(mask, nmask) != t->p.nnz ||
      !tc_pad_is_zero(in->b[TCODEC_ROLE_SIGNS], t->p.nnz))
    return TCODEC_E_PAYLOAD;
  return TCODEC_OK;
}

/* One full-precision filter in the output form: f32 and the original dtype are
 * conversions from fdtype (a copy when equal), symbols are 0. */
static void tc_full_filter(int output, int fdtype, const uint8_t *src, uint64_t cnt, int dtype,
                           uint8_t *dst) {
  size_t fs = tcodec_dtype_size(fdtype), ds;
  if (output == TCODEC_OUT_SYMBOLS) {
    memset(dst, 0, (size_t)cnt);
    return;
  }
  if (output == TCODEC_OUT_F32) dtype = TCODEC_F32;
  ds = tcodec_dtype_size(dtype);
  if (fdtype == dtype) {
    memcpy(dst, src, (size_t)(cnt * fs));
  } else if (fdtype == TCODEC_F16 && dtype == TCODEC_F32) {
    tc_dec_f16_to_f32(src, cnt, dst);
  } else {
    for (uint64_t i = 0; i < cnt; i++) tc_convert_scalar(fdtype, src + i * fs, dtype, dst + i * ds);
  }
}

static int tc_hybrid_decode(const tc_tensor *t, const tc_bufs *in, int output, uint8_t *dst) {
  int rc = tc_hybrid_check(t, in);
  if (rc != 0 || t->nelem == 0) return rc;
  const uint8_t *kinds = in->b[TCODEC_ROLE_KINDS], *full = in->b[TCODEC_ROLE_FULL];
  uint64_t fsize = tc_fsize(t), tern = 0;
  int dtype = output == TCODEC_OUT_F32 ? TCODEC_F32 : t->dtype;
  size_t esize = output == TCODEC_OUT_SYMBOLS ? 1 : tcodec_dtype_size(dtype);
  size_t fstride = (size_t)fsize * tcodec_dtype_size(t->p.fdtype);
  tc_symsrc s = {in->b[TCODEC_ROLE_MASK], in->len[TCODEC_ROLE_MASK], 0,
                 in->b[TCODEC_ROLE_SIGNS], in->len[TCODEC_ROLE_SIGNS], 0};
  tc_scaleset sc = {in->b[TCODEC_ROLE_SCALES], t->p.sdtype, t->p.sym, dtype};
  for (uint64_t f = 0; f < t->shape[0]; f++) {
    uint8_t *out = dst + f * fsize * esize;
    if (!tc_bit(kinds, f)) {
      tc_full_filter(output, t->p.fdtype, full, fsize, t->dtype, out);
      full += fstride;
    } else if (output == TCODEC_OUT_SYMBOLS) {
      tc_dec_syms(&s, fsize, out);
      tern++;
    } else {
      tc_uiter it;
      tc_uiter_fixed(&it, tern++);
      tc_dec_sym_values(&s, &it, &sc, fsize, out);
    }
  }
  return TCODEC_OK;
}

const tc_encoding_ops tc_dec_hybrid_ops = {
    TCODEC_ENC_HYBRID, "hybrid", tc_hybrid_layout, tc_hybrid_out_size, tc_hybrid_decode,
};
