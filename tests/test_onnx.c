/* ONNX module (formats/onnx.h): fixtures written by python3-onnx (scripts/make-onnx-fixtures.py)
 * come back byte-identical, directly and through a .tc container; tensors, names, paths and
 * consumers are the expected ones; changed values are re-encoded (varint fields and the
 * length prefixes around them) into a model python-onnx reads back; hostile models fail with
 * their exact error and offset; external data is read and written under the model's folder
 * only; truncations and bit flips never crash and never break the round trip. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "onnx.h"
#include "support/testutil.h"

#define FIX "tests/fixtures/onnx/"

static const char *const valid_fixtures[] = {"dtypes.onnx", "constants.onnx", "control_flow.onnx",
                                             "handmade.onnx", "hostile/deep_ok.onnx"};
#define NVALID (sizeof(valid_fixtures) / sizeof(valid_fixtures[0]))

/* ---- helpers --------------------------------------------------------------------------------- */

static uint8_t *load(const char *rel, size_t *n) {
  char *path = tu_source_path(rel);
  uint8_t *p = tu_read_file(path, n);
  cr_assert_not_null(p, "cannot read %s", path);
  free(path);
  return p;
}

static int parse_in(const char *dir_rel, const uint8_t *src, size_t n, tcf_model *m, tcf_error *e) {
  if (dir_rel == NULL) return tcf_onnx_parse(src, n, "model.onnx", NULL, NULL, m, e);
  char *dir = tu_source_path(dir_rel);
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  cr_assert_geq(fd, 0, "%s", dir);
  tcf_onnx_external ext;
  tcf_onnx_external_dir(&ext, &fd);
  int rc = tcf_onnx_parse(src, n, "model.onnx", &ext, NULL, m, e);
  close(fd);
  free(dir);
  return rc;
}

static void parse_ok(const uint8_t *src, size_t n, tcf_model *m, const char *what) {
  tcf_error e;
  int rc = tcf_onnx_parse(src, n, what, NULL, NULL, m, &e);
  cr_assert_eq(rc, 0, "%s: %d at %llu: %s", what, rc, (unsigned long long)e.offset, e.msg);
}

static void write_ok(const tcf_model *m, tu_buf *out, const char *what) {
  tcf_error e;
  memset(out, 0, sizeof(*out));
  int rc = tcf_onnx_write(m, tu_buf_write, out, &e);
  cr_assert_eq(rc, 0, "%s: write %d: %s", what, rc, e.msg);
}

static void assert_same(const tu_buf *b, const uint8_t *src, size_t n, const char *what) {
  cr_assert_eq(b->size, n, "%s: %zu bytes back, %zu in", what, b->size, n);
  tu_assert_mem_eq(b->data, src, n, "%s", what);
}

static const tcf_tensor *find(const tcf_model *m, const char *name) {
  for (size_t i = 0; i < m->ntensors; i++)
    if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
  cr_assert_fail("no tensor '%s'", name);
  return NULL;
}

static tcf_tensor *find_mut(tcf_model *m, const char *name) {
  return (tcf_tensor *)(uintptr_t)find(m, name);
}

static void expect_tensor(const tcf_model *m, const char *name, int dtype, unsigned ndim,
                          const void *bytes, size_t size) {
  const tcf_tensor *t = find(m, name);
  cr_assert_eq(t->dtype, dtype, "%s: dtype %d", name, t->dtype);
  cr_assert_eq(t->ndim, ndim, "%s: ndim %u", name, t->ndim);
  cr_assert_eq(t->size, size, "%s: size %llu", name, (unsigned long long)t->size);
  tu_assert_mem_eq(t->data, bytes, size, "%s", name);
}

static void expect_site(const tcf_model *m, const char *name, const char *path, const char *op,
                        int input) {
  const tcf_tensor *t = find(m, name);
  const char *p = tcf_tensor_find_meta(t, "onnx.path");
  cr_assert_str_eq(p ? p : "", path, "%s: path", name);
  cr_assert_str_eq(t->consumer_op, op, "%s: consumer '%s'", name, t->consumer_op);
  cr_assert_eq(t->consumer_input, input, "%s: consumer input %d", name, t->consumer_input);
}

/* Pack every tensor, the metadata and the skeleton into a .tc file (lossless). */
static void to_tc(const tcf_model *m, tu_buf *tc) {
  tcodec_writer *w = tu_writer_begin(tc);
  for (size_t i = 0; i < m->meta_count; i++)
    cr_assert_eq(tcodec_writer_set_meta(w, m->meta_keys[i], m->meta_values[i]), 0);
  for (size_t i = 0; i < m->ntensors; i++) {
    const tcf_tensor *t = &m->tensors[i];
    tcodec_tensor_desc d = {t->name,
                            t->dtype,
                            t->ndim,
                            t->shape,
                            (const char *const *)t->meta_keys,
                            (const char *const *)t->meta_values,
                            t->meta_count};
    cr_assert_eq(tcodec_writer_add_raw(w, &d, t->data, (size_t)t->size), 0, "%s: %s", t->name,
                 tcodec_writer_error_message(w));
  }
  for (size_t i = 0; i < m->nsections; i++)
    cr_assert_eq(tcodec_writer_add_section(w, m->sections[i].type, 0, m->sections[i].data,
                                           m->sections[i].size),
                 0);
  tu_writer_finish(w);
}

