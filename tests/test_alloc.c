/* Allocation failures injected through the per-context allocator (tcodec_allocator):
 * the k-th allocation fails, for k = 1, 2, ... until a run needs no more allocations.
 * Every run must end in TCODEC_E_NOMEM or succeed with the right result, and after the
 * context is freed no block may be outstanding.
 *
 * Known and documented gap: libcbor (directory parsing) and zstd (compression and
 * decompression contexts) allocate with malloc internally, outside the hook; only
 * libtcodec's own allocations are injected here. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <xxhash.h>

#include "support/testutil.h"

typedef struct counting {
  long calls;   /* allocations asked for so far */
  long fail_at; /* the call that fails (1-based); 0: none */
  long live;    /* blocks outstanding */
  int injected; /* the failure happened */
} counting;

static void *c_alloc(void *opaque, size_t size) {
  counting *c = opaque;
  c->calls++;
  if (c->fail_at != 0 && c->calls == c->fail_at) {
    c->injected = 1;
    return NULL;
  }
  void *p = malloc(size);
  if (p != NULL) c->live++;
  return p;
}

static void c_free(void *opaque, void *p) {
  counting *c = opaque;
  cr_assert_not_null(p, "free(NULL) reached the allocator");
  c->live--;
  free(p);
}

/* ---- writer ---------------------------------------------------------------------------- */

#define STEP(call)                                                                                 \
  do {                                                                                             \
    if ((rc = (call)) != 0) goto out;                                                              \
  } while (0)

/* Write a model with every encoding, zstd, detection, TWN quantization, metadata and a
 * section through allocator `a`. Returns the first error. */
static int write_model(const tcodec_allocator *a, tu_buf *out) {
  tcodec_writer *w = NULL;
  int rc = tcodec_writer_create(&w, a);
  if (rc != 0) {
    cr_expect_null(w, "a failed create leaves *out NULL");
    return rc;
  }
  float f[48], tern[48];
  int8_t sym[48];
  uint8_t codes[48], mask[48], zp[6] = {0, 1, 2, 3, 4, 5}, kinds[4] = {1, 0, 1, 0};
  float scales[16];
  uint16_t h16[48];
  for (int i = 0; i < 48; i++) {
    f[i] = (float)i * 0.25f - 5.0f;
    tern[i] = (i % 3 == 0) ? 0.0f : (i % 3 == 1 ? 0.5f : -0.75f); /* detected as ternary */
    sym[i] = (int8_t)(i % 3 - 1);
    codes[i] = (uint8_t)(i % 16);
    mask[i] = (uint8_t)(i % 4 != 0);
    h16[i] = (uint16_t)(0x3400 + i);
  }
  for (int i = 0; i < 16; i++) scales[i] = 0.1f * (float)(i + 1);
  const uint64_t s68[2] = {6, 8}, s48[2] = {4, 12};
  tcodec_tensor_desc d = tu_desc("raw", TCODEC_F32, 2, s68);
  tcodec_quantized q;
  STEP(tcodec_writer_set_param(w, TCODEC_WP_CODER, TCODEC_CODER_AUTO));
  STEP(tcodec_writer_begin(w, tu_buf_write, out));
  STEP(tcodec_writer_set_meta(w, "producer", "test_alloc"));
  STEP(tcodec_writer_set_meta(w, "producer", "test_alloc 2"));
  STEP(tcodec_writer_set_meta_bytes(w, "blob", "\x00\x01", 2));
  STEP(tcodec_writer_add_section(w, "x.graph", 0, f, sizeof(f)));
  STEP(tcodec_writer_add_raw(w, &d, f, sizeof(f)));
  d.name = "detected";
  STEP(tcodec_writer_add_raw(w, &d, tern, sizeof(tern)));

  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_TERNARY;
  q.granularity = TCODEC_GRAN_CHANNEL;
  q.symmetric = 0;
  q.scale_dtype = TCODEC_F32;
  q.scales = scales;
  q.symbols = sym;
  static const char *const mk[1] = {"k"}, *const mv[1] = {"v"};
  d = tu_desc("ternary", TCODEC_F16, 2, s68);
  d.meta_keys = mk;
  d.meta_values = mv;
  d.meta_count = 1;
  STEP(tcodec_writer_add_quantized(w, &d, &q));

  int8_t bsym[48];
  for (int i = 0; i < 48; i++) bsym[i] = sym[i] < 0 ? -1 : 1;
  q.encoding = TCODEC_ENC_BINARY;
  q.granularity = TCODEC_GRAN_GROUP;
  q.group_size = 7;
  q.symbols = bsym;
  d = tu_desc("binary", TCODEC_F32, 2, s68);
  STEP(tcodec_writer_add_quantized(w, &d, &q));

  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_KBIT;
  q.granularity = TCODEC_GRAN_CHANNEL;
  q.symmetric = 1;
  q.scale_dtype = TCODEC_F16;
  q.scales = h16;
  q.bits = 4;
  q.codes = codes;
  q.zero_points = zp;
  q.mask = mask;
  d = tu_desc("kbit", TCODEC_F32, 2, s68);
  STEP(tcodec_writer_add_quantized(w, &d, &q));

  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_HYBRID;
  q.symmetric = 1;
  q.scale_dtype = TCODEC_F32;
  q.scales = scales;
  q.symbols = sym;
  q.filter_ternary = kinds;
  q.full_dtype = TCODEC_F16;
  q.full_values = h16;
  d = tu_desc("hybrid", TCODEC_F32, 2, s48);
  STEP(tcodec_writer_add_quantized(w, &d, &q));

  tcodec_request req;
  tcodec_request_init(&req);
  req.method = TCODEC_Q_TWN;
  d = tu_desc("twn", TCODEC_F32, 2, s68);
  STEP(tcodec_writer_add_f32(w, &d, f, 48, &req));
  d = tu_desc("lossless", TCODEC_F16, 2, s68);
  STEP(tcodec_writer_add_f32(w, &d, f, 48, NULL));
  STEP(tcodec_writer_finish(w));
out:
  tcodec_writer_free(w);
  return rc;
}

