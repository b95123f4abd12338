/* ONNX reader, tensor side: TensorProto and the fields holding elements, names, holes,
 * external data (see onnx_int.h). Field numbers are those of onnx.proto (docs/onnx.md). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_int.h"

/* ---- small helpers --------------------------------------------------------------------------- */

int OX_PRINTF(4, 5) ox_fail(ox *x, int code, uint64_t off, const char *fmt, ...) {
  if (x->err != NULL && x->err->code == 0) {
    va_list ap;
    va_start(ap, fmt);
    x->err->code = code;
    x->err->offset = off;
    snprintf(x->err->file, sizeof(x->err->file), "%s", x->file ? x->file : "");
    vsnprintf(x->err->msg, sizeof(x->err->msg), fmt, ap);
    va_end(ap);
  }
  return code;
}

int ox_nomem(ox *x) { return ox_fail(x, TCODEC_E_NOMEM, UINT64_MAX, "out of memory"); }

int ox_grow(void *pp, size_t *cap, size_t n, size_t elem) {
  if (n < *cap) return 0;
  size_t c = *cap ? *cap * 2 : 16;
  if (c > SIZE_MAX / elem) return TCODEC_E_NOMEM;
  void *p = realloc(*(void **)pp, c * elem);
  if (p == NULL) return TCODEC_E_NOMEM;
  *(void **)pp = p;
  *cap = c;
  return 0;
}

/* Text: always NUL-terminated (p is a C string once anything was put). */
void ox_tput(tcf_buf *b, const void *s, size_t n) {
  tcf_buf_put(b, s, n);
  tcf_buf_put(b, "", 1);
  if (!b->oom) b->n--;
}

void OX_PRINTF(2, 3) ox_printf(tcf_buf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  ox_tput(b, tmp, k < 0 ? 0 : (size_t)k < sizeof(tmp) ? (size_t)k : sizeof(tmp) - 1);
}

void ox_putv(tcf_buf *b, uint64_t v) {
  uint8_t t[PB_VARINT_MAX];
  tcf_buf_put(b, t, pb_put_varint(t, v));
}

/* Printable ASCII as is, other bytes as \xNN, at most `max` input bytes. */
void ox_escape(tcf_buf *b, const uint8_t *s, size_t n, size_t max) {
  for (size_t i = 0; i < n && i < max; i++) {
    if (s[i] >= 0x20 && s[i] < 0x7F && s[i] != '\'' && s[i] != '\\')
      ox_tput(b, s + i, 1);
    else
      ox_printf(b, "\\x%02X", s[i]);
  }
  if (n > max) ox_tput(b, "...", 3);
}

/* Strict UTF-8 without NUL (what .tc names and metadata accept). */
int ox_utf8_ok(const uint8_t *s, size_t n) {
  return tcf_utf8_valid(s, n, NULL) && (n == 0 || memchr(s, 0, n) == NULL);
}

