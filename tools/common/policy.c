/* Quantization policies: the JSON policy file and the per-tensor choice (policy.h,
 * docs/policy.md). Depends on libc, jansson and <tcodec/tcodec.h> only. */
#include "policy.h"

#include <fnmatch.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- names ------------------------------------------------------------------------ */

typedef struct pol_method {
  const char *name;
  int available; /* 0: reserved for a later version of the library */
} pol_method;

static const pol_method k_methods[TT_M_COUNT_] = {
    {"lossless", 1}, {"twn", 1},    {"ec2t", 1},       {"kbit", 1},
    {"hybrid", 1},   {"binary", 1}, {"adaptive_bt", 1}};

/* tt_method -> tcodec_method */
static const int k_lib_methods[TT_M_COUNT_] = {TCODEC_Q_LOSSLESS, TCODEC_Q_TWN,    TCODEC_Q_EC2T,
                                               TCODEC_Q_KBIT,     TCODEC_Q_HYBRID, TCODEC_Q_BINARY,
                                               TCODEC_Q_ADAPTIVE_BT};

static const char *const k_grans[] = {"tensor", "channel", "group"}; /* = TCODEC_GRAN_* */

const char *tt_method_name(int method) {
  return method >= 0 && method < TT_M_COUNT_ ? k_methods[method].name : "?";
}

int tt_method_from_name(const char *name) {
  for (int m = 0; m < TT_M_COUNT_; m++)
    if (strcmp(name, k_methods[m].name) == 0) return m;
  return strcmp(name, "adaptive") == 0 ? TT_M_ADAPTIVE : -1;
}

int tt_method_available(int method) {
  return method >= 0 && method < TT_M_COUNT_ && k_methods[method].available;
}

const char *tt_granularity_name(int g) { return g >= 0 && g <= 2 ? k_grans[g] : "?"; }

void tt_action_init(tt_action *a, int method) {
  memset(a, 0, sizeof(*a));
  a->method = method;
  a->threshold = 0.7;
  a->granularity = TCODEC_GRAN_CHANNEL;
  a->axis = TT_AXIS_AUTO;
  a->group_size = 256;
  a->symmetric = 1;
  a->scale_dtype = TCODEC_F32;
  a->lambda = 0.05;
  a->max_iter = 30;
  a->bits = 4;
  a->full_dtype = TCODEC_F16;
  a->error_budget = 0.5;
  a->size_weight = 0.01;
  a->depth_first = a->depth_last = 4;
}

void tt_match_init(tt_match *m) {
  memset(m, 0, sizeof(*m));
  m->min_elements = 1024;
  m->max_elements = UINT64_MAX;
  m->ndim_min = 2;
  m->ndim_max = UINT_MAX;
}

/* ---- tables of keys ------------------------------------------------------------------
 * Each action key says which methods take it; a key given for another method is an
 * error, so a typo or a misplaced parameter never passes silently. */

typedef enum pol_kind {
  PK_NUMBER,   /* double */
  PK_U64,      /* uint64_t */
  PK_UINT,     /* unsigned */
  PK_BOOL,     /* int 0/1 */
  PK_GRAN,     /* int, "tensor" | "channel" | "group" */
  PK_AXIS,     /* int, unsigned integer or "auto" */
  PK_SDTYPE,   /* int, "f32" | "f16" | "bf16" */
  PK_FDTYPE,   /* int, "f16" | "f32" */
  PK_DEPTH,    /* tt_action by_depth/depth_first/depth_last: {"first": 2..8, "last": 2..8} */
  PK_GLOBS,    /* char **, size_t: string or array of strings */
  PK_DTYPES    /* uint32_t mask: string or array of dtype names */
} pol_kind;

typedef struct pol_key {
  const char *key;
  pol_kind kind;
  size_t off, off_n; /* field offsets (off_n: the count of a list) */
  double lo, hi;     /* numbers and integers */
  unsigned methods;  /* actions: bit (1 << tt_method) of the methods taking it */
} pol_key;

#define MB(m) (1u << (m))
/* methods with a scale unit (tensor, channel, group); hybrid's unit is the filter */
#define QUANT_METHODS \
  (MB(TT_M_TWN) | MB(TT_M_EC2T) | MB(TT_M_KBIT) | MB(TT_M_BINARY) | MB(TT_M_ADAPTIVE))
#define TERNARY_METHODS (MB(TT_M_TWN) | MB(TT_M_EC2T) | MB(TT_M_HYBRID) | MB(TT_M_ADAPTIVE))
#define AF(field) offsetof(tt_action, field), 0
#define MF(field) offsetof(tt_match, field), 0

