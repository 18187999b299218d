/*
 * test_store_crash.c -- fleetd's store killed with SIGKILL at random
 * moments: nothing committed is lost, nothing half-written is seen.
 *
 * Method: a child process opens the store (the first time, it creates and
 * migrates it) and writes batches in a loop, each in one transaction:
 * batch b holds K(b) device reports, each logged as an event whose payload
 * names (b, k, K(b)) -- odd batches as single calls, even ones through the
 * report queue -- then takes one job id, logged in the batch's last event,
 * and records b in a setting. After its commit returns, the child tells
 * the parent through a pipe: (b, first and last sequence numbers, job).
 * The parent kills the child after a random delay (seeded): a quarter of
 * the kills within 2 ms of the start, so they land while the store is
 * opened or migrated; the others counted from the child's first commit,
 * so a slow, loaded machine still sees kills mid-batch. Then it reads what
 * the child reported, reopens the store and checks:
 *   - fl_store_check: integrity and foreign keys are fine;
 *   - event sequence numbers run 1, 2, 3 ... without a gap;
 *   - the batches present are 1..B, each whole (K(b) events, k in order,
 *     contiguous) -- never part of one;
 *   - every batch the child reported is there, at the sequence numbers it
 *     reported, and at most one more (committed, killed before telling);
 *   - job ids grow strictly from batch to batch: none given twice;
 *   - the setting says B.
 * Then the next child goes on from B + 1. About 50 kills; the seed is
 * printed and may be set with FL_STORE_CRASH_SEED.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fl/err.h"
#include "fl/store.h"

#define KILLS	     50
#define MAX_DELAY_US 60000
#define ROLL	     "crash"
#define DEVICES	     5
#define SHA	     "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define BATCH_CAP    4000 /* batches in all; then the child idles */

static char dir[256], db_path[300];

struct note {
	uint32_t batch;
	uint32_t job;
	uint64_t first_seq, last_seq;
};

/* Events in batch b: 1..16, a function of b alone. */
static unsigned batch_len(uint32_t b)
{
	return 1 + (b * 2654435761u >> 16) % 16;
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---- the child -------------------------------------------------------------
 */

static void child_fail(struct fl_store *st, const char *what)
{
	fprintf(stderr, "crash child: %s: %s\n", what, fl_store_errmsg(st));
	_exit(3);
}

static void fill_report(struct fl_store_report *r, uint32_t b, unsigned k,
			unsigned n, int64_t at)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->device, sizeof(r->device), "c%u", k % DEVICES);
	r->at_s = at;
	if (k % 2 == 0) {
		r->kind = FL_STORE_REPORT_PRESENCE;
		r->u.presence.is_online = true;
		r->u.presence.boot = b;
		r->u.presence.conn = k + 1;
	} else {
		r->kind = FL_STORE_REPORT_STATUS;
		r->u.status.job = 1;
		r->u.status.boot = b;
		r->u.status.n = k;
		r->u.status.phase = 1;
		r->u.status.bytes = k;
		r->u.status.total = 100;
	}
	r->event.type = FL_STORE_EV_INPUT;
	r->event.kind = 13;
	snprintf(r->event.rollout, sizeof(r->event.rollout), "%s", ROLL);
	snprintf(r->event.payload, sizeof(r->event.payload),
		 "{\"b\":%u,\"k\":%u,\"n\":%u}", b, k, n);
}

/* The rollout the child's jobs belong to, made by the first child in one
 * transaction (a kill may land before, during or after it). */
static void prepare(struct fl_store *st)
{
	static struct fl_store_report rep;
	struct fl_store_artifact a = {0};
	struct fl_store_rollout r = {0};
	struct fl_store_member m = {0};
	uint32_t job = 0;

	if (fl_store_begin(st) != 0)
		child_fail(st, "prepare: begin");
	snprintf(a.sha256, sizeof(a.sha256), "%s", SHA);
	snprintf(a.path, sizeof(a.path), "/a.bin");
	a.length = 1;
	if (fl_store_artifact_put(st, &a) != 0)
		child_fail(st, "prepare: artifact");
	snprintf(r.name, sizeof(r.name), "%s", ROLL);
	snprintf(r.plan_sha256, sizeof(r.plan_sha256), "%s", SHA);
	snprintf(r.artifact_sha256, sizeof(r.artifact_sha256), "%s", SHA);
	snprintf(r.component, sizeof(r.component), "firmware");
	snprintf(r.version, sizeof(r.version), "1.0.0");
	r.n_stages = 1;
	snprintf(r.stages[0].name, sizeof(r.stages[0].name), "all");
	if (fl_store_rollout_create(st, &r, "x", 1) != 0)
		child_fail(st, "prepare: rollout");
	for (unsigned i = 0; i < DEVICES; i++) {
		memset(&rep, 0, sizeof(rep));
		rep.kind = FL_STORE_REPORT_PRESENCE;
		snprintf(rep.device, sizeof(rep.device), "c%u", i);
		snprintf(m.rollout, sizeof(m.rollout), "%s", ROLL);
		snprintf(m.device, sizeof(m.device), "c%u", i);
		m.status = 5;
		if (fl_store_report_write(st, &rep, NULL) != 0 ||
		    fl_store_member_set(st, &m) != 0)
			child_fail(st, "prepare: device");
	}
	/* job 1: the one every status report of the children names */
	if (fl_store_job_create(st, ROLL, "c1", FL_STORE_JOB_OFFER, 0, 1,
				&job) != 0 ||
	    job != 1)
		child_fail(st, "prepare: job");
	if (fl_store_commit(st) != 0)
		child_fail(st, "prepare: commit");
}

