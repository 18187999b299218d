/*
 * proto.h -- the wire protocol between fleetd and its devices: MQTT topics,
 * the five message types as plain bounded C structs, the result codes, and
 * the signed manifest. The one codec (common/proto, library fl_proto) is
 * used by the agent and by the orchestrator alike.
 *
 * Every struct here is self-contained: fixed-size arrays, no pointers into
 * the JSON it came from, so a decoded message outlives its input buffer and
 * can be copied with `=`. Every bound is a #define below and is part of the
 * protocol (docs/protocol.md); the worst-case encoding of every message fits
 * in FL_PROTO_MSG_MAX bytes, which tests/unit/test_proto.c proves.
 *
 * Strings are NUL-terminated ASCII; each field names its charset:
 *   ident   [A-Za-z0-9._-], 1 or more characters, first one alphanumeric
 *   version [A-Za-z0-9.+_-] (a manifest version is also semver)
 *   token   [a-z0-9_.:-] (reasons)
 *   text    printable ASCII 0x20..0x7e (detail)
 *   value   printable ASCII 0x20..0x7e except '"' and '\' (label values)
 * A string that is too long or outside its charset is refused by the
 * encoder and by the decoder alike.
 *
 * Errors every codec function may return, beside those listed with it:
 * FL_EINVAL (not JSON, a wrong type, a missing required field, a value out
 * of range or outside its charset), FL_ETOOBIG (input over FL_PROTO_MSG_MAX,
 * a string or array over its bound, output buffer too small), FL_ENOMEM
 * (encoders: cJSON could not allocate; a decoder cannot tell a failed
 * allocation inside cJSON's parser from bad input, and says FL_EINVAL). A
 * caller-owned struct fl_proto_diag, which may be NULL, receives a one-line
 * reason naming the field ("field: why"; only "field" when the codec is
 * built with FL_PROTO_COMPACT_DIAG, as a microcontroller builds it).
 */
#ifndef FL_PROTO_H
#define FL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl/crypto.h"

/* ---- bounds (sizes include the terminating NUL) ---------------------- */

#define FL_PROTO_MSG_MAX	 2048 /* bytes of any JSON payload */
#define FL_PROTO_NODES_MAX	 160  /* JSON values in one payload */
#define FL_PROTO_DEPTH_MAX	 6    /* nesting of objects and arrays */
#define FL_TOPIC_ROOT_MAX	 48 /* root prefix, e.g. "fleet" or "acme/prod" */
#define FL_DEVICE_ID_MAX	 64  /* ident */
#define FL_TOPIC_MAX		 128 /* any topic this protocol builds */
#define FL_PROTO_NAME_MAX	 32 /* ident: model, component, label key, metric */
#define FL_PROTO_VERSION_MAX	 32 /* version (= FL_VERSION_MAX of slots.h) */
#define FL_PROTO_TZ_MAX		 48 /* IANA zone, [A-Za-z0-9/_+-] */
#define FL_PROTO_LABEL_VALUE_MAX 48
#define FL_PROTO_REASON_MAX	 48 /* token */
#define FL_PROTO_DETAIL_MAX	 96 /* text */
#define FL_PROTO_LABELS_MAX	 8
#define FL_PROTO_COMPONENTS_MAX	 8
#define FL_PROTO_SLOTS_MAX	 2
#define FL_PROTO_METRICS_MAX	 8 /* custom metrics in one health report */
#define FL_PROTO_LIMITS_MAX	 4 /* health limits carried by an offer */
/* The largest integer on the wire: cJSON prints numbers with 15 significant
 * digits, so every integer up to 10^15-1 (Unix seconds, sequence numbers)
 * survives a round trip exactly. Other numbers keep 15 digits. */
#define FL_PROTO_UINT_MAX 999999999999999ull

#define FL_MANIFEST_BODY_MAX	  896 /* bytes of the signed body */
#define FL_MANIFEST_HW_MAX	  8   /* hardware models in one manifest */
#define FL_MANIFEST_URL_MAX	  201 /* 200 characters */
#define FL_MANIFEST_RANGE_MAX	  64  /* "from": a semver range */
#define FL_MANIFEST_KID_BYTES	  8   /* key id: SHA-256(public point)[0..8) */
#define FL_MANIFEST_PUB_BYTES	  65  /* uncompressed P-256 point */
#define FL_MANIFEST_SIG_BYTES	  64  /* r || s, big-endian */
#define FL_MANIFEST_ENV_VERSION	  1   /* envelope "v": a directly trusted key */
#define FL_MANIFEST_ENV_CERTIFIED 2   /* envelope "v": with a key certificate */
#define FL_MANIFEST_BODY2_MAX	  800 /* body bytes in an envelope 2 */
#define FL_MANIFEST_BODY_VERSION  1   /* body "v": a plain image */
#define FL_MANIFEST_BODY_SEALED	  2   /* body "v": an encrypted image */
/* A body of format 2 is at most this long (either envelope), so that a
 * command with a wrapped key ("key") still fits FL_PROTO_MSG_MAX. */
