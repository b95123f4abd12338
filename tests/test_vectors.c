/* The spec test vectors (spec/vectors/, see its README.md):
 *   - every valid/NAME.tc decodes to valid/NAME.json (metadata, sections, tensor info,
 *     F32, ORIGINAL and SYMBOLS outputs), through open_memory and open_file;
 *   - every invalid/NAME.tc fails exactly as invalid/NAME.expect says: at open or when
 *     decoding one tensor, with that code and tcodec_reader_error_offset(), a message
 *     naming the file, the other tensors still decodable;
 *   - regenerating with tools/tcvectors.c (compiled in below) gives the committed bytes
 *     and no committed file is stale.
 * Files are found under $TCODEC_SOURCE_DIR (fallback "."). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <zstd.h>

#include "support/testutil.h"

#define TCVECTORS_NO_MAIN
#include "../tools/tcvectors.c"

/* ---- files ------------------------------------------------------------------------- */

static char *vec_path(const char *rel) {
  const char *root = getenv("TCODEC_SOURCE_DIR");
  if (root == NULL || root[0] == '\0') root = ".";
  size_t n = strlen(root) + strlen(rel) + 32;
  char *p = malloc(n);
  cr_assert_not_null(p);
  snprintf(p, n, "%s/spec/vectors/%s", root, rel);
  return p;
}

static uint8_t *vec_read(const char *rel, size_t *size) {
  char *path = vec_path(rel);
  FILE *f = fopen(path, "rb");
  uint8_t *data = NULL;
  size_t n = 0, cap = 0;
  if (f != NULL) {
    int c;
    while ((c = fgetc(f)) != EOF) {
      if (n + 1 >= cap) {
        cap = cap ? cap * 2 : 4096;
        data = realloc(data, cap);
        cr_assert_not_null(data);
      }
      data[n++] = (uint8_t)c;
    }
    fclose(f);
    if (data == NULL) data = malloc(1);
    data[n] = 0; /* text files can be used as strings */
  }
  free(path);
  *size = n;
  return data;
}

/* Sorted names (without extension) of the .tc files in spec/vectors/SUB. */
typedef struct namelist {
  char **v;
  size_t n;
} namelist;

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static namelist list_dir(const char *sub, const char *ext) {
  namelist l = {NULL, 0};
  char *path = vec_path(sub);
  DIR *d = opendir(path);
  free(path);
  if (d == NULL) return l; /* no vectors: vectors_are_found reports it */
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name), el = strlen(ext);
    if (e->d_name[0] == '.' || len <= el || strcmp(e->d_name + len - el, ext) != 0) continue;
    l.v = realloc(l.v, (l.n + 1) * sizeof(char *));
    cr_assert_not_null(l.v);
    l.v[l.n] = malloc(len - el + 1);
    memcpy(l.v[l.n], e->d_name, len - el);
    l.v[l.n][len - el] = '\0';
    l.n++;
  }
  closedir(d);
  if (l.n > 1) qsort(l.v, l.n, sizeof(char *), cmp_str);
  return l;
}

static void list_free(namelist *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
}

/* One parameterized test per vector: a crash or failure is reported for that vector. */
typedef struct vparam {
  char name[96];
} vparam;

static void free_params(struct criterion_test_params *crp) { cr_free(crp->params); }

static struct criterion_test_params vector_params(const char *sub) {
  namelist l = list_dir(sub, ".tc");
  vparam *p = cr_malloc(sizeof(vparam) * (l.n ? l.n : 1));
  for (size_t i = 0; i < l.n; i++) snprintf(p[i].name, sizeof(p[i].name), "%s", l.v[i]);
  size_t n = l.n;
  list_free(&l);
  return cr_make_param_array(vparam, p, n, free_params);
}

/* ---- a small JSON reader (the .json files are written by tools/tcvectors.c) --------- */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv {
  int type;
  int b;
  int64_t i; /* numbers: integers only */
  uint64_t u;
  char *s; /* strings; object keys in keys[] */
  size_t len;
  struct jv *items;
  char **keys;
  size_t n;
} jv;

static void j_ws(const char **p) {
  while (**p == ' ' || **p == '\n' || **p == '\r' || **p == '\t') (*p)++;
}

