/*
 * summary.c -- fleet-sim's summary: devices per running version, per last
 * job outcome (result names of proto.h), connections, reboots, power cuts;
 * merged across worker processes through a line format on pipes, printed
 * as text or JSON (cJSON).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fl/bytes.h"
#include "sim.h"

void sim_summary_add_version(struct sim_summary *s, const char *v, uint32_t n)
{
	for (unsigned i = 0; i < s->n_versions; i++) {
		if (strcmp(s->version[i].name, v) == 0) {
			s->version[i].count += n;
			return;
		}
	}
	if (s->n_versions == SIM_VERSIONS_MAX) {
		s->other_versions += n;
		return;
	}
	(void)fl_strlcpy(s->version[s->n_versions].name, v,
			 sizeof(s->version[0].name));
	s->version[s->n_versions++].count = n;
}

void sim_summary_merge(struct sim_summary *into, const struct sim_summary *s)
{
	into->devices += s->devices;
	into->on += s->on;
	into->connected += s->connected;
	into->never_online += s->never_online;
	into->bricked += s->bricked;
	into->halted += s->halted;
	into->reboots += s->reboots;
	into->power_cuts += s->power_cuts;
	into->crashes += s->crashes;
	into->dl_bytes += s->dl_bytes;
	into->no_job += s->no_job;
	into->in_progress += s->in_progress;
	for (unsigned i = 0; i < SIM_RESULTS; i++)
		into->result[i] += s->result[i];
	for (unsigned i = 0; i < s->n_versions; i++)
		sim_summary_add_version(into, s->version[i].name,
					s->version[i].count);
	into->other_versions += s->other_versions;
	if (s->elapsed_s > into->elapsed_s)
		into->elapsed_s = s->elapsed_s;
}

/* ---- the pipe format ----------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int sim_summary_write(int fd, const struct sim_summary *s)
{
	char buf[8192];
	size_t n = 0;
	int k;

#define PUT(...)                                                               \
	do {                                                                   \
		k = snprintf(buf + n, sizeof(buf) - n, __VA_ARGS__);           \
		if (k < 0 || (size_t)k >= sizeof(buf) - n)                     \
			return -1;                                             \
		n += (size_t)k;                                                \
	} while (0)

	PUT("D %" PRIu32 " %" PRIu32 " %" PRIu32 " %" PRIu32 " %" PRIu32
	    " %" PRIu32 " %" PRIu32 " %" PRIu32 "\n",
	    s->devices, s->on, s->connected, s->never_online, s->bricked,
	    s->halted, s->no_job, s->in_progress);
	PUT("C %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu32
	    " %.3f\n",
	    s->reboots, s->power_cuts, s->crashes, s->dl_bytes,
	    s->other_versions, s->elapsed_s);
	for (unsigned i = 0; i < SIM_RESULTS; i++)
		if (s->result[i] != 0)
			PUT("R %u %" PRIu32 "\n", i, s->result[i]);
	for (unsigned i = 0; i < s->n_versions; i++)
		PUT("V %" PRIu32 " %s\n", s->version[i].count,
		    s->version[i].name);
	PUT(".\n");
#undef PUT
	return write_all(fd, buf, n);
}

int sim_summary_parse_line(struct sim_summary *s, const char *line)
{
	unsigned code;
	uint32_t n;
	char name[FL_PROTO_VERSION_MAX];

	switch (line[0]) {
	case 'D':
		return sscanf(line,
			      "D %" SCNu32 " %" SCNu32 " %" SCNu32 " %" SCNu32
			      " %" SCNu32 " %" SCNu32 " %" SCNu32 " %" SCNu32,
			      &s->devices, &s->on, &s->connected,
			      &s->never_online, &s->bricked, &s->halted,
			      &s->no_job, &s->in_progress) == 8
			       ? 0
			       : -1;
	case 'C':
		return sscanf(line,
			      "C %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
			      " %" SCNu32 " %lf",
			      &s->reboots, &s->power_cuts, &s->crashes,
			      &s->dl_bytes, &s->other_versions,
			      &s->elapsed_s) == 6
			       ? 0
			       : -1;
	case 'R':
		if (sscanf(line, "R %u %" SCNu32, &code, &n) != 2 ||
		    code >= SIM_RESULTS)
			return -1;
		s->result[code] = n;
		return 0;
	case 'V':
		if (sscanf(line, "V %" SCNu32 " %31s", &n, name) != 2)
			return -1;
		sim_summary_add_version(s, name, n);
		return 0;
	case '.': return line[1] == '\0' ? 1 : -1;
	default: return -1;
	}
}

/* ---- printing ------------------------------------------------------------ */

