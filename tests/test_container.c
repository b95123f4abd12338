/* Container level: header, trailer and directory checks on hand-built and patched files
 * (errors and offsets of FORMAT.md "Reader validation order"), truncation at every
 * length, every single bit flipped, open_file against open_memory, name lookup,
 * metadata and sections, the failed state, decoder limits, alignment, writer misuse
 * and the error strings. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cbor.h>
#include <criterion/criterion.h>
#include <xxhash.h>

#include "support/testutil.h"

/* ---- files ------------------------------------------------------------------------- */

static uint64_t xxh3(const void *p, size_t n) { return XXH3_64bits(p, n); }

static void fix_header(uint8_t *f) { tu_put64(f + 16, xxh3(f, 16)); }
static void fix_trailer(uint8_t *f, size_t size) {
  tu_put64(f + size - 16, xxh3(f + size - 48, 32));
}

/* header + empty payload + `dir` + trailer, checksums right. */
static tu_buf file_with_dir(const uint8_t *dir, size_t n) {
  tu_buf b = {NULL, 0, 0, 0};
  uint8_t h[64] = {0x89, 'T', 'C', 'M', 0x0D, 0x0A, 0x1A, 0x0A, 1, 0}, t[48] = {0};
  fix_header(h);
  tu_buf_write(&b, h, 64);
  tu_buf_write(&b, dir, n);
  tu_put64(t, 64);
  tu_put64(t + 8, n);
  tu_put64(t + 16, xxh3(dir, n));
  t[24] = 1;
  memcpy(t + 40, "\x0a\x1a\x0a\x0d\x4d\x43\x54\x89", 8);
  tu_put64(t + 32, xxh3(t, 32));
  tu_buf_write(&b, t, 48);
  return b;
}

static uint64_t dir_offset(const tu_buf *b) { return tu_get64(b->data + b->size - 48); }

/* Open a copy of exactly `size` bytes (so out-of-bounds reads show under ASan). */
static int open_copy(const uint8_t *src, size_t size, uint64_t *off) {
  uint8_t *copy = malloc(size ? size : 1);
  cr_assert_not_null(copy);
  if (size) memcpy(copy, src, size);
  tcodec_reader *r = NULL;
  cr_assert_eq(tcodec_reader_create(&r, NULL), 0);
  int rc = tcodec_reader_open_memory(r, copy, size);
  if (off != NULL) *off = tcodec_reader_error_offset(r);
  tcodec_reader_free(r);
  free(copy);
  return rc;
}

static void expect_open(const tu_buf *b, int code, uint64_t off, const char *what) {
  uint64_t got = 0;
  int rc = open_copy(b->data, b->size, &got);
  cr_expect_eq(rc, code, "%s: open gave %s, expected %s", what, tcodec_strerror(rc),
               tcodec_strerror(code));
  if (code != 0)
    cr_expect_eq(got, off, "%s: offset %llu, expected %llu", what, (unsigned long long)got,
                 (unsigned long long)off);
}

/* ---- a tiny CBOR writer for hand-built directories ------------------------------- */

typedef struct cb {
  uint8_t p[4096];
  size_t n;
} cb;

static void cb_head(cb *c, unsigned major, uint64_t v) {
  unsigned mt = major << 5;
  if (v < 24) {
    c->p[c->n++] = (uint8_t)(mt | v);
    return;
  }
  unsigned k = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
  c->p[c->n++] = (uint8_t)(mt | (k == 1 ? 24 : k == 2 ? 25 : k == 4 ? 26 : 27));
  for (unsigned i = 0; i < k; i++) c->p[c->n++] = (uint8_t)(v >> (8 * (k - 1 - i)));
}
static void cb_text(cb *c, const char *s) {
  cb_head(c, 3, strlen(s));
  memcpy(c->p + c->n, s, strlen(s));
  c->n += strlen(s);
}
static void cb_kuint(cb *c, const char *k, uint64_t v) {
  cb_text(c, k);
  cb_head(c, 0, v);
}

/* {"align": align, "tensors": []} plus `extra` raw bytes appended as further map entries. */
static tu_buf dir_file(uint64_t align, unsigned nextra, const uint8_t *extra, size_t extra_n) {
  cb c = {{0}, 0};
  cb_head(&c, 5, 2 + nextra);
  cb_kuint(&c, "align", align);
  cb_text(&c, "tensors");
  cb_head(&c, 4, 0);
  if (extra_n != 0) memcpy(c.p + c.n, extra, extra_n);
  c.n += extra_n;
  return file_with_dir(c.p, c.n);
}

/* ---- a model with every encoding --------------------------------------------------- */

typedef struct model {
  tu_buf file;
  size_t ntensors;
} model;

#define MODEL_TENSORS 8
/* key + value bytes of all metadata: producer, x.blob, per-tensor layout */
#define MODEL_META_BYTES ((8 + 9) + (6 + 6) + (6 + 2))
static const uint8_t model_section[40] = "model graph: conv -> relu -> conv -> fc";

/* Adds the model's content to a begun writer. */
static void model_content(tcodec_writer *w, int *rc_out) {
  tu_rng rng;
  tu_rng_seed(&rng, 7);
  float f[64];
  int16_t i16[64];
  int8_t sym[64];
  uint8_t codes[64], mask[64], zp[8] = {1, 3, 4, 7, 0, 2, 5, 6}, kinds[4] = {1, 0, 0, 1};
  uint16_t h16[64];
  float scales[16];
  for (int i = 0; i < 64; i++) {
    f[i] = (float)i * 0.37f - 3.0f;
    i16[i] = (int16_t)(i * 977 - 20000);
    sym[i] = (int8_t)((int)tu_rng_below(&rng, 3) - 1);
    codes[i] = (uint8_t)tu_rng_below(&rng, 8);
    mask[i] = (uint8_t)(tu_rng_below(&rng, 3) != 0);
    h16[i] = (uint16_t)(0x3000 + 37 * i);
  }
  for (int i = 0; i < 16; i++) scales[i] = 0.01f * (float)(i + 3);
  int rc = tcodec_writer_set_meta(w, "producer", "tcvectors");
  if (rc == 0) rc = tcodec_writer_set_meta_bytes(w, "x.blob", "\x00\x01\x02\xff\x00\x10", 6);
  if (rc == 0) rc = tcodec_writer_add_section(w, "x.graph", 0, model_section, 40);
  *rc_out = rc;
  if (rc != 0) return;
  const uint64_t s46[2] = {4, 6}, s35[2] = {3, 5}, s48[2] = {4, 8}, s37[2] = {3, 7},
                 s03[2] = {0, 3};
  tcodec_tensor_desc d = tu_desc("raw.f32", TCODEC_F32, 2, s46);
  tcodec_writer_set_param(w, TCODEC_WP_BYTE_GROUP, 1);
  if ((rc = tcodec_writer_add_raw(w, &d, f, 24 * 4)) != 0) goto out;
  d = tu_desc("raw.i16", TCODEC_I16, 2, s35);
  if ((rc = tcodec_writer_add_raw(w, &d, i16, 15 * 2)) != 0) goto out;

  tcodec_quantized q;
  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_TERNARY;
  q.granularity = TCODEC_GRAN_CHANNEL;
  q.axis = 0;
  q.symmetric = 0;
  q.scale_dtype = TCODEC_F32;
  q.scales = scales;
  q.symbols = sym;
  d = tu_desc("tern", TCODEC_F16, 2, s48);
  static const char *const mk[1] = {"layout"}, *const mv[1] = {"OI"};
  d.meta_keys = mk;
  d.meta_values = mv;
  d.meta_count = 1;
  if ((rc = tcodec_writer_add_quantized(w, &d, &q)) != 0) goto out;

  int8_t bsym[64];
  for (int i = 0; i < 64; i++) bsym[i] = sym[i] < 0 ? -1 : 1;
  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_BINARY;
  q.granularity = TCODEC_GRAN_GROUP;
  q.group_size = 5;
  q.symmetric = 1;
  q.scale_dtype = TCODEC_BF16;
  q.scales = h16;
  q.symbols = bsym;
  d = tu_desc("bin", TCODEC_BF16, 2, s37);
  if ((rc = tcodec_writer_add_quantized(w, &d, &q)) != 0) goto out;

  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_KBIT;
  q.granularity = TCODEC_GRAN_CHANNEL;
  q.axis = 1;
  q.symmetric = 1;
  q.scale_dtype = TCODEC_F16;
  q.scales = h16;
  q.bits = 3;
  q.codes = codes;
  q.zero_points = zp;
  q.mask = mask;
  d = tu_desc("kbit", TCODEC_F32, 2, s46);
  if ((rc = tcodec_writer_add_quantized(w, &d, &q)) != 0) goto out;

  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_HYBRID;
  q.symmetric = 1;
  q.scale_dtype = TCODEC_F32;
  q.scales = scales;
  q.symbols = sym;
  q.filter_ternary = kinds;
  q.full_dtype = TCODEC_F16;
  q.full_values = h16;
  d = tu_desc("hyb", TCODEC_F32, 2, s46);
  if ((rc = tcodec_writer_add_quantized(w, &d, &q)) != 0) goto out;

  double x = -1.25;
  d = tu_desc("scalar", TCODEC_F64, 0, NULL);
  if ((rc = tcodec_writer_add_raw(w, &d, &x, 8)) != 0) goto out;
  d = tu_desc("empty", TCODEC_F32, 2, s03);
  rc = tcodec_writer_add_raw(w, &d, NULL, 0);
out:
  *rc_out = rc;
}