static int j_string(const char **p, char **out, size_t *len) {
  if (**p != '"') return -1;
  (*p)++;
  size_t cap = 16, n = 0;
  char *s = malloc(cap);
  while (**p != '"') {
    if (**p == '\0') goto bad;
    char c = *(*p)++;
    if (c == '\\') {
      char e = *(*p)++;
      if (e == 'u') {
        unsigned v = 0;
        for (int k = 0; k < 4; k++) {
          char h = *(*p)++;
          v = v * 16 + (unsigned)(h >= 'a' ? h - 'a' + 10 : h >= 'A' ? h - 'A' + 10 : h - '0');
        }
        if (v >= 0x80) goto bad; /* the generator escapes control characters only */
        c = (char)v;
      } else {
        c = e == 'n'   ? '\n'
            : e == 't' ? '\t'
            : e == 'r' ? '\r'
            : e == 'b' ? '\b'
            : e == 'f' ? '\f'
                       : e;
      }
    }
    if (n + 2 > cap) s = realloc(s, cap *= 2);
    s[n++] = c;
  }
  (*p)++;
  s[n] = '\0';
  *out = s;
  *len = n;
  return 0;
bad:
  free(s);
  return -1;
}

static int j_value(const char **p, jv *v, int depth);

static int j_items(const char **p, jv *v, int depth, char close, int obj) {
  (*p)++;
  j_ws(p);
  if (**p == close) {
    (*p)++;
    return 0;
  }
  for (;;) {
    v->items = realloc(v->items, (v->n + 1) * sizeof(jv));
    if (obj) v->keys = realloc(v->keys, (v->n + 1) * sizeof(char *));
    memset(&v->items[v->n], 0, sizeof(jv));
    j_ws(p);
    if (obj) {
      size_t kl;
      v->keys[v->n] = NULL;
      if (j_string(p, &v->keys[v->n], &kl) != 0) return -1;
      j_ws(p);
      if (*(*p)++ != ':') {
        v->n++;
        return -1;
      }
    }
    v->n++;
    if (j_value(p, &v->items[v->n - 1], depth + 1) != 0) return -1;
    j_ws(p);
    char c = *(*p)++;
    if (c == close) return 0;
    if (c != ',') return -1;
  }
}

static int j_value(const char **p, jv *v, int depth) {
  memset(v, 0, sizeof(*v));
  j_ws(p);
  if (depth > 16) return -1;
  char c = **p;
  if (c == '{') {
    v->type = J_OBJ;
    return j_items(p, v, depth, '}', 1);
  }
  if (c == '[') {
    v->type = J_ARR;
    return j_items(p, v, depth, ']', 0);
  }
  if (c == '"') {
    v->type = J_STR;
    return j_string(p, &v->s, &v->len);
  }
  if (strncmp(*p, "true", 4) == 0 || strncmp(*p, "false", 5) == 0) {
    v->type = J_BOOL;
    v->b = c == 't';
    *p += v->b ? 4 : 5;
    return 0;
  }
  if (strncmp(*p, "null", 4) == 0) {
    *p += 4;
    return 0;
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    char *end;
    v->type = J_NUM;
    if (c == '-') {
      v->i = strtoll(*p, &end, 10);
      v->u = (uint64_t)v->i;
    } else {
      v->u = strtoull(*p, &end, 10);
      v->i = (int64_t)v->u;
    }
    *p = end;
    return 0;
  }
  return -1;
}

static void j_free(jv *v) {
  for (size_t k = 0; k < v->n; k++) {
    j_free(&v->items[k]);
    if (v->keys != NULL) free(v->keys[k]);
  }
  free(v->items);
  free(v->keys);
  free(v->s);
}

static const jv *j_get(const jv *obj, const char *key) {
  if (obj == NULL || obj->type != J_OBJ) return NULL;
  for (size_t k = 0; k < obj->n; k++)
    if (obj->keys[k] != NULL && strcmp(obj->keys[k], key) == 0) return &obj->items[k];
  return NULL;
}

/* A key the test needs: cr_assert it exists with the right type. */
static const jv *j_need(const jv *obj, const char *key, int type) {
  const jv *v = j_get(obj, key);
  cr_assert(v != NULL && v->type == type, "JSON key \"%s\" missing or of the wrong type", key);
  return v;
}

/* Hex string -> malloc'd bytes. */
static uint8_t *j_hex(const jv *s, size_t *n) {
  cr_assert(s->type == J_STR && s->len % 2 == 0, "bad hex string");
  *n = s->len / 2;
  uint8_t *b = malloc(*n + 1);
  for (size_t k = 0; k < *n; k++) {
    unsigned x;
    cr_assert(sscanf(s->s + 2 * k, "%2x", &x) == 1, "bad hex string");
    b[k] = (uint8_t)x;
  }
  return b;
}

/* ---- valid vectors ------------------------------------------------------------------ */

