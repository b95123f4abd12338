/* Internal definitions shared by the decoder and the encoder. Never installed. */
#ifndef TC_INTERNAL_H
#define TC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tcodec/tcodec.h"

/* ---- format constants (spec/FORMAT.md) ---- */
#define TC_HEADER_SIZE 64u
#define TC_TRAILER_SIZE 48u
#define TC_MIN_FILE_SIZE (TC_HEADER_SIZE + TC_TRAILER_SIZE)
#define TC_MAX_NDIM 32u
#define TC_MAX_NAME 65535u
#define TC_MIN_ALIGN 64u
#define TC_MAX_ALIGN (1u << 20)
#define TC_CODER_MAX_RESERVED 127u

extern const uint8_t tc_magic[8];
extern const uint8_t tc_end_magic[8];

/* ---- allocation (per context) ---- */
typedef struct tc_mem {
  tcodec_allocator a; /* never NULL functions after tc_mem_init */
  uint64_t limit;     /* max bytes outstanding (UINT64_MAX: none) */
  uint64_t used;      /* bytes outstanding */
  int over_limit;     /* the last failed request failed because of `limit` */
} tc_mem;

/* Status for a failed tc_malloc: TCODEC_E_LIMIT if the limit refused it, else NOMEM. */
static inline int tc_mem_err(const tc_mem *m) {
  return m->over_limit ? TCODEC_E_LIMIT : TCODEC_E_NOMEM;
}

void tc_mem_init(tc_mem *m, const tcodec_allocator *a);
/* Size 0 allocates 1 byte, so NULL always means failure. */
void *tc_malloc(tc_mem *m, size_t size);
void *tc_calloc(tc_mem *m, size_t n, size_t size); /* overflow-checked, zeroed */
void tc_free(tc_mem *m, void *p);
char *tc_strndup(tc_mem *m, const char *s, size_t n);

/* Overflow-checked arithmetic: return 0 on success, TCODEC_E_OVERFLOW otherwise. */
int tc_mul_u64(uint64_t a, uint64_t b, uint64_t *out);
int tc_add_u64(uint64_t a, uint64_t b, uint64_t *out);
static inline uint64_t tc_ceil_div(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }
static inline uint64_t tc_bits_bytes(uint64_t nbits) { return nbits / 8 + (nbits % 8 != 0); }

/* ---- little-endian ---- */
static inline uint16_t tc_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t tc_le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t tc_le64(const uint8_t *p) {
  return (uint64_t)tc_le32(p) | ((uint64_t)tc_le32(p + 4) << 32);
}
static inline void tc_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
/* Written out so that compilers merge them into single stores. */
static inline void tc_put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}
static inline void tc_put64(uint8_t *p, uint64_t v) {
  tc_put32(p, (uint32_t)v);
  tc_put32(p + 4, (uint32_t)(v >> 32));
}

/* ---- checksums ---- */
uint64_t tc_xxh3(const void *src, size_t src_size);

/* ---- float conversions (common/tc_float.c) ---- */
float tc_f16_to_f32(uint16_t h);
uint16_t tc_f32_to_f16(float f);  /* round to nearest even; NaN stays NaN */
float tc_bf16_to_f32(uint16_t h);
uint16_t tc_f32_to_bf16(float f); /* round to nearest even; NaN stays NaN */
float tc_e4m3_to_f32(uint8_t v);
float tc_e5m2_to_f32(uint8_t v);
/* Element `i` of an array of `dtype` (LE bytes) as f32 / f64. */
float tc_load_f32(int dtype, const uint8_t *src, uint64_t i);
/* Store f32 value v as element i of dtype (floats: RNE; integers: round half even,
 * saturate, NaN -> 0; bool: v != 0). f64 stores exactly. */
void tc_store_f32(int dtype, uint8_t *dst, uint64_t i, float v);
/* Convert one scale stored as sdtype to the bytes of dtype (both float types),
 * exactly when dtype is at least as wide, else RNE. Writes tcodec_dtype_size(dtype) bytes. */
