/* tcunpack: rebuild the source model (safetensors, sharded safetensors, ONNX)
 * from a .tc file after checking every checksum; or list, test, or compare a
 * .tc against a reference model.
 *
 * Manual: docs/tcunpack.1.
 * Exit: 0 success, 1 error (corrupt file, I/O, tensors missing in --compare),
 * 2 usage, 3 --compare: a tensor did not meet --max-rel-error / --min-sqnr. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tcodec/tcodec.h>

#include "common/cli.h"
#include "common/io.h"
#include "common/metrics.h"
#include "common/models.h"
#include "common/progress.h"
#include "common/report.h"

/* ---- options ------------------------------------------------------------------------- */

enum {
  O_OUTPUT = 1, O_STDOUT, O_FORCE, O_KEEP, O_QUIET, O_VERBOSE, O_HELP, O_VERSION, O_FORMAT,
  O_LIST, O_TEST, O_COMPARE, O_JSON, O_MAX_REL, O_MIN_SQNR
};

static const tt_opt k_opts[] = {
    {"output", 'o', 1, O_OUTPUT, "PATH", "write to PATH ('-': stdout; a folder for shards)"},
    {"stdout", 'c', 0, O_STDOUT, NULL, "write to stdout"},
    {"force", 'f', 0, O_FORCE, NULL, "overwrite existing files; write binary to a terminal"},
    {"keep", 'k', 0, O_KEEP, NULL, "keep the input (always done; for compatibility)"},
    {"quiet", 'q', 0, O_QUIET, NULL, "no progress bar and no summary (errors are still shown)"},
    {"verbose", 'v', 0, O_VERBOSE, NULL, "a summary line after unpacking; metadata with --list"},
    {"help", 'h', 0, O_HELP, NULL, "show this help and exit"},
    {"version", 'V', 0, O_VERSION, NULL, "show the versions and exit"},
    {"format", 0, 1, O_FORMAT, "FMT", "write FMT: safetensors or onnx (default: the source's);\n"
     "                             --compare: the reference's format (default: detect)"},
    {"list", 'l', 0, O_LIST, NULL, "list tensors, encodings, sizes and sections"},
    {"test", 't', 0, O_TEST, NULL, "check every checksum and decode every tensor; write nothing"},
    {"compare", 0, 1, O_COMPARE, "MODEL", "compare the tensors with a reference model"},
    {"json", 0, 1, O_JSON, "FILE", "--compare: the report as JSON to FILE ('-': stdout)"},
    {"max-rel-error", 0, 1, O_MAX_REL, "X", "--compare: exit 3 if a relative L2 error exceeds X"},
    {"min-sqnr", 0, 1, O_MIN_SQNR, "DB", "--compare: exit 3 if an SQNR is below DB"},
};

typedef struct unpack_opts {
  const char *input, *output, *compare, *json;
  int format, force, verbosity, help, version, list, test, to_stdout;
  double max_rel, min_sqnr;
} unpack_opts;

static int on_option(void *ctx, int id, const char *arg) {
  unpack_opts *o = ctx;
  switch (id) {
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
    case O_LIST: return o->list = 1, 0;
    case O_TEST: return o->test = 1, 0;
    case O_COMPARE: return o->compare = arg, 0;
    case O_JSON: return o->json = arg, 0;
    case O_MAX_REL: return tt_parse_double("--max-rel-error", arg, 0.0, 1e300, &o->max_rel);
    case O_MIN_SQNR: return tt_parse_double("--min-sqnr", arg, -1e300, 1e300, &o->min_sqnr);
    default: return tt_usage_error("-%d: not handled", id);
  }
}

static void usage(void) {
  printf("Usage: tcunpack [OPTION]... [FILE.tc]\n"
         "Check a .tc file and rebuild the model it was packed from (quantized tensors come back\n"
         "dequantized in their original dtype). FILE '-' or none: stdin, model to stdout.\n"
         "Default output: FILE without .tc; a sharded checkpoint goes next to it (or into -o DIR).\n\n");
  tt_print_options(k_opts, sizeof(k_opts) / sizeof(k_opts[0]));
  printf("\nExit status: 0 success, 1 error, 2 usage error, 3 --compare: a tensor did not meet\n"
         "--max-rel-error/--min-sqnr. See tcunpack(1).\n");
}

/* ---- opening ------------------------------------------------------------------------------ */

typedef struct unpack {
  unpack_opts *o;
  const char *shown;     /* input name in messages */
  const char *opened_as; /* path given to the reader */
  tcodec_reader *r;
  uint8_t *mem;          /* the whole file when it is not a regular file */
  uint64_t file_bytes;
} unpack;