static void check_meta(tcodec_reader *r, const char *name, const jv *meta) {
  size_t count = 0;
  cr_assert_eq(tcodec_reader_meta_count(r, &count), 0);
  cr_expect_eq(count, meta->n, "%s: %zu metadata entries, expected %zu", name, count, meta->n);
  for (size_t k = 0; k < meta->n && k < count; k++) {
    const char *key;
    const void *value;
    size_t size;
    int is_text;
    cr_assert_eq(tcodec_reader_meta_get(r, k, &key, &value, &size, &is_text), 0);
    const jv *e = &meta->items[k];
    cr_expect_str_eq(key, j_need(e, "key", J_STR)->s, "%s: metadata key %zu", name, k);
    const jv *text = j_get(e, "text");
    if (text != NULL) {
      cr_expect(is_text, "%s: metadata '%s' should be text", name, key);
      cr_expect(size == text->len && memcmp(value, text->s, size) == 0,
                "%s: metadata '%s' value differs", name, key);
      const char *found = NULL;
      cr_expect_eq(tcodec_reader_meta_find(r, key, &found), 0, "%s: meta_find('%s')", name, key);
      if (found != NULL) cr_expect_str_eq(found, text->s);
    } else {
      size_t n;
      uint8_t *want = j_hex(j_need(e, "bytes", J_STR), &n);
      cr_expect(!is_text, "%s: metadata '%s' should be bytes", name, key);
      cr_expect(size == n && memcmp(value, want, n) == 0, "%s: metadata '%s' bytes differ", name,
                key);
      free(want);
    }
  }
  const char *none;
  cr_expect_eq(tcodec_reader_meta_find(r, "no.such.key", &none), TCODEC_E_NOT_FOUND);
}

static void check_sections(tcodec_reader *r, const char *name, const jv *secs) {
  size_t count = 0;
  cr_assert_eq(tcodec_reader_section_count(r, &count), 0);
  cr_expect_eq(count, secs->n, "%s: %zu sections, expected %zu", name, count, secs->n);
  for (size_t k = 0; k < secs->n && k < count; k++) {
    const char *type;
    int critical;
    uint64_t size;
    const jv *e = &secs->items[k];
    cr_assert_eq(tcodec_reader_section_info(r, k, &type, &critical, &size), 0);
    cr_expect_str_eq(type, j_need(e, "type", J_STR)->s, "%s: section %zu type", name, k);
    cr_expect_eq(size, j_need(e, "size", J_NUM)->u, "%s: section %zu size", name, k);
    cr_expect_eq(critical, j_need(e, "critical", J_BOOL)->b, "%s: section %zu critical", name, k);
    size_t n;
    uint8_t *want = j_hex(j_need(e, "bytes", J_STR), &n);
    cr_expect_eq(size, n, "%s: section %zu size", name, k);
    uint8_t *got = malloc(n + 1);
    int rc = tcodec_reader_section_read(r, k, got, n);
    cr_expect_eq(rc, 0, "%s: section_read(%zu): %s", name, k, tcodec_reader_error_message(r));
    if (rc == 0) cr_expect(memcmp(got, want, n) == 0, "%s: section %zu bytes differ", name, k);
    free(got);
    free(want);
  }
}

static void check_info(const tcodec_tensor_info *info, const char *vname, const jv *t) {
  const char *tn = info->name;
  const jv *shape = j_need(t, "shape", J_ARR);
  uint64_t n = 1;
  cr_expect_eq(info->dtype, tcodec_dtype_from_name(j_need(t, "dtype", J_STR)->s), "%s/%s: dtype",
               vname, tn);
  cr_expect_str_eq(tcodec_encoding_name(info->encoding), j_need(t, "encoding", J_STR)->s,
                   "%s/%s: encoding", vname, tn);
  cr_assert_eq(info->ndim, shape->n, "%s/%s: ndim", vname, tn);
  for (size_t d = 0; d < shape->n; d++) {
    cr_expect_eq(info->shape[d], shape->items[d].u, "%s/%s: shape[%zu]", vname, tn, d);
    n *= shape->items[d].u;
  }
  cr_expect_eq(info->nelem, n, "%s/%s: nelem", vname, tn);
  const jv *p = j_need(t, "params", J_OBJ), *v;
  if (info->encoding == TCODEC_ENC_RAW) return;
  if ((v = j_get(p, "gran")) != NULL)
    cr_expect_eq(info->granularity, (int)v->i, "%s/%s: granularity", vname, tn);
  if ((v = j_get(p, "axis")) != NULL) cr_expect_eq(info->axis, v->u, "%s/%s: axis", vname, tn);
  if ((v = j_get(p, "group")) != NULL)
    cr_expect_eq(info->group_size, v->u, "%s/%s: group", vname, tn);
  cr_expect_eq(info->symmetric, j_need(p, "sym", J_BOOL)->b, "%s/%s: sym", vname, tn);
  cr_expect_eq(info->scale_dtype, tcodec_dtype_from_name(j_need(p, "sdtype", J_STR)->s),
               "%s/%s: sdtype", vname, tn);
  if ((v = j_get(p, "bits")) != NULL) cr_expect_eq(info->bits, v->u, "%s/%s: bits", vname, tn);
  if ((v = j_get(p, "zp")) != NULL)
    cr_expect_eq(info->has_zero_point, v->b, "%s/%s: zp", vname, tn);
  if ((v = j_get(p, "fdtype")) != NULL)
    cr_expect_eq(info->full_dtype, tcodec_dtype_from_name(v->s), "%s/%s: fdtype", vname, tn);
  cr_expect_eq(info->units, j_need(t, "units", J_NUM)->u, "%s/%s: units", vname, tn);
  cr_expect_eq(info->has_mask, j_need(t, "has_mask", J_BOOL)->b, "%s/%s: has_mask", vname, tn);
  cr_expect_eq(info->nnz, j_need(t, "nnz", J_NUM)->u, "%s/%s: nnz", vname, tn);
}

