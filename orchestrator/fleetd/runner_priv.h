/*
 * runner_priv.h -- the runner's state, shared by its files: runner.c (life
 * cycle, device messages, the tick), runner_api.c (start, operator
 * actions, views), runner_log.c (the event
 * log's records and the replay that rebuilds an engine from them) and
 * runner_cmd.c (commands: offers, cancels, rollbacks and their manifests).
 * Not a public interface.
 */
#ifndef FL_RUNNER_PRIV_H
#define FL_RUNNER_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "runner.h"

#define R_STEP_MAX	  1024 /* decisions per fl_engine_step call */
#define R_STEPS_PER_TICK  8    /* step calls per rollout per tick */
#define R_METRICS_MAX	  (FL_PROTO_METRICS_MAX + 2) /* + crashes, uptime_s */
#define R_REPLAY_PAGE	  256 /* log records read at a time */
#define R_POOL_CHUNK	  (64u * 1024)
#define R_BLOCKED_RETRY_S 5 /* offer held back by a trial: look again */
#define R_MAX_DEVICES	  FL_ENGINE_MAX_DEVICES

/* What a member is owed (struct r_mem.owe): commands decided and not yet
 * answered. */
#define OWE_OFFER  0x01u
#define OWE_CANCEL 0x02u
#define OWE_RB	   0x04u

/* A device as the runner mirrors it (the store has the rest). */
struct r_dev {
	char id[FL_DEVICE_ID_MAX];
	uint8_t has_presence, is_online, has_reported, is_new;
	uint32_t p_boot, p_conn; /* the presence in force */
	uint32_t job;		 /* the device's latest job, reported */
	uint8_t job_state;	 /* enum fl_update_state of that job */
	uint64_t floor;
};

/* The latest status applied to one job (the store's ordering rules). */
struct r_jobm {
	uint32_t boot, n;
	int64_t at;    /* when it was received; -1 none */
	int16_t phase; /* enum fl_update_state; -1 no status yet */
	uint8_t result, is_final;
};

/* A device's place in one rollout: its jobs, what it is owed, and the
 * member row last written to the store. Indexed like the inventory. */
struct r_mem {
	uint32_t gdev; /* index in runner->devs */
	uint32_t offer_job, rb_job;
	struct r_jobm offer, rb;
	int64_t offer_at, cancel_at, rb_at; /* decided at; -1 never */
	uint8_t owe, in_owe;
	/* its rollback manifest: index in ro->rbm + 1 (0 none or not yet);
	 * re-sends reuse it without looking for the image again */
	uint16_t rbm;
	int64_t next_send;
	/* the member row as written */
	uint8_t has_row, st, prog, rbs, reason;
	uint16_t stage;
	int64_t offered, committed;
};

/* A bump allocator for inventory strings: they never move. */
struct r_pool {
	struct r_chunk *head;
	size_t used, cap; /* in head */
};

/* A sealed rollback manifest, by the image and model it is for. */
struct r_rbm {
	char sha256[FL_STORE_SHA256_MAX];
	char model[FL_PROTO_NAME_MAX];
	uint64_t seq;
	uint8_t is_logged; /* its note is in the log */
	struct fl_manifest_env env;
};

/* Where the previous version's image of a model is (0 none), by version. */
struct r_prev {
	char version[FL_PROTO_VERSION_MAX];
	char model[FL_PROTO_NAME_MAX];
	bool is_found;
	char sha256[FL_STORE_SHA256_MAX];
	uint64_t length;
};

struct r_stage_row {
	uint8_t state, is_overridden;
	int64_t started, ended;
};

struct r_rollout {
	char name[FL_STORE_NAME_MAX];
	char sha256[FL_STORE_SHA256_MAX]; /* the artifact */
	uint64_t length;
	struct fl_plan *plan;
	struct fl_engine *eng; /* NULL while broken */
	bool is_broken;	       /* ahead of the log: rebuild by replay */
	struct fl_manifest_env env;
	uint64_t seq;

	/* the inventory: entries [0, n_inv), [0, n_synced) seen by the
	 * engine; mem[] beside it */
	struct fl_inv_device *inv;
	struct r_mem *mem;
	size_t n_inv, n_synced, cap_inv;
	struct r_pool pool;

	/* stepping */
	bool is_dirty; /* inputs since the last step */
	int64_t next_wake;