static const pol_key k_action_keys[] = {
    {"threshold", PK_NUMBER, AF(threshold), 0.0, 100.0, TERNARY_METHODS},
    {"granularity", PK_GRAN, AF(granularity), 0, 0, QUANT_METHODS},
    {"axis", PK_AXIS, AF(axis), 0, 31, QUANT_METHODS | MB(TT_M_HYBRID)},
    {"group_size", PK_U64, AF(group_size), 1, 4294967296.0, QUANT_METHODS},
    {"symmetric", PK_BOOL, AF(symmetric), 0, 0, QUANT_METHODS | MB(TT_M_HYBRID)},
    {"scale_dtype", PK_SDTYPE, AF(scale_dtype), 0, 0, QUANT_METHODS | MB(TT_M_HYBRID)},
    {"lambda", PK_NUMBER, AF(lambda), 0.0, 1e9, MB(TT_M_EC2T)},
    {"max_iter", PK_UINT, AF(max_iter), 0, 100000, MB(TT_M_EC2T)},
    {"bits", PK_UINT, AF(bits), 2, 8, MB(TT_M_KBIT)},
    {"bits_by_depth", PK_DEPTH, AF(by_depth), 2, 8, MB(TT_M_KBIT)},
    {"sparsity", PK_NUMBER, AF(sparsity), 0.0, 1.0, MB(TT_M_KBIT)},
    {"zero_point", PK_BOOL, AF(zero_point), 0, 0, MB(TT_M_KBIT)},
    {"full_dtype", PK_FDTYPE, AF(full_dtype), 0, 0, MB(TT_M_HYBRID)},
    {"error_budget", PK_NUMBER, AF(error_budget), 0.0, 1e9, MB(TT_M_HYBRID)},
    {"ternary_fraction", PK_NUMBER, AF(ternary_fraction), 0.0, 1.0, MB(TT_M_HYBRID)},
    {"size_weight", PK_NUMBER, AF(size_weight), 0.0, 1e9, MB(TT_M_ADAPTIVE)},
};

static const pol_key k_match_keys[] = {
    {"name", PK_GLOBS, offsetof(tt_match, names), offsetof(tt_match, nnames), 0, 0, 0},
    {"exclude", PK_GLOBS, offsetof(tt_match, excludes), offsetof(tt_match, nexcludes), 0, 0, 0},
    {"op", PK_GLOBS, offsetof(tt_match, ops), offsetof(tt_match, nops), 0, 0, 0},
    {"dtype", PK_DTYPES, MF(dtypes), 0, 0, 0},
    {"min_elements", PK_U64, MF(min_elements), 0, 1.8446744073709552e19, 0},
    {"max_elements", PK_U64, MF(max_elements), 0, 1.8446744073709552e19, 0},
    {"ndim_min", PK_UINT, MF(ndim_min), 0, 4294967295.0, 0},
    {"ndim_max", PK_UINT, MF(ndim_max), 0, 4294967295.0, 0},
};

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

/* ---- error positions -------------------------------------------------------------------
 * jansson does not keep positions of values, so an error's position is found again in
 * the text (which jansson accepted: it is valid JSON) by following the path of keys and
 * array indices from the root. */

typedef struct pol_seg {
  const char *key; /* NULL: array element `index` */
  size_t index;
} pol_seg;

typedef struct pol_ctx {
  const char *src;
  size_t n;
  pol_seg path[8];
  size_t depth;
  tt_policy_error *err;
} pol_ctx;

static size_t skip_ws(const char *s, size_t n, size_t i) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  return i;
}

static size_t skip_string(const char *s, size_t n, size_t i) { /* s[i] == '"' */
  for (i++; i < n && s[i] != '"'; i++)
    if (s[i] == '\\') i++;
  return i < n ? i + 1 : n;
}

static size_t skip_value(const char *s, size_t n, size_t i) {
  size_t depth = 0;
  do {
    if (i >= n) return n;
    char ch = s[i];
    if (ch == '"') {
      i = skip_string(s, n, i);
      continue;
    }
    if (ch == '{' || ch == '[') depth++;
    else if (ch == '}' || ch == ']') depth--;
    else if (depth == 0) { /* number or literal */
      while (i < n && strchr(",}] \t\r\n", s[i]) == NULL) i++;
      return i;
    }
    i++;
  } while (depth > 0);
  return i;
}

/* 1 if the JSON string token s[i, j) decodes to `key`. */
static int key_equals(const char *s, size_t i, size_t j, const char *key) {
  if (j < i + 2) return 0;
  if (memchr(s + i, '\\', j - i) == NULL) return j - i - 2 == strlen(key) && memcmp(s + i + 1, key, j - i - 2) == 0;
  json_t *v = json_loadb(s + i, j - i, JSON_DECODE_ANY, NULL);
  int eq = v != NULL && json_is_string(v) && strcmp(json_string_value(v), key) == 0;
  json_decref(v);
  return eq;
}

/* Offset of the value's key (or array element) at the end of the path; the deepest
 * position found when the text does not have the whole path. */
