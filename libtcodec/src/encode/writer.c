/* Streaming container writer: header, one tensor's streams at a time, then the
 * directory and the trailer. Memory held: the directory and the tensor being added. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <zstd.h>

#include "tc_writer.h"

static int tc_wfail(tcodec_writer *w, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int tc_wfail(tcodec_writer *w, int code, const char *fmt, ...) {
  char reason[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof(reason), fmt, ap);
  va_end(ap);
  snprintf(w->err, sizeof(w->err), "%s (%s)", reason, tcodec_strerror(code));
  return code;
}

const char *tcodec_writer_error_message(const tcodec_writer *w) {
  if (w == NULL) return "no writer";
  return w->err[0] ? w->err : "no error";
}

/* ---- parameters ----------------------------------------------------------- */

typedef struct tc_wparam_row {
  int lo, hi;
} tc_wparam_row;

static const tc_wparam_row tc_wparams[] = {
    [TCODEC_WP_CODER] = {0, 255},       [TCODEC_WP_ZSTD_LEVEL] = {1, 22},
    [TCODEC_WP_BYTE_GROUP] = {0, 1},    [TCODEC_WP_DETECT] = {0, 1},
    [TCODEC_WP_ALIGNMENT] = {64, 1 << 20},
};

int tcodec_writer_param_bounds(int param, int *lo, int *hi) {
  if (param < TCODEC_WP_CODER || param > TCODEC_WP_ALIGNMENT || lo == NULL || hi == NULL)
    return TCODEC_E_ARG;
  *lo = tc_wparams[param].lo;
  *hi = tc_wparams[param].hi;
  return TCODEC_OK;
}

int tcodec_writer_set_param(tcodec_writer *w, int param, int value) {
  int lo, hi;
  if (w == NULL || tcodec_writer_param_bounds(param, &lo, &hi) != 0 || value < lo || value > hi)
    return TCODEC_E_ARG;
  if (w->state != TC_W_NEW && param == TCODEC_WP_ALIGNMENT) return TCODEC_E_BADSTATE;
  switch ((tcodec_wparam)param) {
    case TCODEC_WP_CODER:
      if (value != TCODEC_CODER_NONE && value != TCODEC_CODER_ZSTD && value != TCODEC_CODER_AUTO)
        return TCODEC_E_ARG;
      w->coder = value;
      break;
    case TCODEC_WP_ZSTD_LEVEL: w->zstd_level = value; break;
    case TCODEC_WP_BYTE_GROUP: w->byte_group = value; break;
    case TCODEC_WP_DETECT: w->detect = value; break;
    case TCODEC_WP_ALIGNMENT:
      if ((value & (value - 1)) != 0) return TCODEC_E_ARG;
      w->align = (uint64_t)value;
      break;
  }
  return TCODEC_OK;
}

/* ---- lifetime ------------------------------------------------------------- */

int tcodec_writer_create(tcodec_writer **out, const tcodec_allocator *alloc) {
  if (out == NULL) return TCODEC_E_ARG;
  *out = NULL;
  tc_mem m;
  tc_mem_init(&m, alloc);
  tcodec_writer *w = m.a.alloc(m.a.opaque, sizeof(*w));
  if (w == NULL) return TCODEC_E_NOMEM;
  memset(w, 0, sizeof(*w));
  w->mem = m;
  w->coder = TCODEC_CODER_AUTO;
  w->zstd_level = 9;
  w->byte_group = 1;
  w->detect = 1;
  w->align = TC_MIN_ALIGN;
  *out = w;
  return TCODEC_OK;
}

void tcodec_writer_free(tcodec_writer *w) {
  if (w == NULL) return;
  tc_mem *m = &w->mem;
  for (size_t i = 0; i < w->ntensors; i++) {
    tc_free(m, w->tensors[i].name);
    tc_free(m, w->tensors[i].shape);
    tc_kvs_free(m, w->tensors[i].meta, w->tensors[i].nmeta);
  }
  tc_free(m, w->tensors);
  tc_free(m, w->name_set);
  tc_kvs_free(m, w->meta, w->nmeta);
  for (size_t i = 0; i < w->nsections; i++) tc_free(m, w->sections[i].type);
  tc_free(m, w->sections);
  ZSTD_freeCCtx(w->zctx);
  w->mem.a.free(w->mem.a.opaque, w);
}

/* ---- output --------------------------------------------------------------- */

