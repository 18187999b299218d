/*
 * test_runner.c -- fleetd's runner (orchestrator/fleetd/runner.h) over a
 * real SQLite store in a temporary folder, driving a scripted fleet.
 *
 * The world outside fleetd is simulated here: devices that answer commands
 * with the status sequence of a real agent (downloading, downloaded,
 * updating, a reboot with presence, trial, commit or revert; rollbacks;
 * duplicates re-sent, stale jobs refused, offers during a trial answered
 * trial_pending), that verify every manifest with the fleet's public key,
 * and that send health reports; a command port that records what was
 * sent; a clock that moves 5 minutes per step. Manifests are sealed with a
 * real P-256 key through OpenSSL. The plans are the examples of plans/,
 * their artifacts those of plans/artifacts.
 *
 * What is checked: rollouts through canary and waves to completion; a bad
 * version caught in the canary and in a later wave, rolled back (images
 * found among fleetd's artifacts or described by the device's slots, or
 * refused); holds, approvals, pause, resume, cancel, operator rollback,
 * rate waits; offers held back by a device's trial, re-sent when
 * unanswered, carrying the plan's window in device time; a rollback the
 * device holds not re-sent when it reconnects (only by the resend_s safety
 * net), one it does not hold re-sent at once; late joiners; duplicate,
 * reordered and stale reports; the runner closed and reopened after every
 * tick giving the same log and the same commands as a run that never
 * stopped; the database steps of a busy tick failed in turn, without
 * anything sent that is not recorded, and the run going on identically
 * afterwards; a log that does not replay refused.
 *
 * Usage: test_runner PLANS_DIR [TEST-NAME-PATTERN]. TEST_RUNNER_VERBOSE=1
 * prints the runner's log lines, TEST_RUNNER_KEEP=1 keeps the databases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/proto.h"
#include "fl/store.h"
#include "runner.h"

static const char *plans_dir; /* argv[1] */

#define T0	   1780272000 /* 2026-06-01T00:00:00Z, a Monday */
#define DT	   300	      /* seconds per scripted step */
#define MAX_AGENTS 64
#define MAX_SENT   1024
#define MAX_OUT	   512
#define MAX_HIST   2048
#define URL	   "http://fleetd.test:8780/artifacts/"

/* ---- signing: a real P-256 key ------------------------------------------- */

static EVP_PKEY *pkey;
static struct fl_manifest_key pub;

static int sign_digest(void *ctx, const uint8_t digest[FL_SHA256_BYTES],
		       uint8_t sig[FL_MANIFEST_SIG_BYTES])
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new((EVP_PKEY *)ctx, NULL);
	unsigned char der[128];
	const unsigned char *p = der;
	size_t der_len = sizeof(der);
	ECDSA_SIG *es = NULL;
	const BIGNUM *r, *s;
	int err = FL_ECRYPTO;

	if (pctx == NULL || EVP_PKEY_sign_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_sign(pctx, der, &der_len, digest, FL_SHA256_BYTES) != 1)
		goto out;
	es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (es == NULL)
		goto out;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, 32) == 32 &&
	    BN_bn2binpad(s, sig + 32, 32) == 32)
		err = 0;
out:
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(pctx);
	return err;
}

static int seal_port(void *ctx, struct fl_manifest_env *env,
		     const struct fl_manifest *m)
{
	int *fail = ctx;

	if (*fail) {
		(*fail)--;
		return FL_ECRYPTO;
	}
	return fl_manifest_seal(env, m, pub.kid, &fl_crypto_openssl,
				sign_digest, pkey);
}

static void key_make(void)
{
	size_t n = 0;

	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(pkey);
	assert_true(EVP_PKEY_get_octet_string_param(
		pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub.pub,
		FL_MANIFEST_PUB_BYTES, &n));
	assert_int_equal(n, FL_MANIFEST_PUB_BYTES);
	assert_int_equal(fl_manifest_kid(pub.kid, &fl_crypto_openssl, pub.pub),
			 0);
}

/* ---- the world: devices, the broker's view, the clock -------------------- */

enum { M_PRESENCE, M_REPORTED, M_STATUS, M_HEALTH };

struct msg {
	int kind;
	char device[FL_DEVICE_ID_MAX];
	union {
		struct fl_presence p;
		struct fl_reported r;
		struct fl_status s;
		struct fl_health h;
	} u;
};

enum { BAD_CRASH = 0, BAD_REVERT = 1 };

/* Agent phases of its current job. */
enum {
	P_NONE = 0,
	P_DOWNLOADING = 1,
	P_DOWNLOADED = 2,
	P_UPDATING = 3,
	P_TRIAL = 4,
	P_RB_UPDATING = 11,
	P_RB_TRIAL = 12,
};

struct agent {
	char id[FL_DEVICE_ID_MAX], model[32], region[8], component[16];
	char tz[48];
	bool is_quiet;	/* never publishes its reported state again */
	bool has_slots; /* reports A/B slots, with the old image's digest */
	char old_sha[65];
	char version[32];     /* running */
	char old_version[32]; /* before the rollout */
	bool is_bad_running;  /* runs a bad build */
	uint64_t floor;
	uint32_t boot, conn, n;
	bool is_online, is_deaf;
	uint32_t last_job;
	uint32_t job; /* current job, its phase, what it installs */
	int type, phase;
	char target[32];
	uint64_t target_seq;
	bool is_target_bad;
	struct fl_status last; /* the last status of job `job` */
	uint32_t foreign_job;  /* a job of someone else it reports */
	bool in_foreign_trial; /* ... and that job is in trial */
	bool is_bad_device;    /* what it installs is bad */
	bool loses_rb_status;  /* the statuses of its rollbacks are lost */
	bool is_rb_stuck;      /* takes a rollback, never goes on with it */
	unsigned offers, rollbacks, cancels;
};

struct sent {
	char device[FL_DEVICE_ID_MAX];
	int64_t at;
	struct fl_cmd cmd;
};

struct world {
	struct agent a[MAX_AGENTS];
	unsigned n;
	char new_version[32];
	bool is_bad_new; /* what is installed from now on is bad */
	int bad_mode;
	int64_t now;
	struct sent sent[MAX_SENT];
	size_t n_sent, delivered;
	int send_fail; /* the port refuses this many sends */
	int seal_fail; /* the signer refuses this many seals */
	struct msg out[MAX_OUT];
	size_t n_out;
	struct msg hist[MAX_HIST]; /* every status fed, for replays */
	size_t n_hist;
};

static int port_send(void *ctx, const char *device, const struct fl_cmd *cmd)
{
	struct world *w = ctx;
	struct sent *s;
	char buf[FL_PROTO_MSG_MAX + 1];

	if (w->send_fail > 0) {
		w->send_fail--;
		return FL_EIO;
	}
	/* every command must encode: the port would publish it */
	assert_int_equal(fl_proto_encode_cmd(buf, sizeof(buf), NULL, cmd), 0);
	assert_true(w->n_sent < MAX_SENT);
	s = &w->sent[w->n_sent++];
	snprintf(s->device, sizeof(s->device), "%s", device);
	s->at = w->now;
	s->cmd = *cmd;
	return 0;
}

static struct msg *out_push(struct world *w, int kind, const struct agent *a)
{
	struct msg *m;

	assert_true(w->n_out < MAX_OUT);
	m = &w->out[w->n_out++];
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	assert_true(strlen(a->id) < sizeof(m->device));
	memcpy(m->device, a->id, strlen(a->id) + 1);
	return m;
}

static void push_presence(struct world *w, struct agent *a, bool online)
{
	struct msg *m = out_push(w, M_PRESENCE, a);

	m->u.p.is_online = online;
	m->u.p.boot = a->boot;
	m->u.p.conn = a->conn;
	a->is_online = online;
}

static void push_reported(struct world *w, struct agent *a)
{
	struct msg *m;
	struct fl_reported *r;

	if (a->is_quiet)
		return;
	m = out_push(w, M_REPORTED, a);
	r = &m->u.r;

	snprintf(r->model, sizeof(r->model), "%s", a->model);
	snprintf(r->tz, sizeof(r->tz), "%s", a->tz);
	r->boot = a->boot;
	snprintf(r->agent, sizeof(r->agent), "0.1.0");
	if (a->region[0] != '\0') {
		r->n_labels = 1;
		snprintf(r->labels[0].key, sizeof(r->labels[0].key), "region");
		snprintf(r->labels[0].value, sizeof(r->labels[0].value), "%s",
			 a->region);
	}
	r->n_components = 1;
	snprintf(r->components[0].name, sizeof(r->components[0].name), "%s",
		 a->component);
	snprintf(r->components[0].version, sizeof(r->components[0].version),
		 "%s", a->version);
	r->floor = a->floor;
	if (a->has_slots) {
		bool is_old = strcmp(a->version, a->old_version) == 0;

		r->n_slots = 2;
		r->slots[0].state = FL_WIRE_SLOT_CONFIRMED;
		snprintf(r->slots[0].version, sizeof(r->slots[0].version), "%s",
			 a->old_version);
		r->slots[0].seq = 7;
		r->booted = is_old ? 0 : 1;
		if (!is_old) {
			r->slots[1].state = FL_WIRE_SLOT_CONFIRMED;
			snprintf(r->slots[1].version,
				 sizeof(r->slots[1].version), "%s", a->version);
			r->slots[1].seq = a->floor;
			/* the slot not booted says what image it holds */
			r->slots[0].length = 12;
			assert_int_equal(fl_hex_decode(r->slots[0].sha256, 32,
						       a->old_sha, 64),
					 0);
		}
	}
	if (a->foreign_job != 0 && a->last.job == 0) {
		r->job = a->foreign_job;
		r->state = a->in_foreign_trial ? FL_STATE_TRIAL : FL_STATE_IDLE;
		r->result = a->in_foreign_trial ? FL_RESULT_NONE
						: FL_RESULT_SUCCESS;
	} else if (a->last.job != 0) {
		r->job = a->last.job;
		r->state = a->last.state;
		r->result = a->last.result;
	}
}

static void push_status(struct world *w, struct agent *a, uint32_t job,
			int state, int result, const char *reason,
			uint32_t retry_s)
{
	struct msg *m = out_push(w, M_STATUS, a);
	struct fl_status *s = &m->u.s;

	s->job = job;
	s->boot = a->boot;
	s->n = ++a->n;
	s->state = (uint8_t)state;
	s->result = (uint8_t)result;
	snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
	s->retry_s = retry_s;
	snprintf(s->version, sizeof(s->version), "%s",
		 job == a->job ? a->target : a->version);
	if (job == a->job)
		a->last = *s;
	if (a->loses_rb_status && job == a->job && a->type == FL_CMD_ROLLBACK)
		w->n_out--; /* lost on its way */
}

static void push_health(struct world *w, struct agent *a)
{
	struct msg *m = out_push(w, M_HEALTH, a);
	struct fl_health *h = &m->u.h;

	h->uptime_s = 600;
	h->boot = a->boot;
	snprintf(h->version, sizeof(h->version), "%s", a->version);
	h->is_trial = a->phase == P_TRIAL;
	h->job = h->is_trial ? a->job : 0;
	h->n_metrics = 3;
	snprintf(h->metrics[0].name, sizeof(h->metrics[0].name), "crash_count");
	h->metrics[0].value = a->is_bad_running ? 1 : 0;
	snprintf(h->metrics[1].name, sizeof(h->metrics[1].name),
		 "heap_free_kib");
	h->metrics[1].value = 64;
	snprintf(h->metrics[2].name, sizeof(h->metrics[2].name), "cpu_temp_c");
	h->metrics[2].value = 41.5;
}

static void reboot(struct world *w, struct agent *a)
{
	push_presence(w, a, false);
	a->boot++;
	a->conn = 1;
	a->n = 0;
	push_presence(w, a, true);
}

static void repeat_last(struct world *w, struct agent *a)
{
	struct msg *m;

	if (a->last.job == 0 ||
	    (a->loses_rb_status && a->type == FL_CMD_ROLLBACK))
		return;
	m = out_push(w, M_STATUS, a);
	m->u.s = a->last;
}

/* The job in hand ends before activation: superseded. */
static void supersede(struct world *w, struct agent *a)
{
	if (a->phase == P_DOWNLOADING || a->phase == P_DOWNLOADED) {
		push_status(w, a, a->job, FL_STATE_IDLE, FL_RESULT_CANCELLED,
			    "superseded", 0);
		a->phase = P_NONE;
	} else if (a->phase == P_TRIAL) {
		push_status(w, a, a->job, FL_STATE_IDLE, FL_RESULT_REVERTED,
			    "rollback", 0);
		a->phase = P_NONE;
	}
}

