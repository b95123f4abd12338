/* tcsweep, run as a program on a tiny safetensors model written here: the CSV and JSON
 * have the documented structure and agree, the SVGs are there, and the numbers are sane:
 * bits/weight and SQNR finite and in range, k-bit SQNR rises with bits, TWN bits fall as
 * the threshold grows past the point where zeros are a third of the symbols (below it the
 * ternary entropy still rises), EC2T bits fall as lambda grows, entropy <= log2(3).
 *
 * The binary is found in $TCODEC_BUILD_DIR/bin; without it every test is skipped. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "support/testutil.h"

static char g_bin[1024];
static char g_dir[1024];

static void setup(void) {
  const char *build = getenv("TCODEC_BUILD_DIR");
  if (build == NULL || build[0] == '\0') cr_skip_test("TCODEC_BUILD_DIR is not set");
  snprintf(g_bin, sizeof(g_bin), "%s/bin/tcsweep", build);
  if (access(g_bin, X_OK) != 0) cr_skip_test("%s is not built", g_bin);
  const char *tmp = getenv("TMPDIR");
  snprintf(g_dir, sizeof(g_dir), "%s/tcodec-sweep-XXXXXX", tmp != NULL && tmp[0] ? tmp : "/tmp");
  cr_assert_not_null(mkdtemp(g_dir), "mkdtemp: %s", strerror(errno));
}

static void teardown(void) {
  if (g_dir[0] == '\0') return;
  char cmd[1200];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) cr_log_warn("could not remove %s", g_dir);
  g_dir[0] = '\0';
}

TestSuite(sweep, .init = setup, .fini = teardown, .timeout = 120);

/* A safetensors file: two eligible f32 matrices (Gaussian, different scales per row), a
 * bias (1-D) and a small matrix (below --min-elements), both ineligible. */
static void write_model(const char *path) {
  static const struct { const char *name; uint64_t r, c; } t[] = {
      {"layer1.weight", 16, 128}, {"layer1.bias", 16, 1}, {"layer2.weight", 32, 64},
      {"tiny.weight", 4, 4}};
  char hdr[1024];
  size_t off = 0, h = 0;
  h += (size_t)snprintf(hdr + h, sizeof(hdr) - h, "{");
  for (int i = 0; i < 4; i++) {
    uint64_t n = t[i].r * t[i].c, sz = n * 4;
    if (t[i].c == 1)
      h += (size_t)snprintf(hdr + h, sizeof(hdr) - h,
                            "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%llu],\"data_offsets\":[%zu,%llu]}",
                            i ? "," : "", t[i].name, (unsigned long long)t[i].r, off,
                            (unsigned long long)(off + sz));
    else
      h += (size_t)snprintf(hdr + h, sizeof(hdr) - h,
                            "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%llu,%llu],"
                            "\"data_offsets\":[%zu,%llu]}",
                            i ? "," : "", t[i].name, (unsigned long long)t[i].r,
                            (unsigned long long)t[i].c, off, (unsigned long long)(off + sz));
    off += (size_t)sz;
  }
  h += (size_t)snprintf(hdr + h, sizeof(hdr) - h, "}");
  while (h % 8) hdr[h++] = ' ';
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  uint8_t len[8];
  tu_put64(len, (uint64_t)h);
  fwrite(len, 1, 8, f);
  fwrite(hdr, 1, h, f);
  tu_rng rng;
  tu_rng_seed(&rng, 42);
  for (int i = 0; i < 4; i++)
    for (uint64_t r = 0; r < t[i].r; r++)
      for (uint64_t c = 0; c < t[i].c; c++) {
        float v = (float)(tu_rng_normal(&rng) * 0.05 * (1.0 + (double)(r % 4)));
        uint8_t b[4];
        tu_put32(b, tu_f32_bits(v));
        fwrite(b, 1, 4, f);
      }
  cr_assert_eq(fclose(f), 0);
}