static void child_main(int fd)
{
	static struct fl_store_report r;
	struct fl_store st;
	struct fl_store_queue *q = NULL;
	char buf[32];
	uint32_t b = 1;

	if (fl_store_open_sqlite(&st, db_path, NULL) != 0)
		child_fail(&st, "open");
	if (fl_store_job_ids_peek(&st, &b) != 0)
		child_fail(&st, "peek");
	if (b == 1)
		prepare(&st);
	b = 1;
	if (fl_store_setting_get(&st, "crash.batch", buf, sizeof(buf)) == 0)
		b = (uint32_t)strtoul(buf, NULL, 10) + 1;
	if (fl_store_queue_create(&q, 16) != 0)
		child_fail(&st, "queue");
	for (;; b++) {
		unsigned n = batch_len(b);
		struct note nt = {.batch = b};
		uint64_t seq = 0;

		while (b >= BATCH_CAP)
			pause(); /* enough: wait for the kill */

		if (fl_store_begin(&st) != 0)
			child_fail(&st, "begin");
		for (unsigned k = 0; k + 1 < n; k++) {
			fill_report(&r, b, k, n, 1000 + b);
			if (b % 2 == 1) {
				if (fl_store_report_write(&st, &r, &seq) != 0)
					child_fail(&st, "report");
				if (nt.first_seq == 0)
					nt.first_seq = seq;
			} else if (fl_store_queue_add(q, &r) != 0) {
				child_fail(&st, "queue_add");
			}
		}
		if (fl_store_queue_len(q) > 0) {
			uint64_t first = 0;

			if (fl_store_event_last(&st, &first) != 0 ||
			    fl_store_queue_flush(&st, q, &seq) != 0)
				child_fail(&st, "flush");
			nt.first_seq = first + 1;
		}
		if (fl_store_job_create(&st, ROLL, "c0", FL_STORE_JOB_OFFER,
					1000 + b, 2000 + b, &nt.job) != 0)
			child_fail(&st, "job");
		fill_report(&r, b, n - 1, n, 1000 + b);
		snprintf(r.event.payload, sizeof(r.event.payload),
			 "{\"b\":%u,\"k\":%u,\"n\":%u,\"job\":%u}", b, n - 1, n,
			 nt.job);
		if (fl_store_report_write(&st, &r, &seq) != 0)
			child_fail(&st, "last report");
		if (nt.first_seq == 0)
			nt.first_seq = seq;
		nt.last_seq = seq;
		snprintf(buf, sizeof(buf), "%u", b);
		if (fl_store_setting_set(&st, "crash.batch", buf) != 0)
			child_fail(&st, "setting");
		if (fl_store_commit(&st) != 0)
			child_fail(&st, "commit");
		if (write(fd, &nt, sizeof(nt)) != (ssize_t)sizeof(nt))
			_exit(4);
	}
}

/* ---- the parent's checks
 * --------------------------------------------------------- */

struct walk {
	uint64_t next_seq;    /* the sequence number expected next */
	uint32_t batch;	      /* batch being read; 0 none */
	unsigned k, n;	      /* its next event and length */
	uint64_t batch_first; /* first seq of the current batch */
	uint32_t last_job;
	uint32_t complete; /* batches read whole: 1..complete */
	uint64_t first_seq[BATCH_CAP];
	uint64_t last_seq[BATCH_CAP];
	uint32_t job[BATCH_CAP];
};

static int on_event(void *ctx, const struct fl_store_event *e)
{
	struct walk *w = ctx;
	unsigned b, k, n, job = 0;
	int fields;

	assert_int_equal(e->seq, w->next_seq); /* no gap */
	w->next_seq++;
	fields = sscanf(e->payload, "{\"b\":%u,\"k\":%u,\"n\":%u,\"job\":%u}",
			&b, &k, &n, &job);
	assert_true(fields >= 3);
	assert_string_equal(e->rollout, ROLL);
	if (w->batch == 0) { /* a new batch: the next one */
		assert_int_equal(b, w->complete + 1);
		assert_int_equal(k, 0);
		assert_int_equal(n, batch_len(b));
		w->batch = b;
		w->batch_first = e->seq;
		w->n = n;
		w->k = 0;
	}
	assert_int_equal(b, w->batch);
	assert_int_equal(k, w->k);
	w->k++;
	if (w->k == w->n) { /* its last event: with the job */
		assert_int_equal(fields, 4);
		assert_true(job > w->last_job);
		w->last_job = job;
		assert_true(b < BATCH_CAP);
		w->first_seq[b] = w->batch_first;
		w->last_seq[b] = e->seq;
		w->job[b] = job;
		w->complete = b;
		w->batch = 0;
	} else {
		assert_int_equal(fields, 3);
	}
	return 0;
}

