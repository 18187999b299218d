/*
 * store.h -- fleetd's store: the fleet's inventory, rollouts, per-device
 * rollout state, jobs, approvals, artifacts, settings and the append-only
 * event log, behind one interface.
 *
 * A store is a struct fl_store: a table of operations (struct
 * fl_store_ops) and the backend's opaque state. Callers use the
 * fl_store_*() functions below, which check their arguments once and then
 * call the backend; a backend may assume valid arguments. Two backends are
 * planned: SQLite in WAL mode (fl_store_open_sqlite(), here) for the
 * one-machine set-up, and PostgreSQL for several fleetd instances sharing
 * a fleet (docs/store.md says how it fits). Callers never see SQL.
 *
 * WHAT IS KEPT (the schema is in docs/store.md):
 *   devices   what each device reports (model, tz, agent, components and
 *             versions, A/B slots, the last job's outcome, and the
 *             reported JSON verbatim), its presence (online, boot, conn),
 *             its last health report, first and last seen; labels
 *             reported by the device and labels set on the server, kept
 *             apart (a server label wins over a device label of the same
 *             key);
 *   artifacts by SHA-256: path, length, the signed manifest envelope;
 *   rollouts  name, plan text and its SHA-256, artifact, component,
 *             version, state, paused, created/started/ended, who started
 *             it; its stages (name, state, started/ended, overridden);
 *   members   a device's place in a rollout: stage, status, progress,
 *             rollback state, fail reason, offered/committed times, the
 *             offer job and the rollback job;
 *   jobs      every command that started work on a device (offer,
 *             rollback) by its job id: the device's latest status of it
 *             (phase, result, reason, bytes, version) under the protocol's
 *             ordering rules;
 *   approvals who approved which stage or hold of a rollout, and when;
 *   tokens    fleetd's API tokens: name, role, a hash of the secret,
 *             created and revoked times;
 *   settings  key -> text (signing key path, ...); job ids come from a
 *             counter that only grows and never repeats, even after a
 *             crash;
 *   events    the append-only log: every input (device report, operator
 *             action) and every decision, each with a sequence number
 *             that grows by one from 1, the time, the rollout, the device,
 *             a kind and a compact JSON payload.
 *
 * The store does not interpret the numbers it keeps for fleetd: a rollout's
 * state, a stage's state, a member's status are the engine's enums
 * (fl/engine.h), a job's phase and result the protocol's (fl/proto.h);
 * event kinds are the engine's event and decision kinds. It only counts
 * members per status (below FL_STORE_STATUS_MAX).
 *
 * DURABILITY. An operation is durable when it returns 0 outside a
 * transaction, or when fl_store_commit() returns 0. fleetd records every
 * decision (an event, with its job) and commits BEFORE it carries the
 * decision out. With the SQLite backend's default (synchronous FULL), a
 * committed transaction survives a crash of the process and a power cut of
 * the machine; the argument is in store_sqlite.c and docs/store.md.
 *
 * WRITES IN BURSTS. Device reports arrive by the thousand per second: queue
 * them (struct fl_store_queue) and flush the queue in one transaction, every
 * N reports or T ms as the caller decides; or wrap any sequence of calls in
 * fl_store_begin() / fl_store_commit(). Without a transaction each call is
 * its own transaction (and its own disk sync).
 *
 * ERRORS. Every fallible function returns 0 or a negative FL_E* code, and
 * on failure leaves a one-line description in the store, read with
 * fl_store_errmsg(). The codes a caller should expect, beyond those listed
 * with each function:
 *   FL_EINVAL   a bad argument (NULL, a string too long or with bad
 *               characters, a digest that is not 64 hex digits);
 *   FL_ENOENT   a named rollout, device, job or artifact does not exist;
 *   FL_EBUSY    the database is locked by another process past the busy
 *               timeout, or a unique name already exists;
 *   FL_ECORRUPT the database file is damaged or not a store;
 *   FL_ENOSPC   the disk is full;
 *   FL_ENOMEM, FL_EIO (any other failure of the backend).
 * A failed operation changes nothing. Inside a transaction it is undone
 * alone and the transaction goes on, unless the backend had to abandon the
 * whole transaction (an I/O error, a full disk, no memory): then every call
 * but fl_store_rollback() fails with FL_ESTATE until the caller rolls back.
 *
 * LISTS are walked with a callback that receives each record borrowed for
 * the duration of the call; it must not call the store. A non-zero return
 * stops the walk, and the walk returns that value (use a negative FL_E*
 * code, or a positive value of your own). Every list takes a limit (at
 * most FL_STORE_PAGE_MAX) and a cursor (the last key of the previous
 * page), so no call walks more than a page.
 *
 * Not thread-safe: one store is used by one thread at a time.
 */
#ifndef FL_STORE_H
#define FL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- bounds (buffer sizes, NUL included) ------------------------------ */

