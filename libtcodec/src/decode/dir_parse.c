/* Directory: CBOR tree -> validated tensors, sections and metadata.
 * Every number read here is a claim from the file and is checked before use. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "tc_reader.h"

typedef struct tc_dp {
  tcodec_reader *r;
  char where[160]; /* "tensor 3 ('conv.w')" etc. for messages */
  /* all stream ranges of the file, for the overlap check */
  struct tc_range {
    uint64_t off, size;
  } *ranges;
  size_t nranges, cap_ranges;
} tc_dp;

static int tc_schema(tc_dp *d, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int tc_schema(tc_dp *d, int code, const char *fmt, ...) {
  char reason[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof(reason), fmt, ap);
  va_end(ap);
  return tc_rfail(d->r, code, d->r->dir_offset, "directory: %s%s%s", d->where,
                  d->where[0] ? ": " : "", reason);
}

/* ---- typed access to CBOR items -------------------------------------- */

static int tc_text_eq(const cbor_item_t *k, const char *s) {
  size_t n = strlen(s);
  return cbor_isa_string(k) && cbor_string_length(k) == n &&
         memcmp(cbor_string_handle(k), s, n) == 0;
}

/* Find `key` in map; E_DIR_SCHEMA if it appears twice or keys are not text. */
static int tc_map_get(tc_dp *d, const cbor_item_t *map, const char *key, cbor_item_t **out) {
  struct cbor_pair *p = cbor_map_handle(map);
  size_t n = cbor_map_size(map);
  *out = NULL;
  for (size_t i = 0; i < n; i++) {
    if (!cbor_isa_string(p[i].key)) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "map key is not text");
    if (!tc_text_eq(p[i].key, key)) continue;
    if (*out != NULL) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "duplicate key \"%s\"", key);
    *out = p[i].value;
  }
  return TCODEC_OK;
}

static int tc_get_uint(tc_dp *d, const cbor_item_t *map, const char *key, int required,
                       uint64_t *v, int *found) {
  cbor_item_t *it;
  int rc = tc_map_get(d, map, key, &it);
  if (rc != 0) return rc;
  if (found != NULL) *found = it != NULL;
  if (it == NULL)
    return required ? tc_schema(d, TCODEC_E_DIR_SCHEMA, "missing key \"%s\"", key) : 0;
  if (!cbor_isa_uint(it))
    return tc_schema(d, TCODEC_E_DIR_SCHEMA, "key \"%s\" is not an unsigned integer", key);
  *v = cbor_get_int(it);
  return TCODEC_OK;
}

/* libcbor 0.8's cbor_is_bool() asserts (aborts) when given a float: check the
 * width first. */
static int tc_is_bool(const cbor_item_t *it) {
  return cbor_isa_float_ctrl(it) && cbor_float_get_width(it) == CBOR_FLOAT_0 && cbor_is_bool(it);
}

static int tc_get_bool(tc_dp *d, const cbor_item_t *map, const char *key, int *v, int *found) {
  cbor_item_t *it;
  int rc = tc_map_get(d, map, key, &it);
  if (rc != 0) return rc;
  if (found != NULL) *found = it != NULL;
  if (it == NULL) return TCODEC_OK;
  if (!tc_is_bool(it)) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "key \"%s\" is not a bool", key);
  *v = cbor_get_bool(it);
  return TCODEC_OK;
}

static int tc_utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || len > n - i) return 0;
    uint32_t cp = len == 1 ? c : (uint32_t)(c & (0x7F >> len));
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    i += len;
  }
  return 1;
}