static int tc_emit(tcodec_writer *w, const void *src, size_t n) {
  if (n == 0) return TCODEC_OK;
  if (w->fn(w->user, src, n) != 0) {
    w->state = TC_W_FAILED;
    return tc_wfail(w, TCODEC_E_IO, "write of %zu bytes at offset %llu failed", n,
                    (unsigned long long)w->pos);
  }
  w->pos += n;
  return TCODEC_OK;
}

static int tc_emit_pad(tcodec_writer *w) {
  static const uint8_t zeros[256];
  while (w->pos % w->align != 0) {
    uint64_t gap = w->align - w->pos % w->align;
    int rc = tc_emit(w, zeros, gap < sizeof(zeros) ? (size_t)gap : sizeof(zeros));
    if (rc != 0) return rc;
  }
  return TCODEC_OK;
}

static int tc_writable(tcodec_writer *w) {
  if (w == NULL) return TCODEC_E_ARG;
  if (w->state != TC_W_BEGUN) return TCODEC_E_BADSTATE;
  w->err[0] = '\0';
  return TCODEC_OK;
}

int tcodec_writer_begin(tcodec_writer *w, tcodec_write_fn fn, void *user) {
  if (w == NULL || fn == NULL) return TCODEC_E_ARG;
  if (w->state != TC_W_NEW) return TCODEC_E_BADSTATE;
  w->fn = fn;
  w->user = user;
  w->state = TC_W_BEGUN;
  uint8_t h[TC_HEADER_SIZE] = {0};
  memcpy(h, tc_magic, 8);
  tc_put16(h + 8, TCODEC_FORMAT_MAJOR);
  tc_put16(h + 10, TCODEC_FORMAT_MINOR);
  tc_put64(h + 16, tc_xxh3(h, 16));
  return tc_emit(w, h, sizeof(h));
}

/* Entropy stage for one stream, then write it aligned and describe it in *s. */
static int tc_emit_stream(tcodec_writer *w, int role, const uint8_t *src, uint64_t len,
                          tc_stream *s) {
  const uint8_t *out = src;
  uint64_t out_len = len;
  void *zbuf = NULL;
  s->coder = TCODEC_CODER_NONE;
  if (w->coder != TCODEC_CODER_NONE && len > 0) {
    size_t bound = ZSTD_compressBound((size_t)len);
    if (w->zctx == NULL) w->zctx = ZSTD_createCCtx();
    zbuf = tc_malloc(&w->mem, bound);
    if (w->zctx == NULL || zbuf == NULL) {
      tc_free(&w->mem, zbuf);
      return tc_wfail(w, TCODEC_E_NOMEM, "zstd buffers for %llu bytes", (unsigned long long)len);
    }
    size_t z = ZSTD_compressCCtx(w->zctx, zbuf, bound, src, (size_t)len, w->zstd_level);
    if (ZSTD_isError(z)) {
      tc_free(&w->mem, zbuf);
      return tc_wfail(w, TCODEC_E_GENERIC, "zstd: %s", ZSTD_getErrorName(z));
    }
    if (w->coder == TCODEC_CODER_ZSTD || z < len) {
      out = zbuf;
      out_len = z;
      s->coder = TCODEC_CODER_ZSTD;
    }
  }
  int rc = tc_emit_pad(w);
  s->role = (uint32_t)role;
  s->off = w->pos;
  s->size = out_len;
  s->len = len;
  s->xxh3 = tc_xxh3(out, (size_t)out_len);
  s->present = 1;
  if (rc == 0) rc = tc_emit(w, out, (size_t)out_len);
  tc_free(&w->mem, zbuf);
  return rc;
}

/* ---- directory bookkeeping ------------------------------------------------- */

static uint64_t tc_name_hash(const char *s) { return tc_xxh3(s, strlen(s)); }