static size_t locate(const pol_ctx *c) {
  const char *s = c->src;
  size_t n = c->n, i = skip_ws(s, n, 0), at = i;
  size_t depth = c->depth < NKEYS(c->path) ? c->depth : NKEYS(c->path);
  for (size_t d = 0; d < depth; d++) {
    const pol_seg *g = &c->path[d];
    int found = 0;
    if (i >= n || s[i] != (g->key != NULL ? '{' : '[')) return at;
    i = skip_ws(s, n, i + 1);
    for (size_t k = 0; !found && i < n && s[i] != '}' && s[i] != ']'; k++) {
      size_t start = i;
      if (g->key != NULL) {
        size_t j = skip_string(s, n, i);
        found = key_equals(s, i, j, g->key);
        i = skip_ws(s, n, j);
        i = skip_ws(s, n, i + 1); /* past ':' */
      } else {
        found = k == g->index;
      }
      if (found) {
        at = start;
      } else {
        i = skip_ws(s, n, skip_value(s, n, i));
        if (i < n && s[i] == ',') i = skip_ws(s, n, i + 1);
      }
    }
    if (!found) return at;
  }
  return at;
}

static void path_text(const pol_ctx *c, char *buf, size_t cap) {
  size_t len = 0, depth = c->depth < NKEYS(c->path) ? c->depth : NKEYS(c->path);
  buf[0] = '\0';
  for (size_t d = 0; d < depth && len < cap; d++) {
    const pol_seg *g = &c->path[d];
    int w = g->key != NULL ? snprintf(buf + len, cap - len, "%s%s", d ? "." : "", g->key)
                           : snprintf(buf + len, cap - len, "[%zu]", g->index);
    if (w < 0) break;
    len += (size_t)w;
  }
}

