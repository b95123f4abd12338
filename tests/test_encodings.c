/* Encodings 1..5 end to end: tensors written with the writer into memory, read
 * back with the reader, and checked three ways:
 *   1. against values the test computes from its own INPUT (symbols, codes,
 *      scales, raw bytes), never from the library's output;
 *   2. against the naive reference decoder (tests/support/reference.c), bit for
 *      bit, on the stream bytes the library returns;
 *   3. each stream (tcodec_reader_decode_stream) against the layout the spec
 *      gives for the input (reference encoder).
 * Random inputs come from a fixed-seed RNG, so every run checks the same data. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "support/reference.h"
#include "support/testutil.h"

static const int quant_dtypes[] = {TCODEC_F32, TCODEC_F16, TCODEC_BF16, TCODEC_F64};
static const int scale_dtypes[] = {TCODEC_F32, TCODEC_F16, TCODEC_BF16};
static const int coders[] = {TCODEC_CODER_NONE, TCODEC_CODER_ZSTD, TCODEC_CODER_AUTO};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Granularities of the round-trip matrix. axis_last: channel on the last axis. */
typedef struct gran_spec {
  const char *name;
  int gran;
  int axis_last;
  uint64_t group;
} gran_spec;

static const gran_spec grans[] = {
    {"tensor", TCODEC_GRAN_TENSOR, 0, 0},  {"ch0", TCODEC_GRAN_CHANNEL, 0, 0},
    {"chlast", TCODEC_GRAN_CHANNEL, 1, 0}, {"g1", TCODEC_GRAN_GROUP, 0, 1},
    {"g7", TCODEC_GRAN_GROUP, 0, 7},       {"g256", TCODEC_GRAN_GROUP, 0, 256},
};

/* ---- quantized cases -------------------------------------------------------- */

enum { KINDS_RANDOM = 0, KINDS_ALL_TERNARY = 1, KINDS_NONE_TERNARY = 2 };

typedef struct qspec {
  int enc;
  int dtype;
  unsigned ndim;
  uint64_t shape[4];
  int gran;
  unsigned axis;
  uint64_t group;
  int sym;
  int sdtype;
  unsigned bits; /* k-bit */
  int zp;
  int sparse;
  int fdtype; /* hybrid */
  int kinds;  /* hybrid: KINDS_* */
  double density;
} qspec;

typedef struct qcase {
  char name[160];
  qspec s;
  uint64_t n;
  uint64_t units; /* expected scale units (hybrid: ternary filters) */
  uint64_t nnz;   /* expected tensor_info.nnz */
  tcodec_quantized q;
  int8_t *symbols;
  uint8_t *codes, *zps, *mask, *kinds, *scales, *full;
} qcase;

static size_t fsize_of(int dtype) { return dtype == TCODEC_F32 ? 4 : 2; }

/* Random finite value of a float dtype (f32, f16, bf16) as LE bytes: mostly
 * normal numbers over a wide exponent range, sometimes +-0 and subnormals, one in
 * `neg_one_in` negative. The f32/bf16 range reaches 2^18, past the f16 maximum, so
 * narrowing to f16 also overflows to infinity sometimes. */
static void rand_float(tu_rng *g, int dtype, uint8_t *dst, unsigned neg_one_in) {
  unsigned kind = (unsigned)tu_rng_below(g, 32);
  uint32_t neg = tu_rng_below(g, neg_one_in) == 0;
  uint64_t m = tu_rng_next(g);
  if (dtype == TCODEC_F16) {
    uint32_t e = kind == 0 || kind == 1 ? 0 : 1 + (uint32_t)tu_rng_below(g, 30);
    uint32_t man = kind == 0 ? 0 : (uint32_t)(m & 0x3FF);
    if (kind == 1 && man == 0) man = 1;
    tu_put16(dst, (uint16_t)(neg << 15 | e << 10 | man));
    return;
  }
  uint32_t e = kind == 0 || kind == 1 ? 0 : 100 + (uint32_t)tu_rng_below(g, 45);
  uint32_t man = kind == 0 ? 0 : (uint32_t)(m & 0x7FFFFF);
  if (dtype == TCODEC_BF16) man &= 0x7F0000;
  if (kind == 1 && man == 0) man = 0x10000;
  uint32_t bits = neg << 31 | e << 23 | man;
  if (dtype == TCODEC_BF16)
    tu_put16(dst, (uint16_t)(bits >> 16));
  else
    tu_put32(dst, bits);
}

static uint64_t test_units(const qspec *s, uint64_t n) {
  switch (s->gran) {
  case TCODEC_GRAN_CHANNEL:
    return s->shape[s->axis];
  case TCODEC_GRAN_GROUP:
    return n / s->group + (n % s->group != 0);
  default:
    return 1;
  }
}

/* The unit of element i by unravelling i into coordinates (the reference uses
 * the spec's division formula instead). */
static uint64_t test_unit(const qspec *s, uint64_t i) {
  if (s->gran == TCODEC_GRAN_GROUP) return i / s->group;
  if (s->gran != TCODEC_GRAN_CHANNEL) return 0;
  uint64_t rem = i, coord = 0;
  for (unsigned d = s->ndim; d-- > 0;) {
    if (d == s->axis) coord = rem % s->shape[d];
    rem /= s->shape[d];
  }
  return coord;
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  cr_assert_not_null(p);
  return p;
}

static void free_case(qcase *c) {
  free(c->symbols);
  free(c->codes);
  free(c->zps);
  free(c->mask);
  free(c->kinds);
  free(c->scales);
  free(c->full);
  memset(c, 0, sizeof(*c));
}

static int8_t rand_ternary(tu_rng *g, double density) {
  if (tu_rng_unit(g) >= density) return 0;
  return tu_rng_below(g, 2) ? 1 : -1;
}

static void make_symbols(qcase *c, tu_rng *g) {
  for (uint64_t i = 0; i < c->n; i++) {
    if (c->s.enc == TCODEC_ENC_BINARY)
      c->symbols[i] = tu_rng_below(g, 2) ? 1 : -1;
    else
      c->symbols[i] = rand_ternary(g, c->s.density);
    c->nnz += c->symbols[i] != 0;
  }
  if (c->s.enc == TCODEC_ENC_BINARY) c->nnz = c->n;
}

/* k-bit: codes < 2^bits for coded elements; masked-out elements get garbage,
 * which the writer must ignore (tcodec_quantized.codes). */
static void make_codes(qcase *c, tu_rng *g) {
  c->nnz = 0;
  for (uint64_t i = 0; i < c->n; i++) {
    if (c->s.sparse) c->mask[i] = tu_rng_unit(g) < c->s.density;
    int coded = !c->s.sparse || c->mask[i];
    c->codes[i] = (uint8_t)(coded ? tu_rng_below(g, 1u << c->s.bits) : tu_rng_below(g, 256));
    c->nnz += (uint64_t)coded;
  }
  for (uint64_t u = 0; c->s.zp && u < c->units; u++)
    c->zps[u] = (uint8_t)tu_rng_below(g, 1u << c->s.bits);
}

/* Hybrid: filter kinds, ternary symbols in ternary filters, values in full ones.
 * The parts the writer must ignore hold garbage: symbol 5 in full filters and
 * random bytes (maybe NaN) in the full values of ternary filters. */
static void make_hybrid(qcase *c, tu_rng *g) {
  uint64_t nf = c->s.shape[0], fsize = nf ? c->n / nf : 0;
  size_t fd = fsize_of(c->s.fdtype);
  c->units = 0;
  c->nnz = 0;
  for (uint64_t f = 0; f < nf; f++) {
    int ter = c->s.kinds == KINDS_ALL_TERNARY    ? 1
              : c->s.kinds == KINDS_NONE_TERNARY ? 0
                                                 : (int)tu_rng_below(g, 2);
    c->kinds[f] = (uint8_t)ter;
    c->units += (uint64_t)ter;
    for (uint64_t k = 0; k < fsize; k++) {
      uint64_t i = f * fsize + k;
      c->symbols[i] = ter ? rand_ternary(g, c->s.density) : 5;
      c->nnz += ter && c->symbols[i] != 0;
      if (ter)
        tu_rng_bytes(g, c->full + i * fd, fd);
      else
        rand_float(g, c->s.fdtype, c->full + i * fd, 2);
    }
  }
}

static void make_case(qcase *c, tu_rng *g, const qspec *s, const char *name) {
  memset(c, 0, sizeof(*c));
  c->s = *s;
  snprintf(c->name, sizeof(c->name), "%s", name);
  c->n = tu_nelem(s->ndim, s->shape);
  size_t n = (size_t)c->n;
  c->units = s->enc == TCODEC_ENC_HYBRID ? 0 : test_units(s, c->n);
  c->symbols = xmalloc(n);
  c->codes = xmalloc(n);
  c->mask = xmalloc(n);
  c->kinds = xmalloc(s->ndim ? (size_t)s->shape[0] : 1);
  c->full = xmalloc(n * 4);
  c->zps = xmalloc((size_t)c->units);
  if (s->enc == TCODEC_ENC_TERNARY || s->enc == TCODEC_ENC_BINARY) make_symbols(c, g);
  if (s->enc == TCODEC_ENC_KBIT) make_codes(c, g);
  if (s->enc == TCODEC_ENC_HYBRID) make_hybrid(c, g);
  size_t nscales = (size_t)c->units * (s->sym ? 1 : 2), ssize = fsize_of(s->sdtype);
  c->scales = xmalloc(nscales * ssize);
  for (size_t k = 0; k < nscales; k++) rand_float(g, s->sdtype, c->scales + k * ssize, 12);

  tcodec_quantized *q = &c->q;
  q->encoding = s->enc;
  q->granularity = s->gran;
  q->axis = s->axis;
  q->group_size = s->group;
  q->symmetric = s->sym;
  q->scale_dtype = s->sdtype;
  q->scales = c->scales;
  if (s->enc != TCODEC_ENC_KBIT) q->symbols = c->symbols;
  if (s->enc == TCODEC_ENC_KBIT) {
    q->bits = s->bits;
    q->codes = c->codes;
    q->zero_points = s->zp ? c->zps : NULL;
    q->mask = s->sparse ? c->mask : NULL;
  }
  if (s->enc == TCODEC_ENC_HYBRID) {
    q->filter_ternary = c->kinds;
    q->full_dtype = s->fdtype;
    q->full_values = c->full;
  }
}

/* ---- expectations from the input ---- */

