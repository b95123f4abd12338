/* tcsweep: rate-distortion sweep of the library's quantizers on one model.
 *
 *   tcsweep MODEL [-o PREFIX] [--methods twn,ec2t,binary,kbit,hybrid,adaptive]
 *           [--min-elements N] [--ops Conv,MatMul,Gemm] [--zstd-level L] [-q]
 *
 * For each method and each value of its knob, every eligible tensor (float,
 * ndim >= 2, >= N elements, consumer op in --ops when given) is quantized with
 * the public API into one in-memory container, read back, and measured:
 *   coded bits/weight = 8 * stored_bytes / elements (streams of the tensor, at
 *   the writer's zstd level), SQNR dB = 10 log10(sum w^2 / sum (w - w^)^2),
 *   relative L2 error, and the order-0 entropy (bits/symbol) of the symbols
 *   (ternary, binary; k-bit codes) -- "ALL" rows give the element-weighted mean.
 * Writes PREFIX.csv, PREFIX.json, PREFIX.svg (whole-model SQNR against bits,
 * one curve per method) and PREFIX-layers.svg (per layer: EC2T against TWN),
 * then prints the points and "EC2T vs TWN at equal bits". */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tcodec/tcodec.h>

#include "common/cli.h"
#include "common/fconv.h"
#include "common/models.h"

enum { M_TWN, M_EC2T, M_BINARY, M_KBIT, M_HYBRID, M_ADAPTIVE, M_COUNT };
static const char *const k_mname[M_COUNT] = {"twn", "ec2t", "binary", "kbit", "hybrid", "adaptive"};
static const char *const k_knob[M_COUNT] = {"threshold", "lambda", "none", "bits", "error_budget",
                                            "size_weight"};
static const char *const k_color[M_COUNT] = {"#1f77b4", "#d62728", "#2ca02c",
                                             "#9467bd", "#ff7f0e", "#8c564b"};
static const double k_twn[] = {0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5};
static const double k_ec2t[] = {0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8};
static const double k_bin[] = {0};
static const double k_kbit[] = {2, 3, 4, 5, 6, 7, 8};
static const double k_hyb[] = {0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8};
static const double k_ada[] = {0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1};
static const double *const k_vals[M_COUNT] = {k_twn, k_ec2t, k_bin, k_kbit, k_hyb, k_ada};
static const size_t k_nvals[M_COUNT] = {13, 11, 1, 7, 7, 7};

typedef struct meas {
  double bits, sqnr, rel, ent; /* ent NAN when not applicable */
  uint64_t n;
} meas;

typedef struct point {
  int method;
  double knob;
  meas all;
  meas *t; /* per eligible tensor */
} point;

typedef struct sweep {
  const char *model, *prefix;
  int methods[M_COUNT];
  uint64_t min_elems;
  char **ops;
  size_t nops;
  int zlevel, quiet;
  tt_source src;
  size_t ne;       /* eligible tensors */
  size_t *idx;     /* their indexes in src.model */
  float **w;       /* their values as f32 */
  point *pts;
  size_t npts;
} sweep;

/* ---- in-memory sink ---------------------------------------------------------------------- */

typedef struct membuf {
  uint8_t *p;
  size_t n, cap;
} membuf;

static int mem_write(void *user, const void *src, size_t size) {
  membuf *b = user;
  if (b->n + size > b->cap) {
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->n + size) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) return 1;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, src, size);
  b->n += size;
  return 0;
}

/* ---- measuring one point ----------------------------------------------------------------- */

static void request_for(int method, double knob, tcodec_request *q) {
  tcodec_request_init(q);
  q->granularity = TCODEC_GRAN_CHANNEL;
  q->axis = 0;
  switch (method) {
    case M_TWN: q->method = TCODEC_Q_TWN; q->threshold = knob; break;
    case M_EC2T: q->method = TCODEC_Q_EC2T; q->threshold = 0.7; q->lambda = knob; break;
    case M_BINARY: q->method = TCODEC_Q_BINARY; break;
    case M_KBIT: q->method = TCODEC_Q_KBIT; q->bits = (unsigned)knob; break;
    case M_HYBRID:
      q->method = TCODEC_Q_HYBRID;
      q->error_budget = knob;
      q->full_dtype = TCODEC_F16;
      break;
    default: q->method = TCODEC_Q_ADAPTIVE_BT; q->size_weight = knob; break;
  }
}

static double sqnr_of(double s2, double e2) {
  if (e2 <= 0) return INFINITY;
  if (s2 <= 0) return -INFINITY;
  return 10.0 * log10(s2 / e2);
}

