/* Quality of a reconstruction y of reference values x (tcpack's round-trip report,
 * tcunpack --compare): SQNR in dB, relative L2 error, max abs error, cosine
 * similarity, and the fraction of zeros in y. Accumulated chunk by chunk, so a
 * tensor never needs a second full-size copy. */
#ifndef TT_METRICS_H
#define TT_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct tt_metrics {
  uint64_t n;
  double sum_x2, sum_y2, sum_xy, sum_e2, max_abs;
  uint64_t zeros;        /* y == 0 */
  uint64_t nonfinite;    /* pairs where x or y is NaN/Inf and they differ */
} tt_metrics;

typedef struct tt_quality {
  double sqnr_db;  /* 10 log10(sum x^2 / sum (y-x)^2); +inf when exact */
  double rel_l2;   /* ||y - x|| / ||x||; 0 when exact, +inf when x = 0 and y != 0 */
  double max_abs;  /* max |y - x| */
  double cosine;   /* <x, y> / (||x|| ||y||); 1 when both are 0 */
  double sparsity; /* zeros / n */
} tt_quality;

/* Add n pairs: x (reference, dtype dx) and y (reconstruction, dtype dy), both
 * little-endian element bytes. */
void tt_metrics_add(tt_metrics *m, int dx, const uint8_t *x, int dy, const uint8_t *y, uint64_t n);
void tt_metrics_finish(const tt_metrics *m, tt_quality *q);

#endif
