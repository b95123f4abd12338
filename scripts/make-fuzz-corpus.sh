#!/usr/bin/env bash
# Regenerate the seed corpora of the fuzz targets in fuzz/corpus/NAME/.
#
#   scripts/make-fuzz-corpus.sh [VECTORS_DIR]      (default: spec/vectors)
#
# Writes only files whose names start with "seed-"; everything else in
# fuzz/corpus/ (crash-*.bin regressions, fuzzer finds) is kept. Sources:
#   container/     spec vectors (valid/*.tc, invalid/*.tc) + files written by the
#                  library's writer (a small generator compiled from this script)
#   directory/     the directory bytes [dir_offset, dir_offset + dir_size) of every
#                  valid file, as is (payload of zeros) and in the 0xFF form that
#                  carries the real payload (see fuzz/fuzz_directory.c)
#   cbor_prescan/  the same directory bytes + a few hand-made CBOR items
#   dec_*/         headers + stream bytes for fuzz/fuzz_dec.h, one per interesting
#                  parameter set
#   roundtrip/     descriptions for fuzz/fuzz_roundtrip.c covering every kind
# Needs: a C compiler (CC, default cc), libzstd, libcbor, libxxhash headers and
# libraries (the generator is built from libtcodec/src directly), od, head, tail.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VEC=${1:-$ROOT/spec/vectors}
CORPUS=$ROOT/fuzz/corpus
CC=${CC:-cc}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

targets="container directory cbor_prescan roundtrip dec_raw dec_ternary dec_binary dec_kbit dec_hybrid"
for t in $targets; do
  mkdir -p "$CORPUS/$t"
  rm -f "$CORPUS/$t"/seed-*
done

# ---- generator: containers via the public writer, dec_* and roundtrip seeds ----------------
cat > "$TMP/gen.c" <<'EOF'
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tcodec/tcodec.h>

static const char *out_dir;
static uint32_t lcg = 12345;
static uint8_t rnd(void) { lcg = lcg * 1103515245u + 12345u; return (uint8_t)(lcg >> 16); }

static void put_file(const char *sub, const char *name, const void *p, size_t n) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s/seed-%s", out_dir, sub, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) { perror(path); exit(1); }
}

typedef struct { uint8_t *p; size_t len, cap; } sink;
static int sink_write(void *u, const void *src, size_t n) {
  sink *s = u;
  if (s->len + n > s->cap) {
    s->cap = (s->len + n) * 2;
    s->p = realloc(s->p, s->cap);
    if (s->p == NULL) return -1;
  }
  memcpy(s->p + s->len, src, n);
  s->len += n;
  return 0;
}

static void ck(int rc, tcodec_writer *w, const char *what) {
  if (rc != 0) {
    fprintf(stderr, "gen: %s: %s\n", what, w ? tcodec_writer_error_message(w) : tcodec_strerror(rc));
    exit(1);
  }
}

static tcodec_writer *begin(sink *s, int coder, int detect, int align) {
  tcodec_writer *w;
  ck(tcodec_writer_create(&w, NULL), NULL, "create");
  ck(tcodec_writer_set_param(w, TCODEC_WP_CODER, coder), w, "coder");
  ck(tcodec_writer_set_param(w, TCODEC_WP_DETECT, detect), w, "detect");
  ck(tcodec_writer_set_param(w, TCODEC_WP_ALIGNMENT, align), w, "align");
  ck(tcodec_writer_set_param(w, TCODEC_WP_ZSTD_LEVEL, 3), w, "level");
  memset(s, 0, sizeof(*s));
  ck(tcodec_writer_begin(w, sink_write, s), w, "begin");
  return w;
}

static void finish(tcodec_writer *w, sink *s, const char *name) {
  ck(tcodec_writer_finish(w), w, "finish");
  tcodec_writer_free(w);
  put_file("container", name, s->p, s->len);
  free(s->p);
}

static void add_raw(tcodec_writer *w, const char *name, int dtype, unsigned ndim,
                    const uint64_t *shape, const void *src) {
  tcodec_tensor_desc d = {name, dtype, ndim, shape, NULL, NULL, 0};
  uint64_t n = 1;
  for (unsigned i = 0; i < ndim; i++) n *= shape[i];
  ck(tcodec_writer_add_raw(w, &d, src, (size_t)n * tcodec_dtype_size(dtype)), w, name);
}

