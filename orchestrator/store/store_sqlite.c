/*
 * store_sqlite.c -- the store over SQLite in WAL mode (fl/store.h): one
 * database file, migrated on open, every statement prepared once.
 *
 * Method: the database is opened in WAL mode with foreign keys on and a
 * busy timeout. Before anything is written, the file is checked: a file
 * that does not start with the SQLite header is refused without SQLite
 * ever opening it; then the application id, the schema version and the
 * whole schema are read (a damaged first page or schema is refused here,
 * so a file that is not a good store is left as it was). Migrations then
 * run one step per transaction (migrations.c), and every statement of the
 * table below is prepared once and reused: values are always bound, never
 * spliced into SQL. An operation of several statements runs in its own
 * transaction (BEGIN IMMEDIATE: the write lock is taken at once, so a
 * busy database fails at the start, not halfway), or, inside the caller's
 * transaction, in a savepoint that a failure rolls back alone.
 *
 * Durability: synchronous=FULL by default, and here is why. In WAL mode a
 * transaction commits when its last frame, marked as a commit, is appended
 * to the -wal file. A crash of the process (kill -9, abort) loses nothing
 * that was committed, in either FULL or NORMAL: the frames are in the
 * operating system's page cache, which outlives the process, and the next
 * open rebuilds the WAL index from every frame up to the last valid commit
 * frame (frames are checksummed; a half-appended transaction is ignored).
 * A power cut is different. NORMAL syncs the -wal file only at checkpoints,
 * so a power cut can lose every transaction committed since the last one
 * -- the database stays consistent, but goes back in time. fleetd carries
 * a decision out only after its transaction commits; going back in time
 * would forget offers that devices received and hand out their job ids
 * again, and a device treats a reused job id as a duplicate of the old
 * job, which the protocol's idempotency rules cannot repair. FULL syncs the
 * -wal at every commit, so after a power cut every transaction whose commit
 * returned is there, and one whose commit had not returned is absent as a
 * whole (and was never carried out). That holds on storage that honours
 * flushes; a disk cache that acknowledges a flush it did not do can lose
 * the last transactions whatever the software does. The cost of FULL is
 * one fsync per commit, which batching amortises: bench/bench_store.c
 * measures rows per second for batches of 1, 100 and 1000 in both modes.
 * The -wal file's directory entry is synced by SQLite when it creates the
 * file; the database file's own entry is synced here after opening.
 *
 * Fault injection: every step of a statement goes through step(), which
 * fails the Nth one when armed (fl_store_sqlite_fail_at), as an I/O error
 * would; cleanup steps (rollback) are never failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl/err.h"
#include "fl/plan.h"
#include "fl/store.h"
#include "store_sqlite_priv.h"

/* The store's bounds are the plan language's (the protocol's: store.c). */
_Static_assert(FL_STORE_NAME_MAX == FL_PLAN_NAME_MAX + 1, "plan names");
_Static_assert(FL_STORE_STAGES == FL_PLAN_MAX_STAGES, "stages");
_Static_assert(FL_STORE_PLAN_MAX == FL_PLAN_MAX_FILE_BYTES, "plan text");

#define JOB_ID_MAX 4294967295LL

/* ---- the statements ----------------------------------------------------- */

#define DEV_COLS                                                               \
	"d.key, d.id, d.model, d.tz, d.agent, d.first_seen, d.last_seen, "     \
	"d.is_online, d.p_boot, d.p_conn, d.reported_at, d.boot, d.booted, "   \
	"d.floor, d.job, d.job_state, d.job_result, d.reported, d.health_at, " \
	"d.health, (SELECT r.name FROM members m JOIN rollouts r"              \
	" ON r.key = m.rollout_key WHERE m.device_key = d.key"                 \
	" ORDER BY m.rollout_key DESC LIMIT 1), (SELECT m.status"              \
	" FROM members m WHERE m.device_key = d.key"                           \
	" ORDER BY m.rollout_key DESC LIMIT 1)"

/* The effective label K (server's, else device's) equals V, when K is
 * bound (NULL: no term). */
#define LABEL_TERM(K, V)                                                       \
	" AND (" K " IS NULL OR EXISTS (SELECT 1 FROM device_labels l"         \
	" WHERE l.device_key = d.key AND l.key = " K " AND l.value = " V       \
	" AND (l.is_server = 1 OR NOT EXISTS (SELECT 1 FROM device_labels s"   \
	" WHERE s.device_key = d.key AND s.is_server = 1 AND s.key = " K       \
	"))))"

/* The filter's four label terms: ?4 = ?5 ... ?10 = ?11. */
#define DEV_LIST_LABELS                                                        \
	LABEL_TERM("?4", "?5")                                                 \
	LABEL_TERM("?6", "?7") LABEL_TERM("?8", "?9") LABEL_TERM("?10", "?11")

#define RO_COLS                                                                \
	"r.key, r.name, r.plan_sha256, r.artifact_sha256, r.component, "       \
	"r.version, r.state, r.is_paused, r.created_at, r.started_at, "        \
	"r.ended_at, r.started_by"

#define MEMBER_COLS                                                            \
	"d.id, m.device_key, m.stage, m.status, m.progress, m.rollback, "      \
	"m.fail_reason, "                                                      \
	"m.offered_at, m.committed_at, m.updated_at, coalesce(m.job, 0), "     \
	"coalesce(m.rollback_job, 0), coalesce(j.phase, -1), "                 \
	"coalesce(j.result, 0), coalesce(j.reason, ''), "                      \
	"coalesce(j.bytes, 0), coalesce(j.total, 0), "                         \
	"coalesce(j.version, ''), coalesce(b.phase, -1), "                     \
	"coalesce(b.result, 0), coalesce(b.reason, '')"

#define JOB_COLS                                                               \
	"j.job, r.name, d.id, j.type, j.issued_at, j.expires_at, j.phase, "    \
	"j.result, j.is_final, j.reason, j.bytes, j.total, j.version, "        \
	"j.st_boot, j.st_n, j.updated_at, j.ended_at"

#define EVENT_COLS                                                             \
	"e.seq, e.at, e.type, e.kind, coalesce(r.name, ''), "                  \
	"coalesce(e.device, ''), e.payload"

enum sid {
	S_BEGIN,
	S_BEGIN_READ,
	S_COMMIT,
	S_ROLLBACK,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_INTEGRITY,
	S_FK_CHECK,
	S_USER_VERSION,
	S_SETTING_GET,
	S_SETTING_SET,
	S_JOB_PEEK,
	S_JOB_TAKE,
	S_DEV_KEY,
	S_DEV_TOUCH,
	S_DEV_SEEN,
	S_DEV_HEALTH,
	S_DEV_UNSEEN,
	S_DEV_PRESENCE,
	S_DEV_SAME,
	S_DEV_INVENTORY,
	S_LABELS_CLEAR,
	S_LABEL_PUT,
	S_LABEL_COUNT,
	S_LABEL_DELETE,
	S_COMPONENTS_CLEAR,
	S_COMPONENT_PUT,
	S_SLOTS_CLEAR,
	S_SLOT_PUT,
	S_DEV_GET,
	S_DEV_LIST,
	S_DEV_LABELS,
	S_DEV_COMPONENTS,
	S_DEV_SLOTS,
	S_ART_PUT,
	S_ART_GET,
	S_RO_KEY,
	S_RO_INSERT,
	S_STAGE_INSERT,
	S_RO_START,
	S_RO_STATE,
	S_STAGE_SET,
	S_RO_GET,
	S_RO_STAGES,
	S_RO_COUNTS,
	S_RO_PLAN,
	S_RO_LIST,
	S_MEMBER_SET,
	S_MEMBER_KEYS,
	S_MEMBER_JOB,
	S_MEMBER_LIST,
	S_JOB_INSERT,
	S_JOB_STATUS,
	S_JOB_GET,
	S_JOB_LIST,
	S_APPROVAL_ADD,
	S_APPROVAL_LIST,
	S_EV_INSERT,
	S_EV_LAST,
	S_EV_AFTER,
	S_EV_ROLLOUT,
	S_TOKEN_ADD,
	S_TOKEN_GET,
	S_TOKEN_REVOKE,
	S_TOKEN_LIST,
	S_COUNT
};

