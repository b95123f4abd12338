/* safetensors reader and writer (Hugging Face's format: an 8-byte little-endian
 * header length N, N bytes of JSON starting with '{' and possibly padded with
 * spaces, then the tensor bytes). Single files and sharded checkpoints
 * (model.safetensors.index.json + shards).
 *
 * Every size and offset in a file is a claim to check. A parse applies the
 * checks the reference implementation applies (header at most 100,000,000 bytes,
 * JSON object, offsets in order, in bounds, covering the data area with no hole
 * and no overlap, elements x dtype bits a whole number of bytes equal to the byte
 * span, __metadata__ a map of strings) and a few more (duplicate JSON keys,
 * UTF-8, ndim <= TCF_MAX_NDIM, overflow).
 *
 * Every dtype of the format is read (safetensors 0.6, tensor.rs Dtype and
 * bitsize()). Those with a tcodec equivalent become that dtype. The others,
 * F4 (4 bits), F6_E2M3 and F6_E3M2 (6 bits, packed), F8_E8M0 (8) and C64 (64,
 * two F32), are carried losslessly as opaque bytes: the tensor is TCODEC_U8,
 * ndim 1, shape [byte count], data the bytes as in the file, with tensor meta
 * "safetensors.dtype" = the dtype name and "safetensors.shape" = the original
 * shape as compact JSON ("[4,3]", "[]" for a scalar). A packed tensor whose
 * bits do not fill whole bytes (F4 x 3) is refused, as the reference does.
 *
 * Errors: every function returns 0 or a TCODEC_E_* status and fills the
 * tcf_error (may be NULL) with the file, the byte offset and a one-line reason:
 *   TCODEC_E_TRUNCATED         the file ends before what its header describes;
 *                              offset = file size (covers offsets past the end)
 *   TCODEC_E_LIMIT             header, tensor count, ndim or file over a limit
 *   TCODEC_E_OVERFLOW          shape product or shape x dtype bits overflows 64 bits
 *   TCODEC_E_UNSUPPORTED_DTYPE a dtype name the format does not define ("Q7", "F7")
 *   TCODEC_E_PAYLOAD           any other violation of the format (a packed tensor
 *                              that ends inside a byte included)
 *   TCODEC_E_NOMEM, TCODEC_E_ARG, TCODEC_E_IO (a write callback failed)
 * Offsets: 8 + position in the JSON for header problems (the opening quote of
 * the tensor's key, or where jansson stopped for malformed JSON), the first
 * byte of a tensor's data for span, overlap and hole errors. In index files the
 * position in the JSON text.
 *
 * Sections and metadata in the tcf_model (what the way back needs):
 *   "safetensors.header"          the original 8 + N header bytes of a single file
 *   "safetensors.header:<shard>"  the same for each shard of a sharded checkpoint
 *   "safetensors.index"           the index JSON, verbatim
 *   tensor meta "safetensors.shard" = shard file name (sharded only)
 *   tensor meta "safetensors.dtype", "safetensors.shape": opaque dtypes (above)
 *   model meta                    the __metadata__ entries, in file order
 * The tensors are listed in the order of their data in the file; consumer_op is
 * empty and consumer_input -1 (safetensors does not know the consumers). */
#ifndef TCF_SAFETENSORS_H
#define TCF_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "tcf_model.h"

#define TCF_ST_HEADER_SECTION "safetensors.header"
#define TCF_ST_SHARD_HEADER_PREFIX "safetensors.header:"
#define TCF_ST_INDEX_SECTION "safetensors.index"
#define TCF_ST_SHARD_META "safetensors.shard"
#define TCF_ST_DTYPE_META "safetensors.dtype" /* opaque tensors: the original dtype name */
#define TCF_ST_SHAPE_META "safetensors.shape" /* opaque tensors: original shape, "[4,3]" */
#define TCF_ST_MAX_SHARD_NAME 200             /* bytes; keeps "safetensors.header:<name>" short */

/* ---- dtypes ---------------------------------------------------------------- */

/** tcodec dtype of a safetensors dtype name ("F32", "BF16", "BOOL"...);
 *  TCODEC_DTYPE_INVALID for names without an equivalent (unknown names, and
 *  F4, F6_E2M3, F6_E3M2, F8_E8M0, C64, which parse as opaque U8 bytes). */
int tcf_safetensors_dtype_from_name(const char *name);
/** safetensors name of a tcodec dtype; NULL if none. Static storage. */
const char *tcf_safetensors_dtype_name(int dtype);

/* ---- single files ---------------------------------------------------------- */

/** Parse one safetensors file held in memory into *out (zeroed first; left
 *  empty on failure; release with tcf_model_free()). The tensors' `data` point
 *  into src: keep src alive and unchanged while the model is used. `file_name`
 *  (may be NULL) goes into errors; `lim` may be NULL (defaults). */
int tcf_safetensors_parse(const uint8_t *src, size_t src_size, const char *file_name,
                          const tcf_limits *lim, tcf_model *out, tcf_error *err);

