/* ONNX models: every tensor out, and back in byte for byte (docs/onnx.md).
 *
 * The model is read at the protobuf wire level (formats/pbwire.h), following only the
 * fields of onnx.proto that lead to tensors: graph initializers, tensor attributes of
 * nodes (Constant values, including value_float(s)/value_int(s)), the subgraphs of
 * If/Loop/Scan at any depth (bounded), function bodies and training graphs. Each tensor
 * payload found becomes a tcf_tensor; the rest of the file is kept as the section
 * "onnx.skeleton" (the model bytes without those payloads, and a table saying where each
 * payload goes back and how it was encoded). tcf_onnx_write() re-inserts the payloads,
 * re-encoding varint-packed fields and the length prefixes around them when values
 * changed, so a model whose tensors were not changed comes back byte-identical. */
#ifndef TCF_ONNX_H
#define TCF_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "tcf_model.h"

#define TCF_ONNX_SECTION "onnx.skeleton"
/* Layout of the section (docs/onnx.md): magic, version byte, then protobuf wire fields. */
#define TCF_ONNX_SECTION_MAGIC "OXSK"
#define TCF_ONNX_SECTION_VERSION 1
/* How a cut-out span of the model held its elements. */
enum tcf_onnx_hole_kind {
  TCF_ONNX_HOLE_RAW = 1,     /* little-endian fixed-width bytes (raw_data, float_data, ...) */
  TCF_ONNX_HOLE_VARINTS = 2, /* packed varints (int32_data, int64_data, uint64_data, ints) */
  TCF_ONNX_HOLE_VARINT = 3   /* one varint (AttributeProto.i, unpacked repeated ints) */
};
#define TCF_ONNX_MAX_GRAPH_DEPTH 64 /* nested subgraphs; deeper: TCODEC_E_LIMIT */

/* Access to external data files (TensorProto.data_location = EXTERNAL). Every location
 * has passed the lexical checks first: relative, not empty, no NUL, no ".." component
 * (separators '/' and '\\'). The resolver must refuse symlinks and anything outside the
 * model's folder; tcf_onnx_external_dir() does. Callbacks return 0 or a TCODEC_E_*
 * status with err->msg filled (err->file and err->offset are set by the caller). */
typedef struct tcf_onnx_external {
  int (*open)(void *user, const char *location, uint64_t *size, void **handle, tcf_error *err);
  int (*read)(void *user, void *handle, uint64_t offset, void *dst, size_t n, tcf_error *err);
  void (*close)(void *user, void *handle);
  void *user;
} tcf_onnx_external;

/* NULL if loc[0, n) is acceptable as an external data location, else the reason
 * ("is an absolute path", "has a '..' component", ...). */
const char *tcf_onnx_location_problem(const uint8_t *loc, size_t n);

/* Resolver over the model's folder, `*dir_fd` (an open directory, kept by the caller):
 * each path component is opened with openat(O_NOFOLLOW) from the previous one, so a
 * symlink anywhere is refused (TCODEC_E_IO, "symbolic link"); only regular files. */
void tcf_onnx_external_dir(tcf_onnx_external *ext, int *dir_fd);

/* Where tcf_onnx_write_ext puts external data back: bytes at `offset` of `location`
 * (same lexical checks as above). */
typedef struct tcf_onnx_sink {
  int (*write)(void *user, const char *location, uint64_t offset, const void *src, size_t n,
               tcf_error *err);
  void *user;
} tcf_onnx_sink;

/* Sink writing under the folder `*dir_fd`: missing folders are created, symlinks refused,
 * files created (0644) and written in place with pwrite (not truncated: write into an
 * empty folder to get the original files; gaps between tensors read back as zeros). */
void tcf_onnx_sink_dir(tcf_onnx_sink *sink, int *dir_fd);

/* Parse the ONNX model src[0, n) into *out (zeroed first; release with tcf_model_free
 * even after a failure). Tensors read from the model bytes borrow them where the file
 * holds them as little-endian bytes (raw_data, float_data, double_data): src must stay
 * valid and unchanged while *out is used; varint-coded and external tensors are owned.
 * Borrowed data may be unaligned. `file_name` is used in errors; `ext` NULL refuses
 * external data (TCODEC_E_UNSUPPORTED_FEATURE); `lim` may be NULL (defaults).
 * Tensors the module cannot carry (strings, complex, sparse, other dtypes, segments,
 * non-canonical varints, several data fields...) stay in the skeleton and are listed in
 * the model metadata "onnx.kept" (and counted in "onnx.kept_count").
 * Returns 0 or a TCODEC_E_* status with *err filled (err may be NULL); see docs/onnx.md
 * for the error of each kind of malformed or hostile model. */
int tcf_onnx_parse(const uint8_t *src, size_t n, const char *file_name,
                   const tcf_onnx_external *ext, const tcf_limits *lim, tcf_model *out,
                   tcf_error *err);

/* Rebuild the model from m's "onnx.skeleton" section and its tensors (matched by name;
 * dtype, shape and byte size must match what the skeleton recorded). Bytes go to fn in
 * order. External-data tensors go to `sink`; tcf_onnx_write refuses a model that has
 * some (TCODEC_E_UNSUPPORTED_FEATURE). Returns 0 or a TCODEC_E_* status with *err
 * filled (E_NOT_FOUND: no section or a tensor missing; E_UNSUPPORTED_DTYPE / E_SHAPE /
 * E_PAYLOAD: a tensor does not match; E_PAYLOAD / E_UNSUPPORTED_FEATURE: the section is
 * corrupt or of a later version; E_IO: fn or sink failed). */
int tcf_onnx_write(const tcf_model *m, tcodec_write_fn fn, void *user, tcf_error *err);
int tcf_onnx_write_ext(const tcf_model *m, tcodec_write_fn fn, void *user,
                       const tcf_onnx_sink *sink, tcf_error *err);

#endif /* TCF_ONNX_H */