char *ox_strndup(const void *s, size_t n) {
  char *p = malloc(n + 1);
  if (p != NULL) {
    if (n) memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

int ox_span_is(const uint8_t *s, size_t n, const char *lit) {
  return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

size_t ox_path_mark(ox *x) { return x->path.n; }
void ox_path_reset(ox *x, size_t mark) {
  x->path.n = mark;
  if (x->path.p) x->path.p[mark] = '\0';
}

/* A tensor the module leaves in the skeleton: listed in "onnx.kept". */
void ox_keep(ox *x, const char *why) {
  x->nkept++;
  if (x->kept.n > OX_KEPT_TEXT) return;
  if (x->kept.n) ox_tput(&x->kept, "; ", 2);
  ox_tput(&x->kept, x->path.p, x->path.n);
  ox_tput(&x->kept, ": ", 2);
  ox_tput(&x->kept, why, strlen(why));
  if (x->kept.n > OX_KEPT_TEXT) ox_tput(&x->kept, "; ...", 5);
}

/* ---- walking messages ------------------------------------------------------------------------ */

static int ox_pbfail(ox *x, int rc, const pb_status *st) {
  const char *path = x->path.p != NULL ? x->path.p : "";
  return ox_fail(x, rc, st->offset, "%s%s%s", path, path[0] ? ": " : "", st->what);
}

/* Calls the rule matching each field of message [pos, end); other fields are skipped. */
int ox_walk(ox *x, size_t pos, size_t end, const ox_rule *rules, void *st) {
  pb_cursor c;
  pb_field f;
  pb_status ps;
  int rc;
  pb_cursor_init(&c, x->src, x->n, pos, end);
  while ((rc = pb_next(&c, &f, &ps)) == 1) {
    for (const ox_rule *r = rules; r->fn != NULL; r++)
      if (r->num == f.num && r->wt == f.wt) {
        if ((rc = r->fn(x, &f, st)) != 0) return rc;
        break;
      }
  }
  return rc < 0 ? ox_pbfail(x, rc, &ps) : 0;
}

int ox_push(ox *x, const pb_field *f) {
  if (x->nfr == OX_MAX_FRAMES)
    return ox_fail(x, TCODEC_E_LIMIT, f->tag_pos, "messages nested too deep");
  ox_frame *fr = &x->fr[x->nfr++];
  fr->len_pos = f->len_pos;
  fr->pos = f->pos;
  fr->end = f->end;
  fr->prefix = SIZE_MAX;
  return 0;
}

static int ox_add_prefix(ox *x, size_t len_pos, size_t pos, size_t end) {
  if (ox_grow(&x->pre, &x->pcap, x->npre + 2, 3 * sizeof(uint64_t)) != 0) return ox_nomem(x);
  uint64_t *p = x->pre + 3 * x->npre++;
  p[0] = len_pos;
  p[1] = pos - len_pos;
  p[2] = end - pos;
  return 0;
}

/* A hole whose size may change: every enclosing length prefix is recorded (once, outer
 * first, so the list stays sorted), then that of the packed field itself (f, or NULL). */
static int ox_prefixes(ox *x, const pb_field *f) {
  for (size_t i = 0; i < x->nfr; i++) {
    if (x->fr[i].prefix != SIZE_MAX) continue;
    x->fr[i].prefix = x->npre;
    if (ox_add_prefix(x, x->fr[i].len_pos, x->fr[i].pos, x->fr[i].end) != 0) return TCODEC_E_NOMEM;
  }
  return f != NULL ? ox_add_prefix(x, f->len_pos, f->pos, f->end) : 0;
}

/* ---- tensors --------------------------------------------------------------------------------- */

static uint64_t ox_hash(const char *s) {
  uint64_t h = 1469598103934665603u;
  while (*s) h = (h ^ (uint8_t)*s++) * 1099511628211u;
  return h;
}

/* Inserts `name` into the name set; 0 if it was already there. */
static int ox_name_insert(ox *x, char *name) {
  if (2 * (x->names_n + 1) > x->names_cap) {
    size_t cap = x->names_cap ? x->names_cap * 2 : 64;
    char **set = calloc(cap, sizeof(char *));
    if (set == NULL) return TCODEC_E_NOMEM;
    for (size_t i = 0; i < x->names_cap; i++) {
      if (x->names[i] == NULL) continue;
      size_t j = ox_hash(x->names[i]) & (cap - 1);
      while (set[j] != NULL) j = (j + 1) & (cap - 1);
      set[j] = x->names[i];
    }
    free(x->names);
    x->names = set;
    x->names_cap = cap;
  }
  size_t j = ox_hash(name) & (x->names_cap - 1);
  for (; x->names[j] != NULL; j = (j + 1) & (x->names_cap - 1))
    if (strcmp(x->names[j], name) == 0) return 0;
  x->names[j] = name;
  x->names_n++;
  return 1;
}

/* The .tc name of the tensor just appended: the preferred name if it is usable text, else
 * the path; made unique with "#<tensor index>" (then "#<index>.2", ".3"... should that be taken
 * too). */
static char *ox_unique_name(ox *x, const uint8_t *s, size_t n) {
  int ok = n > 0 && n <= OX_NAME_MAX && ox_utf8_ok(s, n);
  char *base = ok ? ox_strndup(s, n) : ox_strndup(x->path.p, x->path.n);
  size_t idx = x->m->ntensors - 1, cap = base ? strlen(base) + 48 : 0;
  for (unsigned long long k = 0; base != NULL; k++) {
    char *name = k == 0 ? base : malloc(cap);
    if (name == NULL) break;
    if (k > 0) snprintf(name, cap, k == 1 ? "%s#%zu" : "%s#%zu.%llu", base, idx, k);
    int rc = ox_name_insert(x, name);
    if (rc > 0 && k > 0) free(base);
    if (rc > 0) return name;
    if (k > 0) free(name);
    if (rc < 0) break;
  }
  free(base);
  return NULL;
}

static int ox_tensor_meta(tcf_tensor *t, const char *path, const char *field) {
  int rc = tcf_tensor_add_meta(t, "onnx.path", path);
  return rc != 0 ? rc : tcf_tensor_add_meta(t, "onnx.field", field);
}

/* Appends a tensor to the model (taking nt->owned in every case). */
static int ox_add_tensor(ox *x, const ox_site *s, const uint8_t *name, size_t name_len,
                         const ox_newt *nt) {
  tcf_model *m = x->m;
  if (m->ntensors >= x->max_tensors) {
    free(nt->owned);
    return ox_fail(x, TCODEC_E_LIMIT, UINT64_MAX, "more than %llu tensors",
                   (unsigned long long)x->max_tensors);
  }
  size_t cap = x->tcap;
  ox_tinfo *ti = NULL;
  if (ox_grow(&m->tensors, &x->tcap, m->ntensors, sizeof(tcf_tensor)) != 0 ||
      (x->tcap != cap && (ti = realloc(x->ti, x->tcap * sizeof(ox_tinfo))) == NULL)) {
    free(nt->owned);
    return ox_nomem(x);
  }
  if (ti != NULL) x->ti = ti;
  ti = &x->ti[m->ntensors];
  tcf_tensor *t = &m->tensors[m->ntensors];
  memset(t, 0, sizeof(*t));
  memset(ti, 0, sizeof(*ti));
  t->owned = nt->owned;
  t->data = nt->data;
  m->ntensors++;
  t->dtype = nt->dtype;
  t->ndim = nt->ndim;
  if (nt->ndim) memcpy(t->shape, nt->shape, nt->ndim * sizeof(uint64_t));
  t->nelem = nt->nelem;
  t->size = nt->nelem * tcodec_dtype_size(nt->dtype);
  t->consumer_input = -1;
  if (s->op != NULL)
    snprintf(t->consumer_op, sizeof(t->consumer_op), "%.*s", (int)(s->op_len < 63 ? s->op_len : 63),
             (const char *)s->op);
  ti->graph = s->graph;
  ti->key = s->key_is_name ? name : s->key;
  ti->key_len = s->key_is_name ? name_len : s->key_len;
  t->name = ox_unique_name(x, s->name ? s->name : name, s->name ? s->name_len : name_len);
  if (t->name == NULL || x->path.oom || ox_tensor_meta(t, x->path.p, nt->field) != 0)
    return ox_nomem(x);
  return 0;
}

static int ox_add_hole(ox *x, uint64_t pos, uint64_t len, uint64_t first, uint64_t count,
                       unsigned kind) {
  if (ox_grow(&x->holes, &x->hcap, x->nholes, sizeof(ox_hole)) != 0) return ox_nomem(x);
  x->holes[x->nholes++] = (ox_hole){pos, len, first, count, x->m->ntensors - 1, kind};
  return 0;
}

/* Elements in one occurrence of the field; UINT64_MAX if unusable. */
static uint64_t ox_chunk_count(const ox_data *d, const pb_field *f, const uint8_t *p) {
  size_t len = f->end - f->pos;
  if (f->wt == PB_LEN && d->scalar) return 0; /* not this field for protobuf: an unknown one */
  if (f->wt == PB_LEN)
    return d->fixed ? (len % d->el.width ? UINT64_MAX : len / d->el.width)
                    : pb_count_varints(p, len);
  unsigned want = !d->fixed ? PB_VARINT : d->el.width == 4 ? PB_I32 : PB_I64;
  if (f->wt != want || (d->fixed && d->el.width != 4 && d->el.width != 8)) return UINT64_MAX;
  return 1;
}

static int ox_chunk_decode(const ox_data *d, const pb_field *f, const uint8_t *p, uint64_t nv,
                           uint8_t *dst) {
  size_t len = f->end - f->pos;
  if (d->fixed) {
    memcpy(dst, p, len);
    return 1;
  }
  if (f->wt == PB_LEN) return pb_decode_varints(d->el, p, len, nv, dst);
  return pb_varint_size(f->u) == len && pb_elem_store(d->el, f->u, dst);
}

/* pass 0: count (*count), 1: decode into dst, 2: record the holes. Returns 0, 1 when the
 * elements cannot be carried (*why), or an error. */
static int ox_data_pass(ox *x, size_t pos, size_t end, const ox_data *d, int pass, uint64_t *count,
                        uint8_t *dst, const char **why) {
  pb_cursor c;
  pb_field f;
  pb_status st;
  int rc;
  uint64_t k = 0;
  pb_cursor_init(&c, x->src, x->n, pos, end);
  while ((rc = pb_next(&c, &f, &st)) == 1) {
    if (f.num != d->num) continue;
    const uint8_t *p = x->src + f.pos;
    uint64_t nv = ox_chunk_count(d, &f, p);
    if (nv == UINT64_MAX) return (*why = "malformed or unexpected wire type", 1);
    if (nv == 0) continue;
    if (pass == 1 && !ox_chunk_decode(d, &f, p, nv, dst + k * d->el.width))
      return (*why = "varints not in canonical form or out of range", 1);
    if (pass == 2) {
      unsigned kind = d->fixed         ? TCF_ONNX_HOLE_RAW
                      : f.wt == PB_LEN ? TCF_ONNX_HOLE_VARINTS
                                       : TCF_ONNX_HOLE_VARINT;
      if (kind != TCF_ONNX_HOLE_RAW && ox_prefixes(x, f.wt == PB_LEN ? &f : NULL) != 0)
        return TCODEC_E_NOMEM;
      if ((rc = ox_add_hole(x, f.pos, f.end - f.pos, k, nv, kind)) != 0) return rc;
    }
    k += nv;
  }
  if (rc < 0) return ox_pbfail(x, rc, &st);
  *count = k;
  return 0;
}

/* The elements of a message's field as a tensor (count must equal want_count, or any when
 * want_count is UINT64_MAX). Returns 0 (added, kept or nothing there) or an error. */
int ox_data_tensor(ox *x, const pb_field *msg, const ox_data *d, const ox_site *s, ox_newt *nt,
                   const uint8_t *name, size_t name_len, uint64_t want_count) {
  uint64_t count = 0, again = 0;
  const char *why = NULL;
  int rc = ox_data_pass(x, msg->pos, msg->end, d, 0, &count, NULL, &why);
  if (rc < 0) return rc;
  if (rc == 0 && count == 0) return 0;
  if (rc == 0 && d->scalar && count > 1) rc = (why = "scalar attribute given more than once", 1);
  if (rc == 0 && want_count != UINT64_MAX && count != want_count)
    return ox_fail(x, TCODEC_E_PAYLOAD, msg->tag_pos, "%s: %s holds %llu values, dims give %llu",
                   x->path.p, nt->field, (unsigned long long)count, (unsigned long long)want_count);
  uint8_t *buf = rc == 0 ? malloc(count * d->el.width) : NULL;
  if (rc == 0 && buf == NULL) return ox_nomem(x);
  if (rc == 0) rc = ox_data_pass(x, msg->pos, msg->end, d, 1, &again, buf, &why);
  if (rc != 0) {
    free(buf);
    if (rc == 1) ox_keep(x, why);
    return rc == 1 ? 0 : rc;
  }
  if (want_count == UINT64_MAX && nt->ndim == 1) nt->nelem = nt->shape[0] = count;
  nt->data = nt->owned = buf;
  if ((rc = ox_add_tensor(x, s, name, name_len, nt)) != 0) return rc;
  return ox_data_pass(x, msg->pos, msg->end, d, 2, &again, NULL, &why);
}

/* ---- TensorProto ----------------------------------------------------------------------------- */

/* ONNX TensorProto.DataType -> tcodec dtype and the typed field that may hold it. */
typedef struct ox_type {
  int dtype;
  uint32_t field; /* 4 float_data, 5 int32_data, 7 int64_data, 10 double_data, 11 uint64_data */
} ox_type;

static const ox_type ox_types[] = {
    [1] = {TCODEC_F32, 4},   [2] = {TCODEC_U8, 5},       [3] = {TCODEC_I8, 5},
    [4] = {TCODEC_U16, 5},   [5] = {TCODEC_I16, 5},      [6] = {TCODEC_I32, 5},
    [7] = {TCODEC_I64, 7},   [9] = {TCODEC_BOOL, 5},     [10] = {TCODEC_F16, 5},
    [11] = {TCODEC_F64, 10}, [12] = {TCODEC_U32, 11},    [13] = {TCODEC_U64, 11},
    [16] = {TCODEC_BF16, 5}, [17] = {TCODEC_F8_E4M3, 5}, [19] = {TCODEC_F8_E5M2, 5},
};

static const char *ox_field_name(uint32_t num) {
  static const char *const names[] = {
      [4] = "float_data", [5] = "int32_data",   [6] = "string_data", [7] = "int64_data",
      [9] = "raw_data",   [10] = "double_data", [11] = "uint64_data"};
  return num < sizeof(names) / sizeof(names[0]) && names[num] ? names[num] : "?";
}

static int ox_is_signed(int dtype) {
  return dtype == TCODEC_I8 || dtype == TCODEC_I16 || dtype == TCODEC_I32 || dtype == TCODEC_I64;
}

typedef struct ox_tp {
  uint64_t dims[TCF_MAX_NDIM];
  unsigned ndim;
  int many_dims, neg_dim, segment, location;
  int64_t type;
  size_t dims_pos;
  const uint8_t *name;
  size_t name_len;
  pb_field raw; /* last raw_data */
  int nraw;
  unsigned typed;        /* bit per typed field number present */
  const uint8_t *ext[3]; /* location, offset, length values */
  size_t ext_len[3];
  int ext_set[3];
} ox_tp;

static int ox_dim(ox_tp *tp, uint64_t v) {
  if ((int64_t)v < 0) tp->neg_dim = 1;
  if (tp->ndim == TCF_MAX_NDIM) return (tp->many_dims = 1, 0);
  tp->dims[tp->ndim++] = v;
  return 0;
}

static int ox_tp_dims(ox *x, const pb_field *f, ox_tp *tp) {
  if (tp->dims_pos == SIZE_MAX) tp->dims_pos = f->tag_pos;
  if (f->wt == PB_VARINT) return ox_dim(tp, f->u);
  if (f->wt != PB_LEN) return 0;
  for (size_t p = f->pos; p < f->end;) {
    uint64_t v;
    if (pb_get_varint(x->src, f->end, &p, &v) != 0)
      return ox_fail(x, TCODEC_E_PAYLOAD, f->tag_pos, "%s: malformed packed dims", x->path.p);
    ox_dim(tp, v);
  }
  return 0;
}

int ox_ext_entry(ox *x, const pb_field *f, void *st) {
  const uint8_t **kv = st;
  kv[2 * (f->num - 1)] = x->src + f->pos;
  kv[2 * (f->num - 1) + 1] = x->src + f->end;
  return 0;
}

static int ox_tp_external(ox *x, const pb_field *f, ox_tp *tp) {
  static const ox_rule rules[] = {
      {1, PB_LEN, ox_ext_entry}, {2, PB_LEN, ox_ext_entry}, {0, 0, NULL}};
  static const char *const keys[3] = {"location", "offset", "length"};
  const uint8_t *kv[4] = {NULL, NULL, NULL, NULL};
  int rc = ox_walk(x, f->pos, f->end, rules, kv);
  for (int i = 0; rc == 0 && kv[0] != NULL && i < 3; i++)
    if (ox_span_is(kv[0], (size_t)(kv[1] - kv[0]), keys[i])) {
      tp->ext[i] = kv[2] ? kv[2] : (const uint8_t *)"";
      tp->ext_len[i] = kv[2] ? (size_t)(kv[3] - kv[2]) : 0;
      tp->ext_set[i] = 1;
    }
  return rc;
}

static int ox_tp_field(ox *x, const pb_field *f, void *st) {
  ox_tp *tp = st;
  switch (f->num) {
  case 1:
    return ox_tp_dims(x, f, tp);
  case 2:
    tp->type = f->wt == PB_VARINT ? (int64_t)f->u : tp->type;
    return 0;
  case 3:
    tp->segment = 1;
    return 0;
  case 8:
    tp->name = x->src + f->pos, tp->name_len = f->end - f->pos;
    return 0;
  case 9:
    tp->raw = *f, tp->nraw++;
    return 0;
  case 13:
    return f->wt == PB_LEN ? ox_tp_external(x, f, tp) : 0;
  case 14:
    tp->location = f->wt == PB_VARINT ? (int)(f->u == 1) : tp->location;
    return 0;
  case 4:
  case 5:
  case 6:
  case 7:
  case 10:
  case 11:
    tp->typed |= 1u << f->num;
    return 0;
  default:
    return 0;
  }
}

static int ox_decimal(const uint8_t *s, size_t n, uint64_t *v) {
  *v = 0;
  if (n == 0 || n > 19) return 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    *v = *v * 10 + (uint64_t)(s[i] - '0');
  }
  return 1;
}

/* Lexical checks on an external location; NULL if fine, else the reason. */
const char *tcf_onnx_location_problem(const uint8_t *s, size_t n) {
  if (n == 0) return "is empty";
  if (memchr(s, 0, n) != NULL) return "contains a NUL byte";
  if (s[0] == '/' || s[0] == '\\' || (n >= 2 && s[1] == ':')) return "is an absolute path";
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && s[j] != '/' && s[j] != '\\') j++;
    if (j - i == 2 && s[i] == '.' && s[i + 1] == '.') return "has a '..' component";
    i = j + 1;
  }
  return NULL;
}

