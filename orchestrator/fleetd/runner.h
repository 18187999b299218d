/*
 * runner.h -- fleetd's core: the fleet's inventory and its rollouts, driven
 * by device reports, operator actions and the clock, with every input and
 * every decision recorded in the store before it is carried out.
 *
 * The runner owns no socket and reads no clock: fleetd's main loop feeds it
 * decoded MQTT messages (fl_runner_on_*), API actions (fl_runner_start,
 * fl_runner_action) and the time, and the runner sends commands through
 * the command port (struct fl_runner_cmd_ops: fleetd's MQTT publisher, a
 * fake in tests). It tells the loop when it next needs to run
 * (fl_runner_tick's *next_ms).
 *
 * One engine (fl/engine.h) per active rollout, over that rollout's
 * inventory array (devices appended as they appear). A device is in at
 * most one active rollout per component.
 *
 * CRASH SAFETY. Every input the runner applies to an engine (device
 * report, inventory append, operator action, step time) and every
 * decision is appended to the store's event log in the same transaction
 * as the state it changes, and committed before any command leaves
 * (offers, cancels and rollbacks carry job ids taken in that transaction).
 * fl_runner_open() rebuilds every active rollout's engine by replaying its
 * log (the engine is deterministic: the same calls give the same
 * decisions; a mismatch is reported as FL_ECORRUPT), then re-sends every
 * command that has no answer yet, with its same job id (a duplicate is
 * harmless on the device).
 *
 * THE LOG. A rollout's events in the store (fl_store_events_after with
 * its name) are, in order, exactly the calls made on its engine, so that
 * replaying them is rebuilding it:
 *   type NOTE, kind FL_RUNNER_NOTE_MANIFEST: the sealed offer manifest,
 *        {"sha256":"..","seq":S,"manifest":{envelope}};
 *   NOTE FL_RUNNER_NOTE_INV: one inventory entry, device = its id,
 *        {"id","model","tz","version","online":true|false,"labels":{}}
 *        (absent fields: NULL in the entry);
 *   NOTE FL_RUNNER_NOTE_CREATE {"n":N}: fl_engine_create over the N
 *        entries so far; NOTE FL_RUNNER_NOTE_SYNC {"n":N}:
 *        fl_engine_sync_inventory with N entries (the new ones are the
 *        INV notes since the previous CREATE or SYNC);
 *   type INPUT, kind enum fl_event_kind: fl_engine_apply, at = the
 *        event's at_s, device = the device (device events), payload
 *        {"job","state","result","reason" (the status it came from),
 *        "fail": enum fl_fail_reason, "retry_at", "metrics":{name:
 *        value}, "name", "who"} (what the event needs, nothing else);
 *   NOTE FL_RUNNER_NOTE_STEP {"max":M}: fl_engine_step(now = at, max M),
 *        immediately followed by its decisions:
 *   type DECISION, kind enum fl_decision_kind, at = the step's now,
 *        device = the decision's device, {"stage","why","ref","until",
 *        "job"} ("stage" left out only for FL_ENGINE_NO_STAGE, the
 *        others when 0; "until": null for FL_ENGINE_NEVER; job: the job
 *        id the offer, cancel or rollback carries).
 * A rollback decision's payload also names the rollback manifest the
 * device is given, "rbm": its seq (re-sends use that one, also after a
 * restart, where the device's slots may no longer describe the image).
 * After a step's decisions come the notes it caused:
 * FL_RUNNER_NOTE_RB_MANIFEST {"sha256","model","seq","manifest":{}}, a
 * rollback manifest sealed for an image and a model (re-sends use it), and
 * FL_RUNNER_NOTE_REFUSED {"why":".."}, a rollback the runner could not
 * make (no previous image), followed by the FL_EV_ROLLBACK_FAILED input it
 * feeds the engine for that device. FL_RUNNER_NOTE_RB_GIVEN {"seq":S},
 * device = its id: a device owed a rollback is given another rollback
 * manifest (its floor reached the one it had), after that manifest's
 * note. An action that changes nothing is not logged.
 *
 * Not thread-safe: one thread (fleetd's loop) calls everything.
 */
#ifndef FL_RUNNER_H
#define FL_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl/engine.h"
#include "fl/plan.h"
#include "fl/proto.h"
#include "fl/store.h"

