/* zstd reference size (see zref.h). */
#include "zref.h"

#include <string.h>
#include <zstd.h>

#include "progress.h"

void tt_zref_init(tt_zref *z, int level, uint64_t in_total) {
  memset(z, 0, sizeof(*z));
  z->level = level;
  z->in_total = in_total;
  z->cctx = ZSTD_createCCtx();
  z->failed = z->cctx == NULL;
}

void tt_zref_add(void *user, const uint8_t *p, size_t n) {
  tt_zref *z = user;
  uint8_t out[1 << 17];
  ZSTD_CCtx *c = z->cctx;
  if (z->failed) return;
  ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
  if (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, z->level)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)) ||
      ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(c, n))) {
    z->failed = 1;
    return;
  }
  size_t pos = 0;
  for (;;) {
    size_t chunk = n - pos < ((size_t)1 << 20) ? n - pos : ((size_t)1 << 20);
    int last = pos + chunk == n;
    ZSTD_inBuffer in = {p + pos, chunk, 0};
    size_t left;
    do {
      ZSTD_outBuffer o = {out, sizeof(out), 0};
      left = ZSTD_compressStream2(c, &o, &in, last ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(left)) {
        z->failed = 1;
        return;
      }
      z->out_bytes += o.pos;
    } while (last ? left != 0 : in.pos < in.size);
    pos += chunk;
    z->in_done += chunk;
    tt_progress_update(z->in_done, z->in_total);
    if (last) break;
  }
}

uint64_t tt_zref_finish(tt_zref *z) {
  ZSTD_freeCCtx(z->cctx);
  z->cctx = NULL;
  return z->failed ? 0 : z->out_bytes;
}
