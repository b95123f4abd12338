/* tcpack and tcunpack, run as programs on small models built here (safetensors
 * written by hand from the public format description) and on the fixtures:
 * lossless round trips byte for byte (single, sharded, ONNX, through a pipe),
 * -f, no temporary file left after a failure or a signal, --test on a corrupt
 * file, quality thresholds (exit 3, no output), the JSON report, policy errors,
 * --list and --compare.
 *
 * The binaries are found in $TCODEC_BUILD_DIR/bin; without that variable every
 * test is skipped. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "support/testutil.h"

extern char **environ;

/* ---- environment ------------------------------------------------------------------------- */

static char g_bin[1024];
static char g_dir[1024]; /* scratch folder of the current test */

static void setup(void) {
  const char *build = getenv("TCODEC_BUILD_DIR");
  if (build == NULL || build[0] == '\0') cr_skip_test("TCODEC_BUILD_DIR is not set");
  snprintf(g_bin, sizeof(g_bin), "%s/bin", build);
  char probe[1100];
  snprintf(probe, sizeof(probe), "%s/tcpack", g_bin);
  if (access(probe, X_OK) != 0) cr_skip_test("%s is not built", probe);
  const char *tmp = getenv("TMPDIR");
  snprintf(g_dir, sizeof(g_dir), "%s/tcodec-tools-XXXXXX", tmp != NULL && tmp[0] ? tmp : "/tmp");
  cr_assert_not_null(mkdtemp(g_dir), "mkdtemp: %s", strerror(errno));
}

static void teardown(void) {
  if (g_dir[0] == '\0') return;
  char cmd[1200];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) cr_log_warn("could not remove %s", g_dir);
  g_dir[0] = '\0';
}

TestSuite(tools, .init = setup, .fini = teardown, .timeout = 120);

/* Path in the scratch folder (static buffers, rotated). */
static const char *P(const char *name) {
  static char bufs[8][1200];
  static int k;
  char *b = bufs[k++ % 8];
  snprintf(b, sizeof(bufs[0]), "%s/%s", g_dir, name);
  return b;
}

/* Run a shell command line in the scratch folder with $B = the bin folder; stdout and
 * stderr go to out.txt / err.txt there. Returns the exit status (128+N for signal N). */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int sh(const char *fmt, ...);
