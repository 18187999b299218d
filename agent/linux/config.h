/*
 * config.h -- fleet-agent's configuration: the YAML file of
 * docs/agent-config.md, read with libyaml, checked in full (every key
 * known, every value in its range, key files read) before anything
 * starts. Private to fleet-agent.
 */
#ifndef FLA_CONFIG_H
#define FLA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fl/agent.h"
#include "fl/proto.h"
#include "fl/seal.h"

#define FLA_PATH_MAX	  1024
#define FLA_HOST_MAX	  256
#define FLA_CMD_MAX	  1024
#define FLA_KEYS_MAX	  8
#define FLA_ROOTS_MAX	  4
#define FLA_WRAP_KEYS_MAX 8 /* the device's own and up to 7 groups' */
#define FLA_DIAGS_MAX	  32
#define FLA_FILE_MAX	  65536 /* bytes of the configuration file */

enum fla_flash_backend {
	FLA_FLASH_FILE = 0,  /* one regular file: metadata, slot A, slot B */
	FLA_FLASH_BLOCK = 1, /* a block device (or file) at given offsets */
	FLA_FLASH_MTD = 2,   /* an MTD character device at given offsets */
};

enum fla_boot_backend {
	FLA_BOOT_SIM = 0,   /* the simulated boot loader, at every start */
	FLA_BOOT_UBOOT = 1, /* the U-Boot environment (libubootenv) */
};

enum fla_reboot_mode {
	FLA_REBOOT_COMMAND = 0, /* run a command (systemctl reboot) */
	FLA_REBOOT_EXIT = 1, /* exit with status 3: the supervisor restarts */
};

struct fla_metric_file {
	char name[FL_PROTO_NAME_MAX];
	char path[FLA_PATH_MAX];
};

struct fla_config {
	/* device */
	char id[FL_DEVICE_ID_MAX];
	char model[FL_PROTO_NAME_MAX];
	char tz[FL_PROTO_TZ_MAX];
	char component[FL_PROTO_NAME_MAX];
	struct fl_label labels[FL_PROTO_LABELS_MAX];
	unsigned n_labels;
	/* broker */
	char host[FLA_HOST_MAX];
	uint16_t port;
	char root[FL_TOPIC_ROOT_MAX];
	uint16_t keepalive_s;
	uint32_t session_expiry_s;
	char cafile[FLA_PATH_MAX], certfile[FLA_PATH_MAX],
		keyfile[FLA_PATH_MAX];
	/* state */
	char state_dir[FLA_PATH_MAX];
	/* flash */
	uint8_t flash_backend;
	char flash_path[FLA_PATH_MAX];
	uint32_t erase_bytes, write_bytes;
	uint32_t slot_bytes;
	uint32_t meta_offset, slot_offset[2];
	char factory_image[FLA_PATH_MAX];
	char factory_version[FL_PROTO_VERSION_MAX];
	uint64_t factory_seq;
	/* boot */
	uint8_t boot_backend;
	uint8_t trial_tries;
	char fw_env_config[FLA_PATH_MAX];
	char cmdline[FLA_PATH_MAX];
	/* keys */
	struct fl_manifest_key keys[FLA_KEYS_MAX];
	unsigned n_keys;
	uint8_t rollback_kids[FLA_KEYS_MAX][FL_MANIFEST_KID_BYTES];
	unsigned n_rollback_kids;
	/* roots (they certify signing keys: envelope 2) */
	struct fl_manifest_key roots[FLA_ROOTS_MAX];
	unsigned n_roots;
	/* encryption: wrap keys (the device's own first, named by its id,
	 * then its groups'), the largest chunk accepted (sizes the two
	 * buffers of an encrypted download) */
	struct fl_wrap_key wrap_keys[FLA_WRAP_KEYS_MAX];
	unsigned n_wrap_keys;
	uint32_t seal_chunk_max;
	/* policy (0: agent/core's default) */
	uint8_t min_battery_pct;
	uint64_t min_free_bytes;
	uint32_t retry_s, max_waits;
	uint32_t health_window_s, health_interval_s, health_sample_ms;
	uint32_t checkpoint_bytes;
	uint32_t checkpoint_min_ms;
	uint32_t dl_retry_base_s, dl_retry_max_s;
	uint16_t dl_max_tries;
	/* download */
	char dl_cafile[FLA_PATH_MAX];
	uint32_t connect_timeout_s, stall_timeout_s;
	uint64_t max_bytes_per_s;
	/* facts */
	char battery_file[FLA_PATH_MAX];
	char charging_file[FLA_PATH_MAX];
	char busy_file[FLA_PATH_MAX];
	char veto_file[FLA_PATH_MAX];
	bool has_blackout;
	uint16_t blackout_start_min, blackout_end_min;
	/* health */
	char reset_reason_file[FLA_PATH_MAX];
	char crashes_file[FLA_PATH_MAX];
	char boot_ok_file[FLA_PATH_MAX];
	struct fla_metric_file metrics[FL_PROTO_METRICS_MAX];
	unsigned n_metrics;
	char hook[FLA_CMD_MAX];
	uint32_t hook_timeout_s;
	/* reboot */
	uint8_t reboot_mode;
	char reboot_command[FLA_CMD_MAX];
	/* log */
	bool is_verbose;
};

/* Positioned diagnostics: FILE:LINE:COL: error: MESSAGE. */
struct fla_diag {
	uint32_t line, col;
	char msg[224];
};

struct fla_diags {
	const char *file; /* as given on the command line */
	unsigned n, n_dropped;
	struct fla_diag d[FLA_DIAGS_MAX];
};

/*
 * Reads and checks the file at path into *cfg (cleared first, defaults
 * filled in). Relative paths in the file are taken relative to the
 * file's directory. Returns 0, or FL_EINVAL with at least one diagnostic
 * in *diags (FL_ENOENT, FL_EIO, FL_ETOOBIG if the file itself could not
 * be read, also with one).
 */
int fla_config_load(struct fla_config *cfg, const char *path,
		    struct fla_diags *diags);

/* fla_config_load() over text already read: buf[0, len) (no NUL needed),
 * relative paths taken from dir. diags->file, if set, names the text in
 * messages. flags: FLA_CONFIG_TEXT_ONLY checks the text alone and looks
 * at no file (trusted keys are not read: cfg->keys are stand-ins), for
 * the fuzz target. Same returns. */
#define FLA_CONFIG_TEXT_ONLY 0x1u
int fla_config_parse(struct fla_config *cfg, const char *buf, size_t len,
		     const char *dir, unsigned flags, struct fla_diags *diags);

/* Prints the diagnostics in source order, one per line. */
void fla_diags_print(struct fla_diags *diags, FILE *f);

#endif
