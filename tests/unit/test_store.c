/*
 * test_store.c -- fleetd's store (fl/store.h) over its SQLite backend, on
 * real database files in a temporary folder: every query and write, the
 * protocol's ordering rules the store applies (presence, job statuses),
 * transactions and batched reports, job ids and event sequence numbers
 * across reopening, migrations (from an empty database, from version 1
 * with data, refusal of a newer one), refusal of files that are not a
 * store (left byte for byte as they were), a locked database, argument
 * checks, and a sweep that fails every database step of each write in
 * turn and checks that nothing of it was written and the store goes on.
 *
 * The database is also read directly with SQLite where the API has no
 * view (pragmas, the append-only guard).
 */
#include <errno.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fl/err.h"
#include "fl/store.h"

#define T0     1767225600LL
#define SHA_A  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA_P  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ROLL   "thermo-2.4.0"
#define PLAN   "rollout: thermo-2.4.0\nstages:\n  - count: 1\n"
#define STAGES 2

static char dir[256];
static char db_path[300];
static unsigned test_no;

/* ---- fixture --------------------------------------------------------------
 */

static void remove_db(const char *path)
{
	char p[400];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/test_store.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

/* Each test gets a new path (and an open store in *state when it asks). */
static int setup_path(void **state)
{
	snprintf(db_path, sizeof(db_path), "%s/s%u.db", dir, ++test_no);
	*state = NULL;
	return 0;
}

static int teardown_path(void **state)
{
	struct fl_store *st = *state;

	if (st != NULL) {
		fl_store_close(st);
		free(st);
	}
	remove_db(db_path);
	return 0;
}

static struct fl_store *open_ok(const char *path)
{
	struct fl_store *st = calloc(1, sizeof(*st));
	int rc;

	assert_non_null(st);
	rc = fl_store_open_sqlite(st, path, NULL);
	if (rc != 0)
		fail_msg("open: %d %s", rc, st->errmsg);
	return st;
}

static int setup_open(void **state)
{
	setup_path(state);
	*state = open_ok(db_path);
	return 0;
}

/* Creates a store at path and closes it. */
static void create_store(const char *path)
{
	struct fl_store *st = open_ok(path);

	fl_store_close(st);
	free(st);
}

static void reopen(void **state)
{
	struct fl_store *st = *state;

	fl_store_close(st);
	free(st);
	*state = open_ok(db_path);
}

#define OK(st, call)                                                           \
	do {                                                                   \
		int rc_ = (call);                                              \
		if (rc_ != 0)                                                  \
			fail_msg("%s: %d %s", #call, rc_,                      \
				 fl_store_errmsg(st));                         \
	} while (0)

/* ---- direct SQLite access -------------------------------------------------
 */

static int64_t raw_int(const char *path, const char *q)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -999;

	assert_int_equal(
		sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static const char *raw_text(const char *path, const char *q)
{
	static char out[64];
	sqlite3 *db;
	sqlite3_stmt *s;

	out[0] = '\0';
	assert_int_equal(
		sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL)
		snprintf(out, sizeof(out), "%s",
			 (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return out;
}

/* Runs SQL on the file; returns SQLite's code. */
static int raw_exec(const char *path, const char *q)
{
	sqlite3 *db;
	int rc;

	assert_int_equal(
		sqlite3_open_v2(path, &db,
				SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
				NULL),
		SQLITE_OK);
	rc = sqlite3_exec(db, q, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static bool exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* ---- builders -------------------------------------------------------------
 */

static void copy(char *dst, size_t cap, const char *src)
{
	assert_true(strlen(src) < cap);
	memcpy(dst, src, strlen(src) + 1);
}

#define COPY(dst, src) copy((dst), sizeof(dst), (src))

static struct fl_store_report *report(int kind, const char *id, int64_t at)
{
	static struct fl_store_report r;

	memset(&r, 0, sizeof(r));
	r.kind = (uint8_t)kind;
	COPY(r.device, id);
	r.at_s = at;
	return &r;
}

/* An inventory report: model, version of "firmware", labels "k=v,...". */
static struct fl_store_report *inventory(const char *id, int64_t at,
					 const char *model, const char *version,
					 const char *labels)
{
	struct fl_store_report *r = report(FL_STORE_REPORT_INVENTORY, id, at);
	struct fl_store_inventory *inv = &r->u.inventory;
	char buf[256];
	char *save = NULL;

	COPY(inv->model, model);
	COPY(inv->tz, "Europe/Paris");
	COPY(inv->agent, "0.1.0");
	inv->boot = 17;
	inv->n_components = 2;
	COPY(inv->components[0].name, "firmware");
	COPY(inv->components[0].version, version);
	COPY(inv->components[1].name, "modem");
	COPY(inv->components[1].version, "5.1");
	inv->n_slots = 2;
	inv->slots[0].state = 4;
	COPY(inv->slots[0].version, version);
	inv->slots[0].seq = 41;
	inv->booted = 0;
	inv->floor = 41;
	inv->job = 7;
	inv->job_state = 0;
	inv->job_result = 1;
	snprintf(inv->json, sizeof(inv->json),
		 "{\"model\":\"%s\",\"v\":\"%s\",\"labels\":\"%s\"}", model,
		 version, labels);
	COPY(buf, labels);
	for (char *kv = strtok_r(buf, ",", &save); kv != NULL;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		struct fl_store_label *l = &inv->labels[inv->n_labels++];

		assert_non_null(eq);
		*eq = '\0';
		COPY(l->key, kv);
		COPY(l->value, eq + 1);
	}
	return r;
}

static struct fl_store_report *presence(const char *id, int64_t at,
					bool is_online, uint32_t boot,
					uint32_t conn)
{
	struct fl_store_report *r = report(FL_STORE_REPORT_PRESENCE, id, at);

	r->u.presence.is_online = is_online;
	r->u.presence.boot = boot;
	r->u.presence.conn = conn;
	return r;
}

static struct fl_store_report *status(const char *id, int64_t at, uint32_t job,
				      uint32_t boot, uint32_t n, uint8_t phase,
				      uint8_t result, bool is_final)
{
	struct fl_store_report *r = report(FL_STORE_REPORT_STATUS, id, at);
	struct fl_store_job_status *s = &r->u.status;

	s->job = job;
	s->boot = boot;
	s->n = n;
	s->phase = phase;
	s->result = result;
	s->is_final = is_final;
	COPY(s->reason, is_final ? "" : "window");
	s->bytes = n * 100;
	s->total = 1000;
	COPY(s->version, "2.4.0");
	return r;
}

static void put_device(struct fl_store *st, const char *id, const char *model,
		       const char *labels, int64_t at)
{
	OK(st, fl_store_report_write(
		       st, inventory(id, at, model, "2.3.0", labels), NULL));
}

static void put_artifact(struct fl_store *st, const char *sha)
{
	struct fl_store_artifact a = {0};

	COPY(a.sha256, sha);
	COPY(a.path, "/var/lib/fleetd/artifacts/thermo-2.4.0.bin");
	a.length = 65536;
	COPY(a.manifest, "{\"v\":1,\"kid\":\"9df78671417208b1\"}");
	a.created_at_s = T0;
	OK(st, fl_store_artifact_put(st, &a));
}

static struct fl_store_rollout *rollout_def(const char *name)
{
	static struct fl_store_rollout r;

	memset(&r, 0, sizeof(r));
	COPY(r.name, name);
	COPY(r.plan_sha256, SHA_P);
	COPY(r.artifact_sha256, SHA_A);
	COPY(r.component, "firmware");
	COPY(r.version, "2.4.0");
	r.created_at_s = T0;
	r.n_stages = STAGES;
	COPY(r.stages[0].name, "canary");
	COPY(r.stages[1].name, "everyone");
	return &r;
}

static void put_rollout(struct fl_store *st, const char *name)
{
	OK(st,
	   fl_store_rollout_create(st, rollout_def(name), PLAN, strlen(PLAN)));
}

static struct fl_store_member *member(const char *rollout, const char *dev,
				      uint16_t stage, uint8_t status)
{
	static struct fl_store_member m;

	memset(&m, 0, sizeof(m));
	COPY(m.rollout, rollout);
	COPY(m.device, dev);
	m.stage = stage;
	m.status = status;
	m.offered_at_s = FL_STORE_NONE;
	m.committed_at_s = FL_STORE_NONE;
	m.updated_at_s = T0;
	return &m;
}

static struct fl_store_event *event(int type, int kind, const char *rollout,
				    const char *dev, const char *payload)
{
	static struct fl_store_event e;

	memset(&e, 0, sizeof(e));
	e.type = (uint8_t)type;
	e.kind = (uint16_t)kind;
	e.at_s = T0;
	COPY(e.rollout, rollout);
	COPY(e.device, dev);
	COPY(e.payload, payload);
	return &e;
}

/* ---- walk collectors --------------------------------------------------------
 */

#define MAX_SEEN 64

struct seen {
	unsigned n;
	int stop_at; /* stop (return 7) after this many; 0 never */
	char ids[MAX_SEEN][FL_STORE_ID_MAX];
	uint64_t keys[MAX_SEEN];
	struct fl_store_member members[8];
	struct fl_store_event events[8];
};

static int stop_or_go(struct seen *s)
{
	s->n++;
	return s->stop_at != 0 && (int)s->n == s->stop_at ? 7 : 0;
}

static int on_device(void *ctx, const struct fl_store_device *d)
{
	struct seen *s = ctx;

	assert_true(s->n < MAX_SEEN);
	COPY(s->ids[s->n], d->id);
	return stop_or_go(s);
}

static int on_rollout(void *ctx, const struct fl_store_rollout *r)
{
	struct seen *s = ctx;

	assert_true(s->n < MAX_SEEN);
	COPY(s->ids[s->n], r->name);
	s->keys[s->n] = r->id;
	assert_int_equal(r->n_stages, STAGES);
	assert_string_equal(r->stages[1].name, "everyone");
	return stop_or_go(s);
}

static int on_member(void *ctx, const struct fl_store_member *m)
{
	struct seen *s = ctx;

	assert_true(s->n < MAX_SEEN);
	COPY(s->ids[s->n], m->device);
	if (s->n < 8)
		s->members[s->n] = *m;
	return stop_or_go(s);
}

static int on_approval(void *ctx, const struct fl_store_approval *a)
{
	struct seen *s = ctx;

	assert_true(s->n < MAX_SEEN);
	COPY(s->ids[s->n], a->what);
	s->keys[s->n] = a->id;
	return stop_or_go(s);
}

static int on_job(void *ctx, const struct fl_store_job *j)
{
	struct seen *s = ctx;

	assert_true(s->n < MAX_SEEN);
	COPY(s->ids[s->n], j->rollout);
	s->keys[s->n] = j->job;
	return stop_or_go(s);
}

static int on_event(void *ctx, const struct fl_store_event *e)
{
	struct seen *s = ctx;

	assert_true(s->n < MAX_SEEN);
	s->keys[s->n] = e->seq;
	if (s->n < 8)
		s->events[s->n] = *e;
	return stop_or_go(s);
}

static uint64_t last_seq(struct fl_store *st)
{
	uint64_t seq = 99;

	OK(st, fl_store_event_last(st, &seq));
	return seq;
}

/* ---- opening, migrations, refusals ------------------------------------------
 */

static void test_store__new_file_is_wal_at_latest_schema(void **state)
{
	struct fl_store *st = *state;
	unsigned v = 0;
	uint32_t next = 0;

	OK(st, fl_store_schema_version(st, &v));
	assert_int_equal(v, FL_STORE_SQLITE_SCHEMA);
	assert_string_equal(fl_store_backend(st), "sqlite");
	assert_string_equal(raw_text(db_path, "PRAGMA journal_mode"), "wal");
	assert_int_equal(raw_int(db_path, "PRAGMA application_id"), 0x464C5444);
	OK(st, fl_store_job_ids_peek(st, &next));
	assert_int_equal(next, 1);
	assert_int_equal(last_seq(st), 0);
	OK(st, fl_store_check(st));
}

static void test_store__migrates_an_empty_database_from_version_0(void **state)
{
	unsigned v = 0;

	/* a valid SQLite file with nothing in it: version 0 */
	assert_int_equal(raw_exec(db_path, "CREATE TABLE x (a); DROP TABLE x;"),
			 SQLITE_OK);
	assert_int_equal(raw_int(db_path, "PRAGMA user_version"), 0);
	*state = open_ok(db_path);
	OK(*state, fl_store_schema_version(*state, &v));
	assert_int_equal(v, FL_STORE_SQLITE_SCHEMA);
	assert_int_equal(raw_int(db_path, "SELECT count(*) FROM sqlite_schema "
					  "WHERE name = 'events_rollout'"),
			 1);
	OK(*state, fl_store_check(*state));
}

static void test_store__migrates_version_1_keeping_its_data(void **state)
{
	struct fl_store st1;
	struct fl_store_sqlite_options opt = {.migrate_to = 1};
	struct fl_store_device d;
	struct seen seen = {0};
	unsigned v = 0;

	assert_int_equal(fl_store_open_sqlite(&st1, db_path, &opt), 0);
	OK(&st1, fl_store_schema_version(&st1, &v));
	assert_int_equal(v, 1);
	fl_store_close(&st1);
	assert_int_equal(raw_int(db_path, "PRAGMA user_version"), 1);
	assert_int_equal(raw_int(db_path, "SELECT count(*) FROM sqlite_schema "
					  "WHERE type = 'index' AND name = "
					  "'events_rollout'"),
			 0);
	/* data written by a version-1 fleetd */
	assert_int_equal(
		raw_exec(db_path,
			 "INSERT INTO devices (id, model, first_seen, "
			 "last_seen) VALUES ('old-1', 'm1', 5, 6);"
			 "INSERT INTO events (at, type, kind, payload) "
			 "VALUES (5, 1, 13, '{}');"
			 "DELETE FROM events WHERE seq = 99;"),
		SQLITE_OK);

	*state = open_ok(db_path);
	OK(*state, fl_store_schema_version(*state, &v));
	assert_int_equal(v, FL_STORE_SQLITE_SCHEMA);
	OK(*state, fl_store_device_get(*state, "old-1", &d));
	assert_string_equal(d.model, "m1");
	assert_int_equal(d.first_seen_s, 5);
	OK(*state, fl_store_events_after(*state, NULL, 0, 10, on_event, &seen));
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.keys[0], 1);
	/* version 2's guard: the log is append-only now */
	assert_int_not_equal(raw_exec(db_path, "DELETE FROM events"),
			     SQLITE_OK);
	assert_int_not_equal(raw_exec(db_path, "UPDATE events SET at = 0"),
			     SQLITE_OK);
	assert_int_equal(last_seq(*state), 1);
}

static void test_store__refuses_a_newer_schema_untouched(void **state)
{
	struct fl_store st;
	uint8_t *before, *after;
	size_t n1, n2;

	create_store(db_path);
	assert_int_equal(raw_exec(db_path, "PRAGMA user_version = 99"),
			 SQLITE_OK);
	before = read_all(db_path, &n1);
	assert_int_equal(fl_store_open_sqlite(&st, db_path, NULL), FL_ENOTSUP);
	assert_non_null(strstr(fl_store_errmsg(&st), "newer"));
	assert_non_null(strstr(fl_store_errmsg(&st), "99"));
	after = read_all(db_path, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	assert_int_equal(raw_int(db_path, "PRAGMA user_version"), 99);
	free(before);
	free(after);
	(void)state;
}

static void test_store__refuses_a_file_that_is_not_a_database(void **state)
{
	static const char text[] = "plan: not a database\n"
				   "0123456789012345678901234567890123456789"
				   "0123456789012345678901234567890123456789"
				   "0123456789\n";
	struct fl_store st;
	char wal[400];
	uint8_t *after;
	size_t n;
	FILE *f = fopen(db_path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, sizeof(text) - 1, f),
			 sizeof(text) - 1);
	fclose(f);
	assert_int_equal(fl_store_open_sqlite(&st, db_path, NULL), FL_ECORRUPT);
	assert_non_null(strstr(fl_store_errmsg(&st), "not an SQLite"));
	after = read_all(db_path, &n);
	assert_int_equal(n, sizeof(text) - 1);
	assert_memory_equal(after, text, n);
	snprintf(wal, sizeof(wal), "%s-wal", db_path);
	assert_false(exists(wal));
	free(after);

	/* a short file too */
	f = fopen(db_path, "wb");
	assert_non_null(f);
	fputs("SQLite format 3", f);
	fclose(f);
	assert_int_equal(fl_store_open_sqlite(&st, db_path, NULL), FL_ECORRUPT);
	(void)state;
}

static void test_store__refuses_another_applications_database(void **state)
{
	struct fl_store st;
	uint8_t *before, *after;
	size_t n1, n2;

	assert_int_equal(raw_exec(db_path, "CREATE TABLE notes (t TEXT);"
					   "INSERT INTO notes VALUES ('x');"),
			 SQLITE_OK);
	before = read_all(db_path, &n1);
	assert_int_equal(fl_store_open_sqlite(&st, db_path, NULL), FL_ECORRUPT);
	assert_non_null(strstr(fl_store_errmsg(&st), "not a fleetd store"));
	after = read_all(db_path, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	free(before);
	free(after);
	(void)state;
}

static void test_store__refuses_a_damaged_database_untouched(void **state)
{
	struct fl_store st;
	uint8_t *before, *after;
	size_t n1, n2;
	FILE *f;

	create_store(db_path);
	before = read_all(db_path, &n1);
	assert_true(n1 > 4096);
	/* garbage over the schema table's page (page 1 after the header) */
	for (size_t i = 100; i < 4096; i++)
		before[i] = (uint8_t)(i * 7 + 3);
	f = fopen(db_path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(before, 1, n1, f), n1);
	fclose(f);
	assert_int_equal(fl_store_open_sqlite(&st, db_path, NULL), FL_ECORRUPT);
	assert_non_null(strstr(fl_store_errmsg(&st), "damaged"));
	after = read_all(db_path, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	free(before);
	free(after);
	(void)state;
}

static void test_store__refuses_bad_paths(void **state)
{
	struct fl_store st;
	char sub[400];

	assert_int_equal(fl_store_open_sqlite(&st, dir, NULL), FL_EINVAL);
	assert_non_null(strstr(fl_store_errmsg(&st), "not a regular file"));
	assert_int_equal(fl_store_open_sqlite(&st, "", NULL), FL_EINVAL);
	assert_int_equal(fl_store_open_sqlite(&st, NULL, NULL), FL_EINVAL);
	assert_int_equal(fl_store_open_sqlite(NULL, db_path, NULL), FL_EINVAL);
	snprintf(sub, sizeof(sub), "%s/no/such/dir/s.db", dir);
	assert_int_equal(fl_store_open_sqlite(&st, sub, NULL), FL_EIO);
	assert_non_null(strstr(fl_store_errmsg(&st), sub));
	/* a closed store refuses everything, safely */
	assert_int_equal(fl_store_begin(&st), FL_EINVAL);
	fl_store_close(&st);
	fl_store_close(NULL);
	assert_string_equal(fl_store_errmsg(NULL), "no store");
	(void)state;
}

static void test_store__locked_database_is_busy(void **state)
{
	struct fl_store st;
	struct fl_store_sqlite_options opt = {.busy_timeout_ms = 50};
	sqlite3 *other;

	create_store(db_path);
	assert_int_equal(fl_store_open_sqlite(&st, db_path, &opt), 0);
	assert_int_equal(sqlite3_open(db_path, &other), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL),
		SQLITE_OK);
	assert_int_equal(fl_store_setting_set(&st, "k", "v"), FL_EBUSY);
	assert_int_equal(fl_store_begin(&st), FL_EBUSY);
	assert_int_equal(
		fl_store_report_write(&st, presence("d", T0, true, 1, 1), NULL),
		FL_EBUSY);
	assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(other);
	OK(&st, fl_store_setting_set(&st, "k", "v"));
	fl_store_close(&st);
	(void)state;
}

/* ---- settings --------------------------------------------------------------
 */

static void test_store__settings_roundtrip(void **state)
{
	struct fl_store *st = *state;
	char buf[64], small[3];

	assert_int_equal(
		fl_store_setting_get(st, "signing_key", buf, sizeof(buf)),
		FL_ENOENT);
	assert_non_null(strstr(fl_store_errmsg(st), "signing_key"));
	OK(st, fl_store_setting_set(st, "signing_key", "/etc/fleetd/k.pem"));
	OK(st, fl_store_setting_get(st, "signing_key", buf, sizeof(buf)));
	assert_string_equal(buf, "/etc/fleetd/k.pem");
	OK(st, fl_store_setting_set(st, "signing_key", "/k2"));
	OK(st, fl_store_setting_get(st, "signing_key", buf, sizeof(buf)));
	assert_string_equal(buf, "/k2");
	assert_int_equal(
		fl_store_setting_get(st, "signing_key", small, sizeof(small)),
		FL_ETOOBIG);
	assert_int_equal(fl_store_setting_set(st, "", "x"), FL_EINVAL);
	assert_int_equal(fl_store_setting_set(st, "k", "a\nb"), FL_EINVAL);
	assert_int_equal(fl_store_setting_set(st, "k", NULL), FL_EINVAL);
	reopen(state);
	st = *state;
	OK(st, fl_store_setting_get(st, "signing_key", buf, sizeof(buf)));
	assert_string_equal(buf, "/k2");
}

/* ---- devices ---------------------------------------------------------------
 */

static void
test_store__inventory_report_replaces_what_the_device_said(void **state)
{
	struct fl_store *st = *state;
	struct fl_store_device d;
	uint64_t seq = 0;
	struct fl_store_report *r;

	r = inventory("gw-1", T0, "acme-gw-2", "1.4.2", "site=lyon,ring=beta");
	r->event.type = FL_STORE_EV_INPUT;
	COPY(r->event.payload, "{\"model\":\"acme-gw-2\"}");
	OK(st, fl_store_report_write(st, r, &seq));
	assert_int_equal(seq, 1);
	OK(st, fl_store_device_get(st, "gw-1", &d));
	assert_string_equal(d.id, "gw-1");
	assert_string_equal(d.model, "acme-gw-2");
	assert_string_equal(d.tz, "Europe/Paris");
	assert_string_equal(d.agent, "0.1.0");
	assert_int_equal(d.first_seen_s, T0);
	assert_int_equal(d.last_seen_s, T0);
	assert_int_equal(d.reported_at_s, T0);
	assert_int_equal(d.boot, 17);
	assert_int_equal(d.floor, 41);
	assert_int_equal(d.job, 7);
	assert_int_equal(d.job_result, 1);
	assert_false(d.is_online);
	assert_int_equal(d.n_labels, 2);
	assert_string_equal(d.labels[0].key, "ring"); /* by key */
	assert_string_equal(d.labels[1].value, "lyon");
	assert_false(d.labels[0].is_server);
	assert_int_equal(d.n_components, 2);
	assert_string_equal(d.components[0].name, "firmware");
	assert_string_equal(d.components[0].version, "1.4.2");
	assert_int_equal(d.n_slots, 2);
	assert_int_equal(d.slots[0].state, 4);
	assert_int_equal(d.slots[0].seq, 41);
	assert_string_equal(d.slots[1].version, "");
	assert_string_equal(d.reported, "{\"model\":\"acme-gw-2\",\"v\":"
					"\"1.4.2\",\"labels\":\"site=lyon,"
					"ring=beta\"}");

	/* the next report replaces labels, components and slots */
	r = inventory("gw-1", T0 + 60, "acme-gw-2", "1.5.0", "site=paris");
	r->u.inventory.n_slots = 0;
	r->u.inventory.n_components = 1;
	OK(st, fl_store_report_write(st, r, NULL));
	OK(st, fl_store_device_get(st, "gw-1", &d));
	assert_int_equal(d.first_seen_s, T0);
	assert_int_equal(d.last_seen_s, T0 + 60);
	assert_int_equal(d.n_labels, 1);
	assert_string_equal(d.labels[0].value, "paris");
	assert_int_equal(d.n_components, 1);
	assert_string_equal(d.components[0].version, "1.5.0");
	assert_int_equal(d.n_slots, 0);
	/* the same message again (a reconnect): only its time is new */
	r = inventory("gw-1", T0 + 90, "acme-gw-2", "1.5.0", "site=paris");
	r->u.inventory.n_slots = 0;
	r->u.inventory.n_components = 1;
	OK(st, fl_store_report_write(st, r, NULL));
	OK(st, fl_store_device_get(st, "gw-1", &d));
	assert_int_equal(d.reported_at_s, T0 + 90);
	assert_int_equal(d.last_seen_s, T0 + 90);
	assert_int_equal(d.n_labels, 1);
	assert_int_equal(d.n_components, 1);
	/* an older report's time does not move last seen back */
	OK(st, fl_store_report_write(
		       st, report(FL_STORE_REPORT_SEEN, "gw-1", T0 + 1), NULL));
	OK(st, fl_store_device_get(st, "gw-1", &d));
	assert_int_equal(d.last_seen_s, T0 + 90);
	assert_int_equal(fl_store_device_get(st, "gw-2", &d), FL_ENOENT);
	assert_non_null(strstr(fl_store_errmsg(st), "gw-2"));
}

static void test_store__presence_keeps_the_newest_connection(void **state)
{
	struct fl_store *st = *state;
	struct fl_store_device d;
	struct fl_store_report *r;

	OK(st, fl_store_report_write(st, presence("p", T0, true, 5, 2), NULL));
	OK(st, fl_store_device_get(st, "p", &d));
	assert_true(d.is_online);
	assert_int_equal(d.presence_boot, 5);
	assert_int_equal(d.presence_conn, 2);
	assert_string_equal(d.model, "");
	assert_int_equal(d.reported_at_s, FL_STORE_NONE);
	/* a late Will of an older connection is ignored */
	OK(st,
	   fl_store_report_write(st, presence("p", T0 + 1, false, 5, 1), NULL));
	OK(st, fl_store_device_get(st, "p", &d));
	assert_true(d.is_online);
	assert_int_equal(d.last_seen_s, T0 + 1);
	/* the Will of the same connection wins */
	OK(st,
	   fl_store_report_write(st, presence("p", T0 + 2, false, 5, 2), NULL));
	OK(st, fl_store_device_get(st, "p", &d));
	assert_false(d.is_online);
	/* a new boot */
	OK(st,
	   fl_store_report_write(st, presence("p", T0 + 3, true, 6, 1), NULL));
	OK(st, fl_store_device_get(st, "p", &d));
	assert_true(d.is_online);
	assert_int_equal(d.presence_boot, 6);
	/* a status or health of an unknown device creates nothing */
	OK(st, fl_store_report_write(
		       st, report(FL_STORE_REPORT_SEEN, "ghost", T0), NULL));
	OK(st, fl_store_report_write(
		       st, status("ghost", T0, 5, 1, 1, 1, 0, false), NULL));
	assert_int_equal(fl_store_device_get(st, "ghost", &d), FL_ENOENT);

	/* the last health report is kept */
	assert_int_equal(d.health_at_s, FL_STORE_NONE);
	r = report(FL_STORE_REPORT_HEALTH, "p", T0 + 9);
	COPY(r->u.health.json, "{\"uptime_s\":60,\"boot\":6}");
	r->event.type = FL_STORE_EV_INPUT;
	r->event.kind = 12;
	COPY(r->event.payload, r->u.health.json);
	OK(st, fl_store_report_write(st, r, NULL));
	OK(st, fl_store_device_get(st, "p", &d));
	assert_int_equal(d.health_at_s, T0 + 9);
	assert_int_equal(d.last_seen_s, T0 + 9);
	assert_string_equal(d.health, "{\"uptime_s\":60,\"boot\":6}");
	assert_int_equal(last_seq(st), 1);
	assert_string_equal(d.rollout, "");
}

static void test_store__server_labels_win_and_are_bounded(void **state)
{
	struct fl_store *st = *state;
	struct fl_store_device d;
	struct fl_store_device_filter f = {.online = -1, .n_labels = 1};
	struct seen seen = {0};
	char key[16];

	put_device(st, "a", "m1", "ring=beta,site=lyon", T0);
	put_device(st, "b", "m1", "ring=stable", T0);
	OK(st, fl_store_label_set(st, "a", "ring", "stable"));
	OK(st, fl_store_device_get(st, "a", &d));
	assert_int_equal(d.n_labels, 3); /* device's two, then the server's */
	assert_true(d.labels[2].is_server);
	assert_string_equal(d.labels[2].key, "ring");
	assert_string_equal(d.labels[2].value, "stable");

	f.labels[0].key = "ring";
	f.labels[0].value = "stable";
	OK(st, fl_store_device_list(st, &f, NULL, 10, on_device, &seen));
	assert_int_equal(seen.n, 2);
	memset(&seen, 0, sizeof(seen));
	f.labels[0].value = "beta"; /* overridden on "a" */
	OK(st, fl_store_device_list(st, &f, NULL, 10, on_device, &seen));
	assert_int_equal(seen.n, 0);

	/* a new report does not touch server labels */
	put_device(st, "a", "m1", "ring=beta", T0 + 1);
	OK(st, fl_store_device_get(st, "a", &d));
	assert_int_equal(d.n_labels, 2);
	assert_true(d.labels[1].is_server);

	OK(st, fl_store_label_unset(st, "a", "ring"));
	OK(st, fl_store_label_unset(st, "a", "ring")); /* not set: fine */
	memset(&seen, 0, sizeof(seen));
	OK(st, fl_store_device_list(st, &f, NULL, 10, on_device, &seen));
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.ids[0], "a");

	for (unsigned i = 0; i < FL_STORE_SERVER_LABELS; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		OK(st, fl_store_label_set(st, "b", key, "v"));
	}
	assert_int_equal(fl_store_label_set(st, "b", "one-more", "v"),
			 FL_ETOOBIG);
	OK(st, fl_store_label_set(st, "b", "k3", "replaced"));
	assert_int_equal(fl_store_label_unset(st, "nobody", "k"), FL_ENOENT);
	/* a device may be labelled before it is ever seen */
	OK(st, fl_store_label_set(st, "later", "ring", "canary"));
	OK(st, fl_store_device_get(st, "later", &d));
	assert_int_equal(d.first_seen_s, FL_STORE_NONE);
	assert_int_equal(d.last_seen_s, FL_STORE_NONE);
	assert_int_equal(d.n_labels, 1);
	OK(st,
	   fl_store_report_write(
		   st, report(FL_STORE_REPORT_SEEN, "later", T0 + 5), NULL));
	OK(st, fl_store_device_get(st, "later", &d));
	assert_int_equal(d.first_seen_s, T0 + 5);
	assert_int_equal(d.last_seen_s, T0 + 5);
	OK(st, fl_store_label_set(st, "later2", "ring", "canary"));
	OK(st, fl_store_report_write(st, presence("later2", T0 + 6, true, 1, 1),
				     NULL));
	OK(st, fl_store_device_get(st, "later2", &d));
	assert_int_equal(d.first_seen_s, T0 + 6);
	assert_true(d.is_online);
	assert_int_equal(fl_store_label_set(st, "b", "", "v"), FL_EINVAL);
}

static void test_store__device_list_filters_and_pages_by_id(void **state)
{
	struct fl_store *st = *state;
	struct fl_store_device_filter f = {.online = -1};
	struct seen seen = {0};
	char id[16];

	for (unsigned i = 0; i < 12; i++) {
		snprintf(id, sizeof(id), "dev-%02u", 11 - i); /* any order */
		put_device(st, id, (11 - i) % 3 == 0 ? "m0" : "m1",
			   (11 - i) % 2 == 0 ? "region=eu,ring=a"
					     : "region=us,ring=a",
			   T0);
		if ((11 - i) % 4 == 0)
			OK(st, fl_store_report_write(
				       st, presence(id, T0, true, 1, 1), NULL));
	}
	/* pages of 5 by id */
	OK(st, fl_store_device_list(st, NULL, NULL, 5, on_device, &seen));
	assert_int_equal(seen.n, 5);
	assert_string_equal(seen.ids[0], "dev-00");
	assert_string_equal(seen.ids[4], "dev-04");
	OK(st,
	   fl_store_device_list(st, NULL, seen.ids[4], 5, on_device, &seen));
	OK(st,
	   fl_store_device_list(st, NULL, seen.ids[9], 5, on_device, &seen));
	assert_int_equal(seen.n, 12);
	assert_string_equal(seen.ids[11], "dev-11");

	memset(&seen, 0, sizeof(seen));
	f.model = "m0"; /* 0 3 6 9 */
	OK(st, fl_store_device_list(st, &f, NULL, 100, on_device, &seen));
	assert_int_equal(seen.n, 4);
	memset(&seen, 0, sizeof(seen));
	f.online = 1; /* 0 */
	OK(st, fl_store_device_list(st, &f, NULL, 100, on_device, &seen));
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.ids[0], "dev-00");
	memset(&seen, 0, sizeof(seen));
	f.model = NULL;
	f.online = 0;
	f.n_labels = 2;
	f.labels[0].key = "region";
	f.labels[0].value = "eu";
	f.labels[1].key = "ring";
	f.labels[1].value = "a"; /* even, offline: 2 6 10 */
	OK(st, fl_store_device_list(st, &f, NULL, 100, on_device, &seen));
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.ids[2], "dev-10");

	/* a callback's stop value comes back */
	memset(&seen, 0, sizeof(seen));
	seen.stop_at = 2;
	assert_int_equal(
		fl_store_device_list(st, NULL, NULL, 100, on_device, &seen), 7);
	assert_int_equal(seen.n, 2);

	assert_int_equal(
		fl_store_device_list(st, NULL, NULL, 0, on_device, &seen),
		FL_EINVAL);
	assert_int_equal(fl_store_device_list(st, NULL, NULL,
					      FL_STORE_PAGE_MAX + 1, on_device,
					      &seen),
			 FL_EINVAL);
	f.n_labels = FL_STORE_FILTER_LABELS + 1;
	assert_int_equal(
		fl_store_device_list(st, &f, NULL, 1, on_device, &seen),
		FL_EINVAL);
}

/* ---- artifacts and rollouts
 * ------------------------------------------------------ */

static void test_store__artifacts_by_digest(void **state)
{
	struct fl_store *st = *state;
	struct fl_store_artifact a = {0}, out;

	assert_int_equal(fl_store_artifact_get(st, SHA_A, &out), FL_ENOENT);
	put_artifact(st, SHA_A);
	OK(st, fl_store_artifact_get(st, SHA_A, &out));
	assert_string_equal(out.path,
			    "/var/lib/fleetd/artifacts/thermo-2.4.0.bin");
	assert_int_equal(out.length, 65536);
	assert_string_equal(out.manifest,
			    "{\"v\":1,\"kid\":\"9df78671417208b1\"}");
	assert_int_equal(out.created_at_s, T0);
	/* again: path and manifest replaced */
	a = out;
	COPY(a.path, "/new/place.bin");
	COPY(a.manifest, "{}");
	OK(st, fl_store_artifact_put(st, &a));
	OK(st, fl_store_artifact_get(st, SHA_A, &out));
	assert_string_equal(out.path, "/new/place.bin");
	assert_string_equal(out.manifest, "{}");
	a.length = 1;
	assert_int_equal(fl_store_artifact_put(st, &a), FL_ESTATE);
	COPY(a.sha256, "AAAAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		       "aaaaaaaaa");
	assert_int_equal(fl_store_artifact_put(st, &a), FL_EINVAL);
	assert_int_equal(fl_store_artifact_get(st, "abc", &out), FL_EINVAL);
}

static void test_store__rollout_lifecycle(void **state)
{
	struct fl_store *st = *state;
	struct fl_store_rollout r;
	char plan[256], tiny[8];
	size_t len = 0;

	assert_int_equal(fl_store_rollout_create(st, rollout_def(ROLL), PLAN,
						 strlen(PLAN)),
			 FL_ENOENT); /* artifact not stored */
	assert_non_null(strstr(fl_store_errmsg(st), SHA_A));
	put_artifact(st, SHA_A);
	put_rollout(st, ROLL);
	assert_int_equal(fl_store_rollout_create(st, rollout_def(ROLL), PLAN,
						 strlen(PLAN)),
			 FL_EBUSY);
	assert_non_null(strstr(fl_store_errmsg(st), "exists"));

	OK(st, fl_store_rollout_get(st, ROLL, &r));
	assert_int_equal(r.id, 1);
	assert_string_equal(r.plan_sha256, SHA_P);
	assert_string_equal(r.artifact_sha256, SHA_A);
	assert_string_equal(r.component, "firmware");
	assert_string_equal(r.version, "2.4.0");
	assert_int_equal(r.state, 0);
	assert_false(r.is_paused);
	assert_int_equal(r.created_at_s, T0);
	assert_int_equal(r.started_at_s, FL_STORE_NONE);
	assert_int_equal(r.ended_at_s, FL_STORE_NONE);
	assert_int_equal(r.n_stages, 2);
	assert_string_equal(r.stages[0].name, "canary");
	assert_int_equal(r.stages[0].state, 0);
	assert_int_equal(r.stages[0].started_at_s, FL_STORE_NONE);
	assert_int_equal(r.stages[0].members, 0);

	OK(st, fl_store_rollout_plan(st, ROLL, plan, sizeof(plan), &len));
	assert_int_equal(len, strlen(PLAN));
	assert_string_equal(plan, PLAN);
	assert_int_equal(
		fl_store_rollout_plan(st, ROLL, tiny, sizeof(tiny), &len),
		FL_ETOOBIG);
	assert_int_equal(len, strlen(PLAN));
	assert_int_equal(
		fl_store_rollout_plan(st, "nope", plan, sizeof(plan), &len),
		FL_ENOENT);

	OK(st, fl_store_rollout_start(st, ROLL, "alice", T0 + 10));
	assert_int_equal(fl_store_rollout_start(st, ROLL, "bob", T0 + 11),
			 FL_ESTATE);
	assert_int_equal(fl_store_rollout_start(st, "nope", "bob", T0),
			 FL_ENOENT);
	OK(st,
	   fl_store_stage_set(st, ROLL, 0, 2, false, T0 + 10, FL_STORE_NONE));
	OK(st, fl_store_rollout_set_state(st, ROLL, 0, true, false, T0 + 20));
	OK(st, fl_store_rollout_get(st, ROLL, &r));
	assert_int_equal(r.started_at_s, T0 + 10);
	assert_string_equal(r.started_by, "alice");
	assert_true(r.is_paused);
	assert_int_equal(r.stages[0].state, 2);
	assert_int_equal(r.stages[0].started_at_s, T0 + 10);
	OK(st, fl_store_rollout_set_state(st, ROLL, 3, false, true, T0 + 30));
	OK(st, fl_store_rollout_set_state(st, ROLL, 3, false, true, T0 + 40));
	OK(st, fl_store_rollout_get(st, ROLL, &r));
	assert_int_equal(r.state, 3);
	assert_int_equal(r.ended_at_s, T0 + 30); /* the first end stays */
	OK(st, fl_store_stage_set(st, ROLL, 1, 4, true, T0, T0 + 5));
	OK(st, fl_store_rollout_get(st, ROLL, &r));
	assert_true(r.stages[1].is_overridden);
	assert_int_equal(r.stages[1].ended_at_s, T0 + 5);

	assert_int_equal(fl_store_stage_set(st, ROLL, 2, 0, false, -1, -1),
			 FL_ENOENT);
	assert_int_equal(fl_store_stage_set(st, ROLL, 99, 0, false, -1, -1),
			 FL_ENOENT);
	assert_int_equal(fl_store_rollout_set_state(st, "nope", 0, 0, 0, 0),
			 FL_ENOENT);
	assert_int_equal(fl_store_rollout_get(st, "nope", &r), FL_ENOENT);
	assert_int_equal(fl_store_rollout_create(st, rollout_def("big"), PLAN,
						 FL_STORE_PLAN_MAX + 1),
			 FL_ETOOBIG);
	assert_int_equal(
		fl_store_rollout_create(st, rollout_def("nul"), "a\0b", 3),
		FL_EINVAL);
}

static void test_store__rollout_list_pages_in_creation_order(void **state)
{
	struct fl_store *st = *state;
	struct seen seen = {0};

	put_artifact(st, SHA_A);
	put_rollout(st, "r-c");
	put_rollout(st, "r-a");
	put_rollout(st, "r-b");
	OK(st, fl_store_rollout_list(st, 0, 2, on_rollout, &seen));
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.ids[0], "r-c");
	assert_string_equal(seen.ids[1], "r-a");
	OK(st, fl_store_rollout_list(st, seen.keys[1], 2, on_rollout, &seen));
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.ids[2], "r-b");
}

/* ---- members and jobs
 * ------------------------------------------------------------ */

static void fleet_with_rollout(struct fl_store *st)
{
	put_artifact(st, SHA_A);
	put_rollout(st, ROLL);
	put_device(st, "d1", "m1", "ring=a", T0);
	put_device(st, "d2", "m1", "ring=a", T0);
	put_device(st, "d3", "m1", "ring=a", T0);
}

static void test_store__members_with_counts_per_stage_and_status(void **state)
{
	struct fl_store *st = *state;
	struct fl_store_rollout r;
	struct fl_store_device d;
	struct fl_store_member_filter f = {.stage = -1, .status = -1};
	struct seen seen = {0};
	uint64_t key_d2;

	fleet_with_rollout(st);
	OK(st, fl_store_member_set(st, member(ROLL, "d1", 0, 5)));
	OK(st, fl_store_member_set(st, member(ROLL, "d2", 1, 1)));
	OK(st, fl_store_member_set(st, member(ROLL, "d3", 1, 1)));
	OK(st, fl_store_device_get(st, "d1", &d));
	assert_string_equal(d.rollout, ROLL);
	assert_int_equal(d.rollout_status, 5);
	put_rollout(st, "later-rollout"); /* the newest membership shows */
	OK(st, fl_store_member_set(st, member("later-rollout", "d1", 0, 6)));
	OK(st, fl_store_device_get(st, "d1", &d));
	assert_string_equal(d.rollout, "later-rollout");
	assert_int_equal(d.rollout_status, 6);
	OK(st, fl_store_device_get(st, "d2", &d));
	assert_string_equal(d.rollout, ROLL);
	OK(st, fl_store_rollout_get(st, ROLL, &r));
	assert_int_equal(r.stages[0].members, 1);
	assert_int_equal(r.stages[0].count[5], 1);
	assert_int_equal(r.stages[1].members, 2);
	assert_int_equal(r.stages[1].count[1], 2);

	/* an update moves the device's counts */
	struct fl_store_member *m = member(ROLL, "d1", 0, 6);

	m->progress = 5;
	m->offered_at_s = T0 + 1;
	m->committed_at_s = T0 + 2;
	m->updated_at_s = T0 + 3;
	OK(st, fl_store_member_set(st, m));
	OK(st, fl_store_rollout_get(st, ROLL, &r));
	assert_int_equal(r.stages[0].count[5], 0);
	assert_int_equal(r.stages[0].count[6], 1);

	OK(st, fl_store_member_list(st, ROLL, &f, 0, 10, on_member, &seen));
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.ids[0], "d1");
	assert_int_equal(seen.members[0].status, 6);
	assert_int_equal(seen.members[0].progress, 5);
	assert_int_equal(seen.members[0].offered_at_s, T0 + 1);
	assert_int_equal(seen.members[0].committed_at_s, T0 + 2);
	assert_int_equal(seen.members[0].updated_at_s, T0 + 3);
	assert_int_equal(seen.members[0].job, 0);
	assert_int_equal(seen.members[0].phase, -1);
	assert_string_equal(seen.members[0].rollout, ROLL);
	key_d2 = seen.members[1].device_key;
	assert_true(seen.members[0].device_key < key_d2);
	assert_true(key_d2 < seen.members[2].device_key);

	/* pages by key */
	memset(&seen, 0, sizeof(seen));
	OK(st, fl_store_member_list(st, ROLL, &f, 0, 2, on_member, &seen));
	OK(st, fl_store_member_list(st, ROLL, &f, seen.members[1].device_key, 2,
				    on_member, &seen));
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.ids[2], "d3");

	memset(&seen, 0, sizeof(seen));
	f.stage = 1;
	OK(st,
	   fl_store_member_list(st, ROLL, &f, key_d2, 10, on_member, &seen));
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.ids[0], "d3");
	memset(&seen, 0, sizeof(seen));
	f.stage = -1;
	f.status = 6;
	OK(st, fl_store_member_list(st, ROLL, &f, 0, 10, on_member, &seen));
	assert_int_equal(seen.n, 1);

	assert_int_equal(fl_store_member_set(st, member(ROLL, "nobody", 0, 1)),
			 FL_ENOENT);
	assert_non_null(strstr(fl_store_errmsg(st), "nobody"));
	assert_int_equal(fl_store_member_set(st, member("nope", "d1", 0, 1)),
			 FL_ENOENT);
	assert_int_equal(fl_store_member_set(st, member(ROLL, "d1", 2, 1)),
			 FL_ENOENT); /* the rollout has 2 stages */
	assert_int_equal(
		fl_store_member_list(st, "nope", NULL, 0, 10, on_member, &seen),
		FL_ENOENT);
}

