/*
 * libtcodec — store neural-network weights at their information content.
 *
 * Public API of the .tc container (format v1, spec/FORMAT.md).
 *
 * Conventions used by every function here:
 *  - Return value is an `int` status: 0 (TCODEC_OK) or a negative TCODEC_E_* code;
 *    tcodec_strerror() names it. Results go to out-parameters.
 *  - Buffers are passed as (dst, dst_cap, src, src_size).
 *  - A context is used by one thread at a time; distinct contexts are independent
 *    (the library has no global state).
 *  - Pointers returned by a reader (names, shapes, metadata) stay valid until
 *    tcodec_reader_free().
 */
#ifndef TCODEC_H
#define TCODEC_H

#include <stddef.h>
#include <stdint.h>

#include "tcodec/tcodec_export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- versions --------------------------------------------------------- */

/* Library version (CMake reads these three lines). */
#define TCODEC_VERSION_MAJOR 0
#define TCODEC_VERSION_MINOR 1
#define TCODEC_VERSION_PATCH 0
#define TCODEC_VERSION_NUMBER \
  (TCODEC_VERSION_MAJOR * 10000 + TCODEC_VERSION_MINOR * 100 + TCODEC_VERSION_PATCH)

/* Container format version written by this library, read by it. A reader
 * accepts any file with the same major and any minor (spec: "Versioning"). */
#define TCODEC_FORMAT_MAJOR 1
#define TCODEC_FORMAT_MINOR 0

/** Library version as TCODEC_VERSION_NUMBER of the linked library. */
TCODEC_API unsigned tcodec_version_number(void);
/** Library version as "MAJOR.MINOR.PATCH"; static storage. */
TCODEC_API const char *tcodec_version_string(void);

/* ---- errors ----------------------------------------------------------- */

/* Written once; numbers are pinned forever (never renumber, only append). */
#define TCODEC_LIST_ERRORS(X)                                                          \
  X(OK, 0, "no error")                                                                 \
  X(E_GENERIC, -1, "unspecified error")                                                \
  X(E_NOMEM, -2, "memory allocation failed")                                           \
  X(E_ARG, -3, "invalid argument")                                                     \
  X(E_BADSTATE, -4, "context is in a state that does not allow this call")             \
  X(E_IO, -5, "input/output error")                                                    \
  X(E_LIMIT, -6, "a decoder limit was exceeded")                                       \
  X(E_OVERFLOW, -7, "a size computation overflowed")                                   \
  X(E_DST_SIZE, -8, "destination buffer is too small")                                 \
  X(E_MAGIC, -10, "not a .tc file (bad magic)")                                        \
  X(E_VERSION, -11, "unsupported format major version")                                \
  X(E_TRUNCATED, -12, "file is truncated")                                             \
  X(E_HEADER, -13, "file header is corrupt")                                           \
  X(E_TRAILER, -14, "file trailer is corrupt")                                         \
  X(E_DIR_CHECKSUM, -15, "directory checksum mismatch")                                \
  X(E_DIR_CBOR, -16, "directory is not well-formed CBOR")                              \
  X(E_DIR_SCHEMA, -17, "directory does not follow the schema")                         \
  X(E_RESERVED, -18, "a reserved field is not zero")                                   \
  X(E_UNSUPPORTED_FEATURE, -19, "file requires a feature this reader does not know")   \
  X(E_UNSUPPORTED_SECTION, -20, "file has a critical section this reader cannot use")  \
  X(E_UNSUPPORTED_ENCODING, -21, "tensor encoding unknown to this reader")             \
  X(E_UNSUPPORTED_CODER, -22, "entropy coder unknown to this reader")                  \
  X(E_UNSUPPORTED_DTYPE, -23, "dtype unknown or not allowed here")                     \
  X(E_STREAM_RANGE, -24, "a stream lies outside the payload area or overlaps another") \
  X(E_STREAM_CHECKSUM, -25, "stream checksum mismatch")                                \
  X(E_STREAM_CODER, -26, "entropy-coded stream is corrupt")                            \
  X(E_STREAM_SIZE, -27, "stream has the wrong decoded size")                           \
  X(E_SHAPE, -28, "tensor shape is invalid")                                           \
  X(E_PARAMS, -29, "encoding parameters are invalid")                                  \
  X(E_PAYLOAD, -30, "tensor payload is inconsistent")                                  \
  X(E_NOT_FOUND, -31, "no such tensor, section or key")                                \
  X(E_DUPLICATE, -32, "duplicate name")                                                \
  X(E_OUTPUT_FORMAT, -33, "requested output form does not exist for this encoding")    \
  X(E_VALUE, -34, "input values cannot be encoded as requested")                       \
  X(E_ENCODER_ONLY, -35, "function not present in a decoder-only build")