static const char *const sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_BEGIN_READ] = "BEGIN",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT op",
	[S_RELEASE] = "RELEASE op",
	[S_ROLLBACK_TO] = "ROLLBACK TO op",
	[S_INTEGRITY] = "PRAGMA integrity_check(1)",
	[S_FK_CHECK] = "PRAGMA foreign_key_check",
	[S_USER_VERSION] = "PRAGMA user_version",

	[S_SETTING_GET] = "SELECT value FROM settings WHERE key = ?1",
	[S_SETTING_SET] = "INSERT INTO settings (key, value) VALUES (?1, ?2)"
			  " ON CONFLICT (key) DO UPDATE SET value = "
			  "excluded.value",
	[S_JOB_PEEK] = "SELECT next FROM counters WHERE name = 'job'",
	/* no RETURNING on the hot paths: SQLite runs it through an
	 * ephemeral table, a page cache made and freed per call */
	[S_JOB_TAKE] = "UPDATE counters SET next = next + 1"
		       " WHERE name = 'job' AND next = ?1"
		       " AND next <= 4294967295",

	[S_DEV_KEY] = "SELECT key FROM devices WHERE id = ?1",
	[S_DEV_TOUCH] = "INSERT INTO devices (id, first_seen, last_seen)"
			" VALUES (?1, ?2, ?2) ON CONFLICT (id) DO UPDATE SET"
			" first_seen = CASE WHEN first_seen < 0"
			" THEN excluded.first_seen ELSE first_seen END,"
			" last_seen = max(last_seen, excluded.last_seen)",
	[S_DEV_SEEN] = "UPDATE devices SET first_seen = CASE"
		       " WHEN first_seen < 0 THEN ?2 ELSE first_seen END,"
		       " last_seen = max(last_seen, ?2) WHERE id = ?1",
	/* device_seen's update and the health in one statement */
	[S_DEV_HEALTH] = "UPDATE devices SET health = ?2, health_at = ?3,"
			 " first_seen = CASE WHEN first_seen < 0"
			 " THEN ?3 ELSE first_seen END,"
			 " last_seen = max(last_seen, ?3) WHERE id = ?1",
	[S_DEV_UNSEEN] = "INSERT INTO devices (id, first_seen, last_seen)"
			 " VALUES (?1, -1, -1) ON CONFLICT (id) DO NOTHING",
	[S_DEV_PRESENCE] = "UPDATE devices SET is_online = ?2, p_boot = ?3,"
			   " p_conn = ?4 WHERE key = ?1"
			   " AND (p_boot, p_conn) <= (?3, ?4)",
	[S_DEV_SAME] = "UPDATE devices SET reported_at = ?2"
		       " WHERE key = ?1 AND reported = ?3 AND ?3 <> ''",
	[S_DEV_INVENTORY] = "UPDATE devices SET model = ?2, tz = ?3,"
			    " agent = ?4, boot = ?5, booted = ?6, floor = ?7,"
			    " job = ?8, job_state = ?9, job_result = ?10,"
			    " reported_at = ?11, reported = ?12 WHERE key = ?1",
	[S_LABELS_CLEAR] = "DELETE FROM device_labels"
			   " WHERE device_key = ?1 AND is_server = 0",
	[S_LABEL_PUT] = "INSERT INTO device_labels (device_key, is_server,"
			" key, value) VALUES (?1, ?2, ?3, ?4)"
			" ON CONFLICT DO UPDATE SET value = excluded.value",
	[S_LABEL_COUNT] = "SELECT count(*), coalesce(sum(key = ?2), 0)"
			  " FROM device_labels"
			  " WHERE device_key = ?1 AND is_server = 1",
	[S_LABEL_DELETE] = "DELETE FROM device_labels"
			   " WHERE device_key = ?1 AND is_server = 1"
			   " AND key = ?2",
	[S_COMPONENTS_CLEAR] = "DELETE FROM device_components"
			       " WHERE device_key = ?1",
	[S_COMPONENT_PUT] = "INSERT INTO device_components (device_key, name,"
			    " version) VALUES (?1, ?2, ?3)",
	[S_SLOTS_CLEAR] = "DELETE FROM device_slots WHERE device_key = ?1",
	[S_SLOT_PUT] = "INSERT INTO device_slots (device_key, slot, state,"
		       " version, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_DEV_GET] = "SELECT " DEV_COLS " FROM devices d WHERE d.id = ?1",
	[S_DEV_LIST] = "SELECT " DEV_COLS " FROM devices d WHERE d.id > ?1"
		       " AND (?2 IS NULL OR d.model = ?2)"
		       " AND (?3 < 0 OR d.is_online = ?3)" DEV_LIST_LABELS
		       " ORDER BY d.id LIMIT ?12",
	[S_DEV_LABELS] = "SELECT key, value, is_server FROM device_labels"
			 " WHERE device_key = ?1 ORDER BY is_server, key",
	[S_DEV_COMPONENTS] = "SELECT name, version FROM device_components"
			     " WHERE device_key = ?1 ORDER BY name",
	[S_DEV_SLOTS] = "SELECT slot, state, version, seq FROM device_slots"
			" WHERE device_key = ?1 ORDER BY slot",

	[S_ART_PUT] =
		"INSERT INTO artifacts (sha256, path, length, manifest,"
		" created_at) VALUES (?1, ?2, ?3, ?4, ?5)"
		" ON CONFLICT (sha256) DO UPDATE SET path = excluded.path,"
		" manifest = excluded.manifest"
		" WHERE length = excluded.length",
	[S_ART_GET] = "SELECT sha256, path, length, manifest, created_at"
		      " FROM artifacts WHERE sha256 = ?1",

	[S_RO_KEY] = "SELECT key FROM rollouts WHERE name = ?1",
	[S_RO_INSERT] = "INSERT INTO rollouts (name, plan, plan_sha256,"
			" artifact_sha256, component, version, created_at)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_STAGE_INSERT] = "INSERT INTO stages (rollout_key, idx, name)"
			   " VALUES (?1, ?2, ?3)",
	[S_RO_START] = "UPDATE rollouts SET started_at = ?2, started_by = ?3"
		       " WHERE name = ?1 AND started_at < 0",
	[S_RO_STATE] = "UPDATE rollouts SET state = ?2, is_paused = ?3,"
		       " ended_at = CASE WHEN ?4 AND ended_at < 0 THEN ?5"
		       " ELSE ended_at END WHERE name = ?1",
	[S_STAGE_SET] = "UPDATE stages SET state = ?3, is_overridden = ?4,"
			" started_at = ?5, ended_at = ?6"
			" WHERE rollout_key = (SELECT key FROM rollouts"
			" WHERE name = ?1) AND idx = ?2",
	[S_RO_GET] = "SELECT " RO_COLS " FROM rollouts r WHERE r.name = ?1",
	[S_RO_STAGES] = "SELECT idx, name, state, is_overridden, started_at,"
			" ended_at FROM stages WHERE rollout_key = ?1"
			" ORDER BY idx",
	[S_RO_COUNTS] = "SELECT stage, status, count(*) FROM members"
			" WHERE rollout_key = ?1 GROUP BY stage, status",
	[S_RO_PLAN] = "SELECT plan FROM rollouts WHERE name = ?1",
	[S_RO_LIST] = "SELECT " RO_COLS " FROM rollouts r WHERE r.key > ?1"
		      " ORDER BY r.key LIMIT ?2",

	[S_MEMBER_SET] = "INSERT INTO members (rollout_key, device_key, stage,"
			 " status, progress, rollback, fail_reason,"
			 " offered_at, committed_at, updated_at)"
			 " SELECT r.key, d.key, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10"
			 " FROM rollouts r, devices d"
			 " WHERE r.name = ?1 AND d.id = ?2"
			 " ON CONFLICT (rollout_key, device_key) DO UPDATE SET"
			 " stage = excluded.stage, status = excluded.status,"
			 " progress = excluded.progress,"
			 " rollback = excluded.rollback,"
			 " fail_reason = excluded.fail_reason,"
			 " offered_at = excluded.offered_at,"
			 " committed_at = excluded.committed_at,"
			 " updated_at = excluded.updated_at",
	[S_MEMBER_KEYS] = "SELECT m.rollout_key, m.device_key FROM members m"
			  " JOIN rollouts r ON r.key = m.rollout_key"
			  " JOIN devices d ON d.key = m.device_key"
			  " WHERE r.name = ?1 AND d.id = ?2",
	[S_MEMBER_JOB] = "UPDATE members SET"
			 " job = CASE WHEN ?4 = 1 THEN ?3 ELSE job END,"
			 " rollback_job = CASE WHEN ?4 = 3 THEN ?3"
			 " ELSE rollback_job END"
			 " WHERE rollout_key = ?1 AND device_key = ?2",
	[S_MEMBER_LIST] = "SELECT " MEMBER_COLS " FROM members m"
			  " JOIN devices d ON d.key = m.device_key"
			  " LEFT JOIN jobs j ON j.job = m.job"
			  " LEFT JOIN jobs b ON b.job = m.rollback_job"
			  " WHERE m.rollout_key = ?1 AND m.device_key > ?2"
			  " AND (?3 < 0 OR m.stage = ?3)"
			  " AND (?4 < 0 OR m.status = ?4)"
			  " ORDER BY m.device_key LIMIT ?5",
	[S_JOB_INSERT] = "INSERT INTO jobs (job, rollout_key, device_key,"
			 " type, issued_at, expires_at)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[S_JOB_STATUS] = "UPDATE jobs SET st_boot = ?2, st_n = ?3,"
			 " phase = ?4, result = ?5, is_final = ?6,"
			 " reason = ?7, bytes = ?8, total = ?9, version = ?10,"
			 " updated_at = ?11,"
			 " ended_at = CASE WHEN ?6 THEN ?11 ELSE ended_at END"
			 " WHERE job = ?1 AND is_final = 0"
			 " AND (st_boot, st_n) < (?2, ?3)"
			 " AND device_key = (SELECT key FROM devices"
			 " WHERE id = ?12)",
	[S_JOB_GET] = "SELECT " JOB_COLS " FROM jobs j"
		      " JOIN rollouts r ON r.key = j.rollout_key"
		      " JOIN devices d ON d.key = j.device_key"
		      " WHERE j.job = ?1",
	[S_JOB_LIST] = "SELECT " JOB_COLS " FROM jobs j"
		       " JOIN rollouts r ON r.key = j.rollout_key"
		       " JOIN devices d ON d.key = j.device_key"
		       " WHERE j.device_key = ?1 AND j.job < ?2"
		       " ORDER BY j.job DESC LIMIT ?3",

	[S_APPROVAL_ADD] = "INSERT INTO approvals (rollout_key, what, is_hold,"
			   " who, at) VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_APPROVAL_LIST] = "SELECT key, what, is_hold, who, at FROM approvals"
			    " WHERE rollout_key = ?1 AND key > ?2"
			    " ORDER BY key LIMIT ?3",

	[S_EV_INSERT] = "INSERT INTO events (at, type, kind, rollout_key,"
			" device, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[S_EV_LAST] = "SELECT coalesce(max(seq), 0) FROM events",
	[S_EV_AFTER] = "SELECT " EVENT_COLS " FROM events e"
		       " LEFT JOIN rollouts r ON r.key = e.rollout_key"
		       " WHERE e.seq > ?1 ORDER BY e.seq LIMIT ?2",
	[S_EV_ROLLOUT] = "SELECT " EVENT_COLS " FROM events e"
			 " LEFT JOIN rollouts r ON r.key = e.rollout_key"
			 " WHERE e.rollout_key = ?1 AND e.seq > ?2"
			 " ORDER BY e.seq LIMIT ?3",

	[S_TOKEN_ADD] = "INSERT INTO tokens (name, role, hash, created_at)"
			" VALUES (?1, ?2, ?3, ?4)",
	[S_TOKEN_GET] = "SELECT name, role, hash, created_at, revoked_at"
			" FROM tokens WHERE name = ?1",
	[S_TOKEN_REVOKE] = "UPDATE tokens SET revoked_at = CASE"
			   " WHEN revoked_at < 0 THEN ?2 ELSE revoked_at END"
			   " WHERE name = ?1",
	[S_TOKEN_LIST] = "SELECT name, role, hash, created_at, revoked_at"
			 " FROM tokens WHERE name > ?1 ORDER BY name LIMIT ?2",
};

/* ---- the backend's state --------------------------------------------------
 */

struct sq {
	sqlite3 *db;
	sqlite3_stmt *s[S_COUNT];
	unsigned long fail_at; /* fail the Nth step from now; 0 never */
	bool is_injected;      /* the last failure was injected */
	int bind_rc;	       /* first failed bind since the last step */
	union {		       /* the record a walk lends its callback */
		struct fl_store_device dev;
		struct fl_store_rollout ro;
		struct fl_store_member mem;
		struct fl_store_approval ap;
		struct fl_store_event ev;
		struct fl_store_job job;
		struct fl_store_token tok;
	} rec;
};

static const struct fl_store_ops sqlite_ops;

static struct sq *SQ(struct fl_store *st)
{
	return st->ctx;
}