static void agent_cmd(struct world *w, struct agent *a, const struct fl_cmd *c)
{
	struct fl_manifest m;
	uint32_t j = c->job;

	if (a->is_deaf)
		return;
	if (c->type != FL_CMD_CANCEL) {
		/* the device's checks: signature first, then the body */
		assert_int_equal(fl_manifest_verify(&m, &c->manifest, &pub, 1,
						    &fl_crypto_openssl, NULL),
				 0);
		assert_string_equal(m.component, a->component);
		assert_true(m.expires > (uint64_t)w->now);
		assert_memory_equal(m.url, URL, strlen(URL));
	}
	if (j < a->last_job) {
		push_status(w, a, j, FL_STATE_IDLE, FL_RESULT_STALE, NULL, 0);
		return;
	}
	if (c->type == FL_CMD_CANCEL) {
		a->cancels++;
		if (j == a->job &&
		    (a->phase == P_DOWNLOADING || a->phase == P_DOWNLOADED)) {
			push_status(w, a, j, FL_STATE_IDLE, FL_RESULT_CANCELLED,
				    "requested", 0);
			a->phase = P_NONE;
		} else if (j == a->job && a->phase != P_NONE) {
			push_status(w, a, j, a->last.state, FL_RESULT_NONE,
				    "too_late_to_cancel", 0);
		} else if (j == a->job) {
			repeat_last(w, a);
		}
		return;
	}
	if (j == a->last_job) { /* a duplicate */
		repeat_last(w, a);
		return;
	}
	if (c->type == FL_CMD_OFFER) {
		a->offers++;
		assert_false(m.is_rollback);
		assert_string_equal(m.version, w->new_version);
		assert_true(m.seq >= a->floor);
		if (a->phase == P_TRIAL || a->phase == P_RB_TRIAL ||
		    a->in_foreign_trial) {
			push_status(w, a, j, FL_STATE_WAITING,
				    FL_RESULT_RETRY_LATER, "trial_pending", 0);
			return;
		}
		a->last_job = j;
		supersede(w, a);
		a->job = j;
		a->type = FL_CMD_OFFER;
		a->phase = P_DOWNLOADING;
		snprintf(a->target, sizeof(a->target), "%s", m.version);
		a->target_seq = m.seq;
		a->is_target_bad = w->is_bad_new || a->is_bad_device;
		push_status(w, a, j, FL_STATE_DOWNLOADING, FL_RESULT_NONE, NULL,
			    0);
		return;
	}
	a->rollbacks++;
	assert_true(m.is_rollback);
	assert_string_equal(m.version, a->old_version);
	assert_true(m.seq > a->floor);
	assert_int_equal(m.n_hardware, 1);
	assert_string_equal(m.hardware[0], a->model);
	a->last_job = j;
	supersede(w, a);
	a->job = j;
	a->type = FL_CMD_ROLLBACK;
	a->phase = P_RB_UPDATING;
	snprintf(a->target, sizeof(a->target), "%s", m.version);
	a->target_seq = m.seq;
	a->is_target_bad = false;
	push_status(w, a, j, FL_STATE_UPDATING, FL_RESULT_NONE, NULL, 0);
}

static void agent_advance(struct world *w, struct agent *a)
{
	if (a->is_rb_stuck &&
	    (a->phase == P_RB_UPDATING || a->phase == P_RB_TRIAL))
		return;
	switch (a->phase) {
	case P_DOWNLOADING:
		a->phase = P_DOWNLOADED;
		push_status(w, a, a->job, FL_STATE_DOWNLOADED, FL_RESULT_NONE,
			    NULL, 0);
		break;
	case P_DOWNLOADED:
		a->phase = P_UPDATING;
		push_status(w, a, a->job, FL_STATE_UPDATING, FL_RESULT_NONE,
			    NULL, 0);
		break;
	case P_UPDATING:
		reboot(w, a);
		a->phase = P_TRIAL;
		push_status(w, a, a->job, FL_STATE_TRIAL, FL_RESULT_NONE, NULL,
			    0);
		break;
	case P_TRIAL:
		a->phase = P_NONE;
		if (a->is_target_bad && w->bad_mode == BAD_REVERT) {
			reboot(w, a);
			push_status(w, a, a->job, FL_STATE_IDLE,
				    FL_RESULT_REVERTED, "health", 0);
		} else {
			memcpy(a->version, a->target, sizeof(a->version));
			a->is_bad_running = a->is_target_bad;
			a->floor = a->target_seq;
			push_status(w, a, a->job, FL_STATE_IDLE,
				    FL_RESULT_SUCCESS, NULL, 0);
		}
		push_reported(w, a);
		break;
	case P_RB_UPDATING:
		reboot(w, a);
		a->phase = P_RB_TRIAL;
		push_status(w, a, a->job, FL_STATE_TRIAL, FL_RESULT_NONE, NULL,
			    0);
		break;
	case P_RB_TRIAL:
		a->phase = P_NONE;
		memcpy(a->version, a->target, sizeof(a->version));
		a->is_bad_running = false;
		a->floor = a->target_seq;
		push_status(w, a, a->job, FL_STATE_IDLE, FL_RESULT_ROLLED_BACK,
			    NULL, 0);
		push_reported(w, a);
		break;
	default: break;
	}
	if (strcmp(a->version, w->new_version) == 0 || a->phase == P_TRIAL)
		push_health(w, a);
}

static struct agent *agent_of(struct world *w, const char *id)
{
	for (unsigned i = 0; i < w->n; i++)
		if (strcmp(w->a[i].id, id) == 0)
			return &w->a[i];
	fail_msg("no agent %s", id);
	return NULL;
}

static struct agent *agent_add(struct world *w, const char *id,
			       const char *model, const char *region,
			       const char *component, const char *version)
{
	struct agent *a = &w->a[w->n++];

	assert_true(w->n <= MAX_AGENTS);
	memset(a, 0, sizeof(*a));
	snprintf(a->id, sizeof(a->id), "%s", id);
	snprintf(a->model, sizeof(a->model), "%s", model);
	snprintf(a->region, sizeof(a->region), "%s", region ? region : "");
	snprintf(a->component, sizeof(a->component), "%s", component);
	snprintf(a->version, sizeof(a->version), "%s", version);
	snprintf(a->old_version, sizeof(a->old_version), "%s", version);
	a->floor = 7;
	a->boot = 1;
	a->conn = 1;
	push_presence(w, a, true);
	push_reported(w, a);
	return a;
}

/* ---- the rig: a store, a runner, the world ------------------------------- */

struct rig {
	char dir[64], db[96];
	struct fl_store st;
	struct fl_runner *r;
	struct world *w;
	bool is_restarting; /* close and reopen after every tick */
	const struct fl_tz_ops *tz;
	unsigned logs, gone_logs; /* gone: "no image ... any more" */
	char last_log[256];
};

static void log_port(void *ctx, const char *device, const char *msg)
{
	struct rig *g = ctx;

	g->logs++;
	if (strstr(msg, "no image to roll back to any more") != NULL)
		g->gone_logs++;
	if (getenv("TEST_RUNNER_VERBOSE") != NULL)
		fprintf(stderr, "runner: %s: %s\n", device ? device : "-", msg);
	snprintf(g->last_log, sizeof(g->last_log), "%s: %s",
		 device ? device : "-", msg);
}

static struct fl_runner_config rig_config(struct rig *g)
{
	struct fl_runner_config c;

	memset(&c, 0, sizeof(c));
	c.store = &g->st;
	c.cmd.send = port_send;
	c.cmd_ctx = g->w;
	c.sign.seal = seal_port;
	c.sign_ctx = &g->w->seal_fail;
	c.artifact_url = URL;
	c.tz = g->tz;
	c.offer_ttl_s = 86400;
	c.resend_s = 900;
	c.report_batch = 64;
	c.log = log_port;
	c.log_ctx = g;
	return c;
}

/* Commits survive a crash of the process, which is what these tests
 * simulate; not syncing each one keeps them fast. */
static const struct fl_store_sqlite_options store_opt = {FL_STORE_SYNC_NORMAL,
							 0, 0, 0};

static int rig_open_runner(struct rig *g)
{
	struct fl_runner_config c = rig_config(g);

	assert_int_equal(fl_store_open_sqlite(&g->st, g->db, &store_opt), 0);
	return fl_runner_open(&g->r, &c, g->w->now);
}

static void rig_open(struct rig *g)
{
	assert_int_equal(rig_open_runner(g), 0);
}

static void rig_close(struct rig *g)
{
	fl_runner_free(g->r);
	g->r = NULL;
	fl_store_close(&g->st);
}

/* Folders made, removed at the end even when a test failed half-way. */
static char made[64][64];
static unsigned n_made;

static void rig_init(struct rig *g)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->dir, sizeof(g->dir), "/tmp/fl-runner-XXXXXX");
	assert_non_null(mkdtemp(g->dir));
	if (n_made < 64)
		snprintf(made[n_made++], sizeof(made[0]), "%s", g->dir);
	snprintf(g->db, sizeof(g->db), "%s/fleetd.db", g->dir);
	g->w = calloc(1, sizeof(*g->w));
	assert_non_null(g->w);
	g->w->now = T0;
	rig_open(g);
}

static void rm_db(const char *db)
{
	char p[128];

	unlink(db);
	if (snprintf(p, sizeof(p), "%s-wal", db) < (int)sizeof(p))
		unlink(p);
	if (snprintf(p, sizeof(p), "%s-shm", db) < (int)sizeof(p))
		unlink(p);
}

static void rig_free(struct rig *g)
{
	if (g->r != NULL)
		rig_close(g);
	if (getenv("TEST_RUNNER_KEEP") != NULL) {
		printf("kept %s\n", g->db);
		free(g->w);
		return;
	}
	rm_db(g->db);
	rmdir(g->dir);
	free(g->w);
}

static void feed(struct rig *g, const struct msg *m)
{
	int64_t now = g->w->now;
	int rc = 0;

	switch (m->kind) {
	case M_PRESENCE:
		rc = fl_runner_on_presence(g->r, m->device, &m->u.p, now);
		break;
	case M_REPORTED:
		rc = fl_runner_on_reported(g->r, m->device, &m->u.r, now);
		break;
	case M_STATUS:
		rc = fl_runner_on_status(g->r, m->device, &m->u.s, now);
		break;
	default: rc = fl_runner_on_health(g->r, m->device, &m->u.h, now); break;
	}
	assert_int_equal(rc, 0);
}

static uint32_t tick(struct rig *g)
{
	uint32_t next = 0;
	int rc = fl_runner_tick(g->r, g->w->now, &next);

	if (rc != 0)
		fail_msg("tick: %s (%s)", fl_strerror(rc),
			 fl_store_errmsg(&g->st));
	if (g->is_restarting) {
		rig_close(g);
		rig_open(g);
	}
	return next;
}

/* Feeds what the devices said, keeping statuses for later replays. */
static void feed_out(struct rig *g)
{
	struct world *w = g->w;

	for (size_t i = 0; i < w->n_out; i++) {
		feed(g, &w->out[i]);
		if (w->out[i].kind == M_STATUS && w->n_hist < MAX_HIST)
			w->hist[w->n_hist++] = w->out[i];
	}
	w->n_out = 0;
}

/* The devices read their commands and move on; the clock moves. */
static void world_step(struct world *w)
{
	w->now += DT;
	for (; w->delivered < w->n_sent; w->delivered++) {
		const struct sent *s = &w->sent[w->delivered];

		agent_cmd(w, agent_of(w, s->device), &s->cmd);
	}
	for (unsigned i = 0; i < w->n; i++)
		agent_advance(w, &w->a[i]);
}

static void step(struct rig *g)
{
	world_step(g->w);
	feed_out(g);
	tick(g);
}

/* ---- set-up helpers ------------------------------------------------------ */

static char *read_file(const char *path, size_t *len)
{
	struct stat sb;
	char *buf;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	buf = malloc((size_t)sb.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)sb.st_size), sb.st_size);
	buf[sb.st_size] = '\0';
	close(fd);
	*len = (size_t)sb.st_size;
	return buf;
}

static void sha_hex(const void *data, size_t len, char out[65])
{
	uint8_t d[FL_SHA256_BYTES];

	assert_int_equal(fl_sha256(&fl_crypto_openssl, data, len, d), 0);
	assert_int_equal(fl_hex_encode(out, 65, d, sizeof(d)), 0);
}

/* Stores an image as fleetd's upload would; its digest in sha. */
static void put_artifact(struct rig *g, const void *data, size_t len,
			 const char *path, char sha[65])
{
	struct fl_store_artifact a;

	memset(&a, 0, sizeof(a));
	sha_hex(data, len, sha);
	snprintf(a.sha256, sizeof(a.sha256), "%s", sha);
	snprintf(a.path, sizeof(a.path), "%s", path);
	a.length = len;
	a.created_at_s = g->w->now;
	assert_int_equal(fl_store_artifact_put(&g->st, &a), 0);
}

/* The version the fleet runs was deployed by fleetd before: its image is
 * in the artifacts, under an old rollout. */
