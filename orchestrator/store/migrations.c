/*
 * migrations.c -- the SQLite store's schema, as ordered migration steps.
 *
 * Step i (0-based) takes a database from schema version i to i + 1
 * (PRAGMA user_version). Each runs in one transaction together with the
 * version bump (store_sqlite.c), so a crash during a step leaves the
 * previous version whole. Steps are never edited once released: a change
 * is a new step appended here, FL_STORE_SQLITE_SCHEMA raised, and
 * docs/store.md updated. Version 0 is an empty database.
 *
 * Conventions: times are Unix seconds, -1 when not set; integer keys join
 * tables (a device id or a rollout name is stored once); enums are the
 * integers of fl/engine.h and fl/proto.h; booleans are 0 or 1.
 */
#include <stddef.h>

#include "store_sqlite_priv.h"

/* Version 1: every table. */
static const char v1[] =
	/* "FLTD": tells a store from another application's SQLite file */
	"PRAGMA application_id = 1179407428;\n" /* FL_STORE_SQLITE_APP_ID */

	"CREATE TABLE settings (\n"
	"  key   TEXT PRIMARY KEY,\n"
	"  value TEXT NOT NULL\n"
	") WITHOUT ROWID;\n"

	/* counters that only grow; job ids 1 .. 2^32-1 */
	"CREATE TABLE counters (\n"
	"  name TEXT PRIMARY KEY,\n"
	"  next INTEGER NOT NULL CHECK (next >= 1)\n"
	") WITHOUT ROWID;\n"
	"INSERT INTO counters (name, next) VALUES ('job', 1);\n"

	"CREATE TABLE devices (\n"
	"  key         INTEGER PRIMARY KEY,\n"
	"  id          TEXT NOT NULL UNIQUE,\n"
	"  model       TEXT NOT NULL DEFAULT '',\n"
	"  tz          TEXT NOT NULL DEFAULT '',\n"
	"  agent       TEXT NOT NULL DEFAULT '',\n"
	"  first_seen  INTEGER NOT NULL,\n"
	"  last_seen   INTEGER NOT NULL,\n"
	"  is_online   INTEGER NOT NULL DEFAULT 0,\n"
	"  p_boot      INTEGER NOT NULL DEFAULT 0,\n"
	"  p_conn      INTEGER NOT NULL DEFAULT 0,\n"
	"  reported_at INTEGER NOT NULL DEFAULT -1,\n"
	"  boot        INTEGER NOT NULL DEFAULT 0,\n"
	"  booted      INTEGER NOT NULL DEFAULT 0,\n"
	"  floor       INTEGER NOT NULL DEFAULT 0,\n"
	"  job         INTEGER NOT NULL DEFAULT 0,\n"
	"  job_state   INTEGER NOT NULL DEFAULT 0,\n"
	"  job_result  INTEGER NOT NULL DEFAULT 0,\n"
	"  reported    TEXT NOT NULL DEFAULT '',\n"
	"  health_at   INTEGER NOT NULL DEFAULT -1,\n"
	"  health      TEXT NOT NULL DEFAULT ''\n"
	");\n"

	/* is_server 0: reported by the device; 1: set on the server */
	"CREATE TABLE device_labels (\n"
	"  device_key INTEGER NOT NULL REFERENCES devices (key)\n"
	"             ON DELETE CASCADE,\n"
	"  is_server  INTEGER NOT NULL CHECK (is_server IN (0, 1)),\n"
	"  key        TEXT NOT NULL,\n"
	"  value      TEXT NOT NULL,\n"
	"  PRIMARY KEY (device_key, is_server, key)\n"
	") WITHOUT ROWID;\n"

	"CREATE TABLE device_components (\n"
	"  device_key INTEGER NOT NULL REFERENCES devices (key)\n"
	"             ON DELETE CASCADE,\n"
	"  name       TEXT NOT NULL,\n"
	"  version    TEXT NOT NULL,\n"
	"  PRIMARY KEY (device_key, name)\n"
	") WITHOUT ROWID;\n"

	"CREATE TABLE device_slots (\n"
	"  device_key INTEGER NOT NULL REFERENCES devices (key)\n"
	"             ON DELETE CASCADE,\n"
	"  slot       INTEGER NOT NULL CHECK (slot IN (0, 1)),\n"
	"  state      INTEGER NOT NULL,\n"
	"  version    TEXT NOT NULL,\n"
	"  seq        INTEGER NOT NULL,\n"
	"  PRIMARY KEY (device_key, slot)\n"
	") WITHOUT ROWID;\n"

	"CREATE TABLE artifacts (\n"
	"  sha256     TEXT PRIMARY KEY CHECK (length(sha256) = 64),\n"
	"  path       TEXT NOT NULL,\n"
	"  length     INTEGER NOT NULL CHECK (length >= 0),\n"
	"  manifest   TEXT NOT NULL DEFAULT '',\n"
	"  created_at INTEGER NOT NULL\n"
	") WITHOUT ROWID;\n"

	"CREATE TABLE rollouts (\n"
	"  key             INTEGER PRIMARY KEY,\n"
	"  name            TEXT NOT NULL UNIQUE,\n"
	"  plan            TEXT NOT NULL,\n"
	"  plan_sha256     TEXT NOT NULL,\n"
	"  artifact_sha256 TEXT NOT NULL REFERENCES artifacts (sha256),\n"
	"  component       TEXT NOT NULL,\n"
	"  version         TEXT NOT NULL,\n"
	"  state           INTEGER NOT NULL DEFAULT 0,\n"
	"  is_paused       INTEGER NOT NULL DEFAULT 0,\n"
	"  created_at      INTEGER NOT NULL,\n"
	"  started_at      INTEGER NOT NULL DEFAULT -1,\n"
	"  ended_at        INTEGER NOT NULL DEFAULT -1,\n"
	"  started_by      TEXT NOT NULL DEFAULT ''\n"
	");\n"

	"CREATE TABLE stages (\n"
	"  rollout_key   INTEGER NOT NULL REFERENCES rollouts (key),\n"
	"  idx           INTEGER NOT NULL,\n"
	"  name          TEXT NOT NULL,\n"
	"  state         INTEGER NOT NULL DEFAULT 0,\n"
	"  is_overridden INTEGER NOT NULL DEFAULT 0,\n"
	"  started_at    INTEGER NOT NULL DEFAULT -1,\n"
	"  ended_at      INTEGER NOT NULL DEFAULT -1,\n"
	"  PRIMARY KEY (rollout_key, idx)\n"
	") WITHOUT ROWID;\n"

	/* stage membership and the engine's view of each device */
	"CREATE TABLE members (\n"
	"  rollout_key  INTEGER NOT NULL,\n"
	"  device_key   INTEGER NOT NULL REFERENCES devices (key),\n"
	"  stage        INTEGER NOT NULL,\n"
	"  status       INTEGER NOT NULL,\n"
	"  progress     INTEGER NOT NULL DEFAULT 0,\n"
	"  rollback     INTEGER NOT NULL DEFAULT 0,\n"
	"  fail_reason  INTEGER NOT NULL DEFAULT 0,\n"
	"  offered_at   INTEGER NOT NULL DEFAULT -1,\n"
	"  committed_at INTEGER NOT NULL DEFAULT -1,\n"
	"  updated_at   INTEGER NOT NULL,\n"
	"  job          INTEGER,\n"
	"  rollback_job INTEGER,\n"
	"  PRIMARY KEY (rollout_key, device_key),\n"
	"  FOREIGN KEY (rollout_key, stage) REFERENCES stages (rollout_key, "
	"idx)\n"
	") WITHOUT ROWID;\n"

	/* every command that started work; its latest status */
	"CREATE TABLE jobs (\n"
	"  job         INTEGER PRIMARY KEY CHECK (job BETWEEN 1 AND "
	"4294967295),\n"
	"  rollout_key INTEGER NOT NULL,\n"
	"  device_key  INTEGER NOT NULL,\n"
	"  type        INTEGER NOT NULL,\n"
	"  issued_at   INTEGER NOT NULL,\n"
	"  expires_at  INTEGER NOT NULL,\n"
	"  phase       INTEGER NOT NULL DEFAULT -1,\n"
	"  result      INTEGER NOT NULL DEFAULT 0,\n"
	"  is_final    INTEGER NOT NULL DEFAULT 0,\n"
	"  reason      TEXT NOT NULL DEFAULT '',\n"
	"  bytes       INTEGER NOT NULL DEFAULT 0,\n"
	"  total       INTEGER NOT NULL DEFAULT 0,\n"
	"  version     TEXT NOT NULL DEFAULT '',\n"
	"  st_boot     INTEGER NOT NULL DEFAULT -1,\n"
	"  st_n        INTEGER NOT NULL DEFAULT -1,\n"
	"  updated_at  INTEGER NOT NULL DEFAULT -1,\n"
	"  ended_at    INTEGER NOT NULL DEFAULT -1,\n"
	"  FOREIGN KEY (rollout_key, device_key)\n"
	"    REFERENCES members (rollout_key, device_key)\n"
	");\n"

	"CREATE TABLE approvals (\n"
	"  key         INTEGER PRIMARY KEY,\n"
	"  rollout_key INTEGER NOT NULL REFERENCES rollouts (key),\n"
	"  what        TEXT NOT NULL,\n"
	"  is_hold     INTEGER NOT NULL,\n"
	"  who         TEXT NOT NULL,\n"
	"  at          INTEGER NOT NULL\n"
	");\n"
	"CREATE INDEX approvals_rollout ON approvals (rollout_key, key);\n"

	/* the append-only log: seq grows by one (never deleted) */
	"CREATE TABLE events (\n"
	"  seq         INTEGER PRIMARY KEY,\n"
	"  at          INTEGER NOT NULL,\n"
	"  type        INTEGER NOT NULL,\n"
	"  kind        INTEGER NOT NULL,\n"
	"  rollout_key INTEGER REFERENCES rollouts (key),\n"
	"  device      TEXT,\n"
	"  payload     TEXT NOT NULL DEFAULT ''\n"
	");\n";

