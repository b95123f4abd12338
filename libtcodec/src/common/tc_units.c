/* Scale units (spec "Scale units"): how elements share scales and zero points. */
#include "tc_internal.h"

/* Validates gran/axis/group against the shape, so every later division by the
 * group size or a dimension is safe once this returned 0. */
int tc_units(unsigned ndim, const uint64_t *shape, uint64_t nelem, const tc_params *p,
             uint64_t *units) {
  switch (p->gran) {
    case TCODEC_GRAN_TENSOR:
      *units = 1;
      return TCODEC_OK;
    case TCODEC_GRAN_CHANNEL: /* a scalar has no axis, so it fails here too */
      if (p->axis >= ndim) return TCODEC_E_PARAMS;
      *units = shape[p->axis];
      return TCODEC_OK;
    case TCODEC_GRAN_GROUP:
      if (p->group == 0) return TCODEC_E_PARAMS;
      *units = tc_ceil_div(nelem, p->group);
      return TCODEC_OK;
    default:
      return TCODEC_E_PARAMS;
  }
}

/* Wraps modulo 2^64 instead of failing: the product of all dims fits in 64 bits,
 * so a trailing product can only wrap when some dimension is 0, and then the
 * tensor has no elements to index (a zero among the trailing dims still gives 0). */
uint64_t tc_inner(unsigned ndim, const uint64_t *shape, unsigned axis) {
  uint64_t inner = 1;
  for (unsigned d = axis + 1; d < ndim; d++) inner *= shape[d];
  return inner;
}

/* Divides per element: for reference paths and tests, not for decoding loops. */
uint64_t tc_unit_of(unsigned ndim, const uint64_t *shape, const tc_params *p, uint64_t i) {
  if (p->gran == TCODEC_GRAN_GROUP) return p->group != 0 ? i / p->group : 0;
  if (p->gran != TCODEC_GRAN_CHANNEL || p->axis >= ndim) return 0;
  uint64_t inner = tc_inner(ndim, shape, p->axis), dim = shape[p->axis];
  if (inner == 0 || dim == 0) return 0;
  return (i / inner) % dim;
}
