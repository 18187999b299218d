/*
 * agent.h -- the portable update agent: the state machine that takes an
 * offer from fleetd and brings the device to a committed or reverted image,
 * over ports (function tables) for everything the platform does.
 *
 * The agent works on decoded structs of proto.h: the transport adapter
 * decodes the MQTT payloads (fl_proto_decode_cmd) and encodes what the
 * agent publishes. The agent itself calls only the manifest verification of
 * the codec (fl_manifest_verify, fl_manifest_check), so that the security
 * decision is never the adapter's.
 *
 * One job at a time, per docs/protocol.md ("Jobs, ordering and
 * idempotency"):
 *
 *   offer ─▶ verify ─▶ WAITING ─▶ DOWNLOADING ─▶ DOWNLOADED ─▶ ACTIVATING
 *            (signature   (pre-      (Range/If-Range,  (staged; now,  (trial
 *             first)      conditions) straight into     window or      record,
 *                                     the slot)         idle)          reboot)
 *   ─▶ TRIAL (health check) ─▶ confirm ─▶ DONE success
 *                         └──▶ REJECTING ─▶ reboot ─▶ DONE reverted
 *
 * A rollback command whose manifest names the image in the other slot
 * skips the download (fl_slots_rollback); during a running trial it first
 * abandons the trial (ABANDONING). Every transition is persisted through
 * the store port before the agent acts on it and before it reports it, and
 * every step is redone idempotently after a power cut or a kill, from the
 * persisted job and the slot manager's attempt record (fl_slots_attempt),
 * which also tells the agent about reverts the boot loader made on its own.
 *
 * Event loop: the caller owns it (as with mosquitto). It calls
 * fl_agent_poll() at least at the deadline it returns, forwards commands
 * and connection events, and its downloader calls fl_agent_on_dl_*(). None
 * of these may be called from inside a port function of the same agent.
 *
 * Memory: struct fl_agent is caller-owned and fixed-size; the agent never
 * allocates. Strings and tables in the config are borrowed and must
 * outlive the agent. Not thread-safe: one thread drives one agent.
 *
 * Errors every function may return, beside those listed with it: a flash
 * or store error (FL_EIO, FL_EPOWER in the simulator ...) when the agent
 * could not persist a step or write the slots. It has then reported
 * nothing it did not persist, and it halts: every later call returns the
 * same error and does nothing, until fl_agent_init() starts it again from
 * what is persisted (exactly a restart after kill -9, which
 * tests/fault/test_agent_powercut.c proves safe at every flash operation).
 */
#ifndef FL_AGENT_H
#define FL_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl/crypto.h"
#include "fl/installer.h"
#include "fl/proto.h"
#include "fl/slots.h"
#include "fl/unseal.h"

/* ---- ports ------------------------------------------------------------ */

/*
 * transport: publishes what the agent reports on the device's topics with
 * the QoS and retain flag of docs/protocol.md (status QoS 1; reported QoS 1
 * retained; health QoS 0). The message is borrowed for the call; the
 * adapter encodes it (fl_proto_encode_*), into a buffer of its own or in
 * place: the message lies in the agent's message buffer
 * (fl_agent_msg_buf()), which the adapter may overwrite during the call,
 * so a device needs no payload buffer besides its MQTT client's. Presence
 * (and the Will) belong to the adapter, with fl_agent_boot_count() for its
 * "boot".
 * Each returns 0 when sent or queued, or an error (FL_EIO: not connected),
 * which the agent tolerates: after the next fl_agent_on_connect() it
 * publishes reported (which holds the last job's outcome) and the current
 * job's latest status again.
 */
struct fl_agent_transport_ops {
	unsigned version; /* FL_AGENT_PORT_VERSION */
	const char *name; /* "mosquitto", "esp-mqtt", "fake" */
	int (*publish_status)(void *ctx, const struct fl_status *m);
	int (*publish_reported)(void *ctx, const struct fl_reported *m);
	int (*publish_health)(void *ctx, const struct fl_health *m);
};