/* Insert name into the hash set; E_DUPLICATE if present. */
static int tc_name_insert(tcodec_writer *w, char *name) {
  if ((w->ntensors + 1) * 2 > w->name_cap) {
    size_t cap = w->name_cap ? w->name_cap * 2 : 64;
    char **set = tc_calloc(&w->mem, cap, sizeof(char *));
    if (set == NULL) return TCODEC_E_NOMEM;
    for (size_t i = 0; i < w->name_cap; i++) {
      if (w->name_set[i] == NULL) continue;
      size_t j = (size_t)(tc_name_hash(w->name_set[i]) & (cap - 1));
      while (set[j] != NULL) j = (j + 1) & (cap - 1);
      set[j] = w->name_set[i];
    }
    tc_free(&w->mem, w->name_set);
    w->name_set = set;
    w->name_cap = cap;
  }
  size_t j = (size_t)(tc_name_hash(name) & (w->name_cap - 1));
  for (; w->name_set[j] != NULL; j = (j + 1) & (w->name_cap - 1))
    if (strcmp(w->name_set[j], name) == 0) return TCODEC_E_DUPLICATE;
  w->name_set[j] = name;
  return TCODEC_OK;
}

/* Grow an array of `size`-byte items to hold n + 1. */
static int tc_grow(tc_mem *m, void **arr, size_t *cap, size_t n, size_t size) {
  if (n < *cap) return TCODEC_OK;
  size_t ncap = *cap ? *cap * 2 : 16;
  void *p = tc_calloc(m, ncap, size);
  if (p == NULL) return TCODEC_E_NOMEM;
  if (n) memcpy(p, *arr, n * size);
  tc_free(m, *arr);
  *arr = p;
  *cap = ncap;
  return TCODEC_OK;
}

static int tc_kv_set(tc_mem *m, tc_kv **kv, size_t *n, size_t *cap, const char *key,
                     const void *value, size_t value_size, int is_text) {
  size_t i = 0;
  while (i < *n && strcmp((*kv)[i].key, key) != 0) i++;
  uint8_t *v = (uint8_t *)tc_strndup(m, value_size ? (const char *)value : "", value_size);
  if (v == NULL) return TCODEC_E_NOMEM;
  if (i == *n) {
    char *k = tc_strndup(m, key, strlen(key));
    if (k == NULL || tc_grow(m, (void **)kv, cap, *n, sizeof(tc_kv)) != 0) {
      tc_free(m, k);
      tc_free(m, v);
      return TCODEC_E_NOMEM;
    }
    (*kv)[i].key = k;
    (*n)++;
  } else {
    tc_free(m, (*kv)[i].value);
  }
  (*kv)[i].value = v;
  (*kv)[i].value_size = value_size;
  (*kv)[i].is_text = is_text;
  return TCODEC_OK;
}

/* Same rule as the reader: UTF-8 without NUL (C strings cannot hold NUL). */
static int tc_text_ok(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n > max) return 0;
  for (size_t i = 0; i < n;) {
    uint8_t c = (uint8_t)s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || len > n - i) return 0;
    for (size_t k = 1; k < len; k++)
      if (((uint8_t)s[i + k] & 0xC0) != 0x80) return 0;
    i += len;
  }
  return 1;
}

int tcodec_writer_set_meta(tcodec_writer *w, const char *key, const char *value) {
  int rc = tc_writable(w);
  if (rc != 0) return rc;
  if (key == NULL || value == NULL || !tc_text_ok(key, SIZE_MAX) || !tc_text_ok(value, SIZE_MAX))
    return tc_wfail(w, TCODEC_E_ARG, "metadata key and value must be UTF-8 text");
  rc = tc_kv_set(&w->mem, &w->meta, &w->nmeta, &w->cap_meta, key, value, strlen(value), 1);
  return rc ? tc_wfail(w, rc, "metadata '%.100s'", key) : 0;
}

int tcodec_writer_set_meta_bytes(tcodec_writer *w, const char *key, const void *value,
                                 size_t value_size) {
  int rc = tc_writable(w);
  if (rc != 0) return rc;
  if (key == NULL || (value == NULL && value_size != 0) || !tc_text_ok(key, SIZE_MAX))
    return tc_wfail(w, TCODEC_E_ARG, "metadata key must be UTF-8 text");
  rc = tc_kv_set(&w->mem, &w->meta, &w->nmeta, &w->cap_meta, key, value, value_size, 0);
  return rc ? tc_wfail(w, rc, "metadata '%.100s'", key) : 0;
}