static void test_store__jobs_and_the_status_ordering_rules(void **state)
{
	struct fl_store *st = *state;
	struct fl_store_job j;
	struct seen seen = {0};
	uint32_t offer = 0, rb = 0, next = 0;

	fleet_with_rollout(st);
	OK(st, fl_store_member_set(st, member(ROLL, "d1", 0, 5)));
	assert_int_equal(fl_store_job_create(st, ROLL, "d2", FL_STORE_JOB_OFFER,
					     T0, T0 + 3600, &offer),
			 FL_ENOENT); /* not a member */
	OK(st, fl_store_job_ids_peek(st, &next));
	assert_int_equal(next, 1); /* the failed call took no id */
	OK(st, fl_store_job_create(st, ROLL, "d1", FL_STORE_JOB_OFFER, T0,
				   T0 + 3600, &offer));
	assert_int_equal(offer, 1);
	OK(st, fl_store_job_get(st, offer, &j));
	assert_string_equal(j.rollout, ROLL);
	assert_string_equal(j.device, "d1");
	assert_int_equal(j.type, FL_STORE_JOB_OFFER);
	assert_int_equal(j.issued_at_s, T0);
	assert_int_equal(j.expires_at_s, T0 + 3600);
	assert_int_equal(j.phase, -1);
	assert_false(j.is_final);

	/* statuses in (boot, n) order; older ones and other devices' are
	 * ignored; the first final result stays */
	OK(st,
	   fl_store_report_write(
		   st, status("d1", T0 + 1, offer, 3, 2, 1, 0, false), NULL));
	OK(st,
	   fl_store_report_write(
		   st, status("d1", T0 + 2, offer, 3, 1, 2, 0, false), NULL));
	OK(st,
	   fl_store_report_write(
		   st, status("d2", T0 + 2, offer, 9, 9, 5, 0, false), NULL));
	OK(st, fl_store_job_get(st, offer, &j));
	assert_int_equal(j.phase, 1);
	assert_int_equal(j.status_boot, 3);
	assert_int_equal(j.status_n, 2);
	assert_int_equal(j.bytes, 200);
	assert_string_equal(j.reason, "window");
	assert_int_equal(j.updated_at_s, T0 + 1);
	OK(st,
	   fl_store_report_write(
		   st, status("d1", T0 + 3, offer, 4, 1, 0, 34, true), NULL));
	OK(st,
	   fl_store_report_write(
		   st, status("d1", T0 + 4, offer, 5, 1, 0, 1, true), NULL));
	OK(st, fl_store_job_get(st, offer, &j));
	assert_true(j.is_final);
	assert_int_equal(j.result, 34);
	assert_int_equal(j.ended_at_s, T0 + 3);
	assert_string_equal(j.version, "2.4.0");

	OK(st, fl_store_job_create(st, ROLL, "d1", FL_STORE_JOB_ROLLBACK,
				   T0 + 5, T0 + 3605, &rb));
	assert_int_equal(rb, 2);
	OK(st, fl_store_report_write(
		       st, status("d1", T0 + 6, rb, 5, 2, 0, 35, true), NULL));
	OK(st, fl_store_member_list(st, ROLL, NULL, 0, 10, on_member, &seen));
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.members[0].job, offer);
	assert_int_equal(seen.members[0].rollback_job, rb);
	assert_int_equal(seen.members[0].phase, 0);
	assert_int_equal(seen.members[0].result, 34);
	assert_int_equal(seen.members[0].bytes, 100);
	assert_int_equal(seen.members[0].total, 1000);
	assert_string_equal(seen.members[0].version, "2.4.0");
	assert_int_equal(seen.members[0].rb_phase, 0);
	assert_int_equal(seen.members[0].rb_result, 35);

	/* a device's jobs, newest first */
	memset(&seen, 0, sizeof(seen));
	OK(st, fl_store_job_list(st, "d1", 0, 10, on_job, &seen));
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.keys[0], rb);
	assert_int_equal(seen.keys[1], offer);
	memset(&seen, 0, sizeof(seen));
	OK(st, fl_store_job_list(st, "d1", rb, 10, on_job, &seen));
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.keys[0], offer);
	memset(&seen, 0, sizeof(seen));
	OK(st, fl_store_job_list(st, "d2", 0, 10, on_job, &seen));
	assert_int_equal(seen.n, 0);
	assert_int_equal(fl_store_job_list(st, "nobody", 0, 10, on_job, &seen),
			 FL_ENOENT);

	assert_int_equal(fl_store_job_get(st, 77, &j), FL_ENOENT);
	assert_int_equal(fl_store_job_get(st, 0, &j), FL_EINVAL);
	assert_int_equal(fl_store_job_create(st, ROLL, "d1", 2, T0, T0, &rb),
			 FL_EINVAL);
	assert_int_equal(
		fl_store_job_create(st, ROLL, "d1", 1, T0, T0 - 1, &rb),
		FL_EINVAL);
}

