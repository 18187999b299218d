/*
 * bench_store.c -- how many device reports per second fleetd's store
 * persists, by batch size and sync mode.
 *
 * A store on disk (the folder given as argv[1], else $TMPDIR, else /tmp)
 * holds 1000 devices, each a member of one rollout with an offer job.
 * Reports are then queued and flushed in batches of 1, 100 and 1000 (one
 * transaction per batch, as fleetd does), each batch for at least a second
 * of wall-clock time:
 *   status:    a job status (the job's row, the device's last seen) and
 *              its input event, as a download progresses;
 *   inventory: a retained "reported" message (the device's row, its 3
 *              labels, 2 components and 2 slots replaced) and its event;
 *   reconnect: the same "reported" message again, as every device sends
 *              at a reconnect (after the first round: only times move).
 * With synchronous=FULL (the default: a commit survives a power cut) and
 * NORMAL (a commit survives a crash of the process only). Prints rows per
 * second and the mean time of one batch's commit; asserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fl/err.h"
#include "fl/store.h"

#define DEVICES	 1000
#define MIN_SECS 1.0
#define MAX_ROWS 400000
#define ROLL	 "bench"
#define SHA	 "5555555555555555555555555555555555555555555555555555555555555555"
#define T0	 1767225600LL

static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(struct fl_store *st, const char *what, int rc)
{
	fprintf(stderr, "bench_store: %s: %d %s\n", what, rc,
		fl_store_errmsg(st));
	exit(1);
}

static void remove_db(const char *path)
{
	char p[700];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

/* A fresh store with the fleet, its rollout and one job per device. */
static void make_fleet(struct fl_store *st, const char *path, uint8_t sync)
{
	static struct fl_store_report r;
	struct fl_store_sqlite_options opt = {.sync = sync};
	struct fl_store_artifact a = {0};
	struct fl_store_rollout ro = {0};
	struct fl_store_member m = {0};
	uint32_t job;
	int rc;

	remove_db(path);
	rc = fl_store_open_sqlite(st, path, &opt);
	if (rc != 0)
		die(st, "open", rc);
	snprintf(a.sha256, sizeof(a.sha256), SHA);
	snprintf(a.path, sizeof(a.path), "/a.bin");
	a.length = 1;
	snprintf(ro.name, sizeof(ro.name), ROLL);
	snprintf(ro.plan_sha256, sizeof(ro.plan_sha256), SHA);
	snprintf(ro.artifact_sha256, sizeof(ro.artifact_sha256), SHA);
	snprintf(ro.component, sizeof(ro.component), "firmware");
	snprintf(ro.version, sizeof(ro.version), "2.4.0");
	ro.n_stages = 1;
	snprintf(ro.stages[0].name, sizeof(ro.stages[0].name), "all");
	if ((rc = fl_store_begin(st)) != 0 ||
	    (rc = fl_store_artifact_put(st, &a)) != 0 ||
	    (rc = fl_store_rollout_create(st, &ro, "x", 1)) != 0)
		die(st, "setup", rc);
	for (unsigned i = 0; i < DEVICES; i++) {
		memset(&r, 0, sizeof(r));
		r.kind = FL_STORE_REPORT_PRESENCE;
		snprintf(r.device, sizeof(r.device), "dev-%05u", i);
		snprintf(m.rollout, sizeof(m.rollout), ROLL);
		snprintf(m.device, sizeof(m.device), "dev-%05u", i);
		m.status = 5;
		if ((rc = fl_store_report_write(st, &r, NULL)) != 0 ||
		    (rc = fl_store_member_set(st, &m)) != 0 ||
		    (rc = fl_store_job_create(st, ROLL, m.device, 1, T0,
					      T0 + 3600, &job)) != 0)
			die(st, "setup device", rc);
	}
	if ((rc = fl_store_commit(st)) != 0)
		die(st, "setup commit", rc);
}

enum kind { STATUS, INVENTORY, RECONNECT };

