/* Progress bar (see progress.h). */
#define _POSIX_C_SOURCE 200809L
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static int g_on;
static int g_shown;
static const char *g_label = "";
static double g_last;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void tt_progress_start(const char *label, int quiet) {
  g_on = !quiet && isatty(STDERR_FILENO);
  g_label = label;
  g_last = 0.0;
  g_shown = 0;
}

void tt_progress_update(uint64_t done, uint64_t total) {
  char bar[31];
  if (!g_on || total == 0) return;
  double t = now();
  if (t - g_last < 0.1 && done < total) return;
  g_last = t;
  double frac = done >= total ? 1.0 : (double)done / (double)total;
  size_t fill = (size_t)(frac * 30.0);
  memset(bar, '#', fill);
  memset(bar + fill, '.', 30 - fill);
  bar[30] = '\0';
  fprintf(stderr, "\r%s: %-10s [%s] %5.1f%%", tt_prog(), g_label, bar, 100.0 * frac);
  fflush(stderr);
  g_shown = 1;
}

void tt_progress_end(void) {
  if (g_shown) fprintf(stderr, "\r%*s\r", 70, "");
  g_shown = 0;
}