static void test_store__job_ids_never_repeat_across_reopen(void **state)
{
	struct fl_store *st = *state;
	uint32_t ids[6], next = 0;

	fleet_with_rollout(st);
	OK(st, fl_store_member_set(st, member(ROLL, "d1", 0, 5)));
	OK(st, fl_store_job_create(st, ROLL, "d1", 1, T0, T0 + 1, &ids[0]));
	OK(st, fl_store_job_create(st, ROLL, "d1", 1, T0, T0 + 1, &ids[1]));
	reopen(state);
	st = *state;
	OK(st, fl_store_job_create(st, ROLL, "d1", 3, T0, T0 + 1, &ids[2]));
	/* an id taken in a transaction that rolls back was never given */
	OK(st, fl_store_begin(st));
	OK(st, fl_store_job_create(st, ROLL, "d1", 1, T0, T0 + 1, &ids[3]));
	OK(st, fl_store_rollback(st));
	OK(st, fl_store_job_create(st, ROLL, "d1", 1, T0, T0 + 1, &ids[4]));
	assert_int_equal(ids[3], ids[4]);
	reopen(state);
	st = *state;
	OK(st, fl_store_job_create(st, ROLL, "d1", 1, T0, T0 + 1, &ids[5]));
	assert_int_equal(ids[0], 1);
	for (unsigned i = 1; i < 6; i++)
		if (i != 4)
			assert_int_equal(ids[i], ids[i - 1] + 1);
	assert_int_equal(ids[5], 5);
	OK(st, fl_store_job_ids_peek(st, &next));
	assert_int_equal(next, 6);

	/* the last id there is, then no more */
	assert_int_equal(raw_exec(db_path, "UPDATE counters SET next = "
					   "4294967295 WHERE name = 'job'"),
			 SQLITE_OK);
	OK(st, fl_store_job_create(st, ROLL, "d1", 1, T0, T0 + 1, &ids[0]));
	assert_int_equal(ids[0], 4294967295u);
	assert_int_equal(
		fl_store_job_create(st, ROLL, "d1", 1, T0, T0 + 1, &ids[0]),
		FL_ETOOBIG);
}