static int sh(const char *fmt, ...) {
  char line[2048], cmd[4400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof(cmd), "cd '%s' && B='%s' && { %s ; } >out.txt 2>err.txt", g_dir, g_bin, line);
  int st = system(cmd);
  cr_assert_neq(st, -1);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *slurp(const char *name, size_t *size) {
  size_t n = 0;
  char *p = tu_read_file(P(name), &n);
  cr_assert_not_null(p, "cannot read %s", name);
  char *s = malloc(n + 1);
  cr_assert_not_null(s);
  memcpy(s, p, n);
  s[n] = '\0';
  free(p);
  if (size != NULL) *size = n;
  return s;
}

static int contains(const char *file, const char *needle) {
  char *s = slurp(file, NULL);
  int hit = strstr(s, needle) != NULL;
  free(s);
  return hit;
}

static void put_file(const char *name, const void *p, size_t n) {
  FILE *f = fopen(P(name), "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(p, 1, n, f), n);
  cr_assert_eq(fclose(f), 0);
}

static void assert_same_files(const char *a, const char *b) {
  size_t na = 0, nb = 0;
  char *x = slurp(a, &na), *y = slurp(b, &nb);
  cr_assert_eq(na, nb, "%s has %zu bytes, %s %zu", a, na, b, nb);
  tu_assert_mem_eq(x, y, na, "%s vs %s", a, b);
  free(x), free(y);
}

/* Number of entries of the scratch folder whose name starts with '.' (temp files). */
static int hidden_entries(void) {
  DIR *d = opendir(g_dir);
  cr_assert_not_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n += e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

static int exists(const char *name) {
  struct stat st;
  return stat(P(name), &st) == 0;
}

/* ---- safetensors by hand ------------------------------------------------------------------- */

typedef struct st_tensor {
  const char *name, *dtype; /* safetensors dtype name */
  unsigned ndim;
  uint64_t shape[4];
  const void *data;
  size_t size;
} st_tensor;

/* 8-byte LE header length, the JSON header padded with spaces to 8, the data. */
static tu_buf st_build(const st_tensor *t, size_t n, const char *meta) {
  char hdr[4096];
  size_t len = (size_t)snprintf(hdr, sizeof(hdr), "{");
  uint64_t off = 0;
  if (meta != NULL) len += (size_t)snprintf(hdr + len, sizeof(hdr) - len, "\"__metadata__\":%s%s", meta, n ? "," : "");
  for (size_t i = 0; i < n; i++) {
    len += (size_t)snprintf(hdr + len, sizeof(hdr) - len, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "",
                            t[i].name, t[i].dtype);
    for (unsigned d = 0; d < t[i].ndim; d++)
      len += (size_t)snprintf(hdr + len, sizeof(hdr) - len, "%s%llu", d ? "," : "", (unsigned long long)t[i].shape[d]);
    len += (size_t)snprintf(hdr + len, sizeof(hdr) - len, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                            (unsigned long long)(off + t[i].size));
    off += t[i].size;
  }
  len += (size_t)snprintf(hdr + len, sizeof(hdr) - len, "}");
  while (len % 8 != 0) hdr[len++] = ' ';
  cr_assert_lt(len, sizeof(hdr));
  tu_buf b = {NULL, 0, 0, 0};
  uint8_t l8[8];
  tu_put64(l8, len);
  tu_buf_write(&b, l8, 8);
  tu_buf_write(&b, hdr, len);
  for (size_t i = 0; i < n; i++) tu_buf_write(&b, t[i].data, t[i].size);
  return b;
}

typedef struct model_data {
  float w[64 * 48], v[32 * 64], bias[64];
  uint16_t h[40 * 40]; /* f16 */
  int64_t ids[5];
} model_data;

static uint16_t f16_of(float f) { /* round-toward-zero f32 -> f16, normal range only */
  uint32_t u = tu_f32_bits(f);
  uint32_t sign = u >> 16 & 0x8000u, e = u >> 23 & 0xFF, m = u & 0x7FFFFF;
  if (e < 103) return (uint16_t)sign;
  if (e < 113) return (uint16_t)(sign | ((m | 0x800000u) >> (126 - e)));
  return (uint16_t)(sign | (e - 112) << 10 | m >> 13);
}

static void fill(model_data *d, uint64_t seed) {
  tu_rng r;
  tu_rng_seed(&r, seed);
  for (size_t i = 0; i < 64 * 48; i++) d->w[i] = (float)(0.05 * tu_rng_normal(&r));
  for (size_t i = 0; i < 32 * 64; i++) d->v[i] = (float)(0.1 * tu_rng_normal(&r));
  for (size_t i = 0; i < 64; i++) d->bias[i] = (float)(0.01 * tu_rng_normal(&r));
  for (size_t i = 0; i < 40 * 40; i++) d->h[i] = f16_of((float)tu_rng_normal(&r));
  for (size_t i = 0; i < 5; i++) d->ids[i] = (int64_t)i * 1000 - 2;
}

/* model.safetensors: w (64x48 f32), h (40x40 f16), ids (5 i64), bias (64 f32), v (32x64 f32). */
static void write_model(const char *name, uint64_t seed) {
  static model_data d;
  fill(&d, seed);
  st_tensor t[] = {{"layer.w", "F32", 2, {64, 48}, d.w, sizeof(d.w)},
                   {"layer.h", "F16", 2, {40, 40}, d.h, sizeof(d.h)},
                   {"ids", "I64", 1, {5}, d.ids, sizeof(d.ids)},
                   {"layer.bias", "F32", 1, {64}, d.bias, sizeof(d.bias)},
                   {"head.v", "F32", 2, {32, 64}, d.v, sizeof(d.v)}};
  tu_buf b = st_build(t, 5, "{\"format\":\"pt\"}");
  put_file(name, b.data, b.size);
  tu_buf_free(&b);
}

/* ---- round trips ------------------------------------------------------------------------------ */

Test(tools, lossless_roundtrip_is_byte_identical) {
  write_model("m.safetensors", 1);
  cr_assert_eq(sh("$B/tcpack m.safetensors"), 0, "%s", slurp("err.txt", NULL));
  cr_assert(exists("m.safetensors.tc"));
  cr_assert(contains("err.txt", "5 tensors: 5 bit-exact"), "%s", slurp("err.txt", NULL));
  cr_assert_eq(sh("$B/tcunpack -o back.safetensors m.safetensors.tc"), 0, "%s", slurp("err.txt", NULL));
  assert_same_files("m.safetensors", "back.safetensors");
  cr_assert_eq(hidden_entries(), 0);
}

Test(tools, default_names_and_force) {
  write_model("m.safetensors", 2);
  cr_assert_eq(sh("$B/tcpack -q m.safetensors && mv m.safetensors orig.safetensors"), 0);
  cr_assert_eq(sh("$B/tcunpack m.safetensors.tc"), 0, "%s", slurp("err.txt", NULL));
  assert_same_files("m.safetensors", "orig.safetensors");
  /* the output exists: refused without -f, and left as it was */
  put_file("m.safetensors", "keep me", 7);
  cr_assert_eq(sh("$B/tcunpack m.safetensors.tc"), 1);
  cr_assert(contains("err.txt", "already exists"), "%s", slurp("err.txt", NULL));
  cr_assert(contains("m.safetensors", "keep me"));
  cr_assert_eq(sh("$B/tcpack orig.safetensors -o m.safetensors.tc"), 1);
  cr_assert_eq(sh("$B/tcunpack -f m.safetensors.tc"), 0);
  assert_same_files("m.safetensors", "orig.safetensors");
  cr_assert_eq(hidden_entries(), 0);
}

Test(tools, stdin_stdout_pipeline) {
  write_model("m.safetensors", 3);
  cr_assert_eq(sh("$B/tcpack -q --format safetensors < m.safetensors | $B/tcunpack > back.safetensors"), 0,
               "%s", slurp("err.txt", NULL));
  assert_same_files("m.safetensors", "back.safetensors");
  cr_assert_eq(sh("$B/tcpack < m.safetensors > x.tc"), 2); /* stdin needs --format */
  cr_assert(contains("err.txt", "--format"));
  cr_assert_eq(sh("$B/tcpack -q -c m.safetensors | $B/tcunpack -t -"), 0, "%s", slurp("err.txt", NULL));
}

Test(tools, sharded_checkpoint) {
  static model_data d;
  fill(&d, 4);
  st_tensor a[] = {{"a.w", "F32", 2, {64, 48}, d.w, sizeof(d.w)}, {"a.b", "F32", 1, {64}, d.bias, sizeof(d.bias)}};
  st_tensor b[] = {{"b.v", "F32", 2, {32, 64}, d.v, sizeof(d.v)}};
  tu_buf s1 = st_build(a, 2, NULL), s2 = st_build(b, 1, "{\"k\":\"v\"}");
  cr_assert_eq(mkdir(P("in"), 0777), 0);
  put_file("in/s-1.safetensors", s1.data, s1.size);
  put_file("in/s-2.safetensors", s2.data, s2.size);
  const char *idx = "{\n  \"metadata\": {\"total_size\": 1},\n  \"weight_map\": {\"a.w\": \"s-1.safetensors\", "
                    "\"a.b\": \"s-1.safetensors\", \"b.v\": \"s-2.safetensors\"}\n}\n";
  put_file("in/model.safetensors.index.json", idx, strlen(idx));
  tu_buf_free(&s1), tu_buf_free(&s2);
  cr_assert_eq(sh("$B/tcpack -o m.tc in/model.safetensors.index.json"), 0, "%s", slurp("err.txt", NULL));
  cr_assert_eq(sh("$B/tcunpack -o out m.tc"), 0, "%s", slurp("err.txt", NULL));
  assert_same_files("in/model.safetensors.index.json", "out/model.safetensors.index.json");
  assert_same_files("in/s-1.safetensors", "out/s-1.safetensors");
  assert_same_files("in/s-2.safetensors", "out/s-2.safetensors");
}

Test(tools, onnx_fixtures_roundtrip) {
  const char *names[] = {"handmade.onnx", "constants.onnx", "control_flow.onnx", "dtypes.onnx"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    char *src = tu_source_path("tests/fixtures/onnx");
    int rc = sh("test -f '%s/%s' || exit 77; cp '%s/%s' in.onnx && $B/tcpack -q -f in.onnx && "
                "$B/tcunpack -f -o back.onnx in.onnx.tc && cmp in.onnx back.onnx",
                src, names[i], src, names[i]);
    free(src);
    if (rc == 77) continue; /* fixture not there yet */
    cr_assert_eq(rc, 0, "%s: %s", names[i], slurp("err.txt", NULL));
  }
  cr_assert_eq(hidden_entries(), 0);
}

Test(tools, safetensors_fixtures_roundtrip) {
  char *dir = tu_source_path("tests/fixtures/safetensors/valid");
  DIR *d = opendir(dir);
  if (d == NULL) free(dir), cr_skip_test("no tests/fixtures/safetensors/valid");
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    size_t len = strlen(e->d_name);
    if (len < 12 || strcmp(e->d_name + len - 12, ".safetensors") != 0) continue;
    int rc = sh("cp '%s/%s' in.safetensors && $B/tcpack -q -f in.safetensors && "
                "$B/tcunpack -f -o back.safetensors in.safetensors.tc && cmp in.safetensors back.safetensors && "
                "$B/tcunpack --compare in.safetensors in.safetensors.tc",
                dir, e->d_name);
    cr_expect_eq(rc, 0, "%s: %s", e->d_name, slurp("err.txt", NULL));
    n++;
  }
  closedir(d);
  free(dir);
  cr_assert_gt(n, 0);
}

Test(tools, onnx_external_data_roundtrip) {
  char *dir = tu_source_path("tests/fixtures/onnx/external");
  int rc = sh("test -f '%s/model.onnx' || exit 77; mkdir in && cp '%s/model.onnx' '%s/weights.bin' in/ && "
              "$B/tcpack -q -o m.tc in/model.onnx && mkdir out && $B/tcunpack -o out/model.onnx m.tc && "
              "cmp in/model.onnx out/model.onnx && cmp in/weights.bin out/weights.bin",
              dir, dir, dir);
  free(dir);
  if (rc == 77) cr_skip_test("tests/fixtures/onnx/external is missing");
  cr_assert_eq(rc, 0, "%s", slurp("err.txt", NULL));
  /* the external file exists now: refused without -f, nothing half written */
  cr_assert_eq(sh("rm out/model.onnx && $B/tcunpack -o out/model.onnx m.tc"), 1);
  cr_assert(contains("err.txt", "weights.bin: already exists"), "%s", slurp("err.txt", NULL));
  cr_assert(!exists("out/model.onnx"));
  cr_assert_eq(sh("ls -A out | grep -c '^\\.'"), 1); /* grep finds no temp file */
}

/* ---- failures leave nothing behind -------------------------------------------------------------- */

Test(tools, failed_run_leaves_no_temp_file) {
  write_model("m.safetensors", 5);
  size_t n = 0;
  char *p = slurp("m.safetensors", &n);
  put_file("cut.safetensors", p, n - 100); /* data area shorter than the header says */
  free(p);
  cr_assert_eq(sh("$B/tcpack cut.safetensors"), 1);
  cr_assert(contains("err.txt", "tcpack: cut.safetensors: offset "), "%s", slurp("err.txt", NULL));
  cr_assert(!exists("cut.safetensors.tc"));
  cr_assert_eq(hidden_entries(), 0);
  cr_assert_eq(sh("$B/tcunpack -o x.safetensors m.safetensors"), 1); /* not a .tc */
  cr_assert(!exists("x.safetensors"));
  cr_assert_eq(hidden_entries(), 0);
}

/* A big model, killed while it is being packed: the temp file goes away. */
Test(tools, signal_removes_temp_file) {
  size_t n = (size_t)6 << 20; /* 6 Mi floats: a few seconds at level 19 */
  float *w = malloc(n * sizeof(float));
  cr_assert_not_null(w);
  tu_rng r;
  tu_rng_seed(&r, 6);
  for (size_t i = 0; i < n; i++) w[i] = (float)tu_rng_normal(&r);
  st_tensor t = {"big", "F32", 2, {n / 1024, 1024}, w, n * sizeof(float)};
  tu_buf b = st_build(&t, 1, NULL);
  free(w);
  put_file("big.safetensors", b.data, b.size);
  tu_buf_free(&b);
  char prog[1100], in[1200], out[1200];
  snprintf(prog, sizeof(prog), "%s/tcpack", g_bin);
  snprintf(in, sizeof(in), "%s", P("big.safetensors"));
  snprintf(out, sizeof(out), "%s", P("big.tc"));
  char *argv[] = {prog, "-q", "--no-zstd-ref", "-o", out, in, NULL};
  posix_spawnattr_t attr;
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGTERM);
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigdefault(&attr, &def);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  pid_t pid;
  cr_assert_eq(posix_spawn(&pid, prog, NULL, &attr, argv, environ), 0);
  posix_spawnattr_destroy(&attr);
  struct timespec ms = {0, 1000000};
  for (int i = 0; i < 20000 && hidden_entries() == 0; i++) nanosleep(&ms, NULL);
  int seen = hidden_entries();
  kill(pid, SIGTERM);
  int st = 0;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  if (!seen || !WIFSIGNALED(st)) cr_skip_test("tcpack finished before it could be interrupted");
  cr_assert_eq(WTERMSIG(st), SIGTERM);
  cr_assert_eq(hidden_entries(), 0, "a temporary file was left behind");
  cr_assert(!exists("big.tc"));
}

/* ---- checking ------------------------------------------------------------------------------------ */

Test(tools, test_detects_corrupt_stream) {
  write_model("m.safetensors", 7);
  cr_assert_eq(sh("$B/tcpack -q m.safetensors"), 0);
  cr_assert_eq(sh("$B/tcunpack -t m.safetensors.tc"), 0, "%s", slurp("err.txt", NULL));
  size_t n = 0;
  char *f = slurp("m.safetensors.tc", &n);
  tcodec_reader *r = NULL;
  size_t idx = 0;
  uint64_t off = 0, stored = 0;
  cr_assert_eq(tcodec_reader_create(&r, NULL), 0);
  cr_assert_eq(tcodec_reader_open_memory(r, f, n), 0);
  cr_assert_eq(tcodec_reader_find(r, "ids", &idx), 0);
  cr_assert_eq(tcodec_reader_stream_info(r, idx, TCODEC_ROLE_DATA, &off, &stored, NULL, NULL), 0);
  tcodec_reader_free(r);
  cr_assert_gt(stored, 0);
  f[off + stored / 2] ^= 0x10;
  put_file("bad.tc", f, n);
  free(f);
  cr_assert_eq(sh("$B/tcunpack -t bad.tc"), 1);
  cr_assert(contains("err.txt", "tcunpack: bad.tc: "), "%s", slurp("err.txt", NULL));
  cr_assert(contains("err.txt", "checksum"), "%s", slurp("err.txt", NULL));
  cr_assert_eq(sh("$B/tcunpack -o x.safetensors bad.tc"), 1);
  cr_assert(!exists("x.safetensors"));
  cr_assert_eq(hidden_entries(), 0);
}

Test(tools, quantize_and_thresholds) {
  write_model("m.safetensors", 8);
  cr_assert_eq(sh("$B/tcpack --quantize twn --threshold 0.7 --json r.json m.safetensors"), 0, "%s",
               slurp("err.txt", NULL));
  cr_assert(contains("err.txt", "changed (3 quantized)"), "%s", slurp("err.txt", NULL));
  /* TWN on gaussian weights: relative error ~0.4-0.5: a bound of 0.1 fails, output removed */
  cr_assert_eq(sh("$B/tcpack --quantize twn --max-rel-error 0.1 -o q.tc m.safetensors"), 3);
  cr_assert(contains("err.txt", "above --max-rel-error"), "%s", slurp("err.txt", NULL));
  cr_assert(!exists("q.tc"));
  cr_assert_eq(hidden_entries(), 0);
  cr_assert_eq(sh("$B/tcpack --quantize twn --min-sqnr 40 -o q.tc m.safetensors"), 3);
  cr_assert(!exists("q.tc"));
  cr_assert_eq(sh("$B/tcpack --quantize twn --max-rel-error 0.9 --min-sqnr 1 -o q.tc m.safetensors"), 0);
  /* unpacked: same dtypes and shapes, values dequantized; --compare reports and checks */
  cr_assert_eq(sh("$B/tcunpack -o q.safetensors q.tc"), 0, "%s", slurp("err.txt", NULL));
  cr_assert_eq(sh("$B/tcunpack --compare m.safetensors q.tc --max-rel-error 0.9"), 0, "%s", slurp("err.txt", NULL));
  cr_assert(contains("out.txt", "2 bit-exact, 3 changed"), "%s", slurp("out.txt", NULL));
  cr_assert_eq(sh("$B/tcunpack --compare m.safetensors q.tc --max-rel-error 0.1"), 3);
  cr_assert_eq(sh("$B/tcunpack --compare q.safetensors q.tc"), 0);
  cr_assert(contains("out.txt", "5 bit-exact"), "%s", slurp("out.txt", NULL));
}

Test(tools, json_report) {
  write_model("m.safetensors", 9);
  cr_assert_eq(sh("$B/tcpack -q --quantize twn --ops '*' --min-elements 2000 --json r.json m.safetensors"), 0,
               "%s", slurp("err.txt", NULL));
  json_error_t e;
  json_t *j = json_load_file(P("r.json"), JSON_REJECT_DUPLICATES, &e);
  cr_assert_not_null(j, "r.json: %s", e.text);
  json_t *ts = json_object_get(j, "tensors");
  cr_assert_eq(json_array_size(ts), 5);
  const char *want[] = {"layer.w", "layer.h", "ids", "layer.bias", "head.v"};
  int quantized[] = {1, 0, 0, 0, 1}; /* layer.h has 1600 < 2000 elements */
  for (size_t i = 0; i < 5; i++) {
    json_t *t = json_array_get(ts, i);
    cr_assert_str_eq(json_string_value(json_object_get(t, "name")), want[i]);
    cr_assert_eq(json_is_true(json_object_get(t, "quantized")), quantized[i], "%s", want[i]);
    cr_assert_eq(json_is_true(json_object_get(t, "exact")), !quantized[i], "%s", want[i]);
    if (quantized[i]) {
      cr_assert_eq(json_integer_value(json_object_get(t, "rule")), 0);
      cr_assert(json_is_real(json_object_get(t, "sqnr_db")));
      cr_assert(json_is_real(json_object_get(t, "bits_per_weight")));
    } else {
      cr_assert(json_is_null(json_object_get(t, "rule")));
    }
  }
  json_t *sum = json_object_get(j, "summary");
  cr_assert_eq(json_integer_value(json_object_get(sum, "quantized")), 2);
  cr_assert(json_is_integer(json_object_get(sum, "zstd_bytes")));
  cr_assert(json_is_true(json_object_get(j, "written")));
  json_decref(j);
  /* --json - goes to stdout */
  cr_assert_eq(sh("$B/tcpack -q -f --json - m.safetensors"), 0);
  cr_assert(contains("out.txt", "\"tensors\""));
}

/* ---- policies ------------------------------------------------------------------------------------ */

Test(tools, policy_file) {
  write_model("m.safetensors", 10);
  const char *pol = "{\"version\": 1, \"default\": {\"method\": \"lossless\"},\n"
                    " \"rules\": [\n"
                    "  {\"match\": {\"name\": \"head.*\"}, \"method\": \"lossless\"},\n"
                    "  {\"match\": {\"name\": [\"layer.*\"], \"dtype\": \"f32\"}, \"method\": \"twn\",\n"
                    "   \"threshold\": 0.6, \"granularity\": \"group\", \"group_size\": 64}]}\n";
  put_file("p.json", pol, strlen(pol));
  cr_assert_eq(sh("$B/tcpack -q --policy p.json --json r.json m.safetensors"), 0, "%s", slurp("err.txt", NULL));
  json_t *j = json_load_file(P("r.json"), 0, NULL);
  cr_assert_not_null(j);
  json_t *ts = json_object_get(j, "tensors");
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(ts, 0), "rule")), 1); /* layer.w */
  cr_assert(json_is_true(json_object_get(json_array_get(ts, 0), "quantized")));
  cr_assert(!json_is_true(json_object_get(json_array_get(ts, 1), "quantized"))); /* f16: dtype */
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(ts, 4), "rule")), 0); /* head.v */
  json_decref(j);
}