static model build_model(int coder, int align) {
  model m = {{NULL, 0, 0, 0}, MODEL_TENSORS};
  tcodec_writer *w = NULL;
  cr_assert_eq(tcodec_writer_create(&w, NULL), 0);
  tu_writer_param(w, TCODEC_WP_CODER, coder);
  tu_writer_param(w, TCODEC_WP_DETECT, 0);
  tu_writer_param(w, TCODEC_WP_ALIGNMENT, align);
  cr_assert_eq(tcodec_writer_begin(w, tu_buf_write, &m.file), 0);
  int rc;
  model_content(w, &rc);
  cr_assert_eq(rc, 0, "model: %s", tcodec_writer_error_message(w));
  tu_writer_finish(w);
  return m;
}

/* Every tensor's ORIGINAL output and the section, concatenated per tensor. */
typedef struct outputs {
  uint8_t *t[MODEL_TENSORS];
  uint64_t size[MODEL_TENSORS];
} outputs;

static outputs decode_all(tcodec_reader *r) {
  outputs o;
  for (size_t k = 0; k < MODEL_TENSORS; k++)
    o.t[k] = tu_decode(r, k, TCODEC_OUT_ORIGINAL, &o.size[k]);
  return o;
}

static void outputs_free(outputs *o) {
  for (size_t k = 0; k < MODEL_TENSORS; k++) free(o->t[k]);
}

/* ---- directory parsing with libcbor: stream ranges, for the bit-flip test -------------- */

typedef struct range {
  uint64_t off, size;
} range;

static const cbor_item_t *cmap_get(const cbor_item_t *m, const char *key) {
  if (m == NULL || !cbor_isa_map(m)) return NULL;
  struct cbor_pair *p = cbor_map_handle(m);
  for (size_t i = 0; i < cbor_map_size(m); i++)
    if (cbor_isa_string(p[i].key) && cbor_string_length(p[i].key) == strlen(key) &&
        memcmp(cbor_string_handle(p[i].key), key, strlen(key)) == 0)
      return p[i].value;
  return NULL;
}

static void add_range(const cbor_item_t *s, range *out, size_t *n) {
  const cbor_item_t *off = cmap_get(s, "off"), *size = cmap_get(s, "size");
  cr_assert(off != NULL && size != NULL);
  out[*n].off = cbor_get_int(off);
  out[*n].size = cbor_get_int(size);
  (*n)++;
}

/* Stream ranges of all tensors and sections; returns their number. */
static size_t stream_ranges(const tu_buf *f, range *out, size_t cap) {
  uint64_t d = dir_offset(f), ds = tu_get64(f->data + f->size - 40);
  struct cbor_load_result res;
  cbor_item_t *top = cbor_load(f->data + d, (size_t)ds, &res);
  cr_assert_not_null(top);
  size_t n = 0;
  const cbor_item_t *ts = cmap_get(top, "tensors"), *ss = cmap_get(top, "sections");
  for (size_t i = 0; ts != NULL && i < cbor_array_size(ts); i++) {
    const cbor_item_t *st = cmap_get(cbor_array_handle(ts)[i], "streams");
    for (size_t j = 0; j < cbor_array_size(st); j++) {
      cr_assert_lt(n, cap);
      add_range(cbor_array_handle(st)[j], out, &n);
    }
  }
  for (size_t i = 0; ss != NULL && i < cbor_array_size(ss); i++) {
    cr_assert_lt(n, cap);
    add_range(cmap_get(cbor_array_handle(ss)[i], "stream"), out, &n);
  }
  cbor_decref(&top);
  return n;
}

static uint64_t top_uint(const tu_buf *f, const char *key) {
  uint64_t d = dir_offset(f), ds = tu_get64(f->data + f->size - 40);
  struct cbor_load_result res;
  cbor_item_t *top = cbor_load(f->data + d, (size_t)ds, &res);
  cr_assert_not_null(top);
  const cbor_item_t *v = cmap_get(top, key);
  uint64_t x = v != NULL ? cbor_get_int(v) : 0;
  cbor_decref(&top);
  return x;
}

/* ---- header, trailer, directory ------------------------------------------------------- */

/* FORMAT.md, "Overview": the smallest valid file, byte for byte. */
Test(container, empty_file_matches_spec_example) {
  static const uint8_t want[130] = {
      0x89, 0x54, 0x43, 0x4d, 0x0d, 0x0a, 0x1a, 0x0a, 0x01, 0x00, 0x00, 0x00,        0x00,
      0x00, 0x00, 0x00, 0xaf, 0x24, 0x48, 0x28, 0x2a, 0xe9, 0xc0, 0x65, [64] = 0xa2, 0x65,
      0x61, 0x6c, 0x69, 0x67, 0x6e, 0x18, 0x40, 0x67, 0x74, 0x65, 0x6e, 0x73,        0x6f,
      0x72, 0x73, 0x80, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12,        0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xea, 0x8c, 0x04, 0x86, 0xa1, 0x20,        0x6c,
      0xbf, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x74, 0x56, 0x4f,        0xfd,
      0x7d, 0x93, 0x58, 0xa0, 0x0a, 0x1a, 0x0a, 0x0d, 0x4d, 0x43, 0x54, 0x89};
  tu_buf b = {NULL, 0, 0, 0};
  tcodec_writer *w = tu_writer_begin(&b);
  tu_writer_finish(w);
  cr_assert_eq(b.size, sizeof(want), "empty container of %zu bytes", b.size);
  tu_assert_mem_eq(b.data, want, sizeof(want), "empty container");
  tcodec_reader *r = tu_reader_open(&b);
  cr_expect_eq(tu_reader_count(r), 0);
  tcodec_reader_free(r);
  tu_buf_free(&b);
}