/* ---- approvals
 * ------------------------------------------------------------------- */

static void test_store__approvals_in_order(void **state)
{
	struct fl_store *st = *state;
	struct seen seen = {0};
	uint64_t id = 0;

	fleet_with_rollout(st);
	OK(st, fl_store_approval_add(st, ROLL, "everyone", false, "carol",
				     T0 + 1, &id));
	assert_int_equal(id, 1);
	OK(st, fl_store_approval_add(st, ROLL, "eu-radio-cert", true, "dave",
				     T0 + 2, NULL));
	OK(st, fl_store_approval_add(st, ROLL, "everyone", false, "erin",
				     T0 + 3, NULL));
	assert_int_equal(
		fl_store_approval_add(st, "nope", "x", false, "e", T0, NULL),
		FL_ENOENT);
	OK(st, fl_store_approval_list(st, ROLL, 0, 2, on_approval, &seen));
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.ids[0], "everyone");
	assert_string_equal(seen.ids[1], "eu-radio-cert");
	OK(st, fl_store_approval_list(st, ROLL, seen.keys[1], 10, on_approval,
				      &seen));
	assert_int_equal(seen.n, 3);
	assert_int_equal(
		fl_store_approval_list(st, "nope", 0, 1, on_approval, &seen),
		FL_ENOENT);
}

