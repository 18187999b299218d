/*
 * diag.c -- the bounded list of diagnostics of one plan file: adding,
 * sorting into source order, and printing as FILE:LINE:COL: SEVERITY: MSG.
 */
#include <stdio.h>
#include <string.h>

#include "plan_int.h"

void fl_plan_diags_add(struct fl_plan_diags *d, int severity, struct fl_pos pos,
		       const char *fmt, ...)
{
	struct fl_plan_diag *e;
	va_list ap;

	if (severity == FL_DIAG_ERROR)
		d->n_errors++;
	else
		d->n_warnings++;
	if (d->n >= FL_PLAN_MAX_DIAGS) {
		d->n_dropped++;
		return;
	}
	e = &d->d[d->n++];
	e->severity = (uint8_t)severity;
	/* Whole-file problems are reported at 1:1. */
	e->pos.line = pos.line ? pos.line : 1;
	e->pos.col = pos.line ? pos.col : 1;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

static int before(const struct fl_plan_diag *a, const struct fl_plan_diag *b)
{
	if (a->pos.line != b->pos.line)
		return a->pos.line < b->pos.line;
	return a->pos.col < b->pos.col;
}

void fl_plan_diags_sort(struct fl_plan_diags *d)
{
	/* Insertion sort: at most FL_PLAN_MAX_DIAGS entries, and stable. */
	for (unsigned i = 1; i < d->n; i++) {
		struct fl_plan_diag t = d->d[i];
		unsigned j = i;

		while (j > 0 && before(&t, &d->d[j - 1])) {
			d->d[j] = d->d[j - 1];
			j--;
		}
		d->d[j] = t;
	}
}

void fl_plan_diags_print(const struct fl_plan_diags *diags, FILE *f)
{
	const char *file;

	if (diags == NULL || f == NULL)
		return;
	file = diags->file ? diags->file : "<plan>";
	for (unsigned i = 0; i < diags->n && i < FL_PLAN_MAX_DIAGS; i++) {
		const struct fl_plan_diag *e = &diags->d[i];

		fprintf(f, "%s:%u:%u: %s: %s\n", file, (unsigned)e->pos.line,
			(unsigned)e->pos.col,
			e->severity == FL_DIAG_ERROR ? "error" : "warning",
			e->msg);
	}
	if (diags->n_dropped > 0)
		fprintf(f, "%s: note: %u more diagnostics not shown\n", file,
			diags->n_dropped);
}