/* The command port: publishes one command to one device (QoS 1, never
 * retained, message expiry = expires - now). 0 when handed to the
 * broker's client, else an error (the runner retries later: commands are
 * idempotent). */
struct fl_runner_cmd_ops {
	int (*send)(void *ctx, const char *device, const struct fl_cmd *cmd);
};

/* The signing port: seals a manifest (fl_manifest_seal) with the fleet
 * signing key. 0 or an error. */
struct fl_runner_sign_ops {
	int (*seal)(void *ctx, struct fl_manifest_env *env,
		    const struct fl_manifest *m);
};

/* What an image was sealed into (fleetd's encrypted import). */
struct fl_runner_sealed {
	char container[65]; /* the container's SHA-256, lower-case hex */
	uint32_t length;    /* its bytes */
	uint8_t zip;	    /* enum fl_seal_zip */
	uint32_t chunk;	    /* plaintext bytes per chunk */
};

/* The key port of encrypted images (fleetd: imgkeys.c). Not set (sealed
 * NULL): every image goes out as it is stored, plain, whatever the plan's
 * artifact.encrypt says. */
struct fl_runner_key_ops {
	/* The image whose SHA-256 is sha (hex) as fleetd holds it sealed
	 * with compression zip (enum fl_seal_zip) in chunks of chunk bytes:
	 * 0 with *out, FL_ENOENT when it holds no such container of it,
	 * another error (why[] says which). */
	int (*sealed)(void *ctx, const char *sha, uint8_t zip, uint32_t chunk,
		      struct fl_runner_sealed *out, char *why, size_t why_cap);
	/* Whether a key can be wrapped for device: its own wrap key, else
	 * group's (NULL: none). 0 or FL_ENOENT. */
	int (*can_wrap)(void *ctx, const char *device, const char *group);
	/* The content key of env's image (body format 2) wrapped for device
	 * (its own key, else group's) and bound to env's body. 0, FL_ENOENT
	 * (no wrap key), another error; why[] says which. */
	int (*wrap)(void *ctx, const char *device, const char *group,
		    const struct fl_manifest_env *env,
		    uint8_t key[FL_CMD_KEY_BYTES], char *why, size_t why_cap);
};

/* The label whose value names a device's wrap group (docs/security.md). */
#define FL_RUNNER_WRAP_LABEL "wrap_group"

/* The kinds of the runner's NOTE events (see THE LOG above). */
enum fl_runner_note {
	FL_RUNNER_NOTE_MANIFEST = 100,
	FL_RUNNER_NOTE_INV = 101,
	FL_RUNNER_NOTE_CREATE = 102,
	FL_RUNNER_NOTE_SYNC = 103,
	FL_RUNNER_NOTE_STEP = 104,
	FL_RUNNER_NOTE_REFUSED = 105,
	FL_RUNNER_NOTE_RB_MANIFEST = 106,
	FL_RUNNER_NOTE_RB_GIVEN = 107,
};

/* The store setting holding the next manifest sequence number: a
 * fleet-wide counter, raised in the transaction that records each sealed
 * manifest (and never below the highest floor a device reported + 1). */
#define FL_RUNNER_SEQ_SETTING "fleetd.manifest_seq"

struct fl_runner_config {
	struct fl_store *store; /* opened, borrowed */
	struct fl_runner_cmd_ops cmd;
	void *cmd_ctx;
	struct fl_runner_sign_ops sign;
	void *sign_ctx;
	struct fl_runner_key_ops key; /* encrypted images; zeroed: none */
	void *key_ctx;
	const struct fl_tz_ops *tz; /* windows; NULL: every zone is UTC */
	const char *artifact_url;   /* base URL devices download from,
				       e.g. "http://192.0.2.1:8780/artifacts/" */
	uint32_t offer_ttl_s;	    /* command expiry [86400] */
	uint32_t resend_s;	    /* unanswered command re-sent [300] */
	size_t report_batch;	    /* reports per transaction [512] */
	uint32_t report_flush_ms;   /* or this old [50] */
	uint32_t manifest_ttl_s;    /* validity of a sealed manifest
				       [365 days] */
	/* The log port: one line about an input refused or ignored (a status
	 * of an unknown or stale job, a rollback without an image ...).
	 * NULL: not logged. */
	void (*log)(void *ctx, const char *device, const char *msg);
	void *log_ctx;
};

struct fl_runner;