static float small_to_f32(int dtype, const uint8_t *p) {
  if (dtype == TCODEC_F32) return tu_f32_from_bits(tu_get32(p));
  if (dtype == TCODEC_F16) return ref_f16_to_f32(tu_get16(p));
  return ref_bf16_to_f32(tu_get16(p));
}

/* Scale value `sp` (sdtype) for a symbol: f32 value and original-dtype bytes,
 * converted from the scale directly, sign bit flipped for a negative symbol. */
static void from_scale(int sdtype, const uint8_t *sp, int dtype, int neg, float *f, uint8_t *orig) {
  size_t os = ref_dtype_size(dtype);
  *f = small_to_f32(sdtype, sp);
  if (neg) *f = tu_f32_from_bits(tu_f32_bits(*f) ^ 0x80000000u);
  if (sdtype == dtype)
    memcpy(orig, sp, os);
  else
    ref_float_store(dtype, orig, ref_float_load(sdtype, sp));
  if (neg) orig[os - 1] ^= 0x80;
}

static void expect_symbol_value(const qcase *c, uint64_t u, int8_t s, float *f, uint8_t *orig) {
  size_t ss = fsize_of(c->s.sdtype);
  if (s == 0) {
    *f = 0.0f;
    memset(orig, 0, ref_dtype_size(c->s.dtype));
    return;
  }
  uint64_t k = c->s.sym ? u : 2 * u + (s < 0);
  from_scale(c->s.sdtype, c->scales + k * ss, c->s.dtype, s < 0, f, orig);
}

static void expect_kbit(const qcase *c, uint64_t i, float *f, uint8_t *orig, uint8_t *sym) {
  uint64_t u = test_unit(&c->s, i);
  int zp = c->s.zp ? c->zps[u] : 1 << (c->s.bits - 1);
  if (c->s.sparse && !c->mask[i]) {
    *f = 0.0f;
    memset(orig, 0, ref_dtype_size(c->s.dtype));
    *sym = (uint8_t)zp;
    return;
  }
  float scale = small_to_f32(c->s.sdtype, c->scales + u * fsize_of(c->s.sdtype));
  volatile float v = scale * (float)(c->codes[i] - zp);
  *f = v;
  ref_float_store(c->s.dtype, orig, (double)v);
  *sym = c->codes[i];
}

/* Expected F32, ORIGINAL and SYMBOLS outputs computed from the input. */
static void expect_outputs(const qcase *c, float *f32, uint8_t *orig, uint8_t *sym) {
  size_t os = ref_dtype_size(c->s.dtype);
  if (c->s.enc == TCODEC_ENC_KBIT) {
    for (uint64_t i = 0; i < c->n; i++) expect_kbit(c, i, &f32[i], orig + i * os, &sym[i]);
    return;
  }
  if (c->s.enc != TCODEC_ENC_HYBRID) {
    for (uint64_t i = 0; i < c->n; i++) {
      expect_symbol_value(c, test_unit(&c->s, i), c->symbols[i], &f32[i], orig + i * os);
      sym[i] = (uint8_t)c->symbols[i];
    }
    return;
  }
  uint64_t nf = c->s.shape[0], fsize = nf ? c->n / nf : 0, rank = 0;
  for (uint64_t f = 0; f < nf; f++) {
    for (uint64_t k = 0; k < fsize; k++) {
      uint64_t i = f * fsize + k;
      if (c->kinds[f]) {
        expect_symbol_value(c, rank, c->symbols[i], &f32[i], orig + i * os);
        sym[i] = (uint8_t)c->symbols[i];
      } else {
        const uint8_t *fp = c->full + i * fsize_of(c->s.fdtype);
        f32[i] = small_to_f32(c->s.fdtype, fp);
        ref_float_store(c->s.dtype, orig + i * os, ref_float_load(c->s.fdtype, fp));
        sym[i] = 0;
      }
    }
    rank += c->kinds[f];
  }
}

/* ---- checks ---- */

static void check_info(const tcodec_tensor_info *t, const qcase *c) {
  const qspec *s = &c->s;
  cr_assert_eq(t->encoding, s->enc, "%s: encoding %d", c->name, t->encoding);
  cr_assert_eq(t->dtype, s->dtype, "%s: dtype %d", c->name, t->dtype);
  cr_assert_eq(t->ndim, s->ndim, "%s: ndim %u", c->name, t->ndim);
  for (unsigned d = 0; d < s->ndim; d++)
    cr_assert_eq(t->shape[d], s->shape[d], "%s: shape[%u]", c->name, d);
  cr_assert_eq(t->nelem, c->n, "%s: nelem %llu", c->name, (unsigned long long)t->nelem);
  cr_assert_eq(t->symmetric != 0, s->sym != 0, "%s: symmetric", c->name);
  cr_assert_eq(t->scale_dtype, s->sdtype, "%s: scale dtype", c->name);
  cr_assert_eq(t->units, c->units, "%s: units %llu, want %llu", c->name,
               (unsigned long long)t->units, (unsigned long long)c->units);
  cr_assert_eq(t->nnz, c->nnz, "%s: nnz %llu, want %llu", c->name, (unsigned long long)t->nnz,
               (unsigned long long)c->nnz);
  if (s->enc != TCODEC_ENC_HYBRID) {
    cr_assert_eq(t->granularity, s->gran, "%s: granularity", c->name);
    if (s->gran == TCODEC_GRAN_CHANNEL) cr_assert_eq(t->axis, s->axis, "%s: axis", c->name);
    if (s->gran == TCODEC_GRAN_GROUP)
      cr_assert_eq(t->group_size, s->group, "%s: group size", c->name);
  }
  int mask = s->enc == TCODEC_ENC_TERNARY || s->enc == TCODEC_ENC_HYBRID ||
             (s->enc == TCODEC_ENC_KBIT && s->sparse);
  cr_assert_eq(t->has_mask != 0, mask, "%s: has_mask %d", c->name, t->has_mask);
  if (s->enc == TCODEC_ENC_KBIT) {
    cr_assert_eq(t->bits, s->bits, "%s: bits", c->name);
    cr_assert_eq(t->has_zero_point != 0, s->zp != 0, "%s: has_zero_point", c->name);
  }
  if (s->enc == TCODEC_ENC_HYBRID) cr_assert_eq(t->full_dtype, s->fdtype, "%s: fdtype", c->name);
}

/* The library's outputs of tensor `idx` against the reference decoder run on the
 * library's own stream bytes. `nan_tolerant`: F32 NaNs need only both be NaN
 * (payload and quieting of converted NaNs are not specified). */
static void check_against_reference(tcodec_reader *r, size_t idx, const char *name, int raw_bg,
                                    const float *f32, const uint8_t *orig, const uint8_t *sym,
                                    int nan_tolerant) {
  ref_streams st;
  int rc = ref_fetch_streams(r, idx, &st);
  cr_assert_eq(rc, 0, "%s: fetching streams: %s", name, tcodec_strerror(rc));
  tcodec_tensor_info t = tu_info(r, idx);
  ref_output ro;
  char why[256];
  rc = ref_decode(&t, &st, raw_bg, &ro, why, sizeof(why));
  cr_assert_eq(rc, 0, "%s: reference decoder rejects the library's streams: %s (%s)", name, why,
               tcodec_strerror(rc));
  size_t n = (size_t)t.nelem;
  tu_assert_mem_eq(orig, ro.original, n * ref_dtype_size(t.dtype), "%s: ORIGINAL vs reference",
                   name);
  if (sym != NULL) tu_assert_mem_eq(sym, ro.symbols, n, "%s: SYMBOLS vs reference", name);
  if (nan_tolerant) {
    for (size_t i = 0; i < n; i++) {
      if (isnan(f32[i]) && isnan(ro.f32[i])) continue;
      cr_assert_eq(tu_f32_bits(f32[i]), tu_f32_bits(ro.f32[i]),
                   "%s: F32 element %zu: library 0x%08x, reference 0x%08x", name, i,
                   (unsigned)tu_f32_bits(f32[i]), (unsigned)tu_f32_bits(ro.f32[i]));
    }
  } else {
    tu_assert_f32_eq(f32, ro.f32, n, "%s: F32 vs reference", name);
  }
  ref_output_free(&ro);
  ref_streams_free(&st);
}

static void check_streams(tcodec_reader *r, size_t idx, const char *name, const ref_streams *want) {
  ref_streams got;
  int rc = ref_fetch_streams(r, idx, &got);
  cr_assert_eq(rc, 0, "%s: fetching streams: %s", name, tcodec_strerror(rc));
  uint64_t at;
  int role = ref_streams_diff(&got, want, &at);
  if (role >= 0) {
    if (got.present[role] != want->present[role] || got.len[role] != want->len[role])
      cr_assert_fail("%s: stream %s: present %d len %llu, spec layout: present %d len %llu", name,
                     tcodec_role_name(role), got.present[role], (unsigned long long)got.len[role],
                     want->present[role], (unsigned long long)want->len[role]);
    cr_assert_fail("%s: stream %s: byte %llu is 0x%02x, spec layout: 0x%02x", name,
                   tcodec_role_name(role), (unsigned long long)at, got.b[role][at],
                   want->b[role][at]);
  }
  ref_streams_free(&got);
}

static void check_case(tcodec_reader *r, const qcase *c) {
  size_t idx = tu_find(r, c->name);
  tcodec_tensor_info t = tu_info(r, idx);
  check_info(&t, c);
  size_t n = (size_t)c->n, os = ref_dtype_size(c->s.dtype);
  uint64_t sz_f32, sz_orig, sz_sym;
  float *f32 = tu_decode(r, idx, TCODEC_OUT_F32, &sz_f32);
  uint8_t *orig = tu_decode(r, idx, TCODEC_OUT_ORIGINAL, &sz_orig);
  uint8_t *sym = tu_decode(r, idx, TCODEC_OUT_SYMBOLS, &sz_sym);
  cr_assert_eq(sz_f32, n * 4, "%s: F32 size", c->name);
  cr_assert_eq(sz_orig, n * os, "%s: ORIGINAL size", c->name);
  cr_assert_eq(sz_sym, n, "%s: SYMBOLS size", c->name);

  float *want_f32 = xmalloc(n * 4);
  uint8_t *want_orig = xmalloc(n * os), *want_sym = xmalloc(n);
  expect_outputs(c, want_f32, want_orig, want_sym);
  tu_assert_mem_eq(sym, want_sym, n, "%s: SYMBOLS vs input", c->name);
  tu_assert_f32_eq(f32, want_f32, n, "%s: F32 vs input", c->name);
  tu_assert_mem_eq(orig, want_orig, n * os, "%s: ORIGINAL vs input", c->name);

  check_against_reference(r, idx, c->name, 0, f32, orig, sym, 0);

  ref_streams want;
  char why[256];
  int rc = ref_encode_quantized(c->s.ndim, c->s.shape, &c->q, &want, why, sizeof(why));
  cr_assert_eq(rc, 0, "%s: reference encoder: %s", c->name, why);
  check_streams(r, idx, c->name, &want);
  ref_streams_free(&want);
  free(want_f32);
  free(want_orig);
  free(want_sym);
  free(f32);
  free(orig);
  free(sym);
}