static void line_col(const char *s, size_t off, unsigned *line, unsigned *col) {
  unsigned l = 1, k = 1;
  for (size_t i = 0; i < off; i++) {
    if (s[i] == '\n') l++, k = 1;
    else if (((unsigned char)s[i] & 0xC0) != 0x80) k++;
  }
  *line = l, *col = k;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(pol_ctx *c, const char *fmt, ...);
static int fail(pol_ctx *c, const char *fmt, ...) {
  char what[360], where[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  path_text(c, where, sizeof(where));
  tt_policy_error *e = c->err;
  e->offset = locate(c);
  line_col(c->src, (size_t)e->offset, &e->line, &e->column);
  if (where[0] != '\0')
    snprintf(e->msg, sizeof(e->msg), "%s: %s", where, what);
  else
    snprintf(e->msg, sizeof(e->msg), "%s", what);
  return -1;
}

static void push(pol_ctx *c, const char *key, size_t index) {
  if (c->depth < NKEYS(c->path)) c->path[c->depth] = (pol_seg){key, index};
  c->depth++;
}
static void pop(pol_ctx *c) { c->depth--; }

static const char *type_name(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
  }
  return "?";
}

/* "name, name2, ..." of a key table (plus extras), for "expected one of". */
static void key_list(const pol_key *keys, size_t nkeys, unsigned methods, const char *extra,
                     char *buf, size_t cap) {
  size_t len = (size_t)snprintf(buf, cap, "%s", extra);
  for (size_t i = 0; i < nkeys && len < cap; i++)
    if (methods == 0 || (keys[i].methods & methods) != 0)
      len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", keys[i].key);
}

/* ---- values ---------------------------------------------------------------------------- */

static int get_number(pol_ctx *c, const json_t *v, const pol_key *k, double *out) {
  if (!json_is_number(v)) return fail(c, "must be a number, not %s", type_name(v));
  double d = json_number_value(v);
  if (!(d >= k->lo && d <= k->hi)) return fail(c, "%g is out of range [%g, %g]", d, k->lo, k->hi);
  *out = d;
  return 0;
}

static int get_integer(pol_ctx *c, const json_t *v, const pol_key *k, uint64_t *out) {
  if (!json_is_integer(v)) return fail(c, "must be an integer, not %s", type_name(v));
  json_int_t x = json_integer_value(v);
  if (x < 0 || (double)x < k->lo || (double)x > k->hi)
    return fail(c, "%lld is out of range [%.0f, %.0f]", (long long)x, k->lo, k->hi);
  *out = (uint64_t)x;
  return 0;
}

static int get_enum(pol_ctx *c, const json_t *v, const char *const *names, size_t n, int *out) {
  if (!json_is_string(v)) return fail(c, "must be a string, not %s", type_name(v));
  for (size_t i = 0; i < n; i++)
    if (strcmp(json_string_value(v), names[i]) == 0) return *out = (int)i, 0;
  char list[128];
  size_t len = 0;
  for (size_t i = 0; i < n; i++) len += (size_t)snprintf(list + len, sizeof(list) - len, "%s\"%s\"", i ? ", " : "", names[i]);
  return fail(c, "\"%s\" is not one of %s", json_string_value(v), list);
}

int tt_strlist_add(char ***list, size_t *n, const char *s) {
  char **grown = realloc(*list, (*n + 1) * sizeof(char *));
  if (grown == NULL) return -1;
  *list = grown;
  size_t len = strlen(s);
  grown[*n] = malloc(len + 1);
  if (grown[*n] == NULL) return -1;
  memcpy(grown[*n], s, len + 1);
  *n += 1;
  return 0;
}

static int get_string_item(pol_ctx *c, const json_t *v, const char **out) {
  if (!json_is_string(v)) return fail(c, "must be a string, not %s", type_name(v));
  if (json_string_length(v) == 0) return fail(c, "must not be empty");
  *out = json_string_value(v);
  return 0;
}

/* A string or an array of strings; each item goes to `add`. */
static int get_list(pol_ctx *c, json_t *v, int (*add)(pol_ctx *, void *, const char *),
                    void *dst) {
  if (json_is_string(v)) {
    const char *s;
    return get_string_item(c, v, &s) != 0 ? -1 : add(c, dst, s);
  }
  if (!json_is_array(v)) return fail(c, "must be a string or an array of strings, not %s", type_name(v));
  if (json_array_size(v) == 0) return fail(c, "must not be an empty array");
  if (json_array_size(v) > TT_POLICY_MAX_LIST) return fail(c, "more than %u entries", TT_POLICY_MAX_LIST);
  for (size_t i = 0; i < json_array_size(v); i++) {
    const char *s;
    push(c, NULL, i);
    int rc = get_string_item(c, json_array_get(v, i), &s);
    if (rc == 0) rc = add(c, dst, s);
    pop(c);
    if (rc != 0) return rc;
  }
  return 0;
}

typedef struct glob_dst {
  char ***list;
  size_t *n;
} glob_dst;

static int add_glob(pol_ctx *c, void *dst, const char *s) {
  glob_dst *g = dst;
  return tt_strlist_add(g->list, g->n, s) == 0 ? 0 : fail(c, "out of memory");
}

static int add_dtype(pol_ctx *c, void *dst, const char *s) {
  int d = tcodec_dtype_from_name(s);
  if (d == TCODEC_DTYPE_INVALID) return fail(c, "\"%s\" is not a dtype (f32, f16, bf16, f64, i8...)", s);
  *(uint32_t *)dst |= 1u << d;
  return 0;
}

static void *field(void *base, size_t off) { return (char *)base + off; }

/* "bits_by_depth": {"first": F, "last": L}, both integers in [k->lo, k->hi]; base is
 * the tt_action. */
static int get_depth(pol_ctx *c, json_t *v, const pol_key *k, void *base) {
  tt_action *a = base;
  const char *key;
  json_t *x;
  int have_first = 0, have_last = 0;
  if (!json_is_object(v))
    return fail(c, "must be an object {\"first\": bits, \"last\": bits}, not %s", type_name(v));
  json_object_foreach(v, key, x) {
    uint64_t u = 0;
    int rc = 0;
    push(c, key, 0);
    if (strcmp(key, "first") == 0 || strcmp(key, "last") == 0) {
      rc = get_integer(c, x, k, &u);
      if (rc == 0 && key[0] == 'f') a->depth_first = (unsigned)u, have_first = 1;
      if (rc == 0 && key[0] == 'l') a->depth_last = (unsigned)u, have_last = 1;
    } else if (strcmp(key, "comment") != 0) {
      rc = fail(c, "unknown key (bits_by_depth takes first, last, comment)");
    }
    pop(c);
    if (rc != 0) return rc;
  }
  if (!have_first || !have_last) return fail(c, "needs both \"first\" and \"last\"");
  a->by_depth = 1;
  return 0;
}

/* Store v into the field `k` describes, in the struct at base. */
static int set_field(pol_ctx *c, const pol_key *k, json_t *v, void *base) {
  static const char *const sdtypes[] = {"f32", "f16", "bf16"};
  static const int sdtype_ids[] = {TCODEC_F32, TCODEC_F16, TCODEC_BF16};
  static const char *const fdtypes[] = {"f16", "f32"};
  static const int fdtype_ids[] = {TCODEC_F16, TCODEC_F32};
  uint64_t u = 0;
  int e = 0;
  switch (k->kind) {
    case PK_NUMBER: return get_number(c, v, k, field(base, k->off));
    case PK_U64: return get_integer(c, v, k, field(base, k->off));
    case PK_UINT:
      if (get_integer(c, v, k, &u) != 0) return -1;
      return *(unsigned *)field(base, k->off) = (unsigned)u, 0;
    case PK_BOOL:
      if (!json_is_boolean(v)) return fail(c, "must be true or false, not %s", type_name(v));
      return *(int *)field(base, k->off) = json_is_true(v), 0;
    case PK_GRAN: return get_enum(c, v, k_grans, 3, field(base, k->off));
    case PK_AXIS:
      if (json_is_string(v) && strcmp(json_string_value(v), "auto") == 0)
        return *(int *)field(base, k->off) = TT_AXIS_AUTO, 0;
      if (!json_is_integer(v)) return fail(c, "must be an integer or \"auto\", not %s", type_name(v));
      if (get_integer(c, v, k, &u) != 0) return -1;
      return *(int *)field(base, k->off) = (int)u, 0;
    case PK_SDTYPE:
      if (get_enum(c, v, sdtypes, 3, &e) != 0) return -1;
      return *(int *)field(base, k->off) = sdtype_ids[e], 0;
    case PK_FDTYPE:
      if (get_enum(c, v, fdtypes, 2, &e) != 0) return -1;
      return *(int *)field(base, k->off) = fdtype_ids[e], 0;
    case PK_DEPTH: return get_depth(c, v, k, base);
    case PK_GLOBS: {
      glob_dst g = {field(base, k->off), field(base, k->off_n)};
      return get_list(c, v, add_glob, &g);
    }
    case PK_DTYPES: return get_list(c, v, add_dtype, field(base, k->off));
  }
  return fail(c, "internal error");
}

static const pol_key *find_key(const pol_key *keys, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(keys[i].key, key) == 0) return &keys[i];
  return NULL;
}

