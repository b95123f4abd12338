/* A progress bar on stderr for long work: shown only when stderr is a terminal
 * and the tool is not quiet; redrawn at most ten times a second; nothing at all
 * when stderr is a pipe or a file. */
#ifndef TT_PROGRESS_H
#define TT_PROGRESS_H

#include <stdint.h>

/* Enable (if stderr is a TTY and !quiet) with a label ("packing"). */
void tt_progress_start(const char *label, int quiet);
/* done out of total units (bytes, tensors). */
void tt_progress_update(uint64_t done, uint64_t total);
/* Erase the bar (before printing anything else on stderr). */
void tt_progress_end(void);

#endif
