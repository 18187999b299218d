/*
 * config.h -- fleetd's settings: the YAML file of --config (one flat
 * mapping, the keys of docs/operations.md) and the command-line flags,
 * which win over the file. Read and checked in full before anything
 * starts. Private to fleetd.
 */
#ifndef FLD_CONFIG_H
#define FLD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fl/proto.h"

#define FLD_PATH_MAX   900 /* FL_HTTP_DATA_MAX: the data directory */
#define FLD_URL_MAX    200
#define FLD_LISTEN_MAX 128
#define FLD_DIAGS_MAX  16
#define FLD_FILE_MAX   16384 /* bytes of the configuration file */

/* log_level: enum fl_log_level (fl/log.h). */
struct fld_config {
	char data[FLD_PATH_MAX];	  /* "" = the default */
	char listen[FLD_LISTEN_MAX];	  /* "" = 127.0.0.1:8780 */
	char broker[FLD_URL_MAX];	  /* "embedded" or mqtt://HOST[:PORT] */
	uint16_t broker_port;		  /* embedded broker; 0 = chosen */
	char mosquitto[FLD_PATH_MAX];	  /* embedded broker's program */
	char root[FL_TOPIC_ROOT_MAX];	  /* topic root [fleet] */
	char artifact_url[FLD_URL_MAX];	  /* "" = from the listener */
	char client_id[FL_DEVICE_ID_MAX]; /* "" = kept in the store */
	bool is_shared;		  /* $share/fleetd/ for status, health */
	bool is_insecure;	  /* --insecure */
	int log_level;		  /* [FL_LOG_INFO] */
	uint32_t offer_ttl_s;	  /* [86400] */
	uint32_t resend_s;	  /* [300] */
	uint32_t report_flush_ms; /* [50] */
	uint32_t report_batch;	  /* [512] */
	uint32_t mqtt_publishers; /* [8]; 0..FL_MQTT_SRV_PUBS_MAX */
};

struct fld_diag {
	uint32_t line, col; /* 0: the whole file */
	char msg[200];
};

struct fld_diags {
	const char *file;
	unsigned n, n_dropped;
	struct fld_diag d[FLD_DIAGS_MAX];
};

/* The defaults (everything "" or 0 but root, log level, publishers). */
void fld_config_defaults(struct fld_config *cfg);

/*
 * Reads the file at path into cfg (over what cfg holds: keys absent from
 * the file are left as they are). Relative paths in it are taken from the
 * file's folder. Returns 0, or FL_ENOENT, FL_EIO, FL_ETOOBIG (the file),
 * FL_EINVAL (its content) with every problem in *diags.
 */
int fld_config_load(struct fld_config *cfg, const char *path,
		    struct fld_diags *diags);

/* Prints the diagnostics as FILE:LINE:COL: error: MESSAGE lines. */
void fld_diags_print(const struct fld_diags *d, FILE *f);

/* The default data folder: $XDG_STATE_HOME/fleetd, else
 * $HOME/.local/state/fleetd. 0, or -1 when neither is set (to an absolute
 * path) or the path does not fit in cap. */
int fld_default_data_dir(char *out, size_t cap);

/* The data folder a subcommand (`fleetd pki|keys|token`) works on, as
 * fleetd itself would use it: data (--data), else the data key of the
 * config file (--config, loaded and checked whenever given), else the
 * default. 0, or 1 after printing why on stderr, each line prefixed with
 * who ("fleetd keys"). */
int fld_data_dir(const char *data, const char *config_path, char *dir,
		 size_t cap, const char *who);

/* mkdir -p: each missing folder of path made 0700. 0, or -1 with errno
 * set. */
int fld_make_dirs(const char *path);

/* Parsers shared by the file and the flags: 0 or FL_EINVAL. */
int fld_parse_duration(const char *s, uint32_t *out_s);
int fld_parse_log_level(const char *s, int *out);
/* mqtt://HOST[:PORT] into host (cap bytes) and port (1883 if absent). */
int fld_parse_broker_url(const char *url, char *host, size_t cap,
			 uint16_t *port);
/* mqtts://HOST[:PORT] (8883 if absent, *is_tls true) or mqtt://... */
int fld_parse_broker(const char *url, char *host, size_t cap, uint16_t *port,
		     bool *is_tls);

#endif
