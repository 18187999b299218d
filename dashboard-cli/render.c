/*
 * render.c -- aligned tables, progress bars, human times, durations and
 * sizes, and cleaning of network text (render.h).
 *
 * Method (bars): each segment's exact share of the width is n * width /
 * total cells. Every segment gets the whole part of its share, and at
 * least one cell when it counts at least one device (a single failure in
 * a thousand must show). The cells the segments fill together are their
 * rounded total share, except that a bar is full only when the segments
 * add up to the total; segments lifted to one cell widen that, up to the
 * width (less one while unfinished). Missing cells go to the largest
 * remainders, excess cells come off the largest segments, so the bar
 * never overflows and never hides a segment while cells remain.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fl/err.h"
#include "render.h"
#include "simulate.h"

/* ---- text from the network --------------------------------------------- */

char *fl_render_clean(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	if (size == 0)
		return dst;
	for (; src != NULL && src[n] != '\0' && n + 1 < size; n++) {
		unsigned char c = (unsigned char)src[n];

		dst[n] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	/* Cut: do not leave half of a UTF-8 sequence at the end. */
	if (src != NULL && src[n] != '\0') {
		size_t lead = n;
		unsigned char c;
		size_t need;

		while (lead > 0 &&
		       ((unsigned char)dst[lead - 1] & 0xC0) == 0x80)
			lead--;
		if (lead > 0) {
			c = (unsigned char)dst[lead - 1];
			need = c >= 0xF0   ? 4
			       : c >= 0xE0 ? 3
			       : c >= 0xC0 ? 2
					   : 1;
			if (c >= 0xC0 && lead - 1 + need > n)
				n = lead - 1;
		}
	}
	dst[n] = '\0';
	return dst;
}

size_t fl_render_width(const char *src)
{
	size_t w = 0;

	for (; *src != '\0'; src++)
		if (((unsigned char)*src & 0xC0) != 0x80)
			w++;
	return w;
}

/* ---- tables ------------------------------------------------------------- */

struct fl_table {
	unsigned ncols;
	size_t max_rows, nrows, cap_rows;
	char **rows;  /* each: ncols NUL-terminated cells back to back */
	char *header; /* the same, or NULL */
	unsigned width[FL_TABLE_MAX_COLS];
	uint8_t is_right[FL_TABLE_MAX_COLS];
	int has_printed_header;
};

/* The cells of cells[] cleaned and packed back to back into a new buffer;
 * widens the columns to fit them. */
static char *pack_row(struct fl_table *t, const char *const *cells)
{
	char cell[FL_TABLE_CELL_MAX], *row, *p;
	size_t len = 0;

	for (unsigned c = 0; c < t->ncols; c++)
		len += strlen(fl_render_clean(cell, sizeof(cell),
					      cells[c] != NULL ? cells[c]
							       : "-")) +
		       1;
	row = malloc(len);
	if (row == NULL)
		return NULL;
	p = row;
	for (unsigned c = 0; c < t->ncols; c++) {
		size_t n, w;

		fl_render_clean(cell, sizeof(cell),
				cells[c] != NULL ? cells[c] : "-");
		n = strlen(cell);
		memcpy(p, cell, n + 1);
		p += n + 1;
		w = fl_render_width(cell);
		if (w > t->width[c])
			t->width[c] = (unsigned)w;
	}
	return row;
}

int fl_table_new(struct fl_table **out, unsigned ncols,
		 const char *const *headers, size_t max_rows)
{
	struct fl_table *t;

	*out = NULL;
	if (ncols == 0 || ncols > FL_TABLE_MAX_COLS || max_rows == 0)
		return FL_EINVAL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return FL_ENOMEM;
	t->ncols = ncols;
	t->max_rows = max_rows;
	if (headers != NULL) {
		t->header = pack_row(t, headers);
		if (t->header == NULL) {
			free(t);
			return FL_ENOMEM;
		}
	}
	*out = t;
	return 0;
}

static void forget_rows(struct fl_table *t)
{
	for (size_t i = 0; i < t->nrows; i++)
		free(t->rows[i]);
	t->nrows = 0;
}

void fl_table_free(struct fl_table *t)
{
	if (t == NULL)
		return;
	forget_rows(t);
	free(t->rows);
	free(t->header);
	free(t);
}

void fl_table_right(struct fl_table *t, unsigned col)
{
	if (col < t->ncols)
		t->is_right[col] = 1;
}

void fl_table_min_width(struct fl_table *t, unsigned col, unsigned width)
{
	if (width >= FL_TABLE_CELL_MAX)
		width = FL_TABLE_CELL_MAX - 1;
	if (col < t->ncols && width > t->width[col])
		t->width[col] = width;
}

int fl_table_add(struct fl_table *t, const char *const *cells)
{
	char *row;

	if (t->nrows == t->max_rows)
		return FL_ETOOBIG;
	if (t->nrows == t->cap_rows) {
		size_t cap = t->cap_rows ? t->cap_rows * 2 : 16;
		char **rows;

		if (cap > t->max_rows)
			cap = t->max_rows;
		rows = realloc(t->rows, cap * sizeof(*rows));
		if (rows == NULL)
			return FL_ENOMEM;
		t->rows = rows;
		t->cap_rows = cap;
	}
	row = pack_row(t, cells);
	if (row == NULL)
		return FL_ENOMEM;
	t->rows[t->nrows++] = row;
	return 0;
}

size_t fl_table_rows(const struct fl_table *t)
{
	return t->nrows;
}

/* One line: cells padded to their column, trailing spaces dropped. */
static int print_row(const struct fl_table *t, const char *row, FILE *f)
{
	char line[FL_TABLE_MAX_COLS * (FL_TABLE_CELL_MAX + 2) + 1];
	size_t n = 0;

	for (unsigned c = 0; c < t->ncols; c++) {
		size_t len = strlen(row), w = fl_render_width(row);
		size_t pad = t->width[c] > w ? t->width[c] - w : 0;
		int is_last = c + 1 == t->ncols;

		if (c > 0) {
			line[n++] = ' ';
			line[n++] = ' ';
		}
		if (t->is_right[c]) {
			memset(line + n, ' ', pad);
			n += pad;
		}
		memcpy(line + n, row, len);
		n += len;
		if (!t->is_right[c] && !is_last) {
			memset(line + n, ' ', pad);
			n += pad;
		}
		row += len + 1;
	}
	while (n > 0 && line[n - 1] == ' ')
		n--;
	line[n++] = '\n';
	return fwrite(line, 1, n, f) == n ? 0 : FL_EIO;
}

int fl_table_flush(struct fl_table *t, FILE *f)
{
	int rc = 0;

	if (t->header != NULL && !t->has_printed_header) {
		rc = print_row(t, t->header, f);
		t->has_printed_header = 1;
	}
	for (size_t i = 0; i < t->nrows && rc == 0; i++)
		rc = print_row(t, t->rows[i], f);
	forget_rows(t);
	return rc;
}

/* ---- progress bars ------------------------------------------------------ */

void fl_render_bar(char *out, size_t size, unsigned width,
		   const struct fl_bar_seg *segs, unsigned nsegs,
		   uint64_t total, char rest)
{
	unsigned cells[FL_BAR_MAX_SEGS], filled, sum_cells = 0, nonzero = 0;
	uint64_t rem[FL_BAR_MAX_SEGS], sum = 0;
	size_t k = 0;

	if (size < 3)
		return;
	if (width == 0 || width > FL_BAR_MAX_WIDTH || size < width + 3u ||
	    nsegs > FL_BAR_MAX_SEGS) {
		memcpy(out, "[]", 3);
		return;
	}
	for (unsigned i = 0; i < nsegs; i++) {
		/* Beyond 2^40 devices the products below could overflow. */
		uint64_t n = segs[i].n < (1ull << 40) ? segs[i].n : 1ull << 40;

		sum += n;
		nonzero += n > 0;
	}
	if (total < sum)
		total = sum;
	if (total > (1ull << 44))
		total = 1ull << 44;
	if (total == 0) {
		filled = 0;
	} else if (sum == total) {
		filled = width;
	} else {
		filled = (unsigned)((sum * width + total / 2) / total);
		if (filled >= width)
			filled = width - 1;
	}
	for (unsigned i = 0; i < nsegs; i++) {
		uint64_t n = segs[i].n < (1ull << 40) ? segs[i].n : 1ull << 40;

		cells[i] = total ? (unsigned)(n * width / total) : 0;
		rem[i] = total ? n * width % total : 0;
		if (n > 0 && cells[i] == 0) {
			cells[i] = 1;
			rem[i] = 0;
		}
		sum_cells += cells[i];
	}
	/* Segments lifted to one cell widen the bar rather than shrink
	 * their neighbours, as far as an unfinished bar stays unfull. */
	if (sum_cells > filled)
		filled = sum_cells < width ? sum_cells
			 : sum == total	   ? width
					   : width - 1;
	while (sum_cells < filled) {
		unsigned best = nsegs;

		for (unsigned i = 0; i < nsegs; i++)
			if (segs[i].n > 0 &&
			    (best == nsegs || rem[i] > rem[best]))
				best = i;
		if (best == nsegs)
			break;
		cells[best]++;
		rem[best] = 0;
		sum_cells++;
	}
	while (sum_cells > filled) {
		unsigned best = nsegs;

		for (unsigned i = 0; i < nsegs; i++)
			if (cells[i] > 1 &&
			    (best == nsegs || cells[i] > cells[best] ||
			     (cells[i] == cells[best] && rem[i] < rem[best])))
				best = i;
		if (best == nsegs)
			break;
		cells[best]--;
		sum_cells--;
	}
	out[k++] = '[';
	for (unsigned i = 0; i < nsegs; i++)
		for (unsigned c = 0; c < cells[i] && k <= width; c++)
			out[k++] = segs[i].ch;
	while (k <= width)
		out[k++] = rest;
	out[k++] = ']';
	out[k] = '\0';
}

/* ---- times, durations, sizes -------------------------------------------- */

void fl_render_duration(int64_t s, char *buf, size_t size)
{
	long long d, h, m, sec;

	if (s <= 0) {
		snprintf(buf, size, "0s");
		return;
	}
	d = (long long)(s / 86400);
	h = (long long)(s / 3600 % 24);
	m = (long long)(s / 60 % 60);
	sec = (long long)(s % 60);
	if (d >= 100)
		snprintf(buf, size, "%lldd", d);
	else if (d > 0 && h > 0)
		snprintf(buf, size, "%lldd %lldh", d, h);
	else if (d > 0)
		snprintf(buf, size, "%lldd", d);
	else if (h > 0 && m > 0)
		snprintf(buf, size, "%lldh %lldm", h, m);
	else if (h > 0)
		snprintf(buf, size, "%lldh", h);
	else if (m > 0 && sec > 0)
		snprintf(buf, size, "%lldm %llds", m, sec);
	else if (m > 0)
		snprintf(buf, size, "%lldm", m);
	else
		snprintf(buf, size, "%llds", sec);
}

void fl_render_ago(int64_t t, int64_t now, char *buf, size_t size)
{
	char d[32];

	if (t == now) {
		snprintf(buf, size, "just now");
	} else if (t < now) {
		fl_render_duration(now - t, d, sizeof(d));
		snprintf(buf, size, "%s ago", d);
	} else {
		fl_render_duration(t - now, d, sizeof(d));
		snprintf(buf, size, "in %s", d);
	}
}

void fl_render_instant(int64_t t, char *buf, size_t size)
{
	if (t < 0)
		snprintf(buf, size, "-");
	else
		fl_sim_format_instant(t, buf, size);
}

void fl_render_bytes(uint64_t n, char *buf, size_t size)
{
	static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	unsigned u = 0;

	if (n < 1024) {
		snprintf(buf, size, "%" PRIu64 " B", n);
		return;
	}
	v /= 1024.0;
	while (v >= 1024.0 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, unit[u]);
}

void fl_render_percent(double rate, char *buf, size_t size)
{
	if (!(rate >= 0.0) || rate > 1e6)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.1f%%", rate * 100.0);
}
