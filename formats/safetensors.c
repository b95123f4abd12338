/* safetensors reader and writer: single files, sharded checkpoints (see
 * safetensors.h for the contract). The JSON is parsed with jansson; the layout
 * checks follow the reference implementation (huggingface/safetensors,
 * tensor.rs: Metadata::validate), reimplemented here. */
#include "safetensors.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define ST_NONE TCF_JSON_TOP
#define SHOW(name) (tcf_show(name).s)
#define ST_FAIL(h, code, off, ...) tcf_error_set((h)->err, (code), (h)->file, (off), __VA_ARGS__)

/* ---- dtypes ------------------------------------------------------------------
 * In the order of the reference implementation's Dtype enum (safetensors 0.6,
 * tensor.rs), which its writer sorts by (descending, then by name) so that every
 * tensor starts aligned to its element: the position in this table is that
 * rank. Note that the enum is not in bitsize order: BOOL (8 bits) ranks below
 * F4 and F6_*. `bits` is the reference's Dtype::bitsize(). dtype 0: valid
 * safetensors with no tcodec equivalent, carried as opaque bytes (TCODEC_U8,
 * shape [bytes], tensor meta "safetensors.dtype" and "safetensors.shape"). */
typedef struct st_dtype {
  const char *name;
  int dtype;
  unsigned bits;
} st_dtype;

/* clang-format off */
static const st_dtype st_dtypes[] = {
    {"BOOL", TCODEC_BOOL, 8}, {"F4", 0, 4}, {"F6_E2M3", 0, 6}, {"F6_E3M2", 0, 6},
    {"U8", TCODEC_U8, 8}, {"I8", TCODEC_I8, 8}, {"F8_E5M2", TCODEC_F8_E5M2, 8},
    {"F8_E4M3", TCODEC_F8_E4M3, 8}, {"F8_E8M0", 0, 8}, {"I16", TCODEC_I16, 16},
    {"U16", TCODEC_U16, 16}, {"F16", TCODEC_F16, 16}, {"BF16", TCODEC_BF16, 16},
    {"I32", TCODEC_I32, 32}, {"U32", TCODEC_U32, 32}, {"F32", TCODEC_F32, 32},
    {"C64", 0, 64}, {"F64", TCODEC_F64, 64}, {"I64", TCODEC_I64, 64}, {"U64", TCODEC_U64, 64}};
/* clang-format on */
#define ST_NDTYPES (sizeof(st_dtypes) / sizeof(st_dtypes[0]))

static const st_dtype *st_dtype_by_name(const char *name) {
  for (size_t i = 0; i < ST_NDTYPES; i++)
    if (strcmp(st_dtypes[i].name, name) == 0) return &st_dtypes[i];
  return NULL;
}

static const st_dtype *st_dtype_by_id(int dtype) {
  for (size_t i = 0; i < ST_NDTYPES; i++)
    if (dtype != 0 && st_dtypes[i].dtype == dtype) return &st_dtypes[i];
  return NULL;
}

int tcf_safetensors_dtype_from_name(const char *name) {
  const st_dtype *d = name ? st_dtype_by_name(name) : NULL;
  return d && d->dtype ? d->dtype : TCODEC_DTYPE_INVALID;
}

const char *tcf_safetensors_dtype_name(int dtype) {
  const st_dtype *d = st_dtype_by_id(dtype);
  return d ? d->name : NULL;
}

/* ---- small helpers -------------------------------------------------------------- */

static uint64_t st_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static int st_mul(uint64_t a, uint64_t b, uint64_t *out) {
  if (a != 0 && b > UINT64_MAX / a) return -1;
  *out = a * b;
  return 0;
}

static int st_json_u64(const json_t *v, uint64_t *out) {
  if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

static int st_cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- opaque dtypes: the shape as compact JSON text ------------------------------
 * "[4,3]", "[]" for a scalar: TCF_MAX_NDIM numbers of at most 20 digits. */
#define ST_SHAPE_TEXT_MAX (2 + TCF_MAX_NDIM * 21 + 1)

static void st_shape_text(const uint64_t *shape, unsigned ndim, char *out) {
  size_t n = 0;
  out[n++] = '[';
  for (unsigned i = 0; i < ndim; i++)
    n += (size_t)snprintf(out + n, ST_SHAPE_TEXT_MAX - n, "%s%" PRIu64, i ? "," : "", shape[i]);
  out[n++] = ']';
  out[n] = '\0';
}

/* Inverse of st_shape_text; only its exact output is accepted (no spaces, no
 * sign, no leading zeros, at most TCF_MAX_NDIM dimensions). 0 or -1. */
static int st_shape_parse(const char *s, uint64_t *shape, unsigned *ndim) {
  char again[ST_SHAPE_TEXT_MAX];
  const char *p = s;
  *ndim = 0;
  if (strlen(s) >= ST_SHAPE_TEXT_MAX || *p++ != '[') return -1;
  while (*p != ']') {
    uint64_t v = 0;
    if (*ndim == TCF_MAX_NDIM || (*ndim > 0 && *p++ != ',') || *p < '0' || *p > '9') return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
      if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) return -1;
      v = v * 10 + (uint64_t)(*p - '0');
    }
    shape[(*ndim)++] = v;
  }
  if (p[1] != '\0') return -1;
  st_shape_text(shape, *ndim, again);
  return strcmp(again, s) == 0 ? 0 : -1;
}

/* ---- header parsing ------------------------------------------------------------- */

typedef struct st_entry {
  const char *name;   /* owned by the JSON tree */
  size_t key_index;   /* among the header's top-level keys */
  const st_dtype *st; /* the safetensors dtype */
  int dtype;          /* its tcodec dtype; TCODEC_U8 for an opaque one */
  unsigned ndim;
  uint64_t shape[TCF_MAX_NDIM];
  uint64_t nelem, begin, end;
} st_entry;

typedef struct st_hdr {
  const uint8_t *src; /* the file, or a header section */
  size_t src_size;
  uint64_t json_len; /* N */
  json_t *root;
  json_t *meta; /* __metadata__ object, NULL if absent or null */
  st_entry *e;  /* tensors, sorted by data offset once checked */
  size_t n;
  const char *file;
  tcf_error *err;
  tcf_limits lim;
} st_hdr;

static uint64_t st_at_key(const st_hdr *h, size_t top, size_t sub) {
  return 8 + tcf_json_key_pos(h->src + 8, (size_t)h->json_len, top, sub);
}

static uint64_t st_at_data(const st_hdr *h, uint64_t off) { return 8 + h->json_len + off; }