static void seed_previous(struct rig *g, const char *component,
			  const char *version)
{
	struct fl_store_rollout x;
	char bytes[64], sha[65];

	snprintf(bytes, sizeof(bytes), "image of %s %s", component, version);
	put_artifact(g, bytes, strlen(bytes), "/var/lib/fleetd/old.bin", sha);
	memset(&x, 0, sizeof(x));
	snprintf(x.name, sizeof(x.name), "old-%s-%s", component, version);
	sha_hex("plan", 4, x.plan_sha256);
	snprintf(x.artifact_sha256, sizeof(x.artifact_sha256), "%s", sha);
	snprintf(x.component, sizeof(x.component), "%s", component);
	snprintf(x.version, sizeof(x.version), "%s", version);
	x.created_at_s = g->w->now - 86400;
	x.n_stages = 1;
	snprintf(x.stages[0].name, sizeof(x.stages[0].name), "all");
	assert_int_equal(fl_store_rollout_create(&g->st, &x, "plan", 4), 0);
}

/* Starts plans/examples/<plan> with plans/artifacts/<image>. */
static int start(struct rig *g, const char *plan, const char *image,
		 struct fl_runner_error *err)
{
	char path[512], sha[65];
	size_t plen, ilen;
	char *text, *img;
	int rc;

	snprintf(path, sizeof(path), "%s/artifacts/%s", plans_dir, image);
	img = read_file(path, &ilen);
	put_artifact(g, img, ilen, path, sha);
	snprintf(path, sizeof(path), "%s/examples/%s", plans_dir, plan);
	text = read_file(path, &plen);
	rc = fl_runner_start(g->r, text, plen, plan, sha, "alice", g->w->now,
			     err);
	free(text);
	free(img);
	return rc;
}

/* Starts a plan given as text, with plans/artifacts/<image>. */
static int start_text(struct rig *g, const char *yaml, const char *image,
		      struct fl_runner_error *err)
{
	char path[512], sha[65];
	size_t ilen;
	char *img;

	snprintf(path, sizeof(path), "%s/artifacts/%s", plans_dir, image);
	img = read_file(path, &ilen);
	put_artifact(g, img, ilen, path, sha);
	free(img);
	return fl_runner_start(g->r, yaml, strlen(yaml), "inline.yaml", sha,
			       "alice", g->w->now, err);
}

static void start_ok(struct rig *g, const char *plan, const char *image)
{
	struct fl_runner_error err;
	int rc = start(g, plan, image, &err);

	if (rc != 0)
		fail_msg("start %s: %d %s: %s", plan, err.http_status, err.code,
			 err.message);
	if (g->is_restarting) {
		rig_close(g);
		rig_open(g);
	}
}

/* A fleet of n devices of the models given in turn, regions eu and us. */
static void fleet(struct rig *g, unsigned n, const char *prefix,
		  const char *const *models, const char *component,
		  const char *version, const char *new_version)
{
	struct world *w = g->w;
	unsigned nm = 0;
	char id[32];

	while (models[nm] != NULL)
		nm++;
	snprintf(w->new_version, sizeof(w->new_version), "%s", new_version);
	for (unsigned i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%s-%04u", prefix, i + 1);
		agent_add(w, id, models[i % nm], i % 3 == 0 ? "eu" : "us",
			  component, version);
	}
	feed_out(g);
	tick(g);
}

static struct fl_runner_view view(struct rig *g, const char *rollout)
{
	struct fl_runner_view v;

	assert_int_equal(fl_runner_view(g->r, rollout, &v), 0);
	return v;
}

/* Steps until the rollout's state is one of the wanted, at most max steps. */
static void run_until_state(struct rig *g, const char *rollout, int state,
			    unsigned max)
{
	for (unsigned i = 0; i < max; i++) {
		if (view(g, rollout).status.state == state)
			return;
		step(g);
	}
	fail_msg("%s: state %d not reached in %u steps (state %d)", rollout,
		 state, max, view(g, rollout).status.state);
}

/* ---- looking at the log -------------------------------------------------- */

struct evlist {
	struct fl_store_event *v;
	size_t n, cap;
};

static int ev_cb(void *ctx, const struct fl_store_event *e)
{
	struct evlist *l = ctx;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		assert_non_null(l->v);
	}
	l->v[l->n++] = *e;
	return 0;
}

static struct evlist events(struct fl_store *st, const char *rollout)
{
	struct evlist l = {NULL, 0, 0};
	uint64_t after = 0;

	for (;;) {
		size_t before = l.n;

		assert_int_equal(fl_store_events_after(st, rollout, after, 1000,
						       ev_cb, &l),
				 0);
		if (l.n == before)
			break;
		after = l.v[l.n - 1].seq;
	}
	return l;
}

static size_t count_kind(const struct evlist *l, int type, int kind)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += l->v[i].type == type && l->v[i].kind == kind;
	return n;
}

/* Commands of one type sent to distinct devices. */
static unsigned devices_sent(const struct world *w, int type)
{
	unsigned n = 0;

	for (unsigned i = 0; i < w->n; i++) {
		for (size_t k = 0; k < w->n_sent; k++) {
			if (w->sent[k].cmd.type == type &&
			    strcmp(w->sent[k].device, w->a[i].id) == 0) {
				n++;
				break;
			}
		}
	}
	return n;
}

/* Devices of a region sent at least one command of the type. */
static unsigned region_sent(const struct world *w, const char *region, int type)
{
	unsigned n = 0;

	for (unsigned i = 0; i < w->n; i++) {
		if (strcmp(w->a[i].region, region) != 0)
			continue;
		for (size_t k = 0; k < w->n_sent; k++) {
			if (w->sent[k].cmd.type == type &&
			    strcmp(w->sent[k].device, w->a[i].id) == 0) {
				n++;
				break;
			}
		}
	}
	return n;
}

static unsigned agents_on(const struct world *w, const char *version)
{
	unsigned n = 0;

	for (unsigned i = 0; i < w->n; i++)
		n += strcmp(w->a[i].version, version) == 0;
	return n;
}

/* One job id is one decision: the same device, the same type, the same
 * manifest body every time it is sent. */
static void check_jobs_consistent(const struct world *w)
{
	for (size_t i = 0; i < w->n_sent; i++) {
		const struct sent *a = &w->sent[i];

		for (size_t k = i + 1; k < w->n_sent; k++) {
			const struct sent *b = &w->sent[k];

			if (a->cmd.job != b->cmd.job)
				continue;
			assert_string_equal(a->device, b->device);
			if (a->cmd.type == FL_CMD_CANCEL ||
			    b->cmd.type == FL_CMD_CANCEL)
				continue;
			assert_int_equal(a->cmd.type, b->cmd.type);
			assert_int_equal(a->cmd.manifest.body_len,
					 b->cmd.manifest.body_len);
			assert_memory_equal(a->cmd.manifest.body,
					    b->cmd.manifest.body,
					    a->cmd.manifest.body_len);
		}
	}
}

/* ---- rollouts ------------------------------------------------------------ */

static const char *const thermo[] = {"thermo-v2", "thermo-v3", NULL};
static const char *const thermo3[] = {"thermo-v3", NULL};
static const char *const gw100[] = {"gw-100", NULL};
static const char *const bell[] = {"bell-a1", NULL};
static const char *const sensor[] = {"sensor-v1", NULL};

#define WAVES "thermostat-2.4.0-waves"

struct member_count {
	unsigned n, by_status[FL_STORE_STATUS_MAX], rb_done;
};

static int member_cb(void *ctx, const struct fl_store_member *m)
{
	struct member_count *c = ctx;

	c->n++;
	c->by_status[m->status]++;
	c->rb_done += m->rollback == FL_RB_DONE;
	return 0;
}

static struct member_count members(struct rig *g, const char *rollout)
{
	struct member_count c;

	memset(&c, 0, sizeof(c));
	assert_int_equal(fl_store_member_list(&g->st, rollout, NULL, 0, 1000,
					      member_cb, &c),
			 0);
	return c;
}

static void test_runner__good_version_through_waves_to_complete(void **state)
{
	struct fl_store_rollout *x = malloc(sizeof(*x));
	struct fl_runner_view v;
	struct member_count mc;
	struct evlist l;
	struct rig g;
	unsigned sum = 0;

	(void)state;
	rig_init(&g);
	fleet(&g, 50, "th", thermo, "firmware", "2.3.0", "2.4.0");
	start_ok(&g, "percent-waves.yaml", "thermostat-2.4.0.bin");
	v = view(&g, WAVES);
	assert_int_equal(v.status.n_targets, 50);
	assert_string_equal(v.plan->name, WAVES);
	run_until_state(&g, WAVES, FL_ROLLOUT_COMPLETE, 80);

	/* every device offered once, with one job, and now on 2.4.0 */
	v = view(&g, WAVES);
	assert_int_equal(v.n_stages, 4);
	for (unsigned k = 0; k < 4; k++) {
		assert_int_equal(v.stages[k].state, FL_STAGE_PASSED);
		assert_int_equal(v.stages[k].failed, 0);
		sum += v.stages[k].members;
	}
	assert_int_equal(sum, 50);
	assert_int_equal(v.stages[0].members, 1); /* 1% */
	assert_int_equal(v.stages[1].members, 4); /* to 10% */
	assert_int_equal(agents_on(g.w, "2.4.0"), 50);
	for (unsigned i = 0; i < g.w->n; i++) {
		assert_int_equal(g.w->a[i].offers, 1);
		assert_int_equal(g.w->a[i].rollbacks, 0);
	}
	assert_int_equal(devices_sent(g.w, FL_CMD_OFFER), 50);
	assert_int_equal(g.w->n_sent, 50);
	check_jobs_consistent(g.w);

	/* the log: decisions in order, inputs, notes */
	l = events(&g.st, WAVES);
	assert_int_equal(count_kind(&l, FL_STORE_EV_DECISION, FL_DEC_OFFER),
			 50);
	assert_int_equal(
		count_kind(&l, FL_STORE_EV_DECISION, FL_DEC_STAGE_STARTED), 4);
	assert_int_equal(
		count_kind(&l, FL_STORE_EV_DECISION, FL_DEC_STAGE_PASSED), 4);
	assert_int_equal(count_kind(&l, FL_STORE_EV_DECISION, FL_DEC_COMPLETE),
			 1);
	assert_int_equal(count_kind(&l, FL_STORE_EV_NOTE, FL_RUNNER_NOTE_INV),
			 50);
	assert_int_equal(count_kind(&l, FL_STORE_EV_INPUT, FL_EV_COMMITTED),
			 50);
	free(l.v);

	/* what the API reads from the store, without the engine */
	assert_non_null(x);
	assert_int_equal(fl_store_rollout_get(&g.st, WAVES, x), 0);
	assert_int_equal(x->state, FL_ROLLOUT_COMPLETE);
	assert_true(x->ended_at_s != FL_STORE_NONE);
	assert_string_equal(x->started_by, "alice");
	for (unsigned k = 0; k < 4; k++) {
		assert_int_equal(x->stages[k].state, FL_STAGE_PASSED);
		assert_int_equal(x->stages[k].members, v.stages[k].members);
		assert_int_equal(x->stages[k].count[FL_DEV_SUCCEEDED],
				 v.stages[k].members);
		assert_true(x->stages[k].started_at_s >= T0);
		assert_true(x->stages[k].ended_at_s >=
			    x->stages[k].started_at_s);
	}
	free(x);
	mc = members(&g, WAVES);
	assert_int_equal(mc.n, 50);
	assert_int_equal(mc.by_status[FL_DEV_SUCCEEDED], 50);
	{
		struct fl_store_artifact a;
		struct fl_manifest m;
		struct fl_store_job j;
		const struct sent *s = &g.w->sent[0];
		char sha[65];

		assert_int_equal(fl_store_job_get(&g.st, s->cmd.job, &j), 0);
		assert_string_equal(j.device, s->device);
		assert_int_equal(j.result, FL_RESULT_SUCCESS);
		assert_true(j.is_final);
		/* the manifest points at the artifact server by digest, and
		 * is kept with the artifact */
		assert_int_equal(fl_manifest_verify(&m, &s->cmd.manifest, &pub,
						    1, &fl_crypto_openssl,
						    NULL),
				 0);
		assert_int_equal(fl_hex_encode(sha, sizeof(sha), m.sha256, 32),
				 0);
		assert_string_equal(m.url + strlen(URL), sha);
		assert_int_equal(fl_store_artifact_get(&g.st, sha, &a), 0);
		assert_int_equal(a.length, m.length);
		assert_true(strstr(a.manifest, "\"kid\"") != NULL);
		assert_int_equal(s->cmd.activate, FL_ACTIVATE_NOW);
		assert_int_equal(s->cmd.health_window_s, 15 * 60);
	}
	rig_free(&g);
}

#define GATEWAY "gateway-1.8.0-metrics"

/* metrics.yaml: a canary of 20 gateways out of 50, soak 45 min, crash_count
 * must stay 0; 1.8.0 crashes. */
