/* Reader context: creation, limits, opening (header, trailer, directory), errors. */
#define _POSIX_C_SOURCE 200809L
#define _FILE_OFFSET_BITS 64
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tc_reader.h"

static const uint64_t tc_default_limits[TC_NLIMITS] = {
    0,
    [TCODEC_LIMIT_DIR_BYTES] = 64ull << 20,
    [TCODEC_LIMIT_TENSORS] = 1000000ull,
    [TCODEC_LIMIT_TENSOR_ELEMS] = 1ull << 36,
    [TCODEC_LIMIT_ALLOC_BYTES] = 16ull << 30,
    [TCODEC_LIMIT_META_BYTES] = 16ull << 20,
    [TCODEC_LIMIT_SECTION_BYTES] = 1ull << 30,
};

int tcodec_reader_create(tcodec_reader **out, const tcodec_allocator *alloc) {
  if (out == NULL) return TCODEC_E_ARG;
  *out = NULL;
  tc_mem m;
  tc_mem_init(&m, alloc);
  tcodec_reader *r = m.a.alloc(m.a.opaque, sizeof(*r));
  if (r == NULL) return TCODEC_E_NOMEM;
  memset(r, 0, sizeof(*r));
  r->mem = m;
  memcpy(r->limits, tc_default_limits, sizeof(r->limits));
  r->mem.limit = r->limits[TCODEC_LIMIT_ALLOC_BYTES];
  r->err_off = UINT64_MAX;
  *out = r;
  return TCODEC_OK;
}

/* Drop everything parsed from a file; the context returns to TC_R_NEW. */
void tc_reader_clear(tcodec_reader *r) {
  tc_mem *m = &r->mem;
  for (size_t i = 0; r->tensors != NULL && i < r->ntensors; i++) {
    tc_free(m, r->tensors[i].name);
    tc_free(m, r->tensors[i].shape);
    tc_kvs_free(m, r->tensors[i].meta, r->tensors[i].nmeta);
  }
  tc_free(m, r->tensors);
  tc_free(m, r->by_name);
  tc_kvs_free(m, r->meta, r->nmeta);
  for (size_t i = 0; r->sections != NULL && i < r->nsections; i++) tc_free(m, r->sections[i].type);
  tc_free(m, r->sections);
  r->tensors = NULL;
  r->by_name = NULL;
  r->meta = NULL;
  r->sections = NULL;
  r->ntensors = r->nmeta = r->nsections = 0;
  r->meta_bytes = 0;
  if (r->fp != NULL) fclose(r->fp);
  r->fp = NULL;
  tc_free(m, r->path);
  r->path = NULL;
  r->buf = NULL;
  r->file_size = 0;
  r->state = TC_R_NEW;
}

void tcodec_reader_free(tcodec_reader *r) {
  if (r == NULL) return;
  tc_reader_clear(r);
  r->mem.a.free(r->mem.a.opaque, r);
}

int tcodec_reader_set_limit(tcodec_reader *r, int limit, uint64_t value) {
  if (r == NULL || limit <= 0 || limit >= TC_NLIMITS) return TCODEC_E_ARG;
  if (r->state != TC_R_NEW) return TCODEC_E_BADSTATE;
  r->limits[limit] = value != 0 ? value : tc_default_limits[limit];
  if (limit == TCODEC_LIMIT_ALLOC_BYTES) r->mem.limit = r->limits[limit];
  return TCODEC_OK;
}

int tcodec_reader_get_limit(const tcodec_reader *r, int limit, uint64_t *value) {
  if (r == NULL || value == NULL || limit <= 0 || limit >= TC_NLIMITS) return TCODEC_E_ARG;
  *value = r->limits[limit];
  return TCODEC_OK;
}

int tc_rfail(tcodec_reader *r, int code, uint64_t off, const char *fmt, ...) {
  char reason[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof(reason), fmt, ap);
  va_end(ap);
  const char *file = r->path != NULL ? r->path : "<memory>";
  r->err_off = off;
  if (off == UINT64_MAX)
    snprintf(r->err_msg, sizeof(r->err_msg), "%s: %s (%s)", file, reason, tcodec_strerror(code));
  else
    snprintf(r->err_msg, sizeof(r->err_msg), "%s: offset %llu: %s (%s)", file,
             (unsigned long long)off, reason, tcodec_strerror(code));
  return code;
}