static int st_prefix(st_hdr *h) {
  if (h->src_size > h->lim.max_file_bytes)
    return ST_FAIL(h, TCODEC_E_LIMIT, 0, "file is %zu bytes, over the limit of %" PRIu64,
                   h->src_size, h->lim.max_file_bytes);
  if (h->src_size < 8)
    return ST_FAIL(h, TCODEC_E_TRUNCATED, h->src_size,
                   "file is %zu bytes, shorter than the 8-byte header length", h->src_size);
  uint64_t n = st_le64(h->src);
  if (n > h->lim.max_header_bytes)
    return ST_FAIL(h, TCODEC_E_LIMIT, 0,
                   "header length %" PRIu64 " is over the limit of %" PRIu64 " bytes", n,
                   h->lim.max_header_bytes);
  if (n > h->src_size - 8)
    return ST_FAIL(h, TCODEC_E_TRUNCATED, h->src_size,
                   "header length %" PRIu64 " runs past the end of the file (%zu bytes)", n,
                   h->src_size);
  h->json_len = n;
  return TCODEC_OK;
}

/* h->root = the JSON object at json[0..len), which lies at file offset `base`. */
static int st_json_load(st_hdr *h, const uint8_t *json, size_t len, uint64_t base,
                        const char *what) {
  size_t bad = 0;
  json_error_t je;
  if (!tcf_utf8_valid(json, len, &bad))
    return ST_FAIL(h, TCODEC_E_PAYLOAD, base + bad, "%s is not valid UTF-8", what);
  h->root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &je);
  if (h->root == NULL && json_error_code(&je) == json_error_out_of_memory)
    return ST_FAIL(h, TCODEC_E_NOMEM, UINT64_MAX, "out of memory parsing the %s", what);
  if (h->root == NULL)
    return ST_FAIL(h, TCODEC_E_PAYLOAD, base + (uint64_t)(je.position > 0 ? je.position : 0),
                   "%s is not valid JSON: %s", what, je.text);
  if (!json_is_object(h->root))
    return ST_FAIL(h, TCODEC_E_PAYLOAD, base, "%s is not a JSON object", what);
  return TCODEC_OK;
}

static int st_text(st_hdr *h) {
  if (h->json_len == 0 || h->src[8] != '{')
    return ST_FAIL(h, TCODEC_E_PAYLOAD, 8, "header does not start with '{'");
  return st_json_load(h, h->src + 8, (size_t)h->json_len, 8, "header");
}

static int st_parse_meta(st_hdr *h, json_t *v, size_t k) {
  if (json_is_null(v)) return TCODEC_OK; /* the reference reader takes null as "none" */
  if (!json_is_object(v))
    return ST_FAIL(h, TCODEC_E_PAYLOAD, st_at_key(h, k, ST_NONE), "__metadata__ is not an object");
  const char *key;
  json_t *val;
  size_t j = 0;
  json_object_foreach(v, key, val) {
    if (!json_is_string(val))
      return ST_FAIL(h, TCODEC_E_PAYLOAD, st_at_key(h, k, j),
                     "__metadata__ value of '%s' is not a string", SHOW(key));
    j++;
  }
  h->meta = v;
  return TCODEC_OK;
}

static int st_parse_dtype(st_hdr *h, st_entry *e, const json_t *d, uint64_t at) {
  if (!json_is_string(d))
    return ST_FAIL(h, TCODEC_E_PAYLOAD, at, "tensor '%s': \"dtype\" missing or not a string",
                   SHOW(e->name));
  const st_dtype *t = st_dtype_by_name(json_string_value(d));
  if (t == NULL)
    return ST_FAIL(h, TCODEC_E_UNSUPPORTED_DTYPE, at, "tensor '%s': unknown dtype '%s'",
                   SHOW(e->name), SHOW(json_string_value(d)));
  e->st = t;
  e->dtype = t->dtype ? t->dtype : TCODEC_U8; /* no equivalent: opaque bytes */
  return TCODEC_OK;
}

/* Shape and element count; the running product is overflow-checked as the
 * reference does (so [2^40, 2^40, 0] overflows). */
static int st_parse_shape(st_hdr *h, st_entry *e, const json_t *s, uint64_t at) {
  if (!json_is_array(s))
    return ST_FAIL(h, TCODEC_E_PAYLOAD, at, "tensor '%s': \"shape\" missing or not an array",
                   SHOW(e->name));
  size_t nd = json_array_size(s);
  if (nd > TCF_MAX_NDIM)
    return ST_FAIL(h, TCODEC_E_LIMIT, at, "tensor '%s': %zu dimensions, over the limit of %d",
                   SHOW(e->name), nd, TCF_MAX_NDIM);
  e->ndim = (unsigned)nd;
  e->nelem = 1;
  for (size_t i = 0; i < nd; i++) {
    if (st_json_u64(json_array_get(s, i), &e->shape[i]) != 0)
      return ST_FAIL(h, TCODEC_E_PAYLOAD, at,
                     "tensor '%s': dimension %zu is not an unsigned integer", SHOW(e->name), i);
    if (st_mul(e->nelem, e->shape[i], &e->nelem) != 0)
      return ST_FAIL(h, TCODEC_E_OVERFLOW, at, "tensor '%s': element count overflows 64 bits",
                     SHOW(e->name));
  }
  return TCODEC_OK;
}

static int st_parse_offsets(st_hdr *h, st_entry *e, const json_t *o, uint64_t at) {
  if (!json_is_array(o) || json_array_size(o) != 2 ||
      st_json_u64(json_array_get(o, 0), &e->begin) != 0 ||
      st_json_u64(json_array_get(o, 1), &e->end) != 0)
    return ST_FAIL(h, TCODEC_E_PAYLOAD, at,
                   "tensor '%s': \"data_offsets\" is not two unsigned integers", SHOW(e->name));
  if (e->begin > e->end)
    return ST_FAIL(h, TCODEC_E_PAYLOAD, at,
                   "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] begin after end",
                   SHOW(e->name), e->begin, e->end);
  return TCODEC_OK;
}

/* As the reference: the size is counted in bits (elements x bitsize,
 * overflow-checked), must be whole bytes, and equal the span. */
static int st_check_span(st_hdr *h, const st_entry *e, uint64_t at) {
  uint64_t bits;
  if (st_mul(e->nelem, e->st->bits, &bits) != 0)
    return ST_FAIL(h, TCODEC_E_OVERFLOW, at,
                   "tensor '%s': byte size overflows 64 bits (counted in bits)", SHOW(e->name));
  if (bits % 8 != 0)
    return ST_FAIL(h, TCODEC_E_PAYLOAD, st_at_data(h, e->begin),
                   "tensor '%s': %" PRIu64 " elements of %s are %" PRIu64
                   " bits, not a whole number of bytes",
                   SHOW(e->name), e->nelem, e->st->name, bits);
  if (e->end - e->begin != bits / 8)
    return ST_FAIL(h, TCODEC_E_PAYLOAD, st_at_data(h, e->begin),
                   "tensor '%s': %" PRIu64 " elements of %s need %" PRIu64
                   " bytes but data_offsets span %" PRIu64,
                   SHOW(e->name), e->nelem, e->st->name, bits / 8, e->end - e->begin);
  return TCODEC_OK;
}