static int check_approval(void *ctx, const struct fl_store_approval *a)
{
	(void)ctx;
	assert_string_equal(a->rollout, ROLL);
	assert_string_equal(a->who, "carol");
	assert_true(a->is_hold);
	assert_int_equal(a->at_s, T0 + 1);
	return 0;
}

static void test_store__approval_fields(void **state)
{
	struct fl_store *st = *state;

	fleet_with_rollout(st);
	OK(st,
	   fl_store_approval_add(st, ROLL, "h", true, "carol", T0 + 1, NULL));
	OK(st, fl_store_approval_list(st, ROLL, 0, 10, check_approval, NULL));
}

/* ---- API tokens
 * ------------------------------------------------------------------- */

struct tok_seen {
	unsigned n;
	char names[8][FL_STORE_TOKEN_NAME_MAX];
	int64_t revoked[8];
};

static int on_token(void *ctx, const struct fl_store_token *t)
{
	struct tok_seen *s = ctx;

	assert_true(s->n < 8);
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", t->name);
	s->revoked[s->n++] = t->revoked_at_s;
	return 0;
}

static void test_store__tokens_add_get_revoke_list(void **state)
{
	struct fl_store *st = *state;
	struct fl_store_token t = {"ops-1", "operator", SHA_A, T0, 0}, got;
	struct tok_seen seen = {0};

	OK(st, fl_store_token_add(st, &t));
	OK(st, fl_store_token_get(st, "ops-1", &got));
	assert_string_equal(got.role, "operator");
	assert_string_equal(got.hash, SHA_A);
	assert_int_equal(got.created_at_s, T0);
	assert_int_equal(got.revoked_at_s, FL_STORE_NONE);
	/* a name is never reused */
	assert_int_equal(fl_store_token_add(st, &t), FL_EBUSY);
	assert_non_null(strstr(fl_store_errmsg(st), "ops-1"));
	snprintf(t.name, sizeof(t.name), "admin");
	snprintf(t.role, sizeof(t.role), "admin");
	snprintf(t.hash, sizeof(t.hash), "%s", SHA_B);
	OK(st, fl_store_token_add(st, &t));
	OK(st, fl_store_token_revoke(st, "ops-1", T0 + 5));
	OK(st, fl_store_token_revoke(st, "ops-1", T0 + 9)); /* keeps T0+5 */
	OK(st, fl_store_token_get(st, "ops-1", &got));
	assert_int_equal(got.revoked_at_s, T0 + 5);
	assert_int_equal(fl_store_token_add(st, &t), FL_EBUSY);
	assert_int_equal(fl_store_token_revoke(st, "nope", T0), FL_ENOENT);
	assert_int_equal(fl_store_token_get(st, "nope", &got), FL_ENOENT);
	/* listed by name, paged */
	OK(st, fl_store_token_list(st, NULL, 1, on_token, &seen));
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.names[0], "admin");
	OK(st, fl_store_token_list(st, "admin", 10, on_token, &seen));
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.names[1], "ops-1");
	assert_int_equal(seen.revoked[1], T0 + 5);
	/* bad arguments change nothing */
	snprintf(t.name, sizeof(t.name), "x");
	snprintf(t.hash, sizeof(t.hash), "ABC");
	assert_int_equal(fl_store_token_add(st, &t), FL_EINVAL);
	t.hash[0] = '\0';
	snprintf(t.hash, sizeof(t.hash), "%s", SHA_A);
	t.role[0] = '\0';
	assert_int_equal(fl_store_token_add(st, &t), FL_EINVAL);
	assert_int_equal(fl_store_token_get(st, "x", &got), FL_ENOENT);
}