#define FL_MANIFEST_SEALED_MAX 672
#define FL_CMD_KEY_BYTES       122 /* a wrapped content key (fl/seal.h) */

/* The signing key's certificate in an envelope 2 (docs/formats.md, "Key
 * certificate"): 95 signed bytes, then the root's signature over them. */
#define FL_CERT_BYTES	      159
#define FL_CERT_TBS_BYTES     95
#define FL_CERT_FORMAT	      1	    /* byte 0 */
#define FL_CERT_ROLE_RELEASE  0x01u /* may sign manifests (not rollbacks) */
#define FL_CERT_ROLE_ROLLBACK 0x02u /* may sign rollback manifests */

/* A caller-owned diagnostic: a one-line reason for the last failure. */
struct fl_proto_diag {
	char msg[128];
};

/* The charsets above, for fl_proto_check_str(). */
enum fl_charset {
	FL_CS_IDENT,   /* [A-Za-z0-9._-], first alphanumeric */
	FL_CS_VERSION, /* [A-Za-z0-9.+_-] */
	FL_CS_TOKEN,   /* [a-z0-9_.:-] */
	FL_CS_TEXT,    /* 0x20..0x7e */
	FL_CS_VALUE,   /* 0x20..0x7e except '"' and '\' */
	FL_CS_TZ,      /* [A-Za-z0-9/_+-] */
	FL_CS_URL,     /* scheme "://" then 0x21..0x7e except '"' and '\' */
	FL_CS_RANGE,   /* 0x20..0x7e except '"' and '\' (semver range) */
};

/* Checks s against a charset (enum fl_charset) and a size (NUL included):
 * the test every encoder and decoder applies to a string field. An empty
 * string passes unless the charset needs a first character (url); callers
 * check presence. For a sender that builds messages from its own data
 * and checks that data once (the agent, its configuration). Returns 0,
 * FL_EINVAL or FL_ETOOBIG. */
int fl_proto_check_str(const char *s, size_t size, int cs);

/* ---- topics ----------------------------------------------------------- */

/* <root>/v1/dev/{id}/{presence|reported|cmd|status|health} */
enum fl_topic_kind {
	FL_TOPIC_PRESENCE = 0, /* D->S, retained, also the Will */
	FL_TOPIC_REPORTED = 1, /* D->S, retained inventory */
	FL_TOPIC_CMD = 2,      /* S->D, QoS 1, never retained, expiry */
	FL_TOPIC_STATUS = 3,   /* D->S, QoS 1 */
	FL_TOPIC_HEALTH = 4,   /* D->S, QoS 0, periodic */
};
#define FL_TOPIC_KINDS 5

/* "presence", "reported", ...; NULL for an unknown kind. */
const char *fl_topic_kind_name(int kind);

/* 0 if id is an ident of 1..FL_DEVICE_ID_MAX-1 characters, else FL_EINVAL
 * (empty or outside the charset) or FL_ETOOBIG. */
int fl_device_id_check(const char *id);

/* 0 if root is 1..FL_TOPIC_ROOT_MAX-1 characters of one or more
 * '/'-separated idents (no empty level, no wildcard, no leading '$'), else
 * FL_EINVAL or FL_ETOOBIG. */
int fl_topic_root_check(const char *root);

/* Writes "<root>/v1/dev/<id>/<kind>" into out (NUL-terminated). Returns 0,
 * FL_EINVAL (bad root, id or kind) or FL_ETOOBIG (out too small). */
int fl_topic_build(char *out, size_t out_size, const char *root, const char *id,
		   int kind);

/* Writes the server's subscription filter "<root>/v1/dev/+/<kind>".
 * Returns 0, FL_EINVAL or FL_ETOOBIG. */
int fl_topic_filter(char *out, size_t out_size, const char *root, int kind);

/* Splits topic[0, len) (not necessarily NUL-terminated) of the given root
 * into the device id (copied into id_out) and the kind. Returns 0, or
 * FL_EINVAL when the topic is not one of this protocol's (other root, other
 * protocol version, unknown kind, bad id, extra levels). */
int fl_topic_parse(char id_out[FL_DEVICE_ID_MAX], int *kind_out,
		   const char *topic, size_t len, const char *root);

/* ---- vocabularies (values pinned: they are stored and compared) ------- */

