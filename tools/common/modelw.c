/* Writing models back (tcunpack) and rebuilding a tcf_model from a .tc (see models.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "io.h"
#include "models.h"
#include "onnx.h"
#include "safetensors.h"

/* ---- folders ------------------------------------------------------------------------ */

/* Create `path` if missing (registered for removal on failure). */
static int make_dir(const char *path) {
  if (tt_is_dir(path)) return 0;
  if (mkdir(path, 0777) != 0) return (tt_error(path, TT_NO_OFFSET, "cannot create folder: %s", strerror(errno)), -1);
  tt_cleanup_add(path, 1);
  return 0;
}

/* Create the folders of relative path `rel` under `dir`. */
static int make_parents(const char *dir, const char *rel) {
  char *path = tt_path_join(dir, rel);
  int rc = path != NULL ? 0 : -1;
  for (char *p = path != NULL ? path + strlen(dir) + 1 : NULL; rc == 0 && p != NULL && (p = strchr(p, '/')) != NULL; p++) {
    *p = '\0';
    rc = make_dir(path);
    *p = '/';
  }
  free(path);
  return rc;
}

/* ---- several outputs committed together ------------------------------------------------- */

typedef struct out_set {
  tt_out **outs; /* each allocated on its own: writers keep pointers to them */
  char **names;  /* location or shard name, for sinks */
  size_t n;
  int force;
} out_set;

static tt_out *out_set_open(out_set *s, const char *dir, const char *rel) {
  tt_out **o = realloc(s->outs, (s->n + 1) * sizeof(*o));
  if (o != NULL) s->outs = o;
  char **nm = o != NULL ? realloc(s->names, (s->n + 1) * sizeof(*nm)) : NULL;
  if (nm != NULL) s->names = nm;
  char *path = nm != NULL ? (dir != NULL ? tt_path_join(dir, rel) : tt_path_add(rel, "")) : NULL;
  char *name = path != NULL ? tt_path_add(rel, "") : NULL;
  tt_out *out = name != NULL ? malloc(sizeof(*out)) : NULL;
  if (out == NULL) return free(path), free(name), tt_error(rel, TT_NO_OFFSET, "out of memory"), NULL;
  int rc = (dir != NULL ? make_parents(dir, rel) : 0) != 0 ? TT_EXIT_ERROR
           : tt_out_open(out, path, s->force, 0);
  free(path);
  if (rc != 0) return free(name), free(out), NULL;
  s->names[s->n] = name;
  s->outs[s->n++] = out;
  return out;
}

static int out_set_finish(out_set *s, int ok) {
  int rc = ok ? 0 : TT_EXIT_ERROR;
  for (size_t i = s->n; i-- > 0;) { /* the main file was opened first: committed last */
    if (rc == 0)
      rc = tt_out_commit(s->outs[i], s->force);
    else
      tt_out_abort(s->outs[i]);
    free(s->names[i]);
    free(s->outs[i]);
  }
  free(s->outs), free(s->names);
  memset(s, 0, sizeof(*s));
  return rc;
}

static int write_failed(const tcf_error *e, const tt_out *o, const char *shown) {
  if (o != NULL && o->failed)
    tt_error(tt_out_name(o), TT_NO_OFFSET, "write error: %s", strerror(o->err));
  else
    tt_print_tcf_error(e, shown);
  return TT_EXIT_ERROR;
}

/* ---- ONNX with external data ------------------------------------------------------------- */

typedef struct ext_sink {
  out_set *set;
  const char *dir;
} ext_sink;

static int sink_write(void *user, const char *location, uint64_t offset, const void *src, size_t n,
                      tcf_error *err) {
  ext_sink *k = user;
  tt_out *o = NULL;
  for (size_t i = 1; i < k->set->n && o == NULL; i++)
    if (strcmp(k->set->names[i], location) == 0) o = k->set->outs[i];
  if (o == NULL && (o = out_set_open(k->set, k->dir, location)) == NULL)
    return tcf_error_set(err, TCODEC_E_IO, NULL, UINT64_MAX, "cannot create external data file '%s'", location);
  const uint8_t *p = src;
  while (n > 0) {
    ssize_t w = pwrite(fileno(o->f), p, n, (off_t)offset);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      return tcf_error_set(err, TCODEC_E_IO, NULL, UINT64_MAX, "%s: write error: %s", location, strerror(errno));
    p += w, n -= (size_t)w, offset += (uint64_t)w;
  }
  return 0;
}