static void print_json(FILE *f, const struct sim_summary *s)
{
	cJSON *root = cJSON_CreateObject(), *v, *o;
	char *text;

	if (root == NULL)
		return;
	cJSON_AddNumberToObject(root, "devices", s->devices);
	cJSON_AddNumberToObject(root, "on", s->on);
	cJSON_AddNumberToObject(root, "connected", s->connected);
	cJSON_AddNumberToObject(root, "never_online", s->never_online);
	v = cJSON_AddObjectToObject(root, "versions");
	for (unsigned i = 0; v != NULL && i < s->n_versions; i++)
		cJSON_AddNumberToObject(v, s->version[i].name,
					s->version[i].count);
	if (v != NULL && s->other_versions != 0)
		cJSON_AddNumberToObject(v, "other", s->other_versions);
	o = cJSON_AddObjectToObject(root, "outcomes");
	if (o != NULL && s->no_job != 0)
		cJSON_AddNumberToObject(o, "no_job", s->no_job);
	if (o != NULL && s->in_progress != 0)
		cJSON_AddNumberToObject(o, "in_progress", s->in_progress);
	for (unsigned i = 0; o != NULL && i < SIM_RESULTS; i++)
		if (s->result[i] != 0)
			cJSON_AddNumberToObject(o, fl_result_name((int)i),
						s->result[i]);
	cJSON_AddNumberToObject(root, "reboots", (double)s->reboots);
	cJSON_AddNumberToObject(root, "power_cuts", (double)s->power_cuts);
	cJSON_AddNumberToObject(root, "crashes", (double)s->crashes);
	cJSON_AddNumberToObject(root, "bricked", s->bricked);
	cJSON_AddNumberToObject(root, "halted", s->halted);
	cJSON_AddNumberToObject(root, "downloaded_bytes", (double)s->dl_bytes);
	cJSON_AddNumberToObject(root, "elapsed_s",
				(double)(uint64_t)(s->elapsed_s * 10) / 10);
	text = cJSON_PrintUnformatted(root);
	if (text != NULL)
		fprintf(f, "%s\n", text);
	free(text);
	cJSON_Delete(root);
}

static void print_counts(FILE *f, const struct sim_summary *s, const char *sep)
{
	fprintf(f, "versions");
	for (unsigned i = 0; i < s->n_versions; i++)
		fprintf(f, " %s%s%" PRIu32, s->version[i].name, sep,
			s->version[i].count);
	if (s->other_versions != 0)
		fprintf(f, " other%s%" PRIu32, sep, s->other_versions);
	fprintf(f, "%soutcomes", sep[0] == '=' ? " " : "\n");
	if (s->no_job != 0)
		fprintf(f, " no_job%s%" PRIu32, sep, s->no_job);
	if (s->in_progress != 0)
		fprintf(f, " in_progress%s%" PRIu32, sep, s->in_progress);
	for (unsigned i = 0; i < SIM_RESULTS; i++)
		if (s->result[i] != 0)
			fprintf(f, " %s%s%" PRIu32, fl_result_name((int)i), sep,
				s->result[i]);
}

void sim_summary_print(FILE *f, const struct sim_summary *s, bool is_json)
{
	if (is_json) {
		print_json(f, s);
		return;
	}
	fprintf(f,
		"fleet-sim: %" PRIu32 " devices, %" PRIu32 " on, %" PRIu32
		" connected, %" PRIu32 " never online, after %.1f s\n",
		s->devices, s->on, s->connected, s->never_online, s->elapsed_s);
	print_counts(f, s, " ");
	fprintf(f,
		"\nreboots %" PRIu64 ", power cuts %" PRIu64
		", crashes %" PRIu64 ", bricked %" PRIu32 ", halted %" PRIu32
		", downloaded %" PRIu64 " bytes\n",
		s->reboots, s->power_cuts, s->crashes, s->bricked, s->halted,
		s->dl_bytes);
}

void sim_summary_progress(FILE *f, const struct sim_summary *s)
{
	fprintf(f,
		"fleet-sim: t=%.1fs devices=%" PRIu32 " on=%" PRIu32
		" connected=%" PRIu32 " reboots=%" PRIu64 " cuts=%" PRIu64
		" crashes=%" PRIu64 " ",
		s->elapsed_s, s->devices, s->on, s->connected, s->reboots,
		s->power_cuts, s->crashes);
	print_counts(f, s, "=");
	fputc('\n', f);
	fflush(f);
}
