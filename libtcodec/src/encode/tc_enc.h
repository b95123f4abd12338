/* Encoder-side internals: turning tensors into the streams of an encoding. */
#ifndef TC_ENC_H
#define TC_ENC_H

#include "../common/tc_internal.h"

/* The streams of one encoded tensor before the entropy stage. */
typedef struct tc_encoded {
  int enc;                            /* tcodec_encoding */
  tc_params p;                        /* params as they go to the directory (units filled) */
  uint8_t *buf[TCODEC_ROLE_COUNT_];   /* owned (tc_mem) unless borrowed[role] */
  uint64_t len[TCODEC_ROLE_COUNT_];
  int present[TCODEC_ROLE_COUNT_];
  int borrowed[TCODEC_ROLE_COUNT_];   /* buf points into caller memory: do not free */
} tc_encoded;

void tc_encoded_free(tc_mem *m, tc_encoded *e);

/* Write a one-line reason into err (may be NULL) and return code. */
int tc_enc_say(char *err, size_t err_cap, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Lossless raw: DATA stream = src (borrowed when bg == 0, else a byte-grouped copy). */
int tc_encode_raw(tc_mem *m, int dtype, uint64_t nelem, const uint8_t *src, int bg,
                  tc_encoded *out);

/* Build the streams of an already quantized tensor (validates q: symbols in range,
 * codes < 2^bits, zero points, scale dtype...). Returns TCODEC_E_ARG / E_PARAMS /
 * E_VALUE with a reason written to err (may be NULL). */
int tc_encode_quantized(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape,
                        uint64_t nelem, const tcodec_quantized *q, tc_encoded *out, char *err,
                        size_t err_cap);

/* Check p->gran/axis/group against the shape (channel: axis < ndim; group: size >= 1),
 * zero the fields the granularity does not use and set p->units (tc_units).
 * Returns 0 or TCODEC_E_PARAMS with a reason in err (may be NULL). enc_quant.c. */
int tc_enc_units(unsigned ndim, const uint64_t *shape, uint64_t nelem, tc_params *p, char *err,
                 size_t err_cap);

/* Exact detection on the raw bytes of a float tensor (f64/f32/f16/bf16): if the
 * elements take at most the bit patterns {+0, a, b} (ternary) or {a, b} with no +0
 * (binary), fill *out losslessly (tensor granularity, asymmetric, sdtype = dtype) and
 * return 1; return 0 if not detected, <0 on error. */
int tc_detect_exact(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape,
                    uint64_t nelem, const uint8_t *src, tc_encoded *out);

/* Walks the scale units of a tensor in runs of consecutive elements that share a
 * unit (tensor: one run; channel: runs of `inner` cycling over shape[axis]; group:
 * runs of G), so quantizers never divide per element. */
typedef struct tc_unit_it {
  uint64_t u, left, inner, wrap; /* current unit, elements left in its run */
} tc_unit_it;

static inline void tc_unit_it_init(tc_unit_it *it, unsigned ndim, const uint64_t *shape,
                                   const tc_params *p) {
  it->inner = UINT64_MAX; /* tensor: a single run */
  it->wrap = UINT64_MAX;
  if (p->gran == TCODEC_GRAN_CHANNEL) {
    it->inner = tc_inner(ndim, shape, p->axis);
    it->wrap = shape[p->axis];
  } else if (p->gran == TCODEC_GRAN_GROUP) {
    it->inner = p->group;
  }
  it->u = 0;
  it->left = it->inner;
}

/* End of the run that starts at element i. */
static inline uint64_t tc_unit_it_end(const tc_unit_it *it, uint64_t i, uint64_t n) {
  return it->left < n - i ? i + it->left : n;
}

static inline void tc_unit_it_skip(tc_unit_it *it, uint64_t len) {
  it->left -= len;
  if (it->left != 0) return;
  it->left = it->inner;
  if (++it->u == it->wrap) it->u = 0;
}

/* One quantizer: the signature of every entry of the method table (enc_quantize.c).
 * Called with valid pointers and *out zeroed; fills *out through tc_encode_quantized. */
typedef int (*tc_quantizer_fn)(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape,
                               uint64_t nelem, const float *src, const tcodec_request *req,
                               tc_encoded *out, char *err, size_t err_cap);

int tc_quant_twn(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                 const float *src, const tcodec_request *req, tc_encoded *out, char *err,
                 size_t err_cap);
/* TCODEC_Q_KBIT (enc_kbit.c): k-bit codes per unit, after optional magnitude pruning. */
int tc_quant_kbit(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                  const float *src, const tcodec_request *req, tc_encoded *out, char *err,
                  size_t err_cap);
/* TCODEC_Q_HYBRID (enc_hybrid.c): per filter (axis 0) TWN ternary or full_dtype. */
int tc_quant_hybrid(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                    const float *src, const tcodec_request *req, tc_encoded *out, char *err,
                    size_t err_cap);

/* enc_ec2t.c: entropy-constrained ternary (TCODEC_Q_EC2T). */
int tc_quant_ec2t(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                  const float *src, const tcodec_request *req, tc_encoded *out, char *err,
                  size_t err_cap);
/* enc_binary.c: binary by sign (TCODEC_Q_BINARY); binary or TWN ternary per tensor
 * (TCODEC_Q_ADAPTIVE_BT). */
int tc_quant_binary(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                    const float *src, const tcodec_request *req, tc_encoded *out, char *err,
                    size_t err_cap);
int tc_quant_adaptive_bt(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape,
                         uint64_t nelem, const float *src, const tcodec_request *req,
                         tc_encoded *out, char *err, size_t err_cap);

/* Helpers of enc_ec2t.c shared with enc_binary.c. */
/* Float dtype and scale dtype check; fills p (gran, axis, group, sym, sdtype). */
int tc_quant_check_float(const tcodec_request *req, int dtype, const char *what, tc_params *p,
                         char *err, size_t err_cap);
/* Round v (finite, >= 0) to sdtype: bytes to dst (may be NULL), value to *rounded (may be
 * NULL). TCODEC_E_VALUE if it overflows. */
int tc_scale_round(int sdtype, double v, uint8_t *dst, double *rounded, char *err,
                   size_t err_cap);
/* *sym: nelem + 1 bytes, *scales: 2 * units + 1 doubles (p->units set); caller frees. */
int tc_quant_alloc(tc_mem *m, uint64_t nelem, const tc_params *p, int8_t **sym, double **scales,
                   char *err, size_t err_cap);
/* Ternary symbols and rounded scales (units, or w_p/w_n pairs if !p->sym): TWN at
 * threshold, then at most max_iter EC2T rounds at lambda (max_iter 0: TWN's result).
 * NaN/Inf: TCODEC_E_VALUE naming the index. */
int tc_ternarize(tc_mem *m, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                 const float *src, const tc_params *p, double threshold, double lambda,
                 unsigned max_iter, int8_t *sym, double *scales, char *err, size_t err_cap);
/* Build TERNARY/BINARY streams from symbols and scales already exact in p->sdtype. */
int tc_encode_sym_scales(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape,
                         uint64_t nelem, const tc_params *p, int encoding, const int8_t *sym,
                         const double *scales, tc_encoded *out, char *err, size_t err_cap);

/* Quantize float32 data as req asks (dispatches on req->method). */
int tc_quantize_f32(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                    const float *src, const tcodec_request *req, tc_encoded *out, char *err,
                    size_t err_cap);

#endif
