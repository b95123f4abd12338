/* Reports: thresholds, text table and summary, JSON (see report.h). */
#include "report.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <tcodec/tcodec.h>

#include "cli.h"
#include "io.h"
#include "tcf_model.h"

void tt_report_init(tt_report *r, const char *tool) {
  memset(r, 0, sizeof(*r));
  r->tool = tool;
  r->max_rel_error = NAN;
  r->min_sqnr = NAN;
  r->zstd_level = 19;
}

void tt_report_free(tt_report *r) {
  for (size_t i = 0; i < r->nrows; i++) free(r->rows[i].name);
  free(r->rows);
  r->rows = NULL;
  r->nrows = r->cap = 0;
}

tt_row *tt_report_add(tt_report *r, const char *name) {
  if (r->nrows == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 64;
    tt_row *rows = realloc(r->rows, cap * sizeof(*rows));
    if (rows == NULL) return NULL;
    r->rows = rows, r->cap = cap;
  }
  tt_row *row = &r->rows[r->nrows];
  memset(row, 0, sizeof(*row));
  row->name = malloc(strlen(name) + 1);
  if (row->name == NULL) return NULL;
  strcpy(row->name, name);
  row->rule = -1;
  r->nrows++;
  return row;
}

void tt_shape_text(unsigned ndim, const uint64_t *shape, char *buf, size_t cap) {
  size_t len = 0;
  if (ndim == 0) {
    snprintf(buf, cap, "scalar");
    return;
  }
  buf[0] = '\0';
  for (unsigned i = 0; i < ndim && i < 32 && len < cap; i++)
    len += (size_t)snprintf(buf + len, cap - len, "%s%llu", i ? "x" : "", (unsigned long long)shape[i]);
}

/* ---- thresholds -------------------------------------------------------------------------- */

size_t tt_report_check(tt_report *r) {
  r->nbelow = 0;
  for (size_t i = 0; i < r->nrows; i++) {
    tt_row *w = &r->rows[i];
    if (w->state != TT_ROW_CHANGED) continue;
    const char *file = r->input;
    if (!isnan(r->max_rel_error) && !(w->q.rel_l2 <= r->max_rel_error)) {
      tt_error(file, TT_NO_OFFSET, "tensor '%s': relative L2 error %.6g above --max-rel-error %g",
               tcf_show(w->name).s, w->q.rel_l2, r->max_rel_error);
      w->below = 1;
    }
    if (!isnan(r->min_sqnr) && !(w->q.sqnr_db >= r->min_sqnr)) {
      tt_error(file, TT_NO_OFFSET, "tensor '%s': SQNR %.2f dB below --min-sqnr %g", tcf_show(w->name).s,
               w->q.sqnr_db, r->min_sqnr);
      w->below = 1;
    }
    r->nbelow += (size_t)w->below;
  }
  return r->nbelow;
}

/* ---- text ---------------------------------------------------------------------------------- */

static const char *k_states[] = {"exact", "changed", "MISMATCH", "missing"};

/* `fixed`: "%.*f", else "%.*g". */
static void fmt_metric(char *buf, size_t cap, double v, int fixed, int prec) {
  if (isnan(v)) snprintf(buf, cap, "-");
  else if (isinf(v)) snprintf(buf, cap, v > 0 ? "inf" : "-inf");
  else if (fixed) snprintf(buf, cap, "%.*f", prec, v);
  else snprintf(buf, cap, "%.*g", prec, v);
}