/* A ranged HTTP GET the agent asks for. */
struct fl_agent_dl_request {
	const char *url;       /* http:// or https:// (signed) */
	uint32_t offset;       /* 0: plain GET; else "Range: bytes=offset-" */
	uint32_t length;       /* the signed length: never read beyond */
	const char *validator; /* with offset > 0 and not "": "If-Range" */
};

#define FL_AGENT_VALIDATOR_MAX 64 /* ETag or Last-Modified, NUL included */

/* What the server answered, before the first byte of the body. */
struct fl_agent_dl_response {
	uint16_t http_status; /* 200, 206, 416, 404 ... */
	uint32_t first_byte;  /* 206: start of Content-Range; else 0 */
	uint32_t total_bytes; /* 206: Content-Range total; 200: Content-
				 Length; 0 unknown */
	/* The strong ETag, else Last-Modified, else "" (a longer one is
	 * given as ""). */
	char validator[FL_AGENT_VALIDATOR_MAX];
};

/*
 * downloader: one transfer at a time. start() returns at once; the adapter
 * then calls, from its own loop, fl_agent_on_dl_response() once,
 * fl_agent_on_dl_data() for each chunk of the body, and fl_agent_on_dl_done()
 * last, unless stop() was called (then nothing follows). libcurl fits as a
 * header callback plus write callback plus completion; ESP-IDF's
 * esp_http_client as its ON_HEADER / ON_DATA / ON_FINISH events. The adapter
 * applies the transfer timeouts (connect 30 s, 60 s without a byte) and
 * reports them through on_dl_done. start returns 0 or an error (then the
 * agent counts a failed try).
 */
struct fl_agent_downloader_ops {
	unsigned version;
	const char *name; /* "curl", "esp-http", "fake" */
	int (*start)(void *ctx, const struct fl_agent_dl_request *req);
	void (*stop)(void *ctx);
};

/*
 * clock: now_s is the wall clock in Unix seconds, 0 while it is not trusted
 * (no NTP or RTC yet): expiries and windows then wait or are skipped as
 * docs/protocol.md says. mono_ms counts from boot and never goes back.
 * utc_offset_s gives local time = UTC + offset at now_s in the device's
 * time zone (activation and blackout windows); NULL means UTC.
 */
struct fl_agent_clock_ops {
	unsigned version;
	const char *name;
	uint64_t (*now_s)(void *ctx);
	uint64_t (*mono_ms)(void *ctx);
	int32_t (*utc_offset_s)(void *ctx, uint64_t now_s);
};

/*
 * store: one small blob saved atomically and power-safely: after a power
 * cut at any point of save(), load() returns either the previous blob or
 * the new one, whole. fl_agent_flash_store (below) is the implementation
 * over a flash area; a Linux port writes a file and renames it.
 *   load: copies the newest blob into buf (cap bytes) and sets *len.
 *         Returns 0, FL_ENOENT (nothing saved yet), FL_ETOOBIG, or an I/O
 *         error.
 *   save: returns 0 or an I/O error (the previous blob is then still
 *         the one load returns, or the new one).
 */
struct fl_agent_store_ops {
	unsigned version;
	const char *name; /* "flash", "file", "fake" */
	int (*load)(void *ctx, uint8_t *buf, size_t cap, size_t *len);
	int (*save)(void *ctx, const uint8_t *buf, size_t len);
};

#define FL_AGENT_BATTERY_NONE 255u /* no battery: on mains */

/* What the device knows about itself, for the preconditions, checked
 * before the download and again before the reboot. Outcomes: proceed;
 * retry later (battery below the minimum and not charging, busy, inside
 * the blackout window or no trusted clock to tell, free storage below the
 * minimum: the status says retry_later with the reason and retry_s; after
 * max_waits tries, rejected); or rejected at once (is_vetoed). */
