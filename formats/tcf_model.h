/* Model-format modules (safetensors, ONNX, ...): a common, format-neutral view
 * of the tensors of a source model, so that tools convert between a format and
 * the .tc container through the public libtcodec API only.
 *
 * Each format is its own module (formats/<format>.c with its own header) that
 *  - parses a source model from bytes in memory, treating every byte as hostile,
 *    into a tcf_model: the tensors (name, dtype, shape, little-endian bytes) plus
 *    what the format needs to rebuild the model exactly (kept as opaque "sections");
 *  - rebuilds the source model bytes from a tcf_model whose tensor bytes may have
 *    been replaced (dequantized values in the same dtype and shape).
 * Modules never print; they return a tcf status and fill a tcf_error. */
#ifndef TCF_MODEL_H
#define TCF_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <tcodec/tcodec.h>

#define TCF_MAX_NDIM 32

typedef struct tcf_error {
  int code;          /* a TCODEC_E_* status (TCODEC_E_PAYLOAD, E_LIMIT, E_IO, ...) */
  uint64_t offset;   /* byte offset in the source file, UINT64_MAX if none */
  char file[256];    /* which file (shards, external data) */
  char msg[512];     /* one line: the reason */
} tcf_error;

typedef struct tcf_tensor {
  char *name;                 /* owned; unique in the model */
  int dtype;                  /* tcodec_dtype */
  unsigned ndim;
  uint64_t shape[TCF_MAX_NDIM];
  uint64_t nelem;
  const uint8_t *data;        /* nelem * dtype size bytes, little-endian; borrowed or owned */
  uint64_t size;
  uint8_t *owned;             /* non-NULL when the module allocated `data` */
  /* Per-tensor text metadata the format wants back (e.g. ONNX: where the tensor
   * lives: "onnx.path" = "graph.initializer[3]"); owned arrays of owned strings. */
  char **meta_keys, **meta_values;
  size_t meta_count;
  /* Hints for quantization policies: the operator that consumes the tensor
   * ("Conv", "MatMul", "Gemm", ...) and the input slot, when the format knows. */
  char consumer_op[64];
  int consumer_input;
} tcf_tensor;

typedef struct tcf_section {
  char *type;      /* e.g. "safetensors.header", "onnx.skeleton" */
  uint8_t *data;   /* owned */
  size_t size;
} tcf_section;

typedef struct tcf_model {
  char format[32];             /* "safetensors", "onnx" */
  tcf_tensor *tensors;
  size_t ntensors;
  char **meta_keys, **meta_values; /* model-level text metadata (owned) */
  size_t meta_count;
  tcf_section *sections;
  size_t nsections;
} tcf_model;

void tcf_model_free(tcf_model *m);

/* Limits a tool applies to untrusted models (0 = default). */
typedef struct tcf_limits {
  uint64_t max_header_bytes;   /* safetensors JSON header; default 100 MB (as safetensors) */
  uint64_t max_tensors;        /* default 1,000,000 */
  uint64_t max_file_bytes;     /* any one input file; default 1 TiB */
} tcf_limits;

#endif