static void bad_canary_setup(struct rig *g)
{
	fleet(g, 50, "gw", gw100, "firmware", "1.7.0", "1.8.0");
	seed_previous(g, "firmware", "1.7.0");
	g->w->is_bad_new = true;
	g->w->bad_mode = BAD_CRASH;
	start_ok(g, "metrics.yaml", "gateway-1.8.0.bin");
}

static void test_runner__bad_version_caught_in_the_canary(void **state)
{
	struct fl_runner_view v;
	struct member_count mc;
	struct evlist l;
	struct rig g;

	(void)state;
	rig_init(&g);
	bad_canary_setup(&g);
	run_until_state(&g, GATEWAY, FL_ROLLOUT_ROLLED_BACK, 60);

	/* nobody beyond the canary was offered anything; every canary
	 * member installed, was rolled back, and runs 1.7.0 again */
	assert_int_equal(devices_sent(g.w, FL_CMD_OFFER), 20);
	assert_int_equal(devices_sent(g.w, FL_CMD_ROLLBACK), 20);
	assert_int_equal(devices_sent(g.w, FL_CMD_CANCEL), 0);
	for (unsigned i = 0; i < g.w->n; i++)
		assert_int_equal(g.w->a[i].offers, g.w->a[i].rollbacks);
	assert_int_equal(agents_on(g.w, "1.7.0"), 50);
	check_jobs_consistent(g.w);
	v = view(&g, GATEWAY);
	assert_int_equal(v.stages[0].state, FL_STAGE_FAILED);
	assert_int_equal(v.stages[0].failed, 20);
	assert_int_equal(v.stages[1].state, FL_STAGE_PENDING);
	assert_int_equal(v.rollback_why, FL_WHY_GATE);
	assert_int_equal(v.rollback_stage, 0);
	assert_true(v.rollback_started_s > T0);
	assert_int_equal(v.status.n_rollback_sent, 20);
	assert_int_equal(v.status.n_rollback_done, 20);
	assert_int_equal(v.wait.why, FL_WHY_NONE);
	l = events(&g.st, GATEWAY);
	assert_int_equal(
		count_kind(&l, FL_STORE_EV_DECISION, FL_DEC_ROLLBACK_STARTED),
		1);
	assert_int_equal(
		count_kind(&l, FL_STORE_EV_DECISION, FL_DEC_ROLLED_BACK), 1);
	/* one rollback manifest for the image and the model, reused */
	assert_int_equal(
		count_kind(&l, FL_STORE_EV_NOTE, FL_RUNNER_NOTE_RB_MANIFEST),
		1);
	assert_int_equal(count_kind(&l, FL_STORE_EV_INPUT, FL_EV_ROLLBACK_DONE),
			 20);
	free(l.v);
	mc = members(&g, GATEWAY);
	assert_int_equal(mc.n, 20);
	assert_int_equal(mc.rb_done, 20);
	assert_int_equal(mc.by_status[FL_DEV_FAILED], 20);
	rig_free(&g);
}

/* percent-waves.yaml with builds that revert themselves from the third
 * wave on. */
static void bad_wave_run(struct rig *g)
{
	fleet(g, 50, "th", thermo, "firmware", "2.3.0", "2.4.0");
	seed_previous(g, "firmware", "2.3.0");
	g->w->bad_mode = BAD_REVERT;
	start_ok(g, "percent-waves.yaml", "thermostat-2.4.0.bin");
	for (unsigned i = 0; i < 60 && !g->w->is_bad_new; i++) {
		step(g);
		if (view(g, WAVES).status.stage == 2)
			g->w->is_bad_new = true;
	}
	assert_true(g->w->is_bad_new);
	run_until_state(g, WAVES, FL_ROLLOUT_ROLLED_BACK, 40);
}

static void test_runner__bad_version_in_a_later_wave(void **state)
{
	struct fl_runner_view v;
	struct rig g;
	unsigned rolled = 0;

	(void)state;
	rig_init(&g);
	bad_wave_run(&g);
	v = view(&g, WAVES);
	assert_int_equal(v.stages[0].state, FL_STAGE_PASSED);
	assert_int_equal(v.stages[1].state, FL_STAGE_PASSED);
	assert_int_equal(v.stages[2].state, FL_STAGE_FAILED);
	assert_int_equal(v.stages[3].state, FL_STAGE_PENDING);
	assert_int_equal(v.rollback_stage, 2);
	/* the 5 devices of the first two waves run 1.8.0: each gets a
	 * rollback; the third wave reverted by itself; nobody else was
	 * offered anything */
	for (unsigned i = 0; i < g.w->n; i++) {
		const struct agent *a = &g.w->a[i];

		assert_string_equal(a->version, "2.3.0");
		assert_true(a->rollbacks <= 1);
		rolled += a->rollbacks;
	}
	assert_int_equal(rolled, 5);
	assert_int_equal(v.status.n_rollback_done, 5);
	assert_int_equal(devices_sent(g.w, FL_CMD_OFFER), 25);
	check_jobs_consistent(g.w);
	rig_free(&g);
}

#define HOLDS "thermostat-2.4.0-holds"

static void test_runner__hold_lifted_by_approval(void **state)
{
	struct fl_runner_error err;
	struct fl_runner_view v;
	struct rig g;
	bool changed = false;
	unsigned eu = 0;

	(void)state;
	rig_init(&g);
	fleet(&g, 30, "t3", thermo3, "firmware", "2.3.0", "2.4.0");
	start_ok(&g, "holds.yaml", "thermostat-2.4.0.bin");
	for (unsigned i = 0; i < 40; i++)
		step(&g);
	/* the US devices are done, the EU ones held and never offered */
	for (unsigned i = 0; i < g.w->n; i++) {
		const struct agent *a = &g.w->a[i];
		bool is_eu = strcmp(a->region, "eu") == 0;

		eu += is_eu;
		assert_string_equal(a->version, is_eu ? "2.3.0" : "2.4.0");
		assert_int_equal(a->offers, is_eu ? 0 : 1);
	}
	assert_int_equal(eu, 10);
	v = view(&g, HOLDS);
	assert_int_equal(v.wait.why, FL_WHY_HOLD);
	assert_int_equal(v.wait.hold, 0);
	assert_string_equal(v.plan->holds[v.wait.hold].name, "eu-radio-cert");
	assert_int_equal(v.stages[1].count[FL_DEV_HELD] +
				 v.stages[0].count[FL_DEV_HELD],
			 10);

	assert_int_equal(fl_runner_action(g.r, HOLDS, FL_RUNNER_APPROVE,
					  "eu-radio-cert", "carol", g.w->now,
					  &changed, &err),
			 0);
	assert_true(changed);
	assert_int_equal(fl_runner_action(g.r, HOLDS, FL_RUNNER_APPROVE,
					  "eu-radio-cert", "carol", g.w->now,
					  &changed, &err),
			 0);
	assert_false(changed);
	for (unsigned i = 0; i < 20 && agents_on(g.w, "2.4.0") < 30; i++)
		step(&g);
	assert_int_equal(agents_on(g.w, "2.4.0"), 30);
	v = view(&g, HOLDS);
	assert_int_equal(v.status.state, FL_ROLLOUT_COMPLETE);
	assert_int_equal(v.wait.why, FL_WHY_NONE);
	rig_free(&g);
}

static int approval_cb(void *ctx, const struct fl_store_approval *a)
{
	struct fl_store_approval *out = ctx;

	*out = *a;
	return 0;
}

#define BELLS "doorbell-3.1.0-approval"

static void test_runner__stage_waits_for_its_approval(void **state)
{
	struct fl_store_approval ap;
	struct fl_runner_error err;
	struct fl_runner_view v;
	struct rig g;
	bool changed;
	unsigned i;

	(void)state;
	rig_init(&g);
	fleet(&g, 40, "bell", bell, "app", "3.0.0", "3.1.0");
	start_ok(&g, "approval.yaml", "doorbell-3.1.0.bin");
	for (i = 0; i < 40; i++) {
		if (view(&g, BELLS).stages[1].state == FL_STAGE_AWAITING)
			break;
		step(&g);
	}
	assert_true(i < 40);
	v = view(&g, BELLS);
	assert_int_equal(v.wait.why, FL_WHY_GATE);
	assert_int_equal(v.wait.stage, 1);
	assert_int_equal(devices_sent(g.w, FL_CMD_OFFER), 2); /* 5% of 40 */
	step(&g);
	assert_int_equal(devices_sent(g.w, FL_CMD_OFFER), 2);

	/* a stage that is not waiting, a name the plan does not have */
	assert_int_equal(fl_runner_action(g.r, BELLS, FL_RUNNER_APPROVE,
					  "early", "bob", g.w->now, &changed,
					  &err),
			 FL_ESTATE);
	assert_int_equal(err.http_status, 409);
	assert_int_equal(fl_runner_action(g.r, BELLS, FL_RUNNER_APPROVE, "nope",
					  "bob", g.w->now, &changed, &err),
			 FL_ENOENT);
	assert_int_equal(err.http_status, 404);
	assert_int_equal(fl_runner_action(g.r, "nope", FL_RUNNER_PAUSE, NULL,
					  "bob", g.w->now, &changed, &err),
			 FL_ENOENT);
	assert_int_equal(err.http_status, 404);
	assert_string_equal(err.code, "not_found");

	/* without four_eyes in the plan, who started it may approve */
	assert_int_equal(fl_runner_action(g.r, BELLS, FL_RUNNER_APPROVE, "rest",
					  "alice", g.w->now, &changed, &err),
			 0);
	assert_true(changed);
	assert_int_equal(
		fl_store_approval_list(&g.st, BELLS, 0, 10, approval_cb, &ap),
		0);
	assert_string_equal(ap.what, "rest");
	assert_string_equal(ap.who, "alice");
	assert_false(ap.is_hold);
	run_until_state(&g, BELLS, FL_ROLLOUT_COMPLETE, 40);
	assert_int_equal(agents_on(g.w, "3.1.0"), 40);
	rig_free(&g);
}

#define EYES "doorbell-3.1.1-four-eyes"

static int count_approvals(void *ctx, const struct fl_store_approval *a)
{
	(void)a;
	++*(unsigned *)ctx;
	return 0;
}

static unsigned approvals(struct rig *g, const char *rollout)
{
	unsigned n = 0;

	assert_int_equal(fl_store_approval_list(&g->st, rollout, 0, 100,
						count_approvals, &n),
			 0);
	return n;
}

/* four-eyes.yaml (started by alice): alice may approve neither the hold
 * nor the stage; nothing changes when she tries; bob and carol may. */
static void test_runner__four_eyes_refuses_the_starter(void **state)
{
	struct fl_runner_error err;
	struct fl_store_rollout *ro = malloc(sizeof(*ro));
	uint64_t last = 0, last2 = 0;
	struct rig g;
	bool changed = true;
	unsigned i;

	(void)state;
	assert_non_null(ro);
	rig_init(&g);
	fleet(&g, 40, "bell", bell, "app", "3.0.0", "3.1.0");
	start_ok(&g, "four-eyes.yaml", "doorbell-3.1.0.bin");
	assert_int_equal(fl_store_rollout_get(&g.st, EYES, ro), 0);
	assert_string_equal(ro->started_by, "alice");
	for (i = 0; i < 5; i++)
		step(&g);
	assert_int_equal(region_sent(g.w, "eu", FL_CMD_OFFER), 0); /* held */

	assert_int_equal(fl_store_event_last(&g.st, &last), 0);
	assert_int_equal(fl_runner_action(g.r, EYES, FL_RUNNER_APPROVE,
					  "release-review", "alice", g.w->now,
					  &changed, &err),
			 FL_ESTATE);
	assert_false(changed);
	assert_int_equal(err.http_status, 403);
	assert_string_equal(err.code, "four_eyes");
	assert_non_null(strstr(err.message, "'alice' started rollout"));
	assert_int_equal(fl_store_event_last(&g.st, &last2), 0);
	assert_int_equal(last2, last); /* nothing logged */
	assert_int_equal(approvals(&g, EYES), 0);
	step(&g);
	assert_int_equal(region_sent(g.w, "eu", FL_CMD_OFFER), 0);

	assert_int_equal(fl_runner_action(g.r, EYES, FL_RUNNER_APPROVE,
					  "release-review", "bob", g.w->now,
					  &changed, &err),
			 0);
	assert_true(changed);
	assert_int_equal(approvals(&g, EYES), 1);
	for (i = 0; i < 40; i++) {
		if (view(&g, EYES).stages[1].state == FL_STAGE_AWAITING)
			break;
		step(&g);
	}
	assert_true(i < 40);
	assert_int_equal(fl_runner_action(g.r, EYES, FL_RUNNER_APPROVE, "rest",
					  "alice", g.w->now, &changed, &err),
			 FL_ESTATE);
	assert_int_equal(err.http_status, 403);
	assert_int_equal(approvals(&g, EYES), 1);
	step(&g);
	assert_int_equal(view(&g, EYES).stages[1].state, FL_STAGE_AWAITING);
	assert_int_equal(fl_runner_action(g.r, EYES, FL_RUNNER_APPROVE, "rest",
					  "carol", g.w->now, &changed, &err),
			 0);
	assert_int_equal(approvals(&g, EYES), 2);
	run_until_state(&g, EYES, FL_ROLLOUT_COMPLETE, 40);
	free(ro);
	rig_free(&g);
}