/* Read a .tc file back into a model (tensors decoded to their original dtype). */
static void from_tc(const tu_buf *tc, tcf_model *m) {
  tcodec_reader *r = tu_reader_open(tc);
  memset(m, 0, sizeof(*m));
  size_t n = tu_reader_count(r), ns = 0;
  m->tensors = calloc(n + 1, sizeof(tcf_tensor));
  cr_assert_not_null(m->tensors);
  for (size_t i = 0; i < n; i++, m->ntensors++) {
    tcodec_tensor_info info = tu_info(r, i);
    tcf_tensor *t = &m->tensors[i];
    t->name = strdup(info.name);
    t->dtype = info.dtype;
    t->ndim = info.ndim;
    memcpy(t->shape, info.shape, info.ndim * sizeof(uint64_t));
    t->nelem = info.nelem;
    t->owned = tu_decode(r, i, TCODEC_OUT_ORIGINAL, &t->size);
    t->data = t->owned;
    for (size_t k = 0; k < info.meta_count; k++) {
      const char *key, *value;
      cr_assert_eq(tcodec_reader_tensor_meta(r, i, k, &key, &value), 0);
      cr_assert_eq(tcf_tensor_add_meta(t, key, value), 0);
    }
  }
  cr_assert_eq(tcodec_reader_section_count(r, &ns), 0);
  for (size_t i = 0; i < ns; i++) {
    const char *type;
    int critical;
    uint64_t size;
    cr_assert_eq(tcodec_reader_section_info(r, i, &type, &critical, &size), 0);
    uint8_t *buf = malloc(size ? size : 1);
    cr_assert_eq(tcodec_reader_section_read(r, i, buf, size), 0);
    cr_assert_eq(tcf_model_add_section(m, type, buf, size), 0);
    free(buf);
  }
  tcodec_reader_free(r);
}

static void roundtrip(const char *rel) {
  size_t n;
  uint8_t *src = load(rel, &n);
  tcf_model m, back;
  tu_buf out, tc = {NULL, 0, 0, 0};
  parse_ok(src, n, &m, rel);
  write_ok(&m, &out, rel);
  assert_same(&out, src, n, rel);
  tu_buf_free(&out);
  to_tc(&m, &tc);
  from_tc(&tc, &back);
  cr_assert_eq(back.ntensors, m.ntensors);
  write_ok(&back, &out, rel);
  assert_same(&out, src, n, rel);
  tu_buf_free(&out);
  tu_buf_free(&tc);
  tcf_model_free(&back);
  tcf_model_free(&m);
  free(src);
}

static int have_python_onnx(void) {
  return system("/usr/bin/python3 -c 'import onnx, numpy' >/dev/null 2>&1") == 0;
}

static void save(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f, "%s", path);
  cr_assert_eq(fwrite(p, 1, n, f), n);
  fclose(f);
}