/* Copy a definite text string (valid UTF-8, no NUL) allocated from the reader. */
static int tc_dup_text(tc_dp *d, const cbor_item_t *it, const char *what, size_t max_len,
                       char **out) {
  if (!cbor_isa_string(it)) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "%s is not text", what);
  size_t n = cbor_string_length(it);
  const uint8_t *s = cbor_string_handle(it);
  if (n > max_len) return tc_schema(d, TCODEC_E_LIMIT, "%s longer than %zu bytes", what, max_len);
  if ((n != 0 && memchr(s, 0, n) != NULL) || !tc_utf8_valid(s, n))
    return tc_schema(d, TCODEC_E_DIR_SCHEMA, "%s is not valid UTF-8 without NUL", what);
  *out = tc_strndup(&d->r->mem, (const char *)s, n);
  return *out != NULL ? 0 : tc_schema(d, tc_mem_err(&d->r->mem), "copying %s", what);
}

/* ---- metadata maps ------------------------------------------------------ */

static int tc_parse_kv(tc_dp *d, const cbor_item_t *map, int allow_bytes, tc_kv **out,
                       size_t *nout) {
  if (!cbor_isa_map(map)) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "\"meta\" is not a map");
  tcodec_reader *r = d->r;
  size_t n = cbor_map_size(map);
  struct cbor_pair *p = cbor_map_handle(map);
  tc_kv *kv = tc_calloc(&r->mem, n, sizeof(*kv));
  if (kv == NULL && n != 0) return tc_schema(d, tc_mem_err(&d->r->mem), "metadata table");
  *out = kv;
  *nout = 0;
  for (size_t i = 0; i < n; i++) {
    const cbor_item_t *v = p[i].value;
    int rc = tc_dup_text(d, p[i].key, "metadata key", SIZE_MAX, &kv[i].key);
    if (rc != 0) return rc;
    *nout = i + 1;
    for (size_t j = 0; j < i; j++)
      if (strcmp(kv[j].key, kv[i].key) == 0)
        return tc_schema(d, TCODEC_E_DIR_SCHEMA, "duplicate metadata key \"%s\"", kv[i].key);
    int is_bytes = cbor_isa_bytestring(v);
    if (!cbor_isa_string(v) && !(allow_bytes && is_bytes))
      return tc_schema(d, TCODEC_E_DIR_SCHEMA, "metadata value of \"%s\" has the wrong type",
                       kv[i].key);
    size_t vn = is_bytes ? cbor_bytestring_length(v) : cbor_string_length(v);
    const uint8_t *vs = is_bytes ? cbor_bytestring_handle(v) : cbor_string_handle(v);
    if (!is_bytes && !tc_utf8_valid(vs, vn))
      return tc_schema(d, TCODEC_E_DIR_SCHEMA, "metadata value of \"%s\" is not UTF-8", kv[i].key);
    r->meta_bytes += strlen(kv[i].key) + vn;
    if (r->meta_bytes > r->limits[TCODEC_LIMIT_META_BYTES])
      return tc_schema(d, TCODEC_E_LIMIT, "metadata exceeds the limit of %llu bytes",
                       (unsigned long long)r->limits[TCODEC_LIMIT_META_BYTES]);
    kv[i].value = (uint8_t *)tc_strndup(&r->mem, (const char *)vs, vn);
    if (kv[i].value == NULL) return tc_schema(d, tc_mem_err(&d->r->mem), "metadata value");
    kv[i].value_size = vn;
    kv[i].is_text = !is_bytes;
  }
  return TCODEC_OK;
}

/* ---- streams ----------------------------------------------------------- */

static int tc_add_range(tc_dp *d, uint64_t off, uint64_t size) {
  if (size == 0) return TCODEC_OK;
  if (d->nranges == d->cap_ranges) {
    size_t cap = d->cap_ranges ? d->cap_ranges * 2 : 64;
    struct tc_range *n = tc_calloc(&d->r->mem, cap, sizeof(*n));
    if (n == NULL) return tc_schema(d, tc_mem_err(&d->r->mem), "stream table");
    if (d->nranges) memcpy(n, d->ranges, d->nranges * sizeof(*n));
    tc_free(&d->r->mem, d->ranges);
    d->ranges = n;
    d->cap_ranges = cap;
  }
  d->ranges[d->nranges].off = off;
  d->ranges[d->nranges].size = size;
  d->nranges++;
  return TCODEC_OK;
}