#define TCODEC_ERRENUM_(name, num, msg) TCODEC_##name = (num),
enum tcodec_status { TCODEC_LIST_ERRORS(TCODEC_ERRENUM_) TCODEC_ERROR_MIN_ = -36 };
#undef TCODEC_ERRENUM_

/** Static text for a status code; never NULL ("unknown error" for others). */
TCODEC_API const char *tcodec_strerror(int status);

/* ---- allocator -------------------------------------------------------- */

/** Per-context allocator. All fields NULL (or passing NULL) means malloc/free.
 *  `alloc` must return memory aligned for any type, or NULL on failure. */
typedef struct tcodec_allocator {
  void *(*alloc)(void *opaque, size_t size);
  void (*free)(void *opaque, void *ptr);
  void *opaque;
} tcodec_allocator;

/* ---- element types, encodings ----------------------------------------- */

/* Ids are the ones stored in files (spec: "Data types"). */
typedef enum tcodec_dtype {
  TCODEC_DTYPE_INVALID = 0,
  TCODEC_F64 = 1,
  TCODEC_F32 = 2,
  TCODEC_F16 = 3,
  TCODEC_BF16 = 4,
  TCODEC_F8_E4M3 = 5,
  TCODEC_F8_E5M2 = 6,
  TCODEC_I8 = 7,
  TCODEC_I16 = 8,
  TCODEC_I32 = 9,
  TCODEC_I64 = 10,
  TCODEC_U8 = 11,
  TCODEC_U16 = 12,
  TCODEC_U32 = 13,
  TCODEC_U64 = 14,
  TCODEC_BOOL = 15,
  TCODEC_DTYPE_COUNT_ = 16
} tcodec_dtype;

/** Bytes per element of `dtype`, 0 if unknown. */
TCODEC_API size_t tcodec_dtype_size(int dtype);
/** Short name ("f32", "bf16", "bool"...); "?" if unknown. */
TCODEC_API const char *tcodec_dtype_name(int dtype);
/** Inverse of tcodec_dtype_name; TCODEC_DTYPE_INVALID if unknown. */
TCODEC_API int tcodec_dtype_from_name(const char *name);

typedef enum tcodec_encoding {
  TCODEC_ENC_RAW = 1,     /* lossless bytes of the dtype, optional byte grouping */
  TCODEC_ENC_TERNARY = 2, /* {-w_n, 0, +w_p}: nonzero mask + signs of nonzeros + scales */
  TCODEC_ENC_BINARY = 3,  /* {-w_n, +w_p}: sign bits + scales */
  TCODEC_ENC_KBIT = 4,    /* uniform k-bit codes, scale and zero point, optional mask */
  TCODEC_ENC_HYBRID = 5   /* per output filter: full precision or ternary */
} tcodec_encoding;

/** Short name ("raw", "ternary"...); "?" if unknown. */
TCODEC_API const char *tcodec_encoding_name(int encoding);