/* ---- objects ---------------------------------------------------------------------------- */

static int want_object(pol_ctx *c, const json_t *v) {
  return json_is_object(v) ? 0 : fail(c, "must be an object, not %s", type_name(v));
}

static int parse_match(pol_ctx *c, json_t *obj, tt_match *m) {
  const char *key;
  json_t *v;
  if (want_object(c, obj) != 0) return -1;
  json_object_foreach(obj, key, v) {
    const pol_key *k = find_key(k_match_keys, NKEYS(k_match_keys), key);
    push(c, key, 0);
    int rc = 0;
    if (k != NULL)
      rc = set_field(c, k, v, m);
    else if (strcmp(key, "comment") != 0) {
      char list[256];
      key_list(k_match_keys, NKEYS(k_match_keys), 0, "", list, sizeof(list));
      rc = fail(c, "unknown key (a match takes %s, comment)", list);
    }
    pop(c);
    if (rc != 0) return rc;
  }
  if (m->min_elements > m->max_elements) return fail(c, "min_elements is larger than max_elements");
  if (m->ndim_min > m->ndim_max) return fail(c, "ndim_min is larger than ndim_max");
  return 0;
}

static int parse_method(pol_ctx *c, json_t *obj, tt_action *a) {
  const json_t *v = json_object_get(obj, "method");
  const char *names[TT_M_COUNT_];
  int m = 0;
  if (v == NULL) return fail(c, "\"method\" is missing");
  for (int i = 0; i < TT_M_COUNT_; i++) names[i] = k_methods[i].name;
  push(c, "method", 0);
  int rc = get_enum(c, v, names, TT_M_COUNT_, &m);
  if (rc == 0 && !k_methods[m].available)
    rc = fail(c, "method \"%s\" is reserved for a later version of tcpack", names[m]);
  pop(c);
  tt_action_init(a, m);
  return rc;
}

/* An action object: "method" and its parameters; rules also take "match". */
static int parse_action(pol_ctx *c, json_t *obj, tt_action *a, tt_match *m) {
  const char *key;
  json_t *v;
  if (want_object(c, obj) != 0 || parse_method(c, obj, a) != 0) return -1;
  json_object_foreach(obj, key, v) {
    const pol_key *k = find_key(k_action_keys, NKEYS(k_action_keys), key);
    int rc = 0;
    push(c, key, 0);
    if (strcmp(key, "method") == 0 || strcmp(key, "comment") == 0) {
      rc = 0;
    } else if (m != NULL && strcmp(key, "match") == 0) {
      rc = parse_match(c, v, m);
    } else if (k != NULL && (k->methods & MB(a->method)) != 0) {
      rc = set_field(c, k, v, a);
    } else {
      char list[256];
      key_list(k_action_keys, NKEYS(k_action_keys), MB(a->method), m != NULL ? "match, method" : "method", list,
               sizeof(list));
      rc = fail(c, k != NULL ? "does not apply to method \"%s\" (it takes %s, comment)"
                             : "unknown key (method \"%s\" takes %s, comment)",
                tt_method_name(a->method), list);
    }
    pop(c);
    if (rc != 0) return rc;
  }
  if (json_object_get(obj, "bits") != NULL && json_object_get(obj, "bits_by_depth") != NULL) {
    push(c, "bits_by_depth", 0);
    int rc = fail(c, "cannot be combined with \"bits\"");
    pop(c);
    return rc;
  }
  return 0;
}

void tt_match_free(tt_match *m) {
  for (size_t i = 0; i < m->nnames; i++) free(m->names[i]);
  for (size_t i = 0; i < m->nexcludes; i++) free(m->excludes[i]);
  for (size_t i = 0; i < m->nops; i++) free(m->ops[i]);
  free(m->names), free(m->excludes), free(m->ops);
  m->names = m->excludes = m->ops = NULL;
  m->nnames = m->nexcludes = m->nops = 0;
}

