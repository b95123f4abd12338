/*
 * fuzz_cbor_prescan: the well-formedness pre-scan of the directory CBOR
 * (tc_cbor_prescan, internal), checked two ways:
 *
 *  - against libcbor: if the pre-scan accepts, cbor_load must succeed (unless a
 *    text string is not UTF-8, which libcbor refuses and the pre-scan leaves to it), consume
 *    exactly `size` bytes, and build a tree with only definite-length items and
 *    at most 16 levels of non-empty containers (what the pre-scan promises
 *    tc_dir_parse); deeper nesting is TCODEC_E_LIMIT, tags are prefixes;
 *  - against a naive recursive reference scanner written here: both must give the
 *    same verdict on every input, so the pre-scan is neither looser nor stricter
 *    than the rules it implements.
 *
 * cbor_load only runs on inputs the pre-scan accepted: on arbitrary bytes it may
 * try to preallocate an array of 2^60 items, which is exactly what the pre-scan
 * exists to prevent.
 */
#include <cbor.h>

#include "decode/tc_reader.h"
#include "fuzz_common.h"

#define REF_MAX_DEPTH 16 /* non-empty containers that may be open at once */

/* Set by ref_item when a text string is not UTF-8 (RFC 3629). CBOR calls that
 * well-formed but invalid: the pre-scan lets it through, libcbor's cbor_load
 * refuses it (CBOR_ERR_SYNTAXERROR) and tc_dir_parse reports E_DIR_SCHEMA. */
static int ref_bad_utf8;

static int utf8_ok(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || len > n - i) return 0;
    uint32_t cp = len == 1 ? c : (uint32_t)(c & (0x7F >> len));
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3Fu);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    i += len;
  }
  return 1;
}

/* One item at p[*pos]; 0 if well-formed by the directory rules, -2 if nested too
 * deep, -1 otherwise. */
static int ref_item(const uint8_t *p, size_t n, size_t *pos, int depth) {
  if (*pos >= n) return -1;
  uint8_t ib = p[(*pos)++];
  unsigned mt = ib >> 5, ai = ib & 31u;
  uint64_t v = ai;
  if (ai >= 24 && ai <= 27) {
    size_t k = (size_t)1 << (ai - 24);
    if (n - *pos < k) return -1;
    v = 0;
    for (size_t i = 0; i < k; i++) v = (v << 8) | p[*pos + i];
    *pos += k;
  } else if (ai > 27) {
    return -1; /* reserved, indefinite length or break */
  }
  switch (mt) {
    case 0:
    case 1: return 0;
    case 2:
    case 3:
      if (v > n - *pos) return -1;
      if (mt == 3 && !utf8_ok(p + *pos, (size_t)v)) ref_bad_utf8 = 1;
      *pos += (size_t)v;
      return 0;
    case 4:
    case 5: {
      if (v == 0) return 0;
      /* Each item takes a byte: a count larger than what is left fails below anyway,
       * but bail out early so the loop stays short. */
      uint64_t items = mt == 5 ? (v > UINT64_MAX / 2 ? UINT64_MAX : 2 * v) : v;
      if (items > n - *pos) return -1;
      if (depth >= REF_MAX_DEPTH) return -2;
      for (uint64_t i = 0; i < items; i++) {
        int rc = ref_item(p, n, pos, depth + 1);
        if (rc != 0) return rc;
      }
      return 0;
    }
    case 6:
      /* A tag prefixes one item. libcbor 0.8's decoder refuses the one-byte tags
       * it calls unassigned (6..20), so the pre-scan does too. */
      if (ai >= 6 && ai <= 20) return -1;
      return ref_item(p, n, pos, depth);
    default:
      /* major 7: false, true, null, undefined and floats; libcbor refuses the
       * unassigned simple values (0..19 and the 1-byte form). */
      return (ai >= 20 && ai <= 23) || (ai >= 25 && ai <= 27) ? 0 : -1;
  }
}

static int ref_scan(const uint8_t *p, size_t n) {
  size_t pos = 0;
  ref_bad_utf8 = 0;
  int rc = ref_item(p, n, &pos, 0);
  if (rc != 0) return rc;
  return pos == n ? 0 : -1;
}

/* Definite items only, no tags, at most REF_MAX_DEPTH non-empty containers open
 * at once (`open` = how many enclose `it`). */
static void check_tree(const cbor_item_t *it, int open) {
  switch (cbor_typeof(it)) {
    case CBOR_TYPE_BYTESTRING: FZ_CHECK(cbor_bytestring_is_definite(it)); break;
    case CBOR_TYPE_STRING: FZ_CHECK(cbor_string_is_definite(it)); break;
    case CBOR_TYPE_ARRAY: {
      FZ_CHECK(cbor_array_is_definite(it));
      size_t n = cbor_array_size(it);
      cbor_item_t **h = cbor_array_handle(it);
      if (n > 0) FZ_CHECK(open < REF_MAX_DEPTH);
      for (size_t i = 0; i < n; i++) check_tree(h[i], open + 1);
      break;
    }
    case CBOR_TYPE_MAP: {
      FZ_CHECK(cbor_map_is_definite(it));
      size_t n = cbor_map_size(it);
      struct cbor_pair *h = cbor_map_handle(it);
      if (n > 0) FZ_CHECK(open < REF_MAX_DEPTH);
      for (size_t i = 0; i < n; i++) {
        check_tree(h[i].key, open + 1);
        check_tree(h[i].value, open + 1);
      }
      break;
    }
    case CBOR_TYPE_TAG: {
      cbor_item_t *inner = cbor_tag_item(it);
      check_tree(inner, open);
      cbor_decref(&inner);
      break;
    }
    case CBOR_TYPE_UINT:
    case CBOR_TYPE_NEGINT:
    case CBOR_TYPE_FLOAT_CTRL: break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t bad = (size_t)-1;
  int rc = tc_cbor_prescan(data, size, &bad);
  int ref = ref_scan(data, size);
  FZ_CHECK(rc == TCODEC_OK || rc == TCODEC_E_DIR_CBOR || rc == TCODEC_E_LIMIT);
  FZ_CHECK((rc == TCODEC_OK) == (ref == 0));
  FZ_CHECK((rc == TCODEC_E_LIMIT) == (ref == -2));
  if (rc != TCODEC_OK) {
    FZ_CHECK(bad <= size);
    return 0;
  }
  struct cbor_load_result res;
  cbor_item_t *top = cbor_load(data, size, &res);
  if (top == NULL && res.error.code == CBOR_ERR_MEMERROR) return 0;
  if (ref_bad_utf8) {
    /* libcbor validates UTF-8, the pre-scan does not: a refusal is fine here. */
    if (top == NULL) {
      FZ_CHECK(res.error.code == CBOR_ERR_SYNTAXERROR);
      return 0;
    }
  }
  FZ_CHECK(top != NULL && res.error.code == CBOR_ERR_NONE);
  FZ_CHECK(res.read == size);
  check_tree(top, 0);
  cbor_decref(&top);
  return 0;
}
