/* Internals of the ONNX reader (onnx.c: the model, graphs, nodes; onnx_tensor.c: tensors,
 * their data fields and external data). Not installed, not for other modules. */
#ifndef TCF_ONNX_INT_H
#define TCF_ONNX_INT_H

#include <stddef.h>
#include <stdint.h>

#include "onnx.h"
#include "pbwire.h"

#if defined(__GNUC__)
#define OX_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define OX_PRINTF(f, a)
#endif

#define OX_MAX_FRAMES 1024u
#define OX_MAX_META 1024u
#define OX_KEPT_TEXT 4096u
#define OX_NAME_MAX 4096u

typedef struct ox_hole {
  uint64_t pos, len, first, count, tensor, kind;
} ox_hole;

typedef struct ox_frame {           /* an open length-delimited message */
  size_t len_pos, pos, end, prefix; /* prefix: index in x->pre, SIZE_MAX if not recorded */
} ox_frame;

typedef struct ox_tinfo { /* per extracted tensor, parallel to m->tensors */
  uint32_t graph;
  const uint8_t *key; /* name consumers use, in src */
  size_t key_len;
  char *location; /* external data */
  uint64_t ext_offset;
} ox_tinfo;

typedef struct ox {
  const uint8_t *src;
  size_t n;
  const char *file;
  const tcf_onnx_external *ext;
  tcf_error *err;
  uint64_t max_tensors, max_file;
  tcf_model *m;
  size_t tcap, mcap;
  ox_tinfo *ti;
  ox_hole *holes;
  size_t nholes, hcap;
  uint64_t *pre; /* length prefixes: (pos, width, len) triples */
  size_t npre, pcap;
  ox_frame fr[OX_MAX_FRAMES];
  size_t nfr;
  unsigned depth;
  uint32_t graphs;
  tcf_buf path, kept, opsets;
  uint64_t nkept;
  char **names; /* open-addressing set of the tensor names given so far */
  size_t names_cap, names_n;
} ox;

typedef struct ox_span {
  const uint8_t *p;
  size_t n;
} ox_span;

typedef int (*ox_fn)(ox *x, const pb_field *f, void *st);
typedef struct ox_rule {
  uint32_t num;
  unsigned wt;
  ox_fn fn;
} ox_rule;

/* Where the tensor sits: preferred name (a Constant's output), the name consumers use,
 * and the node when the tensor is the attribute of a node other than Constant. */
typedef struct ox_site {
  uint32_t graph;
  const uint8_t *name, *key, *op;
  size_t name_len, key_len, op_len;
  int key_is_name; /* initializer: consumers use the TensorProto name */
} ox_site;

typedef struct ox_newt {
  int dtype;
  unsigned ndim;
  uint64_t *shape;
  uint64_t nelem;
  const uint8_t *data;
  uint8_t *owned;
  const char *field;
} ox_newt;

/* Elements held in field `num` of a message, packed or one per field, either fixed-width
 * little-endian (float_data, double_data, floats, f) or varints. */
typedef struct ox_data {
  uint32_t num;
  int fixed; /* fixed-width little-endian, else varints */
  pb_elem el;
  int scalar; /* an optional (not repeated) field: one occurrence, its own wire type only */
} ox_data;

int OX_PRINTF(4, 5) ox_fail(ox *x, int code, uint64_t off, const char *fmt, ...);
int ox_nomem(ox *x);
int ox_grow(void *pp, size_t *cap, size_t n, size_t elem);
void ox_tput(tcf_buf *b, const void *s, size_t n);
void OX_PRINTF(2, 3) ox_printf(tcf_buf *b, const char *fmt, ...);
void ox_putv(tcf_buf *b, uint64_t v);
void ox_escape(tcf_buf *b, const uint8_t *s, size_t n, size_t max);
int ox_utf8_ok(const uint8_t *s, size_t n);
char *ox_strndup(const void *s, size_t n);
int ox_span_is(const uint8_t *s, size_t n, const char *lit);
size_t ox_path_mark(ox *x);
void ox_path_reset(ox *x, size_t mark);
void ox_keep(ox *x, const char *why);
int ox_walk(ox *x, size_t pos, size_t end, const ox_rule *rules, void *st);
int ox_push(ox *x, const pb_field *f);
int ox_tensor(ox *x, const pb_field *f, const ox_site *s);
int ox_data_tensor(ox *x, const pb_field *msg, const ox_data *d, const ox_site *s, ox_newt *nt,
                   const uint8_t *name, size_t name_len, uint64_t want_count);
int ox_ext_entry(ox *x, const pb_field *f, void *st);

#endif /* TCF_ONNX_INT_H */