static void fill(struct fl_store_report *r, enum kind kind, uint64_t row)
{
	unsigned dev = (unsigned)(row % DEVICES);

	memset(r, 0, sizeof(*r));
	snprintf(r->device, sizeof(r->device), "dev-%05u", dev);
	r->at_s = T0 + (int64_t)(row / DEVICES);
	r->event.type = FL_STORE_EV_INPUT;
	if (kind == STATUS) {
		struct fl_store_job_status *s = &r->u.status;

		r->kind = FL_STORE_REPORT_STATUS;
		s->job = dev + 1;
		s->boot = 1;
		s->n = (uint32_t)(row / DEVICES) + 1;
		s->phase = 1;
		s->bytes = s->n * 4096;
		s->total = 1u << 30;
		snprintf(s->version, sizeof(s->version), "2.4.0");
		r->event.kind = 2; /* downloading */
		snprintf(r->event.payload, sizeof(r->event.payload),
			 "{\"job\":%u,\"boot\":1,\"n\":%u,\"state\":"
			 "\"downloading\",\"bytes\":%u,\"total\":%u,"
			 "\"version\":\"2.4.0\"}",
			 s->job, s->n, s->bytes, s->total);
	} else {
		struct fl_store_inventory *inv = &r->u.inventory;
		static const char *const keys[3] = {"region", "ring", "site"};

		r->kind = FL_STORE_REPORT_INVENTORY;
		snprintf(inv->model, sizeof(inv->model), "acme-gw-2");
		snprintf(inv->tz, sizeof(inv->tz), "Europe/Paris");
		snprintf(inv->agent, sizeof(inv->agent), "0.1.0");
		/* a reconnect sends the same retained message again */
		inv->boot =
			kind == RECONNECT ? 1 : (uint32_t)(row / DEVICES) + 1;
		inv->n_labels = 3;
		for (unsigned i = 0; i < 3; i++) {
			snprintf(inv->labels[i].key, sizeof(inv->labels[i].key),
				 "%s", keys[i]);
			snprintf(inv->labels[i].value,
				 sizeof(inv->labels[i].value), "v%u", dev % 7);
		}
		inv->n_components = 2;
		snprintf(inv->components[0].name,
			 sizeof(inv->components[0].name), "firmware");
		snprintf(inv->components[0].version,
			 sizeof(inv->components[0].version), "1.4.2");
		snprintf(inv->components[1].name,
			 sizeof(inv->components[1].name), "modem");
		snprintf(inv->components[1].version,
			 sizeof(inv->components[1].version), "5.1");
		inv->n_slots = 2;
		inv->slots[0].state = 4;
		snprintf(inv->slots[0].version, sizeof(inv->slots[0].version),
			 "1.4.2");
		inv->slots[0].seq = 41;
		snprintf(
			inv->json, sizeof(inv->json),
			"{\"model\":\"acme-gw-2\",\"tz\":\"Europe/Paris\","
			"\"boot\":%u,\"agent\":\"0.1.0\",\"labels\":{"
			"\"region\":\"v%u\",\"ring\":\"v%u\",\"site\":\"v%u\"},"
			"\"components\":[{\"name\":\"firmware\",\"version\":"
			"\"1.4.2\"},{\"name\":\"modem\",\"version\":\"5.1\"}],"
			"\"slots\":[{\"state\":\"confirmed\",\"version\":"
			"\"1.4.2\",\"seq\":41},{\"state\":\"empty\"}],"
			"\"floor\":41}",
			inv->boot, dev % 7, dev % 7, dev % 7);
		r->event.kind = 0;
		snprintf(r->event.payload, sizeof(r->event.payload), "%s",
			 inv->json);
	}
}

static void run(const char *path, enum kind kind, uint8_t sync, unsigned batch)
{
	static struct fl_store_report r;
	struct fl_store st;
	struct fl_store_queue *q = NULL;
	uint64_t rows = 0, batches = 0;
	double t0, t, elapsed;
	int rc;

	make_fleet(&st, path, sync);
	if (fl_store_queue_create(&q, batch) != 0)
		die(&st, "queue", FL_ENOMEM);
	t0 = secs();
	do {
		for (unsigned i = 0; i < batch; i++) {
			fill(&r, kind, rows + i);
			if ((rc = fl_store_queue_add(q, &r)) != 0)
				die(&st, "queue_add", rc);
		}
		if ((rc = fl_store_queue_flush(&st, q, NULL)) != 0)
			die(&st, "flush", rc);
		rows += batch;
		batches++;
		t = secs();
	} while ((t - t0 < MIN_SECS) && rows < MAX_ROWS);
	elapsed = t - t0;
	printf("%-10s %-7s %6u %8llu %8.2f %10.0f %10.3f\n",
	       kind == STATUS	   ? "status"
	       : kind == INVENTORY ? "inventory"
				   : "reconnect",
	       sync == FL_STORE_SYNC_FULL ? "FULL" : "NORMAL", batch,
	       (unsigned long long)rows, elapsed, (double)rows / elapsed,
	       1000.0 * elapsed / (double)batches);
	fflush(stdout);
	fl_store_queue_free(q);
	fl_store_close(&st);
	remove_db(path);
}

int main(int argc, char **argv)
{
	static const unsigned batches[] = {1, 100, 1000};
	const char *base = argc > 1		      ? argv[1]
			   : getenv("TMPDIR") != NULL ? getenv("TMPDIR")
						      : "/tmp";
	char dir[512], path[600];

	snprintf(dir, sizeof(dir), "%s/bench_store.XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		perror("bench_store: mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/store.db", dir);
	printf("store bench: SQLite WAL in %s, %d devices, each batch size "
	       "for >= %.0f s\n",
	       dir, DEVICES, MIN_SECS);
	printf("%-10s %-7s %6s %8s %8s %10s %10s\n", "report", "sync", "batch",
	       "rows", "seconds", "rows/s", "ms/batch");
	for (int kind = STATUS; kind <= RECONNECT; kind++)
		for (int sync = FL_STORE_SYNC_FULL;
		     sync <= FL_STORE_SYNC_NORMAL; sync++)
			for (unsigned i = 0; i < 3; i++)
				run(path, (enum kind)kind, (uint8_t)sync,
				    batches[i]);
	rmdir(dir);
	return 0;
}