/* Decode tensor k to `output`; returns malloc'd bytes (NULL on failure, reported). */
static uint8_t *decode_to(tcodec_reader *r, size_t k, int output, uint64_t want_size,
                          const char *what) {
  uint64_t size = 0;
  int rc = tcodec_reader_decoded_size(r, k, output, &size);
  cr_expect_eq(rc, 0, "%s: decoded_size(output %d): %s", what, output, tcodec_strerror(rc));
  cr_expect_eq(size, want_size, "%s: decoded_size(output %d) = %llu, expected %llu", what, output,
               (unsigned long long)size, (unsigned long long)want_size);
  if (rc != 0 || size != want_size) return NULL;
  uint8_t *dst = malloc(size + 1);
  rc = tcodec_reader_decode(r, k, output, dst, (size_t)size);
  cr_expect_eq(rc, 0, "%s: decode(output %d): %s", what, output, tcodec_reader_error_message(r));
  if (rc != 0) {
    free(dst);
    return NULL;
  }
  return dst;
}

static void check_values(tcodec_reader *r, size_t k, const tcodec_tensor_info *info,
                         const char *vname, const jv *t) {
  char what[256];
  snprintf(what, sizeof(what), "%s/%s", vname, info->name);
  const jv *f32 = j_need(t, "f32", J_ARR);
  cr_assert_eq(f32->n, info->nelem, "%s: %zu f32 values in the JSON", what, f32->n);
  uint8_t *got = decode_to(r, k, TCODEC_OUT_F32, info->nelem * 4, what);
  for (size_t i = 0; got != NULL && i < f32->n; i++) {
    uint32_t g;
    memcpy(&g, got + 4 * i, 4);
    const char *want = f32->items[i].s;
    if (strcmp(want, "nan") == 0) {
      cr_expect((g & 0x7f800000u) == 0x7f800000u && (g & 0x7fffffu) != 0,
                "%s: f32[%zu] = 0x%08x, expected a NaN", what, i, g);
    } else {
      uint32_t w = (uint32_t)strtoul(want, NULL, 16);
      cr_expect_eq(g, w, "%s: f32[%zu] = 0x%08x (%g), expected 0x%08x (%g)", what, i, g,
                   (double)tu_f32_from_bits(g), w, (double)tu_f32_from_bits(w));
    }
  }
  free(got);
  size_t on;
  uint8_t *orig = j_hex(j_need(t, "original", J_STR), &on);
  got = decode_to(r, k, TCODEC_OUT_ORIGINAL, on, what);
  if (got != NULL && on != 0) {
    size_t d = tu_first_diff(got, orig, on);
    cr_expect_eq(d, SIZE_MAX, "%s: ORIGINAL output differs at byte %zu (got %02x, expected %02x)",
                 what, d, d < on ? got[d] : 0, d < on ? orig[d] : 0);
  }
  free(got);
  free(orig);
  const jv *sym = j_get(t, "symbols");
  if (sym == NULL) {
    uint64_t size;
    cr_expect_eq(tcodec_reader_decoded_size(r, k, TCODEC_OUT_SYMBOLS, &size),
                 TCODEC_E_OUTPUT_FORMAT, "%s: raw tensors have no SYMBOLS output", what);
    return;
  }
  got = decode_to(r, k, TCODEC_OUT_SYMBOLS, info->nelem, what);
  for (size_t i = 0; got != NULL && i < sym->n; i++) {
    int g = info->encoding == TCODEC_ENC_KBIT ? got[i] : (int)(int8_t)got[i];
    cr_expect_eq(g, (int)sym->items[i].i, "%s: symbol[%zu] = %d, expected %d", what, i, g,
                 (int)sym->items[i].i);
  }
  free(got);
}

/* The STREAM form: exactly the roles of the JSON, each with its stream bytes. */
static const char *const role_names[8] = {"data",  "mask",  "signs", "scales",
                                          "codes", "zeros", "kinds", "full"};

