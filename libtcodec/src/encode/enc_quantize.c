/* The quantizer table: one function per tcodec_method (encoder side only). */
#include <string.h>

#include "tc_enc.h"

typedef struct tc_qrow {
  int method;
  const char *name;
  tc_quantizer_fn fn;
} tc_qrow;

static const tc_qrow tc_quantizers[] = {
    {TCODEC_Q_TWN, "twn", tc_quant_twn},
    {TCODEC_Q_KBIT, "kbit", tc_quant_kbit},
    {TCODEC_Q_HYBRID, "hybrid", tc_quant_hybrid},
    {TCODEC_Q_EC2T, "ec2t", tc_quant_ec2t},
    {TCODEC_Q_BINARY, "binary", tc_quant_binary},
    {TCODEC_Q_ADAPTIVE_BT, "adaptive-bt", tc_quant_adaptive_bt},
};

int tc_quantize_f32(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                    const float *src, const tcodec_request *req, tc_encoded *out, char *err,
                    size_t err_cap) {
  if (out == NULL) return tc_enc_say(err, err_cap, TCODEC_E_ARG, "no output");
  memset(out, 0, sizeof *out);
  if (req == NULL || (nelem > 0 && src == NULL) || (ndim > 0 && shape == NULL))
    return tc_enc_say(err, err_cap, TCODEC_E_ARG, "request, values or shape is NULL");
  for (size_t i = 0; i < sizeof(tc_quantizers) / sizeof(tc_quantizers[0]); i++)
    if (tc_quantizers[i].method == req->method)
      return tc_quantizers[i].fn(m, dtype, ndim, shape, nelem, src, req, out, err, err_cap);
  return tc_enc_say(err, err_cap, TCODEC_E_ARG, "quantization method %d is not available",
                    req->method);
}