static int st_parse_entry(st_hdr *h, const char *key, json_t *v, size_t k, st_entry *e) {
  uint64_t at = st_at_key(h, k, ST_NONE);
  e->name = key;
  e->key_index = k;
  if (!json_is_object(v))
    return ST_FAIL(h, TCODEC_E_PAYLOAD, at, "tensor '%s' is not a JSON object", SHOW(key));
  int rc = st_parse_dtype(h, e, json_object_get(v, "dtype"), at);
  if (rc == 0) rc = st_parse_shape(h, e, json_object_get(v, "shape"), at);
  if (rc == 0) rc = st_parse_offsets(h, e, json_object_get(v, "data_offsets"), at);
  if (rc == 0) rc = st_check_span(h, e, at);
  return rc;
}

static int st_entries(st_hdr *h) {
  json_t *meta = json_object_get(h->root, "__metadata__");
  size_t n = json_object_size(h->root) - (meta != NULL);
  if (n > h->lim.max_tensors)
    return ST_FAIL(h, TCODEC_E_LIMIT, 8, "%zu tensors, over the limit of %" PRIu64, n,
                   h->lim.max_tensors);
  h->e = calloc(n ? n : 1, sizeof(st_entry));
  if (h->e == NULL) return ST_FAIL(h, TCODEC_E_NOMEM, UINT64_MAX, "out of memory");
  const char *key;
  json_t *v;
  size_t k = 0;
  json_object_foreach(h->root, key, v) {
    int rc = strcmp(key, "__metadata__") == 0 ? st_parse_meta(h, v, k)
                                              : st_parse_entry(h, key, v, k, &h->e[h->n++]);
    if (rc != 0) return rc;
    k++;
  }
  return TCODEC_OK;
}

static int st_cmp_entry(const void *a, const void *b) {
  const st_entry *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return x->key_index < y->key_index ? -1 : x->key_index > y->key_index;
}

/* In data order, each tensor must start where the previous one ended. With
 * whole_file, the last must end exactly at the end of the file. */
static int st_layout(st_hdr *h, int whole_file) {
  if (h->n > 1) qsort(h->e, h->n, sizeof(st_entry), st_cmp_entry);
  uint64_t pos = 0;
  for (size_t i = 0; i < h->n; i++) {
    const st_entry *e = &h->e[i];
    if (e->begin < pos)
      return ST_FAIL(h, TCODEC_E_PAYLOAD, st_at_data(h, e->begin),
                     "tensor '%s' data [%" PRIu64 ", %" PRIu64 ") overlaps tensor '%s'",
                     SHOW(e->name), e->begin, e->end, SHOW(h->e[i - 1].name));
    if (e->begin > pos)
      return ST_FAIL(h, TCODEC_E_PAYLOAD, st_at_data(h, pos),
                     "data bytes [%" PRIu64 ", %" PRIu64 ") before tensor '%s' belong to no tensor",
                     pos, e->begin, SHOW(e->name));
    pos = e->end;
  }
  uint64_t avail = h->src_size - 8 - h->json_len;
  if (!whole_file && avail != 0)
    return ST_FAIL(h, TCODEC_E_PAYLOAD, 8 + h->json_len, "header section has trailing bytes");
  if (!whole_file) return TCODEC_OK;
  if (pos > avail)
    return ST_FAIL(h, TCODEC_E_TRUNCATED, h->src_size,
                   "the header describes %" PRIu64 " data bytes but the file holds %" PRIu64
                   " (truncated, or offsets out of bounds)",
                   pos, avail);
  if (pos < avail)
    return ST_FAIL(h, TCODEC_E_PAYLOAD, st_at_data(h, pos),
                   "%" PRIu64 " bytes after the last tensor belong to no tensor", avail - pos);
  return TCODEC_OK;
}

static void st_hdr_init(st_hdr *h, const uint8_t *src, size_t size, const char *file,
                        const tcf_limits *lim, tcf_error *err) {
  memset(h, 0, sizeof(*h));
  h->src = src;
  h->src_size = size;
  h->file = file;
  h->err = err;
  tcf_limits_resolve(lim, &h->lim);
}

static void st_hdr_free(st_hdr *h) {
  free(h->e);
  if (h->root) json_decref(h->root);
}

/* Parse and check a header; whole_file: src is a file (else a header section). */
static int st_hdr_load(st_hdr *h, int whole_file) {
  int rc = st_prefix(h);
  if (rc == 0) rc = st_text(h);
  if (rc == 0) rc = st_entries(h);
  if (rc == 0) rc = st_layout(h, whole_file);
  return rc;
}

/* ---- single-file parse ---------------------------------------------------------- */

static int st_build_tensors(const st_hdr *h, tcf_model *out) {
  out->tensors = calloc(h->n ? h->n : 1, sizeof(tcf_tensor));
  if (out->tensors == NULL) return TCODEC_E_NOMEM;
  const uint8_t *data = h->src + 8 + h->json_len;
  for (size_t i = 0; i < h->n; i++) {
    const st_entry *e = &h->e[i];
    tcf_tensor *t = &out->tensors[out->ntensors];
    if ((t->name = tcf_strdup(e->name)) == NULL) return TCODEC_E_NOMEM;
    out->ntensors++;
    t->dtype = e->dtype;
    t->ndim = e->ndim;
    memcpy(t->shape, e->shape, e->ndim * sizeof(uint64_t));
    t->nelem = e->nelem;
    t->data = data + (size_t)e->begin;
    t->size = e->end - e->begin;
    t->consumer_input = -1;  /* safetensors does not know the consumers */
    if (e->st->dtype == 0) { /* opaque: the bytes as U8, dtype and shape as meta */
      char text[ST_SHAPE_TEXT_MAX];
      st_shape_text(e->shape, e->ndim, text);
      t->ndim = 1;
      t->shape[0] = t->nelem = t->size;
      if (tcf_tensor_add_meta(t, TCF_ST_DTYPE_META, e->st->name) != 0 ||
          tcf_tensor_add_meta(t, TCF_ST_SHAPE_META, text) != 0)
        return TCODEC_E_NOMEM;
    }
  }
  return TCODEC_OK;
}

/* The __metadata__ entries, in file order (arrays sized once: a header may
 * hold millions of them). */