static double entropy_of(const uint64_t *h, size_t nh, uint64_t n) {
  double e = 0;
  for (size_t i = 0; i < nh; i++)
    if (h[i]) {
      double p = (double)h[i] / (double)n;
      e -= p * log2(p);
    }
  return e;
}

static int run_point(sweep *s, point *pt) {
  tcodec_writer *w = NULL;
  tcodec_reader *r = NULL;
  membuf mb = {0};
  float *y = NULL;
  uint8_t *sym = NULL;
  int rc = TT_EXIT_ERROR;
  tcodec_request req;
  request_for(pt->method, pt->knob, &req);
  pt->t = calloc(s->ne ? s->ne : 1, sizeof(meas));
  if (pt->t == NULL) goto oom;
  if (tcodec_writer_create(&w, NULL) != TCODEC_OK) goto oom;
  if (tcodec_writer_set_param(w, TCODEC_WP_ZSTD_LEVEL, s->zlevel) != TCODEC_OK ||
      tcodec_writer_begin(w, mem_write, &mb) != TCODEC_OK)
    goto werr;
  for (size_t i = 0; i < s->ne; i++) {
    const tcf_tensor *t = &s->src.model.tensors[s->idx[i]];
    tcodec_tensor_desc d;
    memset(&d, 0, sizeof(d));
    d.name = t->name;
    d.dtype = t->dtype;
    d.ndim = t->ndim;
    d.shape = t->shape;
    if (tcodec_writer_add_f32(w, &d, s->w[i], (size_t)t->nelem, &req) != TCODEC_OK) {
      tt_error(s->model, TT_NO_OFFSET, "%s %s=%g: tensor %s: %s", k_mname[pt->method],
               k_knob[pt->method], pt->knob, t->name, tcodec_writer_error_message(w));
      goto out;
    }
  }
  if (tcodec_writer_finish(w) != TCODEC_OK) goto werr;
  if (tcodec_reader_create(&r, NULL) != TCODEC_OK) goto oom;
  if (tcodec_reader_open_memory(r, mb.p, mb.n) != TCODEC_OK) {
    tt_error(s->model, TT_NO_OFFSET, "reading back: %s", tcodec_reader_error_message(r));
    goto out;
  }
  double S2 = 0, E2 = 0, bytes = 0, entw = 0;
  uint64_t N = 0, entn = 0;
  for (size_t i = 0; i < s->ne; i++) {
    const tcf_tensor *t = &s->src.model.tensors[s->idx[i]];
    size_t k;
    tcodec_tensor_info inf;
    if (tcodec_reader_find(r, t->name, &k) != TCODEC_OK ||
        tcodec_reader_tensor_info(r, k, &inf) != TCODEC_OK)
      goto rerr;
    size_t n = (size_t)inf.nelem;
    float *ny = realloc(y, n * sizeof(float));
    if (ny == NULL) goto oom;
    y = ny;
    if (tcodec_reader_decode(r, k, TCODEC_OUT_F32, y, n * sizeof(float)) != TCODEC_OK) goto rerr;
    double s2 = 0, e2 = 0;
    for (size_t j = 0; j < n; j++) {
      double x = s->w[i][j], e = (double)y[j] - x;
      s2 += x * x;
      e2 += e * e;
    }
    meas *m = &pt->t[i];
    m->n = n;
    m->bits = 8.0 * (double)inf.stored_bytes / (double)n;
    m->sqnr = sqnr_of(s2, e2);
    m->rel = s2 > 0 ? sqrt(e2 / s2) : (e2 > 0 ? INFINITY : 0);
    m->ent = NAN;
    if (inf.encoding == TCODEC_ENC_TERNARY || inf.encoding == TCODEC_ENC_BINARY ||
        inf.encoding == TCODEC_ENC_KBIT) {
      uint8_t *ns = realloc(sym, n ? n : 1);
      if (ns == NULL) goto oom;
      sym = ns;
      if (tcodec_reader_decode(r, k, TCODEC_OUT_SYMBOLS, sym, n) != TCODEC_OK) goto rerr;
      uint64_t h[256] = {0};
      for (size_t j = 0; j < n; j++) h[sym[j]]++;
      m->ent = entropy_of(h, 256, n);
      entw += m->ent * (double)n;
      entn += n;
    }
    S2 += s2;
    E2 += e2;
    bytes += (double)inf.stored_bytes;
    N += n;
  }
  pt->all.n = N;
  pt->all.bits = N ? 8.0 * bytes / (double)N : 0;
  pt->all.sqnr = sqnr_of(S2, E2);
  pt->all.rel = S2 > 0 ? sqrt(E2 / S2) : 0;
  pt->all.ent = entn == N && N ? entw / (double)N : NAN;
  rc = TT_EXIT_OK;
  goto out;
oom:
  tt_error(s->model, TT_NO_OFFSET, "out of memory");
  goto out;
werr:
  tt_error(s->model, TT_NO_OFFSET, "writer: %s", tcodec_writer_error_message(w));
  goto out;
rerr:
  tt_error(s->model, TT_NO_OFFSET, "reading back: %s", tcodec_reader_error_message(r));
out:
  tcodec_writer_free(w);
  tcodec_reader_free(r);
  free(mb.p);
  free(y);
  free(sym);
  return rc;
}