/* Raw tensors of zeros, stored without entropy coding: their streams are zero
 * bytes, so their directories decode in fuzz_directory's zero payload area. */
static void gen_zeros(void) {
  static uint8_t zeros[1024];
  sink s;
  tcodec_writer *w = begin(&s, TCODEC_CODER_NONE, 0, 64);
  uint64_t s44[2] = {4, 4}, s8[1] = {8}, s223[3] = {2, 2, 3};
  add_raw(w, "w.f32", TCODEC_F32, 2, s44, zeros);
  add_raw(w, "b.i8", TCODEC_I8, 1, s8, zeros);
  add_raw(w, "c.u16", TCODEC_U16, 3, s223, zeros);
  add_raw(w, "scalar.f64", TCODEC_F64, 0, NULL, zeros);
  ck(tcodec_writer_set_meta(w, "producer", "make-fuzz-corpus"), w, "meta");
  finish(w, &s, "zeros.tc");
  /* Same with detection: all-zero float tensors become ternary with no nonzeros. */
  w = begin(&s, TCODEC_CODER_NONE, 1, 64);
  add_raw(w, "w.f32", TCODEC_F32, 2, s44, zeros);
  add_raw(w, "h.f16", TCODEC_F16, 1, s8, zeros);
  finish(w, &s, "zeros-detect.tc");
}

/* One tensor of every encoding, metadata and a section. */
static void gen_mixed(const char *name, int coder, int align) {
  sink s;
  tcodec_writer *w = begin(&s, coder, 1, align);
  uint64_t shape[2] = {4, 6}, fshape[2] = {3, 4};
  float f[24];
  int8_t sym[24], bsym[24];
  uint8_t codes[24], mask[24], zp[4] = {1, 2, 3, 4}, kinds[3] = {1, 0, 1};
  float scales[8] = {0.5f, 0.25f, 1.5f, 2.0f, 0.125f, 3.0f, 0.75f, 1.0f};
  for (int i = 0; i < 24; i++) {
    f[i] = (float)((int)(rnd() % 17) - 8) * 0.125f;
    sym[i] = (int8_t)(rnd() % 3) - 1;
    bsym[i] = rnd() & 1 ? 1 : -1;
    codes[i] = rnd() & 15;
    mask[i] = rnd() & 1;
  }
  add_raw(w, "raw.f32", TCODEC_F32, 2, shape, f);
  tcodec_tensor_desc d = {"ter.w", TCODEC_F32, 2, shape, NULL, NULL, 0};
  tcodec_quantized q;
  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_TERNARY;
  q.granularity = TCODEC_GRAN_CHANNEL;
  q.symmetric = 0;
  q.scale_dtype = TCODEC_F32;
  q.scales = scales;
  q.symbols = sym;
  ck(tcodec_writer_add_quantized(w, &d, &q), w, d.name);
  d.name = "bin.w";
  q.encoding = TCODEC_ENC_BINARY;
  q.granularity = TCODEC_GRAN_GROUP;
  q.group_size = 8;
  q.symmetric = 1;
  q.symbols = bsym;
  ck(tcodec_writer_add_quantized(w, &d, &q), w, d.name);
  d.name = "kbit.dense";
  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_KBIT;
  q.granularity = TCODEC_GRAN_CHANNEL;
  q.symmetric = 1;
  q.scale_dtype = TCODEC_F16;
  uint16_t hs[6] = {0x3C00, 0x3800, 0x4000, 0x3400, 0x4200, 0x3A00};
  q.scales = hs;
  q.bits = 4;
  q.codes = codes;
  q.zero_points = zp;
  ck(tcodec_writer_add_quantized(w, &d, &q), w, d.name);
  d.name = "kbit.sparse";
  q.granularity = TCODEC_GRAN_TENSOR;
  q.zero_points = NULL;
  q.mask = mask;
  ck(tcodec_writer_add_quantized(w, &d, &q), w, d.name);
  d.name = "hybrid.w";
  d.shape = fshape;
  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_HYBRID;
  q.symmetric = 0;
  q.scale_dtype = TCODEC_F32;
  q.scales = scales;
  q.symbols = sym;
  q.filter_ternary = kinds;
  q.full_dtype = TCODEC_F32;
  q.full_values = f;
  ck(tcodec_writer_add_quantized(w, &d, &q), w, d.name);
  tcodec_request req;
  tcodec_request_init(&req);
  req.method = TCODEC_Q_TWN;
  tcodec_tensor_desc dt = {"twn.w", TCODEC_BF16, 2, shape, NULL, NULL, 0};
  ck(tcodec_writer_add_f32(w, &dt, f, 24, &req), w, dt.name);
  ck(tcodec_writer_set_meta(w, "source_format", "fuzz"), w, "meta");
  ck(tcodec_writer_set_meta_bytes(w, "blob", "\x01\x02\x03", 3), w, "meta");
  ck(tcodec_writer_add_section(w, "fuzz.opaque", 0, "section bytes", 13), w, "section");
  finish(w, &s, name);
}

