/* Helpers for the format-neutral model view (tcf_model.h): ownership, errors,
 * metadata and sections. Every owned pointer comes from malloc so that
 * tcf_model_free() can release a model built by any module. */
#include "tcf_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *tcf_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

void tcf_limits_resolve(const tcf_limits *in, tcf_limits *out) {
  tcf_limits l = {0, 0, 0};
  if (in) l = *in;
  if (l.max_header_bytes == 0) l.max_header_bytes = TCF_DEFAULT_MAX_HEADER_BYTES;
  if (l.max_tensors == 0) l.max_tensors = TCF_DEFAULT_MAX_TENSORS;
  if (l.max_file_bytes == 0) l.max_file_bytes = TCF_DEFAULT_MAX_FILE_BYTES;
  *out = l;
}

/* ---- errors ---------------------------------------------------------------- */

static void tcf_error_file(tcf_error *err, const char *file) {
  if (file == NULL || file == err->file) return;
  snprintf(err->file, sizeof(err->file), "%s", file);
}

void tcf_error_clear(tcf_error *err, const char *file) {
  if (err == NULL) return;
  err->code = TCODEC_OK;
  err->offset = UINT64_MAX;
  err->msg[0] = '\0';
  if (file)
    tcf_error_file(err, file);
  else
    err->file[0] = '\0';
}