static void add_case(tcodec_writer *w, const qcase *c) {
  tcodec_tensor_desc d = tu_desc(c->name, c->s.dtype, c->s.ndim, c->s.shape);
  int rc = tcodec_writer_add_quantized(w, &d, &c->q);
  cr_assert_eq(rc, 0, "add_quantized %s: %s: %s", c->name, tcodec_strerror(rc),
               tcodec_writer_error_message(w));
}

/* Write all cases into one container with `coder`, read back, check each. */
static void roundtrip_cases(qcase *cases, size_t count, int coder) {
  tu_buf buf = {0};
  tcodec_writer *w = tu_writer_begin(&buf);
  tu_writer_param(w, TCODEC_WP_CODER, coder);
  tu_writer_param(w, TCODEC_WP_ZSTD_LEVEL, 3);
  for (size_t k = 0; k < count; k++) add_case(w, &cases[k]);
  tu_writer_finish(w);
  tcodec_reader *r = tu_reader_open(&buf);
  cr_assert_eq(tu_reader_count(r), count, "tensor count");
  for (size_t k = 0; k < count; k++) check_case(r, &cases[k]);
  tcodec_reader_free(r);
  tu_buf_free(&buf);
}

static qspec base_spec(int enc, int dtype, unsigned ndim, const uint64_t *shape) {
  qspec s;
  memset(&s, 0, sizeof(s));
  s.enc = enc;
  s.dtype = dtype;
  s.ndim = ndim;
  for (unsigned d = 0; d < ndim; d++) s.shape[d] = shape[d];
  s.sym = 1;
  s.sdtype = TCODEC_F32;
  s.density = 0.5;
  return s;
}

static void set_gran(qspec *s, const gran_spec *g) {
  s->gran = g->gran;
  s->axis = g->axis_last ? s->ndim - 1 : 0;
  s->group = g->group;
}

/* Every granularity x scale dtype x symmetry for one encoding and dtype. */
static void ternary_binary_matrix(int enc, uint64_t seed) {
  static const uint64_t shape[3] = {6, 5, 19}; /* 570 elements: not a multiple of 8 */
  static const double densities[] = {0.1, 0.5, 0.95};
  tu_rng g;
  tu_rng_seed(&g, seed);
  for (size_t di = 0; di < COUNT(quant_dtypes); di++) {
    qcase cases[COUNT(grans) * COUNT(scale_dtypes) * 2];
    size_t count = 0;
    for (size_t gi = 0; gi < COUNT(grans); gi++)
      for (size_t si = 0; si < COUNT(scale_dtypes); si++)
        for (int sym = 0; sym <= 1; sym++) {
          qspec s = base_spec(enc, quant_dtypes[di], 3, shape);
          set_gran(&s, &grans[gi]);
          s.sdtype = scale_dtypes[si];
          s.sym = sym;
          s.density = densities[count % COUNT(densities)];
          char name[160];
          snprintf(name, sizeof(name), "%s/%s/%s/s%s/%s", tcodec_encoding_name(enc),
                   tcodec_dtype_name(s.dtype), grans[gi].name, tcodec_dtype_name(s.sdtype),
                   sym ? "sym" : "asym");
          make_case(&cases[count++], &g, &s, name);
        }
    roundtrip_cases(cases, count, coders[di % COUNT(coders)]);
    for (size_t k = 0; k < count; k++) free_case(&cases[k]);
  }
}

Test(encodings, ternary_roundtrip_every_granularity_dtype_scale_dtype_and_symmetry) {
  ternary_binary_matrix(TCODEC_ENC_TERNARY, 0x7E12A);
}

Test(encodings, binary_roundtrip_every_granularity_dtype_scale_dtype_and_symmetry) {
  ternary_binary_matrix(TCODEC_ENC_BINARY, 0xB1BA);
}

Test(kbit, roundtrip_bits_2_to_8_with_and_without_zero_points_dense_and_sparse) {
  static const uint64_t shape[3] = {6, 5, 19};
  tu_rng g;
  tu_rng_seed(&g, 0x4B17);
  for (size_t di = 0; di < COUNT(quant_dtypes); di++) {
    size_t cap = 7 * 2 * 2 * COUNT(grans) * COUNT(scale_dtypes), count = 0;
    qcase *cases = xmalloc(cap * sizeof(qcase));
    for (unsigned bits = 2; bits <= 8; bits++)
      for (int zp = 0; zp <= 1; zp++)
        for (int sparse = 0; sparse <= 1; sparse++)
          for (size_t gi = 0; gi < COUNT(grans); gi++)
            for (size_t si = 0; si < COUNT(scale_dtypes); si++) {
              qspec s = base_spec(TCODEC_ENC_KBIT, quant_dtypes[di], 3, shape);
              set_gran(&s, &grans[gi]);
              s.sdtype = scale_dtypes[si];
              s.bits = bits;
              s.zp = zp;
              s.sparse = sparse;
              s.density = sparse ? (count % 2 ? 0.3 : 0.8) : 1.0;
              char name[160];
              snprintf(name, sizeof(name), "kbit/%s/b%u/%s/%s/%s/s%s", tcodec_dtype_name(s.dtype),
                       bits, zp ? "zp" : "nozp", sparse ? "sparse" : "dense", grans[gi].name,
                       tcodec_dtype_name(s.sdtype));
              make_case(&cases[count++], &g, &s, name);
            }
    roundtrip_cases(cases, count, coders[di % COUNT(coders)]);
    for (size_t k = 0; k < count; k++) free_case(&cases[k]);
    free(cases);
  }
}

Test(kbit, masked_out_elements_decode_to_zero_and_report_the_zero_point) {
  /* Mask with nothing coded: CODES is empty, every element is +0.0, symbol = zp. */
  static const uint64_t shape[2] = {3, 11};
  tu_rng g;
  tu_rng_seed(&g, 0x3A5C);
  qcase cases[4];
  for (int k = 0; k < 4; k++) {
    qspec s = base_spec(TCODEC_ENC_KBIT, TCODEC_F32, 2, shape);
    s.gran = TCODEC_GRAN_CHANNEL;
    s.bits = 2 + (unsigned)k * 2;
    s.zp = k % 2;
    s.sparse = 1;
    s.density = k < 2 ? 0.0 : 1.0; /* none coded, then all coded under a mask */
    char name[64];
    snprintf(name, sizeof(name), "kbit-mask-%d", k);
    make_case(&cases[k], &g, &s, name);
  }
  roundtrip_cases(cases, 4, TCODEC_CODER_AUTO);
  for (int k = 0; k < 4; k++) free_case(&cases[k]);
}

Test(hybrid, roundtrip_f16_and_f32_full_filters_with_some_ternary_filters) {
  static const struct {
    unsigned ndim;
    uint64_t shape[4];
  } shapes[] = {{3, {8, 3, 5}}, {2, {5, 7}},       {2, {1, 9}},
                {1, {6}},       {4, {3, 1, 1, 4}}, {2, {5, 130}}};
  tu_rng g;
  tu_rng_seed(&g, 0x4B1D);
  for (size_t di = 0; di < COUNT(quant_dtypes); di++) {
    qcase cases[COUNT(shapes) * COUNT(scale_dtypes) * 2 * 2 + 4];
    size_t count = 0;
    for (size_t hi = 0; hi < COUNT(shapes); hi++)
      for (size_t si = 0; si < COUNT(scale_dtypes); si++)
        for (int sym = 0; sym <= 1; sym++)
          for (int fi = 0; fi <= 1; fi++) {
            qspec s =
                base_spec(TCODEC_ENC_HYBRID, quant_dtypes[di], shapes[hi].ndim, shapes[hi].shape);
            s.sdtype = scale_dtypes[si];
            s.sym = sym;
            s.fdtype = fi ? TCODEC_F32 : TCODEC_F16;
            s.gran = count % 2 ? TCODEC_GRAN_CHANNEL : TCODEC_GRAN_TENSOR; /* both accepted */
            s.kinds = KINDS_RANDOM;
            s.density = 0.6;
            char name[160];
            snprintf(name, sizeof(name), "hybrid/%s/shape%zu/s%s/%s/f%s",
                     tcodec_dtype_name(s.dtype), hi, tcodec_dtype_name(s.sdtype),
                     sym ? "sym" : "asym", tcodec_dtype_name(s.fdtype));
            make_case(&cases[count++], &g, &s, name);
          }
    for (int k = 0; k < 4; k++) { /* every filter ternary / none ternary */
      qspec s = base_spec(TCODEC_ENC_HYBRID, quant_dtypes[di], 3, shapes[0].shape);
      s.kinds = k < 2 ? KINDS_ALL_TERNARY : KINDS_NONE_TERNARY;
      s.fdtype = k % 2 ? TCODEC_F32 : TCODEC_F16;
      s.sym = k % 2;
      char name[64];
      snprintf(name, sizeof(name), "hybrid/%s/kinds%d", tcodec_dtype_name(s.dtype), k);
      make_case(&cases[count++], &g, &s, name);
    }
    roundtrip_cases(cases, count, coders[(di + 1) % COUNT(coders)]);
    for (size_t k = 0; k < count; k++) free_case(&cases[k]);
  }
}

/* Units at the edges: group sizes larger than the tensor (up to 2^64 - 1, where
 * naive "end of group" arithmetic overflows), channel axes of length 1. */
