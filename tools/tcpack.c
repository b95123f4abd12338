/* tcpack: pack a model (safetensors, sharded safetensors, ONNX) into a .tc file,
 * losslessly or quantizing the tensors a policy picks, then read the result back
 * and report, tensor by tensor, that nothing was lost or how much was changed.
 *
 * Manual: docs/tcpack.1. Policy files: docs/policy.md.
 * Exit: 0 success, 1 error, 2 usage (or policy file), 3 a quality threshold was
 * not met (the output is removed). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tcodec/tcodec.h>

#include "common/cli.h"
#include "common/fconv.h"
#include "common/io.h"
#include "common/metrics.h"
#include "common/models.h"
#include "common/policy.h"
#include "common/progress.h"
#include "common/report.h"
#include "common/zref.h"

#define DEFAULT_LEVEL 19

/* ---- options ------------------------------------------------------------------------- */

enum {
  O_OUTPUT = 1, O_STDOUT, O_FORCE, O_KEEP, O_QUIET, O_VERBOSE, O_HELP, O_VERSION, O_FORMAT,
  O_LEVEL, O_FAST, O_QUANTIZE, O_THRESHOLD, O_GRAN, O_GROUP, O_AXIS, O_ASYM, O_SCALE, O_INCLUDE,
  O_EXCLUDE, O_OPS, O_MIN_ELEM, O_POLICY, O_MAX_REL, O_MIN_SQNR, O_JSON, O_NO_ZREF, O_LAMBDA,
  O_MAX_ITER, O_BITS, O_SPARSITY, O_ZERO_POINT, O_ERROR_BUDGET, O_TER_FRACTION, O_FULL_DTYPE,
  O_SIZE_WEIGHT, O_BITS_BY_DEPTH
};

static const tt_opt k_opts[] = {
    {"output", 'o', 1, O_OUTPUT, "FILE", "write to FILE ('-': stdout); default INPUT.tc"},
    {"stdout", 'c', 0, O_STDOUT, NULL, "write to stdout"},
    {"force", 'f', 0, O_FORCE, NULL, "overwrite existing files; write binary to a terminal"},
    {"keep", 'k', 0, O_KEEP, NULL, "keep the input (always done; for compatibility)"},
    {"quiet", 'q', 0, O_QUIET, NULL, "no report, no progress bar (errors are still shown)"},
    {"verbose", 'v', 0, O_VERBOSE, NULL, "report every tensor"},
    {"help", 'h', 0, O_HELP, NULL, "show this help and exit"},
    {"version", 'V', 0, O_VERSION, NULL, "show the versions and exit"},
    {"format", 0, 1, O_FORMAT, "FMT", "input format: safetensors or onnx (default: detect)"},
    {"level", 0, 1, O_LEVEL, "N", "zstd level 1..22 for the streams (default 19; also -1..-19)"},
    {"fast", 0, 0, O_FAST, NULL, "zstd level 1"},
    {"quantize", 0, 1, O_QUANTIZE, "METHOD", "twn, ec2t, binary, kbit, hybrid, adaptive (default lossless)"},
    {"threshold", 0, 1, O_THRESHOLD, "X", "ternary threshold factor: twn ec2t hybrid adaptive (0.7)"},
    {"lambda", 0, 1, O_LAMBDA, "X", "ec2t rate weight per bit, >= 0 (default 0.05)"},
    {"max-iter", 0, 1, O_MAX_ITER, "N", "ec2t iterations at most (default 30)"},
    {"bits", 0, 1, O_BITS, "N", "kbit code width 2..8 (default 4)"},
    {"bits-by-depth", 0, 1, O_BITS_BY_DEPTH, "F:L", "kbit: F bits for the first picked tensor .. L for the last"},
    {"sparsity", 0, 1, O_SPARSITY, "S", "kbit: prune this fraction of smallest |w| first (0)"},
    {"zero-point", 0, 0, O_ZERO_POINT, NULL, "kbit: min/max range with a zero point per unit"},
    {"error-budget", 0, 1, O_ERROR_BUDGET, "X", "hybrid: ternary filters have rel. error <= X (0.5)"},
    {"ternary-fraction", 0, 1, O_TER_FRACTION, "F", "hybrid: ternarize this fraction of filters instead"},
    {"full-dtype", 0, 1, O_FULL_DTYPE, "D", "hybrid: f16 (default) or f32 for the other filters"},
    {"size-weight", 0, 1, O_SIZE_WEIGHT, "X", "adaptive: weight of bits/weight vs error (0.01)"},
    {"granularity", 0, 1, O_GRAN, "G", "scales per tensor, channel (default) or group"},
    {"group-size", 0, 1, O_GROUP, "N", "elements per group with --granularity group (256)"},
    {"axis", 0, 1, O_AXIS, "N|auto", "channel axis (auto: last for MatMul, else 0)"},
    {"asymmetric", 0, 0, O_ASYM, NULL, "separate positive and negative scales"},
    {"scale-dtype", 0, 1, O_SCALE, "D", "scale dtype: f32 (default), f16, bf16"},
    {"include", 0, 1, O_INCLUDE, "GLOB", "quantize only tensors whose name matches (repeatable)"},
    {"exclude", 0, 1, O_EXCLUDE, "GLOB", "never quantize tensors whose name matches (repeatable)"},
    {"ops", 0, 1, O_OPS, "LIST", "quantize only inputs of these operators (Conv,MatMul,Gemm)"},
    {"min-elements", 0, 1, O_MIN_ELEM, "N", "quantize only tensors of at least N elements (1024)"},
    {"policy", 0, 1, O_POLICY, "FILE", "JSON quantization policy (docs/policy.md)"},
    {"max-rel-error", 0, 1, O_MAX_REL, "X", "exit 3 if a tensor's relative L2 error exceeds X"},
    {"min-sqnr", 0, 1, O_MIN_SQNR, "DB", "exit 3 if a tensor's SQNR is below DB"},
    {"json", 0, 1, O_JSON, "FILE", "write the whole report as JSON to FILE ('-': stdout)"},
    {"no-zstd-ref", 0, 0, O_NO_ZREF, NULL, "skip the zstd -19 reference size (huge models)"},
};

