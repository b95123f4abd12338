/* Command-line plumbing shared by tcpack and tcunpack: a table-driven option
 * parser (short and long options as zstd and xz take them), number parsing,
 * and the one-line messages "PROG: FILE: offset N: reason".
 *
 * Exit codes of every tool (docs/tcpack.1, docs/tcunpack.1). */
#ifndef TT_CLI_H
#define TT_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <tcodec/tcodec.h>

#define TT_EXIT_OK 0
#define TT_EXIT_ERROR 1     /* I/O, corrupt or unsupported input, out of memory */
#define TT_EXIT_USAGE 2     /* bad command line or policy file; nothing was read or written */
#define TT_EXIT_QUALITY 3   /* a quality threshold was not met; no output kept */

#define TT_NO_OFFSET UINT64_MAX

/* Version of the tools: the version of the tcodec.h they were built against. */
#define TT_STR2_(x) #x
#define TT_STR_(x) TT_STR2_(x)
#define TT_VERSION \
  TT_STR_(TCODEC_VERSION_MAJOR) "." TT_STR_(TCODEC_VERSION_MINOR) "." TT_STR_(TCODEC_VERSION_PATCH)

#if defined(__GNUC__)
#define TT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TT_PRINTF(f, a)
#endif

/* Program name used as the prefix of every message ("tcpack"). */
void tt_set_prog(const char *prog);
const char *tt_prog(void);

/* "PROG: FILE: offset N: reason" on stderr (FILE omitted when NULL, offset when
 * TT_NO_OFFSET). Always printed, -q or not. */
void tt_error(const char *file, uint64_t offset, const char *fmt, ...) TT_PRINTF(3, 4);
/* "PROG: reason" for command-line mistakes, then "Try 'PROG --help'.". Returns
 * TT_EXIT_USAGE so callers can `return tt_usage_error(...)`. */
int tt_usage_error(const char *fmt, ...) TT_PRINTF(1, 2);
/* Print a reader failure: its message names the path it was opened with; that
 * prefix is replaced by `shown` (e.g. the final name instead of a temp name,
 * "-" for stdin). */
void tt_reader_error(const tcodec_reader *r, const char *opened_as, const char *shown);

/* ---- options ------------------------------------------------------------------ */

typedef struct tt_opt {
  const char *long_name; /* without "--"; NULL for short-only */
  char short_name;       /* 0 for long-only */
  int has_arg;           /* 1: takes a value ("-o FILE", "-oFILE", "--out=FILE", "--out FILE") */
  int id;                /* handed to the callback */
  const char *arg_name;  /* for --help: "FILE" */
  const char *help;      /* one line for --help; NULL hides the option */
} tt_opt;

/* Called for "-N" with N digits (zstd's -1..-19): id TT_OPT_DIGITS, arg the digits. */
#define TT_OPT_DIGITS (-1)

/* Handle one option; return 0, or TT_EXIT_USAGE after calling tt_usage_error(). */
typedef int (*tt_opt_fn)(void *ctx, int id, const char *arg);

/* Parse argv[1..argc). Options and operands may be mixed; "--" ends options;
 * "-" alone is an operand (stdin/stdout). Operands are collected in order into
 * operands[] (argv pointers, at most max_operands; more is a usage error).
 * Returns 0 or TT_EXIT_USAGE (message printed). */
int tt_parse_args(int argc, char **argv, const tt_opt *opts, size_t nopts, tt_opt_fn fn,
                  void *ctx, const char **operands, size_t max_operands, size_t *noperands);

/* --help text: "Usage: ...", then one line per option of the table. */
void tt_print_options(const tt_opt *opts, size_t nopts);

/* ---- values ------------------------------------------------------------------- */

/* Decimal integer in [lo, hi] (accepts K/M/G suffixes: 1024-based); 0 or TT_EXIT_USAGE
 * with a message naming the option. */
int tt_parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/* Finite decimal number in [lo, hi]. */
int tt_parse_double(const char *opt, const char *s, double lo, double hi, double *out);

/* Version lines on stdout: "PROG TT_VERSION" and "libtcodec X.Y.Z (format 1.0)",
 * the second from the linked library (tcodec_version_string()). */
void tt_print_version(void);

#endif