static void rm_rf(const char *dir) {
  char cmd[1200];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

/* ---- round trips ----------------------------------------------------------------------------- */

Test(onnx, valid_fixtures_come_back_byte_identical) {
  char rel[256];
  for (size_t i = 0; i < NVALID; i++) {
    snprintf(rel, sizeof(rel), FIX "%s", valid_fixtures[i]);
    roundtrip(rel);
  }
}

Test(onnx, external_data_is_read_and_written_back) {
  size_t n, wn;
  uint8_t *src = load(FIX "external/model.onnx", &n),
          *weights = load(FIX "external/weights.bin", &wn);
  tcf_model m, back;
  tcf_error e;
  int rc = parse_in(FIX "external", src, n, &m, &e);
  cr_assert_eq(rc, 0, "%d: %s", rc, e.msg);
  const tcf_tensor *a = find(&m, "ext_a");
  cr_assert_eq(a->nelem, 16);
  cr_assert_str_eq(tcf_tensor_find_meta(a, "onnx.field"), "external_data");
  uint64_t i64[2] = {4, 4};
  expect_tensor(&m, "inline_i64", TCODEC_I64, 1, i64, sizeof(i64));
  tu_buf out = {NULL, 0, 0, 0}, tc = {NULL, 0, 0, 0};
  cr_assert_eq(tcf_onnx_write(&m, tu_buf_write, &out, &e), TCODEC_E_UNSUPPORTED_FEATURE);
  to_tc(&m, &tc);
  from_tc(&tc, &back);
  char tmp[] = "/tmp/tcodec-onnx-XXXXXX", path[300];
  cr_assert_not_null(mkdtemp(tmp));
  int fd = open(tmp, O_RDONLY | O_DIRECTORY);
  tcf_onnx_sink sink;
  tcf_onnx_sink_dir(&sink, &fd);
  tu_buf_free(&out);
  rc = tcf_onnx_write_ext(&back, tu_buf_write, &out, &sink, &e);
  cr_assert_eq(rc, 0, "%d: %s", rc, e.msg);
  assert_same(&out, src, n, "model");
  size_t got_n;
  snprintf(path, sizeof(path), "%s/weights.bin", tmp);
  uint8_t *got = tu_read_file(path, &got_n);
  cr_assert_not_null(got);
  cr_assert_eq(got_n, wn);
  tu_assert_mem_eq(got, weights, wn, "weights.bin");
  close(fd);
  rm_rf(tmp);
  free(got);
  tu_buf_free(&out);
  tu_buf_free(&tc);
  tcf_model_free(&m);
  tcf_model_free(&back);
  free(src);
  free(weights);
}

/* ---- what comes out -------------------------------------------------------------------------- */

Test(onnx, every_dtype_and_typed_field) {
  size_t n;
  uint8_t *src = load(FIX "dtypes.onnx", &n);
  tcf_model m;
  parse_ok(src, n, &m, "dtypes");
  cr_assert_eq(m.ntensors, 17); /* 20 initializers: a string and a complex64 kept, one empty */
  const int8_t i8[] = {0, -128, 127, -1};
  const uint8_t u8[] = {0, 128, 255}, b[] = {1, 0, 0, 1};
  const int16_t i16[] = {-32768, 300};
  const uint16_t u16[] = {65535, 7}, f16[] = {0x3C00, 0xC100, 0x1400},
                 bf16[] = {0x3F80, 0xC040, 0x3E20};
  const int32_t i32[] = {1, -1, INT32_MAX, INT32_MIN};
  const int64_t i64[] = {0, -1, (int64_t)1 << 62, INT64_MIN};
  const uint32_t u32[] = {UINT32_MAX, 5};
  const uint64_t u64[] = {UINT64_MAX, ((uint64_t)1 << 63) + 1};
  const double f64[] = {3.141592653589793, -1e300};
  const float f32[] = {0.5f, -1.25f, 3.0e-8f, 65504.0f}, scalar = 42.0f;
  expect_tensor(&m, "w_i8", TCODEC_I8, 1, i8, sizeof(i8));
  expect_tensor(&m, "w_u8", TCODEC_U8, 1, u8, sizeof(u8));
  expect_tensor(&m, "w_bool", TCODEC_BOOL, 1, b, sizeof(b));
  expect_tensor(&m, "w_i16", TCODEC_I16, 1, i16, sizeof(i16));
  expect_tensor(&m, "w_u16", TCODEC_U16, 1, u16, sizeof(u16));
  expect_tensor(&m, "w_f16_i32", TCODEC_F16, 1, f16, sizeof(f16));
  expect_tensor(&m, "w_bf16_i32", TCODEC_BF16, 1, bf16, sizeof(bf16));
  expect_tensor(&m, "w_i32", TCODEC_I32, 1, i32, sizeof(i32));
  expect_tensor(&m, "w_i64", TCODEC_I64, 1, i64, sizeof(i64));
  expect_tensor(&m, "w_u32", TCODEC_U32, 1, u32, sizeof(u32));
  expect_tensor(&m, "w_u64", TCODEC_U64, 1, u64, sizeof(u64));
  expect_tensor(&m, "w_f64", TCODEC_F64, 1, f64, sizeof(f64));
  expect_tensor(&m, "w_f32_data", TCODEC_F32, 1, f32, sizeof(f32));
  expect_tensor(&m, "w_scalar", TCODEC_F32, 0, &scalar, sizeof(scalar));
  const tcf_tensor *raw = find(&m, "w_f32_raw");
  cr_assert(raw->owned == NULL && raw->data > src && raw->data < src + n,
            "raw_data is borrowed from the model");
  cr_assert_eq(raw->shape[0] * 10 + raw->shape[1], 23);
  cr_assert_str_eq(tcf_tensor_find_meta(find(&m, "w_i8"), "onnx.field"), "int32_data");
  cr_assert_str_eq(tcf_tensor_find_meta(find(&m, "w_i8"), "onnx.path"), "graph.initializer[8]");
  expect_site(&m, "w_f32_raw", "graph.initializer[0]", "Add", 1);
  expect_site(&m, "w_i64", "graph.initializer[6]", "", -1);
  cr_assert_str_eq(tcf_model_find_meta(&m, "onnx.kept_count"), "2");
  cr_assert_str_eq(tcf_model_find_meta(&m, "onnx.kept"),
                   "graph.initializer[16]: data type 8 not carried; graph.initializer[17]: data "
                   "type 14 not carried");
  cr_assert_str_eq(tcf_model_find_meta(&m, "onnx.metadata_props.author"), "tcodec tests");
  cr_assert_str_eq(tcf_model_find_meta(&m, "onnx.producer_name"), "make-onnx-fixtures");
  cr_assert_str_eq(tcf_model_find_meta(&m, "onnx.opset_import"), "ai.onnx:13");
  cr_assert_str_eq(m.format, "onnx");
  cr_assert_eq(m.nsections, 1);
  cr_assert_str_eq(m.sections[0].type, TCF_ONNX_SECTION);
  tcf_model_free(&m);
  free(src);
}

Test(onnx, constants_and_their_scalar_forms) {
  size_t n;
  uint8_t *src = load(FIX "constants.onnx", &n);
  tcf_model m;
  parse_ok(src, n, &m, "constants");
  cr_assert_eq(m.ntensors, 9);
  const float vf = 1.5f, vfs[] = {1.0f, 2.0f, -3.5f}, fill = 0.75f;
  const int64_t vi = 7, vineg = -1, vis[] = {1, -2, 300}, shape[] = {1, 2, 2};
  expect_tensor(&m, "c_vf", TCODEC_F32, 0, &vf, sizeof(vf));
  expect_tensor(&m, "c_vfs", TCODEC_F32, 1, vfs, sizeof(vfs));
  expect_tensor(&m, "c_vi", TCODEC_I64, 0, &vi, sizeof(vi));
  expect_tensor(&m, "c_vineg", TCODEC_I64, 0, &vineg, sizeof(vineg));
  expect_tensor(&m, "c_vis", TCODEC_I64, 1, vis, sizeof(vis));
  expect_tensor(&m, "c_shape", TCODEC_I64, 1, shape, sizeof(shape));
  expect_site(&m, "c_raw", "graph.node[0]('const_raw').attribute['value']", "Add", 1);
  expect_site(&m, "c_vf", "graph.node[2].attribute['value_float']", "Mul", 1);
  expect_site(&m, "c_shape", "graph.node[1].attribute['value']", "ConstantOfShape", 0);
  expect_site(&m, "c_vi", "graph.node[4].attribute['value_int']", "", -1);
  /* ConstantOfShape's value tensors have no name: named after their path, consumed by their node */
  const char *fill_name = "graph.node[9]('fill').attribute['value']";
  expect_tensor(&m, fill_name, TCODEC_F32, 1, &fill, sizeof(fill));
  expect_site(&m, fill_name, fill_name, "ConstantOfShape", -1);
  find(&m, "graph.node[10]('fill2').attribute['value']");
  tcf_model_free(&m);
  free(src);
}

Test(onnx, subgraphs_at_any_depth) {
  size_t n;
  uint8_t *src = load(FIX "control_flow.onnx", &n);
  tcf_model m;
  parse_ok(src, n, &m, "control_flow");
  cr_assert_eq(m.ntensors, 7);
  const char *br = "graph.node[0]('branch')"; /* python-onnx writes attributes sorted by name */
  char p[256];
  snprintf(p, sizeof(p), "%s.attribute['else_branch'].g.node[0].attribute['value']", br);
  expect_site(&m, "k", p, "Add", 1);
  snprintf(p, sizeof(p),
           "%s.attribute['else_branch'].g.node[2].attribute['else_branch'].g.initializer[0]", br);
  expect_site(&m, "v", p, "Identity", 0);
  snprintf(p, sizeof(p),
           "%s.attribute['else_branch'].g.node[2].attribute['then_branch'].g.initializer[0]", br);
  expect_site(&m, "v#2", p, "Identity", 0); /* the same name again: "#<tensor index>" */
  snprintf(p, sizeof(p), "%s.attribute['else_branch'].g.initializer[0]", br);
  expect_site(&m, "w", p, "Mul", 1);
  snprintf(p, sizeof(p), "%s.attribute['then_branch'].g.initializer[0]", br);
  expect_site(&m, "w#4", p, "Add", 1);
  expect_site(&m, "step", "graph.node[1]('loop').attribute['body'].g.node[0].attribute['value']",
              "Add", 1);
  expect_site(&m, "trips", "graph.initializer[0]", "Loop", 0);
  tcf_model_free(&m);
  free(src);
}

Test(onnx, wire_details_python_never_writes) {
  size_t n;
  uint8_t *src = load(FIX "handmade.onnx", &n);
  tcf_model m;
  parse_ok(src, n, &m, "handmade");
  cr_assert_eq(m.ntensors, 4);
  cr_assert_str_eq(tcf_model_find_meta(&m, "onnx.kept"),
                   "graph.initializer[0]: varints not in canonical form or out of range");
  const int64_t unpacked[] = {5, -6, (int64_t)1 << 40};
  const float chunks[] = {1, 2, 3}, padded[] = {7, 8};
  expect_tensor(&m, "unpacked", TCODEC_I64, 1, unpacked, sizeof(unpacked));
  expect_tensor(&m, "chunks", TCODEC_F32, 1, chunks, sizeof(chunks));
  expect_tensor(&m, "padded", TCODEC_F32, 1, padded, sizeof(padded));
  tcf_model_free(&m);
  free(src);
}

/* New values of other varint sizes: the packed fields and every length prefix around them
 * are re-encoded; fixed-width fields keep their layout. The result must parse back to the
 * new values, here and in python-onnx. */
Test(onnx, changed_values_are_reencoded) {
  static const char *const files[] = {"handmade.onnx", "dtypes.onnx", "constants.onnx"};
  char tmp[] = "/tmp/tcodec-onnx-XXXXXX", path[300];
  cr_assert_not_null(mkdtemp(tmp));
  for (size_t f = 0; f < 3; f++) {
    char rel[64];
    size_t n;
    snprintf(rel, sizeof(rel), FIX "%s", files[f]);
    uint8_t *src = load(rel, &n);
    tcf_model m, again;
    parse_ok(src, n, &m, rel);
    uint8_t *vals[64] = {NULL};
    for (size_t i = 0; i < m.ntensors && i < 64;
         i++) { /* value k becomes k * 1000 + 3 (ints), -x (floats) */
      tcf_tensor *t = &m.tensors[i];
      vals[i] = malloc(t->size ? t->size : 1);
      memcpy(vals[i], t->data, t->size);
      for (uint64_t k = 0; k < t->nelem; k++) {
        if (t->dtype == TCODEC_I64) tu_put64(vals[i] + 8 * k, tu_get64(vals[i] + 8 * k) * 1000 + 3);
        if (t->dtype == TCODEC_I32) tu_put32(vals[i] + 4 * k, (uint32_t)(k * 70000 + 1));
        if (t->dtype == TCODEC_F32) vals[i][4 * k + 3] ^= 0x80;
      }
      free(t->owned);
      t->owned = vals[i];
      t->data = vals[i];
    }
    tu_buf out;
    write_ok(&m, &out, rel);
    parse_ok(out.data, out.size, &again, "rebuilt");
    cr_assert_eq(again.ntensors, m.ntensors);
    for (size_t i = 0; i < m.ntensors; i++)
      expect_tensor(&again, m.tensors[i].name, m.tensors[i].dtype, m.tensors[i].ndim,
                    m.tensors[i].data, m.tensors[i].size);
    snprintf(path, sizeof(path), "%s/%s", tmp, files[f]);
    save(path, out.data, out.size);
    tcf_model_free(&again);
    tcf_model_free(&m);
    tu_buf_free(&out);
    free(src);
  }
  if (have_python_onnx()) { /* independent reader: the same values, and a valid model */
    char cmd[1024];
    snprintf(
        cmd, sizeof(cmd),
        "/usr/bin/python3 -c \"import onnx, sys; from onnx import numpy_helper as h; "
        "m = onnx.load('%s/handmade.onnx'); onnx.checker.check_model(m); "
        "t = {i.name: h.to_array(i).tolist() for i in m.graph.initializer if i.name != "
        "'noncanonical'}; "
        "sys.exit(t != {'unpacked': [5003, -5997, 1099511627776003], 'chunks': [-1.0, -2.0, -3.0], "
        "'padded': [-7.0, -8.0], 'int32_pos': [1, 70001]})\"",
        tmp);
    cr_assert_eq(system(cmd), 0, "python-onnx does not read the re-encoded model as expected");
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 -c \"import onnx; [onnx.checker.check_model(onnx.load('%s/' + f)) "
             "for f in ('dtypes.onnx', 'constants.onnx')]\"",
             tmp);
    cr_assert_eq(system(cmd), 0, "python-onnx's checker refuses a re-encoded model");
  }
  rm_rf(tmp);
}