/* ---- outputs ----------------------------------------------------------------------------- */

static void put_num(FILE *f, double v, int json) {
  if (isnan(v) || isinf(v)) {
    if (json) fputs("null", f);
    else if (isinf(v)) fputs(v > 0 ? "inf" : "-inf", f);
    return;
  }
  fprintf(f, "%.6g", v);
}

static void put_json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

static void put_csv_str(FILE *f, const char *s) {
  if (strpbrk(s, ",\"\n\r") == NULL) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void put_row(FILE *f, int json, const point *p, const char *name, const meas *m) {
  if (json) {
    fputs("    {\"method\": ", f);
    put_json_str(f, k_mname[p->method]);
    fputs(", \"knob_name\": ", f);
    put_json_str(f, k_knob[p->method]);
    fprintf(f, ", \"knob\": %.6g, \"tensor\": ", p->knob);
    put_json_str(f, name);
    fprintf(f, ", \"elements\": %llu, \"bits_per_weight\": ", (unsigned long long)m->n);
    put_num(f, m->bits, 1);
    fputs(", \"sqnr_db\": ", f);
    put_num(f, m->sqnr, 1);
    fputs(", \"rel_err\": ", f);
    put_num(f, m->rel, 1);
    fputs(", \"entropy\": ", f);
    put_num(f, m->ent, 1);
    fputc('}', f);
  } else {
    fprintf(f, "%s,%s,%.6g,", k_mname[p->method], k_knob[p->method], p->knob);
    put_csv_str(f, name);
    fprintf(f, ",%llu,", (unsigned long long)m->n);
    put_num(f, m->bits, 0);
    fputc(',', f);
    put_num(f, m->sqnr, 0);
    fputc(',', f);
    put_num(f, m->rel, 0);
    fputc(',', f);
    put_num(f, m->ent, 0);
    fputc('\n', f);
  }
}

static FILE *open_out(const sweep *s, const char *suffix, char *path, size_t cap) {
  snprintf(path, cap, "%s%s", s->prefix, suffix);
  FILE *f = fopen(path, "w");
  if (f == NULL) tt_error(path, TT_NO_OFFSET, "cannot write");
  return f;
}

static int close_out(FILE *f, const char *path) {
  int bad = ferror(f);
  if (fclose(f) != 0) bad = 1;
  if (bad) tt_error(path, TT_NO_OFFSET, "write failed");
  return bad ? TT_EXIT_ERROR : TT_EXIT_OK;
}

static int write_tables(const sweep *s) {
  char path[4200];
  FILE *f = open_out(s, ".csv", path, sizeof(path));
  if (f == NULL) return TT_EXIT_ERROR;
  fputs("method,knob_name,knob,tensor,elements,bits_per_weight,sqnr_db,rel_err,entropy\n", f);
  for (size_t i = 0; i < s->npts; i++) {
    put_row(f, 0, &s->pts[i], "ALL", &s->pts[i].all);
    for (size_t j = 0; j < s->ne; j++)
      put_row(f, 0, &s->pts[i], s->src.model.tensors[s->idx[j]].name, &s->pts[i].t[j]);
  }
  if (close_out(f, path)) return TT_EXIT_ERROR;
  if ((f = open_out(s, ".json", path, sizeof(path))) == NULL) return TT_EXIT_ERROR;
  fputs("{\n  \"model\": ", f);
  put_json_str(f, s->model);
  fprintf(f, ",\n  \"zstd_level\": %d,\n  \"granularity\": \"channel\",\n  \"axis\": 0,\n"
          "  \"tensors\": %zu,\n  \"rows\": [\n", s->zlevel, s->ne);
  int first = 1;
  for (size_t i = 0; i < s->npts; i++) {
    if (!first) fputs(",\n", f);
    first = 0;
    put_row(f, 1, &s->pts[i], "ALL", &s->pts[i].all);
    for (size_t j = 0; j < s->ne; j++) {
      fputs(",\n", f);
      put_row(f, 1, &s->pts[i], s->src.model.tensors[s->idx[j]].name, &s->pts[i].t[j]);
    }
  }
  fputs("\n  ]\n}\n", f);
  return close_out(f, path);
}

/* ---- SVG --------------------------------------------------------------------------------- */

static void svg_text(FILE *f, double x, double y, const char *anchor, int size, const char *extra,
                     const char *s) {
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\"%s>", x, y, anchor,
          size, extra);
  for (; *s; s++) {
    if (*s == '<') fputs("&lt;", f);
    else if (*s == '>') fputs("&gt;", f);
    else if (*s == '&') fputs("&amp;", f);
    else fputc(*s, f);
  }
  fputs("</text>\n", f);
}