	/* what the store holds of it */
	uint8_t row_state, row_paused, row_ended;
	struct r_stage_row stage_rows[FL_PLAN_MAX_STAGES];

	/* views: the last wait announced, by why (hold, window, rate) */
	struct fl_runner_wait waits[FL_WHY_RATE + 1];
	uint8_t paused_why;
	int64_t rb_started;
	uint8_t rb_why;
	uint16_t rb_stage;
	bool rb_requested, cancel_requested;

	/* members owed a command */
	uint32_t *owe;
	size_t n_owe, cap_owe;

	/* rollback manifests */
	struct r_rbm *rbm;
	size_t n_rbm, cap_rbm;
	struct r_prev *prev;
	size_t n_prev, cap_prev;
};

/* A job of an active rollout. */
struct r_job {
	uint32_t job; /* 0: empty slot */
	uint32_t dev; /* in the rollout's inventory */
	struct r_rollout *ro;
};

/* An engine event waiting for its report to be committed. */
struct r_pend {
	struct r_rollout *ro;
	uint32_t gdev;
	struct fl_event ev;
	unsigned n_metrics;
	struct fl_metric_value mv[R_METRICS_MAX];
	char mname[R_METRICS_MAX][FL_PROTO_NAME_MAX];
};

struct fl_runner {
	struct fl_runner_config cfg;
	struct fl_store *st;

	/* devices */
	struct r_dev *devs;
	size_t n_devs, cap_devs;
	uint32_t *dev_ix; /* open addressing: index + 1, 0 empty */
	size_t dev_ix_cap;
	uint64_t max_floor;
	uint32_t *fresh; /* devices that reported for the first time */
	size_t n_fresh, cap_fresh;

	/* rollouts (loaded: not rolled back) */
	struct r_rollout **ro;
	size_t n_ro, cap_ro;

	/* jobs of loaded rollouts */
	struct r_job *jobs;
	size_t n_jobs, jobs_cap;

	/* reports and the engine events they carry */
	struct fl_store_queue *q;
	struct r_pend *pend;
	size_t n_pend, cap_pend;
	struct fl_store_report rep; /* scratch */

	/* views and errors */
	struct fl_plan_diags diags;
	struct fl_plan *view_plan;
};

/* ---- runner.c ------------------------------------------------------------ */

/* Copies src (NULL: "") into dst[cap]; false (nothing copied) if too long. */
static inline bool runner__copy(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n >= cap)
		return false;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
	return true;
}

/* A member's verdict is in. */
static inline bool runner__is_final(unsigned s)
{
	return s == FL_DEV_SUCCEEDED || s == FL_DEV_FAILED ||
	       s == FL_DEV_SKIPPED || s == FL_DEV_CANCELLED;
}

/* Writes the queued reports and applies their events (0 or a store
 * error: then the queue keeps them). */
int runner__flush(struct fl_runner *r);

/* Rebuilds a broken rollout from its log (and the job index). */
int runner__rebuild(struct fl_runner *r, struct r_rollout *ro);

struct r_rollout *runner__rollout_new(const char *name, const char *sha,
				      uint64_t length);
struct r_rollout *runner__rollout_find(struct fl_runner *r, const char *name);
int runner__rollout_add(struct fl_runner *r, struct r_rollout *ro);

/* Appends the engine's entry of a device as the store has it. */
int runner__inv_from_store(struct r_rollout *ro,
			   const struct fl_store_device *s, uint32_t gdev);

/* Parses a plan whose artifact is a stored image of length bytes; the
 * diagnostics go to r->diags. */
int runner__parse_plan(struct fl_runner *r, const char *text, size_t len,
		       const char *file, uint64_t length,
		       struct fl_plan **plan);

/* The plan of a stored rollout, parsed as at its start (its artifact's
 * length in *length, which may be NULL). */
int runner__stored_plan(struct fl_runner *r, const char *name, const char *sha,
			uint64_t *length, struct fl_plan **plan);