/* ---- hostile models -------------------------------------------------------------------------- */

typedef struct hostile_case {
  const char *file;
  int with_folder; /* external data resolved in the fixture folder */
  int code;
  uint64_t offset;
  const char *msg;
} hostile_case;

static const hostile_case hostile_cases[] = {
    {"truncated.onnx", 0, TCODEC_E_TRUNCATED, 74, "runs past the end"},
    {"bad_varint.onnx", 0, TCODEC_E_PAYLOAD, 1, "varint longer than 10 bytes"},
    {"length_past_end.onnx", 0, TCODEC_E_PAYLOAD, 8,
     "graph: length-delimited field runs past the end of its message"},
    {"group.onnx", 0, TCODEC_E_UNSUPPORTED_FEATURE, 2, "groups"},
    {"raw_size.onnx", 0, TCODEC_E_PAYLOAD, 16,
     "graph.initializer[0]: raw_data holds 16 bytes, dims x dtype size = 12"},
    {"deep.onnx", 0, TCODEC_E_LIMIT, 3329, "subgraphs nested deeper than 64"},
    {"ext_ok.onnx", 0, TCODEC_E_UNSUPPORTED_FEATURE, 7, "external data, and no folder"},
    {"ext_dotdot.onnx", 1, TCODEC_E_PAYLOAD, 7, "location has a '..' component"},
    {"ext_absolute.onnx", 1, TCODEC_E_PAYLOAD, 7, "location is an absolute path"},
    {"ext_past_eof.onnx", 1, TCODEC_E_TRUNCATED, 7, "offset 8 + length 16 past its end (20 bytes)"},
    {"ext_length.onnx", 1, TCODEC_E_PAYLOAD, 7, "external data length 12, dims x dtype size = 16"},
};