static double nice_step(double range, int target) {
  double raw = range / target, p = pow(10, floor(log10(raw))), m = raw / p;
  return p * (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10);
}

typedef struct frame {
  double x0, y0, w, h;   /* plot area in pixels */
  double xa, xb, ya, yb; /* data range (x in log2 when logx) */
  int logx;
} frame;

static double fx(const frame *fr, double v) {
  if (fr->logx) v = log2(v);
  return fr->x0 + (v - fr->xa) / (fr->xb - fr->xa) * fr->w;
}
static double fy(const frame *fr, double v) {
  if (v < fr->ya) v = fr->ya;
  if (v > fr->yb) v = fr->yb;
  return fr->y0 + fr->h - (v - fr->ya) / (fr->yb - fr->ya) * fr->h;
}

static void svg_axes(FILE *f, const frame *fr, int fs, const char *xlabel, const char *ylabel) {
  char b[64];
  fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" "
          "stroke=\"#333\"/>\n", fr->x0, fr->y0, fr->w, fr->h);
  double ys = nice_step(fr->yb - fr->ya, 6);
  for (double v = ceil(fr->ya / ys) * ys; v <= fr->yb + 1e-9; v += ys) {
    double y = fy(fr, v);
    fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
            fr->x0, fr->x0 + fr->w, y, y);
    snprintf(b, sizeof(b), "%g", fabs(v) < 1e-9 ? 0.0 : v);
    svg_text(f, fr->x0 - 4, y + fs / 3.0, "end", fs, "", b);
  }
  if (fr->logx) {
    for (double e = ceil(fr->xa); e <= fr->xb + 1e-9; e += 1) {
      double x = fx(fr, pow(2, e));
      fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x,
              x, fr->y0, fr->y0 + fr->h);
      snprintf(b, sizeof(b), "%g", pow(2, e));
      svg_text(f, x, fr->y0 + fr->h + fs + 3, "middle", fs, "", b);
    }
  } else {
    double xs = nice_step(fr->xb - fr->xa, 4);
    for (double v = ceil(fr->xa / xs) * xs; v <= fr->xb + 1e-9; v += xs) {
      double x = fx(fr, v);
      fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x,
              x, fr->y0, fr->y0 + fr->h);
      snprintf(b, sizeof(b), "%g", v);
      svg_text(f, x, fr->y0 + fr->h + fs + 3, "middle", fs, "", b);
    }
  }
  if (xlabel) svg_text(f, fr->x0 + fr->w / 2, fr->y0 + fr->h + 2.4 * fs + 6, "middle", fs + 1, "",
                       xlabel);
  if (ylabel) {
    char tr[128];
    double x = fr->x0 - 3.2 * fs, y = fr->y0 + fr->h / 2;
    snprintf(tr, sizeof(tr), " transform=\"rotate(-90 %.1f %.1f)\"", x, y);
    svg_text(f, x, y, "middle", fs + 1, tr, ylabel);
  }
}

static void svg_curve(FILE *f, const frame *fr, const double *xs, const double *ys, size_t n,
                      const char *color, double r, int hollow) {
  fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" points=\"", color,
          r > 2 ? 2.0 : 1.2);
  for (size_t i = 0; i < n; i++)
    if (isfinite(ys[i])) fprintf(f, "%.1f,%.1f ", fx(fr, xs[i]), fy(fr, ys[i]));
  fputs("\"/>\n", f);
  for (size_t i = 0; i < n; i++)
    if (isfinite(ys[i]))
      fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" %s=\"%s\"%s/>\n", fx(fr, xs[i]),
              fy(fr, ys[i]), hollow ? r + 2 : r, hollow ? "stroke" : "fill", color,
              hollow ? " fill=\"none\" stroke-width=\"2\"" : "");
}

