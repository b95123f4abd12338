/* LSB-first bit writer for the encoder (spec: "Conventions": bit i of a stream is
 * bit i % 8 of byte i / 8). Bits gather in a 64-bit word and leave 32 at a time,
 * so the writer never touches a byte past ceil(total_bits / 8): the caller
 * allocates exactly tc_bits_bytes(total_bits). The padding bits of the last byte
 * come out zero because only the masked low bits of each value enter the word. */
#ifndef TC_BITW_H
#define TC_BITW_H

#include <stddef.h>
#include <stdint.h>

#include "../common/tc_internal.h"

typedef struct tc_bitw {
  uint8_t *dst;
  size_t pos;   /* bytes written */
  uint64_t acc; /* pending bits, oldest in bit 0 */
  unsigned n;   /* number of pending bits (< 32 between calls) */
} tc_bitw;

static inline void tc_bitw_init(tc_bitw *w, uint8_t *dst) {
  w->dst = dst;
  w->pos = 0;
  w->acc = 0;
  w->n = 0;
}

/* Append the low `nbits` (0..32) bits of v; 0 bits is a no-op, which lets callers
 * write optional bits without a branch. */
static inline void tc_bitw_put(tc_bitw *w, uint32_t v, unsigned nbits) {
  w->acc |= ((uint64_t)v & (((uint64_t)1 << nbits) - 1)) << w->n;
  w->n += nbits;
  if (w->n >= 32) {
    tc_put32(w->dst + w->pos, (uint32_t)w->acc);
    w->pos += 4;
    w->acc >>= 32;
    w->n -= 32;
  }
}

/* Write the pending bits (last byte zero-padded); returns the bytes written in all. */
static inline size_t tc_bitw_flush(tc_bitw *w) {
  while (w->n > 0) {
    w->dst[w->pos++] = (uint8_t)w->acc;
    w->acc >>= 8;
    w->n = w->n > 8 ? w->n - 8 : 0;
  }
  return w->pos;
}

#endif /* TC_BITW_H */