static void check_streams(tcodec_reader *r, size_t k, const char *vname, const char *tn,
                          const jv *t) {
  const jv *st = j_need(t, "streams", J_OBJ);
  for (int role = 0; role < 8; role++) {
    const jv *want = j_get(st, role_names[role]);
    uint64_t len = 0;
    int rc = tcodec_reader_stream_size(r, k, role, &len);
    if (want == NULL) {
      cr_expect_eq(rc, TCODEC_E_NOT_FOUND, "%s/%s: unexpected %s stream", vname, tn,
                   role_names[role]);
      continue;
    }
    size_t n;
    uint8_t *bytes = j_hex(want, &n);
    cr_expect_eq(rc, 0, "%s/%s: no %s stream", vname, tn, role_names[role]);
    cr_expect_eq(len, n, "%s/%s: %s stream of %llu bytes, expected %zu", vname, tn,
                 role_names[role], (unsigned long long)len, n);
    if (rc == 0 && len == n) {
      uint8_t *got = malloc(n + 1);
      rc = tcodec_reader_decode_stream(r, k, role, got, n);
      cr_expect_eq(rc, 0, "%s/%s: decode_stream(%s): %s", vname, tn, role_names[role],
                   tcodec_reader_error_message(r));
      size_t d = rc == 0 ? tu_first_diff(got, bytes, n) : SIZE_MAX;
      cr_expect_eq(d, SIZE_MAX, "%s/%s: %s stream differs at byte %zu (got %02x, expected %02x)",
                   vname, tn, role_names[role], d, d < n ? got[d] : 0, d < n ? bytes[d] : 0);
      free(got);
    }
    free(bytes);
  }
}

static void check_tensor_meta(const tcodec_reader *r, size_t k, const tcodec_tensor_info *info,
                              const char *vname, const jv *t) {
  const jv *meta = j_need(t, "meta", J_ARR);
  cr_expect_eq(info->meta_count, meta->n, "%s/%s: per-tensor metadata count", vname, info->name);
  for (size_t e = 0; e < meta->n && e < info->meta_count; e++) {
    const char *key, *value;
    cr_assert_eq(tcodec_reader_tensor_meta(r, k, e, &key, &value), 0);
    cr_expect_str_eq(key, j_need(&meta->items[e], "key", J_STR)->s);
    cr_expect_str_eq(value, j_need(&meta->items[e], "text", J_STR)->s);
  }
}

static void check_valid_reader(tcodec_reader *r, const char *name, const jv *root) {
  unsigned major = 0, minor = 0;
  const jv *fmt = j_need(root, "format", J_OBJ);
  cr_assert_eq(tcodec_reader_format_version(r, &major, &minor), 0);
  cr_expect(major == j_need(fmt, "major", J_NUM)->u && minor == j_need(fmt, "minor", J_NUM)->u,
            "%s: format version %u.%u", name, major, minor);
  check_meta(r, name, j_need(root, "meta", J_ARR));
  check_sections(r, name, j_need(root, "sections", J_ARR));
  const jv *ts = j_need(root, "tensors", J_ARR);
  size_t count = 0;
  cr_assert_eq(tcodec_reader_tensor_count(r, &count), 0);
  cr_assert_eq(count, ts->n, "%s: %zu tensors, expected %zu", name, count, ts->n);
  for (size_t k = 0; k < count; k++) {
    const jv *t = &ts->items[k];
    tcodec_tensor_info info;
    cr_assert_eq(tcodec_reader_tensor_info(r, k, &info), 0);
    cr_expect_str_eq(info.name, j_need(t, "name", J_STR)->s, "%s: tensor %zu name", name, k);
    size_t found = SIZE_MAX;
    cr_expect_eq(tcodec_reader_find(r, info.name, &found), 0);
    cr_expect_eq(found, k, "%s: find('%s') = %zu", name, info.name, found);
    check_info(&info, name, t);
    check_tensor_meta(r, k, &info, name, t);
    check_values(r, k, &info, name, t);
    check_streams(r, k, name, info.name, t);
  }
  size_t bad = 0;
  int rc = tcodec_reader_verify(r, &bad);
  cr_expect_eq(rc, 0, "%s: verify: %s", name, tcodec_reader_error_message(r));
}

