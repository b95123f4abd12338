/*
 * fuzz_roundtrip: writer -> bytes -> reader, and determinism.
 *
 * The input describes 1..3 small tensors (at most 3 dims of at most 7) and how to
 * write them; bytes past the end of the input read as 0, so every input is a
 * complete description:
 *
 *   byte 0   tensors = 1 + b % 3; bits 2-3 coder (none, zstd, auto, none);
 *            bit 4 detect; bit 5 byte grouping; bits 6-7 alignment 64/128/256/4096
 *   byte 1   zstd level 1 + b % 3 (19 if 0xFF); bit 7: add a section and metadata
 *   per tensor:
 *     kind   b % 6: raw bytes, ternary, binary, k-bit, hybrid (symbols, codes, scales
 *            from the input, add_quantized), TWN (f32 values from the input, add_f32)
 *     dtype, ndim + dims, granularity/axis/group, sym/sdtype/bits/zp/sparse, fdtype,
 *     then the data the kind needs.
 *
 * The container is written twice by two writers: the bytes must be identical. It
 * is read back: raw tensors bit-exact (whatever encoding detection chose),
 * quantized tensors give back their symbols/codes, scales, zero points and full
 * filters exactly, TWN symbols have the sign of their value (and 0 for 0), a TWN
 * input with NaN/Inf is refused with TCODEC_E_VALUE, verify passes. Any mismatch
 * aborts.
 */
#include <math.h>

#include "fuzz_common.h"

#define RT_MAX_TENSORS 3
#define RT_MAX_NDIM 3
#define RT_MAX_DIM 8 /* dims are b % RT_MAX_DIM */

enum { K_RAW, K_TERNARY, K_BINARY, K_KBIT, K_HYBRID, K_TWN, K_COUNT };

#define RT_OK_OR_VALUE 1 /* expect_rc: TCODEC_OK or TCODEC_E_VALUE */

/* ---- input cursor: past the end, bytes read as 0 -------------------------- */

typedef struct rt_in {
  const uint8_t *p;
  size_t n, pos;
} rt_in;

static uint8_t rt_u8(rt_in *in) { return in->pos < in->n ? in->p[in->pos++] : 0; }

static void rt_bytes(rt_in *in, uint8_t *dst, size_t k) {
  for (size_t i = 0; i < k; i++) dst[i] = rt_u8(in);
}

/* ---- memory sink ----------------------------------------------------------- */

typedef struct rt_sink {
  uint8_t *p;
  size_t len, cap;
} rt_sink;

static int rt_write(void *user, const void *src, size_t n) {
  rt_sink *s = user;
  if (s->len + n > s->cap) {
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->len + n) cap *= 2;
    uint8_t *p = realloc(s->p, cap);
    if (p == NULL) return -1;
    s->p = p;
    s->cap = cap;
  }
  memcpy(s->p + s->len, src, n);
  s->len += n;
  return 0;
}

/* ---- one tensor, as decided from the input ---------------------------------- */

typedef struct rt_tensor {
  char name[8];
  int kind, dtype;
  unsigned ndim;
  uint64_t shape[RT_MAX_NDIM];
  uint64_t n, units;
  tcodec_quantized q;
  tcodec_request req;
  /* owned data */
  uint8_t *raw;        /* raw: n * dtype size */
  int8_t *symbols;     /* ternary/binary/hybrid: n */
  uint8_t *codes, *mask, *zp, *kinds;
  uint8_t *scales, *full;
  float *values;       /* TWN */
  size_t raw_size, scales_size;
  int finite;          /* TWN: all values finite */
  int expect_rc;       /* what add must return */
  int added;           /* add returned 0 */
} rt_tensor;

static uint64_t rt_units(const rt_tensor *t) {
  int gran = t->kind == K_TWN ? t->req.granularity : t->q.granularity;
  unsigned axis = t->kind == K_TWN ? t->req.axis : t->q.axis;
  uint64_t g = t->kind == K_TWN ? t->req.group_size : t->q.group_size;
  if (gran == TCODEC_GRAN_CHANNEL) return t->shape[axis];
  if (gran == TCODEC_GRAN_GROUP) return t->n / g + (t->n % g != 0);
  return 1;
}

