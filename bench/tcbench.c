/* tcbench: size and decode speed of ternary tensors, as ratios measured in the
 * same run (bits/weight vs the order-0 entropy of the symbols; decode speed vs
 * memcpy of the same output bytes; size vs zstd -19 of the int8 symbols).
 *
 * usage: tcbench [--weights N] [--reps R] [FILE.tc ...]
 *   without files: synthetic i.i.d. ternary tensors at zero fractions
 *   0.33 0.5 0.7 0.9 0.97 (8 Mi weights each, signs 50/50);
 *   with files: every ternary tensor of each file, and their total. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zstd.h>

#include <tcodec/tcodec.h>

typedef struct membuf {
  unsigned char *p;
  size_t len, cap;
} membuf;

static int sink(void *user, const void *src, size_t n) {
  membuf *b = user;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 1 << 20;
    while (cap < b->len + n) cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (p == NULL) return 1;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, src, n);
  b->len += n;
  return 0;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Order-0 entropy in bits per symbol of int8 symbols -1/0/+1. */
static double entropy3(const int8_t *s, size_t n) {
  size_t c[3] = {0, 0, 0};
  for (size_t i = 0; i < n; i++) c[s[i] + 1]++;
  double h = 0;
  for (int k = 0; k < 3; k++)
    if (c[k]) {
      double p = (double)c[k] / (double)n;
      h -= p * log2(p);
    }
  return h;
}

static volatile unsigned char g_sink_byte;

/* Best time of `reps` memcpy runs of n bytes. */
static double time_memcpy(size_t n, int reps) {
  unsigned char *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);
  if (a == NULL || b == NULL) exit(2);
  memset(a, 1, n);
  memset(b, 0, n);
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    memcpy(b, a, n);
    double t = now() - t0;
    g_sink_byte ^= b[n / 2];
    if (t < best) best = t;
  }
  free(a);
  free(b);
  return best;
}

static double time_decode(tcodec_reader *rd, size_t idx, int out, void *dst, size_t cap, int reps) {
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    int rc = tcodec_reader_decode(rd, idx, out, dst, cap);
    double t = now() - t0;
    if (rc != 0) {
      fprintf(stderr, "decode: %s\n", tcodec_reader_error_message(rd));
      exit(1);
    }
    if (t < best) best = t;
  }
  return best;
}

typedef struct result {
  double n, payload_bits, entropy_bits, zstd_bits;
  double t_i8, t_f32, t_memcpy1, t_memcpy4, t_zstd;
} result;

/* Measure one ternary tensor of an opened reader. */
static void measure(tcodec_reader *rd, size_t idx, int reps, result *res) {
  tcodec_tensor_info info;
  tcodec_reader_tensor_info(rd, idx, &info);
  size_t n = (size_t)info.nelem;
  int8_t *sym = malloc(n ? n : 1);
  float *f = malloc((n ? n : 1) * sizeof(float));
  if (sym == NULL || f == NULL) exit(2);
  res->t_i8 = time_decode(rd, idx, TCODEC_OUT_SYMBOLS, sym, n, reps);
  res->t_f32 = time_decode(rd, idx, TCODEC_OUT_F32, f, n * sizeof(float), reps);
  res->t_memcpy1 = time_memcpy(n, reps);
  res->t_memcpy4 = time_memcpy(n * sizeof(float), reps);
  res->n = (double)n;
  res->entropy_bits = entropy3(sym, n) * (double)n;
  /* ternary payload = mask + signs as stored (scales excluded: per-unit overhead) */
  uint64_t mask = 0, signs = 0;
  tcodec_reader_stream_info(rd, idx, TCODEC_ROLE_MASK, NULL, &mask, NULL, NULL);
  tcodec_reader_stream_info(rd, idx, TCODEC_ROLE_SIGNS, NULL, &signs, NULL, NULL);
  res->payload_bits = 8.0 * (double)(mask + signs);
  size_t bound = ZSTD_compressBound(n);
  void *z = malloc(bound);
  size_t zn = ZSTD_compress(z, bound, sym, n, 19);
  res->zstd_bits = 8.0 * (double)zn;
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    size_t got = ZSTD_decompress(sym, n, z, zn);
    double t = now() - t0;
    if (ZSTD_isError(got)) exit(3);
    if (t < best) best = t;
  }
  res->t_zstd = best;
  free(z);
  free(sym);
  free(f);
}

static void print_header(void) {
  printf("%-28s %10s %8s %8s %8s %8s %9s %9s %9s %9s\n", "tensor", "weights", "H0 b/w",
         "tc b/w", "tc/H0", "zstd/H0", "i8 Mw/s", "i8/memcpy", "f32 Mw/s", "f32/memcpy");
}