int tt_policy_add_rule(tt_policy *p, tt_rule *rule) {
  tt_rule *grown = realloc(p->rules, (p->nrules + 1) * sizeof(*grown));
  if (grown == NULL) return tt_match_free(&rule->match), -1;
  p->rules = grown;
  p->rules[p->nrules++] = *rule;
  memset(&rule->match, 0, sizeof(rule->match));
  return 0;
}

static int parse_rules(pol_ctx *c, json_t *arr, tt_policy *p) {
  if (!json_is_array(arr)) return fail(c, "must be an array of rules, not %s", type_name(arr));
  if (json_array_size(arr) > TT_POLICY_MAX_RULES) return fail(c, "more than %u rules", TT_POLICY_MAX_RULES);
  for (size_t i = 0; i < json_array_size(arr); i++) {
    tt_rule r;
    memset(&r, 0, sizeof(r));
    tt_match_init(&r.match);
    push(c, NULL, i);
    int rc = parse_action(c, json_array_get(arr, i), &r.action, &r.match);
    if (rc == 0) {
      size_t off = locate(c);
      line_col(c->src, off, &r.line, &r.column);
      if (tt_policy_add_rule(p, &r) != 0) rc = fail(c, "out of memory");
    } else {
      tt_match_free(&r.match);
    }
    pop(c);
    if (rc != 0) return rc;
  }
  return 0;
}

static int parse_top(pol_ctx *c, json_t *root, tt_policy *p) {
  const char *key;
  json_t *v;
  if (!json_is_object(root)) return fail(c, "a policy is a JSON object, not %s", type_name(root));
  const json_t *ver = json_object_get(root, "version");
  if (ver == NULL) return fail(c, "\"version\" is missing (this tcpack reads version 1)");
  json_object_foreach(root, key, v) {
    int rc = 0;
    push(c, key, 0);
    if (strcmp(key, "version") == 0) {
      if (!json_is_integer(v) || json_integer_value(v) != 1)
        rc = fail(c, "this tcpack reads policy version 1 (an integer)");
    } else if (strcmp(key, "default") == 0) {
      rc = parse_action(c, v, &p->def, NULL);
    } else if (strcmp(key, "rules") == 0) {
      rc = parse_rules(c, v, p);
    } else if (strcmp(key, "comment") != 0) {
      rc = fail(c, "unknown key (a policy takes version, default, rules, comment)");
    }
    pop(c);
    if (rc != 0) return rc;
  }
  return 0;
}

int tt_policy_parse(const uint8_t *src, size_t n, tt_policy *out, tt_policy_error *err) {
  json_error_t je;
  pol_ctx c;
  memset(out, 0, sizeof(*out));
  memset(err, 0, sizeof(*err));
  memset(&c, 0, sizeof(c));
  tt_action_init(&out->def, TT_M_LOSSLESS);
  c.src = (const char *)src;
  c.n = n;
  c.err = err;
  if (n > TT_POLICY_MAX_BYTES) {
    snprintf(err->msg, sizeof(err->msg), "policy larger than %u bytes", TT_POLICY_MAX_BYTES);
    err->offset = TT_POLICY_MAX_BYTES, err->line = err->column = 0;
    return -1;
  }
  json_t *root = json_loadb(c.src, n, JSON_REJECT_DUPLICATES, &je);
  if (root == NULL) {
    /* jansson's position counts the bytes read: report the last one read (where it
     * stopped), with line and column counted as for the other errors */
    size_t at = je.position > 0 ? (size_t)je.position - 1 : 0;
    err->offset = at < n ? at : (n ? n - 1 : 0);
    line_col(c.src, (size_t)err->offset, &err->line, &err->column);
    snprintf(err->msg, sizeof(err->msg), "not valid JSON: %s", je.text);
    return -1;
  }
  int rc = parse_top(&c, root, out);
  json_decref(root);
  if (rc != 0) tt_policy_free(out);
  return rc;
}

void tt_policy_free(tt_policy *p) {
  for (size_t i = 0; i < p->nrules; i++) tt_match_free(&p->rules[i].match);
  free(p->rules);
  p->rules = NULL;
  p->nrules = 0;
}

/* ---- choosing ------------------------------------------------------------------------------ */

static int any_glob(char *const *globs, size_t n, const char *s) {
  for (size_t i = 0; i < n; i++)
    if (fnmatch(globs[i], s, 0) == 0) return 1;
  return 0;
}