static int write_onnx(const tcf_model *m, const char *out, int force) {
  out_set set = {NULL, NULL, 0, force};
  tcf_error err;
  tt_out *main_out = out_set_open(&set, NULL, out);
  if (main_out == NULL) return out_set_finish(&set, 0);
  char *dir = tt_path_dir(out);
  ext_sink k = {&set, dir};
  tcf_onnx_sink sink = {sink_write, &k};
  int rc = dir == NULL ? TCODEC_E_NOMEM
           : strcmp(out, "-") == 0 ? tcf_onnx_write(m, tt_out_write, main_out, &err)
                                   : tcf_onnx_write_ext(m, tt_out_write, main_out, &sink, &err);
  if (rc != 0) write_failed(&err, main_out, out);
  free(dir);
  return out_set_finish(&set, rc == 0);
}

/* ---- safetensors -------------------------------------------------------------------------- */

static int write_safetensors(const tcf_model *m, const char *out, int force) {
  tt_out o;
  tcf_error err;
  int rc = tt_out_open(&o, out, force, 0);
  if (rc != 0) return rc;
  if (tcf_safetensors_write(m, tt_out_write, &o, &err) != 0) {
    write_failed(&err, &o, out);
    tt_out_abort(&o);
    return TT_EXIT_ERROR;
  }
  return tt_out_commit(&o, force);
}

static int write_sharded(const tcf_model *m, const char *dir, const char *index_name, int force) {
  tcf_safetensors_index ix;
  tcf_error err;
  out_set set = {NULL, NULL, 0, force};
  if (strcmp(dir, "-") == 0) {
    tt_error(NULL, TT_NO_OFFSET, "a sharded checkpoint is written to a folder (-o DIR), not to stdout");
    return TT_EXIT_ERROR;
  }
  if (tcf_safetensors_model_index(m, &ix, &err) != 0) return write_failed(&err, NULL, dir);
  int ok = make_dir(dir) == 0;
  tt_out *o = ok ? out_set_open(&set, dir, index_name) : NULL;
  ok = o != NULL && tcf_safetensors_write_index(m, tt_out_write, o, &err) == 0;
  if (o != NULL && !ok) write_failed(&err, o, index_name);
  for (size_t i = 0; ok && i < ix.nshards; i++) {
    o = out_set_open(&set, dir, ix.shards[i]);
    ok = o != NULL && tcf_safetensors_write_shard(m, ix.shards[i], tt_out_write, o, &err) == 0;
    if (o != NULL && !ok) write_failed(&err, o, ix.shards[i]);
  }
  tcf_safetensors_index_free(&ix);
  return out_set_finish(&set, ok);
}

int tt_model_is_sharded(const tcf_model *m) {
  return tcf_model_find_section(m, TCF_ST_INDEX_SECTION) != NULL;
}

int tt_model_write(const tcf_model *m, int format, const char *out, const char *index_name,
                   int force) {
  if (format == TT_FMT_ONNX) return write_onnx(m, out, force);
  if (tt_model_is_sharded(m)) return write_sharded(m, out, index_name, force);
  return write_safetensors(m, out, force);
}

/* ---- .tc -> tcf_model ---------------------------------------------------------------------- */