Test(encodings, huge_group_sizes_and_length_1_channel_axes) {
  static const uint64_t shape[3] = {3, 1, 70};
  static const uint64_t groups[] = {209, 210, 211, 1ull << 32, 1ull << 63, UINT64_MAX};
  static const int encs[] = {TCODEC_ENC_TERNARY, TCODEC_ENC_BINARY, TCODEC_ENC_KBIT};
  tu_rng g;
  tu_rng_seed(&g, 0x6E0);
  qcase cases[(COUNT(groups) + 2) * COUNT(encs)];
  size_t count = 0;
  for (size_t e = 0; e < COUNT(encs); e++) {
    for (size_t k = 0; k < COUNT(groups) + 2; k++) {
      qspec s = base_spec(encs[e], TCODEC_F32, 3, shape);
      s.bits = 5;
      s.sparse = k % 2;
      s.sym = encs[e] == TCODEC_ENC_KBIT || k % 3 != 0;
      if (k < COUNT(groups)) {
        s.gran = TCODEC_GRAN_GROUP;
        s.group = groups[k];
      } else {
        s.gran = TCODEC_GRAN_CHANNEL;
        s.axis = k == COUNT(groups) ? 1 : 2;
      }
      char name[64];
      snprintf(name, sizeof(name), "%s/unit-edge%zu", tcodec_encoding_name(encs[e]), k);
      make_case(&cases[count++], &g, &s, name);
    }
  }
  roundtrip_cases(cases, count, TCODEC_CODER_NONE);
  for (size_t k = 0; k < count; k++) free_case(&cases[k]);
}

/* Long runs of zeros and of nonzeros (the decoder reads masks a word at a time),
 * and channel units over them. */
Test(encodings, ternary_and_binary_with_very_sparse_and_very_dense_masks) {
  static const double densities[] = {0.0, 0.002, 0.03, 0.5, 0.97, 0.998, 1.0};
  static const uint64_t shape[2] = {40, 125}; /* 5000 elements */
  tu_rng g;
  tu_rng_seed(&g, 0x5BA5);
  qcase cases[COUNT(densities) * 3];
  size_t count = 0;
  for (size_t k = 0; k < COUNT(densities); k++)
    for (int v = 0; v < 3; v++) {
      qspec s = base_spec(v == 2 ? TCODEC_ENC_BINARY : TCODEC_ENC_TERNARY, TCODEC_F32, 2, shape);
      s.density = densities[k];
      s.gran = v == 0 ? TCODEC_GRAN_TENSOR : TCODEC_GRAN_CHANNEL;
      s.axis = v == 1 ? 1 : 0;
      s.sym = v != 1;
      s.sdtype = v == 1 ? TCODEC_BF16 : TCODEC_F32;
      char name[64];
      snprintf(name, sizeof(name), "density%zu/v%d", k, v);
      make_case(&cases[count++], &g, &s, name);
    }
  roundtrip_cases(cases, count, TCODEC_CODER_AUTO);
  for (size_t k = 0; k < count; k++) free_case(&cases[k]);
}

/* Original dtype narrower than the scale (or k-bit value): one rounding to nearest,
 * ties to even, overflow to infinity, subnormals. Expected bit patterns worked out
 * by hand. Binary (sign flip exact) and k-bit (value = scale * (3 - 2)) alike. */
Test(encodings, original_dtype_rounds_to_nearest_even_with_ties_subnormals_and_overflow) {
  static const struct {
    int sdtype;
    uint32_t scale;
    int dtype;
    uint16_t want;
  } v[] = {
      {TCODEC_F32, 0x3F801000u, TCODEC_F16, 0x3C00}, /* 1 + 2^-11: tie, down to even */
      {TCODEC_F32, 0x3F803000u, TCODEC_F16, 0x3C02}, /* 1 + 3*2^-11: tie, up to even */
      {TCODEC_F32, 0x3F801001u, TCODEC_F16, 0x3C01}, /* just above the tie */
      {TCODEC_F32, 0x477FE000u, TCODEC_F16, 0x7BFF}, /* 65504: f16 max */
      {TCODEC_F32, 0x477FEFFFu, TCODEC_F16, 0x7BFF}, /* just below 65520 */
      {TCODEC_F32, 0x477FF000u, TCODEC_F16, 0x7C00}, /* 65520: tie, to infinity */
      {TCODEC_F32, 0x33000000u, TCODEC_F16, 0x0000}, /* 2^-25: tie between 0 and 2^-24 */
      {TCODEC_F32, 0x33000001u, TCODEC_F16, 0x0001},
      {TCODEC_F32, 0x33400000u, TCODEC_F16, 0x0001},  /* 0.75 * 2^-24 */
      {TCODEC_F32, 0x33C00000u, TCODEC_F16, 0x0002},  /* 1.5 * 2^-24: tie, to even */
      {TCODEC_F32, 0x387FE000u, TCODEC_F16, 0x0400},  /* rounds up into the smallest normal */
      {TCODEC_F32, 0x3F808000u, TCODEC_BF16, 0x3F80}, /* tie, down */
      {TCODEC_F32, 0x3F818000u, TCODEC_BF16, 0x3F82}, /* tie, up */
      {TCODEC_F32, 0x3F808001u, TCODEC_BF16, 0x3F81},
      {TCODEC_F32, 0x7F7F7FFFu, TCODEC_BF16, 0x7F7F},
      {TCODEC_F32, 0x7F7F8000u, TCODEC_BF16, 0x7F80}, /* tie with infinity */
      {TCODEC_F32, 0x00008000u, TCODEC_BF16, 0x0000}, /* subnormal tie, down */
      {TCODEC_F32, 0x00018000u, TCODEC_BF16, 0x0002}, /* subnormal tie, up */
      {TCODEC_F16, 0x3C04u, TCODEC_BF16, 0x3F80},     /* 1 + 2^-8: tie, down */
      {TCODEC_F16, 0x3C0Cu, TCODEC_BF16, 0x3F82},     /* 1 + 3*2^-8: tie, up */
      {TCODEC_F16, 0x3C0Du, TCODEC_BF16, 0x3F82},
      {TCODEC_F16, 0x0001u, TCODEC_BF16, 0x3380}, /* f16 subnormal is normal in bf16 */
      {TCODEC_F16, 0x7BFFu, TCODEC_BF16, 0x4780}, /* 65504 -> 65536 */
      {TCODEC_BF16, 0x3F81u, TCODEC_F16, 0x3C08}, /* exact */
      {TCODEC_BF16, 0x477Fu, TCODEC_F16, 0x7BF8}, /* 65280, exact */
      {TCODEC_BF16, 0x4780u, TCODEC_F16, 0x7C00}, /* 65536 overflows */
      {TCODEC_BF16, 0x3300u, TCODEC_F16, 0x0000}, /* 2^-25: tie, down */
      {TCODEC_BF16, 0x3340u, TCODEC_F16, 0x0001},
      {TCODEC_BF16, 0x3380u, TCODEC_F16, 0x0001},
  };
  static const uint64_t shape[1] = {4};
  int8_t sym[4] = {1, -1, 1, -1};
  uint8_t codes[4] = {3, 1, 3, 1}; /* zero point 2: values +scale, -scale */
  tu_buf buf = {0};
  tcodec_writer *w = tu_writer_begin(&buf);
  for (size_t k = 0; k < COUNT(v); k++) {
    uint8_t sc[4];
    if (v[k].sdtype == TCODEC_F32)
      tu_put32(sc, v[k].scale);
    else
      tu_put16(sc, (uint16_t)v[k].scale);
    for (int e = 0; e < 2; e++) {
      tcodec_quantized q;
      memset(&q, 0, sizeof(q));
      q.encoding = e ? TCODEC_ENC_KBIT : TCODEC_ENC_BINARY;
      q.symmetric = 1;
      q.scale_dtype = v[k].sdtype;
      q.scales = sc;
      q.symbols = sym;
      q.bits = 2;
      q.codes = codes;
      char name[32];
      snprintf(name, sizeof(name), "tie%zu-%s", k, e ? "kbit" : "binary");
      tcodec_tensor_desc d = tu_desc(name, v[k].dtype, 1, shape);
      int rc = tcodec_writer_add_quantized(w, &d, &q);
      cr_assert_eq(rc, 0, "%s: %s", name, tcodec_strerror(rc));
    }
  }
  tu_writer_finish(w);
  tcodec_reader *r = tu_reader_open(&buf);
  for (size_t k = 0; k < COUNT(v); k++)
    for (size_t e = 0; e < 2; e++) {
      uint8_t out[8];
      int rc = tcodec_reader_decode(r, 2 * k + e, TCODEC_OUT_ORIGINAL, out, sizeof(out));
      cr_assert_eq(rc, 0, "%s", tcodec_strerror(rc));
      for (int i = 0; i < 4; i++) {
        uint16_t want = (uint16_t)(v[k].want ^ (i % 2 ? 0x8000u : 0u));
        cr_assert_eq(
            tu_get16(out + 2 * i), want, "%s 0x%x -> %s (%s), element %d: 0x%04x, want 0x%04x",
            tcodec_dtype_name(v[k].sdtype), (unsigned)v[k].scale, tcodec_dtype_name(v[k].dtype),
            e ? "kbit" : "binary", i, tu_get16(out + 2 * i), want);
      }
      char why[256];
      rc = ref_check_library(r, 2 * k + e, 0, 0, why, sizeof(why));
      cr_assert_eq(rc, 0, "tie %zu: library vs reference: %s", k, why);
    }
  tcodec_reader_free(r);
  tu_buf_free(&buf);
}

/* ---- raw ----------------------------------------------------------------------- */

static const int all_dtypes[] = {TCODEC_F64,     TCODEC_F32,     TCODEC_F16, TCODEC_BF16,
                                 TCODEC_F8_E4M3, TCODEC_F8_E5M2, TCODEC_I8,  TCODEC_I16,
                                 TCODEC_I32,     TCODEC_I64,     TCODEC_U8,  TCODEC_U16,
                                 TCODEC_U32,     TCODEC_U64,     TCODEC_BOOL};

typedef struct rcase {
  char name[96];
  int dtype;
  unsigned ndim;
  uint64_t shape[4];
  uint64_t n;
  uint8_t *data;
  int bg; /* expected byte grouping of the DATA stream */
} rcase;

/* Random element bytes; bool 0/1; the second half repeats a short pattern so that
 * zstd has something to gain (exercises AUTO choosing zstd). */
static void make_raw(rcase *c, tu_rng *g, const char *name, int dtype, unsigned ndim,
                     const uint64_t *shape, int bg_param) {
  memset(c, 0, sizeof(*c));
  snprintf(c->name, sizeof(c->name), "%s", name);
  c->dtype = dtype;
  c->ndim = ndim;
  for (unsigned d = 0; d < ndim; d++) c->shape[d] = shape[d];
  c->n = tu_nelem(ndim, shape);
  size_t es = ref_dtype_size(dtype), bytes = (size_t)c->n * es;
  c->data = xmalloc(bytes);
  tu_rng_bytes(g, c->data, bytes);
  for (size_t k = bytes / 2; k < bytes; k++) c->data[k] = c->data[k % (es * 3)];
  if (dtype == TCODEC_BOOL)
    for (size_t k = 0; k < bytes; k++) c->data[k] &= 1;
  /* The writer groups bytes of raw floats wider than one byte (TCODEC_WP_BYTE_GROUP). */
  c->bg =
      bg_param && es > 1 &&
      (dtype == TCODEC_F64 || dtype == TCODEC_F32 || dtype == TCODEC_F16 || dtype == TCODEC_BF16);
}