static void gen_dec(void) {
  static const char *encs[5] = {"dec_raw", "dec_ternary", "dec_binary", "dec_kbit", "dec_hybrid"};
  /* header bytes: dtype ndim d0 d1 d2 d3 flags axis group(2) sdtype bits fdtype nnz(2) nter(2) mode */
  static const uint8_t hdr[8][18] = {
      {0, 2, 4, 6, 0, 0, 0x04, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 3}, /* tensor gran, sym, f32 */
      {1, 2, 5, 3, 0, 0, 0x01, 0, 0, 0, 1, 8, 1, 0, 0, 0, 0, 3}, /* channel axis 0, asym, f16 */
      {2, 3, 3, 4, 5, 0, 0x06, 0, 7, 0, 2, 2, 0, 0, 0, 0, 0, 3}, /* group 7, bf16, bits 2 */
      {3, 1, 64, 0, 0, 0, 0x1C, 0, 0, 0, 0, 3, 1, 0, 0, 0, 0, 3}, /* zp + sparse, f64 dtype */
      {0, 4, 2, 3, 2, 3, 0x25, 3, 0, 0, 0, 7, 0, 0, 0, 0, 0, 3}, /* 4 dims, channel axis 3, bg */
      {0, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 3}, /* scalar */
      {2, 2, 0, 5, 0, 0, 0x04, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 3}, /* no elements */
      {0, 2, 9, 9, 0, 0, 0x04, 0, 0, 0, 0, 4, 0, 5, 0, 2, 0, 0}, /* raw counts, no fix */
  };
  for (int e = 0; e < 5; e++) {
    for (int k = 0; k < 8; k++) {
      uint8_t buf[24 + 600];
      memset(buf, 0, sizeof(buf));
      memcpy(buf, hdr[k], 18);
      if (e == 0) buf[0] = (uint8_t)(1 + (k * 5) % 15); /* raw: a spread of dtypes */
      for (size_t i = 24; i < sizeof(buf); i++) buf[i] = rnd();
      char name[32];
      snprintf(name, sizeof(name), "%d.bin", k);
      put_file(encs[e], name, buf, sizeof(buf));
    }
  }
}