Test(onnx, hostile_models_fail_with_their_exact_error) {
  for (size_t i = 0; i < sizeof(hostile_cases) / sizeof(hostile_cases[0]); i++) {
    const hostile_case *c = &hostile_cases[i];
    char rel[128];
    size_t n;
    snprintf(rel, sizeof(rel), FIX "hostile/%s", c->file);
    uint8_t *src = load(rel, &n);
    tcf_model m;
    tcf_error e;
    int rc = parse_in(c->with_folder ? FIX "hostile" : NULL, src, n, &m, &e);
    cr_expect_eq(rc, c->code, "%s: status %d (%s), want %d", c->file, rc, e.msg, c->code);
    cr_expect_eq(e.code, c->code, "%s", c->file);
    cr_expect_eq(e.offset, c->offset, "%s: offset %llu, want %llu", c->file,
                 (unsigned long long)e.offset, (unsigned long long)c->offset);
    cr_expect(strstr(e.msg, c->msg) != NULL, "%s: message '%s'", c->file, e.msg);
    cr_expect_str_eq(e.file, "model.onnx");
    cr_expect_eq(m.ntensors, 0, "%s: nothing left after a failure", c->file);
    tcf_model_free(&m);
    free(src);
  }
}

Test(onnx, external_data_in_the_folder_is_read) {
  size_t n;
  uint8_t *src = load(FIX "hostile/ext_ok.onnx", &n);
  tcf_model m;
  tcf_error e;
  cr_assert_eq(parse_in(FIX "hostile", src, n, &m, &e), 0, "%s", e.msg);
  const uint8_t want[16] = {4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
  expect_tensor(&m, "w", TCODEC_F32, 1, want, sizeof(want));
  tcf_model_free(&m);
  free(src);
}

static size_t put_varint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  for (; v >= 0x80; v >>= 7) p[n++] = (uint8_t)(v | 0x80);
  p[n++] = (uint8_t)v;
  return n;
}