static void add_raw_case(tcodec_writer *w, const rcase *c) {
  tcodec_tensor_desc d = tu_desc(c->name, c->dtype, c->ndim, c->shape);
  int rc = tcodec_writer_add_raw(w, &d, c->data, (size_t)c->n * ref_dtype_size(c->dtype));
  cr_assert_eq(rc, 0, "add_raw %s: %s: %s", c->name, tcodec_strerror(rc),
               tcodec_writer_error_message(w));
}

static void check_raw(tcodec_reader *r, const rcase *c) {
  size_t idx = tu_find(r, c->name);
  tcodec_tensor_info t = tu_info(r, idx);
  size_t es = ref_dtype_size(c->dtype), n = (size_t)c->n;
  cr_assert_eq(t.encoding, TCODEC_ENC_RAW, "%s: encoding %d", c->name, t.encoding);
  cr_assert_eq(t.dtype, c->dtype, "%s: dtype", c->name);
  cr_assert_eq(t.ndim, c->ndim, "%s: ndim", c->name);
  cr_assert_eq(t.nelem, c->n, "%s: nelem", c->name);
  for (unsigned d = 0; d < c->ndim; d++)
    cr_assert_eq(t.shape[d], c->shape[d], "%s: shape", c->name);
  uint64_t sz;
  uint8_t *orig = tu_decode(r, idx, TCODEC_OUT_ORIGINAL, &sz);
  cr_assert_eq(sz, n * es, "%s: ORIGINAL size", c->name);
  tu_assert_mem_eq(orig, c->data, n * es, "%s: ORIGINAL vs input", c->name);
  float *f32 = tu_decode(r, idx, TCODEC_OUT_F32, &sz);
  cr_assert_eq(sz, n * 4, "%s: F32 size", c->name);
  if (c->dtype == TCODEC_F32) tu_assert_mem_eq(f32, c->data, n * 4, "%s: F32 of f32", c->name);
  uint64_t ssz = 0;
  int rc = tcodec_reader_decoded_size(r, idx, TCODEC_OUT_SYMBOLS, &ssz);
  cr_assert_eq(rc, TCODEC_E_OUTPUT_FORMAT, "%s: SYMBOLS of raw: %s", c->name, tcodec_strerror(rc));

  check_against_reference(r, idx, c->name, c->bg, f32, orig, NULL, c->dtype != TCODEC_F32);
  ref_streams want;
  cr_assert_eq(ref_encode_raw(c->dtype, c->n, c->data, c->bg, &want), 0);
  check_streams(r, idx, c->name, &want);
  ref_streams_free(&want);
  free(orig);
  free(f32);
}

Test(raw, every_dtype_byte_grouping_and_coder_roundtrips_byte_identical) {
  static const uint64_t shape[2] = {13, 11};
  tu_rng g;
  tu_rng_seed(&g, 0x7A3);
  for (int bg = 0; bg <= 1; bg++)
    for (size_t ci = 0; ci < COUNT(coders); ci++) {
      rcase cases[COUNT(all_dtypes)];
      tu_buf buf = {0};
      tcodec_writer *w = tu_writer_begin(&buf);
      tu_writer_param(w, TCODEC_WP_DETECT, 0);
      tu_writer_param(w, TCODEC_WP_BYTE_GROUP, bg);
      tu_writer_param(w, TCODEC_WP_CODER, coders[ci]);
      for (size_t k = 0; k < COUNT(all_dtypes); k++) {
        char name[64];
        snprintf(name, sizeof(name), "raw/%s", tcodec_dtype_name(all_dtypes[k]));
        make_raw(&cases[k], &g, name, all_dtypes[k], 2, shape, bg);
        add_raw_case(w, &cases[k]);
      }
      tu_writer_finish(w);
      tcodec_reader *r = tu_reader_open(&buf);
      for (size_t k = 0; k < COUNT(all_dtypes); k++) check_raw(r, &cases[k]);
      tcodec_reader_free(r);
      tu_buf_free(&buf);
      for (size_t k = 0; k < COUNT(all_dtypes); k++) free(cases[k].data);
    }
}

/* F32 output of raw tensors against values worked out by hand. */
Test(raw, f32_output_matches_hand_converted_values) {
  static const struct {
    int dtype;
    uint64_t bits; /* element, LE */
    float want;    /* NaN: any NaN */
  } v[] = {
      {TCODEC_F16, 0x3C00, 1.0f},
      {TCODEC_F16, 0xC000, -2.0f},
      {TCODEC_F16, 0x0001, 0x1p-24f},
      {TCODEC_F16, 0x03FF, 0x3FFp-24f},
      {TCODEC_F16, 0x7BFF, 65504.0f},
      {TCODEC_F16, 0xFC00, -INFINITY},
      {TCODEC_F16, 0x7E00, NAN},
      {TCODEC_BF16, 0x3F80, 1.0f},
      {TCODEC_BF16, 0xC2F7, -123.5f},
      {TCODEC_BF16, 0x0001, 0x1p-133f},
      {TCODEC_F8_E4M3, 0x38, 1.0f},
      {TCODEC_F8_E4M3, 0x7E, 448.0f},
      {TCODEC_F8_E4M3, 0x01, 0x1p-9f},
      {TCODEC_F8_E4M3, 0xC4, -3.0f},
      {TCODEC_F8_E4M3, 0xFF, NAN},
      {TCODEC_F8_E4M3, 0x7F, NAN},
      {TCODEC_F8_E4M3, 0x78, 256.0f},
      {TCODEC_F8_E5M2, 0x3C, 1.0f},
      {TCODEC_F8_E5M2, 0x7B, 57344.0f},
      {TCODEC_F8_E5M2, 0x01, 0x1p-16f},
      {TCODEC_F8_E5M2, 0x7C, INFINITY},
      {TCODEC_F8_E5M2, 0xC2, -3.0f},
      {TCODEC_F64, 0x3FB999999999999Aull, 0.1f},            /* 0.1 rounds to the f32 0.1f */
      {TCODEC_F64, 0x47EFFFFFE0000000ull, 0x1.fffffep127f}, /* FLT_MAX exactly */
      {TCODEC_F64, 0x47EFFFFFEFFFFFFFull, 0x1.fffffep127f}, /* just below halfway */
      {TCODEC_F64, 0x47EFFFFFF0000000ull, INFINITY},        /* halfway to 2^128: ties to even */
      {TCODEC_I8, 0x80, -128.0f},
      {TCODEC_I16, 0x8001, -32767.0f},
      {TCODEC_I32, 16777217, 16777216.0f}, /* tie: to even */
      {TCODEC_I32, 16777219, 16777220.0f},
      {TCODEC_I32, 0xFFFFFFFF, -1.0f},
      {TCODEC_I64, 0x8000000000000000ull, -0x1p63f},
      {TCODEC_I64, (1ull << 53) + 1, 0x1p53f},
      {TCODEC_U8, 255, 255.0f},
      {TCODEC_U16, 65535, 65535.0f},
      {TCODEC_U32, 0xFFFFFFFF, 4294967296.0f},
      {TCODEC_U64, 0xFFFFFFFFFFFFFFFFull, 0x1p64f},
      {TCODEC_U64, 0x8000008000000000ull, 0x1p63f}, /* tie below: to even */
      {TCODEC_BOOL, 1, 1.0f},
      {TCODEC_BOOL, 0, 0.0f},
  };
  tu_buf buf = {0};
  tcodec_writer *w = tu_writer_begin(&buf);
  tu_writer_param(w, TCODEC_WP_DETECT, 0);
  for (size_t k = 0; k < COUNT(v); k++) {
    uint8_t e[8];
    tu_put64(e, v[k].bits);
    char name[32];
    snprintf(name, sizeof(name), "v%zu", k);
    tcodec_tensor_desc d = tu_desc(name, v[k].dtype, 0, NULL);
    int rc = tcodec_writer_add_raw(w, &d, e, ref_dtype_size(v[k].dtype));
    cr_assert_eq(rc, 0, "%s: %s", name, tcodec_strerror(rc));
  }
  tu_writer_finish(w);
  tcodec_reader *r = tu_reader_open(&buf);
  for (size_t k = 0; k < COUNT(v); k++) {
    float got;
    int rc = tcodec_reader_decode(r, k, TCODEC_OUT_F32, &got, sizeof(got));
    cr_assert_eq(rc, 0, "v%zu: %s", k, tcodec_strerror(rc));
    if (isnan(v[k].want)) {
      cr_assert(isnan(got), "%s 0x%llx: F32 %g, want NaN", tcodec_dtype_name(v[k].dtype),
                (unsigned long long)v[k].bits, (double)got);
    } else {
      cr_assert_eq(tu_f32_bits(got), tu_f32_bits(v[k].want), "%s 0x%llx: F32 %.9g, want %.9g",
                   tcodec_dtype_name(v[k].dtype), (unsigned long long)v[k].bits, (double)got,
                   (double)v[k].want);
    }
  }
  tcodec_reader_free(r);
  tu_buf_free(&buf);
}

/* ---- shapes -------------------------------------------------------------------- */

typedef struct shape_spec {
  unsigned ndim;
  uint64_t shape[4];
} shape_spec;

/* One container per shape holding raw tensors and every quantized encoding that
 * the shape allows, all checked as above. */