int tcodec_writer_add_section(tcodec_writer *w, const char *type, int critical, const void *src,
                              size_t src_size) {
  int rc = tc_writable(w);
  if (rc != 0) return rc;
  if (type == NULL || !tc_text_ok(type, 256) || type[0] == '\0' || (src == NULL && src_size))
    return tc_wfail(w, TCODEC_E_ARG, "section type must be 1..256 bytes of UTF-8");
  rc = tc_grow(&w->mem, (void **)&w->sections, &w->cap_sections, w->nsections, sizeof(tc_section));
  if (rc != 0) return tc_wfail(w, rc, "section table");
  tc_section *s = &w->sections[w->nsections];
  memset(s, 0, sizeof(*s));
  s->type = tc_strndup(&w->mem, type, strlen(type));
  if (s->type == NULL) return tc_wfail(w, TCODEC_E_NOMEM, "section type");
  s->critical = critical != 0;
  rc = tc_emit_stream(w, 0, src, src_size, &s->s);
  if (rc != 0) {
    tc_free(&w->mem, s->type);
    return rc;
  }
  w->nsections++;
  return TCODEC_OK;
}

/* ---- tensors ---------------------------------------------------------------- */

/* Validate the description; on success *nelem is the element count. */
static int tc_check_desc(tcodec_writer *w, const tcodec_tensor_desc *t, uint64_t *nelem) {
  if (t == NULL || t->name == NULL || (t->ndim > 0 && t->shape == NULL))
    return tc_wfail(w, TCODEC_E_ARG, "tensor description needs a name and a shape");
  if (t->name[0] == '\0' || !tc_text_ok(t->name, TC_MAX_NAME))
    return tc_wfail(w, TCODEC_E_ARG, "tensor name must be 1..65535 bytes of UTF-8");
  if (tcodec_dtype_size(t->dtype) == 0)
    return tc_wfail(w, TCODEC_E_UNSUPPORTED_DTYPE, "tensor '%.200s': dtype %d", t->name, t->dtype);
  if (t->ndim > TC_MAX_NDIM)
    return tc_wfail(w, TCODEC_E_SHAPE, "tensor '%.200s': %u dimensions (max %u)", t->name,
                    t->ndim, TC_MAX_NDIM);
  uint64_t n = 1;
  int zero = 0, overflow = 0;
  for (unsigned i = 0; i < t->ndim; i++) {
    zero |= t->shape[i] == 0;
    if (tc_mul_u64(n, t->shape[i], &n) != 0) overflow = 1;
  }
  if (overflow && !zero)
    return tc_wfail(w, TCODEC_E_SHAPE, "tensor '%.200s': element count overflows", t->name);
  *nelem = zero ? 0 : n;
  for (size_t i = 0; i < t->meta_count; i++)
    if (t->meta_keys == NULL || t->meta_values == NULL || t->meta_keys[i] == NULL ||
        t->meta_values[i] == NULL || !tc_text_ok(t->meta_keys[i], SIZE_MAX) ||
        !tc_text_ok(t->meta_values[i], SIZE_MAX))
      return tc_wfail(w, TCODEC_E_ARG, "tensor '%.200s': metadata must be UTF-8 text", t->name);
  return TCODEC_OK;
}

static void tc_tensor_release(tc_mem *m, tc_tensor *t) {
  tc_free(m, t->name);
  tc_free(m, t->shape);
  tc_kvs_free(m, t->meta, t->nmeta);
  memset(t, 0, sizeof(*t));
}

/* Copy the description into the directory entry. */
static int tc_tensor_fill(tcodec_writer *w, const tcodec_tensor_desc *d, uint64_t nelem,
                          tc_tensor *t) {
  memset(t, 0, sizeof(*t));
  t->name = tc_strndup(&w->mem, d->name, strlen(d->name));
  t->shape = tc_calloc(&w->mem, d->ndim ? d->ndim : 1, sizeof(uint64_t));
  if (t->name == NULL || t->shape == NULL) return TCODEC_E_NOMEM;
  if (d->ndim) memcpy(t->shape, d->shape, d->ndim * sizeof(uint64_t));
  t->ndim = d->ndim;
  t->dtype = d->dtype;
  t->nelem = nelem;
  size_t cap = 0;
  for (size_t i = 0; i < d->meta_count; i++) {
    int rc = tc_kv_set(&w->mem, &t->meta, &t->nmeta, &cap, d->meta_keys[i], d->meta_values[i],
                       strlen(d->meta_values[i]), 1);
    if (rc != 0) return rc;
  }
  return TCODEC_OK;
}

/* Self-check against the decoder's layout rules, then write the streams and
 * append the directory entry. Takes ownership of nothing: caller frees e. */