/* ---- the event log
 * ---------------------------------------------------------------- */

static void test_store__event_log_is_ordered_and_filtered(void **state)
{
	struct fl_store *st = *state;
	struct seen seen = {0};
	uint64_t seq = 0;

	fleet_with_rollout(st);
	put_rollout(st, "other");
	OK(st, fl_store_event_append(st,
				     event(1, 15, ROLL, "",
					   "{\"who\":"
					   "\"alice\"}"),
				     &seq));
	assert_int_equal(seq, 1);
	OK(st, fl_store_event_append(st, event(2, 1, ROLL, "d1", "{\"job\":1}"),
				     &seq));
	OK(st, fl_store_event_append(st, event(3, 0, "", "", ""), &seq));
	OK(st, fl_store_event_append(st, event(2, 7, "other", "", "{}"), &seq));
	assert_int_equal(seq, 4);
	assert_int_equal(
		fl_store_event_append(st, event(1, 1, "nope", "", ""), &seq),
		FL_ENOENT);
	assert_int_equal(
		fl_store_event_append(st, event(9, 1, "", "", ""), &seq),
		FL_EINVAL);
	assert_int_equal(last_seq(st), 4);

	OK(st, fl_store_events_after(st, NULL, 0, 100, on_event, &seen));
	assert_int_equal(seen.n, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(seen.keys[i], i + 1);
	assert_string_equal(seen.events[1].rollout, ROLL);
	assert_string_equal(seen.events[1].device, "d1");
	assert_string_equal(seen.events[1].payload, "{\"job\":1}");
	assert_int_equal(seen.events[1].type, 2);
	assert_int_equal(seen.events[1].kind, 1);
	assert_int_equal(seen.events[1].at_s, T0);
	assert_string_equal(seen.events[2].rollout, "");

	memset(&seen, 0, sizeof(seen));
	OK(st, fl_store_events_after(st, ROLL, 0, 100, on_event, &seen));
	assert_int_equal(seen.n, 2);
	memset(&seen, 0, sizeof(seen));
	OK(st, fl_store_events_after(st, ROLL, 1, 100, on_event, &seen));
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.keys[0], 2);
	memset(&seen, 0, sizeof(seen));
	OK(st, fl_store_events_after(st, "", 2, 1, on_event, &seen));
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.keys[0], 3);
	assert_int_equal(
		fl_store_events_after(st, "nope", 0, 1, on_event, &seen),
		FL_ENOENT);
	/* nobody edits the log */
	assert_int_not_equal(raw_exec(db_path, "DELETE FROM events "
					       "WHERE seq = 4"),
			     SQLITE_OK);
}

