/* ONNX writer: the model rebuilt from its "onnx.skeleton" section and the tensors (onnx.h,
 * docs/onnx.md). The section comes from a file and is checked like any input: every
 * offset, count and nesting before the first byte is written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"
#include "pbwire.h"

typedef struct ow_tensor { /* one tensor record of the section */
  const uint8_t *name, *loc;
  size_t name_len, loc_len;
  int dtype;
  unsigned ndim;
  uint64_t shape[TCF_MAX_NDIM];
  uint64_t nelem, ext_off, covered;
  const tcf_tensor *t; /* the model's tensor of that name */
} ow_tensor;

typedef struct ow_hole {
  uint64_t pos, len, kind, tensor, first, count;
} ow_hole;

typedef struct ow {
  const tcf_model *m;
  tcf_error *err;
  uint64_t src_size;
  const uint8_t *skel, *holes_p, *pre_p;
  size_t skel_n, holes_n, pre_n;
  ow_tensor *ts;
  size_t nts, tcap;
  ow_hole *holes;
  size_t nholes;
  pb_edit *edits;
  size_t nedits;
} ow;

static int ow_fail(ow *w, int code, const char *what, const uint8_t *name, size_t name_len) {
  return tcf_error_set(w->err, code, NULL, UINT64_MAX, "%s section: %s%s%.*s%s", TCF_ONNX_SECTION,
                       what, name ? " ('" : "", (int)(name_len > 200 ? 200 : name_len),
                       name ? (const char *)name : "", name ? "')" : "");
}

static int ow_bad(ow *w, const char *what) { return ow_fail(w, TCODEC_E_PAYLOAD, what, NULL, 0); }

/* ---- reading the section --------------------------------------------------------------------- */

static int ow_dims(ow_tensor *t, const uint8_t *p, size_t n) {
  t->ndim = 0;
  t->nelem = 1;
  int zero = 0;
  for (size_t i = 0; i < n;) {
    uint64_t v;
    if (t->ndim == TCF_MAX_NDIM || pb_get_varint(p, n, &i, &v) != 0) return -1;
    zero |= v == 0;
    if (v != 0 && t->nelem > UINT64_MAX / 16 / v) return -1;
    t->nelem *= v ? v : 1;
    t->shape[t->ndim++] = v;
  }
  if (zero) t->nelem = 0;
  return 0;
}

static int ow_tensor_record(ow *w, const uint8_t *sec, size_t start, size_t end) {
  if (w->nts == w->tcap) {
    size_t cap = w->tcap ? 2 * w->tcap : 16;
    ow_tensor *p =
        cap < SIZE_MAX / sizeof(ow_tensor) ? realloc(w->ts, cap * sizeof(ow_tensor)) : NULL;
    if (p == NULL) return tcf_error_set(w->err, TCODEC_E_NOMEM, NULL, UINT64_MAX, "out of memory");
    w->ts = p;
    w->tcap = cap;
  }
  ow_tensor *t = &w->ts[w->nts++];
  memset(t, 0, sizeof(*t));
  pb_cursor c;
  pb_field f;
  pb_status st;
  int rc, bad = 0;
  pb_cursor_init(&c, sec, end, start, end);
  while ((rc = pb_next(&c, &f, &st)) == 1) {
    const uint8_t *p = sec + f.pos;
    size_t n = f.end - f.pos;
    if (f.num == 1 && f.wt == PB_LEN) t->name = p, t->name_len = n;
    if (f.num == 2 && f.wt == PB_VARINT) t->dtype = f.u < 256 ? (int)f.u : 0;
    if (f.num == 3 && f.wt == PB_LEN) bad |= ow_dims(t, p, n) != 0;
    if (f.num == 4 && f.wt == PB_LEN) t->loc = p, t->loc_len = n;
    if (f.num == 5 && f.wt == PB_VARINT) t->ext_off = f.u;
  }
  if (rc < 0 || bad || t->name == NULL || t->name_len == 0 || tcodec_dtype_size(t->dtype) == 0)
    return ow_bad(w, "malformed tensor record");
  return 0;
}