/* Whole-model or one tensor's (ti < SIZE_MAX) curve of a method, sorted by knob order. */
static size_t curve(const sweep *s, int method, size_t ti, double *xs, double *ys) {
  size_t n = 0;
  for (size_t i = 0; i < s->npts; i++) {
    if (s->pts[i].method != method) continue;
    const meas *m = ti == SIZE_MAX ? &s->pts[i].all : &s->pts[i].t[ti];
    xs[n] = m->bits;
    ys[n++] = m->sqnr;
  }
  return n;
}

static const char *base_name(const char *p) {
  const char *b = strrchr(p, '/');
  return b ? b + 1 : p;
}

static void range_of(const sweep *s, size_t ti, const int *use, double *bx0, double *bx1,
                     double *sy0, double *sy1) {
  *bx0 = INFINITY, *bx1 = -INFINITY, *sy0 = INFINITY, *sy1 = -INFINITY;
  for (size_t i = 0; i < s->npts; i++) {
    if (!use[s->pts[i].method]) continue;
    const meas *m = ti == SIZE_MAX ? &s->pts[i].all : &s->pts[i].t[ti];
    if (m->bits > 0) *bx0 = fmin(*bx0, m->bits), *bx1 = fmax(*bx1, m->bits);
    if (isfinite(m->sqnr)) *sy0 = fmin(*sy0, m->sqnr), *sy1 = fmax(*sy1, m->sqnr);
  }
  if (!isfinite(*bx0)) *bx0 = 1, *bx1 = 2;
  if (!isfinite(*sy0)) *sy0 = 0, *sy1 = 10;
  if (*sy1 - *sy0 < 1) *sy0 -= 0.5, *sy1 += 0.5;
  if (*bx1 <= *bx0) *bx1 = *bx0 * 2;
}

static int write_svg(const sweep *s) {
  char path[4200], t[512];
  FILE *f = open_out(s, ".svg", path, sizeof(path));
  if (f == NULL) return TT_EXIT_ERROR;
  double bx0, bx1, sy0, sy1;
  range_of(s, SIZE_MAX, s->methods, &bx0, &bx1, &sy0, &sy1);
  double ys = nice_step(sy1 - sy0, 6);
  frame fr = {90, 60, 700, 460, floor(log2(bx0)), ceil(log2(bx1)), floor(sy0 / ys) * ys,
              ceil(sy1 / ys) * ys, 1};
  if (fr.xb <= fr.xa) fr.xb = fr.xa + 1;
  fputs("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1060\" height=\"600\" "
        "font-family=\"sans-serif\">\n<rect width=\"1060\" height=\"600\" fill=\"white\"/>\n", f);
  snprintf(t, sizeof(t), "Rate-distortion: %s (%zu tensors, per-channel, zstd -%d)",
           base_name(s->model), s->ne, s->zlevel);
  svg_text(f, 500, 30, "middle", 18, " font-weight=\"bold\"", t);
  svg_axes(f, &fr, 13, "coded bits/weight (log scale)", "whole-model SQNR (dB)");
  double xs[32], yv[32];
  int row = 0;
  for (int m = 0; m < M_COUNT; m++) {
    if (!s->methods[m]) continue;
    size_t n = curve(s, m, SIZE_MAX, xs, yv);
    int hollow = m == M_ADAPTIVE || m == M_HYBRID;
    svg_curve(f, &fr, xs, yv, n, k_color[m], 4, hollow);
    double ly = 80 + row++ * 26;
    fprintf(f, "<line x1=\"810\" x2=\"840\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"2\"/><circle cx=\"825\" cy=\"%.1f\" r=\"%d\" %s=\"%s\"%s/>\n",
            ly, ly, k_color[m], ly, hollow ? 6 : 4, hollow ? "stroke" : "fill", k_color[m],
            hollow ? " fill=\"white\" stroke-width=\"2\"" : "");
    snprintf(t, sizeof(t), "%s (%s)", k_mname[m], k_knob[m]);
    svg_text(f, 848, ly + 5, "start", 14, "", t);
  }
  fputs("</svg>\n", f);
  return close_out(f, path);
}

