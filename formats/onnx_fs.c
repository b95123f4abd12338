/* External data files of ONNX models, under the model's folder only (onnx.h): every path
 * component is opened with openat(O_NOFOLLOW) relative to the previous one, so neither
 * a symlink nor ".." can lead out of the folder, whatever the components are. POSIX. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx.h"

static int of_fail(tcf_error *err, int code, const char *comp, const char *why) {
  snprintf(err->msg, sizeof(err->msg), "'%s' %s", tcf_show(comp).s, why);
  return code;
}

static int of_errno(tcf_error *err, const char *comp, int e) {
  if (e == ELOOP) return of_fail(err, TCODEC_E_IO, comp, "is a symbolic link (refused)");
  return of_fail(err, TCODEC_E_IO, comp, strerror(e));
}

/* One component from directory `dir`: refuses symlinks, creates folders/files if asked. */
static int of_step(int dir, const char *comp, int last, int create, int *fd, tcf_error *err) {
  struct stat st;
  if (strcmp(comp, "..") == 0)
    return of_fail(err, TCODEC_E_PAYLOAD, comp, "leads out of the folder");
  if (!last && create && mkdirat(dir, comp, 0755) != 0 && errno != EEXIST)
    return of_errno(err, comp, errno);
  if (fstatat(dir, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode)) return of_errno(err, comp, ELOOP);
  } else if (!(last && create && errno == ENOENT)) {
    return of_errno(err, comp, errno);
  }
  int flags = O_NOFOLLOW | O_CLOEXEC;
  flags |= !last ? O_RDONLY | O_DIRECTORY : create ? O_WRONLY | O_CREAT : O_RDONLY | O_NONBLOCK;
  *fd = openat(dir, comp, flags, 0644);
  return *fd < 0 ? of_errno(err, comp, errno) : 0;
}

/* Opens `loc` (components separated by '/') under `dir`; a regular file only. */
static int of_open(int dir, const char *loc, int create, int *out, tcf_error *err) {
  char *copy = malloc(strlen(loc) + 1);
  if (copy == NULL) return of_fail(err, TCODEC_E_NOMEM, loc, "out of memory");
  strcpy(copy, loc);
  int cur = dir, rc = 0;
  for (char *p = copy, *slash; rc == 0; p = slash + 1) {
    slash = strchr(p, '/');
    if (slash != NULL) *slash = '\0';
    if (slash != NULL && (*p == '\0' || strcmp(p, ".") == 0)) continue;
    int fd = -1;
    rc = of_step(cur, p, slash == NULL, create, &fd, err);
    if (cur != dir) close(cur);
    cur = rc == 0 ? fd : dir;
    if (slash == NULL) break;
  }
  struct stat st;
  if (rc == 0 && (fstat(cur, &st) != 0 || !S_ISREG(st.st_mode)))
    rc = of_fail(err, TCODEC_E_IO, loc, "is not a regular file");
  if (rc != 0 && cur != dir) close(cur);
  if (rc == 0) *out = cur;
  free(copy);
  return rc;
}

static int of_ext_open(void *user, const char *location, uint64_t *size, void **handle,
                       tcf_error *err) {
  int fd;
  struct stat st;
  int rc = of_open(*(const int *)user, location, 0, &fd, err);
  if (rc != 0) return rc;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return of_errno(err, location, errno);
  }
  *size = (uint64_t)st.st_size;
  *handle = (void *)(intptr_t)fd;
  return 0;
}

static int of_ext_read(void *user, void *handle, uint64_t offset, void *dst, size_t n,
                       tcf_error *err) {
  int fd = (int)(intptr_t)handle;
  (void)user;
  for (size_t done = 0; done < n;) {
    ssize_t k = pread(fd, (char *)dst + done, n - done, (off_t)(offset + done));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0)
      return k < 0 ? of_errno(err, "external file", errno)
                   : of_fail(err, TCODEC_E_TRUNCATED, "external file", "shrank while read");
    done += (size_t)k;
  }
  return 0;
}

static void of_ext_close(void *user, void *handle) {
  (void)user;
  close((int)(intptr_t)handle);
}

void tcf_onnx_external_dir(tcf_onnx_external *ext, int *dir_fd) {
  ext->open = of_ext_open;
  ext->read = of_ext_read;
  ext->close = of_ext_close;
  ext->user = dir_fd;
}

static int of_sink_write(void *user, const char *location, uint64_t offset, const void *src,
                         size_t n, tcf_error *err) {
  int fd = -1;
  int rc = of_open(*(const int *)user, location, 1, &fd, err);
  for (size_t done = 0; rc == 0 && done < n;) {
    ssize_t k = pwrite(fd, (const char *)src + done, n - done, (off_t)(offset + done));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) rc = of_errno(err, location, k < 0 ? errno : EIO);
    done += k > 0 ? (size_t)k : 0;
  }
  if (fd >= 0) close(fd);
  return rc;
}

void tcf_onnx_sink_dir(tcf_onnx_sink *sink, int *dir_fd) {
  sink->write = of_sink_write;
  sink->user = dir_fd;
}
