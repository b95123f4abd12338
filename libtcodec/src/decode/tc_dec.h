/* Decode-side internals shared by the encodings (dec_*.c): parameter checks,
 * bit reading, walking scale units, and turning -1/0/+1 symbols into values.
 * Never installed. */
#ifndef TC_DEC_H
#define TC_DEC_H

#include <string.h>

#include "../common/tc_internal.h"

/* Elements turned into symbols per step before expansion to values: symbols are
 * staged in a stack buffer this big. A multiple of 64, so every step except the
 * last starts on a mask byte (and 8-byte word) boundary. */
#define TC_DEC_CHUNK 2048u

/* The encodings (one per dec_*.c file), gathered by tc_encoding_find. */
extern const tc_encoding_ops tc_dec_raw_ops;
extern const tc_encoding_ops tc_dec_ternary_ops;
extern const tc_encoding_ops tc_dec_binary_ops;
extern const tc_encoding_ops tc_dec_kbit_ops;
extern const tc_encoding_ops tc_dec_hybrid_ops;

/* ---- layout helpers (dec_table.c) ---------------------------------------- */

/* Marks `role` required with decoded length `len`. */
static inline void tc_dec_need(uint64_t need_len[TCODEC_ROLE_COUNT_], int need[TCODEC_ROLE_COUNT_],
                               int role, uint64_t len) {
  need[role] = 1;
  need_len[role] = len;
}

/* 0 for the original dtypes quantized encodings accept (f64, f32, f16, bf16),
 * else TCODEC_E_UNSUPPORTED_DTYPE. */
int tc_dec_check_quant_dtype(int dtype);
/* 0 for a scale dtype (f32, f16, bf16), else TCODEC_E_PARAMS. */
int tc_dec_check_sdtype(int sdtype);
/* What ternary, binary and k-bit share: original dtype, sdtype, gran/axis/group
 * (writes t->p.units) and the SCALES stream of `per_unit` values per unit. */
int tc_dec_scaled_layout(tc_tensor *t, uint64_t per_unit, uint64_t need_len[TCODEC_ROLE_COUNT_],
                         int need[TCODEC_ROLE_COUNT_]);
/* Output sizes of the forms every encoding has; SYMBOLS only if `has_symbols`. */
int tc_dec_out_size(const tc_tensor *t, int output, int has_symbols, uint64_t *size);

/* ---- host byte order ------------------------------------------------------ */

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define TC_DEC_LE 1
#endif
#endif
#ifndef TC_DEC_LE
#define TC_DEC_LE 0
#endif

static inline uint64_t tc_dec_ld64(const uint8_t *p) {
  uint64_t v;
  if (!TC_DEC_LE) return tc_le64(p);
  memcpy(&v, p, sizeof(v));
  return v;
}

static inline void tc_dec_st64(uint8_t *p, uint64_t v) {
  if (TC_DEC_LE) memcpy(p, &v, sizeof(v));
  else tc_put64(p, v);
}

static inline void tc_dec_st_f32(uint8_t *p, float v) {
  uint32_t u;
  memcpy(&u, &v, sizeof(u));
  if (TC_DEC_LE) memcpy(p, &u, sizeof(u));
  else tc_put32(p, u);
}

/* Bits pos.. of a stream of len bytes, in the low bits of the result. At least
 * 57 bits are valid (64 - pos % 8); bits past the end of the stream read as 0, so
 * reading near the end never touches memory outside the stream. */
static inline uint64_t tc_dec_bits_at(const uint8_t *src, uint64_t len, uint64_t pos) {
  uint64_t at = pos >> 3, w = 0;
  if (at < len && len - at >= 8) {
    w = tc_dec_ld64(src + at);
  } else {
    for (unsigned k = 0; at + k < len; k++) w |= (uint64_t)src[at + k] << (8 * k);
  }
  return w >> (pos & 7);
}

/* ---- scale units -------------------------------------------------------- */

/* Walks units in element order with counters instead of a division per element:
 * elements come in runs of `run` sharing one unit; units count up and wrap to 0
 * after `wrap` (channel: run = inner, wrap = shape[axis]; group: run = group;
 * tensor: one endless run). */
typedef struct tc_uiter {
  uint64_t unit; /* unit of the next element */
  uint64_t left; /* elements left in the current run (never 0) */
  uint64_t run;
  uint64_t wrap;
} tc_uiter;

/* t must have passed its layout (gran/axis/group valid) and have elements. */
static inline void tc_uiter_init(tc_uiter *it, const tc_tensor *t) {
  it->unit = 0;
  it->run = UINT64_MAX;
  it->wrap = UINT64_MAX;
  if (t->p.gran == TCODEC_GRAN_CHANNEL) {
    it->run = tc_inner(t->ndim, t->shape, t->p.axis);
    it->wrap = t->shape[t->p.axis];
  } else if (t->p.gran == TCODEC_GRAN_GROUP) {
    it->run = t->p.group;
  }
  it->left = it->run;
}

/* One unit for every element (a hybrid ternary filter). */
static inline void tc_uiter_fixed(tc_uiter *it, uint64_t unit) {
  it->unit = unit;
  it->left = it->run = it->wrap = UINT64_MAX;
}

/* How many of the next `max` elements share the current unit. */
static inline uint64_t tc_uiter_span(const tc_uiter *it, uint64_t max) {
  return it->left < max ? it->left : max;
}

/* Consume k <= tc_uiter_span elements. */
static inline void tc_uiter_skip(tc_uiter *it, uint64_t k) {
  it->left -= k;
  if (it->left == 0) {
    it->unit = it->unit + 1 == it->wrap ? 0 : it->unit + 1;
    it->left = it->run;
  }
}

/* ---- symbols -1/0/+1 and their values (dec_ternary.c) --------------------- */

/* Where symbols come from: a ternary mask plus the signs of the nonzeros, or
 * (mask == NULL) binary signs only. Positions are bit cursors that advance. */
typedef struct tc_symsrc {
  const uint8_t *mask;
  uint64_t mlen, mpos;
  const uint8_t *signs;
  uint64_t slen, spos;
} tc_symsrc;

/* Scales of a ternary/binary tensor and the element dtype values are written in. */
typedef struct tc_scaleset {
  const uint8_t *b; /* SCALES stream: per unit s, or w_p then w_n */
  int sdtype;
  int sym;
  int dtype;        /* output element dtype: TCODEC_F32 or the original float dtype */
} tc_scaleset;

/* The next cnt symbols as int8 bytes (0x01, 0x00, 0xFF) into dst. The stream
 * contents must have been validated (mask popcount = number of signs). */
void tc_dec_syms(tc_symsrc *s, uint64_t cnt, uint8_t *dst);
/* The next cnt symbols as values of sc->dtype into dst, units following *it:
 * +1 -> w_p converted to dtype, -1 -> w_n converted then sign-flipped, 0 -> +0. */
void tc_dec_sym_values(tc_symsrc *s, tc_uiter *it, const tc_scaleset *sc, uint64_t cnt,
                       uint8_t *dst);

/* ---- element conversions (dec_raw.c) ---------------------------------- */

/* cnt f16 values (LE) to f32, bit for bit as tc_f16_to_f32 but vectorized. */
void tc_dec_f16_to_f32(const uint8_t *src, uint64_t cnt, uint8_t *dst);

#endif /* TC_DEC_H */
