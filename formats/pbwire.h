/* Protobuf wire format at the byte level (https://protobuf.dev/programming-guides/encoding/):
 * a field cursor that checks every length against the enclosing message and the buffer,
 * varint coding, tensor elements stored as varints, and a splicer that rebuilds a message
 * from its bytes with some spans replaced, re-encoding the length prefixes around spans
 * whose size changed. No schema, no allocation except where stated; errors are TCODEC_E_*
 * codes with the byte offset where the problem lies. Used by the ONNX module. */
#ifndef TCF_PBWIRE_H
#define TCF_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

#include <tcodec/tcodec.h>

enum pb_wire_type {
  PB_VARINT = 0,
  PB_I64 = 1,
  PB_LEN = 2,
  PB_SGROUP = 3,
  PB_EGROUP = 4,
  PB_I32 = 5
};

#define PB_MAX_FIELD 536870911u /* 2^29 - 1 */
#define PB_VARINT_MAX 10u

/* One field of a message. Offsets are absolute in the buffer. */
typedef struct pb_field {
  uint32_t num;   /* field number, 1..PB_MAX_FIELD */
  unsigned wt;    /* wire type: PB_VARINT, PB_I64, PB_LEN or PB_I32 (groups are refused) */
  size_t tag_pos; /* first byte of the tag */
  size_t len_pos; /* first byte after the tag (PB_LEN: of the length varint) */
  size_t pos;     /* first byte of the value (PB_LEN: of the payload, after the length) */
  size_t end;     /* one past the value */
  uint64_t u;     /* PB_VARINT, PB_I64, PB_I32: the value; PB_LEN: the length */
} pb_field;

/* Fields of the message buf[pos, end); buf_size is the whole buffer, so that a field
 * running past `end` is told apart from one running past the end of the file. */
typedef struct pb_cursor {
  const uint8_t *buf;
  size_t pos, end, buf_size;
} pb_cursor;

/* Failure of pb_next: status, offset and a static reason. */
typedef struct pb_status {
  int code;
  size_t offset;
  const char *what;
} pb_status;

void pb_cursor_init(pb_cursor *c, const uint8_t *buf, size_t buf_size, size_t pos, size_t end);
/* Next field: 1 and *f filled, 0 at the end of the message, or a TCODEC_E_* status
 * with *st filled: E_TRUNCATED (runs past the end of the buffer), E_PAYLOAD (runs
 * past its enclosing message, varint longer than 10 bytes or above 2^64, field
 * number 0 or too large, wire type 6 or 7), E_UNSUPPORTED_FEATURE (groups). */
int pb_next(pb_cursor *c, pb_field *f, pb_status *st);

/* Varint at buf[*pos] (not past `end`): 0, E_TRUNCATED or E_PAYLOAD. */
int pb_get_varint(const uint8_t *buf, size_t end, size_t *pos, uint64_t *v);
unsigned pb_varint_size(uint64_t v);
/* Canonical (shortest) encoding into dst (>= 10 bytes); returns its size. */
unsigned pb_put_varint(uint8_t *dst, uint64_t v);
uint64_t pb_get_le(const uint8_t *p, unsigned width);

/* Tensor elements carried as varints: `width` bytes little-endian (1, 2, 4 or 8),
 * sign-extended to 64 bits when `is_signed` (int32_data holding int8, int64_data...),
 * zero-extended otherwise (uint8, bool, float16 bits...). */
typedef struct pb_elem {
  unsigned width;
  int is_signed;
} pb_elem;

uint64_t pb_elem_varint(pb_elem e, const uint8_t *src);
/* Stores varint value v as one element at dst; returns 1 when the element gives back
 * exactly v (the value fits the element type), 0 otherwise. */
int pb_elem_store(pb_elem e, uint64_t v, uint8_t *dst);
/* Number of varints in a packed run buf[0, n), or UINT64_MAX if the run is malformed
 * (ends inside a varint). */
uint64_t pb_count_varints(const uint8_t *buf, size_t n);
/* Decodes a packed run of exactly `count` varints into dst; returns 1 when every varint
 * is canonical (shortest form) and fits the element type, i.e. re-encoding the elements
 * gives back exactly buf[0, n); 0 otherwise. */
int pb_decode_varints(pb_elem e, const uint8_t *buf, size_t n, uint64_t count, uint8_t *dst);
/* Bytes of the canonical encoding of `count` elements. */
uint64_t pb_varints_size(pb_elem e, const uint8_t *src, uint64_t count);

/* ---- splicing: rebuild a message with spans replaced ----------------------------------------- */

/* An edit of the original message, in original offsets. A hole is a span cut out of
 * the original and replaced by new content of `new_len` bytes (set by the caller); a
 * length prefix is the varint of a PB_LEN field whose payload [pos + old_len, end)
 * contains holes whose size may change: pb_splice_resolve computes its new value. */
typedef struct pb_edit {
  uint64_t pos, old_len, new_len;
  uint64_t end;       /* length prefix: end of the payload it measures (0 for a hole) */
  uint64_t old_value; /* length prefix: the length it holds in the original */
  uint64_t new_value; /* length prefix: computed */
  size_t user;        /* hole: caller's index */
  int is_prefix;
} pb_edit;

/* Edits must be sorted by pos, must not overlap, prefixes must nest (a prefix either
 * contains a later edit or ends before it) and holes must not be empty. Computes
 * new_value/new_len of every prefix (the original varint is kept when the length does
 * not change). Returns 0, E_PAYLOAD if the edits are inconsistent or E_OVERFLOW. */
int pb_splice_resolve(pb_edit *e, size_t n);

/* Writes the rebuilt message: the bytes of `kept` (the original without the holes, in
 * order) with each hole's content given by `hole` and each changed prefix re-encoded.
 * `kept_size` must be the original size minus the holes. */
typedef int (*pb_hole_fn)(void *user, const pb_edit *hole, tcodec_write_fn fn, void *fn_user);
int pb_splice_write(const uint8_t *kept, size_t kept_size, const pb_edit *e, size_t n,
                    pb_hole_fn hole, void *hole_user, tcodec_write_fn fn, void *fn_user);

#endif /* TCF_PBWIRE_H */