void runner__log(struct fl_runner *r, const char *device, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
struct r_dev *runner__dev(struct fl_runner *r, const char *id, bool add,
			  uint32_t *index);
int runner__inv_add(struct r_rollout *ro, const struct fl_inv_device *d,
		    uint32_t gdev);
int runner__job_put(struct fl_runner *r, uint32_t job, struct r_rollout *ro,
		    uint32_t dev);
void runner__owe(struct r_rollout *ro, uint32_t dev, int64_t at);
void runner__effects(struct fl_runner *r, struct r_rollout *ro,
		     const struct fl_decision *d, uint32_t job);
void runner__rollout_free(struct r_rollout *ro);

/* ---- runner_log.c -------------------------------------------------------- */

/* A compact JSON writer into a fixed buffer; overflow sticks. */
struct r_json {
	char *buf;
	size_t cap, len;
	bool is_full, need_comma;
};
void rjson_init(struct r_json *j, char *buf, size_t cap);
void rjson_open(struct r_json *j);
void rjson_close(struct r_json *j);
void rjson_key(struct r_json *j, const char *key);
void rjson_str(struct r_json *j, const char *key, const char *v);
void rjson_int(struct r_json *j, const char *key, int64_t v);
void rjson_bool(struct r_json *j, const char *key, bool v);
void rjson_num(struct r_json *j, const char *key, double v);
void rjson_raw(struct r_json *j, const char *key, const char *raw);

/* Payloads of the log records. Each returns 0 or FL_ETOOBIG. */
int rlog_inv(char *out, size_t cap, const struct fl_inv_device *d);
int rlog_event(char *out, size_t cap, const struct fl_event *ev,
	       const struct fl_status *from, uint32_t job);
int rlog_decision(char *out, size_t cap, const struct fl_decision *d,
		  uint32_t job, uint64_t rbm); /* rbm: its manifest's seq */

/* Appends one event to the log (inside the caller's transaction). */
int rlog_append(struct fl_runner *r, uint8_t type, uint16_t kind,
		const char *rollout, const char *device, int64_t at,
		const char *payload);

/* The payload of a FL_RUNNER_NOTE_RB_MANIFEST note. */
int rlog_rbm(char *out, size_t cap, const struct r_rbm *m);

/* Rebuilds ro's engine and bookkeeping from its log (ro->name, plan,
 * sha256 and length set; nothing else). Returns 0, FL_ECORRUPT (the log
 * does not replay), a store error, FL_ENOMEM. */
int rlog_replay(struct fl_runner *r, struct r_rollout *ro);

/* ---- runner_cmd.c -------------------------------------------------------- */

/* Seals m (its seq set here) through the signing port, raising the
 * fleet's counter in the store (inside the caller's transaction). */
int rcmd_seal(struct fl_runner *r, struct fl_manifest *m,
	      struct fl_manifest_env *env);

/* The commands owed to a member, ready to send. An offer of an encrypted
 * image carries the content key wrapped for the device (the key port);
 * rcmd_offer returns 0, or the port's error (logged: not to be sent). */
int rcmd_offer(struct fl_runner *r, struct r_rollout *ro, uint32_t dev,
	       int64_t now, struct fl_cmd *cmd);

/* Encrypted images: whether the rollout's manifest is one (body format
 * 2); a device's wrap group (its label FL_RUNNER_WRAP_LABEL, NULL none);
 * whether a key can be wrapped for a member (0, or FL_ENOENT with why[]
 * set: its offer is refused, the member fails with no_key). */
bool rcmd_is_sealed(const struct r_rollout *ro);
const char *rcmd_wrap_group(const struct fl_inv_device *d);
int rcmd_offer_check(struct fl_runner *r, const struct r_rollout *ro,
		     uint32_t dev, char *why, size_t why_cap);
void rcmd_cancel(struct r_rollout *ro, uint32_t dev, int64_t now,
		 const struct fl_runner_config *cfg, struct fl_cmd *cmd);

/* The rollback manifest for a member: one already sealed for its image
 * and model, else (seal true, inside the caller's transaction) a new one,
 * whose note the caller logs (is_logged 0). Returns 0; FL_ENOENT with
 * why[] set when there is no previous image to go back to; FL_EAGAIN-like
 * FL_ESTATE when none is sealed and seal is false; or an error. */
int rcmd_rollback_manifest(struct fl_runner *r, struct r_rollout *ro,
			   uint32_t dev, int64_t now, bool seal,
			   struct fl_manifest_env *env, char *why,
			   size_t why_cap);
void rcmd_rollback(struct r_rollout *ro, uint32_t dev, int64_t now,
		   const struct fl_runner_config *cfg,
		   const struct fl_manifest_env *env, struct fl_cmd *cmd);

#endif
