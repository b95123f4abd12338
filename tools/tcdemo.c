/* tcdemo: write a small model-like container and read it back with the public API.
 *
 * usage: tcdemo [-f] OUT.tc
 * The tensors imitate a small CNN: float conv weights ternarized with TWN per
 * output channel, an already-ternary tensor (stored losslessly by detection), a
 * GGUF-TQ2_0-like tensor (groups of 256, f16 scales), 4-bit sparse codes,
 * a hybrid filter bank and raw biases. It prints what was stored, checks every
 * tensor against what was written, and exits non-zero on any difference. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tcodec/tcodec.h>

static uint64_t g_rng = 42;
static double urand(void) { /* xorshift64*, uniform in [0, 1) */
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return (double)((g_rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}
static float gauss(void) {
  double u = urand() + 1e-12, v = urand();
  return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static int file_sink(void *user, const void *src, size_t n) {
  return fwrite(src, 1, n, (FILE *)user) == n ? 0 : 1;
}

#define CHECK(call, w)                                                                   \
  do {                                                                                   \
    int rc_ = (call);                                                                    \
    if (rc_ != 0) {                                                                      \
      fprintf(stderr, "tcdemo: %s: %s\n", #call, tcodec_writer_error_message(w));        \
      return rc_;                                                                        \
    }                                                                                    \
  } while (0)

typedef struct demo_data {
  float conv[64 * 32 * 3 * 3];
  float tern[128 * 64];
  int8_t tq2_sym[4096];
  uint16_t tq2_scale[16];
  uint8_t codes[256 * 64], mask[256 * 64];
  float k_scale[256];
  int8_t hyb_sym[32 * 16 * 9];
  uint8_t hyb_kind[32];
  float hyb_full[32 * 16 * 9];
  float hyb_scale[32];
  float bias[64];
} demo_data;

static void make_data(demo_data *d) {
  for (size_t i = 0; i < sizeof(d->conv) / 4; i++) d->conv[i] = 0.05f * gauss();
  for (size_t i = 0; i < sizeof(d->tern) / 4; i++) {
    double u = urand();
    d->tern[i] = u < 0.8 ? 0.0f : u < 0.9 ? 0.125f : -0.09375f; /* EC2T-like asymmetric */
  }
  for (size_t i = 0; i < sizeof(d->tq2_sym); i++) d->tq2_sym[i] = (int8_t)((int)(urand() * 3) - 1);
  for (size_t i = 0; i < 16; i++) d->tq2_scale[i] = (uint16_t)(0x2C00 + i); /* f16 ~0.06 */
  for (size_t i = 0; i < sizeof(d->codes); i++) {
    d->mask[i] = urand() < 0.4;
    d->codes[i] = (uint8_t)(urand() * 16);
  }
  for (size_t i = 0; i < 256; i++) d->k_scale[i] = 0.01f * (float)(1 + i % 7);
  for (size_t f = 0; f < 32; f++) {
    d->hyb_kind[f] = f % 3 != 0;
    d->hyb_scale[f] = 0.02f * (float)(f + 1);
  }
  for (size_t i = 0; i < sizeof(d->hyb_sym); i++) {
    d->hyb_sym[i] = (int8_t)((int)(urand() * 3) - 1);
    d->hyb_full[i] = 0.1f * gauss();
  }
  for (size_t i = 0; i < 64; i++) d->bias[i] = 0.01f * gauss();
}

static int write_demo(tcodec_writer *w, demo_data *d) {
  uint64_t s_conv[4] = {64, 32, 3, 3}, s_tern[2] = {128, 64}, s_tq2[2] = {16, 256},
           s_k[2] = {256, 64}, s_h[4] = {32, 16, 3, 3}, s_b[1] = {64};
  CHECK(tcodec_writer_set_meta(w, "producer", "tcdemo"), w);
  CHECK(tcodec_writer_set_meta(w, "source_format", "synthetic"), w);
  tcodec_request req;
  tcodec_request_init(&req);
  req.method = TCODEC_Q_TWN;
  req.threshold = 0.7;
  const char *mk[1] = {"quantizer"}, *mv[1] = {"twn t=0.7 per-channel"};
  tcodec_tensor_desc t = {"conv1.weight", TCODEC_F32, 4, s_conv, mk, mv, 1};
  CHECK(tcodec_writer_add_f32(w, &t, d->conv, sizeof(d->conv) / 4, &req), w);
  tcodec_tensor_desc t2 = {"fc.weight", TCODEC_F32, 2, s_tern, NULL, NULL, 0};
  CHECK(tcodec_writer_add_raw(w, &t2, d->tern, sizeof(d->tern)), w);
  tcodec_quantized q;
  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_TERNARY;
  q.granularity = TCODEC_GRAN_GROUP;
  q.group_size = 256;
  q.symmetric = 1;
  q.scale_dtype = TCODEC_F16;
  q.scales = d->tq2_scale;
  q.symbols = d->tq2_sym;
  tcodec_tensor_desc t3 = {"blk.0.ffn_up.weight", TCODEC_F16, 2, s_tq2, NULL, NULL, 0};
  CHECK(tcodec_writer_add_quantized(w, &t3, &q), w);
  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_KBIT;
  q.granularity = TCODEC_GRAN_CHANNEL;
  q.symmetric = 1;
  q.scale_dtype = TCODEC_F32;
  q.scales = d->k_scale;
  q.bits = 4;
  q.codes = d->codes;
  q.mask = d->mask;
  tcodec_tensor_desc t4 = {"layer2.weight", TCODEC_F32, 2, s_k, NULL, NULL, 0};
  CHECK(tcodec_writer_add_quantized(w, &t4, &q), w);
  memset(&q, 0, sizeof(q));
  q.encoding = TCODEC_ENC_HYBRID;
  q.symmetric = 1;
  q.scale_dtype = TCODEC_F32;
  q.scales = d->hyb_scale;
  q.symbols = d->hyb_sym;
  q.filter_ternary = d->hyb_kind;
  q.full_dtype = TCODEC_F32;
  q.full_values = d->hyb_full;
  tcodec_tensor_desc t5 = {"dw3.weight", TCODEC_F32, 4, s_h, NULL, NULL, 0};
  CHECK(tcodec_writer_add_quantized(w, &t5, &q), w);
  tcodec_tensor_desc t6 = {"conv1.bias", TCODEC_F32, 1, s_b, NULL, NULL, 0};
  CHECK(tcodec_writer_add_raw(w, &t6, d->bias, sizeof(d->bias)), w);
  return tcodec_writer_finish(w);
}

/* Compare what came back with what went in: lossless tensors bit for bit. */
static int check_back(tcodec_reader *r, const demo_data *d) {
  int bad = 0;
  size_t idx;
  float *buf = malloc(sizeof(d->conv) > sizeof(d->tern) ? sizeof(d->conv) : sizeof(d->tern));
  if (buf == NULL) return 1;
  if (tcodec_reader_find(r, "fc.weight", &idx) != 0 ||
      tcodec_reader_decode(r, idx, TCODEC_OUT_ORIGINAL, buf, sizeof(d->tern)) != 0 ||
      memcmp(buf, d->tern, sizeof(d->tern)) != 0)
    bad |= 1, fprintf(stderr, "tcdemo: fc.weight did not come back bit-exact\n");
  if (tcodec_reader_find(r, "conv1.bias", &idx) != 0 ||
      tcodec_reader_decode(r, idx, TCODEC_OUT_ORIGINAL, buf, sizeof(d->bias)) != 0 ||
      memcmp(buf, d->bias, sizeof(d->bias)) != 0)
    bad |= 1, fprintf(stderr, "tcdemo: conv1.bias did not come back bit-exact\n");
  int8_t sym[4096];
  if (tcodec_reader_find(r, "blk.0.ffn_up.weight", &idx) != 0 ||
      tcodec_reader_decode(r, idx, TCODEC_OUT_SYMBOLS, sym, sizeof(sym)) != 0 ||
      memcmp(sym, d->tq2_sym, sizeof(sym)) != 0)
    bad |= 1, fprintf(stderr, "tcdemo: TQ2-like symbols differ\n");
  /* TWN: report the error it made, as a quantizer should. */
  if (tcodec_reader_find(r, "conv1.weight", &idx) == 0 &&
      tcodec_reader_decode(r, idx, TCODEC_OUT_F32, buf, sizeof(d->conv)) == 0) {
    double num = 0, den = 0;
    for (size_t i = 0; i < sizeof(d->conv) / 4; i++) {
      double e = (double)buf[i] - d->conv[i];
      num += e * e;
      den += (double)d->conv[i] * d->conv[i];
    }
    printf("conv1.weight TWN: SQNR %.2f dB, relative L2 error %.4f\n", 10 * log10(den / num),
           sqrt(num / den));
  } else {
    bad |= 1;
  }
  free(buf);
  return bad;
}

static void list(tcodec_reader *r) {
  size_t n = 0;
  tcodec_reader_tensor_count(r, &n);
  printf("%-22s %-5s %-8s %10s %10s %8s\n", "tensor", "dtype", "encoding", "elements", "stored B",
         "bits/w");
  for (size_t i = 0; i < n; i++) {
    tcodec_tensor_info in;
    tcodec_reader_tensor_info(r, i, &in);
    printf("%-22s %-5s %-8s %10llu %10llu %8.3f\n", in.name, tcodec_dtype_name(in.dtype),
           tcodec_encoding_name(in.encoding), (unsigned long long)in.nelem,
           (unsigned long long)in.stored_bytes,
           in.nelem ? 8.0 * (double)in.stored_bytes / (double)in.nelem : 0.0);
  }
}

int main(int argc, char **argv) {
  int force = 0, argi = 1;
  if (argi < argc && strcmp(argv[argi], "-f") == 0) force = 1, argi++;
  if (argi >= argc || strcmp(argv[argi], "--help") == 0) {
    fprintf(stderr, "usage: tcdemo [-f] OUT.tc\n");
    return 2;
  }
  const char *out = argv[argi];
  if (!force && access(out, F_OK) == 0) {
    fprintf(stderr, "tcdemo: %s: already exists (use -f to overwrite)\n", out);
    return 1;
  }
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", out, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (f == NULL) {
    fprintf(stderr, "tcdemo: %s: %s\n", tmp, strerror(errno));
    return 1;
  }
  demo_data *d = calloc(1, sizeof(*d));
  tcodec_writer *w = NULL;
  make_data(d);
  int rc = tcodec_writer_create(&w, NULL);
  if (rc == 0) rc = tcodec_writer_begin(w, file_sink, f);
  if (rc == 0) rc = write_demo(w, d);
  if (rc != 0) fprintf(stderr, "tcdemo: %s\n", tcodec_writer_error_message(w));
  tcodec_writer_free(w);
  if (fclose(f) != 0 && rc == 0) rc = TCODEC_E_IO;
  if (rc != 0 || rename(tmp, out) != 0) {
    remove(tmp);
    free(d);
    return 1;
  }
  tcodec_reader *r;
  tcodec_reader_create(&r, NULL);
  if (tcodec_reader_open_file(r, out) != 0 || tcodec_reader_verify(r, NULL) != 0) {
    fprintf(stderr, "tcdemo: %s\n", tcodec_reader_error_message(r));
    tcodec_reader_free(r);
    free(d);
    return 1;
  }
  printf("wrote %s\n", out);
  list(r);
  rc = check_back(r, d);
  printf("%s\n", rc == 0 ? "all tensors verified" : "MISMATCH");
  tcodec_reader_free(r);
  free(d);
  return rc;
}