int tcf_error_set(tcf_error *err, int code, const char *file, uint64_t offset, const char *fmt,
                  ...) {
  if (err == NULL) return code;
  err->code = code;
  err->offset = offset;
  tcf_error_file(err, file);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  va_end(ap);
  /* One line whatever the arguments held (names from files, parser texts). */
  for (char *p = err->msg; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
  return code;
}

/* ---- key/value lists --------------------------------------------------------- */

/* Append copies of key and value to the parallel arrays (*keys, *values, *count). */
static int tcf_kv_add(char ***keys, char ***values, size_t *count, const char *key,
                      const char *value) {
  if (key == NULL || value == NULL) return TCODEC_E_ARG;
  size_t n = *count;
  if (n >= SIZE_MAX / sizeof(char *) - 1) return TCODEC_E_NOMEM;
  char **nk = realloc(*keys, (n + 1) * sizeof(char *));
  if (nk == NULL) return TCODEC_E_NOMEM;
  *keys = nk;
  char **nv = realloc(*values, (n + 1) * sizeof(char *));
  if (nv == NULL) return TCODEC_E_NOMEM;
  *values = nv;
  char *k = tcf_strdup(key), *v = tcf_strdup(value);
  if (k == NULL || v == NULL) {
    free(k);
    free(v);
    return TCODEC_E_NOMEM;
  }
  nk[n] = k;
  nv[n] = v;
  *count = n + 1;
  return TCODEC_OK;
}

static const char *tcf_kv_find(char *const *keys, char *const *values, size_t count,
                               const char *key) {
  for (size_t i = 0; i < count; i++)
    if (keys[i] && strcmp(keys[i], key) == 0) return values[i];
  return NULL;
}

static void tcf_kv_free(char **keys, char **values, size_t count) {
  for (size_t i = 0; i < count; i++) {
    if (keys) free(keys[i]);
    if (values) free(values[i]);
  }
  free(keys);
  free(values);
}

int tcf_model_add_meta(tcf_model *m, const char *key, const char *value) {
  if (m == NULL) return TCODEC_E_ARG;
  return tcf_kv_add(&m->meta_keys, &m->meta_values, &m->meta_count, key, value);
}

const char *tcf_model_find_meta(const tcf_model *m, const char *key) {
  if (m == NULL || key == NULL) return NULL;
  return tcf_kv_find(m->meta_keys, m->meta_values, m->meta_count, key);
}

int tcf_tensor_add_meta(tcf_tensor *t, const char *key, const char *value) {
  if (t == NULL) return TCODEC_E_ARG;
  return tcf_kv_add(&t->meta_keys, &t->meta_values, &t->meta_count, key, value);
}

const char *tcf_tensor_find_meta(const tcf_tensor *t, const char *key) {
  if (t == NULL || key == NULL) return NULL;
  return tcf_kv_find(t->meta_keys, t->meta_values, t->meta_count, key);
}

static int tcf_cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted lookups keep this O((n + k) log n) for models with many entries. */
int tcf_model_merge_meta(tcf_model *dst, const tcf_model *src) {
  size_t n = dst->meta_count, k = src->meta_count, total = n + k;
  if (k == 0) return TCODEC_OK;
  const char **sorted = malloc((n ? n : 1) * sizeof(char *));
  char **nk = realloc(dst->meta_keys, total * sizeof(char *));
  if (nk) dst->meta_keys = nk;
  char **nv = realloc(dst->meta_values, total * sizeof(char *));
  if (nv) dst->meta_values = nv;
  int rc = sorted && nk && nv ? TCODEC_OK : TCODEC_E_NOMEM;
  if (rc == 0 && n) memcpy((void *)sorted, dst->meta_keys, n * sizeof(char *));
  if (rc == 0 && n > 1) qsort((void *)sorted, n, sizeof(char *), tcf_cmp_str);
  for (size_t i = 0; rc == 0 && i < k; i++) {
    const char *key = src->meta_keys[i];
    if (n && bsearch(&key, sorted, n, sizeof(char *), tcf_cmp_str)) continue;
    char *kc = tcf_strdup(key), *vc = tcf_strdup(src->meta_values[i]);
    if (kc == NULL || vc == NULL) {
      free(kc);
      free(vc);
      rc = TCODEC_E_NOMEM;
      break;
    }
    nk[dst->meta_count] = kc;
    nv[dst->meta_count++] = vc;
  }
  free((void *)sorted);
  return rc;
}

/* ---- sections ---------------------------------------------------------------- */

int tcf_model_add_section(tcf_model *m, const char *type, const void *data, size_t size) {
  if (m == NULL || type == NULL || (data == NULL && size != 0)) return TCODEC_E_ARG;
  size_t n = m->nsections;
  if (n >= SIZE_MAX / sizeof(tcf_section) - 1) return TCODEC_E_NOMEM;
  tcf_section *ns = realloc(m->sections, (n + 1) * sizeof(tcf_section));
  if (ns == NULL) return TCODEC_E_NOMEM;
  m->sections = ns;
  char *t = tcf_strdup(type);
  uint8_t *d = malloc(size ? size : 1);
  if (t == NULL || d == NULL) {
    free(t);
    free(d);
    return TCODEC_E_NOMEM;
  }
  if (size) memcpy(d, data, size);
  ns[n].type = t;
  ns[n].data = d;
  ns[n].size = size;
  m->nsections = n + 1;
  return TCODEC_OK;
}

const tcf_section *tcf_model_find_section(const tcf_model *m, const char *type) {
  if (m == NULL || type == NULL) return NULL;
  for (size_t i = 0; i < m->nsections; i++)
    if (m->sections[i].type && strcmp(m->sections[i].type, type) == 0) return &m->sections[i];
  return NULL;
}

/* ---- release ----------------------------------------------------------------- */

void tcf_tensor_clear(tcf_tensor *t) {
  if (t == NULL) return;
  free(t->name);
  free(t->owned);
  tcf_kv_free(t->meta_keys, t->meta_values, t->meta_count);
  memset(t, 0, sizeof(*t));
}

/* Releases everything the model owns and zeroes *m (m itself is the caller's);
 * NULL is a no-op. */
void tcf_model_free(tcf_model *m) {
  if (m == NULL) return;
  for (size_t i = 0; i < m->ntensors; i++) tcf_tensor_clear(&m->tensors[i]);
  free(m->tensors);
  tcf_kv_free(m->meta_keys, m->meta_values, m->meta_count);
  for (size_t i = 0; i < m->nsections; i++) {
    free(m->sections[i].type);
    free(m->sections[i].data);
  }
  free(m->sections);
  memset(m, 0, sizeof(*m));
}

/* ---- UTF-8 ------------------------------------------------------------------- */

/* Length of the well-formed sequence at s[0..n), or 0 (RFC 3629 table 3-7). */
static size_t tcf_utf8_seq(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  if (c < 0x80) return 1;
  size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  if (c < 0xC2 || c > 0xF4 || n < len) return 0;
  uint8_t lo = 0x80, hi = 0xBF; /* range of the second byte */
  if (c == 0xE0) lo = 0xA0;     /* overlong 3-byte */
  if (c == 0xED) hi = 0x9F;     /* surrogates */
  if (c == 0xF0) lo = 0x90;     /* overlong 4-byte */
  if (c == 0xF4) hi = 0x8F;     /* past U+10FFFF */
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  return len;
}

int tcf_utf8_valid(const uint8_t *s, size_t n, size_t *bad) {
  size_t i = 0;
  while (i < n) {
    size_t len = tcf_utf8_seq(s + i, n - i);
    if (len == 0) {
      if (bad) *bad = i;
      return 0;
    }
    i += len;
  }
  return 1;
}

/* ---- text tools -------------------------------------------------------------- */

tcf_shown tcf_show(const char *name) {
  tcf_shown v;
  size_t i = 0;
  for (; name && name[i] && i < 96; i++) {
    unsigned char c = (unsigned char)name[i];
    v.s[i] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
  }
  if (name && name[i]) memcpy(v.s + i, "...", 3), i += 3;
  v.s[i] = '\0';
  return v;
}

void tcf_buf_put(tcf_buf *b, const void *src, size_t src_size) {
  if (b->oom || src_size == 0) return;
  if (src_size > b->cap - b->n) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->n < src_size && cap <= SIZE_MAX / 2) cap *= 2;
    char *p = cap - b->n >= src_size ? realloc(b->p, cap) : NULL;
    if (p == NULL) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, src, src_size);
  b->n += src_size;
}