typedef struct pack_opts {
  const char *input, *output, *policy_file, *json;
  int format, level, force, verbosity, help, version, no_zref, to_stdout;
  int quantize; /* tt_method, -1: not given */
  tt_rule cli;  /* the rule --quantize builds */
  int cli_set;  /* a rule option was given (needs --quantize) */
  const char *given[32]; /* policy keys the action options set, with their options */
  const char *given_opt[32];
  size_t ngiven;
  double max_rel, min_sqnr;
} pack_opts;

static int set_quantize(pack_opts *o, const char *arg) {
  int m = tt_method_from_name(arg);
  if (m < 0)
    return tt_usage_error("--quantize: unknown method '%s' (lossless, twn, ec2t, binary, kbit, hybrid, adaptive)",
                          arg);
  if (!tt_method_available(m)) return tt_usage_error("--quantize %s is not available yet", arg);
  o->quantize = m;
  o->cli.action.method = m;
  return 0;
}

/* "F:L" with F, L in 2..8. */
static int set_depth(tt_action *a, const char *arg) {
  unsigned f = 0, l = 0;
  char end = 0;
  if (sscanf(arg, "%u:%u%c", &f, &l, &end) != 2 || f < 2 || f > 8 || l < 2 || l > 8)
    return tt_usage_error("--bits-by-depth: '%s' is not FIRST:LAST with both in 2..8", arg);
  a->by_depth = 1, a->depth_first = f, a->depth_last = l;
  return 0;
}

/* Remember that option `opt` set policy key `key` (checked against the method later). */
static void given(pack_opts *o, const char *key, const char *opt) {
  for (size_t i = 0; i < o->ngiven; i++)
    if (strcmp(o->given[i], key) == 0) return;
  if (o->ngiven < sizeof(o->given) / sizeof(o->given[0]))
    o->given[o->ngiven] = key, o->given_opt[o->ngiven++] = opt;
}

static int add_ops(pack_opts *o, const char *list) {
  char buf[1024];
  snprintf(buf, sizeof(buf), "%s", list);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
    if (tt_strlist_add(&o->cli.match.ops, &o->cli.match.nops, tok) != 0) return tt_usage_error("out of memory");
  return o->cli.match.nops ? 0 : tt_usage_error("--ops: empty list");
}

static int enum_arg(const char *opt, const char *arg, const char *const *names, const int *vals,
                    size_t n, int *out) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(arg, names[i]) == 0) return *out = vals[i], 0;
  return tt_usage_error("%s: '%s' is not a valid choice", opt, arg);
}