struct fl_agent_facts {
	uint8_t battery_pct; /* 0..100, or FL_AGENT_BATTERY_NONE */
	bool is_charging;
	bool is_busy;	     /* set by the application: do not update now */
	bool is_vetoed;	     /* the application refuses the update for good */
	uint64_t free_bytes; /* free storage for the update's own needs */
	/* The owner's blackout window, local time, minutes after midnight;
	 * may wrap midnight; start == end means none. */
	bool has_blackout;
	uint16_t blackout_start_min, blackout_end_min;
};

enum fl_agent_hook {
	FL_AGENT_HOOK_NONE = 0,	   /* no hook configured */
	FL_AGENT_HOOK_PENDING = 1, /* still running */
	FL_AGENT_HOOK_PASS = 2,
	FL_AGENT_HOOK_FAIL = 3,
};

/* One health sample. The metrics named "crashes" and "uptime_s" of an
 * offer's limits are taken from crashes and the agent's uptime. */
struct fl_agent_health_sample {
	bool is_boot_ok;  /* the application started as it should */
	uint32_t crashes; /* since provisioning */
	uint8_t hook;	  /* enum fl_agent_hook */
	unsigned n_metrics;
	struct fl_metric metrics[FL_PROTO_METRICS_MAX];
};

/*
 * device: facts for the preconditions, health samples, and the reboot.
 *   facts:  0 or an error (the agent then retries later).
 *   health: is_trial tells whether the running image is on trial (the
 *           adapter runs its health hook then). 0 or an error (the sample
 *           is skipped).
 *   reboot: requests a reboot; may return before it happens. The agent
 *           does nothing more until it is initialised again, and asks
 *           again after a minute.
 */
struct fl_agent_device_ops {
	unsigned version;
	const char *name;
	int (*facts)(void *ctx, struct fl_agent_facts *out);
	int (*health)(void *ctx, bool is_trial,
		      struct fl_agent_health_sample *out);
	void (*reboot)(void *ctx);
};

#define FL_AGENT_PORT_VERSION 1u

struct fl_agent_transport {
	const struct fl_agent_transport_ops *ops;
	void *ctx;
};
struct fl_agent_downloader {
	const struct fl_agent_downloader_ops *ops;
	void *ctx;
};
struct fl_agent_clock {
	const struct fl_agent_clock_ops *ops;
	void *ctx;
};
struct fl_agent_store {
	const struct fl_agent_store_ops *ops;
	void *ctx;
};
struct fl_agent_device {
	const struct fl_agent_device_ops *ops;
	void *ctx;
};

/* ---- the flash store: the store port over a flash area ---------------- */

/*
 * Two copies, each in its own erase unit of the area, each a header
 * (magic, format, length, sequence number), the blob and a CRC-32 over
 * both (layout in store_flash.c). save() erases the unit of the copy that
 * does not hold the newest valid blob, writes, syncs; load() takes the
 * valid copy with the higher sequence number. The copy must fit one erase
 * unit. ctx is a struct fl_agent_flash_store, caller-owned.
 */
#define FL_AGENT_STORE_IO_BYTES 256 /* >= the largest write unit */

struct fl_agent_flash_store {
	struct fl_area area;
	uint64_t seq;	/* highest sequence number seen or used; 0 none */
	uint8_t newest; /* its copy, 0 or 1; 0xFF none */
	uint8_t buf[FL_AGENT_STORE_IO_BYTES];
};

extern const struct fl_agent_store_ops fl_agent_flash_store_ops;

/* Attaches a flash store to area (at least two erase units; the unit must
 * hold FL_AGENT_BLOB_MAX plus the 20-byte frame, rounded to the write
 * unit; the write unit must be at most FL_AGENT_STORE_IO_BYTES).
 * Reads nothing. Returns 0 or FL_EINVAL. */
int fl_agent_flash_store_init(struct fl_agent_flash_store *st,
			      const struct fl_area *area);

