/* safetensors module (formats/safetensors.c): byte-identical round trips on
 * fixtures written by an independent writer (scripts/make-safetensors-fixtures.py,
 * numpy only), the reference writer's header layout, sharded checkpoints, the
 * path through a .tc container, and hostile files, each with its exact error
 * code and byte offset. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "safetensors.h"
#include "support/testutil.h"

#define FIXTURES "tests/fixtures/safetensors/"

static const char *const valid_files[] = {
    "all_dtypes.safetensors",    "metadata.safetensors",     "empty_and_scalar.safetensors",
    "no_tensors.safetensors",    "python_style.safetensors", "canonical.safetensors",
    "opaque_dtypes.safetensors",
};
#define NVALID (sizeof(valid_files) / sizeof(valid_files[0]))

static const char *const shard_files[] = {"model-00001-of-00002.safetensors",
                                          "model-00002-of-00002.safetensors"};
#define INDEX_FILE "model.safetensors.index.json"

/* ---- helpers ------------------------------------------------------------------ */

static uint8_t *fx_read(const char *rel, size_t *size) {
  char *path = tu_source_path(rel);
  uint8_t *p = tu_read_file(path, size);
  cr_assert_not_null(p, "cannot read %s", path);
  free(path);
  return p;
}

static uint8_t *fx_valid(const char *name, size_t *size) {
  char rel[256];
  snprintf(rel, sizeof(rel), FIXTURES "valid/%s", name);
  return fx_read(rel, size);
}

static void parse_ok(const uint8_t *src, size_t n, const char *name, tcf_model *m) {
  tcf_error err;
  int rc = tcf_safetensors_parse(src, n, name, NULL, m, &err);
  cr_assert_eq(rc, 0, "%s: %s at %llu: %s", name, tcodec_strerror(rc),
               (unsigned long long)err.offset, err.msg);
}

static void write_ok(const tcf_model *m, tu_buf *out) {
  tcf_error err;
  int rc = tcf_safetensors_write(m, tu_buf_write, out, &err);
  cr_assert_eq(rc, 0, "write: %s: %s", tcodec_strerror(rc), err.msg);
}

/* The model without its header section (a shallow view: do not free). */
static tcf_model without_sections(const tcf_model *m) {
  tcf_model v = *m;
  v.sections = NULL;
  v.nsections = 0;
  return v;
}

static void expect_same_tensors(const tcf_model *a, const tcf_model *b) {
  cr_assert_eq(a->ntensors, b->ntensors);
  for (size_t i = 0; i < a->ntensors; i++) {
    const tcf_tensor *x = &a->tensors[i], *y = NULL;
    for (size_t j = 0; j < b->ntensors && !y; j++)
      if (strcmp(b->tensors[j].name, x->name) == 0) y = &b->tensors[j];
    cr_assert_not_null(y, "tensor '%s' lost", x->name);
    cr_assert(x->dtype == y->dtype && x->ndim == y->ndim && x->size == y->size, "%s", x->name);
    cr_assert_arr_eq(x->shape, y->shape, x->ndim * sizeof(uint64_t));
    if (x->size) tu_assert_mem_eq(y->data, x->data, (size_t)x->size, "tensor %s", x->name);
    static const char *const keys[] = {TCF_ST_DTYPE_META, TCF_ST_SHAPE_META};
    for (size_t k = 0; k < 2; k++) {
      const char *mx = tcf_tensor_find_meta(x, keys[k]), *my = tcf_tensor_find_meta(y, keys[k]);
      cr_assert((mx == NULL) == (my == NULL), "%s: %s kept", x->name, keys[k]);
      if (mx) cr_assert_str_eq(mx, my, "%s: %s", x->name, keys[k]);
    }
  }
}

/* ---- the .tc glue: what tcpack/tcunpack do, in small ---------------------------- */

static void tc_pack(const tcf_model *m, tu_buf *out) {
  tcodec_writer *w = tu_writer_begin(out);
  for (size_t i = 0; i < m->meta_count; i++)
    cr_assert_eq(tcodec_writer_set_meta(w, m->meta_keys[i], m->meta_values[i]), 0);
  for (size_t i = 0; i < m->nsections; i++) {
    const tcf_section *s = &m->sections[i];
    cr_assert_eq(tcodec_writer_add_section(w, s->type, 0, s->data, s->size), 0, "%s",
                 tcodec_writer_error_message(w));
  }
  for (size_t i = 0; i < m->ntensors; i++) {
    const tcf_tensor *t = &m->tensors[i];
    tcodec_tensor_desc d = tu_desc(t->name, t->dtype, t->ndim, t->shape);
    d.meta_keys = (const char *const *)t->meta_keys;
    d.meta_values = (const char *const *)t->meta_values;
    d.meta_count = t->meta_count;
    int rc = tcodec_writer_add_raw(w, &d, t->data, (size_t)t->size);
    cr_assert_eq(rc, 0, "add_raw %s: %s", t->name, tcodec_writer_error_message(w));
  }
  tu_writer_finish(w);
}

static void tc_unpack_tensor(tcodec_reader *r, size_t i, tcf_tensor *t) {
  tcodec_tensor_info info = tu_info(r, i);
  t->name = tcf_strdup(info.name);
  t->dtype = info.dtype;
  t->ndim = info.ndim;
  memcpy(t->shape, info.shape, info.ndim * sizeof(uint64_t));
  t->nelem = info.nelem;
  t->owned = tu_decode(r, i, TCODEC_OUT_ORIGINAL, &t->size);
  t->data = t->owned;
  t->consumer_input = -1;
  for (size_t e = 0; e < info.meta_count; e++) {
    const char *k, *v;
    cr_assert_eq(tcodec_reader_tensor_meta(r, i, e, &k, &v), 0);
    cr_assert_eq(tcf_tensor_add_meta(t, k, v), 0);
  }
}