/* How scales (and zero points) are shared. */
typedef enum tcodec_granularity {
  TCODEC_GRAN_TENSOR = 0,  /* one unit for the whole tensor */
  TCODEC_GRAN_CHANNEL = 1, /* one unit per index along `axis` */
  TCODEC_GRAN_GROUP = 2    /* one unit per `group_size` consecutive elements */
} tcodec_granularity;

/* Entropy stage applied to one stream. 2..127 are reserved for coders of
 * later minor versions; a reader reports them as TCODEC_E_UNSUPPORTED_CODER. */
typedef enum tcodec_coder {
  TCODEC_CODER_NONE = 0,
  TCODEC_CODER_ZSTD = 1,
  TCODEC_CODER_AUTO = 255 /* writer only: zstd if it makes the stream smaller */
} tcodec_coder;

/* Roles of the streams that make up an encoded tensor (spec: "Streams"). */
typedef enum tcodec_role {
  TCODEC_ROLE_DATA = 0,   /* raw: the element bytes */
  TCODEC_ROLE_MASK = 1,   /* 1 bit per element: nonzero */
  TCODEC_ROLE_SIGNS = 2,  /* 1 bit per coded element: negative */
  TCODEC_ROLE_SCALES = 3, /* per unit scales in scale_dtype */
  TCODEC_ROLE_CODES = 4,  /* k-bit codes, packed */
  TCODEC_ROLE_ZEROS = 5,  /* k-bit zero points, one byte per unit */
  TCODEC_ROLE_KINDS = 6,  /* hybrid: 1 bit per filter: ternary */
  TCODEC_ROLE_FULL = 7,   /* hybrid: full-precision filters */
  TCODEC_ROLE_COUNT_ = 8
} tcodec_role;

/** Short name of a stream role ("mask", "signs"...); "?" if unknown. */
TCODEC_API const char *tcodec_role_name(int role);

/* ---- limits for untrusted input (reader) -------------------------------- */

typedef enum tcodec_limit {
  TCODEC_LIMIT_DIR_BYTES = 1,     /* max directory (CBOR) size; default 64 MiB */
  TCODEC_LIMIT_TENSORS = 2,       /* max tensors in a file; default 1,000,000 */
  TCODEC_LIMIT_TENSOR_ELEMS = 3,  /* max elements of one tensor; default 2^36 */
  TCODEC_LIMIT_ALLOC_BYTES = 4,   /* max bytes the reader holds at once; default 16 GiB */
  TCODEC_LIMIT_META_BYTES = 5,    /* max total key+value bytes of metadata; default 16 MiB */
  TCODEC_LIMIT_SECTION_BYTES = 6  /* max decoded size of one section; default 1 GiB */
} tcodec_limit;

/* ---- reader ----------------------------------------------------------- */

typedef struct tcodec_reader tcodec_reader;

/** Create a reader. `alloc` may be NULL (malloc/free); it is copied.
 *  On success *out owns a context to release with tcodec_reader_free(). */
TCODEC_API int tcodec_reader_create(tcodec_reader **out, const tcodec_allocator *alloc);
/** Release a reader and everything it returned. NULL is a no-op. */
TCODEC_API void tcodec_reader_free(tcodec_reader *r);

/** Set a limit before opening. `value` 0 keeps the default. */
TCODEC_API int tcodec_reader_set_limit(tcodec_reader *r, int limit, uint64_t value);
/** Current value of a limit. */
TCODEC_API int tcodec_reader_get_limit(const tcodec_reader *r, int limit, uint64_t *value);

/** Open a container held in memory. The buffer is borrowed: it must stay valid
 *  and unchanged until tcodec_reader_free(). Validates the header, trailer,
 *  directory checksum and schema; payload checksums are checked on decode or
 *  by tcodec_reader_verify(). */
TCODEC_API int tcodec_reader_open_memory(tcodec_reader *r, const void *src, size_t src_size);
/** Open a container file (read with stdio, random access, nothing mapped).
 *  The path is used in error messages. */