Test(container, header_checks) {
  model m = build_model(TCODEC_CODER_NONE, 64);
  tu_buf f = m.file;
  uint8_t saved[64];
  memcpy(saved, f.data, 64);
  for (int i = 0; i < 8; i++) { /* every magic byte; checksum not fixed: magic comes first */
    f.data[i] ^= 0x40;
    expect_open(&f, TCODEC_E_MAGIC, 0, "magic");
    memcpy(f.data, saved, 64);
  }
  for (int i = 16; i < 24; i++) {
    f.data[i] ^= 0x01;
    expect_open(&f, TCODEC_E_HEADER, 16, "header checksum");
    memcpy(f.data, saved, 64);
  }
  f.data[8] = 0x05; /* a version byte changed without fixing the checksum */
  expect_open(&f, TCODEC_E_HEADER, 16, "version changed, checksum stale");
  memcpy(f.data, saved, 64);
  static const uint16_t majors[3] = {0, 2, 0xffff};
  for (int i = 0; i < 3; i++) {
    tu_put16(f.data + 8, majors[i]);
    fix_header(f.data);
    expect_open(&f, TCODEC_E_VERSION, 8, "major version");
    memcpy(f.data, saved, 64);
  }
  for (int bit = 0; bit < 32; bit++) {
    tu_put32(f.data + 12, 1u << bit);
    fix_header(f.data);
    expect_open(&f, TCODEC_E_RESERVED, 12, "header flags");
    memcpy(f.data, saved, 64);
  }
  for (int i = 24; i < 64; i++) f.data[i] = (uint8_t)(i * 7 + 1); /* unused: ignored */
  expect_open(&f, TCODEC_OK, 0, "unused header bytes");
  memcpy(f.data, saved, 64);
  /* a newer minor in header and trailer is accepted, and reported */
  tu_put16(f.data + 10, 9);
  fix_header(f.data);
  tu_put16(f.data + f.size - 48 + 26, 9);
  fix_trailer(f.data, f.size);
  tcodec_reader *r = tu_reader_open(&f);
  unsigned major = 0, minor = 0;
  cr_expect_eq(tcodec_reader_format_version(r, &major, &minor), 0);
  cr_expect(major == 1 && minor == 9, "version %u.%u", major, minor);
  tcodec_reader_free(r);
  tu_buf_free(&m.file);
}

Test(container, trailer_checks) {
  model m = build_model(TCODEC_CODER_NONE, 64);
  tu_buf f = m.file;
  size_t T = f.size - 48;
  uint8_t saved[48];
  memcpy(saved, f.data + T, 48);
#define RESTORE() memcpy(f.data + T, saved, 48)
  for (int i = 40; i < 48; i++) {
    f.data[T + i] ^= 0x10;
    expect_open(&f, TCODEC_E_TRAILER, T + 40, "end magic");
    RESTORE();
  }
  for (int i = 0; i < 40; i++) { /* any change of bytes 0..39 without fixing the checksum */
    f.data[T + i] ^= 0x02;
    expect_open(&f, TCODEC_E_TRAILER, T + 32, "trailer checksum");
    RESTORE();
  }
  tu_put16(f.data + T + 24, 2);
  fix_trailer(f.data, f.size);
  expect_open(&f, TCODEC_E_TRAILER, T + 24, "trailer major");
  RESTORE();
  tu_put16(f.data + T + 26, 1);
  fix_trailer(f.data, f.size);
  expect_open(&f, TCODEC_E_TRAILER, T + 24, "trailer minor");
  RESTORE();
  tu_put32(f.data + T + 28, 0x80000000u);
  fix_trailer(f.data, f.size);
  expect_open(&f, TCODEC_E_RESERVED, T + 28, "trailer flags");
  RESTORE();
  uint64_t d = dir_offset(&f), ds = T - d;
  const uint64_t bad[][2] = {{d + 1, ds},    {d - 1, ds},     {d, ds + 1},
                             {d, ds - 1},    {63, T - 63},    {0, T},
                             {T + 1, 0},     {UINT64_MAX, 1}, {UINT64_MAX - 7, T + 8},
                             {d, UINT64_MAX}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    tu_put64(f.data + T, bad[i][0]);
    tu_put64(f.data + T + 8, bad[i][1]);
    fix_trailer(f.data, f.size);
    expect_open(&f, TCODEC_E_TRAILER, T, "dir_offset/dir_size");
    RESTORE();
  }
  f.data[d + 1] ^= 0x01;
  expect_open(&f, TCODEC_E_DIR_CHECKSUM, d, "directory checksum");
  f.data[d + 1] ^= 0x01;
  expect_open(&f, TCODEC_OK, 0, "restored");
#undef RESTORE
  tu_buf_free(&m.file);
}