/* The policy `text` is refused with exit 2, naming the file, the position of `at`
 * (offset, line, column) and `want`. */
static void policy_error(const char *text, const char *at, const char *want) {
  char pos[160];
  const char *hit = strstr(text, at);
  cr_assert_not_null(hit, "%s not in %s", at, text);
  size_t off = (size_t)(hit - text), line = 1, col = 1;
  for (size_t i = 0; i < off; i++) text[i] == '\n' ? (line++, col = 1) : col++;
  snprintf(pos, sizeof(pos), "tcpack: p.json: offset %zu: line %zu, column %zu: ", off, line, col);
  put_file("p.json", text, strlen(text));
  cr_assert_eq(sh("$B/tcpack --policy p.json m.safetensors"), 2, "%s", text);
  cr_assert(contains("err.txt", pos), "%s -> %s (want %s)", text, slurp("err.txt", NULL), pos);
  cr_assert(contains("err.txt", want), "%s -> %s", text, slurp("err.txt", NULL));
  cr_assert(!exists("m.safetensors.tc"));
}

Test(tools, policy_errors) {
  write_model("m.safetensors", 11);
  policy_error("{\"version\": 1,\n \"rules\": [{\"method\": \"twn\",\n   \"match\": {\"nmae\": \"x\"}}]}",
               "\"nmae\"", "rules[0].match.nmae: unknown key (a match takes name, exclude, op");
  policy_error("{\"version\": 1, \"rules\": [{\"method\": \"twn\", \"threshold\": \"high\"}]}", "\"threshold\"",
               "rules[0].threshold: must be a number, not a string");
  policy_error("{\"version\": 1, \"rules\": [{\"method\": \"lossless\", \"threshold\": 0.5}]}", "\"threshold\"",
               "does not apply to method \"lossless\"");
  policy_error("{\"version\": 1, \"rules\": [{\"method\": \"twn\"}, {\"method\": \"twn\", \"granularity\": \"row\"}]}",
               "\"granularity\"", "rules[1].granularity: \"row\" is not one of");
  policy_error("{\"version\": 1, \"default\": {\"method\": \"ec3t\", \"lambda\": 1}}", "\"method\"",
               "default.method: \"ec3t\" is not one of");
  policy_error("{\"version\": 1, \"rules\": [{\"method\": \"kbit\", \"bits\": 9}]}", "\"bits\"",
               "rules[0].bits: 9 is out of range [2, 8]");
  policy_error("{\"version\": 1, \"rules\": [{\"method\": \"ec2t\", \"lambda\": -1}]}", "\"lambda\"",
               "rules[0].lambda: -1 is out of range");
  policy_error("{\"version\": 1, \"rules\": [{\"method\": \"twn\", \"bits_by_depth\": {\"first\": 8, \"last\": 2}}]}",
               "\"bits_by_depth\"", "rules[0].bits_by_depth: does not apply to method \"twn\"");
  policy_error("{\"version\": 1, \"rules\": [{\"method\": \"kbit\", \"bits_by_depth\": {\"first\": 8, \"last\": 1}}]}",
               "\"last\"", "rules[0].bits_by_depth.last: 1 is out of range [2, 8]");
  policy_error("{\"version\": 1, \"rules\": [{\"method\": \"hybrid\", \"full_dtype\": \"bf16\"}]}", "\"full_dtype\"",
               "rules[0].full_dtype: \"bf16\" is not one of \"f16\", \"f32\"");
  policy_error("{\"version\": 1, \"rules\": [{\"method\": \"binary\", \"threshold\": 0.5}]}", "\"threshold\"",
               "does not apply to method \"binary\"");
  policy_error("{\"version\": 1, \"version\": 1}", "\": 1}", "not valid JSON: duplicate");
  policy_error("{\"version\": 2}", "\"version\"", "reads policy version 1");
  policy_error("{\"rules\": []}", "{", "\"version\" is missing");
  cr_assert_eq(sh("$B/tcpack --policy p.json --quantize twn m.safetensors"), 2);
}