TCODEC_API int tcodec_reader_open_file(tcodec_reader *r, const char *path);

/** After a failure: byte offset in the file where the problem lies (or
 *  UINT64_MAX if it has none) and a message naming the file, offset and reason.
 *  The message stays valid until the next call on `r`. */
TCODEC_API uint64_t tcodec_reader_error_offset(const tcodec_reader *r);
TCODEC_API const char *tcodec_reader_error_message(const tcodec_reader *r);

/** Format version of the opened file. */
TCODEC_API int tcodec_reader_format_version(const tcodec_reader *r, unsigned *major,
                                            unsigned *minor);

/** Number of model-level metadata entries. */
TCODEC_API int tcodec_reader_meta_count(const tcodec_reader *r, size_t *count);
/** Metadata entry `index`: key (NUL-terminated UTF-8) and value bytes (text
 *  values are also NUL-terminated; *is_text tells which). Any out may be NULL. */
TCODEC_API int tcodec_reader_meta_get(const tcodec_reader *r, size_t index, const char **key,
                                      const void **value, size_t *value_size, int *is_text);
/** Look up a text metadata value by key; TCODEC_E_NOT_FOUND if absent. */
TCODEC_API int tcodec_reader_meta_find(const tcodec_reader *r, const char *key,
                                       const char **value);

/** Shared model-wide sections (spec: "Sections"). */
TCODEC_API int tcodec_reader_section_count(const tcodec_reader *r, size_t *count);
/** Type name, criticality and decoded size of section `index`. */
TCODEC_API int tcodec_reader_section_info(const tcodec_reader *r, size_t index, const char **type,
                                          int *critical, uint64_t *size);
/** Decode section `index` into dst (capacity from tcodec_reader_section_info). */
TCODEC_API int tcodec_reader_section_read(tcodec_reader *r, size_t index, void *dst,
                                          size_t dst_cap);

typedef struct tcodec_tensor_info {
  const char *name;      /* NUL-terminated UTF-8 */
  int dtype;             /* original element type (tcodec_dtype) */
  int encoding;          /* tcodec_encoding */
  unsigned ndim;         /* 0 for a scalar */
  const uint64_t *shape; /* ndim entries */
  uint64_t nelem;        /* product of shape (1 for a scalar) */
  uint64_t stored_bytes; /* bytes of all its streams in the file */
  /* Quantization parameters (0 for raw). */
  int granularity;       /* tcodec_granularity */
  unsigned axis;         /* channel axis (TCODEC_GRAN_CHANNEL, hybrid) */
  uint64_t group_size;   /* TCODEC_GRAN_GROUP */
  uint64_t units;        /* number of scale units (channels, groups, filters) */
  int symmetric;         /* 1: one scale per unit; 0: w_p and w_n */
  int scale_dtype;       /* f32, f16 or bf16 */
  unsigned bits;         /* k-bit: 2..8 */
  int has_zero_point;    /* k-bit */
  int has_mask;          /* k-bit sparse; ternary and hybrid always */
  int full_dtype;        /* hybrid: dtype of full-precision filters */
  uint64_t nnz;          /* nonzero-mask popcount where a mask exists, else nelem */
  size_t meta_count;     /* per-tensor metadata entries */
  int byte_grouped;      /* raw: DATA stream holds byte planes (spec: raw encoding) */
} tcodec_tensor_info;

/** Number of tensors. */
TCODEC_API int tcodec_reader_tensor_count(const tcodec_reader *r, size_t *count);
/** Fill *info for tensor `index` (pointers owned by the reader). */
TCODEC_API int tcodec_reader_tensor_info(const tcodec_reader *r, size_t index,
                                         tcodec_tensor_info *info);