/* ---- persisted state (format: state.c, pinned) ------------------------ */

enum fl_agent_phase {
	FL_AGENT_NONE = 0,	  /* no job yet */
	FL_AGENT_WAITING = 1,	  /* taken; checking preconditions */
	FL_AGENT_DOWNLOADING = 2, /* writing the inactive slot */
	FL_AGENT_DOWNLOADED = 3,  /* staged (or ready to switch back) */
	FL_AGENT_ACTIVATING = 4,  /* trial record written next, then reboot */
	FL_AGENT_TRIAL = 5,	  /* the image runs on trial: health check */
	FL_AGENT_REJECTING = 6,	  /* the trial failed: reject, reboot */
	FL_AGENT_ABANDONING = 7,  /* a rollback ends the running trial */
	FL_AGENT_DONE = 8,	  /* final result */
};

#define FL_AGENT_JOB_SWITCH	 0x01u /* rollback to the other slot */
#define FL_AGENT_JOB_SPLICED	 0x02u /* the image was resumed mid-way */
#define FL_AGENT_JOB_REFETCHED	 0x04u /* downloaded again from 0 once */
#define FL_AGENT_JOB_EXPIRY_DONE 0x08u /* manifest expiry was checked */
#define FL_AGENT_JOB_SEALED	 0x10u /* an encrypted image (below) */

/* The current (or last) job. Fields of the verified manifest and of the
 * command are copied in, so nothing is parsed again after a reboot. */
struct fl_agent_job {
	uint32_t id;
	uint8_t type;	/* FL_CMD_OFFER or FL_CMD_ROLLBACK */
	uint8_t phase;	/* enum fl_agent_phase */
	uint8_t result; /* enum fl_result once DONE */
	uint8_t flags;	/* FL_AGENT_JOB_* */
	uint8_t reset;	/* reset reason of a reverted trial */
	uint8_t activate;
	uint16_t window_start_min, window_end_min;
	uint32_t health_window_s;
	uint32_t length; /* signed image length */
	uint8_t sha256[FL_SHA256_BYTES];
	uint64_t seq;	  /* manifest sequence number: the counter */
	uint64_t expires; /* manifest expiry */
	uint32_t offset;  /* durable download offset (a checkpoint) */
	uint16_t dl_tries;
	uint16_t pre_tries;
	char version[FL_PROTO_VERSION_MAX];
	char url[FL_MANIFEST_URL_MAX];
	char validator[FL_AGENT_VALIDATOR_MAX];
	char reason[FL_PROTO_REASON_MAX]; /* of the final result */
	unsigned n_limits;
	struct fl_health_limit limits[FL_PROTO_LIMITS_MAX];
	/* FL_AGENT_JOB_SEALED: the url serves an encrypted container
	 * (docs/formats.md, "Encrypted image"); length and sha256 above are
	 * the image's. offset is then a chunk boundary, and enc_offset the
	 * container offset of that chunk (0: from the start). */
	uint8_t enc_zip;
	uint32_t enc_chunk;
	uint32_t enc_length;
	uint32_t enc_offset;
	uint8_t enc_key[FL_AES256_KEY_BYTES]; /* the content key, unwrapped */
	uint8_t enc_header[FL_SEAL_HEADER_BYTES]; /* once enc_offset > 0 */
};

struct fl_agent_state {
	uint32_t boot;	       /* boot count, from 1, grows every boot */
	uint32_t last_job;     /* highest job id taken */
	uint32_t precancelled; /* a cancel that overtook its offer */
	/* Key floor: signing-key certificates of a lower generation are
	 * revoked. Raised by the floor of the certificate of a manifest the
	 * agent takes, persisted with that job; never lowered. */
	uint16_t key_floor;
	struct fl_agent_job job;
};

#define FL_AGENT_BLOB_MAX 768 /* serialized struct fl_agent_state */