#define FL_STORE_ID_MAX	       64   /* device id (= FL_DEVICE_ID_MAX) */
#define FL_STORE_NAME_MAX      65   /* rollout, stage, hold names: 64 chars */
#define FL_STORE_WORD_MAX      32   /* model, component, label key, agent */
#define FL_STORE_VERSION_MAX   32   /* a version string */
#define FL_STORE_TZ_MAX	       48   /* IANA zone */
#define FL_STORE_VALUE_MAX     48   /* label value, reason */
#define FL_STORE_WHO_MAX       64   /* operator name */
#define FL_STORE_SHA256_MAX    65   /* 64 lowercase hex digits */
#define FL_STORE_KEY_MAX       64   /* setting name */
#define FL_STORE_TEXT_MAX      1024 /* setting value, artifact path */
#define FL_STORE_JSON_MAX      2049 /* reported JSON (2048 = FL_PROTO_MSG_MAX) */
#define FL_STORE_PAYLOAD_MAX   2561	  /* an event's payload */
#define FL_STORE_MANIFEST_MAX  2049	  /* a manifest envelope (JSON) */
#define FL_STORE_PLAN_MAX      (1u << 20) /* plan text (FL_PLAN_MAX_FILE_BYTES) */
#define FL_STORE_DEV_LABELS    8	  /* labels a device reports */
#define FL_STORE_SERVER_LABELS 16 /* labels set on the server, per device */
#define FL_STORE_LABELS	       (FL_STORE_DEV_LABELS + FL_STORE_SERVER_LABELS)
#define FL_STORE_COMPONENTS    8
#define FL_STORE_SLOTS	       2
#define FL_STORE_STAGES	       32 /* stages of a rollout (FL_PLAN_MAX_STAGES) */
#define FL_STORE_STATUS_MAX    16 /* member statuses counted: 0..15 */
#define FL_STORE_FILTER_LABELS 4  /* key=value terms of a device filter */
#define FL_STORE_PAGE_MAX      10000 /* records per list call */
#define FL_STORE_ERRMSG_MAX    256

/* API tokens (fl_store_token_*) */
#define FL_STORE_TOKEN_NAME_MAX 33 /* a token's name: 32 chars */
#define FL_STORE_ROLE_MAX	16 /* a token's role */

#define FL_STORE_NONE (-1) /* a time or an index that is not set */

/* ---- records ---------------------------------------------------------- */

struct fl_store_label {
	char key[FL_STORE_WORD_MAX];
	char value[FL_STORE_VALUE_MAX];
	uint8_t is_server; /* set on the server, not reported by the device */
};

struct fl_store_component {
	char name[FL_STORE_WORD_MAX];
	char version[FL_STORE_VERSION_MAX];
};

struct fl_store_slot {
	uint8_t state; /* enum fl_wire_slot_state */
	char version[FL_STORE_VERSION_MAX];
	uint64_t seq;
};

/* What a device reported (the retained "reported" message), decoded, with
 * the JSON as received. Its labels are the device's (is_server ignored). */
struct fl_store_inventory {
	char model[FL_STORE_WORD_MAX];
	char tz[FL_STORE_TZ_MAX];
	char agent[FL_STORE_VERSION_MAX];
	uint32_t boot;
	unsigned n_labels; /* <= FL_STORE_DEV_LABELS */
	struct fl_store_label labels[FL_STORE_DEV_LABELS];
	unsigned n_components; /* <= FL_STORE_COMPONENTS, names unique */
	struct fl_store_component components[FL_STORE_COMPONENTS];
	unsigned n_slots; /* 0 or FL_STORE_SLOTS */
	struct fl_store_slot slots[FL_STORE_SLOTS];
	uint8_t booted;
	uint64_t floor;
	uint32_t job; /* the device's last job, 0 none */
	uint8_t job_state, job_result;
	char json[FL_STORE_JSON_MAX];
};

/* A presence message: online or not, for connection (boot, conn). */
struct fl_store_presence {
	bool is_online;
	uint32_t boot, conn;
};

/* A status of one job (protocol "status"). Statuses of a job are applied
 * in (boot, n) order: one not newer than the last applied is ignored, and
 * a final one is never replaced. */
struct fl_store_job_status {
	uint32_t job; /* 1..2^32-1 */
	uint32_t boot, n;
	uint8_t phase;	/* enum fl_update_state */
	uint8_t result; /* enum fl_result */
	bool is_final;	/* result is final: the job has ended */
	char reason[FL_STORE_VALUE_MAX];
	uint32_t bytes, total;
	char version[FL_STORE_VERSION_MAX];
};

enum fl_store_report_kind {
	FL_STORE_REPORT_PRESENCE = 1,
	FL_STORE_REPORT_INVENTORY = 2, /* "reported" */
	FL_STORE_REPORT_STATUS = 3,
	FL_STORE_REPORT_SEEN = 4,   /* anything else: last seen only */
	FL_STORE_REPORT_HEALTH = 5, /* "health": kept as the last one */
};

