/*
 * bench_engine.c -- what the rollout engine costs on a big fleet.
 *
 * For inventories of 100k and 1M synthetic devices (4 models, 8 regions,
 * a ring label; ids "dev-0000001"...): the time to take the inventory in
 * (targets, strata, id index), to place a stage (membership of a 10%
 * stage, stratified, and of the 100% stage that follows), to make every
 * offer, to fold one report per device, and to evaluate the gate (judge
 * every soak and pass the stage), plus the cost of an idle step with every
 * device in flight. Memory: the engine's own allocations per device (now
 * and at peak, which includes a stage's transient sort buffers) and the
 * process's peak RSS. One core, wall-clock; prints figures, asserts
 * nothing but that the engine did what was asked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "fl/engine.h"
#include "fl/err.h"
#include "fl/plan.h"
#include "fl/semver.h"

#define T0 1767225600LL

static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct fleet {
	struct fl_inv_device *inv;
	struct fl_inv_label *labels; /* 2 per device */
	char (*ids)[32];
	size_t n;
};

static const char *const models[4] = {"thermo-v1", "thermo-v2", "thermo-v3",
				      "thermo-v4"};
static const char *const regions[8] = {"eu", "us", "ap", "sa",
				       "af", "me", "oc", "na"};

static int fleet_make(struct fleet *f, size_t n)
{
	f->n = n;
	f->inv = calloc(n, sizeof(*f->inv));
	f->labels = calloc(2 * n, sizeof(*f->labels));
	f->ids = calloc(n, sizeof(*f->ids));
	if (f->inv == NULL || f->labels == NULL || f->ids == NULL)
		return FL_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uint32_t h = (uint32_t)(i * 2654435761u);

		snprintf(f->ids[i], sizeof(f->ids[i]), "dev-%07zu", i);
		f->inv[i].id = f->ids[i];
		/* skewed: 40/30/20/10 % over the models */
		f->inv[i].model = models[(h % 10) < 4	? 0
					 : (h % 10) < 7 ? 1
					 : (h % 10) < 9 ? 2
							: 3];
		f->inv[i].version = "1.0.0";
		f->labels[2 * i].key = "region";
		f->labels[2 * i].value = regions[(h >> 8) % 8];
		f->labels[2 * i + 1].key = "ring";
		f->labels[2 * i + 1].value = (h >> 16) % 50 ? "main" : "canary";
		f->inv[i].labels = &f->labels[2 * i];
		f->inv[i].nlabels = 2;
		f->inv[i].is_online = 1;
	}
	return 0;
}

static void fleet_free(struct fleet *f)
{
	free(f->inv);
	free(f->labels);
	free(f->ids);
}