static void test_store__event_sequence_has_no_gaps_across_reopen(void **state)
{
	struct fl_store *st = *state;
	struct seen seen = {0};
	uint64_t seq = 0;

	for (int i = 0; i < 3; i++)
		OK(st,
		   fl_store_event_append(st, event(3, 0, "", "", "{}"), &seq));
	OK(st, fl_store_begin(st));
	OK(st, fl_store_event_append(st, event(3, 0, "", "", "{}"), &seq));
	assert_int_equal(seq, 4);
	OK(st, fl_store_rollback(st));
	reopen(state);
	st = *state;
	OK(st, fl_store_event_append(st, event(3, 0, "", "", "{}"), &seq));
	assert_int_equal(seq, 4);
	reopen(state);
	st = *state;
	OK(st, fl_store_event_append(st, event(3, 0, "", "", "{}"), &seq));
	assert_int_equal(seq, 5);
	OK(st, fl_store_events_after(st, NULL, 0, 100, on_event, &seen));
	assert_int_equal(seen.n, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(seen.keys[i], i + 1);
}

/* ---- transactions and batches
 * ------------------------------------------------------- */

static void test_store__transaction_commits_all_or_nothing(void **state)
{
	struct fl_store *st = *state;
	struct fl_store_device d;
	uint64_t seq = 0;

	OK(st, fl_store_begin(st));
	assert_int_equal(fl_store_begin(st), FL_ESTATE);
	put_device(st, "t1", "m", "", T0);
	OK(st, fl_store_event_append(st, event(3, 0, "", "t1", "{}"), &seq));
	/* a failing call inside is undone alone; the transaction goes on */
	assert_int_equal(
		fl_store_event_append(st, event(3, 0, "nope", "", ""), &seq),
		FL_ENOENT);
	assert_int_equal(fl_store_rollout_create(st, rollout_def("x"), PLAN,
						 strlen(PLAN)),
			 FL_ENOENT);
	put_device(st, "t2", "m", "", T0);
	OK(st, fl_store_device_get(st, "t1", &d)); /* sees its own writes */
	OK(st, fl_store_rollback(st));
	assert_int_equal(fl_store_device_get(st, "t1", &d), FL_ENOENT);
	assert_int_equal(last_seq(st), 0);

	OK(st, fl_store_begin(st));
	put_device(st, "t1", "m", "", T0);
	put_device(st, "t2", "m", "", T0);
	OK(st, fl_store_commit(st));
	assert_int_equal(fl_store_commit(st), FL_ESTATE);
	assert_int_equal(fl_store_rollback(st), FL_ESTATE);
	reopen(state);
	st = *state;
	OK(st, fl_store_device_get(st, "t1", &d));
	OK(st, fl_store_device_get(st, "t2", &d));
}

static void test_store__queued_reports_flush_in_one_transaction(void **state)
{
	struct fl_store *st = *state;
	struct fl_store_queue *q = NULL;
	struct fl_store_report *r;
	struct fl_store_device d;
	struct seen seen = {0};
	uint64_t seq = 0;
	char id[16];

	fleet_with_rollout(st);
	assert_int_equal(fl_store_queue_create(&q, 0), FL_EINVAL);
	OK(st, fl_store_queue_create(&q, 4));
	for (unsigned i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "q%u", i);
		r = presence(id, T0 + i, true, 1, 1);
		r->event.type = FL_STORE_EV_INPUT;
		r->event.kind = 13;
		COPY(r->event.payload, "{\"online\":true}");
		OK(st, fl_store_queue_add(q, r));
	}
	assert_int_equal(fl_store_queue_len(q), 4);
	assert_int_equal(fl_store_queue_add(q, r), FL_ENOSPC);
	OK(st, fl_store_queue_flush(st, q, &seq));
	assert_int_equal(fl_store_queue_len(q), 0);
	assert_int_equal(seq, 4);
	OK(st, fl_store_events_after(st, NULL, 0, 100, on_event, &seen));
	assert_int_equal(seen.n, 4);
	assert_string_equal(seen.events[3].device, "q3"); /* the report's */
	assert_int_equal(seen.events[3].at_s, T0 + 3);
	OK(st, fl_store_device_get(st, "q2", &d));
	assert_true(d.is_online);

	/* a batch with one bad report writes nothing */
	r = presence("q9", T0, true, 1, 1);
	OK(st, fl_store_queue_add(q, r));
	r = presence("q8", T0, true, 1, 1);
	r->event.type = FL_STORE_EV_INPUT;
	COPY(r->event.rollout, "no-such-rollout");
	OK(st, fl_store_queue_add(q, r));
	assert_int_equal(fl_store_queue_flush(st, q, &seq), FL_ENOENT);
	assert_int_equal(fl_store_queue_len(q), 2); /* kept */
	assert_int_equal(fl_store_device_get(st, "q9", &d), FL_ENOENT);
	assert_int_equal(last_seq(st), 4);
	/* and inside a transaction, only the batch is undone */
	OK(st, fl_store_begin(st));
	put_device(st, "in-txn", "m", "", T0);
	assert_int_equal(fl_store_queue_flush(st, q, &seq), FL_ENOENT);
	OK(st, fl_store_commit(st));
	OK(st, fl_store_device_get(st, "in-txn", &d));
	assert_int_equal(fl_store_device_get(st, "q9", &d), FL_ENOENT);

	/* refused at the door: a bad report is never queued */
	r = presence("", T0, true, 1, 1);
	assert_int_equal(fl_store_queue_add(q, r), FL_EINVAL);
	r = inventory("x", T0, "m", "1", "a=1,a=2"); /* duplicate key */
	assert_int_equal(fl_store_queue_add(q, r), FL_EINVAL);
	r = status("x", T0, 0, 1, 1, 1, 0, false); /* job 0 */
	assert_int_equal(fl_store_queue_add(q, r), FL_EINVAL);
	r = report(9, "x", T0);
	assert_int_equal(fl_store_queue_add(q, r), FL_EINVAL);
	fl_store_queue_free(q);
	fl_store_queue_free(NULL);
}

