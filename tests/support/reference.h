/* A deliberately naive reference decoder (and encoder of the expected streams),
 * written from spec/FORMAT.md only. It never calls the library's decode or
 * encode code: the library is used only to fetch the stream bytes after the
 * entropy stage (tcodec_reader_decode_stream) and the tensor description
 * (tcodec_reader_tensor_info). Every element is computed on its own, by the
 * formula of the spec, in the most obvious way, so that it can be read against
 * the spec line by line. Tests compare the real decoder with it bit for bit.
 *
 * Nothing here uses Criterion: functions return 0 or a TCODEC_E_* code and
 * write the reason into `why` (may be NULL). */
#ifndef TCODEC_TEST_REFERENCE_H
#define TCODEC_TEST_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#include "tcodec/tcodec.h"

/* ---- element formats (spec "Data types"), by bit manipulation and ldexp ---- */

float ref_f16_to_f32(uint16_t h);  /* exact; NaN keeps sign and payload (not quieted) */
float ref_bf16_to_f32(uint16_t h); /* exact: the top half of an f32 */
float ref_e4m3_to_f32(uint8_t v);  /* e4m3fn: no infinity, S.1111.111 is NaN */
float ref_e5m2_to_f32(uint8_t v);
double ref_f16_to_f64(uint16_t h); /* exact (NaN: a quiet NaN with the same sign) */
/* Round a double to the nearest f16 / bf16, ties to even; overflow gives infinity. */
uint16_t ref_f64_to_f16(double x);
uint16_t ref_f64_to_bf16(double x);
/* Element of a float dtype (f64, f32, f16, bf16) as a double: exact. */
double ref_float_load(int dtype, const uint8_t *p);
/* Store v as a float dtype (f64, f32, f16, bf16), one rounding to nearest even. */
void ref_float_store(int dtype, uint8_t *p, double v);
/* Element of any dtype as f32: floats converted (f64 rounded to nearest even),
 * integers converted to the nearest f32, bool 0/1. */
float ref_load_f32(int dtype, const uint8_t *p);
/* Bytes per element (spec table); 0 for unknown ids. */
size_t ref_dtype_size(int dtype);
int ref_is_float_dtype(int dtype); /* f64 f32 f16 bf16 f8e4m3 f8e5m2 */

/* ---- bit streams (spec "Conventions") ---- */

/* Bit i of a bit stream: bit (i % 8) of byte (i / 8). */
int ref_bit(const uint8_t *b, uint64_t i);
void ref_set_bit(uint8_t *b, uint64_t i, int v);

/* ---- scale units (spec "Scale units") ---- */

/* Number of units; -1 if the granularity does not fit the shape. */
int ref_units(int gran, unsigned axis, uint64_t group, unsigned ndim, const uint64_t *shape,
              uint64_t nelem, uint64_t *units);
/* unit(i), by the formula of the spec (one division per call, on purpose). */
uint64_t ref_unit_of(int gran, unsigned axis, uint64_t group, unsigned ndim, const uint64_t *shape,
                     uint64_t i);

/* ---- streams ---- */

/* The streams of one tensor after the entropy stage, indexed by tcodec_role. */
typedef struct ref_streams {
  int present[TCODEC_ROLE_COUNT_];
  uint8_t *b[TCODEC_ROLE_COUNT_]; /* malloc'd, never NULL when present (1 byte if len 0) */
  uint64_t len[TCODEC_ROLE_COUNT_];
} ref_streams;

void ref_streams_free(ref_streams *s);
/* Fetch every stream of tensor `index` with tcodec_reader_stream_size and
 * tcodec_reader_decode_stream. Returns the library's status on failure. */
int ref_fetch_streams(tcodec_reader *r, size_t index, ref_streams *s);
/* Index of the first role whose presence, length or bytes differ; -1 if equal. */
int ref_streams_diff(const ref_streams *a, const ref_streams *b, uint64_t *byte_index);

/* Expected streams of a tensor given to tcodec_writer_add_quantized (the naive
 * encoder, from the spec layouts and the API's description of tcodec_quantized).
 * Validates nothing beyond what it needs to lay the streams out. */
int ref_encode_quantized(unsigned ndim, const uint64_t *shape, const tcodec_quantized *q,
                         ref_streams *out, char *why, size_t why_cap);
/* Expected DATA stream of a raw tensor; `bg`: byte planes. */
int ref_encode_raw(int dtype, uint64_t nelem, const void *src, int bg, ref_streams *out);

/* ---- decoding ---- */

typedef struct ref_output {
  uint64_t nelem;
  float *f32;        /* nelem values (TCODEC_OUT_F32) */
  uint8_t *original; /* nelem * dtype size bytes (TCODEC_OUT_ORIGINAL) */
  uint8_t *symbols;  /* nelem bytes (TCODEC_OUT_SYMBOLS): int8 for ternary, binary and
                        hybrid, uint8 codes for k-bit; NULL for raw */
} ref_output;

void ref_output_free(ref_output *o);

/* Decode one tensor from its streams. `raw_bg` says whether a raw tensor's DATA
 * stream is byte-grouped: the flag lives in the directory ("bg"), which
 * tcodec_tensor_info does not expose, so the caller (who wrote the file) passes it.
 * Checks what the spec asks a decoder to check on the payload: stream lengths,
 * popcounts against nnz, zero padding bits, zero points < 2^bits (E_PAYLOAD /
 * E_STREAM_SIZE / E_PARAMS). */
int ref_decode(const tcodec_tensor_info *info, const ref_streams *s, int raw_bg, ref_output *out,
               char *why, size_t why_cap);

/* Decode tensor `index` with the library (ORIGINAL, F32 and, where they exist,
 * SYMBOLS) and with ref_decode on the library's streams, and compare bit for bit.
 * `nan_tolerant`: an F32 NaN only needs a NaN on the other side (conversions of
 * NaNs between formats are not specified). Returns 0 if everything matches, else
 * a nonzero status with the first difference described in `why`. */
int ref_check_library(tcodec_reader *r, size_t index, int raw_bg, int nan_tolerant, char *why,
                      size_t why_cap);

#endif /* TCODEC_TEST_REFERENCE_H */