/** Index of the tensor named `name`; TCODEC_E_NOT_FOUND if none. */
TCODEC_API int tcodec_reader_find(const tcodec_reader *r, const char *name, size_t *index);
/** Per-tensor metadata entry (text values only). */
TCODEC_API int tcodec_reader_tensor_meta(const tcodec_reader *r, size_t index, size_t entry,
                                         const char **key, const char **value);

/* Output forms of tcodec_reader_decode(). */
typedef enum tcodec_output {
  TCODEC_OUT_ORIGINAL = 0, /* elements in the original dtype (quantized: dequantized, rounded
                              to nearest even; integer dtypes: rounded, saturated) */
  TCODEC_OUT_F32 = 1,      /* dequantized float32 */
  TCODEC_OUT_SYMBOLS = 2,  /* ternary/binary: int8 -1/0/+1 per element;
                              k-bit: uint8 code per element (masked-out elements: the
                              zero point); hybrid: int8 per element, full filters 0 */
  TCODEC_OUT_STREAM = 3    /* one stream's bytes after the entropy stage; pick the
                              stream with tcodec_reader_decode_stream() */
} tcodec_output;

/** Bytes that tcodec_reader_decode(r, index, output, ...) writes. */
TCODEC_API int tcodec_reader_decoded_size(const tcodec_reader *r, size_t index, int output,
                                          uint64_t *size);
/** Decode tensor `index` to the given output form into dst. Verifies the
 *  checksums of the streams it reads. Never writes past dst_cap. A failure on
 *  one tensor's payload leaves the other tensors readable. */
TCODEC_API int tcodec_reader_decode(tcodec_reader *r, size_t index, int output, void *dst,
                                    size_t dst_cap);

/** Whether tensor `index` has a stream of `role`, and its decoded size. */
TCODEC_API int tcodec_reader_stream_size(const tcodec_reader *r, size_t index, int role,
                                         uint64_t *size);
/** File offset, stored size, decoded size and entropy coder of one stream of
 *  tensor `index`; TCODEC_E_NOT_FOUND if the encoding has no such stream. Outs
 *  may be NULL. A stream with coder TCODEC_CODER_NONE holds its bytes as they are
 *  at [offset, offset + stored) in the file, ready to be memory-mapped (after
 *  tcodec_reader_decode_stream() or tcodec_reader_verify() checked its checksum). */
TCODEC_API int tcodec_reader_stream_info(const tcodec_reader *r, size_t index, int role,
                                         uint64_t *offset, uint64_t *stored, uint64_t *decoded,
                                         int *coder);
/** Compact form: the bytes of one stream (mask, signs, scales, codes...) after
 *  the entropy stage, exactly as the spec lays them out. */
TCODEC_API int tcodec_reader_decode_stream(tcodec_reader *r, size_t index, int role, void *dst,
                                           size_t dst_cap);

/** Check every stream and section checksum and entropy stage without keeping
 *  the results. On failure, *bad_index (if not NULL) is the first bad tensor. */
TCODEC_API int tcodec_reader_verify(tcodec_reader *r, size_t *bad_index);

/* ---- writer ------------------------------------------------------------ */

typedef struct tcodec_writer tcodec_writer;

/** Receives the container bytes in order; return 0 on success, nonzero on error. */
typedef int (*tcodec_write_fn)(void *user, const void *src, size_t src_size);

typedef enum tcodec_wparam {
  TCODEC_WP_CODER = 1,       /* default entropy stage: TCODEC_CODER_*; default AUTO */
  TCODEC_WP_ZSTD_LEVEL = 2,  /* 1..22; default 9 */
  TCODEC_WP_BYTE_GROUP = 3,  /* raw floats: 0/1 byte-plane grouping; default 1 */
  TCODEC_WP_DETECT = 4,      /* lossless add: detect exact ternary/binary; default 1 */
  TCODEC_WP_ALIGNMENT = 5    /* payload alignment, power of two >= 64; default 64 */
} tcodec_wparam;