static size_t put_bytes(uint8_t *p, unsigned num, const void *s, size_t len) {
  size_t n = put_varint(p, num << 3 | 2);
  n += put_varint(p + n, len);
  memcpy(p + n, s, len);
  return n + len;
}

/* A model with one initializer float[4] whose data is at `location` (offset 0). */
static size_t ext_model(uint8_t *out, const char *location) {
  uint8_t t[256], e[128], g[300];
  size_t en = put_bytes(e, 1, "location", 8);
  en += put_bytes(e + en, 2, location, strlen(location));
  size_t tn = 0;
  t[tn++] = 0x08, t[tn++] = 4, t[tn++] = 0x10, t[tn++] = 1; /* dims 4, FLOAT */
  tn += put_bytes(t + tn, 8, "w", 1);
  tn += put_bytes(t + tn, 13, e, en);
  t[tn++] = 0x70, t[tn++] = 1; /* data_location EXTERNAL */
  size_t gn = put_bytes(g, 5, t, tn), n = 0;
  out[n++] = 0x08, out[n++] = 8;
  return n + put_bytes(out + n, 7, g, gn);
}

Test(onnx, symlinks_are_refused_anywhere_in_the_path) {
  char tmp[] = "/tmp/tcodec-onnx-XXXXXX", a[400], b[400];
  cr_assert_not_null(mkdtemp(tmp));
  char *real = tu_source_path(FIX "hostile/weights.bin");
  snprintf(a, sizeof(a), "%s/real", tmp);
  cr_assert_eq(mkdir(a, 0755), 0);
  snprintf(a, sizeof(a), "%s/real/weights.bin", tmp);
  size_t wn;
  uint8_t *w = load(FIX "hostile/weights.bin", &wn);
  save(a, w, wn);
  snprintf(a, sizeof(a), "%s/link.bin", tmp);
  cr_assert_eq(symlink(real, a), 0);
  snprintf(a, sizeof(a), "%s/linkdir", tmp);
  snprintf(b, sizeof(b), "%s/real", tmp);
  cr_assert_eq(symlink(b, a), 0);
  static const struct {
    const char *location;
    int code;
    const char *msg;
  } cases[] = {{"real/weights.bin", 0, ""},
               {"link.bin", TCODEC_E_IO, "'link.bin' is a symbolic link (refused)"},
               {"linkdir/weights.bin", TCODEC_E_IO, "'linkdir' is a symbolic link (refused)"},
               {"./real//weights.bin", 0, ""},
               {"missing.bin", TCODEC_E_IO, "No such file"},
               {"real", TCODEC_E_IO, "is not a regular file"}};
  int fd = open(tmp, O_RDONLY | O_DIRECTORY);
  tcf_onnx_external ext;
  tcf_onnx_external_dir(&ext, &fd);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint8_t model[512];
    size_t n = ext_model(model, cases[i].location);
    tcf_model m;
    tcf_error e;
    int rc = tcf_onnx_parse(model, n, "model.onnx", &ext, NULL, &m, &e);
    cr_expect_eq(rc, cases[i].code, "%s: %d %s", cases[i].location, rc, e.msg);
    cr_expect(strstr(e.msg, cases[i].msg) != NULL, "%s: '%s'", cases[i].location, e.msg);
    if (rc == 0) cr_expect_eq(m.ntensors, 1);
    tcf_model_free(&m);
  }
  close(fd);
  rm_rf(tmp);
  free(real);
  free(w);
}

/* Regression: an attribute holding both a list form and a tensor (ints before t) gave holes
 * out of file order, which the writer rightly refused; holes are now sorted at the end. */
