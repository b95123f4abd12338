/* Version, error strings, dtype and encoding tables, allocation, checksums. */
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "tc_internal.h"

const uint8_t tc_magic[8] = {0x89, 'T', 'C', 'M', 0x0D, 0x0A, 0x1A, 0x0A};
const uint8_t tc_end_magic[8] = {0x0A, 0x1A, 0x0A, 0x0D, 'M', 'C', 'T', 0x89};

#define TC_STR2(x) #x
#define TC_STR(x) TC_STR2(x)

unsigned tcodec_version_number(void) { return TCODEC_VERSION_NUMBER; }

const char *tcodec_version_string(void) {
  return TC_STR(TCODEC_VERSION_MAJOR) "." TC_STR(TCODEC_VERSION_MINOR) "." TC_STR(
      TCODEC_VERSION_PATCH);
}

#define TC_ERRCASE(name, num, msg) \
  case (num):                      \
    return msg;

const char *tcodec_strerror(int status) {
  switch (status) { TCODEC_LIST_ERRORS(TC_ERRCASE) default: break; }
  return "unknown error";
}

typedef struct tc_dtype_row {
  const char *name;
  size_t size;
} tc_dtype_row;

static const tc_dtype_row tc_dtypes[TCODEC_DTYPE_COUNT_] = {
    [TCODEC_DTYPE_INVALID] = {"?", 0}, [TCODEC_F64] = {"f64", 8},
    [TCODEC_F32] = {"f32", 4},         [TCODEC_F16] = {"f16", 2},
    [TCODEC_BF16] = {"bf16", 2},       [TCODEC_F8_E4M3] = {"f8e4m3", 1},
    [TCODEC_F8_E5M2] = {"f8e5m2", 1},  [TCODEC_I8] = {"i8", 1},
    [TCODEC_I16] = {"i16", 2},         [TCODEC_I32] = {"i32", 4},
    [TCODEC_I64] = {"i64", 8},         [TCODEC_U8] = {"u8", 1},
    [TCODEC_U16] = {"u16", 2},         [TCODEC_U32] = {"u32", 4},
    [TCODEC_U64] = {"u64", 8},         [TCODEC_BOOL] = {"bool", 1},
};

size_t tcodec_dtype_size(int dtype) {
  return (dtype > 0 && dtype < TCODEC_DTYPE_COUNT_) ? tc_dtypes[dtype].size : 0;
}

const char *tcodec_dtype_name(int dtype) {
  return (dtype > 0 && dtype < TCODEC_DTYPE_COUNT_) ? tc_dtypes[dtype].name : "?";
}

int tcodec_dtype_from_name(const char *name) {
  if (name == NULL) return TCODEC_DTYPE_INVALID;
  for (int d = 1; d < TCODEC_DTYPE_COUNT_; d++)
    if (strcmp(name, tc_dtypes[d].name) == 0) return d;
  return TCODEC_DTYPE_INVALID;
}

const char *tcodec_encoding_name(int encoding) {
  static const char *const names[] = {"?", "raw", "ternary", "binary", "kbit", "hybrid"};
  return (encoding >= 1 && encoding <= 5) ? names[encoding] : "?";
}

const char *tcodec_role_name(int role) {
  static const char *const names[TCODEC_ROLE_COUNT_] = {"data",  "mask",  "signs", "scales",
                                                        "codes", "zeros", "kinds", "full"};
  return (role >= 0 && role < TCODEC_ROLE_COUNT_) ? names[role] : "?";
}

/* ---- allocation ------------------------------------------------------- */

static void *tc_default_alloc(void *opaque, size_t size) {
  (void)opaque;
  return malloc(size);
}

static void tc_default_free(void *opaque, void *ptr) {
  (void)opaque;
  free(ptr);
}

void tc_mem_init(tc_mem *m, const tcodec_allocator *a) {
  m->a.alloc = tc_default_alloc;
  m->a.free = tc_default_free;
  m->a.opaque = NULL;
  if (a != NULL && a->alloc != NULL && a->free != NULL) m->a = *a;
  m->limit = UINT64_MAX;
  m->used = 0;
  m->over_limit = 0;
}

/* Every block carries a header with its size, so the outstanding total can be
 * bounded by the TCODEC_LIMIT_ALLOC_BYTES limit. */
typedef union tc_blockhdr {
  uint64_t size;
  max_align_t align_;
} tc_blockhdr;

void *tc_malloc(tc_mem *m, size_t size) {
  if (size == 0) size = 1;
  m->over_limit = size > m->limit || m->used > m->limit - size;
  if (m->over_limit || size > SIZE_MAX - sizeof(tc_blockhdr)) return NULL;
  tc_blockhdr *h = m->a.alloc(m->a.opaque, size + sizeof(tc_blockhdr));
  if (h == NULL) return NULL;
  h->size = size;
  m->used += size;
  return h + 1;
}

void *tc_calloc(tc_mem *m, size_t n, size_t size) {
  uint64_t total;
  if (tc_mul_u64(n, size, &total) != 0 || total > SIZE_MAX) return NULL;
  void *p = tc_malloc(m, (size_t)total);
  if (p != NULL) memset(p, 0, (size_t)total);
  return p;
}

void tc_free(tc_mem *m, void *p) {
  if (p == NULL) return;
  tc_blockhdr *h = (tc_blockhdr *)p - 1;
  m->used -= h->size;
  m->a.free(m->a.opaque, h);
}

char *tc_strndup(tc_mem *m, const char *s, size_t n) {
  char *d = tc_malloc(m, n + 1);
  if (d == NULL) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

void tc_kvs_free(tc_mem *m, tc_kv *kv, size_t n) {
  for (size_t i = 0; kv != NULL && i < n; i++) {
    tc_free(m, kv[i].key);
    tc_free(m, kv[i].value);
  }
  tc_free(m, kv);
}

int tc_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
  if (a != 0 && b > UINT64_MAX / a) return TCODEC_E_OVERFLOW;
  *out = a * b;
  return 0;
}

int tc_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
  if (b > UINT64_MAX - a) return TCODEC_E_OVERFLOW;
  *out = a + b;
  return 0;
}

uint64_t tc_xxh3(const void *src, size_t src_size) { return XXH3_64bits(src, src_size); }
