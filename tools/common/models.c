/* Reading source models for tcpack and tcunpack --compare (see models.h). */
#define _POSIX_C_SOURCE 200809L
#include "models.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "io.h"
#include "onnx.h"
#include "safetensors.h"

static const char *const k_formats[] = {"auto", "safetensors", "onnx"};

int tt_format_from_name(const char *name) {
  for (int i = 1; i < 3; i++)
    if (strcmp(name, k_formats[i]) == 0) return i;
  return -1;
}

const char *tt_format_name(int format) {
  return format >= 0 && format < 3 ? k_formats[format] : "?";
}

void tt_print_tcf_error(const tcf_error *e, const char *shown) {
  const char *file = e->file[0] != '\0' ? e->file : shown;
  const char *msg = e->msg[0] != '\0' ? e->msg : tcodec_strerror(e->code);
  tt_error(file, e->offset, "%s", msg);
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int looks_json_object(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) i++;
  return i < n && p[i] == '{';
}

int tt_detect_format(const uint8_t *p, size_t n, const char *name, int *sharded) {
  *sharded = 0;
  if (n >= 10) {
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--) h = h << 8 | p[i];
    if (h >= 2 && h <= n - 8 && p[8] == '{') return TT_FMT_SAFETENSORS;
  }
  if ((name != NULL && ends_with(name, ".index.json")) || looks_json_object(p, n)) {
    *sharded = 1;
    return TT_FMT_SAFETENSORS;
  }
  if (name != NULL && ends_with(name, ".onnx")) return TT_FMT_ONNX;
  if (n >= 2 && p[0] == 0x08) return TT_FMT_ONNX; /* ModelProto.ir_version, written first */
  return TT_FMT_AUTO;
}

/* ---- the bytes a model borrows ------------------------------------------------------- */

static int keep_buf(tt_source *s, uint8_t *p, size_t n) {
  uint8_t **b = realloc(s->bufs, (s->nbufs + 1) * sizeof(*b));
  if (b != NULL) s->bufs = b;
  size_t *z = b != NULL ? realloc(s->buf_sizes, (s->nbufs + 1) * sizeof(*z)) : NULL;
  if (z != NULL) s->buf_sizes = z;
  if (b == NULL || z == NULL) return free(p), -1;
  s->bufs[s->nbufs] = p;
  s->buf_sizes[s->nbufs++] = n;
  s->input_bytes += n;
  return 0;
}

void tt_source_free(tt_source *s) {
  tcf_model_free(&s->model);
  for (size_t i = 0; i < s->nbufs; i++) free(s->bufs[i]);
  free(s->bufs);
  free(s->buf_sizes);
  if (s->dir_fd >= 0) close(s->dir_fd);
  memset(s, 0, sizeof(*s));
  s->dir_fd = -1;
}

void tt_source_each_input(const tt_source *s, tt_bytes_fn fn, void *user) {
  for (size_t i = 0; i < s->nbufs; i++) fn(user, s->bufs[i], s->buf_sizes[i]);
  for (size_t i = 0; i < s->model.ntensors; i++) {
    const char *field = tcf_tensor_find_meta(&s->model.tensors[i], "onnx.field");
    if (field != NULL && strcmp(field, "external_data") == 0)
      fn(user, s->model.tensors[i].data, (size_t)s->model.tensors[i].size);
  }
}

/* ---- safetensors ------------------------------------------------------------------------- */

