/*
 * fuzz_plan.c -- libFuzzer target for the rollout plan parser: any bytes
 * go to fl_plan_parse, which must never crash, leak or hang, and must keep
 * its contract: a plan comes back exactly when there is no error, every
 * refusal is explained by at least one diagnostic, every diagnostic has a
 * position and a message, and an accepted plan has what the engine relies
 * on. The plan has no path, so the file system is never touched (no
 * artifact check) except for the tz database.
 *
 * Built with FL_FUZZ_REPLAY, the same file is a plain program that runs the
 * target over every file of the folders named on its command line: the
 * corpus replays as an ordinary test, with any compiler.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fl/err.h"
#include "fl/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static void check_plan(const struct fl_plan *p)
{
	check(p->name != NULL && p->artifact.version != NULL);
	check(p->artifact.component != NULL && p->artifact.file != NULL);
	check(p->artifact.file_path != NULL && p->artifact.nhardware > 0);
	check(p->nstages > 0 && p->nstages <= FL_PLAN_MAX_STAGES);
	check(p->nwindows <= FL_PLAN_MAX_WINDOWS);
	check(p->nholds <= FL_PLAN_MAX_HOLDS);
	for (unsigned i = 0; i < p->nstages; i++) {
		const struct fl_plan_stage *s = &p->stages[i];

		check(s->name != NULL && strlen(s->name) <= FL_PLAN_NAME_MAX);
		check(s->kind <= FL_STAGE_PERCENT);
		check(s->percent_ppm <= FL_PPM);
		check(s->kind != FL_STAGE_DEVICES || s->ndevices > 0);
		check(s->kind != FL_STAGE_COUNT || s->count > 0);
		check(s->kind != FL_STAGE_PERCENT || s->percent_ppm > 0);
		for (unsigned j = 0; j < s->ndevices; j++)
			check(s->devices[j] != NULL);
	}
	for (unsigned i = 0; i < p->nwindows; i++) {
		const struct fl_plan_window *w = &p->windows[i];

		check(w->days_mask != 0 && w->days_mask < 0x80);
		check(w->from_min < 1440 && w->to_min <= 1440);
		check(w->from_min != w->to_min);
	}
	for (unsigned i = 0; i < p->nholds; i++) {
		const struct fl_plan_hold *h = &p->holds[i];

		check(h->name != NULL);
		check(h->until_approved || h->has_until);
		check(!(h->has_from && h->has_until) ||
		      h->from_unix_s < h->until_unix_s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_plan_diags *d = malloc(sizeof(*d));
	struct fl_plan *p = NULL;
	int err;

	if (d == NULL)
		return 0;
	err = fl_plan_parse((const char *)data, size, NULL, &p, d);
	check(err == 0 || err == FL_EINVAL || err == FL_ETOOBIG ||
	      err == FL_ENOMEM);
	check((err == 0) == (p != NULL));
	check((err == 0) == (d->n_errors == 0));
	check(d->n <= FL_PLAN_MAX_DIAGS);
	check(d->n + d->n_dropped == d->n_errors + d->n_warnings);
	for (unsigned i = 0; i < d->n; i++) {
		check(d->d[i].pos.line >= 1 && d->d[i].pos.col >= 1);
		check(d->d[i].msg[0] != '\0');
		check(memchr(d->d[i].msg, '\0', sizeof(d->d[i].msg)) != NULL);
		check(i == 0 || d->d[i - 1].pos.line < d->d[i].pos.line ||
		      (d->d[i - 1].pos.line == d->d[i].pos.line &&
		       d->d[i - 1].pos.col <= d->d[i].pos.col));
	}
	if (p != NULL)
		check_plan(p);
	fl_plan_free(p);
	free(d);
	return 0;
}

#ifdef FL_FUZZ_REPLAY
#include <dirent.h>
#include <stdio.h>

/* Runs the target over one file; returns 0, or -1 if it cannot be read. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t cap = FL_PLAN_MAX_FILE_BYTES + 2, len;

	if (f == NULL)
		return -1;
	buf = malloc(cap);
	if (buf == NULL) {
		fclose(f);
		return -1;
	}
	len = fread(buf, 1, cap, f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = 0;

	for (int i = 1; i < argc; i++) {
		DIR *dp = opendir(argv[i]);
		struct dirent *e;

		if (dp == NULL) {
			fprintf(stderr, "%s: cannot open\n", argv[i]);
			return 1;
		}
		while ((e = readdir(dp)) != NULL) {
			char path[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i],
				 e->d_name);
			if (replay_file(path) != 0) {
				fprintf(stderr, "%s: cannot read\n", path);
				closedir(dp);
				return 1;
			}
			n++;
		}
		closedir(dp);
	}
	printf("replayed %u inputs\n", n);
	return n > 0 ? 0 : 1;
}
#endif