static void print_row(FILE *f, const tt_row *w) {
  char shape[48], sq[16], rel[16], mx[16], cs[16], zs[16];
  tt_shape_text(w->ndim, w->shape, shape, sizeof(shape));
  fmt_metric(zs, sizeof(zs), w->sparsity, 1, 3);
  if (w->state == TT_ROW_CHANGED) {
    fmt_metric(sq, sizeof(sq), w->q.sqnr_db, 1, 2);
    fmt_metric(rel, sizeof(rel), w->q.rel_l2, 0, 4);
    fmt_metric(mx, sizeof(mx), w->q.max_abs, 0, 4);
    fmt_metric(cs, sizeof(cs), w->q.cosine, 1, 6);
  } else {
    snprintf(sq, sizeof(sq), "%s", k_states[w->state]);
    rel[0] = mx[0] = cs[0] = '\0';
  }
  fprintf(f, "  %-40.40s %-6s %-16.16s %-8s %11llu %7.3f %9s %10s %10s %9s %6s%s\n", tcf_show(w->name).s,
          tcodec_dtype_name(w->dtype), shape, w->state == TT_ROW_MISSING ? "-" : tcodec_encoding_name(w->encoding),
          (unsigned long long)w->stored_bytes, w->bits_per_weight, sq, rel, mx, cs, zs,
          w->below ? "  BELOW" : "");
  if (w->detail != NULL) fprintf(f, "      %s\n", w->detail);
  if (w->quantized || w->note != NULL) {
    char rule[24], extra[96] = "";
    if (w->rule >= 0) snprintf(rule, sizeof(rule), "rule %d", w->rule);
    else snprintf(rule, sizeof(rule), "default");
    if (w->depth_count > 0)
      snprintf(extra, sizeof(extra), "; depth %u of %u", w->depth_index + 1, w->depth_count);
    if (w->act.method == TT_M_HYBRID && w->state != TT_ROW_MISSING)
      snprintf(extra, sizeof(extra), "; %llu of %llu filters ternary", (unsigned long long)w->ternary_filters,
               (unsigned long long)w->filters);
    fprintf(f, "      %s: %s%s%s%s\n", rule, w->action, extra, w->note != NULL ? "; lossless: " : "",
            w->note != NULL ? w->note : "");
  }
}

static void print_table(const tt_report *r, FILE *f) {
  fprintf(f, "  %-40s %-6s %-16s %-8s %11s %7s %9s %10s %10s %9s %6s\n", "tensor", "dtype", "shape",
          "encoding", "stored", "bits/w", "SQNR dB", "rel L2", "max abs", "cosine", "zeros");
  for (size_t i = 0; i < r->nrows; i++) print_row(f, &r->rows[i]);
}

typedef struct tt_totals {
  size_t exact, changed, quantized, mismatch, missing;
  const tt_row *worst_sqnr, *worst_rel;
} tt_totals;

static void totals(const tt_report *r, tt_totals *t) {
  memset(t, 0, sizeof(*t));
  for (size_t i = 0; i < r->nrows; i++) {
    const tt_row *w = &r->rows[i];
    t->exact += w->state == TT_ROW_EXACT;
    t->changed += w->state == TT_ROW_CHANGED;
    t->mismatch += w->state == TT_ROW_MISMATCH;
    t->missing += w->state == TT_ROW_MISSING;
    t->quantized += (size_t)w->quantized;
    if (w->state != TT_ROW_CHANGED) continue;
    if (t->worst_sqnr == NULL || w->q.sqnr_db < t->worst_sqnr->q.sqnr_db) t->worst_sqnr = w;
    if (t->worst_rel == NULL || w->q.rel_l2 > t->worst_rel->q.rel_l2) t->worst_rel = w;
  }
}

static void print_sizes(const tt_report *r, FILE *f) {
  const char *p = r->tool;
  if (r->output_bytes == 0 || r->input_bytes == 0) return;
  fprintf(f, "%s: %llu -> %llu bytes (%.2f%% of the input)", p, (unsigned long long)r->input_bytes,
          (unsigned long long)r->output_bytes, 100.0 * (double)r->output_bytes / (double)r->input_bytes);
  if (r->zstd_bytes > 0)
    fprintf(f, "; zstd -%d of the input: %llu bytes (.tc is %.2f%% of it)", r->zstd_level,
            (unsigned long long)r->zstd_bytes, 100.0 * (double)r->output_bytes / (double)r->zstd_bytes);
  fprintf(f, "\n");
}

void tt_report_print(const tt_report *r, FILE *f, int verbose) {
  tt_totals t;
  totals(r, &t);
  if (verbose) print_table(r, f);
  fprintf(f, "%s: %s%s%s: %zu tensors: %zu bit-exact, %zu changed", r->tool, r->input,
          r->output != NULL ? " -> " : (r->reference != NULL ? " vs " : ""),
          r->output != NULL ? r->output : (r->reference != NULL ? r->reference : ""), r->nrows, t.exact,
          t.changed);
  if (r->policy != NULL) fprintf(f, " (%zu quantized)", t.quantized);
  if (t.mismatch) fprintf(f, ", %zu NOT bit-exact", t.mismatch);
  if (t.missing) fprintf(f, ", %zu missing", t.missing);
  fprintf(f, "\n");
  print_sizes(r, f);
  if (t.worst_sqnr != NULL)
    fprintf(f, "%s: worst SQNR %.2f dB (%s), worst relative L2 error %.4g (%s)\n", r->tool,
            t.worst_sqnr->q.sqnr_db, tcf_show(t.worst_sqnr->name).s, t.worst_rel->q.rel_l2,
            tcf_show(t.worst_rel->name).s);
  if (r->nbelow)
    fprintf(f, "%s: %zu tensors below the quality thresholds\n", r->tool, r->nbelow);
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }
static json_t *str_or_null(const char *s) { return s != NULL ? json_string(s) : json_null(); }
static json_t *u64(uint64_t v) { return json_integer((json_int_t)v); }