/* Update state of a job, LwM2M Object 5 resource 3 extended. */
enum fl_update_state {
	FL_STATE_IDLE = 0, /* "idle": nothing running; final result set */
	FL_STATE_DOWNLOADING = 1, /* "downloading" */
	FL_STATE_DOWNLOADED = 2,  /* "downloaded": verified, staged */
	FL_STATE_UPDATING = 3,	  /* "updating": activating, rebooting */
	FL_STATE_WAITING = 4,	  /* "waiting": accepted, preconditions */
	FL_STATE_TRIAL = 5,	  /* "trial": new image runs, health check */
};

/*
 * Result of a job. 0..9 are LwM2M Object 5 resource 5 (Update Result) with
 * the same numbers; 32 and up are this protocol's. "Final" results end a
 * job (state idle); FL_RESULT_NONE and FL_RESULT_RETRY_LATER do not.
 */
enum fl_result {
	FL_RESULT_NONE = 0,		    /* "none": in progress */
	FL_RESULT_SUCCESS = 1,		    /* "success": committed */
	FL_RESULT_NO_FLASH = 2,		    /* "not_enough_flash" */
	FL_RESULT_NO_RAM = 3,		    /* "out_of_ram" */
	FL_RESULT_CONNECTION_LOST = 4,	    /* "connection_lost" */
	FL_RESULT_INTEGRITY = 5,	    /* "integrity_failure" */
	FL_RESULT_UNSUPPORTED_PACKAGE = 6,  /* "unsupported_package" */
	FL_RESULT_INVALID_URI = 7,	    /* "invalid_uri" */
	FL_RESULT_FAILED = 8,		    /* "update_failed" */
	FL_RESULT_UNSUPPORTED_PROTOCOL = 9, /* "unsupported_protocol" */
	FL_RESULT_RETRY_LATER = 32,	    /* "retry_later": not final */
	FL_RESULT_REJECTED = 33,	    /* "rejected": a precondition */
	FL_RESULT_REVERTED = 34,	    /* "reverted": trial abandoned */
	FL_RESULT_ROLLED_BACK = 35,	    /* "rolled_back": rollback done */
	FL_RESULT_ROLLBACK_FAILED = 36,	    /* "rollback_failed" */
	FL_RESULT_CANCELLED = 37,	    /* "cancelled" */
	FL_RESULT_EXPIRED = 38,		    /* "expired": command or manifest */
	FL_RESULT_BAD_SIGNATURE = 39,  /* "bad_signature": or unknown key */
	FL_RESULT_WRONG_MODEL = 40,    /* "wrong_model" */
	FL_RESULT_DOWNGRADE = 41,      /* "downgrade_refused" */
	FL_RESULT_ANTI_ROLLBACK = 42,  /* "anti_rollback": seq < floor */
	FL_RESULT_BAD_MANIFEST = 43,   /* "invalid_manifest" */
	FL_RESULT_NOT_APPLICABLE = 44, /* "not_applicable": component, from */
	FL_RESULT_STALE = 45,	       /* "stale": job older than last */
	FL_RESULT_BAD_COMMAND = 46,    /* "invalid_command" */
};

/* Slot states on the wire: the same numbers as enum fl_slot_state
 * (firmware-hal/include/fl/slots.h). */
enum fl_wire_slot_state {
	FL_WIRE_SLOT_EMPTY = 0,	    /* "empty" */
	FL_WIRE_SLOT_WRITING = 1,   /* "writing" */
	FL_WIRE_SLOT_STAGED = 2,    /* "staged" */
	FL_WIRE_SLOT_TRIAL = 3,	    /* "trial" */
	FL_WIRE_SLOT_CONFIRMED = 4, /* "confirmed" */
	FL_WIRE_SLOT_BAD = 5,	    /* "bad" */
};

/* Reset reasons on the wire: the same numbers as enum fl_reset_reason
 * (firmware-hal/include/fl/boot.h). */
enum fl_wire_reset {
	FL_WIRE_RESET_UNKNOWN = 0,  /* "unknown" */
	FL_WIRE_RESET_POWER_ON = 1, /* "power_on" */
	FL_WIRE_RESET_SOFTWARE = 2, /* "software" */
	FL_WIRE_RESET_WATCHDOG = 3, /* "watchdog" */
	FL_WIRE_RESET_BROWNOUT = 4, /* "brownout" */
	FL_WIRE_RESET_PANIC = 5,    /* "panic" */
};

enum fl_cmd_type {
	FL_CMD_NONE = 0,
	FL_CMD_OFFER = 1,    /* "offer": install the manifest's image */
	FL_CMD_CANCEL = 2,   /* "cancel": abandon a job not yet activated */
	FL_CMD_ROLLBACK = 3, /* "rollback": back to the previous image */
};

enum fl_activate {
	FL_ACTIVATE_NOW = 0,	/* "now" */
	FL_ACTIVATE_IDLE = 1,	/* "idle": when the application is not busy */
	FL_ACTIVATE_WINDOW = 2, /* "window": inside window, device local time */
};