Test(container, directory_checks) {
  tu_buf f = dir_file(64, 0, NULL, 0);
  expect_open(&f, TCODEC_OK, 0, "{align: 64, tensors: []}");
  tu_buf_free(&f);
  const uint64_t bad_align[] = {0, 1, 32, 63, 96, 100, 3u << 10, 1u << 21, 1ull << 40};
  for (size_t i = 0; i < sizeof(bad_align) / sizeof(bad_align[0]); i++) {
    f = dir_file(bad_align[i], 0, NULL, 0);
    expect_open(&f, TCODEC_E_DIR_SCHEMA, 64, "align");
    tu_buf_free(&f);
  }
  f = dir_file(1u << 20, 0, NULL, 0);
  expect_open(&f, TCODEC_OK, 0, "align 2^20");
  tu_buf_free(&f);

#define CB(lit) lit, sizeof(lit) - 1
  struct {
    const char *what;
    const char *cbor;
    size_t n;
    int code;
  } cases[] = {
      {"top-level array", CB("\x82\x18\x40\x80"), TCODEC_E_DIR_SCHEMA},
      {"no align", CB("\xa1\x67tensors\x80"), TCODEC_E_DIR_SCHEMA},
      {"align as text",
       CB("\xa2\x65"
          "align\x62"
          "64\x67tensors\x80"),
       TCODEC_E_DIR_SCHEMA},
      {"tensors as map",
       CB("\xa2\x65"
          "align\x18\x40\x67tensors\xa0"),
       TCODEC_E_DIR_SCHEMA},
      {"integer key",
       CB("\xa3\x65"
          "align\x18\x40\x67tensors\x80\x01\x02"),
       TCODEC_E_DIR_SCHEMA},
      {"duplicate key",
       CB("\xa3\x65"
          "align\x18\x40\x67tensors\x80\x65"
          "align\x18\x40"),
       TCODEC_E_DIR_SCHEMA},
      {"break byte", CB("\xff"), TCODEC_E_DIR_CBOR},
      {"map cut short",
       CB("\xa2\x65"
          "align\x18\x40"),
       TCODEC_E_DIR_CBOR},
      {"indefinite map",
       CB("\xbf\x65"
          "align\x18\x40\x67tensors\x80\xff"),
       TCODEC_E_DIR_CBOR},
      {"indefinite text key",
       CB("\xa2\x7f\x65"
          "align\xff\x18\x40\x67tensors\x80"),
       TCODEC_E_DIR_CBOR},
      {"two items",
       CB("\xa2\x65"
          "align\x18\x40\x67tensors\x80\xa0"),
       TCODEC_E_DIR_CBOR},
      {"requires not an array",
       CB("\xa3\x65"
          "align\x18\x40\x67tensors\x80\x68requires\x61x"),
       TCODEC_E_DIR_SCHEMA},
      {"requires a number",
       CB("\xa3\x65"
          "align\x18\x40\x67tensors\x80\x68requires\x81\x01"),
       TCODEC_E_DIR_SCHEMA},
      {"requires a feature",
       CB("\xa3\x65"
          "align\x18\x40\x67tensors\x80\x68requires\x81\x61x"),
       TCODEC_E_UNSUPPORTED_FEATURE},
      {"requires empty",
       CB("\xa3\x65"
          "align\x18\x40\x67tensors\x80\x68requires\x80"),
       0},
      {"meta value a number",
       CB("\xa3\x65"
          "align\x18\x40\x67tensors\x80\x64meta\xa1\x61k\x01"),
       TCODEC_E_DIR_SCHEMA},
      {"meta key not UTF-8",
       CB("\xa3\x65"
          "align\x18\x40\x67tensors\x80\x64meta\xa1\x61\xff\x60"),
       TCODEC_E_DIR_SCHEMA},
      {"unknown keys",
       CB("\xa4\x65"
          "align\x18\x40\x67tensors\x80\x61x\xf6\x62yy\xa1\x61k\x80"),
       0},
      {"align as a long integer",
       CB("\xa2\x65"
          "align\x1b\x00\x00\x00\x00\x00\x00\x00\x40"
          "\x67tensors\x80"),
       0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    f = file_with_dir((const uint8_t *)cases[i].cbor, cases[i].n);
    expect_open(&f, cases[i].code, 64, cases[i].what);
    tu_buf_free(&f);
  }
#undef CB
}

/* Deep nesting inside an ignored value: depth 16 must be accepted (FORMAT.md, "Security
 * considerations"); deeper may be refused, but only with E_LIMIT. */
Test(container, nesting_depth) {
  for (unsigned depth = 16; depth <= 40; depth += 24) {
    uint8_t extra[64];
    size_t n = 0;
    extra[n++] = 0x61;
    extra[n++] = 'x';
    for (unsigned k = 1; k < depth; k++) extra[n++] = 0x81; /* the top map is level 1 */
    extra[n++] = 0x00;
    tu_buf f = dir_file(64, 1, extra, n);
    uint64_t off;
    int rc = open_copy(f.data, f.size, &off);
    if (depth <= 16)
      cr_expect_eq(rc, 0, "nesting depth %u refused: %s", depth, tcodec_strerror(rc));
    else
      cr_expect(rc == 0 || rc == TCODEC_E_LIMIT, "nesting depth %u: %s (only E_LIMIT allowed)",
                depth, tcodec_strerror(rc));
    tu_buf_free(&f);
  }
}

/* ---- damage ------------------------------------------------------------------------------ */

Test(container, truncated_at_every_length_fails) {
  model m = build_model(TCODEC_CODER_ZSTD, 64);
  for (size_t len = 0; len < m.file.size; len++) {
    uint64_t off;
    int rc = open_copy(m.file.data, len, &off);
    if (len < 112) {
      cr_expect_eq(rc, TCODEC_E_TRUNCATED, "length %zu: %s", len, tcodec_strerror(rc));
      cr_expect_eq(off, len);
    } else {
      cr_expect_eq(rc, TCODEC_E_TRAILER, "length %zu: %s", len, tcodec_strerror(rc));
      cr_expect_eq(off, len - 8, "length %zu: offset %llu", len, (unsigned long long)off);
    }
  }
  tu_buf_free(&m.file);
}

/* Is byte b unused (FORMAT.md: header bytes 24..63, payload bytes outside every stream)? */
static int byte_unused(uint64_t b, const range *rs, size_t nr, uint64_t dir_off) {
  if (b >= 24 && b < 64) return 1;
  if (b < 64 || b >= dir_off) return 0;
  for (size_t i = 0; i < nr; i++)
    if (b >= rs[i].off && b < rs[i].off + rs[i].size) return 0;
  return 1;
}

/* Every single bit flipped: the file fails to open, or some tensor (or the section) fails
 * to decode, or - only for unused bytes - everything decodes exactly as before. A decode
 * that succeeds never returns different values. */
Test(container, every_bit_flip_is_caught_or_harmless, .timeout = 120) {
  model m = build_model(TCODEC_CODER_ZSTD, 64);
  tu_buf f = m.file;
  range rs[64];
  size_t nr = stream_ranges(&f, rs, 64);
  uint64_t d = dir_offset(&f);
  tcodec_reader *r = tu_reader_open(&f);
  outputs want = decode_all(r);
  tcodec_reader_free(r);
  size_t at_open = 0, at_decode = 0, harmless = 0;
  uint8_t *sec = malloc(sizeof(model_section));
  for (size_t bit = 0; bit < f.size * 8; bit++) {
    size_t b = bit / 8;
    f.data[b] ^= (uint8_t)(1u << (bit % 8));
    cr_assert_eq(tcodec_reader_create(&r, NULL), 0);
    int failed = 0;
    if (tcodec_reader_open_memory(r, f.data, f.size) != 0) {
      at_open++;
      failed = 1;
    } else {
      for (size_t k = 0; k < MODEL_TENSORS; k++) {
        uint8_t *got = malloc(want.size[k] + 1);
        int rc = tcodec_reader_decode(r, k, TCODEC_OUT_ORIGINAL, got, (size_t)want.size[k]);
        if (rc != 0)
          failed = 1;
        else
          cr_expect(want.size[k] == 0 || memcmp(got, want.t[k], (size_t)want.size[k]) == 0,
                    "bit %zu (byte %zu) flipped: tensor %zu decodes to different values", bit, b,
                    k);
        free(got);
      }
      int rc = tcodec_reader_section_read(r, 0, sec, sizeof(model_section));
      if (rc != 0)
        failed = 1;
      else
        cr_expect(memcmp(sec, model_section, sizeof(model_section)) == 0,
                  "bit %zu flipped: the section reads differently", bit);
      at_decode += failed;
    }
    int unused = byte_unused(b, rs, nr, d);
    cr_expect_eq(!failed, unused, "bit %zu (byte %zu, %s) flipped: %s", bit, b,
                 unused ? "unused" : "in use", failed ? "refused" : "accepted");
    harmless += !failed;
    tcodec_reader_free(r);
    f.data[b] ^= (uint8_t)(1u << (bit % 8));
  }
  cr_log_info("%zu bits: %zu refused at open, %zu on decode, %zu harmless", f.size * 8, at_open,
              at_decode, harmless);
  free(sec);
  outputs_free(&want);
  tu_buf_free(&m.file);
}

/* ---- reading ------------------------------------------------------------------------------ */

Test(container, open_file_matches_open_memory) {
  model m = build_model(TCODEC_CODER_ZSTD, 64);
  char path[] = "/tmp/tcodec_test_XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  FILE *fp = fdopen(fd, "wb");
  cr_assert_eq(fwrite(m.file.data, 1, m.file.size, fp), m.file.size);
  fclose(fp);
  tcodec_reader *rm = tu_reader_open(&m.file), *rf = NULL;
  cr_assert_eq(tcodec_reader_create(&rf, NULL), 0);
  int rc = tcodec_reader_open_file(rf, path);
  cr_assert_eq(rc, 0, "open_file: %s", tcodec_reader_error_message(rf));
  cr_assert_eq(tu_reader_count(rf), tu_reader_count(rm));
  for (size_t k = 0; k < tu_reader_count(rm); k++) {
    tcodec_tensor_info a = tu_info(rm, k), b = tu_info(rf, k);
    cr_expect_str_eq(a.name, b.name);
    cr_expect(a.dtype == b.dtype && a.encoding == b.encoding && a.nelem == b.nelem &&
              a.stored_bytes == b.stored_bytes && a.nnz == b.nnz && a.units == b.units);
    for (int out = TCODEC_OUT_ORIGINAL; out <= TCODEC_OUT_SYMBOLS; out++) {
      uint64_t sa, sb;
      if (tcodec_reader_decoded_size(rm, k, out, &sa) != 0) continue;
      void *x = tu_decode(rm, k, out, &sa), *y = tu_decode(rf, k, out, &sb);
      cr_expect_eq(sa, sb);
      tu_assert_mem_eq(y, x, (size_t)sa, "tensor %zu output %d", k, out);
      free(x);
      free(y);
    }
    for (int role = 0; role < TCODEC_ROLE_COUNT_; role++) {
      uint64_t sa, sb;
      void *x = tu_stream(rm, k, role, &sa), *y = tu_stream(rf, k, role, &sb);
      cr_expect_eq(sa, sb);
      if (x != NULL) tu_assert_mem_eq(y, x, (size_t)sa, "tensor %zu role %d", k, role);
      free(x);
      free(y);
    }
  }
  uint8_t sec[40];
  cr_expect_eq(tcodec_reader_section_read(rf, 0, sec, sizeof(sec)), 0);
  cr_expect(memcmp(sec, model_section, 40) == 0);
  size_t bad;
  cr_expect_eq(tcodec_reader_verify(rf, &bad), 0);
  tcodec_reader_free(rm);
  tcodec_reader_free(rf);

  /* a missing file: E_IO, the message names it */
  unlink(path);
  cr_assert_eq(tcodec_reader_create(&rf, NULL), 0);
  cr_expect_eq(tcodec_reader_open_file(rf, path), TCODEC_E_IO);
  cr_expect(strstr(tcodec_reader_error_message(rf), path) != NULL, "%s",
            tcodec_reader_error_message(rf));
  tcodec_reader_free(rf);
  tu_buf_free(&m.file);
}

Test(container, find_every_name) {
  static const char *const names[] = {"a",
                                      "b",
                                      "conv1.weight",
                                      "conv1.bias",
                                      "z\xc3\xa9ta",
                                      "layers.10.attn.q_proj.weight",
                                      "layers.1.attn",
                                      "layers.2",
                                      "A",
                                      "aa",
                                      "with space",
                                      "x/y/../z"};
  const size_t n = sizeof(names) / sizeof(names[0]);
  tu_buf b = {NULL, 0, 0, 0};
  tcodec_writer *w = tu_writer_begin(&b);
  tu_writer_param(w, TCODEC_WP_CODER, TCODEC_CODER_NONE);
  for (size_t i = 0; i < n; i++) {
    uint64_t shape[1] = {1};
    float v = (float)i;
    tcodec_tensor_desc d = tu_desc(names[i], TCODEC_F32, 1, shape);
    cr_assert_eq(tcodec_writer_add_raw(w, &d, &v, 4), 0);
  }
  tu_writer_finish(w);
  tcodec_reader *r = tu_reader_open(&b);
  for (size_t i = 0; i < n; i++) {
    size_t k = tu_find(r, names[i]);
    cr_expect_eq(k, i, "find(%s) = %zu", names[i], k);
    cr_expect_str_eq(tu_info(r, k).name, names[i]);
  }
  static const char *const absent[] = {"",
                                       "c",
                                       "conv1",
                                       "conv1.weight ",
                                       "layers.1",
                                       "a\xc3",
                                       "Z",
                                       "conv1.weightx",
                                       "layers.10.attn.q_proj.weigh"};
  for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
    size_t k = 12345;
    cr_expect_eq(tcodec_reader_find(r, absent[i], &k), TCODEC_E_NOT_FOUND, "find('%s')", absent[i]);
  }
  size_t k;
  cr_expect_eq(tcodec_reader_find(r, NULL, &k), TCODEC_E_ARG);
  cr_expect_eq(tcodec_reader_find(r, "a", NULL), TCODEC_E_ARG);
  tcodec_reader_free(r);
  tu_buf_free(&b);
}