static void check_valid(const char *name) {
  char rel[256];
  size_t tc_size, js_size;
  snprintf(rel, sizeof(rel), "valid/%s.tc", name);
  uint8_t *tc = vec_read(rel, &tc_size);
  char *path = vec_path(rel);
  snprintf(rel, sizeof(rel), "valid/%s.json", name);
  char *js = (char *)vec_read(rel, &js_size);
  cr_assert(tc != NULL && js != NULL, "%s: missing .tc or .json", name);
  jv root;
  const char *p = js;
  cr_assert_eq(j_value(&p, &root, 0), 0, "%s.json: not parsable near offset %td", name, p - js);

  tcodec_reader *r = NULL;
  cr_assert_eq(tcodec_reader_create(&r, NULL), 0);
  int rc = tcodec_reader_open_memory(r, tc, tc_size);
  cr_expect_eq(rc, 0, "%s: open_memory: %s", name, tcodec_reader_error_message(r));
  if (rc == 0) check_valid_reader(r, name, &root);
  tcodec_reader_free(r);

  cr_assert_eq(tcodec_reader_create(&r, NULL), 0);
  rc = tcodec_reader_open_file(r, path);
  cr_expect_eq(rc, 0, "%s: open_file: %s", name, tcodec_reader_error_message(r));
  if (rc == 0) check_valid_reader(r, name, &root);
  tcodec_reader_free(r);

  j_free(&root);
  free(tc);
  free(js);
  free(path);
}

ParameterizedTestParameters(vectors, valid) { return vector_params("valid"); }

ParameterizedTest(vparam *p, vectors, valid) {
  cr_log_info("valid/%s", p->name);
  check_valid(p->name);
}

/* ---- invalid vectors ---------------------------------------------------------------- */

typedef struct code_name {
  const char *name;
  int code;
} code_name;

#define TV_CODE_ROW(name, num, msg) {"TCODEC_" #name, num},
static const code_name code_names[] = {TCODEC_LIST_ERRORS(TV_CODE_ROW)};
#undef TV_CODE_ROW

static int code_of(const char *name) {
  for (size_t i = 0; i < sizeof(code_names) / sizeof(code_names[0]); i++)
    if (strcmp(code_names[i].name, name) == 0) return code_names[i].code;
  cr_assert_fail("unknown error name %s", name);
  return 1;
}

static const struct {
  const char *name;
  int limit;
} limit_names[] = {
    {"DIR_BYTES", TCODEC_LIMIT_DIR_BYTES},       {"TENSORS", TCODEC_LIMIT_TENSORS},
    {"TENSOR_ELEMS", TCODEC_LIMIT_TENSOR_ELEMS}, {"ALLOC_BYTES", TCODEC_LIMIT_ALLOC_BYTES},
    {"META_BYTES", TCODEC_LIMIT_META_BYTES},     {"SECTION_BYTES", TCODEC_LIMIT_SECTION_BYTES}};

/* NAME.expect (FORMAT.md Appendix A): "CODE OFFSET", then "limit NAME VALUE" lines. */
typedef struct expect {
  int code;
  uint64_t off;
  int limit[8];
  uint64_t value[8];
  size_t nlimits;
} expect;

static expect parse_expect(const char *name, const char *text) {
  expect e;
  memset(&e, 0, sizeof(e));
  char code[64];
  unsigned long long off;
  int used = 0;
  cr_assert(sscanf(text, "%63s %llu%n", code, &off, &used) == 2 && text[used] == '\n',
            "%s.expect: cannot parse the first line of '%s'", name, text);
  e.code = code_of(code);
  e.off = off;
  for (const char *line = strchr(text, '\n') + 1; *line != '\0'; line = strchr(line, '\n') + 1) {
    char lname[64];
    unsigned long long value;
    cr_assert(sscanf(line, "limit %63s %llu", lname, &value) == 2 && e.nlimits < 8,
              "%s.expect: bad line '%s'", name, line);
    size_t k = 0;
    while (k < 6 && strcmp(limit_names[k].name, lname) != 0) k++;
    cr_assert_lt(k, 6, "%s.expect: unknown limit %s", name, lname);
    e.limit[e.nlimits] = limit_names[k].limit;
    e.value[e.nlimits++] = value;
  }
  return e;
}

/* What the Appendix A harness saw: the first failure and where it happened. */
typedef struct outcome {
  int rc;
  uint64_t off;
  char msg[512];
  enum { AT_NONE, AT_OPEN, AT_TENSOR, AT_SECTION } at;
  size_t index;
} outcome;

static void record(outcome *o, tcodec_reader *r, int rc, int at, size_t index) {
  o->rc = rc;
  o->off = tcodec_reader_error_offset(r);
  snprintf(o->msg, sizeof(o->msg), "%s", tcodec_reader_error_message(r));
  o->at = at;
  o->index = index;
}

/* Decode tensor k to the original form into a scratch buffer. */
static int decode_original(tcodec_reader *r, size_t k) {
  tcodec_tensor_info info;
  int rc = tcodec_reader_tensor_info(r, k, &info);
  if (rc != 0) return rc;
  uint64_t size = 0;
  if (tcodec_reader_decoded_size(r, k, TCODEC_OUT_ORIGINAL, &size) != 0)
    size = info.nelem * 8; /* unknown encoding: decode reports it */
  uint8_t *dst = malloc((size_t)size + 1);
  rc = tcodec_reader_decode(r, k, TCODEC_OUT_ORIGINAL, dst, (size_t)size);
  free(dst);
  return rc;
}

