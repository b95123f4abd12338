/* Quantization policies for tcpack (docs/policy.md): which tensors to quantize,
 * and how. A policy is a default action and an ordered list of rules; the first
 * rule whose match accepts a tensor gives its action.
 *
 * The JSON policy file is parsed with jansson (duplicate keys rejected, every
 * field type-checked, unknown keys refused with their line and column). This
 * file depends only on libc, jansson and <tcodec/tcodec.h>, so the fuzz target
 * fuzz/fuzz_policy.c can #include "policy.c" directly.
 *
 * New quantizers slot in as a new tt_method value, a row in the method table
 * and, if they need parameters, new tt_action fields with rows in the field
 * table of policy.c. */
#ifndef TT_POLICY_H
#define TT_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include <tcodec/tcodec.h>

#define TT_POLICY_MAX_BYTES (1u << 20) /* a policy file is at most 1 MiB */
#define TT_POLICY_MAX_RULES 10000u
#define TT_POLICY_MAX_LIST 1000u       /* globs, ops or dtypes in one match */

typedef enum tt_method {
  TT_M_LOSSLESS = 0, /* the tensor's bytes, exactly (exact ternary/binary detected) */
  TT_M_TWN = 1,      /* Ternary Weight Networks: threshold x mean|w|, per unit */
  TT_M_EC2T = 2,     /* entropy-constrained ternary: "lambda", "max_iter", "threshold" */
  TT_M_KBIT = 3,     /* uniform k-bit: "bits", "sparsity", "zero_point", "bits_by_depth" */
  TT_M_HYBRID = 4,   /* per-filter full or ternary: "full_dtype", "error_budget",
                        "ternary_fraction", "threshold" */
  TT_M_BINARY = 5,   /* binary {-w_n, +w_p} by sign */
  TT_M_ADAPTIVE = 6, /* "adaptive_bt": binary or ternary per tensor: "size_weight", "threshold" */
  TT_M_COUNT_ = 7
} tt_method;

#define TT_AXIS_AUTO (-1) /* MatMul weights (2-D): last axis; everything else: axis 0 */

/* What to do with a tensor. Fields not used by the method keep their defaults. */
typedef struct tt_action {
  int method;            /* tt_method */
  double threshold;      /* twn: threshold factor, default 0.7 */
  int granularity;       /* TCODEC_GRAN_*, default CHANNEL */
  int axis;              /* channel axis, default TT_AXIS_AUTO */
  uint64_t group_size;   /* TCODEC_GRAN_GROUP, default 256 */
  int symmetric;         /* default 1 */
  int scale_dtype;       /* TCODEC_F32 (default), F16, BF16 */
  double lambda;         /* ec2t: default 0.05 */
  unsigned max_iter;     /* ec2t: default 30 */
  unsigned bits;         /* kbit: default 4 */
  double sparsity;       /* kbit: default 0 */
  int zero_point;        /* kbit: default 0 */
  int full_dtype;        /* hybrid: TCODEC_F16 (default) or F32 */
  double error_budget;   /* hybrid: default 0.5 */
  double ternary_fraction; /* hybrid: default 0 (use error_budget) */
  double size_weight;    /* adaptive_bt: default 0.01 */
  int by_depth;          /* kbit: bits from depth_first .. depth_last (tt_policy_plan) */
  unsigned depth_first, depth_last;
} tt_action;

typedef struct tt_match {
  char **names;          /* fnmatch globs on the tensor name; any may match (none: all) */
  size_t nnames;
  char **excludes;       /* globs; a tensor matching one is not matched */
  size_t nexcludes;
  char **ops;            /* consumer operators ("Conv"...); none: any */
  size_t nops;
  uint32_t dtypes;       /* bit (1 << tcodec_dtype); 0: any */
  uint64_t min_elements; /* default 1024 */
  uint64_t max_elements; /* default UINT64_MAX */
  unsigned ndim_min;     /* default 2: biases and norms (1-D) are not matched */
  unsigned ndim_max;     /* default TCODEC's maximum */
} tt_match;