static void test_runner__pause_and_resume(void **state)
{
	struct fl_store_rollout *x = malloc(sizeof(*x));
	struct fl_runner_error err;
	struct fl_runner_view v;
	struct rig g;
	bool changed;
	size_t offers;
	unsigned i;

	(void)state;
	assert_non_null(x);
	rig_init(&g);
	fleet(&g, 50, "th", thermo, "firmware", "2.3.0", "2.4.0");
	start_ok(&g, "percent-waves.yaml", "thermostat-2.4.0.bin");
	for (i = 0; i < 40; i++) {
		uint16_t k = view(&g, WAVES).status.stage;

		if (k != FL_ENGINE_NO_STAGE && k >= 1)
			break;
		step(&g);
	}
	assert_int_equal(fl_runner_action(g.r, WAVES, FL_RUNNER_PAUSE, NULL,
					  "dave", g.w->now, &changed, &err),
			 0);
	assert_true(changed);
	assert_int_equal(fl_runner_action(g.r, WAVES, FL_RUNNER_PAUSE, NULL,
					  "dave", g.w->now, &changed, &err),
			 0);
	assert_false(changed);
	offers = devices_sent(g.w, FL_CMD_OFFER);
	for (i = 0; i < 15; i++)
		step(&g);
	/* in flight finished; nothing new offered, no new stage */
	v = view(&g, WAVES);
	assert_true(v.status.is_paused);
	assert_int_equal(v.status.stage, 1);
	assert_int_equal(v.stages[1].state, FL_STAGE_PASSED);
	assert_int_equal(v.stages[2].state, FL_STAGE_PENDING);
	assert_int_equal(v.wait.why, FL_WHY_OPERATOR);
	assert_int_equal(devices_sent(g.w, FL_CMD_OFFER), offers);
	assert_int_equal(agents_on(g.w, "2.4.0"), offers);
	assert_int_equal(fl_store_rollout_get(&g.st, WAVES, x), 0);
	assert_true(x->is_paused);

	assert_int_equal(fl_runner_action(g.r, WAVES, FL_RUNNER_RESUME, NULL,
					  "dave", g.w->now, &changed, &err),
			 0);
	assert_true(changed);
	assert_int_equal(fl_runner_action(g.r, WAVES, FL_RUNNER_RESUME, NULL,
					  "dave", g.w->now, &changed, &err),
			 0);
	assert_false(changed);
	run_until_state(&g, WAVES, FL_ROLLOUT_COMPLETE, 60);
	assert_int_equal(agents_on(g.w, "2.4.0"), 50);
	assert_int_equal(fl_store_rollout_get(&g.st, WAVES, x), 0);
	assert_false(x->is_paused);
	free(x);
	rig_free(&g);
}

static void test_runner__duplicate_reordered_and_stale_reports(void **state)
{
	struct fl_runner_view v0, v1;
	struct evlist l0, l1;
	struct fl_status s;
	struct rig g;
	const char *other;
	unsigned logs;

	(void)state;
	rig_init(&g);
	fleet(&g, 50, "th", thermo, "firmware", "2.3.0", "2.4.0");
	start_ok(&g, "percent-waves.yaml", "thermostat-2.4.0.bin");
	/* the third wave half-way: jobs at every phase, some finished */
	for (unsigned i = 0; i < 60; i++) {
		uint16_t k = view(&g, WAVES).status.stage;

		if (k != FL_ENGINE_NO_STAGE && k >= 2)
			break;
		step(&g);
	}
	step(&g);
	step(&g);
	assert_true(g.w->n_hist > 30);
	assert_int_equal(agents_on(g.w, "2.4.0"), 5);
	tick(&g);
	v0 = view(&g, WAVES);
	l0 = events(&g.st, NULL);

	/* every status again, newest first, then in order: none is newer
	 * than what was applied */
	for (size_t i = g.w->n_hist; i-- > 0;)
		feed(&g, &g.w->hist[i]);
	for (size_t i = 0; i < g.w->n_hist; i++)
		feed(&g, &g.w->hist[i]);
	logs = g.logs;
	/* a job nobody gave, another device's job, a job of no rollout */
	s = g.w->hist[0].u.s;
	s.n += 1000;
	other = strcmp(g.w->hist[0].device, g.w->a[0].id) == 0 ? g.w->a[1].id
							       : g.w->a[0].id;
	assert_int_equal(fl_runner_on_status(g.r, other, &s, g.w->now), 0);
	assert_int_equal(g.logs, logs + 1);
	assert_non_null(strstr(g.last_log, "not this device's"));
	s.job = 999999;
	assert_int_equal(
		fl_runner_on_status(g.r, g.w->hist[0].device, &s, g.w->now), 0);
	assert_int_equal(g.logs, logs + 2);
	assert_non_null(strstr(g.last_log, "not a job of an active rollout"));
	s.job = 0;
	assert_int_equal(
		fl_runner_on_status(g.r, g.w->hist[0].device, &s, g.w->now),
		FL_EINVAL);
	assert_int_equal(fl_runner_on_status(g.r, "bad id!", &s, g.w->now),
			 FL_EINVAL);
	tick(&g);
	v1 = view(&g, WAVES);
	l1 = events(&g.st, NULL);
	assert_int_equal(l1.n, l0.n); /* nothing logged: no input applied */
	assert_memory_equal(&v0.status, &v1.status, sizeof(v0.status));
	assert_memory_equal(v0.stages, v1.stages, sizeof(v0.stages));
	free(l0.v);
	free(l1.v);
	/* a decommissioned device's retained presence cleared: offline */
	assert_int_equal(fl_runner_on_cleared(g.r, g.w->a[0].id,
					      FL_TOPIC_PRESENCE, g.w->now),
			 0);
	assert_int_equal(fl_runner_on_cleared(g.r, g.w->a[0].id,
					      FL_TOPIC_REPORTED, g.w->now),
			 0);
	assert_int_equal(
		fl_runner_on_cleared(g.r, g.w->a[0].id, FL_TOPIC_CMD, g.w->now),
		FL_EINVAL);
	tick(&g);
	{
		struct fl_store_device d;

		assert_int_equal(fl_store_device_get(&g.st, g.w->a[0].id, &d),
				 0);
		assert_false(d.is_online);
	}
	push_presence(g.w, &g.w->a[0], true);
	feed_out(&g);
	run_until_state(&g, WAVES, FL_ROLLOUT_COMPLETE, 60);
	assert_int_equal(agents_on(g.w, "2.4.0"), 50);
	rig_free(&g);
}

/* ---- crash safety -------------------------------------------------------- */

/* What must be equal between two runs: manifest notes by their body and
 * number (ECDSA signatures differ from one signing to the next). */
static void payload_key(const struct fl_store_event *e, char *out, size_t cap)
{
	if (e->type == FL_STORE_EV_NOTE &&
	    (e->kind == FL_RUNNER_NOTE_MANIFEST ||
	     e->kind == FL_RUNNER_NOTE_RB_MANIFEST)) {
		cJSON *o = cJSON_Parse(e->payload);
		const cJSON *m =
			cJSON_GetObjectItemCaseSensitive(o, "manifest");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(m, "body");
		const cJSON *q = cJSON_GetObjectItemCaseSensitive(o, "seq");

		assert_true(cJSON_IsString(b) && cJSON_IsNumber(q));
		snprintf(out, cap, "%.0f %s", q->valuedouble, b->valuestring);
		cJSON_Delete(o);
		return;
	}
	snprintf(out, cap, "%s", e->payload);
}

static void assert_same_events(const struct fl_store_event *a,
			       const struct fl_store_event *b, size_t n)
{
	static char ka[FL_STORE_PAYLOAD_MAX], kb[FL_STORE_PAYLOAD_MAX];

	for (size_t i = 0; i < n; i++) {
		assert_int_equal(a[i].seq, b[i].seq);
		assert_int_equal(a[i].at_s, b[i].at_s);
		assert_int_equal(a[i].type, b[i].type);
		assert_int_equal(a[i].kind, b[i].kind);
		assert_string_equal(a[i].rollout, b[i].rollout);
		assert_string_equal(a[i].device, b[i].device);
		payload_key(&a[i], ka, sizeof(ka));
		payload_key(&b[i], kb, sizeof(kb));
		assert_string_equal(ka, kb);
	}
}

/* Per device, the distinct commands (type, job) in the order first sent. */
static void assert_same_commands(const struct sent *a, size_t na,
				 const struct sent *b, size_t nb)
{
	for (size_t i = 0; i < na + nb; i++) {
		const struct sent *x = i < na ? &a[i] : &b[i - na];
		uint32_t ja[64], jb[64];
		int ta[64], tb[64];
		size_t ka = 0, kb = 0;

		for (int side = 0; side < 2; side++) {
			const struct sent *v = side ? b : a;
			size_t n = side ? nb : na;
			uint32_t *jobs = side ? jb : ja;
			int *types = side ? tb : ta;
			size_t *k = side ? &kb : &ka;

			for (size_t s = 0; s < n; s++) {
				bool seen = false;

				if (strcmp(v[s].device, x->device) != 0)
					continue;
				for (size_t t = 0; t < *k; t++)
					seen |= jobs[t] == v[s].cmd.job &&
						types[t] == v[s].cmd.type;
				if (seen)
					continue;
				assert_true(*k < 64);
				jobs[*k] = v[s].cmd.job;
				types[(*k)++] = v[s].cmd.type;
			}
		}
		assert_int_equal(ka, kb);
		for (size_t t = 0; t < ka; t++) {
			assert_int_equal(ja[t], jb[t]);
			assert_int_equal(ta[t], tb[t]);
		}
	}
}

static void assert_same_runs(struct rig *a, struct rig *b)
{
	struct evlist la = events(&a->st, NULL), lb = events(&b->st, NULL);

	if (la.n != lb.n) {
		for (size_t i = 0; i < la.n && i < lb.n; i++) {
			static char ka[FL_STORE_PAYLOAD_MAX],
				kb[FL_STORE_PAYLOAD_MAX];

			payload_key(&la.v[i], ka, sizeof(ka));
			payload_key(&lb.v[i], kb, sizeof(kb));
			if (strcmp(ka, kb) == 0 &&
			    strcmp(la.v[i].device, lb.v[i].device) == 0 &&
			    la.v[i].kind == lb.v[i].kind)
				continue;
			for (size_t k = i > 25 ? i - 25 : 0; k < i + 8; k++)
				fprintf(stderr,
					"%zu: a %d/%d %s %s | b %d/%d %s %s\n",
					k, la.v[k].type, la.v[k].kind,
					la.v[k].device, la.v[k].payload,
					lb.v[k].type, lb.v[k].kind,
					lb.v[k].device, lb.v[k].payload);
			break;
		}
	}
	assert_int_equal(la.n, lb.n);
	assert_same_events(la.v, lb.v, la.n);
	assert_same_commands(a->w->sent, a->w->n_sent, b->w->sent,
			     b->w->n_sent);
	check_jobs_consistent(b->w);
	for (unsigned i = 0; i < a->w->n; i++)
		assert_string_equal(a->w->a[i].version, b->w->a[i].version);
	free(la.v);
	free(lb.v);
}

static void test_runner__restart_after_every_tick_changes_nothing(void **state)
{
	struct rig a, b;

	(void)state;
	/* a bad version in a later wave: offers, rollbacks and rollback
	 * manifests, closed and reopened after every tick */
	rig_init(&a);
	bad_wave_run(&a);
	rig_init(&b);
	b.is_restarting = true;
	bad_wave_run(&b);
	assert_same_runs(&a, &b);
	rig_free(&a);
	rig_free(&b);
	/* the canary caught, rolled back */
	rig_init(&a);
	bad_canary_setup(&a);
	run_until_state(&a, GATEWAY, FL_ROLLOUT_ROLLED_BACK, 60);
	rig_init(&b);
	b.is_restarting = true;
	bad_canary_setup(&b);
	run_until_state(&b, GATEWAY, FL_ROLLOUT_ROLLED_BACK, 60);
	assert_same_runs(&a, &b);
	rig_free(&a);
	rig_free(&b);
}

static void copy_file(const char *from, const char *to)
{
	size_t len;
	char *buf = read_file(from, &len);
	int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	free(buf);
}

static uint64_t last_seq(struct fl_store *st)
{
	uint64_t seq = 0;

	assert_int_equal(fl_store_event_last(st, &seq), 0);
	return seq;
}

static struct evlist events_since(struct fl_store *st, uint64_t seq)
{
	struct evlist l = events(st, NULL), out = {NULL, 0, 0};

	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].seq > seq)
			ev_cb(&out, &l.v[i]);
	free(l.v);
	return out;
}