static void shape_roundtrip(const shape_spec *sh, uint64_t seed, int coder) {
  tu_rng g;
  tu_rng_seed(&g, seed);
  rcase raws[3];
  qcase qs[8];
  size_t nq = 0;
  static const int raw_dtypes[3] = {TCODEC_F32, TCODEC_F16, TCODEC_I16};
  for (int k = 0; k < 3; k++) {
    char name[32];
    snprintf(name, sizeof(name), "raw-%s", tcodec_dtype_name(raw_dtypes[k]));
    make_raw(&raws[k], &g, name, raw_dtypes[k], sh->ndim, sh->shape, 1);
  }
  int has_axes = sh->ndim > 0;
  qspec s = base_spec(TCODEC_ENC_TERNARY, TCODEC_F32, sh->ndim, sh->shape);
  make_case(&qs[nq++], &g, &s, "ternary-tensor");
  s.gran = TCODEC_GRAN_GROUP;
  s.group = 3;
  s.sym = 0;
  s.dtype = TCODEC_BF16;
  make_case(&qs[nq++], &g, &s, "ternary-g3");
  s = base_spec(TCODEC_ENC_BINARY, TCODEC_F16, sh->ndim, sh->shape);
  s.gran = has_axes ? TCODEC_GRAN_CHANNEL : TCODEC_GRAN_GROUP;
  s.axis = has_axes ? sh->ndim - 1 : 0;
  s.group = has_axes ? 0 : 2;
  s.sdtype = TCODEC_F16;
  make_case(&qs[nq++], &g, &s, "binary");
  s = base_spec(TCODEC_ENC_KBIT, TCODEC_F64, sh->ndim, sh->shape);
  s.bits = 3;
  s.zp = 1;
  s.sparse = 1;
  make_case(&qs[nq++], &g, &s, "kbit3-sparse");
  s = base_spec(TCODEC_ENC_KBIT, TCODEC_F32, sh->ndim, sh->shape);
  s.bits = 7;
  s.gran = has_axes ? TCODEC_GRAN_CHANNEL : TCODEC_GRAN_GROUP;
  s.group = has_axes ? 0 : 5;
  s.sdtype = TCODEC_BF16;
  make_case(&qs[nq++], &g, &s, "kbit7-dense");
  if (has_axes) {
    s = base_spec(TCODEC_ENC_HYBRID, TCODEC_F32, sh->ndim, sh->shape);
    s.fdtype = TCODEC_F16;
    s.sdtype = TCODEC_F16;
    make_case(&qs[nq++], &g, &s, "hybrid");
    s.sym = 0;
    s.fdtype = TCODEC_F32;
    s.dtype = TCODEC_F16;
    s.kinds = KINDS_ALL_TERNARY;
    make_case(&qs[nq++], &g, &s, "hybrid-all-ternary");
  }

  tu_buf buf = {0};
  tcodec_writer *w = tu_writer_begin(&buf);
  tu_writer_param(w, TCODEC_WP_DETECT, 0);
  tu_writer_param(w, TCODEC_WP_CODER, coder);
  for (int k = 0; k < 3; k++) add_raw_case(w, &raws[k]);
  for (size_t k = 0; k < nq; k++) add_case(w, &qs[k]);
  tu_writer_finish(w);
  tcodec_reader *r = tu_reader_open(&buf);
  cr_assert_eq(tu_reader_count(r), 3 + nq);
  for (int k = 0; k < 3; k++) {
    tcodec_tensor_info t = tu_info(r, tu_find(r, raws[k].name));
    cr_assert_eq(t.ndim, sh->ndim);
    cr_assert_eq(t.nelem, tu_nelem(sh->ndim, sh->shape), "nelem %llu", (unsigned long long)t.nelem);
    check_raw(r, &raws[k]);
  }
  for (size_t k = 0; k < nq; k++) check_case(r, &qs[k]);
  tcodec_reader_free(r);
  tu_buf_free(&buf);
  for (int k = 0; k < 3; k++) free(raws[k].data);
  for (size_t k = 0; k < nq; k++) free_case(&qs[k]);
}

Test(shapes, scalar_has_ndim_0_and_one_element_in_every_encoding) {
  shape_spec sh = {0, {0}};
  shape_roundtrip(&sh, 0x5CA1, TCODEC_CODER_AUTO);
}

Test(shapes, tensor_with_a_zero_dimension_roundtrips_empty) {
  static const shape_spec shapes[] = {{3, {3, 0, 5}}, {2, {0, 4}}, {1, {0}}};
  for (size_t k = 0; k < COUNT(shapes); k++) shape_roundtrip(&shapes[k], 0x2E80 + k, coders[k]);
}

Test(shapes, one_element_and_lengths_not_a_multiple_of_8) {
  static const shape_spec shapes[] = {{1, {1}},  {1, {7}},       {1, {9}},       {1, {63}},
                                      {1, {65}}, {2, {1001, 1}}, {3, {1, 1, 1}}, {2, {13, 77}}};
  for (size_t k = 0; k < COUNT(shapes); k++)
    shape_roundtrip(&shapes[k], 0x1E40 + k, coders[k % COUNT(coders)]);
}

Test(shapes, large_4096_by_33_roundtrips) {
  shape_spec sh = {2, {4096, 33}};
  shape_roundtrip(&sh, 0x4096, TCODEC_CODER_AUTO);
}

/* ---- writer rejects bad descriptions ----------------------------------------------- */

Test(writer_rejects, element_count_overflow_with_E_SHAPE) {
  static const uint64_t big[2] = {1ull << 32, 1ull << 32};
  static const uint64_t big3[3] = {UINT64_MAX, 2, 1};
  static const uint64_t ok_shape[1] = {2};
  static const float ok_vals[2] = {1.0f, 2.5f};
  tu_buf buf = {0};
  tcodec_writer *w = tu_writer_begin(&buf);
  uint8_t byte = 0;
  tcodec_tensor_desc d = tu_desc("big", TCODEC_U8, 2, big);
  int rc = tcodec_writer_add_raw(w, &d, &byte, 1);
  cr_assert_eq(rc, TCODEC_E_SHAPE, "add_raw 2^32 x 2^32: %s", tcodec_strerror(rc));
  d = tu_desc("big3", TCODEC_F32, 3, big3);
  rc = tcodec_writer_add_raw(w, &d, &byte, 1);
  cr_assert_eq(rc, TCODEC_E_SHAPE, "add_raw UINT64_MAX x 2: %s", tcodec_strerror(rc));
  rc = tcodec_writer_add_f32(w, &d, ok_vals, 2, NULL);
  cr_assert_eq(rc, TCODEC_E_SHAPE, "add_f32 UINT64_MAX x 2: %s", tcodec_strerror(rc));
  int8_t sym[2] = {1, -1};
  float scale = 1.0f;
  tcodec_quantized q;
  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_BINARY;
  q.symmetric = 1;
  q.scale_dtype = TCODEC_F32;
  q.scales = &scale;
  q.symbols = sym;
  d = tu_desc("bigq", TCODEC_F32, 2, big);
  rc = tcodec_writer_add_quantized(w, &d, &q);
  cr_assert_eq(rc, TCODEC_E_SHAPE, "add_quantized 2^32 x 2^32: %s", tcodec_strerror(rc));
  /* The writer stays usable and the rejected tensors are not in the file. */
  d = tu_desc("ok", TCODEC_F32, 1, ok_shape);
  rc = tcodec_writer_add_f32(w, &d, ok_vals, 2, NULL);
  cr_assert_eq(rc, 0, "add after rejections: %s", tcodec_strerror(rc));
  tu_writer_finish(w);
  tcodec_reader *r = tu_reader_open(&buf);
  cr_assert_eq(tu_reader_count(r), 1);
  cr_assert_str_eq(tu_info(r, 0).name, "ok");
  tcodec_reader_free(r);
  tu_buf_free(&buf);
}

Test(writer_rejects, ndim_33_with_E_SHAPE) {
  uint64_t shape[33];
  for (int k = 0; k < 33; k++) shape[k] = 1;
  float v = 1.0f;
  tu_buf buf = {0};
  tcodec_writer *w = tu_writer_begin(&buf);
  tcodec_tensor_desc d = tu_desc("deep", TCODEC_F32, 33, shape);
  int rc = tcodec_writer_add_raw(w, &d, &v, sizeof(v));
  cr_assert_eq(rc, TCODEC_E_SHAPE, "add_raw ndim 33: %s", tcodec_strerror(rc));
  rc = tcodec_writer_add_f32(w, &d, &v, 1, NULL);
  cr_assert_eq(rc, TCODEC_E_SHAPE, "add_f32 ndim 33: %s", tcodec_strerror(rc));
  d.ndim = 32; /* the limit itself is fine */
  rc = tcodec_writer_add_raw(w, &d, &v, sizeof(v));
  cr_assert_eq(rc, 0, "add_raw ndim 32: %s", tcodec_strerror(rc));
  tu_writer_finish(w);
  tcodec_reader *r = tu_reader_open(&buf);
  cr_assert_eq(tu_reader_count(r), 1);
  cr_assert_eq(tu_info(r, 0).ndim, 32);
  tcodec_reader_free(r);
  tu_buf_free(&buf);
}

Test(writer_rejects, wrong_src_size_with_E_ARG) {
  static const uint64_t shape[2] = {3, 5};
  uint8_t data[15 * 8 + 8] = {0};
  tu_buf buf = {0};
  tcodec_writer *w = tu_writer_begin(&buf);
  for (size_t k = 0; k < COUNT(all_dtypes); k++) {
    tcodec_tensor_desc d = tu_desc("t", all_dtypes[k], 2, shape);
    size_t need = 15 * ref_dtype_size(all_dtypes[k]);
    int rc = tcodec_writer_add_raw(w, &d, data, need - 1);
    cr_assert_eq(rc, TCODEC_E_ARG, "%s: size - 1: %s", tcodec_dtype_name(all_dtypes[k]),
                 tcodec_strerror(rc));
    rc = tcodec_writer_add_raw(w, &d, data, need + 1);
    cr_assert_eq(rc, TCODEC_E_ARG, "%s: size + 1: %s", tcodec_dtype_name(all_dtypes[k]),
                 tcodec_strerror(rc));
  }
  float f[16] = {0};
  tcodec_tensor_desc d = tu_desc("f", TCODEC_F32, 2, shape);
  int rc = tcodec_writer_add_f32(w, &d, f, 16, NULL);
  cr_assert_eq(rc, TCODEC_E_ARG, "add_f32 16 values for 15: %s", tcodec_strerror(rc));
  rc = tcodec_writer_add_raw(w, &d, data, 60);
  cr_assert_eq(rc, 0, "correct size after rejections: %s", tcodec_strerror(rc));
  tu_writer_finish(w);
  tu_buf_free(&buf);
}

