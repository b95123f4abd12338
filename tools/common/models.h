/* Adapter between the tools and the format modules (formats/safetensors.h,
 * formats/onnx.h): reading a source model from files, writing one back through
 * temp files, and rebuilding a tcf_model from a .tc reader. The tools call the
 * modules only through these functions. Every function prints its own errors
 * ("PROG: FILE: offset N: reason") and returns a TT_EXIT_* code. */
#ifndef TT_MODELS_H
#define TT_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include <tcodec/tcodec.h>

#include "tcf_model.h"

typedef enum tt_format {
  TT_FMT_AUTO = 0,
  TT_FMT_SAFETENSORS = 1,
  TT_FMT_ONNX = 2
} tt_format;

/* "safetensors" -> TT_FMT_SAFETENSORS...; -1 if unknown. */
int tt_format_from_name(const char *name);
const char *tt_format_name(int format);

/* Format of a file from its first bytes and its name: safetensors (8-byte LE
 * header length, then '{'), a sharded safetensors index (JSON object, or a name
 * ending in ".index.json"), ONNX (".onnx", or a protobuf whose first field is a
 * ModelProto field). Returns the format or TT_FMT_AUTO when unsure; *sharded
 * is set for an index. */
int tt_detect_format(const uint8_t *p, size_t n, const char *name, int *sharded);

/* A source model and the bytes it borrows. */
typedef struct tt_source {
  tcf_model model;
  int format;
  int sharded;
  uint8_t **bufs;        /* file contents (model file, index, shards) */
  size_t *buf_sizes;
  size_t nbufs;
  uint64_t input_bytes;  /* bytes of every input file, external data included */
  int dir_fd;            /* model folder (ONNX external data), -1 if none */
} tt_source;

/* Read and parse `path` ("-": stdin, then `format` must be given; a sharded
 * checkpoint is read from its index file). `format` TT_FMT_AUTO detects it.
 * Returns TT_EXIT_OK, TT_EXIT_ERROR or TT_EXIT_USAGE. */
int tt_source_load(tt_source *s, const char *path, int format);
void tt_source_free(tt_source *s);

/* Bytes of the input (for the zstd reference): calls fn for each input file's
 * bytes held in memory, and for external-data tensors. */
typedef void (*tt_bytes_fn)(void *user, const uint8_t *p, size_t n);
void tt_source_each_input(const tt_source *s, tt_bytes_fn fn, void *user);

/* Write model m in `format` (TT_FMT_SAFETENSORS or TT_FMT_ONNX).
 *  - `out` is the model file ("-": stdout) or, for a sharded checkpoint, the
 *    folder that receives the index (named `index_name`) and the shards;
 *  - ONNX external data goes next to `out`, at the locations the model names.
 * Everything goes through temp files renamed only when all succeeded. `force`
 * allows replacing existing files (and writing binary to a terminal). */
int tt_model_write(const tcf_model *m, int format, const char *out, const char *index_name,
                   int force);
/* 1 if m is a sharded safetensors checkpoint (has the "safetensors.index" section). */
int tt_model_is_sharded(const tcf_model *m);

/* Rebuild a model from an open .tc: tensors decoded to their original dtype
 * (quantized ones dequantized), per-tensor metadata, model metadata stored as
 * "model.KEY" by tcpack, and the sections when `keep_sections`. `shown` names
 * the file in errors. `progress` (may be NULL) is called after each tensor
 * with (done, total). */
int tt_model_from_reader(tcodec_reader *r, const char *shown, const char *format_name,
                         int keep_sections, void (*progress)(uint64_t done, uint64_t total),
                         tcf_model *m);

/* Print a tcf_error ("PROG: FILE: offset N: reason"); file defaults to `shown`. */
void tt_print_tcf_error(const tcf_error *e, const char *shown);

/* Metadata key prefix under which tcpack stores the model's own metadata. */
#define TT_MODEL_META_PREFIX "model."

#endif