static int tc_parse_stream(tc_dp *d, const cbor_item_t *m, tc_stream *s) {
  if (!cbor_isa_map(m)) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "stream is not a map");
  uint64_t role = 0, coder = 0;
  int rc;
  if ((rc = tc_get_uint(d, m, "role", 1, &role, NULL)) != 0 ||
      (rc = tc_get_uint(d, m, "off", 1, &s->off, NULL)) != 0 ||
      (rc = tc_get_uint(d, m, "size", 1, &s->size, NULL)) != 0 ||
      (rc = tc_get_uint(d, m, "len", 1, &s->len, NULL)) != 0 ||
      (rc = tc_get_uint(d, m, "coder", 1, &coder, NULL)) != 0 ||
      (rc = tc_get_uint(d, m, "xxh3", 1, &s->xxh3, NULL)) != 0)
    return rc;
  if (coder > TC_CODER_MAX_RESERVED)
    return tc_schema(d, TCODEC_E_DIR_SCHEMA, "coder id %llu is invalid", (unsigned long long)coder);
  if (role > UINT32_MAX)
    return tc_schema(d, TCODEC_E_DIR_SCHEMA, "role %llu is invalid", (unsigned long long)role);
  s->role = (uint32_t)role;
  s->coder = (uint32_t)coder;
  s->present = 1;
  uint64_t end;
  if (s->off < TC_HEADER_SIZE || s->off % d->r->align != 0 ||
      tc_add_u64(s->off, s->size, &end) != 0 || end > d->r->dir_offset)
    return tc_rfail(d->r, TCODEC_E_STREAM_RANGE, s->off,
                    "%s: stream [%llu, +%llu) is misaligned or outside the payload area", d->where,
                    (unsigned long long)s->off, (unsigned long long)s->size);
  if (coder == TCODEC_CODER_NONE && s->size != s->len)
    return tc_rfail(d->r, TCODEC_E_STREAM_SIZE, s->off,
                    "%s: stored stream of %llu bytes declares len %llu", d->where,
                    (unsigned long long)s->size, (unsigned long long)s->len);
  return tc_add_range(d, s->off, s->size);
}

/* ---- tensors ----------------------------------------------------------- */

enum {
  K_GRAN = 1 << 0, K_AXIS = 1 << 1, K_GROUP = 1 << 2, K_SYM = 1 << 3, K_SDTYPE = 1 << 4,
  K_NNZ = 1 << 5, K_BITS = 1 << 6, K_ZP = 1 << 7, K_SPARSE = 1 << 8, K_FDTYPE = 1 << 9,
  K_NTER = 1 << 10, K_BG = 1 << 11
};

typedef struct tc_pkey {
  const char *key;
  unsigned bit;
  int is_bool;
  size_t field; /* offsetof in tc_params */
  uint64_t max; /* largest accepted value for uints (type width) */
} tc_pkey;

#define TC_PK_U(k, b, f, mx) {k, b, 0, offsetof(tc_params, f), mx}
#define TC_PK_B(k, b, f) {k, b, 1, offsetof(tc_params, f), 1}

static const tc_pkey tc_pkeys[] = {
    TC_PK_U("gran", K_GRAN, gran, 2),         TC_PK_U("axis", K_AXIS, axis, TC_MAX_NDIM),
    TC_PK_U("group", K_GROUP, group, UINT64_MAX), TC_PK_B("sym", K_SYM, sym),
    TC_PK_U("sdtype", K_SDTYPE, sdtype, 255), TC_PK_U("nnz", K_NNZ, nnz, UINT64_MAX),
    TC_PK_U("bits", K_BITS, bits, 255),       TC_PK_B("zp", K_ZP, zp),
    TC_PK_B("sparse", K_SPARSE, sparse),      TC_PK_U("fdtype", K_FDTYPE, fdtype, 255),
    TC_PK_U("nter", K_NTER, nter, UINT64_MAX), TC_PK_B("bg", K_BG, bg),
};