static void tc_unpack(const tu_buf *in, tcf_model *m) {
  tcodec_reader *r = tu_reader_open(in);
  size_t n = 0;
  memset(m, 0, sizeof(*m));
  strcpy(m->format, "safetensors");
  cr_assert_eq(tcodec_reader_meta_count(r, &n), 0);
  for (size_t i = 0; i < n; i++) {
    const char *k;
    const void *v;
    cr_assert_eq(tcodec_reader_meta_get(r, i, &k, &v, NULL, NULL), 0);
    cr_assert_eq(tcf_model_add_meta(m, k, v), 0);
  }
  cr_assert_eq(tcodec_reader_section_count(r, &n), 0);
  for (size_t i = 0; i < n; i++) {
    const char *type;
    uint64_t size;
    cr_assert_eq(tcodec_reader_section_info(r, i, &type, NULL, &size), 0);
    uint8_t *buf = malloc(size ? (size_t)size : 1);
    cr_assert_eq(tcodec_reader_section_read(r, i, buf, (size_t)size), 0);
    cr_assert_eq(tcf_model_add_section(m, type, buf, (size_t)size), 0);
    free(buf);
  }
  n = tu_reader_count(r);
  m->tensors = calloc(n ? n : 1, sizeof(tcf_tensor));
  for (; m->ntensors < n; m->ntensors++) tc_unpack_tensor(r, m->ntensors, &m->tensors[m->ntensors]);
  tcodec_reader_free(r);
}

/* ---- valid files: byte-identical round trips -------------------------------------- */

static void expect_roundtrip(const char *name) {
  size_t n;
  uint8_t *src = fx_valid(name, &n);
  tcf_model m;
  parse_ok(src, n, name, &m);
  tu_buf out = {0};
  write_ok(&m, &out);
  cr_assert_eq(out.size, n, "%s: wrote %zu bytes, read %zu", name, out.size, n);
  tu_assert_mem_eq(out.data, src, n, "%s round trip", name);
  tu_buf_free(&out);
  tcf_model_free(&m);
  free(src);
}

Test(safetensors_roundtrip, every_dtype_byte_identical) {
  expect_roundtrip("all_dtypes.safetensors");
}
Test(safetensors_roundtrip, metadata_byte_identical) { expect_roundtrip("metadata.safetensors"); }
Test(safetensors_roundtrip, empty_tensors_and_scalar_byte_identical) {
  expect_roundtrip("empty_and_scalar.safetensors");
}
Test(safetensors_roundtrip, no_tensors_byte_identical) {
  expect_roundtrip("no_tensors.safetensors");
}
Test(safetensors_roundtrip, python_spacing_key_order_and_padding_kept) {
  expect_roundtrip("python_style.safetensors");
}
Test(safetensors_roundtrip, opaque_dtypes_byte_identical) {
  expect_roundtrip("opaque_dtypes.safetensors");
}

/* ---- dtypes without a tcodec equivalent: opaque bytes ----------------------------- */

/* opaque_dtypes.safetensors in data order (the reference layout), with the
 * bytes each tensor's shape x bits gives. */
static const struct {
  const char *name, *dtype, *shape;
  uint64_t bytes;
} opaque_want[] = {
    {"c.scalar", "C64", "[]", 8},
    {"z.c64", "C64", "[3]", 24},
    {"w", NULL, NULL, 8},
    {"q.scales", "F8_E8M0", "[5]", 5},
    {"u", NULL, NULL, 2},
    {"q.f6_e3m2", "F6_E3M2", "[2,4]", 6},
    {"q.f6_e2m3", "F6_E2M3", "[4]", 3},
    {"e.f4", "F4", "[0]", 0},
    {"q.f4", "F4", "[2,3]", 3},
    {"mask", NULL, NULL, 3},
};
#define NOPAQUE (sizeof(opaque_want) / sizeof(opaque_want[0]))

Test(safetensors_opaque, parsed_as_u8_bytes_with_dtype_and_shape_meta) {
  size_t n;
  uint8_t *src = fx_valid("opaque_dtypes.safetensors", &n);
  tcf_model m;
  parse_ok(src, n, "opaque_dtypes", &m);
  cr_assert_eq(m.ntensors, NOPAQUE);
  for (size_t i = 0; i < NOPAQUE; i++) {
    const tcf_tensor *t = &m.tensors[i];
    cr_assert_str_eq(t->name, opaque_want[i].name);
    cr_assert_eq(t->size, opaque_want[i].bytes, "%s", t->name);
    cr_assert(t->data >= src && t->data + t->size <= src + n, "data borrowed from src");
    const char *md = tcf_tensor_find_meta(t, TCF_ST_DTYPE_META);
    const char *ms = tcf_tensor_find_meta(t, TCF_ST_SHAPE_META);
    if (opaque_want[i].dtype == NULL) {
      cr_assert(md == NULL && ms == NULL && t->dtype != TCODEC_DTYPE_INVALID, "%s", t->name);
      continue;
    }
    cr_assert_eq(t->dtype, TCODEC_U8, "%s", t->name);
    cr_assert(t->ndim == 1 && t->shape[0] == t->size && t->nelem == t->size, "%s", t->name);
    cr_assert_eq(t->meta_count, 2, "%s", t->name);
    cr_assert_str_eq(md, opaque_want[i].dtype);
    cr_assert_str_eq(ms, opaque_want[i].shape);
  }
  cr_assert_str_eq(m.tensors[2].name, "w");
  cr_assert_eq(m.tensors[2].dtype, TCODEC_F32);
  cr_assert_eq(m.tensors[9].dtype, TCODEC_BOOL);
  tcf_model_free(&m);
  free(src);
}

/* The fixture is in the reference layout: rebuilt from dtype/shape meta alone. */
Test(safetensors_opaque, reference_layout_rebuilt_from_meta) {
  size_t n;
  uint8_t *src = fx_valid("opaque_dtypes.safetensors", &n);
  tcf_model m;
  parse_ok(src, n, "opaque_dtypes", &m);
  tcf_model bare = without_sections(&m);
  tu_buf out = {0};
  write_ok(&bare, &out);
  cr_assert_eq(out.size, n);
  tu_assert_mem_eq(out.data, src, n, "reference layout with opaque dtypes");
  tu_buf_free(&out);
  tcf_model_free(&m);
  free(src);
}