/* The tick in which the canary fails its gate (health reports of 20
 * devices, 20 rollbacks, a rollback manifest, member and stage rows) is
 * run again with its Nth database step failing (every N up to 120, then
 * every third): the tick fails and sends nothing; run again, it records
 * and sends exactly what the tick without a fault did. */
static void
test_runner__failed_store_step_sends_nothing_unrecorded(void **state)
{
	struct world *snap = malloc(sizeof(*snap));
	struct sent *ref_cmds;
	struct evlist ref, got;
	struct rig g;
	char snap_db[128];
	size_t ref_sent0, ref_sent1, before;
	uint64_t seq0;
	unsigned k, n, failed = 0;
	uint32_t next;
	int rc;

	(void)state;
	assert_non_null(snap);
	/* where the gate fails */
	rig_init(&g);
	bad_canary_setup(&g);
	for (k = 0; k < 60; k++) {
		struct evlist l;
		size_t rb;

		step(&g);
		l = events(&g.st, GATEWAY);
		rb = count_kind(&l, FL_STORE_EV_DECISION,
				FL_DEC_ROLLBACK_STARTED);
		free(l.v);
		if (rb > 0)
			break;
	}
	assert_true(k < 60);
	rig_free(&g);

	/* up to just before it, then a snapshot of the store and world */
	rig_init(&g);
	bad_canary_setup(&g);
	for (unsigned i = 0; i < k; i++)
		step(&g);
	rig_close(&g);
	snprintf(snap_db, sizeof(snap_db), "%s/snap.db", g.dir);
	copy_file(g.db, snap_db);
	memcpy(snap, g.w, sizeof(*snap));

	/* the reference */
	rig_open(&g);
	seq0 = last_seq(&g.st);
	world_step(g.w);
	feed_out(&g);
	ref_sent0 = g.w->n_sent;
	tick(&g);
	ref_sent1 = g.w->n_sent;
	assert_int_equal(ref_sent1 - ref_sent0, 20); /* the rollbacks */
	ref_cmds = malloc(20 * sizeof(*ref_cmds));
	assert_non_null(ref_cmds);
	memcpy(ref_cmds, &g.w->sent[ref_sent0], 20 * sizeof(*ref_cmds));
	ref = events_since(&g.st, seq0);
	rig_close(&g);

	/* every step up to 120 (the batch of reports and the first
	 * decisions), then every third (the same few steps per device) */
	for (n = 1; n < 2000; n += n < 120 ? 1 : 3) {
		rm_db(g.db);
		copy_file(snap_db, g.db);
		memcpy(g.w, snap, sizeof(*snap));
		rig_open(&g);
		world_step(g.w);
		feed_out(&g);
		before = g.w->n_sent;
		fl_store_sqlite_fail_at(&g.st, n);
		rc = fl_runner_tick(g.r, g.w->now, &next);
		if (rc != 0) {
			failed++;
			/* nothing left that was not recorded */
			assert_int_equal(g.w->n_sent, before);
			fl_store_sqlite_fail_at(&g.st, 0);
			assert_int_equal(fl_store_check(&g.st), 0);
			rc = fl_runner_tick(g.r, g.w->now, &next);
		}
		fl_store_sqlite_fail_at(&g.st, 0);
		assert_int_equal(rc, 0);
		got = events_since(&g.st, seq0);
		assert_int_equal(got.n, ref.n);
		assert_same_events(ref.v, got.v, ref.n);
		assert_int_equal(before, ref_sent0);
		assert_int_equal(g.w->n_sent - before, ref_sent1 - ref_sent0);
		for (size_t i = 0; i < ref_sent1 - ref_sent0; i++) {
			const struct sent *a = &ref_cmds[i];
			const struct sent *b = &g.w->sent[before + i];

			assert_string_equal(a->device, b->device);
			assert_int_equal(a->cmd.type, b->cmd.type);
			assert_int_equal(a->cmd.job, b->cmd.job);
		}
		free(got.v);
		rig_close(&g);
		if (rc == 0 && failed < (n < 120 ? n : 120 + (n - 120) / 3))
			break; /* the fault fell after the tick: all done */
	}
	printf("  %u of the tick's %u database steps failed in turn\n", failed,
	       n - 1);
	assert_true(failed > 150);
	free(ref_cmds);
	free(ref.v);
	unlink(snap_db);
	free(snap);
	rig_free(&g);
}

static void test_runner__a_log_that_does_not_replay_is_refused(void **state)
{
	struct fl_store_event ev;
	struct evlist l0, l1;
	struct rig g;

	(void)state;
	rig_init(&g);
	fleet(&g, 10, "th", thermo, "firmware", "2.3.0", "2.4.0");
	start_ok(&g, "percent-waves.yaml", "thermostat-2.4.0.bin");
	for (unsigned i = 0; i < 3; i++)
		step(&g);
	rig_close(&g);

	/* a decision the engine never took */
	assert_int_equal(fl_store_open_sqlite(&g.st, g.db, &store_opt), 0);
	memset(&ev, 0, sizeof(ev));
	ev.type = FL_STORE_EV_DECISION;
	ev.kind = FL_DEC_OFFER;
	ev.at_s = g.w->now;
	snprintf(ev.rollout, sizeof(ev.rollout), WAVES);
	snprintf(ev.device, sizeof(ev.device), "th-0003");
	snprintf(ev.payload, sizeof(ev.payload), "{\"stage\":0,\"job\":77}");
	assert_int_equal(fl_store_event_append(&g.st, &ev, NULL), 0);
	l0 = events(&g.st, NULL);
	fl_store_close(&g.st);
	assert_int_equal(rig_open_runner(&g), FL_ECORRUPT);
	assert_null(g.r);
	assert_non_null(strstr(g.last_log, "did not take"));
	/* nothing changed */
	l1 = events(&g.st, NULL);
	assert_int_equal(l0.n, l1.n);
	free(l0.v);
	free(l1.v);
	fl_store_close(&g.st);
	rig_free(&g);
}

static void test_runner__start_refusals_and_operator_rollback(void **state)
{
	char none[65], first[20][FL_DEVICE_ID_MAX];
	struct fl_runner_error err;
	struct fl_runner_view v;
	uint32_t revert = 0, cancel = 0;
	unsigned n = 0;
	struct rig g;
	bool changed;

	(void)state;
	rig_init(&g);
	fleet(&g, 20, "th", thermo, "firmware", "2.3.0", "2.4.0");
	seed_previous(&g, "firmware", "2.3.0");

	assert_int_equal(
		fl_runner_start(g.r, "x", 1, NULL, "xyz", "a", g.w->now, &err),
		FL_EINVAL);
	assert_int_equal(err.http_status, 400);
	sha_hex("nothing", 7, none);
	assert_int_equal(
		fl_runner_start(g.r, "x", 1, NULL, none, "a", g.w->now, &err),
		FL_ENOENT);
	assert_int_equal(err.http_status, 404);
	assert_int_equal(
		start(&g, "bad/bad-days.yaml", "thermostat-2.4.0.bin", &err),
		FL_EINVAL);
	assert_int_equal(err.http_status, 422);
	assert_string_equal(err.code, "invalid_plan");
	assert_non_null(err.diags);
	assert_true(err.diags->n_errors > 0);
	assert_string_equal(err.diags->file, "bad/bad-days.yaml");

	/* the signer fails: nothing is recorded */
	g.w->seal_fail = 1;
	assert_int_equal(
		start(&g, "percent-waves.yaml", "thermostat-2.4.0.bin", &err),
		FL_ECRYPTO);
	assert_int_equal(err.http_status, 500);
	{
		struct fl_store_rollout x;

		assert_int_equal(fl_store_rollout_get(&g.st, WAVES, &x),
				 FL_ENOENT);
	}
	start_ok(&g, "percent-waves.yaml", "thermostat-2.4.0.bin");
	assert_int_equal(
		start(&g, "percent-waves.yaml", "thermostat-2.4.0.bin", &err),
		FL_EBUSY);
	assert_int_equal(err.http_status, 409);
	/* the same component on the same devices */
	assert_int_equal(start(&g, "holds.yaml", "thermostat-2.4.0.bin", &err),
			 FL_EBUSY);
	assert_int_equal(err.http_status, 409);
	assert_string_equal(err.code, "conflict");
	assert_int_equal(err.n_conflicts, 10); /* the thermo-v3 ones */
	assert_memory_equal(err.conflicts[0], "th-", 3);
	/* another component: no overlap (and no device either) */
	assert_int_equal(start(&g, "approval.yaml", "doorbell-3.1.0.bin", &err),
			 0);

	for (unsigned i = 0; i < 6; i++)
		step(&g);
	assert_int_equal(fl_runner_rollback_preview(g.r, WAVES, &revert,
						    &cancel, first, &n),
			 0);
	assert_true(revert >= 1);
	assert_int_equal(n, revert + cancel);
	assert_int_equal(fl_runner_action(g.r, WAVES, FL_RUNNER_ROLLBACK, NULL,
					  "eve", g.w->now, &changed, &err),
			 0);
	assert_true(changed);
	assert_int_equal(fl_runner_action(g.r, WAVES, FL_RUNNER_ROLLBACK, NULL,
					  "eve", g.w->now, &changed, &err),
			 0);
	assert_false(changed);
	run_until_state(&g, WAVES, FL_ROLLOUT_ROLLED_BACK, 30);
	v = view(&g, WAVES);
	assert_int_equal(v.rollback_why, FL_WHY_OPERATOR);
	assert_int_equal(v.status.n_rollback_done, revert);
	assert_int_equal(agents_on(g.w, "2.3.0"), 20);
	assert_int_equal(fl_runner_action(g.r, WAVES, FL_RUNNER_PAUSE, NULL,
					  "eve", g.w->now, &changed, &err),
			 FL_ESTATE);
	assert_int_equal(err.http_status, 409);

	/* reopened: a rolled back rollout is read from the store */
	rig_close(&g);
	rig_open(&g);
	v = view(&g, WAVES);
	assert_int_equal(v.status.state, FL_ROLLOUT_ROLLED_BACK);
	assert_non_null(v.plan);
	assert_int_equal(v.n_stages, 4);
	assert_int_equal(fl_runner_action(g.r, WAVES, FL_RUNNER_ROLLBACK, NULL,
					  "eve", g.w->now, &changed, &err),
			 0);
	assert_false(changed);
	assert_int_equal(fl_runner_action(g.r, WAVES, FL_RUNNER_RESUME, NULL,
					  "eve", g.w->now, &changed, &err),
			 FL_ESTATE);
	/* now the same devices may take another rollout */
	assert_int_equal(start(&g, "holds.yaml", "thermostat-2.4.0.bin", &err),
			 0);
	rig_free(&g);
}

#define SENSORS "sensor-0.9.2"

/* An offer waits while the device's reported job is in trial; an offer
 * nobody answers is sent again every resend_s with the same job id. */
static void test_runner__busy_devices_wait_and_silence_is_resent(void **state)
{
	struct agent *busy, *deaf, *sly;
	uint32_t job = 0;
	unsigned deaf_sends = 0;
	struct rig g;

	(void)state;
	rig_init(&g);
	fleet(&g, 4, "sn", sensor, "firmware", "0.9.1", "0.9.2");
	busy = &g.w->a[0];
	deaf = &g.w->a[1];
	sly = &g.w->a[2];
	busy->foreign_job = 900000; /* another fleetd's, say */
	busy->in_foreign_trial = true;
	push_reported(g.w, busy);
	deaf->is_deaf = true;
	feed_out(&g);
	tick(&g);
	sly->in_foreign_trial = true; /* and does not say so */
	start_ok(&g, "minimal.yaml", "sensor-0.9.2.bin");
	g.w->send_fail = 1; /* the broker's client refuses the first */
	for (unsigned i = 0; i < 6; i++)
		step(&g);
	assert_int_equal(agents_on(g.w, "0.9.2"), 1);
	assert_int_equal(busy->offers, 0);
	/* trial_pending: the same offer again later, not taken yet */
	assert_true(sly->offers >= 2);
	assert_int_equal(sly->last_job, 0);
	for (size_t i = 0; i < g.w->n_sent; i++) {
		const struct sent *s = &g.w->sent[i];

		assert_string_not_equal(s->device, busy->id);
		if (strcmp(s->device, deaf->id) != 0)
			continue;
		assert_int_equal(s->cmd.type, FL_CMD_OFFER);
		if (job == 0)
			job = s->cmd.job;
		assert_int_equal(s->cmd.job, job); /* the same job again */
		deaf_sends++;
	}
	assert_int_equal(deaf_sends, 2); /* at 0 and after 900 s */

	/* the trials end; the device hears again */
	busy->in_foreign_trial = false;
	push_reported(g.w, busy);
	sly->in_foreign_trial = false;
	deaf->is_deaf = false;
	feed_out(&g);
	run_until_state(&g, SENSORS, FL_ROLLOUT_COMPLETE, 20);
	assert_int_equal(agents_on(g.w, "0.9.2"), 4);
	assert_int_equal(busy->offers, 1);
	assert_int_equal(deaf->offers, 1);
	assert_int_equal(sly->last_job, sly->job);
	check_jobs_consistent(g.w); /* sly's offers: one job */
	rig_free(&g);
}