/* Opens the runner over the store: loads the inventory, rebuilds from
 * their logs the rollouts that are not rolled back and those rolled back
 * while a device still owed its rollback result (its member row says
 * "sent" or "unreached": it is told again when it returns, and its late
 * result is recorded), schedules the
 * re-sends of every command without an answer (sent at the first tick).
 * *out is the caller's (fl_runner_free). Returns 0, FL_EINVAL (a config
 * without store, command or signing port, or artifact_url; an
 * artifact_url too long for a manifest's url with a digest; report_batch
 * over FL_STORE_PAGE_MAX), FL_ECORRUPT (a log that does not replay, or a
 * plan that no longer parses: nothing is changed, the log port says
 * which), FL_ENOMEM, a store error. */
int fl_runner_open(struct fl_runner **out, const struct fl_runner_config *cfg,
		   int64_t now_s);
/* Writes the reports still queued (a clean stop loses nothing the next
 * open cannot replay), then frees everything. Accepts NULL. */
void fl_runner_free(struct fl_runner *r);

/* Device messages (already decoded; id already checked). Reports are
 * queued and written in batches; the engine events they carry reach the
 * engines once their batch is committed, and the decisions they cause are
 * taken at the next fl_runner_tick. A status is an event only when the
 * store's ordering rules apply it (newer (boot, n), no final result yet,
 * the job's own device); one of an unknown or stale job is written, logged
 * and ignored. A presence is an event for each active rollout that
 * targets the device; a health report only for a device that may be
 * running the new version of an active rollout (the engine looks at no
 * other). The reported message is kept as the codec encodes the struct
 * (the store's `reported` JSON); its job and state are the device's
 * "reported job" that holds back offers (protocol, server rules).
 * Return 0, FL_EINVAL (a bad device id or message: nothing changed),
 * FL_ENOMEM, or a store error when the queue was full and could not be
 * written (the message is dropped; devices re-send). */
int fl_runner_on_presence(struct fl_runner *r, const char *device,
			  const struct fl_presence *m, int64_t now_s);
int fl_runner_on_reported(struct fl_runner *r, const char *device,
			  const struct fl_reported *m, int64_t now_s);
int fl_runner_on_status(struct fl_runner *r, const char *device,
			const struct fl_status *m, int64_t now_s);
int fl_runner_on_health(struct fl_runner *r, const char *device,
			const struct fl_health *m, int64_t now_s);
/* A retained message was cleared (empty payload): a cleared presence
 * takes the device offline (as its Will would), a cleared reported keeps
 * the last one. topic_kind: FL_TOPIC_PRESENCE or FL_TOPIC_REPORTED, else
 * FL_EINVAL. */
int fl_runner_on_cleared(struct fl_runner *r, const char *device,
			 int topic_kind, int64_t now_s);

/* Flushes queued reports, steps every active rollout that has news or a
 * wake-up due at now, records the decisions (one transaction for all),
 * carries them out, re-sends what is due. Sets *next_ms to the
 * milliseconds until it wants to run again (0: at once; at most an hour).
 * Returns 0 or a store error: then nothing it could not record was
 * carried out, the engines that had moved are rebuilt from their logs,
 * and the next tick takes the same decisions again (with the same job
 * ids). */
int fl_runner_tick(struct fl_runner *r, int64_t now_s, uint32_t *next_ms);

/* Diagnostics of a refused request, for the API's error body. */
struct fl_runner_error {
	int http_status; /* 400, 403, 404, 409, 422, 500 */
	char code[32];	 /* "invalid_plan", "conflict" ... (docs/api.md) */
	char message[256];
	struct fl_plan_diags *diags; /* invalid_plan: owned by the runner
					until the next call; may be NULL */
	unsigned n_conflicts;	     /* conflict: devices already in an
					active rollout of the component */
	char conflicts[20][FL_DEVICE_ID_MAX];
	/* Also on success (fl_runner_start of an encrypted image): targets
	 * known at the start with no wrap key, own or group; each fails
	 * with no_key when its offer comes (the first 20 listed). */
	unsigned n_no_key;
	char no_key[20][FL_DEVICE_ID_MAX];
};