/* Granularity, axis and group that fit the shape. */
static void rt_gran(rt_tensor *t, uint8_t b, int *gran, unsigned *axis, uint64_t *group) {
  *gran = b % 3;
  *axis = 0;
  *group = 0;
  if (*gran == TCODEC_GRAN_CHANNEL && t->ndim == 0) *gran = TCODEC_GRAN_TENSOR;
  if (*gran == TCODEC_GRAN_CHANNEL) *axis = (unsigned)((b >> 2) % t->ndim);
  if (*gran == TCODEC_GRAN_GROUP) *group = 1 + ((b >> 4) & 15);
}

static void rt_parse(rt_tensor *t, unsigned idx, rt_in *in) {
  static const int qdt[4] = {TCODEC_F32, TCODEC_F16, TCODEC_BF16, TCODEC_F64};
  static const int sdt[3] = {TCODEC_F32, TCODEC_F16, TCODEC_BF16};
  memset(t, 0, sizeof(*t));
  snprintf(t->name, sizeof(t->name), "t%u", idx);
  t->kind = rt_u8(in) % K_COUNT;
  uint8_t bd = rt_u8(in);
  t->dtype = t->kind == K_RAW ? 1 + bd % 15 : qdt[bd % 4];
  t->ndim = rt_u8(in) % (RT_MAX_NDIM + 1);
  if (t->kind == K_HYBRID && t->ndim == 0) t->ndim = 1; /* filters live on axis 0 */
  t->n = 1;
  for (unsigned d = 0; d < t->ndim; d++) {
    t->shape[d] = rt_u8(in) % RT_MAX_DIM;
    t->n *= t->shape[d];
  }
  uint8_t bg = rt_u8(in), bp = rt_u8(in), bf = rt_u8(in);
  tcodec_quantized *q = &t->q;
  q->symmetric = bp & 1;
  q->scale_dtype = sdt[(bp >> 1) % 3];
  q->bits = 2 + (bp >> 3) % 7;
  rt_gran(t, bg, &q->granularity, &q->axis, &q->group_size);
  if (t->kind == K_KBIT) q->symmetric = 1;
  if (t->kind == K_HYBRID) q->granularity = TCODEC_GRAN_TENSOR, q->axis = 0, q->group_size = 0;
  q->full_dtype = bf & 1 ? TCODEC_F16 : TCODEC_F32;
  t->expect_rc = TCODEC_OK;

  size_t es = tcodec_dtype_size(t->dtype), n = (size_t)t->n;
  switch (t->kind) {
    case K_RAW:
      t->raw_size = n * es;
      t->raw = fz_malloc(t->raw_size);
      rt_bytes(in, t->raw, t->raw_size);
      return;
    case K_TWN: {
      tcodec_request_init(&t->req);
      t->req.method = TCODEC_Q_TWN;
      rt_gran(t, bg, &t->req.granularity, &t->req.axis, &t->req.group_size);
      t->req.symmetric = bp & 1;
      t->req.scale_dtype = q->scale_dtype;
      t->req.threshold = (bf >> 1) == 0 ? 0.7 : (double)(bf >> 1) / 64.0;
      t->values = fz_malloc(n * sizeof(float));
      t->finite = 1;
      for (size_t i = 0; i < n; i++) {
        uint8_t b[4];
        rt_bytes(in, b, 4);
        memcpy(&t->values[i], b, 4);
        if (!isfinite(t->values[i])) t->finite = 0;
      }
      if (!t->finite) t->expect_rc = TCODEC_E_VALUE;
      /* A finite mean can still overflow an f16 (or round up to inf in bf16) scale. */
      else if (t->req.scale_dtype != TCODEC_F32) t->expect_rc = RT_OK_OR_VALUE;
      return;
    }
    default: break;
  }
  /* Quantized: symbols / codes from the input, always in range. */
  uint8_t vmask = (uint8_t)((1u << q->bits) - 1);
  if (t->kind == K_KBIT) {
    int sparse = (bp >> 7) & 1, has_zp = (bp >> 6) & 1;
    t->codes = fz_malloc(n);
    for (size_t i = 0; i < n; i++) t->codes[i] = rt_u8(in) & vmask;
    if (sparse) {
      t->mask = fz_malloc(n);
      for (size_t i = 0; i < n; i++) t->mask[i] = rt_u8(in) & 1;
    }
    t->units = rt_units(t);
    if (has_zp) {
      t->zp = fz_malloc(t->units);
      for (size_t u = 0; u < t->units; u++) t->zp[u] = rt_u8(in) & vmask;
    }
    q->codes = t->codes;
    q->mask = t->mask;
    q->zero_points = t->zp;
  } else {
    t->symbols = fz_malloc(n);
    for (size_t i = 0; i < n; i++) {
      uint8_t b = rt_u8(in);
      t->symbols[i] = (int8_t)(t->kind == K_BINARY ? (b & 1 ? -1 : 1) : b % 3 - 1);
    }
    q->symbols = t->symbols;
  }
  uint64_t nter = 0;
  if (t->kind == K_HYBRID) {
    uint64_t F = t->shape[0];
    t->kinds = fz_malloc(F);
    for (uint64_t f = 0; f < F; f++) nter += t->kinds[f] = rt_u8(in) & 1;
    t->full = fz_malloc(n * tcodec_dtype_size(q->full_dtype));
    rt_bytes(in, t->full, n * tcodec_dtype_size(q->full_dtype));
    q->filter_ternary = t->kinds;
    q->full_values = t->full;
    t->units = nter;
  } else if (t->kind != K_KBIT) {
    t->units = rt_units(t);
  }
  q->encoding = t->kind == K_TERNARY ? TCODEC_ENC_TERNARY
                : t->kind == K_BINARY ? TCODEC_ENC_BINARY
                : t->kind == K_KBIT   ? TCODEC_ENC_KBIT
                                      : TCODEC_ENC_HYBRID;
  t->scales_size = (size_t)t->units * (q->symmetric ? 1 : 2) * tcodec_dtype_size(q->scale_dtype);
  t->scales = fz_malloc(t->scales_size);
  rt_bytes(in, t->scales, t->scales_size);
  q->scales = t->scales;
}