static int st_build_meta(const st_hdr *h, tcf_model *out) {
  size_t n = h->meta ? json_object_size(h->meta) : 0;
  const char *key;
  json_t *val;
  if (n == 0) return TCODEC_OK;
  out->meta_keys = calloc(n, sizeof(char *));
  out->meta_values = calloc(n, sizeof(char *));
  if (out->meta_keys == NULL || out->meta_values == NULL) return TCODEC_E_NOMEM;
  json_object_foreach(h->meta, key, val) {
    char *k = tcf_strdup(key), *v = tcf_strdup(json_string_value(val));
    out->meta_keys[out->meta_count] = k;
    out->meta_values[out->meta_count++] = v;
    if (k == NULL || v == NULL) return TCODEC_E_NOMEM;
  }
  return TCODEC_OK;
}

static int st_build(const st_hdr *h, tcf_model *out) {
  memcpy(out->format, "safetensors", sizeof("safetensors"));
  int rc = st_build_tensors(h, out);
  if (rc == 0) rc = st_build_meta(h, out);
  if (rc == 0)
    rc = tcf_model_add_section(out, TCF_ST_HEADER_SECTION, h->src, (size_t)(8 + h->json_len));
  if (rc != 0) return ST_FAIL(h, rc, UINT64_MAX, "out of memory building the model");
  return TCODEC_OK;
}

int tcf_safetensors_parse(const uint8_t *src, size_t src_size, const char *file_name,
                          const tcf_limits *lim, tcf_model *out, tcf_error *err) {
  tcf_error_clear(err, file_name);
  if (out) memset(out, 0, sizeof(*out));
  if (out == NULL || (src == NULL && src_size != 0))
    return tcf_error_set(err, TCODEC_E_ARG, NULL, UINT64_MAX, "no model or no input");
  st_hdr h;
  st_hdr_init(&h, src, src_size, file_name, lim, err);
  int rc = st_hdr_load(&h, 1);
  if (rc == 0) rc = st_build(&h, out);
  if (rc != 0) tcf_model_free(out);
  st_hdr_free(&h);
  return rc;
}

/* ---- writing ------------------------------------------------------------------ */

typedef struct st_out {
  tcodec_write_fn fn;
  void *user;
  tcf_error *err;
  const char *file; /* what errors name */
} st_out;

#define OUT_FAIL(o, code, ...) tcf_error_set((o)->err, (code), (o)->file, UINT64_MAX, __VA_ARGS__)

static int st_emit(st_out *o, const void *p, size_t n) {
  if (n == 0) return TCODEC_OK;
  if (o->fn(o->user, p, n) != 0) return OUT_FAIL(o, TCODEC_E_IO, "write failed");
  return TCODEC_OK;
}

static int st_cmp_tensor_name(const void *a, const void *b) {
  const tcf_tensor *x = *(const tcf_tensor *const *)a, *y = *(const tcf_tensor *const *)b;
  return strcmp(x->name, y->name);
}

/* The tensors to write (all, or those tagged with `shard`), sorted by name,
 * each with a name and bytes, no name twice. */
static int st_select(const tcf_model *m, const char *shard, st_out *o, const tcf_tensor ***sel,
                     size_t *n) {
  *n = 0;
  *sel = malloc((m->ntensors ? m->ntensors : 1) * sizeof(**sel));
  if (*sel == NULL) return OUT_FAIL(o, TCODEC_E_NOMEM, "out of memory");
  for (size_t i = 0; i < m->ntensors; i++) {
    const tcf_tensor *t = &m->tensors[i];
    if (t->name == NULL || (t->data == NULL && t->size != 0))
      return OUT_FAIL(o, TCODEC_E_ARG, "tensor %zu has no name or no data", i);
    const char *s = tcf_tensor_find_meta(t, TCF_ST_SHARD_META);
    if (shard == NULL || (s != NULL && strcmp(s, shard) == 0)) (*sel)[(*n)++] = t;
  }
  if (*n > 1) qsort((void *)*sel, *n, sizeof(**sel), st_cmp_tensor_name);
  for (size_t i = 1; i < *n; i++)
    if (strcmp((*sel)[i - 1]->name, (*sel)[i]->name) == 0)
      return OUT_FAIL(o, TCODEC_E_PAYLOAD, "two tensors named '%s'", SHOW((*sel)[i]->name));
  return TCODEC_OK;
}

/* bsearch: a name against a tensor pointer of an array sorted by name. */
static int st_cmp_name_tensor(const void *name, const void *t) {
  return strcmp(name, (*(const tcf_tensor *const *)t)->name);
}

/* The tensor is what parsing header entry e gives: for an opaque dtype, U8
 * bytes [end - begin] whose meta names e's dtype and shape; else no such meta. */
static int st_same(const st_entry *e, const tcf_tensor *t) {
  const char *md = tcf_tensor_find_meta(t, TCF_ST_DTYPE_META);
  const char *ms = tcf_tensor_find_meta(t, TCF_ST_SHAPE_META);
  uint64_t bytes = e->end - e->begin;
  if (e->st->dtype != 0)
    return md == NULL && ms == NULL && t->dtype == e->dtype && t->ndim == e->ndim &&
           t->size == bytes && memcmp(t->shape, e->shape, e->ndim * sizeof(uint64_t)) == 0;
  char text[ST_SHAPE_TEXT_MAX];
  st_shape_text(e->shape, e->ndim, text);
  return md != NULL && ms != NULL && strcmp(md, e->st->name) == 0 && strcmp(ms, text) == 0 &&
         t->dtype == TCODEC_U8 && t->ndim == 1 && t->shape[0] == bytes && t->size == bytes;
}

/* ord[i] = the tensor of header entry i; every selected tensor used once. */
static int st_match(const st_hdr *h, const tcf_tensor **sel, size_t n, st_out *o,
                    const tcf_tensor **ord) {
  for (size_t i = 0; i < h->n; i++) {
    const tcf_tensor **hit = bsearch(h->e[i].name, sel, n, sizeof(*sel), st_cmp_name_tensor);
    if (hit == NULL)
      return OUT_FAIL(o, TCODEC_E_PAYLOAD, "tensor '%s' of the header is not in the model",
                      SHOW(h->e[i].name));
    if (!st_same(&h->e[i], *hit))
      return OUT_FAIL(o, TCODEC_E_PAYLOAD,
                      "tensor '%s' differs in dtype, shape or size from "
                      "the header",
                      SHOW(h->e[i].name));
    ord[i] = *hit;
  }
  if (n != h->n)
    return OUT_FAIL(o, TCODEC_E_PAYLOAD, "the model has %zu tensors, the header %zu", n, h->n);
  return TCODEC_OK;
}