void tcf_buf_puts(tcf_buf *b, const char *s) { tcf_buf_put(b, s, strlen(s)); }

void tcf_buf_put_u64(tcf_buf *b, uint64_t v) {
  char d[24];
  size_t i = sizeof(d);
  do d[--i] = (char)('0' + v % 10), v /= 10;
  while (v);
  tcf_buf_put(b, d + i, sizeof(d) - i);
}

/* The escape for byte c (< 0x20, '"' or '\\') into e; its length. */
static size_t tcf_json_escape(unsigned char c, char e[6]) {
  static const char hex[] = "0123456789abcdef";
  static const char shortform[][2] = {{'"', '"'},  {'\\', '\\'}, {'\b', 'b'}, {'\f', 'f'},
                                      {'\n', 'n'}, {'\r', 'r'},  {'\t', 't'}};
  e[0] = '\\';
  for (size_t i = 0; i < sizeof(shortform) / sizeof(shortform[0]); i++)
    if ((unsigned char)shortform[i][0] == c) {
      e[1] = shortform[i][1];
      return 2;
    }
  memcpy(e + 1, "u00", 3);
  e[4] = hex[c >> 4];
  e[5] = hex[c & 15];
  return 6;
}

void tcf_buf_put_json_string(tcf_buf *b, const char *s) {
  tcf_buf_puts(b, "\"");
  const unsigned char *p = (const unsigned char *)s, *run = p;
  for (; *p; p++) {
    if (*p >= 0x20 && *p != '"' && *p != '\\') continue;
    char e[6];
    tcf_buf_put(b, run, (size_t)(p - run));
    tcf_buf_put(b, e, tcf_json_escape(*p, e));
    run = p + 1;
  }
  tcf_buf_put(b, run, (size_t)(p - run));
  tcf_buf_puts(b, "\"");
}

void tcf_buf_free(tcf_buf *b) {
  if (b == NULL) return;
  free(b->p);
  memset(b, 0, sizeof(*b));
}

size_t tcf_json_key_pos(const uint8_t *json, size_t len, size_t top, size_t sub) {
  size_t depth = 0, ntop = 0, nsub = 0;
  int key_next = 0, in_top = 0, obj[3] = {0, 0, 0};
  for (size_t p = 0; p < len; p++) {
    uint8_t c = json[p];
    if (c == '"') {
      if (key_next && depth == 1) {
        if (ntop == top && sub == TCF_JSON_TOP) return p;
        in_top = ntop++ == top;
      } else if (key_next && depth == 2 && in_top && nsub++ == sub) {
        return p;
      }
      key_next = 0;
      for (p++; p < len && json[p] != '"'; p++) p += json[p] == '\\'; /* skip escapes */
    } else if (c == '{' || c == '[') {
      depth++;
      if (depth <= 2) obj[depth] = c == '{';
      key_next = c == '{';
    } else if (c == '}' || c == ']') {
      depth -= depth > 0;
      key_next = 0;
    } else if (c == ',') {
      key_next = depth >= 1 && depth <= 2 && obj[depth]; /* a key follows in an object */
    }
  }
  return 0;
}

const char *tcf_relpath_problem(const char *path, size_t max_len) {
  size_t len = strlen(path);
  if (len == 0 || len > max_len) return "empty or too long";
  if (path[0] == '/') return "absolute path";
  if (len >= 2 && path[1] == ':') return "drive letter";
  for (const char *p = path; *p; p++)
    if (*p == '\\' || (unsigned char)*p < 0x20) return "backslash or control character";
  for (const char *p = path; *p;) {
    size_t n = strcspn(p, "/");
    if (n == 0 || (n == 1 && p[0] == '.')) return "empty or '.' component";
    if (n == 2 && p[0] == '.' && p[1] == '.') return "'..' component";
    p += n;
    if (*p == '/' && *++p == '\0') return "empty or '.' component";
  }
  return NULL;
}