enum fl_store_event_type {
	FL_STORE_EV_INPUT = 1,	  /* a device report or an operator action */
	FL_STORE_EV_DECISION = 2, /* a decision of the engine */
	FL_STORE_EV_NOTE = 3,	  /* anything else worth a line in the log */
};

/* One entry of the event log. */
struct fl_store_event {
	uint64_t seq;  /* set by the store: 1, 2, 3 ... */
	int64_t at_s;  /* Unix seconds */
	uint8_t type;  /* enum fl_store_event_type */
	uint16_t kind; /* the engine's event or decision kind, or 0 */
	char rollout[FL_STORE_NAME_MAX];    /* "" none; must exist */
	char device[FL_STORE_ID_MAX];	    /* "" none; need not exist */
	char payload[FL_STORE_PAYLOAD_MAX]; /* compact JSON, or "" */
};

/*
 * One device report: what it changes in the inventory, and the input event
 * it is logged as. Every report updates the device's last seen time (and
 * creates the device the first time its id is seen, except a status,
 * health or seen report, which needs no device); then:
 *   PRESENCE:  online/offline, unless (boot, conn) is older than the last
 *              applied presence (the same pair: the later one wins);
 *   INVENTORY: replaces what the device reported, labels (its own, not the
 *              server's), components and slots; when its json is the one
 *              stored (a retained message sent again at a reconnect, not
 *              ""), only the report's time is recorded: the json must
 *              be what the other fields were decoded from;
 *   STATUS:    the job's latest status, under the ordering rules (a status
 *              of an unknown job changes nothing);
 *   HEALTH:    keeps its JSON as the device's last health report;
 *   SEEN:      nothing more.
 * When event.type is not 0 the event is appended (its at_s and device,
 * when 0 and "", are the report's).
 */
struct fl_store_report {
	uint8_t kind; /* enum fl_store_report_kind */
	char device[FL_STORE_ID_MAX];
	int64_t at_s; /* when fleetd received it */
	union {
		struct fl_store_presence presence;
		struct fl_store_inventory inventory;
		struct fl_store_job_status status;
		struct {
			char json[FL_STORE_JSON_MAX]; /* as received */
		} health;
	} u;
	struct fl_store_event event;
};

/* A device as the store has it. */
struct fl_store_device {
	char id[FL_STORE_ID_MAX];
	char model[FL_STORE_WORD_MAX]; /* "" until it reported */
	char tz[FL_STORE_TZ_MAX];
	char agent[FL_STORE_VERSION_MAX];
	int64_t first_seen_s, last_seen_s; /* FL_STORE_NONE: never seen (only
					      labelled on the server) */
	bool is_online;
	uint32_t presence_boot, presence_conn;
	int64_t reported_at_s; /* FL_STORE_NONE: never reported */
	uint32_t boot;	       /* as reported */
	uint8_t booted;
	uint64_t floor;
	uint32_t job;
	uint8_t job_state, job_result;
	unsigned n_labels; /* device labels first, then server labels; a
			      key may appear in both (the server's wins) */
	struct fl_store_label labels[FL_STORE_LABELS];
	unsigned n_components;
	struct fl_store_component components[FL_STORE_COMPONENTS];
	unsigned n_slots;
	struct fl_store_slot slots[FL_STORE_SLOTS];
	char reported[FL_STORE_JSON_MAX]; /* "" until it reported */
	int64_t health_at_s;		  /* FL_STORE_NONE: no health yet */
	char health[FL_STORE_JSON_MAX];	  /* the last health report */
	/* the last rollout it is a member of ("" none), and its status there */
	char rollout[FL_STORE_NAME_MAX];
	uint8_t rollout_status;
};

/* Which devices a list returns: every term given must hold. */
struct fl_store_device_filter {
	const char *model; /* NULL: any */
	int online;	   /* -1 any, 0 offline, 1 online */
	unsigned n_labels; /* <= FL_STORE_FILTER_LABELS; the effective
			      label (server's, else device's) must equal */
	struct {
		const char *key, *value;
	} labels[FL_STORE_FILTER_LABELS];
};

struct fl_store_artifact {
	char sha256[FL_STORE_SHA256_MAX]; /* of the image, lowercase hex */
	char path[FL_STORE_TEXT_MAX];	  /* where the image file is */
	uint64_t length;
	char manifest[FL_STORE_MANIFEST_MAX]; /* signed envelope, or "" */
	int64_t created_at_s;
};

struct fl_store_stage {
	char name[FL_STORE_NAME_MAX];
	uint8_t state; /* enum fl_stage_state */
	bool is_overridden;
	int64_t started_at_s, ended_at_s; /* FL_STORE_NONE: not yet */
	uint32_t members;		  /* filled by fl_store_rollout_get */
	uint32_t count[FL_STORE_STATUS_MAX]; /* members per status */
};