static int run(const char *args) {
  char cmd[4096];
  snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' %s >out.txt 2>err.txt", g_dir, g_bin, args);
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

typedef struct row {
  char method[16], knob_name[16], tensor[64];
  double knob, bits, sqnr, rel, ent;
  unsigned long long n;
} row;

static size_t read_csv(const char *name, row *rows, size_t cap) {
  char path[1200], line[512];
  snprintf(path, sizeof(path), "%s/%s", g_dir, name);
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "%s missing", path);
  cr_assert_not_null(fgets(line, sizeof(line), f));
  cr_assert_str_eq(line,
                   "method,knob_name,knob,tensor,elements,bits_per_weight,sqnr_db,rel_err,entropy\n");
  size_t n = 0;
  while (fgets(line, sizeof(line), f) != NULL) {
    cr_assert_lt(n, cap);
    row *r = &rows[n++];
    char ent[32] = "";
    int k = sscanf(line, "%15[^,],%15[^,],%lf,%63[^,],%llu,%lf,%lf,%lf,%31[^\n]", r->method,
                   r->knob_name, &r->knob, r->tensor, &r->n, &r->bits, &r->sqnr, &r->rel, ent);
    cr_assert(k == 8 || k == 9, "bad CSV line: %s", line);
    r->ent = k == 9 ? strtod(ent, NULL) : NAN;
  }
  fclose(f);
  return n;
}

static const row *find(const row *rows, size_t n, const char *m, double knob, const char *t) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(rows[i].method, m) == 0 && fabs(rows[i].knob - knob) < 1e-9 &&
        strcmp(rows[i].tensor, t) == 0)
      return &rows[i];
  cr_assert_fail("no row %s %g %s", m, knob, t);
  return NULL;
}

static row g_rows[400];