Test(safetensors_opaque, every_opaque_dtype_name_round_trips) {
  static const char *const names[] = {"F4", "F6_E2M3", "F6_E3M2", "F8_E8M0", "C64"};
  static const uint8_t bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  static const char *const shapes[] = {"[2,4,2]", "[4,2,1]", "[1,8,1,1]", "[8]", "[1]"};
  static const uint64_t sizes[] = {8, 6, 6, 8, 8}; /* 16 x 4, 8 x 6, 8 x 6, 8 x 8, 1 x 64 bits */
  for (size_t i = 0; i < 5; i++) {
    tcf_model m, back;
    memset(&m, 0, sizeof(m));
    m.tensors = calloc(1, sizeof(tcf_tensor));
    m.ntensors = 1;
    tcf_tensor *t = &m.tensors[0];
    t->name = tcf_strdup("x");
    t->dtype = TCODEC_U8, t->ndim = 1, t->shape[0] = t->nelem = t->size = sizes[i];
    t->data = bytes;
    cr_assert_eq(tcf_tensor_add_meta(t, TCF_ST_DTYPE_META, names[i]), 0);
    cr_assert_eq(tcf_tensor_add_meta(t, TCF_ST_SHAPE_META, shapes[i]), 0);
    tu_buf out = {0};
    write_ok(&m, &out);
    parse_ok(out.data, out.size, names[i], &back);
    expect_same_tensors(&m, &back);
    cr_assert_eq(tcf_safetensors_dtype_from_name(names[i]), TCODEC_DTYPE_INVALID, "%s", names[i]);
    tu_buf_free(&out);
    tcf_model_free(&back);
    tcf_model_free(&m);
  }
}