/* FORMAT.md Appendix A: limits, open, decode every tensor, read every section. Leaves the
 * reader open (or failed) in *out for further checks. */
static outcome run_harness(const expect *e, const uint8_t *tc, size_t size, const char *path,
                           tcodec_reader **out) {
  outcome o;
  memset(&o, 0, sizeof(o));
  tcodec_reader *r = NULL;
  cr_assert_eq(tcodec_reader_create(&r, NULL), 0);
  *out = r;
  for (size_t k = 0; k < e->nlimits; k++)
    cr_assert_eq(tcodec_reader_set_limit(r, e->limit[k], e->value[k]), 0);
  int rc = path != NULL ? tcodec_reader_open_file(r, path) : tcodec_reader_open_memory(r, tc, size);
  if (rc != 0) {
    record(&o, r, rc, AT_OPEN, 0);
    return o;
  }
  size_t nt = 0, ns = 0;
  cr_assert_eq(tcodec_reader_tensor_count(r, &nt), 0);
  for (size_t k = 0; k < nt; k++) {
    if ((rc = decode_original(r, k)) != 0) {
      record(&o, r, rc, AT_TENSOR, k);
      return o;
    }
  }
  cr_assert_eq(tcodec_reader_section_count(r, &ns), 0);
  for (size_t k = 0; k < ns; k++) {
    uint64_t len = 0;
    cr_assert_eq(tcodec_reader_section_info(r, k, NULL, NULL, &len), 0);
    uint8_t *dst = malloc((size_t)len + 1);
    rc = tcodec_reader_section_read(r, k, dst, (size_t)len);
    free(dst);
    if (rc != 0) {
      record(&o, r, rc, AT_SECTION, k);
      return o;
    }
  }
  return o;
}

static void expect_outcome(const outcome *o, const expect *e, const char *name, const char *how) {
  cr_expect_neq(o->rc, 0, "%s (%s): the file passed the harness", name, how);
  cr_expect_eq(o->rc, e->code, "%s (%s): got %s (%d), expected %s: %s", name, how,
               tcodec_strerror(o->rc), o->rc, tcodec_strerror(e->code), o->msg);
  cr_expect_eq(o->off, e->off, "%s (%s): error offset %llu, expected %llu: %s", name, how,
               (unsigned long long)o->off, (unsigned long long)e->off, o->msg);
}

/* After a tensor failed to decode: the others still decode, verify names it. */
static void expect_tensor_isolated(tcodec_reader *r, const outcome *o, const char *name) {
  size_t nt = 0;
  cr_assert_eq(tcodec_reader_tensor_count(r, &nt), 0);
  for (size_t k = 0; k < nt; k++) {
    if (k == o->index) continue;
    int rc = decode_original(r, k);
    cr_expect_eq(rc, 0, "%s: tensor %zu should still decode: %s", name, k,
                 tcodec_reader_error_message(r));
  }
  size_t bad = SIZE_MAX;
  int rc = tcodec_reader_verify(r, &bad);
  cr_expect_eq(rc, o->rc, "%s: verify returned %s", name, tcodec_strerror(rc));
  cr_expect_eq(bad, o->index, "%s: verify names tensor %zu", name, bad);
}

ParameterizedTestParameters(vectors, invalid) { return vector_params("invalid"); }

ParameterizedTest(vparam *p, vectors, invalid) {
  const char *name = p->name;
  char rel[256];
  size_t size, esize;
  cr_log_info("invalid/%s", name);
  snprintf(rel, sizeof(rel), "invalid/%s.expect", name);
  char *text = (char *)vec_read(rel, &esize);
  cr_assert_not_null(text, "%s: no .expect file", name);
  expect e = parse_expect(name, text);
  snprintf(rel, sizeof(rel), "invalid/%s.tc", name);
  uint8_t *tc = vec_read(rel, &size);
  char *path = vec_path(rel);
  cr_assert_not_null(tc);

  tcodec_reader *r;
  outcome o = run_harness(&e, tc, size, NULL, &r);
  expect_outcome(&o, &e, name, "memory");
  if (o.at == AT_OPEN) {
    size_t count;
    cr_expect_eq(tcodec_reader_tensor_count(r, &count), TCODEC_E_BADSTATE,
                 "%s: a reader whose open failed must refuse further calls", name);
  } else if (o.at == AT_TENSOR) {
    expect_tensor_isolated(r, &o, name);
  }
  tcodec_reader_free(r);

  o = run_harness(&e, tc, size, path, &r);
  expect_outcome(&o, &e, name, "file");
  if (o.rc != 0)
    cr_expect(strstr(o.msg, path) != NULL, "%s: the message does not name the file: %s", name,
              o.msg);
  tcodec_reader_free(r);
  free(path);
  free(tc);
  free(text);
}