/* Names and numbers. *_name returns NULL for a value outside the enum;
 * *_parse returns 0 or FL_EINVAL. */
const char *fl_result_name(int result);
int fl_result_parse(int *out, const char *name);
bool fl_result_is_final(int result);
/* The LwM2M Object 5 Update Result for a result: itself for 0..9, 8
 * (firmware update failed) for the extensions. */
int fl_result_lwm2m(int result);
const char *fl_update_state_name(int state);
int fl_update_state_parse(int *out, const char *name);
const char *fl_wire_slot_state_name(int state);
const char *fl_wire_reset_name(int reset);
const char *fl_cmd_type_name(int type);

/* ---- messages --------------------------------------------------------- */

/* presence (retained; the Will is the same message with is_online false). */
struct fl_presence {
	bool is_online; /* "online" (required) */
	uint32_t boot;	/* "boot": boot count of the device */
	uint32_t conn;	/* "conn": connection number since boot, from 1 */
	uint64_t ts;	/* "ts": device time, Unix s; 0 = unknown, omitted */
	char agent[FL_PROTO_VERSION_MAX]; /* "agent": version; "" omitted */
};

struct fl_label {
	char key[FL_PROTO_NAME_MAX];	      /* ident */
	char value[FL_PROTO_LABEL_VALUE_MAX]; /* value charset, may be "" */
};

struct fl_component {
	char name[FL_PROTO_NAME_MAX];	    /* ident */
	char version[FL_PROTO_VERSION_MAX]; /* version */
};

struct fl_wire_slot {
	uint8_t state;			    /* enum fl_wire_slot_state */
	char version[FL_PROTO_VERSION_MAX]; /* "" when empty, omitted */
	uint64_t seq; /* the image's anti-rollback sequence number */
	/* The image's signed length and SHA-256, only in the slot that is
	 * not booted and only for a verified image (staged, trial,
	 * confirmed): fleetd signs a rollback manifest to it from them.
	 * length 0: unknown, both omitted. */
	uint32_t length;
	uint8_t sha256[FL_SHA256_BYTES];
};

/* reported (retained inventory). */
struct fl_reported {
	char model[FL_PROTO_NAME_MAX]; /* "model" (required), ident */
	char tz[FL_PROTO_TZ_MAX];      /* "tz": IANA zone; "" = UTC, omitted */
	uint32_t boot;		       /* "boot": boot count */
	uint64_t ts;		       /* "ts": 0 = unknown, omitted */
	char agent[FL_PROTO_VERSION_MAX];
	unsigned n_labels; /* "labels": {"key":"value",...} */
	struct fl_label labels[FL_PROTO_LABELS_MAX];
	unsigned n_components; /* "components": [{"name","version"},...] */
	struct fl_component components[FL_PROTO_COMPONENTS_MAX];
	unsigned n_slots; /* "slots": [slot A, slot B]; 0 = no A/B */
	struct fl_wire_slot slots[FL_PROTO_SLOTS_MAX];
	uint8_t booted; /* "booted": slot running now (< n_slots) */
	uint64_t floor; /* "floor": anti-rollback floor */
	uint32_t job;	/* "job": last job seen; 0 none, omitted */
	uint8_t state;	/* "state": enum fl_update_state of that job */
	uint8_t result; /* "result": enum fl_result of that job */
};

/* One health limit carried by an offer: the trial fails when the metric
 * goes below min or above max (each optional). */
struct fl_health_limit {
	char metric[FL_PROTO_NAME_MAX]; /* ident: a health metric name */
	bool has_min, has_max;
	double min, max; /* finite */
};

/*
 * A manifest envelope as it travels: the exact body bytes, the signature
 * over them and the id of the signing key. Decoding an envelope never
 * parses the body; fl_manifest_verify() checks the signature first.
 */
struct fl_manifest_env {
	uint8_t v; /* envelope format: FL_MANIFEST_ENV_VERSION (1) or
		      FL_MANIFEST_ENV_CERTIFIED (2) */
	uint8_t kid[FL_MANIFEST_KID_BYTES];
	uint16_t body_len; /* 1..FL_MANIFEST_BODY_MAX (v 2: ..BODY2_MAX) */
	uint8_t body[FL_MANIFEST_BODY_MAX];
	uint8_t sig[FL_MANIFEST_SIG_BYTES];
	/* v 2: the signing key's certificate, its bytes as the root signed
	 * them (decoded only once the root's signature verified); v 1:
	 * zero. */
	uint8_t cert[FL_CERT_BYTES];
};

/* cmd (S->D). offer and rollback carry a manifest and the activation and
 * health fields; cancel carries only the common ones. */