static int tc_commit(tcodec_writer *w, const tcodec_tensor_desc *d, uint64_t nelem,
                     tc_encoded *e) {
  tc_tensor t;
  int rc = tc_tensor_fill(w, d, nelem, &t);
  if (rc != 0) {
    tc_tensor_release(&w->mem, &t);
    return tc_wfail(w, rc, "tensor '%.200s'", d->name);
  }
  t.enc = e->enc;
  t.p = e->p;
  const tc_encoding_ops *ops = tc_encoding_find(e->enc);
  uint64_t need_len[TCODEC_ROLE_COUNT_] = {0};
  int need[TCODEC_ROLE_COUNT_] = {0};
  rc = ops != NULL ? ops->layout(&t, need_len, need) : TCODEC_E_UNSUPPORTED_ENCODING;
  for (int role = 0; rc == 0 && role < TCODEC_ROLE_COUNT_; role++)
    if (need[role] != e->present[role] || (need[role] && need_len[role] != e->len[role]))
      rc = TCODEC_E_GENERIC;
  if (rc != 0) {
    tc_tensor_release(&w->mem, &t);
    return tc_wfail(w, rc, "tensor '%.200s': encoder produced an invalid layout (library bug)",
                    d->name);
  }
  if ((rc = tc_grow(&w->mem, (void **)&w->tensors, &w->cap_tensors, w->ntensors, sizeof(tc_tensor))) != 0 ||
      (rc = tc_name_insert(w, t.name)) != 0) {
    tc_tensor_release(&w->mem, &t);
    return rc == TCODEC_E_DUPLICATE ? tc_wfail(w, rc, "tensor name '%.200s' already used", d->name)
                                    : tc_wfail(w, rc, "tensor table");
  }
  for (int role = 0; role < TCODEC_ROLE_COUNT_; role++) {
    if (!e->present[role]) continue;
    rc = tc_emit_stream(w, role, e->buf[role], e->len[role], &t.s[role]);
    if (rc != 0) break;
  }
  w->tensors[w->ntensors++] = t; /* the name is in the set: keep the entry either way */
  if (rc != 0) w->state = TC_W_FAILED;
  return rc;
}

int tcodec_writer_add_raw(tcodec_writer *w, const tcodec_tensor_desc *t, const void *src,
                          size_t src_size) {
  int rc = tc_writable(w);
  uint64_t nelem, bytes;
  if (rc != 0 || (rc = tc_check_desc(w, t, &nelem)) != 0) return rc;
  if (tc_mul_u64(nelem, tcodec_dtype_size(t->dtype), &bytes) != 0 || bytes != src_size ||
      (src == NULL && src_size != 0))
    return tc_wfail(w, TCODEC_E_ARG, "tensor '%.200s': %zu bytes given, shape and dtype need %llu",
                    t->name, src_size, (unsigned long long)bytes);
  tc_encoded e;
  memset(&e, 0, sizeof(e));
  rc = 0;
  if (w->detect) rc = tc_detect_exact(&w->mem, t->dtype, t->ndim, t->shape, nelem, src, &e);
  if (rc == 0) {
    int bg = w->byte_group && tc_is_float_dtype(t->dtype) && tcodec_dtype_size(t->dtype) > 1;
    rc = tc_encode_raw(&w->mem, t->dtype, nelem, src, bg, &e);
  } else if (rc == 1) {
    rc = 0;
  }
  if (rc != 0) return tc_wfail(w, rc, "tensor '%.200s': encoding failed", t->name);
  rc = tc_commit(w, t, nelem, &e);
  tc_encoded_free(&w->mem, &e);
  return rc;
}

int tcodec_writer_add_quantized(tcodec_writer *w, const tcodec_tensor_desc *t,
                                const tcodec_quantized *q) {
  int rc = tc_writable(w);
  uint64_t nelem;
  if (rc != 0 || (rc = tc_check_desc(w, t, &nelem)) != 0) return rc;
  if (q == NULL) return tc_wfail(w, TCODEC_E_ARG, "tensor '%.200s': no quantized data", t->name);
  tc_encoded e;
  memset(&e, 0, sizeof(e));
  char why[256] = "";
  rc = tc_encode_quantized(&w->mem, t->dtype, t->ndim, t->shape, nelem, q, &e, why, sizeof(why));
  if (rc != 0) return tc_wfail(w, rc, "tensor '%.200s': %s", t->name, why);
  rc = tc_commit(w, t, nelem, &e);
  tc_encoded_free(&w->mem, &e);
  return rc;
}