uint64_t tcodec_reader_error_offset(const tcodec_reader *r) {
  return r != NULL ? r->err_off : UINT64_MAX;
}

const char *tcodec_reader_error_message(const tcodec_reader *r) {
  if (r == NULL) return "no reader";
  return r->err_msg[0] != '\0' ? r->err_msg : "no error";
}

int tc_rread(tcodec_reader *r, uint64_t off, void *dst, size_t n) {
  if (r->buf != NULL) {
    memcpy(dst, r->buf + off, n);
    return TCODEC_OK;
  }
  if (off > (uint64_t)INT64_MAX || fseeko(r->fp, (off_t)off, SEEK_SET) != 0 ||
      fread(dst, 1, n, r->fp) != n)
    return tc_rfail(r, TCODEC_E_IO, off, "cannot read %zu bytes", n);
  return TCODEC_OK;
}

/* ---- header and trailer ----------------------------------------------- */

static int tc_check_header(tcodec_reader *r) {
  uint8_t h[TC_HEADER_SIZE];
  int rc = tc_rread(r, 0, h, sizeof(h));
  if (rc != 0) return rc;
  if (memcmp(h, tc_magic, 8) != 0) return tc_rfail(r, TCODEC_E_MAGIC, 0, "bad magic number");
  if (tc_le64(h + 16) != tc_xxh3(h, 16))
    return tc_rfail(r, TCODEC_E_HEADER, 16, "header checksum mismatch");
  r->major = tc_le16(h + 8);
  r->minor = tc_le16(h + 10);
  if (r->major != TCODEC_FORMAT_MAJOR)
    return tc_rfail(r, TCODEC_E_VERSION, 8, "format version %u.%u, this reader reads %u.x",
                    r->major, r->minor, TCODEC_FORMAT_MAJOR);
  if (tc_le32(h + 12) != 0) return tc_rfail(r, TCODEC_E_RESERVED, 12, "header flags not zero");
  return TCODEC_OK;
}

static int tc_check_trailer(tcodec_reader *r) {
  uint8_t t[TC_TRAILER_SIZE];
  uint64_t base = r->file_size - TC_TRAILER_SIZE;
  int rc = tc_rread(r, base, t, sizeof(t));
  if (rc != 0) return rc;
  if (memcmp(t + 40, tc_end_magic, 8) != 0)
    return tc_rfail(r, TCODEC_E_TRAILER, base + 40, "bad end magic (file truncated?)");
  if (tc_le64(t + 32) != tc_xxh3(t, 32))
    return tc_rfail(r, TCODEC_E_TRAILER, base + 32, "trailer checksum mismatch");
  if (tc_le16(t + 24) != r->major || tc_le16(t + 26) != r->minor)
    return tc_rfail(r, TCODEC_E_TRAILER, base + 24, "trailer version differs from header");
  if (tc_le32(t + 28) != 0) return tc_rfail(r, TCODEC_E_RESERVED, base + 28, "trailer flags not zero");
  r->dir_offset = tc_le64(t);
  r->dir_size = tc_le64(t + 8);
  if (r->dir_offset < TC_HEADER_SIZE || r->dir_offset > base || r->dir_size != base - r->dir_offset)
    return tc_rfail(r, TCODEC_E_TRAILER, base, "directory offset %llu size %llu do not fit the file",
                    (unsigned long long)r->dir_offset, (unsigned long long)r->dir_size);
  if (r->dir_size > r->limits[TCODEC_LIMIT_DIR_BYTES])
    return tc_rfail(r, TCODEC_E_LIMIT, base + 8, "directory of %llu bytes exceeds the limit %llu",
                    (unsigned long long)r->dir_size,
                    (unsigned long long)r->limits[TCODEC_LIMIT_DIR_BYTES]);
  r->dir_checksum_ = tc_le64(t + 16);
  return TCODEC_OK;
}