/* Reopens the store and checks it against what the child said; returns
 * the number of whole batches. */
static uint32_t check_store(const struct note *notes, size_t n_notes)
{
	static struct walk w;
	struct fl_store st;
	char buf[32];
	uint64_t after = 0, last = 0;
	int rc;

	rc = fl_store_open_sqlite(&st, db_path, NULL);
	if (rc != 0)
		fail_msg("reopen: %d %s", rc, fl_store_errmsg(&st));
	rc = fl_store_check(&st);
	if (rc != 0)
		fail_msg("check: %s", fl_store_errmsg(&st));
	memset(&w, 0, sizeof(w));
	w.next_seq = 1;
	do {
		after = w.next_seq - 1;
		assert_int_equal(fl_store_events_after(&st, NULL, after, 1000,
						       on_event, &w),
				 0);
	} while (w.next_seq - 1 > after);
	assert_int_equal(w.batch, 0); /* no batch in part */
	assert_int_equal(fl_store_event_last(&st, &last), 0);
	assert_int_equal(last, w.next_seq - 1);

	for (size_t i = 0; i < n_notes; i++) {
		const struct note *nt = &notes[i];

		assert_true(nt->batch <= w.complete);
		assert_int_equal(w.first_seq[nt->batch], nt->first_seq);
		assert_int_equal(w.last_seq[nt->batch], nt->last_seq);
		assert_int_equal(w.job[nt->batch], nt->job);
	}
	if (n_notes > 0)
		assert_true(w.complete <= notes[n_notes - 1].batch + 1);
	if (w.complete > 0) {
		assert_int_equal(fl_store_setting_get(&st, "crash.batch", buf,
						      sizeof(buf)),
				 0);
		assert_int_equal(strtoul(buf, NULL, 10), w.complete);
	}
	fl_store_close(&st);
	return w.complete;
}

static void test_store_crash__sigkill_loses_nothing_committed(void **state)
{
	static struct note notes[BATCH_CAP];
	const char *env = getenv("FL_STORE_CRASH_SEED");
	uint64_t seed = env != NULL ? strtoull(env, NULL, 0) : 0x5EED5EEDull;
	uint64_t rng = seed != 0 ? seed : 1;
	unsigned landed_in_open = 0;
	uint32_t complete = 0;

	(void)state;
	print_message("store crash: seed 0x%" PRIx64 "\n", seed);
	for (unsigned kill_no = 0; kill_no < KILLS; kill_no++) {
		size_t n_notes = 0;
		uint32_t before = complete;
		long delay_us;
		bool is_early;
		int fds[2], wstatus = 0;
		struct timespec ts;
		pid_t pid;

		/* a quarter of the kills come at once: open, migration; the
		 * others after the child's first commit (however slow a loaded
		 * machine makes its start), then a random delay */
		is_early = rng_next(&rng) % 4 == 0;
		delay_us = is_early ? (long)(rng_next(&rng) % 2000)
				    : (long)(rng_next(&rng) % MAX_DELAY_US);
		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child_main(fds[1]);
			_exit(0);
		}
		close(fds[1]);
		if (!is_early) {
			struct pollfd pfd = {.fd = fds[0], .events = POLLIN};

			if (poll(&pfd, 1, 60000) == 1 &&
			    read(fds[0], &notes[0], sizeof(notes[0])) ==
				    (ssize_t)sizeof(notes[0]))
				n_notes = 1;
		}
		ts.tv_sec = 0;
		ts.tv_nsec = delay_us * 1000;
		nanosleep(&ts, NULL);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &wstatus, 0), pid);
		if (!WIFSIGNALED(wstatus) || WTERMSIG(wstatus) != SIGKILL)
			fail_msg("the child ended by itself (status %d)",
				 wstatus);
		for (;;) {
			ssize_t n;

			assert_true(n_notes < sizeof(notes) / sizeof(notes[0]));
			n = read(fds[0], &notes[n_notes], sizeof(notes[0]));
			if (n == 0)
				break;
			assert_int_equal(n, sizeof(notes[0]));
			n_notes++;
		}
		close(fds[0]);
		complete = check_store(notes, n_notes);
		assert_true(complete >= before);
		if (n_notes == 0)
			landed_in_open++;
	}
	print_message("store crash: %d kills, %u batches committed, %u kills "
		      "before the child's first commit\n",
		      KILLS, complete, landed_in_open);
	assert_true(complete > 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/test_store_crash.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(db_path, sizeof(db_path), "%s/store.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char p[400];

	(void)state;
	unlink(db_path);
	snprintf(p, sizeof(p), "%s-wal", db_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db_path);
	unlink(p);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_store_crash__sigkill_loses_nothing_committed,
			setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