/* Top-level fields: 1 source size, 2 skeleton, 3 tensor records, 4 holes, 5 length prefixes. */
static int ow_read_section(ow *w, const uint8_t *sec, size_t n) {
  if (n < 5 || memcmp(sec, TCF_ONNX_SECTION_MAGIC, 4) != 0) return ow_bad(w, "bad magic");
  if (sec[4] != TCF_ONNX_SECTION_VERSION)
    return ow_fail(w, TCODEC_E_UNSUPPORTED_FEATURE, "version unknown to this reader", NULL, 0);
  pb_cursor c;
  pb_field f;
  pb_status st;
  int rc, seen = 0;
  pb_cursor_init(&c, sec, n, 5, n);
  while ((rc = pb_next(&c, &f, &st)) == 1) {
    const uint8_t *p = sec + f.pos;
    size_t len = f.end - f.pos;
    if (f.num >= 1 && f.num <= 5 && f.wt == (f.num == 1 ? PB_VARINT : PB_LEN)) seen |= 1 << f.num;
    if (f.num == 1 && f.wt == PB_VARINT) w->src_size = f.u;
    if (f.num == 2 && f.wt == PB_LEN) w->skel = p, w->skel_n = len;
    if (f.num == 3 && f.wt == PB_LEN && (rc = ow_tensor_record(w, sec, f.pos, f.end)) != 0)
      return rc;
    if (f.num == 4 && f.wt == PB_LEN) w->holes_p = p, w->holes_n = len;
    if (f.num == 5 && f.wt == PB_LEN) w->pre_p = p, w->pre_n = len;
  }
  if (rc < 0) return ow_bad(w, st.what);
  return (seen & 6) == 6 ? 0 : ow_bad(w, "source size or skeleton missing");
}

/* A packed table of `per`-tuples of varints into a malloc'd array. */
static int ow_table(ow *w, const uint8_t *p, size_t n, size_t per, uint64_t **out, size_t *count) {
  uint64_t k = pb_count_varints(p, n);
  *out = NULL;
  *count = 0;
  if (k == UINT64_MAX || k % per != 0) return ow_bad(w, "malformed table");
  if (k == 0) return 0;
  uint64_t *v = malloc((size_t)k * sizeof(uint64_t));
  if (v == NULL) return tcf_error_set(w->err, TCODEC_E_NOMEM, NULL, UINT64_MAX, "out of memory");
  for (size_t i = 0, pos = 0; i < k; i++)
    if (pb_get_varint(p, n, &pos, &v[i]) != 0) {
      free(v);
      return ow_bad(w, "malformed table");
    }
  *out = v;
  *count = (size_t)(k / per);
  return 0;
}

static int ow_check_hole(ow *w, const ow_hole *h, uint64_t prev_end) {
  if (h->tensor >= w->nts) return ow_bad(w, "hole names no tensor");
  ow_tensor *t = &w->ts[h->tensor];
  uint64_t es = tcodec_dtype_size(t->dtype);
  if (h->kind < TCF_ONNX_HOLE_RAW || h->kind > TCF_ONNX_HOLE_VARINT || h->len == 0 ||
      h->count == 0 || h->pos < prev_end || h->pos > w->src_size || h->len > w->src_size - h->pos)
    return ow_bad(w, "hole out of order or out of bounds");
  if (t->loc != NULL || h->first != t->covered || h->count > t->nelem - t->covered)
    return ow_bad(w, "holes do not cover their tensor in order");
  if ((h->kind == TCF_ONNX_HOLE_RAW && (h->count > UINT64_MAX / es || h->len != h->count * es)) ||
      (h->kind == TCF_ONNX_HOLE_VARINT && h->count != 1))
    return ow_bad(w, "hole size does not match its elements");
  t->covered += h->count;
  return 0;
}

static int ow_read_holes(ow *w) {
  uint64_t *v;
  int rc = ow_table(w, w->holes_p, w->holes_n, 6, &v, &w->nholes);
  if (rc != 0) return rc;
  w->holes = (ow_hole *)calloc(w->nholes ? w->nholes : 1, sizeof(ow_hole));
  if (w->holes == NULL)
    rc = tcf_error_set(w->err, TCODEC_E_NOMEM, NULL, UINT64_MAX, "out of memory");
  uint64_t prev_end = 0, cut = 0;
  for (size_t i = 0; rc == 0 && i < w->nholes; i++) {
    const uint64_t *r = v + 6 * i;
    w->holes[i] = (ow_hole){r[0], r[1], r[2], r[3], r[4], r[5]};
    rc = ow_check_hole(w, &w->holes[i], prev_end);
    prev_end = r[0] + r[1];
    cut += r[1];
  }
  free(v);
  for (size_t i = 0; rc == 0 && i < w->nts; i++)
    if (w->ts[i].loc == NULL && (w->ts[i].nelem == 0 || w->ts[i].covered != w->ts[i].nelem))
      rc = ow_bad(w, "a tensor is not covered by its holes");
  if (rc == 0 && (cut > w->src_size || w->src_size - cut != w->skel_n))
    rc = ow_bad(w, "skeleton size does not add up");
  return rc;
}

/* Holes and length prefixes merged into edits, sorted by position; each prefix must be the
 * varint the skeleton holds at its place. */