static json_t *strlist(char *const *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(v[i]));
  return a;
}

static json_t *action_json(const tt_action *a) { return tt_action_json(a); }

static json_t *match_json(const tt_match *m) {
  json_t *o = json_object();
  if (m->nnames) json_object_set_new(o, "name", strlist(m->names, m->nnames));
  if (m->nexcludes) json_object_set_new(o, "exclude", strlist(m->excludes, m->nexcludes));
  if (m->nops) json_object_set_new(o, "op", strlist(m->ops, m->nops));
  if (m->dtypes) {
    json_t *d = json_array();
    for (int i = 0; i < 32; i++)
      if (m->dtypes >> i & 1u) json_array_append_new(d, json_string(tcodec_dtype_name(i)));
    json_object_set_new(o, "dtype", d);
  }
  json_object_set_new(o, "min_elements", u64(m->min_elements));
  if (m->max_elements != UINT64_MAX) json_object_set_new(o, "max_elements", u64(m->max_elements));
  json_object_set_new(o, "ndim_min", u64(m->ndim_min));
  if (m->ndim_max != 0xFFFFFFFFu) json_object_set_new(o, "ndim_max", u64(m->ndim_max));
  return o;
}

static json_t *policy_json(const tt_policy *p) {
  json_t *o = json_object(), *rules = json_array();
  json_t *def = action_json(&p->def);
  if (p->def.by_depth) json_object_del(def, "bits");
  json_object_set_new(o, "default", def);
  for (size_t i = 0; i < p->nrules; i++) {
    json_t *r = action_json(&p->rules[i].action);
    if (p->rules[i].action.by_depth) json_object_del(r, "bits"); /* chosen per tensor */
    json_object_set_new(r, "index", u64(i));
    json_object_set_new(r, "match", match_json(&p->rules[i].match));
    if (p->rules[i].line) json_object_set_new(r, "line", u64(p->rules[i].line));
    json_array_append_new(rules, r);
  }
  json_object_set_new(o, "rules", rules);
  return o;
}

static json_t *row_json(const tt_row *w, int with_policy) {
  json_t *o = json_object(), *shape = json_array();
  for (unsigned i = 0; i < w->ndim && i < 32; i++) json_array_append_new(shape, u64(w->shape[i]));
  json_object_set_new(o, "name", json_string(w->name));
  json_object_set_new(o, "dtype", json_string(tcodec_dtype_name(w->dtype)));
  json_object_set_new(o, "shape", shape);
  json_object_set_new(o, "nelem", u64(w->nelem));
  json_object_set_new(o, "state", json_string(w->state == TT_ROW_MISMATCH ? "mismatch" : k_states[w->state]));
  json_object_set_new(o, "exact", json_boolean(w->state == TT_ROW_EXACT));
  if (w->state != TT_ROW_MISSING) {
    json_object_set_new(o, "encoding", json_string(tcodec_encoding_name(w->encoding)));
    json_object_set_new(o, "source_bytes", u64(w->source_bytes));
    json_object_set_new(o, "stored_bytes", u64(w->stored_bytes));
    json_object_set_new(o, "bits_per_weight", num(w->bits_per_weight));
    json_object_set_new(o, "sparsity", num(w->sparsity));
  }
  if (w->state == TT_ROW_CHANGED) {
    json_object_set_new(o, "sqnr_db", num(w->q.sqnr_db));
    json_object_set_new(o, "rel_l2", num(w->q.rel_l2));
    json_object_set_new(o, "max_abs", num(w->q.max_abs));
    json_object_set_new(o, "cosine", num(w->q.cosine));
    json_object_set_new(o, "below_threshold", json_boolean(w->below));
  }
  if (with_policy) {
    json_object_set_new(o, "quantized", json_boolean(w->quantized));
    json_object_set_new(o, "rule", w->rule >= 0 ? json_integer(w->rule) : json_null());
    json_object_set_new(o, "action", json_string(w->action));
    json_object_set_new(o, "method", json_string(tt_method_name(w->act.method)));
    json_t *par = action_json(&w->act);
    json_object_del(par, "method");
    if (w->depth_count > 0)
      json_object_set_new(par, "depth", json_pack("{s:I, s:I}", "index", (json_int_t)w->depth_index, "count",
                                                  (json_int_t)w->depth_count));
    if (w->act.method == TT_M_HYBRID && w->state != TT_ROW_MISSING) {
      json_object_set_new(par, "filters", u64(w->filters));
      json_object_set_new(par, "ternary_filters", u64(w->ternary_filters));
    }
    json_object_set_new(o, "params", par);
    json_object_set_new(o, "note", str_or_null(w->note));
  }
  if (w->detail != NULL) json_object_set_new(o, "detail", json_string(w->detail));
  return o;
}