Test(safetensors_parse, every_dtype_maps_to_tcodec) {
  static const char *const names[] = {"BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3",
                                      "I16",  "U16", "F16", "BF16",    "I32",
                                      "U32",  "F32", "F64", "I64",     "U64"};
  size_t n;
  uint8_t *src = fx_valid("all_dtypes.safetensors", &n);
  tcf_model m;
  parse_ok(src, n, "all_dtypes", &m);
  cr_assert_eq(m.ntensors, 16);
  for (size_t i = 0; i < 15; i++) {
    char want[32];
    int dt = tcf_safetensors_dtype_from_name(names[i]);
    cr_assert_neq(dt, TCODEC_DTYPE_INVALID, "%s", names[i]);
    cr_assert_str_eq(tcf_safetensors_dtype_name(dt), names[i]);
    snprintf(want, sizeof(want), "t.%s", names[i]);
    for (char *p = want; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    const tcf_tensor *t = &m.tensors[i]; /* data order = the writer's order */
    cr_assert_str_eq(t->name, want);
    cr_assert_eq(t->dtype, dt, "%s", t->name);
    cr_assert(t->ndim == 2 && t->shape[0] == 3 && t->shape[1] == 5 && t->nelem == 15);
    cr_assert_eq(t->size, 15 * tcodec_dtype_size(dt));
    cr_assert(t->data >= src && t->data + t->size <= src + n, "data borrowed from src");
  }
  cr_assert_eq(tcf_safetensors_dtype_from_name("F8_E8M0"), TCODEC_DTYPE_INVALID);
  cr_assert_null(tcf_safetensors_dtype_name(TCODEC_DTYPE_INVALID));
  tcf_model_free(&m);
  free(src);
}

Test(safetensors_parse, metadata_entries_and_header_section) {
  size_t n;
  uint8_t *src = fx_valid("metadata.safetensors", &n);
  tcf_model m;
  parse_ok(src, n, "metadata", &m);
  cr_assert_str_eq(m.format, "safetensors");
  cr_assert_eq(m.meta_count, 3);
  cr_assert_str_eq(m.meta_keys[0], "format");
  cr_assert_str_eq(m.meta_values[0], "pt");
  cr_assert_str_eq(tcf_model_find_meta(&m, "note"),
                   "line one\nline \"two\"\ttab \xc3\xa9\xe4\xb8\xad");
  cr_assert_str_eq(tcf_model_find_meta(&m, "empty"), "");
  const tcf_section *s = tcf_model_find_section(&m, TCF_ST_HEADER_SECTION);
  cr_assert_not_null(s);
  cr_assert_eq(s->size, 8 + tu_get64(src));
  cr_assert_arr_eq(s->data, src, s->size);
  tcf_model_free(&m);
  free(src);
}

Test(safetensors_parse, empty_tensor_and_scalar_shapes) {
  size_t n;
  uint8_t *src = fx_valid("empty_and_scalar.safetensors", &n);
  tcf_model m;
  parse_ok(src, n, "empty_and_scalar", &m);
  cr_assert_eq(m.ntensors, 4);
  cr_assert(m.tensors[0].ndim == 0 && m.tensors[0].nelem == 1 && m.tensors[0].size == 8);
  cr_assert(m.tensors[1].ndim == 1 && m.tensors[1].nelem == 0 && m.tensors[1].size == 0);
  cr_assert(m.tensors[2].ndim == 3 && m.tensors[2].nelem == 0 && m.tensors[2].shape[2] == 2);
  cr_assert_str_eq(m.tensors[3].name, "one");
  tcf_model_free(&m);
  free(src);
}

/* ---- the reference writer's layout --------------------------------------------- */

Test(safetensors_write, reference_layout_rebuilt_without_header_section) {
  size_t n;
  uint8_t *src = fx_valid("canonical.safetensors", &n);
  tcf_model m;
  parse_ok(src, n, "canonical", &m);
  tcf_model bare = without_sections(&m);
  tu_buf out = {0};
  write_ok(&bare, &out);
  cr_assert_eq(out.size, n);
  tu_assert_mem_eq(out.data, src, n, "reference layout");
  tu_buf_free(&out);
  tcf_model_free(&m);
  free(src);
}

Test(safetensors_write, reference_layout_of_every_fixture_reparses_equal) {
  for (size_t f = 0; f < NVALID; f++) {
    size_t n;
    uint8_t *src = fx_valid(valid_files[f], &n);
    tcf_model m, back;
    parse_ok(src, n, valid_files[f], &m);
    tcf_model bare = without_sections(&m);
    tu_buf out = {0};
    write_ok(&bare, &out);
    cr_assert_eq(tu_get64(out.data) % 8, 0, "header padded to 8");
    parse_ok(out.data, out.size, "rewritten", &back);
    expect_same_tensors(&m, &back);
    cr_assert_eq(back.meta_count, m.meta_count);
    for (size_t i = 0; i < back.ntensors; i++) /* each tensor aligned to its element */
      cr_assert_eq((size_t)(back.tensors[i].data - out.data) %
                       tcodec_dtype_size(back.tensors[i].dtype),
                   0, "%s in %s", back.tensors[i].name, valid_files[f]);
    tcf_model_free(&back);
    tcf_model_free(&m);
    tu_buf_free(&out);
    free(src);
  }
}

Test(safetensors_write, replaced_bytes_of_same_shape_go_out_under_original_header) {
  size_t n;
  uint8_t *src = fx_valid("metadata.safetensors", &n);
  tcf_model m;
  parse_ok(src, n, "metadata", &m);
  tcf_tensor *t = &m.tensors[0];
  t->owned = calloc(1, (size_t)t->size);
  t->data = t->owned;
  tu_buf out = {0};
  write_ok(&m, &out);
  cr_assert_eq(out.size, n);
  size_t at = (size_t)(8 + tu_get64(src));
  tu_assert_mem_eq(out.data, src, at, "header unchanged");
  cr_assert_eq(out.data[at], 0);
  tu_buf_free(&out);
  tcf_model_free(&m);
  free(src);
}

static void expect_write_error(tcf_model *m, int code, const char *needle) {
  tu_buf out = {0};
  tcf_error err;
  int rc = tcf_safetensors_write(m, tu_buf_write, &out, &err);
  cr_assert_eq(rc, code, "got %s (%s)", tcodec_strerror(rc), err.msg);
  cr_assert_eq(err.code, code);
  cr_assert_not_null(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
  tu_buf_free(&out);
}

Test(safetensors_write, tensor_changed_from_header_is_refused) {
  size_t n;
  uint8_t *src = fx_valid("metadata.safetensors", &n);
  tcf_model m;
  parse_ok(src, n, "metadata", &m);
  m.tensors[0].dtype = TCODEC_I32;
  expect_write_error(&m, TCODEC_E_PAYLOAD, "differs in dtype");
  m.tensors[0].dtype = TCODEC_F32;
  m.tensors[0].shape[0] = 3, m.tensors[0].shape[1] = 2;
  expect_write_error(&m, TCODEC_E_PAYLOAD, "differs in dtype, shape");
  m.tensors[0].shape[0] = 2, m.tensors[0].shape[1] = 3;
  free(m.tensors[1].name);
  m.tensors[1].name = tcf_strdup("renamed");
  expect_write_error(&m, TCODEC_E_PAYLOAD, "is not in the model");
  m.ntensors = 1;
  expect_write_error(&m, TCODEC_E_PAYLOAD, "is not in the model");
  m.ntensors = 2;
  tcf_model_free(&m);
  free(src);
}

Test(safetensors_write, unknown_dtype_and_duplicate_names_refused_without_header) {
  size_t n;
  uint8_t *src = fx_valid("metadata.safetensors", &n);
  tcf_model m;
  parse_ok(src, n, "metadata", &m);
  tcf_model bare = without_sections(&m);
  free(m.tensors[1].name);
  m.tensors[1].name = tcf_strdup(m.tensors[0].name);
  expect_write_error(&bare, TCODEC_E_PAYLOAD, "two tensors named");
  m.tensors[1].name[0] = 'x';
  m.tensors[1].dtype = 99;
  expect_write_error(&bare, TCODEC_E_UNSUPPORTED_DTYPE, "no safetensors name");
  tcf_model_free(&m);
  free(src);
}

/* A U8 tensor whose "safetensors.dtype"/"safetensors.shape" meta is wrong. */
static void expect_opaque_refused(tcf_model *bare, const char *dtype, const char *shape, int code,
                                  const char *needle) {
  tcf_tensor *t = &bare->tensors[0];
  for (size_t i = 0; i < t->meta_count; i++) {
    const char *v = strcmp(t->meta_keys[i], TCF_ST_DTYPE_META) == 0 ? dtype : shape;
    free(t->meta_values[i]);
    t->meta_values[i] = tcf_strdup(v);
  }
  expect_write_error(bare, code, needle);
}

Test(safetensors_write, malformed_opaque_meta_refused) {
  static const uint8_t bytes[3] = {1, 2, 3};
  tcf_model m;
  memset(&m, 0, sizeof(m));
  m.tensors = calloc(1, sizeof(tcf_tensor));
  m.ntensors = 1;
  tcf_tensor *t = &m.tensors[0];
  t->name = tcf_strdup("q");
  t->dtype = TCODEC_U8, t->ndim = 1, t->shape[0] = t->nelem = t->size = 3, t->data = bytes;
  cr_assert_eq(tcf_tensor_add_meta(t, TCF_ST_DTYPE_META, "F4"), 0);
  cr_assert_eq(tcf_tensor_add_meta(t, TCF_ST_SHAPE_META, "[2,3]"), 0);
  tu_buf out = {0};
  write_ok(&m, &out); /* the good one */
  tu_buf_free(&out);
  expect_opaque_refused(&m, "F7", "[2,3]", TCODEC_E_UNSUPPORTED_DTYPE, "'F7'");
  expect_opaque_refused(&m, "F32", "[2,3]", TCODEC_E_UNSUPPORTED_DTYPE, "'F32'");
  expect_opaque_refused(&m, "", "[2,3]", TCODEC_E_UNSUPPORTED_DTYPE, "is not a safetensors dtype");
  expect_opaque_refused(&m, "F4", "[2, 3]", TCODEC_E_PAYLOAD, "compact JSON");
  expect_opaque_refused(&m, "F4", "[2,03]", TCODEC_E_PAYLOAD, "compact JSON");
  expect_opaque_refused(&m, "F4", "[2,3", TCODEC_E_PAYLOAD, "compact JSON");
  expect_opaque_refused(&m, "F4", "[2,]", TCODEC_E_PAYLOAD, "compact JSON");
  expect_opaque_refused(&m, "F4", "[-2,3]", TCODEC_E_PAYLOAD, "compact JSON");
  expect_opaque_refused(&m, "F4", "[18446744073709551616]", TCODEC_E_PAYLOAD, "compact JSON");
  expect_opaque_refused(&m, "F4", "[3]", TCODEC_E_PAYLOAD, "does not fill");
  expect_opaque_refused(&m, "F4", "[4,2]", TCODEC_E_PAYLOAD, "does not fill");
  expect_opaque_refused(&m, "F4", "[4611686018427387904,2]", TCODEC_E_PAYLOAD, "does not fill");
  expect_opaque_refused(&m, "F6_E2M3", "[4]", 0, "");
  expect_opaque_refused(&m, "F8_E8M0", "[3]", 0, "");
  t->dtype = TCODEC_I8;
  expect_write_error(&m, TCODEC_E_PAYLOAD, "carried as U8");
  t->dtype = TCODEC_U8;
  t->shape[0] = 1, t->shape[1] = 3, t->ndim = 2;
  expect_write_error(&m, TCODEC_E_PAYLOAD, "carried as U8");
  t->shape[0] = 3, t->ndim = 1;
  /* a shape without a dtype is no safetensors tensor either */
  free(t->meta_keys[0]);
  t->meta_keys[0] = tcf_strdup("other");
  expect_write_error(&m, TCODEC_E_UNSUPPORTED_DTYPE, "(missing)");
  tcf_model_free(&m);
}

Test(safetensors_write, opaque_tensor_changed_from_header_is_refused) {
  size_t n;
  uint8_t *src = fx_valid("opaque_dtypes.safetensors", &n);
  tcf_model m;
  parse_ok(src, n, "opaque_dtypes", &m);
  tcf_tensor *t = &m.tensors[8]; /* q.f4, F4 [2,3] */
  cr_assert_str_eq(t->name, "q.f4");
  char **dt = &t->meta_values[0], **sh = &t->meta_values[1];
  free(*dt), *dt = tcf_strdup("F6_E2M3"); /* [2,3] x 6 bits is not 3 bytes */
  expect_write_error(&m, TCODEC_E_PAYLOAD, "differs in dtype");
  free(*sh), *sh = tcf_strdup("[4]"); /* the right size, but not the header's */
  expect_write_error(&m, TCODEC_E_PAYLOAD, "differs in dtype");
  free(*dt), *dt = tcf_strdup("F4");
  free(*sh), *sh = tcf_strdup("[3,2]");
  expect_write_error(&m, TCODEC_E_PAYLOAD, "differs in dtype, shape");
  free(*sh), *sh = tcf_strdup("[2,3]");
  tu_buf out = {0};
  write_ok(&m, &out);
  cr_assert_eq(out.size, n);
  tu_buf_free(&out);
  /* opaque meta on a tensor the header lists as a native dtype */
  cr_assert_eq(tcf_tensor_add_meta(&m.tensors[4], TCF_ST_DTYPE_META, "F8_E8M0"), 0);
  expect_write_error(&m, TCODEC_E_PAYLOAD, "differs in dtype");
  tcf_model_free(&m);
  free(src);
}

Test(safetensors_write, failing_sink_is_io_error) {
  size_t n;
  uint8_t *src = fx_valid("all_dtypes.safetensors", &n);
  tcf_model m;
  parse_ok(src, n, "all_dtypes", &m);
  tu_buf out = {0};
  out.fail_at = n / 2;
  tcf_error err;
  cr_assert_eq(tcf_safetensors_write(&m, tu_buf_write, &out, &err), TCODEC_E_IO);
  tu_buf_free(&out);
  tcf_model_free(&m);
  free(src);
}

/* ---- through a .tc container ------------------------------------------------------ */

Test(safetensors_container, every_fixture_comes_back_byte_identical) {
  for (size_t f = 0; f < NVALID; f++) {
    size_t n;
    uint8_t *src = fx_valid(valid_files[f], &n);
    tcf_model m, back;
    parse_ok(src, n, valid_files[f], &m);
    tu_buf tc = {0}, out = {0};
    tc_pack(&m, &tc);
    tc_unpack(&tc, &back);
    write_ok(&back, &out);
    cr_assert_eq(out.size, n, "%s", valid_files[f]);
    tu_assert_mem_eq(out.data, src, n, "%s through .tc", valid_files[f]);
    tu_buf_free(&tc);
    tu_buf_free(&out);
    tcf_model_free(&back);
    tcf_model_free(&m);
    free(src);
  }
}

/* ---- sharded checkpoints ------------------------------------------------------------ */

typedef struct shards {
  uint8_t *index, *shard[2];
  size_t index_size, size[2];
} shards;

static void shards_read(shards *s) {
  s->index = fx_read(FIXTURES "sharded/" INDEX_FILE, &s->index_size);
  for (int i = 0; i < 2; i++) {
    char rel[256];
    snprintf(rel, sizeof(rel), FIXTURES "sharded/%s", shard_files[i]);
    s->shard[i] = fx_read(rel, &s->size[i]);
  }
}

static void shards_free(shards *s) {
  free(s->index);
  free(s->shard[0]);
  free(s->shard[1]);
}

static void shards_load(const shards *s, tcf_model *m) {
  tcf_safetensors_index ix;
  tcf_error err;
  int rc = tcf_safetensors_shards_begin(m, s->index, s->index_size, INDEX_FILE, NULL, &ix, &err);
  cr_assert_eq(rc, 0, "%s", err.msg);
  cr_assert_eq(ix.nshards, 2);
  for (size_t i = 0; i < 2; i++) {
    cr_assert_str_eq(ix.shards[i], shard_files[i]);
    rc = tcf_safetensors_shards_add(m, &ix, i, s->shard[i], s->size[i], NULL, &err);
    cr_assert_eq(rc, 0, "%s: %s", err.file, err.msg);
  }
  cr_assert_eq(tcf_safetensors_shards_end(m, &ix, &err), 0, "%s", err.msg);
  tcf_safetensors_index_free(&ix);
}

static void shards_expect_written(const shards *s, const tcf_model *m) {
  tcf_safetensors_index ix;
  tcf_error err;
  tu_buf out = {0};
  cr_assert_eq(tcf_safetensors_model_index(m, &ix, &err), 0, "%s", err.msg);
  cr_assert_eq(tcf_safetensors_write_index(m, tu_buf_write, &out, &err), 0);
  cr_assert_eq(out.size, s->index_size);
  tu_assert_mem_eq(out.data, s->index, s->index_size, "index");
  for (size_t i = 0; i < ix.nshards; i++) {
    tu_buf_free(&out);
    int rc = tcf_safetensors_write_shard(m, ix.shards[i], tu_buf_write, &out, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(out.size, s->size[i]);
    tu_assert_mem_eq(out.data, s->shard[i], s->size[i], "%s", ix.shards[i]);
  }
  tu_buf_free(&out);
  tcf_safetensors_index_free(&ix);
}

Test(safetensors_sharded, merged_then_written_back_byte_identical) {
  shards s;
  tcf_model m;
  shards_read(&s);
  shards_load(&s, &m);
  cr_assert_eq(m.ntensors, 5);
  cr_assert_str_eq(tcf_tensor_find_meta(&m.tensors[0], TCF_ST_SHARD_META), shard_files[0]);
  cr_assert_str_eq(tcf_tensor_find_meta(&m.tensors[4], TCF_ST_SHARD_META), shard_files[1]);
  cr_assert_eq(m.meta_count, 1, "shared __metadata__ merged once");
  shards_expect_written(&s, &m);
  tcf_model_free(&m);
  shards_free(&s);
}

Test(safetensors_sharded, through_container_byte_identical) {
  shards s;
  tcf_model m, back;
  shards_read(&s);
  shards_load(&s, &m);
  tu_buf tc = {0};
  tc_pack(&m, &tc);
  tc_unpack(&tc, &back);
  shards_expect_written(&s, &back);
  tu_buf_free(&tc);
  tcf_model_free(&back);
  tcf_model_free(&m);
  shards_free(&s);
}

Test(safetensors_sharded, merged_model_writes_one_reference_file) {
  shards s;
  tcf_model m, one;
  shards_read(&s);
  shards_load(&s, &m);
  tu_buf out = {0};
  write_ok(&m, &out);
  parse_ok(out.data, out.size, "merged", &one);
  cr_assert_eq(one.ntensors, 5);
  expect_same_tensors(&m, &one);
  tcf_model_free(&one);
  tcf_model_free(&m);
  tu_buf_free(&out);
  shards_free(&s);
}

Test(safetensors_sharded, shard_mismatches_are_refused) {
  shards s;
  tcf_model m;
  tcf_safetensors_index ix;
  tcf_error err;
  shards_read(&s);
  cr_assert_eq(tcf_safetensors_shards_begin(&m, s.index, s.index_size, INDEX_FILE, NULL, &ix, &err),
               0);
  /* shard 2's bytes offered as shard 1: its tensors are mapped elsewhere */
  cr_assert_eq(tcf_safetensors_shards_add(&m, &ix, 0, s.shard[1], s.size[1], NULL, &err),
               TCODEC_E_PAYLOAD);
  cr_assert_not_null(strstr(err.msg, "mapped to another shard"), "%s", err.msg);
  cr_assert_eq(m.ntensors, 0, "model unchanged");
  cr_assert_eq(tcf_safetensors_shards_add(&m, &ix, 0, s.shard[0], s.size[0], NULL, &err), 0);
  cr_assert_eq(tcf_safetensors_shards_add(&m, &ix, 0, s.shard[0], s.size[0], NULL, &err),
               TCODEC_E_PAYLOAD);
  cr_assert_not_null(strstr(err.msg, "added twice"));
  cr_assert_eq(tcf_safetensors_shards_end(&m, &ix, &err), TCODEC_E_PAYLOAD);
  cr_assert_str_eq(err.file, shard_files[1]);
  cr_assert_eq(tcf_safetensors_write_shard(&m, "nope.safetensors", tu_buf_write, NULL, &err),
               TCODEC_E_NOT_FOUND);
  tcf_safetensors_index_free(&ix);
  tcf_model_free(&m);
  shards_free(&s);
}

Test(safetensors_sharded, index_lists_sorted_shards_and_names) {
  shards s;
  tcf_safetensors_index ix;
  tcf_error err;
  shards_read(&s);
  cr_assert_eq(tcf_safetensors_parse_index(s.index, s.index_size, INDEX_FILE, NULL, &ix, &err), 0);
  cr_assert_eq(ix.ntensors, 5);
  cr_assert_str_eq(ix.names[0], "lm_head.weight");
  cr_assert_eq(ix.shard_of[0], 1);
  cr_assert_str_eq(ix.names[1], "model.embed.weight");
  cr_assert_eq(ix.shard_of[1], 0);
  for (size_t i = 1; i < ix.ntensors; i++) cr_assert_lt(strcmp(ix.names[i - 1], ix.names[i]), 0);
  tcf_safetensors_index_free(&ix);
  shards_free(&s);
}

/* ---- hostile files: exact code and offset ------------------------------------------- */

static int is_index(const char *name) {
  size_t n = strlen(name);
  return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

/* Parse invalid/<name> (an index if it ends in .json) and return the error. */
static tcf_error parse_invalid(const char *name) {
  char rel[256];
  size_t n;
  snprintf(rel, sizeof(rel), FIXTURES "invalid/%s", name);
  uint8_t *src = fx_read(rel, &n);
  tcf_error err;
  int rc;
  if (is_index(name)) {
    tcf_safetensors_index ix;
    rc = tcf_safetensors_parse_index(src, n, name, NULL, &ix, &err);
    cr_assert(ix.nshards == 0 && ix.ntensors == 0, "index left empty");
  } else {
    tcf_model m;
    rc = tcf_safetensors_parse(src, n, name, NULL, &m, &err);
    cr_assert(m.ntensors == 0 && m.nsections == 0 && m.meta_count == 0, "model left empty");
  }
  cr_assert_neq(rc, 0, "%s was accepted", name);
  cr_assert_eq(rc, err.code);
  cr_assert_str_eq(err.file, name);
  cr_assert_eq(strchr(err.msg, '\n'), NULL, "one-line message");
  free(src);
  return err;
}

static void expect_error(const char *name, int code, uint64_t offset, const char *needle) {
  tcf_error err = parse_invalid(name);
  cr_assert_eq(err.code, code, "%s: got %s (%s), want %s", name, tcodec_strerror(err.code), err.msg,
               tcodec_strerror(code));
  cr_assert_eq(err.offset, offset, "%s: offset %llu, want %llu (%s)", name,
               (unsigned long long)err.offset, (unsigned long long)offset, err.msg);
  cr_assert_not_null(strstr(err.msg, needle), "%s: message '%s' lacks '%s'", name, err.msg, needle);
}

#define HOSTILE(test, file, code, offset, needle)                                                  \
  Test(safetensors_hostile, test) { expect_error(file, TCODEC_E_##code, offset, needle); }

HOSTILE(truncated_in_length_field, "truncated_length.safetensors", TRUNCATED, 5, "shorter than")
HOSTILE(truncated_in_header, "truncated_header.safetensors", TRUNCATED, 64, "runs past the end")
HOSTILE(truncated_in_data, "truncated_data.safetensors", TRUNCATED, 139, "describes 22 data bytes")
HOSTILE(header_length_past_end_of_file, "header_length_past_eof.safetensors", TRUNCATED, 100,
        "header length 4096")
HOSTILE(header_over_100mb, "header_too_large.safetensors", LIMIT, 0, "100000001")
HOSTILE(header_length_2_64_minus_1, "header_length_huge.safetensors", LIMIT, 0, "over the limit")
HOSTILE(header_not_json, "header_not_json.safetensors", PAYLOAD, 66, "not valid JSON")
HOSTILE(header_is_array, "header_not_object.safetensors", PAYLOAD, 8, "start with '{'")
HOSTILE(header_leading_space, "header_leading_space.safetensors", PAYLOAD, 8, "start with '{'")
HOSTILE(header_not_utf8, "header_not_utf8.safetensors", PAYLOAD, 66, "UTF-8")
HOSTILE(duplicate_keys, "duplicate_keys.safetensors", PAYLOAD, 68, "duplicate")
HOSTILE(overlapping_offsets, "overlap.safetensors", PAYLOAD, 128, "overlaps tensor 'a'")
HOSTILE(hole_between_tensors, "hole.safetensors", PAYLOAD, 136, "[16, 20)")
HOSTILE(offsets_past_end_of_file, "offsets_past_eof.safetensors", TRUNCATED, 158, "4000016")
HOSTILE(begin_after_end, "begin_after_end.safetensors", PAYLOAD, 65, "begin after end")
HOSTILE(shape_times_dtype_not_span, "shape_mismatch.safetensors", PAYLOAD, 136, "need 8 bytes")
HOSTILE(huge_dims_overflow, "huge_dims.safetensors", OVERFLOW, 65, "element count overflows")
HOSTILE(huge_byte_size_overflow, "huge_bytes.safetensors", OVERFLOW, 65, "byte size overflows")
HOSTILE(unknown_dtype, "unknown_dtype.safetensors", UNSUPPORTED_DTYPE, 65, "unknown dtype 'Q7'")
HOSTILE(unknown_dtype_f7, "unknown_dtype_f7.safetensors", UNSUPPORTED_DTYPE, 65,
        "unknown dtype 'F7'")
HOSTILE(f4_odd_element_count, "f4_odd_elements.safetensors", PAYLOAD, 136,
        "3 elements of F4 are 12 bits, not a whole number of bytes")
HOSTILE(f4_span_mismatch, "f4_span_mismatch.safetensors", PAYLOAD, 136,
        "4 elements of F4 need 2 bytes but data_offsets span 3")
HOSTILE(metadata_value_not_string, "metadata_not_string.safetensors", PAYLOAD, 39, "'n'")
HOSTILE(bytes_after_last_tensor, "trailing_bytes.safetensors", PAYLOAD, 142, "after the last")
HOSTILE(negative_offset, "negative_offset.safetensors", PAYLOAD, 65, "unsigned integers")
HOSTILE(more_than_32_dims, "too_many_dims.safetensors", LIMIT, 65, "33 dimensions")
HOSTILE(float_dimension, "float_dim.safetensors", PAYLOAD, 65, "not an unsigned integer")
HOSTILE(index_dotdot_shard, "index_dotdot.json", PAYLOAD, 98, "'..' component")
HOSTILE(index_absolute_shard, "index_absolute.json", PAYLOAD, 98, "absolute path")
HOSTILE(index_backslash_shard, "index_backslash.json", PAYLOAD, 98, "backslash")
HOSTILE(index_shard_not_string, "index_not_string.json", PAYLOAD, 54, "not a string")

/* Fuzzer find: jansson quotes the bad token, newline included, in its text. */
Test(safetensors_hostile, json_error_quoting_a_newline_stays_one_line) {
  static const char idx[] = "{\"weight_map\": {\"b\": \"sub\\\\..\\\n\"}}";
  static const uint8_t hdr[] = "\x0e\0\0\0\0\0\0\0{\"a\\\n\":1}\n    ";
  tcf_safetensors_index ix;
  tcf_model m;
  tcf_error err;
  cr_assert_eq(tcf_safetensors_parse_index((const uint8_t *)idx, strlen(idx), "i", NULL, &ix, &err),
               TCODEC_E_PAYLOAD);
  cr_assert_null(strchr(err.msg, '\n'), "%s", err.msg);
  cr_assert_eq(tcf_safetensors_parse(hdr, sizeof(hdr) - 1, "h", NULL, &m, &err), TCODEC_E_PAYLOAD);
  cr_assert_null(strchr(err.msg, '\n'), "%s", err.msg);
}

/* Every line of invalid/EXPECTED (the independent writer's own account of where
 * it put each flaw) matches, and every file there is listed. */
Test(safetensors_hostile, every_file_matches_the_writers_manifest) {
  static const struct {
    const char *name;
    int code;
  } codes[] = {{"TRUNCATED", TCODEC_E_TRUNCATED},
               {"LIMIT", TCODEC_E_LIMIT},
               {"PAYLOAD", TCODEC_E_PAYLOAD},
               {"OVERFLOW", TCODEC_E_OVERFLOW},
               {"UNSUPPORTED_DTYPE", TCODEC_E_UNSUPPORTED_DTYPE}};
  size_t n, listed = 0, files = 0;
  char *text = (char *)fx_read(FIXTURES "invalid/EXPECTED", &n);
  text = realloc(text, n + 1);
  text[n] = '\0';
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    char file[128], code[32];
    unsigned long long off;
    if (line[0] == '#') continue;
    cr_assert_eq(sscanf(line, "%127s %31s %llu", file, code, &off), 3, "%s", line);
    int want = 0;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
      if (strcmp(codes[i].name, code) == 0) want = codes[i].code;
    cr_assert_neq(want, 0, "%s", code);
    tcf_error err = parse_invalid(file);
    cr_assert(err.code == want && err.offset == off, "%s: got %s at %llu (%s), want %s at %llu",
              file, tcodec_strerror(err.code), (unsigned long long)err.offset, err.msg, code, off);
    listed++;
  }
  free(text);
  char *dir = tu_source_path(FIXTURES "invalid");
  DIR *d = opendir(dir);
  cr_assert_not_null(d);
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    files += e->d_name[0] != '.' && strcmp(e->d_name, "EXPECTED") != 0;
  closedir(d);
  free(dir);
  cr_assert_eq(listed, files, "EXPECTED lists %zu files, the folder has %zu", listed, files);
}

/* ---- limits and arguments ----------------------------------------------------------- */

Test(safetensors_limits, caller_limits_apply) {
  size_t n;
  uint8_t *src = fx_valid("all_dtypes.safetensors", &n);
  tcf_model m;
  tcf_error err;
  tcf_limits lim = {0, 15, 0};
  cr_assert_eq(tcf_safetensors_parse(src, n, "f", &lim, &m, &err), TCODEC_E_LIMIT);
  cr_assert_not_null(strstr(err.msg, "16 tensors"));
  lim = (tcf_limits){64, 0, 0};
  cr_assert_eq(tcf_safetensors_parse(src, n, "f", &lim, &m, &err), TCODEC_E_LIMIT);
  cr_assert_eq(err.offset, 0);
  lim = (tcf_limits){0, 0, n - 1};
  cr_assert_eq(tcf_safetensors_parse(src, n, "f", &lim, &m, &err), TCODEC_E_LIMIT);
  lim = (tcf_limits){0, 16, n};
  cr_assert_eq(tcf_safetensors_parse(src, n, "f", &lim, &m, &err), 0);
  tcf_model_free(&m);
  tcf_model_free(NULL);
  cr_assert_eq(tcf_safetensors_parse(NULL, 1, "f", NULL, &m, &err), TCODEC_E_ARG);
  cr_assert_eq(tcf_safetensors_parse(src, n, NULL, NULL, &m, NULL), 0, "err may be NULL");
  tcf_model_free(&m);
  free(src);
}

Test(safetensors_limits, shard_names_checked) {
  static const char *const bad[] = {"../x", "a/../x", "/abs",   "a//b", "a/",
                                    "./a",  "C:x",    "a\\\\b", "",     "a/.."};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char json[128];
    tcf_safetensors_index ix;
    tcf_error err;
    int len = snprintf(json, sizeof(json), "{\"weight_map\":{\"t\":\"%s\"}}", bad[i]);
    int rc = tcf_safetensors_parse_index((const uint8_t *)json, (size_t)len, "i", NULL, &ix, &err);
    cr_assert_eq(rc, TCODEC_E_PAYLOAD, "'%s' accepted", bad[i]);
    cr_assert_eq(err.offset, 15, "'%s': %s", bad[i], err.msg);
  }
  const char *ok = "{\"weight_map\":{\"t\":\"sub/dir/m.safetensors\"}}";
  tcf_safetensors_index ix;
  cr_assert_eq(tcf_safetensors_parse_index((const uint8_t *)ok, strlen(ok), "i", NULL, &ix, NULL),
               0);
  cr_assert_str_eq(ix.shards[0], "sub/dir/m.safetensors");
  tcf_safetensors_index_free(&ix);
}

/* ---- the fixtures are what the independent writer writes ----------------------------- */

static int same_file(const char *a, const char *b) {
  size_t na, nb;
  uint8_t *x = tu_read_file(a, &na), *y = tu_read_file(b, &nb);
  int same = x && y && na == nb && memcmp(x, y, na) == 0;
  free(x);
  free(y);
  return same;
}

static size_t compare_dir(const char *fresh, const char *committed, const char *sub) {
  char a[1024], b[1024];
  size_t count = 0;
  snprintf(a, sizeof(a), "%s/%s", fresh, sub);
  DIR *d = opendir(a);
  cr_assert_not_null(d, "%s", a);
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.') continue;
    snprintf(a, sizeof(a), "%s/%s/%s", fresh, sub, e->d_name);
    snprintf(b, sizeof(b), "%s/%s/%s", committed, sub, e->d_name);
    cr_assert(same_file(a, b), "%s/%s differs from the committed fixture", sub, e->d_name);
    count++;
  }
  closedir(d);
  return count;
}

Test(safetensors_fixtures, writer_script_regenerates_identical_bytes) {
  if (system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0)
    cr_skip_test("/usr/bin/python3 with numpy is not installed");
  char tmp[] = "/tmp/tcodec-st-XXXXXX", cmd[2048];
  cr_assert_not_null(mkdtemp(tmp));
  char *script = tu_source_path("scripts/make-safetensors-fixtures.py");
  char *committed = tu_source_path(FIXTURES);
  snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' '%s'", script, tmp);
  cr_assert_eq(system(cmd), 0, "%s", cmd);
  size_t n = compare_dir(tmp, committed, "valid") + compare_dir(tmp, committed, "sharded") +
             compare_dir(tmp, committed, "invalid");
  cr_assert_gt(n, 30);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
  cr_assert_eq(system(cmd), 0);
  free(script);
  free(committed);
}