static int map_rc(int rc)
{
	switch (rc & 0xFF) {
	case SQLITE_NOMEM: return FL_ENOMEM;
	case SQLITE_FULL: return FL_ENOSPC;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB: return FL_ECORRUPT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return FL_EBUSY;
	case SQLITE_TOOBIG: return FL_ETOOBIG;
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			return FL_ENOENT;
		if (rc == SQLITE_CONSTRAINT_UNIQUE ||
		    rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return FL_EBUSY;
		return FL_EINVAL;
	case SQLITE_MISUSE:
	case SQLITE_RANGE: return FL_EINVAL;
	default: return FL_EIO;
	}
}

static int fail(struct fl_store *st, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct fl_store *st, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

/* Describes the failure rc of the database in `what` and maps it. Call it
 * before the statement is reset (which may change the message). */
static int db_fail(struct fl_store *st, int rc, const char *what)
{
	struct sq *b = SQ(st);

	if (b->is_injected) {
		b->is_injected = false;
		return fail(st, FL_EIO, "%s: injected I/O error", what);
	}
	fail(st, map_rc(rc), "%s: %s (%s)", what, sqlite3_errmsg(b->db),
	     sqlite3_errstr(rc));
	return map_rc(rc);
}

/* ---- statements: bind, step, read -----------------------------------------
 */

static void note(struct sq *b, int rc)
{
	if (rc != SQLITE_OK && b->bind_rc == SQLITE_OK)
		b->bind_rc = rc;
}

static void bind_text(struct sq *b, sqlite3_stmt *s, int i, const char *v)
{
	note(b, sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC));
}

/* NULL or "" binds SQL NULL. */
static void bind_opt_text(struct sq *b, sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL || v[0] == '\0')
		note(b, sqlite3_bind_null(s, i));
	else
		bind_text(b, s, i, v);
}

static void bind_int(struct sq *b, sqlite3_stmt *s, int i, int64_t v)
{
	note(b, sqlite3_bind_int64(s, i, v));
}

/* A statement of the table, reset and ready to bind. */
static sqlite3_stmt *use(struct sq *b, enum sid id)
{
	sqlite3_reset(b->s[id]);
	b->bind_rc = SQLITE_OK;
	return b->s[id];
}

/* One step, or the first bind error, or an injected failure. */
static int step(struct sq *b, sqlite3_stmt *s)
{
	if (b->bind_rc != SQLITE_OK) {
		int rc = b->bind_rc;

		b->bind_rc = SQLITE_OK;
		return rc;
	}
	if (b->fail_at != 0 && --b->fail_at == 0) {
		b->is_injected = true;
		return SQLITE_IOERR;
	}
	return sqlite3_step(s);
}

/* Runs a statement without result rows: SQLITE_DONE or an error. */
static int run(struct sq *b, enum sid id)
{
	sqlite3_stmt *s = use(b, id);
	int rc = step(b, s);

	if (rc == SQLITE_ROW)
		rc = SQLITE_DONE;
	sqlite3_reset(s);
	return rc;
}

/* Runs a cleanup statement (never injected); its failure is ignored: the
 * transaction state is then read from sqlite3_get_autocommit(). */
static void run_clean(struct sq *b, enum sid id)
{
	sqlite3_reset(b->s[id]);
	sqlite3_step(b->s[id]);
	sqlite3_reset(b->s[id]);
}

static void col_text(sqlite3_stmt *s, int i, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	size_t n = t == NULL ? 0 : (size_t)sqlite3_column_bytes(s, i);

	if (n >= cap)
		n = cap - 1; /* longer than any value this code writes */
	if (n > 0)
		memcpy(dst, t, n);
	dst[n] = '\0';
}

static int64_t col_int(sqlite3_stmt *s, int i)
{
	return sqlite3_column_int64(s, i);
}

static uint32_t col_u32(sqlite3_stmt *s, int i)
{
	int64_t v = sqlite3_column_int64(s, i);

	return v < 0 || v > JOB_ID_MAX ? 0 : (uint32_t)v;
}

static uint8_t col_u8(sqlite3_stmt *s, int i)
{
	return (uint8_t)sqlite3_column_int64(s, i);
}

/* ---- transactions of one operation ----------------------------------------
 */

enum op_kind { OP_READ, OP_WRITE };

struct op {
	const char *what;
	bool is_started; /* we began something that op_end must end */
	bool is_savepoint;
};

/* Refuses work in a transaction the database abandoned after an error. */
static int enter(struct fl_store *st, const char *what)
{
	if (st->in_txn && sqlite3_get_autocommit(SQ(st)->db))
		return fail(st, FL_ESTATE,
			    "%s: the transaction was abandoned after an "
			    "error; roll it back",
			    what);
	return 0;
}

/*
 * Starts an operation of several statements: outside the caller's
 * transaction, its own (BEGIN IMMEDIATE for writes, BEGIN for reads, so
 * that they see one snapshot); inside, a savepoint for writes and nothing
 * for reads.
 */
static int op_begin(struct fl_store *st, struct op *op, const char *what,
		    enum op_kind kind)
{
	struct sq *b = SQ(st);
	enum sid id;
	int rc;

	op->what = what;
	op->is_started = false;
	op->is_savepoint = st->in_txn;
	rc = enter(st, what);
	if (rc != 0)
		return rc;
	if (st->in_txn && kind == OP_READ)
		return 0;
	id = st->in_txn		? S_SAVEPOINT
	     : kind == OP_WRITE ? S_BEGIN
				: S_BEGIN_READ;
	rc = run(b, id);
	if (rc != SQLITE_DONE)
		return db_fail(st, rc, what);
	op->is_started = true;
	return 0;
}

/* Ends it: commits (or releases) when err is 0, else undoes it. Returns
 * err, or the commit's error. */
static int op_end(struct fl_store *st, struct op *op, int err)
{
	struct sq *b = SQ(st);

	if (!op->is_started)
		return err;
	if (err == 0) {
		int rc = run(b, op->is_savepoint ? S_RELEASE : S_COMMIT);

		if (rc == SQLITE_DONE)
			return 0;
		err = db_fail(st, rc, op->what);
	}
	if (sqlite3_get_autocommit(b->db))
		return err; /* the database already rolled back */
	if (op->is_savepoint) {
		run_clean(b, S_ROLLBACK_TO);
		run_clean(b, S_RELEASE);
	} else {
		run_clean(b, S_ROLLBACK);
	}
	return err;
}

/* Ends the read of a walk: a positive err is the callback's stop, not a
 * failure. */
static int walk_end(struct fl_store *st, struct op *op, int err)
{
	int rc;

	if (err <= 0)
		return op_end(st, op, err);
	rc = op_end(st, op, 0);
	return rc != 0 ? rc : err;
}

/* ---- lookups ----------------------------------------------------------------
 */

/* Sets *key to the key of the row `id` finds with statement sid. Returns 0,
 * FL_ENOENT (described as "what: no NOUN ID"), or an error. */
static int key_of(struct fl_store *st, enum sid sid, const char *id,
		  const char *what, const char *noun, int64_t *key)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s = use(b, sid);
	int rc, err = 0;

	bind_text(b, s, 1, id);
	rc = step(b, s);
	if (rc == SQLITE_ROW)
		*key = col_int(s, 0);
	else if (rc == SQLITE_DONE)
		err = fail(st, FL_ENOENT, "%s: no %s '%s'", what, noun, id);
	else
		err = db_fail(st, rc, what);
	sqlite3_reset(s);
	return err;
}

static int rollout_key(struct fl_store *st, const char *name, const char *what,
		       int64_t *key)
{
	return key_of(st, S_RO_KEY, name, what, "rollout", key);
}

static int device_key(struct fl_store *st, const char *id, const char *what,
		      int64_t *key)
{
	return key_of(st, S_DEV_KEY, id, what, "device", key);
}

/* Runs a bound statement without rows; sets *changes. */
static int exec_bound(struct fl_store *st, sqlite3_stmt *s, const char *what,
		      int *changes)
{
	struct sq *b = SQ(st);
	int rc = step(b, s);
	int err = 0;

	if (rc == SQLITE_ROW)
		rc = SQLITE_DONE;
	if (rc != SQLITE_DONE)
		err = db_fail(st, rc, what);
	else if (changes != NULL)
		*changes = sqlite3_changes(b->db);
	sqlite3_reset(s);
	return err;
}

/* ---- lifecycle, transactions ------------------------------------------------
 */

static void sq_free(struct sq *b)
{
	if (b == NULL)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(b->s[i]);
	if (b->db != NULL) {
		if (!sqlite3_get_autocommit(b->db))
			sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(b->db);
	}
	free(b);
}

static void sq_close(struct fl_store *st)
{
	sq_free(SQ(st));
}

static int sq_begin(struct fl_store *st)
{
	int rc = run(SQ(st), S_BEGIN);

	return rc == SQLITE_DONE ? 0 : db_fail(st, rc, "begin");
}

static int sq_commit(struct fl_store *st)
{
	struct sq *b = SQ(st);
	int rc, err;

	if (sqlite3_get_autocommit(b->db))
		return fail(st, FL_ESTATE,
			    "commit: the transaction was abandoned after an "
			    "error; nothing of it was written");
	rc = run(b, S_COMMIT);
	if (rc == SQLITE_DONE)
		return 0;
	err = db_fail(st, rc, "commit");
	if (!sqlite3_get_autocommit(b->db))
		run_clean(b, S_ROLLBACK);
	return err;
}

static int sq_rollback(struct fl_store *st)
{
	struct sq *b = SQ(st);

	if (!sqlite3_get_autocommit(b->db))
		run_clean(b, S_ROLLBACK);
	if (!sqlite3_get_autocommit(b->db))
		return fail(st, FL_EIO, "rollback: %s", sqlite3_errmsg(b->db));
	return 0;
}

static int sq_check(struct fl_store *st)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int rc, err;

	err = enter(st, "check");
	if (err != 0)
		return err;
	s = use(b, S_INTEGRITY);
	rc = step(b, s);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);

		if (t == NULL || strcmp(t, "ok") != 0)
			err = fail(st, FL_ECORRUPT, "check: %s",
				   t == NULL ? "no answer" : t);
	} else {
		err = db_fail(st, rc, "check");
	}
	sqlite3_reset(s);
	if (err != 0)
		return err;
	s = use(b, S_FK_CHECK);
	rc = step(b, s);
	if (rc == SQLITE_ROW)
		err = fail(st, FL_ECORRUPT,
			   "check: a row of %s refers to a missing row of %s",
			   (const char *)sqlite3_column_text(s, 0),
			   (const char *)sqlite3_column_text(s, 2));
	else if (rc != SQLITE_DONE)
		err = db_fail(st, rc, "check");
	sqlite3_reset(s);
	return err;
}

static int sq_schema_version(struct fl_store *st, unsigned *out)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s = use(b, S_USER_VERSION);
	int rc = step(b, s);
	int err = 0;

	if (rc == SQLITE_ROW)
		*out = (unsigned)col_int(s, 0);
	else
		err = db_fail(st, rc, "schema_version");
	sqlite3_reset(s);
	return err;
}

/* ---- settings, job ids
 * -------------------------------------------------------- */

static int sq_setting_get(struct fl_store *st, const char *key, char *out,
			  size_t cap)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int rc, err;

	err = enter(st, "setting_get");
	if (err != 0)
		return err;
	s = use(b, S_SETTING_GET);
	bind_text(b, s, 1, key);
	rc = step(b, s);
	if (rc == SQLITE_ROW) {
		if ((size_t)sqlite3_column_bytes(s, 0) >= cap)
			err = fail(st, FL_ETOOBIG,
				   "setting_get: '%s' is %d bytes long", key,
				   sqlite3_column_bytes(s, 0));
		else
			col_text(s, 0, out, cap);
	} else if (rc == SQLITE_DONE) {
		err = fail(st, FL_ENOENT, "setting_get: '%s' is not set", key);
	} else {
		err = db_fail(st, rc, "setting_get");
	}
	sqlite3_reset(s);
	return err;
}