Test(container, metadata_and_sections_round_trip) {
  tu_buf b = {NULL, 0, 0, 0};
  tcodec_writer *w = tu_writer_begin(&b);
  tu_writer_param(w, TCODEC_WP_CODER, TCODEC_CODER_AUTO);
  cr_assert_eq(tcodec_writer_set_meta(w, "producer", "first"), 0);
  cr_assert_eq(tcodec_writer_set_meta(w, "source_format", "gguf"), 0);
  cr_assert_eq(tcodec_writer_set_meta(w, "producer", "second \xe2\x9c\x93"), 0); /* replaces */
  cr_assert_eq(tcodec_writer_set_meta(w, "empty", ""), 0);
  cr_assert_eq(tcodec_writer_set_meta_bytes(w, "blob", "\x00\xff\x00", 3), 0);
  cr_assert_eq(tcodec_writer_set_meta_bytes(w, "noblob", NULL, 0), 0);
  cr_expect_eq(tcodec_writer_set_meta(w, "bad", "\xff\xfe"), TCODEC_E_ARG);
  uint8_t big[5000];
  for (size_t i = 0; i < sizeof(big); i++) big[i] = (uint8_t)(i % 7);
  cr_assert_eq(tcodec_writer_add_section(w, "x.big", 0, big, sizeof(big)), 0);
  cr_assert_eq(tcodec_writer_add_section(w, "x.none", 0, NULL, 0), 0);
  cr_assert_eq(tcodec_writer_add_section(w, "x.one", 0, "!", 1), 0);
  uint64_t shape[1] = {2};
  float v[2] = {1, 2};
  static const char *const mk[2] = {"k1", "k2"}, *const mv[2] = {"v1", "\xc3\xa9"};
  tcodec_tensor_desc d = tu_desc("t", TCODEC_F32, 1, shape);
  d.meta_keys = mk;
  d.meta_values = mv;
  d.meta_count = 2;
  cr_assert_eq(tcodec_writer_add_raw(w, &d, v, 8), 0);
  tu_writer_finish(w);

  tcodec_reader *r = tu_reader_open(&b);
  size_t n;
  cr_assert_eq(tcodec_reader_meta_count(r, &n), 0);
  cr_assert_eq(n, 5);
  static const char *const keys[5] = {"producer", "source_format", "empty", "blob", "noblob"};
  static const char *const vals[5] = {"second \xe2\x9c\x93", "gguf", "", "\x00\xff\x00", ""};
  static const size_t sizes[5] = {10, 4, 0, 3, 0};
  for (size_t i = 0; i < 5; i++) {
    const char *key;
    const void *value;
    size_t size;
    int is_text;
    cr_assert_eq(tcodec_reader_meta_get(r, i, &key, &value, &size, &is_text), 0);
    cr_expect_str_eq(key, keys[i]);
    cr_expect_eq(size, sizes[i], "meta %s: %zu bytes", key, size);
    cr_expect(memcmp(value, vals[i], sizes[i]) == 0, "meta %s value", key);
    cr_expect_eq(is_text, i < 3, "meta %s is_text", key);
    cr_expect_eq(((const char *)value)[size], '\0', "meta %s not NUL-terminated", key);
  }
  const char *s;
  cr_expect_eq(tcodec_reader_meta_find(r, "source_format", &s), 0);
  cr_expect_str_eq(s, "gguf");
  cr_expect_eq(tcodec_reader_meta_find(r, "blob", &s), TCODEC_E_NOT_FOUND, "bytes are not text");
  cr_expect_eq(tcodec_reader_meta_find(r, "nothing", &s), TCODEC_E_NOT_FOUND);
  cr_expect_eq(tcodec_reader_meta_get(r, 5, NULL, NULL, NULL, NULL), TCODEC_E_NOT_FOUND);

  cr_assert_eq(tcodec_reader_section_count(r, &n), 0);
  cr_assert_eq(n, 3);
  static const char *const types[3] = {"x.big", "x.none", "x.one"};
  static const uint64_t lens[3] = {5000, 0, 1};
  for (size_t i = 0; i < 3; i++) {
    const char *type;
    int critical;
    uint64_t size;
    cr_assert_eq(tcodec_reader_section_info(r, i, &type, &critical, &size), 0);
    cr_expect_str_eq(type, types[i]);
    cr_expect_eq(critical, 0);
    cr_expect_eq(size, lens[i]);
    uint8_t *got = malloc((size_t)size + 1);
    cr_expect_eq(tcodec_reader_section_read(r, i, got, (size_t)size), 0);
    if (i == 0) tu_assert_mem_eq(got, big, sizeof(big), "section x.big");
    if (i == 2) cr_expect_eq(got[0], '!');
    if (size > 0)
      cr_expect_eq(tcodec_reader_section_read(r, i, got, (size_t)size - 1), TCODEC_E_DST_SIZE);
    free(got);
  }
  cr_expect_eq(tcodec_reader_section_info(r, 3, NULL, NULL, NULL), TCODEC_E_NOT_FOUND);
  tcodec_tensor_info info = tu_info(r, 0);
  cr_assert_eq(info.meta_count, 2);
  for (size_t i = 0; i < 2; i++) {
    const char *key, *value;
    cr_assert_eq(tcodec_reader_tensor_meta(r, 0, i, &key, &value), 0);
    cr_expect_str_eq(key, mk[i]);
    cr_expect_str_eq(value, mv[i]);
  }
  cr_expect_eq(tcodec_reader_tensor_meta(r, 0, 2, NULL, NULL), TCODEC_E_NOT_FOUND);
  tcodec_reader_free(r);

  /* a critical section makes the file unreadable for a 1.0 reader (offset D) */
  w = tu_writer_begin(&b);
  cr_assert_eq(tcodec_writer_add_section(w, "x.must", 1, "abc", 3), 0);
  tu_writer_finish(w);
  expect_open(&b, TCODEC_E_UNSUPPORTED_SECTION, dir_offset(&b), "critical section");
  tu_buf_free(&b);
}