Test(alloc, writer_fails_cleanly_at_every_allocation) {
  tu_buf want = {NULL, 0, 0, 0};
  cr_assert_eq(write_model(NULL, &want), 0, "the model cannot be written");
  long runs = 0;
  for (long k = 1; k < 100000; k++) {
    counting c = {0, k, 0, 0};
    tcodec_allocator a = {c_alloc, c_free, &c};
    tu_buf got = {NULL, 0, 0, 0};
    int rc = write_model(&a, &got);
    runs++;
    cr_expect(rc == 0 || rc == TCODEC_E_NOMEM, "allocation %ld failed: %s", k, tcodec_strerror(rc));
    cr_expect_eq(c.live, 0, "allocation %ld failed: %ld blocks leaked", k, c.live);
    if (rc == 0) {
      cr_expect(got.size == want.size && memcmp(got.data, want.data, want.size) == 0,
                "allocation %ld failed, yet the writer succeeded with different bytes", k);
    } else {
      cr_expect(c.injected, "allocation %ld: %s without an injected failure", k,
                tcodec_strerror(rc));
    }
    tu_buf_free(&got);
    if (!c.injected) break; /* the run needed fewer than k allocations: all covered */
  }
  cr_log_info("writer: %ld runs", runs);
  cr_expect_gt(runs, 10, "the writer made only %ld allocations", runs - 1);
  tu_buf_free(&want);
}

/* ---- reader ---------------------------------------------------------------------------- */

/* Read everything through allocator `a` from memory or from `path`; *digest receives a
 * hash of every output. Returns the first error. */