static int sq_setting_set(struct fl_store *st, const char *key,
			  const char *value)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int err = enter(st, "setting_set");

	if (err != 0)
		return err;
	s = use(b, S_SETTING_SET);
	bind_text(b, s, 1, key);
	bind_text(b, s, 2, value);
	return exec_bound(st, s, "setting_set", NULL);
}

static int sq_job_ids_peek(struct fl_store *st, uint32_t *next)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int rc, err = enter(st, "job_ids_peek");

	if (err != 0)
		return err;
	s = use(b, S_JOB_PEEK);
	rc = step(b, s);
	if (rc == SQLITE_ROW) {
		int64_t v = col_int(s, 0);

		*next = v > JOB_ID_MAX ? 0 : (uint32_t)v;
	} else {
		err = db_fail(st, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc,
			      "job_ids_peek");
	}
	sqlite3_reset(s);
	return err;
}

/* ---- events
 * ------------------------------------------------------------------- */

static int insert_event(struct fl_store *st, const struct fl_store_event *ev,
			int64_t at_s, const char *device, uint64_t *seq)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int64_t rkey = 0;
	int err;

	if (ev->rollout[0] != '\0') {
		err = rollout_key(st, ev->rollout, "event", &rkey);
		if (err != 0)
			return err;
	}
	s = use(b, S_EV_INSERT);
	bind_int(b, s, 1, at_s);
	bind_int(b, s, 2, ev->type);
	bind_int(b, s, 3, ev->kind);
	if (rkey != 0)
		bind_int(b, s, 4, rkey);
	else
		note(b, sqlite3_bind_null(s, 4));
	bind_opt_text(b, s, 5, device);
	bind_text(b, s, 6, ev->payload);
	err = exec_bound(st, s, "event", NULL);
	if (err == 0)
		*seq = (uint64_t)sqlite3_last_insert_rowid(b->db);
	return err;
}

static int sq_event_append(struct fl_store *st, const struct fl_store_event *ev,
			   uint64_t *seq)
{
	uint64_t n = 0;
	int err = enter(st, "event_append");

	if (err == 0)
		err = insert_event(st, ev, ev->at_s, ev->device, &n);
	if (err == 0 && seq != NULL)
		*seq = n;
	return err;
}

static int sq_event_last(struct fl_store *st, uint64_t *seq)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int rc, err = enter(st, "event_last");

	if (err != 0)
		return err;
	s = use(b, S_EV_LAST);
	rc = step(b, s);
	if (rc == SQLITE_ROW)
		*seq = (uint64_t)col_int(s, 0);
	else
		err = db_fail(st, rc, "event_last");
	sqlite3_reset(s);
	return err;
}

static void read_event(sqlite3_stmt *s, struct fl_store_event *e)
{
	e->seq = (uint64_t)col_int(s, 0);
	e->at_s = col_int(s, 1);
	e->type = col_u8(s, 2);
	e->kind = (uint16_t)col_int(s, 3);
	col_text(s, 4, e->rollout, sizeof(e->rollout));
	col_text(s, 5, e->device, sizeof(e->device));
	col_text(s, 6, e->payload, sizeof(e->payload));
}

static int sq_events_after(struct fl_store *st, const char *rollout,
			   uint64_t after_seq, unsigned limit,
			   fl_store_event_cb cb, void *ctx)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int64_t rkey = 0;
	int rc, err = enter(st, "events_after");

	if (err == 0 && rollout[0] != '\0')
		err = rollout_key(st, rollout, "events_after", &rkey);
	if (err != 0)
		return err;
	if (rollout[0] != '\0') {
		s = use(b, S_EV_ROLLOUT);
		bind_int(b, s, 1, rkey);
		bind_int(b, s, 2, (int64_t)after_seq);
		bind_int(b, s, 3, limit);
	} else {
		s = use(b, S_EV_AFTER);
		bind_int(b, s, 1, (int64_t)after_seq);
		bind_int(b, s, 2, limit);
	}
	while ((rc = step(b, s)) == SQLITE_ROW) {
		read_event(s, &b->rec.ev);
		err = cb(ctx, &b->rec.ev);
		if (err != 0)
			break;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = db_fail(st, rc, "events_after");
	sqlite3_reset(s);
	return err;
}

/* ---- reports
 * ------------------------------------------------------------------ */

/* Creates the device if new, raises its last seen time; sets *key. */
static int device_touch(struct fl_store *st, const char *id, int64_t at_s,
			int64_t *key)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s = use(b, S_DEV_TOUCH);
	int err;

	bind_text(b, s, 1, id);
	bind_int(b, s, 2, at_s);
	err = exec_bound(st, s, "report: device", NULL);
	if (err == 0)
		err = device_key(st, id, "report: device", key);
	return err;
}

static int device_seen(struct fl_store *st, const char *id, int64_t at_s)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s = use(b, S_DEV_SEEN);

	bind_text(b, s, 1, id);
	bind_int(b, s, 2, at_s);
	return exec_bound(st, s, "report: last seen", NULL);
}

static int write_presence(struct fl_store *st, int64_t key,
			  const struct fl_store_presence *p)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s = use(b, S_DEV_PRESENCE);

	bind_int(b, s, 1, key);
	bind_int(b, s, 2, p->is_online ? 1 : 0);
	bind_int(b, s, 3, p->boot);
	bind_int(b, s, 4, p->conn);
	return exec_bound(st, s, "report: presence", NULL);
}

static int write_inventory(struct fl_store *st, int64_t key, int64_t at_s,
			   const struct fl_store_inventory *inv)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s = use(b, S_DEV_SAME);
	int changes = 0;
	int err;

	/* a retained message sent again at every reconnect: the same JSON
	 * decodes to the same rows, so only its time moves */
	bind_int(b, s, 1, key);
	bind_int(b, s, 2, at_s);
	bind_text(b, s, 3, inv->json);
	err = exec_bound(st, s, "report: inventory", &changes);
	if (err != 0 || changes == 1)
		return err;

	s = use(b, S_DEV_INVENTORY);
	bind_int(b, s, 1, key);
	bind_text(b, s, 2, inv->model);
	bind_text(b, s, 3, inv->tz);
	bind_text(b, s, 4, inv->agent);
	bind_int(b, s, 5, inv->boot);
	bind_int(b, s, 6, inv->booted);
	bind_int(b, s, 7, (int64_t)inv->floor);
	bind_int(b, s, 8, inv->job);
	bind_int(b, s, 9, inv->job_state);
	bind_int(b, s, 10, inv->job_result);
	bind_int(b, s, 11, at_s);
	bind_text(b, s, 12, inv->json);
	err = exec_bound(st, s, "report: inventory", NULL);

	if (err == 0) {
		s = use(b, S_LABELS_CLEAR);
		bind_int(b, s, 1, key);
		err = exec_bound(st, s, "report: labels", NULL);
	}
	for (unsigned i = 0; err == 0 && i < inv->n_labels; i++) {
		s = use(b, S_LABEL_PUT);
		bind_int(b, s, 1, key);
		bind_int(b, s, 2, 0);
		bind_text(b, s, 3, inv->labels[i].key);
		bind_text(b, s, 4, inv->labels[i].value);
		err = exec_bound(st, s, "report: labels", NULL);
	}
	if (err == 0) {
		s = use(b, S_COMPONENTS_CLEAR);
		bind_int(b, s, 1, key);
		err = exec_bound(st, s, "report: components", NULL);
	}
	for (unsigned i = 0; err == 0 && i < inv->n_components; i++) {
		s = use(b, S_COMPONENT_PUT);
		bind_int(b, s, 1, key);
		bind_text(b, s, 2, inv->components[i].name);
		bind_text(b, s, 3, inv->components[i].version);
		err = exec_bound(st, s, "report: components", NULL);
	}
	if (err == 0) {
		s = use(b, S_SLOTS_CLEAR);
		bind_int(b, s, 1, key);
		err = exec_bound(st, s, "report: slots", NULL);
	}
	for (unsigned i = 0; err == 0 && i < inv->n_slots; i++) {
		s = use(b, S_SLOT_PUT);
		bind_int(b, s, 1, key);
		bind_int(b, s, 2, i);
		bind_int(b, s, 3, inv->slots[i].state);
		bind_text(b, s, 4, inv->slots[i].version);
		bind_int(b, s, 5, (int64_t)inv->slots[i].seq);
		err = exec_bound(st, s, "report: slots", NULL);
	}
	return err;
}

static int write_status(struct fl_store *st, const char *device, int64_t at_s,
			const struct fl_store_job_status *js)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s = use(b, S_JOB_STATUS);

	bind_int(b, s, 1, js->job);
	bind_int(b, s, 2, js->boot);
	bind_int(b, s, 3, js->n);
	bind_int(b, s, 4, js->phase);
	bind_int(b, s, 5, js->result);
	bind_int(b, s, 6, js->is_final ? 1 : 0);
	bind_text(b, s, 7, js->reason);
	bind_int(b, s, 8, js->bytes);
	bind_int(b, s, 9, js->total);
	bind_text(b, s, 10, js->version);
	bind_int(b, s, 11, at_s);
	bind_text(b, s, 12, device);
	return exec_bound(st, s, "report: status", NULL);
}

static int write_health(struct fl_store *st, const char *device, int64_t at_s,
			const char *json)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s = use(b, S_DEV_HEALTH);

	bind_text(b, s, 1, device);
	bind_text(b, s, 2, json);
	bind_int(b, s, 3, at_s);
	return exec_bound(st, s, "report: health", NULL);
}

static int write_report(struct fl_store *st, const struct fl_store_report *r,
			uint64_t *seq)
{
	int64_t key = 0;
	int err;

	switch (r->kind) {
	case FL_STORE_REPORT_PRESENCE:
		err = device_touch(st, r->device, r->at_s, &key);
		if (err == 0)
			err = write_presence(st, key, &r->u.presence);
		break;
	case FL_STORE_REPORT_INVENTORY:
		err = device_touch(st, r->device, r->at_s, &key);
		if (err == 0)
			err = write_inventory(st, key, r->at_s,
					      &r->u.inventory);
		break;
	case FL_STORE_REPORT_HEALTH:
		err = write_health(st, r->device, r->at_s, r->u.health.json);
		break;
	case FL_STORE_REPORT_STATUS:
		err = device_seen(st, r->device, r->at_s);
		if (err == 0)
			err = write_status(st, r->device, r->at_s,
					   &r->u.status);
		break;
	default: err = device_seen(st, r->device, r->at_s); break;
	}
	if (err == 0 && r->event.type != 0)
		err = insert_event(st, &r->event,
				   r->event.at_s != 0 ? r->event.at_s : r->at_s,
				   r->event.device[0] != '\0' ? r->event.device
							      : r->device,
				   seq);
	return err;
}