struct fl_cmd {
	uint8_t type;	  /* "type": enum fl_cmd_type (required) */
	uint32_t job;	  /* "job": 1..2^32-1 (required) */
	uint64_t issued;  /* "issued": server time, Unix s; 0 omitted */
	uint64_t expires; /* "expires": Unix s (required, > 0) */
	struct fl_manifest_env manifest; /* "manifest": offer, rollback */
	uint8_t activate;		 /* "activate": enum fl_activate */
	uint16_t window_start_min;	 /* "window": "HH:MM-HH:MM" */
	uint16_t window_end_min;	 /* minutes after local midnight */
	uint32_t health_window_s;	 /* "health"."window_s"; 0 default */
	unsigned n_limits;		 /* "health"."limits" */
	struct fl_health_limit limits[FL_PROTO_LIMITS_MAX];
	/* "key": offer, rollback of an encrypted image (body format 2): the
	 * content key wrapped for this device or its group, base64 of
	 * FL_CMD_KEY_BYTES (docs/formats.md, "Wrapped content key"). */
	bool has_key;
	uint8_t key[FL_CMD_KEY_BYTES];
};

/* status (D->S): one step of one job. Statuses of a job are ordered by
 * (boot, n); a receiver ignores one that is not newer than the last. */
struct fl_status {
	uint32_t job;	/* "job" (required) */
	uint32_t boot;	/* "boot": boot count when sent */
	uint32_t n;	/* "n": status number since boot, from 1 */
	uint64_t ts;	/* "ts": 0 = unknown, omitted */
	uint8_t state;	/* "state": enum fl_update_state (required) */
	uint8_t result; /* "result": enum fl_result; none omitted */
	char reason[FL_PROTO_REASON_MAX]; /* token; "" omitted */
	char detail[FL_PROTO_DETAIL_MAX]; /* text; "" omitted */
	uint32_t bytes;			  /* "bytes": downloaded so far */
	uint32_t total;			  /* "total": image length; 0 omitted */
	uint32_t retry_s; /* "retry_s": retry_later: next try in s */
	uint8_t reset;	  /* "reset": enum fl_wire_reset; unknown omitted */
	char version[FL_PROTO_VERSION_MAX]; /* "version": target; "" omitted */
};

struct fl_metric {
	char name[FL_PROTO_NAME_MAX]; /* ident */
	double value;		      /* finite */
};

/* health (D->S, periodic). */
struct fl_health {
	uint64_t ts;	   /* "ts": 0 = unknown, omitted */
	uint64_t uptime_s; /* "uptime_s" (required) */
	uint32_t boot;	   /* "boot": boot count (required) */
	uint8_t reset;	   /* "reset": enum fl_wire_reset of the last boot */
	uint32_t crashes;  /* "crashes": crash count since provisioning */
	char version[FL_PROTO_VERSION_MAX]; /* "version": running; "" omitted */
	uint8_t slot;			    /* "slot": booted slot */
	bool is_trial;			    /* "trial": running a trial boot */
	uint32_t job;	    /* "job": the trial's job; 0 omitted */
	unsigned n_metrics; /* "metrics": {"name": number, ...} */
	struct fl_metric metrics[FL_PROTO_METRICS_MAX];
};

/*
 * Encoders write compact JSON, NUL-terminated, into out[0, out_size) and
 * set *out_len (NUL excluded; may be NULL). A buffer of FL_PROTO_MSG_MAX + 1
 * bytes always suffices. Fields at their "omitted" value are left out.
 * The encoders of presence, reported, status and health read all of *m
 * (into cJSON's tree) before they write the first byte of out, so out may
 * be the memory that holds *m (encoding in place, as a device does in the
 * agent's message buffer: fl_agent_msg_buf()); *m is then overwritten.
 * Returns 0, FL_EINVAL (the struct breaks a rule above; not checked again
 * for presence, reported, status and health by a codec built with
 * FL_PROTO_TRUST_OWN, as a device builds it: codec.c), FL_ETOOBIG,
 * FL_ENOMEM.
 *
 * Decoders read in[0, len) (no NUL needed) into *out, which they clear
 * first. Unknown fields are ignored (a newer sender may add optional
 * fields); a field present twice is refused. Returns 0, FL_EINVAL,
 * FL_ETOOBIG; fl_proto_decode_cmd() also FL_ENOTSUP (unknown
 * "type" or envelope "v") and, when it fails, leaves out->type and
 * out->job set if they were readable (0 otherwise), so that a device can
 * answer the job with invalid_command.
 */
int fl_proto_encode_presence(char *out, size_t out_size, size_t *out_len,
			     const struct fl_presence *m);
int fl_proto_encode_reported(char *out, size_t out_size, size_t *out_len,
			     const struct fl_reported *m);
int fl_proto_encode_cmd(char *out, size_t out_size, size_t *out_len,
			const struct fl_cmd *m);
int fl_proto_encode_status(char *out, size_t out_size, size_t *out_len,
			   const struct fl_status *m);
