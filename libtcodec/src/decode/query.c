/* Read-only queries on an opened reader: metadata, sections, tensor directory. */
#include <stdlib.h>
#include <string.h>

#include "tc_reader.h"

static int tc_ready(const tcodec_reader *r) {
  if (r == NULL) return TCODEC_E_ARG;
  return r->state == TC_R_OPEN ? TCODEC_OK : TCODEC_E_BADSTATE;
}

int tcodec_reader_meta_count(const tcodec_reader *r, size_t *count) {
  int rc = tc_ready(r);
  if (rc != 0) return rc;
  if (count == NULL) return TCODEC_E_ARG;
  *count = r->nmeta;
  return TCODEC_OK;
}

int tcodec_reader_meta_get(const tcodec_reader *r, size_t index, const char **key,
                           const void **value, size_t *value_size, int *is_text) {
  int rc = tc_ready(r);
  if (rc != 0) return rc;
  if (index >= r->nmeta) return TCODEC_E_NOT_FOUND;
  const tc_kv *kv = &r->meta[index];
  if (key != NULL) *key = kv->key;
  if (value != NULL) *value = kv->value;
  if (value_size != NULL) *value_size = kv->value_size;
  if (is_text != NULL) *is_text = kv->is_text;
  return TCODEC_OK;
}

int tcodec_reader_meta_find(const tcodec_reader *r, const char *key, const char **value) {
  int rc = tc_ready(r);
  if (rc != 0) return rc;
  if (key == NULL || value == NULL) return TCODEC_E_ARG;
  for (size_t i = 0; i < r->nmeta; i++) {
    if (strcmp(r->meta[i].key, key) != 0) continue;
    if (!r->meta[i].is_text) return TCODEC_E_NOT_FOUND;
    *value = (const char *)r->meta[i].value;
    return TCODEC_OK;
  }
  return TCODEC_E_NOT_FOUND;
}

int tcodec_reader_section_count(const tcodec_reader *r, size_t *count) {
  int rc = tc_ready(r);
  if (rc != 0) return rc;
  if (count == NULL) return TCODEC_E_ARG;
  *count = r->nsections;
  return TCODEC_OK;
}

int tcodec_reader_section_info(const tcodec_reader *r, size_t index, const char **type,
                               int *critical, uint64_t *size) {
  int rc = tc_ready(r);
  if (rc != 0) return rc;
  if (index >= r->nsections) return TCODEC_E_NOT_FOUND;
  if (type != NULL) *type = r->sections[index].type;
  if (critical != NULL) *critical = r->sections[index].critical;
  if (size != NULL) *size = r->sections[index].s.len;
  return TCODEC_OK;
}

int tcodec_reader_tensor_count(const tcodec_reader *r, size_t *count) {
  int rc = tc_ready(r);
  if (rc != 0) return rc;
  if (count == NULL) return TCODEC_E_ARG;
  *count = r->ntensors;
  return TCODEC_OK;
}

int tcodec_reader_tensor_info(const tcodec_reader *r, size_t index, tcodec_tensor_info *info) {
  int rc = tc_ready(r);
  if (rc != 0) return rc;
  if (info == NULL) return TCODEC_E_ARG;
  if (index >= r->ntensors) return TCODEC_E_NOT_FOUND;
  const tc_tensor *t = &r->tensors[index];
  memset(info, 0, sizeof(*info));
  info->name = t->name;
  info->dtype = t->dtype;
  info->encoding = t->enc;
  info->ndim = t->ndim;
  info->shape = t->shape;
  info->nelem = t->nelem;
  for (int role = 0; role < TCODEC_ROLE_COUNT_; role++)
    if (t->s[role].present) info->stored_bytes += t->s[role].size;
  if (t->enc == TCODEC_ENC_RAW) {
    info->byte_grouped = t->p.bg;
    info->nnz = t->nelem;
    info->meta_count = t->nmeta;
    return TCODEC_OK;
  }
  info->granularity = t->p.gran;
  info->axis = t->p.axis;
  info->group_size = t->p.group;
  info->units = t->p.units;
  info->symmetric = t->p.sym;
  info->scale_dtype = t->p.sdtype;
  info->bits = t->p.bits;
  info->has_zero_point = t->p.zp;
  info->has_mask = t->s[TCODEC_ROLE_MASK].present;
  info->full_dtype = t->p.fdtype;
  info->nnz = info->has_mask ? t->p.nnz : t->nelem;
  info->meta_count = t->nmeta;
  return TCODEC_OK;
}

int tcodec_reader_find(const tcodec_reader *r, const char *name, size_t *index) {
  int rc = tc_ready(r);
  if (rc != 0) return rc;
  if (name == NULL || index == NULL) return TCODEC_E_ARG;
  size_t lo = 0, hi = r->ntensors;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(r->by_name[mid].name, name);
    if (c == 0) {
      *index = r->by_name[mid].index;
      return TCODEC_OK;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return TCODEC_E_NOT_FOUND;
}

int tcodec_reader_tensor_meta(const tcodec_reader *r, size_t index, size_t entry,
                              const char **key, const char **value) {
  int rc = tc_ready(r);
  if (rc != 0) return rc;
  if (index >= r->ntensors || entry >= r->tensors[index].nmeta) return TCODEC_E_NOT_FOUND;
  const tc_kv *kv = &r->tensors[index].meta[entry];
  if (key != NULL) *key = kv->key;
  if (value != NULL) *value = (const char *)kv->value;
  return TCODEC_OK;
}