/** Write a safetensors file to fn (called in order; nonzero return = TCODEC_E_IO).
 *  With a "safetensors.header" section the header goes out verbatim and each
 *  tensor's bytes at the offsets it gives: the result is byte-identical to the
 *  parsed file when the tensor bytes are. Every tensor of the model must be in
 *  that header with the same dtype and shape, and no other (TCODEC_E_PAYLOAD);
 *  for an opaque dtype, the tensor must be U8 [byte span] with the header's
 *  dtype and shape in its "safetensors.dtype"/"safetensors.shape" meta, and a
 *  tensor with such meta must match an opaque entry.
 *  Without it (a model from another format, or merged shards) the header is
 *  built as the reference writer builds it: compact JSON, "__metadata__" first
 *  (the model meta, in model order; omitted when empty), then the tensors sorted
 *  by dtype in descending order of the reference's Dtype enum (U64, I64, F64,
 *  C64, F32, ... U8, F6_E3M2, F6_E2M3, F4, BOOL: widest first except that BOOL
 *  comes last) and by name (bytewise), data in that order so each tensor is
 *  aligned to its element size, padded with spaces to a multiple of 8 bytes.
 *  A tensor with "safetensors.dtype"/"safetensors.shape" meta goes out with
 *  that dtype and shape: the dtype must be one of the five opaque ones
 *  (TCODEC_E_UNSUPPORTED_DTYPE otherwise), the tensor U8 [bytes] and the shape
 *  compact JSON whose elements x bits are exactly its bytes (TCODEC_E_PAYLOAD). */
int tcf_safetensors_write(const tcf_model *m, tcodec_write_fn fn, void *user, tcf_error *err);

/* ---- sharded checkpoints ----------------------------------------------------
 * Reading (the tool reads the files; this module never touches the file system):
 *
 *   tcf_model m; tcf_safetensors_index ix;
 *   tcf_safetensors_shards_begin(&m, idx, idx_size, "model.safetensors.index.json",
 *                                NULL, &ix, &err);
 *   for (size_t i = 0; i < ix.nshards; i++)      // read dir/ix.shards[i] into buf[i]
 *     tcf_safetensors_shards_add(&m, &ix, i, buf[i], size[i], NULL, &err);
 *   tcf_safetensors_shards_end(&m, &ix, &err);  // every weight_map entry found
 *   tcf_safetensors_index_free(&ix);            // m keeps its own copies
 *
 * Writing back (byte-identical when the tensor bytes are):
 *
 *   tcf_safetensors_model_index(&m, &ix, &err); // shard list from the model
 *   tcf_safetensors_write_index(&m, fn, user, &err);
 *   for (i...) tcf_safetensors_write_shard(&m, ix.shards[i], fn_i, user_i, &err);
 *
 * tcf_safetensors_write() on a sharded model writes one merged file. */

typedef struct tcf_safetensors_index {
  char **shards; /* distinct shard file names, sorted bytewise (owned) */
  size_t nshards;
  char **names;     /* weight_map tensor names, sorted bytewise (owned) */
  size_t *shard_of; /* names[i] lives in shards[shard_of[i]] */
  size_t ntensors;
} tcf_safetensors_index;

/** Release what *ix owns and zero it; NULL is a no-op. */
void tcf_safetensors_index_free(tcf_safetensors_index *ix);

/** Parse model.safetensors.index.json ({"metadata": {...}, "weight_map":
 *  {tensor: shard file}}; other keys are ignored). Shard names must be relative
 *  paths of at most TCF_ST_MAX_SHARD_NAME bytes: not absolute, no "..", empty
 *  or "." components, no backslash, no drive letter (TCODEC_E_PAYLOAD). The
 *  JSON is limited to lim->max_header_bytes, the entries to lim->max_tensors.
 *  *out is zeroed first and left empty on failure. */
int tcf_safetensors_parse_index(const uint8_t *src, size_t src_size, const char *file_name,
                                const tcf_limits *lim, tcf_safetensors_index *out, tcf_error *err);

/** Start a sharded model: parse the index into *ix and make *m an empty model
 *  (format "safetensors") holding the index bytes as section "safetensors.index".
 *  On failure both are left empty. */
int tcf_safetensors_shards_begin(tcf_model *m, const uint8_t *index_src, size_t index_size,
                                 const char *index_file, const tcf_limits *lim,
                                 tcf_safetensors_index *ix, tcf_error *err);

/** Parse shard ix->shards[shard] (bytes in memory, borrowed like
 *  tcf_safetensors_parse) and add its tensors to *m, tagged with their shard,
 *  its header as section "safetensors.header:<shard>" and its __metadata__
 *  entries whose keys *m does not have yet. Every tensor of the shard must be
 *  mapped to this shard by the weight map, and a shard is added once
 *  (TCODEC_E_PAYLOAD). On a parse or check failure *m is unchanged. */
int tcf_safetensors_shards_add(tcf_model *m, const tcf_safetensors_index *ix, size_t shard,
                               const uint8_t *src, size_t src_size, const tcf_limits *lim,
                               tcf_error *err);

/** Check that every shard was added and every weight_map tensor found. */
int tcf_safetensors_shards_end(const tcf_model *m, const tcf_safetensors_index *ix, tcf_error *err);

/** Parse the model's "safetensors.index" section into *ix (TCODEC_E_NOT_FOUND
 *  when the model is not a sharded checkpoint). */
int tcf_safetensors_model_index(const tcf_model *m, tcf_safetensors_index *ix, tcf_error *err);

/** Write the index file: the "safetensors.index" section verbatim. */
int tcf_safetensors_write_index(const tcf_model *m, tcodec_write_fn fn, void *user, tcf_error *err);

/** Write one shard: the tensors tagged with `shard_file`, under that shard's
 *  header section verbatim (or a reference-style header if it has none), as
 *  tcf_safetensors_write() does for a single file. */
int tcf_safetensors_write_shard(const tcf_model *m, const char *shard_file, tcodec_write_fn fn,
                                void *user, tcf_error *err);

#endif