static int sq_reports_write(struct fl_store *st,
			    const struct fl_store_report *r, size_t n,
			    uint64_t *last_seq)
{
	struct op op;
	uint64_t seq = 0;
	int err = op_begin(st, &op, "reports_write", OP_WRITE);

	for (size_t i = 0; err == 0 && i < n; i++)
		err = write_report(st, &r[i], &seq);
	err = op_end(st, &op, err);
	if (err == 0 && seq != 0 && last_seq != NULL)
		*last_seq = seq;
	return err;
}

static int sq_label_set(struct fl_store *st, const char *device,
			const char *key, const char *value)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	struct op op;
	int64_t dkey = 0;
	int rc, err = op_begin(st, &op, "label_set", OP_WRITE);

	if (err == 0) { /* a device not seen yet may be labelled */
		s = use(b, S_DEV_UNSEEN);
		bind_text(b, s, 1, device);
		err = exec_bound(st, s, "label_set", NULL);
	}
	if (err == 0)
		err = device_key(st, device, "label_set", &dkey);
	if (err == 0) {
		s = use(b, S_LABEL_COUNT);
		bind_int(b, s, 1, dkey);
		bind_text(b, s, 2, key);
		rc = step(b, s);
		if (rc != SQLITE_ROW)
			err = db_fail(st, rc, "label_set");
		else if (col_int(s, 0) >= FL_STORE_SERVER_LABELS &&
			 col_int(s, 1) == 0)
			err = fail(st, FL_ETOOBIG,
				   "label_set: '%s' has %d server labels "
				   "already",
				   device, FL_STORE_SERVER_LABELS);
		sqlite3_reset(s);
	}
	if (err == 0) {
		s = use(b, S_LABEL_PUT);
		bind_int(b, s, 1, dkey);
		bind_int(b, s, 2, 1);
		bind_text(b, s, 3, key);
		bind_text(b, s, 4, value);
		err = exec_bound(st, s, "label_set", NULL);
	}
	return op_end(st, &op, err);
}

static int sq_label_unset(struct fl_store *st, const char *device,
			  const char *key)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int64_t dkey = 0;
	int err = enter(st, "label_unset");

	if (err == 0)
		err = device_key(st, device, "label_unset", &dkey);
	if (err != 0)
		return err;
	s = use(b, S_LABEL_DELETE);
	bind_int(b, s, 1, dkey);
	bind_text(b, s, 2, key);
	return exec_bound(st, s, "label_unset", NULL);
}

/* ---- devices
 * ------------------------------------------------------------------ */

/* Fills d from a row of DEV_COLS and the device's labels, components and
 * slots. */
static int read_device(struct fl_store *st, sqlite3_stmt *row,
		       struct fl_store_device *d, const char *what)
{
	struct sq *b = SQ(st);
	int64_t key = col_int(row, 0);
	sqlite3_stmt *s;
	int rc, err = 0;

	memset(d, 0, sizeof(*d));
	col_text(row, 1, d->id, sizeof(d->id));
	col_text(row, 2, d->model, sizeof(d->model));
	col_text(row, 3, d->tz, sizeof(d->tz));
	col_text(row, 4, d->agent, sizeof(d->agent));
	d->first_seen_s = col_int(row, 5);
	d->last_seen_s = col_int(row, 6);
	d->is_online = col_int(row, 7) != 0;
	d->presence_boot = col_u32(row, 8);
	d->presence_conn = col_u32(row, 9);
	d->reported_at_s = col_int(row, 10);
	d->boot = col_u32(row, 11);
	d->booted = col_u8(row, 12);
	d->floor = (uint64_t)col_int(row, 13);
	d->job = col_u32(row, 14);
	d->job_state = col_u8(row, 15);
	d->job_result = col_u8(row, 16);
	col_text(row, 17, d->reported, sizeof(d->reported));
	d->health_at_s = col_int(row, 18);
	col_text(row, 19, d->health, sizeof(d->health));
	col_text(row, 20, d->rollout, sizeof(d->rollout));
	d->rollout_status = col_u8(row, 21);

	s = use(b, S_DEV_LABELS);
	bind_int(b, s, 1, key);
	while ((rc = step(b, s)) == SQLITE_ROW &&
	       d->n_labels < FL_STORE_LABELS) {
		struct fl_store_label *l = &d->labels[d->n_labels++];

		col_text(s, 0, l->key, sizeof(l->key));
		col_text(s, 1, l->value, sizeof(l->value));
		l->is_server = col_u8(s, 2);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = db_fail(st, rc, what);
	sqlite3_reset(s);
	if (err != 0)
		return err;

	s = use(b, S_DEV_COMPONENTS);
	bind_int(b, s, 1, key);
	while ((rc = step(b, s)) == SQLITE_ROW &&
	       d->n_components < FL_STORE_COMPONENTS) {
		struct fl_store_component *c =
			&d->components[d->n_components++];

		col_text(s, 0, c->name, sizeof(c->name));
		col_text(s, 1, c->version, sizeof(c->version));
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = db_fail(st, rc, what);
	sqlite3_reset(s);
	if (err != 0)
		return err;

	s = use(b, S_DEV_SLOTS);
	bind_int(b, s, 1, key);
	while ((rc = step(b, s)) == SQLITE_ROW && d->n_slots < FL_STORE_SLOTS) {
		struct fl_store_slot *sl = &d->slots[d->n_slots++];

		sl->state = col_u8(s, 1);
		col_text(s, 2, sl->version, sizeof(sl->version));
		sl->seq = (uint64_t)col_int(s, 3);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = db_fail(st, rc, what);
	sqlite3_reset(s);
	return err;
}

static int sq_device_get(struct fl_store *st, const char *id,
			 struct fl_store_device *out)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	struct op op;
	int rc, err = op_begin(st, &op, "device_get", OP_READ);

	if (err != 0)
		return err;
	s = use(b, S_DEV_GET);
	bind_text(b, s, 1, id);
	rc = step(b, s);
	if (rc == SQLITE_ROW)
		err = read_device(st, s, out, "device_get");
	else if (rc == SQLITE_DONE)
		err = fail(st, FL_ENOENT, "device_get: no device '%s'", id);
	else
		err = db_fail(st, rc, "device_get");
	sqlite3_reset(s);
	return op_end(st, &op, err);
}

static int sq_device_list(struct fl_store *st,
			  const struct fl_store_device_filter *f,
			  const char *after_id, unsigned limit,
			  fl_store_device_cb cb, void *ctx)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	struct op op;
	int rc, err = op_begin(st, &op, "device_list", OP_READ);

	if (err != 0)
		return err;
	s = use(b, S_DEV_LIST);
	bind_text(b, s, 1, after_id);
	bind_opt_text(b, s, 2, f != NULL ? f->model : NULL);
	bind_int(b, s, 3, f != NULL ? f->online : -1);
	for (unsigned i = 0; i < FL_STORE_FILTER_LABELS; i++) {
		bool is_set = f != NULL && i < f->n_labels;

		bind_opt_text(b, s, 4 + 2 * (int)i,
			      is_set ? f->labels[i].key : NULL);
		if (is_set)
			bind_text(b, s, 5 + 2 * (int)i, f->labels[i].value);
		else
			note(b, sqlite3_bind_null(s, 5 + 2 * (int)i));
	}
	bind_int(b, s, 12, limit);
	while ((rc = step(b, s)) == SQLITE_ROW) {
		err = read_device(st, s, &b->rec.dev, "device_list");
		if (err == 0)
			err = cb(ctx, &b->rec.dev);
		if (err != 0)
			break;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = db_fail(st, rc, "device_list");
	sqlite3_reset(s);
	return walk_end(st, &op, err);
}

/* ---- artifacts
 * ---------------------------------------------------------------- */

static int sq_artifact_put(struct fl_store *st,
			   const struct fl_store_artifact *a)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int changes = 0;
	int err = enter(st, "artifact_put");

	if (err != 0)
		return err;
	s = use(b, S_ART_PUT);
	bind_text(b, s, 1, a->sha256);
	bind_text(b, s, 2, a->path);
	bind_int(b, s, 3, (int64_t)a->length);
	bind_text(b, s, 4, a->manifest);
	bind_int(b, s, 5, a->created_at_s);
	err = exec_bound(st, s, "artifact_put", &changes);
	if (err == 0 && changes == 0)
		err = fail(st, FL_ESTATE,
			   "artifact_put: %s is stored with another length",
			   a->sha256);
	return err;
}

static int sq_artifact_get(struct fl_store *st, const char *sha256,
			   struct fl_store_artifact *out)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int rc, err = enter(st, "artifact_get");

	if (err != 0)
		return err;
	s = use(b, S_ART_GET);
	bind_text(b, s, 1, sha256);
	rc = step(b, s);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		col_text(s, 0, out->sha256, sizeof(out->sha256));
		col_text(s, 1, out->path, sizeof(out->path));
		out->length = (uint64_t)col_int(s, 2);
		col_text(s, 3, out->manifest, sizeof(out->manifest));
		out->created_at_s = col_int(s, 4);
	} else if (rc == SQLITE_DONE) {
		err = fail(st, FL_ENOENT, "artifact_get: no artifact %s",
			   sha256);
	} else {
		err = db_fail(st, rc, "artifact_get");
	}
	sqlite3_reset(s);
	return err;
}

/* ---- rollouts
 * ----------------------------------------------------------------- */

static int sq_rollout_create(struct fl_store *st,
			     const struct fl_store_rollout *r, const char *plan,
			     size_t plan_len)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	struct op op;
	int64_t key = 0;
	int rc, err = op_begin(st, &op, "rollout_create", OP_WRITE);

	if (err != 0)
		return err;
	s = use(b, S_RO_INSERT);
	bind_text(b, s, 1, r->name);
	note(b, sqlite3_bind_text(s, 2, plan, (int)plan_len, SQLITE_STATIC));
	bind_text(b, s, 3, r->plan_sha256);
	bind_text(b, s, 4, r->artifact_sha256);
	bind_text(b, s, 5, r->component);
	bind_text(b, s, 6, r->version);
	bind_int(b, s, 7, r->created_at_s);
	rc = step(b, s);
	if (rc == SQLITE_DONE)
		key = sqlite3_last_insert_rowid(b->db);
	else if (rc == SQLITE_CONSTRAINT_UNIQUE)
		err = fail(st, FL_EBUSY,
			   "rollout_create: a rollout named '%s' exists",
			   r->name);
	else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		err = fail(st, FL_ENOENT,
			   "rollout_create: artifact %s is not stored",
			   r->artifact_sha256);
	else
		err = db_fail(st, rc, "rollout_create");
	sqlite3_reset(s);
	for (unsigned i = 0; err == 0 && i < r->n_stages; i++) {
		s = use(b, S_STAGE_INSERT);
		bind_int(b, s, 1, key);
		bind_int(b, s, 2, i);
		bind_text(b, s, 3, r->stages[i].name);
		err = exec_bound(st, s, "rollout_create: stage", NULL);
	}
	return op_end(st, &op, err);
}

