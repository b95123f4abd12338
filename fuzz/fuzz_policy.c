/*
 * fuzz_policy: tcpack's quantization policy parser (tools/common/policy.c, parsed
 * with jansson), then the per-tensor choice over a few made-up tensors.
 *
 * The tools' helpers are not linked into fuzz targets, so the parser is compiled
 * into this target directly (it depends only on libc, jansson and tcodec.h).
 *
 * Findings besides sanitizer reports: a failed parse without a message, an error
 * offset past the input, a line or column of 0 for an input that fits the size
 * limit, a choice naming a rule that does not exist, a quantizing choice for a
 * tensor that cannot be quantized, a channel axis outside the tensor, a k-bit
 * choice the format cannot hold (asymmetric, bits outside 2..8), a hybrid one off
 * axis 0, a plan (tt_policy_plan) that disagrees with the single choice.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../tools/common/policy.c"

#define FZ_CHECK(cond) \
  do {                 \
    if (!(cond)) abort(); \
  } while (0)

static void check_choices(const tt_policy *p) {
  static const uint64_t s2[2] = {64, 48}, s4[4] = {16, 8, 3, 3}, s1[1] = {4096}, s0[1] = {0};
  static const struct {
    const char *name, *op;
    int dtype;
    unsigned ndim;
    const uint64_t *shape;
    uint64_t nelem;
  } ts[] = {
      {"layer.0.weight", "MatMul", TCODEC_F32, 2, s2, 3072},
      {"conv1.w", "Conv", TCODEC_F16, 4, s4, 1152},
      {"embed.ids", "", TCODEC_I64, 1, s1, 4096},
      {"norm.bias", "LayerNormalization", TCODEC_BF16, 1, s1, 4096},
      {"scalar", "", TCODEC_F64, 0, s0, 1},
      {"empty", "Gemm", TCODEC_F32, 1, s0, 0},
  };
  enum { NT = sizeof(ts) / sizeof(ts[0]) };
  tt_tensor_view vs[NT];
  tt_choice cs[NT];
  for (size_t i = 0; i < NT; i++)
    vs[i] = (tt_tensor_view){ts[i].name, ts[i].dtype, ts[i].ndim, ts[i].shape, ts[i].nelem, ts[i].op, (int)(i == 3)};
  tt_policy_plan(p, vs, NT, cs);
  for (size_t i = 0; i < NT; i++) {
    tt_tensor_view v = vs[i];
    tt_choice c;
    char text[200];
    tcodec_request req;
    tt_policy_choose(p, &v, &c);
    FZ_CHECK(cs[i].rule == c.rule && cs[i].action.method == c.action.method);
    if (cs[i].depth_count > 0) {
      FZ_CHECK(cs[i].action.method == TT_M_KBIT && cs[i].depth_index < cs[i].depth_count);
      FZ_CHECK(cs[i].action.bits >= 2 && cs[i].action.bits <= 8);
    }
    FZ_CHECK(c.rule >= -1 && (c.rule < 0 || (size_t)c.rule < p->nrules));
    tt_action_describe(&c.action, text, sizeof(text));
    FZ_CHECK(strlen(text) < sizeof(text));
    if (c.action.method == TT_M_LOSSLESS) continue;
    FZ_CHECK(tt_method_available(c.action.method));
    FZ_CHECK(ts[i].dtype != TCODEC_I64 && ts[i].nelem > 0 && !v.nonfinite);
    if (c.action.method == TT_M_KBIT) FZ_CHECK(c.action.symmetric && c.action.bits >= 2 && c.action.bits <= 8);
    if (c.action.method == TT_M_HYBRID) FZ_CHECK(c.action.axis == 0 && ts[i].ndim >= 1);
    if (c.action.granularity == TCODEC_GRAN_CHANNEL)
      FZ_CHECK(c.action.axis >= 0 && (unsigned)c.action.axis < ts[i].ndim);
    tt_action_request(&c.action, &req);
    FZ_CHECK(req.method != TCODEC_Q_LOSSLESS);
    json_t *j = tt_action_json(&c.action);
    FZ_CHECK(j != NULL);
    json_decref(j);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tt_policy p;
  tt_policy_error e;
  if (tt_policy_parse(data, size, &p, &e) != 0) {
    FZ_CHECK(e.msg[0] != '\0');
    FZ_CHECK(size > TT_POLICY_MAX_BYTES || e.offset <= size);
    FZ_CHECK(size > TT_POLICY_MAX_BYTES || (e.line >= 1 && e.column >= 1));
    FZ_CHECK(p.rules == NULL && p.nrules == 0);
    return 0;
  }
  FZ_CHECK(p.nrules <= TT_POLICY_MAX_RULES);
  check_choices(&p);
  tt_policy_free(&p);
  return 0;
}