static int read_model(const tcodec_allocator *a, const tu_buf *file, const char *path,
                      uint64_t *digest) {
  tcodec_reader *r = NULL;
  XXH3_state_t *h = XXH3_createState();
  XXH3_64bits_reset(h);
  int rc = tcodec_reader_create(&r, a);
  if (rc != 0) {
    cr_expect_null(r, "a failed create leaves *out NULL");
    XXH3_freeState(h);
    return rc;
  }
  size_t n = 0, ns = 0;
  rc = path ? tcodec_reader_open_file(r, path)
            : tcodec_reader_open_memory(r, file->data, file->size);
  if (rc == 0) rc = tcodec_reader_tensor_count(r, &n);
  for (size_t k = 0; rc == 0 && k < n; k++) {
    for (int out = TCODEC_OUT_ORIGINAL; rc == 0 && out <= TCODEC_OUT_SYMBOLS; out++) {
      uint64_t size;
      if (tcodec_reader_decoded_size(r, k, out, &size) != 0) continue;
      uint8_t *dst = malloc((size_t)size + 1);
      rc = tcodec_reader_decode(r, k, out, dst, (size_t)size);
      if (rc == 0) XXH3_64bits_update(h, dst, (size_t)size);
      free(dst);
    }
    for (int role = 0; rc == 0 && role < TCODEC_ROLE_COUNT_; role++) {
      uint64_t size;
      if (tcodec_reader_stream_size(r, k, role, &size) != 0) continue;
      uint8_t *dst = malloc((size_t)size + 1);
      rc = tcodec_reader_decode_stream(r, k, role, dst, (size_t)size);
      if (rc == 0) XXH3_64bits_update(h, dst, (size_t)size);
      free(dst);
    }
  }
  if (rc == 0) rc = tcodec_reader_section_count(r, &ns);
  for (size_t k = 0; rc == 0 && k < ns; k++) {
    uint64_t size;
    rc = tcodec_reader_section_info(r, k, NULL, NULL, &size);
    uint8_t *dst = malloc((size_t)size + 1);
    if (rc == 0) rc = tcodec_reader_section_read(r, k, dst, (size_t)size);
    if (rc == 0) XXH3_64bits_update(h, dst, (size_t)size);
    free(dst);
  }
  size_t bad;
  if (rc == 0) rc = tcodec_reader_verify(r, &bad);
  tcodec_reader_free(r);
  *digest = XXH3_64bits_digest(h);
  XXH3_freeState(h);
  return rc;
}

static void reader_runs(const tu_buf *file, const char *path) {
  uint64_t want, got;
  cr_assert_eq(read_model(NULL, file, path, &want), 0, "the model cannot be read");
  long runs = 0;
  for (long k = 1; k < 100000; k++) {
    counting c = {0, k, 0, 0};
    tcodec_allocator a = {c_alloc, c_free, &c};
    int rc = read_model(&a, file, path, &got);
    runs++;
    cr_expect(rc == 0 || rc == TCODEC_E_NOMEM, "%s: allocation %ld failed: %s",
              path ? "file" : "memory", k, tcodec_strerror(rc));
    cr_expect_eq(c.live, 0, "%s: allocation %ld failed: %ld blocks leaked",
                 path ? "file" : "memory", k, c.live);
    if (rc == 0)
      cr_expect_eq(got, want, "allocation %ld failed, yet reading gave other results", k);
    else
      cr_expect(c.injected, "allocation %ld: %s without an injected failure", k,
                tcodec_strerror(rc));
    if (!c.injected) break;
  }
  cr_log_info("reader (%s): %ld runs", path ? "file" : "memory", runs);
  cr_expect_gt(runs, 5);
}

Test(alloc, reader_fails_cleanly_at_every_allocation) {
  tu_buf file = {NULL, 0, 0, 0};
  cr_assert_eq(write_model(NULL, &file), 0);
  reader_runs(&file, NULL);
  char path[] = "/tmp/tcodec_alloc_XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  FILE *fp = fdopen(fd, "wb");
  cr_assert_eq(fwrite(file.data, 1, file.size, fp), file.size);
  fclose(fp);
  reader_runs(&file, path);
  unlink(path);
  tu_buf_free(&file);
}

/* An allocator with only one of its two functions set means malloc/free (tcodec.h). */
Test(alloc, partial_allocator_means_default) {
  counting c = {0, 0, 0, 0};
  tcodec_allocator a = {c_alloc, NULL, &c};
  tcodec_reader *r = NULL;
  cr_assert_eq(tcodec_reader_create(&r, &a), 0);
  tcodec_reader_free(r);
  cr_expect_eq(c.calls, 0, "the half-set allocator was used");
  tcodec_writer *w = NULL;
  cr_assert_eq(tcodec_writer_create(&w, &a), 0);
  tcodec_writer_free(w);
  cr_expect_eq(c.calls, 0);
}