static int rule_option(pack_opts *o, int id, const char *arg) {
  static const char *const grans[] = {"tensor", "channel", "group"};
  static const int gran_ids[] = {TCODEC_GRAN_TENSOR, TCODEC_GRAN_CHANNEL, TCODEC_GRAN_GROUP};
  static const char *const sd[] = {"f32", "f16", "bf16"};
  static const int sd_ids[] = {TCODEC_F32, TCODEC_F16, TCODEC_BF16};
  static const char *const fd[] = {"f16", "f32"};
  static const int fd_ids[] = {TCODEC_F16, TCODEC_F32};
  tt_action *a = &o->cli.action;
  uint64_t u = 0;
  o->cli_set = 1;
  switch (id) {
    case O_THRESHOLD: given(o, "threshold", "--threshold"); break;
    case O_GRAN: given(o, "granularity", "--granularity"); break;
    case O_GROUP: given(o, "group_size", "--group-size"); break;
    case O_AXIS: given(o, "axis", "--axis"); break;
    case O_ASYM: given(o, "symmetric", "--asymmetric"); break;
    case O_SCALE: given(o, "scale_dtype", "--scale-dtype"); break;
    case O_LAMBDA: given(o, "lambda", "--lambda"); break;
    case O_MAX_ITER: given(o, "max_iter", "--max-iter"); break;
    case O_BITS: given(o, "bits", "--bits"); break;
    case O_BITS_BY_DEPTH: given(o, "bits_by_depth", "--bits-by-depth"); break;
    case O_SPARSITY: given(o, "sparsity", "--sparsity"); break;
    case O_ZERO_POINT: given(o, "zero_point", "--zero-point"); break;
    case O_ERROR_BUDGET: given(o, "error_budget", "--error-budget"); break;
    case O_TER_FRACTION: given(o, "ternary_fraction", "--ternary-fraction"); break;
    case O_FULL_DTYPE: given(o, "full_dtype", "--full-dtype"); break;
    case O_SIZE_WEIGHT: given(o, "size_weight", "--size-weight"); break;
    default: break;
  }
  switch (id) {
    case O_THRESHOLD: return tt_parse_double("--threshold", arg, 0.0, 100.0, &a->threshold);
    case O_LAMBDA: return tt_parse_double("--lambda", arg, 0.0, 1e9, &a->lambda);
    case O_MAX_ITER:
      if (tt_parse_u64("--max-iter", arg, 0, 100000, &u) != 0) return TT_EXIT_USAGE;
      return a->max_iter = (unsigned)u, 0;
    case O_BITS:
      if (tt_parse_u64("--bits", arg, 2, 8, &u) != 0) return TT_EXIT_USAGE;
      return a->bits = (unsigned)u, 0;
    case O_BITS_BY_DEPTH: return set_depth(a, arg);
    case O_SPARSITY: return tt_parse_double("--sparsity", arg, 0.0, 1.0, &a->sparsity);
    case O_ZERO_POINT: return a->zero_point = 1, 0;
    case O_ERROR_BUDGET: return tt_parse_double("--error-budget", arg, 0.0, 1e9, &a->error_budget);
    case O_TER_FRACTION: return tt_parse_double("--ternary-fraction", arg, 0.0, 1.0, &a->ternary_fraction);
    case O_FULL_DTYPE: return enum_arg("--full-dtype", arg, fd, fd_ids, 2, &a->full_dtype);
    case O_SIZE_WEIGHT: return tt_parse_double("--size-weight", arg, 0.0, 1e9, &a->size_weight);
    case O_GRAN: return enum_arg("--granularity", arg, grans, gran_ids, 3, &a->granularity);
    case O_GROUP: return tt_parse_u64("--group-size", arg, 1, 1ull << 32, &a->group_size);
    case O_AXIS:
      if (strcmp(arg, "auto") == 0) return a->axis = TT_AXIS_AUTO, 0;
      if (tt_parse_u64("--axis", arg, 0, 31, &u) != 0) return TT_EXIT_USAGE;
      return a->axis = (int)u, 0;
    case O_ASYM: return a->symmetric = 0, 0;
    case O_SCALE: return enum_arg("--scale-dtype", arg, sd, sd_ids, 3, &a->scale_dtype);
    case O_INCLUDE:
      return tt_strlist_add(&o->cli.match.names, &o->cli.match.nnames, arg) ? tt_usage_error("out of memory") : 0;
    case O_EXCLUDE:
      return tt_strlist_add(&o->cli.match.excludes, &o->cli.match.nexcludes, arg) ? tt_usage_error("out of memory") : 0;
    case O_OPS: return add_ops(o, arg);
    case O_MIN_ELEM: return tt_parse_u64("--min-elements", arg, 0, UINT64_MAX, &o->cli.match.min_elements);
    default: return 0;
  }
}