static void print_row(const char *name, const result *r) {
  double h = r->entropy_bits / r->n, b = r->payload_bits / r->n, zs = r->zstd_bits / r->n;
  printf("%-28.28s %10.0f %8.4f %8.4f %8.4f %8.4f %9.1f %9.3f %9.1f %9.3f\n", name, r->n, h, b,
         h > 0 ? b / h : 0, h > 0 ? zs / h : 0, r->n / r->t_i8 / 1e6, r->t_memcpy1 / r->t_i8,
         r->n / r->t_f32 / 1e6, r->t_memcpy4 / r->t_f32);
}

static void synth(size_t n, int reps) {
  static const double zero_frac[] = {0.33, 0.5, 0.7, 0.9, 0.97};
  print_header();
  for (size_t k = 0; k < sizeof(zero_frac) / sizeof(zero_frac[0]); k++) {
    int8_t *sym = malloc(n);
    if (sym == NULL) exit(2);
    uint64_t thr = (uint64_t)(zero_frac[k] * 18446744073709551616.0);
    for (size_t i = 0; i < n; i++) {
      uint64_t u = rng();
      sym[i] = (int8_t)(u < thr ? 0 : (u & 1) ? 1 : -1);
    }
    float scale = 0.05f;
    uint64_t shape[2] = {n / 1024, 1024};
    tcodec_tensor_desc d = {"synthetic", TCODEC_F32, 2, shape, NULL, NULL, 0};
    tcodec_quantized q;
    memset(&q, 0, sizeof(q));
    q.encoding = TCODEC_ENC_TERNARY;
    q.granularity = TCODEC_GRAN_TENSOR;
    q.symmetric = 1;
    q.scale_dtype = TCODEC_F32;
    q.scales = &scale;
    q.symbols = sym;
    membuf out = {0};
    tcodec_writer *w;
    if (tcodec_writer_create(&w, NULL) || tcodec_writer_set_param(w, TCODEC_WP_ZSTD_LEVEL, 19) ||
        tcodec_writer_begin(w, sink, &out) ||
        tcodec_writer_add_quantized(w, &d, &q) || tcodec_writer_finish(w)) {
      fprintf(stderr, "write: %s\n", tcodec_writer_error_message(w));
      exit(1);
    }
    tcodec_writer_free(w);
    free(sym);
    tcodec_reader *rd;
    if (tcodec_reader_create(&rd, NULL) || tcodec_reader_open_memory(rd, out.p, out.len)) exit(1);
    result res;
    measure(rd, 0, reps, &res);
    char name[64];
    snprintf(name, sizeof(name), "iid zeros=%.2f", zero_frac[k]);
    print_row(name, &res);
    tcodec_reader_free(rd);
    free(out.p);
  }
}

static int bench_file(const char *path, int reps) {
  tcodec_reader *rd;
  if (tcodec_reader_create(&rd, NULL) != 0) return 1;
  if (tcodec_reader_open_file(rd, path) != 0) {
    fprintf(stderr, "tcbench: %s\n", tcodec_reader_error_message(rd));
    tcodec_reader_free(rd);
    return 1;
  }
  size_t count = 0;
  tcodec_reader_tensor_count(rd, &count);
  printf("%s\n", path);
  print_header();
  result tot;
  memset(&tot, 0, sizeof(tot));
  for (size_t i = 0; i < count; i++) {
    tcodec_tensor_info info;
    tcodec_reader_tensor_info(rd, i, &info);
    if (info.encoding != TCODEC_ENC_TERNARY || info.nelem == 0) continue;
    result r;
    measure(rd, i, reps, &r);
    print_row(info.name, &r);
    tot.n += r.n, tot.payload_bits += r.payload_bits, tot.entropy_bits += r.entropy_bits;
    tot.zstd_bits += r.zstd_bits, tot.t_i8 += r.t_i8, tot.t_f32 += r.t_f32;
    tot.t_memcpy1 += r.t_memcpy1, tot.t_memcpy4 += r.t_memcpy4, tot.t_zstd += r.t_zstd;
  }
  if (tot.n > 0) print_row("TOTAL (ternary tensors)", &tot);
  else printf("(no ternary tensors)\n");
  tcodec_reader_free(rd);
  return 0;
}

int main(int argc, char **argv) {
  size_t n = 8u << 20;
  int reps = 5, rc = 0, files = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--weights") == 0 && i + 1 < argc) n = strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
    else if (strcmp(argv[i], "--help") == 0) {
      printf("usage: tcbench [--weights N] [--reps R] [FILE.tc ...]\n");
      return 0;
    }
  }
  if (reps < 1) reps = 1;
  n = (n + 1023) / 1024 * 1024;
  printf("columns: H0 = order-0 entropy of the symbols; tc = mask+signs as stored; zstd = zstd -19\n"
         "of the int8 symbols; speeds are best of %d runs; */memcpy = decode speed / memcpy speed\n"
         "of the same output bytes (1 byte/weight for i8, 4 for f32), measured in this run.\n",
         reps);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--weights") == 0 || strcmp(argv[i], "--reps") == 0) {
      i++;
      continue;
    }
    files++;
    rc |= bench_file(argv[i], reps);
  }
  if (files == 0) synth(n, reps);
  return rc;
}