static int tc_load_directory(tcodec_reader *r) {
  const uint8_t *dir;
  uint8_t *owned = NULL;
  if (r->buf != NULL) {
    dir = r->buf + r->dir_offset;
  } else {
    owned = tc_malloc(&r->mem, (size_t)r->dir_size);
    if (owned == NULL) return tc_rfail(r, tc_mem_err(&r->mem), r->dir_offset, "directory buffer");
    int rc = tc_rread(r, r->dir_offset, owned, (size_t)r->dir_size);
    if (rc != 0) {
      tc_free(&r->mem, owned);
      return rc;
    }
    dir = owned;
  }
  int rc = TCODEC_OK;
  if (tc_xxh3(dir, (size_t)r->dir_size) != r->dir_checksum_)
    rc = tc_rfail(r, TCODEC_E_DIR_CHECKSUM, r->dir_offset, "directory checksum mismatch");
  else
    rc = tc_dir_parse(r, dir, (size_t)r->dir_size);
  tc_free(&r->mem, owned);
  return rc;
}

static int tc_open_common(tcodec_reader *r) {
  int rc;
  if (r->file_size < TC_MIN_FILE_SIZE)
    rc = tc_rfail(r, TCODEC_E_TRUNCATED, r->file_size, "file of %llu bytes is shorter than %u",
                  (unsigned long long)r->file_size, TC_MIN_FILE_SIZE);
  else if ((rc = tc_check_header(r)) == 0 && (rc = tc_check_trailer(r)) == 0)
    rc = tc_load_directory(r);
  if (rc != 0) {
    /* Keep the message, drop the half-parsed state; the context refuses further use. */
    char msg[sizeof(r->err_msg)];
    uint64_t off = r->err_off;
    memcpy(msg, r->err_msg, sizeof(msg));
    tc_reader_clear(r);
    memcpy(r->err_msg, msg, sizeof(msg));
    r->err_off = off;
    r->state = TC_R_FAILED;
    return rc;
  }
  r->state = TC_R_OPEN;
  return TCODEC_OK;
}

int tcodec_reader_open_memory(tcodec_reader *r, const void *src, size_t src_size) {
  if (r == NULL || (src == NULL && src_size != 0)) return TCODEC_E_ARG;
  if (r->state != TC_R_NEW) return TCODEC_E_BADSTATE;
  static const uint8_t empty[1] = {0};
  r->buf = src != NULL ? src : empty;
  r->file_size = src_size;
  return tc_open_common(r);
}

int tcodec_reader_open_file(tcodec_reader *r, const char *path) {
  if (r == NULL || path == NULL) return TCODEC_E_ARG;
  if (r->state != TC_R_NEW) return TCODEC_E_BADSTATE;
  r->path = tc_strndup(&r->mem, path, strlen(path));
  if (r->path == NULL) return TCODEC_E_NOMEM;
  r->fp = fopen(path, "rb");
  if (r->fp == NULL) {
    int rc = tc_rfail(r, TCODEC_E_IO, UINT64_MAX, "cannot open for reading");
    tc_free(&r->mem, r->path);
    r->path = NULL;
    r->state = TC_R_FAILED;
    return rc;
  }
  off_t end;
  if (fseeko(r->fp, 0, SEEK_END) != 0 || (end = ftello(r->fp)) < 0) {
    int rc = tc_rfail(r, TCODEC_E_IO, UINT64_MAX, "cannot seek (not a regular file?)");
    tc_reader_clear(r);
    r->state = TC_R_FAILED;
    return rc;
  }
  r->file_size = (uint64_t)end;
  return tc_open_common(r);
}

int tcodec_reader_format_version(const tcodec_reader *r, unsigned *major, unsigned *minor) {
  if (r == NULL) return TCODEC_E_ARG;
  if (r->state != TC_R_OPEN) return TCODEC_E_BADSTATE;
  if (major != NULL) *major = r->major;
  if (minor != NULL) *minor = r->minor;
  return TCODEC_OK;
}