Test(sweep, full_sweep_structure_and_monotonicity) {
  char path[1200];
  snprintf(path, sizeof(path), "%s/m.safetensors", g_dir);
  write_model(path);
  cr_assert_eq(run("m.safetensors -o out"), 0, "tcsweep failed");
  size_t n = read_csv("out.csv", g_rows, 400);
  /* 46 points (13 + 11 + 1 + 7 + 7 + 7), each an ALL row and 2 tensor rows. */
  cr_assert_eq(n, 46 * 3, "rows: %zu", n);
  static const char *const tensors[] = {"ALL", "layer1.weight", "layer2.weight"};
  for (size_t i = 0; i < n; i++) {
    const row *r = &g_rows[i];
    cr_assert(strcmp(r->tensor, "layer1.bias") != 0 && strcmp(r->tensor, "tiny.weight") != 0);
    cr_assert_eq(r->n, strcmp(r->tensor, "ALL") == 0 ? 4096u : 2048u);
    cr_assert(isfinite(r->bits) && r->bits > 0 && r->bits < 20, "bits %g", r->bits);
    cr_assert(isfinite(r->sqnr) && r->sqnr > 0 && r->sqnr < 120, "sqnr %g", r->sqnr);
    cr_assert(r->rel > 0 && r->rel < 1, "rel %g", r->rel);
    cr_assert(fabs(r->sqnr + 20 * log10(r->rel)) < 1e-3, "sqnr and rel_err disagree");
    if (strcmp(r->method, "twn") == 0 || strcmp(r->method, "ec2t") == 0)
      cr_assert(r->ent >= 0 && r->ent <= log2(3.0) + 1e-9, "entropy %g", r->ent);
    if (strcmp(r->method, "hybrid") == 0) cr_assert(isnan(r->ent));
  }
  for (int t = 0; t < 3; t++) {
    /* k-bit: SQNR rises with bits, about 6 dB a bit. */
    for (int b = 3; b <= 8; b++) {
      double lo = find(g_rows, n, "kbit", b - 1, tensors[t])->sqnr;
      double hi = find(g_rows, n, "kbit", b, tensors[t])->sqnr;
      cr_assert_gt(hi, lo + 3, "%s: kbit %d bits %g dB <= %d bits %g dB", tensors[t], b, hi,
                   b - 1, lo);
    }
    /* TWN: past threshold 0.6 (zeros > 1/3), fewer bits as the threshold grows. */
    for (int k = 7; k <= 15; k++) {
      double a = find(g_rows, n, "twn", (k - 1) / 10.0, tensors[t])->bits;
      double c = find(g_rows, n, "twn", k / 10.0, tensors[t])->bits;
      cr_assert_leq(c, a + 0.01, "%s: twn bits %g at %.1f > %g at %.1f", tensors[t], c,
                    k / 10.0, a, (k - 1) / 10.0);
    }
    cr_assert_lt(find(g_rows, n, "twn", 1.5, tensors[t])->bits,
                 find(g_rows, n, "twn", 0.7, tensors[t])->bits);
    /* EC2T: larger lambda, fewer bits (small tolerance for the coder). */
    static const double lam[] = {0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8};
    for (int k = 1; k < 11; k++) {
      double a = find(g_rows, n, "ec2t", lam[k - 1], tensors[t])->bits;
      double c = find(g_rows, n, "ec2t", lam[k], tensors[t])->bits;
      cr_assert_leq(c, a + 0.02, "%s: ec2t bits %g at %g > %g at %g", tensors[t], c, lam[k], a,
                    lam[k - 1]);
    }
    cr_assert_lt(find(g_rows, n, "ec2t", 0.8, tensors[t])->bits,
                 find(g_rows, n, "ec2t", 0, tensors[t])->bits);
    /* binary: one bit a weight plus per-channel scales (16 rows of 128: +0.5 bit). */
    double bb = find(g_rows, n, "binary", 0, tensors[t])->bits;
    cr_assert(bb > 0.9 && bb < 2, "binary bits %g", bb); /* 2 f32 scales a row */
  }

  /* JSON: the same rows. */
  char jp[1200];
  snprintf(jp, sizeof(jp), "%s/out.json", g_dir);
  json_error_t err;
  json_t *root = json_load_file(jp, 0, &err);
  cr_assert_not_null(root, "out.json: %s", err.text);
  cr_assert(json_is_string(json_object_get(root, "model")));
  cr_assert_eq(json_integer_value(json_object_get(root, "zstd_level")), 3);
  json_t *rows = json_object_get(root, "rows");
  cr_assert(json_is_array(rows));
  cr_assert_eq(json_array_size(rows), n);
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_array_get(rows, i);
    cr_assert_str_eq(json_string_value(json_object_get(o, "method")), g_rows[i].method);
    cr_assert_str_eq(json_string_value(json_object_get(o, "tensor")), g_rows[i].tensor);
    cr_assert_eq((unsigned long long)json_integer_value(json_object_get(o, "elements")),
                 g_rows[i].n);
    cr_assert(fabs(json_number_value(json_object_get(o, "bits_per_weight")) - g_rows[i].bits) <
              1e-9 + 1e-5 * g_rows[i].bits);
    cr_assert(fabs(json_number_value(json_object_get(o, "sqnr_db")) - g_rows[i].sqnr) < 1e-3);
    json_t *e = json_object_get(o, "entropy");
    cr_assert(isnan(g_rows[i].ent) ? json_is_null(e) : json_is_number(e));
  }
  json_decref(root);

  /* SVGs: whole model and per layer, complete documents naming the model. */
  static const char *const svgs[] = {"out.svg", "out-layers.svg"};
  for (int k = 0; k < 2; k++) {
    char sp[1200], buf[1 << 16];
    snprintf(sp, sizeof(sp), "%s/%s", g_dir, svgs[k]);
    FILE *f = fopen(sp, "r");
    cr_assert_not_null(f, "%s missing", sp);
    size_t got = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[got] = '\0';
    cr_assert(strncmp(buf, "<svg", 4) == 0);
    cr_assert_not_null(strstr(buf, "m.safetensors"));
    cr_assert_not_null(strstr(buf, "<polyline"));
  }

  /* The summary answers the EC2T-vs-TWN question. */
  char op[1200], text[1 << 15];
  snprintf(op, sizeof(op), "%s/out.txt", g_dir);
  FILE *f = fopen(op, "r");
  cr_assert_not_null(f);
  size_t got = fread(text, 1, sizeof(text) - 1, f);
  fclose(f);
  text[got] = '\0';
  cr_assert_not_null(strstr(text, "EC2T vs TWN at equal bits"));
}

Test(sweep, methods_and_usage) {
  char path[1200];
  snprintf(path, sizeof(path), "%s/m.safetensors", g_dir);
  write_model(path);
  cr_assert_eq(run("m.safetensors -o only --methods twn,kbit --min-elements 4096"), 1,
               "no eligible tensor must fail");
  cr_assert_eq(run("m.safetensors -o only --methods kbit --zstd-level 19"), 0);
  size_t n = read_csv("only.csv", g_rows, 400);
  cr_assert_eq(n, 7 * 3);
  for (size_t i = 0; i < n; i++) cr_assert_str_eq(g_rows[i].method, "kbit");
  cr_assert_eq(run("m.safetensors --methods nosuch"), 2);
  cr_assert_eq(run(""), 2);
  cr_assert_eq(run("missing.safetensors"), 1);
}