/* A rollout. fl_store_rollout_create() reads name .. stages[].name and
 * created_at_s; the store fills the rest. */
struct fl_store_rollout {
	uint64_t id; /* store key: creation order, from 1 */
	char name[FL_STORE_NAME_MAX];
	char plan_sha256[FL_STORE_SHA256_MAX];
	char artifact_sha256[FL_STORE_SHA256_MAX]; /* must be stored */
	char component[FL_STORE_WORD_MAX];
	char version[FL_STORE_VERSION_MAX];
	uint8_t state; /* enum fl_rollout_state; 0 at creation */
	bool is_paused;
	int64_t created_at_s;
	int64_t started_at_s, ended_at_s; /* FL_STORE_NONE: not yet */
	char started_by[FL_STORE_WHO_MAX];
	unsigned n_stages; /* 1..FL_STORE_STAGES */
	struct fl_store_stage stages[FL_STORE_STAGES];
};

/* A device's state in a rollout (set by fl_store_member_set, which reads
 * the fields marked "set"; the job fields are the store's). */
struct fl_store_member {
	char rollout[FL_STORE_NAME_MAX]; /* set */
	char device[FL_STORE_ID_MAX];	 /* set; the device must exist */
	uint64_t device_key;		 /* the device's key: a list's cursor */
	uint16_t stage;			 /* set: index in the rollout */
	uint8_t status;			 /* set: enum fl_dev_status */
	uint8_t progress;		 /* set: enum fl_dev_progress */
	uint8_t rollback;		 /* set: enum fl_rb_state */
	uint8_t fail_reason;		 /* set: enum fl_fail_reason */
	int64_t offered_at_s;		 /* set; FL_STORE_NONE never */
	int64_t committed_at_s;		 /* set; FL_STORE_NONE never */
	int64_t updated_at_s;		 /* set */
	uint32_t job, rollback_job;	 /* 0 none */
	/* the offer job's latest status (phase -1: none yet) */
	int16_t phase;
	uint8_t result;
	char reason[FL_STORE_VALUE_MAX];
	uint32_t bytes, total;
	char version[FL_STORE_VERSION_MAX];
	/* the rollback job's latest status */
	int16_t rb_phase;
	uint8_t rb_result;
	char rb_reason[FL_STORE_VALUE_MAX];
};

enum fl_store_job_type {
	FL_STORE_JOB_OFFER = 1,	   /* = FL_CMD_OFFER */
	FL_STORE_JOB_ROLLBACK = 3, /* = FL_CMD_ROLLBACK */
};

/* A job and the latest status applied to it. */
struct fl_store_job {
	uint32_t job;
	char rollout[FL_STORE_NAME_MAX];
	char device[FL_STORE_ID_MAX];
	uint8_t type; /* enum fl_store_job_type */
	int64_t issued_at_s, expires_at_s;
	int16_t phase; /* -1: no status yet */
	uint8_t result;
	bool is_final;
	char reason[FL_STORE_VALUE_MAX];
	uint32_t bytes, total;
	char version[FL_STORE_VERSION_MAX];
	uint32_t status_boot, status_n;
	int64_t updated_at_s, ended_at_s; /* FL_STORE_NONE: not yet */
};

struct fl_store_approval {
	uint64_t id; /* store key, in the order given */
	char rollout[FL_STORE_NAME_MAX];
	char what[FL_STORE_NAME_MAX]; /* a stage or a hold name */
	bool is_hold;
	char who[FL_STORE_WHO_MAX];
	int64_t at_s;
};

/* An API token of fleetd (docs/api.md, "Authentication"). The store
 * keeps only a hash of the secret; role is fleetd's word for it, which the
 * store keeps as text without interpreting it. */
struct fl_store_token {
	char name[FL_STORE_TOKEN_NAME_MAX]; /* unique, never reused */
	char role[FL_STORE_ROLE_MAX];	    /* "viewer", "operator" ... */
	char hash[FL_STORE_SHA256_MAX];	    /* of the secret, lowercase hex */
	int64_t created_at_s;
	int64_t revoked_at_s; /* FL_STORE_NONE: in force */
};

/* Which members a list returns. */
struct fl_store_member_filter {
	int stage;  /* -1: any */
	int status; /* -1: any */
};

typedef int (*fl_store_device_cb)(void *ctx, const struct fl_store_device *d);
typedef int (*fl_store_rollout_cb)(void *ctx, const struct fl_store_rollout *r);
typedef int (*fl_store_member_cb)(void *ctx, const struct fl_store_member *m);
typedef int (*fl_store_approval_cb)(void *ctx,
				    const struct fl_store_approval *a);
typedef int (*fl_store_event_cb)(void *ctx, const struct fl_store_event *e);
typedef int (*fl_store_job_cb)(void *ctx, const struct fl_store_job *j);
typedef int (*fl_store_token_cb)(void *ctx, const struct fl_store_token *t);