static int sq_rollout_start(struct fl_store *st, const char *name,
			    const char *who, int64_t at_s)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int64_t key;
	int changes = 0;
	int err = enter(st, "rollout_start");

	if (err != 0)
		return err;
	s = use(b, S_RO_START);
	bind_text(b, s, 1, name);
	bind_int(b, s, 2, at_s);
	bind_text(b, s, 3, who);
	err = exec_bound(st, s, "rollout_start", &changes);
	if (err == 0 && changes == 0) {
		err = rollout_key(st, name, "rollout_start", &key);
		if (err == 0)
			err = fail(st, FL_ESTATE,
				   "rollout_start: '%s' was started already",
				   name);
	}
	return err;
}

static int sq_rollout_set_state(struct fl_store *st, const char *name,
				unsigned state, bool is_paused, bool is_ended,
				int64_t at_s)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int changes = 0;
	int err = enter(st, "rollout_set_state");

	if (err != 0)
		return err;
	s = use(b, S_RO_STATE);
	bind_text(b, s, 1, name);
	bind_int(b, s, 2, state);
	bind_int(b, s, 3, is_paused ? 1 : 0);
	bind_int(b, s, 4, is_ended ? 1 : 0);
	bind_int(b, s, 5, at_s);
	err = exec_bound(st, s, "rollout_set_state", &changes);
	if (err == 0 && changes == 0)
		err = fail(st, FL_ENOENT, "rollout_set_state: no rollout '%s'",
			   name);
	return err;
}

static int sq_stage_set(struct fl_store *st, const char *rollout,
			unsigned stage, unsigned state, bool is_overridden,
			int64_t started_at_s, int64_t ended_at_s)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int changes = 0;
	int err = enter(st, "stage_set");

	if (err != 0)
		return err;
	s = use(b, S_STAGE_SET);
	bind_text(b, s, 1, rollout);
	bind_int(b, s, 2, stage);
	bind_int(b, s, 3, state);
	bind_int(b, s, 4, is_overridden ? 1 : 0);
	bind_int(b, s, 5, started_at_s);
	bind_int(b, s, 6, ended_at_s);
	err = exec_bound(st, s, "stage_set", &changes);
	if (err == 0 && changes == 0)
		err = fail(st, FL_ENOENT, "stage_set: no stage %u of '%s'",
			   stage, rollout);
	return err;
}

static void read_rollout(sqlite3_stmt *s, struct fl_store_rollout *r)
{
	memset(r, 0, sizeof(*r));
	r->id = (uint64_t)col_int(s, 0);
	col_text(s, 1, r->name, sizeof(r->name));
	col_text(s, 2, r->plan_sha256, sizeof(r->plan_sha256));
	col_text(s, 3, r->artifact_sha256, sizeof(r->artifact_sha256));
	col_text(s, 4, r->component, sizeof(r->component));
	col_text(s, 5, r->version, sizeof(r->version));
	r->state = col_u8(s, 6);
	r->is_paused = col_int(s, 7) != 0;
	r->created_at_s = col_int(s, 8);
	r->started_at_s = col_int(s, 9);
	r->ended_at_s = col_int(s, 10);
	col_text(s, 11, r->started_by, sizeof(r->started_by));
}

/* Reads the stages of rollout r (r->id), and with is_counted the members
 * per stage and status. */
static int read_stages(struct fl_store *st, struct fl_store_rollout *r,
		       bool is_counted, const char *what)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s = use(b, S_RO_STAGES);
	int rc, err = 0;

	bind_int(b, s, 1, (int64_t)r->id);
	while ((rc = step(b, s)) == SQLITE_ROW) {
		int64_t i = col_int(s, 0);
		struct fl_store_stage *g;

		if (i < 0 || i >= FL_STORE_STAGES)
			continue;
		g = &r->stages[i];
		col_text(s, 1, g->name, sizeof(g->name));
		g->state = col_u8(s, 2);
		g->is_overridden = col_int(s, 3) != 0;
		g->started_at_s = col_int(s, 4);
		g->ended_at_s = col_int(s, 5);
		if ((unsigned)i + 1 > r->n_stages)
			r->n_stages = (unsigned)i + 1;
	}
	if (rc != SQLITE_DONE)
		err = db_fail(st, rc, what);
	sqlite3_reset(s);
	if (err != 0 || !is_counted)
		return err;

	s = use(b, S_RO_COUNTS);
	bind_int(b, s, 1, (int64_t)r->id);
	while ((rc = step(b, s)) == SQLITE_ROW) {
		int64_t i = col_int(s, 0), status = col_int(s, 1);
		uint32_t n = col_u32(s, 2);

		if (i < 0 || i >= FL_STORE_STAGES)
			continue;
		r->stages[i].members += n;
		if (status >= 0 && status < FL_STORE_STATUS_MAX)
			r->stages[i].count[status] += n;
	}
	if (rc != SQLITE_DONE)
		err = db_fail(st, rc, what);
	sqlite3_reset(s);
	return err;
}

static int sq_rollout_get(struct fl_store *st, const char *name,
			  struct fl_store_rollout *out)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	struct op op;
	int rc, err = op_begin(st, &op, "rollout_get", OP_READ);

	if (err != 0)
		return err;
	s = use(b, S_RO_GET);
	bind_text(b, s, 1, name);
	rc = step(b, s);
	if (rc == SQLITE_ROW)
		read_rollout(s, out);
	else if (rc == SQLITE_DONE)
		err = fail(st, FL_ENOENT, "rollout_get: no rollout '%s'", name);
	else
		err = db_fail(st, rc, "rollout_get");
	sqlite3_reset(s);
	if (err == 0)
		err = read_stages(st, out, true, "rollout_get");
	return op_end(st, &op, err);
}

static int sq_rollout_plan(struct fl_store *st, const char *name, char *out,
			   size_t cap, size_t *len)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int rc, err = enter(st, "rollout_plan");

	if (err != 0)
		return err;
	s = use(b, S_RO_PLAN);
	bind_text(b, s, 1, name);
	rc = step(b, s);
	if (rc == SQLITE_ROW) {
		const void *t = sqlite3_column_text(s, 0);
		size_t n = (size_t)sqlite3_column_bytes(s, 0);

		*len = n;
		if (n >= cap)
			err = fail(st, FL_ETOOBIG,
				   "rollout_plan: %zu bytes, buffer %zu", n,
				   cap);
		else if (t == NULL && n > 0)
			err = fail(st, FL_ENOMEM, "rollout_plan: no memory");
		else {
			if (n > 0)
				memcpy(out, t, n);
			out[n] = '\0';
		}
	} else if (rc == SQLITE_DONE) {
		err = fail(st, FL_ENOENT, "rollout_plan: no rollout '%s'",
			   name);
	} else {
		err = db_fail(st, rc, "rollout_plan");
	}
	sqlite3_reset(s);
	return err;
}

static int sq_rollout_list(struct fl_store *st, uint64_t after_id,
			   unsigned limit, fl_store_rollout_cb cb, void *ctx)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	struct op op;
	int rc, err = op_begin(st, &op, "rollout_list", OP_READ);

	if (err != 0)
		return err;
	s = use(b, S_RO_LIST);
	bind_int(b, s, 1, (int64_t)after_id);
	bind_int(b, s, 2, limit);
	while ((rc = step(b, s)) == SQLITE_ROW) {
		read_rollout(s, &b->rec.ro);
		err = read_stages(st, &b->rec.ro, false, "rollout_list");
		if (err == 0)
			err = cb(ctx, &b->rec.ro);
		if (err != 0)
			break;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = db_fail(st, rc, "rollout_list");
	sqlite3_reset(s);
	return walk_end(st, &op, err);
}

/* ---- members and jobs
 * --------------------------------------------------------- */

static int sq_member_set(struct fl_store *st, const struct fl_store_member *m)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int64_t key;
	int rc, err = enter(st, "member_set");

	if (err != 0)
		return err;
	s = use(b, S_MEMBER_SET);
	bind_text(b, s, 1, m->rollout);
	bind_text(b, s, 2, m->device);
	bind_int(b, s, 3, m->stage);
	bind_int(b, s, 4, m->status);
	bind_int(b, s, 5, m->progress);
	bind_int(b, s, 6, m->rollback);
	bind_int(b, s, 7, m->fail_reason);
	bind_int(b, s, 8, m->offered_at_s);
	bind_int(b, s, 9, m->committed_at_s);
	bind_int(b, s, 10, m->updated_at_s);
	rc = step(b, s);
	if (rc == SQLITE_DONE && sqlite3_changes(b->db) == 1) {
		sqlite3_reset(s);
		return 0;
	}
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		err = fail(st, FL_ENOENT, "member_set: no stage %u of '%s'",
			   (unsigned)m->stage, m->rollout);
	else if (rc != SQLITE_DONE)
		err = db_fail(st, rc, "member_set");
	sqlite3_reset(s);
	if (err != 0)
		return err;
	/* nothing inserted: the rollout or the device is missing */
	err = rollout_key(st, m->rollout, "member_set", &key);
	if (err == 0)
		err = device_key(st, m->device, "member_set", &key);
	return err != 0 ? err
			: fail(st, FL_EIO, "member_set: nothing was written");
}

static int sq_job_create(struct fl_store *st, const char *rollout,
			 const char *device, unsigned type, int64_t issued_at_s,
			 int64_t expires_at_s, uint32_t *job)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	struct op op;
	int64_t rkey = 0, dkey = 0, id = 0;
	int rc, err = op_begin(st, &op, "job_create", OP_WRITE);

	if (err != 0)
		return err;
	s = use(b, S_MEMBER_KEYS);
	bind_text(b, s, 1, rollout);
	bind_text(b, s, 2, device);
	rc = step(b, s);
	if (rc == SQLITE_ROW) {
		rkey = col_int(s, 0);
		dkey = col_int(s, 1);
	} else if (rc == SQLITE_DONE) {
		err = fail(st, FL_ENOENT,
			   "job_create: '%s' is not a member of '%s'", device,
			   rollout);
	} else {
		err = db_fail(st, rc, "job_create");
	}
	sqlite3_reset(s);

	if (err == 0) {
		s = use(b, S_JOB_PEEK);
		rc = step(b, s);
		if (rc == SQLITE_ROW)
			id = col_int(s, 0);
		else
			err = db_fail(st,
				      rc == SQLITE_DONE ? SQLITE_CORRUPT : rc,
				      "job_create");
		sqlite3_reset(s);
	}
	if (err == 0) {
		int changes = 0;

		s = use(b, S_JOB_TAKE);
		bind_int(b, s, 1, id);
		err = exec_bound(st, s, "job_create", &changes);
		if (err == 0 && changes != 1)
			err = fail(st, FL_ETOOBIG,
				   "job_create: job ids are exhausted");
	}
	if (err == 0) {
		s = use(b, S_JOB_INSERT);
		bind_int(b, s, 1, id);
		bind_int(b, s, 2, rkey);
		bind_int(b, s, 3, dkey);
		bind_int(b, s, 4, type);
		bind_int(b, s, 5, issued_at_s);
		bind_int(b, s, 6, expires_at_s);
		err = exec_bound(st, s, "job_create", NULL);
	}
	if (err == 0) {
		s = use(b, S_MEMBER_JOB);
		bind_int(b, s, 1, rkey);
		bind_int(b, s, 2, dkey);
		bind_int(b, s, 3, id);
		bind_int(b, s, 4, type);
		err = exec_bound(st, s, "job_create", NULL);
	}
	err = op_end(st, &op, err);
	if (err == 0)
		*job = (uint32_t)id;
	return err;
}