static void tc_store_param(tc_params *p, const tc_pkey *k, uint64_t v) {
  char *base = (char *)p + k->field;
  if (k->field == offsetof(tc_params, group) || k->field == offsetof(tc_params, nnz) ||
      k->field == offsetof(tc_params, nter))
    memcpy(base, &v, sizeof(uint64_t));
  else if (k->field == offsetof(tc_params, axis) || k->field == offsetof(tc_params, bits)) {
    unsigned u = (unsigned)v;
    memcpy(base, &u, sizeof(u));
  } else {
    int i = (int)v;
    memcpy(base, &i, sizeof(i));
  }
}

/* Keys each known encoding requires (axis, group and k-bit nnz depend on other
 * values and are added once those are read). */
static unsigned tc_required_keys(const tc_tensor *t) {
  switch (t->enc) {
    case TCODEC_ENC_TERNARY: return K_GRAN | K_SYM | K_SDTYPE | K_NNZ;
    case TCODEC_ENC_BINARY: return K_GRAN | K_SYM | K_SDTYPE;
    case TCODEC_ENC_KBIT: return K_GRAN | K_SYM | K_SDTYPE | K_BITS | K_ZP | K_SPARSE;
    case TCODEC_ENC_HYBRID: return K_SYM | K_SDTYPE | K_FDTYPE | K_NTER | K_NNZ;
    default: return 0;
  }
}

/* Read the params in `keys` that are present; a wrong type or a value beyond the
 * field's width is E_PARAMS, a missing key of `required` too. */
static int tc_read_params(tc_dp *d, const cbor_item_t *m, unsigned keys, unsigned required,
                          tc_params *p) {
  for (size_t i = 0; i < sizeof(tc_pkeys) / sizeof(tc_pkeys[0]); i++) {
    const tc_pkey *k = &tc_pkeys[i];
    if (!(keys & k->bit)) continue;
    cbor_item_t *it = NULL;
    int rc = m != NULL ? tc_map_get(d, m, k->key, &it) : 0;
    if (rc != 0) return rc;
    if (it == NULL) {
      if (required & k->bit) return tc_schema(d, TCODEC_E_PARAMS, "missing param \"%s\"", k->key);
      continue;
    }
    uint64_t v;
    if (k->is_bool ? !tc_is_bool(it) : !cbor_isa_uint(it))
      return tc_schema(d, TCODEC_E_PARAMS, "param \"%s\" is not %s", k->key,
                       k->is_bool ? "a bool" : "an unsigned integer");
    v = k->is_bool ? (uint64_t)cbor_get_bool(it) : cbor_get_int(it);
    if (v > k->max)
      return tc_schema(d, TCODEC_E_PARAMS, "param \"%s\" = %llu is out of range", k->key,
                       (unsigned long long)v);
    tc_store_param(p, k, v);
  }
  return TCODEC_OK;
}

/* Params of a known encoding: only the keys that apply to it are read (others
 * are ignored, as unknown keys are). */
static int tc_parse_params(tc_dp *d, const cbor_item_t *m, tc_tensor *t) {
  memset(&t->p, 0, sizeof(t->p));
  if (m != NULL && !cbor_isa_map(m))
    return tc_schema(d, TCODEC_E_DIR_SCHEMA, "\"params\" is not a map");
  if (tc_encoding_find(t->enc) == NULL) return TCODEC_OK;
  unsigned need = tc_required_keys(t);
  unsigned keys = t->enc == TCODEC_ENC_RAW ? (unsigned)K_BG : need;
  int rc = tc_read_params(d, m, keys, need, &t->p);
  if (rc != 0) return rc;
  unsigned more = 0;
  if ((need & K_GRAN) && t->p.gran == TCODEC_GRAN_CHANNEL) more |= K_AXIS;
  if ((need & K_GRAN) && t->p.gran == TCODEC_GRAN_GROUP) more |= K_GROUP;
  if (t->enc == TCODEC_ENC_KBIT && t->p.sparse) more |= K_NNZ;
  return more ? tc_read_params(d, m, more, more, &t->p) : TCODEC_OK;
}

