/* Shared test helpers: see testutil.h. */
#include "support/testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#ifndef TCODEC_TEST_SOURCE_DIR
#define TCODEC_TEST_SOURCE_DIR "."
#endif

/* ---- RNG ---- */

void tu_rng_seed(tu_rng *r, uint64_t seed) { r->s = seed; }

uint64_t tu_rng_next(tu_rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t tu_rng_below(tu_rng *r, uint64_t n) { return n ? tu_rng_next(r) % n : 0; }

double tu_rng_unit(tu_rng *r) { return (double)(tu_rng_next(r) >> 11) * 0x1p-53; }

double tu_rng_normal(tu_rng *r) {
  double u1 = tu_rng_unit(r), u2 = tu_rng_unit(r);
  if (u1 < 0x1p-60) u1 = 0x1p-60;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void tu_rng_bytes(tu_rng *r, void *dst, size_t n) {
  uint8_t *p = dst;
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(tu_rng_next(r) >> 56);
}

/* ---- memory sink ---- */

int tu_buf_write(void *user, const void *src, size_t src_size) {
  tu_buf *b = user;
  if (b->fail_at != 0 && b->size + src_size > b->fail_at) return -1;
  if (b->size + src_size > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->size + src_size) cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL) return -1;
    b->data = p;
    b->cap = cap;
  }
  if (src_size) memcpy(b->data + b->size, src, src_size);
  b->size += src_size;
  return 0;
}

void tu_buf_free(tu_buf *b) {
  free(b->data);
  memset(b, 0, sizeof(*b));
}

/* ---- writer / reader ---- */

tcodec_writer *tu_writer_begin(tu_buf *sink) {
  tcodec_writer *w = NULL;
  int rc = tcodec_writer_create(&w, NULL);
  cr_assert_eq(rc, 0, "tcodec_writer_create: %s", tcodec_strerror(rc));
  cr_assert_not_null(w);
  tu_buf_free(sink);
  rc = tcodec_writer_begin(w, tu_buf_write, sink);
  cr_assert_eq(rc, 0, "tcodec_writer_begin: %s", tcodec_strerror(rc));
  return w;
}

void tu_writer_param(tcodec_writer *w, int param, int value) {
  int rc = tcodec_writer_set_param(w, param, value);
  cr_assert_eq(rc, 0, "tcodec_writer_set_param(%d, %d): %s", param, value, tcodec_strerror(rc));
}

void tu_writer_finish(tcodec_writer *w) {
  int rc = tcodec_writer_finish(w);
  cr_assert_eq(rc, 0, "tcodec_writer_finish: %s: %s", tcodec_strerror(rc),
               tcodec_writer_error_message(w));
  tcodec_writer_free(w);
}

tcodec_tensor_desc tu_desc(const char *name, int dtype, unsigned ndim, const uint64_t *shape) {
  tcodec_tensor_desc d;
  memset(&d, 0, sizeof(d));
  d.name = name;
  d.dtype = dtype;
  d.ndim = ndim;
  d.shape = shape;
  return d;
}

uint64_t tu_nelem(unsigned ndim, const uint64_t *shape) {
  uint64_t n = 1;
  for (unsigned d = 0; d < ndim; d++) n *= shape[d];
  return n;
}

tcodec_reader *tu_reader_open(const tu_buf *b) {
  tcodec_reader *r = NULL;
  int rc = tcodec_reader_create(&r, NULL);
  cr_assert_eq(rc, 0, "tcodec_reader_create: %s", tcodec_strerror(rc));
  rc = tcodec_reader_open_memory(r, b->data, b->size);
  cr_assert_eq(rc, 0, "tcodec_reader_open_memory (%zu bytes): %s: %s", b->size, tcodec_strerror(rc),
               tcodec_reader_error_message(r));
  return r;
}

size_t tu_reader_count(const tcodec_reader *r) {
  size_t n = 0;
  int rc = tcodec_reader_tensor_count(r, &n);
  cr_assert_eq(rc, 0, "tcodec_reader_tensor_count: %s", tcodec_strerror(rc));
  return n;
}

tcodec_tensor_info tu_info(const tcodec_reader *r, size_t index) {
  tcodec_tensor_info info;
  int rc = tcodec_reader_tensor_info(r, index, &info);
  cr_assert_eq(rc, 0, "tcodec_reader_tensor_info(%zu): %s", index, tcodec_strerror(rc));
  return info;
}

size_t tu_find(const tcodec_reader *r, const char *name) {
  size_t index = SIZE_MAX;
  int rc = tcodec_reader_find(r, name, &index);
  cr_assert_eq(rc, 0, "tcodec_reader_find('%s'): %s", name, tcodec_strerror(rc));
  return index;
}

