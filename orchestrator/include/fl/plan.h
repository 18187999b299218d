/*
 * plan.h -- the typed rollout plan, as the parser produces it and the
 * engine consumes it.
 *
 * The language and its meaning are in plans/README.md. A struct fl_plan is
 * one allocation-owning object: every string and list it points to lives in
 * the plan's own arena and is freed by fl_plan_free(). All units are in the
 * field names; every list has a fixed maximum (FL_PLAN_MAX_*), and a plan
 * that exceeds one is refused by the validator with a positioned error.
 */
#ifndef FL_PLAN_H
#define FL_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fl/semver.h"

#define FL_PLAN_NAME_MAX       64 /* rollout, stage, hold names (chars) */
#define FL_PLAN_MAX_STAGES     32
#define FL_PLAN_MAX_HOLDS      32
#define FL_PLAN_MAX_WINDOWS    16
#define FL_PLAN_MAX_METRICS    32
#define FL_PLAN_MAX_HARDWARE   64
#define FL_PLAN_MAX_LABELS     16   /* keys in one match */
#define FL_PLAN_MAX_VALUES     64   /* values of one label key */
#define FL_PLAN_MAX_DEVICE_IDS 4096 /* a stage's devices, targets.exclude */
/* artifact.chunk: what the container format allows (docs/formats.md,
 * "Encrypted image"), and fleetd's default, which every agent takes. */
#define FL_PLAN_CHUNK_MIN      4096u
#define FL_PLAN_CHUNK_MAX      (1024u * 1024u)
#define FL_PLAN_CHUNK_DEFAULT  16384u
#define FL_PLAN_MAX_FILE_BYTES (1u << 20)
#define FL_PLAN_MAX_DEPTH      16 /* YAML nesting */
#define FL_PLAN_MAX_DIAGS      100
/* health.rollback_timeout when the plan does not set it */
#define FL_PLAN_ROLLBACK_TIMEOUT_DEFAULT_S 3600

/* One part per million: 5% = 50000, 0.5% = 5000, 100% = 1000000. */
#define FL_PPM 1000000u

/* Where a value came from in the plan file (1-based; 0 when synthesized). */
struct fl_pos {
	uint32_t line, col;
};

/* Label selector: every key must match; a key matches when the device's
 * label equals any of its values. n == 0 matches every device. */
struct fl_plan_label {
	const char *key;
	unsigned nvalues;
	const char **values;
};

struct fl_plan_match {
	unsigned n;
	struct fl_plan_label *labels;
	struct fl_pos pos;
};

enum fl_plan_activate {
	FL_PLAN_ACTIVATE_NOW = 0,    /* reboot into it as soon as installed */
	FL_PLAN_ACTIVATE_WINDOW = 1, /* reboot only inside a window */
	FL_PLAN_ACTIVATE_IDLE = 2,   /* reboot when the device reports idle */
};

enum fl_plan_on_failure {
	FL_ON_FAILURE_ROLLBACK = 0, /* fleet-wide rollback */
	FL_ON_FAILURE_PAUSE = 1,
};

enum fl_plan_stage_kind {
	FL_STAGE_DEVICES = 0, /* exactly these ids */
	FL_STAGE_COUNT = 1,   /* N further devices */
	FL_STAGE_MATCH = 2,   /* the devices matching labels */
	FL_STAGE_PERCENT = 3, /* cumulative share of all targets */
};

struct fl_plan_metric {
	const char *name;
	uint8_t has_min, has_max;
	double min, max;
	struct fl_pos pos;
};

struct fl_plan_health {
	int64_t soak_s;		       /* default 0: succeed on commit */
	uint32_t max_failure_rate_ppm; /* default 0 (any failure fails) */
	uint8_t has_max_failure_rate;
	uint8_t has_max_failures;
	uint8_t has_min_devices;
	uint8_t on_failure; /* enum fl_plan_on_failure */
	uint32_t max_failures;
	uint32_t min_devices;
	int64_t timeout_s; /* 0: no timeout */
	/* how long a rollback waits for offline devices' results
	   (FL_PLAN_ROLLBACK_TIMEOUT_DEFAULT_S; 0: not waited for) */
	int64_t rollback_timeout_s;
	unsigned nmetrics;
	struct fl_plan_metric *metrics;
	struct fl_pos pos;
};

/* A maintenance window: on `days_mask` days (bit 0 = Monday .. bit 6 =
 * Sunday) from from_min to to_min minutes after local midnight; when
 * to_min < from_min it crosses midnight and the day is the day it opens. */
struct fl_plan_window {
	uint8_t days_mask;
	uint8_t is_device_tz; /* tz: device */
	uint16_t from_min, to_min;
	const char *tz; /* IANA name, or NULL for UTC (or device) */
	struct fl_pos pos;
};

struct fl_plan_hold {
	const char *name;
	const char *reason;	    /* may be NULL */
	struct fl_plan_match match; /* n == 0: the whole rollout */
	uint8_t until_approved;
	uint8_t has_from, has_until;
	int64_t from_unix_s, until_unix_s;
	struct fl_pos pos;
};

struct fl_plan_stage {
	const char *name; /* never NULL: "stage-N" when unnamed */
	uint8_t kind;	  /* enum fl_plan_stage_kind */
	uint8_t approval_required;
	uint8_t has_soak, has_rate;
	unsigned ndevices;
	const char **devices;	    /* FL_STAGE_DEVICES */
	struct fl_pos *device_pos;  /* where each of devices[] is written */
	uint32_t count;		    /* FL_STAGE_COUNT */
	struct fl_plan_match match; /* FL_STAGE_MATCH */
	uint32_t percent_ppm;	    /* FL_STAGE_PERCENT, cumulative */
	int64_t soak_s;		    /* overrides health.soak_s */
	uint32_t rate_count;	    /* at most rate_count new offers ... */
	uint32_t rate_period_s;	    /* ... per this many seconds */
	struct fl_pos pos;
};