int fl_proto_encode_health(char *out, size_t out_size, size_t *out_len,
			   const struct fl_health *m);

int fl_proto_decode_presence(struct fl_presence *out, const char *in,
			     size_t len, struct fl_proto_diag *diag);
int fl_proto_decode_reported(struct fl_reported *out, const char *in,
			     size_t len, struct fl_proto_diag *diag);
int fl_proto_decode_cmd(struct fl_cmd *out, const char *in, size_t len,
			struct fl_proto_diag *diag);
int fl_proto_decode_status(struct fl_status *out, const char *in, size_t len,
			   struct fl_proto_diag *diag);
int fl_proto_decode_health(struct fl_health *out, const char *in, size_t len,
			   struct fl_proto_diag *diag);

/* ---- the signed manifest (docs/formats.md, "Signed manifest") --------- */

/* The signed body, after verification. */
struct fl_manifest {
	uint8_t v;			    /* "v": body format, 1 */
	char component[FL_PROTO_NAME_MAX];  /* ident */
	char version[FL_PROTO_VERSION_MAX]; /* semver */
	unsigned n_hardware;		    /* 1..FL_MANIFEST_HW_MAX */
	char hardware[FL_MANIFEST_HW_MAX][FL_PROTO_NAME_MAX]; /* idents */
	uint32_t length;		 /* image bytes, >= 1 */
	uint8_t sha256[FL_SHA256_BYTES]; /* of the image */
	char url[FL_MANIFEST_URL_MAX];	 /* http:// or https:// */
	uint64_t seq;	  /* anti-rollback sequence number, >= 1 */
	uint64_t issued;  /* Unix s when signed */
	uint64_t expires; /* Unix s; > issued */
	bool is_rollback; /* "rollback": may point at an older version */
	char from[FL_MANIFEST_RANGE_MAX]; /* semver range; "" = any */
	/* Body format 2 ("enc"): the image is served as an encrypted
	 * container (docs/formats.md, "Encrypted image"); length and sha256
	 * above are the image's, what the slot holds; url serves the
	 * container. */
	bool is_sealed;	     /* v is FL_MANIFEST_BODY_SEALED */
	uint8_t enc_zip;     /* "enc"."zip": enum fl_seal_zip */
	uint32_t enc_chunk;  /* "enc"."chunk": plaintext per chunk */
	uint32_t enc_length; /* "enc"."length": container bytes */
	uint8_t enc_sha256[FL_SHA256_BYTES]; /* "enc"."sha256" */
};

/* A trusted public key and its id. */
struct fl_manifest_key {
	uint8_t kid[FL_MANIFEST_KID_BYTES];
	uint8_t pub[FL_MANIFEST_PUB_BYTES];
};

/* kid = the first 8 bytes of SHA-256 over the 65-byte public point.
 * Returns 0, FL_EINVAL, or the port's error. */
int fl_manifest_kid(uint8_t kid[FL_MANIFEST_KID_BYTES],
		    const struct fl_crypto_ops *c,
		    const uint8_t pub[FL_MANIFEST_PUB_BYTES]);

/* Reads a public key in the form the device configuration takes: 130 hex
 * digits of the uncompressed point (04 || X || Y), surrounding whitespace
 * allowed, and computes its kid. Does not check that the point is on the
 * curve (p256_verify does). Returns 0, FL_EINVAL, or the port's error. */
int fl_manifest_key_parse(struct fl_manifest_key *out,
			  const struct fl_crypto_ops *c, const char *text,
			  size_t len);

/* The envelope as JSON: {"v":1,"kid":"<16 hex>","body":"<base64>",
 * "sig":"<base64>"}. Same contract as the message codecs; decode refuses
 * unknown fields and returns FL_ENOTSUP for another "v". */
int fl_manifest_env_encode(char *out, size_t out_size, size_t *out_len,
			   const struct fl_manifest_env *env);
int fl_manifest_env_decode(struct fl_manifest_env *out, const char *in,
			   size_t len, struct fl_proto_diag *diag);

/* Checks every rule of the body format on m (what a device will check when
 * it parses it). Returns 0 or FL_EINVAL, with the field in diag. */
int fl_manifest_validate(const struct fl_manifest *m,
			 struct fl_proto_diag *diag);

/* Writes the body JSON (no NUL is part of the body) into out and sets
 * *out_len. Returns 0, FL_EINVAL (a field breaks a rule), FL_ETOOBIG
 * (over FL_MANIFEST_BODY_MAX or out_size), FL_ENOMEM. */
int fl_manifest_body_encode(uint8_t *out, size_t out_size, size_t *out_len,
			    const struct fl_manifest *m);

/* Parses a body WITHOUT checking any signature: for tools that show a
 * manifest, never for a decision. Unknown fields are refused. Returns 0,
 * FL_EINVAL, FL_ETOOBIG, FL_ENOTSUP (body "v" not 1). */