static int tc_parse_shape(tc_dp *d, const cbor_item_t *a, tc_tensor *t) {
  if (!cbor_isa_array(a)) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "\"shape\" is not an array");
  size_t n = cbor_array_size(a);
  if (n > TC_MAX_NDIM) return tc_schema(d, TCODEC_E_SHAPE, "%zu dimensions (max %u)", n, TC_MAX_NDIM);
  t->ndim = (unsigned)n;
  t->shape = tc_calloc(&d->r->mem, n ? n : 1, sizeof(uint64_t));
  if (t->shape == NULL) return tc_schema(d, tc_mem_err(&d->r->mem), "shape");
  cbor_item_t **h = cbor_array_handle(a);
  uint64_t total = 1;
  int overflow = 0;
  for (size_t i = 0; i < n; i++) {
    if (!cbor_isa_uint(h[i])) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "dimension is not an unsigned integer");
    t->shape[i] = cbor_get_int(h[i]);
    if (tc_mul_u64(total, t->shape[i], &total) != 0) overflow = 1;
  }
  /* A zero dimension makes the product 0 even if other dims overflow. */
  for (size_t i = 0; i < n; i++)
    if (t->shape[i] == 0) overflow = 0, total = 0;
  if (overflow) return tc_schema(d, TCODEC_E_SHAPE, "element count overflows 64 bits");
  if (total > d->r->limits[TCODEC_LIMIT_TENSOR_ELEMS])
    return tc_schema(d, TCODEC_E_LIMIT, "%llu elements exceed the limit %llu",
                     (unsigned long long)total,
                     (unsigned long long)d->r->limits[TCODEC_LIMIT_TENSOR_ELEMS]);
  t->nelem = total;
  return TCODEC_OK;
}

/* Streams: each role once; for known encodings exactly the roles and lengths
 * the encoding implies. Unknown encodings keep their streams' ranges checked. */
static int tc_parse_streams(tc_dp *d, const cbor_item_t *a, tc_tensor *t) {
  if (!cbor_isa_array(a)) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "\"streams\" is not an array");
  const tc_encoding_ops *ops = tc_encoding_find(t->enc);
  size_t n = cbor_array_size(a);
  cbor_item_t **h = cbor_array_handle(a);
  for (size_t i = 0; i < n; i++) {
    tc_stream s;
    memset(&s, 0, sizeof(s));
    int rc = tc_parse_stream(d, h[i], &s);
    if (rc != 0) return rc;
    if (s.role >= TCODEC_ROLE_COUNT_) {
      if (ops != NULL) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "unknown stream role %u", s.role);
      continue;
    }
    if (t->s[s.role].present)
      return tc_schema(d, TCODEC_E_DIR_SCHEMA, "stream role %s appears twice", tcodec_role_name((int)s.role));
    t->s[s.role] = s;
  }
  if (ops == NULL) return TCODEC_OK;
  uint64_t need_len[TCODEC_ROLE_COUNT_] = {0};
  int need[TCODEC_ROLE_COUNT_] = {0};
  int rc = ops->layout(t, need_len, need);
  if (rc != 0) return tc_schema(d, rc, "parameters are invalid for %s", ops->name);
  for (int role = 0; role < TCODEC_ROLE_COUNT_; role++)
    if (need[role] != t->s[role].present)
      return tc_schema(d, TCODEC_E_DIR_SCHEMA, "stream %s is %s", tcodec_role_name(role),
                       need[role] ? "missing" : "not part of this encoding");
  for (int role = 0; role < TCODEC_ROLE_COUNT_; role++)
    if (need[role] && t->s[role].len != need_len[role])
      return tc_rfail(d->r, TCODEC_E_STREAM_SIZE, t->s[role].off,
                      "%s: stream %s declares %llu bytes, the encoding implies %llu", d->where,
                      tcodec_role_name(role), (unsigned long long)t->s[role].len,
                      (unsigned long long)need_len[role]);
  return TCODEC_OK;
}