Test(onnx, holes_found_out_of_order_are_sorted) {
  uint8_t attr[128], node[160], graph[200], model[256];
  const uint8_t ints[] = {0xAC, 0x02, 0x05}, i64[] = {0xE8, 0x07, 0x02};
  uint8_t t[32];
  size_t tn = 0;
  t[tn++] = 0x08, t[tn++] = 2, t[tn++] = 0x10, t[tn++] = 7; /* dims 2, INT64 */
  tn += put_bytes(t + tn, 7, i64, sizeof(i64));
  size_t an = put_bytes(attr, 1, "value_ints", 10);
  an += put_bytes(attr + an, 8, ints, sizeof(ints));
  an += put_bytes(attr + an, 5, t, tn);
  size_t nn = put_bytes(node, 2, "c", 1);
  nn += put_bytes(node + nn, 4, "Constant", 8);
  nn += put_bytes(node + nn, 5, attr, an);
  size_t gn = put_bytes(graph, 1, node, nn), n = 0;
  model[n++] = 0x08, model[n++] = 8;
  n += put_bytes(model + n, 7, graph, gn);
  tcf_model m, again;
  parse_ok(model, n, &m, "handmade");
  cr_assert_eq(m.ntensors, 2);
  const int64_t list[] = {300, 5}, tensor[] = {1000, 2};
  expect_tensor(&m, "c", TCODEC_I64, 1, list, sizeof(list));
  expect_tensor(&m, "graph.node[0].attribute['value_ints']", TCODEC_I64, 1, tensor, sizeof(tensor));
  tu_buf out;
  write_ok(&m, &out, "as is");
  assert_same(&out, model, n, "as is");
  tu_buf_free(&out);
  tcf_tensor *c = find_mut(&m, "c");
  cr_assert_not_null(c->owned); /* varint-coded: decoded, so owned */
  int64_t v[2] = {1, -1};
  memcpy(c->owned, v, sizeof(v));
  write_ok(&m, &out, "changed");
  parse_ok(out.data, out.size, &again, "changed");
  expect_tensor(&again, "c", TCODEC_I64, 1, v, 16);
  expect_tensor(&again, "graph.node[0].attribute['value_ints']", TCODEC_I64, 1, tensor,
                sizeof(tensor));
  tu_buf_free(&out);
  tcf_model_free(&again);
  tcf_model_free(&m);
}

Test(onnx, limits_and_arguments) {
  size_t n;
  uint8_t *src = load(FIX "dtypes.onnx", &n);
  tcf_model m;
  tcf_error e;
  tcf_limits few = {0, 3, 0}, small = {0, 0, 100};
  cr_assert_eq(tcf_onnx_parse(src, n, "x", NULL, &few, &m, &e), TCODEC_E_LIMIT);
  cr_assert(strstr(e.msg, "more than 3 tensors") != NULL, "%s", e.msg);
  cr_assert_eq(tcf_onnx_parse(src, n, "x", NULL, &small, &m, &e), TCODEC_E_LIMIT);
  cr_assert_eq(tcf_onnx_parse(NULL, 5, "x", NULL, NULL, &m, &e), TCODEC_E_ARG);
  cr_assert_eq(tcf_onnx_parse(src, 0, "x", NULL, NULL, &m, &e), TCODEC_E_PAYLOAD);
  cr_assert(strstr(e.msg, "not an ONNX model") != NULL, "%s", e.msg);
  tcf_model_free(&m);
  free(src);
}

/* ---- the way back refuses what does not match ------------------------------------------------ */

Test(onnx, write_checks_tensors_and_section) {
  size_t n;
  uint8_t *src = load(FIX "dtypes.onnx", &n);
  tcf_model m;
  tcf_error e;
  tu_buf out = {NULL, 0, 0, 0};
  parse_ok(src, n, &m, "dtypes");
  tcf_tensor *t = find_mut(&m, "w_i32");
  t->dtype = TCODEC_U32;
  cr_assert_eq(tcf_onnx_write(&m, tu_buf_write, &out, &e), TCODEC_E_UNSUPPORTED_DTYPE, "%s", e.msg);
  t->dtype = TCODEC_I32;
  t->shape[0] = 2;
  cr_assert_eq(tcf_onnx_write(&m, tu_buf_write, &out, &e), TCODEC_E_SHAPE, "%s", e.msg);
  t->shape[0] = 4;
  t->size = 12;
  cr_assert_eq(tcf_onnx_write(&m, tu_buf_write, &out, &e), TCODEC_E_PAYLOAD, "%s", e.msg);
  t->size = 16;
  t->name[0] = 'x';
  cr_assert_eq(tcf_onnx_write(&m, tu_buf_write, &out, &e), TCODEC_E_NOT_FOUND, "%s", e.msg);
  cr_assert(strstr(e.msg, "'w_i32'") != NULL, "%s", e.msg);
  t->name[0] = 'w';
  out.fail_at = 100;
  cr_assert_eq(tcf_onnx_write(&m, tu_buf_write, &out, &e), TCODEC_E_IO, "%s", e.msg);
  tu_buf_free(&out);
  m.sections[0].data[4] = 2;
  cr_assert_eq(tcf_onnx_write(&m, tu_buf_write, &out, &e), TCODEC_E_UNSUPPORTED_FEATURE, "%s",
               e.msg);
  m.sections[0].data[4] = TCF_ONNX_SECTION_VERSION;
  m.sections[0].type[0] = 'x';
  cr_assert_eq(tcf_onnx_write(&m, tu_buf_write, &out, &e), TCODEC_E_NOT_FOUND, "%s", e.msg);
  tu_buf_free(&out);
  tcf_model_free(&m);
  free(src);
}