static int ox_ext_read(ox *x, const char *loc, uint64_t off, uint64_t size, uint8_t *dst,
                       uint64_t at) {
  void *h = NULL;
  uint64_t fsize = 0;
  tcf_error e;
  memset(&e, 0, sizeof(e));
  int rc = x->ext->open(x->ext->user, loc, &fsize, &h, &e);
  if (rc != 0) return ox_fail(x, rc, at, "%s: external data '%s': %s", x->path.p, loc, e.msg);
  if (fsize > x->max_file)
    rc = ox_fail(x, TCODEC_E_LIMIT, at, "%s: external data '%s' is larger than the limit",
                 x->path.p, loc);
  else if (off > fsize || size > fsize - off)
    rc = ox_fail(x, TCODEC_E_TRUNCATED, at,
                 "%s: external data '%s': offset %llu + length %llu past its end (%llu bytes)",
                 x->path.p, loc, (unsigned long long)off, (unsigned long long)size,
                 (unsigned long long)fsize);
  else if (size > 0 && (rc = x->ext->read(x->ext->user, h, off, dst, (size_t)size, &e)) != 0)
    rc = ox_fail(x, rc, at, "%s: external data '%s': %s", x->path.p, loc, e.msg);
  x->ext->close(x->ext->user, h);
  return rc;
}