Test(writer_rejects, invalid_quantized_input_and_stays_usable) {
  static const uint64_t shape[2] = {2, 4};
  int8_t sym[8] = {1, 0, -1, 1, 0, 0, 1, -1};
  uint8_t codes[8] = {0, 1, 2, 3, 3, 2, 1, 0};
  float scales[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  tu_buf buf = {0};
  tcodec_writer *w = tu_writer_begin(&buf);
  tcodec_quantized q;
  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_TERNARY;
  q.symmetric = 1;
  q.scale_dtype = TCODEC_F32;
  q.scales = scales;
  q.symbols = sym;
  tcodec_tensor_desc d = tu_desc("q", TCODEC_F32, 2, shape);
  struct {
    const char *what;
    tcodec_quantized q;
    int dtype;
  } bad[10];
  size_t nb = 0;
  bad[nb].what = "ternary symbol 2";
  bad[nb].q = q;
  bad[nb++].dtype = TCODEC_F32;
  bad[nb].what = "binary symbol 0";
  bad[nb].q = q;
  bad[nb].q.encoding = TCODEC_ENC_BINARY;
  bad[nb++].dtype = TCODEC_F32;
  bad[nb].what = "integer original dtype";
  bad[nb].q = q;
  bad[nb++].dtype = TCODEC_I32;
  bad[nb].what = "channel axis 2 of a 2-d tensor";
  bad[nb].q = q;
  bad[nb].q.granularity = TCODEC_GRAN_CHANNEL;
  bad[nb].q.axis = 2;
  bad[nb++].dtype = TCODEC_F32;
  bad[nb].what = "group size 0";
  bad[nb].q = q;
  bad[nb].q.granularity = TCODEC_GRAN_GROUP;
  bad[nb++].dtype = TCODEC_F32;
  bad[nb].what = "scale dtype f64";
  bad[nb].q = q;
  bad[nb].q.scale_dtype = TCODEC_F64;
  bad[nb++].dtype = TCODEC_F32;
  tcodec_quantized k = q;
  k.encoding = TCODEC_ENC_KBIT;
  k.symbols = NULL;
  k.codes = codes;
  k.bits = 1;
  bad[nb].what = "k-bit with 1 bit";
  bad[nb].q = k;
  bad[nb++].dtype = TCODEC_F32;
  k.bits = 9;
  bad[nb].what = "k-bit with 9 bits";
  bad[nb].q = k;
  bad[nb++].dtype = TCODEC_F32;
  k.bits = 2;
  k.symmetric = 0;
  bad[nb].what = "asymmetric k-bit";
  bad[nb].q = k;
  bad[nb++].dtype = TCODEC_F32;
  bad[nb].what = "k-bit code 4 in 2 bits";
  bad[nb].q = k;
  bad[nb].q.symmetric = 1;
  bad[nb].q.bits = 2;
  bad[nb++].dtype = TCODEC_F32;
  for (size_t b = 0; b < nb; b++) {
    sym[1] = b == 0 ? 2 : 0;
    codes[5] = b == 9 ? 4 : 2;
    d.dtype = bad[b].dtype;
    int rc = tcodec_writer_add_quantized(w, &d, &bad[b].q);
    cr_assert_lt(rc, 0, "%s: accepted", bad[b].what);
  }
  sym[1] = 0;
  codes[5] = 2;
  d.dtype = TCODEC_F32;
  int rc = tcodec_writer_add_quantized(w, &d, &q);
  cr_assert_eq(rc, 0, "valid tensor after rejections: %s", tcodec_strerror(rc));
  tu_writer_finish(w);
  tcodec_reader *r = tu_reader_open(&buf);
  cr_assert_eq(tu_reader_count(r), 1);
  tcodec_reader_free(r);
  tu_buf_free(&buf);
}

/* Spec "Scale units": a scalar allows only gran tensor or group; hybrid needs ndim >= 1. */
Test(writer_rejects, channel_granularity_or_hybrid_on_a_scalar) {
  int8_t sym[1] = {1};
  uint8_t kind[1] = {1};
  float scale = 2.0f, full = 1.0f;
  tu_buf buf = {0};
  tcodec_writer *w = tu_writer_begin(&buf);
  tcodec_quantized q;
  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_TERNARY;
  q.granularity = TCODEC_GRAN_CHANNEL;
  q.symmetric = 1;
  q.scale_dtype = TCODEC_F32;
  q.scales = &scale;
  q.symbols = sym;
  tcodec_tensor_desc d = tu_desc("scalar", TCODEC_F32, 0, NULL);
  int rc = tcodec_writer_add_quantized(w, &d, &q);
  cr_assert_lt(rc, 0, "channel granularity on a scalar accepted");
  q.encoding = TCODEC_ENC_HYBRID;
  q.granularity = TCODEC_GRAN_TENSOR;
  q.filter_ternary = kind;
  q.full_dtype = TCODEC_F32;
  q.full_values = &full;
  rc = tcodec_writer_add_quantized(w, &d, &q);
  cr_assert_lt(rc, 0, "hybrid scalar accepted");
  q.encoding = TCODEC_ENC_TERNARY;
  q.granularity = TCODEC_GRAN_GROUP;
  q.group_size = 1;
  rc = tcodec_writer_add_quantized(w, &d, &q);
  cr_assert_eq(rc, 0, "group granularity on a scalar: %s", tcodec_strerror(rc));
  tu_writer_finish(w);
  tcodec_reader *r = tu_reader_open(&buf);
  cr_assert_eq(tu_reader_count(r), 1);
  float f;
  cr_assert_eq(tcodec_reader_decode(r, 0, TCODEC_OUT_F32, &f, sizeof(f)), 0);
  cr_assert_eq(f, 2.0f);
  tcodec_reader_free(r);
  tu_buf_free(&buf);
}

/* ---- lossless detection of ternary / binary float tensors ---------------------------- */

/* Elements are bit patterns (low 16 bits for f16/bf16). Writes one tensor with
 * detection on or off, then checks encoding (if want_enc != 0), bit-exact
 * ORIGINAL, F32 for f32, symbols consistent with the patterns, and the reference. */
static void lossless_case(int dtype, const uint32_t *pat, size_t n, int detect, int want_enc,
                          const char *what) {
  size_t es = ref_dtype_size(dtype);
  uint8_t *src = xmalloc(n * es);
  for (size_t i = 0; i < n; i++) {
    if (es == 4)
      tu_put32(src + 4 * i, pat[i]);
    else
      tu_put16(src + 2 * i, (uint16_t)pat[i]);
  }
  uint64_t shape[2] = {n / 4, 4};
  tu_buf buf = {0};
  tcodec_writer *w = tu_writer_begin(&buf);
  tu_writer_param(w, TCODEC_WP_DETECT, detect);
  tcodec_tensor_desc d = tu_desc(what, dtype, 2, shape);
  int rc = tcodec_writer_add_raw(w, &d, src, n * es);
  cr_assert_eq(rc, 0, "%s: add_raw: %s", what, tcodec_strerror(rc));
  tu_writer_finish(w);
  tcodec_reader *r = tu_reader_open(&buf);
  tcodec_tensor_info t = tu_info(r, 0);
  if (want_enc != 0)
    cr_assert_eq(t.encoding, want_enc, "%s (%s): stored as %s, want %s", what,
                 tcodec_dtype_name(dtype), tcodec_encoding_name(t.encoding),
                 tcodec_encoding_name(want_enc));
  cr_assert_eq(t.dtype, dtype, "%s: dtype", what);
  uint64_t sz;
  uint8_t *orig = tu_decode(r, 0, TCODEC_OUT_ORIGINAL, &sz);
  cr_assert_eq(sz, n * es);
  tu_assert_mem_eq(orig, src, n * es, "%s (%s, %s): ORIGINAL not bit-exact", what,
                   tcodec_dtype_name(dtype), tcodec_encoding_name(t.encoding));
  float *f32 = tu_decode(r, 0, TCODEC_OUT_F32, &sz);
  if (dtype == TCODEC_F32)
    tu_assert_mem_eq(f32, src, n * 4, "%s (%s): F32 not bit-exact", what,
                     tcodec_encoding_name(t.encoding));
  uint8_t *sym = NULL;
  if (t.encoding == TCODEC_ENC_TERNARY || t.encoding == TCODEC_ENC_BINARY) {
    sym = tu_decode(r, 0, TCODEC_OUT_SYMBOLS, &sz);
    for (size_t i = 0; i < n; i++) {
      int8_t si = (int8_t)sym[i];
      cr_assert(si >= -1 && si <= 1, "%s: symbol %d", what, si);
      cr_assert_eq(si == 0, pat[i] == 0, "%s: element %zu (0x%x) has symbol %d", what, i,
                   (unsigned)pat[i], si);
      for (size_t j = 0; j < i; j++)
        cr_assert_eq(pat[i] == pat[j], sym[i] == sym[j],
                     "%s: elements %zu and %zu: patterns 0x%x 0x%x, symbols %d %d", what, j, i,
                     (unsigned)pat[j], (unsigned)pat[i], (int8_t)sym[j], si);
    }
  }
  check_against_reference(r, 0, what, es > 1, f32, orig, sym, dtype != TCODEC_F32);
  free(sym);
  free(f32);
  free(orig);
  tcodec_reader_free(r);
  tu_buf_free(&buf);
  free(src);
}

/* n = 96 elements drawn from `vals` (k of them) in a fixed pseudo-random order
 * that uses each at least once. */
static void lossless_from(int dtype, const uint32_t *vals, size_t k, int detect, int want_enc,
                          const char *what) {
  uint32_t pat[96];
  tu_rng g;
  tu_rng_seed(&g, 0xDE7EC7 + k);
  for (size_t i = 0; i < 96; i++) pat[i] = i < k ? vals[i] : vals[tu_rng_below(&g, k)];
  lossless_case(dtype, pat, 96, detect, want_enc, what);
}

/* Patterns per dtype: f32, f16, bf16. */
typedef struct pats {
  int dtype;
  uint32_t neg_a, b, c, d, x;
} pats;

static const pats detect_dtypes[] = {
    /* -1.5, 2.25, 0.375, -7.0, 0.1 (f32) / 0.0999755859375 (f16) / 0.10009765625 (bf16) */
    {TCODEC_F32, 0xBFC00000u, 0x40100000u, 0x3EC00000u, 0xC0E00000u, 0x3DCCCCCDu},
    {TCODEC_F16, 0xBE00u, 0x4080u, 0x3600u, 0xC700u, 0x2E66u},
    {TCODEC_BF16, 0xBFC0u, 0x4010u, 0x3EC0u, 0xC0E0u, 0x3DCDu},
};

Test(detect, three_values_minus_a_zero_b_stored_ternary_bit_exact) {
  for (size_t k = 0; k < COUNT(detect_dtypes); k++) {
    const pats *p = &detect_dtypes[k];
    uint32_t v[3] = {p->neg_a, 0, p->b};
    lossless_from(p->dtype, v, 3, 1, TCODEC_ENC_TERNARY, "minus-a-zero-b");
    uint32_t s[3] = {p->c, 0, p->c ^ (p->dtype == TCODEC_F32 ? 0x80000000u : 0x8000u)};
    lossless_from(p->dtype, s, 3, 1, TCODEC_ENC_TERNARY, "minus-a-zero-a");
  }
}

Test(detect, two_values_stored_binary_bit_exact) {
  for (size_t k = 0; k < COUNT(detect_dtypes); k++) {
    const pats *p = &detect_dtypes[k];
    uint32_t v[2] = {p->neg_a, p->b};
    lossless_from(p->dtype, v, 2, 1, TCODEC_ENC_BINARY, "minus-a-b");
    uint32_t same_sign[2] = {p->c, p->x};
    lossless_from(p->dtype, same_sign, 2, 1, TCODEC_ENC_BINARY, "two-positive");
    uint32_t both_neg[2] = {p->neg_a, p->d};
    lossless_from(p->dtype, both_neg, 2, 1, TCODEC_ENC_BINARY, "two-negative");
  }
}

Test(detect, zero_and_one_value_stored_ternary_bit_exact) {
  for (size_t k = 0; k < COUNT(detect_dtypes); k++) {
    const pats *p = &detect_dtypes[k];
    uint32_t v[2] = {0, p->x};
    lossless_from(p->dtype, v, 2, 1, TCODEC_ENC_TERNARY, "zero-x");
    uint32_t w2[2] = {0, p->d};
    lossless_from(p->dtype, w2, 2, 1, TCODEC_ENC_TERNARY, "zero-negative");
  }
}

Test(detect, four_distinct_values_stored_raw) {
  for (size_t k = 0; k < COUNT(detect_dtypes); k++) {
    const pats *p = &detect_dtypes[k];
    uint32_t v[4] = {p->neg_a, 0, p->b, p->c};
    lossless_from(p->dtype, v, 4, 1, TCODEC_ENC_RAW, "four-with-zero");
    uint32_t w4[4] = {p->neg_a, p->d, p->b, p->c};
    lossless_from(p->dtype, w4, 4, 1, TCODEC_ENC_RAW, "four-nonzero");
    uint32_t nz3[3] = {p->neg_a, p->b, p->c}; /* three nonzero values, no zero */
    lossless_from(p->dtype, nz3, 3, 1, TCODEC_ENC_RAW, "three-nonzero");
  }
}

Test(detect, negative_zero_mixed_with_positive_zero_stays_bit_exact) {
  for (size_t k = 0; k < COUNT(detect_dtypes); k++) {
    const pats *p = &detect_dtypes[k];
    uint32_t nz = p->dtype == TCODEC_F32 ? 0x80000000u : 0x8000u;
    uint32_t a[2] = {0, nz};
    lossless_from(p->dtype, a, 2, 1, 0, "plus-minus-zero");
    uint32_t b3[3] = {0, nz, p->b};
    lossless_from(p->dtype, b3, 3, 1, 0, "plus-minus-zero-b");
    uint32_t c2[2] = {nz, p->neg_a};
    lossless_from(p->dtype, c2, 2, 1, 0, "minus-zero-minus-a");
    uint32_t d1[1] = {nz};
    lossless_from(p->dtype, d1, 1, 1, 0, "all-minus-zero");
    uint32_t e1[1] = {0};
    lossless_from(p->dtype, e1, 1, 1, 0, "all-plus-zero");
  }
}

Test(detect, nan_payloads_and_infinities_stay_bit_exact) {
  static const uint32_t f32_nans[][3] = {
      {0x7FA00001u, 0, 0xFFC12345u}, /* signalling NaN, +0, negative quiet NaN with payload */
      {0x7F800001u, 0x7FFFFFFFu, 0},
      {0x7F800000u, 0xFF800000u, 0}, /* +inf, -inf */
  };
  static const uint32_t f16_nans[][3] = {
      {0x7C01u, 0, 0xFE03u}, {0x7D55u, 0x7FFFu, 0}, {0x7C00u, 0xFC00u, 0}};
  static const uint32_t bf16_nans[][3] = {
      {0x7F81u, 0, 0xFFC5u}, {0x7FA0u, 0x7FFFu, 0}, {0x7F80u, 0xFF80u, 0}};
  for (int k = 0; k < 3; k++) {
    lossless_from(TCODEC_F32, f32_nans[k], 3, 1, 0, "f32-nan-inf");
    lossless_from(TCODEC_F16, f16_nans[k], 3, 1, 0, "f16-nan-inf");
    lossless_from(TCODEC_BF16, bf16_nans[k], 3, 1, 0, "bf16-nan-inf");
    lossless_from(TCODEC_F32, f32_nans[k], 2, 1, 0, "f32-two-nan-inf");
    lossless_from(TCODEC_F16, f16_nans[k], 2, 1, 0, "f16-two-nan-inf");
    lossless_from(TCODEC_BF16, bf16_nans[k], 2, 1, 0, "bf16-two-nan-inf");
  }
}

Test(detect, detection_off_stores_raw) {
  for (size_t k = 0; k < COUNT(detect_dtypes); k++) {
    const pats *p = &detect_dtypes[k];
    uint32_t v[3] = {p->neg_a, 0, p->b};
    lossless_from(p->dtype, v, 3, 0, TCODEC_ENC_RAW, "ternary-values-detect-off");
    uint32_t b2[2] = {p->neg_a, p->b};
    lossless_from(p->dtype, b2, 2, 0, TCODEC_ENC_RAW, "binary-values-detect-off");
  }
}

Test(detect, f64_ternary_values_roundtrip_bit_exact) {
  /* Detection of f64 is optional (scales are at most f32); either way bit-exact. */
  static const uint64_t shape[1] = {40};
  double v[40];
  for (int i = 0; i < 40; i++) v[i] = i % 3 == 0 ? -0.1 : i % 3 == 1 ? 0.0 : 0.1;
  tu_buf buf = {0};
  tcodec_writer *w = tu_writer_begin(&buf);
  tcodec_tensor_desc d = tu_desc("f64", TCODEC_F64, 1, shape);
  cr_assert_eq(tcodec_writer_add_raw(w, &d, v, sizeof(v)), 0);
  tu_writer_finish(w);
  tcodec_reader *r = tu_reader_open(&buf);
  uint64_t sz;
  uint8_t *orig = tu_decode(r, 0, TCODEC_OUT_ORIGINAL, &sz);
  uint8_t want[sizeof(v)];
  for (int i = 0; i < 40; i++) tu_put64(want + 8 * i, tu_f64_bits(v[i]));
  tu_assert_mem_eq(orig, want, sizeof(v), "f64 ORIGINAL");
  free(orig);
  tcodec_reader_free(r);
  tu_buf_free(&buf);
}

/* ---- determinism ------------------------------------------------------------------- */

static void build_mixed(tu_buf *buf, int coder) {
  static const uint64_t shape[2] = {12, 10};
  tu_rng g;
  tu_rng_seed(&g, 0xD373);
  tcodec_writer *w = tu_writer_begin(buf);
  tu_writer_param(w, TCODEC_WP_CODER, coder);
  cr_assert_eq(tcodec_writer_set_meta(w, "producer", "test_encodings"), 0);
  cr_assert_eq(tcodec_writer_set_meta(w, "source_format", "none"), 0);
  float f[120];
  for (int i = 0; i < 120; i++) f[i] = (float)tu_rng_normal(&g);
  tcodec_tensor_desc d = tu_desc("raw.f32", TCODEC_F32, 2, shape);
  cr_assert_eq(tcodec_writer_add_raw(w, &d, f, sizeof(f)), 0);
  float t3[120];
  for (int i = 0; i < 120; i++) t3[i] = i % 3 == 0 ? -0.5f : i % 3 == 1 ? 0.0f : 0.75f;
  d = tu_desc("detected.ternary", TCODEC_F32, 2, shape);
  cr_assert_eq(tcodec_writer_add_raw(w, &d, t3, sizeof(t3)), 0);
  tcodec_request req;
  tcodec_request_init(&req);
  req.method = TCODEC_Q_TWN;
  d = tu_desc("twn", TCODEC_F16, 2, shape);
  cr_assert_eq(tcodec_writer_add_f32(w, &d, f, 120, &req), 0);
  static const qspec specs[3] = {
      {TCODEC_ENC_KBIT,
       TCODEC_F32,
       2,
       {12, 10, 0, 0},
       TCODEC_GRAN_GROUP,
       0,
       16,
       1,
       TCODEC_F16,
       4,
       1,
       1,
       0,
       0,
       0.5},
      {TCODEC_ENC_HYBRID,
       TCODEC_BF16,
       2,
       {12, 10, 0, 0},
       TCODEC_GRAN_TENSOR,
       0,
       0,
       0,
       TCODEC_F32,
       0,
       0,
       0,
       TCODEC_F16,
       0,
       0.5},
      {TCODEC_ENC_TERNARY,
       TCODEC_F64,
       2,
       {12, 10, 0, 0},
       TCODEC_GRAN_CHANNEL,
       1,
       0,
       0,
       TCODEC_BF16,
       0,
       0,
       0,
       0,
       0,
       0.3},
  };
  for (int k = 0; k < 3; k++) {
    qcase c;
    char name[32];
    snprintf(name, sizeof(name), "q%d", k);
    make_case(&c, &g, &specs[k], name);
    add_case(w, &c);
    free_case(&c);
  }
  tu_writer_finish(w);
}

Test(determinism, writing_the_same_tensors_twice_gives_identical_bytes) {
  for (size_t ci = 0; ci < COUNT(coders); ci++) {
    tu_buf a = {0}, b = {0};
    build_mixed(&a, coders[ci]);
    build_mixed(&b, coders[ci]);
    cr_assert_eq(a.size, b.size, "coder %d: sizes %zu and %zu", coders[ci], a.size, b.size);
    tu_assert_mem_eq(a.data, b.data, a.size, "coder %d: two writes differ", coders[ci]);
    tcodec_reader *r = tu_reader_open(&a);
    size_t bad = SIZE_MAX;
    int rc = tcodec_reader_verify(r, &bad);
    cr_assert_eq(rc, 0, "verify: %s (tensor %zu)", tcodec_strerror(rc), bad);
    tcodec_reader_free(r);
    tu_buf_free(&a);
    tu_buf_free(&b);
  }
}