/* ---- the interface a backend implements ------------------------------- */

struct fl_store;

/*
 * One function per operation, with the meaning of the fl_store_*()
 * function of the same name; the arguments are already checked (strings
 * within their bounds, limits in range, times set). Each returns 0 or a
 * negative FL_E* code after writing a one-line description into
 * st->errmsg. begin, commit and rollback are called only when the
 * transaction state allows it (tracked above the backend).
 */
struct fl_store_ops {
	unsigned version; /* FL_STORE_OPS_VERSION */
	const char *name; /* "sqlite", "postgresql", "fake" */
	void (*close)(struct fl_store *st);
	int (*begin)(struct fl_store *st);
	int (*commit)(struct fl_store *st);
	int (*rollback)(struct fl_store *st);
	int (*check)(struct fl_store *st);
	int (*schema_version)(struct fl_store *st, unsigned *out);

	int (*setting_get)(struct fl_store *st, const char *key, char *out,
			   size_t cap);
	int (*setting_set)(struct fl_store *st, const char *key,
			   const char *value);
	int (*job_ids_peek)(struct fl_store *st, uint32_t *next);

	int (*reports_write)(struct fl_store *st,
			     const struct fl_store_report *r, size_t n,
			     uint64_t *last_seq);
	int (*label_set)(struct fl_store *st, const char *device,
			 const char *key, const char *value);
	int (*label_unset)(struct fl_store *st, const char *device,
			   const char *key);
	int (*device_get)(struct fl_store *st, const char *id,
			  struct fl_store_device *out);
	int (*device_list)(struct fl_store *st,
			   const struct fl_store_device_filter *f,
			   const char *after_id, unsigned limit,
			   fl_store_device_cb cb, void *ctx);

	int (*artifact_put)(struct fl_store *st,
			    const struct fl_store_artifact *a);
	int (*artifact_get)(struct fl_store *st, const char *sha256,
			    struct fl_store_artifact *out);

	int (*rollout_create)(struct fl_store *st,
			      const struct fl_store_rollout *r,
			      const char *plan, size_t plan_len);
	int (*rollout_start)(struct fl_store *st, const char *name,
			     const char *who, int64_t at_s);
	int (*rollout_set_state)(struct fl_store *st, const char *name,
				 unsigned state, bool is_paused, bool is_ended,
				 int64_t at_s);
	int (*stage_set)(struct fl_store *st, const char *rollout,
			 unsigned stage, unsigned state, bool is_overridden,
			 int64_t started_at_s, int64_t ended_at_s);
	int (*rollout_get)(struct fl_store *st, const char *name,
			   struct fl_store_rollout *out);
	int (*rollout_plan)(struct fl_store *st, const char *name, char *out,
			    size_t cap, size_t *len);
	int (*rollout_list)(struct fl_store *st, uint64_t after_id,
			    unsigned limit, fl_store_rollout_cb cb, void *ctx);

	int (*member_set)(struct fl_store *st, const struct fl_store_member *m);
	int (*job_create)(struct fl_store *st, const char *rollout,
			  const char *device, unsigned type,
			  int64_t issued_at_s, int64_t expires_at_s,
			  uint32_t *job);
	int (*job_get)(struct fl_store *st, uint32_t job,
		       struct fl_store_job *out);
	int (*job_list)(struct fl_store *st, const char *device,
			uint32_t before_job, unsigned limit, fl_store_job_cb cb,
			void *ctx);
	int (*member_list)(struct fl_store *st, const char *rollout,
			   const struct fl_store_member_filter *f,
			   uint64_t after_key, unsigned limit,
			   fl_store_member_cb cb, void *ctx);

	int (*approval_add)(struct fl_store *st, const char *rollout,
			    const char *what, bool is_hold, const char *who,
			    int64_t at_s, uint64_t *id);
	int (*approval_list)(struct fl_store *st, const char *rollout,
			     uint64_t after_id, unsigned limit,
			     fl_store_approval_cb cb, void *ctx);

	int (*event_append)(struct fl_store *st,
			    const struct fl_store_event *ev, uint64_t *seq);
	int (*event_last)(struct fl_store *st, uint64_t *seq);
	int (*events_after)(struct fl_store *st, const char *rollout,
			    uint64_t after_seq, unsigned limit,
			    fl_store_event_cb cb, void *ctx);
	int (*token_add)(struct fl_store *st, const struct fl_store_token *t);
	int (*token_get)(struct fl_store *st, const char *name,
			 struct fl_store_token *out);
	int (*token_revoke)(struct fl_store *st, const char *name,
			    int64_t at_s);
	int (*token_list)(struct fl_store *st, const char *after_name,
			  unsigned limit, fl_store_token_cb cb, void *ctx);
};

#define FL_STORE_OPS_VERSION 1u