int fl_manifest_body_decode_unverified(struct fl_manifest *out,
				       const uint8_t *body, size_t len,
				       struct fl_proto_diag *diag);

/*
 * Envelope 1 only, for tools and tests: picks the key whose kid matches,
 * verifies the signature over the exact body bytes, and only then parses
 * the body into *out (cleared first): fl_manifest_verify_trusted() with
 * these keys, no roots and any key allowed to sign rollbacks (an envelope
 * 2 is then FL_ENOENT). Returns 0; FL_ENOENT (no trusted key has that
 * kid); FL_EVERIFY (bad signature); FL_ENOTSUP (envelope or body
 * version); FL_EINVAL, FL_ETOOBIG (signed, but the body breaks a rule);
 * FL_ECRYPTO or another error of the port.
 */
int fl_manifest_verify(struct fl_manifest *out,
		       const struct fl_manifest_env *env,
		       const struct fl_manifest_key *keys, unsigned n_keys,
		       const struct fl_crypto_ops *c,
		       struct fl_proto_diag *diag);

/* ---- key certificates and trust (docs/formats.md, "Key certificate") -- */

/* A signing key's certificate, decoded. */
struct fl_manifest_cert {
	uint8_t roles;	     /* FL_CERT_ROLE_*, at least one, no other bit */
	uint16_t generation; /* 1..65535: the key's place in the rotation */
	uint16_t floor;	     /* 1..generation: revokes every generation below */
	uint8_t root_kid[FL_MANIFEST_KID_BYTES]; /* the root that signs it */
	uint64_t not_before; /* Unix s: manifests issued from then on ... */
	uint64_t not_after;  /* ... and before this; > not_before */
	uint8_t pub[FL_MANIFEST_PUB_BYTES]; /* the signing key's point */
	uint8_t sig[FL_MANIFEST_SIG_BYTES]; /* the root's, over bytes 0..94 */
};

/* Reads the 159 bytes of a certificate. Checks the layout only (format,
 * roles, generation, floor, validity order, point prefix), not the
 * signature. Returns 0 or FL_EINVAL (out cleared). */
int fl_manifest_cert_decode(struct fl_manifest_cert *out,
			    const uint8_t in[FL_CERT_BYTES]);

/* What a device trusts, and what it has learnt. */
struct fl_manifest_trust {
	/* Signing keys trusted directly: envelope 1. */
	const struct fl_manifest_key *keys;
	unsigned n_keys;
	/* Of those, the ids that may sign rollback manifests; 0 ids: any. */
	const uint8_t (*rollback_kids)[FL_MANIFEST_KID_BYTES];
	unsigned n_rollback_kids;
	/* Root keys: they certify signing keys (envelope 2). */
	const struct fl_manifest_key *roots;
	unsigned n_roots;
	/* The device's key floor: certificates of a lower generation are
	 * revoked. 0 or 1: none is. */
	uint16_t key_floor;
	/* Trusted Unix time; 0: none (validity is then checked against the
	 * manifest's "issued" only). */
	uint64_t now;
};

/* Who signed a manifest, or why it was refused. */
struct fl_manifest_signer {
	uint8_t kid[FL_MANIFEST_KID_BYTES]; /* the key that signed the body */
	uint16_t generation; /* its certificate's; 0: a directly trusted key */
	uint16_t floor;	     /* its certificate's floor; 0 direct */
	/* On a refusal, the reason token of docs/protocol.md that names it
	 * ("unknown_key", "unknown_root", "bad_certificate", "revoked_key",
	 * "key_expired", "key_not_yet_valid", "not_a_rollback_key",
	 * "not_a_release_key"), or "" (a bad signature, a bad body).
	 * Static storage; never NULL after a call. */
	const char *reason;
};

/*
 * The device's path for both envelopes: verifies, then parses. Envelope 1:
 * the body's signature by a directly trusted key (kid). Envelope 2: the
 * root named by the certificate, the root's signature over the
 * certificate's bytes, then the certificate's fields, its generation
 * against the key floor and its expiry against now, then the body's
 * signature by the certified key. Only then is the body parsed; then its
 * "issued" must lie in the certificate's validity and its kind (release,
 * rollback) in the certificate's roles (envelope 1: a rollback needs a
 * rollback key). *out and *who are cleared first; out is cleared again on
 * any refusal; who is filled on success and says the reason on refusal.
 *
 * Returns 0; FL_ENOENT (no trusted key or root has that id); FL_EVERIFY (a
 * signature: the body's, or the root's over the certificate); FL_EROLLBACK
 * (the certificate's generation is below the key floor: revoked);
 * FL_ESTATE (the key is expired or not yet valid, or may not sign this
 * kind of manifest); FL_ENOTSUP (envelope or body version); FL_EINVAL,
 * FL_ETOOBIG (a malformed envelope or certificate, or a body that breaks a
 * rule); FL_ECRYPTO or another error of the port. A device answers
 * FL_ENOENT, FL_EVERIFY, FL_EROLLBACK and FL_ESTATE with bad_signature
 * (and who->reason), the others with invalid_manifest.
 */