Test(container, failed_open_leaves_a_refusing_reader) {
  tu_buf f = dir_file(32, 0, NULL, 0);
  tcodec_reader *r = NULL;
  cr_assert_eq(tcodec_reader_create(&r, NULL), 0);
  cr_assert_eq(tcodec_reader_open_memory(r, f.data, f.size), TCODEC_E_DIR_SCHEMA);
  const char *msg = tcodec_reader_error_message(r);
  cr_expect(strstr(msg, "64") != NULL, "message names the offset: %s", msg);
  tu_buf good = dir_file(64, 0, NULL, 0);
  size_t n, k;
  unsigned a, b;
  uint64_t u;
  const char *s;
  cr_expect_eq(tcodec_reader_open_memory(r, good.data, good.size), TCODEC_E_BADSTATE);
  cr_expect_eq(tcodec_reader_open_file(r, "/nonexistent"), TCODEC_E_BADSTATE);
  cr_expect_eq(tcodec_reader_tensor_count(r, &n), TCODEC_E_BADSTATE);
  cr_expect_eq(tcodec_reader_meta_count(r, &n), TCODEC_E_BADSTATE);
  cr_expect_eq(tcodec_reader_meta_find(r, "x", &s), TCODEC_E_BADSTATE);
  cr_expect_eq(tcodec_reader_section_count(r, &n), TCODEC_E_BADSTATE);
  cr_expect_eq(tcodec_reader_find(r, "x", &k), TCODEC_E_BADSTATE);
  cr_expect_eq(tcodec_reader_format_version(r, &a, &b), TCODEC_E_BADSTATE);
  cr_expect_eq(tcodec_reader_decoded_size(r, 0, TCODEC_OUT_F32, &u), TCODEC_E_BADSTATE);
  cr_expect_eq(tcodec_reader_decode(r, 0, TCODEC_OUT_F32, &u, 8), TCODEC_E_BADSTATE);
  cr_expect_eq(tcodec_reader_verify(r, &k), TCODEC_E_BADSTATE);
  cr_expect_eq(tcodec_reader_set_limit(r, TCODEC_LIMIT_TENSORS, 5), TCODEC_E_BADSTATE);
  cr_expect_eq(tcodec_reader_error_offset(r), 64, "the error stays readable");
  tcodec_reader_free(r);

  /* an opened reader cannot be opened again either */
  cr_assert_eq(tcodec_reader_create(&r, NULL), 0);
  cr_assert_eq(tcodec_reader_open_memory(r, good.data, good.size), 0);
  cr_expect_eq(tcodec_reader_open_memory(r, good.data, good.size), TCODEC_E_BADSTATE);
  cr_expect_eq(tcodec_reader_set_limit(r, TCODEC_LIMIT_TENSORS, 5), TCODEC_E_BADSTATE);
  tcodec_reader_free(r);
  tcodec_reader_free(NULL);
  tu_buf_free(&f);
  tu_buf_free(&good);
}

Test(container, reader_argument_checks) {
  model m = build_model(TCODEC_CODER_NONE, 64);
  tcodec_reader *r = tu_reader_open(&m.file);
  uint64_t size;
  uint8_t buf[256];
  cr_expect_eq(tcodec_reader_create(NULL, NULL), TCODEC_E_ARG);
  cr_expect_eq(tcodec_reader_decoded_size(r, MODEL_TENSORS, TCODEC_OUT_F32, &size),
               TCODEC_E_NOT_FOUND);
  cr_expect_eq(tcodec_reader_decode(r, MODEL_TENSORS, TCODEC_OUT_F32, buf, sizeof(buf)),
               TCODEC_E_NOT_FOUND);
  cr_expect_eq(tcodec_reader_decoded_size(r, 0, TCODEC_OUT_SYMBOLS, &size), TCODEC_E_OUTPUT_FORMAT,
               "raw tensors have no symbols");
  cr_expect_eq(tcodec_reader_decoded_size(r, 0, 99, &size), TCODEC_E_OUTPUT_FORMAT);
  cr_assert_eq(tcodec_reader_decoded_size(r, 0, TCODEC_OUT_F32, &size), 0);
  cr_expect_eq(size, 24 * 4);
  cr_expect_eq(tcodec_reader_decode(r, 0, TCODEC_OUT_F32, buf, (size_t)size - 1),
               TCODEC_E_DST_SIZE);
  cr_expect_eq(tcodec_reader_decode(r, 0, TCODEC_OUT_F32, NULL, (size_t)size), TCODEC_E_ARG);
  cr_expect_eq(tcodec_reader_set_limit(r, 0, 1), TCODEC_E_ARG);
  cr_expect_eq(tcodec_reader_get_limit(r, 99, &size), TCODEC_E_ARG);
  tcodec_reader_free(r);
  tu_buf_free(&m.file);
}

/* ---- limits --------------------------------------------------------------------------------- */

/* Open (and decode everything) with one limit set; returns the first error. */
static int with_limit(const tu_buf *f, int limit, uint64_t value, uint64_t *off) {
  tcodec_reader *r = NULL;
  cr_assert_eq(tcodec_reader_create(&r, NULL), 0);
  cr_assert_eq(tcodec_reader_set_limit(r, limit, value), 0);
  uint64_t got;
  cr_assert_eq(tcodec_reader_get_limit(r, limit, &got), 0);
  cr_expect_eq(got, value);
  int rc = tcodec_reader_open_memory(r, f->data, f->size);
  for (size_t k = 0; rc == 0 && k < MODEL_TENSORS; k++) {
    uint64_t size;
    rc = tcodec_reader_decoded_size(r, k, TCODEC_OUT_ORIGINAL, &size);
    uint8_t *dst = malloc((size_t)size + 1);
    if (rc == 0) rc = tcodec_reader_decode(r, k, TCODEC_OUT_ORIGINAL, dst, (size_t)size);
    free(dst);
  }
  uint8_t sec[40];
  if (rc == 0) rc = tcodec_reader_section_read(r, 0, sec, sizeof(sec));
  *off = tcodec_reader_error_offset(r);
  tcodec_reader_free(r);
  return rc;
}

static void expect_limit(const tu_buf *f, int limit, uint64_t need, uint64_t off,
                         const char *what) {
  uint64_t got;
  int rc = with_limit(f, limit, need - 1, &got);
  cr_expect_eq(rc, TCODEC_E_LIMIT, "%s = %llu (file needs %llu): %s", what,
               (unsigned long long)need - 1, (unsigned long long)need, tcodec_strerror(rc));
  if (off != UINT64_MAX) cr_expect_eq(got, off, "%s: offset %llu", what, (unsigned long long)got);
  rc = with_limit(f, limit, need, &got);
  cr_expect_eq(rc, 0, "%s = %llu (what the file needs): %s", what, (unsigned long long)need,
               tcodec_strerror(rc));
}

Test(container, limits_trigger_exactly_below_need) {
  model m = build_model(TCODEC_CODER_ZSTD, 64);
  const tu_buf *f = &m.file;
  uint64_t T = f->size - 48, D = dir_offset(f), dir_size = T - D;
  expect_limit(f, TCODEC_LIMIT_DIR_BYTES, dir_size, T + 8, "DIR_BYTES");
  expect_limit(f, TCODEC_LIMIT_TENSORS, MODEL_TENSORS, D, "TENSORS");
  expect_limit(f, TCODEC_LIMIT_TENSOR_ELEMS, 32, D, "TENSOR_ELEMS"); /* "tern" is 4 x 8 */
  expect_limit(f, TCODEC_LIMIT_META_BYTES, MODEL_META_BYTES, D, "META_BYTES");
  expect_limit(f, TCODEC_LIMIT_SECTION_BYTES, 40, D, "SECTION_BYTES");

  /* ALLOC_BYTES: what a reader holds depends on the implementation; a limit that is too
   * small must give E_LIMIT (FORMAT.md "Recommended decoder limits": never another error),
   * a large one nothing. */
  uint64_t off;
  const uint64_t tiny[] = {1, 64, 512, 2048};
  for (size_t i = 0; i < 4; i++) {
    int rc = with_limit(f, TCODEC_LIMIT_ALLOC_BYTES, tiny[i], &off);
    cr_expect(rc == 0 || rc == TCODEC_E_LIMIT, "ALLOC_BYTES %llu: %s (only E_LIMIT allowed)",
              (unsigned long long)tiny[i], tcodec_strerror(rc));
  }
  cr_expect_eq(with_limit(f, TCODEC_LIMIT_ALLOC_BYTES, 1, &off), TCODEC_E_LIMIT,
               "ALLOC_BYTES 1 cannot be enough");
  cr_expect_eq(with_limit(f, TCODEC_LIMIT_ALLOC_BYTES, 1 << 20, &off), 0);
  tu_buf_free(&m.file);
}