static int ow_edits(ow *w) {
  uint64_t *pre;
  size_t npre, hi = 0, pi = 0, cut = 0;
  int rc = ow_table(w, w->pre_p, w->pre_n, 3, &pre, &npre);
  if (rc != 0) return rc;
  w->edits = calloc(w->nholes + npre + 1, sizeof(pb_edit));
  if (w->edits == NULL)
    rc = tcf_error_set(w->err, TCODEC_E_NOMEM, NULL, UINT64_MAX, "out of memory");
  while (rc == 0 && (hi < w->nholes || pi < npre)) {
    pb_edit *e = &w->edits[w->nedits++];
    if (pi == npre || (hi < w->nholes && w->holes[hi].pos < pre[3 * pi])) {
      *e = (pb_edit){w->holes[hi].pos, w->holes[hi].len, 0, 0, 0, 0, hi, 0};
      cut += (size_t)w->holes[hi++].len;
      continue;
    }
    const uint64_t *r = pre + 3 * pi++;
    size_t k = r[0] >= cut ? (size_t)(r[0] - cut) : SIZE_MAX, at = k;
    uint64_t val;
    if (r[1] == 0 || r[1] > PB_VARINT_MAX || k > w->skel_n || r[1] > w->skel_n - k ||
        pb_get_varint(w->skel, k + (size_t)r[1], &at, &val) != 0 || at != k + r[1] || val != r[2] ||
        r[2] > w->src_size - r[0] - r[1])
      rc = ow_bad(w, "length prefix does not match the skeleton");
    *e = (pb_edit){r[0], r[1], r[1], r[0] + r[1] + r[2], r[2], r[2], 0, 1};
  }
  free(pre);
  return rc;
}

/* ---- matching the tensors -------------------------------------------------------------------- */

static int ow_name_cmp(const void *a, const void *b) {
  return strcmp((*(const tcf_tensor *const *)a)->name, (*(const tcf_tensor *const *)b)->name);
}

static const tcf_tensor *ow_find(const tcf_tensor **idx, size_t n, const uint8_t *name,
                                 size_t len) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const char *s = idx[mid]->name;
    size_t sl = strlen(s);
    int c = memcmp(s, name, sl < len ? sl : len);
    if (c == 0) c = sl < len ? -1 : sl > len;
    if (c == 0) return idx[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

static int ow_check_tensor(ow *w, const ow_tensor *r, const tcf_tensor *t) {
  if (t == NULL)
    return ow_fail(w, TCODEC_E_NOT_FOUND, "the model has no tensor", r->name, r->name_len);
  if (t->dtype != r->dtype)
    return ow_fail(w, TCODEC_E_UNSUPPORTED_DTYPE, "dtype differs", r->name, r->name_len);
  if (t->ndim != r->ndim ||
      (r->ndim && memcmp(t->shape, r->shape, r->ndim * sizeof(uint64_t)) != 0))
    return ow_fail(w, TCODEC_E_SHAPE, "shape differs", r->name, r->name_len);
  if (t->size != r->nelem * tcodec_dtype_size(r->dtype) || (t->size && t->data == NULL))
    return ow_fail(w, TCODEC_E_PAYLOAD, "byte size differs", r->name, r->name_len);
  return 0;
}

static int ow_match(ow *w) {
  const tcf_tensor **idx = malloc((w->m->ntensors + 1) * sizeof(*idx));
  if (idx == NULL) return tcf_error_set(w->err, TCODEC_E_NOMEM, NULL, UINT64_MAX, "out of memory");
  for (size_t i = 0; i < w->m->ntensors; i++) idx[i] = &w->m->tensors[i];
  qsort(idx, w->m->ntensors, sizeof(*idx), ow_name_cmp);
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < w->nts; i++) {
    w->ts[i].t = ow_find(idx, w->m->ntensors, w->ts[i].name, w->ts[i].name_len);
    rc = ow_check_tensor(w, &w->ts[i], w->ts[i].t);
  }
  free(idx);
  return rc;
}

/* ---- writing --------------------------------------------------------------------------------- */

static pb_elem ow_elem(int dtype) {
  pb_elem e = {(unsigned)tcodec_dtype_size(dtype), dtype == TCODEC_I8 || dtype == TCODEC_I16 ||
                                                       dtype == TCODEC_I32 || dtype == TCODEC_I64};
  return e;
}

static const uint8_t *ow_hole_data(const ow *w, const ow_hole *h) {
  const ow_tensor *t = &w->ts[h->tensor];
  return t->t->data + h->first * tcodec_dtype_size(t->dtype);
}

static void ow_sizes(ow *w) {
  for (size_t i = 0; i < w->nedits; i++) {
    pb_edit *e = &w->edits[i];
    if (e->is_prefix) continue;
    const ow_hole *h = &w->holes[e->user];
    pb_elem el = ow_elem(w->ts[h->tensor].dtype);
    if (h->kind == TCF_ONNX_HOLE_RAW)
      e->new_len = h->len;
    else
      e->new_len = pb_varints_size(el, ow_hole_data(w, h), h->count);
  }
}