static int st_write_verbatim(const tcf_section *sec, const tcf_tensor **sel, size_t n, st_out *o) {
  /* The section is memory we already hold: no limit beyond its size. */
  tcf_limits lim = {UINT64_MAX, UINT64_MAX, UINT64_MAX};
  st_hdr h;
  st_hdr_init(&h, sec->data, sec->size, sec->type, &lim, o->err);
  int rc = st_hdr_load(&h, 0);
  const tcf_tensor **ord = NULL;
  if (rc == 0) {
    ord = malloc((h.n ? h.n : 1) * sizeof(*ord));
    rc = ord ? st_match(&h, sel, n, o, ord) : OUT_FAIL(o, TCODEC_E_NOMEM, "out of memory");
  }
  if (rc == 0) rc = st_emit(o, sec->data, sec->size);
  for (size_t i = 0; rc == 0 && i < h.n; i++) rc = st_emit(o, ord[i]->data, (size_t)ord[i]->size);
  free(ord);
  st_hdr_free(&h);
  return rc;
}

/* ---- reference-style header ------------------------------------------------------- */

static int st_text_ok(const char *s) { return tcf_utf8_valid((const uint8_t *)s, strlen(s), NULL); }

/* What a tensor is in safetensors terms: its dtype and shape, restored from
 * the "safetensors.dtype"/"safetensors.shape" meta for opaque bytes. */
typedef struct st_view {
  const st_dtype *st;
  unsigned ndim;
  uint64_t shape[TCF_MAX_NDIM];
} st_view;

static int st_view_opaque(const tcf_tensor *t, const char *md, st_view *v, st_out *o) {
  const char *ms = tcf_tensor_find_meta(t, TCF_ST_SHAPE_META);
  uint64_t nelem = 1, bits;
  v->st = md ? st_dtype_by_name(md) : NULL;
  if (v->st == NULL || v->st->dtype != 0)
    return OUT_FAIL(o, TCODEC_E_UNSUPPORTED_DTYPE,
                    "tensor '%s': " TCF_ST_DTYPE_META " '%s' is not a safetensors dtype "
                    "without tcodec equivalent (F4, F6_E2M3, F6_E3M2, F8_E8M0, C64)",
                    SHOW(t->name), SHOW(md ? md : "(missing)"));
  if (t->dtype != TCODEC_U8 || t->ndim != 1 || t->shape[0] != t->size || t->nelem != t->size)
    return OUT_FAIL(o, TCODEC_E_PAYLOAD,
                    "tensor '%s': %s is carried as U8 bytes of shape [%" PRIu64
                    "], the tensor is not",
                    SHOW(t->name), v->st->name, t->size);
  if (ms == NULL || st_shape_parse(ms, v->shape, &v->ndim) != 0)
    return OUT_FAIL(o, TCODEC_E_PAYLOAD,
                    "tensor '%s': " TCF_ST_SHAPE_META " '%s' is not a compact JSON array of "
                    "at most %d unsigned integers",
                    SHOW(t->name), SHOW(ms ? ms : "(missing)"), TCF_MAX_NDIM);
  for (unsigned i = 0; i < v->ndim; i++)
    if (st_mul(nelem, v->shape[i], &nelem) != 0) nelem = UINT64_MAX;
  if (st_mul(nelem, v->st->bits, &bits) != 0 || bits % 8 != 0 || bits / 8 != t->size)
    return OUT_FAIL(o, TCODEC_E_PAYLOAD,
                    "tensor '%s': shape %s of %s does not fill its %" PRIu64 " bytes",
                    SHOW(t->name), SHOW(ms), v->st->name, t->size);
  return TCODEC_OK;
}

static int st_view_of(const tcf_tensor *t, st_view *v, st_out *o) {
  const char *md = tcf_tensor_find_meta(t, TCF_ST_DTYPE_META);
  if (md != NULL || tcf_tensor_find_meta(t, TCF_ST_SHAPE_META) != NULL)
    return st_view_opaque(t, md, v, o);
  v->st = st_dtype_by_id(t->dtype);
  if (v->st == NULL)
    return OUT_FAIL(o, TCODEC_E_UNSUPPORTED_DTYPE, "tensor '%s': dtype %d has no safetensors name",
                    SHOW(t->name), t->dtype);
  v->ndim = t->ndim <= TCF_MAX_NDIM ? t->ndim : 0;
  memcpy(v->shape, t->shape, v->ndim * sizeof(uint64_t));
  return TCODEC_OK;
}

/* A tensor the reference writer could have written: safetensors dtype, shape
 * and size consistent, a name that is not the reserved key. */
static int st_check_out(const tcf_tensor *t, st_out *o) {
  uint64_t nelem = 1, bytes;
  st_view v;
  int rc = st_view_of(t, &v, o);
  if (rc != 0) return rc;
  if (t->ndim > TCF_MAX_NDIM || !st_text_ok(t->name) || strcmp(t->name, "__metadata__") == 0)
    return OUT_FAIL(o, TCODEC_E_PAYLOAD, "tensor '%s': bad name or ndim", SHOW(t->name));
  for (unsigned i = 0; i < t->ndim; i++)
    if (st_mul(nelem, t->shape[i], &nelem) != 0) nelem = UINT64_MAX;
  if (st_mul(nelem, tcodec_dtype_size(t->dtype), &bytes) != 0 || bytes != t->size ||
      nelem != t->nelem)
    return OUT_FAIL(o, TCODEC_E_PAYLOAD, "tensor '%s': %" PRIu64 " bytes do not match its shape",
                    SHOW(t->name), t->size);
  return TCODEC_OK;
}

/* Rank of a checked tensor's safetensors dtype in the reference enum. */
static ptrdiff_t st_rank(const tcf_tensor *t) {
  const char *md = tcf_tensor_find_meta(t, TCF_ST_DTYPE_META);
  const st_dtype *d = md ? st_dtype_by_name(md) : st_dtype_by_id(t->dtype);
  return d - st_dtypes;
}

static int st_cmp_canonical(const void *a, const void *b) {
  const tcf_tensor *x = *(const tcf_tensor *const *)a, *y = *(const tcf_tensor *const *)b;
  ptrdiff_t rx = st_rank(x), ry = st_rank(y);
  if (rx != ry) return rx > ry ? -1 : 1;
  return strcmp(x->name, y->name);
}

/* Metadata fit for __metadata__: UTF-8 text, no key twice (checked sorted:
 * a model from a hostile .tc may hold very many entries). */