static int tc_parse_tensor(tc_dp *d, size_t idx, const cbor_item_t *m, tc_tensor *t) {
  snprintf(d->where, sizeof(d->where), "tensor %zu", idx);
  if (!cbor_isa_map(m)) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "not a map");
  cbor_item_t *name, *shape, *params, *streams, *meta;
  int rc;
  if ((rc = tc_map_get(d, m, "name", &name)) != 0) return rc;
  if (name == NULL) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "missing key \"name\"");
  if ((rc = tc_dup_text(d, name, "name", TC_MAX_NAME, &t->name)) != 0) return rc;
  if (t->name[0] == '\0') return tc_schema(d, TCODEC_E_DIR_SCHEMA, "empty name");
  snprintf(d->where, sizeof(d->where), "tensor %zu ('%.100s')", idx, t->name);
  uint64_t dtype = 0, enc = 0;
  if ((rc = tc_get_uint(d, m, "dtype", 1, &dtype, NULL)) != 0) return rc;
  if ((rc = tc_get_uint(d, m, "enc", 1, &enc, NULL)) != 0) return rc;
  if (enc == 0) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "encoding id 0 is invalid");
  /* Ids beyond int are unknown either way; the encoding's layout rejects unknown dtypes. */
  t->dtype = dtype > INT32_MAX ? INT32_MAX : (int)dtype;
  t->enc = enc > INT32_MAX ? INT32_MAX : (int)enc;
  if ((rc = tc_map_get(d, m, "shape", &shape)) != 0 || (rc = tc_map_get(d, m, "params", &params)) != 0 ||
      (rc = tc_map_get(d, m, "streams", &streams)) != 0 || (rc = tc_map_get(d, m, "meta", &meta)) != 0)
    return rc;
  if (shape == NULL) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "missing key \"shape\"");
  if (streams == NULL) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "missing key \"streams\"");
  if ((rc = tc_parse_shape(d, shape, t)) != 0) return rc;
  if ((rc = tc_parse_params(d, params, t)) != 0) return rc;
  if ((rc = tc_parse_streams(d, streams, t)) != 0) return rc;
  if (meta != NULL && (rc = tc_parse_kv(d, meta, 0, &t->meta, &t->nmeta)) != 0) return rc;
  return TCODEC_OK;
}

static int tc_cmp_name(const void *a, const void *b) {
  return strcmp(((const tc_name_ix *)a)->name, ((const tc_name_ix *)b)->name);
}

static int tc_parse_tensors(tc_dp *d, const cbor_item_t *a) {
  tcodec_reader *r = d->r;
  if (a == NULL) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "missing key \"tensors\"");
  if (!cbor_isa_array(a)) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "\"tensors\" is not an array");
  size_t n = cbor_array_size(a);
  if (n > r->limits[TCODEC_LIMIT_TENSORS])
    return tc_schema(d, TCODEC_E_LIMIT, "%zu tensors exceed the limit %llu", n,
                     (unsigned long long)r->limits[TCODEC_LIMIT_TENSORS]);
  r->tensors = tc_calloc(&r->mem, n ? n : 1, sizeof(tc_tensor));
  if (r->tensors == NULL) return tc_schema(d, tc_mem_err(&r->mem), "tensor table");
  r->by_name = tc_calloc(&r->mem, n ? n : 1, sizeof(tc_name_ix));
  if (r->by_name == NULL) return tc_schema(d, tc_mem_err(&r->mem), "name index");
  cbor_item_t **h = cbor_array_handle(a);
  for (size_t i = 0; i < n; i++) {
    r->ntensors = i + 1;
    int rc = tc_parse_tensor(d, i, h[i], &r->tensors[i]);
    if (rc != 0) return rc;
    r->by_name[i].name = r->tensors[i].name;
    r->by_name[i].index = i;
  }
  d->where[0] = '\0';
  if (n > 1) qsort(r->by_name, n, sizeof(tc_name_ix), tc_cmp_name);
  for (size_t i = 1; i < n; i++)
    if (strcmp(r->by_name[i - 1].name, r->by_name[i].name) == 0)
      return tc_schema(d, TCODEC_E_DUPLICATE, "tensor name '%.200s' appears twice", r->by_name[i].name);
  return TCODEC_OK;
}

