/* Directory serialisation with libcbor's allocation-free encoders. */
#include <string.h>

#include <cbor.h>

#include "tc_writer.h"

void tc_wbuf_put(tc_wbuf *b, const void *src, size_t n) {
  if (b->failed || n == 0) return;
  if (n > SIZE_MAX / 2 - b->len) {
    b->failed = 1;
    return;
  }
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    uint8_t *p = tc_malloc(b->mem, cap);
    if (p == NULL) {
      b->failed = 1;
      return;
    }
    if (b->len) memcpy(p, b->p, b->len);
    tc_free(b->mem, b->p);
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, src, n);
  b->len += n;
}

static void tc_put_uint(tc_wbuf *b, uint64_t v) {
  unsigned char tmp[9];
  tc_wbuf_put(b, tmp, cbor_encode_uint(v, tmp, sizeof(tmp)));
}

static void tc_put_text(tc_wbuf *b, const char *s, size_t n) {
  unsigned char tmp[9];
  tc_wbuf_put(b, tmp, cbor_encode_string_start(n, tmp, sizeof(tmp)));
  tc_wbuf_put(b, s, n);
}

static void tc_put_key(tc_wbuf *b, const char *key) { tc_put_text(b, key, strlen(key)); }

static void tc_put_bytes(tc_wbuf *b, const void *s, size_t n) {
  unsigned char tmp[9];
  tc_wbuf_put(b, tmp, cbor_encode_bytestring_start(n, tmp, sizeof(tmp)));
  tc_wbuf_put(b, s, n);
}

static void tc_put_bool(tc_wbuf *b, int v) {
  unsigned char tmp[1];
  tc_wbuf_put(b, tmp, cbor_encode_bool(v != 0, tmp, sizeof(tmp)));
}

static void tc_put_map(tc_wbuf *b, size_t n) {
  unsigned char tmp[9];
  tc_wbuf_put(b, tmp, cbor_encode_map_start(n, tmp, sizeof(tmp)));
}

static void tc_put_array(tc_wbuf *b, size_t n) {
  unsigned char tmp[9];
  tc_wbuf_put(b, tmp, cbor_encode_array_start(n, tmp, sizeof(tmp)));
}

static void tc_put_kuint(tc_wbuf *b, const char *key, uint64_t v) {
  tc_put_key(b, key);
  tc_put_uint(b, v);
}

static void tc_put_kbool(tc_wbuf *b, const char *key, int v) {
  tc_put_key(b, key);
  tc_put_bool(b, v);
}

static void tc_put_stream(tc_wbuf *b, const tc_stream *s) {
  tc_put_map(b, 6);
  tc_put_kuint(b, "role", s->role);
  tc_put_kuint(b, "off", s->off);
  tc_put_kuint(b, "size", s->size);
  tc_put_kuint(b, "len", s->len);
  tc_put_kuint(b, "coder", s->coder);
  tc_put_kuint(b, "xxh3", s->xxh3);
}

static void tc_put_kvs(tc_wbuf *b, const tc_kv *kv, size_t n) {
  tc_put_map(b, n);
  for (size_t i = 0; i < n; i++) {
    tc_put_key(b, kv[i].key);
    if (kv[i].is_text)
      tc_put_text(b, (const char *)kv[i].value, kv[i].value_size);
    else
      tc_put_bytes(b, kv[i].value, kv[i].value_size);
  }
}

/* Params in a fixed order; only the keys the encoding uses. */
static void tc_put_params(tc_wbuf *b, const tc_tensor *t) {
  const tc_params *p = &t->p;
  int quant = t->enc != TCODEC_ENC_RAW && t->enc != TCODEC_ENC_HYBRID;
  int axis = quant && p->gran == TCODEC_GRAN_CHANNEL;
  int group = quant && p->gran == TCODEC_GRAN_GROUP;
  int kbit = t->enc == TCODEC_ENC_KBIT;
  int hybrid = t->enc == TCODEC_ENC_HYBRID;
  int nnz = t->enc == TCODEC_ENC_TERNARY || hybrid || (kbit && p->sparse);
  size_t n = (size_t)(quant + axis + group) + (t->enc != TCODEC_ENC_RAW ? 2u : 1u) + (size_t)nnz +
             (kbit ? 3u : 0u) + (hybrid ? 2u : 0u);
  tc_put_map(b, n);
  if (t->enc == TCODEC_ENC_RAW) {
    tc_put_kbool(b, "bg", p->bg);
    return;
  }
  if (quant) tc_put_kuint(b, "gran", (uint64_t)p->gran);
  if (axis) tc_put_kuint(b, "axis", p->axis);
  if (group) tc_put_kuint(b, "group", p->group);
  tc_put_kbool(b, "sym", p->sym);
  tc_put_kuint(b, "sdtype", (uint64_t)p->sdtype);
  if (nnz) tc_put_kuint(b, "nnz", p->nnz);
  if (kbit) {
    tc_put_kuint(b, "bits", p->bits);
    tc_put_kbool(b, "zp", p->zp);
    tc_put_kbool(b, "sparse", p->sparse);
  }
  if (hybrid) {
    tc_put_kuint(b, "fdtype", (uint64_t)p->fdtype);
    tc_put_kuint(b, "nter", p->nter);
  }
}

static void tc_put_tensor(tc_wbuf *b, const tc_tensor *t) {
  size_t nstreams = 0;
  for (int role = 0; role < TCODEC_ROLE_COUNT_; role++) nstreams += t->s[role].present != 0;
  tc_put_map(b, 6 + (t->nmeta != 0));
  tc_put_key(b, "name");
  tc_put_text(b, t->name, strlen(t->name));
  tc_put_kuint(b, "dtype", (uint64_t)t->dtype);
  tc_put_key(b, "shape");
  tc_put_array(b, t->ndim);
  for (unsigned i = 0; i < t->ndim; i++) tc_put_uint(b, t->shape[i]);
  tc_put_kuint(b, "enc", (uint64_t)t->enc);
  tc_put_key(b, "params");
  tc_put_params(b, t);
  tc_put_key(b, "streams");
  tc_put_array(b, nstreams);
  for (int role = 0; role < TCODEC_ROLE_COUNT_; role++)
    if (t->s[role].present) tc_put_stream(b, &t->s[role]);
  if (t->nmeta != 0) {
    tc_put_key(b, "meta");
    tc_put_kvs(b, t->meta, t->nmeta);
  }
}

int tc_dir_write(const tcodec_writer *w, tc_wbuf *b) {
  tc_put_map(b, 2 + (w->nmeta != 0) + (w->nsections != 0));
  tc_put_kuint(b, "align", w->align);
  if (w->nmeta != 0) {
    tc_put_key(b, "meta");
    tc_put_kvs(b, w->meta, w->nmeta);
  }
  if (w->nsections != 0) {
    tc_put_key(b, "sections");
    tc_put_array(b, w->nsections);
    for (size_t i = 0; i < w->nsections; i++) {
      tc_put_map(b, 3);
      tc_put_key(b, "type");
      tc_put_text(b, w->sections[i].type, strlen(w->sections[i].type));
      tc_put_kbool(b, "critical", w->sections[i].critical);
      tc_put_key(b, "stream");
      tc_put_stream(b, &w->sections[i].s);
    }
  }
  tc_put_key(b, "tensors");
  tc_put_array(b, w->ntensors);
  for (size_t i = 0; i < w->ntensors; i++) tc_put_tensor(b, &w->tensors[i]);
  return b->failed ? TCODEC_E_NOMEM : TCODEC_OK;
}