static long peak_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static int run(size_t n)
{
	struct fl_plan p;
	struct fl_plan_stage stages[2];
	struct fleet f;
	struct fl_engine *e = NULL;
	struct fl_decision *d = NULL;
	struct fl_event ev;
	size_t k, offers = 0, mem_now, mem_peak;
	int64_t wake;
	double t, t_create, t_place10, t_place100, t_apply, t_gate, t_idle;
	int rc;

	memset(&p, 0, sizeof(p));
	memset(stages, 0, sizeof(stages));
	p.name = "thermostat-2.4.0";
	p.artifact.version = "2.4.0";
	fl_semver_parse(&p.artifact.semver, "2.4.0", 5);
	p.artifact.hardware = (const char **)models;
	p.artifact.nhardware = 4;
	p.health.soak_s = 600;
	p.health.has_max_failure_rate = 1;
	p.health.max_failure_rate_ppm = 50000;
	p.health.has_min_devices = 1;
	p.health.min_devices = 100;
	p.health.timeout_s = 7200;
	stages[0].name = "early";
	stages[0].kind = FL_STAGE_PERCENT;
	stages[0].percent_ppm = 100000;
	stages[1].name = "everyone";
	stages[1].kind = FL_STAGE_PERCENT;
	stages[1].percent_ppm = FL_PPM;
	p.stages = stages;
	p.nstages = 2;

	rc = fleet_make(&f, n);
	if (rc == 0) {
		d = malloc((n + 64) * sizeof(*d));
		rc = d == NULL ? FL_ENOMEM : 0;
	}
	if (rc != 0)
		goto out;

	t = secs();
	rc = fl_engine_create(&e, &p, NULL, f.inv, n);
	t_create = secs() - t;
	if (rc != 0)
		goto out;

	/* place the 10% stage and offer to it */
	t = secs();
	rc = fl_engine_step(e, T0, d, n + 64, &k, &wake);
	t_place10 = secs() - t;
	if (rc != 0)
		goto out;
	for (size_t i = 0; i < k; i++)
		offers += d[i].kind == FL_DEC_OFFER;

	/* one report per member: committed; then the gate */
	memset(&ev, 0, sizeof(ev));
	ev.kind = FL_EV_COMMITTED;
	ev.at_s = T0 + 10;
	for (size_t i = 0; i < k; i++) {
		if (d[i].kind != FL_DEC_OFFER)
			continue;
		ev.dev = d[i].dev;
		fl_engine_apply(e, &ev);
	}
	rc = fl_engine_step(e, T0 + 700, d, n + 64, &k, &wake);
	if (rc != 0)
		goto out;

	/* that step judged 10% and placed + offered the other 90%; time the
	 * 100% placement on its own with a fresh step after the soak */
	t_place100 = 0;
	for (size_t i = 0; i < k; i++)
		offers += d[i].kind == FL_DEC_OFFER;
	{
		/* a second engine, for the pure placement of 100% at once */
		struct fl_engine *e2 = NULL;
		struct fl_plan p2 = p;
		struct fl_plan_stage one = stages[1];

		p2.stages = &one;
		p2.nstages = 1;
		if (fl_engine_create(&e2, &p2, NULL, f.inv, n) == 0) {
			t = secs();
			fl_engine_step(e2, T0, d, n + 64, &k, &wake);
			t_place100 = secs() - t;
		}
		fl_engine_free(e2);
	}

	/* idle step: everyone in flight, nothing due */
	t = secs();
	rc = fl_engine_step(e, T0 + 800, d, n + 64, &k, &wake);
	t_idle = secs() - t;
	if (rc != 0)
		goto out;

	/* every remaining device commits */
	t = secs();
	for (uint32_t i = 0; i < n; i++) {
		ev.dev = i;
		ev.at_s = T0 + 900;
		fl_engine_apply(e, &ev);
	}
	t_apply = secs() - t;

	/* the gate: judge every soak, pass the stage, complete */
	t = secs();
	rc = fl_engine_step(e, T0 + 1500, d, n + 64, &k, &wake);
	t_gate = secs() - t;
	if (rc != 0)
		goto out;
	{
		size_t ok = 0, passed = 0, complete = 0;

		for (size_t i = 0; i < k; i++) {
			ok += d[i].kind == FL_DEC_DEVICE_SUCCEEDED;
			passed += d[i].kind == FL_DEC_STAGE_PASSED;
			complete += d[i].kind == FL_DEC_COMPLETE;
		}
		if (passed != 1 || complete != 1 || offers != n) {
			fprintf(stderr,
				"bench_engine: unexpected run (%zu offers, "
				"%zu passed)\n",
				offers, passed);
			rc = FL_ESTATE;
			goto out;
		}
		fl_engine_memory(e, &mem_now, &mem_peak);
		printf("%8zu devices: create %7.1f ms | place 10%% stage + "
		       "offers %7.1f ms | place 100%% + %zu offers %7.1f ms\n",
		       n, t_create * 1e3, t_place10 * 1e3, n, t_place100 * 1e3);
		printf("%8s          apply %7.1f ms (%.0f ns/event) | idle "
		       "step "
		       "%6.1f ms | gate: %zu soaks judged + pass %7.1f ms\n",
		       "", t_apply * 1e3, t_apply * 1e9 / (double)n,
		       t_idle * 1e3, ok, t_gate * 1e3);
		printf("%8s          engine memory %6.1f B/device now, %6.1f "
		       "B/device peak; process peak RSS %ld MiB\n",
		       "", (double)mem_now / (double)n,
		       (double)mem_peak / (double)n, peak_rss_kib() / 1024);
		printf("%8s          place + gate for the whole fleet: %.3f s "
		       "(target < 1 s at 1M)\n",
		       "", t_place100 + t_gate);
	}
out:
	if (rc != 0)
		fprintf(stderr, "bench_engine: %s\n", fl_strerror(rc));
	fl_engine_free(e);
	free(d);
	fleet_free(&f);
	return rc;
}

int main(void)
{
	printf("bench_engine: rollout engine on one core\n");
	if (run(100000) != 0 || run(1000000) != 0)
		return 1;
	return 0;
}
