/* Option parsing and messages for the tools (see cli.h). */
#include "cli.h"

#include "progress.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *g_prog = "tcodec";

void tt_set_prog(const char *prog) { g_prog = prog; }
const char *tt_prog(void) { return g_prog; }

void tt_error(const char *file, uint64_t offset, const char *fmt, ...) {
  char reason[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof(reason), fmt, ap);
  va_end(ap);
  tt_progress_end(); /* the message goes on a line of its own */
  fflush(stdout);
  if (file != NULL && offset != TT_NO_OFFSET)
    fprintf(stderr, "%s: %s: offset %llu: %s\n", g_prog, file, (unsigned long long)offset, reason);
  else if (file != NULL)
    fprintf(stderr, "%s: %s: %s\n", g_prog, file, reason);
  else
    fprintf(stderr, "%s: %s\n", g_prog, reason);
}

int tt_usage_error(const char *fmt, ...) {
  char reason[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof(reason), fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s: %s\nTry '%s --help'.\n", g_prog, reason, g_prog);
  return TT_EXIT_USAGE;
}

void tt_reader_error(const tcodec_reader *r, const char *opened_as, const char *shown) {
  tt_progress_end();
  const char *msg = tcodec_reader_error_message(r);
  const char *prefixes[2] = {opened_as, "<memory>"};
  for (size_t i = 0; i < 2; i++) {
    size_t n = prefixes[i] != NULL ? strlen(prefixes[i]) : 0;
    if (n > 0 && strncmp(msg, prefixes[i], n) == 0 && strncmp(msg + n, ": ", 2) == 0) {
      fprintf(stderr, "%s: %s: %s\n", g_prog, shown, msg + n + 2);
      return;
    }
  }
  fprintf(stderr, "%s: %s: %s\n", g_prog, shown, msg);
}

/* ---- options ------------------------------------------------------------------ */

static const tt_opt *find_long(const tt_opt *opts, size_t n, const char *name, size_t len) {
  for (size_t i = 0; i < n; i++)
    if (opts[i].long_name != NULL && strlen(opts[i].long_name) == len &&
        memcmp(opts[i].long_name, name, len) == 0)
      return &opts[i];
  return NULL;
}

static const tt_opt *find_short(const tt_opt *opts, size_t n, char c) {
  for (size_t i = 0; i < n; i++)
    if (opts[i].short_name == c) return &opts[i];
  return NULL;
}

/* "--name", "--name=value", "--name value". *i is the index of the argument. */
static int parse_long(int argc, char **argv, int *i, const tt_opt *opts, size_t nopts,
                      tt_opt_fn fn, void *ctx) {
  const char *name = argv[*i] + 2;
  const char *eq = strchr(name, '=');
  size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
  const tt_opt *o = find_long(opts, nopts, name, len);
  if (o == NULL) return tt_usage_error("unknown option '--%.*s'", (int)len, name);
  if (!o->has_arg) {
    if (eq != NULL) return tt_usage_error("option '--%s' takes no value", o->long_name);
    return fn(ctx, o->id, NULL);
  }
  if (eq != NULL) return fn(ctx, o->id, eq + 1);
  if (*i + 1 >= argc) return tt_usage_error("option '--%s' needs a value", o->long_name);
  *i += 1;
  return fn(ctx, o->id, argv[*i]);
}

/* "-abc", "-oFILE", "-o FILE", "-19". */
static int parse_short(int argc, char **argv, int *i, const tt_opt *opts, size_t nopts,
                       tt_opt_fn fn, void *ctx) {
  const char *p = argv[*i] + 1;
  while (*p != '\0') {
    if (isdigit((unsigned char)*p)) {
      char digits[8];
      size_t n = strspn(p, "0123456789");
      if (n >= sizeof(digits)) return tt_usage_error("option '-%s' is not a level", p);
      memcpy(digits, p, n);
      digits[n] = '\0';
      int rc = fn(ctx, TT_OPT_DIGITS, digits);
      if (rc != 0) return rc;
      p += n;
      continue;
    }
    const tt_opt *o = find_short(opts, nopts, *p);
    if (o == NULL) return tt_usage_error("unknown option '-%c'", *p);
    if (!o->has_arg) {
      int rc = fn(ctx, o->id, NULL);
      if (rc != 0) return rc;
      p++;
      continue;
    }
    if (p[1] != '\0') return fn(ctx, o->id, p + 1);
    if (*i + 1 >= argc) return tt_usage_error("option '-%c' needs a value", *p);
    *i += 1;
    return fn(ctx, o->id, argv[*i]);
  }
  return 0;
}

int tt_parse_args(int argc, char **argv, const tt_opt *opts, size_t nopts, tt_opt_fn fn,
                  void *ctx, const char **operands, size_t max_operands, size_t *noperands) {
  int only_operands = 0;
  *noperands = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int rc = 0;
    if (only_operands || a[0] != '-' || a[1] == '\0') {
      if (*noperands >= max_operands)
        return tt_usage_error(max_operands == 1 ? "one input at a time ('%s' is one too many)"
                                                : "too many operands ('%s')",
                              a);
      operands[(*noperands)++] = a;
    } else if (strcmp(a, "--") == 0) {
      only_operands = 1;
    } else if (a[1] == '-') {
      rc = parse_long(argc, argv, &i, opts, nopts, fn, ctx);
    } else {
      rc = parse_short(argc, argv, &i, opts, nopts, fn, ctx);
    }
    if (rc != 0) return rc;
  }
  return 0;
}

