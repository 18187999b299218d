/*
 * render.h -- fleetctl's plain-text building blocks: aligned tables,
 * progress bars, human times, durations and sizes, and the cleaning of
 * text that came from the network before it reaches a terminal.
 *
 * Pure: nothing here reads a clock (the caller passes "now") and the only
 * I/O is the FILE a table is printed to. Everything is bounded: a cell is
 * cut at FL_TABLE_CELL_MAX bytes, a table holds at most the rows it was
 * created for, and a full table refuses more rows (FL_ETOOBIG) instead of
 * growing without end.
 */
#ifndef FLEETCTL_RENDER_H
#define FLEETCTL_RENDER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FL_TABLE_MAX_COLS 12
#define FL_TABLE_CELL_MAX 256 /* bytes of one cell, longer ones are cut */
#define FL_BAR_MAX_WIDTH  200 /* cells of a progress bar */
#define FL_BAR_MAX_SEGS	  8

/* ---- tables ---------------------------------------------------------------
 *
 * Columns are separated by two spaces; a column is left-aligned unless
 * fl_table_right() says otherwise; the last column is not padded and no
 * line ends in spaces. A table can be printed in batches (fl_table_flush):
 * the header goes out with the first batch, and a column never narrows
 * from one batch to the next, so that a long listing streams page by page
 * with bounded memory.
 */
struct fl_table;

/* A table of ncols columns (1..FL_TABLE_MAX_COLS) named by headers (copied;
 * NULL: no header line), holding at most max_rows rows between flushes.
 * Returns 0 and *out (fl_table_free), FL_EINVAL, or FL_ENOMEM. */
int fl_table_new(struct fl_table **out, unsigned ncols,
		 const char *const *headers, size_t max_rows);

/* Accepts NULL. */
void fl_table_free(struct fl_table *t);

/* Right-aligns column col (numbers). */
void fl_table_right(struct fl_table *t, unsigned col);

/* Column col is at least width characters wide. */
void fl_table_min_width(struct fl_table *t, unsigned col, unsigned width);

/* Adds a row of ncols cells (copied, cleaned, cut at FL_TABLE_CELL_MAX;
 * NULL prints "-"). Returns 0, FL_ETOOBIG when max_rows rows wait to be
 * printed, or FL_ENOMEM. */
int fl_table_add(struct fl_table *t, const char *const *cells);

/* Rows waiting to be printed. */
size_t fl_table_rows(const struct fl_table *t);

/* Prints the waiting rows (and the header, the first time) and forgets
 * them. Returns 0 or FL_EIO when f fails. */
int fl_table_flush(struct fl_table *t, FILE *f);

/* ---- progress bars --------------------------------------------------------
 */

struct fl_bar_seg {
	uint64_t n; /* devices in this segment */
	char ch;    /* the cell character */
};

/* Writes "[" + width cells + "]" and a NUL into out (size >= width + 3;
 * width 1..FL_BAR_MAX_WIDTH, else out is "[]"). Segment i fills cells in
 * proportion to segs[i].n / total, in order; a segment of at least one
 * device gets at least one cell; cells left over print `rest`. The bar is
 * full only when the segments add up to total; total 0 prints only rest.
 * A total below the segments' sum is raised to it. */
void fl_render_bar(char *out, size_t size, unsigned width,
		   const struct fl_bar_seg *segs, unsigned nsegs,
		   uint64_t total, char rest);

/* ---- times, durations, sizes ----------------------------------------------
 */

/* "0s", "45s", "3m 20s", "2h 5m", "3d 4h", "412d": the two largest units,
 * rounded down. Negative durations print as "0s". */
void fl_render_duration(int64_t s, char *buf, size_t size);

/* t relative to now: "just now" (under a second apart), "45s ago",
 * "in 2h 5m". */
void fl_render_ago(int64_t t, int64_t now, char *buf, size_t size);

/* RFC 3339 in UTC, "2026-11-20T13:00:00Z"; t < 0 prints "-". */
void fl_render_instant(int64_t t, char *buf, size_t size);

/* "512 B", "1.5 KiB", "4.0 MiB", "2.3 GiB". */
void fl_render_bytes(uint64_t n, char *buf, size_t size);

/* A rate in 0..1 as a percentage with one decimal: "0.0%", "12.5%". */
void fl_render_percent(double rate, char *buf, size_t size);

/* ---- text from the network ------------------------------------------------
 */

/* Copies src into dst (size > 0) with every control character (below
 * 0x20, and 0x7f) replaced by '?', so that a server's text cannot move
 * the cursor or change the terminal; cut to fit. Returns dst. */
char *fl_render_clean(char *dst, size_t size, const char *src);

/* Characters src takes on a terminal: its bytes that do not continue a
 * UTF-8 sequence. */
size_t fl_render_width(const char *src);

#endif