/* The longest message the agent publishes, encoded: reported with every
 * label, the one component and both slots at their bounds, every number at
 * its widest (1,341 bytes; health 674, status 502: test_agent_msg.c
 * proves it). The protocol's FL_PROTO_MSG_MAX (2,048) bounds what fleetd
 * may send and receive; the agent sends one component, not eight. */
#define FL_AGENT_MSG_MAX 1400

/* ---- configuration ---------------------------------------------------- */

/* The buffers an encrypted download needs (fl_agent_config.seal_bufs). */
struct fl_agent_seal_bufs {
	uint8_t *rec;
	uint32_t rec_bytes;
	uint8_t *plain;
	uint32_t plain_bytes;
};

struct fl_agent_config {
	struct fl_slots *slots; /* opened (fl_slots_open), borrowed */
	const struct fl_crypto_ops *crypto;
	const struct fl_manifest_key *keys; /* trusted manifest keys */
	unsigned n_keys;
	/* Ids of the keys (among keys) that may sign a rollback manifest,
	 * which may point at an older version: fleetd's own key. 0 keys: any
	 * trusted key. */
	const uint8_t (*rollback_kids)[FL_MANIFEST_KID_BYTES];
	unsigned n_rollback_kids;
	/* Root keys: they certify signing keys (envelope 2), whose roles and
	 * generation their certificate gives. keys + roots: at least one. */
	const struct fl_manifest_key *roots;
	unsigned n_roots;
	struct fl_agent_transport transport;
	struct fl_agent_downloader downloader;
	struct fl_agent_clock clock;
	struct fl_agent_store store;
	struct fl_agent_device device;

	const char *model;	   /* matched against manifest "hardware" */
	const char *component;	   /* what the slots hold; NULL "firmware" */
	const char *tz;		   /* IANA zone for reported; NULL "" */
	const char *agent_version; /* NULL "" */
	const struct fl_label *labels;
	unsigned n_labels; /* <= FL_PROTO_LABELS_MAX */

	/* Policy; 0 selects the default in brackets. */
	uint8_t min_battery_pct;    /* unless charging [0: no check] */
	uint64_t min_free_bytes;    /* [0: no check] */
	uint32_t retry_s;	    /* precondition retry [300] */
	uint32_t max_waits;	    /* preconditions tried [0: until the
				       manifest expires] */
	uint32_t health_window_s;   /* trial observed [60] */
	uint32_t health_interval_s; /* health reports [60] */
	uint32_t health_sample_ms;  /* trial samples [1000] */
	uint32_t checkpoint_bytes;  /* download checkpoints [65536] */
	/* and at most one per this many milliseconds of the clock's mono_ms
	 * (a fast link then syncs once a period, not once per 64 KiB: a
	 * kill costs at most the larger of checkpoint_bytes and one period
	 * of transfer) [0: no time rule] */
	uint32_t checkpoint_min_ms;
	uint32_t dl_retry_base_s; /* download backoff start [5] */
	uint32_t dl_retry_max_s;  /* and cap [300] */
	uint16_t dl_max_tries;	  /* then connection_lost [10] */

	/* Encrypted images (docs/formats.md, "Encrypted image"). Without
	 * wrap keys, or a crypto port without gcm and ECDH, an offer of one
	 * is answered unsupported_package and not taken. */
	const char *device_id; /* the name a device's wrapped key is bound to */
	const struct fl_wrap_key *wrap_keys; /* own, then groups' */
	unsigned n_wrap_keys;
	struct fl_unzip unzip; /* ops NULL: compressed containers refused */
	/* The largest chunk accepted [FL_SEAL_CHUNK_MIN * 4 = 16 KiB], and
	 * the buffers of fl/unseal.h: rec of at least
	 * FL_SEAL_BUF_BYTES(seal_chunk_max) bytes, plain of seal_chunk_max
	 * (compressed containers only). Borrowed. The pointer is copied by
	 * fl_agent_init(); what it points to is read by the fl_agent_poll()
	 * that starts a transfer of an encrypted job, before that calls the
	 * downloader's start (and by fl_agent_on_dl_data() when the image
	 * starts over at 0). So a caller may fill it in late, while the job
	 * waits or downloads, but no later than that poll: filled in from
	 * the downloader's start, it is read empty and the job ends
	 * out_of_ram, as with buffers missing or too small. From then on
	 * rec holds the unseal stage's partial chunk between transfers: it
	 * stays in place until the job is no longer waiting or downloading
	 * (fl_agent_info()), which is when the agent has dropped it. */
	uint32_t seal_chunk_max;
	struct fl_agent_seal_bufs *seal_bufs;
};