static int ox_external(ox *x, const pb_field *f, const ox_tp *tp, const ox_site *s, ox_newt *nt) {
  uint64_t size = nt->nelem * tcodec_dtype_size(nt->dtype), off = 0, len = size;
  const char *why;
  if (x->ext == NULL)
    return ox_fail(x, TCODEC_E_UNSUPPORTED_FEATURE, f->tag_pos,
                   "%s: external data, and no folder to read it from", x->path.p);
  if (tp->nraw || tp->typed)
    return ox_fail(x, TCODEC_E_PAYLOAD, f->tag_pos, "%s: external tensor that also has inline data",
                   x->path.p);
  if (!tp->ext_set[0])
    return ox_fail(x, TCODEC_E_PAYLOAD, f->tag_pos, "%s: external data without a location",
                   x->path.p);
  if ((why = tcf_onnx_location_problem(tp->ext[0], tp->ext_len[0])) != NULL)
    return ox_fail(x, TCODEC_E_PAYLOAD, f->tag_pos, "%s: external data location %s", x->path.p,
                   why);
  if ((tp->ext_set[1] && !ox_decimal(tp->ext[1], tp->ext_len[1], &off)) ||
      (tp->ext_set[2] && !ox_decimal(tp->ext[2], tp->ext_len[2], &len)))
    return ox_fail(x, TCODEC_E_PAYLOAD, f->tag_pos,
                   "%s: external data offset or length is not a decimal number", x->path.p);
  if (len != size)
    return ox_fail(x, TCODEC_E_PAYLOAD, f->tag_pos,
                   "%s: external data length %llu, dims x dtype size = %llu", x->path.p,
                   (unsigned long long)len, (unsigned long long)size);
  char *loc = ox_strndup(tp->ext[0], tp->ext_len[0]);
  uint8_t *buf = malloc(size ? size : 1);
  int rc =
      loc == NULL || buf == NULL ? ox_nomem(x) : ox_ext_read(x, loc, off, size, buf, f->tag_pos);
  if (rc == 0) {
    nt->data = nt->owned = buf, nt->field = "external_data";
    buf = NULL;
    rc = ox_add_tensor(x, s, tp->name, tp->name_len, nt);
  }
  if (rc == 0) {
    x->ti[x->m->ntensors - 1].location = loc;
    x->ti[x->m->ntensors - 1].ext_offset = off;
    loc = NULL;
  }
  free(buf);
  free(loc);
  return rc;
}