static void rt_release(rt_tensor *t) {
  free(t->raw);
  free(t->symbols);
  free(t->codes);
  free(t->mask);
  free(t->zp);
  free(t->kinds);
  free(t->scales);
  free(t->full);
  free(t->values);
}

/* ---- writing ------------------------------------------------------------------ */

typedef struct rt_plan {
  unsigned ntensors;
  int coder, detect, bg, align, level;
  int with_extras;
  uint8_t section[32];
  size_t section_size;
  rt_tensor t[RT_MAX_TENSORS];
} rt_plan;

/* Writes the plan; returns the bytes (caller frees) and the status of each add. */
static uint8_t *rt_write_all(rt_plan *pl, size_t *size, int rcs[RT_MAX_TENSORS]) {
  tcodec_writer *w = NULL;
  rt_sink sink = {NULL, 0, 0};
  FZ_CHECK(tcodec_writer_create(&w, NULL) == TCODEC_OK);
  FZ_CHECK(tcodec_writer_set_param(w, TCODEC_WP_CODER, pl->coder) == TCODEC_OK);
  FZ_CHECK(tcodec_writer_set_param(w, TCODEC_WP_ZSTD_LEVEL, pl->level) == TCODEC_OK);
  FZ_CHECK(tcodec_writer_set_param(w, TCODEC_WP_BYTE_GROUP, pl->bg) == TCODEC_OK);
  FZ_CHECK(tcodec_writer_set_param(w, TCODEC_WP_DETECT, pl->detect) == TCODEC_OK);
  FZ_CHECK(tcodec_writer_set_param(w, TCODEC_WP_ALIGNMENT, pl->align) == TCODEC_OK);
  FZ_CHECK(tcodec_writer_begin(w, rt_write, &sink) == TCODEC_OK);
  if (pl->with_extras) {
    FZ_CHECK(tcodec_writer_set_meta(w, "producer", "fuzz_roundtrip") == TCODEC_OK);
    FZ_CHECK(tcodec_writer_set_meta_bytes(w, "blob", pl->section, pl->section_size) == TCODEC_OK);
    FZ_CHECK(tcodec_writer_add_section(w, "fuzz.section", 0, pl->section, pl->section_size) ==
             TCODEC_OK);
  }
  for (unsigned i = 0; i < pl->ntensors; i++) {
    rt_tensor *t = &pl->t[i];
    tcodec_tensor_desc desc;
    memset(&desc, 0, sizeof(desc));
    desc.name = t->name;
    desc.dtype = t->dtype;
    desc.ndim = t->ndim;
    desc.shape = t->shape;
    if (t->kind == K_RAW) rcs[i] = tcodec_writer_add_raw(w, &desc, t->raw, t->raw_size);
    else if (t->kind == K_TWN)
      rcs[i] = tcodec_writer_add_f32(w, &desc, t->values, (size_t)t->n, &t->req);
    else rcs[i] = tcodec_writer_add_quantized(w, &desc, &t->q);
    int fine = t->expect_rc == RT_OK_OR_VALUE ? rcs[i] == TCODEC_OK || rcs[i] == TCODEC_E_VALUE
                                              : rcs[i] == t->expect_rc;
    if (!fine) {
      fprintf(stderr, "tensor %u kind %d: add returned %d (%s), expected %d: %s\n", i, t->kind,
              rcs[i], tcodec_strerror(rcs[i]), t->expect_rc, tcodec_writer_error_message(w));
      FZ_CHECK(!"add did not return what was expected");
    }
  }
  int rc = tcodec_writer_finish(w);
  if (rc != TCODEC_OK) fprintf(stderr, "finish: %s\n", tcodec_writer_error_message(w));
  FZ_CHECK(rc == TCODEC_OK);
  tcodec_writer_free(w);
  *size = sink.len;
  return sink.p;
}