/* A zstd stream whose len exceeds ALLOC_BYTES is refused on decode with E_LIMIT at its off
 * (FORMAT.md "Decoding a tensor"), after an open that fits. */
Test(container, alloc_limit_on_decode) {
  tu_buf b = {NULL, 0, 0, 0};
  tcodec_writer *w = tu_writer_begin(&b);
  tu_writer_param(w, TCODEC_WP_CODER, TCODEC_CODER_ZSTD);
  uint8_t zeros[16384] = {0};
  uint64_t shape[1] = {sizeof(zeros)};
  tcodec_tensor_desc d = tu_desc("big", TCODEC_U8, 1, shape);
  cr_assert_eq(tcodec_writer_add_raw(w, &d, zeros, sizeof(zeros)), 0);
  tu_writer_finish(w);
  range rs[4];
  cr_assert_eq(stream_ranges(&b, rs, 4), 1);
  tcodec_reader *r = NULL;
  cr_assert_eq(tcodec_reader_create(&r, NULL), 0);
  cr_assert_eq(tcodec_reader_set_limit(r, TCODEC_LIMIT_ALLOC_BYTES, 8192), 0);
  int rc = tcodec_reader_open_memory(r, b.data, b.size);
  cr_assert_eq(rc, 0, "open with ALLOC_BYTES 8192: %s", tcodec_reader_error_message(r));
  rc = tcodec_reader_decode(r, 0, TCODEC_OUT_ORIGINAL, zeros, sizeof(zeros));
  cr_expect_eq(rc, TCODEC_E_LIMIT, "decode: %s", tcodec_strerror(rc));
  cr_expect_eq(tcodec_reader_error_offset(r), rs[0].off);
  tcodec_reader_free(r);
  tu_buf_free(&b);
}

/* ---- writer ------------------------------------------------------------------------------ */

Test(container, alignment_4096) {
  model m = build_model(TCODEC_CODER_NONE, 4096);
  range rs[64];
  size_t n = stream_ranges(&m.file, rs, 64);
  cr_assert_geq(n, 15);
  cr_expect_eq(top_uint(&m.file, "align"), 4096);
  for (size_t i = 0; i < n; i++)
    cr_expect_eq(rs[i].off % 4096, 0, "stream at %llu", (unsigned long long)rs[i].off);
  /* unused bytes between streams are zero */
  uint64_t d = dir_offset(&m.file);
  for (uint64_t b = 64; b < d; b++)
    if (byte_unused(b, rs, n, d))
      cr_assert_eq(m.file.data[b], 0, "gap byte %llu", (unsigned long long)b);
  tcodec_reader *r = tu_reader_open(&m.file);
  size_t bad;
  cr_expect_eq(tcodec_reader_verify(r, &bad), 0);
  model m64 = build_model(TCODEC_CODER_NONE, 64);
  tcodec_reader *r64 = tu_reader_open(&m64.file);
  outputs a = decode_all(r), b = decode_all(r64);
  for (size_t k = 0; k < MODEL_TENSORS; k++) {
    cr_expect_eq(a.size[k], b.size[k]);
    if (a.size[k]) tu_assert_mem_eq(a.t[k], b.t[k], (size_t)a.size[k], "tensor %zu", k);
  }
  outputs_free(&a);
  outputs_free(&b);
  tcodec_reader_free(r);
  tcodec_reader_free(r64);
  tu_buf_free(&m.file);
  tu_buf_free(&m64.file);

  tcodec_writer *w = NULL;
  cr_assert_eq(tcodec_writer_create(&w, NULL), 0);
  const int bad_align[] = {0, 32, 63, 100, 3000, 1 << 21, -64};
  for (size_t i = 0; i < sizeof(bad_align) / sizeof(bad_align[0]); i++)
    cr_expect_eq(tcodec_writer_set_param(w, TCODEC_WP_ALIGNMENT, bad_align[i]), TCODEC_E_ARG,
                 "alignment %d", bad_align[i]);
  int lo, hi;
  cr_expect_eq(tcodec_writer_param_bounds(TCODEC_WP_ALIGNMENT, &lo, &hi), 0);
  cr_expect(lo == 64 && hi == 1 << 20, "bounds %d..%d", lo, hi);
  tu_buf sink = {NULL, 0, 0, 0};
  cr_assert_eq(tcodec_writer_begin(w, tu_buf_write, &sink), 0);
  cr_expect_eq(tcodec_writer_set_param(w, TCODEC_WP_ALIGNMENT, 128), TCODEC_E_BADSTATE,
               "alignment after begin");
  tcodec_writer_free(w);
  tu_buf_free(&sink);
}

static int failing_sink(void *user, const void *src, size_t n) {
  (void)src;
  size_t *left = user;
  if (n > *left) return 1;
  *left -= n;
  return 0;
}