/* Enough vectors are found (a wrong TCODEC_SOURCE_DIR would run none). */
Test(vectors, vectors_are_found) {
  namelist l = list_dir("invalid", ".tc");
  cr_expect_geq(l.n, 30, "only %zu invalid vectors found (is TCODEC_SOURCE_DIR right?)", l.n);
  list_free(&l);
  l = list_dir("valid", ".tc");
  cr_expect_geq(l.n, 10, "only %zu valid vectors found", l.n);
  list_free(&l);
}

/* ---- regeneration ------------------------------------------------------------------- */

typedef struct regen {
  char **seen;
  size_t nseen;
  int differ;
} regen;

/* zstd version recorded in the committed dump of a valid vector, 0 if none. */
static unsigned committed_zstd_version(const char *rel) {
  char txt[256];
  const char *dot = strrchr(rel, '.');
  snprintf(txt, sizeof(txt), "%.*s.txt", (int)(dot - rel), rel);
  size_t n;
  char *t = (char *)vec_read(txt, &n);
  unsigned v = 0;
  const char *line = t != NULL ? strstr(t, "\nzstd_version ") : NULL;
  if (line != NULL) v = (unsigned)strtoul(line + 14, NULL, 10);
  free(t);
  return v;
}

static int regen_compare(void *user, const char *rel, const uint8_t *data, size_t size) {
  regen *g = user;
  g->seen = realloc(g->seen, (g->nseen + 1) * sizeof(char *));
  g->seen[g->nseen++] = strdup(rel);
  size_t n;
  uint8_t *disk = vec_read(rel, &n);
  int same = disk != NULL && n == size && memcmp(disk, data, size) == 0;
  free(disk);
  if (same) return 0;
  unsigned zv = committed_zstd_version(rel);
  int zstd_dependent = strstr(rel, ".json") == NULL && strncmp(rel, "valid/", 6) == 0;
  if (zv != 0 && zv != ZSTD_versionNumber() && zstd_dependent) {
    cr_log_warn("%s differs, but it was generated with zstd %u and this is zstd %u", rel, zv,
                ZSTD_versionNumber());
    return 0;
  }
  cr_log_error("spec/vectors/%s differs from what tools/tcvectors.c generates "
               "(run scripts/gen-vectors.sh)",
               rel);
  g->differ = 1;
  return 0;
}

static void expect_all_generated(const regen *g, const char *sub, const char *ext) {
  namelist l = list_dir(sub, ext);
  for (size_t i = 0; i < l.n; i++) {
    char rel[256];
    int found = 0;
    snprintf(rel, sizeof(rel), "%s/%s%s", sub, l.v[i], ext);
    for (size_t k = 0; k < g->nseen && !found; k++) found = strcmp(g->seen[k], rel) == 0;
    cr_expect(found, "spec/vectors/%s is not generated by tools/tcvectors.c (stale?)", rel);
  }
  list_free(&l);
}

Test(vectors, regenerating_gives_the_committed_bytes) {
  regen g = {NULL, 0, 0};
  cr_assert_eq(tcv_generate(regen_compare, &g), 0, "the generator failed");
  cr_expect_eq(g.differ, 0, "committed vectors differ from the generator's output");
  static const char *const exts[] = {".tc", ".json", ".txt", ".expect"};
  for (size_t e = 0; e < 4; e++) {
    expect_all_generated(&g, "valid", exts[e]);
    expect_all_generated(&g, "invalid", exts[e]);
  }
  for (size_t k = 0; k < g.nseen; k++) free(g.seen[k]);
  free(g.seen);
}

/* Each valid vector has its three files, each invalid one its two. */
Test(vectors, every_vector_is_complete) {
  static const char *const vext[] = {".json", ".txt"};
  namelist l = list_dir("valid", ".tc");
  for (size_t i = 0; i < l.n; i++) {
    for (int e = 0; e < 2; e++) {
      char rel[256];
      size_t n;
      snprintf(rel, sizeof(rel), "valid/%s%s", l.v[i], vext[e]);
      uint8_t *d = vec_read(rel, &n);
      cr_expect_not_null(d, "missing spec/vectors/%s", rel);
      free(d);
    }
  }
  list_free(&l);
  l = list_dir("invalid", ".tc");
  for (size_t i = 0; i < l.n; i++) {
    char rel[256];
    size_t n;
    snprintf(rel, sizeof(rel), "invalid/%s.expect", l.v[i]);
    uint8_t *d = vec_read(rel, &n);
    cr_expect_not_null(d, "missing spec/vectors/%s", rel);
    free(d);
  }
  list_free(&l);
}