/* Version 2: the indexes the API's lists need (label filters, per-stage
 * counts, a device's rollouts and jobs, a rollout's events) and the guard
 * that makes the event log append-only. */
static const char v2[] =
	"CREATE INDEX device_labels_kv ON device_labels (key, value);\n"
	"CREATE INDEX members_stage ON members (rollout_key, stage, status);\n"
	"CREATE INDEX members_device ON members (device_key, rollout_key);\n"
	"CREATE INDEX jobs_device ON jobs (device_key, job);\n"
	"CREATE INDEX events_rollout ON events (rollout_key, seq)\n"
	"  WHERE rollout_key IS NOT NULL;\n"
	"CREATE TRIGGER events_no_update BEFORE UPDATE ON events\n"
	"BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;\n"
	"CREATE TRIGGER events_no_delete BEFORE DELETE ON events\n"
	"BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;\n";

/* Version 3: fleetd's API tokens (a hash of each secret, never the
 * secret). */
static const char v3[] =
	"CREATE TABLE tokens (\n"
	"  name       TEXT PRIMARY KEY,\n"
	"  role       TEXT NOT NULL,\n"
	"  hash       TEXT NOT NULL CHECK (length(hash) = 64),\n"
	"  created_at INTEGER NOT NULL,\n"
	"  revoked_at INTEGER NOT NULL DEFAULT -1\n"
	") WITHOUT ROWID;\n";

const char *const fl_store__migrations[] = {v1, v2, v3};

_Static_assert(sizeof(fl_store__migrations) / sizeof(fl_store__migrations[0]) ==
		       FL_STORE_SQLITE_SCHEMA,
	       "one migration step per schema version");