static int match_ok(const tt_match *m, const tt_tensor_view *t) {
  if (t->nelem < m->min_elements || t->nelem > m->max_elements) return 0;
  if (t->ndim < m->ndim_min || t->ndim > m->ndim_max) return 0;
  if (m->dtypes != 0 && (t->dtype < 0 || t->dtype >= 32 || !(m->dtypes >> t->dtype & 1u))) return 0;
  if (m->nnames > 0 && !any_glob(m->names, m->nnames, t->name)) return 0;
  if (m->nexcludes > 0 && any_glob(m->excludes, m->nexcludes, t->name)) return 0;
  if (m->nops > 0 && !any_glob(m->ops, m->nops, t->op != NULL ? t->op : "")) return 0;
  return 1;
}

static const char *resolve(tt_action *a, const tt_tensor_view *t) {
  if (a->method == TT_M_LOSSLESS) return NULL;
  if (!tt_method_available(a->method)) return "method not available";
  if (!(t->dtype == TCODEC_F32 || t->dtype == TCODEC_F16 || t->dtype == TCODEC_BF16 ||
        t->dtype == TCODEC_F64))
    return "not a f32, f16, bf16 or f64 tensor";
  if (t->nelem == 0) return "empty tensor";
  if (t->nonfinite) return "non-finite values";
  if (a->method == TT_M_HYBRID) { /* the library's unit is the filter: slices along axis 0 */
    if (t->ndim == 0) return "hybrid needs a tensor with at least one dimension";
    if (a->axis == TT_AXIS_AUTO) a->axis = 0;
    if (a->axis != 0) return "hybrid filters lie along axis 0";
    a->granularity = TCODEC_GRAN_CHANNEL;
    return NULL;
  }
  if (a->method == TT_M_KBIT && !a->symmetric)
    return "k-bit is symmetric only (zero_point gives an asymmetric range)";
  if (a->granularity == TCODEC_GRAN_CHANNEL) {
    if (a->axis == TT_AXIS_AUTO)
      a->axis = t->op != NULL && strcmp(t->op, "MatMul") == 0 && t->ndim == 2 ? 1 : 0;
    if ((unsigned)a->axis >= t->ndim) return "channel axis out of range";
  }
  return NULL;
}

void tt_policy_choose(const tt_policy *p, const tt_tensor_view *t, tt_choice *c) {
  c->rule = -1;
  c->action = p->def;
  c->note = NULL;
  for (size_t i = 0; i < p->nrules; i++) {
    if (match_ok(&p->rules[i].match, t)) {
      c->rule = (int)i;
      c->action = p->rules[i].action;
      break;
    }
  }
  c->depth_index = c->depth_count = 0;
  c->note = resolve(&c->action, t);
  if (c->note != NULL) tt_action_init(&c->action, TT_M_LOSSLESS);
  else if (c->action.by_depth) c->action.bits = c->action.depth_first;
}

unsigned tt_depth_bits(unsigned first, unsigned last, size_t i, size_t m) {
  double v = (double)first;
  if (m > 1) v += ((double)last - (double)first) * (double)i / (double)(m - 1);
  v = v < 2.0 ? 2.0 : v > 8.0 ? 8.0 : v;
  return (unsigned)(v + 0.5); /* v >= 2: round half away from zero */
}

/* The group of a choice for bits_by_depth: its rule + 1 (0: the default), or -1. */
static long depth_group(const tt_choice *c) {
  return c->action.method == TT_M_KBIT && c->action.by_depth ? (long)c->rule + 1 : -1;
}

void tt_policy_plan(const tt_policy *p, const tt_tensor_view *ts, size_t n, tt_choice *out) {
  size_t ng = p->nrules + 1;
  for (size_t i = 0; i < n; i++) tt_policy_choose(p, &ts[i], &out[i]);
  size_t *count = calloc(ng, sizeof(size_t)), *seen = calloc(ng, sizeof(size_t));
  if (count != NULL && seen != NULL) {
    for (size_t i = 0; i < n; i++)
      if (depth_group(&out[i]) >= 0) count[depth_group(&out[i])]++;
    for (size_t i = 0; i < n; i++) {
      long g = depth_group(&out[i]);
      if (g < 0) continue;
      tt_action *a = &out[i].action;
      out[i].depth_index = (unsigned)seen[g];
      out[i].depth_count = (unsigned)count[g];
      a->bits = tt_depth_bits(a->depth_first, a->depth_last, seen[g]++, count[g]);
    }
  } else { /* out of memory: O(n^2) counting */
    for (size_t i = 0; i < n; i++) {
      long g = depth_group(&out[i]);
      size_t before = 0, m = 0;
      if (g < 0) continue;
      for (size_t j = 0; j < n; j++)
        if (depth_group(&out[j]) == g) m++, before += j < i;
      out[i].depth_index = (unsigned)before;
      out[i].depth_count = (unsigned)m;
      out[i].action.bits = tt_depth_bits(out[i].action.depth_first, out[i].action.depth_last, before, m);
    }
  }
  free(count);
  free(seen);
}