void tc_convert_scalar(int sdtype, const uint8_t *src, int dtype, uint8_t *dst);
/* Flip the sign bit of a float element of `dtype` (size bytes) in place. */
void tc_flip_sign(int dtype, uint8_t *elem);
int tc_is_float_dtype(int dtype);

/* ---- bits (common/tc_bits.c) ---- */
static inline int tc_bit(const uint8_t *s, uint64_t i) { return (s[i >> 3] >> (i & 7)) & 1; }
uint64_t tc_popcount(const uint8_t *src, uint64_t nbits);
/* 1 if the padding bits after nbits in the last byte are all zero. */
int tc_pad_is_zero(const uint8_t *src, uint64_t nbits);

/* ---- parsed tensor description (shared by both sides) ---- */
typedef struct tc_stream {
  uint32_t role;  /* tcodec_role */
  uint32_t coder; /* tcodec_coder */
  uint64_t off, size, len, xxh3;
  int present;
} tc_stream;

typedef struct tc_params {
  int gran;       /* tcodec_granularity */
  unsigned axis;
  uint64_t group;
  int sym;
  int sdtype;
  uint64_t nnz;
  unsigned bits;
  int zp;
  int sparse;
  int fdtype;
  uint64_t nter;
  int bg;
  uint64_t units; /* derived */
} tc_params;

typedef struct tc_kv {
  char *key;
  uint8_t *value; /* NUL-terminated also when bytes */
  size_t value_size;
  int is_text;
} tc_kv;

/* Free n key/value pairs and the array (NULL is fine). */
void tc_kvs_free(tc_mem *m, tc_kv *kv, size_t n);

typedef struct tc_tensor {
  char *name;
  int dtype;
  int enc;
  unsigned ndim;
  uint64_t *shape;
  uint64_t nelem;
  tc_params p;
  tc_stream s[TCODEC_ROLE_COUNT_]; /* indexed by role */
  tc_kv *meta;
  size_t nmeta;
} tc_tensor;

typedef struct tc_section {
  char *type;
  int critical;
  tc_stream s;
} tc_section;

/* Units of a tensor with given shape and params (gran/axis/group). 0 on success. */
int tc_units(unsigned ndim, const uint64_t *shape, uint64_t nelem, const tc_params *p,
             uint64_t *units);
/* Unit of element i: caller iterates; helper for reference paths. */
uint64_t tc_unit_of(unsigned ndim, const uint64_t *shape, const tc_params *p, uint64_t i);
/* For gran channel: inner = prod(shape[axis+1..]) (1 if none). */
uint64_t tc_inner(unsigned ndim, const uint64_t *shape, unsigned axis);

/* ---- encodings: table of small functions (decode side) ---- */

/* Decoded (post entropy stage) stream bytes, indexed by role; len 0 / NULL if absent. */
typedef struct tc_bufs {
  const uint8_t *b[TCODEC_ROLE_COUNT_];
  uint64_t len[TCODEC_ROLE_COUNT_];
} tc_bufs;

typedef struct tc_encoding_ops {
  int enc;
  const char *name;
  /* Validate params of a parsed tensor (dtype, gran, etc.), compute p.units and the
   * required `len` of each stream role; mark required roles in need[].
   * Returns 0 or TCODEC_E_PARAMS / E_UNSUPPORTED_DTYPE / E_OVERFLOW. */
  int (*layout)(tc_tensor *t, uint64_t need_len[TCODEC_ROLE_COUNT_],
                int need[TCODEC_ROLE_COUNT_]);
  /* Decoded size for an output form (E_OUTPUT_FORMAT if the form does not exist). */
  int (*out_size)(const tc_tensor *t, int output, uint64_t *size);
  /* Decode into dst (cap checked by caller against out_size). Validates stream
   * contents (popcounts, padding bits, zero point range): E_PAYLOAD. */
  int (*decode)(const tc_tensor *t, const tc_bufs *in, int output, uint8_t *dst);
} tc_encoding_ops;

const tc_encoding_ops *tc_encoding_find(int enc);

#endif /* TC_INTERNAL_H */