/* ---- the agent -------------------------------------------------------- */

/* Everything below is private to agent/core; it is in the header so that
 * callers can place the agent statically. */
struct fl_agent {
	struct fl_agent_config cfg;
	int halt_rc;		  /* the error that halted it; 0 running */
	struct fl_agent_state st; /* RAM image of what is persisted */
	struct fl_install in;
	uint32_t status_n;  /* statuses sent this boot */
	uint64_t next_ms;   /* the current phase acts again at this time */
	uint64_t health_ms; /* next periodic health report */
	uint64_t trial_start_ms;
	uint64_t reboot_ms;   /* reboot requested at; 0 none */
	uint64_t progress_ms; /* last progress status */
	uint32_t progress_bytes;
	uint32_t ckpt_bytes; /* in.flushed at the last checkpoint */
	uint64_t ckpt_ms;    /* mono time of the last checkpoint or start */
	uint32_t dl_offset;  /* the offset the transfer asked for */
	uint32_t wait_retry_s;
	uint8_t wait_result; /* RETRY_LATER while a precondition blocks */
	char wait_reason[FL_PROTO_REASON_MAX];
	bool is_connected;
	bool is_broker_reached;
	bool is_dl_active;   /* a transfer runs */
	bool has_response;   /* its response came */
	bool is_health_sent; /* the first health report of this boot */
	bool has_sample;     /* sample holds a good one */
	uint8_t limits_seen; /* bit i: limit i had a value in the trial */
	bool is_unsealing;   /* unseal serves the running install */
	struct fl_unseal unseal;
	uint8_t seal_key[FL_AES256_KEY_BYTES]; /* unwrapped, until taken */
	struct fl_agent_health_sample sample;
	/* One buffer for what is built, used and dropped within one step,
	 * never two at once: the verified manifest (until its fields are in
	 * the job), a status, reported or health message (until published,
	 * and its JSON, encoded in place by the transport: msg), the
	 * serialized state (until saved or decoded). */
	union {
		struct fl_manifest manifest;
		struct fl_reported reported;
		struct fl_health health;
		struct fl_status status;
		char msg[FL_AGENT_MSG_MAX + 1];
		uint8_t blob[FL_AGENT_BLOB_MAX];
	} scratch;
};

/* What a caller (fleet-sim's summary, a test) may read. */
struct fl_agent_info {
	uint32_t boot;
	uint32_t last_job;
	uint32_t job;
	uint8_t phase;	/* enum fl_agent_phase */
	uint8_t result; /* enum fl_result */
	char reason[FL_PROTO_REASON_MAX];
	char version[FL_PROTO_VERSION_MAX]; /* the job's target */
	uint32_t bytes;			    /* downloaded so far */
};

/*
 * Starts the agent after a boot (or a restart of the agent process): loads
 * the persisted state, counts the boot, reads the slot manager's attempt
 * record and settles what a reboot, power cut or kill interrupted (a trial
 * now running, a commit or revert to report, an activation to redo, a
 * download to resume). Publishes nothing before fl_agent_on_connect().
 * a is caller-owned (zeroed here); cfg is copied, what it points to is
 * borrowed. Returns 0, FL_EINVAL (bad config: a port or its version, no
 * model, no key), FL_ECORRUPT (the persisted state has an unknown format:
 * nothing is overwritten), or a store or flash error.
 */