/* No image of the version a device ran before: its rollback is refused
 * with a logged reason and counts as failed; the rollout still ends. A
 * device whose report describes its slots (length and SHA-256) goes back
 * to the image in its other slot. */
static void test_runner__rollback_without_an_image_is_refused(void **state)
{
	struct fl_runner_view v;
	struct evlist l;
	struct rig g;
	char slot_sha[65];

	(void)state;
	rig_init(&g);
	fleet(&g, 4, "sn", sensor, "firmware", "0.9.1", "0.9.2");
	g.w->bad_mode = BAD_REVERT;
	g.w->a[2].is_bad_device = true; /* one reverts: the stage fails */
	/* sn-0004 reports its slots: once it runs 0.9.2, the other slot
	 * holds 0.9.1 with its length and SHA-256 */
	sha_hex("sensor 0.9.1", 12, slot_sha);
	g.w->a[3].has_slots = true;
	memcpy(g.w->a[3].old_sha, slot_sha, sizeof(slot_sha));
	start_ok(&g, "minimal.yaml", "sensor-0.9.2.bin");
	run_until_state(&g, SENSORS, FL_ROLLOUT_ROLLED_BACK, 20);
	v = view(&g, SENSORS);
	assert_int_equal(v.status.n_rollback_sent, 3);
	assert_int_equal(v.status.n_rollback_failed, 2);
	assert_int_equal(v.status.n_rollback_done, 1);
	assert_int_equal(devices_sent(g.w, FL_CMD_ROLLBACK), 1);
	for (size_t i = 0; i < g.w->n_sent; i++) {
		struct fl_manifest m;
		char sha[65];

		if (g.w->sent[i].cmd.type != FL_CMD_ROLLBACK)
			continue;
		assert_string_equal(g.w->sent[i].device, "sn-0004");
		assert_int_equal(fl_manifest_body_decode_unverified(
					 &m, g.w->sent[i].cmd.manifest.body,
					 g.w->sent[i].cmd.manifest.body_len,
					 NULL),
				 0);
		assert_int_equal(m.length, 12);
		assert_int_equal(fl_hex_encode(sha, sizeof(sha), m.sha256, 32),
				 0);
		assert_string_equal(sha, slot_sha);
	}
	assert_string_equal(g.w->a[3].version, "0.9.1");
	assert_non_null(strstr(g.last_log, "no rollback"));
	l = events(&g.st, SENSORS);
	assert_int_equal(
		count_kind(&l, FL_STORE_EV_NOTE, FL_RUNNER_NOTE_REFUSED), 2);
	assert_int_equal(
		count_kind(&l, FL_STORE_EV_INPUT, FL_EV_ROLLBACK_FAILED), 2);
	free(l.v);
	/* and it replays */
	rig_close(&g);
	rig_open(&g);
	assert_int_equal(view(&g, SENSORS).status.state,
			 FL_ROLLOUT_ROLLED_BACK);
	rig_free(&g);
}

/* A device went back to the image its slots described, and the status
 * of its rollback was lost: its slots now describe the image it left (the
 * old one runs, the new one is in the other slot). The re-sent command
 * still carries its image: fleetd does not look for it again. */
static void test_runner__rollback_resent_after_slots_moved(void **state)
{
	struct agent *a;
	struct rig g;
	char slot_sha[65];
	unsigned rb_sent = 0;
	uint32_t job = 0;

	(void)state;
	rig_init(&g);
	fleet(&g, 4, "sn", sensor, "firmware", "0.9.1", "0.9.2");
	g.w->bad_mode = BAD_REVERT;
	g.w->a[2].is_bad_device = true; /* one reverts: the stage fails */
	a = &g.w->a[3];
	sha_hex("sensor 0.9.1", 12, slot_sha);
	a->has_slots = true;
	memcpy(a->old_sha, slot_sha, sizeof(slot_sha));
	a->loses_rb_status = true;
	start_ok(&g, "minimal.yaml", "sensor-0.9.2.bin");
	for (unsigned i = 0; i < 20 && a->rollbacks == 0; i++)
		step(&g);
	assert_int_equal(a->rollbacks, 1);
	for (unsigned i = 0; i < 5 && a->phase != P_NONE; i++)
		step(&g); /* it goes back, its statuses lost */
	assert_int_equal(a->phase, P_NONE);
	assert_string_equal(a->version, "0.9.1");
	a->loses_rb_status = false;
	for (unsigned i = 0; i < 6; i++)
		step(&g); /* past resend_s */
	for (size_t i = 0; i < g.w->n_sent; i++) {
		const struct sent *x = &g.w->sent[i];

		if (x->cmd.type != FL_CMD_ROLLBACK ||
		    strcmp(x->device, a->id) != 0)
			continue;
		if (job == 0)
			job = x->cmd.job;
		assert_int_equal(x->cmd.job, job); /* the same job again */
		rb_sent++;
	}
	assert_true(rb_sent >= 2);
	assert_int_equal(g.gone_logs, 0);
	run_until_state(&g, SENSORS, FL_ROLLOUT_ROLLED_BACK, 20);
	rig_free(&g);
}

/* The same, with the runner closed and reopened after every tick: the
 * manifest a device was given is in the log (its rollback decision names
 * it), so a restarted runner re-sends that one, not one looked for again
 * in slots that no longer describe the image. */
static void test_runner__rollback_manifest_survives_a_restart(void **state)
{
	const struct fl_cmd *first = NULL;
	struct fl_manifest m, m0;
	struct agent *a;
	struct evlist l;
	struct rig g;
	char slot_sha[65];
	unsigned rb_sent = 0;

	(void)state;
	rig_init(&g);
	fleet(&g, 4, "sn", sensor, "firmware", "0.9.1", "0.9.2");
	g.w->bad_mode = BAD_REVERT;
	g.w->a[2].is_bad_device = true; /* one reverts: the stage fails */
	a = &g.w->a[3];
	sha_hex("sensor 0.9.1", 12, slot_sha);
	a->has_slots = true;
	memcpy(a->old_sha, slot_sha, sizeof(slot_sha));
	a->loses_rb_status = true;
	start_ok(&g, "minimal.yaml", "sensor-0.9.2.bin");
	g.is_restarting = true;
	for (unsigned i = 0; i < 20 && a->rollbacks == 0; i++)
		step(&g);
	assert_int_equal(a->rollbacks, 1);
	for (unsigned i = 0; i < 5 && a->phase != P_NONE; i++)
		step(&g); /* it goes back, its statuses lost */
	assert_int_equal(a->phase, P_NONE);
	assert_string_equal(a->version, "0.9.1");
	a->loses_rb_status = false;
	for (unsigned i = 0; i < 6; i++)
		step(&g); /* past resend_s, a restart after each tick */
	for (size_t i = 0; i < g.w->n_sent; i++) {
		const struct fl_cmd *c = &g.w->sent[i].cmd;

		if (c->type != FL_CMD_ROLLBACK ||
		    strcmp(g.w->sent[i].device, a->id) != 0)
			continue;
		assert_int_equal(fl_manifest_body_decode_unverified(
					 &m, c->manifest.body,
					 c->manifest.body_len, NULL),
				 0);
		if (first == NULL) {
			first = c;
			m0 = m;
		}
		/* the same job, for the same image (sealed again once the
		 * device's floor reached the first manifest's number) */
		assert_int_equal(c->job, first->job);
		assert_int_equal(m.length, m0.length);
		assert_memory_equal(m.sha256, m0.sha256, sizeof(m.sha256));
		rb_sent++;
	}
	assert_true(rb_sent >= 2);
	assert_int_equal(g.gone_logs, 0);
	l = events(&g.st, SENSORS);
	assert_true(count_kind(&l, FL_STORE_EV_NOTE,
			       FL_RUNNER_NOTE_RB_MANIFEST) >= 1);
	free(l.v);
	run_until_state(&g, SENSORS, FL_ROLLOUT_ROLLED_BACK, 20);
	rig_free(&g);
}

/* Commands of one type sent to one device. */
static unsigned sends_to(const struct world *w, const char *id, int type)
{
	unsigned n = 0;

	for (size_t k = 0; k < w->n_sent; k++)
		n += w->sent[k].cmd.type == type &&
		     strcmp(w->sent[k].device, id) == 0;
	return n;
}

/* A fleet rolled back: sn-0004 (its slots describe the old image) is the
 * one device sent a rollback. */
static struct agent *rb_fleet(struct rig *g)
{
	struct agent *a;
	char slot_sha[65];

	fleet(g, 4, "sn", sensor, "firmware", "0.9.1", "0.9.2");
	g->w->bad_mode = BAD_REVERT;
	g->w->a[2].is_bad_device = true; /* one reverts: the stage fails */
	a = &g->w->a[3];
	sha_hex("sensor 0.9.1", 12, slot_sha);
	a->has_slots = true;
	memcpy(a->old_sha, slot_sha, sizeof(slot_sha));
	start_ok(g, "minimal.yaml", "sensor-0.9.2.bin");
	return a;
}

/* The device acknowledged its rollback, then rebooted (reconnected): it
 * holds the job, so its return does not send it again; the safety net
 * does, resend_s (900 s) after its last status, and every resend_s after
 * that while no result comes. The same across restarts of the runner
 * (what the device holds is read back from the store), except that a
 * restart re-sends an overdue one once. */
static void rb_held_run(bool is_restarting)
{
	struct agent *a;
	struct rig g;
	unsigned n0;

	rig_init(&g);
	a = rb_fleet(&g);
	a->is_rb_stuck = true;
	g.is_restarting = is_restarting;
	for (unsigned i = 0; i < 20 && a->rollbacks == 0; i++)
		step(&g);
	assert_int_equal(a->rollbacks, 1); /* taken: "updating" reported */
	n0 = sends_to(g.w, a->id, FL_CMD_ROLLBACK);
	assert_int_equal(n0, 1);
	/* every device took its offer once: an acknowledged offer is not
	 * sent again when its device reboots into the trial */
	for (unsigned i = 0; i < g.w->n; i++)
		assert_int_equal(sends_to(g.w, g.w->a[i].id, FL_CMD_OFFER), 1);

	g.w->now += 10;
	reboot(g.w, a);
	feed_out(&g);
	tick(&g);
	assert_int_equal(sends_to(g.w, a->id, FL_CMD_ROLLBACK), n0);
	step(&g);	/* +310 s */
	reboot(g.w, a); /* and once more, with the command owed again */
	feed_out(&g);
	tick(&g);
	assert_int_equal(sends_to(g.w, a->id, FL_CMD_ROLLBACK), n0);
	step(&g); /* +610 s */
	assert_int_equal(sends_to(g.w, a->id, FL_CMD_ROLLBACK), n0);
	step(&g); /* +910 s: resend_s after its status */
	assert_int_equal(sends_to(g.w, a->id, FL_CMD_ROLLBACK), n0 + 1);
	for (unsigned i = 0; i < 3; i++)
		step(&g); /* +1810 s */
	/* a restarted runner does not know when it last sent: it re-sends
	 * an overdue command it holds once (here: after every tick) */
	if (is_restarting)
		assert_true(sends_to(g.w, a->id, FL_CMD_ROLLBACK) >= n0 + 2);
	else
		assert_int_equal(sends_to(g.w, a->id, FL_CMD_ROLLBACK), n0 + 2);
	assert_int_equal(a->rollbacks, 1); /* duplicates of the one job */
	check_jobs_consistent(g.w);

	a->is_rb_stuck = false;
	run_until_state(&g, SENSORS, FL_ROLLOUT_ROLLED_BACK, 20);
	assert_string_equal(a->version, "0.9.1");
	rig_free(&g);
}

static void test_runner__held_rollback_not_resent_on_reconnect(void **state)
{
	(void)state;
	rb_held_run(false);
}

static void test_runner__held_rollback_not_resent_after_restart(void **state)
{
	(void)state;
	rb_held_run(true);
}

/* A device that did not answer its rollback (it did not hear it) gets it
 * again as soon as it is back, before resend_s; so does one that
 * answered retry_later (it does not hold the job). */