void tt_action_request(const tt_action *a, tcodec_request *req) {
  tcodec_request_init(req);
  req->method = a->method >= 0 && a->method < TT_M_COUNT_ ? k_lib_methods[a->method] : TCODEC_Q_LOSSLESS;
  req->granularity = a->granularity;
  req->axis = a->axis >= 0 ? (unsigned)a->axis : 0;
  req->group_size = a->group_size;
  req->symmetric = a->symmetric;
  req->scale_dtype = a->scale_dtype;
  req->threshold = a->threshold;
  req->lambda = a->lambda;
  req->max_iter = a->max_iter;
  req->bits = a->bits;
  req->sparsity = a->sparsity;
  req->zero_point = a->zero_point;
  req->full_dtype = a->full_dtype;
  req->error_budget = a->error_budget;
  req->ternary_fraction = a->ternary_fraction;
  req->size_weight = a->size_weight;
  if (a->method == TT_M_HYBRID) req->granularity = TCODEC_GRAN_CHANNEL, req->axis = 0;
}

int tt_action_takes(int method, const char *key) {
  const pol_key *k = find_key(k_action_keys, NKEYS(k_action_keys), key);
  return k != NULL && method >= 0 && method < TT_M_COUNT_ && (k->methods & MB(method)) != 0;
}

void tt_action_describe(const tt_action *a, char *buf, size_t cap) {
  char gran[48] = "", par[160] = "";
  size_t len = 0;
  int m = a->method;
  if (m == TT_M_LOSSLESS) {
    snprintf(buf, cap, "lossless");
    return;
  }
#define PAR(...) \
  (len += len < sizeof(par) ? (size_t)snprintf(par + len, sizeof(par) - len, __VA_ARGS__) : 0)
  if (m == TT_M_EC2T) PAR(" lambda=%g max_iter=%u", a->lambda, a->max_iter);
  if (m == TT_M_KBIT) {
    PAR(" bits=%u", a->bits);
    if (a->by_depth) PAR(" by_depth=%u:%u", a->depth_first, a->depth_last);
    PAR(" sparsity=%g%s", a->sparsity, a->zero_point ? " zero_point" : "");
  }
  if (m == TT_M_HYBRID) {
    PAR(" full=%s", tcodec_dtype_name(a->full_dtype));
    if (a->ternary_fraction > 0) PAR(" ternary_fraction=%g", a->ternary_fraction);
    else PAR(" error_budget=%g", a->error_budget);
  }
  if (m == TT_M_ADAPTIVE) PAR(" size_weight=%g", a->size_weight);
  if (tt_action_takes(m, "threshold")) PAR(" threshold=%g", a->threshold);
#undef PAR
  if (m == TT_M_HYBRID)
    snprintf(gran, sizeof(gran), "filters axis=0");
  else if (a->granularity == TCODEC_GRAN_CHANNEL && a->axis == TT_AXIS_AUTO)
    snprintf(gran, sizeof(gran), "channel axis=auto");
  else if (a->granularity == TCODEC_GRAN_CHANNEL)
    snprintf(gran, sizeof(gran), "channel axis=%d", a->axis);
  else if (a->granularity == TCODEC_GRAN_GROUP)
    snprintf(gran, sizeof(gran), "group size=%llu", (unsigned long long)a->group_size);
  else
    snprintf(gran, sizeof(gran), "tensor");
  snprintf(buf, cap, "%s%s %s %s scales=%s", tt_method_name(m), par, gran,
           a->symmetric ? "symmetric" : "asymmetric", tcodec_dtype_name(a->scale_dtype));
}

json_t *tt_action_json(const tt_action *a) {
  json_t *o = json_object();
  json_object_set_new(o, "method", json_string(tt_method_name(a->method)));
  for (size_t i = 0; i < NKEYS(k_action_keys); i++) {
    const pol_key *k = &k_action_keys[i];
    const void *f = (const char *)a + k->off;
    json_t *v = NULL;
    if (a->method < 0 || a->method >= TT_M_COUNT_ || !(k->methods & MB(a->method))) continue;
    switch (k->kind) {
      case PK_NUMBER: v = json_real(*(const double *)f); break;
      case PK_U64: v = json_integer((json_int_t) * (const uint64_t *)f); break;
      case PK_UINT: v = json_integer((json_int_t) * (const unsigned *)f); break;
      case PK_BOOL: v = json_boolean(*(const int *)f); break;
      case PK_GRAN: v = json_string(tt_granularity_name(*(const int *)f)); break;
      case PK_AXIS: v = *(const int *)f == TT_AXIS_AUTO ? json_string("auto") : json_integer(*(const int *)f); break;
      case PK_SDTYPE:
      case PK_FDTYPE: v = json_string(tcodec_dtype_name(*(const int *)f)); break;
      case PK_DEPTH:
        if (a->by_depth) v = json_pack("{s:I, s:I}", "first", (json_int_t)a->depth_first, "last", (json_int_t)a->depth_last);
        break;
      case PK_GLOBS:
      case PK_DTYPES: break;
    }
    if (v != NULL) json_object_set_new(o, k->key, v);
  }
  return o;
}