int fl_agent_init(struct fl_agent *a, const struct fl_agent_config *cfg);

/* Does what is due: preconditions, a download try, activation, trial
 * health samples and the decision, periodic health reports. Sets
 * *next_ms (may be NULL) to the milliseconds until it wants to be called
 * again: at most 1000 while a job is in progress or a reboot is awaited;
 * idle (no job, or the last one finished), at most 60000, until the next
 * health report while connected. Anything that gives the agent work (a
 * command, a connection) arrives through a call that acts at once, and
 * the caller polls after it (an idle fleet of simulated devices then
 * costs one poll per device a minute, not one a second). Returns 0 or a
 * store or flash error. */
int fl_agent_poll(struct fl_agent *a, uint32_t *next_ms);

/* The MQTT connection is up (after CONNACK and the cmd subscription) or
 * down. On connect the agent publishes reported and the current job's
 * latest status. Returns 0 (publish failures are tolerated). */
int fl_agent_on_connect(struct fl_agent *a);
void fl_agent_on_disconnect(struct fl_agent *a);

/*
 * A decoded command (fl_proto_decode_cmd), borrowed. Applies the device
 * rules of docs/protocol.md: expired, stale, duplicate, cancel,
 * precancel, trial pending, supersede; verifies an offer's or rollback's
 * manifest (signature first) and its applicability, and either takes the
 * job or answers it with its final result. A command that breaks a bound
 * of proto.h is answered invalid_command and changes nothing. Returns 0
 * (also when the command is refused: the answer is the status), or a store
 * or flash error.
 */
int fl_agent_on_cmd(struct fl_agent *a, const struct fl_cmd *cmd);

/* A command the adapter could not decode, with its job id if the decoder
 * got that far (else 0): answered invalid_command with detail (may be
 * NULL), unless it is the current or last job. Changes nothing.
 * Returns 0. */
int fl_agent_on_cmd_invalid(struct fl_agent *a, uint32_t job,
			    const char *detail);

/* The downloader's callbacks. on_dl_response and on_dl_data return 0 to
 * go on, or an error after which the adapter stops the transfer without
 * calling on_dl_done (FL_ESTATE: no transfer is expected; FL_ETOOBIG: the
 * response or the data would exceed the signed length; FL_EINVAL: a
 * response the agent does not continue, e.g. 4xx or a 206 at another
 * offset). on_dl_done: err 0 when the body ended normally, else the
 * adapter's error (cut, timeout). data is borrowed. */
int fl_agent_on_dl_response(struct fl_agent *a,
			    const struct fl_agent_dl_response *r);
int fl_agent_on_dl_data(struct fl_agent *a, const void *data, size_t len);
int fl_agent_on_dl_done(struct fl_agent *a, int err);

/* The boot count (for presence). */
uint32_t fl_agent_boot_count(const struct fl_agent *a);

/* The agent's message buffer, for its transport adapter, and its size in
 * *size (at least FL_AGENT_MSG_MAX + 1): during a publish_*() call it
 * holds the message given, which the adapter may encode in place
 * (proto.h: the encoders read the whole message before they write); between
 * calls into the agent it holds nothing, and the adapter may encode its
 * own messages (presence) in it. Only from the thread that drives the
 * agent. */
char *fl_agent_msg_buf(struct fl_agent *a, size_t *size);

/* A summary of the current or last job. */
void fl_agent_info(const struct fl_agent *a, struct fl_agent_info *out);

/* Serializes and parses the persisted state (state.c; exposed for tests
 * and tools). encode returns the length, always <= FL_AGENT_BLOB_MAX;
 * decode returns 0 or FL_ECORRUPT. */
size_t fl_agent_state_encode(uint8_t out[FL_AGENT_BLOB_MAX],
			     const struct fl_agent_state *st);
int fl_agent_state_decode(struct fl_agent_state *out, const uint8_t *in,
			  size_t len);

#endif