typedef struct tt_rule {
  tt_match match;
  tt_action action;
  unsigned line, column; /* where the rule starts in the file (0 from the command line) */
} tt_rule;

typedef struct tt_policy {
  tt_action def;         /* the "default" action (lossless unless given) */
  tt_rule *rules;
  size_t nrules;
} tt_policy;

typedef struct tt_policy_error {
  uint64_t offset;       /* byte offset in the file */
  unsigned line, column; /* 1-based; column counts characters, as jansson does */
  char msg[512];
} tt_policy_error;

/* Parse a policy file held in memory (need not be NUL-terminated). On success
 * *out owns everything (tt_policy_free). On failure *out is empty and *err says
 * where and why. Returns 0 or -1. */
int tt_policy_parse(const uint8_t *src, size_t n, tt_policy *out, tt_policy_error *err);
void tt_policy_free(tt_policy *p);

/* Defaults. */
void tt_action_init(tt_action *a, int method);
void tt_match_init(tt_match *m);
/* Release the lists of a match and clear them. */
void tt_match_free(tt_match *m);

/* Append a copy of rule (its lists are taken over: the caller's pointers are
 * cleared). Returns 0 or -1 (out of memory; the rule is released). */
int tt_policy_add_rule(tt_policy *p, tt_rule *rule);
/* Append a copy of s to a string list; 0 or -1. */
int tt_strlist_add(char ***list, size_t *n, const char *s);

/* What the policy decides for a tensor. */
typedef struct tt_tensor_view {
  const char *name;
  int dtype;
  unsigned ndim;
  const uint64_t *shape;
  uint64_t nelem;
  const char *op;        /* consumer operator, "" if unknown */
  int nonfinite;         /* 1: the data holds NaN or Inf (always lossless) */
} tt_tensor_view;

typedef struct tt_choice {
  int rule;              /* index of the first matching rule, -1: the default */
  tt_action action;      /* with the axis resolved; method LOSSLESS when overridden */
  const char *note;      /* NULL, or why a quantizing action fell back to lossless */
  /* bits_by_depth (after tt_policy_plan): this tensor is the depth_index-th
   * (0-based) of depth_count tensors its rule quantizes; action.bits is set. */
  unsigned depth_index, depth_count;
} tt_choice;

/* The choice for one tensor alone (a bits_by_depth action keeps depth_first as
 * its bits: use tt_policy_plan for a whole model). */
void tt_policy_choose(const tt_policy *p, const tt_tensor_view *t, tt_choice *c);

/* The choices for all n tensors of a model, in model order: tt_policy_choose for
 * each, then for every bits_by_depth action the i-th of the m tensors it quantizes
 * gets bits = round(first + (last - first) * i / (m - 1)) (m = 1: first), clamped
 * to 2..8. out has n entries. */
void tt_policy_plan(const tt_policy *p, const tt_tensor_view *ts, size_t n, tt_choice *out);

/* bits for the i-th of m (the formula above). */
unsigned tt_depth_bits(unsigned first, unsigned last, size_t i, size_t m);

/* "lossless", "twn", "ec2t", "kbit", "hybrid", "binary", "adaptive_bt"; "?" for others. */
const char *tt_method_name(int method);
/* The method named (also "adaptive" for adaptive_bt); -1 if none. */
int tt_method_from_name(const char *name);
/* 1 if tcpack can run the method now. */
int tt_method_available(int method);
/* "tensor", "channel", "group". */
const char *tt_granularity_name(int granularity);

/* 1 if the action key (as spelled in the policy file) applies to the method. */
int tt_action_takes(int method, const char *key);

/* Library request for a quantizing action (method must be available). */
void tt_action_request(const tt_action *a, tcodec_request *req);

/* One-line description ("twn threshold=0.7 channel axis=0 symmetric scales=f32"),
 * naming only the parameters the method takes, into buf. */
void tt_action_describe(const tt_action *a, char *buf, size_t cap);

/* The action as a JSON object (jansson json_t *): "method" and the parameters the
 * method takes. New reference. */
struct json_t;
struct json_t *tt_action_json(const tt_action *a);

#endif