/* ---- argument checks
 * -------------------------------------------------------------- */

static void test_store__bad_arguments_are_refused_with_a_message(void **state)
{
	struct fl_store *st = *state;
	struct fl_store_device d;
	char long_id[FL_STORE_ID_MAX + 8];
	uint64_t seq;

	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(fl_store_device_get(st, long_id, &d), FL_EINVAL);
	assert_true(fl_store_errmsg(st)[0] != '\0');
	assert_int_equal(fl_store_device_get(st, "ok", NULL), FL_EINVAL);
	assert_int_equal(fl_store_device_get(st, "bad\tid", &d), FL_EINVAL);
	assert_int_equal(fl_store_report_write(st, NULL, &seq), FL_EINVAL);
	assert_int_equal(fl_store_reports_write(st, NULL, 0, &seq), 0);
	assert_int_equal(fl_store_event_append(st, NULL, &seq), FL_EINVAL);
	assert_int_equal(fl_store_event_last(st, NULL), FL_EINVAL);
	assert_int_equal(fl_store_schema_version(st, NULL), FL_EINVAL);
	assert_int_equal(fl_store_rollout_create(st, NULL, PLAN, 1), FL_EINVAL);
	assert_int_equal(fl_store_member_set(st, NULL), FL_EINVAL);
	assert_int_equal(fl_store_events_after(st, NULL, 0, 1, NULL, NULL),
			 FL_EINVAL);
	/* a successful call clears the message */
	OK(st, fl_store_event_last(st, &seq));
	assert_string_equal(fl_store_errmsg(st), "");
}

/* ---- failure of every database step
 * ------------------------------------------------ */

/* The writes swept: each leaves a trace that a failure must not leave. */
enum sweep_op { SW_BATCH, SW_ROLLOUT, SW_JOB, SW_LABEL, SW_COUNT };

static int sweep_run(struct fl_store *st, enum sweep_op op, uint32_t *job)
{
	struct fl_store_report batch[3];
	struct fl_store_rollout *r;

	switch (op) {
	case SW_BATCH:
		batch[0] = *inventory("new-1", T0, "m9", "1.0.0", "a=1,b=2");
		batch[0].event.type = FL_STORE_EV_INPUT;
		batch[1] = *presence("new-1", T0, true, 1, 1);
		batch[2] = *status("d1", T0, 1, 1, 1, 1, 0, false);
		batch[2].event.type = FL_STORE_EV_INPUT;
		COPY(batch[2].event.rollout, ROLL);
		return fl_store_reports_write(st, batch, 3, NULL);
	case SW_ROLLOUT:
		r = rollout_def("swept");
		return fl_store_rollout_create(st, r, PLAN, strlen(PLAN));
	case SW_JOB:
		return fl_store_job_create(st, ROLL, "d1", FL_STORE_JOB_OFFER,
					   T0, T0 + 1, job);
	default: return fl_store_label_set(st, "d1", "site", "x");
	}
}

/* Nothing of op is in the store. */
static void sweep_absent(struct fl_store *st, enum sweep_op op)
{
	struct fl_store_device d;
	struct fl_store_rollout r;
	struct fl_store_job j;
	uint32_t next = 0;

	assert_int_equal(last_seq(st), 0);
	assert_int_equal(fl_store_device_get(st, "new-1", &d), FL_ENOENT);
	assert_int_equal(fl_store_rollout_get(st, "swept", &r), FL_ENOENT);
	OK(st, fl_store_job_ids_peek(st, &next));
	assert_int_equal(next, 2);
	assert_int_equal(fl_store_job_get(st, 2, &j), FL_ENOENT);
	OK(st, fl_store_job_get(st, 1, &j));
	assert_int_equal(j.phase, -1);
	OK(st, fl_store_device_get(st, "d1", &d));
	assert_int_equal(d.n_labels, 1);
	(void)op;
}

/* A new store at db_path with a rollout, three devices, d1 a member with
 * job 1. */
static void fresh_fleet(void **state)
{
	struct fl_store *st = *state;
	uint32_t job = 0;

	fl_store_close(st);
	free(st);
	remove_db(db_path);
	*state = st = open_ok(db_path);
	fleet_with_rollout(st);
	OK(st, fl_store_member_set(st, member(ROLL, "d1", 0, 5)));
	OK(st, fl_store_job_create(st, ROLL, "d1", 1, T0, T0 + 1, &job));
	assert_int_equal(job, 1);
}

static void test_store__every_failed_step_leaves_nothing(void **state)
{
	unsigned total = 0;
	uint32_t job;

	for (int op = 0; op < SW_COUNT; op++) {
		for (int in_txn = 0; in_txn < 2; in_txn++) {
			struct fl_store *st;

			fresh_fleet(state);
			st = *state;
			for (unsigned long n = 1;; n++) {
				int rc;

				assert_true(n < 200);
				if (in_txn)
					OK(st, fl_store_begin(st));
				fl_store_sqlite_fail_at(st, n);
				rc = sweep_run(st, (enum sweep_op)op, &job);
				fl_store_sqlite_fail_at(st, 0);
				assert_true(rc == 0 ||
					    strstr(fl_store_errmsg(st),
						   "injected") != NULL);
				if (in_txn) {
					/* the caller's transaction goes on */
					if (rc != 0)
						assert_int_equal(last_seq(st),
								 0);
					OK(st, fl_store_rollback(st));
				}
				if (rc == 0)
					break; /* n is past the op's steps */
				assert_int_equal(rc, FL_EIO);
				sweep_absent(st, (enum sweep_op)op);
				total++;
			}
			OK(st, fl_store_check(st));
		}
	}
	print_message("store: %u injected step failures, none left a trace\n",
		      total);
	assert_true(total > 30);
}

static void
test_store__a_failed_migration_step_leaves_the_old_version(void **state)
{
	unsigned n_fail = 0;

	for (unsigned long n = 1;; n++) {
		struct fl_store st;
		struct fl_store_sqlite_options opt = {.fail_at = n};
		int rc = fl_store_open_sqlite(&st, db_path, &opt);

		if (rc == 0) {
			fl_store_close(&st);
			break;
		}
		assert_int_equal(rc, FL_EIO);
		n_fail++;
		/* whatever it reached is whole: 0, 1 or 2, never between */
		if (exists(db_path)) {
			int64_t v = raw_int(db_path, "PRAGMA user_version");
			int64_t t = raw_int(db_path, "SELECT count(*) FROM "
						     "sqlite_schema WHERE "
						     "type = 'table'");

			assert_true(v >= 0 && v <= FL_STORE_SQLITE_SCHEMA);
			assert_true((v == 0 && t == 0) ||
				    ((v == 1 || v == 2) && t == 13) ||
				    (v == 3 && t == 14));
		}
		assert_true(n < 100);
	}
	assert_true(n_fail >= 8);
	*state = open_ok(db_path);
	OK(*state, fl_store_check(*state));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name, setup)                                                         \
	cmocka_unit_test_setup_teardown(name, setup, teardown_path)
		T(test_store__new_file_is_wal_at_latest_schema, setup_open),
		T(test_store__migrates_an_empty_database_from_version_0,
		  setup_path),
		T(test_store__migrates_version_1_keeping_its_data, setup_path),
		T(test_store__refuses_a_newer_schema_untouched, setup_path),
		T(test_store__refuses_a_file_that_is_not_a_database,
		  setup_path),
		T(test_store__refuses_another_applications_database,
		  setup_path),
		T(test_store__refuses_a_damaged_database_untouched, setup_path),
		T(test_store__refuses_bad_paths, setup_path),
		T(test_store__locked_database_is_busy, setup_path),
		T(test_store__settings_roundtrip, setup_open),
		T(test_store__inventory_report_replaces_what_the_device_said,
		  setup_open),
		T(test_store__presence_keeps_the_newest_connection, setup_open),
		T(test_store__server_labels_win_and_are_bounded, setup_open),
		T(test_store__device_list_filters_and_pages_by_id, setup_open),
		T(test_store__artifacts_by_digest, setup_open),
		T(test_store__rollout_lifecycle, setup_open),
		T(test_store__rollout_list_pages_in_creation_order, setup_open),
		T(test_store__members_with_counts_per_stage_and_status,
		  setup_open),
		T(test_store__jobs_and_the_status_ordering_rules, setup_open),
		T(test_store__job_ids_never_repeat_across_reopen, setup_open),
		T(test_store__approvals_in_order, setup_open),
		T(test_store__approval_fields, setup_open),
		T(test_store__tokens_add_get_revoke_list, setup_open),
		T(test_store__event_log_is_ordered_and_filtered, setup_open),
		T(test_store__event_sequence_has_no_gaps_across_reopen,
		  setup_open),
		T(test_store__transaction_commits_all_or_nothing, setup_open),
		T(test_store__queued_reports_flush_in_one_transaction,
		  setup_open),
		T(test_store__bad_arguments_are_refused_with_a_message,
		  setup_open),
		T(test_store__every_failed_step_leaves_nothing, setup_open),
		T(test_store__a_failed_migration_step_leaves_the_old_version,
		  setup_path),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
