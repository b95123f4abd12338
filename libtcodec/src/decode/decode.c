/* Fetching streams (range, checksum, entropy stage) and decoding tensors. */
#include <string.h>

#include <zstd.h>

#include "tc_reader.h"

/* The bytes of a stream as stored; borrowed from memory sources. */
static int tc_stream_stored(tcodec_reader *r, const tc_stream *s, const uint8_t **out,
                            uint8_t **owned) {
  *owned = NULL;
  if (r->buf != NULL) {
    *out = r->buf + s->off;
    return TCODEC_OK;
  }
  if (s->size > SIZE_MAX) return tc_rfail(r, TCODEC_E_LIMIT, s->off, "stream too large");
  *owned = tc_malloc(&r->mem, (size_t)s->size);
  if (*owned == NULL)
    return tc_rfail(r, tc_mem_err(&r->mem), s->off, "cannot allocate %llu bytes for a stream",
                    (unsigned long long)s->size);
  int rc = tc_rread(r, s->off, *owned, (size_t)s->size);
  if (rc != 0) {
    tc_free(&r->mem, *owned);
    *owned = NULL;
    return rc;
  }
  *out = *owned;
  return TCODEC_OK;
}

static int tc_unzstd(tcodec_reader *r, const tc_stream *s, const char *what, const uint8_t *src,
                     uint8_t *dst) {
  unsigned long long fcs = ZSTD_getFrameContentSize(src, (size_t)s->size);
  size_t frame = ZSTD_findFrameCompressedSize(src, (size_t)s->size);
  if (ZSTD_isError(frame) || frame != s->size)
    return tc_rfail(r, TCODEC_E_STREAM_CODER, s->off, "%s: not exactly one zstd frame", what);
  if (fcs != s->len)
    return tc_rfail(r, TCODEC_E_STREAM_CODER, s->off,
                    "%s: zstd frame content size differs from declared %llu bytes", what,
                    (unsigned long long)s->len);
  size_t got = ZSTD_decompress(dst, (size_t)s->len, src, (size_t)s->size);
  if (ZSTD_isError(got) || got != s->len)
    return tc_rfail(r, TCODEC_E_STREAM_CODER, s->off, "%s: zstd: %s", what,
                    ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short output");
  return TCODEC_OK;
}

int tc_stream_fetch(tcodec_reader *r, const tc_stream *s, const char *what, const uint8_t **out,
                    void **owned) {
  *out = NULL;
  *owned = NULL;
  if (s->coder != TCODEC_CODER_NONE && s->coder != TCODEC_CODER_ZSTD)
    return tc_rfail(r, TCODEC_E_UNSUPPORTED_CODER, s->off,
                    "%s uses entropy coder %u, which this reader (format %u.%u) does not know",
                    what, s->coder, TCODEC_FORMAT_MAJOR, TCODEC_FORMAT_MINOR);
  if (s->len > SIZE_MAX || s->len > r->limits[TCODEC_LIMIT_ALLOC_BYTES])
    return tc_rfail(r, TCODEC_E_LIMIT, s->off, "%s: %llu decoded bytes exceed the limit", what,
                    (unsigned long long)s->len);
  const uint8_t *stored = NULL;
  uint8_t *stored_owned = NULL;
  int rc = tc_stream_stored(r, s, &stored, &stored_owned);
  if (rc != 0) return rc;
  if (tc_xxh3(stored, (size_t)s->size) != s->xxh3) {
    tc_free(&r->mem, stored_owned);
    return tc_rfail(r, TCODEC_E_STREAM_CHECKSUM, s->off, "%s: checksum mismatch", what);
  }
  if (s->coder == TCODEC_CODER_NONE) {
    *out = stored;
    *owned = stored_owned;
    return TCODEC_OK;
  }
  uint8_t *dec = tc_malloc(&r->mem, (size_t)s->len);
  if (dec == NULL) {
    tc_free(&r->mem, stored_owned);
    return tc_rfail(r, tc_mem_err(&r->mem), s->off, "%s: cannot allocate %llu bytes", what,
                    (unsigned long long)s->len);
  }
  rc = tc_unzstd(r, s, what, stored, dec);
  tc_free(&r->mem, stored_owned);
  if (rc != 0) {
    tc_free(&r->mem, dec);
    return rc;
  }
  *out = dec;
  *owned = dec;
  return TCODEC_OK;
}

/* ---- tensors ---------------------------------------------------------- */

static int tc_tensor_at(const tcodec_reader *r, size_t index, const tc_tensor **t) {
  if (r == NULL) return TCODEC_E_ARG;
  if (r->state != TC_R_OPEN) return TCODEC_E_BADSTATE;
  if (index >= r->ntensors) return TCODEC_E_NOT_FOUND;
  *t = &r->tensors[index];
  return TCODEC_OK;
}

static int tc_ops_of(tcodec_reader *r, const tc_tensor *t, const tc_encoding_ops **ops) {
  *ops = tc_encoding_find(t->enc);
  if (*ops == NULL)
    return tc_rfail(r, TCODEC_E_UNSUPPORTED_ENCODING, r->dir_offset,
                    "tensor '%.200s' uses encoding %d, which this reader (format %u.%u) does not know",
                    t->name, t->enc, TCODEC_FORMAT_MAJOR, TCODEC_FORMAT_MINOR);
  return TCODEC_OK;
}

int tcodec_reader_decoded_size(const tcodec_reader *r, size_t index, int output, uint64_t *size) {
  const tc_tensor *t;
  int rc = tc_tensor_at(r, index, &t);
  if (rc != 0) return rc;
  if (size == NULL) return TCODEC_E_ARG;
  const tc_encoding_ops *ops = tc_encoding_find(t->enc);
  if (ops == NULL) return TCODEC_E_UNSUPPORTED_ENCODING;
  if (output == TCODEC_OUT_STREAM) return TCODEC_E_OUTPUT_FORMAT;
  return ops->out_size(t, output, size);
}

static void tc_release_bufs(tcodec_reader *r, void *owned[TCODEC_ROLE_COUNT_]) {
  for (int role = 0; role < TCODEC_ROLE_COUNT_; role++) tc_free(&r->mem, owned[role]);
}

static int tc_fetch_all(tcodec_reader *r, const tc_tensor *t, tc_bufs *in,
                        void *owned[TCODEC_ROLE_COUNT_]) {
  memset(in, 0, sizeof(*in));
  for (int role = 0; role < TCODEC_ROLE_COUNT_; role++) owned[role] = NULL;
  for (int role = 0; role < TCODEC_ROLE_COUNT_; role++) {
    if (!t->s[role].present) continue;
    char what[300];
    snprintf(what, sizeof(what), "tensor '%.200s' stream %s", t->name, tcodec_role_name(role));
    int rc = tc_stream_fetch(r, &t->s[role], what, &in->b[role], &owned[role]);
    if (rc != 0) {
      tc_release_bufs(r, owned);
      return rc;
    }
    in->len[role] = t->s[role].len;
  }
  return TCODEC_OK;
}

/* Bits used by each bit stream of a tensor of a known quantized encoding. */
static void tc_stream_bits(const tc_tensor *t, uint64_t bits[TCODEC_ROLE_COUNT_]) {
  const tc_params *p = &t->p;
  uint64_t fsize = t->ndim > 0 && t->shape[0] != 0 ? t->nelem / t->shape[0] : 0;
  memset(bits, 0, TCODEC_ROLE_COUNT_ * sizeof(uint64_t));
  switch (t->enc) {
    case TCODEC_ENC_TERNARY:
      bits[TCODEC_ROLE_MASK] = t->nelem;
      bits[TCODEC_ROLE_SIGNS] = p->nnz;
      break;
    case TCODEC_ENC_BINARY: bits[TCODEC_ROLE_SIGNS] = t->nelem; break;
    case TCODEC_ENC_KBIT: /* lengths were validated at open: no overflow */
      bits[TCODEC_ROLE_MASK] = p->sparse ? t->nelem : 0;
      bits[TCODEC_ROLE_CODES] = (p->sparse ? p->nnz : t->nelem) * p->bits;
      break;
    case TCODEC_ENC_HYBRID:
      bits[TCODEC_ROLE_KINDS] = t->ndim > 0 ? t->shape[0] : 0;
      bits[TCODEC_ROLE_MASK] = p->nter * fsize;
      bits[TCODEC_ROLE_SIGNS] = p->nnz;
      break;
    default: break;
  }
}

/* Spec step T3, stream by stream in ascending role id: padding bits zero, mask
 * popcount = nnz, kinds popcount = nter, zero points < 2^bits. Returns the role
 * at fault or -1. */
static int tc_check_content(const tc_tensor *t, const tc_bufs *in) {
  uint64_t bits[TCODEC_ROLE_COUNT_];
  tc_stream_bits(t, bits);
  for (int role = 0; role < TCODEC_ROLE_COUNT_; role++) {
    if (!t->s[role].present) continue;
    const uint8_t *b = in->b[role];
    if (bits[role] != 0 && !tc_pad_is_zero(b, bits[role])) return role;
    if (role == TCODEC_ROLE_MASK && bits[role] != 0 && tc_popcount(b, bits[role]) != t->p.nnz)
      return role;
    if (role == TCODEC_ROLE_KINDS && tc_popcount(b, bits[role]) != t->p.nter) return role;
    if (role == TCODEC_ROLE_ZEROS)
      for (uint64_t u = 0; u < in->len[role]; u++)
        if (b[u] >> t->p.bits != 0) return role;
  }
  return -1;
}

int tcodec_reader_decode(tcodec_reader *r, size_t index, int output, void *dst, size_t dst_cap) {
  const tc_tensor *t;
  int rc = tc_tensor_at(r, index, &t);
  if (rc != 0) return rc;
  const tc_encoding_ops *ops;
  if ((rc = tc_ops_of(r, t, &ops)) != 0) return rc;
  uint64_t need;
  rc = output == TCODEC_OUT_STREAM ? TCODEC_E_OUTPUT_FORMAT : ops->out_size(t, output, &need);
  if (rc == TCODEC_E_OUTPUT_FORMAT)
    return tc_rfail(r, rc, UINT64_MAX, "tensor '%.200s': output form %d does not exist for %s",
                    t->name, output, ops->name);
  if (rc != 0)
    return tc_rfail(r, rc, r->dir_offset, "tensor '%.200s': decoded size does not fit", t->name);
  if (dst == NULL && need != 0) return TCODEC_E_ARG;
  if (need > dst_cap)
    return tc_rfail(r, TCODEC_E_DST_SIZE, UINT64_MAX, "tensor '%.200s' needs %llu bytes, got %zu",
                    t->name, (unsigned long long)need, dst_cap);
  tc_bufs in;
  void *owned[TCODEC_ROLE_COUNT_];
  if ((rc = tc_fetch_all(r, t, &in, owned)) != 0) return rc;
  int bad_role = tc_check_content(t, &in);
  if (bad_role >= 0) {
    tc_release_bufs(r, owned);
    return tc_rfail(r, TCODEC_E_PAYLOAD, t->s[bad_role].off,
                    "tensor '%.200s': stream %s breaks the %s content rules", t->name,
                    tcodec_role_name(bad_role), ops->name);
  }
  rc = ops->decode(t, &in, output, dst);
  tc_release_bufs(r, owned);
  if (rc != 0) /* the content check above should have caught it: report the first stream */
    for (int role = 0; role < TCODEC_ROLE_COUNT_; role++)
      if (t->s[role].present)
        return tc_rfail(r, rc, t->s[role].off, "tensor '%.200s': %s payload is inconsistent",
                        t->name, ops->name);
  return rc;
}

int tcodec_reader_stream_size(const tcodec_reader *r, size_t index, int role, uint64_t *size) {
  const tc_tensor *t;
  int rc = tc_tensor_at(r, index, &t);
  if (rc != 0) return rc;
  if (size == NULL || role < 0 || role >= TCODEC_ROLE_COUNT_) return TCODEC_E_ARG;
  if (!t->s[role].present) return TCODEC_E_NOT_FOUND;
  *size = t->s[role].len;
  return TCODEC_OK;
}

int tcodec_reader_stream_info(const tcodec_reader *r, size_t index, int role, uint64_t *offset,
                              uint64_t *stored, uint64_t *decoded, int *coder) {
  const tc_tensor *t;
  int rc = tc_tensor_at(r, index, &t);
  if (rc != 0) return rc;
  if (role < 0 || role >= TCODEC_ROLE_COUNT_) return TCODEC_E_ARG;
  if (!t->s[role].present) return TCODEC_E_NOT_FOUND;
  if (offset != NULL) *offset = t->s[role].off;
  if (stored != NULL) *stored = t->s[role].size;
  if (decoded != NULL) *decoded = t->s[role].len;
  if (coder != NULL) *coder = (int)t->s[role].coder;
  return TCODEC_OK;
}

int tcodec_reader_decode_stream(tcodec_reader *r, size_t index, int role, void *dst,
                                size_t dst_cap) {
  uint64_t len;
  int rc = tcodec_reader_stream_size(r, index, role, &len);
  if (rc != 0) return rc;
  const tc_tensor *t = &r->tensors[index];
  const tc_encoding_ops *ops; /* spec T1: the single-stream form also needs a known encoding */
  if ((rc = tc_ops_of(r, t, &ops)) != 0) return rc;
  if (len > dst_cap)
    return tc_rfail(r, TCODEC_E_DST_SIZE, UINT64_MAX, "stream needs %llu bytes, got %zu",
                    (unsigned long long)len, dst_cap);
  if (dst == NULL && len != 0) return TCODEC_E_ARG;
  char what[300];
  snprintf(what, sizeof(what), "tensor '%.200s' stream %s", t->name, tcodec_role_name(role));
  const uint8_t *p;
  void *owned;
  if ((rc = tc_stream_fetch(r, &t->s[role], what, &p, &owned)) != 0) return rc;
  if (len != 0) memcpy(dst, p, (size_t)len);
  tc_free(&r->mem, owned);
  return TCODEC_OK;
}

/* ---- sections ---------------------------------------------------------- */

int tcodec_reader_section_read(tcodec_reader *r, size_t index, void *dst, size_t dst_cap) {
  if (r == NULL) return TCODEC_E_ARG;
  if (r->state != TC_R_OPEN) return TCODEC_E_BADSTATE;
  if (index >= r->nsections) return TCODEC_E_NOT_FOUND;
  const tc_section *s = &r->sections[index];
  if (s->s.len > dst_cap) return TCODEC_E_DST_SIZE;
  if (dst == NULL && s->s.len != 0) return TCODEC_E_ARG;
  char what[300];
  snprintf(what, sizeof(what), "section %zu ('%.200s')", index, s->type);
  const uint8_t *p;
  void *owned;
  int rc = tc_stream_fetch(r, &s->s, what, &p, &owned);
  if (rc != 0) return rc;
  if (s->s.len != 0) memcpy(dst, p, (size_t)s->s.len);
  tc_free(&r->mem, owned);
  return TCODEC_OK;
}

/* ---- verify ----------------------------------------------------------- */

static int tc_verify_tensor(tcodec_reader *r, size_t i) {
  const tc_tensor *t = &r->tensors[i];
  const tc_encoding_ops *ops;
  int rc = tc_ops_of(r, t, &ops);
  if (rc != 0) return rc;
  uint64_t need;
  if ((rc = ops->out_size(t, TCODEC_OUT_F32, &need)) != 0) return rc;
  /* Decode to f32 in bounded chunks would need streaming decoders; decoding whole
   * is simpler and bounded by the allocation limit. */
  if (need > SIZE_MAX) return tc_rfail(r, TCODEC_E_LIMIT, UINT64_MAX, "tensor too large");
  void *tmp = tc_malloc(&r->mem, (size_t)need);
  if (tmp == NULL)
    return tc_rfail(r, tc_mem_err(&r->mem), UINT64_MAX, "tensor '%.200s': %llu bytes", t->name,
                    (unsigned long long)need);
  rc = tcodec_reader_decode(r, i, TCODEC_OUT_F32, tmp, (size_t)need);
  tc_free(&r->mem, tmp);
  return rc;
}

int tcodec_reader_verify(tcodec_reader *r, size_t *bad_index) {
  if (r == NULL) return TCODEC_E_ARG;
  if (r->state != TC_R_OPEN) return TCODEC_E_BADSTATE;
  for (size_t i = 0; i < r->nsections; i++) {
    char what[300];
    snprintf(what, sizeof(what), "section %zu ('%.200s')", i, r->sections[i].type);
    const uint8_t *p;
    void *owned;
    int rc = tc_stream_fetch(r, &r->sections[i].s, what, &p, &owned);
    tc_free(&r->mem, owned);
    if (rc != 0) {
      if (bad_index != NULL) *bad_index = SIZE_MAX;
      return rc;
    }
  }
  for (size_t i = 0; i < r->ntensors; i++) {
    int rc = tc_verify_tensor(r, i);
    if (rc != 0) {
      if (bad_index != NULL) *bad_index = i;
      return rc;
    }
  }
  return TCODEC_OK;
}