static void rb_unheld_run(bool is_retry_later)
{
	struct agent *a;
	struct rig g;
	unsigned n0;
	uint32_t job = 0;

	rig_init(&g);
	a = rb_fleet(&g);
	for (unsigned i = 0;
	     i < 20 && sends_to(g.w, a->id, FL_CMD_ROLLBACK) == 0; i++)
		step(&g);
	a->is_deaf = true; /* before the rollback is delivered */
	n0 = sends_to(g.w, a->id, FL_CMD_ROLLBACK);
	assert_int_equal(n0, 1);
	assert_int_equal(a->rollbacks, 0); /* not heard */
	for (size_t k = 0; k < g.w->n_sent; k++)
		if (g.w->sent[k].cmd.type == FL_CMD_ROLLBACK)
			job = g.w->sent[k].cmd.job;
	if (is_retry_later) {
		push_status(g.w, a, job, FL_STATE_WAITING,
			    FL_RESULT_RETRY_LATER, "busy", 0);
		feed_out(&g);
		tick(&g);
	}
	step(&g); /* +300 s, below resend_s */
	assert_int_equal(sends_to(g.w, a->id, FL_CMD_ROLLBACK), n0);

	a->is_deaf = false;
	g.w->now += 10;
	reboot(g.w, a);
	feed_out(&g);
	tick(&g);
	assert_int_equal(sends_to(g.w, a->id, FL_CMD_ROLLBACK), n0 + 1);
	run_until_state(&g, SENSORS, FL_ROLLOUT_ROLLED_BACK, 20);
	assert_string_equal(a->version, "0.9.1");
	assert_int_equal(a->rollbacks, 1);
	check_jobs_consistent(g.w);
	rig_free(&g);
}

static void test_runner__unanswered_rollback_resent_on_reconnect(void **state)
{
	(void)state;
	rb_unheld_run(false);
}

static void test_runner__retry_later_rollback_resent_on_reconnect(void **state)
{
	(void)state;
	rb_unheld_run(true);
}

/* Devices that report for the first time while a rollout runs join it
 * (a later stage takes them); a device seen only by its presence joins
 * once it reports. A reopened runner sees the same. */
static void test_runner__late_joiners_are_placed_in_later_stages(void **state)
{
	struct fl_runner_view v0, v1;
	struct evlist l;
	struct agent *mute;
	struct rig g;
	char id[16];

	(void)state;
	rig_init(&g);
	fleet(&g, 30, "th", thermo, "firmware", "2.3.0", "2.4.0");
	start_ok(&g, "percent-waves.yaml", "thermostat-2.4.0.bin");
	step(&g);
	for (unsigned i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "late-%02u", i);
		agent_add(g.w, id, thermo[i % 2], "us", "firmware", "2.3.0");
	}
	mute = agent_add(g.w, "mute", "thermo-v3", "us", "firmware", "2.3.0");
	g.w->n_out--; /* its reported state is not heard yet */
	mute->is_quiet = true;
	step(&g);
	v0 = view(&g, WAVES);
	assert_int_equal(v0.status.n_devices, 40);
	assert_int_equal(v0.status.n_targets, 40);
	for (unsigned i = 0; i < 3; i++)
		step(&g);
	mute->is_quiet = false;
	push_reported(g.w, mute);
	/* and one reports just before fleetd stops, before any tick */
	agent_add(g.w, "just-before", "thermo-v2", "us", "firmware", "2.3.0");
	feed_out(&g);
	rig_close(&g);
	rig_open(&g);
	run_until_state(&g, WAVES, FL_ROLLOUT_COMPLETE, 60);
	v0 = view(&g, WAVES);
	assert_int_equal(v0.status.n_devices, 42);
	/* every late device joined before the last stage started: all are
	 * on the new version */
	assert_int_equal(v0.status.n_unplaced, 0);
	assert_int_equal(agents_on(g.w, "2.4.0"), 42);
	l = events(&g.st, WAVES);
	assert_int_equal(count_kind(&l, FL_STORE_EV_NOTE, FL_RUNNER_NOTE_INV),
			 42);
	assert_int_equal(count_kind(&l, FL_STORE_EV_NOTE, FL_RUNNER_NOTE_SYNC),
			 2);
	free(l.v);
	rig_close(&g);
	rig_open(&g);
	v1 = view(&g, WAVES);
	assert_memory_equal(&v0.status, &v1.status, sizeof(v0.status));
	assert_memory_equal(v0.stages, v1.stages, sizeof(v0.stages));
	rig_free(&g);
}

/* rate-limit.yaml: the canary offers at most 10 devices an hour; the view
 * says so while devices wait. */
static void test_runner__rate_limit_is_a_wait(void **state)
{
	struct fl_runner_view v;
	struct rig g;
	int64_t t0;

	(void)state;
	rig_init(&g);
	fleet(&g, 14, "sensor", sensor, "firmware", "0.9.1", "0.9.2");
	start_ok(&g, "rate-limit.yaml", "sensor-0.9.2.bin");
	t0 = g.w->now;
	tick(&g);
	v = view(&g, "sensor-0.9.2-paced");
	assert_int_equal(v.status.n_targets, 12); /* two excluded */
	assert_int_equal(devices_sent(g.w, FL_CMD_OFFER), 10);
	assert_int_equal(v.wait.why, FL_WHY_RATE);
	assert_int_equal(v.wait.stage, 0);
	assert_int_equal(v.wait.until_s, t0 + 3600);
	for (unsigned i = 0; i < 12; i++)
		step(&g);
	assert_int_equal(devices_sent(g.w, FL_CMD_OFFER), 12);
	assert_int_equal(view(&g, "sensor-0.9.2-paced").wait.why, FL_WHY_NONE);
	rig_free(&g);
}

/* An operator's cancel: live offers are cancelled, nothing more offered. */
static void test_runner__cancel_stops_the_offers(void **state)
{
	struct fl_runner_error err;
	struct rig g;
	bool changed;

	(void)state;
	rig_init(&g);
	fleet(&g, 4, "sn", sensor, "firmware", "0.9.1", "0.9.2");
	start_ok(&g, "minimal.yaml", "sensor-0.9.2.bin");
	tick(&g); /* the offers go out */
	assert_int_equal(devices_sent(g.w, FL_CMD_OFFER), 4);
	assert_int_equal(fl_runner_action(g.r, SENSORS, FL_RUNNER_CANCEL, NULL,
					  "frank", g.w->now, &changed, &err),
			 0);
	assert_true(changed);
	assert_int_equal(fl_runner_action(g.r, SENSORS, FL_RUNNER_CANCEL, NULL,
					  "frank", g.w->now, &changed, &err),
			 0);
	assert_false(changed);
	tick(&g); /* before the devices read their offers */
	assert_int_equal(view(&g, SENSORS).status.state, FL_ROLLOUT_CANCELLED);
	for (unsigned i = 0; i < 4; i++)
		step(&g);
	assert_int_equal(devices_sent(g.w, FL_CMD_CANCEL), 4);
	assert_int_equal(agents_on(g.w, "0.9.1"), 4);
	for (unsigned i = 0; i < g.w->n; i++)
		assert_int_equal(g.w->a[i].last.result, FL_RESULT_CANCELLED);
	/* a rollback after a cancel is still allowed; a pause is not */
	assert_int_equal(fl_runner_action(g.r, SENSORS, FL_RUNNER_PAUSE, NULL,
					  "frank", g.w->now, &changed, &err),
			 FL_ESTATE);
	rig_free(&g);
}

static int fake_tz(void *ctx, const char *zone, int64_t utc_s,
		   int32_t *offset_s, int64_t *next_change_s)
{
	(void)ctx;
	(void)utc_s;
	*next_change_s = FL_ENGINE_NEVER;
	if (strcmp(zone, "Europe/Paris") == 0)
		*offset_s = 7200; /* summer */
	else if (strcmp(zone, "America/New_York") == 0)
		*offset_s = -4 * 3600;
	else if (strcmp(zone, "UTC") == 0)
		*offset_s = 0;
	else
		return FL_ENOENT;
	return 0;
}

static const struct fl_tz_ops fake_tz_ops = {fake_tz, NULL};

/* activate: window: the offer carries the plan's window in the device's
 * own local time, and the trial's health limits. */
static void test_runner__offer_carries_the_window_in_device_time(void **state)
{
	static const char yaml[] =
		"rollout: nightly\n"
		"artifact: {version: 2.4.0, file: t.bin, hardware: "
		"[thermo-v3]}\n"
		"device: {activate: window}\n"
		"health:\n"
		"  soak: 10m\n"
		"  metrics: [{name: crash_count, max: 0}, {name: heap_free_kib,"
		" min: 20}]\n"
		"windows:\n"
		"  - {days: [fri-sat], from: \"22:00\", to: \"02:00\","
		" tz: America/New_York}\n"
		"stages: [{percent: 100}]\n";
	struct fl_runner_error err;
	struct rig g;
	unsigned seen = 0;

	(void)state;
	rig_init(&g);
	g.tz = &fake_tz_ops;
	rig_close(&g);
	rig_open(&g);
	snprintf(g.w->new_version, sizeof(g.w->new_version), "2.4.0");
	snprintf(agent_add(g.w, "paris", "thermo-v3", "eu", "firmware", "2.3.0")
			 ->tz,
		 48, "Europe/Paris");
	g.w->n_out = 0; /* report again, with the zone */
	push_presence(g.w, &g.w->a[0], true);
	push_reported(g.w, &g.w->a[0]);
	agent_add(g.w, "utc", "thermo-v3", "us", "firmware", "2.3.0");
	feed_out(&g);
	tick(&g);
	assert_int_equal(start_text(&g, yaml, "thermostat-2.4.0.bin", &err), 0);
	g.w->send_fail = 1; /* the first send fails: sent at the next tick */
	step(&g);
	assert_int_equal(g.w->n_sent, 1);
	step(&g);
	assert_int_equal(g.w->n_sent, 2);
	for (size_t i = 0; i < g.w->n_sent; i++) {
		const struct fl_cmd *c = &g.w->sent[i].cmd;
		bool paris = strcmp(g.w->sent[i].device, "paris") == 0;

		/* Friday 22:00-02:00 in New York (UTC-4) is 04:00-08:00 in
		 * Paris (UTC+2), 02:00-06:00 in UTC */
		assert_int_equal(c->activate, FL_ACTIVATE_WINDOW);
		assert_int_equal(c->window_start_min, paris ? 240 : 120);
		assert_int_equal(c->window_end_min, paris ? 480 : 360);
		assert_int_equal(c->health_window_s, 600);
		assert_int_equal(c->n_limits, 2);
		assert_string_equal(c->limits[0].metric, "crash_count");
		assert_true(c->limits[0].has_max && !c->limits[0].has_min);
		assert_true(c->limits[1].has_min && c->limits[1].min == 20);
		assert_int_equal(c->expires, c->issued + 86400);
		seen++;
	}
	assert_int_equal(seen, 2);
	rig_free(&g);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_runner__good_version_through_waves_to_complete),
		cmocka_unit_test(test_runner__bad_version_caught_in_the_canary),
		cmocka_unit_test(test_runner__bad_version_in_a_later_wave),
		cmocka_unit_test(test_runner__hold_lifted_by_approval),
		cmocka_unit_test(test_runner__stage_waits_for_its_approval),
		cmocka_unit_test(test_runner__four_eyes_refuses_the_starter),
		cmocka_unit_test(test_runner__pause_and_resume),
		cmocka_unit_test(
			test_runner__duplicate_reordered_and_stale_reports),
		cmocka_unit_test(
			test_runner__restart_after_every_tick_changes_nothing),
		cmocka_unit_test(
			test_runner__failed_store_step_sends_nothing_unrecorded),
		cmocka_unit_test(
			test_runner__a_log_that_does_not_replay_is_refused),
		cmocka_unit_test(
			test_runner__start_refusals_and_operator_rollback),
		cmocka_unit_test(
			test_runner__busy_devices_wait_and_silence_is_resent),
		cmocka_unit_test(
			test_runner__rollback_without_an_image_is_refused),
		cmocka_unit_test(
			test_runner__rollback_resent_after_slots_moved),
		cmocka_unit_test(
			test_runner__rollback_manifest_survives_a_restart),
		cmocka_unit_test(
			test_runner__held_rollback_not_resent_on_reconnect),
		cmocka_unit_test(
			test_runner__held_rollback_not_resent_after_restart),
		cmocka_unit_test(
			test_runner__unanswered_rollback_resent_on_reconnect),
		cmocka_unit_test(
			test_runner__retry_later_rollback_resent_on_reconnect),
		cmocka_unit_test(
			test_runner__offer_carries_the_window_in_device_time),
		cmocka_unit_test(
			test_runner__late_joiners_are_placed_in_later_stages),
		cmocka_unit_test(test_runner__cancel_stops_the_offers),
		cmocka_unit_test(test_runner__rate_limit_is_a_wait),
	};
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: %s PLANS_DIR\n", argv[0]);
		return 2;
	}
	plans_dir = argv[1];
	if (argc > 2)
		cmocka_set_test_filter(argv[2]); /* one test, by name */
	key_make();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	EVP_PKEY_free(pkey);
	if (getenv("TEST_RUNNER_KEEP") == NULL) {
		for (unsigned i = 0; i < n_made; i++) {
			char p[128];

			snprintf(p, sizeof(p), "%s/fleetd.db", made[i]);
			rm_db(p);
			snprintf(p, sizeof(p), "%s/snap.db", made[i]);
			unlink(p);
			rmdir(made[i]);
		}
	}
	return rc;
}