/* An open store: the backend's table, its state, and the description of
 * the last failure. Owned by the caller; opened by a backend's open
 * function, released by fl_store_close(). */
struct fl_store {
	const struct fl_store_ops *ops;
	void *ctx; /* the backend's state */
	bool in_txn;
	char errmsg[FL_STORE_ERRMSG_MAX];
};

/* ---- lifecycle, transactions ------------------------------------------ */

/* Releases everything; an open transaction is rolled back. Accepts NULL
 * and a store already closed. */
void fl_store_close(struct fl_store *st);

/* The description of the last failure ("" if none); never NULL. */
const char *fl_store_errmsg(const struct fl_store *st);

/* The backend's name ("sqlite"); never NULL. */
const char *fl_store_backend(const struct fl_store *st);

/*
 * A transaction: every call between begin and commit takes effect at
 * commit, all together or not at all (a crash before commit returns
 * leaves none of it). Not nested. Returns 0, FL_ESTATE (begin inside a
 * transaction, commit or rollback outside one), FL_EBUSY, FL_EIO ... A
 * failed commit has rolled the transaction back. Rollback always ends the
 * transaction.
 */
int fl_store_begin(struct fl_store *st);
int fl_store_commit(struct fl_store *st);
int fl_store_rollback(struct fl_store *st);

/* Checks the whole database (SQLite: PRAGMA integrity_check). Returns 0 or
 * FL_ECORRUPT with the first problem in the message. Slow on a big store:
 * for tests and operators, not for the event loop. */
int fl_store_check(struct fl_store *st);

/* The schema version in force (SQLite: PRAGMA user_version). */
int fl_store_schema_version(struct fl_store *st, unsigned *out);

/* ---- settings, job ids ------------------------------------------------ */

/* Copies the value of `key` into out[0..cap). Returns 0, FL_ENOENT (not
 * set), FL_ETOOBIG (cap too small). key: 1..63 printable chars. */
int fl_store_setting_get(struct fl_store *st, const char *key, char *out,
			 size_t cap);

/* Sets `key` (value < FL_STORE_TEXT_MAX chars). */
int fl_store_setting_set(struct fl_store *st, const char *key,
			 const char *value);

/* The job id fl_store_job_create() will take next (for logs and tests). */
int fl_store_job_ids_peek(struct fl_store *st, uint32_t *next);

/* ---- device reports and inventory ------------------------------------- */

/*
 * Writes reports r[0..n) in order, all in one transaction (inside the
 * caller's transaction if one is open), and sets *last_seq (may be NULL)
 * to the sequence number of the last event appended (unchanged if none).
 * n may be 0. Returns 0, FL_EINVAL (a bad report: nothing written),
 * FL_ENOENT (an event names an unknown rollout: nothing written), ...
 */
int fl_store_reports_write(struct fl_store *st, const struct fl_store_report *r,
			   size_t n, uint64_t *last_seq);

/* One report: fl_store_reports_write(st, r, 1, seq). */
int fl_store_report_write(struct fl_store *st, const struct fl_store_report *r,
			  uint64_t *seq);

/* Sets (or replaces) a server-side label of a device; a device never seen
 * is created, with first and last seen FL_STORE_NONE (labels may be set
 * before a device first connects). Returns 0, FL_ETOOBIG
 * (FL_STORE_SERVER_LABELS already set and this key is not one of them). */
int fl_store_label_set(struct fl_store *st, const char *device, const char *key,
		       const char *value);

/* Removes a server-side label. Returns 0 (also if it was not set) or
 * FL_ENOENT (no such device). */
int fl_store_label_unset(struct fl_store *st, const char *device,
			 const char *key);

/* Returns 0 or FL_ENOENT. */
int fl_store_device_get(struct fl_store *st, const char *id,
			struct fl_store_device *out);

/* Walks the devices matching f (NULL: all) with an id greater than
 * after_id (NULL or "": from the first), in id order (bytewise), at most
 * `limit` (1..FL_STORE_PAGE_MAX) of them. */
int fl_store_device_list(struct fl_store *st,
			 const struct fl_store_device_filter *f,
			 const char *after_id, unsigned limit,
			 fl_store_device_cb cb, void *ctx);

/* ---- artifacts -------------------------------------------------------- */

/* Stores an artifact; storing the same digest again replaces its path and
 * manifest. Returns 0, FL_ESTATE (the digest is stored with another
 * length). */
int fl_store_artifact_put(struct fl_store *st,
			  const struct fl_store_artifact *a);

/* Returns 0 or FL_ENOENT. */
int fl_store_artifact_get(struct fl_store *st, const char *sha256,
			  struct fl_store_artifact *out);

/* ---- rollouts --------------------------------------------------------- */