static int ox_tensor_body(ox *x, const pb_field *f, const ox_site *s) {
  ox_tp tp;
  memset(&tp, 0, sizeof(tp));
  tp.dims_pos = SIZE_MAX;
  int rc = ox_walk(x, f->pos, f->end,
                   (const ox_rule[]){{1, PB_VARINT, ox_tp_field},  {1, PB_LEN, ox_tp_field},
                                     {2, PB_VARINT, ox_tp_field},  {3, PB_LEN, ox_tp_field},
                                     {8, PB_LEN, ox_tp_field},     {9, PB_LEN, ox_tp_field},
                                     {13, PB_LEN, ox_tp_field},    {14, PB_VARINT, ox_tp_field},
                                     {4, PB_LEN, ox_tp_field},     {4, PB_I32, ox_tp_field},
                                     {5, PB_LEN, ox_tp_field},     {5, PB_VARINT, ox_tp_field},
                                     {6, PB_LEN, ox_tp_field},     {7, PB_LEN, ox_tp_field},
                                     {7, PB_VARINT, ox_tp_field},  {10, PB_LEN, ox_tp_field},
                                     {10, PB_I64, ox_tp_field},    {11, PB_LEN, ox_tp_field},
                                     {11, PB_VARINT, ox_tp_field}, {0, 0, NULL}},
                   &tp);
  if (rc != 0) return rc;
  if (tp.neg_dim)
    return ox_fail(x, TCODEC_E_SHAPE, tp.dims_pos, "%s: negative dimension", x->path.p);
  uint64_t nelem = 1;
  int zero = 0, over = 0;
  for (unsigned i = 0; i < tp.ndim; i++) {
    zero |= tp.dims[i] == 0;
    over |= tp.dims[i] != 0 && nelem > UINT64_MAX / 16 / tp.dims[i];
    nelem *= tp.dims[i] ? tp.dims[i] : 1;
  }
  if (over && !zero)
    return ox_fail(x, TCODEC_E_SHAPE, tp.dims_pos, "%s: element count overflows", x->path.p);
  nelem = zero ? 0 : nelem;
  const ox_type *ty = tp.type > 0 && (size_t)tp.type < sizeof(ox_types) / sizeof(ox_types[0])
                          ? &ox_types[tp.type]
                          : NULL;
  char why[64] = "";
  if (tp.segment)
    snprintf(why, sizeof(why), "segment (partial tensor)");
  else if (ty == NULL || ty->dtype == 0)
    snprintf(why, sizeof(why), "data type %lld not carried", (long long)tp.type);
  else if (tp.many_dims)
    snprintf(why, sizeof(why), "more than %d dimensions", TCF_MAX_NDIM);
  if (why[0] && tp.location) /* its bytes are elsewhere: keeping the skeleton would lose them */
    return ox_fail(x, TCODEC_E_UNSUPPORTED_FEATURE, f->tag_pos,
                   "%s: external data of a tensor not carried (%s)", x->path.p, why);
  if (why[0]) return (ox_keep(x, why), 0);
  ox_newt nt = {ty->dtype, tp.ndim, tp.dims, nelem, NULL, NULL, "raw_data"};
  if (tp.location) return ox_external(x, f, &tp, s, &nt);
  unsigned nfields = tp.nraw > 0;
  for (unsigned b = tp.typed; b != 0; b &= b - 1) nfields++;
  if (nfields == 0) return nelem ? (ox_keep(x, "no data"), 0) : 0;
  if (nfields > 1) return (ox_keep(x, "several data fields"), 0);
  uint64_t size = nelem * tcodec_dtype_size(ty->dtype);
  if (tp.nraw) {
    if (tp.raw.end - tp.raw.pos != size)
      return ox_fail(x, TCODEC_E_PAYLOAD, tp.raw.tag_pos,
                     "%s: raw_data holds %llu bytes, dims x dtype size = %llu", x->path.p,
                     (unsigned long long)(tp.raw.end - tp.raw.pos), (unsigned long long)size);
    if (size == 0) return 0;
    nt.data = x->src + tp.raw.pos;
    if ((rc = ox_add_tensor(x, s, tp.name, tp.name_len, &nt)) != 0) return rc;
    return ox_add_hole(x, tp.raw.pos, size, 0, nelem, TCF_ONNX_HOLE_RAW);
  }
  if (tp.typed != 1u << ty->field)
    return (ox_keep(x, "typed data field does not match the data type"), 0);
  ox_data d = {ty->field,
               ty->field == 4 || ty->field == 10,
               {(unsigned)tcodec_dtype_size(ty->dtype), ox_is_signed(ty->dtype)},
               0};
  nt.field = ox_field_name(ty->field);
  if (nelem == 0) return 0;
  return ox_data_tensor(x, f, &d, s, &nt, tp.name, tp.name_len, nelem);
}

int ox_tensor(ox *x, const pb_field *f, const ox_site *s) {
  int rc = ox_push(x, f);
  if (rc != 0) return rc;
  rc = ox_tensor_body(x, f, s);
  x->nfr--;
  return rc;
}