static int on_option(void *ctx, int id, const char *arg) {
  pack_opts *o = ctx;
  uint64_t u = 0;
  switch (id) {
    case TT_OPT_DIGITS:
    case O_LEVEL:
      if (tt_parse_u64(id == O_LEVEL ? "--level" : "-N", arg, 1, id == O_LEVEL ? 22 : 19, &u) != 0) return TT_EXIT_USAGE;
      return o->level = (int)u, 0;
    case O_FAST: return o->level = 1, 0;
    case O_OUTPUT: return o->output = arg, 0;
    case O_STDOUT: return o->to_stdout = 1, 0;
    case O_FORCE: return o->force = 1, 0;
    case O_KEEP: return 0;
    case O_QUIET: return o->verbosity = -1, 0;
    case O_VERBOSE: return o->verbosity = 1, 0;
    case O_HELP: return o->help = 1, 0;
    case O_VERSION: return o->version = 1, 0;
    case O_FORMAT:
      o->format = tt_format_from_name(arg);
      return o->format > 0 ? 0 : tt_usage_error("--format: '%s' is not safetensors or onnx", arg);
    case O_QUANTIZE: return set_quantize(o, arg);
    case O_POLICY: return o->policy_file = arg, 0;
    case O_MAX_REL: return tt_parse_double("--max-rel-error", arg, 0.0, 1e300, &o->max_rel);
    case O_MIN_SQNR: return tt_parse_double("--min-sqnr", arg, -1e300, 1e300, &o->min_sqnr);
    case O_JSON: return o->json = arg, 0;
    case O_NO_ZREF: return o->no_zref = 1, 0;
    default: return rule_option(o, id, arg);
  }
}

static void usage(void) {
  printf("Usage: tcpack [OPTION]... [MODEL]\n"
         "Pack a safetensors or ONNX model into a .tc file, losslessly unless told to quantize,\n"
         "then read the .tc back and report every tensor. MODEL '-' or none: stdin (needs\n"
         "--format), .tc to stdout. A sharded checkpoint is given by its *.index.json.\n\n");
  tt_print_options(k_opts, sizeof(k_opts) / sizeof(k_opts[0]));
  printf("\nExit status: 0 success, 1 error, 2 usage or policy error, 3 a tensor did not meet\n"
         "--max-rel-error/--min-sqnr (the output is then not kept). See tcpack(1).\n");
}

/* ---- the pack ------------------------------------------------------------------------------ */

typedef struct pack {
  pack_opts *o;
  const char *in_shown;
  char *out_path;
  tt_source src;
  tt_policy policy;
  tt_report rep;
  tt_out out;
  tcodec_writer *w;
  tt_choice *choices; /* per tensor of the model (tt_policy_plan) */
  uint64_t total_bytes, done_bytes;
} pack;

static int build_policy(pack *p) {
  pack_opts *o = p->o;
  tt_action_init(&p->policy.def, TT_M_LOSSLESS);
  if (o->policy_file == NULL) {
    if (o->quantize == TT_M_LOSSLESS || o->quantize < 0) return 0;
    return tt_policy_add_rule(&p->policy, &o->cli) == 0 ? 0 : (tt_error(NULL, TT_NO_OFFSET, "out of memory"), 1);
  }
  uint8_t *text = NULL;
  size_t n = 0;
  tt_policy_error e;
  int rc = tt_read_file(o->policy_file, o->policy_file, TT_POLICY_MAX_BYTES, &text, &n);
  if (rc != 0) return rc;
  if (tt_policy_parse(text, n, &p->policy, &e) != 0) {
    if (e.line > 0)
      tt_error(o->policy_file, e.offset, "line %u, column %u: %s", e.line, e.column, e.msg);
    else
      tt_error(o->policy_file, e.offset, "%s", e.msg);
    rc = TT_EXIT_USAGE;
  }
  free(text);
  return rc;
}

static tt_row *new_row(pack *p, const tcf_tensor *t, const tt_choice *c) {
  tt_row *row = tt_report_add(&p->rep, t->name);
  if (row == NULL) return NULL;
  row->dtype = t->dtype;
  row->ndim = t->ndim;
  memcpy(row->shape, t->shape, t->ndim * sizeof(uint64_t));
  row->nelem = t->nelem;
  row->source_bytes = t->size;
  row->rule = c->rule;
  row->quantized = c->action.method != TT_M_LOSSLESS;
  row->note = c->note;
  row->sparsity = NAN;
  row->act = c->action;
  row->depth_index = c->depth_index;
  row->depth_count = c->depth_count;
  tt_action_describe(&c->action, row->action, sizeof(row->action));
  return row;
}