void *tu_decode(tcodec_reader *r, size_t index, int output, uint64_t *size) {
  uint64_t need = 0;
  int rc = tcodec_reader_decoded_size(r, index, output, &need);
  cr_assert_eq(rc, 0, "tcodec_reader_decoded_size(%zu, output %d): %s", index, output,
               tcodec_strerror(rc));
  void *dst = malloc(need ? (size_t)need : 1);
  cr_assert_not_null(dst);
  rc = tcodec_reader_decode(r, index, output, dst, (size_t)need);
  cr_assert_eq(rc, 0, "tcodec_reader_decode(%zu, output %d): %s: %s", index, output,
               tcodec_strerror(rc), tcodec_reader_error_message(r));
  if (size != NULL) *size = need;
  return dst;
}

void *tu_stream(tcodec_reader *r, size_t index, int role, uint64_t *size) {
  uint64_t len = 0;
  *size = 0;
  int rc = tcodec_reader_stream_size(r, index, role, &len);
  if (rc == TCODEC_E_NOT_FOUND) return NULL;
  cr_assert_eq(rc, 0, "tcodec_reader_stream_size(%zu, %s): %s", index, tcodec_role_name(role),
               tcodec_strerror(rc));
  void *dst = malloc(len ? (size_t)len : 1);
  cr_assert_not_null(dst);
  rc = tcodec_reader_decode_stream(r, index, role, dst, (size_t)len);
  cr_assert_eq(rc, 0, "tcodec_reader_decode_stream(%zu, %s): %s: %s", index, tcodec_role_name(role),
               tcodec_strerror(rc), tcodec_reader_error_message(r));
  *size = len;
  return dst;
}

/* ---- comparisons ---- */

size_t tu_first_diff(const void *a, const void *b, size_t n) {
  const uint8_t *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return i;
  return SIZE_MAX;
}

static void hex_around(char *out, size_t cap, const uint8_t *p, size_t n, size_t at) {
  size_t lo = at >= 8 ? at - 8 : 0, hi = at + 8 < n ? at + 8 : n, used = 0;
  out[0] = '\0';
  for (size_t i = lo; i < hi && used + 4 < cap; i++)
    used += (size_t)snprintf(out + used, cap - used, i == at ? "[%02x]" : " %02x", p[i]);
}

void tu_assert_mem_eq(const void *got, const void *want, size_t n, const char *fmt, ...) {
  size_t at = tu_first_diff(got, want, n);
  if (at == SIZE_MAX) return;
  char ctx[512], g[128], w[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx, sizeof(ctx), fmt, ap);
  va_end(ap);
  hex_around(g, sizeof(g), got, n, at);
  hex_around(w, sizeof(w), want, n, at);
  cr_assert_fail("%s: first difference at byte %zu of %zu\n  got: %s\n want: %s", ctx, at, n, g, w);
}

void tu_assert_f32_eq(const float *got, const float *want, size_t n, const char *fmt, ...) {
  size_t at = tu_first_diff(got, want, n * sizeof(float));
  if (at == SIZE_MAX) return;
  char ctx[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx, sizeof(ctx), fmt, ap);
  va_end(ap);
  size_t i = at / sizeof(float);
  cr_assert_fail("%s: element %zu of %zu differs: got %.9g (0x%08x), want %.9g (0x%08x)", ctx, i, n,
                 (double)got[i], (unsigned)tu_f32_bits(got[i]), (double)want[i],
                 (unsigned)tu_f32_bits(want[i]));
}

/* ---- bit patterns ---- */

uint32_t tu_f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

float tu_f32_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

uint64_t tu_f64_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  return u;
}

double tu_f64_from_bits(uint64_t u) {
  double d;
  memcpy(&d, &u, 8);
  return d;
}

void tu_put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

void tu_put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

void tu_put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

uint16_t tu_get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

uint32_t tu_get32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}

uint64_t tu_get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* ---- files ---- */

char *tu_source_path(const char *rel) {
  const char *root = getenv("TCODEC_SOURCE_DIR");
  if (root == NULL || root[0] == '\0') root = TCODEC_TEST_SOURCE_DIR;
  size_t n = strlen(root) + 1 + strlen(rel) + 1;
  char *p = malloc(n);
  if (p != NULL) snprintf(p, n, "%s/%s", root, rel);
  return p;
}

void *tu_read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  while (buf != NULL) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    uint8_t *p = realloc(buf, cap * 2);
    if (p == NULL) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = p;
    cap *= 2;
  }
  int err = ferror(f);
  fclose(f);
  if (buf == NULL || err) {
    free(buf);
    return NULL;
  }
  *size = n;
  return buf;
}
