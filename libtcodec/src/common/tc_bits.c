/* Bit streams (LSB-first, spec "Conventions"): population counts and the check
 * that the padding bits after the last one are zero. */
#include <string.h>

#include "tc_internal.h"

/* The builtin is one instruction only when the target has POPCNT; otherwise it
 * becomes a libgcc call, slower than the inline bit-slicing below. */
#if defined(__POPCNT__)
static unsigned tc_pop64(uint64_t x) { return (unsigned)__builtin_popcountll(x); }
#else
static unsigned tc_pop64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return (unsigned)((x * 0x0101010101010101ull) >> 56);
}
#endif

/* Counts only bits 0..nbits-1, so the padding of the last byte never counts:
 * padding is checked separately and reported as its own error. Masks are read
 * 8 bytes at a time (memcpy: alignment-safe); popcount does not care about the
 * host byte order. */
uint64_t tc_popcount(const uint8_t *src, uint64_t nbits) {
  uint64_t nbytes = nbits / 8, total = 0, i = 0;
  for (; i + 8 <= nbytes; i += 8) {
    uint64_t w;
    memcpy(&w, src + i, sizeof(w));
    total += tc_pop64(w);
  }
  for (; i < nbytes; i++) total += tc_pop64(src[i]);
  if (nbits % 8 != 0) total += tc_pop64(src[nbytes] & ((1u << (nbits % 8)) - 1));
  return total;
}

int tc_pad_is_zero(const uint8_t *src, uint64_t nbits) {
  if (nbits % 8 == 0) return 1;
  return (src[nbits / 8] >> (nbits % 8)) == 0;
}