/* Lossless add of f32 values for a tensor whose original dtype may differ:
 * every value must convert to the dtype and back exactly. */
static int tc_add_f32_lossless(tcodec_writer *w, const tcodec_tensor_desc *t, const float *src,
                               uint64_t nelem) {
  size_t es = tcodec_dtype_size(t->dtype);
  uint64_t bytes;
  if (tc_mul_u64(nelem, es, &bytes) != 0 || bytes > SIZE_MAX)
    return tc_wfail(w, TCODEC_E_OVERFLOW, "tensor '%.200s' too large", t->name);
  uint8_t *buf = tc_malloc(&w->mem, (size_t)bytes);
  if (buf == NULL) return tc_wfail(w, TCODEC_E_NOMEM, "tensor '%.200s'", t->name);
  for (uint64_t i = 0; i < nelem; i++) {
    tc_store_f32(t->dtype, buf, i, src[i]);
    float back = tc_load_f32(t->dtype, buf, i);
    if (memcmp(&back, &src[i], sizeof(float)) != 0) {
      tc_free(&w->mem, buf);
      return tc_wfail(w, TCODEC_E_VALUE, "tensor '%.200s': element %llu (%g) is not exact in %s",
                      t->name, (unsigned long long)i, (double)src[i], tcodec_dtype_name(t->dtype));
    }
  }
  int rc = tcodec_writer_add_raw(w, t, buf, (size_t)bytes);
  tc_free(&w->mem, buf);
  return rc;
}

void tcodec_request_init(tcodec_request *req) {
  if (req == NULL) return;
  memset(req, 0, sizeof(*req));
  req->method = TCODEC_Q_LOSSLESS;
  req->granularity = TCODEC_GRAN_CHANNEL;
  req->symmetric = 1;
  req->scale_dtype = TCODEC_F32;
  req->threshold = 0.7;
  req->lambda = 0.05;
  req->max_iter = 30;
  req->bits = 4;
  req->full_dtype = TCODEC_F16;
  req->error_budget = 0.5;
  req->size_weight = 0.01;
}

int tcodec_writer_add_f32(tcodec_writer *w, const tcodec_tensor_desc *t, const float *src,
                          size_t nelem, const tcodec_request *req) {
  int rc = tc_writable(w);
  uint64_t n;
  if (rc != 0 || (rc = tc_check_desc(w, t, &n)) != 0) return rc;
  if (n != nelem || (src == NULL && nelem != 0))
    return tc_wfail(w, TCODEC_E_ARG, "tensor '%.200s': %zu values given, shape needs %llu",
                    t->name, nelem, (unsigned long long)n);
  if (req == NULL || req->method == TCODEC_Q_LOSSLESS) return tc_add_f32_lossless(w, t, src, n);
  tc_encoded e;
  memset(&e, 0, sizeof(e));
  char why[256] = "";
  rc = tc_quantize_f32(&w->mem, t->dtype, t->ndim, t->shape, n, src, req, &e, why, sizeof(why));
  if (rc != 0) return tc_wfail(w, rc, "tensor '%.200s': %s", t->name, why);
  rc = tc_commit(w, t, n, &e);
  tc_encoded_free(&w->mem, &e);
  return rc;
}

int tcodec_writer_finish(tcodec_writer *w) {
  int rc = tc_writable(w);
  if (rc != 0) return rc;
  tc_wbuf b = {&w->mem, NULL, 0, 0, 0};
  rc = tc_dir_write(w, &b);
  if (rc != 0) {
    tc_free(&w->mem, b.p);
    return tc_wfail(w, rc, "directory");
  }
  uint8_t tr[TC_TRAILER_SIZE] = {0};
  tc_put64(tr, w->pos);
  tc_put64(tr + 8, b.len);
  tc_put64(tr + 16, tc_xxh3(b.p, b.len));
  tc_put16(tr + 24, TCODEC_FORMAT_MAJOR);
  tc_put16(tr + 26, TCODEC_FORMAT_MINOR);
  tc_put64(tr + 32, tc_xxh3(tr, 32));
  memcpy(tr + 40, tc_end_magic, 8);
  rc = tc_emit(w, b.p, b.len);
  if (rc == 0) rc = tc_emit(w, tr, sizeof(tr));
  tc_free(&w->mem, b.p);
  w->state = rc == 0 ? TC_W_DONE : TC_W_FAILED;
  return rc;
}