static int read_shard(tt_source *s, const char *dir, const char *shard, uint8_t **p, size_t *n) {
  char *path = tt_path_join(dir, shard);
  if (path == NULL) return (tt_error(shard, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    tt_error(path, TT_NO_OFFSET, "%s", errno == ELOOP ? "is a symbolic link (refused)" : strerror(errno));
    free(path);
    return TT_EXIT_ERROR;
  }
  close(fd);
  int rc = tt_read_file(path, path, TCF_DEFAULT_MAX_FILE_BYTES, p, n);
  if (rc == 0 && keep_buf(s, *p, *n) != 0) rc = (tt_error(path, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
  free(path);
  return rc;
}

static int load_sharded(tt_source *s, const char *path, const uint8_t *idx, size_t n) {
  tcf_safetensors_index ix;
  tcf_error err;
  memset(&ix, 0, sizeof(ix));
  int rc = tcf_safetensors_shards_begin(&s->model, idx, n, path, NULL, &ix, &err);
  if (rc != 0) return (tt_print_tcf_error(&err, path), TT_EXIT_ERROR);
  char *dir = tt_path_dir(path);
  int out = dir != NULL ? 0 : (tt_error(path, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
  for (size_t i = 0; out == 0 && i < ix.nshards; i++) {
    uint8_t *p = NULL;
    size_t size = 0;
    out = read_shard(s, dir, ix.shards[i], &p, &size);
    if (out == 0 && tcf_safetensors_shards_add(&s->model, &ix, i, p, size, NULL, &err) != 0)
      out = (tt_print_tcf_error(&err, ix.shards[i]), TT_EXIT_ERROR);
  }
  if (out == 0 && tcf_safetensors_shards_end(&s->model, &ix, &err) != 0)
    out = (tt_print_tcf_error(&err, path), TT_EXIT_ERROR);
  tcf_safetensors_index_free(&ix);
  free(dir);
  return out;
}

/* ---- ONNX external data: the module's folder resolver, counting the bytes read -------- */

typedef struct ext_count {
  tcf_onnx_external inner;
  uint64_t bytes;
  char **seen; /* locations counted already (a file may hold many tensors) */
  size_t nseen;
} ext_count;

static int ext_open(void *user, const char *location, uint64_t *size, void **handle, tcf_error *err) {
  ext_count *c = user;
  int rc = c->inner.open(c->inner.user, location, size, handle, err);
  for (size_t i = 0; rc == 0 && i < c->nseen; i++)
    if (strcmp(c->seen[i], location) == 0) return 0;
  char **grown = rc == 0 ? realloc(c->seen, (c->nseen + 1) * sizeof(char *)) : NULL;
  if (grown != NULL) {
    c->seen = grown;
    if ((grown[c->nseen] = tt_path_add(location, "")) != NULL) c->nseen++, c->bytes += *size;
  }
  return rc;
}

static int ext_read(void *user, void *handle, uint64_t offset, void *dst, size_t n, tcf_error *err) {
  ext_count *c = user;
  return c->inner.read(c->inner.user, handle, offset, dst, n, err);
}

static void ext_close(void *user, void *handle) {
  ext_count *c = user;
  c->inner.close(c->inner.user, handle);
}

static int load_onnx(tt_source *s, const char *path, const uint8_t *p, size_t n, int from_stdin) {
  tcf_error err;
  ext_count count;
  tcf_onnx_external ext = {ext_open, ext_read, ext_close, &count};
  memset(&count, 0, sizeof(count));
  if (!from_stdin) {
    char *dir = tt_path_dir(path);
    s->dir_fd = dir != NULL ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    free(dir);
    if (s->dir_fd >= 0) tcf_onnx_external_dir(&count.inner, &s->dir_fd);
  }
  int rc = tcf_onnx_parse(p, n, path, s->dir_fd >= 0 ? &ext : NULL, NULL, &s->model, &err);
  s->input_bytes += count.bytes;
  for (size_t i = 0; i < count.nseen; i++) free(count.seen[i]);
  free(count.seen);
  if (rc != 0) return (tt_print_tcf_error(&err, path), TT_EXIT_ERROR);
  return 0;
}

/* ---- entry point ---------------------------------------------------------------------- */

static int choose_format(const char *shown, int given, int detected, int *sharded) {
  if (given == TT_FMT_AUTO && detected == TT_FMT_AUTO) {
    tt_error(shown, TT_NO_OFFSET, "cannot tell the model format (use --format safetensors or --format onnx)");
    return -1;
  }
  if (given != TT_FMT_AUTO && given != detected) *sharded = 0;
  return given != TT_FMT_AUTO ? given : detected;
}

int tt_source_load(tt_source *s, const char *path, int format) {
  int from_stdin = strcmp(path, "-") == 0, sharded = 0;
  const char *shown = from_stdin ? "(stdin)" : path;
  uint8_t *p = NULL;
  size_t n = 0;
  memset(s, 0, sizeof(*s));
  s->dir_fd = -1;
  if (from_stdin && format == TT_FMT_AUTO)
    return tt_usage_error("a model read from stdin needs --format safetensors or --format onnx");
  int rc = tt_read_file(path, shown, TCF_DEFAULT_MAX_FILE_BYTES, &p, &n);
  if (rc != 0) return rc;
  if (keep_buf(s, p, n) != 0) return (tt_error(shown, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
  int detected = tt_detect_format(p, n, from_stdin ? NULL : path, &sharded);
  s->format = choose_format(shown, format, detected, &sharded);
  if (s->format < 0) return TT_EXIT_ERROR;
  if (s->format == TT_FMT_ONNX) return load_onnx(s, shown, p, n, from_stdin);
  if (!sharded && format == TT_FMT_SAFETENSORS && looks_json_object(p, n)) sharded = 1;
  if (sharded && from_stdin) {
    tt_error(shown, TT_NO_OFFSET, "a sharded checkpoint is read from its index file, not from stdin");
    return TT_EXIT_ERROR;
  }
  s->sharded = sharded;
  if (sharded) return load_sharded(s, path, p, n);
  tcf_error err;
  if (tcf_safetensors_parse(p, n, shown, NULL, &s->model, &err) != 0)
    return (tt_print_tcf_error(&err, shown), TT_EXIT_ERROR);
  return 0;
}