/** Create a writer; `alloc` may be NULL. */
TCODEC_API int tcodec_writer_create(tcodec_writer **out, const tcodec_allocator *alloc);
/** Release a writer. Does not finish the file. NULL is a no-op. */
TCODEC_API void tcodec_writer_free(tcodec_writer *w);
/** Set a parameter; TCODEC_E_ARG if out of bounds (see tcodec_writer_param_bounds). */
TCODEC_API int tcodec_writer_set_param(tcodec_writer *w, int param, int value);
TCODEC_API int tcodec_writer_param_bounds(int param, int *lo, int *hi);

/** Start a container that goes to `fn` (e.g. a FILE, a pipe, memory). The
 *  writer keeps only the directory and one tensor in memory. */
TCODEC_API int tcodec_writer_begin(tcodec_writer *w, tcodec_write_fn fn, void *user);

/** Model-level metadata (replaces an existing key). Keys "source_format" and
 *  "producer" are the well-known ones. Value is UTF-8 text. */
TCODEC_API int tcodec_writer_set_meta(tcodec_writer *w, const char *key, const char *value);
/** Metadata whose value is a byte string. */
TCODEC_API int tcodec_writer_set_meta_bytes(tcodec_writer *w, const char *key, const void *value,
                                            size_t value_size);
/** Add a shared section (e.g. the rest of a source model). */
TCODEC_API int tcodec_writer_add_section(tcodec_writer *w, const char *type, int critical,
                                         const void *src, size_t src_size);

/** Describes one tensor to add. Unused fields stay zero. */
typedef struct tcodec_tensor_desc {
  const char *name;
  int dtype;             /* original dtype */
  unsigned ndim;
  const uint64_t *shape;
  /* Per-tensor text metadata, `meta_count` key/value pairs. */
  const char *const *meta_keys;
  const char *const *meta_values;
  size_t meta_count;
} tcodec_tensor_desc;

/** Add a tensor from its raw little-endian bytes (src_size = nelem * dtype size).
 *  Lossless: with TCODEC_WP_DETECT, float tensors whose values are exactly
 *  {-a, 0, +b} or two values are stored ternary/binary; bit-exact either way. */
TCODEC_API int tcodec_writer_add_raw(tcodec_writer *w, const tcodec_tensor_desc *t,
                                     const void *src, size_t src_size);

/** An already quantized tensor. */
typedef struct tcodec_quantized {
  int encoding;            /* TERNARY, BINARY, KBIT or HYBRID */
  int granularity;         /* tcodec_granularity (hybrid: filters along axis 0) */
  unsigned axis;
  uint64_t group_size;
  int symmetric;           /* 1: scales[u]; 0: scales[2u] = w_p, scales[2u+1] = w_n.
                              HYBRID: unit r is the r-th TERNARY filter (its rank among
                              the ternary filters, not its index along axis 0) */
  int scale_dtype;         /* F32, F16, BF16 */
  const void *scales;      /* units (x2 if asymmetric) values in scale_dtype */
  /* TERNARY/BINARY: nelem symbols -1/0/+1 (binary: -1/+1).
   * HYBRID: symbols of ternary filters; ignored in full ones. */
  const int8_t *symbols;
  /* KBIT: */
  unsigned bits;           /* 2..8 */
  const uint8_t *codes;    /* nelem codes < 2^bits (masked-out entries ignored) */
  const uint8_t *zero_points; /* units bytes, or NULL: zero point 2^(bits-1) */
  const uint8_t *mask;     /* NULL or nelem bytes 0/1: element is coded */
  /* HYBRID: */
  const uint8_t *filter_ternary; /* shape[0] bytes 0/1 */
  int full_dtype;          /* F16 or F32 */
  const void *full_values; /* nelem values in full_dtype (only full filters read) */
} tcodec_quantized;

/** Add an already quantized tensor (stored as given, no requantization). */
TCODEC_API int tcodec_writer_add_quantized(tcodec_writer *w, const tcodec_tensor_desc *t,
                                           const tcodec_quantized *q);

