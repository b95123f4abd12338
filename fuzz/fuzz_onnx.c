/*
 * fuzz_onnx: the ONNX reader (formats/onnx.h) on any bytes, without external data.
 *
 * A failure must leave an empty model and an error with an offset inside the input. A model
 * that parses must come back byte-identical through tcf_onnx_write (abort otherwise). Then
 * every tensor's bytes are changed (varint-coded elements change size, so the writer must
 * re-encode the fields and every length prefix around them): the rebuilt model must parse
 * to the same tensors with the new values, and rebuild to itself.
 *
 * Seeds: tests/fixtures/onnx (scripts/make-onnx-fixtures.py writes them to fuzz/corpus/onnx).
 */
#include "fuzz_common.h"
#include "onnx.h"

typedef struct fz_out {
  uint8_t *p;
  size_t n, cap;
} fz_out;

static int fz_out_write(void *user, const void *src, size_t n) {
  fz_out *o = user;
  if (n > o->cap - o->n) {
    size_t cap = o->cap ? o->cap : 4096;
    while (cap - o->n < n) cap *= 2;
    uint8_t *p = realloc(o->p, cap);
    if (p == NULL) return -1;
    o->p = p;
    o->cap = cap;
  }
  if (n) memcpy(o->p + o->n, src, n);
  o->n += n;
  return 0;
}

static void fz_check_model(const tcf_model *m, const uint8_t *data, size_t size) {
  for (size_t i = 0; i < m->ntensors; i++) {
    const tcf_tensor *t = &m->tensors[i];
    FZ_CHECK(t->name != NULL && t->name[0] != '\0');
    FZ_CHECK(t->size == t->nelem * tcodec_dtype_size(t->dtype));
    FZ_CHECK(t->owned != NULL || (t->data >= data && t->data + t->size <= data + size));
  }
  FZ_CHECK(m->nsections == 1);
}

/* Every byte of every tensor changed; returns the rebuilt model. */
static fz_out fz_change_values(tcf_model *m) {
  for (size_t i = 0; i < m->ntensors; i++) {
    tcf_tensor *t = &m->tensors[i];
    uint8_t *p = fz_malloc(t->size);
    for (uint64_t k = 0; k < t->size; k++) p[k] = (uint8_t)(t->data[k] ^ (0x5A + k));
    free(t->owned);
    t->owned = p;
    t->data = p;
  }
  fz_out out = {NULL, 0, 0};
  tcf_error e;
  FZ_CHECK(tcf_onnx_write(m, fz_out_write, &out, &e) == 0);
  return out;
}

static void fz_same_tensors(const tcf_model *a, const tcf_model *b) {
  FZ_CHECK(a->ntensors == b->ntensors);
  for (size_t i = 0; i < a->ntensors; i++) {
    const tcf_tensor *x = &a->tensors[i], *y = &b->tensors[i];
    FZ_CHECK(strcmp(x->name, y->name) == 0 && x->dtype == y->dtype && x->ndim == y->ndim);
    FZ_CHECK(x->size == y->size && memcmp(x->data, y->data, (size_t)x->size) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tcf_limits lim = {0, 100000, 0};
  tcf_model m, again;
  tcf_error e;
  int rc = tcf_onnx_parse(data, size, "fuzz.onnx", NULL, &lim, &m, &e);
  if (rc != 0) {
    FZ_CHECK(e.code == rc && m.ntensors == 0 && m.nsections == 0);
    FZ_CHECK(e.offset == UINT64_MAX || e.offset <= size);
    tcf_model_free(&m);
    return 0;
  }
  fz_check_model(&m, data, size);
  fz_out out = {NULL, 0, 0};
  rc = tcf_onnx_write(&m, fz_out_write, &out, &e);
  if (rc != 0) fprintf(stderr, "write failed: %d %s\n", rc, e.msg);
  FZ_CHECK(rc == 0 && out.n == size && (size == 0 || memcmp(out.p, data, size) == 0));
  free(out.p);
  out = fz_change_values(&m);
  rc = tcf_onnx_parse(out.p, out.n, "rebuilt.onnx", NULL, &lim, &again, &e);
  if (rc != 0)
    fprintf(stderr, "rebuilt model does not parse: %d at %llu: %s\n", rc,
            (unsigned long long)e.offset, e.msg);
  FZ_CHECK(rc == 0);
  fz_same_tensors(&m, &again);
  fz_out twice = {NULL, 0, 0};
  FZ_CHECK(tcf_onnx_write(&again, fz_out_write, &twice, &e) == 0);
  FZ_CHECK(twice.n == out.n && memcmp(twice.p, out.p, out.n) == 0);
  free(twice.p);
  free(out.p);
  tcf_model_free(&again);
  tcf_model_free(&m);
  return 0;
}
