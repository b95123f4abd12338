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

/* ---- helpers shared by the format modules (formats/tcf_model.c) ------------
 * Everything a tcf_model owns is allocated with malloc; these helpers keep to
 * that, so tcf_model_free() releases any model they built. Each returns a
 * TCODEC_E_* status (TCODEC_E_NOMEM when an allocation fails, leaving the model
 * as it was). tcf_model_free(m) (above) releases everything m owns (names,
 * owned data, metadata, sections, the arrays) and zeroes *m; NULL is a no-op. */

/* Defaults of tcf_limits, applied to each field that is 0. */
#define TCF_DEFAULT_MAX_HEADER_BYTES 100000000u   /* safetensors' own MAX_HEADER_SIZE */
#define TCF_DEFAULT_MAX_TENSORS 1000000u
#define TCF_DEFAULT_MAX_FILE_BYTES ((uint64_t)1 << 40)

/* *out = *in (or all zero when in is NULL) with every 0 field set to its default. */
void tcf_limits_resolve(const tcf_limits *in, tcf_limits *out);

/* Fill *err (which may be NULL) and return `code`. `file` may be NULL (keeps
 * err->file as it is); offset is UINT64_MAX when there is none. The message is
 * cut to fit err->msg and kept on one line (control bytes become '?'). */
int tcf_error_set(tcf_error *err, int code, const char *file, uint64_t offset, const char *fmt,
                  ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
/* Reset *err (may be NULL) to "no error" for `file` (may be NULL). */
void tcf_error_clear(tcf_error *err, const char *file);

/* Model-level text metadata: append a copy of key/value (no check for an
 * existing key); find returns the value of the first entry with `key`, or NULL. */
int tcf_model_add_meta(tcf_model *m, const char *key, const char *value);
const char *tcf_model_find_meta(const tcf_model *m, const char *key);

/* Append to dst copies of the entries of src whose keys dst does not have
 * (src's own keys must be distinct). */
int tcf_model_merge_meta(tcf_model *dst, const tcf_model *src);

/* Append a section holding a copy of size bytes at data (data may be NULL when
 * size is 0); find returns the first section of that type, or NULL. */
int tcf_model_add_section(tcf_model *m, const char *type, const void *data, size_t size);
const tcf_section *tcf_model_find_section(const tcf_model *m, const char *type);

/* Per-tensor text metadata, same contract as the model-level pair. */
int tcf_tensor_add_meta(tcf_tensor *t, const char *key, const char *value);
const char *tcf_tensor_find_meta(const tcf_tensor *t, const char *key);

/* Release what one tensor owns (name, owned data, metadata) and zero it. */
void tcf_tensor_clear(tcf_tensor *t);

/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code points
 * past U+10FFFF), else 0 and *bad (if not NULL) is the offset of the first bad byte. */
int tcf_utf8_valid(const uint8_t *s, size_t n, size_t *bad);

/* ---- small tools for modules that read or write text formats ---------------- */

/* malloc'd copy of s; NULL when out of memory. */
char *tcf_strdup(const char *s);

/* A name taken from a file, fit for a one-line message: control bytes become
 * '?', names past 96 bytes are cut and end in "...". Use as tcf_show(name).s. */
typedef struct tcf_shown {
  char s[104];
} tcf_shown;
tcf_shown tcf_show(const char *name);

/* Growable byte buffer (zero-initialise it). After a failed allocation `oom` is
 * set and further appends are ignored; release with tcf_buf_free. */
typedef struct tcf_buf {
  char *p;
  size_t n, cap;
  int oom;
} tcf_buf;
void tcf_buf_put(tcf_buf *b, const void *src, size_t src_size);
void tcf_buf_puts(tcf_buf *b, const char *s);
void tcf_buf_put_u64(tcf_buf *b, uint64_t v); /* decimal */
/* s as a JSON string, escaped as serde_json and Python's json.dumps
 * (ensure_ascii=False) escape: '"', '\', and control bytes (\b \f \n \r \t,
 * others \u00xx in lowercase hex); every other byte as it is. */
void tcf_buf_put_json_string(tcf_buf *b, const char *s);
void tcf_buf_free(tcf_buf *b);

/* Byte position, from the start of json[0..len), of the opening quote of a key
 * in a JSON object text that a parser has already accepted: top-level key
 * number `top`, or with sub != TCF_JSON_TOP key number `sub` of the object that
 * is the value of that key. Counts keys in file order (as jansson iterates
 * them), for error offsets. 0 if there is no such key. */
/* NULL if `path` is a relative path of at most max_len bytes that stays inside
 * its folder: not absolute, no drive letter ("C:"), no backslash or control
 * byte, no empty, "." or ".." component. Otherwise a short reason (static).
 * Only the text is checked: symbolic links are the caller's business. */
const char *tcf_relpath_problem(const char *path, size_t max_len);

#define TCF_JSON_TOP SIZE_MAX
size_t tcf_json_key_pos(const uint8_t *json, size_t len, size_t top, size_t sub);

#endif