static int oom(const char *shown) { return tt_error(shown, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR; }

static int copy_meta(tcodec_reader *r, const char *shown, tcf_model *m) {
  size_t n = 0;
  size_t plen = strlen(TT_MODEL_META_PREFIX);
  tcodec_reader_meta_count(r, &n);
  for (size_t i = 0; i < n; i++) {
    const char *key = NULL;
    const void *value = NULL;
    int is_text = 0;
    if (tcodec_reader_meta_get(r, i, &key, &value, NULL, &is_text) != 0) continue;
    if (!is_text || strncmp(key, TT_MODEL_META_PREFIX, plen) != 0) continue;
    if (tcf_model_add_meta(m, key + plen, value) != 0) return oom(shown);
  }
  return 0;
}

static int copy_sections(tcodec_reader *r, const char *shown, tcf_model *m) {
  size_t n = 0;
  tcodec_reader_section_count(r, &n);
  for (size_t i = 0; i < n; i++) {
    const char *type = NULL;
    uint64_t size = 0;
    int critical = 0;
    if (tcodec_reader_section_info(r, i, &type, &critical, &size) != 0 || size > SIZE_MAX - 1)
      return (tt_reader_error(r, shown, shown), TT_EXIT_ERROR);
    uint8_t *buf = malloc(size ? (size_t)size : 1);
    if (buf == NULL) return oom(shown);
    int rc = tcodec_reader_section_read(r, i, buf, (size_t)size);
    if (rc != 0) return free(buf), tt_reader_error(r, shown, shown), TT_EXIT_ERROR;
    rc = tcf_model_add_section(m, type, buf, (size_t)size);
    free(buf);
    if (rc != 0) return oom(shown);
  }
  return 0;
}

static int copy_tensor(tcodec_reader *r, size_t i, const char *shown, tcf_tensor *t) {
  tcodec_tensor_info info;
  uint64_t size = 0;
  if (tcodec_reader_tensor_info(r, i, &info) != 0 ||
      tcodec_reader_decoded_size(r, i, TCODEC_OUT_ORIGINAL, &size) != 0)
    return (tt_reader_error(r, shown, shown), TT_EXIT_ERROR);
  if (info.ndim > TCF_MAX_NDIM)
    return (tt_error(shown, TT_NO_OFFSET, "tensor '%s' has %u dimensions (at most %d)", tcf_show(info.name).s, info.ndim, TCF_MAX_NDIM), TT_EXIT_ERROR);
  if (size > SIZE_MAX - 1) return oom(shown);
  t->name = tcf_strdup(info.name);
  t->owned = malloc(size ? (size_t)size : 1);
  if (t->name == NULL || t->owned == NULL) return oom(shown);
  if (tcodec_reader_decode(r, i, TCODEC_OUT_ORIGINAL, t->owned, (size_t)size) != 0)
    return (tt_reader_error(r, shown, shown), TT_EXIT_ERROR);
  t->data = t->owned;
  t->size = size;
  t->dtype = info.dtype;
  t->ndim = info.ndim;
  t->nelem = info.nelem;
  if (info.ndim) memcpy(t->shape, info.shape, info.ndim * sizeof(uint64_t));
  for (size_t e = 0; e < info.meta_count; e++) {
    const char *k = NULL, *v = NULL;
    if (tcodec_reader_tensor_meta(r, i, e, &k, &v) == 0 && tcf_tensor_add_meta(t, k, v) != 0) return oom(shown);
  }
  return 0;
}

int tt_model_from_reader(tcodec_reader *r, const char *shown, const char *format_name,
                         int keep_sections, void (*progress)(uint64_t done, uint64_t total),
                         tcf_model *m) {
  size_t n = 0;
  memset(m, 0, sizeof(*m));
  snprintf(m->format, sizeof(m->format), "%s", format_name);
  int rc = copy_meta(r, shown, m);
  if (rc == 0 && keep_sections) rc = copy_sections(r, shown, m);
  if (rc == 0) tcodec_reader_tensor_count(r, &n);
  if (rc == 0 && n > 0 && (m->tensors = calloc(n, sizeof(tcf_tensor))) == NULL) rc = oom(shown);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    m->ntensors = i + 1;
    rc = copy_tensor(r, i, shown, &m->tensors[i]);
    if (progress != NULL) progress(i + 1, n);
  }
  if (rc != 0) tcf_model_free(m);
  return rc;
}