/* Every method through a policy file and through the command line: exit 0, every
 * quantized tensor decodes, and the JSON report names the method and its parameters. */
static void check_method_report(const char *method, const char *param, const char *encodings) {
  json_t *j = json_load_file(P("r.json"), 0, NULL);
  cr_assert_not_null(j, "%s: no JSON report", method);
  json_t *ts = json_object_get(j, "tensors");
  size_t quantized = 0;
  for (size_t i = 0; i < json_array_size(ts); i++) {
    json_t *t = json_array_get(ts, i);
    if (!json_is_true(json_object_get(t, "quantized"))) continue;
    quantized++;
    cr_assert_str_eq(json_string_value(json_object_get(t, "method")), method);
    json_t *par = json_object_get(t, "params");
    cr_assert(json_is_object(par), "%s", method);
    if (param != NULL) cr_assert_not_null(json_object_get(par, param), "%s: no %s", method, param);
    const char *enc = json_string_value(json_object_get(t, "encoding"));
    cr_assert(enc != NULL && strstr(encodings, enc) != NULL, "%s: encoding %s", method, enc ? enc : "?");
    cr_assert_str_eq(json_string_value(json_object_get(t, "state")), "changed", "%s", method);
    if (strcmp(method, "hybrid") == 0) {
      cr_assert(json_is_integer(json_object_get(par, "ternary_filters")));
      cr_assert_eq(json_integer_value(json_object_get(par, "filters")),
                   json_integer_value(json_array_get(json_object_get(t, "shape"), 0)));
    }
  }
  cr_assert_eq(quantized, 2, "%s: %zu quantized", method, quantized); /* layer.w, head.v (f32, 2-D) */
  json_decref(j);
}