static void read_job(sqlite3_stmt *s, struct fl_store_job *out)
{
	memset(out, 0, sizeof(*out));
	out->job = col_u32(s, 0);
	col_text(s, 1, out->rollout, sizeof(out->rollout));
	col_text(s, 2, out->device, sizeof(out->device));
	out->type = col_u8(s, 3);
	out->issued_at_s = col_int(s, 4);
	out->expires_at_s = col_int(s, 5);
	out->phase = (int16_t)col_int(s, 6);
	out->result = col_u8(s, 7);
	out->is_final = col_int(s, 8) != 0;
	col_text(s, 9, out->reason, sizeof(out->reason));
	out->bytes = col_u32(s, 10);
	out->total = col_u32(s, 11);
	col_text(s, 12, out->version, sizeof(out->version));
	out->status_boot = col_u32(s, 13);
	out->status_n = col_u32(s, 14);
	out->updated_at_s = col_int(s, 15);
	out->ended_at_s = col_int(s, 16);
}

static int sq_job_get(struct fl_store *st, uint32_t job,
		      struct fl_store_job *out)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int rc, err = enter(st, "job_get");

	if (err != 0)
		return err;
	s = use(b, S_JOB_GET);
	bind_int(b, s, 1, job);
	rc = step(b, s);
	if (rc == SQLITE_ROW)
		read_job(s, out);
	else if (rc == SQLITE_DONE)
		err = fail(st, FL_ENOENT, "job_get: no job %u", (unsigned)job);
	else
		err = db_fail(st, rc, "job_get");
	sqlite3_reset(s);
	return err;
}

static int sq_job_list(struct fl_store *st, const char *device,
		       uint32_t before_job, unsigned limit, fl_store_job_cb cb,
		       void *ctx)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int64_t dkey = 0;
	int rc, err = enter(st, "job_list");

	if (err == 0)
		err = device_key(st, device, "job_list", &dkey);
	if (err != 0)
		return err;
	s = use(b, S_JOB_LIST);
	bind_int(b, s, 1, dkey);
	bind_int(b, s, 2,
		 before_job != 0 ? (int64_t)before_job : JOB_ID_MAX + 1);
	bind_int(b, s, 3, limit);
	while ((rc = step(b, s)) == SQLITE_ROW) {
		read_job(s, &b->rec.job);
		err = cb(ctx, &b->rec.job);
		if (err != 0)
			break;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = db_fail(st, rc, "job_list");
	sqlite3_reset(s);
	return err;
}

static void read_member(sqlite3_stmt *s, const char *rollout,
			struct fl_store_member *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->rollout, sizeof(m->rollout), "%s", rollout);
	col_text(s, 0, m->device, sizeof(m->device));
	m->device_key = (uint64_t)col_int(s, 1);
	m->stage = (uint16_t)col_int(s, 2);
	m->status = col_u8(s, 3);
	m->progress = col_u8(s, 4);
	m->rollback = col_u8(s, 5);
	m->fail_reason = col_u8(s, 6);
	m->offered_at_s = col_int(s, 7);
	m->committed_at_s = col_int(s, 8);
	m->updated_at_s = col_int(s, 9);
	m->job = col_u32(s, 10);
	m->rollback_job = col_u32(s, 11);
	m->phase = (int16_t)col_int(s, 12);
	m->result = col_u8(s, 13);
	col_text(s, 14, m->reason, sizeof(m->reason));
	m->bytes = col_u32(s, 15);
	m->total = col_u32(s, 16);
	col_text(s, 17, m->version, sizeof(m->version));
	m->rb_phase = (int16_t)col_int(s, 18);
	m->rb_result = col_u8(s, 19);
	col_text(s, 20, m->rb_reason, sizeof(m->rb_reason));
}

static int sq_member_list(struct fl_store *st, const char *rollout,
			  const struct fl_store_member_filter *f,
			  uint64_t after_key, unsigned limit,
			  fl_store_member_cb cb, void *ctx)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	struct op op;
	int64_t rkey = 0;
	int rc, err = op_begin(st, &op, "member_list", OP_READ);

	if (err == 0)
		err = rollout_key(st, rollout, "member_list", &rkey);
	if (err != 0)
		return op_end(st, &op, err);
	s = use(b, S_MEMBER_LIST);
	bind_int(b, s, 1, rkey);
	bind_int(b, s, 2, (int64_t)after_key);
	bind_int(b, s, 3, f != NULL ? f->stage : -1);
	bind_int(b, s, 4, f != NULL ? f->status : -1);
	bind_int(b, s, 5, limit);
	while ((rc = step(b, s)) == SQLITE_ROW) {
		read_member(s, rollout, &b->rec.mem);
		err = cb(ctx, &b->rec.mem);
		if (err != 0)
			break;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = db_fail(st, rc, "member_list");
	sqlite3_reset(s);
	return walk_end(st, &op, err);
}

/* ---- approvals
 * ---------------------------------------------------------------- */

static int sq_approval_add(struct fl_store *st, const char *rollout,
			   const char *what, bool is_hold, const char *who,
			   int64_t at_s, uint64_t *id)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int64_t rkey = 0;
	int err = enter(st, "approval_add");

	if (err == 0)
		err = rollout_key(st, rollout, "approval_add", &rkey);
	if (err != 0)
		return err;
	s = use(b, S_APPROVAL_ADD);
	bind_int(b, s, 1, rkey);
	bind_text(b, s, 2, what);
	bind_int(b, s, 3, is_hold ? 1 : 0);
	bind_text(b, s, 4, who);
	bind_int(b, s, 5, at_s);
	err = exec_bound(st, s, "approval_add", NULL);
	if (err == 0 && id != NULL)
		*id = (uint64_t)sqlite3_last_insert_rowid(b->db);
	return err;
}

static int sq_approval_list(struct fl_store *st, const char *rollout,
			    uint64_t after_id, unsigned limit,
			    fl_store_approval_cb cb, void *ctx)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int64_t rkey = 0;
	int rc, err = enter(st, "approval_list");

	if (err == 0)
		err = rollout_key(st, rollout, "approval_list", &rkey);
	if (err != 0)
		return err;
	s = use(b, S_APPROVAL_LIST);
	bind_int(b, s, 1, rkey);
	bind_int(b, s, 2, (int64_t)after_id);
	bind_int(b, s, 3, limit);
	while ((rc = step(b, s)) == SQLITE_ROW) {
		struct fl_store_approval *a = &b->rec.ap;

		memset(a, 0, sizeof(*a));
		a->id = (uint64_t)col_int(s, 0);
		snprintf(a->rollout, sizeof(a->rollout), "%s", rollout);
		col_text(s, 1, a->what, sizeof(a->what));
		a->is_hold = col_int(s, 2) != 0;
		col_text(s, 3, a->who, sizeof(a->who));
		a->at_s = col_int(s, 4);
		err = cb(ctx, a);
		if (err != 0)
			break;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = db_fail(st, rc, "approval_list");
	sqlite3_reset(s);
	return err;
}

/* ---- API tokens ------------------------------------------------------------
 */

static int sq_token_add(struct fl_store *st, const struct fl_store_token *t)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int err = enter(st, "token_add");

	if (err != 0)
		return err;
	s = use(b, S_TOKEN_ADD);
	bind_text(b, s, 1, t->name);
	bind_text(b, s, 2, t->role);
	bind_text(b, s, 3, t->hash);
	bind_int(b, s, 4, t->created_at_s);
	err = exec_bound(st, s, "token_add", NULL);
	if (err == FL_EBUSY)
		err = fail(st, FL_EBUSY, "token_add: a token named '%s' exists",
			   t->name);
	return err;
}

static void token_row(sqlite3_stmt *s, struct fl_store_token *t)
{
	memset(t, 0, sizeof(*t));
	col_text(s, 0, t->name, sizeof(t->name));
	col_text(s, 1, t->role, sizeof(t->role));
	col_text(s, 2, t->hash, sizeof(t->hash));
	t->created_at_s = col_int(s, 3);
	t->revoked_at_s = col_int(s, 4);
}

static int sq_token_get(struct fl_store *st, const char *name,
			struct fl_store_token *out)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int rc, err = enter(st, "token_get");

	if (err != 0)
		return err;
	s = use(b, S_TOKEN_GET);
	bind_text(b, s, 1, name);
	rc = step(b, s);
	if (rc == SQLITE_ROW)
		token_row(s, out);
	else if (rc == SQLITE_DONE)
		err = fail(st, FL_ENOENT, "token_get: no token '%s'", name);
	else
		err = db_fail(st, rc, "token_get");
	sqlite3_reset(s);
	return err;
}

static int sq_token_revoke(struct fl_store *st, const char *name, int64_t at_s)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int changes = 0, err = enter(st, "token_revoke");

	if (err != 0)
		return err;
	s = use(b, S_TOKEN_REVOKE);
	bind_text(b, s, 1, name);
	bind_int(b, s, 2, at_s);
	err = exec_bound(st, s, "token_revoke", &changes);
	if (err == 0 && changes == 0)
		err = fail(st, FL_ENOENT, "token_revoke: no token '%s'", name);
	return err;
}

static int sq_token_list(struct fl_store *st, const char *after_name,
			 unsigned limit, fl_store_token_cb cb, void *ctx)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s;
	int rc, err = enter(st, "token_list");

	if (err != 0)
		return err;
	s = use(b, S_TOKEN_LIST);
	bind_text(b, s, 1, after_name);
	bind_int(b, s, 2, limit);
	while ((rc = step(b, s)) == SQLITE_ROW) {
		token_row(s, &b->rec.tok);
		err = cb(ctx, &b->rec.tok);
		if (err != 0)
			break;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = db_fail(st, rc, "token_list");
	sqlite3_reset(s);
	return err;
}

/* ---- open: checks, migrations, statements
 * ------------------------------------- */

/* Refuses, before SQLite touches it, a path that is not a regular file or
 * a non-empty file without the SQLite header. A missing or empty file is
 * a new store. */