static int st_check_meta(const tcf_model *m, st_out *o) {
  const char **keys = malloc((m->meta_count ? m->meta_count : 1) * sizeof(char *));
  int rc = keys ? TCODEC_OK : OUT_FAIL(o, TCODEC_E_NOMEM, "out of memory");
  for (size_t i = 0; rc == 0 && i < m->meta_count; i++) {
    keys[i] = m->meta_keys[i];
    if (keys[i] == NULL || m->meta_values[i] == NULL || !st_text_ok(keys[i]) ||
        !st_text_ok(m->meta_values[i]))
      rc = OUT_FAIL(o, TCODEC_E_PAYLOAD, "metadata entry %zu is missing or not UTF-8", i);
  }
  if (rc == 0 && m->meta_count > 1) qsort((void *)keys, m->meta_count, sizeof(char *), st_cmp_str);
  for (size_t i = 1; rc == 0 && i < m->meta_count; i++)
    if (strcmp(keys[i - 1], keys[i]) == 0)
      rc = OUT_FAIL(o, TCODEC_E_PAYLOAD, "metadata key '%s' twice", SHOW(keys[i]));
  free((void *)keys);
  return rc;
}

static void st_put_meta(tcf_buf *b, const tcf_model *m) {
  if (m->meta_count == 0) return;
  tcf_buf_puts(b, "\"__metadata__\":{");
  for (size_t i = 0; i < m->meta_count; i++) {
    if (i) tcf_buf_puts(b, ",");
    tcf_buf_put_json_string(b, m->meta_keys[i]);
    tcf_buf_puts(b, ":");
    tcf_buf_put_json_string(b, m->meta_values[i]);
  }
  tcf_buf_puts(b, "}");
}

static void st_put_tensor(tcf_buf *b, const tcf_tensor *t, const st_view *v, uint64_t begin) {
  tcf_buf_put_json_string(b, t->name);
  tcf_buf_puts(b, ":{\"dtype\":\"");
  tcf_buf_puts(b, v->st->name);
  tcf_buf_puts(b, "\",\"shape\":[");
  for (unsigned i = 0; i < v->ndim; i++) {
    if (i) tcf_buf_puts(b, ",");
    tcf_buf_put_u64(b, v->shape[i]);
  }
  tcf_buf_puts(b, "],\"data_offsets\":[");
  tcf_buf_put_u64(b, begin);
  tcf_buf_puts(b, ",");
  tcf_buf_put_u64(b, begin + t->size);
  tcf_buf_puts(b, "]}");
}

/* The header as the reference writer lays it out: 8-byte length, then the
 * compact JSON padded with spaces to a multiple of 8. */
static int st_canonical_header(const tcf_model *m, const tcf_tensor **sel, size_t n, st_out *o,
                               tcf_buf *b) {
  static const char pad[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
  uint64_t off = 0;
  tcf_buf_put(b, pad, 8); /* room for the length */
  tcf_buf_puts(b, "{");
  st_put_meta(b, m);
  int rc = TCODEC_OK;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    st_view v;
    rc = st_view_of(sel[i], &v, o); /* checked already: cannot fail */
    if (rc != 0) break;
    if (i || m->meta_count) tcf_buf_puts(b, ",");
    st_put_tensor(b, sel[i], &v, off);
    off += sel[i]->size; /* cannot wrap: the sizes describe bytes held in memory */
  }
  tcf_buf_puts(b, "}");
  if (rc == 0 && !b->oom) tcf_buf_put(b, pad, (8 - b->n % 8) % 8);
  if (rc == 0 && b->oom) rc = OUT_FAIL(o, TCODEC_E_NOMEM, "out of memory");
  if (rc == 0 && b->n - 8 > TCF_DEFAULT_MAX_HEADER_BYTES)
    rc = OUT_FAIL(o, TCODEC_E_LIMIT, "header of %zu bytes is over the limit", b->n - 8);
  for (int i = 0; rc == 0 && i < 8; i++) b->p[i] = (char)(((uint64_t)(b->n - 8) >> (8 * i)) & 255);
  return rc;
}

static int st_write_canonical(const tcf_model *m, const tcf_tensor **sel, size_t n, st_out *o) {
  int rc = TCODEC_OK;
  for (size_t i = 0; rc == 0 && i < n; i++) rc = st_check_out(sel[i], o);
  if (rc == 0) rc = st_check_meta(m, o);
  if (rc != 0) return rc;
  if (n > 1) qsort((void *)sel, n, sizeof(*sel), st_cmp_canonical);
  tcf_buf b = {NULL, 0, 0, 0};
  rc = st_canonical_header(m, sel, n, o, &b);
  if (rc == 0) rc = st_emit(o, b.p, b.n);
  for (size_t i = 0; rc == 0 && i < n; i++) rc = st_emit(o, sel[i]->data, (size_t)sel[i]->size);
  tcf_buf_free(&b);
  return rc;
}

/* Write the tensors of `shard` (NULL: all) under header section `type`, or a
 * reference-style header when the model has no such section. */
static int st_write_file(const tcf_model *m, const char *shard, const char *type,
                         tcodec_write_fn fn, void *user, tcf_error *err) {
  st_out o = {fn, user, err, type};
  tcf_error_clear(err, type);
  if (m == NULL || fn == NULL) return OUT_FAIL(&o, TCODEC_E_ARG, "no model or no output");
  const tcf_section *sec = tcf_model_find_section(m, type);
  const tcf_tensor **sel = NULL;
  size_t n = 0;
  int rc = st_select(m, shard, &o, &sel, &n);
  if (rc == 0 && sec == NULL && shard != NULL && n == 0)
    rc = OUT_FAIL(&o, TCODEC_E_NOT_FOUND, "no shard named '%s'", SHOW(shard));
  if (rc == 0) rc = sec ? st_write_verbatim(sec, sel, n, &o) : st_write_canonical(m, sel, n, &o);
  free((void *)sel);
  return rc;
}

int tcf_safetensors_write(const tcf_model *m, tcodec_write_fn fn, void *user, tcf_error *err) {
  return st_write_file(m, NULL, TCF_ST_HEADER_SECTION, fn, user, err);
}

int tcf_safetensors_write_shard(const tcf_model *m, const char *shard_file, tcodec_write_fn fn,
                                void *user, tcf_error *err) {
  char type[sizeof(TCF_ST_SHARD_HEADER_PREFIX) + TCF_ST_MAX_SHARD_NAME];
  if (shard_file == NULL || strlen(shard_file) > TCF_ST_MAX_SHARD_NAME)
    return tcf_error_set(err, TCODEC_E_ARG, "", UINT64_MAX, "no shard name, or too long");
  snprintf(type, sizeof(type), "%s%s", TCF_ST_SHARD_HEADER_PREFIX, shard_file);
  return st_write_file(m, shard_file, type, fn, user, err);
}

/* ---- sharded checkpoints ------------------------------------------------------ */

void tcf_safetensors_index_free(tcf_safetensors_index *ix) {
  if (ix == NULL) return;
  for (size_t i = 0; ix->shards && i < ix->nshards; i++) free(ix->shards[i]);
  for (size_t i = 0; ix->names && i < ix->ntensors; i++) free(ix->names[i]);
  free(ix->shards);
  free(ix->names);
  free(ix->shard_of);
  memset(ix, 0, sizeof(*ix));
}