Test(tools, every_method) {
  static const struct {
    const char *method, *json_params, *cli, *param, *encodings;
  } ms[] = {
      {"twn", "\"threshold\": 0.6", "--quantize twn --threshold 0.6", "threshold", "ternary"},
      {"ec2t", "\"lambda\": 0.2, \"max_iter\": 10", "--quantize ec2t --lambda 0.2 --max-iter 10", "lambda", "ternary"},
      {"binary", "\"symmetric\": false", "--quantize binary --asymmetric", "symmetric", "binary"},
      {"kbit", "\"bits\": 3, \"sparsity\": 0.25, \"zero_point\": true",
       "--quantize kbit --bits 3 --sparsity 0.25 --zero-point", "bits", "kbit"},
      {"hybrid", "\"full_dtype\": \"f32\", \"ternary_fraction\": 0.5",
       "--quantize hybrid --full-dtype f32 --ternary-fraction 0.5", "ternary_fraction", "hybrid"},
      {"hybrid", "\"error_budget\": 0.6", "--quantize hybrid --error-budget 0.6", "error_budget", "hybrid"},
      {"adaptive_bt", "\"size_weight\": 0.5", "--quantize adaptive --size-weight 0.5", "size_weight",
       "binary ternary"},
  };
  write_model("m.safetensors", 13);
  for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
    char pol[512];
    snprintf(pol, sizeof(pol), "{\"version\": 1, \"rules\": [{\"match\": {\"dtype\": \"f32\"}, \"method\": \"%s\", %s}]}",
             ms[i].method, ms[i].json_params);
    put_file("p.json", pol, strlen(pol));
    cr_assert_eq(sh("$B/tcpack -q -f --policy p.json --json r.json m.safetensors"), 0, "%s: %s", pol,
                 slurp("err.txt", NULL));
    check_method_report(ms[i].method, ms[i].param, ms[i].encodings);
    cr_assert_eq(sh("$B/tcunpack --test m.safetensors.tc && $B/tcunpack -f -o back.safetensors m.safetensors.tc"), 0,
                 "%s: %s", ms[i].method, slurp("err.txt", NULL));
    cr_assert_eq(sh("$B/tcpack -q -f %s --include 'layer.w' --include 'head.v' --json r.json m.safetensors",
                    ms[i].cli), 0, "%s: %s", ms[i].cli, slurp("err.txt", NULL));
    check_method_report(ms[i].method, ms[i].param, ms[i].encodings);
    cr_assert_eq(sh("$B/tcunpack --test m.safetensors.tc && $B/tcunpack -f -o back.safetensors m.safetensors.tc"), 0,
                 "%s: %s", ms[i].cli, slurp("err.txt", NULL));
  }
  /* impossible combinations fall back to lossless with a note, the run succeeds */
  cr_assert_eq(sh("$B/tcpack -q -f --quantize kbit --asymmetric --json r.json m.safetensors"), 0, "%s",
               slurp("err.txt", NULL));
  cr_assert(contains("r.json", "k-bit is symmetric only"));
  cr_assert_eq(sh("$B/tcpack -q -f --quantize hybrid --axis 1 --json r.json m.safetensors"), 0, "%s",
               slurp("err.txt", NULL));
  cr_assert(contains("r.json", "hybrid filters lie along axis 0"));
  /* CLI errors: a parameter of another method, out of range, unknown method */
  cr_assert_eq(sh("$B/tcpack -f --quantize twn --lambda 1 m.safetensors"), 2);
  cr_assert(contains("err.txt", "--lambda does not apply to --quantize twn"), "%s", slurp("err.txt", NULL));
  cr_assert_eq(sh("$B/tcpack -f --quantize kbit --bits 9 m.safetensors"), 2);
  cr_assert_eq(sh("$B/tcpack -f --quantize ec2t --lambda -1 m.safetensors"), 2);
  cr_assert_eq(sh("$B/tcpack -f --quantize ternary m.safetensors"), 2);
  cr_assert_eq(sh("$B/tcpack -f --quantize twn --bits-by-depth 8:2 m.safetensors"), 2);
  cr_assert_eq(sh("$B/tcpack -f --quantize kbit --bits-by-depth 9:2 m.safetensors"), 2);
}