static int add_quantized(pack *p, const tcodec_tensor_desc *d, const tcf_tensor *t, const tt_action *a) {
  float *f = malloc(t->nelem ? (size_t)t->nelem * sizeof(float) : 1);
  tcodec_request req;
  if (f == NULL) return TCODEC_E_NOMEM;
  tt_to_f32(t->dtype, t->data, (size_t)t->nelem, f);
  tt_action_request(a, &req);
  int rc = tcodec_writer_add_f32(p->w, d, f, (size_t)t->nelem, &req);
  free(f);
  return rc;
}

/* 1 if a value is beyond the f16 range (hybrid's f16 full filters cannot hold it). */
static int beyond_f16(const tcf_tensor *t) {
  if (t->dtype == TCODEC_F16) return 0;
  float *f = malloc(t->nelem ? (size_t)t->nelem * sizeof(float) : 1);
  int beyond = 0;
  if (f == NULL) return 0; /* the quantizer reports it */
  tt_to_f32(t->dtype, t->data, (size_t)t->nelem, f);
  for (uint64_t i = 0; i < t->nelem && !beyond; i++) beyond = fabsf(f[i]) > 65504.0f;
  free(f);
  return beyond;
}

/* The policy's choice for every tensor, before packing: bits_by_depth needs to know
 * how many tensors each rule quantizes. */
