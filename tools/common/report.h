/* The round-trip report of tcpack and the comparison report of tcunpack
 * --compare: one row per tensor (how it was stored, what came back), quality
 * thresholds, a summary, a text table and the JSON form (jansson). */
#ifndef TT_REPORT_H
#define TT_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "metrics.h"
#include "policy.h"

typedef enum tt_row_state {
  TT_ROW_EXACT = 0,     /* bit-exact */
  TT_ROW_CHANGED = 1,   /* values differ (quantized, or differ from the reference) */
  TT_ROW_MISMATCH = 2,  /* should have been exact and is not (a bug or a corrupt file) */
  TT_ROW_MISSING = 3,   /* --compare: no tensor of that name, dtype or shape in the reference */
} tt_row_state;

typedef struct tt_row {
  char *name;               /* owned */
  int dtype;
  unsigned ndim;
  uint64_t shape[32];       /* TCF_MAX_NDIM */
  uint64_t nelem;
  int encoding;             /* stored encoding (tcodec_encoding) */
  uint64_t source_bytes, stored_bytes;
  int quantized;            /* the policy asked for a quantizer */
  int state;                /* tt_row_state */
  tt_quality q;             /* for TT_ROW_CHANGED */
  double bits_per_weight;   /* stored_bytes * 8 / nelem */
  double sparsity;          /* fraction of zero symbols (ternary/binary) or values */
  int rule;                 /* policy rule index, -1: default */
  char action[192];         /* what the policy chose, described */
  tt_action act;            /* the action as applied (method LOSSLESS when not quantized) */
  unsigned depth_index, depth_count; /* bits_by_depth: i-th of m tensors of its rule (m > 0) */
  uint64_t filters, ternary_filters; /* hybrid: filters (shape[0]) and how many are ternary */
  const char *note;         /* why a quantizer fell back to lossless, or NULL */
  const char *detail;       /* TT_ROW_MISSING / MISMATCH: why */
  int below;                /* fails --max-rel-error / --min-sqnr */
} tt_row;

typedef struct tt_report {
  const char *tool;          /* "tcpack", "tcunpack" */
  const char *input, *output, *reference;
  const char *source_format;
  tt_row *rows;
  size_t nrows, cap;
  uint64_t input_bytes, output_bytes;
  uint64_t zstd_bytes;       /* 0: not computed */
  int zstd_level;
  double max_rel_error;      /* NAN: no threshold */
  double min_sqnr;           /* NAN: no threshold */
  size_t nbelow;             /* rows failing a threshold */
  const tt_policy *policy;   /* NULL for tcunpack */
  int written;               /* the output was kept */
} tt_report;

void tt_report_init(tt_report *r, const char *tool);
void tt_report_free(tt_report *r);
/* A zeroed row with a copy of name, appended; NULL when out of memory. */
tt_row *tt_report_add(tt_report *r, const char *name);

/* Apply the thresholds to the TT_ROW_CHANGED rows: set `below` on each failing
 * row and print one line per failure ("PROG: FILE: tensor 'NAME': relative L2
 * error 0.53 above --max-rel-error 0.4"). Returns the number of rows below. */
size_t tt_report_check(tt_report *r);

/* Text report: the per-tensor table when `verbose`, the summary always. */
void tt_report_print(const tt_report *r, FILE *f, int verbose);

/* Whole report as JSON to `path` ("-": stdout). Returns 0 or TT_EXIT_ERROR. */
int tt_report_json(const tt_report *r, const char *path, int force);

/* "1x2x3" (or "scalar") into buf. */
void tt_shape_text(unsigned ndim, const uint64_t *shape, char *buf, size_t cap);

#endif
