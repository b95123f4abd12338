/* Protobuf wire format at the byte level: see pbwire.h. */
#include "pbwire.h"

#include <string.h>

/* ---- varints --------------------------------------------------------------------------------- */

int pb_get_varint(const uint8_t *buf, size_t end, size_t *pos, uint64_t *v) {
  uint64_t x = 0;
  size_t p = *pos;
  for (unsigned i = 0; i < PB_VARINT_MAX; i++, p++) {
    if (p >= end) return TCODEC_E_TRUNCATED;
    uint8_t b = buf[p];
    if (i == PB_VARINT_MAX - 1 && b > 1) return TCODEC_E_PAYLOAD; /* above 2^64 or 11+ bytes */
    x |= (uint64_t)(b & 0x7F) << (7 * i);
    if (b < 0x80) {
      *pos = p + 1;
      *v = x;
      return 0;
    }
  }
  return TCODEC_E_PAYLOAD; /* unreachable: the 10th byte is <= 1 */
}

unsigned pb_varint_size(uint64_t v) {
  unsigned n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

unsigned pb_put_varint(uint8_t *dst, uint64_t v) {
  unsigned n = 0;
  while (v >= 0x80) {
    dst[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  dst[n++] = (uint8_t)v;
  return n;
}

uint64_t pb_get_le(const uint8_t *p, unsigned width) {
  uint64_t v = 0;
  for (unsigned i = 0; i < width; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* ---- fields ---------------------------------------------------------------------------------- */

void pb_cursor_init(pb_cursor *c, const uint8_t *buf, size_t buf_size, size_t pos, size_t end) {
  c->buf = buf;
  c->buf_size = buf_size;
  c->pos = pos;
  c->end = end;
}

static int pb_fail(pb_status *st, int code, size_t offset, const char *what) {
  st->code = code;
  st->offset = offset;
  st->what = what;
  return code;
}

/* A value that does not fit [pos, c->end): truncated if the buffer ends first. */
static int pb_past_end(const pb_cursor *c, pb_status *st, size_t at, uint64_t need_end,
                       const char *what) {
  int code = need_end > c->buf_size ? TCODEC_E_TRUNCATED : TCODEC_E_PAYLOAD;
  return pb_fail(st, code, at, what);
}

static int pb_varint_at(const pb_cursor *c, size_t *pos, uint64_t *v, pb_status *st,
                        const char *what) {
  size_t at = *pos;
  int rc = pb_get_varint(c->buf, c->end, pos, v);
  if (rc == TCODEC_E_TRUNCATED) return pb_past_end(c, st, at, (uint64_t)c->end + 1, what);
  if (rc != 0) return pb_fail(st, rc, at, "varint longer than 10 bytes or above 2^64");
  return 0;
}

static int pb_value(pb_cursor *c, pb_field *f, pb_status *st) {
  static const unsigned fixed[8] = {0, 8, 0, 0, 0, 4, 0, 0};
  size_t p = c->pos;
  int rc = 0;
  f->len_pos = p;
  if (f->wt == PB_VARINT) {
    rc = pb_varint_at(c, &p, &f->u, st, "varint runs past the end of its message");
  } else if (f->wt == PB_LEN) {
    size_t len_pos = p;
    rc = pb_varint_at(c, &p, &f->u, st, "length runs past the end of its message");
    if (rc == 0 && f->u > c->end - p) {
      uint64_t need = f->u > UINT64_MAX - p ? UINT64_MAX : p + f->u;
      return pb_past_end(c, st, len_pos, need,
                         "length-delimited field runs past the end of its message");
    }
    if (rc == 0) {
      f->pos = p;
      p += (size_t)f->u;
    }
  } else {
    unsigned w = fixed[f->wt];
    if (w > c->end - p)
      return pb_past_end(c, st, p, (uint64_t)p + w, "fixed-width value cut short");
    f->u = pb_get_le(c->buf + p, w);
    p += w;
  }
  if (rc != 0) return rc;
  if (f->wt != PB_LEN) f->pos = c->pos;
  f->end = p;
  c->pos = p;
  return 0;
}

int pb_next(pb_cursor *c, pb_field *f, pb_status *st) {
  if (c->pos >= c->end) return 0;
  uint64_t tag;
  f->tag_pos = c->pos;
  int rc = pb_varint_at(c, &c->pos, &tag, st, "tag runs past the end of its message");
  if (rc != 0) return rc;
  f->wt = (unsigned)(tag & 7);
  if (tag >> 3 == 0 || tag >> 3 > PB_MAX_FIELD)
    return pb_fail(st, TCODEC_E_PAYLOAD, f->tag_pos, "invalid field number");
  f->num = (uint32_t)(tag >> 3);
  if (f->wt == PB_SGROUP || f->wt == PB_EGROUP)
    return pb_fail(st, TCODEC_E_UNSUPPORTED_FEATURE, f->tag_pos,
                   "groups (wire types 3, 4) are not supported");
  if (f->wt > PB_I32) return pb_fail(st, TCODEC_E_PAYLOAD, f->tag_pos, "invalid wire type");
  rc = pb_value(c, f, st);
  return rc != 0 ? rc : 1;
}

/* ---- elements as varints --------------------------------------------------------------------- */

uint64_t pb_elem_varint(pb_elem e, const uint8_t *src) {
  uint64_t v = pb_get_le(src, e.width);
  if (e.is_signed && e.width < 8 && (v >> (8 * e.width - 1)) & 1)
    v |= ~(uint64_t)0 << (8 * e.width);
  return v;
}

int pb_elem_store(pb_elem e, uint64_t v, uint8_t *dst) {
  for (unsigned i = 0; i < e.width; i++) dst[i] = (uint8_t)(v >> (8 * i));
  return pb_elem_varint(e, dst) == v;
}

uint64_t pb_count_varints(const uint8_t *buf, size_t n) {
  uint64_t count = 0;
  for (size_t i = 0; i < n; i++) count += buf[i] < 0x80;
  return n == 0 || buf[n - 1] < 0x80 ? count : UINT64_MAX;
}

int pb_decode_varints(pb_elem e, const uint8_t *buf, size_t n, uint64_t count, uint8_t *dst) {
  size_t p = 0;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t v;
    size_t at = p;
    if (pb_get_varint(buf, n, &p, &v) != 0 || pb_varint_size(v) != p - at) return 0;
    if (!pb_elem_store(e, v, dst + i * e.width)) return 0;
  }
  return p == n;
}

uint64_t pb_varints_size(pb_elem e, const uint8_t *src, uint64_t count) {
  uint64_t n = 0;
  for (uint64_t i = 0; i < count; i++) n += pb_varint_size(pb_elem_varint(e, src + i * e.width));
  return n;
}

/* ---- splicing -------------------------------------------------------------------------------- */

/* Open length prefixes while walking the edits in order. */
#define PB_SPLICE_DEPTH 1024

typedef struct pb_open {
  pb_edit *e;
  int64_t delta; /* change of the payload so far */
} pb_open;

/* Closes the innermost open prefix and passes its total change to its parent. */
static int pb_close(pb_open *st, size_t *depth, int64_t *outer) {
  pb_open *o = &st[--*depth];
  int64_t d = o->delta;
  if ((d < 0 && (uint64_t)-d > o->e->old_value) ||
      (d > 0 && o->e->old_value + (uint64_t)d < o->e->old_value))
    return TCODEC_E_OVERFLOW;
  o->e->new_value = o->e->old_value + (uint64_t)d;
  o->e->new_len = d == 0 ? o->e->old_len : pb_varint_size(o->e->new_value);
  d += (int64_t)o->e->new_len - (int64_t)o->e->old_len;
  if (*depth > 0)
    st[*depth - 1].delta += d;
  else
    *outer += d;
  return 0;
}

int pb_splice_resolve(pb_edit *e, size_t n) {
  pb_open st[PB_SPLICE_DEPTH];
  size_t depth = 0;
  int64_t outer = 0;
  uint64_t prev_end = 0;
  for (size_t i = 0; i < n; i++) {
    if (e[i].pos < prev_end || e[i].old_len == 0 || e[i].pos + e[i].old_len < e[i].pos)
      return TCODEC_E_PAYLOAD;
    while (depth > 0 && st[depth - 1].e->end <= e[i].pos)
      if (pb_close(st, &depth, &outer) != 0) return TCODEC_E_OVERFLOW;
    uint64_t end = e[i].pos + e[i].old_len;
    if (depth > 0 && end > st[depth - 1].e->end) return TCODEC_E_PAYLOAD; /* straddles */
    if (e[i].is_prefix) {
      if (e[i].end != end + e[i].old_value || e[i].end < end || depth == PB_SPLICE_DEPTH ||
          (depth > 0 && e[i].end > st[depth - 1].e->end))
        return TCODEC_E_PAYLOAD;
      st[depth].e = &e[i];
      st[depth++].delta = 0;
    } else {
      if (e[i].new_len > INT64_MAX / 2 || e[i].old_len > INT64_MAX / 2) return TCODEC_E_OVERFLOW;
      int64_t d = (int64_t)e[i].new_len - (int64_t)e[i].old_len;
      if (depth > 0)
        st[depth - 1].delta += d;
      else
        outer += d;
    }
    prev_end = end;
  }
  while (depth > 0)
    if (pb_close(st, &depth, &outer) != 0) return TCODEC_E_OVERFLOW;
  return 0;
}

int pb_splice_write(const uint8_t *kept, size_t kept_size, const pb_edit *e, size_t n,
                    pb_hole_fn hole, void *hole_user, tcodec_write_fn fn, void *fn_user) {
  size_t k = 0;      /* position in kept */
  uint64_t orig = 0; /* matching position in the original */
  for (size_t i = 0; i < n; i++) {
    uint64_t gap = e[i].pos - orig;
    if (gap > kept_size - k) return TCODEC_E_PAYLOAD;
    if (gap > 0 && fn(fn_user, kept + k, (size_t)gap) != 0) return TCODEC_E_IO;
    k += (size_t)gap;
    orig = e[i].pos + e[i].old_len;
    if (!e[i].is_prefix) {
      int rc = hole(hole_user, &e[i], fn, fn_user);
      if (rc != 0) return rc;
      continue;
    }
    if (e[i].old_len > kept_size - k) return TCODEC_E_PAYLOAD;
    uint8_t v[PB_VARINT_MAX];
    int same = e[i].new_value == e[i].old_value;
    size_t len = same ? (size_t)e[i].old_len : pb_put_varint(v, e[i].new_value);
    if (fn(fn_user, same ? kept + k : v, len) != 0) return TCODEC_E_IO;
    k += (size_t)e[i].old_len;
  }
  if (k < kept_size && fn(fn_user, kept + k, kept_size - k) != 0) return TCODEC_E_IO;
  return 0;
}