static int open_input(unpack *u) {
  struct stat st;
  int regular = strcmp(u->o->input, "-") != 0 && stat(u->o->input, &st) == 0 && S_ISREG(st.st_mode);
  if (tcodec_reader_create(&u->r, NULL) != 0) return (tt_error(u->shown, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
  int rc;
  if (regular) {
    u->file_bytes = (uint64_t)st.st_size;
    u->opened_as = u->o->input;
    rc = tcodec_reader_open_file(u->r, u->o->input);
  } else {
    size_t n = 0;
    if (tt_read_file(u->o->input, u->shown, TCF_DEFAULT_MAX_FILE_BYTES, &u->mem, &n) != 0) return TT_EXIT_ERROR;
    u->file_bytes = n;
    u->opened_as = "<memory>";
    rc = tcodec_reader_open_memory(u->r, u->mem, n);
  }
  if (rc != 0) return (tt_reader_error(u->r, u->opened_as, u->shown), TT_EXIT_ERROR);
  return 0;
}

static int verify(unpack *u) {
  size_t bad = 0;
  if (tcodec_reader_verify(u->r, &bad) != 0) return (tt_reader_error(u->r, u->opened_as, u->shown), TT_EXIT_ERROR);
  return 0;
}

static const char *source_format(const unpack *u) {
  const char *f = NULL;
  return tcodec_reader_meta_find(u->r, "source_format", &f) == 0 ? f : "?";
}

/* ---- --list --------------------------------------------------------------------------------- */

static void list_tensor(const unpack *u, size_t i) {
  tcodec_tensor_info t;
  char shape[64], extra[96] = "";
  if (tcodec_reader_tensor_info(u->r, i, &t) != 0) return;
  tt_shape_text(t.ndim, t.shape, shape, sizeof(shape));
  if (t.encoding != TCODEC_ENC_RAW && t.granularity == TCODEC_GRAN_CHANNEL)
    snprintf(extra, sizeof(extra), "%llu x %s, axis %u%s", (unsigned long long)t.units,
             tcodec_dtype_name(t.scale_dtype), t.axis, t.symmetric ? "" : ", asymmetric");
  else if (t.encoding != TCODEC_ENC_RAW)
    snprintf(extra, sizeof(extra), "%llu x %s, %s%s", (unsigned long long)t.units,
             tcodec_dtype_name(t.scale_dtype), t.granularity == TCODEC_GRAN_GROUP ? "groups" : "tensor",
             t.symmetric ? "" : ", asymmetric");
  printf("  %-40.40s %-6s %-16.16s %-8s %11llu %7.3f  %s\n", tcf_show(t.name).s, tcodec_dtype_name(t.dtype), shape,
         tcodec_encoding_name(t.encoding), (unsigned long long)t.stored_bytes,
         t.nelem ? (double)t.stored_bytes * 8.0 / (double)t.nelem : 0.0, extra);
}

static void list_meta(const unpack *u) {
  size_t n = 0;
  tcodec_reader_meta_count(u->r, &n);
  printf("metadata: %zu entries\n", n);
  for (size_t i = 0; i < n && u->o->verbosity > 0; i++) {
    const char *key = NULL;
    const void *value = NULL;
    size_t size = 0;
    int text = 0;
    if (tcodec_reader_meta_get(u->r, i, &key, &value, &size, &text) != 0) continue;
    if (text)
      printf("  %s = %s\n", tcf_show(key).s, tcf_show(value).s);
    else
      printf("  %s = (%zu bytes)\n", tcf_show(key).s, size);
  }
}

static int do_list(unpack *u) {
  size_t nt = 0, ns = 0;
  uint64_t stored = 0, elems = 0;
  tcodec_reader_tensor_count(u->r, &nt);
  tcodec_reader_section_count(u->r, &ns);
  printf("%s: %zu tensors, %zu sections, %llu bytes, source format %s\n", u->shown, nt, ns,
         (unsigned long long)u->file_bytes, source_format(u));
  printf("  %-40s %-6s %-16s %-8s %11s %7s  %s\n", "tensor", "dtype", "shape", "encoding", "stored", "bits/w", "scales");
  for (size_t i = 0; i < nt; i++) {
    tcodec_tensor_info t;
    list_tensor(u, i);
    if (tcodec_reader_tensor_info(u->r, i, &t) == 0) stored += t.stored_bytes, elems += t.nelem;
  }
  printf("sections:\n");
  for (size_t i = 0; i < ns; i++) {
    const char *type = NULL;
    int critical = 0;
    uint64_t size = 0;
    if (tcodec_reader_section_info(u->r, i, &type, &critical, &size) == 0)
      printf("  %-40.40s %11llu bytes%s\n", tcf_show(type).s, (unsigned long long)size, critical ? " (critical)" : "");
  }
  list_meta(u);
  printf("total: %llu elements in %llu stored bytes (%.3f bits/weight)\n", (unsigned long long)elems,
         (unsigned long long)stored, elems ? (double)stored * 8.0 / (double)elems : 0.0);
  return fflush(stdout) == 0 ? 0 : TT_EXIT_ERROR;
}

/* ---- --test ---------------------------------------------------------------------------------- */

static int do_test(unpack *u) {
  size_t n = 0;
  int rc = verify(u);
  tcodec_reader_tensor_count(u->r, &n);
  tt_progress_start("testing", u->o->verbosity < 0);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    uint64_t size = 0;
    uint8_t *buf = NULL;
    if (tcodec_reader_decoded_size(u->r, i, TCODEC_OUT_ORIGINAL, &size) != 0 || size > SIZE_MAX - 1 ||
        (buf = malloc(size ? (size_t)size : 1)) == NULL ||
        tcodec_reader_decode(u->r, i, TCODEC_OUT_ORIGINAL, buf, (size_t)size) != 0)
      rc = buf == NULL && size > 0 ? (tt_error(u->shown, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR)
                                   : (tt_reader_error(u->r, u->opened_as, u->shown), TT_EXIT_ERROR);
    free(buf);
    tt_progress_update(i + 1, n);
  }
  tt_progress_end();
  if (rc == 0 && u->o->verbosity > 0) fprintf(stderr, "%s: %s: OK (%zu tensors)\n", tt_prog(), u->shown, n);
  return rc;
}

/* ---- --compare -------------------------------------------------------------------------------- */

static const tcf_tensor *find_ref(const tcf_model *m, const char *name, uint8_t *seen) {
  for (size_t i = 0; i < m->ntensors; i++) /* models have few enough tensors for a scan */
    if (strcmp(m->tensors[i].name, name) == 0) return seen[i] = 1, &m->tensors[i];
  return NULL;
}

static int compare_tensor(unpack *u, size_t i, const tcf_tensor *ref, tt_row *row) {
  tcodec_tensor_info t;
  uint64_t size = 0;
  if (tcodec_reader_tensor_info(u->r, i, &t) != 0) return (tt_reader_error(u->r, u->opened_as, u->shown), TT_EXIT_ERROR);
  row->dtype = t.dtype, row->ndim = t.ndim > 32 ? 32 : t.ndim, row->nelem = t.nelem, row->encoding = t.encoding;
  memcpy(row->shape, t.shape, row->ndim * sizeof(uint64_t));
  row->stored_bytes = t.stored_bytes;
  row->bits_per_weight = t.nelem ? (double)t.stored_bytes * 8.0 / (double)t.nelem : 0.0;
  row->sparsity = NAN;
  row->quantized = t.encoding != TCODEC_ENC_RAW;
  row->state = TT_ROW_MISSING;
  if (ref == NULL) return row->detail = "not in the reference model", 0;
  if (ref->ndim != t.ndim || (t.ndim && memcmp(ref->shape, t.shape, t.ndim * sizeof(uint64_t)) != 0))
    return row->detail = "shape differs from the reference", 0;
  row->source_bytes = ref->size;
  if (tcodec_reader_decoded_size(u->r, i, TCODEC_OUT_ORIGINAL, &size) != 0 || size > SIZE_MAX - 1)
    return (tt_reader_error(u->r, u->opened_as, u->shown), TT_EXIT_ERROR);
  uint8_t *buf = malloc(size ? (size_t)size : 1);
  if (buf == NULL) return (tt_error(u->shown, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
  if (tcodec_reader_decode(u->r, i, TCODEC_OUT_ORIGINAL, buf, (size_t)size) != 0)
    return free(buf), tt_reader_error(u->r, u->opened_as, u->shown), TT_EXIT_ERROR;
  tt_metrics m;
  memset(&m, 0, sizeof(m));
  tt_metrics_add(&m, ref->dtype, ref->data, t.dtype, buf, t.nelem);
  tt_metrics_finish(&m, &row->q);
  row->sparsity = row->q.sparsity;
  int same = ref->dtype == t.dtype && size == ref->size && (size == 0 || memcmp(buf, ref->data, (size_t)size) == 0);
  row->state = same ? TT_ROW_EXACT : TT_ROW_CHANGED;
  free(buf);
  return 0;
}

static int compare_rows(unpack *u, const tcf_model *ref, tt_report *rep) {
  size_t n = 0;
  uint8_t *seen = calloc(ref->ntensors + 1, 1);
  if (seen == NULL) return (tt_error(NULL, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
  tcodec_reader_tensor_count(u->r, &n);
  int rc = 0;
  tt_progress_start("comparing", u->o->verbosity < 0);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    tcodec_tensor_info t;
    tt_row *row = tcodec_reader_tensor_info(u->r, i, &t) == 0 ? tt_report_add(rep, t.name) : NULL;
    rc = row != NULL ? compare_tensor(u, i, find_ref(ref, t.name, seen), row) : (tt_error(NULL, TT_NO_OFFSET, "out of memory"), 1);
    tt_progress_update(i + 1, n);
  }
  tt_progress_end();
  for (size_t i = 0; rc == 0 && i < ref->ntensors; i++) {
    if (seen[i]) continue;
    tt_row *row = tt_report_add(rep, ref->tensors[i].name);
    if (row == NULL) return free(seen), tt_error(NULL, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR;
    row->dtype = ref->tensors[i].dtype, row->ndim = ref->tensors[i].ndim, row->nelem = ref->tensors[i].nelem;
    memcpy(row->shape, ref->tensors[i].shape, row->ndim * sizeof(uint64_t));
    row->state = TT_ROW_MISSING, row->sparsity = NAN, row->detail = "only in the reference model";
  }
  free(seen);
  return rc;
}

static int do_compare(unpack *u) {
  tt_source ref;
  tt_report rep;
  int rc = verify(u);
  if (rc != 0) return rc;
  if ((rc = tt_source_load(&ref, u->o->compare, u->o->format)) != 0) return tt_source_free(&ref), rc;
  tt_report_init(&rep, "tcunpack");
  rep.input = u->shown, rep.reference = u->o->compare, rep.source_format = source_format(u);
  rep.max_rel_error = u->o->max_rel, rep.min_sqnr = u->o->min_sqnr;
  rep.input_bytes = ref.input_bytes, rep.output_bytes = u->file_bytes, rep.zstd_level = 0;
  rc = compare_rows(u, &ref.model, &rep);
  size_t missing = 0;
  for (size_t i = 0; i < rep.nrows; i++) missing += rep.rows[i].state == TT_ROW_MISSING;
  size_t below = rc == 0 ? tt_report_check(&rep) : 0;
  if (rc == 0 && u->o->verbosity >= 0) tt_report_print(&rep, stdout, 1);
  if (rc == 0 && u->o->json != NULL) rc = tt_report_json(&rep, u->o->json, u->o->force);
  if (rc == 0 && missing) {
    tt_error(u->shown, TT_NO_OFFSET, "%zu tensors are not in both files (or differ in shape)", missing);
    rc = TT_EXIT_ERROR;
  }
  if (rc == 0 && below) rc = TT_EXIT_QUALITY;
  tt_report_free(&rep);
  tt_source_free(&ref);
  return rc;
}

/* ---- unpacking -------------------------------------------------------------------------------------- */

static void progress(uint64_t done, uint64_t total) { tt_progress_update(done, total); }

/* Default output: FILE without .tc; exporting to another format renames the extension. */
static char *default_output(const unpack *u, int fmt, int cross) {
  char *base = tt_path_strip(u->o->input, ".tc");
  if (base == NULL) {
    tt_usage_error("%s: unknown suffix (expected .tc); give the output with -o", u->o->input);
    return NULL;
  }
  if (!cross || fmt != TT_FMT_SAFETENSORS) return base;
  char *stem = tt_path_strip(base, ".onnx");
  char *out = tt_path_add(stem != NULL ? stem : base, ".safetensors");
  free(stem), free(base);
  return out;
}

/* Sharded: output folder and index file name. */
static int sharded_names(const unpack *u, char **dir, char **index) {
  const char *src = NULL;
  char *stripped = tt_path_strip(u->o->input, ".tc");
  if (tcodec_reader_meta_find(u->r, "source_file", &src) != 0 || strchr(src, '/') != NULL || src[0] == '.') src = NULL;
  *index = tt_path_add(src != NULL ? src : stripped != NULL ? tt_path_base(stripped) : "model.safetensors.index.json", "");
  *dir = u->o->output != NULL ? tt_path_add(u->o->output, "") : tt_path_dir(u->o->input);
  free(stripped);
  return *dir != NULL && *index != NULL ? 0 : (tt_error(NULL, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
}

static int do_unpack(unpack *u) {
  const char *src_fmt = source_format(u);
  int src = tt_format_from_name(src_fmt), fmt = u->o->format ? u->o->format : src;
  if (fmt <= 0)
    return (tt_error(u->shown, TT_NO_OFFSET, "source format '%s' unknown (use --format safetensors)", tcf_show(src_fmt).s), 1);
  if (fmt == TT_FMT_ONNX && src != TT_FMT_ONNX)
    return (tt_error(u->shown, TT_NO_OFFSET, "holds a %s model: it cannot be written as onnx", tcf_show(src_fmt).s), 1);
  int rc = verify(u);
  if (rc != 0) return rc;
  tcf_model m;
  tt_progress_start("decoding", u->o->verbosity < 0);
  rc = tt_model_from_reader(u->r, u->shown, tt_format_name(fmt), fmt == src, progress, &m);
  tt_progress_end();
  if (rc != 0) return rc;
  char *out = NULL, *index = NULL;
  if (tt_model_is_sharded(&m) && fmt == src) rc = sharded_names(u, &out, &index);
  else if (u->o->output != NULL) out = tt_path_add(u->o->output, "");
  else if ((out = default_output(u, fmt, fmt != src)) == NULL) rc = TT_EXIT_USAGE;
  if (rc == 0) rc = tt_model_write(&m, fmt, out, index, u->o->force);
  if (rc == 0 && u->o->verbosity > 0)
    fprintf(stderr, "%s: %s -> %s: %zu tensors\n", tt_prog(), u->shown, out, m.ntensors);
  free(out), free(index);
  tcf_model_free(&m);
  return rc;
}

/* ---- main -------------------------------------------------------------------------------------------- */

static int check_options(unpack_opts *o, size_t nin, const char **in) {
  o->input = nin ? in[0] : "-";
  if (o->list + o->test + (o->compare != NULL) > 1) return tt_usage_error("--list, --test and --compare exclude each other");
  if (o->to_stdout && o->output != NULL && strcmp(o->output, "-") != 0) return tt_usage_error("-c and -o FILE both given");
  if (o->to_stdout || (o->output == NULL && strcmp(o->input, "-") == 0)) o->output = "-";
  if (o->json != NULL && o->compare == NULL) return tt_usage_error("--json goes with --compare");
  if ((!isnan(o->max_rel) || !isnan(o->min_sqnr)) && o->compare == NULL)
    return tt_usage_error("--max-rel-error and --min-sqnr go with --compare");
  int unpacking = !o->list && !o->test && o->compare == NULL;
  if (unpacking && o->output != NULL && strcmp(o->output, "-") == 0 && !o->force && isatty(STDOUT_FILENO)) {
    tt_error(NULL, TT_NO_OFFSET, "refusing to write binary data to a terminal (use -f to force)");
    return TT_EXIT_ERROR;
  }
  if (o->compare != NULL && strcmp(o->compare, "-") == 0 && strcmp(o->input, "-") == 0)
    return tt_usage_error("the .tc file and the reference cannot both come from stdin");
  return 0;
}

int main(int argc, char **argv) {
  unpack_opts o;
  unpack u;
  const char *in[1];
  size_t nin = 0;
  memset(&o, 0, sizeof(o));
  memset(&u, 0, sizeof(u));
  o.max_rel = NAN, o.min_sqnr = NAN;
  tt_set_prog("tcunpack");
  tt_cleanup_install();
  int rc = tt_parse_args(argc, argv, k_opts, sizeof(k_opts) / sizeof(k_opts[0]), on_option, &o, in, 1, &nin);
  if (rc == 0 && o.help) return usage(), 0;
  if (rc == 0 && o.version) return tt_print_version(), 0;
  if (rc == 0) rc = check_options(&o, nin, in);
  if (rc != 0) return rc;
  u.o = &o;
  u.shown = strcmp(o.input, "-") == 0 ? "(stdin)" : o.input;
  rc = open_input(&u);
  if (rc == 0) {
    if (o.list) rc = do_list(&u);
    else if (o.test) rc = do_test(&u);
    else if (o.compare != NULL) rc = do_compare(&u);
    else rc = do_unpack(&u);
  }
  tcodec_reader_free(u.r);
  free(u.mem);
  return rc;
}