/* ---- sections, requires, align ----------------------------------------- */

static int tc_parse_sections(tc_dp *d, const cbor_item_t *a) {
  tcodec_reader *r = d->r;
  if (!cbor_isa_array(a)) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "\"sections\" is not an array");
  size_t n = cbor_array_size(a);
  r->sections = tc_calloc(&r->mem, n ? n : 1, sizeof(tc_section));
  if (r->sections == NULL) return tc_schema(d, tc_mem_err(&d->r->mem), "section table");
  cbor_item_t **h = cbor_array_handle(a);
  for (size_t i = 0; i < n; i++) {
    tc_section *s = &r->sections[i];
    r->nsections = i + 1;
    snprintf(d->where, sizeof(d->where), "section %zu", i);
    if (!cbor_isa_map(h[i])) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "not a map");
    cbor_item_t *type, *stream;
    int rc, found = 0;
    if ((rc = tc_map_get(d, h[i], "type", &type)) != 0 || (rc = tc_map_get(d, h[i], "stream", &stream)) != 0 ||
        (rc = tc_get_bool(d, h[i], "critical", &s->critical, &found)) != 0)
      return rc;
    if (type == NULL || stream == NULL || !found)
      return tc_schema(d, TCODEC_E_DIR_SCHEMA, "needs \"type\", \"critical\" and \"stream\"");
    if ((rc = tc_dup_text(d, type, "section type", TC_MAX_NAME, &s->type)) != 0) return rc;
    if ((rc = tc_parse_stream(d, stream, &s->s)) != 0) return rc;
    if (s->s.len > r->limits[TCODEC_LIMIT_SECTION_BYTES])
      return tc_schema(d, TCODEC_E_LIMIT, "section '%s' of %llu bytes exceeds the limit", s->type,
                       (unsigned long long)s->s.len);
    /* v1.0 interprets no section type itself: every critical one is unknown. */
    if (s->critical)
      return tc_schema(d, TCODEC_E_UNSUPPORTED_SECTION, "critical section type '%s' is unknown", s->type);
  }
  d->where[0] = '\0';
  return TCODEC_OK;
}

static int tc_parse_requires(tc_dp *d, const cbor_item_t *a) {
  if (!cbor_isa_array(a)) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "\"requires\" is not an array");
  size_t n = cbor_array_size(a);
  cbor_item_t **h = cbor_array_handle(a);
  for (size_t i = 0; i < n; i++) {
    if (!cbor_isa_string(h[i])) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "feature name is not text");
    int len = cbor_string_length(h[i]) > 200 ? 200 : (int)cbor_string_length(h[i]);
    return tc_schema(d, TCODEC_E_UNSUPPORTED_FEATURE, "file requires feature '%.*s'", len,
                     (const char *)cbor_string_handle(h[i]));
  }
  return TCODEC_OK;
}