static json_t *summary_json(const tt_report *r) {
  tt_totals t;
  totals(r, &t);
  json_t *o = json_object();
  json_object_set_new(o, "tensors", u64(r->nrows));
  json_object_set_new(o, "exact", u64(t.exact));
  json_object_set_new(o, "changed", u64(t.changed));
  json_object_set_new(o, "quantized", u64(t.quantized));
  json_object_set_new(o, "mismatch", u64(t.mismatch));
  json_object_set_new(o, "missing", u64(t.missing));
  json_object_set_new(o, "below_threshold", u64(r->nbelow));
  json_object_set_new(o, "input_bytes", u64(r->input_bytes));
  json_object_set_new(o, "output_bytes", u64(r->output_bytes));
  json_object_set_new(o, "ratio", r->input_bytes ? num((double)r->output_bytes / (double)r->input_bytes) : json_null());
  json_object_set_new(o, "zstd_level", json_integer(r->zstd_level));
  json_object_set_new(o, "zstd_bytes", r->zstd_bytes ? u64(r->zstd_bytes) : json_null());
  json_object_set_new(o, "ratio_to_zstd",
                      r->zstd_bytes ? num((double)r->output_bytes / (double)r->zstd_bytes) : json_null());
  json_object_set_new(o, "worst_sqnr_db", t.worst_sqnr ? num(t.worst_sqnr->q.sqnr_db) : json_null());
  json_object_set_new(o, "worst_rel_l2", t.worst_rel ? num(t.worst_rel->q.rel_l2) : json_null());
  return o;
}

static json_t *report_json(const tt_report *r) {
  json_t *o = json_object(), *rows = json_array(), *th = json_object();
  json_object_set_new(o, "tool", json_string(r->tool));
  json_object_set_new(o, "version", json_string(TT_VERSION));
  json_object_set_new(o, "library_version", json_string(tcodec_version_string()));
  json_object_set_new(o, "input", str_or_null(r->input));
  json_object_set_new(o, "output", str_or_null(r->output));
  if (r->reference != NULL) json_object_set_new(o, "reference", json_string(r->reference));
  json_object_set_new(o, "source_format", str_or_null(r->source_format));
  json_object_set_new(o, "written", json_boolean(r->written));
  json_object_set_new(th, "max_rel_error", num(r->max_rel_error));
  json_object_set_new(th, "min_sqnr_db", num(r->min_sqnr));
  json_object_set_new(o, "thresholds", th);
  if (r->policy != NULL) json_object_set_new(o, "policy", policy_json(r->policy));
  for (size_t i = 0; i < r->nrows; i++) json_array_append_new(rows, row_json(&r->rows[i], r->policy != NULL));
  json_object_set_new(o, "tensors", rows);
  json_object_set_new(o, "summary", summary_json(r));
  return o;
}

int tt_report_json(const tt_report *r, const char *path, int force) {
  json_t *root = report_json(r);
  char *text = root != NULL ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(root);
  if (text == NULL) return (tt_error(path, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
  size_t n = strlen(text);
  int rc = 0;
  if (strcmp(path, "-") == 0) {
    if (fwrite(text, 1, n, stdout) != n || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
      rc = (tt_error("-", TT_NO_OFFSET, "write error"), TT_EXIT_ERROR);
  } else {
    tt_out o;
    rc = tt_out_open(&o, path, force, 0);
    if (rc == 0 && (tt_out_write(&o, text, n) != 0 || tt_out_write(&o, "\n", 1) != 0)) {
      tt_error(path, TT_NO_OFFSET, "write error");
      tt_out_abort(&o);
      rc = TT_EXIT_ERROR;
    } else if (rc == 0) {
      rc = tt_out_commit(&o, force);
    }
  }
  free(text);
  return rc;
}
