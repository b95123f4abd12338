/* Whole-file reads and temp-file outputs with cleanup on failure (see io.h). */
#define _POSIX_C_SOURCE 200809L
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* ---- cleanup registry ----------------------------------------------------------
 * Modified with the handled signals blocked, so the handler sees a consistent list. */

typedef struct tt_item {
  char *path;
  int is_dir;
} tt_item;

static tt_item *volatile g_items;
static volatile size_t g_nitems;
static size_t g_cap;
static const int g_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

static void remove_all(void) {
  for (size_t i = g_nitems; i-- > 0;) {
    if (g_items[i].is_dir)
      (void)rmdir(g_items[i].path);
    else
      (void)unlink(g_items[i].path);
  }
  g_nitems = 0;
}

static void on_signal(int sig) {
  remove_all(); /* unlink and rmdir are async-signal-safe */
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
  raise(sig);
}

static void block_signals(sigset_t *old) {
  sigset_t set;
  sigemptyset(&set);
  for (size_t i = 0; i < sizeof(g_signals) / sizeof(g_signals[0]); i++) sigaddset(&set, g_signals[i]);
  sigprocmask(SIG_BLOCK, &set, old);
}

void tt_cleanup_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof(g_signals) / sizeof(g_signals[0]); i++) {
    struct sigaction old;
    /* Keep a signal ignored if the parent ignores it (nohup, shells for background jobs). */
    if (sigaction(g_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    sigaction(g_signals[i], &sa, NULL);
  }
  atexit(tt_cleanup_run);
}

int tt_cleanup_add(const char *path, int is_dir) {
  sigset_t old;
  char *copy = malloc(strlen(path) + 1);
  if (copy == NULL) return -1;
  strcpy(copy, path);
  block_signals(&old);
  int rc = 0;
  if (g_nitems == g_cap) {
    size_t cap = g_cap ? 2 * g_cap : 8;
    tt_item *items = malloc(cap * sizeof(*items));
    if (items == NULL) {
      rc = -1;
    } else {
      if (g_nitems) memcpy(items, g_items, g_nitems * sizeof(*items));
      tt_item *prev = g_items;
      g_items = items;
      g_cap = cap;
      free(prev);
    }
  }
  if (rc == 0) {
    g_items[g_nitems].path = copy;
    g_items[g_nitems].is_dir = is_dir;
    g_nitems = g_nitems + 1;
  } else {
    free(copy);
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  return rc;
}

void tt_cleanup_forget(const char *path) {
  sigset_t old;
  char *gone = NULL;
  block_signals(&old);
  for (size_t i = 0; i < g_nitems; i++) {
    if (strcmp(g_items[i].path, path) == 0) {
      gone = g_items[i].path;
      memmove(&g_items[i], &g_items[i + 1], (g_nitems - i - 1) * sizeof(tt_item));
      g_nitems = g_nitems - 1;
      break;
    }
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  free(gone);
}

void tt_cleanup_run(void) {
  sigset_t old;
  block_signals(&old);
  size_t n = g_nitems;
  remove_all();
  for (size_t i = 0; i < n; i++) free(g_items[i].path);
  sigprocmask(SIG_SETMASK, &old, NULL);
}

/* ---- reading -------------------------------------------------------------------- */

static int read_all_fd(int fd, const char *shown, uint64_t max, uint8_t **data, size_t *size) {
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  if (buf == NULL) return (tt_error(shown, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
  for (;;) {
    if (n == cap) {
      uint8_t *bigger = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
      if (bigger == NULL) return (free(buf), tt_error(shown, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
      buf = bigger, cap *= 2;
    }
    ssize_t got = read(fd, buf + n, cap - n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      int e = errno;
      free(buf);
      tt_error(shown, n, "read error: %s", strerror(e));
      return TT_EXIT_ERROR;
    }
    if (got == 0) break;
    n += (size_t)got;
    if ((uint64_t)n > max) {
      free(buf);
      tt_error(shown, TT_NO_OFFSET, "larger than the limit of %llu bytes", (unsigned long long)max);
      return TT_EXIT_ERROR;
    }
  }
  *data = buf;
  *size = n;
  return 0;
}

static int read_regular(int fd, const char *shown, uint64_t fsize, uint64_t max, uint8_t **data,
                        size_t *size) {
  if (fsize > max || fsize > SIZE_MAX - 1) {
    tt_error(shown, TT_NO_OFFSET, "%llu bytes, larger than the limit of %llu bytes",
             (unsigned long long)fsize, (unsigned long long)max);
    return TT_EXIT_ERROR;
  }
  uint8_t *buf = malloc(fsize ? (size_t)fsize : 1);
  if (buf == NULL) return (tt_error(shown, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
  size_t n = 0;
  while (n < fsize) {
    ssize_t got = read(fd, buf + n, (size_t)fsize - n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      int e = got < 0 ? errno : 0;
      free(buf);
      tt_error(shown, n, "%s", e ? strerror(e) : "file shrank while being read");
      return TT_EXIT_ERROR;
    }
    n += (size_t)got;
  }
  *data = buf;
  *size = n;
  return 0;
}

int tt_read_file(const char *path, const char *shown, uint64_t max, uint8_t **data,
                 size_t *size) {
  if (strcmp(path, "-") == 0) return read_all_fd(STDIN_FILENO, shown, max, data, size);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return (tt_error(shown, TT_NO_OFFSET, "%s", strerror(errno)), TT_EXIT_ERROR);
  struct stat st;
  int rc;
  if (fstat(fd, &st) != 0)
    rc = (tt_error(shown, TT_NO_OFFSET, "%s", strerror(errno)), TT_EXIT_ERROR);
  else if (S_ISDIR(st.st_mode))
    rc = (tt_error(shown, TT_NO_OFFSET, "is a directory"), TT_EXIT_ERROR);
  else if (S_ISREG(st.st_mode))
    rc = read_regular(fd, shown, (uint64_t)st.st_size, max, data, size);
  else
    rc = read_all_fd(fd, shown, max, data, size);
  close(fd);
  return rc;
}

int tt_exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

int tt_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- paths ------------------------------------------------------------------------ */

char *tt_path_add(const char *path, const char *suffix) {
  size_t a = strlen(path), b = strlen(suffix);
  char *s = malloc(a + b + 1);
  if (s == NULL) return NULL;
  memcpy(s, path, a);
  memcpy(s + a, suffix, b + 1);
  return s;
}

char *tt_path_strip(const char *path, const char *suffix) {
  size_t a = strlen(path), b = strlen(suffix);
  if (a <= b || strcmp(path + a - b, suffix) != 0 || path[a - b - 1] == '/') return NULL;
  char *s = malloc(a - b + 1);
  if (s == NULL) return NULL;
  memcpy(s, path, a - b);
  s[a - b] = '\0';
  return s;
}

char *tt_path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *s = malloc(a + b + 2);
  if (s == NULL) return NULL;
  memcpy(s, dir, a);
  s[a] = '/';
  memcpy(s + a + 1, name, b + 1);
  return s;
}

const char *tt_path_base(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash != NULL ? slash + 1 : path;
}

char *tt_path_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL) return tt_path_add(".", "");
  size_t n = slash == path ? 1 : (size_t)(slash - path);
  char *s = malloc(n + 1);
  if (s == NULL) return NULL;
  memcpy(s, path, n);
  s[n] = '\0';
  return s;
}

/* ---- outputs ---------------------------------------------------------------------- */

const char *tt_out_name(const tt_out *o) { return o->to_stdout ? "-" : o->final; }

static char *temp_template(const char *final) {
  char *dir = tt_path_dir(final);
  if (dir == NULL) return NULL;
  const char *base = tt_path_base(final);
  size_t n = strlen(dir) + strlen(base) + 16;
  char *t = malloc(n);
  if (t != NULL) snprintf(t, n, "%s/.%s.XXXXXX", dir, base);
  free(dir);
  return t;
}

static int open_stdout(tt_out *o, int force, int buffer_stdout) {
  if (isatty(STDOUT_FILENO) && !force) {
    tt_error(NULL, TT_NO_OFFSET, "refusing to write binary data to a terminal (use -f to force)");
    return TT_EXIT_ERROR;
  }
  o->to_stdout = 1;
  o->buffered = buffer_stdout;
  o->f = stdout;
  return 0;
}

int tt_out_open(tt_out *o, const char *path, int force, int buffer_stdout) {
  memset(o, 0, sizeof(*o));
  if (strcmp(path, "-") == 0) return open_stdout(o, force, buffer_stdout);
  if (tt_is_dir(path)) return (tt_error(path, TT_NO_OFFSET, "is a directory"), TT_EXIT_ERROR);
  if (!force && tt_exists(path))
    return (tt_error(path, TT_NO_OFFSET, "already exists (use -f to overwrite)"), TT_EXIT_ERROR);
  o->final = tt_path_add(path, "");
  o->tmp = temp_template(path);
  if (o->final == NULL || o->tmp == NULL) {
    tt_out_abort(o);
    return (tt_error(path, TT_NO_OFFSET, "out of memory"), TT_EXIT_ERROR);
  }
  sigset_t old;
  block_signals(&old); /* the file must not appear unregistered */
  int fd = mkstemp(o->tmp);
  int e = errno;
  int reg = fd >= 0 ? tt_cleanup_add(o->tmp, 0) : 0;
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (fd < 0 || reg != 0) {
    if (fd >= 0) close(fd), unlink(o->tmp);
    free(o->tmp), o->tmp = NULL;
    tt_out_abort(o);
    tt_error(path, TT_NO_OFFSET, "cannot create a temporary file next to it: %s",
             fd < 0 ? strerror(e) : "out of memory");
    return TT_EXIT_ERROR;
  }
  o->f = fdopen(fd, "wb");
  if (o->f == NULL) {
    close(fd);
    tt_out_abort(o);
    return (tt_error(path, TT_NO_OFFSET, "%s", strerror(errno)), TT_EXIT_ERROR);
  }
  setvbuf(o->f, NULL, _IOFBF, 1 << 20);
  return 0;
}

static int mem_append(tt_out *o, const void *src, size_t n) {
  if (o->mem_cap - o->mem_size < n) {
    size_t cap = o->mem_cap ? o->mem_cap : 1 << 16;
    while (cap - o->mem_size < n) {
      if (cap > SIZE_MAX / 2) return -1;
      cap *= 2;
    }
    uint8_t *p = realloc(o->mem, cap);
    if (p == NULL) return -1;
    o->mem = p, o->mem_cap = cap;
  }
  memcpy(o->mem + o->mem_size, src, n);
  o->mem_size += n;
  return 0;
}

int tt_out_write(void *user, const void *src, size_t n) {
  tt_out *o = user;
  if (o->failed) return 1;
  int bad = o->buffered ? mem_append(o, src, n) != 0 : fwrite(src, 1, n, o->f) != n;
  if (bad) {
    o->failed = 1;
    o->err = o->buffered ? ENOMEM : errno;
    return 1;
  }
  o->written += n;
  return 0;
}

int tt_out_close_tmp(tt_out *o) {
  if (o->to_stdout || o->f == NULL) return 0;
  int bad = fclose(o->f) != 0;
  int e = errno;
  o->f = NULL;
  if (bad && !o->failed) o->failed = 1, o->err = e;
  return o->failed ? -1 : 0;
}

static int commit_stdout(tt_out *o) {
  if (o->buffered && !o->failed && o->mem_size > 0 &&
      fwrite(o->mem, 1, o->mem_size, stdout) != o->mem_size)
    o->failed = 1, o->err = errno;
  if (fflush(stdout) != 0 && !o->failed) o->failed = 1, o->err = errno;
  free(o->mem);
  o->mem = NULL;
  if (o->failed) return (tt_error("-", TT_NO_OFFSET, "write error: %s", strerror(o->err)), TT_EXIT_ERROR);
  return 0;
}

/* Move tmp to final: link() refuses an existing destination (without -f a file
 * that appeared since the start is kept); file systems without hard links fall
 * back to rename() after a last check. */
static int move_into_place(tt_out *o, int force) {
  if (!force) {
    if (link(o->tmp, o->final) == 0) return unlink(o->tmp), 0;
    if (errno == EEXIST) return errno = EEXIST, -1;
    if (tt_exists(o->final)) return errno = EEXIST, -1;
  }
  return rename(o->tmp, o->final);
}

int tt_out_commit(tt_out *o, int force) {
  if (o->to_stdout) return commit_stdout(o);
  if (tt_out_close_tmp(o) != 0) {
    tt_error(o->final, TT_NO_OFFSET, "write error: %s", strerror(o->err));
    tt_out_abort(o);
    return TT_EXIT_ERROR;
  }
  mode_t mask = umask(0);
  umask(mask);
  (void)chmod(o->tmp, 0666 & ~mask);
  if (move_into_place(o, force) != 0) {
    int e = errno;
    tt_error(o->final, TT_NO_OFFSET, "%s", e == EEXIST ? "already exists (use -f to overwrite)" : strerror(e));
    tt_out_abort(o);
    return TT_EXIT_ERROR;
  }
  tt_cleanup_forget(o->tmp);
  free(o->tmp), o->tmp = NULL;
  free(o->final), o->final = NULL;
  return 0;
}

void tt_out_abort(tt_out *o) {
  if (o->f != NULL && !o->to_stdout) fclose(o->f);
  o->f = NULL;
  if (o->tmp != NULL) {
    unlink(o->tmp);
    tt_cleanup_forget(o->tmp);
  }
  free(o->tmp), o->tmp = NULL;
  free(o->final), o->final = NULL;
  free(o->mem), o->mem = NULL;
}
