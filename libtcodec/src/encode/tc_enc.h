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

/* One quantizer: the signature of every entry of the method table (enc_quantize.c).
 * Called with valid pointers and *out zeroed; fills *out through tc_encode_quantized. */
typedef int (*tc_quantizer_fn)(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape,
                               uint64_t nelem, const float *src, const tcodec_request *req,
                               tc_encoded *out, char *err, size_t err_cap);

int tc_quant_twn(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                 const float *src, const tcodec_request *req, tc_encoded *out, char *err,
                 size_t err_cap);

/* Quantize float32 data as req asks (dispatches on req->method). */
int tc_quantize_f32(tc_mem *m, int dtype, unsigned ndim, const uint64_t *shape, uint64_t nelem,
                    const float *src, const tcodec_request *req, tc_encoded *out, char *err,
                    size_t err_cap);

#endif