/* bits_by_depth 8 -> 2 over 5 matched tensors, in model order. */
Test(tools, bits_by_depth) {
  static float w[5][32 * 40];
  static float small[8];
  tu_rng r;
  tu_rng_seed(&r, 14);
  for (size_t i = 0; i < 5; i++)
    for (size_t k = 0; k < 32 * 40; k++) w[i][k] = (float)(0.1 * tu_rng_normal(&r));
  /* names out of alphabetical order, and an unmatched tensor between them */
  st_tensor t[] = {{"z.first", "F32", 2, {32, 40}, w[0], sizeof(w[0])},
                   {"b.second", "F32", 2, {32, 40}, w[1], sizeof(w[1])},
                   {"tiny", "F32", 1, {8}, small, sizeof(small)},
                   {"y.third", "F32", 2, {32, 40}, w[2], sizeof(w[2])},
                   {"a.fourth", "F32", 2, {32, 40}, w[3], sizeof(w[3])},
                   {"m.fifth", "F32", 2, {32, 40}, w[4], sizeof(w[4])}};
  tu_buf b = st_build(t, 6, NULL);
  put_file("d.safetensors", b.data, b.size);
  tu_buf_free(&b);
  const char *pol = "{\"version\": 1, \"rules\": [{\"method\": \"kbit\", \"bits_by_depth\": {\"first\": 8, \"last\": 2}}]}";
  put_file("p.json", pol, strlen(pol));
  for (int pass = 0; pass < 2; pass++) {
    cr_assert_eq(sh(pass == 0 ? "$B/tcpack -q -f --policy p.json --json r.json d.safetensors"
                              : "$B/tcpack -q -f --quantize kbit --bits-by-depth 8:2 --json r.json d.safetensors"),
                 0, "%s", slurp("err.txt", NULL));
    json_t *j = json_load_file(P("r.json"), 0, NULL);
    cr_assert_not_null(j);
    json_t *ts = json_object_get(j, "tensors");
    size_t m = 0;
    for (size_t i = 0; i < json_array_size(ts); i++) {
      json_t *row = json_array_get(ts, i), *par = json_object_get(row, "params");
      if (!json_is_true(json_object_get(row, "quantized"))) {
        cr_assert_str_eq(json_string_value(json_object_get(row, "name")), "tiny");
        continue;
      }
      long want = (long)(8.0 + (2.0 - 8.0) * (double)m / 4.0 + 0.5); /* round(); all >= 2 */
      cr_assert_eq(json_integer_value(json_object_get(par, "bits")), want, "tensor %zu", i);
      cr_assert_eq(json_integer_value(json_object_get(json_object_get(par, "depth"), "index")), (json_int_t)m);
      cr_assert_eq(json_integer_value(json_object_get(json_object_get(par, "depth"), "count")), 5);
      cr_assert_str_eq(json_string_value(json_object_get(row, "encoding")), "kbit");
      m++;
    }
    cr_assert_eq(m, 5);
    json_decref(j);
    cr_assert_eq(sh("$B/tcunpack --list d.safetensors.tc"), 0);
    cr_assert_eq(sh("$B/tcunpack --test d.safetensors.tc"), 0, "%s", slurp("err.txt", NULL));
  }
}