/* ---- reading back ------------------------------------------------------------ */

/* Decode a form / stream of tensor idx into a fresh block (caller frees). */
static uint8_t *rt_decode(tcodec_reader *r, size_t idx, int form, uint64_t expect_size) {
  uint64_t size = 0;
  FZ_CHECK(tcodec_reader_decoded_size(r, idx, form, &size) == TCODEC_OK && size == expect_size);
  uint8_t *b = fz_malloc(size);
  int rc = tcodec_reader_decode(r, idx, form, b, (size_t)size);
  if (rc != TCODEC_OK) fprintf(stderr, "decode: %s\n", tcodec_reader_error_message(r));
  FZ_CHECK(rc == TCODEC_OK);
  return b;
}

static void rt_check_stream(tcodec_reader *r, size_t idx, int role, const void *want, size_t n) {
  uint64_t len = 0;
  FZ_CHECK(tcodec_reader_stream_size(r, idx, role, &len) == TCODEC_OK && len == n);
  uint8_t *b = fz_malloc(n);
  FZ_CHECK(tcodec_reader_decode_stream(r, idx, role, b, n) == TCODEC_OK);
  FZ_CHECK(n == 0 || memcmp(b, want, n) == 0);
  free(b);
}

static void rt_check_quantized(tcodec_reader *r, size_t idx, const rt_tensor *t) {
  const tcodec_quantized *q = &t->q;
  uint64_t n = t->n;
  tcodec_tensor_info ti;
  FZ_CHECK(tcodec_reader_tensor_info(r, idx, &ti) == TCODEC_OK);
  FZ_CHECK(ti.encoding == q->encoding && ti.symmetric == q->symmetric);
  FZ_CHECK(ti.scale_dtype == q->scale_dtype);
  uint8_t *sym = rt_decode(r, idx, TCODEC_OUT_SYMBOLS, n);
  rt_check_stream(r, idx, TCODEC_ROLE_SCALES, t->scales, t->scales_size);
  if (t->kind == K_KBIT) {
    FZ_CHECK(ti.bits == q->bits && ti.units == t->units);
    for (uint64_t i = 0; i < n; i++) {
      uint64_t u = 0; /* unit of i, for the zero point of masked-out elements */
      if (q->granularity == TCODEC_GRAN_GROUP) u = i / q->group_size;
      else if (q->granularity == TCODEC_GRAN_CHANNEL) {
        uint64_t inner = 1;
        for (unsigned d = q->axis + 1; d < t->ndim; d++) inner *= t->shape[d];
        u = (i / inner) % t->shape[q->axis];
      }
      uint8_t zp = t->zp ? t->zp[u] : (uint8_t)(1u << (q->bits - 1));
      uint8_t want = t->mask && !t->mask[i] ? zp : t->codes[i];
      FZ_CHECK(sym[i] == want);
    }
    if (t->zp) rt_check_stream(r, idx, TCODEC_ROLE_ZEROS, t->zp, (size_t)t->units);
  } else if (t->kind == K_HYBRID) {
    uint64_t F = t->shape[0], fsize = F ? n / F : 0, nfull = 0;
    size_t fes = tcodec_dtype_size(q->full_dtype);
    uint8_t *full = fz_malloc(n * fes);
    for (uint64_t f = 0; f < F; f++) {
      for (uint64_t e = 0; e < fsize; e++) {
        uint64_t i = f * fsize + e;
        FZ_CHECK((int8_t)sym[i] == (t->kinds[f] ? t->symbols[i] : 0));
      }
      if (!t->kinds[f]) {
        memcpy(full + nfull * fsize * fes, t->full + f * fsize * fes, (size_t)(fsize * fes));
        nfull++;
      }
    }
    rt_check_stream(r, idx, TCODEC_ROLE_FULL, full, (size_t)(nfull * fsize * fes));
    free(full);
  } else {
    FZ_CHECK(n == 0 || memcmp(sym, t->symbols, (size_t)n) == 0);
  }
  free(sym);
  /* Ternary/binary values come from the scale bytes directly: when the original
   * dtype is the scale dtype, every element is +w_p, -w_n (sign bit flipped) or +0. */
  if ((t->kind == K_TERNARY || t->kind == K_BINARY) && t->dtype == q->scale_dtype) {
    size_t es = tcodec_dtype_size(t->dtype);
    uint8_t *orig = rt_decode(r, idx, TCODEC_OUT_ORIGINAL, n * es);
    for (uint64_t i = 0; i < n; i++) {
      uint64_t u = 0;
      if (q->granularity == TCODEC_GRAN_GROUP) u = i / q->group_size;
      else if (q->granularity == TCODEC_GRAN_CHANNEL) {
        uint64_t inner = 1;
        for (unsigned d = q->axis + 1; d < t->ndim; d++) inner *= t->shape[d];
        u = (i / inner) % t->shape[q->axis];
      }
      uint8_t want[8] = {0};
      int s = t->symbols[i];
      if (s != 0) {
        uint64_t k = q->symmetric ? u : 2 * u + (s < 0);
        memcpy(want, t->scales + k * es, es);
        if (s < 0) want[es - 1] ^= 0x80;
      }
      FZ_CHECK(memcmp(orig + i * es, want, es) == 0);
    }
    free(orig);
  }
}

