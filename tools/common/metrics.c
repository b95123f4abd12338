/* Reconstruction metrics (see metrics.h). */
#include "metrics.h"

#include <math.h>
#include <string.h>

#include <tcodec/tcodec.h>

#include "fconv.h"

#define TT_CHUNK 4096

static void add_pairs(tt_metrics *m, const double *x, const double *y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    double a = x[i], b = y[i];
    m->zeros += b == 0.0;
    if (!isfinite(a) || !isfinite(b)) {
      int same = (isnan(a) && isnan(b)) || a == b;
      if (!same) {
        m->nonfinite++;
        m->max_abs = INFINITY;
      }
      continue;
    }
    double e = b - a;
    m->sum_x2 += a * a;
    m->sum_y2 += b * b;
    m->sum_xy += a * b;
    m->sum_e2 += e * e;
    if (fabs(e) > m->max_abs) m->max_abs = fabs(e);
  }
  m->n += n;
}

void tt_metrics_add(tt_metrics *m, int dx, const uint8_t *x, int dy, const uint8_t *y, uint64_t n) {
  double bx[TT_CHUNK], by[TT_CHUNK];
  size_t sx = tcodec_dtype_size(dx), sy = tcodec_dtype_size(dy);
  for (uint64_t i = 0; i < n; i += TT_CHUNK) {
    size_t k = n - i < TT_CHUNK ? (size_t)(n - i) : TT_CHUNK;
    tt_to_f64(dx, x + i * sx, k, bx);
    tt_to_f64(dy, y + i * sy, k, by);
    add_pairs(m, bx, by, k);
  }
}

void tt_metrics_finish(const tt_metrics *m, tt_quality *q) {
  memset(q, 0, sizeof(*q));
  q->max_abs = m->max_abs;
  q->sparsity = m->n ? (double)m->zeros / (double)m->n : 0.0;
  if (m->nonfinite > 0) {
    q->sqnr_db = -INFINITY;
    q->rel_l2 = INFINITY;
    q->cosine = NAN;
    return;
  }
  if (m->sum_e2 == 0.0)
    q->sqnr_db = INFINITY;
  else if (m->sum_x2 == 0.0)
    q->sqnr_db = -INFINITY;
  else
    q->sqnr_db = 10.0 * log10(m->sum_x2 / m->sum_e2);
  if (m->sum_e2 == 0.0)
    q->rel_l2 = 0.0;
  else
    q->rel_l2 = m->sum_x2 > 0.0 ? sqrt(m->sum_e2 / m->sum_x2) : INFINITY;
  if (m->sum_x2 > 0.0 && m->sum_y2 > 0.0)
    q->cosine = m->sum_xy / sqrt(m->sum_x2 * m->sum_y2);
  else
    q->cosine = m->sum_x2 == m->sum_y2 ? 1.0 : 0.0;
}