/* ---- the rest of the interface ------------------------------------------------------------------- */

Test(tools, list_version_usage) {
  write_model("m.safetensors", 12);
  cr_assert_eq(sh("$B/tcpack -q --quantize twn m.safetensors"), 0);
  cr_assert_eq(sh("$B/tcunpack --list m.safetensors.tc"), 0);
  cr_assert(contains("out.txt", "layer.w"));
  cr_assert(contains("out.txt", "ternary"));
  cr_assert(contains("out.txt", "safetensors.header"));
  cr_assert_eq(sh("$B/tcpack --version"), 0);
  cr_assert(contains("out.txt", tcodec_version_string()));
  cr_assert_eq(sh("$B/tcunpack --version"), 0);
  cr_assert(contains("out.txt", "libtcodec"));
  cr_assert_eq(sh("$B/tcpack --help"), 0);
  cr_assert(contains("out.txt", "--max-rel-error"));
  cr_assert_eq(sh("$B/tcpack --no-such-option m.safetensors"), 2);
  cr_assert_eq(sh("$B/tcpack -o a.tc m.safetensors m.safetensors"), 2);
  cr_assert_eq(sh("$B/tcpack --level 0 m.safetensors"), 2);
  cr_assert_eq(sh("$B/tcunpack --list --test m.safetensors.tc"), 2);
  cr_assert_eq(sh("$B/tcpack nothing-here.onnx"), 1);
  cr_assert(contains("err.txt", "tcpack: nothing-here.onnx: "), "%s", slurp("err.txt", NULL));
}

Test(tools, onnx_weights_as_safetensors) {
  char *src = tu_source_path("tests/fixtures/onnx/handmade.onnx");
  int rc = sh("test -f '%s' || exit 77; cp '%s' h.onnx && $B/tcpack -q h.onnx && "
              "$B/tcunpack --format safetensors h.onnx.tc && $B/tcpack -q h.safetensors",
              src, src);
  free(src);
  if (rc == 77) cr_skip_test("tests/fixtures/onnx/handmade.onnx is missing");
  cr_assert_eq(rc, 0, "%s", slurp("err.txt", NULL));
  cr_assert_eq(sh("$B/tcunpack --compare h.safetensors h.onnx.tc"), 0, "%s", slurp("err.txt", NULL));
  cr_assert_eq(sh("$B/tcunpack --format onnx -o x.onnx h.safetensors.tc"), 1);
}