static int write_layers_svg(const sweep *s) {
  char path[4200], t[512];
  FILE *f = open_out(s, "-layers.svg", path, sizeof(path));
  if (f == NULL) return TT_EXIT_ERROR;
  const int cols = 5, pw = 230, ph = 170;
  size_t rows = (s->ne + cols - 1) / cols;
  double W = cols * pw + 20, H = (double)rows * ph + 80;
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
          "font-family=\"sans-serif\">\n<rect width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n",
          W, H, W, H);
  snprintf(t, sizeof(t), "Per layer, SQNR (dB) vs coded bits/weight: %s — TWN (blue) vs EC2T (red)",
           base_name(s->model));
  svg_text(f, W / 2, 28, "middle", 16, " font-weight=\"bold\"", t);
  int use[M_COUNT] = {0};
  use[M_TWN] = s->methods[M_TWN];
  use[M_EC2T] = s->methods[M_EC2T];
  double xs[32], yv[32];
  for (size_t i = 0; i < s->ne; i++) {
    double ox = 10 + (double)(i % cols) * pw, oy = 50 + (double)(i / cols) * ph;
    double bx0, bx1, sy0, sy1;
    range_of(s, i, use, &bx0, &bx1, &sy0, &sy1);
    double xm = (bx1 - bx0) * 0.05, ym = (sy1 - sy0) * 0.08;
    frame fr = {ox + 42, oy + 20, pw - 55, ph - 62, bx0 - xm, bx1 + xm, sy0 - ym, sy1 + ym, 0};
    svg_axes(f, &fr, 9, NULL, NULL);
    const tcf_tensor *tt = &s->src.model.tensors[s->idx[i]];
    snprintf(t, sizeof(t), "%.34s (%llu)", tt->name, (unsigned long long)tt->nelem);
    svg_text(f, ox + pw / 2.0, oy + 14, "middle", 10, "", t);
    for (int m = 0; m < M_COUNT; m++) {
      if (!use[m]) continue;
      size_t n = curve(s, m, i, xs, yv);
      svg_curve(f, &fr, xs, yv, n, k_color[m], 2, 0);
    }
    svg_text(f, fr.x0 + fr.w / 2, fr.y0 + fr.h + 24, "middle", 9, "", "bits/weight");
  }
  fputs("</svg>\n", f);
  return close_out(f, path);
}

/* ---- summary ----------------------------------------------------------------------------- */

/* TWN's SQNR at `bits` by linear interpolation in bits between the two nearest TWN points;
 * NAN outside TWN's range. */
static double twn_at(const double *bx, const double *sy, size_t n, double bits) {
  double best = NAN, lo_b = -INFINITY, hi_b = INFINITY, lo_s = NAN, hi_s = NAN;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(sy[i])) continue;
    if (bx[i] <= bits && bx[i] > lo_b) lo_b = bx[i], lo_s = sy[i];
    if (bx[i] >= bits && bx[i] < hi_b) hi_b = bx[i], hi_s = sy[i];
  }
  if (!isfinite(lo_b) || !isfinite(hi_b)) return best;
  if (hi_b == lo_b) return lo_s;
  return lo_s + (hi_s - lo_s) * (bits - lo_b) / (hi_b - lo_b);
}

static void summary(const sweep *s) {
  printf("tcsweep: %s: %zu eligible tensors, %llu weights; coded sizes at zstd level %d\n",
         s->model, s->ne, (unsigned long long)(s->npts ? s->pts[0].all.n : 0), s->zlevel);
  for (int m = 0; m < M_COUNT; m++) {
    if (!s->methods[m]) continue;
    printf("\n%s (%s)\n  %10s %10s %10s %10s %8s\n", k_mname[m], k_knob[m], "knob", "bits/w",
           "SQNR dB", "rel_err", "entropy");
    for (size_t i = 0; i < s->npts; i++) {
      const point *p = &s->pts[i];
      if (p->method != m) continue;
      printf("  %10g %10.4f %10.3f %10.4f %8.4f\n", p->knob, p->all.bits, p->all.sqnr, p->all.rel,
             p->all.ent);
    }
  }
  if (!s->methods[M_TWN] || !s->methods[M_EC2T]) return;
  double tb[32], ts[32], eb[32], es[32];
  size_t nt = curve(s, M_TWN, SIZE_MAX, tb, ts), nec = curve(s, M_EC2T, SIZE_MAX, eb, es);
  printf("\nEC2T vs TWN at equal bits (TWN SQNR interpolated linearly in bits/weight)\n"
         "  %8s %10s %10s %10s %8s\n", "lambda", "bits/w", "EC2T dB", "TWN dB", "gain dB");
  double sum = 0, mx = -INFINITY, mn = INFINITY;
  size_t cnt = 0, k = 0;
  for (size_t i = 0; i < s->npts; i++) {
    if (s->pts[i].method != M_EC2T) continue;
    double tw = twn_at(tb, ts, nt, eb[k]);
    if (isnan(tw)) {
      printf("  %8g %10.4f %10.3f %10s %8s\n", s->pts[i].knob, eb[k], es[k], "outside", "-");
    } else {
      double g = es[k] - tw;
      printf("  %8g %10.4f %10.3f %10.3f %+8.3f\n", s->pts[i].knob, eb[k], es[k], tw, g);
      sum += g, cnt++, mx = fmax(mx, g), mn = fmin(mn, g);
    }
    k++;
  }
  (void)nec;
  if (cnt)
    printf("  mean gain %+.3f dB, max gain %+.3f dB, min gain %+.3f dB over %zu points in TWN's "
           "range -> EC2T %s TWN at equal bits\n", sum / (double)cnt, mx, mn, cnt,
           mn > 0 ? "beats" : mx > 0 ? "partly beats" : "does not beat");
  else
    printf("  no EC2T point falls inside TWN's bits/weight range\n");
  /* per layer: at each EC2T point, does the layer beat its own TWN curve? */
  size_t wins = 0, tot = 0;
  double lsum = 0;
  for (size_t j = 0; j < s->ne; j++) {
    double lb[32], ls[32], xb[32], xs2[32];
    size_t ln = curve(s, M_TWN, j, lb, ls), xn = curve(s, M_EC2T, j, xb, xs2);
    for (size_t i = 0; i < xn; i++) {
      double tw = twn_at(lb, ls, ln, xb[i]);
      if (isnan(tw) || !isfinite(xs2[i])) continue;
      tot++;
      lsum += xs2[i] - tw;
      if (xs2[i] > tw) wins++;
    }
  }
  if (tot)
    printf("  per layer: EC2T above the layer's TWN curve in %zu of %zu (layer, lambda) pairs; "
           "mean gain %+.3f dB\n", wins, tot, lsum / (double)tot);
}