struct fl_plan {
	const char *path;	 /* as given to fl_plan_load; may be NULL */
	const char *name;	 /* rollout: */
	const char *description; /* may be NULL */
	/* four_eyes: an approval must not come from who started the
	 * rollout (fleetd refuses it) */
	uint8_t is_four_eyes;

	struct {
		const char *component; /* default "firmware" */
		const char *version;
		struct fl_semver semver;
		const char *file;      /* as written */
		const char *file_path; /* resolved against the plan's folder */
		unsigned nhardware;
		const char **hardware;
		const char *from; /* may be NULL: any installed version */
		struct fl_semver_range from_range;
		/* encrypt (default true): fleetd stores and serves the image
		 * encrypted and wraps its key for each device; false: plain */
		uint8_t is_encrypted;
		/* compress (default true): the encrypted container's chunks
		 * are zstd frames; false: stored (for devices without zstd,
		 * such as microcontrollers) */
		uint8_t is_compressed;
		/* chunk: the container's plaintext bytes per chunk, a
		 * multiple of 4 KiB in [FL_PLAN_CHUNK_MIN,
		 * FL_PLAN_CHUNK_MAX]; a device buffers one chunk */
		uint32_t chunk_bytes;
		struct fl_pos pos;
	} artifact;

	struct {
		struct fl_plan_match match;
		unsigned nexclude;
		const char **exclude;
	} targets;

	struct {
		uint8_t has_min_battery;
		uint8_t activate; /* enum fl_plan_activate, default NOW */
		uint32_t min_battery_ppm;
		uint64_t min_free_storage_bytes; /* 0: not checked */
	} device;

	struct fl_plan_health health;

	unsigned nwindows;
	struct fl_plan_window *windows; /* none: any time */
	unsigned nholds;
	struct fl_plan_hold *holds;
	unsigned nstages;
	struct fl_plan_stage *stages;

	void *arena; /* owns everything above */
};

enum fl_plan_severity {
	FL_DIAG_ERROR = 0,
	FL_DIAG_WARNING = 1,
};

struct fl_plan_diag {
	uint8_t severity; /* enum fl_plan_severity */
	struct fl_pos pos;
	char msg[256];
};

/* Diagnostics of one file, in source order. Bounded: past
 * FL_PLAN_MAX_DIAGS the rest are counted in n_dropped. */
struct fl_plan_diags {
	const char *file;
	unsigned n, n_errors, n_warnings, n_dropped;
	struct fl_plan_diag d[FL_PLAN_MAX_DIAGS];
};

/* Parses and validates the plan at path. On success (no errors; warnings
 * allowed) returns 0 and sets *out, owned by the caller (fl_plan_free).
 * Otherwise returns FL_EINVAL with the errors in diags (FL_EIO if the file
 * cannot be read, FL_ETOOBIG if it is larger than FL_PLAN_MAX_FILE_BYTES,
 * FL_ENOMEM if memory runs out; all also described in diags). diags is
 * always filled (FL_EINVAL without it). out may be NULL: validate only. */
int fl_plan_load(const char *path, struct fl_plan **out,
		 struct fl_plan_diags *diags);

/* The same over a buffer; `path` names it in diagnostics and its folder
 * resolves artifact.file, which must then be a readable non-empty file.
 * path may be NULL for a plan with no file system view (received over the
 * API, or fuzzed): diagnostics name it "<plan>", and artifact.file is not
 * opened (artifact.file_path is then artifact.file). */
int fl_plan_parse(const char *buf, size_t len, const char *path,
		  struct fl_plan **out, struct fl_plan_diags *diags);

/* How fl_plan_parse_opts() reads a plan. Zeroed: as fl_plan_parse(). */
struct fl_plan_parse_opts {
	/* The caller supplies the artifact (fleetd: an image uploaded before
	 * and known by its digest) instead of artifact.file: the file is not
	 * opened, `path` only names the plan in diagnostics, and
	 * artifact.file_path is artifact.file as written. An artifact of
	 * artifact_length 0 is refused as an empty file would be. */
	uint8_t has_artifact;
	uint64_t artifact_length;
};

/* fl_plan_parse() with options (opts may be NULL: the defaults). */
int fl_plan_parse_opts(const char *buf, size_t len, const char *path,
		       const struct fl_plan_parse_opts *opts,
		       struct fl_plan **out, struct fl_plan_diags *diags);

/* Accepts NULL. */
void fl_plan_free(struct fl_plan *plan);

/* Adds a diagnostic to diags (the message is truncated to fit; past
 * FL_PLAN_MAX_DIAGS it is only counted). For checks made outside the
 * parser, e.g. a plan's devices against an inventory. */
void fl_plan_diags_add(struct fl_plan_diags *diags, int severity,
		       struct fl_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Sorts diagnostics into source order, keeping equal ones in order. */
void fl_plan_diags_sort(struct fl_plan_diags *diags);

/* Prints each diagnostic as "FILE:LINE:COL: error|warning: MESSAGE", then
 * "FILE: note: N more diagnostics not shown" if some were dropped. */
void fl_plan_diags_print(const struct fl_plan_diags *diags, FILE *f);

#endif