typedef struct st_pair {
  const char *name, *shard;
} st_pair;

static int st_cmp_pair(const void *a, const void *b) {
  return strcmp(((const st_pair *)a)->name, ((const st_pair *)b)->name);
}

/* Fill ix from pairs sorted by name: distinct sorted shards, then the map. */
static int st_index_fill(st_pair *pairs, size_t n, tcf_safetensors_index *ix) {
  const char **sh = malloc((n ? n : 1) * sizeof(char *));
  ix->shards = calloc(n ? n : 1, sizeof(char *));
  ix->names = calloc(n ? n : 1, sizeof(char *));
  ix->shard_of = calloc(n ? n : 1, sizeof(size_t));
  int rc = sh && ix->shards && ix->names && ix->shard_of ? TCODEC_OK : TCODEC_E_NOMEM;
  for (size_t i = 0; rc == 0 && i < n; i++) sh[i] = pairs[i].shard;
  if (rc == 0 && n > 1) qsort((void *)sh, n, sizeof(char *), st_cmp_str);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    if (i > 0 && strcmp(sh[i], sh[i - 1]) == 0) continue;
    if ((ix->shards[ix->nshards] = tcf_strdup(sh[i])) == NULL)
      rc = TCODEC_E_NOMEM;
    else
      ix->nshards++;
  }
  for (size_t i = 0; rc == 0 && i < n; i++) {
    char *const *hit =
        bsearch(&pairs[i].shard, ix->shards, ix->nshards, sizeof(char *), st_cmp_str);
    ix->shard_of[i] = (size_t)(hit - ix->shards);
    if ((ix->names[i] = tcf_strdup(pairs[i].name)) == NULL)
      rc = TCODEC_E_NOMEM;
    else
      ix->ntensors++;
  }
  free((void *)sh);
  return rc;
}

/* The weight_map (top-level key number `top` of h's JSON) into ix. */
static int st_weight_map(st_hdr *h, json_t *wm, size_t top, tcf_safetensors_index *ix) {
  size_t n = json_object_size(wm), j = 0;
  if (n > h->lim.max_tensors)
    return ST_FAIL(h, TCODEC_E_LIMIT, 0, "%zu tensors, over the limit of %" PRIu64, n,
                   h->lim.max_tensors);
  st_pair *pairs = malloc((n ? n : 1) * sizeof(st_pair));
  if (pairs == NULL) return ST_FAIL(h, TCODEC_E_NOMEM, UINT64_MAX, "out of memory");
  const char *key, *why = NULL;
  json_t *v;
  json_object_foreach(wm, key, v) {
    if (!json_is_string(v))
      why = "is not a string";
    else if ((why = tcf_relpath_problem(json_string_value(v), TCF_ST_MAX_SHARD_NAME)) == NULL)
      pairs[j].name = key, pairs[j].shard = json_string_value(v);
    if (why) break;
    j++;
  }
  int rc = TCODEC_OK;
  if (why)
    rc = ST_FAIL(h, TCODEC_E_PAYLOAD, tcf_json_key_pos(h->src, h->src_size, top, j),
                 "weight_map: shard file of tensor '%s' %s%s", SHOW(key),
                 json_is_string(v) ? "is not a safe relative path: " : "", why);
  if (rc == 0 && n > 1) qsort(pairs, n, sizeof(st_pair), st_cmp_pair);
  if (rc == 0 && st_index_fill(pairs, n, ix) != 0)
    rc = ST_FAIL(h, TCODEC_E_NOMEM, UINT64_MAX, "out of memory");
  free(pairs);
  return rc;
}

static int st_index_json(st_hdr *h, tcf_safetensors_index *out) {
  size_t top = 0;
  if (h->src_size > h->lim.max_header_bytes)
    return ST_FAIL(h, TCODEC_E_LIMIT, 0, "index of %zu bytes is over the limit of %" PRIu64,
                   h->src_size, h->lim.max_header_bytes);
  int rc = st_json_load(h, h->src, h->src_size, 0, "index");
  if (rc != 0) return rc;
  json_t *wm = json_object_get(h->root, "weight_map"), *v;
  const char *key;
  json_object_foreach(h->root, key, v) {
    if (v == wm) break;
    top++;
  }
  if (!json_is_object(wm))
    return ST_FAIL(h, TCODEC_E_PAYLOAD,
                   wm ? tcf_json_key_pos(h->src, h->src_size, top, ST_NONE) : 0,
                   "index has no \"weight_map\" object");
  return st_weight_map(h, wm, top, out);
}

int tcf_safetensors_parse_index(const uint8_t *src, size_t src_size, const char *file_name,
                                const tcf_limits *lim, tcf_safetensors_index *out, tcf_error *err) {
  tcf_error_clear(err, file_name);
  if (out) memset(out, 0, sizeof(*out));
  if (out == NULL || (src == NULL && src_size != 0))
    return tcf_error_set(err, TCODEC_E_ARG, NULL, UINT64_MAX, "no index or no input");
  st_hdr h;
  st_hdr_init(&h, src, src_size, file_name, lim, err);
  int rc = st_index_json(&h, out);
  if (rc != 0) tcf_safetensors_index_free(out);
  st_hdr_free(&h);
  return rc;
}

int tcf_safetensors_shards_begin(tcf_model *m, const uint8_t *index_src, size_t index_size,
                                 const char *index_file, const tcf_limits *lim,
                                 tcf_safetensors_index *ix, tcf_error *err) {
  if (m) memset(m, 0, sizeof(*m));
  if (m == NULL) return tcf_error_set(err, TCODEC_E_ARG, index_file, UINT64_MAX, "no model");
  int rc = tcf_safetensors_parse_index(index_src, index_size, index_file, lim, ix, err);
  if (rc != 0) return rc;
  memcpy(m->format, "safetensors", sizeof("safetensors"));
  if (tcf_model_add_section(m, TCF_ST_INDEX_SECTION, index_src, index_size) == 0) return 0;
  tcf_safetensors_index_free(ix);
  tcf_model_free(m);
  return tcf_error_set(err, TCODEC_E_NOMEM, index_file, UINT64_MAX, "out of memory");
}

/* Index in ix->names of `name`, or SIZE_MAX. */
static size_t st_index_find(const tcf_safetensors_index *ix, const char *name) {
  char *const *hit = bsearch(&name, ix->names, ix->ntensors, sizeof(char *), st_cmp_str);
  return hit ? (size_t)(hit - ix->names) : SIZE_MAX;
}