/* ---- main -------------------------------------------------------------------------------- */

enum { O_OUT = 1, O_METHODS, O_MIN, O_OPS, O_ZLEVEL, O_QUIET, O_HELP, O_VERSION };
static const tt_opt k_opts[] = {
    {"output", 'o', 1, O_OUT, "PREFIX", "write PREFIX.csv, .json, .svg, -layers.svg (default: sweep)"},
    {"methods", 0, 1, O_METHODS, "LIST", "twn,ec2t,binary,kbit,hybrid,adaptive (default: all)"},
    {"min-elements", 0, 1, O_MIN, "N", "only tensors with at least N elements (default 1024)"},
    {"ops", 0, 1, O_OPS, "LIST", "only tensors consumed by these operators (e.g. Conv,MatMul)"},
    {"zstd-level", 0, 1, O_ZLEVEL, "L", "writer zstd level for the coded sizes (default 3)"},
    {"quiet", 'q', 0, O_QUIET, NULL, "no progress lines"},
    {"help", 'h', 0, O_HELP, NULL, "show this help and exit"},
    {"version", 'V', 0, O_VERSION, NULL, "show the versions and exit"},
};

static int split_list(const char *arg, char ***out, size_t *n) {
  char *dup = malloc(strlen(arg) + 1), *save = NULL;
  if (dup == NULL) return -1;
  strcpy(dup, arg);
  for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char **p = realloc(*out, (*n + 1) * sizeof(char *));
    if (p == NULL) return free(dup), -1;
    *out = p;
    if (((*out)[*n] = malloc(strlen(tok) + 1)) == NULL) return free(dup), -1;
    strcpy((*out)[(*n)++], tok);
  }
  free(dup);
  return 0;
}

static int on_opt(void *ctx, int id, const char *arg) {
  sweep *s = ctx;
  uint64_t v;
  int rc;
  switch (id) {
    case O_OUT: s->prefix = arg; return 0;
    case O_MIN: return tt_parse_u64("--min-elements", arg, 1, UINT64_MAX, &s->min_elems);
    case O_ZLEVEL:
      if ((rc = tt_parse_u64("--zstd-level", arg, 1, 22, &v)) != 0) return rc;
      s->zlevel = (int)v;
      return 0;
    case O_QUIET: s->quiet = 1; return 0;
    case O_HELP:
      printf("Usage: tcsweep MODEL [options]\nRate-distortion sweep of the quantizers "
             "(ONNX or safetensors model).\n");
      tt_print_options(k_opts, sizeof(k_opts) / sizeof(k_opts[0]));
      exit(0);
    case O_VERSION: tt_print_version(); exit(0);
    case O_OPS:
      if (split_list(arg, &s->ops, &s->nops) != 0) return tt_usage_error("out of memory");
      return 0;
    case O_METHODS: {
      char **l = NULL;
      size_t n = 0;
      rc = 0;
      if (split_list(arg, &l, &n) != 0) return tt_usage_error("out of memory");
      memset(s->methods, 0, sizeof(s->methods));
      for (size_t i = 0; i < n; i++) {
        int m = 0;
        while (m < M_COUNT && strcmp(l[i], k_mname[m]) != 0) m++;
        if (m == M_COUNT && rc == 0) rc = tt_usage_error("--methods: unknown method '%s'", l[i]);
        else if (m < M_COUNT) s->methods[m] = 1;
        free(l[i]);
      }
      free(l);
      if (rc == 0 && n == 0) rc = tt_usage_error("--methods: empty list");
      return rc;
    }
    default: return tt_usage_error("unexpected option");
  }
}