/*
 * Creates a rollout from r (name, plan_sha256, artifact_sha256, component,
 * version, created_at_s, n_stages and stages[].name) with the plan text
 * plan[0..plan_len) (at most FL_STORE_PLAN_MAX bytes, no NUL). State 0,
 * not paused, not started; stages pending. Returns 0, FL_EBUSY (the name
 * exists), FL_ENOENT (the artifact is not stored), FL_ETOOBIG.
 */
int fl_store_rollout_create(struct fl_store *st,
			    const struct fl_store_rollout *r, const char *plan,
			    size_t plan_len);

/* Records who started it and when. Returns 0, FL_ENOENT, FL_ESTATE
 * (already started). */
int fl_store_rollout_start(struct fl_store *st, const char *name,
			   const char *who, int64_t at_s);

/* Sets the state and pause flag; is_ended records at_s as the end (once:
 * a later end changes nothing). Returns 0 or FL_ENOENT. */
int fl_store_rollout_set_state(struct fl_store *st, const char *name,
			       unsigned state, bool is_paused, bool is_ended,
			       int64_t at_s);

/* Sets stage `stage` of a rollout. Returns 0 or FL_ENOENT (no such rollout
 * or stage). */
int fl_store_stage_set(struct fl_store *st, const char *rollout, unsigned stage,
		       unsigned state, bool is_overridden, int64_t started_at_s,
		       int64_t ended_at_s);

/* The rollout with its stages and, per stage, its members by status.
 * Counting walks the rollout's members: O(members). Returns 0 or
 * FL_ENOENT. */
int fl_store_rollout_get(struct fl_store *st, const char *name,
			 struct fl_store_rollout *out);

/* Copies the plan text into out[0..cap) with a NUL, and sets *len to its
 * length (also on FL_ETOOBIG, so the caller can size a buffer). */
int fl_store_rollout_plan(struct fl_store *st, const char *name, char *out,
			  size_t cap, size_t *len);

/* Walks the rollouts with an id greater than after_id, in creation order
 * (stages named, members not counted). */
int fl_store_rollout_list(struct fl_store *st, uint64_t after_id,
			  unsigned limit, fl_store_rollout_cb cb, void *ctx);

/* ---- members and jobs ------------------------------------------------- */

/* Creates or updates a device's state in a rollout (the fields marked
 * "set"). Returns 0, FL_ENOENT (unknown rollout, device or stage). */
int fl_store_member_set(struct fl_store *st, const struct fl_store_member *m);

/*
 * Takes the next job id for a command to `device` (a member of `rollout`)
 * and records the job; an offer becomes the member's job, a rollback its
 * rollback job. Job ids start at 1 and are never given twice, whatever
 * crashes and rollbacks happen: an id is the caller's once the transaction
 * that took it commits, so nothing may be sent before. Returns 0,
 * FL_ENOENT (not a member), FL_ETOOBIG (ids exhausted at 2^32-1).
 */
int fl_store_job_create(struct fl_store *st, const char *rollout,
			const char *device, unsigned type, int64_t issued_at_s,
			int64_t expires_at_s, uint32_t *job);

/* Returns 0 or FL_ENOENT. */
int fl_store_job_get(struct fl_store *st, uint32_t job,
		     struct fl_store_job *out);

/* Walks a device's jobs, newest first, with ids below before_job (0: from
 * the newest). Returns FL_ENOENT if there is no such device. */
int fl_store_job_list(struct fl_store *st, const char *device,
		      uint32_t before_job, unsigned limit, fl_store_job_cb cb,
		      void *ctx);

/* Walks the members of a rollout matching f (NULL: all) in the order the
 * store keeps them (device_key: the order devices were first seen), from
 * the first with device_key > after_key (0: from the start). Returns
 * FL_ENOENT if there is no such rollout. A walk by key needs no sort, so
 * a page costs the same in a rollout of any size. */
int fl_store_member_list(struct fl_store *st, const char *rollout,
			 const struct fl_store_member_filter *f,
			 uint64_t after_key, unsigned limit,
			 fl_store_member_cb cb, void *ctx);

/* ---- approvals -------------------------------------------------------- */

/* Records an approval; *id (may be NULL) is its key. Returns 0 or
 * FL_ENOENT (no such rollout). */
int fl_store_approval_add(struct fl_store *st, const char *rollout,
			  const char *what, bool is_hold, const char *who,
			  int64_t at_s, uint64_t *id);

/* Walks a rollout's approvals in the order given, at most `limit`, with
 * an id greater than after_id. Returns FL_ENOENT if there is no such
 * rollout. */
int fl_store_approval_list(struct fl_store *st, const char *rollout,
			   uint64_t after_id, unsigned limit,
			   fl_store_approval_cb cb, void *ctx);

/* ---- the event log ---------------------------------------------------- */

/* Appends an event (ev->seq is ignored) and sets *seq (may be NULL) to its
 * sequence number. Returns 0, FL_ENOENT (unknown rollout), FL_EINVAL. */
