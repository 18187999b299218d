/*
 * sim.h -- fleet-sim's private interfaces: the options, the summary a
 * fleet (one process's slice of the devices) reports, and the fleet
 * itself.
 *
 *   main.c     options, keys and factory image, the file limit, worker
 *              processes (fork, one slice of ids each, summaries through
 *              pipes, SIGINT/SIGTERM forwarded), the final print-out
 *   fleet.c    the devices of one process on one event loop: simulated
 *              hardware (fl/simdev.h), agent/core over the Linux adapters,
 *              fault profiles
 *   summary.c  the summary: counting, merging, the pipe format, text and
 *              JSON
 *   verify_memo.c  the devices' crypto port (signature checks memoized)
 */
#ifndef FL_SIM_H
#define FL_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fl/crypto.h"
#include "fl/proto.h"
#include "fl/seal.h"

#define SIM_KEYS_MAX	 4
#define SIM_GROUPS_MAX	 7 /* fleet-agent's limit: its own key and 7 */
#define SIM_BAD_MAX	 8
#define SIM_VERSIONS_MAX 32 /* distinct versions counted by name */
#define SIM_RESULTS	 64 /* result codes of proto.h are below this */
#define SIM_IMAGE_MAX	 (64u << 20)
#define SIM_PER_PROC_MAX 6000u
#define SIM_COUNT_MAX	 1000000u

struct sim_options {
	/* broker */
	char host[256];
	uint16_t port;
	bool is_tls;
	const char *cafile;  /* the fleet CA: broker and downloads */
	const char *certdir; /* DIR/ID.crt, DIR/ID.key; NULL: none */
	const char *root;
	uint16_t keepalive_s;
	/* devices */
	uint32_t count;
	const char *prefix;
	const char *model;
	const char *tz;
	struct fl_label labels[FL_PROTO_LABELS_MAX];
	unsigned n_labels;
	const char *version;  /* factory image version, in slot A */
	uint64_t factory_seq; /* its anti-rollback counter */
	uint8_t *image;	      /* the factory image (owned by main) */
	uint32_t image_len;
	uint32_t slot_bytes;
	uint8_t trial_tries;
	struct fl_manifest_key keys[SIM_KEYS_MAX];
	unsigned n_keys;
	struct fl_manifest_key roots[SIM_KEYS_MAX]; /* certify signing keys */
	unsigned n_roots;
	uint32_t health_interval_s;
	/* encrypted images: DIR/ID.wrap.pem, read at each offer that carries
	 * a key (NULL: none), and the groups' keys every device holds */
	const char *wrapdir;
	struct fl_wrap_key groups[SIM_GROUPS_MAX];
	unsigned n_groups;
	uint32_t chunk_max; /* the largest chunk taken (the agent's default) */
	/* faults */
	const char *bad_versions[SIM_BAD_MAX];
	unsigned n_bad;
	double fail_rate, offline_rate, power_cut_rate;
	uint32_t offline_period_s; /* flaky devices' rhythm */
	uint64_t seed;
	uint64_t rate_bytes_per_s;
	uint32_t reboot_ms;
	/* running */
	uint32_t per_process;
	uint32_t connect_per_s;
	uint32_t duration_s;  /* 0: until SIGINT/SIGTERM */
	uint32_t progress_ms; /* 0: no progress lines */
	bool is_json;
	bool is_verbose;
};

/* What a fleet reports; summed over workers by sim_summary_merge. */
struct sim_summary {
	uint32_t devices;
	uint32_t on;	    /* powered */
	uint32_t connected; /* MQTT session up */
	uint32_t never_online;
	uint32_t bricked; /* nothing bootable: must stay 0 */
	uint32_t halted;  /* agent stopped on an error it cannot clear */
	uint64_t reboots; /* every power-on after the first */
	uint64_t power_cuts;
	uint64_t crashes;
	uint64_t dl_bytes;	      /* image bytes received over HTTP */
	uint32_t no_job;	      /* devices that never took a job */
	uint32_t in_progress;	      /* devices whose last job runs */
	uint32_t result[SIM_RESULTS]; /* devices per final result */
	unsigned n_versions;
	struct {
		char name[FL_PROTO_VERSION_MAX];
		uint32_t count;
	} version[SIM_VERSIONS_MAX];
	uint32_t other_versions; /* past SIM_VERSIONS_MAX names */
	double elapsed_s;
};

void sim_summary_add_version(struct sim_summary *s, const char *v, uint32_t n);
void sim_summary_merge(struct sim_summary *into, const struct sim_summary *s);

/* The pipe format: one line per fact, "." last. write returns 0 or -1. */
int sim_summary_write(int fd, const struct sim_summary *s);
/* Feeds one line (no newline); returns 1 when the block is complete, 0 to
 * go on, -1 on a malformed line. */
int sim_summary_parse_line(struct sim_summary *s, const char *line);

void sim_summary_print(FILE *f, const struct sim_summary *s, bool is_json);
void sim_summary_progress(FILE *f, const struct sim_summary *s);

/*
 * Runs devices [first, first + n) (indexes from 0; ids count from
 * first + 1) until sim_fleet_stop() or the duration. Progress: every
 * o->progress_ms, the summary is written to report_fd (a worker, >= 0) or
 * printed to stderr (-1). The final summary goes to *out. Returns 0, or
 * -1 after a message on stderr (a set-up failure).
 */
int sim_fleet_run(const struct sim_options *o, uint32_t first, uint32_t n,
		  int report_fd, struct sim_summary *out);

/* Async-signal-safe: ends sim_fleet_run's loop. */
void sim_fleet_stop(void);

/* verify_memo.c: the crypto port of every simulated device, OpenSSL's with
 * ECDSA P-256 verification memoized per process (the same signature over
 * the same digest by the same key is checked once, not once a device). */
struct sim_verify_stats {
	uint64_t hits, misses;
};
const struct fl_crypto_ops *sim_crypto(void);
void sim_verify_stats(struct sim_verify_stats *out);

#endif