static int eligible(const sweep *s, const tcf_tensor *t) {
  if (!tt_dtype_quantizable(t->dtype) || t->ndim < 2 || t->nelem < s->min_elems) return 0;
  if (s->nops == 0) return 1;
  for (size_t i = 0; i < s->nops; i++)
    if (strcmp(t->consumer_op, s->ops[i]) == 0) return 1;
  return 0;
}

int main(int argc, char **argv) {
  sweep s;
  memset(&s, 0, sizeof(s));
  tt_set_prog("tcsweep");
  s.prefix = "sweep";
  s.min_elems = 1024;
  s.zlevel = 3;
  for (int m = 0; m < M_COUNT; m++) s.methods[m] = 1;
  const char *ops[2];
  size_t nops = 0, cap = 0;
  int rc = tt_parse_args(argc, argv, k_opts, sizeof(k_opts) / sizeof(k_opts[0]), on_opt, &s, ops,
                         1, &nops);
  if (rc == 0 && nops != 1) rc = tt_usage_error("expected one MODEL");
  if (rc != 0) goto done;
  s.model = ops[0];
  if ((rc = tt_source_load(&s.src, s.model, TT_FMT_AUTO)) != 0) goto done;
  rc = TT_EXIT_ERROR;
  size_t nt = s.src.model.ntensors;
  s.idx = calloc(nt ? nt : 1, sizeof(size_t));
  s.w = calloc(nt ? nt : 1, sizeof(float *));
  for (int m = 0; m < M_COUNT; m++) cap += s.methods[m] ? k_nvals[m] : 0;
  s.pts = calloc(cap ? cap : 1, sizeof(point));
  if (s.idx == NULL || s.w == NULL || s.pts == NULL) goto oom;
  for (size_t i = 0; i < nt; i++) {
    const tcf_tensor *t = &s.src.model.tensors[i];
    if (!eligible(&s, t)) continue;
    if (tt_count_nonfinite(t->dtype, t->data, (size_t)t->nelem) != 0) {
      tt_error(s.model, TT_NO_OFFSET, "skipping tensor %s: NaN or Inf values", t->name);
      continue;
    }
    if ((s.w[s.ne] = malloc((size_t)t->nelem * sizeof(float))) == NULL) goto oom;
    tt_to_f32(t->dtype, t->data, (size_t)t->nelem, s.w[s.ne]);
    s.idx[s.ne++] = i;
  }
  if (s.ne == 0) {
    tt_error(s.model, TT_NO_OFFSET, "no eligible tensor (float, ndim >= 2, >= %llu elements%s)",
             (unsigned long long)s.min_elems, s.nops ? ", consumer op in --ops" : "");
    goto done;
  }
  for (int m = 0; m < M_COUNT; m++) {
    if (!s.methods[m]) continue;
    for (size_t k = 0; k < k_nvals[m]; k++) {
      point *p = &s.pts[s.npts];
      p->method = m;
      p->knob = k_vals[m][k];
      struct timespec a, b;
      clock_gettime(CLOCK_MONOTONIC, &a);
      if (run_point(&s, p) != 0) goto done;
      s.npts++;
      clock_gettime(CLOCK_MONOTONIC, &b);
      if (!s.quiet)
        fprintf(stderr, "tcsweep: %s %s=%g: %.4f bits/w, %.3f dB (%.2f s)\n", k_mname[m],
                k_knob[m], p->knob, p->all.bits, p->all.sqnr,
                (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec));
    }
  }
  if (write_tables(&s) || write_svg(&s) || write_layers_svg(&s)) goto done;
  summary(&s);
  rc = TT_EXIT_OK;
  goto done;
oom:
  tt_error(s.model, TT_NO_OFFSET, "out of memory");
done:
  for (size_t i = 0; s.pts != NULL && i < cap; i++) free(s.pts[i].t);
  free(s.pts);
  for (size_t i = 0; i < s.ne; i++) free(s.w[i]);
  free(s.w);
  free(s.idx);
  for (size_t i = 0; i < s.nops; i++) free(s.ops[i]);
  free(s.ops);
  if (s.model) tt_source_free(&s.src);
  return rc;
}