Test(container, writer_misuse) {
  tcodec_writer *w = NULL;
  uint64_t shape[1] = {2};
  float v[2] = {1, 2};
  tcodec_tensor_desc d = tu_desc("t", TCODEC_F32, 1, shape);
  tu_buf b = {NULL, 0, 0, 0};
  cr_expect_eq(tcodec_writer_create(NULL, NULL), TCODEC_E_ARG);
  cr_assert_eq(tcodec_writer_create(&w, NULL), 0);
  cr_expect_eq(tcodec_writer_add_raw(w, &d, v, 8), TCODEC_E_BADSTATE, "add before begin");
  cr_expect_eq(tcodec_writer_set_meta(w, "k", "v"), TCODEC_E_BADSTATE, "meta before begin");
  cr_expect_eq(tcodec_writer_add_section(w, "x.s", 0, "a", 1), TCODEC_E_BADSTATE);
  cr_expect_eq(tcodec_writer_finish(w), TCODEC_E_BADSTATE, "finish before begin");
  cr_expect_eq(tcodec_writer_begin(w, NULL, &b), TCODEC_E_ARG);
  cr_expect_eq(tcodec_writer_begin(NULL, tu_buf_write, &b), TCODEC_E_ARG);
  cr_assert_eq(tcodec_writer_begin(w, tu_buf_write, &b), 0);
  cr_expect_eq(tcodec_writer_begin(w, tu_buf_write, &b), TCODEC_E_BADSTATE, "begin twice");
  cr_expect_eq(tcodec_writer_set_param(w, 99, 1), TCODEC_E_ARG);
  cr_expect_eq(tcodec_writer_set_param(w, TCODEC_WP_ZSTD_LEVEL, 23), TCODEC_E_ARG);
  cr_expect_eq(tcodec_writer_set_param(w, TCODEC_WP_CODER, 2), TCODEC_E_ARG, "coder 2");
  cr_expect_eq(tcodec_writer_add_raw(w, &d, v, 4), TCODEC_E_ARG, "wrong byte count");
  cr_expect_eq(tcodec_writer_add_raw(w, NULL, v, 8), TCODEC_E_ARG);
  tcodec_tensor_desc e = d;
  e.name = "";
  cr_expect_eq(tcodec_writer_add_raw(w, &e, v, 8), TCODEC_E_ARG, "empty name");
  e.name = "\xff";
  cr_expect_eq(tcodec_writer_add_raw(w, &e, v, 8), TCODEC_E_ARG, "name not UTF-8");
  e = d;
  e.dtype = 0;
  cr_expect_eq(tcodec_writer_add_raw(w, &e, v, 8), TCODEC_E_UNSUPPORTED_DTYPE);
  e.dtype = 16;
  cr_expect_eq(tcodec_writer_add_raw(w, &e, v, 8), TCODEC_E_UNSUPPORTED_DTYPE);
  uint64_t shape33[33];
  for (int i = 0; i < 33; i++) shape33[i] = 1;
  e = tu_desc("t33", TCODEC_F32, 33, shape33);
  cr_expect_eq(tcodec_writer_add_raw(w, &e, v, 4), TCODEC_E_SHAPE, "33 dimensions");
  cr_assert_eq(tcodec_writer_add_raw(w, &d, v, 8), 0);
  cr_expect_eq(tcodec_writer_add_raw(w, &d, v, 8), TCODEC_E_DUPLICATE, "duplicate name");
  tcodec_quantized q;
  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_BINARY;
  q.symmetric = 1;
  q.scale_dtype = TCODEC_F32;
  int8_t sym[2] = {1, -1};
  q.symbols = sym;
  q.scales = v;
  cr_expect_eq(tcodec_writer_add_quantized(w, &d, &q), TCODEC_E_DUPLICATE, "duplicate name");
  d.name = "u";
  cr_expect_eq(tcodec_writer_add_quantized(w, &d, &q), 0, "the writer is still usable");
  cr_assert_eq(tcodec_writer_finish(w), 0, "%s", tcodec_writer_error_message(w));
  cr_expect_eq(tcodec_writer_finish(w), TCODEC_E_BADSTATE, "finish twice");
  cr_expect_eq(tcodec_writer_add_raw(w, &d, v, 8), TCODEC_E_BADSTATE, "add after finish");
  cr_expect_eq(tcodec_writer_set_meta(w, "k", "v"), TCODEC_E_BADSTATE, "meta after finish");
  tcodec_writer_free(w);
  tcodec_writer_free(NULL);
  tcodec_reader *r = tu_reader_open(&b);
  cr_expect_eq(tu_reader_count(r), 2);
  cr_expect_str_eq(tu_info(r, 0).name, "t");
  cr_expect_str_eq(tu_info(r, 1).name, "u");
  tcodec_reader_free(r);
  tu_buf_free(&b);

  /* the sink fails: E_IO, then the writer refuses everything */
  size_t left = 100;
  cr_assert_eq(tcodec_writer_create(&w, NULL), 0);
  tu_writer_param(w, TCODEC_WP_CODER, TCODEC_CODER_NONE);
  cr_assert_eq(tcodec_writer_begin(w, failing_sink, &left), 0);
  float big[64] = {0.5f};
  uint64_t s64[1] = {64};
  e = tu_desc("big", TCODEC_F32, 1, s64);
  cr_expect_eq(tcodec_writer_add_raw(w, &e, big, sizeof(big)), TCODEC_E_IO);
  e.name = "big2";
  cr_expect_eq(tcodec_writer_add_raw(w, &e, big, sizeof(big)), TCODEC_E_BADSTATE);
  cr_expect_eq(tcodec_writer_finish(w), TCODEC_E_BADSTATE);
  tcodec_writer_free(w);
}

/* ---- error strings ------------------------------------------------------------------------ */

Test(container, strerror_is_distinct_for_every_code) {
#define TC_CODE(name, num, msg) num,
  static const int codes[] = {TCODEC_LIST_ERRORS(TC_CODE)};
#undef TC_CODE
  const size_t n = sizeof(codes) / sizeof(codes[0]);
  const char *unknown = tcodec_strerror(-1000);
  cr_assert_not_null(unknown);
  for (size_t i = 0; i < n; i++) {
    const char *s = tcodec_strerror(codes[i]);
    cr_assert_not_null(s);
    cr_expect_gt(strlen(s), 0);
    cr_expect_str_neq(s, unknown, "code %d has no text", codes[i]);
    for (size_t j = 0; j < i; j++)
      cr_expect_str_neq(s, tcodec_strerror(codes[j]), "codes %d and %d share '%s'", codes[i],
                        codes[j], s);
  }
  const int others[] = {1, -9, -36, INT32_MIN, INT32_MAX};
  for (size_t i = 0; i < 5; i++) cr_expect_str_eq(tcodec_strerror(others[i]), unknown);
}

/* A runtime that memory-maps raw tensors: with no entropy stage, no byte
 * grouping and no detection, stream_info's range in the file holds exactly the
 * tensor's bytes, at an offset aligned as requested. */
Test(container, uncoded_raw_stream_is_mappable_at_stream_info_offset) {
  tu_buf file = {NULL, 0, 0, 0};
  tcodec_writer *w = tu_writer_begin(&file);
  tu_writer_param(w, TCODEC_WP_CODER, TCODEC_CODER_NONE);
  tu_writer_param(w, TCODEC_WP_BYTE_GROUP, 0);
  tu_writer_param(w, TCODEC_WP_DETECT, 0);
  float vals[37];
  for (int i = 0; i < 37; i++) vals[i] = (i % 3 == 0) ? 0.0f : 0.25f * (float)i;
  uint64_t shape[1] = {37};
  tcodec_tensor_desc d = tu_desc("mapped", TCODEC_F32, 1, shape);
  cr_assert_eq(tcodec_writer_add_raw(w, &d, vals, sizeof(vals)), 0);
  tu_writer_finish(w);
  tcodec_reader *r = tu_reader_open(&file);
  uint64_t off = 0, stored = 0, len = 0;
  int coder = -1;
  cr_assert_eq(tcodec_reader_stream_info(r, 0, TCODEC_ROLE_DATA, &off, &stored, &len, &coder), 0);
  cr_expect_eq(coder, TCODEC_CODER_NONE);
  cr_expect_eq(stored, sizeof(vals));
  cr_expect_eq(len, sizeof(vals));
  cr_expect_eq(off % 64, 0);
  cr_assert(off + stored <= file.size);
  cr_expect(memcmp(file.data + off, vals, sizeof(vals)) == 0, "bytes in the file are the tensor");
  cr_expect_eq(tcodec_reader_stream_info(r, 0, TCODEC_ROLE_MASK, NULL, NULL, NULL, NULL),
               TCODEC_E_NOT_FOUND);
  tcodec_reader_free(r);
  tu_buf_free(&file);
}

/* Distinct readers on the same bytes, from different threads at once, decode the
 * same values as one reader alone (no shared state inside the library). */
typedef struct thread_job {
  const tu_buf *file;
  const outputs *want;
  int mismatches;
} thread_job;

static void *decode_in_thread(void *arg) {
  thread_job *job = arg;
  for (int round = 0; round < 20; round++) {
    tcodec_reader *r = NULL;
    if (tcodec_reader_create(&r, NULL) != 0 ||
        tcodec_reader_open_memory(r, job->file->data, job->file->size) != 0) {
      job->mismatches++;
      tcodec_reader_free(r);
      continue;
    }
    for (size_t k = 0; k < MODEL_TENSORS; k++) {
      uint8_t *buf = malloc((size_t)job->want->size[k] + 1);
      if (buf == NULL ||
          tcodec_reader_decode(r, k, TCODEC_OUT_ORIGINAL, buf, (size_t)job->want->size[k]) != 0 ||
          memcmp(buf, job->want->t[k], (size_t)job->want->size[k]) != 0)
        job->mismatches++;
      free(buf);
    }
    tcodec_reader_free(r);
  }
  return NULL;
}

Test(container, readers_in_parallel_threads_agree) {
  model m = build_model(TCODEC_CODER_ZSTD, 64);
  tcodec_reader *r = tu_reader_open(&m.file);
  outputs want = decode_all(r);
  tcodec_reader_free(r);
  pthread_t th[4];
  thread_job jobs[4];
  for (int i = 0; i < 4; i++) {
    jobs[i] = (thread_job){&m.file, &want, 0};
    cr_assert_eq(pthread_create(&th[i], NULL, decode_in_thread, &jobs[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    cr_expect_eq(jobs[i].mismatches, 0, "thread %d: %d mismatches", i, jobs[i].mismatches);
  }
  outputs_free(&want);
  tu_buf_free(&m.file);
}