/* Every tensor of `part` must be mapped to shard `s`; tag each with it. */
static int st_shard_check(tcf_model *part, const tcf_safetensors_index *ix, size_t s,
                          tcf_error *err) {
  const char *sname = ix->shards[s];
  for (size_t i = 0; i < part->ntensors; i++) {
    const char *name = part->tensors[i].name;
    size_t k = st_index_find(ix, name);
    if (k == SIZE_MAX || ix->shard_of[k] != s)
      return tcf_error_set(
          err, TCODEC_E_PAYLOAD, sname, UINT64_MAX, "tensor '%s' of this shard is %s", SHOW(name),
          k == SIZE_MAX ? "not in the weight map" : "mapped to another shard by the weight map");
    if (tcf_tensor_add_meta(&part->tensors[i], TCF_ST_SHARD_META, sname) != 0)
      return tcf_error_set(err, TCODEC_E_NOMEM, sname, UINT64_MAX, "out of memory");
  }
  return TCODEC_OK;
}

/* Move the tensors, header and new metadata of `part` into m. */
static int st_shard_move(tcf_model *m, tcf_model *part, const char *type) {
  const tcf_section *hs = tcf_model_find_section(part, TCF_ST_HEADER_SECTION);
  size_t n = m->ntensors + part->ntensors;
  if (tcf_model_add_section(m, type, hs->data, hs->size) != 0) return TCODEC_E_NOMEM;
  tcf_tensor *t = realloc(m->tensors, (n ? n : 1) * sizeof(tcf_tensor));
  if (t == NULL) {
    tcf_section *last = &m->sections[--m->nsections];
    free(last->type);
    free(last->data);
    return TCODEC_E_NOMEM;
  }
  m->tensors = t;
  memcpy(t + m->ntensors, part->tensors, part->ntensors * sizeof(tcf_tensor));
  m->ntensors = n;
  part->ntensors = 0;
  return tcf_model_merge_meta(m, part);
}

int tcf_safetensors_shards_add(tcf_model *m, const tcf_safetensors_index *ix, size_t shard,
                               const uint8_t *src, size_t src_size, const tcf_limits *lim,
                               tcf_error *err) {
  if (m == NULL || ix == NULL || shard >= ix->nshards)
    return tcf_error_set(err, TCODEC_E_ARG, NULL, UINT64_MAX, "no model or no such shard");
  const char *sname = ix->shards[shard];
  char type[sizeof(TCF_ST_SHARD_HEADER_PREFIX) + TCF_ST_MAX_SHARD_NAME];
  snprintf(type, sizeof(type), "%s%s", TCF_ST_SHARD_HEADER_PREFIX, sname);
  if (tcf_model_find_section(m, type) != NULL)
    return tcf_error_set(err, TCODEC_E_PAYLOAD, sname, UINT64_MAX, "shard added twice");
  tcf_model part;
  tcf_limits l;
  tcf_limits_resolve(lim, &l);
  int rc = tcf_safetensors_parse(src, src_size, sname, &l, &part, err);
  if (rc == 0 && m->ntensors + part.ntensors > l.max_tensors)
    rc = tcf_error_set(err, TCODEC_E_LIMIT, sname, UINT64_MAX,
                       "more than %" PRIu64 " tensors in the shards", l.max_tensors);
  if (rc == 0) rc = st_shard_check(&part, ix, shard, err);
  if (rc == 0 && st_shard_move(m, &part, type) != 0)
    rc = tcf_error_set(err, TCODEC_E_NOMEM, sname, UINT64_MAX, "out of memory");
  tcf_model_free(&part);
  return rc;
}

int tcf_safetensors_shards_end(const tcf_model *m, const tcf_safetensors_index *ix,
                               tcf_error *err) {
  char type[sizeof(TCF_ST_SHARD_HEADER_PREFIX) + TCF_ST_MAX_SHARD_NAME];
  if (m == NULL || ix == NULL) return tcf_error_set(err, TCODEC_E_ARG, NULL, UINT64_MAX, "none");
  for (size_t s = 0; s < ix->nshards; s++) {
    snprintf(type, sizeof(type), "%s%s", TCF_ST_SHARD_HEADER_PREFIX, ix->shards[s]);
    if (tcf_model_find_section(m, type) == NULL)
      return tcf_error_set(err, TCODEC_E_PAYLOAD, ix->shards[s], UINT64_MAX,
                           "shard listed in the index was not added");
  }
  /* Each added tensor is in the map under its own shard and names are unique,
   * so equal counts mean every entry was found. */
  if (m->ntensors == ix->ntensors) return TCODEC_OK;
  unsigned char *seen = calloc(ix->ntensors ? ix->ntensors : 1, 1);
  if (seen == NULL) return tcf_error_set(err, TCODEC_E_NOMEM, NULL, UINT64_MAX, "out of memory");
  for (size_t i = 0; i < m->ntensors; i++) {
    size_t k = st_index_find(ix, m->tensors[i].name);
    if (k != SIZE_MAX) seen[k] = 1;
  }
  size_t k = 0;
  while (k < ix->ntensors && seen[k]) k++;
  free(seen);
  if (k == ix->ntensors)
    return tcf_error_set(err, TCODEC_E_PAYLOAD, NULL, UINT64_MAX,
                         "the model has tensors that are not in the index");
  return tcf_error_set(err, TCODEC_E_PAYLOAD, ix->shards[ix->shard_of[k]], UINT64_MAX,
                       "tensor '%s' of the weight map is not in its shard", SHOW(ix->names[k]));
}

int tcf_safetensors_model_index(const tcf_model *m, tcf_safetensors_index *ix, tcf_error *err) {
  const tcf_section *sec = tcf_model_find_section(m, TCF_ST_INDEX_SECTION);
  if (ix) memset(ix, 0, sizeof(*ix));
  if (sec == NULL)
    return tcf_error_set(err, TCODEC_E_NOT_FOUND, TCF_ST_INDEX_SECTION, UINT64_MAX,
                         "not a sharded checkpoint");
  return tcf_safetensors_parse_index(sec->data, sec->size, TCF_ST_INDEX_SECTION, NULL, ix, err);
}

int tcf_safetensors_write_index(const tcf_model *m, tcodec_write_fn fn, void *user,
                                tcf_error *err) {
  st_out o = {fn, user, err, TCF_ST_INDEX_SECTION};
  tcf_error_clear(err, TCF_ST_INDEX_SECTION);
  const tcf_section *sec = tcf_model_find_section(m, TCF_ST_INDEX_SECTION);
  if (fn == NULL) return OUT_FAIL(&o, TCODEC_E_ARG, "no output");
  if (sec == NULL) return OUT_FAIL(&o, TCODEC_E_NOT_FOUND, "not a sharded checkpoint");
  return st_emit(&o, sec->data, sec->size);
}