/* Starts a rollout from a plan's text whose artifact is the stored image
 * with digest artifact_sha256 (uploaded before): validates the plan
 * (plan_file names it in diagnostics; artifact.file is not opened),
 * builds its inventory from the devices that reported, refuses targets
 * already in an active rollout of the same component, seals the manifest
 * (url = artifact_url + digest, the fleet's next sequence number), and
 * records rollout, manifest and inventory in one transaction. With the
 * key port set, an image the plan wants encrypted (artifact.encrypt, the
 * default) goes out as the container fleetd sealed it into: the manifest
 * is a body format 2 naming it, each offer carries the content key
 * wrapped for the device (err->n_no_key counts the targets without a wrap
 * key); with encrypt: false, the image's plain copy. Its first
 * step is taken at the next tick. Returns 0, or with *err filled:
 * FL_EINVAL (400 bad_request: a bad digest or operator; 422 invalid_plan:
 * with diags, also a plan naming more models than a manifest holds, 8),
 * FL_ETOOBIG (413 too_large), FL_ENOENT (404 not_found: no such
 * artifact), FL_EBUSY (409 conflict: the name exists, or n_conflicts
 * devices overlap), FL_ESTATE (409 not_stored: the artifact is not held
 * in the form the plan asks for: encrypted, with the plan's compression
 * and chunk size, or plain), the signing port's
 * error, the key port's or a store error (500 internal: nothing
 * recorded). */
int fl_runner_start(struct fl_runner *r, const char *plan_text, size_t len,
		    const char *plan_file, const char *artifact_sha256,
		    const char *who, int64_t now_s,
		    struct fl_runner_error *err);

enum fl_runner_action {
	FL_RUNNER_PAUSE = 1,
	FL_RUNNER_RESUME = 2,
	FL_RUNNER_APPROVE = 3, /* arg: stage or hold name */
	FL_RUNNER_ROLLBACK = 4,
	FL_RUNNER_CANCEL = 5,
};

/* Records the action in the log and applies it; *changed says whether it
 * changed anything (a repeat does not, and is not logged). A rollback of a
 * rolled back rollout changes nothing. Returns 0, or with *err filled:
 * FL_EINVAL (400: a bad action, name or operator), FL_ENOENT (404: no
 * such rollout; no stage or hold of that name), FL_ESTATE (409: a stage
 * not awaiting approval; an action the rollout's state refuses; 403
 * four_eyes: an approval by who started the rollout, when its plan sets
 * four_eyes), a store error (500: not recorded, not applied). */
int fl_runner_action(struct fl_runner *r, const char *rollout, int action,
		     const char *arg, const char *who, int64_t now_s,
		     bool *changed, struct fl_runner_error *err);

/* The live view of a rollout for the API and the dashboard: the engine's
 * status, stages (with gate values) and what it waits for (a pause; an
 * approval; the last hold announced while members are held; the last
 * window or rate wait while members wait for their offer). Returns 0 or
 * FL_ENOENT. Rolled back rollouts that no device owes a rollback answer
 * any more (not rebuilt at open) are read from the store (states, members
 * per status; no wait, no rollback telemetry). */
struct fl_runner_wait {
	uint8_t why; /* enum fl_why: NONE, HOLD, WINDOW, RATE; or
			OPERATOR for a pause, GATE for an approval */
	uint16_t stage;
	int16_t hold; /* index in plan->holds, -1 none */
	int64_t until_s;
};

struct fl_runner_view {
	struct fl_engine_status status;
	unsigned n_stages;
	struct fl_engine_stage stages[FL_PLAN_MAX_STAGES];
	struct fl_runner_wait wait;
	int64_t rollback_started_s; /* -1 none */
	uint8_t rollback_why;	    /* enum fl_why: GATE or OPERATOR */
	uint16_t rollback_stage;
	bool is_encrypted;	    /* its offers carry an encrypted image */
	const struct fl_plan *plan; /* borrowed until the next call */
};
int fl_runner_view(struct fl_runner *r, const char *rollout,
		   struct fl_runner_view *out);

/* What a rollback would do now: devices to revert (they installed the new
 * version and were not reverted or sent a rollback) and offers to cancel
 * (not installed yet); first[0..*n) the first 20 of them (first may be
 * NULL). Returns 0 (zeros for a rolled back rollout) or FL_ENOENT. */
int fl_runner_rollback_preview(struct fl_runner *r, const char *rollout,
			       uint32_t *revert, uint32_t *cancel,
			       char first[20][FL_DEVICE_ID_MAX], unsigned *n);

#endif
