/*
 * Helpers shared by the fuzz targets (header-only: every fuzz/fuzz_NAME.c is
 * built on its own, as fuzz_NAME and replay_NAME).
 *
 *  - FZ_CHECK: an invariant that stays on in every build (abort(), not assert()).
 *  - fz_alloc: a counting tcodec_allocator that can fail its k-th allocation,
 *    so targets check that the library frees everything and survives NOMEM.
 *  - fz_exercise_reader: every public query and decode on an opened reader,
 *    with the invariants of the API contract (fuzz_container, fuzz_directory).
 */
#ifndef TCODEC_FUZZ_COMMON_H
#define TCODEC_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tcodec/tcodec.h"

/* Outputs larger than this are not decoded (keeps one input well under a second). */
#define FZ_MAX_OUT ((uint64_t)64 << 20)

/* Conservative reader limits for untrusted input. */
#define FZ_LIMIT_ELEMS ((uint64_t)1 << 22)
#define FZ_LIMIT_ALLOC ((uint64_t)256 << 20)
#define FZ_LIMIT_DIR ((uint64_t)1 << 20)

static inline void fz_fail(const char *what, const char *file, int line) {
  fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", what, file, line);
  fflush(stderr);
  abort();
}

/* Always on, also when NDEBUG is defined. */
#define FZ_CHECK(cond)                                      \
  do {                                                      \
    if (!(cond)) fz_fail(#cond, __FILE__, __LINE__);        \
  } while (0)

/* malloc of exactly `size` bytes, never NULL (for 0, a 0-byte block where the
 * allocator gives one, as glibc and ASan do: any access to it is flagged). */
static inline void *fz_malloc(uint64_t size) {
  void *p = malloc((size_t)size);
  if (p == NULL && size == 0) p = malloc(1);
  if (p == NULL) abort(); /* the harness itself ran out of memory */
  return p;
}

/* Both NaN, or the same bits. */
static inline int fz_same_f32(const uint8_t *a, const uint8_t *b) {
  uint32_t x, y;
  memcpy(&x, a, 4);
  memcpy(&y, b, 4);
  int xnan = (x & 0x7F800000u) == 0x7F800000u && (x & 0x007FFFFFu) != 0;
  int ynan = (y & 0x7F800000u) == 0x7F800000u && (y & 0x007FFFFFu) != 0;
  return x == y || (xnan && ynan);
}

/* FNV-1a: picks the allocation to fail from the input, so a run is reproducible. */
static inline uint64_t fz_hash(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

/* ---- counting / failing allocator --------------------------------------- */

typedef struct fz_alloc {
  uint64_t live_bytes;  /* outstanding bytes */
  uint64_t live_blocks; /* outstanding blocks */
  uint64_t count;       /* allocations attempted */
  uint64_t fail_at;     /* 1-based allocation to refuse; 0: never */
} fz_alloc;

typedef union fz_hdr {
  uint64_t size;
  max_align_t align_;
} fz_hdr;

static inline void *fz_alloc_fn(void *opaque, size_t size) {
  fz_alloc *a = opaque;
  a->count++;
  if (a->fail_at != 0 && a->count == a->fail_at) return NULL;
  if (size > SIZE_MAX - sizeof(fz_hdr)) return NULL;
  fz_hdr *h = malloc(sizeof(fz_hdr) + size);
  if (h == NULL) return NULL;
  h->size = size;
  a->live_bytes += size;
  a->live_blocks++;
  return h + 1;
}

static inline void fz_free_fn(void *opaque, void *ptr) {
  fz_alloc *a = opaque;
  if (ptr == NULL) return;
  fz_hdr *h = (fz_hdr *)ptr - 1;
  FZ_CHECK(a->live_blocks > 0 && a->live_bytes >= h->size);
  a->live_bytes -= h->size;
  a->live_blocks--;
  free(h);
}

static inline tcodec_allocator fz_allocator(fz_alloc *a) {
  tcodec_allocator al = {fz_alloc_fn, fz_free_fn, a};
  return al;
}

/* A reader with the conservative limits. */
static inline tcodec_reader *fz_reader_new(fz_alloc *a) {
  tcodec_allocator al = fz_allocator(a);
  tcodec_reader *r = NULL;
  int rc = tcodec_reader_create(&r, &al);
  if (rc == TCODEC_E_NOMEM) return NULL;
  FZ_CHECK(rc == TCODEC_OK && r != NULL);
  FZ_CHECK(tcodec_reader_set_limit(r, TCODEC_LIMIT_TENSOR_ELEMS, FZ_LIMIT_ELEMS) == 0);
  FZ_CHECK(tcodec_reader_set_limit(r, TCODEC_LIMIT_ALLOC_BYTES, FZ_LIMIT_ALLOC) == 0);
  FZ_CHECK(tcodec_reader_set_limit(r, TCODEC_LIMIT_DIR_BYTES, FZ_LIMIT_DIR) == 0);
  uint64_t v = 0;
  FZ_CHECK(tcodec_reader_get_limit(r, TCODEC_LIMIT_TENSOR_ELEMS, &v) == 0 && v == FZ_LIMIT_ELEMS);
  return r;
}

/* ---- exercising an opened reader ---------------------------------------- */

enum { FZ_NFORMS = 3 }; /* ORIGINAL, F32, SYMBOLS */

/* Errors that depend on resources rather than on the file: no cross-call checks. */
static inline int fz_resource_error(int rc) {
  return rc == TCODEC_E_NOMEM || rc == TCODEC_E_LIMIT;
}

/* What decode of one form did (for cross-form and verify checks). */
typedef struct fz_form {
  int tried; /* decoded (size known and small enough) */
  int rc;
} fz_form;

/* Symbols must be what the encoding allows. */
static void fz_check_symbols(const tcodec_tensor_info *ti, const uint8_t *s, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    int8_t v = (int8_t)s[i];
    switch (ti->encoding) {
      case TCODEC_ENC_TERNARY:
      case TCODEC_ENC_HYBRID: FZ_CHECK(v >= -1 && v <= 1); break;
      case TCODEC_ENC_BINARY: FZ_CHECK(v == -1 || v == 1); break;
      case TCODEC_ENC_KBIT: FZ_CHECK(ti->bits >= 2 && ti->bits <= 8 && (s[i] >> ti->bits) == 0); break;
      default: break;
    }
  }
}

/* What the single-stream reads of one tensor gave (spec T2 per stream). */
typedef struct fz_t2 {
  int known;           /* every present stream was read (no resource error, none too big) */
  int first_bad;       /* first role, ascending, whose read failed; -1 if none */
  int rc;              /* its status */
  uint64_t err_off;    /* the reader's error offset for it */
  int present[TCODEC_ROLE_COUNT_];
  uint64_t off[TCODEC_ROLE_COUNT_];
} fz_t2;

/* Stream errors of a whole-tensor decode (T2, T3) are reported at a stream's `off`:
 * T2 at the first failing stream in ascending role order, exactly as the
 * single-stream read of that stream reports it; T3 (E_PAYLOAD) only if every
 * stream passed T2. */
static void fz_check_decode_error(const tcodec_reader *r, int rc, const fz_t2 *t2) {
  if (!t2->known) return;
  uint64_t off = tcodec_reader_error_offset(r);
  if (t2->first_bad >= 0) {
    FZ_CHECK(rc == t2->rc && off == t2->err_off && off == t2->off[t2->first_bad]);
    return;
  }
  FZ_CHECK(rc == TCODEC_OK || rc == TCODEC_E_PAYLOAD);
  if (rc == TCODEC_E_PAYLOAD) {
    int found = 0;
    for (int role = 0; role < TCODEC_ROLE_COUNT_; role++)
      found |= t2->present[role] && t2->off[role] == off;
    FZ_CHECK(found);
  }
}

/* Decode one output form: exact-size buffer, one byte short, twice for determinism. */
static fz_form fz_decode_form(tcodec_reader *r, fz_alloc *a, size_t idx,
                              const tcodec_tensor_info *ti, int form, const fz_t2 *t2) {
  fz_form f = {0, 0};
  uint64_t need = 0;
  int rc = tcodec_reader_decoded_size(r, idx, form, &need);
  if (rc != TCODEC_OK) {
    /* A form that does not exist must also be refused by decode. */
    if (rc == TCODEC_E_OUTPUT_FORMAT) {
      uint8_t tmp[8];
      FZ_CHECK(tcodec_reader_decode(r, idx, form, tmp, sizeof(tmp)) == TCODEC_E_OUTPUT_FORMAT);
    }
    return f;
  }
  /* Sizes follow from nelem and the form (spec: "Output forms"). */
  uint64_t per = form == TCODEC_OUT_ORIGINAL ? tcodec_dtype_size(ti->dtype)
                 : form == TCODEC_OUT_F32    ? 4
                                             : 1;
  FZ_CHECK(per != 0 && ti->nelem <= UINT64_MAX / per && need == ti->nelem * per);
  if (need > FZ_MAX_OUT) return f;
  uint64_t live = a->live_bytes;
  uint8_t *b1 = fz_malloc(need), *b2 = fz_malloc(need);
  memset(b1, 0xA5, (size_t)need);
  memset(b2, 0x5A, (size_t)need);
  if (need > 0) {
    uint8_t *shortb = fz_malloc(need - 1);
    FZ_CHECK(tcodec_reader_decode(r, idx, form, shortb, (size_t)need - 1) == TCODEC_E_DST_SIZE);
    free(shortb);
  }
  int rc1 = tcodec_reader_decode(r, idx, form, b1, (size_t)need);
  FZ_CHECK(a->live_bytes == live); /* nothing kept between calls */
  if (!fz_resource_error(rc1)) fz_check_decode_error(r, rc1, t2);
  int rc2 = tcodec_reader_decode(r, idx, form, b2, (size_t)need);
  FZ_CHECK(a->live_bytes == live);
  if (!fz_resource_error(rc1) && !fz_resource_error(rc2)) FZ_CHECK(rc1 == rc2);
  if (rc1 != TCODEC_OK) FZ_CHECK(tcodec_reader_error_message(r) != NULL);
  if (rc1 == TCODEC_OK && rc2 == TCODEC_OK) {
    /* Different prefill: any byte the decoder forgot to write shows up here. */
    FZ_CHECK(need == 0 || memcmp(b1, b2, (size_t)need) == 0);
    if (form == TCODEC_OUT_SYMBOLS) fz_check_symbols(ti, b1, need);
  }
  free(b1);
  free(b2);
  f.tried = !fz_resource_error(rc1);
  f.rc = rc1;
  return f;
}

/* Each present stream after the entropy stage, twice, and one byte short. Where it
 * lies must be inside the payload area (spec step S1). */
static void fz_decode_streams(tcodec_reader *r, fz_alloc *a, size_t idx,
                              const tcodec_tensor_info *ti, uint64_t file_size, fz_t2 *t2) {
  uint64_t stored_total = 0;
  memset(t2, 0, sizeof(*t2));
  t2->known = 1;
  t2->first_bad = -1;
  for (int role = 0; role < TCODEC_ROLE_COUNT_; role++) {
    uint64_t len = 0, off = 0, stored = 0, decoded = 0;
    int coder = -1;
    int rc = tcodec_reader_stream_size(r, idx, role, &len);
    int rci = tcodec_reader_stream_info(r, idx, role, &off, &stored, &decoded, &coder);
    FZ_CHECK(rc == rci);
    if (rc == TCODEC_E_NOT_FOUND) continue;
    FZ_CHECK(rc == TCODEC_OK);
    FZ_CHECK(decoded == len && coder >= 0 && coder <= 127);
    FZ_CHECK(off >= 64 && stored <= file_size && off <= file_size - stored);
    if (coder == TCODEC_CODER_NONE) FZ_CHECK(stored == len);
    stored_total += stored;
    t2->present[role] = 1;
    t2->off[role] = off;
    if (len > FZ_MAX_OUT) {
      t2->known = 0;
      continue;
    }
    if (ti->encoding < TCODEC_ENC_RAW || ti->encoding > TCODEC_ENC_HYBRID) {
      /* spec T1: the single-stream form refuses an unknown encoding, at dir_offset */
      uint8_t one = 0;
      FZ_CHECK(tcodec_reader_decode_stream(r, idx, role, &one, 0) ==
               TCODEC_E_UNSUPPORTED_ENCODING);
      t2->known = 0;
      continue;
    }
    uint64_t live = a->live_bytes;
    uint8_t *b1 = fz_malloc(len), *b2 = fz_malloc(len);
    memset(b1, 0xA5, (size_t)len);
    memset(b2, 0x5A, (size_t)len);
    if (len > 0) {
      uint8_t *shortb = fz_malloc(len - 1);
      FZ_CHECK(tcodec_reader_decode_stream(r, idx, role, shortb, (size_t)len - 1) ==
               TCODEC_E_DST_SIZE);
      free(shortb);
    }
    int rc1 = tcodec_reader_decode_stream(r, idx, role, b1, (size_t)len);
    if (fz_resource_error(rc1)) t2->known = 0;
    if (rc1 != TCODEC_OK && !fz_resource_error(rc1))
      FZ_CHECK(tcodec_reader_error_offset(r) == off); /* T2 at `off` */
    if (rc1 != TCODEC_OK && t2->first_bad < 0) {
      t2->first_bad = role;
      t2->rc = rc1;
      t2->err_off = tcodec_reader_error_offset(r);
    }
    int rc2 = tcodec_reader_decode_stream(r, idx, role, b2, (size_t)len);
    FZ_CHECK(a->live_bytes == live);
    if (!fz_resource_error(rc1) && !fz_resource_error(rc2)) FZ_CHECK(rc1 == rc2);
    if (rc1 == TCODEC_OK && rc2 == TCODEC_OK)
      FZ_CHECK(len == 0 || memcmp(b1, b2, (size_t)len) == 0);
    free(b1);
    free(b2);
  }
  uint64_t dummy;
  FZ_CHECK(tcodec_reader_stream_size(r, idx, TCODEC_ROLE_COUNT_, &dummy) == TCODEC_E_ARG);
  FZ_CHECK(ti->stored_bytes == stored_total);
}

static void fz_check_info(const tcodec_reader *r, size_t idx, const tcodec_tensor_info *ti) {
  FZ_CHECK(ti->name != NULL && ti->name[0] != '\0');
  size_t found = (size_t)-1;
  FZ_CHECK(tcodec_reader_find(r, ti->name, &found) == TCODEC_OK && found == idx);
  /* Tensors of unknown encodings keep whatever dtype they claim (spec step 19f). */
  if (ti->encoding >= TCODEC_ENC_RAW && ti->encoding <= TCODEC_ENC_HYBRID)
    FZ_CHECK(tcodec_dtype_size(ti->dtype) != 0);
  FZ_CHECK(ti->ndim <= 32 && (ti->ndim == 0 || ti->shape != NULL));
  uint64_t n = 1;
  int zero = 0;
  for (unsigned d = 0; d < ti->ndim; d++) {
    zero |= ti->shape[d] == 0;
    n *= ti->shape[d]; /* wraps only if some dim is 0 (checked by the reader) */
  }
  FZ_CHECK(ti->nelem == (zero ? 0 : n));
  FZ_CHECK(ti->nelem <= FZ_LIMIT_ELEMS);
  if (ti->encoding == TCODEC_ENC_KBIT) FZ_CHECK(ti->bits >= 2 && ti->bits <= 8);
  if (ti->has_mask) FZ_CHECK(ti->nnz <= ti->nelem);
  for (size_t e = 0; e < ti->meta_count; e++) {
    const char *k = NULL, *v = NULL;
    FZ_CHECK(tcodec_reader_tensor_meta(r, idx, e, &k, &v) == TCODEC_OK && k != NULL && v != NULL);
  }
  FZ_CHECK(tcodec_reader_tensor_meta(r, idx, ti->meta_count, NULL, NULL) == TCODEC_E_NOT_FOUND);
}

static void fz_check_meta(const tcodec_reader *r) {
  size_t n = 0;
  FZ_CHECK(tcodec_reader_meta_count(r, &n) == TCODEC_OK);
  for (size_t i = 0; i < n; i++) {
    const char *key = NULL;
    const void *value = NULL;
    size_t vsize = 0;
    int is_text = -1;
    FZ_CHECK(tcodec_reader_meta_get(r, i, &key, &value, &vsize, &is_text) == TCODEC_OK);
    FZ_CHECK(key != NULL && value != NULL && (is_text == 0 || is_text == 1));
    FZ_CHECK(((const uint8_t *)value)[vsize] == 0); /* always NUL-terminated */
    const char *found = NULL;
    int rc = tcodec_reader_meta_find(r, key, &found);
    if (is_text) FZ_CHECK(rc == TCODEC_OK && found == value); /* keys are unique */
    else FZ_CHECK(rc == TCODEC_E_NOT_FOUND);
  }
  FZ_CHECK(tcodec_reader_meta_get(r, n, NULL, NULL, NULL, NULL) == TCODEC_E_NOT_FOUND);
}

/* Sections; returns 1 if every section read succeeded (or was not tried). */
static int fz_check_sections(tcodec_reader *r, fz_alloc *a, int *all_tried) {
  size_t n = 0;
  int ok = 1;
  *all_tried = 1;
  FZ_CHECK(tcodec_reader_section_count(r, &n) == TCODEC_OK);
  for (size_t i = 0; i < n; i++) {
    const char *type = NULL;
    int critical = -1;
    uint64_t size = 0;
    FZ_CHECK(tcodec_reader_section_info(r, i, &type, &critical, &size) == TCODEC_OK);
    FZ_CHECK(type != NULL && critical == 0); /* v1.0 refuses critical sections at open */
    if (size > FZ_MAX_OUT) {
      *all_tried = 0;
      continue;
    }
    uint64_t live = a->live_bytes;
    uint8_t *b1 = fz_malloc(size), *b2 = fz_malloc(size);
    if (size > 0) {
      uint8_t *shortb = fz_malloc(size - 1);
      FZ_CHECK(tcodec_reader_section_read(r, i, shortb, (size_t)size - 1) == TCODEC_E_DST_SIZE);
      free(shortb);
    }
    int rc1 = tcodec_reader_section_read(r, i, b1, (size_t)size);
    int rc2 = tcodec_reader_section_read(r, i, b2, (size_t)size);
    FZ_CHECK(a->live_bytes == live);
    if (!fz_resource_error(rc1) && !fz_resource_error(rc2)) FZ_CHECK(rc1 == rc2);
    if (rc1 == TCODEC_OK && rc2 == TCODEC_OK) FZ_CHECK(size == 0 || memcmp(b1, b2, (size_t)size) == 0);
    if (rc1 != TCODEC_OK) ok = 0;
    if (fz_resource_error(rc1)) *all_tried = 0;
    free(b1);
    free(b2);
  }
  FZ_CHECK(tcodec_reader_section_read(r, n, NULL, 0) == TCODEC_E_NOT_FOUND);
  return ok;
}

/* Everything the public API offers on an opened reader, with its invariants. */
static inline void fz_exercise_reader(tcodec_reader *r, fz_alloc *a, uint64_t file_size) {
  unsigned major = 0, minor = 0;
  FZ_CHECK(tcodec_reader_format_version(r, &major, &minor) == TCODEC_OK);
  FZ_CHECK(major == TCODEC_FORMAT_MAJOR);
  FZ_CHECK(tcodec_reader_open_memory(r, "", 0) == TCODEC_E_BADSTATE);
  fz_check_meta(r);
  int sections_tried = 0;
  int sections_ok = fz_check_sections(r, a, &sections_tried);

  size_t n = 0;
  FZ_CHECK(tcodec_reader_tensor_count(r, &n) == TCODEC_OK);
  /* What verify must report: the first tensor whose f32 decode (or its size) fails. */
  int predictable = 1, expect_rc = TCODEC_OK;
  size_t expect_bad = 0;
  for (size_t i = 0; i < n; i++) {
    tcodec_tensor_info ti;
    FZ_CHECK(tcodec_reader_tensor_info(r, i, &ti) == TCODEC_OK);
    fz_check_info(r, i, &ti);
    fz_t2 t2;
    fz_decode_streams(r, a, i, &ti, file_size, &t2);
    fz_form f[FZ_NFORMS];
    for (int form = 0; form < FZ_NFORMS; form++) f[form] = fz_decode_form(r, a, i, &ti, form, &t2);
    /* Payload validity does not depend on the output form. */
    for (int form = 1; form < FZ_NFORMS; form++)
      if (f[0].tried && f[form].tried) FZ_CHECK(f[0].rc == f[form].rc);
    uint64_t need = 0;
    int st = tcodec_reader_decoded_size(r, i, TCODEC_OUT_F32, &need);
    if (st == TCODEC_OK) {
      if (f[TCODEC_OUT_F32].tried) st = f[TCODEC_OUT_F32].rc;
      else predictable = 0;
    }
    if (st != TCODEC_OK && expect_rc == TCODEC_OK) {
      expect_rc = st;
      expect_bad = i;
    }
    /* A bad tensor leaves the reader usable. */
    size_t again = 0;
    FZ_CHECK(tcodec_reader_tensor_count(r, &again) == TCODEC_OK && again == n);
  }
  tcodec_tensor_info dummy;
  FZ_CHECK(tcodec_reader_tensor_info(r, n, &dummy) == TCODEC_E_NOT_FOUND);
  FZ_CHECK(tcodec_reader_decode(r, n, TCODEC_OUT_F32, NULL, 0) == TCODEC_E_NOT_FOUND);

  /* verify = every section fetched, then every tensor decoded to f32, in order. */
  size_t bad = (size_t)-2;
  int vrc = tcodec_reader_verify(r, &bad);
  if (fz_resource_error(vrc) || !predictable || !sections_tried) return;
  if (!sections_ok) {
    FZ_CHECK(vrc != TCODEC_OK && bad == SIZE_MAX);
  } else if (expect_rc == TCODEC_OK) {
    FZ_CHECK(vrc == TCODEC_OK);
  } else {
    FZ_CHECK(vrc == expect_rc && bad == expect_bad);
  }
}

/* Open `src` with a fresh reader and run everything; returns the open status and,
 * if err_off is not NULL, the error offset of a failed open. The allocator must
 * hold nothing afterwards. */
static inline int fz_open_and_exercise(const uint8_t *src, size_t size, uint64_t *err_off) {
  fz_alloc a = {0, 0, 0, 0};
  tcodec_reader *r = fz_reader_new(&a);
  FZ_CHECK(r != NULL);
  int rc = tcodec_reader_open_memory(r, size ? src : NULL, size);
  if (rc == TCODEC_OK) {
    fz_exercise_reader(r, &a, size);
  } else {
    /* A failed open refuses further calls and keeps a message. */
    size_t n;
    FZ_CHECK(rc < 0 && tcodec_reader_error_message(r) != NULL);
    if (err_off != NULL) *err_off = tcodec_reader_error_offset(r);
    FZ_CHECK(tcodec_reader_tensor_count(r, &n) == TCODEC_E_BADSTATE);
    FZ_CHECK(tcodec_reader_open_memory(r, src, size) == TCODEC_E_BADSTATE);
  }
  tcodec_reader_free(r);
  FZ_CHECK(a.live_blocks == 0 && a.live_bytes == 0);

  /* Same calls again, refusing one allocation chosen by the input: the library must
   * neither crash nor leak on its NOMEM paths. No other checks here. */
  if (a.count > 1) {
    fz_alloc b = {0, 0, 0, 1 + fz_hash(src, size) % a.count};
    tcodec_reader *r2 = fz_reader_new(&b);
    if (r2 != NULL) {
      if (tcodec_reader_open_memory(r2, size ? src : NULL, size) == TCODEC_OK) {
        size_t n = 0;
        (void)tcodec_reader_tensor_count(r2, &n);
        for (size_t i = 0; i < n; i++) {
          uint64_t need = 0;
          if (tcodec_reader_decoded_size(r2, i, TCODEC_OUT_F32, &need) != 0 || need > FZ_MAX_OUT)
            continue;
          uint8_t *buf = fz_malloc(need);
          (void)tcodec_reader_decode(r2, i, TCODEC_OUT_F32, buf, (size_t)need);
          free(buf);
        }
        (void)tcodec_reader_verify(r2, NULL);
      }
      tcodec_reader_free(r2);
    }
    FZ_CHECK(b.live_blocks == 0 && b.live_bytes == 0);
  }
  return rc;
}

#endif /* TCODEC_FUZZ_COMMON_H */