void tt_print_options(const tt_opt *opts, size_t nopts) {
  for (size_t i = 0; i < nopts; i++) {
    const tt_opt *o = &opts[i];
    char left[64];
    if (o->help == NULL) continue;
    const char *arg = o->has_arg ? o->arg_name : NULL;
    if (o->short_name != 0 && o->long_name != NULL)
      snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->long_name,
               arg != NULL ? " " : "", arg != NULL ? arg : "");
    else if (o->long_name != NULL)
      snprintf(left, sizeof(left), "    --%s%s%s", o->long_name, arg != NULL ? " " : "",
               arg != NULL ? arg : "");
    else
      snprintf(left, sizeof(left), "-%c%s%s", o->short_name, arg != NULL ? " " : "",
               arg != NULL ? arg : "");
    if (strlen(left) > 26)
      printf("  %s\n  %-26s %s\n", left, "", o->help);
    else
      printf("  %-26s %s\n", left, o->help);
  }
}

/* ---- values ------------------------------------------------------------------- */

int tt_parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  if (s == NULL || !isdigit((unsigned char)s[0]))
    return tt_usage_error("%s: '%s' is not a number", opt, s != NULL ? s : "");
  unsigned long long v = strtoull(s, &end, 10);
  uint64_t mul = 1;
  if (*end == 'K' || *end == 'k') mul = 1024, end++;
  else if (*end == 'M') mul = 1024 * 1024, end++;
  else if (*end == 'G') mul = 1024 * 1024 * 1024, end++;
  if (errno != 0 || *end != '\0') return tt_usage_error("%s: '%s' is not a number", opt, s);
  if (v > UINT64_MAX / mul || v * mul < lo || v * mul > hi)
    return tt_usage_error("%s: %s is out of range [%llu, %llu]", opt, s, (unsigned long long)lo,
                          (unsigned long long)hi);
  *out = (uint64_t)v * mul;
  return 0;
}

int tt_parse_double(const char *opt, const char *s, double lo, double hi, double *out) {
  char *end = NULL;
  errno = 0;
  if (s == NULL || s[0] == '\0') return tt_usage_error("%s: missing number", opt);
  double v = strtod(s, &end);
  if (errno != 0 || *end != '\0' || !isfinite(v))
    return tt_usage_error("%s: '%s' is not a number", opt, s);
  if (v < lo || v > hi) return tt_usage_error("%s: %s is out of range [%g, %g]", opt, s, lo, hi);
  *out = v;
  return 0;
}

void tt_print_version(void) {
  printf("%s %s\nlibtcodec %s (container format %d.%d)\n", g_prog, TT_VERSION,
         tcodec_version_string(), TCODEC_FORMAT_MAJOR, TCODEC_FORMAT_MINOR);
}