static int check_file(struct fl_store *st, const char *path)
{
	static const char magic[16] = "SQLite format 3";
	char head[100];
	struct stat sb;
	ssize_t n;
	int fd;

	if (stat(path, &sb) != 0)
		return errno == ENOENT ? 0
				       : fail(st, FL_EIO, "open %s: %s", path,
					      strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return fail(st, FL_EINVAL, "open %s: not a regular file", path);
	if (sb.st_size == 0)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(st, FL_EIO, "open %s: %s", path, strerror(errno));
	n = read(fd, head, sizeof(head));
	close(fd);
	if (n != (ssize_t)sizeof(head) || memcmp(head, magic, 16) != 0)
		return fail(st, FL_ECORRUPT,
			    "open %s: not an SQLite database (refused, left "
			    "untouched)",
			    path);
	return 0;
}

/* Runs one SQL text (no rows wanted) with fault injection. */
static int exec_sql(struct fl_store *st, const char *text, const char *what)
{
	struct sq *b = SQ(st);
	char *msg = NULL;
	int rc;

	if (b->fail_at != 0 && --b->fail_at == 0) {
		b->is_injected = true;
		return db_fail(st, SQLITE_IOERR, what);
	}
	rc = sqlite3_exec(b->db, text, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		fail(st, map_rc(rc), "%s: %s (%s)", what,
		     msg != NULL ? msg : sqlite3_errmsg(b->db),
		     sqlite3_errstr(rc));
		sqlite3_free(msg);
		return map_rc(rc);
	}
	return 0;
}

/* Reads one integer from a one-off query, with fault injection. */
static int query_int(struct fl_store *st, const char *text, const char *what,
		     int64_t *out)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s = NULL;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(b->db, text, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_fail(st, rc, what);
	rc = step(b, s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else
		err = db_fail(st, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc,
			      what);
	sqlite3_finalize(s);
	return err;
}

/* Switches to WAL mode (kept in the file: a no-op once done) and checks
 * that SQLite agreed. */
static int journal_wal(struct fl_store *st, const char *path)
{
	struct sq *b = SQ(st);
	sqlite3_stmt *s = NULL;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(b->db, "PRAGMA journal_mode = WAL", -1, &s,
				NULL);
	if (rc != SQLITE_OK)
		return db_fail(st, rc, "open: WAL mode");
	rc = step(b, s);
	if (rc != SQLITE_ROW)
		err = db_fail(st, rc == SQLITE_DONE ? SQLITE_CANTOPEN : rc,
			      "open: WAL mode");
	else if (sqlite3_column_text(s, 0) == NULL ||
		 strcmp((const char *)sqlite3_column_text(s, 0), "wal") != 0)
		err = fail(st, FL_ENOTSUP,
			   "open %s: WAL mode is not available here", path);
	sqlite3_finalize(s);
	return err;
}

/* Runs migration steps from the version in force up to `target`, one
 * transaction each; the version is read again inside each transaction, so
 * two processes opening the same file at once do not both run a step. */
static int migrate(struct fl_store *st, unsigned target)
{
	for (;;) {
		int64_t v = 0;
		char bump[64];
		int err = exec_sql(st, "BEGIN IMMEDIATE", "migrate");

		if (err == 0)
			err = query_int(st, "PRAGMA user_version", "migrate",
					&v);
		if (err == 0 && v >= (int64_t)target) {
			err = exec_sql(st, "COMMIT", "migrate");
			if (err == 0)
				return 0;
		}
		if (err == 0 && v < 0)
			err = fail(st, FL_ECORRUPT,
				   "migrate: schema version %lld",
				   (long long)v);
		if (err == 0) {
			char what[64];

			snprintf(what, sizeof(what), "migrate to version %lld",
				 (long long)v + 1);
			err = exec_sql(st, fl_store__migrations[v], what);
			snprintf(bump, sizeof(bump),
				 "PRAGMA user_version = %lld",
				 (long long)v + 1);
			if (err == 0)
				err = exec_sql(st, bump, what);
			if (err == 0)
				err = exec_sql(st, "COMMIT", what);
		}
		if (err != 0) {
			if (!sqlite3_get_autocommit(SQ(st)->db))
				sqlite3_exec(SQ(st)->db, "ROLLBACK", NULL, NULL,
					     NULL);
			return err;
		}
	}
}

/* Syncs the directory holding path, so that a new database file's name
 * survives a power cut. A file system that cannot sync a directory
 * (EINVAL) is left alone. */
static int sync_dir(struct fl_store *st, const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, err = 0;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fsync(fd) != 0 && errno != EINVAL)
		err = fail(st, FL_EIO, "open: sync %s: %s", dir,
			   strerror(errno));
	close(fd);
	return err;
}

/* Everything after the file check; st->ctx is the backend state. */
static int open_db(struct fl_store *st, const char *path,
		   const struct fl_store_sqlite_options *opt)
{
	struct sq *b = SQ(st);
	unsigned target =
		opt->migrate_to != 0 ? opt->migrate_to : FL_STORE_SQLITE_SCHEMA;
	int64_t app_id = 0, version = 0, n_schema = 0, fk = 0;
	int rc, err;

	rc = sqlite3_open_v2(path, &b->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		if (b->db == NULL)
			return fail(st, FL_ENOMEM, "open %s: no memory", path);
		return fail(st, rc == SQLITE_NOMEM ? FL_ENOMEM : FL_EIO,
			    "open %s: %s", path, sqlite3_errmsg(b->db));
	}
	sqlite3_extended_result_codes(b->db, 1);
	sqlite3_busy_timeout(b->db, opt->busy_timeout_ms != 0
					    ? (int)opt->busy_timeout_ms
					    : 5000);
	sqlite3_db_config(b->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);

	/* read only, before any write: is it a store, and which version? */
	err = query_int(st, "PRAGMA application_id", "open", &app_id);
	if (err == 0)
		err = query_int(st, "PRAGMA user_version", "open", &version);
	if (err == 0)
		err = query_int(st,
				"SELECT count(*) FROM sqlite_schema WHERE "
				"sql IS NOT NULL OR type = 'table'",
				"open: read the schema", &n_schema);
	if (err == FL_ECORRUPT)
		return fail(st, FL_ECORRUPT,
			    "open %s: the database is damaged (refused, left "
			    "untouched): %s",
			    path, sqlite3_errmsg(b->db));
	if (err != 0)
		return err;
	if (app_id != FL_STORE_SQLITE_APP_ID &&
	    !(app_id == 0 && version == 0 && n_schema == 0))
		return fail(st, FL_ECORRUPT,
			    "open %s: an SQLite database, but not a fleetd "
			    "store (application id %lld, refused, left "
			    "untouched)",
			    path, (long long)app_id);
	if (version > FL_STORE_SQLITE_SCHEMA)
		return fail(st, FL_ENOTSUP,
			    "open %s: schema version %lld is newer than this "
			    "fleetd knows (%u): run a newer fleetd",
			    path, (long long)version, FL_STORE_SQLITE_SCHEMA);
	if (target > FL_STORE_SQLITE_SCHEMA || version > (int64_t)target)
		return fail(st, FL_EINVAL,
			    "open %s: cannot migrate from %lld to %u", path,
			    (long long)version, target);

	err = journal_wal(st, path);
	if (err == 0)
		err = exec_sql(st,
			       opt->sync == FL_STORE_SYNC_NORMAL
				       ? "PRAGMA synchronous = NORMAL"
				       : "PRAGMA synchronous = FULL",
			       "open: synchronous");
	if (err == 0)
		err = exec_sql(st, "PRAGMA foreign_keys = ON",
			       "open: foreign keys");
	if (err == 0)
		err = query_int(st, "PRAGMA foreign_keys", "open", &fk);
	if (err == 0 && fk != 1)
		err = fail(st, FL_ENOTSUP,
			   "open: this SQLite has no foreign keys");
	if (err == 0)
		err = migrate(st, target);
	if (err == 0)
		err = sync_dir(st, path);
	if (err != 0)
		return err;

	for (int i = 0; i < S_COUNT; i++) {
		rc = sqlite3_prepare_v3(b->db, sql[i], -1,
					SQLITE_PREPARE_PERSISTENT, &b->s[i],
					NULL);
		if (rc == SQLITE_ERROR && target != FL_STORE_SQLITE_SCHEMA)
			continue; /* tests: an old schema; NULL statements
				     make calls fail with FL_EINVAL */
		if (rc == SQLITE_ERROR)
			return fail(st, FL_ECORRUPT,
				    "open %s: the schema is not version %u's: "
				    "%s",
				    path, FL_STORE_SQLITE_SCHEMA,
				    sqlite3_errmsg(b->db));
		if (rc != SQLITE_OK)
			return db_fail(st, rc, "open: prepare");
	}
	return 0;
}

int fl_store_open_sqlite(struct fl_store *out, const char *path,
			 const struct fl_store_sqlite_options *opt)
{
	static const struct fl_store_sqlite_options defaults = {0};
	struct sq *b;
	int err;

	if (out == NULL)
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	if (opt == NULL)
		opt = &defaults;
	if (path == NULL || path[0] == '\0' ||
	    memchr(path, '\0', PATH_MAX) == NULL ||
	    opt->sync > FL_STORE_SYNC_NORMAL)
		return fail(out, FL_EINVAL, "open: bad path or options");
	err = check_file(out, path);
	if (err != 0)
		return err;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return fail(out, FL_ENOMEM, "open %s: no memory", path);
	b->fail_at = opt->fail_at;
	out->ctx = b;
	err = open_db(out, path, opt);
	if (err != 0) {
		sq_free(b);
		out->ctx = NULL;
		return err;
	}
	out->ops = &sqlite_ops;
	return 0;
}

void fl_store_sqlite_fail_at(struct fl_store *st, unsigned long n)
{
	if (st != NULL && st->ops == &sqlite_ops)
		SQ(st)->fail_at = n;
}

static const struct fl_store_ops sqlite_ops = {
	.version = FL_STORE_OPS_VERSION,
	.name = "sqlite",
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.check = sq_check,
	.schema_version = sq_schema_version,
	.setting_get = sq_setting_get,
	.setting_set = sq_setting_set,
	.job_ids_peek = sq_job_ids_peek,
	.reports_write = sq_reports_write,
	.label_set = sq_label_set,
	.label_unset = sq_label_unset,
	.device_get = sq_device_get,
	.device_list = sq_device_list,
	.artifact_put = sq_artifact_put,
	.artifact_get = sq_artifact_get,
	.rollout_create = sq_rollout_create,
	.rollout_start = sq_rollout_start,
	.rollout_set_state = sq_rollout_set_state,
	.stage_set = sq_stage_set,
	.rollout_get = sq_rollout_get,
	.rollout_plan = sq_rollout_plan,
	.rollout_list = sq_rollout_list,
	.member_set = sq_member_set,
	.job_create = sq_job_create,
	.job_get = sq_job_get,
	.job_list = sq_job_list,
	.member_list = sq_member_list,
	.approval_add = sq_approval_add,
	.approval_list = sq_approval_list,
	.event_append = sq_event_append,
	.event_last = sq_event_last,
	.events_after = sq_events_after,
	.token_add = sq_token_add,
	.token_get = sq_token_get,
	.token_revoke = sq_token_revoke,
	.token_list = sq_token_list,
};