/* What tcodec_writer_add_f32 should do with float data. Later quantizers are
 * new methods and new fields at the end. Initialise with tcodec_request_init. */
typedef enum tcodec_method {
  TCODEC_Q_LOSSLESS = 0, /* store the original dtype exactly (with detection) */
  TCODEC_Q_TWN = 1,      /* ternary: delta = threshold * mean|w| per unit, scale = mean of
                            |w| above delta (Li & Liu, Ternary Weight Networks) */
  TCODEC_Q_EC2T = 2,     /* entropy-constrained ternary (after EC2T): per unit w_p, w_n and
                            each weight's symbol minimise squared error + lambda * code
                            length under the symbol probabilities, iterated (Lloyd-style) */
  TCODEC_Q_BINARY = 3,   /* binary {-w_n, +w_p} by sign; scales = mean magnitudes */
  TCODEC_Q_KBIT = 4,     /* uniform `bits`-bit codes per unit, optionally after magnitude
                            pruning to `sparsity` (SQuantizer: prune, then quantize) */
  TCODEC_Q_HYBRID = 5,   /* per output filter (axis 0): ternary (TWN) or full precision in
                            `full_dtype`, by `error_budget` or `ternary_fraction` */
  TCODEC_Q_ADAPTIVE_BT = 6 /* per tensor: binary or ternary (TWN), whichever minimises
                              rel_err^2 + size_weight * bits/weight (Smart Quantization) */
} tcodec_method;

typedef struct tcodec_request {
  int method;          /* tcodec_method */
  int granularity;     /* default TCODEC_GRAN_CHANNEL */
  unsigned axis;       /* default 0 */
  uint64_t group_size; /* for TCODEC_GRAN_GROUP */
  int symmetric;       /* default 1 */
  int scale_dtype;     /* default F32 */
  double threshold;    /* TWN (also hybrid's and adaptive's ternary): default 0.7 */
  double lambda;       /* EC2T rate weight (per bit, relative to the unit's mean w^2); default 0.05 */
  unsigned max_iter;   /* EC2T iterations at most; default 30 */
  unsigned bits;       /* k-bit: 2..8; default 4 */
  double sparsity;     /* k-bit: fraction of smallest |w| pruned first (mask); default 0 */
  int zero_point;      /* k-bit: 1 = min/max range with a zero point per unit; default 0 */
  int full_dtype;      /* hybrid: F16 (default) or F32 for full-precision filters */
  double error_budget; /* hybrid: ternarize a filter when its TWN relative L2 error <= this;
                          default 0.5 */
  double ternary_fraction; /* hybrid: if > 0, ternarize this fraction of the filters (those
                              with the lowest error) instead of using error_budget */
  double size_weight;  /* adaptive: weight of bits/weight against rel_err^2; default 0.01 */
  uint64_t reserved_[4];
} tcodec_request;

/** Fill `req` with defaults (method LOSSLESS). */
TCODEC_API void tcodec_request_init(tcodec_request *req);

/** Add a tensor given as float32 values, encoded as `req` asks (NULL: lossless).
 *  t->dtype is the original dtype; for LOSSLESS every f32 value must convert to
 *  it and back bit for bit (TCODEC_E_VALUE otherwise, e.g. a NaN payload f16
 *  cannot hold). Not in decoder-only builds. */
TCODEC_API int tcodec_writer_add_f32(tcodec_writer *w, const tcodec_tensor_desc *t,
                                     const float *src, size_t nelem, const tcodec_request *req);

/** Write the directory and the trailer. After this, only free is allowed. */
TCODEC_API int tcodec_writer_finish(tcodec_writer *w);

/** Message for the last failure of a writer call. */
TCODEC_API const char *tcodec_writer_error_message(const tcodec_writer *w);

#ifdef __cplusplus
}
#endif
#endif /* TCODEC_H */