static int ow_write_hole(void *user, const pb_edit *e, tcodec_write_fn fn, void *fn_user) {
  const ow *w = user;
  const ow_hole *h = &w->holes[e->user];
  const uint8_t *p = ow_hole_data(w, h);
  if (h->kind == TCF_ONNX_HOLE_RAW) return fn(fn_user, p, (size_t)h->len) != 0 ? TCODEC_E_IO : 0;
  pb_elem el = ow_elem(w->ts[h->tensor].dtype);
  uint8_t buf[4096];
  size_t n = 0;
  for (uint64_t i = 0; i < h->count; i++) {
    if (n > sizeof(buf) - PB_VARINT_MAX) {
      if (fn(fn_user, buf, n) != 0) return TCODEC_E_IO;
      n = 0;
    }
    n += pb_put_varint(buf + n, pb_elem_varint(el, p + i * el.width));
  }
  return n > 0 && fn(fn_user, buf, n) != 0 ? TCODEC_E_IO : 0;
}

static int ow_externals(ow *w, const tcf_onnx_sink *sink) {
  for (size_t i = 0; i < w->nts; i++) {
    const ow_tensor *t = &w->ts[i];
    if (t->loc == NULL) continue;
    const char *why = tcf_onnx_location_problem(t->loc, t->loc_len);
    if (why != NULL) return ow_fail(w, TCODEC_E_PAYLOAD, why, t->loc, t->loc_len);
    char *loc = malloc(t->loc_len + 1);
    if (loc == NULL)
      return tcf_error_set(w->err, TCODEC_E_NOMEM, NULL, UINT64_MAX, "out of memory");
    memcpy(loc, t->loc, t->loc_len);
    loc[t->loc_len] = '\0';
    tcf_error e;
    tcf_error_clear(&e, NULL);
    int rc = sink->write(sink->user, loc, t->ext_off, t->t->data, (size_t)t->t->size, &e);
    if (rc != 0)
      tcf_error_set(w->err, rc, loc, UINT64_MAX, "external data '%s': %s", tcf_show(loc).s, e.msg);
    free(loc);
    if (rc != 0) return rc;
  }
  return 0;
}

static int ow_run(ow *w, tcodec_write_fn fn, void *user, const tcf_onnx_sink *sink) {
  const tcf_section *s = tcf_model_find_section(w->m, TCF_ONNX_SECTION);
  if (s == NULL)
    return tcf_error_set(w->err, TCODEC_E_NOT_FOUND, NULL, UINT64_MAX, "no %s section",
                         TCF_ONNX_SECTION);
  int rc = ow_read_section(w, s->data, s->size);
  if (rc == 0) rc = ow_read_holes(w);
  if (rc == 0) rc = ow_edits(w);
  if (rc == 0) rc = ow_match(w);
  for (size_t i = 0; rc == 0 && (sink == NULL || sink->write == NULL) && i < w->nts; i++)
    if (w->ts[i].loc != NULL)
      rc = ow_fail(w, TCODEC_E_UNSUPPORTED_FEATURE, "external data and no sink for it",
                   w->ts[i].name, w->ts[i].name_len);
  if (rc != 0) return rc;
  ow_sizes(w);
  if (pb_splice_resolve(w->edits, w->nedits) != 0)
    return ow_bad(w, "holes and length prefixes do not nest");
  rc = pb_splice_write(w->skel, w->skel_n, w->edits, w->nedits, ow_write_hole, w, fn, user);
  if (rc == TCODEC_E_IO) return tcf_error_set(w->err, rc, NULL, UINT64_MAX, "write failed");
  if (rc != 0) return ow_bad(w, "skeleton does not match its edits");
  return ow_externals(w, sink);
}

int tcf_onnx_write_ext(const tcf_model *m, tcodec_write_fn fn, void *user,
                       const tcf_onnx_sink *sink, tcf_error *err) {
  tcf_error_clear(err, NULL);
  if (m == NULL || fn == NULL)
    return tcf_error_set(err, TCODEC_E_ARG, NULL, UINT64_MAX, "no model or no output");
  ow w;
  memset(&w, 0, sizeof(w));
  w.m = m;
  w.err = err;
  int rc = ow_run(&w, fn, user, sink);
  free(w.ts);
  free(w.holes);
  free(w.edits);
  return rc;
}

int tcf_onnx_write(const tcf_model *m, tcodec_write_fn fn, void *user, tcf_error *err) {
  return tcf_onnx_write_ext(m, fn, user, NULL, err);
}