static int plan(pack *p) {
  const tcf_model *m = &p->src.model;
  tt_tensor_view *vs = calloc(m->ntensors ? m->ntensors : 1, sizeof(*vs));
  p->choices = calloc(m->ntensors ? m->ntensors : 1, sizeof(*p->choices));
  if (vs == NULL || p->choices == NULL) return free(vs), (tt_error(NULL, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
  for (size_t i = 0; i < m->ntensors; i++) {
    const tcf_tensor *t = &m->tensors[i];
    tt_choice c;
    vs[i] = (tt_tensor_view){t->name, t->dtype, t->ndim, t->shape, t->nelem, t->consumer_op, 0};
    tt_policy_choose(&p->policy, &vs[i], &c);
    if (c.action.method != TT_M_LOSSLESS)
      vs[i].nonfinite = tt_count_nonfinite(t->dtype, t->data, (size_t)t->nelem) > 0;
  }
  tt_policy_plan(&p->policy, vs, m->ntensors, p->choices);
  for (size_t i = 0; i < m->ntensors; i++) {
    tt_choice *c = &p->choices[i];
    if (c->action.method == TT_M_HYBRID && c->action.full_dtype == TCODEC_F16 && beyond_f16(&m->tensors[i])) {
      tt_action_init(&c->action, TT_M_LOSSLESS);
      c->note = "hybrid f16 filters cannot hold values beyond the f16 range";
    }
  }
  free(vs);
  return 0;
}

static int add_tensor(pack *p, const tcf_tensor *t, const tt_choice *cp) {
  tt_choice c = *cp;
  if (new_row(p, t, &c) == NULL) return (tt_error(NULL, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
  tcodec_tensor_desc d = {t->name, t->dtype, t->ndim, t->shape, (const char *const *)t->meta_keys,
                          (const char *const *)t->meta_values, t->meta_count};
  int rc = c.action.method != TT_M_LOSSLESS ? add_quantized(p, &d, t, &c.action)
                                            : tcodec_writer_add_raw(p->w, &d, t->data, (size_t)t->size);
  if (rc == 0) return 0;
  if (p->out.failed) return (tt_error(tt_out_name(&p->out), TT_NO_OFFSET, "write error"), TT_EXIT_ERROR);
  tt_error(p->in_shown, TT_NO_OFFSET, "tensor '%s': %s", tcf_show(t->name).s,
           rc == TCODEC_E_NOMEM ? "out of memory" : tcodec_writer_error_message(p->w));
  return TT_EXIT_ERROR;
}

static int writer_fail(pack *p, const char *what, int rc) {
  if (p->out.failed) return (tt_error(tt_out_name(&p->out), TT_NO_OFFSET, "write error"), TT_EXIT_ERROR);
  tt_error(p->in_shown, TT_NO_OFFSET, "%s: %s", what, rc == TCODEC_E_NOMEM ? "out of memory" : tcodec_writer_error_message(p->w));
  return TT_EXIT_ERROR;
}

static int write_head(pack *p) {
  const tcf_model *m = &p->src.model;
  char producer[64], key[512];
  snprintf(producer, sizeof(producer), "tcpack %s", TT_VERSION);
  int rc = tcodec_writer_set_meta(p->w, "source_format", tt_format_name(p->src.format));
  if (rc == 0) rc = tcodec_writer_set_meta(p->w, "producer", producer);
  if (rc == 0 && strcmp(p->o->input, "-") != 0) rc = tcodec_writer_set_meta(p->w, "source_file", tt_path_base(p->o->input));
  for (size_t i = 0; rc == 0 && i < m->meta_count; i++) {
    snprintf(key, sizeof(key), "%s%s", TT_MODEL_META_PREFIX, m->meta_keys[i]);
    rc = tcodec_writer_set_meta(p->w, key, m->meta_values[i]);
  }
  if (rc != 0) return writer_fail(p, "metadata", rc);
  for (size_t i = 0; i < m->nsections; i++) {
    rc = tcodec_writer_add_section(p->w, m->sections[i].type, 0, m->sections[i].data, m->sections[i].size);
    if (rc != 0) return writer_fail(p, m->sections[i].type, rc);
  }
  return 0;
}

static int write_tc(pack *p) {
  int rc = tcodec_writer_create(&p->w, NULL);
  if (rc == 0) rc = tcodec_writer_set_param(p->w, TCODEC_WP_ZSTD_LEVEL, p->o->level);
  if (rc == 0) rc = tcodec_writer_begin(p->w, tt_out_write, &p->out);
  if (rc != 0) return writer_fail(p, "writer", rc);
  if ((rc = write_head(p)) != 0) return rc;
  if ((rc = plan(p)) != 0) return rc;
  tt_progress_start("packing", p->o->verbosity < 0);
  for (size_t i = 0; i < p->src.model.ntensors; i++) {
    if ((rc = add_tensor(p, &p->src.model.tensors[i], &p->choices[i])) != 0) return tt_progress_end(), rc;
    p->done_bytes += p->src.model.tensors[i].size;
    tt_progress_update(p->done_bytes, p->total_bytes);
  }
  tt_progress_end();
  rc = tcodec_writer_finish(p->w);
  if (rc != 0) return writer_fail(p, "finish", rc);
  p->rep.output_bytes = p->out.to_stdout ? p->out.mem_size : p->out.written;
  return tt_out_close_tmp(&p->out) == 0 ? 0 : (tt_error(tt_out_name(&p->out), TT_NO_OFFSET, "write error"), TT_EXIT_ERROR);
}

/* ---- reading the output back ------------------------------------------------------------------ */

static double symbol_zeros(tcodec_reader *r, size_t idx, uint64_t nelem) {
  uint64_t size = 0;
  if (tcodec_reader_decoded_size(r, idx, TCODEC_OUT_SYMBOLS, &size) != 0 || size != nelem) return NAN;
  int8_t *s = malloc(size ? (size_t)size : 1);
  if (s == NULL || tcodec_reader_decode(r, idx, TCODEC_OUT_SYMBOLS, s, (size_t)size) != 0) return free(s), NAN;
  uint64_t zeros = 0;
  for (uint64_t i = 0; i < size; i++) zeros += s[i] == 0;
  free(s);
  return size ? (double)zeros / (double)size : 0.0;
}

/* Ternary filters of a hybrid tensor: the popcount of its KINDS stream (1 bit per
 * filter). */
static uint64_t ternary_filters(tcodec_reader *r, size_t idx, uint64_t filters) {
  uint64_t size = 0, n = 0;
  if (tcodec_reader_stream_size(r, idx, TCODEC_ROLE_KINDS, &size) != 0) return 0;
  uint8_t *k = malloc(size ? (size_t)size : 1);
  if (k == NULL || tcodec_reader_decode_stream(r, idx, TCODEC_ROLE_KINDS, k, (size_t)size) != 0) return free(k), 0;
  for (uint64_t i = 0; i < size; i++)
    for (unsigned b = 0; b < 8; b++) n += k[i] >> b & 1u;
  free(k);
  return n < filters ? n : filters;
}

static int check_tensor(pack *p, tcodec_reader *r, const char *shown, tt_row *row, const tcf_tensor *t) {
  size_t idx = 0;
  tcodec_tensor_info info;
  uint64_t size = 0;
  if (tcodec_reader_find(r, row->name, &idx) != 0 || tcodec_reader_tensor_info(r, idx, &info) != 0 ||
      tcodec_reader_decoded_size(r, idx, TCODEC_OUT_ORIGINAL, &size) != 0)
    return (tt_reader_error(r, p->out.tmp, shown), TT_EXIT_ERROR);
  row->encoding = info.encoding;
  row->stored_bytes = info.stored_bytes;
  row->bits_per_weight = info.nelem ? (double)info.stored_bytes * 8.0 / (double)info.nelem : 0.0;
  uint8_t *buf = malloc(size ? (size_t)size : 1);
  if (buf == NULL) return (tt_error(shown, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
  if (tcodec_reader_decode(r, idx, TCODEC_OUT_ORIGINAL, buf, (size_t)size) != 0)
    return free(buf), tt_reader_error(r, p->out.tmp, shown), TT_EXIT_ERROR;
  int same = size == t->size && (size == 0 || memcmp(buf, t->data, (size_t)size) == 0);
  if (info.encoding == TCODEC_ENC_TERNARY || info.encoding == TCODEC_ENC_BINARY)
    row->sparsity = symbol_zeros(r, idx, info.nelem);
  if (info.encoding == TCODEC_ENC_HYBRID && info.ndim > 0) {
    row->filters = info.shape[0];
    row->ternary_filters = ternary_filters(r, idx, info.shape[0]);
  }
  if (!row->quantized) {
    row->state = same ? TT_ROW_EXACT : TT_ROW_MISMATCH;
    if (!same) row->detail = "lossless tensor did not read back bit-exact";
  } else if (size == t->size) {
    tt_metrics m;
    memset(&m, 0, sizeof(m));
    tt_metrics_add(&m, t->dtype, t->data, info.dtype, buf, t->nelem);
    tt_metrics_finish(&m, &row->q);
    row->state = same ? TT_ROW_EXACT : TT_ROW_CHANGED;
    if (isnan(row->sparsity)) row->sparsity = row->q.sparsity;
  } else {
    row->state = TT_ROW_MISMATCH;
    row->detail = "decoded size differs from the source";
  }
  free(buf);
  return 0;
}

static int check_output(pack *p) {
  tcodec_reader *r = NULL;
  const char *shown = tt_out_name(&p->out);
  size_t bad = 0;
  if (tcodec_reader_create(&r, NULL) != 0) return (tt_error(shown, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
  int rc = p->out.to_stdout ? tcodec_reader_open_memory(r, p->out.mem, p->out.mem_size)
                            : tcodec_reader_open_file(r, p->out.tmp);
  if (rc == 0) rc = tcodec_reader_verify(r, &bad);
  if (rc != 0) {
    tt_reader_error(r, p->out.tmp, shown);
    tcodec_reader_free(r);
    return TT_EXIT_ERROR;
  }
  tt_progress_start("checking", p->o->verbosity < 0);
  rc = 0;
  for (size_t i = 0; rc == 0 && i < p->rep.nrows; i++) {
    rc = check_tensor(p, r, shown, &p->rep.rows[i], &p->src.model.tensors[i]);
    tt_progress_update(i + 1, p->rep.nrows);
  }
  tt_progress_end();
  tcodec_reader_free(r);
  return rc;
}

static void zstd_reference(pack *p) {
  tt_zref z;
  if (p->o->no_zref) return;
  tt_zref_init(&z, 19, p->src.input_bytes);
  tt_progress_start("zstd -19", p->o->verbosity < 0);
  tt_source_each_input(&p->src, tt_zref_add, &z);
  tt_progress_end();
  p->rep.zstd_bytes = tt_zref_finish(&z);
}

/* Decide, keep or remove the output, report. */
static int finish(pack *p) {
  size_t mismatch = 0;
  for (size_t i = 0; i < p->rep.nrows; i++) mismatch += p->rep.rows[i].state == TT_ROW_MISMATCH;
  size_t below = tt_report_check(&p->rep);
  int rc = mismatch ? TT_EXIT_ERROR : below ? TT_EXIT_QUALITY : 0;
  if (mismatch)
    tt_error(tt_out_name(&p->out), TT_NO_OFFSET, "%zu tensors did not read back as written; output removed", mismatch);
  else if (below)
    tt_error(tt_out_name(&p->out), TT_NO_OFFSET, "not written: %zu tensors below the quality thresholds", below);
  if (rc == 0) rc = tt_out_commit(&p->out, p->o->force);
  else tt_out_abort(&p->out);
  p->rep.written = rc == 0;
  if (p->o->verbosity >= 0) tt_report_print(&p->rep, stderr, p->o->verbosity > 0);
  if (p->o->json != NULL) {
    int jrc = tt_report_json(&p->rep, p->o->json, p->o->force);
    if (jrc != 0 && rc == 0) rc = jrc;
  }
  return rc;
}

static int run(pack *p) {
  int rc = build_policy(p);
  if (rc != 0) return rc;
  if ((rc = tt_out_open(&p->out, p->out_path, p->o->force, 1)) != 0) return rc;
  if ((rc = tt_source_load(&p->src, p->o->input, p->o->format)) != 0) return tt_out_abort(&p->out), rc;
  p->rep.input_bytes = p->src.input_bytes;
  p->rep.source_format = tt_format_name(p->src.format);
  for (size_t i = 0; i < p->src.model.ntensors; i++) p->total_bytes += p->src.model.tensors[i].size;
  rc = write_tc(p);
  if (rc == 0) rc = check_output(p);
  if (rc != 0) return tt_out_abort(&p->out), rc;
  zstd_reference(p);
  return finish(p);
}

/* ---- main ---------------------------------------------------------------------------------------- */

static int check_options(pack_opts *o, size_t nin, const char **in) {
  o->input = nin ? in[0] : "-";
  if (o->policy_file != NULL && (o->quantize >= 0 || o->cli_set))
    return tt_usage_error("--policy cannot be combined with --quantize and its options");
  if (o->cli_set && o->quantize < 0)
    return tt_usage_error("quantization options need --quantize METHOD (or a --policy file)");
  for (size_t i = 0; o->quantize > 0 && i < o->ngiven; i++)
    if (!tt_action_takes(o->quantize, o->given[i]))
      return tt_usage_error("%s does not apply to --quantize %s", o->given_opt[i], tt_method_name(o->quantize));
  for (size_t i = 0; i < o->ngiven; i++)
    if (strcmp(o->given[i], "bits_by_depth") == 0)
      for (size_t j = 0; j < o->ngiven; j++)
        if (strcmp(o->given[j], "bits") == 0) return tt_usage_error("--bits and --bits-by-depth both given");
  if (o->to_stdout && o->output != NULL && strcmp(o->output, "-") != 0)
    return tt_usage_error("-c and -o FILE both given");
  if (o->policy_file != NULL && strcmp(o->policy_file, "-") == 0 && strcmp(o->input, "-") == 0)
    return tt_usage_error("the model and the policy cannot both come from stdin");
  if (o->to_stdout || (o->output == NULL && strcmp(o->input, "-") == 0)) o->output = "-";
  if (o->json != NULL && strcmp(o->json, "-") == 0 && o->output != NULL && strcmp(o->output, "-") == 0)
    return tt_usage_error("--json - and the .tc cannot both go to stdout");
  return 0;
}

int main(int argc, char **argv) {
  pack_opts o;
  pack p;
  const char *in[1];
  size_t nin = 0;
  memset(&o, 0, sizeof(o));
  memset(&p, 0, sizeof(p));
  p.src.dir_fd = -1;
  o.level = DEFAULT_LEVEL, o.quantize = -1, o.max_rel = NAN, o.min_sqnr = NAN;
  tt_action_init(&o.cli.action, TT_M_TWN);
  tt_match_init(&o.cli.match);
  tt_set_prog("tcpack");
  tt_cleanup_install();
  int rc = tt_parse_args(argc, argv, k_opts, sizeof(k_opts) / sizeof(k_opts[0]), on_option, &o, in, 1, &nin);
  if (rc == 0 && o.help) return usage(), 0;
  if (rc == 0 && o.version) return tt_print_version(), 0;
  if (rc == 0) rc = check_options(&o, nin, in);
  if (rc == 0) {
    p.o = &o;
    p.in_shown = strcmp(o.input, "-") == 0 ? "(stdin)" : o.input;
    p.out_path = o.output != NULL ? tt_path_add(o.output, "") : tt_path_add(o.input, ".tc");
    tt_report_init(&p.rep, "tcpack");
    p.rep.input = p.in_shown;
    p.rep.output = p.out_path;
    p.rep.max_rel_error = o.max_rel;
    p.rep.min_sqnr = o.min_sqnr;
    p.rep.policy = &p.policy;
    rc = p.out_path != NULL ? run(&p) : (tt_error(NULL, TT_NO_OFFSET, "out of memory"), 1);
  }
  tcodec_writer_free(p.w);
  tt_source_free(&p.src);
  tt_policy_free(&p.policy);
  tt_report_free(&p.rep);
  free(p.choices);
  free(p.out_path);
  tt_match_free(&o.cli.match); /* when no policy took it over */
  return rc;
}