int fl_store_event_append(struct fl_store *st, const struct fl_store_event *ev,
			  uint64_t *seq);

/* The last sequence number given (0: the log is empty). */
int fl_store_event_last(struct fl_store *st, uint64_t *seq);

/* Walks the events with seq > after_seq in order, at most `limit`: all of
 * them (rollout NULL or "") or those of one rollout (FL_ENOENT if there is
 * no such rollout). */
int fl_store_events_after(struct fl_store *st, const char *rollout,
			  uint64_t after_seq, unsigned limit,
			  fl_store_event_cb cb, void *ctx);

/* ---- API tokens ------------------------------------------------------- */

/* Adds a token (every field but revoked_at_s, which starts as
 * FL_STORE_NONE). Returns 0, FL_EBUSY (a token of that name exists, in
 * force or revoked: names are never reused, so that the `who` of the
 * event log stays unambiguous), FL_EINVAL (a name of 1..32 printable
 * characters, a role of 1..15, a hash of 64 lowercase hex digits). */
int fl_store_token_add(struct fl_store *st, const struct fl_store_token *t);

/* Returns 0 or FL_ENOENT. */
int fl_store_token_get(struct fl_store *st, const char *name,
		       struct fl_store_token *out);

/* Revokes a token at at_s; revoking it again keeps the first time.
 * Returns 0 or FL_ENOENT. */
int fl_store_token_revoke(struct fl_store *st, const char *name, int64_t at_s);

/* Walks the tokens by name, those after after_name ("" or NULL: from the
 * first), at most `limit`. */
int fl_store_token_list(struct fl_store *st, const char *after_name,
			unsigned limit, fl_store_token_cb cb, void *ctx);

/* ---- the report queue ------------------------------------------------- */

/*
 * A bounded queue of reports for batched writes: add reports as they
 * arrive, flush when `capacity` is reached or the caller's timer fires.
 * The queue copies each report (about 6 KiB each: size it accordingly).
 */
struct fl_store_queue;

/* capacity: 1..FL_STORE_PAGE_MAX. *out is the caller's
 * (fl_store_queue_free). Returns 0, FL_EINVAL, FL_ENOMEM. */
int fl_store_queue_create(struct fl_store_queue **out, size_t capacity);

/* Accepts NULL. */
void fl_store_queue_free(struct fl_store_queue *q);

/* Checks and copies r. Returns 0, FL_EINVAL (a bad report, not queued),
 * FL_ENOSPC (full: flush first). */
int fl_store_queue_add(struct fl_store_queue *q,
		       const struct fl_store_report *r);

/* Reports waiting. */
size_t fl_store_queue_len(const struct fl_store_queue *q);

/* Writes every queued report in one transaction (fl_store_reports_write)
 * and empties the queue on success; on failure the queue keeps them all
 * and nothing of them was written. */
int fl_store_queue_flush(struct fl_store *st, struct fl_store_queue *q,
			 uint64_t *last_seq);

/* ---- the SQLite backend ----------------------------------------------- */

enum fl_store_sync {
	FL_STORE_SYNC_FULL = 0,	  /* default: commits survive a power cut */
	FL_STORE_SYNC_NORMAL = 1, /* commits survive a process crash only */
};

struct fl_store_sqlite_options {
	uint8_t sync;		  /* enum fl_store_sync */
	uint32_t busy_timeout_ms; /* 0: 5000 */
	/* Tests: migrate only up to this schema version (0: the latest). */
	unsigned migrate_to;
	/* Tests: fail the Nth database step from now (0: never), as an I/O
	 * error would; also settable later with fl_store_sqlite_fail_at(). */
	unsigned long fail_at;
};

/* The schema version this code writes (docs/store.md lists each step). */
#define FL_STORE_SQLITE_SCHEMA 3u

/*
 * Opens (creating if missing) the store at `path` (a file; its -wal and
 * -shm files live beside it) in WAL mode with foreign keys on. A database
 * at an older schema version is migrated, one transaction per step; a
 * newer one is refused. A file that is not an SQLite database, or an
 * SQLite database that is not a store, is refused and left untouched.
 * opt may be NULL (defaults). On success *out is open (fl_store_close).
 * On failure *out is closed and its errmsg says why.
 *
 * Returns 0, FL_EINVAL (bad arguments, a directory), FL_ECORRUPT (not an
 * SQLite database, not a store, damaged), FL_ENOTSUP (a newer schema),
 * FL_EBUSY (locked by another process), FL_EIO (cannot open or create
 * the file), FL_ENOMEM, FL_ENOSPC.
 */
int fl_store_open_sqlite(struct fl_store *out, const char *path,
			 const struct fl_store_sqlite_options *opt);

/* Tests: fail the Nth database step from now with FL_EIO (0: disarm).
 * A store of another backend ignores it. */
void fl_store_sqlite_fail_at(struct fl_store *st, unsigned long n);

#endif