int fl_manifest_verify_trusted(struct fl_manifest *out,
			       struct fl_manifest_signer *who,
			       const struct fl_manifest_env *env,
			       const struct fl_manifest_trust *trust,
			       const struct fl_crypto_ops *c,
			       struct fl_proto_diag *diag);

/* Signs a digest: writes r || s (big-endian, 32 bytes each). Returns 0 or
 * a negative error, passed through by fl_manifest_seal(). */
typedef int (*fl_manifest_sign_fn)(void *ctx,
				   const uint8_t digest[FL_SHA256_BYTES],
				   uint8_t sig[FL_MANIFEST_SIG_BYTES]);

/* The signer's path (fleet-manifest, fleetd): encodes m as the body,
 * hashes it through c, has sign() sign the digest and fills *env. Returns
 * 0, the errors of fl_manifest_body_encode(), the port's, or sign()'s. */
int fl_manifest_seal(struct fl_manifest_env *env, const struct fl_manifest *m,
		     const uint8_t kid[FL_MANIFEST_KID_BYTES],
		     const struct fl_crypto_ops *c, fl_manifest_sign_fn sign,
		     void *sign_ctx);

/* The signer's path for a certificate (fleet-manifest certify, fleetd
 * keys): checks every field of *cert (sig ignored), writes the 95 signed
 * bytes, has sign() (the root) sign their SHA-256 and appends the
 * signature: out is the certificate as it travels, cert->sig is set.
 * Returns 0, FL_EINVAL (a field breaks a rule), the port's or sign()'s
 * error. */
int fl_manifest_certify(uint8_t out[FL_CERT_BYTES],
			struct fl_manifest_cert *cert,
			const struct fl_crypto_ops *c, fl_manifest_sign_fn sign,
			void *sign_ctx);

/* fl_manifest_seal() for envelope 2: the body (at most
 * FL_MANIFEST_BODY2_MAX bytes) signed by the key that cert certifies
 * (sign() must sign with it; kid is derived from the certificate).
 * Returns 0, FL_EINVAL (a malformed certificate), the errors of
 * fl_manifest_body_encode() (FL_ETOOBIG over 800 bytes), the port's, or
 * sign()'s. */
int fl_manifest_seal_certified(struct fl_manifest_env *env,
			       const struct fl_manifest *m,
			       const uint8_t cert[FL_CERT_BYTES],
			       const struct fl_crypto_ops *c,
			       fl_manifest_sign_fn sign, void *sign_ctx);

/* What a device knows when it decides whether a verified manifest applies. */
struct fl_manifest_facts {
	const char *model;     /* this device's hardware model */
	const char *component; /* NULL: any component is known */
	const char
		*current_version; /* of that component; NULL or "": unknown */
	uint64_t now;		  /* trusted Unix s; 0: no trusted clock */
	uint64_t floor;		  /* anti-rollback floor */
};

/*
 * The checks after the signature, in the order of docs/protocol.md:
 * expiry (skipped without a trusted clock), anti-rollback (seq < floor
 * refused; a rollback manifest needs seq > floor), version (older than
 * current refused unless is_rollback; equal allowed), model, component,
 * "from" range. Returns 0 when it applies, else FL_ESTATE with *why set to
 * FL_RESULT_EXPIRED, _ANTI_ROLLBACK, _DOWNGRADE, _WRONG_MODEL or
 * _NOT_APPLICABLE; FL_EINVAL for NULL arguments.
 */
int fl_manifest_check(const struct fl_manifest *m,
		      const struct fl_manifest_facts *f, int *why);

/* ---- encodings used by the formats (strict, bounded) ------------------ */

/* Standard base64 (RFC 4648, '+' '/', '=' padding, no line breaks). decode
 * refuses any other character, bad padding and non-zero pad bits. Both
 * return 0, FL_EINVAL or FL_ETOOBIG (output does not fit; encode counts
 * the NUL it writes). */
int fl_base64_encode(char *out, size_t out_size, size_t *out_len,
		     const uint8_t *in, size_t len);
int fl_base64_decode(uint8_t *out, size_t out_size, size_t *out_len,
		     const char *in, size_t len);

/* Lowercase hex; decode takes either case and needs exactly 2 * out_len
 * digits. Return 0, FL_EINVAL or FL_ETOOBIG. */
int fl_hex_encode(char *out, size_t out_size, const uint8_t *in, size_t len);
int fl_hex_decode(uint8_t *out, size_t out_len, const char *in, size_t len);

#endif