static void gen_roundtrip(void) {
  for (int k = 0; k < 12; k++) {
    uint8_t buf[700];
    for (size_t i = 0; i < sizeof(buf); i++) buf[i] = rnd();
    buf[0] = (uint8_t)((k % 3) | ((k & 3) << 2) | ((k & 1) << 4) | ((k & 2) << 4) | ((k & 3) << 6));
    buf[1] = (uint8_t)(k % 3 | (k & 1) << 7);
    size_t at = 2 + ((buf[1] & 0x80) ? 1 + buf[2] % 32 : 0);
    buf[at] = (uint8_t)(k % 6);     /* first tensor's kind: each kind twice */
    buf[at + 2] = (uint8_t)(1 + k % 3); /* ndim */
    char name[32];
    snprintf(name, sizeof(name), "%02d.bin", k);
    put_file("roundtrip", name, buf, sizeof(buf));
  }
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  out_dir = argv[1];
  gen_zeros();
  gen_mixed("mixed.tc", TCODEC_CODER_AUTO, 64);
  gen_mixed("mixed-none.tc", TCODEC_CODER_NONE, 128);
  gen_mixed("mixed-zstd.tc", TCODEC_CODER_ZSTD, 64);
  gen_dec();
  gen_roundtrip();
  return 0;
}
EOF
"$CC" -std=c11 -O1 -w -o "$TMP/gen" "$TMP/gen.c" "$ROOT"/libtcodec/src/*/*.c \
  -I"$ROOT/libtcodec/include" -I"$ROOT/libtcodec/src" -DTCODEC_STATIC -lzstd -lcbor -lxxhash -lm
"$TMP/gen" "$CORPUS"

# ---- spec vectors -----------------------------------------------------------------------
nvec=0
for kind in valid invalid; do
  for f in "$VEC/$kind"/*.tc; do
    [ -f "$f" ] || continue
    cp "$f" "$CORPUS/container/seed-$kind-$(basename "$f")"
    nvec=$((nvec + 1))
  done
done
[ "$nvec" -gt 0 ] || echo "make-fuzz-corpus: no vectors in $VEC; writer-made files only" >&2

# ---- directories of the valid and invalid files -----------------------------------------------
# u64 little-endian at byte `off` of a file (od prints host order: x86 and ARM are LE).
u64() { od -An -tu8 -j "$2" -N8 "$1" | tr -d ' '; }
le32() { printf "\\$(printf %03o $(($1 & 255)))\\$(printf %03o $(($1 >> 8 & 255)))\\$(printf %03o $(($1 >> 16 & 255)))\\$(printf %03o $(($1 >> 24 & 255)))"; }

# Invalid files whose trailer still points at a directory contribute theirs too (the
# harness rebuilds the checksums, so e.g. a popcount or padding error reaches the decoder).
for f in "$CORPUS/container"/seed-*.tc; do
  [ -f "$f" ] || continue
  name=$(basename "$f" .tc)
  name=${name#seed-}
  [ -f "$CORPUS/directory/seed-$name.cbor" ] && continue
  size=$(wc -c < "$f")
  [ "$size" -ge 112 ] || continue
  off=$(u64 "$f" $((size - 48)))
  len=$(u64 "$f" $((size - 40)))
  # (values past 15 digits cannot be right for these small files, and overflow shell arithmetic)
  [ ${#off} -le 15 ] && [ ${#len} -le 15 ] || continue
  [ "$off" -ge 64 ] && [ $((off + len + 48)) -eq "$size" ] || continue
  tail -c +$((off + 1)) "$f" | head -c "$len" > "$CORPUS/directory/seed-$name.cbor"
  cp "$CORPUS/directory/seed-$name.cbor" "$CORPUS/cbor_prescan/seed-$name.cbor"
  { printf '\377'; le32 "$len"; tail -c +$((off + 1)) "$f" | head -c "$len";
    tail -c +65 "$f" | head -c $((off - 64)); } > "$CORPUS/directory/seed-$name-payload.bin"
done

# ---- hand-made CBOR ---------------------------------------------------------------------------
p=$CORPUS/cbor_prescan
printf '\240' > "$p/seed-empty-map.cbor"                          # {}
printf '\237\377' > "$p/seed-indefinite-array.cbor"               # [_ ]
printf '\300\001' > "$p/seed-tag.cbor"                            # 0(1)
printf '\233\377\377\377\377\377\377\377\377' > "$p/seed-huge-array.cbor" # array of 2^64-1
printf '\241\141a\366\000' > "$p/seed-trailing.cbor"              # {"a": null} 0
printf '\201%.0s' $(seq 16) > "$p/seed-depth16.cbor"; printf '\240' >> "$p/seed-depth16.cbor"
printf '\201%.0s' $(seq 17) > "$p/seed-depth17.cbor"; printf '\240' >> "$p/seed-depth17.cbor"
printf '\142\244\142' > "$p/seed-text-not-utf8.cbor"             # text string, bad UTF-8
printf '\370\040' > "$p/seed-simple-1byte.cbor"                   # simple(32), 1-byte form
printf '\371\174\000' > "$p/seed-half-inf.cbor"                   # f16 +inf
# {"align": 64, "tensors": [], "requires": ["x"]}: E_UNSUPPORTED_FEATURE
printf '\243\145align\030\100\147tensors\200\150requires\201\141x' > "$p/seed-requires.cbor"
cp "$p/seed-requires.cbor" "$CORPUS/directory/seed-requires.cbor"

du -sh "$CORPUS"
for t in $targets; do printf '%-14s %3s files\n' "$t" "$(ls "$CORPUS/$t" | wc -l)"; done