static void rt_check_twn(tcodec_reader *r, size_t idx, const rt_tensor *t) {
  uint8_t *sym = rt_decode(r, idx, TCODEC_OUT_SYMBOLS, t->n);
  for (uint64_t i = 0; i < t->n; i++) {
    int8_t s = (int8_t)sym[i];
    float w = t->values[i];
    FZ_CHECK(s >= -1 && s <= 1);
    if (s > 0) FZ_CHECK(w > 0.0f);
    if (s < 0) FZ_CHECK(w < 0.0f);
    if (w == 0.0f) FZ_CHECK(s == 0);
  }
  free(sym);
}

static void rt_read_back(const rt_plan *pl, const uint8_t *file, size_t size,
                         const int rcs[RT_MAX_TENSORS]) {
  fz_alloc a = {0, 0, 0, 0};
  tcodec_reader *r = fz_reader_new(&a);
  FZ_CHECK(r != NULL);
  int rc = tcodec_reader_open_memory(r, file, size);
  if (rc != TCODEC_OK) fprintf(stderr, "open: %s\n", tcodec_reader_error_message(r));
  FZ_CHECK(rc == TCODEC_OK);
  size_t count = 0, expect = 0;
  for (unsigned i = 0; i < pl->ntensors; i++) expect += rcs[i] == TCODEC_OK;
  FZ_CHECK(tcodec_reader_tensor_count(r, &count) == TCODEC_OK && count == expect);
  for (unsigned i = 0; i < pl->ntensors; i++) {
    const rt_tensor *t = &pl->t[i];
    size_t idx = 0;
    rc = tcodec_reader_find(r, t->name, &idx);
    if (rcs[i] != TCODEC_OK) {
      FZ_CHECK(rc == TCODEC_E_NOT_FOUND);
      continue;
    }
    FZ_CHECK(rc == TCODEC_OK);
    tcodec_tensor_info ti;
    FZ_CHECK(tcodec_reader_tensor_info(r, idx, &ti) == TCODEC_OK);
    FZ_CHECK(ti.dtype == t->dtype && ti.ndim == t->ndim && ti.nelem == t->n);
    for (unsigned d = 0; d < t->ndim; d++) FZ_CHECK(ti.shape[d] == t->shape[d]);
    if (t->kind == K_RAW) {
      uint8_t *orig = rt_decode(r, idx, TCODEC_OUT_ORIGINAL, t->raw_size);
      FZ_CHECK(t->raw_size == 0 || memcmp(orig, t->raw, t->raw_size) == 0); /* bit-exact */
      free(orig);
    } else if (t->kind == K_TWN) {
      FZ_CHECK(ti.encoding == TCODEC_ENC_TERNARY);
      rt_check_twn(r, idx, t);
    } else {
      rt_check_quantized(r, idx, t);
    }
  }
  if (pl->with_extras) {
    const char *v = NULL;
    FZ_CHECK(tcodec_reader_meta_find(r, "producer", &v) == TCODEC_OK && strcmp(v, "fuzz_roundtrip") == 0);
    size_t ns = 0;
    uint64_t ssize = 0;
    FZ_CHECK(tcodec_reader_section_count(r, &ns) == TCODEC_OK && ns == 1);
    FZ_CHECK(tcodec_reader_section_info(r, 0, NULL, NULL, &ssize) == TCODEC_OK && ssize == pl->section_size);
    uint8_t buf[32];
    FZ_CHECK(tcodec_reader_section_read(r, 0, buf, sizeof(buf)) == TCODEC_OK);
    FZ_CHECK(pl->section_size == 0 || memcmp(buf, pl->section, pl->section_size) == 0);
  }
  size_t bad = 0;
  FZ_CHECK(tcodec_reader_verify(r, &bad) == TCODEC_OK);
  tcodec_reader_free(r);
  FZ_CHECK(a.live_blocks == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int coders[4] = {TCODEC_CODER_NONE, TCODEC_CODER_ZSTD, TCODEC_CODER_AUTO,
                                TCODEC_CODER_NONE};
  static const int aligns[4] = {64, 128, 256, 4096};
  rt_in in = {data, size, 0};
  rt_plan pl;
  memset(&pl, 0, sizeof(pl));
  uint8_t g0 = rt_u8(&in), g1 = rt_u8(&in);
  pl.ntensors = 1 + g0 % RT_MAX_TENSORS;
  pl.coder = coders[(g0 >> 2) & 3];
  pl.detect = (g0 >> 4) & 1;
  pl.bg = (g0 >> 5) & 1;
  pl.align = aligns[(g0 >> 6) & 3];
  pl.level = g1 == 0xFF ? 19 : 1 + (g1 & 0x7F) % 3;
  pl.with_extras = (g1 >> 7) & 1;
  if (pl.with_extras) {
    pl.section_size = rt_u8(&in) % sizeof(pl.section);
    rt_bytes(&in, pl.section, pl.section_size);
  }
  for (unsigned i = 0; i < pl.ntensors; i++) rt_parse(&pl.t[i], i, &in);

  int rcs1[RT_MAX_TENSORS] = {0}, rcs2[RT_MAX_TENSORS] = {0};
  size_t n1 = 0, n2 = 0;
  uint8_t *f1 = rt_write_all(&pl, &n1, rcs1);
  uint8_t *f2 = rt_write_all(&pl, &n2, rcs2);
  FZ_CHECK(n1 == n2 && memcmp(f1, f2, n1) == 0); /* deterministic output */
  FZ_CHECK(memcmp(rcs1, rcs2, sizeof(rcs1)) == 0);
  free(f2);
  rt_read_back(&pl, f1, n1, rcs1);
  free(f1);
  for (unsigned i = 0; i < pl.ntensors; i++) rt_release(&pl.t[i]);
  return 0;
}