/* Every single-byte change and every truncation of the section: an error or a model, never
 * a crash (the sanitizer build checks memory); unchanged tensors, so success is rare. */
Test(onnx, corrupt_sections_never_crash) {
  size_t n;
  uint8_t *src = load(FIX "handmade.onnx", &n);
  tcf_model m;
  tcf_error e;
  parse_ok(src, n, &m, "handmade");
  tcf_section *s = &m.sections[0];
  size_t size = s->size, failed = 0;
  for (size_t i = 0; i < size; i++)
    for (int bit = 0; bit < 8; bit++) {
      tu_buf out = {NULL, 0, 0, 0};
      s->data[i] ^= (uint8_t)(1u << bit);
      failed += tcf_onnx_write(&m, tu_buf_write, &out, &e) != 0;
      s->data[i] ^= (uint8_t)(1u << bit);
      tu_buf_free(&out);
    }
  for (s->size = 0; s->size < size; s->size++) {
    tu_buf out = {NULL, 0, 0, 0};
    failed += tcf_onnx_write(&m, tu_buf_write, &out, &e) != 0;
    tu_buf_free(&out);
  }
  s->size = size;
  cr_assert_gt(failed, size * 4);
  tcf_model_free(&m);
  free(src);
}

/* Every truncation and every bit flip of every valid fixture parses or fails cleanly; what
 * parses comes back byte-identical (the fuzz target's invariant, exhaustively here). */
Test(onnx, truncations_and_bit_flips_round_trip_or_fail) {
  for (size_t f = 0; f < NVALID - 1; f++) {
    char rel[128];
    size_t n, ok = 0;
    snprintf(rel, sizeof(rel), FIX "%s", valid_fixtures[f]);
    uint8_t *src = load(rel, &n);
    for (size_t k = 0; k < n + 8 * n; k++) {
      size_t len = k < n ? k : n;
      uint8_t *copy = malloc(len ? len : 1);
      memcpy(copy, src, len);
      if (k >= n) copy[(k - n) / 8] ^= (uint8_t)(1u << ((k - n) % 8));
      tcf_model m;
      tcf_error e;
      if (tcf_onnx_parse(copy, len, rel, NULL, NULL, &m, &e) == 0) {
        tu_buf out;
        write_ok(&m, &out, rel);
        assert_same(&out, copy, len, rel);
        tu_buf_free(&out);
        ok++;
      } else {
        cr_assert_neq(e.code, 0);
        cr_assert(e.offset == UINT64_MAX || e.offset <= len, "%s: offset %llu", rel,
                  (unsigned long long)e.offset);
      }
      tcf_model_free(&m);
      free(copy);
    }
    cr_assert_gt(ok, n, "%s: %zu variants parsed", rel, ok);
    free(src);
  }
}

/* ---- the independent writer and checker ------------------------------------------------------ */

Test(onnx, fixture_script_regenerates_the_committed_bytes) {
  if (!have_python_onnx()) cr_skip_test("/usr/bin/python3 with onnx and numpy is not installed");
  char tmp[] = "/tmp/tcodec-onnx-XXXXXX", cmd[2048];
  cr_assert_not_null(mkdtemp(tmp));
  char *script = tu_source_path("scripts/make-onnx-fixtures.py"), *committed = tu_source_path(FIX);
  snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' '%s/fx' && diff -r '%s/fx' '%s' >&2", script,
           tmp, tmp, committed);
  cr_assert_eq(system(cmd), 0, "regenerated fixtures differ from the committed ones: %s", cmd);
  rm_rf(tmp);
  free(script);
  free(committed);
}

Test(onnx, python_checker_accepts_rebuilt_models) {
  if (!have_python_onnx()) cr_skip_test("/usr/bin/python3 with onnx and numpy is not installed");
  char tmp[] = "/tmp/tcodec-onnx-XXXXXX", path[400], cmd[1024];
  cr_assert_not_null(mkdtemp(tmp));
  for (size_t i = 0; i < NVALID - 1; i++) {
    char rel[128];
    size_t n;
    snprintf(rel, sizeof(rel), FIX "%s", valid_fixtures[i]);
    uint8_t *src = load(rel, &n);
    tcf_model m, back;
    tu_buf out, tc = {NULL, 0, 0, 0};
    parse_ok(src, n, &m, rel);
    to_tc(&m, &tc);
    from_tc(&tc, &back);
    write_ok(&back, &out, rel);
    snprintf(path, sizeof(path), "%s/%zu.onnx", tmp, i);
    save(path, out.data, out.size);
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 -c \"import onnx; onnx.checker.check_model(onnx.load('%s'))\"",
             path);
    cr_expect_eq(system(cmd), 0, "checker refuses the rebuilt %s", rel);
    tu_buf_free(&out);
    tu_buf_free(&tc);
    tcf_model_free(&m);
    tcf_model_free(&back);
    free(src);
  }
  rm_rf(tmp);
}