static int tc_parse_align(tc_dp *d, const cbor_item_t *top) {
  uint64_t align = 0;
  int rc = tc_get_uint(d, top, "align", 1, &align, NULL);
  if (rc != 0) return rc;
  if (align < TC_MIN_ALIGN || align > TC_MAX_ALIGN || (align & (align - 1)) != 0)
    return tc_schema(d, TCODEC_E_DIR_SCHEMA, "alignment %llu is not a power of two in [64, 2^20]",
                     (unsigned long long)align);
  d->r->align = align;
  return TCODEC_OK;
}

static int tc_cmp_range(const void *a, const void *b) {
  const struct tc_range *x = a, *y = b;
  return x->off < y->off ? -1 : x->off > y->off;
}

static int tc_check_overlaps(tc_dp *d) {
  if (d->nranges > 1) qsort(d->ranges, d->nranges, sizeof(struct tc_range), tc_cmp_range);
  for (size_t i = 1; i < d->nranges; i++)
    if (d->ranges[i - 1].off + d->ranges[i - 1].size > d->ranges[i].off)
      return tc_rfail(d->r, TCODEC_E_STREAM_RANGE, d->ranges[i].off,
                      "directory: stream at %llu overlaps the stream at %llu",
                      (unsigned long long)d->ranges[i].off, (unsigned long long)d->ranges[i - 1].off);
  return TCODEC_OK;
}

static int tc_parse_top(tc_dp *d, const cbor_item_t *top) {
  if (!cbor_isa_map(top)) return tc_schema(d, TCODEC_E_DIR_SCHEMA, "top level is not a map");
  cbor_item_t *req, *tensors, *meta, *sections;
  int rc;
  if ((rc = tc_map_get(d, top, "requires", &req)) != 0 || (rc = tc_map_get(d, top, "tensors", &tensors)) != 0 ||
      (rc = tc_map_get(d, top, "meta", &meta)) != 0 || (rc = tc_map_get(d, top, "sections", &sections)) != 0)
    return rc;
  if (req != NULL && (rc = tc_parse_requires(d, req)) != 0) return rc;
  if ((rc = tc_parse_align(d, top)) != 0) return rc;
  if (meta != NULL && (rc = tc_parse_kv(d, meta, 1, &d->r->meta, &d->r->nmeta)) != 0) return rc;
  if (sections != NULL && (rc = tc_parse_sections(d, sections)) != 0) return rc;
  if ((rc = tc_parse_tensors(d, tensors)) != 0) return rc;
  return tc_check_overlaps(d);
}

int tc_dir_parse(tcodec_reader *r, const uint8_t *dir, size_t dir_size) {
  size_t bad = 0;
  int rc = tc_cbor_prescan(dir, dir_size, &bad);
  if (rc == TCODEC_E_LIMIT)
    return tc_rfail(r, rc, r->dir_offset, "directory: CBOR nested deeper than 16 at byte %zu", bad);
  if (rc != 0)
    return tc_rfail(r, rc, r->dir_offset,
                    "directory: malformed or indefinite-length CBOR item at directory byte %zu", bad);
  struct cbor_load_result res;
  cbor_item_t *top = cbor_load(dir, dir_size, &res);
  if (top == NULL || res.error.code != CBOR_ERR_NONE) {
    if (top != NULL) cbor_decref(&top);
    if (res.error.code == CBOR_ERR_MEMERROR)
      return tc_rfail(r, TCODEC_E_NOMEM, r->dir_offset, "directory: libcbor out of memory");
    /* The pre-scan accepted the structure: what libcbor still refuses is a text
     * string that is not valid UTF-8, a schema rule of the spec. */
    return tc_rfail(r, TCODEC_E_DIR_SCHEMA, r->dir_offset,
                    "directory: invalid UTF-8 text at directory byte %zu", res.error.position);
  }
  tc_dp d;
  memset(&d, 0, sizeof(d));
  d.r = r;
  rc = tc_parse_top(&d, top);
  cbor_decref(&top);
  tc_free(&r->mem, d.ranges);
  return rc;
}
