/*
 * fuzz_safetensors: tcf_safetensors_parse on any bytes, and on success:
 *  - tcf_safetensors_write gives back the input byte for byte (the header goes
 *    out verbatim, the tensors at their offsets);
 *  - without its header section the model is written in the reference layout,
 *    which parses again to the same tensors and metadata, and writing that
 *    again gives the same bytes (the layout is deterministic);
 * on failure, the status is a negative TCODEC_E_* equal to err.code and the
 * message is one line. The same bytes also go to tcf_safetensors_parse_index,
 * whose result must be sorted, consistent and free of unsafe shard names.
 * An input that starts with '{' is also wrapped into a file: a length prefix,
 * the input up to its first NUL byte as the header (JSON has no raw NUL), the
 * bytes after that NUL as data; so mutations of the JSON reach the layout
 * checks and the writers without having to keep a length field right.
 * Findings abort() (never assert: checks stay on in every build).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "safetensors.h"

#define FZ_CHECK(c)                                                                                \
  do {                                                                                             \
    if (!(c)) abort();                                                                             \
  } while (0)

typedef struct sink {
  uint8_t *p;
  size_t n, cap;
} sink;

static int sink_write(void *user, const void *src, size_t n) {
  sink *s = user;
  if (n > s->cap - s->n) {
    size_t cap = s->cap ? s->cap : 1024;
    while (cap - s->n < n) cap *= 2;
    uint8_t *p = realloc(s->p, cap);
    if (p == NULL) return -1;
    s->p = p;
    s->cap = cap;
  }
  memcpy(s->p + s->n, src, n);
  s->n += n;
  return 0;
}

static void check_failure(int rc, const tcf_error *err) {
  FZ_CHECK(rc < 0 && rc > TCODEC_ERROR_MIN_ && err->code == rc);
  FZ_CHECK(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
  FZ_CHECK(strchr(err->msg, '\n') == NULL && err->msg[0] != '\0');
}

static const tcf_tensor *find(const tcf_model *m, const char *name) {
  for (size_t i = 0; i < m->ntensors; i++)
    if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
  return NULL;
}

static void same_model(const tcf_model *a, const tcf_model *b) {
  FZ_CHECK(a->ntensors == b->ntensors && a->meta_count == b->meta_count);
  for (size_t i = 0; i < a->meta_count; i++)
    FZ_CHECK(strcmp(a->meta_keys[i], b->meta_keys[i]) == 0 &&
             strcmp(a->meta_values[i], b->meta_values[i]) == 0);
  for (size_t i = 0; i < a->ntensors; i++) {
    const tcf_tensor *x = &a->tensors[i], *y = find(b, x->name);
    FZ_CHECK(y != NULL && x->dtype == y->dtype && x->ndim == y->ndim && x->size == y->size);
    FZ_CHECK(memcmp(x->shape, y->shape, x->ndim * sizeof(uint64_t)) == 0);
    FZ_CHECK(x->size == 0 || memcmp(x->data, y->data, (size_t)x->size) == 0);
  }
}

/* Reference layout: write without the header section, parse, write again. */
static void check_reference_layout(const tcf_model *m) {
  tcf_model bare = *m, again;
  tcf_error err;
  sink one = {NULL, 0, 0}, two = {NULL, 0, 0};
  bare.sections = NULL;
  bare.nsections = 0;
  FZ_CHECK(tcf_safetensors_write(&bare, sink_write, &one, &err) == 0);
  FZ_CHECK(tcf_safetensors_parse(one.p, one.n, "reference", NULL, &again, &err) == 0);
  same_model(m, &again);
  bare = again;
  bare.sections = NULL;
  bare.nsections = 0;
  FZ_CHECK(tcf_safetensors_write(&bare, sink_write, &two, &err) == 0);
  FZ_CHECK(one.n == two.n && memcmp(one.p, two.p, one.n) == 0);
  tcf_model_free(&again);
  free(one.p);
  free(two.p);
}

static void check_file(const uint8_t *data, size_t size) {
  tcf_model m;
  tcf_error err;
  int rc = tcf_safetensors_parse(data, size, "input", NULL, &m, &err);
  if (rc != 0) {
    check_failure(rc, &err);
    FZ_CHECK(m.ntensors == 0 && m.nsections == 0 && m.meta_count == 0);
    return;
  }
  sink out = {NULL, 0, 0};
  FZ_CHECK(tcf_safetensors_write(&m, sink_write, &out, &err) == 0);
  FZ_CHECK(out.n == size && (size == 0 || memcmp(out.p, data, size) == 0));
  free(out.p);
  check_reference_layout(&m);
  tcf_model_free(&m);
}

/* A relative path that cannot leave its folder, checked the naive way. */
static int naive_safe(const char *s) {
  if (s[0] == '\0' || s[0] == '/' || strchr(s, '\\') != NULL) return 0;
  for (const char *p = s;;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || (n == 2 && p[0] == '.' && p[1] == '.')) return 0;
    if (slash == NULL) return 1;
    p = slash + 1;
  }
}

static void check_index(const uint8_t *data, size_t size) {
  tcf_safetensors_index ix;
  tcf_error err;
  int rc = tcf_safetensors_parse_index(data, size, "index", NULL, &ix, &err);
  if (rc != 0) {
    check_failure(rc, &err);
    FZ_CHECK(ix.nshards == 0 && ix.ntensors == 0);
    return;
  }
  for (size_t i = 0; i < ix.nshards; i++) {
    const char *s = ix.shards[i];
    FZ_CHECK(naive_safe(s));
    FZ_CHECK(i == 0 || strcmp(ix.shards[i - 1], s) < 0);
  }
  for (size_t i = 0; i < ix.ntensors; i++) {
    FZ_CHECK(ix.shard_of[i] < ix.nshards);
    FZ_CHECK(i == 0 || strcmp(ix.names[i - 1], ix.names[i]) < 0);
  }
  tcf_safetensors_index_free(&ix);
}

static void check_wrapped(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, '\0', size);
  size_t json = nul ? (size_t)(nul - data) : size, rest = nul ? size - json - 1 : 0;
  uint8_t *file = malloc(8 + json + rest);
  if (file == NULL) return;
  for (int i = 0; i < 8; i++) file[i] = (uint8_t)((uint64_t)json >> (8 * i));
  memcpy(file + 8, data, json);
  if (rest) memcpy(file + 8 + json, nul + 1, rest);
  check_file(file, 8 + json + rest);
  free(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_file(data, size);
  check_index(data, size);
  if (size > 0 && data[0] == '{') check_wrapped(data, size);
  return 0;
}
